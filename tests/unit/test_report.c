/*
 * Unit tests for src/report: frame names (inline, lines, files, binaries),
 * top's flat/cum and order, the filters' pprof meaning on a hand-made
 * profile, the tree invariants of flame graphs, sandwiches and diffs on the
 * fixtures (every node's total is its self plus its children's; the root's
 * is the profile's), max_nodes, and the errors.
 * Run from the repository root (fixtures under tests/fixtures).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "fixture.h"

#include "report/report.h"

#define FIX "tests/fixtures/pprof/"

/* ---- a hand-made profile ------------------------------------------------
 * functions A, B, C (file a.go); location 1 in /bin/x: C inlined into B
 * (lines C:7, B:3); location 2: A:1 (no mapping); location 3 in /bin/x
 * without lines. Samples (leaf first):
 *   [1 2] 10 worker=w1   A -> B -> C (inline)
 *   [2]    5             A
 *   [3 2]  2             A -> [x]
 *   [2 1 2] 1            A -> B -> C (inline) -> A
 */
struct tiny {
	pprof_msg m;
	char *strs[10];
	Perftools__Profiles__ValueType st, *stp[1];
	Perftools__Profiles__Mapping map, *mapp[1];
	Perftools__Profiles__Function fn[3], *fnp[3];
	Perftools__Profiles__Line line[3], *l1[2], *l2[1];
	Perftools__Profiles__Location loc[3], *locp[3];
	Perftools__Profiles__Sample smp[4], *smpp[4];
	Perftools__Profiles__Label lab, *labp[1];
	uint64_t ids[4][3];
	int64_t vals[4];
};

static struct pprof_profile *tiny_profile(void)
{
	static const char *const strs[] = {"", "samples", "count", "A", "B", "C", "a.go", "/bin/x", "worker", "w1"};
	static const uint64_t ids[4][3] = {{1, 2}, {2}, {3, 2}, {2, 1, 2}};
	static const size_t nids[4] = {2, 1, 2, 3};
	static const int64_t vals[4] = {10, 5, 2, 1};
	struct tiny *t = pf_xcalloc(1, sizeof(*t));
	struct pprof_profile *p = NULL;
	struct pf_err err = {0};
	uint8_t *buf;
	size_t n;

	perftools__profiles__profile__init(&t->m);
	for (size_t i = 0; i < 10; i++)
		t->strs[i] = (char *)strs[i];
	t->m.string_table = t->strs;
	t->m.n_string_table = 10;
	perftools__profiles__value_type__init(&t->st);
	t->st.type = 1;
	t->st.unit = 2;
	t->stp[0] = &t->st;
	t->m.sample_type = t->stp;
	t->m.n_sample_type = 1;
	perftools__profiles__mapping__init(&t->map);
	t->map.id = 1;
	t->map.filename = 7;
	t->mapp[0] = &t->map;
	t->m.mapping = t->mapp;
	t->m.n_mapping = 1;
	for (size_t i = 0; i < 3; i++) {
		perftools__profiles__function__init(&t->fn[i]);
		t->fn[i].id = i + 1;
		t->fn[i].name = (int64_t)(3 + i);
		t->fn[i].filename = 6;
		t->fnp[i] = &t->fn[i];
		perftools__profiles__line__init(&t->line[i]);
		perftools__profiles__location__init(&t->loc[i]);
		t->loc[i].id = i + 1;
		t->locp[i] = &t->loc[i];
	}
	t->m.function = t->fnp;
	t->m.n_function = 3;
	t->line[0].function_id = 3; /* C:7, inlined */
	t->line[0].line = 7;
	t->line[1].function_id = 2; /* B:3 */
	t->line[1].line = 3;
	t->line[2].function_id = 1; /* A:1 */
	t->line[2].line = 1;
	t->l1[0] = &t->line[0];
	t->l1[1] = &t->line[1];
	t->l2[0] = &t->line[2];
	t->loc[0].mapping_id = 1;
	t->loc[0].line = t->l1;
	t->loc[0].n_line = 2;
	t->loc[1].line = t->l2;
	t->loc[1].n_line = 1;
	t->loc[2].mapping_id = 1;
	t->m.location = t->locp;
	t->m.n_location = 3;
	perftools__profiles__label__init(&t->lab);
	t->lab.key = 8;
	t->lab.str = 9;
	t->labp[0] = &t->lab;
	for (size_t i = 0; i < 4; i++) {
		perftools__profiles__sample__init(&t->smp[i]);
		memcpy(t->ids[i], ids[i], sizeof(ids[i]));
		t->vals[i] = vals[i];
		t->smp[i].location_id = t->ids[i];
		t->smp[i].n_location_id = nids[i];
		t->smp[i].value = &t->vals[i];
		t->smp[i].n_value = 1;
		t->smpp[i] = &t->smp[i];
	}
	t->smp[0].label = t->labp;
	t->smp[0].n_label = 1;
	t->m.sample = t->smpp;
	t->m.n_sample = 4;
	n = perftools__profiles__profile__get_packed_size(&t->m);
	buf = pf_xmalloc(n);
	perftools__profiles__profile__pack(&t->m, buf);
	if (pprof_decode(buf, n, (size_t)1 << 20, &p, &err) < 0)
		fail_msg("tiny profile: %s", err.msg);
	free(buf);
	free(t);
	return p;
}

