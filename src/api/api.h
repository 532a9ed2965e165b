/*
 * api: profefe's HTTP server (libmicrohttpd).
 *
 *   /api/0/...   the profefe API, wire-compatible with profefe (Go)
 *   /api/v1/...  the Prometheus-shaped query API (v1.c)
 *   /api/v1/targets, /api/v1/status/config, POST /-/reload (targets.c)
 *   /-/healthy, /-/ready, /metrics
 *
 * libmicrohttpd runs in its epoll mode with a pool of threads: an idle
 * connection costs no thread; a request runs on its connection's thread
 * (a push blocks it until the store's group-committed fsync), so the pool
 * is large enough that pushes in flight do not wait for each other.
 */
#ifndef PF_API_H
#define PF_API_H

#include "base/base.h"
#include "store/store.h"

struct api_server;
struct scrape;

struct api_options {
	const char *addr;          /* "host:port", ":port", "[::1]:port" */
	size_t max_body_bytes;     /* larger request bodies get 413 */
	size_t max_profile_bytes;  /* cap on a decompressed profile */
	/* -max-inflight-decompressed: pushes inflate within it (borrowed,
	 * outlives the server; NULL = no budget) */
	struct pf_budget *inflight;
	struct store *db;          /* borrowed; outlives the server (store.h) */
	struct scrape *scrape;     /* borrowed, may be NULL: /api/v1/targets, /-/reload */
	const char *version;
	const char *commit;
	const char *build_time;
	/* when set, every request but /-/healthy needs "Authorization: Bearer
	 * <auth_token>" (401 otherwise); borrowed */
	const char *auth_token;
	unsigned threads;          /* libmicrohttpd worker threads (-web.threads) */
	/* open connections at most (0: from the open-file limit) and per
	 * client address (0: no limit) */
	unsigned max_connections;
	unsigned max_connections_per_ip;
	/* a connection must complete each request's headers within
	 * read_header_timeout_ns of its start or of its previous reply; once
	 * they are in, read_timeout_ns of inactivity (body, reply) ends it */
	int64_t read_header_timeout_ns;
	int64_t read_timeout_ns;
	/* PEM certificate chain and key: HTTPS when both are set; borrowed */
	const char *tls_cert_pem;
	const char *tls_key_pem;
	/* -query.max-profiles and -query.timeout: profiles one find or merge
	 * may read (0: no cap) and how long it may run (0: no limit), set on
	 * each store query (struct tsdb_query) */
	size_t query_max_profiles;
	int64_t query_timeout_ns;
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
