/* /metrics in the Prometheus text format, and the counters behind it. */
#include "api/api-internal.h"
#include "scrape/scrape.h"

#include <stdlib.h>

static const char *route_names[API_ROUTE_COUNT] = {
	[API_ROUTE_OTHER] = "other",
	[API_ROUTE_PROFILES] = "/api/0/profiles",
	[API_ROUTE_MERGE] = "/api/0/profiles/merge",
	[API_ROUTE_PROFILE_ID] = "/api/0/profiles/__pid__",
	[API_ROUTE_SERVICES] = "/api/0/services",
	[API_ROUTE_VERSION] = "/api/0/version",
	[API_ROUTE_API0_OTHER] = "/api/0/other",
	[API_ROUTE_HEALTHY] = "/-/healthy",
	[API_ROUTE_READY] = "/-/ready",
	[API_ROUTE_METRICS] = "/metrics",
	[API_ROUTE_V1_QUERY_RANGE] = "/api/v1/query_range",
	[API_ROUTE_V1_SERIES] = "/api/v1/series",
	[API_ROUTE_V1_LABELS] = "/api/v1/labels",
	[API_ROUTE_V1_LABEL_VALUES] = "/api/v1/label/:name/values",
	[API_ROUTE_V1_STATUS_TSDB] = "/api/v1/status/tsdb",
	[API_ROUTE_V1_BUILDINFO] = "/api/v1/status/buildinfo",
	[API_ROUTE_V1_OTHER] = "/api/v1/other",
	[API_ROUTE_V1_TARGETS] = "/api/v1/targets",
	[API_ROUTE_V1_STATUS_CONFIG] = "/api/v1/status/config",
	[API_ROUTE_RELOAD] = "/-/reload",
	[API_ROUTE_V1_PROFILE] = "/api/v1/profile/:id",
	[API_ROUTE_V1_MERGE] = "/api/v1/merge",
	[API_ROUTE_V1_DIFF] = "/api/v1/diff",
	[API_ROUTE_WEB] = "/ui/*",
	[API_ROUTE_V1_BUNDLES] = "/api/v1/bundles",
	[API_ROUTE_V1_BUNDLE] = "/api/v1/bundle",
	[API_ROUTE_V1_PROFILES] = "/api/v1/profiles",
};

const char *api_route_name(int route)
{
	return route >= 0 && route < API_ROUTE_COUNT ? route_names[route] : "other";
}

void api_metrics_init(struct api_metrics *m)
{
	pthread_mutex_init(&m->mu, NULL);
	m->requests = pf_map_new(64);
	m->refused = pf_map_new(16);
	m->started_ns = pf_now_ns();
}

void api_metrics_destroy(struct api_metrics *m)
{
	pf_map_free(m->requests);
	pf_map_free(m->refused);
	m->requests = m->refused = NULL;
	pthread_mutex_destroy(&m->mu);
}

static const char *known_method(const char *m)
{
	static const char *ok[] = {"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"};
	for (size_t i = 0; i < PF_ARRAY_LEN(ok); i++)
		if (strcmp(m, ok[i]) == 0)
			return ok[i];
	return "other"; /* bounded label cardinality */
}

void api_metrics_request(struct api_metrics *m, int route, const char *method, int code)
{
	char key[96];
	int n = snprintf(key, sizeof(key), "%s%c%s%c%d", api_route_name(route), 0,
			 known_method(method), 0, code);
	uint64_t v = 1;

	pthread_mutex_lock(&m->mu);
	if (pf_map_get_or_put(m->requests, key, (size_t)n + 1, &v))
		pf_map_put(m->requests, key, (size_t)n + 1, v + 1);
	pthread_mutex_unlock(&m->mu);
}

void api_metrics_refused(struct api_metrics *m, const char *reason)
{
	size_t n = strlen(reason) + 1;
	uint64_t v = 1;

	pthread_mutex_lock(&m->mu);
	if (pf_map_get_or_put(m->refused, reason, n, &v))
		pf_map_put(m->refused, reason, n, v + 1);
	pthread_mutex_unlock(&m->mu);
}