/* ---- helpers -------------------------------------------------------------- */

static json_t *run(const struct pprof_profile *p, const struct report_opts *o,
		   int (*fn)(const struct report_prep *, json_t **, struct pf_err *))
{
	struct report_prep *prep = NULL;
	struct pf_err err = {0};
	json_t *out = NULL;

	if (report_prep_new(p, o, &prep, &err) < 0)
		fail_msg("prep: %s", err.msg);
	if (fn(prep, &out, &err) < 0)
		fail_msg("report: %s", err.msg);
	report_prep_free(prep);
	return out;
}

/* "name flat cum;" for every row */
static char *rows_str(json_t *top)
{
	struct pf_buf b = PF_BUF_INIT(0);
	size_t i;
	json_t *row;

	json_array_foreach(json_object_get(top, "rows"), i, row)
		pf_buf_printf(&b, "%s %lld %lld;", json_string_value(json_object_get(row, "name")),
			      (long long)json_integer_value(json_object_get(row, "flat")),
			      (long long)json_integer_value(json_object_get(row, "cum")));
	pf_buf_putc(&b, 0);
	return (char *)b.data;
}

/* The tree under node as "name(total,self)[children]". */
static void tree_str(json_t *node, struct pf_buf *b)
{
	size_t i;
	json_t *c;

	pf_buf_printf(b, "%s(%lld,%lld)", json_string_value(json_object_get(node, "name")),
		      (long long)json_integer_value(json_object_get(node, "total")),
		      (long long)json_integer_value(json_object_get(node, "self")));
	if (json_array_size(json_object_get(node, "children")) == 0)
		return;
	pf_buf_putc(b, '[');
	json_array_foreach(json_object_get(node, "children"), i, c) {
		if (i)
			pf_buf_putc(b, ' ');
		tree_str(c, b);
	}
	pf_buf_putc(b, ']');
}

static char *flame_str(json_t *fg)
{
	struct pf_buf b = PF_BUF_INIT(0);
	tree_str(json_object_get(fg, "root"), &b);
	pf_buf_putc(&b, 0);
	return (char *)b.data;
}

/* Checks total == self + sum(children) (and, in a diff, total == target -
 * base) under node; returns how many nodes there are. */
static size_t check_tree(json_t *node, int diff)
{
	json_int_t sum = json_integer_value(json_object_get(node, "self"));
	size_t n = 1, i;
	json_t *c;

	json_array_foreach(json_object_get(node, "children"), i, c) {
		sum += json_integer_value(json_object_get(c, "total"));
		n += check_tree(c, diff);
	}
	if (sum != json_integer_value(json_object_get(node, "total")))
		fail_msg("node %s: total %lld, self + children %lld",
			 json_string_value(json_object_get(node, "name")),
			 (long long)json_integer_value(json_object_get(node, "total")), (long long)sum);
	if (diff)
		assert_int_equal(json_integer_value(json_object_get(node, "total")),
				 json_integer_value(json_object_get(node, "target")) -
					 json_integer_value(json_object_get(node, "base")));
	return n;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_tiny_top_and_flame(void **state)
{
	struct pprof_profile *p = tiny_profile();
	struct report_opts o;
	json_t *j;
	char *s;

	(void)state;
	report_opts_init(&o);
	o.node_fraction = 0;
	j = run(p, &o, report_top);
	assert_int_equal(json_integer_value(json_object_get(j, "total")), 18);
	s = rows_str(j);
	assert_string_equal(s, "C (inline) 10 11;A 6 18;[x] 2 2;B 0 11;");
	free(s);
	json_decref(j);

	j = run(p, &o, report_flamegraph);
	s = flame_str(j);
	assert_string_equal(s, "root(18,0)[A(18,5)[B(11,0)[C (inline)(11,10)[A(1,1)]] [x](2,2)]]");
	free(s);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "trimmed"), "nodes")), 0);
	json_decref(j);

	o.granularity = REPORT_LINES;
	j = run(p, &o, report_top);
	s = rows_str(j);
	assert_string_equal(s, "C a.go:7 (inline) 10 11;A a.go:1 6 18;[x] 2 2;B a.go:3 0 11;");
	free(s);
	json_decref(j);
	o.granularity = REPORT_FILES;
	j = run(p, &o, report_top);
	s = rows_str(j);
	assert_string_equal(s, "a.go 16 18;[x] 2 2;");
	free(s);
	json_decref(j);

	/* limit keeps the first rows */
	o.granularity = REPORT_FUNCTIONS;
	o.limit = 2;
	j = run(p, &o, report_top);
	s = rows_str(j);
	assert_string_equal(s, "C (inline) 10 11;A 6 18;");
	free(s);
	json_decref(j);
	pprof_free(p);
}

