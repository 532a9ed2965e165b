/*
 * Fuzz entry point for `profefe import`'s quick look at a pprof file
 * (import_pprof_type: one pass over the inflated body's top-level fields
 * for the sample types, the default sample type and the samples, or the
 * full decode when that pass cannot tell). Promises: a refusal says why; a
 * type found by the quick look of a body that the decoder accepts is the
 * type import_infer_type gives the decoded profile (the quick look reads
 * what the decoder reads), under each of the names that decide block,
 * mutex and allocs. Nothing may crash, leak or read out of bounds.
 *
 * Built by `make fuzz` (clang libFuzzer) and, with tests/fuzz/driver.c as
 * main, by `make test`, which feeds it its seeds (tests/fuzz/seeds.sh:
 * tests/fixtures/pprof and tests/fixtures/bad).
 */
#include "import/import.h"

#include <stdlib.h>

#define MAX ((size_t)64 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {"x.pb.gz", "app-block.pb.gz", "app-mutex.pb.gz",
					    "allocs-delta.pb.gz"};
	struct pprof_profile *p = NULL;
	struct pf_err err = {0};
	int decoded = pprof_decode(data, size, MAX, &p, &err) == 0;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char type[32] = "", why[512] = "", t2[32] = "", w2[512] = "";
		int rc = import_pprof_type(data, size, MAX, names[i], type, sizeof(type), why, sizeof(why));

		if (rc != 0 && !why[0])
			abort(); /* a refusal without a reason */
		if (rc == 0 && !type[0])
			abort();
		if (rc == 0 && decoded) {
			if (pprof_sample_count(p) == 0)
				abort(); /* the quick look saw samples the decoder did not */
			if (import_infer_type(p, names[i], t2, sizeof(t2), w2, sizeof(w2)) != 0 ||
			    strcmp(type, t2) != 0)
				abort();
		}
		if (rc != 0 && rc != PF_ENOTFOUND && decoded)
			abort(); /* the decoder takes what was refused */
	}
	pprof_free(p);
	return 0;
}
