/*
 * Loading the scrape configuration: the document walk with every default
 * and rule of SPEC §4 and §10.7, into a snapshot that lives in one arena.
 */
#include "config/config-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define SEC 1000000000LL

struct ld {
	struct config__yw w;
	struct config *c;
	const char *dir;
	const yaml_node_t *global_timeout_node;
	char **warnings; /* malloc'd, moved into the arena at the end */
	size_t nwarnings, capwarnings;
};

static void warn_at(struct ld *l, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void warn_at(struct ld *l, const yaml_node_t *n, const char *fmt, ...)
{
	char msg[512], full[640];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "%s:%zu:%zu: %s", l->w.file, n->start_mark.line + 1,
		 n->start_mark.column + 1, msg);
	pf_xgrow((void **)&l->warnings, &l->capwarnings, l->nwarnings + 1, sizeof(char *));
	l->warnings[l->nwarnings++] = pf_xstrdup(full);
}

static const char *fmt_dur(int64_t ns, char *buf, size_t n)
{
	config_format_duration(ns, buf, n);
	return buf;
}

/* "FILE:L:C" -> "L:C" for "first at" notes. */
static const char *short_pos(struct ld *l, const char *src)
{
	size_t fl = strlen(l->w.file);
	return strncmp(src, l->w.file, fl) == 0 && src[fl] == ':' ? src + fl + 1 : src;
}

static const char *resolve_path(struct ld *l, const char *p)
{
	char *buf;
	size_t n;
	if (p[0] == '/' || !l->dir || !*l->dir || strcmp(l->dir, ".") == 0)
		return p;
	n = strlen(l->dir) + strlen(p) + 2;
	buf = pf_arena_alloc(l->w.a, n);
	snprintf(buf, n, "%s/%s", l->dir, p);
	return buf;
}

/* A file named by the configuration: non-empty, resolved, readable now. */
static int get_file(struct ld *l, const yaml_node_t *n, const char *what, const char **out)
{
	const char *s = NULL, *path;
	int rc;

	if ((rc = config__get_str(&l->w, n, what, &s)) < 0 || !s)
		return rc;
	if (!*s)
		return config__fail(&l->w, n, "%s is empty", what);
	path = resolve_path(l, s);
	if (access(path, R_OK) < 0)
		return config__fail(&l->w, n, "%s \"%s\" cannot be read: %s", what, path, strerror(errno));
	*out = path;
	return 0;
}

/* ---- unsupported keys, with the reason ---- */

static const char *top_unsupported(const char *k)
{
	if (!strcmp(k, "rule_files") || !strcmp(k, "alerting") || !strcmp(k, "remote_write") ||
	    !strcmp(k, "remote_read") || !strcmp(k, "storage") || !strcmp(k, "tracing"))
		return "this Prometheus setting has no meaning for profefe; remove it";
	if (!strcmp(k, "object_storage"))
		return "object_storage is Parca's setting: profefe keeps profiles in its own store (-tsdb.dir)";
	return NULL;
}

static const char *global_unsupported(const char *k)
{
	if (!strcmp(k, "evaluation_interval") || !strcmp(k, "query_log_file") ||
	    !strcmp(k, "scrape_protocols") || !strcmp(k, "rule_query_offset"))
		return "this Prometheus setting has no meaning for profefe; remove it";
	return NULL;
}

static const char *job_unsupported(const char *k)
{
	size_t n = strlen(k);
	if (n > 11 && strcmp(k + n - 11, "_sd_configs") == 0 && strcmp(k, "file_sd_configs") != 0)
		return "this service discovery is not supported: list targets in static_configs or in file_sd_configs files";
	if (!strcmp(k, "relabel_configs") || !strcmp(k, "metric_relabel_configs"))
		return "relabeling is not supported: set target labels in static_configs or in file_sd_configs files";
	if (!strcmp(k, "authorization") || !strcmp(k, "oauth2"))
		return "this authorization is not supported: use basic_auth, bearer_token or bearer_token_file";
	if (!strcmp(k, "metrics_path"))
		return "metrics_path does not apply to profiles: set profiling_config.path_prefix or a type's path";
	return NULL;
}

/* ---- global ---- */

static const char *const external_reserved[] = {"service", "job", "instance", "type", NULL};

