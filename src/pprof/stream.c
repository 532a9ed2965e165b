/*
 * pprof streaming decoder (stream.h): one walk over the wire format, no
 * protobuf-c object tree, every check of pprof_decode with its sentences.
 *
 * Forward references. Protobuf fields may come in any order, and Go writes
 * the samples before the locations they name, the locations before their
 * functions and the string table last. A decoder that hands items over in
 * wire order must either keep every reference until the end (for Go's
 * profiles: every sample's location ids, as many as the frames of all the
 * stacks, and every location's mapping and function ids) or hand over items
 * whose references it cannot resolve yet. Instead, a first scan of the
 * top-level fields (which pprof_decode makes too, for its count caps; it
 * reads each top-level key and length and skips the submessage) notes
 * where each kind's fields start and end. The walk then visits the kinds in
 * dependency order: header fields, strings, mappings, functions, locations,
 * samples, each over its own range of the body (Go writes each kind
 * contiguously, so the ranges hardly overlap and the skipping costs one
 * more read of the top-level keys). Every submessage is decoded exactly
 * once, and every reference is checked when it is met, against ids already
 * seen: no reference is kept. A sink that interns (the symbolized head)
 * gets strings before the functions naming them and locations before the
 * samples naming them, which is what it needs.
 *
 * Same errors as pprof_decode. pprof_decode fails on the first error of
 * its fixed order: empty input, legacy text, the top-level scan (malformed,
 * then the count caps), then protobuf-c's unpack (any malformed field
 * anywhere), the labels-per-sample cap, then the validator's checks in
 * their order (string_table[0], string indexes by kind, ids by kind,
 * location references, then samples). This walk meets the checks in
 * another order, so it records only the first failure of each rank
 * (below; within a rank items come in message order, as in the
 * validator's loops) and reports the lowest rank at the end; a malformed
 * field, which outranks every check, ends the walk at once. The wire
 * rules are protobuf-c's (1.4), not a generic reader's, since they decide
 * accept or reject: a tag of at most 5 bytes whose first byte has field
 * bits, a length of at most 5 bytes, varints of at most 10 bytes, groups
 * refused, a known field with the wrong wire type refused, repeated
 * scalars packed or not, bools of any wire type (true when any byte after
 * the tag has a value bit, length bytes included), the
 * last of a repeated scalar field wins, and so does the last period_type
 * as a whole (protobuf-c 1.4.1 does not merge a repeated message field).
 */
#include "pprof/stream.h"
#include "pprof/pprof-internal.h"

#include <limits.h>
#include <stdlib.h>

/* ---- wire format (protobuf-c's rules) ----------------------------------- */

/* The hot readers are forced inline: the walk calls them per field. */
#define HOT static inline __attribute__((always_inline))

/* A varint of at most 10 bytes at p: its length, 0 when unterminated. */
HOT size_t varint_len(const uint8_t *p, const uint8_t *end)
{
	size_t max = PF_MIN((size_t)(end - p), (size_t)10);

	for (size_t i = 0; i < max; i++)
		if (!(p[i] & 0x80))
			return i + 1;
	return 0;
}

HOT uint64_t varint_val(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
	return v;
}

HOT uint64_t load_le64(const uint8_t *p)
{
	uint64_t x;

	memcpy(&x, p, sizeof(x));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	x = __builtin_bswap64(x);
#endif
	return x;
}

/*
 * The varint at p that ends before end, read without a branch per byte:
 * 8 bytes are loaded at once (p + 8 <= lim: lim is the end of the whole
 * body, so the load stays inside it even where the field ends sooner).
 * Returns its length (1-8) and *v, or 0 when it is longer than 8 bytes,
 * ends at or past end, or the 8 bytes are not there: the caller then takes
 * the byte by byte path, which decides (the same value, or malformed).
 */
HOT size_t varint_fast(const uint8_t *p, const uint8_t *end, const uint8_t *lim, uint64_t *v)
{
	uint64_t x, m;
	size_t n;

	if ((size_t)(lim - p) < 8)
		return 0;
	x = load_le64(p);
	m = ~x & 0x8080808080808080ull; /* the stop bits */
	if (!m)
		return 0;
	n = ((size_t)__builtin_ctzll(m) >> 3) + 1;
	if (n > (size_t)(end - p))
		return 0;
	x &= (m ^ (m - 1)) & 0x7f7f7f7f7f7f7f7full; /* the varint's bytes, value bits */
	x = (x & 0x007f007f007f007full) | ((x & 0x7f007f007f007f00ull) >> 1);
	x = (x & 0x00003fff00003fffull) | ((x & 0x3fff00003fff0000ull) >> 2);
	x = (x & 0x000000000fffffffull) | ((x & 0x0fffffff00000000ull) >> 4);
	*v = x;
	return n;
}

/* One field: its number, wire type, varint value (and bytes) or payload. */
struct field {
	uint32_t tag;
	int wt;
	uint64_t v;
	const uint8_t *d; /* wt 0: the varint's bytes; wt 2: the payload */
	size_t n;
	const uint8_t *raw; /* everything after the tag (wt 2: length and payload) */
	size_t rawn;
};

/* The next field at *pp: 1, 0 at end, -1 when malformed. */
HOT int next_field(const uint8_t **pp, const uint8_t *end, struct field *f)
{
	const uint8_t *p = *pp;
	size_t max, i, l;
	uint32_t tag;
	unsigned shift = 4;

	if (p >= end)
		return 0;
	if ((p[0] & 0xf8) == 0)
		return -1; /* field 0 */
	f->wt = p[0] & 7;
	tag = (p[0] & 0x7f) >> 3;
	if (p[0] & 0x80) {
		max = PF_MIN((size_t)(end - p), (size_t)5);
		for (i = 1; i < max; i++) {
			if (p[i] & 0x80) {
				tag |= (uint32_t)(p[i] & 0x7f) << shift;
				shift += 7;
			} else {
				tag |= (uint32_t)p[i] << shift;
				break;
			}
		}
		if (i == max)
			return -1;
		p += i + 1;
	} else {
		p++;
	}
	f->tag = tag;
	f->raw = p;
	switch (f->wt) {
	case 0:
		if (p < end && p[0] < 0x80) { /* the common one-byte value */
			f->d = p;
			f->n = 1;
			f->v = *p++;
			break;
		}
		f->d = p;
		if ((l = varint_fast(p, end, end, &f->v)) == 0) {
			if ((l = varint_len(p, end)) == 0)
				return -1;
			f->v = varint_val(p, l);
		}
		f->n = l;
		p += l;
		break;
	case 1:
	case 5:
		l = f->wt == 1 ? 8 : 4;
		if ((size_t)(end - p) < l)
			return -1;
		f->d = p;
		f->n = l;
		f->v = 0;
		p += l;
		break;
	case 2: {
		uint64_t len = 0;
		f->v = 0;
		if (p < end && p[0] < 0x80) { /* the common one-byte length */
			len = p[0];
			if (len > (uint64_t)(end - p) - 1)
				return -1;
			f->d = p + 1;
			f->n = (size_t)len;
			p += 1 + len;
			break;
		}
		max = PF_MIN((size_t)(end - p), (size_t)5);
		for (i = 0; i < max; i++) {
			len |= (uint64_t)(p[i] & 0x7f) << (7 * i);
			if (!(p[i] & 0x80))
				break;
		}
		if (i == max || len > (uint64_t)(end - p) - (i + 1))
			return -1;
		p += i + 1;
		f->d = p;
		f->n = (size_t)len;
		p += len;
		break;
	}
	default:
		return -1;
	}
	f->rawn = (size_t)(p - f->raw);
	*pp = p;
	return 1;
}

