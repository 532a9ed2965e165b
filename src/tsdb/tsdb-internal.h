/*
 * tsdb internals shared between the files of src/tsdb. Nothing here is
 * part of the public API; every symbol carries the tsdb__ prefix.
 *
 *   tsdb.h           the public API (the store's contract)
 *   tsdb-internal.h  this file: limits, head, blocks, shared helpers
 *   format.h         every magic number and version the store writes (docs/format/)
 *   tsdb.c           the public API: open, append, close; the data directory
 *   labels.c         validation, sorting, canonical encoding and hashing of label sets
 *   postings.c       sorted series-id lists: intersect, union, subtract
 *   wal.c            WAL segments: record framing, group commit, replay scan, reads
 *   record.c         the profile record payload (encode/decode)
 *   head.c           the in-memory index: symbols, series, postings, entries
 *   hsym.c           the symbolized head: per (service, block window) a symbol table and
 *                    per series the chunks of its pprof profiles
 *   block-internal.h the block file format; the open block's structure (block_*.c only)
 *   block_write.c    block writer (head cut, compaction) and block names
 *   block_read.c     opening a block (index loaded and checked), chunk and symbol reads
 *   block_index.c    lookups in a block's index: series, postings, label values, entries
 *   blocklist.c      the store's list of open blocks (sorted, snapshots, lookups)
 *   maint.c          the maintenance round and its thread: cut the head, drop WAL
 *                    segments, then compaction and retention
 *   compact.c        compaction: which blocks to merge, and the merge
 *   retention.c      retention by time and size, the WAL checkpoint it needs, and the
 *                    time window appends must fall in
 *   query.c          the read path (tsdb__rit: head, then blocks) and the queries on it:
 *                    find, series, read, merge, labels, stats
 *   matchers.c       label matchers resolved against the postings of the head or a block
 *   selector.c       selector text parsed into matchers (PromQL vector selector, type
 *                    as metric name)
 *   codec/           the profile codec: how profiles are kept inside a block
 *     codec.h          its contract with the rest of src/tsdb
 *     codec-internal.h internals shared by the codec's files
 *     symtab.c         one service's symbol table within a block
 *     chunk.c          chunks of consecutive profiles of one series
 *     stackmerge.c     merging profiles of one symbol table by stack id
 *     transcode.c      moving profiles between symbol tables (compaction)
 *     ingest.c         a pprof body decoded by the streaming decoder into flat arrays
 *                      for the encoder (the symbolized head's input)
 *
 * Layering: the head never touches files; it stores a struct tsdb__loc per
 * profile, which names a WAL or checkpoint record (profiles cut into a
 * block leave the head), and for a pprof profile where hsym.c keeps it
 * (struct tsdb__hpos). The WAL never looks inside a record payload.
 */
#ifndef PF_TSDB_INTERNAL_H
#define PF_TSDB_INTERNAL_H

#include "tsdb/tsdb.h"

#include <pthread.h>

/* ---- limits ----------------------------------------------------------- */

#define TSDB__MAX_LABELS 64
#define TSDB__MAX_NAME_LEN 1024
#define TSDB__MAX_VALUE_LEN 1024
#define TSDB__MAX_TOTALS 256
#define TSDB__MAX_TOTAL_STR 1024
/* Encoded record bytes before the body (type byte included). The replay
 * scanner reads at most this much of a record into memory at once. */
#define TSDB__META_MAX (1u << 20)

/* ---- on-disk formats -------------------------------------------------- */

/* Magic numbers, versions and header sizes of every file: format.h;
 * the formats themselves: docs/format/. */
#include "tsdb/format.h"

/* A file of format version got where this build reads up to known (a
 * store written by a newer release): PF_ENEWER, err naming the file and
 * both versions. The open stops on it; nothing is skipped or rewritten. */
int tsdb__newer_format(const char *path, uint32_t got, uint32_t known, struct pf_err *err);

/* ---- locations -------------------------------------------------------- */

enum tsdb__loc_kind { TSDB__LOC_WAL = 1, TSDB__LOC_CKPT = 2 };

/* Where a profile's stored record lives. For TSDB__LOC_WAL: segment
 * number, offset of the record header and the record's bytes on disk
 * (header included); for TSDB__LOC_CKPT the same in checkpoint seg. */
struct tsdb__loc {
	uint8_t kind;
	uint32_t seg;
	uint64_t off;
	uint64_t len;
};

/* ---- labels (labels.c) ------------------------------------------------ */

/* Check names/values (syntax, lengths, duplicates, service+type present)
 * and fill sorted[] (nlabels pointers into the caller's array) sorted by
 * name. PF_EINVAL with a sentence on failure. */
int tsdb__labels_sort_check(const struct tsdb_label *labels, size_t nlabels,
			    const struct tsdb_label **sorted, struct pf_err *err);
/* Append the canonical encoding of sorted labels to b: uvarint count, then
 * per label uvarint-length name and value. */
int tsdb__labels_encode(struct pf_buf *b, const struct tsdb_label *const *sorted, size_t n);
/* Series hash of a canonical encoding. */
uint64_t tsdb__labels_hash(const void *enc, size_t n);
int tsdb__label_name_ok(const char *s, size_t n);

/* ---- record payload (record.c) ---------------------------------------- */

