/*
 * /api/0: profefe's API, wire-compatible with profefe (Go).
 * See ../shared/reference/profefe-api.md for the behaviour reproduced here,
 * and SPEC.md §3 and §10 for where we differ on purpose.
 */
#include "api/api-internal.h"
#include "pprof/pprof.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>

#define MAX_LABELS PF_MAX_LABELS
#define MAX_LABEL_VALUE PF_MAX_LABEL_VALUE

/* ---- types ---- */

/* A profile type as profefe reads it (trimmed): SPEC §1's (pf_type_ok), but
 * "unknown", profefe's name for no type, is none. */
static int valid_type(const char *t)
{
	return t && strcmp(t, "unknown") != 0 && pf_type_ok(t);
}

/* strings.TrimSpace into a new string */
static char *trim_dup(const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	return pf_xstrndup(s, n);
}

/* ---- labels ---- */

struct labelset {
	struct tsdb_label v[MAX_LABELS + 4];
	char **owned; /* strings the set points into */
	size_t n, nowned, owned_cap;
};

static void labelset_free(struct labelset *ls)
{
	for (size_t i = 0; i < ls->nowned; i++)
		free(ls->owned[i]);
	free(ls->owned);
	ls->owned = NULL;
	ls->n = ls->nowned = ls->owned_cap = 0;
}

/* Set name=value (borrowed strings), the last value of a name wins. */
static int labelset_set(struct labelset *ls, const char *name, const char *value)
{
	for (size_t i = 0; i < ls->n; i++) {
		if (strcmp(ls->v[i].name, name) == 0) {
			ls->v[i].value = value;
			return 0;
		}
	}
	if (ls->n >= PF_ARRAY_LEN(ls->v))
		return -1;
	ls->v[ls->n].name = name;
	ls->v[ls->n].value = value;
	ls->n++;
	return 0;
}

static void labelset_del(struct labelset *ls, const char *name)
{
	for (size_t i = 0; i < ls->n; i++) {
		if (strcmp(ls->v[i].name, name) == 0) {
			memmove(&ls->v[i], &ls->v[i + 1], (ls->n - i - 1) * sizeof(ls->v[0]));
			ls->n--;
			return;
		}
	}
}

static int label_cmp(const void *a, const void *b)
{
	return strcmp(((const struct tsdb_label *)a)->name, ((const struct tsdb_label *)b)->name);
}

/*
 * Parse profefe's labels parameter (already query-decoded once) into ls:
 * split on ',', each chunk at its first '=', trim, URL-decode again. Empty
 * keys are skipped; a repeated name keeps its last value; pairs with an
 * empty value are dropped (SPEC §10.3). Names must match SPEC §1 and may not
 * set service, type or job (§10.4). On error fills reason and returns -1,
 * or 1 when a label holds a NUL byte (a refusal counted as bad_param).
 */
