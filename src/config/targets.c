/*
 * Names, labels and targets: validation of label sets and "host:port"
 * targets, target groups ({targets, labels}), and the resolution of a job's
 * groups into (target, type) pairs with their URL and series labels.
 */
#include "config/config-internal.h"

#include <ctype.h>
#include <stdlib.h>

/* ---- targets ---------------------------------------------------------- */

static const char *check_port(const char *p)
{
	long v = 0;
	if (!*p)
		return "has an empty port";
	for (const char *q = p; *q; q++) {
		if (!isdigit((unsigned char)*q))
			return "has a port that is not a number";
		v = v * 10 + (*q - '0');
		if (v > 65535)
			return "has a port above 65535";
	}
	if (v == 0)
		return "has port 0";
	return NULL;
}

const char *config__check_target(const char *s)
{
	const char *colon;

	if (!*s)
		return "is empty";
	if (strlen(s) > 270)
		return "is too long for a host:port";
	if (strstr(s, "://"))
		return "must be host:port without a scheme (set the job's scheme: https instead)";
	if (strchr(s, '/'))
		return "must be host:port without a path (use profiling_config.path_prefix)";
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || strchr("?#@\"'\\<>{}|^`,;=", *p) || (unsigned char)*p >= 0x7f)
			return "has a character a host name cannot have";
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close == s + 1)
			return "has an IPv6 address without its closing ]";
		for (const char *p = s + 1; p < close; p++)
			if (!(isxdigit((unsigned char)*p) || *p == ':' || *p == '.' || *p == '%' || isalnum((unsigned char)*p)))
				return "has a malformed IPv6 address";
		if (!strchr(s + 1, ':') || strchr(s + 1, ':') > close)
			return "has a malformed IPv6 address";
		if (close[1] == 0)
			return NULL;
		if (close[1] != ':')
			return "must be [ipv6]:port";
		return check_port(close + 2);
	}
	colon = strchr(s, ':');
	if (colon && strchr(colon + 1, ':'))
		return "has several colons: write an IPv6 address in brackets, [::1]:6060";
	if (colon == s)
		return "has no host";
	for (const char *p = s; *p && p != colon; p++)
		if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '.' || *p == '_'))
			return "has a character a host name cannot have";
	return colon ? check_port(colon + 1) : NULL;
}

static int has_port(const char *s)
{
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		return close && close[1] == ':';
	}
	return strchr(s, ':') != NULL;
}

const char *config__target_address(struct pf_arena *a, const char *s, const char *scheme)
{
	char buf[600];
	int n;
	if (has_port(s))
		return pf_arena_strndup(a, s, strlen(s));
	n = snprintf(buf, sizeof(buf), "%s:%s", s, strcmp(scheme, "https") == 0 ? "443" : "80");
	if (n < 0 || (size_t)n >= sizeof(buf))
		n = 0;
	return pf_arena_strndup(a, buf, (size_t)n);
}

/* ---- labels ----------------------------------------------------------- */

static int label_cmp(const void *x, const void *y)
{
	const struct config_label *a = x, *b = y;
	return strcmp(a->name, b->name);
}

int config__parse_labels(struct config__yw *w, const yaml_node_t *n, const char *what,
			 const char *const *reserved, const char *why_reserved,
			 struct config_labels *out)
{
	struct config_label *v;
	yaml_node_pair_t *pair;
	size_t cnt = 0, np;
	int rc;

