/*
 * Moving profiles from a chunk of one symbol table into a chunk of
 * another (compaction: blocks merge, so do their tables) without
 * rebuilding or parsing any protobuf: the source's symbols are mapped into
 * the destination once per transcoder, rows are copied as ids.
 */
#include "tsdb/codec/codec-internal.h"

#include <stdlib.h>

struct tsdb__transcoder {
	const struct tsdb__symtab *src;
	struct tsdb__symtab *dst;
	/* source id -> destination id + 1 (0: not mapped yet) */
	uint32_t *str, *map, *fn, *loc, *node, *lset;
	/* scratch */
	uint32_t *ids;
	size_t nids, idcap;
	uint32_t *stk, *lst;
	size_t stkcap, lstcap;
	uint32_t *path;
	size_t pathcap;
	struct tsdb__st_line *lines;
	size_t linecap;
	struct tsdb__st_label *labs;
	size_t labcap;
	struct pf_buf raw;
};

struct tsdb__transcoder *tsdb__transcoder_new(const struct tsdb__symtab *src,
					      struct tsdb__symtab *dst)
{
	struct tsdb__transcoder *tc = pf_xcalloc(1, sizeof(*tc));
	tc->src = src;
	tc->dst = dst;
	tc->str = pf_xcalloc(src->nstr + 1, sizeof(uint32_t));
	tc->map = pf_xcalloc(src->nmap + 1, sizeof(uint32_t));
	tc->fn = pf_xcalloc(src->nfn + 1, sizeof(uint32_t));
	tc->loc = pf_xcalloc(src->nloc + 1, sizeof(uint32_t));
	tc->node = pf_xcalloc(src->nnode + 1, sizeof(uint32_t));
	tc->lset = pf_xcalloc(src->nlset + 1, sizeof(uint32_t));
	pf_buf_init(&tc->raw, TSDB__CODEC_MAX_COLUMN);
	return tc;
}

void tsdb__transcoder_free(struct tsdb__transcoder *tc)
{
	if (!tc)
		return;
	free(tc->str);
	free(tc->map);
	free(tc->fn);
	free(tc->loc);
	free(tc->node);
	free(tc->lset);
	free(tc->ids);
	free(tc->stk);
	free(tc->lst);
	free(tc->path);
	free(tc->lines);
	free(tc->labs);
	pf_buf_free(&tc->raw);
	free(tc);
}

/* Each map_* returns the destination id or a negative PF_ETOOBIG; source
 * ids are valid (the table was verified when read, the rows checked). */

static int64_t map_str(struct tsdb__transcoder *tc, uint32_t id)
{
	const struct tsdb__symtab *s = tc->src;
	int64_t d;
	if (tc->str[id])
		return tc->str[id] - 1;
	d = tsdb__st_add_string(tc->dst, tsdb__st_str(s, id), s->soff[id + 1] - s->soff[id] - 1);
	if (d >= 0)
		tc->str[id] = (uint32_t)d + 1;
	return d;
}

static int64_t map_mapping(struct tsdb__transcoder *tc, uint32_t id)
{
	struct tsdb__st_mapping m;
	int64_t d;
	if (tc->map[id])
		return tc->map[id] - 1;
	m = tc->src->maps[id];
	TSDB__TRY_ID(m.file, map_str(tc, m.file));
	TSDB__TRY_ID(m.build_id, map_str(tc, m.build_id));
	d = tsdb__st_add_mapping(tc->dst, &m);
	if (d >= 0)
		tc->map[id] = (uint32_t)d + 1;
	return d;
}

static int64_t map_fn(struct tsdb__transcoder *tc, uint32_t id)
{
	struct tsdb__st_function f;
	int64_t d;
	if (tc->fn[id])
		return tc->fn[id] - 1;
	f = tc->src->fns[id];
	TSDB__TRY_ID(f.name, map_str(tc, f.name));
	TSDB__TRY_ID(f.system_name, map_str(tc, f.system_name));
	TSDB__TRY_ID(f.file, map_str(tc, f.file));
	d = tsdb__st_add_function(tc->dst, &f);
	if (d >= 0)
		tc->fn[id] = (uint32_t)d + 1;
	return d;
}

