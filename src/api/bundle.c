/*
 * Autoprof bundles over HTTP (SPEC §6): POST /api/v1/bundles stores every
 * profile of a bundle (src/bundle reads and checks all of it first, so a
 * bad bundle stores nothing), skipping those already stored (SPEC §10.1);
 * GET /api/v1/bundle writes one instance's profiles nearest a time as a
 * bundle in autoprof's layout.
 */
#include "api/api-internal.h"
#include "bundle/bundle.h"

#include <stdlib.h>

#define MAX_LABEL_VALUE 1024

static int64_t ns_to_ms(int64_t ns)
{
	int64_t q = ns / 1000000;
	return (ns % 1000000 < 0) ? q - 1 : q;
}

__attribute__((format(printf, 3, 4))) static void fail(struct api_reply *rep, int status,
							const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	api_v1_error(rep, status,
		     status == 404 ? "not_found" : status >= 500 ? "internal" : "bad_data", msg);
}

static json_t *labels_json(const struct tsdb_label *l, size_t n)
{
	json_t *o = json_object();
	for (size_t i = 0; i < n; i++)
		json_object_set_new(o, l[i].name, api_json_string(l[i].value));
	return o;
}

static json_t *skip_json(const char *entry, const char *reason)
{
	json_t *o = json_object();
	if (entry)
		json_object_set_new(o, "entry", api_json_string(entry));
	json_object_set_new(o, "reason", api_json_string(reason));
	return o;
}

/*
 * bundle_store b and reply what became of each profile (bundles and lone
 * profiles alike): 200 {"stored":[{id, entry, type, labels, t}],
 * "skipped":[{entry, reason}]}, or the store's failure.
 */
static void store_and_reply(struct api_server *s, struct bundle *b, const struct pprof_limits *lim,
			    int with_entry, struct api_reply *rep)
{
	struct pf_err err = {0};
	json_t *stored = NULL, *skipped = NULL, *data;
	struct bundle_result *res = NULL;
	size_t n, nres = 0, nstored = 0;
	int rc;

	/* which are stored already: all decided before anything is appended */
	n = bundle_nprofiles(b);
	res = pf_xcalloc(n ? n : 1, sizeof(*res));
	rc = bundle_store(s->opt.db, b, lim, res, &nres, &err);
	stored = json_array();
	skipped = json_array();
	for (size_t i = 0; i < bundle_nskipped(b); i++)
		json_array_append_new(skipped, skip_json(with_entry ? bundle_skipped_at(b, i)->entry : NULL,
							 bundle_skipped_at(b, i)->reason));
	for (size_t i = 0; i < nres; i++) {
		const struct bundle_profile *p = res[i].p;
		json_t *e;

		if (res[i].outcome == BUNDLE_ALREADY) {
			json_array_append_new(skipped, skip_json(with_entry ? p->entry : NULL, "already stored"));
			continue;
		}
		if (res[i].outcome == BUNDLE_REFUSED) {
			/* outside what the store keeps: listed, as import lists it */
			api_metrics_refused(&s->metrics, res[i].code == PF_EFUTURE ? "future" : "too_old");
			json_array_append_new(skipped, skip_json(with_entry ? p->entry : NULL, res[i].reason));
			continue;
		}
		nstored++;
		__atomic_add_fetch(&s->metrics.profiles_ingested, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&s->metrics.bytes_ingested, p->len, __ATOMIC_RELAXED);
		e = json_object();
		json_object_set_new(e, "id", json_string(res[i].id));
		if (with_entry)
			json_object_set_new(e, "entry", api_json_string(p->entry));
		json_object_set_new(e, "type", api_json_string(p->type));
		json_object_set_new(e, "labels", labels_json(p->labels, p->nlabels));
		json_object_set_new(e, "t", json_integer(ns_to_ms(p->t_ns)));
		json_array_append_new(stored, e);
	}
	if (rc < 0) {
		/* a store failure midway: what is stored stays (a repeat of the
		 * bundle skips it as already stored) */
		pf_log(PF_LOG_ERROR, "bundle: storing failed", "err", err.msg, NULL);
		if (rc == PF_ENOSPC)
			api_metrics_refused(&s->metrics, "disk_full");
		/* ClickHouse's write queue is full, or ClickHouse did not take
		 * the insert: 503, the client may try again */
		int down = rc == PF_EIO && store_type(s->opt.db) == STORE_CLICKHOUSE;
		if (rc == PF_EBUSY || down)
			api_metrics_refused(&s->metrics, down ? "store_unavailable" : "store_queue_full");
		fail(rep, rc == PF_ENOSPC ? 507 : rc == PF_EBUSY || down ? 503 : rc == PF_EINVAL ? 400 : 500,
		     "%s (%zu of the %zu profiles were stored)", err.msg, nstored, n);
		goto out;
	}
	data = json_object();
	json_object_set_new(data, "stored", stored);
	json_object_set_new(data, "skipped", skipped);
	stored = skipped = NULL;
	api_v1_success(rep, data);
out:
	json_decref(stored);
	json_decref(skipped);
	free(res);
}

