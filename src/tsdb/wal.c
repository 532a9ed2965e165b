/*
 * The write-ahead log: numbered segment files of CRC'd records (format:
 * docs/format/wal.md), appended with group commit and replayed at open.
 *
 * Group commit: an appender writes its record under mu (one pwritev) and
 * queues itself as a waiter. If no fdatasync is running it becomes the
 * leader: it notes how far the file is written, drops mu, syncs, retakes mu
 * and completes every waiter the sync covered, waking each alone; the first
 * waiter left (it wrote during the sync) is woken to lead the next sync.
 * Others sleep on their own waiter's word (a futex), so that a sync wakes
 * only the appenders it completes, which return without taking mu again
 * (a broadcast on one condition variable woke every appender, and each took
 * mu only to find most often that it was not done yet). A failed write is
 * cut off with ftruncate; a failed sync truncates the file back to the last
 * synced size, fails every pending waiter and marks the segment broken so
 * the next append starts a new one.
 *
 * Every segment's fd stays open until close for reads (pread); the table
 * of segments has its own rwlock so reads do not wait for writes.
 *
 * Checkpoints (Prometheus's): <dir>/checkpoint.NNNNNNNN holds the records
 * of segments <= N that the head still needs, in the segments' record
 * framing after its own header (docs/format/checkpoint.md). It is written
 * as .tmp, fsync'd and renamed; once it exists, segments <= N and older
 * checkpoints are obsolete: the open deletes them if a crash left them, and
 * replays the newest checkpoint, then the segments after N.
 */
#include "tsdb/tsdb-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <linux/futex.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SCAN_CHUNK (256u * 1024)

struct wal_seg {
	uint32_t num;
	int fd;
};

/* A waiter's state, the word its appender sleeps on: set under mu by
 * whoever completes it or hands it the lead; read by its appender. */
enum { W_WAIT = 0, W_DONE = 1, W_LEAD = 2 };

struct waiter {
	uint64_t seq;
	int rc;         /* set before state turns W_DONE */
	uint32_t state; /* W_*, a futex word */
	int sleeping;   /* under mu: its appender dropped mu to wait */
	struct waiter *next;
};

struct tsdb__wal {
	char *dir;
	uint64_t seg_bytes;

	pthread_mutex_t mu; /* everything below up to segs */
	pthread_cond_t cv;
	int cur_fd;
	uint32_t cur_num;
	uint64_t size;        /* bytes written to the current segment */
	uint64_t synced_size; /* of the current segment, covered by a sync */
	uint64_t written_seq, synced_seq;
	int syncing, broken, closed;
	struct waiter *wq_head, *wq_tail;
	uint64_t fsyncs, bytes;
	int fail_writes, fail_syncs;

	pthread_rwlock_t segs_rw; /* the table; fds themselves are used unlocked */
	struct wal_seg *segs;     /* sorted by num */
	size_t nsegs, capsegs;
	struct wal_seg *ckpts;    /* checkpoints readable (at most two: old, new) */
	size_t nckpts, capckpts;
};

/* ---- small file helpers ----------------------------------------------- */

static int seg_path(char *out, size_t n, const char *dir, uint32_t num)
{
	int w = snprintf(out, n, "%s/%08" PRIu32, dir, num);
	return w > 0 && (size_t)w < n ? 0 : -1;
}

static int ckpt_path(char *out, size_t n, const char *dir, uint32_t num, const char *suffix)
{
	int w = snprintf(out, n, "%s/" TSDB__CKPT_PREFIX "%08" PRIu32 "%s", dir, num, suffix);
	return w > 0 && (size_t)w < n ? 0 : -1;
}

/* The code of a failed write or sync: a full disk is told apart (the API
 * answers it with 507, SPEC §9). */
static int write_code(int e)
{
	return e == ENOSPC || e == EDQUOT ? PF_ENOSPC : PF_EIO;
}

static void log_at(enum pf_log_level lvl, const char *msg, const char *path, uint64_t off,
		   const char *why)
{
	char where[PATH_MAX + 32];
	snprintf(where, sizeof(where), "%s:%" PRIu64, path, off);
	pf_log(lvl, msg, "file", where, "reason", why ? why : "", NULL);
}

/* ---- scanning --------------------------------------------------------- */

enum { REC_OK = 0, REC_TORN, REC_BAD };

/*
 * Check the record at off: framing and CRC. On REC_OK head holds its first
 * *nhead bytes of type + payload and *len its length.
 */
static int check_record(int fd, uint64_t off, uint64_t size, uint8_t *head, size_t *nhead,
			uint8_t *chunk, uint32_t *len, const char **why)
{
	uint8_t hdr[TSDB__REC_HDR];
	uint64_t pos, left;
	uint32_t crc, want;
	size_t h;
	ssize_t r;

	if (size - off < TSDB__REC_HDR) {
		*why = "record header cut short";
		return REC_TORN;
	}
	r = pf_pread_full(fd, hdr, sizeof(hdr), off);
	if (r < 0)
		return -1;
	if ((size_t)r < sizeof(hdr)) {
		*why = "record header cut short";
		return REC_TORN;
	}
	*len = pf_get_le32(hdr);
	want = pf_get_le32(hdr + 4);
	if (*len == 0) {
		*why = "zero record length";
		return REC_BAD;
	}
	if (*len > size - off - TSDB__REC_HDR) {
		*why = "record runs past the end of the file";
		return REC_TORN;
	}
	h = PF_MIN((size_t)*len, (size_t)TSDB__META_MAX);
	r = pf_pread_full(fd, head, h, off + TSDB__REC_HDR);
	if (r < 0)
		return -1;
	if ((size_t)r < h) {
		*why = "record cut short";
		return REC_TORN;
	}
	crc = pf_crc32c(0, head, h);
	pos = off + TSDB__REC_HDR + h;
	left = *len - h;
	while (left > 0) {
		size_t c = (size_t)PF_MIN(left, (uint64_t)SCAN_CHUNK);
		r = pf_pread_full(fd, chunk, c, pos);
		if (r < 0)
			return -1;
		if ((size_t)r < c) {
			*why = "record cut short";
			return REC_TORN;
		}
		crc = pf_crc32c(crc, chunk, c);
		pos += c;
		left -= c;
	}
	if (crc != want) {
		*why = "checksum mismatch";
		return REC_BAD;
	}
	*nhead = h;
	return REC_OK;
}

