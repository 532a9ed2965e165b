/*
 * The scrape manager: the loop thread and its lifetime, commands from
 * other threads (apply a configuration, stop), the target diff of a
 * reload, file_sd refreshes, health and metrics.
 */
#include "scrape/scrape-internal.h"

#include <glob.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>

#define SEC 1000000000LL
/* How long transfers in flight may take to finish at shutdown. */
#define STOP_GRACE_MS 5000
/* How often file_sd files are checked for changes. */
#define SD_CHECK_MS 1000

const double scrape__dur_bounds[SCRAPE__DUR_NB] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
						   1,     2.5,  5,     10,   15,  30,   60};
const double scrape__lag_bounds[SCRAPE__LAG_NB] = {0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1,
						   0.2,   0.5,   1,     2,    5,    10,   30};

static const char *const result_names[SCRAPE__R_COUNT] = {
	[SCRAPE__R_SUCCESS] = "success",
	[SCRAPE__R_EMPTY] = "empty",
	[SCRAPE__R_CONNECT] = "connect_error",
	[SCRAPE__R_TIMEOUT] = "timeout",
	[SCRAPE__R_HTTP] = "http_error",
	[SCRAPE__R_TOO_LARGE] = "too_large",
	[SCRAPE__R_INVALID] = "invalid_profile",
	[SCRAPE__R_TRANSPORT] = "transport_error",
	[SCRAPE__R_STORE] = "store_error",
	[SCRAPE__R_CANCELLED] = "cancelled",
};

const char *scrape__result_name(int r)
{
	return r >= 0 && r < SCRAPE__R_COUNT ? result_names[r] : "unknown";
}

const char *scrape_health_name(enum scrape_health h)
{
	return h == SCRAPE_HEALTH_UP ? "up" : h == SCRAPE_HEALTH_DOWN ? "down" : "unknown";
}

/* ---- the target diff ------------------------------------------------------- */

struct diff_ent {
	uint64_t hash;
	size_t idx;
};

