/*
 * Chunks of the profile codec: consecutive profiles of one series, pprof
 * profiles as a header plus (stack id, label set id, values) rows against a
 * symbol table, other bodies byte for byte.
 *
 * Format (version TSDB__CHUNK_VERSION in format.h): docs/format/chunk.md,
 * byte by byte, with the row matching, the stack and label set predictions
 * and the value codings this file implements.
 */
#include "tsdb/codec/codec-internal.h"

#include <stdlib.h>

#include "tsdb/format.h" /* TSDB__CHUNK_MAGIC, TSDB__CHUNK_VERSION */
#define NONE UINT32_MAX

enum { COL_HDR, COL_STACK, COL_LSET, COL_GAP, COL_VAL, COL_RAW, NCOLS };
static const char *const col_names[NCOLS] = { "headers", "stacks", "labels", "gaps", "values",
					      "raw bodies" };

/* ---- rows of one profile, with the indexes used for matching -------------- */

struct rowset {
	int valid;  /* holds a pprof profile */
	int indexed; /* pair, bystack and byleaf reflect the rows (an encoder's
		      * previous profile drops them between adds: rowset_unindex) */
	size_t n, cap, nt, vcap;
	uint32_t *stack, *lset;
	int64_t *vals;     /* n * nt */
	uint32_t *next;    /* next row with the same (stack, label set), NONE */
	uint32_t *last;    /* for the first row of a pair: the pair's last row */
	uint32_t *pmatch;  /* for the first row of a pair: prev's row matched by
			    * the pair's last occurrence so far (NONE) */
	uint8_t *sfirst;   /* the row is the first of its stack */
	uint32_t *types;   /* 2 * nt string ids */
	size_t tcap;
	uint8_t *modes;    /* nt: the value coding each column took (the
			    * encoder's; 0xff in the decoder's rowsets) */
	size_t modecap;
	uint8_t *selfcol;  /* the label column of these rows against themselves */
	size_t selflen, selfcap;
	int selfok;        /* selfcol is computed */
	struct pf_htab bystack; /* stack -> its first row */
	struct pf_htab pair;    /* stack << 32 | label set -> first row, for the
				 * pairs whose label set is not the one of
				 * their stack's first row (few: a stack
				 * mostly comes once per profile) */
	struct pf_htab byleaf;  /* leaf key -> label set of its last row */
};

static void rowset_init(struct rowset *r)
{
	memset(r, 0, sizeof(*r));
	pf_htab_init(&r->pair, 64);
	pf_htab_init(&r->bystack, 64);
	pf_htab_init(&r->byleaf, 64);
}

static void rowset_free(struct rowset *r)
{
	free(r->stack);
	free(r->lset);
	free(r->vals);
	free(r->next);
	free(r->last);
	free(r->pmatch);
	free(r->sfirst);
	free(r->types);
	free(r->modes);
	free(r->selfcol);
	pf_htab_free(&r->pair);
	pf_htab_free(&r->bystack);
	pf_htab_free(&r->byleaf);
}

/* Empty r for a profile of n rows and nt sample types. Returns PF_ENOMEM
 * (n comes from input). */
static int rowset_reset(struct rowset *r, size_t n, size_t nt)
{
	size_t nv;

	r->valid = 0;
	r->selfok = 0;
	r->indexed = 1; /* the adds fill the indexes */
	r->n = 0;
	r->nt = nt;
	pf_htab_clear(&r->pair);
	pf_htab_clear(&r->bystack);
	pf_htab_clear(&r->byleaf);
	if (__builtin_mul_overflow(n, nt, &nv) || nv > SIZE_MAX / sizeof(int64_t))
		return PF_ENOMEM;
	if (n > r->cap) {
		size_t c = PF_MAX(n, r->cap * 2);
		uint32_t *a = realloc(r->stack, c * sizeof(uint32_t));
		if (a)
			r->stack = a;
		a = a ? realloc(r->lset, c * sizeof(uint32_t)) : NULL;
		if (a)
			r->lset = a;
		a = a ? realloc(r->next, c * sizeof(uint32_t)) : NULL;
		if (a)
			r->next = a;
		a = a ? realloc(r->last, c * sizeof(uint32_t)) : NULL;
		if (a)
			r->last = a;
		a = a ? realloc(r->pmatch, c * sizeof(uint32_t)) : NULL;
		if (a)
			r->pmatch = a;
		if (!a)
			return PF_ENOMEM;
		{
			uint8_t *f = realloc(r->sfirst, c);
			if (!f)
				return PF_ENOMEM;
			r->sfirst = f;
		}
		r->cap = c;
	}
	if (nv > r->vcap) {
		size_t c = PF_MAX(nv, r->vcap * 2);
		int64_t *v = realloc(r->vals, c * sizeof(int64_t));
		if (!v)
			return PF_ENOMEM;
		r->vals = v;
		r->vcap = c;
	}
	return 0;
}

static void rowset_set_types(struct rowset *r, const uint32_t *types, const uint8_t *modes,
			     size_t nt)
{
	pf_xgrow((void **)&r->types, &r->tcap, 2 * nt + 1, sizeof(uint32_t));
	pf_xgrow((void **)&r->modes, &r->modecap, nt + 1, 1);
	if (nt) {
		memcpy(r->types, types, 2 * nt * sizeof(uint32_t));
		if (modes)
			memcpy(r->modes, modes, nt);
		else
			memset(r->modes, 0xff, nt); /* none: not a mode */
	}
}

/* The first row of prev with this stack, or NONE (also without prev). */
static uint32_t prev_first(const struct rowset *prev, uint32_t stack)
{
	uint32_t r;
	return prev && prev->valid && pf_htab_get(&prev->bystack, stack, &r) ? r : NONE;
}

/* prev_first, without a lookup when the stack is the one of prev's row at
 * cursor (the predicted stack: rows mostly come in prev's order) and that
 * row is the first of its stack. */
static uint32_t prev_first_at(const struct rowset *prev, uint32_t cursor, uint32_t stack)
{
	if (prev->valid && cursor < prev->n && prev->stack[cursor] == stack && prev->sfirst[cursor])
		return cursor;
	return prev_first(prev, stack);
}

/* The first row of r with the pair (stack, lset), given the first row of
 * r with the stack (sfirst, NONE: none), or NONE. */
static uint32_t pair_first(const struct rowset *r, uint32_t sfirst, uint32_t stack, uint32_t lset)
{
	uint32_t q;
	if (sfirst == NONE)
		return NONE;
	if (r->lset[sfirst] == lset)
		return sfirst;
	return pf_htab_get(&r->pair, (uint64_t)stack << 32 | lset, &q) ? q : NONE;
}

/*
 * An encoder's previous profile keeps its rows and values between adds but
 * not its three indexes (for a heap profile most of what a series' open
 * chunk holds): a profile with the same rows (a program's next snapshot)
 * needs none of them, and any other rebuilds them first (rowset_reindex:
 * the tables rowset_add made for these rows, so nothing the encoder writes
 * changes). The tables move between the rowset and a spare set in the
 * scratch (ix), so that the large ones stay with the group and the series
 * keeps small empty ones.
 */
static void ix_swap(struct rowset *r, struct pf_htab ix[3])
{
	struct pf_htab t;

	t = r->pair, r->pair = ix[0], ix[0] = t;
	t = r->bystack, r->bystack = ix[1], ix[1] = t;
	t = r->byleaf, r->byleaf = ix[2], ix[2] = t;
}

/* The leaf location of a stack as a map key (the empty stack has its own). */
static uint64_t leaf_key(const struct tsdb__symtab *st, uint32_t stack)
{
	return stack ? st->nodes[stack].loc : (uint64_t)1 << 32;
}

static void rowset_reindex(struct rowset *r, const struct tsdb__symtab *st, struct pf_htab ix[3])
{
	if (!r->valid || r->indexed)
		return;
	ix_swap(r, ix); /* the scratch's (large) tables: filled below */
	pf_htab_clear(&r->pair);
	pf_htab_clear(&r->bystack);
	pf_htab_clear(&r->byleaf);
	for (uint32_t i = 0; i < (uint32_t)r->n; i++) {
		uint32_t stack = r->stack[i], lset = r->lset[i], sfirst, first;
		/* as rowset_add */
		if (pf_htab_put(&r->bystack, stack, i, &sfirst) && r->lset[sfirst] != lset)
			pf_htab_put(&r->pair, (uint64_t)stack << 32 | lset, i, &first);
		pf_htab_set(&r->byleaf, leaf_key(st, stack), lset);
	}
	r->indexed = 1;
}

/* Drop r's indexes: they go to ix, r gets small empty ones. */
static void rowset_unindex(struct rowset *r, struct pf_htab ix[3])
{
	ix_swap(r, ix);
	pf_htab_free(&r->pair);
	pf_htab_free(&r->bystack);
	pf_htab_free(&r->byleaf);
	pf_htab_init(&r->pair, 16);
	pf_htab_init(&r->bystack, 16);
	pf_htab_init(&r->byleaf, 16);
	r->indexed = 0;
}

/*
 * Append row (stack, lset) to cur and find its match in prev: the row of
 * prev with the same pair and the same occurrence of it. pfirst is prev's
 * first row with the stack (prev_first). Returns the matched row of prev
 * or NONE; *sf gets cur's first row with the stack.
 */
static uint32_t rowset_add(struct rowset *cur, const struct rowset *prev, uint32_t stack,
			   uint32_t lset, uint64_t leaf, uint32_t pfirst, uint32_t *sf)
{
	uint32_t r = (uint32_t)cur->n++, first = NONE, q, sfirst;

	cur->stack[r] = stack;
	cur->lset[r] = lset;
	cur->next[r] = NONE;
	cur->sfirst[r] = 0;
	if (!pf_htab_put(&cur->bystack, stack, r, &sfirst)) {
		cur->sfirst[r] = 1;
		sfirst = r;
	} else {
		/* the stack came before: the pair's first row is the stack's
		 * first row or in pair (inserted there when it is this one) */
		if (cur->lset[sfirst] == lset)
			first = sfirst;
		else if (!pf_htab_put(&cur->pair, (uint64_t)stack << 32 | lset, r, &first))
			first = NONE;
	}
	if (first != NONE) {
		/* the next occurrence of the pair: the next row of prev's chain */
		cur->next[cur->last[first]] = r;
		cur->last[first] = r;
		q = cur->pmatch[first];
		if (q != NONE)
			q = prev->next[q];
		cur->pmatch[first] = q;
	} else {
		cur->last[r] = r;
		q = pair_first(prev, pfirst, stack, lset);
		cur->pmatch[r] = q;
	}
	pf_htab_set(&cur->byleaf, leaf, lset);
	*sf = sfirst;
	return q;
}

/*
 * The predicted label set of a row: the label set of the first row with
 * the same stack in the previous profile (pfirst: prev_first), else of the
 * last row with the same leaf location in this profile so far, else in
 * the previous profile. 1 and *lset when there is a prediction.
 */
static int predict_lset(const struct rowset *cur, const struct rowset *prev, uint32_t pfirst,
			uint64_t leaf, uint32_t *lset)
{
	if (pfirst != NONE) {
		*lset = prev->lset[pfirst];
		return 1;
	}
	if (pf_htab_get(&cur->byleaf, leaf, lset))
		return 1;
	return prev->valid && pf_htab_get(&prev->byleaf, leaf, lset);
}

/* Same sample types (type and unit ids). */
static int same_types(const struct rowset *a, const uint32_t *types, size_t nt)
{
	return a->valid && a->nt == nt && (nt == 0 || memcmp(a->types, types, 2 * nt * sizeof(uint32_t)) == 0);
}

/* ---- value codings ---------------------------------------------------------- */

/*
 * A value column of a profile is written in one of six codings (the mode,
 * one per sample type in the header):
 *   bit 0 (MODE_DELTA): c = v - the matched row's value (0 when none), else c = v;
 *   bits 1-2: the written value is w = c - c' * k, where c' is the coded
 *   value of the previous column of the same row and k is
 *     0: nothing (w = c),
 *     1: the row's first numeric label (heap profiles: the object size,
 *        so that bytes are predicted from counts),
 *     2: the profile's period (CPU profiles: nanoseconds from counts).
 * Arithmetic wraps (uint64).
 */
#define MODE_DELTA 1
#define MODE_COUNT 6