/* A bundle_read or bundle_read_one failure as its reply (what: "bundle",
 * "profile"), counted. */
static void read_refused(struct api_server *s, struct api_reply *rep, int rc, const char *what,
			 const struct pf_err *err)
{
	if (rc == PF_EBUSY) {
		api_metrics_refused(&s->metrics, "inflight_budget");
		fail(rep, 503, "service unavailable (%s)", err->msg);
		return;
	}
	__atomic_add_fetch(&s->metrics.bad_profiles, 1, __ATOMIC_RELAXED);
	if (rc == PF_ETOOBIG || rc == PF_ELIMIT) {
		api_metrics_refused(&s->metrics, rc == PF_ELIMIT ? "decode_cap"
					       : strcmp(what, "bundle") == 0 ? "bundle_too_big" : "profile_too_big");
		fail(rep, 413, "bad %s: %s", what, err->msg);
		return;
	}
	api_metrics_refused(&s->metrics, strcmp(what, "bundle") == 0 ? "bad_bundle" : "bad_profile");
	fail(rep, 400, "bad %s: %s", what, err->msg);
}

/* ---- POST /api/v1/bundles ---------------------------------------------- */

void api_v1_bundles_post(struct api_server *s, struct api_req *r, struct api_reply *rep)
{
	const char *service = api_param(r, "service"), *lp = api_param(r, "labels");
	struct api_labels ul = {0};
	struct bundle_options o = {0};
	struct bundle *b = NULL;
	struct pf_err err = {0};
	char reason[API_ECHO_MAX + 128];
	int rc;

	if (service && (strlen(service) > MAX_LABEL_VALUE || !api_utf8_valid(service))) {
		fail(rep, 400, "invalid parameter \"service\": not UTF-8 or longer than %d bytes", MAX_LABEL_VALUE);
		goto out;
	}
	if (lp && (rc = api_labels_parse(lp, &ul, reason, sizeof(reason))) != 0) {
		if (rc > 0)
			api_metrics_refused(&s->metrics, "bad_param");
		fail(rep, 400, "invalid parameter \"labels\": \"%s\": %s", API_ECHO(lp), reason);
		goto out;
	}
	o.service = service;
	o.labels = ul.v;
	o.nlabels = ul.n;
	/* autoprof's entries are stored, so they add up to about the body;
	 * a deflated zip may hold up to 16 times its size (and 1 MiB), no more
	 * than -max-profile-size: no zip bomb */
	o.max_total = (uint64_t)r->body.len * 16 + ((uint64_t)1 << 20);
	if (o.max_total > s->opt.max_profile_bytes)
		o.max_total = s->opt.max_profile_bytes;
	o.pprof.max_decompressed = s->opt.max_profile_bytes;
	o.pprof.budget = s->opt.inflight;
	rc = bundle_read(r->body.data, r->body.len, &o, &b, &err);
	if (rc < 0) {
		read_refused(s, rep, rc, "bundle", &err);
		goto out;
	}
	store_and_reply(s, b, &o.pprof, 1, rep);
out:
	bundle_free(b);
	api_labels_free(&ul);
}

/* ---- POST /api/v1/profiles --------------------------------------------- */

/*
 * One profile (pprof, gzip or not, or a Go execution trace with
 * type=trace), stored unless the store holds it already: the dedupe of
 * bundles (SPEC §10.1) for the profiles `profefe import` sends one by one.
 * ?service=S&type=T[&labels=k=v,..][&created_at=TIME]; created_at is the
 * time of a body without time_nanos (a trace: always), else now.
 */