	out->v = NULL;
	out->n = 0;
	if ((rc = config__want_map(w, n, what)) <= 0)
		return rc;
	np = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	v = pf_arena_alloc(w->a, (np ? np : 1) * sizeof(*v));
	for (pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = config__node(w, pair->key), *val = config__node(w, pair->value);
		const char *name = NULL, *value = "";

		if (k->type != YAML_SCALAR_NODE || config__is_null(k))
			return config__fail(w, k, "%s: a label name must be a string, not %s", what, config__kind(k));
		if ((rc = config__get_str(w, k, what, &name)) < 0)
			return rc;
		if (!pf_label_name_ok(name, strlen(name)))
			return config__fail(w, k, "%s: label name \"%s\" is not valid (want [a-zA-Z_][a-zA-Z0-9_]*)",
					    what, name);
		if (pf_label_name_reserved(name))
			return config__fail(w, k, "%s: label name \"%s\" is reserved (names starting with __)",
					    what, name);
		for (size_t i = 0; reserved && reserved[i]; i++)
			if (strcmp(reserved[i], name) == 0)
				return config__fail(w, k, "%s: label \"%s\" %s", what, name, why_reserved);
		for (size_t i = 0; i < cnt; i++)
			if (strcmp(v[i].name, name) == 0)
				return config__fail(w, k, "%s: label \"%s\" is repeated", what, name);
		if (val->type != YAML_SCALAR_NODE)
			return config__fail(w, val, "%s: the value of label \"%s\" must be a string, not %s", what,
					    name, config__kind(val));
		if ((rc = config__get_str(w, val, what, &value)) < 0)
			return rc;
		if (!pf_utf8_valid(value, strlen(value)))
			return config__fail(w, val, "%s: the value of label \"%s\" is not valid UTF-8", what, name);
		if (strlen(value) > CONFIG_MAX_LABEL_VALUE)
			return config__fail(w, val, "%s: the value of label \"%s\" is longer than %d bytes", what,
					    name, CONFIG_MAX_LABEL_VALUE);
		if (!*value) {
			/* an empty value is no label, as in Prometheus; keep the name for the repeat check */
			v[cnt].name = name;
			v[cnt].value = NULL;
			cnt++;
			continue;
		}
		v[cnt].name = name;
		v[cnt].value = value;
		cnt++;
	}
	{
		size_t k = 0;
		for (size_t i = 0; i < cnt; i++)
			if (v[i].value)
				v[k++] = v[i];
		cnt = k;
	}
	if (cnt > CONFIG_MAX_LABELS)
		return config__fail(w, n, "%s: %zu labels, more than %d", what, cnt, CONFIG_MAX_LABELS);
	qsort(v, cnt, sizeof(*v), label_cmp);
	out->v = v;
	out->n = cnt;
	return 0;
}

/* ---- groups ----------------------------------------------------------- */

static const char *const group_reserved[] = {"job", "type", NULL};

int config__parse_groups(struct config__yw *w, const yaml_node_t *n, const char *what,
			 struct config_group **out, size_t *nout)
{
	struct config_group *g;
	yaml_node_item_t *it;
	size_t ng, i = 0;
	int rc;

	*out = NULL;
	*nout = 0;
	if ((rc = config__want_seq(w, n, what)) <= 0)
		return rc;
	ng = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	g = pf_arena_alloc(w->a, (ng ? ng : 1) * sizeof(*g));
	for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++, i++) {
		yaml_node_t *gn = config__node(w, *it), *tn;
		struct config__key keys[] = {{"targets"}, {"labels"}};
		const char **targets, **sources;
		size_t nt, k = 0;

		if ((rc = config__collect(w, gn, what, keys, PF_ARRAY_LEN(keys), NULL)) < 0)
			return rc;
		g[i].source = config__where(w, gn);
		if ((rc = config__parse_labels(w, keys[1].val, "labels", group_reserved,
					       "is set by profefe (job from job_name, type per profile type)",
					       &g[i].labels)) < 0)
			return rc;
		tn = keys[0].val;
		if ((rc = config__want_seq(w, tn, "targets")) < 0)
			return rc;
		if (rc == 0)
			continue;
		nt = (size_t)(tn->data.sequence.items.top - tn->data.sequence.items.start);
		targets = pf_arena_alloc(w->a, (nt ? nt : 1) * sizeof(*targets));
		sources = pf_arena_alloc(w->a, (nt ? nt : 1) * sizeof(*sources));
		for (yaml_node_item_t *ti = tn->data.sequence.items.start; ti < tn->data.sequence.items.top; ti++) {
			yaml_node_t *t = config__node(w, *ti);
			const char *s = NULL, *why;
			if (t->type != YAML_SCALAR_NODE || config__is_null(t))
				return config__fail(w, t, "a target must be a string \"host:port\", not %s",
						    config__kind(t));
			if ((rc = config__get_str(w, t, "target", &s)) < 0)
				return rc;
			if ((why = config__check_target(s)))
				return config__fail(w, t, "target \"%s\" %s", s, why);
			targets[k] = s;
			sources[k] = config__where(w, t);
			k++;
		}
		g[i].targets = targets;
		g[i].target_sources = sources;
		g[i].ntargets = k;
	}
	*out = g;
	*nout = ng;
	return 0;
}

/* ---- resolution -------------------------------------------------------- */

struct lab {
	const char *name, *value;
	int prio;
};

static int lab_cmp(const void *x, const void *y)
{
	const struct lab *a = x, *b = y;
	int c = strcmp(a->name, b->name);
	return c ? c : b->prio - a->prio;
}

/* Go's url.QueryEscape. */
static void query_escape(struct pf_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
			pf_buf_putc(b, c);
		else if (c == ' ')
			pf_buf_putc(b, '+');
		else {
			pf_buf_putc(b, '%');
			pf_buf_putc(b, (uint8_t)hex[c >> 4]);
			pf_buf_putc(b, (uint8_t)hex[c & 15]);
		}
	}
}

