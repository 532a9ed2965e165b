/*
 * Reads: a profile by id, find, series, label values and names, merge,
 * retention.
 *
 * Every read of profiles dedups with LIMIT 1 BY series_id, t_ns, seq (a
 * retried insert may have left a second copy that the ReplacingMergeTree
 * has not collapsed yet), every read of symbols with LIMIT 1 BY their id.
 * Selectors are resolved here, against the series rows of the days asked
 * for, with the embedded store's own matcher code (tsdb__preds_new and
 * tsdb__select of src/tsdb/matchers.c over a postings source built from
 * those rows), so both stores select alike.
 *
 * A pprof profile is rebuilt as the embedded store's codec rebuilds one:
 * locations numbered in order of first use by the samples, functions in
 * order of first use by the locations (what Go's writer does), then the
 * profile's unused ones; mappings in the profile's order.
 */
#include "clickhouse/ch-internal.h"
#include "tsdb/tsdb-internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <time.h>

#define REPLY_MAX ((size_t)1 << 31)

/* ---- small helpers ------------------------------------------------------ */

static int corrupt(struct pf_err *err, const char *what)
{
	return pf_err_set(err, PF_ECORRUPT, "clickhouse: malformed RowBinary reply to the %s query",
			  what);
}

static void sql_u64_list(struct pf_buf *b, const uint64_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		pf_buf_printf(b, "%s%" PRIu64, i ? "," : "", v[i]);
}

/* One SELECT bounded by q (NULL: unbounded): its deadline, which ClickHouse
 * gets as max_execution_time, and its cancel hook, asked before sending
 * and during the transfer (ch_query_bounded). */
static int run(struct ch_store *s, struct pf_buf *sql, struct pf_buf *out,
	       const struct tsdb_query *q, struct pf_err *err)
{
	struct ch_bound b = {0};
	if (pf_buf_putc(sql, 0) < 0)
		abort();
	if (q) {
		b.deadline_ns = q->deadline_ns;
		b.cancelled = q->cancelled;
		b.cancel_arg = q->cancel_arg;
	}
	return ch_query_bounded(s->c, 1, (const char *)sql->data, NULL, 0, out, q ? &b : NULL, err);
}

/* Whether q's caller gave up (q->cancelled; asked between the stages that
 * run in C, run() asks before and during each round trip). */
static int gave_up(const struct tsdb_query *q)
{
	return q && q->cancelled && q->cancelled(q->cancel_arg);
}

/* rc; when it is PF_ECANCELED, err reworded to say how far the query got,
 * as the embedded store's: "stopped after finding 12 profiles (clickhouse
 * http://h:p/: canceled while ClickHouse ran \"SELECT ...\")". how is
 * "after ..." or "before ...". */
static int canceled_at(int rc, struct pf_err *err, const char *how, ...)
	__attribute__((format(printf, 3, 4)));
static int canceled_at(int rc, struct pf_err *err, const char *how, ...)
{
	char h[160], was[sizeof(err->msg)];
	va_list ap;

	if (rc != PF_ECANCELED || !err)
		return rc;
	va_start(ap, how);
	vsnprintf(h, sizeof(h), how, ap);
	va_end(ap);
	snprintf(was, sizeof(was), "%s", err->msg);
	return pf_err_set(err, PF_ECANCELED, "stopped %s (%s)", h, was);
}

/* The days [d0, d1] a time range covers, as a SQL condition on day (none
 * for an unbounded side). */
static void where_days(struct pf_buf *b, int64_t min_t, int64_t max_t)
{
	pf_buf_printf(b, "1");
	if (min_t != INT64_MIN && min_t > 0) {
		pf_buf_printf(b, " AND day >= ");
		ch__put_day(b, PF_MIN(ch_day_of(min_t), 65535));
	}
	if (max_t != INT64_MAX) {
		pf_buf_printf(b, " AND day <= ");
		ch__put_day(b, max_t < 0 ? 0 : PF_MIN(ch_day_of(max_t), 65535));
	}
}

/* ---- series rows and selectors ------------------------------------------ */

struct srow {
	uint64_t id;
	struct tsdb_label *labels; /* sorted by name */
	size_t n;
	const char *service;
};

struct sset {
	struct pf_arena *a;
	struct srow *v;
	size_t n, cap;
	struct pf_htab byid; /* series id -> index */
};

static void sset_free(struct sset *ss)
{
	pf_arena_free(ss->a);
	free(ss->v);
	pf_htab_free(&ss->byid);
}

/* Parse (series_id, label_keys, label_values) rows into ss. */
static int sset_parse(struct sset *ss, const struct pf_buf *out, struct pf_err *err)
{
	struct pf_reader r;
	pf_reader_init(&r, out->data, out->len);
	if (!ss->a) {
		ss->a = pf_arena_new();
		pf_htab_init(&ss->byid, 64);
	}
	while (pf_reader_left(&r) && !r.bad) {
		struct srow sr = {0};
		size_t nk, nv, i;
		uint32_t old;
		sr.id = ch_rb_read_u64(&r);
		nk = ch_rb_read_len(&r, 1);
		sr.labels = pf_arena_alloc(ss->a, (nk + 1) * sizeof(*sr.labels));
		for (i = 0; i < nk && !r.bad; i++)
			sr.labels[i].name = ch_rb_read_strdup(&r, ss->a);
		nv = ch_rb_read_len(&r, 1);
		if (nv != nk)
			r.bad = 1;
		for (i = 0; i < nv && !r.bad; i++)
			sr.labels[i].value = ch_rb_read_strdup(&r, ss->a);
		if (r.bad)
			break;
		sr.n = nk;
		sr.service = "";
		for (i = 0; i < nk; i++)
			if (!strcmp(sr.labels[i].name, "service"))
				sr.service = sr.labels[i].value;
		if (pf_htab_put(&ss->byid, sr.id, (uint32_t)ss->n, &old))
			continue;
		pf_xgrow((void **)&ss->v, &ss->cap, ss->n + 1, sizeof(*ss->v));
		ss->v[ss->n++] = sr;
	}
	return r.bad ? corrupt(err, "series") : 0;
}

/* The series rows of the days of [min_t, max_t] (narrowed by an equality
 * matcher on service or type, the table's sorting key). */
static int load_series(struct ch_store *s, const struct tsdb_matcher *m, size_t nm,
		       int64_t min_t, int64_t max_t, struct sset *ss, const struct tsdb_query *q,
		       struct pf_err *err)
{
	struct pf_buf sql = PF_BUF_INIT(0), out = PF_BUF_INIT(REPLY_MAX);
	int rc;

	pf_buf_printf(&sql, "SELECT series_id, label_keys, label_values FROM series WHERE ");
	where_days(&sql, min_t, max_t);
	for (size_t i = 0; i < nm; i++) {
		if (m[i].op != TSDB_MATCH_EQ ||
		    (strcmp(m[i].name, "service") && strcmp(m[i].name, "type")))
			continue;
		pf_buf_printf(&sql, " AND %s = ", m[i].name);
		ch_sql_quote(&sql, m[i].value, strlen(m[i].value));
	}
	pf_buf_printf(&sql, " LIMIT 1 BY series_id FORMAT RowBinary");
	rc = run(s, &sql, &out, q, err);
	if (rc == 0)
		rc = sset_parse(ss, &out, err);
	pf_buf_free(&sql);
	pf_buf_free(&out);
	return rc;
}

/* The series rows with these ids (of that day when day >= 0). */
static int load_series_ids(struct ch_store *s, const uint64_t *ids, size_t n, int64_t day,
			   struct sset *ss, const struct tsdb_query *q, struct pf_err *err)
{
	struct pf_buf sql = PF_BUF_INIT(0), out = PF_BUF_INIT(REPLY_MAX);
	int rc;

	pf_buf_printf(&sql, "SELECT series_id, label_keys, label_values FROM series WHERE ");
	if (day >= 0) {
		pf_buf_printf(&sql, "day = ");
		ch__put_day(&sql, day);
		pf_buf_printf(&sql, " AND ");
	}
	pf_buf_printf(&sql, "series_id IN (");
	sql_u64_list(&sql, ids, n);
	pf_buf_printf(&sql, ") LIMIT 1 BY series_id FORMAT RowBinary");
	rc = run(s, &sql, &out, q, err);
	if (rc == 0)
		rc = sset_parse(ss, &out, err);
	pf_buf_free(&sql);
	pf_buf_free(&out);
	return rc;
}

/* tsdb__select over the loaded series: a postings source whose series
 * numbers are indexes into ss->v. */
