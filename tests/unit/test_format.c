/* Unit tests of the store's formats (docs/format, src/tsdb/format.h) against
 * the golden data directories of tests/fixtures/golden (written by earlier
 * releases, never regenerated; read here in place, read-only):
 *   - the constants of format.h per version: a value changed without its
 *     version, or a version raised without a golden directory written by
 *     the new code, fails;
 *   - the version fields of every golden file are the ones its table row
 *     says;
 *   - the current writers re-encode what the golden files hold into the same
 *     bytes (WAL and checkpoint records; each symbol table's and chunk's
 *     uncompressed sections): an encoding changed without a new version
 *     fails, whatever the reader does with it;
 *   - v1's structure: its blocks (levels, sources, counts), its checkpoint
 *     and its torn WAL tail.
 * What the golden data holds, profile by profile, is checked end to end by
 * tests/e2e/golden.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fixture.h"

/* paths here are short; snprintf cuts are not a concern of this test */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tsdb/block-internal.h"
#include "tsdb/codec/codec-internal.h"
#include "tsdb/format.h"
#include "tsdb/tsdb-internal.h"

/* ---- the constants, per version ------------------------------------------ */

struct fmt_row {
	const char *name;
	uint64_t value;
	uint32_t version; /* of the format the constant belongs to */
};

/*
 * Every value format.h (and tsdb.h's kinds, written in records and index
 * entries) has had, with the version of its format. A new version adds
 * rows (and a golden directory below); rows are never changed.
 */
static const struct fmt_row known[] = {
	{ "TSDB__WAL_MAGIC", 0x4c574650u, 1 },
	{ "TSDB__WAL_HDR", 8, 1 },
	{ "TSDB__REC_HDR", 8, 1 },
	{ "TSDB__REC_PROFILE", 1, 1 },
	{ "TSDB_KIND_PPROF", 1, 1 },
	{ "TSDB_KIND_RAW", 2, 1 },
	{ "TSDB__CKPT_MAGIC", 0x43574650u, 1 },
	{ "TSDB__CKPT_HDR", 16, 1 },
	{ "TSDB__BLOCK_INDEX_MAGIC", 0x49424650u, 1 },
	{ "TSDB__BLOCK_SYMS_MAGIC", 0x53424650u, 1 },
	{ "TSDB__BLOCK_CHUNKS_MAGIC", 0x43424650u, 1 },
	{ "TSDB__BLOCK_HDR", 8, 1 },
	{ "TSDB__BLOCK_NAME_LEN", 26, 1 },
	/* a block's version stands for the codec versions inside it */
	{ "TSDB__SYMTAB_VERSION in a block", 1, 1 },
	{ "TSDB__CHUNK_VERSION in a block", 1, 1 },
	{ "TSDB__SYMTAB_MAGIC", 0x59534650u, 1 },
	{ "TSDB__CHUNK_MAGIC", 0x4b434650u, 1 },
	/* in every id: version 1 forever */
	{ "TSDB__LABELS_HASH_SEED", 0x70726f66656665ull, 1 },
};

