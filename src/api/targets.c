/*
 * The scraper's endpoints (SPEC §6, §10.8):
 *
 *   GET  /api/v1/targets[?state=active|dropped|any][&scrapePool=JOB]
 *        Prometheus's shape: {activeTargets: [{discoveredLabels, labels
 *        (type included), scrapePool, scrapeUrl, globalUrl, lastError,
 *        lastScrape, lastScrapeDuration, health, scrapeInterval,
 *        scrapeTimeout, nextScrape}], droppedTargets: []}, one entry per
 *        (target, type) pair, sorted by job, instance and type.
 *   GET  /api/v1/status/config     {yaml: "..."}: the running configuration
 *   POST /-/reload (PUT too)       re-read -config.file; 400 with
 *                                  FILE:LINE:COLUMN when it does not load
 */
#include "api/api-internal.h"
#include "scrape/scrape.h"

#include <jansson.h>
#include <stdlib.h>
#include <time.h>

/* Go's time.RFC3339Nano in UTC ("2026-11-23T11:25:53.123456789Z", trailing
 * zeros of the fraction dropped); the zero time for 0, as Prometheus. */
static void format_time(int64_t ns, char *out, size_t n)
{
	struct tm tm;
	time_t sec;
	int64_t frac;
	char f[16];
	int k;

	if (ns == 0) {
		snprintf(out, n, "0001-01-01T00:00:00Z");
		return;
	}
	sec = (time_t)(ns / 1000000000);
	frac = ns % 1000000000;
	if (frac < 0) {
		frac += 1000000000;
		sec--;
	}
	gmtime_r(&sec, &tm);
	f[0] = 0;
	if (frac) {
		snprintf(f, sizeof(f), ".%09lld", (long long)frac);
		for (k = (int)strlen(f) - 1; k > 0 && f[k] == '0'; k--)
			f[k] = 0;
	}
	snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d%sZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, f);
}

static void v1_reply(struct api_reply *rep, int status, json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	pf_buf_reset(&rep->body);
	rep->content_type = "application/json";
	rep->status = status;
	if (!s || pf_buf_printf(&rep->body, "%s\n", s) < 0) {
		pf_buf_reset(&rep->body);
		pf_buf_printf(&rep->body, "{\"status\":\"error\",\"errorType\":\"internal\",\"error\":\"reply too large\"}\n");
		rep->status = 500;
	}
	free(s);
}

static void v1_ok(struct api_reply *rep, json_t *data)
{
	json_t *o = json_object();
	json_object_set_new(o, "status", json_string("success"));
	json_object_set_new(o, "data", data);
	v1_reply(rep, 200, o);
}

static void v1_bad(struct api_reply *rep, int status, const char *type, const char *msg)
{
	json_t *o = json_object();
	json_object_set_new(o, "status", json_string("error"));
	json_object_set_new(o, "errorType", json_string(type));
	json_object_set_new(o, "error", api_json_message(status, msg));
	v1_reply(rep, status, o);
}

static json_t *target_json(const struct scrape_target_status *t, unsigned nshards)
{
	json_t *o = json_object(), *labels = json_object(), *disc = json_object();
	char ts[64], dur[32];
	const char *colon = strstr(t->url, "://");

	for (size_t i = 0; i < t->nlabels; i++) {
		json_object_set_new(labels, t->labels[i].name, api_json_string(t->labels[i].value));
		if (strcmp(t->labels[i].name, "instance") == 0)
			json_object_set_new(disc, "__address__", api_json_string(t->labels[i].value));
	}
	if (colon)
		json_object_set_new(disc, "__scheme__", json_stringn(t->url, (size_t)(colon - t->url)));
	json_object_set_new(disc, "job", api_json_string(t->job));
	json_object_set_new(o, "discoveredLabels", disc);
	json_object_set_new(o, "labels", labels);
	json_object_set_new(o, "scrapePool", api_json_string(t->job));
	json_object_set_new(o, "scrapeUrl", api_json_string(t->url));
	json_object_set_new(o, "globalUrl", api_json_string(t->url));
	json_object_set_new(o, "lastError", api_json_string(t->last_error));
	format_time(t->last_scrape_ns, ts, sizeof(ts));
	json_object_set_new(o, "lastScrape", json_string(ts));
	json_object_set_new(o, "lastScrapeDuration", json_real((double)t->last_duration_ns / 1e9));
	json_object_set_new(o, "health", json_string(scrape_health_name(t->health)));
	config_format_duration(t->interval_ns / 1000000 * 1000000, dur, sizeof(dur));
	json_object_set_new(o, "scrapeInterval", json_string(dur));
	config_format_duration(t->timeout_ns / 1000000 * 1000000, dur, sizeof(dur));
	json_object_set_new(o, "scrapeTimeout", json_string(dur));
	format_time(t->next_scrape_ns, ts, sizeof(ts));
	json_object_set_new(o, "nextScrape", json_string(ts));
	if (nshards > 1) {
		/* -scrape.shard: the shard that owns it, "I/N" */
		char sh[32];
		snprintf(sh, sizeof(sh), "%u/%u", t->shard, nshards);
		json_object_set_new(o, "shard", json_string(sh));
	}
	return o;
}

