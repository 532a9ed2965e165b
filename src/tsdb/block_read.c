/*
 * Blocks: opening one (the index loaded and verified, the other files' headers
 * checked), its lifetime, and reading its chunks and symbol tables.
 * The format: docs/format/block.md and docs/format/index.md.
 */
#include "tsdb/block-internal.h"
#include "tsdb/codec/codec.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- files ------------------------------------------------------------- */

/* pf_pread_full saying what failed in which file; a block file that ends
 * early is corrupt. */
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

static int check_header(const uint8_t *h, size_t n, uint32_t magic, const char *path,
			struct pf_err *err)
{
	if (n < TSDB__BLOCK_HDR || pf_get_le32(h) != magic)
		return pf_err_set(err, PF_ECORRUPT, "%s:0: not a profefe block file (bad magic)", path);
	if (tsdb__version_newer(pf_get_le32(h + 4), TSDB__BLOCK_VERSION))
		return tsdb__newer_format(path, pf_get_le32(h + 4), TSDB__BLOCK_VERSION, err);
	if (pf_get_le32(h + 4) != TSDB__BLOCK_VERSION)
		return pf_err_set(err, PF_ECORRUPT, "%s:4: unsupported block file version %u", path,
				  pf_get_le32(h + 4));
	return 0;
}

/* ---- reader ------------------------------------------------------------ */

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

/* The index's complaint about what r (the index being read, just past the
 * section at fault) found malformed. */
static int index_bad(const struct tsdb__block *b, const struct pf_reader *r, const char *what,
		     struct pf_err *err)
{
	return pf_err_set(err, PF_ECORRUPT, "%s:%zu: %s", b->index_path, (size_t)(r->p - b->index),
			  what);
}

/* META: the block's time range, counts, level and source blocks. */
static int read_meta(struct pf_reader *r, struct tsdb__block *b, struct pf_err *err)
{
	struct pf_reader s;
	int rc;

	if ((rc = sec_next(r, b, "meta", &s, err)) < 0)
		return rc;
	b->info.min_t = (int64_t)pf_read_le64(&s);
	b->info.max_t = (int64_t)pf_read_le64(&s);
	b->info.nseries = pf_read_uvarint(&s);
	b->info.nprofiles = pf_read_uvarint(&s);
	b->info.nchunks = pf_read_uvarint(&s);
	b->info.level = (uint32_t)pf_read_uvarint(&s);
	b->info.nsources = pf_read_uvarint(&s);
	if (s.bad || b->info.nsources > pf_reader_left(&s) || b->info.nseries > b->index_len)
		return index_bad(b, r, "meta section malformed", err);
	b->sources = pf_xcalloc(b->info.nsources + 1, sizeof(char *));
	for (size_t i = 0; i < b->info.nsources; i++) {
		size_t n;
		const uint8_t *p = pf_read_bytes(&s, &n);
		if (s.bad)
			return index_bad(b, r, "meta section malformed", err);
		b->sources[i] = pf_xstrndup((const char *)p, n);
	}
	b->info.sources = (const char *const *)b->sources;
	return 0;
}

/* SYMBOLS: the strings, pointed to in place (each is NUL-terminated). */
static int read_symbols(struct pf_reader *r, struct tsdb__block *b, struct pf_err *err)
{
	struct pf_reader s;
	int rc;

	if ((rc = sec_next(r, b, "symbols", &s, err)) < 0)
		return rc;
	b->nsyms = pf_read_uvarint(&s);
	if (s.bad || b->nsyms > pf_reader_left(&s) || b->nsyms == 0)
		return index_bad(b, r, "symbols section malformed", err);
	b->syms = pf_xcalloc(b->nsyms, sizeof(char *));
	for (size_t i = 0; i < b->nsyms; i++) {
		size_t n;
		const uint8_t *p = pf_read_bytes(&s, &n);
		if (s.bad || pf_read_u8(&s) != 0 || s.bad || memchr(p, 0, n))
			return index_bad(b, r, "symbols section malformed", err);
		b->syms[i] = (const char *)p;
	}
	return 0;
}

/* SERVICES: where each service's symbol table lies in the symbols file. */
static int read_services(struct pf_reader *r, struct tsdb__block *b, struct pf_err *err)
{
	struct pf_reader s;
	int rc;

	if ((rc = sec_next(r, b, "services", &s, err)) < 0)
		return rc;
	b->nservices = pf_read_uvarint(&s);
	if (s.bad || b->nservices > pf_reader_left(&s))
		return index_bad(b, r, "services section malformed", err);
	b->services = pf_xcalloc(b->nservices + 1, sizeof(*b->services));
	for (size_t i = 0; i < b->nservices; i++) {
		b->services[i].name = (uint32_t)pf_read_uvarint(&s);
		b->services[i].off = pf_read_uvarint(&s);
		b->services[i].len = pf_read_uvarint(&s);
		if (s.bad || b->services[i].name >= b->nsyms)
			return index_bad(b, r, "services section malformed", err);
	}
	return 0;
}

