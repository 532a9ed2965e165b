/*
 * tsdb-codec: a test tool, not part of the product. Runs profiles through
 * the store's symbolized codec (src/tsdb/codec/codec.h) the way a block
 * does: one symbol table, chunks of consecutive profiles, every byte
 * serialized and parsed back before decoding.
 *
 *   tsdb-codec roundtrip IN OUT        one profile, a chunk of one; OUT is
 *                                      gzip pprof (or the raw body, for a
 *                                      body that is not pprof)
 *   tsdb-codec [-c N] series OUTDIR FILE...
 *                                      the files as one series (chunks of N
 *                                      profiles, default all), each written
 *                                      back to OUTDIR/<basename of FILE>
 *   tsdb-codec [-c N] ratio FILE...    sizes: symbol table, chunks, their
 *                                      total, the inputs' bytes and the ratio
 *   tsdb-codec [-c N] merge OUT FILE...
 *                                      the files as one series, merged with
 *                                      tsdb__merger into OUT (gzip pprof)
 *   tsdb-codec [-c N] compact OUTDIR FILE...
 *                                      as series, but the chunks (of N) are
 *                                      then transcoded into one chunk of a
 *                                      new symbol table (compaction) and
 *                                      the profiles written back from there
 *   tsdb-codec ntypes FILE             the number of sample types of FILE
 * -t prints timings to stderr; -l LEVEL sets the zstd level (default 15);
 * -v makes ratio print the bytes of each section.
 * Exits 1 with the error on stderr.
 */
#include "tsdb/codec/codec.h"

#include <libgen.h>
#include <stdlib.h>

#define TOOL_MAX_INPUT ((size_t)256 << 20)

struct input {
	const char *path;
	struct pf_buf body;
	struct pprof_profile *p; /* NULL: a raw body */
};

static int timing, verbose;
static int zlevel;

static double ms(int64_t ns)
{
	return (double)ns / 1e6;
}

static int load(struct input *in, const char *path, struct pf_err *err)
{
	struct pf_err perr = { 0 };
	in->path = path;
	pf_buf_init(&in->body, 0);
	in->p = NULL;
	if (pf_read_file(path, TOOL_MAX_INPUT, &in->body, err) < 0)
		return -1;
	if (pprof_decode(in->body.data, in->body.len, TOOL_MAX_INPUT, &in->p, &perr) < 0)
		in->p = NULL; /* not pprof: kept as a raw body */
	return 0;
}

/* What the block layer would store: a serialized symtab and chunks. */
struct stored {
	struct pf_buf symtab;
	struct pf_buf chunks;
	size_t *chunk_off; /* nchunks + 1 */
	size_t nchunks;
	size_t *first; /* first profile of each chunk */
};

static int encode_all(struct input *in, size_t n, size_t per_chunk, struct stored *s,
		      struct pf_err *err)
{
	struct tsdb__symtab *st = tsdb__symtab_new();
	struct tsdb__chunk_enc *e;
	int64_t t0 = pf_mono_ns();
	int rc = 0;

	if (zlevel)
		tsdb__symtab_set_level(st, zlevel);
	e = tsdb__chunk_enc_new(st);
	memset(s, 0, sizeof(*s));
	pf_buf_init(&s->symtab, 0);
	pf_buf_init(&s->chunks, 0);
	s->chunk_off = pf_xcalloc(n + 2, sizeof(size_t));
	s->first = pf_xcalloc(n + 2, sizeof(size_t));
	for (size_t i = 0; i < n; i++) {
		if (in[i].p)
			rc = tsdb__chunk_enc_add_pprof(e, in[i].p, err);
		else
			rc = tsdb__chunk_enc_add_raw(e, in[i].body.data, in[i].body.len, err);
		if (rc < 0)
			goto out;
		if (tsdb__chunk_enc_count(e) == per_chunk || i + 1 == n) {
			if ((rc = tsdb__chunk_enc_finish(e, &s->chunks, err)) < 0)
				goto out;
			s->nchunks++;
			s->chunk_off[s->nchunks] = s->chunks.len;
			s->first[s->nchunks] = i + 1;
		}
	}
	rc = tsdb__symtab_write(st, &s->symtab, err);
	if (timing) {
		struct tsdb__symtab_stats ss;
		tsdb__symtab_stats(st, &ss);
		fprintf(stderr,
			"encode %.1f ms: %zu strings, %zu mappings, %zu functions, %zu locations, %zu lines, %zu stack nodes, %zu label sets\n",
			ms(pf_mono_ns() - t0), ss.strings, ss.mappings, ss.functions, ss.locations,
			ss.lines, ss.nodes, ss.labelsets);
	}
out:
	tsdb__chunk_enc_free(e);
	tsdb__symtab_free(st);
	return rc;
}

