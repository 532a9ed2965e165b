/* Unit tests of src/api/v1.c (/api/v1) over a real store in a temp dir,
 * for what the e2e test cannot easily reach: times before 1970 and at
 * millisecond edges, sample type names that are not UTF-8, the order of
 * label sets of different lengths, and the reply envelope. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "api/api-internal.h"
#include "fixture.h"

struct ctx {
	char dir[64];
	struct store *db;
	struct api_server srv;
};

static void append(struct ctx *c, const struct tsdb_label *l, size_t nl, int64_t t_ns,
		   const struct tsdb_total *tot, size_t nt)
{
	struct tsdb_append_req ar = {0};
	struct pf_err err = {0};
	char id[TSDB_ID_LEN + 1];

	ar.labels = l;
	ar.nlabels = nl;
	ar.t_ns = t_ns;
	ar.kind = TSDB_KIND_RAW;
	ar.body = "x";
	ar.len = 1;
	ar.totals = tot;
	ar.ntotals = nt;
	if (store_append(c->db, &ar, id, &err) < 0)
		fail_msg("append: %s", err.msg);
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	struct tsdb_options o = {0};
	static const struct tsdb_label s1[] = {{"service", "s"}, {"type", "x"}};
	static const struct tsdb_label s2[] = {{"a", "1"}, {"service", "s"}, {"type", "x"}};
	static const struct tsdb_total tot[] = {{"bad\xff", "count", 7}, {"ok", "bytes", -3}};

	fixture_store_dir(c->dir, "query");
	o.dir = c->dir;
	c->db = fixture_istore_open(&o);
	c->srv.opt.db = c->db;
	api_metrics_init(&c->srv.metrics);
	c->srv.opt.version = "v";
	c->srv.opt.commit = "c";
	c->srv.opt.build_time = "b";
	append(c, s1, 2, -1500000, tot, 2); /* 1.5 ms before 1970: t = -2 ms */
	append(c, s1, 2, 1, tot, 2);        /* 1 ns after: t = 0 ms */
	append(c, s1, 2, 999999, NULL, 0);  /* t = 0 ms too */
	append(c, s2, 3, 5000000, NULL, 0); /* t = 5 ms */
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	api_metrics_destroy(&c->srv.metrics);
	fixture_istore_remove(c->db, c->dir);
	free(c);
	return 0;
}

/* GET path?query through api_v1_handle; returns the parsed reply body and
 * sets *status. */
static json_t *call(struct ctx *c, const char *method, const char *path, const char *query,
		    int *status)
{
	struct api_req r = {0};
	struct api_reply rep = {0};
	json_error_t jerr;
	json_t *j;

	r.method = method;
	r.path = (char *)path;
	api_parse_query(query, &r.params, &r.nparams, &r.query_flaw);
	pf_buf_init(&rep.body, 0);
	api_v1_handle(&c->srv, &r, &rep);
	*status = rep.status;
	assert_string_equal(rep.content_type, "application/json");
	j = json_loadb((const char *)rep.body.data, rep.body.len, 0, &jerr);
	if (!j)
		fail_msg("reply is not JSON: %s: %.*s", jerr.text, (int)rep.body.len, rep.body.data);
	api_params_free(r.params, r.nparams);
	pf_buf_free(&rep.body);
	free(rep.filename);
	return j;
}

/* The reply's data as compact JSON with sorted keys (freed by caller);
 * query_range sample ids are checked for their form and left out. */
static char *data_of(json_t *j)
{
	json_t *data = json_object_get(j, "data"), *ser, *smp;
	size_t i, k;
	char *s;

	assert_string_equal(json_string_value(json_object_get(j, "status")), "success");
	json_array_foreach(data, i, ser) {
		json_array_foreach(json_object_get(ser, "samples"), k, smp) {
			const char *id = json_string_value(json_object_get(smp, "id"));
			assert_non_null(id);
			assert_int_equal(strlen(id), TSDB_ID_LEN);
			json_object_del(smp, "id");
		}
	}
	s = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	json_decref(j);
	return s;
}

#define assert_data(c, path, query, want)                                                    \
	do {                                                                                 \
		int st_;                                                                     \
		char *got_ = data_of(call((c), "GET", (path), (query), &st_));               \
		assert_int_equal(st_, 200);                                                  \
		assert_string_equal(got_, (want));                                           \
		free(got_);                                                                  \
	} while (0)

