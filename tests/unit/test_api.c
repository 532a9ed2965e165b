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
	struct api_query_flaw fl;
	const char *q = "service=a+b&type=cpu&labels=k%3Dv%252C1&service=second&bad=%zz&;x=1&empty=&=novalue&flag";
	(void)state;
	api_parse_query(q, &p, &n, &fl);
	assert_ptr_equal(fl.pair, strstr(q, "bad=")); /* the first pair dropped, */
	assert_ptr_equal(fl.at, strstr(q, "%zz"));     /* at its bad escape */
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
	api_parse_query(NULL, &p, &n, &fl);
	assert_int_equal(n, 0);
	assert_null(fl.at);
	api_params_free(p, n);
}

static void test_unescape(void **state)
{
	char a[] = "a%2Bb+c", b[] = "a%2Bb+c", c[] = "x%zz", d[] = "%4", e[] = "s%00evil";
	const char *bad = NULL;
	(void)state;
	assert_int_equal(api_unescape(a, 0, NULL), 5);
	assert_string_equal(a, "a+b+c");
	assert_int_equal(api_unescape(b, 1, NULL), 5);
	assert_string_equal(b, "a+b c");
	assert_int_equal(api_unescape(c, 1, &bad), -1);
	assert_string_equal(bad, "%zz");
	assert_int_equal(api_unescape(d, 1, &bad), -1);
	/* the decoded length tells a NUL byte from the end */
	assert_int_equal(api_unescape(e, 1, NULL), 6);
	assert_memory_equal(e, "s\0evil", 7);
}

/* SPEC §9: a NUL byte in a parameter's name or value is found after
 * decoding, wherever it is. */
static void test_param_nul(void **state)
{
	static const struct {
		const char *query, *key;
		int in_name;
	} cases[] = {
		{"service=s%00evil&type=heap", "service", 0},
		{"service=s&type=heap%00x", "type", 0},
		{"service=s&labels=k%00x=v", "labels", 0},
		{"service=s&%00=1", "", 1},
		{"service=s&ser%00vice=1", "ser", 1},
		{"service=s&x=%00", "x", 0},
		{"service=s&type=heap&labels=k%2500x=v", NULL, 0}, /* the second decoding is the handler's */
		{"service=s%2500", NULL, 0},
		{"", NULL, 0},
	};
	(void)state;
	for (size_t i = 0; i < PF_ARRAY_LEN(cases); i++) {
		struct api_req r = {0};
		const struct api_param *p;
		int in_name = -1;
		api_parse_query(cases[i].query, &r.params, &r.nparams, NULL);
		p = api_param_nul(&r, &in_name);
		if (!cases[i].key) {
			assert_null(p);
		} else {
			assert_non_null(p);
			assert_string_equal(p->key, cases[i].key);
			assert_int_equal(in_name, cases[i].in_name);
		}
		api_params_free(r.params, r.nparams);
	}
}

/* Echoed input: at most 256 bytes, cut between characters, "…" after a
 * cut, NUL shown as %00. */
static void test_echo(void **state)
{
	char in[600], want[600];
	struct api_echo e;
	(void)state;
	assert_string_equal(api_echo(&e, NULL), "");
	assert_string_equal(api_echo(&e, "k=v"), "k=v");
	assert_string_equal(api_echo_n(&e, "s\0evil", 6), "s%00evil");
	memset(in, 'a', 256);
	in[256] = 0;
	assert_string_equal(api_echo(&e, in), in); /* exactly 256: no cut */
	memset(in, 'a', 500);
	in[500] = 0;
	memset(want, 'a', 256);
	strcpy(want + 256, "\xe2\x80\xa6");
	assert_string_equal(api_echo(&e, in), want);
	/* a two-byte character across the limit goes whole or not at all */
	memset(in, 'a', 255);
	strcpy(in + 255, "\xc3\xa9xyz");
	memset(want, 'a', 255);
	strcpy(want + 255, "\xe2\x80\xa6");
	assert_string_equal(api_echo(&e, in), want);
	/* a NUL that no longer fits as %00 */
	memset(in, 'a', 254);
	memcpy(in + 254, "\0b", 2);
	assert_string_equal(api_echo_n(&e, in, 256), want + 1);
	/* the macro gives each echo its own buffer */
	snprintf(want, sizeof(want), "%s %s", API_ECHO("x"), API_ECHO("y"));
	assert_string_equal(want, "x y");
}

static void test_utf8(void **state)
{
	json_t *j;
	(void)state;
	assert_true(api_utf8_valid("h\xc3\xa9llo \xf0\x9f\x94\xa5"));
	assert_false(api_utf8_valid("\xff"));
	assert_false(api_utf8_valid("\xc0\x80"));     /* overlong NUL */
	assert_false(api_utf8_valid("\xed\xa0\x80")); /* surrogate */
	assert_false(api_utf8_valid("\xc3"));         /* cut short */
	j = api_json_string("k=\xff\xc0\x80x");
	assert_string_equal(json_string_value(j), "k=\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdx");
	json_decref(j);
	j = api_json_string(NULL);
	assert_string_equal(json_string_value(j), "");
	json_decref(j);
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

/* The reply is profefe's envelope and its error is want. */
static void want_error(const struct api_reply *rep, const char *want)
{
	json_error_t jerr;
	json_t *j = json_loadb((const char *)rep->body.data, rep->body.len, 0, &jerr);

	if (!j)
		fail_msg("not JSON: %s: %.*s", jerr.text, (int)rep->body.len, rep->body.data);
	assert_int_equal(json_integer_value(json_object_get(j, "code")), rep->status);
	assert_string_equal(json_string_value(json_object_get(j, "error")), want);
	json_decref(j);
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

	/* bytes that are not UTF-8 (labels=k=%FF) do not empty the message */
	api_reply_error(&rep, 400, "bad request: bad \"labels\" \"%s\": %s", "k=\xff", "value of \"k\" is not valid UTF-8");
	assert_int_equal(rep.status, 400);
	want_error(&rep, "bad request: bad \"labels\" \"k=\xef\xbf\xbd\": value of \"k\" is not valid UTF-8");
	/* no message at all: the status's text stands in */
	api_reply_error(&rep, 400, "%s", "");
	want_error(&rep, "bad request");
	api_reply_error(&rep, 507, "%s", "");
	want_error(&rep, "insufficient storage");
	/* a long message is never cut before its reason */
	{
		char big[3000];
		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = 0;
		api_reply_error(&rep, 400, "%s: the reason", big);
		assert_true(rep.body.len > sizeof(big));
		assert_non_null(strstr((const char *)rep.body.data, "x: the reason\"}"));
	}
	pf_buf_free(&rep.body);
	free(rep.filename);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_query_go_rules),
		cmocka_unit_test(test_unescape),
		cmocka_unit_test(test_param_nul),
		cmocka_unit_test(test_echo),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_path_clean),
		cmocka_unit_test(test_reply_envelopes),
	};
	return cmocka_run_group_tests_name("api", tests, NULL, NULL);
}
