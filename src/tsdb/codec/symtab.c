/*
 * The symbol table of the profile codec: one service's strings, mappings,
 * functions, locations, stack nodes and label sets within a block, each
 * kept once (deduplicated by content), with their serialized form.
 *
 * Format (version TSDB__SYMTAB_VERSION in format.h): docs/format/symtab.md,
 * byte by byte; the section framing shared with chunks is described there
 * too (tsdb__put_section, tsdb__get_section).
 */
#include "tsdb/codec/codec-internal.h"

#include <stdlib.h>
#include <sys/random.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#include "tsdb/format.h" /* TSDB__SYMTAB_MAGIC, TSDB__SYMTAB_VERSION */
/* ids are u32 and "+1" forms must fit too */
#define MAX_IDS ((size_t)UINT32_MAX - 1)

/* ---- keys and hashes ---------------------------------------------------- */

/* The hashes below only key the in-memory indexes (built afresh for every
 * table, never written), so any hash will do: XXH3, which takes about half
 * XXH64's time on these 8-100 byte keys. */

struct str_key {
	const char *s;
	size_t len;
};

static int str_eq(const void *ctx, const void *key, uint32_t id)
{
	const struct tsdb__symtab *st = ctx;
	const struct str_key *k = key;
	size_t len = st->soff[id + 1] - st->soff[id] - 1;
	return len == k->len && memcmp(st->sbytes + st->soff[id], k->s, len) == 0;
}

static uint64_t map_hash(const struct tsdb__st_mapping *m)
{
	uint8_t b[33];
	pf_put_le64(b, m->start);
	pf_put_le64(b + 8, m->limit);
	pf_put_le64(b + 16, m->offset);
	pf_put_le32(b + 24, m->file);
	pf_put_le32(b + 28, m->build_id);
	b[32] = m->flags;
	return XXH3_64bits_withSeed(b, sizeof(b), 1);
}

static int map_eq(const void *ctx, const void *key, uint32_t id)
{
	const struct tsdb__symtab *st = ctx;
	const struct tsdb__st_mapping *a = &st->maps[id], *b = key;
	return a->start == b->start && a->limit == b->limit && a->offset == b->offset &&
	       a->file == b->file && a->build_id == b->build_id && a->flags == b->flags;
}

static uint64_t fn_hash(const struct tsdb__st_function *f)
{
	uint8_t b[20];
	pf_put_le32(b, f->name);
	pf_put_le32(b + 4, f->system_name);
	pf_put_le32(b + 8, f->file);
	pf_put_le64(b + 12, (uint64_t)f->start_line);
	return XXH3_64bits_withSeed(b, sizeof(b), 2);
}

static int fn_eq(const void *ctx, const void *key, uint32_t id)
{
	const struct tsdb__symtab *st = ctx;
	const struct tsdb__st_function *a = &st->fns[id], *b = key;
	return a->name == b->name && a->system_name == b->system_name && a->file == b->file &&
	       a->start_line == b->start_line;
}

struct loc_key {
	uint64_t address;
	uint32_t mapping;
	uint8_t folded;
	const struct tsdb__st_line *lines;
	size_t nline;
};

static uint64_t loc_hash(const struct loc_key *k)
{
	uint64_t h = k->address * 0x9E3779B97F4A7C15ull ^ ((uint64_t)k->mapping << 8 | k->folded);
	h = XXH3_64bits_withSeed(&h, sizeof(h), 3);
	for (size_t i = 0; i < k->nline; i++) {
		uint8_t b[28];
		pf_put_le64(b, h);
		pf_put_le32(b + 8, k->lines[i].fn);
		pf_put_le64(b + 12, (uint64_t)k->lines[i].line);
		pf_put_le64(b + 20, (uint64_t)k->lines[i].column);
		h = XXH3_64bits_withSeed(b, sizeof(b), 4);
	}
	return h;
}

static int loc_eq(const void *ctx, const void *key, uint32_t id)
{
	const struct tsdb__symtab *st = ctx;
	const struct tsdb__st_location *a = &st->locs[id];
	const struct loc_key *b = key;
	if (a->address != b->address || a->mapping != b->mapping || a->folded != b->folded ||
	    a->nline != b->nline)
		return 0;
	for (size_t i = 0; i < b->nline; i++) {
		const struct tsdb__st_line *x = &st->lines[a->line_off + i], *y = &b->lines[i];
		if (x->fn != y->fn || x->line != y->line || x->column != y->column)
			return 0;
	}
	return 1;
}

struct lset_key {
	const struct tsdb__st_label *l;
	size_t n;
};

static uint64_t lset_hash(const struct lset_key *k)
{
	uint64_t h = XXH3_64bits_withSeed(&k->n, sizeof(k->n), 5);
	for (size_t i = 0; i < k->n; i++) {
		uint8_t b[28];
		pf_put_le64(b, h);
		pf_put_le32(b + 8, k->l[i].key);
		pf_put_le32(b + 12, k->l[i].str);
		pf_put_le32(b + 16, k->l[i].unit);
		pf_put_le64(b + 20, (uint64_t)k->l[i].num);
		h = XXH3_64bits_withSeed(b, sizeof(b), 6);
	}
	return h;
}

static int lset_eq(const void *ctx, const void *key, uint32_t id)
{
	const struct tsdb__symtab *st = ctx;
	const struct tsdb__st_labelset *a = &st->lsets[id];
	const struct lset_key *b = key;
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < b->n; i++) {
		const struct tsdb__st_label *x = &st->labels[a->off + i], *y = &b->l[i];
		if (x->key != y->key || x->str != y->str || x->unit != y->unit || x->num != y->num)
			return 0;
	}
	return 1;
}

/* ---- lifetime ----------------------------------------------------------- */

/* A nonce that differs between tables: the kernel's random bytes, mixed
 * with the time, pid and address in case getrandom cannot answer. */
static uint64_t make_nonce(const void *addr)
{
	uint64_t seed[4] = { 0 };
	if (getrandom(&seed[0], sizeof(seed[0]), GRND_NONBLOCK) != (ssize_t)sizeof(seed[0]))
		seed[0] = 0;
	seed[1] = (uint64_t)pf_now_ns() ^ (uint64_t)pf_mono_ns() << 17;
	seed[2] = (uint64_t)getpid();
	seed[3] = (uint64_t)(uintptr_t)addr;
	return pf_hash64(seed, sizeof(seed), 0x5EED);
}

/* Room for one more node; node 0 (the empty stack) always exists. */
static void init_root(struct tsdb__symtab *st)
{
	pf_xgrow((void **)&st->nodes, &st->nodecap, 1, sizeof(*st->nodes));
	memset(&st->nodes[0], 0, sizeof(st->nodes[0]));
	st->nnode = 1;
}

