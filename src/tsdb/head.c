/*
 * The head: the in-memory index of recent profiles.
 *
 * Strings (label names and values, total types and units) are interned as
 * symbols. Series are found by their 64-bit label hash and carry their
 * labels as symbol pairs; ids are assigned in creation order so postings
 * (one sorted id list per name=value pair) only ever grow at the end. Per
 * series, entries are kept sorted by (t, seq) and point at where their
 * record is stored (struct tsdb__loc), which the head never reads.
 *
 * A series is created before its first profile is durable (its sequence
 * numbers are taken from it); until a profile lands in it, it is invisible:
 * queries find nothing in it, and label values and names skip it.
 *
 * Locking: one rwlock. Readers (queries) share it; series creation and
 * entry insertion take it exclusively. Series, their label arrays and
 * interned strings are never freed while the head lives, so pointers to
 * them stay valid across locks.
 */
#include "tsdb/tsdb-internal.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>

struct tsdb__series {
	uint64_t hash;
	uint32_t id;
	uint32_t nlabels;
	uint32_t *labels; /* name, value symbol pairs, sorted by name */
	uint64_t next_seq; /* atomic */
	struct tsdb__entry *entries;
	size_t n, cap;
};

struct postings {
	uint32_t value; /* value symbol of the pair */
	uint32_t *ids;
	size_t n, cap;
};

struct label_name {
	uint32_t sym;
	uint32_t *plists; /* indices into head->postings, one per value */
	size_t n, cap;
};

struct tsdb__head {
	pthread_rwlock_t rw;

	struct pf_map *sym_map; /* string -> symbol */
	char **syms;
	size_t nsyms, capsyms;

	struct pf_map *by_hash; /* 8-byte hash -> series id */
	struct tsdb__series **series;
	size_t nseries, capseries;

	struct pf_map *plist_map; /* (name sym, value sym) -> postings index */
	struct postings *plists;
	size_t nplists, capplists;

	struct pf_map *name_map; /* name sym -> label_name index */
	struct label_name *names;
	size_t nnames, capnames;

	uint64_t visible_series, profiles;
};

struct tsdb__head *tsdb__head_new(void)
{
	struct tsdb__head *h = pf_xcalloc(1, sizeof(*h));

	pthread_rwlock_init(&h->rw, NULL);
	h->sym_map = pf_map_new(256);
	h->by_hash = pf_map_new(256);
	h->plist_map = pf_map_new(256);
	h->name_map = pf_map_new(64);
	return h;
}

void tsdb__head_free(struct tsdb__head *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->nseries; i++) {
		struct tsdb__series *s = h->series[i];
		for (size_t j = 0; j < s->n; j++)
			free(s->entries[j].totals);
		free(s->entries);
		free(s->labels);
		free(s);
	}
	free(h->series);
	for (size_t i = 0; i < h->nsyms; i++)
		free(h->syms[i]);
	free(h->syms);
	for (size_t i = 0; i < h->nplists; i++)
		free(h->plists[i].ids);
	free(h->plists);
	for (size_t i = 0; i < h->nnames; i++)
		free(h->names[i].plists);
	free(h->names);
	pf_map_free(h->sym_map);
	pf_map_free(h->by_hash);
	pf_map_free(h->plist_map);
	pf_map_free(h->name_map);
	pthread_rwlock_destroy(&h->rw);
	free(h);
}

void tsdb__head_rdlock(struct tsdb__head *h)
{
	pthread_rwlock_rdlock(&h->rw);
}

void tsdb__head_wrlock(struct tsdb__head *h)
{
	pthread_rwlock_wrlock(&h->rw);
}

void tsdb__head_unlock(struct tsdb__head *h)
{
	pthread_rwlock_unlock(&h->rw);
}

/* ---- symbols ----------------------------------------------------------- */

static uint32_t sym_intern(struct tsdb__head *h, const char *p, size_t n)
{
	uint64_t v = h->nsyms;

	if (pf_map_get_or_put(h->sym_map, p, n, &v))
		return (uint32_t)v;
	if (h->nsyms >= UINT32_MAX)
		abort();
	pf_xgrow((void **)&h->syms, &h->capsyms, h->nsyms + 1, sizeof(char *));
	h->syms[h->nsyms++] = pf_xstrndup(p, n);
	return (uint32_t)v;
}