static int diff_ent_cmp(const void *a, const void *b)
{
	const struct diff_ent *x = a, *y = b;
	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

void scrape_diff(const struct config_target *const *old, size_t nold,
		 const struct config_target *const *cur, size_t ncur, long *match, int *kept)
{
	struct diff_ent *e = pf_xcalloc(nold ? nold : 1, sizeof(*e));

	for (size_t j = 0; j < nold; j++) {
		e[j].hash = old[j]->hash;
		e[j].idx = j;
		kept[j] = 0;
	}
	qsort(e, nold, sizeof(*e), diff_ent_cmp);
	for (size_t i = 0; i < ncur; i++) {
		size_t lo = 0, hi = nold;
		match[i] = -1;
		while (lo < hi) { /* first entry with hash >= cur's */
			size_t mid = lo + (hi - lo) / 2;
			if (e[mid].hash < cur[i]->hash)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (; lo < nold && e[lo].hash == cur[i]->hash; lo++) {
			size_t j = e[lo].idx;
			if (!kept[j] && config_target_equal(old[j], cur[i])) {
				kept[j] = 1;
				match[i] = (long)j;
				break;
			}
		}
	}
	free(e);
}

/* ---- metrics ------------------------------------------------------------------ */

struct scrape__stats *scrape__stats_of(struct scrape *s, const char *job)
{
	uint64_t idx;
	struct scrape__stats *st;

	if (pf_map_get(s->stats_by_job, job, strlen(job), &idx))
		return s->stats[idx];
	st = pf_xcalloc(1, sizeof(*st));
	st->job = pf_xstrdup(job);
	pf_xgrow((void **)&s->stats, &s->stats_cap, s->nstats + 1, sizeof(*s->stats));
	s->stats[s->nstats] = st;
	pf_map_put(s->stats_by_job, job, strlen(job), s->nstats);
	s->nstats++;
	return st;
}

static void observe_duration(struct scrape__stats *st, double sec)
{
	st->dur_buckets[pf_prom_bucket(scrape__dur_bounds, SCRAPE__DUR_NB, sec)]++;
	st->dur_sum += sec;
}

static int stats_cmp(const void *a, const void *b)
{
	return strcmp((*(struct scrape__stats *const *)a)->job, (*(struct scrape__stats *const *)b)->job);
}

void scrape_metrics_write(struct scrape *s, struct pf_buf *b)
{
	struct scrape__stats **st;
	size_t n;

	pthread_mutex_lock(&s->mu);
	n = s->nstats;
	st = pf_xcalloc(n ? n : 1, sizeof(*st));
	if (n)
		memcpy(st, s->stats, n * sizeof(*st));
	qsort(st, n, sizeof(*st), stats_cmp);

	pf_buf_printf(b, "# HELP profefe_scrapes_total Scrapes by job and result (success and empty keep a target up).\n"
			 "# TYPE profefe_scrapes_total counter\n");
	for (size_t i = 0; i < n; i++)
		for (int r = 0; r < SCRAPE__R_COUNT; r++) {
			pf_buf_printf(b, "profefe_scrapes_total{job=\"");
			pf_prom_label_value(b, st[i]->job);
			pf_buf_printf(b, "\",result=\"%s\"} %llu\n", result_names[r],
				      (unsigned long long)st[i]->results[r]);
		}
	pf_buf_printf(b, "# HELP profefe_scrapes_skipped_total Due scrapes not started: the pair's previous scrape was still in flight past the jitter bound (in_flight), or the store threads were too far behind (overloaded).\n"
			 "# TYPE profefe_scrapes_skipped_total counter\n");
	for (size_t i = 0; i < n; i++)
		for (int r = 0; r < SCRAPE__SKIP_COUNT; r++) {
			pf_buf_printf(b, "profefe_scrapes_skipped_total{job=\"");
			pf_prom_label_value(b, st[i]->job);
			pf_buf_printf(b, "\",reason=\"%s\"} %llu\n", r == SCRAPE__SKIP_IN_FLIGHT ? "in_flight" : "overloaded",
				      (unsigned long long)st[i]->skipped[r]);
		}
	pf_buf_printf(b, "# HELP profefe_scrape_bytes_total Bytes of scraped response bodies.\n"
			 "# TYPE profefe_scrape_bytes_total counter\n");
	for (size_t i = 0; i < n; i++) {
		pf_buf_printf(b, "profefe_scrape_bytes_total{job=\"");
		pf_prom_label_value(b, st[i]->job);
		pf_buf_printf(b, "\"} %llu\n", (unsigned long long)st[i]->bytes);
	}
	pf_buf_printf(b, "# HELP profefe_scrape_targets (target, type) pairs scheduled.\n"
			 "# TYPE profefe_scrape_targets gauge\n");
	for (size_t i = 0; i < n; i++) {
		pf_buf_printf(b, "profefe_scrape_targets{job=\"");
		pf_prom_label_value(b, st[i]->job);
		pf_buf_printf(b, "\"} %llu\n", (unsigned long long)st[i]->pairs);
	}
	pf_buf_printf(b, "# HELP profefe_scrape_duration_seconds Time from a scrape's start until its profile was stored or it failed.\n"
			 "# TYPE profefe_scrape_duration_seconds histogram\n");
	for (size_t i = 0; i < n; i++)
		pf_prom_histogram(b, "profefe_scrape_duration_seconds", "job", st[i]->job, scrape__dur_bounds,
			      SCRAPE__DUR_NB, st[i]->dur_buckets, st[i]->dur_sum);
	pf_buf_printf(b, "# HELP profefe_scrape_schedule_lag_seconds A scrape's actual start minus its planned start (slot plus jitter).\n"
			 "# TYPE profefe_scrape_schedule_lag_seconds histogram\n");
	pf_prom_histogram(b, "profefe_scrape_schedule_lag_seconds", NULL, NULL, scrape__lag_bounds, SCRAPE__LAG_NB,
		      s->lag_buckets, s->lag_sum);
	pf_buf_printf(b, "# HELP profefe_config_reloads_total Loads of the scrape configuration by result.\n"
			 "# TYPE profefe_config_reloads_total counter\n"
			 "profefe_config_reloads_total{result=\"success\"} %llu\n"
			 "profefe_config_reloads_total{result=\"failure\"} %llu\n"
			 "# HELP profefe_config_last_reload_successful Whether the last configuration reload succeeded.\n"
			 "# TYPE profefe_config_last_reload_successful gauge\n"
			 "profefe_config_last_reload_successful %d\n"
			 "# HELP profefe_config_last_reload_success_timestamp_seconds Time of the last successful configuration load.\n"
			 "# TYPE profefe_config_last_reload_success_timestamp_seconds gauge\n"
			 "profefe_config_last_reload_success_timestamp_seconds %.3f\n",
		      (unsigned long long)s->reloads_ok, (unsigned long long)s->reloads_failed,
		      s->last_reload_ok, (double)s->last_reload_ok_ns / 1e9);
	pthread_mutex_unlock(&s->mu);
	pf_buf_printf(b, "# HELP profefe_scrapes_in_flight Scrapes downloading or being stored.\n"
			 "# TYPE profefe_scrapes_in_flight gauge\n"
			 "profefe_scrapes_in_flight %llu\n",
		      (unsigned long long)__atomic_load_n(&s->inflight, __ATOMIC_RELAXED));
	free(st);
}

/* ---- finishing a scrape ------------------------------------------------------- */

void scrape__finish(struct scrape__xfer *x)
{
	struct scrape *s = x->s;
	struct scrape__pair *p = x->pair;
	int64_t dur = pf_mono_ns() - x->start_mono_ns;
	enum scrape_health before = SCRAPE_HEALTH_UNKNOWN, after = SCRAPE_HEALTH_UNKNOWN;
	int changed = 0;

	pthread_mutex_lock(&s->mu);
	p->stats->results[x->result]++;
	p->stats->bytes += x->body.len;
	observe_duration(p->stats, (double)dur / 1e9);
	if (!p->removed && x->result != SCRAPE__R_CANCELLED) {
		before = p->health;
		after = x->result == SCRAPE__R_SUCCESS || x->result == SCRAPE__R_EMPTY ? SCRAPE_HEALTH_UP
										     : SCRAPE_HEALTH_DOWN;
		p->health = after;
		free(p->last_error);
		p->last_error = x->error;
		x->error = NULL;
		p->last_scrape_ns = x->start_ns;
		p->last_duration_ns = dur;
		changed = before != after;
	}
	pthread_mutex_unlock(&s->mu);

	if (changed && after == SCRAPE_HEALTH_DOWN)
		pf_log(PF_LOG_WARN, "scrape target down", "job", p->stats->job, "url", x->url, "err",
		       p->last_error ? p->last_error : "", NULL);
	else if (changed && before == SCRAPE_HEALTH_DOWN)
		pf_log(PF_LOG_INFO, "scrape target up", "job", p->stats->job, "url", x->url, NULL);
	else if (pf_log_enabled(PF_LOG_DEBUG))
		pf_log(PF_LOG_DEBUG, "scrape", "job", p->stats->job, "url", x->url, "result",
		       result_names[x->result], "err", x->error ? x->error : "", NULL);

	p->inflight = NULL;
	__atomic_sub_fetch(&s->inflight, 1, __ATOMIC_RELAXED);
	scrape__xfer_free(x);
	scrape__pair_idle(p);
	scrape__pair_unref(p);
	scrape__maybe_done(s);
}

/* ---- jobs and file_sd ------------------------------------------------------- */

static struct scrape__job *job_new(struct scrape *s, const struct config_job *cj)
{
	struct scrape__job *j = pf_xcalloc(1, sizeof(*j));
	size_t n = cj->nfile_sd ? cj->nfile_sd : 1;

	j->cj = cj;
	pthread_mutex_lock(&s->mu);
	j->stats = scrape__stats_of(s, cj->name);
	pthread_mutex_unlock(&s->mu);
	j->sd = pf_xcalloc(n, sizeof(*j->sd));
	j->sd_sig = pf_xcalloc(n, sizeof(*j->sd_sig));
	j->sd_read_ns = pf_xcalloc(n, sizeof(*j->sd_read_ns));
	return j;
}

static void job_free(struct scrape__job *j)
{
	if (!j)
		return;
	config_targets_free(j->targets);
	for (size_t k = 0; k < j->cj->nfile_sd; k++)
		config_sd_groups_free(j->sd[k]);
	free(j->sd);
	free(j->sd_sig);
	free(j->sd_read_ns);
	free(j->pairs);
	free(j);
}

/* A signature of the files a file_sd config names: paths, sizes, mtimes. */
static uint64_t sd_signature(const struct config_file_sd *sd)
{
	uint64_t h = 0x5d5d;
	for (size_t i = 0; i < sd->nfiles; i++) {
		glob_t gl;
		if (glob(sd->files[i], 0, NULL, &gl) != 0)
			continue;
		for (size_t k = 0; k < gl.gl_pathc; k++) {
			struct stat st;
			int64_t v[4] = {0};
			if (stat(gl.gl_pathv[k], &st) == 0) {
				v[0] = (int64_t)st.st_size;
				v[1] = (int64_t)st.st_mtim.tv_sec;
				v[2] = (int64_t)st.st_mtim.tv_nsec;
				v[3] = (int64_t)st.st_ino;
			}
			h = pf_hash64(gl.gl_pathv[k], strlen(gl.gl_pathv[k]) + 1, h);
			h = pf_hash64(v, sizeof(v), h);
		}
		globfree(&gl);
	}
	return h;
}

static int sd_same(const struct config_file_sd *a, const struct config_file_sd *b)
{
	if (a->nfiles != b->nfiles)
		return 0;
	for (size_t i = 0; i < a->nfiles; i++)
		if (strcmp(a->files[i], b->files[i]) != 0)
			return 0;
	return 1;
}

/* Read file_sd config k of j; NULL (logged) when a file is broken. */
static struct config_sd_groups *sd_read(struct scrape__job *j, size_t k)
{
	struct config_sd_groups *g = NULL;
	struct pf_err err = {0};

	if (config_sd_read(&j->cj->file_sd[k], &g, &err) < 0) {
		pf_log(PF_LOG_ERROR, "file_sd: reading target files failed; keeping the targets read before",
		       "job", j->cj->name, "err", err.msg, NULL);
		return NULL;
	}
	return g;
}

/* Resolve j's static and file_sd groups into j->targets. */
static void resolve_job(struct scrape *s, struct config *cfg, struct scrape__job *j)
{
	const struct config_sd_groups **sd = pf_xcalloc(j->cj->nfile_sd + 1, sizeof(*sd));
	struct pf_err err = {0};
	size_t nsd = 0;

	(void)s;
	for (size_t k = 0; k < j->cj->nfile_sd; k++)
		if (j->sd[k])
			sd[nsd++] = j->sd[k];
	j->targets = NULL;
	if (config_targets_resolve(cfg, j->cj, sd, nsd, &j->targets, &err) < 0) {
		pf_log(PF_LOG_ERROR, "file_sd: targets refused; scraping the static targets only", "job",
		       j->cj->name, "err", err.msg, NULL);
		if (config_targets_resolve(cfg, j->cj, NULL, 0, &j->targets, &err) < 0) {
			pf_log(PF_LOG_ERROR, "static targets refused", "job", j->cj->name, "err", err.msg, NULL);
			j->targets = NULL;
		}
	}
	free(sd);
}

/* ---- applying a new set of pairs -------------------------------------------- */

struct reconcile_out {
	size_t kept, added, removed;
};

/* What a reconcile installs as the scraper's jobs and configuration. */
struct reconcile_install {
	struct scrape__job **jobs;
	size_t njobs;
	struct config *cfg;
};

unsigned scrape_shard_of(const struct config_labels *labels, unsigned n)
{
	uint64_t h = 0x5eed5a4dULL;

	if (n <= 1)
		return 0;
	for (size_t i = 0; i < labels->n; i++) {
		const struct config_label *l = &labels->v[i];
		if (strcmp(l->name, "type") == 0)
			continue;
		h = pf_hash64(l->name, strlen(l->name) + 1, h);
		h = pf_hash64(l->value, strlen(l->value) + 1, h);
	}
	return (unsigned)(h % n);
}

void scrape_shard(const struct scrape *s, unsigned *i, unsigned *n)
{
	*i = s->o.shard_i;
	*n = s->o.shard_n;
}

static const char *adup(struct pf_arena *a, const char *s);

/* A target another shard owns, copied into a for the status. */
static void other_add(struct pf_arena *a, struct scrape_target_status **v, size_t *n, size_t *cap,
		      const struct config_target *t, unsigned shard)
{
	struct scrape_target_status *o;
	struct config_label *l = pf_arena_alloc(a, (t->labels.n ? t->labels.n : 1) * sizeof(*l));

	pf_xgrow((void **)v, cap, *n + 1, sizeof(**v));
	o = &(*v)[(*n)++];
	memset(o, 0, sizeof(*o));
	for (size_t k = 0; k < t->labels.n; k++) {
		l[k].name = adup(a, t->labels.v[k].name);
		l[k].value = adup(a, t->labels.v[k].value);
	}
	o->job = adup(a, t->job->name);
	o->url = adup(a, t->url);
	o->labels = l;
	o->nlabels = t->labels.n;
	o->interval_ns = t->interval_ns;
	o->timeout_ns = t->timeout_ns;
	o->health = SCRAPE_HEALTH_UNKNOWN;
	o->last_error = "";
	o->shard = shard;
}

/*
 * Match the running pairs old[] against the targets of jobs[] (the diff),
 * then under mu: re-point kept pairs to their new targets, create new ones,
 * retire the rest, install *in when in is not NULL, rebuild the pair
 * list and the per-job gauges. Then start the new pairs and stop the
 * retired ones. Returns the previous config when in is not NULL.
 */
static struct config *reconcile(struct scrape *s, struct scrape__pair **old, size_t nold,
				struct scrape__job **jobs, size_t njobs,
				const struct reconcile_install *in, struct reconcile_out *out)
{
	const struct config_target **ot = pf_xcalloc(nold ? nold : 1, sizeof(*ot));
	const struct config_target **nt;
	size_t nnew = 0, *owner, k = 0, nstart = 0, nremove = 0;
	long *match;
	int *kept;
	struct scrape__pair **start, **remove;
	struct config *prev = NULL;
	struct pf_arena *oa = pf_arena_new();
	struct scrape_target_status *others = NULL;
	size_t nothers = 0, others_cap = 0;

	for (size_t i = 0; i < nold; i++)
		ot[i] = old[i]->t;
	for (size_t i = 0; i < njobs; i++)
		nnew += jobs[i]->targets ? config_targets_count(jobs[i]->targets) : 0;
	nt = pf_xcalloc(nnew ? nnew : 1, sizeof(*nt));
	owner = pf_xcalloc(nnew ? nnew : 1, sizeof(*owner));
	for (size_t i = 0; i < njobs; i++) {
		size_t c = jobs[i]->targets ? config_targets_count(jobs[i]->targets) : 0;
		free(jobs[i]->pairs);
		jobs[i]->pairs = pf_xcalloc(c ? c : 1, sizeof(*jobs[i]->pairs));
		jobs[i]->npairs = 0;
		for (size_t t = 0; t < c; t++) {
			const struct config_target *ct = config_targets_at(jobs[i]->targets, t);
			unsigned sh = scrape_shard_of(&ct->labels, s->o.shard_n);
			if (s->o.shard_n > 1 && sh != s->o.shard_i) {
				other_add(oa, &others, &nothers, &others_cap, ct, sh);
				continue;
			}
			nt[k] = ct;
			owner[k++] = i;
		}
	}
	nnew = k;
	match = pf_xcalloc(nnew ? nnew : 1, sizeof(*match));
	kept = pf_xcalloc(nold ? nold : 1, sizeof(*kept));
	start = pf_xcalloc(nnew ? nnew : 1, sizeof(*start));
	remove = pf_xcalloc(nold ? nold : 1, sizeof(*remove));
	scrape_diff(ot, nold, nt, nnew, match, kept);

	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < nnew; i++) {
		struct scrape__job *j = jobs[owner[i]];
		struct scrape__pair *p;
		if (match[i] >= 0) {
			p = old[match[i]];
		} else {
			p = pf_xcalloc(1, sizeof(*p));
			p->s = s;
			p->health = SCRAPE_HEALTH_UNKNOWN;
			start[nstart++] = p;
		}
		p->t = nt[i];
		p->job = j;
		p->stats = j->stats;
		j->pairs[j->npairs++] = p;
	}
	for (size_t i = 0; i < nold; i++) {
		if (kept[i])
			continue;
		old[i]->t = NULL;
		old[i]->removed = 1;
		remove[nremove++] = old[i];
	}
	{
		struct pf_arena *xa = s->others_a;
		struct scrape_target_status *xv = s->others;
		s->others_a = oa;
		s->others = others;
		s->nothers = nothers;
		oa = xa;
		others = xv;
	}
	if (in) {
		prev = s->cfg;
		s->cfg = in->cfg ? config_ref(in->cfg) : NULL;
		s->jobs = in->jobs;
		s->njobs = in->njobs;
	}
	s->npairs = 0;
	for (size_t i = 0; i < s->nstats; i++)
		s->stats[i]->pairs = 0;
	for (size_t i = 0; i < s->njobs; i++) {
		struct scrape__job *j = s->jobs[i];
		pf_xgrow((void **)&s->pairs, &s->pairs_cap, s->npairs + j->npairs, sizeof(*s->pairs));
		if (j->npairs)
			memcpy(s->pairs + s->npairs, j->pairs, j->npairs * sizeof(*s->pairs));
		s->npairs += j->npairs;
		j->stats->pairs += j->npairs;
	}
	pthread_mutex_unlock(&s->mu);

	for (size_t i = 0; i < nstart; i++)
		scrape__pair_start(start[i]);
	for (size_t i = 0; i < nremove; i++)
		scrape__pair_remove(remove[i]);
	out->kept = nold - nremove;
	out->added = nstart;
	out->removed = nremove;
	free(ot);
	free(nt);
	free(owner);
	free(match);
	free(kept);
	free(start);
	free(remove);
	pf_arena_free(oa);
	free(others);
	return prev;
}

/* Warn when the targets need more connections than file descriptors allow,
 * and size curl's connection cache to keep one per target alive. */
static void check_connections(struct scrape *s)
{
	struct pf_map *addrs = pf_map_new(s->npairs);
	size_t held = 0, naddr, need;
	long cache;

	for (size_t i = 0; i < s->npairs; i++) {
		const struct config_target *t = s->pairs[i]->t;
		uint64_t d = 0;
		pf_map_get_or_put(addrs, t->address, strlen(t->address), &d);
		if (t->seconds > 0)
			held++;
	}
	naddr = pf_map_len(addrs);
	pf_map_free(addrs);
	need = naddr + held + 64;
	cache = (long)PF_MIN(naddr * 3 + 64, s->nopen_files > 256 ? s->nopen_files / 2 : 128);
	curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, cache);
	if (s->nopen_files && need > s->nopen_files) {
		char a[32], b[32];
		snprintf(a, sizeof(a), "%zu", need);
		snprintf(b, sizeof(b), "%zu", s->nopen_files);
		pf_log(PF_LOG_WARN, "the scrape targets need more connections than the open-file limit allows; "
				    "raise it (ulimit -n) or scrapes will fail with \"too many open files\"",
		       "connections", a, "open_file_limit", b, NULL);
	}
}

