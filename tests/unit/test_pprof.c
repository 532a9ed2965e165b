/*
 * Unit tests for src/pprof: decode (valid and bad fixtures, size cap,
 * decoder caps, the in-flight budget),
 * gzip helpers, encode round trip, merge (totals, headers, mismatch,
 * doubling, zero samples, labels, mapping relocation), the incremental
 * merger (any order of adds, mismatch).
 * Run from the repository root (fixtures under tests/fixtures).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "fixture.h"

#include "pprof/pprof.h"
#include "pprof/stream.h"
#include "../fuzz/pprof_same.h"

#include <zlib.h>

#define FIX "tests/fixtures/"
#define MAXDEC ((size_t)256 << 20)

/* ---- helpers ----------------------------------------------------------- */

/* Decode a raw (packed, not gzip'd) message. */
static int decode_msg(const pprof_msg *m, struct pprof_profile **out, struct pf_err *err)
{
	size_t n = perftools__profiles__profile__get_packed_size(m);
	uint8_t *buf = pf_xmalloc(n ? n : 1);
	int rc;

	perftools__profiles__profile__pack(m, buf);
	rc = pprof_decode(buf, n, MAXDEC, out, err);
	free(buf);
	return rc;
}

static void totals_of(const struct pprof_profile *p, int64_t *t)
{
	pprof_totals(p, t);
}

/* ---- decode: valid fixtures -------------------------------------------- */

static const struct {
	const char *file;
	size_t samples, locations;
} valid[] = {
	{ "pprof/cpu-001.pb.gz", 327, 679 },
	{ "pprof/cpu-002.pb.gz", 325, 651 },
	{ "pprof/cpu-003.pb.gz", 323, 638 },
	{ "pprof/cpu-004.pb.gz", 337, 717 },
	{ "pprof/cpu-005.pb.gz", 319, 637 },
	{ "pprof/heap-001.pb.gz", 1302, 339 },
	{ "pprof/heap-002.pb.gz", 1356, 349 },
	{ "pprof/heap-003.pb.gz", 1425, 354 },
	{ "pprof/heap-004.pb.gz", 1470, 359 },
	{ "pprof/heap-005.pb.gz", 1519, 364 },
	{ "pprof/heap-006.pb.gz", 1579, 366 },
	{ "pprof/heap-007.pb.gz", 1631, 366 },
	{ "pprof/heap-008.pb.gz", 1684, 372 },
	{ "pprof/heap-009.pb.gz", 1726, 378 },
	{ "pprof/heap-010.pb.gz", 1755, 378 },
	{ "pprof/heap-large-001.pb.gz", 78642, 45742 },
	{ "pprof/allocs-001.pb.gz", 1811, 383 },
	{ "pprof/allocs-delta-001.pb.gz", 304, 215 },
	{ "pprof/goroutine-001.pb.gz", 23, 93 },
	{ "pprof/block-001.pb.gz", 22, 75 },
	{ "pprof/mutex-001.pb.gz", 3, 8 },
	{ "pprof/threadcreate-001.pb.gz", 2, 4 },
	{ "bad/heap-plain.pb", 1302, 339 },
};

static void test_decode_valid(void **state)
{
	(void)state;
	for (size_t i = 0; i < PF_ARRAY_LEN(valid); i++) {
		char path[256];
		struct pprof_profile *p;
		snprintf(path, sizeof(path), FIX "%s", valid[i].file);
		p = fixture_pprof(path);
		if (pprof_sample_count(p) != valid[i].samples)
			fail_msg("%s: %zu samples, want %zu", path, pprof_sample_count(p),
				 valid[i].samples);
		assert_int_equal(pprof_message(p)->n_location, valid[i].locations);
		assert_string_equal(pprof_string(p, 0), "");
		assert_true(pprof_time_nanos(p) > 0);
		pprof_free(p);
	}
}

static void test_decode_details(void **state)
{
	struct pprof_profile *p;
	const pprof_msg *m;
	int64_t t[4];

	(void)state;
	p = fixture_pprof(FIX "pprof/heap-001.pb.gz");
	m = pprof_message(p);
	assert_int_equal(m->n_sample_type, 4);
	assert_string_equal(pprof_string(p, m->sample_type[3]->type), "inuse_space");
	assert_string_equal(pprof_string(p, m->sample_type[3]->unit), "bytes");
	assert_int_equal(m->period, 524288);
	assert_int_equal(m->n_mapping, 5);
	assert_string_equal(pprof_string(p, m->mapping[0]->filename), "/app/shopd");
	assert_string_equal(pprof_string(p, -1), "");
	assert_string_equal(pprof_string(p, (int64_t)m->n_string_table), "");
	totals_of(p, t);
	/* inuse_objects total from the fixtures README */
	assert_int_equal(t[2], 57451);
	pprof_free(p);
	pprof_free(NULL);

	p = fixture_pprof(FIX "pprof/cpu-001.pb.gz");
	m = pprof_message(p);
	assert_int_equal(m->period, 10000000);
	assert_true(m->duration_nanos > 3000000000LL && m->duration_nanos < 3200000000LL);
	pprof_free(p);
}

/* ---- decode: bad fixtures ---------------------------------------------- */

static const struct {
	const char *file;
	int code;
	const char *reason;
} bad[] = {
	{ "truncated.pb.gz", PF_EINVAL, "decompressing profile: unexpected EOF" },
	{ "random.pb.gz", PF_EINVAL, "unrecognized profile format" },
	{ "garbage-proto.pb.gz", PF_EINVAL, "unrecognized profile format" },
	{ "bad-string-index.pb.gz", PF_EINVAL,
	  "sample_type 0 type: string index 99 out of range (string table has 3 entries)" },
	{ "bad-function-name-index.pb.gz", PF_EINVAL,
	  "function 1 name: string index 50 out of range (string table has 4 entries)" },
	{ "bad-location-ref.pb.gz", PF_EINVAL, "sample 0 refers to location 7, which does not exist" },
	{ "bad-value-count.pb.gz", PF_EINVAL, "sample 0 has 2 values but there are 1 sample types" },
	{ "empty.pb.gz", PF_EINVAL, "parsing profile: empty input file" },
	{ "trailing-garbage.pb.gz", PF_EINVAL, "decompressing profile: gzip: invalid header" },
	{ "double-gzip.pb.gz", PF_EINVAL, "parsing profile: unrecognized profile format" },
	{ "error-502.html", PF_EINVAL, "unrecognized profile format" },
	{ "error-unknown-profile.txt", PF_EINVAL, "unrecognized profile format" },
	{ "error-cpu-in-use.txt", PF_EINVAL, "unrecognized profile format" },
	{ "goroutine-debug1.txt", PF_EINVAL, "legacy text profile (debug=1 or debug=2); fetch it with debug=0" },
	{ "goroutine-debug2.txt", PF_EINVAL, "legacy text profile" },
	{ "heap-debug1.txt", PF_EINVAL, "legacy text profile" },
	{ "bundle-truncated.zip", PF_EINVAL, "unrecognized profile format" },
	{ "bundle-no-meta.zip", PF_EINVAL, "unrecognized profile format" },
	{ "zeros-1GiB.gz", PF_ETOOBIG, "decompressed profile is larger than" },
};

static void test_decode_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < PF_ARRAY_LEN(bad); i++) {
		char path[256];
		struct pf_buf b;
		struct pf_err err = { 0 };
		struct pprof_profile *p = (void *)1;
		int rc;

		snprintf(path, sizeof(path), FIX "bad/%s", bad[i].file);
		fixture_read(path, &b);
		rc = pprof_decode(b.data, b.len, (size_t)64 << 20, &p, &err);
		pf_buf_free(&b);
		if (rc != bad[i].code)
			fail_msg("%s: rc %d (%s), want %d", path, rc, err.msg, bad[i].code);
		assert_null(p);
		assert_int_equal(err.code, bad[i].code);
		if (!strstr(err.msg, bad[i].reason))
			fail_msg("%s: \"%s\" lacks \"%s\"", path, err.msg, bad[i].reason);
	}
}

/* The 1 GiB bomb is refused after inflating just past the cap: fast, and
 * with memory bounded by the cap. */