/* The first numeric label of a label set (str empty), or 0. */
static int64_t row_multiplier(const struct tsdb__symtab *st, uint32_t lset)
{
	const struct tsdb__st_labelset *ls = &st->lsets[lset];
	for (uint32_t k = 0; k < ls->n; k++)
		if (st->labels[ls->off + k].str == 0)
			return st->labels[ls->off + k].num;
	return 0;
}

/* ---- encoder ---------------------------------------------------------------- */

/*
 * Per profile scratch of encoders: what one add needs and the next does not
 * (memos from the profile's indexes to table ids, the rows in table ids,
 * value coding buffers) and the rowset the add builds. An encoder has its
 * own, or shares one with the other encoders of its table (the head: one
 * per group, used under the group's lock), so that a series' encoder
 * keeps only its columns and the previous profile's rows between adds.
 */
#define LSET_MEMO 256 /* a power of two */

struct tsdb__chunk_scratch {
	int64_t *smemo, *mmemo, *fmemo, *lmemo;
	size_t smcap, mmcap, fmcap, lmcap;
	uint32_t *ids; /* header ids */
	size_t nids, idcap;
	uint32_t *match;
	size_t matchcap;
	int64_t *coded; /* coded values, then written values: 2 * nrows * nt */
	size_t codedcap;
	int64_t *mult; /* per row: the multiplier of a label-scaled column */
	size_t multcap;
	uint32_t *rowlist; /* rows with a non-zero coded value */
	size_t rowlistcap;
	struct tsdb__st_line *lines;
	size_t linecap;
	struct tsdb__st_label *labs;
	size_t labcap;
	uint32_t *locbuf; /* a sample's symtab locations */
	size_t locbufcap;
	uint32_t *stk, *lst; /* the rows in symtab ids */
	size_t stkcap, lstcap;
	int64_t *vbuf;
	size_t vbufcap;
	uint8_t *fused; /* function referenced by a location of the profile */
	size_t fucap;
	uint8_t *rowbytes; /* the stack and label columns of one profile */
	size_t rowbytescap;
	/* the id after the last string, function and location the profile
	 * interned: the first one tried for the next (symtab.c's hints) */
	uint32_t str_next, fn_next, loc_next;
	/* label sets of the profile so far (flat_labels): by a hash of the
	 * body's labels, the last labels that hashed there and their label
	 * set id */
	struct {
		size_t off;     /* the sample's labels in the body (labs) */
		uint32_t n1;    /* their count + 1 (0: none) */
		uint32_t id;
	} labmemo[LSET_MEMO];
	struct rowset *spare; /* the rows being added; swapped with prev */
	struct pf_htab ix[3]; /* indexes a series' previous profile does not keep */
};

struct tsdb__chunk_enc {
	struct tsdb__symtab *st;
	size_t count;
	struct pf_buf col[NCOLS];
	int64_t prev_time;
	struct rowset *prev; /* the previous profile's rows */
	struct tsdb__chunk_scratch *sc;
	int own_sc;
	/* when the previous profile came from add_flat: its digest and header
	 * (ids in hids), which a profile of the same digest takes as it is */
	int dvalid;
	uint64_t digest[2];
	struct tsdb__phdr ph;
	uint32_t *hids;
	size_t hidcap;
};

static struct rowset *rowset_new(void)
{
	struct rowset *r = pf_xcalloc(1, sizeof(*r));
	rowset_init(r);
	return r;
}

static void rowset_delete(struct rowset *r)
{
	if (!r)
		return;
	rowset_free(r);
	free(r);
}

struct tsdb__chunk_scratch *tsdb__chunk_scratch_new(void)
{
	struct tsdb__chunk_scratch *sc = pf_xcalloc(1, sizeof(*sc));
	sc->spare = rowset_new();
	for (int i = 0; i < 3; i++)
		pf_htab_init(&sc->ix[i], 16);
	return sc;
}

/* Free what sc holds, keep sc (empty, usable). */
static void scratch_clear(struct tsdb__chunk_scratch *sc)
{
	struct rowset *spare = sc->spare;
	free(sc->smemo);
	free(sc->mmemo);
	free(sc->fmemo);
	free(sc->lmemo);
	free(sc->ids);
	free(sc->match);
	free(sc->coded);
	free(sc->mult);
	free(sc->rowlist);
	free(sc->lines);
	free(sc->labs);
	free(sc->locbuf);
	free(sc->stk);
	free(sc->lst);
	free(sc->vbuf);
	free(sc->fused);
	free(sc->rowbytes);
	for (int i = 0; i < 3; i++)
		pf_htab_free(&sc->ix[i]);
	memset(sc, 0, sizeof(*sc));
	rowset_free(spare);
	rowset_init(spare);
	sc->spare = spare;
	for (int i = 0; i < 3; i++)
		pf_htab_init(&sc->ix[i], 16);
}

void tsdb__chunk_scratch_trim(struct tsdb__chunk_scratch *sc)
{
	if (sc)
		scratch_clear(sc);
}

void tsdb__chunk_scratch_free(struct tsdb__chunk_scratch *sc)
{
	if (!sc)
		return;
	scratch_clear(sc);
	for (int i = 0; i < 3; i++)
		pf_htab_free(&sc->ix[i]);
	rowset_delete(sc->spare);
	free(sc);
}

struct tsdb__chunk_enc *tsdb__chunk_enc_new_shared(struct tsdb__symtab *st,
						   struct tsdb__chunk_scratch *sc)
{
	struct tsdb__chunk_enc *e = pf_xcalloc(1, sizeof(*e));
	e->st = st;
	for (int i = 0; i < NCOLS; i++)
		pf_buf_init(&e->col[i], TSDB__CODEC_MAX_COLUMN);
	e->prev = rowset_new();
	e->sc = sc;
	return e;
}

struct tsdb__chunk_enc *tsdb__chunk_enc_new(struct tsdb__symtab *st)
{
	struct tsdb__chunk_enc *e = tsdb__chunk_enc_new_shared(st, tsdb__chunk_scratch_new());
	e->own_sc = 1;
	return e;
}

void tsdb__chunk_enc_free(struct tsdb__chunk_enc *e)
{
	if (!e)
		return;
	for (int i = 0; i < NCOLS; i++)
		pf_buf_free(&e->col[i]);
	rowset_delete(e->prev);
	free(e->hids);
	if (e->own_sc)
		tsdb__chunk_scratch_free(e->sc);
	free(e);
}

struct tsdb__symtab *tsdb__chunk_enc_symtab(const struct tsdb__chunk_enc *e)
{
	return e->st;
}

size_t tsdb__chunk_enc_count(const struct tsdb__chunk_enc *e)
{
	return e->count;
}

size_t tsdb__chunk_enc_raw_bytes(const struct tsdb__chunk_enc *e)
{
	size_t n = 0;
	for (int i = 0; i < NCOLS; i++)
		n += e->col[i].len;
	return n;
}

/* A memo array of n int64_t set to -1. */
static void memo_reset(int64_t **m, size_t *cap, size_t n)
{
	pf_xgrow((void **)m, cap, n + 1, sizeof(int64_t));
	memset(*m, 0xff, (n + 1) * sizeof(int64_t));
}

static void push_id(struct tsdb__chunk_enc *e, uint32_t id)
{
	pf_xgrow((void **)&e->sc->ids, &e->sc->idcap, e->sc->nids + 1, sizeof(uint32_t));
	e->sc->ids[e->sc->nids++] = id;
}

/* Bytes of v as a uvarint: by the index of its top bit (a table, not a
 * division by 7: the value coder sizes every column several times). */
static const uint8_t uvlen_by_bit[64] = {
	1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 4,
	4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 7,
	7, 7, 7, 7, 7, 8, 8, 8, 8, 8, 8, 8, 9, 9, 9, 9, 9, 9, 9, 10,
};

static inline size_t uvlen(uint64_t v)
{
	return uvlen_by_bit[63 - __builtin_clzll(v | 1)];
}

static int put_uv(struct pf_buf *b, uint64_t v)
{
	return pf_buf_put_uvarint(b, v);
}