static struct tsdb__symtab *symtab_alloc(void)
{
	struct tsdb__symtab *st = pf_xcalloc(1, sizeof(*st));
	st->nonce = make_nonce(st);
	st->level = TSDB__CODEC_ZSTD_LEVEL;
	init_root(st);
	return st;
}

/* An empty table: string 0 is "", node 0 the empty stack. */
struct tsdb__symtab *tsdb__symtab_new(void)
{
	struct tsdb__symtab *st = symtab_alloc();
	tsdb__st_add_string(st, "", 0);
	return st;
}

void tsdb__symtab_free(struct tsdb__symtab *st)
{
	if (!st)
		return;
	free(st->sbytes);
	free(st->soff);
	free(st->maps);
	free(st->fns);
	free(st->locs);
	free(st->lines);
	free(st->nodes);
	free(st->lsets);
	free(st->labels);
	pf_htab_free(&st->istr);
	pf_htab_free(&st->imap);
	pf_htab_free(&st->ifn);
	pf_htab_free(&st->iloc);
	pf_htab_free(&st->inode);
	pf_htab_free(&st->istack);
	free(st->stk);
	free(st->stkloc);
	free(st->nodestk);
	pf_htab_free(&st->ilset);
	free(st);
}

void tsdb__symtab_set_level(struct tsdb__symtab *st, int level)
{
	st->level = PF_MAX(1, PF_MIN(level, 19));
}

uint64_t tsdb__symtab_nonce(const struct tsdb__symtab *st)
{
	return st->nonce;
}

void tsdb__symtab_stats(const struct tsdb__symtab *st, struct tsdb__symtab_stats *s)
{
	s->strings = st->nstr;
	s->mappings = st->nmap;
	s->functions = st->nfn;
	s->locations = st->nloc;
	s->lines = st->nline;
	s->nodes = st->nnode;
	s->labelsets = st->nlset;
}

/* ---- adding symbols ------------------------------------------------------ */

static uint64_t str_hash(const char *s, size_t len)
{
	return XXH3_64bits_withSeed(s, len, 7);
}

/* Build the dedup indexes over what the table holds (a table read from
 * bytes, or a new one). Duplicates (a forged table) keep the first id. */
static void build_index(struct tsdb__symtab *st)
{
	size_t i, slot;

	pf_htab_init(&st->istr, st->nstr);
	pf_htab_init(&st->imap, st->nmap);
	pf_htab_init(&st->ifn, st->nfn);
	pf_htab_init(&st->iloc, st->nloc);
	pf_htab_init(&st->ilset, st->nlset);
	pf_htab_init(&st->inode, st->nnode);
	pf_htab_init(&st->istack, 1024);
	for (i = 0; i < st->nstr; i++) {
		struct str_key k = { tsdb__st_str(st, (uint32_t)i), st->soff[i + 1] - st->soff[i] - 1 };
		uint64_t h = str_hash(k.s, k.len);
		if (!pf_htab_find(&st->istr, h, str_eq, st, &k, NULL, &slot))
			pf_htab_insert_at(&st->istr, slot, h, (uint32_t)i);
		else
			st->dups = 1;
	}
	for (i = 0; i < st->nmap; i++) {
		uint64_t h = map_hash(&st->maps[i]);
		if (!pf_htab_find(&st->imap, h, map_eq, st, &st->maps[i], NULL, &slot))
			pf_htab_insert_at(&st->imap, slot, h, (uint32_t)i);
	}
	for (i = 0; i < st->nfn; i++) {
		uint64_t h = fn_hash(&st->fns[i]);
		if (!pf_htab_find(&st->ifn, h, fn_eq, st, &st->fns[i], NULL, &slot))
			pf_htab_insert_at(&st->ifn, slot, h, (uint32_t)i);
		else
			st->dups = 1;
	}
	for (i = 0; i < st->nloc; i++) {
		const struct tsdb__st_location *l = &st->locs[i];
		struct loc_key k = { l->address, l->mapping, l->folded, st->lines + l->line_off,
				     l->nline };
		uint64_t h = loc_hash(&k);
		if (!pf_htab_find(&st->iloc, h, loc_eq, st, &k, NULL, &slot))
			pf_htab_insert_at(&st->iloc, slot, h, (uint32_t)i);
		else
			st->dups = 1;
	}
	for (i = 1; i < st->nnode; i++) {
		uint32_t old;
		uint64_t key = (uint64_t)st->nodes[i].parent << 32 | st->nodes[i].loc;
		pf_htab_put(&st->inode, key, (uint32_t)i, &old);
	}
	for (i = 0; i < st->nlset; i++) {
		struct lset_key k = { st->labels + st->lsets[i].off, st->lsets[i].n };
		uint64_t h = lset_hash(&k);
		if (!pf_htab_find(&st->ilset, h, lset_eq, st, &k, NULL, &slot))
			pf_htab_insert_at(&st->ilset, slot, h, (uint32_t)i);
	}
	st->indexed = 1;
}

static void ensure_index(struct tsdb__symtab *st)
{
	if (!st->indexed)
		build_index(st);
}

int64_t tsdb__st_add_string(struct tsdb__symtab *st, const char *s, size_t len)
{
	struct str_key k = { s, len };
	uint64_t h = str_hash(s, len);
	size_t slot, need;
	uint32_t id;

	ensure_index(st);
	if (pf_htab_find(&st->istr, h, str_eq, st, &k, &id, &slot))
		return id;
	if (st->nstr >= MAX_IDS || len >= UINT32_MAX || st->slen + len + 1 > UINT32_MAX)
		return PF_ETOOBIG;
	need = st->slen + len + 1;
	pf_xgrow((void **)&st->sbytes, &st->scap, need, 1);
	pf_xgrow((void **)&st->soff, &st->strcap, st->nstr + 2, sizeof(uint32_t));
	if (len)
		memcpy(st->sbytes + st->slen, s, len);
	st->sbytes[st->slen + len] = 0;
	st->soff[st->nstr] = (uint32_t)st->slen;
	st->slen = need;
	st->soff[st->nstr + 1] = (uint32_t)st->slen;
	pf_htab_insert_at(&st->istr, slot, h, (uint32_t)st->nstr);
	return (int64_t)st->nstr++;
}

int64_t tsdb__st_add_mapping(struct tsdb__symtab *st, const struct tsdb__st_mapping *m)
{
	uint64_t h = map_hash(m);
	size_t slot;
	uint32_t id;

	ensure_index(st);
	if (pf_htab_find(&st->imap, h, map_eq, st, m, &id, &slot))
		return id;
	if (st->nmap >= MAX_IDS)
		return PF_ETOOBIG;
	pf_xgrow((void **)&st->maps, &st->mapcap, st->nmap + 1, sizeof(*st->maps));
	st->maps[st->nmap] = *m;
	pf_htab_insert_at(&st->imap, slot, h, (uint32_t)st->nmap);
	return (int64_t)st->nmap++;
}

