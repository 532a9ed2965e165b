/*
 * Compaction: blocks whose time ranges overlap are merged first; otherwise
 * the blocks inside one aligned range of 3, 9 or 27 block durations (not
 * past a tenth of the retention) are merged once that range is complete
 * (the newest data is past it). A compacted block names its sources; at
 * open a block named as a source of another is deleted (the compaction got
 * as far as the rename).
 */
#include "tsdb/tsdb-internal.h"
#include "tsdb/codec/codec.h"
#include "pprof/pprof.h"

#include <inttypes.h>
#include <stdlib.h>

/* ---- compaction -------------------------------------------------------- */

struct src_series {
	uint64_t hash;
	size_t block;
	uint32_t ord;
};

static int cmp_src_series(const void *a, const void *b)
{
	const struct src_series *x = a, *y = b;
	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->block < y->block ? -1 : x->block > y->block;
}

struct src_entry {
	size_t block;
	uint32_t ord;
	size_t idx;
	int64_t t_ns;
	uint32_t seq;
};

static int cmp_src_entry(const void *a, const void *b)
{
	const struct src_entry *x = a, *y = b;
	if (x->t_ns != y->t_ns)
		return x->t_ns < y->t_ns ? -1 : 1;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return x->block < y->block ? -1 : x->block > y->block;
}

