/*
 * Label matchers resolved against a source of postings (the head, or one
 * block's index): positive matchers intersect their postings, negative ones
 * (those the empty string satisfies, e.g. a!="x" or a=~".*") are subtracted
 * afterwards; only when there is no positive matcher do we start from every
 * series. Regexes are PCRE2, fully anchored like Prometheus's ^(?s:re)$,
 * compiled once per query and shared by every source it visits.
 */
#include "tsdb/tsdb-internal.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>

struct pred {
	enum tsdb_match_op op;
	char *name, *value;
	pcre2_code *re;
	pcre2_match_data *md;
	int empty_ok; /* the matcher holds for a missing label ("") */
};

struct tsdb__preds {
	struct pred *p;
	size_t n;
};

static int pred_test(struct pred *p, const char *v)
{
	switch (p->op) {
	case TSDB_MATCH_EQ:
		return strcmp(v, p->value) == 0;
	case TSDB_MATCH_NE:
		return strcmp(v, p->value) != 0;
	case TSDB_MATCH_RE:
	case TSDB_MATCH_NRE: {
		int r = pcre2_match(p->re, (PCRE2_SPTR)v, strlen(v), 0, 0, p->md, NULL);
		return (r >= 0) == (p->op == TSDB_MATCH_RE);
	}
	}
	return 0;
}

void tsdb__preds_free(struct tsdb__preds *ps)
{
	if (!ps)
		return;
	for (size_t i = 0; i < ps->n; i++) {
		pcre2_match_data_free(ps->p[i].md);
		pcre2_code_free(ps->p[i].re);
		free(ps->p[i].name);
		free(ps->p[i].value);
	}
	free(ps->p);
	free(ps);
}

int tsdb__preds_new(const struct tsdb_matcher *m, size_t nm, struct tsdb__preds **out,
		    struct pf_err *err)
{
	struct tsdb__preds *ps = pf_xcalloc(1, sizeof(*ps));
	int rc = 0;

	*out = NULL;
	ps->p = pf_xcalloc(nm ? nm : 1, sizeof(*ps->p));
	for (; ps->n < nm; ps->n++) {
		struct pred *p = &ps->p[ps->n];
		int ecode;
		PCRE2_SIZE eoff;

		if (!m[ps->n].name || !m[ps->n].value) {
			rc = pf_err_set(err, PF_EINVAL, "matcher without a name or value");
			goto fail;
		}
		p->op = m[ps->n].op;
		p->name = pf_xstrdup(m[ps->n].name);
		p->value = pf_xstrdup(m[ps->n].value);
		if (p->op != TSDB_MATCH_EQ && p->op != TSDB_MATCH_NE && p->op != TSDB_MATCH_RE &&
		    p->op != TSDB_MATCH_NRE) {
			rc = pf_err_set(err, PF_EINVAL, "unknown matcher operator %d", (int)p->op);
			ps->n++;
			goto fail;
		}
		if (p->op == TSDB_MATCH_RE || p->op == TSDB_MATCH_NRE) {
			p->re = pcre2_compile((PCRE2_SPTR)p->value, PCRE2_ZERO_TERMINATED,
					      PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_DOTALL |
						      PCRE2_UTF | PCRE2_MATCH_INVALID_UTF,
					      &ecode, &eoff, NULL);
			if (!p->re) {
				PCRE2_UCHAR msg[256];
				pcre2_get_error_message(ecode, msg, sizeof(msg));
				rc = pf_err_set(err, PF_EINVAL,
						"bad regex \"%.200s\" for label %.64s: %s at offset %zu",
						p->value, p->name, (const char *)msg, (size_t)eoff);
				ps->n++;
				goto fail;
			}
			p->md = pcre2_match_data_create_from_pattern(p->re, NULL);
			if (!p->md)
				abort();
		}
		p->empty_ok = pred_test(p, "");
	}
	*out = ps;
	return 0;
fail:
	tsdb__preds_free(ps);
	return rc;
}

struct collect {
	struct pred *p;
	struct tsdb__plist *out;
};

static void collect_value(void *arg, const char *value, const uint32_t *ids, size_t n)
{
	struct collect *c = arg;
	if (pred_test(c->p, value) != c->p->empty_ok)
		tsdb__plist_union(c->out, ids, n);
}

/* The series one matcher selects, as a set: when the matcher holds for a
 * missing label (empty_ok), the set is of the series it does NOT hold for. */
static void pred_postings(const struct tsdb__psource *src, struct pred *p, struct tsdb__plist *out)
{
	out->n = 0;
	if ((p->op == TSDB_MATCH_EQ || p->op == TSDB_MATCH_NE) && p->value[0]) {
		src->pair(src->arg, p->name, p->value, out);
		return;
	}
	struct collect c = {p, out};
	src->each_value(src->arg, p->name, collect_value, &c);
}

void tsdb__select(const struct tsdb__psource *src, const struct tsdb__preds *ps,
		  struct tsdb__plist *out)
{
	struct tsdb__plist set = {0};
	int have_pos = 0;

	out->n = 0;
	for (size_t i = 0; i < ps->n; i++) {
		if (ps->p[i].empty_ok)
			continue;
		pred_postings(src, &ps->p[i], &set);
		if (!have_pos)
			tsdb__plist_copy(out, set.ids, set.n);
		else
			tsdb__plist_intersect(out, set.ids, set.n);
		have_pos = 1;
		if (out->n == 0)
			goto done;
	}
	if (!have_pos) {
		pf_xgrow((void **)&out->ids, &out->cap, src->nseries, sizeof(uint32_t));
		for (uint32_t i = 0; i < src->nseries; i++)
			out->ids[i] = i;
		out->n = src->nseries;
	}
	for (size_t i = 0; i < ps->n && out->n > 0; i++) {
		if (!ps->p[i].empty_ok)
			continue;
		pred_postings(src, &ps->p[i], &set);
		tsdb__plist_subtract(out, set.ids, set.n);
	}
done:
	tsdb__plist_free(&set);
}
