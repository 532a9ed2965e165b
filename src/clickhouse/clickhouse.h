/*
 * clickhouse: profefe's store on a shared ClickHouse (SPEC 8), spoken over
 * ClickHouse's HTTP interface with libcurl. The server reaches it through
 * src/store (-storage-type=clickhouse), which chooses between this and the
 * embedded store (src/tsdb); the operations here are shaped like tsdb.h's
 * (and reuse its request, meta and query structs) for that.
 *
 * Layers:
 *   DSN        http://host:8123/?database=db[&user=u&password=p]
 *   client     one query over HTTP; ClickHouse's own error text in err
 *   RowBinary  writer (inserts) and bounds-checked reader (selects), TSV
 *              field unescaping
 *   store      schema (created on first open, versioned), append through a
 *              writer with a bounded queue, read by id, find, series, label
 *              values and names, merge (summed in ClickHouse, pprof built
 *              here), retention by dropping day partitions
 *
 * Schema (version CH_SCHEMA_VERSION; ../shared/reference/clickhouse.md):
 * series, profiles, stacks, locations, functions, mappings, each a
 * ReplacingMergeTree partitioned by day. Symbols (stacks, locations,
 * functions, mappings) have dense UInt32 ids per namespace ns: a random
 * 64-bit number a writer draws for each (day, service) it writes, so they
 * are written once per node, day and service. A profile row holds its
 * header, ns, and its samples as stack ids and values in sample order.
 *
 * Ids: base62 of 20 bytes (CH_ID_LEN characters, as TSDB_ID_LEN): series
 * id (8, the hash of the label set), time (8, ns), seq (4, a per-node
 * counter from a random start: one node never repeats an id for two
 * appends of one series and time; two nodes' ids for the same series and
 * time meet with probability 2^-32), the profiles table's sorting key.
 * They are fixed before the first insert attempt; a retry sends the same rows, which the
 * ReplacingMergeTree collapses and every read dedups (LIMIT 1 BY), so a
 * retried insert never double-counts. The same file pushed to two nodes
 * gets two ids (two counters from different random starts).
 */
#ifndef PF_CLICKHOUSE_H
#define PF_CLICKHOUSE_H

#include "base/base.h"
#include "tsdb/tsdb.h"

#define CH_ID_LEN TSDB_ID_LEN
#define CH_SCHEMA_VERSION 1

/* ---- DSN ---------------------------------------------------------------- */

struct ch_dsn {
	char *base;     /* "http://host:port/" (scheme, host, port; path "/") */
	char *database; /* [A-Za-z_][A-Za-z0-9_]*, at most 64 bytes */
	char *user;     /* NULL when not given */
	char *password; /* NULL when not given */
};

/*
 * Parse "http://host[:port][/]?database=NAME[&user=U][&password=P]" (values
 * URL-decoded; https too). PF_EINVAL with err naming the part that is wrong
 * ("-clickhouse.dsn \"...\": scheme \"ftp\" is not http or https",
 * "...: missing database= parameter", "...: unknown parameter \"x\"", ...).
 * On success d's strings are the caller's (ch_dsn_free).
 */
int ch_dsn_parse(const char *dsn, struct ch_dsn *d, struct pf_err *err);
/* Frees d's strings; a zeroed struct is fine. */
void ch_dsn_free(struct ch_dsn *d);

/* ---- client ------------------------------------------------------------- */

struct ch_client;

/* A client for d (copied). timeout_ns bounds each query (0 = 30 s). Aborts
 * on OOM; free with ch_client_free (NULL is a no-op). Thread-safe. */
struct ch_client *ch_client_new(const struct ch_dsn *d, int64_t timeout_ns);
void ch_client_free(struct ch_client *c);