#define CUR(name, version) { #name, (uint64_t)(name), (version) }
static const struct fmt_row current[] = {
	CUR(TSDB__WAL_MAGIC, TSDB__WAL_VERSION),
	CUR(TSDB__WAL_HDR, TSDB__WAL_VERSION),
	CUR(TSDB__REC_HDR, TSDB__WAL_VERSION),
	CUR(TSDB__REC_PROFILE, TSDB__WAL_VERSION),
	CUR(TSDB_KIND_PPROF, TSDB__WAL_VERSION),
	CUR(TSDB_KIND_RAW, TSDB__WAL_VERSION),
	CUR(TSDB__CKPT_MAGIC, TSDB__CKPT_VERSION),
	CUR(TSDB__CKPT_HDR, TSDB__CKPT_VERSION),
	CUR(TSDB__BLOCK_INDEX_MAGIC, TSDB__BLOCK_VERSION),
	CUR(TSDB__BLOCK_SYMS_MAGIC, TSDB__BLOCK_VERSION),
	CUR(TSDB__BLOCK_CHUNKS_MAGIC, TSDB__BLOCK_VERSION),
	CUR(TSDB__BLOCK_HDR, TSDB__BLOCK_VERSION),
	CUR(TSDB__BLOCK_NAME_LEN, TSDB__BLOCK_VERSION),
	{ "TSDB__SYMTAB_VERSION in a block", TSDB__SYMTAB_VERSION, TSDB__BLOCK_VERSION },
	{ "TSDB__CHUNK_VERSION in a block", TSDB__CHUNK_VERSION, TSDB__BLOCK_VERSION },
	CUR(TSDB__SYMTAB_MAGIC, TSDB__SYMTAB_VERSION),
	CUR(TSDB__CHUNK_MAGIC, TSDB__CHUNK_VERSION),
	{ "TSDB__LABELS_HASH_SEED", TSDB__LABELS_HASH_SEED, 1 },
};

/* The golden directories and the versions their files carry. The last one
 * must be what this build writes. */
struct golden {
	const char *dir;
	uint32_t wal, ckpt, block, symtab, chunk;
};
static const struct golden goldens[] = {
	{ "tests/fixtures/golden/v1/data", 1, 1, 1, 1, 1 },
};
#define NGOLDEN (sizeof(goldens) / sizeof(goldens[0]))

static void test_constants_per_version(void **state)
{
	(void)state;
	for (size_t i = 0; i < PF_ARRAY_LEN(current); i++) {
		const struct fmt_row *c = &current[i];
		int found = 0;
		for (size_t k = 0; k < PF_ARRAY_LEN(known); k++) {
			if (strcmp(known[k].name, c->name) != 0 || known[k].version != c->version)
				continue;
			found = 1;
			if (known[k].value != c->value)
				fail_msg("%s is 0x%" PRIx64 " but version %u of its format has 0x%" PRIx64
					 ": a format change needs a new version (docs/format/README.md)",
					 c->name, c->value, c->version, known[k].value);
		}
		if (!found)
			fail_msg("%s: format version %u is not in this table: add its rows (the old "
				 "ones stay) and a golden directory written by the new code",
				 c->name, c->version);
	}
}

static void test_newest_golden_is_current(void **state)
{
	const struct golden *g = &goldens[NGOLDEN - 1];
	(void)state;
	assert_int_equal(g->wal, TSDB__WAL_VERSION);
	assert_int_equal(g->ckpt, TSDB__CKPT_VERSION);
	assert_int_equal(g->block, TSDB__BLOCK_VERSION);
	assert_int_equal(g->symtab, TSDB__SYMTAB_VERSION);
	assert_int_equal(g->chunk, TSDB__CHUNK_VERSION);
}

/* The common encodings of docs/format/README.md. */
static void test_common_encodings(void **state)
{
	static const struct tsdb_label l[] = { { "service", "shop" }, { "type", "heap" } };
	const struct tsdb_label *sorted[2] = { &l[0], &l[1] };
	struct pf_buf b = PF_BUF_INIT(0);
	char id[TSDB_ID_LEN + 1];
	uint64_t h;
	int64_t t;
	uint32_t seq;
	(void)state;

	assert_int_equal(pf_crc32c(0, "123456789", 9), 0xE3069283u);
	assert_int_equal(tsdb__labels_encode(&b, sorted, 2), 0);
	assert_int_equal(b.len, 1 + 8 + 5 + 5 + 5);
	assert_memory_equal(b.data, "\x02\x07service\x04shop\x04type\x04heap", b.len);
	/* the series hash of this label set, as ids handed out carry it */
	assert_true(tsdb__labels_hash(b.data, b.len) == pf_hash64(b.data, b.len, 0x70726f66656665ull));
	tsdb__id_encode(0x0102030405060708ull, -1, 7, id);
	assert_int_equal(strlen(id), TSDB_ID_LEN);
	assert_int_equal(tsdb__id_decode(id, &h, &t, &seq), 0);
	assert_true(h == 0x0102030405060708ull && t == -1 && seq == 7);
	tsdb__id_encode(0, 0, 1, id);
	assert_string_equal(id, "000000000000000000000000001");
	pf_buf_free(&b);
}