/* Merge blocks bs[0..n) into one new block and swap it in. */
static int compact(struct tsdb *db, struct tsdb__block **bs, size_t n, struct pf_err *err)
{
	struct src_series *ss = NULL;
	size_t nss = 0, capss = 0;
	struct tsdb__bw *w = NULL;
	struct tsdb__block *nb = NULL;
	const char **sources = NULL;
	size_t nsources = 0, capsources = 0;
	uint32_t level = 0;
	char name[TSDB__BLOCK_NAME_LEN + 1];
	int64_t t0 = pf_mono_ns();
	uint64_t moved;
	int rc;

	for (size_t i = 0; i < n; i++) {
		const struct tsdb__block_info *in = tsdb__block_info(bs[i]);
		if (in->level > level)
			level = in->level;
		pf_xgrow((void **)&sources, &capsources, nsources + in->nsources + 1, sizeof(char *));
		sources[nsources++] = in->name;
		for (size_t k = 0; k < in->nsources; k++)
			sources[nsources++] = in->sources[k];
		for (uint32_t o = 0; o < in->nseries; o++) {
			pf_xgrow((void **)&ss, &capss, nss + 1, sizeof(*ss));
			ss[nss].hash = tsdb__block_series_hash(bs[i], o);
			ss[nss].block = i;
			ss[nss].ord = o;
			nss++;
		}
	}
	if (nss > 1)
		qsort(ss, nss, sizeof(*ss), cmp_src_series);
	if ((rc = tsdb__bw_new(db->blocks_dir, &w, err)) < 0)
		goto out;
	for (size_t i = 0; i < nss;) {
		size_t j = i, nsrc;
		struct src_entry *se = NULL;
		size_t nse = 0, capse = 0;
		uint64_t max_seq = 0;
		const char *names[TSDB__MAX_LABELS], *values[TSDB__MAX_LABELS];
		size_t nl = tsdb__block_series_nlabels(bs[ss[i].block], ss[i].ord);
		struct tsdb__bentries *one;
		struct tsdb__chunk_dec *dec = NULL;
		size_t dec_src = SIZE_MAX;
		uint64_t dec_off = 0;

		while (j < nss && ss[j].hash == ss[i].hash)
			j++;
		nsrc = j - i;
		one = pf_xcalloc(nsrc, sizeof(*one));
		for (size_t g = 0; g < nsrc; g++) {
			const struct src_series *x = &ss[i + g];
			uint64_t m = tsdb__block_series_max_seq(bs[x->block], x->ord);
			if (m > max_seq)
				max_seq = m;
			tsdb__block_entries(bs[x->block], x->ord, &one[g]);
			for (size_t k = 0; k < one[g].n; k++) {
				pf_xgrow((void **)&se, &capse, nse + 1, sizeof(*se));
				se[nse].block = g; /* index into one[] */
				se[nse].ord = x->ord;
				se[nse].idx = k;
				se[nse].t_ns = one[g].e[k].t_ns;
				se[nse].seq = one[g].e[k].seq;
				nse++;
			}
		}
		for (size_t k = 0; k < nl; k++)
			tsdb__block_series_label(bs[ss[i].block], ss[i].ord, k, &names[k], &values[k]);
		rc = tsdb__bw_series(w, ss[i].hash, names, values, nl, max_seq, err);
		if (nse > 1)
			qsort(se, nse, sizeof(*se), cmp_src_entry);
		for (size_t k = 0; k < nse && rc == 0; k++) {
			struct tsdb__block *b = bs[ss[i + se[k].block].block];
			const struct tsdb__bentry *e = &one[se[k].block].e[se[k].idx];
			const struct tsdb__btotal *bt = &one[se[k].block].totals[e->totals_at];
			struct tsdb_total tot[TSDB__MAX_TOTALS];
			uint32_t nt = e->ntotals < TSDB__MAX_TOTALS ? e->ntotals : TSDB__MAX_TOTALS;

			if (k > 0 && se[k].t_ns == se[k - 1].t_ns && se[k].seq == se[k - 1].seq)
				continue; /* the same profile in two overlapping blocks */
			for (uint32_t t = 0; t < nt; t++) {
				tot[t].type = bt[t].type;
				tot[t].unit = bt[t].unit;
				tot[t].value = bt[t].value;
			}
			/* one chunk decoded once for all of its profiles */
			if (!dec || dec_src != se[k].block || dec_off != e->chunk_off) {
				tsdb__chunk_dec_free(dec);
				dec = NULL;
				rc = tsdb__block_chunk(b, e, &dec, err);
				dec_src = se[k].block;
				dec_off = e->chunk_off;
			}
			if (rc == 0) {
				const struct tsdb__symtab *st;
				if ((rc = tsdb__block_symtab(b, se[k].ord, &st, err)) == 0)
					rc = tsdb__bw_add_from(w, e->t_ns, e->seq, e->kind, e->size,
							       tot, nt, st, dec, e->chunk_idx, err);
			}
			if (rc == PF_ECORRUPT) {
				/* never lose data to a compaction: keep the sources as they
				 * are (reads report the bad chunk) and leave them alone */
				pf_log(PF_LOG_ERROR, "compaction stopped: a source block has a corrupt chunk; "
						     "the blocks stay as they are",
				       "block", tsdb__block_info(b)->name, "err", err->msg, NULL);
				__atomic_fetch_add(&db->corrupt_skipped, 1, __ATOMIC_RELAXED);
				tsdb__block_set_no_compact(b);
			}
		}
		tsdb__chunk_dec_free(dec);
		for (size_t g = 0; g < nsrc; g++)
			tsdb__bentries_free(&one[g]);
		free(one);
		free(se);
		if (rc < 0)
			goto out;
		i = j;
	}
	moved = tsdb__bw_count(w);
	if ((rc = tsdb__bw_commit(w, level + 1, sources, nsources, name, err)) < 0 ||
	    (rc = tsdb__block_open(db->blocks_dir, name, &nb, err)) < 0)
		goto out;
	pthread_rwlock_wrlock(&db->state);
	for (size_t i = 0; i < n; i++)
		tsdb__blocks_remove(db, bs[i]);
	tsdb__blocks_add(db, nb);
	pthread_rwlock_unlock(&db->state);
	nb = NULL;
	for (size_t i = 0; i < n; i++) {
		struct pf_err e2 = {0};
		if (tsdb__block_delete(bs[i], &e2) < 0)
			pf_log(PF_LOG_WARN, "could not remove a compacted block", "err", e2.msg, NULL);
		tsdb__block_unref(bs[i]); /* the list's reference */
	}
	__atomic_fetch_add(&db->compactions, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&db->compact_ns, (uint64_t)(pf_mono_ns() - t0), __ATOMIC_RELAXED);
	__atomic_fetch_add(&db->compacted_profiles, moved, __ATOMIC_RELAXED);
	{
		char nn[32];
		snprintf(nn, sizeof(nn), "%zu", n);
		pf_log(PF_LOG_INFO, "blocks compacted", "block", name, "sources", nn, NULL);
	}
out:
	tsdb__bw_free(w);
	tsdb__block_unref(nb);
	free(ss);
	free(sources);
	return rc;
}

