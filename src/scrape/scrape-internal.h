/* Shared between the files of src/scrape; not part of the public API.
 *
 *   manager.c   lifetime, the loop thread, commands, reload and the
 *               target diff, file_sd refresh, status and metrics
 *   target.c    the schedule: offsets, jitter, one uv timer per pair
 *   curl_uv.c   libcurl multi <-> libuv glue; one transfer per scrape
 *   store.c     the store threads: validate a body, append it
 *
 * Threads: the loop thread owns jobs, pairs and transfers. Fields that
 * other threads read (pair health, the pair list, metrics, the running
 * config) change only under scrape.mu. Store threads see a transfer only
 * between its hand-off and its return through the done queue.
 */
#ifndef PF_SCRAPE_INTERNAL_H
#define PF_SCRAPE_INTERNAL_H

#include "scrape/scrape.h"
#include "store/store.h"

#include <curl/curl.h>
#include <pthread.h>
#include <uv.h>

/* The outcome of one scrape: the `result` label of profefe_scrapes_total. */
enum scrape__result {
	SCRAPE__R_SUCCESS = 0, /* stored */
	SCRAPE__R_EMPTY,       /* a valid profile without samples: nothing stored, still up */
	SCRAPE__R_CONNECT,     /* resolve or connect failed */
	SCRAPE__R_TIMEOUT,     /* the scrape timeout passed */
	SCRAPE__R_HTTP,        /* an HTTP status other than 200 */
	SCRAPE__R_TOO_LARGE,   /* over -max-body-size or -max-profile-size */
	SCRAPE__R_INVALID,     /* the body is not a profile */
	SCRAPE__R_TRANSPORT,   /* other transfer errors (redirect loops, resets, TLS) */
	SCRAPE__R_STORE,       /* the store refused or failed */
	SCRAPE__R_CANCELLED,   /* cancelled at shutdown */
	SCRAPE__R_COUNT,
};
const char *scrape__result_name(int r);

/* Bodies received and not yet stored, past which due scrapes are shed
 * (skipped as "overloaded") instead of started: when the store threads
 * cannot keep up, the loop keeps its schedule and memory stays bounded. */
#define SCRAPE__STORE_BACKLOG_MAX 1024

/* Why a due scrape did not start: the `reason` label of
 * profefe_scrapes_skipped_total. */
enum scrape__skip { SCRAPE__SKIP_IN_FLIGHT = 0, SCRAPE__SKIP_OVERLOADED, SCRAPE__SKIP_COUNT };

/* Histogram buckets (seconds). */
#define SCRAPE__DUR_NB 14
#define SCRAPE__LAG_NB 14
extern const double scrape__dur_bounds[SCRAPE__DUR_NB];
extern const double scrape__lag_bounds[SCRAPE__LAG_NB];

/* Per-job metrics; kept across reloads (guarded by scrape.mu). */
struct scrape__stats {
	char *job;
	uint64_t results[SCRAPE__R_COUNT];
	uint64_t bytes;
	uint64_t skipped[SCRAPE__SKIP_COUNT];
	uint64_t dur_buckets[SCRAPE__DUR_NB + 1]; /* the last is +Inf */
	double dur_sum;
	uint64_t pairs;                           /* gauge */
};

struct scrape__job;
struct scrape__xfer;

/* One (target, type) pair. */
struct scrape__pair {
	struct scrape *s;
	struct scrape__job *job;
	struct scrape__stats *stats;
	const struct config_target *t; /* in job->targets; NULL once removed */
	uv_timer_t timer;
	int refs;                      /* the timer handle, a transfer in flight */
	int removed;
	int64_t slot_mono_ns;          /* the current slot without jitter (monotonic) */
	int64_t due_mono_ns;           /* the planned start of the next scrape */
	struct scrape__xfer *inflight;
	int pending;                   /* a scrape came due while one was in flight */
	int64_t pending_due_ns;        /* its planned start */
	/* guarded by scrape.mu */
	enum scrape_health health;
	char *last_error;              /* NULL = "" */
	int64_t last_scrape_ns;
	int64_t last_duration_ns;
	int64_t next_scrape_ns;
};

/* A job of the running configuration and its resolved pairs. */
struct scrape__job {
	const struct config_job *cj;   /* in scrape.cfg */
	struct scrape__stats *stats;
	struct config_sd_groups **sd;  /* last good read per file_sd config; NULL entries */
	uint64_t *sd_sig;              /* signature of the files behind sd[i] */
	int64_t *sd_read_ns;           /* monotonic time of the last read of sd[i] */
	struct config_targets *targets;
	struct scrape__pair **pairs;
	size_t npairs;
};

/* One scrape: a curl easy handle, then a store job. */
struct scrape__xfer {
	struct scrape *s;
	struct scrape__pair *pair;
	struct scrape__xfer *next;     /* store and done queues */
	struct scrape__xfer *dl_prev, *dl_next; /* scrape.downloading */
	CURL *easy;
	struct scrape__curl_shard *shard; /* the multi handle of its address */
	struct curl_slist *headers;    /* curl keeps pointers to these lists */
	struct curl_slist *connect_to;
	struct pf_buf body;
	char errbuf[CURL_ERROR_SIZE];
	char *url;                     /* copies: the pair may go on a reload */
	char *address;
	char *type;
	struct tsdb_label *labels;
	size_t nlabels;
	char *content_type;
	int64_t timeout_ns;
	int64_t start_ns;              /* Unix ns: the profile's time in the store */
	int64_t start_mono_ns;
	int too_large;
	/* the outcome */
	int result;
	char *error;                   /* NULL when none */
};

