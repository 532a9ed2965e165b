/*
 * Selector parsing: PromQL's vector selector, with the profile type where
 * PromQL has the metric name.
 *
 *   selector := [type-name] [ "{" [ matcher { "," matcher } [ "," ] ] "}" ]
 *   matcher  := label-name op string
 *   op       := "=" | "!=" | "=~" | "!~"
 *   string   := "..." | '...' (Go escapes) | `...` (raw)
 *
 * A selector is the type name alone, braces alone, or both. Whitespace
 * (space, tab, CR, LF) may appear between any two tokens. Label names are
 * [a-zA-Z_][a-zA-Z0-9_]*; the type name may also hold '.' and '-' after its
 * first character (custom types such as "go.fgprof"). Every error is one
 * sentence "LINE:COL: parse error: ...", LINE and COL 1-based, COL in bytes.
 */
#include "tsdb/tsdb.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>

#define SEL_MAX_BYTES 65536
#define SEL_MAX_MATCHERS 256

/*
 * The options tsdb_find compiles regexes with (head.c, pred_init): fully
 * anchored like Prometheus's ^(?s:re)$. Kept equal so that a selector that
 * parses never fails in the store.
 */
#define SEL_PCRE2_OPTIONS                                                                   \
	(PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_DOTALL | PCRE2_UTF |                    \
	 PCRE2_MATCH_INVALID_UTF)

struct tsdb_selector {
	struct tsdb_matcher *m;
	size_t n, cap;
	struct pf_arena *arena; /* names and values */
};

enum tok_kind {
	TOK_EOF,
	TOK_NAME,
	TOK_LBRACE,
	TOK_RBRACE,
	TOK_COMMA,
	TOK_EQ,
	TOK_NE,
	TOK_RE,
	TOK_NRE,
	TOK_STRING,
	TOK_BAD, /* a byte that starts no token */
};

struct tok {
	enum tok_kind kind;
	size_t pos, len; /* in the input */
	char *str;       /* TOK_NAME and TOK_STRING: decoded, in the arena */
	size_t slen;
};

struct parser {
	const char *s;
	size_t len, pos;
	struct tsdb_selector *sel;
	struct pf_err *err;
};

/* ---- errors ----------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static int fail_at(struct parser *p, size_t pos,
							 const char *fmt, ...)
{
	char msg[400];
	size_t line = 1, col = 1;
	va_list ap;

	for (size_t i = 0; i < pos && i < p->len; i++) {
		if (p->s[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	if (pos > p->len)
		col += pos - p->len;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return pf_err_set(p->err, PF_EINVAL, "%zu:%zu: parse error: %s", line, col, msg);
}

/* Show up to 40 bytes of s in a message: printable ASCII as is, other
 * bytes as \xNN; "..." marks a cut. No quotes around. */
static void excerpt(const char *s, size_t n, char *out, size_t outsz)
{
	size_t w = 0;
	const size_t maxin = 40;

	for (size_t i = 0; i < n && i < maxin && w + 6 < outsz; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f) {
			out[w++] = (char)c;
		} else {
			w += (size_t)snprintf(out + w, outsz - w, "\\x%02x", c);
		}
	}
	if (n > maxin && w + 4 < outsz) {
		memcpy(out + w, "...", 3);
		w += 3;
	}
	out[w] = 0;
}

/* end of input, "}", name "foo", string 'a', character "#" */
static void describe(const struct parser *p, const struct tok *t, char *out, size_t outsz)
{
	char x[200];

	excerpt(p->s + t->pos, t->len, x, sizeof(x));
	switch (t->kind) {
	case TOK_EOF:
		snprintf(out, outsz, "end of input");
		break;
	case TOK_NAME:
		snprintf(out, outsz, "name \"%s\"", x);
		break;
	case TOK_STRING: /* as written, with its own quotes */
		snprintf(out, outsz, "string %s", x);
		break;
	case TOK_BAD:
		snprintf(out, outsz, "character \"%s\"", x);
		break;
	default:
		snprintf(out, outsz, "\"%s\"", x);
		break;
	}
}

static int unexpected(struct parser *p, const struct tok *t, const char *expected)
{
	char d[256];
	describe(p, t, d, sizeof(d));
	return fail_at(p, t->pos, "unexpected %s, expected %s", d, expected);
}