static int apply(struct scrape *s, struct config *cfg, struct pf_err *err)
{
	size_t nj = cfg ? config_job_count(cfg) : 0, nold = 0;
	struct scrape__job **jobs = pf_xcalloc(nj ? nj : 1, sizeof(*jobs));
	struct scrape__job **old_jobs = s->jobs;
	size_t old_njobs = s->njobs;
	struct scrape__pair **old;
	struct reconcile_out ro;
	struct config *prev;
	int64_t now = pf_mono_ns();
	char a[24], b[24], c[24];

	if (s->stopping) {
		free(jobs);
		return pf_err_set(err, PF_ECLOSED, "the scraper is stopping");
	}
	for (size_t i = 0; i < nj; i++) {
		const struct config_job *cj = config_job_at(cfg, i);
		struct scrape__job *oj = NULL;

		for (size_t k = 0; k < old_njobs && !oj; k++)
			if (strcmp(old_jobs[k]->cj->name, cj->name) == 0)
				oj = old_jobs[k];
		jobs[i] = job_new(s, cj);
		for (size_t k = 0; k < cj->nfile_sd; k++) {
			jobs[i]->sd_sig[k] = sd_signature(&cj->file_sd[k]);
			jobs[i]->sd_read_ns[k] = now;
			jobs[i]->sd[k] = sd_read(jobs[i], k);
			/* a broken target file keeps what was read of it before */
			if (!jobs[i]->sd[k] && oj && k < oj->cj->nfile_sd && oj->sd[k] &&
			    sd_same(&oj->cj->file_sd[k], &cj->file_sd[k])) {
				jobs[i]->sd[k] = oj->sd[k];
				oj->sd[k] = NULL;
			}
		}
		resolve_job(s, cfg, jobs[i]);
	}
	for (size_t i = 0; i < old_njobs; i++)
		nold += old_jobs[i]->npairs;
	old = pf_xcalloc(nold ? nold : 1, sizeof(*old));
	nold = 0;
	for (size_t i = 0; i < old_njobs; i++)
		for (size_t k = 0; k < old_jobs[i]->npairs; k++)
			old[nold++] = old_jobs[i]->pairs[k];

	prev = reconcile(s, old, nold, jobs, nj,
			 &(struct reconcile_install){.jobs = jobs, .njobs = nj, .cfg = cfg}, &ro);

	for (size_t i = 0; i < old_njobs; i++)
		job_free(old_jobs[i]);
	free(old_jobs);
	free(old);
	config_free(prev);
	check_connections(s);
	snprintf(a, sizeof(a), "%zu", ro.kept);
	snprintf(b, sizeof(b), "%zu", ro.added);
	snprintf(c, sizeof(c), "%zu", ro.removed);
	pf_log(PF_LOG_INFO, "scrape targets applied", "kept", a, "started", b, "stopped", c, NULL);
	return 0;
}

