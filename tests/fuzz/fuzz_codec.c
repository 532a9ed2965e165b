/*
 * libFuzzer entry point for the store's profile codec (src/tsdb/codec/codec.h).
 * Each input is tried three ways:
 *
 *   1. as a serialized symbol table (tsdb__symtab_read), as is and with its
 *      CRC recomputed (mutations rarely keep a CRC valid, so this is what
 *      reaches the section parsers); a table that parses must take a new
 *      profile and give it back;
 *   2. as a chunk (tsdb__chunk_dec_open), as is and with the built-in
 *      table's nonce written in and the CRC recomputed; every profile of a
 *      chunk that opens is decoded against the built-in table, merged,
 *      transcoded into a new table (and read back from there), and its raw
 *      bodies copied;
 *   3. as a pprof body: when pprof_decode accepts it, it must survive a
 *      round trip through the codec (same samples, values and stack depths,
 *      same mapping count), and merge with itself by stack id.
 *
 * Must never crash, leak, read out of bounds or allocate more than the
 * bytes really decompress to, whatever the input; every failure says why.
 *
 * Built by `make fuzz` (clang libFuzzer, corpus under build-fuzz/corpus/codec) and,
 * with tests/fuzz/driver.c as main, by `make test`, which feeds it its seeds.
 * Seeds: tests/fixtures/pprof and what "fuzz_codec -seeds DIR" writes (the
 * built-in table and chunks against it: ways 1 and 2).
 */
#include "tsdb/codec/codec.h"

#include <stdlib.h>

#define FUZZ_MAX_BODY ((size_t)8 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- a built-in table with a few of everything ------------------------------ */

/* A profile of n samples over a small made-up program: 12 functions, 24
 * locations (some inlined), 3 mappings, string and numeric labels, empty
 * stacks, 2 sample types. seed varies the values. */
static struct pprof_profile *make_profile(int seed)
{
	struct pf_arena *a = pf_arena_new();
	pprof_msg *m = pf_arena_alloc(a, sizeof(*m));
	struct pprof_profile *p = NULL;
	static const char *const strs[] = { "", "samples", "count", "space", "bytes", "/app/x",
					    "/lib/libc.so.6", "[vdso]", "bid", "x.go", "worker",
					    "search", "size", "f0", "f1", "f2", "f3", "f4", "f5",
					    "f6", "f7", "f8", "f9", "f10", "f11", "a comment" };
	size_t i, k, ns = 40;

