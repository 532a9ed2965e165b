/* The HTTP server: listening socket, libmicrohttpd wiring, request bodies
 * with a hard cap, routing, responses and request metrics. */
#include "api/api-internal.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

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
	int one = 1, fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
	if (bind(fd, sa, salen) < 0 || listen(fd, 1024) < 0) {
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

/* ---- requests ---- */

static void *uri_log(void *cls, const char *uri, struct MHD_Connection *con)
{
	struct api_server *s = cls;
	struct api_req_ctx *c = pf_xcalloc(1, sizeof(*c));
	(void)con;
	c->srv = s;
	c->req.raw_uri = pf_xstrdup(uri ? uri : "/");
	pf_buf_init(&c->req.body, s->opt.max_body_bytes);
	return c;
}

static void req_done(void *cls, struct MHD_Connection *con, void **req_cls,
		     enum MHD_RequestTerminationCode toe)
{
	struct api_server *s = cls;
	struct api_req_ctx *c = *req_cls;
	(void)con;
	(void)toe;
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
	} else {
		api_reply_text(rep, 404, "404 page not found\n");
	}
}

/* Whether the request may proceed under -web.auth-token-file: /-/healthy
 * always, anything else with "Authorization: Bearer <token>" (compared in
 * constant time). */
static int authorized(const struct api_server *s, struct MHD_Connection *con, const char *uri)
{
	const char *want = s->opt.auth_token, *h, *got;
	size_t n, m, i;
	unsigned char diff;

	if (!want)
		return 1;
	n = strcspn(uri, "?");
	if (n == strlen("/-/healthy") && memcmp(uri, "/-/healthy", n) == 0)
		return 1;
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

static enum MHD_Result send_reply(struct MHD_Connection *con, struct api_reply *rep)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	size_t len = rep->body.len;
	uint8_t *data = pf_buf_steal(&rep->body, NULL);

	if (data)
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
	if (rep->bearer_challenge)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
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
		c->started = 1;
		r->method = method;
		pthread_mutex_lock(&s->inflight_mu);
		s->inflight++;
		c->counted = 1;
		pthread_mutex_unlock(&s->inflight_mu);
		if (!authorized(s, con, r->raw_uri)) {
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
		r->path = pf_xstrndup(r->raw_uri, q ? (size_t)(q - r->raw_uri) : strlen(r->raw_uri));
		api_unescape(r->path, 0, NULL); /* a bad escape stays as sent */
		api_parse_query(q ? q + 1 : NULL, &r->params, &r->nparams);
	}
	if (r->unauthorized) {
		api_reply_text(&rep, 401, "401 unauthorized: this server wants "
					  "\"Authorization: Bearer <token>\" (-web.auth-token-file)\n");
		rep.bearer_challenge = 1;
	} else if (r->body_too_big) {
		api_metrics_refused(&s->metrics, "body_too_big");
		api_reply_error(&rep, 413, "request body larger than -max-body-size (%zu bytes)",
				s->opt.max_body_bytes);
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
	ret = send_reply(con, &rep);
	pf_buf_free(&rep.body);
	free(rep.filename);
	return ret;
}

/* ---- lifetime ---- */

int api_start(const struct api_options *o, struct api_server **out, struct pf_err *err)
{
	struct api_server *s = pf_xcalloc(1, sizeof(*s));
	int rc;

	s->opt = *o;
	s->listen_fd = -1;
	pthread_mutex_init(&s->inflight_mu, NULL);
	pthread_cond_init(&s->inflight_cv, NULL);
	api_metrics_init(&s->metrics);
	if ((rc = listen_on(o->addr, &s->listen_fd, &s->port, err)) < 0)
		goto fail;
	s->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
					  MHD_USE_POLL | MHD_USE_ITC,
				  0, NULL, NULL, handle, s,
				  MHD_OPTION_LISTEN_SOCKET, s->listen_fd,
				  MHD_OPTION_URI_LOG_CALLBACK, uri_log, s,
				  MHD_OPTION_NOTIFY_COMPLETED, req_done, s,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned)4096,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)300,
				  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024),
				  MHD_OPTION_END);
	if (!s->mhd) {
		rc = pf_err_set(err, PF_EIO, "start HTTP server on %s failed", o->addr);
		goto fail;
	}
	*out = s;
	return 0;
fail:
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	api_metrics_destroy(&s->metrics);
	pthread_mutex_destroy(&s->inflight_mu);
	pthread_cond_destroy(&s->inflight_cv);
	free(s);
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
	api_metrics_destroy(&s->metrics);
	pthread_mutex_destroy(&s->inflight_mu);
	pthread_cond_destroy(&s->inflight_cv);
	free(s);
}
