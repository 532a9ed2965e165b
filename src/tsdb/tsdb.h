/*
 * tsdb: profefe's embedded store of profiles as label-indexed series.
 *
 * A profile is appended with its series labels (which include "service"
 * and "type"), its time, its kind and its body. tsdb_append returns only
 * once the profile is durable: its write-ahead-log record is written and
 * fsync'd; concurrent appenders share fsyncs (group commit). At open the
 * WAL is replayed; a torn tail is cut off and logged.
 *
 * Recent profiles live in an in-memory head (series, postings per label
 * pair, per-series profile lists) over the WAL, whose records hold the
 * bodies; pprof profiles are also kept there symbolized (decoded once at
 * append, interned into a symbol table per service and block window, rows
 * in compressed chunks), so cuts and merges decode nothing. A background
 * round cuts the head into immutable blocks
 * (symbolized, compressed chunks of profiles, with their own index),
 * compacts blocks and applies retention; queries read the head, then the
 * blocks, behind the same API.
 *
 * Ids are base62 tokens (letters and digits, TSDB_ID_LEN characters) that
 * encode the series' label hash, the time and a per-series sequence; they
 * name no storage location, survive restarts and resolve without a scan.
 *
 * All functions are thread-safe; a query sees every acknowledged append.
 */
#ifndef PF_TSDB_H
#define PF_TSDB_H

#include "base/base.h"

#define TSDB_ID_LEN 27 /* base62 of 20 bytes: hash(8) time(8) seq(4) */

struct tsdb;

struct tsdb_options {
	const char *dir;           /* data directory; created when missing */
	size_t wal_segment_bytes;  /* 0 = 128 MiB */
	size_t max_body_bytes;     /* largest body accepted by append; 0 = 1 GiB */
	int64_t block_duration_ns; /* span of a block; 0 = 2h */
	/* drop blocks older than this, counted back from the retention anchor:
	 * the newest profile stored, but never later than now + max_future_ns
	 * (when set); appends older than the anchor minus this are refused;
	 * 0 = keep everything */
	int64_t retention_ns;
	uint64_t retention_bytes;  /* cap on blocks + WAL bytes; 0 = none */
	/* how often the background thread cuts, compacts and applies
	 * retention: 0 = every min(1 min, block duration / 4); < 0 = never
	 * (tests call tsdb_maintain) */
	int64_t maintenance_ns;
	size_t max_profile_bytes;  /* cap on a decompressed stored profile; 0 = 512 MiB */
	/* appends dated later than the clock plus this are refused
	 * (-tsdb.max-future); 0 = no limit */
	int64_t max_future_ns;
};

struct tsdb_label {
	const char *name;
	const char *value;
};

enum tsdb_kind {
	TSDB_KIND_PPROF = 1, /* body is gzip-compressed pprof protobuf */
	TSDB_KIND_RAW = 2,   /* body kept byte for byte (Go execution traces) */
};

/* The total of one sample type over a profile's samples. */
struct tsdb_total {
	const char *type; /* e.g. "inuse_space" */
	const char *unit; /* e.g. "bytes" */
	int64_t value;
};

struct tsdb_append_req {
	const struct tsdb_label *labels; /* any order; names unique; needs service and type */
	size_t nlabels;
	int64_t t_ns;                    /* profile time, Unix ns */
	enum tsdb_kind kind;
	const void *body;
	size_t len;
	/* per sample type (pprof); NULL/0: computed by tsdb_append from the
	 * body (pprof_totals) */
	const struct tsdb_total *totals;
	size_t ntotals;
	/*
	 * pprof only, all optional. plain: the body uncompressed, when the
	 * caller has it (decoded in body's place: no inflate).
	 * max_decompressed: a lower cap than the store's max_profile_bytes
	 * on the decoded body (0: the store's). budget: the
	 * inflated body is charged to it while the append holds it
	 * (-max-inflight-decompressed; PF_EBUSY when it stays spent).
	 * time_nanos_wins: the body's time_nanos (> 0) replaces t_ns.
	 * need_samples: a body with no samples is refused (PF_EINVAL,
	 * "profile has no samples").
	 */
	const void *plain;
	size_t plain_len;
	size_t max_decompressed;
	struct pf_budget *budget;
	int time_nanos_wins;
	int need_samples;
	/* out, optional: what the append did or why it refused */
	struct tsdb_append_info *info;
};

/* A refusal of the body itself (pprof), as opposed to the store's. */
enum tsdb_body_refusal {
	TSDB_BODY_OK = 0,
	TSDB_BODY_BAD,   /* it does not decode: pprof_decode's code and sentence, or PF_EBUSY */
	TSDB_BODY_EMPTY, /* need_samples and it has none */
};

