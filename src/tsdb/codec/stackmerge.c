/*
 * Merging profiles of one symbol table by stack id: values are summed per
 * (stack id, label set id) without rebuilding or parsing any protobuf; the
 * result is built once at the end. The header rules are pprof_merge's
 * (google/pprof combineHeaders); see codec.h.
 */
#include "tsdb/codec/codec-internal.h"

#include <stdlib.h>

struct tsdb__merger {
	const struct tsdb__symtab *st;
	size_t count;

	/* header, from the first profile unless said otherwise */
	uint32_t *types; /* 2 * nt */
	size_t nt;
	uint32_t pt[2]; /* (0, 0) when absent, as Go compares them */
	uint8_t has_pt;
	uint32_t drop, keep, dflt;
	int64_t time, duration, period;
	uint32_t *comments;
	size_t ncomment, ccap;
	uint32_t *maps;
	size_t nmap, mcap;
	struct pf_htab mapset;

	/* rows */
	struct pf_htab rowmap; /* stack << 32 | label set -> row */
	uint32_t *stacks, *lsets;
	size_t n, cap;
	int64_t *vals;
	size_t vcap;
};

struct tsdb__merger *tsdb__merger_new(const struct tsdb__symtab *st)
{
	struct tsdb__merger *m = pf_xcalloc(1, sizeof(*m));
	m->st = st;
	pf_htab_init(&m->mapset, 16);
	pf_htab_init(&m->rowmap, 1024);
	return m;
}

void tsdb__merger_free(struct tsdb__merger *m)
{
	if (!m)
		return;
	free(m->types);
	free(m->comments);
	free(m->maps);
	pf_htab_free(&m->mapset);
	pf_htab_free(&m->rowmap);
	free(m->stacks);
	free(m->lsets);
	free(m->vals);
	free(m);
}

size_t tsdb__merger_count(const struct tsdb__merger *m)
{
	return m->count;
}

/* "[type/unit type/unit]" of a list of sample type string ids. */
static void describe(const struct tsdb__symtab *st, const uint32_t *types, size_t nt, char *buf,
		     size_t n)
{
	size_t used = (size_t)snprintf(buf, n, "[");
	for (size_t i = 0; i < nt && used < n; i++)
		used += (size_t)snprintf(buf + used, n - used, "%s%s/%s", i ? " " : "",
					 tsdb__st_str(st, types[2 * i]), tsdb__st_str(st, types[2 * i + 1]));
	if (used < n)
		snprintf(buf + used, n - used, "]");
}

/* pprof_merge's compatibility rule: same sample types (type and unit, in
 * order) and the same period type. Ids of one table compare like strings. */
static int compatible(const struct tsdb__merger *m, const struct tsdb__phdr *h, struct pf_err *err)
{
	uint32_t pt0 = h->has_period_type ? h->period_type[0] : 0;
	uint32_t pt1 = h->has_period_type ? h->period_type[1] : 0;

	if (h->nsample_type != m->nt ||
	    (m->nt && memcmp(h->sample_type, m->types, 2 * m->nt * sizeof(uint32_t)) != 0)) {
		char a[240], b[240];
		describe(m->st, m->types, m->nt, a, sizeof(a));
		describe(m->st, h->sample_type, h->nsample_type, b, sizeof(b));
		return pf_err_set(err, PF_EMISMATCH, "sample types differ: %s and %s", a, b);
	}
	if (pt0 != m->pt[0] || pt1 != m->pt[1])
		return pf_err_set(err, PF_EMISMATCH, "period types differ: %.200s/%.40s and %.200s/%.40s",
				  tsdb__st_str(m->st, m->pt[0]), tsdb__st_str(m->st, m->pt[1]),
				  tsdb__st_str(m->st, pt0), tsdb__st_str(m->st, pt1));
	return 0;
}

static void combine_header(struct tsdb__merger *m, const struct tsdb__phdr *h)
{
	size_t i, j;
	uint32_t old;

	if (m->count == 0) {
		m->nt = h->nsample_type;
		m->types = pf_xmalloc((2 * m->nt + 1) * sizeof(uint32_t));
		if (m->nt)
			memcpy(m->types, h->sample_type, 2 * m->nt * sizeof(uint32_t));
		m->has_pt = h->has_period_type;
		m->pt[0] = h->has_period_type ? h->period_type[0] : 0;
		m->pt[1] = h->has_period_type ? h->period_type[1] : 0;
		m->drop = h->drop_frames;
		m->keep = h->keep_frames;
	}
	/* Go's rules, including its treatment of a zero time */
	if (m->time == 0 || h->time_nanos < m->time)
		m->time = h->time_nanos;
	m->duration = (int64_t)((uint64_t)m->duration + (uint64_t)h->duration_nanos);
	if (m->period == 0 || m->period < h->period)
		m->period = h->period;
	for (i = 0; i < h->ncomment; i++) {
		for (j = 0; j < m->ncomment; j++)
			if (m->comments[j] == h->comment[i])
				break;
		if (j == m->ncomment) {
			pf_xgrow((void **)&m->comments, &m->ccap, m->ncomment + 1, sizeof(uint32_t));
			m->comments[m->ncomment++] = h->comment[i];
		}
	}
	if (m->dflt == 0 && h->default_sample_type != 0)
		m->dflt = h->default_sample_type;
	for (i = 0; i < h->nmapping; i++) {
		if (pf_htab_put(&m->mapset, h->mapping[i], (uint32_t)m->nmap, &old))
			continue;
		pf_xgrow((void **)&m->maps, &m->mcap, m->nmap + 1, sizeof(uint32_t));
		m->maps[m->nmap++] = h->mapping[i];
	}
}

