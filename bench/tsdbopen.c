/*
 * tsdbopen: a benchmark tool, not part of the product. Times tsdb_open of a
 * store (WAL replay and block indexes), prints what it holds, and exits
 * without closing so the store is left exactly as it was; with "flush" it
 * closes the store instead (the head is cut into blocks) and times that.
 *   tsdbopen DIR [flush]
 */
#include "tsdb/tsdb.h"

#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct tsdb_options o = {0};
	struct tsdb *db = NULL;
	struct tsdb_stats st;
	struct pf_err err = {0};
	int64_t t0, t1;

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: tsdbopen DIR [flush]\n");
		return 2;
	}
	pf_log_setup("warn", "logfmt");
	o.dir = argv[1];
	o.maintenance_ns = -1;
	t0 = pf_mono_ns();
	if (tsdb_open(&o, &db, &err) < 0) {
		fprintf(stderr, "tsdbopen: %s: %s\n", argv[1], err.msg);
		return 1;
	}
	t1 = pf_mono_ns();
	tsdb_stats(db, &st);
	printf("open %.3f s: %" PRIu64 " profiles (%" PRIu64 " replayed from the WAL), %" PRIu64
	       " series, %" PRIu64 " blocks of %" PRIu64 " bytes, WAL %" PRIu64 " bytes\n",
	       (double)(t1 - t0) / 1e9, st.profiles, st.replayed, st.series, st.blocks, st.block_bytes,
	       st.wal_bytes);
	fflush(stdout);
	if (argc == 3 && strcmp(argv[2], "flush") == 0) {
		t0 = pf_mono_ns();
		tsdb_close(db);
		printf("close (head cut into blocks) %.3f s\n", (double)(pf_mono_ns() - t0) / 1e9);
		return 0;
	}
	_exit(0);
}