/* file_sd: re-read changed files (and all every refresh_interval). */
static void on_sd_tick(uv_timer_t *h)
{
	struct scrape *s = h->data;
	int64_t now = pf_mono_ns();

	for (size_t i = 0; i < s->njobs; i++) {
		struct scrape__job *j = s->jobs[i];
		size_t nsd = j->cj->nfile_sd;
		struct config_sd_groups **newg, **oldg;
		struct config_targets *old_targets;
		struct scrape__pair **old;
		struct reconcile_out ro;
		size_t nold;
		int any = 0;

		if (nsd == 0)
			continue;
		newg = pf_xcalloc(nsd, sizeof(*newg));
		for (size_t k = 0; k < nsd; k++) {
			uint64_t sig = sd_signature(&j->cj->file_sd[k]);
			if (sig == j->sd_sig[k] && now - j->sd_read_ns[k] < j->cj->file_sd[k].refresh_interval_ns)
				continue;
			j->sd_sig[k] = sig;
			j->sd_read_ns[k] = now;
			if ((newg[k] = sd_read(j, k)))
				any = 1;
		}
		if (!any) {
			free(newg);
			continue;
		}
		/* the old groups and targets stay alive until the pairs moved */
		oldg = pf_xcalloc(nsd, sizeof(*oldg));
		for (size_t k = 0; k < nsd; k++) {
			if (newg[k]) {
				oldg[k] = j->sd[k];
				j->sd[k] = newg[k];
			}
		}
		old_targets = j->targets;
		old = j->pairs;
		nold = j->npairs;
		j->pairs = NULL;
		j->npairs = 0;
		resolve_job(s, s->cfg, j);
		reconcile(s, old, nold, &j, 1, NULL, &ro);
		config_targets_free(old_targets);
		for (size_t k = 0; k < nsd; k++)
			config_sd_groups_free(oldg[k]);
		free(oldg);
		free(newg);
		free(old);
		if (ro.added || ro.removed) {
			char a[24], b[24], c[24];
			snprintf(a, sizeof(a), "%zu", ro.kept);
			snprintf(b, sizeof(b), "%zu", ro.added);
			snprintf(c, sizeof(c), "%zu", ro.removed);
			pf_log(PF_LOG_INFO, "file_sd: targets updated", "job", j->cj->name, "kept", a, "started", b,
			       "stopped", c, NULL);
			check_connections(s);
		}
	}
}

