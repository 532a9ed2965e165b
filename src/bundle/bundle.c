/*
 * Autoprof bundles on libzip: the reader (bundle_read), the duplicate check
 * (bundle_digest, bundle_stored) and the writer. See bundle.h.
 */
#include "bundle/bundle.h"
#include "ingest/ingest.h"
#include "pprof/stream.h"

#include <ctype.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <xxhash.h>
#include <zip.h>

#define META_MAX (1 << 20) /* bytes of the meta entry */
#define MAX_LABEL_VALUE 1024
#define MAX_LABELS 64

static const char *const builtin_types[] = {
	"cpu", "heap", "allocs", "block", "mutex", "goroutine", "threadcreate", "trace", "other",
	"unknown",
};

struct bundle {
	struct pf_arena *arena;
	struct bundle_meta meta;
	struct bundle_profile *profiles;
	size_t nprofiles, profiles_cap;
	struct bundle_skip *skipped;
	size_t nskipped, skipped_cap;
	void **bodies; /* malloc'd entry bodies the profiles point into */
	size_t nbodies, bodies_cap;
	/* bundle_read_one: the inflated body its profile's plain points into
	 * (charged to -max-inflight-decompressed until bundle_free) */
	struct pprof_inflated inflated;
	int keep_plain;
};

/* ---- names ------------------------------------------------------------ */

int bundle_entry_name(const char *raw, char *out, size_t n, struct pf_err *err)
{
	const char *p = raw;
	size_t len;

	while (p[0] == '.' && p[1] == '/')
		p += 2;
	len = strlen(p);
	if (len == 0)
		return pf_err_set(err, PF_EINVAL, "empty entry name");
	if (p[0] == '/' || (isalpha((unsigned char)p[0]) && p[1] == ':'))
		return pf_err_set(err, PF_EINVAL, "absolute entry name");
	if (strchr(p, '\\'))
		return pf_err_set(err, PF_EINVAL, "entry name holds a backslash");
	for (const char *s = p; *s;) {
		const char *e = strchr(s, '/');
		size_t el = e ? (size_t)(e - s) : strlen(s);
		if (el == 2 && s[0] == '.' && s[1] == '.')
			return pf_err_set(err, PF_EINVAL, "entry name has a \"..\" element");
		s += el;
		if (*s == '/')
			s++;
	}
	if (len + 1 > n)
		return pf_err_set(err, PF_EINVAL, "entry name longer than %zu bytes", n - 1);
	memcpy(out, p, len + 1);
	return 0;
}