/* A decoded profile record. Strings point into the decoded bytes and are
 * not NUL-terminated; lengths are given. */
struct tsdb__rec_str {
	const char *p;
	size_t n;
};
struct tsdb__rec_label {
	struct tsdb__rec_str name, value;
};
struct tsdb__rec_total {
	struct tsdb__rec_str type, unit;
	int64_t value;
};
struct tsdb__rec {
	const uint8_t *labels_enc; /* canonical label encoding */
	size_t labels_enc_len;
	uint64_t hash;
	size_t nlabels;
	struct tsdb__rec_label labels[TSDB__MAX_LABELS];
	int64_t t_ns;
	uint64_t seq;
	uint8_t kind;
	size_t ntotals;
	struct tsdb__rec_total totals[TSDB__MAX_TOTALS];
	uint64_t body_len;
	size_t meta_len; /* bytes of type + payload before the body */
};

/* Encode type byte + payload up to (not including) the body bytes. */
int tsdb__rec_encode_meta(struct pf_buf *b, const uint8_t *labels_enc, size_t labels_enc_len,
			  int64_t t_ns, uint64_t seq, uint8_t kind, const struct tsdb_total *totals,
			  size_t ntotals, uint64_t body_len);
/*
 * Decode a profile record from its first nhead bytes (type byte included)
 * where the whole record (type + payload) has rec_len bytes. The body is
 * the last body_len bytes of the record. Returns 0 or PF_ECORRUPT with a
 * reason in why (static string).
 */
int tsdb__rec_decode(const uint8_t *head, size_t nhead, uint64_t rec_len, struct tsdb__rec *r,
		     const char **why);

/* ---- postings (postings.c) -------------------------------------------- */

/* A sorted, duplicate-free list of series ids (heap-owned). */
struct tsdb__plist {
	uint32_t *ids;
	size_t n, cap;
};

void tsdb__plist_free(struct tsdb__plist *l);
void tsdb__plist_copy(struct tsdb__plist *dst, const uint32_t *ids, size_t n);
/* dst = a ∩ b (dst may be a). */
void tsdb__plist_intersect(struct tsdb__plist *a, const uint32_t *b, size_t nb);
/* a = a \ b. */
void tsdb__plist_subtract(struct tsdb__plist *a, const uint32_t *b, size_t nb);
/* a = a ∪ b. */
void tsdb__plist_union(struct tsdb__plist *a, const uint32_t *b, size_t nb);

/* ---- WAL (wal.c) ------------------------------------------------------ */

struct tsdb__wal;

/*
 * Called for each intact record during replay. head holds the first nhead
 * bytes of type + payload (all of it when rec_len <= TSDB__META_MAX).
 * Return 0 to keep going or a negative code to abort the open (a record
 * the caller cannot make sense of should be logged and skipped with 0).
 */
typedef int (*tsdb__wal_record_fn)(void *arg, const uint8_t *head, size_t nhead,
				   uint64_t rec_len, const struct tsdb__loc *loc, const char *path,
				   struct pf_err *err);

enum tsdb__scan_status {
	TSDB__SCAN_END = 0,    /* every byte parsed */
	TSDB__SCAN_TORN,       /* an incomplete record or header at the end */
	TSDB__SCAN_CORRUPT,    /* a bad record with nothing valid after it */
	TSDB__SCAN_BADHDR,     /* the segment header is not ours */
};

struct tsdb__scan_result {
	int status;
	uint64_t good_end; /* end of the last good record (or of the header) */
	uint64_t bad_off;  /* where the bad part starts */
	uint64_t size;     /* file size */
	uint64_t records;  /* intact records passed to fn */
	uint64_t skipped;  /* corrupt records skipped (a valid one followed) */
	const char *why;
};

/*
 * Scan one segment open in fd (read with pread). Intact records go to fn;
 * a corrupt record followed by an intact one is logged and skipped.
 * Returns 0 with *res filled, PF_EIO when reading fails, or fn's error.
 * Never trusts the bytes: this is the WAL fuzz entry point.
 */
int tsdb__wal_scan(int fd, uint32_t seg, const char *path, tsdb__wal_record_fn fn, void *arg,
		   struct tsdb__scan_result *res, struct pf_err *err);
/* The same for checkpoint num (its header checked, locations TSDB__LOC_CKPT). */
int tsdb__wal_scan_checkpoint(int fd, uint32_t num, const char *path, tsdb__wal_record_fn fn,
			      void *arg, struct tsdb__scan_result *res, struct pf_err *err);

/*
 * Open the WAL in dir (created when missing), replay every segment through
 * fn, repair the last segment's tail and get ready to append. *replayed
 * gets the count of records passed to fn.
 */
int tsdb__wal_open(const char *dir, size_t segment_bytes, tsdb__wal_record_fn fn, void *arg,
		   struct tsdb__wal **out, uint64_t *replayed, struct pf_err *err);
/* Sync and close every file. NULL is a no-op. */
void tsdb__wal_close(struct tsdb__wal *w);
/*
 * Append one record: meta (type byte + payload before the body) then body.
 * Returns once an fdatasync covering it has completed (group commit), with
 * *loc naming it. PF_EIO: nothing of it remains in the WAL. PF_ECLOSED.
 */