/* v as a uvarint at p (room checked by the caller); the byte after it. */
static inline uint8_t *uv_at(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/*
 * Bytes of column base (ns coded values) written under k-mode km (md >> 1:
 * 0 none, 1 the row's multiplier, 2 the period) against cprev, the coded
 * values of the column before; stops early (returning at least limit)
 * once limit is sure to be reached, since only a smaller size can win:
 * every value left takes at least one byte.
 */
static size_t mode_size(const int64_t *base, const int64_t *cprev, const int64_t *mult,
			int64_t period, unsigned km, size_t ns, size_t limit)
{
	size_t sz = 0, i = 0;

	while (i < ns) {
		size_t end = PF_MIN(ns, i + 64);
		switch (km) {
		case 0:
			for (; i < end; i++)
				sz += uvlen(pf_zigzag(base[i]));
			break;
		case 1:
			for (; i < end; i++)
				sz += uvlen(pf_zigzag((int64_t)((uint64_t)base[i] -
								(uint64_t)cprev[i] * (uint64_t)mult[i])));
			break;
		default:
			for (; i < end; i++)
				sz += uvlen(pf_zigzag((int64_t)((uint64_t)base[i] -
								(uint64_t)cprev[i] * (uint64_t)period)));
			break;
		}
		if (sz + (ns - i) >= limit)
			return sz + (ns - i);
	}
	return sz;
}

/*
 * The value columns of one profile (see "value codings"): per sample type
 * the smallest of the six codings (the lowest mode on a tie), then the
 * rows with a non-zero written value as gaps, then their written values
 * column by column. vals: ns * nt, row-major; match: per row, prev's
 * matched row or NONE (NULL: row i is prev's row i); compat: prev has the
 * same sample types (else no delta). Appends to COL_GAP and COL_VAL (the
 * caller restores them on failure); modes and *nvrows for the header.
 */
static int code_values(struct tsdb__chunk_enc *e, const struct tsdb__phdr *h, size_t ns,
		       const int64_t *vals, const struct rowset *prev, const uint32_t *match,
		       const uint32_t *lsets, int compat, uint8_t *modes, size_t *nvrows)
{
	struct tsdb__chunk_scratch *sc = e->sc;
	size_t nt = h->nsample_type, i, j, nv = 0, need, vbytes = 0;
	int64_t *w, *plain, *delta, *cprev, *t;
	uint32_t *rows;
	uint8_t *p;
	int rc;

	*nvrows = 0;
	if (!nt || !ns)
		return 0;
	/* w: written values column-major, then three columns of scratch
	 * (plain, delta and the coded values of the column before, which
	 * trade places as a column takes its coding) */
	pf_xgrow((void **)&sc->coded, &sc->codedcap, ns * nt + 3 * ns + 1, sizeof(int64_t));
	w = sc->coded;
	plain = w + ns * nt;
	delta = plain + ns;
	cprev = delta + ns;
	memset(cprev, 0, ns * sizeof(int64_t)); /* no column before the first */
	pf_xgrow((void **)&sc->mult, &sc->multcap, ns + 1, sizeof(int64_t));
	for (i = 0; i < ns; i++)
		sc->mult[i] = row_multiplier(e->st, lsets[i]);
	pf_xgrow((void **)&sc->rowlist, &sc->rowlistcap, ns + 1, sizeof(uint32_t));
	rows = sc->rowlist;
	memset(rows, 0, ns * sizeof(uint32_t)); /* non-zero flags first */
	for (j = 0; j < nt; j++) {
		size_t best = SIZE_MAX;
		uint8_t bmd = 0;
		int64_t *base;
		int64_t *wj = w + j * ns;
		if (compat && !match)
			/* the same rows as prev (match is the identity) */
			for (i = 0; i < ns; i++) {
				int64_t v = vals[i * nt + j];
				plain[i] = v;
				delta[i] = (int64_t)((uint64_t)v - (uint64_t)prev->vals[i * nt + j]);
			}
		else if (compat)
			for (i = 0; i < ns; i++) {
				int64_t v = vals[i * nt + j];
				plain[i] = v;
				delta[i] = (int64_t)((uint64_t)v -
						     (match[i] != NONE ? (uint64_t)prev->vals[match[i] * nt + j] : 0));
			}
		else
			for (i = 0; i < ns; i++)
				plain[i] = vals[i * nt + j];
		/* the coding the previous profile's column took first, when it
		 * is one this column may take: it most often wins again, and its
		 * size stops the others' counts early. The choice is the same
		 * as trying the modes in order: a mode wins with a smaller size,
		 * or the same size and a lower mode (mode_size stops at limit,
		 * so limit is best + 1 for a lower mode, best for a higher one) */
		int hm = compat ? prev->modes[j] : -1;
		if (hm >= MODE_COUNT || ((hm >> 1) && j == 0))
			hm = -1;
		if (hm >= 0) {
			best = mode_size(hm & MODE_DELTA ? delta : plain, cprev, sc->mult, h->period,
					 (unsigned)hm >> 1, ns, SIZE_MAX);
			bmd = (uint8_t)hm;
		}
		for (uint8_t md = 0; md < MODE_COUNT && !(best <= ns && md > bmd); md++) {
			size_t sz;
			if (md == hm)
				continue;
			if ((md & MODE_DELTA) && !compat)
				continue;
			if ((md >> 1) && j == 0)
				continue;
			sz = mode_size(md & MODE_DELTA ? delta : plain, cprev, sc->mult, h->period,
				       md >> 1, ns, md < bmd && best != SIZE_MAX ? best + 1 : best);
			if (sz < best || (sz == best && md < bmd)) {
				best = sz;
				bmd = md;
			}
		}
		modes[j] = bmd;
		/* the winner's count ran to the end: its exact size */
		vbytes += best;
		base = bmd & MODE_DELTA ? delta : plain;
		switch (bmd >> 1) {
		case 0:
			for (i = 0; i < ns; i++) {
				wj[i] = base[i];
				rows[i] |= wj[i] != 0;
			}
			break;
		case 1:
			for (i = 0; i < ns; i++) {
				wj[i] = (int64_t)((uint64_t)base[i] - (uint64_t)cprev[i] * (uint64_t)sc->mult[i]);
				rows[i] |= wj[i] != 0;
			}
			break;
		default:
			for (i = 0; i < ns; i++) {
				wj[i] = (int64_t)((uint64_t)base[i] - (uint64_t)cprev[i] * (uint64_t)h->period);
				rows[i] |= wj[i] != 0;
			}
			break;
		}
		/* base holds this column's coded values, the next column's
		 * cprev; the two others are free for its plain and delta */
		t = cprev;
		cprev = base;
		if (base == delta)
			delta = t;
		else
			plain = t;
	}
	/* rows with a value: flags -> indexes, with their gap bytes */
	need = 0;
	for (i = 0; i < ns; i++)
		if (rows[i]) {
			need += uvlen(i - (nv ? rows[nv - 1] + 1 : 0));
			rows[nv++] = (uint32_t)i;
		}
	*nvrows = nv;
	if (nv == 0) /* no bytes (and the columns may have no buffer yet) */
		return 0;
	if ((rc = pf_buf_reserve(&e->col[COL_GAP], need)) < 0)
		return rc;
	p = e->col[COL_GAP].data + e->col[COL_GAP].len;
	for (i = 0; i < nv; i++)
		p = uv_at(p, rows[i] - (i ? rows[i - 1] + 1 : 0));
	e->col[COL_GAP].len += need;
	/* the values' bytes: the columns' sizes less the rows left out,
	 * whose values are all 0 (one byte each) */
	need = vbytes - nt * (ns - nv);
	if ((rc = pf_buf_reserve(&e->col[COL_VAL], need)) < 0)
		return rc;
	p = e->col[COL_VAL].data + e->col[COL_VAL].len;
	for (j = 0; j < nt; j++)
		for (i = 0; i < nv; i++)
			p = uv_at(p, pf_zigzag(w[j * ns + rows[i]]));
	e->col[COL_VAL].len += need;
	return 0;
}

static int write_header(struct tsdb__chunk_enc *e, const struct tsdb__phdr *h, size_t nrows,
			size_t nvrows, const uint8_t *modes)
{
	struct pf_buf *b = &e->col[COL_HDR];
	size_t nt = h->nsample_type;
	const size_t counts[4] = { h->ncomment, h->nmapping, h->nextra_loc, h->nextra_fn };
	const uint32_t *lists[4] = { h->comment, h->mapping, h->extra_loc, h->extra_fn };
	int rc;

#define P(v)                                    \
	do {                                    \
		if ((rc = put_uv(b, (v))) < 0)  \
			return rc;              \
	} while (0)
	if ((rc = pf_buf_putc(b, 0)) < 0)
		return rc;
	P(nrows);
	P(nvrows);
	P(h->has_period_type ? 1 : 0);
	P(pf_zigzag((int64_t)((uint64_t)h->time_nanos - (uint64_t)e->prev_time)));
	P(pf_zigzag(h->duration_nanos));
	P(pf_zigzag(h->period));
	if (h->has_period_type) {
		P(h->period_type[0]);
		P(h->period_type[1]);
	}
	P(nt);
	for (size_t i = 0; i < 2 * nt; i++)
		P(h->sample_type[i]);
	P(h->drop_frames);
	P(h->keep_frames);
	P(h->default_sample_type);
	for (int k = 0; k < 4; k++) {
		P(counts[k]);
		for (size_t i = 0; i < counts[k]; i++)
			P(lists[k][i]);
	}
	for (size_t i = 0; i < nt; i++)
		P(modes[i]);
#undef P
	return 0;
}

/*
 * The label column of rows equal to prev's, against prev: every stack is
 * in prev, so the prediction is the label set of the stack's first row
 * there. Kept in prev (selfcol) for the next profile of the same rows.
 */
static int self_lset_column(struct rowset *prev, const struct tsdb__symtab *st)
{
	size_t need = 0;
	uint8_t *p;

	if (prev->selfok)
		return 0;
	for (size_t i = 0; i < prev->n; i++) {
		uint32_t pred = prev->lset[prev_first(prev, prev->stack[i])];
		need += pred == prev->lset[i] ? 1 : uvlen((uint64_t)prev->lset[i] + 1);
	}
	(void)st;
	pf_xgrow((void **)&prev->selfcol, &prev->selfcap, need + 1, 1);
	p = prev->selfcol;
	for (size_t i = 0; i < prev->n; i++) {
		uint32_t pred = prev->lset[prev_first(prev, prev->stack[i])];
		p = uv_at(p, pred == prev->lset[i] ? 0 : (uint64_t)prev->lset[i] + 1);
	}
	prev->selflen = need;
	prev->selfok = 1;
	return 0;
}

int tsdb__chunk_enc_rows(struct tsdb__chunk_enc *e, const struct tsdb__phdr *h, size_t ns,
			 const uint32_t *stacks, const uint32_t *lsets, const int64_t *vals,
			 struct pf_err *err)
{
	size_t nt = h->nsample_type, i, saved[NCOLS], nvrows = 0;
	struct rowset *cur = e->sc->spare, *prev = e->prev;
	uint32_t cursor = 0, last_stack = 0;
	uint8_t *modes = NULL;
	int compat, rc, same;

	e->dvalid = 0; /* add_flat sets it again */
	for (i = 0; i < NCOLS; i++)
		saved[i] = e->col[i].len;
	if (nt && ns > TSDB__CODEC_MAX_VALUES / nt)
		return pf_err_set(err, PF_ETOOBIG, "profile of %zu samples and %zu sample types is over the limit of %zu values",
				  ns, nt, TSDB__CODEC_MAX_VALUES);
	pf_xgrow((void **)&e->sc->match, &e->sc->matchcap, ns + 1, sizeof(uint32_t));
	/* the same rows as the previous profile (a program's next snapshot,
	 * most of the time): each row matches its own index, the stack
	 * column is all predicted and the label column is prev's against
	 * itself; prev keeps its indexes and takes the new values */
	same = prev->valid && prev->n == ns && prev->nt == nt && ns > 0 &&
	       (stacks == prev->stack || memcmp(stacks, prev->stack, ns * sizeof(uint32_t)) == 0) &&
	       (lsets == prev->lset || memcmp(lsets, prev->lset, ns * sizeof(uint32_t)) == 0);
	if (same) {
		if (!prev->selfok)
			rowset_reindex(prev, e->st, e->sc->ix);
		self_lset_column(prev, e->st);
		if ((rc = pf_buf_reserve(&e->col[COL_STACK], ns)) < 0 ||
		    (rc = pf_buf_append(&e->col[COL_LSET], prev->selfcol, prev->selflen)) < 0)
			goto append;
		memset(e->col[COL_STACK].data + e->col[COL_STACK].len, 0, ns);
		e->col[COL_STACK].len += ns;
		for (i = 0; i < ns; i++)
			e->sc->match[i] = (uint32_t)i;
	} else {
		uint8_t *ps, *pl, *pself;
		rowset_reindex(prev, e->st, e->sc->ix);
		if (rowset_reset(cur, ns, nt) < 0)
			return pf_err_set(err, PF_ENOMEM, "cannot allocate rows for %zu samples", ns);
		/* the two columns' bytes go to scratch first (at most 5 bytes
		 * per row each: ids are 32-bit), then to the columns; and the
		 * label column of these rows against themselves (selfcol, for a
		 * next profile of the same rows) */
		pf_xgrow((void **)&e->sc->rowbytes, &e->sc->rowbytescap, 15 * ns + 1, 1);
		ps = e->sc->rowbytes;
		pl = ps + 5 * ns;
		pself = pl + 5 * ns;
		for (i = 0; i < ns; i++) {
			uint32_t stack = stacks[i], lset = lsets[i], pred_stack = NONE, pred_lset, q,
				 pfirst, sf;
			uint64_t leaf;
			/* stack column */
			if (prev->valid && cursor < prev->n)
				pred_stack = prev->stack[cursor];
			if (stack == pred_stack)
				*ps++ = 0;
			else
				ps = uv_at(ps, 1 + pf_zigzag((int64_t)stack - (int64_t)last_stack));
			/* label column */
			leaf = leaf_key(e->st, stack);
			pfirst = prev_first_at(prev, cursor, stack);
			if (predict_lset(cur, prev, pfirst, leaf, &pred_lset) && pred_lset == lset)
				*pl++ = 0;
			else
				pl = uv_at(pl, (uint64_t)lset + 1);
			q = rowset_add(cur, prev, stack, lset, leaf, pfirst, &sf);
			pself = uv_at(pself, cur->lset[sf] == lset ? 0 : (uint64_t)lset + 1);
			e->sc->match[i] = q;
			if (q != NONE)
				cursor = q + 1;
			last_stack = stack;
		}
		if ((rc = pf_buf_append(&e->col[COL_STACK], e->sc->rowbytes,
					(size_t)(ps - e->sc->rowbytes))) < 0 ||
		    (rc = pf_buf_append(&e->col[COL_LSET], e->sc->rowbytes + 5 * ns,
					(size_t)(pl - (e->sc->rowbytes + 5 * ns)))) < 0)
			goto append;
		cur->selflen = (size_t)(pself - (e->sc->rowbytes + 10 * ns));
		pf_xgrow((void **)&cur->selfcol, &cur->selfcap, cur->selflen + 1, 1);
		memcpy(cur->selfcol, e->sc->rowbytes + 10 * ns, cur->selflen);
		cur->selfok = 1;
	}

	/* values: per sample type the smallest of six codings (see "value
	 * codings"); then only the rows with a non-zero written value */
	compat = same_types(prev, h->sample_type, nt);
	modes = pf_xcalloc(nt + 1, 1);
	if ((rc = code_values(e, h, ns, vals, prev, same ? NULL : e->sc->match, lsets, compat, modes,
			      &nvrows)) < 0)
		goto append;
	if ((rc = write_header(e, h, ns, nvrows, modes)) < 0)
		goto append;

	if (same) {
		/* prev's rows and indexes stay; its values become these */
		if (nt)
			memcpy(prev->vals, vals, ns * nt * sizeof(int64_t));
		rowset_set_types(prev, h->sample_type, modes, nt);
	} else {
		if (nt && ns)
			memcpy(cur->vals, vals, ns * nt * sizeof(int64_t));
		rowset_set_types(cur, h->sample_type, modes, nt);
		cur->valid = 1;
		e->sc->spare = prev;
		e->prev = cur;
		/* the indexes go (rowset_reindex brings them back); selfcol,
		 * which a next profile of the same rows needs, is made */
		rowset_unindex(cur, e->sc->ix);
	}
	e->prev_time = h->time_nanos;
	e->count++;
	free(modes);
	return 0;
append:
	rc = pf_err_set(err, rc, "chunk column is full: %s", pf_strerror(rc));
	for (i = 0; i < NCOLS; i++)
		e->col[i].len = saved[i];
	if (!same)
		cur->valid = 0;
	free(modes);
	return rc;
}

int tsdb__chunk_enc_add_pprof(struct tsdb__chunk_enc *e, const struct pprof_profile *p,
			      struct pf_err *err)
{
	/* one encoder: the profile as the streaming decoder's flat arrays */
	struct tsdb__flat *f = tsdb__flat_new();
	int rc;

	tsdb__flat_from_pprof(f, p);
	rc = tsdb__chunk_enc_add_flat(e, f, err);
	tsdb__flat_free(f);
	return rc;
}

/* ---- interning a flat profile (ingest.c; add_pprof makes one of its
 * pprof profile) ---- */

static int64_t flat_str(struct tsdb__chunk_enc *e, const struct tsdb__flat *f, int64_t idx)
{
	if (idx == 0)
		return 0;
	if (e->sc->smemo[idx] < 0) {
		int64_t id = tsdb__st_add_string_hint(e->st, f->str[idx], f->slen[idx], e->sc->str_next);
		if (id >= 0)
			e->sc->str_next = (uint32_t)id + 1;
		e->sc->smemo[idx] = id;
	}
	return e->sc->smemo[idx];
}

static int64_t flat_mapping(struct tsdb__chunk_enc *e, const struct tsdb__flat *f, size_t i)
{
	const struct pprof_stream_mapping *pm = &f->maps[i];
	struct tsdb__st_mapping sm;

	if (e->sc->mmemo[i] >= 0)
		return e->sc->mmemo[i];
	memset(&sm, 0, sizeof(sm));
	sm.start = pm->memory_start;
	sm.limit = pm->memory_limit;
	sm.offset = pm->file_offset;
	TSDB__TRY_ID(sm.file, flat_str(e, f, pm->filename));
	TSDB__TRY_ID(sm.build_id, flat_str(e, f, pm->build_id));
	sm.flags = (uint8_t)((pm->has_functions ? TSDB__MAP_HAS_FUNCTIONS : 0) |
			     (pm->has_filenames ? TSDB__MAP_HAS_FILENAMES : 0) |
			     (pm->has_line_numbers ? TSDB__MAP_HAS_LINE_NUMBERS : 0) |
			     (pm->has_inline_frames ? TSDB__MAP_HAS_INLINE_FRAMES : 0));
	return e->sc->mmemo[i] = tsdb__st_add_mapping(e->st, &sm);
}

static int64_t flat_function(struct tsdb__chunk_enc *e, const struct tsdb__flat *f, size_t i)
{
	const struct pprof_stream_function *pf = &f->fns[i];
	struct tsdb__st_function sf;

	if (e->sc->fmemo[i] >= 0)
		return e->sc->fmemo[i];
	TSDB__TRY_ID(sf.name, flat_str(e, f, pf->name));
	TSDB__TRY_ID(sf.system_name, flat_str(e, f, pf->system_name));
	TSDB__TRY_ID(sf.file, flat_str(e, f, pf->filename));
	sf.start_line = pf->start_line;
	e->sc->fmemo[i] = tsdb__st_add_function_hint(e->st, &sf, e->sc->fn_next);
	if (e->sc->fmemo[i] >= 0)
		e->sc->fn_next = (uint32_t)e->sc->fmemo[i] + 1;
	return e->sc->fmemo[i];
}

static int64_t flat_location(struct tsdb__chunk_enc *e, const struct tsdb__flat *f, size_t i)
{
	const struct tsdb__flat_loc *pl = &f->locs[i];
	uint32_t mapping = 0;

	if (e->sc->lmemo[i] >= 0)
		return e->sc->lmemo[i];
	if (pl->mapping_id != 0) {
		TSDB__TRY_ID(mapping, flat_mapping(e, f, tsdb__flat_map_index(f, pl->mapping_id)));
		mapping++;
	}
	pf_xgrow((void **)&e->sc->lines, &e->sc->linecap, pl->nline + 1, sizeof(*e->sc->lines));
	for (uint32_t j = 0; j < pl->nline; j++) {
		const struct tsdb__flat_line *ln = &f->lines[pl->line_off + j];
		struct tsdb__st_line *o = &e->sc->lines[j];
		o->fn = 0;
		if (ln->function_id != 0) {
			size_t fi = tsdb__flat_fn_index(f, ln->function_id);
			TSDB__TRY_ID(o->fn, flat_function(e, f, fi));
			o->fn++;
			e->sc->fused[fi] = 1;
		}
		o->line = ln->line;
		o->column = ln->column;
	}
	e->sc->lmemo[i] = tsdb__st_add_location_hint(e->st, pl->address, mapping, pl->folded,
						     e->sc->lines, pl->nline, e->sc->loc_next);
	if (e->sc->lmemo[i] >= 0)
		e->sc->loc_next = (uint32_t)e->sc->lmemo[i] + 1;
	return e->sc->lmemo[i];
}

static int64_t flat_stack(struct tsdb__chunk_enc *e, const struct tsdb__flat *f,
			  const struct tsdb__flat_sample *s, uint32_t hint)
{
	const uint64_t *ids = f->locids + s->loc_off;
	const int64_t *memo = e->sc->lmemo;
	uint32_t *buf;

	pf_xgrow((void **)&e->sc->locbuf, &e->sc->locbufcap, s->nloc + 1, sizeof(uint32_t));
	buf = e->sc->locbuf;
	for (size_t k = s->nloc; k-- > 0;) {
		size_t li = f->dense_loc ? (size_t)(ids[k] - 1) : tsdb__flat_loc_index(f, ids[k]);
		/* the memo's answer without a call (most frames: a location
		 * the profile's stacks met before) */
		if (memo[li] >= 0)
			buf[k] = (uint32_t)memo[li];
		else
			TSDB__TRY_ID(buf[k], flat_location(e, f, li));
	}
	return tsdb__st_add_stack_hint(e->st, buf, s->nloc, hint);
}

static int64_t flat_labels_add(struct tsdb__chunk_enc *e, const struct tsdb__flat *f,
			       const struct tsdb__flat_sample *s);

/* A hash of a sample's labels as the body gives them, for the memo. */
static size_t labels_slot(const struct pprof_stream_label *l, size_t n)
{
	uint64_t h = n;

	for (size_t j = 0; j < n; j++) {
		h ^= (uint64_t)l[j].key * 0x9E3779B97F4A7C15ull ^ (uint64_t)l[j].str * 0xC2B2AE3D27D4EB4Full ^
		     (uint64_t)l[j].num * 0x165667B19E3779F9ull ^ (uint64_t)l[j].num_unit * 0x27D4EB2F165667C5ull;
		h = (h ^ h >> 29) * 0xBF58476D1CE4E5B9ull;
	}
	return (size_t)(h >> 56) & (LSET_MEMO - 1);
}

/*
 * The label set of sample s: interned once per distinct labels of the
 * profile (a heap profile's samples share a few dozen object sizes). The
 * memo keeps, per slot, the last sample whose labels hashed there; equal
 * labels in the body (the same string indexes and numbers) intern to the
 * same set within one profile, so an equal entry is the answer.
 */
static int64_t flat_labels(struct tsdb__chunk_enc *e, const struct tsdb__flat *f,
			   const struct tsdb__flat_sample *s)
{
	const struct pprof_stream_label *bl = s->nlab ? f->labs + s->lab_off : NULL;
	size_t slot = labels_slot(bl, s->nlab);
	const uint32_t n1 = e->sc->labmemo[slot].n1;
	int64_t id;

	/* the entry keeps where the labels are: one load less than the
	 * sample (a heap profile's samples mostly have one label) */
	if (n1 == s->nlab + 1) {
		const struct pprof_stream_label *ol;
		if (s->nlab == 0)
			return e->sc->labmemo[slot].id;
		ol = f->labs + e->sc->labmemo[slot].off;
		if (s->nlab == 1 ? ol->key == bl->key && ol->str == bl->str && ol->num == bl->num &&
					   ol->num_unit == bl->num_unit
				 : memcmp(ol, bl, s->nlab * sizeof(*bl)) == 0)
			return e->sc->labmemo[slot].id;
	}
	if ((id = flat_labels_add(e, f, s)) >= 0) {
		e->sc->labmemo[slot].off = s->nlab ? s->lab_off : 0;
		e->sc->labmemo[slot].n1 = s->nlab + 1;
		e->sc->labmemo[slot].id = (uint32_t)id;
	}
	return id;
}

static int64_t flat_labels_add(struct tsdb__chunk_enc *e, const struct tsdb__flat *f,
			       const struct tsdb__flat_sample *s)
{
	pf_xgrow((void **)&e->sc->labs, &e->sc->labcap, s->nlab + 1, sizeof(*e->sc->labs));
	for (size_t j = 0; j < s->nlab; j++) {
		const struct pprof_stream_label *l = &f->labs[s->lab_off + j];
		struct tsdb__st_label *o = &e->sc->labs[j];
		TSDB__TRY_ID(o->key, flat_str(e, f, l->key));
		TSDB__TRY_ID(o->str, flat_str(e, f, l->str));
		TSDB__TRY_ID(o->unit, flat_str(e, f, l->num_unit));
		o->num = l->num;
	}
	return tsdb__st_add_labelset(e->st, e->sc->labs, s->nlab);
}

/* h into *dst, its id arrays copied into *ids (grown, *cap). */
static void phdr_copy(struct tsdb__phdr *dst, uint32_t **ids, size_t *cap, const struct tsdb__phdr *h)
{
	size_t n = 2 * h->nsample_type + h->ncomment + h->nmapping + h->nextra_loc + h->nextra_fn;
	uint32_t *p;

	pf_xgrow((void **)ids, cap, n + 1, sizeof(uint32_t));
	*dst = *h;
	p = *ids;
#define KEEP(field, count)                                                    \
	do {                                                                  \
		if ((count) > 0)                                              \
			memcpy(p, h->field, (count) * sizeof(uint32_t));      \
		dst->field = p;                                               \
		p += (count);                                                 \
	} while (0)
	KEEP(sample_type, 2 * h->nsample_type);
	KEEP(comment, h->ncomment);
	KEEP(mapping, h->nmapping);
	KEEP(extra_loc, h->nextra_loc);
	KEEP(extra_fn, h->nextra_fn);
#undef KEEP
}

/* Keep h (ids copied) and the digest of the profile it was made from. */
static void keep_header(struct tsdb__chunk_enc *e, const struct tsdb__phdr *h, const uint64_t dg[2])
{
	phdr_copy(&e->ph, &e->hids, &e->hidcap, h);
	e->digest[0] = dg[0];
	e->digest[1] = dg[1];
	e->dvalid = 1;
}

/* Whether f's digest is dg. */
static int digest_is(const struct tsdb__flat *f, const uint64_t dg[2])
{
	uint64_t fd[2];

	tsdb__flat_digest(f, fd);
	return fd[0] == dg[0] && fd[1] == dg[1];
}

int tsdb__chunk_enc_takes(const struct tsdb__chunk_enc *e, const struct tsdb__flat *f)
{
	return e->dvalid && e->prev->valid && e->prev->n == f->nsample && digest_is(f, e->digest);
}

struct tsdb__chunk_seed {
	struct tsdb__phdr ph; /* ids in hids */
	uint32_t *hids;
	uint64_t digest[2];
	size_t ns;
	uint32_t *stack, *lset;
};

struct tsdb__chunk_seed *tsdb__chunk_enc_seed(const struct tsdb__chunk_enc *e)
{
	struct tsdb__chunk_seed *s;
	size_t cap = 0;

	if (!e->dvalid || !e->prev->valid)
		return NULL;
	s = pf_xcalloc(1, sizeof(*s));
	phdr_copy(&s->ph, &s->hids, &cap, &e->ph);
	s->digest[0] = e->digest[0];
	s->digest[1] = e->digest[1];
	s->ns = e->prev->n;
	s->stack = pf_xcalloc(s->ns + 1, sizeof(uint32_t));
	s->lset = pf_xcalloc(s->ns + 1, sizeof(uint32_t));
	if (s->ns) {
		memcpy(s->stack, e->prev->stack, s->ns * sizeof(uint32_t));
		memcpy(s->lset, e->prev->lset, s->ns * sizeof(uint32_t));
	}
	return s;
}

void tsdb__chunk_seed_free(struct tsdb__chunk_seed *s)
{
	if (!s)
		return;
	free(s->hids);
	free(s->stack);
	free(s->lset);
	free(s);
}

int tsdb__chunk_seed_takes(const struct tsdb__chunk_seed *s, const struct tsdb__flat *f)
{
	return s && s->ns == f->nsample && s->ph.nsample_type == f->nt && digest_is(f, s->digest);
}

int tsdb__chunk_enc_add_seeded(struct tsdb__chunk_enc *e, const struct tsdb__chunk_seed *s,
			       const struct tsdb__flat *f, struct pf_err *err)
{
	struct tsdb__phdr h;
	int rc;

	if (e->count != 0 || !tsdb__chunk_seed_takes(s, f))
		return pf_err_set(err, PF_EMISMATCH,
				  "a profile whose digest is not the seed's, or a chunk not empty");
	h = s->ph;
	h.time_nanos = f->time_nanos;
	h.duration_nanos = f->duration_nanos;
	h.period = f->period;
	if ((rc = tsdb__chunk_enc_rows(e, &h, s->ns, s->stack, s->lset, f->vals, err)) < 0)
		return rc;
	keep_header(e, &h, s->digest);
	return 0;
}

int tsdb__chunk_enc_add_flat(struct tsdb__chunk_enc *e, const struct tsdb__flat *f,
			     struct pf_err *err)
{
	size_t nt = f->nt, ns = f->nsample, i, nfixed, hrow;
	struct tsdb__phdr h;
	uint64_t dg[2];
	int64_t t;
	int rc;

	if ((nt && ns > TSDB__CODEC_MAX_VALUES / nt) || f->nlocids > TSDB__CODEC_MAX_FRAMES)
		return pf_err_set(err, PF_ETOOBIG,
				  "profile of %zu samples, %zu sample types and %zu frames is over the limits (%zu values, %zu frames)",
				  ns, nt, f->nlocids, TSDB__CODEC_MAX_VALUES, TSDB__CODEC_MAX_FRAMES);
	/* the same symbols and samples as the previous profile (the same
	 * program's next snapshot): its header ids and rows, new values */
	tsdb__flat_digest(f, dg);
	if (tsdb__chunk_enc_takes(e, f)) {
		h = e->ph;
		h.time_nanos = f->time_nanos;
		h.duration_nanos = f->duration_nanos;
		h.period = f->period;
		if ((rc = tsdb__chunk_enc_rows(e, &h, ns, e->prev->stack, e->prev->lset, f->vals,
					       err)) < 0)
			return rc;
		e->dvalid = 1; /* the same digest, header and rows */
		return 0;
	}
	if (f->light)
		return pf_err_set(err, PF_EMISMATCH,
				  "a profile read by its shape alone, whose series' previous profile has another shape");
	memo_reset(&e->sc->smemo, &e->sc->smcap, f->nstr);
	memo_reset(&e->sc->mmemo, &e->sc->mmcap, f->nmap);
	memo_reset(&e->sc->fmemo, &e->sc->fmcap, f->nfn);
	memo_reset(&e->sc->lmemo, &e->sc->lmcap, f->nloc);
	pf_xgrow((void **)&e->sc->fused, &e->sc->fucap, f->nfn + 1, 1);
	memset(e->sc->fused, 0, f->nfn + 1);
	memset(e->sc->labmemo, 0, sizeof(e->sc->labmemo));
	e->sc->str_next = e->sc->fn_next = e->sc->loc_next = 0;
	e->sc->nids = 0;
	memset(&h, 0, sizeof(h));

#define ID(var, expr)                           \
	do {                                    \
		if ((t = (expr)) < 0)           \
			goto toobig;            \
		(var) = (uint32_t)t;            \
	} while (0)

	for (i = 0; i < nt; i++) {
		uint32_t a, b;
		ID(a, flat_str(e, f, f->sample_type[2 * i]));
		ID(b, flat_str(e, f, f->sample_type[2 * i + 1]));
		push_id(e, a);
		push_id(e, b);
	}
	if (f->has_period_type) {
		h.has_period_type = 1;
		ID(h.period_type[0], flat_str(e, f, f->period_type[0]));
		ID(h.period_type[1], flat_str(e, f, f->period_type[1]));
	}
	ID(h.drop_frames, flat_str(e, f, f->drop_frames));
	ID(h.keep_frames, flat_str(e, f, f->keep_frames));
	ID(h.default_sample_type, flat_str(e, f, f->default_sample_type));
	for (i = 0; i < f->ncomment; i++) {
		uint32_t c;
		ID(c, flat_str(e, f, f->comment[i]));
		push_id(e, c);
	}
	for (i = 0; i < f->nmap; i++) {
		uint32_t c;
		ID(c, flat_mapping(e, f, i));
		push_id(e, c);
	}

	pf_xgrow((void **)&e->sc->stk, &e->sc->stkcap, ns + 1, sizeof(uint32_t));
	pf_xgrow((void **)&e->sc->lst, &e->sc->lstcap, ns + 1, sizeof(uint32_t));
	/* a sample's stack is mostly the one of the previous profile's row
	 * after the row of the sample before: that stack is tried first */
	rowset_reindex(e->prev, e->st, e->sc->ix);
	for (i = 0, hrow = 0; i < ns; i++) {
		const struct tsdb__flat_sample *s = &f->samples[i];
		const struct rowset *prev = e->prev;
		uint32_t hint = prev->valid && hrow < prev->n ? prev->stack[hrow] : NONE, r;
		ID(e->sc->stk[i], flat_stack(e, f, s, hint));
		ID(e->sc->lst[i], flat_labels(e, f, s));
		if (e->sc->stk[i] == hint)
			hrow++;
		else if ((r = prev_first(prev, e->sc->stk[i])) != NONE)
			hrow = r + 1;
	}

	nfixed = e->sc->nids;
	for (i = 0; i < f->nloc; i++) {
		uint32_t l;
		if (e->sc->lmemo[i] >= 0)
			continue;
		ID(l, flat_location(e, f, i));
		push_id(e, l);
	}
	h.nextra_loc = e->sc->nids - nfixed;
	nfixed = e->sc->nids;
	for (i = 0; i < f->nfn; i++) {
		uint32_t fn;
		if (e->sc->fused[i])
			continue;
		ID(fn, flat_function(e, f, i));
		push_id(e, fn);
	}
	h.nextra_fn = e->sc->nids - nfixed;
#undef ID

	h.time_nanos = f->time_nanos;
	h.duration_nanos = f->duration_nanos;
	h.period = f->period;
	h.nsample_type = nt;
	if (!e->sc->ids)
		pf_xgrow((void **)&e->sc->ids, &e->sc->idcap, 1, sizeof(*e->sc->ids));
	h.sample_type = e->sc->ids;
	h.ncomment = f->ncomment;
	h.comment = e->sc->ids + 2 * nt;
	h.nmapping = f->nmap;
	h.mapping = h.comment + h.ncomment;
	h.extra_loc = h.mapping + h.nmapping;
	h.extra_fn = h.extra_loc + h.nextra_loc;
	/* the values are the flat profile's, row-major as the rows want them */
	if ((rc = tsdb__chunk_enc_rows(e, &h, ns, e->sc->stk, e->sc->lst, f->vals, err)) < 0)
		return rc;
	keep_header(e, &h, dg);
	return 0;
toobig:
	return pf_err_set(err, PF_ETOOBIG, "the symbol table is full (2^32 - 2 symbols of a kind)");
}

int tsdb__chunk_enc_add_raw(struct tsdb__chunk_enc *e, const void *body, size_t n,
			    struct pf_err *err)
{
	size_t h = e->col[COL_HDR].len, r = e->col[COL_RAW].len;
	int rc;

	if ((rc = pf_buf_putc(&e->col[COL_HDR], 1)) < 0 ||
	    (rc = put_uv(&e->col[COL_HDR], n)) < 0 || (rc = pf_buf_append(&e->col[COL_RAW], body, n)) < 0) {
		e->col[COL_HDR].len = h;
		e->col[COL_RAW].len = r;
		return pf_err_set(err, rc, "chunk cannot take a body of %zu bytes: %s", n, pf_strerror(rc));
	}
	e->count++;
	return 0;
}

static void enc_reset(struct tsdb__chunk_enc *e)
{
	for (int i = 0; i < NCOLS; i++)
		pf_buf_reset(&e->col[i]);
	e->count = 0;
	e->prev_time = 0;
	e->prev->valid = 0;
}

int tsdb__chunk_enc_finish(struct tsdb__chunk_enc *e, struct pf_buf *out, struct pf_err *err)
{
	size_t start = out->len;
	uint8_t hdr[16], c[4];
	void *zctx = tsdb__zctx_new(); /* for the six columns, not kept */
	int rc;

	pf_put_le32(hdr, TSDB__CHUNK_MAGIC);
	pf_put_le32(hdr + 4, TSDB__CHUNK_VERSION);
	pf_put_le64(hdr + 8, e->st->nonce);
	if ((rc = pf_buf_append(out, hdr, sizeof(hdr))) < 0 || (rc = put_uv(out, e->count)) < 0) {
		rc = pf_err_set(err, rc, "cannot append a chunk: %s", pf_strerror(rc));
		goto fail;
	}
	for (int i = 0; i < NCOLS; i++)
		if ((rc = tsdb__put_section(out, &e->col[i], zctx, e->st->level, err)) < 0)
			goto fail;
	pf_put_le32(c, pf_crc32c(0, out->data + start, out->len - start));
	if ((rc = pf_buf_append(out, c, 4)) < 0) {
		rc = pf_err_set(err, rc, "cannot append a chunk: %s", pf_strerror(rc));
		goto fail;
	}
	tsdb__zctx_free(zctx);
	enc_reset(e);
	return 0;
fail:
	tsdb__zctx_free(zctx);
	out->len = start;
	return rc;
}

int tsdb__chunk_enc_peek(const struct tsdb__chunk_enc *e, struct pf_buf *out, struct pf_err *err)
{
	size_t start = out->len;
	uint8_t hdr[16], c[4];
	int rc;

	pf_put_le32(hdr, TSDB__CHUNK_MAGIC);
	pf_put_le32(hdr + 4, TSDB__CHUNK_VERSION);
	pf_put_le64(hdr + 8, e->st->nonce);
	if ((rc = pf_buf_append(out, hdr, sizeof(hdr))) < 0 || (rc = put_uv(out, e->count)) < 0) {
		rc = pf_err_set(err, rc, "cannot append a chunk: %s", pf_strerror(rc));
		goto fail;
	}
	for (int i = 0; i < NCOLS; i++)
		if ((rc = tsdb__put_section(out, &e->col[i], NULL, 0, err)) < 0)
			goto fail;
	pf_put_le32(c, pf_crc32c(0, out->data + start, out->len - start));
	if ((rc = pf_buf_append(out, c, 4)) < 0) {
		rc = pf_err_set(err, rc, "cannot append a chunk: %s", pf_strerror(rc));
		goto fail;
	}
	return 0;
fail:
	out->len = start;
	return rc;
}

void tsdb__chunk_enc_trim(struct tsdb__chunk_enc *e)
{
	/* a shared scratch stays for the table's next encoder */
	if (e->own_sc)
		scratch_clear(e->sc);
}

/* ---- decoder ---------------------------------------------------------------- */

struct pinfo {
	uint8_t raw;
	size_t nrows;
	size_t nvrows; /* rows with values written */
	/* raw: body in the raw column; pprof: start of its rows in the
	 * stack, label and value columns */
	size_t off[NCOLS];
	size_t rawlen;
	struct tsdb__phdr h;
	const uint32_t *modes; /* nsample_type, into ids */
};

struct tsdb__chunk_dec {
	uint64_t nonce;
	size_t count;
	uint8_t *col[NCOLS];
	size_t len[NCOLS];
	struct pinfo *p;
	uint32_t *ids;
	struct rowset rs[2];
	struct rowset *prev, *cur;
	int64_t cur_i;       /* profile held in cur, -1 none */
	uint32_t *match;
	size_t matchcap;
	uint32_t *rowlist;
	size_t rowlistcap;
	int64_t *coded_prev; /* coded values of the previous column */
	size_t cpcap;
};

size_t tsdb__chunk_dec_count(const struct tsdb__chunk_dec *d)
{
	return d->count;
}

int tsdb__chunk_dec_is_raw(const struct tsdb__chunk_dec *d, size_t i)
{
	return i < d->count && d->p[i].raw;
}

uint64_t tsdb__chunk_dec_nonce(const struct tsdb__chunk_dec *d)
{
	return d->nonce;
}

void tsdb__chunk_dec_free(struct tsdb__chunk_dec *d)
{
	if (!d)
		return;
	for (int i = 0; i < NCOLS; i++)
		free(d->col[i]);
	free(d->p);
	free(d->ids);
	rowset_free(&d->rs[0]);
	rowset_free(&d->rs[1]);
	free(d->match);
	free(d->rowlist);
	free(d->coded_prev);
	free(d);
}

/* Skip n uvarints of r; 0 or -1 when the column is too short. */
static int skip_uvarints(struct pf_reader *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		pf_read_uvarint(r);
		if (r->bad)
			return -1;
	}
	return 0;
}

