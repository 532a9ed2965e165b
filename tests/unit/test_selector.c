/* Unit tests for the selector parser (src/tsdb/selector.c): every operator,
 * quoting and escapes, whitespace, and every error with its column. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "tsdb/tsdb.h"

static const char *op_str(enum tsdb_match_op op)
{
	switch (op) {
	case TSDB_MATCH_EQ: return "=";
	case TSDB_MATCH_NE: return "!=";
	case TSDB_MATCH_RE: return "=~";
	case TSDB_MATCH_NRE: return "!~";
	}
	return "?";
}

/* The parsed matchers as "name<op>[value] name<op>[value] ..." (values
 * between brackets, bytes as parsed). */
static void render(const struct tsdb_selector *sel, char *out, size_t n)
{
	const struct tsdb_matcher *m = tsdb_selector_matchers(sel);
	size_t w = 0;

	out[0] = 0;
	for (size_t i = 0; i < tsdb_selector_len(sel) && w < n; i++)
		w += (size_t)snprintf(out + w, n - w, "%s%s%s[%s]", i ? " " : "", m[i].name,
				      op_str(m[i].op), m[i].value);
}

#define assert_parses(input, want)                                                           \
	do {                                                                                 \
		struct tsdb_selector *sel_ = NULL;                                           \
		struct pf_err err_ = {0};                                                    \
		char got_[2048];                                                             \
		int rc_ = tsdb_selector_parse((input), &sel_, &err_);                        \
		if (rc_ != 0)                                                                \
			fail_msg("parse of %s failed: %s", (input), err_.msg);               \
		render(sel_, got_, sizeof(got_));                                            \
		assert_string_equal(got_, (want));                                           \
		tsdb_selector_free(sel_);                                                    \
	} while (0)

#define assert_parse_error(input, want)                                                      \
	do {                                                                                 \
		struct tsdb_selector *sel_ = (struct tsdb_selector *)1;                      \
		struct pf_err err_ = {0};                                                    \
		int rc_ = tsdb_selector_parse((input), &sel_, &err_);                        \
		assert_int_equal(rc_, PF_EINVAL);                                            \
		assert_null(sel_);                                                           \
		assert_int_equal(err_.code, PF_EINVAL);                                      \
		assert_string_equal(err_.msg, (want));                                       \
	} while (0)

static void test_operators(void **state)
{
	(void)state;
	assert_parses("{service=\"api\"}", "service=[api]");
	assert_parses("{service=\"api\", env!=\"dev\"}", "service=[api] env!=[dev]");
	assert_parses("{type=~\"heap|allocs\"}", "type=~[heap|allocs]");
	assert_parses("{service=\"a\",instance!~\"10\\\\..*\"}", "service=[a] instance!~[10\\..*]");
	/* SPEC §6's example */
	assert_parses("{service=\"api\", type=~\"heap|allocs\", env!=\"dev\", instance!~\"10\\\\..*\"}",
		      "service=[api] type=~[heap|allocs] env!=[dev] instance!~[10\\..*]");
	/* the same name twice is two matchers, ANDed */
	assert_parses("{a=\"1\",a!=\"2\"}", "a=[1] a!=[2]");
	/* names: underscores and digits after the first character */
	assert_parses("{_x9=\"v\", A_b=\"w\"}", "_x9=[v] A_b=[w]");
}

static void test_type_name(void **state)
{
	(void)state;
	assert_parses("heap", "type=[heap]");
	assert_parses("heap{service=\"api\"}", "type=[heap] service=[api]");
	assert_parses("heap{}", "type=[heap]");
	assert_parses("  cpu  { service = \"api\" }  ", "type=[cpu] service=[api]");
	assert_parses("go.fgprof-v2", "type=[go.fgprof-v2]");
	assert_parses("_custom9{a=\"b\"}", "type=[_custom9] a=[b]");
	/* a type regex alongside the name is allowed (only = is "set twice") */
	assert_parses("heap{type!=\"cpu\"}", "type=[heap] type!=[cpu]");
	assert_parses("heap{type=~\"h.*\"}", "type=[heap] type=~[h.*]");
}