static int sym_find(const struct tsdb__head *h, const char *s, uint32_t *sym)
{
	uint64_t v;
	if (!pf_map_get(h->sym_map, s, strlen(s), &v))
		return 0;
	*sym = (uint32_t)v;
	return 1;
}

const char *tsdb__head_sym(const struct tsdb__head *h, uint32_t sym)
{
	return h->syms[sym];
}

/* ---- series ------------------------------------------------------------ */

static int labels_equal(const struct tsdb__head *h, const struct tsdb__series *s,
			const struct tsdb__rec_label *labels, size_t n)
{
	if (s->nlabels != n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		const char *name = h->syms[s->labels[2 * i]], *value = h->syms[s->labels[2 * i + 1]];
		if (strlen(name) != labels[i].name.n || memcmp(name, labels[i].name.p, labels[i].name.n) ||
		    strlen(value) != labels[i].value.n ||
		    memcmp(value, labels[i].value.p, labels[i].value.n))
			return 0;
	}
	return 1;
}

static void postings_add(struct tsdb__head *h, uint32_t name, uint32_t value, uint32_t id)
{
	uint8_t key[8];
	uint64_t idx = h->nplists, nidx = h->nnames;
	struct postings *p;

	pf_put_le32(key, name);
	pf_put_le32(key + 4, value);
	if (!pf_map_get_or_put(h->plist_map, key, sizeof(key), &idx)) {
		struct label_name *ln;
		pf_xgrow((void **)&h->plists, &h->capplists, h->nplists + 1, sizeof(*h->plists));
		memset(&h->plists[h->nplists], 0, sizeof(*h->plists));
		h->plists[h->nplists++].value = value;
		if (!pf_map_get_or_put(h->name_map, key, 4, &nidx)) {
			pf_xgrow((void **)&h->names, &h->capnames, h->nnames + 1, sizeof(*h->names));
			memset(&h->names[h->nnames], 0, sizeof(*h->names));
			h->names[h->nnames++].sym = name;
		}
		ln = &h->names[nidx];
		pf_xgrow((void **)&ln->plists, &ln->cap, ln->n + 1, sizeof(uint32_t));
		ln->plists[ln->n++] = (uint32_t)idx;
	}
	p = &h->plists[idx];
	pf_xgrow((void **)&p->ids, &p->cap, p->n + 1, sizeof(uint32_t));
	p->ids[p->n++] = id; /* ids grow: the list stays sorted */
}

struct tsdb__series *tsdb__head_by_hash(struct tsdb__head *h, uint64_t hash)
{
	uint8_t key[8];
	uint64_t id;

	pf_put_le64(key, hash);
	if (!pf_map_get(h->by_hash, key, sizeof(key), &id))
		return NULL;
	return h->series[id];
}

struct tsdb__series *tsdb__head_by_id(struct tsdb__head *h, uint32_t id)
{
	return id < h->nseries ? h->series[id] : NULL;
}

struct tsdb__series *tsdb__head_find_series(struct tsdb__head *h, uint64_t hash,
					    const struct tsdb__rec_label *labels, size_t nlabels)
{
	struct tsdb__series *s;

	pthread_rwlock_rdlock(&h->rw);
	s = tsdb__head_by_hash(h, hash);
	if (s && !labels_equal(h, s, labels, nlabels))
		s = NULL;
	pthread_rwlock_unlock(&h->rw);
	return s;
}

int tsdb__head_get_series(struct tsdb__head *h, uint64_t hash,
			  const struct tsdb__rec_label *labels, size_t nlabels,
			  tsdb__seq_floor_fn floor, void *floor_arg, struct tsdb__series **out,
			  struct pf_err *err)
{
	struct tsdb__series *s;
	uint8_t key[8];
	uint64_t id;
	int rc = 0;

	pthread_rwlock_rdlock(&h->rw);
	s = tsdb__head_by_hash(h, hash);
	if (s && !labels_equal(h, s, labels, nlabels))
		rc = PF_EINVAL;
	pthread_rwlock_unlock(&h->rw);
	if (s)
		goto out;

