/*
 * libFuzzer entry point, differential: the streaming decoder
 * (src/pprof/stream.c, through pprof_stream_to_profile, which rebuilds a
 * profile from what it streams) against pprof_decode on the same input.
 * Built by `make fuzz` (FUZZ_ONLY=stream) and, with tests/fuzz/driver.c as
 * main, by `make test`, which feeds it its seeds (tests/fuzz/seeds.sh: the
 * fixtures, the bad fixtures and tests/fuzz/regress/stream, which holds
 * raw, not gzip'd, profiles so that mutations reach the wire format).
 *
 * It aborts when the two disagree: accept or reject, the error code, the
 * error sentence, or (both accepting) any field of the profile
 * (tests/fuzz/pprof_same.h). One difference is allowed: pprof_decode's cap
 * on the memory of protobuf-c's tree (PF_ELIMIT, "decoding the profile
 * takes more than the decoder's cap of N bytes of memory") has no
 * counterpart in the streaming decoder, which builds no tree; an input
 * that hits it is not compared.
 *
 * A gzip input is also inflated twice, by pprof_gunzip (libdeflate, zlib
 * when libdeflate refuses) and by zlib alone (pprof__gunzip_zlib): the
 * results must agree, bytes or sentence. Allowed: libdeflate inflates a few
 * encodings zlib refuses as corrupt (decode.c, gunzip_fast), so zlib's
 * "flate: corrupt input" against libdeflate's success is not a
 * disagreement.
 *
 * The symbolized head's path is compared the same way (issue 18):
 * tsdb__flat_decode (the streaming decoder into flat arrays) must accept or
 * reject as pprof_decode, with the same sentence; an accepted profile
 * interned with tsdb__chunk_enc_add_flat must give the same chunk bytes
 * (but the table's nonce and the CRC) and the same table as
 * tsdb__chunk_enc_add_pprof of pprof_decode's profile, and decode from its
 * chunk to the same profile, field for field. Each is added twice (the
 * second time through the encoders' same-rows path and add_flat's digest
 * shortcut), and the second decodes as the first. And a sequence that
 * changes rows and goes back (p, p reversed, p, p) decodes from one chunk
 * as each profile does alone (check_sequence).
 *
 * The shape (pprof_stream_shape, by which the store takes a program's next
 * snapshot without a walk of its tables): when it reads an input the
 * decoders accept, its values, sample types, times, period and strings
 * are the decoded profile's. And the property the store relies on: the
 * input rewritten with every value and the time changed (each sample's
 * length with them) feeds the same shape stream, and pprof_decode takes
 * both inputs alike (accept, or reject with the same sentence), their
 * profiles equal but for the changed values and time.
 */
#include "pprof/pprof-internal.h"
#include "pprof/pprof.h"
#include "pprof/stream.h"
#include "pprof_same.h"
#include "tsdb/codec/codec.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The two inflates of a gzip input agree (see the top). */
static void check_inflates(const uint8_t *data, size_t size, size_t max)
{
	struct pf_buf a = PF_BUF_INIT(0), b = PF_BUF_INIT(0);
	struct pf_err e1 = {0}, e2 = {0};
	int r1 = pprof_gunzip(data, size, max, &a, &e1), r2 = pprof__gunzip_zlib(data, size, max, &b, &e2);

	if (r1 == 0 && r2 == PF_EINVAL && strncmp(e2.msg, "flate: corrupt input", 20) == 0)
		goto done;
	if (r1 != r2 || (r1 < 0 && strcmp(e1.msg, e2.msg) != 0) ||
	    (r1 == 0 && (a.len != b.len || (a.len && memcmp(a.data, b.data, a.len) != 0)))) {
		fprintf(stderr, "fuzz_stream: the inflates disagree on %zu bytes:\n  pprof_gunzip: %d %s (%zu bytes)\n"
				"  zlib alone:   %d %s (%zu bytes)\n",
			size, r1, r1 < 0 ? e1.msg : "ok", a.len, r2, r2 < 0 ? e2.msg : "ok", b.len);
		abort();
	}
done:
	pf_buf_free(&a);
	pf_buf_free(&b);
}