static int parse_labels(const char *s, struct labelset *ls, char *reason, size_t rlen)
{
	const char *p = s;

	while (p && *p) {
		const char *comma = strchr(p, ','), *end = comma ? comma : p + strlen(p);
		const char *eq = memchr(p, '=', (size_t)(end - p)), *bad = NULL;
		char *k = trim_dup(p, (size_t)((eq ? eq : end) - p));
		char *v = eq ? trim_dup(eq + 1, (size_t)(end - eq - 1)) : pf_xstrdup("");
		ssize_t klen, vlen;

		p = comma ? comma + 1 : end;
		if (!*k) {
			free(k);
			free(v);
			continue;
		}
		if ((klen = api_unescape(k, 1, &bad)) < 0 || (vlen = api_unescape(v, 1, &bad)) < 0) {
			snprintf(reason, rlen, "invalid URL escape \"%.3s\"", bad);
			free(k);
			free(v);
			return -1;
		}
		pf_xgrow((void **)&ls->owned, &ls->owned_cap, ls->nowned + 2, sizeof(*ls->owned));
		ls->owned[ls->nowned++] = k;
		ls->owned[ls->nowned++] = v;
		/* the second decoding may bring a NUL byte (%2500): SPEC §9 */
		if (strlen(k) != (size_t)klen) {
			snprintf(reason, rlen, "label name \"%s\" holds a NUL byte (%%00)",
				 API_ECHO_N(k, (size_t)klen));
			return 1;
		}
		if (strlen(v) != (size_t)vlen) {
			snprintf(reason, rlen, "value of \"%s\" holds a NUL byte (%%00)", API_ECHO(k));
			return 1;
		}
		if (strlen(k) > MAX_LABEL_VALUE) {
			snprintf(reason, rlen, "label name \"%s\" is longer than %d bytes", API_ECHO(k),
				 MAX_LABEL_VALUE);
			return -1;
		}
		if (!pf_label_name_ok(k, strlen(k))) {
			snprintf(reason, rlen, "invalid label name \"%s\": want [a-zA-Z_][a-zA-Z0-9_]*", API_ECHO(k));
			return -1;
		}
		if (pf_label_name_reserved(k)) {
			snprintf(reason, rlen, "label name \"%s\" is reserved (starts with __)", API_ECHO(k));
			return -1;
		}
		if (strcmp(k, "service") == 0 || strcmp(k, "type") == 0 || strcmp(k, "job") == 0) {
			snprintf(reason, rlen, "label \"%s\" cannot be set in labels", k);
			return -1;
		}
		if (strlen(v) > MAX_LABEL_VALUE) {
			snprintf(reason, rlen, "value of \"%s\" is longer than %d bytes", API_ECHO(k), MAX_LABEL_VALUE);
			return -1;
		}
		if (!pf_utf8_valid(v, strlen(v))) {
			snprintf(reason, rlen, "value of \"%s\" is not valid UTF-8", API_ECHO(k));
			return -1;
		}
		if (!*v) {
			labelset_del(ls, k);
			continue;
		}
		if (labelset_set(ls, k, v) < 0 || ls->n > MAX_LABELS) {
			snprintf(reason, rlen, "more than %d labels", MAX_LABELS);
			return -1;
		}
	}
	return 0;
}

int api_labels_parse(const char *s, struct api_labels *out, char *reason, size_t rlen)
{
	struct labelset ls = {0};
	int rc = parse_labels(s, &ls, reason, rlen);

	memset(out, 0, sizeof(*out));
	if (rc != 0) {
		labelset_free(&ls);
		return rc;
	}
	out->v = pf_xcalloc(ls.n ? ls.n : 1, sizeof(*out->v));
	memcpy(out->v, ls.v, ls.n * sizeof(*out->v));
	out->n = ls.n;
	out->owned = ls.owned; /* the strings the labels point into */
	out->nowned = ls.nowned;
	return 0;
}