static int64_t map_loc(struct tsdb__transcoder *tc, uint32_t id)
{
	const struct tsdb__st_location *l = &tc->src->locs[id];
	uint32_t mapping = 0;
	int64_t d;

	if (tc->loc[id])
		return tc->loc[id] - 1;
	if (l->mapping) {
		TSDB__TRY_ID(mapping, map_mapping(tc, l->mapping - 1));
		mapping++;
	}
	pf_xgrow((void **)&tc->lines, &tc->linecap, l->nline + 1, sizeof(*tc->lines));
	for (uint32_t k = 0; k < l->nline; k++) {
		tc->lines[k] = tc->src->lines[l->line_off + k];
		if (tc->lines[k].fn) {
			TSDB__TRY_ID(tc->lines[k].fn, map_fn(tc, tc->lines[k].fn - 1));
			tc->lines[k].fn++;
		}
	}
	d = tsdb__st_add_location(tc->dst, l->address, mapping, l->folded, tc->lines, l->nline);
	if (d >= 0)
		tc->loc[id] = (uint32_t)d + 1;
	return d;
}

/* A stack node: the unmapped part of its path to the root is added from
 * the root side, as an encoder adds a new stack. */
static int64_t map_node(struct tsdb__transcoder *tc, uint32_t id)
{
	const struct tsdb__st_node *nodes = tc->src->nodes;
	size_t n = 0;
	uint32_t k = id, parent;

	if (id == 0)
		return 0;
	if (tc->node[id])
		return tc->node[id] - 1;
	while (k != 0 && !tc->node[k]) {
		pf_xgrow((void **)&tc->path, &tc->pathcap, n + 1, sizeof(uint32_t));
		tc->path[n++] = k;
		k = nodes[k].parent;
	}
	parent = k ? tc->node[k] - 1 : 0;
	while (n-- > 0) {
		uint32_t loc;
		int64_t d;
		k = tc->path[n];
		TSDB__TRY_ID(loc, map_loc(tc, nodes[k].loc));
		if ((d = tsdb__st_add_node(tc->dst, parent, loc)) < 0)
			return d;
		tc->node[k] = (uint32_t)d + 1;
		parent = (uint32_t)d;
	}
	return parent;
}

static int64_t map_lset(struct tsdb__transcoder *tc, uint32_t id)
{
	const struct tsdb__st_labelset *ls = &tc->src->lsets[id];
	int64_t d;

	if (tc->lset[id])
		return tc->lset[id] - 1;
	pf_xgrow((void **)&tc->labs, &tc->labcap, ls->n + 1, sizeof(*tc->labs));
	for (uint32_t k = 0; k < ls->n; k++) {
		struct tsdb__st_label *l = &tc->labs[k];
		*l = tc->src->labels[ls->off + k];
		TSDB__TRY_ID(l->key, map_str(tc, l->key));
		TSDB__TRY_ID(l->str, map_str(tc, l->str));
		TSDB__TRY_ID(l->unit, map_str(tc, l->unit));
	}
	d = tsdb__st_add_labelset(tc->dst, tc->labs, ls->n);
	if (d >= 0)
		tc->lset[id] = (uint32_t)d + 1;
	return d;
}

static void push(struct tsdb__transcoder *tc, uint32_t id)
{
	pf_xgrow((void **)&tc->ids, &tc->idcap, tc->nids + 1, sizeof(uint32_t));
	tc->ids[tc->nids++] = id;
}

/* Map a list of n source ids with fn into tc->ids. */
static int64_t map_list(struct tsdb__transcoder *tc, const uint32_t *v, size_t n,
			int64_t (*fn)(struct tsdb__transcoder *, uint32_t))
{
	for (size_t i = 0; i < n; i++) {
		uint32_t d;
		TSDB__TRY_ID(d, fn(tc, v[i]));
		push(tc, d);
	}
	return 0;
}

