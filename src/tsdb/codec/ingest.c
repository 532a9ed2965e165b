/*
 * A pprof body decoded for the encoder without a protobuf-c tree: the
 * streaming decoder (pprof/stream.h) hands over the header, strings,
 * mappings, functions, locations and samples, and this sink keeps them in
 * flat arrays (struct tsdb__flat, codec-internal.h). Strings are not
 * copied: they point into the inflated body, which the flat profile holds
 * (or into the caller's body when it was not gzip; the caller keeps it
 * until the flat profile is added).
 *
 * tsdb__chunk_enc_add_flat (chunk.c) then interns it into a symbol table
 * (the one encoder: tsdb__chunk_enc_add_pprof turns a pprof_decode profile
 * into this form with tsdb__flat_from_pprof), unless tsdb__flat_digest
 * says that all it interns is what the series' previous profile interned
 * (then only the values are new).
 */
#include "tsdb/codec/codec-internal.h"

#include <stdlib.h>
#include <sys/random.h>
#include <unistd.h>
#include <xxhash.h>

struct tsdb__flat *tsdb__flat_new(void)
{
	struct tsdb__flat *f = pf_xcalloc(1, sizeof(*f));
	return f;
}

void tsdb__flat_free(struct tsdb__flat *f)
{
	if (!f)
		return;
	pprof_inflated_free(&f->raw);
	free(f->sample_type);
	free(f->comment);
	free(f->str);
	free(f->slen);
	free(f->maps);
	free(f->fns);
	free(f->locs);
	free(f->lines);
	free(f->samples);
	free(f->locids);
	free(f->vals);
	free(f->labs);
	pf_htab_free(&f->imap);
	pf_htab_free(&f->ifn);
	pf_htab_free(&f->iloc);
	free(f);
}

/* ---- the sink ---------------------------------------------------------- */

static void *xdup(const void *p, size_t n, size_t size)
{
	void *q = pf_xcalloc(n ? n : 1, size);
	if (n)
		memcpy(q, p, n * size);
	return q;
}

static int on_header(void *ctx, const struct pprof_stream_header *h, struct pf_err *err)
{
	struct tsdb__flat *f = ctx;

	(void)err;
	f->nt = h->n_sample_type;
	f->sample_type = xdup(h->sample_type, 2 * h->n_sample_type, sizeof(int64_t));
	f->has_period_type = h->has_period_type;
	f->period_type[0] = h->period_type[0];
	f->period_type[1] = h->period_type[1];
	f->period = h->period;
	f->time_nanos = h->time_nanos;
	f->duration_nanos = h->duration_nanos;
	f->drop_frames = h->drop_frames;
	f->keep_frames = h->keep_frames;
	f->default_sample_type = h->default_sample_type;
	f->ncomment = h->n_comment;
	f->comment = xdup(h->comment, h->n_comment, sizeof(int64_t));
	/* the counts are exact: every array but the variable ones once */
	f->str = pf_xcalloc(h->n_string + 1, sizeof(*f->str));
	f->slen = pf_xcalloc(h->n_string + 1, sizeof(*f->slen));
	f->maps = pf_xcalloc(h->n_mapping + 1, sizeof(*f->maps));
	f->fns = pf_xcalloc(h->n_function + 1, sizeof(*f->fns));
	f->locs = pf_xcalloc(h->n_location + 1, sizeof(*f->locs));
	f->samples = pf_xcalloc(h->n_sample + 1, sizeof(*f->samples));
	f->vals = pf_xcalloc(h->n_sample * h->n_sample_type + 1, sizeof(int64_t));
	f->dense_map = f->dense_fn = f->dense_loc = 1;
	return 0;
}

static int on_string(void *ctx, size_t idx, const char *s, size_t len, struct pf_err *err)
{
	struct tsdb__flat *f = ctx;

	const char *nul = memchr(s, 0, len);

	(void)err;
	/* as protobuf-c's C strings, which end at a NUL byte (pprof_decode's
	 * profile, and so what the store kept before) */
	if (nul)
		len = (size_t)(nul - s);
	f->str[idx] = s;
	f->slen[idx] = (uint32_t)len;
	f->nstr = idx + 1;
	return 0;
}

