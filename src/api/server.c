/* The HTTP server: listening socket, libmicrohttpd wiring, request bodies
 * with a hard cap, routing, responses and request metrics. */
#include "api/api-internal.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * libmicrohttpd reads a request's line and headers into a per-connection
 * memory pool and answers with its own HTML 414 or 431 when they do not fit.
 * The pool (256 KiB) is large enough that a request head up to our own caps
 * and past them (a 200 KB query string, 1 000 header lines of 80 bytes)
 * reaches handle(), which answers 414/431 in the API's JSON envelope; each
 * header line costs the pool about 64 bytes more than its text, so about
 * 3 500 short lines do not fit even under 64 KiB (libmicrohttpd's 431).
 * It was 1.5 MiB, whose zeroing per kept-alive request cost 0.2 ms a push.
 * The pool is mmap'd (libmicrohttpd does so above 32 KiB) and costs the
 * pages it touches: an idle connection about
 * nothing. But libmicrohttpd 0.9.75 zeroes the whole pool when a kept-alive
 * connection goes on to its next request, so each such connection holds the
 * whole pool: at most API_MAX_KEEPALIVE connections are kept alive, the
 * others are closed after their reply (Connection: close). README
 * ("Connections") has the measured costs.
 */
#define API_CONN_POOL_BYTES ((size_t)256 << 10)
#define API_CONN_POOL_INCREMENT ((size_t)64 << 10)
#define API_MAX_KEEPALIVE 128
#define API_MAX_URI_BYTES (64 << 10)       /* request target, longer: 414 */
#define API_MAX_HEADER_BYTES (64 << 10)    /* request line + headers, larger: 431 */

struct api_req_ctx {
	struct api_req req;
	struct api_server *srv;
	int started;
	int counted;
};

/* ---- listening ---- */

static int try_bind(int family, const struct sockaddr *sa, socklen_t salen, int v6only,
		    int *fd_out)
{
	/* non-blocking: the pool's threads all accept on it */
	int one = 1, fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
	if (bind(fd, sa, salen) < 0 || listen(fd, 4096) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	*fd_out = fd;
	return 0;
}

static int listen_on(const char *addr, int *fd_out, int *port_out, struct pf_err *err)
{
	const char *colon = strrchr(addr, ':');
	char host[256], port[16];
	struct addrinfo hints, *res = NULL, *ai;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int rc = -EADDRNOTAVAIL;
	size_t hl;

	if (!colon || strlen(colon + 1) == 0 || strlen(colon + 1) >= sizeof(port))
		return pf_err_set(err, PF_EINVAL, "bad -addr %s: want host:port or :port", addr);
	hl = (size_t)(colon - addr);
	if (hl >= sizeof(host))
		return pf_err_set(err, PF_EINVAL, "bad -addr %s: host too long", addr);
	memcpy(host, addr, hl);
	host[hl] = 0;
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = 0;
	}
	snprintf(port, sizeof(port), "%s", colon + 1);
	for (const char *p = port; *p; p++)
		if (*p < '0' || *p > '9')
			return pf_err_set(err, PF_EINVAL, "bad -addr %s: port is not a number", addr);

	if (!*host) {
		/* all interfaces: IPv6 dual-stack, else IPv4 */
		struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)strtoul(port, NULL, 10)), .sin6_addr = in6addr_any};
		struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = a6.sin6_port, .sin_addr.s_addr = htonl(INADDR_ANY)};
		rc = try_bind(AF_INET6, (struct sockaddr *)&a6, sizeof(a6), 0, fd_out);
		if (rc == -EAFNOSUPPORT || rc == -EADDRNOTAVAIL || rc == -EINVAL)
			rc = try_bind(AF_INET, (struct sockaddr *)&a4, sizeof(a4), 0, fd_out);
	} else {
		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
		int g = getaddrinfo(host, port, &hints, &res);
		if (g != 0)
			return pf_err_set(err, PF_EINVAL, "listen on %s: %s", addr, gai_strerror(g));
		for (ai = res; ai; ai = ai->ai_next) {
			rc = try_bind(ai->ai_family, ai->ai_addr, ai->ai_addrlen, 1, fd_out);
			if (rc == 0)
				break;
		}
		freeaddrinfo(res);
	}
	if (rc < 0)
		return pf_err_set(err, PF_EIO, "listen on %s: %s", addr, strerror(-rc));
	if (getsockname(*fd_out, (struct sockaddr *)&ss, &sl) == 0)
		*port_out = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							     : ((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}


/* ---- connections: limits, the header deadline ---- */

/* One TCP connection, from libmicrohttpd's NOTIFY_CONNECTION STARTED to
 * CLOSED (its socket_context). */
struct api_conn {
	struct api_conn *prev, *next; /* in s->waiting_* while waiting */
	int64_t since_ns;             /* waiting for a request's headers since */
	int waiting;
	int kept_alive;               /* counted in s->conns_kept_alive */
	int fd;
	size_t klen;
	unsigned char key[16];        /* client address (IPv4: 4 bytes) */
};

/* The client's address as a map key; 0 for a family without one. */
static size_t ip_key(const struct sockaddr *sa, unsigned char key[16])
{
	if (!sa)
		return 0;
	if (sa->sa_family == AF_INET) {
		memcpy(key, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 4;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a)) {
			memcpy(key, a->s6_addr + 12, 4);
			return 4;
		}
		memcpy(key, a->s6_addr, 16);
		return 16;
	}
	return 0;
}