/* ---- lexing ----------------------------------------------------------- */

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_name_char(char c, int type_name)
{
	return is_name_start(c) || (c >= '0' && c <= '9') || (type_name && (c == '.' || c == '-'));
}

static size_t put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * One escape sequence at p->s[at] == '\\' inside a string quoted with q.
 * Writes its bytes at *w and returns the input bytes consumed, or -1 with
 * the error set. Go's escapes: \a \b \f \n \r \t \v \\, the string's own
 * quote, \NNN (octal, at most \377), \xNN, \uNNNN, \UNNNNNNNN.
 */
static int lex_escape(struct parser *p, size_t at, char q, char **w)
{
	const char *e = p->s + at;
	size_t left = p->len - at;
	char c = left > 1 ? e[1] : 0, shown[64];
	uint32_t v = 0;
	int nd = 0;

	switch (c) {
	case 'a': *(*w)++ = '\a'; return 2;
	case 'b': *(*w)++ = '\b'; return 2;
	case 'f': *(*w)++ = '\f'; return 2;
	case 'n': *(*w)++ = '\n'; return 2;
	case 'r': *(*w)++ = '\r'; return 2;
	case 't': *(*w)++ = '\t'; return 2;
	case 'v': *(*w)++ = '\v'; return 2;
	case '\\': *(*w)++ = '\\'; return 2;
	case 'x': nd = 2; break;
	case 'u': nd = 4; break;
	case 'U': nd = 8; break;
	default:
		if (c == q) {
			*(*w)++ = q;
			return 2;
		}
		if (c >= '0' && c <= '7') {
			for (int i = 1; i <= 3; i++) {
				if ((size_t)i >= left || e[i] < '0' || e[i] > '7') {
					excerpt(e, (size_t)i < left ? (size_t)i + 1 : left, shown,
						sizeof(shown));
					return fail_at(p, at, "invalid escape sequence \"%s\", expected three octal digits", shown),
					       -1;
				}
				v = v * 8 + (uint32_t)(e[i] - '0');
			}
			if (v > 255) {
				excerpt(e, 4, shown, sizeof(shown));
				return fail_at(p, at, "invalid escape sequence \"%s\", octal value above \\377", shown), -1;
			}
			if (v == 0)
				return fail_at(p, at, "a label value cannot hold a NUL byte (escape \"\\000\")"), -1;
			*(*w)++ = (char)v;
			return 4;
		}
		excerpt(e, 2, shown, sizeof(shown));
		return fail_at(p, at, "unknown escape sequence \"%s\"", shown), -1;
	}
	for (int i = 0; i < nd; i++) {
		int h = (size_t)(2 + i) < left ? pf_hexval(e[2 + i]) : -1;
		if (h < 0) {
			size_t n = (size_t)(3 + i) < left ? (size_t)(3 + i) : left;
			excerpt(e, n, shown, sizeof(shown));
			return fail_at(p, at, "invalid escape sequence \"%s\", expected %d hex digits after \\%c",
				       shown, nd, c),
			       -1;
		}
		v = v << 4 | (uint32_t)h;
	}
	excerpt(e, (size_t)(2 + nd), shown, sizeof(shown));
	if (c != 'x' && (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)))
		return fail_at(p, at, "invalid escape sequence \"%s\", not a Unicode code point", shown), -1;
	if (v == 0)
		return fail_at(p, at, "a label value cannot hold a NUL byte (escape \"%s\")", shown), -1;
	if (c == 'x')
		*(*w)++ = (char)v;
	else
		*w += put_utf8(*w, v);
	return 2 + nd;
}

/* A quoted string starting at p->pos; the decoded text goes into t. */
static int lex_string(struct parser *p, struct tok *t)
{
	char q = p->s[p->pos];
	size_t i = p->pos + 1;
	/* decoding never grows the text: the raw length is enough */
	char *out = pf_arena_alloc(p->sel->arena, p->len - p->pos + 1), *w = out;

	for (;;) {
		if (i >= p->len || (q != '`' && p->s[i] == '\n'))
			return fail_at(p, p->pos, "unterminated %s string",
				       q == '`' ? "raw" : "quoted");
		if (p->s[i] == q)
			break;
		if (p->s[i] == '\\' && q != '`') {
			int n;
			if (i + 1 >= p->len)
				return fail_at(p, p->pos, "unterminated quoted string");
			n = lex_escape(p, i, q, &w);
			if (n < 0)
				return PF_EINVAL;
			i += (size_t)n;
			continue;
		}
		*w++ = p->s[i++];
	}
	*w = 0;
	t->kind = TOK_STRING;
	t->str = out;
	t->slen = (size_t)(w - out);
	t->len = i + 1 - p->pos;
	p->pos = i + 1;
	return 0;
}

