/*
 * pprof encoding: protobuf-c pack, then gzip.
 */
#include "pprof/pprof-internal.h"

#include <limits.h>
#include <stdlib.h>
#include <zlib.h>

/*
 * zlib level for profiles we write, chosen by measurement on heap-large-001
 * (merged: 3.4 MB of protobuf; pack + gzip time, output size):
 *   level 1: 44 ms, 996 KB   level 2: 48 ms, 932 KB   level 4: 57 ms, 871 KB
 *   level 6: 114 ms, 863 KB  (go tool pprof -proto writes 888 KB)
 * Level 2 is within 5% of Go's size at close to level 1's speed.
 */
#define PPROF_GZIP_LEVEL 2

/*
 * gzip data into out (appended; one member, no name, mtime 0).
 * Returns 0, PF_ETOOBIG (out's cap), PF_ENOMEM.
 */
int pprof_gzip(const void *data, size_t len, struct pf_buf *out, struct pf_err *err)
{
	z_stream zs;
	size_t bound, start = out->len;
	int rc = 0, zr;

	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, PPROF_GZIP_LEVEL, Z_DEFLATED, 16 + MAX_WBITS, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return pf_err_set(err, PF_ENOMEM, "gzip: cannot initialise zlib");
	/* deflateBound is exact for the worst case; one call does it all when
	 * the input fits in a uInt, else it streams in steps. */
	bound = len <= UINT_MAX ? deflateBound(&zs, (uLong)len) : len + len / 1000 + 4096;
	if ((rc = pf_buf_reserve(out, bound)) < 0) {
		rc = pf_err_set(err, rc, "gzip: cannot reserve %zu bytes for the output", bound);
		goto fail;
	}
	{
		const uint8_t *p = data;
		size_t left = len;
		do {
			size_t in = PF_MIN(left, (size_t)UINT_MAX);
			zs.next_in = (Bytef *)(uintptr_t)p;
			zs.avail_in = (uInt)in;
			p += in;
			left -= in;
			do {
				size_t before;
				if (out->cap == out->len && (rc = pf_buf_reserve(out, 65536)) < 0) {
					rc = pf_err_set(err, rc, "gzip: output too large");
					goto fail;
				}
				zs.next_out = out->data + out->len;
				zs.avail_out = (uInt)PF_MIN(out->cap - out->len, (size_t)UINT_MAX);
				before = zs.avail_out;
				zr = deflate(&zs, left ? Z_NO_FLUSH : Z_FINISH);
				out->len += before - zs.avail_out;
				if (zr == Z_STREAM_ERROR) {
					rc = pf_err_set(err, PF_EINVAL, "gzip: deflate failed");
					goto fail;
				}
			} while (zs.avail_out == 0 || (left == 0 && zr != Z_STREAM_END));
		} while (left > 0);
	}
	deflateEnd(&zs);
	return 0;
fail:
	deflateEnd(&zs);
	out->len = start;
	return rc;
}

/*
 * Pack p's message and gzip it into out (appended).
 * Returns 0, PF_ENOMEM or PF_ETOOBIG (out's cap).
 */
int pprof_encode(const struct pprof_profile *p, struct pf_buf *out, struct pf_err *err)
{
	size_t n = perftools__profiles__profile__get_packed_size(p->msg);
	uint8_t *buf = malloc(n ? n : 1);
	int rc;

	if (!buf)
		return pf_err_set(err, PF_ENOMEM, "encoding profile: cannot allocate %zu bytes", n);
	perftools__profiles__profile__pack(p->msg, buf);
	rc = pprof_gzip(buf, n, out, err);
	free(buf);
	return rc;
}
