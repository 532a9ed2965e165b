/*
 * Retention, and the WAL checkpoint it needs.
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
 * blocks while blocks + WAL exceed the cap. The same window refuses
 * appends (tsdb__check_time).
 */
#include "tsdb/tsdb-internal.h"

#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

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
		rc = tsdb__cut_head(db, 1, &cut, err);
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
	int64_t newest;
	struct dropping d = {0};
	struct pf_err err = {0};
	int ckpt = 0;

	if (!db->retention_ns && !db->retention_bytes)
		return;
	/* the blocks list changes only in maintenance (maint_mu, or the open
	 * before the thread starts), so newest and bs agree */
	newest = tsdb__scan_newest(db);
	bs = tsdb__blocks_get(db, &nb);
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

/* ---- the time window of appends ---------------------------------------- */

static int64_t sat_add(int64_t a, int64_t b)
{
	int64_t r;
	return __builtin_add_overflow(a, b, &r) ? (b > 0 ? INT64_MAX : INT64_MIN) : r;
}

static int64_t sat_sub(int64_t a, int64_t b)
{
	int64_t r;
	return __builtin_sub_overflow(a, b, &r) ? (b > 0 ? INT64_MIN : INT64_MAX) : r;
}

/* The retention anchor: the newest profile time, never later than now +
 * max_future_ns (SPEC 10.1), so one far-future profile cannot make time
 * retention drop everything else. */
static int64_t retention_anchor(const struct tsdb *db, int64_t newest, int64_t now)
{
	if (db->max_future_ns > 0) {
		int64_t cap = sat_add(now, db->max_future_ns);
		if (newest > cap)
			return cap;
	}
	return newest;
}

int64_t tsdb__retention_limit(const struct tsdb *db, int64_t newest, int64_t now)
{
	return sat_sub(retention_anchor(db, newest, now), db->retention_ns);
}

/* The newest profile time in the head and the blocks; INT64_MIN when the
 * store is empty. Takes the head's lock, then blocks_mu. */
int64_t tsdb__scan_newest(struct tsdb *db)
{
	int64_t newest = INT64_MIN, hmin, hmax;

	tsdb__head_rdlock(db->head);
	if (tsdb__head_bounds(db->head, &hmin, &hmax))
		newest = hmax;
	tsdb__head_unlock(db->head);
	pthread_mutex_lock(&db->blocks_mu);
	for (size_t i = 0; i < db->nblocks; i++)
		if (tsdb__block_info(db->blocks[i])->max_t > newest)
			newest = tsdb__block_info(db->blocks[i])->max_t;
	pthread_mutex_unlock(&db->blocks_mu);
	return newest;
}

/* Refuse a profile time after now + max-future (PF_EFUTURE) or before the
 * retention window (PF_ETOOOLD): retention would drop the first with
 * everything else and the second at its next round. */
int tsdb__check_time(struct tsdb *db, int64_t t, struct pf_err *err)
{
	int64_t now = pf_now_ns(), newest;
	char ts[40], nows[40], dur[40], start[40], anchor[40];

	if (db->max_future_ns > 0 && t > sat_add(now, db->max_future_ns)) {
		pf_format_rfc3339(t, ts, sizeof(ts));
		pf_format_rfc3339(now, nows, sizeof(nows));
		pf_format_duration(db->max_future_ns, dur, sizeof(dur));
		return pf_err_set(err, PF_EFUTURE, "profile time %s is more than -tsdb.max-future %s "
				  "after the server's time %s", ts, dur, nows);
	}
	if (!db->retention_ns)
		return 0;
	/* the cached newest is at least the store's: passing it is passing */
	newest = __atomic_load_n(&db->newest_t, __ATOMIC_ACQUIRE);
	if (newest == INT64_MIN || t >= tsdb__retention_limit(db, newest, now))
		return 0;
	newest = tsdb__scan_newest(db);
	if (newest == INT64_MIN || t >= tsdb__retention_limit(db, newest, now))
		return 0;
	pf_format_rfc3339(t, ts, sizeof(ts));
	pf_format_rfc3339(tsdb__retention_limit(db, newest, now), start, sizeof(start));
	pf_format_duration(db->retention_ns, dur, sizeof(dur));
	pf_format_rfc3339(retention_anchor(db, newest, now), anchor, sizeof(anchor));
	return pf_err_set(err, PF_ETOOOLD, "profile time %s is before the retention window, which "
			  "starts at %s (-tsdb.retention %s before %s, %s)", ts, start, dur, anchor,
			  retention_anchor(db, newest, now) < newest
				  ? "the server's time plus -tsdb.max-future"
				  : "the newest profile's time");
}