static void test_tiny_filters(void **state)
{
	struct pprof_profile *p = tiny_profile();
	struct report_opts o;
	json_t *j;
	char *s;

	(void)state;
	report_opts_init(&o);
	o.node_fraction = 0;
	/* focus: samples through C; the top's total stays the profile's */
	o.focus = "^C$";
	j = run(p, &o, report_flamegraph);
	s = flame_str(j);
	assert_string_equal(s, "root(11,0)[A(11,0)[B(11,0)[C (inline)(11,10)[A(1,1)]]]]");
	assert_int_equal(json_integer_value(json_object_get(j, "total")), 18);
	free(s);
	json_decref(j);
	/* ignore matches the mapping's file name too */
	o.focus = NULL;
	o.ignore = "x$";
	j = run(p, &o, report_flamegraph);
	s = flame_str(j);
	assert_string_equal(s, "root(5,0)[A(5,5)]");
	free(s);
	json_decref(j);
	/* hide drops the line B: C is no longer an inlined call */
	o.ignore = NULL;
	o.hide = "^B$";
	j = run(p, &o, report_top);
	s = rows_str(j);
	assert_string_equal(s, "C 10 11;A 6 18;[x] 2 2;");
	free(s);
	json_decref(j);
	/* show_from drops the frames above the outermost match */
	o.hide = NULL;
	o.show_from = "^B$";
	j = run(p, &o, report_flamegraph);
	s = flame_str(j);
	assert_string_equal(s, "root(11,0)[B(11,0)[C (inline)(11,10)[A(1,1)]]]");
	free(s);
	json_decref(j);
	/* tag filters */
	o.show_from = NULL;
	o.tagfocus = "worker=w1";
	j = run(p, &o, report_flamegraph);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "root"), "total")), 10);
	json_decref(j);
	o.tagfocus = "worker:w";
	j = run(p, &o, report_flamegraph);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "root"), "total")), 10);
	json_decref(j);
	o.tagfocus = NULL;
	o.tagignore = "worker=w1";
	j = run(p, &o, report_flamegraph);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "root"), "total")), 8);
	json_decref(j);

	/* query_range's focus totals: samples through C; through /bin/x */
	{
		struct report_focus *f = NULL;
		struct pf_err err = {0};
		int64_t t = -1;
		assert_int_equal(report_focus_new("^C$", &f, &err), 0);
		report_focus_totals(f, p, &t);
		assert_int_equal(t, 11);
		report_focus_free(f);
		assert_int_equal(report_focus_new("x$", &f, &err), 0);
		report_focus_totals(f, p, &t);
		assert_int_equal(t, 13);
		report_focus_free(f);
		assert_int_equal(report_focus_new("[", &f, &err), PF_EINVAL);
		assert_null(f);
		assert_non_null(strstr(err.msg, "bad focus regex \"[\""));
	}
	pprof_free(p);
}

static void test_tiny_sandwich(void **state)
{
	struct pprof_profile *p = tiny_profile();
	struct report_opts o;
	struct pf_buf b = PF_BUF_INIT(0);
	json_t *j;

	(void)state;
	report_opts_init(&o);
	o.function = "C (inline)"; /* the suffix is ignored */
	j = run(p, &o, report_sandwich);
	assert_string_equal(json_string_value(json_object_get(j, "function")), "C");
	tree_str(json_object_get(j, "callees"), &b);
	pf_buf_putc(&b, ' ');
	tree_str(json_object_get(j, "callers"), &b);
	pf_buf_putc(&b, 0);
	assert_string_equal((char *)b.data, "C(11,10)[A(1,1)] C(11,0)[B(11,0)[A(11,11)]]");
	pf_buf_free(&b);
	json_decref(j);
	pprof_free(p);
}

