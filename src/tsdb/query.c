/*
 * Queries over the head and the blocks: find (metas), series, read by id,
 * merge, label names and values, stats. Find, series, labels and merge
 * read through one walk, tsdb__rit (head, then blocks; by block, series,
 * chunk); read by id looks one profile up by its hash, stats counts all.
 *
 * A query holds db->state shared from its first look at the head or the
 * blocks until it has read what it needs, so a cut or a compaction (which
 * move profiles under state exclusive) is never half seen: each profile is
 * found exactly once, in the head or in one block.
 */
#include "tsdb/tsdb-internal.h"
#include "tsdb/codec/codec.h"
#include "pprof/pprof.h"

#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>

struct tsdb_result {
	struct tsdb_meta *metas;
	size_t n;
	struct pf_arena *arena;
};

/* A tsdb_meta handed out alone owns its arena. */
struct meta_box {
	struct tsdb_meta m; /* first: tsdb_meta_free casts back */
	struct pf_arena *arena;
};

/* ---- the read path ------------------------------------------------------ */

/* First entry with t >= t_ns. */
static size_t entries_from(const struct tsdb__entry *e, size_t n, int64_t t_ns)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (e[mid].t_ns < t_ns)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int tsdb__rit_init(struct tsdb__rit *it, struct tsdb *db, const struct tsdb_query *q,
		   enum tsdb__rit_grain grain, struct pf_err *err)
{
	int rc;

	memset(it, 0, sizeof(*it));
	it->db = db;
	it->grain = grain;
	it->src = SIZE_MAX;
	it->min_t = q ? q->min_t_ns : INT64_MIN;
	it->max_t = q ? q->max_t_ns : INT64_MAX;
	it->series_limit = q && grain == TSDB__RIT_PROFILE ? q->series_limit : 0;
	if (grain != TSDB__RIT_SOURCE &&
	    (rc = tsdb__preds_new(q->matchers, q->nmatchers, &it->ps, err)) < 0) {
		it->done = 1;
		return rc;
	}
	if (it->min_t > it->max_t) {
		it->done = 1;
		return 0;
	}
	it->blocks = tsdb__blocks_get(db, &it->nblocks);
	return 0;
}

static void rit_series_done(struct tsdb__rit *it)
{
	if (it->have_es)
		tsdb__bentries_free(&it->es);
	it->have_es = 0;
	it->hj = it->hk = 0;
}

/* Step to the next source (the head, then the blocks overlapping the
 * range) and select its series; 0 when there is none. */
static int rit_source(struct tsdb__rit *it)
{
	struct tsdb__psource ps;

	rit_series_done(it);
	if (it->head_locked) {
		tsdb__head_unlock(it->db->head);
		it->head_locked = 0;
	}
	it->ids.n = 0;
	it->next_id = 0;
	for (;;) {
		size_t k = it->next_src++;
		if (k == 0) {
			it->b = NULL;
			it->src = SIZE_MAX;
			if (it->grain != TSDB__RIT_SOURCE) {
				tsdb__head_rdlock(it->db->head);
				it->head_locked = 1;
				tsdb__head_psource(it->db->head, &ps);
				tsdb__select(&ps, it->ps, &it->ids);
			}
			return 1;
		}
		if (k > it->nblocks)
			return 0;
		struct tsdb__block *b = it->blocks[k - 1];
		const struct tsdb__block_info *in = tsdb__block_info(b);
		if (in->max_t < it->min_t || in->min_t > it->max_t)
			continue;
		it->b = b;
		it->src = k - 1;
		if (it->grain != TSDB__RIT_SOURCE) {
			tsdb__block_psource(b, &ps);
			tsdb__select(&ps, it->ps, &it->ids);
		}
		return 1;
	}
}

/* Step to the next selected series of the source; 1 when it may hold
 * profiles in range (SERIES: when it does, count, lo and hi set). */
static int rit_series(struct tsdb__rit *it)
{
	uint32_t id = it->ids.ids[it->next_id++];
	int64_t lo, hi;

	rit_series_done(it);
	it->ord = id;
	it->count = 0;
	if (!it->b) {
		size_t n;
		it->s = tsdb__head_by_id(it->db->head, id);
		it->he = tsdb__series_entries(it->s, &n);
		it->hj = entries_from(it->he, n, it->min_t);
		for (it->hk = it->hj; it->hk < n && it->he[it->hk].t_ns <= it->max_t; it->hk++)
			;
		if (it->series_limit && it->hk - it->hj > it->series_limit)
			it->hj = it->hk - it->series_limit; /* entries ascend by time */
		it->count = it->hk - it->hj;
		if (it->count) {
			it->lo = it->he[it->hj].t_ns;
			it->hi = it->he[it->hk - 1].t_ns;
		}
		return it->count > 0;
	}
	it->s = NULL;
	tsdb__block_series_range(it->b, id, &lo, &hi);
	if (hi < it->min_t || lo > it->max_t)
		return 0;
	if (it->grain == TSDB__RIT_SERIES && lo >= it->min_t && hi <= it->max_t) {
		it->count = tsdb__block_series_count(it->b, id); /* all of it */
		it->lo = lo;
		it->hi = hi;
		return it->count > 0;
	}
	tsdb__block_entries(it->b, id, &it->es);
	it->have_es = 1;
	it->ej = 0;
	if (it->grain == TSDB__RIT_PROFILE) {
		if (it->series_limit) {
			/* entries ascend by (time, seq): start N before the
			 * last one in range */
			size_t in = 0, j = it->es.n;
			while (j > 0 && it->es.e[j - 1].t_ns > it->max_t)
				j--;
			while (j > 0 && in < it->series_limit && it->es.e[j - 1].t_ns >= it->min_t) {
				j--;
				in++;
			}
			it->ej = j;
		}
		return 1;
	}
	/* partly in range: count from the entries */
	it->lo = INT64_MAX;
	it->hi = INT64_MIN;
	for (size_t j = 0; j < it->es.n; j++) {
		int64_t t = it->es.e[j].t_ns;
		if (t < it->min_t || t > it->max_t)
			continue;
		it->count++;
		it->lo = t < it->lo ? t : it->lo;
		it->hi = t > it->hi ? t : it->hi;
	}
	rit_series_done(it);
	return it->count > 0;
}

/* The next profile in range of the current series; 0 at its end. */
static int rit_profile(struct tsdb__rit *it)
{
	if (!it->b) {
		if (it->hj >= it->hk)
			return 0;
		it->e = &it->he[it->hj++];
		return 1;
	}
	for (; it->have_es && it->ej < it->es.n; it->ej++) {
		const struct tsdb__bentry *e = &it->es.e[it->ej];
		if (e->t_ns >= it->min_t && e->t_ns <= it->max_t) {
			it->be = e;
			it->btotals = it->es.totals;
			it->ej++;
			return 1;
		}
	}
	return 0;
}