/* One SERIES record (p, n) into se: its label symbols are appended to
 * b->label_syms (se->labels is set by the caller once all are in), its
 * entries checked and their time range taken. NULL, or what is malformed. */
static const char *series_record(struct tsdb__block *b, struct br_series *se, const uint8_t *p,
				 size_t n, size_t *nlabel_syms, size_t *caplabel)
{
	struct pf_reader q;

	pf_reader_init(&q, p, n);
	se->hash = pf_read_le64(&q);
	se->max_seq = pf_read_uvarint(&q);
	se->service = (uint32_t)pf_read_uvarint(&q);
	se->nlabels = (uint32_t)pf_read_uvarint(&q);
	if (q.bad || se->service >= b->nservices || se->nlabels > TSDB__MAX_LABELS)
		return "series record malformed";
	for (uint32_t j = 0; j < 2 * se->nlabels; j++) {
		uint64_t v = pf_read_uvarint(&q);
		if (v >= b->nsyms)
			q.bad = 1;
		pf_xgrow((void **)&b->label_syms, caplabel, *nlabel_syms + 1, sizeof(uint32_t));
		b->label_syms[(*nlabel_syms)++] = (uint32_t)v;
	}
	se->nentries = pf_read_uvarint(&q);
	if (q.bad || se->nentries > pf_reader_left(&q))
		return "series record malformed";
	se->entries = q.p;
	se->entries_len = pf_reader_left(&q);
	if (entries_scan(b, se, &se->min_t, &se->max_t) < 0)
		return "series entries malformed";
	return NULL;
}

/* SERIES: every series (agreeing with META's counts) and the by-hash table. */
static int read_series(struct pf_reader *r, struct tsdb__block *b, struct pf_err *err)
{
	struct pf_reader s;
	size_t nlabel_syms = 0, caplabel = 0, *label_at;
	uint64_t total = 0;
	const char *bad = NULL;
	int rc;

	if ((rc = sec_next(r, b, "series", &s, err)) < 0)
		return rc;
	if (pf_read_uvarint(&s) != b->info.nseries || s.bad)
		return index_bad(b, r, "series count disagrees with the meta section", err);
	b->series = pf_xcalloc(b->info.nseries + 1, sizeof(*b->series));
	b->by_hash = pf_xcalloc(b->info.nseries + 1, sizeof(*b->by_hash));
	/* label symbols are collected first; pointers fixed after */
	label_at = pf_xcalloc(b->info.nseries + 1, sizeof(size_t));
	for (size_t i = 0; i < b->info.nseries; i++) {
		size_t n;
		const uint8_t *p = pf_read_bytes(&s, &n);
		if (s.bad) {
			bad = "series section truncated";
			break;
		}
		label_at[i] = nlabel_syms;
		if ((bad = series_record(b, &b->series[i], p, n, &nlabel_syms, &caplabel)))
			break;
		total += b->series[i].nentries;
		b->by_hash[i].hash = b->series[i].hash;
		b->by_hash[i].ord = (uint32_t)i;
	}
	if (!bad) {
		for (size_t i = 0; i < b->info.nseries; i++)
			b->series[i].labels = b->label_syms ? b->label_syms + label_at[i] : NULL;
		if (total != b->info.nprofiles)
			bad = "profile count disagrees with the meta section";
	}
	free(label_at);
	if (bad)
		return index_bad(b, r, bad, err);
	if (b->info.nseries > 1)
		qsort(b->by_hash, b->info.nseries, sizeof(*b->by_hash), cmp_hash_ord);
	return 0;
}

/* POSTINGS: per label pair, sorted by (name, value), its series ordinals
 * (checked here, decoded when asked for). */
static int read_postings(struct pf_reader *r, struct tsdb__block *b, struct pf_err *err)
{
	struct pf_reader s;
	int rc;

	if ((rc = sec_next(r, b, "postings", &s, err)) < 0)
		return rc;
	b->npairs = pf_read_uvarint(&s);
	if (s.bad || b->npairs > pf_reader_left(&s))
		return index_bad(b, r, "postings section malformed", err);
	b->pairs = pf_xcalloc(b->npairs + 1, sizeof(*b->pairs));
	for (size_t i = 0; i < b->npairs; i++) {
		struct br_pair *pr = &b->pairs[i];
		uint64_t ord = 0;
		pr->name = (uint32_t)pf_read_uvarint(&s);
		pr->value = (uint32_t)pf_read_uvarint(&s);
		pr->count = pf_read_uvarint(&s);
		if (s.bad || pr->name >= b->nsyms || pr->value >= b->nsyms ||
		    pr->count > pf_reader_left(&s))
			return index_bad(b, r, "postings section malformed", err);
		pr->ids = s.p;
		for (uint64_t j = 0; j < pr->count; j++) {
			ord += pf_read_uvarint(&s);
			if (ord >= b->info.nseries)
				s.bad = 1;
		}
		if (s.bad)
			return index_bad(b, r, "postings list malformed", err);
		pr->len = (size_t)(s.p - pr->ids);
		if (i > 0) {
			const struct br_pair *pv = &b->pairs[i - 1];
			int c = strcmp(b->syms[pv->name], b->syms[pr->name]);
			if (c > 0 || (c == 0 && strcmp(b->syms[pv->value], b->syms[pr->value]) >= 0))
				return index_bad(b, r, "postings not sorted", err);
		}
	}
	return 0;
}