int tsdb__wal_append(struct tsdb__wal *w, const void *meta, size_t nmeta, const void *body,
		     size_t nbody, struct tsdb__loc *loc, struct pf_err *err);
/*
 * Read the record at loc: its first meta_len bytes of type + payload go to
 * meta (reset first), the remaining body_len bytes are appended to body.
 * Verifies framing and CRC: PF_ECORRUPT naming file:offset. On error body
 * keeps its previous length.
 */
int tsdb__wal_read(struct tsdb__wal *w, const struct tsdb__loc *loc, uint64_t body_len,
		   struct pf_buf *meta, struct pf_buf *body, struct pf_err *err);
/* Start a new segment (the old ones are then sealed); *cur gets its number. */
int tsdb__wal_cut(struct tsdb__wal *w, uint32_t *cur, struct pf_err *err);
uint32_t tsdb__wal_current(struct tsdb__wal *w);
/* Delete every segment numbered below num (never the current one). The
 * caller makes sure nobody reads them any more. */
int tsdb__wal_remove_before(struct tsdb__wal *w, uint32_t num, struct pf_err *err);
/* Counters: fdatasyncs since open and bytes of all segments and
 * checkpoints on disk. */
void tsdb__wal_counters(struct tsdb__wal *w, uint64_t *fsyncs, uint64_t *bytes);
/* Path of segment seg into out (for messages). */
void tsdb__wal_path(const struct tsdb__wal *w, uint32_t seg, char *out, size_t n);
/* Path of the file loc names (segment or checkpoint). */
void tsdb__wal_loc_path(const struct tsdb__wal *w, const struct tsdb__loc *loc, char *out,
			size_t n);

/*
 * Writing checkpoint num (the caller has cut the WAL past segment num):
 * _new creates checkpoint.num.tmp with its header; _add copies the record
 * at from (checked as tsdb__wal_read does) and sets *to to the copy;
 * _commit fsyncs, renames and fsyncs the directory, after which reads of
 * the copies work (the previous checkpoint stays readable until
 * tsdb__wal_drop_checkpoints). _free closes and removes an uncommitted
 * .tmp; _abandon (test hook: a crash) leaves it. Errors name the file.
 */
struct tsdb__wal_ckpt;
int tsdb__wal_ckpt_new(struct tsdb__wal *w, uint32_t num, struct tsdb__wal_ckpt **out,
		       struct pf_err *err);
int tsdb__wal_ckpt_add(struct tsdb__wal_ckpt *c, const struct tsdb__loc *from, uint64_t body_len,
		       struct tsdb__loc *to, struct pf_err *err);
int tsdb__wal_ckpt_commit(struct tsdb__wal_ckpt *c, struct pf_err *err);
uint64_t tsdb__wal_ckpt_records(const struct tsdb__wal_ckpt *c);
void tsdb__wal_ckpt_free(struct tsdb__wal_ckpt *c);
void tsdb__wal_ckpt_abandon(struct tsdb__wal_ckpt *c);
/* Delete every checkpoint but number keep (0: all). The caller makes sure
 * nobody reads them any more. */
int tsdb__wal_drop_checkpoints(struct tsdb__wal *w, uint32_t keep, struct pf_err *err);
/* Test hook: make the next n write()s or fdatasync()s fail with EIO. */
void tsdb__wal_inject_failures(struct tsdb__wal *w, int writes, int syncs);

/* ---- head (head.c) ---------------------------------------------------- */

struct tsdb__head;
struct tsdb__series;

/* Where the symbolized head keeps a profile (hsym.c): chunk number and
 * index in it of a series' profiles in one group; hs NULL: only in the
 * WAL (a body that did not decode, kept as given). */
struct tsdb__hseries;
struct tsdb__hpos {
	struct tsdb__hseries *hs;
	uint32_t chunk, idx;
};

/* One profile in the head. */
struct tsdb__total {
	uint32_t type, unit; /* symbols */
	int64_t value;
};
struct tsdb__entry {
	int64_t t_ns;
	uint32_t seq;
	uint8_t kind;
	uint16_t ntotals;
	uint64_t size; /* body bytes */
	struct tsdb__total *totals;
	struct tsdb__loc loc;
	struct tsdb__hpos pos;
	/* pprof, not symbolized and not to be (pos given as such at insert, or
	 * the catch-up found it does not decode); else replayed, not yet */
	uint8_t wal_only;
};

struct tsdb__head *tsdb__head_new(void);
void tsdb__head_free(struct tsdb__head *h);

/*
 * Find the series with this hash and label set, creating it (empty, so
 * invisible to queries) when missing. PF_EINVAL when another label set
 * holds the hash. Takes the head's locks itself.
 */
/* The first sequence number a new series may use (ids of the series'
 * profiles already in blocks must not be reused). */
typedef uint64_t (*tsdb__seq_floor_fn)(void *arg, uint64_t hash);
int tsdb__head_get_series(struct tsdb__head *h, uint64_t hash,
			  const struct tsdb__rec_label *labels, size_t nlabels,
			  tsdb__seq_floor_fn floor, void *floor_arg, struct tsdb__series **out,
			  struct pf_err *err);
/* The series with this hash and label set, or NULL (none, or another
 * label set holds the hash): nothing is created. */