/* Note that item i (of a kind) has id; builds the index once ids stop
 * being 1..n in order. */
static void note_id(int *dense, struct pf_htab *ix, uint64_t id, size_t i)
{
	if (*dense && id == i + 1)
		return;
	if (*dense) {
		*dense = 0;
		pf_htab_init(ix, i + 16);
		for (size_t k = 0; k < i; k++)
			pf_htab_set(ix, k + 1, (uint32_t)k);
	}
	pf_htab_set(ix, id, (uint32_t)i);
}

static int on_mapping(void *ctx, const struct pprof_stream_mapping *m, struct pf_err *err)
{
	struct tsdb__flat *f = ctx;

	(void)err;
	note_id(&f->dense_map, &f->imap, m->id, f->nmap);
	f->maps[f->nmap++] = *m;
	return 0;
}

static int on_function(void *ctx, const struct pprof_stream_function *fn, struct pf_err *err)
{
	struct tsdb__flat *f = ctx;

	(void)err;
	note_id(&f->dense_fn, &f->ifn, fn->id, f->nfn);
	f->fns[f->nfn++] = *fn;
	return 0;
}

static int on_location(void *ctx, const struct pprof_stream_location *l, struct pf_err *err)
{
	struct tsdb__flat *f = ctx;
	struct tsdb__flat_loc *o;

	(void)err;
	note_id(&f->dense_loc, &f->iloc, l->id, f->nloc);
	o = &f->locs[f->nloc++];
	o->mapping_id = l->mapping_id;
	o->address = l->address;
	o->folded = l->is_folded ? 1 : 0;
	o->line_off = (uint32_t)f->nline;
	o->nline = (uint32_t)l->n_line;
	pf_xgrow((void **)&f->lines, &f->linecap, f->nline + l->n_line + 1, sizeof(*f->lines));
	for (size_t i = 0; i < l->n_line; i++) {
		struct tsdb__flat_line *ln = &f->lines[f->nline++];
		ln->function_id = l->line[i].function_id;
		ln->line = l->line[i].line;
		ln->column = l->line[i].column;
	}
	return 0;
}

static int on_sample(void *ctx, const struct pprof_stream_sample *s, struct pf_err *err)
{
	struct tsdb__flat *f = ctx;
	struct tsdb__flat_sample *o = &f->samples[f->nsample];

	(void)err;
	o->nloc = (uint32_t)s->n_location_id;
	o->loc_off = f->nlocids; /* the ids come all at once: on_sample_ids */
	f->nlocids += s->n_location_id;
	o->nlab = (uint32_t)s->n_label;
	o->lab_off = f->nlabs;
	if (s->n_label) {
		pf_xgrow((void **)&f->labs, &f->labcap, f->nlabs + s->n_label + 1, sizeof(*f->labs));
		memcpy(f->labs + f->nlabs, s->label, s->n_label * sizeof(*f->labs));
		f->nlabs += s->n_label;
	}
	if (f->nt)
		memcpy(f->vals + f->nsample * f->nt, s->value, f->nt * sizeof(int64_t));
	f->nsample++;
	return 0;
}

/* The location ids of every sample, in order: the decoder's buffer, kept
 * as it is (on_sample noted each sample's offset). */
static int on_sample_ids(void *ctx, uint64_t *ids, size_t n, struct pf_err *err)
{
	struct tsdb__flat *f = ctx;

	(void)err;
	free(f->locids);
	f->locids = ids ? ids : pf_xcalloc(1, sizeof(uint64_t));
	f->locidcap = ids ? n : 1;
	return 0;
}

int tsdb__flat_decode(struct tsdb__flat *f, const void *data, size_t len, size_t max_decompressed,
		      struct pf_err *err)
{
	struct pprof_limits lim = {.max_decompressed = max_decompressed};

	return tsdb__flat_decode_limited(f, data, len, &lim, err);
}

static uint64_t digest_seed(void);

static void feed_xxh3(void *ctx, const void *p, size_t n)
{
	XXH3_128bits_update(ctx, p, n);
}

/* The body's shape into f: its digest, and when keep, the light fields.
 * 0, or 1 when the shape cannot be read. */