int64_t tsdb__st_add_function(struct tsdb__symtab *st, const struct tsdb__st_function *f)
{
	uint64_t h = fn_hash(f);
	size_t slot;
	uint32_t id;

	ensure_index(st);
	if (pf_htab_find(&st->ifn, h, fn_eq, st, f, &id, &slot))
		return id;
	if (st->nfn >= MAX_IDS)
		return PF_ETOOBIG;
	pf_xgrow((void **)&st->fns, &st->fncap, st->nfn + 1, sizeof(*st->fns));
	st->fns[st->nfn] = *f;
	pf_htab_insert_at(&st->ifn, slot, h, (uint32_t)st->nfn);
	return (int64_t)st->nfn++;
}

int64_t tsdb__st_add_location(struct tsdb__symtab *st, uint64_t address, uint32_t mapping,
			      uint8_t folded, const struct tsdb__st_line *lines, size_t nline)
{
	struct loc_key k = { address, mapping, folded, lines, nline };
	uint64_t h = loc_hash(&k);
	struct tsdb__st_location *l;
	size_t slot;
	uint32_t id;

	ensure_index(st);
	if (pf_htab_find(&st->iloc, h, loc_eq, st, &k, &id, &slot))
		return id;
	if (st->nloc >= MAX_IDS || nline > MAX_IDS - st->nline)
		return PF_ETOOBIG;
	pf_xgrow((void **)&st->locs, &st->loccap, st->nloc + 1, sizeof(*st->locs));
	pf_xgrow((void **)&st->lines, &st->linecap, st->nline + nline, sizeof(*st->lines));
	l = &st->locs[st->nloc];
	l->address = address;
	l->mapping = mapping;
	l->folded = folded;
	l->line_off = (uint32_t)st->nline;
	l->nline = (uint32_t)nline;
	if (nline)
		memcpy(st->lines + st->nline, lines, nline * sizeof(*lines));
	st->nline += nline;
	pf_htab_insert_at(&st->iloc, slot, h, (uint32_t)st->nloc);
	return (int64_t)st->nloc++;
}

/*
 * The hinted builders: the hint is the id to try first (a guess: the id
 * after the last one the caller got, since a series' profiles mostly
 * bring their symbols in the order the table first got them). It is taken
 * when its content is the same; a table with duplicates (only a forged
 * one read from bytes has them) always takes the index, which keeps the
 * first of them.
 */
int64_t tsdb__st_add_string_hint(struct tsdb__symtab *st, const char *s, size_t len, uint32_t hint)
{
	struct str_key k = { s, len };

	ensure_index(st);
	if (!st->dups && hint < st->nstr && str_eq(st, &k, hint))
		return hint;
	return tsdb__st_add_string(st, s, len);
}

int64_t tsdb__st_add_function_hint(struct tsdb__symtab *st, const struct tsdb__st_function *f,
				   uint32_t hint)
{
	ensure_index(st);
	if (!st->dups && hint < st->nfn && fn_eq(st, f, hint))
		return hint;
	return tsdb__st_add_function(st, f);
}

int64_t tsdb__st_add_location_hint(struct tsdb__symtab *st, uint64_t address, uint32_t mapping,
				   uint8_t folded, const struct tsdb__st_line *lines, size_t nline,
				   uint32_t hint)
{
	struct loc_key k = { address, mapping, folded, lines, nline };

	ensure_index(st);
	if (!st->dups && hint < st->nloc && loc_eq(st, &k, hint))
		return hint;
	return tsdb__st_add_location(st, address, mapping, folded, lines, nline);
}

int64_t tsdb__st_add_node(struct tsdb__symtab *st, uint32_t parent, uint32_t loc)
{
	uint64_t key = (uint64_t)parent << 32 | loc;
	uint32_t v;

	ensure_index(st);
	if (pf_htab_get(&st->inode, key, &v))
		return v;
	if (st->nnode >= MAX_IDS)
		return PF_ETOOBIG;
	pf_xgrow((void **)&st->nodes, &st->nodecap, st->nnode + 1, sizeof(*st->nodes));
	st->nodes[st->nnode].parent = parent;
	st->nodes[st->nnode].loc = loc;
	st->nodes[st->nnode].depth = st->nodes[parent].depth + 1;
	pf_htab_put(&st->inode, key, (uint32_t)st->nnode, &v);
	return (int64_t)st->nnode++;
}

int64_t tsdb__st_add_stack(struct tsdb__symtab *st, const uint32_t *locs, size_t n)
{
	/* XXH3: about twice XXH64's pace on a stack's 20-130 bytes (the
	 * hash only keys the cache, it is not written anywhere) */
	uint64_t h = XXH3_64bits_withSeed(locs, n * sizeof(uint32_t), 8);
	uint32_t node = 0, ix;
	int64_t id;

	ensure_index(st);
	/* most stacks were seen before: one lookup and a memcmp against the
	 * stack's locations, instead of one lookup per frame */
	if (pf_htab_get(&st->istack, h, &ix)) {
		const struct tsdb__st_stk *k = &st->stk[ix];
		if (k->n == n && (n == 0 || memcmp(st->stkloc + k->off, locs, n * sizeof(uint32_t)) == 0))
			return k->node;
	}
	for (size_t i = n; i-- > 0;) {
		if ((id = tsdb__st_add_node(st, node, locs[i])) < 0)
			return id;
		node = (uint32_t)id;
	}
	/* cached while the offsets fit (a cache: a stack left out is found
	 * through the nodes) */
	if (st->nstk < UINT32_MAX - 1 && n <= UINT32_MAX - st->nstkloc) {
		pf_xgrow((void **)&st->stk, &st->stkcap, st->nstk + 1, sizeof(*st->stk));
		pf_xgrow((void **)&st->stkloc, &st->stklcap, st->nstkloc + n + 1, sizeof(uint32_t));
		st->stk[st->nstk].node = node;
		st->stk[st->nstk].n = (uint32_t)n;
		st->stk[st->nstk].off = (uint32_t)st->nstkloc;
		if (n)
			memcpy(st->stkloc + st->nstkloc, locs, n * sizeof(uint32_t));
		st->nstkloc += n;
		if (node >= st->nnodestk) {
			pf_xgrow((void **)&st->nodestk, &st->nodestkcap, (size_t)node + 1,
				 sizeof(uint32_t));
			memset(st->nodestk + st->nnodestk, 0,
			       ((size_t)node + 1 - st->nnodestk) * sizeof(uint32_t));
			st->nnodestk = (size_t)node + 1;
		}
		st->nodestk[node] = (uint32_t)st->nstk + 1;
		pf_htab_set(&st->istack, h, (uint32_t)st->nstk++);
	}
	return node;
}

