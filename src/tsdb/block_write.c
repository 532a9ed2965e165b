/*
 * Blocks: the writer, used by the head cut and by compaction (tsdb__bw_*),
 * and block names. The format: docs/format/block.md and docs/format/index.md.
 */
#include "tsdb/block-internal.h"
#include "tsdb/codec/codec.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK_PROFILES 64 /* profiles per chunk: bounds the work of one read */

/* ---- names ------------------------------------------------------------- */

void tsdb__block_new_name(char *out)
{
	static const char enc[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
	uint8_t b[16];
	uint64_t ms = (uint64_t)(pf_now_ns() / 1000000);
	unsigned __int128 v = 0;

	for (int i = 0; i < 6; i++)
		b[i] = (uint8_t)(ms >> (40 - 8 * i));
	if (getrandom(b + 6, 10, 0) != 10) {
		uint64_t x = pf_hash64(&ms, sizeof(ms), (uint64_t)pf_mono_ns());
		memcpy(b + 6, &x, 8);
		b[14] = (uint8_t)getpid();
		b[15] = (uint8_t)(getpid() >> 8);
	}
	for (int i = 0; i < 16; i++)
		v = v << 8 | b[i];
	/* 26 base32 digits of the 128-bit value, most significant first */
	for (int i = 25; i >= 0; i--) {
		out[i] = enc[(unsigned)(v & 31)];
		v >>= 5;
	}
	out[26] = 0;
}

int tsdb__block_name_ok(const char *s)
{
	if (strlen(s) != 26)
		return 0;
	for (const char *p = s; *p; p++)
		if (!strchr("0123456789ABCDEFGHJKMNPQRSTVWXYZ", *p))
			return 0;
	return 1;
}

/* ---- files ------------------------------------------------------------- */

/* pf_pwrite_full saying what failed in which file. */
static int write_at(int fd, const void *p, size_t n, uint64_t off, const char *path,
		    struct pf_err *err)
{
	if (pf_pwrite_full(fd, p, n, off) < 0)
		return pf_err_set(err, PF_EIO, "write %s: %s", path, strerror(errno));
	return 0;
}

static void file_header(uint8_t *h, uint32_t magic)
{
	pf_put_le32(h, magic);
	pf_put_le32(h + 4, TSDB__BLOCK_VERSION);
}

/* ---- writer ------------------------------------------------------------ */

struct bw_series {
	uint64_t hash, max_seq;
	uint32_t service;
	uint32_t nlabels;
	uint32_t *labels; /* name, value symbol pairs */
	struct pf_buf entries;
	uint64_t nentries;
	int64_t last_t;
};

/* An entry waiting for its chunk to be finished (its offset is unknown). */
struct bw_pending {
	int64_t t_ns;
	uint32_t seq;
	uint8_t kind;
	uint64_t size;
	uint32_t ntotals;
	uint32_t *totals; /* type, unit symbol pairs */
	int64_t *values;
};

struct bw_service {
	uint32_t name;
	struct tsdb__symtab *st;
	int borrowed; /* a head group's table (bw_series_st) */
};

struct tsdb__bw {
	char *blocks_dir;
	char name[27];
	char tmp[PATH_MAX], path[PATH_MAX];
	int chunks_fd;
	uint64_t chunks_off;
	uint64_t nchunks, nprofiles;
	int64_t min_t, max_t;

	struct pf_map *sym_map;
	char **syms;
	size_t nsyms, capsyms;

	struct bw_series *series;
	size_t nseries, capseries;

	struct bw_service *services;
	size_t nservices, capservices;
	struct pf_map *service_map;

	/* compaction: a transcoder per (source table, service of this block) */
	struct pf_map *tc_map;
	struct tsdb__transcoder **tcs;
	size_t ntcs, captcs;

	/* the series being written */
	struct tsdb__chunk_enc *enc;
	struct bw_pending *pending;
	size_t npending, cappending;
	struct pf_buf chunk;
	int committed;
	int copying; /* pending entries of a copied chunk: no flush at 64 */
};

static uint32_t bw_sym(struct tsdb__bw *w, const char *s)
{
	size_t n = strlen(s);
	uint64_t v = w->nsyms;

	if (pf_map_get_or_put(w->sym_map, s, n, &v))
		return (uint32_t)v;
	pf_xgrow((void **)&w->syms, &w->capsyms, w->nsyms + 1, sizeof(char *));
	w->syms[w->nsyms++] = pf_xstrndup(s, n);
	return (uint32_t)v;
}

int tsdb__bw_new(const char *blocks_dir, struct tsdb__bw **out, struct pf_err *err)
{
	struct tsdb__bw *w = pf_xcalloc(1, sizeof(*w));
	char path[PATH_MAX + 16];
	uint8_t hdr[TSDB__BLOCK_HDR];
	int rc;

	*out = NULL;
	w->chunks_fd = -1;
	w->blocks_dir = pf_xstrdup(blocks_dir);
	w->sym_map = pf_map_new(256);
	w->service_map = pf_map_new(8);
	w->tc_map = pf_map_new(16);
	pf_buf_init(&w->chunk, 0);
	tsdb__block_new_name(w->name);
	snprintf(w->tmp, sizeof(w->tmp), "%s/%s.tmp", blocks_dir, w->name);
	snprintf(w->path, sizeof(w->path), "%s/%s", blocks_dir, w->name);
	if ((rc = pf_mkdir_p(w->tmp, err)) < 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/chunks", w->tmp);
	w->chunks_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w->chunks_fd < 0) {
		rc = pf_err_set(err, PF_EIO, "create %s: %s", path, strerror(errno));
		goto fail;
	}
	file_header(hdr, TSDB__BLOCK_CHUNKS_MAGIC);
	if ((rc = write_at(w->chunks_fd, hdr, sizeof(hdr), 0, path, err)) < 0)
		goto fail;
	w->chunks_off = sizeof(hdr);
	bw_sym(w, ""); /* symbol 0 */
	*out = w;
	return 0;
fail:
	tsdb__bw_free(w);
	return rc;
}

/* Write the chunk in w->chunk, then the pending entries it holds. */
static int bw_write_chunk(struct tsdb__bw *w, struct pf_err *err)
{
	struct bw_series *s = &w->series[w->nseries - 1];
	char path[PATH_MAX + 16];
	int rc;

	snprintf(path, sizeof(path), "%s/chunks", w->tmp);
	if ((rc = write_at(w->chunks_fd, w->chunk.data, w->chunk.len, w->chunks_off, path, err)) < 0)
		return rc;
	for (size_t i = 0; i < w->npending; i++) {
		struct bw_pending *p = &w->pending[i];
		struct pf_buf *b = &s->entries;
		pf_buf_put_uvarint(b, pf_zigzag(p->t_ns - s->last_t));
		s->last_t = p->t_ns;
		pf_buf_put_uvarint(b, p->seq);
		pf_buf_putc(b, p->kind);
		pf_buf_put_uvarint(b, p->size);
		pf_buf_put_uvarint(b, w->chunks_off);
		pf_buf_put_uvarint(b, w->chunk.len);
		pf_buf_put_uvarint(b, i);
		pf_buf_put_uvarint(b, p->ntotals);
		for (uint32_t j = 0; j < p->ntotals; j++) {
			pf_buf_put_uvarint(b, p->totals[2 * j]);
			pf_buf_put_uvarint(b, p->totals[2 * j + 1]);
			pf_buf_put_uvarint(b, pf_zigzag(p->values[j]));
		}
		free(p->totals);
		free(p->values);
		s->nentries++;
	}
	w->chunks_off += w->chunk.len;
	w->nchunks++;
	w->npending = 0;
	return 0;
}

/* Finish the chunk being built: write it, then the entries it holds. */
static int bw_flush_chunk(struct tsdb__bw *w, struct pf_err *err)
{
	int rc;

	if (!w->enc || w->npending == 0)
		return 0;
	pf_buf_reset(&w->chunk);
	if ((rc = tsdb__chunk_enc_finish(w->enc, &w->chunk, err)) < 0)
		return rc;
	return bw_write_chunk(w, err);
}

static int bw_end_series(struct tsdb__bw *w, struct pf_err *err)
{
	int rc = 0;
	if (w->nseries)
		rc = bw_flush_chunk(w, err);
	tsdb__chunk_enc_free(w->enc);
	w->enc = NULL;
	return rc;
}

int tsdb__bw_series(struct tsdb__bw *w, uint64_t hash, const char *const *names,
		    const char *const *values, size_t nlabels, uint64_t max_seq,
		    struct pf_err *err)
{
	return tsdb__bw_series_st(w, hash, names, values, nlabels, max_seq, NULL, err);
}

int tsdb__bw_series_st(struct tsdb__bw *w, uint64_t hash, const char *const *names,
		       const char *const *values, size_t nlabels, uint64_t max_seq,
		       struct tsdb__symtab *st, struct pf_err *err)
{
	struct bw_series *s;
	const char *service = "";
	uint64_t sidx;
	int rc;

	if ((rc = bw_end_series(w, err)) < 0)
		return rc;
	for (size_t i = 0; i < nlabels; i++)
		if (strcmp(names[i], "service") == 0)
			service = values[i];
	pf_xgrow((void **)&w->series, &w->capseries, w->nseries + 1, sizeof(*w->series));
	s = &w->series[w->nseries++];
	memset(s, 0, sizeof(*s));
	s->hash = hash;
	s->max_seq = max_seq;
	s->nlabels = (uint32_t)nlabels;
	s->labels = pf_xcalloc(nlabels ? 2 * nlabels : 1, sizeof(uint32_t));
	for (size_t i = 0; i < nlabels; i++) {
		s->labels[2 * i] = bw_sym(w, names[i]);
		s->labels[2 * i + 1] = bw_sym(w, values[i]);
	}
	pf_buf_init(&s->entries, 0);
	sidx = w->nservices;
	if (!pf_map_get_or_put(w->service_map, service, strlen(service), &sidx)) {
		pf_xgrow((void **)&w->services, &w->capservices, w->nservices + 1,
			 sizeof(*w->services));
		w->services[w->nservices].name = bw_sym(w, service);
		w->services[w->nservices].st = st ? st : tsdb__symtab_new();
		w->services[w->nservices].borrowed = st != NULL;
		w->nservices++;
	}
	s->service = (uint32_t)sidx;
	w->enc = tsdb__chunk_enc_new(w->services[sidx].st);
	return 0;
}

/* Record an entry for the profile just added to w->enc. */
static int bw_pending_add(struct tsdb__bw *w, int64_t t_ns, uint32_t seq, uint8_t kind,
			  uint64_t size, const struct tsdb_total *totals, size_t ntotals,
			  struct pf_err *err)
{
	struct bw_pending *pe;

	pf_xgrow((void **)&w->pending, &w->cappending, w->npending + 1, sizeof(*w->pending));
	pe = &w->pending[w->npending++];
	memset(pe, 0, sizeof(*pe));
	pe->t_ns = t_ns;
	pe->seq = seq;
	pe->kind = kind;
	pe->size = size;
	pe->ntotals = (uint32_t)ntotals;
	if (ntotals) {
		pe->totals = pf_xcalloc(2 * ntotals, sizeof(uint32_t));
		pe->values = pf_xcalloc(ntotals, sizeof(int64_t));
		for (size_t i = 0; i < ntotals; i++) {
			pe->totals[2 * i] = bw_sym(w, totals[i].type);
			pe->totals[2 * i + 1] = bw_sym(w, totals[i].unit);
			pe->values[i] = totals[i].value;
		}
	}
	if (w->nprofiles == 0 || t_ns < w->min_t)
		w->min_t = t_ns;
	if (w->nprofiles == 0 || t_ns > w->max_t)
		w->max_t = t_ns;
	w->nprofiles++;
	if (w->npending >= CHUNK_PROFILES && !w->copying)
		return bw_flush_chunk(w, err);
	return 0;
}

struct tsdb__symtab *tsdb__bw_symtab(const struct tsdb__bw *w)
{
	return w->nseries ? w->services[w->series[w->nseries - 1].service].st : NULL;
}

int tsdb__bw_add_chunk(struct tsdb__bw *w, const void *chunk, size_t len,
		       const struct tsdb__bw_prof *profs, size_t n, struct pf_err *err)
{
	int rc;

	if (!w->enc)
		return pf_err_set(err, PF_EINVAL, "block writer: profile added before its series");
	if ((rc = bw_flush_chunk(w, err)) < 0)
		return rc;
	w->copying = 1;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = bw_pending_add(w, profs[i].t_ns, profs[i].seq, profs[i].kind, profs[i].size,
				    profs[i].totals, profs[i].ntotals, err);
	w->copying = 0;
	if (rc == 0) {
		pf_buf_reset(&w->chunk);
		if ((rc = pf_buf_append(&w->chunk, chunk, len)) < 0)
			rc = pf_err_set(err, rc, "cannot copy a chunk of %zu bytes", len);
	}
	if (rc == 0)
		return bw_write_chunk(w, err);
	/* undo the entries (the block is abandoned on error anyway) */
	for (size_t i = 0; i < w->npending; i++) {
		free(w->pending[i].totals);
		free(w->pending[i].values);
	}
	w->npending = 0;
	return rc;
}

int tsdb__bw_add(struct tsdb__bw *w, int64_t t_ns, uint32_t seq, uint8_t kind, uint64_t size,
		 const struct tsdb_total *totals, size_t ntotals, const struct pprof_profile *p,
		 const void *raw, size_t rawlen, struct pf_err *err)
{
	int rc;

	if (!w->enc)
		return pf_err_set(err, PF_EINVAL, "block writer: profile added before its series");
	if (p)
		rc = tsdb__chunk_enc_add_pprof(w->enc, p, err);
	else
		rc = tsdb__chunk_enc_add_raw(w->enc, raw, rawlen, err);
	if (rc < 0)
		return rc;
	return bw_pending_add(w, t_ns, seq, kind, size, totals, ntotals, err);
}

int tsdb__bw_add_from(struct tsdb__bw *w, int64_t t_ns, uint32_t seq, uint8_t kind,
		      uint64_t size, const struct tsdb_total *totals, size_t ntotals,
		      const struct tsdb__symtab *src, struct tsdb__chunk_dec *dec, size_t idx,
		      struct pf_err *err)
{
	struct {
		const struct tsdb__symtab *src;
		uint64_t service;
	} key;
	uint64_t ti;
	int rc;

	if (!w->enc)
		return pf_err_set(err, PF_EINVAL, "block writer: profile added before its series");
	memset(&key, 0, sizeof(key));
	key.src = src;
	key.service = w->series[w->nseries - 1].service;
	ti = w->ntcs;
	if (!pf_map_get_or_put(w->tc_map, &key, sizeof(key), &ti)) {
		pf_xgrow((void **)&w->tcs, &w->captcs, w->ntcs + 1, sizeof(*w->tcs));
		w->tcs[w->ntcs++] = tsdb__transcoder_new(src, w->services[key.service].st);
	}
	if ((rc = tsdb__chunk_enc_add_from(w->enc, w->tcs[ti], dec, idx, err)) < 0)
		return rc;
	return bw_pending_add(w, t_ns, seq, kind, size, totals, ntotals, err);
}

uint64_t tsdb__bw_count(const struct tsdb__bw *w)
{
	return w->nprofiles;
}

static void put_section(struct pf_buf *file, const struct pf_buf *payload)
{
	pf_buf_put_le64(file, payload->len);
	pf_buf_put_le32(file, pf_crc32c(0, payload->data, payload->len));
	pf_buf_append(file, payload->data, payload->len);
}

struct pair_ref {
	const char *name, *value;
	uint32_t nsym, vsym;
	uint32_t *ids;
	size_t n, cap;
};

static int cmp_pair(const void *a, const void *b)
{
	const struct pair_ref *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->value, y->value);
}