struct tsdb__series *tsdb__head_find_series(struct tsdb__head *h, uint64_t hash,
					    const struct tsdb__rec_label *labels, size_t nlabels);
/* Next sequence number of a series (atomic). */
uint64_t tsdb__series_next_seq(struct tsdb__series *s);
/* Raise the next sequence number to at least seq + 1 (replay). */
void tsdb__series_seen_seq(struct tsdb__series *s, uint64_t seq);
uint64_t tsdb__series_hash(const struct tsdb__series *s);
uint32_t tsdb__series_id(const struct tsdb__series *s);

/*
 * Insert a profile, sorted by (t, seq). PF_EINVAL when (t, seq) exists.
 * Takes the write lock.
 */
int tsdb__head_insert(struct tsdb__head *h, struct tsdb__series *s, int64_t t_ns, uint32_t seq,
		      uint8_t kind, uint64_t size, const struct tsdb__rec_total *totals,
		      size_t ntotals, const struct tsdb__loc *loc, const struct tsdb__hpos *pos);
/* With the write lock held: set where the symbolized head keeps (t, seq)
 * of s (replay symbolizes after the WAL is read). PF_ENOTFOUND. */
int tsdb__head_set_pos_locked(struct tsdb__series *s, int64_t t_ns, uint32_t seq,
			      const struct tsdb__hpos *pos);

void tsdb__head_rdlock(struct tsdb__head *h);
void tsdb__head_wrlock(struct tsdb__head *h);
void tsdb__head_unlock(struct tsdb__head *h);

/* The following need the read lock held. */

struct tsdb__series *tsdb__head_by_hash(struct tsdb__head *h, uint64_t hash);
struct tsdb__series *tsdb__head_by_id(struct tsdb__head *h, uint32_t id);
/* Entry with (t, seq), or NULL. */
const struct tsdb__entry *tsdb__series_find(const struct tsdb__series *s, int64_t t_ns,
					    uint32_t seq);
/* Entries of a series (sorted by (t, seq)). */
const struct tsdb__entry *tsdb__series_entries(const struct tsdb__series *s, size_t *n);
/* Labels as symbols sorted by name. */
size_t tsdb__series_nlabels(const struct tsdb__series *s);
void tsdb__series_label(const struct tsdb__head *h, const struct tsdb__series *s, size_t i,
			const char **name, const char **value);
const char *tsdb__head_sym(const struct tsdb__head *h, uint32_t sym);
uint32_t tsdb__head_nseries(const struct tsdb__head *h);

/* The head as a postings source for tsdb__select (read lock held while used). */
struct tsdb__psource;
void tsdb__head_psource(struct tsdb__head *h, struct tsdb__psource *src);
/* With the write lock held: drop the entry (t, seq) of s; move its location
 * when it is still at from. PF_ENOTFOUND when absent. */
int tsdb__head_remove_locked(struct tsdb__head *h, struct tsdb__series *s, int64_t t_ns,
			     uint32_t seq);
int tsdb__head_move_locked(struct tsdb__series *s, int64_t t_ns, uint32_t seq,
			   const struct tsdb__loc *from, const struct tsdb__loc *to);
/* Oldest and newest profile time in the head; 0 when it is empty. Read lock. */
int tsdb__head_bounds(const struct tsdb__head *h, int64_t *min_t, int64_t *max_t);
/* Sorted distinct values of a label / label names over non-empty series.
 * Take the read lock themselves. */
int tsdb__head_label_values(struct tsdb__head *h, const char *name, char ***values, size_t *n);
int tsdb__head_label_names(struct tsdb__head *h, char ***names, size_t *n);
/* Non-empty series and profiles. Takes the read lock. */
void tsdb__head_counts(struct tsdb__head *h, uint64_t *series, uint64_t *profiles);

/* ---- the symbolized head (hsym.c) ------------------------------------- */

/* Profiles per head chunk (a block's chunks hold as many, so a cut copies
 * them) and the zstd level of head chunks and tables (blocks cut from the
 * head keep it until compaction rewrites them at the codec's level). */
#define TSDB__HEAD_CHUNK_PROFILES 64
#define TSDB__HEAD_ZSTD_LEVEL 3
/* Time a maintenance round spends symbolizing replayed head profiles. */
#define TSDB__CATCH_UP_NS ((int64_t)5 * 1000000000)

struct tsdb__hgroup;
struct tsdb__flat;
struct tsdb__chunk_dec;
struct tsdb__symtab;
void tsdb__hsym_init(struct tsdb *db);
void tsdb__hsym_free_all(struct tsdb *db);
/*
 * Intern a decoded profile of series s (service svc, time t_ns) into the
 * group of (svc, window of t_ns) and its rows into the series' open chunk;
 * *pos says where. Errors as tsdb__chunk_enc_add_flat (nothing added). A
 * light f (read by its shape) that the chunk no longer takes (another
 * shape came in since tsdb__hsym_settle) is decoded whole first.
 */
int tsdb__hsym_add(struct tsdb *db, struct tsdb__series *s, const char *svc, size_t svc_len,
		   int64_t t_ns, struct tsdb__flat *f, struct tsdb__hpos *pos, struct pf_err *err);