/* Parse the headers column into d->p (and d->ids) and check that the
 * other columns hold exactly the rows and bodies the headers announce. */
static int parse_headers(struct tsdb__chunk_dec *d, struct pf_err *err)
{
	struct pf_reader h, rs, rl, rg, rv;
	size_t i, nid = 0, rawoff = 0, idcap;
	int64_t prev_time = 0;

	pf_reader_init(&h, d->col[COL_HDR], d->len[COL_HDR]);
	pf_reader_init(&rs, d->col[COL_STACK], d->len[COL_STACK]);
	pf_reader_init(&rl, d->col[COL_LSET], d->len[COL_LSET]);
	pf_reader_init(&rg, d->col[COL_GAP], d->len[COL_GAP]);
	pf_reader_init(&rv, d->col[COL_VAL], d->len[COL_VAL]);
	/* each profile takes at least 2 header bytes, each id at least 1 */
	if (d->count > d->len[COL_HDR] / 2)
		return pf_err_set(err, PF_ECORRUPT, "chunk: %zu profiles do not fit in %zu header bytes",
				  d->count, d->len[COL_HDR]);
	if (d->count && !(d->p = calloc(d->count, sizeof(*d->p))))
		return pf_err_set(err, PF_ENOMEM, "cannot allocate %zu profile headers", d->count);
	idcap = d->len[COL_HDR];
	if (idcap && !(d->ids = malloc(idcap * sizeof(uint32_t))))
		return pf_err_set(err, PF_ENOMEM, "cannot allocate %zu header ids", idcap);

#define BAD(...) return pf_err_set(err, PF_ECORRUPT, __VA_ARGS__)
	for (i = 0; i < d->count; i++) {
		struct pinfo *p = &d->p[i];
		size_t hoff = (size_t)(h.p - d->col[COL_HDR]);
		uint8_t kind = pf_read_u8(&h);
		if (h.bad)
			BAD("chunk profile %zu: header at offset %zu is truncated", i, hoff);
		if (kind == 1) {
			uint64_t n = pf_read_uvarint(&h);
			if (h.bad || n > d->len[COL_RAW] - rawoff)
				BAD("chunk profile %zu: raw body length at header offset %zu is out of range", i, hoff);
			p->raw = 1;
			p->off[COL_RAW] = rawoff;
			p->rawlen = (size_t)n;
			rawoff += (size_t)n;
			continue;
		}
		if (kind != 0)
			BAD("chunk profile %zu: unknown kind %u at header offset %zu", i, kind, hoff);
		{
			uint64_t nrows = pf_read_uvarint(&h), nvrows = pf_read_uvarint(&h);
			uint64_t flags = pf_read_uvarint(&h), nt, v;
			size_t *counts[4] = { &p->h.ncomment, &p->h.nmapping, &p->h.nextra_loc,
					      &p->h.nextra_fn };
			const uint32_t **lists[4] = { &p->h.comment, &p->h.mapping, &p->h.extra_loc,
						      &p->h.extra_fn };
			size_t nv;

#define ID32(dst)                                                                          \
	do {                                                                               \
		v = pf_read_uvarint(&h);                                                   \
		if (h.bad || v > UINT32_MAX)                                              \
			BAD("chunk profile %zu: header at offset %zu is truncated or has an id out of range", \
			    i, hoff);                                                      \
		(dst) = (uint32_t)v;                                                       \
	} while (0)
			prev_time = (int64_t)((uint64_t)prev_time + (uint64_t)pf_unzigzag(pf_read_uvarint(&h)));
			p->h.time_nanos = prev_time;
			p->h.duration_nanos = pf_unzigzag(pf_read_uvarint(&h));
			p->h.period = pf_unzigzag(pf_read_uvarint(&h));
			if (h.bad || flags > 1)
				BAD("chunk profile %zu: bad header at offset %zu", i, hoff);
			p->h.has_period_type = (uint8_t)flags;
			if (flags) {
				ID32(p->h.period_type[0]);
				ID32(p->h.period_type[1]);
			}
			nt = pf_read_uvarint(&h);
			if (h.bad || nt > pf_reader_left(&h) / 2)
				BAD("chunk profile %zu: %llu sample types do not fit in the header", i,
				    (unsigned long long)nt);
			p->h.nsample_type = (size_t)nt;
			p->h.sample_type = d->ids + nid;
			for (size_t k = 0; k < 2 * nt; k++)
				ID32(d->ids[nid++]);
			ID32(p->h.drop_frames);
			ID32(p->h.keep_frames);
			ID32(p->h.default_sample_type);
			for (int k = 0; k < 4; k++) {
				uint64_t len = pf_read_uvarint(&h);
				if (h.bad || len > pf_reader_left(&h))
					BAD("chunk profile %zu: a list in the header at offset %zu does not fit",
					    i, hoff);
				*counts[k] = (size_t)len;
				*lists[k] = d->ids + nid;
				for (size_t x = 0; x < (size_t)len; x++)
					ID32(d->ids[nid++]);
			}
			p->modes = d->ids + nid;
			for (size_t k = 0; k < nt; k++) {
				ID32(d->ids[nid]);
				if (d->ids[nid] >= MODE_COUNT || (k == 0 && d->ids[nid] >> 1))
					BAD("chunk profile %zu: bad value mode in the header at offset %zu", i, hoff);
				nid++;
			}
#undef ID32
			/* the rows, in the other columns */
			if (nt && nrows > TSDB__CODEC_MAX_VALUES / nt)
				BAD("chunk profile %zu: %llu rows of %llu values are over the limit of %zu values",
				    i, (unsigned long long)nrows, (unsigned long long)nt, TSDB__CODEC_MAX_VALUES);
			if (nrows > pf_reader_left(&rs) || nrows > pf_reader_left(&rl) || nvrows > nrows ||
			    nvrows > pf_reader_left(&rg) ||
			    __builtin_mul_overflow((size_t)nvrows, (size_t)nt, &nv) || nv > pf_reader_left(&rv))
				BAD("chunk profile %zu: %llu rows (%llu with values) of %llu values do not fit in the columns",
				    i, (unsigned long long)nrows, (unsigned long long)nvrows,
				    (unsigned long long)nt);
			p->nrows = (size_t)nrows;
			p->nvrows = (size_t)nvrows;
			p->off[COL_STACK] = (size_t)(rs.p - d->col[COL_STACK]);
			p->off[COL_LSET] = (size_t)(rl.p - d->col[COL_LSET]);
			p->off[COL_GAP] = (size_t)(rg.p - d->col[COL_GAP]);
			p->off[COL_VAL] = (size_t)(rv.p - d->col[COL_VAL]);
			if (skip_uvarints(&rs, p->nrows) < 0 || skip_uvarints(&rl, p->nrows) < 0 ||
			    skip_uvarints(&rg, p->nvrows) < 0 || skip_uvarints(&rv, nv) < 0)
				BAD("chunk profile %zu: the stack, label, gap or value column is truncated", i);
		}
	}
	if (pf_reader_left(&h) || pf_reader_left(&rs) || pf_reader_left(&rl) || pf_reader_left(&rg) ||
	    pf_reader_left(&rv) || rawoff != d->len[COL_RAW])
		BAD("chunk: columns hold bytes that no profile header accounts for");
#undef BAD
	return 0;
}