static void test_size_cap(void **state)
{
	struct pf_buf b, out = PF_BUF_INIT(0);
	struct pf_err err = { 0 };
	struct pprof_profile *p = NULL;
	int64_t t0;
	int rc;

	(void)state;
	fixture_read(FIX "bad/zeros-1GiB.gz", &b);
	t0 = pf_mono_ns();
	rc = pprof_decode(b.data, b.len, (size_t)16 << 20, &p, &err);
	assert_int_equal(rc, PF_ETOOBIG);
	assert_string_equal(err.msg, "decompressed profile is larger than 16777216 bytes");
	assert_true(pf_mono_ns() - t0 < 2000000000LL);

	rc = pprof_gunzip(b.data, b.len, (size_t)1 << 20, &out, &err);
	assert_int_equal(rc, PF_ETOOBIG);
	assert_true(out.cap <= ((size_t)1 << 20) + 1);
	pf_buf_free(&out);

	/* the caller's buffer cap counts too */
	pf_buf_init(&out, 4096);
	rc = pprof_gunzip(b.data, b.len, (size_t)1 << 20, &out, &err);
	assert_int_equal(rc, PF_ETOOBIG);
	assert_true(out.len <= 4096);
	pf_buf_free(&out);
	pf_buf_free(&b);

	/* a raw body larger than the cap */
	fixture_read(FIX "bad/heap-plain.pb", &b);
	rc = pprof_decode(b.data, b.len, 1000, &p, &err);
	assert_int_equal(rc, PF_ETOOBIG);
	pf_buf_free(&b);
}

/* ---- decoder caps and the in-flight budget ------------------------------ */

/* Append n copies of a field (key, then a body of len bytes of fill). */
static void put_fields(struct pf_buf *b, uint64_t key, size_t n, size_t len, uint8_t fill)
{
	for (size_t i = 0; i < n; i++) {
		pf_buf_put_uvarint(b, key);
		pf_buf_put_uvarint(b, len);
		for (size_t j = 0; j < len; j++)
			pf_buf_putc(b, fill);
	}
}

/* Decode raw protobuf b; want PF_ELIMIT (or code) with exactly msg. */
static void expect_cap(struct pf_buf *b, int code, const char *msg)
{
	struct pprof_profile *p = (void *)1;
	struct pf_err err = { 0 };
	int rc = pprof_decode(b->data, b->len, MAXDEC, &p, &err);

	if (rc != code || strcmp(err.msg, msg) != 0)
		fail_msg("rc %d \"%s\", want %d \"%s\"", rc, err.msg, code, msg);
	assert_null(p);
	/* the streaming decoder: the same */
	p = (void *)1;
	rc = pprof_stream_to_profile(b->data, b->len, MAXDEC, &p, &err);
	if (rc != code || strcmp(err.msg, msg) != 0)
		fail_msg("stream: rc %d \"%s\", want %d \"%s\"", rc, err.msg, code, msg);
	assert_null(p);
	pf_buf_reset(b);
}

/* Each cap of pprof.h refuses one item more than it allows, naming the cap
 * and the count, before anything is unpacked; at the cap it decodes. */
static void test_decode_caps(void **state)
{
	struct pf_buf b = PF_BUF_INIT(0);
	struct pprof_profile *p = NULL;
	struct pf_err err = { 0 };
	char want[256];
	int rc;

	(void)state;
	/* field 2: samples (empty messages) */
	put_fields(&b, 2 << 3 | 2, PPROF_MAX_SAMPLES + 1, 0, 0);
	snprintf(want, sizeof(want), "profile has %d samples; the decoder's cap is %d samples",
		 PPROF_MAX_SAMPLES + 1, PPROF_MAX_SAMPLES);
	expect_cap(&b, PF_ELIMIT, want);
	put_fields(&b, 4 << 3 | 2, PPROF_MAX_LOCATIONS + 1, 0, 0);
	snprintf(want, sizeof(want), "profile has %d locations; the decoder's cap is %d locations",
		 PPROF_MAX_LOCATIONS + 1, PPROF_MAX_LOCATIONS);
	expect_cap(&b, PF_ELIMIT, want);
	put_fields(&b, 5 << 3 | 2, PPROF_MAX_FUNCTIONS + 1, 0, 0);
	snprintf(want, sizeof(want), "profile has %d functions; the decoder's cap is %d functions",
		 PPROF_MAX_FUNCTIONS + 1, PPROF_MAX_FUNCTIONS);
	expect_cap(&b, PF_ELIMIT, want);
	put_fields(&b, 3 << 3 | 2, PPROF_MAX_MAPPINGS + 1, 0, 0);
	snprintf(want, sizeof(want), "profile has %d mappings; the decoder's cap is %d mappings",
		 PPROF_MAX_MAPPINGS + 1, PPROF_MAX_MAPPINGS);
	expect_cap(&b, PF_ELIMIT, want);
	put_fields(&b, 6 << 3 | 2, PPROF_MAX_STRINGS + 1, 0, 0);
	snprintf(want, sizeof(want), "profile has %d strings; the decoder's cap is %d strings",
		 PPROF_MAX_STRINGS + 1, PPROF_MAX_STRINGS);
	expect_cap(&b, PF_ELIMIT, want);
	put_fields(&b, 1 << 3 | 2, PPROF_MAX_SAMPLE_TYPES + 1, 0, 0);
	snprintf(want, sizeof(want), "profile has %d sample types; the decoder's cap is %d sample types",
		 PPROF_MAX_SAMPLE_TYPES + 1, PPROF_MAX_SAMPLE_TYPES);
	expect_cap(&b, PF_ELIMIT, want);

	/* labels per sample (the second sample) */
	put_fields(&b, 2 << 3 | 2, 1, 0, 0);
	pf_buf_put_uvarint(&b, 2 << 3 | 2);
	pf_buf_put_uvarint(&b, 2 * (PPROF_MAX_SAMPLE_LABELS + 1));
	put_fields(&b, 3 << 3 | 2, PPROF_MAX_SAMPLE_LABELS + 1, 0, 0);
	snprintf(want, sizeof(want), "sample 1 has %d labels; the decoder's cap is %d labels per sample",
		 PPROF_MAX_SAMPLE_LABELS + 1, PPROF_MAX_SAMPLE_LABELS);
	expect_cap(&b, PF_ELIMIT, want);

	/* within every count cap, but samples of 256 labels each take more
	 * than PPROF_MAX_DECODED_BYTES to unpack (about 18.5 kB of structs per
	 * sample from 517 bytes of protobuf): the unpack gives up there */
	for (int i = 0; i < 60000; i++) {
		pf_buf_put_uvarint(&b, 2 << 3 | 2);
		pf_buf_put_uvarint(&b, 2 * PPROF_MAX_SAMPLE_LABELS);
		put_fields(&b, 3 << 3 | 2, PPROF_MAX_SAMPLE_LABELS, 0, 0);
	}
	rc = pprof_decode(b.data, b.len, MAXDEC, &p, &err);
	assert_int_equal(rc, PF_ELIMIT);
	assert_null(p);
	snprintf(want, sizeof(want), "decoding the profile takes more than the decoder's cap of %zu bytes of memory",
		 PPROF_MAX_DECODED_BYTES);
	assert_string_equal(err.msg, want);
	/* the one allowed difference (stream.h): the streaming decoder builds
	 * no tree, so this cap has no counterpart; it walks the whole body and
	 * finds what pprof_decode would check next (no string table) */
	{
		const struct pprof_sink none = { 0 };
		assert_int_equal(pprof_stream_decode(b.data, b.len, &none, NULL, &err), PF_EINVAL);
		assert_string_equal(err.msg, "parsing profile: unrecognized profile format");
	}
	pf_buf_reset(&b);

	/* a known field with a wire type protobuf-c refuses is malformed */
	pf_buf_put_uvarint(&b, 2 << 3 | 0);
	pf_buf_put_uvarint(&b, 5);
	expect_cap(&b, PF_EINVAL, "parsing profile: unrecognized profile format");
	pf_buf_free(&b);

	/* the fixture: 60 million samples, under -max-profile-size */
	fixture_read(FIX "bad/pprof-bomb-480MB.pb.gz", &b);
	rc = pprof_decode(b.data, b.len, (size_t)512 << 20, &p, &err);
	assert_int_equal(rc, PF_ELIMIT);
	assert_null(p);
	assert_string_equal(err.msg, "profile has 60000000 samples; the decoder's cap is 2000000 samples");
	pf_buf_free(&b);
}