static int parse_global(struct ld *l, const yaml_node_t *n)
{
	struct config__key keys[] = {{"scrape_interval"}, {"scrape_timeout"}, {"external_labels"}};
	int rc;

	l->c->global_interval = 60 * SEC;
	if (!n || config__is_null(n))
		return 0;
	if ((rc = config__collect(&l->w, n, "global", keys, PF_ARRAY_LEN(keys), global_unsupported)) < 0)
		return rc;
	if ((rc = config__get_duration(&l->w, keys[0].val, "scrape_interval", &l->c->global_interval)) < 0 ||
	    (rc = config__get_duration(&l->w, keys[1].val, "scrape_timeout", &l->c->global_timeout)) < 0)
		return rc;
	if (l->c->global_timeout)
		l->global_timeout_node = keys[1].val;
	return config__parse_labels(&l->w, keys[2].val, "external_labels", external_reserved,
				    "is set per target", &l->c->external);
}

/* ---- per job: HTTP settings ---- */

static int param_cmp(const void *x, const void *y)
{
	const struct config_param *a = x, *b = y;
	int c = strcmp(a->name, b->name);
	/* stable: values keep their order (pointers into one array, in order) */
	return c ? c : (a < b ? -1 : a > b);
}

static int parse_params(struct ld *l, const yaml_node_t *n, struct config_http *h)
{
	struct config_param *v = NULL;
	size_t cnt = 0, cap = 0;
	int rc;

	if ((rc = config__want_map(&l->w, n, "params")) <= 0)
		return rc;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = config__node(&l->w, p->key), *val = config__node(&l->w, p->value);
		const char *name = NULL;

		if (k->type != YAML_SCALAR_NODE || config__is_null(k))
			return config__fail(&l->w, k, "params: a parameter name must be a string, not %s",
					    config__kind(k));
		if ((rc = config__get_str(&l->w, k, "params", &name)) < 0)
			return rc;
		if (!*name)
			return config__fail(&l->w, k, "params: a parameter name is empty");
		if (strcmp(name, "seconds") == 0)
			return config__fail(&l->w, k, "params: seconds is set per profile type "
					    "(profiling_config.pprof_config.<type>.seconds)");
		for (size_t i = 0; i < cnt; i++)
			if (strcmp(v[i].name, name) == 0)
				return config__fail(&l->w, k, "params: parameter \"%s\" is repeated", name);
		if (val->type != YAML_SEQUENCE_NODE)
			return config__fail(&l->w, val, "params: the value of \"%s\" must be a list of strings "
					    "like [\"0\"], not %s", name, config__kind(val));
		for (yaml_node_item_t *it = val->data.sequence.items.start; it < val->data.sequence.items.top; it++) {
			yaml_node_t *e = config__node(&l->w, *it);
			const char *s = NULL;
			if (e->type != YAML_SCALAR_NODE || config__is_null(e))
				return config__fail(&l->w, e, "params: a value of \"%s\" must be a string, not %s",
						    name, config__kind(e));
			if ((rc = config__get_str(&l->w, e, "params", &s)) < 0)
				goto fail;
			pf_xgrow((void **)&v, &cap, cnt + 1, sizeof(*v));
			v[cnt++] = (struct config_param){name, s};
		}
	}
	if (cnt) {
		struct config_param *dst = pf_arena_alloc(l->w.a, cnt * sizeof(*dst));
		qsort(v, cnt, sizeof(*v), param_cmp);
		memcpy(dst, v, cnt * sizeof(*dst));
		h->params = dst;
		h->nparams = cnt;
	}
	rc = 0;
fail:
	free(v);
	return rc;
}