void api_labels_free(struct api_labels *l)
{
	for (size_t i = 0; i < l->nowned; i++)
		free(l->owned[i]);
	free(l->owned);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* Reads the labels parameter; replies 400 and returns -1 on error. */
static int read_labels(struct api_server *srv, struct api_req *r, struct api_reply *rep,
		       struct labelset *ls)
{
	const char *s = api_param(r, "labels");
	char reason[API_ECHO_MAX + 128];
	int rc;

	if (s && (rc = parse_labels(s, ls, reason, sizeof(reason))) != 0) {
		if (rc > 0)
			api_metrics_refused(&srv->metrics, "bad_param");
		api_reply_error(rep, 400, "bad request: bad \"labels\" \"%s\": %s", API_ECHO(s), reason);
		return -1;
	}
	return 0;
}

/* Reads a time parameter; replies 400 and returns -1 when bad or missing. */
static int read_time(struct api_req *r, struct api_reply *rep, const char *name, int required,
		     int64_t *ns)
{
	const char *v = api_param(r, name), *what;
	struct pf_err err = {0};
	int rc;

	if (!v || !*v) {
		if (!required)
			return 1;
		api_reply_error(rep, 400, "bad request: missing \"%s\"", name);
		return -1;
	}
	if ((rc = pf_parse_time_err(v, ns, &err)) < 0) {
		/* profefe's texts; a field out of range says which */
		what = strcmp(name, "created_at") == 0 ? "" : " timestamp";
		if (rc == PF_ETOOBIG)
			api_reply_error(rep, 400, "bad request: bad \"%s\"%s \"%s\": %s", name, what,
					API_ECHO(v), err.msg);
		else
			api_reply_error(rep, 400, "bad request: bad \"%s\"%s \"%s\": time in unsupported format \"%s\"",
					name, what, API_ECHO(v), API_ECHO(v));
		return -1;
	}
	return 0;
}

/* Service, from and to as find and merge need them. */
static int read_range(struct api_req *r, struct api_reply *rep, int64_t *from, int64_t *to)
{
	char a[64], b[64];

	if (read_time(r, rep, "from", 1, from) < 0 || read_time(r, rep, "to", 1, to) < 0)
		return -1;
	if (*from > *to) {
		pf_format_go_time(*from, a, sizeof(a));
		pf_format_go_time(*to, b, sizeof(b));
		api_reply_error(rep, 400, "bad request: CreatedAtMin after CreatedAtMax: %s, %s", a, b);
		return -1;
	}
	return 0;
}

static const char *read_service(struct api_req *r, struct api_reply *rep)
{
	const char *s = api_param(r, "service");
	if (!s || !*s) {
		api_reply_error(rep, 400, "bad request: missing \"service\"");
		return NULL;
	}
	return s;
}

/* ---- meta JSON ---- */

static json_t *meta_json(const struct tsdb_meta *m)
{
	json_t *o = json_object(), *labels = json_array();
	const char *service = "", *type = "";
	char ts[40];

	for (size_t i = 0; i < m->nlabels; i++) {
		const struct tsdb_label *l = &m->labels[i];
		if (strcmp(l->name, "service") == 0) {
			service = l->value;
		} else if (strcmp(l->name, "type") == 0) {
			type = l->value;
		} else {
			json_t *kv = json_object();
			json_object_set_new(kv, "key", json_string(l->name));
			json_object_set_new(kv, "value", json_string(l->value));
			json_array_append_new(labels, kv);
		}
	}
	pf_format_rfc3339(m->t_ns, ts, sizeof(ts));
	json_object_set_new(o, "id", json_string(m->id));
	json_object_set_new(o, "type", json_string(type));
	json_object_set_new(o, "service", json_string(service));
	if (json_array_size(labels) > 0)
		json_object_set_new(o, "labels", labels);
	else
		json_decref(labels);
	json_object_set_new(o, "created_at", json_string(ts));
	return o;
}

static void reply_json_value(struct api_reply *rep, json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(v);
	if (!s) {
		api_reply_error(rep, 500, "internal server error");
		return;
	}
	api_reply_json_body(rep, 200, s);
	free(s);
}

/* ---- POST /api/0/profiles ---- */

int api_ingest_refusal(struct api_metrics *m, enum ingest_class c, int trace,
		       const struct pf_err *err, struct api_reply *rep)
{
	const char *refused = NULL;
	int status = 400, bad = 1;

	switch (c) {
	case INGEST_OK:
		return 0;
	case INGEST_MALFORMED:
		if (trace)
			api_reply_error(rep, 400, "malformed profile (%s)", err->msg);
		else
			api_reply_error(rep, 400, "malformed profile (could not parse pprof profile: %s)", err->msg);
		break;
	case INGEST_NO_SAMPLES:
		api_reply_error(rep, 400, "malformed profile (could not parse pprof profile: profile is empty: no samples)");
		break;
	case INGEST_DECODE_CAP:
		refused = "decode_cap";
		status = 413;
		api_reply_error(rep, 413, "malformed profile (could not parse pprof profile: %s)", err->msg);
		break;
	case INGEST_TOO_BIG:
		refused = "profile_too_big";
		status = 413;
		api_reply_error(rep, 413, "malformed profile (%s; the limit is -max-profile-size)", err->msg);
		break;
	case INGEST_BUSY:
		refused = "inflight_budget";
		status = 503;
		bad = 0;
		api_reply_error(rep, 503, "service unavailable (%s)", err->msg);
		break;
	case INGEST_QUEUE_FULL:
		/* ClickHouse's writer is behind: nothing queued (SPEC §8) */
		refused = "store_queue_full";
		status = 503;
		bad = 0;
		api_reply_error(rep, 503, "service unavailable (%s)", err->msg);
		break;
	case INGEST_STORE_DOWN:
		/* ClickHouse did not take it after the writer's retries */
		refused = "store_unavailable";
		status = 503;
		bad = 0;
		api_reply_error(rep, 503, "service unavailable (%s)", err->msg);
		break;
	case INGEST_FUTURE:
	case INGEST_TOO_OLD:
		/* its time (time_nanos, created_at or now) is outside what the
		 * store keeps: refused, not stored and dropped later */
		refused = c == INGEST_FUTURE ? "future" : "too_old";
		bad = 0;
		api_reply_error(rep, 400, "bad request: %s", err->msg);
		break;
	case INGEST_BAD_LABELS:
	case INGEST_BAD_TYPE:
	case INGEST_INVALID:
		bad = 0;
		api_reply_error(rep, 400, "bad request: %s", err->msg);
		break;
	case INGEST_DISK_FULL:
		/* SPEC §9: 507, nothing acknowledged; pushes work again once
		 * there is space */
		refused = "disk_full";
		status = 507;
		bad = 0;
		api_reply_error(rep, 507, "failed to collect profile: the disk is full: %s", err->msg);
		break;
	case INGEST_STORE:
	default:
		status = 500;
		bad = 0;
		api_reply_error(rep, 500, "failed to collect profile: %s", err->msg);
		break;
	}
	if (refused)
		api_metrics_refused(m, refused);
	if (bad)
		__atomic_add_fetch(&m->bad_profiles, 1, __ATOMIC_RELAXED);
	return status;
}

static void handle_create(struct api_server *s, struct api_req *r, struct api_reply *rep)
{
	struct labelset ls = {0};
	struct ingest_opts io = {.db = s->opt.db, .max_profile_bytes = s->opt.max_profile_bytes,
				 .inflight = s->opt.inflight};
	struct ingest_req ir = {0};
	struct ingest_out out;
	struct tsdb_meta meta = {0};
	struct pf_err err = {0};
	enum ingest_class c;
	const char *service;
	char *type = NULL;
	const char *tp = api_param(r, "type"), *inst = api_param(r, "instance_id");
	int64_t t_ns = 0;
	int have_created;

	if (!(service = read_service(r, rep)))
		goto out;
	type = trim_dup(tp ? tp : "", tp ? strlen(tp) : 0);
	if (!valid_type(type)) {
		api_reply_error(rep, 400, "bad request: unknown profile type");
		goto out;
	}
	if ((have_created = read_time(r, rep, "created_at", 0, &t_ns)) < 0)
		goto out;
	if (read_labels(s, r, rep, &ls) < 0)
		goto out;
	if (inst && *inst) {
		if (!pf_label_value_ok(inst, strlen(inst))) {
			api_reply_error(rep, 400, "bad request: bad \"instance_id\": not UTF-8 or longer than %d bytes", MAX_LABEL_VALUE);
			goto out;
		}
		labelset_set(&ls, "instance", inst);
	}
	labelset_set(&ls, "service", service);
	labelset_set(&ls, "type", type);
	if (ls.n > MAX_LABELS) {
		api_reply_error(rep, 400, "bad request: bad \"labels\" \"%s\": more than %d labels (service, type and instance count)",
				API_ECHO(api_param(r, "labels")), MAX_LABELS);
		goto out;
	}
	if (!pf_label_value_ok(service, strlen(service))) {
		api_reply_error(rep, 400, "bad request: bad \"service\": not UTF-8 or longer than %d bytes", MAX_LABEL_VALUE);
		goto out;
	}
	qsort(ls.v, ls.n, sizeof(ls.v[0]), label_cmp);

	/* validate, classify, decode, total and append (src/ingest); a pprof
	 * body's own time_nanos wins over created_at, traces take created_at
	 * or now */
	ir.labels = ls.v;
	ir.nlabels = ls.n;
	ir.t_ns = have_created == 0 ? t_ns : pf_now_ns();
	ir.time_nanos_wins = 1;
	ir.body = r->body.data;
	ir.len = r->body.len;
	c = ingest_profile(&io, &ir, &out, &err);
	if (c == INGEST_DISK_FULL || c == INGEST_STORE)
		pf_log(PF_LOG_ERROR, c == INGEST_DISK_FULL ? "storing a profile failed: the disk is full"
							     : "storing a profile failed",
		       "service", service, "type", type, "err", err.msg, NULL);
	if (api_ingest_refusal(&s->metrics, c, strcmp(type, "trace") == 0, &err, rep) != 0)
		goto out;
	__atomic_add_fetch(&s->metrics.profiles_ingested, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&s->metrics.bytes_ingested, r->body.len, __ATOMIC_RELAXED);
	memcpy(meta.id, out.id, sizeof(meta.id));
	meta.t_ns = out.t_ns;
	meta.kind = out.kind;
	meta.labels = ls.v;
	meta.nlabels = ls.n;
	reply_json_value(rep, meta_json(&meta));
out:
	free(type);
	labelset_free(&ls);
}

/* ---- find ---- */

/* Builds matchers for service (+ type) + labels. */
static size_t build_matchers(struct tsdb_matcher *m, const char *service, const char *type,
			     const struct labelset *ls)
{
	size_t n = 0;
	m[n++] = (struct tsdb_matcher){TSDB_MATCH_EQ, "service", service};
	if (type)
		m[n++] = (struct tsdb_matcher){TSDB_MATCH_EQ, "type", type};
	for (size_t i = 0; i < ls->n; i++)
		m[n++] = (struct tsdb_matcher){TSDB_MATCH_EQ, ls->v[i].name, ls->v[i].value};
	return n;
}

static int read_limit(struct api_req *r, struct api_reply *rep, size_t *limit)
{
	const char *v = api_param(r, "limit");
	char *end;
	long long n;

	*limit = 0;
	if (!v)
		return 0;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (!*v || *end || errno) {
		api_reply_error(rep, 400, "bad request: bad \"limit\" \"%s\": strconv.Atoi: parsing \"%s\": %s",
				API_ECHO(v), API_ECHO(v), errno == ERANGE ? "value out of range" : "invalid syntax");
		return -1;
	}
	*limit = n > 0 ? (size_t)n : 0;
	return 0;
}

static void handle_find(struct api_server *s, struct api_req *r, struct api_reply *rep)
{
	struct labelset ls = {0};
	struct tsdb_matcher m[MAX_LABELS + 4];
	struct tsdb_query q = {0};
	struct store_result *res = NULL;
	struct pf_err err = {0};
	const char *service, *tp = api_param(r, "type");
	char *type = NULL;
	int64_t from, to;
	size_t limit;
	json_t *arr;
	int rc;

	if (!(service = read_service(r, rep)) || read_range(r, rep, &from, &to) < 0 ||
	    read_labels(s, r, rep, &ls) < 0 || read_limit(r, rep, &limit) < 0)
		goto out;
	if (tp) {
		type = trim_dup(tp, strlen(tp));
		if (!valid_type(type)) { /* profefe: an unknown type is no filter */
			free(type);
			type = NULL;
		}
	}
	q.matchers = m;
	q.nmatchers = build_matchers(m, service, type, &ls);
	q.min_t_ns = from;
	q.max_t_ns = to;
	q.limit = limit;
	api_query_limits(s, &q);
	api_query_cancel(r, &q);
	if ((rc = store_find(s->opt.db, &q, &res, &err)) < 0) {
		char msg[sizeof(((struct pf_err *)0)->msg) + 128];
		int status = api_query_refusal(s, rc, &err, msg, sizeof(msg));
		if (status) {
			api_reply_error(rep, status, "%s%s", status == 400 ? "bad request: " : "", msg);
			goto out;
		}
		pf_log(PF_LOG_ERROR, "find failed", "err", err.msg, NULL);
		api_reply_error(rep, 500, "internal server error");
		goto out;
	}
	if (store_result_len(res) == 0) {
		api_reply_error(rep, 404, "nothing found");
		goto out;
	}
	arr = json_array();
	for (size_t i = 0; i < store_result_len(res); i++)
		json_array_append_new(arr, meta_json(store_result_at(res, i)));
	reply_json_value(rep, arr);
out:
	store_result_free(res);
	free(type);
	labelset_free(&ls);
}

/* ---- merge ---- */

/* -query.timeout as the flag reads: Prometheus's form, or ns below a ms. */
static void format_timeout(int64_t ns, char *out, size_t n)
{
	if (ns % 1000000 != 0)
		snprintf(out, n, "%lldns", (long long)ns);
	else
		pf_format_duration(ns, out, n);
}

void api_query_limits(const struct api_server *s, struct tsdb_query *q)
{
	q->max_profiles = s->opt.query_max_profiles;
	q->deadline_ns = s->opt.query_timeout_ns ? pf_mono_ns() + s->opt.query_timeout_ns : 0;
}

int api_query_refusal(struct api_server *s, int rc, const struct pf_err *err, char *msg,
		      size_t n)
{
	char d[64];

	if (rc == PF_ELIMIT) {
		api_metrics_refused(&s->metrics, "max_profiles");
		snprintf(msg, n, "%s (-query.max-profiles)", err->msg);
		return 400;
	}
	if (rc == PF_ECANCELED) {
		api_metrics_refused(&s->metrics, "query_canceled");
		pf_log(PF_LOG_INFO, "query canceled", "err", err->msg, NULL);
		snprintf(msg, n, "query canceled (%s)", err->msg);
		return 503;
	}
	if (rc == PF_ETIMEDOUT) {
		api_metrics_refused(&s->metrics, "query_timeout");
		format_timeout(s->opt.query_timeout_ns, d, sizeof(d));
		snprintf(msg, n, "query timed out after -query.timeout %s (%s)", d, err->msg);
		return 503;
	}
	return 0;
}

/*
 * Merge what q selects (a range, or q->ids) in the store and reply: one
 * profile found comes back as stored. ids: the id string of an id merge
 * (named in its 500), or NULL.
 */
static void reply_store_merge(struct api_server *s, struct api_reply *rep,
			      const struct tsdb_query *q, const char *filename, const char *ids)
{
	struct pf_buf out = PF_BUF_INIT(0);
	struct pf_err err = {0};
	char msg[sizeof(((struct pf_err *)0)->msg) + 128];
	size_t n;
	int rc = store_merge_encoded(s->opt.db, q, &out, &n, &err), status;

	if (rc == 0) {
		api_reply_binary(rep, filename, &out);
	} else if (rc == PF_ENOTFOUND) {
		api_reply_error(rep, 404, "nothing found");
	} else if (rc == PF_EMISMATCH) {
		api_reply_error(rep, 400, "profiles cannot be merged: %s", err.msg);
	} else if (rc == PF_EINVAL) {
		api_reply_error(rep, 405, "%s", err.msg);
	} else if ((status = api_query_refusal(s, rc, &err, msg, sizeof(msg))) != 0) {
		api_reply_error(rep, status, "%s%s", status == 400 ? "bad request: " : "", msg);
	} else if (ids) {
		pf_log(PF_LOG_ERROR, "merge by ids failed", "ids", ids, "err", err.msg, NULL);
		api_reply_error(rep, 500, "failed to get profile by id \"%s\"", API_ECHO(ids));
	} else {
		pf_log(PF_LOG_ERROR, "merge failed", "err", err.msg, NULL);
		api_reply_error(rep, 500, "internal server error");
	}
	pf_buf_free(&out);
}

/*
 * Reply with the profile named by one id (as stored, a trace too), or the
 * merge of several (the store's read path: missing ids are skipped, 404
 * when none is found; a trace among them is 405). filename: the ids as given.
 */
static void reply_merged(struct api_server *s, struct api_reply *rep, char **ids, size_t nids,
			 const char *filename)
{
	struct pf_buf body = PF_BUF_INIT(0);
	struct pf_err err = {0};
	struct tsdb_meta *meta = NULL;
	int rc;

	if (nids > 1) {
		struct tsdb_query q = {0};
		q.ids = (const char *const *)ids;
		q.nids = nids;
		api_query_limits(s, &q);
		reply_store_merge(s, rep, &q, filename, filename);
		return;
	}
	rc = store_read(s->opt.db, ids[0], &body, &meta, &err);
	if (rc == PF_ENOTFOUND) {
		api_reply_error(rep, 404, "nothing found");
	} else if (rc < 0) {
		pf_log(PF_LOG_ERROR, "reading a stored profile failed", "id", ids[0], "err", err.msg, NULL);
		api_reply_error(rep, 500, "failed to get profile by id \"%s\"", API_ECHO(ids[0]));
	} else {
		/* a pprof body as stored, a trace byte for byte */
		api_reply_binary(rep, filename, &body);
	}
	store_meta_free(s->opt.db, meta);
	pf_buf_free(&body);
}

static void handle_merge(struct api_server *s, struct api_req *r, struct api_reply *rep)
{
	struct labelset ls = {0};
	struct tsdb_matcher m[MAX_LABELS + 4];
	struct tsdb_query q = {0};
	const char *service, *tp = api_param(r, "type");
	char *type = NULL;
	int64_t from, to;

	if (!(service = read_service(r, rep)))
		goto out;
	type = trim_dup(tp ? tp : "", tp ? strlen(tp) : 0);
	if (!valid_type(type)) {
		api_reply_error(rep, 400, "bad request: unknown profile type");
		goto out;
	}
	if (strcmp(type, "trace") == 0) {
		api_reply_error(rep, 405, "can't merge profiles of trace type");
		goto out;
	}
	if (read_range(r, rep, &from, &to) < 0 || read_labels(s, r, rep, &ls) < 0)
		goto out;
	q.matchers = m;
	q.nmatchers = build_matchers(m, service, type, &ls);
	q.min_t_ns = from;
	q.max_t_ns = to;
	api_query_limits(s, &q);
	api_query_cancel(r, &q);
	/* the store merges as it reads (by stack id inside its blocks); one
	 * profile found comes back as stored */
	reply_store_merge(s, rep, &q, type, NULL);
out:
	free(type);
	labelset_free(&ls);
}

/* ---- get by id(s) ---- */

static void handle_ids(struct api_server *s, const char *rest, struct api_reply *rep)
{
	char *idstr, *p, **ids = NULL;
	size_t n = 0, cap = 0, len;
	ssize_t dlen;

	/* trimmed of '/', then path-unescaped again (%2B works as +) */
	while (*rest == '/')
		rest++;
	len = strlen(rest);
	while (len && rest[len - 1] == '/')
		len--;
	idstr = pf_xstrndup(rest, len);
	dlen = api_unescape(idstr, 0, NULL);
	if (dlen < 0 || !*idstr || strlen(idstr) != (size_t)dlen) {
		/* a bad escape, or a %00: no id holds either */
		if (dlen == 0)
			api_reply_error(rep, 400, "no profile id");
		else
			api_reply_error(rep, 404, "nothing found");
		free(idstr);
		return;
	}
	p = idstr;
	for (;;) {
		char *plus = strchr(p, '+');
		if (plus)
			*plus = 0;
		if (!*p) {
			api_reply_error(rep, 500, "internal server error");
			goto out;
		}
		pf_xgrow((void **)&ids, &cap, n + 1, sizeof(*ids));
		ids[n++] = p;
		if (!plus)
			break;
		p = plus + 1;
	}
	{
		/* filename: the id string as given */
		char *fname = pf_xstrndup(rest, len);
		api_unescape(fname, 0, NULL);
		reply_merged(s, rep, ids, n, fname);
		free(fname);
	}
out:
	free(ids);
	free(idstr);
}

/* ---- services, version ---- */

static void handle_services(struct api_server *s, struct api_reply *rep)
{
	char **v = NULL;
	size_t n = 0;
	json_t *arr;

	if (store_label_values(s->opt.db, "service", &v, &n, NULL) < 0) {
		api_reply_error(rep, 500, "internal server error");
		return;
	}
	if (n == 0) {
		store_strings_free(v, n);
		api_reply_error(rep, 404, "nothing found");
		return;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_string(v[i]));
	store_strings_free(v, n);
	reply_json_value(rep, arr);
}

static void handle_version(struct api_server *s, struct api_reply *rep)
{
	json_t *o = json_object();
	json_object_set_new(o, "version", json_string(s->opt.version));
	json_object_set_new(o, "commit", json_string(s->opt.commit));
	json_object_set_new(o, "build_time", json_string(s->opt.build_time));
	reply_json_value(rep, o);
}

/* ---- routing, as profefe's mux does it ---- */

void api0_handle(struct api_server *s, struct api_req *r, struct api_reply *rep)
{
	const struct api_param *nul;
	char *clean;
	int in_name;

	if ((nul = api_param_nul(r, &in_name))) { /* SPEC §9 */
		api_metrics_refused(&s->metrics, "bad_param");
		if (in_name)
			api_reply_error(rep, 400, "bad request: bad parameter name \"%s\": it holds a NUL byte (%%00)",
					API_ECHO_N(nul->key, nul->key_len));
		else
			api_reply_error(rep, 400, "bad request: bad \"%s\" \"%s\": the value holds a NUL byte (%%00)",
					API_ECHO(nul->key), API_ECHO_N(nul->value, nul->value_len));
		return;
	}
	/* /api/0/version and /api/0/services are exact paths */
	if (strcmp(r->path, "/api/0/version") == 0) {
		r->route = API_ROUTE_VERSION;
		handle_version(s, rep);
		return;
	}
	if (strcmp(r->path, "/api/0/services") == 0) {
		r->route = API_ROUTE_SERVICES;
		handle_services(s, rep);
		return;
	}
	clean = api_path_clean(r->path);
	if (strcmp(clean, "/api/0/profiles") == 0) {
		r->route = API_ROUTE_PROFILES;
		if (strcmp(r->method, "POST") == 0)
			handle_create(s, r, rep);
		else if (strcmp(r->method, "GET") == 0)
			handle_find(s, r, rep);
		else
			rep->status = 200; /* profefe writes nothing for other methods */
	} else if (strcmp(clean, "/api/0/profiles/merge") == 0) {
		r->route = API_ROUTE_MERGE;
		handle_merge(s, r, rep);
	} else if (strncmp(clean, "/api/0/profiles", 15) == 0) {
		r->route = API_ROUTE_PROFILE_ID;
		handle_ids(s, clean + 15, rep);
	} else {
		r->route = API_ROUTE_API0_OTHER;
		api_reply_error(rep, 404, "nothing found");
	}
	free(clean);
}
