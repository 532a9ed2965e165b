/*
 * The store's list of open blocks, sorted by min_t then name (blocks_mu).
 */
#include "tsdb/tsdb-internal.h"

#include <stdlib.h>

int tsdb__blocks_cmp(const void *a, const void *b)
{
	const struct tsdb__block_info *x = tsdb__block_info(*(struct tsdb__block *const *)a);
	const struct tsdb__block_info *y = tsdb__block_info(*(struct tsdb__block *const *)b);
	if (x->min_t != y->min_t)
		return x->min_t < y->min_t ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* ---- blocks list ------------------------------------------------------- */

void tsdb__blocks_add(struct tsdb *db, struct tsdb__block *b)
{
	size_t i;
	pthread_mutex_lock(&db->blocks_mu);
	pf_xgrow((void **)&db->blocks, &db->capblocks, db->nblocks + 1, sizeof(*db->blocks));
	for (i = db->nblocks; i > 0 && tsdb__blocks_cmp(&db->blocks[i - 1], &b) > 0; i--)
		db->blocks[i] = db->blocks[i - 1];
	db->blocks[i] = b;
	db->nblocks++;
	pthread_mutex_unlock(&db->blocks_mu);
}

void tsdb__blocks_remove(struct tsdb *db, struct tsdb__block *b)
{
	pthread_mutex_lock(&db->blocks_mu);
	for (size_t i = 0; i < db->nblocks; i++)
		if (db->blocks[i] == b) {
			memmove(&db->blocks[i], &db->blocks[i + 1],
				(db->nblocks - i - 1) * sizeof(*db->blocks));
			db->nblocks--;
			break;
		}
	pthread_mutex_unlock(&db->blocks_mu);
}

struct tsdb__block **tsdb__blocks_get(struct tsdb *db, size_t *n)
{
	struct tsdb__block **bs;
	pthread_mutex_lock(&db->blocks_mu);
	*n = db->nblocks;
	bs = pf_xcalloc(db->nblocks + 1, sizeof(*bs));
	for (size_t i = 0; i < db->nblocks; i++)
		bs[i] = tsdb__block_ref(db->blocks[i]);
	pthread_mutex_unlock(&db->blocks_mu);
	return bs;
}

void tsdb__blocks_put(struct tsdb__block **bs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		tsdb__block_unref(bs[i]);
	free(bs);
}

uint64_t tsdb__blocks_seq_floor(void *arg, uint64_t hash)
{
	struct tsdb *db = arg;
	uint64_t floor = 0;
	uint32_t ord;

	pthread_mutex_lock(&db->blocks_mu);
	for (size_t i = 0; i < db->nblocks; i++)
		if (tsdb__block_find_hash(db->blocks[i], hash, &ord)) {
			uint64_t m = tsdb__block_series_max_seq(db->blocks[i], ord) + 1;
			if (m > floor)
				floor = m;
		}
	pthread_mutex_unlock(&db->blocks_mu);
	return floor;
}

int tsdb__blocks_has(struct tsdb *db, uint64_t hash, int64_t t_ns, uint32_t seq)
{
	int found = 0;
	uint32_t ord;

	pthread_mutex_lock(&db->blocks_mu);
	for (size_t i = 0; i < db->nblocks && !found; i++) {
		struct tsdb__block *b = db->blocks[i];
		const struct tsdb__block_info *in = tsdb__block_info(b);
		int64_t lo, hi;
		if (t_ns < in->min_t || t_ns > in->max_t || !tsdb__block_find_hash(b, hash, &ord))
			continue;
		tsdb__block_series_range(b, ord, &lo, &hi);
		if (t_ns < lo || t_ns > hi)
			continue;
		struct tsdb__bentries es;
		tsdb__block_entries(b, ord, &es);
		for (size_t j = 0; j < es.n; j++)
			if (es.e[j].t_ns == t_ns && es.e[j].seq == seq)
				found = 1;
		tsdb__bentries_free(&es);
	}
	pthread_mutex_unlock(&db->blocks_mu);
	return found;
}
