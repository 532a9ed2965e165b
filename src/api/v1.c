/*
 * /api/v1: the Prometheus-shaped query API (SPEC §6, §10.5, §10.6).
 *
 *   GET /api/v1/query_range?query=SEL[&start=T][&end=T][&limit=N][&focus=RE]
 *   GET /api/v1/series?match[]=SEL[&match[]=SEL...][&start=T][&end=T]
 *   GET /api/v1/labels[?match[]=SEL...][&start=T][&end=T]
 *   GET /api/v1/label/<name>/values[?match[]=SEL...][&start=T][&end=T]
 *   GET /api/v1/status/tsdb
 *   GET /api/v1/status/buildinfo
 *   GET /api/v1/profile/<id>?report=pprof|top|flamegraph|sandwich|meta[&...]
 *   GET /api/v1/merge?query=SEL[&start=T][&end=T]&report=...[&...]
 *   GET /api/v1/diff?base=ID|base_query=SEL[&base_start=T][&base_end=T]
 *                   &target=ID|target_query=SEL[&target_start=T][&target_end=T]
 *                   &report=top|flamegraph|sandwich|meta[&...]
 *
 * Replies are {"status":"success","data":...} or
 * {"status":"error","errorType":"...","error":"..."}: bad_data with 400
 * for bad input (selector errors carry their LINE:COL), not_found with
 * 404 for an unknown path, bad_data with 405 for a method other than GET
 * or HEAD, internal with 500. Times are RFC 3339, Unix seconds (below
 * 1e11, fractions allowed) or Unix milliseconds; an omitted start or end
 * is unbounded and both ends are included.
 *
 * query_range groups tsdb_find's metas (one per profile, each carrying its
 * series' labels) by series; series, labels and label values read only the
 * store's indexes (tsdb_series).
 */
#include "api/api-internal.h"
#include "pprof/pprof.h"
#include "report/report.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>

/* ---- envelopes -------------------------------------------------------- */

/* 200 {"status":"success","data":data}; takes data. */
static void v1_success(struct api_reply *rep, json_t *data)
{
	json_t *o = json_object();
	char *s;

	json_object_set_new(o, "status", json_string("success"));
	json_object_set_new(o, "data", data);
	s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
	json_decref(o);
	pf_buf_reset(&rep->body);
	rep->content_type = "application/json";
	rep->status = 200;
	if (!s || pf_buf_printf(&rep->body, "%s\n", s) < 0) {
		pf_buf_reset(&rep->body);
		pf_buf_printf(&rep->body, "{\"status\":\"error\",\"errorType\":\"internal\",\"error\":\"reply too large\"}\n");
		rep->status = 500;
	}
	free(s);
}

__attribute__((format(printf, 4, 5))) static void v1_error(struct api_reply *rep, int status,
							   const char *type, const char *fmt, ...)
{
	char *msg = NULL;
	json_t *o = json_object();
	char *s;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	json_object_set_new(o, "status", json_string("error"));
	json_object_set_new(o, "errorType", json_string(type));
	json_object_set_new(o, "error", api_json_message(status, msg));
	free(msg);
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	pf_buf_reset(&rep->body);
	rep->content_type = "application/json";
	rep->status = status;
	free(rep->filename);
	rep->filename = NULL;
	if (!s || pf_buf_printf(&rep->body, "%s\n", s) < 0)
		rep->status = 500;
	free(s);
}

#define bad_data(rep, ...) v1_error((rep), 400, "bad_data", __VA_ARGS__)

void api_v1_success(struct api_reply *rep, json_t *data)
{
	v1_success(rep, data);
}

void api_v1_error(struct api_reply *rep, int status, const char *type, const char *msg)
{
	v1_error(rep, status, type, "%s", msg);
}

static void internal_error(struct api_reply *rep, const char *what, const struct pf_err *err)
{
	pf_log(PF_LOG_ERROR, what, "err", err->msg, NULL);
	v1_error(rep, 500, "internal", "%s: %s", what, err->msg);
}

/* ---- parameters ------------------------------------------------------- */

/* Unix ns to Unix ms, rounding down. */
static int64_t ns_to_ms(int64_t ns)
{
	int64_t q = ns / 1000000;
	return (ns % 1000000 < 0) ? q - 1 : q;
}


/* Reads an optional time; *ns keeps dflt when absent or empty. Replies 400
 * and returns -1 when it does not parse. */
static int read_time(const struct api_req *r, struct api_reply *rep, const char *name,
		     int64_t dflt, int64_t *ns)
{
	const char *v = api_param(r, name);
	struct pf_err err = {0};
	int rc;

	*ns = dflt;
	if (!v || !*v)
		return 0;
	if ((rc = pf_parse_time_err(v, ns, &err)) == PF_ETOOBIG) {
		bad_data(rep, "invalid parameter \"%s\": \"%s\": %s", name, API_ECHO(v), err.msg);
		return -1;
	}
	if (rc < 0) {
		bad_data(rep, "invalid parameter \"%s\": cannot parse \"%s\" as a time (want RFC 3339, Unix seconds or Unix milliseconds)",
			 name, API_ECHO(v));
		return -1;
	}
	return 0;
}

static int read_range(const struct api_req *r, struct api_reply *rep, int64_t *start,
		      int64_t *end)
{
	if (read_time(r, rep, "start", INT64_MIN, start) < 0 ||
	    read_time(r, rep, "end", INT64_MAX, end) < 0)
		return -1;
	if (*start > *end) {
		bad_data(rep, "invalid parameter \"end\": end timestamp must not be before start time");
		return -1;
	}
	/* Replies give times in whole milliseconds, so ranges hold whole
	 * milliseconds too: end=<a reply's t> includes that profile although
	 * its exact time lies a fraction of a millisecond later. */
	if (*start != INT64_MIN)
		*start = *start < INT64_MIN + 1000000 ? INT64_MIN : ns_to_ms(*start) * 1000000;
	if (*end != INT64_MAX)
		*end = *end > INT64_MAX - 1000000 ? INT64_MAX : ns_to_ms(*end) * 1000000 + 999999;
	return 0;
}

/* A non-negative integer parameter; *out keeps its value when absent. */
static int read_count(const struct api_req *r, struct api_reply *rep, const char *name, size_t *out)
{
	const char *v = api_param(r, name);
	char *end;
	unsigned long long n;

	if (!v || !*v)
		return 0;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (*end || errno || v[0] == '-' || v[0] == '+' || v[0] == ' ') {
		bad_data(rep, "invalid parameter \"%s\": cannot parse \"%s\" as a non-negative integer", name, API_ECHO(v));
		return -1;
	}
	*out = n > SIZE_MAX ? SIZE_MAX : (size_t)n;
	return 0;
}