static int parse_http(struct ld *l, struct config__key *jk, struct config_http *h)
{
	/* indexes into the job's keys: see parse_job */
	const yaml_node_t *scheme = jk[3].val, *params = jk[4].val, *basic = jk[5].val,
			  *bearer = jk[6].val, *bearer_file = jk[7].val, *tls = jk[8].val,
			  *proxy = jk[9].val, *follow = jk[10].val;
	int rc;

	h->scheme = "http";
	h->follow_redirects = 1;
	h->path_prefix = "";
	if ((rc = config__get_str(&l->w, scheme, "scheme", &h->scheme)) < 0)
		return rc;
	if (strcmp(h->scheme, "http") != 0 && strcmp(h->scheme, "https") != 0)
		return config__fail(&l->w, scheme, "scheme \"%s\" is not supported (want http or https)", h->scheme);
	if ((rc = parse_params(l, params, h)) < 0)
		return rc;
	if ((rc = config__want_map(&l->w, basic, "basic_auth")) < 0)
		return rc;
	if (rc) {
		struct config__key k[] = {{"username"}, {"password"}, {"password_file"}};
		if ((rc = config__collect(&l->w, basic, "basic_auth", k, PF_ARRAY_LEN(k), NULL)) < 0)
			return rc;
		h->basic_auth = 1;
		h->basic_auth_username = "";
		if ((rc = config__get_str(&l->w, k[0].val, "basic_auth.username", &h->basic_auth_username)) < 0 ||
		    (rc = config__get_str(&l->w, k[1].val, "basic_auth.password", &h->basic_auth_password)) < 0)
			return rc;
		if (h->basic_auth_password && k[2].val && !config__is_null(k[2].val))
			return config__fail(&l->w, k[2].key, "basic_auth: set password or password_file, not both");
		if ((rc = get_file(l, k[2].val, "basic_auth.password_file", &h->basic_auth_password_file)) < 0)
			return rc;
	}
	if ((rc = config__get_str(&l->w, bearer, "bearer_token", &h->bearer_token)) < 0)
		return rc;
	if (h->bearer_token && bearer_file && !config__is_null(bearer_file))
		return config__fail(&l->w, jk[7].key, "set bearer_token or bearer_token_file, not both");
	if ((rc = get_file(l, bearer_file, "bearer_token_file", &h->bearer_token_file)) < 0)
		return rc;
	if (h->basic_auth && (h->bearer_token || h->bearer_token_file))
		return config__fail(&l->w, h->bearer_token ? jk[6].key : jk[7].key,
				    "set basic_auth or a bearer token, not both");
	if ((rc = config__want_map(&l->w, tls, "tls_config")) < 0)
		return rc;
	if (rc) {
		struct config__key k[] = {{"ca_file"}, {"cert_file"}, {"key_file"}, {"server_name"},
					  {"insecure_skip_verify"}};
		if ((rc = config__collect(&l->w, tls, "tls_config", k, PF_ARRAY_LEN(k), NULL)) < 0 ||
		    (rc = get_file(l, k[0].val, "tls_config.ca_file", &h->tls.ca_file)) < 0 ||
		    (rc = get_file(l, k[1].val, "tls_config.cert_file", &h->tls.cert_file)) < 0 ||
		    (rc = get_file(l, k[2].val, "tls_config.key_file", &h->tls.key_file)) < 0 ||
		    (rc = config__get_str(&l->w, k[3].val, "tls_config.server_name", &h->tls.server_name)) < 0 ||
		    (rc = config__get_bool(&l->w, k[4].val, "tls_config.insecure_skip_verify",
					   &h->tls.insecure_skip_verify)) < 0)
			return rc;
		if (!h->tls.cert_file != !h->tls.key_file)
			return config__fail(&l->w, h->tls.cert_file ? k[1].key : k[2].key,
					    "tls_config: cert_file and key_file go together; set both");
	}
	if ((rc = config__get_str(&l->w, proxy, "proxy_url", &h->proxy_url)) < 0)
		return rc;
	if (h->proxy_url) {
		const char *p = h->proxy_url, *rest = NULL;
		if (!strncmp(p, "http://", 7))
			rest = p + 7;
		else if (!strncmp(p, "https://", 8))
			rest = p + 8;
		else if (!strncmp(p, "socks5://", 9))
			rest = p + 9;
		else if (!strncmp(p, "socks5h://", 10))
			rest = p + 10;
		if (!rest)
			return config__fail(&l->w, proxy, "proxy_url \"%s\" must start with http://, https:// or socks5://", p);
		if (!*rest || *rest == '/' || *rest == ':' || strchr(rest, ' '))
			return config__fail(&l->w, proxy, "proxy_url \"%s\" has no host", p);
	}
	return config__get_bool(&l->w, follow, "follow_redirects", &h->follow_redirects);
}

/* ---- per job: profile types ---- */