/* Walk the sections of a symtab (after 16 header bytes) or chunk (16
 * bytes and the count), adding stored and raw bytes per section. */
static void section_sizes(const uint8_t *p, size_t n, int chunk, size_t *stored, size_t *raw,
			  size_t nsec)
{
	struct pf_reader r;
	pf_reader_init(&r, p + 16, n - 20);
	if (chunk)
		pf_read_uvarint(&r);
	for (size_t i = 0; i < nsec && !r.bad; i++) {
		size_t len;
		raw[i] += (size_t)pf_read_uvarint(&r);
		pf_read_u8(&r);
		pf_read_bytes(&r, &len);
		stored[i] += len;
	}
}

static void print_sections(const struct stored *s)
{
	static const char *const sym[] = { "strings", "mappings", "functions", "locations", "nodes",
					   "labelsets" };
	static const char *const col[] = { "headers", "stacks", "labels", "gaps", "values", "raw" };
	size_t st[6] = { 0 }, sr[6] = { 0 }, ct[6] = { 0 }, cr[6] = { 0 };

	section_sizes(s->symtab.data, s->symtab.len, 0, st, sr, 6);
	for (size_t c = 0; c < s->nchunks; c++)
		section_sizes(s->chunks.data + s->chunk_off[c], s->chunk_off[c + 1] - s->chunk_off[c], 1,
			      ct, cr, 6);
	printf("symtab:");
	for (int i = 0; i < 6; i++)
		printf(" %s %zu/%zu", sym[i], st[i], sr[i]);
	printf("\nchunks:");
	for (int i = 0; i < 6; i++)
		printf(" %s %zu/%zu", col[i], ct[i], cr[i]);
	printf("\n(stored/uncompressed bytes)\n");
}

static void stored_free(struct stored *s)
{
	pf_buf_free(&s->symtab);
	pf_buf_free(&s->chunks);
	free(s->chunk_off);
	free(s->first);
}

/* Decode every profile back from the stored bytes; fn gets each. */
typedef int (*each_fn)(void *arg, size_t i, struct tsdb__chunk_dec *d, size_t j,
		       const struct tsdb__symtab *st, struct pf_err *err);

/* *stp gets the symbol table read back (the caller frees it). */
static int decode_all(const struct stored *s, each_fn fn, void *arg, struct tsdb__symtab **stp,
		      struct pf_err *err)
{
	struct tsdb__symtab *st = NULL;
	int64_t t0 = pf_mono_ns();
	int rc;

	if ((rc = tsdb__symtab_read(s->symtab.data, s->symtab.len, &st, err)) < 0)
		return rc;
	*stp = st;
	for (size_t c = 0; c < s->nchunks; c++) {
		struct tsdb__chunk_dec *d = NULL;
		if ((rc = tsdb__chunk_dec_open(s->chunks.data + s->chunk_off[c],
					       s->chunk_off[c + 1] - s->chunk_off[c], &d, err)) < 0)
			goto out;
		for (size_t j = 0; j < tsdb__chunk_dec_count(d); j++)
			if ((rc = fn(arg, s->first[c] + j, d, j, st, err)) < 0)
				break;
		tsdb__chunk_dec_free(d);
		if (rc < 0)
			goto out;
	}
	if (timing)
		fprintf(stderr, "decode %.1f ms\n", ms(pf_mono_ns() - t0));
out:
	return rc;
}

static int write_file(const char *path, const void *p, size_t n, struct pf_err *err)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return pf_err_set(err, PF_EIO, "cannot create %s", path);
	if (fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		if (f)
			fclose(f);
		return pf_err_set(err, PF_EIO, "cannot write %s", path);
	}
	return 0;
}

