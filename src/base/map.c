/*
 * The one hash table of profefe (pf_htab) and pf_map, a byte-string map built
 * on it.
 *
 * pf_htab: open addressing with linear probing over a power-of-two array of
 * 16-byte slots (a 64-bit key and a 32-bit value), doubled when more than 3/4
 * full; deletion shifts the following entries back (no tombstones). A key's
 * home slot comes from murmur3's 64-bit finalizer, so every key bit moves
 * every slot bit: integer keys such as stack << 32 | label set (which differ
 * in their high half only) spread as well as hashes. A slot holds the value
 * plus one; 0 marks it empty.
 */
#include "base.h"

#include <stdlib.h>
#include <xxhash.h>

uint64_t pf_hash64(const void *p, size_t n, uint64_t seed)
{
	return XXH64(p, n, seed);
}

/* ---- pf_htab -------------------------------------------------------------- */

static inline size_t home(uint64_t key, size_t mask)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdull;
	key ^= key >> 33;
	key *= 0xc4ceb9fe1a85ec53ull;
	key ^= key >> 33;
	return (size_t)key & mask;
}

void pf_htab_init(struct pf_htab *t, size_t hint)
{
	size_t cap = 16;
	while (cap / 2 < hint)
		cap *= 2;
	t->slots = pf_xcalloc(cap, sizeof(*t->slots));
	t->mask = cap - 1;
	t->n = 0;
}

void pf_htab_free(struct pf_htab *t)
{
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

void pf_htab_clear(struct pf_htab *t)
{
	if (t->n)
		memset(t->slots, 0, (t->mask + 1) * sizeof(*t->slots));
	t->n = 0;
}

/* The probing core: the slot of the entry with this key for which eq holds
 * (eq NULL: the key alone), else the empty slot that ends its run. */
static inline size_t probe(const struct pf_htab *t, uint64_t key, pf_htab_eq_fn eq,
			   const void *ctx, const void *k)
{
	const struct pf_htab_slot *s = t->slots;
	size_t mask = t->mask, i;

	for (i = home(key, mask); s[i].val; i = (i + 1) & mask)
		if (s[i].key == key && (!eq || eq(ctx, k, s[i].val - 1)))
			break;
	return i;
}

static void grow(struct pf_htab *t)
{
	size_t old = t->mask + 1, mask = old * 2 - 1;
	struct pf_htab_slot *s = pf_xcalloc(mask + 1, sizeof(*s));

	for (size_t i = 0; i < old; i++) {
		size_t j;
		if (!t->slots[i].val)
			continue;
		for (j = home(t->slots[i].key, mask); s[j].val; j = (j + 1) & mask)
			;
		s[j] = t->slots[i];
	}
	free(t->slots);
	t->slots = s;
	t->mask = mask;
}

static inline void insert(struct pf_htab *t, size_t pos, uint64_t key, uint32_t val)
{
	t->slots[pos].key = key;
	t->slots[pos].val = val + 1;
	if (++t->n * 4 > (t->mask + 1) * 3)
		grow(t);
}

int pf_htab_find(const struct pf_htab *t, uint64_t key, pf_htab_eq_fn eq, const void *ctx,
		 const void *k, uint32_t *val, size_t *pos)
{
	size_t i = probe(t, key, eq, ctx, k);

	if (pos)
		*pos = i;
	if (!t->slots[i].val)
		return 0;
	if (val)
		*val = t->slots[i].val - 1;
	return 1;
}

void pf_htab_insert_at(struct pf_htab *t, size_t pos, uint64_t key, uint32_t val)
{
	insert(t, pos, key, val);
}

void pf_htab_del_at(struct pf_htab *t, size_t pos)
{
	struct pf_htab_slot *s = t->slots;
	size_t mask = t->mask, i = pos, j = pos;

	/* move back each following entry of the run that may live at i: one
	 * whose home is not cyclically in (i, j] */
	for (;;) {
		size_t h;
		j = (j + 1) & mask;
		if (!s[j].val)
			break;
		h = home(s[j].key, mask);
		if (i <= j ? (i < h && h <= j) : (i < h || h <= j))
			continue;
		s[i] = s[j];
		i = j;
	}
	s[i].val = 0;
	t->n--;
}

int pf_htab_get(const struct pf_htab *t, uint64_t key, uint32_t *val)
{
	size_t i = probe(t, key, NULL, NULL, NULL);

	if (!t->slots[i].val)
		return 0;
	*val = t->slots[i].val - 1;
	return 1;
}

int pf_htab_put(struct pf_htab *t, uint64_t key, uint32_t val, uint32_t *old)
{
	size_t i = probe(t, key, NULL, NULL, NULL);

	if (t->slots[i].val) {
		*old = t->slots[i].val - 1;
		return 1;
	}
	insert(t, i, key, val);
	return 0;
}

void pf_htab_set(struct pf_htab *t, uint64_t key, uint32_t val)
{
	size_t i = probe(t, key, NULL, NULL, NULL);

	if (t->slots[i].val)
		t->slots[i].val = val + 1;
	else
		insert(t, i, key, val);
}

/* ---- pf_map: byte strings -> uint64, keys copied ------------------------ */

/* Entries are dense (a deletion moves the last one into the hole); the
 * table maps the xxHash64 of a key to its entry. */
struct entry {
	char *key;
	size_t klen;
	uint64_t val;
};

struct pf_map {
	struct pf_htab t;
	struct entry *e;
	size_t n, cap;
};

struct bytes {
	const void *p;
	size_t n;
};

static int key_eq(const void *ctx, const void *key, uint32_t i)
{
	const struct entry *e = &((const struct pf_map *)ctx)->e[i];
	const struct bytes *k = key;
	return e->klen == k->n && (k->n == 0 || memcmp(e->key, k->p, k->n) == 0);
}

static int index_eq(const void *ctx, const void *key, uint32_t i)
{
	(void)ctx;
	return *(const uint32_t *)key == i;
}

struct pf_map *pf_map_new(size_t hint)
{
	struct pf_map *m = pf_xcalloc(1, sizeof(*m));
	pf_htab_init(&m->t, hint);
	return m;
}

void pf_map_free(struct pf_map *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->e[i].key);
	free(m->e);
	pf_htab_free(&m->t);
	free(m);
}