int bundle_entry_type(const char *esc, char *type, int *during_trace, struct pf_err *err)
{
	char name[BUNDLE_MAX_TYPE + 1];
	size_t n = 0;

	*during_trace = 0;
	for (const char *p = esc; *p; p++) {
		int c = (unsigned char)*p;
		if (c == '%') {
			int hi = pf_hexval(p[1]), lo = hi < 0 ? -1 : pf_hexval(p[2]);
			if (hi < 0 || lo < 0)
				return pf_err_set(err, PF_EINVAL, "bad %%-escape in profile name \"%.64s\"", esc);
			c = hi * 16 + lo;
			p += 2;
		}
		if (n < BUNDLE_MAX_TYPE)
			name[n++] = (char)c;
	}
	name[n] = 0;
	if (n == 0)
		return pf_err_set(err, PF_EINVAL, "empty profile name");
	if (strcmp(name, "profile") == 0 || strcmp(name, "profile-during-trace") == 0) {
		*during_trace = name[7] != 0;
		memcpy(type, "cpu", 4);
		return 0;
	}
	for (size_t i = 0; i < 6; i++) { /* heap .. threadcreate, and trace */
		static const char *const same[] = {"heap", "allocs", "block", "goroutine", "mutex",
						   "threadcreate"};
		if (strcmp(name, same[i]) == 0) {
			memcpy(type, name, n + 1);
			return 0;
		}
	}
	if (strcmp(name, "trace") == 0) {
		memcpy(type, "trace", 6);
		return 0;
	}
	/* a custom profile: SPEC §1's [a-z0-9_.-]+ */
	for (size_t i = 0; i < n; i++) {
		int c = tolower((unsigned char)name[i]);
		name[i] = (char)(((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
				  c == '-' || c == '_') ? c : '_');
	}
	type[0] = 0;
	for (size_t i = 0; i < PF_ARRAY_LEN(builtin_types); i++)
		if (strcmp(name, builtin_types[i]) == 0)
			memcpy(type, "custom_", 8);
	memcpy(type + strlen(type), name, n + 1);
	return 0;
}

void bundle_type_entry(const char *type, int during_trace, char *out, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o;

	if (strcmp(type, "cpu") == 0) {
		snprintf(out, n, "pprof/%s", during_trace ? "profile-during-trace" : "profile");
		return;
	}
	o = (size_t)snprintf(out, n, "pprof/");
	/* url.PathEscape: our types are [a-z0-9_.-], kept as they are */
	for (const char *p = type; *p && o + 4 < n; p++) {
		int c = (unsigned char)*p;
		if (isalnum(c) || strchr("-_.~$&+:=@", c)) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o < n ? o : n - 1] = 0;
}

/* ---- the digest ------------------------------------------------------- */

static void put_u64(struct pf_buf *b, uint64_t v)
{
	if (pf_buf_append(b, &v, sizeof(v)) < 0)
		abort();
}

static void put_str(struct pf_buf *b, const char *s)
{
	size_t n = strlen(s);
	put_u64(b, n);
	if (pf_buf_append(b, s, n) < 0)
		abort();
}

/* The hash of one location: its address and lines (function name, system
 * name, file name, line number), not its id. */
static uint64_t location_hash(const struct pprof_profile *p, const Perftools__Profiles__Location *loc,
			      struct pf_buf *b)
{
	const pprof_msg *m = pprof_message(p);

	pf_buf_reset(b);
	put_u64(b, loc->address);
	put_u64(b, loc->n_line);
	for (size_t k = 0; k < loc->n_line; k++) {
		int64_t fi = pprof_function_index(p, loc->line[k]->function_id);
		const Perftools__Profiles__Function *f = fi >= 0 ? m->function[fi] : NULL;
		put_str(b, f ? pprof_string(p, f->name) : "");
		put_str(b, f ? pprof_string(p, f->system_name) : "");
		put_str(b, f ? pprof_string(p, f->filename) : "");
		put_u64(b, (uint64_t)loc->line[k]->line);
	}
	return XXH3_64bits(b->data, b->len);
}

uint64_t bundle_digest_profile(const struct pprof_profile *p)
{
	const pprof_msg *m = pprof_message(p);
	struct pf_buf b = PF_BUF_INIT(0);
	uint64_t acc = 0, *lh;

	for (size_t i = 0; i < m->n_sample_type; i++) {
		put_str(&b, pprof_string(p, m->sample_type[i]->type));
		put_str(&b, pprof_string(p, m->sample_type[i]->unit));
	}
	if (m->period_type) {
		put_str(&b, pprof_string(p, m->period_type->type));
		put_str(&b, pprof_string(p, m->period_type->unit));
	}
	put_u64(&b, (uint64_t)m->period);
	put_u64(&b, (uint64_t)m->time_nanos);
	put_u64(&b, (uint64_t)m->duration_nanos);
	put_str(&b, pprof_string(p, m->default_sample_type));
	for (size_t i = 0; i < m->n_comment; i++)
		put_str(&b, pprof_string(p, m->comment[i]));
	put_u64(&b, m->n_sample);
	acc = XXH3_64bits(b.data, b.len);

	/* each location hashed once: samples share them */
	lh = pf_xcalloc(m->n_location ? m->n_location : 1, sizeof(*lh));
	for (size_t i = 0; i < m->n_location; i++)
		lh[i] = location_hash(p, m->location[i], &b);

	/* samples in any order: the sum of their hashes */
	for (size_t i = 0; i < m->n_sample; i++) {
		const Perftools__Profiles__Sample *s = m->sample[i];
		uint64_t lsum = 0;

		pf_buf_reset(&b);
		for (size_t j = 0; j < s->n_value; j++)
			put_u64(&b, (uint64_t)s->value[j]);
		for (size_t j = 0; j < s->n_location_id; j++) {
			int64_t li = pprof_location_index(p, s->location_id[j]);
			put_u64(&b, li >= 0 ? lh[li] : UINT64_MAX);
		}
		/* labels in any order too */
		for (size_t j = 0; j < s->n_label; j++) {
			const Perftools__Profiles__Label *l = s->label[j];
			struct pf_buf lb = PF_BUF_INIT(0);
			put_str(&lb, pprof_string(p, l->key));
			put_str(&lb, pprof_string(p, l->str));
			put_u64(&lb, (uint64_t)l->num);
			put_str(&lb, pprof_string(p, l->num_unit));
			lsum += XXH3_64bits(lb.data, lb.len);
			pf_buf_free(&lb);
		}
		put_u64(&b, lsum);
		acc += XXH3_64bits(b.data, b.len);
	}
	free(lh);
	pf_buf_free(&b);
	return acc;
}

/* ---- one pass over a pprof body: totals, time and digest ---------------- */

/*
 * What bundle_read needs of a pprof body, from one pass of the streaming
 * decoder (src/pprof/stream.h: the checks and sentences of pprof_decode,
 * no protobuf-c tree): the sample count, the totals per sample type, the
 * time and bundle_digest_profile's digest, the same bytes hashed in the
 * same way (the unit tests compare the two on every fixture).
 */

/* Ids to indexes: 1..n in order (as the Go runtime writes them) without a
 * table, any other ids in a pf_htab. */
struct scan_ids {
	int sparse;
	size_t n;
	struct pf_htab t;
};

static void ids_add(struct scan_ids *x, uint64_t id)
{
	uint32_t old;

	if (!x->sparse && id == x->n + 1) {
		x->n++;
		return;
	}
	if (!x->sparse) {
		x->sparse = 1;
		pf_htab_init(&x->t, x->n + 16);
		for (size_t i = 0; i < x->n; i++)
			pf_htab_set(&x->t, i + 1, (uint32_t)i);
	}
	pf_htab_put(&x->t, id, (uint32_t)x->n, &old); /* a duplicate fails the decode */
	x->n++;
}

static int64_t ids_find(const struct scan_ids *x, uint64_t id)
{
	uint32_t v;

	if (id == 0)
		return -1;
	if (!x->sparse)
		return id <= x->n ? (int64_t)id - 1 : -1;
	return pf_htab_get(&x->t, id, &v) ? (int64_t)v : -1;
}

/* The bytes hashed, as put_u64 and put_str lay them out. */
struct hbuf {
	uint8_t *p;
	size_t len, cap;
};

static void hb_need(struct hbuf *b, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (!b->p)
			abort();
		b->cap = cap;
	}
}

static inline void hb_u64(struct hbuf *b, uint64_t v)
{
	hb_need(b, 8);
	memcpy(b->p + b->len, &v, 8);
	b->len += 8;
}

