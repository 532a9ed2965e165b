/*
 * The prepared view: sample type, filters and frame names, as go tool pprof
 * has them (google/pprof: profile.SampleIndexByName, driver.applyFocus,
 * profile.FilterSamplesByName, ShowFrom, FilterSamplesByTag, Aggregate,
 * graph.nodeInfo and NodeInfo.PrintableName).
 */
#include "report/report-internal.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pcre2.h>
#include <stdlib.h>

void report_opts_init(struct report_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->node_fraction = -1;
}

int report_granularity_parse(const char *s, enum report_granularity *g, struct pf_err *err)
{
	if (!s || !*s || strcmp(s, "functions") == 0)
		*g = REPORT_FUNCTIONS;
	else if (strcmp(s, "lines") == 0)
		*g = REPORT_LINES;
	else if (strcmp(s, "files") == 0)
		*g = REPORT_FILES;
	else
		return pf_err_set(err, PF_EINVAL, "unknown granularity \"%.200s\" (want functions, lines or files)", s);
	return 0;
}

/* ---- regexes ----------------------------------------------------------- */

struct rx {
	pcre2_code *re;
	pcre2_match_data *md;
};

static int rx_compile(struct rx *r, const char *what, const char *pat, struct pf_err *err)
{
	PCRE2_SIZE eoff;
	int ecode;

	r->re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
			      PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &ecode, &eoff, NULL);
	if (!r->re) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(ecode, msg, sizeof(msg));
		return pf_err_set(err, PF_EINVAL, "bad %s regex \"%.200s\": %s at offset %zu", what,
				  pat, (const char *)msg, (size_t)eoff);
	}
	r->md = pcre2_match_data_create_from_pattern(r->re, NULL);
	if (!r->md)
		abort();
	return 0;
}

static void rx_free(struct rx *r)
{
	pcre2_match_data_free(r->md);
	pcre2_code_free(r->re);
	r->re = NULL;
	r->md = NULL;
}

/* Go's regexp.MatchString: a match anywhere. */
static int rx_match(struct rx *r, const char *s)
{
	return pcre2_match(r->re, (PCRE2_SPTR)s, strlen(s), 0, 0, r->md, NULL) >= 0;
}

/* ---- tag filters (driver.compileTagFilter) ------------------------------ */

/* measurement.unitTypes: memory and time (and GCU), each unit with its
 * aliases and factor; the first of a type is its default. */
struct unit_def {
	const char *name;
	const char *aliases[4];
	double factor;
};
static const struct unit_def mem_units[] = {
	{"B", {"b", "byte"}, 1},
	{"kB", {"kb", "kbyte", "kilobyte"}, 1024.0},
	{"MB", {"mb", "mbyte", "megabyte"}, 1048576.0},
	{"GB", {"gb", "gbyte", "gigabyte"}, 1073741824.0},
	{"TB", {"tb", "tbyte", "terabyte"}, 1099511627776.0},
	{"PB", {"pb", "pbyte", "petabyte"}, 1125899906842624.0},
};
static const struct unit_def time_units[] = {
	{"ns", {"ns", "nanosecond"}, 1},
	{"us", {"\xce\xbcs", "us", "microsecond"}, 1e3},
	{"ms", {"ms", "millisecond"}, 1e6},
	{"s", {"s", "sec", "second"}, 1e9},
	{"hrs", {"hour", "hr"}, 3.6e12},
};
static const struct unit_def gcu_units[] = {
	{"n*GCU", {"nanogcu"}, 1e-9}, {"u*GCU", {"microgcu"}, 1e-6}, {"m*GCU", {"milligcu"}, 1e-3},
	{"GCU", {"gcu"}, 1}, {"k*GCU", {"kilogcu"}, 1e3}, {"M*GCU", {"megagcu"}, 1e6},
	{"G*GCU", {"gigagcu"}, 1e9}, {"T*GCU", {"teragcu"}, 1e12}, {"P*GCU", {"petagcu"}, 1e15},
};
static const struct {
	const struct unit_def *u;
	size_t n;
	const struct unit_def *dflt;
} unit_types[] = {
	{mem_units, PF_ARRAY_LEN(mem_units), &mem_units[0]},
	{time_units, PF_ARRAY_LEN(time_units), &time_units[3]},
	{gcu_units, PF_ARRAY_LEN(gcu_units), &gcu_units[3]},
};