/* ---- the streaming decoder (stream.c) ------------------------------------ */

/* Every valid fixture decodes to the same profile both ways. */
static void test_stream_valid(void **state)
{
	(void)state;
	for (size_t i = 0; i < PF_ARRAY_LEN(valid); i++) {
		char path[256];
		struct pf_buf b;
		struct pf_err err = { 0 };
		struct pprof_profile *p = fixture_pprof((snprintf(path, sizeof(path), FIX "%s", valid[i].file), path));
		struct pprof_profile *q = NULL;
		const char *why;

		fixture_read(path, &b);
		if (pprof_stream_to_profile(b.data, b.len, MAXDEC, &q, &err) < 0)
			fail_msg("%s: stream: %s", path, err.msg);
		if ((why = pprof_same(pprof_message(p), pprof_message(q))) != NULL)
			fail_msg("%s: the profiles differ: %s", path, why);
		assert_int_equal(pprof_sample_count(q), valid[i].samples);
		pf_buf_free(&b);
		pprof_free(p);
		pprof_free(q);
	}
}

/* Every bad fixture gets the same code and sentence both ways. */
static void test_stream_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < PF_ARRAY_LEN(bad); i++) {
		char path[256];
		struct pf_buf b;
		struct pf_err e1 = { 0 }, e2 = { 0 };
		struct pprof_profile *p = (void *)1, *q = (void *)1;
		int r1, r2;

		snprintf(path, sizeof(path), FIX "bad/%s", bad[i].file);
		fixture_read(path, &b);
		r1 = pprof_decode(b.data, b.len, (size_t)64 << 20, &p, &e1);
		r2 = pprof_stream_to_profile(b.data, b.len, (size_t)64 << 20, &q, &e2);
		pf_buf_free(&b);
		assert_int_equal(r1, bad[i].code);
		if (r2 != r1 || strcmp(e1.msg, e2.msg) != 0)
			fail_msg("%s: pprof_decode %d \"%s\", stream %d \"%s\"", path, r1, e1.msg, r2, e2.msg);
		assert_null(q);
	}
}

/* What a sink saw, in order. */
struct seen {
	char order[64];
	size_t n;
	int fail_at_location;
};

static int seen_header(void *ctx, const struct pprof_stream_header *h, struct pf_err *err)
{
	struct seen *s = ctx;
	(void)err;
	s->order[s->n++] = 'h';
	assert_int_equal(h->n_string, 4);
	assert_int_equal(h->n_sample, 1);
	assert_int_equal(h->n_location, 1);
	return 0;
}
static int seen_string(void *ctx, size_t idx, const char *str, size_t len, struct pf_err *err)
{
	struct seen *s = ctx;
	(void)idx, (void)str, (void)len, (void)err;
	s->order[s->n++] = 's';
	return 0;
}
static int seen_mapping(void *ctx, const struct pprof_stream_mapping *m, struct pf_err *err)
{
	struct seen *s = ctx;
	(void)m, (void)err;
	s->order[s->n++] = 'm';
	return 0;
}
static int seen_function(void *ctx, const struct pprof_stream_function *f, struct pf_err *err)
{
	struct seen *s = ctx;
	(void)err;
	assert_int_equal(f->name, 3);
	s->order[s->n++] = 'f';
	return 0;
}
static int seen_location(void *ctx, const struct pprof_stream_location *l, struct pf_err *err)
{
	struct seen *s = ctx;
	assert_int_equal(l->n_line, 1);
	assert_int_equal(l->line[0].function_id, 1);
	assert_int_equal(l->line[0].line, 42);
	if (s->fail_at_location)
		return pf_err_set(err, PF_ENOMEM, "the sink is full");
	s->order[s->n++] = 'l';
	return 0;
}
static int seen_sample(void *ctx, const struct pprof_stream_sample *x, struct pf_err *err)
{
	struct seen *s = ctx;
	(void)err;
	assert_int_equal(x->n_location_id, 1);
	assert_int_equal(x->location_id[0], 7);
	assert_int_equal(x->n_value, 1);
	assert_int_equal(x->value[0], 9);
	s->order[s->n++] = 'x';
	return 0;
}

/* A field: key, then a length-delimited body (msg of mlen bytes). */
static void put_msg(struct pf_buf *b, int field, const struct pf_buf *m)
{
	pf_buf_put_uvarint(b, (uint64_t)field << 3 | 2);
	pf_buf_put_uvarint(b, m->len);
	pf_buf_append(b, m->data, m->len);
}
static void put_var(struct pf_buf *b, int field, uint64_t v)
{
	pf_buf_put_uvarint(b, (uint64_t)field << 3);
	pf_buf_put_uvarint(b, v);
}
static void put_str(struct pf_buf *b, const char *s)
{
	pf_buf_put_uvarint(b, 6 << 3 | 2);
	pf_buf_put_uvarint(b, strlen(s));
	pf_buf_append(b, s, strlen(s));
}

/* Every reference pointing forward in the wire (the sample first, its
 * location next, then the function, the mapping, the strings, the sample
 * type last): the sink still gets the header, strings, mappings,
 * functions, locations and samples in that order, each reference already
 * handed over; a sink's error stops the decode and comes back as is. */
static void test_stream_forward_refs(void **state)
{
	struct pf_buf body = PF_BUF_INIT(0), m = PF_BUF_INIT(0), ln = PF_BUF_INIT(0);
	const struct pprof_sink sink = { seen_header, seen_string, seen_mapping, seen_function,
					 seen_location, seen_sample };
	struct pprof_profile *p = NULL, *q = NULL;
	struct pf_err err = { 0 };
	struct seen s = { 0 };

	(void)state;
	put_var(&m, 1, 7);   /* location_id 7 */
	put_var(&m, 2, 9);   /* value 9 */
	put_msg(&body, 2, &m);
	pf_buf_reset(&m);
	put_var(&ln, 1, 1);  /* function 1, line 42 */
	put_var(&ln, 2, 42);
	put_var(&m, 1, 7);   /* location 7 in mapping 1 */
	put_var(&m, 2, 1);
	put_msg(&m, 4, &ln);
	put_msg(&body, 4, &m);
	pf_buf_reset(&m);
	put_var(&m, 1, 1);   /* function 1 named "main" */
	put_var(&m, 2, 3);
	put_msg(&body, 5, &m);
	pf_buf_reset(&m);
	put_var(&m, 1, 1);   /* mapping 1 */
	put_msg(&body, 3, &m);
	pf_buf_reset(&m);
	put_str(&body, "");
	put_str(&body, "samples");
	put_str(&body, "count");
	put_str(&body, "main");
	put_var(&m, 1, 1);   /* sample type samples/count */
	put_var(&m, 2, 2);
	put_msg(&body, 1, &m);

	assert_int_equal(pprof_stream_decode(body.data, body.len, &sink, &s, &err), 0);
	s.order[s.n] = 0;
	assert_string_equal(s.order, "hssssmflx");
	/* both decoders agree on it */
	assert_int_equal(pprof_decode(body.data, body.len, MAXDEC, &p, &err), 0);
	assert_int_equal(pprof_stream_to_profile(body.data, body.len, MAXDEC, &q, &err), 0);
	assert_null(pprof_same(pprof_message(p), pprof_message(q)));
	pprof_free(p);
	pprof_free(q);

	memset(&s, 0, sizeof(s));
	s.fail_at_location = 1;
	assert_int_equal(pprof_stream_decode(body.data, body.len, &sink, &s, &err), PF_ENOMEM);
	assert_string_equal(err.msg, "the sink is full");

	/* two errors: a function's string index (the validator's string
	 * checks come first) and, before it in the wire, the sample's missing
	 * location; both decoders name the function */
	pf_buf_reset(&m);
	put_var(&m, 1, 8);
	put_var(&m, 2, 9);
	pf_buf_reset(&ln);
	put_msg(&ln, 2, &m);
	pf_buf_append(&ln, body.data, body.len);
	pf_buf_reset(&m);
	put_var(&m, 1, 2);
	put_var(&m, 2, 99);
	put_msg(&ln, 5, &m);
	expect_cap(&ln, PF_EINVAL, "function 2 name: string index 99 out of range (string table has 4 entries)");
	pf_buf_free(&body);
	pf_buf_free(&m);
	pf_buf_free(&ln);
}

