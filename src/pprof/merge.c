/*
 * pprof merge, following google/pprof's profile.Merge (profile/merge.go):
 *
 *   - combineHeaders: same period type and sample types (else PF_EMISMATCH);
 *     time = earliest non-zero, duration summed, period = max, comments
 *     deduplicated, first non-empty default_sample_type, drop/keep frames
 *     and period type from the first profile.
 *   - The first mapping of the first profile that has mappings is mapped
 *     first (the main binary stays mapping 1).
 *   - mapping key: size rounded up to 4 KiB, file offset, build id or else
 *     file name; a source mapping equal to an output one relocates its
 *     locations' addresses by the difference of the start addresses.
 *   - location key: address relative to its mapping's start, mapping id,
 *     is_folded, lines (function id, line, column).
 *   - function key: start line, name, system name, file name.
 *   - sample key: location ids, then string labels and numeric labels (with
 *     units) grouped by key, order-independent between keys.
 *   - all-zero source samples are skipped; values are summed; if a summed
 *     sample ends all zero the result is merged again to drop it.
 *
 * Everything is keyed on compact binary keys interned with pf_htab (one key
 * buffer per kind, no allocation per sample); the output is built in a
 * fresh arena with its own deduplicated string table (index 0 = "").
 *
 * The merger is incremental (pprof_merger_*): each input is folded into the
 * output as it is added and only borrowed for the call, so the memory held
 * is the output's distinct objects plus one input's memo tables; pprof_merge
 * is a loop over it.
 */
#include "pprof/pprof-internal.h"

#include <stdlib.h>

/* ---- interned byte-string keys: key i is output object i ---------------- */

struct kset {
	struct pf_htab t; /* hash of a key -> its index */
	size_t n;         /* keys */
	size_t ocap;      /* capacity of off */
	size_t *off;      /* key i is keys[off[i] .. off[i + 1]) */
	uint8_t *keys;
	size_t klen, kcap;
};

struct bytes {
	const void *p;
	size_t n;
};

static void kset_init(struct kset *s, size_t hint, size_t key_bytes)
{
	memset(s, 0, sizeof(*s));
	pf_htab_init(&s->t, hint);
	pf_xgrow((void **)&s->off, &s->ocap, hint + 1, sizeof(size_t));
	s->off[0] = 0;
	if (key_bytes)
		pf_xgrow((void **)&s->keys, &s->kcap, key_bytes, 1);
}

static void kset_free(struct kset *s)
{
	pf_htab_free(&s->t);
	free(s->off);
	free(s->keys);
}

static int kset_eq(const void *ctx, const void *key, uint32_t i)
{
	const struct kset *s = ctx;
	const struct bytes *k = key;
	/* keys is NULL while every key so far is empty: no NULL + 0 */
	return s->off[i + 1] - s->off[i] == k->n &&
	       (k->n == 0 || memcmp(s->keys + s->off[i], k->p, k->n) == 0);
}

/*
 * Find key; when absent, add it as key s->n. *idx gets its index.
 * Returns 1 when the key was there, 0 when added.
 */
static int kset_intern(struct kset *s, const void *key, size_t len, uint32_t *idx)
{
	struct bytes k = { key, len };
	uint64_t h = pf_hash64(key, len, 0);
	size_t pos;

	if (pf_htab_find(&s->t, h, kset_eq, s, &k, idx, &pos))
		return 1;
	pf_xgrow((void **)&s->off, &s->ocap, s->n + 2, sizeof(size_t));
	if (len > s->kcap - s->klen)
		pf_xgrow((void **)&s->keys, &s->kcap, s->klen + len, 1);
	if (len)
		memcpy(s->keys + s->klen, key, len);
	s->klen += len;
	s->off[s->n + 1] = s->klen;
	*idx = (uint32_t)s->n;
	pf_htab_insert_at(&s->t, pos, h, (uint32_t)s->n);
	s->n++;
	return 0;
}

/* ---- merger state ---------------------------------------------------- */

/* A growable array of pointers. */
struct ptrs {
	void **v;
	size_t n, cap;
};