int64_t tsdb__st_add_stack_hint(struct tsdb__symtab *st, const uint32_t *locs, size_t n,
				uint32_t hint)
{
	if (hint < st->nnodestk && st->nodestk[hint]) {
		const struct tsdb__st_stk *k = &st->stk[st->nodestk[hint] - 1];
		if (k->n == n && (n == 0 || memcmp(st->stkloc + k->off, locs, n * sizeof(uint32_t)) == 0))
			return hint;
	}
	return tsdb__st_add_stack(st, locs, n);
}

int64_t tsdb__st_add_labelset(struct tsdb__symtab *st, const struct tsdb__st_label *l, size_t n)
{
	struct lset_key k = { l, n };
	uint64_t h = lset_hash(&k);
	size_t slot;
	uint32_t id;

	ensure_index(st);
	if (pf_htab_find(&st->ilset, h, lset_eq, st, &k, &id, &slot))
		return id;
	if (st->nlset >= MAX_IDS || n > MAX_IDS - st->nlabel)
		return PF_ETOOBIG;
	pf_xgrow((void **)&st->lsets, &st->lsetcap, st->nlset + 1, sizeof(*st->lsets));
	pf_xgrow((void **)&st->labels, &st->labelcap, st->nlabel + n, sizeof(*st->labels));
	st->lsets[st->nlset].off = (uint32_t)st->nlabel;
	st->lsets[st->nlset].n = (uint32_t)n;
	if (n)
		memcpy(st->labels + st->nlabel, l, n * sizeof(*l));
	st->nlabel += n;
	pf_htab_insert_at(&st->ilset, slot, h, (uint32_t)st->nlset);
	return (int64_t)st->nlset++;
}

/* ---- sections ------------------------------------------------------------ */

int tsdb__put_section(struct pf_buf *out, const struct pf_buf *raw, void *zctx, int level,
		      struct pf_err *err)
{
	size_t bound = ZSTD_compressBound(raw->len), start = out->len, clen = 0;
	ZSTD_CCtx *cc = zctx;
	uint8_t *tmp = NULL;
	int rc;

	if (raw->len > TSDB__CODEC_MAX_COLUMN)
		return pf_err_set(err, PF_ETOOBIG, "a column of %zu bytes is larger than the %zu byte limit",
				  raw->len, TSDB__CODEC_MAX_COLUMN);
	if (raw->len >= 16 && cc) {
		size_t r;
		if (!(tmp = malloc(bound)))
			return pf_err_set(err, PF_ENOMEM, "cannot allocate %zu bytes to compress a column", bound);
		ZSTD_CCtx_reset(cc, ZSTD_reset_session_and_parameters);
		ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, level);
		ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 0);
		ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 1);
		r = ZSTD_compress2(cc, tmp, bound, raw->data, raw->len);
		if (ZSTD_isError(r)) {
			free(tmp);
			return pf_err_set(err, PF_ENOMEM, "zstd: %s", ZSTD_getErrorName(r));
		}
		clen = r;
	}
	if ((rc = pf_buf_put_uvarint(out, raw->len)) < 0)
		goto fail;
	if (tmp && clen < raw->len) {
		if ((rc = pf_buf_putc(out, 1)) < 0 || (rc = pf_buf_put_bytes(out, tmp, clen)) < 0)
			goto fail;
	} else {
		if ((rc = pf_buf_putc(out, 0)) < 0 || (rc = pf_buf_put_bytes(out, raw->data, raw->len)) < 0)
			goto fail;
	}
	free(tmp);
	return 0;
fail:
	free(tmp);
	out->len = start;
	return pf_err_set(err, rc, "cannot append a column of %zu bytes: %s", raw->len, pf_strerror(rc));
}

void *tsdb__zctx_new(void)
{
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	if (!cc) {
		fprintf(stderr, "profefe: cannot create a zstd context\n");
		abort();
	}
	return cc;
}

void tsdb__zctx_free(void *zctx)
{
	ZSTD_freeCCtx(zctx);
}

/* Decompress one zstd frame of exactly rawlen bytes. The output grows only
 * as zstd really produces it (never to a forged length up front), up to
 * rawlen + 1 bytes so that anything longer than declared is caught. */
static int unzstd(const uint8_t *src, size_t n, size_t rawlen, const char *what, uint8_t **data,
		  struct pf_err *err)
{
	ZSTD_DCtx *dc = ZSTD_createDCtx();
	ZSTD_inBuffer in = { src, n, 0 };
	size_t limit = rawlen + 1, cap = PF_MIN(limit, n * 8 + 65536), len = 0, r;
	uint8_t *buf = NULL;
	int rc = 0;

	if (!dc)
		return pf_err_set(err, PF_ENOMEM, "cannot create a zstd context");
	/* what we write never needs more (level <= 19 uses at most 2^23) */
	ZSTD_DCtx_setParameter(dc, ZSTD_d_windowLogMax, 24);
	if (!(buf = malloc(cap))) {
		rc = pf_err_set(err, PF_ENOMEM, "cannot allocate %zu bytes for %s", cap, what);
		goto fail;
	}
	for (;;) {
		ZSTD_outBuffer o = { buf, cap, len };
		size_t in0 = in.pos;
		r = ZSTD_decompressStream(dc, &o, &in);
		if (ZSTD_isError(r)) {
			rc = pf_err_set(err, PF_ECORRUPT, "%s: zstd: %s", what, ZSTD_getErrorName(r));
			goto fail;
		}
		if (r == 0) {
			len = o.pos;
			break; /* frame complete */
		}
		if (o.pos == cap) {
			size_t ncap;
			uint8_t *nb;
			len = o.pos;
			if (cap == limit) {
				rc = pf_err_set(err, PF_ECORRUPT,
						"%s decompresses to more than its declared %zu bytes", what, rawlen);
				goto fail;
			}
			ncap = cap > limit / 2 ? limit : cap * 2;
			if (!(nb = realloc(buf, ncap))) {
				rc = pf_err_set(err, PF_ENOMEM, "cannot allocate %zu bytes for %s", ncap, what);
				goto fail;
			}
			buf = nb;
			cap = ncap;
			continue;
		}
		if (in.pos == in.size || (in.pos == in0 && o.pos == len)) {
			rc = pf_err_set(err, PF_ECORRUPT, "%s: zstd frame is truncated", what);
			goto fail;
		}
		len = o.pos;
	}
	if (in.pos != in.size || len != rawlen) {
		rc = pf_err_set(err, PF_ECORRUPT,
				"%s decompresses to %zu bytes using %zu of %zu stored bytes, not to the declared %zu",
				what, len, in.pos, in.size, rawlen);
		goto fail;
	}
	ZSTD_freeDCtx(dc);
	*data = buf;
	return 0;
fail:
	ZSTD_freeDCtx(dc);
	free(buf);
	return rc;
}