int tsdb__chunk_dec_open(const void *p, size_t n, struct tsdb__chunk_dec **out,
			 struct pf_err *err)
{
	const uint8_t *b = p;
	struct tsdb__chunk_dec *d;
	struct pf_reader r;
	uint64_t count;
	uint32_t v;
	int rc;

	*out = NULL;
	if (n < 21)
		return pf_err_set(err, PF_ECORRUPT, "chunk of %zu bytes is too short", n);
	if (pf_get_le32(b) != TSDB__CHUNK_MAGIC)
		return pf_err_set(err, PF_ECORRUPT, "chunk: bad magic %08x at offset 0", pf_get_le32(b));
	if (pf_crc32c(0, b, n - 4) != pf_get_le32(b + n - 4))
		return pf_err_set(err, PF_ECORRUPT, "chunk: CRC32C mismatch at offset %zu", n - 4);
	if ((v = pf_get_le32(b + 4)) > TSDB__CHUNK_VERSION)
		return pf_err_set(err, PF_ENEWER, "chunk: format version %u, this profefe reads up to %u",
				  v, TSDB__CHUNK_VERSION);
	if (v != TSDB__CHUNK_VERSION)
		return pf_err_set(err, PF_ECORRUPT, "chunk: unknown version %u at offset 4", v);
	d = pf_xcalloc(1, sizeof(*d));
	rowset_init(&d->rs[0]);
	rowset_init(&d->rs[1]);
	d->prev = &d->rs[0];
	d->cur = &d->rs[1];
	d->cur_i = -1;
	d->nonce = pf_get_le64(b + 8);
	pf_reader_init(&r, b + 16, n - 20);
	count = pf_read_uvarint(&r);
	if (r.bad || count > n) {
		rc = pf_err_set(err, PF_ECORRUPT, "chunk: bad profile count at offset 16");
		goto fail;
	}
	d->count = (size_t)count;
	for (int i = 0; i < NCOLS; i++) {
		char what[64];
		snprintf(what, sizeof(what), "chunk column %s", col_names[i]);
		if ((rc = tsdb__get_section(&r, b, what, &d->col[i], &d->len[i], err)) < 0)
			goto fail;
	}
	if (pf_reader_left(&r)) {
		rc = pf_err_set(err, PF_ECORRUPT, "chunk: %zu bytes left over before the CRC",
				pf_reader_left(&r));
		goto fail;
	}
	if ((rc = parse_headers(d, err)) < 0)
		goto fail;
	*out = d;
	return 0;
fail:
	tsdb__chunk_dec_free(d);
	return rc;
}

