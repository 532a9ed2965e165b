/*
 * The HTTP client (libcurl easy handles, one per query, kept in a small
 * free list for keep-alive), DSN parsing, SQL quoting, RowBinary writers
 * and readers, TSV fields.
 */
#include "clickhouse/clickhouse.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>

#define CH_POOL 8

struct ch_client {
	struct ch_dsn dsn;
	long timeout_ms;
	pthread_mutex_t mu;
	CURL *pool[CH_POOL];
	size_t npool;
};

/* ---- DSN ---------------------------------------------------------------- */

/* URL-decode s[0..n) ('+' is a space) into a new string; NULL on a bad
 * escape or a NUL byte. */
static char *url_decode(const char *s, size_t n)
{
	char *o = pf_xmalloc(n + 1);
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%') {
			int h, l;
			if (n - i < 3) {
				free(o);
				return NULL;
			}
			h = pf_hexval(s[i + 1]);
			l = pf_hexval(s[i + 2]);
			if (h < 0 || l < 0 || (h == 0 && l == 0)) {
				free(o);
				return NULL;
			}
			o[j++] = (char)(h << 4 | l);
			i += 2;
		} else {
			o[j++] = s[i] == '+' ? ' ' : s[i];
		}
	}
	o[j] = 0;
	return o;
}

void ch_dsn_free(struct ch_dsn *d)
{
	if (!d)
		return;
	free(d->base);
	free(d->database);
	free(d->user);
	free(d->password);
	memset(d, 0, sizeof(*d));
}

static int valid_db_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return 0;
	}
	return 1;
}

/* shown: dsn as its errors quote it (dsn_redact) */
static int dsn_parse(const char *dsn, const char *shown, struct ch_dsn *d,
		     struct pf_err *err)
{
	const char *p, *host, *q, *hend;
	size_t slen;