/*
 * A bool as protobuf-c 1.4.1 reads it: of any wire type (it checks none for
 * bools), true when any byte after the tag has a value bit (for wt 2 the
 * length's bytes count too).
 */
HOT int field_bool(const struct field *f)
{
	for (size_t i = 0; i < f->rawn; i++)
		if (f->raw[i] & 0x7f)
			return 1;
	return 0;
}

/*
 * A message of scalar varint fields 1..nv into v[1..nv] (the last of each
 * wins; v is not cleared, so a caller can merge); bools (bit i of
 * bool_mask for field i) as field_bool. Unknown fields are skipped; a known
 * one with another wire type is malformed. 0 or -1.
 */
HOT int parse_scalars(const uint8_t *p, size_t n, uint64_t *v, uint32_t nv, uint32_t bool_mask)
{
	const uint8_t *end = p + n;
	struct field f;
	int r;

	while ((r = next_field(&p, end, &f)) > 0) {
		if (f.tag < 1 || f.tag > nv)
			continue;
		if (f.wt != 0 && !((bool_mask >> f.tag) & 1))
			return -1;
		v[f.tag] = (bool_mask >> f.tag) & 1 ? (uint64_t)field_bool(&f) : f.v;
	}
	return r;
}

/*
 * Append a repeated 64-bit varint field (one value, or packed) to *arr;
 * lim: the end of the body (varint_fast).
 */
HOT int append_varints_ck(const struct field *f, uint64_t **arr, size_t *n, size_t *cap,
			  const uint8_t *lim, uint64_t bound, uint64_t *out)
{
	uint64_t over = 0; /* some value - 1 >= bound (the location ids' check) */

	if (f->wt == 0) {
		if (*n + 1 > *cap)
			pf_xgrow((void **)arr, cap, *n + 1, sizeof(**arr));
		(*arr)[(*n)++] = f->v;
		*out |= (uint64_t)(f->v - 1 >= bound);
		return 0;
	}
	if (f->wt != 2)
		return -1;
	if (f->n == 0)
		return 0; /* an empty packed field (and *arr may be NULL yet) */
	{
		const uint8_t *p = f->d, *end = f->d + f->n;
		if (*n + f->n > *cap) /* at most one per byte */
			pf_xgrow((void **)arr, cap, *n + f->n, sizeof(**arr));
		uint64_t *o = *arr + *n;
		while (p < end) {
			size_t l;
			uint64_t v;
			if (*p < 0x80) {
				v = *p++;
			} else if ((l = varint_fast(p, end, lim, &v)) > 0) {
				p += l;
			} else {
				if ((l = varint_len(p, end)) == 0)
					return -1;
				v = varint_val(p, l);
				p += l;
			}
			*o++ = v;
			over |= (uint64_t)(v - 1 >= bound);
		}
		*n = (size_t)(o - *arr);
	}
	*out |= over;
	return 0;
}

/* Append a repeated 64-bit varint field (one value, or packed) to *arr. */
HOT int append_varints(const struct field *f, uint64_t **arr, size_t *n, size_t *cap,
		       const uint8_t *lim)
{
	uint64_t unused = 0;

	return append_varints_ck(f, arr, n, cap, lim, UINT64_MAX, &unused);
}

/*
 * Zero a small array of scalars with plain stores: an initializer ("= {0}")
 * in the walk's loops became `rep stos`, whose start-up cost was a fifth of
 * the walk of a heap profile.
 */
#define ZERO_SCALARS(v)                                              \
	do {                                                         \
		for (size_t z_ = 0; z_ < PF_ARRAY_LEN(v); z_++)      \
			(v)[z_] = 0;                                 \
	} while (0)

/* ---- the walk's state --------------------------------------------------- */

/* Error ranks: pprof_decode's order (see the file's top). */
enum {
	R_LABELS = 1,
	R_NOSTRINGS,
	R_STR0,
	R_STR_SAMPLE_TYPE,
	R_STR_PERIOD_TYPE,
	R_STR_DROP,
	R_STR_KEEP,
	R_STR_DEFAULT,
	R_STR_COMMENT,
	R_STR_MAPPING,
	R_STR_FUNCTION,
	R_STR_LABEL,
	R_MAPPING_ZERO,
	R_MAPPING_DUP,
	R_FUNCTION_ZERO,
	R_FUNCTION_DUP,
	R_LOCATION_ZERO,
	R_LOCATION_DUP,
	R_LOCATION_REF,
	R_SAMPLE,
	R_NONE = INT_MAX,
};

/* ids of one kind seen so far: dense (1..n in order) until one is not */
struct ids {
	size_t n;
	int dense;
	struct pf_htab t;
};

struct walk {
	const struct pprof_sink *sink;
	void *ctx;
	const uint8_t *bend; /* the body's end: the fast varint reads stop there */
	int rank;          /* of the error in err, R_NONE when none */
	int code;
	struct pf_err err;
	uint64_t n_string;
	size_t n_sample_type;
	struct ids mappings, functions, locations;
	/* scratch, reused item to item */
	uint64_t *u64;
	size_t n_u64, cap_u64;
	uint64_t *vals;
	size_t n_vals, cap_vals;
	struct pprof_stream_label *labels;
	size_t cap_labels;
	struct pprof_stream_line *lines;
	size_t cap_lines;
	int64_t *st;
	size_t cap_st;
	uint64_t *comments;
	size_t n_comments, cap_comments;
};

