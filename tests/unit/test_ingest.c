/*
 * Unit tests for src/ingest: every class ingest_profile returns, with the
 * sentence that names the input, on a real store; and the API's mapping of
 * each class to a status, a JSON error and its refusal counter
 * (api_ingest_refusal). Run from the repository root (fixtures under
 * tests/fixtures).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "fixture.h"

#include "api/api-internal.h"
#include "ingest/ingest.h"

#define FIX "tests/fixtures/"

struct env {
	char dir[64];
	struct store *db;
	struct ingest_opts o;
	struct pf_buf heap, trace;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct tsdb_options to = {0};

	fixture_store_dir(e->dir, "ingest");
	to.dir = e->dir;
	to.maintenance_ns = -1;
	to.max_future_ns = (int64_t)600 * 1000000000;
	e->db = fixture_istore_open(&to);
	e->o.db = e->db;
	e->o.max_profile_bytes = (size_t)64 << 20;
	fixture_read(FIX "pprof/heap-001.pb.gz", &e->heap);
	fixture_read(FIX "pprof/trace-001.out", &e->trace);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	fixture_istore_remove(e->db, e->dir);
	pf_buf_free(&e->heap);
	pf_buf_free(&e->trace);
	free(e);
	return 0;
}

/* ingest body with labels service=s, type=type (+ extra) at t_ns */
static enum ingest_class put(struct env *e, const char *type, const void *body, size_t len,
			     int64_t t_ns, const struct tsdb_label *extra, struct ingest_out *out,
			     struct pf_err *err)
{
	struct tsdb_label l[3] = {{"service", "s"}, {"type", type}};
	struct ingest_req r = {.labels = l, .nlabels = 2, .t_ns = t_ns, .time_nanos_wins = 1,
			       .body = body, .len = len};

	if (extra) {
		l[2] = *extra;
		r.nlabels = 3;
	}
	memset(err, 0, sizeof(*err));
	return ingest_profile(&e->o, &r, out, err);
}

static void test_stored(void **state)
{
	struct env *e = *state;
	struct ingest_out out;
	struct pf_err err;
	struct pf_buf body = PF_BUF_INIT(0), raw = PF_BUF_INIT(0);
	struct tsdb_meta *m = NULL;
	int64_t now = pf_now_ns();

	/* a gzip pprof: its time_nanos wins, its totals are stored */
	assert_int_equal(put(e, "heap", e->heap.data, e->heap.len, now, NULL, &out, &err), INGEST_OK);
	assert_int_equal(out.kind, TSDB_KIND_PPROF);
	assert_true(out.t_ns != now && out.t_ns > 0);
	assert_int_equal(store_read(e->db, out.id, &body, &m, &err), 0);
	assert_int_equal(m->ntotals, 4); /* alloc_objects, alloc_space, inuse_objects, inuse_space */
	assert_string_equal(m->totals[3].type, "inuse_space");
	assert_string_equal(m->totals[3].unit, "bytes");
	assert_true(m->totals[3].value > 0);
	assert_memory_equal(body.data, e->heap.data, e->heap.len);
	store_meta_free(e->db, m);
	m = NULL;
	/* the same body raw: gzipped for the store, same totals */
	assert_int_equal(pprof_gunzip(e->heap.data, e->heap.len, (size_t)64 << 20, &raw, &err), 0);
	assert_int_equal(put(e, "heap", raw.data, raw.len, now, NULL, &out, &err), INGEST_OK);
	pf_buf_reset(&body);
	assert_int_equal(store_read(e->db, out.id, &body, &m, &err), 0);
	assert_true(pprof_is_gzip(body.data, body.len));
	assert_true(m->totals[3].value > 0);
	store_meta_free(e->db, m);
	m = NULL;
	/* a trace: byte for byte, at the time given */
	assert_int_equal(put(e, "trace", e->trace.data, e->trace.len, now, NULL, &out, &err), INGEST_OK);
	assert_int_equal(out.kind, TSDB_KIND_RAW);
	assert_int_equal(out.t_ns, now);
	pf_buf_reset(&body);
	assert_int_equal(store_read(e->db, out.id, &body, NULL, &err), 0);
	assert_int_equal(body.len, e->trace.len);
	assert_memory_equal(body.data, e->trace.data, e->trace.len);
	pf_buf_free(&body);
	pf_buf_free(&raw);
}

