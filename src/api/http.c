/* HTTP helpers: query parsing with Go's rules, unescaping, path cleaning,
 * and the reply envelopes of profefe's API. */
#include "api/api-internal.h"

#include <stdio.h>
#include <stdlib.h>

ssize_t api_unescape(char *s, int plus_space, const char **bad)
{
	char *w = s;
	for (const char *p = s; *p; p++) {
		if (*p == '%') {
			int h = pf_hexval(p[1]), l = h < 0 ? -1 : pf_hexval(p[2]);
			if (h < 0 || l < 0) {
				if (bad)
					*bad = p;
				return -1;
			}
			*w++ = (char)(h * 16 + l);
			p += 2;
		} else if (*p == '+' && plus_space) {
			*w++ = ' ';
		} else {
			*w++ = *p;
		}
	}
	*w = 0;
	return w - s;
}

/* The first ';' or malformed %-escape in [q, end), or NULL: what makes Go's
 * ParseQuery drop the pair */
static const char *pair_flaw(const char *q, const char *end)
{
	for (const char *c = q; c < end; c++)
		if (*c == ';' || (*c == '%' && (pf_hexval(c[1]) < 0 || pf_hexval(c[2]) < 0)))
			return c;
	return NULL;
}

void api_parse_query(const char *q, struct api_param **out, size_t *n, struct api_query_flaw *flaw)
{
	struct api_param *v = NULL;
	size_t len = 0, cap = 0;

	if (flaw)
		flaw->pair = flaw->at = NULL;
	while (q && *q) {
		const char *amp = strchr(q, '&'), *end = amp ? amp : q + strlen(q), *eq, *bad;
		char *key, *val;
		ssize_t klen, vlen;

		eq = memchr(q, '=', (size_t)(end - q));
		/* Go 1.17+ also refuses ';' in a query: such pairs are dropped,
		 * as are those with a bad escape */
		if ((bad = pair_flaw(q, end)) != NULL) {
			if (flaw && !flaw->at) {
				flaw->pair = q;
				flaw->at = bad;
			}
		} else if (end > q) {
			key = pf_xstrndup(q, (size_t)((eq ? eq : end) - q));
			val = eq ? pf_xstrndup(eq + 1, (size_t)(end - eq - 1)) : pf_xstrdup("");
			klen = api_unescape(key, 1, NULL);
			vlen = api_unescape(val, 1, NULL);
			if (klen <= 0 || vlen < 0) {
				free(key);
				free(val);
			} else {
				pf_xgrow((void **)&v, &cap, len + 1, sizeof(*v));
				v[len].key = key;
				v[len].value = val;
				v[len].key_len = (size_t)klen;
				v[len].value_len = (size_t)vlen;
				len++;
			}
		}
		q = amp ? amp + 1 : end;
	}
	*out = v;
	*n = len;
}

const struct api_param *api_param_nul(const struct api_req *r, int *in_name)
{
	for (size_t i = 0; i < r->nparams; i++) {
		const struct api_param *p = &r->params[i];
		if (strlen(p->key) != p->key_len || strlen(p->value) != p->value_len) {
			*in_name = strlen(p->key) != p->key_len;
			return p;
		}
	}
	return NULL;
}

const char *api_echo_n(struct api_echo *e, const char *s, size_t n)
{
	size_t w = 0, i = 0;

	if (!s)
		n = 0;
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		size_t in = 1, out = 1;

		if (c == 0) {
			out = 3; /* shown as sent: %00 */
		} else if (c >= 0xc0) {
			/* a lead byte goes with its continuation bytes: a cut
			 * never splits a character */
			size_t want = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 1;
			while (in < want && i + in < n && ((unsigned char)s[i + in] & 0xc0) == 0x80)
				in++;
			out = in;
		}
		if (w + out > API_ECHO_MAX)
			break;
		if (c == 0)
			memcpy(e->s + w, "%00", 3);
		else
			memcpy(e->s + w, s + i, in);
		w += out;
		i += in;
	}
	if (i < n) {
		memcpy(e->s + w, "\xe2\x80\xa6", 3); /* … */
		w += 3;
	}
	e->s[w] = 0;
	return e->s;
}

const char *api_echo(struct api_echo *e, const char *s)
{
	return api_echo_n(e, s, s ? strlen(s) : 0);
}

void api_params_free(struct api_param *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(p[i].key);
		free(p[i].value);
	}
	free(p);
}