static const char *label_of(const struct srow *sr, const char *name)
{
	size_t lo = 0, hi = sr->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(sr->labels[mid].name, name);
		if (c == 0)
			return sr->labels[mid].value;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void src_pair(void *arg, const char *name, const char *value, struct tsdb__plist *out)
{
	const struct sset *ss = arg;
	out->n = 0;
	for (uint32_t i = 0; i < ss->n; i++) {
		const char *v = label_of(&ss->v[i], name);
		if (v && !strcmp(v, value)) {
			pf_xgrow((void **)&out->ids, &out->cap, out->n + 1, sizeof(uint32_t));
			out->ids[out->n++] = i;
		}
	}
}

static void src_each_value(void *arg, const char *name, tsdb__value_fn fn, void *fnarg)
{
	const struct sset *ss = arg;
	struct pf_map *vals = pf_map_new(16);
	struct tsdb__plist *lists = NULL;
	size_t nl = 0, capl = 0, it = 0;
	const void *k;
	size_t kl;
	uint64_t v;

	for (uint32_t i = 0; i < ss->n; i++) {
		const char *val = label_of(&ss->v[i], name);
		uint64_t idx = nl;
		if (!val)
			continue;
		if (!pf_map_get_or_put(vals, val, strlen(val) + 1, &idx)) {
			pf_xgrow((void **)&lists, &capl, nl + 1, sizeof(*lists));
			memset(&lists[nl++], 0, sizeof(*lists));
		}
		pf_xgrow((void **)&lists[idx].ids, &lists[idx].cap, lists[idx].n + 1, sizeof(uint32_t));
		lists[idx].ids[lists[idx].n++] = i;
	}
	while (pf_map_next(vals, &it, &k, &kl, &v))
		fn(fnarg, k, lists[v].ids, lists[v].n);
	for (size_t i = 0; i < nl; i++)
		tsdb__plist_free(&lists[i]);
	free(lists);
	pf_map_free(vals);
}

/* The series of ss the matchers select (indexes into ss->v, ascending). */
static int select_series(const struct sset *ss, const struct tsdb_matcher *m, size_t nm,
			 struct tsdb__plist *out, struct pf_err *err)
{
	struct tsdb__preds *ps = NULL;
	struct tsdb__psource src = {(void *)ss, (uint32_t)ss->n, src_pair, src_each_value};
	int rc = tsdb__preds_new(m, nm, &ps, err);
	if (rc < 0)
		return rc;
	tsdb__select(&src, ps, out);
	tsdb__preds_free(ps);
	return 0;
}

/* ---- profile keys ------------------------------------------------------- */

/* One selected profile: its key and what find and merge need of it. */
struct prow {
	uint64_t series;
	int64_t t_ns;
	uint32_t seq;
	uint8_t kind;
	uint64_t size;
	size_t ntypes;
	char **types, **units; /* sample types */
	int64_t *totals;
	char *ptype, *punit;
	int64_t period, time_nanos, duration;
	size_t ncomments;
	char **comments;
	char *default_type;
	uint64_t ns;
	uint32_t mult; /* times named (merge by ids) */
	char id[CH_ID_LEN + 1];
};

#define PROW_COLS                                                                            \
	"series_id, t_ns, seq, kind, body_size, sample_types, sample_units, totals, "        \
	"period_type, period_unit, period, time_nanos, duration_nanos, comments, "           \
	"default_sample_type, ns"

static int prow_parse(const struct pf_buf *out, struct pf_arena *a, struct prow **v, size_t *n,
		      struct pf_err *err)
{
	struct pf_reader r;
	size_t cap = 0;
	pf_reader_init(&r, out->data, out->len);
	*v = NULL;
	*n = 0;
	while (pf_reader_left(&r) && !r.bad) {
		struct prow p;
		size_t k, nu, nt;
		memset(&p, 0, sizeof(p));
		p.series = ch_rb_read_u64(&r);
		p.t_ns = ch_rb_read_i64(&r);
		p.seq = ch_rb_read_u32(&r);
		p.kind = ch_rb_read_u8(&r);
		p.size = ch_rb_read_u64(&r);
		p.ntypes = ch_rb_read_len(&r, 1);
		p.types = pf_arena_alloc(a, (p.ntypes + 1) * sizeof(char *));
		for (k = 0; k < p.ntypes && !r.bad; k++)
			p.types[k] = ch_rb_read_strdup(&r, a);
		nu = ch_rb_read_len(&r, 1);
		p.units = pf_arena_alloc(a, (nu + 1) * sizeof(char *));
		for (k = 0; k < nu && !r.bad; k++)
			p.units[k] = ch_rb_read_strdup(&r, a);
		nt = ch_rb_read_len(&r, 8);
		p.totals = pf_arena_alloc(a, (nt + 1) * sizeof(int64_t));
		for (k = 0; k < nt && !r.bad; k++)
			p.totals[k] = ch_rb_read_i64(&r);
		if (nu != p.ntypes || nt != p.ntypes)
			r.bad = 1;
		p.ptype = ch_rb_read_strdup(&r, a);
		p.punit = ch_rb_read_strdup(&r, a);
		p.period = ch_rb_read_i64(&r);
		p.time_nanos = ch_rb_read_i64(&r);
		p.duration = ch_rb_read_i64(&r);
		p.ncomments = ch_rb_read_len(&r, 1);
		p.comments = pf_arena_alloc(a, (p.ncomments + 1) * sizeof(char *));
		for (k = 0; k < p.ncomments && !r.bad; k++)
			p.comments[k] = ch_rb_read_strdup(&r, a);
		p.default_type = ch_rb_read_strdup(&r, a);
		p.ns = ch_rb_read_u64(&r);
		if (r.bad)
			break;
		p.mult = 1;
		tsdb__id_encode(p.series, p.t_ns, p.seq, p.id);
		pf_xgrow((void **)v, &cap, *n + 1, sizeof(**v));
		(*v)[(*n)++] = p;
	}
	if (r.bad) {
		free(*v);
		*v = NULL;
		*n = 0;
		return corrupt(err, "profiles");
	}
	return 0;
}

static int cmp_prow(const void *a, const void *b)
{
	const struct prow *x = a, *y = b;
	if (x->t_ns != y->t_ns)
		return x->t_ns < y->t_ns ? -1 : 1;
	return strcmp(x->id, y->id);
}

/*
 * The profiles q selects: rows ascending by time (ties by id), with their
 * series in ss. With q->ids: those ids, each once, mult = times named.
 * sel_where gets the WHERE clause that selects exactly them (for merge).
 */
static int select_profiles(struct ch_store *s, const struct tsdb_query *q, struct sset *ss,
			   struct pf_arena *a, struct prow **rows, size_t *nrows,
			   struct pf_buf *sel_where, struct pf_err *err)
{
	struct pf_buf sql = PF_BUF_INIT(0), out = PF_BUF_INIT(REPLY_MAX), w = PF_BUF_INIT(0);
	struct tsdb__plist sel = {0};
	uint64_t *sids = NULL;
	size_t nsids = 0;
	int rc = 0;

	*rows = NULL;
	*nrows = 0;
	if (q->ids) {
		/* distinct decodable ids, as (series, t, seq) tuples */
		struct pf_map *seen = pf_map_new(q->nids + 1);
		struct pf_buf days = PF_BUF_INIT(0);
		struct pf_htab dayset;
		size_t nk = 0;
		pf_htab_init(&dayset, 16);
		pf_buf_printf(&w, "(series_id, t_ns, seq) IN (");
		sids = pf_xcalloc(q->nids + 1, sizeof(uint64_t));
		for (size_t i = 0; i < q->nids; i++) {
			uint64_t sr, x = 0;
			int64_t t;
			uint32_t seq;
			if (tsdb__id_decode(q->ids[i], &sr, &t, &seq) < 0 ||
			    pf_map_get_or_put(seen, q->ids[i], CH_ID_LEN, &x))
				continue;
			pf_buf_printf(&w, "%s(%" PRIu64 ",%" PRId64 ",%" PRIu32 ")", nk++ ? "," : "",
				      sr, t, seq);
			sids[nsids++] = sr;
			if (ch_day_of(t) >= 0 && ch_day_of(t) <= 65535 &&
			    !pf_htab_put(&dayset, (uint64_t)ch_day_of(t), 1, &(uint32_t){0})) {
				pf_buf_printf(&days, "%s", days.len ? "," : "");
				ch__put_day(&days, ch_day_of(t));
			}
		}
		pf_map_free(seen);
		pf_htab_free(&dayset);
		if (nk == 0 || days.len == 0) {
			pf_buf_free(&days);
			rc = PF_ENOTFOUND;
			goto done;
		}
		pf_buf_printf(&w, ") AND day IN (%.*s)", (int)days.len, (char *)days.data);
		pf_buf_free(&days);
		if ((rc = load_series_ids(s, sids, nsids, -1, ss, q, err)) < 0) {
			rc = canceled_at(rc, err, "after finding 0 profiles");
			goto done;
		}
	} else {
		if ((rc = load_series(s, q->matchers, q->nmatchers, q->min_t_ns, q->max_t_ns, ss, q,
				      err)) < 0) {
			rc = canceled_at(rc, err, "after finding 0 profiles");
			goto done;
		}
		if ((rc = select_series(ss, q->matchers, q->nmatchers, &sel, err)) < 0)
			goto done;
		if (sel.n == 0)
			goto done;
		sids = pf_xcalloc(sel.n, sizeof(uint64_t));
		for (size_t i = 0; i < sel.n; i++)
			sids[nsids++] = ss->v[sel.ids[i]].id;
		where_days(&w, q->min_t_ns, q->max_t_ns);
		pf_buf_printf(&w, " AND series_id IN (");
		sql_u64_list(&w, sids, nsids);
		pf_buf_printf(&w, ")");
		if (q->min_t_ns != INT64_MIN)
			pf_buf_printf(&w, " AND t_ns >= %" PRId64, q->min_t_ns);
		if (q->max_t_ns != INT64_MAX)
			pf_buf_printf(&w, " AND t_ns <= %" PRId64, q->max_t_ns);
	}
	if (!q->ids && q->series_limit) {
		/* rows deduplicated first, then the newest N of each series */
		pf_buf_printf(&sql,
			      "SELECT " PROW_COLS " FROM (SELECT " PROW_COLS
			      " FROM profiles WHERE %.*s LIMIT 1 BY series_id, t_ns, seq)"
			      " ORDER BY t_ns DESC, series_id DESC, seq DESC LIMIT %zu BY series_id",
			      (int)w.len, (char *)w.data, q->series_limit);
		if (q->limit)
			pf_buf_printf(&sql, " LIMIT %zu", q->limit);
	} else {
		pf_buf_printf(&sql, "SELECT " PROW_COLS " FROM profiles WHERE %.*s", (int)w.len,
			      (char *)w.data);
		if (!q->ids && q->limit)
			pf_buf_printf(&sql, " ORDER BY t_ns DESC, series_id DESC, seq DESC"
					    " LIMIT 1 BY series_id, t_ns, seq LIMIT %zu",
				      q->limit);
		else
			pf_buf_printf(&sql, " LIMIT 1 BY series_id, t_ns, seq");
	}
	pf_buf_printf(&sql, " FORMAT RowBinary");
	if ((rc = run(s, &sql, &out, q, err)) < 0) {
		rc = canceled_at(rc, err, "after finding 0 profiles (in %zu series)", ss->n);
		goto done;
	}
	if ((rc = prow_parse(&out, a, rows, nrows, err)) < 0)
		goto done;
	/* rows of series we do not know (written since, or gone) are left out */
	{
		size_t j = 0;
		for (size_t i = 0; i < *nrows; i++)
			if (pf_htab_get(&ss->byid, (*rows)[i].series, &(uint32_t){0}))
				(*rows)[j++] = (*rows)[i];
		*nrows = j;
	}
	if (q->ids) {
		for (size_t i = 0; i < *nrows; i++) {
			(*rows)[i].mult = 0;
			for (size_t k = 0; k < q->nids; k++)
				if (!strncmp(q->ids[k], (*rows)[i].id, CH_ID_LEN + 1))
					(*rows)[i].mult++;
		}
	}
	if (*nrows > 1) /* qsort(NULL, 0) is undefined */
		qsort(*rows, *nrows, sizeof(**rows), cmp_prow);
	if (sel_where && *nrows) {
		if ((q->limit || q->series_limit) && !q->ids) {
			/* exactly the newest N: their keys */
			pf_buf_reset(sel_where);
			pf_buf_printf(sel_where, "(series_id, t_ns, seq) IN (");
			for (size_t i = 0; i < *nrows; i++)
				pf_buf_printf(sel_where, "%s(%" PRIu64 ",%" PRId64 ",%" PRIu32 ")",
					      i ? "," : "", (*rows)[i].series, (*rows)[i].t_ns,
					      (*rows)[i].seq);
			pf_buf_printf(sel_where, ")");
		} else {
			pf_buf_reset(sel_where);
			pf_buf_append(sel_where, w.data, w.len);
		}
	}
done:
	tsdb__plist_free(&sel);
	free(sids);
	pf_buf_free(&sql);
	pf_buf_free(&out);
	pf_buf_free(&w);
	return rc;
}

/* ---- metas -------------------------------------------------------------- */

struct meta_box {
	struct tsdb_meta m;
	struct pf_arena *a;
};

static void fill_meta(struct tsdb_meta *m, const struct prow *p, const struct srow *sr,
		      struct pf_arena *a)
{
	memcpy(m->id, p->id, sizeof(m->id));
	m->t_ns = p->t_ns;
	m->kind = (enum tsdb_kind)p->kind;
	m->size = (size_t)p->size;
	m->labels = sr->labels;
	m->nlabels = sr->n;
	m->ntotals = p->ntypes;
	m->totals = pf_arena_alloc(a, (p->ntypes + 1) * sizeof(*m->totals));
	for (size_t i = 0; i < p->ntypes; i++) {
		m->totals[i].type = p->types[i];
		m->totals[i].unit = p->units[i];
		m->totals[i].value = p->totals[i];
	}
}

void ch_meta_free(struct tsdb_meta *m)
{
	struct meta_box *b = (struct meta_box *)m;
	if (!m)
		return;
	pf_arena_free(b->a);
	free(b);
}

struct ch_result {
	struct pf_arena *a;
	struct sset ss;
	struct tsdb_meta *v;
	size_t n;
};

size_t ch_result_len(const struct ch_result *r)
{
	return r ? r->n : 0;
}

const struct tsdb_meta *ch_result_at(const struct ch_result *r, size_t i)
{
	return i < r->n ? &r->v[i] : NULL;
}

void ch_result_free(struct ch_result *r)
{
	if (!r)
		return;
	sset_free(&r->ss);
	pf_arena_free(r->a);
	free(r->v);
	free(r);
}

int ch_find(struct ch_store *s, const struct tsdb_query *q, struct ch_result **out,
	    struct pf_err *err)
{
	struct ch_result *r = pf_xcalloc(1, sizeof(*r));
	struct prow *rows = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	r->a = pf_arena_new();
	rc = select_profiles(s, q, &r->ss, r->a, &rows, &n, NULL, err);
	if (rc == PF_ENOTFOUND)
		rc = 0;
	if (rc < 0)
		goto fail;
	if (q->max_profiles && n > q->max_profiles) {
		rc = pf_err_set(err, PF_ELIMIT, "the query selects %zu profiles, over the cap of %zu",
				n, q->max_profiles);
		goto fail;
	}
	r->v = pf_xcalloc(n + 1, sizeof(*r->v));
	for (size_t i = 0; i < n; i++) {
		uint32_t si;
		pf_htab_get(&r->ss.byid, rows[i].series, &si);
		fill_meta(&r->v[r->n++], &rows[i], &r->ss.v[si], r->a);
	}
	free(rows);
	*out = r;
	return 0;
fail:
	free(rows);
	ch_result_free(r);
	return rc;
}

/* ---- series, label values and names ------------------------------------- */

struct ch_series_set {
	struct sset ss;
	struct tsdb_series_info *v;
	size_t n;
};

size_t ch_series_len(const struct ch_series_set *set)
{
	return set ? set->n : 0;
}

const struct tsdb_series_info *ch_series_at(const struct ch_series_set *set, size_t i)
{
	return i < set->n ? &set->v[i] : NULL;
}

void ch_series_free(struct ch_series_set *set)
{
	if (!set)
		return;
	sset_free(&set->ss);
	free(set->v);
	free(set);
}

static int cmp_labelsets(const struct tsdb_label *a, size_t na, const struct tsdb_label *b,
			 size_t nb)
{
	for (size_t i = 0; i < na && i < nb; i++) {
		int c = strcmp(a[i].name, b[i].name);
		if (c)
			return c;
		if ((c = strcmp(a[i].value, b[i].value)))
			return c;
	}
	return na < nb ? -1 : na > nb;
}

static int cmp_info(const void *a, const void *b)
{
	const struct tsdb_series_info *x = a, *y = b;
	return cmp_labelsets(x->labels, x->nlabels, y->labels, y->nlabels);
}

int ch_series(struct ch_store *s, const struct tsdb_query *q, struct ch_series_set **out,
	      struct pf_err *err)
{
	struct ch_series_set *set = pf_xcalloc(1, sizeof(*set));
	struct tsdb__plist sel = {0};
	struct pf_buf sql = PF_BUF_INIT(0), res = PF_BUF_INIT(REPLY_MAX);
	struct pf_reader r;
	int rc;

	*out = NULL;
	if ((rc = load_series(s, q->matchers, q->nmatchers, q->min_t_ns, q->max_t_ns, &set->ss, q,
			      err)) < 0) {
		rc = canceled_at(rc, err, "after finding 0 series");
		goto fail;
	}
	if ((rc = select_series(&set->ss, q->matchers, q->nmatchers, &sel, err)) < 0)
		goto fail;
	set->v = pf_xcalloc(sel.n + 1, sizeof(*set->v));
	if (sel.n == 0) {
		*out = set;
		goto done;
	}
	pf_buf_printf(&sql, "SELECT series_id, count(), min(t_ns), max(t_ns) FROM (SELECT "
			    "series_id, t_ns, seq FROM profiles WHERE ");
	where_days(&sql, q->min_t_ns, q->max_t_ns);
	pf_buf_printf(&sql, " AND series_id IN (");
	for (size_t i = 0; i < sel.n; i++)
		pf_buf_printf(&sql, "%s%" PRIu64, i ? "," : "", set->ss.v[sel.ids[i]].id);
	pf_buf_printf(&sql, ")");
	if (q->min_t_ns != INT64_MIN)
		pf_buf_printf(&sql, " AND t_ns >= %" PRId64, q->min_t_ns);
	if (q->max_t_ns != INT64_MAX)
		pf_buf_printf(&sql, " AND t_ns <= %" PRId64, q->max_t_ns);
	pf_buf_printf(&sql, " LIMIT 1 BY series_id, t_ns, seq) GROUP BY series_id FORMAT RowBinary");
	if ((rc = run(s, &sql, &res, q, err)) < 0) {
		rc = canceled_at(rc, err, "after finding %zu series, before counting their profiles",
				 sel.n);
		goto fail;
	}
	pf_reader_init(&r, res.data, res.len);
	while (pf_reader_left(&r) && !r.bad) {
		uint64_t id = ch_rb_read_u64(&r), cnt = ch_rb_read_u64(&r);
		int64_t t0 = ch_rb_read_i64(&r), t1 = ch_rb_read_i64(&r);
		uint32_t si;
		if (r.bad || !pf_htab_get(&set->ss.byid, id, &si) || set->n >= sel.n)
			continue;
		set->v[set->n++] = (struct tsdb_series_info){set->ss.v[si].labels, set->ss.v[si].n,
							     cnt, t0, t1};
	}
	if (r.bad) {
		rc = corrupt(err, "series");
		goto fail;
	}
	if (set->n > 1)
		qsort(set->v, set->n, sizeof(*set->v), cmp_info);
	*out = set;
	goto done;
fail:
	ch_series_free(set);
done:
	tsdb__plist_free(&sel);
	pf_buf_free(&sql);
	pf_buf_free(&res);
	return rc;
}

void ch_strings_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int read_strings(const struct pf_buf *out, char ***values, size_t *n, struct pf_err *err)
{
	struct pf_reader r;
	size_t cap = 0;
	pf_reader_init(&r, out->data, out->len);
	*values = NULL;
	*n = 0;
	while (pf_reader_left(&r)) {
		size_t l;
		const uint8_t *p = ch_rb_read_str(&r, &l);
		if (r.bad)
			break;
		pf_xgrow((void **)values, &cap, *n + 1, sizeof(char *));
		(*values)[(*n)++] = pf_xstrndup(l ? (const char *)p : "", l);
	}
	if (r.bad) {
		ch_strings_free(*values, *n);
		*values = NULL;
		*n = 0;
		return corrupt(err, "label");
	}
	return 0;
}

int ch_label_values(struct ch_store *s, const char *name, char ***values, size_t *n,
		    struct pf_err *err)
{
	struct pf_buf sql = PF_BUF_INIT(0), out = PF_BUF_INIT(REPLY_MAX);
	int rc;

	pf_buf_printf(&sql, "SELECT DISTINCT label_values[indexOf(label_keys, ");
	ch_sql_quote(&sql, name, strlen(name));
	pf_buf_printf(&sql, ")] AS v FROM series WHERE has(label_keys, ");
	ch_sql_quote(&sql, name, strlen(name));
	pf_buf_printf(&sql, ") ORDER BY v FORMAT RowBinary");
	rc = run(s, &sql, &out, NULL, err);
	if (rc == 0)
		rc = read_strings(&out, values, n, err);
	pf_buf_free(&sql);
	pf_buf_free(&out);
	return rc;
}

int ch_label_names(struct ch_store *s, char ***names, size_t *n, struct pf_err *err)
{
	struct pf_buf sql = PF_BUF_INIT(0), out = PF_BUF_INIT(REPLY_MAX);
	int rc;

	pf_buf_printf(&sql, "SELECT DISTINCT arrayJoin(label_keys) AS k FROM series ORDER BY k "
			    "FORMAT RowBinary");
	rc = run(s, &sql, &out, NULL, err);
	if (rc == 0)
		rc = read_strings(&out, names, n, err);
	pf_buf_free(&sql);
	pf_buf_free(&out);
	return rc;
}

/* ---- symbols ------------------------------------------------------------ */

struct sym_stack {
	uint32_t nloc, nlab;
	uint32_t *locs;
	char **keys, **strs, **units;
	int64_t *nums;
};
struct sym_loc {
	uint32_t mapping;
	uint64_t address;
	uint8_t folded;
	uint32_t nline;
	uint32_t *fns;
	int64_t *lines, *cols;
};
struct sym_fn {
	char *name, *system_name, *filename;
	int64_t start_line;
};
struct sym_map {
	uint64_t start, limit, offset;
	char *filename, *build_id;
	uint8_t flags[4];
};

/* One namespace's symbols fetched for a profile or a merge. */
struct syms {
	struct pf_arena *a;
	struct pf_htab idx[4]; /* id -> index, per kind (map, fn, loc, stack) */
	struct sym_map *maps;
	struct sym_fn *fns;
	struct sym_loc *locs;
	struct sym_stack *stacks;
	size_t n[4], cap[4];
};

enum { S_MAP, S_FN, S_LOC, S_STACK };

static void syms_free(struct syms *y)
{
	pf_arena_free(y->a);
	for (int k = 0; k < 4; k++)
		pf_htab_free(&y->idx[k]);
	free(y->maps);
	free(y->fns);
	free(y->locs);
	free(y->stacks);
}

static void *u32_array(struct pf_reader *r, struct pf_arena *a, uint32_t *n)
{
	size_t l = ch_rb_read_len(r, 4);
	uint32_t *v = pf_arena_alloc(a, (l + 1) * sizeof(uint32_t));
	for (size_t i = 0; i < l && !r->bad; i++)
		v[i] = ch_rb_read_u32(r);
	*n = (uint32_t)l;
	return v;
}

static int64_t *i64_array(struct pf_reader *r, struct pf_arena *a, uint32_t want)
{
	size_t l = ch_rb_read_len(r, 8);
	int64_t *v = pf_arena_alloc(a, (l + 1) * sizeof(int64_t));
	if (l != want)
		r->bad = 1;
	for (size_t i = 0; i < l && !r->bad; i++)
		v[i] = ch_rb_read_i64(r);
	return v;
}

/* want: the length the array must have, or UINT32_MAX for any (*got) */
static char **str_array(struct pf_reader *r, struct pf_arena *a, uint32_t want, uint32_t *got)
{
	size_t l = ch_rb_read_len(r, 1);
	char **v = pf_arena_alloc(a, (l + 1) * sizeof(char *));
	if (want != UINT32_MAX && l != want)
		r->bad = 1;
	if (got)
		*got = (uint32_t)l;
	for (size_t i = 0; i < l && !r->bad; i++)
		v[i] = ch_rb_read_strdup(r, a);
	return v;
}

static const char *const sym_sql[4] = {
	("SELECT mapping_id, memory_start, memory_limit, file_offset, filename, build_id, "
	 "has_functions, has_filenames, has_line_numbers, has_inline_frames FROM mappings"),
	"SELECT func_id, name, system_name, filename, start_line FROM functions",
	"SELECT loc_id, mapping_id, address, is_folded, func_ids, lines, cols FROM locations",
	"SELECT stack_id, loc_ids, label_keys, label_strs, label_nums, label_units FROM stacks",
};
static const char *const sym_id[4] = {"mapping_id", "func_id", "loc_id", "stack_id"};

/* Fetch the symbols of kind in namespace nscond ("day = .. AND service =
 * .. AND ns = ..") whose id column satisfies cond, into y. */
static void syms_init(struct syms *y)
{
	if (!y->a) {
		y->a = pf_arena_new();
		for (int i = 0; i < 4; i++)
			pf_htab_init(&y->idx[i], 256);
	}
}

/* Rows of sym_sql[kind] (RowBinary, untrusted) into y. */
static int parse_syms(int kind, const struct pf_buf *out, struct syms *y, struct pf_err *err)
{
	struct pf_reader r;
	int rc = 0;

	syms_init(y);
	pf_reader_init(&r, out->data, out->len);
	while (pf_reader_left(&r) && !r.bad) {
		uint32_t id = ch_rb_read_u32(&r), old;
		size_t at = y->n[kind];
		switch (kind) {
		case S_MAP: {
			struct sym_map m;
			m.start = ch_rb_read_u64(&r);
			m.limit = ch_rb_read_u64(&r);
			m.offset = ch_rb_read_u64(&r);
			m.filename = ch_rb_read_strdup(&r, y->a);
			m.build_id = ch_rb_read_strdup(&r, y->a);
			for (int f = 0; f < 4; f++)
				m.flags[f] = ch_rb_read_u8(&r);
			pf_xgrow((void **)&y->maps, &y->cap[kind], at + 1, sizeof(m));
			y->maps[at] = m;
			break;
		}
		case S_FN: {
			struct sym_fn f;
			f.name = ch_rb_read_strdup(&r, y->a);
			f.system_name = ch_rb_read_strdup(&r, y->a);
			f.filename = ch_rb_read_strdup(&r, y->a);
			f.start_line = ch_rb_read_i64(&r);
			pf_xgrow((void **)&y->fns, &y->cap[kind], at + 1, sizeof(f));
			y->fns[at] = f;
			break;
		}
		case S_LOC: {
			struct sym_loc l;
			l.mapping = ch_rb_read_u32(&r);
			l.address = ch_rb_read_u64(&r);
			l.folded = ch_rb_read_u8(&r);
			l.fns = u32_array(&r, y->a, &l.nline);
			l.lines = i64_array(&r, y->a, l.nline);
			l.cols = i64_array(&r, y->a, l.nline);
			pf_xgrow((void **)&y->locs, &y->cap[kind], at + 1, sizeof(l));
			y->locs[at] = l;
			break;
		}
		default: {
			struct sym_stack st;
			st.locs = u32_array(&r, y->a, &st.nloc);
			/* the key array's length fixes the others' */
			st.keys = str_array(&r, y->a, UINT32_MAX, &st.nlab);
			st.strs = str_array(&r, y->a, st.nlab, NULL);
			st.nums = i64_array(&r, y->a, st.nlab);
			st.units = str_array(&r, y->a, st.nlab, NULL);
			pf_xgrow((void **)&y->stacks, &y->cap[kind], at + 1, sizeof(st));
			y->stacks[at] = st;
			break;
		}
		}
		if (r.bad)
			break;
		if (!pf_htab_put(&y->idx[kind], id, (uint32_t)at, &old))
			y->n[kind]++;
	}
	if (r.bad)
		rc = corrupt(err, ch__table_name[kind]);
	return rc;
}

static int fetch_syms(struct ch_store *s, const char *nscond, int kind, const char *cond,
		      struct syms *y, const struct tsdb_query *q, struct pf_err *err)
{
	struct pf_buf sql = PF_BUF_INIT(0), out = PF_BUF_INIT(REPLY_MAX);
	int rc;

	syms_init(y);
	pf_buf_printf(&sql, "%s WHERE %s AND (%s) LIMIT 1 BY %s FORMAT RowBinary", sym_sql[kind],
		      nscond, cond, sym_id[kind]);
	if ((rc = run(s, &sql, &out, q, err)) == 0)
		rc = parse_syms(kind, &out, y, err);
	pf_buf_free(&sql);
	pf_buf_free(&out);
	return rc;
}

int ch__parse_reply(int kind, const void *p, size_t n, struct pf_err *err)
{
	struct pf_buf out = {(uint8_t *)p, n, n, 0};
	int rc;

	if (kind == 0) {
		struct sset ss = {0};
		rc = sset_parse(&ss, &out, err);
		sset_free(&ss);
	} else if (kind == 1) {
		struct pf_arena *a = pf_arena_new();
		struct prow *rows = NULL;
		size_t nrows = 0;
		rc = prow_parse(&out, a, &rows, &nrows, err);
		free(rows);
		pf_arena_free(a);
	} else if (kind >= 2 && kind <= 5) {
		struct syms y = {0};
		rc = parse_syms(kind - 2, &out, &y, err);
		syms_free(&y);
	} else {
		rc = pf_err_set(err, PF_EINVAL, "no reply kind %d", kind);
	}
	return rc;
}

/* ---- rebuilding a pprof profile ----------------------------------------- */

struct hdr {
	size_t ntypes;
	char **types, **units;
	const char *ptype, *punit;
	int64_t period, time_nanos, duration;
	const char *drop, *keep, *default_type;
	size_t ncomments;
	char **comments;
	const uint32_t *mapping_ids; /* the profile's mapping list; NULL: first use */
	size_t nmapping;
	const uint32_t *extra_locs, *extra_fns;
	size_t nextra_locs, nextra_fns;
};

struct build {
	const struct syms *y;
	struct pf_arena *a;
	pprof_msg *m;
	struct pf_map *strs;
	char **sv;
	size_t ns, scap;
	struct pf_htab mapm, locm, fnm; /* our id -> output id */
	uint32_t *locs, *fns, *maps;    /* output index -> our id */
	size_t nloc, loccap, nfn, fncap, nmap, mapcap;
};

static int64_t bstr(struct build *b, const char *s)
{
	uint64_t v = b->ns;
	if (!s)
		s = "";
	if (pf_map_get_or_put(b->strs, s, strlen(s), &v))
		return (int64_t)v;
	pf_xgrow((void **)&b->sv, &b->scap, b->ns + 1, sizeof(char *));
	b->sv[b->ns++] = pf_arena_strndup(b->a, s, strlen(s));
	return (int64_t)v;
}

static uint32_t use(struct pf_htab *t, uint32_t **v, size_t *n, size_t *cap, uint32_t id)
{
	uint32_t x;
	if (pf_htab_put(t, id, (uint32_t)*n + 1, &x))
		return x;
	pf_xgrow((void **)v, cap, *n + 1, sizeof(uint32_t));
	(*v)[(*n)++] = id;
	return (uint32_t)*n;
}

static Perftools__Profiles__ValueType *bvt(struct build *b, const char *t, const char *u)
{
	Perftools__Profiles__ValueType *vt = pf_arena_alloc(b->a, sizeof(*vt));
	perftools__profiles__value_type__init(vt);
	vt->type = bstr(b, t);
	vt->unit = bstr(b, u);
	return vt;
}

/*
 * Build a profile from h and samples (stack ids into y, values nt each,
 * times mult). PF_ECORRUPT when a symbol is missing.
 */
static int build_pprof(const struct syms *y, const struct hdr *h, size_t nsamples,
		       const uint32_t *stack_ids, const int64_t *values,
		       struct pprof_profile **out, struct pf_err *err)
{
	struct build b;
	pprof_msg *m;
	size_t i, k, nt = h->ntypes;
	uint32_t x;
	int rc;

	memset(&b, 0, sizeof(b));
	b.y = y;
	b.a = pf_arena_new();
	b.strs = pf_map_new(256);
	pf_htab_init(&b.mapm, 16);
	pf_htab_init(&b.locm, 1024);
	pf_htab_init(&b.fnm, 1024);
	m = b.m = pf_arena_alloc(b.a, sizeof(*m));
	perftools__profiles__profile__init(m);
	bstr(&b, "");

	if (nt) {
		m->sample_type = pf_arena_alloc(b.a, nt * sizeof(*m->sample_type));
		for (i = 0; i < nt; i++)
			m->sample_type[i] = bvt(&b, h->types[i], h->units[i]);
		m->n_sample_type = nt;
	}
	if ((h->ptype && *h->ptype) || (h->punit && *h->punit))
		m->period_type = bvt(&b, h->ptype, h->punit);
	m->period = h->period;
	m->time_nanos = h->time_nanos;
	m->duration_nanos = h->duration;
	m->drop_frames = h->drop && *h->drop ? bstr(&b, h->drop) : 0;
	m->keep_frames = h->keep && *h->keep ? bstr(&b, h->keep) : 0;
	m->default_sample_type = h->default_type && *h->default_type ? bstr(&b, h->default_type) : 0;
	if (h->ncomments) {
		m->comment = pf_arena_alloc(b.a, h->ncomments * sizeof(int64_t));
		for (i = 0; i < h->ncomments; i++)
			m->comment[i] = bstr(&b, h->comments[i]);
		m->n_comment = h->ncomments;
	}
	for (i = 0; i < h->nmapping; i++)
		use(&b.mapm, &b.maps, &b.nmap, &b.mapcap, h->mapping_ids[i]);

	/* samples (locations numbered on first use) */
	if (nsamples) {
		m->sample = pf_arena_alloc(b.a, nsamples * sizeof(*m->sample));
		m->n_sample = nsamples;
	}
	for (i = 0; i < nsamples; i++) {
		Perftools__Profiles__Sample *s = pf_arena_alloc(b.a, sizeof(*s));
		const struct sym_stack *st;
		perftools__profiles__sample__init(s);
		if (!pf_htab_get(&y->idx[S_STACK], stack_ids[i], &x)) {
			rc = pf_err_set(err, PF_ECORRUPT, "clickhouse: stack %" PRIu32 " is missing",
					stack_ids[i]);
			goto fail;
		}
		st = &y->stacks[x];
		if (st->nloc) {
			s->location_id = pf_arena_alloc(b.a, st->nloc * sizeof(uint64_t));
			s->n_location_id = st->nloc;
			for (k = 0; k < st->nloc; k++)
				s->location_id[k] = use(&b.locm, &b.locs, &b.nloc, &b.loccap, st->locs[k]);
		}
		if (nt) {
			s->value = pf_arena_alloc(b.a, nt * sizeof(int64_t));
			memcpy(s->value, values + i * nt, nt * sizeof(int64_t));
			s->n_value = nt;
		}
		if (st->nlab) {
			Perftools__Profiles__Label *lb = pf_arena_alloc(b.a, st->nlab * sizeof(*lb));
			s->label = pf_arena_alloc(b.a, st->nlab * sizeof(*s->label));
			s->n_label = st->nlab;
			for (k = 0; k < st->nlab; k++) {
				perftools__profiles__label__init(&lb[k]);
				lb[k].key = bstr(&b, st->keys[k]);
				lb[k].str = st->strs[k][0] ? bstr(&b, st->strs[k]) : 0;
				lb[k].num = st->nums[k];
				lb[k].num_unit = st->units[k][0] ? bstr(&b, st->units[k]) : 0;
				s->label[k] = &lb[k];
			}
		}
		m->sample[i] = s;
	}
	for (i = 0; i < h->nextra_locs; i++)
		use(&b.locm, &b.locs, &b.nloc, &b.loccap, h->extra_locs[i]);

	/* locations (functions numbered on first use, mappings too when the
	 * profile has no list) */
	if (b.nloc) {
		m->location = pf_arena_alloc(b.a, b.nloc * sizeof(*m->location));
		m->n_location = b.nloc;
	}
	for (i = 0; i < b.nloc; i++) {
		Perftools__Profiles__Location *ol = pf_arena_alloc(b.a, sizeof(*ol));
		const struct sym_loc *sl;
		perftools__profiles__location__init(ol);
		if (!pf_htab_get(&y->idx[S_LOC], b.locs[i], &x)) {
			rc = pf_err_set(err, PF_ECORRUPT, "clickhouse: location %" PRIu32 " is missing",
					b.locs[i]);
			goto fail;
		}
		sl = &y->locs[x];
		ol->id = i + 1;
		ol->address = sl->address;
		ol->is_folded = sl->folded;
		if (sl->mapping) {
			if (h->mapping_ids) {
				if (!pf_htab_get(&b.mapm, sl->mapping, &x)) {
					rc = pf_err_set(err, PF_ECORRUPT,
							"clickhouse: location %" PRIu32
							" refers to mapping %" PRIu32
							", which is not in the profile's list",
							b.locs[i], sl->mapping);
					goto fail;
				}
				ol->mapping_id = x;
			} else {
				ol->mapping_id = use(&b.mapm, &b.maps, &b.nmap, &b.mapcap, sl->mapping);
			}
		}
		if (sl->nline) {
			Perftools__Profiles__Line *ln = pf_arena_alloc(b.a, sl->nline * sizeof(*ln));
			ol->line = pf_arena_alloc(b.a, sl->nline * sizeof(*ol->line));
			ol->n_line = sl->nline;
			for (k = 0; k < sl->nline; k++) {
				perftools__profiles__line__init(&ln[k]);
				ln[k].line = sl->lines[k];
				ln[k].column = sl->cols[k];
				if (sl->fns[k])
					ln[k].function_id = use(&b.fnm, &b.fns, &b.nfn, &b.fncap, sl->fns[k]);
				ol->line[k] = &ln[k];
			}
		}
		m->location[i] = ol;
	}
	for (i = 0; i < h->nextra_fns; i++)
		use(&b.fnm, &b.fns, &b.nfn, &b.fncap, h->extra_fns[i]);

	if (b.nmap) {
		m->mapping = pf_arena_alloc(b.a, b.nmap * sizeof(*m->mapping));
		m->n_mapping = b.nmap;
	}
	for (i = 0; i < b.nmap; i++) {
		Perftools__Profiles__Mapping *om = pf_arena_alloc(b.a, sizeof(*om));
		const struct sym_map *sm;
		perftools__profiles__mapping__init(om);
		if (!pf_htab_get(&y->idx[S_MAP], b.maps[i], &x)) {
			rc = pf_err_set(err, PF_ECORRUPT, "clickhouse: mapping %" PRIu32 " is missing",
					b.maps[i]);
			goto fail;
		}
		sm = &y->maps[x];
		om->id = i + 1;
		om->memory_start = sm->start;
		om->memory_limit = sm->limit;
		om->file_offset = sm->offset;
		om->filename = bstr(&b, sm->filename);
		om->build_id = bstr(&b, sm->build_id);
		om->has_functions = sm->flags[0];
		om->has_filenames = sm->flags[1];
		om->has_line_numbers = sm->flags[2];
		om->has_inline_frames = sm->flags[3];
		m->mapping[i] = om;
	}
	if (b.nfn) {
		m->function = pf_arena_alloc(b.a, b.nfn * sizeof(*m->function));
		m->n_function = b.nfn;
	}
	for (i = 0; i < b.nfn; i++) {
		Perftools__Profiles__Function *of = pf_arena_alloc(b.a, sizeof(*of));
		const struct sym_fn *sf;
		perftools__profiles__function__init(of);
		if (!pf_htab_get(&y->idx[S_FN], b.fns[i], &x)) {
			rc = pf_err_set(err, PF_ECORRUPT, "clickhouse: function %" PRIu32 " is missing",
					b.fns[i]);
			goto fail;
		}
		sf = &y->fns[x];
		of->id = i + 1;
		of->name = bstr(&b, sf->name);
		of->system_name = bstr(&b, sf->system_name);
		of->filename = bstr(&b, sf->filename);
		of->start_line = sf->start_line;
		m->function[i] = of;
	}
	m->string_table = pf_arena_alloc(b.a, b.ns * sizeof(char *));
	memcpy(m->string_table, b.sv, b.ns * sizeof(char *));
	m->n_string_table = b.ns;
	rc = pprof_from_message(b.a, m, out, err);
	b.a = NULL;
	if (rc < 0)
		rc = err ? (err->code = PF_ECORRUPT) : PF_ECORRUPT;
fail:
	pf_arena_free(b.a);
	pf_map_free(b.strs);
	free(b.sv);
	pf_htab_free(&b.mapm);
	pf_htab_free(&b.locm);
	pf_htab_free(&b.fnm);
	free(b.locs);
	free(b.fns);
	free(b.maps);
	return rc;
}

/* " OR col IN (ids)" when there are ids */
static void or_in(struct pf_buf *b, const char *col, const uint32_t *ids, size_t n)
{
	if (!n)
		return;
	pf_buf_printf(b, " OR %s IN (", col);
	for (size_t i = 0; i < n; i++)
		pf_buf_printf(b, "%s%" PRIu32, i ? "," : "", ids[i]);
	pf_buf_printf(b, ")");
}

/*
 * Fetch everything the stacks that stk_in (a subquery listing stack ids)
 * names need, plus the extra locations, functions and the mapping list:
 * stacks, their locations, the locations' functions and mappings. The
 * server follows the references (nested IN subqueries): long literal id
 * lists are slow to parse on 18.16 (1.4 s for 70 000 ids, against 0.2 s).
 */
static int fetch_closure(struct ch_store *s, int64_t day, const char *service, uint64_t ns,
			 const char *stk_in, const uint32_t *mapping_ids, size_t nmapping,
			 const uint32_t *xlocs, size_t nxlocs, const uint32_t *xfns, size_t nxfns,
			 struct syms *y, const struct tsdb_query *q, struct pf_err *err)
{
	struct pf_buf nsc = PF_BUF_INIT(0), stk = PF_BUF_INIT(0), loc = PF_BUF_INIT(0),
		      fn = PF_BUF_INIT(0), map = PF_BUF_INIT(0);
	int rc;

	pf_buf_printf(&nsc, "day = ");
	ch__put_day(&nsc, day);
	pf_buf_printf(&nsc, " AND service = ");
	ch_sql_quote(&nsc, service, strlen(service));
	pf_buf_printf(&nsc, " AND ns = %" PRIu64, ns);
	pf_buf_putc(&nsc, 0);
	pf_buf_printf(&stk, "stack_id IN (%s)", stk_in);
	pf_buf_putc(&stk, 0);
	pf_buf_printf(&loc, "loc_id IN (SELECT arrayJoin(loc_ids) FROM stacks WHERE %s AND %s)",
		      (char *)nsc.data, (char *)stk.data);
	or_in(&loc, "loc_id", xlocs, nxlocs);
	pf_buf_putc(&loc, 0);
	pf_buf_printf(&fn, "func_id IN (SELECT arrayJoin(func_ids) FROM locations WHERE %s AND (%s))",
		      (char *)nsc.data, (char *)loc.data);
	or_in(&fn, "func_id", xfns, nxfns);
	pf_buf_putc(&fn, 0);
	pf_buf_printf(&map, "mapping_id IN (SELECT mapping_id FROM locations WHERE %s AND (%s))",
		      (char *)nsc.data, (char *)loc.data);
	or_in(&map, "mapping_id", mapping_ids, nmapping);
	pf_buf_putc(&map, 0);
	if ((rc = fetch_syms(s, (char *)nsc.data, S_STACK, (char *)stk.data, y, q, err)) == 0 &&
	    (rc = fetch_syms(s, (char *)nsc.data, S_LOC, (char *)loc.data, y, q, err)) == 0 &&
	    (rc = fetch_syms(s, (char *)nsc.data, S_FN, (char *)fn.data, y, q, err)) == 0)
		rc = fetch_syms(s, (char *)nsc.data, S_MAP, (char *)map.data, y, q, err);
	pf_buf_free(&nsc);
	pf_buf_free(&stk);
	pf_buf_free(&loc);
	pf_buf_free(&fn);
	pf_buf_free(&map);
	return rc;
}

/* ---- read by id ---------------------------------------------------------- */

/* ch_read bounded by q (NULL: unbounded; see run()) */
static int read_one(struct ch_store *s, const char *id, struct pf_buf *body,
		    struct tsdb_meta **meta, const struct tsdb_query *q, struct pf_err *err)
{
	struct pf_buf sql = PF_BUF_INIT(0), out = PF_BUF_INIT(REPLY_MAX);
	struct pf_arena *a = pf_arena_new();
	struct sset ss = {0};
	struct syms y = {0};
	struct pprof_profile *p = NULL;
	struct pf_reader r;
	uint64_t series;
	int64_t t_ns, day;
	uint32_t seq, si;
	int rc;

	if (meta)
		*meta = NULL;
	if (tsdb__id_decode(id, &series, &t_ns, &seq) < 0) {
		rc = pf_err_set(err, PF_ENOTFOUND, "no profile with id %.64s", id ? id : "(null)");
		goto done;
	}
	day = ch_day_of(t_ns);
	if (day < 0 || day > 65535) {
		rc = pf_err_set(err, PF_ENOTFOUND, "no profile with id %.64s", id);
		goto done;
	}
	pf_buf_printf(&sql, "SELECT " PROW_COLS ", drop_frames, keep_frames, mapping_ids, "
			    "extra_loc_ids, extra_func_ids, stack_ids, values, raw FROM profiles "
			    "WHERE day = ");
	ch__put_day(&sql, day);
	pf_buf_printf(&sql,
		      " AND series_id = %" PRIu64 " AND t_ns = %" PRId64 " AND seq = %" PRIu32
		      " LIMIT 1 FORMAT RowBinary",
		      series, t_ns, seq);
	if ((rc = run(s, &sql, &out, q, err)) < 0)
		goto done;
	if (out.len == 0) {
		rc = pf_err_set(err, PF_ENOTFOUND, "no profile with id %.64s", id);
		goto done;
	}
	{
		/* the first columns as prow_parse reads them; it stops at the
		 * rest (drop_frames ...), which we read from where it stopped */
		struct prow pr;
		struct hdr h;
		uint32_t nmap, nxl, nxf, nst;
		uint32_t *maps, *xl, *xf, *st;
		int64_t *vals;
		size_t nv, k;
		const uint8_t *raw;
		size_t rawn;

		/* PROW_COLS (as prow_parse reads them), then the rest */
		pf_reader_init(&r, out.data, out.len);
		memset(&pr, 0, sizeof(pr));
		{
			size_t nt, nu, ntt;
			pr.series = ch_rb_read_u64(&r);
			pr.t_ns = ch_rb_read_i64(&r);
			pr.seq = ch_rb_read_u32(&r);
			pr.kind = ch_rb_read_u8(&r);
			pr.size = ch_rb_read_u64(&r);
			nt = ch_rb_read_len(&r, 1);
			pr.types = pf_arena_alloc(a, (nt + 1) * sizeof(char *));
			for (k = 0; k < nt && !r.bad; k++)
				pr.types[k] = ch_rb_read_strdup(&r, a);
			nu = ch_rb_read_len(&r, 1);
			pr.units = pf_arena_alloc(a, (nu + 1) * sizeof(char *));
			for (k = 0; k < nu && !r.bad; k++)
				pr.units[k] = ch_rb_read_strdup(&r, a);
			ntt = ch_rb_read_len(&r, 8);
			pr.totals = pf_arena_alloc(a, (ntt + 1) * sizeof(int64_t));
			for (k = 0; k < ntt && !r.bad; k++)
				pr.totals[k] = ch_rb_read_i64(&r);
			if (nu != nt || ntt != nt)
				r.bad = 1;
			pr.ntypes = nt;
			pr.ptype = ch_rb_read_strdup(&r, a);
			pr.punit = ch_rb_read_strdup(&r, a);
			pr.period = ch_rb_read_i64(&r);
			pr.time_nanos = ch_rb_read_i64(&r);
			pr.duration = ch_rb_read_i64(&r);
			pr.ncomments = ch_rb_read_len(&r, 1);
			pr.comments = pf_arena_alloc(a, (pr.ncomments + 1) * sizeof(char *));
			for (k = 0; k < pr.ncomments && !r.bad; k++)
				pr.comments[k] = ch_rb_read_strdup(&r, a);
			pr.default_type = ch_rb_read_strdup(&r, a);
			pr.ns = ch_rb_read_u64(&r);
			tsdb__id_encode(pr.series, pr.t_ns, pr.seq, pr.id);
		}
		memset(&h, 0, sizeof(h));
		h.drop = ch_rb_read_strdup(&r, a);
		h.keep = ch_rb_read_strdup(&r, a);
		maps = u32_array(&r, a, &nmap);
		xl = u32_array(&r, a, &nxl);
		xf = u32_array(&r, a, &nxf);
		st = u32_array(&r, a, &nst);
		nv = ch_rb_read_len(&r, 1);
		/* each value takes 8 bytes of the reply: bound the allocation */
		if (nv != nst || (pr.ntypes && nst > pf_reader_left(&r) / 8 / pr.ntypes))
			r.bad = 1;
		vals = pf_arena_alloc(a, (r.bad ? 1 : nst * pr.ntypes + 1) * sizeof(int64_t));
		for (k = 0; k < nv && !r.bad; k++) {
			int64_t *row = i64_array(&r, a, (uint32_t)pr.ntypes);
			if (!r.bad) /* (a row of another length set bad) */
				memcpy(vals + k * pr.ntypes, row, pr.ntypes * sizeof(int64_t));
		}
		raw = ch_rb_read_str(&r, &rawn);
		if (r.bad) {
			rc = corrupt(err, "profile");
			goto done;
		}
		/* series labels (for the meta) and service (for the symbols) */
		if ((rc = load_series_ids(s, &series, 1, day, &ss, q, err)) < 0)
			goto done;
		if (!pf_htab_get(&ss.byid, series, &si)) {
			rc = pf_err_set(err, PF_ENOTFOUND, "no profile with id %.64s (its series is gone)",
					id);
			goto done;
		}
		if (pr.kind != TSDB_KIND_PPROF) {
			if (body && (rc = pf_buf_append(body, raw, rawn)) < 0)
				goto done;
		} else if (body) {
			h.ntypes = pr.ntypes;
			h.types = pr.types;
			h.units = pr.units;
			h.ptype = pr.ptype;
			h.punit = pr.punit;
			h.period = pr.period;
			h.time_nanos = pr.time_nanos;
			h.duration = pr.duration;
			h.default_type = pr.default_type;
			h.ncomments = pr.ncomments;
			h.comments = pr.comments;
			h.mapping_ids = maps;
			h.nmapping = nmap;
			h.extra_locs = xl;
			h.nextra_locs = nxl;
			h.extra_fns = xf;
			h.nextra_fns = nxf;
			struct pf_buf in = PF_BUF_INIT(0);
			pf_buf_printf(&in, "SELECT arrayJoin(stack_ids) FROM profiles WHERE day = ");
			ch__put_day(&in, day);
			pf_buf_printf(&in,
				      " AND series_id = %" PRIu64 " AND t_ns = %" PRId64
				      " AND seq = %" PRIu32,
				      series, t_ns, seq);
			pf_buf_putc(&in, 0);
			rc = fetch_closure(s, day, ss.v[si].service, pr.ns, (char *)in.data, maps, nmap,
					   xl, nxl, xf, nxf, &y, q, err);
			pf_buf_free(&in);
			if (rc < 0)
				goto done;
			if ((rc = build_pprof(&y, &h, nst, st, vals, &p, err)) < 0)
				goto done;
			if ((rc = pprof_encode(p, body, err)) < 0)
				goto done;
		}
		if (meta) {
			struct meta_box *mb = pf_xcalloc(1, sizeof(*mb));
			struct srow *sr = &ss.v[si];
			struct tsdb_label *l;
			mb->a = a;
			a = NULL;
			l = pf_arena_alloc(mb->a, (sr->n + 1) * sizeof(*l));
			for (k = 0; k < sr->n; k++) {
				l[k].name = pf_arena_strndup(mb->a, sr->labels[k].name,
							     strlen(sr->labels[k].name));
				l[k].value = pf_arena_strndup(mb->a, sr->labels[k].value,
							      strlen(sr->labels[k].value));
			}
			fill_meta(&mb->m, &pr, &(struct srow){sr->id, l, sr->n, ""}, mb->a);
			*meta = &mb->m;
		}
		rc = 0;
	}
done:
	pprof_free(p);
	syms_free(&y);
	sset_free(&ss);
	pf_arena_free(a);
	pf_buf_free(&sql);
	pf_buf_free(&out);
	return rc;
}

int ch_read(struct ch_store *s, const char *id, struct pf_buf *body, struct tsdb_meta **meta,
	    struct pf_err *err)
{
	return read_one(s, id, body, meta, NULL, err);
}

/* ---- merge --------------------------------------------------------------- */

/* Summed samples of one namespace. */
struct nsagg {
	uint64_t ns;
	int64_t day;
	const char *service;
	struct pf_htab sidx; /* stack id -> sample index */
	uint32_t *sids;
	int64_t *vals;
	size_t n, cap, vcap;
	struct hdr h;
	char **comments;
	size_t ncomments, ccap;
	int has_time;
};

static struct nsagg *agg_get(struct nsagg **v, size_t *n, size_t *cap, uint64_t ns)
{
	for (size_t i = 0; i < *n; i++)
		if ((*v)[i].ns == ns)
			return &(*v)[i];
	pf_xgrow((void **)v, cap, *n + 1, sizeof(**v));
	memset(&(*v)[*n], 0, sizeof(**v));
	(*v)[*n].ns = ns;
	pf_htab_init(&(*v)[*n].sidx, 256);
	return &(*v)[(*n)++];
}

static int same_types(const struct prow *a, const struct prow *b)
{
	if (a->ntypes != b->ntypes || strcmp(a->ptype, b->ptype) || strcmp(a->punit, b->punit))
		return 0;
	for (size_t i = 0; i < a->ntypes; i++)
		if (strcmp(a->types[i], b->types[i]) || strcmp(a->units[i], b->units[i]))
			return 0;
	return 1;
}

static void types_str(const struct prow *p, char *out, size_t n)
{
	size_t j = 0;
	out[0] = 0;
	for (size_t i = 0; i < p->ntypes && j + 1 < n; i++) {
		int w = snprintf(out + j, n - j, "%s%s/%s", i ? " " : "", p->types[i], p->units[i]);
		if (w < 0)
			break;
		j += (size_t)w;
	}
}

/*
 * The merge of the profiles select_profiles chose: rc its result, ss and
 * rows what it found, w its WHERE condition on profiles (the caller frees
 * them). As ch_merge.
 */
static int merge_selected(struct ch_store *s, const struct tsdb_query *q, int rc,
			  const struct sset *ss, const struct prow *rows, size_t nrows,
			  const struct pf_buf *w, struct pprof_profile **out, size_t *n,
			  struct pf_err *err)
{
	struct pf_buf sql = PF_BUF_INIT(0), res = PF_BUF_INIT(REPLY_MAX);
	struct nsagg *agg = NULL;
	struct pprof_merger *mg = NULL;
	size_t nagg = 0, capagg = 0, total = 0, i, k, nt;
	struct pf_reader r;
	int by_key;

	*out = NULL;
	if (n)
		*n = 0;
	if (rc == PF_ENOTFOUND || (rc == 0 && nrows == 0)) {
		rc = pf_err_set(err, PF_ENOTFOUND, "no profiles found");
		goto done;
	}
	if (rc < 0)
		goto done;
	for (i = 0; i < nrows; i++) {
		char t0[256], t1[256];
		total += rows[i].mult;
		if (rows[i].kind != TSDB_KIND_PPROF) {
			uint32_t si;
			const char *type = "?";
			if (pf_htab_get(&ss->byid, rows[i].series, &si))
				type = label_of(&ss->v[si], "type");
			rc = pf_err_set(err, PF_EINVAL, "can't merge profiles of %s type",
					type ? type : "?");
			goto done;
		}
		if (!same_types(&rows[0], &rows[i])) {
			types_str(&rows[0], t0, sizeof(t0));
			types_str(&rows[i], t1, sizeof(t1));
			rc = pf_err_set(err, PF_EMISMATCH, "sample types differ: [%s] and [%s]", t0, t1);
			goto done;
		}
	}
	if (q->max_profiles && total > q->max_profiles) {
		rc = pf_err_set(err, PF_ELIMIT, "the query selects %zu profiles, over the cap of %zu",
				total, q->max_profiles);
		goto done;
	}
	nt = rows[0].ntypes;

	/* headers per namespace (earliest non-zero time, summed duration,
	 * largest period, comments in order, first default type) */
	for (i = 0; i < nrows; i++) {
		const struct prow *p = &rows[i];
		struct nsagg *g = agg_get(&agg, &nagg, &capagg, p->ns);
		uint32_t si;
		pf_htab_get(&ss->byid, p->series, &si);
		if (!g->service) {
			g->service = ss->v[si].service;
			g->day = ch_day_of(p->t_ns);
			g->h.ntypes = nt;
			g->h.types = p->types;
			g->h.units = p->units;
			g->h.ptype = p->ptype;
			g->h.punit = p->punit;
			g->h.default_type = p->default_type;
		}
		if (p->time_nanos && (!g->has_time || p->time_nanos < g->h.time_nanos)) {
			g->h.time_nanos = p->time_nanos;
			g->has_time = 1;
		}
		g->h.duration += p->duration * p->mult;
		g->h.period = PF_MAX(g->h.period, p->period);
		for (k = 0; k < p->ncomments; k++) {
			size_t c;
			for (c = 0; c < g->ncomments; c++)
				if (!strcmp(g->comments[c], p->comments[k]))
					break;
			if (c == g->ncomments) {
				pf_xgrow((void **)&g->comments, &g->ccap, g->ncomments + 1, sizeof(char *));
				g->comments[g->ncomments++] = p->comments[k];
			}
		}
	}

	/* the sums: per (ns, stack); per profile too when ids repeat */
	by_key = 0;
	for (i = 0; i < nrows; i++)
		by_key |= rows[i].mult != 1;
	pf_buf_printf(&sql, "SELECT %sns, sid, sumForEach(v) FROM (SELECT series_id, t_ns, seq, ns, "
			    "stack_ids, values FROM profiles WHERE %.*s LIMIT 1 BY series_id, t_ns, "
			    "seq) ARRAY JOIN stack_ids AS sid, values AS v GROUP BY %sns, sid "
			    "FORMAT RowBinary",
		      by_key ? "series_id, t_ns, seq, " : "", (int)w->len, (char *)w->data,
		      by_key ? "series_id, t_ns, seq, " : "");
	if ((rc = run(s, &sql, &res, q, err)) < 0) {
		rc = canceled_at(rc, err, "after finding %zu profiles, before summing them", nrows);
		goto done;
	}
	pf_reader_init(&r, res.data, res.len);
	while (pf_reader_left(&r) && !r.bad) {
		uint64_t mult = 1, ns;
		uint32_t sid, x;
		size_t nv;
		struct nsagg *g;
		if (by_key) {
			uint64_t sr = ch_rb_read_u64(&r);
			int64_t t = ch_rb_read_i64(&r);
			uint32_t seq = ch_rb_read_u32(&r);
			mult = 0;
			for (k = 0; k < nrows; k++)
				if (rows[k].series == sr && rows[k].t_ns == t && rows[k].seq == seq)
					mult = rows[k].mult;
		}
		ns = ch_rb_read_u64(&r);
		sid = ch_rb_read_u32(&r);
		nv = ch_rb_read_len(&r, 8);
		if (r.bad || nv != nt) {
			r.bad = 1;
			break;
		}
		g = agg_get(&agg, &nagg, &capagg, ns);
		if (!pf_htab_put(&g->sidx, sid, (uint32_t)g->n, &x)) {
			x = (uint32_t)g->n++;
			pf_xgrow((void **)&g->sids, &g->cap, g->n, sizeof(uint32_t));
			pf_xgrow((void **)&g->vals, &g->vcap, g->n * nt + 1, sizeof(int64_t));
			g->sids[x] = sid;
			memset(g->vals + (size_t)x * nt, 0, nt * sizeof(int64_t));
		}
		for (k = 0; k < nv; k++)
			g->vals[(size_t)x * nt + k] += ch_rb_read_i64(&r) * (int64_t)mult;
	}
	if (r.bad) {
		rc = corrupt(err, "merge");
		goto done;
	}

	/* one profile per namespace, folded together */
	mg = pprof_merger_new();
	for (i = 0; i < nagg; i++) {
		struct nsagg *g = &agg[i];
		struct syms y = {0};
		struct pprof_profile *p = NULL;
		if (!g->service)
			continue; /* a namespace of no selected profile: cannot happen */
		g->h.comments = g->comments;
		g->h.ncomments = g->ncomments;
		pf_buf_reset(&sql);
		pf_buf_printf(&sql, "SELECT arrayJoin(stack_ids) FROM profiles WHERE (%.*s) AND ns = %" PRIu64,
			      (int)w->len, (char *)w->data, g->ns);
		pf_buf_putc(&sql, 0);
		rc = fetch_closure(s, g->day, g->service, g->ns, (char *)sql.data, NULL, 0, NULL, 0,
				   NULL, 0, &y, q, err);
		rc = canceled_at(rc, err,
				 "after summing %zu profiles, with the symbols of %zu of %zu namespaces",
				 nrows, i, nagg);
		if (rc == 0)
			rc = build_pprof(&y, &g->h, g->n, g->sids, g->vals, &p, err);
		if (rc == 0)
			rc = pprof_merger_add(mg, p, err);
		pprof_free(p);
		syms_free(&y);
		if (rc < 0)
			goto done;
	}
	if (gave_up(q)) {
		rc = pf_err_set(err, PF_ECANCELED,
				"stopped after summing %zu profiles, before folding their %zu namespaces",
				nrows, nagg);
		goto done;
	}
	rc = pprof_merger_finish(mg, out, err);
	if (rc == 0 && n)
		*n = total;
done:
	pprof_merger_free(mg);
	for (i = 0; i < nagg; i++) {
		pf_htab_free(&agg[i].sidx);
		free(agg[i].sids);
		free(agg[i].vals);
		free(agg[i].comments);
	}
	free(agg);
	pf_buf_free(&sql);
	pf_buf_free(&res);
	return rc;
}

int ch_merge(struct ch_store *s, const struct tsdb_query *q, struct pprof_profile **out,
	     size_t *n, struct pf_err *err)
{
	struct pf_buf w = PF_BUF_INIT(0);
	struct pf_arena *a = pf_arena_new();
	struct sset ss = {0};
	struct prow *rows = NULL;
	size_t nrows = 0;
	int rc;

	rc = select_profiles(s, q, &ss, a, &rows, &nrows, &w, err);
	rc = merge_selected(s, q, rc, &ss, rows, nrows, &w, out, n, err);
	free(rows);
	sset_free(&ss);
	pf_arena_free(a);
	pf_buf_free(&w);
	return rc;
}

int ch_merge_encoded(struct ch_store *s, const struct tsdb_query *q, struct pf_buf *gz, size_t *n,
		     struct pf_err *err)
{
	struct pprof_profile *p = NULL;
	struct pf_arena *a = pf_arena_new();
	struct pf_buf w = PF_BUF_INIT(0);
	struct sset ss = {0};
	struct prow *rows = NULL;
	size_t nrows = 0;
	int rc;

	if (n)
		*n = 0;
	/* one profile named once: read it whole; else the merge of what was
	 * selected (not selected again). An error is final (a timeout must
	 * not send the query again); not found is merge_selected's to word */
	rc = select_profiles(s, q, &ss, a, &rows, &nrows, &w, err);
	if (rc < 0 && rc != PF_ENOTFOUND)
		goto done;
	if (rc == 0 && nrows == 1 && rows[0].mult == 1 && rows[0].kind == TSDB_KIND_PPROF &&
	    (!q->max_profiles || q->max_profiles >= 1)) {
		rc = read_one(s, rows[0].id, gz, NULL, q, err);
		rc = canceled_at(rc, err, "after reading 0 of 1 profiles");
		if (rc == 0 && n)
			*n = 1;
		goto done;
	}
	rc = merge_selected(s, q, rc, &ss, rows, nrows, &w, &p, n, err);
	if (rc == 0 && gave_up(q))
		rc = pf_err_set(err, PF_ECANCELED, "stopped after merging %zu profiles, before encoding",
				n ? *n : 0);
	if (rc == 0)
		rc = pprof_encode(p, gz, err);
done:
	pprof_free(p);
	free(rows);
	sset_free(&ss);
	pf_arena_free(a);
	pf_buf_free(&w);
	return rc;
}

/* ---- retention ----------------------------------------------------------- */

static int tsv_u64(struct ch_store *s, const char *sql, uint64_t *v, struct pf_err *err)
{
	struct pf_buf out = PF_BUF_INIT(1 << 16), f = PF_BUF_INIT(1 << 16);
	const char *p, *end;
	int last, rc = ch_query(s->c, 1, sql, NULL, 0, &out, err);
	if (rc == 0) {
		p = (const char *)out.data;
		end = p + out.len;
		if (!p || ch_tsv_field(&p, end, &f, &last) < 0 || !f.len)
			rc = corrupt(err, "retention");
		else
			*v = strtoull((char *)f.data, NULL, 10);
	}
	pf_buf_free(&out);
	pf_buf_free(&f);
	return rc;
}

/* (table, day) of every active part, days ascending, with bytes. */
struct part {
	char table[32];
	int64_t day;
	uint64_t bytes;
};

static int list_parts(struct ch_store *s, struct part **v, size_t *n, struct pf_err *err)
{
	struct pf_buf sql = PF_BUF_INIT(0), out = PF_BUF_INIT(REPLY_MAX), f = PF_BUF_INIT(1024);
	const char *p, *end;
	size_t cap = 0;
	int rc, last;

	*v = NULL;
	*n = 0;
	pf_buf_printf(&sql, "SELECT table, toUInt16(min_date), sum(bytes_on_disk) FROM system.parts "
			    "WHERE active AND database = ");
	ch_sql_quote(&sql, ch_client_database(s->c), strlen(ch_client_database(s->c)));
	pf_buf_printf(&sql, " AND table IN ('series', 'profiles', 'stacks', 'locations', "
			    "'functions', 'mappings') GROUP BY table, min_date ORDER BY min_date "
			    "FORMAT TSV");
	if ((rc = run(s, &sql, &out, NULL, err)) < 0)
		goto done;
	p = (const char *)out.data;
	end = p ? p + out.len : p;
	while (p && p < end) {
		struct part pt = {0};
		if (ch_tsv_field(&p, end, &f, &last) < 0 || last || f.len >= sizeof(pt.table))
			break;
		memcpy(pt.table, f.data, f.len);
		if (ch_tsv_field(&p, end, &f, &last) < 0 || last)
			break;
		pt.day = strtoll((char *)f.data, NULL, 10);
		if (ch_tsv_field(&p, end, &f, &last) < 0 || !last)
			break;
		pt.bytes = strtoull((char *)f.data, NULL, 10);
		pf_xgrow((void **)v, &cap, *n + 1, sizeof(**v));
		(*v)[(*n)++] = pt;
	}
	if (p && p < end)
		rc = corrupt(err, "system.parts");
done:
	pf_buf_free(&sql);
	pf_buf_free(&out);
	pf_buf_free(&f);
	return rc;
}

static int drop_day(struct ch_store *s, const struct part *v, size_t n, int64_t day,
		    struct pf_err *err)
{
	struct pf_buf sql = PF_BUF_INIT(0);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (v[i].day != day)
			continue;
		pf_buf_reset(&sql);
		pf_buf_printf(&sql, "ALTER TABLE %s DROP PARTITION ", v[i].table);
		ch__put_day(&sql, day);
		rc = run(s, &sql, NULL, NULL, err);
	}
	if (rc == 0) { /* the day as its partition is named (2026-11-20), not its number */
		char d[16] = "?";
		time_t t = (time_t)(day * 86400);
		struct tm tm;
		if (gmtime_r(&t, &tm))
			strftime(d, sizeof(d), "%Y-%m-%d", &tm);
		pf_log(PF_LOG_INFO, "clickhouse retention dropped a day", "day", d, NULL);
	}
	pf_buf_free(&sql);
	return rc;
}

