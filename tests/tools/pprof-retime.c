/*
 * pprof-retime: a test tool, not part of the product. Writes N copies of a
 * profile whose time_nanos are START + i*STEP (ns), as OUTDIR/000000.pb.gz,
 * OUTDIR/000001.pb.gz, ... so end-to-end tests can push a series that
 * spans many blocks.
 *   pprof-retime IN OUTDIR N START_NS STEP_NS
 */
#include "pprof/pprof.h"

#include <inttypes.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	struct pf_buf in = PF_BUF_INIT(0), out = PF_BUF_INIT(0);
	struct pprof_profile *p = NULL;
	struct pf_err err = {0};
	long long n, start, step;
	int rc = 1;

	if (argc != 6) {
		fprintf(stderr, "usage: pprof-retime IN OUTDIR N START_NS STEP_NS\n");
		return 2;
	}
	n = strtoll(argv[3], NULL, 10);
	start = strtoll(argv[4], NULL, 10);
	step = strtoll(argv[5], NULL, 10);
	if (pf_read_file(argv[1], (size_t)256 << 20, &in, &err) < 0 ||
	    pprof_decode(in.data, in.len, (size_t)256 << 20, &p, &err) < 0) {
		fprintf(stderr, "pprof-retime: %s: %s\n", argv[1], err.msg);
		goto out;
	}
	for (long long i = 0; i < n; i++) {
		char path[4096];
		/* the message belongs to this tool's copy; rewriting the time is fine */
		((pprof_msg *)pprof_message(p))->time_nanos = start + i * step;
		pf_buf_reset(&out);
		snprintf(path, sizeof(path), "%s/%06lld.pb.gz", argv[2], i);
		if (pprof_encode(p, &out, &err) < 0 ||
		    pf_write_file_atomic(path, out.data, out.len, &err) < 0) {
			fprintf(stderr, "pprof-retime: %s: %s\n", path, err.msg);
			goto out;
		}
	}
	rc = 0;
out:
	pprof_free(p);
	pf_buf_free(&in);
	pf_buf_free(&out);
	return rc;
}