/* Under conn_mu: one connection of key fewer. */
static void conn_release_locked(struct api_server *s, const unsigned char *key, size_t klen)
{
	uint64_t n;

	if (s->conns_open > 0)
		__atomic_store_n(&s->conns_open, s->conns_open - 1, __ATOMIC_RELAXED);
	if (klen && pf_map_get(s->conns_per_ip, key, klen, &n)) {
		if (n <= 1)
			pf_map_del(s->conns_per_ip, key, klen);
		else
			pf_map_put(s->conns_per_ip, key, klen, n - 1);
	}
}

/*
 * The accept policy reserves the connection's place (in all and for its
 * address); NOTIFY_CONNECTION STARTED, which libmicrohttpd calls next on
 * the same thread, takes the reservation over and CLOSED releases it. Should
 * libmicrohttpd drop a connection between the two (out of memory), the
 * thread's next accept finds the reservation still pending and releases it.
 */
static __thread struct {
	struct api_server *s;
	size_t klen;
	unsigned char key[16];
} conn_pending;

static void waiting_unlink(struct api_server *s, struct api_conn *c)
{
	if (!c->waiting)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->waiting_head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		s->waiting_tail = c->prev;
	c->prev = c->next = NULL;
	c->waiting = 0;
}

static void waiting_append(struct api_server *s, struct api_conn *c)
{
	c->since_ns = pf_mono_ns();
	c->prev = s->waiting_tail;
	c->next = NULL;
	if (s->waiting_tail)
		s->waiting_tail->next = c;
	else
		s->waiting_head = c;
	s->waiting_tail = c;
	c->waiting = 1;
}

static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	struct api_server *s = cls;
	unsigned char key[16];
	size_t klen = ip_key(addrlen ? addr : NULL, key);
	const char *refused = NULL;
	uint64_t n = 0;

	pthread_mutex_lock(&s->conn_mu);
	if (conn_pending.s == s) {
		conn_release_locked(s, conn_pending.key, conn_pending.klen);
		conn_pending.s = NULL;
	}
	if (s->conns_open >= s->max_conns)
		refused = "connection_limit";
	else if (klen && s->max_conns_per_ip && pf_map_get(s->conns_per_ip, key, klen, &n) &&
		 n >= s->max_conns_per_ip)
		refused = "per_ip_connection_limit";
	if (!refused) {
		__atomic_store_n(&s->conns_open, s->conns_open + 1, __ATOMIC_RELAXED);
		if (klen)
			pf_map_put(s->conns_per_ip, key, klen, n + 1);
		conn_pending.s = s;
		conn_pending.klen = klen;
		memcpy(conn_pending.key, key, sizeof(key));
	}
	pthread_mutex_unlock(&s->conn_mu);
	if (refused) {
		api_metrics_refused(&s->metrics, refused);
		return MHD_NO;
	}
	return MHD_YES;
}