static int all_zero(const int64_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] != 0)
			return 0;
	return 1;
}

int tsdb__merger_add(struct tsdb__merger *m, struct tsdb__chunk_dec *d, size_t i,
		     struct pf_err *err)
{
	struct tsdb__rows rows;
	char what[48];
	size_t nt, r;
	int rc;

	if ((rc = tsdb__chunk_dec_rows(d, m->st, i, &rows, err)) < 0)
		return rc;
	snprintf(what, sizeof(what), "chunk profile %zu", i);
	if ((rc = tsdb__phdr_check(m->st, rows.hdr, what, err)) < 0)
		return rc;
	if (m->count > 0 && (rc = compatible(m, rows.hdr, err)) < 0)
		return rc;
	combine_header(m, rows.hdr);
	nt = m->nt;
	/* without sample types every sample is all zero: all dropped, and
	 * rows.vals may be NULL */
	for (r = 0; nt > 0 && r < rows.nrows; r++) {
		const int64_t *v = rows.vals + r * nt;
		uint64_t key = (uint64_t)rows.stacks[r] << 32 | rows.lsets[r];
		uint32_t row;
		if (all_zero(v, nt))
			continue; /* as Go: all-zero samples are dropped */
		if (pf_htab_put(&m->rowmap, key, (uint32_t)m->n, &row)) {
			int64_t *o = m->vals + (size_t)row * nt;
			for (size_t j = 0; j < nt; j++)
				o[j] = (int64_t)((uint64_t)o[j] + (uint64_t)v[j]);
			continue;
		}
		if (m->n == m->cap) {
			size_t c = m->cap;
			pf_xgrow((void **)&m->stacks, &m->cap, m->n + 1, sizeof(uint32_t));
			pf_xgrow((void **)&m->lsets, &c, m->n + 1, sizeof(uint32_t));
		}
		pf_xgrow((void **)&m->vals, &m->vcap, (m->n + 1) * nt + 1, sizeof(int64_t));
		m->stacks[m->n] = rows.stacks[r];
		m->lsets[m->n] = rows.lsets[r];
		if (nt)
			memcpy(m->vals + m->n * nt, v, nt * sizeof(int64_t));
		m->n++;
	}
	m->count++;
	return 0;
}

int tsdb__merger_finish(struct tsdb__merger *m, struct pprof_profile **out, struct pf_err *err)
{
	struct tsdb__phdr h;
	uint32_t *stacks = NULL, *lsets = NULL;
	int64_t *vals = NULL;
	size_t n = 0, nt = m->nt, r;
	int rc;

	*out = NULL;
	if (m->count == 0)
		return pf_err_set(err, PF_EINVAL, "no profiles to merge");
	/* rows that summed to zero go, as in Go's second merge pass */
	stacks = pf_xmalloc((m->n + 1) * sizeof(uint32_t));
	lsets = pf_xmalloc((m->n + 1) * sizeof(uint32_t));
	vals = pf_xmalloc((m->n * nt + 1) * sizeof(int64_t));
	for (r = 0; r < m->n; r++) {
		if (all_zero(m->vals + r * nt, nt))
			continue;
		stacks[n] = m->stacks[r];
		lsets[n] = m->lsets[r];
		if (nt)
			memcpy(vals + n * nt, m->vals + r * nt, nt * sizeof(int64_t));
		n++;
	}
	memset(&h, 0, sizeof(h));
	h.time_nanos = m->time;
	h.duration_nanos = m->duration;
	h.period = m->period;
	h.has_period_type = m->has_pt;
	h.period_type[0] = m->pt[0];
	h.period_type[1] = m->pt[1];
	h.drop_frames = m->drop;
	h.keep_frames = m->keep;
	h.default_sample_type = m->dflt;
	h.nsample_type = nt;
	h.sample_type = m->types;
	h.ncomment = m->ncomment;
	h.comment = m->comments;
	h.nmapping = m->nmap;
	h.mapping = m->maps;
	rc = tsdb__build_pprof(m->st, &h, n, stacks, lsets, vals, out, err);
	if (rc < 0)
		pf_err_prefix(err, "merged profile: ");
	free(stacks);
	free(lsets);
	free(vals);
	return rc;
}
