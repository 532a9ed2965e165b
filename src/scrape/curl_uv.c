/*
 * libcurl's multi-socket interface on the scraper's libuv loop, after
 * curl's docs/examples/multi-uv.c: curl tells us which sockets to watch
 * (CURLMOPT_SOCKETFUNCTION -> one uv_poll_t per socket) and when to call
 * it back (CURLMOPT_TIMERFUNCTION -> one uv_timer_t); libuv reports
 * readiness and we hand it to curl_multi_socket_action. One easy handle
 * per scrape, with the job's HTTP settings; connections are kept alive in
 * the multi handle's cache between scrapes.
 */
#include "scrape/scrape-internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

/* Go's net/http follows at most 10 redirects; so do we. */
#define MAX_REDIRS 10
/* Bytes of a non-200 answer kept for the error message. */
#define ERROR_BODY_KEEP 512
/* Largest password_file or bearer_token_file. */
#define SECRET_FILE_MAX (64 << 10)

struct sock_ctx {
	uv_poll_t poll;
	curl_socket_t fd;
	struct scrape *s;
};

static void check_multi_info(struct scrape *s);

/* ---- errors ---------------------------------------------------------------- */

void scrape__xfer_fail(struct scrape__xfer *x, int result, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	x->result = result;
	free(x->error);
	x->error = pf_xstrdup(msg);
}

/* strerror as Go prints it: "connection refused". */
static void lower_strerror(int e, char *out, size_t n)
{
	snprintf(out, n, "%s", strerror(e));
	if (out[0] && isupper((unsigned char)out[0]) && !isupper((unsigned char)out[1]))
		out[0] = (char)tolower((unsigned char)out[0]);
}

/* The start of a text body, on one line, for an error message. */
static void body_snippet(const struct scrape__xfer *x, char *out, size_t n)
{
	size_t k = 0, len = PF_MIN(x->body.len, (size_t)200);

	out[0] = 0;
	for (size_t i = 0; i < len && k + 1 < n; i++) {
		unsigned char c = x->body.data[i];
		if (c == '\n' || c == '\r' || c == '\t')
			c = ' ';
		if (c < 0x20 || c == 0x7f)
			return; /* binary: say nothing */
		if (c == ' ' && k > 0 && out[k - 1] == ' ')
			continue;
		out[k++] = (char)c;
	}
	while (k > 0 && out[k - 1] == ' ')
		k--;
	out[k] = 0;
}

static void classify(struct scrape__xfer *x, CURLcode res, long code)
{
	char dur[32], e[128], snip[256];
	long oserr = 0;

	/* an error status says more than how its body ended (cut short by
	 * us, too long, timed out), except for a redirect loop */
	if (code != 0 && code != 200 && res != CURLE_TOO_MANY_REDIRECTS) {
		body_snippet(x, snip, sizeof(snip));
		if (*snip)
			scrape__xfer_fail(x, SCRAPE__R_HTTP, "HTTP %ld from %s: %s", code, x->url, snip);
		else
			scrape__xfer_fail(x, SCRAPE__R_HTTP, "HTTP %ld from %s", code, x->url);
		return;
	}
	switch (res) {
	case CURLE_WRITE_ERROR:
	case CURLE_FILESIZE_EXCEEDED:
		if (x->too_large || res == CURLE_FILESIZE_EXCEEDED) {
			scrape__xfer_fail(x, SCRAPE__R_TOO_LARGE,
					  "the response from %s is larger than -max-body-size (%zu bytes); the transfer was stopped",
					  x->url, x->body.max);
			return;
		}
		scrape__xfer_fail(x, SCRAPE__R_TRANSPORT, "reading %s: out of memory", x->url);
		return;
	case CURLE_OPERATION_TIMEDOUT:
		config_format_duration(x->timeout_ns / 1000000 * 1000000, dur, sizeof(dur));
		scrape__xfer_fail(x, SCRAPE__R_TIMEOUT,
				  "%s did not answer within the scrape timeout of %s (%zu bytes received)", x->url,
				  dur, x->body.len);
		return;
	case CURLE_COULDNT_RESOLVE_HOST:
		scrape__xfer_fail(x, SCRAPE__R_CONNECT, "resolve %s: %s", x->address,
				  *x->errbuf ? x->errbuf : "could not resolve the host name");
		return;
	case CURLE_COULDNT_CONNECT:
		curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &oserr);
		if (oserr > 0) {
			lower_strerror((int)oserr, e, sizeof(e));
			scrape__xfer_fail(x, SCRAPE__R_CONNECT, "connect %s: %s", x->address, e);
		} else {
			scrape__xfer_fail(x, SCRAPE__R_CONNECT, "connect %s: %s", x->address,
					  *x->errbuf ? x->errbuf : curl_easy_strerror(res));
		}
		return;
	case CURLE_TOO_MANY_REDIRECTS: {
		char *last = NULL;
		curl_easy_getinfo(x->easy, CURLINFO_EFFECTIVE_URL, &last);
		scrape__xfer_fail(x, SCRAPE__R_TRANSPORT,
				  "%s: stopped after %d redirects (a redirect loop?), the last to %s", x->url,
				  MAX_REDIRS, last ? last : "?");
		return;
	}
	case CURLE_UNSUPPORTED_PROTOCOL:
		scrape__xfer_fail(x, SCRAPE__R_TRANSPORT, "%s: %s (only http and https are followed)", x->url,
				  *x->errbuf ? x->errbuf : curl_easy_strerror(res));
		return;
	default:
		scrape__xfer_fail(x, SCRAPE__R_TRANSPORT, "%s: %s", x->url,
				  *x->errbuf ? x->errbuf : curl_easy_strerror(res));
		return;
	}
}

