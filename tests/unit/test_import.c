/* `profefe import`'s decisions that need no server (src/import): the type of
 * a pprof file from its sample types (the Go runtime's own profiles of
 * tests/fixtures/pprof, whose names say what they are), what a file is
 * from its first bytes, -label; and bundle_read_one, the lone profile as
 * POST /api/v1/profiles and -tsdb.dir read it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "bundle/bundle.h"
#include "import/import.h"
#include "fixture.h"

#define FIX "tests/fixtures/"

/* infer(file, name): the type import_infer_type gives, or "" with why;
 * import_pprof_type (the quick look at the file's bytes) must agree */
static void infer(const char *file, const char *name, char *type, char *why)
{
	struct pprof_profile *p = fixture_pprof(file);
	struct pf_buf b;
	char t2[32] = "", w2[512] = "";

	type[0] = why[0] = 0;
	if (import_infer_type(p, name, type, 32, why, 512) != 0)
		type[0] = 0;
	pprof_free(p);
	fixture_read(file, &b);
	if (import_pprof_type(b.data, b.len, (size_t)512 << 20, name, t2, sizeof(t2), w2, sizeof(w2)) != 0)
		t2[0] = 0;
	pf_buf_free(&b);
	if (strcmp(type, t2) != 0 || strcmp(why, w2) != 0)
		fail_msg("%s as %s: import_infer_type \"%s\" (%s), import_pprof_type \"%s\" (%s)", file, name,
			 type, why, t2, w2);
}

static void test_infer_type(void **state)
{
	static const struct {
		const char *file, *name, *want;
	} cases[] = {
		{FIX "pprof/heap-001.pb.gz", "heap-001.pb.gz", "heap"},
		{FIX "pprof/heap-large-001.pb.gz", "x.pb.gz", "heap"},
		{FIX "pprof/allocs-001.pb.gz", "x.pb.gz", "allocs"},  /* default alloc_space */
		/* allocs?seconds=2 (pprof's own encoder) sets no default: the
		 * content is a heap profile's, the name may say allocs */
		{FIX "pprof/allocs-delta-001.pb.gz", "x", "heap"},
		{FIX "pprof/allocs-delta-001.pb.gz", "d/allocs-delta-001.pb.gz", "allocs"},
		{FIX "pprof/cpu-001.pb.gz", "profile", "cpu"},
		{FIX "pprof/goroutine-001.pb.gz", "g", "goroutine"},
		{FIX "pprof/threadcreate-001.pb.gz", "t", "threadcreate"},
		{FIX "pprof/block-001.pb.gz", "dir/block-001.pb.gz", "block"},
		{FIX "pprof/mutex-001.pb.gz", "dir/mutex-001.pb.gz", "mutex"},
		/* the name decides between the two, whatever the content */
		{FIX "pprof/block-001.pb.gz", "/a/mutex/app-mutex.pb.gz", "mutex"},
		{FIX "pprof/heap-plain.pb", "heap-plain.pb", "heap"},
	};
	char type[32], why[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *file = cases[i].file;
		char path[256];
		if (strstr(file, "heap-plain")) {
			snprintf(path, sizeof(path), FIX "bad/heap-plain.pb");
			file = path;
		}
		infer(file, cases[i].name, type, why);
		if (strcmp(type, cases[i].want) != 0)
			fail_msg("%s as %s: got \"%s\" (%s), want %s", file, cases[i].name, type, why,
				 cases[i].want);
	}
	/* block and mutex without a name that tells: not a type, and why */
	infer(FIX "pprof/block-001.pb.gz", "contention.pb.gz", type, why);
	assert_string_equal(type, "");
	assert_non_null(strstr(why, "block and mutex profiles have the same sample types"));
	assert_non_null(strstr(why, "neither"));
	assert_non_null(strstr(why, "-type"));
	infer(FIX "pprof/mutex-001.pb.gz", "block-and-mutex.pb.gz", type, why);
	assert_string_equal(type, "");
	assert_non_null(strstr(why, "both"));
	/* the directory does not count, only the base name */
	infer(FIX "pprof/mutex-001.pb.gz", "block/x.pb.gz", type, why);
	assert_string_equal(type, "");
}