/* unitType.sniffUnit: lower case, a trailing "s" dropped past 2 bytes. */
static const struct unit_def *sniff_unit(size_t type, const char *name)
{
	char low[64];
	size_t n = strlen(name);

	if (n >= sizeof(low))
		return NULL;
	for (size_t i = 0; i <= n; i++)
		low[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
	if (n > 2 && low[n - 1] == 's')
		low[n - 1] = '\0';
	for (size_t i = 0; i < unit_types[type].n; i++)
		for (size_t a = 0; a < 4 && unit_types[type].u[i].aliases[a]; a++)
			if (strcmp(unit_types[type].u[i].aliases[a], low) == 0)
				return &unit_types[type].u[i];
	return NULL;
}

/* measurement.Scale (without "minimum"/"auto"): value in from-units as a
 * number of to-units, and the canonical name of those ("" for counts). */
static double scale_unit(int64_t value, const char *from, const char *to, const char **unit)
{
	if (value < 0 && -value > 0)
		return -scale_unit(-value, from, to, unit);
	for (size_t t = 0; t < PF_ARRAY_LEN(unit_types); t++) {
		const struct unit_def *f = sniff_unit(t, from), *u;
		if (!f)
			continue;
		u = sniff_unit(t, to);
		if (!u)
			u = unit_types[t].dflt;
		*unit = u->name;
		return (double)value * f->factor / u->factor;
	}
	*unit = (!strcmp(to, "count") || !strcmp(to, "sample") || !strcmp(to, "unit")) ? "" : to;
	return (double)value;
}

struct tagf {
	int on;
	char *key;        /* NULL: any key */
	struct rx *re;    /* regexes, or none when numeric */
	size_t nre;
	int numeric;      /* a range: lo <= value <= hi, in units unit */
	double lo, hi;
	char unit[16];
};

/* One match of ([+-]?[0-9]+)([A-Za-z]+)? at or after p, as Go's regexp
 * finds it (leftmost); 0 when there is none. */
static int find_num(const char *p, const char **start, const char **digits, const char **letters,
		    const char **end)
{
	for (; *p; p++) {
		const char *q = p;
		if ((*q == '+' || *q == '-') && q[1] >= '0' && q[1] <= '9')
			q++;
		if (*q < '0' || *q > '9')
			continue;
		*start = p;
		*digits = p;
		while (*q >= '0' && *q <= '9')
			q++;
		*letters = q;
		while ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z'))
			q++;
		*end = q;
		return 1;
	}
	return 0;
}

/* driver.parseTagFilterRange: "32kb" (equal), ":64kb", "4mb:", "12kb:64mb";
 * 1 with t's range set, 0 when s is no such range (a regex then). */
static int parse_range(const char *s, struct tagf *t)
{
	const char *st[2], *dg[2], *lt[2], *en[2], *unit;
	char ustr[2][32];
	int64_t v[2];
	size_t n = 0, ul;

	for (const char *p = s; n < 2 && find_num(p, &st[n], &dg[n], &lt[n], &en[n]); p = en[n - 1])
		n++;
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char *e;
		errno = 0;
		v[i] = strtoll(dg[i], &e, 10);
		if (errno)
			return 0;
		ul = (size_t)(en[i] - lt[i]);
		if (ul >= sizeof(ustr[i]))
			return 0;
		memcpy(ustr[i], lt[i], ul);
		ustr[i][ul] = '\0';
	}
	double a = scale_unit(v[0], ustr[0], ustr[0], &unit);
	size_t mlen = (size_t)(en[0] - st[0]), slen = strlen(s);
	snprintf(t->unit, sizeof(t->unit), "%s", unit);
	if (n == 1) {
		if (slen == mlen && s == st[0]) {
			t->lo = t->hi = a;
		} else if (slen == mlen + 1 && s == st[0] && s[mlen] == ':') {
			t->lo = a;
			t->hi = INFINITY;
		} else if (slen == mlen + 1 && s[0] == ':' && st[0] == s + 1) {
			t->lo = -INFINITY;
			t->hi = a;
		} else {
			return 0;
		}
		return 1;
	}
	/* "A:B" exactly */
	if (st[0] != s || en[0][0] != ':' || st[1] != en[0] + 1 || *en[1] != '\0')
		return 0;
	const char *unit2;
	double b = scale_unit(v[1], ustr[1], t->unit, &unit2);
	if (strcmp(unit2, t->unit) != 0)
		return 0;
	t->lo = a;
	t->hi = b;
	return 1;
}

static void tagf_free(struct tagf *t)
{
	for (size_t i = 0; i < t->nre; i++)
		rx_free(&t->re[i]);
	free(t->re);
	free(t->key);
	memset(t, 0, sizeof(*t));
}

static int tagf_compile(struct tagf *t, const char *what, const char *value, struct pf_err *err)
{
	const char *eq, *val = value;
	int rc;

	memset(t, 0, sizeof(*t));
	if (!value || !*value)
		return 0;
	t->on = 1;
	if ((eq = strchr(value, '='))) {
		t->key = pf_xstrndup(value, (size_t)(eq - value));
		val = eq + 1;
	}
	if (parse_range(val, t)) {
		t->numeric = 1;
		return 0;
	}
	for (const char *p = val;;) {
		const char *c = strchr(p, ',');
		size_t n = c ? (size_t)(c - p) : strlen(p);
		char *pat = pf_xstrndup(p, n);
		t->re = pf_xrealloc(t->re, (t->nre + 1) * sizeof(*t->re));
		rc = rx_compile(&t->re[t->nre], what, pat, err);
		free(pat);
		if (rc < 0)
			goto fail;
		t->nre++;
		if (!c)
			break;
		p = c + 1;
	}
	return 0;
fail:
	tagf_free(t);
	return PF_EINVAL;
}