static int flat_shape(struct tsdb__flat *f, int keep)
{
	struct pprof_shape sh;
	XXH3_state_t *x;
	XXH128_hash_t h;

	if (!(x = XXH3_createState()))
		abort(); /* out of memory, as pf_xcalloc */
	XXH3_128bits_reset_withSeed(x, digest_seed());
	if (pprof_stream_shape(f->body, f->blen, feed_xxh3, x, &sh) != 0) {
		XXH3_freeState(x);
		return 1;
	}
	h = XXH3_128bits_digest(x);
	XXH3_freeState(x);
	f->digest[0] = h.low64;
	f->digest[1] = h.high64;
	f->has_digest = 1;
	if (!keep) {
		pprof_shape_free(&sh);
		return 0;
	}
	f->light = 1;
	f->nt = sh.n_sample_type;
	f->sample_type = sh.sample_type;
	f->time_nanos = sh.time_nanos;
	f->duration_nanos = sh.duration_nanos;
	f->period = sh.period;
	f->nsample = sh.n_sample;
	f->vals = sh.values ? sh.values : pf_xcalloc(1, sizeof(int64_t));
	f->nstr = sh.n_string;
	f->str = sh.str;
	f->slen = pf_xcalloc(sh.n_string + 1, sizeof(*f->slen));
	for (size_t i = 0; i < sh.n_string; i++) {
		/* as on_string: a C string's end */
		const char *nul = memchr(sh.str[i], 0, sh.str_len[i]);
		f->slen[i] = (uint32_t)(nul ? (size_t)(nul - sh.str[i]) : sh.str_len[i]);
	}
	free(sh.str_len);
	return 0;
}

/* Inflate (or take) the body into f->body; the same steps and sentences as
 * pprof_stream_decode_limited. */
static int flat_body(struct tsdb__flat *f, const void *data, size_t len,
		     const struct pprof_limits *lim, struct pf_err *err)
{
	int rc;

	if (len == 0)
		return pf_err_set(err, PF_EINVAL, "parsing profile: empty input file");
	if (pprof_is_gzip(data, len)) {
		if ((rc = pprof_inflate_limited(data, len, lim, &f->raw, err)) < 0) {
			if (rc == PF_EINVAL)
				pf_err_prefix(err, "decompressing profile: ");
			return rc;
		}
		f->body = f->raw.data;
		f->blen = f->raw.len;
	} else if (len > lim->max_decompressed) {
		return pf_err_set(err, PF_ETOOBIG, "profile is larger than %zu bytes", lim->max_decompressed);
	} else {
		f->body = data;
		f->blen = len;
	}
	return 0;
}

/* The whole walk of f->body into f's arrays (f not light). */
static int flat_walk(struct tsdb__flat *f, struct pf_err *err)
{
	static const struct pprof_sink sink = {
		.header = on_header,
		.string = on_string,
		.mapping = on_mapping,
		.function = on_function,
		.location = on_location,
		.sample = on_sample,
		.sample_ids = on_sample_ids,
	};

	return pprof_stream_decode(f->body, f->blen, &sink, f, err);
}

int tsdb__flat_decode_limited(struct tsdb__flat *f, const void *data, size_t len,
			      const struct pprof_limits *lim, struct pf_err *err)
{
	int rc;

	if ((rc = flat_body(f, data, len, lim, err)) < 0)
		return rc;
	/* the digest from the shape, as for a light decode of the same body
	 * (else tsdb__flat_digest's, from the arrays) */
	flat_shape(f, 0);
	return flat_walk(f, err);
}

int tsdb__flat_decode_shape(struct tsdb__flat *f, const void *data, size_t len,
			    const struct pprof_limits *lim, struct pf_err *err)
{
	int rc;

	if ((rc = flat_body(f, data, len, lim, err)) < 0)
		return rc;
	if (flat_shape(f, 1) == 0)
		return 0;
	return flat_walk(f, err);
}

int tsdb__flat_complete(struct tsdb__flat *f, struct pf_err *err)
{
	if (!f->light)
		return 0;
	free(f->sample_type);
	free(f->vals);
	free(f->str);
	free(f->slen);
	f->sample_type = NULL;
	f->vals = NULL;
	f->str = NULL;
	f->slen = NULL;
	f->nt = f->nsample = f->nstr = 0;
	f->time_nanos = f->duration_nanos = f->period = 0;
	f->light = 0; /* the digest stays: the shape's */
	return flat_walk(f, err);
}

