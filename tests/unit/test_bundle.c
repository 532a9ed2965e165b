/* The bundle reader and writer (src/bundle) on the real autoprof bundles of
 * tests/fixtures/autoprof and the bad ones of tests/fixtures/bad. */
#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "bundle/bundle.h"
#include "fixture.h"

#define FIX "tests/fixtures/"

static const struct bundle_options plain = {.pprof = {.max_decompressed = (size_t)512 << 20}};

static struct bundle *read_ok(const char *path, const struct bundle_options *o)
{
	struct pf_buf b;
	struct pf_err err = {0};
	struct bundle *bu = NULL;

	fixture_read(path, &b);
	if (bundle_read(b.data, b.len, o, &bu, &err) != 0)
		fail_msg("%s: %s", path, err.msg);
	pf_buf_free(&b);
	return bu;
}

static struct bundle *read_ok_buf(const struct pf_buf *z)
{
	struct pf_err err = {0};
	struct bundle *bu = NULL;

	if (bundle_read(z->data, z->len, &plain, &bu, &err) != 0)
		fail_msg("%s", err.msg);
	return bu;
}

static int read_bad(const void *data, size_t len, const struct bundle_options *o, struct pf_err *err)
{
	struct bundle *bu = NULL;
	int rc = bundle_read(data, len, o, &bu, err);
	assert_null(bu);
	return rc;
}

static const char *label(const struct bundle_profile *p, const char *name)
{
	for (size_t i = 0; i < p->nlabels; i++)
		if (strcmp(p->labels[i].name, name) == 0)
			return p->labels[i].value;
	return NULL;
}

static const struct bundle_profile *by_entry(const struct bundle *b, const char *entry)
{
	for (size_t i = 0; i < bundle_nprofiles(b); i++)
		if (strcmp(bundle_profile_at(b, i)->entry, entry) == 0)
			return bundle_profile_at(b, i);
	return NULL;
}

static void test_fixture_bundles(void **state)
{
	static const struct {
		const char *file, *service, *proc_id;
		const char *entries; /* entry:type, in order */
		size_t nskipped;
	} want[] = {
		{"bundle-001.zip", "shopd", "1-6b02e8ab-22151175a9c00910b4e15094-10239",
		 "heap:heap allocs:allocs block:block example.com%2Fshop%2Fopen-conns:example.com_shop_open-conns "
		 "goroutine:goroutine mutex:mutex threadcreate:threadcreate", 0},
		{"bundle-002.zip", "shopd", "1-6b02e8ab-22151175a9c00910b4e15094-10239",
		 "heap:heap allocs:allocs block:block example.com%2Fshop%2Fopen-conns:example.com_shop_open-conns "
		 "goroutine:goroutine mutex:mutex threadcreate:threadcreate profile:cpu", 0},
		{"bundle-003.zip", "shopd", "1-6b02e8ab-22151175a9c00910b4e15094-10239",
		 "heap:heap allocs:allocs block:block example.com%2Fshop%2Fopen-conns:example.com_shop_open-conns "
		 "goroutine:goroutine mutex:mutex threadcreate:threadcreate profile:cpu trace:trace "
		 "profile-during-trace:cpu", 0},
		{"edge-empty-profile-during-trace.zip", "apedge", "1-6b02e8d8-769138e194b20b9db34b1fae-10394",
		 "heap:heap allocs:allocs goroutine:goroutine threadcreate:threadcreate", 4},
		{"edge-trace-no-cpu.zip", "apedge", "1-6b02e8d8-769138e194b20b9db34b1fae-10394",
		 "heap:heap allocs:allocs goroutine:goroutine threadcreate:threadcreate trace:trace", 2},
	};
	(void)state;
	for (size_t i = 0; i < PF_ARRAY_LEN(want); i++) {
		char path[256], list[1024] = "";
		struct bundle *b;
		const struct bundle_meta *m;

		snprintf(path, sizeof(path), FIX "autoprof/%s", want[i].file);
		b = read_ok(path, &plain);
		m = bundle_get_meta(b);
		assert_string_equal(m->hostname, "vm");
		assert_string_equal(m->proc_id, want[i].proc_id);
		assert_true(m->capture_ns > 0);
		for (size_t j = 0; j < bundle_nprofiles(b); j++) {
			const struct bundle_profile *p = bundle_profile_at(b, j);
			size_t o = strlen(list);
			snprintf(list + o, sizeof(list) - o, "%s%s:%s", j ? " " : "", p->entry + 6, p->type);
			assert_string_equal(label(p, "service"), want[i].service);
			assert_string_equal(label(p, "type"), p->type);
			assert_string_equal(label(p, "instance"), "vm");
			assert_string_equal(label(p, "proc_id"), want[i].proc_id);
			assert_string_equal(label(p, "go_version"), "go1.19.8");
			assert_string_equal(label(p, "revision"), "(devel)");
			/* sorted by name, names unique */
			for (size_t k = 1; k < p->nlabels; k++)
				assert_true(strcmp(p->labels[k - 1].name, p->labels[k].name) < 0);
			if (strcmp(p->type, "trace") == 0) {
				assert_int_equal(p->kind, TSDB_KIND_RAW);
				assert_int_equal(p->t_ns, m->capture_ns); /* a trace has no time of its own */
				assert_memory_equal(p->body, "go 1.19 trace", 13);
			} else {
				assert_int_equal(p->kind, TSDB_KIND_PPROF);
				assert_true(pprof_is_gzip(p->body, p->len));
				assert_true(p->ntotals > 0);
				/* time_nanos: within 2 s after capture_time */
				assert_true(p->t_ns >= m->capture_ns && p->t_ns < m->capture_ns + 2000000000LL);
			}
			if (strcmp(p->entry, "pprof/profile-during-trace") == 0)
				assert_string_equal(label(p, "during_trace"), "true");
			else
				assert_null(label(p, "during_trace"));
		}
		assert_string_equal(list, want[i].entries);
		assert_int_equal(bundle_nskipped(b), want[i].nskipped);
		bundle_free(b);
	}
}