/* ---- golden files -------------------------------------------------------- */

static void read_at(const char *path, uint64_t off, size_t n, struct pf_buf *b)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail_msg("open %s: %s", path, strerror(errno));
	pf_buf_reset(b);
	assert_int_equal(pf_buf_reserve(b, n), 0);
	if (pf_pread_full(fd, b->data, n, (off_t)off) != (ssize_t)n)
		fail_msg("read %s at %" PRIu64 ": short", path, off);
	b->len = n;
	close(fd);
}

static uint32_t version_at(const char *path, uint64_t off)
{
	struct pf_buf b = PF_BUF_INIT(0);
	uint32_t v;
	read_at(path, off + 4, 4, &b);
	v = pf_get_le32(b.data);
	pf_buf_free(&b);
	return v;
}

/* Names in dir that pass keep, sorted, into names[] (at most max). */
static size_t list_dir(const char *dir, int (*keep)(const char *), char names[][64], size_t max)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;
	if (!d)
		fail_msg("open %s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL)
		if (keep(de->d_name) && n < max)
			snprintf(names[n++], 64, "%s", de->d_name);
	closedir(d);
	qsort(names, n, 64, (int (*)(const void *, const void *))strcmp);
	return n;
}
static int is_segment(const char *s)
{
	return strlen(s) == 8 && strspn(s, "0123456789") == 8;
}
static int is_checkpoint(const char *s)
{
	return strncmp(s, "checkpoint.", 11) == 0 && is_segment(s + 11);
}
static int is_block(const char *s)
{
	return tsdb__block_name_ok(s);
}

static void test_golden_versions(void **state)
{
	char names[16][64], path[PATH_MAX], dir[PATH_MAX];
	(void)state;
	for (size_t g = 0; g < NGOLDEN; g++) {
		const struct golden *gd = &goldens[g];
		size_t n;
		snprintf(dir, sizeof(dir), "%s/wal", gd->dir);
		n = list_dir(dir, is_segment, names, 16);
		assert_true(n > 0);
		for (size_t i = 0; i < n; i++) {
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
			assert_int_equal(version_at(path, 0), gd->wal);
		}
		n = list_dir(dir, is_checkpoint, names, 16);
		assert_true(n > 0);
		for (size_t i = 0; i < n; i++) {
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
			assert_int_equal(version_at(path, 0), gd->ckpt);
		}
		snprintf(dir, sizeof(dir), "%s/blocks", gd->dir);
		n = list_dir(dir, is_block, names, 16);
		assert_true(n > 0);
		for (size_t i = 0; i < n; i++) {
			snprintf(path, sizeof(path), "%s/%s/index", dir, names[i]);
			assert_int_equal(version_at(path, 0), gd->block);
			snprintf(path, sizeof(path), "%s/%s/chunks", dir, names[i]);
			assert_int_equal(version_at(path, 0), gd->block);
			assert_int_equal(version_at(path, TSDB__BLOCK_HDR), gd->chunk);
			snprintf(path, sizeof(path), "%s/%s/symbols", dir, names[i]);
			assert_int_equal(version_at(path, 0), gd->block);
			assert_int_equal(version_at(path, TSDB__BLOCK_HDR), gd->symtab);
		}
	}
}

/* ---- WAL records re-encoded ----------------------------------------------- */

struct rec_ctx {
	struct tsdb__rec r;
	struct pf_buf again;
	size_t n;
};