/* Pick one set of blocks to compact (references in *out), or none. */
static size_t plan_compaction(struct tsdb *db, struct tsdb__block **bs, size_t nb,
			      struct tsdb__block ***out)
{
	struct tsdb__block **pick = NULL;
	size_t npick = 0;
	int64_t newest = INT64_MIN;

	*out = NULL;
	for (size_t i = 0; i < nb; i++)
		if (tsdb__block_info(bs[i])->max_t > newest)
			newest = tsdb__block_info(bs[i])->max_t;
	/* overlapping blocks (sorted by min_t): a chain of blocks whose windows
	 * (their times widened to whole block durations) intersect */
	for (size_t i = 0; i + 1 < nb && npick == 0; i++) {
		int64_t hi = tsdb__align_down(tsdb__block_info(bs[i])->max_t, db->block_ns);
		size_t j = i + 1;
		while (j < nb && tsdb__align_down(tsdb__block_info(bs[j])->min_t, db->block_ns) <= hi) {
			int64_t h = tsdb__align_down(tsdb__block_info(bs[j])->max_t, db->block_ns);
			if (h > hi)
				hi = h;
			j++;
		}
		if (j - i >= 2) {
			pick = pf_xcalloc(j - i, sizeof(*pick));
			for (size_t k = i; k < j; k++)
				pick[npick++] = bs[k];
		}
	}
	/* levels: ranges of 3, 9, 27 block durations */
	for (int64_t r = 3 * (db->block_ns > INT64_MAX / 27 ? 0 : db->block_ns), lvl = 0;
	     r > 0 && npick == 0 && lvl < 3; r *= 3, lvl++) {
		if (db->retention_ns && r > db->retention_ns / 10)
			break;
		for (size_t i = 0; i < nb && npick == 0;) {
			int64_t lo = tsdb__align_down(tsdb__block_info(bs[i])->min_t, r);
			size_t j = i;
			while (j < nb && tsdb__block_info(bs[j])->min_t >= lo &&
			       tsdb__block_info(bs[j])->max_t < lo + r)
				j++;
			if (j - i >= 2 && newest >= lo + r) {
				pick = pf_xcalloc(j - i, sizeof(*pick));
				for (size_t k = i; k < j; k++)
					pick[npick++] = bs[k];
			}
			i = j > i ? j : i + 1;
		}
	}
	*out = pick;
	return npick;
}

void tsdb__compaction(struct tsdb *db)
{
	for (int round = 0; round < 8; round++) {
		struct tsdb__block **bs, **pick;
		size_t nb, np;
		bs = tsdb__blocks_get(db, &nb);
		for (size_t i = 0; i < nb;) { /* blocks a compaction failed on stay out */
			if (tsdb__block_no_compact(bs[i])) {
				tsdb__block_unref(bs[i]);
				memmove(&bs[i], &bs[i + 1], (nb - i - 1) * sizeof(*bs));
				nb--;
			} else {
				i++;
			}
		}
		np = plan_compaction(db, bs, nb, &pick);
		if (np) {
			struct pf_err e2 = {0};
			if (compact(db, pick, np, &e2) < 0) {
				/* the sources stay; the next round tries again (or
				 * leaves out blocks found corrupt) */
				pf_log(PF_LOG_ERROR, "compaction failed", "err", e2.msg, NULL);
				np = 0;
			}
		}
		free(pick);
		tsdb__blocks_put(bs, nb);
		if (np == 0)
			break;
	}
}