void api_v1_profiles_post(struct api_server *s, struct api_req *r, struct api_reply *rep)
{
	const char *service = api_param(r, "service"), *type = api_param(r, "type");
	const char *lp = api_param(r, "labels"), *ca = api_param(r, "created_at");
	struct api_labels ul = {0};
	struct bundle_options o = {0};
	struct bundle_one one = {0};
	struct bundle *b = NULL;
	struct pf_err err = {0};
	char reason[API_ECHO_MAX + 128];
	int rc;

	if (!service || !*service) {
		fail(rep, 400, "invalid parameter \"service\": missing");
		goto out;
	}
	if (strlen(service) > MAX_LABEL_VALUE || !api_utf8_valid(service)) {
		fail(rep, 400, "invalid parameter \"service\": not UTF-8 or longer than %d bytes", MAX_LABEL_VALUE);
		goto out;
	}
	if (!type || !bundle_type_valid(type)) {
		fail(rep, 400, "invalid parameter \"type\": %s%s%s (want cpu, heap, allocs, block, mutex, goroutine, threadcreate, trace, other or a name of [a-z0-9_.-])",
		     type ? "unknown profile type \"" : "missing", type ? API_ECHO(type) : "", type ? "\"" : "");
		goto out;
	}
	if (lp && (rc = api_labels_parse(lp, &ul, reason, sizeof(reason))) != 0) {
		if (rc > 0)
			api_metrics_refused(&s->metrics, "bad_param");
		fail(rep, 400, "invalid parameter \"labels\": \"%s\": %s", API_ECHO(lp), reason);
		goto out;
	}
	if (ca && *ca && pf_parse_time_err(ca, &one.t_ns, &err) < 0) {
		fail(rep, 400, "invalid parameter \"created_at\": cannot parse \"%s\" as a time (want RFC 3339, Unix seconds or Unix milliseconds)",
		     API_ECHO(ca));
		goto out;
	}
	one.name = "";
	one.type = type;
	one.service = service;
	o.labels = ul.v;
	o.nlabels = ul.n;
	o.pprof.max_decompressed = s->opt.max_profile_bytes;
	o.pprof.budget = s->opt.inflight;
	if ((rc = bundle_read_one(r->body.data, r->body.len, &one, &o, &b, &err)) < 0) {
		read_refused(s, rep, rc, "profile", &err);
		goto out;
	}
	store_and_reply(s, b, &o.pprof, 0, rep);
out:
	bundle_free(b);
	api_labels_free(&ul);
}

/* ---- GET /api/v1/bundle ------------------------------------------------ */

/* A profile's id, time and labels, copied out of a find's result. */
struct pmeta {
	char id[TSDB_ID_LEN + 1];
	int64_t t_ns;
	struct tsdb_label *labels;
	size_t nlabels;
};

/* The profile chosen for one entry of the bundle. */
struct pick {
	char entry[BUNDLE_MAX_TYPE + 64];
	struct pmeta *meta;
};

static void pmeta_free(struct pmeta *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nlabels; i++) {
		free((char *)m->labels[i].name);
		free((char *)m->labels[i].value);
	}
	free(m->labels);
	free(m);
}

static const char *meta_label(const struct pmeta *m, const char *name)
{
	for (size_t i = 0; i < m->nlabels; i++)
		if (strcmp(m->labels[i].name, name) == 0)
			return m->labels[i].value;
	return "";
}

static uint64_t dist(int64_t a, int64_t b)
{
	return a > b ? (uint64_t)a - (uint64_t)b : (uint64_t)b - (uint64_t)a;
}

static struct pmeta *meta_copy(const struct tsdb_meta *m)
{
	struct pmeta *c = pf_xcalloc(1, sizeof(*c));
	memcpy(c->id, m->id, sizeof(c->id));
	c->t_ns = m->t_ns;
	c->nlabels = m->nlabels;
	c->labels = pf_xcalloc(m->nlabels ? m->nlabels : 1, sizeof(*c->labels));
	for (size_t i = 0; i < m->nlabels; i++) {
		c->labels[i].name = pf_xstrdup(m->labels[i].name);
		c->labels[i].value = pf_xstrdup(m->labels[i].value);
	}
	return c;
}

/* The profile of series info nearest t (ties: the earlier), into *best. */
static int nearest(struct api_server *s, const struct tsdb_series_info *info, int64_t t,
		   struct pmeta **best, struct pf_err *err)
{
	struct tsdb_matcher m[72];
	struct tsdb_query q = {0};
	struct store_result *res = NULL;
	const struct tsdb_meta *before = NULL;
	int64_t hi;
	int rc;