int ch__newest(struct ch_store *s, int64_t *newest, struct pf_err *err)
{
	uint64_t n = 0, t = 0;
	int rc = tsv_u64(s, "SELECT count() FROM profiles FORMAT TSV", &n, err);
	if (rc == 0 && n)
		rc = tsv_u64(s, "SELECT max(t_ns) FROM profiles FORMAT TSV", &t, err);
	if (rc == 0)
		*newest = n ? (int64_t)t : INT64_MIN;
	return rc;
}

int ch_retain(struct ch_store *s, int64_t retention_ns, int64_t max_future_ns,
	      uint64_t retention_bytes, size_t *dropped, struct pf_err *err)
{
	struct part *v = NULL;
	size_t n = 0, i, nd = 0;
	uint64_t newest = 0, total = 0;
	int64_t cutoff = INT64_MIN, last_day = -1, newest_day;
	int rc;

	if (dropped)
		*dropped = 0;
	{
		int64_t nw;
		if ((rc = ch__newest(s, &nw, err)) < 0)
			return rc;
		newest = nw == INT64_MIN ? 0 : (uint64_t)nw;
		pthread_mutex_lock(&s->mu);
		if (nw != INT64_MIN && (s->newest_t == INT64_MIN || nw > s->newest_t))
			s->newest_t = nw;
		pthread_mutex_unlock(&s->mu);
	}
	if ((rc = list_parts(s, &v, &n, err)) < 0)
		return rc;
	if (max_future_ns > 0 && (int64_t)newest > pf_now_ns() + max_future_ns)
		newest = (uint64_t)(pf_now_ns() + max_future_ns);
	newest_day = ch_day_of((int64_t)newest);
	if (retention_ns > 0 && newest)
		cutoff = ch_day_of((int64_t)newest - retention_ns);
	for (i = 0; i < n; i++)
		total += v[i].bytes;
	for (i = 0; i < n; i++) {
		int by_time = v[i].day < cutoff;
		int by_size = retention_bytes && total > retention_bytes && v[i].day < newest_day;
		if (v[i].day == last_day || (!by_time && !by_size))
			continue;
		if ((rc = drop_day(s, v, n, v[i].day, err)) < 0)
			break;
		for (size_t k = 0; k < n; k++)
			if (v[k].day == v[i].day)
				total -= v[k].bytes;
		last_day = v[i].day;
		nd++;
	}
	free(v);
	if (dropped)
		*dropped = nd;
	return rc;
}
