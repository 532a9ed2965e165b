/*
 * store: a switch over the two backends (store.h). The ClickHouse backend
 * gets a maintenance thread here that applies retention (ch_retain) at
 * start and then every maintenance interval; the embedded store runs its
 * own.
 */
#include "store/store.h"
#include "pprof/pprof.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct store {
	enum store_type type;
	struct tsdb *db;
	struct ch_store *ch;
	int64_t retention_ns, max_future_ns;
	uint64_t retention_bytes;

	/* ClickHouse maintenance */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t maint;
	int maint_started, stopping;
	int64_t maint_ns;
	pthread_mutex_t retain_mu; /* serializes rounds */
	uint64_t retain_rounds, retain_days, retain_failures;
};

struct store_result {
	enum store_type type;
	struct tsdb_result *t;
	struct ch_result *c;
};

struct store_series_set {
	enum store_type type;
	struct tsdb_series_set *t;
	struct ch_series_set *c;
};

static int ch_round(struct store *s, struct pf_err *err)
{
	size_t dropped = 0;
	int rc = 0;

	pthread_mutex_lock(&s->retain_mu);
	if (s->retention_ns > 0 || s->retention_bytes > 0)
		rc = ch_retain(s->ch, s->retention_ns, s->max_future_ns, s->retention_bytes, &dropped,
			       err);
	pthread_mutex_lock(&s->mu);
	s->retain_rounds++;
	s->retain_days += dropped;
	if (rc < 0)
		s->retain_failures++;
	pthread_mutex_unlock(&s->mu);
	pthread_mutex_unlock(&s->retain_mu);
	if (dropped) {
		char n[24];
		snprintf(n, sizeof(n), "%zu", dropped);
		pf_log(PF_LOG_INFO, "clickhouse retention dropped day partitions", "days", n, NULL);
	}
	return rc;
}

/* wait until the next round is due (or stopping); s->mu held */
static void maint_wait(struct store *s)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(s->maint_ns / 1000000000);
	ts.tv_nsec += (long)(s->maint_ns % 1000000000);
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	while (!s->stopping && pthread_cond_timedwait(&s->cv, &s->mu, &ts) == 0)
		;
}

/* A round at start (a server restarted with a shorter -tsdb.retention
 * drops what is out of it right away), then one every maint_ns. */
static void *maint_main(void *arg)
{
	struct store *s = arg;

	pthread_mutex_lock(&s->mu);
	for (int first = 1; !s->stopping; first = 0) {
		struct pf_err err = {0};

		if (!first)
			maint_wait(s);
		if (s->stopping)
			break;
		pthread_mutex_unlock(&s->mu);
		if (ch_round(s, &err) < 0)
			pf_log(PF_LOG_WARN, "clickhouse retention failed", "err", err.msg, NULL);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int store_open(const struct store_options *o, struct store **out, struct pf_err *err)
{
	struct store *s = pf_xcalloc(1, sizeof(*s));
	struct ch_store_options co;
	int rc;

	*out = NULL;
	s->type = o->type;
	s->retention_ns = o->tsdb.retention_ns;
	s->retention_bytes = o->tsdb.retention_bytes;
	s->max_future_ns = o->tsdb.max_future_ns;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	pthread_mutex_init(&s->retain_mu, NULL);
	switch (o->type) {
	case STORE_TSDB:
		if ((rc = tsdb_open(&o->tsdb, &s->db, err)) < 0)
			goto fail;
		break;
	case STORE_CLICKHOUSE:
		co = o->ch;
		co.retention_ns = o->tsdb.retention_ns;
		co.max_future_ns = o->tsdb.max_future_ns;
		co.max_profile_bytes = o->tsdb.max_profile_bytes;
		if ((rc = ch_store_open(&co, &s->ch, err)) < 0)
			goto fail;
		s->maint_ns = o->tsdb.maintenance_ns ? o->tsdb.maintenance_ns : 60 * (int64_t)1000000000;
		if (s->maint_ns > 0 && (s->retention_ns > 0 || s->retention_bytes > 0)) {
			if (pthread_create(&s->maint, NULL, maint_main, s) != 0) {
				rc = pf_err_set(err, PF_EIO, "clickhouse: cannot start the maintenance thread");
				goto fail;
			}
			s->maint_started = 1;
		}
		break;
	default:
		rc = pf_err_set(err, PF_EINVAL, "unknown storage type %d", (int)o->type);
		goto fail;
	}
	*out = s;
	return 0;
fail:
	store_close(s);
	return rc;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->maint_started) {
		pthread_mutex_lock(&s->mu);
		s->stopping = 1;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->maint, NULL);
	}
	tsdb_close(s->db);
	ch_store_close(s->ch);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->retain_mu);
	free(s);
}