/* ---- transfers ------------------------------------------------------------- */

static size_t on_write(char *ptr, size_t size, size_t n, void *ud)
{
	struct scrape__xfer *x = ud;
	size_t len = size * n;
	long code = 0;
	int rc;

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200 && code != 0) {
		/* an error answer: keep its start for the message, drop the rest */
		size_t room = x->body.len < ERROR_BODY_KEEP ? ERROR_BODY_KEEP - x->body.len : 0;
		if (room)
			pf_buf_append(&x->body, ptr, PF_MIN(room, len));
		if (x->body.len >= ERROR_BODY_KEEP)
			return 0; /* enough: classify() reports the status */
		return len;
	}
	if ((rc = pf_buf_append(&x->body, ptr, len)) < 0) {
		x->too_large = rc == PF_ETOOBIG;
		return 0;
	}
	return len;
}

static void dl_link(struct scrape__xfer *x)
{
	struct scrape *s = x->s;
	x->dl_prev = NULL;
	x->dl_next = s->downloading;
	if (s->downloading)
		s->downloading->dl_prev = x;
	s->downloading = x;
}

static void dl_unlink(struct scrape__xfer *x)
{
	struct scrape *s = x->s;
	if (x->dl_prev)
		x->dl_prev->dl_next = x->dl_next;
	else if (s->downloading == x)
		s->downloading = x->dl_next;
	if (x->dl_next)
		x->dl_next->dl_prev = x->dl_prev;
	x->dl_prev = x->dl_next = NULL;
}

void scrape__xfer_free(struct scrape__xfer *x)
{
	if (!x)
		return;
	if (x->easy)
		curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->headers);
	curl_slist_free_all(x->connect_to);
	pf_buf_free(&x->body);
	free(x->url);
	free(x->address);
	free(x->type);
	free(x->labels); /* one block with the strings */
	free(x->content_type);
	free(x->error);
	free(x);
}

/* Read a secret file, trimmed of surrounding white space (as Prometheus). */
static char *read_secret(const char *path, struct pf_err *err)
{
	struct pf_buf b = PF_BUF_INIT(SECRET_FILE_MAX);
	size_t lo = 0, hi;
	char *s;

	if (pf_read_file(path, SECRET_FILE_MAX, &b, err) < 0) {
		pf_buf_free(&b);
		return NULL;
	}
	hi = b.len;
	while (lo < hi && isspace(b.data[lo]))
		lo++;
	while (hi > lo && isspace(b.data[hi - 1]))
		hi--;
	s = pf_xstrndup(b.data ? (const char *)b.data + lo : "", hi - lo);
	pf_buf_free(&b);
	return s;
}