/*
 * Run one statement in the DSN's database (use_db 0: in no database, for
 * CREATE DATABASE). With data (an INSERT's rows), sql goes in the URL and
 * data is the body; else sql is the body. The reply is appended to out
 * (may be NULL), at most out->max bytes (PF_ETOOBIG past it).
 * Errors: PF_EIO when the server cannot be reached or the transfer fails
 * ("clickhouse http://h:p/: Couldn't connect to server: Connection
 * refused"; worth retrying), PF_EBUSY for server errors worth retrying
 * (too many parts or queries, memory limit, timeouts, HTTP 503), PF_EINVAL
 * for the rest, err carrying ClickHouse's own message (first line) and
 * the statement's first words.
 */
int ch_query(struct ch_client *c, int use_db, const char *sql, const void *data, size_t len,
	     struct pf_buf *out, struct pf_err *err);
/*
 * ch_query bounded by a deadline (pf_mono_ns time; 0 = none, as ch_query):
 * ClickHouse gets max_execution_time = the seconds left (rounded up) and
 * the transfer is cut at the deadline. PF_ETIMEDOUT when the deadline
 * passed before sending, when ClickHouse stopped the query for its
 * max_execution_time (TIMEOUT_EXCEEDED, its message in err) or when the
 * transfer was cut at the deadline; other errors as ch_query.
 */
int ch_query_until(struct ch_client *c, int use_db, const char *sql, const void *data, size_t len,
		   struct pf_buf *out, int64_t deadline_ns, struct pf_err *err);
/*
 * What bounds one select: a deadline as ch_query_until's (0 = none) and,
 * when cancelled is set, a hook asked before the statement is sent and
 * during the transfer (libcurl's progress callback: about once a second
 * while ClickHouse is silent): nonzero aborts the transfer and the query
 * is PF_ECANCELED ("clickhouse http://h:p/: canceled while ClickHouse ran
 * \"SELECT ...\"", or "canceled before sending"). tsdb_query's cancelled
 * and cancel_arg (the API's: the client hung up, or the server is stopping).
 */
struct ch_bound {
	int64_t deadline_ns;
	int (*cancelled)(void *arg);
	void *cancel_arg;
};
/* ch_query_until with b's deadline and cancel hook (b NULL: ch_query).
 * Not for inserts: what ClickHouse was sent may have been stored. */
int ch_query_bounded(struct ch_client *c, int use_db, const char *sql, const void *data,
		     size_t len, struct pf_buf *out, const struct ch_bound *b, struct pf_err *err);
/* The DSN's database name; borrowed. */
const char *ch_client_database(const struct ch_client *c);

/* Append s as a quoted SQL string literal ('...' with \ and ' escaped, and
 * control bytes as \xNN). */
int ch_sql_quote(struct pf_buf *b, const char *s, size_t n);

/* ---- RowBinary ---------------------------------------------------------- */

/* Writers (append to b; PF_ETOOBIG / PF_ENOMEM as pf_buf). Little-endian;
 * strings and array sizes LEB128-prefixed; Date is UInt16 days since
 * 1970-01-01. */
int ch_rb_u8(struct pf_buf *b, uint8_t v);
int ch_rb_u16(struct pf_buf *b, uint16_t v);
int ch_rb_u32(struct pf_buf *b, uint32_t v);
int ch_rb_u64(struct pf_buf *b, uint64_t v);
int ch_rb_i64(struct pf_buf *b, int64_t v);
int ch_rb_len(struct pf_buf *b, uint64_t n); /* an array's element count */
int ch_rb_str(struct pf_buf *b, const void *p, size_t n);
int ch_rb_cstr(struct pf_buf *b, const char *s);
int ch_rb_date(struct pf_buf *b, uint16_t days);

/*
 * Readers over untrusted bytes (a pf_reader; any read past the end sets
 * r->bad and returns 0). ch_rb_read_len reads an array's element count and
 * sets r->bad when it is more than the bytes left divided by min_elem
 * (the smallest encoding of one element, >= 1), so a caller can allocate
 * what it returns. ch_rb_read_str borrows the bytes (NOT NUL-terminated);
 * ch_rb_read_strdup copies them NUL-terminated into arena a (r->bad when
 * they hold a NUL byte).
 */
