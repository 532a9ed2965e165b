/*
 * base: the small pieces every profefe module uses.
 *
 *   errors      int codes (0 ok, negative PF_E*) plus struct pf_err with a sentence
 *   allocation  pf_x* abort on OOM (internal sizes); input-sized code uses the
 *               plain libc calls and fails the request instead
 *   pf_buf      a growable byte buffer with a hard cap
 *   encoding    explicit little-endian, uvarint and zigzag readers/writers
 *   crc32c      Castagnoli CRC (Debian has no library for it)
 *   pf_htab     the open-addressing hash table (uint64 keys or hashes -> uint32)
 *   pf_map      a map from byte strings to uint64 on pf_htab
 *   log         leveled logfmt/json lines on stderr
 *   fs          atomic file creation, fsync of directories, whole reads and
 *               writes (pread/pwrite until done, a capped file reader)
 *   time        parsing of the time formats the APIs accept
 *   base62      URL-safe ids
 */
#ifndef PF_BASE_H
#define PF_BASE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>

/* ---- errors ---------------------------------------------------------- */

enum {
	PF_OK = 0,
	PF_ENOMEM = -1,    /* allocation failed (input-sized) */
	PF_EINVAL = -2,    /* bad input: a parse error, a bad argument */
	PF_EIO = -3,       /* a system call failed */
	PF_ENOTFOUND = -4, /* nothing stored under that name */
	PF_ETOOBIG = -5,   /* a cap was reached */
	PF_ECORRUPT = -6,  /* stored data fails its checksum or framing */
	PF_EMISMATCH = -7, /* inputs that cannot be combined (merge) */
	PF_ECLOSED = -8,   /* the object is shutting down */
	PF_ENOSPC = -9,    /* a write failed for want of space (ENOSPC, EDQUOT) */
	PF_EFUTURE = -10,  /* a time too far after the clock (-tsdb.max-future) */
	PF_ETOOOLD = -11,  /* a time before the retention window */
	PF_EBUSY = -12,    /* a shared budget is spent for now: try again later */
	PF_ELIMIT = -13,   /* the input would make us build more than a fixed cap */
	PF_ETIMEDOUT = -14, /* a deadline passed before the work was done */
	PF_ENEWER = -15,   /* stored data in a format version newer than this build reads */
	PF_ECANCELED = -16, /* the caller gave up (a query's client hung up) */
};

/* What went wrong and with which input. msg is one sentence, no newline. */
struct pf_err {
	int code;
	char msg[512];
};