static const struct builtin {
	const char *type, *path;
	int enabled, has_seconds;
	int64_t seconds;
} builtins[] = {
	{"allocs", "/debug/pprof/allocs", 1, 0, 0},
	{"block", "/debug/pprof/block", 1, 0, 0},
	{"cpu", "/debug/pprof/profile", 1, 1, 10},
	{"goroutine", "/debug/pprof/goroutine", 1, 0, 0},
	{"heap", "/debug/pprof/heap", 1, 0, 0},
	{"mutex", "/debug/pprof/mutex", 1, 0, 0},
	{"threadcreate", "/debug/pprof/threadcreate", 1, 0, 0},
	{"trace", "/debug/pprof/trace", 0, 1, 1},
};

static int profile_cmp(const void *x, const void *y)
{
	const struct config_profile *a = x, *b = y;
	return strcmp(a->type, b->type);
}

struct prof_src {
	const yaml_node_t *key, *seconds;
};

static int parse_path(struct ld *l, const yaml_node_t *n, const char *what, const char **out)
{
	const char *s = NULL;
	int rc;
	if ((rc = config__get_str(&l->w, n, what, &s)) < 0 || !s)
		return rc;
	if (!*s) /* conprof: an empty path takes the default */
		return 0;
	if (s[0] != '/')
		return config__fail(&l->w, n, "%s \"%s\" must start with /", what, s);
	if (strpbrk(s, "?# \t"))
		return config__fail(&l->w, n, "%s \"%s\" must be a plain path (no query, fragment or space; "
				    "use the job's params)", what, s);
	*out = s;
	return 0;
}

