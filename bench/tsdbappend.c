/*
 * tsdbappend: a benchmark tool, not part of the product (was test_throughput
 * in tests/unit/test_tsdb.c, which printed figures and asserted nothing).
 * Append throughput of the store's WAL group commit with 4 KiB opaque (RAW) bodies: N1
 * appends from one thread, then N8 appends from each of 8 threads, into a
 * fresh store in DIR (created; removed at the end). Prints appends/s and
 * fsyncs per append for each; exits non-zero when an append fails. With
 * FILE (a gzip pprof body), that body instead, appended without totals so
 * that tsdb_append decodes it into the symbolized head and totals it (issue
 * 18), and the process's CPU time per append (getrusage: the appending
 * threads; the fsyncs' wait is not CPU).
 *   tsdbappend DIR [N1 [N8 [FILE]]]     (defaults 200 and 100)
 */
#include "tsdb/tsdb.h"

#include <pthread.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>

#define NTHREADS 8
#define BODY_BYTES 4096

struct job {
	struct tsdb *db;
	int idx, n, failed;
	const struct pf_buf *file;
};

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void *run(void *arg)
{
	struct job *j = arg;
	char svc[32], body[BODY_BYTES], id[TSDB_ID_LEN + 1];
	struct tsdb_total tot[2] = {{"samples", "count", 42}, {"cpu", "nanoseconds", -7}};
	struct pf_err err = {0};

	snprintf(svc, sizeof(svc), "s%d", j->idx % 3);
	struct tsdb_label l[2] = {{"service", svc}, {"type", "cpu"}};
	for (int i = 0; i < j->n; i++) {
		size_t len = (size_t)snprintf(body, sizeof(body), "t%d-i%d", j->idx, i);
		memset(body + len, 'p', sizeof(body) - len);
		/* synthetic bodies are opaque (RAW: a pprof body must decode);
		 * a file is a real pprof profile */
		struct tsdb_append_req req = {l, 2, (int64_t)i * 1000 + j->idx, TSDB_KIND_RAW,
					      body, sizeof(body), tot, 2};
		if (j->file) {
			req.kind = TSDB_KIND_PPROF;
			req.body = j->file->data;
			req.len = j->file->len;
			req.totals = NULL;
			req.ntotals = 0;
		}
		if (tsdb_append(j->db, &req, id, &err) < 0) {
			fprintf(stderr, "tsdbappend: append: %s\n", err.msg);
			j->failed = 1;
			return NULL;
		}
	}
	return NULL;
}

/* appends n per thread from nthreads threads; prints the figures */
static int round_of(struct tsdb *db, int nthreads, int n, const struct pf_buf *file)
{
	pthread_t th[NTHREADS];
	struct job jobs[NTHREADS];
	struct tsdb_stats st0, st1;
	int failed = 0;

	tsdb_stats(db, &st0);
	double c0 = cpu_s();
	int64_t t0 = pf_mono_ns();
	for (int i = 0; i < nthreads; i++) {
		jobs[i] = (struct job){db, i, n, 0, file};
		pthread_create(&th[i], NULL, run, &jobs[i]);
	}
	for (int i = 0; i < nthreads; i++) {
		pthread_join(th[i], NULL);
		failed |= jobs[i].failed;
	}
	double secs = (double)(pf_mono_ns() - t0) / 1e9, cpu = cpu_s() - c0;
	tsdb_stats(db, &st1);
	printf("append %d thread%s x %d, %zu B %s: %.0f appends/s, %.2f fsyncs/append, "
	       "%.3f ms CPU/append\n",
	       nthreads, nthreads > 1 ? "s" : "", n, file ? file->len : (size_t)BODY_BYTES,
	       file ? "pprof bodies, no totals given" : "bodies", nthreads * n / secs,
	       (double)(st1.wal_fsyncs - st0.wal_fsyncs) / (nthreads * n),
	       cpu / (nthreads * n) * 1e3);
	return failed;
}

int main(int argc, char **argv)
{
	struct tsdb_options o = {0};
	struct tsdb *db = NULL;
	struct pf_err err = {0};
	long n1 = argc > 2 ? strtol(argv[2], NULL, 10) : 200;
	long n8 = argc > 3 ? strtol(argv[3], NULL, 10) : 100;
	int failed;

	struct pf_buf file = PF_BUF_INIT(0);
	if (argc < 2 || argc > 5 || n1 <= 0 || n8 <= 0 || n1 > 1000000 || n8 > 1000000) {
		fprintf(stderr, "usage: tsdbappend DIR [N1 [N8 [FILE]]]\n");
		return 2;
	}
	if (argc == 5 && pf_read_file(argv[4], (size_t)1 << 30, &file, &err) < 0) {
		fprintf(stderr, "tsdbappend: %s\n", err.msg);
		return 1;
	}
	pf_log_setup("error", "logfmt");
	o.dir = argv[1];
	o.maintenance_ns = -1; /* appends only */
	if (tsdb_open(&o, &db, &err) < 0) {
		fprintf(stderr, "tsdbappend: open %s: %s\n", argv[1], err.msg);
		return 1;
	}
	failed = round_of(db, 1, (int)n1, argc == 5 ? &file : NULL);
	failed |= round_of(db, NTHREADS, (int)n8, argc == 5 ? &file : NULL);
	pf_buf_free(&file);
	tsdb_close(db);
	pf_rm_rf(argv[1]);
	return failed;
}