/* Fill err (may be NULL) and return code. */
int pf_err_set(struct pf_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prefix err->msg with a formatted context ("file.wal:120: "). */
void pf_err_prefix(struct pf_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
const char *pf_strerror(int code);

/* ---- allocation ------------------------------------------------------ */

void *pf_xmalloc(size_t n);
void *pf_xcalloc(size_t n, size_t size);
void *pf_xrealloc(void *p, size_t n);
char *pf_xstrdup(const char *s);
char *pf_xstrndup(const char *s, size_t n);
/* Grow *p (of *cap elements of size sz) to hold at least need; aborts on OOM. */
void pf_xgrow(void **p, size_t *cap, size_t need, size_t sz);

/* Arena: many small allocations freed at once. Never fails (aborts on OOM). */
struct pf_arena;
struct pf_arena *pf_arena_new(void);
void pf_arena_free(struct pf_arena *a);
void *pf_arena_alloc(struct pf_arena *a, size_t n); /* 16-byte aligned, zeroed */
char *pf_arena_strndup(struct pf_arena *a, const char *s, size_t n);
size_t pf_arena_bytes(const struct pf_arena *a);

/* ---- capped buffer ---------------------------------------------------- */

struct pf_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	size_t max; /* hard cap on len; 0 = SIZE_MAX */
};

#define PF_BUF_INIT(max_) { NULL, 0, 0, (max_) }
void pf_buf_init(struct pf_buf *b, size_t max);
/* Make room for n more bytes: PF_ETOOBIG past max, PF_ENOMEM when malloc fails. */
int pf_buf_reserve(struct pf_buf *b, size_t n);
int pf_buf_append(struct pf_buf *b, const void *p, size_t n);
int pf_buf_putc(struct pf_buf *b, uint8_t c);
int pf_buf_printf(struct pf_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- shared byte budget (budget.c) ------------------------------------ */

/*
 * A number of bytes shared by threads (-max-inflight-decompressed). A taker
 * gets n bytes at once or waits for them up to wait_ns, then gets PF_EBUSY
 * (at once when n is more than the whole budget). Smaller takers go first:
 * nobody takes bytes a smaller waiter is waiting for, so one request
 * growing a big buffer cannot starve ordinary ones. Thread-safe.
 */
struct pf_budget;
struct pf_budget *pf_budget_new(size_t total);
/* NULL is a no-op; everything taken must have been given back. */
void pf_budget_free(struct pf_budget *b);
int pf_budget_take(struct pf_budget *b, size_t n, int64_t wait_ns);
void pf_budget_give(struct pf_budget *b, size_t n);
/* Bytes taken now, takers waiting now, and the total. */
size_t pf_budget_used(struct pf_budget *b);
size_t pf_budget_waiting(struct pf_budget *b);
size_t pf_budget_total(const struct pf_budget *b);

/* ---- Prometheus text format (prom.c) ----------------------------------- */

/* Append v escaped as a label value (\\, \", \n). */
void pf_prom_label_value(struct pf_buf *b, const char *v);
/* The bucket of v: the first i with v <= bounds[i], nb when above them all. */
size_t pf_prom_bucket(const double *bounds, size_t nb, double v);
/* A histogram's _bucket (cumulative, le="+Inf" last), _sum and _count lines;
 * buckets[0..nb] count per bucket (buckets[nb]: above every bound). With
 * label, every line carries label="value" first. */
void pf_prom_histogram(struct pf_buf *b, const char *metric, const char *label,
		       const char *value, const double *bounds, size_t nb, const uint64_t *buckets,
		       double sum);
int pf_buf_put_uvarint(struct pf_buf *b, uint64_t v);
int pf_buf_put_le32(struct pf_buf *b, uint32_t v);
int pf_buf_put_le64(struct pf_buf *b, uint64_t v);
/* uvarint length, then the bytes */
int pf_buf_put_bytes(struct pf_buf *b, const void *p, size_t n);
void pf_buf_reset(struct pf_buf *b);
void pf_buf_free(struct pf_buf *b);
/* Hand the data to the caller (who frees it with free()); b becomes empty. */
uint8_t *pf_buf_steal(struct pf_buf *b, size_t *len);

/* ---- UTF-8 (utf8.c) ---------------------------------------------------- */
/* Length of the valid UTF-8 sequence at s (left bytes), 0 when there is
 * none: overlong forms, surrogates and code points above U+10FFFF are not
 * UTF-8, as jansson and Go's encoding/json see it. */
size_t pf_utf8_seq(const void *s, size_t left);
/* 1 when the n bytes at s are all valid UTF-8. */
int pf_utf8_valid(const void *s, size_t n);
/* Append s to out with each byte that starts no valid sequence replaced by
 * U+FFFD (as Go's encoding/json writes it). 0 or PF_ENOMEM/PF_ETOOBIG. */
int pf_utf8_fix(struct pf_buf *out, const void *s, size_t n);

/* ---- SPEC §1 "Words": label names, values and profile types (words.c) --
 * The one home of these rules for the API, the config loader, the scraper,
 * the ingest path and the store. Limits the store adds (a name's length) are
 * the store's. */
#define PF_MAX_LABELS 64          /* labels of one profile, service and type included */
#define PF_MAX_LABEL_VALUE 1024   /* bytes of a label value */
/* 1 when the n bytes at s match [a-zA-Z_][a-zA-Z0-9_]* (reserved "__" names
 * included: see pf_label_name_reserved). */
int pf_label_name_ok(const char *s, size_t n);
/* 1 when the name starts with "__" (reserved, SPEC §1). */
int pf_label_name_reserved(const char *s);
/* 1 when the n bytes at s are a label value: valid UTF-8 (pf_utf8_valid) of
 * at most PF_MAX_LABEL_VALUE bytes. "" passes: callers drop empty pairs. */
int pf_label_value_ok(const char *s, size_t n);
/* 1 when s is a profile type: cpu, heap, allocs, block, mutex, goroutine,
 * threadcreate, trace, other, or a custom name matching [a-z0-9_.-]+; a
 * type is a label value, so at most PF_MAX_LABEL_VALUE bytes. */
int pf_type_ok(const char *s);

/* ---- little-endian and varint encoding ------------------------------- */

static inline void pf_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}
static inline void pf_put_le64(uint8_t *p, uint64_t v)
{
	pf_put_le32(p, (uint32_t)v);
	pf_put_le32(p + 4, (uint32_t)(v >> 32));
}
static inline uint32_t pf_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t pf_get_le64(const uint8_t *p)
{
	return (uint64_t)pf_get_le32(p) | (uint64_t)pf_get_le32(p + 4) << 32;
}
/* Writes at most 10 bytes into p; returns the count. */
size_t pf_put_uvarint(uint8_t *p, uint64_t v);
/* Zigzag: small signed values as small unsigned ones, for uvarints. */
static inline uint64_t pf_zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}
static inline int64_t pf_unzigzag(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* A bounds-checked reader over a byte range. Any read past the end sets
 * r->bad and returns 0; check r->bad once after a group of reads. */
struct pf_reader {
	const uint8_t *p;
	const uint8_t *end;
	int bad;
};
static inline void pf_reader_init(struct pf_reader *r, const void *p, size_t n)
{
	r->p = p;
	r->end = n ? r->p + n : r->p; /* (NULL, 0) is an empty range, not NULL + 0 */
	r->bad = 0;
}
static inline size_t pf_reader_left(const struct pf_reader *r) { return (size_t)(r->end - r->p); }
uint8_t pf_read_u8(struct pf_reader *r);
uint32_t pf_read_le32(struct pf_reader *r);
uint64_t pf_read_le64(struct pf_reader *r);
uint64_t pf_read_uvarint(struct pf_reader *r);
/* Borrow n bytes (pointer into the input). */
const uint8_t *pf_read_raw(struct pf_reader *r, size_t n);
/* uvarint length then bytes; *n gets the length. */
const uint8_t *pf_read_bytes(struct pf_reader *r, size_t *n);

/* ---- checksums and hashing ------------------------------------------- */

/* CRC32C (Castagnoli). Start with crc = 0; chain by passing the last result. */
uint32_t pf_crc32c(uint32_t crc, const void *p, size_t n);
/* xxHash64 of a byte range. */
uint64_t pf_hash64(const void *p, size_t n, uint64_t seed);

/* ---- hash table: uint64 key -> uint32 value --------------------------- */

/*
 * The one hash table (open addressing, linear probing, grown at 3/4 full,
 * no tombstones). Embed it in the owner's struct: _init, then _free. Not
 * thread-safe. Values must be below UINT32_MAX. Two ways to use it:
 *   - integer keys: the uint64 is the key (pf_htab_get/put/set);
 *   - keys the caller stores (strings, records, interned by index): the
 *     table holds each key's 64-bit hash and the caller's index of it;
 *     pf_htab_find calls eq(ctx, key, index) for each entry of the same
 *     hash, and pf_htab_insert_at adds a missing key where find said.
 */
struct pf_htab_slot {
	uint64_t key; /* the key, or the hash of the caller's key */
	uint32_t val; /* value + 1; 0 = empty slot */
};
struct pf_htab {
	struct pf_htab_slot *slots;
	size_t mask; /* slots - 1 (a power of two - 1) */
	size_t n;    /* entries */
};
/* Room for hint entries before the first growth. */
void pf_htab_init(struct pf_htab *t, size_t hint);
/* Frees the slots; a zeroed struct is fine. */
void pf_htab_free(struct pf_htab *t);
/* Remove every entry (keeps the memory). */
void pf_htab_clear(struct pf_htab *t);
/* 1 and *val when key is present, else 0. */
int pf_htab_get(const struct pf_htab *t, uint64_t key, uint32_t *val);
/* When key is present: *old gets its value, returns 1 (nothing changes).
 * Otherwise inserts key -> val and returns 0. */
int pf_htab_put(struct pf_htab *t, uint64_t key, uint32_t val, uint32_t *old);
/* Insert or replace key -> val. */
void pf_htab_set(struct pf_htab *t, uint64_t key, uint32_t val);
/* The entry with this key (hash) for which eq(ctx, k, its value) is true
 * (eq NULL: the key alone): 1, *val (may be NULL) and *pos its slot.
 * Else 0 and *pos the slot pf_htab_insert_at takes; pos (may be NULL) is
 * valid until the table next changes. */
typedef int (*pf_htab_eq_fn)(const void *ctx, const void *k, uint32_t val);
int pf_htab_find(const struct pf_htab *t, uint64_t key, pf_htab_eq_fn eq, const void *ctx,
		 const void *k, uint32_t *val, size_t *pos);
/* Insert key -> val at pos from a pf_htab_find that returned 0. */
void pf_htab_insert_at(struct pf_htab *t, size_t pos, uint64_t key, uint32_t val);
/* Remove the entry at pos from a pf_htab_find that returned 1. */
void pf_htab_del_at(struct pf_htab *t, size_t pos);

/* ---- hash map: byte-string key -> uint64 ------------------------------ */

/* Keys are copied into the map; pf_map_next visits the entries in
 * insertion order (a deletion moves the last entry into the hole). Not
 * thread-safe. */
struct pf_map;
struct pf_map *pf_map_new(size_t hint);
void pf_map_free(struct pf_map *m);
/* Returns 1 and fills *val when found, else 0. */
int pf_map_get(const struct pf_map *m, const void *key, size_t klen, uint64_t *val);
/* Insert or replace. */
void pf_map_put(struct pf_map *m, const void *key, size_t klen, uint64_t val);
/* If the key exists, fill *val with the stored value and return 1; otherwise
 * store val and return 0. One lookup for "intern" patterns. */
int pf_map_get_or_put(struct pf_map *m, const void *key, size_t klen, uint64_t *val);
int pf_map_del(struct pf_map *m, const void *key, size_t klen);
size_t pf_map_len(const struct pf_map *m);
/* Iterate: start with *it = 0; returns 0 at the end. key is borrowed. */
int pf_map_next(const struct pf_map *m, size_t *it, const void **key, size_t *klen, uint64_t *val);

/* ---- logging ---------------------------------------------------------- */

enum pf_log_level { PF_LOG_DEBUG = 0, PF_LOG_INFO, PF_LOG_WARN, PF_LOG_ERROR };

/* Set once at start, before any thread: level and format ("logfmt"|"json").
 * Returns PF_EINVAL for an unknown name. */
int pf_log_setup(const char *level, const char *format);
/* msg is the human sentence; the varargs are key, value string pairs ending
 * with NULL: pf_log(PF_LOG_INFO, "listening", "addr", ":10100", NULL). */
void pf_log(enum pf_log_level lvl, const char *msg, ...);
int pf_log_enabled(enum pf_log_level lvl);

/* ---- files ------------------------------------------------------------ */

/* Write data to path atomically: path.tmp, fsync, rename, fsync the dir. */
int pf_write_file_atomic(const char *path, const void *data, size_t n, struct pf_err *err);
/* fsync a directory. */
int pf_fsync_dir(const char *dir, struct pf_err *err);
/* mkdir -p. */
int pf_mkdir_p(const char *dir, struct pf_err *err);
/* Remove path and everything under it (symlinks not followed); a path that
 * does not exist is not an error. 0 or -1 with errno set. */
int pf_rm_rf(const char *path);
/* Raise the open-file soft limit to the hard limit (logged once when it
 * changes); returns the limit now in force (2^20 for "unlimited"). The
 * scraper and the HTTP server size themselves from it. */
size_t pf_raise_nofile(void);
/* Read a whole file (capped at max bytes) into b. */
int pf_read_file(const char *path, size_t max, struct pf_buf *b, struct pf_err *err);
/* Read n bytes at off, again after a short read or EINTR: returns the bytes
 * read (fewer than n only at the end of the file) or -1 with errno set. */
ssize_t pf_pread_full(int fd, void *buf, size_t n, uint64_t off);
/* Write n bytes at off, again after a short write or EINTR: 0, or -1 with
 * errno set (EIO for a write that made no progress). */
int pf_pwrite_full(int fd, const void *buf, size_t n, uint64_t off);
/* The same for the n buffers of iov, in one pwritev when the kernel takes
 * them whole (iov is used up: its entries change). */
int pf_pwritev_full(int fd, struct iovec *iov, int n, uint64_t off);

/* ---- time ------------------------------------------------------------- */

int64_t pf_now_ns(void);
int64_t pf_mono_ns(void);
/*
 * Parse a time as the APIs accept it, into Unix nanoseconds:
 *   "2006-01-02T15:04:05" (UTC, optional fraction), RFC 3339 with Z or an
 *   offset, or a number (below 1e11: Unix seconds, fractions allowed;
 *   otherwise Unix milliseconds).
 * Returns 0, PF_EINVAL (no layout it takes) or PF_ETOOBIG (a field out of
 * range: beyond the years 1677 to 2262, month 13, Feb 30, ...).
 */
int pf_parse_time(const char *s, int64_t *ns);
/*
 * pf_parse_time saying why: PF_EINVAL with err->msg "time in unsupported
 * format" for a string of no accepted layout, PF_ETOOBIG with the reason
 * for a time of an accepted layout that int64 Unix nanoseconds cannot hold
 * ("year 99999 out of range (... to ...)"). err->msg never echoes s.
 */
int pf_parse_time_err(const char *s, int64_t *ns, struct pf_err *err);
/* "2019-05-30T21:10:05Z" (seconds truncated); out needs 32 bytes. */
void pf_format_rfc3339(int64_t ns, char *out, size_t n);
/* Go's time.Time String-like "2019-05-30 00:00:00 +0000 UTC" (fraction when set). */
void pf_format_go_time(int64_t ns, char *out, size_t n);

/*
 * Parse a Prometheus duration (model.ParseDuration, for flags and the
 * configuration alike) into nanoseconds: units y w d h m s ms, each at most
 * once, in that order ("1m30s", "2h", "15d", "500ms"), or "0". Returns 0
 * or PF_EINVAL.
 */
int pf_parse_duration(const char *s, int64_t *ns);
/* Format ns (whole milliseconds count) as Prometheus does ("1m30s", "15d",
 * "0s"), so it parses back with pf_parse_duration. */
void pf_format_duration(int64_t ns, char *out, size_t n);
/* Parse a size as Prometheus reads --storage.tsdb.retention.size: a bare
 * number is bytes; B, KB, MB, GB, TB, PB (and KiB, MiB, ...) are powers of
 * 1024 ("64MB" = 64 << 20). Returns 0 or PF_EINVAL. */
int pf_parse_size(const char *s, uint64_t *bytes);

/* ---- base62 ----------------------------------------------------------- */

/* Encode n bytes (big-endian number) into out (NUL-terminated); returns the
 * length. out needs at least n*4/3+2 bytes. Encoding length is fixed for a
 * given n so ids have one length. */
size_t pf_base62_encode(const uint8_t *in, size_t n, char *out, size_t outsz);
/* Decode exactly n bytes; PF_EINVAL on a bad character, wrong length or overflow. */
int pf_base62_decode(const char *s, size_t slen, uint8_t *out, size_t n);

/* ---- misc ------------------------------------------------------------- */

#define PF_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define PF_MIN(a, b) ((a) < (b) ? (a) : (b))
#define PF_MAX(a, b) ((a) > (b) ? (a) : (b))

/* The value of a hex digit, or -1 for any other character. */
static inline int pf_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