/* The next token; type_name allows '.' and '-' inside a name. */
static int lex(struct parser *p, struct tok *t, int type_name)
{
	const char *s = p->s;

	while (p->pos < p->len && is_space(s[p->pos]))
		p->pos++;
	memset(t, 0, sizeof(*t));
	t->pos = p->pos;
	t->len = 1;
	if (p->pos >= p->len) {
		t->kind = TOK_EOF;
		t->len = 0;
		return 0;
	}
	switch (s[p->pos]) {
	case '{': t->kind = TOK_LBRACE; break;
	case '}': t->kind = TOK_RBRACE; break;
	case ',': t->kind = TOK_COMMA; break;
	case '=':
		t->kind = TOK_EQ;
		if (p->pos + 1 < p->len && s[p->pos + 1] == '~') {
			t->kind = TOK_RE;
			t->len = 2;
		}
		break;
	case '!':
		if (p->pos + 1 < p->len && s[p->pos + 1] == '=') {
			t->kind = TOK_NE;
			t->len = 2;
		} else if (p->pos + 1 < p->len && s[p->pos + 1] == '~') {
			t->kind = TOK_NRE;
			t->len = 2;
		} else {
			t->kind = TOK_BAD;
		}
		break;
	case '"':
	case '\'':
	case '`':
		return lex_string(p, t);
	default:
		if (is_name_start(s[p->pos])) {
			size_t e = p->pos + 1;
			while (e < p->len && is_name_char(s[e], type_name))
				e++;
			t->kind = TOK_NAME;
			t->len = e - p->pos;
			t->str = pf_arena_strndup(p->sel->arena, s + p->pos, t->len);
			t->slen = t->len;
		} else {
			t->kind = TOK_BAD;
		}
		break;
	}
	if (t->kind != TOK_BAD)
		p->pos += t->len;
	return 0;
}

/* ---- parsing ---------------------------------------------------------- */

static void add_matcher(struct tsdb_selector *sel, enum tsdb_match_op op, const char *name,
			const char *value)
{
	pf_xgrow((void **)&sel->m, &sel->cap, sel->n + 1, sizeof(*sel->m));
	sel->m[sel->n].op = op;
	sel->m[sel->n].name = name;
	sel->m[sel->n].value = value;
	sel->n++;
}

/*
 * Check a matcher's value: a regex must compile as the store compiles it.
 * *matches_empty says whether the matcher holds for a missing label.
 */
static int check_value(struct parser *p, const struct tok *name, enum tsdb_match_op op,
		       const struct tok *val, int *matches_empty)
{
	pcre2_code *re;
	pcre2_match_data *md;
	PCRE2_SIZE eoff;
	int ecode, r;

	if (op == TSDB_MATCH_EQ || op == TSDB_MATCH_NE) {
		*matches_empty = (val->slen == 0) == (op == TSDB_MATCH_EQ);
		return 0;
	}
	re = pcre2_compile((PCRE2_SPTR)val->str, val->slen, SEL_PCRE2_OPTIONS, &ecode, &eoff, NULL);
	if (!re) {
		PCRE2_UCHAR msg[256];
		char shown[200];
		pcre2_get_error_message(ecode, msg, sizeof(msg));
		excerpt(val->str, val->slen, shown, sizeof(shown));
		return fail_at(p, val->pos, "invalid regular expression \"%s\" for label \"%s\": %s at offset %zu of the pattern",
			       shown, name->str, (const char *)msg, (size_t)eoff);
	}
	md = pcre2_match_data_create_from_pattern(re, NULL);
	if (!md)
		abort();
	r = pcre2_match(re, (PCRE2_SPTR) "", 0, 0, 0, md, NULL);
	pcre2_match_data_free(md);
	pcre2_code_free(re);
	*matches_empty = (r >= 0) == (op == TSDB_MATCH_RE);
	return 0;
}