/* Every match[] selector, parsed; *n may be 0. Replies 400 and returns -1
 * on the first that does not parse. Free with free_selectors. */
static int read_matches(const struct api_req *r, struct api_reply *rep,
			struct tsdb_selector ***out, size_t *n)
{
	struct tsdb_selector **v = NULL;
	struct pf_err err = {0};
	size_t len = 0, cap = 0;

	for (size_t i = 0; i < r->nparams; i++) {
		if (strcmp(r->params[i].key, "match[]") != 0)
			continue;
		pf_xgrow((void **)&v, &cap, len + 1, sizeof(*v));
		if (tsdb_selector_parse(r->params[i].value, &v[len], &err) < 0) {
			bad_data(rep, "invalid parameter \"match[]\": %s", err.msg);
			for (size_t k = 0; k < len; k++)
				tsdb_selector_free(v[k]);
			free(v);
			return -1;
		}
		len++;
	}
	*out = v;
	*n = len;
	return 0;
}

static void free_selectors(struct tsdb_selector **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		tsdb_selector_free(v[i]);
	free(v);
}

/* ---- label sets ------------------------------------------------------- */

/* Prometheus's labels.Compare: name, then value, pair by pair; then length. */
static int labels_cmp(const struct tsdb_label *a, size_t na, const struct tsdb_label *b,
		      size_t nb)
{
	size_t n = PF_MIN(na, nb);
	for (size_t i = 0; i < n; i++) {
		int c = strcmp(a[i].name, b[i].name);
		if (c == 0)
			c = strcmp(a[i].value, b[i].value);
		if (c)
			return c;
	}
	return na < nb ? -1 : na > nb;
}

static int meta_ptr_cmp(const void *a, const void *b)
{
	const struct tsdb_meta *x = *(const struct tsdb_meta *const *)a;
	const struct tsdb_meta *y = *(const struct tsdb_meta *const *)b;
	return labels_cmp(x->labels, x->nlabels, y->labels, y->nlabels);
}

static int info_ptr_cmp(const void *a, const void *b)
{
	const struct tsdb_series_info *x = *(const struct tsdb_series_info *const *)a;
	const struct tsdb_series_info *y = *(const struct tsdb_series_info *const *)b;
	return labels_cmp(x->labels, x->nlabels, y->labels, y->nlabels);
}

/*
 * Groups profiles by series. series_of(meta) gives a dense series number in
 * order of first appearance; the first meta of each series represents it.
 */
struct series_index {
	struct pf_map *by_ptr;    /* labels pointer -> series number */
	struct pf_map *by_labels; /* encoded labels -> series number */
	struct pf_buf key;
	const struct tsdb_meta **first;
	size_t n, cap;
};

static void series_index_init(struct series_index *x)
{
	memset(x, 0, sizeof(*x));
	x->by_ptr = pf_map_new(64);
	x->by_labels = pf_map_new(64);
	pf_buf_init(&x->key, 0);
}

static void series_index_free(struct series_index *x)
{
	pf_map_free(x->by_ptr);
	pf_map_free(x->by_labels);
	pf_buf_free(&x->key);
	free(x->first);
}

static size_t series_of(struct series_index *x, const struct tsdb_meta *m)
{
	uint64_t v = x->n;
	const void *p = m->labels;

	/* metas that share a labels array are one series; equal arrays at
	 * different addresses are found by content */
	if (pf_map_get(x->by_ptr, &p, sizeof(p), &v))
		return (size_t)v;
	pf_buf_reset(&x->key);
	for (size_t i = 0; i < m->nlabels; i++) {
		pf_buf_append(&x->key, m->labels[i].name, strlen(m->labels[i].name) + 1);
		pf_buf_append(&x->key, m->labels[i].value, strlen(m->labels[i].value) + 1);
	}
	v = x->n;
	if (!pf_map_get_or_put(x->by_labels, x->key.data ? (const void *)x->key.data : "", x->key.len, &v)) {
		pf_xgrow((void **)&x->first, &x->cap, x->n + 1, sizeof(*x->first));
		x->first[x->n++] = m;
	}
	pf_map_put(x->by_ptr, &p, sizeof(p), v);
	return (size_t)v;
}

static json_t *labels_json(const struct tsdb_label *l, size_t n)
{
	json_t *o = json_object();
	for (size_t i = 0; i < n; i++)
		json_object_set_new(o, l[i].name, api_json_string(l[i].value));
	return o;
}

/* Run one selector's matchers over [start, end]. */
/* per_series: the newest N of each series (query_range's limit), 0 all */
static int find(struct api_server *s, struct api_req *r, const struct tsdb_matcher *m, size_t nm,
		int64_t start, int64_t end, size_t per_series, struct store_result **res,
		struct pf_err *err)
{
	struct tsdb_query q = {0};

	q.matchers = m;
	q.nmatchers = nm;
	q.min_t_ns = start;
	q.max_t_ns = end;
	q.series_limit = per_series;
	api_query_limits(s, &q);
	api_query_cancel(r, &q);
	return store_find(s->opt.db, &q, res, err);
}

/* A failed find or merge: the query limits' 400 or 503 (-query.max-profiles,
 * -query.timeout), else a 500 naming what failed. */
static void query_error(struct api_server *s, struct api_reply *rep, int rc, const char *what,
			const struct pf_err *err)
{
	char msg[512];
	int status = api_query_refusal(s, rc, err, msg, sizeof(msg));

	if (status == 400)
		bad_data(rep, "%s", msg);
	else if (status)
		v1_error(rep, status, "timeout", "%s", msg);
	else
		internal_error(rep, what, err);
}

/* ---- query_range ------------------------------------------------------ */

/* Set totals (by sample type name) from a profile's types and totals. */
static void totals_json(json_t *totals, size_t ntypes, const char *const *types,
			const int64_t *t)
{
	for (size_t k = 0; k < ntypes; k++) {
		json_t *key = api_json_string(types[k]);
		json_object_set_new(totals, json_string_value(key), json_integer(t[k]));
		json_decref(key);
	}
}

/* focus=: profile id's totals over the samples through a function that fo
 * matches, into totals (by sample type name), from the profile read whole:
 * for what store_focus left (ClickHouse, head profiles only in the WAL). */