uint8_t ch_rb_read_u8(struct pf_reader *r);
uint16_t ch_rb_read_u16(struct pf_reader *r);
uint32_t ch_rb_read_u32(struct pf_reader *r);
uint64_t ch_rb_read_u64(struct pf_reader *r);
int64_t ch_rb_read_i64(struct pf_reader *r);
size_t ch_rb_read_len(struct pf_reader *r, size_t min_elem);
const uint8_t *ch_rb_read_str(struct pf_reader *r, size_t *n);
char *ch_rb_read_strdup(struct pf_reader *r, struct pf_arena *a);

/*
 * TSV: split the next field of one line at *p (up to end), unescaping
 * ClickHouse's escapes (\t \n \r \0 \\ \' \b \f and \xNN) into out (reset
 * first, NUL-terminated). *p moves past the field's tab; *last is set when
 * the field ended the line (newline or end), and *p then points past the
 * newline. PF_EINVAL for a bad escape at the end of input.
 */
int ch_tsv_field(const char **p, const char *end, struct pf_buf *out, int *last);

/* Days since 1970-01-01 of a Unix-ns time (UTC; floor for negative). */
int64_t ch_day_of(int64_t t_ns);

/* ---- store -------------------------------------------------------------- */

struct ch_store;

struct ch_store_options {
	const char *dsn;          /* -clickhouse.dsn */
	int64_t timeout_ns;       /* per query; 0 = 30 s */
	size_t queue_max;         /* profiles waiting for the writer; 0 = 1024 */
	size_t batch_max_bytes;   /* rows in one insert per table; 0 = 16 MiB */
	int max_attempts;         /* inserts of one batch before giving up; 0 = 5 */
	int64_t backoff_ns;       /* first retry delay, doubled each time; 0 = 100 ms */
	size_t max_profile_bytes; /* cap on a decompressed profile; 0 = 512 MiB */
	/* as tsdb_options: appends dated more than max_future_ns after the
	 * clock are PF_EFUTURE, before the retention window (the newest
	 * profile time this node knows, from ClickHouse at open and at each
	 * ch_retain and from its own appends, minus retention_ns) PF_ETOOOLD;
	 * 0 = no limit */
	int64_t max_future_ns;
	int64_t retention_ns;
	/* tests: send every batch this many extra times after it succeeded
	 * (a retry whose first reply was lost) */
	int test_repeat_inserts;
};

/*
 * Parse the DSN, check the server answers, create the database and the
 * schema when missing (idempotent; several nodes may do it at once) and
 * record CH_SCHEMA_VERSION; refuse a database whose schema version is
 * newer (PF_ENEWER naming both versions). Starts the writer thread.
 * Errors name the DSN and what failed. *out is closed with ch_store_close.
 */
int ch_store_open(const struct ch_store_options *o, struct ch_store **out, struct pf_err *err);

/* Stop the writer after it wrote (or failed) every queued profile; free.
 * Concurrent callers must have returned. NULL is a no-op. */
void ch_store_close(struct ch_store *s);

/*
 * Store one profile: symbolized (pprof) or kept raw (traces), queued to
 * the writer, and returns once ClickHouse acknowledged the insert (or the
 * writer gave up). id gets its id (CH_ID_LEN + 1 bytes) in every case
 * where the rows were built, so a caller can log it.
 * Returns 0, PF_EINVAL (labels missing service/type, a body that does not
 * decode, ...), PF_ETOOBIG, PF_EFUTURE and PF_ETOOOLD (the time limits of
 * the options, err as tsdb_append's), PF_EBUSY (the queue is full: nothing queued;
 * the API answers 503), PF_EIO (every attempt failed: err has ClickHouse's
 * last error), PF_ECLOSED.
 */
int ch_append(struct ch_store *s, const struct tsdb_append_req *req, char *id,
	      struct pf_err *err);