int tsdb__chunk_dec_raw(struct tsdb__chunk_dec *d, size_t i, struct pf_buf *out, struct pf_err *err)
{
	int rc;
	if (i >= d->count)
		return pf_err_set(err, PF_EINVAL, "chunk has %zu profiles, not %zu", d->count, i + 1);
	if (!d->p[i].raw)
		return pf_err_set(err, PF_EINVAL, "chunk profile %zu is a pprof profile, not a raw body", i);
	if ((rc = pf_buf_append(out, d->col[COL_RAW] + d->p[i].off[COL_RAW], d->p[i].rawlen)) < 0)
		return pf_err_set(err, rc, "cannot copy a body of %zu bytes: %s", d->p[i].rawlen,
				  pf_strerror(rc));
	return 0;
}

/* Decode the rows of pprof profile i into d->cur, against d->prev (the
 * previous pprof profile, or none). */
static int decode_rows(struct tsdb__chunk_dec *d, const struct tsdb__symtab *st, size_t i,
		       struct pf_err *err)
{
	const struct pinfo *p = &d->p[i];
	struct rowset *cur = d->cur, *prev = d->prev;
	size_t nt = p->h.nsample_type, r, j;
	struct pf_reader rs, rl, rg, rv;
	uint32_t cursor = 0, last_stack = 0;
	int compat;

