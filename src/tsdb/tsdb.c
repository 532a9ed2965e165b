/*
 * The public tsdb API over the head (index) and the WAL (records).
 *
 * Data directory layout (this version):
 *   <dir>/lock      flock'd exclusively while a process has the store open
 *   <dir>/wal/      WAL segments 00000001, 00000002, ... (see wal.c)
 */
#include "tsdb/tsdb-internal.h"
#include "tsdb/codec/codec.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- ids --------------------------------------------------------------- */

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void tsdb__id_encode(uint64_t hash, int64_t t_ns, uint32_t seq, char *out)
{
	uint8_t b[20];

	put_be32(b, (uint32_t)(hash >> 32));
	put_be32(b + 4, (uint32_t)hash);
	put_be32(b + 8, (uint32_t)((uint64_t)t_ns >> 32));
	put_be32(b + 12, (uint32_t)(uint64_t)t_ns);
	put_be32(b + 16, seq);
	pf_base62_encode(b, sizeof(b), out, TSDB_ID_LEN + 1);
}

int tsdb__id_decode(const char *id, uint64_t *hash, int64_t *t_ns, uint32_t *seq)
{
	uint8_t b[20];

	if (!id || strnlen(id, TSDB_ID_LEN + 1) != TSDB_ID_LEN ||
	    pf_base62_decode(id, TSDB_ID_LEN, b, sizeof(b)) < 0)
		return PF_ENOTFOUND;
	*hash = (uint64_t)get_be32(b) << 32 | get_be32(b + 4);
	*t_ns = (int64_t)((uint64_t)get_be32(b + 8) << 32 | get_be32(b + 12));
	*seq = get_be32(b + 16);
	return 0;
}

int tsdb__newer_format(const char *path, uint32_t got, uint32_t known, struct pf_err *err)
{
	return pf_err_set(err, PF_ENEWER,
			  "%s: format version %" PRIu32 ", this profefe reads up to %" PRIu32
			  " (the store was written by a newer release of profefe)",
			  path, got, known);
}

struct tsdb__wal *tsdb__db_wal(struct tsdb *db)
{
	return db->wal;
}

/* ---- open / close ------------------------------------------------------ */

/* Remove leftovers of interrupted atomic creations (names with ".tmp"). */
static int remove_tmp(const char *dir, struct pf_err *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int rc = 0;

	if (!d)
		return errno == ENOENT ? 0 : pf_err_set(err, PF_EIO, "open directory %s: %s", dir,
							strerror(errno));
	while ((de = readdir(d)) != NULL) {
		char path[PATH_MAX];
		int n;
		if (!strstr(de->d_name, ".tmp"))
			continue;
		n = snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (n < 0 || (size_t)n >= sizeof(path))
			continue;
		pf_log(PF_LOG_INFO, "removing leftover temporary file", "file", path, NULL);
		if (pf_rm_rf(path) < 0) {
			rc = pf_err_set(err, PF_EIO, "remove %s: %s", path, strerror(errno));
			break;
		}
	}
	closedir(d);
	return rc;
}

static void log_skip(const char *msg, const char *path, const struct tsdb__loc *loc,
		     const char *why)
{
	char where[PATH_MAX + 32];
	snprintf(where, sizeof(where), "%s:%" PRIu64, path, loc->off);
	pf_log(PF_LOG_WARN, msg, "file", where, "reason", why, NULL);
}

static int replay_record(void *arg, const uint8_t *head, size_t nhead, uint64_t rec_len,
			 const struct tsdb__loc *loc, const char *path, struct pf_err *err)
{
	struct tsdb *db = arg;
	struct tsdb__rec *r = db->scratch;
	struct tsdb__series *s;
	const char *why = NULL;
	struct pf_err e2;

	(void)err;
	if (tsdb__rec_decode(head, nhead, rec_len, r, &why) < 0) {
		log_skip("WAL record not understood, skipped", path, loc, why);
		return 0;
	}
	/* cut into a block before the WAL segment could be deleted */
	if (tsdb__blocks_has(db, r->hash, r->t_ns, (uint32_t)r->seq)) {
		db->replay_dups++;
		return 0;
	}
	if (tsdb__head_get_series(db->head, r->hash, r->labels, r->nlabels, tsdb__blocks_seq_floor,
				  db, &s, &e2) < 0) {
		log_skip("WAL record skipped", path, loc, e2.msg);
		return 0;
	}
	tsdb__series_seen_seq(s, r->seq);
	/* symbolized by the maintenance rounds (tsdb__hsym_catch_up) */
	if (tsdb__head_insert(db->head, s, r->t_ns, (uint32_t)r->seq, r->kind, r->body_len,
			      r->totals, r->ntotals, loc, NULL) < 0)
		db->replay_dups++;
	return 0;
}