int tsdb__get_section(struct pf_reader *r, const uint8_t *base, const char *what, uint8_t **data,
		      size_t *len, struct pf_err *err)
{
	size_t off = (size_t)(r->p - base), n;
	uint64_t rawlen = pf_read_uvarint(r);
	uint8_t method = pf_read_u8(r);
	const uint8_t *p = pf_read_bytes(r, &n);

	*data = NULL;
	*len = 0;
	if (r->bad)
		return pf_err_set(err, PF_ECORRUPT, "%s at offset %zu is truncated", what, off);
	if (rawlen > TSDB__CODEC_MAX_COLUMN)
		return pf_err_set(err, PF_ECORRUPT, "%s at offset %zu declares %llu bytes (limit %zu)",
				  what, off, (unsigned long long)rawlen, TSDB__CODEC_MAX_COLUMN);
	if (method == 0) {
		if (n != rawlen)
			return pf_err_set(err, PF_ECORRUPT,
					  "%s at offset %zu stores %zu bytes, not the declared %llu", what,
					  off, n, (unsigned long long)rawlen);
		if (!(*data = malloc(n ? n : 1)))
			return pf_err_set(err, PF_ENOMEM, "cannot allocate %zu bytes for %s", n, what);
		if (n)
			memcpy(*data, p, n);
		*len = n;
		return 0;
	}
	if (method != 1)
		return pf_err_set(err, PF_ECORRUPT, "%s at offset %zu has unknown method %u", what, off,
				  method);
	{
		char w[96];
		int rc;
		snprintf(w, sizeof(w), "%s at offset %zu", what, off);
		if ((rc = unzstd(p, n, (size_t)rawlen, w, data, err)) < 0)
			return rc;
	}
	*len = (size_t)rawlen;
	if (!*data && !(*data = malloc(1)))
		return pf_err_set(err, PF_ENOMEM, "cannot allocate a byte for %s", what);
	return 0;
}

/* ---- write --------------------------------------------------------------- */

#define PUT(b, v)                                              \
	do {                                                   \
		if ((rc = pf_buf_put_uvarint((b), (v))) < 0)    \
			goto fail;                             \
	} while (0)

static int write_strings(const struct tsdb__symtab *st, struct pf_buf *b)
{
	int rc;
	PUT(b, st->nstr);
	for (size_t i = 0; i < st->nstr; i++)
		PUT(b, st->soff[i + 1] - st->soff[i] - 1);
	for (size_t i = 0; i < st->nstr; i++)
		if ((rc = pf_buf_append(b, tsdb__st_str(st, (uint32_t)i),
					st->soff[i + 1] - st->soff[i] - 1)) < 0)
			goto fail;
	return 0;
fail:
	return rc;
}

static int write_mappings(const struct tsdb__symtab *st, struct pf_buf *b)
{
	int rc;
	PUT(b, st->nmap);
	for (size_t i = 0; i < st->nmap; i++) {
		const struct tsdb__st_mapping *m = &st->maps[i];
		PUT(b, m->start);
		PUT(b, m->limit - m->start);
		PUT(b, m->offset);
		PUT(b, m->file);
		PUT(b, m->build_id);
		PUT(b, m->flags);
	}
	return 0;
fail:
	return rc;
}

static int write_functions(const struct tsdb__symtab *st, struct pf_buf *b)
{
	int64_t prev = 0;
	int rc;
	size_t i;

	PUT(b, st->nfn);
	for (i = 0; i < st->nfn; i++) {
		PUT(b, pf_zigzag((int64_t)st->fns[i].name - prev));
		prev = st->fns[i].name;
	}
	for (i = 0; i < st->nfn; i++)
		PUT(b, st->fns[i].system_name == st->fns[i].name ? 0 : (uint64_t)st->fns[i].system_name + 1);
	prev = 0;
	for (i = 0; i < st->nfn; i++) {
		PUT(b, pf_zigzag((int64_t)st->fns[i].file - prev));
		prev = st->fns[i].file;
	}
	for (i = 0; i < st->nfn; i++)
		PUT(b, pf_zigzag(st->fns[i].start_line));
	return 0;
fail:
	return rc;
}

static int write_locations(const struct tsdb__symtab *st, struct pf_buf *b)
{
	uint64_t prev = 0, *lastaddr = pf_xcalloc(st->nfn + 1, sizeof(uint64_t));
	int64_t *lastline = pf_xcalloc(st->nfn + 1, sizeof(int64_t));
	uint32_t maxf = 0;
	int rc;
	size_t i, j;

	PUT(b, st->nloc);
	for (i = 0; i < st->nloc; i++)
		PUT(b, st->locs[i].mapping);
	for (i = 0; i < st->nloc; i++)
		PUT(b, (uint64_t)st->locs[i].nline << 1 | st->locs[i].folded);
	for (i = 0; i < st->nline; i++) {
		uint32_t f = st->lines[i].fn;
		PUT(b, f == maxf + 1 ? 0 : (uint64_t)f + 1);
		maxf = PF_MAX(maxf, f);
	}
	for (i = 0; i < st->nline; i++) {
		const struct tsdb__st_line *ln = &st->lines[i];
		PUT(b, pf_zigzag((int64_t)((uint64_t)ln->line - (uint64_t)lastline[ln->fn])));
		lastline[ln->fn] = ln->line;
	}
	for (i = 0; i < st->nline; i++)
		PUT(b, pf_zigzag(st->lines[i].column));
	for (i = 0; i < st->nloc; i++) {
		const struct tsdb__st_location *l = &st->locs[i];
		uint32_t f = l->nline ? st->lines[l->line_off + l->nline - 1].fn : 0;
		uint64_t base = f && lastaddr[f] ? lastaddr[f] : prev;
		PUT(b, pf_zigzag((int64_t)(l->address - base)));
		prev = l->address;
		if (f)
			lastaddr[f] = l->address;
	}
	(void)j;
	rc = 0;
fail:
	free(lastaddr);
	free(lastline);
	return rc;
}

static int write_nodes(const struct tsdb__symtab *st, struct pf_buf *b)
{
	uint64_t next = 0;
	int rc;
	size_t i;

	PUT(b, st->nnode - 1);
	for (i = 1; i < st->nnode; i++)
		PUT(b, i - st->nodes[i].parent);
	/* locations: 0 for the next location never used by a node before
	 * (a new stack brings its new locations in order), else id + 1 */
	for (i = 1; i < st->nnode; i++) {
		uint32_t l = st->nodes[i].loc;
		PUT(b, l == next ? 0 : (uint64_t)l + 1);
		if (l == next)
			next++;
	}
	return 0;
fail:
	return rc;
}

