/*
 * pprof decoding: gunzip (multistream, capped), legacy text detection,
 * protobuf-c unpack into an arena, validation and id indexes; plus the small
 * accessors of pprof.h.
 */
#include "pprof/pprof-internal.h"
#include "pprof/stream.h"

#include <libdeflate.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/mman.h>
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
 * The inflate buffer, its capacity taken from the in-flight budget as it
 * grows. Up to GZ_HEAP_MAX bytes it is malloc'd (a push of a small profile
 * then reuses freed heap memory: no mapping made, faulted in and unmapped
 * per push); past that it is an anonymous mapping grown with mremap (no
 * copy, and its pages go back to the system at munmap, which freed heap
 * chunks would not).
 */
#define GZ_HEAP_MAX ((size_t)1 << 20)

struct gz_out {
	uint8_t *data;
	size_t len, cap;
	int mapped; /* data is an mmap'd region, else malloc'd */
	struct pf_budget *budget;
	int64_t wait_ns;
};

static void gz_out_free(struct gz_out *o)
{
	if (o->data && o->mapped)
		munmap(o->data, o->cap);
	else
		free(o->data);
	if (o->budget)
		pf_budget_give(o->budget, o->cap);
	o->data = NULL;
	o->len = o->cap = 0;
	o->mapped = 0;
}

