/*
 * Focus: the totals of a profile's rows whose stack reaches a location
 * matching a caller's test (mapping file, function name or function file),
 * read from a chunk's rows and its symbol table without building the
 * profile. See codec.h.
 */
#include "tsdb/codec/codec-internal.h"

#include <stdlib.h>
#include <string.h>

/*
 * What a focus learned of one symbol table: per function, mapping,
 * location and stack node, 0 not asked yet, 1 no, 2 yes (a node: its stack
 * reaches a matching location). Filled in as rows ask, so a large table
 * costs only what the profiles read use. Tables only grow (the head's,
 * between two lockings of its group): the arrays grow with them.
 */
struct focus_tab {
	const struct tsdb__symtab *st;
	uint8_t *fn, *map, *loc, *node;
	size_t nfn, nmap, nloc, nnode;
};

struct tsdb__focuser {
	struct pf_arena *arena; /* what focuser_rows hands out */
	struct focus_tab *tabs;
	size_t ntabs, captabs;
	int (*match)(void *arg, const char *s);
	void *arg;
	uint32_t *path; /* focus_node's scratch */
	size_t cappath;
};

static void memo_fit(uint8_t **a, size_t *n, size_t want)
{
	if (*n >= want)
		return;
	*a = pf_xrealloc(*a, want ? want : 1);
	memset(*a + *n, 0, want - *n);
	*n = want;
}

static struct focus_tab *focus_tab(struct tsdb__focuser *m, const struct tsdb__symtab *st)
{
	struct focus_tab *t = NULL;

	for (size_t i = 0; i < m->ntabs && !t; i++)
		if (m->tabs[i].st == st)
			t = &m->tabs[i];
	if (!t) {
		pf_xgrow((void **)&m->tabs, &m->captabs, m->ntabs + 1, sizeof(*m->tabs));
		t = &m->tabs[m->ntabs++];
		memset(t, 0, sizeof(*t));
		t->st = st;
	}
	memo_fit(&t->fn, &t->nfn, st->nfn);
	memo_fit(&t->map, &t->nmap, st->nmap);
	memo_fit(&t->loc, &t->nloc, st->nloc);
	memo_fit(&t->node, &t->nnode, st->nnode);
	return t;
}

/* Function f (an id of t's table): its name or file name matches. */
static int focus_fn(struct tsdb__focuser *m, struct focus_tab *t, uint32_t f)
{
	if (!t->fn[f]) {
		const struct tsdb__st_function *fn = &t->st->fns[f];
		t->fn[f] = m->match(m->arg, tsdb__st_str(t->st, fn->name)) ||
				   m->match(m->arg, tsdb__st_str(t->st, fn->file))
			   ? 2
			   : 1;
	}
	return t->fn[f] == 2;
}

static int focus_loc(struct tsdb__focuser *m, struct focus_tab *t, uint32_t l)
{
	if (!t->loc[l]) {
		const struct tsdb__st_location *loc = &t->st->locs[l];
		int yes = 0;
		if (loc->mapping) {
			uint32_t k = loc->mapping - 1;
			if (!t->map[k])
				t->map[k] = m->match(m->arg, tsdb__st_str(t->st, t->st->maps[k].file)) ? 2 : 1;
			yes = t->map[k] == 2;
		}
		for (uint32_t j = 0; j < loc->nline && !yes; j++) {
			uint32_t fn = t->st->lines[loc->line_off + j].fn;
			yes = fn && focus_fn(m, t, fn - 1);
		}
		t->loc[l] = yes ? 2 : 1;
	}
	return t->loc[l] == 2;
}

/* Stack node k (0: the empty stack, which never matches). Walks up to the
 * first node already known, then settles the nodes below it root side
 * first (a node matches when its parent does or its location does). */
static int focus_node(struct tsdb__focuser *m, struct focus_tab *t, uint32_t k)
{
	size_t n = 0;
	uint8_t v;

	while (k != 0 && !t->node[k]) {
		pf_xgrow((void **)&m->path, &m->cappath, n + 1, sizeof(*m->path));
		m->path[n++] = k;
		k = t->st->nodes[k].parent;
	}
	v = k == 0 ? 1 : t->node[k];
	while (n > 0) {
		k = m->path[--n];
		if (v != 2)
			v = focus_loc(m, t, t->st->nodes[k].loc) ? 2 : 1;
		t->node[k] = v;
	}
	return v == 2;
}

struct tsdb__focuser *tsdb__focuser_new(int (*match)(void *arg, const char *s), void *arg)
{
	struct tsdb__focuser *m = pf_xcalloc(1, sizeof(*m));

	m->arena = pf_arena_new();
	m->match = match;
	m->arg = arg;
	return m;
}

int tsdb__focuser_rows(struct tsdb__focuser *m, const struct tsdb__symtab *st,
		       struct tsdb__chunk_dec *d, size_t i, size_t *ntypes, const char ***types,
		       int64_t **totals, struct pf_err *err)
{
	struct tsdb__rows rows;
	struct focus_tab *t;
	const char **ty;
	int64_t *tot;
	size_t nt;
	int rc;

	if ((rc = tsdb__chunk_dec_rows(d, st, i, &rows, err)) < 0)
		return rc;
	t = focus_tab(m, st);
	nt = rows.hdr->nsample_type;
	ty = pf_arena_alloc(m->arena, (nt + 1) * sizeof(*ty));
	tot = pf_arena_alloc(m->arena, (nt + 1) * sizeof(*tot));
	for (size_t k = 0; k < nt; k++) {
		const char *name = tsdb__st_str(st, rows.hdr->sample_type[2 * k]);
		ty[k] = pf_arena_strndup(m->arena, name, strlen(name));
	}
	for (size_t r = 0; r < rows.nrows; r++) {
		if (!focus_node(m, t, rows.stacks[r]))
			continue;
		const int64_t *v = rows.vals + r * nt;
		for (size_t k = 0; k < nt; k++) /* wrapping, as pprof's totals */
			tot[k] = (int64_t)((uint64_t)tot[k] + (uint64_t)v[k]);
	}
	*ntypes = nt;
	*types = ty;
	*totals = tot;
	return 0;
}

void tsdb__focuser_free(struct tsdb__focuser *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->ntabs; i++) {
		free(m->tabs[i].fn);
		free(m->tabs[i].map);
		free(m->tabs[i].loc);
		free(m->tabs[i].node);
	}
	free(m->tabs);
	free(m->path);
	pf_arena_free(m->arena);
	free(m);
}
