/* The web UI (SPEC §7): the files of src/web, embedded at build time by
 * tools/webgen into build/gen/web_assets.c, served with their content type,
 * an ETag (304 on If-None-Match), gzip when the client accepts it, and
 * index.html for every page's path. */
#include "api/api-internal.h"

#include <stdlib.h>
#include <strings.h>

/* The pages' paths: each is index.html, whose app.js routes by path. */
static const char *const pages[] = {"/", "/profile", "/changed", "/targets", "/services"};

const struct api_web_asset *api_web_find(const char *path)
{
	size_t lo = 0, hi = api_web_assets_n;

	for (size_t i = 0; i < PF_ARRAY_LEN(pages); i++)
		if (strcmp(path, pages[i]) == 0) {
			path = "/index.html";
			break;
		}
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(path, api_web_assets[mid].path);
		if (c == 0)
			return &api_web_assets[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

int api_web_public(const char *method, const char *path)
{
	return (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) &&
	       api_web_find(path) != NULL;
}

/* The next comma-separated element of a header list: *p advances past it;
 * returns its start (spaces skipped) and its length in *n, or NULL at the
 * end. */
static const char *list_next(const char **p, size_t *n)
{
	const char *s = *p, *e;

	while (*s == ' ' || *s == '\t' || *s == ',')
		s++;
	if (!*s)
		return NULL;
	e = s + strcspn(s, ",");
	*p = e;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*n = (size_t)(e - s);
	return s;
}

/* Whether Accept-Encoding allows gzip (RFC 9110 §12.5.3): "gzip" or "*"
 * with a q-value other than 0, and gzip not refused by name. */
static int accepts_gzip(const char *h)
{
	const char *el;
	size_t n;
	int star = 0, named = -1;

	if (!h)
		return 0;
	while ((el = list_next(&h, &n)) != NULL) {
		size_t tok = 0;
		int zero = 0;
		const char *q;
		while (tok < n && el[tok] != ';' && el[tok] != ' ' && el[tok] != '\t')
			tok++;
		/* ";q=0", ";q=0.", ";q=0.000" */
		for (q = el + tok; q < el + n; q++)
			if ((q[0] == 'q' || q[0] == 'Q') && q + 1 < el + n && q[1] == '=') {
				const char *v = q + 2;
				zero = v < el + n && *v == '0';
				for (v++; zero && v < el + n && *v != ';'; v++)
					if (*v != '.' && *v != '0' && *v != ' ')
						zero = 0;
				break;
			}
		if (tok == 4 && strncasecmp(el, "gzip", 4) == 0)
			named = !zero;
		else if (tok == 1 && el[0] == '*')
			star = !zero;
	}
	return named >= 0 ? named : star;
}

/* Whether If-None-Match names one of the file's ETags (weak or strong, as
 * RFC 9110 §13.1.2's weak comparison), or is "*". */
static int etag_matches(const char *h, const struct api_web_asset *a)
{
	const char *el;
	size_t n;

	if (!h)
		return 0;
	while ((el = list_next(&h, &n)) != NULL) {
		if (n == 1 && el[0] == '*')
			return 1;
		if (n > 2 && el[0] == 'W' && el[1] == '/') {
			el += 2;
			n -= 2;
		}
		if ((n == strlen(a->etag) && memcmp(el, a->etag, n) == 0) ||
		    (n == strlen(a->etag_gz) && memcmp(el, a->etag_gz, n) == 0))
			return 1;
	}
	return 0;
}

int api_web_handle(struct api_server *s, struct api_req *r, struct api_reply *rep)
{
	const struct api_web_asset *a = api_web_find(r->path);
	int gz;
	(void)s;

	if (!a)
		return 0;
	r->route = API_ROUTE_WEB;
	if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
		api_reply_text(rep, 405, "405 method not allowed: the web UI's files are GET or HEAD\n");
		rep->allow = "GET, HEAD";
		return 1;
	}
	gz = a->gz && accepts_gzip(r->accept_encoding);
	rep->etag = gz ? a->etag_gz : a->etag;
	rep->cache_control = "no-cache";
	rep->vary_encoding = a->gz != NULL;
	if (etag_matches(r->if_none_match, a)) {
		rep->status = 304;
		return 1;
	}
	rep->status = 200;
	rep->content_type = a->type;
	rep->static_body = gz ? a->gz : a->data;
	rep->static_len = gz ? a->gzlen : a->len;
	rep->content_encoding = gz ? "gzip" : NULL;
	return 1;
}