static void test_fixture_trees(void **state)
{
	static const char *const files[] = {"heap-001", "cpu-001", "goroutine-001", "block-001", "heap-large-001"};

	(void)state;
	for (size_t f = 0; f < PF_ARRAY_LEN(files); f++) {
		char path[128];
		struct pprof_profile *p;
		const pprof_msg *m;
		int64_t *totals;

		snprintf(path, sizeof(path), FIX "%s.pb.gz", files[f]);
		p = fixture_pprof(path);
		m = pprof_message(p);
		totals = pf_xcalloc(m->n_sample_type, sizeof(*totals));
		pprof_totals(p, totals);
		for (size_t i = 0; i < m->n_sample_type; i++) {
			struct report_opts o;
			char si[32];
			json_t *j, *root, *t;
			size_t n;

			report_opts_init(&o);
			snprintf(si, sizeof(si), "%zu", i);
			o.sample_index = si;
			j = run(p, &o, report_flamegraph);
			root = json_object_get(j, "root");
			assert_int_equal(json_integer_value(json_object_get(root, "total")), totals[i]);
			assert_int_equal(json_integer_value(json_object_get(j, "total")), totals[i]);
			check_tree(root, 0);
			json_decref(j);

			/* max_nodes: at most that many, the rest in "other" nodes */
			o.max_nodes = 30;
			j = run(p, &o, report_flamegraph);
			root = json_object_get(j, "root");
			n = check_tree(root, 0);
			assert_int_equal(json_integer_value(json_object_get(root, "total")), totals[i]);
			t = json_object_get(j, "trimmed");
			if (json_integer_value(json_object_get(t, "nodes")) > 0)
				assert_true(n <= 1 + 30 + 31); /* root, kept, at most one other each */
			json_decref(j);

			/* the diff of a profile with itself: zeros, base == target */
			{
				struct report_prep *a = NULL, *b = NULL;
				struct pf_err err = {0};
				json_t *row;
				size_t k;

				o.max_nodes = 0;
				o.node_fraction = 0;
				assert_int_equal(report_prep_new(p, &o, &a, &err), 0);
				assert_int_equal(report_prep_new(p, &o, &b, &err), 0);
				assert_int_equal(report_top_diff(a, b, &j, &err), 0);
				assert_true(json_array_size(json_object_get(j, "rows")) > 0);
				json_array_foreach(json_object_get(j, "rows"), k, row) {
					assert_int_equal(json_integer_value(json_object_get(row, "flat")), 0);
					assert_int_equal(json_integer_value(json_object_get(row, "cum")), 0);
				}
				json_decref(j);
				assert_int_equal(report_flamegraph_diff(a, b, &j, &err), 0);
				root = json_object_get(j, "root");
				check_tree(root, 1);
				assert_int_equal(json_integer_value(json_object_get(root, "base")), totals[i]);
				assert_int_equal(json_integer_value(json_object_get(root, "target")), totals[i]);
				assert_null(json_object_get(root, "only"));
				json_decref(j);
				report_prep_free(a);
				report_prep_free(b);
			}
		}
		free(totals);
		pprof_free(p);
	}
}

/* A trimmed flame graph does not depend on the order of the samples: nodes of
 * equal weight at the max_nodes cut are chosen by their place in the tree
 * (depth, then names), not by which sample created them first. A merge on
 * ClickHouse lists the samples in another order than on the embedded store,
 * and their flame graphs kept different ones of the tied nodes. */