static int focus_totals(struct api_server *s, struct report_focus *fo, const char *id,
			json_t *totals, struct pf_err *err)
{
	struct pf_buf body = PF_BUF_INIT(0);
	struct pprof_profile *p = NULL;
	int64_t *t = NULL;
	const char **types = NULL;
	int rc;

	if ((rc = store_read(s->opt.db, id, &body, NULL, err)) < 0 ||
	    (rc = pprof_decode(body.data, body.len, s->opt.max_profile_bytes, &p, err)) < 0)
		goto out;
	const pprof_msg *m = pprof_message(p);
	t = pf_xcalloc(m->n_sample_type + 1, sizeof(*t));
	types = pf_xcalloc(m->n_sample_type + 1, sizeof(*types));
	report_focus_totals(fo, p, t);
	for (size_t k = 0; k < m->n_sample_type; k++)
		types[k] = pprof_string(p, m->sample_type[k]->type);
	totals_json(totals, m->n_sample_type, types, t);
out:
	free(types);
	free(t);
	pprof_free(p);
	pf_buf_free(&body);
	return rc;
}

static void handle_query_range(struct api_server *s, struct api_req *r, struct api_reply *rep)
{
	struct tsdb_selector *sel = NULL;
	struct store_result *res = NULL;
	struct series_index x;
	struct pf_err err = {0};
	const char *query = api_param(r, "query"), *focus = api_param(r, "focus");
	size_t *sid = NULL, *count = NULL, *offset = NULL, *order = NULL;
	const struct tsdb_meta **sorted = NULL;
	struct report_focus *fo = NULL;
	/* focus=: the profiles shown (slot[i]: 1 + index into ids, or 0) */
	size_t *slot = NULL, nids = 0;
	const char **ids = NULL;
	struct tsdb_focus_out *fout = NULL;
	struct tsdb_focus_mem *fmem = NULL;
	json_t **rest = NULL; /* the totals of those store_focus left */
	int64_t start, end;
	size_t limit = 0, n; /* limit=N: 0 (or absent) for no limit */
	int rc;
	json_t *arr = NULL;

	series_index_init(&x);
	if (tsdb_selector_parse(query ? query : "", &sel, &err) < 0) {
		bad_data(rep, "invalid parameter \"query\": %s", err.msg);
		goto out;
	}
	if (focus && *focus && report_focus_new(focus, &fo, &err) < 0) {
		bad_data(rep, "invalid parameter \"focus\": %s", err.msg);
		goto out;
	}
	if (read_range(r, rep, &start, &end) < 0 || read_count(r, rep, "limit", &limit) < 0)
		goto out;
	/* the store keeps the newest limit of each series: only those count
	 * against -query.max-profiles (the Services page asks all time, limit=1) */
	if ((rc = find(s, r, tsdb_selector_matchers(sel), tsdb_selector_len(sel), start, end, limit,
		       &res, &err)) < 0) {
		query_error(s, rep, rc, "query failed", &err);
		goto out;
	}
	n = store_result_len(res);
	sid = pf_xcalloc(n ? n : 1, sizeof(*sid));
	for (size_t i = 0; i < n; i++)
		sid[i] = series_of(&x, store_result_at(res, i));

	/* bucket the metas by series, keeping their ascending time order */
	count = pf_xcalloc(x.n + 1, sizeof(*count));
	offset = pf_xcalloc(x.n + 1, sizeof(*offset));
	order = pf_xcalloc(n ? n : 1, sizeof(*order));
	for (size_t i = 0; i < n; i++)
		count[sid[i]]++;
	for (size_t g = 1; g <= x.n; g++)
		offset[g] = offset[g - 1] + count[g - 1];
	{
		size_t *fill = pf_xcalloc(x.n + 1, sizeof(*fill));
		for (size_t i = 0; i < n; i++)
			order[offset[sid[i]] + fill[sid[i]]++] = i;
		free(fill);
	}

	/* series sorted by their labels */
	sorted = pf_xcalloc(x.n + 1, sizeof(*sorted));
	if (x.n)
		memcpy(sorted, x.first, x.n * sizeof(*sorted));
	qsort(sorted, x.n, sizeof(*sorted), meta_ptr_cmp);

	if (fo) {
		/* the focus totals of every pprof profile shown, read together
		 * (each chunk once, each symbol matched once per table) */
		struct tsdb_query q = {0};
		slot = pf_xcalloc(n ? n : 1, sizeof(*slot));
		ids = pf_xcalloc(n ? n : 1, sizeof(*ids));
		for (size_t k = 0; k < x.n; k++) {
			size_t g = series_of(&x, sorted[k]), from = offset[g], to = offset[g] + count[g];
			if (limit && count[g] > limit)
				from = to - limit;
			for (size_t j = from; j < to; j++) {
				const struct tsdb_meta *m = store_result_at(res, order[j]);
				if (m->kind == TSDB_KIND_PPROF) {
					slot[order[j]] = nids + 1;
					ids[nids++] = m->id;
				}
			}
		}
		fout = pf_xcalloc(nids ? nids : 1, sizeof(*fout));
		q.ids = ids;
		q.nids = nids;
		api_query_limits(s, &q);
		api_query_cancel(r, &q);
		if ((rc = store_focus(s->opt.db, &q, report_focus_match, fo, fout, &fmem, &err)) < 0) {
			query_error(s, rep, rc, "reading profiles for focus failed", &err);
			goto out;
		}
		/* what is left is read whole, under the same limits */
		for (size_t i = 0; i < nids; i++) {
			if (fout[i].done)
				continue;
			if (!rest)
				rest = pf_xcalloc(nids, sizeof(*rest));
			if (q.deadline_ns && pf_mono_ns() >= q.deadline_ns) {
				pf_err_set(&err, PF_ETIMEDOUT, "stopped after reading %zu of %zu profiles", i, nids);
				query_error(s, rep, PF_ETIMEDOUT, "", &err);
				goto out;
			}
			if (api_req_gone(r)) {
				pf_err_set(&err, PF_ECANCELED, "stopped after reading %zu of %zu profiles", i, nids);
				query_error(s, rep, PF_ECANCELED, "", &err);
				goto out;
			}
			rest[i] = json_object();
			if (focus_totals(s, fo, ids[i], rest[i], &err) < 0) {
				internal_error(rep, "reading a profile for focus failed", &err);
				goto out;
			}
		}
	}

	arr = json_array();
	for (size_t k = 0; k < x.n; k++) {
		size_t g = series_of(&x, sorted[k]), from = offset[g], to = offset[g] + count[g];
		json_t *ser = json_object(), *samples = json_array();

		if (limit && count[g] > limit)
			from = to - limit; /* the newest N, still ascending */
		for (size_t j = from; j < to; j++) {
			const struct tsdb_meta *m = store_result_at(res, order[j]);
			json_t *smp = json_object(), *totals = NULL;
			if (fo && slot[order[j]]) {
				size_t i = slot[order[j]] - 1;
				if (fout[i].done) {
					totals = json_object();
					totals_json(totals, fout[i].ntypes, fout[i].types, fout[i].totals);
				} else {
					totals = rest[i];
					rest[i] = NULL;
				}
			}
			if (!totals)
				totals = json_object();
			for (size_t t = 0; !fo && t < m->ntotals; t++) {
				json_t *key = api_json_string(m->totals[t].type ? m->totals[t].type : "");
				json_object_set_new(totals, json_string_value(key),
						    json_integer(m->totals[t].value));
				json_decref(key);
			}
			json_object_set_new(smp, "id", json_string(m->id));
			json_object_set_new(smp, "t", json_integer(ns_to_ms(m->t_ns)));
			json_object_set_new(smp, "totals", totals);
			json_array_append_new(samples, smp);
		}
		json_object_set_new(ser, "labels", labels_json(sorted[k]->labels, sorted[k]->nlabels));
		json_object_set_new(ser, "samples", samples);
		json_array_append_new(arr, ser);
	}
	v1_success(rep, arr);
out:
	for (size_t i = 0; rest && i < nids; i++)
		json_decref(rest[i]);
	free(rest);
	store_focus_free(s->opt.db, fmem);
	free(fout);
	free(ids);
	free(slot);
	report_focus_free(fo);
	free(sorted);
	free(order);
	free(offset);
	free(count);
	free(sid);
	series_index_free(&x);
	store_result_free(res);
	tsdb_selector_free(sel);
}