/* The inflate buffer's capacity comes out of the budget while the decode
 * runs and goes back when it returns; without room, PF_EBUSY. */
static void test_decode_budget(void **state)
{
	struct pf_budget *budget = pf_budget_new((size_t)16 << 20);
	struct pprof_limits lim = { .max_decompressed = (size_t)16 << 20, .budget = budget,
				    .budget_wait_ns = 20000000 };
	struct pf_buf b, zeros;
	struct pprof_profile *p = NULL;
	struct pf_err err = { 0 };

	(void)state;
	fixture_read(FIX "pprof/heap-001.pb.gz", &b);
	assert_int_equal(pprof_decode_limited(b.data, b.len, &lim, &p, &err), 0);
	assert_int_equal(pprof_sample_count(p), 1302);
	assert_int_equal(pf_budget_used(budget), 0);
	pprof_free(p);

	/* a spent budget: the push waits, then is refused; nothing is kept */
	assert_int_equal(pf_budget_take(budget, (size_t)16 << 20, 0), 0);
	assert_int_equal(pprof_decode_limited(b.data, b.len, &lim, &p, &err), PF_EBUSY);
	assert_null(p);
	if (!strstr(err.msg, "-max-inflight-decompressed") || !strstr(err.msg, "try again later"))
		fail_msg("got \"%s\"", err.msg);
	assert_int_equal(pf_budget_used(budget), (size_t)16 << 20);
	pf_budget_give(budget, (size_t)16 << 20);

	/* a bomb grows its buffer within the budget up to the profile cap;
	 * the budget is whole again afterwards */
	fixture_read(FIX "bad/zeros-1GiB.gz", &zeros);
	assert_int_equal(pprof_decode_limited(zeros.data, zeros.len, &lim, &p, &err), PF_ETOOBIG);
	assert_string_equal(err.msg, "decompressed profile is larger than 16777216 bytes");
	assert_int_equal(pf_budget_used(budget), 0);
	/* with half the budget held elsewhere it cannot reach the cap */
	assert_int_equal(pf_budget_take(budget, (size_t)8 << 20, 0), 0);
	assert_int_equal(pprof_decode_limited(zeros.data, zeros.len, &lim, &p, &err), PF_EBUSY);
	assert_int_equal(pf_budget_used(budget), (size_t)8 << 20);
	pf_budget_give(budget, (size_t)8 << 20);
	/* a raw (not gzip) body inflates nothing and needs no budget */
	pf_buf_free(&b);
	fixture_read(FIX "bad/heap-plain.pb", &b);
	assert_int_equal(pf_budget_take(budget, (size_t)16 << 20, 0), 0);
	assert_int_equal(pprof_decode_limited(b.data, b.len, &lim, &p, &err), 0);
	pprof_free(p);
	pf_budget_give(budget, (size_t)16 << 20);
	pf_buf_free(&b);
	pf_buf_free(&zeros);
	pf_budget_free(budget);
}

/*
 * The inputs libdeflate's whole-buffer inflate hands over to zlib's
 * streaming one (decode.c, gunzip_fast): a member larger than the buffer the
 * last member's trailer sized, and a header with a header CRC (FHCRC), which
 * libdeflate skips and zlib (as Go) checks.
 */
static void test_gunzip_fallbacks(void **state)
{
	struct pf_buf z = PF_BUF_INIT(0), z2 = PF_BUF_INIT(0), out = PF_BUF_INIT(0);
	struct pf_err err = { 0 };
	size_t big = 300000;
	uint8_t *raw = malloc(big);
	uint32_t x = 1, hcrc;

	(void)state;
	for (size_t i = 0; i < big; i++) { /* little repetition: compresses about 2x */
		x = x * 1103515245u + 12345u;
		raw[i] = (uint8_t)('a' + (x >> 16) % 16);
	}
	/* a 300 KB member, then a 1-byte one: the trailer's hint is 64 KiB */
	assert_int_equal(pprof_gzip(raw, big, &z, &err), 0);
	assert_int_equal(pprof_gzip("!", 1, &z, &err), 0);
	assert_int_equal(pprof_gunzip(z.data, z.len, big + 1, &out, &err), 0);
	assert_int_equal(out.len, big + 1);
	assert_memory_equal(out.data, raw, big);
	assert_int_equal(out.data[big], '!');
	pf_buf_reset(&out);
	assert_int_equal(pprof_gunzip(z.data, z.len, big, &out, &err), PF_ETOOBIG);
	assert_string_equal(err.msg, "decompressed profile is larger than 300000 bytes");

	/* FHCRC: the same member with a 2-byte header CRC after its 10-byte header */
	pf_buf_reset(&z);
	assert_int_equal(pprof_gzip("hello", 5, &z, &err), 0);
	z.data[3] |= 0x02;
	hcrc = (uint32_t)crc32(0, z.data, 10) & 0xffff;
	assert_int_equal(pf_buf_append(&z2, z.data, 10), 0);
	assert_int_equal(pf_buf_append(&z2, (uint8_t[]){ (uint8_t)hcrc, (uint8_t)(hcrc >> 8) }, 2), 0);
	assert_int_equal(pf_buf_append(&z2, z.data + 10, z.len - 10), 0);
	pf_buf_reset(&out);
	assert_int_equal(pprof_gunzip(z2.data, z2.len, 100, &out, &err), 0);
	assert_int_equal(out.len, 5);
	assert_memory_equal(out.data, "hello", 5);
	z2.data[10] ^= 0xff; /* a wrong header CRC: refused as Go refuses it */
	pf_buf_reset(&out);
	assert_int_equal(pprof_gunzip(z2.data, z2.len, 100, &out, &err), PF_EINVAL);
	assert_string_equal(err.msg, "gzip: invalid header");
	free(raw);
	pf_buf_free(&z);
	pf_buf_free(&z2);
	pf_buf_free(&out);
}

static void test_gzip_helpers(void **state)
{
	static const char a[] = "hello, ", c[] = "world";
	struct pf_buf z = PF_BUF_INIT(0), out = PF_BUF_INIT(0);
	struct pf_err err = { 0 };
	struct pprof_profile *p = NULL;
	size_t one;

	(void)state;
	assert_int_equal(pprof_gzip(a, strlen(a), &z, &err), 0);
	one = z.len;
	assert_true(pprof_is_gzip(z.data, z.len));
	assert_false(pprof_is_gzip(a, strlen(a)));
	assert_false(pprof_is_gzip(z.data, 1));
	/* two members read as one stream, as Go does */
	assert_int_equal(pprof_gzip(c, strlen(c), &z, &err), 0);
	assert_int_equal(pprof_gunzip(z.data, z.len, 100, &out, &err), 0);
	assert_int_equal(out.len, 12);
	assert_memory_equal(out.data, "hello, world", 12);
	/* exactly at the cap is fine, one byte less is not */
	pf_buf_reset(&out);
	assert_int_equal(pprof_gunzip(z.data, z.len, 12, &out, &err), 0);
	pf_buf_reset(&out);
	assert_int_equal(pprof_gunzip(z.data, z.len, 11, &out, &err), PF_ETOOBIG);
	/* a partial second header */
	pf_buf_reset(&out);
	assert_int_equal(pprof_gunzip(z.data, one + 5, 100, &out, &err), PF_EINVAL);
	assert_string_equal(err.msg, "unexpected EOF");
	/* truncated inside the deflate stream */
	pf_buf_reset(&out);
	assert_int_equal(pprof_gunzip(z.data, one - 6, 100, &out, &err), PF_EINVAL);
	assert_string_equal(err.msg, "unexpected EOF");
	/* a corrupted CRC */
	z.data[one - 8] ^= 0xff;
	pf_buf_reset(&out);
	assert_int_equal(pprof_gunzip(z.data, one, 100, &out, &err), PF_EINVAL);
	assert_string_equal(err.msg, "gzip: invalid checksum");
	pf_buf_free(&out);

	/* gzip of nothing is an empty profile */
	pf_buf_reset(&z);
	assert_int_equal(pprof_gzip("", 0, &z, &err), 0);
	assert_int_equal(pprof_decode(z.data, z.len, MAXDEC, &p, &err), PF_EINVAL);
	assert_string_equal(err.msg, "parsing profile: empty input file");
	pf_buf_free(&z);
}

/* ---- hand-built profiles --------------------------------------------- */

/* A small profile builder over protobuf-c structs (test memory, leaked into
 * a per-builder list and freed at the end). */
