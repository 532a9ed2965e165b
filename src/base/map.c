/* Open-addressing hash map (linear probing, tombstones) from byte strings to
 * uint64, hashed with xxHash64. Keys live in one growing key arena. */
#include "base.h"

#include <stdlib.h>
#include <xxhash.h>

#define SLOT_EMPTY 0
#define SLOT_FULL 1
#define SLOT_DEAD 2

struct slot {
	uint64_t hash;
	uint64_t val;
	char *key;
	size_t klen;
	uint8_t state;
};

struct pf_map {
	struct slot *slots;
	size_t cap;  /* power of two */
	size_t len;  /* live entries */
	size_t used; /* live + dead */
};

uint64_t pf_hash64(const void *p, size_t n, uint64_t seed)
{
	return XXH64(p, n, seed);
}

struct pf_map *pf_map_new(size_t hint)
{
	struct pf_map *m = pf_xcalloc(1, sizeof(*m));
	size_t cap = 16;
	while (cap < hint * 2)
		cap *= 2;
	m->slots = pf_xcalloc(cap, sizeof(struct slot));
	m->cap = cap;
	return m;
}

void pf_map_free(struct pf_map *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].state == SLOT_FULL)
			free(m->slots[i].key);
	free(m->slots);
	free(m);
}

static struct slot *find(const struct pf_map *m, uint64_t h, const void *key, size_t klen,
			 struct slot **free_slot)
{
	size_t mask = m->cap - 1, i = (size_t)h & mask;
	struct slot *dead = NULL;

	for (;;) {
		struct slot *s = &m->slots[i];
		if (s->state == SLOT_EMPTY) {
			if (free_slot)
				*free_slot = dead ? dead : s;
			return NULL;
		}
		if (s->state == SLOT_DEAD) {
			if (!dead)
				dead = s;
		} else if (s->hash == h && s->klen == klen && memcmp(s->key, key, klen) == 0) {
			return s;
		}
		i = (i + 1) & mask;
	}
}

static void rehash(struct pf_map *m, size_t cap)
{
	struct slot *old = m->slots;
	size_t oldcap = m->cap;

	m->slots = pf_xcalloc(cap, sizeof(struct slot));
	m->cap = cap;
	m->used = m->len;
	for (size_t i = 0; i < oldcap; i++) {
		if (old[i].state != SLOT_FULL)
			continue;
		size_t j = (size_t)old[i].hash & (cap - 1);
		while (m->slots[j].state != SLOT_EMPTY)
			j = (j + 1) & (cap - 1);
		m->slots[j] = old[i];
	}
	free(old);
}

int pf_map_get(const struct pf_map *m, const void *key, size_t klen, uint64_t *val)
{
	struct slot *s = find(m, XXH64(key, klen, 0), key, klen, NULL);
	if (!s)
		return 0;
	if (val)
		*val = s->val;
	return 1;
}

int pf_map_get_or_put(struct pf_map *m, const void *key, size_t klen, uint64_t *val)
{
	uint64_t h = XXH64(key, klen, 0);
	struct slot *fs = NULL, *s = find(m, h, key, klen, &fs);

	if (s) {
		*val = s->val;
		return 1;
	}
	if ((m->used + 1) * 4 > m->cap * 3) {
		rehash(m, m->len * 2 + 2 > m->cap / 2 ? m->cap * 2 : m->cap);
		find(m, h, key, klen, &fs);
	}
	if (fs->state == SLOT_EMPTY)
		m->used++;
	fs->state = SLOT_FULL;
	fs->hash = h;
	fs->key = pf_xmalloc(klen ? klen : 1);
	memcpy(fs->key, key, klen);
	fs->klen = klen;
	fs->val = *val;
	m->len++;
	return 0;
}

void pf_map_put(struct pf_map *m, const void *key, size_t klen, uint64_t val)
{
	uint64_t v = val;
	if (pf_map_get_or_put(m, key, klen, &v)) {
		struct slot *s = find(m, XXH64(key, klen, 0), key, klen, NULL);
		s->val = val;
	}
}

int pf_map_del(struct pf_map *m, const void *key, size_t klen)
{
	struct slot *s = find(m, XXH64(key, klen, 0), key, klen, NULL);
	if (!s)
		return 0;
	free(s->key);
	s->key = NULL;
	s->state = SLOT_DEAD;
	m->len--;
	return 1;
}

size_t pf_map_len(const struct pf_map *m)
{
	return m->len;
}

int pf_map_next(const struct pf_map *m, size_t *it, const void **key, size_t *klen, uint64_t *val)
{
	while (*it < m->cap) {
		struct slot *s = &m->slots[(*it)++];
		if (s->state == SLOT_FULL) {
			if (key)
				*key = s->key;
			if (klen)
				*klen = s->klen;
			if (val)
				*val = s->val;
			return 1;
		}
	}
	return 0;
}