int tsdb__rit_next(struct tsdb__rit *it)
{
	if (it->done)
		return 0;
	it->e = NULL;
	it->be = NULL;
	for (;;) {
		if (it->grain == TSDB__RIT_PROFILE && rit_profile(it))
			return 1;
		if (it->grain != TSDB__RIT_SOURCE && it->next_id < it->ids.n) {
			if (rit_series(it) && it->grain == TSDB__RIT_SERIES)
				return 1;
			continue;
		}
		if (!rit_source(it)) {
			it->done = 1;
			return 0;
		}
		if (it->grain == TSDB__RIT_SOURCE)
			return 1;
	}
}

void tsdb__rit_label(const struct tsdb__rit *it, size_t i, const char **name, const char **value)
{
	if (it->b)
		tsdb__block_series_label(it->b, it->ord, i, name, value);
	else
		tsdb__series_label(it->db->head, it->s, i, name, value);
}

size_t tsdb__rit_nlabels(const struct tsdb__rit *it)
{
	return it->b ? tsdb__block_series_nlabels(it->b, it->ord) : tsdb__series_nlabels(it->s);
}

uint64_t tsdb__rit_hash(const struct tsdb__rit *it)
{
	return it->b ? tsdb__block_series_hash(it->b, it->ord) : tsdb__series_hash(it->s);
}

void tsdb__rit_finish(struct tsdb__rit *it)
{
	rit_series_done(it);
	if (it->head_locked)
		tsdb__head_unlock(it->db->head);
	it->head_locked = 0;
	tsdb__plist_free(&it->ids);
	tsdb__preds_free(it->ps);
	tsdb__blocks_put(it->blocks, it->nblocks);
	memset(it, 0, sizeof(*it));
	it->done = 1;
}

/* ---- hits: profiles a query found -------------------------------------- */

/* One profile a query found, in the head (b == NULL) or a block. */
struct hit {
	int64_t t_ns;
	uint64_t hash;
	uint32_t seq;
	uint8_t kind;
	uint64_t size;
	struct tsdb__block *b; /* reference held by the gather's walk */
	uint32_t ord;          /* block series */
	const struct tsdb__series *s; /* head series */
	struct tsdb__loc loc;         /* head */
	struct tsdb__hpos pos;        /* head: in the symbolized head */
	struct tsdb__bentry be;       /* block */
	const char **ttype, **tunit;  /* totals (strings live as long as the gather) */
	int64_t *tval;
	size_t ntotals;
	size_t src;  /* index of the block in the walk, or SIZE_MAX for the head */
	size_t walk; /* place in the walk's order (block, series, chunk) */
	size_t idx;  /* gather_ids: the index of the id that named it */
};

struct gather {
	struct tsdb__rit it; /* holds the blocks the hits point into */
	struct tsdb__block **blocks; /* or these (hits by ids) */
	size_t nblocks;
	struct hit *hits;
	size_t n, cap;
	struct pf_arena *arena;
};

static void gather_free(struct gather *g)
{
	tsdb__rit_finish(&g->it);
	tsdb__blocks_put(g->blocks, g->nblocks);
	free(g->hits);
	pf_arena_free(g->arena);
	memset(g, 0, sizeof(*g));
}

/* Whether the query must stop: 0, PF_ETIMEDOUT when its deadline has
 * passed, PF_ECANCELED when its caller gave up (q->cancelled). */
static int past_deadline(const struct tsdb_query *q)
{
	if (!q)
		return 0;
	if (q->deadline_ns && pf_mono_ns() >= q->deadline_ns)
		return PF_ETIMEDOUT;
	if (q->cancelled && q->cancelled(q->cancel_arg))
		return PF_ECANCELED;
	return 0;
}

static int over_cap(size_t n, size_t max, struct pf_err *err)
{
	return pf_err_set(err, PF_ELIMIT, "the query selects %zu profiles, over the cap of %zu", n, max);
}