/*
 * The encoder over a sequence that changes rows and goes back: p, p with
 * its samples in reverse order (q: other rows, so the previous profile's
 * indexes are rebuilt), p, p, each added by add_pprof into one chunk; every
 * profile decodes from the chunk as the same profile added alone into a
 * chunk of its own.
 */
static struct pprof_profile *alone(const struct pprof_profile *p)
{
	struct tsdb__symtab *st = tsdb__symtab_new();
	struct tsdb__chunk_enc *e = tsdb__chunk_enc_new(st);
	struct pf_buf c = PF_BUF_INIT(0);
	struct tsdb__chunk_dec *d = NULL;
	struct pprof_profile *out = NULL;
	struct pf_err err = {0};

	tsdb__symtab_set_level(st, 1);
	if (tsdb__chunk_enc_add_pprof(e, p, &err) < 0 || tsdb__chunk_enc_finish(e, &c, &err) < 0 ||
	    tsdb__chunk_dec_open(c.data, c.len, &d, &err) < 0 ||
	    tsdb__chunk_dec_pprof(d, st, 0, &out, &err) < 0) {
		fprintf(stderr, "fuzz_stream: a profile alone in a chunk: %s\n", err.msg);
		abort();
	}
	tsdb__chunk_dec_free(d);
	pf_buf_free(&c);
	tsdb__chunk_enc_free(e);
	tsdb__symtab_free(st);
	return out;
}

static void check_sequence(const struct pprof_profile *p)
{
	const pprof_msg *m = pprof_message(p);
	struct pf_arena *a;
	pprof_msg *rm;
	struct pprof_profile *q = NULL, *want[2] = {NULL, NULL};
	const struct pprof_profile *seq[4];
	struct tsdb__symtab *st;
	struct tsdb__chunk_enc *e;
	struct tsdb__chunk_dec *d = NULL;
	struct pf_buf c = PF_BUF_INIT(0);
	struct pf_err err = {0};
	const char *why;

	if (m->n_sample < 2)
		return;
	a = pf_arena_new();
	rm = pf_arena_alloc(a, sizeof(*rm));
	*rm = *m;
	rm->sample = pf_arena_alloc(a, m->n_sample * sizeof(*rm->sample));
	for (size_t i = 0; i < m->n_sample; i++)
		rm->sample[i] = m->sample[m->n_sample - 1 - i];
	if (pprof_from_message(a, rm, &q, &err) < 0) {
		fprintf(stderr, "fuzz_stream: the reversed profile: %s\n", err.msg);
		abort();
	}
	seq[0] = p, seq[1] = q, seq[2] = p, seq[3] = p;
	st = tsdb__symtab_new();
	tsdb__symtab_set_level(st, 1);
	e = tsdb__chunk_enc_new(st);
	for (int i = 0; i < 4; i++)
		if (tsdb__chunk_enc_add_pprof(e, seq[i], &err) < 0) {
			/* a cap (ETOOBIG) is the same for every add: the first
			 * one meets it, and then nothing is compared */
			if (i == 0)
				goto out;
			fprintf(stderr, "fuzz_stream: sequence add %d: %s\n", i, err.msg);
			abort();
		}
	if (tsdb__chunk_enc_finish(e, &c, &err) < 0 || tsdb__chunk_dec_open(c.data, c.len, &d, &err) < 0) {
		fprintf(stderr, "fuzz_stream: sequence chunk: %s\n", err.msg);
		abort();
	}
	want[0] = alone(p);
	want[1] = alone(q);
	for (int i = 0; i < 4; i++) {
		struct pprof_profile *got = NULL;
		if (tsdb__chunk_dec_pprof(d, st, (size_t)i, &got, &err) < 0) {
			fprintf(stderr, "fuzz_stream: sequence profile %d: %s\n", i, err.msg);
			abort();
		}
		why = pprof_same(pprof_message(want[i == 1]), pprof_message(got));
		pprof_free(got);
		if (why) {
			fprintf(stderr, "fuzz_stream: sequence profile %d differs from the same alone: %s\n",
				i, why);
			abort();
		}
	}
out:
	pprof_free(want[0]);
	pprof_free(want[1]);
	tsdb__chunk_dec_free(d);
	pf_buf_free(&c);
	tsdb__chunk_enc_free(e);
	tsdb__symtab_free(st);
	pprof_free(q);
}