/* Transcode every chunk of s into one chunk of a new table (replaces s). */
static int compact(struct stored *s, struct pf_err *err)
{
	struct tsdb__symtab *src = NULL, *dst = tsdb__symtab_new();
	struct tsdb__chunk_enc *e;
	struct tsdb__transcoder *tc = NULL;
	struct stored o;
	int64_t t0 = pf_mono_ns();
	size_t n = 0;
	int rc;

	if (zlevel)
		tsdb__symtab_set_level(dst, zlevel);
	e = tsdb__chunk_enc_new(dst);
	memset(&o, 0, sizeof(o));
	pf_buf_init(&o.symtab, 0);
	pf_buf_init(&o.chunks, 0);
	if ((rc = tsdb__symtab_read(s->symtab.data, s->symtab.len, &src, err)) < 0)
		goto out;
	tc = tsdb__transcoder_new(src, dst);
	for (size_t c = 0; c < s->nchunks; c++) {
		struct tsdb__chunk_dec *d = NULL;
		if ((rc = tsdb__chunk_dec_open(s->chunks.data + s->chunk_off[c],
					       s->chunk_off[c + 1] - s->chunk_off[c], &d, err)) < 0)
			goto out;
		for (size_t j = 0; j < tsdb__chunk_dec_count(d) && rc == 0; j++, n++)
			rc = tsdb__chunk_enc_add_from(e, tc, d, j, err);
		tsdb__chunk_dec_free(d);
		if (rc < 0)
			goto out;
	}
	if ((rc = tsdb__chunk_enc_finish(e, &o.chunks, err)) < 0 ||
	    (rc = tsdb__symtab_write(dst, &o.symtab, err)) < 0)
		goto out;
	o.chunk_off = pf_xcalloc(2, sizeof(size_t));
	o.first = pf_xcalloc(2, sizeof(size_t));
	o.chunk_off[1] = o.chunks.len;
	o.nchunks = 1;
	if (timing)
		fprintf(stderr, "compact %.1f ms (%zu profiles from %zu chunks)\n", ms(pf_mono_ns() - t0), n,
			s->nchunks);
	stored_free(s);
	*s = o;
	memset(&o, 0, sizeof(o));
out:
	stored_free(&o);
	tsdb__transcoder_free(tc);
	tsdb__chunk_enc_free(e);
	tsdb__symtab_free(src);
	tsdb__symtab_free(dst);
	return rc;
}

struct writer {
	const char **paths; /* output path per profile */
};

static int write_one(void *arg, size_t i, struct tsdb__chunk_dec *d, size_t j,
		     const struct tsdb__symtab *st, struct pf_err *err)
{
	struct writer *w = arg;
	struct pf_buf out = PF_BUF_INIT(0);
	int rc;

	if (tsdb__chunk_dec_is_raw(d, j)) {
		rc = tsdb__chunk_dec_raw(d, j, &out, err);
	} else {
		struct pprof_profile *p = NULL;
		rc = tsdb__chunk_dec_pprof(d, st, j, &p, err);
		if (rc == 0)
			rc = pprof_encode(p, &out, err);
		pprof_free(p);
	}
	if (rc == 0)
		rc = write_file(w->paths[i], out.data, out.len, err);
	pf_buf_free(&out);
	return rc;
}

struct merging {
	struct tsdb__merger *m;
};

static int merge_one(void *arg, size_t i, struct tsdb__chunk_dec *d, size_t j,
		     const struct tsdb__symtab *st, struct pf_err *err)
{
	struct merging *mg = arg;
	(void)i;
	if (!mg->m)
		mg->m = tsdb__merger_new(st);
	return tsdb__merger_add(mg->m, d, j, err);
}

