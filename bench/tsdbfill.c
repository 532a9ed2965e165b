/*
 * tsdbfill: a benchmark tool, not part of the product. Fills a store
 * directly through the tsdb API (the same path the API's pushes take):
 * SERIES series (labels service=svc-<s/10>, type=goroutine,
 * instance=10.0.<s/256>.<s%256>:6060) of PER profiles each, 10 s apart, the
 * body a real profile file with its per-sample-type totals; THREADS
 * appenders share the WAL's group commit. Closes the store (its head goes
 * into blocks), printing the time taken by each step. With "noflush" it
 * exits without closing, as a crash would: everything stays in the WAL.
 * FILE may be a comma-separated list: profile i of a series is file i % n.
 * With BLOCK_SECONDS the store cuts blocks of that span (default 2 h), so
 * that the flush also compacts them; the time spent in each is printed.
 *   tsdbfill DIR FILE[,FILE...] SERIES PER THREADS [noflush | BLOCK_SECONDS]
 */
#include "pprof/pprof.h"
#include "tsdb/tsdb.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

struct body {
	struct pf_buf b;
	struct tsdb_total tot[16];
	size_t ntot;
	struct pprof_profile *p;
};

struct job {
	struct tsdb *db;
	const struct body *bodies;
	size_t nbodies;
	long series, per, threads, k;
	int failed;
};

static void *run(void *arg)
{
	struct job *j = arg;
	int64_t t0 = (int64_t)1763769600 * 1000000000; /* 2025-11-22T00:00:00Z */

	for (long i = j->k; i < j->series * j->per; i += j->threads) {
		long s = i % j->series, n = i / j->series;
		char svc[32], inst[64], id[TSDB_ID_LEN + 1];
		struct tsdb_label l[3];
		struct tsdb_append_req req = {0};
		struct pf_err err = {0};
		snprintf(svc, sizeof(svc), "svc-%ld", s / 10);
		snprintf(inst, sizeof(inst), "10.0.%ld.%ld:6060", s / 256, s % 256);
		l[0] = (struct tsdb_label){"service", svc};
		l[1] = (struct tsdb_label){"type", "goroutine"};
		l[2] = (struct tsdb_label){"instance", inst};
		req.labels = l;
		req.nlabels = 3;
		req.t_ns = t0 + (int64_t)n * 10 * 1000000000;
		const struct body *b = &j->bodies[(size_t)n % j->nbodies];
		req.kind = TSDB_KIND_PPROF;
		req.body = b->b.data;
		req.len = b->b.len;
		req.totals = b->tot;
		req.ntotals = b->ntot;
		if (tsdb_append(j->db, &req, id, &err) < 0) {
			fprintf(stderr, "tsdbfill: append: %s\n", err.msg);
			j->failed = 1;
			return NULL;
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct tsdb_options o = {0};
	struct tsdb *db = NULL;
	struct body *bodies = NULL;
	size_t nbodies = 0;
	struct pf_err err = {0};
	int64_t t0, t1, t2;
	struct tsdb_stats st;
	long series, per, threads;
	int noflush;

	if (argc != 6 && argc != 7) {
		fprintf(stderr, "usage: tsdbfill DIR FILE[,FILE...] SERIES PER THREADS "
				"[noflush | BLOCK_SECONDS]\n");
		return 2;
	}
	series = strtol(argv[3], NULL, 10);
	per = strtol(argv[4], NULL, 10);
	threads = strtol(argv[5], NULL, 10);
	noflush = argc == 7 && strcmp(argv[6], "noflush") == 0;
	if (argc == 7 && !noflush)
		o.block_duration_ns = strtol(argv[6], NULL, 10) * (int64_t)1000000000;
	if (series < 1 || per < 1 || threads < 1 || threads > 256)
		return 2;
	pf_log_setup("warn", "logfmt");
	char *files = pf_xstrdup(argv[2]), *save = NULL;
	for (char *f = strtok_r(files, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
		struct body *b;
		int64_t sums[16];
		bodies = pf_xrealloc(bodies, (nbodies + 1) * sizeof(*bodies));
		b = &bodies[nbodies++];
		memset(b, 0, sizeof(*b));
		pf_buf_init(&b->b, 0);
		if (pf_read_file(f, (size_t)64 << 20, &b->b, &err) < 0 ||
		    pprof_decode(b->b.data, b->b.len, (size_t)1 << 30, &b->p, &err) < 0) {
			fprintf(stderr, "tsdbfill: %s: %s\n", f, err.msg);
			return 1;
		}
		const pprof_msg *m = pprof_message(b->p);
		b->ntot = m->n_sample_type < 16 ? m->n_sample_type : 16;
		pprof_totals(b->p, sums);
		for (size_t i = 0; i < b->ntot; i++) {
			b->tot[i].type = pprof_string(b->p, m->sample_type[i]->type);
			b->tot[i].unit = pprof_string(b->p, m->sample_type[i]->unit);
			b->tot[i].value = sums[i];
		}
	}
	o.dir = argv[1];
	o.maintenance_ns = -1; /* cut at close: one flush, timed */
	if (tsdb_open(&o, &db, &err) < 0) {
		fprintf(stderr, "tsdbfill: open %s: %s\n", argv[1], err.msg);
		return 1;
	}
	struct job *jobs = pf_xcalloc((size_t)threads, sizeof(*jobs));
	pthread_t *th = pf_xcalloc((size_t)threads, sizeof(*th));
	t0 = pf_mono_ns();
	for (long k = 0; k < threads; k++) {
		jobs[k] = (struct job){db, bodies, nbodies, series, per, threads, k, 0};
		pthread_create(&th[k], NULL, run, &jobs[k]);
	}
	int failed = 0;
	for (long k = 0; k < threads; k++) {
		pthread_join(th[k], NULL);
		failed |= jobs[k].failed;
	}
	t1 = pf_mono_ns();
	if (noflush) {
		printf("appended %ld profiles in %ld series: %.2f s (%.0f/s); left in the WAL\n",
		       series * per, series, (double)(t1 - t0) / 1e9,
		       (double)(series * per) / ((double)(t1 - t0) / 1e9));
		fflush(stdout);
		_exit(failed); /* as a crash: no flush */
	}
	if (tsdb_maintain(db, 1, &err) < 0) {
		fprintf(stderr, "tsdbfill: flush: %s\n", err.msg);
		failed = 1;
	}
	tsdb_stats(db, &st);
	tsdb_close(db);
	t2 = pf_mono_ns();
	printf("appended %ld profiles in %ld series: %.2f s (%.0f/s); close (cut into blocks) %.2f s"
	       " [cut %.2f s, %" PRIu64 " blocks; compaction %.2f s, %" PRIu64 " compactions, "
	       "%" PRIu64 " profiles rewritten, %.3f ms each]\n",
	       series * per, series, (double)(t1 - t0) / 1e9,
	       (double)(series * per) / ((double)(t1 - t0) / 1e9), (double)(t2 - t1) / 1e9,
	       (double)st.cut_ns / 1e9, st.cuts, (double)st.compact_ns / 1e9, st.compactions,
	       st.compacted_profiles,
	       st.compacted_profiles ? (double)st.compact_ns / 1e6 / (double)st.compacted_profiles : 0.0);
	free(jobs);
	free(th);
	for (size_t i = 0; i < nbodies; i++) {
		pprof_free(bodies[i].p);
		pf_buf_free(&bodies[i].b);
	}
	free(bodies);
	free(files);
	return failed;
}