	memset(d, 0, sizeof(*d));
	if (!dsn || !*dsn)
		return pf_err_set(err, PF_EINVAL,
				  "-clickhouse.dsn is empty: want http://host:8123/?database=NAME");
	if (strlen(dsn) > 4096)
		return pf_err_set(err, PF_EINVAL, "-clickhouse.dsn is longer than 4096 bytes");
	for (p = dsn; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return pf_err_set(err, PF_EINVAL,
					  "-clickhouse.dsn \"%.200s\": space or control byte at offset %zu",
					  shown, (size_t)(p - dsn));
	p = strstr(dsn, "://");
	if (!p)
		return pf_err_set(err, PF_EINVAL,
				  "-clickhouse.dsn \"%.200s\": no scheme: want http://host:8123/?database=NAME",
				  shown);
	slen = (size_t)(p - dsn);
	if (!((slen == 4 && strncasecmp(dsn, "http", 4) == 0) ||
	      (slen == 5 && strncasecmp(dsn, "https", 5) == 0)))
		return pf_err_set(err, PF_EINVAL,
				  "-clickhouse.dsn \"%.200s\": scheme \"%.*s\" is not http or https "
				  "(ClickHouse's HTTP interface, port 8123)",
				  shown, (int)PF_MIN(slen, 32), dsn);
	host = p + 3;
	hend = host + strcspn(host, "/?#");
	if (hend == host)
		return pf_err_set(err, PF_EINVAL, "-clickhouse.dsn \"%.200s\": missing host", shown);
	if (memchr(host, '@', (size_t)(hend - host)))
		return pf_err_set(err, PF_EINVAL,
				  "-clickhouse.dsn \"%.200s\": user info in the host part: give "
				  "user= and password= parameters",
				  shown);
	/* host[:port]: the port, when given, is 1..65535 */
	{
		const char *colon = NULL;
		if (*host == '[') {
			const char *rb = memchr(host, ']', (size_t)(hend - host));
			if (!rb)
				return pf_err_set(err, PF_EINVAL,
						  "-clickhouse.dsn \"%.200s\": unclosed [ in the host",
						  shown);
			if (rb + 1 < hend && rb[1] == ':')
				colon = rb + 1;
			else if (rb + 1 != hend)
				return pf_err_set(err, PF_EINVAL,
						  "-clickhouse.dsn \"%.200s\": bad host \"%.*s\"", shown,
						  (int)PF_MIN(hend - host, 200), host);
		} else {
			colon = memchr(host, ':', (size_t)(hend - host));
		}
		if (colon == host)
			return pf_err_set(err, PF_EINVAL, "-clickhouse.dsn \"%.200s\": missing host",
					  shown);
		if (colon) {
			long port = 0;
			const char *c = colon + 1;
			if (c == hend)
				return pf_err_set(err, PF_EINVAL,
						  "-clickhouse.dsn \"%.200s\": empty port after \":\"", shown);
			for (; c < hend; c++) {
				if (*c < '0' || *c > '9' || port > 65535)
					break;
				port = port * 10 + (*c - '0');
			}
			if (c != hend || port < 1 || port > 65535)
				return pf_err_set(err, PF_EINVAL,
						  "-clickhouse.dsn \"%.200s\": port \"%.*s\" is not a number "
						  "in 1..65535",
						  shown, (int)PF_MIN(hend - colon - 1, 32), colon + 1);
		}
	}
	q = hend;
	if (*q == '/')
		q++;
	if (*q && *q != '?')
		return pf_err_set(err, PF_EINVAL,
				  "-clickhouse.dsn \"%.200s\": path \"/%.*s\": the database goes in "
				  "?database=NAME",
				  shown, (int)PF_MIN(strcspn(q, "?#"), 64), q);
	if (strchr(dsn, '#'))
		return pf_err_set(err, PF_EINVAL, "-clickhouse.dsn \"%.200s\": has a #fragment", shown);
	{
		struct pf_buf b = PF_BUF_INIT(0);
		pf_buf_printf(&b, "%.*s://%.*s/", (int)slen, dsn, (int)(hend - host), host);
		pf_buf_putc(&b, 0);
		d->base = (char *)pf_buf_steal(&b, &slen);
		for (char *c = d->base; *c != ':'; c++)
			*c = (char)((*c >= 'A' && *c <= 'Z') ? *c + 32 : *c);
	}
	if (*q == '?')
		q++;
	while (*q) {
		const char *amp = q + strcspn(q, "&");
		const char *eq = memchr(q, '=', (size_t)(amp - q));
		char **slot = NULL;
		const char *what = NULL;
		size_t klen = eq ? (size_t)(eq - q) : (size_t)(amp - q);

		if (amp == q) {
			q++;
			continue;
		}
		if (klen == 8 && !strncmp(q, "database", 8))
			slot = &d->database, what = "database";
		else if (klen == 4 && !strncmp(q, "user", 4))
			slot = &d->user, what = "user";
		else if (klen == 8 && !strncmp(q, "password", 8))
			slot = &d->password, what = "password";
		else {
			pf_err_set(err, PF_EINVAL,
				   "-clickhouse.dsn \"%.200s\": unknown parameter \"%.*s\" (known: "
				   "database, user, password)",
				   shown, (int)PF_MIN(klen, 64), q);
			goto fail;
		}
		if (!eq) {
			pf_err_set(err, PF_EINVAL, "-clickhouse.dsn \"%.200s\": parameter %s has no =value",
				   shown, what);
			goto fail;
		}
		if (*slot) {
			pf_err_set(err, PF_EINVAL, "-clickhouse.dsn \"%.200s\": parameter %s given twice",
				   shown, what);
			goto fail;
		}
		*slot = url_decode(eq + 1, (size_t)(amp - eq - 1));
		if (!*slot) {
			pf_err_set(err, PF_EINVAL,
				   "-clickhouse.dsn \"%.200s\": parameter %s has a bad %%-escape", shown,
				   what);
			goto fail;
		}
		q = *amp ? amp + 1 : amp;
	}
	if (!d->database) {
		pf_err_set(err, PF_EINVAL,
			   "-clickhouse.dsn \"%.200s\": missing database= parameter (e.g. "
			   "?database=profefe)",
			   shown);
		goto fail;
	}
	if (!valid_db_name(d->database)) {
		pf_err_set(err, PF_EINVAL,
			   "-clickhouse.dsn \"%.200s\": database \"%.64s\" is not a name "
			   "([A-Za-z_][A-Za-z0-9_]*, at most 64 bytes)",
			   shown, d->database);
		goto fail;
	}
	if (d->password && !d->user) {
		pf_err_set(err, PF_EINVAL, "-clickhouse.dsn \"%.200s\": password= without user=", shown);
		goto fail;
	}
	return 0;
fail:
	ch_dsn_free(d);
	return PF_EINVAL;
}

/* dsn with the value of its password= parameter and a user info before the
 * host as <secret>, as an error may quote it (a start-up line goes to logs) */
static void dsn_redact(const char *dsn, struct pf_buf *b)
{
	const char *p = dsn, *at = strstr(dsn, "://");
	if (at) {
		const char *h = at + 3, *hend = h + strcspn(h, "/?#"), *u = memchr(h, '@', (size_t)(hend - h));
		if (u) {
			pf_buf_printf(b, "%.*s<secret>", (int)(h - dsn), dsn);
			p = u;
		}
	}
	while (*p) {
		size_t n = strcspn(p, "?&");
		pf_buf_printf(b, "%.*s", (int)(n + (p[n] != 0)), p);
		p += n + (p[n] != 0);
		if (p[-1] == '?' || p[-1] == '&') {
			if (!strncmp(p, "password=", 9)) {
				pf_buf_printf(b, "password=<secret>");
				p += 9 + strcspn(p + 9, "&#");
			}
		}
	}
	pf_buf_putc(b, 0);
}

int ch_dsn_parse(const char *dsn, struct ch_dsn *d, struct pf_err *err)
{
	struct pf_buf shown = PF_BUF_INIT(0);
	int rc;

	if (dsn)
		dsn_redact(dsn, &shown);
	rc = dsn_parse(dsn, dsn ? (const char *)shown.data : "", d, err);
	pf_buf_free(&shown);
	return rc;
}

/* ---- client ------------------------------------------------------------- */

static void global_init(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
}

static char *dupornull(const char *s)
{
	return s ? pf_xstrdup(s) : NULL;
}

struct ch_client *ch_client_new(const struct ch_dsn *d, int64_t timeout_ns)
{
	struct ch_client *c = pf_xcalloc(1, sizeof(*c));
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, global_init);
	c->dsn.base = dupornull(d->base);
	c->dsn.database = dupornull(d->database);
	c->dsn.user = dupornull(d->user);
	c->dsn.password = dupornull(d->password);
	c->timeout_ms = timeout_ns > 0 ? (long)(timeout_ns / 1000000) : 30000;
	if (c->timeout_ms < 1)
		c->timeout_ms = 1;
	pthread_mutex_init(&c->mu, NULL);
	return c;
}