static int cmp_hit(const void *a, const void *b)
{
	const struct hit *x = a, *y = b;
	if (x->t_ns != y->t_ns)
		return x->t_ns < y->t_ns ? -1 : 1;
	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static struct hit *hit_new(struct gather *g)
{
	pf_xgrow((void **)&g->hits, &g->cap, g->n + 1, sizeof(*g->hits));
	memset(&g->hits[g->n], 0, sizeof(*g->hits));
	return &g->hits[g->n++];
}

static void hit_totals_alloc(struct gather *g, struct hit *h, size_t n)
{
	h->ntotals = n;
	h->ttype = pf_arena_alloc(g->arena, (n + 1) * sizeof(char *));
	h->tunit = pf_arena_alloc(g->arena, (n + 1) * sizeof(char *));
	h->tval = pf_arena_alloc(g->arena, (n + 1) * sizeof(int64_t));
}

/* A hit for entry e of head series s (head symbols live as long as the head). */
static void hit_from_head(struct tsdb *db, struct gather *g, const struct tsdb__series *s,
			  const struct tsdb__entry *e)
{
	struct hit *h = hit_new(g);
	h->t_ns = e->t_ns;
	h->hash = tsdb__series_hash(s);
	h->seq = e->seq;
	h->kind = e->kind;
	h->size = e->size;
	h->s = s;
	h->loc = e->loc;
	h->pos = e->pos;
	h->src = SIZE_MAX;
	hit_totals_alloc(g, h, e->ntotals);
	for (size_t k = 0; k < h->ntotals; k++) {
		h->ttype[k] = tsdb__head_sym(db->head, e->totals[k].type);
		h->tunit[k] = tsdb__head_sym(db->head, e->totals[k].unit);
		h->tval[k] = e->totals[k].value;
	}
}

/* A hit for entry e of series ord of block b (src: its index; its strings),
 * totals from totals[e->totals_at]. */
static void hit_from_block(struct gather *g, struct tsdb__block *b, size_t src, uint32_t ord,
			   const struct tsdb__bentry *e, const struct tsdb__btotal *totals)
{
	struct hit *h = hit_new(g);
	h->t_ns = e->t_ns;
	h->hash = tsdb__block_series_hash(b, ord);
	h->seq = e->seq;
	h->kind = e->kind;
	h->size = e->size;
	h->b = b;
	h->ord = ord;
	h->be = *e;
	h->src = src;
	hit_totals_alloc(g, h, e->ntotals);
	for (size_t k = 0; k < h->ntotals; k++) {
		const struct tsdb__btotal *t = &totals[e->totals_at + k];
		h->ttype[k] = t->type;
		h->tunit[k] = t->unit;
		h->tval[k] = t->value;
	}
}

/* Keep the newest n hits of each series (hits sorted, order kept). Each
 * source gave at most n of a series: the newest n over all of them. */
static void series_trim(struct gather *g, size_t n)
{
	struct pf_htab seen;
	size_t k = g->n;

	pf_htab_init(&seen, 64);
	for (size_t i = g->n; i-- > 0;) {
		uint32_t c = 0;
		pf_htab_get(&seen, g->hits[i].hash, &c);
		if (c >= n)
			continue;
		pf_htab_set(&seen, g->hits[i].hash, c + 1);
		g->hits[--k] = g->hits[i];
	}
	memmove(g->hits, g->hits + k, (g->n - k) * sizeof(*g->hits));
	g->n -= k;
	pf_htab_free(&seen);
}

/*
 * Everything q selects, sorted by (t, hash, seq), duplicates dropped, the
 * newest q->series_limit of each series and then the newest q->limit kept;
 * each hit's walk field keeps its place in the walk's order. Called with
 * db->state held shared (and kept until the hits are used).
 */
static int gather(struct tsdb *db, const struct tsdb_query *q, struct gather *g,
		  struct pf_err *err)
{
	size_t over = 0; /* profiles past q->max_profiles, counted only */
	int rc;

	memset(g, 0, sizeof(*g));
	g->arena = pf_arena_new();
	if ((rc = tsdb__rit_init(&g->it, db, q, TSDB__RIT_PROFILE, err)) < 0)
		return rc;
	while (tsdb__rit_next(&g->it)) {
		if ((g->n + over) % 1024 == 1023 && (rc = past_deadline(q)) < 0)
			return pf_err_set(err, rc, "stopped after finding %zu profiles",
					  g->n + over);
		/* without a limit nothing past the cap is kept: count the rest
		 * (profiles in two overlapping blocks mid-compaction count twice) */
		if (q->max_profiles && !q->limit && !q->series_limit && g->n >= q->max_profiles) {
			over++;
			continue;
		}
		if (g->it.b)
			hit_from_block(g, g->it.b, g->it.src, g->it.ord, g->it.be, g->it.btotals);
		else
			hit_from_head(db, g, g->it.s, g->it.e);
		g->hits[g->n - 1].walk = g->n - 1;
	}
	if ((rc = past_deadline(q)) < 0)
		return pf_err_set(err, rc, "stopped after finding %zu profiles", g->n + over);
	if (over)
		return over_cap(g->n + over, q->max_profiles, err);
	if (g->n > 1) {
		size_t k = 1;
		qsort(g->hits, g->n, sizeof(*g->hits), cmp_hit);
		for (size_t i = 1; i < g->n; i++) /* overlapping blocks mid-compaction */
			if (cmp_hit(&g->hits[i], &g->hits[k - 1]) != 0)
				g->hits[k++] = g->hits[i];
		g->n = k;
	}
	if (q->series_limit && g->n > q->series_limit)
		series_trim(g, q->series_limit);
	if (q->limit && g->n > q->limit) {
		memmove(g->hits, g->hits + (g->n - q->limit), q->limit * sizeof(*g->hits));
		g->n = q->limit;
	}
	if (q->max_profiles && g->n > q->max_profiles)
		return over_cap(g->n, q->max_profiles, err);
	return 0;
}

/*
 * The profiles q->ids name, in their order (an id named twice is two
 * hits), as tsdb_read finds them: the head first, then the blocks holding
 * the time. Ids that do not decode or name nothing are skipped. Called
 * with db->state held shared.
 */
static int gather_ids(struct tsdb *db, const struct tsdb_query *q, struct gather *g,
		      struct pf_err *err)
{
	struct tsdb__bentries es = {0};
	const struct tsdb__block *es_b = NULL; /* es holds the entries of (es_b, es_ord) */
	uint32_t es_ord = 0;

	memset(g, 0, sizeof(*g));
	g->arena = pf_arena_new();
	g->it.done = 1;
	g->blocks = tsdb__blocks_get(db, &g->nblocks);
	for (size_t i = 0; i < q->nids; i++) {
		uint64_t hash;
		int64_t t_ns;
		uint32_t seq;
		int found = 0;

		int stop;
		if (i % 256 == 255 && (stop = past_deadline(q)) < 0) {
			if (es_b)
				tsdb__bentries_free(&es);
			return pf_err_set(err, stop, "stopped after looking up %zu of %zu ids", i,
					  q->nids);
		}
		if (!q->ids[i] || tsdb__id_decode(q->ids[i], &hash, &t_ns, &seq) < 0)
			continue;
		tsdb__head_rdlock(db->head);
		{
			const struct tsdb__series *s = tsdb__head_by_hash(db->head, hash);
			const struct tsdb__entry *e = s ? tsdb__series_find(s, t_ns, seq) : NULL;
			if (e) {
				hit_from_head(db, g, s, e);
				found = 1;
			}
		}
		tsdb__head_unlock(db->head);
		for (size_t bi = 0; bi < g->nblocks && !found; bi++) {
			struct tsdb__block *b = g->blocks[bi];
			const struct tsdb__block_info *in = tsdb__block_info(b);
			uint32_t ord;
			if (t_ns < in->min_t || t_ns > in->max_t || !tsdb__block_find_hash(b, hash, &ord))
				continue;
			if (!es_b || es_b != b || es_ord != ord) {
				if (es_b)
					tsdb__bentries_free(&es);
				tsdb__block_entries(b, ord, &es);
				es_b = b;
				es_ord = ord;
			}
			for (size_t j = 0; j < es.n && !found; j++) {
				if (es.e[j].t_ns == t_ns && es.e[j].seq == seq) {
					hit_from_block(g, b, bi, ord, &es.e[j], es.totals);
					found = 1;
				}
			}
		}
		if (found) {
			g->hits[g->n - 1].walk = g->n - 1;
			g->hits[g->n - 1].idx = i;
		}
	}
	if (es_b)
		tsdb__bentries_free(&es);
	{
		int stop = past_deadline(q);
		if (stop < 0)
			return pf_err_set(err, stop, "stopped after looking up %zu ids", q->nids);
	}
	if (q->max_profiles && g->n > q->max_profiles)
		return over_cap(g->n, q->max_profiles, err);
	return 0;
}

/* ---- series ------------------------------------------------------------ */

static char *arena_str(struct pf_arena *a, const char *s)
{
	return pf_arena_strndup(a, s, strlen(s));
}

struct tsdb_series_set {
	struct tsdb_series_info *v;
	size_t n, cap;
	struct pf_arena *arena;
	struct pf_map *by_hash; /* series hash -> index in v */
};

/* Count into set the walk's series (SERIES grain); the first sight of a
 * hash copies its labels. */
static void series_add(struct tsdb_series_set *set, const struct tsdb__rit *it)
{
	uint64_t hash = tsdb__rit_hash(it), at = set->n;
	struct tsdb_series_info *si;

	if (!pf_map_get_or_put(set->by_hash, &hash, sizeof(hash), &at)) {
		size_t nl = tsdb__rit_nlabels(it);
		struct tsdb_label *l = pf_arena_alloc(set->arena, (nl ? nl : 1) * sizeof(*l));
		pf_xgrow((void **)&set->v, &set->cap, set->n + 1, sizeof(*set->v));
		si = &set->v[set->n++];
		memset(si, 0, sizeof(*si));
		for (size_t i = 0; i < nl; i++) {
			const char *name, *value;
			tsdb__rit_label(it, i, &name, &value);
			l[i].name = arena_str(set->arena, name);
			l[i].value = arena_str(set->arena, value);
		}
		si->labels = l;
		si->nlabels = nl;
		si->min_t_ns = it->lo;
		si->max_t_ns = it->hi;
	}
	si = &set->v[at];
	si->profiles += it->count;
	if (it->lo < si->min_t_ns)
		si->min_t_ns = it->lo;
	if (it->hi > si->max_t_ns)
		si->max_t_ns = it->hi;
}

static int cmp_series_info(const void *a, const void *b)
{
	const struct tsdb_series_info *x = a, *y = b;
	for (size_t i = 0; i < x->nlabels && i < y->nlabels; i++) {
		int c = strcmp(x->labels[i].name, y->labels[i].name);
		if (c)
			return c;
		if ((c = strcmp(x->labels[i].value, y->labels[i].value)) != 0)
			return c;
	}
	return x->nlabels < y->nlabels ? -1 : x->nlabels > y->nlabels;
}

int tsdb_series(struct tsdb *db, const struct tsdb_query *q, struct tsdb_series_set **out,
		struct pf_err *err)
{
	struct tsdb_series_set *set;
	struct tsdb__rit it;
	int rc;

	*out = NULL;
	if (!db || __atomic_load_n(&db->closed, __ATOMIC_ACQUIRE))
		return pf_err_set(err, PF_ECLOSED, "store is closed");
	pthread_rwlock_rdlock(&db->state);
	if ((rc = tsdb__rit_init(&it, db, q, TSDB__RIT_SERIES, err)) < 0) {
		tsdb__rit_finish(&it);
		pthread_rwlock_unlock(&db->state);
		return rc;
	}
	set = pf_xcalloc(1, sizeof(*set));
	set->arena = pf_arena_new();
	set->by_hash = pf_map_new(64);
	while (tsdb__rit_next(&it))
		series_add(set, &it);
	/* labels are copied: the blocks may go */
	tsdb__rit_finish(&it);
	pthread_rwlock_unlock(&db->state);
	if (set->n > 1)
		qsort(set->v, set->n, sizeof(*set->v), cmp_series_info);
	*out = set;
	return 0;
}

size_t tsdb_series_len(const struct tsdb_series_set *set)
{
	return set ? set->n : 0;
}

const struct tsdb_series_info *tsdb_series_at(const struct tsdb_series_set *set, size_t i)
{
	return &set->v[i];
}

void tsdb_series_free(struct tsdb_series_set *set)
{
	if (!set)
		return;
	free(set->v);
	pf_map_free(set->by_hash);
	pf_arena_free(set->arena);
	free(set);
}

/* ---- metas ------------------------------------------------------------- */

static void hit_label(struct tsdb *db, const struct hit *h, size_t i, const char **name,
		      const char **value)
{
	if (h->b)
		tsdb__block_series_label(h->b, h->ord, i, name, value);
	else
		tsdb__series_label(db->head, h->s, i, name, value);
}

static size_t hit_nlabels(const struct hit *h)
{
	return h->b ? tsdb__block_series_nlabels(h->b, h->ord) : tsdb__series_nlabels(h->s);
}

/* Fill m from h, strings in a; labels may be shared (NULL: build them). */
static void meta_fill(struct tsdb *db, struct tsdb_meta *m, const struct hit *h,
		      struct tsdb_label *labels, struct pf_arena *a)
{
	size_t nl = hit_nlabels(h);

	tsdb__id_encode(h->hash, h->t_ns, h->seq, m->id);
	m->t_ns = h->t_ns;
	m->kind = (enum tsdb_kind)h->kind;
	m->size = (size_t)h->size;
	if (!labels) {
		labels = pf_arena_alloc(a, (nl ? nl : 1) * sizeof(*labels));
		for (size_t i = 0; i < nl; i++) {
			const char *name, *value;
			hit_label(db, h, i, &name, &value);
			labels[i].name = arena_str(a, name);
			labels[i].value = arena_str(a, value);
		}
	}
	m->labels = labels;
	m->nlabels = nl;
	m->ntotals = h->ntotals;
	m->totals = pf_arena_alloc(a, (h->ntotals ? h->ntotals : 1) * sizeof(*m->totals));
	for (size_t i = 0; i < h->ntotals; i++) {
		m->totals[i].type = arena_str(a, h->ttype[i]);
		m->totals[i].unit = arena_str(a, h->tunit[i]);
		m->totals[i].value = h->tval[i];
	}
}

void tsdb_meta_free(struct tsdb_meta *m)
{
	struct meta_box *b = (struct meta_box *)m;
	if (!m)
		return;
	pf_arena_free(b->arena);
	free(b);
}

/* ---- find -------------------------------------------------------------- */

int tsdb_find(struct tsdb *db, const struct tsdb_query *q, struct tsdb_result **out,
	      struct pf_err *err)
{
	struct tsdb_result *res;
	struct gather g;
	struct pf_map *shared;
	int rc;

	*out = NULL;
	if (!db || __atomic_load_n(&db->closed, __ATOMIC_ACQUIRE))
		return pf_err_set(err, PF_ECLOSED, "store is closed");
	if (!q || (q->nmatchers && !q->matchers))
		return pf_err_set(err, PF_EINVAL, "bad query");
	pthread_rwlock_rdlock(&db->state);
	if ((rc = gather(db, q, &g, err)) < 0) {
		pthread_rwlock_unlock(&db->state);
		gather_free(&g);
		return rc;
	}
	res = pf_xcalloc(1, sizeof(*res));
	res->arena = pf_arena_new();
	res->n = g.n;
	res->metas = pf_xcalloc(res->n ? res->n : 1, sizeof(*res->metas));
	/* one copy of each series' labels per result */
	shared = pf_map_new(64);
	for (size_t i = 0; i < g.n; i++) {
		struct tsdb_meta *m = &res->metas[i];
		uint8_t key[8];
		uint64_t v;
		pf_put_le64(key, g.hits[i].hash);
		if (pf_map_get(shared, key, sizeof(key), &v)) {
			meta_fill(db, m, &g.hits[i], res->metas[v].labels, res->arena);
		} else {
			meta_fill(db, m, &g.hits[i], NULL, res->arena);
			pf_map_put(shared, key, sizeof(key), i);
		}
	}
	pf_map_free(shared);
	pthread_rwlock_unlock(&db->state);
	gather_free(&g);
	*out = res;
	return 0;
}

size_t tsdb_result_len(const struct tsdb_result *r)
{
	return r ? r->n : 0;
}

const struct tsdb_meta *tsdb_result_at(const struct tsdb_result *r, size_t i)
{
	return r && i < r->n ? &r->metas[i] : NULL;
}

void tsdb_result_free(struct tsdb_result *r)
{
	if (!r)
		return;
	pf_arena_free(r->arena);
	free(r->metas);
	free(r);
}

/* ---- read -------------------------------------------------------------- */

/* Read a head profile's body from the WAL (state held shared). */
static int read_wal(struct tsdb *db, const struct hit *h, struct pf_buf *body, struct pf_err *err)
{
	struct pf_buf mb = PF_BUF_INIT(TSDB__META_MAX);
	struct tsdb__rec *r = NULL;
	const char *why = NULL;
	size_t old_len = body->len;
	int rc;

	if ((rc = tsdb__wal_read(db->wal, &h->loc, h->size, &mb, body, err)) < 0)
		goto out;
	r = pf_xmalloc(sizeof(*r));
	if (tsdb__rec_decode(mb.data, mb.len, h->loc.len - TSDB__REC_HDR, r, &why) < 0 ||
	    r->hash != h->hash || r->t_ns != h->t_ns || r->seq != h->seq || r->body_len != h->size) {
		char path[PATH_MAX];
		tsdb__wal_loc_path(db->wal, &h->loc, path, sizeof(path));
		rc = pf_err_set(err, PF_ECORRUPT, "%s:%" PRIu64 ": record does not match its index entry%s%s",
				path, h->loc.off, why ? ": " : "", why ? why : "");
		body->len = old_len;
	}
out:
	free(r);
	pf_buf_free(&mb);
	return rc;
}

/* The body of a hit: WAL bytes, or a block profile re-encoded (pprof, gzip)
 * or its raw bytes. */
static int read_hit(struct tsdb *db, const struct hit *h, struct pf_buf *body, struct pf_err *err)
{
	struct pprof_profile *p = NULL;
	int rc;

	if (!h->b)
		return read_wal(db, h, body, err);
	if ((rc = tsdb__block_decode(h->b, h->ord, &h->be, &p, body, err)) < 0)
		return rc;
	if (p) {
		rc = pprof_encode(p, body, err);
		pprof_free(p);
	}
	return rc;
}

int tsdb_read(struct tsdb *db, const char *id, struct pf_buf *body, struct tsdb_meta **meta,
	      struct pf_err *err)
{
	struct meta_box *box = NULL;
	struct gather g = {0};
	struct hit *h = NULL;
	struct tsdb__block **blocks = NULL;
	size_t nblocks = 0;
	uint64_t hash;
	int64_t t_ns;
	uint32_t seq;
	int rc;

	if (meta)
		*meta = NULL;
	if (!db || __atomic_load_n(&db->closed, __ATOMIC_ACQUIRE))
		return pf_err_set(err, PF_ECLOSED, "store is closed");
	if (!body)
		return pf_err_set(err, PF_EINVAL, "no body buffer");
	if (tsdb__id_decode(id, &hash, &t_ns, &seq) < 0)
		return pf_err_set(err, PF_ENOTFOUND, "nothing found");

	pthread_rwlock_rdlock(&db->state);
	g.arena = pf_arena_new();
	/* the head first */
	tsdb__head_rdlock(db->head);
	{
		const struct tsdb__series *s = tsdb__head_by_hash(db->head, hash);
		const struct tsdb__entry *e = s ? tsdb__series_find(s, t_ns, seq) : NULL;
		if (e) {
			hit_from_head(db, &g, s, e);
			h = &g.hits[0];
		}
	}
	tsdb__head_unlock(db->head);
	if (!h) {
		/* then the blocks holding the time */
		blocks = tsdb__blocks_get(db, &nblocks);
		for (size_t bi = 0; bi < nblocks && !h; bi++) {
			struct tsdb__block *b = blocks[bi];
			const struct tsdb__block_info *in = tsdb__block_info(b);
			struct tsdb__bentries es;
			uint32_t ord;
			if (t_ns < in->min_t || t_ns > in->max_t || !tsdb__block_find_hash(b, hash, &ord))
				continue;
			tsdb__block_entries(b, ord, &es);
			for (size_t j = 0; j < es.n && !h; j++) {
				if (es.e[j].t_ns == t_ns && es.e[j].seq == seq) {
					hit_from_block(&g, b, bi, ord, &es.e[j], es.totals);
					h = &g.hits[0];
				}
			}
			tsdb__bentries_free(&es);
		}
	}
	if (!h) {
		rc = pf_err_set(err, PF_ENOTFOUND, "nothing found");
		goto out;
	}
	if ((rc = read_hit(db, h, body, err)) < 0)
		goto out;
	if (meta) {
		box = pf_xcalloc(1, sizeof(*box));
		box->arena = pf_arena_new();
		meta_fill(db, &box->m, h, NULL, box->arena);
		*meta = &box->m;
	}
out:
	pthread_rwlock_unlock(&db->state);
	gather_free(&g);
	tsdb__blocks_put(blocks, nblocks);
	return rc;
}

/* ---- merge ------------------------------------------------------------- */

static const char *hit_type(struct tsdb *db, const struct hit *h)
{
	for (size_t i = 0; i < hit_nlabels(h); i++) {
		const char *name, *value;
		hit_label(db, h, i, &name, &value);
		if (strcmp(name, "type") == 0)
			return value;
	}
	return "";
}

/*
 * The order a merge reads its hits in: head profiles first, those only in
 * the WAL in the order found, then the symbolized ones by group, series,
 * chunk and place in the chunk; then block profiles by block, chunk and
 * place in the chunk, so that each chunk is decoded once and replayed
 * forward, whatever the order of the series in time or of the ids asked
 * for.
 */
static int cmp_hit_read(const void *a, const void *b)
{
	const struct hit *x = a, *y = b;
	if (!x->b != !y->b)
		return !x->b ? -1 : 1;
	if (!x->b && (x->pos.hs || y->pos.hs)) {
		uintptr_t gx, gy;
		if (!x->pos.hs != !y->pos.hs)
			return !x->pos.hs ? -1 : 1;
		gx = (uintptr_t)tsdb__hseries_group(x->pos.hs);
		gy = (uintptr_t)tsdb__hseries_group(y->pos.hs);
		if (gx != gy)
			return gx < gy ? -1 : 1;
		if (x->pos.hs != y->pos.hs)
			return (uintptr_t)x->pos.hs < (uintptr_t)y->pos.hs ? -1 : 1;
		if (x->pos.chunk != y->pos.chunk)
			return x->pos.chunk < y->pos.chunk ? -1 : 1;
		if (x->pos.idx != y->pos.idx)
			return x->pos.idx < y->pos.idx ? -1 : 1;
	}
	if (x->b) {
		if (x->src != y->src)
			return x->src < y->src ? -1 : 1;
		if (x->be.chunk_off != y->be.chunk_off)
			return x->be.chunk_off < y->be.chunk_off ? -1 : 1;
		if (x->be.chunk_idx != y->be.chunk_idx)
			return x->be.chunk_idx < y->be.chunk_idx ? -1 : 1;
	}
	return x->walk < y->walk ? -1 : x->walk > y->walk;
}

/*
 * Profiles folded one at a time: the first is held as it is (a merge of
 * one is that profile), the second starts a pprof_merger, and every
 * profile is freed once added.
 */
struct fold {
	struct pprof_profile *one;
	struct pprof_merger *pm;
};

/* Fold p in; p is taken (freed here) in every case. */
static int fold_add(struct fold *f, struct pprof_profile *p, struct pf_err *err)
{
	int rc = 0;

	if (!f->one && !f->pm) {
		f->one = p;
		return 0;
	}
	if (!f->pm) {
		f->pm = pprof_merger_new();
		rc = pprof_merger_add(f->pm, f->one, err);
		pprof_free(f->one);
		f->one = NULL;
	}
	if (rc == 0)
		rc = pprof_merger_add(f->pm, p, err);
	pprof_free(p);
	return rc;
}

static int fold_finish(struct fold *f, struct pprof_profile **out, struct pf_err *err)
{
	*out = NULL;
	if (f->one) {
		*out = f->one;
		f->one = NULL;
		return 0;
	}
	if (!f->pm)
		return pf_err_set(err, PF_ENOTFOUND, "nothing found (every profile found was corrupt)");
	return pprof_merger_finish(f->pm, out, err);
}

static void fold_free(struct fold *f)
{
	pprof_free(f->one);
	pprof_merger_free(f->pm);
	memset(f, 0, sizeof(*f));
}

/* The rows of one symbol table of the block being read, summed by stack id. */
struct group {
	struct tsdb__merger *m;
	const struct tsdb__symtab *st;
};

/* Fold the groups' sums into f and drop them (the walk left their block). */
static int groups_fold(struct group *groups, size_t *ngroups, struct fold *f, struct pf_err *err)
{
	int rc = 0;

	for (size_t k = 0; k < *ngroups; k++) {
		struct pprof_profile *p;
		if (rc == 0 && tsdb__merger_count(groups[k].m) > 0 &&
		    (rc = tsdb__merger_finish(groups[k].m, &p, err)) == 0)
			rc = fold_add(f, p, err);
		tsdb__merger_free(groups[k].m);
	}
	*ngroups = 0;
	return rc;
}

/* Fold the head group's sum into f and release the group. */
static int head_group_done(struct tsdb__hgroup **hg, struct tsdb__merger **hm, struct fold *f,
			   struct pf_err *err)
{
	struct pprof_profile *p = NULL;
	int rc = 0;

	if (!*hg)
		return 0;
	if (tsdb__merger_count(*hm) > 0 && (rc = tsdb__merger_finish(*hm, &p, err)) == 0)
		rc = fold_add(f, p, err);
	tsdb__merger_free(*hm);
	*hm = NULL;
	tsdb__hgroup_unlock(*hg);
	*hg = NULL;
	return rc;
}

/* *dec: the chunk of head hit h (its group locked), kept when *dec_hit is
 * a hit of the same chunk, else read (scratch: an open chunk's copy). */
static int head_chunk(const struct hit *h, struct tsdb__chunk_dec **dec, const struct hit **dec_hit,
		      struct pf_buf *scratch, struct pf_err *err)
{
	int rc;

	if (*dec_hit && (*dec_hit)->pos.hs == h->pos.hs && (*dec_hit)->pos.chunk == h->pos.chunk)
		return 0;
	tsdb__chunk_dec_free(*dec);
	*dec = NULL;
	*dec_hit = NULL;
	if ((rc = tsdb__hseries_dec(h->pos.hs, h->pos.chunk, scratch, dec, err)) < 0)
		return rc;
	*dec_hit = h;
	return 0;
}

/* *dec: the chunk of block hit h, kept when *dec_hit is a hit of the same
 * chunk, else read (counted in *decodes when given). */
static int block_chunk(const struct hit *h, struct tsdb__chunk_dec **dec, const struct hit **dec_hit,
		       uint64_t *decodes, struct pf_err *err)
{
	int rc;

	if (*dec_hit && (*dec_hit)->b == h->b && (*dec_hit)->be.chunk_off == h->be.chunk_off)
		return 0;
	tsdb__chunk_dec_free(*dec);
	*dec = NULL;
	*dec_hit = NULL;
	if (decodes)
		__atomic_fetch_add(decodes, 1, __ATOMIC_RELAXED);
	if ((rc = tsdb__block_chunk(h->b, &h->be, dec, err)) < 0)
		return rc;
	*dec_hit = h;
	return 0;
}

/*
 * Merge the hits of g (state held shared) into *out; with gz set, a single
 * pprof hit is appended to gz as stored instead (*out stays NULL).
 * strict: a corrupt chunk fails the merge instead of being left out.
 */
static int merge_hits(struct tsdb *db, const struct tsdb_query *q, struct gather *g, int strict,
		      struct pprof_profile **out, struct pf_buf *gz, struct pf_err *err)
{
	struct group *groups = NULL;
	size_t ngroups = 0, capgroups = 0, cur_src = SIZE_MAX;
	struct tsdb__chunk_dec *dec = NULL;
	const struct hit *dec_hit = NULL;
	struct pf_buf body = PF_BUF_INIT(0);
	struct fold f = {0};
	/* the head group being summed (its lock held) */
	struct tsdb__hgroup *hg = NULL;
	struct tsdb__merger *hm = NULL;
	int rc = 0;

	*out = NULL;
	if (g->n == 0)
		return pf_err_set(err, PF_ENOTFOUND, "nothing found");
	for (size_t i = 0; i < g->n; i++) {
		struct hit *h = &g->hits[i];
		if (h->kind != TSDB_KIND_PPROF)
			return pf_err_set(err, PF_EINVAL, "can't merge profiles of %s type", hit_type(db, h));
		h->walk = i;
	}
	if (g->n == 1 && gz) {
		if ((rc = past_deadline(q)) < 0)
			return pf_err_set(err, rc, "stopped after reading 0 of 1 profiles");
		return read_hit(db, &g->hits[0], gz, err);
	}
	qsort(g->hits, g->n, sizeof(*g->hits), cmp_hit_read);
	for (size_t i = 0; i < g->n; i++) {
		const struct hit *h = &g->hits[i];
		if ((rc = past_deadline(q)) < 0) {
			rc = pf_err_set(err, rc, "stopped after reading %zu of %zu profiles", i,
					g->n);
			goto out;
		}
		if (!h->b && h->pos.hs) {
			/* the symbolized head: summed by stack id as a block's */
			struct tsdb__hgroup *grp = tsdb__hseries_group(h->pos.hs);
			if (grp != hg) {
				if ((rc = head_group_done(&hg, &hm, &f, err)) < 0)
					goto out;
				tsdb__chunk_dec_free(dec);
				dec = NULL;
				dec_hit = NULL;
				hg = grp;
				tsdb__hgroup_lock(hg);
				hm = tsdb__merger_new(tsdb__hgroup_symtab(hg));
			}
			if ((rc = head_chunk(h, &dec, &dec_hit, &body, err)) < 0)
				goto out;
			if ((rc = tsdb__merger_add(hm, dec, h->pos.idx, err)) < 0)
				goto out;
			continue;
		}
		if ((rc = head_group_done(&hg, &hm, &f, err)) < 0)
			goto out;
		if (!h->b) {
			struct pprof_profile *p;
			pf_buf_reset(&body);
			if ((rc = read_wal(db, h, &body, err)) < 0 ||
			    (rc = pprof_decode(body.data, body.len, db->max_profile, &p, err)) < 0 ||
			    (rc = fold_add(&f, p, err)) < 0)
				goto out;
			continue;
		}
		if (h->src != cur_src) {
			/* a new block: the previous one's sums go in */
			if ((rc = groups_fold(groups, &ngroups, &f, err)) < 0)
				goto out;
			cur_src = h->src;
		}
		const struct tsdb__symtab *st;
		struct group *gr = NULL;
		if ((rc = tsdb__block_symtab(h->b, h->ord, &st, err)) < 0)
			goto out;
		for (size_t k = 0; k < ngroups; k++)
			if (groups[k].st == st)
				gr = &groups[k];
		if (!gr) {
			pf_xgrow((void **)&groups, &capgroups, ngroups + 1, sizeof(*groups));
			gr = &groups[ngroups++];
			gr->st = st;
			gr->m = tsdb__merger_new(st);
		}
		rc = block_chunk(h, &dec, &dec_hit, &db->merge_chunk_decodes, err);
		if (rc == PF_ECORRUPT && !strict)
			goto corrupt;
		if (rc < 0)
			goto out;
		rc = tsdb__merger_add(gr->m, dec, h->be.chunk_idx, err);
		if (rc == PF_ECORRUPT && !strict)
			goto corrupt;
		if (rc < 0)
			goto out;
		continue;
	corrupt:
		/* reported and left out; the rest of the merge stands */
		pf_log(PF_LOG_ERROR, "corrupt chunk skipped", "err", err->msg, NULL);
		__atomic_fetch_add(&db->corrupt_skipped, 1, __ATOMIC_RELAXED);
		rc = 0;
	}
	tsdb__chunk_dec_free(dec);
	dec = NULL;
	if ((rc = head_group_done(&hg, &hm, &f, err)) < 0 ||
	    (rc = groups_fold(groups, &ngroups, &f, err)) < 0 || (rc = fold_finish(&f, out, err)) < 0)
		goto out;
	if (gz && (rc = pprof_encode(*out, gz, err)) < 0) {
		pprof_free(*out);
		*out = NULL;
	}
out:
	tsdb__chunk_dec_free(dec);
	tsdb__merger_free(hm);
	if (hg)
		tsdb__hgroup_unlock(hg);
	for (size_t k = 0; k < ngroups; k++)
		tsdb__merger_free(groups[k].m);
	free(groups);
	fold_free(&f);
	pf_buf_free(&body);
	return rc;
}

/* tsdb_merge and tsdb_merge_encoded: find (by query or ids), then merge. */
static int merge_query(struct tsdb *db, const struct tsdb_query *q, struct pprof_profile **out,
		       struct pf_buf *gz, size_t *n, struct pf_err *err)
{
	struct gather g;
	int rc;

	*out = NULL;
	*n = 0;
	if (!db || __atomic_load_n(&db->closed, __ATOMIC_ACQUIRE))
		return pf_err_set(err, PF_ECLOSED, "store is closed");
	if (!q || (q->nmatchers && !q->matchers) || (q->nids && !q->ids))
		return pf_err_set(err, PF_EINVAL, "bad query");
	pthread_rwlock_rdlock(&db->state);
	if (q->ids)
		rc = gather_ids(db, q, &g, err);
	else
		rc = gather(db, q, &g, err);
	if (rc == 0 && (rc = merge_hits(db, q, &g, q->ids != NULL, out, gz, err)) == 0)
		*n = g.n;
	pthread_rwlock_unlock(&db->state);
	gather_free(&g);
	return rc;
}

int tsdb_merge(struct tsdb *db, const struct tsdb_query *q, struct pprof_profile **out,
	       size_t *n, struct pf_err *err)
{
	return merge_query(db, q, out, NULL, n, err);
}

int tsdb_merge_encoded(struct tsdb *db, const struct tsdb_query *q, struct pf_buf *gz, size_t *n,
		       struct pf_err *err)
{
	struct pprof_profile *p = NULL;
	int rc = merge_query(db, q, &p, gz, n, err);
	pprof_free(p);
	return rc;
}

/* ---- focus -------------------------------------------------------------- */

struct tsdb_focus_mem {
	struct tsdb__focuser *f; /* what tsdb_focus_out borrows */
};

/* Profile i of chunk d (of table st) into o. */
static int focus_rows(struct tsdb_focus_mem *m, const struct tsdb__symtab *st,
		      struct tsdb__chunk_dec *d, size_t i, struct tsdb_focus_out *o, struct pf_err *err)
{
	int rc = tsdb__focuser_rows(m->f, st, d, i, &o->ntypes, &o->types, &o->totals, err);
	if (rc == 0)
		o->done = 1;
	return rc;
}

int tsdb_focus(struct tsdb *db, const struct tsdb_query *q, int (*match)(void *arg, const char *s),
	       void *arg, struct tsdb_focus_out *out, struct tsdb_focus_mem **r, struct pf_err *err)
{
	struct tsdb_focus_mem *m;
	struct gather g = {0};
	struct tsdb__chunk_dec *dec = NULL;
	const struct hit *dec_hit = NULL;
	struct tsdb__hgroup *hg = NULL; /* the head group being read (its lock held) */
	struct pf_buf body = PF_BUF_INIT(0);
	int rc;

	*r = m = pf_xcalloc(1, sizeof(*m));
	if (!db || __atomic_load_n(&db->closed, __ATOMIC_ACQUIRE))
		return pf_err_set(err, PF_ECLOSED, "store is closed");
	if (!q || !match || (q->nids && (!q->ids || !out)))
		return pf_err_set(err, PF_EINVAL, "bad focus query");
	m->f = tsdb__focuser_new(match, arg);
	if (q->nids)
		memset(out, 0, q->nids * sizeof(*out));
	pthread_rwlock_rdlock(&db->state);
	if ((rc = gather_ids(db, q, &g, err)) < 0)
		goto out;
	qsort(g.hits, g.n, sizeof(*g.hits), cmp_hit_read);
	for (size_t i = 0; i < g.n; i++) {
		const struct hit *h = &g.hits[i];
		const struct tsdb__symtab *st;

		if ((rc = past_deadline(q)) < 0) {
			rc = pf_err_set(err, rc, "stopped after reading %zu of %zu profiles", i, g.n);
			goto out;
		}
		if (h->kind != TSDB_KIND_PPROF || (!h->b && !h->pos.hs))
			continue; /* not pprof, or only in the WAL: the caller's */
		if (!h->b) {
			struct tsdb__hgroup *grp = tsdb__hseries_group(h->pos.hs);
			if (grp != hg) {
				tsdb__chunk_dec_free(dec);
				dec = NULL;
				dec_hit = NULL;
				if (hg)
					tsdb__hgroup_unlock(hg);
				hg = grp;
				tsdb__hgroup_lock(hg);
			}
			if ((rc = head_chunk(h, &dec, &dec_hit, &body, err)) < 0)
				goto out;
			if ((rc = focus_rows(m, tsdb__hgroup_symtab(hg), dec, h->pos.idx, &out[h->idx],
					     err)) < 0)
				goto out;
			continue;
		}
		if (hg) {
			tsdb__chunk_dec_free(dec);
			dec = NULL;
			dec_hit = NULL;
			tsdb__hgroup_unlock(hg);
			hg = NULL;
		}
		if ((rc = tsdb__block_symtab(h->b, h->ord, &st, err)) < 0)
			goto out;
		if ((rc = block_chunk(h, &dec, &dec_hit, NULL, err)) < 0)
			goto out;
		if ((rc = focus_rows(m, st, dec, h->be.chunk_idx, &out[h->idx], err)) < 0)
			goto out;
	}
	rc = 0;
out:
	tsdb__chunk_dec_free(dec);
	if (hg)
		tsdb__hgroup_unlock(hg);
	pthread_rwlock_unlock(&db->state);
	gather_free(&g);
	pf_buf_free(&body);
	return rc;
}

void tsdb_focus_free(struct tsdb_focus_mem *m)
{
	if (!m)
		return;
	tsdb__focuser_free(m->f);
	free(m);
}

/* ---- labels and stats -------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct strset {
	struct pf_map *m;
	char **v;
	size_t n, cap;
};

static void strset_add(void *arg, const char *s)
{
	struct strset *ss = arg;
	uint64_t v = 0;
	if (pf_map_get_or_put(ss->m, s, strlen(s), &v))
		return;
	pf_xgrow((void **)&ss->v, &ss->cap, ss->n + 1, sizeof(char *));
	ss->v[ss->n++] = pf_xstrdup(s);
}

static void strset_finish(struct strset *ss, char ***out, size_t *n)
{
	if (ss->n > 1)
		qsort(ss->v, ss->n, sizeof(char *), cmp_str);
	*out = ss->v ? ss->v : pf_xcalloc(1, sizeof(char *));
	*n = ss->n;
	pf_map_free(ss->m);
}

static int labels_collect(struct tsdb *db, const char *name, char ***out, size_t *n)
{
	struct strset ss = {pf_map_new(64), NULL, 0, 0};
	struct tsdb__rit it;

	pthread_rwlock_rdlock(&db->state);
	tsdb__rit_init(&it, db, NULL, TSDB__RIT_SOURCE, NULL); /* no matchers: cannot fail */
	while (tsdb__rit_next(&it)) {
		if (it.b && name) {
			tsdb__block_label_values(it.b, name, strset_add, &ss);
		} else if (it.b) {
			tsdb__block_label_names(it.b, strset_add, &ss);
		} else {
			char **hv;
			size_t nh;
			if (name)
				tsdb__head_label_values(db->head, name, &hv, &nh);
			else
				tsdb__head_label_names(db->head, &hv, &nh);
			for (size_t i = 0; i < nh; i++) {
				strset_add(&ss, hv[i]);
				free(hv[i]);
			}
			free(hv);
		}
	}
	tsdb__rit_finish(&it);
	pthread_rwlock_unlock(&db->state);
	strset_finish(&ss, out, n);
	return 0;
}