/* The index file read whole, its header checked, its five sections loaded. */
static int load_index(struct tsdb__block *b, struct pf_err *err)
{
	struct pf_buf buf = PF_BUF_INIT(0);
	struct pf_reader r;
	int rc;

	if ((rc = pf_read_file(b->index_path, (size_t)1 << 34, &buf, err)) < 0)
		return rc;
	b->index = pf_buf_steal(&buf, &b->index_len);
	if ((rc = check_header(b->index, b->index_len, TSDB__BLOCK_INDEX_MAGIC, b->index_path,
			       err)) < 0)
		return rc;
	pf_reader_init(&r, b->index + TSDB__BLOCK_HDR, b->index_len - TSDB__BLOCK_HDR);
	if ((rc = read_meta(&r, b, err)) < 0 || (rc = read_symbols(&r, b, err)) < 0 ||
	    (rc = read_services(&r, b, err)) < 0 || (rc = read_series(&r, b, err)) < 0 ||
	    (rc = read_postings(&r, b, err)) < 0)
		return rc;
	return 0;
}

/* The other files: headers checked, kept open for reads; the block's bytes. */
static int open_data_files(struct tsdb__block *b, struct pf_err *err)
{
	uint8_t hdr[TSDB__BLOCK_HDR];
	struct stat st;
	int rc;

	b->chunks_fd = open(b->chunks_path, O_RDONLY | O_CLOEXEC);
	b->symbols_fd = open(b->symbols_path, O_RDONLY | O_CLOEXEC);
	if (b->chunks_fd < 0 || b->symbols_fd < 0)
		return pf_err_set(err, PF_ECORRUPT, "open %s: %s",
				  b->chunks_fd < 0 ? b->chunks_path : b->symbols_path,
				  strerror(errno));
	if ((rc = pread_all(b->chunks_fd, hdr, TSDB__BLOCK_HDR, 0, b->chunks_path, err)) < 0 ||
	    (rc = check_header(hdr, TSDB__BLOCK_HDR, TSDB__BLOCK_CHUNKS_MAGIC, b->chunks_path, err)) < 0 ||
	    (rc = pread_all(b->symbols_fd, hdr, TSDB__BLOCK_HDR, 0, b->symbols_path, err)) < 0 ||
	    (rc = check_header(hdr, TSDB__BLOCK_HDR, TSDB__BLOCK_SYMS_MAGIC, b->symbols_path, err)) < 0)
		return rc;
	b->info.bytes = b->index_len;
	if (fstat(b->chunks_fd, &st) == 0)
		b->info.bytes += (uint64_t)st.st_size;
	if (fstat(b->symbols_fd, &st) == 0)
		b->info.bytes += (uint64_t)st.st_size;
	return 0;
}

/* A block with its paths and name set, nothing read yet (one reference). */
static struct tsdb__block *block_new(const char *blocks_dir, const char *name)
{
	struct tsdb__block *b = pf_xcalloc(1, sizeof(*b));
	size_t n = strlen(blocks_dir) + strlen(name) + 2;

	b->refs = 1;
	b->chunks_fd = b->symbols_fd = -1;
	pthread_mutex_init(&b->mu, NULL);
	b->path = pf_xmalloc(n);
	snprintf(b->path, n, "%s/%s", blocks_dir, name);
	snprintf(b->index_path, sizeof(b->index_path), "%s/index", b->path);
	snprintf(b->chunks_path, sizeof(b->chunks_path), "%s/chunks", b->path);
	snprintf(b->symbols_path, sizeof(b->symbols_path), "%s/symbols", b->path);
	b->info.name = pf_xstrdup(name);
	return b;
}

int tsdb__block_open(const char *blocks_dir, const char *name, struct tsdb__block **out,
		     struct pf_err *err)
{
	struct tsdb__block *b = block_new(blocks_dir, name);
	int rc;

	*out = NULL;
	if ((rc = load_index(b, err)) < 0 || (rc = open_data_files(b, err)) < 0)
		goto fail;
	*out = b;
	return 0;
fail:
	if (rc == PF_EIO && errno == ENOENT)
		rc = PF_ECORRUPT;
	tsdb__block_unref(b);
	return rc;
}

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
	/* a failed open may have read the services count but not its table */
	for (size_t i = 0; b->services && i < b->nservices; i++)
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
