/*
 * The store threads: a scraped body is validated as a push is (pprof_decode
 * with the -max-profile-size cap, the decoder's caps and the
 * -max-inflight-decompressed budget; legacy text refused; traces kept byte for
 * byte), its per-sample-type totals computed, and it is appended with
 * tsdb_append, which returns once it is durable. The loop thread hands
 * transfers over through a queue and gets them back through done_async, so
 * it never waits on a decode or an fsync.
 */
#include "scrape/scrape-internal.h"
#include "pprof/pprof.h"

#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Go execution traces start "go 1.N trace\0..." */
static int is_go_trace(const uint8_t *p, size_t n)
{
	return n >= 16 && memcmp(p, "go 1.", 5) == 0 && memmem(p, 16, " trace", 6) != NULL;
}

/* Why a profile of this type can be empty (SPEC §4). */
static const char *empty_hint(const char *type)
{
	if (strcmp(type, "block") == 0)
		return "the program has not enabled block profiling (runtime.SetBlockProfileRate)";
	if (strcmp(type, "mutex") == 0)
		return "the program has not enabled mutex profiling (runtime.SetMutexProfileFraction)";
	if (strcmp(type, "cpu") == 0)
		return "no CPU time was sampled during the profile (the program was idle)";
	return "the program had nothing to report for this profile type";
}

/* " (Content-Type: text/html)" when the server said what it sent and it
 * is not a binary type, else "". */
static void content_type_note(const struct scrape__xfer *x, char *out, size_t n)
{
	const char *ct = x->content_type;
	out[0] = 0;
	if (ct && *ct && strncmp(ct, "application/octet-stream", 24) != 0 &&
	    strncmp(ct, "application/x-gzip", 18) != 0 && strncmp(ct, "application/gzip", 16) != 0 &&
	    strncmp(ct, "application/vnd.google.protobuf", 31) != 0)
		snprintf(out, n, " (Content-Type: %.100s)", ct);
}

void scrape__store_one(struct scrape *s, struct scrape__xfer *x)
{
	struct pprof_profile *prof = NULL;
	struct tsdb_total *totals = NULL;
	int64_t *sums = NULL;
	struct pf_buf gz = PF_BUF_INIT(0);
	struct tsdb_append_req ar = {0};
	struct pf_err err = {0};
	char id[TSDB_ID_LEN + 1], note[160];
	const uint8_t *body = x->body.data ? x->body.data : (const uint8_t *)"";
	size_t len = x->body.len;
	int rc;

	content_type_note(x, note, sizeof(note));
	ar.labels = x->labels;
	ar.nlabels = x->nlabels;
	ar.t_ns = x->start_ns; /* profefe's clock at the scrape's start (SPEC §4) */
	if (strcmp(x->type, "trace") == 0) {
		if (!is_go_trace(body, len)) {
			scrape__xfer_fail(x, SCRAPE__R_INVALID,
					  "the body from %s is not a Go execution trace%s: it does not start with \"go 1.N trace\"",
					  x->url, note);
			goto out;
		}
		ar.kind = TSDB_KIND_RAW;
		ar.body = body;
		ar.len = len;
	} else {
		const pprof_msg *m;
		size_t nt;
		struct pprof_limits lim = {.max_decompressed = s->o.max_profile_bytes,
					   .budget = s->o.inflight};

		rc = pprof_decode_limited(body, len, &lim, &prof, &err);
		if (rc == PF_EBUSY) {
			scrape__xfer_fail(x, SCRAPE__R_STORE, "storing the profile from %s failed: %s", x->url,
					  err.msg);
			goto out;
		}
		if (rc == PF_ELIMIT) {
			scrape__xfer_fail(x, SCRAPE__R_TOO_LARGE, "the profile from %s is too large to decode: %s",
					  x->url, err.msg);
			goto out;
		}
		if (rc == PF_ETOOBIG) {
			scrape__xfer_fail(x, SCRAPE__R_TOO_LARGE, "the profile from %s is too large: %s (-max-profile-size)",
					  x->url, err.msg);
			goto out;
		}
		if (rc < 0) {
			scrape__xfer_fail(x, SCRAPE__R_INVALID, "the body from %s is not a pprof profile%s: %s", x->url,
					  note, err.msg);
			goto out;
		}
		if (pprof_sample_count(prof) == 0) {
			scrape__xfer_fail(x, SCRAPE__R_EMPTY, "profile has no samples: %s", empty_hint(x->type));
			goto out;
		}
		m = pprof_message(prof);
		nt = m->n_sample_type;
		totals = pf_xcalloc(nt ? nt : 1, sizeof(*totals));
		sums = pf_xcalloc(nt ? nt : 1, sizeof(*sums));
		pprof_totals(prof, sums);
		for (size_t i = 0; i < nt; i++) {
			totals[i].type = pprof_string(prof, m->sample_type[i]->type);
			totals[i].unit = pprof_string(prof, m->sample_type[i]->unit);
			totals[i].value = sums[i];
		}
		ar.kind = TSDB_KIND_PPROF;
		ar.totals = totals;
		ar.ntotals = nt;
		if (pprof_is_gzip(body, len)) {
			ar.body = body;
			ar.len = len;
		} else {
			if (pprof_gzip(body, len, &gz, &err) < 0) {
				scrape__xfer_fail(x, SCRAPE__R_STORE, "compressing the profile from %s failed: %s",
						  x->url, err.msg);
				goto out;
			}
			ar.body = gz.data;
			ar.len = gz.len;
		}
	}
	if ((rc = tsdb_append(s->o.db, &ar, id, &err)) < 0) {
		scrape__xfer_fail(x, SCRAPE__R_STORE, "storing the profile from %s failed: %s", x->url, err.msg);
		goto out;
	}
	x->result = SCRAPE__R_SUCCESS;
out:
	pprof_free(prof);
	free(totals);
	free(sums);
	pf_buf_free(&gz);
}