/* Grow o to at least want bytes (rounded up to pages). */
static int gz_out_grow(struct gz_out *o, size_t want, struct pf_err *err)
{
	size_t page = 4096, ncap;
	void *p;

	if (__builtin_add_overflow(want, page - 1, &ncap))
		return pf_err_set(err, PF_ENOMEM, "gzip: out of memory");
	ncap &= ~(page - 1);
	if (ncap <= o->cap)
		return 0;
	if (o->budget && pf_budget_take(o->budget, ncap - o->cap, o->wait_ns) < 0) {
		size_t used = pf_budget_used(o->budget);
		return pf_err_set(err, PF_EBUSY,
				  "profiles being decompressed take %zu of the %zu bytes of "
				  "-max-inflight-decompressed; this one needs %zu more (it has %zu): try again later",
				  used, pf_budget_total(o->budget), ncap - o->cap, o->cap);
	}
	if (ncap <= GZ_HEAP_MAX) {
		p = realloc(o->data, ncap);
	} else if (o->data && o->mapped) {
		p = mremap(o->data, o->cap, ncap, MREMAP_MAYMOVE);
	} else {
		p = mmap(NULL, ncap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (p != MAP_FAILED && o->data) { /* from the heap to a mapping */
			memcpy(p, o->data, o->len);
			free(o->data);
		}
	}
	if (p == MAP_FAILED || !p) {
		if (o->budget)
			pf_budget_give(o->budget, ncap - o->cap);
		return pf_err_set(err, PF_ENOMEM, "gzip: out of memory (%zu bytes)", ncap);
	}
	o->mapped = ncap > GZ_HEAP_MAX;
	o->data = p;
	o->cap = ncap;
	return 0;
}

/*
 * Size hint for the inflate buffer: the ISIZE trailer of the last member
 * (mod 2^32), trusted up to 8 times the compressed size (real profiles
 * compress 2-4 times; a bomb's trailer must not size the buffer) or 1 MB;
 * at least 64 KiB, at most max.
 */
static size_t gunzip_hint(const uint8_t *p, size_t len, size_t max)
{
	size_t hint = 65536;

	if (len >= 18) {
		size_t isize = pf_get_le32(p + len - 4), bound;
		if (__builtin_mul_overflow(len, (size_t)8, &bound))
			bound = SIZE_MAX;
		bound = PF_MAX(bound, (size_t)1 << 20);
		hint = PF_MAX(hint, PF_MIN(isize + 1, bound));
	}
	return PF_MIN(hint, max);
}

/*
 * The fast path: libdeflate inflates each member whole into o (sized from
 * the hint, at most max). Returns 0 when every member inflated, or 1 when
 * the zlib path must run instead (from the start, o emptied): any error
 * (zlib's path names it with Go's sentences), a member that does not fit
 * (zlib's path grows the buffer and probes past max), or a header with a
 * header CRC (FHCRC: libdeflate skips it, zlib and Go check it). Negative:
 * the buffer could not be had (PF_EBUSY, PF_ENOMEM, as the zlib path).
 * libdeflate is laxer than zlib on a few encodings no deflate encoder
 * writes (a dynamic block declaring 287-288 literal/length or 31-32
 * distance codes, distance codes 30-31): a body using them whose CRC-32 and
 * length check out inflates here where zlib refuses it.
 */
static int gunzip_fast(const uint8_t *p, size_t len, size_t max, size_t hint, struct gz_out *o,
		       struct pf_err *err)
{
	struct libdeflate_decompressor *d;
	size_t off = 0;
	int rc = 0;

	if ((rc = gz_out_grow(o, hint, err)) < 0)
		return rc;
	if (o->cap == 0 || !(d = libdeflate_alloc_decompressor()))
		return 1;
	while (off < len) {
		size_t in_used = 0, got = 0;
		enum libdeflate_result r;

		if (len - off < 10 || (p[off + 3] & 0x02)) {
			rc = 1;
			break;
		}
		r = libdeflate_gzip_decompress_ex(d, p + off, len - off, o->data + o->len,
						  PF_MIN(o->cap, max) - o->len, &in_used, &got);
		if (r != LIBDEFLATE_SUCCESS) {
			rc = 1;
			break;
		}
		off += in_used;
		o->len += got;
	}
	libdeflate_free_decompressor(d);
	if (rc == 1)
		o->len = 0;
	return rc;
}

/*
 * Inflate every gzip member of data into o, at most max bytes: libdeflate
 * when it can (gunzip_fast), else zlib's streaming inflate, which names
 * what is wrong as Go does. Output past max is never stored: once max
 * bytes are out, inflate gets a one-byte probe, and a byte there is the
 * PF_ETOOBIG error. The buffer starts at the size the last member's trailer
 * gives, when that is plausible, and doubles.
 */
static int gunzip_zlib(const uint8_t *p, size_t len, size_t max, size_t hint, struct gz_out *o,
		       struct pf_err *err);

static int gunzip_to(const void *data, size_t len, size_t max, struct gz_out *o, struct pf_err *err)
{
	size_t hint = gunzip_hint(data, len, max);
	int rc;

	if ((rc = gunzip_fast(data, len, max, hint, o, err)) <= 0)
		return rc;
	return gunzip_zlib(data, len, max, hint, o, err);
}

/* zlib's streaming inflate of every member into o (see gunzip_to). */
static int gunzip_zlib(const uint8_t *p, size_t len, size_t max, size_t hint, struct gz_out *o,
		       struct pf_err *err)
{
	size_t left = len;
	z_stream zs;
	int rc = 0, zr, first = 1;

	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
		return pf_err_set(err, PF_ENOMEM, "gzip: cannot initialise zlib");

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
			size_t room, before_in = zs.avail_in, got;
			uint8_t probe;
			int probing;

			if (o->len == o->cap && o->len < max) {
				size_t want = o->cap ? o->cap * 2 : hint;
				if (o->cap > max / 2)
					want = max;
				if ((rc = gz_out_grow(o, want, err)) < 0)
					goto fail;
			}
			probing = o->len >= max || o->len == o->cap;
			if (probing) {
				zs.next_out = &probe;
				room = 1;
			} else {
				zs.next_out = o->data + o->len;
				room = PF_MIN(o->cap - o->len, max - o->len);
				room = PF_MIN(room, (size_t)UINT_MAX);
			}
			zs.avail_out = (uInt)room;
			zr = inflate(&zs, Z_NO_FLUSH);
			got = room - zs.avail_out;
			{
				size_t used = before_in - zs.avail_in;
				p += used;
				left -= used;
			}
			if (probing && got > 0) {
				rc = pf_err_set(err, PF_ETOOBIG, "decompressed profile is larger than %zu bytes", max);
				goto fail;
			}
			if (!probing)
				o->len += got;
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
			/* Z_OK or Z_BUF_ERROR with no room: loop grows o */
		}
	}