/* ---- stopping ---------------------------------------------------------------- */

static void on_final(uv_timer_t *h)
{
	struct scrape *s = h->data;

	/* closes curl's cached connections and every handle left on the loop;
	 * uv_run then returns */
	scrape__curl_close(s);
	uv_close((uv_handle_t *)&s->cmd_async, NULL);
	uv_close((uv_handle_t *)&s->done_async, NULL);
	uv_close((uv_handle_t *)&s->curl_timer, NULL);
	uv_close((uv_handle_t *)&s->sd_timer, NULL);
	uv_close((uv_handle_t *)&s->grace_timer, NULL);
}

void scrape__maybe_done(struct scrape *s)
{
	if (!s->stopping || s->closing || __atomic_load_n(&s->inflight, __ATOMIC_RELAXED) > 0)
		return;
	s->closing = 1;
	/* not from here: curl may be iterating its messages */
	uv_timer_start(&s->grace_timer, on_final, 0, 0);
}

static void on_grace(uv_timer_t *h)
{
	struct scrape *s = h->data;
	size_t n = 0;
	char a[24];

	for (struct scrape__xfer *x = s->downloading; x; x = x->dl_next)
		n++;
	snprintf(a, sizeof(a), "%zu", n);
	if (n)
		pf_log(PF_LOG_WARN, "scrapes still downloading at shutdown are cancelled", "count", a, NULL);
	scrape__curl_cancel_all(s);
	scrape__maybe_done(s);
}