static void ptrs_push(struct ptrs *a, void *p)
{
	if (a->n == a->cap)
		pf_xgrow((void **)&a->v, &a->cap, a->n + 1, sizeof(void *));
	a->v[a->n++] = p;
}

struct mapinfo {
	int64_t out;     /* output mapping index, -1 until mapped */
	uint64_t offset; /* added to the source addresses (mod 2^64) */
};

/* A label in canonical form, output string indexes. */
struct lab {
	uint32_t key;
	uint32_t str;  /* string labels */
	uint32_t unit; /* numeric labels */
	uint32_t ord;  /* position in the source, for a stable order */
	int64_t num;
	uint8_t isnum;
};

struct merger {
	struct pf_arena *a; /* output arena */
	pprof_msg *out;
	size_t nvals;

	struct kset kstr, kmap, kfn, kloc, ksample;
	struct ptrs strs, maps, fns, locs, samples;

	/* per source profile */
	const struct pprof_profile *src;
	int64_t *smemo;      /* source string index -> output index, -1 */
	struct mapinfo *mmemo;
	int64_t *fmemo;      /* source function index -> output index, -1 */
	int64_t *lmemo;      /* source location index -> output index, -1 */

	/* scratch */
	uint8_t *key;
	size_t keycap;
	struct lab *labs;
	size_t labcap;
	uint64_t *ids; /* a sample's output location ids */
	size_t idcap;
	uint32_t *fids; /* a location's output function ids */
	size_t fidcap;
};

static void key_reserve(struct merger *m, size_t n)
{
	if (n > m->keycap)
		pf_xgrow((void **)&m->key, &m->keycap, n, 1);
}

static size_t put_u32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
	return 4;
}

static size_t put_u64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
	return 8;
}

/* Intern a string (by content) into the output table. */
static uint32_t intern_cstr(struct merger *m, const char *s)
{
	size_t len = strlen(s);
	uint32_t idx;

	if (!kset_intern(&m->kstr, s, len, &idx))
		ptrs_push(&m->strs, pf_arena_strndup(m->a, s, len));
	return idx;
}

/* Output index of the source string idx (validated in range). */
static uint32_t str(struct merger *m, int64_t idx)
{
	if (idx == 0)
		return 0;
	if (m->smemo[idx] < 0)
		m->smemo[idx] = intern_cstr(m, m->src->msg->string_table[idx]);
	return (uint32_t)m->smemo[idx];
}

static const char *out_str(const struct merger *m, uint32_t idx)
{
	return m->strs.v[idx];
}

/* ---- mappings, functions, locations ------------------------------------ */

static struct mapinfo map_mapping(struct merger *m, size_t si)
{
	const Perftools__Profiles__Mapping *sm = m->src->msg->mapping[si];
	Perftools__Profiles__Mapping *om;
	uint8_t k[20];
	uint64_t size;
	uint32_t idx, bf;

	if (m->mmemo[si].out >= 0)
		return m->mmemo[si];
	size = sm->memory_limit - sm->memory_start;
	size = size + 0x1000 - 1;
	size = size - (size % 0x1000);
	bf = sm->build_id != 0 && m->src->msg->string_table[sm->build_id][0] ? str(m, sm->build_id)
									      : str(m, sm->filename);
	put_u64(k, size);
	put_u64(k + 8, sm->file_offset);
	put_u32(k + 16, bf);
	if (kset_intern(&m->kmap, k, sizeof(k), &idx)) {
		om = m->maps.v[idx];
		m->mmemo[si].out = idx;
		m->mmemo[si].offset = om->memory_start - sm->memory_start;
		return m->mmemo[si];
	}
	om = pf_arena_alloc(m->a, sizeof(*om));
	perftools__profiles__mapping__init(om);
	om->id = idx + 1;
	om->memory_start = sm->memory_start;
	om->memory_limit = sm->memory_limit;
	om->file_offset = sm->file_offset;
	om->filename = str(m, sm->filename);
	om->build_id = str(m, sm->build_id);
	om->has_functions = sm->has_functions;
	om->has_filenames = sm->has_filenames;
	om->has_line_numbers = sm->has_line_numbers;
	om->has_inline_frames = sm->has_inline_frames;
	ptrs_push(&m->maps, om);
	m->mmemo[si].out = idx;
	m->mmemo[si].offset = 0;
	return m->mmemo[si];
}