static void test_fixture_details(void **state)
{
	struct bundle *b;
	const struct bundle_profile *p;
	struct bundle_options o = plain;
	const struct tsdb_label user[] = {{"env", "prod"}, {"instance", "override"}};
	(void)state;

	/* times from the profiles' time_nanos (go tool pprof -raw says the same) */
	b = read_ok(FIX "autoprof/bundle-001.zip", &plain);
	assert_int_equal(by_entry(b, "pprof/heap")->t_ns, 1795352781829587441LL);
	assert_int_equal(by_entry(b, "pprof/threadcreate")->t_ns, 1795352781848400310LL);
	assert_string_equal(bundle_get_meta(b)->capture_time, "2026-11-22T13:06:21.828Z");
	assert_int_equal(bundle_get_meta(b)->capture_ns, 1795352781828000000LL);
	bundle_free(b);

	b = read_ok(FIX "autoprof/edge-empty-profile-during-trace.zip", &plain);
	assert_string_equal(bundle_skipped_at(b, 0)->entry, "pprof/block");
	assert_string_equal(bundle_skipped_at(b, 0)->reason, "profile has no samples");
	assert_string_equal(bundle_skipped_at(b, 2)->entry, "pprof/profile");
	assert_string_equal(bundle_skipped_at(b, 2)->reason, "profile has no samples");
	assert_string_equal(bundle_skipped_at(b, 3)->entry, "pprof/profile-during-trace");
	assert_string_equal(bundle_skipped_at(b, 3)->reason, "empty entry (0 bytes)");
	bundle_free(b);

	/* ?service= and ?labels= */
	o.service = "shop";
	o.labels = user;
	o.nlabels = 2;
	b = read_ok(FIX "autoprof/bundle-003.zip", &o);
	p = by_entry(b, "pprof/trace");
	assert_non_null(p);
	assert_string_equal(label(p, "service"), "shop");
	assert_string_equal(label(p, "env"), "prod");
	assert_string_equal(label(p, "instance"), "override");
	bundle_free(b);
}