static int reencode_record(void *arg, const uint8_t *head, size_t nhead, uint64_t rec_len,
			   const struct tsdb__loc *loc, const char *path, struct pf_err *err)
{
	struct rec_ctx *c = arg;
	struct tsdb_total t[TSDB__MAX_TOTALS];
	const char *why = NULL;
	(void)err;

	if (tsdb__rec_decode(head, nhead, rec_len, &c->r, &why) < 0)
		fail_msg("%s:%" PRIu64 ": %s", path, loc->off, why);
	for (size_t i = 0; i < c->r.ntotals; i++) {
		t[i].type = strndup(c->r.totals[i].type.p, c->r.totals[i].type.n);
		t[i].unit = strndup(c->r.totals[i].unit.p, c->r.totals[i].unit.n);
		t[i].value = c->r.totals[i].value;
	}
	pf_buf_reset(&c->again);
	assert_int_equal(tsdb__rec_encode_meta(&c->again, c->r.labels_enc, c->r.labels_enc_len,
					       c->r.t_ns, c->r.seq, c->r.kind, t, c->r.ntotals,
					       c->r.body_len),
			 0);
	if (c->again.len != c->r.meta_len || memcmp(c->again.data, head, c->again.len) != 0)
		fail_msg("%s:%" PRIu64 ": the record's metadata re-encodes differently "
			 "(%zu bytes, written %zu): the WAL record format changed without "
			 "TSDB__WAL_VERSION", path, loc->off, c->again.len, c->r.meta_len);
	for (size_t i = 0; i < c->r.ntotals; i++) {
		free((char *)t[i].type);
		free((char *)t[i].unit);
	}
	c->n++;
	return 0;
}

/* Scan one WAL file read-only: *records re-encoded, its end status. */
static int scan_wal_file(const char *path, int ckpt, uint32_t num, size_t *records)
{
	struct rec_ctx *c = calloc(1, sizeof(*c));
	struct tsdb__scan_result res;
	struct pf_err err = { 0 };
	int fd = open(path, O_RDONLY | O_CLOEXEC), st;

	if (fd < 0)
		fail_msg("open %s: %s", path, strerror(errno));
	pf_buf_init(&c->again, 0);
	if ((ckpt ? tsdb__wal_scan_checkpoint(fd, num, path, reencode_record, c, &res, &err)
		  : tsdb__wal_scan(fd, num, path, reencode_record, c, &res, &err)) < 0)
		fail_msg("%s: %s", path, err.msg);
	close(fd);
	assert_int_equal(res.records, c->n);
	assert_int_equal(res.skipped, 0);
	*records = c->n;
	st = res.status;
	pf_buf_free(&c->again);
	free(c);
	return st;
}

static void test_golden_wal_reencodes(void **state)
{
	char names[16][64], path[PATH_MAX], dir[PATH_MAX];
	(void)state;
	for (size_t g = 0; g < NGOLDEN; g++) {
		size_t n, recs;
		snprintf(dir, sizeof(dir), "%s/wal", goldens[g].dir);
		n = list_dir(dir, is_checkpoint, names, 16);
		for (size_t i = 0; i < n; i++) {
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
			assert_int_equal(scan_wal_file(path, 1, (uint32_t)strtoul(names[i] + 11, NULL, 10),
						       &recs),
					 TSDB__SCAN_END);
			if (g == 0) /* v1: the four profiles the head still needed */
				assert_int_equal(recs, 4);
		}
		n = list_dir(dir, is_segment, names, 16);
		for (size_t i = 0; i < n; i++) {
			int st;
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
			st = scan_wal_file(path, 0, (uint32_t)strtoul(names[i], NULL, 10), &recs);
			if (g == 0) { /* v1: one record, then half of one */
				assert_int_equal(st, TSDB__SCAN_TORN);
				assert_int_equal(recs, 1);
			}
		}
	}
}

/* ---- symbol tables and chunks re-encoded ----------------------------------- */

/* The uncompressed sections of a symbol table (hdr = 16) or a chunk (hdr =
 * 16 and a uvarint count) in p: the header bytes into sec[0], each section
 * into sec[1..6]. */