/* ---- series, labels, label values ------------------------------------ */

/*
 * The series with profiles in [start, end] that any of sels selects (every
 * series when there is no selector): one set per selector, to free with
 * free_sets. Replies and returns -1 on failure.
 */
static int series_union(struct api_server *s, struct api_reply *rep, struct tsdb_selector **sels,
			size_t nsels, int64_t start, int64_t end, struct store_series_set ***out,
			size_t *nout)
{
	/* every series has a service (SPEC §1): this selects all of them */
	static const struct tsdb_matcher all = {TSDB_MATCH_NE, "service", ""};
	size_t n = nsels ? nsels : 1;
	struct store_series_set **sets = pf_xcalloc(n, sizeof(*sets));
	struct pf_err err = {0};

	for (size_t i = 0; i < n; i++) {
		struct tsdb_query q = {0};
		q.matchers = nsels ? tsdb_selector_matchers(sels[i]) : &all;
		q.nmatchers = nsels ? tsdb_selector_len(sels[i]) : 1;
		q.min_t_ns = start;
		q.max_t_ns = end;
		if (store_series(s->opt.db, &q, &sets[i], &err) < 0) {
			internal_error(rep, "query failed", &err);
			for (size_t k = 0; k < i; k++)
				store_series_free(sets[k]);
			free(sets);
			return -1;
		}
	}
	*out = sets;
	*nout = n;
	return 0;
}

static void free_sets(struct store_series_set **sets, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_series_free(sets[i]);
	free(sets);
}

static void handle_series(struct api_server *s, struct api_req *r, struct api_reply *rep)
{
	struct tsdb_selector **sels = NULL;
	struct store_series_set **sets = NULL;
	const struct tsdb_series_info **all = NULL;
	size_t nsels = 0, nsets = 0, n = 0, cap = 0;
	int64_t start, end;
	json_t *arr;

	if (read_matches(r, rep, &sels, &nsels) < 0)
		goto out;
	if (nsels == 0) {
		bad_data(rep, "no match[] parameter provided");
		goto out;
	}
	if (read_range(r, rep, &start, &end) < 0 ||
	    series_union(s, rep, sels, nsels, start, end, &sets, &nsets) < 0)
		goto out;
	for (size_t i = 0; i < nsets; i++)
		for (size_t j = 0; j < store_series_len(sets[i]); j++) {
			pf_xgrow((void **)&all, &cap, n + 1, sizeof(*all));
			all[n++] = store_series_at(sets[i], j);
		}
	if (n > 1)
		qsort(all, n, sizeof(*all), info_ptr_cmp);
	arr = json_array();
	for (size_t k = 0; k < n; k++) {
		/* a series two selectors both select is listed once */
		if (k > 0 && info_ptr_cmp(&all[k - 1], &all[k]) == 0)
			continue;
		json_array_append_new(arr, labels_json(all[k]->labels, all[k]->nlabels));
	}
	v1_success(rep, arr);
out:
	free(all);
	free_sets(sets, nsets);
	free_selectors(sels, nsels);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static json_t *strings_json(char **v, size_t n)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, api_json_string(v[i]));
	return arr;
}

/*
 * Label names (name == NULL) or the values of label name, over the series
 * that match[] selects in [start, end]. Without match[], start and end the
 * store's label index answers directly.
 */
static void handle_names_or_values(struct api_server *s, struct api_req *r,
				   struct api_reply *rep, const char *name)
{
	struct tsdb_selector **sels = NULL;
	struct store_series_set **sets = NULL;
	struct pf_map *seen = NULL;
	char **v = NULL;
	size_t nsels = 0, nsets = 0, nv = 0, cap = 0;
	int64_t start, end;
	int from_index;

	if (read_matches(r, rep, &sels, &nsels) < 0 || read_range(r, rep, &start, &end) < 0)
		goto out;
	from_index = nsels == 0 && start == INT64_MIN && end == INT64_MAX;
	if (from_index) {
		struct pf_err err = {0};
		int rc = name ? store_label_values(s->opt.db, name, &v, &nv, &err)
			      : store_label_names(s->opt.db, &v, &nv, &err);
		if (rc < 0) {
			if (!err.msg[0])
				pf_err_set(&err, rc, "%s", pf_strerror(rc));
			internal_error(rep, "reading the label index failed", &err);
			goto out;
		}
		v1_success(rep, strings_json(v, nv));
		store_strings_free(v, nv);
		v = NULL;
		goto out;
	}
	if (series_union(s, rep, sels, nsels, start, end, &sets, &nsets) < 0)
		goto out;
	seen = pf_map_new(64);
	for (size_t i = 0; i < nsets; i++) {
		for (size_t j = 0; j < store_series_len(sets[i]); j++) {
			const struct tsdb_series_info *si = store_series_at(sets[i], j);
			for (size_t k = 0; k < si->nlabels; k++) {
				const char *str = name ? si->labels[k].value : si->labels[k].name;
				uint64_t one = 1;
				if (name && strcmp(si->labels[k].name, name) != 0)
					continue;
				if (!pf_map_get_or_put(seen, str, strlen(str), &one)) {
					pf_xgrow((void **)&v, &cap, nv + 1, sizeof(*v));
					v[nv++] = (char *)str; /* borrowed from sets */
				}
			}
		}
	}
	if (nv)
		qsort(v, nv, sizeof(*v), cmp_str);
	v1_success(rep, strings_json(v, nv));
	free(v);
	v = NULL;
out:
	pf_map_free(seen);
	free_sets(sets, nsets);
	free_selectors(sels, nsels);
}



