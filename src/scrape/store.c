/*
 * The store threads: a scraped body takes the push's path (ingest_profile:
 * the -max-profile-size cap, the decoder's caps and the
 * -max-inflight-decompressed budget; legacy text refused; traces kept byte for
 * byte; totals; tsdb_append, which returns once it is durable), its refusal
 * class mapped to a scrape result (store_result). The loop thread hands
 * transfers over through a queue and gets them back through done_async, so
 * it never waits on a decode or an fsync.
 */
#include "scrape/scrape-internal.h"
#include "ingest/ingest.h"

#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

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

/*
 * The scrape result for what ingest made of x's body, with the sentence
 * the scrape's lastError shows (naming the target's URL); SUCCESS when
 * stored. x->result and x->error are set by scrape__xfer_fail.
 */
static void store_result(struct scrape__xfer *x, enum ingest_class c, const struct pf_err *err,
			 const char *note)
{
	switch (c) {
	case INGEST_OK:
		x->result = SCRAPE__R_SUCCESS;
		break;
	case INGEST_MALFORMED:
		if (strcmp(x->type, "trace") == 0)
			scrape__xfer_fail(x, SCRAPE__R_INVALID,
					  "the body from %s is not a Go execution trace%s: it does not start with \"go 1.N trace\"",
					  x->url, note);
		else
			scrape__xfer_fail(x, SCRAPE__R_INVALID, "the body from %s is not a pprof profile%s: %s",
					  x->url, note, err->msg);
		break;
	case INGEST_NO_SAMPLES:
		scrape__xfer_fail(x, SCRAPE__R_EMPTY, "profile has no samples: %s", empty_hint(x->type));
		break;
	case INGEST_DECODE_CAP:
		scrape__xfer_fail(x, SCRAPE__R_TOO_LARGE, "the profile from %s is too large to decode: %s",
				  x->url, err->msg);
		break;
	case INGEST_TOO_BIG:
		scrape__xfer_fail(x, SCRAPE__R_TOO_LARGE, "the profile from %s is too large: %s (-max-profile-size)",
				  x->url, err->msg);
		break;
	default:
		/* the in-flight budget, the store's refusals and failures */
		scrape__xfer_fail(x, SCRAPE__R_STORE, "storing the profile from %s failed: %s", x->url, err->msg);
		break;
	}
}

void scrape__store_one(struct scrape *s, struct scrape__xfer *x)
{
	struct ingest_opts io = {.db = s->o.db, .max_profile_bytes = s->o.max_profile_bytes,
				 .inflight = s->o.inflight};
	struct ingest_req ir = {0};
	struct ingest_out out;
	struct pf_err err = {0};
	char note[160];
	enum ingest_class c;

	content_type_note(x, note, sizeof(note));
	ir.labels = x->labels;
	ir.nlabels = x->nlabels;
	ir.t_ns = x->start_ns; /* profefe's clock at the scrape's start (SPEC §4) */
	ir.body = x->body.data ? x->body.data : (const uint8_t *)"";
	ir.len = x->body.len;
	c = ingest_profile(&io, &ir, &out, &err);
	store_result(x, c, &err, note);
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