/* Load every block; drop the sources of a compaction that did not finish
 * deleting them; skip (and report) blocks that do not verify. */
static int load_blocks(struct tsdb *db, struct pf_err *err)
{
	DIR *d = opendir(db->blocks_dir);
	struct dirent *de;
	struct pf_map *sources = pf_map_new(16);
	int rc = 0;

	if (!d)
		return pf_err_set(err, PF_EIO, "open directory %s: %s", db->blocks_dir,
				  strerror(errno));
	while ((de = readdir(d)) != NULL) {
		struct tsdb__block *b;
		struct pf_err e2 = {0};
		if (!tsdb__block_name_ok(de->d_name))
			continue;
		if ((rc = tsdb__block_open(db->blocks_dir, de->d_name, &b, &e2)) == PF_ENEWER) {
			/* never skipped: retention and compaction would then act
			 * on a store they see only part of */
			rc = pf_err_set(err, rc, "%s", e2.msg);
			break;
		}
		rc = 0;
		if (b == NULL) {
			pf_log(PF_LOG_ERROR, "block is corrupt, skipped", "block", de->d_name, "err",
			       e2.msg, NULL);
			db->corrupt_skipped++;
			continue;
		}
		pf_xgrow((void **)&db->blocks, &db->capblocks, db->nblocks + 1, sizeof(*db->blocks));
		db->blocks[db->nblocks++] = b;
		const struct tsdb__block_info *in = tsdb__block_info(b);
		for (size_t i = 0; i < in->nsources; i++)
			pf_map_put(sources, in->sources[i], strlen(in->sources[i]), 1);
	}
	closedir(d);
	if (rc < 0) {
		pf_map_free(sources);
		return rc;
	}
	for (size_t i = 0; i < db->nblocks;) {
		const char *name = tsdb__block_info(db->blocks[i])->name;
		uint64_t v;
		if (pf_map_get(sources, name, strlen(name), &v)) {
			struct pf_err e2 = {0};
			pf_log(PF_LOG_INFO, "removing a block already compacted into another", "block",
			       name, NULL);
			if (tsdb__block_delete(db->blocks[i], &e2) < 0)
				pf_log(PF_LOG_WARN, "could not remove block", "err", e2.msg, NULL);
			tsdb__block_unref(db->blocks[i]);
			db->blocks[i] = db->blocks[--db->nblocks];
			continue;
		}
		i++;
	}
	pf_map_free(sources);
	if (db->nblocks > 1)
		qsort(db->blocks, db->nblocks, sizeof(*db->blocks), tsdb__blocks_cmp);
	return rc;
}

