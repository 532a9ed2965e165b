/*
 * scrape: pulls profiles from the targets of the scrape configuration
 * (SPEC §4, §10.7, §10.8) and stores them as pushes are stored.
 *
 * One thread runs a libuv loop that holds everything: one timer per
 * (target, type) pair, at a stable offset in the interval (a hash of the
 * pair) plus a bounded random jitter, and libcurl's multi-socket interface
 * on the same loop (the pattern of curl's docs/examples/multi-uv.c) for
 * every transfer; there is no thread per target. A body that arrived is
 * validated like a push (pprof_decode; legacy text refused; traces kept
 * byte for byte) and appended with tsdb_append by a small pool of store
 * threads, so the loop never waits on the store's fsync.
 *
 * A pair never has two scrapes in flight: a scrape due meanwhile waits
 * for it, at most the jitter bound (so a 10 s CPU profile every 10 s runs
 * back to back), and is skipped and counted when it would be later. Health is kept per pair (up, down, unknown), with
 * the last error as a sentence, the last scrape's time and duration and
 * the next scrape's time.
 *
 * The running configuration belongs to the scraper. scrape_reload reads
 * the file again: unchanged pairs keep their schedule, new ones start,
 * removed ones stop (a scrape in flight finishes and is stored); a broken
 * file changes nothing. file_sd target files are re-read when they change
 * (checked every second) and every refresh_interval.
 *
 * Thread safety: every function may be called from any thread, except
 * scrape_stop, which must be the last call.
 */
#ifndef PF_SCRAPE_H
#define PF_SCRAPE_H

#include "base/base.h"
#include "config/config.h"

struct store;
struct scrape;

struct scrape_options {
	struct store *db;          /* borrowed; outlives the scraper */
	const char *config_file;   /* what scrape_reload reads; NULL or "" = none */
	size_t max_body_bytes;     /* cap on a response body (-max-body-size); 0 = 64 MiB */
	size_t max_profile_bytes;  /* cap on a decompressed profile; 0 = 512 MiB */
	/* -max-inflight-decompressed, shared with the API: stored bodies inflate
	 * within it (borrowed, outlives the scraper; NULL = no budget) */
	struct pf_budget *inflight;
	const char *user_agent;    /* NULL = "profefe" */
	unsigned store_threads;    /* threads validating and appending; 0 = 8 */
	uint64_t seed;             /* jitter random seed; 0 = from the clock */
	/* -scrape.shard=I/N: scrape only the targets whose shard
	 * (scrape_shard_of) is shard_i; shard_n 0 or 1 = every target */
	unsigned shard_i, shard_n;
};

/*
 * The shard (0..n-1) of a target of n shards: a hash of its labels but
 * "type" (so every profile type of one target goes to one shard), which N
 * servers reading one configuration agree on. n 0 or 1: 0.
 */
unsigned scrape_shard_of(const struct config_labels *labels, unsigned n);

/*
 * Start the scraper's thread with cfg (a reference is taken; NULL: no
 * targets until a reload). Raises the open-file soft limit to the hard
 * limit. On failure nothing is left running and err says what. The
 * caller stops it with scrape_stop.
 */
int scrape_start(const struct scrape_options *o, struct config *cfg, struct scrape **out,
		 struct pf_err *err);

/*
 * Stop scheduling; give transfers in flight up to 5 s to finish (the rest
 * are cancelled); wait until every body already received is stored; free
 * everything. NULL is a no-op.
 */
void scrape_stop(struct scrape *s);

/*
 * Load a configuration file for the scraper: config_load_file, plus a log
 * line per warning and "config loaded" with the counts. Returns 0 or <0
 * with err "FILE:LINE:COLUMN: reason".
 */
int scrape_config_load(const char *path, struct config **out, struct pf_err *err);

/*
 * Re-read options.config_file and apply it; returns once the new targets
 * are in place. A file that does not load changes nothing: returns <0
 * with err "FILE:LINE:COLUMN: reason" (PF_EINVAL when there is no file to
 * read). Both outcomes are logged and counted in the metrics.
 */