static void sections(const uint8_t *p, size_t n, int chunk, struct pf_buf sec[7])
{
	struct pf_reader r;
	struct pf_err err = { 0 };
	size_t hdr = 16;

	pf_reader_init(&r, p + hdr, n - hdr - 4);
	if (chunk) {
		pf_read_uvarint(&r);
		hdr = (size_t)(r.p - p);
	}
	pf_buf_reset(&sec[0]);
	pf_buf_append(&sec[0], p, hdr);
	for (int i = 1; i <= 6; i++) {
		uint8_t *data;
		size_t len;
		if (tsdb__get_section(&r, p, "section", &data, &len, &err) < 0)
			fail_msg("%s", err.msg);
		pf_buf_reset(&sec[i]);
		pf_buf_append(&sec[i], data, len);
		free(data);
	}
	assert_int_equal(pf_reader_left(&r), 0);
}

static void same_sections(const struct pf_buf *a, const struct pf_buf *b, int chunk,
			  const char *what, uint64_t off)
{
	static const char *const sym[] = { "header", "strings", "mappings", "functions",
					   "locations", "nodes", "label sets" };
	static const char *const col[] = { "header", "headers", "stacks", "labels",
					   "gaps", "values", "raw bodies" };
	struct pf_buf sa[7], sb[7];
	for (int i = 0; i < 7; i++) {
		pf_buf_init(&sa[i], 0);
		pf_buf_init(&sb[i], 0);
	}
	sections(a->data, a->len, chunk, sa);
	sections(b->data, b->len, chunk, sb);
	for (int i = 0; i < 7; i++) {
		if (sa[i].len != sb[i].len || (sa[i].len && memcmp(sa[i].data, sb[i].data, sa[i].len) != 0))
			fail_msg("%s at %" PRIu64 ": its section \"%s\" re-encodes differently (%zu bytes, "
				 "written %zu): the %s format changed without its version",
				 what, off, (chunk ? col : sym)[i], sb[i].len, sa[i].len,
				 chunk ? "chunk" : "symbol table");
		pf_buf_free(&sa[i]);
		pf_buf_free(&sb[i]);
	}
}

struct block_counts {
	uint32_t level;
	size_t nsources;
	uint64_t nseries, nprofiles, nraw, nchunks, nservices;
};

