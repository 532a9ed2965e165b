/*
 * Blocks: immutable directories of symbolized, compressed profiles.
 *
 *   <dir>/blocks/<ULID>/index     series, label postings, per-profile entries
 *   <dir>/blocks/<ULID>/symbols   one symbol table per service (codec.h)
 *   <dir>/blocks/<ULID>/chunks    chunks of consecutive profiles of one series
 *
 * A block is written under <ULID>.tmp, every file fsync'd, then renamed into
 * place and the parent fsync'd: it either exists whole or not at all.
 *
 * Every file starts with a magic and a version (u32le each). All integers
 * are little-endian or varints.
 *
 * index: after the header, five sections, each
 *     len u64le | crc32c(payload) u32le | payload
 *   META      min_t i64le, max_t i64le, uvarints nseries, nprofiles, nchunks,
 *             level, nsources, then each source block name (uvarint len, bytes)
 *   SYMBOLS   uvarint n, then n strings (uvarint len, bytes, a NUL byte)
 *   SERVICES  uvarint n, then per service: name symbol, offset and length of
 *             its symbol table in the symbols file (uvarints)
 *   SERIES    uvarint n, then per series: uvarint record length, record:
 *             hash u64le, max_seq, service index, nlabels, (name, value)
 *             symbol pairs, nentries, then per entry (ascending (t, seq)):
 *             zigzag t delta, seq, kind u8, body size, chunk offset, chunk
 *             length, index in chunk, ntotals, (type, unit, zigzag value)
 *   POSTINGS  uvarint n, then per label pair sorted by (name, value) as
 *             strings: name symbol, value symbol, count, ascending series
 *             ordinals as uvarint deltas
 *   The SERIES entries are the per-profile summary: queries over time and
 *   totals never open a chunk.
 * symbols: header, then the symbol tables (each self-checking, codec.h).
 * chunks: header, then chunks (each self-checking, codec.h).
 *
 * A reader loads and verifies the index at open; chunks and symbol tables are
 * read when asked for (one chunk at a time; symbol tables cached per block).
 */
#include "tsdb/tsdb-internal.h"
#include "tsdb/codec/codec.h"

#include <dirent.h>
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

/* pf_pwrite_full and pf_pread_full saying what failed in which file; a
 * block file that ends early is corrupt. */
static int write_at(int fd, const void *p, size_t n, uint64_t off, const char *path,
		    struct pf_err *err)
{
	if (pf_pwrite_full(fd, p, n, off) < 0)
		return pf_err_set(err, PF_EIO, "write %s: %s", path, strerror(errno));
	return 0;
}

static int pread_all(int fd, void *p, size_t n, uint64_t off, const char *path,
		     struct pf_err *err)
{
	ssize_t r = pf_pread_full(fd, p, n, off);
	if (r < 0)
		return pf_err_set(err, PF_EIO, "read %s at %" PRIu64 ": %s", path, off,
				  strerror(errno));
	if ((size_t)r < n)
		return pf_err_set(err, PF_ECORRUPT, "%s:%" PRIu64 ": unexpected end of file",
				  path, off + (uint64_t)r);
	return 0;
}

static void file_header(uint8_t *h, uint32_t magic)
{
	pf_put_le32(h, magic);
	pf_put_le32(h + 4, TSDB__BLOCK_VERSION);
}