	perftools__profiles__profile__init(m);
	m->n_string_table = PF_ARRAY_LEN(strs);
	m->string_table = pf_arena_alloc(a, sizeof(strs));
	for (i = 0; i < PF_ARRAY_LEN(strs); i++)
		m->string_table[i] = pf_arena_strndup(a, strs[i], strlen(strs[i]));
	m->n_sample_type = 2;
	m->sample_type = pf_arena_alloc(a, 2 * sizeof(void *));
	for (i = 0; i < 2; i++) {
		m->sample_type[i] = pf_arena_alloc(a, sizeof(**m->sample_type));
		perftools__profiles__value_type__init(m->sample_type[i]);
		m->sample_type[i]->type = i ? 3 : 1;
		m->sample_type[i]->unit = i ? 4 : 2;
	}
	m->period_type = pf_arena_alloc(a, sizeof(*m->period_type));
	perftools__profiles__value_type__init(m->period_type);
	m->period_type->type = 3;
	m->period_type->unit = 4;
	m->period = 512 + seed;
	m->time_nanos = 1700000000000000000LL + seed * 1000000000LL;
	m->duration_nanos = seed;
	m->n_comment = 1;
	m->comment = pf_arena_alloc(a, sizeof(int64_t));
	m->comment[0] = 25;
	m->n_mapping = 3;
	m->mapping = pf_arena_alloc(a, 3 * sizeof(void *));
	for (i = 0; i < 3; i++) {
		Perftools__Profiles__Mapping *mp = pf_arena_alloc(a, sizeof(*mp));
		perftools__profiles__mapping__init(mp);
		mp->id = i + 1;
		mp->memory_start = 0x400000 + i * 0x1000000;
		mp->memory_limit = mp->memory_start + 0x100000;
		mp->filename = 5 + (int64_t)i;
		mp->build_id = i ? 0 : 8;
		mp->has_functions = 1;
		m->mapping[i] = mp;
	}
	m->n_function = 12;
	m->function = pf_arena_alloc(a, 12 * sizeof(void *));
	for (i = 0; i < 12; i++) {
		Perftools__Profiles__Function *f = pf_arena_alloc(a, sizeof(*f));
		perftools__profiles__function__init(f);
		f->id = i + 1;
		f->name = f->system_name = 13 + (int64_t)i;
		f->filename = 9;
		f->start_line = 10 * (int64_t)i;
		m->function[i] = f;
	}
	m->n_location = 24;
	m->location = pf_arena_alloc(a, 24 * sizeof(void *));
	for (i = 0; i < 24; i++) {
		Perftools__Profiles__Location *l = pf_arena_alloc(a, sizeof(*l));
		size_t nl = i % 3 == 0 ? 2 : 1;
		perftools__profiles__location__init(l);
		l->id = i + 1;
		l->mapping_id = i % 5 == 4 ? 2 : 1;
		l->address = 0x400100 + i * 0x40 + (l->mapping_id - 1) * 0x1000000;
		l->n_line = nl;
		l->line = pf_arena_alloc(a, nl * sizeof(void *));
		for (k = 0; k < nl; k++) {
			l->line[k] = pf_arena_alloc(a, sizeof(**l->line));
			perftools__profiles__line__init(l->line[k]);
			l->line[k]->function_id = (i + k) % 12 + 1;
			l->line[k]->line = (int64_t)(i * 7 + k);
		}
		m->location[i] = l;
	}
	m->n_sample = ns;
	m->sample = pf_arena_alloc(a, ns * sizeof(void *));
	for (i = 0; i < ns; i++) {
		Perftools__Profiles__Sample *s = pf_arena_alloc(a, sizeof(*s));
		size_t depth = (i * 5 + (size_t)seed) % 9;
		perftools__profiles__sample__init(s);
		s->n_location_id = depth;
		s->location_id = pf_arena_alloc(a, (depth + 1) * sizeof(uint64_t));
		for (k = 0; k < depth; k++)
			s->location_id[k] = (i * 3 + k * 7) % 24 + 1;
		s->n_value = 2;
		s->value = pf_arena_alloc(a, 2 * sizeof(int64_t));
		s->value[0] = (int64_t)(i % 4) * seed;
		s->value[1] = (int64_t)(i * 1000) + seed;
		if (i % 3) {
			s->n_label = 2;
			s->label = pf_arena_alloc(a, 2 * sizeof(void *));
			for (k = 0; k < 2; k++) {
				s->label[k] = pf_arena_alloc(a, sizeof(**s->label));
				perftools__profiles__label__init(s->label[k]);
			}
			s->label[0]->key = 10;
			s->label[0]->str = 11;
			s->label[1]->key = 12;
			s->label[1]->num = (int64_t)(i % 4) * 64;
			s->label[1]->num_unit = 4;
		}
		m->sample[i] = s;
	}
	if (pprof_from_message(a, m, &p, NULL) < 0)
		abort(); /* the made-up profile is valid */
	return p;
}

/* The table chunks are decoded against (built once, kept for the process). */
static struct tsdb__symtab *builtin_symtab(void)
{
	static struct tsdb__symtab *st;
	if (!st) {
		struct tsdb__chunk_enc *e;
		struct pf_buf out = PF_BUF_INIT(0);
		st = tsdb__symtab_new();
		e = tsdb__chunk_enc_new(st);
		for (int i = 0; i < 3; i++) {
			struct pprof_profile *p = make_profile(i);
			if (tsdb__chunk_enc_add_pprof(e, p, NULL) < 0)
				abort();
			pprof_free(p);
		}
		if (tsdb__chunk_enc_finish(e, &out, NULL) < 0)
			abort();
		tsdb__chunk_enc_free(e);
		pf_buf_free(&out);
	}
	return st;
}