int tsdb__flat_is_light(const struct tsdb__flat *f)
{
	return f->light;
}

/* ---- lookups ----------------------------------------------------------- */

static size_t index_of(int dense, const struct pf_htab *ix, uint64_t id)
{
	uint32_t v = 0;

	if (dense)
		return (size_t)(id - 1);
	pf_htab_get(ix, id, &v);
	return v;
}

size_t tsdb__flat_map_index(const struct tsdb__flat *f, uint64_t id)
{
	return index_of(f->dense_map, &f->imap, id);
}

size_t tsdb__flat_fn_index(const struct tsdb__flat *f, uint64_t id)
{
	return index_of(f->dense_fn, &f->ifn, id);
}

size_t tsdb__flat_loc_index(const struct tsdb__flat *f, uint64_t id)
{
	return index_of(f->dense_loc, &f->iloc, id);
}

/* ---- totals ------------------------------------------------------------- */

size_t tsdb__flat_ntypes(const struct tsdb__flat *f)
{
	return f->nt;
}

size_t tsdb__flat_nsamples(const struct tsdb__flat *f)
{
	return f->nsample;
}

int64_t tsdb__flat_time_nanos(const struct tsdb__flat *f)
{
	return f->time_nanos;
}

void tsdb__flat_type(const struct tsdb__flat *f, size_t i, const char **type, size_t *tlen,
		     const char **unit, size_t *ulen)
{
	int64_t t = f->sample_type[2 * i], u = f->sample_type[2 * i + 1];
	*type = f->str[t];
	*tlen = f->slen[t];
	*unit = f->str[u];
	*ulen = f->slen[u];
}

void tsdb__flat_totals(const struct tsdb__flat *f, int64_t *totals)
{
	for (size_t j = 0; j < f->nt; j++)
		totals[j] = 0;
	for (size_t i = 0; i < f->nsample; i++) {
		const int64_t *v = f->vals + i * f->nt;
		for (size_t j = 0; j < f->nt; j++)
			totals[j] = (int64_t)((uint64_t)totals[j] + (uint64_t)v[j]);
	}
}

/* ---- the digest of what interning depends on ----------------------------- */

/* A seed per process, so that inputs cannot be made to collide ahead of time. */
static uint64_t digest_seed(void)
{
	static uint64_t seed;
	uint64_t s = __atomic_load_n(&seed, __ATOMIC_RELAXED);

	if (s == 0) {
		if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != (ssize_t)sizeof(s))
			s = (uint64_t)pf_now_ns() ^ (uint64_t)pf_mono_ns() << 21 ^ (uint64_t)getpid();
		s |= 1;
		__atomic_store_n(&seed, s, __ATOMIC_RELAXED);
	}
	return s;
}

static void upd(XXH3_state_t *x, const void *p, size_t n)
{
	if (n)
		XXH3_128bits_update(x, p, n);
}

