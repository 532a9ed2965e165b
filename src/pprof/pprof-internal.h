/*
 * pprof internals shared by decode.c, encode.c and merge.c. Not part of the
 * module's contract: only pprof.h is.
 */
#ifndef PF_PPROF_INTERNAL_H
#define PF_PPROF_INTERNAL_H

#include "pprof/pprof.h"

/*
 * id -> index into the message's array of one kind (mapping, location,
 * function). Dense when the ids are exactly 1..n in order (what Go writes);
 * otherwise a hash table of id -> index, freed by pprof_free.
 */
struct pprof__idmap {
	int dense;
	size_t n;
	struct pf_htab t; /* (not dense) */
};

/* A profile: the message and everything it points to live in arena, and so
 * does this struct; pprof_free frees the id maps' tables and the arena. */
struct pprof_profile {
	struct pf_arena *arena;
	pprof_msg *msg;
	struct pprof__idmap mappings, locations, functions;
};

/* Index of id in m, or -1 when there is no such id (or id is 0). */
static inline int64_t pprof__idmap_find(const struct pprof__idmap *m, uint64_t id)
{
	uint32_t i;

	if (id == 0)
		return -1;
	if (m->dense)
		return id <= m->n ? (int64_t)(id - 1) : -1;
	return pf_htab_get(&m->t, id, &i) ? (int64_t)i : -1;
}

/*
 * Build the id maps of p (in p->arena) and validate p->msg as pprof_decode
 * documents. Returns 0 or PF_EINVAL with err naming the offending item.
 */
int pprof__index(struct pprof_profile *p, struct pf_err *err);

/* 1 when the body looks like a debug=1/debug=2 text profile (decode.c). */
int pprof__is_legacy_text(const uint8_t *p, size_t n);

#endif
