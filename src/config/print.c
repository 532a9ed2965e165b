/*
 * The loaded configuration as YAML, through libyaml's emitter: defaults
 * filled in, every profile type listed, secrets masked as Prometheus does.
 */
#include "config/config-internal.h"

#include <ctype.h>

struct em {
	yaml_emitter_t e;
	int failed;
};

static int write_out(void *data, unsigned char *buf, size_t size)
{
	return pf_buf_append(data, buf, size) == 0;
}

static void emit(struct em *m, yaml_event_t *ev, int ok)
{
	if (m->failed) {
		if (ok)
			yaml_event_delete(ev);
		return;
	}
	if (!ok || !yaml_emitter_emit(&m->e, ev))
		m->failed = 1;
}

/* A string that YAML would read as something else is quoted. */
static int needs_quotes(const char *s)
{
	static const char *const words[] = {"~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False",
					    "FALSE", "yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON",
					    "off", "Off", "OFF", "y", "Y", "n", "N"};
	if (!*s)
		return 1;
	for (size_t i = 0; i < PF_ARRAY_LEN(words); i++)
		if (strcmp(s, words[i]) == 0)
			return 1;
	if (isdigit((unsigned char)s[0]) || ((s[0] == '-' || s[0] == '+' || s[0] == '.') && isdigit((unsigned char)s[1])))
		return 1;
	return 0;
}

static void scalar(struct em *m, const char *s, yaml_scalar_style_t style)
{
	yaml_event_t ev;
	emit(m, &ev, yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1, style));
}

static void str(struct em *m, const char *s)
{
	scalar(m, s, needs_quotes(s) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
}

static void plain(struct em *m, const char *s)
{
	scalar(m, s, YAML_PLAIN_SCALAR_STYLE);
}

static void map_start(struct em *m, int flow)
{
	yaml_event_t ev;
	emit(m, &ev, yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
							 flow ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE));
}

static void map_end(struct em *m)
{
	yaml_event_t ev;
	emit(m, &ev, yaml_mapping_end_event_initialize(&ev));
}

static void seq_start(struct em *m, int flow)
{
	yaml_event_t ev;
	emit(m, &ev, yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
							  flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE));
}

static void seq_end(struct em *m)
{
	yaml_event_t ev;
	emit(m, &ev, yaml_sequence_end_event_initialize(&ev));
}

static void kv(struct em *m, const char *k, const char *v)
{
	plain(m, k);
	str(m, v);
}

static void kdur(struct em *m, const char *k, int64_t ns)
{
	char buf[64];
	config_format_duration(ns, buf, sizeof(buf));
	plain(m, k);
	plain(m, buf);
}

static void kbool(struct em *m, const char *k, int v)
{
	plain(m, k);
	plain(m, v ? "true" : "false");
}

static void labels(struct em *m, const char *k, const struct config_labels *l)
{
	plain(m, k);
	map_start(m, 1);
	for (size_t i = 0; i < l->n; i++)
		kv(m, l->v[i].name, l->v[i].value);
	map_end(m);
}

static void http(struct em *m, const struct config_http *h)
{
	kv(m, "scheme", h->scheme);
	if (h->nparams) {
		plain(m, "params");
		map_start(m, 1);
		for (size_t i = 0; i < h->nparams;) {
			size_t j = i;
			str(m, h->params[i].name);
			seq_start(m, 1);
			for (; j < h->nparams && strcmp(h->params[j].name, h->params[i].name) == 0; j++)
				str(m, h->params[j].value);
			seq_end(m);
			i = j;
		}
		map_end(m);
	}
	if (h->basic_auth) {
		plain(m, "basic_auth");
		map_start(m, 0);
		kv(m, "username", h->basic_auth_username);
		if (h->basic_auth_password)
			kv(m, "password", "<secret>");
		if (h->basic_auth_password_file)
			kv(m, "password_file", h->basic_auth_password_file);
		map_end(m);
	}
	if (h->bearer_token)
		kv(m, "bearer_token", "<secret>");
	if (h->bearer_token_file)
		kv(m, "bearer_token_file", h->bearer_token_file);
	if (h->tls.ca_file || h->tls.cert_file || h->tls.server_name || h->tls.insecure_skip_verify) {
		plain(m, "tls_config");
		map_start(m, 0);
		if (h->tls.ca_file)
			kv(m, "ca_file", h->tls.ca_file);
		if (h->tls.cert_file)
			kv(m, "cert_file", h->tls.cert_file);
		if (h->tls.key_file)
			kv(m, "key_file", h->tls.key_file);
		if (h->tls.server_name)
			kv(m, "server_name", h->tls.server_name);
		kbool(m, "insecure_skip_verify", h->tls.insecure_skip_verify);
		map_end(m);
	}
	if (h->proxy_url)
		kv(m, "proxy_url", h->proxy_url);
	kbool(m, "follow_redirects", h->follow_redirects);
}

