/*
 * decodemin: a benchmark tool, not part of the product (issue 18). The
 * store's ingest steps on a busy machine: CPU time (this thread's) per
 * profile as the minimum over B batches of N profiles each, so that the
 * batches another process slowed down drop out (a mean over one long run,
 * as bench/symbolize reports, moves by 30 % and more between runs when
 * other builds and tests share the two cores; the minimum of short batches
 * held within about 1 %).
 *   decodemin MODE FILE[,FILE...] [B [N]]    (default B 300, N 5)
 * MODE:
 *   walk    pprof_stream_decode of the inflated body into a sink that
 *           counts frames (the walk alone: no inflate, no copies)
 *   flat    tsdb__flat_decode (libdeflate + the walk + the flat sink)
 *   shape   tsdb__flat_decode_shape (libdeflate + pprof_stream_shape: what
 *           a push costs to read when its series takes it by its shape)
 *   shaperaw  the same of the inflated body (the shape's read alone)
 *   intern  tsdb__chunk_enc_add_flat of a decoded profile (its digest
 *           included), into one table and one series' chunk, finished
 *           every TSDB__HEAD_CHUNK_PROFILES profiles as the head does
 * Several files are taken in turn (as bench/symbolize does).
 */
#include "pprof/stream.h"
#include "tsdb/codec/codec.h"
#include "tsdb/tsdb-internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int count_frames(void *ctx, const struct pprof_stream_sample *s, struct pf_err *err)
{
	(void)err;
	*(size_t *)ctx += s->n_location_id;
	return 0;
}

#define MAX_FILES 32

int main(int argc, char **argv)
{
	static const struct pprof_sink counting = {.sample = count_frames};
	struct pf_buf bodies[MAX_FILES], raw[MAX_FILES], out = PF_BUF_INIT(0);
	struct pf_err err = {0};
	size_t nb = 0, frames = 0;
	const char *mode;
	char *list, *tok, *save = NULL;
	long batches, n, k = 0;
	double best = 1e30;
	struct tsdb__symtab *st;
	struct tsdb__chunk_scratch *sc;
	struct tsdb__chunk_enc *e;
	int walk, intern, shape, shaperaw;

	if (argc < 3) {
		fprintf(stderr, "usage: decodemin walk|flat|shape|shaperaw|intern FILE[,FILE...] [BATCHES [N]]\n");
		return 2;
	}
	mode = argv[1];
	walk = strcmp(mode, "walk") == 0;
	intern = strcmp(mode, "intern") == 0;
	shaperaw = strcmp(mode, "shaperaw") == 0;
	shape = shaperaw || strcmp(mode, "shape") == 0;
	if (!walk && !intern && !shape && strcmp(mode, "flat") != 0) {
		fprintf(stderr, "decodemin: unknown mode %s\n", mode);
		return 2;
	}
	batches = argc > 3 ? strtol(argv[3], NULL, 10) : 300;
	n = argc > 4 ? strtol(argv[4], NULL, 10) : 5;
	if (batches < 1 || n < 1) {
		fprintf(stderr, "decodemin: BATCHES and N must be at least 1\n");
		return 2;
	}
	list = strdup(argv[2]);
	for (tok = strtok_r(list, ",", &save); tok && nb < MAX_FILES; tok = strtok_r(NULL, ",", &save)) {
		pf_buf_init(&bodies[nb], 0);
		pf_buf_init(&raw[nb], 0);
		if (pf_read_file(tok, (size_t)1 << 30, &bodies[nb], &err) < 0 ||
		    pprof_gunzip(bodies[nb].data, bodies[nb].len, (size_t)1 << 30, &raw[nb], &err) < 0) {
			fprintf(stderr, "decodemin: %s: %s\n", tok, err.msg);
			return 1;
		}
		nb++;
	}
	free(list);
	if (nb == 0) {
		fprintf(stderr, "decodemin: no file\n");
		return 2;
	}
	st = tsdb__symtab_new();
	tsdb__symtab_set_level(st, TSDB__HEAD_ZSTD_LEVEL);
	sc = tsdb__chunk_scratch_new();
	e = tsdb__chunk_enc_new_shared(st, sc);
	for (long b = 0; b < batches; b++) {
		double sum = 0;
		for (long i = 0; i < n; i++, k++) {
			size_t j = (size_t)k % nb;
			struct tsdb__flat *f;
			double t0, t1;
			if (walk) {
				t0 = cpu_s();
				if (pprof_stream_decode(raw[j].data, raw[j].len, &counting, &frames, &err) < 0) {
					fprintf(stderr, "decodemin: %s\n", err.msg);
					return 1;
				}
				sum += cpu_s() - t0;
				continue;
			}
			f = tsdb__flat_new();
			t0 = cpu_s();
			if (shape) {
				struct pprof_limits lim = {.max_decompressed = (size_t)1 << 30};
				const struct pf_buf *in = shaperaw ? &raw[j] : &bodies[j];
				if (tsdb__flat_decode_shape(f, in->data, in->len, &lim, &err) < 0 ||
				    !tsdb__flat_is_light(f)) {
					fprintf(stderr, "decodemin: %s\n", f && !tsdb__flat_is_light(f) ? "shape not read" : err.msg);
					return 1;
				}
			} else if (tsdb__flat_decode(f, bodies[j].data, bodies[j].len, (size_t)1 << 30, &err) < 0) {
				fprintf(stderr, "decodemin: %s\n", err.msg);
				return 1;
			}
			t1 = cpu_s();
			if (intern) {
				t0 = cpu_s();
				if (tsdb__chunk_enc_add_flat(e, f, &err) < 0) {
					fprintf(stderr, "decodemin: %s\n", err.msg);
					return 1;
				}
				t1 = cpu_s();
				if (tsdb__chunk_enc_count(e) == TSDB__HEAD_CHUNK_PROFILES) {
					pf_buf_reset(&out);
					if (tsdb__chunk_enc_finish(e, &out, &err) < 0) {
						fprintf(stderr, "decodemin: %s\n", err.msg);
						return 1;
					}
					tsdb__chunk_enc_free(e);
					e = tsdb__chunk_enc_new_shared(st, sc);
				}
			}
			sum += t1 - t0;
			tsdb__flat_free(f);
		}
		if (sum / (double)n < best)
			best = sum / (double)n;
	}
	printf("%s %s: %.1f us per profile (min of %ld batches of %ld)\n", mode, argv[2], best * 1e6,
	       batches, n);
	tsdb__chunk_enc_free(e);
	tsdb__chunk_scratch_free(sc);
	tsdb__symtab_free(st);
	pf_buf_free(&out);
	for (size_t i = 0; i < nb; i++) {
		pf_buf_free(&bodies[i]);
		pf_buf_free(&raw[i]);
	}
	return 0;
}