static const char *build_url(struct pf_arena *a, const struct config_job *job,
			     const struct config_profile *p, const char *address)
{
	struct pf_buf b = PF_BUF_INIT(0);
	const struct config_http *h = &job->http;
	int first = 1, seconds_done = !p->has_seconds;
	char secs[24];
	const char *url;

	snprintf(secs, sizeof(secs), "%lld", (long long)p->seconds);
	pf_buf_printf(&b, "%s://%s%s%s", h->scheme, address, h->path_prefix, p->path);
	/* url.Values.Encode: names sorted, seconds among them */
	for (size_t i = 0; i <= h->nparams; i++) {
		if (!seconds_done && (i == h->nparams || strcmp("seconds", h->params[i].name) < 0)) {
			pf_buf_putc(&b, first ? '?' : '&');
			pf_buf_printf(&b, "seconds=%s", secs);
			first = 0;
			seconds_done = 1;
		}
		if (i == h->nparams)
			break;
		pf_buf_putc(&b, first ? '?' : '&');
		query_escape(&b, h->params[i].name);
		pf_buf_putc(&b, '=');
		query_escape(&b, h->params[i].value);
		first = 0;
	}
	url = pf_arena_strndup(a, (const char *)b.data, b.len);
	pf_buf_free(&b);
	return url;
}

static uint64_t target_hash(const char *url, const struct config_labels *l)
{
	uint64_t h = pf_hash64(url, strlen(url), 0x70726f66);
	for (size_t i = 0; i < l->n; i++) {
		h = pf_hash64(l->v[i].name, strlen(l->v[i].name) + 1, h);
		h = pf_hash64(l->v[i].value, strlen(l->v[i].value) + 1, h);
	}
	return h;
}

int config__resolve(struct pf_arena *a, const struct config *c, const struct config_job *job,
		    const struct config_group *const *groups, const size_t *ngroups, size_t nsets,
		    struct config_target **out, size_t *nout, struct pf_err *err)
{
	struct config_target *t = NULL;
	size_t n = 0, cap = 0;
	struct pf_map *seen = pf_map_new(0);
	struct pf_buf key = PF_BUF_INIT(0);
	struct lab *labs = NULL;
	int rc = 0;

	for (size_t s = 0; s < nsets; s++) {
		for (size_t gi = 0; gi < ngroups[s]; gi++) {
			const struct config_group *g = &groups[s][gi];
			size_t nl_max = c->external.n + g->labels.n + 4;

			labs = pf_xrealloc(labs, nl_max * sizeof(*labs));
			for (size_t ti = 0; ti < g->ntargets; ti++) {
				const char *addr = config__target_address(a, g->targets[ti], job->http.scheme);
				uint64_t dummy = 0;

				/* the same target with the same labels is listed once */
				pf_buf_reset(&key);
				pf_buf_printf(&key, "%s", addr);
				for (size_t k = 0; k < g->labels.n; k++)
					pf_buf_printf(&key, "%c%s=%s", 0, g->labels.v[k].name, g->labels.v[k].value);
				if (pf_map_get_or_put(seen, key.data, key.len, &dummy))
					continue;
				for (size_t pi = 0; pi < job->nprofiles; pi++) {
					const struct config_profile *p = &job->profiles[pi];
					struct config_label *lv;
					size_t nl = 0, k = 0;

					if (!p->enabled)
						continue;
					for (size_t e = 0; e < c->external.n; e++)
						labs[nl++] = (struct lab){c->external.v[e].name, c->external.v[e].value, 0};
					labs[nl++] = (struct lab){"instance", addr, 0};
					labs[nl++] = (struct lab){"service", job->name, 0};
					for (size_t e = 0; e < g->labels.n; e++)
						labs[nl++] = (struct lab){g->labels.v[e].name, g->labels.v[e].value, 1};
					labs[nl++] = (struct lab){"job", job->name, 2};
					labs[nl++] = (struct lab){"type", p->type, 2};
					qsort(labs, nl, sizeof(*labs), lab_cmp);
					lv = pf_arena_alloc(a, nl * sizeof(*lv));
					for (size_t e = 0; e < nl; e++)
						if (k == 0 || strcmp(lv[k - 1].name, labs[e].name) != 0)
							lv[k++] = (struct config_label){labs[e].name, labs[e].value};
					if (k > CONFIG_MAX_LABELS) {
						rc = pf_err_set(err, PF_EINVAL,
								"%s: target \"%s\" of job \"%s\" would have %zu labels, more than %d",
								g->source, g->targets[ti], job->name, k, CONFIG_MAX_LABELS);
						goto fail;
					}
					if (n == cap)
						pf_xgrow((void **)&t, &cap, n + 1, sizeof(*t));
					t[n] = (struct config_target){
						.job = job, .profile = p, .type = p->type, .address = addr,
						.labels = {lv, k}, .interval_ns = job->interval_ns,
						.timeout_ns = p->timeout_ns, .seconds = p->has_seconds ? p->seconds : 0,
					};
					t[n].url = build_url(a, job, p, addr);
					t[n].hash = target_hash(t[n].url, &t[n].labels);
					n++;
				}
			}
		}
	}
	{
		struct config_target *res = pf_arena_alloc(a, (n ? n : 1) * sizeof(*res));
		if (n)
			memcpy(res, t, n * sizeof(*res));
		*out = res;
		*nout = n;
	}
fail:
	free(t);
	free(labs);
	pf_buf_free(&key);
	pf_map_free(seen);
	return rc;
}