/* Re-encode every symbol table and chunk of block name; count what is in it. */
static void reencode_block(const char *blocks, const char *name, struct block_counts *bc)
{
	struct tsdb__block *b = NULL;
	struct pf_err err = { 0 };
	struct pf_buf got = PF_BUF_INIT(0), again = PF_BUF_INIT(0), raw = PF_BUF_INIT(0);
	uint64_t done_chunks[256];
	size_t ndone = 0;
	char chunks[PATH_MAX], syms[PATH_MAX];
	const struct tsdb__block_info *in;

	if (tsdb__block_open(blocks, name, &b, &err) < 0)
		fail_msg("block %s: %s", name, err.msg);
	in = tsdb__block_info(b);
	memset(bc, 0, sizeof(*bc));
	bc->level = in->level;
	bc->nsources = in->nsources;
	bc->nseries = in->nseries;
	bc->nprofiles = in->nprofiles;
	snprintf(chunks, sizeof(chunks), "%s/chunks", tsdb__block_path(b));
	snprintf(syms, sizeof(syms), "%s/symbols", tsdb__block_path(b));
	/* every service's table: its bytes, and the table read from them
	 * written again */
	for (size_t i = 0; i < b->nservices; i++) {
		struct tsdb__symtab *st = NULL;
		read_at(syms, b->services[i].off, (size_t)b->services[i].len, &got);
		if (tsdb__symtab_read(got.data, got.len, &st, &err) < 0)
			fail_msg("%s at %" PRIu64 ": %s", syms, b->services[i].off, err.msg);
		pf_buf_reset(&again);
		assert_int_equal(tsdb__symtab_write(st, &again, &err), 0);
		tsdb__symtab_free(st);
		same_sections(&got, &again, 0, syms, b->services[i].off);
		bc->nservices++;
	}
	for (uint32_t ord = 0; ord < in->nseries; ord++) {
		const struct tsdb__symtab *st;
		struct tsdb__bentries es;
		size_t k;
		if (tsdb__block_symtab(b, ord, &st, &err) < 0)
			fail_msg("%s: %s", name, err.msg);
		tsdb__block_entries(b, ord, &es);
		for (size_t i = 0; i < es.n; i++) {
			const struct tsdb__bentry *e = &es.e[i];
			struct tsdb__chunk_dec *d = NULL;
			struct tsdb__chunk_enc *enc;
			if (e->kind == TSDB_KIND_RAW)
				bc->nraw++;
			for (k = 0; k < ndone && done_chunks[k] != e->chunk_off; k++)
				;
			if (k < ndone)
				continue;
			assert_true(ndone < PF_ARRAY_LEN(done_chunks));
			done_chunks[ndone++] = e->chunk_off;
			if (tsdb__block_chunk(b, e, &d, &err) < 0)
				fail_msg("%s: %s", chunks, err.msg);
			read_at(chunks, e->chunk_off, (size_t)e->chunk_len, &got);
			enc = tsdb__chunk_enc_new((struct tsdb__symtab *)st);
			for (size_t p = 0; p < tsdb__chunk_dec_count(d); p++) {
				if (tsdb__chunk_dec_is_raw(d, p)) {
					pf_buf_reset(&raw);
					assert_int_equal(tsdb__chunk_dec_raw(d, p, &raw, &err), 0);
					assert_int_equal(tsdb__chunk_enc_add_raw(enc, raw.data, raw.len, &err), 0);
				} else {
					struct tsdb__rows rows;
					struct tsdb__phdr h;
					if (tsdb__chunk_dec_rows(d, st, p, &rows, &err) < 0)
						fail_msg("%s at %" PRIu64 ": %s", chunks, e->chunk_off, err.msg);
					h = *rows.hdr;
					if (tsdb__chunk_enc_rows(enc, &h, rows.nrows, rows.stacks, rows.lsets,
								 rows.vals, &err) < 0)
						fail_msg("%s", err.msg);
				}
			}
			pf_buf_reset(&again);
			assert_int_equal(tsdb__chunk_enc_finish(enc, &again, &err), 0);
			tsdb__chunk_enc_free(enc);
			tsdb__chunk_dec_free(d);
			same_sections(&got, &again, 1, chunks, e->chunk_off);
			bc->nchunks++;
		}
		tsdb__bentries_free(&es);
	}
	assert_int_equal(bc->nchunks, in->nchunks);
	tsdb__block_unref(b);
	pf_buf_free(&got);
	pf_buf_free(&again);
	pf_buf_free(&raw);
}

static void test_golden_blocks_reencode(void **state)
{
	char names[16][64], dir[PATH_MAX];
	(void)state;
	pf_log_setup("error", "logfmt");
	for (size_t g = 0; g < NGOLDEN; g++) {
		size_t n;
		snprintf(dir, sizeof(dir), "%s/blocks", goldens[g].dir);
		n = list_dir(dir, is_block, names, 16);
		assert_true(n > 0);
		for (size_t i = 0; i < n; i++) {
			struct block_counts bc;
			reencode_block(dir, names[i], &bc);
			if (g != 0)
				continue;
			/* v1: a compacted block of [T0, T0+3h) and a level-1 block */
			if (strcmp(names[i], "01M8TWXHV228BB95THXZTEMZMP") == 0) {
				assert_int_equal(bc.level, 3);
				assert_int_equal(bc.nsources, 4);
				assert_int_equal(bc.nseries, 4);
				assert_int_equal(bc.nprofiles, 14);
				assert_int_equal(bc.nraw, 1);
				assert_int_equal(bc.nservices, 2);
			} else {
				assert_string_equal(names[i], "01M8TWXHT4Q4N3AKJBMCFVBKMM");
				assert_int_equal(bc.level, 1);
				assert_int_equal(bc.nsources, 0);
				assert_int_equal(bc.nseries, 3);
				assert_int_equal(bc.nprofiles, 3);
				assert_int_equal(bc.nraw, 1);
				assert_int_equal(bc.nservices, 1);
			}
		}
		if (g == 0)
			assert_int_equal(n, 2);
	}
}