/* A segment (kind TSDB__LOC_WAL) or a checkpoint (TSDB__LOC_CKPT). */
static int scan_file(int fd, uint8_t kind, uint32_t num, const char *path,
		     tsdb__wal_record_fn fn, void *arg, struct tsdb__scan_result *res,
		     struct pf_err *err)
{
	uint8_t hdr[TSDB__CKPT_HDR];
	size_t nhdr = kind == TSDB__LOC_CKPT ? TSDB__CKPT_HDR : TSDB__WAL_HDR;
	uint8_t *head = NULL, *chunk = NULL;
	struct stat st;
	uint64_t off;
	ssize_t r;
	int rc = 0;

	memset(res, 0, sizeof(*res));
	if (fstat(fd, &st) < 0 || st.st_size < 0)
		return pf_err_set(err, PF_EIO, "stat %s: %s", path, strerror(errno));
	res->size = (uint64_t)st.st_size;
	r = pf_pread_full(fd, hdr, nhdr, 0);
	if (r < 0)
		return pf_err_set(err, PF_EIO, "read %s: %s", path, strerror(errno));
	if ((size_t)r < nhdr) {
		res->status = TSDB__SCAN_TORN;
		res->why = kind == TSDB__LOC_CKPT ? "checkpoint header cut short"
						  : "segment header cut short";
		return 0;
	}
	/* a newer release's file: refused before anything else of it is
	 * trusted (its header may have changed too) */
	if (pf_get_le32(hdr) == (kind == TSDB__LOC_CKPT ? TSDB__CKPT_MAGIC : TSDB__WAL_MAGIC) &&
	    tsdb__version_newer(pf_get_le32(hdr + 4),
				kind == TSDB__LOC_CKPT ? TSDB__CKPT_VERSION : TSDB__WAL_VERSION)) {
		res->status = TSDB__SCAN_BADHDR;
		res->why = "format version newer than this build reads";
		return tsdb__newer_format(path, pf_get_le32(hdr + 4),
					  kind == TSDB__LOC_CKPT ? TSDB__CKPT_VERSION : TSDB__WAL_VERSION,
					  err);
	}
	if (kind == TSDB__LOC_CKPT &&
	    (pf_get_le32(hdr) != TSDB__CKPT_MAGIC || pf_get_le32(hdr + 4) != TSDB__CKPT_VERSION ||
	     pf_get_le32(hdr + 8) != num || pf_get_le32(hdr + 12) != pf_crc32c(0, hdr, 12))) {
		res->status = TSDB__SCAN_BADHDR;
		res->why = "not a profefe WAL checkpoint (bad magic, version, number or checksum)";
		return 0;
	}
	if (kind != TSDB__LOC_CKPT &&
	    (pf_get_le32(hdr) != TSDB__WAL_MAGIC || pf_get_le32(hdr + 4) != TSDB__WAL_VERSION)) {
		res->status = TSDB__SCAN_BADHDR;
		res->why = "not a profefe WAL segment (bad magic or version)";
		return 0;
	}
	head = pf_xmalloc(TSDB__META_MAX);
	chunk = pf_xmalloc(SCAN_CHUNK);
	off = res->good_end = nhdr;
	while (off < res->size) {
		const char *why = NULL;
		size_t nhead = 0;
		uint32_t len = 0;
		int k = check_record(fd, off, res->size, head, &nhead, chunk, &len, &why);
		if (k < 0) {
			rc = pf_err_set(err, PF_EIO, "read %s:%" PRIu64 ": %s", path, off,
					strerror(errno));
			goto out;
		}
		if (k == REC_OK) {
			struct tsdb__loc loc = {kind, num, off, TSDB__REC_HDR + (uint64_t)len};
			if ((rc = fn(arg, head, nhead, len, &loc, path, err)) < 0)
				goto out;
			res->records++;
			off += loc.len;
			res->good_end = off;
			continue;
		}
		if (k == REC_BAD && len > 0 && len <= res->size - off - TSDB__REC_HDR) {
			/* A damaged record with intact framing: skip it if an intact
			 * record follows, so bit rot costs one profile, not the rest. */
			uint64_t next = off + TSDB__REC_HDR + len;
			const char *why2 = NULL;
			uint32_t len2 = 0;
			if (next < res->size &&
			    check_record(fd, next, res->size, head, &nhead, chunk, &len2, &why2) ==
				    REC_OK) {
				log_at(PF_LOG_WARN, "WAL record damaged, skipped", path, off, why);
				res->skipped++;
				off = next;
				continue;
			}
		}
		res->status = k == REC_TORN ? TSDB__SCAN_TORN : TSDB__SCAN_CORRUPT;
		res->bad_off = off;
		res->why = why;
		break;
	}
out:
	free(head);
	free(chunk);
	return rc;
}

int tsdb__wal_scan(int fd, uint32_t seg, const char *path, tsdb__wal_record_fn fn, void *arg,
		   struct tsdb__scan_result *res, struct pf_err *err)
{
	return scan_file(fd, TSDB__LOC_WAL, seg, path, fn, arg, res, err);
}

int tsdb__wal_scan_checkpoint(int fd, uint32_t num, const char *path, tsdb__wal_record_fn fn,
			      void *arg, struct tsdb__scan_result *res, struct pf_err *err)
{
	return scan_file(fd, TSDB__LOC_CKPT, num, path, fn, arg, res, err);
}