	if (rowset_reset(cur, p->nrows, nt) < 0)
		return pf_err_set(err, PF_ENOMEM, "cannot allocate %zu rows", p->nrows);
	pf_xgrow((void **)&d->match, &d->matchcap, p->nrows + 1, sizeof(uint32_t));
	pf_reader_init(&rs, d->col[COL_STACK] + p->off[COL_STACK], d->len[COL_STACK] - p->off[COL_STACK]);
	pf_reader_init(&rl, d->col[COL_LSET] + p->off[COL_LSET], d->len[COL_LSET] - p->off[COL_LSET]);
	pf_reader_init(&rg, d->col[COL_GAP] + p->off[COL_GAP], d->len[COL_GAP] - p->off[COL_GAP]);
	pf_reader_init(&rv, d->col[COL_VAL] + p->off[COL_VAL], d->len[COL_VAL] - p->off[COL_VAL]);
	for (r = 0; r < p->nrows; r++) {
		uint64_t sv = pf_read_uvarint(&rs), lv = pf_read_uvarint(&rl), leaf;
		uint32_t stack, lset, q, pfirst, sf;
		int64_t s;
		if (rs.bad || rl.bad)
			return pf_err_set(err, PF_ECORRUPT, "chunk profile %zu row %zu is truncated", i, r);
		if (sv == 0) {
			if (!prev->valid || cursor >= prev->n)
				return pf_err_set(err, PF_ECORRUPT,
						  "chunk profile %zu row %zu: predicted stack without a previous row",
						  i, r);
			stack = prev->stack[cursor];
		} else {
			s = (int64_t)((uint64_t)last_stack + (uint64_t)pf_unzigzag(sv - 1));
			if (s < 0 || (uint64_t)s >= st->nnode)
				return pf_err_set(err, PF_ECORRUPT,
						  "chunk profile %zu row %zu: stack %lld out of range (%zu stacks)",
						  i, r, (long long)s, st->nnode);
			stack = (uint32_t)s;
		}
		leaf = leaf_key(st, stack);
		pfirst = prev_first_at(prev, cursor, stack);
		if (lv == 0) {
			if (!predict_lset(cur, prev, pfirst, leaf, &lset))
				return pf_err_set(err, PF_ECORRUPT,
						  "chunk profile %zu row %zu: predicted label set without a previous row",
						  i, r);
		} else {
			if (lv - 1 >= st->nlset)
				return pf_err_set(err, PF_ECORRUPT,
						  "chunk profile %zu row %zu: label set %llu out of range (%zu label sets)",
						  i, r, (unsigned long long)(lv - 1), st->nlset);
			lset = (uint32_t)(lv - 1);
		}
		q = rowset_add(cur, prev, stack, lset, leaf, pfirst, &sf);
		d->match[r] = q;
		if (q != NONE)
			cursor = q + 1;
		last_stack = stack;
	}
	/* coded values: zero except in the rows the gaps name */
	if (nt && p->nrows)
		memset(cur->vals, 0, p->nrows * nt * sizeof(int64_t));
	pf_xgrow((void **)&d->rowlist, &d->rowlistcap, p->nvrows + 1, sizeof(uint32_t));
	pf_xgrow((void **)&d->coded_prev, &d->cpcap, p->nrows + 1, sizeof(int64_t));
	{
		uint64_t next = 0;
		for (r = 0; r < p->nvrows; r++) {
			uint64_t g = pf_read_uvarint(&rg);
			if (rg.bad || g >= p->nrows - next)
				return pf_err_set(err, PF_ECORRUPT,
						  "chunk profile %zu: value row gap %llu out of range", i,
						  (unsigned long long)g);
			next += g;
			d->rowlist[r] = (uint32_t)next++;
		}
	}
	for (j = 0; j < nt; j++)
		for (r = 0; r < p->nvrows; r++)
			cur->vals[d->rowlist[r] * nt + j] = pf_unzigzag(pf_read_uvarint(&rv));
	if (rv.bad)
		return pf_err_set(err, PF_ECORRUPT, "chunk profile %zu: values are truncated", i);
	/* written -> coded -> values, column by column */
	compat = same_types(prev, p->h.sample_type, nt);
	for (j = 0; j < nt; j++) {
		uint8_t md = (uint8_t)p->modes[j];
		if (md & MODE_DELTA && !compat)
			return pf_err_set(err, PF_ECORRUPT,
					  "chunk profile %zu: delta values without a matching previous profile", i);
		if (md >> 1) {
			/* c[j] = w[j] + c[j-1] * k; c[j-1] is still in prev's
			 * coding unless j - 1 is not a delta column */
			for (r = 0; r < p->nrows; r++) {
				uint64_t k = (uint64_t)((md >> 1) == 1 ? row_multiplier(st, cur->lset[r])
								       : p->h.period);
				cur->vals[r * nt + j] = (int64_t)((uint64_t)cur->vals[r * nt + j] +
								  (uint64_t)d->coded_prev[r] * k);
			}
		}
		/* keep this column's coded values for the next column */
		for (r = 0; r < p->nrows; r++)
			d->coded_prev[r] = cur->vals[r * nt + j];
		if (md & MODE_DELTA)
			for (r = 0; r < p->nrows; r++)
				if (d->match[r] != NONE)
					cur->vals[r * nt + j] = (int64_t)((uint64_t)cur->vals[r * nt + j] +
									  (uint64_t)prev->vals[d->match[r] * nt + j]);
	}
	rowset_set_types(cur, p->h.sample_type, NULL, nt);
	cur->valid = 1;
	return 0;
}

int tsdb__chunk_dec_rows(struct tsdb__chunk_dec *d, const struct tsdb__symtab *st, size_t i,
			 struct tsdb__rows *rows, struct pf_err *err)
{
	int64_t k;
	int rc;

	if (i >= d->count)
		return pf_err_set(err, PF_EINVAL, "chunk has %zu profiles, not %zu", d->count, i + 1);
	if (d->p[i].raw)
		return pf_err_set(err, PF_EINVAL, "chunk profile %zu is a raw body, not a pprof profile", i);
	if (d->nonce != st->nonce)
		return pf_err_set(err, PF_ECORRUPT,
				  "chunk was written against symbol table %016llx, not %016llx",
				  (unsigned long long)d->nonce, (unsigned long long)st->nonce);
	if (d->cur_i != (int64_t)i) {
		/* replay from the start, or from the profile held */
		if (d->cur_i < 0 || d->cur_i > (int64_t)i) {
			k = 0;
			d->rs[0].valid = d->rs[1].valid = 0;
		} else {
			k = d->cur_i + 1;
		}
		d->cur_i = -1;
		for (; k <= (int64_t)i; k++) {
			struct rowset *t;
			if (d->p[k].raw)
				continue;
			/* the held profile becomes the previous one */
			t = d->prev;
			d->prev = d->cur;
			d->cur = t;
			if ((rc = decode_rows(d, st, (size_t)k, err)) < 0) {
				d->rs[0].valid = d->rs[1].valid = 0;
				return rc;
			}
		}
		d->cur_i = (int64_t)i;
	}
	rows->hdr = &d->p[i].h;
	rows->nrows = d->cur->n;
	rows->stacks = d->cur->stack;
	rows->lsets = d->cur->lset;
	rows->vals = d->cur->vals;
	return 0;
}

int tsdb__chunk_dec_pprof(struct tsdb__chunk_dec *d, const struct tsdb__symtab *st, size_t i,
			  struct pprof_profile **out, struct pf_err *err)
{
	struct tsdb__rows rows;
	char what[48];
	int rc;

	*out = NULL;
	if ((rc = tsdb__chunk_dec_rows(d, st, i, &rows, err)) < 0)
		return rc;
	snprintf(what, sizeof(what), "chunk profile %zu", i);
	if ((rc = tsdb__phdr_check(st, rows.hdr, what, err)) < 0)
		return rc;
	if ((rc = tsdb__build_pprof(st, rows.hdr, rows.nrows, rows.stacks, rows.lsets, rows.vals, out,
				    err)) < 0)
		pf_err_prefix(err, "%s: ", what);
	return rc;
}

/* ---- rebuilding a pprof profile ---------------------------------------------- */

int tsdb__phdr_check(const struct tsdb__symtab *st, const struct tsdb__phdr *h, const char *what,
		     struct pf_err *err)
{
	size_t i;

#define STR(v, name)                                                                         \
	do {                                                                                 \
		if ((v) >= st->nstr)                                                          \
			return pf_err_set(err, PF_ECORRUPT,                                  \
					  "%s: %s string %u out of range (%zu strings)", what, \
					  name, (unsigned)(v), st->nstr);                    \
	} while (0)
	if (h->has_period_type) {
		STR(h->period_type[0], "period type");
		STR(h->period_type[1], "period unit");
	}
	for (i = 0; i < 2 * h->nsample_type; i++)
		STR(h->sample_type[i], "sample type");
	STR(h->drop_frames, "drop_frames");
	STR(h->keep_frames, "keep_frames");
	STR(h->default_sample_type, "default_sample_type");
	for (i = 0; i < h->ncomment; i++)
		STR(h->comment[i], "comment");
#undef STR
	for (i = 0; i < h->nmapping; i++)
		if (h->mapping[i] >= st->nmap)
			return pf_err_set(err, PF_ECORRUPT, "%s: mapping %u out of range (%zu mappings)",
					  what, h->mapping[i], st->nmap);
	for (i = 0; i < h->nextra_loc; i++)
		if (h->extra_loc[i] >= st->nloc)
			return pf_err_set(err, PF_ECORRUPT, "%s: location %u out of range (%zu locations)",
					  what, h->extra_loc[i], st->nloc);
	for (i = 0; i < h->nextra_fn; i++)
		if (h->extra_fn[i] >= st->nfn)
			return pf_err_set(err, PF_ECORRUPT, "%s: function %u out of range (%zu functions)",
					  what, h->extra_fn[i], st->nfn);
	return 0;
}

/* Output string table being built. */
struct strtab {
	struct pf_htab map; /* symtab id -> output index */
	char **v;
	size_t n, cap;
};

static int64_t out_str(struct strtab *t, struct pf_arena *a, const struct tsdb__symtab *st, uint32_t id)
{
	uint32_t idx;
	if (pf_htab_put(&t->map, id, (uint32_t)t->n, &idx))
		return idx;
	pf_xgrow((void **)&t->v, &t->cap, t->n + 1, sizeof(char *));
	t->v[t->n] = pf_arena_strndup(a, tsdb__st_str(st, id),
				      st->soff[id + 1] - st->soff[id] - 1);
	return (int64_t)t->n++;
}

static Perftools__Profiles__ValueType *out_vt(struct pf_arena *a, struct strtab *t,
					      const struct tsdb__symtab *st, uint32_t type, uint32_t unit)
{
	Perftools__Profiles__ValueType *vt = pf_arena_alloc(a, sizeof(*vt));
	perftools__profiles__value_type__init(vt);
	vt->type = out_str(t, a, st, type);
	vt->unit = out_str(t, a, st, unit);
	return vt;
}

/*
 * A pprof profile being rebuilt from a symbol table. Every output id is
 * numbered in order of first use; the maps take symtab ids to output
 * indexes (0-based; the output id is the index + 1).
 */
struct build {
	const struct tsdb__symtab *st;
	struct pf_arena *a;
	pprof_msg *m;
	struct strtab t;
	struct pf_htab mapm, locm, fnm, lsm, stackm;
	uint32_t *locs, *fns; /* output index -> symtab location / function */
	size_t nloc, loccap, nfn, fncap;
	Perftools__Profiles__Label ***lsetp; /* per distinct label set used */
	size_t nlsp, lspcap;
	uint64_t **stackp; /* per distinct stack used: its location ids */
	size_t nstp, stpcap, frames;
};

/* The output index of symtab location loc, numbered on first use. */
static uint32_t use_loc(struct build *b, uint32_t loc)
{
	uint32_t li;
	if (!pf_htab_put(&b->locm, loc, (uint32_t)b->nloc, &li)) {
		pf_xgrow((void **)&b->locs, &b->loccap, b->nloc + 1, sizeof(uint32_t));
		b->locs[b->nloc] = loc;
		li = (uint32_t)b->nloc++;
	}
	return li;
}

/* The output index of symtab function fn, numbered on first use. */
static uint32_t use_fn(struct build *b, uint32_t fn)
{
	uint32_t fi;
	if (!pf_htab_put(&b->fnm, fn, (uint32_t)b->nfn, &fi)) {
		pf_xgrow((void **)&b->fns, &b->fncap, b->nfn + 1, sizeof(uint32_t));
		b->fns[b->nfn] = fn;
		fi = (uint32_t)b->nfn++;
	}
	return fi;
}