void ch_client_free(struct ch_client *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->npool; i++)
		curl_easy_cleanup(c->pool[i]);
	pthread_mutex_destroy(&c->mu);
	ch_dsn_free(&c->dsn);
	free(c);
}

const char *ch_client_database(const struct ch_client *c)
{
	return c->dsn.database;
}

struct sink {
	struct pf_buf *out;
	struct pf_buf err; /* the body of a failed reply */
	long status;
	int failed; /* out's cap was reached */
	int rc;
};

static size_t on_data(char *p, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;

	/* keep the first 4 KiB in err (for a failed reply's message) */
	if (s->err.len < 4096)
		pf_buf_append(&s->err, p, PF_MIN(n, 4096 - s->err.len));
	if (s->out) {
		int rc = pf_buf_append(s->out, p, n);
		if (rc < 0) {
			s->failed = 1;
			s->rc = rc;
			return 0;
		}
	}
	return n;
}

static int url_escape(struct pf_buf *b, const char *s, size_t n)
{
	static const char hx[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int rc;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~')
			rc = pf_buf_putc(b, c);
		else
			rc = pf_buf_printf(b, "%%%c%c", hx[c >> 4], hx[c & 15]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ClickHouse error codes worth a retry: the server is busy or slow, not
 * the statement wrong. */
static int retryable_code(long code)
{
	switch (code) {
	case 159: /* TIMEOUT_EXCEEDED */
	case 160: /* TOO_SLOW */
	case 202: /* TOO_MANY_SIMULTANEOUS_QUERIES */
	case 203: /* NO_FREE_CONNECTION */
	case 209: /* SOCKET_TIMEOUT */
	case 210: /* NETWORK_ERROR */
	case 241: /* MEMORY_LIMIT_EXCEEDED */
	case 242: /* TABLE_IS_READ_ONLY */
	case 252: /* TOO_MANY_PARTS */
	case 319: /* UNKNOWN_STATUS_OF_INSERT */
		return 1;
	}
	return 0;
}

/* The first words of a statement, for messages. */
static void stmt_head(const char *sql, char *out, size_t n)
{
	size_t j = 0;
	for (; *sql && j + 1 < n; sql++) {
		char c = (*sql == '\n' || *sql == '\t') ? ' ' : *sql;
		if (c == ' ' && j > 0 && out[j - 1] == ' ')
			continue;
		out[j++] = c;
	}
	if (*sql && n > 4)
		memcpy(out + n - 4, "...", 4), j = n - 1;
	out[j] = 0;
}

/* PF_ECANCELED: "clickhouse URL: canceled WHEN \"SELECT ...\"". */
static int canceled(const struct ch_client *c, const char *sql, const char *when,
		    struct pf_err *err)
{
	char head[80];
	stmt_head(sql, head, sizeof(head));
	return pf_err_set(err, PF_ECANCELED, "clickhouse %s: canceled %s \"%s\"", c->dsn.base, when,
			  head);
}

int ch_query(struct ch_client *c, int use_db, const char *sql, const void *data, size_t len,
	     struct pf_buf *out, struct pf_err *err)
{
	return ch_query_bounded(c, use_db, sql, data, len, out, NULL, err);
}

int ch_query_until(struct ch_client *c, int use_db, const char *sql, const void *data, size_t len,
		   struct pf_buf *out, int64_t deadline_ns, struct pf_err *err)
{
	struct ch_bound b = {.deadline_ns = deadline_ns};
	return ch_query_bounded(c, use_db, sql, data, len, out, &b, err);
}

/* CURLOPT_XFERINFOFUNCTION: nonzero (the transfer is aborted with
 * CURLE_ABORTED_BY_CALLBACK) once the caller gave up */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	const struct ch_bound *b = arg;
	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return b->cancelled(b->cancel_arg) != 0;
}

int ch_query_bounded(struct ch_client *c, int use_db, const char *sql, const void *data, size_t len,
		     struct pf_buf *out, const struct ch_bound *b, struct pf_err *err)
{
	int64_t deadline_ns = b ? b->deadline_ns : 0;
	int cancellable = b && b->cancelled;
	struct pf_buf url = PF_BUF_INIT(0);
	struct sink sk = {.out = out};
	struct curl_slist *hdr = NULL;
	CURL *h = NULL;
	CURLcode cc;
	char ebuf[CURL_ERROR_SIZE] = "";
	size_t out_len0 = out ? out->len : 0;
	long timeout_ms = c->timeout_ms;
	int64_t left_ns = 0;
	int rc = 0;

	if (deadline_ns) {
		left_ns = deadline_ns - pf_mono_ns();
		if (left_ns <= 0)
			return pf_err_set(err, PF_ETIMEDOUT, "clickhouse %s: deadline passed before the query was sent",
					  c->dsn.base);
		timeout_ms = PF_MIN(timeout_ms, (long)(left_ns / 1000000) + 1);
	}
	/* after the deadline, as tsdb asks them */
	if (cancellable && b->cancelled(b->cancel_arg))
		return canceled(c, sql, "before sending", err);
	pf_buf_init(&sk.err, 8192);
	pthread_mutex_lock(&c->mu);
	if (c->npool)
		h = c->pool[--c->npool];
	pthread_mutex_unlock(&c->mu);
	if (!h) {
		h = curl_easy_init();
		if (!h)
			abort();
	} else {
		curl_easy_reset(h);
	}
	/* IN lists of symbol ids can be long (heap-large-001: 45 742 locations) */
	pf_buf_printf(&url, "%s?max_query_size=268435456&max_ast_elements=10000000&"
		      "max_expanded_ast_elements=10000000&", c->dsn.base);
	/* the server stops the query too (whole seconds, at least 1; curl's
	 * timeout below is the exact one) */
	if (deadline_ns)
		pf_buf_printf(&url, "max_execution_time=%lld&",
			      (long long)((left_ns + 999999999) / 1000000000));
	if (use_db) {
		pf_buf_printf(&url, "database=");
		url_escape(&url, c->dsn.database, strlen(c->dsn.database));
		pf_buf_putc(&url, '&');
	}
	if (c->dsn.user) {
		pf_buf_printf(&url, "user=");
		url_escape(&url, c->dsn.user, strlen(c->dsn.user));
		pf_buf_putc(&url, '&');
	}
	if (c->dsn.password) {
		pf_buf_printf(&url, "password=");
		url_escape(&url, c->dsn.password, strlen(c->dsn.password));
		pf_buf_putc(&url, '&');
	}
	if (data) {
		pf_buf_printf(&url, "query=");
		url_escape(&url, sql, strlen(sql));
	}
	if (pf_buf_putc(&url, 0) < 0)
		abort();
	curl_easy_setopt(h, CURLOPT_URL, (char *)url.data);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	if (data) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, len ? data : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	} else {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, sql);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(sql));
	}
	hdr = curl_slist_append(hdr, "Content-Type: application/octet-stream");
	hdr = curl_slist_append(hdr, "Expect:");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &sk);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, PF_MIN(timeout_ms, 10000L));
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "gzip");
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (cancellable) {
		/* asked about once a second while ClickHouse is silent, more
		 * often while bytes move */
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)b);
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	}

	cc = curl_easy_perform(h);
	if (sk.failed) {
		rc = pf_err_set(err, sk.rc, "clickhouse %s: reply larger than %zu bytes", c->dsn.base,
				out->max);
		goto done;
	}
	if (cc == CURLE_ABORTED_BY_CALLBACK && cancellable) {
		rc = canceled(c, sql, "while ClickHouse ran", err);
		goto done;
	}
	if (cc != CURLE_OK) {
		/* cut at the deadline (curl's clock may fire a little before
		 * ours): the caller's timeout, not a server to retry */
		rc = (cc == CURLE_OPERATION_TIMEDOUT && deadline_ns &&
		      (timeout_ms < c->timeout_ms || pf_mono_ns() >= deadline_ns))
			     ? PF_ETIMEDOUT : PF_EIO;
		pf_err_set(err, rc, "clickhouse %s: %s", c->dsn.base, ebuf[0] ? ebuf : curl_easy_strerror(cc));
		goto done;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &sk.status);
	if (sk.status != 200) {
		char head[80];
		const char *m = (const char *)sk.err.data;
		size_t mlen = sk.err.len, nl;
		long code = 0;
		if (!m)
			m = "", mlen = 0;
		{
			/* the body is not NUL-terminated */
			const char *e = mlen ? memchr(m, '\n', mlen) : NULL;
			nl = e ? (size_t)(e - m) : mlen;
		}
		mlen = PF_MIN(mlen, nl);
		while (mlen && (m[mlen - 1] == '\r' || m[mlen - 1] == ' '))
			mlen--;
		if (mlen > 6 && !strncmp(m, "Code: ", 6)) {
			for (size_t i = 6; i < mlen && m[i] >= '0' && m[i] <= '9' && code < 100000; i++)
				code = code * 10 + (m[i] - '0');
		}
		stmt_head(sql, head, sizeof(head));
		rc = (sk.status == 503 || retryable_code(code)) ? PF_EBUSY : PF_EINVAL;
		if (code == 159 && deadline_ns) /* TIMEOUT_EXCEEDED: our max_execution_time */
			rc = PF_ETIMEDOUT;
		pf_err_set(err, rc, "clickhouse %s: HTTP %ld to \"%s\": %.*s", c->dsn.base,
			   sk.status, head, (int)PF_MIN(mlen, 380), mlen ? m : "(no message)");
	}