/* ---- reports: profile/<id>, merge, diff ----------------------------- */

/* One side of a report: a decoded profile and how many went into it. */
struct side {
	struct pprof_profile *p;
	size_t nprofiles;
	struct pf_buf body; /* a stored profile's body, as read (by id) */
	char *type;         /* its "type" label */
};

static void side_free(struct side *x)
{
	pprof_free(x->p);
	pf_buf_free(&x->body);
	free(x->type);
	memset(x, 0, sizeof(*x));
}

/* The report's options from the request (borrowing its strings). */
static int read_report_opts(const struct api_req *r, struct api_reply *rep, struct report_opts *o)
{
	struct pf_err err = {0};
	const char *nf = api_param(r, "node_fraction");

	report_opts_init(o);
	o->sample_index = api_param(r, "sample_index");
	o->focus = api_param(r, "focus");
	o->ignore = api_param(r, "ignore");
	o->hide = api_param(r, "hide");
	o->show_from = api_param(r, "show_from");
	o->tagfocus = api_param(r, "tagfocus");
	o->tagignore = api_param(r, "tagignore");
	o->function = api_param(r, "function");
	if (report_granularity_parse(api_param(r, "granularity"), &o->granularity, &err) < 0) {
		bad_data(rep, "invalid parameter \"granularity\": %s", err.msg);
		return -1;
	}
	if (read_count(r, rep, "limit", &o->limit) < 0 || read_count(r, rep, "max_nodes", &o->max_nodes) < 0)
		return -1;
	if (nf && *nf) {
		char *end;
		errno = 0;
		o->node_fraction = strtod(nf, &end);
		if (*end || errno || !(o->node_fraction >= 0 && o->node_fraction <= 1)) {
			bad_data(rep, "invalid parameter \"node_fraction\": \"%s\" is not a number from 0 to 1", API_ECHO(nf));
			return -1;
		}
	}
	return 0;
}

static const char *const report_kinds[] = {"pprof", "top", "flamegraph", "sandwich", "meta"};

/* report=: one of report_kinds (dflt when absent), else 400. */
static const char *read_report_kind(const struct api_req *r, struct api_reply *rep, const char *dflt)
{
	const char *k = api_param(r, "report");

	if (!k || !*k)
		k = dflt;
	for (size_t i = 0; k && i < PF_ARRAY_LEN(report_kinds); i++)
		if (strcmp(k, report_kinds[i]) == 0)
			return report_kinds[i];
	if (!k)
		bad_data(rep, "missing parameter \"report\" (top, flamegraph, sandwich or meta)");
	else
		bad_data(rep, "invalid parameter \"report\": unknown report \"%s\" (want pprof, top, flamegraph, sandwich or meta)",
			 API_ECHO(k));
	return NULL;
}

/* A report's failure: bad options are 400, anything else 500. */
static void report_failed(struct api_reply *rep, int rc, const char *prefix, const struct pf_err *err)
{
	if (rc == PF_EINVAL || rc == PF_ELIMIT)
		bad_data(rep, "%s%s", prefix, err->msg);
	else
		internal_error(rep, "report failed", err);
}

/*
 * Replies report kind over x (one profile or a merge). report=pprof is the
 * profile itself (the stored body when there is one, else the merge
 * encoded), as a download named filename.
 */
static void reply_report(struct api_reply *rep, const char *kind, const struct report_opts *o,
			 struct side *x, const char *filename)
{
	struct report_prep *prep = NULL;
	struct pf_err err = {0};
	json_t *data = NULL;
	int rc = 0;

	if (strcmp(kind, "pprof") == 0) {
		struct pf_buf out = PF_BUF_INIT(0);
		if (x->body.len) {
			api_reply_binary(rep, filename, &x->body);
		} else if ((rc = pprof_encode(x->p, &out, &err)) < 0) {
			internal_error(rep, "encoding the profile failed", &err);
		} else {
			api_reply_binary(rep, filename, &out);
		}
		pf_buf_free(&out);
		return;
	}
	if (strcmp(kind, "meta") == 0) {
		v1_success(rep, report_meta(x->p, x->nprofiles));
		return;
	}
	if ((rc = report_prep_new(x->p, o, &prep, &err)) == 0) {
		if (strcmp(kind, "top") == 0)
			rc = report_top(prep, &data, &err);
		else if (strcmp(kind, "flamegraph") == 0)
			rc = report_flamegraph(prep, &data, &err);
		else
			rc = report_sandwich(prep, &data, &err);
	}
	if (rc < 0)
		report_failed(rep, rc, "", &err);
	else
		v1_success(rep, data);
	report_prep_free(prep);
}

/* The stored profile id into x (body kept as stored). Replies and returns
 * -1 when it cannot: 404 for an unknown id, 400 for a trace (named by
 * what, "" or "base "/"target "). */
static int read_by_id(struct api_server *s, struct api_reply *rep, const char *id, const char *what,
		      struct side *x)
{
	struct tsdb_meta *meta = NULL;
	struct pf_err err = {0};
	int rc;

	pf_buf_init(&x->body, 0);
	rc = store_read(s->opt.db, id, &x->body, &meta, &err);
	if (rc == PF_ENOTFOUND) {
		v1_error(rep, 404, "not_found", "%sprofile \"%s\" not found", what, API_ECHO(id));
		return -1;
	}
	if (rc < 0) {
		internal_error(rep, "reading a stored profile failed", &err);
		return -1;
	}
	x->type = pf_xstrdup("");
	for (size_t k = 0; k < meta->nlabels; k++)
		if (strcmp(meta->labels[k].name, "type") == 0) {
			free(x->type);
			x->type = pf_xstrdup(meta->labels[k].value);
		}
	if (meta->kind != TSDB_KIND_PPROF) {
		bad_data(rep, "%sprofile \"%s\" is a %s (a Go execution trace, not pprof): it has no reports; get it from /api/0/profiles/%s",
			 what, API_ECHO(id), x->type, API_ECHO(id));
		store_meta_free(s->opt.db, meta);
		return -1;
	}
	store_meta_free(s->opt.db, meta);
	rc = pprof_decode(x->body.data, x->body.len, s->opt.max_profile_bytes, &x->p, &err);
	if (rc < 0) {
		internal_error(rep, "a stored profile does not decode", &err);
		return -1;
	}
	x->nprofiles = 1;
	return 0;
}

/* The merge of what selector query finds in [start_param, end_param] into
 * x. Replies and returns -1 when it cannot: a bad selector or time, nothing
 * found (404), several types (400 naming them), traces (400). */