struct tsdb_append_info {
	int64_t t_ns;                  /* the time stored (time_nanos or t_ns) */
	enum tsdb_body_refusal body;   /* set when the append was refused for its body */
};

/*
 * Open (or create) the store in o->dir, replaying its WAL. Leftover *.tmp
 * files are removed. Errors name the file and offset. *out is closed with
 * tsdb_close.
 */
int tsdb_open(const struct tsdb_options *o, struct tsdb **out, struct pf_err *err);

/* Flush and close. Concurrent callers must have returned. NULL is a no-op. */
void tsdb_close(struct tsdb *db);

/*
 * Store one profile durably. id (TSDB_ID_LEN + 1 bytes) gets its id.
 * A TSDB_KIND_PPROF body is decoded (gzip or not, every check of
 * pprof_decode) before anything is written; when it does not decode, the
 * append is refused with pprof_decode's code (PF_EINVAL, PF_ELIMIT,
 * PF_ETOOBIG; PF_EBUSY for req->budget) and sentence, totals given or not.
 * Totals given are stored as given; without, they are computed.
 * Returns 0, PF_EINVAL (labels missing service/type, duplicate names,
 * empty body, ...), PF_ETOOBIG, PF_EFUTURE (req->t_ns is more than
 * max_future_ns after the clock), PF_ETOOOLD (req->t_ns is before the
 * retention window: the retention anchor minus retention_ns), PF_EIO (the
 * WAL write or fsync failed: nothing acknowledged), PF_ENOSPC (the same, for
 * want of disk space: the partial record is cut off and a later append works
 * once there is space), PF_ECLOSED. The time refusals' err->msg names the
 * profile's time, the clock or the window, and the flag (e.g. "profile time
 * 2262-04-11T00:00:00Z is more than -tsdb.max-future 10m after the server's
 * time 2026-12-02T05:40:00Z").
 * Labels: at most 64; names match [a-zA-Z_][a-zA-Z0-9_]* (reserved "__"
 * names are the caller's to refuse); values are 1..1024 bytes (an empty
 * value is PF_EINVAL: drop such pairs before appending). Totals: at most
 * 256, type and unit at most 1024 bytes each.
 */
int tsdb_append(struct tsdb *db, const struct tsdb_append_req *req, char *id,
		struct pf_err *err);

/* One stored profile's description. Owned by the result that holds it. */
struct tsdb_meta {
	char id[TSDB_ID_LEN + 1];
	int64_t t_ns;
	enum tsdb_kind kind;
	size_t size;                 /* body bytes */
	struct tsdb_label *labels;   /* sorted by name, series labels */
	size_t nlabels;
	struct tsdb_total *totals;
	size_t ntotals;
};

enum tsdb_match_op { TSDB_MATCH_EQ, TSDB_MATCH_NE, TSDB_MATCH_RE, TSDB_MATCH_NRE };

/* A label matcher. Regexes are PCRE2, fully anchored. A matcher on a name
 * a series lacks compares against "" (as Prometheus does). */
struct tsdb_matcher {
	enum tsdb_match_op op;
	const char *name;
	const char *value;
};

struct tsdb_query {
	const struct tsdb_matcher *matchers; /* ANDed; at least one should be positive */
	size_t nmatchers;
	int64_t min_t_ns; /* inclusive; INT64_MIN for unbounded */
	int64_t max_t_ns; /* inclusive; INT64_MAX for unbounded */
	size_t limit;     /* keep the newest N over all series; 0 = all */
	/* keep the newest N of each series (before limit); 0 = all. Only these
	 * count against max_profiles: a series' older profiles are never held */
	size_t series_limit;
	/*
	 * Limits (-query.max-profiles, -query.timeout); 0 = none, so a query
	 * that does not set them is unbounded. A find or merge that selects
	 * more than max_profiles profiles (after series_limit and limit) is PF_ELIMIT, before
	 * any body is read, err saying how many it selects and the cap ("the
	 * query selects 1500 profiles, over the cap of 1000"). Past deadline_ns
	 * (pf_mono_ns clock) a find or merge stops and is PF_ETIMEDOUT, err
	 * saying how far it got ("stopped after reading 3 of 1000 profiles").
	 */
	size_t max_profiles;
	int64_t deadline_ns;
	/*
	 * tsdb_merge and tsdb_merge_encoded only: when ids is set, merge the
	 * profiles these nids ids name (matchers, range and limit ignored),
	 * each as often as it is named; ids that do not decode or name nothing
	 * stored are skipped. Borrowed for the call.
	 */
	const char *const *ids;
	size_t nids;
	/*
	 * When set, asked between profiles (where the deadline is checked):
	 * nonzero stops a find, merge or focus with PF_ECANCELED (err saying
	 * how far it got). The API's: the client hung up, or the server is
	 * stopping. The ClickHouse store asks it before each statement and
	 * during its transfer (ch_query_bounded).
	 */
	int (*cancelled)(void *arg);
	void *cancel_arg;
};