static void test_quoting(void **state)
{
	(void)state;
	assert_parses("{a='single'}", "a=[single]");
	assert_parses("{a=`raw \\n \\x \"q\" 'q'`}", "a=[raw \\n \\x \"q\" 'q']");
	assert_parses("{a=`multi\nline`}", "a=[multi\nline]");
	assert_parses("{a=\"it's\"}", "a=[it's]");
	assert_parses("{a='say \"hi\"'}", "a=[say \"hi\"]");
	assert_parses("{a=\"\\\"\"}", "a=[\"]");
	assert_parses("{a='\\''}", "a=[']");
	assert_parses("{a=\"\", b=\"x\"}", "a=[] b=[x]");
	assert_parses("{a=\"caf\xc3\xa9\"}", "a=[caf\xc3\xa9]"); /* UTF-8 passes through */
	assert_parses("{a=\"tab\there\"}", "a=[tab\there]");      /* a raw tab is fine */
	assert_parses("{a=\"cr\rhere\"}", "a=[cr\rhere]");
}

static void test_escapes(void **state)
{
	(void)state;
	assert_parses("{a=\"\\\\\"}", "a=[\\]");
	assert_parses("{a=\"x\\ny\\tz\"}", "a=[x\ny\tz]");
	assert_parses("{a=\"\\a\\b\\f\\r\\v\"}", "a=[\a\b\f\r\v]");
	assert_parses("{a=\"\\x41\\x62\"}", "a=[Ab]");
	assert_parses("{a=\"\\xe2\\x82\\xac\"}", "a=[\xe2\x82\xac]"); /* bytes, as Go */
	assert_parses("{a=\"\\u20ac\"}", "a=[\xe2\x82\xac]");
	assert_parses("{a=\"\\u00e9\"}", "a=[\xc3\xa9]");
	assert_parses("{a=\"\\U0001F600\"}", "a=[\xf0\x9f\x98\x80]");
	assert_parses("{a=\"\\101\\142\"}", "a=[Ab]");
	assert_parses("{a='\\n'}", "a=[\n]");
	/* a regex keeps its backslashes once the string is decoded */
	assert_parses("{a=~\"a\\\\.b\"}", "a=~[a\\.b]");
}

static void test_whitespace(void **state)
{
	(void)state;
	assert_parses("{service=\"a\",}", "service=[a]");
	assert_parses("{ service = \"a\" , env != 'b' , }", "service=[a] env!=[b]");
	assert_parses("\t\r\n{\nservice\n=~\n\"a\"\n}\n", "service=~[a]");
	assert_parses("{service=\"a\"}   ", "service=[a]");
	assert_parses("{service =~ \"a\" , x !~ \"b\"}", "service=~[a] x!~[b]");
}

static void test_nonempty_rule(void **state)
{
	(void)state;
	/* one matcher that does not match "" is enough */
	assert_parses("{a=\"\", b=\"x\"}", "a=[] b=[x]");
	assert_parses("{a!=\"\"}", "a!=[]");
	assert_parses("{a=~\".+\"}", "a=~[.+]");
	assert_parses("{a!~\".*\"}", "a!~[.*]");
	assert_parses("{a=~\"x|\", b=~\"y\"}", "a=~[x|] b=~[y]");
	assert_parse_error("{}", "1:1: parse error: a selector needs at least one matcher that does not match the empty string (like {service=\"api\"})");
	assert_parse_error("  {a=\"\"}", "1:3: parse error: a selector needs at least one matcher that does not match the empty string (like {service=\"api\"})");
	assert_parse_error("{a=~\".*\"}", "1:1: parse error: a selector needs at least one matcher that does not match the empty string (like {service=\"api\"})");
	assert_parse_error("{a=~\"x|\"}", "1:1: parse error: a selector needs at least one matcher that does not match the empty string (like {service=\"api\"})");
	assert_parse_error("{a!=\"x\", b!~\"y\"}", "1:1: parse error: a selector needs at least one matcher that does not match the empty string (like {service=\"api\"})");
	assert_parse_error("{a!~\".+\"}", "1:1: parse error: a selector needs at least one matcher that does not match the empty string (like {service=\"api\"})");
}