static int read_merge(struct api_server *s, struct api_req *r, struct api_reply *rep,
		      const char *qparam, const char *start_param, const char *end_param, struct side *x)
{
	struct tsdb_selector *sel = NULL;
	struct store_result *res = NULL;
	struct tsdb_query q = {0};
	struct pf_err err = {0};
	struct pf_buf types = PF_BUF_INIT(0);
	const char *query = api_param(r, qparam);
	int64_t start, end;
	size_t ntypes = 0;
	int ret = -1, rc;

	if (!query || !*query) {
		bad_data(rep, "missing parameter \"%s\"", qparam);
		goto out;
	}
	if (tsdb_selector_parse(query, &sel, &err) < 0) {
		bad_data(rep, "invalid parameter \"%s\": %s", qparam, err.msg);
		goto out;
	}
	if (read_time(r, rep, start_param, INT64_MIN, &start) < 0 ||
	    read_time(r, rep, end_param, INT64_MAX, &end) < 0)
		goto out;
	if (start > end) {
		bad_data(rep, "invalid parameter \"%s\": end timestamp must not be before start time", end_param);
		goto out;
	}
	if ((rc = find(s, r, tsdb_selector_matchers(sel), tsdb_selector_len(sel), start, end, 0,
		       &res, &err)) < 0) {
		query_error(s, rep, rc, "query failed", &err);
		goto out;
	}
	if (store_result_len(res) == 0) {
		v1_error(rep, 404, "not_found", "\"%s\" finds no profile in that range", qparam);
		goto out;
	}
	/* one type at a time: list the distinct ones */
	{
		struct pf_map *seen = pf_map_new(8);
		for (size_t i = 0; i < store_result_len(res); i++) {
			const struct tsdb_meta *m = store_result_at(res, i);
			const char *t = "";
			uint64_t one = 1;
			for (size_t k = 0; k < m->nlabels; k++)
				if (strcmp(m->labels[k].name, "type") == 0)
					t = m->labels[k].value;
			if (!pf_map_get_or_put(seen, t, strlen(t), &one)) {
				pf_buf_printf(&types, "%s%s", ntypes ? ", " : "", t);
				if (!ntypes)
					x->type = pf_xstrdup(t);
				ntypes++;
			}
		}
		pf_map_free(seen);
	}
	if (ntypes > 1) {
		bad_data(rep, "\"%s\" finds profiles of %zu types (%s): merge one type at a time (add type=\"...\")",
			 qparam, ntypes, (const char *)types.data);
		goto out;
	}
	q.matchers = tsdb_selector_matchers(sel);
	q.nmatchers = tsdb_selector_len(sel);
	q.min_t_ns = start;
	q.max_t_ns = end;
	api_query_limits(s, &q);
	api_query_cancel(r, &q);
	rc = store_merge(s->opt.db, &q, &x->p, &x->nprofiles, &err);
	if (rc == PF_ENOTFOUND) {
		v1_error(rep, 404, "not_found", "\"%s\" finds no profile in that range", qparam);
		goto out;
	}
	if (rc == PF_EMISMATCH || rc == PF_EINVAL) {
		bad_data(rep, "the profiles \"%s\" finds cannot be merged: %s", qparam, err.msg);
		goto out;
	}
	if (rc < 0) {
		query_error(s, rep, rc, "merge failed", &err);
		goto out;
	}
	ret = 0;
out:
	pf_buf_free(&types);
	store_result_free(res);
	tsdb_selector_free(sel);
	return ret;
}

static void handle_profile(struct api_server *s, struct api_req *r, struct api_reply *rep,
			   const char *id)
{
	struct report_opts o;
	struct side x = {0};
	const char *kind;

	if (!(kind = read_report_kind(r, rep, "pprof")) || read_report_opts(r, rep, &o) < 0 ||
	    read_by_id(s, rep, id, "", &x) < 0)
		goto out;
	reply_report(rep, kind, &o, &x, x.type);
out:
	side_free(&x);
}

static void handle_merge(struct api_server *s, struct api_req *r, struct api_reply *rep)
{
	struct report_opts o;
	struct side x = {0};
	const char *kind;

	if (!(kind = read_report_kind(r, rep, "pprof")) || read_report_opts(r, rep, &o) < 0 ||
	    read_merge(s, r, rep, "query", "start", "end", &x) < 0)
		goto out;
	reply_report(rep, kind, &o, &x, x.type);
out:
	side_free(&x);
}

/* One side of a diff: NAME=ID or NAME_query=SEL&NAME_start=&NAME_end=. */
static int read_diff_side(struct api_server *s, struct api_req *r, struct api_reply *rep,
			  const char *name, struct side *x)
{
	char qp[32], sp[32], ep[32], what[32];
	const char *id = api_param(r, name);

	snprintf(qp, sizeof(qp), "%s_query", name);
	snprintf(sp, sizeof(sp), "%s_start", name);
	snprintf(ep, sizeof(ep), "%s_end", name);
	snprintf(what, sizeof(what), "%s ", name);
	if (id && *id && api_param(r, qp)) {
		bad_data(rep, "give either \"%s\" (an id) or \"%s\" (a selector), not both", name, qp);
		return -1;
	}
	if (id && *id)
		return read_by_id(s, rep, id, what, x);
	if (!api_param(r, qp)) {
		bad_data(rep, "missing parameter \"%s\" (an id) or \"%s\" (a selector)", name, qp);
		return -1;
	}
	return read_merge(s, r, rep, qp, sp, ep, x);
}

static void handle_diff(struct api_server *s, struct api_req *r, struct api_reply *rep)
{
	struct report_opts o;
	struct report_prep *pb = NULL, *pt = NULL;
	struct side base = {0}, target = {0};
	struct pf_err err = {0};
	json_t *data = NULL;
	const char *kind;
	int rc;

	if (!(kind = read_report_kind(r, rep, NULL)) || read_report_opts(r, rep, &o) < 0)
		goto out;
	if (strcmp(kind, "pprof") == 0) {
		bad_data(rep, "invalid parameter \"report\": a diff has the reports top, flamegraph, sandwich and meta, not %s", kind);
		goto out;
	}
	if (read_diff_side(s, r, rep, "base", &base) < 0 || read_diff_side(s, r, rep, "target", &target) < 0)
		goto out;
	if (strcmp(kind, "meta") == 0) {
		/* each side's own, for a header; the sample types are not compared */
		data = json_object();
		json_object_set_new(data, "base", report_meta(base.p, base.nprofiles));
		json_object_set_new(data, "target", report_meta(target.p, target.nprofiles));
		v1_success(rep, data);
		goto out;
	}
	if ((rc = report_prep_new(target.p, &o, &pt, &err)) < 0) {
		report_failed(rep, rc, "target: ", &err);
		goto out;
	}
	/* the base's sample type is the target's (its default when none was
	 * asked for) */
	o.sample_index = report_prep_sample_type(pt);
	if ((rc = report_prep_new(base.p, &o, &pb, &err)) < 0) {
		if (rc == PF_EINVAL && strncmp(err.msg, "unknown sample_index", 20) == 0)
			bad_data(rep, "cannot diff profiles of different sample types: the target's is %s/%s and the base (%s) has no %s",
				 report_prep_sample_type(pt), report_prep_unit(pt), base.type ? base.type : "", report_prep_sample_type(pt));
		else
			report_failed(rep, rc, "base: ", &err);
		goto out;
	}
	if (strcmp(kind, "top") == 0)
		rc = report_top_diff(pb, pt, &data, &err);
	else if (strcmp(kind, "flamegraph") == 0)
		rc = report_flamegraph_diff(pb, pt, &data, &err);
	else
		rc = report_sandwich_diff(pb, pt, &data, &err);
	if (rc < 0)
		report_failed(rep, rc, "", &err);
	else
		v1_success(rep, data);
out:
	report_prep_free(pb);
	report_prep_free(pt);
	side_free(&base);
	side_free(&target);
}