static void test_refusals(void **state)
{
	struct env *e = *state;
	struct ingest_out out;
	struct pf_err err;
	const uint8_t no_samples[] = {0x32, 0x00}; /* string_table: [""] */
	int64_t now = pf_now_ns();
	struct tsdb_label reserved = {"__x", "1"}, badname = {"a-b", "1"}, badval = {"k", "\xff"};
	struct pf_budget *b;

	assert_int_equal(put(e, "heap", "garbage!", 8, now, NULL, &out, &err), INGEST_MALFORMED);
	assert_string_equal(err.msg, "parsing profile: unrecognized profile format");
	assert_int_equal(put(e, "heap", "", 0, now, NULL, &out, &err), INGEST_MALFORMED);
	assert_string_equal(err.msg, "parsing profile: empty input file");
	assert_int_equal(put(e, "heap", e->heap.data, e->heap.len - 9, now, NULL, &out, &err), INGEST_MALFORMED);
	assert_string_equal(err.msg, "decompressing profile: unexpected EOF");
	assert_int_equal(put(e, "trace", "", 0, now, NULL, &out, &err), INGEST_MALFORMED);
	assert_string_equal(err.msg, "empty trace body");
	assert_int_equal(put(e, "trace", e->heap.data, e->heap.len, now, NULL, &out, &err), INGEST_MALFORMED);
	assert_string_equal(err.msg, "not a Go execution trace: it does not start with \"go 1.N trace\"");
	assert_int_equal(put(e, "heap", no_samples, sizeof(no_samples), now, NULL, &out, &err), INGEST_NO_SAMPLES);
	assert_string_equal(err.msg, "profile has no samples");

	assert_int_equal(put(e, "heap", e->heap.data, e->heap.len, now, &reserved, &out, &err), INGEST_BAD_LABELS);
	assert_string_equal(err.msg, "label name \"__x\" is reserved (starts with __)");
	assert_int_equal(put(e, "heap", e->heap.data, e->heap.len, now, &badname, &out, &err), INGEST_BAD_LABELS);
	assert_string_equal(err.msg, "invalid label name \"a-b\": want [a-zA-Z_][a-zA-Z0-9_]*");
	assert_int_equal(put(e, "heap", e->heap.data, e->heap.len, now, &badval, &out, &err), INGEST_BAD_LABELS);
	assert_string_equal(err.msg, "value of \"k\" is not valid UTF-8 or longer than 1024 bytes");
	assert_int_equal(put(e, "Heap", e->heap.data, e->heap.len, now, NULL, &out, &err), INGEST_BAD_TYPE);
	assert_string_equal(err.msg, "unknown profile type \"Heap\": want one of SPEC §1's or [a-z0-9_.-]+");

	/* the caps: -max-profile-size, the in-flight budget */
	e->o.max_profile_bytes = 1000;
	assert_int_equal(put(e, "heap", e->heap.data, e->heap.len, now, NULL, &out, &err), INGEST_TOO_BIG);
	assert_string_equal(err.msg, "decompressed profile is larger than 1000 bytes");
	e->o.max_profile_bytes = (size_t)64 << 20;
	b = pf_budget_new(4096);
	e->o.inflight = b;
	assert_int_equal(put(e, "heap", e->heap.data, e->heap.len, now, NULL, &out, &err), INGEST_BUSY);
	assert_non_null(strstr(err.msg, "-max-inflight-decompressed"));
	e->o.inflight = NULL;
	pf_budget_free(b);

	/* the store's time window */
	assert_int_equal(put(e, "trace", e->trace.data, e->trace.len, now + (int64_t)3600 * 1000000000,
			     NULL, &out, &err), INGEST_FUTURE);
	assert_non_null(strstr(err.msg, "-tsdb.max-future"));
	for (int c = INGEST_OK; c <= INGEST_STORE; c++)
		assert_string_not_equal(ingest_class_name((enum ingest_class)c), "?");
}