/* Create path with data and fsync it before returning. */
static int write_file_synced(const char *path, const void *data, size_t len, struct pf_err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), rc;
	if (fd < 0)
		return pf_err_set(err, PF_EIO, "create %s: %s", path, strerror(errno));
	rc = write_at(fd, data, len, 0, path, err);
	if (rc == 0 && fsync(fd) < 0)
		rc = pf_err_set(err, PF_EIO, "fsync %s: %s", path, strerror(errno));
	close(fd);
	return rc;
}

int tsdb__bw_commit(struct tsdb__bw *w, uint32_t level, const char *const *sources,
		    size_t nsources, char *name, struct pf_err *err)
{
	struct pf_buf file = PF_BUF_INIT(0), sec = PF_BUF_INIT(0), syms = PF_BUF_INIT(0);
	struct pf_map *pmap = pf_map_new(256);
	struct pair_ref *pairs = NULL;
	size_t npairs = 0, cappairs = 0;
	uint64_t *svc_off = NULL, *svc_len = NULL;
	char path[PATH_MAX + 16];
	uint8_t hdr[TSDB__BLOCK_HDR];
	int rc;

	if ((rc = bw_end_series(w, err)) < 0)
		goto out;
	snprintf(path, sizeof(path), "%s/chunks", w->tmp);
	if (fsync(w->chunks_fd) < 0) {
		rc = pf_err_set(err, PF_EIO, "fsync %s: %s", path, strerror(errno));
		goto out;
	}
	close(w->chunks_fd);
	w->chunks_fd = -1;

	/* symbols file */
	file_header(hdr, TSDB__BLOCK_SYMS_MAGIC);
	pf_buf_append(&syms, hdr, sizeof(hdr));
	svc_off = pf_xcalloc(w->nservices + 1, sizeof(uint64_t));
	svc_len = pf_xcalloc(w->nservices + 1, sizeof(uint64_t));
	for (size_t i = 0; i < w->nservices; i++) {
		svc_off[i] = syms.len;
		if ((rc = tsdb__symtab_write(w->services[i].st, &syms, err)) < 0)
			goto out;
		svc_len[i] = syms.len - svc_off[i];
	}
	snprintf(path, sizeof(path), "%s/symbols", w->tmp);
	if ((rc = write_file_synced(path, syms.data, syms.len, err)) < 0)
		goto out;

	/* postings */
	for (size_t i = 0; i < w->nseries; i++) {
		struct bw_series *s = &w->series[i];
		for (uint32_t j = 0; j < s->nlabels; j++) {
			uint8_t key[8];
			uint64_t idx = npairs;
			pf_put_le32(key, s->labels[2 * j]);
			pf_put_le32(key + 4, s->labels[2 * j + 1]);
			if (!pf_map_get_or_put(pmap, key, sizeof(key), &idx)) {
				pf_xgrow((void **)&pairs, &cappairs, npairs + 1, sizeof(*pairs));
				memset(&pairs[npairs], 0, sizeof(*pairs));
				pairs[npairs].nsym = s->labels[2 * j];
				pairs[npairs].vsym = s->labels[2 * j + 1];
				pairs[npairs].name = w->syms[s->labels[2 * j]];
				pairs[npairs].value = w->syms[s->labels[2 * j + 1]];
				npairs++;
			}
			struct pair_ref *pr = &pairs[idx];
			pf_xgrow((void **)&pr->ids, &pr->cap, pr->n + 1, sizeof(uint32_t));
			pr->ids[pr->n++] = (uint32_t)i;
		}
	}
	if (npairs > 1)
		qsort(pairs, npairs, sizeof(*pairs), cmp_pair);

	/* index file */
	file_header(hdr, TSDB__BLOCK_INDEX_MAGIC);
	pf_buf_append(&file, hdr, sizeof(hdr));
	/* META */
	pf_buf_put_le64(&sec, (uint64_t)w->min_t);
	pf_buf_put_le64(&sec, (uint64_t)w->max_t);
	pf_buf_put_uvarint(&sec, w->nseries);
	pf_buf_put_uvarint(&sec, w->nprofiles);
	pf_buf_put_uvarint(&sec, w->nchunks);
	pf_buf_put_uvarint(&sec, level);
	pf_buf_put_uvarint(&sec, nsources);
	for (size_t i = 0; i < nsources; i++)
		pf_buf_put_bytes(&sec, sources[i], strlen(sources[i]));
	put_section(&file, &sec);
	/* SYMBOLS */
	pf_buf_reset(&sec);
	pf_buf_put_uvarint(&sec, w->nsyms);
	for (size_t i = 0; i < w->nsyms; i++) {
		pf_buf_put_bytes(&sec, w->syms[i], strlen(w->syms[i]));
		pf_buf_putc(&sec, 0);
	}
	put_section(&file, &sec);
	/* SERVICES */
	pf_buf_reset(&sec);
	pf_buf_put_uvarint(&sec, w->nservices);
	for (size_t i = 0; i < w->nservices; i++) {
		pf_buf_put_uvarint(&sec, w->services[i].name);
		pf_buf_put_uvarint(&sec, svc_off[i]);
		pf_buf_put_uvarint(&sec, svc_len[i]);
	}
	put_section(&file, &sec);
	/* SERIES */
	pf_buf_reset(&sec);
	pf_buf_put_uvarint(&sec, w->nseries);
	{
		struct pf_buf rec = PF_BUF_INIT(0);
		for (size_t i = 0; i < w->nseries; i++) {
			struct bw_series *s = &w->series[i];
			pf_buf_reset(&rec);
			pf_buf_put_le64(&rec, s->hash);
			pf_buf_put_uvarint(&rec, s->max_seq);
			pf_buf_put_uvarint(&rec, s->service);
			pf_buf_put_uvarint(&rec, s->nlabels);
			for (uint32_t j = 0; j < 2 * s->nlabels; j++)
				pf_buf_put_uvarint(&rec, s->labels[j]);
			pf_buf_put_uvarint(&rec, s->nentries);
			pf_buf_append(&rec, s->entries.data, s->entries.len);
			pf_buf_put_bytes(&sec, rec.data, rec.len);
		}
		pf_buf_free(&rec);
	}
	put_section(&file, &sec);
	/* POSTINGS */
	pf_buf_reset(&sec);
	pf_buf_put_uvarint(&sec, npairs);
	for (size_t i = 0; i < npairs; i++) {
		uint32_t prev = 0;
		pf_buf_put_uvarint(&sec, pairs[i].nsym);
		pf_buf_put_uvarint(&sec, pairs[i].vsym);
		pf_buf_put_uvarint(&sec, pairs[i].n);
		for (size_t j = 0; j < pairs[i].n; j++) {
			pf_buf_put_uvarint(&sec, pairs[i].ids[j] - prev);
			prev = pairs[i].ids[j];
		}
	}
	put_section(&file, &sec);
	snprintf(path, sizeof(path), "%s/index", w->tmp);
	if ((rc = write_file_synced(path, file.data, file.len, err)) < 0)
		goto out;
	if ((rc = pf_fsync_dir(w->tmp, err)) < 0)
		goto out;
	if (rename(w->tmp, w->path) < 0) {
		rc = pf_err_set(err, PF_EIO, "rename %s to %s: %s", w->tmp, w->path, strerror(errno));
		goto out;
	}
	if ((rc = pf_fsync_dir(w->blocks_dir, err)) < 0)
		goto out;
	w->committed = 1;
	if (name)
		memcpy(name, w->name, sizeof(w->name));
out:
	for (size_t i = 0; i < npairs; i++)
		free(pairs[i].ids);
	free(pairs);
	pf_map_free(pmap);
	free(svc_off);
	free(svc_len);
	pf_buf_free(&file);
	pf_buf_free(&sec);
	pf_buf_free(&syms);
	return rc;
}

void tsdb__bw_free(struct tsdb__bw *w)
{
	if (!w)
		return;
	if (w->chunks_fd >= 0)
		close(w->chunks_fd);
	if (!w->committed && w->tmp[0])
		pf_rm_rf(w->tmp);
	tsdb__chunk_enc_free(w->enc);
	for (size_t i = 0; i < w->npending; i++) {
		free(w->pending[i].totals);
		free(w->pending[i].values);
	}
	free(w->pending);
	for (size_t i = 0; i < w->nseries; i++) {
		free(w->series[i].labels);
		pf_buf_free(&w->series[i].entries);
	}
	free(w->series);
	for (size_t i = 0; i < w->ntcs; i++)
		tsdb__transcoder_free(w->tcs[i]);
	free(w->tcs);
	pf_map_free(w->tc_map);
	for (size_t i = 0; i < w->nservices; i++)
		if (!w->services[i].borrowed)
			tsdb__symtab_free(w->services[i].st);
	free(w->services);
	for (size_t i = 0; i < w->nsyms; i++)
		free(w->syms[i]);
	free(w->syms);
	pf_map_free(w->sym_map);
	pf_map_free(w->service_map);
	pf_buf_free(&w->chunk);
	free(w->blocks_dir);
	free(w);
}