/* ---- status ----------------------------------------------------------- */

static void handle_status_tsdb(struct api_server *s, struct api_reply *rep)
{
	struct store_stats sst;
	json_t *o = json_object(), *wal = json_object();

	store_stats(s->opt.db, &sst);
	json_object_set_new(o, "storage", api_json_string(store_type_name(s->opt.db)));
	if (sst.type == STORE_CLICKHOUSE) {
		/* the writer's figures, and the counts of the series
		 * table; bytes live in ClickHouse's system.parts */
		json_t *w = json_object();
		static const struct tsdb_matcher all = {TSDB_MATCH_RE, "service", ".+"};
		struct tsdb_query q = {.matchers = &all, .nmatchers = 1, .min_t_ns = INT64_MIN,
				       .max_t_ns = INT64_MAX};
		struct store_series_set *set = NULL;
		struct pf_err err = {0};
		uint64_t nprof = 0;

		/* series and profiles from the series index (every node's) */
		if (store_series(s->opt.db, &q, &set, &err) < 0) {
			json_decref(w);
			json_decref(wal);
			json_decref(o);
			internal_error(rep, "reading the series failed", &err);
			return;
		}
		for (size_t i = 0; i < store_series_len(set); i++)
			nprof += store_series_at(set, i)->profiles;
		json_object_set_new(o, "series", json_integer((json_int_t)store_series_len(set)));
		json_object_set_new(o, "profiles", json_integer((json_int_t)nprof));
		store_series_free(set);
		json_object_set_new(w, "queued", json_integer((json_int_t)sst.ch.queued));
		json_object_set_new(w, "inflight", json_integer((json_int_t)sst.ch.inflight));
		json_object_set_new(w, "inserts", json_integer((json_int_t)sst.ch.inserts));
		json_object_set_new(w, "retries", json_integer((json_int_t)sst.ch.retries));
		json_object_set_new(w, "failures", json_integer((json_int_t)sst.ch.failures));
		json_object_set_new(w, "refused", json_integer((json_int_t)sst.ch.refused));
		json_object_set_new(w, "insertSeconds", json_real((double)sst.ch.insert_ns / 1e9));
		json_object_set_new(w, "retentionDroppedDays", json_integer((json_int_t)sst.ch_retain_days));
		json_object_set_new(o, "clickhouse", w);
		json_decref(wal);
		v1_success(rep, o);
		return;
	}
	/* Totals over the whole store; "bytes" is what it holds on disk
	 * (blocks and WAL), the figure -tsdb.retention-size caps. */
	json_t *blocks = json_object(), *head = json_object();
	json_object_set_new(o, "series", json_integer((json_int_t)sst.tsdb.series));
	json_object_set_new(o, "profiles", json_integer((json_int_t)sst.tsdb.profiles));
	json_object_set_new(o, "bytes", json_integer((json_int_t)(sst.tsdb.block_bytes + sst.tsdb.wal_bytes)));
	json_object_set_new(o, "appends", json_integer((json_int_t)sst.tsdb.appends));
	json_object_set_new(o, "minTime", json_integer((json_int_t)(sst.tsdb.min_t / 1000000)));
	json_object_set_new(o, "maxTime", json_integer((json_int_t)(sst.tsdb.max_t / 1000000)));
	json_object_set_new(blocks, "count", json_integer((json_int_t)sst.tsdb.blocks));
	json_object_set_new(blocks, "bytes", json_integer((json_int_t)sst.tsdb.block_bytes));
	json_object_set_new(blocks, "profiles", json_integer((json_int_t)sst.tsdb.block_profiles));
	json_object_set_new(blocks, "cuts", json_integer((json_int_t)sst.tsdb.cuts));
	json_object_set_new(blocks, "compactions", json_integer((json_int_t)sst.tsdb.compactions));
	json_object_set_new(blocks, "retentionDrops", json_integer((json_int_t)sst.tsdb.retention_drops));
	json_object_set_new(blocks, "corruptSkipped", json_integer((json_int_t)sst.tsdb.corrupt_skipped));
	json_object_set_new(o, "blocks", blocks);
	json_object_set_new(head, "series", json_integer((json_int_t)sst.tsdb.head_series));
	json_object_set_new(head, "profiles", json_integer((json_int_t)sst.tsdb.head_profiles));
	json_object_set_new(head, "minTime", json_integer((json_int_t)(sst.tsdb.head_min_t / 1000000)));
	json_object_set_new(head, "maxTime", json_integer((json_int_t)(sst.tsdb.head_max_t / 1000000)));
	json_object_set_new(o, "head", head);
	json_object_set_new(wal, "bytes", json_integer((json_int_t)sst.tsdb.wal_bytes));
	json_object_set_new(wal, "fsyncs", json_integer((json_int_t)sst.tsdb.wal_fsyncs));
	json_object_set_new(wal, "replayed", json_integer((json_int_t)sst.tsdb.replayed));
	json_object_set_new(o, "wal", wal);
	v1_success(rep, o);
}

static void handle_buildinfo(struct api_server *s, struct api_reply *rep)
{
	json_t *o = json_object();

	/* Prometheus's names for what /api/0/version calls version, commit
	 * and build_time */
	json_object_set_new(o, "version", api_json_string(s->opt.version ? s->opt.version : ""));
	json_object_set_new(o, "revision", api_json_string(s->opt.commit ? s->opt.commit : ""));
	json_object_set_new(o, "buildDate", api_json_string(s->opt.build_time ? s->opt.build_time : ""));
	v1_success(rep, o);
}

/* ---- routing ---------------------------------------------------------- */

