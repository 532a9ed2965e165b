/*
 * encmem: a benchmark tool, not part of the product (issue 18). The memory a
 * head group's series keep between pushes: N chunk encoders sharing one
 * table and one scratch (as the series of a group do), each given two
 * different profiles of the files in turn (series i gets file i, then file
 * i + 1), so that each keeps the previous profile's rows and their indexes.
 * Prints the growth of RSS (/proc/self/status) and of glibc's bytes in use
 * over the adds, per series.
 *   encmem N FILE[,FILE...]
 */
#include "tsdb/codec/codec.h"
#include "tsdb/tsdb-internal.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILES 32

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			v = atol(line + 6);
	fclose(f);
	return v;
}

static long inuse_kb(void)
{
	return (long)(mallinfo2().uordblks / 1024);
}

int main(int argc, char **argv)
{
	struct tsdb__flat *flats[MAX_FILES];
	struct pf_buf bodies[MAX_FILES];
	struct pf_err err = { 0 };
	struct tsdb__chunk_enc **e;
	struct tsdb__chunk_scratch *sc;
	struct tsdb__symtab *st;
	char *list, *tok, *save = NULL;
	size_t nf = 0;
	long n, r0, r1, u0, u1;

	if (argc < 3 || (n = strtol(argv[1], NULL, 10)) < 1) {
		fprintf(stderr, "usage: encmem N FILE[,FILE...]\n");
		return 2;
	}
	list = strdup(argv[2]);
	for (tok = strtok_r(list, ",", &save); tok && nf < MAX_FILES; tok = strtok_r(NULL, ",", &save)) {
		pf_buf_init(&bodies[nf], 0);
		flats[nf] = tsdb__flat_new();
		if (pf_read_file(tok, (size_t)1 << 30, &bodies[nf], &err) < 0 ||
		    tsdb__flat_decode(flats[nf], bodies[nf].data, bodies[nf].len, (size_t)1 << 30, &err) < 0) {
			fprintf(stderr, "encmem: %s: %s\n", tok, err.msg);
			return 1;
		}
		nf++;
	}
	free(list);
	if (nf == 0)
		return 2;
	st = tsdb__symtab_new();
	tsdb__symtab_set_level(st, TSDB__HEAD_ZSTD_LEVEL);
	sc = tsdb__chunk_scratch_new();
	e = calloc((size_t)n, sizeof(*e));
	if (!e)
		return 1;
	for (long i = 0; i < n; i++)
		e[i] = tsdb__chunk_enc_new_shared(st, sc);
	r0 = rss_kb();
	u0 = inuse_kb();
	for (long i = 0; i < n; i++)
		for (long k = 0; k < 2; k++)
			if (tsdb__chunk_enc_add_flat(e[i], flats[(size_t)(i + k) % nf], &err) < 0) {
				fprintf(stderr, "encmem: %s\n", err.msg);
				return 1;
			}
	r1 = rss_kb();
	u1 = inuse_kb();
	printf("encmem %ld series: RSS %.1f KB, malloc in use %.1f KB per series\n", n,
	       (double)(r1 - r0) / (double)n, (double)(u1 - u0) / (double)n);
	for (long i = 0; i < n; i++)
		tsdb__chunk_enc_free(e[i]);
	free(e);
	tsdb__chunk_scratch_free(sc);
	tsdb__symtab_free(st);
	for (size_t i = 0; i < nf; i++) {
		tsdb__flat_free(flats[i]);
		pf_buf_free(&bodies[i]);
	}
	return 0;
}