/* profile.NumLabelUnits: a numeric label's unit is the first num_unit its
 * key has in the profile, else "bytes" for "alignment" and "request", else
 * the key itself. Map: key string index -> unit string index (0: none). */
static struct pf_map *num_units_new(const struct pprof_profile *p)
{
	const pprof_msg *m = pprof_message(p);
	struct pf_map *u = pf_map_new(16);

	for (size_t i = 0; i < m->n_sample; i++)
		for (size_t k = 0; k < m->sample[i]->n_label; k++) {
			const Perftools__Profiles__Label *l = m->sample[i]->label[k];
			uint64_t v = (uint64_t)l->num_unit;
			if (l->str != 0 || (l->num == 0 && l->num_unit == 0))
				continue;
			if (pf_map_get_or_put(u, &l->key, sizeof(l->key), &v) && v == 0 && l->num_unit)
				pf_map_put(u, &l->key, sizeof(l->key), (uint64_t)l->num_unit);
		}
	return u;
}

static const char *num_unit(const struct pprof_profile *p, struct pf_map *units, int64_t key)
{
	uint64_t v = 0;
	const char *k = pprof_string(p, key);

	if (pf_map_get(units, &key, sizeof(key), &v) && v)
		return pprof_string(p, (int64_t)v);
	return strcmp(k, "alignment") == 0 || strcmp(k, "request") == 0 ? "bytes" : k;
}

static int tagf_match(struct tagf *t, const struct pprof_profile *p, const Perftools__Profiles__Sample *s,
		      struct pf_map *units, struct pf_buf *scratch)
{
	if (t->numeric) {
		for (size_t i = 0; i < s->n_label; i++) {
			const Perftools__Profiles__Label *l = s->label[i];
			const char *su;
			double sv;
			if (l->str != 0 || (l->num == 0 && l->num_unit == 0))
				continue;
			if (t->key && strcmp(pprof_string(p, l->key), t->key) != 0)
				continue;
			sv = scale_unit(l->num, num_unit(p, units, l->key), t->unit, &su);
			if (strcmp(su, t->unit) == 0 && sv >= t->lo && sv <= t->hi)
				return 1;
		}
		return 0;
	}
	if (t->key) {
		for (size_t i = 0; i < s->n_label; i++) {
			const Perftools__Profiles__Label *l = s->label[i];
			if (l->str == 0 || strcmp(pprof_string(p, l->key), t->key) != 0)
				continue;
			for (size_t r = 0; r < t->nre; r++)
				if (rx_match(&t->re[r], pprof_string(p, l->str)))
					return 1;
		}
		return 0;
	}
	/* every regex must match some "key:value" */
	for (size_t r = 0; r < t->nre; r++) {
		int found = 0;
		for (size_t i = 0; i < s->n_label && !found; i++) {
			const Perftools__Profiles__Label *l = s->label[i];
			if (l->str == 0)
				continue;
			pf_buf_reset(scratch);
			pf_buf_printf(scratch, "%s:%s", pprof_string(p, l->key), pprof_string(p, l->str));
			found = rx_match(&t->re[r], (const char *)scratch->data);
		}
		if (!found)
			return 0;
	}
	return 1;
}

/* ---- names -------------------------------------------------------------- */

/* Go's filepath.Clean, appended to b. */
static void clean_path(const char *s, struct pf_buf *b)
{
	size_t start = b->len, n = strlen(s), i = 0, root = 0;
	size_t *segs = NULL, nsegs = 0, cap = 0; /* start offsets in b of kept elements */

	if (n == 0) {
		pf_buf_putc(b, '.');
		return;
	}
	if (s[0] == '/') {
		pf_buf_putc(b, '/');
		root = 1;
		i = 1;
	}
	while (i < n) {
		size_t j = i;
		while (j < n && s[j] != '/')
			j++;
		size_t len = j - i;
		if (len == 0 || (len == 1 && s[i] == '.')) {
			/* skip */
		} else if (len == 2 && s[i] == '.' && s[i + 1] == '.') {
			if (nsegs > 0 && !(b->len - segs[nsegs - 1] == 2 &&
					   memcmp(b->data + segs[nsegs - 1], "..", 2) == 0)) {
				b->len = segs[--nsegs];
				if (b->len > start + root)
					b->len--; /* the separator before it */
			} else if (!root) {
				if (b->len > start)
					pf_buf_putc(b, '/');
				pf_xgrow((void **)&segs, &cap, nsegs + 1, sizeof(*segs));
				segs[nsegs++] = b->len;
				pf_buf_append(b, "..", 2);
			}
		} else {
			if (b->len > start + root)
				pf_buf_putc(b, '/');
			pf_xgrow((void **)&segs, &cap, nsegs + 1, sizeof(*segs));
			segs[nsegs++] = b->len;
			pf_buf_append(b, s + i, len);
		}
		i = j + 1;
	}
	if (b->len == start)
		pf_buf_putc(b, '.');
	free(segs);
}

