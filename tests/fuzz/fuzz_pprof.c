/*
 * libFuzzer entry point for the pprof parser:
 * Built by `make fuzz` (clang libFuzzer, corpus under build-fuzz/corpus/pprof) and,
 * with tests/fuzz/driver.c as main, by `make test`, which feeds it its seeds.
 * Seeds: tests/fixtures/pprof and tests/fixtures/bad.
 *
 * Every input must either be rejected with a sentence or decode into a
 * profile that the rest of the module can use: merge it with itself, encode
 * it and decode the result again.
 */
#include "pprof/pprof.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pprof_profile *p = NULL, *m = NULL, *q = NULL, *in[2];
	struct pf_buf enc = PF_BUF_INIT(0);
	struct pf_err err = { 0 };
	int64_t *totals;

	if (pprof_decode(data, size, (size_t)8 << 20, &p, &err) < 0) {
		if (err.msg[0] == 0)
			abort(); /* every failure says why */
		return 0;
	}
	totals = calloc(pprof_message(p)->n_sample_type + 1, sizeof(int64_t));
	if (!totals)
		abort();
	pprof_totals(p, totals);
	free(totals);
	in[0] = in[1] = p;
	if (pprof_merge(in, 2, &m, &err) < 0)
		abort(); /* a profile always merges with itself */
	if (pprof_encode(m, &enc, &err) < 0)
		abort();
	if (pprof_decode(enc.data, enc.len, (size_t)1 << 30, &q, &err) < 0)
		abort(); /* what we write, we read */
	pf_buf_free(&enc);
	pprof_free(q);
	pprof_free(m);
	pprof_free(p);
	return 0;
}
