/*
 * pprof-merge: a test tool, not part of the product. Reads N profiles,
 * merges them with the incremental merger (each decoded, folded in and
 * freed before the next, as the store merges) and writes the gzip'd
 * result to stdout.
 *   pprof-merge [-t] FILE...
 * -t prints decode/merge/encode timings to stderr.
 * Exits 1 with the error on stderr.
 */
#include "pprof/pprof.h"

#include <stdlib.h>
#include <unistd.h>

#define TOOL_MAX_INPUT ((size_t)256 << 20)

static double ms(int64_t ns)
{
	return (double)ns / 1e6;
}

int main(int argc, char **argv)
{
	struct pprof_merger *pm = NULL;
	struct pprof_profile *out = NULL;
	struct pf_buf enc = PF_BUF_INIT(0);
	struct pf_err err = { 0 };
	int64_t t0, t_dec = 0, t_merge = 0, t_enc;
	int i, timing = 0, rc = 1;

	if (argc > 1 && strcmp(argv[1], "-t") == 0) {
		timing = 1;
		argv++;
		argc--;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: pprof-merge [-t] FILE...\n");
		return 2;
	}
	pm = pprof_merger_new();
	for (i = 1; i < argc; i++) {
		struct pf_buf b = PF_BUF_INIT(0);
		struct pprof_profile *p = NULL;
		int r = pf_read_file(argv[i], TOOL_MAX_INPUT, &b, &err);
		if (r == 0) {
			t0 = pf_mono_ns();
			r = pprof_decode(b.data, b.len, TOOL_MAX_INPUT, &p, &err);
			t_dec += pf_mono_ns() - t0;
		}
		pf_buf_free(&b);
		if (r == 0) {
			t0 = pf_mono_ns();
			r = pprof_merger_add(pm, p, &err);
			t_merge += pf_mono_ns() - t0;
			pprof_free(p);
		}
		if (r < 0) {
			fprintf(stderr, "pprof-merge: %s: %s\n", argv[i], err.msg);
			goto fail;
		}
	}
	t0 = pf_mono_ns();
	if (pprof_merger_finish(pm, &out, &err) < 0) {
		fprintf(stderr, "pprof-merge: %s\n", err.msg);
		goto fail;
	}
	t_merge += pf_mono_ns() - t0;
	t0 = pf_mono_ns();
	if (pprof_encode(out, &enc, &err) < 0) {
		fprintf(stderr, "pprof-merge: encode: %s\n", err.msg);
		goto fail;
	}
	t_enc = pf_mono_ns() - t0;
	if (timing)
		fprintf(stderr, "decode %.1f ms, merge %.1f ms, encode %.1f ms (%zu samples, %zu bytes)\n",
			ms(t_dec), ms(t_merge), ms(t_enc), pprof_sample_count(out), enc.len);
	if (fwrite(enc.data, 1, enc.len, stdout) != enc.len || fflush(stdout) != 0) {
		fprintf(stderr, "pprof-merge: write error\n");
		goto fail;
	}
	rc = 0;
fail:
	pprof_merger_free(pm);
	pprof_free(out);
	pf_buf_free(&enc);
	return rc;
}