/* report.trimPath with no -trim_path or -source_path. */
static const char *trim_path(const char *s)
{
	static const char *const pre[] = {"/proc/self/cwd/./", "/proc/self/cwd/"};
	for (size_t i = 0; i < PF_ARRAY_LEN(pre); i++)
		if (strncmp(s, pre[i], strlen(pre[i])) == 0)
			return s + strlen(pre[i]);
	return s;
}

/* "[base of objfile]" or "<unknown>". */
static void put_objfile(const char *obj, struct pf_buf *b)
{
	size_t n = strlen(obj);
	const char *base;

	if (n == 0) {
		pf_buf_printf(b, "<unknown>");
		return;
	}
	while (n > 1 && obj[n - 1] == '/')
		n--;
	base = obj + n;
	while (base > obj && base[-1] != '/')
		base--;
	pf_buf_putc(b, '[');
	if (base == obj + n) /* "/" */
		pf_buf_putc(b, '/');
	else
		pf_buf_append(b, base, (size_t)(obj + n - base));
	pf_buf_putc(b, ']');
}

/* The name pprof prints for one line of a location (fn: the line's
 * function or NULL; obj: the mapping's file name or ""). */
static void frame_name(const struct pprof_profile *p, enum report_granularity g,
		       const Perftools__Profiles__Function *fn, int64_t lineno, const char *obj,
		       struct pf_buf *b)
{
	const char *name = fn && g != REPORT_FILES ? pprof_string(p, fn->name) : "";
	const char *file = fn && g != REPORT_FUNCTIONS ? pprof_string(p, fn->filename) : "";

	pf_buf_reset(b);
	if (!fn) {
		put_objfile(obj, b);
		goto out;
	}
	if (g != REPORT_LINES)
		lineno = 0;
	if (*name)
		pf_buf_printf(b, "%s", name);
	if (lineno != 0) {
		if (b->len)
			pf_buf_putc(b, ' ');
		if (*file)
			clean_path(trim_path(file), b);
		pf_buf_printf(b, ":%" PRId64, lineno);
	} else if (*file) {
		if (b->len)
			pf_buf_putc(b, ' ');
		clean_path(trim_path(file), b);
	} else if (!*name) {
		put_objfile(obj, b);
	}
out:
	pf_buf_putc(b, '\0');
}

/* Name id of s; names are kept as valid UTF-8 (a byte that is not becomes
 * U+FFFD, as Go's encoding/json writes it), so JSON can carry them. */
static uint32_t intern(struct report_prep *r, const char *s, struct pf_buf *fix)
{
	size_t n = strlen(s);
	uint64_t id = r->nnames;

	if (!pf_utf8_valid(s, n)) {
		pf_buf_reset(fix);
		pf_utf8_fix(fix, s, n);
		pf_buf_putc(fix, '\0');
		s = (const char *)fix->data;
		n = fix->len - 1;
	}

	if (!pf_map_get_or_put(r->name_ids, s, n, &id)) {
		pf_xgrow((void **)&r->names, &r->names_cap, r->nnames + 1, sizeof(*r->names));
		r->names[r->nnames++] = pf_arena_strndup(r->arena, s, n);
	}
	return (uint32_t)id;
}

/* ---- the sample type ---------------------------------------------------- */

static int resolve_index(const struct pprof_profile *p, const char *si, size_t *idx,
			 struct pf_err *err)
{
	const pprof_msg *m = pprof_message(p);
	struct pf_buf list = PF_BUF_INIT(0);
	char *end;

	if (m->n_sample_type == 0)
		return pf_err_set(err, PF_EINVAL, "the profile has no sample types");
	if (!si || !*si) {
		const char *dst = pprof_string(p, m->default_sample_type);
		*idx = m->n_sample_type - 1;
		if (*dst)
			for (size_t i = 0; i < m->n_sample_type; i++)
				if (strcmp(pprof_string(p, m->sample_type[i]->type), dst) == 0) {
					*idx = i;
					break;
				}
		return 0;
	}
	errno = 0;
	long long n = strtoll(si, &end, 10);
	if (*end == '\0' && !errno && end != si) {
		if (n < 0 || (unsigned long long)n >= m->n_sample_type)
			return pf_err_set(err, PF_EINVAL, "sample_index %s is outside the range [0..%zu]", si,
					  m->n_sample_type - 1);
		*idx = (size_t)n;
		return 0;
	}
	/* as pprof: "inuse_space" also names a type "space" */
	const char *no_inuse = strncmp(si, "inuse_", 6) == 0 ? si + 6 : si;
	for (size_t i = 0; i < m->n_sample_type; i++) {
		const char *t = pprof_string(p, m->sample_type[i]->type);
		if (strcmp(t, si) == 0 || strcmp(t, no_inuse) == 0) {
			*idx = i;
			return 0;
		}
	}
	for (size_t i = 0; i < m->n_sample_type; i++)
		pf_buf_printf(&list, "%s%s", i ? ", " : "", pprof_string(p, m->sample_type[i]->type));
	pf_err_set(err, PF_EINVAL, "unknown sample_index \"%.200s\": the profile has %s", si,
		   list.len ? (const char *)list.data : "");
	pf_buf_free(&list);
	return PF_EINVAL;
}