static void begin_stop(struct scrape *s)
{
	struct scrape__pair **all;
	size_t n;

	s->stopping = 1;
	uv_timer_stop(&s->sd_timer);
	pthread_mutex_lock(&s->mu);
	n = s->npairs;
	all = pf_xcalloc(n ? n : 1, sizeof(*all));
	if (n)
		memcpy(all, s->pairs, n * sizeof(*all));
	for (size_t i = 0; i < n; i++) {
		all[i]->t = NULL;
		all[i]->removed = 1;
	}
	s->npairs = 0;
	for (size_t i = 0; i < s->nstats; i++)
		s->stats[i]->pairs = 0;
	pthread_mutex_unlock(&s->mu);
	for (size_t i = 0; i < n; i++)
		scrape__pair_remove(all[i]);
	free(all);
	for (size_t i = 0; i < s->njobs; i++)
		job_free(s->jobs[i]);
	free(s->jobs);
	s->jobs = NULL;
	s->njobs = 0;
	if (__atomic_load_n(&s->inflight, __ATOMIC_RELAXED) > 0) {
		char a[24];
		snprintf(a, sizeof(a), "%zu", s->inflight);
		pf_log(PF_LOG_INFO, "waiting for scrapes in flight", "count", a, NULL);
		uv_timer_start(&s->grace_timer, on_grace, STOP_GRACE_MS, 0);
	}
	scrape__maybe_done(s);
}

/* ---- commands -------------------------------------------------------------- */

static void on_cmd(uv_async_t *h)
{
	struct scrape *s = h->data;
	struct scrape__cmd *c;

	pthread_mutex_lock(&s->cmd_mu);
	c = s->cmd;
	pthread_mutex_unlock(&s->cmd_mu);
	if (!c)
		return;
	if (c->kind == SCRAPE__CMD_APPLY)
		c->rc = apply(s, c->cfg, &c->err);
	else
		begin_stop(s);
	pthread_mutex_lock(&s->cmd_mu);
	c->done = 1;
	s->cmd = NULL;
	pthread_cond_broadcast(&s->cmd_cv);
	pthread_mutex_unlock(&s->cmd_mu);
}

/* Run c on the loop thread and wait for it (caller holds reload_mu). */
static int post(struct scrape *s, struct scrape__cmd *c)
{
	pthread_mutex_lock(&s->cmd_mu);
	s->cmd = c;
	pthread_mutex_unlock(&s->cmd_mu);
	uv_async_send(&s->cmd_async);
	pthread_mutex_lock(&s->cmd_mu);
	while (!c->done)
		pthread_cond_wait(&s->cmd_cv, &s->cmd_mu);
	pthread_mutex_unlock(&s->cmd_mu);
	return c->rc;
}

static void loop_main(void *arg)
{
	struct scrape *s = arg;
	uv_run(&s->loop, UV_RUN_DEFAULT);
}

/* ---- public ------------------------------------------------------------------ */