static void test_trim_sample_order(void **state)
{
	static const char *const files[] = {"heap-001", "heap-large-001", "cpu-001"};
	static const size_t caps[] = {30, 300, 3000};

	(void)state;
	for (size_t f = 0; f < PF_ARRAY_LEN(files); f++) {
		char path[128];
		struct pprof_profile *p;
		pprof_msg *m;

		snprintf(path, sizeof(path), FIX "%s.pb.gz", files[f]);
		p = fixture_pprof(path);
		m = (pprof_msg *)pprof_message(p); /* the samples' order only */
		for (size_t c = 0; c < PF_ARRAY_LEN(caps); c++) {
			struct report_opts o;
			json_t *j;
			char *a, *b;

			report_opts_init(&o);
			o.max_nodes = caps[c];
			j = run(p, &o, report_flamegraph);
			a = flame_str(j);
			json_decref(j);
			for (size_t i = 0; i < m->n_sample / 2; i++) {
				Perftools__Profiles__Sample *x = m->sample[i];
				m->sample[i] = m->sample[m->n_sample - 1 - i];
				m->sample[m->n_sample - 1 - i] = x;
			}
			j = run(p, &o, report_flamegraph);
			b = flame_str(j);
			json_decref(j);
			if (strcmp(a, b) != 0)
				fail_msg("%s max_nodes %zu: the flame graph changes with the samples' order", files[f],
					 caps[c]);
			free(a);
			free(b);
		}
		pprof_free(p);
	}
}

static void test_diff_only(void **state)
{
	struct pprof_profile *a = fixture_pprof(FIX "heap-001.pb.gz"), *b = fixture_pprof(FIX "heap-010.pb.gz");
	struct report_prep *pa = NULL, *pb = NULL;
	struct report_opts o;
	struct pf_err err = {0};
	json_t *j;
	const char *dump;
	char *s;

	(void)state;
	report_opts_init(&o);
	o.sample_index = "alloc_space";
	assert_int_equal(report_prep_new(a, &o, &pa, &err), 0);
	assert_int_equal(report_prep_new(b, &o, &pb, &err), 0);
	assert_int_equal(report_flamegraph_diff(pa, pb, &j, &err), 0);
	check_tree(json_object_get(j, "root"), 1);
	s = json_dumps(j, JSON_COMPACT);
	dump = s;
	assert_non_null(strstr(dump, "\"only\":\"target\""));
	free(s);
	json_decref(j);
	report_prep_free(pa);
	report_prep_free(pb);
	pprof_free(a);
	pprof_free(b);
}

/* One side of a diff tree under node as tree_str prints a plain one: the
 * nodes not marked only:<other side>, each with that side's total and its
 * self (the side's total less its children's). */
static void side_str(json_t *node, const char *side, const char *other, struct pf_buf *b)
{
	json_int_t tot = json_integer_value(json_object_get(node, side)), self = tot;
	size_t i, nk = 0;
	json_t *c;

	json_array_foreach(json_object_get(node, "children"), i, c)
		self -= json_integer_value(json_object_get(c, side));
	pf_buf_printf(b, "%s(%lld,%lld)", json_string_value(json_object_get(node, "name")), (long long)tot,
		      (long long)self);
	json_array_foreach(json_object_get(node, "children"), i, c) {
		const char *only = json_string_value(json_object_get(c, "only"));
		if (only && strcmp(only, other) == 0)
			continue;
		pf_buf_putc(b, nk++ ? ' ' : '[');
		side_str(c, side, other, b);
	}
	if (nk)
		pf_buf_putc(b, ']');
}

/* The sandwich diff: on each side, its callers and callees trees are that
 * side's own sandwich (the same nodes, totals and selfs, so total = self +
 * children on each side); the net total is target - base and adds up; a
 * function of one side only marks its roots; one on neither side is
 * PF_EINVAL. */
