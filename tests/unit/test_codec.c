/*
 * Unit tests for the store's profile codec (src/tsdb/codec/codec.h): round
 * trips of every fixture (and the trace as a raw body) through a serialized
 * symbol table and chunk, a series in one chunk with random access, hand
 * built profiles (empty stacks, duplicate samples, numeric labels with
 * units, unreferenced mappings/locations/functions, inlined frames, every
 * header field), corrupt and truncated input, the merger against
 * pprof_merge, and pprof_from_message.
 * Run from the repository root (fixtures under tests/fixtures).
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "fixture.h"

#include "tsdb/codec/codec.h"

#define FIX "tests/fixtures/"
#define MAXDEC ((size_t)256 << 20)

/* ---- helpers ----------------------------------------------------------- */

/* Sorted list of the .pb.gz paths under tests/fixtures/pprof (caller frees). */
static size_t list_fixtures(char ***out)
{
	DIR *d = opendir(FIX "pprof");
	struct dirent *e;
	char **v = NULL;
	size_t n = 0, cap = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		char *p;
		if (l < 6 || strcmp(e->d_name + l - 6, ".pb.gz") != 0)
			continue;
		pf_xgrow((void **)&v, &cap, n + 1, sizeof(char *));
		p = pf_xmalloc(l + sizeof(FIX "pprof/"));
		snprintf(p, l + sizeof(FIX "pprof/"), FIX "pprof/%s", e->d_name);
		v[n++] = p;
	}
	closedir(d);
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
			char *t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	*out = v;
	return n;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* A growing text dump. */
struct dump {
	struct pf_buf b;
};

static void dprintf_(struct dump *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void dprintf_(struct dump *d, const char *fmt, ...)
{
	char tmp[4096];
	va_list ap;
	int n;
	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof(tmp));
	assert_int_equal(pf_buf_append(&d->b, tmp, (size_t)n), 0);
}

static const Perftools__Profiles__Mapping *find_mapping(const struct pprof_profile *p, uint64_t id)
{
	int64_t i = pprof_mapping_index(p, id);
	assert_true(i >= 0);
	return pprof_message(p)->mapping[i];
}

static void dump_mapping(struct dump *d, const struct pprof_profile *p,
			 const Perftools__Profiles__Mapping *m)
{
	dprintf_(d, "map[%llx %llx %llx %s %s %d%d%d%d]", (unsigned long long)m->memory_start,
		 (unsigned long long)m->memory_limit, (unsigned long long)m->file_offset,
		 pprof_string(p, m->filename), pprof_string(p, m->build_id), m->has_functions,
		 m->has_filenames, m->has_line_numbers, m->has_inline_frames);
}

static void dump_function(struct dump *d, const struct pprof_profile *p,
			  const Perftools__Profiles__Function *f)
{
	dprintf_(d, "fn[%s %s %s %lld]", pprof_string(p, f->name), pprof_string(p, f->system_name),
		 pprof_string(p, f->filename), (long long)f->start_line);
}

static void dump_location(struct dump *d, const struct pprof_profile *p,
			  const Perftools__Profiles__Location *l)
{
	dprintf_(d, "loc[%llx f%d ", (unsigned long long)l->address, l->is_folded);
	if (l->mapping_id)
		dump_mapping(d, p, find_mapping(p, l->mapping_id));
	for (size_t k = 0; k < l->n_line; k++) {
		const Perftools__Profiles__Line *ln = l->line[k];
		dprintf_(d, " line[%lld:%lld ", (long long)ln->line, (long long)ln->column);
		if (ln->function_id) {
			int64_t fi = pprof_function_index(p, ln->function_id);
			assert_true(fi >= 0);
			dump_function(d, p, pprof_message(p)->function[fi]);
		}
		dprintf_(d, "]");
	}
	dprintf_(d, "]");
}

