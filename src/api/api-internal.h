/* Shared between the files of src/api; not part of the public API. */
#ifndef PF_API_INTERNAL_H
#define PF_API_INTERNAL_H

#include "api/api.h"
#include "ingest/ingest.h"

#include <jansson.h>
#include <pthread.h>
#include <sys/types.h>

/* A query-string parameter, decoded as Go's url.ParseQuery does. The
 * lengths are the decoded ones: a %00 shows as strlen(key) < key_len. */
struct api_param {
	char *key;
	char *value;
	size_t key_len;
	size_t value_len;
};

/* Where a query breaks Go's url.ParseQuery: the first pair it drops for a
 * ';' or a malformed %-escape, and that byte (pointers into the query;
 * NULL when there is none). */
struct api_query_flaw {
	const char *pair, *at;
};

/* One request, built up by the server before a handler runs. */
struct api_req {
	const char *method;
	char *raw_uri;             /* as sent: path?query */
	char *path;                /* percent-decoded path */
	struct api_param *params;  /* in order of appearance */
	size_t nparams;
	struct api_query_flaw query_flaw; /* the first pair params left out, in raw_uri */
	struct pf_buf body;        /* capped at max_body_bytes */
	int body_too_big;
	int head_too_big;          /* 414 or 431: request line or headers over our caps */
	int unauthorized;          /* -web.auth-token-file set, no or a wrong token */
	int route;                 /* enum api_route, for metrics */
	/* request headers the web UI's files look at (NULL: absent) */
	const char *if_none_match;
	const char *accept_encoding;
	/* for api_req_gone: the connection's socket, the server's stopping
	 * flag (both set by the server; a request without stopping, as tests
	 * build them, is never gone) */
	int fd;
	const int *stopping;
};

/* What a handler answers; the server turns it into the HTTP response. */
struct api_reply {
	int status;
	const char *content_type;  /* static string */
	char *filename;            /* Content-Disposition attachment; owned */
	int bearer_challenge;      /* add WWW-Authenticate: Bearer (a 401) */
	struct pf_buf body;
	/* the web UI's files (web.c): a body that lives as long as the
	 * program (used instead of body when set), and headers */
	const unsigned char *static_body;
	size_t static_len;
	const char *etag;
	const char *cache_control;
	const char *content_encoding;
	const char *allow;         /* Allow: on a 405 */
	int vary_encoding;         /* Vary: Accept-Encoding */
};

enum api_route {
	API_ROUTE_OTHER = 0,
	API_ROUTE_PROFILES,
	API_ROUTE_MERGE,
	API_ROUTE_PROFILE_ID,
	API_ROUTE_SERVICES,
	API_ROUTE_VERSION,
	API_ROUTE_API0_OTHER,
	API_ROUTE_HEALTHY,
	API_ROUTE_READY,
	API_ROUTE_METRICS,
	API_ROUTE_V1_QUERY_RANGE,
	API_ROUTE_V1_SERIES,
	API_ROUTE_V1_LABELS,
	API_ROUTE_V1_LABEL_VALUES,
	API_ROUTE_V1_STATUS_TSDB,
	API_ROUTE_V1_BUILDINFO,
	API_ROUTE_V1_OTHER,
	API_ROUTE_V1_TARGETS,
	API_ROUTE_V1_STATUS_CONFIG,
	API_ROUTE_RELOAD,
	API_ROUTE_V1_PROFILE,
	API_ROUTE_V1_MERGE,
	API_ROUTE_V1_DIFF,
	API_ROUTE_WEB,
	API_ROUTE_V1_BUNDLES,
	API_ROUTE_V1_BUNDLE,
	API_ROUTE_V1_PROFILES,
	API_ROUTE_COUNT,
};

/* Upper bounds (seconds) of the request duration histogram's buckets. */
#define API_DURATION_BUCKETS 12

/* Counters for /metrics; updated with atomics or under mu. */
struct api_metrics {
	pthread_mutex_t mu;
	struct pf_map *requests;   /* "route\0method\0code" -> count */
	struct pf_map *refused;    /* "reason" -> count (profefe_requests_refused_total) */
	/* per route: requests by the first bucket they fit (the last: +Inf),
	 * and the sum of their durations */
	uint64_t duration[API_ROUTE_COUNT][API_DURATION_BUCKETS + 1];
	uint64_t duration_ns[API_ROUTE_COUNT];
	uint64_t profiles_ingested;
	uint64_t bytes_ingested;
	uint64_t bad_profiles;
	int64_t started_ns;
};

struct api_conn;