void tsdb__flat_digest(const struct tsdb__flat *f, uint64_t out[2])
{
	XXH3_state_t *x;
	const char *lo = NULL, *hi = NULL;
	size_t total = 0;
	uint64_t hdr[10];
	XXH128_hash_t h;

	if (f->has_digest) {
		out[0] = f->digest[0];
		out[1] = f->digest[1];
		return;
	}
	if (!(x = XXH3_createState()))
		abort(); /* out of memory, as pf_xcalloc */
	XXH3_128bits_reset_withSeed(x, digest_seed());
	/* the header's string indexes and the table sizes */
	hdr[0] = f->nt;
	hdr[1] = (uint64_t)f->has_period_type;
	hdr[2] = (uint64_t)f->period_type[0];
	hdr[3] = (uint64_t)f->period_type[1];
	hdr[4] = (uint64_t)f->drop_frames;
	hdr[5] = (uint64_t)f->keep_frames;
	hdr[6] = (uint64_t)f->default_sample_type;
	hdr[7] = f->ncomment;
	hdr[8] = f->nstr;
	hdr[9] = f->nsample;
	upd(x, hdr, sizeof(hdr));
	upd(x, f->sample_type, 2 * f->nt * sizeof(int64_t));
	upd(x, f->comment, f->ncomment * sizeof(int64_t));
	/* strings: where they lie in the body and the bytes around them,
	 * in one piece when they are close together (a Go profile's string
	 * table is one run of fields), else one by one */
	for (size_t i = 0; i < f->nstr; i++) {
		const char *s = f->str[i], *e = s + f->slen[i];
		total += f->slen[i];
		if (!lo || s < lo)
			lo = s;
		if (!hi || e > hi)
			hi = e;
	}
	if (lo && (size_t)(hi - lo) <= 2 * total + 16 * f->nstr + 64) {
		uint64_t span = (uint64_t)(hi - lo);
		upd(x, &span, sizeof(span));
		for (size_t i = 0; i < f->nstr; i++) {
			uint64_t at[2] = { (uint64_t)(f->str[i] - lo), f->slen[i] };
			upd(x, at, sizeof(at));
		}
		upd(x, lo, (size_t)(hi - lo));
	} else {
		for (size_t i = 0; i < f->nstr; i++) {
			uint64_t n = f->slen[i];
			upd(x, &n, sizeof(n));
			upd(x, f->str[i], f->slen[i]);
		}
	}
	/* the tables as decoded (ids included) and the samples but values */
	upd(x, &f->nmap, sizeof(f->nmap));
	upd(x, f->maps, f->nmap * sizeof(*f->maps));
	upd(x, &f->nfn, sizeof(f->nfn));
	upd(x, f->fns, f->nfn * sizeof(*f->fns));
	upd(x, &f->nloc, sizeof(f->nloc));
	upd(x, f->locs, f->nloc * sizeof(*f->locs));
	upd(x, &f->nline, sizeof(f->nline));
	upd(x, f->lines, f->nline * sizeof(*f->lines));
	upd(x, f->samples, f->nsample * sizeof(*f->samples));
	upd(x, f->locids, f->nlocids * sizeof(*f->locids));
	upd(x, &f->nlabs, sizeof(f->nlabs));
	upd(x, f->labs, f->nlabs * sizeof(*f->labs));
	h = XXH3_128bits_digest(x);
	XXH3_freeState(x);
	out[0] = h.low64;
	out[1] = h.high64;
}

void tsdb__flat_prepare(struct tsdb__flat *f)
{
	if (!f->has_digest)
		tsdb__flat_digest(f, f->digest);
	f->has_digest = 1;
}

/* ---- a decoded pprof profile, flat ---------------------------------------- */