/* Copy the pair's labels into one block the transfer owns. */
static void copy_labels(struct scrape__xfer *x, const struct config_labels *l)
{
	size_t bytes = l->n * sizeof(struct tsdb_label), off;
	char *mem;

	for (size_t i = 0; i < l->n; i++)
		bytes += strlen(l->v[i].name) + strlen(l->v[i].value) + 2;
	mem = pf_xmalloc(bytes ? bytes : 1);
	x->labels = (struct tsdb_label *)mem;
	x->nlabels = l->n;
	off = l->n * sizeof(struct tsdb_label);
	for (size_t i = 0; i < l->n; i++) {
		size_t a = strlen(l->v[i].name) + 1, b = strlen(l->v[i].value) + 1;
		memcpy(mem + off, l->v[i].name, a);
		x->labels[i].name = mem + off;
		off += a;
		memcpy(mem + off, l->v[i].value, b);
		x->labels[i].value = mem + off;
		off += b;
	}
}

/*
 * tls_config.server_name: connect to the target's address but speak TLS
 * (SNI, certificate check) for server_name, with the Host header still the
 * address, as Prometheus does. curl takes the TLS name from the URL, so the
 * URL names server_name and CURLOPT_CONNECT_TO sends it to the address.
 */
static int set_server_name(struct scrape__xfer *x, const char *server_name, struct pf_err *err)
{
	const char *addr = x->address, *colon = strrchr(addr, ':'), *rest;
	size_t prefix = strlen("https://") + strlen(addr);
	struct pf_buf url = PF_BUF_INIT(0), map = PF_BUF_INIT(0), host = PF_BUF_INIT(0);

	if (!colon || strncmp(x->url, "https://", 8) != 0 || strlen(x->url) < prefix)
		return pf_err_set(err, PF_EINVAL, "tls_config.server_name needs an https target with a port");
	rest = x->url + prefix;
	pf_buf_printf(&url, "https://%s%s%s", server_name, colon, rest);
	pf_buf_printf(&map, "%s%s:%s", server_name, colon, addr);
	pf_buf_printf(&host, "Host: %s", addr);
	x->connect_to = curl_slist_append(x->connect_to, (const char *)map.data);
	x->headers = curl_slist_append(x->headers, (const char *)host.data);
	curl_easy_setopt(x->easy, CURLOPT_URL, (const char *)url.data); /* curl copies strings */
	curl_easy_setopt(x->easy, CURLOPT_CONNECT_TO, x->connect_to);
	pf_buf_free(&url);
	pf_buf_free(&map);
	pf_buf_free(&host);
	return 0;
}

/* Whether an address's host ("host:port", "[v6]:port") is an IP literal. */
static int host_is_ip(const char *address)
{
	const char *colon = strrchr(address, ':');
	char host[64];
	struct in6_addr a6;
	struct in_addr a4;
	size_t n;

	if (address[0] == '[')
		return 1;
	n = colon ? (size_t)(colon - address) : strlen(address);
	if (n == 0 || n >= sizeof(host))
		return 0;
	memcpy(host, address, n);
	host[n] = 0;
	return inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1;
}