static void test_bad_bundles(void **state)
{
	struct pf_buf b;
	struct pf_err err = {0};
	(void)state;

	fixture_read(FIX "bad/bundle-truncated.zip", &b);
	assert_int_equal(read_bad(b.data, b.len, &plain, &err), PF_EINVAL);
	assert_non_null(strstr(err.msg, "no central directory"));
	pf_buf_free(&b);

	fixture_read(FIX "bad/bundle-no-meta.zip", &b);
	assert_int_equal(read_bad(b.data, b.len, &plain, &err), PF_EINVAL);
	assert_string_equal(err.msg, "bundle has no \"meta\" entry");
	pf_buf_free(&b);

	assert_int_equal(read_bad("", 0, &plain, &err), PF_EINVAL);
	assert_int_equal(read_bad("PK\3\4garbage", 11, &plain, &err), PF_EINVAL);

	/* a byte of pprof/heap's data changed: its CRC fails, named */
	fixture_read(FIX "autoprof/bundle-001.zip", &b);
	{
		uint8_t *heap = memmem(b.data, b.len, "pprof/heap", 10);
		assert_non_null(heap);
		heap[10 + 200] ^= 0x55; /* inside the entry's data, after its local header */
		assert_int_equal(read_bad(b.data, b.len, &plain, &err), PF_EINVAL);
		assert_non_null(strstr(err.msg, "entry \"pprof/heap\""));
		assert_non_null(strstr(err.msg, "CRC"));
	}
	pf_buf_free(&b);
}

static void test_caps(void **state)
{
	struct pf_buf b;
	struct pf_err err = {0};
	struct bundle_options o = plain;
	(void)state;

	fixture_read(FIX "autoprof/bundle-001.zip", &b);
	o.max_entries = 8; /* it has 9 */
	assert_int_equal(read_bad(b.data, b.len, &o, &err), PF_ETOOBIG);
	assert_string_equal(err.msg, "bundle has 9 entries, over the cap of 8");
	o.max_entries = 9;
	o.max_total = 50000; /* meta + expvar + heap fit, allocs does not */
	assert_int_equal(read_bad(b.data, b.len, &o, &err), PF_ETOOBIG);
	assert_non_null(strstr(err.msg, "entry \"pprof/allocs\": the entries' sizes add up to more than the cap of 50000 bytes"));
	o.max_total = 0;
	o.pprof.max_decompressed = 20000; /* the heap profile inflates past it */
	assert_int_equal(read_bad(b.data, b.len, &o, &err), PF_ETOOBIG);
	assert_non_null(strstr(err.msg, "entry \"pprof/heap\": decompressed profile is larger than 20000 bytes"));
	pf_buf_free(&b);
}