static void job(struct em *m, const struct config_job *j)
{
	map_start(m, 0);
	kv(m, "job_name", j->name);
	kdur(m, "scrape_interval", j->interval_ns);
	if (j->timeout_set)
		kdur(m, "scrape_timeout", j->timeout_ns);
	http(m, &j->http);
	if (j->nstatic) {
		plain(m, "static_configs");
		seq_start(m, 0);
		for (size_t g = 0; g < j->nstatic; g++) {
			const struct config_group *gr = &j->static_groups[g];
			map_start(m, 0);
			plain(m, "targets");
			seq_start(m, 1);
			for (size_t t = 0; t < gr->ntargets; t++)
				str(m, gr->targets[t]);
			seq_end(m);
			if (gr->labels.n)
				labels(m, "labels", &gr->labels);
			map_end(m);
		}
		seq_end(m);
	}
	if (j->nfile_sd) {
		plain(m, "file_sd_configs");
		seq_start(m, 0);
		for (size_t s = 0; s < j->nfile_sd; s++) {
			map_start(m, 0);
			plain(m, "files");
			seq_start(m, 1);
			for (size_t f = 0; f < j->file_sd[s].nfiles; f++)
				str(m, j->file_sd[s].files[f]);
			seq_end(m);
			kdur(m, "refresh_interval", j->file_sd[s].refresh_interval_ns);
			map_end(m);
		}
		seq_end(m);
	}
	plain(m, "profiling_config");
	map_start(m, 0);
	if (*j->http.path_prefix)
		kv(m, "path_prefix", j->http.path_prefix);
	plain(m, "pprof_config");
	map_start(m, 0);
	for (size_t i = 0; i < j->nprofiles; i++) {
		const struct config_profile *p = &j->profiles[i];
		char secs[24];
		str(m, p->type);
		map_start(m, 1);
		kbool(m, "enabled", p->enabled);
		if (p->path)
			kv(m, "path", p->path);
		if (p->seconds_set) {
			snprintf(secs, sizeof(secs), "%lld", (long long)p->seconds);
			plain(m, "seconds");
			plain(m, secs);
		}
		if (p->delta)
			kbool(m, "delta", 1);
		map_end(m);
	}
	map_end(m);
	map_end(m);
	map_end(m);
}

int config_print_yaml(const struct config *c, struct pf_buf *out, struct pf_err *err)
{
	struct em m = {0};
	yaml_event_t ev;

	if (!yaml_emitter_initialize(&m.e))
		return pf_err_set(err, PF_ENOMEM, "out of memory printing the configuration");
	yaml_emitter_set_output(&m.e, write_out, out);
	yaml_emitter_set_unicode(&m.e, 1);
	yaml_emitter_set_width(&m.e, 1 << 20);
	yaml_emitter_set_indent(&m.e, 2);
	emit(&m, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING));
	emit(&m, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1));
	map_start(&m, 0);
	plain(&m, "global");
	map_start(&m, 0);
	kdur(&m, "scrape_interval", c->global_interval);
	if (c->global_timeout)
		kdur(&m, "scrape_timeout", c->global_timeout);
	if (c->external.n)
		labels(&m, "external_labels", &c->external);
	map_end(&m);
	plain(&m, "scrape_configs");
	seq_start(&m, 0);
	for (size_t i = 0; i < c->njobs; i++)
		job(&m, &c->jobs[i]);
	seq_end(&m);
	map_end(&m);
	emit(&m, &ev, yaml_document_end_event_initialize(&ev, 1));
	emit(&m, &ev, yaml_stream_end_event_initialize(&ev));
	if (!m.failed && !yaml_emitter_flush(&m.e))
		m.failed = 1;
	yaml_emitter_delete(&m.e);
	if (m.failed)
		return pf_err_set(err, PF_EINVAL, "printing the configuration as YAML failed");
	return 0;
}