/* ---- prep --------------------------------------------------------------- */

enum { FOI_NONE = 0, FOI_FOCUS, FOI_IGNORE };

/* What a location became under the filters. */
struct loc_state {
	size_t line_off;   /* into lines[] */
	uint32_t nlines;   /* lines left after hide and show_from */
	uint8_t foi;       /* FOI_* */
	uint8_t hidden;    /* hide removed every line */
	uint8_t showfrom;  /* show_from matched it */
	size_t frame_off;  /* into loc_frames[]: max(nlines, 1) frames */
};

/* Bits per function and per mapping: which regex matches its name or
 * file name (function), or file name (mapping). */
enum { M_FOCUS = 1, M_IGNORE = 2, M_HIDE = 4, M_SHOWFROM = 8 };

struct filters {
	struct rx focus, ignore, hide, show_from;
	struct tagf tagfocus, tagignore;
};

static void filters_free(struct filters *f)
{
	if (f->focus.re)
		rx_free(&f->focus);
	if (f->ignore.re)
		rx_free(&f->ignore);
	if (f->hide.re)
		rx_free(&f->hide);
	if (f->show_from.re)
		rx_free(&f->show_from);
	tagf_free(&f->tagfocus);
	tagf_free(&f->tagignore);
}

static int filters_compile(struct filters *f, const struct report_opts *o, struct pf_err *err)
{
	memset(f, 0, sizeof(*f));
	if ((o->focus && *o->focus && rx_compile(&f->focus, "focus", o->focus, err) < 0) ||
	    (o->ignore && *o->ignore && rx_compile(&f->ignore, "ignore", o->ignore, err) < 0) ||
	    (o->hide && *o->hide && rx_compile(&f->hide, "hide", o->hide, err) < 0) ||
	    (o->show_from && *o->show_from && rx_compile(&f->show_from, "show_from", o->show_from, err) < 0) ||
	    tagf_compile(&f->tagfocus, "tagfocus", o->tagfocus, err) < 0 ||
	    tagf_compile(&f->tagignore, "tagignore", o->tagignore, err) < 0) {
		filters_free(f);
		return PF_EINVAL;
	}
	return 0;
}

static uint8_t match_bits(struct filters *f, const char *a, const char *b)
{
	uint8_t m = 0;
	if (f->focus.re && (rx_match(&f->focus, a) || (b && rx_match(&f->focus, b))))
		m |= M_FOCUS;
	if (f->ignore.re && (rx_match(&f->ignore, a) || (b && rx_match(&f->ignore, b))))
		m |= M_IGNORE;
	if (f->hide.re && (rx_match(&f->hide, a) || (b && rx_match(&f->hide, b))))
		m |= M_HIDE;
	if (f->show_from.re && (rx_match(&f->show_from, a) || (b && rx_match(&f->show_from, b))))
		m |= M_SHOWFROM;
	return m;
}

int report_prep_new(const struct pprof_profile *p, const struct report_opts *o,
		    struct report_prep **out, struct pf_err *err)
{
	const pprof_msg *m = pprof_message(p);
	struct report_prep *r = NULL;
	struct filters f;
	struct pf_buf name = PF_BUF_INIT(0), scratch = PF_BUF_INIT(0);
	uint8_t *fnbits = NULL, *mapbits = NULL;
	struct loc_state *ls = NULL;
	struct pf_map *units = NULL;
	int64_t *line_fn = NULL, *line_no = NULL;
	uint32_t *loc_frames = NULL;
	size_t *keep = NULL, keep_cap = 0, nkeep, idx = 0, nlines_all = 0, nframes_all = 0;
	int any_name_filter, rc;

	*out = NULL;
	if ((rc = resolve_index(p, o->sample_index, &idx, err)) < 0)
		return rc;
	if ((rc = filters_compile(&f, o, err)) < 0)
		return rc;
	any_name_filter = f.focus.re || f.ignore.re || f.hide.re || f.show_from.re;
	if (f.tagfocus.numeric || f.tagignore.numeric)
		units = num_units_new(p);

	r = pf_xcalloc(1, sizeof(*r));
	r->sample_type = pf_xstrdup(pprof_string(p, m->sample_type[idx]->type));
	r->unit = pf_xstrdup(pprof_string(p, m->sample_type[idx]->unit));
	r->arena = pf_arena_new();
	r->name_ids = pf_map_new(1024);
	r->node_fraction = o->node_fraction < 0 ? REPORT_DEFAULT_NODE_FRACTION : o->node_fraction;
	r->limit = o->limit;
	r->max_nodes = o->max_nodes ? o->max_nodes : REPORT_DEFAULT_MAX_NODES;
	r->function = o->function ? pf_xstrdup(o->function) : NULL;
	for (size_t i = 0; i < m->n_sample; i++) {
		int64_t v = m->sample[i]->value[idx];
		r->total += v < 0 ? -v : v;
	}

