/*
 * Blocks: lookups in an open block's index: series by hash and by ordinal,
 * label postings (a tsdb__psource for select.c), label names and values,
 * and the per-profile entries of a series.
 * The format: docs/format/block.md and docs/format/index.md.
 */
#include "tsdb/block-internal.h"
#include "tsdb/codec/codec.h"

#include <stdlib.h>
#include <string.h>

/* ---- series and postings ----------------------------------------------- */

int tsdb__block_find_hash(const struct tsdb__block *b, uint64_t hash, uint32_t *ord)
{
	size_t lo = 0, hi = b->info.nseries;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (b->by_hash[mid].hash < hash)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < b->info.nseries && b->by_hash[lo].hash == hash) {
		*ord = b->by_hash[lo].ord;
		return 1;
	}
	return 0;
}

uint64_t tsdb__block_series_hash(const struct tsdb__block *b, uint32_t ord)
{
	return b->series[ord].hash;
}

uint64_t tsdb__block_series_max_seq(const struct tsdb__block *b, uint32_t ord)
{
	return b->series[ord].max_seq;
}

void tsdb__block_series_range(const struct tsdb__block *b, uint32_t ord, int64_t *min_t,
			      int64_t *max_t)
{
	*min_t = b->series[ord].min_t;
	*max_t = b->series[ord].max_t;
}

size_t tsdb__block_series_nlabels(const struct tsdb__block *b, uint32_t ord)
{
	return b->series[ord].nlabels;
}

uint64_t tsdb__block_series_count(const struct tsdb__block *b, uint32_t ord)
{
	return b->series[ord].nentries;
}

void tsdb__block_series_label(const struct tsdb__block *b, uint32_t ord, size_t i,
			      const char **name, const char **value)
{
	*name = b->syms[b->series[ord].labels[2 * i]];
	*value = b->syms[b->series[ord].labels[2 * i + 1]];
}

static void decode_pair(const struct br_pair *pr, struct tsdb__plist *out)
{
	struct pf_reader r;
	uint32_t ord = 0;

	pf_reader_init(&r, pr->ids, pr->len);
	pf_xgrow((void **)&out->ids, &out->cap, (size_t)pr->count, sizeof(uint32_t));
	for (uint64_t i = 0; i < pr->count; i++) {
		ord += (uint32_t)pf_read_uvarint(&r);
		out->ids[i] = ord;
	}
	out->n = (size_t)pr->count;
}

/* First pair whose name is >= name (and value >= value when given). */
static size_t pair_lower(const struct tsdb__block *b, const char *name, const char *value)
{
	size_t lo = 0, hi = b->npairs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct br_pair *pr = &b->pairs[mid];
		int c = strcmp(b->syms[pr->name], name);
		if (c == 0 && value)
			c = strcmp(b->syms[pr->value], value);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void block_pair(void *arg, const char *name, const char *value, struct tsdb__plist *out)
{
	const struct tsdb__block *b = arg;
	size_t i = pair_lower(b, name, value);

	out->n = 0;
	if (i < b->npairs && strcmp(b->syms[b->pairs[i].name], name) == 0 &&
	    strcmp(b->syms[b->pairs[i].value], value) == 0)
		decode_pair(&b->pairs[i], out);
}

static void block_each_value(void *arg, const char *name, tsdb__value_fn fn, void *fnarg)
{
	const struct tsdb__block *b = arg;
	struct tsdb__plist l = {0};

	for (size_t i = pair_lower(b, name, NULL);
	     i < b->npairs && strcmp(b->syms[b->pairs[i].name], name) == 0; i++) {
		decode_pair(&b->pairs[i], &l);
		fn(fnarg, b->syms[b->pairs[i].value], l.ids, l.n);
	}
	tsdb__plist_free(&l);
}

void tsdb__block_psource(struct tsdb__block *b, struct tsdb__psource *src)
{
	src->arg = b;
	src->nseries = (uint32_t)b->info.nseries;
	src->pair = block_pair;
	src->each_value = block_each_value;
}

void tsdb__block_label_names(const struct tsdb__block *b, tsdb__str_fn fn, void *arg)
{
	for (size_t i = 0; i < b->npairs; i++)
		if (i == 0 || b->pairs[i].name != b->pairs[i - 1].name)
			fn(arg, b->syms[b->pairs[i].name]);
}

void tsdb__block_label_values(const struct tsdb__block *b, const char *name, tsdb__str_fn fn,
			      void *arg)
{
	for (size_t i = pair_lower(b, name, NULL);
	     i < b->npairs && strcmp(b->syms[b->pairs[i].name], name) == 0; i++)
		fn(arg, b->syms[b->pairs[i].value]);
}

/* ---- entries ----------------------------------------------------------- */

void tsdb__bentries_free(struct tsdb__bentries *es)
{
	free(es->e);
	free(es->totals);
	memset(es, 0, sizeof(*es));
}

int tsdb__block_entries(const struct tsdb__block *b, uint32_t ord, struct tsdb__bentries *out)
{
	const struct br_series *s = &b->series[ord];
	struct pf_reader r;
	size_t ntot = 0, captot = 0;
	int64_t t = 0;

	memset(out, 0, sizeof(*out));
	out->n = (size_t)s->nentries;
	out->e = pf_xcalloc(out->n + 1, sizeof(*out->e));
	pf_reader_init(&r, s->entries, s->entries_len);
	for (size_t i = 0; i < out->n; i++) {
		struct tsdb__bentry *e = &out->e[i];
		t += pf_unzigzag(pf_read_uvarint(&r));
		e->t_ns = t;
		e->seq = (uint32_t)pf_read_uvarint(&r);
		e->kind = pf_read_u8(&r);
		e->size = pf_read_uvarint(&r);
		e->chunk_off = pf_read_uvarint(&r);
		e->chunk_len = pf_read_uvarint(&r);
		e->chunk_idx = (uint32_t)pf_read_uvarint(&r);
		e->ntotals = (uint32_t)pf_read_uvarint(&r);
		e->totals_at = ntot;
		for (uint32_t j = 0; j < e->ntotals; j++) {
			pf_xgrow((void **)&out->totals, &captot, ntot + 1, sizeof(*out->totals));
			out->totals[ntot].type = b->syms[pf_read_uvarint(&r)];
			out->totals[ntot].unit = b->syms[pf_read_uvarint(&r)];
			out->totals[ntot].value = pf_unzigzag(pf_read_uvarint(&r));
			ntot++;
		}
	}
	return 0; /* verified at open */
}
