/*
 * Fuzz entry point for WAL replay: the input bytes are one segment file,
 * scanned by tsdb__wal_scan exactly as at open (and once more as a
 * checkpoint, tsdb__wal_scan_checkpoint); every intact record is
 * decoded and inserted into a head, as replay does. The same bytes are
 * also fed to the record decoder directly (CRCs rarely survive mutation,
 * so this reaches the payload parser far more often). Must never crash,
 * leak or read out of bounds, whatever the bytes.
 *
 * Built by `make fuzz` (clang libFuzzer, corpus under build-fuzz/corpus/wal) and,
 * with tests/fuzz/driver.c as main, by `make test`, which feeds it its seeds.
 * Seeds: tests/fixtures/wal (a segment and a checkpoint written by the store).
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
			  c->rec.body_len, c->rec.totals, c->rec.ntotals, loc, NULL);
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
	/* the same bytes as a checkpoint (its number taken from where the
	 * header keeps it, so a valid header is reachable) */
	tsdb__wal_scan_checkpoint(fd, size >= 12 ? pf_get_le32(data + 8) : 1, "fuzz/checkpoint",
				  on_record, c, &res, NULL);
	if (res.status == TSDB__SCAN_END && res.good_end != res.size && res.size >= TSDB__CKPT_HDR)
		abort();
	tsdb__head_free(c->head);
	free(c);
	close(fd);
	return 0;
}