static inline void hb_str(struct hbuf *b, const char *s, size_t n)
{
	hb_u64(b, n);
	hb_need(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

struct scan {
	struct pf_arena *arena; /* the sample types' names go here (NULL: not kept) */
	int no_digest;          /* totals and time only */
	/* the header, kept until the strings are known */
	size_t nst, ncomment;
	int64_t *st, *comment, ptype[2], period, time_nanos, duration_nanos, dflt;
	int has_ptype, header_done;
	/* strings: pointers into the inflated body, valid during the decode */
	const char **s;
	size_t *slen, ns;
	/* functions: name, system name, file name (string indexes) */
	int64_t (*fn)[3];
	struct scan_ids fids;
	/* locations: each one's hash */
	uint64_t *lh;
	struct scan_ids lids;
	/* out */
	size_t nsample;
	int64_t *totals;
	struct tsdb_total *tt; /* in arena: type, unit, value */
	uint64_t acc;
	struct hbuf b, lb;
};

/* string_table[idx] as pprof_string gives it (a C string: up to a NUL) */
static const char *scan_str(const struct scan *sc, int64_t idx, size_t *n)
{
	if (idx < 0 || (uint64_t)idx >= sc->ns || !sc->s[idx]) {
		*n = 0;
		return "";
	}
	*n = strnlen(sc->s[idx], sc->slen[idx]);
	return sc->s[idx];
}

static void scan_put_str(struct scan *sc, struct hbuf *b, int64_t idx)
{
	size_t n;
	const char *s = scan_str(sc, idx, &n);
	hb_str(b, s, n);
}

/* The header's part of the digest, once the strings are known; the sample
 * types' names copied for the totals. */
static void scan_header_hash(struct scan *sc)
{
	struct hbuf *b = &sc->b;

	if (sc->header_done)
		return;
	sc->header_done = 1;
	if (sc->no_digest)
		goto names;
	b->len = 0;
	for (size_t i = 0; i < sc->nst; i++) {
		scan_put_str(sc, b, sc->st[2 * i]);
		scan_put_str(sc, b, sc->st[2 * i + 1]);
	}
	if (sc->has_ptype) {
		scan_put_str(sc, b, sc->ptype[0]);
		scan_put_str(sc, b, sc->ptype[1]);
	}
	hb_u64(b, (uint64_t)sc->period);
	hb_u64(b, (uint64_t)sc->time_nanos);
	hb_u64(b, (uint64_t)sc->duration_nanos);
	scan_put_str(sc, b, sc->dflt);
	for (size_t i = 0; i < sc->ncomment; i++)
		scan_put_str(sc, b, sc->comment[i]);
	hb_u64(b, sc->nsample);
	sc->acc += XXH3_64bits(b->p, b->len);
names:
	if (sc->arena) {
		sc->tt = pf_arena_alloc(sc->arena, (sc->nst ? sc->nst : 1) * sizeof(*sc->tt));
		for (size_t i = 0; i < sc->nst; i++) {
			size_t n;
			const char *s = scan_str(sc, sc->st[2 * i], &n);
			sc->tt[i].type = pf_arena_strndup(sc->arena, s, n);
			s = scan_str(sc, sc->st[2 * i + 1], &n);
			sc->tt[i].unit = pf_arena_strndup(sc->arena, s, n);
		}
	}
}

static int scan_header(void *ctx, const struct pprof_stream_header *h, struct pf_err *err)
{
	struct scan *sc = ctx;

	(void)err;
	sc->nst = h->n_sample_type;
	sc->st = pf_xcalloc(2 * sc->nst + 1, sizeof(*sc->st));
	memcpy(sc->st, h->sample_type, 2 * sc->nst * sizeof(*sc->st));
	sc->ncomment = h->n_comment;
	sc->comment = pf_xcalloc(sc->ncomment + 1, sizeof(*sc->comment));
	if (sc->ncomment)
		memcpy(sc->comment, h->comment, sc->ncomment * sizeof(*sc->comment));
	sc->has_ptype = h->has_period_type;
	sc->ptype[0] = h->period_type[0];
	sc->ptype[1] = h->period_type[1];
	sc->period = h->period;
	sc->time_nanos = h->time_nanos;
	sc->duration_nanos = h->duration_nanos;
	sc->dflt = h->default_sample_type;
	sc->nsample = h->n_sample;
	sc->ns = h->n_string;
	sc->s = pf_xcalloc(sc->ns + 1, sizeof(*sc->s));
	sc->slen = pf_xcalloc(sc->ns + 1, sizeof(*sc->slen));
	sc->fn = pf_xcalloc(h->n_function + 1, sizeof(*sc->fn));
	sc->lh = pf_xcalloc(h->n_location + 1, sizeof(*sc->lh));
	sc->totals = pf_xcalloc(sc->nst + 1, sizeof(*sc->totals));
	return 0;
}

static int scan_string(void *ctx, size_t idx, const char *s, size_t len, struct pf_err *err)
{
	struct scan *sc = ctx;

	(void)err;
	if (idx < sc->ns) {
		sc->s[idx] = s;
		sc->slen[idx] = len;
	}
	if (idx + 1 == sc->ns)
		scan_header_hash(sc);
	return 0;
}

static int scan_function(void *ctx, const struct pprof_stream_function *f, struct pf_err *err)
{
	struct scan *sc = ctx;
	size_t i = sc->fids.n;

	(void)err;
	scan_header_hash(sc);
	if (sc->no_digest)
		return 0;
	ids_add(&sc->fids, f->id);
	sc->fn[i][0] = f->name;
	sc->fn[i][1] = f->system_name;
	sc->fn[i][2] = f->filename;
	return 0;
}

/* location_hash's bytes */
static int scan_location(void *ctx, const struct pprof_stream_location *l, struct pf_err *err)
{
	struct scan *sc = ctx;
	struct hbuf *b = &sc->b;
	size_t i = sc->lids.n;

	(void)err;
	scan_header_hash(sc);
	if (sc->no_digest)
		return 0;
	ids_add(&sc->lids, l->id);
	b->len = 0;
	hb_u64(b, l->address);
	hb_u64(b, l->n_line);
	for (size_t k = 0; k < l->n_line; k++) {
		int64_t fi = ids_find(&sc->fids, l->line[k].function_id);
		for (int j = 0; j < 3; j++) {
			if (fi >= 0)
				scan_put_str(sc, b, sc->fn[fi][j]);
			else
				hb_str(b, "", 0);
		}
		hb_u64(b, (uint64_t)l->line[k].line);
	}
	sc->lh[i] = XXH3_64bits(b->p, b->len);
	return 0;
}

/* a sample's bytes in bundle_digest_profile, and the totals */
static int scan_sample(void *ctx, const struct pprof_stream_sample *s, struct pf_err *err)
{
	struct scan *sc = ctx;
	struct hbuf *b = &sc->b;
	size_t nv = PF_MIN(s->n_value, sc->nst);
	uint64_t lsum = 0;

	(void)err;
	scan_header_hash(sc);
	for (size_t j = 0; j < nv; j++)
		sc->totals[j] = (int64_t)((uint64_t)sc->totals[j] + (uint64_t)s->value[j]);
	if (sc->no_digest)
		return 0;
	b->len = 0;
	for (size_t j = 0; j < s->n_value; j++)
		hb_u64(b, (uint64_t)s->value[j]);
	for (size_t j = 0; j < s->n_location_id; j++) {
		int64_t li = ids_find(&sc->lids, s->location_id[j]);
		hb_u64(b, li >= 0 ? sc->lh[li] : UINT64_MAX);
	}
	for (size_t j = 0; j < s->n_label; j++) {
		const struct pprof_stream_label *l = &s->label[j];
		sc->lb.len = 0;
		scan_put_str(sc, &sc->lb, l->key);
		scan_put_str(sc, &sc->lb, l->str);
		hb_u64(&sc->lb, (uint64_t)l->num);
		scan_put_str(sc, &sc->lb, l->num_unit);
		lsum += XXH3_64bits(sc->lb.p, sc->lb.len);
	}
	hb_u64(b, lsum);
	sc->acc += XXH3_64bits(b->p, b->len);
	return 0;
}

static void scan_free(struct scan *sc)
{
	free(sc->st);
	free(sc->comment);
	free(sc->s);
	free(sc->slen);
	free(sc->fn);
	free(sc->lh);
	free(sc->totals);
	free(sc->b.p);
	free(sc->lb.p);
	if (sc->fids.sparse)
		pf_htab_free(&sc->fids.t);
	if (sc->lids.sparse)
		pf_htab_free(&sc->lids.t);
}

static const struct pprof_sink scan_sink = {.header = scan_header, .string = scan_string,
					    .function = scan_function, .location = scan_location,
					    .sample = scan_sample};

/* One pass over a pprof body (gzip or not) into sc: the decode's errors. */
static int scan_pprof(const void *body, size_t len, const struct pprof_limits *lim,
		      struct scan *sc, struct pf_err *err)
{
	int rc = pprof_stream_decode_limited(body, len, lim, &scan_sink, sc, err);

	if (rc == 0)
		scan_header_hash(sc); /* a profile without strings */
	return rc;
}

/* scan_pprof of a gzip body that keeps the inflated bytes in *in (the
 * store then decodes them without a second inflate); the same errors. */
static int scan_pprof_keep(const void *body, size_t len, const struct pprof_limits *lim,
			   struct scan *sc, struct pprof_inflated *in, struct pf_err *err)
{
	int rc;

	if ((rc = pprof_inflate_limited(body, len, lim, in, err)) < 0) {
		if (rc == PF_EINVAL)
			pf_err_prefix(err, "decompressing profile: ");
		return rc;
	}
	if ((rc = pprof_stream_decode(in->data, in->len, &scan_sink, sc, err)) == 0)
		scan_header_hash(sc);
	else
		pprof_inflated_free(in);
	return rc;
}

int bundle_digest(const void *body, size_t len, enum tsdb_kind kind, const struct pprof_limits *lim,
		  uint64_t *out, struct pf_err *err)
{
	struct scan sc = {0};
	int rc;

	if (kind != TSDB_KIND_PPROF) {
		*out = XXH3_64bits(body, len);
		return 0;
	}
	if ((rc = scan_pprof(body, len, lim, &sc, err)) == 0)
		*out = sc.acc;
	scan_free(&sc);
	return rc;
}

int bundle_profile_digest(const struct bundle_profile *p, const struct pprof_limits *lim,
			  uint64_t *out, struct pf_err *err)
{
	if (p->has_digest) {
		*out = p->digest;
		return 0;
	}
	if (p->plain)
		return bundle_digest(p->plain, p->plain_len, p->kind, lim, out, err);
	return bundle_digest(p->body, p->len, p->kind, lim, out, err);
}

int bundle_stored(struct store *db, const struct bundle_profile *p, const struct pprof_limits *lim,
		  int *stored, struct pf_err *err)
{
	uint64_t pd = 0;
	int have_pd = 0;
	struct tsdb_matcher m[MAX_LABELS + 4];
	struct tsdb_query q = {0};
	struct store_result *res = NULL;
	struct pf_buf body = PF_BUF_INIT(0);
	int rc = 0;

	*stored = 0;
	if (p->nlabels > PF_ARRAY_LEN(m))
		return 0;
	for (size_t i = 0; i < p->nlabels; i++)
		m[i] = (struct tsdb_matcher){TSDB_MATCH_EQ, p->labels[i].name, p->labels[i].value};
	q.matchers = m;
	q.nmatchers = p->nlabels;
	q.min_t_ns = q.max_t_ns = p->t_ns;
	if ((rc = store_find(db, &q, &res, err)) < 0)
		return rc;
	for (size_t i = 0; i < store_result_len(res) && !*stored; i++) {
		const struct tsdb_meta *mt = store_result_at(res, i);
		uint64_t d = 0;
		int same = mt->nlabels == p->nlabels && mt->kind == p->kind && mt->t_ns == p->t_ns;

		/* the totals are in the index: no body is read unless they match */
		if (same && p->kind == TSDB_KIND_PPROF) {
			same = mt->ntotals == p->ntotals;
			for (size_t j = 0; same && j < p->ntotals; j++)
				same = mt->totals[j].value == p->totals[j].value &&
				       strcmp(mt->totals[j].type, p->totals[j].type) == 0 &&
				       strcmp(mt->totals[j].unit, p->totals[j].unit) == 0;
		}
		if (same && p->kind == TSDB_KIND_RAW)
			same = mt->size == p->len;
		if (!same)
			continue;
		pf_buf_reset(&body);
		rc = store_read(db, mt->id, &body, NULL, err);
		if (rc == PF_ENOTFOUND) { /* dropped by retention meanwhile */
			rc = 0;
			continue;
		}
		if (rc < 0)
			break;
		/* the bytes pushed come back from the head (its WAL): equal
		 * bytes are the same profile, without a decode */
		if (body.len == p->len && memcmp(body.data, p->body, p->len) == 0) {
			*stored = 1;
			continue;
		}
		if (p->kind == TSDB_KIND_RAW)
			continue;
		if (!have_pd) {
			if ((rc = bundle_profile_digest(p, lim, &pd, err)) < 0)
				break;
			have_pd = 1;
		}
		if ((rc = bundle_digest(body.data, body.len, TSDB_KIND_PPROF, lim, &d, err)) < 0)
			break;
		*stored = d == pd;
	}
	pf_buf_free(&body);
	store_result_free(res);
	return rc;
}

int bundle_store(struct store *db, const struct bundle *b, const struct pprof_limits *lim,
		 struct bundle_result *res, size_t *nres, struct pf_err *err)
{
	size_t n = bundle_nprofiles(b);
	int rc, dup;

	*nres = 0;
	for (size_t i = 0; i < n; i++) {
		memset(&res[i], 0, sizeof(res[i]));
		res[i].p = &b->profiles[i];
		if ((rc = bundle_stored(db, res[i].p, lim, &dup, err)) < 0) {
			pf_err_prefix(err, "looking for a stored copy of \"%s\": ", res[i].p->entry);
			return rc;
		}
		res[i].outcome = dup ? BUNDLE_ALREADY : 0;
	}
	for (size_t i = 0; i < n; i++, (*nres)++) {
		const struct bundle_profile *p = res[i].p;
		/* the push's path (src/ingest) with what bundle_read knows: the
		 * body decoded, checked, gzipped and totalled */
		struct ingest_opts io = {.db = db, .max_profile_bytes = lim->max_decompressed,
					 .inflight = lim->budget};
		struct ingest_req ir = {.labels = p->labels, .nlabels = p->nlabels, .t_ns = p->t_ns,
					.body = p->body, .len = p->len, .decoded = 1,
					.totals = p->totals, .ntotals = p->ntotals,
					.plain = p->plain, .plain_len = p->plain_len};
		struct ingest_out out;
		struct pf_err e = {0};
		enum ingest_class c;

		if (res[i].outcome == BUNDLE_ALREADY)
			continue;
		c = ingest_profile(&io, &ir, &out, &e);
		if (c == INGEST_FUTURE || c == INGEST_TOO_OLD) {
			res[i].outcome = BUNDLE_REFUSED;
			res[i].code = c == INGEST_FUTURE ? PF_EFUTURE : PF_ETOOOLD;
			snprintf(res[i].reason, sizeof(res[i].reason), "%s", e.msg);
			continue;
		}
		if (c != INGEST_OK) {
			*err = e;
			pf_err_prefix(err, "storing \"%s\": ", p->entry);
			return e.code < 0 ? e.code : PF_EIO;
		}
		memcpy(res[i].id, out.id, sizeof(res[i].id));
		res[i].outcome = BUNDLE_STORED;
	}
	return 0;
}

/* ---- reading ---------------------------------------------------------- */

static const char *zip_msg(zip_error_t *ze)
{
	return zip_error_strerror(ze);
}

/* Read entry idx (size bytes as the central directory says) into a new
 * buffer; libzip checks the CRC once the entry is read to its end. */
static int read_entry(zip_t *za, zip_uint64_t idx, const char *name, uint64_t size, void **out,
		      struct pf_err *err)
{
	zip_file_t *f = zip_fopen_index(za, idx, 0);
	uint8_t *buf = NULL, extra;
	uint64_t got = 0;
	zip_int64_t r;
	int rc = 0;

	*out = NULL;
	if (!f)
		return pf_err_set(err, PF_EINVAL, "entry \"%s\": %s", name, zip_strerror(za));
	if (!(buf = malloc(size ? size : 1))) {
		rc = pf_err_set(err, PF_ENOMEM, "entry \"%s\": out of memory for %" PRIu64 " bytes",
				name, size);
		goto out;
	}
	while (got < size) {
		r = zip_fread(f, buf + got, size - got);
		if (r < 0) {
			rc = pf_err_set(err, PF_EINVAL, "entry \"%s\": %s", name, zip_file_strerror(f));
			goto out;
		}
		if (r == 0)
			break;
		got += (uint64_t)r;
	}
	/* past the end: where libzip checks the CRC (and finds more data
	 * than the directory said) */
	r = zip_fread(f, &extra, 1);
	if (r < 0) {
		rc = pf_err_set(err, PF_EINVAL, "entry \"%s\": %s", name, zip_file_strerror(f));
		goto out;
	}
	if (got != size || r != 0) {
		rc = pf_err_set(err, PF_EINVAL, "entry \"%s\": its data is %s than the %" PRIu64
				" bytes the central directory says", name, got < size ? "shorter" : "longer", size);
		goto out;
	}
out:
	if (zip_fclose(f) != 0 && rc == 0)
		rc = pf_err_set(err, PF_EINVAL, "entry \"%s\": %s", name, zip_strerror(za));
	if (rc < 0)
		free(buf);
	else
		*out = buf;
	return rc;
}

static void keep_body(struct bundle *b, void *p)
{
	pf_xgrow((void **)&b->bodies, &b->bodies_cap, b->nbodies + 1, sizeof(*b->bodies));
	b->bodies[b->nbodies++] = p;
}

static void add_skip(struct bundle *b, const char *entry, const char *reason)
{
	pf_xgrow((void **)&b->skipped, &b->skipped_cap, b->nskipped + 1, sizeof(*b->skipped));
	b->skipped[b->nskipped].entry = pf_arena_strndup(b->arena, entry, strlen(entry));
	b->skipped[b->nskipped].reason = pf_arena_strndup(b->arena, reason, strlen(reason));
	b->nskipped++;
}

static const char *meta_field(struct bundle *b, json_t *o, const char *key, struct pf_err *err,
			      int *rc)
{
	json_t *v = json_object_get(o, key);

	if (!v)
		return "";
	if (!json_is_string(v)) {
		*rc = pf_err_set(err, PF_EINVAL, "entry \"meta\": \"%s\" is not a string", key);
		return "";
	}
	if (strlen(json_string_value(v)) != json_string_length(v)) {
		*rc = pf_err_set(err, PF_EINVAL, "entry \"meta\": \"%s\" holds a NUL byte", key);
		return "";
	}
	return pf_arena_strndup(b->arena, json_string_value(v), json_string_length(v));
}

static int parse_meta(struct bundle *b, const void *data, size_t len, struct pf_err *err)
{
	json_error_t je;
	json_t *o = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
	struct bundle_meta *m = &b->meta;
	int rc = 0;

	if (!o)
		return pf_err_set(err, PF_EINVAL, "entry \"meta\": not JSON: %s (line %d column %d)",
				  je.text, je.line, je.column);
	if (!json_is_object(o)) {
		json_decref(o);
		return pf_err_set(err, PF_EINVAL, "entry \"meta\": not a JSON object");
	}
	m->main = meta_field(b, o, "main", err, &rc);
	m->revision = meta_field(b, o, "revision", err, &rc);
	m->go_version = meta_field(b, o, "go_version", err, &rc);
	m->hostname = meta_field(b, o, "hostname", err, &rc);
	m->proc_id = meta_field(b, o, "proc_id", err, &rc);
	m->init_time = meta_field(b, o, "init_time", err, &rc);
	m->capture_time = meta_field(b, o, "capture_time", err, &rc);
	json_decref(o);
	if (rc < 0)
		return rc;
	if (*m->capture_time && pf_parse_time(m->capture_time, &m->capture_ns) < 0)
		m->capture_ns = 0;
	return 0;
}

/* path.Base */
static const char *path_base(struct bundle *b, const char *s)
{
	size_t n = strlen(s);
	const char *slash;

	while (n > 1 && s[n - 1] == '/')
		n--;
	if (n == 0)
		return "";
	slash = memrchr(s, '/', n);
	if (slash && n > 1)
		return pf_arena_strndup(b->arena, slash + 1, n - (size_t)(slash + 1 - s));
	return pf_arena_strndup(b->arena, s, n);
}

static int label_cmp(const void *a, const void *b)
{
	return strcmp(((const struct tsdb_label *)a)->name, ((const struct tsdb_label *)b)->name);
}

static void set_label(struct tsdb_label *v, size_t *n, const char *name, const char *value)
{
	for (size_t i = 0; i < *n; i++) {
		if (strcmp(v[i].name, name) == 0) {
			v[i].value = value;
			return;
		}
	}
	v[*n].name = name;
	v[*n].value = value;
	(*n)++;
}

/* The labels every profile of the bundle has, service first. */
static int base_labels(struct bundle *b, const struct bundle_options *o, struct tsdb_label *v,
		       size_t *n, struct pf_err *err)
{
	const struct bundle_meta *m = &b->meta;
	const char *service = o->service && *o->service ? o->service : path_base(b, m->main);
	const struct {
		const char *name, *value;
	} from_meta[] = {
		{"instance", m->hostname}, {"proc_id", m->proc_id},
		{"go_version", m->go_version}, {"revision", m->revision},
	};

	*n = 0;
	if (!*service)
		return pf_err_set(err, PF_EINVAL, "entry \"meta\": \"main\" is empty and no service was given");
	if (strlen(service) > MAX_LABEL_VALUE)
		return pf_err_set(err, PF_EINVAL, "the service \"%.64s…\" is longer than %d bytes",
				  service, MAX_LABEL_VALUE);
	set_label(v, n, "service", service);
	for (size_t i = 0; i < PF_ARRAY_LEN(from_meta); i++) {
		if (!*from_meta[i].value)
			continue; /* the store keeps no empty values */
		if (strlen(from_meta[i].value) > MAX_LABEL_VALUE)
			return pf_err_set(err, PF_EINVAL, "entry \"meta\": the value of \"%s\" is longer than %d bytes",
					  from_meta[i].name, MAX_LABEL_VALUE);
		set_label(v, n, from_meta[i].name, from_meta[i].value);
	}
	for (size_t i = 0; i < o->nlabels; i++) {
		if (strcmp(o->labels[i].name, "service") == 0 || strcmp(o->labels[i].name, "type") == 0)
			return pf_err_set(err, PF_EINVAL, "label \"%s\" cannot be set in labels",
					  o->labels[i].name);
		if (*n >= MAX_LABELS - 2)
			return pf_err_set(err, PF_EINVAL, "more than %d labels", MAX_LABELS);
		set_label(v, n, o->labels[i].name, o->labels[i].value);
	}
	return 0;
}

/*
 * One profile of type (during: the CPU profile during a trace) from data
 * (malloc'd; kept by b on success, freed otherwise), named name in results;
 * errors start with pre (`entry "pprof/heap": `, or "" for a lone body).
 * The time is time_nanos, else b->meta.capture_ns.
 */
static int add_profile(struct bundle *b, const struct bundle_options *o, const char *name,
		       const char *pre, const char *type, int during, void *data, size_t len,
		       const struct tsdb_label *base, size_t nbase, struct pf_err *err)
{
	struct bundle_profile *bp;
	/* a lone profile's digest waits until a stored candidate needs it
	 * (bundle_profile_digest) */
	struct scan sc = {.arena = b->arena, .no_digest = b->keep_plain};
	struct tsdb_label *labels;
	struct pf_buf gz = PF_BUF_INIT(0);
	int rc;
	size_t n = nbase;

	if (len == 0) {
		add_skip(b, name, *pre ? "empty entry (0 bytes)" : "empty file (0 bytes)");
		free(data);
		return 0;
	}
	labels = pf_arena_alloc(b->arena, (nbase + 2) * sizeof(*labels));
	memcpy(labels, base, nbase * sizeof(*labels));
	pf_xgrow((void **)&b->profiles, &b->profiles_cap, b->nprofiles + 1, sizeof(*b->profiles));
	bp = &b->profiles[b->nprofiles];
	memset(bp, 0, sizeof(*bp));
	bp->entry = pf_arena_strndup(b->arena, name, strlen(name));
	bp->type = pf_arena_strndup(b->arena, type, strlen(type));
	set_label(labels, &n, "type", bp->type);
	if (during)
		set_label(labels, &n, "during_trace", "true");
	qsort(labels, n, sizeof(*labels), label_cmp);
	bp->labels = labels;
	bp->nlabels = n;

	if (strcmp(type, "trace") == 0) {
		if (!ingest_is_go_trace(data, len)) {
			rc = pf_err_set(err, PF_EINVAL, "%snot a Go execution trace (it does not start with \"go 1.N trace\")", pre);
			goto fail;
		}
		if (!b->meta.capture_ns) {
			rc = pf_err_set(err, PF_EINVAL, "%sa trace takes meta's capture_time, which is \"%s\", not a time",
					pre, b->meta.capture_time);
			goto fail;
		}
		bp->kind = TSDB_KIND_RAW;
		bp->t_ns = b->meta.capture_ns;
		bp->body = data;
		bp->len = len;
		bp->digest = XXH3_64bits(data, len);
		bp->has_digest = 1;
		keep_body(b, data);
		b->nprofiles++;
		return 0;
	}

	/* one pass of the streaming decoder: the checks, totals, time and
	 * digest, no protobuf-c tree */
	if (b->keep_plain && pprof_is_gzip(data, len))
		rc = scan_pprof_keep(data, len, &o->pprof, &sc, &b->inflated, err);
	else
		rc = scan_pprof(data, len, &o->pprof, &sc, err);
	if (rc < 0) {
		if (rc == PF_EINVAL)
			pf_err_prefix(err, "could not parse pprof profile: ");
		pf_err_prefix(err, "%s", pre);
		goto fail;
	}
	if (sc.nsample == 0) {
		add_skip(b, name, "profile has no samples");
		scan_free(&sc);
		free(data);
		return 0;
	}
	for (size_t i = 0; i < sc.nst; i++)
		sc.tt[i].value = sc.totals[i];
	bp->totals = sc.tt;
	bp->ntotals = sc.nst;
	if (sc.time_nanos > 0) {
		bp->t_ns = sc.time_nanos;
	} else if (b->meta.capture_ns) {
		bp->t_ns = b->meta.capture_ns;
	} else {
		rc = pf_err_set(err, PF_EINVAL, "%sthe profile has no time_nanos and meta's capture_time \"%s\" is not a time",
				pre, b->meta.capture_time);
		goto fail;
	}
	bp->kind = TSDB_KIND_PPROF;
	bp->digest = sc.acc;
	bp->has_digest = !sc.no_digest;
	if (pprof_is_gzip(data, len)) {
		bp->body = data;
		bp->len = len;
		keep_body(b, data);
		if (b->inflated.data) {
			bp->plain = b->inflated.data;
			bp->plain_len = b->inflated.len;
		}
	} else {
		if ((rc = pprof_gzip(data, len, &gz, err)) < 0) {
			pf_err_prefix(err, "%s", pre);
			goto fail;
		}
		if (b->keep_plain) {
			bp->plain = data;
			bp->plain_len = len;
			keep_body(b, data);
		} else {
			free(data);
		}
		bp->body = pf_buf_steal(&gz, &bp->len);
		keep_body(b, (void *)bp->body);
	}
	scan_free(&sc);
	b->nprofiles++;
	return 0;
fail:
	scan_free(&sc);
	pf_buf_free(&gz);
	free(data);
	return rc;
}

/* One pprof/NAME entry, read into data (kept by b on success). */
static int add_entry(struct bundle *b, const struct bundle_options *o, const char *name,
		     void *data, size_t len, const struct tsdb_label *base, size_t nbase,
		     struct pf_err *err)
{
	char type[BUNDLE_MAX_TYPE + 16], pre[1100];
	int during = 0, rc;

	snprintf(pre, sizeof(pre), "entry \"%s\": ", name);
	if ((rc = bundle_entry_type(name + 6, type, &during, err)) < 0) {
		pf_err_prefix(err, "%s", pre);
		free(data);
		return rc;
	}
	return add_profile(b, o, name, pre, type, during, data, len, base, nbase, err);
}

int bundle_type_valid(const char *t)
{
	/* SPEC §1's rule (pf_type_ok), within a bundle's cap on a type name */
	return t && strlen(t) <= BUNDLE_MAX_TYPE && strcmp(t, "unknown") != 0 && pf_type_ok(t);
}

int bundle_read_one(const void *body, size_t len, const struct bundle_one *one,
		    const struct bundle_options *o, struct bundle **out, struct pf_err *err)
{
	struct tsdb_label base[MAX_LABELS + 4];
	struct bundle *b = pf_xcalloc(1, sizeof(*b));
	size_t nbase = 0;
	void *data;
	int rc;

	*out = NULL;
	b->arena = pf_arena_new();
	b->keep_plain = 1; /* one profile: its inflated body is kept for the store */
	if (!bundle_type_valid(one->type)) {
		rc = pf_err_set(err, PF_EINVAL, "unknown profile type \"%.*s\" (want cpu, heap, allocs, block, mutex, goroutine, threadcreate, trace, other or a name of [a-z0-9_.-])",
				BUNDLE_MAX_TYPE, one->type ? one->type : "");
		goto fail;
	}
	if (!one->service || !*one->service) {
		rc = pf_err_set(err, PF_EINVAL, "no service given");
		goto fail;
	}
	b->meta.capture_ns = one->t_ns ? one->t_ns : pf_now_ns();
	b->meta.main = b->meta.revision = b->meta.go_version = b->meta.hostname = "";
	b->meta.proc_id = b->meta.init_time = b->meta.capture_time = "";
	{
		struct bundle_options oo = *o;
		oo.service = one->service;
		if ((rc = base_labels(b, &oo, base, &nbase, err)) < 0)
			goto fail;
	}
	data = pf_xmalloc(len ? len : 1);
	memcpy(data, body, len);
	if ((rc = add_profile(b, o, one->name ? one->name : "", "", one->type, 0, data, len, base,
			      nbase, err)) < 0)
		goto fail;
	*out = b;
	return 0;
fail:
	bundle_free(b);
	return rc;
}

int bundle_read(const void *zipdata, size_t len, const struct bundle_options *o, struct bundle **out,
		struct pf_err *err)
{
	size_t max_entries = o->max_entries ? o->max_entries : BUNDLE_MAX_ENTRIES;
	uint64_t max_total = o->max_total ? o->max_total : BUNDLE_MAX_TOTAL, total = 0;
	struct tsdb_label base[MAX_LABELS + 4];
	struct bundle *b = pf_xcalloc(1, sizeof(*b));
	zip_error_t ze;
	zip_source_t *src = NULL;
	zip_t *za = NULL;
	zip_int64_t n;
	char **names = NULL;
	size_t nbase = 0;
	int64_t meta_idx = -1;
	void *data = NULL;
	int rc = 0;

	*out = NULL;
	b->arena = pf_arena_new();
	zip_error_init(&ze);
	if (len == 0) {
		rc = pf_err_set(err, PF_EINVAL, "empty body: not a zip archive");
		goto fail;
	}
	if (!(src = zip_source_buffer_create(zipdata, len, 0, &ze))) {
		rc = pf_err_set(err, PF_ENOMEM, "zip: %s", zip_msg(&ze));
		goto fail;
	}
	if (!(za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze))) {
		int code = zip_error_code_zip(&ze);
		zip_source_free(src);
		if (code == ZIP_ER_NOZIP)
			rc = pf_err_set(err, PF_EINVAL, "not a zip archive (no central directory: the bundle is cut short or not a zip)");
		else
			rc = pf_err_set(err, PF_EINVAL, "broken zip archive: %s", zip_msg(&ze));
		goto fail;
	}
	n = zip_get_num_entries(za, 0);
	if (n < 0 || (uint64_t)n > max_entries) {
		rc = pf_err_set(err, PF_ETOOBIG, "bundle has %" PRId64 " entries, over the cap of %zu",
				(int64_t)n, max_entries);
		goto fail;
	}
	names = pf_xcalloc((size_t)n + 1, sizeof(*names));
	/* the directory first: names, sizes, the total, before reading any data */
	for (zip_int64_t i = 0; i < n; i++) {
		zip_stat_t st;
		char name[1024];

		if (zip_stat_index(za, (zip_uint64_t)i, 0, &st) < 0 || !(st.valid & ZIP_STAT_NAME) ||
		    !(st.valid & ZIP_STAT_SIZE)) {
			rc = pf_err_set(err, PF_EINVAL, "broken zip archive: entry %" PRId64 ": %s",
					(int64_t)i, zip_strerror(za));
			goto fail;
		}
		if ((rc = bundle_entry_name(st.name, name, sizeof(name), err)) < 0) {
			pf_err_prefix(err, "entry \"%.256s\": ", st.name);
			goto fail;
		}
		for (zip_int64_t j = 0; j < i; j++) {
			if (strcmp(names[j], name) == 0) {
				rc = pf_err_set(err, PF_EINVAL, "entry \"%s\" appears twice", name);
				goto fail;
			}
		}
		names[i] = pf_arena_strndup(b->arena, name, strlen(name));
		if (st.size > max_total || total + st.size > max_total) {
			rc = pf_err_set(err, PF_ETOOBIG, "entry \"%s\": the entries' sizes add up to more than the cap of %" PRIu64 " bytes",
					name, max_total);
			goto fail;
		}
		total += st.size;
		if (strcmp(name, "meta") == 0)
			meta_idx = i;
	}
	if (meta_idx < 0) {
		rc = pf_err_set(err, PF_EINVAL, "bundle has no \"meta\" entry");
		goto fail;
	}
	{
		zip_stat_t st;
		zip_stat_index(za, (zip_uint64_t)meta_idx, 0, &st);
		if (st.size > META_MAX) {
			rc = pf_err_set(err, PF_ETOOBIG, "entry \"meta\": %" PRIu64 " bytes, over the cap of %d",
					(uint64_t)st.size, META_MAX);
			goto fail;
		}
		if ((rc = read_entry(za, (zip_uint64_t)meta_idx, "meta", st.size, &data, err)) < 0)
			goto fail;
		rc = parse_meta(b, data, st.size, err);
		free(data);
		data = NULL;
		if (rc < 0)
			goto fail;
	}
	if ((rc = base_labels(b, o, base, &nbase, err)) < 0)
		goto fail;
	/* then the profiles, one at a time, in the bundle's order */
	for (zip_int64_t i = 0; i < n; i++) {
		zip_stat_t st;
		size_t nl = strlen(names[i]);

		if (strncmp(names[i], "pprof/", 6) != 0 || nl == 6 || names[i][nl - 1] == '/')
			continue; /* meta, expvar, custom/..., directories */
		zip_stat_index(za, (zip_uint64_t)i, 0, &st);
		if ((rc = read_entry(za, (zip_uint64_t)i, names[i], st.size, &data, err)) < 0)
			goto fail;
		rc = add_entry(b, o, names[i], data, (size_t)st.size, base, nbase, err);
		data = NULL;
		if (rc < 0)
			goto fail;
	}
	free(names);
	zip_discard(za);
	zip_error_fini(&ze);
	*out = b;
	return 0;
fail:
	free(names);
	if (za)
		zip_discard(za);
	zip_error_fini(&ze);
	bundle_free(b);
	return rc;
}

const struct bundle_meta *bundle_get_meta(const struct bundle *b)
{
	return &b->meta;
}

size_t bundle_nprofiles(const struct bundle *b)
{
	return b->nprofiles;
}

const struct bundle_profile *bundle_profile_at(const struct bundle *b, size_t i)
{
	return i < b->nprofiles ? &b->profiles[i] : NULL;
}

size_t bundle_nskipped(const struct bundle *b)
{
	return b->nskipped;
}

const struct bundle_skip *bundle_skipped_at(const struct bundle *b, size_t i)
{
	return i < b->nskipped ? &b->skipped[i] : NULL;
}

void bundle_free(struct bundle *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->nbodies; i++)
		free(b->bodies[i]);
	free(b->bodies);
	pprof_inflated_free(&b->inflated);
	free(b->profiles);
	free(b->skipped);
	pf_arena_free(b->arena);
	free(b);
}