static int parse_profiles(struct ld *l, const yaml_node_t *n, struct config_job *job,
			  const yaml_node_t *timeout_node)
{
	size_t np = 0, cap = PF_ARRAY_LEN(builtins);
	struct config_profile *p;
	struct prof_src *src;
	int rc = 0;

	if (n && !config__is_null(n) && n->type == YAML_MAPPING_NODE)
		cap += (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	p = pf_arena_alloc(l->w.a, cap * sizeof(*p));
	src = pf_xcalloc(cap, sizeof(*src));
	for (size_t i = 0; i < PF_ARRAY_LEN(builtins); i++, np++) {
		p[np].type = p[np].key = builtins[i].type;
		p[np].path = builtins[i].path;
		p[np].enabled = builtins[i].enabled;
		p[np].has_seconds = builtins[i].has_seconds;
		p[np].seconds = builtins[i].seconds;
	}
	if ((rc = config__want_map(&l->w, n, "pprof_config")) < 0)
		goto out;
	for (yaml_node_pair_t *pr = rc ? n->data.mapping.pairs.start : NULL; pr && pr < n->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = config__node(&l->w, pr->key), *v = config__node(&l->w, pr->value);
		struct config__key keys[] = {{"enabled"}, {"path"}, {"seconds"}, {"delta"}};
		const char *key = NULL, *type;
		struct config_profile *q = NULL;
		size_t qi;
		int builtin;

		if (k->type != YAML_SCALAR_NODE || config__is_null(k)) {
			rc = config__fail(&l->w, k, "pprof_config: a profile type must be a string, not %s", config__kind(k));
			goto out;
		}
		if ((rc = config__get_str(&l->w, k, "pprof_config", &key)) < 0)
			goto out;
		type = strcmp(key, "profile") == 0 ? "cpu" : key;
		if (!pf_type_ok(type)) {
			rc = config__fail(&l->w, k, "pprof_config: profile type \"%s\" is not valid (want [a-z0-9_.-]+)", key);
			goto out;
		}
		for (qi = 0; qi < np; qi++)
			if (strcmp(p[qi].type, type) == 0)
				break;
		if (qi < np && src[qi].key) {
			if (strcmp(p[qi].key, key) == 0)
				rc = config__fail(&l->w, k, "pprof_config: type \"%s\" is repeated (first at line %zu)",
						  key, src[qi].key->start_mark.line + 1);
			else
				rc = config__fail(&l->w, k, "pprof_config: \"%s\" and \"%s\" (line %zu) both configure the cpu type",
						  key, p[qi].key, src[qi].key->start_mark.line + 1);
			goto out;
		}
		builtin = qi < np;
		if (!builtin) {
			qi = np++;
			p[qi].type = type;
			p[qi].has_seconds = 1;
			p[qi].seconds = 10;
		}
		q = &p[qi];
		q->key = key;
		q->listed = 1;
		q->enabled = 1;
		src[qi].key = k;
		if (v && !config__is_null(v)) {
			char what[160];
			int64_t secs = 0;
			snprintf(what, sizeof(what), "pprof_config.%s", key);
			if ((rc = config__collect(&l->w, v, what, keys, PF_ARRAY_LEN(keys), NULL)) < 0 ||
			    (rc = config__get_bool(&l->w, keys[0].val, "enabled", &q->enabled)) < 0 ||
			    (rc = parse_path(l, keys[1].val, "path", &q->path)) < 0 ||
			    (rc = config__get_int(&l->w, keys[2].val, "seconds", 1, 86400, &secs)) < 0 ||
			    (rc = config__get_bool(&l->w, keys[3].val, "delta", &q->delta)) < 0)
				goto out;
			if (q->delta)
				q->has_seconds = 1;
			if (secs) {
				if (!q->has_seconds) {
					rc = config__fail(&l->w, keys[2].val, "%s: seconds applies to cpu, trace, custom and "
							  "delta types (set delta: true for a delta %s profile)", what, type);
					goto out;
				}
				q->seconds = secs;
				q->seconds_set = 1;
				src[qi].seconds = keys[2].val;
			} else if (q->has_seconds && !q->seconds) {
				q->seconds = 10; /* delta types */
			}
		}
		if (!builtin && q->enabled && !q->path) {
			rc = config__fail(&l->w, k, "pprof_config: custom profile type \"%s\" needs a path", key);
			goto out;
		}
	}
	/* timeouts (SPEC §10.7) */
	for (size_t i = 0; i < np; i++) {
		struct config_profile *q = &p[i];
		int64_t secs_ns = q->has_seconds ? q->seconds * SEC : 0;
		char b1[32], b2[32];

		if (!job->timeout_set) {
			q->timeout_ns = PF_MAX(job->interval_ns, secs_ns + 5 * SEC);
			continue;
		}
		q->timeout_ns = job->timeout_ns;
		if (!q->has_seconds || job->timeout_ns > secs_ns || !q->enabled)
			continue;
		if (q->seconds_set) {
			rc = config__fail(&l->w, src[i].seconds,
					  "%s seconds %lld needs a longer scrape_timeout than %s (scrape_timeout %s at line %zu)",
					  q->key, (long long)q->seconds, fmt_dur(secs_ns, b1, sizeof(b1)),
					  fmt_dur(job->timeout_ns, b2, sizeof(b2)), timeout_node->start_mark.line + 1);
			goto out;
		}
		q->timeout_ns = secs_ns + 5 * SEC;
		warn_at(l, timeout_node, "job \"%s\": scrape_timeout %s is not longer than the default %s seconds (%lld), "
			"so %s scrapes use a %s timeout", job->name, fmt_dur(job->timeout_ns, b1, sizeof(b1)),
			q->type, (long long)q->seconds, q->type, fmt_dur(q->timeout_ns, b2, sizeof(b2)));
	}
	qsort(p, np, sizeof(*p), profile_cmp);
	job->profiles = p;
	job->nprofiles = np;
	rc = 0;
out:
	free(src);
	return rc;
}

static int parse_profiling(struct ld *l, const yaml_node_t *n, struct config_job *job,
			   const yaml_node_t *timeout_node)
{
	struct config__key keys[] = {{"pprof_config"}, {"path_prefix"}};
	int rc, is_map;

	if ((is_map = rc = config__want_map(&l->w, n, "profiling_config")) < 0)
		return rc;
	if (is_map) {
		const char *pre = NULL;
		if ((rc = config__collect(&l->w, n, "profiling_config", keys, PF_ARRAY_LEN(keys), NULL)) < 0 ||
		    (rc = config__get_str(&l->w, keys[1].val, "path_prefix", &pre)) < 0)
			return rc;
		if (pre && *pre) {
			size_t len = strlen(pre);
			if (pre[0] != '/')
				return config__fail(&l->w, keys[1].val, "path_prefix \"%s\" must start with /", pre);
			if (strpbrk(pre, "?# \t"))
				return config__fail(&l->w, keys[1].val, "path_prefix \"%s\" must be a plain path", pre);
			while (len > 0 && pre[len - 1] == '/')
				len--;
			job->http.path_prefix = pf_arena_strndup(l->w.a, pre, len);
		}
	}
	return parse_profiles(l, is_map ? keys[0].val : NULL, job, timeout_node);
}

/* ---- per job: targets ---- */

static int parse_file_sd(struct ld *l, const yaml_node_t *n, struct config_job *job)
{
	struct config_file_sd *sd;
	size_t i = 0, cnt;
	int rc;

	if ((rc = config__want_seq(&l->w, n, "file_sd_configs")) <= 0)
		return rc;
	cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	sd = pf_arena_alloc(l->w.a, (cnt ? cnt : 1) * sizeof(*sd));
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++, i++) {
		yaml_node_t *e = config__node(&l->w, *it);
		struct config__key keys[] = {{"files"}, {"refresh_interval"}};
		const char **files;
		size_t nf, k = 0;

		if ((rc = config__collect(&l->w, e, "file_sd_configs", keys, PF_ARRAY_LEN(keys), NULL)) < 0)
			return rc;
		sd[i].refresh_interval_ns = 300 * SEC;
		if ((rc = config__get_duration(&l->w, keys[1].val, "refresh_interval", &sd[i].refresh_interval_ns)) < 0)
			return rc;
		if ((rc = config__want_seq(&l->w, keys[0].val, "files")) < 0)
			return rc;
		if (rc == 0 || keys[0].val->data.sequence.items.top == keys[0].val->data.sequence.items.start)
			return config__fail(&l->w, keys[0].val ? keys[0].val : e,
					    "file_sd_configs: files must list at least one file");
		nf = (size_t)(keys[0].val->data.sequence.items.top - keys[0].val->data.sequence.items.start);
		files = pf_arena_alloc(l->w.a, nf * sizeof(*files));
		for (yaml_node_item_t *f = keys[0].val->data.sequence.items.start;
		     f < keys[0].val->data.sequence.items.top; f++) {
			yaml_node_t *fn = config__node(&l->w, *f);
			const char *s = NULL, *star, *slash;
			size_t len;
			if (fn->type != YAML_SCALAR_NODE || config__is_null(fn))
				return config__fail(&l->w, fn, "files: a file name must be a string, not %s", config__kind(fn));
			if ((rc = config__get_str(&l->w, fn, "files", &s)) < 0)
				return rc;
			len = strlen(s);
			if (!((len > 5 && !strcasecmp(s + len - 5, ".json")) || (len > 4 && !strcasecmp(s + len - 4, ".yml")) ||
			      (len > 5 && !strcasecmp(s + len - 5, ".yaml"))))
				return config__fail(&l->w, fn, "file_sd file \"%s\" must end in .json, .yml or .yaml", s);
			star = strchr(s, '*');
			slash = strrchr(s, '/');
			if (star && slash && star < slash)
				return config__fail(&l->w, fn, "file_sd file \"%s\": a * may only appear in the last "
						    "path element", s);
			files[k++] = resolve_path(l, s);
		}
		sd[i].files = files;
		sd[i].nfiles = k;
	}
	job->file_sd = sd;
	job->nfile_sd = cnt;
	return 0;
}