struct api_server {
	struct api_options opt;
	struct MHD_Daemon *mhd;
	int listen_fd;
	int port;
	struct api_metrics metrics;
	/* requests between their first handler call and their completion */
	pthread_mutex_t inflight_mu;
	pthread_cond_t inflight_cv;
	int inflight;
	/* connections (server.c), under conn_mu: how many are open, in all and
	 * per client address; those waiting for a request's headers, oldest
	 * first, and the thread that cuts them at -web.read-header-timeout */
	pthread_mutex_t conn_mu;
	pthread_cond_t conn_cv;    /* CLOCK_MONOTONIC; wakes the reaper to stop */
	struct pf_map *conns_per_ip;
	struct api_conn *waiting_head, *waiting_tail;
	uint64_t conns_open;       /* read with atomics by /metrics */
	uint64_t header_timeouts;  /* connections cut by the reaper */
	unsigned conns_kept_alive; /* connections that may outlive a reply */
	unsigned max_conns;        /* -web.max-connections, resolved */
	unsigned max_conns_per_ip; /* 0: none */
	unsigned header_timeout_s, idle_timeout_s, read_timeout_s;
	pthread_t reaper;
	int reaper_started, reaper_stop;
	int stopping; /* api_stop began: queries in progress give up (atomic) */
	/* libmicrohttpd's last message while starting (a TLS key error) */
	char mhd_err[256];
	int mhd_started;
};

/* ---- http.c ---- */
/* First value of key, or NULL. */
const char *api_param(const struct api_req *r, const char *key);
/* Parse "a=b&c=d" (Go's url.ParseQuery: '+' is a space, pairs with bad
 * escapes or a ';' are dropped); flaw (may be NULL) says where the first
 * such pair was. */
void api_parse_query(const char *q, struct api_param **out, size_t *n, struct api_query_flaw *flaw);
void api_params_free(struct api_param *p, size_t n);
/* The first parameter whose name or value holds a NUL byte once decoded
 * (*in_name: 1 for the name), or NULL. SPEC §9: such a request is refused. */
const struct api_param *api_param_nul(const struct api_req *r, int *in_name);
/* %XX decoding in place; plus_space turns '+' into ' ' (query decoding).
 * Returns the decoded length (less than strlen(s) afterwards when a %00
 * was decoded), or -1 with *bad pointing at the bad escape. */
ssize_t api_unescape(char *s, int plus_space, const char **bad);

/* Input echoed in a message: at most API_ECHO_MAX bytes of it, cut between
 * characters and followed by "…" when longer, so the reason after it
 * survives; a NUL byte shows as %00. One per echo, e.g.
 *   api_reply_error(rep, 400, "bad \"%s\"", API_ECHO(v)); */
#define API_ECHO_MAX 256
struct api_echo {
	char s[API_ECHO_MAX + 4];
};
/* Fills e and returns e->s. s may be NULL (""). */
const char *api_echo(struct api_echo *e, const char *s);
const char *api_echo_n(struct api_echo *e, const char *s, size_t n);
/* A buffer that lives until the end of the enclosing block. */
#define API_ECHO(s) api_echo(&(struct api_echo){{0}}, (s))
#define API_ECHO_N(s, n) api_echo_n(&(struct api_echo){{0}}, (s), (n))

/* Whether s is UTF-8 as JSON replies need it (no overlong forms or
 * surrogates). */
int api_utf8_valid(const char *s);
/* A JSON string of s (NULL: ""); bytes that are not UTF-8 become U+FFFD,
 * as Go's encoding/json writes them. Never NULL. */
json_t *api_json_string(const char *s);
/* The text of an error reply: msg, or when msg is NULL or empty (a bug,
 * logged) the status's text, so no error reaches the wire without one. */
json_t *api_json_message(int status, const char *msg);
/* "bad request", "nothing found", ... for status. */
const char *api_status_text(int status);
/* Go's path.Clean; returns a new string. */
char *api_path_clean(const char *p);