/* A custom profile (autoprof's open-conns) has sample types of its own. */
static void test_infer_custom(void **state)
{
	struct pf_buf z;
	struct bundle *b = NULL;
	struct pf_err err = {0};
	struct bundle_options o = {.pprof = {.max_decompressed = (size_t)512 << 20}};
	const struct bundle_profile *bp = NULL;
	struct pprof_profile *p = NULL;
	char type[32], why[512];

	(void)state;
	fixture_read(FIX "autoprof/bundle-001.zip", &z);
	if (bundle_read(z.data, z.len, &o, &b, &err) != 0)
		fail_msg("%s", err.msg);
	for (size_t i = 0; i < bundle_nprofiles(b); i++)
		if (strcmp(bundle_profile_at(b, i)->type, "example.com_shop_open-conns") == 0)
			bp = bundle_profile_at(b, i);
	assert_non_null(bp);
	if (pprof_decode(bp->body, bp->len, (size_t)64 << 20, &p, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(import_infer_type(p, "open-conns", type, sizeof(type), why, sizeof(why)),
			 PF_ENOTFOUND);
	assert_string_equal(why, "cannot tell the type from the sample types (example.com/shop/open-conns/count): give -type");
	pprof_free(p);
	bundle_free(b);
	pf_buf_free(&z);
}

/* The quick look refuses nothing the decoder takes, and hands what it
 * cannot read to the decoder for the reason. */
static void test_pprof_type_bad(void **state)
{
	static const struct {
		const char *file, *why;
		int rc;
	} cases[] = {
		{FIX "bad/truncated.pb.gz", "could not parse pprof profile: decompressing profile: unexpected EOF", PF_EINVAL},
		{FIX "bad/random.pb.gz", "could not parse pprof profile: parsing profile: unrecognized profile format", PF_EINVAL},
		{FIX "bad/bad-string-index.pb.gz", "string index 99 out of range", PF_EINVAL},
		{FIX "bad/goroutine-debug1.txt", "debug=0", PF_EINVAL},
		{FIX "bad/trailing-garbage.pb.gz", "gzip: invalid header", PF_EINVAL},
	};
	char type[32], why[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pf_buf b;
		int rc;
		fixture_read(cases[i].file, &b);
		rc = import_pprof_type(b.data, b.len, (size_t)512 << 20, cases[i].file, type, sizeof(type), why, sizeof(why));
		pf_buf_free(&b);
		if (rc != cases[i].rc || !strstr(why, cases[i].why))
			fail_msg("%s: rc %d \"%s\", want %d \"%s\"", cases[i].file, rc, why, cases[i].rc, cases[i].why);
	}
}

static void test_sniff(void **state)
{
	static const struct {
		const char *file;
		enum import_kind want;
	} cases[] = {
		{FIX "autoprof/bundle-001.zip", IMPORT_BUNDLE},
		{FIX "bad/bundle-truncated.zip", IMPORT_BUNDLE},
		{FIX "pprof/trace-001.out", IMPORT_TRACE},
		{FIX "pprof/heap-001.pb.gz", IMPORT_PPROF},
		{FIX "bad/heap-plain.pb", IMPORT_PPROF},
		{FIX "bad/goroutine-debug1.txt", IMPORT_PPROF},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pf_buf b;
		fixture_read(cases[i].file, &b);
		if (import_sniff(b.data, b.len) != cases[i].want)
			fail_msg("%s: kind %d, want %d", cases[i].file, import_sniff(b.data, b.len),
				 cases[i].want);
		pf_buf_free(&b);
	}
	assert_int_equal(import_sniff("", 0), IMPORT_PPROF);
	assert_int_equal(import_sniff("PK\5\6", 4), IMPORT_BUNDLE); /* an empty zip */
}

static void test_label(void **state)
{
	static const struct {
		const char *kv, *err; /* err NULL: valid */
	} cases[] = {
		{"env=prod", NULL},
		{"_x9=a=b", NULL}, /* the value keeps its '=' */
		{"env", "want name=value"},
		{"=v", "want name=value"},
		{"9x=v", "invalid label name"},
		{"a-b=v", "invalid label name"},
		{"__x=v", "reserved"},
		{"service=x", "cannot be set with -label"},
		{"type=x", "cannot be set with -label"},
		{"job=x", "cannot be set with -label"},
		{"env=", "1 to 1024 bytes"},
		{"env=\xff", "UTF-8"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tsdb_label l;
		struct pf_err err = {0};
		char name[128];
		int rc = import_label_parse(cases[i].kv, name, sizeof(name), &l, &err);
		if (!cases[i].err) {
			if (rc != 0)
				fail_msg("%s: %s", cases[i].kv, err.msg);
			assert_string_equal(l.value, strchr(cases[i].kv, '=') + 1);
		} else if (rc != PF_EINVAL || !strstr(err.msg, cases[i].err)) {
			fail_msg("%s: rc %d \"%s\", want an error with \"%s\"", cases[i].kv, rc, err.msg,
				 cases[i].err);
		}
	}
}

/* bundle_read_one: a lone profile gets what a bundle's entry gets. */
static void test_read_one(void **state)
{
	struct bundle_options o = {.pprof = {.max_decompressed = (size_t)512 << 20}};
	struct tsdb_label extra = {"env", "test"};
	struct bundle_one one = {.name = "heap.pb.gz", .type = "heap", .service = "api", .t_ns = 5};
	struct pf_buf gz, raw, tr;
	struct bundle *a = NULL, *b = NULL;
	struct pf_err err = {0};
	const struct bundle_profile *pa, *pb;

	(void)state;
	fixture_read(FIX "pprof/heap-001.pb.gz", &gz);
	fixture_read(FIX "bad/heap-plain.pb", &raw);
	fixture_read(FIX "pprof/trace-001.out", &tr);
	o.labels = &extra;
	o.nlabels = 1;
	if (bundle_read_one(gz.data, gz.len, &one, &o, &a, &err) != 0 ||
	    bundle_read_one(raw.data, raw.len, &one, &o, &b, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(bundle_nprofiles(a), 1);
	pa = bundle_profile_at(a, 0);
	pb = bundle_profile_at(b, 0);
	assert_int_equal(pa->nlabels, 3); /* env, service, type: sorted */
	assert_string_equal(pa->labels[0].name, "env");
	assert_string_equal(pa->labels[1].value, "api");
	assert_string_equal(pa->labels[2].value, "heap");
	assert_true(pa->t_ns > 1700000000000000000LL); /* its own time_nanos, not one.t_ns */
	/* gzip or not, the same profile; the digest computed when asked */
	assert_false(pa->has_digest);
	{
		uint64_t da = 0, db = 1;
		assert_int_equal(bundle_profile_digest(pa, &o.pprof, &da, &err), 0);
		assert_int_equal(bundle_profile_digest(pb, &o.pprof, &db, &err), 0);
		assert_int_equal(da, db);
	}
	assert_int_equal(pa->t_ns, pb->t_ns);
	/* the inflated body is kept for the store: the plain file's bytes */
	assert_non_null(pa->plain);
	assert_non_null(pb->plain);
	assert_int_equal(pa->plain_len, raw.len);
	assert_memory_equal(pa->plain, raw.data, raw.len);
	assert_memory_equal(pb->plain, raw.data, raw.len);
	bundle_free(a);
	bundle_free(b);
	a = b = NULL;
	/* a trace takes one.t_ns */
	one.type = "trace";
	if (bundle_read_one(tr.data, tr.len, &one, &o, &a, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(bundle_profile_at(a, 0)->t_ns, 5);
	assert_int_equal(bundle_profile_at(a, 0)->kind, TSDB_KIND_RAW);
	bundle_free(a);
	a = NULL;
	/* refusals and skips */
	assert_int_equal(bundle_read_one(gz.data, gz.len, &one, &o, &a, &err), PF_EINVAL); /* not a trace */
	assert_non_null(strstr(err.msg, "not a Go execution trace"));
	one.type = "Heap!";
	assert_int_equal(bundle_read_one(gz.data, gz.len, &one, &o, &a, &err), PF_EINVAL);
	assert_non_null(strstr(err.msg, "unknown profile type"));
	one.type = "heap";
	assert_int_equal(bundle_read_one(gz.data, gz.len / 2, &one, &o, &a, &err), PF_EINVAL);
	assert_non_null(strstr(err.msg, "could not parse pprof profile"));
	assert_int_equal(bundle_read_one("", 0, &one, &o, &a, &err), 0);
	assert_int_equal(bundle_nprofiles(a), 0);
	assert_string_equal(bundle_skipped_at(a, 0)->reason, "empty file (0 bytes)");
	bundle_free(a);
	assert_true(bundle_type_valid("fgprof") && bundle_type_valid("heap") && !bundle_type_valid("unknown") &&
		    !bundle_type_valid("") && !bundle_type_valid("a/b"));
	pf_buf_free(&gz);
	pf_buf_free(&raw);
	pf_buf_free(&tr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_infer_type),
		cmocka_unit_test(test_infer_custom),
		cmocka_unit_test(test_pprof_type_bad),
		cmocka_unit_test(test_sniff),
		cmocka_unit_test(test_label),
		cmocka_unit_test(test_read_one),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
