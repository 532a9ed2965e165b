/*
 * The views over a prepared profile: top (google/pprof's graph.newGraph and
 * report.newTrimmedGraph, as `go tool pprof -top` runs them), flame graph
 * and sandwich trees (graph.newTree's shape), their diffs, and meta.
 */
#include "report/report-internal.h"

#include <math.h>
#include <stdlib.h>

static int64_t abs64(int64_t v) { return v < 0 ? -v : v; }

static double pct(int64_t v, int64_t total)
{
	return total ? round((double)v * 10000.0 / (double)total) / 100.0 : 0.0;
}

/* A JSON string of a profile's string (not UTF-8: ""). */
static json_t *jstr(const char *s)
{
	json_t *j = json_string(s);
	return j ? j : json_string("");
}

static json_t *head_json(const struct report_view *v)
{
	json_t *o = json_object();
	json_object_set_new(o, "sample_type", jstr(v->sample_type));
	json_object_set_new(o, "unit", jstr(v->unit));
	json_object_set_new(o, "total", json_integer(v->total));
	return o;
}

/* A sample's value as it counts: a diff's base negated. */
static int64_t weight(const struct report_sample *s) { return s->side ? -s->v : s->v; }

/* ---- top ---------------------------------------------------------------- */

struct top_sort {
	const struct report_view *v;
	const int64_t *flat, *cum;
};

/* graph.FlatNameOrder: |flat| descending, name, |cum| descending */
static int cmp_flat_name(const void *a, const void *b, void *arg)
{
	const struct top_sort *ts = arg;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	int64_t fx = abs64(ts->flat[x]), fy = abs64(ts->flat[y]);
	int c;

	if (fx != fy)
		return fx > fy ? -1 : 1;
	if ((c = strcmp(ts->v->names[x], ts->v->names[y])) != 0)
		return c;
	fx = abs64(ts->cum[x]);
	fy = abs64(ts->cum[y]);
	if (fx != fy)
		return fx > fy ? -1 : 1;
	return x < y ? -1 : x > y;
}