fail:
	inflateEnd(&zs);
	return rc;
}

/*
 * Inflate every gzip member of data into out (appended), capped at max
 * bytes and at out->max.
 */
int pprof__gunzip_zlib(const void *data, size_t len, size_t max, struct pf_buf *out,
		       struct pf_err *err)
{
	struct gz_out o = {0};
	int rc;

	if ((rc = gunzip_zlib(data, len, max, gunzip_hint(data, len, max), &o, err)) == 0 &&
	    (rc = pf_buf_append(out, o.data, o.len)) < 0)
		rc = pf_err_set(err, rc, "gzip: out of memory");
	gz_out_free(&o);
	return rc;
}

int pprof_gunzip(const void *data, size_t len, size_t max, struct pf_buf *out, struct pf_err *err)
{
	struct gz_out o = {0};
	int rc;

	if (out->max)
		max = PF_MIN(max, out->max > out->len ? out->max - out->len : 0);
	if ((rc = gunzip_to(data, len, max, &o, err)) == 0 && (rc = pf_buf_append(out, o.data, o.len)) < 0)
		rc = pf_err_set(err, rc, "gzip: out of memory");
	gz_out_free(&o);
	return rc;
}

int pprof_inflate_limited(const void *data, size_t len, const struct pprof_limits *lim,
			  struct pprof_inflated *out, struct pf_err *err)
{
	struct gz_out o = {0};
	int rc;

	memset(out, 0, sizeof(*out));
	o.budget = lim->budget;
	o.wait_ns = lim->budget_wait_ns > 0 ? lim->budget_wait_ns : PPROF_BUDGET_WAIT_NS;
	if ((rc = gunzip_to(data, len, lim->max_decompressed, &o, err)) < 0) {
		gz_out_free(&o);
		return rc;
	}
	out->data = o.data;
	out->len = o.len;
	out->buf_ = o.data;
	out->cap_ = o.cap;
	out->mapped_ = o.mapped;
	out->budget_ = o.budget;
	return 0;
}

void pprof_inflated_free(struct pprof_inflated *in)
{
	struct gz_out o = {0};

	if (!in)
		return;
	o.data = in->buf_;
	o.cap = in->cap_;
	o.mapped = in->mapped_;
	o.budget = in->budget_;
	gz_out_free(&o);
	memset(in, 0, sizeof(*in));
}

/* ---- legacy text profiles ---------------------------------------------- */

static int has_prefix(const uint8_t *p, size_t n, const char *pre)
{
	size_t l = strlen(pre);
	return n >= l && memcmp(p, pre, l) == 0;
}

/* 1 when the body looks like a debug=1/debug=2 text profile. */
int pprof__is_legacy_text(const uint8_t *p, size_t n)
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

static void arena_free(void *data, void *ptr)
{
	(void)data;
	(void)ptr;
}

/* ---- validation and id indexes ------------------------------------------- */

/*
 * Index n items whose ids are read through get_id. Returns 0, or PF_EINVAL
 * for a zero or duplicate id (kind names the item in the message).
 */
