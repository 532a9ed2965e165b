/*
 * Fuzz entry point for WAL replay: the input bytes are one segment file,
 * scanned by tsdb__wal_scan exactly as at open; every intact record is
 * decoded and inserted into a head, as replay does. The same bytes are
 * also fed to the record decoder directly (CRCs rarely survive mutation,
 * so this reaches the payload parser far more often). Must never crash,
 * leak or read out of bounds, whatever the bytes.
 *
 * libFuzzer:  clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc \
 *               tests/fuzz/fuzz_wal.c src/tsdb/[a-z]*.c src/base/[a-z]*.c -lpcre2-8 -lxxhash -lpthread
 * Without libFuzzer, add -DPF_FUZZ_MAIN and pass input files as arguments.
 */
#include "tsdb/tsdb-internal.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

struct fuzz_ctx {
	struct tsdb__head *head;
	struct tsdb__rec rec;
};

static int on_record(void *arg, const uint8_t *head, size_t nhead, uint64_t rec_len,
		     const struct tsdb__loc *loc, const char *path, struct pf_err *err)
{
	struct fuzz_ctx *c = arg;
	struct tsdb__series *s;
	const char *why;

	(void)path;
	(void)err;
	if (tsdb__rec_decode(head, nhead, rec_len, &c->rec, &why) < 0)
		return 0;
	if (tsdb__head_get_series(c->head, c->rec.hash, c->rec.labels, c->rec.nlabels, NULL, NULL, &s, NULL) < 0)
		return 0;
	tsdb__series_seen_seq(s, c->rec.seq);
	tsdb__head_insert(c->head, s, c->rec.t_ns, (uint32_t)c->rec.seq, c->rec.kind,
			  c->rec.body_len, c->rec.totals, c->rec.ntotals, loc);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int logs_quiet;
	struct tsdb__scan_result res;
	struct fuzz_ctx *c;
	int fd;

	if (!logs_quiet) {
		pf_log_setup("error", "logfmt");
		logs_quiet = 1;
	}
	fd = memfd_create("wal-segment", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (size > 0 && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	c = pf_xcalloc(1, sizeof(*c));
	c->head = tsdb__head_new();
	tsdb__wal_scan(fd, 1, "fuzz/00000001", on_record, c, &res, NULL);
	{
		const char *why;
		struct tsdb__loc loc = {TSDB__LOC_WAL, 1, 0, size + TSDB__REC_HDR};
		if (tsdb__rec_decode(data, size, size, &c->rec, &why) == 0)
			on_record(c, data, size, size, &loc, "direct", NULL);
	}
	if (res.status == TSDB__SCAN_END && res.good_end != res.size && res.size >= TSDB__WAL_HDR)
		abort(); /* a clean scan must account for every byte */
	tsdb__head_free(c->head);
	free(c);
	close(fd);
	return 0;
}

#ifdef PF_FUZZ_MAIN
int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		struct pf_buf b = PF_BUF_INIT(0);
		if (pf_read_file(argv[i], (size_t)64 << 20, &b, NULL) == 0)
			LLVMFuzzerTestOneInput(b.data, b.len);
		pf_buf_free(&b);
	}
	return 0;
}
#endif
