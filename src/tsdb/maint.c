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
 * Compaction (compact.c) merges blocks; retention (retention.c) drops
 * what is too old or over the size cap, with a WAL checkpoint first.
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

/* ---- cut --------------------------------------------------------------- */

struct cut_entry {
	struct tsdb__series *s;
	int64_t t_ns;
	uint32_t seq;
	uint8_t kind;
	uint64_t size;
	struct tsdb__loc loc;
	struct tsdb__hpos pos;
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

/*
 * Can the run ce[0..n) (one series, in (t, seq) order) go into the block
 * as the chunks of its head series are? When every profile is of the same
 * head series hs, which holds nothing else, in the order they were added,
 * and the block's table for the service is hs's group's.
 */
static int cut_copyable(struct tsdb__bw *w, const struct cut_entry *ce, size_t n)
{
	struct tsdb__hseries *hs = ce[0].pos.hs;
	const uint32_t *counts;
	uint64_t total;
	size_t nd, k = 0, j = 0;

	if (!hs || tsdb__bw_symtab(w) != tsdb__hgroup_symtab(tsdb__hseries_group(hs)))
		return 0;
	nd = tsdb__hseries_layout(hs, &counts, &total);
	if (total != n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (ce[i].pos.hs != hs || ce[i].pos.chunk != k || ce[i].pos.idx != j)
			return 0;
		/* the next position: in chunk k (finished or the open one) */
		if (k < nd && ++j == counts[k]) {
			k++;
			j = 0;
		} else if (k >= nd) {
			j++;
		}
	}
	return 1;
}

/* Write the run ce[0..n) of one series (its bw_series done). */
static int cut_series(struct tsdb *db, struct tsdb__bw *w, struct cut_entry *ce, size_t n,
		      struct pf_buf *meta, struct pf_buf *body, uint64_t *copied,
		      struct pf_err *err)
{
	struct tsdb__chunk_dec *dec = NULL;
	const struct tsdb__hseries *dec_hs = NULL;
	uint32_t dec_chunk = 0;
	struct tsdb__transcoder *tc = NULL;
	int rc = 0;