/* The error reply: status, errorType and error. */
#define assert_error(c, method, path, query, want_status, want_type, want_msg)               \
	do {                                                                                 \
		int st_;                                                                     \
		json_t *j_ = call((c), (method), (path), (query), &st_);                     \
		assert_int_equal(st_, (want_status));                                        \
		assert_string_equal(json_string_value(json_object_get(j_, "status")), "error"); \
		assert_string_equal(json_string_value(json_object_get(j_, "errorType")), (want_type)); \
		assert_string_equal(json_string_value(json_object_get(j_, "error")), (want_msg)); \
		assert_int_equal(json_object_size(j_), 3);                                   \
		json_decref(j_);                                                             \
	} while (0)

#define S1 "{\"labels\":{\"service\":\"s\",\"type\":\"x\"},\"samples\":["
#define S2 "{\"labels\":{\"a\":\"1\",\"service\":\"s\",\"type\":\"x\"},\"samples\":["
#define TOT "{\"bad\xef\xbf\xbd\":7,\"ok\":-3}" /* U+FFFD */

static void test_times_and_totals(void **state)
{
	struct ctx *c = *state;

	/* t rounds down to the ms, also before 1970; a sample type name that
	 * is not UTF-8 gets U+FFFD; a raw body has no totals */
	assert_data(c, "/api/v1/query_range", "query=x{a=\"\"}",
		    "[" S1 "{\"t\":-2,\"totals\":" TOT "},{\"t\":0,\"totals\":" TOT "},{\"t\":0,\"totals\":{}}]}]");
	/* ranges hold whole ms: end=0 s takes all of ms 0 */
	assert_data(c, "/api/v1/query_range", "query=x{a=\"\"}&end=0",
		    "[" S1 "{\"t\":-2,\"totals\":" TOT "},{\"t\":0,\"totals\":" TOT "},{\"t\":0,\"totals\":{}}]}]");
	/* start=-0.001 s is ms -1: the profile of ms -2 is out */
	assert_data(c, "/api/v1/query_range", "query=x{a=\"\"}&start=-0.001&end=0.0049",
		    "[" S1 "{\"t\":0,\"totals\":" TOT "},{\"t\":0,\"totals\":{}}]}]");
	assert_data(c, "/api/v1/query_range", "query=x{a=\"\"}&start=-0.002&end=-0.002",
		    "[" S1 "{\"t\":-2,\"totals\":" TOT "}]}]");
	/* limit above the count keeps all; limit=1 the newest */
	assert_data(c, "/api/v1/query_range", "query=x{a=\"\"}&limit=99&start=0",
		    "[" S1 "{\"t\":0,\"totals\":" TOT "},{\"t\":0,\"totals\":{}}]}]");
	assert_data(c, "/api/v1/query_range", "query=x{a=\"\"}&limit=1",
		    "[" S1 "{\"t\":0,\"totals\":{}}]}]");
}

static void test_label_set_order(void **state)
{
	struct ctx *c = *state;

	/* Prometheus's order: pair by pair, so {a="1",...} sorts before
	 * {service=...} though it is longer */
	assert_data(c, "/api/v1/query_range", "query=x&start=0.005",
		    "[" S2 "{\"t\":5,\"totals\":{}}]}]");
	assert_data(c, "/api/v1/series", "match[]=x",
		    "[{\"a\":\"1\",\"service\":\"s\",\"type\":\"x\"},{\"service\":\"s\",\"type\":\"x\"}]");
	assert_data(c, "/api/v1/series", "match[]=x&start=0&end=0",
		    "[{\"service\":\"s\",\"type\":\"x\"}]");
	assert_data(c, "/api/v1/labels", "", "[\"a\",\"service\",\"type\"]");
	assert_data(c, "/api/v1/labels", "end=0", "[\"service\",\"type\"]");
	assert_data(c, "/api/v1/labels", "match[]={a=\"1\"}", "[\"a\",\"service\",\"type\"]");
	assert_data(c, "/api/v1/label/a/values", "", "[\"1\"]");
	assert_data(c, "/api/v1/label/a/values", "end=0", "[]");
	assert_data(c, "/api/v1/label/a/values", "match[]=x{a!=\"1\"}", "[]");
	assert_data(c, "/api/v1/label/type/values", "match[]=x{a!=\"1\"}", "[\"x\"]");
	assert_data(c, "/api/v1/label/service/values", "match[]={a=~\".*\",type=\"x\"}", "[\"s\"]");
}