static uint32_t map_function(struct merger *m, size_t si)
{
	const Perftools__Profiles__Function *sf = m->src->msg->function[si];
	Perftools__Profiles__Function *of;
	uint8_t k[20];
	uint32_t idx, name, sys, file;

	if (m->fmemo[si] >= 0)
		return (uint32_t)m->fmemo[si];
	name = str(m, sf->name);
	sys = str(m, sf->system_name);
	file = str(m, sf->filename);
	put_u64(k, (uint64_t)sf->start_line);
	put_u32(k + 8, name);
	put_u32(k + 12, sys);
	put_u32(k + 16, file);
	if (!kset_intern(&m->kfn, k, sizeof(k), &idx)) {
		of = pf_arena_alloc(m->a, sizeof(*of));
		perftools__profiles__function__init(of);
		of->id = idx + 1;
		of->name = name;
		of->system_name = sys;
		of->filename = file;
		of->start_line = sf->start_line;
		ptrs_push(&m->fns, of);
	}
	m->fmemo[si] = idx;
	return idx;
}

static uint32_t map_location(struct merger *m, size_t si)
{
	const struct pprof_profile *src = m->src;
	const Perftools__Profiles__Location *sl = src->msg->location[si];
	Perftools__Profiles__Location *ol;
	const Perftools__Profiles__Mapping *om = NULL;
	uint64_t addr = sl->address, rel;
	uint32_t idx, mid = 0, *fids;
	size_t klen = 0, i;

	if (m->lmemo[si] >= 0)
		return (uint32_t)m->lmemo[si];
	if (sl->mapping_id != 0) {
		int64_t mi = pprof__idmap_find(&src->mappings, sl->mapping_id);
		struct mapinfo inf = map_mapping(m, (size_t)mi);
		om = m->maps.v[inf.out];
		addr += inf.offset;
		mid = (uint32_t)om->id;
	}
	rel = om ? addr - om->memory_start : addr;

	key_reserve(m, 16 + sl->n_line * 20);
	klen += put_u64(m->key, rel);
	klen += put_u32(m->key + klen, mid);
	m->key[klen++] = sl->is_folded ? 1 : 0;
	if (sl->n_line > m->fidcap)
		pf_xgrow((void **)&m->fids, &m->fidcap, sl->n_line, sizeof(uint32_t));
	fids = m->fids;
	for (i = 0; i < sl->n_line; i++) {
		const Perftools__Profiles__Line *ln = sl->line[i];
		uint32_t fid = 0;
		if (ln->function_id != 0)
			fid = map_function(m, (size_t)pprof__idmap_find(&src->functions, ln->function_id)) + 1;
		fids[i] = fid;
		klen += put_u32(m->key + klen, fid);
		klen += put_u64(m->key + klen, (uint64_t)ln->line);
		klen += put_u64(m->key + klen, (uint64_t)ln->column);
	}
	if (!kset_intern(&m->kloc, m->key, klen, &idx)) {
		/* one arena block: the location, its line pointers and lines */
		uint8_t *blk = pf_arena_alloc(m->a, sizeof(*ol) + sl->n_line * (sizeof(*ol->line) +
								 sizeof(Perftools__Profiles__Line)));
		ol = (Perftools__Profiles__Location *)blk;
		perftools__profiles__location__init(ol);
		ol->id = idx + 1;
		ol->mapping_id = mid;
		ol->address = addr;
		ol->is_folded = sl->is_folded;
		if (sl->n_line) {
			Perftools__Profiles__Line *lines;
			ol->line = (Perftools__Profiles__Line **)(blk + sizeof(*ol));
			lines = (Perftools__Profiles__Line *)(blk + sizeof(*ol) +
							      sl->n_line * sizeof(*ol->line));
			ol->n_line = sl->n_line;
			for (i = 0; i < sl->n_line; i++) {
				perftools__profiles__line__init(&lines[i]);
				lines[i].function_id = fids[i];
				lines[i].line = sl->line[i]->line;
				lines[i].column = sl->line[i]->column;
				ol->line[i] = &lines[i];
			}
		}
		ptrs_push(&m->locs, ol);
	}
	m->lmemo[si] = idx;
	return idx;
}

