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
 */
#include "pprof/pprof-internal.h"
#include "pprof/pprof.h"
#include "pprof/stream.h"
#include "pprof_same.h"

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
done:
	pprof_free(p);
	pprof_free(q);
	return 0;
}