/* No target twice in a job (ports normalized: host and host:80 are one). */
static int check_duplicate_targets(struct ld *l, struct config_job *job)
{
	struct pf_map *seen = pf_map_new(0);
	const char **first = NULL;
	size_t nfirst = 0, capfirst = 0;
	int rc = 0;

	for (size_t g = 0; g < job->nstatic && rc == 0; g++) {
		const struct config_group *gr = &job->static_groups[g];
		for (size_t t = 0; t < gr->ntargets; t++) {
			const char *addr = config__target_address(l->w.a, gr->targets[t], job->http.scheme);
			uint64_t idx = nfirst;
			if (pf_map_get_or_put(seen, addr, strlen(addr), &idx)) {
				rc = pf_err_set(l->w.err, PF_EINVAL, "%s: target \"%s\" is repeated in job \"%s\" (first at %s)",
						gr->target_sources[t], gr->targets[t], job->name, short_pos(l, first[idx]));
				break;
			}
			pf_xgrow((void **)&first, &capfirst, nfirst + 1, sizeof(*first));
			first[nfirst++] = gr->target_sources[t];
		}
	}
	free(first);
	pf_map_free(seen);
	return rc;
}

/* ---- jobs ---- */

enum {
	JK_NAME, JK_INTERVAL, JK_TIMEOUT, JK_SCHEME, JK_PARAMS, JK_BASIC, JK_BEARER, JK_BEARER_FILE,
	JK_TLS, JK_PROXY, JK_FOLLOW, JK_STATIC, JK_FILE_SD, JK_PROFILING, JK_COUNT
};