/* ---- samples --------------------------------------------------------- */

static int lab_cmp(const struct lab *x, const struct lab *y, const struct merger *m)
{
	int c;
	if (x->isnum != y->isnum)
		return x->isnum < y->isnum ? -1 : 1;
	if (x->key != y->key && (c = strcmp(out_str(m, x->key), out_str(m, y->key))) != 0)
		return c;
	return x->ord < y->ord ? -1 : x->ord > y->ord;
}

static int lab_qcmp(const void *x, const void *y, void *m)
{
	return lab_cmp(x, y, m);
}

static void sort_labels(struct merger *m, struct lab *l, size_t n)
{
	if (n > 16) {
		qsort_r(l, n, sizeof(*l), lab_qcmp, m);
		return;
	}
	for (size_t i = 1; i < n; i++) {
		struct lab t = l[i];
		size_t j = i;
		while (j > 0 && lab_cmp(&l[j - 1], &t, m) > 0) {
			l[j] = l[j - 1];
			j--;
		}
		l[j] = t;
	}
}

static int is_zero(const Perftools__Profiles__Sample *s)
{
	for (size_t i = 0; i < s->n_value; i++)
		if (s->value[i] != 0)
			return 0;
	return 1;
}

static void map_sample(struct merger *m, const Perftools__Profiles__Sample *ss)
{
	const struct pprof_profile *src = m->src;
	Perftools__Profiles__Sample *os;
	Perftools__Profiles__Label *ls;
	size_t i, nl = 0, klen = 0;
	uint32_t idx;

	/* locations */
	if (ss->n_location_id > m->idcap)
		pf_xgrow((void **)&m->ids, &m->idcap, ss->n_location_id, sizeof(uint64_t));
	for (i = 0; i < ss->n_location_id; i++) {
		int64_t li = pprof__idmap_find(&src->locations, ss->location_id[i]);
		m->ids[i] = (uint64_t)map_location(m, (size_t)li) + 1;
	}
	/* labels, as Go reads them: str != 0 is a string label, else num or
	 * unit != 0 a numeric one, else nothing */
	if (ss->n_label > m->labcap)
		pf_xgrow((void **)&m->labs, &m->labcap, ss->n_label, sizeof(struct lab));
	for (i = 0; i < ss->n_label; i++) {
		const Perftools__Profiles__Label *l = ss->label[i];
		struct lab *o = &m->labs[nl];
		memset(o, 0, sizeof(*o));
		if (l->str != 0) {
			o->str = str(m, l->str);
		} else if (l->num != 0 || l->num_unit != 0) {
			o->isnum = 1;
			o->num = l->num;
			o->unit = str(m, l->num_unit);
		} else {
			continue;
		}
		o->key = str(m, l->key);
		o->ord = (uint32_t)i;
		nl++;
	}
	sort_labels(m, m->labs, nl);

	key_reserve(m, 4 + ss->n_location_id * 4 + nl * 17);
	klen += put_u32(m->key, (uint32_t)ss->n_location_id);
	for (i = 0; i < ss->n_location_id; i++)
		klen += put_u32(m->key + klen, (uint32_t)m->ids[i]);
	for (i = 0; i < nl; i++) {
		const struct lab *l = &m->labs[i];
		m->key[klen++] = l->isnum;
		klen += put_u32(m->key + klen, l->key);
		if (l->isnum) {
			klen += put_u64(m->key + klen, (uint64_t)l->num);
			klen += put_u32(m->key + klen, l->unit);
		} else {
			klen += put_u32(m->key + klen, l->str);
		}
	}

	if (kset_intern(&m->ksample, m->key, klen, &idx)) {
		os = m->samples.v[idx];
		for (i = 0; i < m->nvals; i++)
			os->value[i] = (int64_t)((uint64_t)os->value[i] + (uint64_t)ss->value[i]);
		return;
	}
	/* one arena block: the sample, its location ids, values and labels
	 * (every part is a multiple of 8 bytes, 8-aligned) */
	{
		size_t sz = sizeof(*os) + ss->n_location_id * sizeof(uint64_t) +
			    m->nvals * sizeof(int64_t) +
			    nl * (sizeof(Perftools__Profiles__Label *) + sizeof(Perftools__Profiles__Label));
		uint8_t *blk = pf_arena_alloc(m->a, sz);
		os = (Perftools__Profiles__Sample *)blk;
		blk += sizeof(*os);
		perftools__profiles__sample__init(os);
		os->location_id = ss->n_location_id ? (uint64_t *)blk : NULL;
		blk += ss->n_location_id * sizeof(uint64_t);
		os->value = m->nvals ? (int64_t *)blk : NULL;
		blk += m->nvals * sizeof(int64_t);
		os->label = nl ? (Perftools__Profiles__Label **)blk : NULL;
		blk += nl * sizeof(Perftools__Profiles__Label *);
		ls = (Perftools__Profiles__Label *)blk;
	}
	os->n_location_id = ss->n_location_id;
	if (ss->n_location_id)
		memcpy(os->location_id, m->ids, ss->n_location_id * sizeof(uint64_t));
	os->n_value = m->nvals;
	if (m->nvals)
		memcpy(os->value, ss->value, m->nvals * sizeof(int64_t));
	if (nl) {
		os->n_label = nl;
		for (i = 0; i < nl; i++) {
			perftools__profiles__label__init(&ls[i]);
			ls[i].key = m->labs[i].key;
			if (m->labs[i].isnum) {
				ls[i].num = m->labs[i].num;
				ls[i].num_unit = m->labs[i].unit;
			} else {
				ls[i].str = m->labs[i].str;
			}
			os->label[i] = &ls[i];
		}
	}
	ptrs_push(&m->samples, os);
}