	pthread_rwlock_wrlock(&h->rw);
	s = tsdb__head_by_hash(h, hash);
	if (s) {
		if (!labels_equal(h, s, labels, nlabels))
			rc = PF_EINVAL;
		pthread_rwlock_unlock(&h->rw);
		goto out;
	}
	if (h->nseries >= UINT32_MAX) {
		pthread_rwlock_unlock(&h->rw);
		return pf_err_set(err, PF_ETOOBIG, "too many series");
	}
	s = pf_xcalloc(1, sizeof(*s));
	s->hash = hash;
	s->id = (uint32_t)h->nseries;
	s->nlabels = (uint32_t)nlabels;
	s->next_seq = floor ? floor(floor_arg, hash) : 0;
	s->labels = pf_xcalloc(nlabels ? 2 * nlabels : 1, sizeof(uint32_t));
	for (size_t i = 0; i < nlabels; i++) {
		s->labels[2 * i] = sym_intern(h, labels[i].name.p, labels[i].name.n);
		s->labels[2 * i + 1] = sym_intern(h, labels[i].value.p, labels[i].value.n);
		postings_add(h, s->labels[2 * i], s->labels[2 * i + 1], s->id);
	}
	pf_xgrow((void **)&h->series, &h->capseries, h->nseries + 1, sizeof(*h->series));
	h->series[h->nseries++] = s;
	pf_put_le64(key, hash);
	id = s->id;
	pf_map_put(h->by_hash, key, sizeof(key), id);
	pthread_rwlock_unlock(&h->rw);
out:
	if (rc < 0)
		return pf_err_set(err, rc,
				  "label set collides with another series on hash %016llx; "
				  "profile refused",
				  (unsigned long long)hash);
	*out = s;
	return 0;
}

uint64_t tsdb__series_next_seq(struct tsdb__series *s)
{
	return __atomic_fetch_add(&s->next_seq, 1, __ATOMIC_RELAXED);
}

void tsdb__series_seen_seq(struct tsdb__series *s, uint64_t seq)
{
	uint64_t cur = __atomic_load_n(&s->next_seq, __ATOMIC_RELAXED);
	while (cur <= seq &&
	       !__atomic_compare_exchange_n(&s->next_seq, &cur, seq + 1, 0, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED))
		;
}

uint64_t tsdb__series_hash(const struct tsdb__series *s)
{
	return s->hash;
}

uint32_t tsdb__series_id(const struct tsdb__series *s)
{
	return s->id;
}

size_t tsdb__series_nlabels(const struct tsdb__series *s)
{
	return s->nlabels;
}

void tsdb__series_label(const struct tsdb__head *h, const struct tsdb__series *s, size_t i,
			const char **name, const char **value)
{
	*name = h->syms[s->labels[2 * i]];
	*value = h->syms[s->labels[2 * i + 1]];
}

uint32_t tsdb__head_nseries(const struct tsdb__head *h)
{
	return (uint32_t)h->nseries;
}

/* ---- entries ----------------------------------------------------------- */

static int entry_cmp(int64_t t, uint32_t seq, const struct tsdb__entry *e)
{
	if (t != e->t_ns)
		return t < e->t_ns ? -1 : 1;
	return seq < e->seq ? -1 : seq > e->seq;
}

