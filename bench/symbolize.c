/*
 * symbolize: a benchmark tool, not part of the product. What the
 * symbolized head costs per profile (issue 18), one thread, CPU time of
 * each step over N rounds of FILE (a gzip pprof body):
 *   decode    tsdb__flat_decode (inflate + streaming decode into flat arrays)
 *   intern    tsdb__chunk_enc_add_flat into one table and one series' chunk,
 *             finished every 64 profiles as the head does (zstd level 3,
 *             the scratch shared, a new encoder after each finish)
 *   old       pprof_decode + tsdb__chunk_enc_add_pprof (what a cut did per
 *             profile before, without the WAL read)
 *   symbolize FILE[,FILE...] [N [new]]   (default 500; "new": skip the old
 *   path). Several files are added in turn (as one series: a profile whose
 *   symbols and samples differ from the previous one, every time).
 */
#include "tsdb/codec/codec.h"
#include "tsdb/tsdb-internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct pf_buf bodies[32], out = PF_BUF_INIT(0);
	size_t nb = 0;
	char *list, *tok, *save = NULL;
	struct pf_err err = {0};
	long n = argc > 2 ? strtol(argv[2], NULL, 10) : 500;
	double t0, t_dec = 0, t_int = 0, t_old;
	struct tsdb__symtab *st = tsdb__symtab_new(), *st2 = tsdb__symtab_new();
	struct tsdb__chunk_enc *e, *e2;
	struct tsdb__chunk_scratch *sc = tsdb__chunk_scratch_new();

	if (argc < 2 || n < 1) {
		fprintf(stderr, "usage: symbolize FILE[,FILE...] [N [new]]\n");
		return 2;
	}
	list = strdup(argv[1]);
	for (tok = strtok_r(list, ",", &save); tok && nb < 32; tok = strtok_r(NULL, ",", &save)) {
		pf_buf_init(&bodies[nb], 0);
		if (pf_read_file(tok, (size_t)1 << 30, &bodies[nb], &err) < 0) {
			fprintf(stderr, "symbolize: %s\n", err.msg);
			return 1;
		}
		nb++;
	}
	free(list);
	if (nb == 0) {
		fprintf(stderr, "symbolize: no file\n");
		return 2;
	}
	tsdb__symtab_set_level(st, TSDB__HEAD_ZSTD_LEVEL);
	e = tsdb__chunk_enc_new_shared(st, sc);
	for (long i = 0; i < n; i++) {
		struct tsdb__flat *f = tsdb__flat_new();
		const struct pf_buf *body = &bodies[i % (long)nb];
		t0 = cpu_s();
		if (tsdb__flat_decode(f, body->data, body->len, (size_t)1 << 30, &err) < 0) {
			fprintf(stderr, "symbolize: %s\n", err.msg);
			return 1;
		}
		double t1 = cpu_s();
		if (tsdb__chunk_enc_add_flat(e, f, &err) < 0) {
			fprintf(stderr, "symbolize: %s\n", err.msg);
			return 1;
		}
		if (tsdb__chunk_enc_count(e) == TSDB__HEAD_CHUNK_PROFILES) {
			pf_buf_reset(&out);
			tsdb__chunk_enc_finish(e, &out, &err);
			tsdb__chunk_enc_free(e);
			e = tsdb__chunk_enc_new_shared(st, sc);
		}
		t_int += cpu_s() - t1;
		t_dec += t1 - t0;
		tsdb__flat_free(f);
	}
	tsdb__symtab_set_level(st2, TSDB__HEAD_ZSTD_LEVEL);
	e2 = tsdb__chunk_enc_new(st2);
	t0 = cpu_s();
	for (long i = 0; i < (argc > 3 && strcmp(argv[3], "new") == 0 ? 0 : n); i++) {
		struct pprof_profile *p;
		const struct pf_buf *body = &bodies[i % (long)nb];
		if (pprof_decode(body->data, body->len, (size_t)1 << 30, &p, &err) < 0 ||
		    tsdb__chunk_enc_add_pprof(e2, p, &err) < 0) {
			fprintf(stderr, "symbolize: %s\n", err.msg);
			return 1;
		}
		if (tsdb__chunk_enc_count(e2) == TSDB__HEAD_CHUNK_PROFILES) {
			pf_buf_reset(&out);
			tsdb__chunk_enc_finish(e2, &out, &err);
		}
		pprof_free(p);
	}
	t_old = cpu_s() - t0;
	printf("%s (%zu bytes), %ld rounds: decode %.1f us + intern %.1f us = %.1f us per profile "
	       "| pprof_decode + add_pprof %.1f us\n",
	       argv[1], bodies[0].len, n, t_dec / (double)n * 1e6, t_int / (double)n * 1e6,
	       (t_dec + t_int) / (double)n * 1e6, t_old / (double)n * 1e6);
	tsdb__chunk_enc_free(e);
	tsdb__chunk_enc_free(e2);
	tsdb__chunk_scratch_free(sc);
	tsdb__symtab_free(st);
	tsdb__symtab_free(st2);
	for (size_t k = 0; k < nb; k++)
		pf_buf_free(&bodies[k]);
	pf_buf_free(&out);
	return 0;
}
