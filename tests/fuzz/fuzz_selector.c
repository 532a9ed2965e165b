/*
 * libFuzzer entry point for the selector parser (src/tsdb/selector.c):
 * Built by `make fuzz` (clang libFuzzer, corpus under build-fuzz/corpus/selector) and,
 * with tests/fuzz/driver.c as main, by `make test`, which feeds it its seeds.
 * Seeds: a few selectors, e.g.  heap{service="api", env!~"dev|test"}
 *
 * Every input is either refused with one sentence "LINE:COL: parse error:
 * ..." whose position lies inside the input (or just past its end), or
 * parsed into matchers that hold what the grammar promises: valid label
 * names, regexes that compile as the store compiles them, one matcher that
 * does not match "", and a canonical rewrite {name="escaped",...} that
 * parses back to the same matchers.
 */
#include "tsdb/tsdb.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int name_ok(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
		return 0;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_' ||
		      (*s >= '0' && *s <= '9')))
			return 0;
	return 1;
}

/* Does m hold for a series without its label (value "")? */
static int matches_empty(const struct tsdb_matcher *m)
{
	pcre2_code *re;
	pcre2_match_data *md;
	int ecode, r;
	PCRE2_SIZE eoff;

	if (m->op == TSDB_MATCH_EQ)
		return m->value[0] == 0;
	if (m->op == TSDB_MATCH_NE)
		return m->value[0] != 0;
	re = pcre2_compile((PCRE2_SPTR)m->value, PCRE2_ZERO_TERMINATED,
			   PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_DOTALL | PCRE2_UTF |
				   PCRE2_MATCH_INVALID_UTF,
			   &ecode, &eoff, NULL);
	if (!re)
		abort(); /* the parser let a bad regex through */
	md = pcre2_match_data_create_from_pattern(re, NULL);
	r = pcre2_match(re, (PCRE2_SPTR) "", 0, 0, 0, md, NULL);
	pcre2_match_data_free(md);
	pcre2_code_free(re);
	return (r >= 0) == (m->op == TSDB_MATCH_RE);
}

static void put_quoted(struct pf_buf *b, const char *v)
{
	pf_buf_putc(b, '"');
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == '"' || *p == '\\')
			pf_buf_printf(b, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			pf_buf_printf(b, "\\x%02x", *p);
		else
			pf_buf_putc(b, *p);
	}
	pf_buf_putc(b, '"');
}

static void check_error(const char *s, size_t len, const struct pf_err *err)
{
	unsigned long line, col, lines = 1, longest = 0, cur = 0;
	int n = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n') {
			lines++;
			cur = 0;
		} else if (++cur > longest) {
			longest = cur;
		}
	}
	if (err->code != PF_EINVAL ||
	    sscanf(err->msg, "%lu:%lu: parse error: %n", &line, &col, &n) != 2 || n == 0 ||
	    err->msg[n] == 0)
		abort(); /* every failure says where and why */
	if (line < 1 || line > lines || col < 1 || (col > longest + 1 && len <= 65536))
		abort(); /* the position lies in the input */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tsdb_selector *sel = NULL, *again = NULL;
	struct pf_err err = {0};
	struct pf_buf canon = PF_BUF_INIT(0);
	const struct tsdb_matcher *m, *m2;
	char *s = malloc(size + 1);
	size_t n, len;
	int nonempty = 0;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	len = strlen(s); /* the parser takes a C string */
	if (tsdb_selector_parse(s, &sel, &err) < 0) {
		if (sel)
			abort();
		check_error(s, len, &err);
		free(s);
		return 0;
	}
	m = tsdb_selector_matchers(sel);
	n = tsdb_selector_len(sel);
	if (n == 0 || n > 256)
		abort();
	pf_buf_putc(&canon, '{');
	for (size_t i = 0; i < n; i++) {
		static const char *ops[] = {"=", "!=", "=~", "!~"};
		if (!name_ok(m[i].name) || (unsigned)m[i].op > TSDB_MATCH_NRE)
			abort();
		nonempty |= !matches_empty(&m[i]);
		pf_buf_printf(&canon, "%s%s", m[i].name, ops[m[i].op]);
		put_quoted(&canon, m[i].value);
		pf_buf_putc(&canon, ',');
	}
	pf_buf_putc(&canon, '}');
	pf_buf_putc(&canon, 0);
	if (!nonempty)
		abort(); /* {} and {a=""} are refused */
	/* The canonical form re-parses to the same matchers (unless escaping
	 * made it longer than the parser takes). */
	if (tsdb_selector_parse((const char *)canon.data, &again, &err) == 0) {
		m2 = tsdb_selector_matchers(again);
		if (tsdb_selector_len(again) != n)
			abort();
		for (size_t i = 0; i < n; i++)
			if (m2[i].op != m[i].op || strcmp(m2[i].name, m[i].name) != 0 ||
			    strcmp(m2[i].value, m[i].value) != 0)
				abort();
	} else if (canon.len <= 65536) {
		abort();
	}
	tsdb_selector_free(again);
	tsdb_selector_free(sel);
	pf_buf_free(&canon);
	free(s);
	return 0;
}