/* ---- checks ---------------------------------------------------------------- */

static void need_reason(int rc, const struct pf_err *err)
{
	if (rc < 0 && err->msg[0] == 0)
		abort(); /* every failure says why */
}

/* A copy of data with the CRC32C (last 4 bytes) made valid, and, when nonce
 * is not 0, the nonce at bytes 8..16 set. */
static uint8_t *fixed_copy(const uint8_t *data, size_t size, uint64_t nonce)
{
	uint8_t *c = pf_xmalloc(size);
	memcpy(c, data, size);
	if (nonce && size >= 16)
		pf_put_le64(c + 8, nonce);
	pf_put_le32(c + size - 4, pf_crc32c(0, c, size - 4));
	return c;
}

static void try_symtab(const uint8_t *data, size_t size)
{
	struct tsdb__symtab *st = NULL;
	struct pf_err err = { 0 };
	int rc = tsdb__symtab_read(data, size, &st, &err);

	need_reason(rc, &err);
	if (rc == 0) {
		/* a table that parses takes a new profile and gives it back */
		struct tsdb__chunk_enc *e = tsdb__chunk_enc_new(st);
		struct tsdb__chunk_dec *d = NULL;
		struct pprof_profile *p = make_profile(7), *q = NULL;
		struct pf_buf out = PF_BUF_INIT(0);
		if (tsdb__chunk_enc_add_pprof(e, p, &err) < 0 || tsdb__chunk_enc_finish(e, &out, &err) < 0 ||
		    tsdb__chunk_dec_open(out.data, out.len, &d, &err) < 0 ||
		    tsdb__chunk_dec_pprof(d, st, 0, &q, &err) < 0)
			abort();
		if (pprof_sample_count(q) != pprof_sample_count(p))
			abort();
		/* and serializes to something that reads back */
		pf_buf_reset(&out);
		if (tsdb__symtab_write(st, &out, &err) < 0)
			abort();
		tsdb__symtab_free(st);
		st = NULL;
		if (tsdb__symtab_read(out.data, out.len, &st, &err) < 0)
			abort();
		pprof_free(p);
		pprof_free(q);
		tsdb__chunk_dec_free(d);
		tsdb__chunk_enc_free(e);
		pf_buf_free(&out);
	}
	tsdb__symtab_free(st);
}