struct builder {
	pprof_msg m;
	Perftools__Profiles__ValueType st[2], pt;
	Perftools__Profiles__ValueType *stp[2];
	char *strs[32];
	Perftools__Profiles__Mapping map[4], *mapp[4];
	Perftools__Profiles__Function fn[4], *fnp[4];
	Perftools__Profiles__Location loc[8], *locp[8];
	Perftools__Profiles__Line line[8], *linep[8];
	Perftools__Profiles__Sample smp[8], *smpp[8];
	uint64_t locids[8][4];
	int64_t vals[8][2];
	Perftools__Profiles__Label lab[16], *labp[8][4];
	size_t nlab;
	char keys[16][16];
};

static int64_t bstr(struct builder *b, const char *s)
{
	for (size_t i = 0; i < b->m.n_string_table; i++)
		if (strcmp(b->strs[i], s) == 0)
			return (int64_t)i;
	b->strs[b->m.n_string_table] = (char *)s;
	return (int64_t)b->m.n_string_table++;
}

/* samples/count, one mapping (start given), two functions, two locations */
static void build(struct builder *b, uint64_t map_start)
{
	memset(b, 0, sizeof(*b));
	perftools__profiles__profile__init(&b->m);
	b->m.string_table = b->strs;
	bstr(b, "");
	perftools__profiles__value_type__init(&b->st[0]);
	b->st[0].type = bstr(b, "samples");
	b->st[0].unit = bstr(b, "count");
	b->stp[0] = &b->st[0];
	b->m.sample_type = b->stp;
	b->m.n_sample_type = 1;
	perftools__profiles__value_type__init(&b->pt);
	b->pt.type = bstr(b, "cpu");
	b->pt.unit = bstr(b, "nanoseconds");
	b->m.period_type = &b->pt;
	b->m.period = 10;
	b->m.time_nanos = 1000;
	perftools__profiles__mapping__init(&b->map[0]);
	b->map[0].id = 1;
	b->map[0].memory_start = map_start;
	b->map[0].memory_limit = map_start + 0x10000;
	b->map[0].filename = bstr(b, "/bin/x");
	b->mapp[0] = &b->map[0];
	b->m.mapping = b->mapp;
	b->m.n_mapping = 1;
	for (int i = 0; i < 2; i++) {
		perftools__profiles__function__init(&b->fn[i]);
		b->fn[i].id = (uint64_t)i + 1;
		b->fn[i].name = bstr(b, i ? "main.g" : "main.f");
		b->fn[i].system_name = b->fn[i].name;
		b->fn[i].filename = bstr(b, "main.go");
		b->fnp[i] = &b->fn[i];
		perftools__profiles__line__init(&b->line[i]);
		b->line[i].function_id = (uint64_t)i + 1;
		b->line[i].line = 10 + i;
		b->linep[i] = &b->line[i];
		perftools__profiles__location__init(&b->loc[i]);
		b->loc[i].id = (uint64_t)i + 1;
		b->loc[i].mapping_id = 1;
		b->loc[i].address = map_start + 0x100 * ((uint64_t)i + 1);
		b->loc[i].line = &b->linep[i];
		b->loc[i].n_line = 1;
		b->locp[i] = &b->loc[i];
	}
	b->m.function = b->fnp;
	b->m.n_function = 2;
	b->m.location = b->locp;
	b->m.n_location = 2;
	b->m.sample = b->smpp;
}

/* Add a sample with stack (loc ids), value, and up to 4 labels given as
 * "key=str" or "key#num" (numeric, unit "bytes" when ends with 'b'). */
static void add_sample(struct builder *b, const uint64_t *locs, size_t nloc, int64_t v,
		       const char *const *labels, size_t nlab)
{
	size_t i = b->m.n_sample;
	Perftools__Profiles__Sample *s = &b->smp[i];

	perftools__profiles__sample__init(s);
	memcpy(b->locids[i], locs, nloc * sizeof(uint64_t));
	s->location_id = b->locids[i];
	s->n_location_id = nloc;
	b->vals[i][0] = v;
	s->value = b->vals[i];
	s->n_value = 1;
	for (size_t k = 0; k < nlab; k++) {
		Perftools__Profiles__Label *l = &b->lab[b->nlab];
		char *key = b->keys[b->nlab++];
		char *sep;
		snprintf(key, sizeof(b->keys[0]), "%s", labels[k]);
		sep = strpbrk(key, "=#");
		perftools__profiles__label__init(l);
		if (*sep == '=') {
			*sep = 0;
			l->str = bstr(b, sep + 1);
		} else {
			*sep = 0;
			l->num = strtoll(sep + 1, NULL, 10);
			if (sep[strlen(sep + 1)] == 'b')
				l->num_unit = bstr(b, "bytes");
		}
		l->key = bstr(b, key);
		b->labp[i][k] = l;
	}
	s->label = b->labp[i];
	s->n_label = nlab;
	b->smpp[i] = s;
	b->m.n_sample++;
}

static void test_validate_built(void **state)
{
	struct builder b;
	struct pprof_profile *p = NULL;
	struct pf_err err = { 0 };
	static const uint64_t st[] = { 1, 2 };

	(void)state;
	build(&b, 0x400000);
	add_sample(&b, st, 2, 5, NULL, 0);
	assert_int_equal(decode_msg(&b.m, &p, &err), 0);
	pprof_free(p);

	/* zero profile samples is fine */
	b.m.n_sample = 0;
	assert_int_equal(decode_msg(&b.m, &p, &err), 0);
	assert_int_equal(pprof_sample_count(p), 0);
	pprof_free(p);
	b.m.n_sample = 1;

	b.loc[1].mapping_id = 9;
	assert_int_equal(decode_msg(&b.m, &p, &err), PF_EINVAL);
	assert_string_equal(err.msg, "location 2 refers to mapping 9, which does not exist");
	b.loc[1].mapping_id = 1;

	b.line[1].function_id = 7;
	assert_int_equal(decode_msg(&b.m, &p, &err), PF_EINVAL);
	assert_string_equal(err.msg, "location 2 line 0 refers to function 7, which does not exist");
	b.line[1].function_id = 2;

	b.fn[1].id = 1;
	assert_int_equal(decode_msg(&b.m, &p, &err), PF_EINVAL);
	assert_string_equal(err.msg, "two functions have id 1");
	b.fn[1].id = 0;
	assert_int_equal(decode_msg(&b.m, &p, &err), PF_EINVAL);
	assert_string_equal(err.msg, "function at index 1 has the reserved id 0");
	b.fn[1].id = 2;

	b.strs[0] = "x";
	assert_int_equal(decode_msg(&b.m, &p, &err), PF_EINVAL);
	assert_non_null(strstr(err.msg, "string_table[0]"));
	b.strs[0] = "";

	/* sparse ids are fine */
	b.loc[0].id = 1000;
	b.locids[0][0] = 1000;
	assert_int_equal(decode_msg(&b.m, &p, &err), 0);
	pprof_free(p);
	b.locids[0][0] = 1;
	assert_int_equal(decode_msg(&b.m, &p, &err), PF_EINVAL);
	assert_string_equal(err.msg, "sample 0 refers to location 1, which does not exist");
}

/* ---- encode round trip ------------------------------------------------- */

static const char *fn_name(const struct pprof_profile *p, uint64_t fid)
{
	const pprof_msg *m = pprof_message(p);
	for (size_t i = 0; i < m->n_function; i++)
		if (m->function[i]->id == fid)
			return pprof_string(p, m->function[i]->name);
	return "?";
}