/*
 * A light f (tsdb__flat_decode_shape) stays light only when the open chunk
 * of series s in the group of (svc, window of t_ns) takes it by its digest
 * alone (tsdb__chunk_enc_takes: a profile of the same shape passed every
 * check there); else, or with s NULL (no series yet), it is decoded whole
 * (tsdb__flat_complete: a bad body's refusal). 0 or that refusal.
 */
int tsdb__hsym_settle(struct tsdb *db, struct tsdb__series *s, const char *svc, size_t svc_len,
		      int64_t t_ns, struct tsdb__flat *f, struct pf_err *err);
/* Count a head entry naming hs in or out (head write lock; NULL no-op). */
void tsdb__hsym_live(struct tsdb__hseries *hs, int delta);
/* Seal the groups of window (empty_only: every group no entry names):
 * they take no more profiles. Returns how many groups match (sealed now
 * or before). */
size_t tsdb__hsym_seal(struct tsdb *db, int64_t window, int empty_only);
/* Free the sealed groups no entry names (state exclusive, head write lock,
 * after tsdb__wait_appends following the seal). */
void tsdb__hsym_gc(struct tsdb *db);
int tsdb__hseries_sealed(const struct tsdb__hseries *hs);
struct tsdb__hgroup *tsdb__hseries_group(const struct tsdb__hseries *hs);
void tsdb__hgroup_lock(struct tsdb__hgroup *g);
void tsdb__hgroup_unlock(struct tsdb__hgroup *g);
/* The following need the group's lock. */
struct tsdb__symtab *tsdb__hgroup_symtab(struct tsdb__hgroup *g);
const char *tsdb__hgroup_service(const struct tsdb__hgroup *g);
/* Finish the open chunk (a sealed group, before a cut copies it). */
int tsdb__hseries_seal_chunks(struct tsdb__hseries *hs, struct pf_err *err);
/* Finished chunks: their number, *counts their profile counts, and
 * *nprofiles the profiles ever added (open chunk included). */
size_t tsdb__hseries_layout(const struct tsdb__hseries *hs, const uint32_t **counts,
			    uint64_t *nprofiles);
const struct pf_buf *tsdb__hseries_done(const struct tsdb__hseries *hs, size_t k);
/* A decoder of chunk number chunk (the open one through scratch). */
int tsdb__hseries_dec(const struct tsdb__hseries *hs, uint32_t chunk, struct pf_buf *scratch,
		      struct tsdb__chunk_dec **out, struct pf_err *err);
/* Groups and chunk bytes (finished, and raw of the open ones) held. */
void tsdb__hsym_mem(struct tsdb *db, uint64_t *groups, uint64_t *bytes);
/* Symbolize the head entries the replay left WAL-only, for at most
 * budget_ns (maintenance round only). */
void tsdb__hsym_catch_up(struct tsdb *db, int64_t budget_ns);

/* ---- selection (matchers.c) ------------------------------------------- */

typedef void (*tsdb__value_fn)(void *arg, const char *value, const uint32_t *ids, size_t n);
typedef void (*tsdb__str_fn)(void *arg, const char *s);

/* Where selectors find postings: the head or one block. Series are
 * numbered 0..nseries-1 within the source. */
struct tsdb__psource {
	void *arg;
	uint32_t nseries;
	/* series with name=value (sorted) into out; out->n = 0 when none */
	void (*pair)(void *arg, const char *name, const char *value, struct tsdb__plist *out);
	/* every value of name with its series */
	void (*each_value)(void *arg, const char *name, tsdb__value_fn fn, void *fnarg);
};

/* Compiled matchers (regexes checked: PF_EINVAL naming the pattern). */
struct tsdb__preds;
int tsdb__preds_new(const struct tsdb_matcher *m, size_t nm, struct tsdb__preds **out,
		    struct pf_err *err);
void tsdb__preds_free(struct tsdb__preds *ps);
/* Series of src the matchers select (ANDed; a missing label is ""). */
void tsdb__select(const struct tsdb__psource *src, const struct tsdb__preds *ps,
		  struct tsdb__plist *out);

/* ---- blocks (block_*.c) ------------------------------------------------ */

struct pprof_profile;
struct tsdb__chunk_dec;
struct tsdb__symtab;

/* A new block name: a ULID (creation time in ms, then randomness). */
void tsdb__block_new_name(char *out);
int tsdb__block_name_ok(const char *s);

/* Writes one block under <blocks_dir>/<name>.tmp; commit renames it. Series
 * come one after another, each with its profiles ascending by (t, seq). */
struct tsdb__bw;
int tsdb__bw_new(const char *blocks_dir, struct tsdb__bw **out, struct pf_err *err);
int tsdb__bw_series(struct tsdb__bw *w, uint64_t hash, const char *const *names,
		    const char *const *values, size_t nlabels, uint64_t max_seq,
		    struct pf_err *err);
/* p (pprof) or raw/rawlen (any other body). */
int tsdb__bw_add(struct tsdb__bw *w, int64_t t_ns, uint32_t seq, uint8_t kind, uint64_t size,
		 const struct tsdb_total *totals, size_t ntotals, const struct pprof_profile *p,
		 const void *raw, size_t rawlen, struct pf_err *err);
/* Profile idx of chunk dec, written against table src (a source block's,
 * borrowed until bw_free), copied without rebuilding its protobuf
 * (compaction). Errors as tsdb__chunk_enc_add_from. */