/* A request to the loop thread. */
struct scrape__cmd {
	enum { SCRAPE__CMD_APPLY, SCRAPE__CMD_STOP } kind;
	struct config *cfg;
	int done;
	int rc;
	struct pf_err err;
};

/*
 * curl's multi handles. Transfers to one address always go through the same
 * one (a connection is reused only within its multi), so that the walks
 * curl 7.88 makes of a multi's connection cache for every transfer
 * (curl_multi_remove_handle looks for the transfer's last connection)
 * stay short: with one multi they cost 9 % of the scraper's CPU at 10 000
 * pairs.
 */
#define SCRAPE__CURL_SHARDS 16
struct scrape__curl_shard {
	struct scrape *s;
	CURLM *multi;
	uv_timer_t timer; /* curl's timeout */
};

struct scrape {
	struct scrape_options o;
	char *config_file;
	char *user_agent;
	uv_loop_t loop;
	uv_thread_t thread;
	uv_async_t cmd_async;
	uv_async_t done_async;
	uv_timer_t sd_timer;
	uv_timer_t grace_timer;
	struct scrape__curl_shard curl[SCRAPE__CURL_SHARDS];
	struct scrape__xfer *downloading; /* transfers in a multi handle */
	int closing;                   /* the final close is scheduled */
	uint64_t rng;
	int stopping;
	size_t inflight;               /* transfers alive (download or store) */
	size_t storing;                /* handed to the store threads, not yet back */
	size_t nopen_files;            /* the soft limit after raising it */

	/* loop thread: the jobs of cfg */
	struct scrape__job **jobs;
	size_t njobs;

	/* guarded by mu */
	pthread_mutex_t mu;
	struct config *cfg;
	struct scrape__pair **pairs;   /* every live pair, for status */
	size_t npairs, pairs_cap;
	struct pf_map *stats_by_job;   /* job name -> index in stats */
	struct scrape__stats **stats;
	size_t nstats, stats_cap;
	uint64_t lag_buckets[SCRAPE__LAG_NB + 1];
	double lag_sum;
	uint64_t reloads_ok, reloads_failed;
	int last_reload_ok;
	int64_t last_reload_ok_ns;

	/* a command to the loop thread */
	pthread_mutex_t reload_mu;     /* one reload at a time */
	pthread_mutex_t cmd_mu;
	pthread_cond_t cmd_cv;
	struct scrape__cmd *cmd;

	/* store threads */
	pthread_t *workers;
	unsigned nworkers;
	pthread_mutex_t q_mu;
	pthread_cond_t q_cv;
	struct scrape__xfer *q_head, *q_tail;
	struct scrape__xfer *done_head;
	int q_stop;

	/* -scrape.shard: the targets other shards own, copied at each
	 * reconcile (guarded by mu) */
	struct pf_arena *others_a;
	struct scrape_target_status *others;
	size_t nothers;
};

/* ---- manager.c ---- */
/* Find or create the stats of a job (caller holds mu). */
struct scrape__stats *scrape__stats_of(struct scrape *s, const char *job);
/* Record a finished scrape: health, metrics; frees x, unrefs its pair. */
void scrape__finish(struct scrape__xfer *x);
/* Log once when the loop has nothing in flight while stopping. */
void scrape__maybe_done(struct scrape *s);

/* ---- target.c ---- */
/* Schedule a new pair (first slot from its hash) and start its timer. */
void scrape__pair_start(struct scrape__pair *p);
/* Stop a pair's timer and drop the loop's reference; the pair is freed
 * once its transfer in flight (if any) has finished. */
void scrape__pair_remove(struct scrape__pair *p);
void scrape__pair_unref(struct scrape__pair *p);
/* p's scrape has finished: start the one that came due meanwhile if it is
 * at most the jitter bound late, else count it as skipped. */
void scrape__pair_idle(struct scrape__pair *p);

/* ---- curl_uv.c ---- */
int scrape__curl_init(struct scrape *s, struct pf_err *err);
/* Start a transfer for p; on failure records the scrape as failed. */
void scrape__xfer_start(struct scrape__pair *p);
/* Cancel every transfer still downloading (shutdown). */
void scrape__curl_cancel_all(struct scrape *s);
/* curl_multi_cleanup; the socket handles close on the loop (and with
 * close_timers, curl's timers). */
void scrape__curl_close(struct scrape *s, int close_timers);
/* curl's connection cache: room for total connections, over the shards. */
void scrape__curl_set_maxconnects(struct scrape *s, long total);
void scrape__xfer_free(struct scrape__xfer *x);
/* Set x->result and x->error (printf-style). */
void scrape__xfer_fail(struct scrape__xfer *x, int result, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- store.c ---- */
int scrape__store_start(struct scrape *s, struct pf_err *err);
/* Hand x to a store thread; it returns through done_async. */
void scrape__store_submit(struct scrape__xfer *x);
/* Finish the queue and join the threads (loop must have stopped submitting). */
void scrape__store_stop(struct scrape *s);
/* done_async: finish every transfer the store threads returned. */
void scrape__store_drain(uv_async_t *h);
/* Validate and append x's body (a store thread; tests may call it). */
void scrape__store_one(struct scrape *s, struct scrape__xfer *x);

#endif