static int write_labelsets(const struct tsdb__symtab *st, struct pf_buf *b)
{
	int rc;

	PUT(b, st->nlset);
	for (size_t i = 0; i < st->nlset; i++) {
		const struct tsdb__st_labelset *s = &st->lsets[i];
		PUT(b, s->n);
		for (size_t j = 0; j < s->n; j++) {
			const struct tsdb__st_label *l = &st->labels[s->off + j];
			PUT(b, l->key);
			PUT(b, l->str);
			PUT(b, pf_zigzag(l->num));
			PUT(b, l->unit);
		}
	}
	return 0;
fail:
	return rc;
}

#undef PUT

typedef int (*write_fn)(const struct tsdb__symtab *st, struct pf_buf *b);

int tsdb__symtab_write(const struct tsdb__symtab *st, struct pf_buf *out, struct pf_err *err)
{
	static const write_fn writers[] = { write_strings, write_mappings, write_functions,
					    write_locations, write_nodes, write_labelsets };
	struct pf_buf sec = PF_BUF_INIT(TSDB__CODEC_MAX_COLUMN);
	void *zctx = tsdb__zctx_new();
	size_t start = out->len;
	uint8_t hdr[16];
	int rc;

	pf_put_le32(hdr, TSDB__SYMTAB_MAGIC);
	pf_put_le32(hdr + 4, TSDB__SYMTAB_VERSION);
	pf_put_le64(hdr + 8, st->nonce);
	if ((rc = pf_buf_append(out, hdr, sizeof(hdr))) < 0) {
		rc = pf_err_set(err, rc, "cannot append the symbol table: %s", pf_strerror(rc));
		goto fail;
	}
	for (size_t i = 0; i < PF_ARRAY_LEN(writers); i++) {
		pf_buf_reset(&sec);
		if ((rc = writers[i](st, &sec)) < 0) {
			rc = pf_err_set(err, rc, "symbol table section %zu: %s", i, pf_strerror(rc));
			goto fail;
		}
		if ((rc = tsdb__put_section(out, &sec, zctx, st->level, err)) < 0)
			goto fail;
	}
	{
		uint8_t c[4];
		pf_put_le32(c, pf_crc32c(0, out->data + start, out->len - start));
		if ((rc = pf_buf_append(out, c, 4)) < 0) {
			rc = pf_err_set(err, rc, "cannot append the symbol table: %s", pf_strerror(rc));
			goto fail;
		}
	}
	pf_buf_free(&sec);
	tsdb__zctx_free(zctx);
	return 0;
fail:
	pf_buf_free(&sec);
	tsdb__zctx_free(zctx);
	out->len = start;
	return rc;
}

/* ---- read ---------------------------------------------------------------- */

/* A count read from a section: at most the bytes left (each item takes at
 * least min_bytes) and below the id limit. */
static int read_count(struct pf_reader *r, size_t min_bytes, const char *what, size_t *n,
		      struct pf_err *err)
{
	uint64_t v = pf_read_uvarint(r);
	if (r->bad)
		return pf_err_set(err, PF_ECORRUPT, "symbol table %s: count is truncated", what);
	if (v > MAX_IDS || v * min_bytes > pf_reader_left(r))
		return pf_err_set(err, PF_ECORRUPT,
				  "symbol table %s: count %llu does not fit in the %zu bytes left", what,
				  (unsigned long long)v, pf_reader_left(r));
	*n = (size_t)v;
	return 0;
}

/* A string id read from a section, checked against the table. */
static int read_str(const struct tsdb__symtab *st, uint64_t v, const char *what, size_t i,
		    uint32_t *out, struct pf_err *err)
{
	if (v >= st->nstr)
		return pf_err_set(err, PF_ECORRUPT,
				  "symbol table %s %zu: string %llu out of range (%zu strings)", what, i,
				  (unsigned long long)v, st->nstr);
	*out = (uint32_t)v;
	return 0;
}

#define TRY(x)                     \
	do {                       \
		if ((rc = (x)) < 0) \
			return rc; \
	} while (0)
#define TRUNC(what)                                                                       \
	do {                                                                              \
		if (r->bad)                                                               \
			return pf_err_set(err, PF_ECORRUPT, "symbol table %s: truncated", what); \
	} while (0)

static int read_strings(struct tsdb__symtab *st, struct pf_reader *r, struct pf_err *err)
{
	size_t n, i, total = 0;
	int rc;

	TRY(read_count(r, 1, "strings", &n, err));
	if (n == 0)
		return pf_err_set(err, PF_ECORRUPT, "symbol table strings: no string 0");
	st->soff = malloc((n + 1) * sizeof(uint32_t));
	if (!st->soff)
		return pf_err_set(err, PF_ENOMEM, "cannot allocate %zu string offsets", n);
	st->strcap = n + 1;
	for (i = 0; i < n; i++) {
		uint64_t len = pf_read_uvarint(r);
		TRUNC("strings");
		if (len > pf_reader_left(r) || total + len + 1 > UINT32_MAX)
			return pf_err_set(err, PF_ECORRUPT, "symbol table string %zu: length %llu too long",
					  i, (unsigned long long)len);
		st->soff[i] = (uint32_t)total;
		total += len + 1;
	}
	st->soff[n] = (uint32_t)total;
	if (total - n != pf_reader_left(r))
		return pf_err_set(err, PF_ECORRUPT,
				  "symbol table strings: lengths add up to %zu bytes but %zu are stored",
				  total - n, pf_reader_left(r));
	if (!(st->sbytes = malloc(total)))
		return pf_err_set(err, PF_ENOMEM, "cannot allocate %zu bytes of strings", total);
	st->scap = st->slen = total;
	for (i = 0; i < n; i++) {
		size_t len = st->soff[i + 1] - st->soff[i] - 1;
		const uint8_t *p = pf_read_raw(r, len);
		TRUNC("strings");
		if (len && memchr(p, 0, len))
			return pf_err_set(err, PF_ECORRUPT, "symbol table string %zu holds a NUL byte", i);
		memcpy(st->sbytes + st->soff[i], p, len);
		st->sbytes[st->soff[i] + len] = 0;
	}
	st->nstr = n;
	if (st->soff[1] != 1)
		return pf_err_set(err, PF_ECORRUPT, "symbol table string 0 is not empty");
	return 0;
}

