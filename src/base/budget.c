/*
 * A byte budget shared by threads: -max-inflight-decompressed, the bytes
 * of inflate buffers alive across all requests and scrapes at once.
 * Waiters are kept in a list so that a taker can leave room for smaller
 * ones (see base.h).
 */
#include "base.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct budget_waiter {
	size_t n;
	struct budget_waiter *next;
};

struct pf_budget {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t total, used;
	struct budget_waiter *waiters;
};

struct pf_budget *pf_budget_new(size_t total)
{
	struct pf_budget *b = pf_xcalloc(1, sizeof(*b));
	pthread_condattr_t ca;

	pthread_mutex_init(&b->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b->cv, &ca);
	pthread_condattr_destroy(&ca);
	b->total = total;
	return b;
}

void pf_budget_free(struct pf_budget *b)
{
	if (!b)
		return;
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
	free(b);
}

/* Under b->mu: n fits, and still leaves room for the smallest waiter
 * (other than self) that asks for less than n. */
static int budget_fits(const struct pf_budget *b, size_t n, const struct budget_waiter *self)
{
	size_t left = b->total - b->used, smaller = SIZE_MAX;

	if (n > left)
		return 0;
	for (const struct budget_waiter *w = b->waiters; w; w = w->next)
		if (w != self && w->n < n && w->n < smaller)
			smaller = w->n;
	return smaller == SIZE_MAX || smaller <= left - n;
}

int pf_budget_take(struct pf_budget *b, size_t n, int64_t wait_ns)
{
	struct budget_waiter self = {n, NULL}, **pp;
	struct timespec deadline;
	int listed = 0, ok;

	if (n == 0)
		return 0;
	if (n > b->total)
		return PF_EBUSY;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += wait_ns / 1000000000;
	deadline.tv_nsec += wait_ns % 1000000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&b->mu);
	while (!(ok = budget_fits(b, n, &self))) {
		if (!listed) {
			self.next = b->waiters;
			b->waiters = &self;
			listed = 1;
		}
		if (pthread_cond_timedwait(&b->cv, &b->mu, &deadline) == ETIMEDOUT) {
			ok = budget_fits(b, n, &self);
			break;
		}
	}
	if (listed) {
		for (pp = &b->waiters; *pp != &self; pp = &(*pp)->next)
			;
		*pp = self.next;
		/* a waiter that leaves may have been what held others back */
		pthread_cond_broadcast(&b->cv);
	}
	if (ok)
		b->used += n;
	pthread_mutex_unlock(&b->mu);
	return ok ? 0 : PF_EBUSY;
}

void pf_budget_give(struct pf_budget *b, size_t n)
{
	if (n == 0)
		return;
	pthread_mutex_lock(&b->mu);
	b->used = n <= b->used ? b->used - n : 0;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

size_t pf_budget_used(struct pf_budget *b)
{
	size_t n;

	pthread_mutex_lock(&b->mu);
	n = b->used;
	pthread_mutex_unlock(&b->mu);
	return n;
}

size_t pf_budget_waiting(struct pf_budget *b)
{
	size_t n = 0;

	pthread_mutex_lock(&b->mu);
	for (const struct budget_waiter *w = b->waiters; w; w = w->next)
		n++;
	pthread_mutex_unlock(&b->mu);
	return n;
}

size_t pf_budget_total(const struct pf_budget *b)
{
	return b->total;
}