static void test_names(void **state)
{
	char out[64], type[BUNDLE_MAX_TYPE + 16];
	struct pf_err err = {0};
	int dt;
	(void)state;

	assert_int_equal(bundle_entry_name("meta", out, sizeof(out), &err), 0);
	assert_string_equal(out, "meta");
	assert_int_equal(bundle_entry_name("./pprof/heap", out, sizeof(out), &err), 0);
	assert_string_equal(out, "pprof/heap");
	assert_int_equal(bundle_entry_name("././meta", out, sizeof(out), &err), 0);
	assert_string_equal(out, "meta");
	assert_int_equal(bundle_entry_name("pprof/..x", out, sizeof(out), &err), 0);
	assert_int_equal(bundle_entry_name("../meta", out, sizeof(out), &err), PF_EINVAL);
	assert_string_equal(err.msg, "entry name has a \"..\" element");
	assert_int_equal(bundle_entry_name("pprof/../../etc/passwd", out, sizeof(out), &err), PF_EINVAL);
	assert_int_equal(bundle_entry_name("pprof/..", out, sizeof(out), &err), PF_EINVAL);
	assert_int_equal(bundle_entry_name("/etc/passwd", out, sizeof(out), &err), PF_EINVAL);
	assert_string_equal(err.msg, "absolute entry name");
	assert_int_equal(bundle_entry_name("C:meta", out, sizeof(out), &err), PF_EINVAL);
	assert_int_equal(bundle_entry_name("pprof\\heap", out, sizeof(out), &err), PF_EINVAL);
	assert_int_equal(bundle_entry_name("./", out, sizeof(out), &err), PF_EINVAL);

	assert_int_equal(bundle_entry_type("heap", type, &dt, &err), 0);
	assert_string_equal(type, "heap");
	assert_int_equal(bundle_entry_type("profile", type, &dt, &err), 0);
	assert_string_equal(type, "cpu");
	assert_int_equal(dt, 0);
	assert_int_equal(bundle_entry_type("profile-during-trace", type, &dt, &err), 0);
	assert_string_equal(type, "cpu");
	assert_int_equal(dt, 1);
	assert_int_equal(bundle_entry_type("trace", type, &dt, &err), 0);
	assert_string_equal(type, "trace");
	assert_int_equal(bundle_entry_type("example.com%2Fshop%2Fopen-conns", type, &dt, &err), 0);
	assert_string_equal(type, "example.com_shop_open-conns");
	assert_int_equal(bundle_entry_type("My%20Prof%C3%A9", type, &dt, &err), 0);
	assert_string_equal(type, "my_prof__");
	assert_int_equal(bundle_entry_type("CPU", type, &dt, &err), 0);
	assert_string_equal(type, "custom_cpu");
	assert_int_equal(bundle_entry_type("unknown", type, &dt, &err), 0);
	assert_string_equal(type, "custom_unknown");
	assert_int_equal(bundle_entry_type("bad%2", type, &dt, &err), PF_EINVAL);
	assert_int_equal(bundle_entry_type("", type, &dt, &err), PF_EINVAL);

	bundle_type_entry("cpu", 1, out, sizeof(out));
	assert_string_equal(out, "pprof/profile-during-trace");
	bundle_type_entry("cpu", 0, out, sizeof(out));
	assert_string_equal(out, "pprof/profile");
	bundle_type_entry("example.com_shop_open-conns", 0, out, sizeof(out));
	assert_string_equal(out, "pprof/example.com_shop_open-conns");
}

/* A zip of (name, data) pairs made with the writer. */
static void make_zip(struct pf_buf *out, const char *const *names, const char *const *data,
		     const size_t *lens, size_t n)
{
	struct bundle_writer *w = bundle_writer_new();
	struct pf_err err = {0};

	for (size_t i = 0; i < n; i++)
		if (bundle_writer_add(w, names[i], data[i], lens[i], &err) < 0)
			fail_msg("%s", err.msg);
	pf_buf_init(out, 0);
	if (bundle_writer_finish(w, out, &err) < 0)
		fail_msg("%s", err.msg);
	bundle_writer_free(w);
}