/* ---- headers --------------------------------------------------------- */

/* "[type/unit type/unit]" of p's sample types into buf. */
static void describe_types(const struct pprof_profile *p, char *buf, size_t n)
{
	size_t used = 0;
	const pprof_msg *msg = p->msg;

	used += (size_t)snprintf(buf, n, "[");
	for (size_t i = 0; i < msg->n_sample_type && used < n; i++)
		used += (size_t)snprintf(buf + used, n - used, "%s%s/%s", i ? " " : "",
					 pprof_string(p, msg->sample_type[i]->type),
					 pprof_string(p, msg->sample_type[i]->unit));
	if (used < n)
		snprintf(buf + used, n - used, "]");
}

static const char *vt_type(const struct pprof_profile *p, const Perftools__Profiles__ValueType *vt)
{
	return vt ? pprof_string(p, vt->type) : "";
}

static const char *vt_unit(const struct pprof_profile *p, const Perftools__Profiles__ValueType *vt)
{
	return vt ? pprof_string(p, vt->unit) : "";
}

/* Go's compatible(): same sample types (type and unit, in order) and the
 * same period type. */
static int compatible(const struct pprof_profile *a, const struct pprof_profile *b,
		      struct pf_err *err)
{
	const pprof_msg *x = a->msg, *y = b->msg;
	int same = x->n_sample_type == y->n_sample_type;

	for (size_t i = 0; same && i < x->n_sample_type; i++)
		same = strcmp(vt_type(a, x->sample_type[i]), vt_type(b, y->sample_type[i])) == 0 &&
		       strcmp(vt_unit(a, x->sample_type[i]), vt_unit(b, y->sample_type[i])) == 0;
	if (!same) {
		char da[240], db[240];
		describe_types(a, da, sizeof(da));
		describe_types(b, db, sizeof(db));
		return pf_err_set(err, PF_EMISMATCH, "sample types differ: %s and %s", da, db);
	}
	if (strcmp(vt_type(a, x->period_type), vt_type(b, y->period_type)) != 0 ||
	    strcmp(vt_unit(a, x->period_type), vt_unit(b, y->period_type)) != 0)
		return pf_err_set(err, PF_EMISMATCH, "period types differ: %.200s/%.40s and %.200s/%.40s",
				  vt_type(a, x->period_type), vt_unit(a, x->period_type),
				  vt_type(b, y->period_type), vt_unit(b, y->period_type));
	return 0;
}