int scrape_reload(struct scrape *s, struct pf_err *err);

/* Apply an already loaded snapshot (a reference is taken). */
int scrape_apply(struct scrape *s, struct config *cfg, struct pf_err *err);

/* The running configuration: a new reference (config_free), or NULL. */
struct config *scrape_config(struct scrape *s);

/* ---- status ------------------------------------------------------------ */

enum scrape_health { SCRAPE_HEALTH_UNKNOWN = 0, SCRAPE_HEALTH_UP, SCRAPE_HEALTH_DOWN };

/* "unknown", "up", "down" */
const char *scrape_health_name(enum scrape_health h);

/* One (target, type) pair as /api/v1/targets shows it. */
struct scrape_target_status {
	const char *job;
	const char *url;
	const struct config_label *labels; /* the series labels, sorted (type included) */
	size_t nlabels;
	int64_t interval_ns;
	int64_t timeout_ns;
	enum scrape_health health;
	const char *last_error;            /* "" when the last scrape had nothing to say */
	int64_t last_scrape_ns;            /* Unix ns of its start; 0 = never */
	int64_t last_duration_ns;
	int64_t next_scrape_ns;            /* Unix ns; 0 when not scheduled */
	unsigned shard;                    /* scrape_shard_of its labels (0 unsharded) */
};

struct scrape_status;

/*
 * A copy of every pair's status, sorted by job, instance and type. Freed
 * with scrape_status_free; everything it hands out lives until then.
 */
struct scrape_status *scrape_status_get(struct scrape *s);
size_t scrape_status_count(const struct scrape_status *st);
const struct scrape_target_status *scrape_status_at(const struct scrape_status *st, size_t i);
/* With -scrape.shard: the targets of the configuration that other shards
 * own (job, url, labels, interval, timeout and shard set; not scraped
 * here), sorted as the others. */
size_t scrape_status_others_count(const struct scrape_status *st);
const struct scrape_target_status *scrape_status_other_at(const struct scrape_status *st,
							   size_t i);
/* The options' shard_i and shard_n (n 0 or 1: not sharded). */
void scrape_shard(const struct scrape *s, unsigned *i, unsigned *n);
void scrape_status_free(struct scrape_status *st);

/*
 * Append the scraper's metrics in the Prometheus text format: scrapes by
 * job and result, scrape durations, bytes, skipped scrapes, the schedule
 * lag, pairs per job, scrapes in flight, config reloads.
 */
void scrape_metrics_write(struct scrape *s, struct pf_buf *out);

/* ---- the schedule (pure functions; unit-tested) ------------------------- */

/* The stable offset of a pair in its interval: hash mod interval, in
 * [0, interval_ns). */
int64_t scrape_offset(uint64_t hash, int64_t interval_ns);
/* The jitter bound J: every scrape starts at its slot plus a random
 * jitter in [0, J). J = min(interval / 20, 1 s). */
int64_t scrape_jitter_bound(int64_t interval_ns);
/* A jitter in [0, scrape_jitter_bound(interval_ns)) from *state
 * (xorshift64*; a zero state is replaced by a fixed non-zero one). */
int64_t scrape_jitter(uint64_t *state, int64_t interval_ns);
/* The first slot after now_ns (Unix ns): the time t > now_ns with
 * t mod interval = scrape_offset(hash, interval). Stable across restarts
 * and reloads, so a fleet of pairs spreads evenly over the interval. */
int64_t scrape_first_slot(int64_t now_ns, uint64_t hash, int64_t interval_ns);

/*
 * The target diff of a reload. For each cur[i], match[i] is the index of
 * an old pair doing the same work (config_target_equal), which keeps
 * running with its schedule and health, or -1 (a new pair to start).
 * kept[j] is 1 when old[j] was matched, else 0 (a pair to stop). Each old
 * pair matches at most one new one. O((nold + ncur) log nold).
 */
void scrape_diff(const struct config_target *const *old, size_t nold,
		 const struct config_target *const *cur, size_t ncur, long *match, int *kept);

#endif