/* ---- the pool ---------------------------------------------------------------- */

static void *worker_main(void *arg)
{
	struct scrape *s = arg;

	/* below the loop thread: under CPU pressure the schedule stays on
	 * time and the stores fall behind (bounded: see start_or_shed) */
	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 5);
	pthread_mutex_lock(&s->q_mu);
	for (;;) {
		struct scrape__xfer *x;

		while (!s->q_head && !s->q_stop)
			pthread_cond_wait(&s->q_cv, &s->q_mu);
		if (!s->q_head)
			break;
		x = s->q_head;
		s->q_head = x->next;
		if (!s->q_head)
			s->q_tail = NULL;
		pthread_mutex_unlock(&s->q_mu);

		scrape__store_one(s, x);

		pthread_mutex_lock(&s->q_mu);
		x->next = s->done_head;
		s->done_head = x;
		pthread_mutex_unlock(&s->q_mu);
		uv_async_send(&s->done_async);
		pthread_mutex_lock(&s->q_mu);
	}
	pthread_mutex_unlock(&s->q_mu);
	return NULL;
}

int scrape__store_start(struct scrape *s, struct pf_err *err)
{
	unsigned n = s->o.store_threads ? s->o.store_threads : 8;
	int rc;

	s->workers = pf_xcalloc(n, sizeof(*s->workers));
	for (unsigned i = 0; i < n; i++) {
		if ((rc = pthread_create(&s->workers[i], NULL, worker_main, s)) != 0) {
			scrape__store_stop(s);
			return pf_err_set(err, PF_EIO, "start a scrape store thread: %s", strerror(rc));
		}
		s->nworkers++;
	}
	return 0;
}

void scrape__store_submit(struct scrape__xfer *x)
{
	struct scrape *s = x->s;

	x->next = NULL;
	s->storing++;
	pthread_mutex_lock(&s->q_mu);
	if (s->q_tail)
		s->q_tail->next = x;
	else
		s->q_head = x;
	s->q_tail = x;
	pthread_cond_signal(&s->q_cv);
	pthread_mutex_unlock(&s->q_mu);
}

void scrape__store_stop(struct scrape *s)
{
	pthread_mutex_lock(&s->q_mu);
	s->q_stop = 1;
	pthread_cond_broadcast(&s->q_cv);
	pthread_mutex_unlock(&s->q_mu);
	for (unsigned i = 0; i < s->nworkers; i++)
		pthread_join(s->workers[i], NULL);
	s->nworkers = 0;
	free(s->workers);
	s->workers = NULL;
}

void scrape__store_drain(uv_async_t *h)
{
	struct scrape *s = h->data;
	struct scrape__xfer *x;

	pthread_mutex_lock(&s->q_mu);
	x = s->done_head;
	s->done_head = NULL;
	pthread_mutex_unlock(&s->q_mu);
	while (x) {
		struct scrape__xfer *next = x->next;
		s->storing--;
		scrape__finish(x);
		x = next;
	}
}