/*
 * Read one profile by id: the body (gzip pprof, rebuilt from the symbols,
 * pprof-level equal to what was stored; traces byte for byte) appended to
 * body; with meta, *meta gets its description (ch_meta_free).
 * PF_ENOTFOUND for an id that does not decode or names nothing stored.
 */
int ch_read(struct ch_store *s, const char *id, struct pf_buf *body, struct tsdb_meta **meta,
	    struct pf_err *err);
void ch_meta_free(struct tsdb_meta *m);

/*
 * Find profiles (matchers resolved in C against the series table, as the
 * embedded store resolves them): metas ascending by time (ties by id).
 * q->limit keeps the newest; q->max_profiles is PF_ELIMIT.
 */
struct ch_result;
int ch_find(struct ch_store *s, const struct tsdb_query *q, struct ch_result **out,
	    struct pf_err *err);
size_t ch_result_len(const struct ch_result *r);
const struct tsdb_meta *ch_result_at(const struct ch_result *r, size_t i);
void ch_result_free(struct ch_result *r);

/* The distinct series q selects with a profile in its range (see
 * tsdb_series). */
struct ch_series_set;
int ch_series(struct ch_store *s, const struct tsdb_query *q, struct ch_series_set **out,
	      struct pf_err *err);
size_t ch_series_len(const struct ch_series_set *set);
const struct tsdb_series_info *ch_series_at(const struct ch_series_set *set, size_t i);
void ch_series_free(struct ch_series_set *set);

/* Sorted distinct values of a label / label names over all series; free
 * with ch_strings_free. */
int ch_label_values(struct ch_store *s, const char *name, char ***values, size_t *n,
		    struct pf_err *err);
int ch_label_names(struct ch_store *s, char ***names, size_t *n, struct pf_err *err);
void ch_strings_free(char **v, size_t n);

/*
 * Merge what q selects (or q->ids, each as often as named): the values are
 * summed per (namespace, stack id) in ClickHouse (sumForEach over ARRAY
 * JOIN), each namespace's stacks rebuilt into one pprof and the namespaces
 * folded with pprof_merger. *n gets the profiles that went in. Errors as
 * tsdb_merge: PF_ENOTFOUND, PF_EMISMATCH, PF_EINVAL (a trace), PF_ELIMIT.
 */
int ch_merge(struct ch_store *s, const struct tsdb_query *q, struct pprof_profile **out,
	     size_t *n, struct pf_err *err);

/*
 * ch_merge, appended to gz as a gzip pprof body: when q selects one pprof
 * profile (named once), that profile as ch_read rebuilds it (nothing
 * summed or dropped), else pprof_encode of the merge. Errors as ch_merge.
 */
int ch_merge_encoded(struct ch_store *s, const struct tsdb_query *q, struct pf_buf *gz, size_t *n,
		     struct pf_err *err);

/*
 * Retention: drop every day partition (all tables) older than the day of
 * (anchor - retention_ns), anchor being the newest profile time, but not
 * later than now + max_future_ns when that is set (so up to one extra day
 * is kept); then, with retention_bytes, the oldest days while the
 * database's active parts are bigger. *dropped gets the days dropped.
 */
int ch_retain(struct ch_store *s, int64_t retention_ns, int64_t max_future_ns,
	      uint64_t retention_bytes, size_t *dropped, struct pf_err *err);

/* Writer figures for /metrics. */
struct ch_stats {
	uint64_t queued;        /* profiles waiting now */
	uint64_t inflight;      /* profiles in the batch being inserted now */
	uint64_t inserts;       /* successful batch inserts */
	uint64_t retries;       /* failed attempts that were retried */
	uint64_t failures;      /* batches given up */
	uint64_t refused;       /* appends refused for a full queue */
	uint64_t insert_ns;     /* time in successful batch inserts */
};
void ch_stats(struct ch_store *s, struct ch_stats *st);

/* The client (for tests and the size measurement); borrowed. */
struct ch_client *ch_store_client(struct ch_store *s);

#endif