static int parse_job(struct ld *l, const yaml_node_t *n, struct config_job *job,
		     const yaml_node_t **name_nodes, size_t index)
{
	struct config__key k[JK_COUNT] = {
		{"job_name"}, {"scrape_interval"}, {"scrape_timeout"}, {"scheme"}, {"params"}, {"basic_auth"},
		{"bearer_token"}, {"bearer_token_file"}, {"tls_config"}, {"proxy_url"}, {"follow_redirects"},
		{"static_configs"}, {"file_sd_configs"}, {"profiling_config"},
	};
	const yaml_node_t *timeout_node;
	const struct config_group *sets[1];
	size_t counts[1];
	struct config_target *targets;
	int rc;

	if ((rc = config__collect(&l->w, n, "a scrape config", k, JK_COUNT, job_unsupported)) < 0)
		return rc;
	if (!k[JK_NAME].val || config__is_null(k[JK_NAME].val))
		return config__fail(&l->w, k[JK_NAME].key ? k[JK_NAME].key : n, "a scrape config needs a job_name");
	if ((rc = config__get_str(&l->w, k[JK_NAME].val, "job_name", &job->name)) < 0)
		return rc;
	if (!*job->name)
		return config__fail(&l->w, k[JK_NAME].val, "job_name is empty");
	if (!pf_utf8_valid(job->name, strlen(job->name)) || strlen(job->name) > CONFIG_MAX_LABEL_VALUE)
		return config__fail(&l->w, k[JK_NAME].val, "job_name must be valid UTF-8 of at most %d bytes",
				    CONFIG_MAX_LABEL_VALUE);
	for (size_t i = 0; i < index; i++)
		if (strcmp(l->c->jobs[i].name, job->name) == 0)
			return config__fail(&l->w, k[JK_NAME].val, "job_name \"%s\" is already used (line %zu)",
					    job->name, name_nodes[i]->start_mark.line + 1);
	name_nodes[index] = k[JK_NAME].val;

	job->interval_ns = l->c->global_interval;
	if ((rc = config__get_duration(&l->w, k[JK_INTERVAL].val, "scrape_interval", &job->interval_ns)) < 0 ||
	    (rc = config__get_duration(&l->w, k[JK_TIMEOUT].val, "scrape_timeout", &job->timeout_ns)) < 0)
		return rc;
	timeout_node = k[JK_TIMEOUT].val;
	if (job->timeout_ns) {
		job->timeout_set = 1;
	} else if (l->c->global_timeout) {
		job->timeout_ns = l->c->global_timeout;
		job->timeout_set = 1;
		timeout_node = l->global_timeout_node;
	}
	if ((rc = parse_http(l, k, &job->http)) < 0 ||
	    (rc = parse_profiling(l, k[JK_PROFILING].val, job, timeout_node)) < 0)
		return rc;
	{
		struct config_group *g;
		if ((rc = config__parse_groups(&l->w, k[JK_STATIC].val, "static_configs", &g, &job->nstatic)) < 0)
			return rc;
		job->static_groups = g;
	}
	if ((rc = check_duplicate_targets(l, job)) < 0 || (rc = parse_file_sd(l, k[JK_FILE_SD].val, job)) < 0)
		return rc;
	sets[0] = job->static_groups;
	counts[0] = job->nstatic;
	if ((rc = config__resolve(l->w.a, l->c, job, sets, counts, 1, &targets, &job->ntargets, l->w.err)) < 0)
		return rc;
	job->targets = targets;
	return 0;
}

static int parse_root(struct ld *l, const yaml_node_t *root)
{
	struct config__key keys[] = {{"global"}, {"scrape_configs"}};
	const yaml_node_t **name_nodes = NULL;
	const yaml_node_t *jobs;
	size_t i = 0;
	int rc;

	if (root && !config__is_null(root) &&
	    (rc = config__collect(&l->w, root, "the configuration", keys, PF_ARRAY_LEN(keys), top_unsupported)) < 0)
		return rc;
	if ((rc = parse_global(l, keys[0].val)) < 0)
		return rc;
	jobs = keys[1].val;
	if ((rc = config__want_seq(&l->w, jobs, "scrape_configs")) <= 0)
		return rc;
	l->c->njobs = (size_t)(jobs->data.sequence.items.top - jobs->data.sequence.items.start);
	l->c->jobs = pf_arena_alloc(l->w.a, (l->c->njobs ? l->c->njobs : 1) * sizeof(*l->c->jobs));
	name_nodes = pf_xcalloc(l->c->njobs + 1, sizeof(*name_nodes));
	for (yaml_node_item_t *it = jobs->data.sequence.items.start; it < jobs->data.sequence.items.top; it++, i++)
		if ((rc = parse_job(l, config__node(&l->w, *it), &l->c->jobs[i], name_nodes, i)) < 0)
			break;
	free(name_nodes);
	return rc < 0 ? rc : 0;
}