int report__top(const struct report_view *v, json_t **out, struct pf_err *err)
{
	size_t n = v->nnames, nkept = 0, nedges = 0, edges_cap = 0;
	int64_t *flat = pf_xcalloc(n + 1, sizeof(*flat)), *cum = pf_xcalloc(n + 1, sizeof(*cum));
	size_t *stamp = pf_xcalloc(n + 1, sizeof(*stamp));
	uint8_t *present = pf_xcalloc(n + 1, 1), *mask = pf_xcalloc(n + 1, 1);
	uint8_t *inl_in = pf_xcalloc(n + 1, 1); /* bit 0: an inline in-edge; bit 1: a call */
	uint32_t *kept = pf_xcalloc(n + 1, sizeof(*kept));
	struct edge {
		uint32_t src, dst;
		int64_t w;
		size_t stamp;
		uint8_t inl;
	} *edges = NULL;
	struct pf_map *emap = pf_map_new(1024);
	int64_t graph_total = 0, node_cut, edge_cut;
	json_t *o, *rows;

	(void)err;
	/* the whole graph: cum once per sample, flat at the leaf */
	for (size_t i = 0; i < v->ns; i++) {
		const struct report_sample *s = &v->s[i];
		int64_t w = weight(s);
		for (size_t k = s->len; k-- > 0;) {
			uint32_t nm = REPORT_NAME(v->frames[s->off + k]);
			if (stamp[nm] != i + 1) {
				stamp[nm] = i + 1;
				cum[nm] += w;
				present[nm] = 1;
			}
		}
		if (s->len)
			flat[REPORT_NAME(v->frames[s->off])] += w;
	}
	/* graph.selectNodesForGraph drops nodes of zero cum and flat; a diff
	 * keeps them (a function whose values cancel out) */
	for (uint32_t i = 0; i < n; i++) {
		if (!present[i] || (!v->diff && cum[i] == 0 && flat[i] == 0))
			continue;
		graph_total += flat[i];
		kept[nkept++] = i;
	}
	node_cut = abs64((int64_t)((double)graph_total * v->node_fraction));
	edge_cut = abs64((int64_t)((double)graph_total * 0.001));
	if (node_cut > 0) {
		size_t k = 0;
		for (size_t i = 0; i < nkept; i++)
			if (abs64(cum[kept[i]]) >= node_cut)
				kept[k++] = kept[i];
		nkept = k;
	}
	{
		struct top_sort ts = {v, flat, cum};
		qsort_r(kept, nkept, sizeof(*kept), cmp_flat_name, &ts);
	}
	if (v->limit && nkept > v->limit)
		nkept = v->limit;
	for (size_t i = 0; i < nkept; i++)
		mask[kept[i]] = 1;

	/* the edges between kept nodes (residual ones over dropped nodes
	 * too), for the inline labels */
	for (size_t i = 0; i < v->ns; i++) {
		const struct report_sample *s = &v->s[i];
		int64_t parent = -1;
		for (size_t k = s->len; k-- > 0;) {
			uint32_t fr = v->frames[s->off + k], nm = REPORT_NAME(fr);
			if (!mask[nm])
				continue;
			if (parent >= 0 && nm != (uint32_t)parent) {
				uint32_t key[2] = {(uint32_t)parent, nm};
				uint64_t e = nedges;
				if (!pf_map_get_or_put(emap, key, sizeof(key), &e)) {
					pf_xgrow((void **)&edges, &edges_cap, nedges + 1, sizeof(*edges));
					edges[nedges].src = (uint32_t)parent;
					edges[nedges].dst = nm;
					edges[nedges].w = 0;
					edges[nedges].stamp = 0;
					edges[nedges].inl = (uint8_t)REPORT_INLINE(fr);
					nedges++;
				}
				if (edges[e].stamp != i + 1) {
					edges[e].stamp = i + 1;
					edges[e].w += weight(s);
					if (!REPORT_INLINE(fr))
						edges[e].inl = 0;
				}
			}
			parent = nm;
		}
	}
	for (size_t e = 0; e < nedges; e++)
		if (abs64(edges[e].w) >= edge_cut)
			inl_in[edges[e].dst] |= edges[e].inl ? 1 : 2;

	o = head_json(v);
	rows = json_array();
	for (size_t i = 0; i < nkept; i++) {
		uint32_t nm = kept[i];
		json_t *row = json_object();
		const char *suffix = inl_in[nm] == 1 ? " (inline)" : inl_in[nm] == 3 ? " (partial-inline)" : "";
		char *name = NULL;
		if (asprintf(&name, "%s%s", v->names[nm], suffix) < 0)
			abort();
		json_object_set_new(row, "name", json_string(name));
		free(name);
		json_object_set_new(row, "flat", json_integer(flat[nm]));
		json_object_set_new(row, "flat_pct", json_real(pct(flat[nm], v->total)));
		json_object_set_new(row, "cum", json_integer(cum[nm]));
		json_object_set_new(row, "cum_pct", json_real(pct(cum[nm], v->total)));
		json_array_append_new(rows, row);
	}
	json_object_set_new(o, "rows", rows);
	*out = o;

	pf_map_free(emap);
	free(edges);
	free(kept);
	free(inl_in);
	free(mask);
	free(present);
	free(stamp);
	free(cum);
	free(flat);
	return 0;
}

/* ---- trees -------------------------------------------------------------- */

struct tree {
	uint32_t *parent, *code;
	int64_t *self_t, *tot_t, *self_b, *tot_b;
	uint8_t *pres; /* 1: on the target's (or the only) side, 2: the base's */
	size_t n, cap;
	struct pf_map *kids; /* (parent, code) -> node */
	int diff;
};

static void tree_init(struct tree *t, int diff)
{
	memset(t, 0, sizeof(*t));
	t->kids = pf_map_new(1024);
	t->diff = diff;
}

static void tree_free(struct tree *t)
{
	free(t->parent);
	free(t->code);
	free(t->self_t);
	free(t->tot_t);
	free(t->self_b);
	free(t->tot_b);
	free(t->pres);
	pf_map_free(t->kids);
}