/* Compare two profiles sample by sample, resolving ids and strings. */
static void assert_same_profile(const struct pprof_profile *a, const struct pprof_profile *b)
{
	const pprof_msg *x = pprof_message(a), *y = pprof_message(b);

	assert_int_equal(x->n_sample, y->n_sample);
	assert_int_equal(x->n_location, y->n_location);
	assert_int_equal(x->n_sample_type, y->n_sample_type);
	assert_int_equal(x->time_nanos, y->time_nanos);
	assert_int_equal(x->duration_nanos, y->duration_nanos);
	assert_int_equal(x->period, y->period);
	for (size_t i = 0; i < x->n_sample_type; i++)
		assert_string_equal(pprof_string(a, x->sample_type[i]->type),
				    pprof_string(b, y->sample_type[i]->type));
	for (size_t i = 0; i < x->n_sample; i++) {
		const Perftools__Profiles__Sample *s = x->sample[i], *t = y->sample[i];
		assert_int_equal(s->n_value, t->n_value);
		assert_memory_equal(s->value, t->value, s->n_value * sizeof(int64_t));
		assert_int_equal(s->n_location_id, t->n_location_id);
		for (size_t j = 0; j < s->n_location_id; j++) {
			const Perftools__Profiles__Location *l = x->location[s->location_id[j] - 1],
							    *k = y->location[t->location_id[j] - 1];
			assert_int_equal(l->id, s->location_id[j]);
			assert_int_equal(l->address, k->address);
			assert_int_equal(l->n_line, k->n_line);
			for (size_t q = 0; q < l->n_line; q++) {
				assert_int_equal(l->line[q]->line, k->line[q]->line);
				assert_string_equal(fn_name(a, l->line[q]->function_id),
						    fn_name(b, k->line[q]->function_id));
			}
		}
		assert_int_equal(s->n_label, t->n_label);
		for (size_t j = 0; j < s->n_label; j++) {
			assert_string_equal(pprof_string(a, s->label[j]->key),
					    pprof_string(b, t->label[j]->key));
			assert_string_equal(pprof_string(a, s->label[j]->str),
					    pprof_string(b, t->label[j]->str));
			assert_int_equal(s->label[j]->num, t->label[j]->num);
			assert_string_equal(pprof_string(a, s->label[j]->num_unit),
					    pprof_string(b, t->label[j]->num_unit));
		}
	}
}

static void test_round_trip(void **state)
{
	static const char *const files[] = {
		"pprof/heap-001.pb.gz", "pprof/cpu-004.pb.gz", "pprof/goroutine-001.pb.gz",
		"pprof/threadcreate-001.pb.gz", "pprof/allocs-delta-001.pb.gz",
		"pprof/heap-large-001.pb.gz",
	};

	(void)state;
	for (size_t i = 0; i < PF_ARRAY_LEN(files); i++) {
		char path[256];
		struct pprof_profile *p, *q = NULL, *m = NULL, *r = NULL;
		struct pf_buf enc = PF_BUF_INIT(0);
		struct pf_err err = { 0 };

		snprintf(path, sizeof(path), FIX "%s", files[i]);
		p = fixture_pprof(path);
		assert_int_equal(pprof_encode(p, &enc, &err), 0);
		assert_true(pprof_is_gzip(enc.data, enc.len));
		assert_int_equal(pprof_decode(enc.data, enc.len, MAXDEC, &q, &err), 0);
		assert_same_profile(p, q);
		/* a merged (normalised) profile survives the trip as well */
		assert_int_equal(pprof_merge(&p, 1, &m, &err), 0);
		pf_buf_reset(&enc);
		assert_int_equal(pprof_encode(m, &enc, &err), 0);
		assert_int_equal(pprof_decode(enc.data, enc.len, MAXDEC, &r, &err), 0);
		assert_same_profile(m, r);
		pf_buf_free(&enc);
		pprof_free(p);
		pprof_free(q);
		pprof_free(m);
		pprof_free(r);
	}
}

/* ---- merge ----------------------------------------------------------- */

static void test_merge_heap_series(void **state)
{
	struct pprof_profile *in[10], *out = NULL, *again = NULL;
	struct pf_err err = { 0 };
	int64_t sum[4] = { 0 }, t[4], mt[4];
	int64_t tmin = INT64_MAX;

	(void)state;
	for (int i = 0; i < 10; i++) {
		char path[256];
		snprintf(path, sizeof(path), FIX "pprof/heap-%03d.pb.gz", i + 1);
		in[i] = fixture_pprof(path);
		pprof_totals(in[i], t);
		for (int j = 0; j < 4; j++)
			sum[j] += t[j];
		tmin = PF_MIN(tmin, pprof_time_nanos(in[i]));
	}
	assert_int_equal(pprof_merge(in, 10, &out, &err), 0);
	pprof_totals(out, mt);
	assert_memory_equal(mt, sum, sizeof(sum));
	/* what go tool pprof -proto gives (fixtures README) */
	assert_int_equal(pprof_sample_count(out), 1750);
	assert_int_equal(pprof_time_nanos(out), tmin);
	assert_int_equal(pprof_message(out)->duration_nanos, 0);
	assert_int_equal(pprof_message(out)->period, 524288);
	assert_string_equal(pprof_string(out, pprof_message(out)->mapping[0]->filename), "/app/shopd");
	/* only the mappings that are used, main binary first */
	assert_int_equal(pprof_message(out)->n_mapping, 1);

	/* merging the result alone changes nothing */
	assert_int_equal(pprof_merge(&out, 1, &again, &err), 0);
	assert_same_profile(out, again);
	pprof_free(again);
	pprof_free(out);
	for (int i = 0; i < 10; i++)
		pprof_free(in[i]);
}

static void test_merge_cpu(void **state)
{
	struct pprof_profile *in[5], *out = NULL;
	struct pf_err err = { 0 };
	int64_t dur = 0, sum[2] = { 0 }, t[2];

	(void)state;
	for (int i = 0; i < 5; i++) {
		char path[256];
		snprintf(path, sizeof(path), FIX "pprof/cpu-%03d.pb.gz", i + 1);
		in[i] = fixture_pprof(path);
		dur += pprof_message(in[i])->duration_nanos;
		pprof_totals(in[i], t);
		sum[0] += t[0];
		sum[1] += t[1];
	}
	assert_int_equal(pprof_merge(in, 5, &out, &err), 0);
	assert_int_equal(pprof_message(out)->duration_nanos, dur);
	assert_int_equal(pprof_time_nanos(out), pprof_time_nanos(in[0]));
	assert_int_equal(pprof_sample_count(out), 1219);
	pprof_totals(out, t);
	assert_memory_equal(t, sum, sizeof(sum));
	pprof_free(out);
	for (int i = 0; i < 5; i++)
		pprof_free(in[i]);
}

static void test_merge_mismatch(void **state)
{
	struct pprof_profile *in[3], *out = (void *)1;
	struct pf_err err = { 0 };

	(void)state;
	in[0] = fixture_pprof(FIX "pprof/heap-001.pb.gz");
	in[1] = fixture_pprof(FIX "pprof/heap-002.pb.gz");
	in[2] = fixture_pprof(FIX "pprof/cpu-001.pb.gz");
	assert_int_equal(pprof_merge(in, 3, &out, &err), PF_EMISMATCH);
	assert_null(out);
	assert_int_equal(err.code, PF_EMISMATCH);
	assert_string_equal(err.msg,
			    "sample types differ: [alloc_objects/count alloc_space/bytes "
			    "inuse_objects/count inuse_space/bytes] and "
			    "[samples/count cpu/nanoseconds]");
	assert_int_equal(pprof_merge(in, 0, &out, &err), PF_EINVAL);
	for (int i = 0; i < 3; i++)
		pprof_free(in[i]);

	/* same sample types, different period type */
	in[0] = fixture_pprof(FIX "pprof/block-001.pb.gz");
	in[1] = fixture_pprof(FIX "pprof/mutex-001.pb.gz");
	assert_int_equal(pprof_merge(in, 2, &out, &err), 0);
	pprof_free(out);
	pprof_free(in[0]);
	pprof_free(in[1]);
}

/* ---- the incremental merger ------------------------------------------ */

static int cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * p at the pprof level, independent of ids and order: the header, then one
 * line per sample (its frames by mapping file, address relative to the
 * mapping, function, file and line; its labels sorted; its values),
 * sorted. The caller frees.
 */