int scrape_config_load(const char *path, struct config **out, struct pf_err *err)
{
	struct config *c;
	char jobs[24], targets[24];
	size_t ntargets = 0;

	if (config_load_file(path, &c, err) < 0)
		return err->code ? err->code : PF_EINVAL;
	for (size_t i = 0; i < config_warning_count(c); i++)
		pf_log(PF_LOG_WARN, "config warning", "warning", config_warning_at(c, i), NULL);
	for (size_t i = 0; i < config_job_count(c); i++)
		ntargets += config_job_at(c, i)->ntargets;
	snprintf(jobs, sizeof(jobs), "%zu", config_job_count(c));
	snprintf(targets, sizeof(targets), "%zu", ntargets);
	pf_log(PF_LOG_INFO, "config loaded", "file", path, "jobs", jobs, "static_pairs", targets, NULL);
	*out = c;
	return 0;
}

/* Raise the open-file soft limit to the hard limit (SPEC §4). */
static void free_state(struct scrape *s)
{
	for (size_t i = 0; i < s->nstats; i++) {
		free(s->stats[i]->job);
		free(s->stats[i]);
	}
	free(s->stats);
	pf_map_free(s->stats_by_job);
	free(s->pairs);
	pf_arena_free(s->others_a);
	free(s->others);
	config_free(s->cfg);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->reload_mu);
	pthread_mutex_destroy(&s->cmd_mu);
	pthread_cond_destroy(&s->cmd_cv);
	pthread_mutex_destroy(&s->q_mu);
	pthread_cond_destroy(&s->q_cv);
	free(s->config_file);
	free(s->user_agent);
	free(s);
}

static void close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void init_curl(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

int scrape_start(const struct scrape_options *o, struct config *cfg, struct scrape **out,
		 struct pf_err *err)
{
	static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
	struct scrape *s = pf_xcalloc(1, sizeof(*s));
	struct scrape__cmd c = {0};
	int rc;

	pthread_once(&curl_once, init_curl);
	s->o = *o;
	if (!s->o.max_body_bytes)
		s->o.max_body_bytes = (size_t)64 << 20;
	if (!s->o.max_profile_bytes)
		s->o.max_profile_bytes = (size_t)512 << 20;
	s->config_file = pf_xstrdup(o->config_file ? o->config_file : "");
	s->user_agent = pf_xstrdup(o->user_agent ? o->user_agent : "profefe");
	s->o.config_file = s->config_file;
	s->o.user_agent = s->user_agent;
	s->rng = o->seed ? o->seed : (uint64_t)pf_now_ns() ^ (uint64_t)pf_mono_ns() << 17;
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->reload_mu, NULL);
	pthread_mutex_init(&s->cmd_mu, NULL);
	pthread_cond_init(&s->cmd_cv, NULL);
	pthread_mutex_init(&s->q_mu, NULL);
	pthread_cond_init(&s->q_cv, NULL);
	s->stats_by_job = pf_map_new(16);
	s->nopen_files = pf_raise_nofile();

	if ((rc = uv_loop_init(&s->loop)) < 0) {
		rc = pf_err_set(err, PF_EIO, "scraper: uv_loop_init: %s", uv_strerror(rc));
		free_state(s);
		return rc;
	}
	uv_async_init(&s->loop, &s->cmd_async, on_cmd);
	uv_async_init(&s->loop, &s->done_async, scrape__store_drain);
	uv_timer_init(&s->loop, &s->sd_timer);
	uv_timer_init(&s->loop, &s->grace_timer);
	s->cmd_async.data = s->done_async.data = s->sd_timer.data = s->grace_timer.data = s;
	if ((rc = scrape__curl_init(s, err)) < 0)
		goto fail_loop;
	if ((rc = scrape__store_start(s, err)) < 0)
		goto fail_curl;
	uv_timer_start(&s->sd_timer, on_sd_tick, SD_CHECK_MS, SD_CHECK_MS);
	if ((rc = uv_thread_create(&s->thread, loop_main, s)) < 0) {
		rc = pf_err_set(err, PF_EIO, "scraper: start its thread: %s", uv_strerror(rc));
		goto fail_store;
	}
	if (cfg) {
		c.kind = SCRAPE__CMD_APPLY;
		c.cfg = cfg;
		pthread_mutex_lock(&s->reload_mu);
		post(s, &c);
		pthread_mutex_unlock(&s->reload_mu);
	}
	s->last_reload_ok = 1;
	s->last_reload_ok_ns = pf_now_ns();
	*out = s;
	return 0;

fail_store:
	scrape__store_stop(s);
fail_curl:
	scrape__curl_close(s);
fail_loop:
	uv_walk(&s->loop, close_walk, NULL);
	uv_run(&s->loop, UV_RUN_DEFAULT);
	uv_loop_close(&s->loop);
	free_state(s);
	return rc;
}

void scrape_stop(struct scrape *s)
{
	struct scrape__cmd c = {.kind = SCRAPE__CMD_STOP};

	if (!s)
		return;
	pthread_mutex_lock(&s->reload_mu);
	post(s, &c);
	pthread_mutex_unlock(&s->reload_mu);
	uv_thread_join(&s->thread);
	scrape__store_stop(s);
	if (uv_loop_close(&s->loop) != 0)
		pf_log(PF_LOG_ERROR, "scraper: handles left open on its loop", NULL);
	free_state(s);
}

int scrape_apply(struct scrape *s, struct config *cfg, struct pf_err *err)
{
	struct scrape__cmd c = {.kind = SCRAPE__CMD_APPLY, .cfg = cfg};
	int rc;

	pthread_mutex_lock(&s->reload_mu);
	rc = post(s, &c);
	pthread_mutex_unlock(&s->reload_mu);
	if (rc < 0 && err)
		*err = c.err;
	return rc;
}

