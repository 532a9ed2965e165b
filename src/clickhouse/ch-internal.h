/*
 * Internals of src/clickhouse shared by its files (ch__ prefix).
 *
 *   client.c   DSN, HTTP, quoting, RowBinary, TSV
 *   schema.c   the tables and the schema version
 *   store.c    open/close, the writer (queue, batches, retries), append
 *   query.c    read by id, find, series, label values and names, merge,
 *              retention; pprof rebuilt from the symbol tables
 */
#ifndef PF_CLICKHOUSE_INTERNAL_H
#define PF_CLICKHOUSE_INTERNAL_H

#include "clickhouse/clickhouse.h"
#include "pprof/pprof.h"

#include <pthread.h>

/* the tables, in the order a batch inserts them: symbols before the
 * profile rows that refer to them */
enum { CH__T_MAP, CH__T_FN, CH__T_LOC, CH__T_STACK, CH__T_SERIES, CH__T_PROF, CH__T_N };
extern const char *const ch__table_name[CH__T_N];
extern const char *const ch__insert_sql[CH__T_N];

/* Create the database and tables when missing and check/record the
 * schema version (schema.c). */
int ch__schema_ensure(struct ch_client *c, struct pf_err *err);

/* One namespace's symbol dictionary: content -> dense id (1-based), and
 * whether the rows of each id were acknowledged by ClickHouse. */
struct ch__nsdict {
	pthread_mutex_t mu; /* keys, n, written: encoders and the writer's marks */
	size_t users;       /* appenders encoding with it (store lock) */
	int64_t day;
	char *service;
	uint64_t ns;
	struct pf_map *keys[4];
	uint8_t *written[4];
	size_t cap[4];
	uint32_t n[4];
};

struct ch__job;

struct ch_store {
	struct ch_store_options o;
	struct ch_client *c;
	char *dsn_base;
	pthread_mutex_t mu;
	pthread_cond_t work; /* the writer waits for jobs */
	pthread_cond_t done; /* appenders wait for their job */
	pthread_t writer;
	int writer_started, closing;
	struct ch__job *head, *tail;
	size_t queued;
	size_t inflight; /* jobs of the batch being inserted */
	struct pf_map *dicts; /* day(8) + service -> index into dictv */
	struct ch__nsdict **dictv;
	size_t ndict, dictcap;
	struct pf_htab series_written; /* hash(day, series id) -> 1 */
	struct ch_stats st;
	int64_t newest_t; /* newest profile time known; INT64_MIN: none */
	/* the next id's seq (under mu): counts up from a random start, so one
	 * node never gives two appends of one series and time the same id,
	 * and two nodes' ids differ unless their counters meet (2^-32) */
	uint32_t seq_next;
};

/* The newest profile time in ClickHouse (INT64_MIN when there is none). */
int ch__newest(struct ch_store *s, int64_t *newest, struct pf_err *err);

/*
 * Parse p (n bytes, untrusted) as the RowBinary reply of one of the
 * store's selects and free what it built (tests/fuzz/fuzz_rowbinary.c):
 * kind 0 series rows, 1 profile rows (find, merge), 2..5 mapping, function,
 * location, stack rows. 0 or PF_ECORRUPT; never reads past p + n.
 */
int ch__parse_reply(int kind, const void *p, size_t n, struct pf_err *err);

/* Random 64 bits (getrandom, else time and address). */
uint64_t ch__random64(void);

/* Ids are the embedded store's (series, time, sequence in 20 bytes, base62):
 * tsdb__id_encode and tsdb__id_decode (tsdb/tsdb-internal.h). */

/* 'YYYY-MM-DD' of a day number, quoted, appended to b. */
int ch__put_day(struct pf_buf *b, int64_t day);

#endif