/* The destination header of h (ids in tc->ids). */
static int64_t map_header(struct tsdb__transcoder *tc, const struct tsdb__phdr *h,
			  struct tsdb__phdr *o)
{
	size_t at[5];
	int64_t r;

	*o = *h;
	tc->nids = 0;
	if (h->has_period_type) {
		TSDB__TRY_ID(o->period_type[0], map_str(tc, h->period_type[0]));
		TSDB__TRY_ID(o->period_type[1], map_str(tc, h->period_type[1]));
	}
	TSDB__TRY_ID(o->drop_frames, map_str(tc, h->drop_frames));
	TSDB__TRY_ID(o->keep_frames, map_str(tc, h->keep_frames));
	TSDB__TRY_ID(o->default_sample_type, map_str(tc, h->default_sample_type));
	at[0] = tc->nids;
	if ((r = map_list(tc, h->sample_type, 2 * h->nsample_type, map_str)) < 0)
		return r;
	at[1] = tc->nids;
	if ((r = map_list(tc, h->comment, h->ncomment, map_str)) < 0)
		return r;
	at[2] = tc->nids;
	if ((r = map_list(tc, h->mapping, h->nmapping, map_mapping)) < 0)
		return r;
	at[3] = tc->nids;
	if ((r = map_list(tc, h->extra_loc, h->nextra_loc, map_loc)) < 0)
		return r;
	at[4] = tc->nids;
	if ((r = map_list(tc, h->extra_fn, h->nextra_fn, map_fn)) < 0)
		return r;
	/* pointers once tc->ids stopped moving */
	o->sample_type = tc->ids + at[0];
	o->comment = tc->ids + at[1];
	o->mapping = tc->ids + at[2];
	o->extra_loc = tc->ids + at[3];
	o->extra_fn = tc->ids + at[4];
	return 0;
}


int tsdb__chunk_enc_add_from(struct tsdb__chunk_enc *e, struct tsdb__transcoder *tc,
			     struct tsdb__chunk_dec *d, size_t i, struct pf_err *err)
{
	struct tsdb__rows rows;
	struct tsdb__phdr h;
	char what[48];
	int rc;

	if (tsdb__chunk_enc_symtab(e) != tc->dst)
		return pf_err_set(err, PF_EINVAL,
				  "the encoder's symbol table is not the transcoder's destination");
	if (tsdb__chunk_dec_is_raw(d, i)) {
		pf_buf_reset(&tc->raw);
		if ((rc = tsdb__chunk_dec_raw(d, i, &tc->raw, err)) < 0)
			return rc;
		return tsdb__chunk_enc_add_raw(e, tc->raw.data, tc->raw.len, err);
	}
	if ((rc = tsdb__chunk_dec_rows(d, tc->src, i, &rows, err)) < 0)
		return rc;
	snprintf(what, sizeof(what), "chunk profile %zu", i);
	if ((rc = tsdb__phdr_check(tc->src, rows.hdr, what, err)) < 0)
		return rc;
	if (tc->src == tc->dst) /* the same table (a head cut): the ids stay */
		return tsdb__chunk_enc_rows(e, rows.hdr, rows.nrows, rows.stacks, rows.lsets,
					    rows.vals, err);
	if (map_header(tc, rows.hdr, &h) < 0)
		goto toobig;
	pf_xgrow((void **)&tc->stk, &tc->stkcap, rows.nrows + 1, sizeof(uint32_t));
	pf_xgrow((void **)&tc->lst, &tc->lstcap, rows.nrows + 1, sizeof(uint32_t));
	for (size_t r = 0; r < rows.nrows; r++) {
		int64_t s = map_node(tc, rows.stacks[r]), l = map_lset(tc, rows.lsets[r]);
		if (s < 0 || l < 0)
			goto toobig;
		tc->stk[r] = (uint32_t)s;
		tc->lst[r] = (uint32_t)l;
	}
	return tsdb__chunk_enc_rows(e, &h, rows.nrows, tc->stk, tc->lst, rows.vals, err);
toobig:
	return pf_err_set(err, PF_ETOOBIG, "the symbol table is full (2^32 - 2 symbols of a kind)");
}