static char *canon(const struct pprof_profile *p)
{
	const pprof_msg *m = pprof_message(p);
	struct pf_buf out = PF_BUF_INIT(0);
	char **lines = pf_xcalloc(m->n_sample + 1, sizeof(char *));
	char *ret;

	pf_buf_printf(&out, "time %lld duration %lld period %lld default %s locations %zu functions %zu mappings %zu\n",
		      (long long)m->time_nanos, (long long)m->duration_nanos, (long long)m->period,
		      pprof_string(p, m->default_sample_type), m->n_location, m->n_function, m->n_mapping);
	for (size_t i = 0; i < m->n_sample_type; i++)
		pf_buf_printf(&out, "type %s/%s\n", pprof_string(p, m->sample_type[i]->type),
			      pprof_string(p, m->sample_type[i]->unit));
	if (m->period_type)
		pf_buf_printf(&out, "period type %s/%s\n", pprof_string(p, m->period_type->type),
			      pprof_string(p, m->period_type->unit));
	for (size_t i = 0; i < m->n_sample; i++) {
		const Perftools__Profiles__Sample *s = m->sample[i];
		struct pf_buf l = PF_BUF_INIT(0);
		char **labs = pf_xcalloc(s->n_label + 1, sizeof(char *));
		for (size_t j = 0; j < s->n_location_id; j++) {
			const Perftools__Profiles__Location *loc =
				m->location[pprof_location_index(p, s->location_id[j])];
			const char *file = "";
			uint64_t rel = loc->address;
			if (loc->mapping_id) {
				const Perftools__Profiles__Mapping *mp =
					m->mapping[pprof_mapping_index(p, loc->mapping_id)];
				file = pprof_string(p, mp->filename);
				rel -= mp->memory_start;
			}
			pf_buf_printf(&l, "%s+%llx", file, (unsigned long long)rel);
			for (size_t k = 0; k < loc->n_line; k++) {
				const Perftools__Profiles__Function *f =
					loc->line[k]->function_id
						? m->function[pprof_function_index(p, loc->line[k]->function_id)]
						: NULL;
				pf_buf_printf(&l, ":%s@%s:%lld", f ? pprof_string(p, f->name) : "",
					      f ? pprof_string(p, f->filename) : "", (long long)loc->line[k]->line);
			}
			pf_buf_printf(&l, ";");
		}
		for (size_t j = 0; j < s->n_label; j++) {
			struct pf_buf lb = PF_BUF_INIT(0);
			const Perftools__Profiles__Label *lab = s->label[j];
			if (lab->str)
				pf_buf_printf(&lb, "%s=%s", pprof_string(p, lab->key), pprof_string(p, lab->str));
			else
				pf_buf_printf(&lb, "%s=%lld%s", pprof_string(p, lab->key), (long long)lab->num,
					      pprof_string(p, lab->num_unit));
			pf_buf_append(&lb, "", 1);
			labs[j] = (char *)pf_buf_steal(&lb, NULL);
		}
		qsort(labs, s->n_label, sizeof(char *), cmp_line);
		for (size_t j = 0; j < s->n_label; j++) {
			pf_buf_printf(&l, " %s", labs[j]);
			free(labs[j]);
		}
		free(labs);
		for (size_t j = 0; j < s->n_value; j++)
			pf_buf_printf(&l, " %lld", (long long)s->value[j]);
		pf_buf_append(&l, "", 1);
		lines[i] = (char *)pf_buf_steal(&l, NULL);
	}
	qsort(lines, m->n_sample, sizeof(char *), cmp_line);
	for (size_t i = 0; i < m->n_sample; i++) {
		pf_buf_printf(&out, "%s\n", lines[i]);
		free(lines[i]);
	}
	free(lines);
	pf_buf_append(&out, "", 1);
	ret = (char *)pf_buf_steal(&out, NULL);
	return ret;
}

/* The fixtures of one sample type, merged in every order below. */
static const char *const merger_sets[][13] = {
	{ "heap-001", "heap-002", "heap-003", "heap-004", "heap-005", "heap-006", "heap-007",
	  "heap-008", "heap-009", "heap-010", "allocs-001", "heap-large-001", NULL },
	{ "cpu-001", "cpu-002", "cpu-003", "cpu-004", "cpu-005", NULL },
	{ "block-001", "mutex-001", NULL },
};

static struct pprof_profile *fixture_named(const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), FIX "pprof/%s.pb.gz", name);
	return fixture_pprof(path);
}

/* Same result as pprof_merge (inputs in order, all held) whatever the
 * order of the adds, each input decoded right before its add and freed
 * right after. A set with heap-large-001 (78 642 samples) is merged
 * forward and reversed only, and under the sanitizers (PROFEFE_TEST_SUBSET,
 * tests/run.sh) without heap-large-001: the strides are the small sets'. */
static void test_merger_any_order(void **state)
{
	(void)state;
	for (size_t set = 0; set < PF_ARRAY_LEN(merger_sets); set++) {
		const char *const *names = merger_sets[set];
		struct pprof_profile *in[16], *want = NULL;
		struct pf_err err = { 0 };
		char *wc;
		size_t n = 0;

		size_t orders = 4;
		while (names[n])
			n++;
		if (strcmp(names[n - 1], "heap-large-001") == 0) {
			orders = 2;
			if (getenv("PROFEFE_TEST_SUBSET"))
				n--;
		}
		for (size_t i = 0; i < n; i++)
			in[i] = fixture_named(names[i]);
		assert_int_equal(pprof_merge(in, n, &want, &err), 0);
		wc = canon(want);
		for (size_t i = 0; i < n; i++)
			pprof_free(in[i]);
		/* forward, reversed, and strides through the set */
		for (size_t order = 0; order < orders; order++) {
			struct pprof_merger *m = pprof_merger_new();
			struct pprof_profile *got = NULL;
			size_t stride = order == 2 ? 5 : order == 3 ? 7 : 1;
			char *gc;
			for (size_t k = 0; k < n; k++) {
				size_t i = order == 1 ? n - 1 - k : (k * stride) % n;
				struct pprof_profile *p;
				if (order >= 2 && n % stride == 0)
					i = (n - 1 - k + 3) % n; /* stride not coprime: a rotation */
				p = fixture_named(names[i]);
				assert_int_equal(pprof_merger_add(m, p, &err), 0);
				pprof_free(p);
			}
			assert_int_equal(pprof_merger_count(m), n);
			assert_int_equal(pprof_merger_finish(m, &got, &err), 0);
			pprof_merger_free(m);
			gc = canon(got);
			if (strcmp(gc, wc) != 0)
				fail_msg("set %zu, order %zu: the merge differs from pprof_merge's", set, order);
			free(gc);
			pprof_free(got);
		}
		free(wc);
		pprof_free(want);
	}
}

/* A second sample type is refused naming both; the merger stays as it was
 * and goes on. Nothing added: PF_EINVAL. */
static void test_merger_mismatch(void **state)
{
	struct pprof_merger *m = pprof_merger_new();
	struct pprof_profile *a = fixture_named("heap-001"), *b = fixture_named("cpu-001"),
			     *c = fixture_named("heap-002"), *got = NULL, *want = NULL, *in[2];
	struct pf_err err = { 0 };
	char *gc, *wc;

	(void)state;
	assert_int_equal(pprof_merger_add(m, a, &err), 0);
	assert_int_equal(pprof_merger_add(m, b, &err), PF_EMISMATCH);
	assert_string_equal(err.msg,
			    "sample types differ: [alloc_objects/count alloc_space/bytes "
			    "inuse_objects/count inuse_space/bytes] and "
			    "[samples/count cpu/nanoseconds]");
	assert_int_equal(pprof_merger_count(m), 1);
	assert_int_equal(pprof_merger_add(m, c, &err), 0);
	assert_int_equal(pprof_merger_finish(m, &got, &err), 0);
	pprof_merger_free(m);
	in[0] = a;
	in[1] = c;
	assert_int_equal(pprof_merge(in, 2, &want, &err), 0);
	gc = canon(got);
	wc = canon(want);
	assert_string_equal(gc, wc);
	free(gc);
	free(wc);
	pprof_free(got);
	pprof_free(want);

	/* the other way round: the first input is named first */
	m = pprof_merger_new();
	assert_int_equal(pprof_merger_add(m, b, &err), 0);
	assert_int_equal(pprof_merger_add(m, a, &err), PF_EMISMATCH);
	assert_string_equal(err.msg,
			    "sample types differ: [samples/count cpu/nanoseconds] and "
			    "[alloc_objects/count alloc_space/bytes inuse_objects/count "
			    "inuse_space/bytes]");
	pprof_merger_free(m);

	/* nothing added, and a merger freed unfinished */
	m = pprof_merger_new();
	assert_int_equal(pprof_merger_finish(m, &got, &err), PF_EINVAL);
	assert_null(got);
	pprof_merger_free(m);
	pprof_merger_free(NULL);
	pprof_free(a);
	pprof_free(b);
	pprof_free(c);
}

