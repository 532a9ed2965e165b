/*
 * Maintenance: cut the head into blocks, delete WAL segments nothing refers
 * to, compact blocks, apply retention. One round at a time (maint_mu); the
 * background thread runs a round every maint_ns, tsdb_close runs a last one
 * that flushes the whole head.
 *
 * Cut: when the head spans at least 1.5 block durations of profile time
 * (newest minus oldest), the oldest aligned window [k*D, (k+1)*D) is written
 * as a block, repeatedly; a flush cuts every window. Blocks follow the
 * profiles' own timestamps, so old or out-of-order profiles form their own
 * (possibly overlapping) blocks, which compaction merges.
 *
 * After a cut the WAL moves to a new segment, and every older segment that
 * no head profile points into is deleted.
 *
 * Compaction: blocks whose time ranges overlap are merged first; otherwise
 * the blocks inside one aligned range of 3, 9 or 27 block durations (not
 * past a tenth of the retention) are merged once that range is complete
 * (the newest data is past it). A compacted block names its sources; at
 * open a block named as a source of another is deleted (the compaction got
 * as far as the rename).
 *
 * WAL checkpoint (Prometheus's): the WAL moves to a new segment, the
 * records of the head's profiles in older segments (or in the previous
 * checkpoint) are copied into checkpoint.N, the head points at the copies,
 * and the older segments and checkpoint are deleted. Retention takes what
 * it drops out of the head and the blocks list, checkpoints, and only then
 * deletes the blocks' directories: at every instant, what a replay could
 * bring back is either still on disk in a block (dropped again at open) or
 * gone from the WAL. Time retention drops the head's profiles older than
 * the limit too. Size retention counts the directories as du -sb does and
 * first cuts the whole head into blocks when the WAL holds more than half
 * of the cap.
 *
 * Retention: by time, blocks whose newest profile is older than the
 * newest profile in the store (never later than now + max-future) minus
 * the retention; by size, the oldest
 * blocks while blocks + WAL exceed the cap.
 */
#include "tsdb/tsdb-internal.h"
#include "tsdb/codec/codec.h"
#include "pprof/pprof.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

static int64_t align_down(int64_t t, int64_t d)
{
	int64_t r = t % d;
	return r < 0 ? t - r - d : t - r;
}

/* ---- cut --------------------------------------------------------------- */

struct cut_entry {
	struct tsdb__series *s;
	int64_t t_ns;
	uint32_t seq;
	uint8_t kind;
	uint64_t size;
	struct tsdb__loc loc;
	size_t ntotals;
	struct tsdb_total *totals;
};