struct tsdb_result;

/*
 * Find profiles: metas ascending by time (ties by id). An invalid regex is
 * PF_EINVAL with the pattern named. *out is freed with tsdb_result_free.
 */
int tsdb_find(struct tsdb *db, const struct tsdb_query *q, struct tsdb_result **out,
	      struct pf_err *err);
size_t tsdb_result_len(const struct tsdb_result *r);
const struct tsdb_meta *tsdb_result_at(const struct tsdb_result *r, size_t i);
void tsdb_result_free(struct tsdb_result *r);

/*
 * Read one profile by id: its body is appended to body; when meta is not
 * NULL, *meta gets a copy freed with tsdb_meta_free. PF_ENOTFOUND for an id
 * that does not decode or names nothing stored; PF_ECORRUPT when the stored
 * record fails its checksum (err names file:offset).
 */
int tsdb_read(struct tsdb *db, const char *id, struct pf_buf *body, struct tsdb_meta **meta,
	      struct pf_err *err);
void tsdb_meta_free(struct tsdb_meta *m);

/*
 * Sorted distinct values of a label over all series (e.g. "service").
 * *values is an array of *n strings; free with tsdb_strings_free.
 */
int tsdb_label_values(struct tsdb *db, const char *name, char ***values, size_t *n);
/* Sorted distinct label names. */
int tsdb_label_names(struct tsdb *db, char ***names, size_t *n);
void tsdb_strings_free(char **v, size_t n);

struct tsdb_stats {
	uint64_t series;      /* distinct series, head and blocks */
	uint64_t profiles;    /* head + blocks */
	uint64_t head_series;
	uint64_t head_profiles;
	int64_t head_min_t, head_max_t; /* 0 when the head is empty */
	uint64_t blocks;
	uint64_t block_bytes; /* on disk */
	uint64_t block_profiles;
	int64_t min_t, max_t; /* over head and blocks; 0 when empty */
	uint64_t cuts, compactions, retention_drops; /* since open */
	uint64_t maint_rounds; /* maintenance rounds since open (each ends with retention) */
	uint64_t cut_ns, compact_ns; /* time spent cutting and compacting since open */
	uint64_t compacted_profiles; /* profiles written by compactions since open */
	uint64_t corrupt_skipped; /* blocks or chunks reported corrupt and skipped */
	uint64_t merge_chunk_decodes; /* chunks decoded by merges since open */
	uint64_t retention_dropped_profiles; /* in dropped blocks and from the head, since open */
	uint64_t checkpoints, checkpoint_failures; /* WAL checkpoints written / failed since open */
	uint64_t checkpoint_ns; /* time spent writing them */
	uint64_t appends;     /* since open */
	uint64_t wal_fsyncs;  /* since open */
	uint64_t wal_bytes;   /* WAL size on disk (segments and checkpoint) */
	uint64_t replayed;    /* records replayed at open */
};
void tsdb_stats(struct tsdb *db, struct tsdb_stats *st);

/*
 * The distinct series q selects that have a profile in [min_t_ns, max_t_ns]
 * (q->limit is ignored), each with its labels, how many profiles it has
 * there and the first and last of their times; sorted by label set. Reads
 * the indexes only, no profile metadata. Free with tsdb_series_free.
 */
struct tsdb_series_info {
	const struct tsdb_label *labels; /* sorted by name */
	size_t nlabels;
	uint64_t profiles;
	int64_t min_t_ns, max_t_ns;
};
struct tsdb_series_set;
int tsdb_series(struct tsdb *db, const struct tsdb_query *q, struct tsdb_series_set **out,
		struct pf_err *err);
size_t tsdb_series_len(const struct tsdb_series_set *set);
const struct tsdb_series_info *tsdb_series_at(const struct tsdb_series_set *set, size_t i);
void tsdb_series_free(struct tsdb_series_set *set);

/*
 * Merge every pprof profile the query finds (samples summed per stack, as
 * pprof_merge; inside a block by stack id without decoding protobuf).
 * Profiles are folded in as they are read: a head profile is decoded,
 * added to one pprof_merger and freed; a block's profiles are summed per
 * stack id for each symbol table (each chunk decoded once, whatever the
 * order of the series or of q->ids) and folded in when the walk leaves the
 * block. Memory grows with the distinct stacks, not with the number of
 * profiles. A corrupt chunk is logged and left out (with q->ids it fails
 * the merge: PF_ECORRUPT). *n gets how many profiles went in.
 * PF_ENOTFOUND when there are none, PF_EMISMATCH when their sample types
 * differ, PF_EINVAL when one is not pprof (err names its type), PF_ELIMIT
 * and PF_ETIMEDOUT (q->max_profiles, q->deadline_ns).
 */