static Perftools__Profiles__ValueType *copy_vt(struct merger *m,
					       const Perftools__Profiles__ValueType *vt)
{
	Perftools__Profiles__ValueType *o = pf_arena_alloc(m->a, sizeof(*o));
	perftools__profiles__value_type__init(o);
	if (vt) {
		o->type = str(m, vt->type);
		o->unit = str(m, vt->unit);
	}
	return o;
}

/* Per source: the header fields, as Go's combineHeaders does them. */
static void combine_header(struct merger *m, size_t i, struct ptrs *comments, int64_t *dflt)
{
	const pprof_msg *s = m->src->msg;
	pprof_msg *o = m->out;

	if (i == 0) {
		o->n_sample_type = s->n_sample_type;
		if (s->n_sample_type) {
			o->sample_type = pf_arena_alloc(m->a, s->n_sample_type * sizeof(*o->sample_type));
			for (size_t j = 0; j < s->n_sample_type; j++)
				o->sample_type[j] = copy_vt(m, s->sample_type[j]);
		}
		o->period_type = copy_vt(m, s->period_type);
		o->drop_frames = str(m, s->drop_frames);
		o->keep_frames = str(m, s->keep_frames);
	}
	if (o->time_nanos == 0 || s->time_nanos < o->time_nanos)
		o->time_nanos = s->time_nanos;
	o->duration_nanos = (int64_t)((uint64_t)o->duration_nanos + (uint64_t)s->duration_nanos);
	if (o->period == 0 || o->period < s->period)
		o->period = s->period;
	for (size_t j = 0; j < s->n_comment; j++) {
		uint32_t c = str(m, s->comment[j]);
		size_t k;
		for (k = 0; k < comments->n; k++)
			if ((uintptr_t)comments->v[k] == c)
				break;
		if (k == comments->n)
			ptrs_push(comments, (void *)(uintptr_t)c);
	}
	if (*dflt == 0 && s->default_sample_type != 0)
		*dflt = str(m, s->default_sample_type);
}

/* ---- merge ----------------------------------------------------------- */

/* Copy a pointer array into the arena (the message's repeated field). */
static void **arena_ptrs(struct pf_arena *a, const struct ptrs *p)
{
	void **v;
	if (p->n == 0)
		return NULL;
	v = pf_arena_alloc(a, p->n * sizeof(void *));
	memcpy(v, p->v, p->n * sizeof(void *));
	return v;
}

static void merger_free(struct merger *m)
{
	kset_free(&m->kstr);
	kset_free(&m->kmap);
	kset_free(&m->kfn);
	kset_free(&m->kloc);
	kset_free(&m->ksample);
	free(m->strs.v);
	free(m->maps.v);
	free(m->fns.v);
	free(m->locs.v);
	free(m->samples.v);
	free(m->smemo);
	free(m->mmemo);
	free(m->fmemo);
	free(m->lmemo);
	free(m->key);
	free(m->labs);
	free(m->ids);
	free(m->fids);
}

static void set_source(struct merger *m, const struct pprof_profile *src)
{
	const pprof_msg *s = src->msg;
	size_t i;

	m->src = src;
	free(m->smemo);
	free(m->mmemo);
	free(m->fmemo);
	free(m->lmemo);
	m->smemo = pf_xmalloc((s->n_string_table ? s->n_string_table : 1) * sizeof(int64_t));
	memset(m->smemo, 0xff, s->n_string_table * sizeof(int64_t));
	m->mmemo = pf_xmalloc((s->n_mapping ? s->n_mapping : 1) * sizeof(struct mapinfo));
	for (i = 0; i < s->n_mapping; i++)
		m->mmemo[i].out = -1;
	m->fmemo = pf_xmalloc((s->n_function ? s->n_function : 1) * sizeof(int64_t));
	memset(m->fmemo, 0xff, s->n_function * sizeof(int64_t));
	m->lmemo = pf_xmalloc((s->n_location ? s->n_location : 1) * sizeof(int64_t));
	memset(m->lmemo, 0xff, s->n_location * sizeof(int64_t));
}