/* ---- writing ---------------------------------------------------------- */

struct bundle_writer {
	zip_source_t *src;
	zip_t *za;
	void **copies; /* libzip reads the entries' data at zip_close */
	size_t ncopies, copies_cap;
	int failed;
};

struct bundle_writer *bundle_writer_new(void)
{
	struct bundle_writer *w = pf_xcalloc(1, sizeof(*w));
	zip_error_t ze;

	zip_error_init(&ze);
	if (!(w->src = zip_source_buffer_create(NULL, 0, 0, &ze)))
		abort();
	zip_source_keep(w->src);
	if (!(w->za = zip_open_from_source(w->src, ZIP_TRUNCATE, &ze)))
		abort(); /* an empty in-memory source: only out of memory fails */
	zip_error_fini(&ze);
	return w;
}

int bundle_writer_add(struct bundle_writer *w, const char *name, const void *data, size_t len,
		      struct pf_err *err)
{
	void *copy = pf_xmalloc(len ? len : 1);
	zip_source_t *s;
	zip_int64_t idx;

	memcpy(copy, data, len);
	pf_xgrow((void **)&w->copies, &w->copies_cap, w->ncopies + 1, sizeof(*w->copies));
	w->copies[w->ncopies++] = copy;
	if (!(s = zip_source_buffer(w->za, copy, len, 0)))
		goto fail;
	if ((idx = zip_file_add(w->za, name, s, ZIP_FL_ENC_UTF_8)) < 0) {
		zip_source_free(s);
		goto fail;
	}
	if (zip_set_file_compression(w->za, (zip_uint64_t)idx, ZIP_CM_STORE, 0) < 0)
		goto fail;
	return 0;
fail:
	w->failed = 1;
	return pf_err_set(err, PF_EIO, "zip entry \"%s\": %s", name, zip_strerror(w->za));
}

