/*
 * The schedule of one (target, type) pair: a stable slot in the interval
 * (a hash of the pair, aligned on the wall clock so it survives restarts
 * and reloads), a bounded random jitter per scrape, and one uv timer.
 */
#include "scrape/scrape-internal.h"

#include <stdlib.h>

#define SEC 1000000000LL

/* ---- pure functions ------------------------------------------------------ */

int64_t scrape_offset(uint64_t hash, int64_t interval_ns)
{
	if (interval_ns <= 0)
		return 0;
	return (int64_t)(hash % (uint64_t)interval_ns);
}

int64_t scrape_jitter_bound(int64_t interval_ns)
{
	int64_t j = interval_ns / 20;
	if (j > SEC)
		j = SEC;
	return j > 0 ? j : 0;
}

static uint64_t xorshift64s(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ULL;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

int64_t scrape_jitter(uint64_t *state, int64_t interval_ns)
{
	int64_t j = scrape_jitter_bound(interval_ns);
	if (j <= 0)
		return 0;
	return (int64_t)(xorshift64s(state) % (uint64_t)j);
}

int64_t scrape_first_slot(int64_t now_ns, uint64_t hash, int64_t interval_ns)
{
	int64_t off, rem, t;

	if (interval_ns <= 0)
		return now_ns;
	off = scrape_offset(hash, interval_ns);
	rem = now_ns % interval_ns;
	if (rem < 0)
		rem += interval_ns;
	t = now_ns - rem + off;
	if (t <= now_ns)
		t += interval_ns;
	return t;
}

/* ---- the timer ------------------------------------------------------------ */

static void on_timer(uv_timer_t *h);

/* Start p's timer for p->due_mono_ns. libuv counts timers from the loop's
 * cached time (milliseconds), so the delay is taken from that clock. */
static void arm_timer(struct scrape__pair *p)
{
	struct scrape *s = p->s;
	int64_t loop_ns = (int64_t)uv_now(&s->loop) * 1000000;
	int64_t delta = p->due_mono_ns - loop_ns;
	uint64_t ms = delta <= 0 ? 0 : (uint64_t)((delta + 999999) / 1000000);
	int64_t next = pf_now_ns() + (p->due_mono_ns - pf_mono_ns());

	pthread_mutex_lock(&s->mu);
	p->next_scrape_ns = next;
	pthread_mutex_unlock(&s->mu);
	uv_timer_start(&p->timer, on_timer, ms, 0);
}

static void observe_lag(struct scrape *s, int64_t lag_ns)
{
	double v = lag_ns > 0 ? (double)lag_ns / 1e9 : 0;
	size_t b = pf_prom_bucket(scrape__lag_bounds, SCRAPE__LAG_NB, v);

	pthread_mutex_lock(&s->mu);
	s->lag_buckets[b]++;
	s->lag_sum += v;
	pthread_mutex_unlock(&s->mu);
}

static void count_skip(struct scrape__pair *p, enum scrape__skip why, uint64_t n)
{
	pthread_mutex_lock(&p->s->mu);
	p->stats->skipped[why] += n;
	pthread_mutex_unlock(&p->s->mu);
	if (pf_log_enabled(PF_LOG_DEBUG) && p->t)
		pf_log(PF_LOG_DEBUG,
		       why == SCRAPE__SKIP_IN_FLIGHT ? "scrape skipped: the previous one was still in flight"
						     : "scrape skipped: the store threads are behind",
		       "job", p->t->job->name, "url", p->t->url, NULL);
}

/* Start a scrape now, unless the store is too far behind to take it. */
static void start_or_shed(struct scrape__pair *p, int64_t lag_ns)
{
	if (p->s->storing >= SCRAPE__STORE_BACKLOG_MAX) {
		count_skip(p, SCRAPE__SKIP_OVERLOADED, 1);
		return;
	}
	observe_lag(p->s, lag_ns);
	scrape__xfer_start(p);
}

static void on_timer(uv_timer_t *h)
{
	struct scrape__pair *p = h->data;
	struct scrape *s = p->s;
	int64_t now = pf_mono_ns(), iv = p->t->interval_ns;
	uint64_t missed = 0;

	if (s->stopping)
		return;
	if (p->inflight) {
		/* never two scrapes of a pair in flight: this one waits for the
		 * previous one, at most the jitter bound, else it is skipped */
		if (p->pending)
			count_skip(p, SCRAPE__SKIP_IN_FLIGHT, 1);
		p->pending = 1;
		p->pending_due_ns = p->due_mono_ns;
	} else {
		start_or_shed(p, now - p->due_mono_ns);
	}
	/* the next slot; slots the loop missed entirely are skipped too */
	p->slot_mono_ns += iv;
	while (p->slot_mono_ns + iv <= now) {
		p->slot_mono_ns += iv;
		missed++;
	}
	if (missed)
		count_skip(p, SCRAPE__SKIP_IN_FLIGHT, missed);
	p->due_mono_ns = p->slot_mono_ns + scrape_jitter(&s->rng, iv);
	arm_timer(p);
}

void scrape__pair_idle(struct scrape__pair *p)
{
	struct scrape *s = p->s;
	int64_t late;

	if (!p->pending)
		return;
	p->pending = 0;
	if (p->removed || s->stopping)
		return;
	late = pf_mono_ns() - p->pending_due_ns;
	if (late > scrape_jitter_bound(p->t->interval_ns)) {
		count_skip(p, SCRAPE__SKIP_IN_FLIGHT, 1);
		return;
	}
	start_or_shed(p, late);
}

void scrape__pair_start(struct scrape__pair *p)
{
	struct scrape *s = p->s;
	int64_t wall = pf_now_ns(), mono = pf_mono_ns();
	int64_t iv = p->t->interval_ns;
	int64_t first = scrape_first_slot(wall, p->t->hash, iv);

	uv_timer_init(&s->loop, &p->timer);
	p->timer.data = p;
	p->refs++;
	p->slot_mono_ns = mono + (first - wall);
	p->due_mono_ns = p->slot_mono_ns + scrape_jitter(&s->rng, iv);
	arm_timer(p);
}

static void on_timer_closed(uv_handle_t *h)
{
	scrape__pair_unref(h->data);
}

void scrape__pair_remove(struct scrape__pair *p)
{
	p->removed = 1;
	uv_timer_stop(&p->timer);
	uv_close((uv_handle_t *)&p->timer, on_timer_closed);
}

void scrape__pair_unref(struct scrape__pair *p)
{
	if (--p->refs > 0)
		return;
	free(p->last_error);
	free(p);
}