static void test_syntax_errors(void **state)
{
	(void)state;
	assert_parse_error("", "1:1: parse error: unexpected end of input, expected a type name or \"{\"");
	assert_parse_error("   ", "1:4: parse error: unexpected end of input, expected a type name or \"{\"");
	assert_parse_error("{service=\"api\"", "1:15: parse error: unexpected end of input, expected \",\" or \"}\"");
	assert_parse_error("{service=\"api\",", "1:16: parse error: unexpected end of input, expected a label name or \"}\"");
	assert_parse_error("{service}", "1:9: parse error: unexpected \"}\", expected a label matcher operator (\"=\", \"!=\", \"=~\" or \"!~\")");
	assert_parse_error("{service=\"api\",env}", "1:19: parse error: unexpected \"}\", expected a label matcher operator (\"=\", \"!=\", \"=~\" or \"!~\")");
	assert_parse_error("{service==\"api\"}", "1:10: parse error: unexpected \"=\", expected a label value as a quoted string (\"...\", '...' or `...`)");
	assert_parse_error("{service=api}", "1:10: parse error: unexpected name \"api\", expected a label value as a quoted string (\"...\", '...' or `...`)");
	assert_parse_error("{service=}", "1:10: parse error: unexpected \"}\", expected a label value as a quoted string (\"...\", '...' or `...`)");
	assert_parse_error("{service~\"a\"}", "1:9: parse error: unexpected character \"~\", expected a label matcher operator (\"=\", \"!=\", \"=~\" or \"!~\")");
	assert_parse_error("{service!\"a\"}", "1:9: parse error: unexpected character \"!\", expected a label matcher operator (\"=\", \"!=\", \"=~\" or \"!~\")");
	assert_parse_error("{service=\"a\" env=\"b\"}", "1:14: parse error: unexpected name \"env\", expected \",\" or \"}\"");
	assert_parse_error("{service=\"a\";env=\"b\"}", "1:13: parse error: unexpected character \";\", expected \",\" or \"}\"");
	assert_parse_error("{,}", "1:2: parse error: unexpected \",\", expected a label name or \"}\"");
	assert_parse_error("{a=\"1\",,}", "1:8: parse error: unexpected \",\", expected a label name or \"}\"");
	assert_parse_error("{\"service\"=\"a\"}", "1:2: parse error: unexpected string \"service\", expected a label name or \"}\"");
	assert_parse_error("{9a=\"x\"}", "1:2: parse error: unexpected character \"9\", expected a label name or \"}\"");
	assert_parse_error("{a.b=\"x\"}", "1:3: parse error: unexpected character \".\", expected a label matcher operator (\"=\", \"!=\", \"=~\" or \"!~\")");
	assert_parse_error("{a-b=\"x\"}", "1:3: parse error: unexpected character \"-\", expected a label matcher operator (\"=\", \"!=\", \"=~\" or \"!~\")");
	assert_parse_error("{service=\"a\"}}", "1:14: parse error: unexpected \"}\", expected end of input");
	assert_parse_error("{service=\"a\"} heap", "1:15: parse error: unexpected name \"heap\", expected end of input");
	assert_parse_error("{service=\"a\"}{b=\"c\"}", "1:14: parse error: unexpected \"{\", expected end of input");
	assert_parse_error("heap cpu", "1:6: parse error: unexpected name \"cpu\", expected \"{\" or end of input");
	assert_parse_error("service=\"api\"", "1:8: parse error: unexpected \"=\", expected \"{\" or end of input");
	assert_parse_error("}", "1:1: parse error: unexpected \"}\", expected a type name or \"{\"");
	assert_parse_error("9heap", "1:1: parse error: unexpected character \"9\", expected a type name or \"{\"");
	assert_parse_error("#x", "1:1: parse error: unexpected character \"#\", expected a type name or \"{\"");
	assert_parse_error("{a=\"x\"\xff}", "1:7: parse error: unexpected character \"\\xff\", expected \",\" or \"}\"");
	assert_parse_error("{\n  service=\"a\",\n  env\n}", "4:1: parse error: unexpected \"}\", expected a label matcher operator (\"=\", \"!=\", \"=~\" or \"!~\")");
	assert_parse_error("heap{type=\"cpu\"}", "1:6: parse error: type set twice: by the name \"heap\" and by type=\"cpu\"");
	/* the example of the brief: an operator missing after a name */
	assert_parse_error("{service=\"a\",b}", "1:15: parse error: unexpected \"}\", expected a label matcher operator (\"=\", \"!=\", \"=~\" or \"!~\")");
}

