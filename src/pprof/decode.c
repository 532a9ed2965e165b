/*
 * pprof decoding: gunzip (multistream, capped), legacy text detection,
 * protobuf-c unpack into an arena, validation and id indexes; plus the small
 * accessors of pprof.h.
 */
#include "pprof/pprof-internal.h"

#include <limits.h>
#include <stdlib.h>
#include <zlib.h>

/* ---- gzip ------------------------------------------------------------- */

/* 1 when data starts with the gzip magic 1f 8b, else 0. */
int pprof_is_gzip(const void *data, size_t len)
{
	const uint8_t *p = data;
	return len >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

/* Map a zlib data error to the sentence Go's compress/gzip would give. */
static int gz_data_error(const z_stream *zs, size_t consumed, struct pf_err *err)
{
	const char *m = zs->msg ? zs->msg : "corrupt input";

	if (strcmp(m, "incorrect data check") == 0 || strcmp(m, "incorrect length check") == 0)
		return pf_err_set(err, PF_EINVAL, "gzip: invalid checksum");
	if (strcmp(m, "incorrect header check") == 0 || strcmp(m, "unknown compression method") == 0 ||
	    strcmp(m, "unknown header flags set") == 0 || strcmp(m, "header crc mismatch") == 0)
		return pf_err_set(err, PF_EINVAL, "gzip: invalid header");
	return pf_err_set(err, PF_EINVAL, "flate: corrupt input before offset %zu (%s)", consumed, m);
}

/*
 * Inflate every gzip member of data into out. Output past max bytes is never
 * produced: inflate is given at most max + 1 bytes of room in total, and
 * reaching max + 1 is the PF_ETOOBIG error.
 */
int pprof_gunzip(const void *data, size_t len, size_t max, struct pf_buf *out, struct pf_err *err)
{
	const uint8_t *p = data;
	size_t left = len, produced = 0, limit, hint, cap_msg = max, old_max = out->max, bmax;
	z_stream zs;
	int rc = 0, zr, first = 1;

	memset(&zs, 0, sizeof(zs));
	if (__builtin_add_overflow(max, (size_t)1, &limit))
		limit = SIZE_MAX;
	if (out->max)
		cap_msg = PF_MIN(max, out->max > out->len ? out->max - out->len : 0);
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
		return pf_err_set(err, PF_ENOMEM, "gzip: cannot initialise zlib");
	/* While inflating, out may not grow past max + 1 new bytes (its
	 * doubling is clamped to b->max), so memory stays bounded by the cap. */
	if (__builtin_add_overflow(out->len, limit, &bmax))
		bmax = SIZE_MAX;
	out->max = old_max ? PF_MIN(old_max, bmax) : bmax;

	/* Size hint: the ISIZE trailer of the last member (mod 2^32), bounded
	 * by the cap and by deflate's best ratio (about 1032:1). */
	hint = 0;
	if (len >= 18) {
		size_t bound;
		hint = pf_get_le32(p + len - 4);
		if (__builtin_mul_overflow(len, (size_t)1032, &bound))
			bound = SIZE_MAX;
		hint = PF_MIN(hint, bound);
		hint = PF_MIN(hint, limit);
	}

	for (;;) {
		/* Each member starts with a header (Go reads 10 bytes: a partial
		 * header is an unexpected EOF, a wrong magic an invalid header). */
		if (!first && left == 0)
			break;
		if (left < 10) {
			rc = pf_err_set(err, PF_EINVAL, "unexpected EOF");
			goto fail;
		}
		if (p[0] != 0x1f || p[1] != 0x8b || p[2] != 8) {
			rc = pf_err_set(err, PF_EINVAL, "gzip: invalid header");
			goto fail;
		}
		if (!first && inflateReset(&zs) != Z_OK) {
			rc = pf_err_set(err, PF_EINVAL, "gzip: cannot reset zlib");
			goto fail;
		}
		first = 0;
		zs.next_in = (Bytef *)(uintptr_t)p;
		zs.avail_in = (uInt)PF_MIN(left, (size_t)UINT_MAX);
		for (;;) {
			size_t room, before_in = zs.avail_in, before_out;

			if (out->cap == out->len) {
				size_t want = hint > produced ? hint - produced : 0;
				want = PF_MAX(want, PF_MIN(out->len, (size_t)64 << 20));
				want = PF_MAX(want, (size_t)65536);
				want = PF_MIN(want, limit - produced);
				rc = pf_buf_reserve(out, want);
				if (rc == PF_ETOOBIG)
					rc = pf_buf_reserve(out, 1);
				if (rc == PF_ETOOBIG) {
					rc = pf_err_set(err, PF_ETOOBIG,
							"decompressed profile is larger than %zu bytes",
							cap_msg);
					goto fail;
				}
				if (rc < 0) {
					rc = pf_err_set(err, rc, "gzip: out of memory");
					goto fail;
				}
			}
			room = PF_MIN(out->cap - out->len, limit - produced);
			room = PF_MIN(room, (size_t)UINT_MAX);
			zs.next_out = out->data + out->len;
			zs.avail_out = (uInt)room;
			before_out = zs.avail_out;
			zr = inflate(&zs, Z_NO_FLUSH);
			out->len += before_out - zs.avail_out;
			produced += before_out - zs.avail_out;
			/* refill input beyond 4 GiB */
			{
				size_t used = before_in - zs.avail_in;
				p += used;
				left -= used;
			}
			if (produced > max) {
				rc = pf_err_set(err, PF_ETOOBIG, "decompressed profile is larger than %zu bytes", max);
				goto fail;
			}
			if (zr == Z_STREAM_END)
				break;
			if (zr == Z_NEED_DICT || zr == Z_DATA_ERROR) {
				rc = gz_data_error(&zs, len - left, err);
				goto fail;
			}
			if (zr == Z_MEM_ERROR) {
				rc = pf_err_set(err, PF_ENOMEM, "gzip: out of memory");
				goto fail;
			}
			if (zs.avail_in == 0) {
				if (left == 0 && zs.avail_out != 0) {
					rc = pf_err_set(err, PF_EINVAL, "unexpected EOF");
					goto fail;
				}
				zs.next_in = (Bytef *)(uintptr_t)p;
				zs.avail_in = (uInt)PF_MIN(left, (size_t)UINT_MAX);
			}
			/* Z_OK or Z_BUF_ERROR with no room: loop grows out */
		}
	}
fail:
	inflateEnd(&zs);
	out->max = old_max;
	return rc;
}

/* ---- legacy text profiles ---------------------------------------------- */

static int has_prefix(const uint8_t *p, size_t n, const char *pre)
{
	size_t l = strlen(pre);
	return n >= l && memcmp(p, pre, l) == 0;
}

/* 1 when the body looks like a debug=1/debug=2 text profile. */
static int is_legacy_text(const uint8_t *p, size_t n)
{
	static const char *const prefixes[] = {
		"heap profile:", "heap_v2/", "goroutine profile:", "threadcreate profile:",
		"--- contention", "--- mutex", "--- heapz", "--- threadz", "--- heap",
		"--- threadcreate", "block profile:", "mutex profile:", "allocs profile:",
	};

	while (n > 0 && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
		p++;
		n--;
	}
	for (size_t i = 0; i < PF_ARRAY_LEN(prefixes); i++)
		if (has_prefix(p, n, prefixes[i]))
			return 1;
	/* debug=2 goroutine dump: "goroutine 1 [running]:" */
	if (has_prefix(p, n, "goroutine ")) {
		size_t i = 10, d = 0;
		while (i < n && p[i] >= '0' && p[i] <= '9') {
			i++;
			d++;
		}
		if (d > 0 && i + 1 < n && p[i] == ' ' && p[i + 1] == '[')
			return 1;
	}
	return 0;
}

/* ---- arena allocator ----------------------------------------------------- */

static void *arena_alloc(void *data, size_t size)
{
	return pf_arena_alloc(data, size);
}

static void arena_free(void *data, void *ptr)
{
	(void)data;
	(void)ptr;
}

void pprof__arena_allocator(ProtobufCAllocator *alloc, struct pf_arena *arena)
{
	alloc->alloc = arena_alloc;
	alloc->free = arena_free;
	alloc->allocator_data = arena;
}

/* ---- validation and id indexes ------------------------------------------- */

static uint64_t id_slot(uint64_t id)
{
	return id * 0x9E3779B97F4A7C15ull >> 17;
}

/*
 * Index n items whose ids are read through get_id. Returns 0, or PF_EINVAL
 * for a zero or duplicate id (kind names the item in the message).
 */
static int build_idmap(struct pf_arena *a, struct pprof__idmap *m, void *const *items, size_t n,
		       uint64_t (*get_id)(const void *), const char *kind, struct pf_err *err)
{
	size_t cap = 16, i;

	m->n = n;
	m->dense = 1;
	for (i = 0; i < n; i++) {
		uint64_t id = get_id(items[i]);
		if (id == 0)
			return pf_err_set(err, PF_EINVAL, "%s at index %zu has the reserved id 0", kind, i);
		if (id != i + 1)
			m->dense = 0;
	}
	if (m->dense)
		return 0;
	while (cap < n * 2)
		cap *= 2;
	m->mask = cap - 1;
	m->ids = pf_arena_alloc(a, cap * sizeof(uint64_t));
	m->idx = pf_arena_alloc(a, cap * sizeof(uint32_t));
	for (i = 0; i < n; i++) {
		uint64_t id = get_id(items[i]);
		size_t s = (size_t)id_slot(id) & m->mask;
		while (m->idx[s] != 0) {
			if (m->ids[s] == id)
				return pf_err_set(err, PF_EINVAL, "two %ss have id %llu", kind,
						  (unsigned long long)id);
			s = (s + 1) & m->mask;
		}
		m->ids[s] = id;
		m->idx[s] = (uint32_t)(i + 1);
	}
	return 0;
}

static uint64_t mapping_id(const void *x)
{
	return ((const Perftools__Profiles__Mapping *)x)->id;
}
static uint64_t location_id(const void *x)
{
	return ((const Perftools__Profiles__Location *)x)->id;
}
static uint64_t function_id(const void *x)
{
	return ((const Perftools__Profiles__Function *)x)->id;
}

/* Check one string index; what names the field for the message. */
#define CHECK_STR(idx, ...)                                                              \
	do {                                                                             \
		if ((idx) < 0 || (uint64_t)(idx) >= (uint64_t)msg->n_string_table) {      \
			char what_[160];                                                 \
			snprintf(what_, sizeof(what_), __VA_ARGS__);                     \
			return pf_err_set(err, PF_EINVAL,                               \
					  "%s: string index %lld out of range (string table has %zu entries)", \
					  what_, (long long)(idx), msg->n_string_table); \
		}                                                                        \
	} while (0)

static int check_strings(const pprof_msg *msg, struct pf_err *err)
{
	size_t i, j;

	for (i = 0; i < msg->n_sample_type; i++) {
		CHECK_STR(msg->sample_type[i]->type, "sample_type %zu type", i);
		CHECK_STR(msg->sample_type[i]->unit, "sample_type %zu unit", i);
	}
	if (msg->period_type) {
		CHECK_STR(msg->period_type->type, "period_type type");
		CHECK_STR(msg->period_type->unit, "period_type unit");
	}
	CHECK_STR(msg->drop_frames, "drop_frames");
	CHECK_STR(msg->keep_frames, "keep_frames");
	CHECK_STR(msg->default_sample_type, "default_sample_type");
	for (i = 0; i < msg->n_comment; i++)
		CHECK_STR(msg->comment[i], "comment %zu", i);
	for (i = 0; i < msg->n_mapping; i++) {
		const Perftools__Profiles__Mapping *m = msg->mapping[i];
		CHECK_STR(m->filename, "mapping %llu filename", (unsigned long long)m->id);
		CHECK_STR(m->build_id, "mapping %llu build_id", (unsigned long long)m->id);
	}
	for (i = 0; i < msg->n_function; i++) {
		const Perftools__Profiles__Function *f = msg->function[i];
		CHECK_STR(f->name, "function %llu name", (unsigned long long)f->id);
		CHECK_STR(f->system_name, "function %llu system_name", (unsigned long long)f->id);
		CHECK_STR(f->filename, "function %llu filename", (unsigned long long)f->id);
	}
	for (i = 0; i < msg->n_sample; i++) {
		const Perftools__Profiles__Sample *s = msg->sample[i];
		for (j = 0; j < s->n_label; j++) {
			const Perftools__Profiles__Label *l = s->label[j];
			CHECK_STR(l->key, "sample %zu label %zu key", i, j);
			CHECK_STR(l->str, "sample %zu label %zu str", i, j);
			CHECK_STR(l->num_unit, "sample %zu label %zu num_unit", i, j);
		}
	}
	return 0;
}

int pprof__index(struct pprof_profile *p, struct pf_err *err)
{
	const pprof_msg *msg = p->msg;
	size_t i, j;
	int rc;

	if (msg->n_string_table == 0)
		return pf_err_set(err, PF_EINVAL, "parsing profile: unrecognized profile format");
	for (i = 0; i < msg->n_string_table; i++)
		if (!msg->string_table[i])
			return pf_err_set(err, PF_EINVAL, "string_table[%zu] is missing", i);
	if (msg->string_table[0][0] != 0)
		return pf_err_set(err, PF_EINVAL, "string_table[0] must be \"\", not \"%.40s\"",
				  msg->string_table[0]);
	if ((rc = check_strings(msg, err)) < 0)
		return rc;
	if (msg->n_mapping >= UINT32_MAX || msg->n_location >= UINT32_MAX ||
	    msg->n_function >= UINT32_MAX)
		return pf_err_set(err, PF_EINVAL, "too many mappings, locations or functions");
	if ((rc = build_idmap(p->arena, &p->mappings, (void *const *)msg->mapping, msg->n_mapping,
			      mapping_id, "mapping", err)) < 0)
		return rc;
	if ((rc = build_idmap(p->arena, &p->functions, (void *const *)msg->function,
			      msg->n_function, function_id, "function", err)) < 0)
		return rc;
	if ((rc = build_idmap(p->arena, &p->locations, (void *const *)msg->location,
			      msg->n_location, location_id, "location", err)) < 0)
		return rc;
	for (i = 0; i < msg->n_location; i++) {
		const Perftools__Profiles__Location *l = msg->location[i];
		if (l->mapping_id != 0 && pprof__idmap_find(&p->mappings, l->mapping_id) < 0)
			return pf_err_set(err, PF_EINVAL,
					  "location %llu refers to mapping %llu, which does not exist",
					  (unsigned long long)l->id, (unsigned long long)l->mapping_id);
		for (j = 0; j < l->n_line; j++) {
			uint64_t fid = l->line[j]->function_id;
			if (fid != 0 && pprof__idmap_find(&p->functions, fid) < 0)
				return pf_err_set(err, PF_EINVAL,
						  "location %llu line %zu refers to function %llu, which does not exist",
						  (unsigned long long)l->id, j, (unsigned long long)fid);
		}
	}
	for (i = 0; i < msg->n_sample; i++) {
		const Perftools__Profiles__Sample *s = msg->sample[i];
		if (s->n_value != msg->n_sample_type)
			return pf_err_set(err, PF_EINVAL,
					  "sample %zu has %zu values but there are %zu sample types", i,
					  s->n_value, msg->n_sample_type);
		for (j = 0; j < s->n_location_id; j++)
			if (pprof__idmap_find(&p->locations, s->location_id[j]) < 0)
				return pf_err_set(err, PF_EINVAL,
						  "sample %zu refers to location %llu, which does not exist",
						  i, (unsigned long long)s->location_id[j]);
	}
	return 0;
}

/* ---- decode ------------------------------------------------------------ */

/*
 * Decode data (see pprof.h). Memory: the decoded message takes at most about
 * 50 times the size of the (decompressed) body, which is at most
 * max_decompressed bytes.
 */
int pprof_decode(const void *data, size_t len, size_t max_decompressed,
		 struct pprof_profile **out, struct pf_err *err)
{
	struct pf_buf raw = PF_BUF_INIT(0);
	const uint8_t *body = data;
	size_t blen = len;
	struct pf_arena *arena = NULL;
	struct pprof_profile *p;
	ProtobufCAllocator alloc;
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
	if (blen == 0) {
		rc = pf_err_set(err, PF_EINVAL, "parsing profile: empty input file");
		goto fail;
	}
	if (is_legacy_text(body, blen)) {
		rc = pf_err_set(err, PF_EINVAL,
				"parsing profile: legacy text profile (debug=1 or debug=2); fetch it with debug=0");
		goto fail;
	}

	arena = pf_arena_new();
	p = pf_arena_alloc(arena, sizeof(*p));
	p->arena = arena;
	pprof__arena_allocator(&alloc, arena);
	p->msg = perftools__profiles__profile__unpack(&alloc, blen, body);
	if (!p->msg) {
		rc = pf_err_set(err, PF_EINVAL, "parsing profile: unrecognized profile format");
		goto fail;
	}
	if ((rc = pprof__index(p, err)) < 0)
		goto fail;
	pf_buf_free(&raw);
	*out = p;
	return 0;
fail:
	pf_arena_free(arena);
	pf_buf_free(&raw);
	return rc;
}

/* ---- messages built by the caller ------------------------------------- */

/* Index and validate msg, which lives in arena (see pprof.h). */
int pprof_from_message(struct pf_arena *arena, pprof_msg *msg, struct pprof_profile **out,
		       struct pf_err *err)
{
	struct pprof_profile *p;
	int rc;

	*out = NULL;
	p = pf_arena_alloc(arena, sizeof(*p));
	p->arena = arena;
	p->msg = msg;
	if ((rc = pprof__index(p, err)) < 0) {
		pf_arena_free(arena);
		return rc;
	}
	*out = p;
	return 0;
}

/* ---- accessors ----------------------------------------------------------- */

/* Free p and everything it holds (one arena). NULL is a no-op. */
void pprof_free(struct pprof_profile *p)
{
	if (p)
		pf_arena_free(p->arena);
}

/* The protobuf-c message, borrowed until pprof_free(p). */
const pprof_msg *pprof_message(const struct pprof_profile *p)
{
	return p->msg;
}

/* string_table[idx], "" when out of range; borrowed until pprof_free(p). */
const char *pprof_string(const struct pprof_profile *p, int64_t idx)
{
	if (idx < 0 || (uint64_t)idx >= (uint64_t)p->msg->n_string_table)
		return "";
	return p->msg->string_table[idx];
}

/* Number of Sample messages. */
size_t pprof_sample_count(const struct pprof_profile *p)
{
	return p->msg->n_sample;
}

/* time_nanos as stored (0 when absent). */
int64_t pprof_time_nanos(const struct pprof_profile *p)
{
	return p->msg->time_nanos;
}

/* Sum of each value column over all samples (wrapping on overflow, as Go). */
void pprof_totals(const struct pprof_profile *p, int64_t *totals)
{
	const pprof_msg *m = p->msg;
	size_t i, j;

	for (j = 0; j < m->n_sample_type; j++)
		totals[j] = 0;
	for (i = 0; i < m->n_sample; i++) {
		const Perftools__Profiles__Sample *s = m->sample[i];
		size_t n = PF_MIN(s->n_value, m->n_sample_type);
		for (j = 0; j < n; j++)
			totals[j] = (int64_t)((uint64_t)totals[j] + (uint64_t)s->value[j]);
	}
}

/* Array index of the mapping with this id, -1 when none. */
int64_t pprof_mapping_index(const struct pprof_profile *p, uint64_t id)
{
	return pprof__idmap_find(&p->mappings, id);
}

/* Array index of the location with this id, -1 when none. */
int64_t pprof_location_index(const struct pprof_profile *p, uint64_t id)
{
	return pprof__idmap_find(&p->locations, id);
}

/* Array index of the function with this id, -1 when none. */
int64_t pprof_function_index(const struct pprof_profile *p, uint64_t id)
{
	return pprof__idmap_find(&p->functions, id);
}