/* First index whose (t, seq) is not below (t, seq). */
static size_t lower_bound(const struct tsdb__series *s, int64_t t, uint32_t seq)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (entry_cmp(t, seq, &s->entries[mid]) > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct tsdb__entry *tsdb__series_find(const struct tsdb__series *s, int64_t t_ns,
					    uint32_t seq)
{
	size_t i = lower_bound(s, t_ns, seq);
	if (i < s->n && entry_cmp(t_ns, seq, &s->entries[i]) == 0)
		return &s->entries[i];
	return NULL;
}

const struct tsdb__entry *tsdb__series_entries(const struct tsdb__series *s, size_t *n)
{
	*n = s->n;
	return s->entries;
}

int tsdb__head_insert(struct tsdb__head *h, struct tsdb__series *s, int64_t t_ns, uint32_t seq,
		      uint8_t kind, uint64_t size, const struct tsdb__rec_total *totals,
		      size_t ntotals, const struct tsdb__loc *loc, const struct tsdb__hpos *pos)
{
	struct tsdb__entry e = {0};
	size_t i;

	e.t_ns = t_ns;
	e.seq = seq;
	e.kind = kind;
	e.size = size;
	e.loc = *loc;
	if (pos) {
		e.pos = *pos;
		e.wal_only = pos->hs == NULL;
	}
	e.ntotals = (uint16_t)ntotals;
	pthread_rwlock_wrlock(&h->rw);
	i = lower_bound(s, t_ns, seq);
	if (i < s->n && entry_cmp(t_ns, seq, &s->entries[i]) == 0) {
		pthread_rwlock_unlock(&h->rw);
		return PF_EINVAL;
	}
	if (ntotals) {
		e.totals = pf_xcalloc(ntotals, sizeof(*e.totals));
		for (size_t j = 0; j < ntotals; j++) {
			e.totals[j].type = sym_intern(h, totals[j].type.p, totals[j].type.n);
			e.totals[j].unit = sym_intern(h, totals[j].unit.p, totals[j].unit.n);
			e.totals[j].value = totals[j].value;
		}
	}
	pf_xgrow((void **)&s->entries, &s->cap, s->n + 1, sizeof(*s->entries));
	memmove(&s->entries[i + 1], &s->entries[i], (s->n - i) * sizeof(*s->entries));
	s->entries[i] = e;
	tsdb__hsym_live(e.pos.hs, 1);
	if (s->n++ == 0)
		h->visible_series++;
	h->profiles++;
	pthread_rwlock_unlock(&h->rw);
	return 0;
}

int tsdb__head_remove_locked(struct tsdb__head *h, struct tsdb__series *s, int64_t t_ns,
			     uint32_t seq)
{
	size_t i = lower_bound(s, t_ns, seq);

	if (i >= s->n || entry_cmp(t_ns, seq, &s->entries[i]) != 0)
		return PF_ENOTFOUND;
	free(s->entries[i].totals);
	tsdb__hsym_live(s->entries[i].pos.hs, -1);
	memmove(&s->entries[i], &s->entries[i + 1], (s->n - i - 1) * sizeof(*s->entries));
	if (--s->n == 0) {
		h->visible_series--;
		free(s->entries);
		s->entries = NULL;
		s->cap = 0;
	}
	h->profiles--;
	return 0;
}

int tsdb__head_move_locked(struct tsdb__series *s, int64_t t_ns, uint32_t seq,
			   const struct tsdb__loc *from, const struct tsdb__loc *to)
{
	size_t i = lower_bound(s, t_ns, seq);
	struct tsdb__entry *e;

	if (i >= s->n || entry_cmp(t_ns, seq, &s->entries[i]) != 0)
		return PF_ENOTFOUND;
	e = &s->entries[i];
	if (e->loc.kind != from->kind || e->loc.seg != from->seg || e->loc.off != from->off)
		return PF_ENOTFOUND;
	e->loc = *to;
	return 0;
}

int tsdb__head_set_pos_locked(struct tsdb__series *s, int64_t t_ns, uint32_t seq,
			      const struct tsdb__hpos *pos)
{
	size_t i = lower_bound(s, t_ns, seq);
	struct tsdb__entry *e;

	if (i >= s->n || entry_cmp(t_ns, seq, &s->entries[i]) != 0)
		return PF_ENOTFOUND;
	e = &s->entries[i];
	tsdb__hsym_live(e->pos.hs, -1);
	e->pos = *pos;
	e->wal_only = pos->hs == NULL; /* tried: it does not decode */
	tsdb__hsym_live(e->pos.hs, 1);
	return 0;
}

int tsdb__head_bounds(const struct tsdb__head *h, int64_t *min_t, int64_t *max_t)
{
	int any = 0;

	for (size_t i = 0; i < h->nseries; i++) {
		const struct tsdb__series *s = h->series[i];
		if (!s->n)
			continue;
		if (!any || s->entries[0].t_ns < *min_t)
			*min_t = s->entries[0].t_ns;
		if (!any || s->entries[s->n - 1].t_ns > *max_t)
			*max_t = s->entries[s->n - 1].t_ns;
		any = 1;
	}
	return any;
}

void tsdb__head_counts(struct tsdb__head *h, uint64_t *series, uint64_t *profiles)
{
	pthread_rwlock_rdlock(&h->rw);
	*series = h->visible_series;
	*profiles = h->profiles;
	pthread_rwlock_unlock(&h->rw);
}

/* ---- selection --------------------------------------------------------- */

static void head_pair(void *arg, const char *name, const char *value, struct tsdb__plist *out)
{
	struct tsdb__head *h = arg;
	uint32_t name_sym, value_sym;
	uint8_t key[8];
	uint64_t idx;

	out->n = 0;
	if (!sym_find(h, name, &name_sym) || !sym_find(h, value, &value_sym))
		return;
	pf_put_le32(key, name_sym);
	pf_put_le32(key + 4, value_sym);
	if (pf_map_get(h->plist_map, key, sizeof(key), &idx))
		tsdb__plist_copy(out, h->plists[idx].ids, h->plists[idx].n);
}

static void head_each_value(void *arg, const char *name, tsdb__value_fn fn, void *fnarg)
{
	struct tsdb__head *h = arg;
	uint32_t name_sym;
	uint8_t key[4];
	uint64_t idx;

	if (!sym_find(h, name, &name_sym))
		return;
	pf_put_le32(key, name_sym);
	if (!pf_map_get(h->name_map, key, 4, &idx))
		return;
	const struct label_name *ln = &h->names[idx];
	for (size_t i = 0; i < ln->n; i++) {
		const struct postings *pl = &h->plists[ln->plists[i]];
		fn(fnarg, h->syms[pl->value], pl->ids, pl->n);
	}
}

void tsdb__head_psource(struct tsdb__head *h, struct tsdb__psource *src)
{
	src->arg = h;
	src->nseries = (uint32_t)h->nseries;
	src->pair = head_pair;
	src->each_value = head_each_value;
}

/* ---- label values and names ------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int postings_visible(const struct tsdb__head *h, const struct postings *p)
{
	for (size_t i = 0; i < p->n; i++)
		if (h->series[p->ids[i]]->n > 0)
			return 1;
	return 0;
}

static int name_visible(const struct tsdb__head *h, const struct label_name *ln)
{
	for (size_t i = 0; i < ln->n; i++)
		if (postings_visible(h, &h->plists[ln->plists[i]]))
			return 1;
	return 0;
}

int tsdb__head_label_values(struct tsdb__head *h, const char *name, char ***values, size_t *n)
{
	uint32_t name_sym;
	uint64_t idx;
	uint8_t key[4];
	char **v = NULL;
	size_t nv = 0;

	pthread_rwlock_rdlock(&h->rw);
	if (name && sym_find(h, name, &name_sym)) {
		pf_put_le32(key, name_sym);
		if (pf_map_get(h->name_map, key, 4, &idx)) {
			const struct label_name *ln = &h->names[idx];
			v = pf_xcalloc(ln->n ? ln->n : 1, sizeof(char *));
			for (size_t i = 0; i < ln->n; i++) {
				const struct postings *p = &h->plists[ln->plists[i]];
				if (postings_visible(h, p))
					v[nv++] = pf_xstrdup(h->syms[p->value]);
			}
		}
	}
	pthread_rwlock_unlock(&h->rw);
	if (nv)
		qsort(v, nv, sizeof(char *), cmp_str);
	*values = v;
	*n = nv;
	return 0;
}

int tsdb__head_label_names(struct tsdb__head *h, char ***names, size_t *n)
{
	char **v;
	size_t nv = 0;

	pthread_rwlock_rdlock(&h->rw);
	v = pf_xcalloc(h->nnames ? h->nnames : 1, sizeof(char *));
	for (size_t i = 0; i < h->nnames; i++)
		if (name_visible(h, &h->names[i]))
			v[nv++] = pf_xstrdup(h->syms[h->names[i].sym]);
	pthread_rwlock_unlock(&h->rw);
	if (nv)
		qsort(v, nv, sizeof(char *), cmp_str);
	*names = v;
	*n = nv;
	return 0;
}
