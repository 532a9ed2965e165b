/*
 * pprof internals shared by decode.c, stream.c, encode.c and merge.c. Not part of the
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

/* ---- the top-level scan before decoding (decode.c, stream.c) ----------- */

/* One varint at *pp (before end): 0, or -1 when cut off or over 10 bytes. */
static inline int pprof__scan_varint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
	const uint8_t *p = *pp;
	uint64_t x = 0;

	for (unsigned shift = 0; p < end && shift <= 63; shift += 7) {
		uint8_t c = *p++;
		x |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*pp = p;
			*v = x;
			return 0;
		}
	}
	return -1;
}

/* Step *pp over one field (its key, and its value skipped by wire type and
 * length, nothing unpacked); *key gets the key. 0, or -1 when the wire
 * format is broken (cut off, or wire type 3, 4, 6 or 7). */
static inline int pprof__scan_field(const uint8_t **pp, const uint8_t *end, uint64_t *key)
{
	const uint8_t *p = *pp;
	uint64_t v;

	if (pprof__scan_varint(&p, end, key) < 0)
		return -1;
	switch (*key & 7) {
	case 0:
		if (pprof__scan_varint(&p, end, &v) < 0)
			return -1;
		break;
	case 1:
	case 5:
		v = (*key & 7) == 1 ? 8 : 4;
		if (v > (uint64_t)(end - p))
			return -1;
		p += v;
		break;
	case 2:
		if (pprof__scan_varint(&p, end, &v) < 0 || v > (uint64_t)(end - p))
			return -1;
		p += v;
		break;
	default:
		return -1;
	}
	*pp = p;
	return 0;
}

/* The count caps of pprof.h over count[field number] of the top-level
 * fields (fields 1 to 6 are read): 0, or PF_ELIMIT naming the first cap
 * passed and the count. */
int pprof__check_caps(const uint64_t *count, struct pf_err *err);

/* pprof_gunzip on zlib alone (no libdeflate): for the differential check
 * of the two inflates (tests/fuzz/fuzz_stream.c). */
int pprof__gunzip_zlib(const void *data, size_t len, size_t max, struct pf_buf *out,
		       struct pf_err *err);

#endif