static void test_string_errors(void **state)
{
	(void)state;
	assert_parse_error("{a=\"abc}", "1:4: parse error: unterminated quoted string");
	assert_parse_error("{a='abc}", "1:4: parse error: unterminated quoted string");
	assert_parse_error("{a=`abc}", "1:4: parse error: unterminated raw string");
	assert_parse_error("{a=\"ab\ncd\"}", "1:4: parse error: unterminated quoted string");
	assert_parse_error("{a=\"ab\\", "1:4: parse error: unterminated quoted string");
	assert_parse_error("{a=\"\\q\"}", "1:5: parse error: unknown escape sequence \"\\q\"");
	assert_parse_error("{a=\"\\'\"}", "1:5: parse error: unknown escape sequence \"\\'\"");
	assert_parse_error("{a='\\\"'}", "1:5: parse error: unknown escape sequence \"\\\"\"");
	assert_parse_error("{a=\"x\\x4g\"}", "1:6: parse error: invalid escape sequence \"\\x4g\", expected 2 hex digits after \\x");
	assert_parse_error("{a=\"\\u12\"}", "1:5: parse error: invalid escape sequence \"\\u12\"\", expected 4 hex digits after \\u");
	assert_parse_error("{a=\"\\U0011ffff\"}", "1:5: parse error: invalid escape sequence \"\\U0011ffff\", not a Unicode code point");
	assert_parse_error("{a=\"\\ud800\"}", "1:5: parse error: invalid escape sequence \"\\ud800\", not a Unicode code point");
	assert_parse_error("{a=\"\\400\"}", "1:5: parse error: invalid escape sequence \"\\400\", octal value above \\377");
	assert_parse_error("{a=\"\\19\"}", "1:5: parse error: invalid escape sequence \"\\19\", expected three octal digits");
	assert_parse_error("{a=\"\\x00\"}", "1:5: parse error: a label value cannot hold a NUL byte (escape \"\\x00\")");
	assert_parse_error("{a=\"\\u0000\"}", "1:5: parse error: a label value cannot hold a NUL byte (escape \"\\u0000\")");
	assert_parse_error("{a=\"\\000\"}", "1:5: parse error: a label value cannot hold a NUL byte (escape \"\\000\")");
}

static void test_regex_errors(void **state)
{
	(void)state;
	assert_parse_error("{service=~\"a(\"}", "1:11: parse error: invalid regular expression \"a(\" for label \"service\": missing closing parenthesis at offset 2 of the pattern");
	assert_parse_error("{service=\"x\", env!~\"[z-a]\"}", "1:20: parse error: invalid regular expression \"[z-a]\" for label \"env\": range out of order in character class at offset 3 of the pattern");
	assert_parse_error("{a=~\"\\xff\"}", "1:5: parse error: invalid regular expression \"\\xff\" for label \"a\": UTF-8 error: illegal byte (0xfe or 0xff) at offset 0 of the pattern");
	/* an invalid regex is refused even where = would accept the text */
	assert_parses("{a=\"a(\"}", "a=[a(]");
}

static void test_limits(void **state)
{
	char *big = malloc(70000), *many = malloc(256 * 12 + 16);
	size_t w = 0;
	(void)state;

	memset(big, ' ', 69999);
	big[0] = '{';
	big[69999] = 0;
	assert_parse_error(big, "1:65537: parse error: selector longer than 65536 bytes");

	many[w++] = '{';
	for (int i = 0; i < 256; i++)
		w += (size_t)snprintf(many + w, 256 * 12 + 16 - w, "a%d=\"x\",", i);
	many[w++] = '}';
	many[w] = 0;
	{
		struct tsdb_selector *sel = NULL;
		assert_int_equal(tsdb_selector_parse(many, &sel, NULL), 0);
		assert_int_equal(tsdb_selector_len(sel), 256);
		tsdb_selector_free(sel);
	}
	memcpy(many + w - 1, "b=\"x\"}", 7); /* a 257th matcher */
	assert_parse_error(many, "1:2196: parse error: more than 256 label matchers");
	free(big);
	free(many);
	tsdb_selector_free(NULL);
	assert_int_equal(tsdb_selector_len(NULL), 0);
	assert_null(tsdb_selector_matchers(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_operators),
		cmocka_unit_test(test_type_name),
		cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_whitespace),
		cmocka_unit_test(test_nonempty_rule),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_string_errors),
		cmocka_unit_test(test_regex_errors),
		cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests_name("selector", tests, NULL, NULL);
}