/* Record an error of rank rank unless one of a lower rank is recorded. */
static void fail_at(struct walk *w, int rank, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void fail_at(struct walk *w, int rank, int code, const char *fmt, ...)
{
	va_list ap;

	if (rank >= w->rank)
		return;
	w->rank = rank;
	w->code = code;
	va_start(ap, fmt);
	vsnprintf(w->err.msg, sizeof(w->err.msg), fmt, ap);
	va_end(ap);
	w->err.code = code;
}

/* Check a string index (what: the field, as pprof_decode names it). */
#define CHECK_STR(w, rk_, idx, ...)                                                              \
	do {                                                                                      \
		if ((rk_) < (w)->rank && (uint64_t)(idx) >= (w)->n_string) {                    \
			char what_[160];                                                          \
			snprintf(what_, sizeof(what_), __VA_ARGS__);                              \
			fail_at((w), (rk_), PF_EINVAL,                                            \
				"%s: string index %lld out of range (string table has %llu entries)", \
				what_, (long long)(idx), (unsigned long long)(w)->n_string);      \
		}                                                                                 \
	} while (0)

static void ids_init(struct ids *s)
{
	s->n = 0;
	s->dense = 1;
	memset(&s->t, 0, sizeof(s->t));
}

static void ids_free(struct ids *s)
{
	if (!s->dense)
		pf_htab_free(&s->t);
}

/* Leave the dense form: ids 1..n go into the table. */
static void ids_undense(struct ids *s)
{
	if (!s->dense)
		return;
	pf_htab_init(&s->t, s->n * 2 + 16);
	for (size_t i = 0; i < s->n; i++)
		pf_htab_set(&s->t, i + 1, (uint32_t)i);
	s->dense = 0;
}

/* Add the non-zero id of item s->n; 1 when the id was seen before, else 0. */
static int ids_add(struct ids *s, uint64_t id)
{
	uint32_t old;

	if (s->dense) {
		if (id == s->n + 1) {
			s->n++;
			return 0;
		}
		ids_undense(s); /* and a duplicate goes on below: n counts it */
	}
	return pf_htab_put(&s->t, id, (uint32_t)s->n++, &old) ? 1 : 0;
}

static int ids_has(const struct ids *s, uint64_t id)
{
	uint32_t i;

	if (id == 0)
		return 0;
	if (s->dense)
		return id <= s->n;
	return pf_htab_get(&s->t, id, &i);
}

/* Ids: zero first (every item), then duplicates, as build_idmap. */
static void check_id(struct walk *w, struct ids *s, uint64_t id, int rank_zero, const char *kind)
{
	if (id == 0) {
		fail_at(w, rank_zero, PF_EINVAL, "%s at index %zu has the reserved id 0", kind, s->n);
		ids_undense(s); /* the item keeps its index; 0 is never found */
		s->n++;
		return;
	}
	if (ids_add(s, id))
		fail_at(w, rank_zero + 1, PF_EINVAL, "two %ss have id %llu", kind, (unsigned long long)id);
}

#define EMIT(w, cb, ...)                                                                      \
	do {                                                                                  \
		if ((w)->rank == R_NONE && (w)->sink->cb) {                                   \
			int rc_ = (w)->sink->cb((w)->ctx, __VA_ARGS__, &(w)->err);            \
			if (rc_ < 0)                                                          \
				return rc_;                                                   \
		}                                                                             \
	} while (0)

/* ---- the top-level scan ------------------------------------------------- */

/* where each kind's fields are: [first, end) of the body */
enum { K_HEADER, K_STRING, K_MAPPING, K_FUNCTION, K_LOCATION, K_SAMPLE, K_N };

static int kind_of(uint32_t tag)
{
	switch (tag) {
	case 2: return K_SAMPLE;
	case 3: return K_MAPPING;
	case 4: return K_LOCATION;
	case 5: return K_FUNCTION;
	case 6: return K_STRING;
	case 1: case 7: case 8: case 9: case 10: case 11: case 12: case 13: case 14:
		return K_HEADER;
	default:
		return -1;
	}
}

struct span {
	size_t first, end;
};

/*
 * Where the header's fields are. Go writes sample_type first and the other
 * header fields after the string table, so the header's span is the whole
 * body: the scan notes the offsets of the first HDR_POS header fields, and
 * the header's walk reads only those unless there are more.
 */
#define HDR_POS 64
struct hdr_pos {
	size_t n; /* header fields seen (may pass HDR_POS) */
	size_t at[HDR_POS];
};

/*
 * The scan: pprof_decode's (check_counts in decode.c: its wire rules, its
 * counts, its caps and their order), and beside it protobuf-c's rules for
 * the top-level fields and each kind's span. Returns 0 (*bad set when
 * protobuf-c would refuse the top level), or the scan's error.
 */
static int scan_top(const uint8_t *body, size_t n, uint64_t *count, struct span *sp,
		    struct hdr_pos *hp, int *bad, struct pf_err *err)
{
	const uint8_t *p = body, *end = body + n, *q = body;

	*bad = 0;
	hp->n = 0;
	for (int k = 0; k < K_N; k++)
		sp[k].first = sp[k].end = 0;
	while (p < end) {
		const uint8_t *start = p;
		uint64_t key;
		struct field f;

		/* the common field, a one-byte key of wire type 2 (fields 1-15)
		 * and a one- or two-byte length, which both readers below read
		 * alike: counted and placed without reading it twice */
		if (!*bad && end - p >= 3 && p[0] < 0x80 && (p[0] & 7) == 2 && (p[0] >> 3) != 0 &&
		    (p[1] < 0x80 || p[2] < 0x80)) {
			size_t ll = p[1] < 0x80 ? 1 : 2;
			uint64_t len = p[1] < 0x80 ? p[1] : (uint64_t)(p[1] & 0x7f) | (uint64_t)p[2] << 7;
			if (len <= (uint64_t)(end - p) - 1 - ll) {
				int k = kind_of((uint32_t)p[0] >> 3);
				count[p[0] >> 3]++;
				p += 1 + ll + len;
				if (k >= 0) {
					if (sp[k].end == 0)
						sp[k].first = (size_t)(start - body);
					sp[k].end = (size_t)(p - body);
				}
				if (k == K_HEADER) {
					if (hp->n < HDR_POS)
						hp->at[hp->n] = (size_t)(start - body);
					hp->n++;
				}
				continue;
			}
		}
		if (pprof__scan_field(&p, end, &key) < 0)
			goto malformed;
		if ((key >> 3) < 16)
			count[key >> 3]++;
		/* protobuf-c, in step while the two agree on where fields are */
		if (!*bad) {
			q = start;
			if (next_field(&q, end, &f) <= 0 || q != p) {
				*bad = 1;
			} else {
				int k = kind_of(f.tag);
				if (k >= 0) {
					if (sp[k].end == 0)
						sp[k].first = (size_t)(start - body);
					sp[k].end = (size_t)(p - body);
				}
				if (k == K_HEADER) {
					if (hp->n < HDR_POS)
						hp->at[hp->n] = (size_t)(start - body);
					hp->n++;
				}
			}
		}
	}
	return pprof__check_caps(count, err);
malformed:
	return pf_err_set(err, PF_EINVAL, "parsing profile: unrecognized profile format");
}

/* ---- the kinds ------------------------------------------------------------ */

#define MALFORMED (-1000) /* internal: a malformed field; becomes PF_EINVAL */

/* The next header field: from the scan's offsets when it kept them all,
 * else by walking the header's span. 1, 0 at the end, -1 when malformed. */
static int next_header_field(const uint8_t *body, const uint8_t **p, const uint8_t *end,
			     const struct hdr_pos *hp, size_t *k, struct field *f)
{
	int r;

	if (hp->n <= HDR_POS) {
		const uint8_t *q;
		if (*k >= hp->n)
			return 0;
		q = body + hp->at[(*k)++];
		return next_field(&q, end, f); /* the scan read it whole: end is not passed */
	}
	while ((r = next_field(p, end, f)) > 0)
		if (kind_of(f->tag) == K_HEADER)
			return 1;
	return r;
}

static int walk_header(struct walk *w, const uint8_t *body, const uint8_t *p, const uint8_t *end,
		       const struct hdr_pos *hp, size_t *counts)
{
	struct pprof_stream_header h = {0};
	uint64_t pt[3] = {0};
	struct field f;
	size_t k = 0;
	int r;

	w->n_sample_type = 0;
	while ((r = next_header_field(body, &p, end, hp, &k, &f)) > 0) {
		switch (f.tag) {
		case 1: {
			uint64_t v[3] = {0};
			if (f.wt != 2 || parse_scalars(f.d, f.n, v, 2, 0) < 0)
				return MALFORMED;
			pf_xgrow((void **)&w->st, &w->cap_st, 2 * (w->n_sample_type + 1), sizeof(*w->st));
			w->st[2 * w->n_sample_type] = (int64_t)v[1];
			w->st[2 * w->n_sample_type + 1] = (int64_t)v[2];
			w->n_sample_type++;
			break;
		}
		case 11: {
			uint64_t v[3] = {0};
			if (f.wt != 2 || parse_scalars(f.d, f.n, v, 2, 0) < 0)
				return MALFORMED;
			pt[1] = v[1]; /* protobuf-c 1.4: the last one wins whole */
			pt[2] = v[2];
			h.has_period_type = 1;
			break;
		}
		case 13:
			if (append_varints(&f, &w->comments, &w->n_comments, &w->cap_comments, w->bend) < 0)
				return MALFORMED;
			break;
		default:
			if (f.wt != 0)
				return MALFORMED;
			switch (f.tag) {
			case 7: h.drop_frames = (int64_t)f.v; break;
			case 8: h.keep_frames = (int64_t)f.v; break;
			case 9: h.time_nanos = (int64_t)f.v; break;
			case 10: h.duration_nanos = (int64_t)f.v; break;
			case 12: h.period = (int64_t)f.v; break;
			case 14: h.default_sample_type = (int64_t)f.v; break;
			}
		}
	}
	if (r < 0)
		return MALFORMED;
	h.n_sample_type = w->n_sample_type;
	h.sample_type = w->st;
	h.period_type[0] = (int64_t)pt[1];
	h.period_type[1] = (int64_t)pt[2];
	h.n_comment = w->n_comments;
	h.comment = (const int64_t *)w->comments;
	h.n_string = counts[6];
	h.n_mapping = counts[3];
	h.n_location = counts[4];
	h.n_function = counts[5];
	h.n_sample = counts[2];

	if (w->n_string == 0)
		fail_at(w, R_NOSTRINGS, PF_EINVAL, "parsing profile: unrecognized profile format");
	for (size_t i = 0; i < h.n_sample_type; i++) {
		CHECK_STR(w, R_STR_SAMPLE_TYPE, h.sample_type[2 * i], "sample_type %zu type", i);
		CHECK_STR(w, R_STR_SAMPLE_TYPE, h.sample_type[2 * i + 1], "sample_type %zu unit", i);
	}
	if (h.has_period_type) {
		CHECK_STR(w, R_STR_PERIOD_TYPE, h.period_type[0], "period_type type");
		CHECK_STR(w, R_STR_PERIOD_TYPE, h.period_type[1], "period_type unit");
	}
	CHECK_STR(w, R_STR_DROP, h.drop_frames, "drop_frames");
	CHECK_STR(w, R_STR_KEEP, h.keep_frames, "keep_frames");
	CHECK_STR(w, R_STR_DEFAULT, h.default_sample_type, "default_sample_type");
	for (size_t i = 0; i < h.n_comment; i++)
		CHECK_STR(w, R_STR_COMMENT, h.comment[i], "comment %zu", i);
	EMIT(w, header, &h);
	return 0;
}

static int walk_strings(struct walk *w, const uint8_t *p, const uint8_t *end)
{
	struct field f;
	size_t i = 0;
	int r;

	while ((r = next_field(&p, end, &f)) > 0) {
		if (f.tag != 6)
			continue;
		if (f.wt != 2)
			return MALFORMED;
		/* protobuf-c keeps a C string: it ends at the first NUL */
		if (i == 0 && f.n > 0 && f.d[0] != 0) {
			char head[41];
			size_t l = strnlen((const char *)f.d, PF_MIN(f.n, (size_t)40));
			memcpy(head, f.d, l);
			head[l] = 0;
			fail_at(w, R_STR0, PF_EINVAL, "string_table[0] must be \"\", not \"%s\"", head);
		}
		EMIT(w, string, i, (const char *)f.d, f.n);
		i++;
	}
	return r < 0 ? MALFORMED : 0;
}

static int walk_mappings(struct walk *w, const uint8_t *p, const uint8_t *end)
{
	struct field f;
	int r;

	while ((r = next_field(&p, end, &f)) > 0) {
		uint64_t v[11];
		ZERO_SCALARS(v);
		struct pprof_stream_mapping m;

		if (f.tag != 3)
			continue;
		if (f.wt != 2 || parse_scalars(f.d, f.n, v, 10, 0xf << 7) < 0)
			return MALFORMED;
		m.id = v[1];
		m.memory_start = v[2];
		m.memory_limit = v[3];
		m.file_offset = v[4];
		m.filename = (int64_t)v[5];
		m.build_id = (int64_t)v[6];
		m.has_functions = (int)v[7];
		m.has_filenames = (int)v[8];
		m.has_line_numbers = (int)v[9];
		m.has_inline_frames = (int)v[10];
		CHECK_STR(w, R_STR_MAPPING, m.filename, "mapping %llu filename", (unsigned long long)m.id);
		CHECK_STR(w, R_STR_MAPPING, m.build_id, "mapping %llu build_id", (unsigned long long)m.id);
		check_id(w, &w->mappings, m.id, R_MAPPING_ZERO, "mapping");
		EMIT(w, mapping, &m);
	}
	return r < 0 ? MALFORMED : 0;
}

static int walk_functions(struct walk *w, const uint8_t *p, const uint8_t *end)
{
	struct field f;
	int r;

	while ((r = next_field(&p, end, &f)) > 0) {
		uint64_t v[6];
		ZERO_SCALARS(v);
		struct pprof_stream_function fn;

		if (f.tag != 5)
			continue;
		if (f.wt != 2 || parse_scalars(f.d, f.n, v, 5, 0) < 0)
			return MALFORMED;
		fn.id = v[1];
		fn.name = (int64_t)v[2];
		fn.system_name = (int64_t)v[3];
		fn.filename = (int64_t)v[4];
		fn.start_line = (int64_t)v[5];
		CHECK_STR(w, R_STR_FUNCTION, fn.name, "function %llu name", (unsigned long long)fn.id);
		CHECK_STR(w, R_STR_FUNCTION, fn.system_name, "function %llu system_name",
			  (unsigned long long)fn.id);
		CHECK_STR(w, R_STR_FUNCTION, fn.filename, "function %llu filename", (unsigned long long)fn.id);
		check_id(w, &w->functions, fn.id, R_FUNCTION_ZERO, "function");
		EMIT(w, function, &fn);
	}
	return r < 0 ? MALFORMED : 0;
}

static int walk_locations(struct walk *w, const uint8_t *p, const uint8_t *end)
{
	struct field f, g;
	int r, r2;

	while ((r = next_field(&p, end, &f)) > 0) {
		struct pprof_stream_location l;
		const uint8_t *q, *qend;
		size_t nl = 0;

		if (f.tag != 4)
			continue;
		if (f.wt != 2)
			return MALFORMED;
		l.id = l.mapping_id = l.address = 0;
		l.is_folded = 0;
		q = f.d;
		qend = f.d + f.n;
		while ((r2 = next_field(&q, qend, &g)) > 0) {
			if (g.tag == 4) {
				uint64_t v[4];
				ZERO_SCALARS(v);
				if (g.wt != 2 || parse_scalars(g.d, g.n, v, 3, 0) < 0)
					return MALFORMED;
				pf_xgrow((void **)&w->lines, &w->cap_lines, nl + 1, sizeof(*w->lines));
				w->lines[nl].function_id = v[1];
				w->lines[nl].line = (int64_t)v[2];
				w->lines[nl].column = (int64_t)v[3];
				nl++;
				continue;
			}
			if (g.tag < 1 || g.tag > 5)
				continue;
			if (g.wt != 0 && g.tag != 5) /* is_folded: a bool, any wire type */
				return MALFORMED;
			switch (g.tag) {
			case 1: l.id = g.v; break;
			case 2: l.mapping_id = g.v; break;
			case 3: l.address = g.v; break;
			case 5: l.is_folded = field_bool(&g); break;
			}
		}
		if (r2 < 0)
			return MALFORMED;
		l.n_line = nl;
		l.line = w->lines;
		check_id(w, &w->locations, l.id, R_LOCATION_ZERO, "location");
		if (R_LOCATION_REF < w->rank) {
			if (l.mapping_id != 0 && !ids_has(&w->mappings, l.mapping_id))
				fail_at(w, R_LOCATION_REF, PF_EINVAL,
					"location %llu refers to mapping %llu, which does not exist",
					(unsigned long long)l.id, (unsigned long long)l.mapping_id);
			for (size_t j = 0; j < nl; j++) {
				uint64_t fid = w->lines[j].function_id;
				if (fid != 0 && !ids_has(&w->functions, fid))
					fail_at(w, R_LOCATION_REF, PF_EINVAL,
						"location %llu line %zu refers to function %llu, which does not exist",
						(unsigned long long)l.id, j, (unsigned long long)fid);
			}
		}
		EMIT(w, location, &l);
	}
	return r < 0 ? MALFORMED : 0;
}

static int walk_samples(struct walk *w, const uint8_t *p, const uint8_t *end)
{
	struct field f, g;
	size_t i = 0;
	int r, r2;
	/* every location id is 1..nloc when the ids are dense (checked as the
	 * ids are read: over); 0 and ids of a sparse table are looked up */
	const uint64_t nloc = w->locations.dense ? (uint64_t)w->locations.n : 0;
	uint64_t over;
	/* a sink that takes the ids gets them all in one buffer (sample_ids) */
	const int keep = w->sink->sample_ids != NULL;
	size_t first = 0; /* this sample's first id in w->u64 */

	w->n_u64 = 0;
	/* a large profile's ids (at most one per byte, and most of the
	 * samples' bytes are ids) reserved at once: its buffer is mapped
	 * anyway, and grown by doubling it would be copied and faulted in
	 * again and again (heap-large-001: 21.5 against 15.0 ms per
	 * tsdb__flat_decode). A small one grows by doubling: reserved up
	 * front, 256 KiB for heap-001, it passed glibc's mmap threshold and
	 * was mapped and faulted in afresh by every decode */
	if (keep && (size_t)(end - p) >= ((size_t)1 << 20))
		pf_xgrow((void **)&w->u64, &w->cap_u64, (size_t)(end - p) / 2, sizeof(*w->u64));

	while ((r = next_field(&p, end, &f)) > 0) {
		struct pprof_stream_sample s; /* every field is set below */
		const uint8_t *q, *qend;
		size_t nlab = 0;

		if (f.tag != 2)
			continue;
		if (f.wt != 2)
			return MALFORMED;
		if (!keep)
			w->n_u64 = 0;
		first = w->n_u64;
		w->n_vals = 0;
		over = 0;
		q = f.d;
		qend = f.d + f.n;
		while ((r2 = next_field(&q, qend, &g)) > 0) {
			switch (g.tag) {
			case 1:
				if (append_varints_ck(&g, &w->u64, &w->n_u64, &w->cap_u64, w->bend, nloc,
						      &over) < 0)
					return MALFORMED;
				break;
			case 2:
				if (append_varints(&g, &w->vals, &w->n_vals, &w->cap_vals, w->bend) < 0)
					return MALFORMED;
				break;
			case 3: {
				uint64_t v[5];
				ZERO_SCALARS(v);
				if (g.wt != 2 || parse_scalars(g.d, g.n, v, 4, 0) < 0)
					return MALFORMED;
				if (nlab + 1 > w->cap_labels)
					pf_xgrow((void **)&w->labels, &w->cap_labels, nlab + 1,
						 sizeof(*w->labels));
				w->labels[nlab].key = (int64_t)v[1];
				w->labels[nlab].str = (int64_t)v[2];
				w->labels[nlab].num = (int64_t)v[3];
				w->labels[nlab].num_unit = (int64_t)v[4];
				nlab++;
				break;
			}
			}
		}
		if (r2 < 0)
			return MALFORMED;
		if (nlab > PPROF_MAX_SAMPLE_LABELS)
			fail_at(w, R_LABELS, PF_ELIMIT,
				"sample %zu has %zu labels; the decoder's cap is %d labels per sample", i, nlab,
				PPROF_MAX_SAMPLE_LABELS);
		for (size_t j = 0; j < nlab && R_STR_LABEL < w->rank; j++) {
			CHECK_STR(w, R_STR_LABEL, w->labels[j].key, "sample %zu label %zu key", i, j);
			CHECK_STR(w, R_STR_LABEL, w->labels[j].str, "sample %zu label %zu str", i, j);
			CHECK_STR(w, R_STR_LABEL, w->labels[j].num_unit, "sample %zu label %zu num_unit", i, j);
		}
		if (R_SAMPLE < w->rank) {
			if (w->n_vals != w->n_sample_type)
				fail_at(w, R_SAMPLE, PF_EINVAL,
					"sample %zu has %zu values but there are %zu sample types", i, w->n_vals,
					w->n_sample_type);
			/* ids 1..n (dense): over says whether one is not; else look */
			for (size_t j = first; (over || !w->locations.dense) && j < w->n_u64; j++)
				if (!ids_has(&w->locations, w->u64[j])) {
					fail_at(w, R_SAMPLE, PF_EINVAL,
						"sample %zu refers to location %llu, which does not exist", i,
						(unsigned long long)w->u64[j]);
					break;
				}
		}
		s.n_location_id = w->n_u64 - first;
		s.location_id = w->u64 ? w->u64 + first : NULL;
		s.n_value = w->n_vals;
		s.value = (const int64_t *)w->vals;
		s.n_label = nlab;
		s.label = w->labels;
		EMIT(w, sample, &s);
		i++;
	}
	if (r < 0)
		return MALFORMED;
	if (keep && w->rank == R_NONE) {
		uint64_t *ids = w->n_u64 ? w->u64 : NULL;
		size_t n = w->n_u64;
		if (ids) { /* the sink's now */
			w->u64 = NULL;
			w->n_u64 = w->cap_u64 = 0;
		}
		return w->sink->sample_ids(w->ctx, ids, n, &w->err);
	}
	return 0;
}

/* ---- decode ------------------------------------------------------------- */

int pprof_stream_decode(const void *body, size_t len, const struct pprof_sink *sink, void *ctx,
			struct pf_err *err)
{
	const uint8_t *b = body;
	uint64_t counts[16] = {0};
	size_t ncounts[16];
	struct span sp[K_N];
	struct hdr_pos hp;
	struct walk w;
	int bad, rc;

	if (len == 0)
		return pf_err_set(err, PF_EINVAL, "parsing profile: empty input file");
	if (pprof__is_legacy_text(b, len))
		return pf_err_set(err, PF_EINVAL,
				  "parsing profile: legacy text profile (debug=1 or debug=2); fetch it with debug=0");
	if ((rc = scan_top(b, len, counts, sp, &hp, &bad, err)) < 0)
		return rc;
	if (bad)
		return pf_err_set(err, PF_EINVAL, "parsing profile: unrecognized profile format");

	memset(&w, 0, sizeof(w));
	w.sink = sink;
	w.ctx = ctx;
	w.bend = b + len;
	w.rank = R_NONE;
	w.n_string = counts[6];
	ids_init(&w.mappings);
	ids_init(&w.functions);
	ids_init(&w.locations);
	for (int i = 0; i < 16; i++)
		ncounts[i] = (size_t)counts[i];
	if ((rc = walk_header(&w, b, b + sp[K_HEADER].first, b + sp[K_HEADER].end, &hp, ncounts)) < 0 ||
	    (rc = walk_strings(&w, b + sp[K_STRING].first, b + sp[K_STRING].end)) < 0 ||
	    (rc = walk_mappings(&w, b + sp[K_MAPPING].first, b + sp[K_MAPPING].end)) < 0 ||
	    (rc = walk_functions(&w, b + sp[K_FUNCTION].first, b + sp[K_FUNCTION].end)) < 0 ||
	    (rc = walk_locations(&w, b + sp[K_LOCATION].first, b + sp[K_LOCATION].end)) < 0 ||
	    (rc = walk_samples(&w, b + sp[K_SAMPLE].first, b + sp[K_SAMPLE].end)) < 0)
		goto done;
	if (w.rank != R_NONE) {
		*err = w.err;
		rc = w.code;
	}
done:
	if (rc == MALFORMED)
		rc = pf_err_set(err, PF_EINVAL, "parsing profile: unrecognized profile format");
	else if (rc < 0 && w.rank == R_NONE)
		*err = w.err; /* a sink's error */
	ids_free(&w.mappings);
	ids_free(&w.functions);
	ids_free(&w.locations);
	free(w.u64);
	free(w.vals);
	free(w.labels);
	free(w.lines);
	free(w.st);
	free(w.comments);
	return rc;
}

/* ---- a sink that rebuilds the protobuf-c message ------------------------- */

struct rebuild {
	struct pf_arena *a;
	pprof_msg *m;
};

static int64_t *arena_i64(struct pf_arena *a, const int64_t *v, size_t n)
{
	int64_t *o = n ? pf_arena_alloc(a, n * sizeof(*o)) : NULL;
	if (n)
		memcpy(o, v, n * sizeof(*o));
	return o;
}

static int rb_header(void *ctx, const struct pprof_stream_header *h, struct pf_err *err)
{
	struct rebuild *r = ctx;
	struct pf_arena *a = r->a;
	pprof_msg *m = pf_arena_alloc(a, sizeof(*m));

	(void)err;
	perftools__profiles__profile__init(m);
	r->m = m;
	m->sample_type = pf_arena_alloc(a, (h->n_sample_type + 1) * sizeof(*m->sample_type));
	for (size_t i = 0; i < h->n_sample_type; i++) {
		Perftools__Profiles__ValueType *vt = pf_arena_alloc(a, sizeof(*vt));
		perftools__profiles__value_type__init(vt);
		vt->type = h->sample_type[2 * i];
		vt->unit = h->sample_type[2 * i + 1];
		m->sample_type[m->n_sample_type++] = vt;
	}
	if (h->has_period_type) {
		m->period_type = pf_arena_alloc(a, sizeof(*m->period_type));
		perftools__profiles__value_type__init(m->period_type);
		m->period_type->type = h->period_type[0];
		m->period_type->unit = h->period_type[1];
	}
	m->period = h->period;
	m->time_nanos = h->time_nanos;
	m->duration_nanos = h->duration_nanos;
	m->drop_frames = h->drop_frames;
	m->keep_frames = h->keep_frames;
	m->default_sample_type = h->default_sample_type;
	m->n_comment = h->n_comment;
	m->comment = arena_i64(a, h->comment, h->n_comment);
	m->string_table = pf_arena_alloc(a, (h->n_string + 1) * sizeof(char *));
	m->mapping = pf_arena_alloc(a, (h->n_mapping + 1) * sizeof(*m->mapping));
	m->function = pf_arena_alloc(a, (h->n_function + 1) * sizeof(*m->function));
	m->location = pf_arena_alloc(a, (h->n_location + 1) * sizeof(*m->location));
	m->sample = pf_arena_alloc(a, (h->n_sample + 1) * sizeof(*m->sample));
	return 0;
}

static int rb_string(void *ctx, size_t idx, const char *s, size_t len, struct pf_err *err)
{
	struct rebuild *r = ctx;
	char *c = pf_arena_alloc(r->a, len + 1);

	(void)err;
	memcpy(c, s, len); /* a C string, as protobuf-c's: ends at a NUL inside */
	r->m->string_table[idx] = c;
	r->m->n_string_table = idx + 1;
	return 0;
}

static int rb_mapping(void *ctx, const struct pprof_stream_mapping *x, struct pf_err *err)
{
	struct rebuild *r = ctx;
	Perftools__Profiles__Mapping *o = pf_arena_alloc(r->a, sizeof(*o));

	(void)err;
	perftools__profiles__mapping__init(o);
	o->id = x->id;
	o->memory_start = x->memory_start;
	o->memory_limit = x->memory_limit;
	o->file_offset = x->file_offset;
	o->filename = x->filename;
	o->build_id = x->build_id;
	o->has_functions = x->has_functions;
	o->has_filenames = x->has_filenames;
	o->has_line_numbers = x->has_line_numbers;
	o->has_inline_frames = x->has_inline_frames;
	r->m->mapping[r->m->n_mapping++] = o;
	return 0;
}

static int rb_function(void *ctx, const struct pprof_stream_function *x, struct pf_err *err)
{
	struct rebuild *r = ctx;
	Perftools__Profiles__Function *o = pf_arena_alloc(r->a, sizeof(*o));

	(void)err;
	perftools__profiles__function__init(o);
	o->id = x->id;
	o->name = x->name;
	o->system_name = x->system_name;
	o->filename = x->filename;
	o->start_line = x->start_line;
	r->m->function[r->m->n_function++] = o;
	return 0;
}

static int rb_location(void *ctx, const struct pprof_stream_location *x, struct pf_err *err)
{
	struct rebuild *r = ctx;
	Perftools__Profiles__Location *o = pf_arena_alloc(r->a, sizeof(*o));

	(void)err;
	perftools__profiles__location__init(o);
	o->id = x->id;
	o->mapping_id = x->mapping_id;
	o->address = x->address;
	o->is_folded = x->is_folded;
	o->n_line = x->n_line;
	o->line = pf_arena_alloc(r->a, (x->n_line + 1) * sizeof(*o->line));
	for (size_t i = 0; i < x->n_line; i++) {
		Perftools__Profiles__Line *l = pf_arena_alloc(r->a, sizeof(*l));
		perftools__profiles__line__init(l);
		l->function_id = x->line[i].function_id;
		l->line = x->line[i].line;
		l->column = x->line[i].column;
		o->line[i] = l;
	}
	r->m->location[r->m->n_location++] = o;
	return 0;
}

static int rb_sample(void *ctx, const struct pprof_stream_sample *x, struct pf_err *err)
{
	struct rebuild *r = ctx;
	Perftools__Profiles__Sample *o = pf_arena_alloc(r->a, sizeof(*o));

	(void)err;
	perftools__profiles__sample__init(o);
	o->n_location_id = x->n_location_id;
	o->location_id = (uint64_t *)arena_i64(r->a, (const int64_t *)x->location_id, x->n_location_id);
	o->n_value = x->n_value;
	o->value = arena_i64(r->a, x->value, x->n_value);
	o->n_label = x->n_label;
	o->label = pf_arena_alloc(r->a, (x->n_label + 1) * sizeof(*o->label));
	for (size_t i = 0; i < x->n_label; i++) {
		Perftools__Profiles__Label *l = pf_arena_alloc(r->a, sizeof(*l));
		perftools__profiles__label__init(l);
		l->key = x->label[i].key;
		l->str = x->label[i].str;
		l->num = x->label[i].num;
		l->num_unit = x->label[i].num_unit;
		o->label[i] = l;
	}
	r->m->sample[r->m->n_sample++] = o;
	return 0;
}

/* pprof_decode's inflate and size checks, then the stream into a rebuilt
 * message (see stream.h). */
int pprof_stream_to_profile(const void *data, size_t len, size_t max_decompressed,
			    struct pprof_profile **out, struct pf_err *err)
{
	static const struct pprof_sink sink = {
		.header = rb_header,
		.string = rb_string,
		.mapping = rb_mapping,
		.function = rb_function,
		.location = rb_location,
		.sample = rb_sample,
	};
	struct pf_buf raw = PF_BUF_INIT(0);
	const uint8_t *body = data;
	size_t blen = len;
	struct rebuild r = {0};
	int rc;

	*out = NULL;
	if (len == 0)
		return pf_err_set(err, PF_EINVAL, "parsing profile: empty input file");
	if (pprof_is_gzip(data, len)) {
		if ((rc = pprof_gunzip(data, len, max_decompressed, &raw, err)) < 0) {
			if (rc == PF_EINVAL)
				pf_err_prefix(err, "decompressing profile: ");
			goto fail;
		}
		body = raw.data;
		blen = raw.len;
	} else if (len > max_decompressed) {
		rc = pf_err_set(err, PF_ETOOBIG, "profile is larger than %zu bytes", max_decompressed);
		goto fail;
	}
	r.a = pf_arena_new();
	if ((rc = pprof_stream_decode(body, blen, &sink, &r, err)) < 0)
		goto fail;
	pf_buf_free(&raw);
	rc = pprof_from_message(r.a, r.m, out, err); /* takes the arena */
	r.a = NULL;
	return rc;
fail:
	pf_arena_free(r.a);
	pf_buf_free(&raw);
	return rc;
}

/* ---- the shape: what a program's next snapshot keeps -------------------- */

/* Bytes for feed, gathered so that a sample's few spans are one call. */
struct skel {
	void (*feed)(void *ctx, const void *p, size_t n);
	void *ctx;
	const uint8_t *bend; /* the body's end: short copies may read up to it */
	size_t n;
	uint8_t buf[8192];
};

static void skel_flush(struct skel *k)
{
	if (k->n)
		k->feed(k->ctx, k->buf, k->n);
	k->n = 0;
}

#define SKEL_ROOM 64 /* kept free at the buffer's end for short copies */

HOT void skel_put(struct skel *k, const uint8_t *p, size_t n)
{
	if (n <= 32 && k->n + SKEL_ROOM <= sizeof(k->buf) && (size_t)(k->bend - p) >= 32) {
		/* a short span, the common one: two fixed-size copies */
		memcpy(k->buf + k->n, p, 16);
		memcpy(k->buf + k->n + 16, p + 16, 16);
		k->n += n;
		return;
	}
	/* (k->n may be past sizeof(buf) - SKEL_ROOM after a short copy: no
	 * subtraction from it) */
	if (k->n + n > sizeof(k->buf) - SKEL_ROOM) {
		skel_flush(k);
		if (n > (sizeof(k->buf) - SKEL_ROOM) / 2) {
			k->feed(k->ctx, p, n);
			return;
		}
	}
	memcpy(k->buf + k->n, p, n);
	k->n += n;
}

/* A token: a 0 byte (no field starts with one: field 0 is refused) and a kind. */
HOT void skel_token(struct skel *k, uint8_t kind)
{
	if (k->n + SKEL_ROOM > sizeof(k->buf))
		skel_flush(k);
	k->buf[k->n] = 0;
	k->buf[k->n + 1] = kind;
	k->n += 2;
}

HOT void shape_grow_values(struct pprof_shape *s, size_t add)
{
	if (s->n_values + add > s->cap_values)
		pf_xgrow((void **)&s->values, &s->cap_values, s->n_values + add, sizeof(*s->values));
}

/* A length of 1-3 bytes at p (before end): its size, 0 when it is not one;
 * *n the length, which fits before end. */
HOT size_t short_len(const uint8_t *p, const uint8_t *end, uint64_t *n)
{
	size_t ll;

	if (end - p >= 1 && p[0] < 0x80) {
		ll = 1;
		*n = p[0];
	} else if (end - p >= 2 && p[1] < 0x80) {
		ll = 2;
		*n = (uint64_t)(p[0] & 0x7f) | (uint64_t)p[1] << 7;
	} else if (end - p >= 3 && p[2] < 0x80) {
		ll = 3;
		*n = (uint64_t)(p[0] & 0x7f) | (uint64_t)(p[1] & 0x7f) << 7 | (uint64_t)p[2] << 14;
	} else {
		return 0;
	}
	return *n <= (uint64_t)(end - p) - ll ? ll : 0;
}

/* One sample's submessage: 0, or 1 when it takes a form the shape does not
 * read. Location ids (1) and labels (3) stay in the stream as they are;
 * each value field (2, packed or not) becomes a token. */
static int shape_sample(struct pprof_shape *s, struct skel *k, const uint8_t *p, const uint8_t *end,
			const uint8_t *bend)
{
	const uint8_t *span = p; /* the bytes not fed yet */
	size_t nv = 0;

	shape_grow_values(s, s->n_sample_type);
	while (p < end) {
		const uint8_t key = *p;
		uint64_t n;
		size_t ll;

		if (key == 0x0a || key == 0x1a) { /* ids or a label: kept whole */
			if ((ll = short_len(p + 1, end, &n)) == 0)
				return 1;
			p += 1 + ll + n;
			continue;
		}
		if (key == 0x08) { /* one id, not packed */
			size_t l = varint_len(p + 1, end);
			if (l == 0)
				return 1;
			p += 1 + l;
			continue;
		}
		if (key != 0x12 && key != 0x10)
			return 1;
		skel_put(k, span, (size_t)(p - span));
		skel_token(k, key == 0x12 ? 'V' : 'v');
		if (key == 0x10) { /* one value, not packed */
			size_t l = varint_len(p + 1, end);
			if (l == 0)
				return 1;
			shape_grow_values(s, 1);
			s->values[s->n_values++] = (int64_t)varint_val(p + 1, l);
			nv++;
			p += 1 + l;
			span = p;
			continue;
		}
		if ((ll = short_len(p + 1, end, &n)) == 0)
			return 1;
		p += 1 + ll;
		/* packed: as append_varints reads them */
		shape_grow_values(s, n);
		for (const uint8_t *qe = p + n; p < qe;) {
			size_t l;
			uint64_t v;
			if (*p < 0x80) {
				v = *p++;
			} else if ((l = varint_fast(p, qe, bend, &v)) > 0) {
				p += l;
			} else {
				if ((l = varint_len(p, qe)) == 0)
					return 1;
				v = varint_val(p, l);
				p += l;
			}
			s->values[s->n_values++] = (int64_t)v;
			nv++;
		}
		span = p;
	}
	skel_put(k, span, (size_t)(end - span));
	return nv == s->n_sample_type ? 0 : 1;
}

int pprof_stream_shape(const void *body, size_t len, void (*feed)(void *ctx, const void *p, size_t n),
		       void *ctx, struct pprof_shape *s)
{
	const uint8_t *b = body, *p = b, *end = b + len, *span = b;
	struct skel kk, *k = &kk; /* its buffer is not cleared: only n bytes are fed */
	struct field f;
	size_t n_st = 0;
	int r, rc = 1;

	memset(s, 0, sizeof(*s));
	k->feed = feed;
	k->ctx = ctx;
	k->bend = end;
	k->n = 0;
	if (len == 0 || pprof__is_legacy_text(b, len))
		goto out;
	/* the sample types before the first sample (as Go writes them): the
	 * values' count */
	while (p < end) {
		if ((r = next_field(&p, end, &f)) <= 0)
			goto out;
		if (f.tag == 1) {
			uint64_t v[3] = {0};
			if (f.wt != 2 || parse_scalars(f.d, f.n, v, 2, 0) < 0)
				goto out;
			pf_xgrow((void **)&s->sample_type, &s->cap_sample_type, 2 * (s->n_sample_type + 1),
				 sizeof(*s->sample_type));
			s->sample_type[2 * s->n_sample_type] = (int64_t)v[1];
			s->sample_type[2 * s->n_sample_type + 1] = (int64_t)v[2];
			s->n_sample_type++;
			continue;
		}
		if (f.tag == 2)
			break;
	}
	if (s->n_sample_type == 0 || s->n_sample_type > PPROF_MAX_SAMPLE_TYPES)
		goto out;
	/* from there on, what is not a sample type, as the body has it */
	for (p = b; p < end;) {
		const uint8_t *at = p;
		if (p[0] == 0x12 && end - p >= 2) {
			/* a sample: a one-byte key and a length of 1-3 bytes,
			 * which both of the full decoder's readers read alike */
			uint64_t n;
			size_t ll = short_len(p + 1, end, &n);
			if (ll == 0)
				goto out;
			skel_put(k, span, (size_t)(at - span));
			skel_token(k, 'S');
			p += 1 + ll;
			if (shape_sample(s, k, p, p + n, end))
				goto out;
			p += n;
			skel_token(k, 'E');
			span = p;
			s->n_sample++;
			continue;
		}
		if ((r = next_field(&p, end, &f)) <= 0)
			goto out;
		switch (f.tag) {
		case 1:
			n_st++; /* as many as the first pass read */
			break;
		case 9:
		case 10:
		case 12:
			if (f.wt != 0)
				goto out;
			skel_put(k, span, (size_t)(at - span));
			skel_token(k, (uint8_t)('T' + f.tag));
			span = p;
			if (f.tag == 9)
				s->time_nanos = (int64_t)f.v;
			else if (f.tag == 10)
				s->duration_nanos = (int64_t)f.v;
			else
				s->period = (int64_t)f.v;
			break;
		case 6:
			if (f.wt != 2)
				goto out;
			if (s->n_string + 1 > s->cap_string)
				pf_xgrow((void **)&s->str, &s->cap_string, s->n_string + 1, sizeof(*s->str));
			if (s->n_string + 1 > s->cap_str_len)
				pf_xgrow((void **)&s->str_len, &s->cap_str_len, s->n_string + 1,
					 sizeof(*s->str_len));
			s->str[s->n_string] = (const char *)f.d;
			s->str_len[s->n_string] = f.n;
			s->n_string++;
			break;
		case 2:
			goto out; /* a sample in a form the branch above does not take */
		}
	}
	skel_put(k, span, (size_t)(end - span));
	skel_flush(k);
	if (n_st != s->n_sample_type)
		goto out; /* sample types after the first sample or string */
	for (size_t i = 0; i < 2 * s->n_sample_type; i++)
		if (s->sample_type[i] < 0 || (uint64_t)s->sample_type[i] >= s->n_string)
			goto out;
	rc = 0;
out:
	if (rc) {
		pprof_shape_free(s);
		memset(s, 0, sizeof(*s));
	}
	return rc;
}

void pprof_shape_free(struct pprof_shape *s)
{
	free(s->sample_type);
	free(s->values);
	free(s->str);
	free(s->str_len);
}