static void dump_label(struct dump *d, const struct pprof_profile *p,
		       const Perftools__Profiles__Label *l)
{
	dprintf_(d, " {%s=%s #%lld %s}", pprof_string(p, l->key), pprof_string(p, l->str),
		 (long long)l->num, pprof_string(p, l->num_unit));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted, deduplicated dumps of every location (or function) of p, joined. */
static void dump_set(struct dump *d, const struct pprof_profile *p, int functions)
{
	const pprof_msg *m = pprof_message(p);
	size_t n = functions ? m->n_function : m->n_location, i;
	char **v = pf_xcalloc(n + 1, sizeof(char *));

	for (i = 0; i < n; i++) {
		struct dump x = { PF_BUF_INIT(0) };
		if (functions)
			dump_function(&x, p, m->function[i]);
		else
			dump_location(&x, p, m->location[i]);
		pf_buf_putc(&x.b, 0);
		v[i] = (char *)pf_buf_steal(&x.b, NULL);
	}
	qsort(v, n, sizeof(char *), cmp_str);
	for (i = 0; i < n; i++)
		if (i == 0 || strcmp(v[i], v[i - 1]) != 0)
			dprintf_(d, "%s\n", v[i]);
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * Everything of a profile that SPEC 10.2 says must survive, independent of
 * ids and string table order: the header, the mapping list in order, every
 * sample in order (values, labels in order, stack by content), and the sets
 * of all locations and functions.
 */
static char *dump_profile(const struct pprof_profile *p)
{
	const pprof_msg *m = pprof_message(p);
	struct dump d = { PF_BUF_INIT(0) };
	size_t i, k;

	dprintf_(&d, "types:");
	for (i = 0; i < m->n_sample_type; i++)
		dprintf_(&d, " %s/%s", pprof_string(p, m->sample_type[i]->type),
			 pprof_string(p, m->sample_type[i]->unit));
	if (m->period_type)
		dprintf_(&d, "\nperiod type: %s/%s", pprof_string(p, m->period_type->type),
			 pprof_string(p, m->period_type->unit));
	else
		dprintf_(&d, "\nno period type");
	dprintf_(&d, "\nperiod %lld time %lld duration %lld drop %s keep %s default %s\ncomments:",
		 (long long)m->period, (long long)m->time_nanos, (long long)m->duration_nanos,
		 pprof_string(p, m->drop_frames), pprof_string(p, m->keep_frames),
		 pprof_string(p, m->default_sample_type));
	for (i = 0; i < m->n_comment; i++)
		dprintf_(&d, " [%s]", pprof_string(p, m->comment[i]));
	dprintf_(&d, "\nmappings:\n");
	for (i = 0; i < m->n_mapping; i++) {
		dump_mapping(&d, p, m->mapping[i]);
		dprintf_(&d, "\n");
	}
	/* each location's content, hashed once; a stack is the hashes in order */
	{
		uint64_t *lh = pf_xcalloc(m->n_location + 1, sizeof(uint64_t));
		for (i = 0; i < m->n_location; i++) {
			struct dump x = { PF_BUF_INIT(0) };
			dump_location(&x, p, m->location[i]);
			lh[i] = pf_hash64(x.b.data, x.b.len, 0);
			pf_buf_free(&x.b);
		}
		dprintf_(&d, "samples:\n");
		for (i = 0; i < m->n_sample; i++) {
			const Perftools__Profiles__Sample *s = m->sample[i];
			for (k = 0; k < s->n_value; k++)
				dprintf_(&d, "%lld ", (long long)s->value[k]);
			for (k = 0; k < s->n_label; k++)
				dump_label(&d, p, s->label[k]);
			dprintf_(&d, " @");
			for (k = 0; k < s->n_location_id; k++) {
				int64_t li = pprof_location_index(p, s->location_id[k]);
				assert_true(li >= 0);
				dprintf_(&d, " %016llx", (unsigned long long)lh[li]);
			}
			dprintf_(&d, "\n");
		}
		free(lh);
	}
	dprintf_(&d, "all locations:\n");
	dump_set(&d, p, 0);
	dprintf_(&d, "all functions:\n");
	dump_set(&d, p, 1);
	pf_buf_putc(&d.b, 0);
	return (char *)pf_buf_steal(&d.b, NULL);
}

static void assert_same_profile(const struct pprof_profile *a, const struct pprof_profile *b,
				const char *what)
{
	char *x = dump_profile(a), *y = dump_profile(b);
	if (strcmp(x, y) != 0) {
		size_t i = 0;
		while (x[i] && x[i] == y[i])
			i++;
		fprintf(stderr, "%s: differs at byte %zu:\n  want: %.300s\n  got:  %.300s\n", what, i,
			x + (i > 100 ? i - 100 : 0), y + (i > 100 ? i - 100 : 0));
		free(x);
		free(y);
		fail_msg("%s: profiles differ", what);
	}
	free(x);
	free(y);
}

/* Stored form: a serialized symtab and chunks. */
struct stored {
	struct pf_buf symtab, chunks;
	size_t off[64]; /* chunk boundaries */
	size_t nchunks;
};

static void stored_free(struct stored *s)
{
	pf_buf_free(&s->symtab);
	pf_buf_free(&s->chunks);
}

/* Encode profiles (NULL = the raw body) into chunks of per_chunk. */
static void encode(struct pprof_profile **p, const struct pf_buf *raw, size_t n, size_t per_chunk,
		   struct stored *s)
{
	struct tsdb__symtab *st = tsdb__symtab_new();
	struct tsdb__chunk_enc *e = tsdb__chunk_enc_new(st);
	struct pf_err err = { 0 };

	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < n; i++) {
		int rc = p[i] ? tsdb__chunk_enc_add_pprof(e, p[i], &err)
			      : tsdb__chunk_enc_add_raw(e, raw->data, raw->len, &err);
		if (rc != 0)
			fail_msg("add %zu: %s", i, err.msg);
		if (tsdb__chunk_enc_count(e) == per_chunk || i + 1 == n) {
			assert_int_equal(tsdb__chunk_enc_finish(e, &s->chunks, &err), 0);
			assert_int_equal(tsdb__chunk_enc_count(e), 0);
			s->off[++s->nchunks] = s->chunks.len;
		}
	}
	assert_int_equal(tsdb__symtab_write(st, &s->symtab, &err), 0);
	tsdb__chunk_enc_free(e);
	tsdb__symtab_free(st);
}

static struct tsdb__symtab *read_symtab(const struct stored *s)
{
	struct tsdb__symtab *st = NULL;
	struct pf_err err = { 0 };
	if (tsdb__symtab_read(s->symtab.data, s->symtab.len, &st, &err) != 0)
		fail_msg("symtab_read: %s", err.msg);
	return st;
}

static struct tsdb__chunk_dec *open_chunk(const struct stored *s, size_t c)
{
	struct tsdb__chunk_dec *d = NULL;
	struct pf_err err = { 0 };
	if (tsdb__chunk_dec_open(s->chunks.data + s->off[c], s->off[c + 1] - s->off[c], &d, &err) != 0)
		fail_msg("chunk_dec_open: %s", err.msg);
	return d;
}

static struct pprof_profile *dec(struct tsdb__chunk_dec *d, const struct tsdb__symtab *st, size_t i)
{
	struct pprof_profile *p = NULL;
	struct pf_err err = { 0 };
	if (tsdb__chunk_dec_pprof(d, st, i, &p, &err) != 0)
		fail_msg("chunk_dec_pprof %zu: %s", i, err.msg);
	return p;
}

/* ---- round trips of the fixtures ------------------------------------------ */

static void test_fixture_round_trip(void **state)
{
	char **files;
	size_t n = list_fixtures(&files);

	(void)state;
	assert_true(n >= 20);
	for (size_t i = 0; i < n; i++) {
		struct pprof_profile *p = fixture_pprof(files[i]), *q;
		struct tsdb__symtab *st;
		struct tsdb__chunk_dec *d;
		struct stored s;

		encode(&p, NULL, 1, 1, &s);
		st = read_symtab(&s);
		d = open_chunk(&s, 0);
		assert_int_equal(tsdb__chunk_dec_count(d), 1);
		assert_false(tsdb__chunk_dec_is_raw(d, 0));
		q = dec(d, st, 0);
		assert_same_profile(p, q, files[i]);
		/* and again: the decoder holds the profile */
		pprof_free(q);
		q = dec(d, st, 0);
		assert_same_profile(p, q, files[i]);
		pprof_free(q);
		tsdb__chunk_dec_free(d);
		tsdb__symtab_free(st);
		stored_free(&s);
		pprof_free(p);
	}
	free_list(files, n);
}

/* The execution trace is stored byte for byte, between pprof profiles. */
/*
 * The symbolized head's path: a body decoded by the streaming decoder
 * (tsdb__flat_decode) and interned with chunk_enc_add_flat leaves the
 * table and the chunk exactly as pprof_decode + chunk_enc_add_pprof do
 * (same bytes but the table's nonce and the CRC), and decodes to the same
 * profile. Every fixture, as one series (so the rows delta against the
 * previous profile), and the rich profiles (ids not 1..n, extra symbols)
 * re-encoded as bodies.
 */
static void flat_vs_pprof(const struct pf_buf *bodies, size_t n, const char *what)
{
	struct tsdb__symtab *sa = tsdb__symtab_new(), *sb = tsdb__symtab_new();
	struct tsdb__chunk_enc *ea = tsdb__chunk_enc_new(sa), *eb = tsdb__chunk_enc_new(sb);
	struct pf_buf ca = PF_BUF_INIT(0), cb = PF_BUF_INIT(0), ta = PF_BUF_INIT(0), tb = PF_BUF_INIT(0);
	struct pprof_profile **orig = pf_xcalloc(n + 1, sizeof(*orig));
	struct pf_err err = { 0 };
	struct tsdb__chunk_dec *d;
	struct tsdb__symtab *rt;

	for (size_t i = 0; i < n; i++) {
		struct tsdb__flat *f = tsdb__flat_new();
		int64_t ta_[64], tb_[64];
		if (pprof_decode(bodies[i].data, bodies[i].len, MAXDEC, &orig[i], &err) != 0)
			fail_msg("%s %zu: pprof_decode: %s", what, i, err.msg);
		if (tsdb__flat_decode(f, bodies[i].data, bodies[i].len, MAXDEC, &err) != 0)
			fail_msg("%s %zu: flat_decode: %s", what, i, err.msg);
		assert_int_equal(tsdb__chunk_enc_add_pprof(ea, orig[i], &err), 0);
		if (tsdb__chunk_enc_add_flat(eb, f, &err) != 0)
			fail_msg("%s %zu: add_flat: %s", what, i, err.msg);
		/* totals as pprof_totals */
		assert_int_equal(tsdb__flat_ntypes(f), pprof_message(orig[i])->n_sample_type);
		assert_true(tsdb__flat_ntypes(f) <= 64);
		pprof_totals(orig[i], ta_);
		tsdb__flat_totals(f, tb_);
		for (size_t j = 0; j < tsdb__flat_ntypes(f); j++) {
			const char *t, *u;
			size_t tl, ul;
			const Perftools__Profiles__ValueType *vt = pprof_message(orig[i])->sample_type[j];
			assert_true(ta_[j] == tb_[j]);
			tsdb__flat_type(f, j, &t, &tl, &u, &ul);
			assert_int_equal(tl, strlen(pprof_string(orig[i], vt->type)));
			assert_memory_equal(t, pprof_string(orig[i], vt->type), tl);
			assert_int_equal(ul, strlen(pprof_string(orig[i], vt->unit)));
		}
		tsdb__flat_free(f);
		if (i % 3 == 2)
			tsdb__chunk_enc_trim(eb); /* what the head does between adds */
	}
	/* the open chunk as the head reads it, then finished */
	assert_int_equal(tsdb__chunk_enc_peek(eb, &cb, &err), 0);
	assert_int_equal(tsdb__chunk_enc_count(eb), n);
	assert_int_equal(tsdb__chunk_dec_open(cb.data, cb.len, &d, &err), 0);
	assert_int_equal(tsdb__chunk_dec_count(d), n);
	for (size_t i = 0; i < n; i++) {
		struct pprof_profile *q = dec(d, sb, i);
		assert_same_profile(orig[i], q, what);
		pprof_free(q);
	}
	tsdb__chunk_dec_free(d);
	pf_buf_reset(&cb);
	assert_int_equal(tsdb__chunk_enc_finish(ea, &ca, &err), 0);
	assert_int_equal(tsdb__chunk_enc_finish(eb, &cb, &err), 0);
	assert_int_equal(ca.len, cb.len);
	assert_memory_equal(ca.data, cb.data, 8);                          /* magic, version */
	assert_memory_equal(ca.data + 16, cb.data + 16, ca.len - 16 - 4); /* all but nonce, CRC */
	assert_int_equal(tsdb__symtab_write(sa, &ta, &err), 0);
	assert_int_equal(tsdb__symtab_write(sb, &tb, &err), 0);
	assert_int_equal(ta.len, tb.len);
	/* and read back from the finished chunk with the table as stored */
	if (tsdb__symtab_read(tb.data, tb.len, &rt, &err) != 0)
		fail_msg("symtab_read: %s", err.msg);
	assert_int_equal(tsdb__chunk_dec_open(cb.data, cb.len, &d, &err), 0);
	for (size_t i = 0; i < n; i++) {
		struct pprof_profile *q = dec(d, rt, i);
		assert_same_profile(orig[i], q, what);
		pprof_free(q);
	}
	tsdb__chunk_dec_free(d);
	tsdb__symtab_free(rt);
	for (size_t i = 0; i < n; i++)
		pprof_free(orig[i]);
	free(orig);
	pf_buf_free(&ca);
	pf_buf_free(&cb);
	pf_buf_free(&ta);
	pf_buf_free(&tb);
	tsdb__chunk_enc_free(ea);
	tsdb__chunk_enc_free(eb);
	tsdb__symtab_free(sa);
	tsdb__symtab_free(sb);
}

static struct pprof_profile *rich_profile(int variant);

static void test_flat_same_as_pprof(void **state)
{
	char **files;
	size_t n = list_fixtures(&files);
	struct pf_buf *bodies = pf_xcalloc(n + 4, sizeof(*bodies));
	struct pf_err err = { 0 };

	(void)state;
	assert_true(n >= 20);
	/* under the sanitizers (PROFEFE_TEST_SUBSET, tests/run.sh) without
	 * heap-large-001 (test_fixture_round_trip still takes it through) */
	if (getenv("PROFEFE_TEST_SUBSET")) {
		size_t kept = 0;
		for (size_t i = 0; i < n; i++) {
			if (strstr(files[i], "heap-large-001")) {
				free(files[i]);
				continue;
			}
			files[kept++] = files[i];
		}
		n = kept;
	}
	for (size_t i = 0; i < n; i++) {
		pf_buf_init(&bodies[i], 0);
		fixture_read(files[i], &bodies[i]);
	}
	flat_vs_pprof(bodies, n, "fixtures");
	for (size_t i = 0; i < n; i++)
		flat_vs_pprof(&bodies[i], 1, files[i]);
	for (size_t i = 0; i < n; i++)
		pf_buf_free(&bodies[i]);
	for (int v = 0; v < 3; v++) {
		struct pprof_profile *p = rich_profile(v);
		pf_buf_init(&bodies[v], 0);
		assert_int_equal(pprof_encode(p, &bodies[v], &err), 0);
		pprof_free(p);
	}
	flat_vs_pprof(bodies, 3, "rich profiles");
	for (int v = 0; v < 3; v++)
		pf_buf_free(&bodies[v]);
	free(bodies);
	free_list(files, n);
}

static void test_raw_round_trip(void **state)
{
	struct pf_buf trace, out = PF_BUF_INIT(0);
	struct pprof_profile *in[4] = { NULL, NULL, NULL, NULL }, *q;
	struct tsdb__symtab *st;
	struct tsdb__chunk_dec *d;
	struct pf_err err = { 0 };
	struct stored s;

	(void)state;
	fixture_read(FIX "pprof/trace-001.out", &trace);
	in[0] = fixture_pprof(FIX "pprof/heap-001.pb.gz");
	in[2] = fixture_pprof(FIX "pprof/heap-002.pb.gz");
	encode(in, &trace, 4, 0, &s);
	st = read_symtab(&s);
	d = open_chunk(&s, 0);
	assert_int_equal(tsdb__chunk_dec_count(d), 4);
	assert_true(tsdb__chunk_dec_is_raw(d, 1));
	assert_true(tsdb__chunk_dec_is_raw(d, 3));
	assert_false(tsdb__chunk_dec_is_raw(d, 2));
	assert_false(tsdb__chunk_dec_is_raw(d, 4));
	for (size_t i = 1; i < 4; i += 2) {
		pf_buf_reset(&out);
		assert_int_equal(tsdb__chunk_dec_raw(d, i, &out, &err), 0);
		assert_int_equal(out.len, trace.len);
		assert_memory_equal(out.data, trace.data, trace.len);
	}
	/* the raw body in between does not break the deltas */
	q = dec(d, st, 2);
	assert_same_profile(in[2], q, "heap-002 after a raw body");
	pprof_free(q);
	/* kind mismatches and ranges */
	assert_int_equal(tsdb__chunk_dec_raw(d, 0, &out, &err), PF_EINVAL);
	assert_int_equal(tsdb__chunk_dec_raw(d, 4, &out, &err), PF_EINVAL);
	assert_int_equal(tsdb__chunk_dec_pprof(d, st, 1, &q, &err), PF_EINVAL);
	assert_null(q);
	assert_int_equal(tsdb__chunk_dec_pprof(d, st, 9, &q, &err), PF_EINVAL);
	/* a capped output buffer */
	{
		struct pf_buf small = PF_BUF_INIT(100);
		assert_int_equal(tsdb__chunk_dec_raw(d, 1, &small, &err), PF_ETOOBIG);
		pf_buf_free(&small);
	}
	tsdb__chunk_dec_free(d);
	tsdb__symtab_free(st);
	stored_free(&s);
	pprof_free(in[0]);
	pprof_free(in[2]);
	pf_buf_free(&trace);
	pf_buf_free(&out);
}

/* The ten heap snapshots as one series: one chunk, then chunks of 3; read
 * in order, backwards and at random. */
static void test_series(void **state)
{
	struct pprof_profile *in[10];
	size_t order[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 7, 3, 0, 8, 2, 2, 5 };

	(void)state;
	for (int i = 0; i < 10; i++) {
		char path[64];
		snprintf(path, sizeof(path), FIX "pprof/heap-0%02d.pb.gz", i + 1);
		in[i] = fixture_pprof(path);
	}
	for (size_t pi = 0; pi < 2; pi++) {
		size_t per = pi ? 3 : 10;
		struct stored s;
		struct tsdb__symtab *st;
		encode(in, NULL, 10, per, &s);
		st = read_symtab(&s);
		for (size_t c = 0; c < s.nchunks; c++) {
			struct tsdb__chunk_dec *d = open_chunk(&s, c);
			size_t first = c * per, cnt = tsdb__chunk_dec_count(d);
			assert_int_equal(cnt, PF_MIN(per, 10 - first));
			for (size_t k = 0; k < PF_ARRAY_LEN(order); k++) {
				struct pprof_profile *q;
				char what[64];
				if (order[k] >= cnt)
					continue;
				q = dec(d, st, order[k]);
				snprintf(what, sizeof(what), "series (chunks of %zu) profile %zu", per,
					 first + order[k]);
				assert_same_profile(in[first + order[k]], q, what);
				pprof_free(q);
			}
			tsdb__chunk_dec_free(d);
		}
		tsdb__symtab_free(st);
		stored_free(&s);
	}
	for (int i = 0; i < 10; i++)
		pprof_free(in[i]);
}

/*
 * Profiles with the same rows as the previous one of their series (a
 * program's next snapshot: the encoder's same-rows path, values only)
 * between ones that differ, two series on one table sharing one scratch,
 * the second finished early: every profile decodes as it was added. Added
 * as pprof profiles, then as bodies through the flat decoder (whose
 * digest then finds the same symbols and samples, values aside), and as
 * bodies read by their shape alone where the series allows (tsdb_append).
 */
static struct pprof_profile *with_values(const char *path, int64_t k)
{
	struct pprof_profile *p = fixture_pprof(path);
	const pprof_msg *m = pprof_message(p);
	for (size_t i = 0; i < m->n_sample; i++) {
		Perftools__Profiles__Sample *s = (Perftools__Profiles__Sample *)m->sample[i];
		for (size_t j = 0; j < s->n_value; j++)
			s->value[j] = k == 0 ? s->value[j] : i % 5 == 0 ? 0 : s->value[j] * k + (int64_t)(i * j);
	}
	return p;
}

/* p's body (into *body, kept until the flat profile is freed) read by its
 * shape (light), or decoded whole. */
static struct tsdb__flat *flat_of(const struct pprof_profile *p, int light, struct pf_buf *body)
{
	struct tsdb__flat *f = tsdb__flat_new();
	struct pprof_limits lim = {.max_decompressed = MAXDEC};
	struct pf_err err = {0};
	int rc;

	pf_buf_reset(body);
	assert_int_equal(pprof_encode(p, body, &err), 0);
	rc = light ? tsdb__flat_decode_shape(f, body->data, body->len, &lim, &err)
		   : tsdb__flat_decode(f, body->data, body->len, MAXDEC, &err);
	if (rc != 0)
		fail_msg("decode: %s", err.msg);
	assert_int_equal(tsdb__flat_is_light(f), light);
	return f;
}

static void same_rows(int flat)
{
	const char *h1 = FIX "pprof/heap-001.pb.gz", *h2 = FIX "pprof/heap-002.pb.gz",
		   *h3 = FIX "pprof/heap-003.pb.gz";
	/* series of each add, fixture, value factor */
	const struct { int series; const char *path; int64_t k; } adds[] = {
		{ 0, h1, 0 }, { 0, h1, 3 }, { 1, h3, 0 }, { 0, h1, 3 }, { 1, h3, 2 }, { 0, h1, 0 },
		{ 0, h2, 0 }, { 1, h1, 0 }, { 0, h1, 5 }, { 0, h1, 7 }, { 1, h1, 0 }, { 0, h1, 7 },
	};
	enum { N = PF_ARRAY_LEN(adds) };
	struct tsdb__symtab *st = tsdb__symtab_new(), *rt;
	struct tsdb__chunk_scratch *sc = tsdb__chunk_scratch_new();
	struct tsdb__chunk_enc *e[2] = { tsdb__chunk_enc_new_shared(st, sc),
					 tsdb__chunk_enc_new_shared(st, sc) };
	struct pprof_profile *in[N];
	struct pf_buf chunk[2][2] = { { PF_BUF_INIT(0), PF_BUF_INIT(0) }, { PF_BUF_INIT(0), PF_BUF_INIT(0) } };
	size_t first[2][2] = { { 0 } }, nchunk[2] = { 0, 0 }, pos[N], cnt[2] = { 0, 0 };
	struct pf_buf tb = PF_BUF_INIT(0);
	struct pf_err err = { 0 };
	size_t nlight = 0;

	for (size_t i = 0; i < N; i++) {
		int s = adds[i].series, rc;
		in[i] = with_values(adds[i].path, adds[i].k);
		if (flat) {
			struct pf_buf body = PF_BUF_INIT(0);
			/* flat == 2: by its shape when the series' previous
			 * profile had it, as tsdb_append does; else decoded whole
			 * (pprof_encode's bodies are read by their shape) */
			struct tsdb__flat *f = flat_of(in[i], flat == 2, &body);
			if (flat == 2) {
				if (tsdb__chunk_enc_takes(e[s], f)) {
					nlight++;
				} else {
					/* a light profile the chunk does not take is
					 * refused with nothing changed (the race
					 * tsdb_append then settles by a whole decode) */
					size_t n0 = tsdb__chunk_enc_count(e[s]);
					assert_int_equal(tsdb__chunk_enc_add_flat(e[s], f, &err), PF_EMISMATCH);
					assert_int_equal(tsdb__chunk_enc_count(e[s]), n0);
					if (tsdb__flat_complete(f, &err) != 0)
						fail_msg("flat_complete %zu: %s", i, err.msg);
				}
			}
			rc = tsdb__chunk_enc_add_flat(e[s], f, &err);
			tsdb__flat_free(f);
			pf_buf_free(&body);
		} else {
			rc = tsdb__chunk_enc_add_pprof(e[s], in[i], &err);
		}
		if (rc != 0)
			fail_msg("add %zu: %s", i, err.msg);
		pos[i] = cnt[s]++;
		if (s == 1 && i == 4) { /* series 1's first chunk ends here */
			assert_int_equal(tsdb__chunk_enc_finish(e[1], &chunk[1][0], &err), 0);
			first[1][1] = cnt[1];
			nchunk[1] = 1;
		}
	}
	for (int s = 0; s < 2; s++)
		assert_int_equal(tsdb__chunk_enc_finish(e[s], &chunk[s][nchunk[s]++], &err), 0);
	/* adds 1, 3, 4, 5, 9, 10 and 11 follow a profile of their series with
	 * the same fixture (other values): read by their shape alone */
	if (flat == 2)
		assert_int_equal(nlight, 7);
	assert_int_equal(tsdb__symtab_write(st, &tb, &err), 0);
	if (tsdb__symtab_read(tb.data, tb.len, &rt, &err) != 0)
		fail_msg("symtab_read: %s", err.msg);
	for (size_t i = 0; i < N; i++) {
		int s = adds[i].series;
		size_t c = nchunk[s] > 1 && pos[i] >= first[s][1] ? 1 : 0;
		struct tsdb__chunk_dec *d;
		struct pprof_profile *q;
		char what[64];
		assert_int_equal(tsdb__chunk_dec_open(chunk[s][c].data, chunk[s][c].len, &d, &err), 0);
		q = dec(d, rt, pos[i] - first[s][c]);
		snprintf(what, sizeof(what), "same rows (%s): add %zu",
			 flat == 2 ? "shape" : flat ? "flat" : "pprof", i);
		assert_same_profile(in[i], q, what);
		pprof_free(q);
		tsdb__chunk_dec_free(d);
	}
	for (size_t i = 0; i < N; i++)
		pprof_free(in[i]);
	for (int s = 0; s < 2; s++) {
		pf_buf_free(&chunk[s][0]);
		pf_buf_free(&chunk[s][1]);
		tsdb__chunk_enc_free(e[s]);
	}
	tsdb__chunk_scratch_free(sc);
	tsdb__symtab_free(rt);
	tsdb__symtab_free(st);
	pf_buf_free(&tb);
}

static void test_same_rows(void **state)
{
	(void)state;
	same_rows(0);
	same_rows(1);
	same_rows(2);
}

/* ---- hand-built profiles ---------------------------------------------------- */

/* A profile message built in an arena. */
struct bld {
	struct pf_arena *a;
	pprof_msg *m;
	size_t scap, mcap, fcap, lcap, smpcap;
};

static int64_t bs(struct bld *b, const char *s)
{
	for (size_t i = 0; i < b->m->n_string_table; i++)
		if (strcmp(b->m->string_table[i], s) == 0)
			return (int64_t)i;
	if (b->m->n_string_table == b->scap) {
		char **v = pf_arena_alloc(b->a, (b->scap * 2 + 8) * sizeof(char *));
		if (b->m->n_string_table)
			memcpy(v, b->m->string_table, b->m->n_string_table * sizeof(char *));
		b->m->string_table = v;
		b->scap = b->scap * 2 + 8;
	}
	b->m->string_table[b->m->n_string_table] = pf_arena_strndup(b->a, s, strlen(s));
	return (int64_t)b->m->n_string_table++;
}

/* Grow an arena pointer array (protobuf-c repeated field). */
static void **grow(struct bld *b, void **v, size_t n, size_t *cap)
{
	void **nv;
	if (n < *cap)
		return v;
	nv = pf_arena_alloc(b->a, (*cap * 2 + 8) * sizeof(void *));
	if (n)
		memcpy(nv, v, n * sizeof(void *));
	*cap = *cap * 2 + 8;
	return nv;
}

static void bld_init(struct bld *b, size_t ntypes)
{
	static const char *const tn[] = { "alloc_objects", "alloc_space", "inuse_objects", "inuse_space" };
	static const char *const un[] = { "count", "bytes", "count", "bytes" };
	memset(b, 0, sizeof(*b));
	b->a = pf_arena_new();
	b->m = pf_arena_alloc(b->a, sizeof(*b->m));
	perftools__profiles__profile__init(b->m);
	bs(b, "");
	b->m->sample_type = pf_arena_alloc(b->a, 4 * sizeof(void *));
	for (size_t i = 0; i < ntypes; i++) {
		Perftools__Profiles__ValueType *vt = pf_arena_alloc(b->a, sizeof(*vt));
		perftools__profiles__value_type__init(vt);
		vt->type = bs(b, tn[i]);
		vt->unit = bs(b, un[i]);
		b->m->sample_type[i] = vt;
	}
	b->m->n_sample_type = ntypes;
}

static uint64_t add_mapping(struct bld *b, uint64_t start, const char *file, const char *build)
{
	Perftools__Profiles__Mapping *mp = pf_arena_alloc(b->a, sizeof(*mp));
	perftools__profiles__mapping__init(mp);
	mp->id = 100 + b->m->n_mapping; /* sparse ids */
	mp->memory_start = start;
	mp->memory_limit = start + 0x100000;
	mp->file_offset = 0x1000;
	mp->filename = bs(b, file);
	mp->build_id = bs(b, build);
	mp->has_functions = 1;
	mp->has_line_numbers = b->m->n_mapping & 1;
	mp->has_inline_frames = 1;
	b->m->mapping = (void *)grow(b, (void **)b->m->mapping, b->m->n_mapping, &b->mcap);
	b->m->mapping[b->m->n_mapping++] = mp;
	return mp->id;
}

static uint64_t add_function(struct bld *b, const char *name, const char *sys, const char *file,
			     int64_t start)
{
	Perftools__Profiles__Function *f = pf_arena_alloc(b->a, sizeof(*f));
	perftools__profiles__function__init(f);
	f->id = 7 * (b->m->n_function + 1);
	f->name = bs(b, name);
	f->system_name = bs(b, sys);
	f->filename = bs(b, file);
	f->start_line = start;
	b->m->function = (void *)grow(b, (void **)b->m->function, b->m->n_function, &b->fcap);
	b->m->function[b->m->n_function++] = f;
	return f->id;
}

/* A location with n lines (function id, line) pairs in fl. */
static uint64_t add_location(struct bld *b, uint64_t mapping, uint64_t addr, int folded,
			     const uint64_t *fl, size_t n)
{
	Perftools__Profiles__Location *l = pf_arena_alloc(b->a, sizeof(*l));
	perftools__profiles__location__init(l);
	l->id = 1000 - b->m->n_location; /* descending ids */
	l->mapping_id = mapping;
	l->address = addr;
	l->is_folded = folded;
	if (n) {
		l->line = pf_arena_alloc(b->a, n * sizeof(void *));
		for (size_t i = 0; i < n; i++) {
			Perftools__Profiles__Line *ln = pf_arena_alloc(b->a, sizeof(*ln));
			perftools__profiles__line__init(ln);
			ln->function_id = fl[2 * i];
			ln->line = (int64_t)fl[2 * i + 1];
			ln->column = (int64_t)i * 3;
			l->line[i] = ln;
		}
		l->n_line = n;
	}
	b->m->location = (void *)grow(b, (void **)b->m->location, b->m->n_location, &b->lcap);
	b->m->location[b->m->n_location++] = l;
	return l->id;
}

/* A sample; labels as "key=str", "key#num" or "key#num:unit". */
static void add_sample(struct bld *b, const uint64_t *locs, size_t nloc, const int64_t *vals,
		       const char *const *labels, size_t nlab)
{
	Perftools__Profiles__Sample *s = pf_arena_alloc(b->a, sizeof(*s));
	perftools__profiles__sample__init(s);
	if (nloc) {
		s->location_id = pf_arena_alloc(b->a, nloc * sizeof(uint64_t));
		memcpy(s->location_id, locs, nloc * sizeof(uint64_t));
		s->n_location_id = nloc;
	}
	s->n_value = b->m->n_sample_type;
	s->value = pf_arena_alloc(b->a, (s->n_value + 1) * sizeof(int64_t));
	memcpy(s->value, vals, s->n_value * sizeof(int64_t));
	if (nlab) {
		s->label = pf_arena_alloc(b->a, nlab * sizeof(void *));
		for (size_t i = 0; i < nlab; i++) {
			Perftools__Profiles__Label *l = pf_arena_alloc(b->a, sizeof(*l));
			char key[64], *sep, *unit;
			perftools__profiles__label__init(l);
			snprintf(key, sizeof(key), "%s", labels[i]);
			sep = strpbrk(key, "=#");
			assert_non_null(sep);
			if (*sep == '=') {
				*sep = 0;
				l->str = bs(b, sep + 1);
			} else {
				*sep = 0;
				if ((unit = strchr(sep + 1, ':')) != NULL) {
					*unit = 0;
					l->num_unit = bs(b, unit + 1);
				}
				l->num = strtoll(sep + 1, NULL, 10);
			}
			l->key = bs(b, key);
			s->label[i] = l;
		}
		s->n_label = nlab;
	}
	b->m->sample = (void *)grow(b, (void **)b->m->sample, b->m->n_sample, &b->smpcap);
	b->m->sample[b->m->n_sample++] = s;
}

static struct pprof_profile *bld_done(struct bld *b)
{
	struct pprof_profile *p = NULL;
	struct pf_err err = { 0 };
	if (pprof_from_message(b->a, b->m, &p, &err) != 0)
		fail_msg("pprof_from_message: %s", err.msg);
	return p;
}

/*
 * A profile with everything: three mappings (one unreferenced), inlined
 * frames, a folded location, a location without mapping and one without
 * lines, unreferenced locations and functions, an empty stack, duplicate
 * samples, string and numeric labels with units and in odd orders, every
 * header field. variant changes values and adds a sample.
 */
static struct pprof_profile *rich_profile(int variant)
{
	struct bld b;
	uint64_t m1, m2, f[5], l[8];
	Perftools__Profiles__ValueType *pt;

	bld_init(&b, 2);
	m1 = add_mapping(&b, 0x400000, "/app/main", "abc123");
	m2 = add_mapping(&b, 0x7f0000000000, "/lib/libc.so.6", "");
	add_mapping(&b, 0x7fff0000, "[vdso]", ""); /* nothing refers to it */
	f[0] = add_function(&b, "main.main", "main.main", "main.go", 10);
	f[1] = add_function(&b, "main.work", "main.work·1", "work.go", 20);
	f[2] = add_function(&b, "runtime.mallocgc", "runtime.mallocgc", "malloc.go", 900);
	f[3] = add_function(&b, "inlined.helper", "inlined.helper", "helper.go", -1);
	f[4] = add_function(&b, "unused.fn", "unused.fn", "unused.go", 5); /* unreferenced */
	(void)f[4];
	{
		uint64_t a[] = { f[0], 12 };
		uint64_t w[] = { f[3], 3, f[1], 25 }; /* inlined: helper into work */
		uint64_t r[] = { f[2], 950 };
		uint64_t u[] = { f[4], 6 };
		l[0] = add_location(&b, m1, 0x401000, 0, a, 1);
		l[1] = add_location(&b, m1, 0x402000, 1, w, 2);
		l[2] = add_location(&b, m2, 0x7f0000001000, 0, r, 1);
		l[3] = add_location(&b, 0, 0x1234, 0, NULL, 0);      /* no mapping, no lines */
		l[4] = add_location(&b, m1, 0x409000, 0, u, 1);      /* unreferenced */
		l[5] = add_location(&b, m1, 0x401000, 0, a, 1);      /* duplicate of l[0] */
		(void)l[4];
	}
	{
		uint64_t s1[] = { l[2], l[1], l[0] }, s2[] = { l[1], l[0] }, s3[] = { l[3], l[5] };
		int64_t v1[] = { 1, 100 + variant }, v2[] = { 2, 200 }, v0[] = { 0, 0 };
		const char *la[] = { "bytes#64:bytes", "worker=search", "n#-5" };
		const char *lb[] = { "worker=search", "bytes#64:bytes" };
		const char *lc[] = { "k=v", "k=w", "t#7:seconds" };
		add_sample(&b, s1, 3, v1, la, 3);
		add_sample(&b, s2, 2, v2, lb, 2);
		add_sample(&b, s1, 3, v1, la, 3); /* duplicate */
		add_sample(&b, NULL, 0, v2, NULL, 0); /* empty stack */
		add_sample(&b, s3, 2, v0, lc, 3);     /* all zero */
		add_sample(&b, NULL, 0, v1, lc, 3);   /* empty stack, labels */
		if (variant) {
			int64_t v3[] = { 3, 300 * variant };
			add_sample(&b, s2, 2, v3, lc, 3);
			add_sample(&b, s1, 3, v3, NULL, 0);
		}
	}
	pt = pf_arena_alloc(b.a, sizeof(*pt));
	perftools__profiles__value_type__init(pt);
	pt->type = bs(&b, "space");
	pt->unit = bs(&b, "bytes");
	b.m->period_type = pt;
	b.m->period = 524288 + variant;
	b.m->time_nanos = 1700000000000000000LL + variant * 1000000000LL;
	b.m->duration_nanos = 10 + variant;
	b.m->drop_frames = bs(&b, "runtime\\..*");
	b.m->keep_frames = bs(&b, "main\\..*");
	b.m->default_sample_type = bs(&b, "alloc_space");
	b.m->comment = pf_arena_alloc(b.a, 3 * sizeof(int64_t));
	b.m->comment[0] = bs(&b, "first comment");
	b.m->comment[1] = bs(&b, variant ? "variant comment" : "second");
	b.m->comment[2] = bs(&b, "first comment"); /* repeated */
	b.m->n_comment = 3;
	bs(&b, "an unused string");
	return bld_done(&b);
}

/*
 * A chunk's first profile from the seed of the series' previous chunk (the
 * head's next chunk, tsdb__chunk_enc_add_seeded): a body read by its shape
 * alone, coded from the seed's header ids and rows, gives the same chunk
 * bytes as the same bodies decoded whole and interned, and decodes as
 * added; a body of another shape, or an encoder that has a profile, is
 * PF_EMISMATCH with nothing changed.
 */
static void test_seeded_chunk(void **state)
{
	const char *h1 = FIX "pprof/heap-001.pb.gz", *h3 = FIX "pprof/heap-003.pb.gz";
	struct tsdb__symtab *st = tsdb__symtab_new(), *rt;
	struct tsdb__chunk_scratch *sc = tsdb__chunk_scratch_new();
	struct tsdb__chunk_enc *a = tsdb__chunk_enc_new_shared(st, sc),
			       *b = tsdb__chunk_enc_new_shared(st, sc),
			       *c = tsdb__chunk_enc_new_shared(st, sc);
	struct pprof_profile *in[4] = {with_values(h1, 0), with_values(h1, 3), with_values(h1, 5),
				       with_values(h1, 7)};
	struct pprof_profile *other = with_values(h3, 0);
	struct pf_buf ca = PF_BUF_INIT(0), cb = PF_BUF_INIT(0), cc = PF_BUF_INIT(0), tb = PF_BUF_INIT(0),
		      body = PF_BUF_INIT(0);
	struct tsdb__chunk_seed *seed;
	struct tsdb__chunk_dec *d;
	struct tsdb__flat *f;
	struct pf_err err = {0};
	(void)state;

	assert_null(tsdb__chunk_enc_seed(a)); /* nothing added yet */
	/* the previous chunk: a whole profile, then one of its shape */
	f = flat_of(in[0], 0, &body);
	assert_int_equal(tsdb__chunk_enc_add_flat(a, f, &err), 0);
	tsdb__flat_free(f);
	f = flat_of(in[1], 1, &body);
	assert_true(tsdb__chunk_enc_takes(a, f));
	assert_int_equal(tsdb__chunk_enc_add_flat(a, f, &err), 0);
	tsdb__flat_free(f);
	seed = tsdb__chunk_enc_seed(a);
	assert_non_null(seed);
	assert_int_equal(tsdb__chunk_enc_finish(a, &ca, &err), 0);

	/* another shape: not taken, nothing added */
	f = flat_of(other, 1, &body);
	assert_false(tsdb__chunk_seed_takes(seed, f));
	assert_int_equal(tsdb__chunk_enc_add_seeded(b, seed, f, &err), PF_EMISMATCH);
	assert_int_equal(tsdb__chunk_enc_count(b), 0);
	tsdb__flat_free(f);
	/* the next chunk from the seed, its second profile taken as usual */
	f = flat_of(in[2], 1, &body);
	assert_true(tsdb__chunk_seed_takes(seed, f));
	assert_false(tsdb__chunk_enc_takes(b, f)); /* an empty encoder has no digest */
	assert_int_equal(tsdb__chunk_enc_add_seeded(b, seed, f, &err), 0);
	assert_int_equal(tsdb__chunk_enc_add_seeded(b, seed, f, &err), PF_EMISMATCH); /* not empty */
	assert_int_equal(tsdb__chunk_enc_count(b), 1);
	tsdb__flat_free(f);
	f = flat_of(in[3], 1, &body);
	assert_true(tsdb__chunk_enc_takes(b, f));
	assert_int_equal(tsdb__chunk_enc_add_flat(b, f, &err), 0);
	tsdb__flat_free(f);
	assert_int_equal(tsdb__chunk_enc_finish(b, &cb, &err), 0);
	/* the same two bodies decoded whole and interned */
	for (int i = 2; i < 4; i++) {
		f = flat_of(in[i], 0, &body);
		assert_int_equal(tsdb__chunk_enc_add_flat(c, f, &err), 0);
		tsdb__flat_free(f);
	}
	assert_int_equal(tsdb__chunk_enc_finish(c, &cc, &err), 0);
	assert_int_equal(cb.len, cc.len);
	assert_memory_equal(cb.data, cc.data, cb.len);

	assert_int_equal(tsdb__symtab_write(st, &tb, &err), 0);
	if (tsdb__symtab_read(tb.data, tb.len, &rt, &err) != 0)
		fail_msg("symtab_read: %s", err.msg);
	assert_int_equal(tsdb__chunk_dec_open(cb.data, cb.len, &d, &err), 0);
	for (size_t i = 0; i < 2; i++) {
		struct pprof_profile *q = dec(d, rt, i);
		assert_same_profile(in[2 + i], q, "seeded chunk");
		pprof_free(q);
	}
	tsdb__chunk_dec_free(d);

	tsdb__chunk_seed_free(seed);
	for (int i = 0; i < 4; i++)
		pprof_free(in[i]);
	pprof_free(other);
	tsdb__chunk_enc_free(a);
	tsdb__chunk_enc_free(b);
	tsdb__chunk_enc_free(c);
	tsdb__chunk_scratch_free(sc);
	tsdb__symtab_free(rt);
	tsdb__symtab_free(st);
	pf_buf_free(&ca);
	pf_buf_free(&cb);
	pf_buf_free(&cc);
	pf_buf_free(&tb);
	pf_buf_free(&body);
}

static void test_rich_profile(void **state)
{
	struct pprof_profile *in[4], *q;
	struct tsdb__symtab *st;
	struct stored s;
	const pprof_msg *m;

	(void)state;
	in[0] = rich_profile(0);
	in[1] = rich_profile(1);
	in[2] = rich_profile(2);
	in[3] = rich_profile(0);
	{
		/* the comparison sees a difference of one value */
		char *x = dump_profile(in[0]), *y = dump_profile(in[3]);
		assert_string_equal(x, y);
		free(y);
		pprof_message(in[3])->sample[0]->value[1]++;
		y = dump_profile(in[3]);
		assert_string_not_equal(x, y);
		pprof_message(in[3])->sample[0]->value[1]--;
		free(x);
		free(y);
	}
	encode(in, NULL, 4, 0, &s);
	st = read_symtab(&s);
	{
		struct tsdb__chunk_dec *d = open_chunk(&s, 0);
		for (int i = 3; i >= 0; i--) {
			q = dec(d, st, (size_t)i);
			assert_same_profile(in[i], q, "rich profile");
			m = pprof_message(q);
			/* renumbered 1..n, the profile's mapping order kept */
			assert_int_equal(m->n_mapping, 3);
			assert_string_equal(pprof_string(q, m->mapping[0]->filename), "/app/main");
			assert_string_equal(pprof_string(q, m->mapping[2]->filename), "[vdso]");
			assert_int_equal(m->mapping[1]->id, 2);
			/* the duplicate location became one; the unused one is kept */
			assert_int_equal(m->n_location, 5);
			assert_int_equal(m->location[0]->id, 1);
			assert_int_equal(m->n_function, 5);
			assert_int_equal(m->n_sample, i == 0 || i == 3 ? 6 : 8);
			assert_int_equal(m->sample[3]->n_location_id, 0);
			assert_int_equal(m->sample[4]->value[0], 0);
			assert_int_equal(m->sample[0]->label[0]->num, 64);
			assert_string_equal(pprof_string(q, m->sample[0]->label[0]->num_unit), "bytes");
			assert_int_equal(m->location[1]->n_line, 2);
			pprof_free(q);
		}
		tsdb__chunk_dec_free(d);
	}
	tsdb__symtab_free(st);
	stored_free(&s);
	for (int i = 0; i < 4; i++)
		pprof_free(in[i]);
}

/* A profile without period type, samples, mappings or sample types. */
static void test_minimal_profiles(void **state)
{
	struct pprof_profile *in[3], *q;
	struct tsdb__symtab *st;
	struct stored s;
	struct bld b;

	(void)state;
	bld_init(&b, 0);
	in[0] = bld_done(&b);
	bld_init(&b, 1);
	{
		int64_t v = 5;
		add_sample(&b, NULL, 0, &v, NULL, 0);
		add_sample(&b, NULL, 0, &v, NULL, 0);
	}
	in[1] = bld_done(&b);
	bld_init(&b, 3);
	b.m->time_nanos = -5; /* negative times survive the time deltas */
	in[2] = bld_done(&b);
	encode(in, NULL, 3, 0, &s);
	st = read_symtab(&s);
	{
		struct tsdb__chunk_dec *d = open_chunk(&s, 0);
		for (size_t i = 0; i < 3; i++) {
			q = dec(d, st, i);
			assert_same_profile(in[i], q, "minimal profile");
			pprof_free(q);
		}
		q = dec(d, st, 1);
		assert_null(pprof_message(q)->period_type);
		assert_int_equal(pprof_sample_count(q), 2);
		pprof_free(q);
		tsdb__chunk_dec_free(d);
	}
	tsdb__symtab_free(st);
	stored_free(&s);
	for (int i = 0; i < 3; i++)
		pprof_free(in[i]);

	/* a chunk of nothing */
	{
		struct tsdb__symtab *t = tsdb__symtab_new();
		struct tsdb__chunk_enc *e = tsdb__chunk_enc_new(t);
		struct tsdb__chunk_dec *d = NULL;
		struct pf_buf out = PF_BUF_INIT(0);
		struct pf_err err = { 0 };
		assert_int_equal(tsdb__chunk_enc_finish(e, &out, &err), 0);
		assert_int_equal(tsdb__chunk_dec_open(out.data, out.len, &d, &err), 0);
		assert_int_equal(tsdb__chunk_dec_count(d), 0);
		assert_int_equal(tsdb__chunk_dec_nonce(d), tsdb__chunk_dec_nonce(d));
		tsdb__chunk_dec_free(d);
		tsdb__chunk_enc_free(e);
		tsdb__symtab_free(t);
		pf_buf_free(&out);
		tsdb__chunk_enc_free(NULL);
		tsdb__chunk_dec_free(NULL);
		tsdb__symtab_free(NULL);
		tsdb__merger_free(NULL);
	}
}

/* pprof_from_message validates like pprof_decode and owns the arena. */
static void test_from_message(void **state)
{
	struct bld b;
	struct pprof_profile *p = (void *)1;
	struct pf_err err = { 0 };
	uint64_t bad = 42;
	int64_t v[2] = { 1, 2 };

	(void)state;
	bld_init(&b, 2);
	add_sample(&b, &bad, 1, v, NULL, 0);
	assert_int_equal(pprof_from_message(b.a, b.m, &p, &err), PF_EINVAL);
	assert_null(p);
	assert_string_equal(err.msg, "sample 0 refers to location 42, which does not exist");
	bld_init(&b, 1);
	b.m->n_string_table = 0;
	assert_int_equal(pprof_from_message(b.a, b.m, &p, &err), PF_EINVAL);
	p = rich_profile(0);
	assert_int_equal(pprof_mapping_index(p, 101), 1);
	assert_int_equal(pprof_mapping_index(p, 1), -1);
	assert_int_equal(pprof_location_index(p, 999), 1);
	assert_int_equal(pprof_function_index(p, 14), 1);
	assert_int_equal(pprof_function_index(p, 0), -1);
	pprof_free(p);
}

/*
 * Compaction: profiles decoded from one table's chunk are encoded again
 * into a new table, mixed with fresh ones, in either order.
 */
static void test_reencode(void **state)
{
	struct pprof_profile *fresh[3], *decoded[3];
	struct stored s;
	struct tsdb__symtab *st;
	struct tsdb__chunk_dec *d;

	(void)state;
	fresh[0] = fixture_pprof(FIX "pprof/heap-001.pb.gz");
	fresh[1] = fixture_pprof(FIX "pprof/heap-002.pb.gz");
	fresh[2] = rich_profile(1);
	encode(fresh, NULL, 3, 0, &s);
	st = read_symtab(&s);
	d = open_chunk(&s, 0);
	for (size_t i = 0; i < 3; i++)
		decoded[i] = dec(d, st, i);
	tsdb__chunk_dec_free(d);
	tsdb__symtab_free(st);
	stored_free(&s);
	for (int order = 0; order < 2; order++) {
		struct pprof_profile *mix[4];
		mix[0] = order ? fresh[1] : decoded[0];
		mix[1] = order ? decoded[0] : fresh[1];
		mix[2] = decoded[2];
		mix[3] = decoded[1];
		encode(mix, NULL, 4, 0, &s);
		st = read_symtab(&s);
		d = open_chunk(&s, 0);
		for (size_t i = 0; i < 4; i++) {
			struct pprof_profile *q = dec(d, st, i);
			assert_same_profile(mix[i], q, "re-encoded");
			pprof_free(q);
		}
		tsdb__chunk_dec_free(d);
		tsdb__symtab_free(st);
		stored_free(&s);
	}
	for (int i = 0; i < 3; i++) {
		assert_same_profile(fresh[i], decoded[i], "decoded");
		pprof_free(fresh[i]);
		pprof_free(decoded[i]);
	}
}

/*
 * Limits: a profile whose samples hold more location ids than a decoder
 * would rebuild is refused when encoding (what is written can be read).
 * Samples with the same stack share their location ids when decoded.
 */
static void test_limits(void **state)
{
	struct bld b;
	struct pprof_profile *p, *q;
	struct tsdb__symtab *st = tsdb__symtab_new();
	struct tsdb__chunk_enc *e = tsdb__chunk_enc_new(st);
	struct pf_err err = { 0 };
	uint64_t f, l, *ids;
	size_t n = 11600, i; /* 1 + 2 + ... + n > 2^26 */
	int64_t v = 1;

	(void)state;
	bld_init(&b, 1);
	f = add_function(&b, "rec", "rec", "rec.go", 1);
	{
		uint64_t fl[2] = { f, 2 };
		l = add_location(&b, 0, 0x10, 0, fl, 1);
	}
	ids = pf_arena_alloc(b.a, n * sizeof(uint64_t));
	for (i = 0; i < n; i++)
		ids[i] = l;
	b.m->sample = pf_arena_alloc(b.a, n * sizeof(void *));
	for (i = 0; i < n; i++) {
		Perftools__Profiles__Sample *s = pf_arena_alloc(b.a, sizeof(*s));
		perftools__profiles__sample__init(s);
		s->location_id = ids; /* recursion, i + 1 deep */
		s->n_location_id = i + 1;
		s->value = &v;
		s->n_value = 1;
		b.m->sample[i] = s;
	}
	b.m->n_sample = n;
	p = bld_done(&b);
	assert_int_equal(tsdb__chunk_enc_add_pprof(e, p, &err), PF_ETOOBIG);
	assert_non_null(strstr(err.msg, "over the limits"));
	assert_int_equal(tsdb__chunk_enc_count(e), 0);
	pprof_free(p);

	/* 800 samples of one 800-deep stack: one array of ids */
	bld_init(&b, 1);
	f = add_function(&b, "rec", "rec", "rec.go", 1);
	{
		uint64_t fl[2] = { f, 2 };
		l = add_location(&b, 0, 0x10, 0, fl, 1);
	}
	n = 800;
	ids = pf_arena_alloc(b.a, n * sizeof(uint64_t));
	for (i = 0; i < n; i++)
		ids[i] = l;
	for (i = 0; i < n; i++)
		add_sample(&b, ids, n, &v, NULL, 0);
	p = bld_done(&b);
	{
		struct pf_buf chunk = PF_BUF_INIT(0);
		struct tsdb__chunk_dec *d = NULL;
		const pprof_msg *m;
		assert_int_equal(tsdb__chunk_enc_add_pprof(e, p, &err), 0);
		assert_int_equal(tsdb__chunk_enc_finish(e, &chunk, &err), 0);
		assert_int_equal(tsdb__chunk_dec_open(chunk.data, chunk.len, &d, &err), 0);
		q = dec(d, st, 0);
		m = pprof_message(q);
		assert_int_equal(m->n_sample, n);
		assert_int_equal(m->sample[n - 1]->n_location_id, n);
		assert_ptr_equal(m->sample[0]->location_id, m->sample[n - 1]->location_id);
		assert_same_profile(p, q, "one deep stack");
		pprof_free(q);
		tsdb__chunk_dec_free(d);
		pf_buf_free(&chunk);
	}
	pprof_free(p);
	tsdb__chunk_enc_free(e);
	tsdb__symtab_free(st);
}

/*
 * Compaction without protobuf: chunks of one table transcoded into one
 * chunk of another table (which already holds other symbols), raw bodies
 * included; every profile equal to its original, merges equal too.
 */
static void test_transcode(void **state)
{
	struct pprof_profile *in[14];
	struct pf_buf trace, chunk = PF_BUF_INIT(0), sym = PF_BUF_INIT(0);
	struct tsdb__symtab *a, *b = tsdb__symtab_new(), *b2 = NULL;
	struct tsdb__chunk_enc *e = tsdb__chunk_enc_new(b);
	struct tsdb__transcoder *tc;
	struct tsdb__chunk_dec *d = NULL;
	struct pf_err err = { 0 };
	struct stored s;
	size_t n = 0, k;

	(void)state;
	fixture_read(FIX "pprof/trace-001.out", &trace);
	for (int i = 0; i < 10; i++) {
		char path[64];
		snprintf(path, sizeof(path), FIX "pprof/heap-0%02d.pb.gz", i + 1);
		in[n++] = fixture_pprof(path);
		if (i == 4)
			in[n++] = NULL; /* the trace */
	}
	in[n++] = rich_profile(0);
	in[n++] = rich_profile(2);
	encode(in, &trace, n, 4, &s);
	a = read_symtab(&s);

	/* b already has symbols of its own */
	{
		struct pprof_profile *cpu = fixture_pprof(FIX "pprof/cpu-001.pb.gz");
		struct tsdb__chunk_enc *other = tsdb__chunk_enc_new(b);
		assert_int_equal(tsdb__chunk_enc_add_pprof(other, cpu, &err), 0);
		tsdb__chunk_enc_free(other);
		pprof_free(cpu);
	}
	tc = tsdb__transcoder_new(a, b);
	for (size_t c = 0; c < s.nchunks; c++) {
		struct tsdb__chunk_dec *src = open_chunk(&s, c);
		for (k = 0; k < tsdb__chunk_dec_count(src); k++)
			if (tsdb__chunk_enc_add_from(e, tc, src, k, &err) != 0)
				fail_msg("add_from chunk %zu profile %zu: %s", c, k, err.msg);
		tsdb__chunk_dec_free(src);
	}
	assert_int_equal(tsdb__chunk_enc_count(e), n);
	assert_int_equal(tsdb__chunk_enc_finish(e, &chunk, &err), 0);
	assert_int_equal(tsdb__symtab_write(b, &sym, &err), 0);
	assert_int_equal(tsdb__symtab_read(sym.data, sym.len, &b2, &err), 0);
	assert_int_equal(tsdb__chunk_dec_open(chunk.data, chunk.len, &d, &err), 0);
	for (k = 0; k < n; k++) {
		if (!in[k]) {
			struct pf_buf out = PF_BUF_INIT(0);
			assert_true(tsdb__chunk_dec_is_raw(d, k));
			assert_int_equal(tsdb__chunk_dec_raw(d, k, &out, &err), 0);
			assert_int_equal(out.len, trace.len);
			assert_memory_equal(out.data, trace.data, trace.len);
			pf_buf_free(&out);
		} else {
			struct pprof_profile *q = dec(d, b2, k);
			assert_same_profile(in[k], q, "transcoded");
			pprof_free(q);
		}
	}
	/* one chunk of one table holds less than four chunks of another */
	print_message("transcoded: %zu chunks of %zu bytes -> one of %zu\n", s.nchunks, s.chunks.len,
		      chunk.len);
	assert_true(chunk.len < s.chunks.len);

	/* misuse */
	{
		struct tsdb__symtab *c = tsdb__symtab_new();
		struct tsdb__chunk_enc *ec = tsdb__chunk_enc_new(c);
		struct tsdb__transcoder *wrong = tsdb__transcoder_new(c, b);
		assert_int_equal(tsdb__chunk_enc_add_from(ec, tc, d, 0, &err), PF_EINVAL);
		/* d was not written against c */
		assert_int_equal(tsdb__chunk_enc_add_from(e, wrong, d, 0, &err), PF_ECORRUPT);
		assert_int_equal(tsdb__chunk_enc_count(e), 0);
		tsdb__transcoder_free(wrong);
		tsdb__chunk_enc_free(ec);
		tsdb__symtab_free(c);
		tsdb__transcoder_free(NULL);
	}
	tsdb__chunk_dec_free(d);
	tsdb__transcoder_free(tc);
	tsdb__chunk_enc_free(e);
	tsdb__symtab_free(a);
	tsdb__symtab_free(b);
	tsdb__symtab_free(b2);
	stored_free(&s);
	pf_buf_free(&chunk);
	pf_buf_free(&sym);
	pf_buf_free(&trace);
	for (k = 0; k < n; k++)
		pprof_free(in[k]);
}

/* ---- corrupt input ------------------------------------------------------------ */

static void expect_corrupt(int rc, const struct pf_err *err, const char *what, size_t at)
{
	if (rc != PF_ECORRUPT)
		fail_msg("%s (at %zu): rc %d (%s), want PF_ECORRUPT", what, at, rc, err->msg);
	if (err->msg[0] == 0)
		fail_msg("%s (at %zu): no reason given", what, at);
}

static void test_corrupt(void **state)
{
	struct pprof_profile *in[3];
	struct stored s;
	struct pf_err err = { 0 };
	size_t clen, step;

	(void)state;
	in[0] = fixture_pprof(FIX "pprof/heap-001.pb.gz");
	in[1] = rich_profile(1);
	in[2] = fixture_pprof(FIX "pprof/heap-002.pb.gz");
	encode(in, NULL, 3, 0, &s);
	clen = s.off[1];

	/* every truncation of the symtab and of the chunk */
	step = 1;
	for (size_t n = 0; n < s.symtab.len; n += step) {
		struct tsdb__symtab *st = (void *)1;
		expect_corrupt(tsdb__symtab_read(s.symtab.data, n, &st, &err), &err, "truncated symtab", n);
		assert_null(st);
		step = n < 64 ? 1 : 97;
	}
	for (size_t n = 0; n < clen; n += step) {
		struct tsdb__chunk_dec *d = (void *)1;
		expect_corrupt(tsdb__chunk_dec_open(s.chunks.data, n, &d, &err), &err, "truncated chunk", n);
		assert_null(d);
		step = n < 64 ? 1 : 31;
	}
	/* bit flips anywhere are caught by the CRC (or the magic) */
	for (size_t i = 0; i < s.symtab.len; i += 13) {
		struct tsdb__symtab *st = NULL;
		s.symtab.data[i] ^= (uint8_t)(1u << (i % 8));
		expect_corrupt(tsdb__symtab_read(s.symtab.data, s.symtab.len, &st, &err), &err,
			       "flipped symtab", i);
		s.symtab.data[i] ^= (uint8_t)(1u << (i % 8));
	}
	for (size_t i = 0; i < clen; i += 7) {
		struct tsdb__chunk_dec *d = NULL;
		s.chunks.data[i] ^= (uint8_t)(0x80u >> (i % 8));
		expect_corrupt(tsdb__chunk_dec_open(s.chunks.data, clen, &d, &err), &err,
			       "flipped chunk", i);
		s.chunks.data[i] ^= (uint8_t)(0x80u >> (i % 8));
	}
	/* the same flips with the CRC recomputed reach the parsers: whatever
	 * they say, they must not crash, and a decoded profile validates
	 * (every byte; every third under the sanitizers, PROFEFE_TEST_SUBSET:
	 * fuzz_codec flips the rest) */
	{
		struct tsdb__symtab *good = read_symtab(&s);
		size_t stride = getenv("PROFEFE_TEST_SUBSET") ? 3 : 1;
		for (size_t i = 16; i + 4 < clen; i += stride) {
			struct tsdb__chunk_dec *d = NULL;
			uint8_t save = s.chunks.data[i];
			uint8_t crc[4];
			int rc;
			memcpy(crc, s.chunks.data + clen - 4, 4);
			s.chunks.data[i] ^= (uint8_t)(1u << (i % 8));
			pf_put_le32(s.chunks.data + clen - 4, pf_crc32c(0, s.chunks.data, clen - 4));
			rc = tsdb__chunk_dec_open(s.chunks.data, clen, &d, &err);
			assert_true(rc == 0 || rc == PF_ECORRUPT);
			if (rc == 0) {
				for (size_t k = 0; k < tsdb__chunk_dec_count(d); k++) {
					struct pprof_profile *q = NULL;
					rc = tsdb__chunk_dec_pprof(d, good, k, &q, &err);
					assert_true(rc == 0 || rc == PF_ECORRUPT || rc == PF_EINVAL);
					pprof_free(q);
				}
				tsdb__chunk_dec_free(d);
			}
			s.chunks.data[i] = save;
			memcpy(s.chunks.data + clen - 4, crc, 4);
		}
		for (size_t i = 16; i + 4 < s.symtab.len; i += 3 * stride) {
			struct tsdb__symtab *st = NULL;
			uint8_t save = s.symtab.data[i], crc[4];
			int rc;
			memcpy(crc, s.symtab.data + s.symtab.len - 4, 4);
			s.symtab.data[i] ^= (uint8_t)(1u << (i % 8));
			pf_put_le32(s.symtab.data + s.symtab.len - 4,
				    pf_crc32c(0, s.symtab.data, s.symtab.len - 4));
			rc = tsdb__symtab_read(s.symtab.data, s.symtab.len, &st, &err);
			assert_true(rc == 0 || rc == PF_ECORRUPT);
			if (rc == 0) {
				/* the chunk against a damaged table: errors, no crash */
				struct tsdb__chunk_dec *d = open_chunk(&s, 0);
				for (size_t k = 0; k < 3; k++) {
					struct pprof_profile *q = NULL;
					rc = tsdb__chunk_dec_pprof(d, st, k, &q, &err);
					assert_true(rc == 0 || rc == PF_ECORRUPT);
					pprof_free(q);
				}
				tsdb__chunk_dec_free(d);
				tsdb__symtab_free(st);
			}
			s.symtab.data[i] = save;
			memcpy(s.symtab.data + s.symtab.len - 4, crc, 4);
		}
		tsdb__symtab_free(good);
	}
	/* trailing bytes */
	{
		struct tsdb__chunk_dec *d = NULL;
		struct pf_buf x = PF_BUF_INIT(0);
		pf_buf_append(&x, s.chunks.data, clen);
		pf_buf_putc(&x, 0);
		expect_corrupt(tsdb__chunk_dec_open(x.data, x.len, &d, &err), &err, "trailing byte", clen);
		pf_buf_free(&x);
	}
	stored_free(&s);
	for (int i = 0; i < 3; i++)
		pprof_free(in[i]);
}

/* A chunk read against another table, or against an older (shorter)
 * serialization of its own table: PF_ECORRUPT, not garbage. */
static void test_wrong_symtab(void **state)
{
	struct tsdb__symtab *st = tsdb__symtab_new(), *other = tsdb__symtab_new(), *old = NULL;
	struct tsdb__chunk_enc *e = tsdb__chunk_enc_new(st);
	struct tsdb__chunk_dec *d = NULL;
	struct pprof_profile *p1 = fixture_pprof(FIX "pprof/heap-001.pb.gz");
	struct pprof_profile *p2 = fixture_pprof(FIX "pprof/cpu-001.pb.gz"), *q = NULL;
	struct pf_buf sym = PF_BUF_INIT(0), chunk = PF_BUF_INIT(0);
	struct pf_err err = { 0 };

	(void)state;
	assert_int_equal(tsdb__chunk_enc_add_pprof(e, p1, &err), 0);
	assert_int_equal(tsdb__chunk_enc_finish(e, &chunk, &err), 0);
	assert_int_equal(tsdb__symtab_write(st, &sym, &err), 0); /* knows heap-001 only */
	assert_int_equal(tsdb__chunk_dec_open(chunk.data, chunk.len, &d, &err), 0);
	expect_corrupt(tsdb__chunk_dec_pprof(d, other, 0, &q, &err), &err, "another symtab", 0);
	assert_non_null(strstr(err.msg, "symbol table"));
	tsdb__chunk_dec_free(d);

	pf_buf_reset(&chunk);
	assert_int_equal(tsdb__chunk_enc_add_pprof(e, p2, &err), 0);
	assert_int_equal(tsdb__chunk_enc_finish(e, &chunk, &err), 0);
	assert_int_equal(tsdb__symtab_read(sym.data, sym.len, &old, &err), 0);
	assert_int_equal(tsdb__chunk_dec_open(chunk.data, chunk.len, &d, &err), 0);
	expect_corrupt(tsdb__chunk_dec_pprof(d, old, 0, &q, &err), &err, "older symtab", 0);
	assert_null(q);
	assert_non_null(strstr(err.msg, "out of range"));
	/* the full table decodes it */
	q = dec(d, st, 0);
	assert_same_profile(p2, q, "cpu-001");
	pprof_free(q);
	tsdb__chunk_dec_free(d);

	/* a table read back can be added to: old ids stay, new ones follow */
	{
		struct tsdb__chunk_enc *e2 = tsdb__chunk_enc_new(old);
		pf_buf_reset(&chunk);
		assert_int_equal(tsdb__chunk_enc_add_pprof(e2, p2, &err), 0);
		assert_int_equal(tsdb__chunk_enc_add_pprof(e2, p1, &err), 0);
		assert_int_equal(tsdb__chunk_enc_finish(e2, &chunk, &err), 0);
		assert_int_equal(tsdb__chunk_dec_open(chunk.data, chunk.len, &d, &err), 0);
		q = dec(d, old, 1);
		assert_same_profile(p1, q, "heap-001 against a table read back");
		pprof_free(q);
		q = dec(d, old, 0);
		assert_same_profile(p2, q, "cpu-001 against a table read back");
		pprof_free(q);
		tsdb__chunk_dec_free(d);
		tsdb__chunk_enc_free(e2);
	}
	tsdb__chunk_enc_free(e);
	tsdb__symtab_free(st);
	tsdb__symtab_free(other);
	tsdb__symtab_free(old);
	pprof_free(p1);
	pprof_free(p2);
	pf_buf_free(&sym);
	pf_buf_free(&chunk);
}

/* ---- merger ----------------------------------------------------------------------- */

/*
 * A profile aggregated the way -top sees it, independent of ids, sample
 * order and label order: per (stack by function/file/line/address relative
 * to the mapping, sorted labels), the summed values; all-zero keys dropped;
 * plus the merged header fields.
 */
static char *aggregate(const struct pprof_profile *p)
{
	const pprof_msg *m = pprof_message(p);
	struct pf_map *agg = pf_map_new(1024);
	char **keys;
	int64_t **vals;
	size_t n = 0, i, k;
	struct dump d = { PF_BUF_INIT(0) };
	uint64_t idx;

	keys = pf_xcalloc(m->n_sample + 1, sizeof(char *));
	vals = pf_xcalloc(m->n_sample + 1, sizeof(int64_t *));
	for (i = 0; i < m->n_sample; i++) {
		const Perftools__Profiles__Sample *s = m->sample[i];
		struct dump x = { PF_BUF_INIT(0) };
		char **labs = pf_xcalloc(s->n_label + 1, sizeof(char *));
		dprintf_(&x, "@");
		for (k = 0; k < s->n_location_id; k++) {
			const Perftools__Profiles__Location *l =
				m->location[pprof_location_index(p, s->location_id[k])];
			uint64_t rel = l->address;
			if (l->mapping_id)
				rel -= find_mapping(p, l->mapping_id)->memory_start;
			dprintf_(&x, "%llx", (unsigned long long)rel);
			for (size_t j = 0; j < l->n_line; j++) {
				const Perftools__Profiles__Line *ln = l->line[j];
				const Perftools__Profiles__Function *f =
					ln->function_id
						? m->function[pprof_function_index(p, ln->function_id)]
						: NULL;
				dprintf_(&x, "(%s:%lld)", f ? pprof_string(p, f->name) : "?",
					 (long long)ln->line);
			}
			dprintf_(&x, ";");
		}
		for (k = 0; k < s->n_label; k++) {
			struct dump y = { PF_BUF_INIT(0) };
			dump_label(&y, p, s->label[k]);
			pf_buf_putc(&y.b, 0);
			labs[k] = (char *)pf_buf_steal(&y.b, NULL);
		}
		qsort(labs, s->n_label, sizeof(char *), cmp_str);
		for (k = 0; k < s->n_label; k++) {
			dprintf_(&x, "%s", labs[k]);
			free(labs[k]);
		}
		free(labs);
		if (pf_map_get(agg, x.b.data, x.b.len, &idx)) {
			for (k = 0; k < s->n_value; k++)
				vals[idx][k] += s->value[k];
			pf_buf_free(&x.b);
		} else {
			pf_map_put(agg, x.b.data, x.b.len, n);
			vals[n] = pf_xcalloc(s->n_value + 1, sizeof(int64_t));
			memcpy(vals[n], s->value, s->n_value * sizeof(int64_t));
			pf_buf_putc(&x.b, 0);
			keys[n++] = (char *)pf_buf_steal(&x.b, NULL);
		}
	}
	{
		char **lines = pf_xcalloc(n + 1, sizeof(char *));
		size_t nl = 0;
		for (i = 0; i < n; i++) {
			struct dump y = { PF_BUF_INIT(0) };
			int zero = 1;
			for (k = 0; k < m->n_sample_type; k++)
				zero &= vals[i][k] == 0;
			if (!zero) {
				dprintf_(&y, "%s =", keys[i]);
				for (k = 0; k < m->n_sample_type; k++)
					dprintf_(&y, " %lld", (long long)vals[i][k]);
				pf_buf_putc(&y.b, 0);
				lines[nl++] = (char *)pf_buf_steal(&y.b, NULL);
			}
			free(keys[i]);
			free(vals[i]);
		}
		qsort(lines, nl, sizeof(char *), cmp_str);
		dprintf_(&d, "time %lld duration %lld period %lld default %s comments", (long long)m->time_nanos,
			 (long long)m->duration_nanos, (long long)m->period,
			 pprof_string(p, m->default_sample_type));
		for (i = 0; i < m->n_comment; i++)
			dprintf_(&d, " [%s]", pprof_string(p, m->comment[i]));
		dprintf_(&d, "\n");
		for (i = 0; i < nl; i++) {
			assert_int_equal(pf_buf_append(&d.b, lines[i], strlen(lines[i])), 0);
			pf_buf_putc(&d.b, '\n');
			free(lines[i]);
		}
		free(lines);
	}
	free(keys);
	free(vals);
	pf_map_free(agg);
	pf_buf_putc(&d.b, 0);
	return (char *)pf_buf_steal(&d.b, NULL);
}

/* Merge in[] with the merger (chunks of per_chunk) and with pprof_merge;
 * the aggregates and totals must agree. */
static void merge_both(struct pprof_profile **in, size_t n, size_t per_chunk, const char *what)
{
	struct stored s;
	struct tsdb__symtab *st;
	struct tsdb__merger *mg;
	struct pprof_profile *a = NULL, *b = NULL;
	struct pf_err err = { 0 };
	char *x, *y;

	encode(in, NULL, n, per_chunk, &s);
	st = read_symtab(&s);
	mg = tsdb__merger_new(st);
	/* add the chunks' profiles in reverse chunk order, in order inside:
	 * the order of adding must not matter for the aggregate */
	for (size_t c = s.nchunks; c-- > 0;) {
		struct tsdb__chunk_dec *d = open_chunk(&s, c);
		for (size_t i = 0; i < tsdb__chunk_dec_count(d); i++)
			if (tsdb__merger_add(mg, d, i, &err) != 0)
				fail_msg("%s: merger_add: %s", what, err.msg);
		tsdb__chunk_dec_free(d);
	}
	assert_int_equal(tsdb__merger_count(mg), n);
	if (tsdb__merger_finish(mg, &a, &err) != 0)
		fail_msg("%s: merger_finish: %s", what, err.msg);
	assert_int_equal(pprof_merge(in, n, &b, &err), 0);
	x = aggregate(b);
	y = aggregate(a);
	if (strcmp(x, y) != 0) {
		size_t i = 0;
		while (x[i] && x[i] == y[i])
			i++;
		fprintf(stderr, "%s: merge differs at %zu:\n  pprof_merge: %.300s\n  merger:      %.300s\n",
			what, i, x + (i > 100 ? i - 100 : 0), y + (i > 100 ? i - 100 : 0));
		fail_msg("%s: merger and pprof_merge differ", what);
	}
	{
		const pprof_msg *ma = pprof_message(a), *mb = pprof_message(b);
		int64_t ta[8], tb[8];
		assert_int_equal(ma->n_sample_type, mb->n_sample_type);
		pprof_totals(a, ta);
		pprof_totals(b, tb);
		assert_memory_equal(ta, tb, ma->n_sample_type * sizeof(int64_t));
		assert_int_equal(ma->drop_frames != 0, mb->drop_frames != 0);
		/* the main binary stays first */
		assert_int_equal(ma->n_mapping > 0, mb->n_mapping > 0);
		if (mb->n_mapping)
			assert_string_equal(pprof_string(a, ma->mapping[0]->filename),
					    pprof_string(b, mb->mapping[0]->filename));
	}
	free(x);
	free(y);
	pprof_free(a);
	pprof_free(b);
	tsdb__merger_free(mg);
	tsdb__symtab_free(st);
	stored_free(&s);
}

static void test_merger(void **state)
{
	struct pprof_profile *heap[10], *cpu[5], *rich[3];

	(void)state;
	for (int i = 0; i < 10; i++) {
		char path[64];
		snprintf(path, sizeof(path), FIX "pprof/heap-0%02d.pb.gz", i + 1);
		heap[i] = fixture_pprof(path);
	}
	for (int i = 0; i < 5; i++) {
		char path[64];
		snprintf(path, sizeof(path), FIX "pprof/cpu-00%d.pb.gz", i + 1);
		cpu[i] = fixture_pprof(path);
	}
	for (int i = 0; i < 3; i++)
		rich[i] = rich_profile(i);
	merge_both(heap, 10, 0, "ten heap snapshots, one chunk");
	merge_both(heap, 10, 4, "ten heap snapshots, chunks of 4");
	merge_both(heap, 1, 0, "one heap snapshot");
	merge_both(cpu, 5, 2, "five cpu profiles");
	merge_both(rich, 3, 0, "hand-built profiles");
	for (int i = 0; i < 10; i++)
		pprof_free(heap[i]);
	for (int i = 0; i < 5; i++)
		pprof_free(cpu[i]);
	for (int i = 0; i < 3; i++)
		pprof_free(rich[i]);
}

static void test_merger_mismatch(void **state)
{
	struct pprof_profile *in[3], *out = NULL;
	struct tsdb__symtab *st;
	struct tsdb__merger *mg;
	struct tsdb__chunk_dec *d;
	struct pf_err err = { 0 }, gerr = { 0 };
	struct stored s;

	(void)state;
	in[0] = fixture_pprof(FIX "pprof/cpu-001.pb.gz");
	in[1] = fixture_pprof(FIX "pprof/heap-001.pb.gz");
	in[2] = fixture_pprof(FIX "pprof/cpu-002.pb.gz");
	encode(in, NULL, 3, 0, &s);
	st = read_symtab(&s);
	d = open_chunk(&s, 0);
	mg = tsdb__merger_new(st);
	assert_int_equal(tsdb__merger_finish(mg, &out, &err), PF_EINVAL);
	assert_int_equal(tsdb__merger_add(mg, d, 0, &err), 0);
	assert_int_equal(tsdb__merger_add(mg, d, 1, &err), PF_EMISMATCH);
	/* the same sentence as pprof_merge */
	assert_int_equal(pprof_merge(in, 2, &out, &gerr), PF_EMISMATCH);
	assert_string_equal(err.msg, gerr.msg);
	assert_string_equal(err.msg, "sample types differ: [samples/count cpu/nanoseconds] and "
				     "[alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes]");
	assert_int_equal(tsdb__merger_add(mg, d, 7, &err), PF_EINVAL);
	/* unchanged by the failures */
	assert_int_equal(tsdb__merger_count(mg), 1);
	assert_int_equal(tsdb__merger_add(mg, d, 2, &err), 0);
	assert_int_equal(tsdb__merger_finish(mg, &out, &err), 0);
	{
		struct pprof_profile *want = NULL, *pair[2] = { in[0], in[2] };
		char *x, *y;
		assert_int_equal(pprof_merge(pair, 2, &want, &err), 0);
		x = aggregate(want);
		y = aggregate(out);
		assert_string_equal(x, y);
		free(x);
		free(y);
		pprof_free(want);
	}
	pprof_free(out);
	tsdb__merger_free(mg);
	tsdb__chunk_dec_free(d);
	tsdb__symtab_free(st);
	stored_free(&s);
	for (int i = 0; i < 3; i++)
		pprof_free(in[i]);
}

/* Values that sum to zero drop the row, as in Go; huge values wrap. */
static void test_merger_zero_sum(void **state)
{
	struct pprof_profile *in[2], *out = NULL;
	struct bld b;

	(void)state;
	for (int k = 0; k < 2; k++) {
		uint64_t f, l;
		int64_t v[2] = { k ? -3 : 3, k ? -30 : 30 }, w[2] = { INT64_MAX, 1 };
		bld_init(&b, 2);
		f = add_function(&b, "f", "f", "f.go", 1);
		{
			uint64_t fl[2] = { f, 2 };
			l = add_location(&b, 0, 0x10, 0, fl, 1);
		}
		add_sample(&b, &l, 1, v, NULL, 0);
		add_sample(&b, NULL, 0, w, NULL, 0);
		in[k] = bld_done(&b);
	}
	merge_both(in, 2, 0, "zero sum");
	{
		struct stored s;
		struct tsdb__symtab *st;
		struct tsdb__merger *mg;
		struct tsdb__chunk_dec *d;
		struct pf_err err = { 0 };
		encode(in, NULL, 2, 0, &s);
		st = read_symtab(&s);
		mg = tsdb__merger_new(st);
		d = open_chunk(&s, 0);
		assert_int_equal(tsdb__merger_add(mg, d, 0, &err), 0);
		assert_int_equal(tsdb__merger_add(mg, d, 1, &err), 0);
		assert_int_equal(tsdb__merger_finish(mg, &out, &err), 0);
		assert_int_equal(pprof_sample_count(out), 1);
		assert_int_equal(pprof_message(out)->sample[0]->value[0], (int64_t)((uint64_t)INT64_MAX * 2));
		pprof_free(out);
		tsdb__chunk_dec_free(d);
		tsdb__merger_free(mg);
		tsdb__symtab_free(st);
		stored_free(&s);
	}
	pprof_free(in[0]);
	pprof_free(in[1]);
}

/* ---- sizes ---------------------------------------------------------------------- */

/* The ten heap snapshots as one series take at most 0.10 of their gzip
 * bytes (symtab + chunk). */
static void test_ratio(void **state)
{
	struct pprof_profile *in[10];
	size_t gz = 0;
	struct stored s;

	(void)state;
	for (int i = 0; i < 10; i++) {
		char path[64];
		struct pf_buf b;
		snprintf(path, sizeof(path), FIX "pprof/heap-0%02d.pb.gz", i + 1);
		fixture_read(path, &b);
		gz += b.len;
		pf_buf_free(&b);
		in[i] = fixture_pprof(path);
	}
	encode(in, NULL, 10, 0, &s);
	{
		double ratio = (double)(s.symtab.len + s.chunks.len) / (double)gz;
		print_message("ten heap snapshots: symtab %zu + chunk %zu bytes = %.4f of %zu gzip bytes\n",
			      s.symtab.len, s.chunks.len, ratio, gz);
		assert_true(ratio <= 0.10);
	}
	stored_free(&s);
	for (int i = 0; i < 10; i++)
		pprof_free(in[i]);
}

int main(void)
{
	const struct CMUnitTest round_trip[] = {
		cmocka_unit_test(test_fixture_round_trip),
		cmocka_unit_test(test_raw_round_trip),
		cmocka_unit_test(test_flat_same_as_pprof),
		cmocka_unit_test(test_series),
		cmocka_unit_test(test_same_rows),
		cmocka_unit_test(test_seeded_chunk),
		cmocka_unit_test(test_rich_profile),
		cmocka_unit_test(test_minimal_profiles),
		cmocka_unit_test(test_from_message),
		cmocka_unit_test(test_reencode),
		cmocka_unit_test(test_transcode),
	};
	const struct CMUnitTest robust[] = {
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_wrong_symtab),
		cmocka_unit_test(test_limits),
	};
	const struct CMUnitTest merge[] = {
		cmocka_unit_test(test_merger),
		cmocka_unit_test(test_merger_mismatch),
		cmocka_unit_test(test_merger_zero_sum),
	};
	const struct CMUnitTest size[] = {
		cmocka_unit_test(test_ratio),
	};
	int fails = 0;

	fails += cmocka_run_group_tests_name("codec_round_trip", round_trip, NULL, NULL);
	fails += cmocka_run_group_tests_name("codec_corrupt", robust, NULL, NULL);
	fails += cmocka_run_group_tests_name("codec_merger", merge, NULL, NULL);
	fails += cmocka_run_group_tests_name("codec_size", size, NULL, NULL);
	return fails ? 1 : 0;
}