/* ---- open and replay -------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int is_seg_name(const char *s, uint32_t *num)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 8)
			return 0;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (i != 8 || v == 0 || v > UINT32_MAX)
		return 0;
	*num = (uint32_t)v;
	return 1;
}

static int is_ckpt_name(const char *s, uint32_t *num)
{
	size_t n = strlen(TSDB__CKPT_PREFIX);
	return strncmp(s, TSDB__CKPT_PREFIX, n) == 0 && is_seg_name(s + n, num);
}

/* Segment numbers and checkpoint numbers found in dir, each sorted. */
static int list_segments(const char *dir, uint32_t **nums, size_t *n, uint32_t **cks,
			 size_t *nck, struct pf_err *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t cap = 0, capck = 0;

	*nums = *cks = NULL;
	*n = *nck = 0;
	if (!d)
		return pf_err_set(err, PF_EIO, "open directory %s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		uint32_t num;
		if (is_seg_name(de->d_name, &num)) {
			pf_xgrow((void **)nums, &cap, *n + 1, sizeof(uint32_t));
			(*nums)[(*n)++] = num;
		} else if (is_ckpt_name(de->d_name, &num)) {
			pf_xgrow((void **)cks, &capck, *nck + 1, sizeof(uint32_t));
			(*cks)[(*nck)++] = num;
		}
	}
	closedir(d);
	if (*n > 1)
		qsort(*nums, *n, sizeof(uint32_t), cmp_u32);
	if (*nck > 1)
		qsort(*cks, *nck, sizeof(uint32_t), cmp_u32);
	return 0;
}

/* A newer release's WAL (a segment or checkpoint of a higher version, by
 * its header): refused before the open changes anything (deletes what a
 * checkpoint covers, truncates a tail). */
static int refuse_newer(const char *dir, const uint32_t *nums, size_t n, const uint32_t *cks,
			size_t nck, struct pf_err *err)
{
	char path[PATH_MAX];
	uint8_t hdr[8];

	for (size_t i = 0; i < n + nck; i++) {
		int ck = i >= n, fd;
		uint32_t magic = ck ? TSDB__CKPT_MAGIC : TSDB__WAL_MAGIC;
		uint32_t known = ck ? TSDB__CKPT_VERSION : TSDB__WAL_VERSION;
		if ((ck ? ckpt_path(path, sizeof(path), dir, cks[i - n], "")
			: seg_path(path, sizeof(path), dir, nums[i])) < 0)
			return pf_err_set(err, PF_EINVAL, "WAL path too long: %s", dir);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			return pf_err_set(err, PF_EIO, "open %s: %s", path, strerror(errno));
		if (pf_pread_full(fd, hdr, sizeof(hdr), 0) == (ssize_t)sizeof(hdr) &&
		    pf_get_le32(hdr) == magic && tsdb__version_newer(pf_get_le32(hdr + 4), known)) {
			close(fd);
			return tsdb__newer_format(path, pf_get_le32(hdr + 4), known, err);
		}
		close(fd);
	}
	return 0;
}

/* A crash left files the newest checkpoint (cks[nck - 1]) made obsolete:
 * older checkpoints and segments it covers. Delete them (nums shrinks). */
static int drop_covered(const char *dir, uint32_t *nums, size_t *n, const uint32_t *cks,
			size_t nck, struct pf_err *err)
{
	uint32_t last = cks[nck - 1];
	size_t keep = 0, removed = 0;
	char path[PATH_MAX];

	for (size_t i = 0; i + 1 < nck; i++) {
		if (ckpt_path(path, sizeof(path), dir, cks[i], "") < 0)
			return pf_err_set(err, PF_EINVAL, "WAL path too long: %s", dir);
		pf_log(PF_LOG_INFO, "removing an older WAL checkpoint", "file", path, NULL);
		if (unlink(path) < 0 && errno != ENOENT)
			return pf_err_set(err, PF_EIO, "remove %s: %s", path, strerror(errno));
		removed++;
	}
	for (size_t i = 0; i < *n; i++) {
		if (nums[i] > last) {
			nums[keep++] = nums[i];
			continue;
		}
		if (seg_path(path, sizeof(path), dir, nums[i]) < 0)
			return pf_err_set(err, PF_EINVAL, "WAL path too long: %s", dir);
		pf_log(PF_LOG_INFO, "removing a WAL segment the checkpoint replaces", "file", path,
		       NULL);
		if (unlink(path) < 0 && errno != ENOENT)
			return pf_err_set(err, PF_EIO, "remove %s: %s", path, strerror(errno));
		removed++;
	}
	*n = keep;
	return removed ? pf_fsync_dir(dir, err) : 0;
}

static void segs_add(struct tsdb__wal *w, uint32_t num, int fd)
{
	pthread_rwlock_wrlock(&w->segs_rw);
	pf_xgrow((void **)&w->segs, &w->capsegs, w->nsegs + 1, sizeof(struct wal_seg));
	w->segs[w->nsegs].num = num;
	w->segs[w->nsegs].fd = fd;
	w->nsegs++;
	pthread_rwlock_unlock(&w->segs_rw);
}

static void ckpts_add(struct tsdb__wal *w, uint32_t num, int fd)
{
	pthread_rwlock_wrlock(&w->segs_rw);
	pf_xgrow((void **)&w->ckpts, &w->capckpts, w->nckpts + 1, sizeof(struct wal_seg));
	w->ckpts[w->nckpts].num = num;
	w->ckpts[w->nckpts].fd = fd;
	w->nckpts++;
	pthread_rwlock_unlock(&w->segs_rw);
}

static int ckpts_fd(struct tsdb__wal *w, uint32_t num)
{
	int fd = -1;

	pthread_rwlock_rdlock(&w->segs_rw);
	for (size_t i = 0; i < w->nckpts; i++)
		if (w->ckpts[i].num == num)
			fd = w->ckpts[i].fd;
	pthread_rwlock_unlock(&w->segs_rw);
	return fd;
}

static int segs_fd(struct tsdb__wal *w, uint32_t num)
{
	int fd = -1;
	size_t lo = 0, hi;

	pthread_rwlock_rdlock(&w->segs_rw);
	hi = w->nsegs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (w->segs[mid].num < num)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < w->nsegs && w->segs[lo].num == num)
		fd = w->segs[lo].fd;
	pthread_rwlock_unlock(&w->segs_rw);
	return fd;
}

