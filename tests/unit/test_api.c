/* Unit tests for src/api helpers: query parsing with Go's rules,
 * unescaping, path cleaning and the JSON envelopes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "api/api-internal.h"

static void test_parse_query_go_rules(void **state)
{
	struct api_param *p;
	size_t n;
	struct api_req r = {0};
	(void)state;
	api_parse_query("service=a+b&type=cpu&labels=k%3Dv%252C1&service=second&bad=%zz&;x=1&empty=&=novalue&flag",
			&p, &n);
	r.params = p;
	r.nparams = n;
	assert_string_equal(api_param(&r, "service"), "a b"); /* '+' is a space; first value wins */
	assert_string_equal(api_param(&r, "type"), "cpu");
	assert_string_equal(api_param(&r, "labels"), "k=v%2C1"); /* decoded once */
	assert_null(api_param(&r, "bad"));                      /* bad escape: pair dropped */
	assert_null(api_param(&r, "x"));                        /* ';' refused, as Go 1.17+ */
	assert_string_equal(api_param(&r, "empty"), "");
	assert_string_equal(api_param(&r, "flag"), "");
	assert_null(api_param(&r, "nosuch"));
	api_params_free(p, n);
	api_parse_query(NULL, &p, &n);
	assert_int_equal(n, 0);
	api_params_free(p, n);
}

static void test_unescape(void **state)
{
	char a[] = "a%2Bb+c", b[] = "a%2Bb+c", c[] = "x%zz", d[] = "%4";
	const char *bad = NULL;
	(void)state;
	assert_int_equal(api_unescape(a, 0, NULL), 0);
	assert_string_equal(a, "a+b+c");
	assert_int_equal(api_unescape(b, 1, NULL), 0);
	assert_string_equal(b, "a+b c");
	assert_int_equal(api_unescape(c, 1, &bad), -1);
	assert_string_equal(bad, "%zz");
	assert_int_equal(api_unescape(d, 1, &bad), -1);
}

static void test_path_clean(void **state)
{
	static const char *cases[][2] = {
		{"/api/0/profiles/", "/api/0/profiles"},
		{"/api/0//profiles", "/api/0/profiles"},
		{"/api/0/./profiles/merge/", "/api/0/profiles/merge"},
		{"/api/0/x/../profiles", "/api/0/profiles"},
		{"/../..", "/"},
		{"/", "/"},
		{"", "/"},
	};
	(void)state;
	for (size_t i = 0; i < PF_ARRAY_LEN(cases); i++) {
		char *c = api_path_clean(cases[i][0]);
		assert_string_equal(c, cases[i][1]);
		free(c);
	}
}

static void test_reply_envelopes(void **state)
{
	struct api_reply rep = {0};
	(void)state;
	api_reply_error(&rep, 400, "bad request: missing \"%s\"", "service");
	assert_int_equal(rep.status, 400);
	assert_string_equal(rep.content_type, "application/json");
	assert_int_equal(rep.body.len, strlen("{\"code\":400,\"error\":\"bad request: missing \\\"service\\\"\"}\n"));
	assert_memory_equal(rep.body.data, "{\"code\":400,\"error\":\"bad request: missing \\\"service\\\"\"}\n", rep.body.len);
	api_reply_json_body(&rep, 200, "[\"a\"]");
	assert_memory_equal(rep.body.data, "{\"code\":200,\"body\":[\"a\"]}\n", rep.body.len);
	pf_buf_free(&rep.body);
	free(rep.filename);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_query_go_rules),
		cmocka_unit_test(test_unescape),
		cmocka_unit_test(test_path_clean),
		cmocka_unit_test(test_reply_envelopes),
	};
	return cmocka_run_group_tests_name("api", tests, NULL, NULL);
}
