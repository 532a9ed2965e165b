/*
 * store: the storage interface the API, the scraper, the ingest path and
 * the bundle code use (SPEC §8). Two backends sit behind it: the embedded
 * store (src/tsdb, -storage-type=tsdb) and a shared ClickHouse
 * (src/clickhouse, -storage-type=clickhouse). Nothing above this header
 * knows which one runs; the request, meta, query, series and selector
 * structs are tsdb.h's, which both backends speak.
 *
 * A thin dispatch: each call is the backend's call of the same name
 * (tsdb_* or ch_*), with the same arguments, return codes and err texts;
 * see tsdb.h for the contract. What differs:
 *   - store_append on ClickHouse returns PF_EBUSY when the writer's queue
 *     is full (nothing queued: the API answers 503, the scraper records a
 *     store_error) and PF_EIO when ClickHouse did not take the insert.
 *   - store_maintain on ClickHouse applies retention by dropping whole day
 *     partitions (ch_retain); a background thread does that at open and
 *     then every maintenance interval when a retention is set.
 *
 * All functions are thread-safe.
 */
#ifndef PF_STORE_H
#define PF_STORE_H

#include "base/base.h"
#include "tsdb/tsdb.h"
#include "clickhouse/clickhouse.h"

enum store_type { STORE_TSDB = 1, STORE_CLICKHOUSE = 2 };

struct store;

struct store_options {
	enum store_type type;
	/*
	 * The embedded store's options. With ClickHouse, retention_ns,
	 * retention_bytes, max_future_ns, max_profile_bytes and
	 * maintenance_ns apply too (retention by day partitions: time
	 * retention may keep up to one extra day).
	 */
	struct tsdb_options tsdb;
	/* ClickHouse's (dsn, queue_max, ...); the fields shared with tsdb
	 * (retention_ns, max_future_ns, max_profile_bytes) are taken from
	 * tsdb above */
	struct ch_store_options ch;
};

/* Open the backend o->type names. Errors as tsdb_open / ch_store_open.
 * *out is closed with store_close. */
int store_open(const struct store_options *o, struct store **out, struct pf_err *err);
/* Stop the maintenance, flush (tsdb) or drain the writer (ClickHouse),
 * free. NULL is a no-op. */
void store_close(struct store *s);

enum store_type store_type(const struct store *s);
/* "tsdb" or "clickhouse" */
const char *store_type_name(const struct store *s);

int store_append(struct store *s, const struct tsdb_append_req *req, char *id,
		 struct pf_err *err);

struct store_result;
int store_find(struct store *s, const struct tsdb_query *q, struct store_result **out,
	       struct pf_err *err);
size_t store_result_len(const struct store_result *r);
const struct tsdb_meta *store_result_at(const struct store_result *r, size_t i);
void store_result_free(struct store_result *r);

/* *meta is freed with store_meta_free on the same store. */
int store_read(struct store *s, const char *id, struct pf_buf *body, struct tsdb_meta **meta,
	       struct pf_err *err);
void store_meta_free(struct store *s, struct tsdb_meta *m);

/* tsdb_focus. ClickHouse does nothing here (every out[i].done 0): the
 * caller reads each profile with store_read. r (NULL from ClickHouse) is
 * freed with store_focus_free. */
int store_focus(struct store *s, const struct tsdb_query *q, int (*match)(void *arg, const char *s),
		void *arg, struct tsdb_focus_out *out, struct tsdb_focus_mem **r, struct pf_err *err);
void store_focus_free(struct store *s, struct tsdb_focus_mem *r);

struct store_series_set;
int store_series(struct store *s, const struct tsdb_query *q, struct store_series_set **out,
		 struct pf_err *err);
size_t store_series_len(const struct store_series_set *set);
const struct tsdb_series_info *store_series_at(const struct store_series_set *set, size_t i);
void store_series_free(struct store_series_set *set);

/* Sorted distinct label values / names; free with store_strings_free.
 * err may be NULL. */
int store_label_values(struct store *s, const char *name, char ***values, size_t *n,
		       struct pf_err *err);
int store_label_names(struct store *s, char ***names, size_t *n, struct pf_err *err);
void store_strings_free(char **v, size_t n);

struct pprof_profile;
int store_merge(struct store *s, const struct tsdb_query *q, struct pprof_profile **out,
		size_t *n, struct pf_err *err);
int store_merge_encoded(struct store *s, const struct tsdb_query *q, struct pf_buf *gz,
			size_t *n, struct pf_err *err);

/* One maintenance round now (tsdb_maintain; ClickHouse: ch_retain with
 * the options' retention). */
int store_maintain(struct store *s, int flush, struct pf_err *err);

struct store_stats {
	enum store_type type;
	struct tsdb_stats tsdb; /* STORE_TSDB only (zero otherwise) */
	struct ch_stats ch;     /* STORE_CLICKHOUSE only (zero otherwise) */
	/* ClickHouse maintenance since open: rounds, day partitions dropped,
	 * rounds that failed */
	uint64_t ch_retain_rounds, ch_retain_days, ch_retain_failures;
};
void store_stats(struct store *s, struct store_stats *st);

#endif