/* A next chunk's first profile from the seed of the chunk before (the
 * head's), on the same table: the same chunk bytes as f added whole to an
 * empty encoder. */
static void check_seeded(struct tsdb__symtab *st, struct tsdb__chunk_seed *seed,
			 const struct tsdb__flat *f)
{
	struct tsdb__chunk_enc *ec = tsdb__chunk_enc_new(st), *ed = tsdb__chunk_enc_new(st);
	struct pf_buf cc = PF_BUF_INIT(0), cd = PF_BUF_INIT(0);
	struct pf_err err = {0};

	if (!seed || !tsdb__chunk_seed_takes(seed, f)) {
		fprintf(stderr, "fuzz_stream: the seed of a chunk does not take its last profile again\n");
		abort();
	}
	if (tsdb__chunk_enc_add_seeded(ec, seed, f, &err) < 0 ||
	    tsdb__chunk_enc_add_flat(ed, f, &err) < 0 || tsdb__chunk_enc_finish(ec, &cc, &err) < 0 ||
	    tsdb__chunk_enc_finish(ed, &cd, &err) < 0) {
		fprintf(stderr, "fuzz_stream: seeded chunk: %s\n", err.msg);
		abort();
	}
	if (cc.len != cd.len || memcmp(cc.data, cd.data, cc.len) != 0) {
		fprintf(stderr, "fuzz_stream: a seeded chunk differs from the whole add (%zu, %zu bytes)\n",
			cc.len, cd.len);
		abort();
	}
	pf_buf_free(&cc);
	pf_buf_free(&cd);
	tsdb__chunk_enc_free(ec);
	tsdb__chunk_enc_free(ed);
}