	*best = NULL;
	if (info->nlabels > PF_ARRAY_LEN(m))
		return pf_err_set(err, PF_EINVAL, "series with %zu labels", info->nlabels);
	for (size_t i = 0; i < info->nlabels; i++)
		m[i] = (struct tsdb_matcher){TSDB_MATCH_EQ, info->labels[i].name, info->labels[i].value};
	q.matchers = m;
	q.nmatchers = info->nlabels;
	api_query_limits(s, &q);
	/* the newest at or before t */
	q.min_t_ns = INT64_MIN;
	q.max_t_ns = t;
	q.limit = 1;
	if ((rc = store_find(s->opt.db, &q, &res, err)) < 0)
		return rc;
	for (size_t i = 0; i < store_result_len(res); i++) {
		const struct tsdb_meta *mt = store_result_at(res, i);
		if (mt->nlabels == info->nlabels)
			before = mt;
	}
	if (before)
		*best = meta_copy(before);
	store_result_free(res);
	res = NULL;
	if (t == INT64_MAX)
		return 0;
	/* the oldest after t, nearer than the one before: no further than
	 * that one, or the series' first profile when none came before */
	hi = *best ? (int64_t)((uint64_t)t + dist(t, (*best)->t_ns)) : info->min_t_ns;
	if (*best && hi < t) /* overflow */
		hi = INT64_MAX;
	if (hi <= t)
		return 0;
	q.min_t_ns = t + 1;
	q.max_t_ns = hi;
	q.limit = 0;
	if ((rc = store_find(s->opt.db, &q, &res, err)) < 0)
		return rc;
	for (size_t i = 0; i < store_result_len(res); i++) {
		const struct tsdb_meta *mt = store_result_at(res, i);
		if (mt->nlabels != info->nlabels)
			continue;
		if (!*best || dist(mt->t_ns, t) < dist((*best)->t_ns, t)) {
			pmeta_free(*best);
			*best = meta_copy(mt);
		}
		break; /* ascending: the first is the nearest after t */
	}
	store_result_free(res);
	return 0;
}

/* autoprof's time layout: 2006-01-02T15:04:05.000Z */
static void format_autoprof_time(int64_t ns, char *out, size_t n)
{
	char sec[40];
	int64_t ms = ns_to_ms(ns);
	int64_t frac = ms % 1000;

	pf_format_rfc3339(ns, sec, sizeof(sec));
	if (frac < 0)
		frac += 1000;
	if (strlen(sec) > 1)
		sec[strlen(sec) - 1] = 0; /* the Z */
	snprintf(out, n, "%s.%03dZ", sec, (int)frac);
}

/* autoprof's order: pprof/heap, the others by name, then the CPU profile,
 * the trace and the CPU profile during the trace, as Collector.Run writes
 * them. */