static int read_mappings(struct tsdb__symtab *st, struct pf_reader *r, struct pf_err *err)
{
	size_t n;
	int rc;

	TRY(read_count(r, 6, "mappings", &n, err));
	if (n && !(st->maps = malloc(n * sizeof(*st->maps))))
		return pf_err_set(err, PF_ENOMEM, "cannot allocate %zu mappings", n);
	st->mapcap = n;
	for (size_t i = 0; i < n; i++) {
		struct tsdb__st_mapping *m = &st->maps[i];
		uint64_t f, b, fl;
		m->start = pf_read_uvarint(r);
		m->limit = m->start + pf_read_uvarint(r);
		m->offset = pf_read_uvarint(r);
		f = pf_read_uvarint(r);
		b = pf_read_uvarint(r);
		fl = pf_read_uvarint(r);
		TRUNC("mappings");
		TRY(read_str(st, f, "mapping", i, &m->file, err));
		TRY(read_str(st, b, "mapping", i, &m->build_id, err));
		if (fl > 15)
			return pf_err_set(err, PF_ECORRUPT, "symbol table mapping %zu: bad flags %llu", i,
					  (unsigned long long)fl);
		m->flags = (uint8_t)fl;
	}
	st->nmap = n;
	return 0;
}

static int read_functions(struct tsdb__symtab *st, struct pf_reader *r, struct pf_err *err)
{
	size_t n, i;
	int64_t prev = 0;
	int rc;

	TRY(read_count(r, 4, "functions", &n, err));
	if (n && !(st->fns = malloc(n * sizeof(*st->fns))))
		return pf_err_set(err, PF_ENOMEM, "cannot allocate %zu functions", n);
	st->fncap = n;
	for (i = 0; i < n; i++) {
		int64_t v = (int64_t)((uint64_t)prev + (uint64_t)pf_unzigzag(pf_read_uvarint(r)));
		TRUNC("functions");
		TRY(read_str(st, (uint64_t)v, "function", i, &st->fns[i].name, err));
		prev = v;
	}
	for (i = 0; i < n; i++) {
		uint64_t v = pf_read_uvarint(r);
		TRUNC("functions");
		if (v == 0)
			st->fns[i].system_name = st->fns[i].name;
		else
			TRY(read_str(st, v - 1, "function", i, &st->fns[i].system_name, err));
	}
	prev = 0;
	for (i = 0; i < n; i++) {
		int64_t v = (int64_t)((uint64_t)prev + (uint64_t)pf_unzigzag(pf_read_uvarint(r)));
		TRUNC("functions");
		TRY(read_str(st, (uint64_t)v, "function", i, &st->fns[i].file, err));
		prev = v;
	}
	for (i = 0; i < n; i++)
		st->fns[i].start_line = pf_unzigzag(pf_read_uvarint(r));
	TRUNC("functions");
	st->nfn = n;
	return 0;
}

static int read_locations(struct tsdb__symtab *st, struct pf_reader *r, struct pf_err *err)
{
	size_t n, i, nline = 0;
	uint64_t prev = 0, *lastaddr = NULL;
	int64_t *lastline = NULL;
	uint32_t maxf = 0;
	int rc = 0;

#define BAD(...)                                                 \
	do {                                                     \
		rc = pf_err_set(err, PF_ECORRUPT, __VA_ARGS__); \
		goto out;                                        \
	} while (0)
	if ((rc = read_count(r, 6, "locations", &n, err)) < 0)
		return rc;
	if (n && !(st->locs = malloc(n * sizeof(*st->locs))))
		return pf_err_set(err, PF_ENOMEM, "cannot allocate %zu locations", n);
	st->loccap = n;
	lastaddr = pf_xcalloc(st->nfn + 1, sizeof(uint64_t));
	lastline = pf_xcalloc(st->nfn + 1, sizeof(int64_t));
	for (i = 0; i < n; i++) {
		uint64_t v = pf_read_uvarint(r);
		if (r->bad)
			BAD("symbol table locations: truncated");
		if (v > st->nmap)
			BAD("symbol table location %zu: mapping %llu out of range (%zu mappings)", i,
			    (unsigned long long)v - 1, st->nmap);
		st->locs[i].mapping = (uint32_t)v;
	}
	for (i = 0; i < n; i++) {
		uint64_t v = pf_read_uvarint(r);
		if (r->bad)
			BAD("symbol table locations: truncated");
		/* each line takes at least 3 bytes */
		if ((v >> 1) > pf_reader_left(r) / 3 || nline + (v >> 1) > MAX_IDS)
			BAD("symbol table location %zu: %llu lines do not fit in the bytes left", i,
			    (unsigned long long)(v >> 1));
		st->locs[i].folded = (uint8_t)(v & 1);
		st->locs[i].nline = (uint32_t)(v >> 1);
		st->locs[i].line_off = (uint32_t)nline;
		nline += v >> 1;
	}
	if (nline > pf_reader_left(r) / 3)
		BAD("symbol table locations: %zu lines do not fit in the %zu bytes left", nline,
		    pf_reader_left(r));
	if (nline && !(st->lines = malloc(nline * sizeof(*st->lines)))) {
		rc = pf_err_set(err, PF_ENOMEM, "cannot allocate %zu lines", nline);
		goto out;
	}
	st->linecap = nline;
	for (i = 0; i < nline; i++) {
		uint64_t c = pf_read_uvarint(r), f = c == 0 ? (uint64_t)maxf + 1 : c - 1;
		if (r->bad)
			BAD("symbol table locations: truncated");
		if (f > st->nfn)
			BAD("symbol table line %zu: function %llu out of range (%zu functions)", i,
			    (unsigned long long)f - 1, st->nfn);
		st->lines[i].fn = (uint32_t)f;
		maxf = PF_MAX(maxf, (uint32_t)f);
	}
	for (i = 0; i < nline; i++) {
		struct tsdb__st_line *ln = &st->lines[i];
		ln->line = (int64_t)((uint64_t)lastline[ln->fn] + (uint64_t)pf_unzigzag(pf_read_uvarint(r)));
		lastline[ln->fn] = ln->line;
	}
	for (i = 0; i < nline; i++)
		st->lines[i].column = pf_unzigzag(pf_read_uvarint(r));
	for (i = 0; i < n; i++) {
		struct tsdb__st_location *l = &st->locs[i];
		uint32_t f = l->nline ? st->lines[l->line_off + l->nline - 1].fn : 0;
		uint64_t base = f && lastaddr[f] ? lastaddr[f] : prev;
		l->address = base + (uint64_t)pf_unzigzag(pf_read_uvarint(r));
		prev = l->address;
		if (f)
			lastaddr[f] = l->address;
	}
	if (r->bad)
		BAD("symbol table locations: truncated");
#undef BAD
	st->nline = nline;
	st->nloc = n;
out:
	free(lastaddr);
	free(lastline);
	return rc;
}