struct tsdb__chunk_dec;
int tsdb__bw_add_from(struct tsdb__bw *w, int64_t t_ns, uint32_t seq, uint8_t kind,
		      uint64_t size, const struct tsdb_total *totals, size_t ntotals,
		      const struct tsdb__symtab *src, struct tsdb__chunk_dec *dec, size_t idx,
		      struct pf_err *err);
uint64_t tsdb__bw_count(const struct tsdb__bw *w);
/* tsdb__bw_series, with st (borrowed until bw_free; may be NULL) as the
 * table of the series' service when the block has none for it yet (a head
 * group's: its chunks can then be copied). */
int tsdb__bw_series_st(struct tsdb__bw *w, uint64_t hash, const char *const *names,
		       const char *const *values, size_t nlabels, uint64_t max_seq,
		       struct tsdb__symtab *st, struct pf_err *err);
/* The table of the current series' service. */
struct tsdb__symtab *tsdb__bw_symtab(const struct tsdb__bw *w);
/* A finished chunk (written against tsdb__bw_symtab) copied as it is,
 * holding these n profiles in order (a head cut). */
struct tsdb__bw_prof {
	int64_t t_ns;
	uint32_t seq;
	uint8_t kind;
	uint64_t size;
	const struct tsdb_total *totals;
	size_t ntotals;
};
int tsdb__bw_add_chunk(struct tsdb__bw *w, const void *chunk, size_t len,
		       const struct tsdb__bw_prof *profs, size_t n, struct pf_err *err);
/* name gets the block's name (TSDB__BLOCK_NAME_LEN + 1 bytes). */
int tsdb__bw_commit(struct tsdb__bw *w, uint32_t level, const char *const *sources,
		    size_t nsources, char *name, struct pf_err *err);
/* Frees; an uncommitted block's directory is removed. */
void tsdb__bw_free(struct tsdb__bw *w);

struct tsdb__block_info {
	const char *name;
	int64_t min_t, max_t;
	uint64_t nseries, nprofiles, nchunks, bytes;
	uint32_t level;
	const char *const *sources; /* blocks this one was compacted from */
	size_t nsources;
};

/* A profile of a block series, from the index. */
struct tsdb__bentry {
	int64_t t_ns;
	uint32_t seq;
	uint8_t kind;
	uint64_t size;
	uint64_t chunk_off, chunk_len;
	uint32_t chunk_idx;
	uint32_t ntotals;
	size_t totals_at; /* index of its first total in the owner's totals */
};
struct tsdb__btotal {
	const char *type, *unit; /* the block's strings */
	int64_t value;
};
struct tsdb__bentries {
	struct tsdb__bentry *e;
	size_t n;
	struct tsdb__btotal *totals;
};

/* Open (and verify the index of) <blocks_dir>/<name>. PF_ECORRUPT names
 * file:offset. Reference counted: the opener holds one reference. */
struct tsdb__block;
int tsdb__block_open(const char *blocks_dir, const char *name, struct tsdb__block **out,
		     struct pf_err *err);
struct tsdb__block *tsdb__block_ref(struct tsdb__block *b);
void tsdb__block_unref(struct tsdb__block *b);
/* Remove the directory now; open references keep reading their open files. */
int tsdb__block_delete(struct tsdb__block *b, struct pf_err *err);
const struct tsdb__block_info *tsdb__block_info(const struct tsdb__block *b);
/* A compaction that met a corrupt chunk marks its sources: left alone. */
void tsdb__block_set_no_compact(struct tsdb__block *b);
int tsdb__block_no_compact(const struct tsdb__block *b);
const char *tsdb__block_path(const struct tsdb__block *b);
void tsdb__block_psource(struct tsdb__block *b, struct tsdb__psource *src);
int tsdb__block_find_hash(const struct tsdb__block *b, uint64_t hash, uint32_t *ord);
uint64_t tsdb__block_series_hash(const struct tsdb__block *b, uint32_t ord);
uint64_t tsdb__block_series_max_seq(const struct tsdb__block *b, uint32_t ord);
void tsdb__block_series_range(const struct tsdb__block *b, uint32_t ord, int64_t *min_t,
			      int64_t *max_t);
size_t tsdb__block_series_nlabels(const struct tsdb__block *b, uint32_t ord);
uint64_t tsdb__block_series_count(const struct tsdb__block *b, uint32_t ord);
void tsdb__block_series_label(const struct tsdb__block *b, uint32_t ord, size_t i,
			      const char **name, const char **value);
void tsdb__block_label_names(const struct tsdb__block *b, tsdb__str_fn fn, void *arg);
void tsdb__block_label_values(const struct tsdb__block *b, const char *name, tsdb__str_fn fn,
			      void *arg);
int tsdb__block_entries(const struct tsdb__block *b, uint32_t ord, struct tsdb__bentries *out);
void tsdb__bentries_free(struct tsdb__bentries *es);
/* The chunk holding e (checked); free with tsdb__chunk_dec_free. */
int tsdb__block_chunk(struct tsdb__block *b, const struct tsdb__bentry *e,
		      struct tsdb__chunk_dec **out, struct pf_err *err);