static void test_sandwich_diff(void **state)
{
	static const char *const fns[] = {"compress/flate.NewWriter", "runtime.main",
					  "compress/flate.newHuffmanBitWriter", "compress/flate.(*compressor).initDeflate"};
	static const char *const sis[] = {"inuse_space", "alloc_objects"};
	struct pprof_profile *a = fixture_pprof(FIX "heap-001.pb.gz"), *b = fixture_pprof(FIX "heap-010.pb.gz");
	struct pf_err err = {0};
	size_t checked = 0;

	(void)state;
	for (size_t si = 0; si < PF_ARRAY_LEN(sis); si++) {
		for (size_t f = 0; f < PF_ARRAY_LEN(fns); f++) {
			struct report_prep *pa = NULL, *pb = NULL;
			struct report_opts o;
			json_t *d, *plain[2] = {NULL, NULL};
			struct pprof_profile *ps[2] = {a, b};

			report_opts_init(&o);
			o.sample_index = sis[si];
			o.function = fns[f];
			o.max_nodes = (size_t)1 << 20; /* no trimming: each side compares whole */
			assert_int_equal(report_prep_new(a, &o, &pa, &err), 0);
			assert_int_equal(report_prep_new(b, &o, &pb, &err), 0);
			if (report_sandwich_diff(pa, pb, &d, &err) < 0)
				fail_msg("sandwich diff %s: %s", fns[f], err.msg);
			for (int k = 0; k < 2; k++) {
				struct report_prep *p1 = NULL;
				assert_int_equal(report_prep_new(ps[k], &o, &p1, &err), 0);
				if (report_sandwich(p1, &plain[k], &err) < 0)
					assert_int_equal(err.code, PF_EINVAL); /* not on this side */
				report_prep_free(p1);
			}
			assert_string_equal(json_string_value(json_object_get(d, "function")), fns[f]);
			for (int t = 0; t < 2; t++) {
				const char *tree = t ? "callees" : "callers";
				json_t *root = json_object_get(d, tree);
				const char *only = json_string_value(json_object_get(root, "only"));

				check_tree(root, 1);
				assert_int_equal(json_integer_value(json_object_get(
							 json_object_get(json_object_get(d, "trimmed"), tree), "nodes")), 0);
				for (int k = 0; k < 2; k++) {
					const char *side = k ? "target" : "base", *other = k ? "base" : "target";
					struct pf_buf got = PF_BUF_INIT(0), want = PF_BUF_INIT(0);
					if (!plain[k]) {
						/* a side without the function: the roots say so */
						assert_non_null(only);
						assert_string_equal(only, other);
						assert_int_equal(json_integer_value(json_object_get(root, side)), 0);
						continue;
					}
					side_str(root, side, other, &got);
					tree_str(json_object_get(plain[k], tree), &want);
					pf_buf_putc(&got, 0);
					pf_buf_putc(&want, 0);
					assert_string_equal((char *)got.data, (char *)want.data);
					checked++;
					pf_buf_free(&got);
					pf_buf_free(&want);
				}
				if (plain[0] && plain[1])
					assert_null(only);
			}
			/* the function on one side only: the other side's sandwich failed */
			assert_true(plain[0] || plain[1]);
			/* heap-001 has newHuffmanBitWriter in its allocations, none in use:
			 * in inuse_space it is in no sample there */
			if (si == 0 && f == 2)
				assert_true(!plain[0] && plain[1]);
			json_decref(plain[0]);
			json_decref(plain[1]);
			json_decref(d);
			report_prep_free(pa);
			report_prep_free(pb);
		}
	}
	assert_true(checked >= 2 * 2 * 6); /* both sides of both trees for the shared functions */

	/* a function on neither side */
	{
		struct report_prep *pa = NULL, *pb = NULL;
		struct report_opts o;
		json_t *d = NULL;

		report_opts_init(&o);
		o.function = "nope";
		assert_int_equal(report_prep_new(a, &o, &pa, &err), 0);
		assert_int_equal(report_prep_new(b, &o, &pb, &err), 0);
		assert_int_equal(report_sandwich_diff(pa, pb, &d, &err), PF_EINVAL);
		assert_string_equal(err.msg, "function \"nope\" is in no sample (that the filters keep)");
		assert_null(d);
		report_prep_free(pa);
		report_prep_free(pb);
	}
	pprof_free(a);
	pprof_free(b);
}

/* tagfocus ranges with pprof's units: bytes=1kB:2kb keeps the samples
 * whose "bytes" label is 1024..2048 */
static void test_tag_ranges(void **state)
{
	struct pprof_profile *p = fixture_pprof(FIX "heap-001.pb.gz");
	const pprof_msg *m = pprof_message(p);
	static const struct {
		const char *focus, *ignore;
		int64_t lo, hi;
		int keep_in;
	} cases[] = {
		{"bytes=1kB:2kb", NULL, 1024, 2048, 1},
		{"1KB:2kb", NULL, 1024, 2048, 1},
		{"bytes=64B", NULL, 64, 64, 1},
		{"bytes=:32kb", NULL, INT64_MIN, 32768, 1},
		{NULL, "bytes=4mb:", 4194304, INT64_MAX, 0},
		{"bytes=64", NULL, 1, 0, 1}, /* unitless against bytes: nothing, as pprof */
	};

	(void)state;
	for (size_t c = 0; c < PF_ARRAY_LEN(cases); c++) {
		struct report_opts o;
		int64_t want = 0;
		json_t *j;

		report_opts_init(&o);
		o.sample_index = "alloc_space";
		o.tagfocus = cases[c].focus;
		o.tagignore = cases[c].ignore;
		for (size_t i = 0; i < m->n_sample; i++) {
			int in = 0;
			for (size_t k = 0; k < m->sample[i]->n_label; k++) {
				const Perftools__Profiles__Label *l = m->sample[i]->label[k];
				if (strcmp(pprof_string(p, l->key), "bytes") == 0 && l->num >= cases[c].lo &&
				    l->num <= cases[c].hi)
					in = 1;
			}
			if (in == cases[c].keep_in)
				want += m->sample[i]->value[1];
		}
		j = run(p, &o, report_flamegraph);
		if (json_integer_value(json_object_get(json_object_get(j, "root"), "total")) != want)
			fail_msg("%s/%s: root total %lld, want %lld", cases[c].focus ? cases[c].focus : "",
				 cases[c].ignore ? cases[c].ignore : "",
				 (long long)json_integer_value(json_object_get(json_object_get(j, "root"), "total")),
				 (long long)want);
		json_decref(j);
	}
	pprof_free(p);
}

