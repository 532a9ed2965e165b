/*
 * api: profefe's HTTP server (libmicrohttpd).
 *
 *   /api/0/...   the profefe API, wire-compatible with profefe (Go)
 *   /api/v1/...  the Prometheus-shaped query API (query.c)
 *   /api/v1/targets, /api/v1/status/config, POST /-/reload (targets.c)
 *   /-/healthy, /-/ready, /metrics
 *
 * Requests run one thread per connection, so a push may block on the
 * store's group-committed fsync without stalling other clients.
 */
#ifndef PF_API_H
#define PF_API_H

#include "base/base.h"
#include "tsdb/tsdb.h"

struct api_server;
struct scrape;

struct api_options {
	const char *addr;          /* "host:port", ":port", "[::1]:port" */
	size_t max_body_bytes;     /* larger request bodies get 413 */
	size_t max_profile_bytes;  /* cap on a decompressed profile */
	/* -max-inflight-decompressed: pushes inflate within it (borrowed,
	 * outlives the server; NULL = no budget) */
	struct pf_budget *inflight;
	struct tsdb *db;           /* borrowed; outlives the server */
	struct scrape *scrape;     /* borrowed, may be NULL: /api/v1/targets, /-/reload */
	const char *version;
	const char *commit;
	const char *build_time;
	/* when set, every request but /-/healthy needs "Authorization: Bearer
	 * <auth_token>" (401 otherwise); borrowed */
	const char *auth_token;
};

/*
 * Bind o->addr and start serving. On failure nothing is left running and
 * err says what (e.g. "listen on :10100: Address already in use").
 * *out is stopped with api_stop.
 */
int api_start(const struct api_options *o, struct api_server **out, struct pf_err *err);

/* The port actually bound (useful with port 0). */
int api_port(const struct api_server *s);

/*
 * Stop accepting connections, let in-flight requests finish, free the
 * server. NULL is a no-op.
 */
void api_stop(struct api_server *s);

#endif