/* 1 when key is in m (*i its entry); else 0 and *pos its insertion slot. */
static int lookup(const struct pf_map *m, const void *key, size_t klen, uint64_t *h, uint32_t *i,
		  size_t *pos)
{
	struct bytes k = { key, klen };
	*h = XXH64(key, klen, 0);
	return pf_htab_find(&m->t, *h, key_eq, m, &k, i, pos);
}

static void add(struct pf_map *m, uint64_t h, size_t pos, const void *key, size_t klen,
		uint64_t val)
{
	struct entry *e;

	pf_xgrow((void **)&m->e, &m->cap, m->n + 1, sizeof(*m->e));
	e = &m->e[m->n];
	e->key = pf_xmalloc(klen ? klen : 1);
	if (klen)
		memcpy(e->key, key, klen);
	e->klen = klen;
	e->val = val;
	pf_htab_insert_at(&m->t, pos, h, (uint32_t)m->n);
	m->n++;
}

int pf_map_get(const struct pf_map *m, const void *key, size_t klen, uint64_t *val)
{
	uint64_t h;
	uint32_t i;

	if (!lookup(m, key, klen, &h, &i, NULL))
		return 0;
	if (val)
		*val = m->e[i].val;
	return 1;
}

int pf_map_get_or_put(struct pf_map *m, const void *key, size_t klen, uint64_t *val)
{
	uint64_t h;
	uint32_t i;
	size_t pos;

	if (lookup(m, key, klen, &h, &i, &pos)) {
		*val = m->e[i].val;
		return 1;
	}
	add(m, h, pos, key, klen, *val);
	return 0;
}

void pf_map_put(struct pf_map *m, const void *key, size_t klen, uint64_t val)
{
	uint64_t h;
	uint32_t i;
	size_t pos;

	if (lookup(m, key, klen, &h, &i, &pos))
		m->e[i].val = val;
	else
		add(m, h, pos, key, klen, val);
}

int pf_map_del(struct pf_map *m, const void *key, size_t klen)
{
	uint64_t h;
	uint32_t i, last;
	size_t pos;

	if (!lookup(m, key, klen, &h, &i, &pos))
		return 0;
	free(m->e[i].key);
	pf_htab_del_at(&m->t, pos);
	last = (uint32_t)--m->n;
	if (i != last) {
		/* the last entry moves into the hole: its slot now says i */
		m->e[i] = m->e[last];
		h = XXH64(m->e[i].key, m->e[i].klen, 0);
		pf_htab_find(&m->t, h, index_eq, NULL, &last, NULL, &pos);
		m->t.slots[pos].val = i + 1;
	}
	return 1;
}

size_t pf_map_len(const struct pf_map *m)
{
	return m->n;
}

int pf_map_next(const struct pf_map *m, size_t *it, const void **key, size_t *klen, uint64_t *val)
{
	const struct entry *e;

	if (*it >= m->n)
		return 0;
	e = &m->e[(*it)++];
	if (key)
		*key = e->key;
	if (klen)
		*klen = e->klen;
	if (val)
		*val = e->val;
	return 1;
}