static void test_status_and_errors(void **state)
{
	struct ctx *c = *state;

	assert_data(c, "/api/v1/status/buildinfo", "",
		    "{\"buildDate\":\"b\",\"revision\":\"c\",\"version\":\"v\"}");
	{
		int st;
		json_t *j = call(c, "GET", "/api/v1/status/tsdb", "", &st), *d;
		assert_int_equal(st, 200);
		d = json_object_get(j, "data");
		assert_int_equal(json_integer_value(json_object_get(d, "series")), 2);
		assert_int_equal(json_integer_value(json_object_get(d, "profiles")), 4);
		assert_int_equal(json_integer_value(json_object_get(d, "appends")), 4);
		assert_true(json_integer_value(json_object_get(d, "bytes")) > 0);
		assert_true(json_integer_value(json_object_get(json_object_get(d, "wal"), "fsyncs")) >= 1);
		json_decref(j);
	}
	assert_error(c, "GET", "/api/v1/query_range", "query=x{", 400, "bad_data",
		     "invalid parameter \"query\": 1:3: parse error: unexpected end of input, expected a label name or \"}\"");
	assert_error(c, "GET", "/api/v1/query_range", "query=x&start=2&end=1", 400, "bad_data",
		     "invalid parameter \"end\": end timestamp must not be before start time");
	assert_error(c, "GET", "/api/v1/query_range", "query=x&limit=1x", 400, "bad_data",
		     "invalid parameter \"limit\": cannot parse \"1x\" as a non-negative integer");
	assert_error(c, "GET", "/api/v1/query_range", "query=x&end=%20", 400, "bad_data",
		     "invalid parameter \"end\": cannot parse \" \" as a time (want RFC 3339, Unix seconds or Unix milliseconds)");
	assert_error(c, "GET", "/api/v1/labels", "match[]=x&match[]={", 400, "bad_data",
		     "invalid parameter \"match[]\": 1:2: parse error: unexpected end of input, expected a label name or \"}\"");
	assert_error(c, "GET", "/api/v1/label//values", "", 400, "bad_data", "invalid label name: \"\"");
	assert_error(c, "GET", "/api/v1/label/a/b/values", "", 400, "bad_data", "invalid label name: \"a/b\"");
	assert_error(c, "GET", "/api/v1/label/a", "", 404, "not_found", "unknown API endpoint \"/api/v1/label/a\"");
	assert_error(c, "GET", "/api/v1/labels/", "", 404, "not_found", "unknown API endpoint \"/api/v1/labels/\"");
	assert_error(c, "PUT", "/api/v1/series", "match[]=x", 405, "bad_data",
		     "method PUT not allowed on /api/v1/series (use GET)");
}

/* Input edges (SPEC §9): NUL bytes, times out of range, long input. */
static void test_input_edges(void **state)
{
	struct ctx *c = *state;
	char path[400], want[600];

	assert_error(c, "GET", "/api/v1/query_range", "query=x%00{a=\"1\"}", 400, "bad_data",
		     "invalid parameter \"query\": the value \"x%00{a=\"1\"}\" holds a NUL byte (%00)");
	assert_error(c, "GET", "/api/v1/series", "match[]=x&ma%00tch[]=x", 400, "bad_data",
		     "invalid parameter name \"ma%00tch[]\": it holds a NUL byte (%00)");
	assert_error(c, "GET", "/api/v1/labels", "start=1%00", 400, "bad_data",
		     "invalid parameter \"start\": the value \"1%00\" holds a NUL byte (%00)");
	/* a NUL escape inside a selector string is the selector's error */
	assert_error(c, "GET", "/api/v1/query_range", "query=x{a=\"\\x00\"}", 400, "bad_data",
		     "invalid parameter \"query\": 1:6: parse error: a label value cannot hold a NUL byte (escape \"\\x00\")");
	assert_error(c, "GET", "/api/v1/query_range", "query=x&start=99999-01-01T00:00:00Z", 400, "bad_data",
		     "invalid parameter \"start\": \"99999-01-01T00:00:00Z\": year 99999 out of range "
		     "(times from 1677-09-21T00:12:44Z to 2262-04-11T23:47:16Z are supported)");
	assert_error(c, "GET", "/api/v1/query_range", "query=x&end=0000-01-01T00:00:00Z", 400, "bad_data",
		     "invalid parameter \"end\": \"0000-01-01T00:00:00Z\": year 0 out of range "
		     "(times from 1677-09-21T00:12:44Z to 2262-04-11T23:47:16Z are supported)");
	/* echoed input is cut at 256 bytes with "…", the rest of the message stays */
	memcpy(path, "/api/v1/", 8);
	memset(path + 8, 'p', 300);
	path[308] = 0;
	snprintf(want, sizeof(want), "unknown API endpoint \"%.256s\xe2\x80\xa6\"", path);
	assert_error(c, "GET", path, "", 404, "not_found", want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_times_and_totals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_label_set_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_and_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_input_edges, setup, teardown),
	};
	return cmocka_run_group_tests_name("query", tests, NULL, NULL);
}