done:
	if (rc < 0 && out)
		out->len = out_len0;
	curl_slist_free_all(hdr);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	pthread_mutex_lock(&c->mu);
	if (c->npool < CH_POOL) {
		c->pool[c->npool++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&c->mu);
	if (h)
		curl_easy_cleanup(h);
	pf_buf_free(&url);
	pf_buf_free(&sk.err);
	return rc;
}

int ch_sql_quote(struct pf_buf *b, const char *s, size_t n)
{
	int rc = pf_buf_putc(b, '\'');
	for (size_t i = 0; i < n && rc == 0; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\\' || c == '\'')
			rc = pf_buf_putc(b, '\\') < 0 ? PF_ENOMEM : pf_buf_putc(b, c);
		else if (c < 0x20 || c == 0x7f)
			rc = pf_buf_printf(b, "\\x%02X", c);
		else
			rc = pf_buf_putc(b, c);
	}
	return rc < 0 ? rc : pf_buf_putc(b, '\'');
}

/* ---- RowBinary ---------------------------------------------------------- */

int ch_rb_u8(struct pf_buf *b, uint8_t v)
{
	return pf_buf_putc(b, v);
}

int ch_rb_u16(struct pf_buf *b, uint16_t v)
{
	uint8_t p[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
	return pf_buf_append(b, p, 2);
}

int ch_rb_u32(struct pf_buf *b, uint32_t v)
{
	return pf_buf_put_le32(b, v);
}

int ch_rb_u64(struct pf_buf *b, uint64_t v)
{
	return pf_buf_put_le64(b, v);
}

int ch_rb_i64(struct pf_buf *b, int64_t v)
{
	return pf_buf_put_le64(b, (uint64_t)v);
}

int ch_rb_len(struct pf_buf *b, uint64_t n)
{
	return pf_buf_put_uvarint(b, n);
}

int ch_rb_str(struct pf_buf *b, const void *p, size_t n)
{
	return pf_buf_put_bytes(b, p, n);
}

int ch_rb_cstr(struct pf_buf *b, const char *s)
{
	return pf_buf_put_bytes(b, s ? s : "", s ? strlen(s) : 0);
}

int ch_rb_date(struct pf_buf *b, uint16_t days)
{
	return ch_rb_u16(b, days);
}

uint8_t ch_rb_read_u8(struct pf_reader *r)
{
	return pf_read_u8(r);
}

uint16_t ch_rb_read_u16(struct pf_reader *r)
{
	const uint8_t *p = pf_read_raw(r, 2);
	return p ? (uint16_t)(p[0] | p[1] << 8) : 0;
}

uint32_t ch_rb_read_u32(struct pf_reader *r)
{
	return pf_read_le32(r);
}

uint64_t ch_rb_read_u64(struct pf_reader *r)
{
	return pf_read_le64(r);
}

int64_t ch_rb_read_i64(struct pf_reader *r)
{
	return (int64_t)pf_read_le64(r);
}

size_t ch_rb_read_len(struct pf_reader *r, size_t min_elem)
{
	uint64_t n = pf_read_uvarint(r);
	if (r->bad)
		return 0;
	if (min_elem == 0)
		min_elem = 1;
	if (n > pf_reader_left(r) / min_elem) {
		r->bad = 1;
		return 0;
	}
	return (size_t)n;
}

const uint8_t *ch_rb_read_str(struct pf_reader *r, size_t *n)
{
	uint64_t l = pf_read_uvarint(r);
	if (r->bad || l > pf_reader_left(r)) {
		r->bad = 1;
		*n = 0;
		return NULL;
	}
	*n = (size_t)l;
	return pf_read_raw(r, (size_t)l);
}

char *ch_rb_read_strdup(struct pf_reader *r, struct pf_arena *a)
{
	size_t n;
	const uint8_t *p = ch_rb_read_str(r, &n);
	if (r->bad)
		return NULL;
	if (n && memchr(p, 0, n)) {
		r->bad = 1;
		return NULL;
	}
	return pf_arena_strndup(a, n ? (const char *)p : "", n);
}

/* ---- TSV ---------------------------------------------------------------- */

int ch_tsv_field(const char **pp, const char *end, struct pf_buf *out, int *last)
{
	const char *p = *pp;
	pf_buf_reset(out);
	*last = 0;
	while (p < end && *p != '\t' && *p != '\n') {
		char c = *p++;
		if (c == '\\') {
			if (p >= end)
				return PF_EINVAL;
			c = *p++;
			switch (c) {
			case 't': c = '\t'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case '0': c = 0; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'x': {
				int h, l;
				if (end - p < 2)
					return PF_EINVAL;
				h = pf_hexval(p[0]);
				l = pf_hexval(p[1]);
				if (h < 0 || l < 0)
					return PF_EINVAL;
				c = (char)(h << 4 | l);
				p += 2;
				break;
			}
			default: break; /* \\ \' and any other char: itself */
			}
		}
		if (pf_buf_putc(out, (uint8_t)c) < 0)
			return PF_ETOOBIG;
	}
	if (p >= end || *p == '\n')
		*last = 1;
	if (p < end)
		p++;
	*pp = p;
	if (pf_buf_putc(out, 0) < 0)
		return PF_ETOOBIG;
	out->len--;
	return 0;
}

int64_t ch_day_of(int64_t t_ns)
{
	const int64_t day = (int64_t)86400 * 1000000000;
	int64_t d = t_ns / day;
	if (t_ns % day < 0)
		d--;
	return d;
}