	/* what each function and mapping matches */
	if (any_name_filter) {
		fnbits = pf_xcalloc(m->n_function + 1, 1);
		mapbits = pf_xcalloc(m->n_mapping + 1, 1);
		for (size_t i = 0; i < m->n_function; i++)
			fnbits[i] = match_bits(&f, pprof_string(p, m->function[i]->name),
					       pprof_string(p, m->function[i]->filename));
		for (size_t i = 0; i < m->n_mapping; i++)
			mapbits[i] = match_bits(&f, pprof_string(p, m->mapping[i]->filename), NULL);
	}

	/* locations: focus/ignore on their original lines, then hide, then
	 * show_from (FilterSamplesByName, ShowFrom) */
	ls = pf_xcalloc(m->n_location + 1, sizeof(*ls));
	for (size_t i = 0; i < m->n_location; i++)
		nlines_all += m->location[i]->n_line;
	line_fn = pf_xcalloc(nlines_all + 1, sizeof(*line_fn));
	line_no = pf_xcalloc(nlines_all + 1, sizeof(*line_no));
	nlines_all = 0;
	for (size_t i = 0; i < m->n_location; i++) {
		const Perftools__Profiles__Location *l = m->location[i];
		int64_t mi = pprof_mapping_index(p, l->mapping_id);
		uint8_t mb = mi >= 0 && mapbits ? mapbits[mi] : 0, any = mb;
		struct loc_state *s = &ls[i];

		s->line_off = nlines_all;
		for (size_t j = 0; j < l->n_line; j++) {
			int64_t fi = pprof_function_index(p, l->line[j]->function_id);
			line_fn[nlines_all + j] = fi;
			line_no[nlines_all + j] = l->line[j]->line;
			if (fi >= 0 && fnbits)
				any |= fnbits[fi];
		}
		s->nlines = (uint32_t)l->n_line;
		nlines_all += l->n_line;
		if (!any_name_filter)
			continue;
		if (any & M_IGNORE)
			s->foi = FOI_IGNORE;
		else if (!f.focus.re || (any & M_FOCUS))
			s->foi = FOI_FOCUS;
		if (f.hide.re && (any & M_HIDE)) {
			uint32_t k = 0;
			if (!(mb & M_HIDE))
				for (uint32_t j = 0; j < s->nlines; j++) {
					int64_t fi = line_fn[s->line_off + j];
					if (fi >= 0 && (fnbits[fi] & M_HIDE))
						continue;
					line_fn[s->line_off + k] = fi;
					line_no[s->line_off + k] = line_no[s->line_off + j];
					k++;
				}
			s->nlines = k;
			s->hidden = k == 0;
		}
		if (f.show_from.re) {
			if (mb & M_SHOWFROM) {
				s->showfrom = 1;
			} else {
				for (uint32_t j = s->nlines; j-- > 0;) {
					int64_t fi = line_fn[s->line_off + j];
					if (fi >= 0 && (fnbits[fi] & M_SHOWFROM)) {
						s->nlines = j + 1;
						s->showfrom = 1;
						break;
					}
				}
			}
		}
	}

	/* every location's frames, named */
	for (size_t i = 0; i < m->n_location; i++)
		nframes_all += ls[i].nlines ? ls[i].nlines : 1;
	loc_frames = pf_xcalloc(nframes_all + 1, sizeof(*loc_frames));
	nframes_all = 0;
	for (size_t i = 0; i < m->n_location; i++) {
		const Perftools__Profiles__Location *l = m->location[i];
		int64_t mi = pprof_mapping_index(p, l->mapping_id);
		const char *obj = mi >= 0 ? pprof_string(p, m->mapping[mi]->filename) : "";
		struct loc_state *s = &ls[i];

		s->frame_off = nframes_all;
		if (s->nlines == 0) {
			frame_name(p, o->granularity, NULL, 0, obj, &name);
			loc_frames[nframes_all++] = REPORT_FRAME(intern(r, (const char *)name.data, &scratch), 0);
			continue;
		}
		for (uint32_t j = 0; j < s->nlines; j++) {
			int64_t fi = line_fn[s->line_off + j];
			frame_name(p, o->granularity, fi >= 0 ? m->function[fi] : NULL,
				   line_no[s->line_off + j], obj, &name);
			loc_frames[nframes_all++] =
				REPORT_FRAME(intern(r, (const char *)name.data, &scratch), j != s->nlines - 1);
		}
	}