static int parse(struct parser *p)
{
	struct tok t, name, op, val;
	size_t start;
	const char *type_name = NULL;
	int nonempty = 0, me = 1;

	while (p->pos < p->len && is_space(p->s[p->pos]))
		p->pos++;
	start = p->pos;
	if (p->len > SEL_MAX_BYTES)
		return fail_at(p, SEL_MAX_BYTES, "selector longer than %d bytes", SEL_MAX_BYTES);
	if (lex(p, &t, 1) < 0)
		return PF_EINVAL;
	if (t.kind == TOK_NAME) {
		type_name = t.str;
		add_matcher(p->sel, TSDB_MATCH_EQ, "type", t.str);
		nonempty = 1;
		if (lex(p, &t, 0) < 0)
			return PF_EINVAL;
		if (t.kind == TOK_EOF)
			return 0;
		if (t.kind != TOK_LBRACE)
			return unexpected(p, &t, "\"{\" or end of input");
	} else if (t.kind != TOK_LBRACE) {
		return unexpected(p, &t, "a type name or \"{\"");
	}
	for (;;) {
		enum tsdb_match_op mop;

		if (lex(p, &name, 0) < 0)
			return PF_EINVAL;
		if (name.kind == TOK_RBRACE)
			break;
		if (name.kind != TOK_NAME)
			return unexpected(p, &name, "a label name or \"}\"");
		if (p->sel->n >= SEL_MAX_MATCHERS)
			return fail_at(p, name.pos, "more than %d label matchers", SEL_MAX_MATCHERS);
		if (lex(p, &op, 0) < 0)
			return PF_EINVAL;
		switch (op.kind) {
		case TOK_EQ: mop = TSDB_MATCH_EQ; break;
		case TOK_NE: mop = TSDB_MATCH_NE; break;
		case TOK_RE: mop = TSDB_MATCH_RE; break;
		case TOK_NRE: mop = TSDB_MATCH_NRE; break;
		default:
			return unexpected(p, &op, "a label matcher operator (\"=\", \"!=\", \"=~\" or \"!~\")");
		}
		if (lex(p, &val, 0) < 0)
			return PF_EINVAL;
		if (val.kind != TOK_STRING)
			return unexpected(p, &val, "a label value as a quoted string (\"...\", '...' or `...`)");
		if (type_name && mop == TSDB_MATCH_EQ && strcmp(name.str, "type") == 0)
			return fail_at(p, name.pos, "type set twice: by the name \"%.64s\" and by type=\"%.64s\"",
				       type_name, val.str);
		if (check_value(p, &name, mop, &val, &me) < 0)
			return PF_EINVAL;
		nonempty |= !me;
		add_matcher(p->sel, mop, name.str, val.str);
		if (lex(p, &t, 0) < 0)
			return PF_EINVAL;
		if (t.kind == TOK_RBRACE)
			break;
		if (t.kind != TOK_COMMA)
			return unexpected(p, &t, "\",\" or \"}\"");
	}
	if (lex(p, &t, 0) < 0)
		return PF_EINVAL;
	if (t.kind != TOK_EOF)
		return unexpected(p, &t, "end of input");
	if (!nonempty)
		return fail_at(p, start, "a selector needs at least one matcher that does not match the empty string (like {service=\"api\"})");
	return 0;
}

int tsdb_selector_parse(const char *s, struct tsdb_selector **out, struct pf_err *err)
{
	struct tsdb_selector *sel = pf_xcalloc(1, sizeof(*sel));
	struct parser p = {0};
	int rc;

	*out = NULL;
	sel->arena = pf_arena_new();
	p.s = s ? s : "";
	p.len = strlen(p.s);
	p.sel = sel;
	p.err = err;
	if ((rc = parse(&p)) < 0) {
		tsdb_selector_free(sel);
		return rc;
	}
	*out = sel;
	return 0;
}

size_t tsdb_selector_len(const struct tsdb_selector *sel)
{
	return sel ? sel->n : 0;
}

const struct tsdb_matcher *tsdb_selector_matchers(const struct tsdb_selector *sel)
{
	return sel ? sel->m : NULL;
}

void tsdb_selector_free(struct tsdb_selector *sel)
{
	if (!sel)
		return;
	pf_arena_free(sel->arena);
	free(sel->m);
	free(sel);
}