	if (cut_copyable(w, ce, n)) {
		/* the usual case: chunks copied, nothing decoded */
		struct tsdb__hseries *hs = ce[0].pos.hs;
		struct tsdb__bw_prof *pr = pf_xcalloc(n, sizeof(*pr));
		const uint32_t *counts;
		uint64_t total;
		size_t at = 0, nd;
		if ((rc = tsdb__hseries_seal_chunks(hs, err)) < 0)
			goto copy_out;
		nd = tsdb__hseries_layout(hs, &counts, &total);
		for (size_t i = 0; i < n; i++)
			pr[i] = (struct tsdb__bw_prof){ce[i].t_ns, ce[i].seq, ce[i].kind, ce[i].size,
						       ce[i].totals, ce[i].ntotals};
		for (size_t k = 0; k < nd && rc == 0; k++) {
			const struct pf_buf *c = tsdb__hseries_done(hs, k);
			rc = tsdb__bw_add_chunk(w, c->data, c->len, pr + at, counts[k], err);
			at += counts[k];
		}
		*copied += n;
	copy_out:
		free(pr);
		return rc;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct cut_entry *c = &ce[i];
		struct pprof_profile *p = NULL;
		struct pf_err e2 = {0};
		if (c->pos.hs) {
			/* rows re-encoded (out of order, or another table) */
			struct tsdb__symtab *st = tsdb__hgroup_symtab(tsdb__hseries_group(c->pos.hs));
			if (!dec || dec_hs != c->pos.hs || dec_chunk != c->pos.chunk) {
				tsdb__chunk_dec_free(dec);
				dec = NULL;
				if ((rc = tsdb__hseries_dec(c->pos.hs, c->pos.chunk, body, &dec, err)) < 0)
					break;
				dec_hs = c->pos.hs;
				dec_chunk = c->pos.chunk;
			}
			rc = tsdb__bw_add_from(w, c->t_ns, c->seq, c->kind, c->size, c->totals,
					       c->ntotals, st, dec, c->pos.idx, err);
			continue;
		}
		pf_buf_reset(body);
		/* the WAL segments cannot go away: only maintenance deletes them */
		if ((rc = tsdb__wal_read(db->wal, &c->loc, c->size, meta, body, err)) < 0)
			break;
		if (c->kind == TSDB_KIND_PPROF &&
		    pprof_decode(body->data, body->len, db->max_profile, &p, &e2) < 0) {
			/* keep the stored bytes as they are */
			pf_log(PF_LOG_WARN, "stored profile does not decode; kept as raw bytes", "err",
			       e2.msg, NULL);
			p = NULL;
		}
		rc = tsdb__bw_add(w, c->t_ns, c->seq, c->kind, c->size, c->totals, c->ntotals, p,
				  body->data, body->len, err);
		pprof_free(p);
	}
	tsdb__chunk_dec_free(dec);
	tsdb__transcoder_free(tc);
	return rc;
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;
	return x < y ? -1 : x > y;
}

/*
 * Write the head's profiles with lo <= t < hi (one block window) as one
 * block and move them there. The window's head groups are sealed first
 * (appends of that window that come later start new groups, left for the
 * next cut); their tables and chunks go into the block as they are.
 */
static int cut_window(struct tsdb *db, int64_t lo, int64_t hi, struct pf_err *err)
{
	struct cut_entry *ce = NULL;
	size_t n = 0, cap = 0, ngroups = 0, nlab = 0, caplab = 0;
	struct tsdb__hgroup **groups = NULL;
	const char **lab = NULL; /* each series' label names and values, in ce's order */
	struct tsdb__bw *w = NULL;
	struct tsdb__block *b = NULL;
	struct pf_buf meta = PF_BUF_INIT(TSDB__META_MAX), body = PF_BUF_INIT(0);
	char name[TSDB__BLOCK_NAME_LEN + 1];
	int64_t t0 = pf_mono_ns();
	uint64_t copied = 0;
	int rc;

	tsdb__hsym_seal(db, lo, 0);
	tsdb__wait_appends(db); /* every profile of the sealed groups is in the head */
	tsdb__head_rdlock(db->head);
	for (uint32_t i = 0; i < tsdb__head_nseries(db->head); i++) {
		struct tsdb__series *s = tsdb__head_by_id(db->head, i);
		size_t ne;
		const struct tsdb__entry *e = tsdb__series_entries(s, &ne);
		for (size_t j = 0; j < ne; j++) {
			if (e[j].t_ns < lo || e[j].t_ns >= hi)
				continue;
			if (e[j].pos.hs && !tsdb__hseries_sealed(e[j].pos.hs))
				continue; /* came after the seal: the next cut's */
			pf_xgrow((void **)&ce, &cap, n + 1, sizeof(*ce));
			struct cut_entry *c = &ce[n++];
			c->s = s;
			c->t_ns = e[j].t_ns;
			c->seq = e[j].seq;
			c->kind = e[j].kind;
			c->size = e[j].size;
			c->loc = e[j].loc;
			c->pos = e[j].pos;
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
	if (n == 0) {
		rc = 0;
		goto out;
	}
	qsort(ce, n, sizeof(*ce), cmp_cut);
	/* the series' labels, read before the groups are locked (the head's
	 * lock is never taken under a group's); the strings stay while the
	 * series is in the head, until the switch below */
	tsdb__head_rdlock(db->head);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && ce[i].s == ce[i - 1].s)
			continue;
		size_t nl = tsdb__series_nlabels(ce[i].s);
		pf_xgrow((void **)&lab, &caplab, nlab + 2 * nl, sizeof(*lab));
		for (size_t l = 0; l < nl; l++)
			tsdb__series_label(db->head, ce[i].s, l, &lab[nlab + 2 * l], &lab[nlab + 2 * l + 1]);
		nlab += 2 * nl;
	}
	tsdb__head_unlock(db->head);
	/* the sealed groups the cut reads, locked (head merges wait) in
	 * address order until the block is written */
	{
		size_t capg = 0;
		for (size_t i = 0; i < n; i++) {
			if (!ce[i].pos.hs)
				continue;
			pf_xgrow((void **)&groups, &capg, ngroups + 1, sizeof(*groups));
			groups[ngroups++] = tsdb__hseries_group(ce[i].pos.hs);
		}
		if (ngroups > 1)
			qsort(groups, ngroups, sizeof(*groups), cmp_ptr);
		size_t u = 0;
		for (size_t i = 0; i < ngroups; i++)
			if (u == 0 || groups[u - 1] != groups[i])
				groups[u++] = groups[i];
		ngroups = u;
		for (size_t i = 0; i < ngroups; i++)
			tsdb__hgroup_lock(groups[i]);
	}

	if ((rc = tsdb__bw_new(db->blocks_dir, &w, err)) < 0)
		goto out;
	for (size_t i = 0, loff = 0; i < n;) {
		struct cut_entry *c = &ce[i];
		const char *names[TSDB__MAX_LABELS], *values[TSDB__MAX_LABELS];
		size_t nl = tsdb__series_nlabels(c->s), k;
		uint64_t max_seq = 0;
		struct tsdb__symtab *st = NULL;
		for (k = i; k < n && ce[k].s == c->s; k++)
			if (ce[k].seq > max_seq)
				max_seq = ce[k].seq;
		for (size_t l = 0; l < nl; l++) {
			names[l] = lab[loff + 2 * l];
			values[l] = lab[loff + 2 * l + 1];
		}
		loff += 2 * nl;
		/* the block's table for the service: a sealed group's of this
		 * window (the first series of a service decides) */
		for (size_t l = 0; l < nl && !st; l++)
			if (strcmp(names[l], "service") == 0)
				for (size_t gi = 0; gi < ngroups && !st; gi++)
					if (strcmp(tsdb__hgroup_service(groups[gi]), values[l]) == 0)
						st = tsdb__hgroup_symtab(groups[gi]);
		if ((rc = tsdb__bw_series_st(w, tsdb__series_hash(c->s), names, values, nl, max_seq,
					     st, err)) < 0 ||
		    (rc = cut_series(db, w, ce + i, k - i, &meta, &body, &copied, err)) < 0)
			goto out;
		i = k;
	}
	if ((rc = tsdb__bw_commit(w, 1, NULL, 0, name, err)) < 0 ||
	    (rc = tsdb__block_open(db->blocks_dir, name, &b, err)) < 0)
		goto out;
	tsdb__bw_free(w); /* it borrows the groups' tables */
	w = NULL;
	for (size_t i = 0; i < ngroups; i++)
		tsdb__hgroup_unlock(groups[i]);
	ngroups = 0;

	/* the switch: the block appears and the head forgets, at once */
	pthread_rwlock_wrlock(&db->state);
	tsdb__head_wrlock(db->head);
	for (size_t i = 0; i < n; i++)
		tsdb__head_remove_locked(db->head, ce[i].s, ce[i].t_ns, ce[i].seq);
	tsdb__blocks_add(db, b);
	tsdb__hsym_gc(db); /* the sealed groups nothing names any more */
	tsdb__head_unlock(db->head);
	pthread_rwlock_unlock(&db->state);
	b = NULL;
	__atomic_fetch_add(&db->cuts, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&db->cut_ns, (uint64_t)(pf_mono_ns() - t0), __ATOMIC_RELAXED);
	{
		char np[32], nc[32];
		snprintf(np, sizeof(np), "%zu", n);
		snprintf(nc, sizeof(nc), "%" PRIu64, copied);
		pf_log(PF_LOG_INFO, "head cut into a block", "block", name, "profiles", np,
		       "chunks_copied_profiles", nc, NULL);
	}
out:
	for (size_t i = 0; i < ngroups; i++)
		tsdb__hgroup_unlock(groups[i]);
	free(groups);
	free(lab);
	tsdb__bw_free(w);
	tsdb__block_unref(b);
	for (size_t i = 0; i < n; i++)
		free(ce[i].totals);
	free(ce);
	pf_buf_free(&meta);
	pf_buf_free(&body);
	return rc;
}

int tsdb__cut_head(struct tsdb *db, int flush, int *cut, struct pf_err *err)
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
		int64_t lo = tsdb__align_down(min_t, db->block_ns);
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

/* ---- the round --------------------------------------------------------- */

int tsdb_maintain(struct tsdb *db, int flush, struct pf_err *err)
{
	int rc, cut = 0;

	if (!db)
		return PF_EINVAL;
	pthread_mutex_lock(&db->maint_mu);
	/* replayed head profiles into the symbolized head, a few seconds'
	 * worth per round (the cut decodes from the WAL what is left) */
	tsdb__hsym_catch_up(db, TSDB__CATCH_UP_NS);
	rc = tsdb__cut_head(db, flush, &cut, err);
	if (rc == 0 && (cut || flush))
		rc = clean_wal(db, err);
	if (rc == 0) {
		tsdb__compaction(db);
		tsdb__retention(db);
	}
	/* head groups no profile names any more (retention took them) */
	if (tsdb__hsym_seal(db, 0, 1) > 0) {
		tsdb__wait_appends(db);
		pthread_rwlock_wrlock(&db->state);
		tsdb__head_wrlock(db->head);
		tsdb__hsym_gc(db);
		tsdb__head_unlock(db->head);
		pthread_rwlock_unlock(&db->state);
	}
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