static void check_symbolized(const uint8_t *data, size_t size, size_t max, int r1,
			     const struct pf_err *e1, const struct pprof_profile *p)
{
	struct tsdb__flat *f = tsdb__flat_new();
	struct tsdb__symtab *sa = tsdb__symtab_new(), *sb = tsdb__symtab_new();
	struct tsdb__chunk_enc *ea = tsdb__chunk_enc_new(sa), *eb = tsdb__chunk_enc_new(sb);
	struct pf_buf ca = PF_BUF_INIT(0), cb = PF_BUF_INIT(0), ta = PF_BUF_INIT(0), tb = PF_BUF_INIT(0);
	struct pf_err e3 = {0}, e4 = {0};
	struct tsdb__chunk_dec *da = NULL, *db = NULL;
	struct pprof_profile *pa = NULL, *pb = NULL;
	struct tsdb__chunk_seed *seed = NULL;
	const char *why;
	int r3, ra, rb;

	tsdb__symtab_set_level(sa, 1);
	tsdb__symtab_set_level(sb, 1);
	r3 = tsdb__flat_decode(f, data, size, max, &e3);
	if (r1 != r3 || (r1 < 0 && strcmp(e1->msg, e3.msg) != 0)) {
		fprintf(stderr, "fuzz_stream: flat decode disagrees on %zu bytes:\n  pprof_decode: %d %s\n"
				"  flat:         %d %s\n",
			size, r1, r1 < 0 ? e1->msg : "ok", r3, r3 < 0 ? e3.msg : "ok");
		abort();
	}
	if (r1 < 0)
		goto out;
	ra = tsdb__chunk_enc_add_pprof(ea, p, &e4);
	rb = tsdb__chunk_enc_add_flat(eb, f, &e3);
	if (ra != rb || (ra < 0 && strcmp(e3.msg, e4.msg) != 0)) {
		fprintf(stderr, "fuzz_stream: add_flat %d (%s), add_pprof %d (%s)\n", rb, e3.msg, ra,
			e4.msg);
		abort();
	}
	if (ra < 0)
		goto out;
	check_sequence(p);
	/* the same profile again: the encoders' same-rows path, and add_flat's
	 * digest shortcut (header ids and rows of the previous add) */
	ra = tsdb__chunk_enc_add_pprof(ea, p, &e4);
	rb = tsdb__chunk_enc_add_flat(eb, f, &e3);
	if (ra != 0 || rb != 0) {
		fprintf(stderr, "fuzz_stream: second add: add_flat %d (%s), add_pprof %d (%s)\n", rb,
			e3.msg, ra, e4.msg);
		abort();
	}
	seed = tsdb__chunk_enc_seed(eb); /* before finish forgets the last profile */
	if (tsdb__chunk_enc_finish(ea, &ca, &e3) < 0 || tsdb__chunk_enc_finish(eb, &cb, &e3) < 0 ||
	    tsdb__symtab_write(sa, &ta, &e3) < 0 || tsdb__symtab_write(sb, &tb, &e3) < 0) {
		fprintf(stderr, "fuzz_stream: finish: %s\n", e3.msg);
		abort();
	}
	check_seeded(sb, seed, f);
	if (ca.len != cb.len || memcmp(ca.data, cb.data, 8) != 0 ||
	    memcmp(ca.data + 16, cb.data + 16, ca.len - 20) != 0 || ta.len != tb.len) {
		struct tsdb__symtab_stats xa, xb;
		tsdb__symtab_stats(sa, &xa);
		tsdb__symtab_stats(sb, &xb);
		fprintf(stderr, "fuzz_stream: chunks or tables differ (%zu, %zu; %zu, %zu bytes); "
				"pprof path: %zu strings %zu mappings %zu functions %zu locations %zu lines "
				"%zu nodes %zu label sets; flat path: %zu %zu %zu %zu %zu %zu %zu\n",
			ca.len, cb.len, ta.len, tb.len, xa.strings, xa.mappings, xa.functions,
			xa.locations, xa.lines, xa.nodes, xa.labelsets, xb.strings, xb.mappings,
			xb.functions, xb.locations, xb.lines, xb.nodes, xb.labelsets);
		abort();
	}
	if (tsdb__chunk_dec_open(ca.data, ca.len, &da, &e3) < 0 ||
	    tsdb__chunk_dec_open(cb.data, cb.len, &db, &e3) < 0) {
		fprintf(stderr, "fuzz_stream: chunk_dec_open: %s\n", e3.msg);
		abort();
	}
	ra = tsdb__chunk_dec_pprof(da, sa, 0, &pa, &e3);
	rb = tsdb__chunk_dec_pprof(db, sb, 0, &pb, &e4);
	if (ra != rb) {
		fprintf(stderr, "fuzz_stream: chunk_dec_pprof %d (%s) and %d (%s)\n", ra, e3.msg, rb,
			e4.msg);
		abort();
	}
	if (ra == 0 && (why = pprof_same(pprof_message(pa), pprof_message(pb))) != NULL) {
		fprintf(stderr, "fuzz_stream: the profiles from the chunks differ: %s\n", why);
		abort();
	}
	if (ra == 0) { /* the second, delta-decoded against the first */
		struct pprof_profile *qa = NULL, *qb = NULL;
		ra = tsdb__chunk_dec_pprof(da, sa, 1, &qa, &e3);
		rb = tsdb__chunk_dec_pprof(db, sb, 1, &qb, &e4);
		if (ra != 0 || rb != 0 || (why = pprof_same(pprof_message(pa), pprof_message(qa))) != NULL ||
		    (why = pprof_same(pprof_message(qa), pprof_message(qb))) != NULL) {
			fprintf(stderr, "fuzz_stream: the second profile from the chunks: %d %d %s\n", ra, rb,
				ra || rb ? e3.msg : why);
			abort();
		}
		pprof_free(qa);
		pprof_free(qb);
	}
out:
	pprof_free(pa);
	pprof_free(pb);
	tsdb__chunk_dec_free(da);
	tsdb__chunk_dec_free(db);
	pf_buf_free(&ca);
	pf_buf_free(&cb);
	pf_buf_free(&ta);
	pf_buf_free(&tb);
	tsdb__chunk_enc_free(ea);
	tsdb__chunk_enc_free(eb);
	tsdb__chunk_seed_free(seed);
	tsdb__symtab_free(sa);
	tsdb__symtab_free(sb);
	tsdb__flat_free(f);
}

/* ---- the shape ------------------------------------------------------------ */

static void feed_buf(void *ctx, const void *p, size_t n)
{
	pf_buf_append(ctx, p, n);
}

#define NEWV(v) ((v) ^ 0x5a5a5a5ull) /* any other value; its length changes too */

