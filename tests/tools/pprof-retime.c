/*
 * pprof-retime: a test tool, not part of the product. Writes N copies of a
 * profile whose time_nanos are START + i*STEP (ns), as OUTDIR/000000.pb.gz,
 * OUTDIR/000001.pb.gz, ... so end-to-end tests can push a series that
 * spans many blocks. With FIRST, copies FIRST..N-1 only (the same bytes as
 * a run from 0 writes for them), so a test can make its files as it needs
 * them. Test data: written without fsync.
 *   pprof-retime IN OUTDIR N START_NS STEP_NS [FIRST]
 */
#include "pprof/pprof.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int write_file(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	int rc = 0;

	if (!f) {
		fprintf(stderr, "pprof-retime: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fwrite(data, 1, n, f) != n)
		rc = -1;
	if (fclose(f) != 0)
		rc = -1;
	if (rc < 0)
		fprintf(stderr, "pprof-retime: write %s: %s\n", path, strerror(errno));
	return rc;
}

int main(int argc, char **argv)
{
	struct pf_buf in = PF_BUF_INIT(0), out = PF_BUF_INIT(0);
	struct pprof_profile *p = NULL;
	struct pf_err err = {0};
	long long n, start, step, first = 0;
	int rc = 1;

	if (argc != 6 && argc != 7) {
		fprintf(stderr, "usage: pprof-retime IN OUTDIR N START_NS STEP_NS [FIRST]\n");
		return 2;
	}
	if (argc == 7)
		first = strtoll(argv[6], NULL, 10);
	n = strtoll(argv[3], NULL, 10);
	start = strtoll(argv[4], NULL, 10);
	step = strtoll(argv[5], NULL, 10);
	if (pf_read_file(argv[1], (size_t)256 << 20, &in, &err) < 0 ||
	    pprof_decode(in.data, in.len, (size_t)256 << 20, &p, &err) < 0) {
		fprintf(stderr, "pprof-retime: %s: %s\n", argv[1], err.msg);
		goto out;
	}
	for (long long i = first; i < n; i++) {
		char path[4096];
		/* the message belongs to this tool's copy; rewriting the time is fine */
		((pprof_msg *)pprof_message(p))->time_nanos = start + i * step;
		pf_buf_reset(&out);
		snprintf(path, sizeof(path), "%s/%06lld.pb.gz", argv[2], i);
		if (pprof_encode(p, &out, &err) < 0) {
			fprintf(stderr, "pprof-retime: %s: %s\n", path, err.msg);
			goto out;
		}
		if (write_file(path, out.data, out.len) < 0)
			goto out;
	}
	rc = 0;
out:
	pprof_free(p);
	pf_buf_free(&in);
	pf_buf_free(&out);
	return rc;
}