/* A newer release's file is refused naming both versions; damage (a
 * version far above, or 0) is corruption. The open-time refusals of WAL
 * files and blocks are run on copies of the golden data by
 * tests/e2e/golden.sh; here the codec's, inside a block. */
static void test_newer_versions(void **state)
{
	char names[16][64], dir[PATH_MAX], path[PATH_MAX];
	struct pf_buf b = PF_BUF_INIT(0);
	struct pf_err err = { 0 };
	struct tsdb__chunk_dec *d = NULL;
	struct tsdb__symtab *st = NULL;
	struct stat sb;
	(void)state;

	assert_true(tsdb__version_newer(2, 1));
	assert_true(tsdb__version_newer(1 + TSDB__NEWER_VERSIONS, 1));
	assert_false(tsdb__version_newer(2 + TSDB__NEWER_VERSIONS, 1));
	assert_false(tsdb__version_newer(1, 1));
	assert_false(tsdb__version_newer(0, 1));

	snprintf(dir, sizeof(dir), "%s/blocks", goldens[NGOLDEN - 1].dir);
	assert_true(list_dir(dir, is_block, names, 16) > 0);
	/* the first chunk and the first table: version 2, CRC32C made right */
	for (int sym = 0; sym < 2; sym++) {
		struct tsdb__block *blk = NULL;
		uint64_t off, len;
		int rc;
		assert_int_equal(tsdb__block_open(dir, names[0], &blk, &err), 0);
		if (sym) {
			off = blk->services[0].off;
			len = blk->services[0].len;
			snprintf(path, sizeof(path), "%s/%s/symbols", dir, names[0]);
		} else {
			struct tsdb__bentries es;
			tsdb__block_entries(blk, 0, &es);
			off = es.e[0].chunk_off;
			len = es.e[0].chunk_len;
			tsdb__bentries_free(&es);
			snprintf(path, sizeof(path), "%s/%s/chunks", dir, names[0]);
		}
		tsdb__block_unref(blk);
		assert_int_equal(stat(path, &sb), 0);
		read_at(path, off, (size_t)len, &b);
		pf_put_le32(b.data + 4, 2);
		pf_put_le32(b.data + b.len - 4, pf_crc32c(0, b.data, b.len - 4));
		rc = sym ? tsdb__symtab_read(b.data, b.len, &st, &err)
			 : tsdb__chunk_dec_open(b.data, b.len, &d, &err);
		assert_int_equal(rc, PF_ENEWER);
		assert_non_null(strstr(err.msg, "format version 2, this profefe reads up to 1"));
		/* version 0: damage */
		pf_put_le32(b.data + 4, 0);
		pf_put_le32(b.data + b.len - 4, pf_crc32c(0, b.data, b.len - 4));
		rc = sym ? tsdb__symtab_read(b.data, b.len, &st, &err)
			 : tsdb__chunk_dec_open(b.data, b.len, &d, &err);
		assert_int_equal(rc, PF_ECORRUPT);
	}
	pf_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_constants_per_version),
		cmocka_unit_test(test_newest_golden_is_current),
		cmocka_unit_test(test_common_encodings),
		cmocka_unit_test(test_golden_versions),
		cmocka_unit_test(test_golden_wal_reencodes),
		cmocka_unit_test(test_golden_blocks_reencode),
		cmocka_unit_test(test_newer_versions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