/* body with every sample value and time_nanos rewritten (NEWV): 0, or -1
 * when the body takes a form this rewriter does not (the shape read it, so
 * that is the rewriter's limit, not the body's). */
static int rewrite_values(const uint8_t *b, size_t n, struct pf_buf *out)
{
	const uint8_t *p = b, *end = b + n;
	struct pf_buf smp = PF_BUF_INIT(0);
	uint64_t key;
	int rc = -1;

	while (p < end) {
		const uint8_t *at = p;
		uint64_t len, v;
		if (p[0] == 0x12) { /* a sample */
			const uint8_t *q, *qe;
			p++;
			if (pprof__scan_varint(&p, end, &len) < 0 || len > (uint64_t)(end - p))
				goto out;
			q = p;
			qe = p + len;
			p = qe;
			pf_buf_reset(&smp);
			while (q < qe) {
				const uint8_t *f = q;
				if (*q == 0x12) {
					const uint8_t *r, *re;
					struct pf_buf pk = PF_BUF_INIT(0);
					q++;
					if (pprof__scan_varint(&q, qe, &len) < 0 || len > (uint64_t)(qe - q))
						goto out;
					for (r = q, re = q + len; r < re;) {
						if (pprof__scan_varint(&r, re, &v) < 0) {
							pf_buf_free(&pk);
							goto out;
						}
						pf_buf_put_uvarint(&pk, NEWV(v));
					}
					q = re;
					pf_buf_append(&smp, "\x12", 1);
					pf_buf_put_uvarint(&smp, pk.len);
					pf_buf_append(&smp, pk.data, pk.len);
					pf_buf_free(&pk);
				} else if (*q == 0x10) {
					q++;
					if (pprof__scan_varint(&q, qe, &v) < 0)
						goto out;
					pf_buf_append(&smp, "\x10", 1);
					pf_buf_put_uvarint(&smp, NEWV(v));
				} else {
					if (pprof__scan_field(&q, qe, &key) < 0)
						goto out;
					pf_buf_append(&smp, f, (size_t)(q - f));
				}
			}
			pf_buf_append(out, "\x12", 1);
			pf_buf_put_uvarint(out, smp.len);
			pf_buf_append(out, smp.data, smp.len);
			continue;
		}
		if (p[0] == 0x48) { /* time_nanos */
			p++;
			if (pprof__scan_varint(&p, end, &v) < 0)
				goto out;
			pf_buf_append(out, "\x48", 1);
			pf_buf_put_uvarint(out, NEWV(v));
			continue;
		}
		if (pprof__scan_field(&p, end, &key) < 0)
			goto out;
		pf_buf_append(out, at, (size_t)(p - at));
	}
	rc = 0;
out:
	pf_buf_free(&smp);
	return rc;
}

static void shape_fail(const char *what, size_t size)
{
	fprintf(stderr, "fuzz_stream: shape: %s (input of %zu bytes)\n", what, size);
	abort();
}