static const double duration_le[API_DURATION_BUCKETS] = {
	0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

void api_metrics_duration(struct api_metrics *m, int route, int64_t ns)
{
	size_t b;

	if (route < 0 || route >= API_ROUTE_COUNT)
		route = API_ROUTE_OTHER;
	if (ns < 0)
		ns = 0;
	b = pf_prom_bucket(duration_le, API_DURATION_BUCKETS, (double)ns / 1e9);
	__atomic_fetch_add(&m->duration[route][b], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&m->duration_ns[route], (uint64_t)ns, __ATOMIC_RELAXED);
}

/* profefe_http_request_duration_seconds: a histogram per route that has
 * seen requests. */
static void write_durations(struct api_metrics *m, struct pf_buf *b)
{
	pf_buf_printf(b, "# HELP profefe_http_request_duration_seconds Time from a request's "
			 "last body byte to its reply, by route.\n"
			 "# TYPE profefe_http_request_duration_seconds histogram\n");
	for (int r = 0; r < API_ROUTE_COUNT; r++) {
		uint64_t n = 0, v[API_DURATION_BUCKETS + 1];
		for (size_t i = 0; i <= API_DURATION_BUCKETS; i++)
			n += v[i] = __atomic_load_n(&m->duration[r][i], __ATOMIC_RELAXED);
		if (n == 0)
			continue;
		pf_prom_histogram(b, "profefe_http_request_duration_seconds", "route",
				  api_route_name(r), duration_le, API_DURATION_BUCKETS, v,
				  (double)__atomic_load_n(&m->duration_ns[r], __ATOMIC_RELAXED) / 1e9);
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* profefe_requests_refused_total{reason}, sorted by reason. */
static void write_refused(struct api_metrics *m, struct pf_buf *b)
{
	char **lines = NULL;
	size_t nlines = 0, cap = 0, it = 0, klen;
	const void *key;
	uint64_t val;

	pthread_mutex_lock(&m->mu);
	while (pf_map_next(m->refused, &it, &key, &klen, &val)) {
		char line[160];
		snprintf(line, sizeof(line), "profefe_requests_refused_total{reason=\"%.64s\"} %llu\n",
			 (const char *)key, (unsigned long long)val);
		pf_xgrow((void **)&lines, &cap, nlines + 1, sizeof(*lines));
		lines[nlines++] = pf_xstrdup(line);
	}
	pthread_mutex_unlock(&m->mu);
	if (nlines > 1) /* qsort(NULL, 0) is undefined */
		qsort(lines, nlines, sizeof(*lines), cmp_str);
	pf_buf_printf(b, "# HELP profefe_requests_refused_total Requests refused before anything was "
			 "stored, by reason.\n"
			 "# TYPE profefe_requests_refused_total counter\n");
	for (size_t i = 0; i < nlines; i++) {
		pf_buf_printf(b, "%s", lines[i]);
		free(lines[i]);
	}
	free(lines);
}

/* The store's figures: the embedded store's, or ClickHouse's writer and
 * retention (-storage-type). */
static void write_store(const struct store_stats *st, struct pf_buf *b)
{
	if (st->type == STORE_CLICKHOUSE) {
		pf_buf_printf(b,
			      "# HELP profefe_clickhouse_queue_depth Profiles waiting for the ClickHouse writer now.\n"
			      "# TYPE profefe_clickhouse_queue_depth gauge\n"
			      "profefe_clickhouse_queue_depth %llu\n"
			      "# HELP profefe_clickhouse_inflight Profiles in the insert running now.\n"
			      "# TYPE profefe_clickhouse_inflight gauge\n"
			      "profefe_clickhouse_inflight %llu\n"
			      "# HELP profefe_clickhouse_inserts_total Batch inserts ClickHouse acknowledged.\n"
			      "# TYPE profefe_clickhouse_inserts_total counter\n"
			      "profefe_clickhouse_inserts_total %llu\n"
			      "# HELP profefe_clickhouse_insert_seconds_total Time spent in acknowledged batch inserts.\n"
			      "# TYPE profefe_clickhouse_insert_seconds_total counter\n"
			      "profefe_clickhouse_insert_seconds_total %.6f\n"
			      "# HELP profefe_clickhouse_insert_retries_total Failed insert attempts that were retried.\n"
			      "# TYPE profefe_clickhouse_insert_retries_total counter\n"
			      "profefe_clickhouse_insert_retries_total %llu\n"
			      "# HELP profefe_clickhouse_insert_failures_total Batches given up after every attempt failed (the pushers got an error).\n"
			      "# TYPE profefe_clickhouse_insert_failures_total counter\n"
			      "profefe_clickhouse_insert_failures_total %llu\n"
			      "# HELP profefe_clickhouse_queue_full_total Appends refused because the writer's queue was full (-clickhouse.queue-size).\n"
			      "# TYPE profefe_clickhouse_queue_full_total counter\n"
			      "profefe_clickhouse_queue_full_total %llu\n"
			      "# HELP profefe_clickhouse_retention_rounds_total Retention rounds (drop day partitions) since start.\n"
			      "# TYPE profefe_clickhouse_retention_rounds_total counter\n"
			      "profefe_clickhouse_retention_rounds_total %llu\n"
			      "# HELP profefe_clickhouse_retention_dropped_days_total Day partitions dropped by retention since start.\n"
			      "# TYPE profefe_clickhouse_retention_dropped_days_total counter\n"
			      "profefe_clickhouse_retention_dropped_days_total %llu\n"
			      "# HELP profefe_clickhouse_retention_failures_total Retention rounds that failed.\n"
			      "# TYPE profefe_clickhouse_retention_failures_total counter\n"
			      "profefe_clickhouse_retention_failures_total %llu\n",
			      (unsigned long long)st->ch.queued, (unsigned long long)st->ch.inflight,
			      (unsigned long long)st->ch.inserts, (double)st->ch.insert_ns / 1e9,
			      (unsigned long long)st->ch.retries, (unsigned long long)st->ch.failures,
			      (unsigned long long)st->ch.refused, (unsigned long long)st->ch_retain_rounds,
			      (unsigned long long)st->ch_retain_days,
			      (unsigned long long)st->ch_retain_failures);
		return;
	}
	pf_buf_printf(b,
		      "# HELP profefe_tsdb_wal_fsyncs_total fsync calls on the write-ahead log.\n"
		      "# TYPE profefe_tsdb_wal_fsyncs_total counter\n"
		      "profefe_tsdb_wal_fsyncs_total %llu\n"
		      "# HELP profefe_tsdb_appends_total Profiles appended to the store since start.\n"
		      "# TYPE profefe_tsdb_appends_total counter\n"
		      "profefe_tsdb_appends_total %llu\n"
		      "# HELP profefe_tsdb_series Series in the store.\n"
		      "# TYPE profefe_tsdb_series gauge\n"
		      "profefe_tsdb_series %llu\n"
		      "# HELP profefe_tsdb_profiles Profiles in the store.\n"
		      "# TYPE profefe_tsdb_profiles gauge\n"
		      "profefe_tsdb_profiles %llu\n"
		      "# HELP profefe_tsdb_wal_bytes Bytes of the write-ahead log on disk.\n"
		      "# TYPE profefe_tsdb_wal_bytes gauge\n"
		      "profefe_tsdb_wal_bytes %llu\n"
		      "# HELP profefe_tsdb_blocks Blocks of the store.\n"
		      "# TYPE profefe_tsdb_blocks gauge\n"
		      "profefe_tsdb_blocks %llu\n"
		      "# HELP profefe_tsdb_block_bytes Bytes of the store's blocks on disk.\n"
		      "# TYPE profefe_tsdb_block_bytes gauge\n"
		      "profefe_tsdb_block_bytes %llu\n"
		      "# HELP profefe_tsdb_head_profiles Profiles in the head (not yet in a block).\n"
		      "# TYPE profefe_tsdb_head_profiles gauge\n"
		      "profefe_tsdb_head_profiles %llu\n"
		      "# HELP profefe_tsdb_head_cuts_total Blocks cut from the head since start.\n"
		      "# TYPE profefe_tsdb_head_cuts_total counter\n"
		      "profefe_tsdb_head_cuts_total %llu\n"
		      "# HELP profefe_tsdb_compactions_total Compactions since start.\n"
		      "# TYPE profefe_tsdb_compactions_total counter\n"
		      "profefe_tsdb_compactions_total %llu\n"
		      "# HELP profefe_tsdb_head_cut_seconds_total Time spent cutting the head into blocks.\n"
		      "# TYPE profefe_tsdb_head_cut_seconds_total counter\n"
		      "profefe_tsdb_head_cut_seconds_total %.6f\n"
		      "# HELP profefe_tsdb_compaction_seconds_total Time spent compacting blocks.\n"
		      "# TYPE profefe_tsdb_compaction_seconds_total counter\n"
		      "profefe_tsdb_compaction_seconds_total %.6f\n"
		      "# HELP profefe_tsdb_compacted_profiles_total Profiles written into blocks by compactions.\n"
		      "# TYPE profefe_tsdb_compacted_profiles_total counter\n"
		      "profefe_tsdb_compacted_profiles_total %llu\n"
		      "# HELP profefe_tsdb_retention_drops_total Blocks dropped by retention since start.\n"
		      "# TYPE profefe_tsdb_retention_drops_total counter\n"
		      "profefe_tsdb_retention_drops_total %llu\n"
		      "# HELP profefe_tsdb_maintenance_rounds_total Maintenance rounds (cut, compact, retention) since start.\n"
		      "# TYPE profefe_tsdb_maintenance_rounds_total counter\n"
		      "profefe_tsdb_maintenance_rounds_total %llu\n"
		      "# HELP profefe_tsdb_corrupt_skipped_total Corrupt blocks or chunks reported and skipped.\n"
		      "# TYPE profefe_tsdb_corrupt_skipped_total counter\n"
		      "profefe_tsdb_corrupt_skipped_total %llu\n",
		      (unsigned long long)st->tsdb.wal_fsyncs, (unsigned long long)st->tsdb.appends,
		      (unsigned long long)st->tsdb.series, (unsigned long long)st->tsdb.profiles,
		      (unsigned long long)st->tsdb.wal_bytes, (unsigned long long)st->tsdb.blocks,
		      (unsigned long long)st->tsdb.block_bytes, (unsigned long long)st->tsdb.head_profiles,
		      (unsigned long long)st->tsdb.cuts, (unsigned long long)st->tsdb.compactions,
		      (double)st->tsdb.cut_ns / 1e9, (double)st->tsdb.compact_ns / 1e9,
		      (unsigned long long)st->tsdb.compacted_profiles,
		      (unsigned long long)st->tsdb.retention_drops, (unsigned long long)st->tsdb.maint_rounds,
		      (unsigned long long)st->tsdb.corrupt_skipped);
}

void api_admin_metrics(struct api_server *s, struct api_reply *rep)
{
	struct api_metrics *m = &s->metrics;
	struct store_stats st;
	struct pf_buf *b = &rep->body;
	char **lines = NULL;
	size_t nlines = 0, cap = 0, it = 0, klen;
	const void *key;
	uint64_t val;

	pf_buf_reset(b);
	pthread_mutex_lock(&m->mu);
	while (pf_map_next(m->requests, &it, &key, &klen, &val)) {
		const char *route = key, *method = route + strlen(route) + 1,
			   *code = method + strlen(method) + 1;
		char line[256];
		snprintf(line, sizeof(line),
			 "profefe_http_requests_total{route=\"%s\",method=\"%s\",code=\"%s\"} %llu\n",
			 route, method, code, (unsigned long long)val);
		pf_xgrow((void **)&lines, &cap, nlines + 1, sizeof(*lines));
		lines[nlines++] = pf_xstrdup(line);
	}
	pthread_mutex_unlock(&m->mu);
	if (nlines > 1) /* qsort(NULL, 0) is undefined */
		qsort(lines, nlines, sizeof(*lines), cmp_str);

	pf_buf_printf(b, "# HELP profefe_http_requests_total HTTP requests by route, method and code.\n"
			 "# TYPE profefe_http_requests_total counter\n");
	for (size_t i = 0; i < nlines; i++) {
		pf_buf_printf(b, "%s", lines[i]);
		free(lines[i]);
	}
	free(lines);
	write_durations(m, b);
	write_refused(m, b);
	if (s->opt.inflight)
		pf_buf_printf(b,
			      "# HELP profefe_inflight_decompressed_bytes Bytes of inflate buffers of pushes and scrapes alive now.\n"
			      "# TYPE profefe_inflight_decompressed_bytes gauge\n"
			      "profefe_inflight_decompressed_bytes %zu\n"
			      "# HELP profefe_inflight_decompressed_limit_bytes -max-inflight-decompressed.\n"
			      "# TYPE profefe_inflight_decompressed_limit_bytes gauge\n"
			      "profefe_inflight_decompressed_limit_bytes %zu\n"
			      "# HELP profefe_inflight_decompressed_waiting Pushes and scrapes waiting for room in -max-inflight-decompressed.\n"
			      "# TYPE profefe_inflight_decompressed_waiting gauge\n"
			      "profefe_inflight_decompressed_waiting %zu\n",
			      pf_budget_used(s->opt.inflight), pf_budget_total(s->opt.inflight),
			      pf_budget_waiting(s->opt.inflight));

	store_stats(s->opt.db, &st);
	write_store(&st, b);
	pf_buf_printf(b,
		      "# HELP profefe_profiles_ingested_total Profiles stored through the API.\n"
		      "# TYPE profefe_profiles_ingested_total counter\n"
		      "profefe_profiles_ingested_total %llu\n"
		      "# HELP profefe_profile_bytes_ingested_total Bytes of profile bodies stored through the API.\n"
		      "# TYPE profefe_profile_bytes_ingested_total counter\n"
		      "profefe_profile_bytes_ingested_total %llu\n"
		      "# HELP profefe_profiles_rejected_total Pushed bodies refused as malformed or too large.\n"
		      "# TYPE profefe_profiles_rejected_total counter\n"
		      "profefe_profiles_rejected_total %llu\n"
		      "# HELP profefe_http_connections_open HTTP connections open.\n"
		      "# TYPE profefe_http_connections_open gauge\n"
		      "profefe_http_connections_open %llu\n"
		      "# HELP profefe_http_connections_max HTTP connections allowed at once (-web.max-connections).\n"
		      "# TYPE profefe_http_connections_max gauge\n"
		      "profefe_http_connections_max %u\n"
		      "# HELP profefe_http_header_timeouts_total Connections closed for not completing a request's headers within -web.read-header-timeout (slow or idle clients).\n"
		      "# TYPE profefe_http_header_timeouts_total counter\n"
		      "profefe_http_header_timeouts_total %llu\n"
		      "# HELP profefe_build_info Build information.\n"
		      "# TYPE profefe_build_info gauge\n"
		      "profefe_build_info{version=\"%s\",commit=\"%s\"} 1\n"
		      "# HELP process_start_time_seconds Start time of the process since the Unix epoch.\n"
		      "# TYPE process_start_time_seconds gauge\n"
		      "process_start_time_seconds %.3f\n",
		      (unsigned long long)__atomic_load_n(&m->profiles_ingested, __ATOMIC_RELAXED),
		      (unsigned long long)__atomic_load_n(&m->bytes_ingested, __ATOMIC_RELAXED),
		      (unsigned long long)__atomic_load_n(&m->bad_profiles, __ATOMIC_RELAXED),
		      (unsigned long long)__atomic_load_n(&s->conns_open, __ATOMIC_RELAXED),
		      s->max_conns,
		      (unsigned long long)__atomic_load_n(&s->header_timeouts, __ATOMIC_RELAXED),
		      s->opt.version, s->opt.commit,
		      (double)m->started_ns / 1e9);
	if (st.type == STORE_TSDB)
		pf_buf_printf(b,
		      "# HELP profefe_tsdb_retention_dropped_profiles_total Profiles dropped by retention (in blocks and in the head) since start.\n"
		      "# TYPE profefe_tsdb_retention_dropped_profiles_total counter\n"
		      "profefe_tsdb_retention_dropped_profiles_total %llu\n"
		      "# HELP profefe_tsdb_checkpoint_creations_total WAL checkpoints written since start.\n"
		      "# TYPE profefe_tsdb_checkpoint_creations_total counter\n"
		      "profefe_tsdb_checkpoint_creations_total %llu\n"
		      "# HELP profefe_tsdb_checkpoint_creations_failed_total WAL checkpoints that failed since start.\n"
		      "# TYPE profefe_tsdb_checkpoint_creations_failed_total counter\n"
		      "profefe_tsdb_checkpoint_creations_failed_total %llu\n"
		      "# HELP profefe_tsdb_checkpoint_seconds_total Time spent writing WAL checkpoints.\n"
		      "# TYPE profefe_tsdb_checkpoint_seconds_total counter\n"
		      "profefe_tsdb_checkpoint_seconds_total %.6f\n",
		      (unsigned long long)st.tsdb.retention_dropped_profiles,
		      (unsigned long long)st.tsdb.checkpoints, (unsigned long long)st.tsdb.checkpoint_failures,
		      (double)st.tsdb.checkpoint_ns / 1e9);
	if (s->opt.scrape)
		scrape_metrics_write(s->opt.scrape, b);
	rep->status = 200;
	rep->content_type = "text/plain; version=0.0.4; charset=utf-8";
}