void api_reply_json_body(struct api_reply *rep, int status, const char *json_body);
void api_reply_error(struct api_reply *rep, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void api_reply_text(struct api_reply *rep, int status, const char *text);
void api_reply_binary(struct api_reply *rep, const char *filename, struct pf_buf *data);

/* ---- profefe.c: /api/0 ---- */
void api0_handle(struct api_server *s, struct api_req *r, struct api_reply *rep);
/* Set q->max_profiles and q->deadline_ns (from now) from -query.max-profiles
 * and -query.timeout. */
void api_query_limits(const struct api_server *s, struct tsdb_query *q);
/*
 * Whether the request r (a struct api_req *) need not be answered any
 * more: its client closed the connection (or it broke), or the server is
 * stopping. A poll of the socket, no read: a handler's long loop asks it
 * as tsdb_query's cancelled (with api_query_cancel).
 */
int api_req_gone(void *r);
/* Set q->cancelled to api_req_gone for r. */
void api_query_cancel(struct api_req *r, struct tsdb_query *q);
/*
 * When rc is a store query's limit refusal (PF_ELIMIT, PF_ETIMEDOUT), count
 * it (reason "max_profiles" or "query_timeout"), write its sentence into
 * msg and return its status: 400 "the query selects 1500 profiles, over
 * the cap of 1000 (-query.max-profiles)", 503 "query timed out after
 * -query.timeout 2m (stopped after reading 3 of 1000 profiles)". A query
 * its client gave up (PF_ECANCELED): reason "query_canceled", 503 (which
 * nobody reads). 0 for any other rc (nothing counted).
 */
int api_query_refusal(struct api_server *s, int rc, const struct pf_err *err, char *msg,
		      size_t n);

/*
 * The labels parameter of /api/0 (parse_labels: split on ',', each pair at
 * its first '=', trimmed, URL-decoded again; SPEC §10.3, §10.4), for other
 * endpoints that take it. Returns 0 (out->v holds out->n labels, unsorted;
 * free with api_labels_free), -1 with reason filled, or 1 when a label
 * holds a NUL byte (a refusal to count as bad_param).
 */
struct api_labels {
	struct tsdb_label *v;
	size_t n;
	char **owned;
	size_t nowned;
};
int api_labels_parse(const char *s, struct api_labels *out, char *reason, size_t rlen);
void api_labels_free(struct api_labels *l);

/* ---- v1.c: /api/v1 ---- */
void api_v1_handle(struct api_server *s, struct api_req *r, struct api_reply *rep);
/* /api/v1's envelopes, for the handlers in other files: 200
 * {"status":"success","data":data} (takes data), and an error of type
 * (bad_data, not_found, internal, ...) with message msg. */
void api_v1_success(struct api_reply *rep, json_t *data);
void api_v1_error(struct api_reply *rep, int status, const char *type, const char *msg);

/* ---- bundle.c: autoprof bundles (/api/v1/bundles, /api/v1/bundle) ---- */
void api_v1_bundles_post(struct api_server *s, struct api_req *r, struct api_reply *rep);
void api_v1_bundle_get(struct api_server *s, struct api_req *r, struct api_reply *rep);
/* POST /api/v1/profiles: one profile, skipped when already stored */
void api_v1_profiles_post(struct api_server *s, struct api_req *r, struct api_reply *rep);

/* ---- targets.c: the scraper's endpoints ---- */
/* /api/v1/targets and /api/v1/status/config: returns 1 when r was one of
 * them (and rep is filled), else 0. */
int api_v1_scrape_handle(struct api_server *s, struct api_req *r, struct api_reply *rep);
/* /-/reload */
void api_admin_reload(struct api_server *s, struct api_req *r, struct api_reply *rep);

/* ---- web.c: the web UI's files, embedded at build time ---- */
/* One file of src/web, as tools/webgen wrote it into build/gen/web_assets.c
 * (sorted by path). */
struct api_web_asset {
	const char *path;          /* "/app.js" */
	const char *type;          /* Content-Type */
	const char *etag;          /* "\"<xxh64 of data>\"" */
	const char *etag_gz;       /* "\"<xxh64 of data>-gz\"": of the gzip copy */
	const unsigned char *data;
	size_t len;
	const unsigned char *gz;   /* gzip of data; NULL when not smaller */
	size_t gzlen;
};
extern const struct api_web_asset api_web_assets[];
extern const size_t api_web_assets_n;
/* The file a GET of path serves: an embedded file by its path, index.html
 * for a page's path (/, /profile, /changed, /targets, /services); NULL
 * for any other path. */
const struct api_web_asset *api_web_find(const char *path);
/* Whether path is the web UI's (a file or a page): served without
 * -web.auth-token-file's token for GET and HEAD. */
int api_web_public(const char *method, const char *path);
/* Serve r when its path is the web UI's: returns 1 (rep filled), else 0. */
int api_web_handle(struct api_server *s, struct api_req *r, struct api_reply *rep);

/* ---- admin.c: /-/ and /metrics ---- */
void api_admin_metrics(struct api_server *s, struct api_reply *rep);
void api_metrics_init(struct api_metrics *m);
void api_metrics_destroy(struct api_metrics *m);
void api_metrics_request(struct api_metrics *m, int route, const char *method, int code);
/* How long a request of route took, from its body's end to its reply. */
void api_metrics_duration(struct api_metrics *m, int route, int64_t ns);
const char *api_route_name(int route);
/* One request refused for reason (a short snake_case word from a fixed set
 * in the code: "future", "too_old", "decode_cap", "inflight_budget",
 * "store_queue_full", "store_unavailable", "body_too_big", "bad_param", "disk_full", "uri_too_long",
 * "headers_too_large", "connection_limit", "per_ip_connection_limit", ...), for
 * profefe_requests_refused_total{reason}. */
void api_metrics_refused(struct api_metrics *m, const char *reason);

/*
 * The reply to a push the ingest path refused (profefe.c): status and JSON
 * error for class c (trace: the type was trace), the refusal counted in m
 * (decode_cap, profile_too_big, inflight_budget, store_queue_full,
 * store_unavailable, future, too_old, disk_full)
 * and a malformed body in m->bad_profiles. Returns the status (400, 413,
 * 503, 507 or 500), or 0 for INGEST_OK (rep untouched).
 */
int api_ingest_refusal(struct api_metrics *m, enum ingest_class c, int trace,
		       const struct pf_err *err, struct api_reply *rep);

#endif