static void try_chunk(const uint8_t *data, size_t size, const struct tsdb__symtab *st)
{
	struct tsdb__chunk_dec *d = NULL, *d2 = NULL;
	struct tsdb__merger *m;
	struct tsdb__symtab *st2;
	struct tsdb__chunk_enc *e2;
	struct tsdb__transcoder *tc;
	struct pf_buf out = PF_BUF_INIT(0);
	struct pf_err err = { 0 };
	size_t moved = 0;
	int rc = tsdb__chunk_dec_open(data, size, &d, &err);

	need_reason(rc, &err);
	if (rc < 0)
		return;
	/* what decodes also moves to another table and back out */
	st2 = tsdb__symtab_new();
	e2 = tsdb__chunk_enc_new(st2);
	tc = tsdb__transcoder_new(st, st2);
	for (size_t i = 0; i < tsdb__chunk_dec_count(d); i++) {
		struct pprof_profile *p = NULL, *q = NULL;
		struct pf_buf one = PF_BUF_INIT(0);
		struct tsdb__chunk_dec *d1 = NULL;
		/* a profile that decodes here must decode after the move */
		int ok = tsdb__chunk_dec_is_raw(d, i) || tsdb__chunk_dec_pprof(d, st, i, &p, &err) == 0;
		rc = tsdb__chunk_enc_add_from(e2, tc, d, i, &err);
		need_reason(rc, &err);
		if (rc == 0) {
			moved++;
			if (ok && !tsdb__chunk_dec_is_raw(d, i)) {
				/* alone in a chunk of its own, against the new table */
				struct tsdb__chunk_enc *e1 = tsdb__chunk_enc_new(st2);
				struct tsdb__transcoder *t1 = tsdb__transcoder_new(st, st2);
				if (tsdb__chunk_enc_add_from(e1, t1, d, i, &err) < 0 ||
				    tsdb__chunk_enc_finish(e1, &one, &err) < 0 ||
				    tsdb__chunk_dec_open(one.data, one.len, &d1, &err) < 0 ||
				    tsdb__chunk_dec_pprof(d1, st2, 0, &q, &err) < 0 ||
				    pprof_sample_count(q) != pprof_sample_count(p))
					abort();
				tsdb__chunk_dec_free(d1);
				tsdb__transcoder_free(t1);
				tsdb__chunk_enc_free(e1);
			}
		}
		pprof_free(p);
		pprof_free(q);
		pf_buf_free(&one);
	}
	if (tsdb__chunk_enc_finish(e2, &out, &err) < 0 || tsdb__chunk_dec_open(out.data, out.len, &d2, &err) < 0 ||
	    tsdb__chunk_dec_count(d2) != moved)
		abort();
	tsdb__chunk_dec_free(d2);
	tsdb__transcoder_free(tc);
	tsdb__chunk_enc_free(e2);
	tsdb__symtab_free(st2);
	pf_buf_free(&out);
	m = tsdb__merger_new(st);
	/* backwards first, so the decoder replays from the start */
	for (size_t i = tsdb__chunk_dec_count(d); i-- > 0;) {
		struct pprof_profile *p = NULL;
		struct pf_buf raw = PF_BUF_INIT(FUZZ_MAX_BODY);
		if (tsdb__chunk_dec_is_raw(d, i)) {
			rc = tsdb__chunk_dec_raw(d, i, &raw, &err);
		} else {
			rc = tsdb__chunk_dec_pprof(d, st, i, &p, &err);
			if (rc == 0 && tsdb__merger_add(m, d, i, &err) < 0 && err.code != PF_EMISMATCH)
				abort(); /* what decodes, merges (or differs in types) */
		}
		need_reason(rc, &err);
		pprof_free(p);
		pf_buf_free(&raw);
	}
	if (tsdb__merger_count(m) > 0) {
		struct pprof_profile *p = NULL;
		if (tsdb__merger_finish(m, &p, &err) < 0)
			abort();
		pprof_free(p);
	}
	tsdb__merger_free(m);
	tsdb__chunk_dec_free(d);
}