static int write_header(int fd, const char *path, struct pf_err *err)
{
	uint8_t hdr[TSDB__WAL_HDR];

	pf_put_le32(hdr, TSDB__WAL_MAGIC);
	pf_put_le32(hdr + 4, TSDB__WAL_VERSION);
	if (ftruncate(fd, 0) < 0 || pf_pwrite_full(fd, hdr, sizeof(hdr), 0) < 0 || fdatasync(fd) < 0)
		return pf_err_set(err, write_code(errno), "write header of %s: %s", path, strerror(errno));
	return 0;
}

/* Create segment num and make it current. Called with mu held (or alone). */
static int new_segment(struct tsdb__wal *w, uint32_t num, struct pf_err *err)
{
	char path[PATH_MAX];
	int fd, rc;

	if (seg_path(path, sizeof(path), w->dir, num) < 0)
		return pf_err_set(err, PF_EINVAL, "WAL path too long: %s", w->dir);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return pf_err_set(err, write_code(errno), "create %s: %s", path, strerror(errno));
	if ((rc = write_header(fd, path, err)) < 0 || (rc = pf_fsync_dir(w->dir, err)) < 0) {
		close(fd);
		unlink(path);
		return rc;
	}
	segs_add(w, num, fd);
	w->cur_fd = fd;
	w->cur_num = num;
	w->size = w->synced_size = TSDB__WAL_HDR;
	w->bytes += TSDB__WAL_HDR;
	w->broken = 0;
	return 0;
}

/* Replay one segment; the last one gets its tail repaired. */
static int replay_segment(struct tsdb__wal *w, uint32_t num, int last, tsdb__wal_record_fn fn,
			  void *arg, uint64_t *replayed, struct pf_err *err)
{
	struct tsdb__scan_result res;
	char path[PATH_MAX];
	int fd, rc;

	if (seg_path(path, sizeof(path), w->dir, num) < 0)
		return pf_err_set(err, PF_EINVAL, "WAL path too long: %s", w->dir);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return pf_err_set(err, PF_EIO, "open %s: %s", path, strerror(errno));
	if ((rc = tsdb__wal_scan(fd, num, path, fn, arg, &res, err)) < 0) {
		close(fd);
		return rc;
	}
	*replayed += res.records;
	segs_add(w, num, fd);
	if (res.status == TSDB__SCAN_BADHDR) {
		log_at(PF_LOG_WARN, "WAL segment skipped", path, 0, res.why);
		w->bytes += res.size;
		if (last) {
			w->cur_fd = fd;
			w->cur_num = num;
			w->broken = 1; /* never append to it */
		}
		return 0;
	}
	if (res.status == TSDB__SCAN_TORN && res.good_end < TSDB__WAL_HDR) {
		/* A segment whose creation was cut short: it holds nothing. */
		if (!last) {
			log_at(PF_LOG_WARN, "WAL segment skipped", path, 0, res.why);
			w->bytes += res.size;
			return 0;
		}
		log_at(PF_LOG_WARN, "WAL segment header rewritten", path, 0, res.why);
		if ((rc = write_header(fd, path, err)) < 0)
			return rc;
		res.size = res.good_end = TSDB__WAL_HDR;
		res.status = TSDB__SCAN_END;
	}
	if (res.status != TSDB__SCAN_END) {
		if (!last) {
			log_at(PF_LOG_WARN, "WAL segment damaged, rest of segment skipped", path,
			       res.bad_off, res.why);
		} else {
			log_at(PF_LOG_WARN, "WAL tail damaged, truncated", path, res.bad_off,
			       res.why);
			if (ftruncate(fd, (off_t)res.good_end) < 0 || fdatasync(fd) < 0)
				return pf_err_set(err, PF_EIO, "truncate %s at %" PRIu64 ": %s", path,
						  res.good_end, strerror(errno));
			res.size = res.good_end;
		}
	}
	w->bytes += res.size;
	if (last) {
		w->cur_fd = fd;
		w->cur_num = num;
		w->size = w->synced_size = res.size;
	}
	return 0;
}