static int cmp_cut(const void *a, const void *b)
{
	const struct cut_entry *x = a, *y = b;
	uint32_t sx = tsdb__series_id(x->s), sy = tsdb__series_id(y->s);
	if (sx != sy)
		return sx < sy ? -1 : 1;
	if (x->t_ns != y->t_ns)
		return x->t_ns < y->t_ns ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Write the head's profiles with lo <= t < hi as one block and move them
 * there. */
static int cut_window(struct tsdb *db, int64_t lo, int64_t hi, struct pf_err *err)
{
	struct cut_entry *ce = NULL;
	size_t n = 0, cap = 0;
	struct tsdb__bw *w = NULL;
	struct tsdb__block *b = NULL;
	struct pf_buf meta = PF_BUF_INIT(TSDB__META_MAX), body = PF_BUF_INIT(0);
	char name[TSDB__BLOCK_NAME_LEN + 1];
	int64_t t0 = pf_mono_ns();
	int rc;

	tsdb__head_rdlock(db->head);
	for (uint32_t i = 0; i < tsdb__head_nseries(db->head); i++) {
		struct tsdb__series *s = tsdb__head_by_id(db->head, i);
		size_t ne;
		const struct tsdb__entry *e = tsdb__series_entries(s, &ne);
		for (size_t j = 0; j < ne; j++) {
			if (e[j].t_ns < lo || e[j].t_ns >= hi)
				continue;
			pf_xgrow((void **)&ce, &cap, n + 1, sizeof(*ce));
			struct cut_entry *c = &ce[n++];
			c->s = s;
			c->t_ns = e[j].t_ns;
			c->seq = e[j].seq;
			c->kind = e[j].kind;
			c->size = e[j].size;
			c->loc = e[j].loc;
			c->ntotals = e[j].ntotals;
			c->totals = pf_xcalloc(c->ntotals + 1, sizeof(*c->totals));
			for (size_t k = 0; k < c->ntotals; k++) {
				c->totals[k].type = tsdb__head_sym(db->head, e[j].totals[k].type);
				c->totals[k].unit = tsdb__head_sym(db->head, e[j].totals[k].unit);
				c->totals[k].value = e[j].totals[k].value;
			}
		}
	}
	tsdb__head_unlock(db->head);
	if (n == 0)
		return 0;
	qsort(ce, n, sizeof(*ce), cmp_cut);

	if ((rc = tsdb__bw_new(db->blocks_dir, &w, err)) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct cut_entry *c = &ce[i];
		struct pprof_profile *p = NULL;
		struct pf_err e2 = {0};
		if (i == 0 || ce[i - 1].s != c->s) {
			const char *names[TSDB__MAX_LABELS], *values[TSDB__MAX_LABELS];
			size_t nl = tsdb__series_nlabels(c->s);
			uint64_t max_seq = 0;
			for (size_t k = i; k < n && ce[k].s == c->s; k++)
				if (ce[k].seq > max_seq)
					max_seq = ce[k].seq;
			tsdb__head_rdlock(db->head);
			for (size_t k = 0; k < nl; k++)
				tsdb__series_label(db->head, c->s, k, &names[k], &values[k]);
			tsdb__head_unlock(db->head);
			if ((rc = tsdb__bw_series(w, tsdb__series_hash(c->s), names, values, nl, max_seq,
						  err)) < 0)
				goto out;
		}
		pf_buf_reset(&body);
		/* the WAL segments cannot go away: only maintenance deletes them */
		if ((rc = tsdb__wal_read(db->wal, &c->loc, c->size, &meta, &body, err)) < 0)
			goto out;
		if (c->kind == TSDB_KIND_PPROF &&
		    pprof_decode(body.data, body.len, db->max_profile, &p, &e2) < 0) {
			/* keep the stored bytes as they are */
			pf_log(PF_LOG_WARN, "stored profile does not decode; kept as raw bytes", "err",
			       e2.msg, NULL);
			p = NULL;
		}
		rc = tsdb__bw_add(w, c->t_ns, c->seq, c->kind, c->size, c->totals, c->ntotals, p,
				  body.data, body.len, err);
		pprof_free(p);
		if (rc < 0)
			goto out;
	}
	if ((rc = tsdb__bw_commit(w, 1, NULL, 0, name, err)) < 0 ||
	    (rc = tsdb__block_open(db->blocks_dir, name, &b, err)) < 0)
		goto out;

	/* the switch: the block appears and the head forgets, at once */
	pthread_rwlock_wrlock(&db->state);
	tsdb__head_wrlock(db->head);
	for (size_t i = 0; i < n; i++)
		tsdb__head_remove_locked(db->head, ce[i].s, ce[i].t_ns, ce[i].seq);
	tsdb__blocks_add(db, b);
	tsdb__head_unlock(db->head);
	pthread_rwlock_unlock(&db->state);
	b = NULL;
	__atomic_fetch_add(&db->cuts, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&db->cut_ns, (uint64_t)(pf_mono_ns() - t0), __ATOMIC_RELAXED);
	{
		char np[32];
		snprintf(np, sizeof(np), "%zu", n);
		pf_log(PF_LOG_INFO, "head cut into a block", "block", name, "profiles", np, NULL);
	}
out:
	tsdb__bw_free(w);
	tsdb__block_unref(b);
	for (size_t i = 0; i < n; i++)
		free(ce[i].totals);
	free(ce);
	pf_buf_free(&meta);
	pf_buf_free(&body);
	return rc;
}

static int cut_head(struct tsdb *db, int flush, int *cut, struct pf_err *err)
{
	int rc;

	for (;;) {
		int64_t min_t, max_t;
		int any;
		tsdb__head_rdlock(db->head);
		any = tsdb__head_bounds(db->head, &min_t, &max_t);
		tsdb__head_unlock(db->head);
		if (!any)
			return 0;
		if (!flush && (double)max_t - (double)min_t < 1.5 * (double)db->block_ns)
			return 0;
		int64_t lo = align_down(min_t, db->block_ns);
		int64_t hi = lo > INT64_MAX - db->block_ns ? INT64_MAX : lo + db->block_ns;
		if ((rc = cut_window(db, lo, hi, err)) < 0)
			return rc;
		*cut = 1;
		if (hi == INT64_MAX)
			return 0;
	}
}

/* Delete the WAL segments no head profile points into. */
static int clean_wal(struct tsdb *db, struct pf_err *err)
{
	uint32_t cur, oldest_live = UINT32_MAX;
	int rc, ckpt_live = 0;

	if ((rc = tsdb__wal_cut(db->wal, &cur, err)) < 0)
		return rc;
	tsdb__wait_appends(db); /* records of the old segments are in the head */
	pthread_rwlock_wrlock(&db->state);
	tsdb__head_rdlock(db->head);
	for (uint32_t i = 0; i < tsdb__head_nseries(db->head); i++) {
		size_t ne;
		const struct tsdb__entry *e = tsdb__series_entries(tsdb__head_by_id(db->head, i), &ne);
		for (size_t j = 0; j < ne; j++)
			if (e[j].loc.kind == TSDB__LOC_CKPT)
				ckpt_live = 1;
			else if (e[j].loc.seg < oldest_live)
				oldest_live = e[j].loc.seg;
	}
	tsdb__head_unlock(db->head);
	rc = tsdb__wal_remove_before(db->wal, oldest_live < cur ? oldest_live : cur, err);
	if (rc == 0 && !ckpt_live)
		rc = tsdb__wal_drop_checkpoints(db->wal, 0, err);
	pthread_rwlock_unlock(&db->state);
	return rc;
}

/* ---- WAL checkpoint ---------------------------------------------------- */

struct ck_entry {
	struct tsdb__series *s;
	int64_t t_ns;
	uint32_t seq;
	uint64_t size;
	struct tsdb__loc from, to;
};

static int cmp_ck(const void *a, const void *b)
{
	const struct ck_entry *x = a, *y = b;
	if (x->from.kind != y->from.kind)
		return x->from.kind == TSDB__LOC_CKPT ? -1 : 1;
	if (x->from.seg != y->from.seg)
		return x->from.seg < y->from.seg ? -1 : 1;
	return x->from.off < y->from.off ? -1 : x->from.off > y->from.off;
}

/* Checkpoint the WAL: afterwards it holds the head's profiles and nothing
 * else (but what is appended meanwhile). Maintenance only (maint_mu, or
 * the open before the thread starts). */
static int checkpoint(struct tsdb *db, struct pf_err *err)
{
	struct ck_entry *ce = NULL;
	size_t n = 0, cap = 0;
	struct tsdb__wal_ckpt *c = NULL;
	int64_t t0 = pf_mono_ns();
	uint32_t cur, num;
	int rc;

	if ((rc = tsdb__wal_cut(db->wal, &cur, err)) < 0)
		goto out;
	tsdb__wait_appends(db); /* records of the old segments are in the head */
	num = cur - 1;
	tsdb__head_rdlock(db->head);
	for (uint32_t i = 0; i < tsdb__head_nseries(db->head); i++) {
		struct tsdb__series *s = tsdb__head_by_id(db->head, i);
		size_t ne;
		const struct tsdb__entry *e = tsdb__series_entries(s, &ne);
		for (size_t j = 0; j < ne; j++) {
			if (e[j].loc.kind != TSDB__LOC_CKPT && e[j].loc.seg >= cur)
				continue;
			pf_xgrow((void **)&ce, &cap, n + 1, sizeof(*ce));
			ce[n].s = s;
			ce[n].t_ns = e[j].t_ns;
			ce[n].seq = e[j].seq;
			ce[n].size = e[j].size;
			ce[n].from = e[j].loc;
			n++;
		}
	}
	tsdb__head_unlock(db->head);
	if (n > 1)
		qsort(ce, n, sizeof(*ce), cmp_ck); /* read the old files in order */
	if ((rc = tsdb__wal_ckpt_new(db->wal, num, &c, err)) < 0)
		goto out;
	/* the old files cannot go away: only maintenance deletes them */
	for (size_t i = 0; i < n; i++)
		if ((rc = tsdb__wal_ckpt_add(c, &ce[i].from, ce[i].size, &ce[i].to, err)) < 0)
			goto out;
	if (db->test_crash_at == TSDB__CRASH_CKPT_WRITTEN) {
		tsdb__wal_ckpt_abandon(c);
		c = NULL;
		rc = pf_err_set(err, PF_EIO, "test: crash before the checkpoint's rename");
		goto out;
	}
	if ((rc = tsdb__wal_ckpt_commit(c, err)) < 0)
		goto out;
	if (db->test_crash_at == TSDB__CRASH_CKPT_RENAMED) {
		rc = pf_err_set(err, PF_EIO, "test: crash after the checkpoint's rename");
		goto out;
	}
	/* the switch: the head reads the copies, the old files go */
	pthread_rwlock_wrlock(&db->state);
	tsdb__head_wrlock(db->head);
	for (size_t i = 0; i < n; i++)
		tsdb__head_move_locked(ce[i].s, ce[i].t_ns, ce[i].seq, &ce[i].from, &ce[i].to);
	tsdb__head_unlock(db->head);
	rc = tsdb__wal_remove_before(db->wal, cur, err);
	if (rc == 0)
		rc = tsdb__wal_drop_checkpoints(db->wal, num, err);
	pthread_rwlock_unlock(&db->state);
out:
	tsdb__wal_ckpt_free(c);
	free(ce);
	if (rc < 0) {
		__atomic_fetch_add(&db->checkpoint_failures, 1, __ATOMIC_RELAXED);
		pf_err_prefix(err, "WAL checkpoint: ");
		return rc;
	}
	__atomic_fetch_add(&db->checkpoints, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&db->checkpoint_ns, (uint64_t)(pf_mono_ns() - t0), __ATOMIC_RELAXED);
	{
		char np[32], nn[32];
		snprintf(np, sizeof(np), "%zu", n);
		snprintf(nn, sizeof(nn), "%" PRIu32, num);
		pf_log(PF_LOG_INFO, "WAL checkpoint written", "checkpoint", nn, "profiles", np, NULL);
	}
	return 0;
}

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
		int64_t hi = align_down(tsdb__block_info(bs[i])->max_t, db->block_ns);
		size_t j = i + 1;
		while (j < nb && align_down(tsdb__block_info(bs[j])->min_t, db->block_ns) <= hi) {
			int64_t h = align_down(tsdb__block_info(bs[j])->max_t, db->block_ns);
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
			int64_t lo = align_down(tsdb__block_info(bs[i])->min_t, r);
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

/* ---- retention --------------------------------------------------------- */

/* Blocks taken out of the list, deleted once the WAL is checkpointed. */
struct dropping {
	struct tsdb__block **b; /* the list's references */
	const char **why;
	size_t n, cap, capwhy;
	size_t covered; /* the first covered were taken out before a checkpoint */
};

static void unlist_block(struct tsdb *db, struct dropping *d, struct tsdb__block *b,
			 const char *why)
{
	pthread_rwlock_wrlock(&db->state);
	tsdb__blocks_remove(db, b);
	pthread_rwlock_unlock(&db->state);
	pf_xgrow((void **)&d->b, &d->cap, d->n + 1, sizeof(*d->b));
	pf_xgrow((void **)&d->why, &d->capwhy, d->n + 1, sizeof(*d->why));
	d->b[d->n] = b;
	d->why[d->n++] = why;
}

static void delete_block(struct tsdb *db, struct tsdb__block *b, const char *why)
{
	struct pf_err e2 = {0};
	char name[TSDB__BLOCK_NAME_LEN + 1];
	uint64_t np = tsdb__block_info(b)->nprofiles;

	snprintf(name, sizeof(name), "%s", tsdb__block_info(b)->name);
	if (tsdb__block_delete(b, &e2) < 0)
		pf_log(PF_LOG_WARN, "could not remove a block", "err", e2.msg, NULL);
	tsdb__block_unref(b); /* the list's reference */
	__atomic_fetch_add(&db->retention_drops, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&db->retention_dropped_profiles, np, __ATOMIC_RELAXED);
	pf_log(PF_LOG_INFO, "block dropped by retention", "block", name, "reason", why, NULL);
}

/* Forget the head's profiles older than limit (state exclusive, so no query
 * half sees it); their WAL records stay until the next checkpoint. */
static uint64_t drop_head_before(struct tsdb *db, int64_t limit)
{
	int64_t hmin, hmax;
	uint64_t n = 0;
	int any;

	tsdb__head_rdlock(db->head);
	any = tsdb__head_bounds(db->head, &hmin, &hmax);
	tsdb__head_unlock(db->head);
	if (!any || hmin >= limit)
		return 0;
	pthread_rwlock_wrlock(&db->state);
	tsdb__head_wrlock(db->head);
	for (uint32_t i = 0; i < tsdb__head_nseries(db->head); i++) {
		struct tsdb__series *s = tsdb__head_by_id(db->head, i);
		size_t ne;
		const struct tsdb__entry *e = tsdb__series_entries(s, &ne);
		while (ne > 0 && e[0].t_ns < limit) {
			tsdb__head_remove_locked(db->head, s, e[0].t_ns, e[0].seq);
			n++;
			e = tsdb__series_entries(s, &ne);
		}
	}
	tsdb__head_unlock(db->head);
	pthread_rwlock_unlock(&db->state);
	__atomic_fetch_add(&db->retention_dropped_profiles, n, __ATOMIC_RELAXED);
	{
		char nn[32];
		snprintf(nn, sizeof(nn), "%" PRIu64, n);
		pf_log(PF_LOG_INFO, "head profiles dropped by retention", "profiles", nn, "reason",
		       "time", NULL);
	}
	return n;
}

static uint64_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && st.st_size > 0 ? (uint64_t)st.st_size : 0;
}

/* The store's bytes as du -sb counts them: listed blocks (files and
 * directory), WAL segments and checkpoints, the directories and the lock. */
static uint64_t store_bytes(struct tsdb *db, uint64_t *wal)
{
	struct tsdb__block **bs;
	char path[PATH_MAX];
	uint64_t total = 0, fsyncs;
	size_t nb;

	bs = tsdb__blocks_get(db, &nb);
	for (size_t i = 0; i < nb; i++)
		total += tsdb__block_info(bs[i])->bytes + file_size(tsdb__block_path(bs[i]));
	tsdb__blocks_put(bs, nb);
	tsdb__wal_counters(db->wal, &fsyncs, wal);
	total += *wal + file_size(db->dir) + file_size(db->blocks_dir);
	snprintf(path, sizeof(path), "%s/wal", db->dir);
	total += file_size(path);
	snprintf(path, sizeof(path), "%s/lock", db->dir);
	return total + file_size(path);
}

/* Size retention: over the cap, cut the head early when the WAL holds more
 * than half of it, checkpoint, then take the oldest blocks out while over.
 * A failed cut or checkpoint (a full disk) is returned, but the blocks are
 * taken out all the same: space comes first. */
static int retain_size(struct tsdb *db, struct dropping *d, int *ckpt, struct pf_err *err)
{
	uint64_t wal, cap = db->retention_bytes;
	int rc = 0, cut = 0;

	if (store_bytes(db, &wal) <= cap)
		return 0;
	if (wal > cap / 2) {
		/* blocks keep a fraction of the WAL's bytes: write the whole head
		 * out now rather than drop the blocks to make room for the WAL */
		rc = cut_head(db, 1, &cut, err);
		if (cut) {
			char nw[32];
			snprintf(nw, sizeof(nw), "%" PRIu64, wal);
			pf_log(PF_LOG_INFO, "head cut early: the WAL holds more than half of "
					    "-tsdb.retention-size",
			       "wal_bytes", nw, NULL);
			*ckpt = 0;
		}
	}
	if (rc == 0 && !*ckpt && (rc = checkpoint(db, err)) == 0) {
		*ckpt = 1;
		d->covered = d->n;
	}
	for (;;) {
		struct tsdb__block **bs;
		size_t nb, old = 0;
		if (store_bytes(db, &wal) <= cap)
			return rc;
		bs = tsdb__blocks_get(db, &nb);
		if (nb == 0) {
			tsdb__blocks_put(bs, nb);
			return rc;
		}
		/* the oldest: smallest max_t */
		for (size_t i = 1; i < nb; i++)
			if (tsdb__block_info(bs[i])->max_t < tsdb__block_info(bs[old])->max_t)
				old = i;
		unlist_block(db, d, bs[old], "size");
		tsdb__blocks_put(bs, nb);
	}
}

void tsdb__retention(struct tsdb *db)
{
	struct tsdb__block **bs;
	size_t nb;
	int64_t newest = INT64_MIN, hmin, hmax;
	struct dropping d = {0};
	struct pf_err err = {0};
	int ckpt = 0;

	if (!db->retention_ns && !db->retention_bytes)
		return;
	bs = tsdb__blocks_get(db, &nb);
	tsdb__head_rdlock(db->head);
	if (tsdb__head_bounds(db->head, &hmin, &hmax))
		newest = hmax;
	tsdb__head_unlock(db->head);
	for (size_t i = 0; i < nb; i++)
		if (tsdb__block_info(bs[i])->max_t > newest)
			newest = tsdb__block_info(bs[i])->max_t;
	if (db->retention_ns && newest != INT64_MIN) {
		/* back from min(newest, now + max-future): a far-future profile
		 * already stored does not make everything else too old */
		int64_t limit = tsdb__retention_limit(db, newest, pf_now_ns());
		for (size_t i = 0; i < nb; i++)
			if (tsdb__block_info(bs[i])->max_t < limit)
				unlist_block(db, &d, bs[i], "time");
		if (drop_head_before(db, limit))
			db->ckpt_pending = 1;
	}
	tsdb__blocks_put(bs, nb);
	/* what retention drops leaves the WAL before its block is deleted */
	if (d.n || db->ckpt_pending) {
		if (checkpoint(db, &err) == 0) {
			ckpt = 1;
			d.covered = d.n;
		} else {
			pf_log(PF_LOG_ERROR, "retention could not checkpoint the WAL", "err", err.msg,
			       NULL);
		}
	}
	if (db->retention_bytes && retain_size(db, &d, &ckpt, &err) < 0)
		pf_log(PF_LOG_ERROR, "size retention could not cut the head or checkpoint the WAL",
		       "err", err.msg, NULL);
	if (ckpt)
		db->ckpt_pending = 0; /* the WAL holds what the head holds */
	else if (d.n)
		db->ckpt_pending = 1;
	for (size_t i = 0; i < d.n; i++) {
		int safe = ckpt || i < d.covered;
		if (db->test_crash_at == TSDB__CRASH_BEFORE_BLOCK_RM) {
			tsdb__blocks_add(db, d.b[i]); /* a crash now: the blocks stay on disk */
		} else if (safe || strcmp(d.why[i], "size") == 0) {
			/* a size drop goes even without a checkpoint (a full disk
			 * needs the space); a crash before the next checkpoint may
			 * bring its profiles back until a round drops them again */
			if (!safe)
				pf_log(PF_LOG_WARN, "block dropped without a WAL checkpoint", "block",
				       tsdb__block_info(d.b[i])->name, NULL);
			delete_block(db, d.b[i], d.why[i]);
		} else {
			tsdb__blocks_add(db, d.b[i]); /* stays until a round checkpoints */
		}
	}
	free(d.b);
	free(d.why);
}

/* ---- the round --------------------------------------------------------- */

int tsdb_maintain(struct tsdb *db, int flush, struct pf_err *err)
{
	int rc, cut = 0;

	if (!db)
		return PF_EINVAL;
	pthread_mutex_lock(&db->maint_mu);
	rc = cut_head(db, flush, &cut, err);
	if (rc == 0 && (cut || flush))
		rc = clean_wal(db, err);
	for (int round = 0; rc == 0 && round < 8; round++) {
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
	if (rc == 0)
		tsdb__retention(db);
	__atomic_fetch_add(&db->maint_rounds, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&db->maint_mu);
	return rc;
}

static void *maint_thread(void *arg)
{
	struct tsdb *db = arg;

	pthread_mutex_lock(&db->stop_mu);
	while (!db->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t ns = (int64_t)ts.tv_nsec + db->maint_ns;
		ts.tv_sec += (time_t)(ns / 1000000000);
		ts.tv_nsec = (long)(ns % 1000000000);
		pthread_cond_timedwait(&db->stop_cv, &db->stop_mu, &ts);
		if (db->stop)
			break;
		pthread_mutex_unlock(&db->stop_mu);
		struct pf_err err = {0};
		if (tsdb_maintain(db, 0, &err) < 0)
			pf_log(PF_LOG_ERROR, "store maintenance failed; retrying later", "err", err.msg,
			       NULL);
		pthread_mutex_lock(&db->stop_mu);
	}
	pthread_mutex_unlock(&db->stop_mu);
	return NULL;
}

int tsdb__maint_start(struct tsdb *db, struct pf_err *err)
{
	int e = pthread_create(&db->thread, NULL, maint_thread, db);
	if (e)
		return pf_err_set(err, PF_EIO, "start the store's maintenance thread: %s", strerror(e));
	db->thread_started = 1;
	return 0;
}

void tsdb__maint_stop(struct tsdb *db)
{
	if (!db || !db->thread_started)
		return;
	pthread_mutex_lock(&db->stop_mu);
	db->stop = 1;
	pthread_cond_broadcast(&db->stop_cv);
	pthread_mutex_unlock(&db->stop_mu);
	pthread_join(db->thread, NULL);
	db->thread_started = 0;
}