static void usage(void)
{
	fprintf(stderr, "usage: tsdb-codec [-t] [-v] [-l LEVEL] [-c N] roundtrip IN OUT | series OUTDIR FILE... |\n"
			"       ratio FILE... | merge OUT FILE... | compact OUTDIR FILE... | ntypes FILE\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct input *in = NULL;
	struct stored s;
	struct tsdb__symtab *st = NULL;
	struct pf_err err = { 0 };
	size_t per_chunk = 0, n = 0, i;
	const char *cmd, *dest = NULL;
	char **files;
	int nfiles, rc = 1, stored_ok = 0;

	memset(&s, 0, sizeof(s));
	in = pf_xcalloc((size_t)argc, sizeof(*in));
	argv++;
	argc--;
	while (argc > 0 && argv[0][0] == '-') {
		if (strcmp(argv[0], "-t") == 0) {
			timing = 1;
		} else if (strcmp(argv[0], "-v") == 0) {
			verbose = 1;
		} else if (strcmp(argv[0], "-l") == 0 && argc > 1) {
			zlevel = (int)strtol(argv[1], NULL, 10);
			argv++;
			argc--;
		} else if (strcmp(argv[0], "-c") == 0 && argc > 1) {
			char *end;
			per_chunk = strtoul(argv[1], &end, 10);
			if (*end || per_chunk == 0)
				usage();
			argv++;
			argc--;
		} else {
			usage();
		}
		argv++;
		argc--;
	}
	if (argc < 2)
		usage();
	cmd = argv[0];
	if (strcmp(cmd, "ntypes") == 0) {
		if (argc != 2)
			usage();
		if (load(&in[0], argv[1], &err) < 0 || !in[0].p) {
			fprintf(stderr, "tsdb-codec: %s: %s\n", argv[1], in[0].p ? err.msg : "not a pprof profile");
			rc = 1;
		} else {
			printf("%zu\n", pprof_message(in[0].p)->n_sample_type);
			rc = 0;
		}
		pf_buf_free(&in[0].body);
		pprof_free(in[0].p);
		free(in);
		return rc;
	}
	if (strcmp(cmd, "roundtrip") == 0) {
		if (argc != 3)
			usage();
		files = argv + 1;
		nfiles = 1;
		dest = argv[2];
	} else if (strcmp(cmd, "series") == 0 || strcmp(cmd, "merge") == 0 ||
		   strcmp(cmd, "compact") == 0) {
		if (argc < 3)
			usage();
		dest = argv[1];
		files = argv + 2;
		nfiles = argc - 2;
	} else if (strcmp(cmd, "ratio") == 0) {
		files = argv + 1;
		nfiles = argc - 1;
	} else {
		usage();
	}

	for (i = 0; i < (size_t)nfiles; i++, n++)
		if (load(&in[i], files[i], &err) < 0) {
			fprintf(stderr, "tsdb-codec: %s\n", err.msg);
			goto out;
		}
	if (encode_all(in, n, per_chunk ? per_chunk : n, &s, &err) < 0) {
		fprintf(stderr, "tsdb-codec: encode: %s\n", err.msg);
		goto out;
	}
	stored_ok = 1;
	if (strcmp(cmd, "compact") == 0 && compact(&s, &err) < 0) {
		fprintf(stderr, "tsdb-codec: compact: %s\n", err.msg);
		goto out;
	}

	if (strcmp(cmd, "ratio") == 0) {
		size_t gz = 0, total = s.symtab.len + s.chunks.len;
		for (i = 0; i < n; i++)
			gz += in[i].body.len;
		printf("profiles %zu chunks %zu symtab %zu chunk %zu total %zu input %zu ratio %.4f\n", n,
		       s.nchunks, s.symtab.len, s.chunks.len, total, gz, (double)total / (double)gz);
		if (verbose)
			print_sections(&s);
		rc = 0;
	} else if (strcmp(cmd, "merge") == 0) {
		struct merging mg = { NULL };
		struct pprof_profile *p = NULL;
		struct pf_buf out = PF_BUF_INIT(0);
		if (decode_all(&s, merge_one, &mg, &st, &err) < 0 ||
		    tsdb__merger_finish(mg.m, &p, &err) < 0 || pprof_encode(p, &out, &err) < 0 ||
		    write_file(dest, out.data, out.len, &err) < 0)
			fprintf(stderr, "tsdb-codec: merge: %s\n", err.msg);
		else
			rc = 0;
		pprof_free(p);
		pf_buf_free(&out);
		tsdb__merger_free(mg.m); /* before the table it borrows */
	} else {
		struct writer w;
		char **paths = pf_xcalloc(n, sizeof(char *));
		w.paths = (const char **)paths;
		for (i = 0; i < n; i++) {
			if (strcmp(cmd, "roundtrip") == 0) {
				paths[i] = pf_xstrdup(dest);
			} else {
				char *tmp = pf_xstrdup(in[i].path);
				size_t len = strlen(dest) + strlen(tmp) + 2;
				paths[i] = pf_xmalloc(len);
				snprintf(paths[i], len, "%s/%s", dest, basename(tmp));
				free(tmp);
			}
		}
		if (decode_all(&s, write_one, &w, &st, &err) < 0)
			fprintf(stderr, "tsdb-codec: decode: %s\n", err.msg);
		else
			rc = 0;
		for (i = 0; i < n; i++)
			free(paths[i]);
		free(paths);
	}
out:
	tsdb__symtab_free(st);
	if (stored_ok)
		stored_free(&s);
	for (i = 0; i < n; i++) {
		pf_buf_free(&in[i].body);
		pprof_free(in[i].p);
	}
	free(in);
	return rc;
}