/* ---- public ---- */

int config_load_buffer(const char *name, const char *dir, const void *data, size_t len,
		       struct config **out, struct pf_err *err)
{
	struct ld l = {0};
	yaml_document_t doc;
	struct config *c;
	int rc;

	if (len > CONFIG_MAX_FILE_BYTES)
		return pf_err_set(err, PF_ETOOBIG, "%s: larger than %zu bytes", name, CONFIG_MAX_FILE_BYTES);
	if ((rc = config__yaml_load(name, data, len, &doc, err)) < 0)
		return rc;
	c = pf_xcalloc(1, sizeof(*c));
	c->refs = 1;
	c->a = pf_arena_new();
	c->file = pf_arena_strndup(c->a, name, strlen(name));
	c->dir = dir ? pf_arena_strndup(c->a, dir, strlen(dir)) : ".";
	l.w = (struct config__yw){c->file, &doc, c->a, err};
	l.c = c;
	l.dir = c->dir;
	rc = parse_root(&l, yaml_document_get_root_node(&doc));
	yaml_document_delete(&doc);
	c->warnings = pf_arena_alloc(c->a, (l.nwarnings ? l.nwarnings : 1) * sizeof(char *));
	for (size_t i = 0; i < l.nwarnings; i++) {
		c->warnings[i] = pf_arena_strndup(c->a, l.warnings[i], strlen(l.warnings[i]));
		free(l.warnings[i]);
	}
	c->nwarnings = l.nwarnings;
	free(l.warnings);
	if (rc < 0) {
		config_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

int config__read_file(const char *path, struct pf_buf *b, struct pf_err *err)
{
	int rc;

	pf_buf_init(b, CONFIG_MAX_FILE_BYTES);
	if ((rc = pf_read_file(path, CONFIG_MAX_FILE_BYTES, b, err)) < 0) {
		if (rc == PF_ETOOBIG)
			pf_err_set(err, rc, "%s: larger than %zu bytes", path, CONFIG_MAX_FILE_BYTES);
		pf_buf_free(b);
	}
	return rc;
}

int config_load_file(const char *path, struct config **out, struct pf_err *err)
{
	struct pf_buf b;
	char *dir;
	const char *slash = strrchr(path, '/');
	int rc;

	if ((rc = config__read_file(path, &b, err)) < 0)
		return rc;
	dir = slash ? pf_xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : pf_xstrdup(".");
	rc = config_load_buffer(path, dir, b.data ? (const void *)b.data : "", b.len, out, err);
	free(dir);
	pf_buf_free(&b);
	return rc;
}

struct config *config_ref(struct config *c)
{
	__atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
	return c;
}

void config_free(struct config *c)
{
	if (!c || __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	pf_arena_free(c->a);
	free(c);
}

size_t config_warning_count(const struct config *c)
{
	return c->nwarnings;
}

const char *config_warning_at(const struct config *c, size_t i)
{
	return i < c->nwarnings ? c->warnings[i] : NULL;
}

const char *config_file(const struct config *c)
{
	return c->file;
}

int64_t config_global_interval(const struct config *c)
{
	return c->global_interval;
}

int64_t config_global_timeout(const struct config *c)
{
	return c->global_timeout;
}

const struct config_labels *config_external_labels(const struct config *c)
{
	return &c->external;
}

size_t config_job_count(const struct config *c)
{
	return c->njobs;
}

const struct config_job *config_job_at(const struct config *c, size_t i)
{
	return i < c->njobs ? &c->jobs[i] : NULL;
}

const struct config_job *config_job_find(const struct config *c, const char *name)
{
	for (size_t i = 0; i < c->njobs; i++)
		if (strcmp(c->jobs[i].name, name) == 0)
			return &c->jobs[i];
	return NULL;
}