/* A target another shard owns: Prometheus's dropped-target shape
 * (discoveredLabels) with its labels, pool, URL and owning shard. */
static json_t *other_json(const struct scrape_target_status *t, unsigned nshards)
{
	json_t *o = target_json(t, nshards);
	json_object_del(o, "lastError");
	json_object_del(o, "lastScrape");
	json_object_del(o, "lastScrapeDuration");
	json_object_del(o, "health");
	json_object_del(o, "nextScrape");
	return o;
}

static void handle_targets(struct api_server *s, struct api_req *r, struct api_reply *rep)
{
	const char *state = api_param(r, "state"), *pool = api_param(r, "scrapePool");
	json_t *data = json_object(), *active = json_array(), *dropped = json_array();
	struct scrape_status *st;
	unsigned shard_i = 0, nshards = 0;

	if (state && *state && strcmp(state, "active") != 0 && strcmp(state, "dropped") != 0 &&
	    strcmp(state, "any") != 0) {
		json_decref(data);
		json_decref(active);
		json_decref(dropped);
		v1_bad(rep, 400, "bad_data", "invalid parameter \"state\": want active, dropped or any");
		return;
	}
	if (s->opt.scrape) {
		int want_active = !(state && strcmp(state, "dropped") == 0);
		int want_dropped = state && (strcmp(state, "dropped") == 0 || strcmp(state, "any") == 0);
		scrape_shard(s->opt.scrape, &shard_i, &nshards);
		st = scrape_status_get(s->opt.scrape);
		for (size_t i = 0; want_active && i < scrape_status_count(st); i++) {
			const struct scrape_target_status *t = scrape_status_at(st, i);
			if (pool && *pool && strcmp(pool, t->job) != 0)
				continue;
			json_array_append_new(active, target_json(t, nshards));
		}
		/* relabeling is not supported: the only dropped targets are
		 * those other shards own (-scrape.shard) */
		for (size_t i = 0; want_dropped && i < scrape_status_others_count(st); i++) {
			const struct scrape_target_status *t = scrape_status_other_at(st, i);
			if (pool && *pool && strcmp(pool, t->job) != 0)
				continue;
			json_array_append_new(dropped, other_json(t, nshards));
		}
		scrape_status_free(st);
	}
	if (nshards > 1) {
		char sh[32];
		snprintf(sh, sizeof(sh), "%u/%u", shard_i, nshards);
		json_object_set_new(data, "shard", json_string(sh));
	}
	json_object_set_new(data, "activeTargets", active);
	json_object_set_new(data, "droppedTargets", dropped);
	v1_ok(rep, data);
}

static void handle_status_config(struct api_server *s, struct api_reply *rep)
{
	struct config *c = s->opt.scrape ? scrape_config(s->opt.scrape) : NULL;
	struct pf_buf y = PF_BUF_INIT(0);
	struct pf_err err = {0};
	json_t *data = json_object();

	if (c && config_print_yaml(c, &y, &err) < 0) {
		config_free(c);
		pf_buf_free(&y);
		json_decref(data);
		v1_bad(rep, 500, "internal", err.msg);
		return;
	}
	{
		const char *text = y.data ? (const char *)y.data : "";
		json_t *j = json_stringn(text, y.len);
		json_object_set_new(data, "yaml", j ? j : json_stringn_nocheck(text, y.len));
	}
	config_free(c);
	pf_buf_free(&y);
	v1_ok(rep, data);
}

int api_v1_scrape_handle(struct api_server *s, struct api_req *r, struct api_reply *rep)
{
	int targets = strcmp(r->path, "/api/v1/targets") == 0;

	if (!targets && strcmp(r->path, "/api/v1/status/config") != 0)
		return 0;
	r->route = targets ? API_ROUTE_V1_TARGETS : API_ROUTE_V1_STATUS_CONFIG;
	if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
		char msg[2 * API_ECHO_MAX + 64];
		snprintf(msg, sizeof(msg), "method %s not allowed on %s (use GET)", API_ECHO(r->method),
			 API_ECHO(r->path));
		v1_bad(rep, 405, "bad_data", msg);
		return 1;
	}
	if (targets)
		handle_targets(s, r, rep);
	else
		handle_status_config(s, rep);
	return 1;
}

void api_admin_reload(struct api_server *s, struct api_req *r, struct api_reply *rep)
{
	struct pf_err err = {0};
	char msg[700];

	if (strcmp(r->method, "POST") != 0 && strcmp(r->method, "PUT") != 0) {
		api_reply_text(rep, 405, "Only POST or PUT requests allowed\n");
		return;
	}
	if (!s->opt.scrape) {
		api_reply_text(rep, 400, "failed to reload config: there is no scraper\n");
		return;
	}
	if (scrape_reload(s->opt.scrape, &err) < 0) {
		snprintf(msg, sizeof(msg), "failed to reload config: %s\n", err.msg);
		api_reply_text(rep, 400, msg);
		return;
	}
	api_reply_text(rep, 200, "config reloaded\n");
}