static void test_writer_and_odd_entries(void **state)
{
	static const char meta[] = "{\"main\":\"example.com/x/cmd/svc\",\"hostname\":\"h1\",\"proc_id\":\"p1\","
				   "\"revision\":\"\",\"capture_time\":\"2026-11-22T13:06:21.828Z\",\"extra\":7}";
	struct pf_buf heap, z;
	struct pf_err err = {0};
	struct bundle *b;
	const struct bundle_profile *p;
	(void)state;

	fixture_read(FIX "pprof/heap-001.pb.gz", &heap);
	{
		/* ./ prefixes tolerated, unknown entries and meta keys ignored */
		const char *names[] = {"./meta", "./pprof/heap", "./expvar", "custom/x", "pprof/trace"};
		const char *data[] = {meta, (const char *)heap.data, "{}", "zz", "go 1.19 trace\0\0\0xyz"};
		size_t lens[] = {sizeof(meta) - 1, heap.len, 2, 2, 19};
		make_zip(&z, names, data, lens, 5);
		b = read_ok_buf(&z);
	}
	assert_int_equal(bundle_nprofiles(b), 2);
	p = bundle_profile_at(b, 0);
	assert_string_equal(p->entry, "pprof/heap");
	assert_string_equal(label(p, "service"), "svc");
	assert_string_equal(label(p, "instance"), "h1");
	assert_null(label(p, "revision")); /* empty: left out */
	assert_null(label(p, "go_version"));
	assert_int_equal(p->len, heap.len);
	assert_memory_equal(p->body, heap.data, heap.len);
	p = bundle_profile_at(b, 1);
	assert_string_equal(p->type, "trace");
	assert_int_equal(p->len, 19);
	bundle_free(b);
	pf_buf_free(&z);

	{
		/* a ".." name, a repeated name, a bad pprof, a trace that is not one */
		const char *cases[][2] = {
			{"../pprof/heap", "entry \"../pprof/heap\": entry name has a \"..\" element"},
			{"./pprof/heap", "entry \"pprof/heap\" appears twice"},
			{"pprof/block", "entry \"pprof/block\": could not parse pprof profile: "},
			{"pprof/trace", "entry \"pprof/trace\": not a Go execution trace"},
		};
		for (size_t i = 0; i < PF_ARRAY_LEN(cases); i++) {
			const char *names[] = {"meta", "pprof/heap", cases[i][0]};
			const char *data[] = {meta, (const char *)heap.data,
					      i == 1 ? (const char *)heap.data : "garbage!"};
			size_t lens[] = {sizeof(meta) - 1, heap.len, i == 1 ? heap.len : 8};
			make_zip(&z, names, data, lens, 3);
			assert_int_equal(read_bad(z.data, z.len, &plain, &err), PF_EINVAL);
			if (!strstr(err.msg, cases[i][1]))
				fail_msg("case %zu: %s", i, err.msg);
			pf_buf_free(&z);
		}
	}
	{
		/* meta without main and no service; meta not an object */
		const char *names[] = {"meta", "pprof/heap"};
		const char *data[] = {"{\"hostname\":\"h\"}", (const char *)heap.data};
		size_t lens[] = {16, heap.len};
		make_zip(&z, names, data, lens, 2);
		assert_int_equal(read_bad(z.data, z.len, &plain, &err), PF_EINVAL);
		assert_string_equal(err.msg, "entry \"meta\": \"main\" is empty and no service was given");
		pf_buf_free(&z);
		data[0] = "[1]";
		lens[0] = 3;
		make_zip(&z, names, data, lens, 2);
		assert_int_equal(read_bad(z.data, z.len, &plain, &err), PF_EINVAL);
		assert_string_equal(err.msg, "entry \"meta\": not a JSON object");
		pf_buf_free(&z);
		data[0] = "{\"main\":5}";
		lens[0] = 10;
		make_zip(&z, names, data, lens, 2);
		assert_int_equal(read_bad(z.data, z.len, &plain, &err), PF_EINVAL);
		assert_string_equal(err.msg, "entry \"meta\": \"main\" is not a string");
		pf_buf_free(&z);
	}
	pf_buf_free(&heap);
}

static void test_writer_roundtrip(void **state)
{
	struct bundle *a = read_ok(FIX "autoprof/bundle-003.zip", &plain), *b;
	struct bundle_writer *w = bundle_writer_new();
	struct pf_buf z = PF_BUF_INIT(0), orig;
	struct pf_err err = {0};
	(void)state;

	fixture_read(FIX "autoprof/bundle-003.zip", &orig);
	{
		/* the original meta, then every profile under its own entry name */
		struct bundle *m = a;
		char meta[512];
		const struct bundle_meta *bm = bundle_get_meta(m);
		int n = snprintf(meta, sizeof(meta), "{\"main\":\"%s\",\"hostname\":\"%s\",\"proc_id\":\"%s\",\"go_version\":\"%s\",\"revision\":\"%s\",\"capture_time\":\"%s\"}",
				 bm->main, bm->hostname, bm->proc_id, bm->go_version, bm->revision, bm->capture_time);
		assert_int_equal(bundle_writer_add(w, "meta", meta, (size_t)n, &err), 0);
	}
	for (size_t i = 0; i < bundle_nprofiles(a); i++) {
		const struct bundle_profile *p = bundle_profile_at(a, i);
		assert_int_equal(bundle_writer_add(w, p->entry, p->body, p->len, &err), 0);
	}
	assert_int_equal(bundle_writer_finish(w, &z, &err), 0);
	bundle_writer_free(w);
	b = read_ok_buf(&z);
	assert_int_equal(bundle_nprofiles(b), bundle_nprofiles(a));
	for (size_t i = 0; i < bundle_nprofiles(a); i++) {
		const struct bundle_profile *p = bundle_profile_at(a, i), *q = bundle_profile_at(b, i);
		assert_string_equal(p->entry, q->entry);
		assert_int_equal(p->t_ns, q->t_ns);
		assert_int_equal(p->digest, q->digest);
		assert_null(q->plain); /* a bundle's entries are not kept inflated */
		assert_int_equal(p->nlabels, q->nlabels);
		assert_int_equal(p->len, q->len);
		assert_memory_equal(p->body, q->body, p->len);
	}
	bundle_free(a);
	bundle_free(b);
	pf_buf_free(&z);
	pf_buf_free(&orig);
}