/* Replay the checkpoint num (never appended to). */
static int replay_checkpoint(struct tsdb__wal *w, uint32_t num, tsdb__wal_record_fn fn,
			     void *arg, uint64_t *replayed, struct pf_err *err)
{
	struct tsdb__scan_result res;
	char path[PATH_MAX];
	int fd, rc;

	if (ckpt_path(path, sizeof(path), w->dir, num, "") < 0)
		return pf_err_set(err, PF_EINVAL, "WAL path too long: %s", w->dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pf_err_set(err, PF_EIO, "open %s: %s", path, strerror(errno));
	if ((rc = tsdb__wal_scan_checkpoint(fd, num, path, fn, arg, &res, err)) < 0) {
		close(fd);
		return rc;
	}
	*replayed += res.records;
	ckpts_add(w, num, fd);
	w->bytes += res.size;
	if (res.status == TSDB__SCAN_BADHDR || (res.status == TSDB__SCAN_TORN && res.records == 0 &&
						res.good_end == 0))
		log_at(PF_LOG_ERROR, "WAL checkpoint unreadable, skipped", path, 0, res.why);
	else if (res.status != TSDB__SCAN_END)
		log_at(PF_LOG_ERROR, "WAL checkpoint damaged, rest of it skipped", path, res.bad_off,
		       res.why);
	return 0;
}

int tsdb__wal_open(const char *dir, size_t segment_bytes, tsdb__wal_record_fn fn, void *arg,
		   struct tsdb__wal **out, uint64_t *replayed, struct pf_err *err)
{
	struct tsdb__wal *w = pf_xcalloc(1, sizeof(*w));
	uint32_t *nums = NULL, *cks = NULL;
	size_t n = 0, nck = 0;
	int rc;

	*out = NULL;
	*replayed = 0;
	w->dir = pf_xstrdup(dir);
	w->seg_bytes = segment_bytes ? segment_bytes : (size_t)128 << 20;
	w->cur_fd = -1;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	pthread_rwlock_init(&w->segs_rw, NULL);
	if ((rc = pf_mkdir_p(dir, err)) < 0 ||
	    (rc = list_segments(dir, &nums, &n, &cks, &nck, err)) < 0 ||
	    (rc = refuse_newer(dir, nums, n, cks, nck, err)) < 0)
		goto fail;
	/* the newest checkpoint first, then the segments after it */
	if (nck > 0 && ((rc = drop_covered(dir, nums, &n, cks, nck, err)) < 0 ||
			(rc = replay_checkpoint(w, cks[nck - 1], fn, arg, replayed, err)) < 0))
		goto fail;
	for (size_t i = 0; i < n; i++)
		if ((rc = replay_segment(w, nums[i], i + 1 == n, fn, arg, replayed, err)) < 0)
			goto fail;
	if (n == 0 && (rc = new_segment(w, nck > 0 ? cks[nck - 1] + 1 : 1, err)) < 0)
		goto fail;
	free(nums);
	free(cks);
	*out = w;
	return 0;
fail:
	free(nums);
	free(cks);
	tsdb__wal_close(w);
	return rc;
}

void tsdb__wal_close(struct tsdb__wal *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->closed = 1;
	if (w->cur_fd >= 0 && w->written_seq > w->synced_seq && fdatasync(w->cur_fd) < 0)
		pf_log(PF_LOG_ERROR, "WAL sync at close failed", "dir", w->dir, "error",
		       strerror(errno), NULL);
	pthread_mutex_unlock(&w->mu);
	for (size_t i = 0; i < w->nsegs; i++)
		close(w->segs[i].fd);
	free(w->segs);
	for (size_t i = 0; i < w->nckpts; i++)
		close(w->ckpts[i].fd);
	free(w->ckpts);
	pthread_rwlock_destroy(&w->segs_rw);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w->dir);
	free(w);
}

/* ---- appending -------------------------------------------------------- */

/* Set q's state and wake its appender when it sleeps. Once st is W_DONE,
 * q may be gone (its appender returns): nothing of it is read after. */