	/* what the samples' stacks expand to, before the filters shrink them */
	{
		size_t total = 0;
		for (size_t i = 0; i < m->n_sample && total <= REPORT_MAX_FRAMES; i++)
			for (size_t j = 0; j < m->sample[i]->n_location_id; j++) {
				int64_t li = pprof_location_index(p, m->sample[i]->location_id[j]);
				total += li >= 0 && m->location[li]->n_line ? m->location[li]->n_line : 1;
			}
		if (total > REPORT_MAX_FRAMES) {
			rc = pf_err_set(err, PF_ELIMIT, "the profile's stacks expand to more than %zu frames (inlined calls included), the reports' cap",
					REPORT_MAX_FRAMES);
			goto out;
		}
	}

	/* samples */
	for (size_t i = 0; i < m->n_sample; i++) {
		const Perftools__Profiles__Sample *smp = m->sample[i];
		int64_t v = smp->value[idx];
		int focused = 0, ignored = 0;
		size_t top;

		if (v == 0)
			continue;
		nkeep = 0;
		pf_xgrow((void **)&keep, &keep_cap, smp->n_location_id + 1, sizeof(*keep));
		for (size_t j = 0; j < smp->n_location_id; j++) {
			int64_t li = pprof_location_index(p, smp->location_id[j]);
			if (li < 0)
				continue;
			if (ls[li].foi == FOI_IGNORE)
				ignored = 1;
			else if (ls[li].foi == FOI_FOCUS || !any_name_filter)
				focused = 1;
			if (!ls[li].hidden)
				keep[nkeep++] = (size_t)li;
		}
		/* pprof drops a sample without frames (focusedAndNotIgnored);
		 * we keep it, in the flame graph's root, while no name filter
		 * could have dropped it */
		if (smp->n_location_id == 0) {
			if (f.focus.re || f.show_from.re)
				continue;
		} else if (ignored || !focused || nkeep == 0) {
			continue;
		}
		if (f.show_from.re) {
			for (top = nkeep; top-- > 0;)
				if (ls[keep[top]].showfrom)
					break;
			if (top == (size_t)-1)
				continue;
			nkeep = top + 1;
		}
		if ((f.tagfocus.on && !tagf_match(&f.tagfocus, p, smp, units, &scratch)) ||
		    (f.tagignore.on && tagf_match(&f.tagignore, p, smp, units, &scratch)))
			continue;

		size_t nf = 0;
		for (size_t j = 0; j < nkeep; j++)
			nf += ls[keep[j]].nlines ? ls[keep[j]].nlines : 1;
		pf_xgrow((void **)&r->frames, &r->frames_cap, r->nframes + nf, sizeof(*r->frames));
		pf_xgrow((void **)&r->samples, &r->samples_cap, r->nsamples + 1, sizeof(*r->samples));
		struct report_sample *rs = &r->samples[r->nsamples++];
		rs->off = r->nframes;
		rs->len = (uint32_t)nf;
		rs->side = 0;
		rs->v = v;
		for (size_t j = 0, w = 0; j < nkeep && w < nf; j++) {
			const struct loc_state *s = &ls[keep[j]];
			uint32_t k = s->nlines ? s->nlines : 1;
			for (uint32_t q = 0; q < k && w < nf; q++, w++)
				r->frames[r->nframes++] = loc_frames[s->frame_off + q];
		}
	}
	*out = r;
	r = NULL;
	rc = 0;
out:
	report_prep_free(r);
	free(keep);
	free(loc_frames);
	free(line_fn);
	free(line_no);
	free(ls);
	free(fnbits);
	free(mapbits);
	pf_buf_free(&name);
	pf_buf_free(&scratch);
	pf_map_free(units);
	filters_free(&f);
	return rc;
}

void report_prep_free(struct report_prep *r)
{
	if (!r)
		return;
	free(r->sample_type);
	free(r->unit);
	pf_arena_free(r->arena);
	pf_map_free(r->name_ids);
	free(r->names);
	free(r->frames);
	free(r->samples);
	free(r->function);
	free(r);
}

const char *report_prep_sample_type(const struct report_prep *r) { return r->sample_type; }
const char *report_prep_unit(const struct report_prep *r) { return r->unit; }
int64_t report_prep_total(const struct report_prep *r) { return r->total; }

/* ---- views -------------------------------------------------------------- */

void report__view_of(const struct report_prep *r, struct report_view *v)
{
	memset(v, 0, sizeof(*v));
	v->frames = r->frames;
	v->s = r->samples;
	v->ns = r->nsamples;
	v->names = r->names;
	v->nnames = r->nnames;
	v->total = r->total;
	v->sample_type = r->sample_type;
	v->unit = r->unit;
	v->node_fraction = r->node_fraction;
	v->limit = r->limit;
	v->max_nodes = r->max_nodes;
	v->function = r->function;
}

int report__view_diff(const struct report_prep *base, const struct report_prep *target,
		      struct report_view *v, struct pf_err *err)
{
	struct pf_map *ids;
	uint32_t *map[2];
	char **names;
	uint32_t *frames;
	struct report_sample *s;
	size_t nnames = 0, nf = 0;
	const struct report_prep *side[2] = {target, base};