static void test_merge_self_doubles(void **state)
{
	static const char *const files[] = { "pprof/heap-001.pb.gz", "pprof/cpu-002.pb.gz",
					     "pprof/threadcreate-001.pb.gz" };

	(void)state;
	for (size_t f = 0; f < PF_ARRAY_LEN(files); f++) {
		char path[256];
		struct pprof_profile *p, *in[2], *one = NULL, *two = NULL;
		struct pf_err err = { 0 };
		const pprof_msg *a, *b;

		snprintf(path, sizeof(path), FIX "%s", files[f]);
		p = fixture_pprof(path);
		in[0] = in[1] = p;
		assert_int_equal(pprof_merge(in, 1, &one, &err), 0);
		assert_int_equal(pprof_merge(in, 2, &two, &err), 0);
		a = pprof_message(one);
		b = pprof_message(two);
		assert_int_equal(a->n_sample, b->n_sample);
		assert_int_equal(a->n_location, b->n_location);
		assert_int_equal(b->time_nanos, a->time_nanos);
		assert_int_equal(b->duration_nanos, 2 * a->duration_nanos);
		for (size_t i = 0; i < a->n_sample; i++)
			for (size_t j = 0; j < a->sample[i]->n_value; j++)
				assert_int_equal(b->sample[i]->value[j], 2 * a->sample[i]->value[j]);
		pprof_free(one);
		pprof_free(two);
		pprof_free(p);
	}
}

/* p plus its negation: every summed sample is zero, so all are dropped,
 * and so is everything only they used (Go merges the result again). */
static void test_merge_zero_samples(void **state)
{
	struct pprof_profile *in[2], *out = NULL;
	struct pf_err err = { 0 };
	pprof_msg *neg;

	(void)state;
	in[0] = fixture_pprof(FIX "pprof/heap-001.pb.gz");
	in[1] = fixture_pprof(FIX "pprof/heap-001.pb.gz");
	neg = (pprof_msg *)pprof_message(in[1]); /* the test owns it */
	for (size_t i = 0; i < neg->n_sample; i++)
		for (size_t j = 0; j < neg->sample[i]->n_value; j++)
			neg->sample[i]->value[j] = -neg->sample[i]->value[j];
	assert_int_equal(pprof_merge(in, 2, &out, &err), 0);
	assert_int_equal(pprof_sample_count(out), 0);
	assert_int_equal(pprof_message(out)->n_location, 0);
	assert_int_equal(pprof_message(out)->n_function, 0);
	assert_int_equal(pprof_message(out)->n_mapping, 1);
	pprof_free(out);
	pprof_free(in[0]);
	pprof_free(in[1]);
}

static void test_merge_labels(void **state)
{
	struct builder b;
	struct pprof_profile *p = NULL, *out = NULL;
	struct pf_err err = { 0 };
	static const uint64_t st[] = { 1, 2 };
	static const char *const l1[] = { "a=x", "b=y", "n#4b" };
	static const char *const l2[] = { "n#4b", "b=y", "a=x" };
	static const char *const l3[] = { "a=x", "b=y", "n#4" };
	static const char *const l4[] = { "a=x", "a=z" };
	static const char *const l5[] = { "a=z", "a=x" };
	static const char *const l6[] = { "a=", "b#0" }; /* both are no label, as in Go */
	const pprof_msg *m;

	(void)state;
	build(&b, 0x400000);
	add_sample(&b, st, 2, 1, l1, 3);
	add_sample(&b, st, 2, 2, l2, 3); /* same as l1 in another order */
	add_sample(&b, st, 2, 4, l3, 3); /* no unit: another sample */
	add_sample(&b, st, 2, 8, l4, 2);
	add_sample(&b, st, 2, 16, l5, 2); /* order within one key matters */
	add_sample(&b, st, 2, 32, l6, 2);
	add_sample(&b, st, 2, 64, NULL, 0); /* same as l6 */
	add_sample(&b, st, 1, 0, NULL, 0);  /* all zero: dropped */
	assert_int_equal(decode_msg(&b.m, &p, &err), 0);
	assert_int_equal(pprof_merge(&p, 1, &out, &err), 0);
	m = pprof_message(out);
	assert_int_equal(m->n_sample, 5);
	assert_int_equal(m->sample[0]->value[0], 3);
	assert_int_equal(m->sample[1]->value[0], 4);
	assert_int_equal(m->sample[2]->value[0], 8);
	assert_int_equal(m->sample[3]->value[0], 16);
	assert_int_equal(m->sample[4]->value[0], 96);
	assert_int_equal(m->sample[4]->n_label, 0);
	/* labels come out sorted by key, string labels first */
	assert_string_equal(pprof_string(out, m->sample[0]->label[0]->key), "a");
	assert_string_equal(pprof_string(out, m->sample[0]->label[1]->key), "b");
	assert_string_equal(pprof_string(out, m->sample[0]->label[2]->key), "n");
	assert_string_equal(pprof_string(out, m->sample[0]->label[2]->num_unit), "bytes");
	assert_int_equal(m->sample[0]->label[2]->num, 4);
	assert_int_equal(m->n_location, 2);
	pprof_free(out);
	pprof_free(p);
}

/* The same binary loaded at another address (ASLR): locations relocate to the
 * first profile's mapping and merge. */
static void test_merge_relocation(void **state)
{
	struct builder b1, b2;
	struct pprof_profile *in[2] = { NULL, NULL }, *out = NULL;
	struct pf_err err = { 0 };
	static const uint64_t st[] = { 1, 2 };
	const pprof_msg *m;

	(void)state;
	build(&b1, 0x400000);
	add_sample(&b1, st, 2, 1, NULL, 0);
	build(&b2, 0x7f0000000000);
	b2.m.time_nanos = 500;
	b2.m.duration_nanos = 7;
	b2.m.period = 20;
	add_sample(&b2, st, 2, 2, NULL, 0);
	assert_int_equal(decode_msg(&b1.m, &in[0], &err), 0);
	assert_int_equal(decode_msg(&b2.m, &in[1], &err), 0);
	assert_int_equal(pprof_merge(in, 2, &out, &err), 0);
	m = pprof_message(out);
	assert_int_equal(m->n_mapping, 1);
	assert_int_equal(m->mapping[0]->memory_start, 0x400000);
	assert_int_equal(m->n_location, 2);
	assert_int_equal(m->location[0]->address, 0x400100);
	assert_int_equal(m->n_sample, 1);
	assert_int_equal(m->sample[0]->value[0], 3);
	assert_int_equal(m->time_nanos, 500);
	assert_int_equal(m->duration_nanos, 7);
	assert_int_equal(m->period, 20);
	pprof_free(out);
	pprof_free(in[0]);
	pprof_free(in[1]);
}

int main(void)
{
	const struct CMUnitTest decode[] = {
		cmocka_unit_test(test_decode_valid),
		cmocka_unit_test(test_decode_details),
		cmocka_unit_test(test_decode_bad),
		cmocka_unit_test(test_size_cap),
		cmocka_unit_test(test_decode_caps),
		cmocka_unit_test(test_decode_budget),
		cmocka_unit_test(test_gzip_helpers),
		cmocka_unit_test(test_gunzip_fallbacks),
		cmocka_unit_test(test_validate_built),
		cmocka_unit_test(test_stream_valid),
		cmocka_unit_test(test_stream_bad),
		cmocka_unit_test(test_stream_forward_refs),
	};
	const struct CMUnitTest encode[] = {
		cmocka_unit_test(test_round_trip),
	};
	const struct CMUnitTest merge[] = {
		cmocka_unit_test(test_merge_heap_series),
		cmocka_unit_test(test_merge_cpu),
		cmocka_unit_test(test_merge_mismatch),
		cmocka_unit_test(test_merge_self_doubles),
		cmocka_unit_test(test_merge_zero_samples),
		cmocka_unit_test(test_merge_labels),
		cmocka_unit_test(test_merge_relocation),
		cmocka_unit_test(test_merger_any_order),
		cmocka_unit_test(test_merger_mismatch),
	};
	int fails = 0;

	fails += cmocka_run_group_tests_name("pprof_decode", decode, NULL, NULL);
	fails += cmocka_run_group_tests_name("pprof_encode", encode, NULL, NULL);
	fails += cmocka_run_group_tests_name("pprof_merge", merge, NULL, NULL);
	return fails ? 1 : 0;
}