static int entry_rank(const char *e)
{
	if (strcmp(e, "pprof/heap") == 0)
		return 0;
	if (strcmp(e, "pprof/profile") == 0)
		return 2;
	if (strcmp(e, "pprof/trace") == 0)
		return 3;
	if (strcmp(e, "pprof/profile-during-trace") == 0)
		return 4;
	return 1;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int pick_cmp(const void *a, const void *b)
{
	const struct pick *x = a, *y = b;
	int rx = entry_rank(x->entry), ry = entry_rank(y->entry);
	return rx != ry ? (rx < ry ? -1 : 1) : strcmp(x->entry, y->entry);
}

void api_v1_bundle_get(struct api_server *s, struct api_req *r, struct api_reply *rep)
{
	const char *qs = api_param(r, "query"), *tv = api_param(r, "time");
	struct tsdb_selector *sel = NULL;
	struct store_series_set *set = NULL;
	struct tsdb_query q = {0};
	struct pf_err err = {0};
	struct pick *picks = NULL;
	struct bundle_writer *w = NULL;
	struct pf_buf zip = PF_BUF_INIT(0), body = PF_BUF_INIT(0), names = PF_BUF_INIT(0);
	const struct pmeta *ref = NULL;
	struct pmeta **bests = NULL;
	char *proc = NULL;
	const char **insts = NULL, **svcs = NULL;
	size_t nsvcs = 0;
	size_t npicks = 0, ninst = 0;
	int64_t t = 0, capture = INT64_MAX;
	int rc;

	if (!qs || !*qs) {
		fail(rep, 400, "invalid parameter \"query\": missing");
		goto out;
	}
	if (tsdb_selector_parse(qs, &sel, &err) < 0) {
		fail(rep, 400, "invalid parameter \"query\": %s", err.msg);
		goto out;
	}
	if (tv && *tv) {
		if (pf_parse_time_err(tv, &t, &err) < 0) {
			fail(rep, 400, "invalid parameter \"time\": cannot parse \"%s\" as a time (want RFC 3339, Unix seconds or Unix milliseconds)",
			     API_ECHO(tv));
			goto out;
		}
	} else {
		t = pf_now_ns();
	}
	q.matchers = tsdb_selector_matchers(sel);
	q.nmatchers = tsdb_selector_len(sel);
	q.min_t_ns = INT64_MIN;
	q.max_t_ns = INT64_MAX;
	if ((rc = store_series(s->opt.db, &q, &set, &err)) < 0) {
		fail(rep, 500, "query failed: %s", err.msg);
		goto out;
	}
	if (store_series_len(set) == 0) {
		fail(rep, 404, "nothing found: the selector selects no profiles");
		goto out;
	}
	/* one instance (a series without one counts as the instance "") */
	insts = pf_xcalloc(store_series_len(set), sizeof(*insts));
	for (size_t i = 0; i < store_series_len(set); i++) {
		const struct tsdb_series_info *info = store_series_at(set, i);
		const char *v = "";
		size_t k;
		for (size_t j = 0; j < info->nlabels; j++)
			if (strcmp(info->labels[j].name, "instance") == 0)
				v = info->labels[j].value;
		for (k = 0; k < ninst; k++)
			if (strcmp(insts[k], v) == 0)
				break;
		if (k < ninst)
			continue;
		insts[ninst] = v;
		pf_buf_printf(&names, "%s\"%s\"", ninst ? ", " : "", API_ECHO(v));
		ninst++;
	}
	/* and one program: one service */
	svcs = pf_xcalloc(store_series_len(set), sizeof(*svcs));
	for (size_t i = 0; i < store_series_len(set); i++) {
		const struct tsdb_series_info *info = store_series_at(set, i);
		const char *v = "";
		size_t k;
		for (size_t j = 0; j < info->nlabels; j++)
			if (strcmp(info->labels[j].name, "service") == 0)
				v = info->labels[j].value;
		for (k = 0; k < nsvcs; k++)
			if (strcmp(svcs[k], v) == 0)
				break;
		if (k == nsvcs)
			svcs[nsvcs++] = v;
	}
	if (ninst > 1) {
		fail(rep, 400, "the selector selects %zu instances (%.*s); a bundle holds one: add instance=\"...\"",
		     ninst, (int)names.len, (const char *)names.data);
		goto out;
	}
	if (nsvcs > 1) {
		qsort(svcs, nsvcs, sizeof(*svcs), str_cmp);
		fail(rep, 400, "the selector selects %zu services (\"%s\", \"%s\"%s); a bundle holds one program: add service=\"...\"",
		     nsvcs, API_ECHO(svcs[0]), API_ECHO(svcs[1]), nsvcs > 2 ? ", ..." : "");
		goto out;
	}
	/* each series' profile nearest t; then, per entry, the nearest of
	 * those of the process (proc_id) whose profile is nearest t of all,
	 * so that the bundle holds one process as autoprof's do */
	bests = pf_xcalloc(store_series_len(set), sizeof(*bests));
	for (size_t i = 0; i < store_series_len(set); i++) {
		if ((rc = nearest(s, store_series_at(set, i), t, &bests[i], &err)) < 0) {
			char msg[512];
			int st = api_query_refusal(s, rc, &err, msg, sizeof(msg));
			if (st)
				fail(rep, st, "%s", msg);
			else
				fail(rep, 500, "query failed: %s", err.msg);
			goto out;
		}
		if (bests[i] && (!ref || dist(bests[i]->t_ns, t) < dist(ref->t_ns, t)))
			ref = bests[i];
	}
	if (!ref) {
		fail(rep, 404, "nothing found");
		goto out;
	}
	proc = pf_xstrdup(meta_label(ref, "proc_id"));
	ref = NULL;
	picks = pf_xcalloc(store_series_len(set), sizeof(*picks));
	for (size_t i = 0; i < store_series_len(set); i++) {
		struct pmeta *best = bests[i];
		char entry[sizeof(picks->entry)];
		const char *type, *dt;
		size_t k;

		if (!best || strcmp(meta_label(best, "proc_id"), proc) != 0)
			continue;
		bests[i] = NULL; /* now the pick's */
		type = meta_label(best, "type");
		dt = meta_label(best, "during_trace");
		bundle_type_entry(type, strcmp(type, "cpu") == 0 && strcmp(dt, "true") == 0, entry,
				  sizeof(entry));
		for (k = 0; k < npicks; k++)
			if (strcmp(picks[k].entry, entry) == 0)
				break;
		if (k == npicks) {
			memcpy(picks[npicks].entry, entry, sizeof(entry));
			picks[npicks++].meta = best;
		} else if (dist(best->t_ns, t) < dist(picks[k].meta->t_ns, t)) {
			pmeta_free(picks[k].meta);
			picks[k].meta = best;
		} else {
			pmeta_free(best);
		}
	}
	if (npicks == 0) {
		fail(rep, 404, "nothing found");
		goto out;
	}
	qsort(picks, npicks, sizeof(*picks), pick_cmp);
	/* meta: from the labels of the profile nearest t; capture_time the
	 * trace's time (a trace is stored at its bundle's capture_time), else
	 * the earliest profile's */
	for (size_t i = 0; i < npicks; i++) {
		if (!ref || dist(picks[i].meta->t_ns, t) < dist(ref->t_ns, t))
			ref = picks[i].meta;
		if (picks[i].meta->t_ns < capture)
			capture = picks[i].meta->t_ns;
	}
	for (size_t i = 0; i < npicks; i++)
		if (strcmp(picks[i].entry, "pprof/trace") == 0)
			capture = picks[i].meta->t_ns;
	w = bundle_writer_new();
	{
		char ct[64], it[64] = "";
		const char *pid = meta_label(ref, "proc_id");
		json_t *m = json_object();
		char *js;
		unsigned long init;
		char *end;

		format_autoprof_time(capture, ct, sizeof(ct));
		/* autoprof's proc_id: 1-<init time, hex Unix seconds>-<random>-<pid> */
		if (strncmp(pid, "1-", 2) == 0 && strlen(pid) > 11 && pid[10] == '-') {
			init = strtoul(pid + 2, &end, 16);
			if (end == pid + 10)
				format_autoprof_time((int64_t)init * 1000000000LL, it, sizeof(it));
		}
		json_object_set_new(m, "main", api_json_string(meta_label(ref, "service")));
		json_object_set_new(m, "revision", api_json_string(meta_label(ref, "revision")));
		json_object_set_new(m, "go_version", api_json_string(meta_label(ref, "go_version")));
		json_object_set_new(m, "hostname", api_json_string(meta_label(ref, "instance")));
		json_object_set_new(m, "proc_id", api_json_string(pid));
		json_object_set_new(m, "init_time", api_json_string(it));
		json_object_set_new(m, "capture_time", api_json_string(ct));
		js = json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(m);
		rc = bundle_writer_add(w, "meta", js, strlen(js), &err);
		free(js);
		if (rc < 0) {
			fail(rep, 500, "writing the bundle failed: %s", err.msg);
			goto out;
		}
	}
	for (size_t i = 0; i < npicks; i++) {
		pf_buf_reset(&body);
		rc = store_read(s->opt.db, picks[i].meta->id, &body, NULL, &err);
		if (rc == PF_ENOTFOUND) /* dropped by retention meanwhile */
			continue;
		if (rc < 0 || (rc = bundle_writer_add(w, picks[i].entry, body.data, body.len, &err)) < 0) {
			fail(rep, 500, "reading %s for the bundle failed: %s", picks[i].entry, err.msg);
			goto out;
		}
	}
	if ((rc = bundle_writer_finish(w, &zip, &err)) < 0) {
		fail(rep, 500, "writing the bundle failed: %s", err.msg);
		goto out;
	}
	{
		char fn[512], ct[64];
		format_autoprof_time(capture, ct, sizeof(ct));
		snprintf(fn, sizeof(fn), "profile_%s_%s_%s.zip", meta_label(ref, "service"),
			 meta_label(ref, "proc_id"), ct);
		for (char *c = fn; *c; c++)
			if (*c == '"' || *c == '\\' || *c == '/' || (unsigned char)*c < 0x20)
				*c = '_';
		api_reply_binary(rep, fn, &zip);
		rep->content_type = "application/zip";
	}
out:
	for (size_t i = 0; i < npicks; i++)
		pmeta_free(picks[i].meta);
	free(picks);
	if (bests)
		for (size_t i = 0; i < store_series_len(set); i++)
			pmeta_free(bests[i]);
	free(bests);
	free(proc);
	free(insts);
	free(svcs);
	bundle_writer_free(w);
	pf_buf_free(&zip);
	pf_buf_free(&body);
	pf_buf_free(&names);
	store_series_free(set);
	tsdb_selector_free(sel);
}