int scrape_reload(struct scrape *s, struct pf_err *err)
{
	struct config *cfg = NULL;
	int rc;

	if (!*s->config_file) {
		pf_log(PF_LOG_INFO, "reload requested; there is no -config.file to reload", NULL);
		return pf_err_set(err, PF_EINVAL, "there is no -config.file to reload");
	}
	rc = scrape_config_load(s->config_file, &cfg, err);
	if (rc == 0) {
		rc = scrape_apply(s, cfg, err);
		config_free(cfg);
	}
	pthread_mutex_lock(&s->mu);
	if (rc < 0) {
		s->reloads_failed++;
		s->last_reload_ok = 0;
	} else {
		s->reloads_ok++;
		s->last_reload_ok = 1;
		s->last_reload_ok_ns = pf_now_ns();
	}
	pthread_mutex_unlock(&s->mu);
	if (rc < 0)
		pf_log(PF_LOG_ERROR, "config reload failed; keeping the loaded configuration", "err", err->msg,
		       NULL);
	return rc;
}

struct config *scrape_config(struct scrape *s)
{
	struct config *c;

	pthread_mutex_lock(&s->mu);
	c = s->cfg ? config_ref(s->cfg) : NULL;
	pthread_mutex_unlock(&s->mu);
	return c;
}

/* ---- status ------------------------------------------------------------------ */

struct scrape_status {
	struct pf_arena *a;
	struct scrape_target_status *v;
	size_t n;
	struct scrape_target_status *o; /* other shards' */
	size_t no;
};

static const char *label_of(const struct scrape_target_status *t, const char *name)
{
	for (size_t i = 0; i < t->nlabels; i++)
		if (strcmp(t->labels[i].name, name) == 0)
			return t->labels[i].value;
	return "";
}

static int status_cmp(const void *a, const void *b)
{
	const struct scrape_target_status *x = a, *y = b;
	int c = strcmp(x->job, y->job);
	if (!c)
		c = strcmp(label_of(x, "instance"), label_of(y, "instance"));
	if (!c)
		c = strcmp(label_of(x, "type"), label_of(y, "type"));
	if (!c)
		c = strcmp(x->url, y->url);
	return c;
}

static const char *adup(struct pf_arena *a, const char *s)
{
	return pf_arena_strndup(a, s ? s : "", s ? strlen(s) : 0);
}

struct scrape_status *scrape_status_get(struct scrape *s)
{
	struct scrape_status *st = pf_xcalloc(1, sizeof(*st));

	st->a = pf_arena_new();
	pthread_mutex_lock(&s->mu);
	st->n = s->npairs;
	st->v = pf_xcalloc(st->n ? st->n : 1, sizeof(*st->v));
	for (size_t i = 0; i < st->n; i++) {
		const struct scrape__pair *p = s->pairs[i];
		const struct config_target *t = p->t;
		struct scrape_target_status *o = &st->v[i];
		struct config_label *l = pf_arena_alloc(st->a, (t->labels.n ? t->labels.n : 1) * sizeof(*l));

		for (size_t k = 0; k < t->labels.n; k++) {
			l[k].name = adup(st->a, t->labels.v[k].name);
			l[k].value = adup(st->a, t->labels.v[k].value);
		}
		o->job = adup(st->a, t->job->name);
		o->url = adup(st->a, t->url);
		o->labels = l;
		o->nlabels = t->labels.n;
		o->interval_ns = t->interval_ns;
		o->timeout_ns = t->timeout_ns;
		o->health = p->health;
		o->last_error = adup(st->a, p->last_error);
		o->last_scrape_ns = p->last_scrape_ns;
		o->last_duration_ns = p->last_duration_ns;
		o->next_scrape_ns = p->next_scrape_ns;
		o->shard = scrape_shard_of(&t->labels, s->o.shard_n);
	}
	st->no = s->nothers;
	st->o = pf_xcalloc(st->no ? st->no : 1, sizeof(*st->o));
	for (size_t i = 0; i < st->no; i++) {
		const struct scrape_target_status *x = &s->others[i];
		struct scrape_target_status *o = &st->o[i];
		struct config_label *l = pf_arena_alloc(st->a, (x->nlabels ? x->nlabels : 1) * sizeof(*l));
		*o = *x;
		for (size_t k = 0; k < x->nlabels; k++) {
			l[k].name = adup(st->a, x->labels[k].name);
			l[k].value = adup(st->a, x->labels[k].value);
		}
		o->labels = l;
		o->job = adup(st->a, x->job);
		o->url = adup(st->a, x->url);
		o->last_error = "";
	}
	pthread_mutex_unlock(&s->mu);
	qsort(st->v, st->n, sizeof(*st->v), status_cmp);
	if (st->no > 1)
		qsort(st->o, st->no, sizeof(*st->o), status_cmp);
	return st;
}

size_t scrape_status_others_count(const struct scrape_status *st)
{
	return st->no;
}

const struct scrape_target_status *scrape_status_other_at(const struct scrape_status *st, size_t i)
{
	return i < st->no ? &st->o[i] : NULL;
}

size_t scrape_status_count(const struct scrape_status *st)
{
	return st->n;
}

const struct scrape_target_status *scrape_status_at(const struct scrape_status *st, size_t i)
{
	return i < st->n ? &st->v[i] : NULL;
}

void scrape_status_free(struct scrape_status *st)
{
	if (!st)
		return;
	pf_arena_free(st->a);
	free(st->v);
	free(st->o);
	free(st);
}