/* The duplicate check against a real store: same series, time and content
 * only; the digest survives the store's re-encoding in a block. */
static void test_stored(void **state)
{
	char dir[64];
	struct tsdb_options to = {.dir = dir, .maintenance_ns = -1};
	struct bundle *b = read_ok(FIX "autoprof/bundle-003.zip", &plain);
	struct pf_err err = {0};
	struct store *db;
	(void)state;

	fixture_store_dir(dir, "bundle");
	db = fixture_istore_open(&to);
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < bundle_nprofiles(b); i++) {
			const struct bundle_profile *p = bundle_profile_at(b, i);
			int stored = -1;
			assert_int_equal(bundle_stored(db, p, &plain.pprof, &stored, &err), 0);
			assert_int_equal(stored, round);
			if (round == 0) {
				struct tsdb_append_req ar = {.labels = p->labels, .nlabels = p->nlabels,
							     .t_ns = p->t_ns, .kind = p->kind, .body = p->body,
							     .len = p->len, .totals = p->totals,
							     .ntotals = p->ntotals};
				char id[TSDB_ID_LEN + 1];
				if (store_append(db, &ar, id, &err) != 0)
					fail_msg("%s: %s", p->entry, err.msg);
			}
		}
	}
	/* cut into a block: bodies come back re-encoded, the same at the pprof level */
	assert_int_equal(store_maintain(db, 1, &err), 0);
	for (size_t i = 0; i < bundle_nprofiles(b); i++) {
		const struct bundle_profile *p = bundle_profile_at(b, i);
		struct bundle_profile q = *p;
		int stored = -1;
		assert_int_equal(bundle_stored(db, p, &plain.pprof, &stored, &err), 0);
		if (stored != 1)
			fail_msg("%s not found after the cut", p->entry);
		/* another time, another content, another series: not stored */
		q.t_ns = p->t_ns + 1;
		assert_int_equal(bundle_stored(db, &q, &plain.pprof, &stored, &err), 0);
		assert_int_equal(stored, 0);
		q = *p;
		q.digest ^= 1; /* a pprof: another digest; a trace: a byte changed */
		uint8_t *copy = pf_xmalloc(p->len);
		memcpy(copy, p->body, p->len);
		copy[p->len - 1] ^= 1;
		q.body = copy;
		assert_int_equal(bundle_stored(db, &q, &plain.pprof, &stored, &err), 0);
		assert_int_equal(stored, 0);
		free(copy);
		q = *p;
		q.nlabels--; /* a subset of the labels is another series */
		assert_int_equal(bundle_stored(db, &q, &plain.pprof, &stored, &err), 0);
		assert_int_equal(stored, 0);
	}
	fixture_istore_remove(db, dir);
	bundle_free(b);
}

/* bundle_digest (one pass of the streaming decoder) against
 * bundle_digest_profile on protobuf-c's tree (pprof_decode): the same
 * value for every pprof fixture, gzip or not, and for the profile
 * re-encoded (other bytes, the same at the pprof level). */