/*
 * query_range's focus=: for each profile q->ids names (q->ids required;
 * matchers, range and limit ignored), the total of every sample type over
 * its samples with a frame match accepts, match being asked about every
 * function name, function file name and mapping file name a sample reaches
 * (at most once per symbol of each symbol table, however many profiles
 * use it): a location matches when its mapping or one of its lines'
 * functions does, a sample when one of its locations does. Read from the
 * symbolized rows (stack ids) without building any pprof profile. out has
 * q->nids entries, filled in: done 1 with the profile's sample types
 * (borrowed from r, until tsdb_focus_free) and totals; done 0 for an id
 * that names nothing stored, a profile that is not pprof, or one kept only
 * as its pushed body (head profiles not yet symbolized): the caller reads
 * those with tsdb_read. *r holds what out borrows (tsdb_focus_free; set
 * also on failure). PF_ECORRUPT (a chunk), PF_ELIMIT, PF_ETIMEDOUT,
 * PF_ECANCELED.
 */
struct tsdb_focus_out {
	int done;
	size_t ntypes;
	const char **types; /* sample type names */
	int64_t *totals;
};
struct tsdb_focus_mem;
int tsdb_focus(struct tsdb *db, const struct tsdb_query *q, int (*match)(void *arg, const char *s),
	       void *arg, struct tsdb_focus_out *out, struct tsdb_focus_mem **r, struct pf_err *err);
void tsdb_focus_free(struct tsdb_focus_mem *r);

struct pprof_profile;
int tsdb_merge(struct tsdb *db, const struct tsdb_query *q, struct pprof_profile **out,
	       size_t *n, struct pf_err *err);

/*
 * tsdb_merge, appended to gz as a gzip pprof body: when the query finds
 * one pprof profile, its stored body (the pushed bytes from the head,
 * re-encoded from a block), else pprof_encode of the merge. Errors as
 * tsdb_merge, plus those of pprof_encode.
 */
int tsdb_merge_encoded(struct tsdb *db, const struct tsdb_query *q, struct pf_buf *gz, size_t *n,
		       struct pf_err *err);

/*
 * Run one round of maintenance now: cut the head into blocks when it spans
 * 1.5 block durations (all of it when flush is set), delete WAL segments
 * nothing refers to, compact, apply retention (checkpointing the WAL when
 * it drops anything; cutting the whole head when the WAL holds over half
 * of the size cap). The background thread calls
 * this too; calls are serialized.
 */
int tsdb_maintain(struct tsdb *db, int flush, struct pf_err *err);

/* ---- selectors (selector.c) ------------------------------------------ */

/*
 * A parsed selector: PromQL's vector selector with the profile type where
 * PromQL has the metric name. `heap{service="api", env!~"dev|test"}` is
 * {type="heap", service="api", env!~"dev|test"}; a type name alone
 * (`heap`) or braces alone are valid; a leading name ([a-zA-Z_][a-zA-Z0-9_.-]*)
 * cannot be combined with a type="..." matcher. Label names are
 * [a-zA-Z_][a-zA-Z0-9_]*. Operators =, !=, =~, !~; values are
 * "..." or '...' with Go escapes (\n \t \\ \" \xNN \uNNNN ...), or `...`
 * raw. Regexes are PCRE2, compiled here as tsdb_find compiles them (fully
 * anchored), so a bad one fails the parse. At least one matcher must not
 * match the empty string (`{}` and `{a=""}` are errors, as in Prometheus).
 */
struct tsdb_selector;

/*
 * Parse s (NUL-terminated, at most 64 KiB, at most 256 matchers) into *out,
 * freed with tsdb_selector_free. Returns 0, or PF_EINVAL with err->msg one
 * sentence "LINE:COL: parse error: WHAT" (1-based, COL in bytes), e.g.
 *   1:14: parse error: unexpected "}", expected a label matcher operator ("=", "!=", "=~" or "!~")
 */
int tsdb_selector_parse(const char *s, struct tsdb_selector **out, struct pf_err *err);
/* The matchers, ready for struct tsdb_query (the type from a leading name
 * first, then in written order); borrowed until tsdb_selector_free. */
const struct tsdb_matcher *tsdb_selector_matchers(const struct tsdb_selector *sel);
size_t tsdb_selector_len(const struct tsdb_selector *sel);
/* NULL is a no-op. */
void tsdb_selector_free(struct tsdb_selector *sel);

#endif