/* Key bytes of p's samples (returned) and locations (max into *loc). */
static size_t key_bytes_hint(const struct pprof_profile *p, size_t *loc)
{
	const pprof_msg *msg = p->msg;
	size_t s = 0, l = 0, i;

	for (i = 0; i < msg->n_sample; i++)
		s += 4 + msg->sample[i]->n_location_id * 4 + msg->sample[i]->n_label * 17;
	for (i = 0; i < msg->n_location; i++)
		l += 13 + msg->location[i]->n_line * 20;
	*loc = PF_MAX(*loc, l);
	return s;
}

/* ---- the incremental merger ------------------------------------------- */

struct pprof_merger {
	struct merger m;
	struct pprof_profile *p; /* the output, in m.a */
	struct ptrs comments;
	int64_t dflt;
	size_t count;
	int done; /* finished: only pprof_merger_free is left */
};

struct pprof_merger *pprof_merger_new(void)
{
	return pf_xcalloc(1, sizeof(struct pprof_merger));
}

void pprof_merger_free(struct pprof_merger *pm)
{
	if (!pm)
		return;
	if (pm->count)
		merger_free(&pm->m);
	free(pm->comments.v);
	if (!pm->done)
		pf_arena_free(pm->m.a);
	free(pm);
}

size_t pprof_merger_count(const struct pprof_merger *pm)
{
	return pm->count;
}

/* The state, sized after the first input (the tables grow past it). */
static void merger_init(struct pprof_merger *pm, const struct pprof_profile *first)
{
	struct merger *m = &pm->m;
	size_t lkeys = 0, skeys = key_bytes_hint(first, &lkeys);
	const pprof_msg *s = first->msg;

	memset(m, 0, sizeof(*m));
	m->a = pf_arena_new();
	pm->p = pf_arena_alloc(m->a, sizeof(*pm->p));
	memset(pm->p, 0, sizeof(*pm->p));
	pm->p->arena = m->a;
	m->out = pf_arena_alloc(m->a, sizeof(*m->out));
	perftools__profiles__profile__init(m->out);
	pm->p->msg = m->out;
	m->nvals = s->n_sample_type;
	kset_init(&m->kstr, 1024, 0);
	kset_init(&m->kmap, 8, 0);
	kset_init(&m->kfn, s->n_function, s->n_function * 20);
	kset_init(&m->kloc, s->n_location, lkeys);
	kset_init(&m->ksample, s->n_sample, skeys);
	intern_cstr(m, ""); /* index 0 */
}

int pprof_merger_add(struct pprof_merger *pm, const struct pprof_profile *in, struct pf_err *err)
{
	struct merger *m = &pm->m;
	const pprof_msg *s;
	int rc;

	if (pm->done)
		return pf_err_set(err, PF_EINVAL, "the merger is finished");
	if (!in)
		return pf_err_set(err, PF_EINVAL, "no profile to merge");
	s = in->msg;
	if (pm->count == 0) {
		merger_init(pm, in);
	} else {
		/* the output so far as a profile: its header is the first input's */
		struct pprof_profile view = {0};
		m->out->string_table = (char **)m->strs.v;
		m->out->n_string_table = m->strs.n;
		view.msg = m->out;
		rc = compatible(&view, in, err);
		m->out->string_table = NULL;
		m->out->n_string_table = 0;
		if (rc < 0)
			return rc;
	}
	set_source(m, in);
	combine_header(m, pm->count, &pm->comments, &pm->dflt);
	if (m->maps.n == 0 && s->n_mapping > 0)
		map_mapping(m, 0);
	for (size_t j = 0; j < s->n_sample; j++)
		if (!is_zero(s->sample[j]))
			map_sample(m, s->sample[j]);
	m->src = NULL; /* the caller may free in now */
	pm->count++;
	return 0;
}