int tsdb_open(const struct tsdb_options *o, struct tsdb **out, struct pf_err *err)
{
	struct tsdb *db;
	char path[PATH_MAX];
	int rc, n;

	*out = NULL;
	if (!o || !o->dir || !o->dir[0])
		return pf_err_set(err, PF_EINVAL, "no data directory given");
	db = pf_xcalloc(1, sizeof(*db));
	db->lock_fd = -1;
	pthread_rwlock_init(&db->state, NULL);
	{
		/* writers first: a checkpoint waiting for the appends in flight
		 * is not starved by the next ones */
		pthread_rwlockattr_t a;
		pthread_rwlockattr_init(&a);
		pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&db->append_rw, &a);
		pthread_rwlockattr_destroy(&a);
	}
	pthread_mutex_init(&db->blocks_mu, NULL);
	pthread_mutex_init(&db->maint_mu, NULL);
	pthread_mutex_init(&db->stop_mu, NULL);
	pthread_cond_init(&db->stop_cv, NULL);
	tsdb__hsym_init(db);
	db->dir = pf_xstrdup(o->dir);
	db->max_body = o->max_body_bytes ? o->max_body_bytes : (size_t)1 << 30;
	db->max_profile = o->max_profile_bytes ? o->max_profile_bytes : (size_t)512 << 20;
	db->block_ns = o->block_duration_ns > 0 ? o->block_duration_ns : 2 * 3600 * (int64_t)1000000000;
	db->retention_ns = o->retention_ns > 0 ? o->retention_ns : 0;
	db->retention_bytes = o->retention_bytes;
	db->max_future_ns = o->max_future_ns > 0 ? o->max_future_ns : 0;
	db->maint_ns = o->maintenance_ns;
	if (db->maint_ns == 0) {
		db->maint_ns = db->block_ns / 4;
		if (db->maint_ns > 60 * (int64_t)1000000000)
			db->maint_ns = 60 * (int64_t)1000000000;
		if (db->maint_ns < 100 * (int64_t)1000000)
			db->maint_ns = 100 * (int64_t)1000000;
	}
	if ((rc = pf_mkdir_p(db->dir, err)) < 0)
		goto fail;
	n = snprintf(path, sizeof(path), "%s/lock", db->dir);
	if (n < 0 || (size_t)n >= sizeof(path) - 64) {
		rc = pf_err_set(err, PF_EINVAL, "data directory path too long: %s", db->dir);
		goto fail;
	}
	db->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (db->lock_fd < 0) {
		rc = pf_err_set(err, PF_EIO, "open %s: %s", path, strerror(errno));
		goto fail;
	}
	if (flock(db->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			rc = pf_err_set(err, PF_EIO, "data directory %s is in use by another "
						     "process (lock held on %s)",
					db->dir, path);
		else
			rc = pf_err_set(err, PF_EIO, "lock %s: %s", path, strerror(errno));
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/blocks", db->dir);
	db->blocks_dir = pf_xstrdup(path);
	if ((rc = pf_mkdir_p(db->blocks_dir, err)) < 0 || (rc = remove_tmp(db->dir, err)) < 0 ||
	    (rc = remove_tmp(db->blocks_dir, err)) < 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/wal", db->dir);
	if ((rc = remove_tmp(path, err)) < 0 || (rc = load_blocks(db, err)) < 0)
		goto fail;
	db->head = tsdb__head_new();
	db->scratch = pf_xmalloc(sizeof(*db->scratch));
	rc = tsdb__wal_open(path, o->wal_segment_bytes, replay_record, db, &db->wal,
			    &db->replayed, err);
	free(db->scratch);
	db->scratch = NULL;
	if (rc < 0 || (rc = pf_fsync_dir(db->dir, err)) < 0) /* wal/, blocks/ and lock entries */
		goto fail;
	db->catch_up = db->replayed > 0;
	if (db->replayed) {
		char nrec[32], ndup[32];
		snprintf(nrec, sizeof(nrec), "%" PRIu64, db->replayed);
		snprintf(ndup, sizeof(ndup), "%" PRIu64, db->replay_dups);
		pf_log(PF_LOG_INFO, "WAL replayed", "dir", path, "records", nrec,
		       "already_in_blocks", ndup, NULL);
	}
	/* retention runs at open; cuts and compactions wait for the background
	 * thread, so a big WAL does not delay the start */
	tsdb__retention(db);
	__atomic_store_n(&db->newest_t, tsdb__scan_newest(db), __ATOMIC_RELEASE);
	if (db->maint_ns > 0 && (rc = tsdb__maint_start(db, err)) < 0)
		goto fail;
	*out = db;
	return 0;
fail:
	tsdb__maint_stop(db);
	db->closed = 1; /* no flush on a failed open */
	tsdb_close(db);
	return rc;
}

void tsdb_close(struct tsdb *db)
{
	if (!db)
		return;
	tsdb__maint_stop(db);
	if (!__atomic_load_n(&db->closed, __ATOMIC_ACQUIRE) && db->wal && db->head) {
		/* clean shutdown: the head goes into blocks, the WAL is emptied */
		struct pf_err err = {0};
		if (tsdb_maintain(db, 1, &err) < 0)
			pf_log(PF_LOG_ERROR, "could not write the head out at close; the WAL keeps it",
			       "err", err.msg, NULL);
	}
	__atomic_store_n(&db->closed, 1, __ATOMIC_RELEASE);
	tsdb__wal_close(db->wal);
	tsdb__head_free(db->head);
	tsdb__hsym_free_all(db);
	for (size_t i = 0; i < db->nblocks; i++)
		tsdb__block_unref(db->blocks[i]);
	free(db->blocks);
	if (db->lock_fd >= 0)
		close(db->lock_fd); /* releases the flock */
	pthread_rwlock_destroy(&db->state);
	pthread_rwlock_destroy(&db->append_rw);
	pthread_mutex_destroy(&db->blocks_mu);
	pthread_mutex_destroy(&db->maint_mu);
	pthread_mutex_destroy(&db->stop_mu);
	pthread_cond_destroy(&db->stop_cv);
	free(db->blocks_dir);
	free(db->dir);
	free(db);
}

void tsdb__crash_close(struct tsdb *db)
{
	if (!db)
		return;
	tsdb__maint_stop(db);
	__atomic_store_n(&db->closed, 1, __ATOMIC_RELEASE);
	tsdb_close(db);
}

/* ---- append ------------------------------------------------------------ */

/* The service label's value among sorted labels ("" when missing). */
static void service_of(const struct tsdb__rec_label *rl, size_t n, const char **svc, size_t *len)
{
	*svc = "";
	*len = 0;
	for (size_t i = 0; i < n; i++)
		if (rl[i].name.n == 7 && memcmp(rl[i].name.p, "service", 7) == 0) {
			*svc = rl[i].value.p;
			*len = rl[i].value.n;
		}
}

/* The series a body goes to, when its labels are good (for append_decode). */
struct append_to {
	int ok;
	uint64_t hash;
	const struct tsdb__rec_label *rl;
	size_t nlabels;
};

/*
 * A pprof body's decode, before anything is written: into *flat, and when
 * the caller gave no totals, the totals computed (*own, its strings in
 * *strs, freed by the caller). A body that does not decode is PF_EINVAL
 * (PF_ELIMIT, PF_ETOOBIG, PF_EBUSY) with pprof_decode's sentence, totals
 * given or not.
 *
 * The body is read by its shape first (tsdb__flat_decode_shape). When its
 * series' open chunk took a profile of the same shape (so a body equal to
 * this one in everything but values, time, duration and period passed
 * every check), that is all: the values are what is new. Else the body is
 * decoded whole (tsdb__hsym_settle). An append that races with another one
 * of a new shape to the same series is decoded whole by tsdb__hsym_add.
 */
static int append_decode(struct tsdb *db, const struct tsdb_append_req *req,
			 const struct append_to *to, struct tsdb__flat **flat,
			 struct tsdb_total **own, char ***strs, struct pf_err *err)
{
	struct tsdb__flat *f = tsdb__flat_new();
	struct pprof_limits lim = {.max_decompressed = db->max_profile, .budget = req->budget};
	int64_t sums[PPROF_MAX_SAMPLE_TYPES];
	size_t nt;
	int rc;

	if (req->max_decompressed && req->max_decompressed < lim.max_decompressed)
		lim.max_decompressed = req->max_decompressed;
	if (req->plain)
		rc = tsdb__flat_decode_shape(f, req->plain, req->plain_len, &lim, err);
	else
		rc = tsdb__flat_decode_shape(f, req->body, req->len, &lim, err);
	if (rc == 0 && tsdb__flat_is_light(f)) {
		struct tsdb__series *s =
			to->ok ? tsdb__head_find_series(db->head, to->hash, to->rl, to->nlabels) : NULL;
		int64_t t = req->t_ns;
		const char *svc;
		size_t svc_len;
		if (req->time_nanos_wins && tsdb__flat_time_nanos(f) > 0)
			t = tsdb__flat_time_nanos(f);
		service_of(to->rl, to->nlabels, &svc, &svc_len);
		rc = tsdb__hsym_settle(db, s, svc, svc_len, t, f, err);
	}
	if (rc < 0) {
		tsdb__flat_free(f);
		if (req->info)
			req->info->body = TSDB_BODY_BAD;
		return rc;
	}
	*flat = f;
	if (req->need_samples && tsdb__flat_nsamples(f) == 0) {
		if (req->info)
			req->info->body = TSDB_BODY_EMPTY;
		return pf_err_set(err, PF_EINVAL, "profile has no samples");
	}
	if (req->ntotals)
		return 0;
	nt = tsdb__flat_ntypes(f);
	if (nt > PPROF_MAX_SAMPLE_TYPES || nt > TSDB__MAX_TOTALS) /* the decoder's cap */
		return pf_err_set(err, PF_EINVAL, "too many totals: %zu (at most %d)", nt,
				  TSDB__MAX_TOTALS);
	tsdb__flat_totals(f, sums);
	*own = pf_xcalloc(nt + 1, sizeof(**own));
	*strs = pf_xcalloc(2 * nt + 1, sizeof(char *));
	for (size_t i = 0; i < nt; i++) {
		const char *t, *u;
		size_t tl, ul;
		tsdb__flat_type(f, i, &t, &tl, &u, &ul);
		(*own)[i].type = (*strs)[2 * i] = pf_xstrndup(t, tl);
		(*own)[i].unit = (*strs)[2 * i + 1] = pf_xstrndup(u, ul);
		(*own)[i].value = sums[i];
	}
	return 0;
}

int tsdb_append(struct tsdb *db, const struct tsdb_append_req *req, char *id,
		struct pf_err *err)
{
	const struct tsdb_label *sorted[TSDB__MAX_LABELS];
	struct tsdb__rec_label rl[TSDB__MAX_LABELS];
	struct tsdb__rec_total *rt = NULL;
	struct pf_buf lab = PF_BUF_INIT(TSDB__META_MAX), meta = PF_BUF_INIT(TSDB__META_MAX);
	struct tsdb__series *s;
	struct tsdb__loc loc;
	struct tsdb__hpos pos = {0};
	struct tsdb__flat *flat = NULL;
	struct tsdb_total *own = NULL;
	char **own_strs = NULL;
	const struct tsdb_total *totals;
	size_t ntotals;
	int64_t t_ns;
	uint64_t seq;
	int rc, lab_rc, appending = 0;

	if (!db || __atomic_load_n(&db->closed, __ATOMIC_ACQUIRE))
		return pf_err_set(err, PF_ECLOSED, "store is closed");
	if (!req || (req->nlabels && !req->labels) || (req->ntotals && !req->totals))
		return pf_err_set(err, PF_EINVAL, "bad append request");
	if (req->info)
		memset(req->info, 0, sizeof(*req->info));
	if (req->kind != TSDB_KIND_PPROF && req->kind != TSDB_KIND_RAW)
		return pf_err_set(err, PF_EINVAL, "unknown profile kind %d", (int)req->kind);
	if (!req->body || req->len == 0)
		return pf_err_set(err, PF_EINVAL, "empty profile body");
	if (req->len > db->max_body)
		return pf_err_set(err, PF_ETOOBIG, "profile body of %zu bytes exceeds the limit of %zu",
				  req->len, db->max_body);
	if (req->ntotals > TSDB__MAX_TOTALS)
		return pf_err_set(err, PF_EINVAL, "too many totals: %zu (at most %d)", req->ntotals,
				  TSDB__MAX_TOTALS);
	for (size_t i = 0; i < req->ntotals; i++) {
		const struct tsdb_total *t = &req->totals[i];
		if (!t->type || !t->unit || strlen(t->type) > TSDB__MAX_TOTAL_STR ||
		    strlen(t->unit) > TSDB__MAX_TOTAL_STR)
			return pf_err_set(err, PF_EINVAL, "total %zu: bad type or unit", i);
	}
	if ((rc = tsdb__labels_sort_check(req->labels, req->nlabels, sorted, err)) < 0)
		return rc;
	for (size_t i = 0; i < req->nlabels; i++) {
		rl[i].name.p = sorted[i]->name;
		rl[i].name.n = strlen(sorted[i]->name);
		rl[i].value.p = sorted[i]->value;
		rl[i].value.n = strlen(sorted[i]->value);
	}
	lab_rc = tsdb__labels_encode(&lab, sorted, req->nlabels);
	totals = req->totals;
	ntotals = req->ntotals;
	t_ns = req->t_ns;
	if (req->kind == TSDB_KIND_PPROF) {
		struct append_to to = {.ok = lab_rc >= 0, .rl = rl, .nlabels = req->nlabels};
		if (to.ok)
			to.hash = tsdb__labels_hash(lab.data, lab.len);
		/* the body's refusals first (as when the caller decoded it) */
		if ((rc = append_decode(db, req, &to, &flat, &own, &own_strs, err)) < 0)
			goto out;
		if (req->time_nanos_wins && flat && tsdb__flat_time_nanos(flat) > 0)
			t_ns = tsdb__flat_time_nanos(flat);
	}
	if ((rc = tsdb__check_time(db, t_ns, err)) < 0)
		goto out;
	if (req->kind == TSDB_KIND_PPROF) {
		if (own) {
			totals = own;
			ntotals = tsdb__flat_ntypes(flat);
			for (size_t i = 0; i < ntotals; i++)
				if (strlen(own[i].type) > TSDB__MAX_TOTAL_STR ||
				    strlen(own[i].unit) > TSDB__MAX_TOTAL_STR) {
					rc = pf_err_set(err, PF_EINVAL, "total %zu: bad type or unit", i);
					goto out;
				}
		}
	}
	if (lab_rc < 0) {
		rc = pf_err_set(err, lab_rc, "labels too large");
		goto out;
	}
	rc = tsdb__head_get_series(db->head, tsdb__labels_hash(lab.data, lab.len), rl,
				   req->nlabels, tsdb__blocks_seq_floor, db, &s, err);
	if (rc < 0)
		goto out;
	seq = tsdb__series_next_seq(s);
	if (seq > UINT32_MAX) {
		rc = pf_err_set(err, PF_ETOOBIG, "series has run out of sequence numbers");
		goto out;
	}
	rc = tsdb__rec_encode_meta(&meta, lab.data, lab.len, t_ns, seq, (uint8_t)req->kind,
				   totals, ntotals, req->len);
	if (rc < 0) {
		rc = pf_err_set(err, PF_ETOOBIG, "labels and totals exceed %u bytes",
				TSDB__META_MAX);
		goto out;
	}
	pthread_rwlock_rdlock(&db->append_rw); /* until the head has it: tsdb__wait_appends */
	appending = 1;
	if ((rc = tsdb__wal_append(db->wal, meta.data, meta.len, req->body, req->len, &loc, err)) < 0)
		goto out;
	if (ntotals) {
		rt = pf_xcalloc(ntotals, sizeof(*rt));
		for (size_t i = 0; i < ntotals; i++) {
			rt[i].type.p = totals[i].type;
			rt[i].type.n = strlen(totals[i].type);
			rt[i].unit.p = totals[i].unit;
			rt[i].unit.n = strlen(totals[i].unit);
			rt[i].value = totals[i].value;
		}
	}
	if (flat) {
		/* durable now; the head takes the decoded form (inside append_rw,
		 * so a cut that seals the group waits for it) */
		const char *svc;
		size_t svc_len;
		struct pf_err e2 = {0};
		service_of(rl, req->nlabels, &svc, &svc_len);
		tsdb__flat_prepare(flat); /* its digest, outside the group's lock */
		if (tsdb__hsym_add(db, s, svc, svc_len, t_ns, flat, &pos, &e2) < 0) {
			pf_log(PF_LOG_WARN, "profile kept in the WAL only, not symbolized", "err",
			       e2.msg, NULL);
			pos.hs = NULL;
		}
	}
	if (req->kind == TSDB_KIND_PPROF && !pos.hs)
		__atomic_fetch_add(&db->unsymbolized, 1, __ATOMIC_RELAXED);
	if (tsdb__head_insert(db->head, s, t_ns, (uint32_t)seq, (uint8_t)req->kind, req->len,
			      rt, ntotals, &loc, &pos) < 0) {
		/* cannot happen: seq is unique within the series */
		rc = pf_err_set(err, PF_EINVAL, "profile id already taken");
		goto out;
	}
	pthread_rwlock_unlock(&db->append_rw);
	appending = 0;
	__atomic_fetch_add(&db->appends, 1, __ATOMIC_RELAXED);
	{
		int64_t cur = __atomic_load_n(&db->newest_t, __ATOMIC_RELAXED);
		while (t_ns > cur &&
		       !__atomic_compare_exchange_n(&db->newest_t, &cur, t_ns, 0,
						    __ATOMIC_RELEASE, __ATOMIC_RELAXED))
			;
	}
	if (id)
		tsdb__id_encode(tsdb__series_hash(s), t_ns, (uint32_t)seq, id);
	if (req->info)
		req->info->t_ns = t_ns;
	rc = 0;
out:
	if (appending)
		pthread_rwlock_unlock(&db->append_rw);
	tsdb__flat_free(flat);
	for (char **p = own_strs; p && *p; p++)
		free(*p);
	free(own_strs);
	free(own);
	free(rt);
	pf_buf_free(&lab);
	pf_buf_free(&meta);
	return rc;
}