static uint32_t tree_node(struct tree *t, uint32_t parent, uint32_t code)
{
	uint32_t key[2] = {parent, code};
	uint64_t id = t->n;

	if (t->n > 0 && pf_map_get_or_put(t->kids, key, sizeof(key), &id))
		return (uint32_t)id;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 1024;
		t->parent = pf_xrealloc(t->parent, cap * sizeof(*t->parent));
		t->code = pf_xrealloc(t->code, cap * sizeof(*t->code));
		t->self_t = pf_xrealloc(t->self_t, cap * sizeof(*t->self_t));
		t->tot_t = pf_xrealloc(t->tot_t, cap * sizeof(*t->tot_t));
		t->self_b = pf_xrealloc(t->self_b, cap * sizeof(*t->self_b));
		t->tot_b = pf_xrealloc(t->tot_b, cap * sizeof(*t->tot_b));
		t->pres = pf_xrealloc(t->pres, cap);
		t->cap = cap;
	}
	t->parent[t->n] = parent;
	t->code[t->n] = code;
	t->self_t[t->n] = t->tot_t[t->n] = t->self_b[t->n] = t->tot_b[t->n] = 0;
	t->pres[t->n] = 0;
	return (uint32_t)t->n++;
}

static void tree_count(struct tree *t, uint32_t node, const struct report_sample *s, int self)
{
	if (s->side) {
		t->tot_b[node] += s->v;
		if (self)
			t->self_b[node] += s->v;
		t->pres[node] |= 2;
	} else {
		t->tot_t[node] += s->v;
		if (self)
			t->self_t[node] += s->v;
		t->pres[node] |= 1;
	}
}

/* Adds sample s along frames k = from, from+step, ... while k != to
 * (indexes into its frames), under the root. */
static void tree_add(struct tree *t, const struct report_view *v, const struct report_sample *s,
		     ptrdiff_t from, ptrdiff_t to, ptrdiff_t step)
{
	uint32_t cur = 0;
	size_t depth = 0;

	for (ptrdiff_t k = from; k != to && depth < REPORT_MAX_DEPTH; k += step, depth++) {
		tree_count(t, cur, s, 0);
		cur = tree_node(t, cur, v->frames[s->off + (size_t)k]);
	}
	tree_count(t, cur, s, 1);
}

struct tree_sort {
	const struct report_view *v;
	const struct tree *t;
};

static int cmp_child(const void *a, const void *b, void *arg)
{
	const struct tree_sort *ts = arg;
	uint32_t x = ts->t->code[*(const uint32_t *)a], y = ts->t->code[*(const uint32_t *)b];
	int c = strcmp(ts->v->names[REPORT_NAME(x)], ts->v->names[REPORT_NAME(y)]);
	return c ? c : (int)REPORT_INLINE(x) - (int)REPORT_INLINE(y);
}

static int64_t tree_weight(const struct tree *t, uint32_t i)
{
	return t->diff ? abs64(t->tot_t[i]) + abs64(t->tot_b[i]) : abs64(t->tot_t[i]);
}

/* max-heap of node ids by weight (ties: the lower rank first, the node's
 * place in the tree by depth and names, so that the nodes kept do not depend
 * on the order of the samples, which differs between stores) */
struct heap {
	uint32_t *v;
	size_t n, cap;
	const struct tree *t;
	const uint32_t *rank;
};

static int heap_before(const struct heap *h, uint32_t a, uint32_t b)
{
	int64_t wa = tree_weight(h->t, a), wb = tree_weight(h->t, b);
	return wa != wb ? wa > wb : h->rank[a] < h->rank[b];
}