static void test_digest_oracle(void **state)
{
	glob_t g;
	size_t checked = 0;
	(void)state;

	assert_int_equal(glob(FIX "pprof/*.pb.gz", 0, NULL, &g), 0);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		struct pf_buf gz, re = PF_BUF_INIT(0), raw = PF_BUF_INIT(0);
		struct pprof_profile *p = NULL;
		struct pf_err err = {0};
		uint64_t tree, d1 = 0, d2 = 0, d3 = 0;

		fixture_read(g.gl_pathv[i], &gz);
		if (pprof_decode(gz.data, gz.len, plain.pprof.max_decompressed, &p, &err) != 0)
			fail_msg("%s: %s", g.gl_pathv[i], err.msg);
		tree = bundle_digest_profile(p);
		assert_int_equal(pprof_encode(p, &re, &err), 0);
		assert_int_equal(pprof_gunzip(gz.data, gz.len, plain.pprof.max_decompressed, &raw, &err), 0);
		if (bundle_digest(gz.data, gz.len, TSDB_KIND_PPROF, &plain.pprof, &d1, &err) != 0 ||
		    bundle_digest(re.data, re.len, TSDB_KIND_PPROF, &plain.pprof, &d2, &err) != 0 ||
		    bundle_digest(raw.data, raw.len, TSDB_KIND_PPROF, &plain.pprof, &d3, &err) != 0)
			fail_msg("%s: %s", g.gl_pathv[i], err.msg);
		if (d1 != tree || d2 != tree || d3 != tree)
			fail_msg("%s: digest %016llx (gzip) %016llx (re-encoded) %016llx (plain), the tree's %016llx",
				 g.gl_pathv[i], (unsigned long long)d1, (unsigned long long)d2,
				 (unsigned long long)d3, (unsigned long long)tree);
		assert_true(re.len != gz.len || memcmp(re.data, gz.data, gz.len) != 0);
		checked++;
		pprof_free(p);
		pf_buf_free(&gz);
		pf_buf_free(&re);
		pf_buf_free(&raw);
	}
	assert_true(checked >= 20);
	globfree(&g);
}

/* heap-001 with one line number changed: the same totals, another digest */
static void heap_line_changed(const struct pf_buf *gz, struct pf_buf *out)
{
	struct pprof_profile *p = NULL;
	struct pf_err err = {0};
	pprof_msg *m;

	assert_int_equal(pprof_decode(gz->data, gz->len, plain.pprof.max_decompressed, &p, &err), 0);
	m = (pprof_msg *)pprof_message(p);
	assert_true(m->n_location > 0 && m->location[0]->n_line > 0);
	m->location[0]->line[0]->line += 1;
	pf_buf_init(out, 0);
	assert_int_equal(pprof_encode(p, out, &err), 0);
	pprof_free(p);
}

static enum bundle_outcome store_one(struct store *db, const void *body, size_t len)
{
	struct bundle_one one = {.name = "heap.pb.gz", .type = "heap", .service = "api"};
	struct bundle_result res[1];
	struct bundle *b = NULL;
	struct pf_err err = {0};
	size_t n = 0;