/* a profile whose stacks expand past REPORT_MAX_FRAMES is refused: one
 * location with 1 M inlined lines in 65 samples */
static void test_frames_cap(void **state)
{
	const size_t nl = 1 << 20, ns = 65;
	char *strs[] = {"", "samples", "count", "f"};
	Perftools__Profiles__ValueType st = PERFTOOLS__PROFILES__VALUE_TYPE__INIT, *stp = &st;
	Perftools__Profiles__Function fn = PERFTOOLS__PROFILES__FUNCTION__INIT, *fnp = &fn;
	Perftools__Profiles__Location loc = PERFTOOLS__PROFILES__LOCATION__INIT, *locp = &loc;
	Perftools__Profiles__Line *lines = pf_xcalloc(nl, sizeof(*lines)), **linep = pf_xcalloc(nl, sizeof(*linep));
	Perftools__Profiles__Sample *smp = pf_xcalloc(ns, sizeof(*smp)), **smpp = pf_xcalloc(ns, sizeof(*smpp));
	pprof_msg m = PERFTOOLS__PROFILES__PROFILE__INIT;
	uint64_t locid = 1;
	int64_t one = 1;
	struct pprof_profile *p = NULL;
	struct report_prep *prep = NULL;
	struct report_opts o;
	struct pf_err err = {0};
	uint8_t *buf;
	size_t n;

	(void)state;
	st.type = 1;
	st.unit = 2;
	fn.id = 1;
	fn.name = 3;
	for (size_t i = 0; i < nl; i++) {
		perftools__profiles__line__init(&lines[i]);
		lines[i].function_id = 1;
		linep[i] = &lines[i];
	}
	loc.id = 1;
	loc.line = linep;
	loc.n_line = nl;
	for (size_t i = 0; i < ns; i++) {
		perftools__profiles__sample__init(&smp[i]);
		smp[i].location_id = &locid;
		smp[i].n_location_id = 1;
		smp[i].value = &one;
		smp[i].n_value = 1;
		smpp[i] = &smp[i];
	}
	m.string_table = strs;
	m.n_string_table = 4;
	m.sample_type = &stp;
	m.n_sample_type = 1;
	m.function = &fnp;
	m.n_function = 1;
	m.location = &locp;
	m.n_location = 1;
	m.sample = smpp;
	m.n_sample = ns;
	n = perftools__profiles__profile__get_packed_size(&m);
	buf = pf_xmalloc(n);
	perftools__profiles__profile__pack(&m, buf);
	if (pprof_decode(buf, n, (size_t)1 << 30, &p, &err) < 0)
		fail_msg("decode: %s", err.msg);
	report_opts_init(&o);
	assert_int_equal(report_prep_new(p, &o, &prep, &err), PF_ELIMIT);
	assert_null(prep);
	assert_non_null(strstr(err.msg, "more than 67108864 frames"));
	/* 8 samples (8 Mi frames) are fine */
	pprof_free(p);
	m.n_sample = 8;
	n = perftools__profiles__profile__get_packed_size(&m);
	perftools__profiles__profile__pack(&m, buf);
	if (pprof_decode(buf, n, (size_t)1 << 30, &p, &err) < 0)
		fail_msg("decode: %s", err.msg);
	assert_int_equal(report_prep_new(p, &o, &prep, &err), 0);
	report_prep_free(prep);
	pprof_free(p);
	free(buf);
	free(lines);
	free(linep);
	free(smp);
	free(smpp);
}