enum store_type store_type(const struct store *s)
{
	return s->type;
}

const char *store_type_name(const struct store *s)
{
	return s->type == STORE_CLICKHOUSE ? "clickhouse" : "tsdb";
}

int store_append(struct store *s, const struct tsdb_append_req *req, char *id,
		 struct pf_err *err)
{
	if (s->type == STORE_CLICKHOUSE)
		return ch_append(s->ch, req, id, err);
	return tsdb_append(s->db, req, id, err);
}

/*
 * -query.timeout on ClickHouse: each statement of a find, series or merge
 * goes with ClickHouse's max_execution_time set to the seconds left and
 * its transfer is cut at the deadline (ch_query_until: PF_ETIMEDOUT, as
 * the embedded store's); the deadline is also checked before the first
 * query is sent and when the answer is in (past it the answer is dropped).
 */
static int ch_deadline(const struct tsdb_query *q, int after, size_t n, struct pf_err *err)
{
	if (!q->deadline_ns || pf_mono_ns() < q->deadline_ns)
		return 0;
	if (after)
		return pf_err_set(err, PF_ETIMEDOUT, "stopped after ClickHouse answered with %zu profiles", n);
	return pf_err_set(err, PF_ETIMEDOUT, "stopped before asking ClickHouse");
}

int store_find(struct store *s, const struct tsdb_query *q, struct store_result **out,
	       struct pf_err *err)
{
	struct store_result *r = pf_xcalloc(1, sizeof(*r));
	int rc;

	r->type = s->type;
	if (s->type == STORE_CLICKHOUSE) {
		if ((rc = ch_deadline(q, 0, 0, err)) == 0 && (rc = ch_find(s->ch, q, &r->c, err)) == 0)
			rc = ch_deadline(q, 1, ch_result_len(r->c), err);
	} else
		rc = tsdb_find(s->db, q, &r->t, err);
	if (rc < 0) {
		store_result_free(r);
		r = NULL;
	}
	*out = r;
	return rc;
}

size_t store_result_len(const struct store_result *r)
{
	if (!r)
		return 0;
	return r->type == STORE_CLICKHOUSE ? ch_result_len(r->c) : tsdb_result_len(r->t);
}

const struct tsdb_meta *store_result_at(const struct store_result *r, size_t i)
{
	return r->type == STORE_CLICKHOUSE ? ch_result_at(r->c, i) : tsdb_result_at(r->t, i);
}

void store_result_free(struct store_result *r)
{
	if (!r)
		return;
	if (r->c)
		ch_result_free(r->c);
	if (r->t)
		tsdb_result_free(r->t);
	free(r);
}

int store_read(struct store *s, const char *id, struct pf_buf *body, struct tsdb_meta **meta,
	       struct pf_err *err)
{
	if (s->type == STORE_CLICKHOUSE)
		return ch_read(s->ch, id, body, meta, err);
	return tsdb_read(s->db, id, body, meta, err);
}

int store_focus(struct store *s, const struct tsdb_query *q, int (*match)(void *arg, const char *s),
		void *arg, struct tsdb_focus_out *out, struct tsdb_focus_mem **r, struct pf_err *err)
{
	if (s->type == STORE_CLICKHOUSE) {
		*r = NULL;
		if (q->nids)
			memset(out, 0, q->nids * sizeof(*out));
		return 0;
	}
	return tsdb_focus(s->db, q, match, arg, out, r, err);
}

void store_focus_free(struct store *s, struct tsdb_focus_mem *r)
{
	(void)s;
	tsdb_focus_free(r);
}