	if (bundle_read_one(body, len, &one, &plain, &b, &err) != 0 ||
	    bundle_store(db, b, &plain.pprof, res, &n, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(n, 1);
	bundle_free(b);
	return res[0].outcome;
}

/* "Already stored": the same bytes (found without a decode), other bytes
 * of the same profile (plain, or gzipped otherwise: found by the digest),
 * before and after the cut into a block; not a profile with the same
 * series, time and totals but another stack. */
static void test_stored_same_profile(void **state)
{
	char dir[64];
	struct tsdb_options to = {.dir = dir, .maintenance_ns = -1};
	struct pf_buf gz, raw, re = PF_BUF_INIT(0), other;
	struct pprof_profile *p = NULL;
	struct pf_err err = {0};
	struct store *db;
	(void)state;

	fixture_read(FIX "pprof/heap-001.pb.gz", &gz);
	fixture_read(FIX "bad/heap-plain.pb", &raw);
	assert_int_equal(pprof_decode(gz.data, gz.len, plain.pprof.max_decompressed, &p, &err), 0);
	assert_int_equal(pprof_encode(p, &re, &err), 0);
	pprof_free(p);
	assert_true(re.len != gz.len || memcmp(re.data, gz.data, gz.len) != 0);
	heap_line_changed(&gz, &other);

	fixture_store_dir(dir, "bundle-same");
	db = fixture_istore_open(&to);
	assert_int_equal(store_one(db, gz.data, gz.len), BUNDLE_STORED);
	for (int cut = 0; cut < 2; cut++) {
		if (cut)
			assert_int_equal(store_maintain(db, 1, &err), 0);
		assert_int_equal(store_one(db, gz.data, gz.len), BUNDLE_ALREADY);   /* byte-equal */
		assert_int_equal(store_one(db, raw.data, raw.len), BUNDLE_ALREADY); /* plain */
		assert_int_equal(store_one(db, re.data, re.len), BUNDLE_ALREADY);   /* re-encoded */
	}
	/* the same series, time and totals, another line: stored */
	assert_int_equal(store_one(db, other.data, other.len), BUNDLE_STORED);
	assert_int_equal(store_one(db, other.data, other.len), BUNDLE_ALREADY);
	assert_int_equal(store_one(db, re.data, re.len), BUNDLE_ALREADY);
	fixture_istore_remove(db, dir);
	pf_buf_free(&gz);
	pf_buf_free(&raw);
	pf_buf_free(&re);
	pf_buf_free(&other);
}

/* bundle_store: everything, then nothing again, then the time refusals */
static void test_store(void **state)
{
	char dir[64];
	struct tsdb_options to = {.dir = dir, .maintenance_ns = -1, .retention_ns = 3600000000000LL};
	struct bundle *b = read_ok(FIX "autoprof/bundle-003.zip", &plain);
	struct bundle *e = read_ok(FIX "autoprof/edge-trace-no-cpu.zip", &plain);
	struct bundle_result res[16];
	struct pf_err err = {0};
	struct store *db;
	size_t n = 0;
	(void)state;

	fixture_store_dir(dir, "bundle-store");
	db = fixture_istore_open(&to);
	assert_int_equal(bundle_store(db, b, &plain.pprof, res, &n, &err), 0);
	assert_int_equal(n, bundle_nprofiles(b));
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(res[i].outcome, BUNDLE_STORED);
		assert_int_equal(strlen(res[i].id), TSDB_ID_LEN);
		assert_ptr_equal(res[i].p, bundle_profile_at(b, i));
	}
	assert_int_equal(bundle_store(db, b, &plain.pprof, res, &n, &err), 0);
	assert_int_equal(n, bundle_nprofiles(b));
	for (size_t i = 0; i < n; i++)
		assert_int_equal(res[i].outcome, BUNDLE_ALREADY);
	/* a profile of now moves the retention anchor: the fixtures' are 10
	 * days older than it, outside the hour kept */
	{
		const struct bundle_profile *p = bundle_profile_at(e, 0);
		struct tsdb_append_req ar = {.labels = p->labels, .nlabels = p->nlabels,
					     .t_ns = pf_now_ns(), .kind = p->kind, .body = p->body,
					     .len = p->len, .totals = p->totals, .ntotals = p->ntotals};
		char id[TSDB_ID_LEN + 1];
		assert_int_equal(store_append(db, &ar, id, &err), 0);
	}
	assert_int_equal(bundle_store(db, e, &plain.pprof, res, &n, &err), 0);
	assert_int_equal(n, bundle_nprofiles(e));
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(res[i].outcome, BUNDLE_REFUSED);
		assert_int_equal(res[i].code, PF_ETOOOLD);
		assert_true(res[i].reason[0] != 0);
	}
	fixture_istore_remove(db, dir);
	bundle_free(b);
	bundle_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixture_bundles),
		cmocka_unit_test(test_fixture_details),
		cmocka_unit_test(test_bad_bundles),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_writer_and_odd_entries),
		cmocka_unit_test(test_writer_roundtrip),
		cmocka_unit_test(test_stored),
		cmocka_unit_test(test_store),
		cmocka_unit_test(test_digest_oracle),
		cmocka_unit_test(test_stored_same_profile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