static int setup_easy(struct scrape__xfer *x, const struct config_target *t, struct pf_err *err)
{
	struct scrape *s = x->s;
	const struct config_http *h = &t->job->http;
	CURL *e = x->easy;
	char hdr[128];
	long timeout_ms = x->timeout_ns / 1000000 > 0 ? (long)(x->timeout_ns / 1000000) : 1;
	int rc = 0;

	curl_easy_setopt(e, CURLOPT_URL, x->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(e, CURLOPT_USERAGENT, s->user_agent);
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s->o.max_body_bytes);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, h->follow_redirects ? 1L : 0L);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)MAX_REDIRS);
	/* an IP literal needs no name lookup: its entry in curl's DNS cache
	 * (one per host:port, shared by the multi handle) never expires, and
	 * the transfer skips the prune that curl 7.88 makes of the whole cache
	 * before each transfer otherwise (with 1 429 targets that walk was a
	 * quarter of the scraper's CPU) */
	if (host_is_ip(x->address))
		curl_easy_setopt(e, CURLOPT_DNS_CACHE_TIMEOUT, -1L);
	snprintf(hdr, sizeof(hdr), "X-Profefe-Scrape-Timeout-Seconds: %.3f", (double)x->timeout_ns / 1e9);
	x->headers = curl_slist_append(x->headers, hdr);
	x->headers = curl_slist_append(x->headers, "Accept: application/octet-stream, */*;q=0.1");

	if (h->basic_auth) {
		char *pw = NULL;
		if (h->basic_auth_password_file) {
			if (!(pw = read_secret(h->basic_auth_password_file, err)))
				return pf_err_set(err, PF_EIO, "read basic_auth password_file: %s", err->msg);
		}
		curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(e, CURLOPT_USERNAME, h->basic_auth_username ? h->basic_auth_username : "");
		curl_easy_setopt(e, CURLOPT_PASSWORD,
				 pw ? pw : h->basic_auth_password ? h->basic_auth_password : "");
		free(pw); /* curl keeps its own copy */
	}
	if (h->bearer_token || h->bearer_token_file) {
		char *tok = NULL, *line;
		size_t n;
		if (h->bearer_token_file && !(tok = read_secret(h->bearer_token_file, err)))
			return pf_err_set(err, PF_EIO, "read bearer_token_file: %s", err->msg);
		n = strlen(tok ? tok : h->bearer_token) + 32;
		line = pf_xmalloc(n);
		snprintf(line, n, "Authorization: Bearer %s", tok ? tok : h->bearer_token);
		x->headers = curl_slist_append(x->headers, line);
		free(line);
		free(tok);
	}
	if (strcmp(h->scheme, "https") == 0) {
		if (h->tls.ca_file)
			curl_easy_setopt(e, CURLOPT_CAINFO, h->tls.ca_file);
		if (h->tls.cert_file)
			curl_easy_setopt(e, CURLOPT_SSLCERT, h->tls.cert_file);
		if (h->tls.key_file)
			curl_easy_setopt(e, CURLOPT_SSLKEY, h->tls.key_file);
		if (h->tls.insecure_skip_verify) {
			curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
			curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
		}
		if (h->tls.server_name && *h->tls.server_name &&
		    (rc = set_server_name(x, h->tls.server_name, err)) < 0)
			return rc;
	}
	if (h->proxy_url)
		curl_easy_setopt(e, CURLOPT_PROXY, h->proxy_url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
	return 0;
}

void scrape__xfer_start(struct scrape__pair *p)
{
	struct scrape *s = p->s;
	const struct config_target *t = p->t;
	struct scrape__xfer *x = pf_xcalloc(1, sizeof(*x));
	struct pf_err err = {0};
	CURLMcode mc;

	x->s = s;
	x->pair = p;
	x->url = pf_xstrdup(t->url);
	x->address = pf_xstrdup(t->address);
	x->type = pf_xstrdup(t->type);
	x->timeout_ns = t->timeout_ns;
	copy_labels(x, &t->labels);
	pf_buf_init(&x->body, s->o.max_body_bytes);
	x->start_ns = pf_now_ns();
	x->start_mono_ns = pf_mono_ns();
	p->inflight = x;
	p->refs++;
	__atomic_add_fetch(&s->inflight, 1, __ATOMIC_RELAXED);

	if (!(x->easy = curl_easy_init())) {
		scrape__xfer_fail(x, SCRAPE__R_TRANSPORT, "%s: cannot create a transfer (curl_easy_init)", x->url);
		scrape__finish(x);
		return;
	}
	if (setup_easy(x, t, &err) < 0) {
		scrape__xfer_fail(x, SCRAPE__R_TRANSPORT, "%s: %s", x->url, err.msg);
		scrape__finish(x);
		return;
	}
	if ((mc = curl_multi_add_handle(s->multi, x->easy)) != CURLM_OK) {
		scrape__xfer_fail(x, SCRAPE__R_TRANSPORT, "%s: cannot start the transfer: %s", x->url,
				  curl_multi_strerror(mc));
		scrape__finish(x);
		return;
	}
	dl_link(x);
}