static int read_nodes(struct tsdb__symtab *st, struct pf_reader *r, struct pf_err *err)
{
	uint64_t next = 0;
	size_t n, i;
	int rc;

	TRY(read_count(r, 2, "nodes", &n, err));
	if (n >= MAX_IDS)
		return pf_err_set(err, PF_ECORRUPT, "symbol table nodes: too many");
	{
		struct tsdb__st_node *nn = realloc(st->nodes, (n + 1) * sizeof(*st->nodes));
		if (!nn)
			return pf_err_set(err, PF_ENOMEM, "cannot allocate %zu stack nodes", n);
		st->nodes = nn;
		st->nodecap = n + 1;
	}
	for (i = 1; i <= n; i++) {
		uint64_t d = pf_read_uvarint(r);
		TRUNC("nodes");
		if (d == 0 || d > i)
			return pf_err_set(err, PF_ECORRUPT,
					  "symbol table node %zu: parent distance %llu out of range", i,
					  (unsigned long long)d);
		st->nodes[i].parent = (uint32_t)(i - d);
		st->nodes[i].depth = st->nodes[i - d].depth + 1;
	}
	for (i = 1; i <= n; i++) {
		uint64_t c = pf_read_uvarint(r), l = c == 0 ? next++ : c - 1;
		TRUNC("nodes");
		if (l >= st->nloc)
			return pf_err_set(err, PF_ECORRUPT,
					  "symbol table node %zu: location %llu out of range (%zu locations)",
					  i, (unsigned long long)l, st->nloc);
		st->nodes[i].loc = (uint32_t)l;
	}
	st->nnode = n + 1;
	return 0;
}

static int read_labelsets(struct tsdb__symtab *st, struct pf_reader *r, struct pf_err *err)
{
	size_t n, i;
	int rc;

	TRY(read_count(r, 1, "label sets", &n, err));
	if (n && !(st->lsets = malloc(n * sizeof(*st->lsets))))
		return pf_err_set(err, PF_ENOMEM, "cannot allocate %zu label sets", n);
	st->lsetcap = n;
	for (i = 0; i < n; i++) {
		uint64_t k = pf_read_uvarint(r);
		TRUNC("label sets");
		/* each label takes at least 4 bytes */
		if (k > pf_reader_left(r) / 4)
			return pf_err_set(err, PF_ECORRUPT,
					  "symbol table label set %zu: %llu labels do not fit in the bytes left",
					  i, (unsigned long long)k);
		if (st->nlabel + k > st->labelcap) {
			size_t cap = PF_MAX(st->labelcap * 2, st->nlabel + (size_t)k);
			struct tsdb__st_label *nl = realloc(st->labels, cap * sizeof(*nl));
			if (!nl)
				return pf_err_set(err, PF_ENOMEM, "cannot allocate %zu labels", cap);
			st->labels = nl;
			st->labelcap = cap;
		}
		st->lsets[i].off = (uint32_t)st->nlabel;
		st->lsets[i].n = (uint32_t)k;
		for (size_t j = 0; j < k; j++) {
			struct tsdb__st_label *l = &st->labels[st->nlabel + j];
			uint64_t key = pf_read_uvarint(r), s = pf_read_uvarint(r), num, u;
			num = pf_read_uvarint(r);
			u = pf_read_uvarint(r);
			TRUNC("label sets");
			TRY(read_str(st, key, "label set", i, &l->key, err));
			TRY(read_str(st, s, "label set", i, &l->str, err));
			TRY(read_str(st, u, "label set", i, &l->unit, err));
			l->num = pf_unzigzag(num);
		}
		st->nlabel += k;
		st->nlset = i + 1;
	}
	st->nlset = n;
	return 0;
}

#undef TRY
#undef TRUNC

typedef int (*read_fn)(struct tsdb__symtab *st, struct pf_reader *r, struct pf_err *err);

int tsdb__symtab_read(const void *p, size_t n, struct tsdb__symtab **out, struct pf_err *err)
{
	static const read_fn readers[] = { read_strings, read_mappings, read_functions,
					   read_locations, read_nodes, read_labelsets };
	static const char *const names[] = { "strings", "mappings", "functions",
					     "locations", "nodes", "label sets" };
	const uint8_t *b = p;
	struct tsdb__symtab *st = NULL;
	struct pf_reader r;
	uint32_t v;
	int rc;

	*out = NULL;
	if (n < 20)
		return pf_err_set(err, PF_ECORRUPT, "symbol table of %zu bytes is too short", n);
	if (pf_get_le32(b) != TSDB__SYMTAB_MAGIC)
		return pf_err_set(err, PF_ECORRUPT, "symbol table: bad magic %08x at offset 0",
				  pf_get_le32(b));
	if (pf_crc32c(0, b, n - 4) != pf_get_le32(b + n - 4))
		return pf_err_set(err, PF_ECORRUPT, "symbol table: CRC32C mismatch at offset %zu", n - 4);
	if ((v = pf_get_le32(b + 4)) > TSDB__SYMTAB_VERSION)
		return pf_err_set(err, PF_ENEWER,
				  "symbol table: format version %u, this profefe reads up to %u", v,
				  TSDB__SYMTAB_VERSION);
	if (v != TSDB__SYMTAB_VERSION)
		return pf_err_set(err, PF_ECORRUPT, "symbol table: unknown version %u at offset 4", v);
	st = pf_xcalloc(1, sizeof(*st));
	st->nonce = pf_get_le64(b + 8);
	st->level = TSDB__CODEC_ZSTD_LEVEL;
	init_root(st);
	pf_reader_init(&r, b + 16, n - 20);
	for (size_t i = 0; i < PF_ARRAY_LEN(readers); i++) {
		struct pf_reader sr;
		uint8_t *data;
		size_t len;
		char what[64];

		snprintf(what, sizeof(what), "symbol table section %s", names[i]);
		if ((rc = tsdb__get_section(&r, b, what, &data, &len, err)) < 0)
			goto fail;
		pf_reader_init(&sr, data, len);
		rc = readers[i](st, &sr, err);
		if (rc == 0 && pf_reader_left(&sr) != 0)
			rc = pf_err_set(err, PF_ECORRUPT, "%s: %zu bytes left over", what,
					pf_reader_left(&sr));
		free(data);
		if (rc < 0)
			goto fail;
	}
	if (pf_reader_left(&r) != 0) {
		rc = pf_err_set(err, PF_ECORRUPT, "symbol table: %zu bytes left over before the CRC",
				pf_reader_left(&r));
		goto fail;
	}
	*out = st;
	return 0;
fail:
	tsdb__symtab_free(st);
	return rc;
}