static void test_errors(void **state)
{
	struct pprof_profile *heap = fixture_pprof(FIX "heap-001.pb.gz"), *cpu = fixture_pprof(FIX "cpu-001.pb.gz");
	struct report_prep *p = NULL, *q = NULL;
	struct report_opts o;
	struct pf_err err = {0};
	enum report_granularity g;
	json_t *j = NULL;

	(void)state;
	report_opts_init(&o);
	o.sample_index = "nope";
	assert_int_equal(report_prep_new(heap, &o, &p, &err), PF_EINVAL);
	assert_string_equal(err.msg, "unknown sample_index \"nope\": the profile has alloc_objects, alloc_space, inuse_objects, inuse_space");
	o.sample_index = "4";
	assert_int_equal(report_prep_new(heap, &o, &p, &err), PF_EINVAL);
	assert_string_equal(err.msg, "sample_index 4 is outside the range [0..3]");
	o.sample_index = "space"; /* pprof's inuse_ alias only goes one way */
	assert_int_equal(report_prep_new(heap, &o, &p, &err), PF_EINVAL);
	o.sample_index = NULL;

	o.focus = "(a";
	assert_int_equal(report_prep_new(heap, &o, &p, &err), PF_EINVAL);
	assert_string_equal(err.msg, "bad focus regex \"(a\": missing closing parenthesis at offset 2");
	o.focus = NULL;
	o.show_from = "*";
	assert_int_equal(report_prep_new(heap, &o, &p, &err), PF_EINVAL);
	assert_non_null(strstr(err.msg, "bad show_from regex \"*\": quantifier does not follow a repeatable item"));
	o.show_from = NULL;
	o.tagfocus = "bytes=(";
	assert_int_equal(report_prep_new(heap, &o, &p, &err), PF_EINVAL);
	assert_string_equal(err.msg, "bad tagfocus regex \"(\": missing closing parenthesis at offset 1");
	o.tagfocus = NULL;
	assert_int_equal(report_granularity_parse("addresses", &g, &err), PF_EINVAL);
	assert_string_equal(err.msg, "unknown granularity \"addresses\" (want functions, lines or files)");

	/* a sandwich needs a function in a sample */
	assert_int_equal(report_prep_new(heap, &o, &p, &err), 0);
	assert_int_equal(report_sandwich(p, &j, &err), PF_EINVAL);
	report_prep_free(p);
	o.function = "no.such";
	assert_int_equal(report_prep_new(heap, &o, &p, &err), 0);
	assert_int_equal(report_sandwich(p, &j, &err), PF_EINVAL);
	assert_string_equal(err.msg, "function \"no.such\" is in no sample (that the filters keep)");
	o.function = NULL;

	/* a diff of different sample types */
	assert_int_equal(report_prep_new(cpu, &o, &q, &err), 0);
	assert_int_equal(report_top_diff(p, q, &j, &err), PF_EINVAL);
	assert_string_equal(err.msg, "cannot diff profiles of different sample types: the base's is inuse_space/bytes, the target's cpu/nanoseconds");
	assert_int_equal(report_flamegraph_diff(q, p, &j, &err), PF_EINVAL);
	assert_null(j);
	report_prep_free(p);
	report_prep_free(q);
	pprof_free(heap);
	pprof_free(cpu);
}

static void test_meta(void **state)
{
	struct pprof_profile *p = fixture_pprof(FIX "cpu-001.pb.gz");
	json_t *j = report_meta(p, 3);
	char *s;

	(void)state;
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	assert_non_null(strstr(s, "\"sample_types\":[{\"type\":\"samples\",\"unit\":\"count\"},{\"type\":\"cpu\",\"unit\":\"nanoseconds\"}]"));
	assert_non_null(strstr(s, "\"default_sample_type\":\"cpu\""));
	assert_non_null(strstr(s, "\"profiles\":3"));
	assert_non_null(strstr(s, "\"period_type\":{\"type\":\"cpu\",\"unit\":\"nanoseconds\"}"));
	free(s);
	json_decref(j);
	pprof_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tiny_top_and_flame),
		cmocka_unit_test(test_tiny_filters),
		cmocka_unit_test(test_tiny_sandwich),
		cmocka_unit_test(test_fixture_trees),
		cmocka_unit_test(test_trim_sample_order),
		cmocka_unit_test(test_diff_only),
		cmocka_unit_test(test_sandwich_diff),
		cmocka_unit_test(test_tag_ranges),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_frames_cap),
		cmocka_unit_test(test_meta),
	};
	return cmocka_run_group_tests_name("report", tests, NULL, NULL);
}