/* ---- public: resolve and compare ---------------------------------------- */

struct config_targets {
	struct pf_arena *a;
	struct config_target *v;
	size_t n;
};

/* config_sd_groups is defined in sd.c; it exposes its groups through the
 * public accessors only. */
int config_targets_resolve(const struct config *c, const struct config_job *job,
			   const struct config_sd_groups *const *sd, size_t nsd,
			   struct config_targets **out, struct pf_err *err)
{
	struct config_targets *t = pf_xcalloc(1, sizeof(*t));
	const struct config_group **sets = pf_xcalloc(nsd + 1, sizeof(*sets));
	size_t *counts = pf_xcalloc(nsd + 1, sizeof(*counts));
	struct config_group **copies = pf_xcalloc(nsd + 1, sizeof(*copies));
	int rc;

	t->a = pf_arena_new();
	sets[0] = job->static_groups;
	counts[0] = job->nstatic;
	for (size_t i = 0; i < nsd; i++) {
		size_t ng = config_sd_groups_count(sd[i]);
		copies[i] = pf_xcalloc(ng ? ng : 1, sizeof(**copies));
		for (size_t k = 0; k < ng; k++)
			copies[i][k] = *config_sd_groups_at(sd[i], k);
		sets[i + 1] = copies[i];
		counts[i + 1] = ng;
	}
	rc = config__resolve(t->a, c, job, sets, counts, nsd + 1, &t->v, &t->n, err);
	for (size_t i = 0; i < nsd; i++)
		free(copies[i]);
	free(copies);
	free(sets);
	free(counts);
	if (rc < 0) {
		config_targets_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

size_t config_targets_count(const struct config_targets *t)
{
	return t->n;
}

const struct config_target *config_targets_at(const struct config_targets *t, size_t i)
{
	return i < t->n ? &t->v[i] : NULL;
}

void config_targets_free(struct config_targets *t)
{
	if (!t)
		return;
	pf_arena_free(t->a);
	free(t);
}

static int str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

int config_http_equal(const struct config_http *a, const struct config_http *b)
{
	if (!str_eq(a->scheme, b->scheme) || a->basic_auth != b->basic_auth ||
	    !str_eq(a->basic_auth_username, b->basic_auth_username) ||
	    !str_eq(a->basic_auth_password, b->basic_auth_password) ||
	    !str_eq(a->basic_auth_password_file, b->basic_auth_password_file) ||
	    !str_eq(a->bearer_token, b->bearer_token) || !str_eq(a->bearer_token_file, b->bearer_token_file) ||
	    !str_eq(a->tls.ca_file, b->tls.ca_file) || !str_eq(a->tls.cert_file, b->tls.cert_file) ||
	    !str_eq(a->tls.key_file, b->tls.key_file) || !str_eq(a->tls.server_name, b->tls.server_name) ||
	    a->tls.insecure_skip_verify != b->tls.insecure_skip_verify || !str_eq(a->proxy_url, b->proxy_url) ||
	    a->follow_redirects != b->follow_redirects || !str_eq(a->path_prefix, b->path_prefix) ||
	    a->nparams != b->nparams)
		return 0;
	for (size_t i = 0; i < a->nparams; i++)
		if (!str_eq(a->params[i].name, b->params[i].name) || !str_eq(a->params[i].value, b->params[i].value))
			return 0;
	return 1;
}

int config_target_equal(const struct config_target *a, const struct config_target *b)
{
	if (!str_eq(a->url, b->url) || a->interval_ns != b->interval_ns || a->timeout_ns != b->timeout_ns ||
	    a->seconds != b->seconds || a->labels.n != b->labels.n || !str_eq(a->job->name, b->job->name))
		return 0;
	for (size_t i = 0; i < a->labels.n; i++)
		if (!str_eq(a->labels.v[i].name, b->labels.v[i].name) ||
		    !str_eq(a->labels.v[i].value, b->labels.v[i].value))
			return 0;
	return config_http_equal(&a->job->http, &b->job->http);
}
