/*
 * inflate: a benchmark tool, not part of the product (issue 18). CPU time
 * per inflate of gzip'd pprof files, three ways:
 *   zlib-decode  pprof_gunzip: what pprof_decode does today (zlib's
 *                streaming inflate into the mmap'd buffer sized from the
 *                ISIZE hint, doubling; plus one copy into a pf_buf)
 *   zlib-whole   zlib's inflate into a buffer of the exact size (zlib's
 *                best case: one call, no growth)
 *   libdeflate   libdeflate_gzip_decompress_ex member by member into a
 *                buffer sized from the last member's ISIZE (capped at
 *                max), doubled and retried on LIBDEFLATE_INSUFFICIENT_SPACE
 *   inflate FILE.pb.gz...
 */
#include "pprof/pprof.h"

#include <libdeflate.h>
#include <stdlib.h>
#include <time.h>
#include <zlib.h>

static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* libdeflate, all members, capped at max; returns the inflated size or -1. */
static long ld_gunzip(struct libdeflate_decompressor *d, const uint8_t *in, size_t len, size_t max,
		      uint8_t **buf, size_t *cap)
{
	size_t off = 0, out = 0;

	if (*cap == 0) {
		size_t hint = len >= 18 ? pf_get_le32(in + len - 4) : 65536;
		hint = PF_MIN(PF_MAX(hint, (size_t)4096), max);
		*buf = malloc(hint);
		*cap = hint;
	}
	while (off < len) {
		size_t in_used = 0, got = 0;
		enum libdeflate_result r = libdeflate_gzip_decompress_ex(d, in + off, len - off, *buf + out,
									 *cap - out, &in_used, &got);
		if (r == LIBDEFLATE_INSUFFICIENT_SPACE) {
			if (*cap >= max)
				return -1;
			*cap = PF_MIN(*cap * 2, max);
			*buf = realloc(*buf, *cap);
			continue;
		}
		if (r != LIBDEFLATE_SUCCESS)
			return -1;
		off += in_used;
		out += got;
	}
	return (long)out;
}

int main(int argc, char **argv)
{
	struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
	struct pf_err err = {0};

	printf("%-28s %9s %9s %6s %12s %12s %12s %8s\n", "file", "gzip", "inflated", "ratio",
	       "zlib-decode", "zlib-whole", "libdeflate", "speedup");
	for (int a = 1; a < argc; a++) {
		struct pf_buf f = PF_BUF_INIT(0);
		size_t max = (size_t)64 << 20, n;
		double t0, tz, tw, tl;
		int iters;

		if (pf_read_file(argv[a], 0, &f, &err) < 0) {
			fprintf(stderr, "inflate: %s: %s\n", argv[a], err.msg);
			return 1;
		}
		/* size, and an iteration count worth about 0.5 s of zlib */
		{
			struct pf_buf o = PF_BUF_INIT(0);
			t0 = cpu_s();
			if (pprof_gunzip(f.data, f.len, max, &o, &err) < 0) {
				fprintf(stderr, "inflate: %s: %s\n", argv[a], err.msg);
				return 1;
			}
			n = o.len;
			free(o.data);
			iters = (int)PF_MAX(5.0, PF_MIN(5000.0, 0.5 / PF_MAX(cpu_s() - t0, 1e-6)));
		}
		t0 = cpu_s();
		for (int i = 0; i < iters; i++) {
			struct pf_buf o = PF_BUF_INIT(0);
			if (pprof_gunzip(f.data, f.len, max, &o, &err) < 0)
				return 1;
			free(o.data);
		}
		tz = (cpu_s() - t0) / iters;
		t0 = cpu_s();
		for (int i = 0; i < iters; i++) {
			uint8_t *o = malloc(n);
			z_stream zs = {0};
			inflateInit2(&zs, 16 + MAX_WBITS);
			zs.next_in = f.data;
			zs.avail_in = (uInt)f.len;
			zs.next_out = o;
			zs.avail_out = (uInt)n;
			if (inflate(&zs, Z_FINISH) != Z_STREAM_END)
				return 1;
			inflateEnd(&zs);
			free(o);
		}
		tw = (cpu_s() - t0) / iters;
		t0 = cpu_s();
		for (int i = 0; i < iters; i++) {
			uint8_t *o = NULL;
			size_t cap = 0;
			if (ld_gunzip(d, f.data, f.len, max, &o, &cap) != (long)n)
				return 1;
			free(o);
		}
		tl = (cpu_s() - t0) / iters;
		printf("%-28s %9zu %9zu %6.2f %9.1f us %9.1f us %9.1f us %7.2fx\n",
		       strrchr(argv[a], '/') ? strrchr(argv[a], '/') + 1 : argv[a], f.len, n,
		       (double)n / (double)f.len, tz * 1e6, tw * 1e6, tl * 1e6, tz / tl);
		free(f.data);
	}
	libdeflate_free_decompressor(d);
	return 0;
}