/* Sample types, period, times, drop/keep frames, comments. */
static void build_header(struct build *b, const struct tsdb__phdr *h)
{
	const struct tsdb__symtab *st = b->st;
	struct pf_arena *a = b->a;
	pprof_msg *m = b->m;
	size_t nt = h->nsample_type, i;

	if (nt) {
		m->sample_type = pf_arena_alloc(a, nt * sizeof(*m->sample_type));
		for (i = 0; i < nt; i++)
			m->sample_type[i] = out_vt(a, &b->t, st, h->sample_type[2 * i], h->sample_type[2 * i + 1]);
		m->n_sample_type = nt;
	}
	if (h->has_period_type)
		m->period_type = out_vt(a, &b->t, st, h->period_type[0], h->period_type[1]);
	m->period = h->period;
	m->time_nanos = h->time_nanos;
	m->duration_nanos = h->duration_nanos;
	m->drop_frames = h->drop_frames ? out_str(&b->t, a, st, h->drop_frames) : 0;
	m->keep_frames = h->keep_frames ? out_str(&b->t, a, st, h->keep_frames) : 0;
	m->default_sample_type =
		h->default_sample_type ? out_str(&b->t, a, st, h->default_sample_type) : 0;
	if (h->ncomment) {
		m->comment = pf_arena_alloc(a, h->ncomment * sizeof(int64_t));
		for (i = 0; i < h->ncomment; i++)
			m->comment[i] = out_str(&b->t, a, st, h->comment[i]);
		m->n_comment = h->ncomment;
	}
}

/* Mappings: the profile's list, in order. */
static void build_mappings(struct build *b, const struct tsdb__phdr *h)
{
	const struct tsdb__symtab *st = b->st;
	struct pf_arena *a = b->a;
	pprof_msg *m = b->m;
	uint32_t old;
	size_t i;

	if (!h->nmapping)
		return;
	m->mapping = pf_arena_alloc(a, h->nmapping * sizeof(*m->mapping));
	for (i = 0; i < h->nmapping; i++) {
		const struct tsdb__st_mapping *sm = &st->maps[h->mapping[i]];
		Perftools__Profiles__Mapping *om = pf_arena_alloc(a, sizeof(*om));
		perftools__profiles__mapping__init(om);
		om->id = i + 1;
		om->memory_start = sm->start;
		om->memory_limit = sm->limit;
		om->file_offset = sm->offset;
		om->filename = out_str(&b->t, a, st, sm->file);
		om->build_id = out_str(&b->t, a, st, sm->build_id);
		om->has_functions = !!(sm->flags & TSDB__MAP_HAS_FUNCTIONS);
		om->has_filenames = !!(sm->flags & TSDB__MAP_HAS_FILENAMES);
		om->has_line_numbers = !!(sm->flags & TSDB__MAP_HAS_LINE_NUMBERS);
		om->has_inline_frames = !!(sm->flags & TSDB__MAP_HAS_INLINE_FRAMES);
		m->mapping[i] = om;
		pf_htab_put(&b->mapm, h->mapping[i], (uint32_t)(i + 1), &old);
	}
	m->n_mapping = h->nmapping;
}

/*
 * A sample's location ids, leaf first, from its stack (a node of the
 * symtab's stack tree). Samples with the same stack share one array.
 */
static int sample_stack(struct build *b, uint32_t stack, Perftools__Profiles__Sample *s,
			struct pf_err *err)
{
	const struct tsdb__symtab *st = b->st;
	const struct tsdb__st_node *nd = &st->nodes[stack];
	uint32_t node = stack, x;
	size_t k;

	if (!nd->depth)
		return 0;
	if (pf_htab_put(&b->stackm, stack, (uint32_t)b->nstp, &x)) {
		s->location_id = b->stackp[x];
		s->n_location_id = nd->depth;
		return 0;
	}
	if (nd->depth > TSDB__CODEC_MAX_FRAMES - b->frames)
		return pf_err_set(err, PF_ETOOBIG, "the stacks of the samples hold more than %zu location ids",
				  TSDB__CODEC_MAX_FRAMES);
	b->frames += nd->depth;
	s->location_id = pf_arena_alloc(b->a, nd->depth * sizeof(uint64_t));
	s->n_location_id = nd->depth;
	pf_xgrow((void **)&b->stackp, &b->stpcap, b->nstp + 1, sizeof(*b->stackp));
	b->stackp[b->nstp++] = s->location_id;
	for (k = 0; k < nd->depth; k++) {
		s->location_id[k] = use_loc(b, st->nodes[node].loc) + 1;
		node = st->nodes[node].parent;
	}
	return 0;
}

/* A sample's labels from its label set. Samples with the same set share one array. */
static void sample_labels(struct build *b, uint32_t lset, Perftools__Profiles__Sample *s)
{
	const struct tsdb__symtab *st = b->st;
	const struct tsdb__st_labelset *ls = &st->lsets[lset];
	struct pf_arena *a = b->a;
	uint32_t x;
	size_t k;

	if (!ls->n)
		return;
	if (!pf_htab_put(&b->lsm, lset, (uint32_t)b->nlsp, &x)) {
		Perftools__Profiles__Label **arr = pf_arena_alloc(a, ls->n * sizeof(*arr));
		Perftools__Profiles__Label *lb = pf_arena_alloc(a, ls->n * sizeof(*lb));
		for (k = 0; k < ls->n; k++) {
			const struct tsdb__st_label *sl = &st->labels[ls->off + k];
			perftools__profiles__label__init(&lb[k]);
			lb[k].key = out_str(&b->t, a, st, sl->key);
			lb[k].str = sl->str ? out_str(&b->t, a, st, sl->str) : 0;
			lb[k].num = sl->num;
			lb[k].num_unit = sl->unit ? out_str(&b->t, a, st, sl->unit) : 0;
			arr[k] = &lb[k];
		}
		pf_xgrow((void **)&b->lsetp, &b->lspcap, b->nlsp + 1, sizeof(*b->lsetp));
		b->lsetp[b->nlsp] = arr;
		x = (uint32_t)b->nlsp++;
	}
	s->label = b->lsetp[x];
	s->n_label = ls->n;
}

/*
 * Samples, in order: stack, values, labels. Locations are numbered in order
 * of first use by the samples, then the profile's unused ones (extra_loc).
 */
static int build_samples(struct build *b, const struct tsdb__phdr *h, size_t nrows,
			 const uint32_t *stacks, const uint32_t *lsets, const int64_t *vals,
			 struct pf_err *err)
{
	pprof_msg *m = b->m;
	size_t nt = h->nsample_type, i;
	int rc;

	if (nrows) {
		m->sample = pf_arena_alloc(b->a, nrows * sizeof(*m->sample));
		m->n_sample = nrows;
	}
	for (i = 0; i < nrows; i++) {
		Perftools__Profiles__Sample *s = pf_arena_alloc(b->a, sizeof(*s));
		perftools__profiles__sample__init(s);
		if ((rc = sample_stack(b, stacks[i], s, err)) < 0)
			return rc;
		if (nt) {
			s->value = pf_arena_alloc(b->a, nt * sizeof(int64_t));
			memcpy(s->value, vals + i * nt, nt * sizeof(int64_t));
			s->n_value = nt;
		}
		sample_labels(b, lsets[i], s);
		m->sample[i] = s;
	}
	for (i = 0; i < h->nextra_loc; i++)
		use_loc(b, h->extra_loc[i]);
	return 0;
}

/*
 * Locations, in their output order, with their lines. Functions are
 * numbered in order of first use by the lines, then the profile's unused
 * ones (extra_fn).
 */
static int build_locations(struct build *b, const struct tsdb__phdr *h, struct pf_err *err)
{
	const struct tsdb__symtab *st = b->st;
	struct pf_arena *a = b->a;
	pprof_msg *m = b->m;
	size_t i, k;

	if (b->nloc) {
		m->location = pf_arena_alloc(a, b->nloc * sizeof(*m->location));
		m->n_location = b->nloc;
	}
	for (i = 0; i < b->nloc; i++) {
		const struct tsdb__st_location *sl = &st->locs[b->locs[i]];
		Perftools__Profiles__Location *ol = pf_arena_alloc(a, sizeof(*ol));
		perftools__profiles__location__init(ol);
		ol->id = i + 1;
		ol->address = sl->address;
		ol->is_folded = sl->folded;
		if (sl->mapping) {
			uint32_t mi;
			if (!pf_htab_get(&b->mapm, sl->mapping - 1, &mi))
				return pf_err_set(err, PF_ECORRUPT,
						  "location %u refers to mapping %u, which is not in the profile's list",
						  b->locs[i], sl->mapping - 1);
			ol->mapping_id = mi;
		}
		if (sl->nline) {
			Perftools__Profiles__Line *ln = pf_arena_alloc(a, sl->nline * sizeof(*ln));
			ol->line = pf_arena_alloc(a, sl->nline * sizeof(*ol->line));
			ol->n_line = sl->nline;
			for (k = 0; k < sl->nline; k++) {
				const struct tsdb__st_line *sln = &st->lines[sl->line_off + k];
				perftools__profiles__line__init(&ln[k]);
				ln[k].line = sln->line;
				ln[k].column = sln->column;
				if (sln->fn)
					ln[k].function_id = use_fn(b, sln->fn - 1) + 1;
				ol->line[k] = &ln[k];
			}
		}
		m->location[i] = ol;
	}
	for (i = 0; i < h->nextra_fn; i++)
		use_fn(b, h->extra_fn[i]);
	return 0;
}

/* Functions, in their output order. */
static void build_functions(struct build *b)
{
	const struct tsdb__symtab *st = b->st;
	pprof_msg *m = b->m;
	size_t i;

	if (b->nfn) {
		m->function = pf_arena_alloc(b->a, b->nfn * sizeof(*m->function));
		m->n_function = b->nfn;
	}
	for (i = 0; i < b->nfn; i++) {
		const struct tsdb__st_function *sf = &st->fns[b->fns[i]];
		Perftools__Profiles__Function *of = pf_arena_alloc(b->a, sizeof(*of));
		perftools__profiles__function__init(of);
		of->id = i + 1;
		of->name = out_str(&b->t, b->a, st, sf->name);
		of->system_name = out_str(&b->t, b->a, st, sf->system_name);
		of->filename = out_str(&b->t, b->a, st, sf->file);
		of->start_line = sf->start_line;
		m->function[i] = of;
	}
}

/*
 * The steps run in this order because each numbers what it uses first: the
 * string table fills in the order header, mappings, sample labels,
 * functions; locations come from the samples, functions from the locations.
 */
int tsdb__build_pprof(const struct tsdb__symtab *st, const struct tsdb__phdr *h, size_t nrows,
		      const uint32_t *stacks, const uint32_t *lsets, const int64_t *vals,
		      struct pprof_profile **out, struct pf_err *err)
{
	struct build b;
	int rc;

	memset(&b, 0, sizeof(b));
	b.st = st;
	b.a = pf_arena_new();
	b.m = pf_arena_alloc(b.a, sizeof(*b.m));
	pf_htab_init(&b.t.map, 256);
	pf_htab_init(&b.mapm, h->nmapping);
	pf_htab_init(&b.locm, 1024);
	pf_htab_init(&b.fnm, 1024);
	pf_htab_init(&b.lsm, 64);
	pf_htab_init(&b.stackm, nrows);
	perftools__profiles__profile__init(b.m);
	out_str(&b.t, b.a, st, 0);

	build_header(&b, h);
	build_mappings(&b, h);
	if ((rc = build_samples(&b, h, nrows, stacks, lsets, vals, err)) < 0)
		goto fail;
	if ((rc = build_locations(&b, h, err)) < 0)
		goto fail;
	build_functions(&b);

	b.m->string_table = pf_arena_alloc(b.a, b.t.n * sizeof(char *));
	memcpy(b.m->string_table, b.t.v, b.t.n * sizeof(char *));
	b.m->n_string_table = b.t.n;
	rc = pprof_from_message(b.a, b.m, out, err);
	b.a = NULL; /* owned by *out, or freed */
	if (rc < 0) {
		/* what we rebuilt does not validate: the stored data is bad */
		if (err)
			err->code = PF_ECORRUPT;
		rc = PF_ECORRUPT;
	}
fail:
	pf_arena_free(b.a);
	pf_htab_free(&b.t.map);
	free(b.t.v);
	pf_htab_free(&b.mapm);
	pf_htab_free(&b.locm);
	pf_htab_free(&b.fnm);
	pf_htab_free(&b.lsm);
	free(b.locs);
	free(b.fns);
	free(b.lsetp);
	pf_htab_free(&b.stackm);
	free(b.stackp);
	return rc;
}