/* A transfer curl has finished: store its body, or record why not. */
static void xfer_done(struct scrape__xfer *x, CURLcode res)
{
	long code = 0;
	char *ct = NULL;

	dl_unlink(x);
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
	if (curl_easy_getinfo(x->easy, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
		x->content_type = pf_xstrdup(ct);
	if (res == CURLE_OK && code == 200) {
		curl_easy_cleanup(x->easy);
		x->easy = NULL;
		scrape__store_submit(x);
		return;
	}
	classify(x, res, code);
	scrape__finish(x);
}

static void check_multi_info(struct scrape *s)
{
	CURLMsg *msg;
	int pending;

	while ((msg = curl_multi_info_read(s->multi, &pending))) {
		struct scrape__xfer *x = NULL;
		CURL *e;
		CURLcode res;

		if (msg->msg != CURLMSG_DONE)
			continue;
		e = msg->easy_handle;
		res = msg->data.result;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
		curl_multi_remove_handle(s->multi, e);
		xfer_done(x, res);
	}
}

void scrape__curl_cancel_all(struct scrape *s)
{
	while (s->downloading) {
		struct scrape__xfer *x = s->downloading;
		dl_unlink(x);
		curl_multi_remove_handle(s->multi, x->easy);
		scrape__xfer_fail(x, SCRAPE__R_CANCELLED, "%s: cancelled: profefe is shutting down", x->url);
		scrape__finish(x);
	}
}

/* ---- the glue -------------------------------------------------------------- */

static void on_sock_closed(uv_handle_t *h)
{
	free(h->data);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct sock_ctx *c = h->data;
	struct scrape *s = c->s;
	int flags = 0, running;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(s->multi, c->fd, flags, &running);
	check_multi_info(s);
}

static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct scrape *s = userp;
	struct sock_ctx *c = socketp;
	int events = 0;

	(void)e;
	switch (what) {
	case CURL_POLL_IN:
	case CURL_POLL_OUT:
	case CURL_POLL_INOUT:
		if (!c) {
			c = pf_xcalloc(1, sizeof(*c));
			c->fd = fd;
			c->s = s;
			if (uv_poll_init_socket(&s->loop, &c->poll, fd) < 0) {
				free(c);
				return -1;
			}
			c->poll.data = c;
			curl_multi_assign(s->multi, fd, c);
		}
		if (what != CURL_POLL_IN)
			events |= UV_WRITABLE;
		if (what != CURL_POLL_OUT)
			events |= UV_READABLE;
		uv_poll_start(&c->poll, events, on_poll);
		break;
	case CURL_POLL_REMOVE:
		if (c) {
			uv_poll_stop(&c->poll);
			uv_close((uv_handle_t *)&c->poll, on_sock_closed);
			if (!s->closing)
				curl_multi_assign(s->multi, fd, NULL);
		}
		break;
	default:
		break;
	}
	return 0;
}

static void on_curl_timeout(uv_timer_t *h)
{
	struct scrape *s = h->data;
	int running;

	curl_multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_multi_info(s);
}

static int on_curl_timer(CURLM *m, long timeout_ms, void *userp)
{
	struct scrape *s = userp;

	(void)m;
	if (timeout_ms < 0)
		uv_timer_stop(&s->curl_timer);
	else /* 0: as soon as possible, but not from inside this callback */
		uv_timer_start(&s->curl_timer, on_curl_timeout, (uint64_t)timeout_ms, 0);
	return 0;
}

int scrape__curl_init(struct scrape *s, struct pf_err *err)
{
	if (!(s->multi = curl_multi_init()))
		return pf_err_set(err, PF_EIO, "cannot create the scraper's HTTP client (curl_multi_init)");
	uv_timer_init(&s->loop, &s->curl_timer);
	s->curl_timer.data = s;
	curl_multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(s->multi, CURLMOPT_SOCKETDATA, s);
	curl_multi_setopt(s->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(s->multi, CURLMOPT_TIMERDATA, s);
	return 0;
}

static void close_polls(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (h->type == UV_POLL && !uv_is_closing(h))
		uv_close(h, on_sock_closed);
}

void scrape__curl_close(struct scrape *s)
{
	if (!s->multi)
		return;
	/* closes the cached connections; their poll handles close on the loop */
	curl_multi_cleanup(s->multi);
	s->multi = NULL;
	uv_walk(&s->loop, close_polls, NULL);
}