static int build_idmap(struct pprof__idmap *m, void *const *items, size_t n,
		       uint64_t (*get_id)(const void *), const char *kind, struct pf_err *err)
{
	size_t i;
	uint32_t old;

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
	pf_htab_init(&m->t, n);
	for (i = 0; i < n; i++) {
		uint64_t id = get_id(items[i]);
		if (pf_htab_put(&m->t, id, (uint32_t)i, &old))
			return pf_err_set(err, PF_EINVAL, "two %ss have id %llu", kind,
					  (unsigned long long)id);
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
	if ((rc = build_idmap(&p->mappings, (void *const *)msg->mapping, msg->n_mapping,
			      mapping_id, "mapping", err)) < 0)
		return rc;
	if ((rc = build_idmap(&p->functions, (void *const *)msg->function,
			      msg->n_function, function_id, "function", err)) < 0)
		return rc;
	if ((rc = build_idmap(&p->locations, (void *const *)msg->location,
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

/* ---- caps: a scan before unpacking, a capped arena while unpacking ---- */

int pprof__check_caps(const uint64_t *count, struct pf_err *err)
{
	static const struct {
		int field;
		uint64_t cap;
		const char *what;
	} caps[] = {
		{2, PPROF_MAX_SAMPLES, "samples"},
		{4, PPROF_MAX_LOCATIONS, "locations"},
		{5, PPROF_MAX_FUNCTIONS, "functions"},
		{3, PPROF_MAX_MAPPINGS, "mappings"},
		{6, PPROF_MAX_STRINGS, "strings"},
		{1, PPROF_MAX_SAMPLE_TYPES, "sample types"},
	};

	for (size_t i = 0; i < PF_ARRAY_LEN(caps); i++)
		if (count[caps[i].field] > caps[i].cap)
			return pf_err_set(err, PF_ELIMIT, "profile has %llu %s; the decoder's cap is %llu %s",
					  (unsigned long long)count[caps[i].field], caps[i].what,
					  (unsigned long long)caps[i].cap, caps[i].what);
	return 0;
}

/*
 * Count the top-level fields of a Profile (p, n) without unpacking
 * anything (a submessage is skipped by its length) and check the count caps
 * of pprof.h: PF_ELIMIT naming the cap and the count, PF_EINVAL when the
 * wire format is broken, else 0.
 */
static int check_counts(const uint8_t *p, size_t n, struct pf_err *err)
{
	const uint8_t *end = p + n;
	uint64_t count[8] = {0};

	while (p < end) {
		uint64_t key;
		if (pprof__scan_field(&p, end, &key) < 0)
			return pf_err_set(err, PF_EINVAL, "parsing profile: unrecognized profile format");
		if ((key >> 3) < PF_ARRAY_LEN(count))
			count[key >> 3]++;
	}
	return pprof__check_caps(count, err);
}

/*
 * The unpack's allocator: the profile's arena, refusing (NULL, which makes
 * protobuf-c give up) once the arena would pass PPROF_MAX_DECODED_BYTES.
 * protobuf-c's scratch space comes from it too, so the cap bounds all the
 * memory an unpack takes.
 */
struct capped_arena {
	struct pf_arena *arena;
	int over;
};

static void *capped_alloc(void *data, size_t size)
{
	struct capped_arena *c = data;

	if (c->over || size > PPROF_MAX_DECODED_BYTES ||
	    pf_arena_bytes(c->arena) > PPROF_MAX_DECODED_BYTES - size) {
		c->over = 1;
		return NULL;
	}
	return pf_arena_alloc(c->arena, size);
}

/* Caps checked once unpacked (the arena bounded the memory already). */
static int check_unpacked(const pprof_msg *m, struct pf_err *err)
{
	for (size_t i = 0; i < m->n_sample; i++)
		if (m->sample[i]->n_label > PPROF_MAX_SAMPLE_LABELS)
			return pf_err_set(err, PF_ELIMIT,
					  "sample %zu has %zu labels; the decoder's cap is %d labels per sample",
					  i, m->sample[i]->n_label, PPROF_MAX_SAMPLE_LABELS);
	return 0;
}

/* ---- decode ------------------------------------------------------------ */

/*
 * Decode data (see pprof.h): inflate into a budgeted mapping, check the
 * count caps, unpack into a capped arena, validate.
 */
int pprof_decode_limited(const void *data, size_t len, const struct pprof_limits *lim,
			 struct pprof_profile **out, struct pf_err *err)
{
	struct gz_out raw = {0};
	const uint8_t *body = data;
	size_t blen = len, max_decompressed = lim->max_decompressed;
	struct pf_arena *arena = NULL;
	struct pprof_profile *p = NULL;
	struct capped_arena capped = {0};
	ProtobufCAllocator alloc;
	int rc;

	*out = NULL;
	raw.budget = lim->budget;
	raw.wait_ns = lim->budget_wait_ns > 0 ? lim->budget_wait_ns : PPROF_BUDGET_WAIT_NS;
	if (len == 0)
		return pf_err_set(err, PF_EINVAL, "parsing profile: empty input file");
	if (pprof_is_gzip(data, len)) {
		if ((rc = gunzip_to(data, len, max_decompressed, &raw, err)) < 0) {
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
	if (pprof__is_legacy_text(body, blen)) {
		rc = pf_err_set(err, PF_EINVAL,
				"parsing profile: legacy text profile (debug=1 or debug=2); fetch it with debug=0");
		goto fail;
	}
	if ((rc = check_counts(body, blen, err)) < 0)
		goto fail;

	arena = pf_arena_new();
	p = pf_arena_alloc(arena, sizeof(*p));
	p->arena = arena;
	capped.arena = arena;
	alloc.alloc = capped_alloc;
	alloc.free = arena_free;
	alloc.allocator_data = &capped;
	p->msg = perftools__profiles__profile__unpack(&alloc, blen, body);
	if (!p->msg && capped.over) {
		rc = pf_err_set(err, PF_ELIMIT,
				"decoding the profile takes more than the decoder's cap of %zu bytes of memory",
				PPROF_MAX_DECODED_BYTES);
		goto fail;
	}
	if (!p->msg) {
		rc = pf_err_set(err, PF_EINVAL, "parsing profile: unrecognized profile format");
		goto fail;
	}
	if ((rc = check_unpacked(p->msg, err)) < 0 || (rc = pprof__index(p, err)) < 0)
		goto fail;
	gz_out_free(&raw);
	*out = p;
	return 0;
fail:
	if (p)
		pprof_free(p);
	else
		pf_arena_free(arena);
	gz_out_free(&raw);
	return rc;
}

/*
 * pprof_decode_limited's inflate (budgeted mapping, max_decompressed) and
 * size checks, then the streaming decoder into sink (see stream.h).
 */
int pprof_stream_decode_limited(const void *data, size_t len, const struct pprof_limits *lim,
				const struct pprof_sink *sink, void *ctx, struct pf_err *err)
{
	struct gz_out raw = {0};
	const uint8_t *body = data;
	size_t blen = len;
	int rc;

	raw.budget = lim->budget;
	raw.wait_ns = lim->budget_wait_ns > 0 ? lim->budget_wait_ns : PPROF_BUDGET_WAIT_NS;
	if (len == 0)
		return pf_err_set(err, PF_EINVAL, "parsing profile: empty input file");
	if (pprof_is_gzip(data, len)) {
		if ((rc = gunzip_to(data, len, lim->max_decompressed, &raw, err)) < 0) {
			if (rc == PF_EINVAL)
				pf_err_prefix(err, "decompressing profile: ");
			goto out;
		}
		body = raw.data;
		blen = raw.len;
	} else if (len > lim->max_decompressed) {
		rc = pf_err_set(err, PF_ETOOBIG, "profile is larger than %zu bytes", lim->max_decompressed);
		goto out;
	}
	rc = pprof_stream_decode(body, blen, sink, ctx, err);
out:
	gz_out_free(&raw);
	return rc;
}

/* pprof_decode_limited without a budget. */
int pprof_decode(const void *data, size_t len, size_t max_decompressed,
		 struct pprof_profile **out, struct pf_err *err)
{
	struct pprof_limits lim = {.max_decompressed = max_decompressed};
	return pprof_decode_limited(data, len, &lim, out, err);
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
		pprof_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

/* ---- accessors ----------------------------------------------------------- */

/* Free p and everything it holds (its id maps' tables and its arena). NULL
 * is a no-op. */
void pprof_free(struct pprof_profile *p)
{
	if (!p)
		return;
	pf_htab_free(&p->mappings.t);
	pf_htab_free(&p->locations.t);
	pf_htab_free(&p->functions.t);
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