const char *api_param(const struct api_req *r, const char *key)
{
	for (size_t i = 0; i < r->nparams; i++)
		if (strcmp(r->params[i].key, key) == 0)
			return r->params[i].value;
	return NULL;
}

/* Go's path.Clean, for absolute paths. */
char *api_path_clean(const char *p)
{
	size_t n = strlen(p);
	char *out = pf_xmalloc(n + 2);
	size_t w = 0;
	const char *s = p;

	out[w++] = '/';
	while (*s) {
		const char *e;
		size_t seg;
		while (*s == '/')
			s++;
		if (!*s)
			break;
		e = strchr(s, '/');
		seg = e ? (size_t)(e - s) : strlen(s);
		if (seg == 1 && s[0] == '.') {
			/* skip */
		} else if (seg == 2 && s[0] == '.' && s[1] == '.') {
			if (w > 1) {
				w--;
				while (w > 1 && out[w - 1] != '/')
					w--;
				if (w > 1)
					w--;
			}
		} else {
			if (w > 1)
				out[w++] = '/';
			memcpy(out + w, s, seg);
			w += seg;
		}
		s += seg;
	}
	out[w] = 0;
	return out;
}

static void reply_set(struct api_reply *rep, int status, const char *ctype, const char *s,
		      size_t n)
{
	rep->status = status;
	rep->content_type = ctype;
	pf_buf_reset(&rep->body);
	if (pf_buf_append(&rep->body, s, n) < 0)
		rep->status = 500;
}

void api_reply_json_body(struct api_reply *rep, int status, const char *json_body)
{
	pf_buf_reset(&rep->body);
	rep->status = status;
	rep->content_type = "application/json";
	if (pf_buf_printf(&rep->body, "{\"code\":%d,\"body\":%s}\n", status, json_body) < 0)
		rep->status = 500;
}

int api_utf8_valid(const char *s)
{
	return pf_utf8_valid(s, strlen(s));
}

json_t *api_json_string(const char *s)
{
	struct pf_buf b = PF_BUF_INIT(0);
	json_t *j = json_string(s ? s : "");

	if (j)
		return j;
	pf_utf8_fix(&b, s, strlen(s));
	j = json_stringn(b.data ? (const char *)b.data : "", b.len);
	pf_buf_free(&b);
	return j ? j : json_string("\xef\xbf\xbd");
}

const char *api_status_text(int status)
{
	switch (status) {
	case 400: return "bad request";
	case 401: return "unauthorized";
	case 404: return "nothing found";
	case 405: return "method not allowed";
	case 413: return "request entity too large";
	case 500: return "internal server error";
	case 503: return "service unavailable";
	case 507: return "insufficient storage";
	}
	return status >= 500 ? "internal server error" : "bad request";
}

json_t *api_json_message(int status, const char *msg)
{
	if (!msg || !*msg) {
		/* a bug: every error says what was wrong */
		char code[8];
		snprintf(code, sizeof(code), "%d", status);
		pf_log(PF_LOG_WARN, "an error reply had no message; the status text stands in",
		       "code", code, NULL);
		msg = api_status_text(status);
	}
	return api_json_string(msg);
}

void api_reply_error(struct api_reply *rep, int status, const char *fmt, ...)
{
	char *msg = NULL, *js;
	json_t *s;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	s = api_json_message(status, msg);
	free(msg);
	js = json_dumps(s, JSON_ENCODE_ANY);
	json_decref(s);
	pf_buf_reset(&rep->body);
	rep->status = status;
	rep->content_type = "application/json";
	free(rep->filename);
	rep->filename = NULL;
	if (!js || pf_buf_printf(&rep->body, "{\"code\":%d,\"error\":%s}\n", status, js) < 0) {
		pf_buf_reset(&rep->body);
		if (pf_buf_printf(&rep->body, "{\"code\":%d,\"error\":\"%s\"}\n", status,
				  api_status_text(status)) < 0)
			rep->status = 500;
	}
	free(js);
}

void api_reply_text(struct api_reply *rep, int status, const char *text)
{
	reply_set(rep, status, "text/plain; charset=utf-8", text, strlen(text));
}

void api_reply_binary(struct api_reply *rep, const char *filename, struct pf_buf *data)
{
	pf_buf_free(&rep->body);
	rep->body = *data;
	pf_buf_init(data, 0);
	rep->status = 200;
	rep->content_type = "application/octet-stream";
	free(rep->filename);
	rep->filename = pf_xstrdup(filename);
}