static void check_shape(const uint8_t *data, size_t size, size_t max, int r1, const struct pf_err *e1,
			const struct pprof_profile *p)
{
	struct pf_buf raw = PF_BUF_INIT(0), sa = PF_BUF_INIT(0), sb = PF_BUF_INIT(0), b = PF_BUF_INIT(0);
	struct pprof_shape s, t;
	const uint8_t *body = data;
	size_t blen = size;
	struct pprof_profile *q = NULL;
	struct pf_err e2 = {0};
	int r2;

	if (pprof_is_gzip(data, size)) {
		if (pprof_gunzip(data, size, max, &raw, &e2) < 0)
			return;
		body = raw.data;
		blen = raw.len;
	}
	if (blen > max || pprof_stream_shape(body, blen, feed_buf, &sa, &s) != 0)
		goto out;
	if (r1 == 0) { /* what the shape read is what the decoder read */
		const pprof_msg *m = pprof_message(p);
		if (s.n_sample_type != m->n_sample_type || s.n_sample != m->n_sample ||
		    s.time_nanos != m->time_nanos || s.duration_nanos != m->duration_nanos ||
		    s.period != m->period || s.n_string != m->n_string_table)
			shape_fail("counts, times or period differ from the decoded profile", size);
		for (size_t i = 0; i < m->n_sample_type; i++)
			if (s.sample_type[2 * i] != m->sample_type[i]->type ||
			    s.sample_type[2 * i + 1] != m->sample_type[i]->unit)
				shape_fail("a sample type differs", size);
		for (size_t i = 0; i < m->n_sample; i++)
			if (memcmp(s.values + i * s.n_sample_type, m->sample[i]->value,
				   s.n_sample_type * sizeof(int64_t)) != 0)
				shape_fail("a sample's values differ", size);
		for (size_t i = 0; i < m->n_string_table; i++) {
			size_t l = strlen(m->string_table[i]);
			if (l > s.str_len[i] || memcmp(s.str[i], m->string_table[i], l) != 0)
				shape_fail("a string differs", size);
		}
	}
	/* the same body with other values: the same stream, decoded alike */
	if (rewrite_values(body, blen, &b) != 0 || b.len > max ||
	    pprof_stream_shape(b.data, b.len, feed_buf, &sb, &t) != 0)
		goto out_s;
	if (sa.len != sb.len || memcmp(sa.data, sb.data, sa.len) != 0)
		shape_fail("the rewritten body feeds another stream", size);
	r2 = pprof_decode(b.data, b.len, max, &q, &e2);
	if (r1 == PF_ELIMIT && strstr(e1->msg, "bytes of memory"))
		goto out_t;
	if (r1 != r2 || (r1 < 0 && strcmp(e1->msg, e2.msg) != 0)) {
		fprintf(stderr, "fuzz_stream: shape: equal streams decode apart: %d %s / %d %s\n", r1,
			r1 < 0 ? e1->msg : "ok", r2, r2 < 0 ? e2.msg : "ok");
		abort();
	}
	if (r1 == 0) {
		const pprof_msg *m = pprof_message(p);
		pprof_msg *n = (pprof_msg *)pprof_message(q);
		const char *why;
		if (n->time_nanos != (int64_t)NEWV((uint64_t)m->time_nanos) && n->time_nanos != m->time_nanos)
			shape_fail("the rewritten time", size);
		for (size_t i = 0; i < n->n_sample; i++)
			for (size_t j = 0; j < n->sample[i]->n_value; j++) {
				if (n->sample[i]->value[j] != (int64_t)NEWV((uint64_t)m->sample[i]->value[j]))
					shape_fail("a rewritten value", size);
				n->sample[i]->value[j] = m->sample[i]->value[j];
			}
		n->time_nanos = m->time_nanos;
		if ((why = pprof_same(m, n)) != NULL) {
			fprintf(stderr, "fuzz_stream: shape: equal streams, profiles differ: %s\n", why);
			abort();
		}
	}
out_t:
	pprof_shape_free(&t);
out_s:
	pprof_shape_free(&s);
out:
	pprof_free(q);
	pf_buf_free(&raw);
	pf_buf_free(&sa);
	pf_buf_free(&sb);
	pf_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pprof_profile *p = NULL, *q = NULL;
	struct pf_err e1 = {0}, e2 = {0};
	size_t max = (size_t)8 << 20;
	const char *why;
	int r1, r2;

	if (pprof_is_gzip(data, size))
		check_inflates(data, size, max);
	r1 = pprof_decode(data, size, max, &p, &e1);
	r2 = pprof_stream_to_profile(data, size, max, &q, &e2);
	if (r1 == PF_ELIMIT && strstr(e1.msg, "bytes of memory"))
		goto done;
	if (r1 != r2 || (r1 < 0 && strcmp(e1.msg, e2.msg) != 0)) {
		fprintf(stderr, "fuzz_stream: decoders disagree on %zu bytes:\n  pprof_decode: %d %s\n"
				"  stream:       %d %s\n",
			size, r1, r1 < 0 ? e1.msg : "ok", r2, r2 < 0 ? e2.msg : "ok");
		abort();
	}
	if (r1 == 0 && (why = pprof_same(pprof_message(p), pprof_message(q))) != NULL) {
		fprintf(stderr, "fuzz_stream: the profiles differ: %s\n", why);
		abort();
	}
	check_symbolized(data, size, max, r1, &e1, p);
	check_shape(data, size, max, r1, &e1, p);
done:
	pprof_free(p);
	pprof_free(q);
	return 0;
}