static void conn_notify(void *cls, struct MHD_Connection *con, void **socket_context,
			enum MHD_ConnectionNotificationCode toe)
{
	struct api_server *s = cls;
	struct api_conn *c = *socket_context;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *fd =
			MHD_get_connection_info(con, MHD_CONNECTION_INFO_CONNECTION_FD);
		c = pf_xcalloc(1, sizeof(*c));
		c->fd = fd ? fd->connect_fd : -1;
		pthread_mutex_lock(&s->conn_mu);
		if (conn_pending.s == s) {
			c->klen = conn_pending.klen;
			memcpy(c->key, conn_pending.key, sizeof(c->key));
			conn_pending.s = NULL;
		} else {
			/* not seen by the accept policy: count it here */
			const union MHD_ConnectionInfo *a =
				MHD_get_connection_info(con, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
			uint64_t n = 0;
			c->klen = ip_key(a ? a->client_addr : NULL, c->key);
			__atomic_store_n(&s->conns_open, s->conns_open + 1, __ATOMIC_RELAXED);
			if (c->klen) {
				pf_map_get(s->conns_per_ip, c->key, c->klen, &n);
				pf_map_put(s->conns_per_ip, c->key, c->klen, n + 1);
			}
		}
		waiting_append(s, c);
		pthread_mutex_unlock(&s->conn_mu);
		*socket_context = c;
		return;
	}
	if (!c)
		return; /* never started: the pending reservation is released at the next accept */
	pthread_mutex_lock(&s->conn_mu);
	waiting_unlink(s, c);
	conn_release_locked(s, c->key, c->klen);
	if (c->kept_alive)
		s->conns_kept_alive--;
	pthread_mutex_unlock(&s->conn_mu);
	free(c);
	*socket_context = NULL;
}