/* The symbol table of series ord's service (loaded once, owned by b). */
int tsdb__block_symtab(struct tsdb__block *b, uint32_t ord, const struct tsdb__symtab **out,
		       struct pf_err *err);
/* Rebuild one profile: pprof into *prof, or a raw body appended to raw. */
int tsdb__block_decode(struct tsdb__block *b, uint32_t ord, const struct tsdb__bentry *e,
		       struct pprof_profile **prof, struct pf_buf *raw, struct pf_err *err);

/* ---- the store (tsdb.c, blocklist.c, maint.c, compact.c, retention.c) -- */

struct tsdb {
	char *dir, *blocks_dir;
	size_t max_body, max_profile;
	int lock_fd;
	struct tsdb__head *head;
	struct tsdb__wal *wal;
	uint64_t appends; /* atomic */
	uint64_t replayed, replay_dups;
	int closed;
	struct tsdb__rec *scratch; /* replay only */
	int64_t block_ns, retention_ns;
	uint64_t retention_bytes;
	int64_t max_future_ns; /* 0 = no limit */
	/* at least the newest profile time stored (atomic; INT64_MIN when
	 * empty): raised by appends, never lowered, so a block dropped since
	 * may leave it above the store; refusals check against a fresh scan */
	int64_t newest_t;
	/*
	 * Lock order: state -> head -> blocks_mu. Queries hold state shared
	 * from the moment they look at the head or the blocks until they are
	 * done reading WAL records; cuts, compactions, retention and WAL
	 * deletion change what is where under state exclusive, so a query
	 * sees every profile exactly once and never a deleted file.
	 */
	pthread_rwlock_t state;
	/* held shared by an append from its WAL write until its head insert */
	pthread_rwlock_t append_rw;
	pthread_mutex_t blocks_mu;
	struct tsdb__block **blocks; /* sorted by (min_t, name) */
	size_t nblocks, capblocks;
	pthread_mutex_t maint_mu; /* one maintenance round at a time */
	pthread_mutex_t stop_mu;
	pthread_cond_t stop_cv;
	int stop, thread_started;
	int64_t maint_ns;
	pthread_t thread;
	uint64_t retention_dropped_profiles;                         /* atomic */
	uint64_t checkpoints, checkpoint_ns, checkpoint_failures;    /* atomic */
	int ckpt_pending; /* the head forgot profiles the WAL still holds */
	int test_crash_at; /* test hook: TSDB__CRASH_* */
	uint64_t cuts, compactions, retention_drops, corrupt_skipped; /* atomic */
	uint64_t merge_chunk_decodes; /* atomic: chunks decoded by merges */
	uint64_t cut_ns, compact_ns, compacted_profiles;             /* atomic */
	uint64_t maint_rounds;                                       /* atomic */
	/* the symbolized head (hsym.c): every group, and the unsealed ones
	 * by (window, service) */
	pthread_mutex_t hg_mu;
	struct pf_map *hg_map;
	struct tsdb__hgroup **hgs;
	size_t nhg, caphg;
	uint64_t unsymbolized; /* atomic: head profiles kept only in the WAL */
	int catch_up;          /* atomic: replayed entries wait to be symbolized */
	uint32_t catch_up_next; /* the first head series not caught up */
};


/* Blocks list (blocks_mu held or state held): add keeps the order. */
void tsdb__blocks_add(struct tsdb *db, struct tsdb__block *b);
/* Remove b from the list (state exclusive held); returns the list's reference. */
void tsdb__blocks_remove(struct tsdb *db, struct tsdb__block *b);
/* Snapshot of the blocks with a reference each (free with tsdb__blocks_put). */
struct tsdb__block **tsdb__blocks_get(struct tsdb *db, size_t *n);
void tsdb__blocks_put(struct tsdb__block **bs, size_t n);
/* Highest sequence number the blocks hold for the series hash, plus one. */
uint64_t tsdb__blocks_seq_floor(void *db, uint64_t hash);
/* Is (hash, t, seq) stored in a block? */
int tsdb__blocks_has(struct tsdb *db, uint64_t hash, int64_t t_ns, uint32_t seq);
int tsdb__maint_start(struct tsdb *db, struct pf_err *err);
/* Drop the blocks past the time or size retention (retention.c). */
void tsdb__retention(struct tsdb *db);
/*
 * The start of the time retention window: the anchor, min(newest,
 * now + max_future_ns) (newest alone when max_future_ns is 0), minus
 * retention_ns, saturated. newest is the newest profile time stored
 * (not INT64_MIN); now is the clock (pf_now_ns).
 */
int64_t tsdb__retention_limit(const struct tsdb *db, int64_t newest, int64_t now);
/* Test hook: close as a crash would leave things (the head stays in the
 * WAL, nothing is written out). */
void tsdb__crash_close(struct tsdb *db);
void tsdb__maint_stop(struct tsdb *db);
/* The aligned start of the window of d that holds t. */
static inline int64_t tsdb__align_down(int64_t t, int64_t d)
{
	int64_t r = t % d;
	return r < 0 ? t - r - d : t - r;
}
/* Order of the blocks list: min_t, then name (qsort comparator). */
int tsdb__blocks_cmp(const void *a, const void *b);
/* Cut the head into blocks (maint.c): the windows a round cuts, or all of
 * it with flush; *cut is set when a block was written. */
