/*
 * chunkbytes: a check tool, not part of the product (issue 18). Encodes
 * profiles with a fixed table nonce as the head does (one series' chunk
 * finished every TSDB__HEAD_CHUNK_PROFILES profiles, one table) and prints
 * the length and a hash of every chunk and of the table, so that two builds
 * can be compared: a change to the encoder's speed must print the same.
 *   chunkbytes FILE[,FILE...] N [REOPEN]
 * N profiles, the files taken in turn; a body that is not a pprof profile
 * is added raw. REOPEN > 0: every REOPEN profiles the table is written,
 * read back and added to from then on (the indexes a read table builds).
 */
#include "pprof/stream.h"
#include "tsdb/codec/codec-internal.h"
#include "tsdb/tsdb-internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILES 64

static void print_buf(const char *what, size_t i, const struct pf_buf *b)
{
	printf("%s %zu %zu %016llx\n", what, i, b->len,
	       (unsigned long long)pf_hash64(b->data, b->len, 42));
}

static int finish(struct tsdb__chunk_enc *e, size_t *nchunk, struct pf_buf *out,
		  struct pf_err *err)
{
	if (tsdb__chunk_enc_count(e) == 0)
		return 0;
	pf_buf_reset(out);
	if (tsdb__chunk_enc_finish(e, out, err) < 0)
		return -1;
	print_buf("chunk", (*nchunk)++, out);
	return 0;
}

int main(int argc, char **argv)
{
	struct pf_buf bodies[MAX_FILES], out = PF_BUF_INIT(0);
	struct pf_err err = { 0 };
	size_t nb = 0, nchunk = 0, ntable = 0;
	char *list, *tok, *save = NULL;
	long n, reopen;
	struct tsdb__symtab *st;
	struct tsdb__chunk_scratch *sc;
	struct tsdb__chunk_enc *e;

	if (argc < 3) {
		fprintf(stderr, "usage: chunkbytes FILE[,FILE...] N [REOPEN]\n");
		return 2;
	}
	n = strtol(argv[2], NULL, 10);
	reopen = argc > 3 ? strtol(argv[3], NULL, 10) : 0;
	list = strdup(argv[1]);
	for (tok = strtok_r(list, ",", &save); tok && nb < MAX_FILES; tok = strtok_r(NULL, ",", &save)) {
		pf_buf_init(&bodies[nb], 0);
		if (pf_read_file(tok, (size_t)1 << 30, &bodies[nb], &err) < 0) {
			fprintf(stderr, "chunkbytes: %s: %s\n", tok, err.msg);
			return 1;
		}
		nb++;
	}
	free(list);
	if (nb == 0)
		return 2;
	st = tsdb__symtab_new();
	st->nonce = 0x0123456789abcdefull;
	tsdb__symtab_set_level(st, TSDB__HEAD_ZSTD_LEVEL);
	sc = tsdb__chunk_scratch_new();
	e = tsdb__chunk_enc_new_shared(st, sc);
	for (long k = 0; k < n; k++) {
		size_t j = (size_t)k % nb;
		struct tsdb__flat *f = tsdb__flat_new();
		if (tsdb__flat_decode(f, bodies[j].data, bodies[j].len, (size_t)1 << 30, &err) < 0) {
			if (tsdb__chunk_enc_add_raw(e, bodies[j].data, bodies[j].len, &err) < 0)
				goto fail;
		} else if (tsdb__chunk_enc_add_flat(e, f, &err) < 0) {
			goto fail;
		}
		tsdb__flat_free(f);
		if (tsdb__chunk_enc_count(e) == TSDB__HEAD_CHUNK_PROFILES && finish(e, &nchunk, &out, &err) < 0)
			goto fail;
		if (reopen > 0 && (k + 1) % reopen == 0) {
			struct tsdb__symtab *rd;
			if (finish(e, &nchunk, &out, &err) < 0)
				goto fail;
			pf_buf_reset(&out);
			if (tsdb__symtab_write(st, &out, &err) < 0 ||
			    tsdb__symtab_read(out.data, out.len, &rd, &err) < 0)
				goto fail;
			print_buf("table", ntable++, &out);
			tsdb__symtab_set_level(rd, TSDB__HEAD_ZSTD_LEVEL);
			tsdb__chunk_enc_free(e);
			tsdb__symtab_free(st);
			st = rd;
			e = tsdb__chunk_enc_new_shared(st, sc);
		}
	}
	if (finish(e, &nchunk, &out, &err) < 0)
		goto fail;
	pf_buf_reset(&out);
	if (tsdb__symtab_write(st, &out, &err) < 0)
		goto fail;
	print_buf("table", ntable++, &out);
	tsdb__chunk_enc_free(e);
	tsdb__chunk_scratch_free(sc);
	tsdb__symtab_free(st);
	pf_buf_free(&out);
	for (size_t i = 0; i < nb; i++)
		pf_buf_free(&bodies[i]);
	return 0;
fail:
	fprintf(stderr, "chunkbytes: %s\n", err.msg);
	return 1;
}