static struct api_conn *conn_of(struct MHD_Connection *con)
{
	const union MHD_ConnectionInfo *i =
		MHD_get_connection_info(con, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return i ? i->socket_context : NULL;
}

int api_req_gone(void *arg)
{
	const struct api_req *r = arg;
	struct pollfd p;

	if (!r->stopping)
		return 0; /* not from the server (a test's request): fd is not its socket */
	if (__atomic_load_n(r->stopping, __ATOMIC_ACQUIRE))
		return 1;
	if (r->fd < 0)
		return 0;
	/* the peer's FIN (POLLRDHUP) or a reset; a pipelined request's bytes
	 * (POLLIN alone) are not a hang-up */
	p.fd = r->fd;
	p.events = POLLRDHUP;
	p.revents = 0;
	if (poll(&p, 1, 0) != 1)
		return 0;
	return (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

void api_query_cancel(struct api_req *r, struct tsdb_query *q)
{
	q->cancelled = api_req_gone;
	q->cancel_arg = r;
}

/* Whether the connection may stay open after this reply: yes if it is
 * kept alive already or there is room for one more (see API_MAX_KEEPALIVE). */
static int conn_keep_alive(struct api_server *s, struct MHD_Connection *con)
{
	struct api_conn *c = conn_of(con);
	int keep = 0;

	if (!c)
		return 0;
	pthread_mutex_lock(&s->conn_mu);
	if (c->kept_alive || s->conns_kept_alive < API_MAX_KEEPALIVE) {
		if (!c->kept_alive)
			s->conns_kept_alive++;
		c->kept_alive = keep = 1;
	}
	pthread_mutex_unlock(&s->conn_mu);
	return keep;
}

/* A request's headers are in: off the deadline, and the longer inactivity
 * timeout for its body and reply. */
static void conn_headers_done(struct api_server *s, struct MHD_Connection *con)
{
	struct api_conn *c = conn_of(con);

	if (c) {
		pthread_mutex_lock(&s->conn_mu);
		waiting_unlink(s, c);
		pthread_mutex_unlock(&s->conn_mu);
	}
	MHD_set_connection_option(con, MHD_CONNECTION_OPTION_TIMEOUT, s->read_timeout_s);
}

/* A request is over: the connection waits for the next one's headers,
 * under the deadline again (unless it already is). */
static void conn_request_done(struct api_server *s, struct MHD_Connection *con)
{
	struct api_conn *c = conn_of(con);

	if (c) {
		pthread_mutex_lock(&s->conn_mu);
		if (!c->waiting)
			waiting_append(s, c);
		pthread_mutex_unlock(&s->conn_mu);
	}
	MHD_set_connection_option(con, MHD_CONNECTION_OPTION_TIMEOUT, s->idle_timeout_s);
}

/*
 * libmicrohttpd's timeout is one of inactivity: a client sending a byte
 * every few seconds never reaches it. This thread cuts every connection
 * that has waited longer than -web.read-header-timeout for a request's
 * headers, by shutting its socket down; libmicrohttpd then closes it. The
 * socket is still the connection's: CLOSED, which unlinks it under the same
 * lock, comes before libmicrohttpd closes the descriptor.
 */
static void *reaper_main(void *arg)
{
	struct api_server *s = arg;
	int64_t timeout = s->opt.read_header_timeout_ns;

	pthread_mutex_lock(&s->conn_mu);
	while (!s->reaper_stop) {
		int64_t now = pf_mono_ns(), next;
		struct api_conn *c;
		struct timespec ts;

		while ((c = s->waiting_head) && now - c->since_ns >= timeout) {
			waiting_unlink(s, c);
			if (c->fd >= 0)
				shutdown(c->fd, SHUT_RDWR);
			__atomic_fetch_add(&s->header_timeouts, 1, __ATOMIC_RELAXED);
		}
		next = c ? c->since_ns + timeout : now + timeout;
		if (next < now + 50000000)
			next = now + 50000000; /* 50 ms granularity */
		ts.tv_sec = next / 1000000000;
		ts.tv_nsec = next % 1000000000;
		pthread_cond_timedwait(&s->conn_cv, &s->conn_mu, &ts);
	}
	pthread_mutex_unlock(&s->conn_mu);
	return NULL;
}

/* libmicrohttpd's own messages: kept while starting (a bad TLS key is
 * reported from there), logged at debug level after. */
static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
	struct api_server *s = cls;
	char msg[256];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = 0;
	if (!__atomic_load_n(&s->mhd_started, __ATOMIC_ACQUIRE)) {
		if (!s->mhd_err[0])
			snprintf(s->mhd_err, sizeof(s->mhd_err), "%s", msg);
		return;
	}
	if (pf_log_enabled(PF_LOG_DEBUG))
		pf_log(PF_LOG_DEBUG, "libmicrohttpd", "msg", msg, NULL);
}

/* ---- requests ---- */

static void *uri_log(void *cls, const char *uri, struct MHD_Connection *con)
{
	struct api_server *s = cls;
	struct api_req_ctx *c = pf_xcalloc(1, sizeof(*c));
	char *q;
	(void)con;
	c->srv = s;
	/* a URI over the cap is kept only as far as handle() needs to see that
	 * (pf_xstrndup copies n bytes: the length is the string's, so that
	 * neither 64 KiB is copied per request nor read past a short URI) */
	c->req.raw_uri = uri ? pf_xstrndup(uri, strnlen(uri, API_MAX_URI_BYTES + 1)) : pf_xstrdup("/");
	pf_buf_init(&c->req.body, s->opt.max_body_bytes);
	/*
	 * We parse the query from raw_uri ourselves. libmicrohttpd would next
	 * split it into a table in the connection's pool (some 60 bytes per
	 * parameter), so a long query of short parameters would exhaust the
	 * pool and get its HTML 431 before handle() could answer in JSON.
	 * uri points into its read buffer, and it has already found the '?':
	 * ending the string right after it leaves an empty query to split.
	 */
	if (uri && (q = strchr(uri, '?')) != NULL)
		q[1] = 0;
	return c;
}

static void req_done(void *cls, struct MHD_Connection *con, void **req_cls,
		     enum MHD_RequestTerminationCode toe)
{
	struct api_server *s = cls;
	struct api_req_ctx *c = *req_cls;
	(void)toe;
	conn_request_done(s, con);
	if (!c)
		return;
	if (c->counted) {
		pthread_mutex_lock(&s->inflight_mu);
		if (--s->inflight == 0)
			pthread_cond_broadcast(&s->inflight_cv);
		pthread_mutex_unlock(&s->inflight_mu);
	}
	free(c->req.raw_uri);
	free(c->req.path);
	api_params_free(c->req.params, c->req.nparams);
	pf_buf_free(&c->req.body);
	free(c);
	*req_cls = NULL;
}

static void route(struct api_server *s, struct api_req *r, struct api_reply *rep)
{
	const char *p = r->path;

	if (strncmp(p, "/api/0/", 7) == 0 || strcmp(p, "/api/0") == 0) {
		api0_handle(s, r, rep);
		return;
	}
	if (strncmp(p, "/api/v1/", 8) == 0 || strcmp(p, "/api/v1") == 0) {
		api_v1_handle(s, r, rep);
		return;
	}
	if (strcmp(p, "/-/healthy") == 0) {
		r->route = API_ROUTE_HEALTHY;
		api_reply_text(rep, 200, "profefe is Healthy.\n");
	} else if (strcmp(p, "/-/ready") == 0) {
		r->route = API_ROUTE_READY;
		api_reply_text(rep, 200, "profefe is Ready.\n");
	} else if (strcmp(p, "/-/reload") == 0) {
		r->route = API_ROUTE_RELOAD;
		api_admin_reload(s, r, rep);
	} else if (strcmp(p, "/metrics") == 0) {
		r->route = API_ROUTE_METRICS;
		api_admin_metrics(s, rep);
	} else if (!api_web_handle(s, r, rep)) {
		api_reply_text(rep, 404, "404 page not found\n");
	}
}

/* The route a request for path P counts under in /metrics, as the
 * handlers above set it, found from the path alone: for a request refused
 * before routing (401), whose handler never runs. */
static enum api_route route_of(const char *p)
{
	static const struct {
		const char *path;
		enum api_route route;
	} exact[] = {
		{"/api/0/version", API_ROUTE_VERSION},
		{"/api/0/services", API_ROUTE_SERVICES},
		{"/api/v1/query_range", API_ROUTE_V1_QUERY_RANGE},
		{"/api/v1/series", API_ROUTE_V1_SERIES},
		{"/api/v1/labels", API_ROUTE_V1_LABELS},
		{"/api/v1/status/tsdb", API_ROUTE_V1_STATUS_TSDB},
		{"/api/v1/status/buildinfo", API_ROUTE_V1_BUILDINFO},
		{"/api/v1/targets", API_ROUTE_V1_TARGETS},
		{"/api/v1/status/config", API_ROUTE_V1_STATUS_CONFIG},
		{"/api/v1/merge", API_ROUTE_V1_MERGE},
		{"/api/v1/diff", API_ROUTE_V1_DIFF},
		{"/-/healthy", API_ROUTE_HEALTHY},
		{"/-/ready", API_ROUTE_READY},
		{"/-/reload", API_ROUTE_RELOAD},
		{"/metrics", API_ROUTE_METRICS},
	};
	static const char lv_pre[] = "/api/v1/label/", lv_suf[] = "/values";
	size_t plen = strlen(p), pre = sizeof(lv_pre) - 1, suf = sizeof(lv_suf) - 1;
	enum api_route rt;
	char *clean;

	for (size_t i = 0; i < PF_ARRAY_LEN(exact); i++)
		if (strcmp(p, exact[i].path) == 0)
			return exact[i].route;
	if (strncmp(p, "/api/0/", 7) == 0 || strcmp(p, "/api/0") == 0) {
		clean = api_path_clean(p);
		if (strcmp(clean, "/api/0/profiles") == 0)
			rt = API_ROUTE_PROFILES;
		else if (strcmp(clean, "/api/0/profiles/merge") == 0)
			rt = API_ROUTE_MERGE;
		else if (strncmp(clean, "/api/0/profiles", 15) == 0)
			rt = API_ROUTE_PROFILE_ID;
		else
			rt = API_ROUTE_API0_OTHER;
		free(clean);
		return rt;
	}
	if (strncmp(p, "/api/v1/", 8) == 0 || strcmp(p, "/api/v1") == 0) {
		if (plen >= pre + suf && strncmp(p, lv_pre, pre) == 0 &&
		    strcmp(p + plen - suf, lv_suf) == 0)
			return API_ROUTE_V1_LABEL_VALUES;
		if (strncmp(p, "/api/v1/profile/", 16) == 0)
			return API_ROUTE_V1_PROFILE;
		return API_ROUTE_V1_OTHER;
	}
	return API_ROUTE_OTHER;
}

/* Whether the request may proceed under -web.auth-token-file: /-/healthy
 * and a GET or HEAD of the web UI's files always (the page asks for the
 * token and sends it with its API calls), anything else with
 * "Authorization: Bearer <token>" (compared in constant time). */
static int authorized(const struct api_server *s, struct MHD_Connection *con,
		      const char *method, const char *uri)
{
	const char *want = s->opt.auth_token, *h, *got;
	size_t n, m, i;
	unsigned char diff;

	if (!want)
		return 1;
	n = strcspn(uri, "?");
	if (n == strlen("/-/healthy") && memcmp(uri, "/-/healthy", n) == 0)
		return 1;
	{
		char *path = pf_xstrndup(uri, n);
		int pub = api_web_public(method, path);
		free(path);
		if (pub)
			return 1;
	}
	h = MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return 0;
	got = h + 7;
	m = strlen(got);
	n = strlen(want);
	diff = m != n;
	for (i = 0; i < n; i++)
		diff |= (unsigned char)(want[i] ^ got[i < m ? i : 0]);
	return diff == 0;
}

static enum MHD_Result send_reply(struct MHD_Connection *con, struct api_reply *rep, int close)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	size_t len = rep->body.len;
	uint8_t *data = pf_buf_steal(&rep->body, NULL);

	if (rep->static_body) {
		free(data);
		len = rep->static_len;
		resp = MHD_create_response_from_buffer(len, (void *)rep->static_body,
						       MHD_RESPMEM_PERSISTENT);
	} else if (data)
		resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	else
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(data);
		return MHD_NO;
	}
	if (rep->content_type && len > 0)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, rep->content_type);
	if (rep->filename) {
		char cd[600];
		snprintf(cd, sizeof(cd), "attachment; filename=\"%.500s\"", rep->filename);
		MHD_add_response_header(resp, "Content-Disposition", cd);
	}
	if (rep->etag)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, rep->etag);
	if (rep->cache_control)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, rep->cache_control);
	if (rep->content_encoding)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, rep->content_encoding);
	if (rep->vary_encoding)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT_ENCODING);
	if (rep->allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, rep->allow);
	if (rep->bearer_challenge)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	if (close)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(con, (unsigned)rep->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *con, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **req_cls)
{
	struct api_server *s = cls;
	struct api_req_ctx *c = *req_cls;
	struct api_req *r;
	struct api_reply rep = {0};
	enum MHD_Result ret;
	int64_t t0;
	(void)url;
	(void)version;

	if (!c)
		return MHD_NO;
	r = &c->req;
	if (!c->started) {
		const char *cl = MHD_lookup_connection_value(con, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		const union MHD_ConnectionInfo *hs =
			MHD_get_connection_info(con, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
		c->started = 1;
		r->method = method;
		r->if_none_match = MHD_lookup_connection_value(con, MHD_HEADER_KIND,
							       MHD_HTTP_HEADER_IF_NONE_MATCH);
		r->accept_encoding = MHD_lookup_connection_value(con, MHD_HEADER_KIND,
								 MHD_HTTP_HEADER_ACCEPT_ENCODING);
		{
			const struct api_conn *ac = conn_of(con);
			r->fd = ac ? ac->fd : -1;
			r->stopping = &s->stopping;
		}
		conn_headers_done(s, con);
		pthread_mutex_lock(&s->inflight_mu);
		s->inflight++;
		c->counted = 1;
		pthread_mutex_unlock(&s->inflight_mu);
		if (strlen(r->raw_uri) > API_MAX_URI_BYTES) {
			r->head_too_big = 414; /* answered before auth and body */
			goto respond;
		}
		if (hs && hs->header_size > API_MAX_HEADER_BYTES) {
			r->head_too_big = 431;
			goto respond;
		}
		if (!authorized(s, con, method, r->raw_uri)) {
			r->unauthorized = 1; /* answered before any body is read */
			goto respond;
		}
		if (cl) {
			char *end;
			unsigned long long n = strtoull(cl, &end, 10);
			if (*end == 0 && n > s->opt.max_body_bytes) {
				r->body_too_big = 1;
				goto respond;
			}
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!r->body_too_big && pf_buf_append(&r->body, upload_data, *upload_data_size) < 0)
			r->body_too_big = 1;
		*upload_data_size = 0;
		return MHD_YES;
	}

respond:
	t0 = pf_mono_ns();
	pf_buf_init(&rep.body, 0);
	{
		char *q = strchr(r->raw_uri, '?');
		size_t n = q ? (size_t)(q - r->raw_uri) : strlen(r->raw_uri);
		ssize_t plen;
		r->path = pf_xstrndup(r->raw_uri, n);
		plen = api_unescape(r->path, 0, NULL); /* a bad escape stays as sent */
		if (plen >= 0 && (size_t)plen != strlen(r->path)) {
			/* a %00: no path we serve holds a NUL, so the path is
			 * routed as sent (a 404), not as the part before it */
			free(r->path);
			r->path = pf_xstrndup(r->raw_uri, n);
		}
		api_parse_query(q ? q + 1 : NULL, &r->params, &r->nparams, &r->query_flaw);
	}
	if (r->head_too_big == 414) {
		api_metrics_refused(&s->metrics, "uri_too_long");
		api_reply_error(&rep, 414, "request URI longer than %d bytes", API_MAX_URI_BYTES);
	} else if (r->head_too_big) {
		api_metrics_refused(&s->metrics, "headers_too_large");
		api_reply_error(&rep, 431, "request header fields larger than %d bytes in all",
				API_MAX_HEADER_BYTES);
	} else if (r->unauthorized) {
		r->route = route_of(r->path);
		api_reply_text(&rep, 401, "401 unauthorized: this server wants "
					  "\"Authorization: Bearer <token>\" (-web.auth-token-file)\n");
		rep.bearer_challenge = 1;
	} else if (r->body_too_big) {
		api_metrics_refused(&s->metrics, "body_too_big");
		char msg[96];
		snprintf(msg, sizeof(msg), "request body larger than -max-body-size (%zu bytes)",
			 s->opt.max_body_bytes);
		if (strncmp(r->path, "/api/v1/", 8) == 0) /* bundles, profiles: their envelope */
			api_v1_error(&rep, 413, "bad_data", msg);
		else
			api_reply_error(&rep, 413, "%s", msg);
	} else {
		route(s, r, &rep);
	}
	api_metrics_request(&s->metrics, r->route, method, rep.status);
	api_metrics_duration(&s->metrics, r->route, pf_mono_ns() - t0);
	if (pf_log_enabled(PF_LOG_DEBUG)) {
		char code[8], ms[32];
		snprintf(code, sizeof(code), "%d", rep.status);
		snprintf(ms, sizeof(ms), "%.3f", (double)(pf_mono_ns() - t0) / 1e6);
		pf_log(PF_LOG_DEBUG, "request", "method", method, "uri", r->raw_uri, "code", code,
		       "ms", ms, NULL);
	}
	/* a refused head is not worth keeping the connection for */
	ret = send_reply(con, &rep, r->head_too_big || !conn_keep_alive(s, con));
	pf_buf_free(&rep.body);
	free(rep.filename);
	return ret;
}

/* ---- lifetime ---- */

static unsigned ceil_s(int64_t ns)
{
	int64_t sec = (ns + 999999999) / 1000000000;
	return sec < 1 ? 1 : sec > 86400 ? 86400 : (unsigned)sec;
}

/* Release the locks, the per-address counts and the metrics of s, and s. */
static void server_free(struct api_server *s)
{
	api_metrics_destroy(&s->metrics);
	pf_map_free(s->conns_per_ip);
	pthread_mutex_destroy(&s->inflight_mu);
	pthread_cond_destroy(&s->inflight_cv);
	pthread_mutex_destroy(&s->conn_mu);
	pthread_cond_destroy(&s->conn_cv);
	free(s);
}

int api_start(const struct api_options *o, struct api_server **out, struct pf_err *err)
{
	struct api_server *s = pf_xcalloc(1, sizeof(*s));
	pthread_condattr_t ca;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
	int tls = o->tls_cert_pem && o->tls_key_pem;
	struct MHD_OptionItem tls_opts[] = {
		{tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, (void *)o->tls_cert_pem},
		{MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)o->tls_key_pem},
		{MHD_OPTION_END, 0, NULL},
	};
	rlim_t nofile;
	int rc;

	s->opt = *o;
	s->listen_fd = -1;
	if (!s->opt.threads)
		s->opt.threads = 64;
	if (s->opt.read_header_timeout_ns <= 0)
		s->opt.read_header_timeout_ns = 10 * (int64_t)1000000000;
	if (s->opt.read_timeout_ns <= 0)
		s->opt.read_timeout_ns = 60 * (int64_t)1000000000;
	s->header_timeout_s = ceil_s(s->opt.read_header_timeout_ns);
	/* libmicrohttpd's own inactivity timeout before a request's headers
	 * only backs the reaper up: a little longer, so the reaper cuts first */
	s->idle_timeout_s = s->header_timeout_s + 2;
	s->read_timeout_s = ceil_s(s->opt.read_timeout_ns);
	/* the open-file limit, less room for the store's files, the scraper's
	 * connections and the worker threads' epoll and event descriptors */
	nofile = (rlim_t)pf_raise_nofile();
	{
		rlim_t reserve = 256 + 2 * (rlim_t)s->opt.threads + nofile / 10;
		rlim_t fit = nofile > reserve + 16 ? nofile - reserve : 16;
		if (fit > 1000000)
			fit = 1000000;
		s->max_conns = (unsigned)fit;
		if (o->max_connections && (rlim_t)o->max_connections <= fit) {
			s->max_conns = o->max_connections;
		} else if (o->max_connections) {
			char want[32], lim[32], ok[32];
			snprintf(want, sizeof(want), "%u", o->max_connections);
			snprintf(lim, sizeof(lim), "%llu", (unsigned long long)nofile);
			snprintf(ok, sizeof(ok), "%llu", (unsigned long long)fit);
			pf_log(PF_LOG_WARN, "-web.max-connections is more than the open-file limit allows; "
					    "lowered to what it allows",
			       "max_connections", want, "open_file_limit", lim, "allowed", ok, NULL);
		}
	}
	s->max_conns_per_ip = o->max_connections_per_ip;
	pthread_mutex_init(&s->inflight_mu, NULL);
	pthread_cond_init(&s->inflight_cv, NULL);
	pthread_mutex_init(&s->conn_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->conn_cv, &ca);
	pthread_condattr_destroy(&ca);
	s->conns_per_ip = pf_map_new(64);
	api_metrics_init(&s->metrics);
	if ((rc = listen_on(o->addr, &s->listen_fd, &s->port, err)) < 0)
		goto fail;
	if (tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		rc = pf_err_set(err, PF_EINVAL, "-web.tls-cert-file: this libmicrohttpd was built without TLS");
		goto fail;
	}
	s->mhd = MHD_start_daemon(flags | (tls ? MHD_USE_TLS : 0), 0, accept_policy, s, handle, s,
				  MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, s, /* first */
				  MHD_OPTION_LISTEN_SOCKET, s->listen_fd,
				  MHD_OPTION_THREAD_POOL_SIZE, s->opt.threads,
				  MHD_OPTION_URI_LOG_CALLBACK, uri_log, s,
				  MHD_OPTION_NOTIFY_COMPLETED, req_done, s,
				  MHD_OPTION_NOTIFY_CONNECTION, conn_notify, s,
				  /* our own limit is checked first (accept_policy); this
				   * one only bounds a race between the pool's threads */
				  MHD_OPTION_CONNECTION_LIMIT, s->max_conns + s->opt.threads,
				  MHD_OPTION_CONNECTION_TIMEOUT, s->idle_timeout_s,
				  MHD_OPTION_CONNECTION_MEMORY_LIMIT, API_CONN_POOL_BYTES,
				  MHD_OPTION_CONNECTION_MEMORY_INCREMENT, API_CONN_POOL_INCREMENT,
				  MHD_OPTION_ARRAY, tls_opts,
				  MHD_OPTION_END);
	if (!s->mhd) {
		rc = pf_err_set(err, PF_EIO, "start HTTP%s server on %s%s failed%s%s", tls ? "S" : "",
				o->addr, tls ? " (-web.tls-cert-file, -web.tls-key-file)" : "",
				s->mhd_err[0] ? ": " : "", s->mhd_err);
		goto fail;
	}
	__atomic_store_n(&s->mhd_started, 1, __ATOMIC_RELEASE);
	if (pthread_create(&s->reaper, NULL, reaper_main, s) != 0) {
		rc = pf_err_set(err, PF_EIO, "start HTTP server: cannot start a thread");
		MHD_stop_daemon(s->mhd); /* closes the listening socket */
		s->listen_fd = -1;
		goto fail;
	}
	s->reaper_started = 1;
	{
		char th[16], mc[16], mi[16], ht[16];
		snprintf(th, sizeof(th), "%u", s->opt.threads);
		snprintf(mc, sizeof(mc), "%u", s->max_conns);
		snprintf(mi, sizeof(mi), "%u", s->max_conns_per_ip);
		snprintf(ht, sizeof(ht), "%u", s->header_timeout_s);
		pf_log(PF_LOG_INFO, "HTTP server", "tls", tls ? "true" : "false", "threads", th,
		       "max_connections", mc, "max_connections_per_ip", mi,
		       "read_header_timeout_s", ht, NULL);
	}
	*out = s;
	return 0;
fail:
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	server_free(s);
	return rc;
}

int api_port(const struct api_server *s)
{
	return s->port;
}

void api_stop(struct api_server *s)
{
	struct timespec deadline;
	int fd;

	if (!s)
		return;
	/* queries in progress stop at their next check (api_req_gone) */
	__atomic_store_n(&s->stopping, 1, __ATOMIC_RELEASE);
	fd = MHD_quiesce_daemon(s->mhd);
	if (fd >= 0)
		close(fd);
	/* let requests in progress finish (bounded) */
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 60;
	pthread_mutex_lock(&s->inflight_mu);
	while (s->inflight > 0)
		if (pthread_cond_timedwait(&s->inflight_cv, &s->inflight_mu, &deadline) != 0)
			break;
	pthread_mutex_unlock(&s->inflight_mu);
	MHD_stop_daemon(s->mhd);
	if (s->reaper_started) {
		pthread_mutex_lock(&s->conn_mu);
		s->reaper_stop = 1;
		pthread_cond_signal(&s->conn_cv);
		pthread_mutex_unlock(&s->conn_mu);
		pthread_join(s->reaper, NULL);
	}
	server_free(s);
}