int tsdb__cut_head(struct tsdb *db, int flush, int *cut, struct pf_err *err);
/* Compact blocks, one set at a time, at most 8 sets per call (compact.c);
 * a failed compaction is logged and leaves its sources alone. */
void tsdb__compaction(struct tsdb *db);
/* Refuse a profile time after now + max-future (PF_EFUTURE) or before the
 * retention window (PF_ETOOOLD) (retention.c). */
int tsdb__check_time(struct tsdb *db, int64_t t, struct pf_err *err);
/* The newest profile time in the head and the blocks; INT64_MIN when the
 * store is empty (retention.c). */
int64_t tsdb__scan_newest(struct tsdb *db);

/* ---- the read path (query.c) ------------------------------------------ */

/*
 * One walk over what a query selects: the head, then each block whose time
 * overlaps the query, and within each the selected series in turn; hits
 * come in the order a reader reads them (by block, series, then chunk and
 * time within a series), not in time order. Three grains:
 *   TSDB__RIT_SOURCE   one hit per source: the head, then each block (no
 *                      series selection; the head's lock is not held)
 *   TSDB__RIT_SERIES   one hit per selected series with profiles in the
 *                      query's time range: count, lo and hi of those
 *   TSDB__RIT_PROFILE  one hit per profile in the range: e (head) or be and
 *                      btotals (block)
 * The caller holds db->state shared from _init to _finish. At the SERIES
 * and PROFILE grains the head's read lock is held while the hits are in
 * the head and dropped before the first block; head series and symbols
 * stay valid until the state is released, block strings until _finish
 * (which drops the blocks' references). e, be and btotals are valid until
 * the next _next. q NULL: everything (SOURCE grain only).
 */
enum tsdb__rit_grain { TSDB__RIT_SOURCE, TSDB__RIT_SERIES, TSDB__RIT_PROFILE };

struct tsdb__rit {
	/* the hit */
	struct tsdb__block *b;              /* NULL: the head */
	size_t src;                         /* index of b in blocks; SIZE_MAX: the head */
	uint32_t ord;                       /* series id in the head, ordinal in b */
	const struct tsdb__series *s;       /* a head series */
	uint64_t count;                     /* SERIES: profiles in range, */
	int64_t lo, hi;                     /* their first and last time */
	const struct tsdb__entry *e;        /* PROFILE in the head */
	const struct tsdb__bentry *be;      /* PROFILE in a block, */
	const struct tsdb__btotal *btotals; /* its totals from btotals[be->totals_at] */
	/* the walk */
	struct tsdb *db;
	enum tsdb__rit_grain grain;
	struct tsdb__preds *ps;
	int64_t min_t, max_t;
	size_t series_limit; /* PROFILE: the newest N in range of a series per source */
	struct tsdb__block **blocks; /* a reference each, until _finish */
	size_t nblocks;
	size_t next_src; /* 0: the head, 1 + i: blocks[i] */
	struct tsdb__plist ids;
	size_t next_id;
	const struct tsdb__entry *he; /* head series entries [hj, hk) in range */
	size_t hj, hk;
	struct tsdb__bentries es; /* block series entries */
	size_t ej;
	int head_locked, have_es, done;
};

/* PF_EINVAL for a bad matcher; _finish is due either way. */
int tsdb__rit_init(struct tsdb__rit *it, struct tsdb *db, const struct tsdb_query *q,
		   enum tsdb__rit_grain grain, struct pf_err *err);
/* 1: the next hit is in *it; 0: no more. */
int tsdb__rit_next(struct tsdb__rit *it);
/* The i-th label of the hit's series. */
void tsdb__rit_label(const struct tsdb__rit *it, size_t i, const char **name, const char **value);
size_t tsdb__rit_nlabels(const struct tsdb__rit *it);
uint64_t tsdb__rit_hash(const struct tsdb__rit *it);
void tsdb__rit_finish(struct tsdb__rit *it);

/* ---- ids and db internals (tsdb.c) ------------------------------------- */

/* The WAL of an open store (tests inject failures through it). */
struct tsdb__wal *tsdb__db_wal(struct tsdb *db);
/* Wait until every append that wrote its WAL record before the call has
 * put it in the head: after tsdb__wal_cut, the head then knows every
 * record of the older segments (tsdb_append holds append_rw shared from
 * its WAL write until the head has the profile). */
static inline void tsdb__wait_appends(struct tsdb *db)
{
	pthread_rwlock_wrlock(&db->append_rw);
	pthread_rwlock_unlock(&db->append_rw);
}

void tsdb__id_encode(uint64_t hash, int64_t t_ns, uint32_t seq, char *out);
int tsdb__id_decode(const char *id, uint64_t *hash, int64_t *t_ns, uint32_t *seq);

/* Test hook (struct tsdb.test_crash_at): the checkpoint or the retention
 * round stops where a crash would, leaving the files as they are. */
enum {
	TSDB__CRASH_CKPT_WRITTEN = 1, /* checkpoint .tmp written, not renamed */
	TSDB__CRASH_CKPT_RENAMED,     /* renamed; old segments not deleted */
	TSDB__CRASH_BEFORE_BLOCK_RM,  /* WAL truncated; dropped blocks not deleted */
};

#endif