enum v1_endpoint {
	EP_QUERY_RANGE,
	EP_SERIES,
	EP_LABELS,
	EP_LABEL_VALUES,
	EP_STATUS_TSDB,
	EP_BUILDINFO,
	EP_PROFILE,
	EP_MERGE,
	EP_DIFF,
};

static const struct {
	const char *path;
	enum v1_endpoint ep;
	int route;
} endpoints[] = {
	{"/api/v1/query_range", EP_QUERY_RANGE, API_ROUTE_V1_QUERY_RANGE},
	{"/api/v1/series", EP_SERIES, API_ROUTE_V1_SERIES},
	{"/api/v1/labels", EP_LABELS, API_ROUTE_V1_LABELS},
	{"/api/v1/status/tsdb", EP_STATUS_TSDB, API_ROUTE_V1_STATUS_TSDB},
	{"/api/v1/status/buildinfo", EP_BUILDINFO, API_ROUTE_V1_BUILDINFO},
	{"/api/v1/merge", EP_MERGE, API_ROUTE_V1_MERGE},
	{"/api/v1/diff", EP_DIFF, API_ROUTE_V1_DIFF},
};

void api_v1_handle(struct api_server *s, struct api_req *r, struct api_reply *rep)
{
	static const char lv_pre[] = "/api/v1/label/", lv_suf[] = "/values", pr_pre[] = "/api/v1/profile/";
	const char *p = r->path;
	size_t plen = strlen(p), pre = sizeof(lv_pre) - 1, suf = sizeof(lv_suf) - 1;
	const struct api_param *nul;
	const struct api_query_flaw *fl = &r->query_flaw;
	char *name = NULL;
	int ep = -1, in_name;

	if ((nul = api_param_nul(r, &in_name))) { /* SPEC §9 */
		api_metrics_refused(&s->metrics, "bad_param");
		if (in_name)
			bad_data(rep, "invalid parameter name \"%s\": it holds a NUL byte (%%00)",
				 API_ECHO_N(nul->key, nul->key_len));
		else
			bad_data(rep, "invalid parameter \"%s\": the value \"%s\" holds a NUL byte (%%00)",
				 API_ECHO(nul->key), API_ECHO_N(nul->value, nul->value_len));
		return;
	}
	/* a pair /api/0 drops (as Go's ParseQuery, for profefe's clients) is
	 * refused here, as Prometheus's handlers do: a dropped ?labels= would
	 * store a push without its labels */
	if (fl->at) {
		size_t klen = strcspn(fl->pair, "=&");
		char *k = pf_xstrndup(fl->pair, klen);
		const char *esc = fl->at;

		if (api_unescape(k, 1, NULL) < 0) { /* the escape is in the key: as sent */
			free(k);
			k = pf_xstrndup(fl->pair, klen);
		}
		api_metrics_refused(&s->metrics, "bad_param");
		if (*esc == ';')
			bad_data(rep, "invalid parameter \"%s\": a \";\" in the query: send it as %%3B", API_ECHO(k));
		else
			bad_data(rep, "invalid parameter \"%s\": invalid URL escape \"%.*s\"", API_ECHO(k),
				 (int)strnlen(esc, 3), esc);
		free(k);
		return;
	}
	if (api_v1_scrape_handle(s, r, rep)) /* targets, status/config: targets.c */
		return;
	if (strcmp(p, "/api/v1/bundles") == 0) { /* bundle.c */
		r->route = API_ROUTE_V1_BUNDLES;
		if (strcmp(r->method, "POST") != 0)
			v1_error(rep, 405, "bad_data", "method %s not allowed on %s (use POST)", API_ECHO(r->method), p);
		else
			api_v1_bundles_post(s, r, rep);
		return;
	}
	if (strcmp(p, "/api/v1/profiles") == 0) { /* bundle.c */
		r->route = API_ROUTE_V1_PROFILES;
		if (strcmp(r->method, "POST") != 0)
			v1_error(rep, 405, "bad_data", "method %s not allowed on %s (use POST)", API_ECHO(r->method), p);
		else
			api_v1_profiles_post(s, r, rep);
		return;
	}
	if (strcmp(p, "/api/v1/bundle") == 0) {
		r->route = API_ROUTE_V1_BUNDLE;
		if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0)
			v1_error(rep, 405, "bad_data", "method %s not allowed on %s (use GET)", API_ECHO(r->method), p);
		else
			api_v1_bundle_get(s, r, rep);
		return;
	}
	for (size_t i = 0; i < PF_ARRAY_LEN(endpoints); i++) {
		if (strcmp(p, endpoints[i].path) == 0) {
			ep = (int)endpoints[i].ep;
			r->route = endpoints[i].route;
		}
	}
	if (ep < 0 && plen >= pre + suf && strncmp(p, lv_pre, pre) == 0 &&
	    strcmp(p + plen - suf, lv_suf) == 0) {
		ep = EP_LABEL_VALUES;
		r->route = API_ROUTE_V1_LABEL_VALUES;
		name = pf_xstrndup(p + pre, plen - pre - suf);
	}
	if (ep < 0 && strncmp(p, pr_pre, sizeof(pr_pre) - 1) == 0 && p[sizeof(pr_pre) - 1] &&
	    !strchr(p + sizeof(pr_pre) - 1, '/')) {
		ep = EP_PROFILE;
		r->route = API_ROUTE_V1_PROFILE;
		name = pf_xstrdup(p + sizeof(pr_pre) - 1);
	}
	if (ep < 0) {
		r->route = API_ROUTE_V1_OTHER;
		v1_error(rep, 404, "not_found", "unknown API endpoint \"%s\"", API_ECHO(p));
		goto out;
	}
	if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
		v1_error(rep, 405, "bad_data", "method %s not allowed on %s (use GET)", API_ECHO(r->method), API_ECHO(p));
		goto out;
	}
	switch ((enum v1_endpoint)ep) {
	case EP_QUERY_RANGE:
		handle_query_range(s, r, rep);
		break;
	case EP_SERIES:
		handle_series(s, r, rep);
		break;
	case EP_LABELS:
		handle_names_or_values(s, r, rep, NULL);
		break;
	case EP_LABEL_VALUES:
		if (!pf_label_name_ok(name, strlen(name)))
			bad_data(rep, "invalid label name: \"%s\"", API_ECHO(name));
		else
			handle_names_or_values(s, r, rep, name);
		break;
	case EP_STATUS_TSDB:
		handle_status_tsdb(s, rep);
		break;
	case EP_BUILDINFO:
		handle_buildinfo(s, rep);
		break;
	case EP_PROFILE:
		handle_profile(s, r, rep, name);
		break;
	case EP_MERGE:
		handle_merge(s, r, rep);
		break;
	case EP_DIFF:
		handle_diff(s, r, rep);
		break;
	}
out:
	free(name);
}
