/* HTTP helpers: query parsing with Go's rules, unescaping, path cleaning,
 * and the reply envelopes of profefe's API. */
#include "api/api-internal.h"

#include <jansson.h>
#include <stdlib.h>

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int api_unescape(char *s, int plus_space, const char **bad)
{
	char *w = s;
	for (const char *p = s; *p; p++) {
		if (*p == '%') {
			int h = hexval(p[1]), l = h < 0 ? -1 : hexval(p[2]);
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
	return 0;
}

void api_parse_query(const char *q, struct api_param **out, size_t *n)
{
	struct api_param *v = NULL;
	size_t len = 0, cap = 0;

	while (q && *q) {
		const char *amp = strchr(q, '&'), *end = amp ? amp : q + strlen(q), *eq;
		char *key, *val;

		eq = memchr(q, '=', (size_t)(end - q));
		/* Go 1.17+ also refuses ';' in a query: such pairs are dropped */
		if (end > q && !memchr(q, ';', (size_t)(end - q))) {
			key = pf_xstrndup(q, (size_t)((eq ? eq : end) - q));
			val = eq ? pf_xstrndup(eq + 1, (size_t)(end - eq - 1)) : pf_xstrdup("");
			if (api_unescape(key, 1, NULL) < 0 || api_unescape(val, 1, NULL) < 0 || !*key) {
				free(key);
				free(val);
			} else {
				pf_xgrow((void **)&v, &cap, len + 1, sizeof(*v));
				v[len].key = key;
				v[len].value = val;
				len++;
			}
		}
		q = amp ? amp + 1 : end;
	}
	*out = v;
	*n = len;
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

void api_reply_error(struct api_reply *rep, int status, const char *fmt, ...)
{
	char msg[1024];
	char *js;
	json_t *s;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s = json_string(msg);
	if (!s) /* not UTF-8: escape what json_string refuses */
		s = json_stringn_nocheck(msg, strlen(msg));
	js = json_dumps(s, JSON_ENCODE_ANY);
	json_decref(s);
	pf_buf_reset(&rep->body);
	rep->status = status;
	rep->content_type = "application/json";
	free(rep->filename);
	rep->filename = NULL;
	if (pf_buf_printf(&rep->body, "{\"code\":%d,\"error\":%s}\n", status, js ? js : "\"\"") < 0)
		rep->status = 500;
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