static int check_header(const uint8_t *h, size_t n, uint32_t magic, const char *path,
			struct pf_err *err)
{
	if (n < 8 || pf_get_le32(h) != magic)
		return pf_err_set(err, PF_ECORRUPT, "%s:0: not a profefe block file (bad magic)", path);
	if (pf_get_le32(h + 4) != TSDB__BLOCK_VERSION)
		return pf_err_set(err, PF_ECORRUPT, "%s:4: unsupported block file version %u", path,
				  pf_get_le32(h + 4));
	return 0;
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
	uint8_t hdr[8];
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

/* Finish the chunk being built: write it, then the entries it holds. */
static int bw_flush_chunk(struct tsdb__bw *w, struct pf_err *err)
{
	struct bw_series *s = &w->series[w->nseries - 1];
	char path[PATH_MAX + 16];
	int rc;

	if (!w->enc || w->npending == 0)
		return 0;
	pf_buf_reset(&w->chunk);
	if ((rc = tsdb__chunk_enc_finish(w->enc, &w->chunk, err)) < 0)
		return rc;
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
		w->services[w->nservices].st = tsdb__symtab_new();
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
	if (w->npending >= CHUNK_PROFILES)
		return bw_flush_chunk(w, err);
	return 0;
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
	uint8_t hdr[8];
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

/* ---- reader ------------------------------------------------------------ */

struct br_series {
	uint64_t hash, max_seq;
	uint32_t service;
	uint32_t nlabels;
	const uint32_t *labels; /* into b->label_syms */
	const uint8_t *entries; /* encoded entries in the index buffer */
	size_t entries_len;
	uint64_t nentries;
	int64_t min_t, max_t;
};

struct br_pair {
	uint32_t name, value;
	const uint8_t *ids; /* encoded */
	size_t len;
	uint64_t count;
};

struct br_service {
	uint32_t name;
	uint64_t off, len;
	struct tsdb__symtab *st; /* loaded on first use (b->mu) */
};

struct hash_ord {
	uint64_t hash;
	uint32_t ord;
};

struct tsdb__block {
	int refs; /* atomic */
	int deleted;
	int no_compact; /* atomic: a compaction found a corrupt chunk in it */
	char *path;
	char chunks_path[PATH_MAX], symbols_path[PATH_MAX], index_path[PATH_MAX];
	int chunks_fd, symbols_fd;
	struct tsdb__block_info info;
	char **sources;

	uint8_t *index;
	size_t index_len;
	const char **syms;
	size_t nsyms;
	struct br_service *services;
	size_t nservices;
	struct br_series *series;
	uint32_t *label_syms;
	struct hash_ord *by_hash;
	struct br_pair *pairs;
	size_t npairs;
	pthread_mutex_t mu;
};

static int sec_next(struct pf_reader *r, const struct tsdb__block *b, const char *what,
		    struct pf_reader *out, struct pf_err *err)
{
	size_t off = (size_t)(r->p - b->index);
	uint64_t len = pf_read_le64(r);
	uint32_t crc = pf_read_le32(r);
	const uint8_t *p;

	if (r->bad || len > pf_reader_left(r))
		return pf_err_set(err, PF_ECORRUPT, "%s:%zu: %s section truncated", b->index_path,
				  off, what);
	p = pf_read_raw(r, (size_t)len);
	if (pf_crc32c(0, p, (size_t)len) != crc)
		return pf_err_set(err, PF_ECORRUPT, "%s:%zu: %s section checksum mismatch",
				  b->index_path, off, what);
	pf_reader_init(out, p, (size_t)len);
	return 0;
}

#define BAD(what) \
	do { \
		rc = pf_err_set(err, PF_ECORRUPT, "%s:%zu: %s", b->index_path, \
				(size_t)(r.p - b->index), what); \
		goto fail; \
	} while (0)

static int cmp_hash_ord(const void *a, const void *b)
{
	const struct hash_ord *x = a, *y = b;
	return x->hash < y->hash ? -1 : x->hash > y->hash;
}

/* Walk one series' entries: fills min/max t, or checks them. */
static int entries_scan(const struct tsdb__block *b, const struct br_series *s, int64_t *min_t,
			int64_t *max_t)
{
	struct pf_reader r;
	int64_t t = 0;

	pf_reader_init(&r, s->entries, s->entries_len);
	for (uint64_t i = 0; i < s->nentries; i++) {
		t += pf_unzigzag(pf_read_uvarint(&r));
		pf_read_uvarint(&r); /* seq */
		pf_read_u8(&r);
		pf_read_uvarint(&r);
		pf_read_uvarint(&r);
		pf_read_uvarint(&r);
		pf_read_uvarint(&r);
		uint64_t nt = pf_read_uvarint(&r);
		if (nt > pf_reader_left(&r))
			return -1;
		for (uint64_t j = 0; j < nt && !r.bad; j++) {
			if (pf_read_uvarint(&r) >= b->nsyms || pf_read_uvarint(&r) >= b->nsyms)
				return -1;
			pf_read_uvarint(&r);
		}
		if (r.bad)
			return -1;
		if (i == 0)
			*min_t = t;
		*max_t = t;
	}
	return r.bad || pf_reader_left(&r) ? -1 : 0;
}

int tsdb__block_open(const char *blocks_dir, const char *name, struct tsdb__block **out,
		     struct pf_err *err)
{
	struct tsdb__block *b = pf_xcalloc(1, sizeof(*b));
	struct pf_buf buf = PF_BUF_INIT(0);
	struct pf_reader r, s;
	size_t nlabel_syms = 0, caplabel = 0;
	uint8_t hdr[8];
	int rc;

	*out = NULL;
	b->refs = 1;
	b->chunks_fd = b->symbols_fd = -1;
	pthread_mutex_init(&b->mu, NULL);
	b->path = pf_xmalloc(strlen(blocks_dir) + strlen(name) + 2);
	snprintf(b->path, strlen(blocks_dir) + strlen(name) + 2, "%s/%s", blocks_dir, name);
	snprintf(b->index_path, sizeof(b->index_path), "%s/index", b->path);
	snprintf(b->chunks_path, sizeof(b->chunks_path), "%s/chunks", b->path);
	snprintf(b->symbols_path, sizeof(b->symbols_path), "%s/symbols", b->path);
	b->info.name = pf_xstrdup(name);

	if ((rc = pf_read_file(b->index_path, (size_t)1 << 34, &buf, err)) < 0)
		goto fail;
	b->index = pf_buf_steal(&buf, &b->index_len);
	if ((rc = check_header(b->index, b->index_len, TSDB__BLOCK_INDEX_MAGIC, b->index_path,
			       err)) < 0)
		goto fail;
	pf_reader_init(&r, b->index + 8, b->index_len - 8);

	/* META */
	if ((rc = sec_next(&r, b, "meta", &s, err)) < 0)
		goto fail;
	b->info.min_t = (int64_t)pf_read_le64(&s);
	b->info.max_t = (int64_t)pf_read_le64(&s);
	b->info.nseries = pf_read_uvarint(&s);
	b->info.nprofiles = pf_read_uvarint(&s);
	b->info.nchunks = pf_read_uvarint(&s);
	b->info.level = (uint32_t)pf_read_uvarint(&s);
	b->info.nsources = pf_read_uvarint(&s);
	if (s.bad || b->info.nsources > pf_reader_left(&s) || b->info.nseries > b->index_len)
		BAD("meta section malformed");
	b->sources = pf_xcalloc(b->info.nsources + 1, sizeof(char *));
	for (size_t i = 0; i < b->info.nsources; i++) {
		size_t n;
		const uint8_t *p = pf_read_bytes(&s, &n);
		if (s.bad)
			BAD("meta section malformed");
		b->sources[i] = pf_xstrndup((const char *)p, n);
	}
	b->info.sources = (const char *const *)b->sources;

	/* SYMBOLS */
	if ((rc = sec_next(&r, b, "symbols", &s, err)) < 0)
		goto fail;
	b->nsyms = pf_read_uvarint(&s);
	if (s.bad || b->nsyms > pf_reader_left(&s) || b->nsyms == 0)
		BAD("symbols section malformed");
	b->syms = pf_xcalloc(b->nsyms, sizeof(char *));
	for (size_t i = 0; i < b->nsyms; i++) {
		size_t n;
		const uint8_t *p = pf_read_bytes(&s, &n);
		if (s.bad || pf_read_u8(&s) != 0 || s.bad || memchr(p, 0, n))
			BAD("symbols section malformed");
		b->syms[i] = (const char *)p;
	}

	/* SERVICES */
	if ((rc = sec_next(&r, b, "services", &s, err)) < 0)
		goto fail;
	b->nservices = pf_read_uvarint(&s);
	if (s.bad || b->nservices > pf_reader_left(&s))
		BAD("services section malformed");
	b->services = pf_xcalloc(b->nservices + 1, sizeof(*b->services));
	for (size_t i = 0; i < b->nservices; i++) {
		b->services[i].name = (uint32_t)pf_read_uvarint(&s);
		b->services[i].off = pf_read_uvarint(&s);
		b->services[i].len = pf_read_uvarint(&s);
		if (s.bad || b->services[i].name >= b->nsyms)
			BAD("services section malformed");
	}

	/* SERIES */
	if ((rc = sec_next(&r, b, "series", &s, err)) < 0)
		goto fail;
	if (pf_read_uvarint(&s) != b->info.nseries || s.bad)
		BAD("series count disagrees with the meta section");
	b->series = pf_xcalloc(b->info.nseries + 1, sizeof(*b->series));
	b->by_hash = pf_xcalloc(b->info.nseries + 1, sizeof(*b->by_hash));
	{
		/* label symbols are collected first; pointers fixed after */
		size_t *label_at = pf_xcalloc(b->info.nseries + 1, sizeof(size_t));
		uint64_t total = 0;
		for (size_t i = 0; i < b->info.nseries; i++) {
			struct br_series *se = &b->series[i];
			struct pf_reader q;
			size_t n;
			const uint8_t *p = pf_read_bytes(&s, &n);
			if (s.bad) {
				free(label_at);
				BAD("series section truncated");
			}
			pf_reader_init(&q, p, n);
			se->hash = pf_read_le64(&q);
			se->max_seq = pf_read_uvarint(&q);
			se->service = (uint32_t)pf_read_uvarint(&q);
			se->nlabels = (uint32_t)pf_read_uvarint(&q);
			if (q.bad || se->service >= b->nservices || se->nlabels > TSDB__MAX_LABELS) {
				free(label_at);
				BAD("series record malformed");
			}
			label_at[i] = nlabel_syms;
			for (uint32_t j = 0; j < 2 * se->nlabels; j++) {
				uint64_t v = pf_read_uvarint(&q);
				if (v >= b->nsyms)
					q.bad = 1;
				pf_xgrow((void **)&b->label_syms, &caplabel, nlabel_syms + 1,
					 sizeof(uint32_t));
				b->label_syms[nlabel_syms++] = (uint32_t)v;
			}
			se->nentries = pf_read_uvarint(&q);
			if (q.bad || se->nentries > pf_reader_left(&q)) {
				free(label_at);
				BAD("series record malformed");
			}
			se->entries = q.p;
			se->entries_len = pf_reader_left(&q);
			if (entries_scan(b, se, &se->min_t, &se->max_t) < 0) {
				free(label_at);
				BAD("series entries malformed");
			}
			total += se->nentries;
			b->by_hash[i].hash = se->hash;
			b->by_hash[i].ord = (uint32_t)i;
		}
		for (size_t i = 0; i < b->info.nseries; i++)
			b->series[i].labels = b->label_syms ? b->label_syms + label_at[i] : NULL;
		free(label_at);
		if (total != b->info.nprofiles)
			BAD("profile count disagrees with the meta section");
	}
	if (b->info.nseries > 1)
		qsort(b->by_hash, b->info.nseries, sizeof(*b->by_hash), cmp_hash_ord);

	/* POSTINGS */
	if ((rc = sec_next(&r, b, "postings", &s, err)) < 0)
		goto fail;
	b->npairs = pf_read_uvarint(&s);
	if (s.bad || b->npairs > pf_reader_left(&s))
		BAD("postings section malformed");
	b->pairs = pf_xcalloc(b->npairs + 1, sizeof(*b->pairs));
	for (size_t i = 0; i < b->npairs; i++) {
		struct br_pair *pr = &b->pairs[i];
		uint64_t ord = 0;
		pr->name = (uint32_t)pf_read_uvarint(&s);
		pr->value = (uint32_t)pf_read_uvarint(&s);
		pr->count = pf_read_uvarint(&s);
		if (s.bad || pr->name >= b->nsyms || pr->value >= b->nsyms ||
		    pr->count > pf_reader_left(&s))
			BAD("postings section malformed");
		pr->ids = s.p;
		for (uint64_t j = 0; j < pr->count; j++) {
			ord += pf_read_uvarint(&s);
			if (ord >= b->info.nseries)
				s.bad = 1;
		}
		if (s.bad)
			BAD("postings list malformed");
		pr->len = (size_t)(s.p - pr->ids);
		if (i > 0) {
			const struct br_pair *pv = &b->pairs[i - 1];
			int c = strcmp(b->syms[pv->name], b->syms[pr->name]);
			if (c > 0 || (c == 0 && strcmp(b->syms[pv->value], b->syms[pr->value]) >= 0))
				BAD("postings not sorted");
		}
	}

	/* the other files: headers checked, kept open for reads */
	b->chunks_fd = open(b->chunks_path, O_RDONLY | O_CLOEXEC);
	b->symbols_fd = open(b->symbols_path, O_RDONLY | O_CLOEXEC);
	if (b->chunks_fd < 0 || b->symbols_fd < 0) {
		rc = pf_err_set(err, PF_ECORRUPT, "open %s: %s",
				b->chunks_fd < 0 ? b->chunks_path : b->symbols_path, strerror(errno));
		goto fail;
	}
	if ((rc = pread_all(b->chunks_fd, hdr, 8, 0, b->chunks_path, err)) < 0 ||
	    (rc = check_header(hdr, 8, TSDB__BLOCK_CHUNKS_MAGIC, b->chunks_path, err)) < 0 ||
	    (rc = pread_all(b->symbols_fd, hdr, 8, 0, b->symbols_path, err)) < 0 ||
	    (rc = check_header(hdr, 8, TSDB__BLOCK_SYMS_MAGIC, b->symbols_path, err)) < 0)
		goto fail;
	{
		struct stat st;
		b->info.bytes = b->index_len;
		if (fstat(b->chunks_fd, &st) == 0)
			b->info.bytes += (uint64_t)st.st_size;
		if (fstat(b->symbols_fd, &st) == 0)
			b->info.bytes += (uint64_t)st.st_size;
	}
	*out = b;
	return 0;
fail:
	if (rc == PF_EIO && errno == ENOENT)
		rc = PF_ECORRUPT;
	tsdb__block_unref(b);
	return rc;
}

#undef BAD

struct tsdb__block *tsdb__block_ref(struct tsdb__block *b)
{
	__atomic_fetch_add(&b->refs, 1, __ATOMIC_RELAXED);
	return b;
}

void tsdb__block_unref(struct tsdb__block *b)
{
	if (!b || __atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	if (b->chunks_fd >= 0)
		close(b->chunks_fd);
	if (b->symbols_fd >= 0)
		close(b->symbols_fd);
	for (size_t i = 0; i < b->nservices; i++)
		tsdb__symtab_free(b->services[i].st);
	free(b->services);
	for (size_t i = 0; b->sources && i < b->info.nsources; i++)
		free(b->sources[i]);
	free(b->sources);
	free(b->syms);
	free(b->series);
	free(b->label_syms);
	free(b->by_hash);
	free(b->pairs);
	free(b->index);
	free((char *)b->info.name);
	free(b->path);
	pthread_mutex_destroy(&b->mu);
	free(b);
}

int tsdb__block_delete(struct tsdb__block *b, struct pf_err *err)
{
	b->deleted = 1;
	if (pf_rm_rf(b->path) < 0)
		return pf_err_set(err, PF_EIO, "remove block %s: %s", b->path, strerror(errno));
	return 0;
}

void tsdb__block_set_no_compact(struct tsdb__block *b)
{
	__atomic_store_n(&b->no_compact, 1, __ATOMIC_RELAXED);
}

int tsdb__block_no_compact(const struct tsdb__block *b)
{
	return __atomic_load_n(&b->no_compact, __ATOMIC_RELAXED);
}

const struct tsdb__block_info *tsdb__block_info(const struct tsdb__block *b)
{
	return &b->info;
}

const char *tsdb__block_path(const struct tsdb__block *b)
{
	return b->path;
}

/* ---- series and postings ----------------------------------------------- */

int tsdb__block_find_hash(const struct tsdb__block *b, uint64_t hash, uint32_t *ord)
{
	size_t lo = 0, hi = b->info.nseries;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (b->by_hash[mid].hash < hash)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < b->info.nseries && b->by_hash[lo].hash == hash) {
		*ord = b->by_hash[lo].ord;
		return 1;
	}
	return 0;
}

uint64_t tsdb__block_series_hash(const struct tsdb__block *b, uint32_t ord)
{
	return b->series[ord].hash;
}

uint64_t tsdb__block_series_max_seq(const struct tsdb__block *b, uint32_t ord)
{
	return b->series[ord].max_seq;
}

void tsdb__block_series_range(const struct tsdb__block *b, uint32_t ord, int64_t *min_t,
			      int64_t *max_t)
{
	*min_t = b->series[ord].min_t;
	*max_t = b->series[ord].max_t;
}

size_t tsdb__block_series_nlabels(const struct tsdb__block *b, uint32_t ord)
{
	return b->series[ord].nlabels;
}

uint64_t tsdb__block_series_count(const struct tsdb__block *b, uint32_t ord)
{
	return b->series[ord].nentries;
}

void tsdb__block_series_label(const struct tsdb__block *b, uint32_t ord, size_t i,
			      const char **name, const char **value)
{
	*name = b->syms[b->series[ord].labels[2 * i]];
	*value = b->syms[b->series[ord].labels[2 * i + 1]];
}

static void decode_pair(const struct br_pair *pr, struct tsdb__plist *out)
{
	struct pf_reader r;
	uint32_t ord = 0;

	pf_reader_init(&r, pr->ids, pr->len);
	pf_xgrow((void **)&out->ids, &out->cap, (size_t)pr->count, sizeof(uint32_t));
	for (uint64_t i = 0; i < pr->count; i++) {
		ord += (uint32_t)pf_read_uvarint(&r);
		out->ids[i] = ord;
	}
	out->n = (size_t)pr->count;
}

/* First pair whose name is >= name (and value >= value when given). */
static size_t pair_lower(const struct tsdb__block *b, const char *name, const char *value)
{
	size_t lo = 0, hi = b->npairs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct br_pair *pr = &b->pairs[mid];
		int c = strcmp(b->syms[pr->name], name);
		if (c == 0 && value)
			c = strcmp(b->syms[pr->value], value);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void block_pair(void *arg, const char *name, const char *value, struct tsdb__plist *out)
{
	const struct tsdb__block *b = arg;
	size_t i = pair_lower(b, name, value);

	out->n = 0;
	if (i < b->npairs && strcmp(b->syms[b->pairs[i].name], name) == 0 &&
	    strcmp(b->syms[b->pairs[i].value], value) == 0)
		decode_pair(&b->pairs[i], out);
}

static void block_each_value(void *arg, const char *name, tsdb__value_fn fn, void *fnarg)
{
	const struct tsdb__block *b = arg;
	struct tsdb__plist l = {0};

	for (size_t i = pair_lower(b, name, NULL);
	     i < b->npairs && strcmp(b->syms[b->pairs[i].name], name) == 0; i++) {
		decode_pair(&b->pairs[i], &l);
		fn(fnarg, b->syms[b->pairs[i].value], l.ids, l.n);
	}
	tsdb__plist_free(&l);
}

void tsdb__block_psource(struct tsdb__block *b, struct tsdb__psource *src)
{
	src->arg = b;
	src->nseries = (uint32_t)b->info.nseries;
	src->pair = block_pair;
	src->each_value = block_each_value;
}

void tsdb__block_label_names(const struct tsdb__block *b, tsdb__str_fn fn, void *arg)
{
	for (size_t i = 0; i < b->npairs; i++)
		if (i == 0 || b->pairs[i].name != b->pairs[i - 1].name)
			fn(arg, b->syms[b->pairs[i].name]);
}

void tsdb__block_label_values(const struct tsdb__block *b, const char *name, tsdb__str_fn fn,
			      void *arg)
{
	for (size_t i = pair_lower(b, name, NULL);
	     i < b->npairs && strcmp(b->syms[b->pairs[i].name], name) == 0; i++)
		fn(arg, b->syms[b->pairs[i].value]);
}

/* ---- entries ----------------------------------------------------------- */

void tsdb__bentries_free(struct tsdb__bentries *es)
{
	free(es->e);
	free(es->totals);
	memset(es, 0, sizeof(*es));
}

int tsdb__block_entries(const struct tsdb__block *b, uint32_t ord, struct tsdb__bentries *out)
{
	const struct br_series *s = &b->series[ord];
	struct pf_reader r;
	size_t ntot = 0, captot = 0;
	int64_t t = 0;

	memset(out, 0, sizeof(*out));
	out->n = (size_t)s->nentries;
	out->e = pf_xcalloc(out->n + 1, sizeof(*out->e));
	pf_reader_init(&r, s->entries, s->entries_len);
	for (size_t i = 0; i < out->n; i++) {
		struct tsdb__bentry *e = &out->e[i];
		t += pf_unzigzag(pf_read_uvarint(&r));
		e->t_ns = t;
		e->seq = (uint32_t)pf_read_uvarint(&r);
		e->kind = pf_read_u8(&r);
		e->size = pf_read_uvarint(&r);
		e->chunk_off = pf_read_uvarint(&r);
		e->chunk_len = pf_read_uvarint(&r);
		e->chunk_idx = (uint32_t)pf_read_uvarint(&r);
		e->ntotals = (uint32_t)pf_read_uvarint(&r);
		e->totals_at = ntot;
		for (uint32_t j = 0; j < e->ntotals; j++) {
			pf_xgrow((void **)&out->totals, &captot, ntot + 1, sizeof(*out->totals));
			out->totals[ntot].type = b->syms[pf_read_uvarint(&r)];
			out->totals[ntot].unit = b->syms[pf_read_uvarint(&r)];
			out->totals[ntot].value = pf_unzigzag(pf_read_uvarint(&r));
			ntot++;
		}
	}
	return 0; /* verified at open */
}

/* ---- chunks and symbol tables ------------------------------------------ */

int tsdb__block_chunk(struct tsdb__block *b, const struct tsdb__bentry *e,
		      struct tsdb__chunk_dec **out, struct pf_err *err)
{
	uint8_t *p;
	int rc;

	*out = NULL;
	if (e->chunk_len == 0 || e->chunk_len > ((uint64_t)1 << 32))
		return pf_err_set(err, PF_ECORRUPT, "%s:%" PRIu64 ": bad chunk length %" PRIu64,
				  b->chunks_path, e->chunk_off, e->chunk_len);
	p = pf_xmalloc((size_t)e->chunk_len);
	rc = pread_all(b->chunks_fd, p, (size_t)e->chunk_len, e->chunk_off, b->chunks_path, err);
	if (rc == 0 && (rc = tsdb__chunk_dec_open(p, (size_t)e->chunk_len, out, err)) < 0)
		pf_err_prefix(err, "%s:%" PRIu64 ": ", b->chunks_path, e->chunk_off);
	if (rc == 0 && e->chunk_idx >= tsdb__chunk_dec_count(*out)) {
		tsdb__chunk_dec_free(*out);
		*out = NULL;
		rc = pf_err_set(err, PF_ECORRUPT, "%s:%" PRIu64 ": chunk has no profile %u",
				b->chunks_path, e->chunk_off, e->chunk_idx);
	}
	free(p);
	return rc;
}

int tsdb__block_symtab(struct tsdb__block *b, uint32_t ord, const struct tsdb__symtab **out,
		       struct pf_err *err)
{
	struct br_service *sv = &b->services[b->series[ord].service];
	int rc = 0;

	pthread_mutex_lock(&b->mu);
	if (!sv->st) {
		uint8_t *p;
		if (sv->len == 0 || sv->len > ((uint64_t)1 << 34)) {
			rc = pf_err_set(err, PF_ECORRUPT, "%s:%" PRIu64 ": bad symbol table length",
					b->symbols_path, sv->off);
			goto out;
		}
		p = pf_xmalloc((size_t)sv->len);
		rc = pread_all(b->symbols_fd, p, (size_t)sv->len, sv->off, b->symbols_path, err);
		if (rc == 0 && (rc = tsdb__symtab_read(p, (size_t)sv->len, &sv->st, err)) < 0)
			pf_err_prefix(err, "%s:%" PRIu64 ": ", b->symbols_path, sv->off);
		free(p);
	}
out:
	*out = sv->st;
	pthread_mutex_unlock(&b->mu);
	return rc;
}

int tsdb__block_decode(struct tsdb__block *b, uint32_t ord, const struct tsdb__bentry *e,
		       struct pprof_profile **prof, struct pf_buf *raw, struct pf_err *err)
{
	struct tsdb__chunk_dec *d = NULL;
	const struct tsdb__symtab *st;
	int rc;

	if (prof)
		*prof = NULL;
	if ((rc = tsdb__block_chunk(b, e, &d, err)) < 0)
		return rc;
	if (tsdb__chunk_dec_is_raw(d, e->chunk_idx)) {
		if (!raw)
			rc = pf_err_set(err, PF_EINVAL, "profile is not pprof");
		else
			rc = tsdb__chunk_dec_raw(d, e->chunk_idx, raw, err);
	} else if (!prof) {
		rc = pf_err_set(err, PF_EINVAL, "profile is pprof");
	} else if ((rc = tsdb__block_symtab(b, ord, &st, err)) == 0) {
		if ((rc = tsdb__chunk_dec_pprof(d, st, e->chunk_idx, prof, err)) < 0)
			pf_err_prefix(err, "%s:%" PRIu64 ": ", b->chunks_path, e->chunk_off);
	}
	tsdb__chunk_dec_free(d);
	return rc;
}