void tsdb__flat_from_pprof(struct tsdb__flat *f, const struct pprof_profile *p)
{
	const pprof_msg *m = pprof_message(p);
	size_t nt = m->n_sample_type, i, j, nlines = 0, nlocids = 0, nlabs = 0;

	f->nt = nt;
	f->sample_type = pf_xcalloc(2 * nt + 1, sizeof(int64_t));
	for (i = 0; i < nt; i++) {
		f->sample_type[2 * i] = m->sample_type[i]->type;
		f->sample_type[2 * i + 1] = m->sample_type[i]->unit;
	}
	if (m->period_type) {
		f->has_period_type = 1;
		f->period_type[0] = m->period_type->type;
		f->period_type[1] = m->period_type->unit;
	}
	f->period = m->period;
	f->time_nanos = m->time_nanos;
	f->duration_nanos = m->duration_nanos;
	f->drop_frames = m->drop_frames;
	f->keep_frames = m->keep_frames;
	f->default_sample_type = m->default_sample_type;
	f->ncomment = m->n_comment;
	f->comment = xdup(m->comment, m->n_comment, sizeof(int64_t));
	/* strings: protobuf-c's C strings (they end at a NUL byte, as
	 * on_string cuts them) */
	f->nstr = m->n_string_table;
	f->str = pf_xcalloc(f->nstr + 1, sizeof(*f->str));
	f->slen = pf_xcalloc(f->nstr + 1, sizeof(*f->slen));
	for (i = 0; i < f->nstr; i++) {
		f->str[i] = m->string_table[i];
		f->slen[i] = (uint32_t)strlen(m->string_table[i]);
	}
	f->maps = pf_xcalloc(m->n_mapping + 1, sizeof(*f->maps));
	f->fns = pf_xcalloc(m->n_function + 1, sizeof(*f->fns));
	f->locs = pf_xcalloc(m->n_location + 1, sizeof(*f->locs));
	f->samples = pf_xcalloc(m->n_sample + 1, sizeof(*f->samples));
	f->vals = pf_xcalloc(m->n_sample * nt + 1, sizeof(int64_t));
	f->dense_map = f->dense_fn = f->dense_loc = 1;
	for (i = 0; i < m->n_mapping; i++) {
		const Perftools__Profiles__Mapping *x = m->mapping[i];
		struct pprof_stream_mapping *o = &f->maps[i];
		o->id = x->id;
		o->memory_start = x->memory_start;
		o->memory_limit = x->memory_limit;
		o->file_offset = x->file_offset;
		o->filename = x->filename;
		o->build_id = x->build_id;
		o->has_functions = x->has_functions ? 1 : 0;
		o->has_filenames = x->has_filenames ? 1 : 0;
		o->has_line_numbers = x->has_line_numbers ? 1 : 0;
		o->has_inline_frames = x->has_inline_frames ? 1 : 0;
		note_id(&f->dense_map, &f->imap, x->id, i);
	}
	f->nmap = m->n_mapping;
	for (i = 0; i < m->n_function; i++) {
		const Perftools__Profiles__Function *x = m->function[i];
		struct pprof_stream_function *o = &f->fns[i];
		o->id = x->id;
		o->name = x->name;
		o->system_name = x->system_name;
		o->filename = x->filename;
		o->start_line = x->start_line;
		note_id(&f->dense_fn, &f->ifn, x->id, i);
	}
	f->nfn = m->n_function;
	for (i = 0; i < m->n_location; i++)
		nlines += m->location[i]->n_line;
	f->lines = pf_xcalloc(nlines + 1, sizeof(*f->lines));
	f->linecap = nlines + 1;
	for (i = 0; i < m->n_location; i++) {
		const Perftools__Profiles__Location *x = m->location[i];
		struct tsdb__flat_loc *o = &f->locs[i];
		o->mapping_id = x->mapping_id;
		o->address = x->address;
		o->folded = x->is_folded ? 1 : 0;
		o->line_off = (uint32_t)f->nline;
		o->nline = (uint32_t)x->n_line;
		for (j = 0; j < x->n_line; j++) {
			struct tsdb__flat_line *ln = &f->lines[f->nline++];
			ln->function_id = x->line[j]->function_id;
			ln->line = x->line[j]->line;
			ln->column = x->line[j]->column;
		}
		note_id(&f->dense_loc, &f->iloc, x->id, i);
	}
	f->nloc = m->n_location;
	for (i = 0; i < m->n_sample; i++) {
		nlocids += m->sample[i]->n_location_id;
		nlabs += m->sample[i]->n_label;
	}
	f->locids = pf_xcalloc(nlocids + 1, sizeof(uint64_t));
	f->locidcap = nlocids + 1;
	f->labs = pf_xcalloc(nlabs + 1, sizeof(*f->labs));
	f->labcap = nlabs + 1;
	for (i = 0; i < m->n_sample; i++) {
		const Perftools__Profiles__Sample *x = m->sample[i];
		struct tsdb__flat_sample *o = &f->samples[i];
		o->nloc = (uint32_t)x->n_location_id;
		o->loc_off = f->nlocids;
		if (x->n_location_id)
			memcpy(f->locids + f->nlocids, x->location_id, x->n_location_id * sizeof(uint64_t));
		f->nlocids += x->n_location_id;
		o->nlab = (uint32_t)x->n_label;
		o->lab_off = f->nlabs;
		for (j = 0; j < x->n_label; j++) {
			struct pprof_stream_label *l = &f->labs[f->nlabs++];
			l->key = x->label[j]->key;
			l->str = x->label[j]->str;
			l->num = x->label[j]->num;
			l->num_unit = x->label[j]->num_unit;
		}
		/* a validated profile: n_value == nt */
		if (nt)
			memcpy(f->vals + i * nt, x->value, nt * sizeof(int64_t));
	}
	f->nsample = m->n_sample;
}
