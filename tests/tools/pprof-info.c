/*
 * pprof-info: a test tool, not part of the product. For each file prints
 *   FILE samples=N time=T totals=V1,V2,...
 * (the sum of each sample type over all samples) or "FILE error=..." and
 * exits 1 when any file does not decode.
 */
#include "pprof/pprof.h"

#include <inttypes.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		struct pf_buf in = PF_BUF_INIT(0);
		struct pprof_profile *p = NULL;
		struct pf_err err = {0};
		if (pf_read_file(argv[i], (size_t)256 << 20, &in, &err) < 0 ||
		    pprof_decode(in.data, in.len, (size_t)1 << 30, &p, &err) < 0) {
			printf("%s error=%s\n", argv[i], err.msg);
			rc = 1;
		} else {
			const pprof_msg *m = pprof_message(p);
			int64_t *t = pf_xcalloc(m->n_sample_type + 1, sizeof(int64_t));
			pprof_totals(p, t);
			printf("%s samples=%zu time=%" PRId64 " totals=", argv[i], pprof_sample_count(p),
			       pprof_time_nanos(p));
			for (size_t k = 0; k < m->n_sample_type; k++)
				printf("%s%" PRId64, k ? "," : "", t[k]);
			printf("\n");
			free(t);
		}
		pprof_free(p);
		pf_buf_free(&in);
	}
	return rc;
}