/* Each refusal as /api/0/profiles answers it, and what it counts. */
static void test_api_mapping(void **state)
{
	static const struct {
		enum ingest_class c;
		int trace, status;
		const char *body, *refused;
		int bad;
	} cases[] = {
		{INGEST_MALFORMED, 0, 400, "{\"code\":400,\"error\":\"malformed profile (could not parse pprof profile: WHY)\"}\n", NULL, 1},
		{INGEST_MALFORMED, 1, 400, "{\"code\":400,\"error\":\"malformed profile (WHY)\"}\n", NULL, 1},
		{INGEST_NO_SAMPLES, 0, 400, "{\"code\":400,\"error\":\"malformed profile (could not parse pprof profile: profile is empty: no samples)\"}\n", NULL, 1},
		{INGEST_DECODE_CAP, 0, 413, "{\"code\":413,\"error\":\"malformed profile (could not parse pprof profile: WHY)\"}\n", "decode_cap", 1},
		{INGEST_TOO_BIG, 0, 413, "{\"code\":413,\"error\":\"malformed profile (WHY; the limit is -max-profile-size)\"}\n", "profile_too_big", 1},
		{INGEST_BUSY, 0, 503, "{\"code\":503,\"error\":\"service unavailable (WHY)\"}\n", "inflight_budget", 0},
		{INGEST_FUTURE, 0, 400, "{\"code\":400,\"error\":\"bad request: WHY\"}\n", "future", 0},
		{INGEST_TOO_OLD, 0, 400, "{\"code\":400,\"error\":\"bad request: WHY\"}\n", "too_old", 0},
		{INGEST_BAD_LABELS, 0, 400, "{\"code\":400,\"error\":\"bad request: WHY\"}\n", NULL, 0},
		{INGEST_BAD_TYPE, 0, 400, "{\"code\":400,\"error\":\"bad request: WHY\"}\n", NULL, 0},
		{INGEST_INVALID, 0, 400, "{\"code\":400,\"error\":\"bad request: WHY\"}\n", NULL, 0},
		{INGEST_DISK_FULL, 0, 507, "{\"code\":507,\"error\":\"failed to collect profile: the disk is full: WHY\"}\n", "disk_full", 0},
		{INGEST_QUEUE_FULL, 0, 503, "{\"code\":503,\"error\":\"service unavailable (WHY)\"}\n", "store_queue_full", 0},
		{INGEST_STORE_DOWN, 0, 503, "{\"code\":503,\"error\":\"service unavailable (WHY)\"}\n", "store_unavailable", 0},
		{INGEST_STORE, 0, 500, "{\"code\":500,\"error\":\"failed to collect profile: WHY\"}\n", NULL, 0},
	};
	struct pf_err err = {PF_EINVAL, "WHY"};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct api_metrics m;
		struct api_reply rep = {0};
		size_t it = 0;
		const void *key;
		size_t klen;
		uint64_t val, nrefused = 0;

		memset(&m, 0, sizeof(m));
		api_metrics_init(&m);
		pf_buf_init(&rep.body, 0);
		assert_int_equal(api_ingest_refusal(&m, cases[i].c, cases[i].trace, &err, &rep), cases[i].status);
		assert_int_equal(rep.status, cases[i].status);
		pf_buf_append(&rep.body, "", 1);
		assert_string_equal((const char *)rep.body.data, cases[i].body);
		assert_int_equal(m.bad_profiles, (uint64_t)cases[i].bad);
		while (pf_map_next(m.refused, &it, &key, &klen, &val)) {
			assert_non_null(cases[i].refused);
			assert_string_equal((const char *)key, cases[i].refused);
			nrefused += val;
		}
		assert_int_equal(nrefused, cases[i].refused ? 1 : 0);
		pf_buf_free(&rep.body);
		api_metrics_destroy(&m);
	}
	{
		struct api_metrics m;
		struct api_reply rep = {0};
		memset(&m, 0, sizeof(m));
		api_metrics_init(&m);
		assert_int_equal(api_ingest_refusal(&m, INGEST_OK, 0, &err, &rep), 0);
		assert_int_equal(rep.status, 0);
		api_metrics_destroy(&m);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test(test_api_mapping),
	};
	return cmocka_run_group_tests_name("ingest", tests, NULL, NULL);
}
