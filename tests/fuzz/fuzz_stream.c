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
 * shortcut), and the second decodes as the first.
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
	/* the same profile again: the encoders' same-rows path, and add_flat's
	 * digest shortcut (header ids and rows of the previous add) */
	ra = tsdb__chunk_enc_add_pprof(ea, p, &e4);
	rb = tsdb__chunk_enc_add_flat(eb, f, &e3);
	if (ra != 0 || rb != 0) {
		fprintf(stderr, "fuzz_stream: second add: add_flat %d (%s), add_pprof %d (%s)\n", rb,
			e3.msg, ra, e4.msg);
		abort();
	}
	if (tsdb__chunk_enc_finish(ea, &ca, &e3) < 0 || tsdb__chunk_enc_finish(eb, &cb, &e3) < 0 ||
	    tsdb__symtab_write(sa, &ta, &e3) < 0 || tsdb__symtab_write(sb, &tb, &e3) < 0) {
		fprintf(stderr, "fuzz_stream: finish: %s\n", e3.msg);
		abort();
	}
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
	tsdb__symtab_free(sa);
	tsdb__symtab_free(sb);
	tsdb__flat_free(f);
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
done:
	pprof_free(p);
	pprof_free(q);
	return 0;
}