static void waiter_set(struct waiter *q, uint32_t st)
{
	int sleeping = q->sleeping;
	__atomic_store_n(&q->state, st, __ATOMIC_RELEASE);
	if (sleeping)
		syscall(SYS_futex, &q->state, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Sleep until *state is no longer W_WAIT (mu not held). */
static uint32_t waiter_sleep(uint32_t *state)
{
	uint32_t st;
	while ((st = __atomic_load_n(state, __ATOMIC_ACQUIRE)) == W_WAIT)
		syscall(SYS_futex, state, FUTEX_WAIT_PRIVATE, W_WAIT, NULL, NULL, 0);
	return st;
}

static void complete_upto(struct tsdb__wal *w, uint64_t seq, int rc)
{
	while (w->wq_head && w->wq_head->seq <= seq) {
		struct waiter *q = w->wq_head;
		w->wq_head = q->next;
		q->rc = rc;
		waiter_set(q, W_DONE);
	}
	if (!w->wq_head)
		w->wq_tail = NULL;
}

/* After a sync, mu held: the first waiter left (it wrote while the sync
 * ran) leads the next one. */
static void hand_lead(struct tsdb__wal *w)
{
	struct waiter *q = w->wq_head;
	if (q && q->sleeping && __atomic_load_n(&q->state, __ATOMIC_RELAXED) == W_WAIT)
		waiter_set(q, W_LEAD);
}

/* A sync failed: what was written after the last good sync is lost to us.
 * Cut it off, fail its appenders, and leave this segment. mu held. */
static void fail_pending(struct tsdb__wal *w, int e)
{
	char path[PATH_MAX];

	seg_path(path, sizeof(path), w->dir, w->cur_num);
	pf_log(PF_LOG_ERROR, "WAL fdatasync failed; pending appends fail", "file", path, "error",
	       strerror(e), NULL);
	if (ftruncate(w->cur_fd, (off_t)w->synced_size) == 0)
		w->bytes -= w->size - w->synced_size;
	w->size = w->synced_size;
	w->broken = 1;
	complete_upto(w, UINT64_MAX, write_code(e));
	w->synced_seq = w->written_seq;
}

static int do_sync(struct tsdb__wal *w, int fd)
{
	if (w->fail_syncs > 0) {
		w->fail_syncs--;
		errno = EIO;
		return -1;
	}
	return fdatasync(fd);
}

/* Leave the current segment (synced) and start the next. mu held, no sync
 * running. */
static int rotate(struct tsdb__wal *w, struct pf_err *err)
{
	if (w->written_seq > w->synced_seq) {
		int r = do_sync(w, w->cur_fd);
		w->fsyncs++;
		if (r < 0) {
			fail_pending(w, errno);
		} else {
			w->synced_seq = w->written_seq;
			w->synced_size = w->size;
			complete_upto(w, w->synced_seq, 0);
		}
		pthread_cond_broadcast(&w->cv);
	}
	if (w->cur_num == UINT32_MAX)
		return pf_err_set(err, PF_EIO, "WAL %s: out of segment numbers", w->dir);
	return new_segment(w, w->cur_num + 1, err);
}

static int write_record(struct tsdb__wal *w, const uint8_t *hdr, const void *meta, size_t nmeta,
			const void *body, size_t nbody, uint64_t off)
{
	struct iovec iov[3] = {
		{(void *)(uintptr_t)hdr, TSDB__REC_HDR},
		{(void *)(uintptr_t)meta, nmeta},
		{(void *)(uintptr_t)body, nbody},
	};

	if (w->fail_writes > 0) {
		w->fail_writes--;
		/* a torn write: part of the record reaches the file */
		iov[1].iov_len = nmeta / 2;
		(void)pf_pwritev_full(w->cur_fd, iov, 2, off);
		errno = EIO;
		return -1;
	}
	return pf_pwritev_full(w->cur_fd, iov, 3, off);
}

int tsdb__wal_append(struct tsdb__wal *w, const void *meta, size_t nmeta, const void *body,
		     size_t nbody, struct tsdb__loc *loc, struct pf_err *err)
{
	uint8_t hdr[TSDB__REC_HDR];
	struct waiter me = {0};
	uint64_t reclen, total;
	uint32_t crc;
	int rc = 0;

	if (nmeta == 0 || __builtin_add_overflow((uint64_t)nmeta, (uint64_t)nbody, &reclen) ||
	    reclen > UINT32_MAX - TSDB__REC_HDR)
		return pf_err_set(err, PF_ETOOBIG, "WAL record of %zu + %zu bytes is too big", nmeta,
				  nbody);
	total = reclen + TSDB__REC_HDR;
	crc = pf_crc32c(pf_crc32c(0, meta, nmeta), body, nbody);
	pf_put_le32(hdr, (uint32_t)reclen);
	pf_put_le32(hdr + 4, crc);

	pthread_mutex_lock(&w->mu);
	for (;;) {
		if (w->closed) {
			rc = pf_err_set(err, PF_ECLOSED, "store is closed");
			goto out;
		}
		if (!w->broken && (w->size <= TSDB__WAL_HDR || w->size + total <= w->seg_bytes))
			break;
		if (w->syncing) {
			pthread_cond_wait(&w->cv, &w->mu);
			continue;
		}
		if ((rc = rotate(w, err)) < 0) {
			pf_err_prefix(err, "WAL: ");
			goto out;
		}
	}
	if (write_record(w, hdr, meta, nmeta, body, nbody, w->size) < 0) {
		char path[PATH_MAX];
		int e = errno;
		seg_path(path, sizeof(path), w->dir, w->cur_num);
		rc = pf_err_set(err, write_code(e), "write %s:%" PRIu64 ": %s", path, w->size,
				strerror(e));
		/* cut the partial record off, so the next append and a replay
		 * find the segment as it was; failing that, leave the segment */
		if (ftruncate(w->cur_fd, (off_t)w->size) < 0)
			w->broken = 1;
		goto out;
	}
	loc->kind = TSDB__LOC_WAL;
	loc->seg = w->cur_num;
	loc->off = w->size;
	loc->len = total;
	w->size += total;
	w->bytes += total;
	me.seq = ++w->written_seq;
	if (w->wq_tail)
		w->wq_tail->next = &me;
	else
		w->wq_head = &me;
	w->wq_tail = &me;

	while (__atomic_load_n(&me.state, __ATOMIC_ACQUIRE) != W_DONE) {
		if (w->syncing) {
			/* the running sync's leader completes me, or hands me
			 * the lead of the next sync */
			__atomic_store_n(&me.state, W_WAIT, __ATOMIC_RELAXED);
			me.sleeping = 1;
			pthread_mutex_unlock(&w->mu);
			if (waiter_sleep(&me.state) == W_DONE)
				goto done; /* without mu */
			pthread_mutex_lock(&w->mu);
			me.sleeping = 0;
			continue;
		}
		/* lead a sync covering everything written so far */
		uint64_t target = w->written_seq, target_size = w->size;
		int fd = w->cur_fd, r, e;
		w->syncing = 1;
		pthread_mutex_unlock(&w->mu);
		r = fdatasync(fd);
		e = errno;
		pthread_mutex_lock(&w->mu);
		if (w->fail_syncs > 0) {
			w->fail_syncs--;
			r = -1;
			e = EIO;
		}
		w->syncing = 0;
		w->fsyncs++;
		if (r == 0) {
			w->synced_seq = target;
			w->synced_size = target_size;
			complete_upto(w, target, 0);
		} else {
			fail_pending(w, e);
		}
		hand_lead(w);
		pthread_cond_broadcast(&w->cv); /* a rotation or a cut waits */
	}
	pthread_mutex_unlock(&w->mu);
done:
	rc = me.rc;
	if (rc < 0) {
		char path[PATH_MAX];
		seg_path(path, sizeof(path), w->dir, loc->seg);
		pf_err_set(err, rc, "fdatasync %s failed%s; record at offset %" PRIu64 " dropped",
			   path, rc == PF_ENOSPC ? " (no space left on device)" : "", loc->off);
	}
	return rc;
out:
	pthread_mutex_unlock(&w->mu);
	return rc;
}

/* ---- reading ---------------------------------------------------------- */

int tsdb__wal_read(struct tsdb__wal *w, const struct tsdb__loc *loc, uint64_t body_len,
		   struct pf_buf *meta, struct pf_buf *body, struct pf_err *err)
{
	char path[PATH_MAX];
	uint8_t hdr[TSDB__REC_HDR];
	uint64_t meta_len;
	uint32_t crc;
	ssize_t r;
	int fd, rc;

	tsdb__wal_loc_path(w, loc, path, sizeof(path));
	if ((loc->kind != TSDB__LOC_WAL && loc->kind != TSDB__LOC_CKPT) ||
	    loc->len < TSDB__REC_HDR + 1 ||
	    body_len > loc->len - TSDB__REC_HDR - 1)
		return pf_err_set(err, PF_ECORRUPT, "%s:%" PRIu64 ": bad record location", path,
				  loc->off);
	meta_len = loc->len - TSDB__REC_HDR - body_len;
	if (meta_len > TSDB__META_MAX)
		return pf_err_set(err, PF_ECORRUPT, "%s:%" PRIu64 ": record metadata too large",
				  path, loc->off);
	fd = loc->kind == TSDB__LOC_CKPT ? ckpts_fd(w, loc->seg) : segs_fd(w, loc->seg);
	if (fd < 0)
		return pf_err_set(err, PF_ECORRUPT, "%s: segment not open", path);
	pf_buf_reset(meta);
	if ((rc = pf_buf_reserve(meta, (size_t)meta_len)) < 0)
		return pf_err_set(err, rc, "%s:%" PRIu64 ": no memory for record", path, loc->off);
	r = pf_pread_full(fd, hdr, sizeof(hdr), loc->off);
	if (r < 0)
		return pf_err_set(err, PF_EIO, "read %s:%" PRIu64 ": %s", path, loc->off,
				  strerror(errno));
	if ((size_t)r < sizeof(hdr) || pf_get_le32(hdr) != loc->len - TSDB__REC_HDR)
		return pf_err_set(err, PF_ECORRUPT, "%s:%" PRIu64 ": record framing damaged", path,
				  loc->off);
	r = pf_pread_full(fd, meta->data, (size_t)meta_len, loc->off + TSDB__REC_HDR);
	if (r < 0)
		return pf_err_set(err, PF_EIO, "read %s:%" PRIu64 ": %s", path, loc->off,
				  strerror(errno));
	if ((uint64_t)r < meta_len)
		return pf_err_set(err, PF_ECORRUPT, "%s:%" PRIu64 ": record cut short", path,
				  loc->off);
	meta->len = (size_t)meta_len;
	crc = pf_crc32c(0, meta->data, meta->len);
	if (body_len > 0) {
		if ((uint64_t)(size_t)body_len != body_len ||
		    (rc = pf_buf_reserve(body, (size_t)body_len)) < 0)
			return pf_err_set(err, rc < 0 ? rc : PF_ETOOBIG,
					  "profile of %" PRIu64 " bytes does not fit the buffer",
					  body_len);
		r = pf_pread_full(fd, body->data + body->len, (size_t)body_len,
			       loc->off + TSDB__REC_HDR + meta_len);
		if (r < 0)
			return pf_err_set(err, PF_EIO, "read %s:%" PRIu64 ": %s", path, loc->off,
					  strerror(errno));
		if ((uint64_t)r < body_len)
			return pf_err_set(err, PF_ECORRUPT, "%s:%" PRIu64 ": record cut short",
					  path, loc->off);
		crc = pf_crc32c(crc, body->data + body->len, (size_t)body_len);
	}
	if (crc != pf_get_le32(hdr + 4))
		return pf_err_set(err, PF_ECORRUPT, "%s:%" PRIu64 ": record fails its checksum",
				  path, loc->off);
	body->len += (size_t)body_len;
	return 0;
}

void tsdb__wal_counters(struct tsdb__wal *w, uint64_t *fsyncs, uint64_t *bytes)
{
	pthread_mutex_lock(&w->mu);
	*fsyncs = w->fsyncs;
	*bytes = w->bytes;
	pthread_mutex_unlock(&w->mu);
}

void tsdb__wal_path(const struct tsdb__wal *w, uint32_t seg, char *out, size_t n)
{
	if (seg_path(out, n, w->dir, seg) < 0 && n > 0)
		out[0] = 0;
}

void tsdb__wal_loc_path(const struct tsdb__wal *w, const struct tsdb__loc *loc, char *out,
			size_t n)
{
	int r = loc->kind == TSDB__LOC_CKPT ? ckpt_path(out, n, w->dir, loc->seg, "")
					    : seg_path(out, n, w->dir, loc->seg);
	if (r < 0 && n > 0)
		out[0] = 0;
}

void tsdb__wal_inject_failures(struct tsdb__wal *w, int writes, int syncs)
{
	pthread_mutex_lock(&w->mu);
	w->fail_writes = writes;
	w->fail_syncs = syncs;
	pthread_mutex_unlock(&w->mu);
}

int tsdb__wal_cut(struct tsdb__wal *w, uint32_t *cur, struct pf_err *err)
{
	int rc;

	pthread_mutex_lock(&w->mu);
	while (w->syncing)
		pthread_cond_wait(&w->cv, &w->mu);
	if (w->closed) {
		pthread_mutex_unlock(&w->mu);
		return pf_err_set(err, PF_ECLOSED, "WAL is closed");
	}
	rc = rotate(w, err);
	*cur = w->cur_num;
	pthread_mutex_unlock(&w->mu);
	return rc;
}

uint32_t tsdb__wal_current(struct tsdb__wal *w)
{
	uint32_t n;
	pthread_mutex_lock(&w->mu);
	n = w->cur_num;
	pthread_mutex_unlock(&w->mu);
	return n;
}

/* Remove one WAL file (a segment or a checkpoint) whose descriptor is fd:
 * its size goes to *freed, the first failure to err. Returns rc, or the
 * error of this removal when rc was 0. */
static int remove_file(const char *path, int fd, uint64_t *freed, int rc, struct pf_err *err)
{
	struct stat st;

	if (fstat(fd, &st) == 0)
		*freed += (uint64_t)st.st_size;
	if (unlink(path) < 0 && errno != ENOENT && rc == 0)
		rc = pf_err_set(err, PF_EIO, "remove %s: %s", path, strerror(errno));
	close(fd);
	return rc;
}

/* After files of freed bytes were removed: the WAL's size, and the
 * directory fsync'd so the removals last. */
static int removed(struct tsdb__wal *w, uint64_t freed, int rc, struct pf_err *err)
{
	pthread_mutex_lock(&w->mu);
	w->bytes = w->bytes > freed ? w->bytes - freed : 0;
	pthread_mutex_unlock(&w->mu);
	if (rc == 0 && freed)
		rc = pf_fsync_dir(w->dir, err);
	return rc;
}

int tsdb__wal_remove_before(struct tsdb__wal *w, uint32_t num, struct pf_err *err)
{
	uint64_t freed = 0;
	size_t keep = 0;
	int rc = 0;

	pthread_rwlock_wrlock(&w->segs_rw);
	for (size_t i = 0; i < w->nsegs; i++) {
		struct wal_seg *s = &w->segs[i];
		char path[PATH_MAX];
		if (s->num >= num || s->num == w->cur_num) {
			w->segs[keep++] = *s;
			continue;
		}
		seg_path(path, sizeof(path), w->dir, s->num);
		rc = remove_file(path, s->fd, &freed, rc, err);
	}
	w->nsegs = keep;
	pthread_rwlock_unlock(&w->segs_rw);
	return removed(w, freed, rc, err);
}

/* ---- checkpoints ------------------------------------------------------ */

struct tsdb__wal_ckpt {
	struct tsdb__wal *w;
	uint32_t num;
	int fd;
	uint64_t size, records;
	char tmp[PATH_MAX], path[PATH_MAX];
	struct pf_buf meta, body;
};

int tsdb__wal_ckpt_new(struct tsdb__wal *w, uint32_t num, struct tsdb__wal_ckpt **out,
		       struct pf_err *err)
{
	struct tsdb__wal_ckpt *c;
	uint8_t hdr[TSDB__CKPT_HDR];

	*out = NULL;
	c = pf_xcalloc(1, sizeof(*c));
	c->w = w;
	c->num = num;
	c->fd = -1;
	pf_buf_init(&c->meta, TSDB__META_MAX);
	pf_buf_init(&c->body, 0);
	if (ckpt_path(c->path, sizeof(c->path), w->dir, num, "") < 0 ||
	    ckpt_path(c->tmp, sizeof(c->tmp), w->dir, num, ".tmp") < 0) {
		c->tmp[0] = 0;
		tsdb__wal_ckpt_free(c);
		return pf_err_set(err, PF_EINVAL, "WAL path too long: %s", w->dir);
	}
	c->fd = open(c->tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (c->fd < 0) {
		int rc = pf_err_set(err, PF_EIO, "create %s: %s", c->tmp, strerror(errno));
		c->tmp[0] = 0;
		tsdb__wal_ckpt_free(c);
		return rc;
	}
	pf_put_le32(hdr, TSDB__CKPT_MAGIC);
	pf_put_le32(hdr + 4, TSDB__CKPT_VERSION);
	pf_put_le32(hdr + 8, num);
	pf_put_le32(hdr + 12, pf_crc32c(0, hdr, 12));
	if (pf_pwrite_full(c->fd, hdr, sizeof(hdr), 0) < 0) {
		int rc = pf_err_set(err, PF_EIO, "write %s: %s", c->tmp, strerror(errno));
		tsdb__wal_ckpt_free(c);
		return rc;
	}
	c->size = sizeof(hdr);
	*out = c;
	return 0;
}

int tsdb__wal_ckpt_add(struct tsdb__wal_ckpt *c, const struct tsdb__loc *from, uint64_t body_len,
		       struct tsdb__loc *to, struct pf_err *err)
{
	uint8_t hdr[TSDB__REC_HDR];
	uint64_t len;
	int rc;

	pf_buf_reset(&c->body);
	if ((rc = tsdb__wal_read(c->w, from, body_len, &c->meta, &c->body, err)) < 0)
		return rc;
	len = (uint64_t)c->meta.len + c->body.len;
	pf_put_le32(hdr, (uint32_t)len);
	pf_put_le32(hdr + 4, pf_crc32c(pf_crc32c(0, c->meta.data, c->meta.len), c->body.data,
				       c->body.len));
	if (pf_pwrite_full(c->fd, hdr, sizeof(hdr), c->size) < 0 ||
	    pf_pwrite_full(c->fd, c->meta.data, c->meta.len, c->size + TSDB__REC_HDR) < 0 ||
	    (c->body.len &&
	     pf_pwrite_full(c->fd, c->body.data, c->body.len, c->size + TSDB__REC_HDR + c->meta.len) < 0))
		return pf_err_set(err, PF_EIO, "write %s:%" PRIu64 ": %s", c->tmp, c->size,
				  strerror(errno));
	to->kind = TSDB__LOC_CKPT;
	to->seg = c->num;
	to->off = c->size;
	to->len = TSDB__REC_HDR + len;
	c->size += to->len;
	c->records++;
	return 0;
}

int tsdb__wal_ckpt_commit(struct tsdb__wal_ckpt *c, struct pf_err *err)
{
	struct tsdb__wal *w = c->w;

	if (fdatasync(c->fd) < 0)
		return pf_err_set(err, PF_EIO, "fdatasync %s: %s", c->tmp, strerror(errno));
	if (rename(c->tmp, c->path) < 0)
		return pf_err_set(err, PF_EIO, "rename %s to %s: %s", c->tmp, c->path,
				  strerror(errno));
	c->tmp[0] = 0; /* nothing to remove any more */
	ckpts_add(w, c->num, c->fd);
	c->fd = -1;
	pthread_mutex_lock(&w->mu);
	w->bytes += c->size;
	pthread_mutex_unlock(&w->mu);
	return pf_fsync_dir(w->dir, err);
}

uint64_t tsdb__wal_ckpt_records(const struct tsdb__wal_ckpt *c)
{
	return c->records;
}

static void ckpt_release(struct tsdb__wal_ckpt *c, int remove_tmp)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	if (remove_tmp && c->tmp[0])
		unlink(c->tmp);
	pf_buf_free(&c->meta);
	pf_buf_free(&c->body);
	free(c);
}

void tsdb__wal_ckpt_free(struct tsdb__wal_ckpt *c)
{
	ckpt_release(c, 1);
}

void tsdb__wal_ckpt_abandon(struct tsdb__wal_ckpt *c)
{
	ckpt_release(c, 0);
}

int tsdb__wal_drop_checkpoints(struct tsdb__wal *w, uint32_t keep, struct pf_err *err)
{
	uint64_t freed = 0;
	size_t k = 0;
	int rc = 0;

	pthread_rwlock_wrlock(&w->segs_rw);
	for (size_t i = 0; i < w->nckpts; i++) {
		struct wal_seg *s = &w->ckpts[i];
		char path[PATH_MAX];
		if (s->num == keep) {
			w->ckpts[k++] = *s;
			continue;
		}
		ckpt_path(path, sizeof(path), w->dir, s->num, "");
		rc = remove_file(path, s->fd, &freed, rc, err);
	}
	w->nckpts = k;
	pthread_rwlock_unlock(&w->segs_rw);
	return removed(w, freed, rc, err);
}