void store_meta_free(struct store *s, struct tsdb_meta *m)
{
	if (!m)
		return;
	if (s->type == STORE_CLICKHOUSE)
		ch_meta_free(m);
	else
		tsdb_meta_free(m);
}

int store_series(struct store *s, const struct tsdb_query *q, struct store_series_set **out,
		 struct pf_err *err)
{
	struct store_series_set *set = pf_xcalloc(1, sizeof(*set));
	int rc;

	set->type = s->type;
	if (s->type == STORE_CLICKHOUSE)
		rc = ch_series(s->ch, q, &set->c, err);
	else
		rc = tsdb_series(s->db, q, &set->t, err);
	if (rc < 0) {
		store_series_free(set);
		set = NULL;
	}
	*out = set;
	return rc;
}

size_t store_series_len(const struct store_series_set *set)
{
	if (!set)
		return 0;
	return set->type == STORE_CLICKHOUSE ? ch_series_len(set->c) : tsdb_series_len(set->t);
}

const struct tsdb_series_info *store_series_at(const struct store_series_set *set, size_t i)
{
	return set->type == STORE_CLICKHOUSE ? ch_series_at(set->c, i) : tsdb_series_at(set->t, i);
}

void store_series_free(struct store_series_set *set)
{
	if (!set)
		return;
	if (set->c)
		ch_series_free(set->c);
	if (set->t)
		tsdb_series_free(set->t);
	free(set);
}

int store_label_values(struct store *s, const char *name, char ***values, size_t *n,
		       struct pf_err *err)
{
	struct pf_err e = {0};

	if (s->type == STORE_CLICKHOUSE)
		return ch_label_values(s->ch, name, values, n, err ? err : &e);
	return tsdb_label_values(s->db, name, values, n);
}

int store_label_names(struct store *s, char ***names, size_t *n, struct pf_err *err)
{
	struct pf_err e = {0};

	if (s->type == STORE_CLICKHOUSE)
		return ch_label_names(s->ch, names, n, err ? err : &e);
	return tsdb_label_names(s->db, names, n);
}

void store_strings_free(char **v, size_t n)
{
	/* both backends hand out malloc'd arrays of malloc'd strings */
	tsdb_strings_free(v, n);
}

int store_merge(struct store *s, const struct tsdb_query *q, struct pprof_profile **out,
		size_t *n, struct pf_err *err)
{
	if (s->type == STORE_CLICKHOUSE) {
		int rc;
		if ((rc = ch_deadline(q, 0, 0, err)) < 0 || (rc = ch_merge(s->ch, q, out, n, err)) < 0)
			return rc;
		if ((rc = ch_deadline(q, 1, *n, err)) < 0) {
			pprof_free(*out);
			*out = NULL;
		}
		return rc;
	}
	return tsdb_merge(s->db, q, out, n, err);
}

int store_merge_encoded(struct store *s, const struct tsdb_query *q, struct pf_buf *gz,
			size_t *n, struct pf_err *err)
{
	if (s->type == STORE_CLICKHOUSE) {
		size_t len0 = gz->len;
		int rc;
		if ((rc = ch_deadline(q, 0, 0, err)) < 0 ||
		    (rc = ch_merge_encoded(s->ch, q, gz, n, err)) < 0)
			return rc;
		if ((rc = ch_deadline(q, 1, *n, err)) < 0)
			gz->len = len0;
		return rc;
	}
	return tsdb_merge_encoded(s->db, q, gz, n, err);
}

int store_maintain(struct store *s, int flush, struct pf_err *err)
{
	if (s->type == STORE_CLICKHOUSE)
		return ch_round(s, err);
	return tsdb_maintain(s->db, flush, err);
}

void store_stats(struct store *s, struct store_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->type = s->type;
	if (s->type == STORE_CLICKHOUSE) {
		ch_stats(s->ch, &st->ch);
		pthread_mutex_lock(&s->mu);
		st->ch_retain_rounds = s->retain_rounds;
		st->ch_retain_days = s->retain_days;
		st->ch_retain_failures = s->retain_failures;
		pthread_mutex_unlock(&s->mu);
	} else {
		tsdb_stats(s->db, &st->tsdb);
	}
}