	if (strcmp(base->sample_type, target->sample_type) != 0 || strcmp(base->unit, target->unit) != 0)
		return pf_err_set(err, PF_EINVAL,
				  "cannot diff profiles of different sample types: the base's is %s/%s, the target's %s/%s",
				  base->sample_type, base->unit, target->sample_type, target->unit);
	report__view_of(target, v);
	v->diff = 1;
	/* pprof's total of a diff: the base's (computeTotal) */
	v->total = base->total > 0 ? base->total : target->total;
	ids = pf_map_new(target->nnames + base->nnames + 1);
	names = pf_xcalloc(target->nnames + base->nnames + 1, sizeof(*names));
	for (int k = 0; k < 2; k++) {
		map[k] = pf_xcalloc(side[k]->nnames + 1, sizeof(*map[k]));
		for (size_t i = 0; i < side[k]->nnames; i++) {
			const char *nm = side[k]->names[i];
			uint64_t id = nnames;
			if (!pf_map_get_or_put(ids, nm, strlen(nm), &id))
				names[nnames++] = side[k]->names[i];
			map[k][i] = (uint32_t)id;
		}
	}
	frames = pf_xcalloc(target->nframes + base->nframes + 1, sizeof(*frames));
	s = pf_xcalloc(target->nsamples + base->nsamples + 1, sizeof(*s));
	for (int k = 0; k < 2; k++) {
		size_t off = nf;
		for (size_t i = 0; i < side[k]->nframes; i++) {
			uint32_t fr = side[k]->frames[i];
			frames[nf++] = REPORT_FRAME(map[k][REPORT_NAME(fr)], REPORT_INLINE(fr));
		}
		for (size_t i = 0; i < side[k]->nsamples; i++) {
			struct report_sample *d = &s[(k ? target->nsamples : 0) + i];
			*d = side[k]->samples[i];
			d->off += off;
			d->side = (uint8_t)k;
		}
		free(map[k]);
	}
	pf_map_free(ids);
	v->frames = frames;
	v->s = s;
	v->ns = target->nsamples + base->nsamples;
	v->names = names;
	v->nnames = nnames;
	return 0;
}

void report__view_free(struct report_view *v)
{
	if (!v->diff)
		return;
	free((void *)v->frames);
	free((void *)v->s);
	free((void *)v->names);
}

int64_t report__name_find(const struct report_view *v, const char *name)
{
	for (size_t i = 0; i < v->nnames; i++)
		if (strcmp(v->names[i], name) == 0)
			return (int64_t)i;
	return -1;
}

/* ---- focus totals -------------------------------------------------------- */

struct report_focus {
	struct rx re;
};

int report_focus_new(const char *focus, struct report_focus **out, struct pf_err *err)
{
	struct report_focus *f = pf_xcalloc(1, sizeof(*f));

	*out = NULL;
	if (rx_compile(&f->re, "focus", focus, err) < 0) {
		free(f);
		return PF_EINVAL;
	}
	*out = f;
	return 0;
}

void report_focus_free(struct report_focus *f)
{
	if (!f)
		return;
	rx_free(&f->re);
	free(f);
}

int report_focus_match(void *f, const char *s)
{
	return rx_match(&((struct report_focus *)f)->re, s);
}

void report_focus_totals(struct report_focus *f, const struct pprof_profile *p, int64_t *totals)
{
	const pprof_msg *m = pprof_message(p);
	uint8_t *fn = pf_xcalloc(m->n_function + 1, 1), *map = pf_xcalloc(m->n_mapping + 1, 1);
	uint8_t *loc = pf_xcalloc(m->n_location + 1, 1);

	memset(totals, 0, m->n_sample_type * sizeof(*totals));
	for (size_t i = 0; i < m->n_function; i++)
		fn[i] = rx_match(&f->re, pprof_string(p, m->function[i]->name)) ||
			rx_match(&f->re, pprof_string(p, m->function[i]->filename));
	for (size_t i = 0; i < m->n_mapping; i++)
		map[i] = rx_match(&f->re, pprof_string(p, m->mapping[i]->filename));
	for (size_t i = 0; i < m->n_location; i++) {
		const Perftools__Profiles__Location *l = m->location[i];
		int64_t mi = pprof_mapping_index(p, l->mapping_id);
		loc[i] = mi >= 0 && map[mi];
		for (size_t j = 0; j < l->n_line && !loc[i]; j++) {
			int64_t fi = pprof_function_index(p, l->line[j]->function_id);
			loc[i] = fi >= 0 && fn[fi];
		}
	}
	for (size_t i = 0; i < m->n_sample; i++) {
		const Perftools__Profiles__Sample *s = m->sample[i];
		int hit = 0;
		for (size_t j = 0; j < s->n_location_id && !hit; j++) {
			int64_t li = pprof_location_index(p, s->location_id[j]);
			hit = li >= 0 && loc[li];
		}
		if (hit)
			for (size_t k = 0; k < m->n_sample_type && k < s->n_value; k++)
				totals[k] += s->value[k];
	}
	free(loc);
	free(map);
	free(fn);
}