int bundle_writer_finish(struct bundle_writer *w, struct pf_buf *out, struct pf_err *err)
{
	zip_stat_t st;
	zip_int64_t r;
	int rc = 0;

	if (zip_close(w->za) < 0) {
		rc = pf_err_set(err, PF_EIO, "zip: %s", zip_strerror(w->za));
		zip_discard(w->za);
		w->za = NULL;
		return rc;
	}
	w->za = NULL;
	if (zip_source_stat(w->src, &st) < 0 || zip_source_open(w->src) < 0)
		return pf_err_set(err, PF_EIO, "zip: %s", zip_error_strerror(zip_source_error(w->src)));
	if ((rc = pf_buf_reserve(out, st.size)) < 0) {
		zip_source_close(w->src);
		return pf_err_set(err, rc, "zip of %" PRIu64 " bytes: over the reply's cap", (uint64_t)st.size);
	}
	r = zip_source_read(w->src, out->data + out->len, st.size);
	zip_source_close(w->src);
	if (r < 0 || (zip_uint64_t)r != st.size)
		return pf_err_set(err, PF_EIO, "zip: short read of the archive");
	out->len += (size_t)r;
	return 0;
}

void bundle_writer_free(struct bundle_writer *w)
{
	if (!w)
		return;
	if (w->za)
		zip_discard(w->za);
	zip_source_free(w->src);
	for (size_t i = 0; i < w->ncopies; i++)
		free(w->copies[i]);
	free(w->copies);
	free(w);
}