static void try_pprof(const uint8_t *data, size_t size)
{
	struct pprof_profile *p = NULL, *q = NULL, *mq = NULL;
	struct tsdb__symtab *st = NULL, *st2 = NULL;
	struct tsdb__chunk_enc *e;
	struct tsdb__chunk_dec *d = NULL;
	struct tsdb__merger *m;
	struct pf_buf chunk = PF_BUF_INIT(0), sym = PF_BUF_INIT(0);
	struct pf_err err = { 0 };
	const pprof_msg *a, *b;

	if (pprof_decode(data, size, FUZZ_MAX_BODY, &p, &err) < 0)
		return;
	st = tsdb__symtab_new();
	e = tsdb__chunk_enc_new(st);
	/* twice, so the second one is delta-encoded against the first */
	if (tsdb__chunk_enc_add_pprof(e, p, &err) < 0 || tsdb__chunk_enc_add_pprof(e, p, &err) < 0 ||
	    tsdb__chunk_enc_finish(e, &chunk, &err) < 0 || tsdb__symtab_write(st, &sym, &err) < 0 ||
	    tsdb__symtab_read(sym.data, sym.len, &st2, &err) < 0 ||
	    tsdb__chunk_dec_open(chunk.data, chunk.len, &d, &err) < 0 ||
	    tsdb__chunk_dec_pprof(d, st2, 1, &q, &err) < 0)
		abort(); /* what we write, we read */
	a = pprof_message(p);
	b = pprof_message(q);
	if (a->n_sample != b->n_sample || a->n_mapping != b->n_mapping ||
	    a->n_sample_type != b->n_sample_type || a->time_nanos != b->time_nanos)
		abort();
	for (size_t i = 0; i < a->n_sample; i++) {
		if (a->sample[i]->n_location_id != b->sample[i]->n_location_id ||
		    a->sample[i]->n_label != b->sample[i]->n_label ||
		    (a->n_sample_type && /* no values: value may be NULL */
		     memcmp(a->sample[i]->value, b->sample[i]->value,
			    a->n_sample_type * sizeof(int64_t)) != 0))
			abort();
	}
	m = tsdb__merger_new(st2);
	if (tsdb__merger_add(m, d, 0, &err) < 0 || tsdb__merger_add(m, d, 1, &err) < 0 ||
	    tsdb__merger_finish(m, &mq, &err) < 0)
		abort(); /* a profile merges with itself */
	tsdb__merger_free(m);
	pprof_free(mq);
	pprof_free(q);
	tsdb__chunk_dec_free(d);
	tsdb__chunk_enc_free(e);
	tsdb__symtab_free(st);
	tsdb__symtab_free(st2);
	pf_buf_free(&chunk);
	pf_buf_free(&sym);
	pprof_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tsdb__symtab *st = builtin_symtab();

	try_symtab(data, size);
	try_chunk(data, size, st);
	if (size >= 20) {
		uint8_t *c = fixed_copy(data, size, 0);
		try_symtab(c, size);
		free(c);
		c = fixed_copy(data, size, tsdb__symtab_nonce(st));
		try_chunk(c, size, st);
		free(c);
	}
	try_pprof(data, size);
	return 0;
}

/* Write the built-in table and chunks of the made-up profiles to dir (seeds for
 * ways 1 and 2; tests/fuzz/driver.c calls this for "-seeds DIR"). */
int pf_fuzz_seeds(const char *dir);
int pf_fuzz_seeds(const char *dir)
{
	struct tsdb__symtab *st = builtin_symtab();
	struct pf_buf b = PF_BUF_INIT(0);
	struct pf_err err = { 0 };
	char path[512];
	int rc;

	if ((rc = pf_mkdir_p(dir, &err)) < 0 || (rc = tsdb__symtab_write(st, &b, &err)) < 0)
		goto out;
	snprintf(path, sizeof(path), "%s/symtab", dir);
	if ((rc = pf_write_file_atomic(path, b.data, b.len, &err)) < 0)
		goto out;
	for (int c = 0; c < 3; c++) {
		struct tsdb__chunk_enc *e = tsdb__chunk_enc_new(st);
		pf_buf_reset(&b);
		for (int i = 0; i <= c * 2; i++) {
			struct pprof_profile *p = make_profile(i + c);
			rc = tsdb__chunk_enc_add_pprof(e, p, &err);
			pprof_free(p);
			if (rc == 0 && i == 1)
				rc = tsdb__chunk_enc_add_raw(e, "a trace", 7, &err);
			if (rc < 0)
				break;
		}
		if (rc == 0)
			rc = tsdb__chunk_enc_finish(e, &b, &err);
		tsdb__chunk_enc_free(e);
		snprintf(path, sizeof(path), "%s/chunk-%d", dir, c);
		if (rc < 0 || (rc = pf_write_file_atomic(path, b.data, b.len, &err)) < 0)
			goto out;
	}
out:
	if (rc < 0)
		fprintf(stderr, "fuzz_codec: %s\n", err.msg);
	pf_buf_free(&b);
	return rc < 0 ? -1 : 0;
}