static void heap_push(struct heap *h, uint32_t x)
{
	size_t i;

	pf_xgrow((void **)&h->v, &h->cap, h->n + 1, sizeof(*h->v));
	i = h->n++;
	while (i > 0 && heap_before(h, x, h->v[(i - 1) / 2])) {
		h->v[i] = h->v[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->v[i] = x;
}

static uint32_t heap_pop(struct heap *h)
{
	uint32_t top = h->v[0], x = h->v[--h->n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && heap_before(h, h->v[c + 1], h->v[c]))
			c++;
		if (!heap_before(h, h->v[c], x))
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	if (h->n)
		h->v[i] = x;
	return top;
}

static json_t *node_json(const struct tree *t, const char *name, int64_t self_t, int64_t self_b,
			 int64_t tot_t, int64_t tot_b, uint8_t pres)
{
	json_t *o = json_object();

	json_object_set_new(o, "name", json_string(name));
	if (t->diff) {
		json_object_set_new(o, "self", json_integer(self_t - self_b));
		json_object_set_new(o, "total", json_integer(tot_t - tot_b));
		json_object_set_new(o, "base", json_integer(tot_b));
		json_object_set_new(o, "target", json_integer(tot_t));
		if (pres == 1)
			json_object_set_new(o, "only", json_string("target"));
		else if (pres == 2)
			json_object_set_new(o, "only", json_string("base"));
	} else {
		json_object_set_new(o, "self", json_integer(self_t));
		json_object_set_new(o, "total", json_integer(tot_t));
	}
	json_object_set_new(o, "children", json_array());
	return o;
}

/*
 * The tree as JSON, at most max_nodes nodes below the root (the heaviest,
 * grown from the root so that every kept node's parent is kept); each kept
 * node's other children fold into one "other" child. *trimmed gets
 * {nodes, value}.
 */
static json_t *tree_json(struct tree *t, const struct report_view *v, const char *root_name,
			 size_t max_nodes, json_t **trimmed)
{
	size_t n = t->n, nkept = 0, tnodes = 0;
	uint32_t *first = pf_xcalloc(n + 1, sizeof(*first)), *next = pf_xcalloc(n + 1, sizeof(*next));
	uint32_t *kids = pf_xcalloc(n + 1, sizeof(*kids)), *rank = pf_xcalloc(n + 1, sizeof(*rank));
	size_t *size = pf_xcalloc(n + 1, sizeof(*size)), qn = 1;
	uint8_t *keep = pf_xcalloc(n + 1, 1);
	json_t **obj = pf_xcalloc(n + 1, sizeof(*obj)), *root;
	json_t **arr = pf_xcalloc(n + 1, sizeof(*arr)); /* obj[i]'s children, borrowed */
	struct heap h = {0};
	int64_t tvalue = 0;

	/* child lists (0 ends a list: the root is nobody's child) */
	for (size_t i = n; i-- > 1;) {
		next[i] = first[t->parent[i]];
		first[t->parent[i]] = (uint32_t)i;
	}
	for (size_t i = 0; i < n; i++)
		size[i] = 1;
	for (size_t i = n; i-- > 1;)
		size[t->parent[i]] += size[i];

	/* rank: breadth first from the root (kids is the queue), each node's
	 * children by name; their lists are relinked in that order, which is
	 * the order the JSON lists them in */
	struct tree_sort ts = {v, t};
	kids[0] = 0;
	for (size_t qi = 0; qi < qn; qi++) {
		size_t from = qn;
		uint32_t *link = &first[kids[qi]];
		rank[kids[qi]] = (uint32_t)qi;
		for (uint32_t c = first[kids[qi]]; c; c = next[c])
			kids[qn++] = c;
		qsort_r(kids + from, qn - from, sizeof(*kids), cmp_child, &ts);
		for (size_t k = from; k < qn; k++) {
			*link = kids[k];
			link = &next[kids[k]];
		}
		*link = 0;
	}

	keep[0] = 1;
	h.t = t;
	h.rank = rank;
	for (uint32_t c = first[0]; c; c = next[c])
		heap_push(&h, c);
	while (h.n && nkept < max_nodes) {
		uint32_t x = heap_pop(&h);
		keep[x] = 1;
		nkept++;
		for (uint32_t c = first[x]; c; c = next[c])
			heap_push(&h, c);
	}
	free(h.v);

	for (size_t i = 0; i < n; i++) {
		char *name = NULL;
		if (!keep[i])
			continue;
		if (i == 0)
			name = pf_xstrdup(root_name);
		else if (asprintf(&name, "%s%s", v->names[REPORT_NAME(t->code[i])],
				  REPORT_INLINE(t->code[i]) ? " (inline)" : "") < 0)
			abort();
		obj[i] = node_json(t, name, t->self_t[i], t->self_b[i], t->tot_t[i], t->tot_b[i], t->pres[i]);
		arr[i] = json_object_get(obj[i], "children");
		free(name);
	}
	for (size_t i = 0; i < n; i++) {
		int64_t ot = 0, ob = 0;
		uint8_t opres = 0;
		int folded = 0;
		json_t *children;

		if (!keep[i])
			continue;
		children = arr[i];
		for (uint32_t c = first[i]; c; c = next[c]) { /* by name */
			if (keep[c]) {
				json_array_append_new(children, obj[c]);
				obj[c] = NULL;
				continue;
			}
			folded = 1;
			ot += t->tot_t[c];
			ob += t->tot_b[c];
			opres |= t->pres[c];
			tnodes += size[c];
			tvalue += t->tot_t[c] - t->tot_b[c];
		}
		if (folded)
			json_array_append_new(children, node_json(t, "other", ot, ob, ot, ob, opres));
	}
	root = obj[0];
	*trimmed = json_object();
	json_object_set_new(*trimmed, "nodes", json_integer((json_int_t)tnodes));
	json_object_set_new(*trimmed, "value", json_integer(tvalue));
	free(obj);
	free(arr);
	free(keep);
	free(size);
	free(kids);
	free(rank);
	free(next);
	free(first);
	return root;
}

int report__flame(const struct report_view *v, json_t **out, struct pf_err *err)
{
	struct tree t;
	json_t *o, *trimmed, *root;

	(void)err;
	tree_init(&t, v->diff);
	tree_node(&t, 0, 0); /* the root */
	for (size_t i = 0; i < v->ns; i++)
		tree_add(&t, v, &v->s[i], (ptrdiff_t)v->s[i].len - 1, -1, -1);
	root = tree_json(&t, v, "root", v->max_nodes, &trimmed);
	o = head_json(v);
	json_object_set_new(o, "trimmed", trimmed);
	json_object_set_new(o, "root", root);
	tree_free(&t);
	*out = o;
	return 0;
}

int report__sandwich(const struct report_view *v, json_t **out, struct pf_err *err)
{
	struct tree callers, callees;
	json_t *o, *tr, *t1, *t2, *r1, *r2;
	char *fn;
	size_t len;
	int64_t id;

	if (!v->function || !*v->function)
		return pf_err_set(err, PF_EINVAL, "a sandwich needs the function (function=NAME)");
	fn = pf_xstrdup(v->function);
	len = strlen(fn);
	if (len > 9 && strcmp(fn + len - 9, " (inline)") == 0)
		fn[len - 9] = '\0';
	else if (len > 17 && strcmp(fn + len - 17, " (partial-inline)") == 0)
		fn[len - 17] = '\0';
	if ((id = report__name_find(v, fn)) < 0) {
		pf_err_set(err, PF_EINVAL, "function \"%.200s\" is in no sample (that the filters keep)", fn);
		free(fn);
		return PF_EINVAL;
	}
	tree_init(&callers, v->diff);
	tree_init(&callees, v->diff);
	tree_node(&callers, 0, 0);
	tree_node(&callees, 0, 0);
	for (size_t i = 0; i < v->ns; i++) {
		const struct report_sample *s = &v->s[i];
		ptrdiff_t inner = -1, outer = -1;
		for (size_t k = 0; k < s->len; k++)
			if (REPORT_NAME(v->frames[s->off + k]) == (uint32_t)id) {
				if (inner < 0)
					inner = (ptrdiff_t)k;
				outer = (ptrdiff_t)k;
			}
		if (inner < 0)
			continue;
		/* callees below the outermost call, callers above the innermost:
		 * a recursive function counts once */
		tree_add(&callees, v, s, outer - 1, -1, -1);
		tree_add(&callers, v, s, inner + 1, (ptrdiff_t)s->len, 1);
	}
	/* a function of the profile that no kept sample passes through (its
	 * samples all 0 in this sample type, or filtered out) is as absent as
	 * an unknown name; in a diff, absent from both sides */
	if (callers.pres[0] == 0) {
		pf_err_set(err, PF_EINVAL, "function \"%.200s\" is in no sample (that the filters keep)", fn);
		tree_free(&callers);
		tree_free(&callees);
		free(fn);
		return PF_EINVAL;
	}
	r1 = tree_json(&callers, v, fn, v->max_nodes, &t1);
	r2 = tree_json(&callees, v, fn, v->max_nodes, &t2);
	o = json_object();
	json_object_set_new(o, "function", json_string(fn));
	json_object_set_new(o, "sample_type", jstr(v->sample_type));
	json_object_set_new(o, "unit", jstr(v->unit));
	json_object_set_new(o, "callers", r1);
	json_object_set_new(o, "callees", r2);
	tr = json_object();
	json_object_set_new(tr, "callers", t1);
	json_object_set_new(tr, "callees", t2);
	json_object_set_new(o, "trimmed", tr);
	tree_free(&callers);
	tree_free(&callees);
	free(fn);
	*out = o;
	return 0;
}

/* ---- the public calls ---------------------------------------------------- */

int report_top(const struct report_prep *p, json_t **out, struct pf_err *err)
{
	struct report_view v;
	report__view_of(p, &v);
	return report__top(&v, out, err);
}

int report_flamegraph(const struct report_prep *p, json_t **out, struct pf_err *err)
{
	struct report_view v;
	report__view_of(p, &v);
	return report__flame(&v, out, err);
}

int report_sandwich(const struct report_prep *p, json_t **out, struct pf_err *err)
{
	struct report_view v;
	report__view_of(p, &v);
	return report__sandwich(&v, out, err);
}

int report_top_diff(const struct report_prep *base, const struct report_prep *target,
		    json_t **out, struct pf_err *err)
{
	struct report_view v;
	int rc;

	if ((rc = report__view_diff(base, target, &v, err)) < 0)
		return rc;
	rc = report__top(&v, out, err);
	report__view_free(&v);
	return rc;
}

int report_flamegraph_diff(const struct report_prep *base, const struct report_prep *target,
			   json_t **out, struct pf_err *err)
{
	struct report_view v;
	int rc;

	if ((rc = report__view_diff(base, target, &v, err)) < 0)
		return rc;
	rc = report__flame(&v, out, err);
	report__view_free(&v);
	return rc;
}

int report_sandwich_diff(const struct report_prep *base, const struct report_prep *target,
			 json_t **out, struct pf_err *err)
{
	struct report_view v;
	int rc;

	if ((rc = report__view_diff(base, target, &v, err)) < 0)
		return rc;
	rc = report__sandwich(&v, out, err);
	report__view_free(&v);
	return rc;
}

json_t *report_meta(const struct pprof_profile *p, size_t nprofiles)
{
	const pprof_msg *m = pprof_message(p);
	json_t *o = json_object(), *types = json_array(), *pt = json_object();

	for (size_t i = 0; i < m->n_sample_type; i++) {
		json_t *t = json_object();
		json_object_set_new(t, "type", jstr(pprof_string(p, m->sample_type[i]->type)));
		json_object_set_new(t, "unit", jstr(pprof_string(p, m->sample_type[i]->unit)));
		json_array_append_new(types, t);
	}
	json_object_set_new(o, "sample_types", types);
	/* the type sample_index defaults to: the profile's default_sample_type
	 * when it names one of its types, else the last (as pprof) */
	const char *dst = pprof_string(p, m->default_sample_type), *dflt = NULL;
	for (size_t i = 0; i < m->n_sample_type; i++)
		if (*dst && strcmp(pprof_string(p, m->sample_type[i]->type), dst) == 0)
			dflt = dst;
	if (!dflt)
		dflt = m->n_sample_type ? pprof_string(p, m->sample_type[m->n_sample_type - 1]->type) : "";
	json_object_set_new(o, "default_sample_type", jstr(dflt));
	json_object_set_new(pt, "type", jstr(m->period_type ? pprof_string(p, m->period_type->type) : ""));
	json_object_set_new(pt, "unit", jstr(m->period_type ? pprof_string(p, m->period_type->unit) : ""));
	json_object_set_new(o, "period_type", pt);
	json_object_set_new(o, "period", json_integer(m->period));
	json_object_set_new(o, "time", json_integer(m->time_nanos / 1000000));
	json_object_set_new(o, "duration", json_integer(m->duration_nanos));
	json_object_set_new(o, "samples", json_integer((json_int_t)m->n_sample));
	json_object_set_new(o, "profiles", json_integer((json_int_t)nprofiles));
	return o;
}