int tsdb_label_values(struct tsdb *db, const char *name, char ***values, size_t *n)
{
	if (!db || !values || !n || !name)
		return PF_EINVAL;
	return labels_collect(db, name, values, n);
}

int tsdb_label_names(struct tsdb *db, char ***names, size_t *n)
{
	if (!db || !names || !n)
		return PF_EINVAL;
	return labels_collect(db, NULL, names, n);
}

void tsdb_strings_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void tsdb_stats(struct tsdb *db, struct tsdb_stats *st)
{
	struct tsdb__block **bs;
	struct pf_map *series;
	size_t nb;
	int any = 0;

	memset(st, 0, sizeof(*st));
	if (!db)
		return;
	series = pf_map_new(256);
	pthread_rwlock_rdlock(&db->state);
	tsdb__head_counts(db->head, &st->head_series, &st->head_profiles);
	tsdb__head_rdlock(db->head);
	if (tsdb__head_bounds(db->head, &st->head_min_t, &st->head_max_t)) {
		st->min_t = st->head_min_t;
		st->max_t = st->head_max_t;
		any = 1;
	}
	for (uint32_t i = 0; i < tsdb__head_nseries(db->head); i++) {
		const struct tsdb__series *s = tsdb__head_by_id(db->head, i);
		size_t n;
		uint8_t key[8];
		tsdb__series_entries(s, &n);
		if (!n)
			continue;
		pf_put_le64(key, tsdb__series_hash(s));
		pf_map_put(series, key, sizeof(key), 1);
	}
	tsdb__head_unlock(db->head);
	bs = tsdb__blocks_get(db, &nb);
	for (size_t i = 0; i < nb; i++) {
		const struct tsdb__block_info *in = tsdb__block_info(bs[i]);
		if (!any || in->min_t < st->min_t)
			st->min_t = in->min_t;
		if (!any || in->max_t > st->max_t)
			st->max_t = in->max_t;
		any = 1;
		st->blocks++;
		st->block_bytes += in->bytes;
		st->block_profiles += in->nprofiles;
		for (uint32_t o = 0; o < in->nseries; o++) {
			uint8_t key[8];
			pf_put_le64(key, tsdb__block_series_hash(bs[i], o));
			pf_map_put(series, key, sizeof(key), 1);
		}
	}
	tsdb__blocks_put(bs, nb);
	pthread_rwlock_unlock(&db->state);
	st->series = pf_map_len(series);
	pf_map_free(series);
	st->profiles = st->head_profiles + st->block_profiles;
	st->appends = __atomic_load_n(&db->appends, __ATOMIC_RELAXED);
	tsdb__wal_counters(db->wal, &st->wal_fsyncs, &st->wal_bytes);
	st->replayed = db->replayed;
	st->cuts = __atomic_load_n(&db->cuts, __ATOMIC_RELAXED);
	st->compactions = __atomic_load_n(&db->compactions, __ATOMIC_RELAXED);
	st->cut_ns = __atomic_load_n(&db->cut_ns, __ATOMIC_RELAXED);
	st->compact_ns = __atomic_load_n(&db->compact_ns, __ATOMIC_RELAXED);
	st->compacted_profiles = __atomic_load_n(&db->compacted_profiles, __ATOMIC_RELAXED);
	st->retention_drops = __atomic_load_n(&db->retention_drops, __ATOMIC_RELAXED);
	st->maint_rounds = __atomic_load_n(&db->maint_rounds, __ATOMIC_RELAXED);
	st->corrupt_skipped = __atomic_load_n(&db->corrupt_skipped, __ATOMIC_RELAXED);
	st->merge_chunk_decodes = __atomic_load_n(&db->merge_chunk_decodes, __ATOMIC_RELAXED);
	st->retention_dropped_profiles =
		__atomic_load_n(&db->retention_dropped_profiles, __ATOMIC_RELAXED);
	st->checkpoints = __atomic_load_n(&db->checkpoints, __ATOMIC_RELAXED);
	st->checkpoint_failures = __atomic_load_n(&db->checkpoint_failures, __ATOMIC_RELAXED);
	st->checkpoint_ns = __atomic_load_n(&db->checkpoint_ns, __ATOMIC_RELAXED);
}