/* The output of the inputs so far; *zero is set when a summed sample ends
 * up all zero (merged again, as Go does). The merger is done after. */
static int merger_build(struct pprof_merger *pm, struct pprof_profile **out, int *zero,
			struct pf_err *err)
{
	struct merger *m = &pm->m;
	struct pprof_profile *p = pm->p;
	size_t i;

	*out = NULL;
	*zero = 0;
	if (pm->count == 0)
		return pf_err_set(err, PF_EINVAL, "no profiles to merge");
	if (pm->done)
		return pf_err_set(err, PF_EINVAL, "the merger is finished");
	if (m->strs.n >= UINT32_MAX || m->locs.n >= UINT32_MAX)
		return pf_err_set(err, PF_ETOOBIG, "merged profile is too large");
	m->out->default_sample_type = pm->dflt;
	if (pm->comments.n) {
		m->out->n_comment = pm->comments.n;
		m->out->comment = pf_arena_alloc(m->a, pm->comments.n * sizeof(int64_t));
		for (i = 0; i < pm->comments.n; i++)
			m->out->comment[i] = (int64_t)(uintptr_t)pm->comments.v[i];
	}
	m->out->n_sample = m->samples.n;
	m->out->sample = (Perftools__Profiles__Sample **)arena_ptrs(m->a, &m->samples);
	m->out->n_mapping = m->maps.n;
	m->out->mapping = (Perftools__Profiles__Mapping **)arena_ptrs(m->a, &m->maps);
	m->out->n_location = m->locs.n;
	m->out->location = (Perftools__Profiles__Location **)arena_ptrs(m->a, &m->locs);
	m->out->n_function = m->fns.n;
	m->out->function = (Perftools__Profiles__Function **)arena_ptrs(m->a, &m->fns);
	m->out->n_string_table = m->strs.n;
	m->out->string_table = (char **)arena_ptrs(m->a, &m->strs);
	for (i = 0; i < m->out->n_sample; i++)
		if (is_zero(m->out->sample[i]))
			*zero = 1;

	/* ids are 1..n in order by construction */
	p->mappings.dense = p->locations.dense = p->functions.dense = 1;
	p->mappings.n = m->out->n_mapping;
	p->locations.n = m->out->n_location;
	p->functions.n = m->out->n_function;
	pm->done = 1; /* the arena is the output's now */
	*out = p;
	return 0;
}

int pprof_merger_finish(struct pprof_merger *pm, struct pprof_profile **out, struct pf_err *err)
{
	struct pprof_profile *p = NULL;
	int rc, zero;

	*out = NULL;
	if ((rc = merger_build(pm, &p, &zero, err)) < 0)
		return rc;
	if (zero) {
		/* as Go: merge the result alone, which drops the zero samples
		 * and everything only they used */
		struct pprof_merger *again = pprof_merger_new();
		struct pprof_profile *q = NULL;
		if ((rc = pprof_merger_add(again, p, err)) == 0)
			rc = merger_build(again, &q, &zero, err);
		pprof_merger_free(again);
		pprof_free(p);
		if (rc < 0)
			return rc;
		p = q;
	}
	*out = p;
	return 0;
}

/*
 * Merge n >= 1 validated profiles (see pprof.h): a loop over the
 * incremental merger. The output's ids are 1..N in order of first use and
 * its string table holds only the strings it uses.
 */
int pprof_merge(struct pprof_profile *const *in, size_t n, struct pprof_profile **out,
		struct pf_err *err)
{
	struct pprof_merger *pm;
	int rc = 0;

	*out = NULL;
	if (n == 0 || !in)
		return pf_err_set(err, PF_EINVAL, "no profiles to merge");
	pm = pprof_merger_new();
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = pprof_merger_add(pm, in[i], err);
	if (rc == 0)
		rc = pprof_merger_finish(pm, out, err);
	pprof_merger_free(pm);
	return rc;
}
