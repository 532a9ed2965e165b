/*
 * The public tsdb API over the head (index) and the WAL (records).
 *
 * Data directory layout (this version):
 *   <dir>/lock      flock'd exclusively while a process has the store open
 *   <dir>/wal/      WAL segments 00000001, 00000002, ... (see wal.c)
 */
#include "tsdb/tsdb-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <dirent.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

struct tsdb {
	char *dir;
	size_t max_body;
	int lock_fd;
	struct tsdb__head *head;
	struct tsdb__wal *wal;
	uint64_t appends; /* atomic */
	uint64_t replayed;
	int closed;
	struct tsdb__rec *scratch; /* replay only */
};

struct tsdb_result {
	struct tsdb_meta *metas;
	size_t n;
	struct pf_arena *arena;
};

/* A tsdb_meta handed out alone owns its arena. */
struct meta_box {
	struct tsdb_meta m; /* first: tsdb_meta_free casts back */
	struct pf_arena *arena;
};

/* ---- ids --------------------------------------------------------------- */

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void tsdb__id_encode(uint64_t hash, int64_t t_ns, uint32_t seq, char *out)
{
	uint8_t b[20];

	put_be32(b, (uint32_t)(hash >> 32));
	put_be32(b + 4, (uint32_t)hash);
	put_be32(b + 8, (uint32_t)((uint64_t)t_ns >> 32));
	put_be32(b + 12, (uint32_t)(uint64_t)t_ns);
	put_be32(b + 16, seq);
	pf_base62_encode(b, sizeof(b), out, TSDB_ID_LEN + 1);
}

int tsdb__id_decode(const char *id, uint64_t *hash, int64_t *t_ns, uint32_t *seq)
{
	uint8_t b[20];

	if (!id || strnlen(id, TSDB_ID_LEN + 1) != TSDB_ID_LEN ||
	    pf_base62_decode(id, TSDB_ID_LEN, b, sizeof(b)) < 0)
		return PF_ENOTFOUND;
	*hash = (uint64_t)get_be32(b) << 32 | get_be32(b + 4);
	*t_ns = (int64_t)((uint64_t)get_be32(b + 8) << 32 | get_be32(b + 12));
	*seq = get_be32(b + 16);
	return 0;
}

struct tsdb__wal *tsdb__db_wal(struct tsdb *db)
{
	return db->wal;
}

/* ---- open / close ------------------------------------------------------ */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 ? -1 : 0;
}

/* Remove leftovers of interrupted atomic creations (names with ".tmp"). */
static int remove_tmp(const char *dir, struct pf_err *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int rc = 0;

	if (!d)
		return errno == ENOENT ? 0 : pf_err_set(err, PF_EIO, "open directory %s: %s", dir,
							strerror(errno));
	while ((de = readdir(d)) != NULL) {
		char path[PATH_MAX];
		int n;
		if (!strstr(de->d_name, ".tmp"))
			continue;
		n = snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (n < 0 || (size_t)n >= sizeof(path))
			continue;
		pf_log(PF_LOG_INFO, "removing leftover temporary file", "file", path, NULL);
		if (nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0) {
			rc = pf_err_set(err, PF_EIO, "remove %s: %s", path, strerror(errno));
			break;
		}
	}
	closedir(d);
	return rc;
}

static void log_skip(const char *msg, const char *path, const struct tsdb__loc *loc,
		     const char *why)
{
	char where[PATH_MAX + 32];
	snprintf(where, sizeof(where), "%s:%" PRIu64, path, loc->off);
	pf_log(PF_LOG_WARN, msg, "file", where, "reason", why, NULL);
}

static int replay_record(void *arg, const uint8_t *head, size_t nhead, uint64_t rec_len,
			 const struct tsdb__loc *loc, const char *path, struct pf_err *err)
{
	struct tsdb *db = arg;
	struct tsdb__rec *r = db->scratch;
	struct tsdb__series *s;
	const char *why = NULL;
	struct pf_err e2;

	(void)err;
	if (tsdb__rec_decode(head, nhead, rec_len, r, &why) < 0) {
		log_skip("WAL record not understood, skipped", path, loc, why);
		return 0;
	}
	if (tsdb__head_get_series(db->head, r->hash, r->labels, r->nlabels, &s, &e2) < 0) {
		log_skip("WAL record skipped", path, loc, e2.msg);
		return 0;
	}
	tsdb__series_seen_seq(s, r->seq);
	if (tsdb__head_insert(db->head, s, r->t_ns, (uint32_t)r->seq, r->kind, r->body_len,
			      r->totals, r->ntotals, loc) < 0)
		log_skip("WAL record skipped", path, loc, "a profile with its id exists");
	return 0;
}

int tsdb_open(const struct tsdb_options *o, struct tsdb **out, struct pf_err *err)
{
	struct tsdb *db;
	char path[PATH_MAX];
	int rc, n;

	*out = NULL;
	if (!o || !o->dir || !o->dir[0])
		return pf_err_set(err, PF_EINVAL, "no data directory given");
	db = pf_xcalloc(1, sizeof(*db));
	db->lock_fd = -1;
	db->dir = pf_xstrdup(o->dir);
	db->max_body = o->max_body_bytes ? o->max_body_bytes : (size_t)1 << 30;
	if ((rc = pf_mkdir_p(db->dir, err)) < 0)
		goto fail;
	n = snprintf(path, sizeof(path), "%s/lock", db->dir);
	if (n < 0 || (size_t)n >= sizeof(path) - 16) {
		rc = pf_err_set(err, PF_EINVAL, "data directory path too long: %s", db->dir);
		goto fail;
	}
	db->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (db->lock_fd < 0) {
		rc = pf_err_set(err, PF_EIO, "open %s: %s", path, strerror(errno));
		goto fail;
	}
	if (flock(db->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			rc = pf_err_set(err, PF_EIO, "data directory %s is in use by another "
						     "process (lock held on %s)",
					db->dir, path);
		else
			rc = pf_err_set(err, PF_EIO, "lock %s: %s", path, strerror(errno));
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/wal", db->dir);
	if ((rc = remove_tmp(db->dir, err)) < 0 || (rc = remove_tmp(path, err)) < 0)
		goto fail;
	db->head = tsdb__head_new();
	db->scratch = pf_xmalloc(sizeof(*db->scratch));
	rc = tsdb__wal_open(path, o->wal_segment_bytes, replay_record, db, &db->wal,
			    &db->replayed, err);
	free(db->scratch);
	db->scratch = NULL;
	if (rc < 0 || (rc = pf_fsync_dir(db->dir, err)) < 0) /* wal/ and lock entries */
		goto fail;
	if (db->replayed) {
		char nrec[32];
		snprintf(nrec, sizeof(nrec), "%" PRIu64, db->replayed);
		pf_log(PF_LOG_INFO, "WAL replayed", "dir", path, "records", nrec, NULL);
	}
	*out = db;
	return 0;
fail:
	tsdb_close(db);
	return rc;
}

void tsdb_close(struct tsdb *db)
{
	if (!db)
		return;
	__atomic_store_n(&db->closed, 1, __ATOMIC_RELEASE);
	tsdb__wal_close(db->wal);
	tsdb__head_free(db->head);
	if (db->lock_fd >= 0)
		close(db->lock_fd); /* releases the flock */
	free(db->dir);
	free(db);
}

/* ---- append ------------------------------------------------------------ */

int tsdb_append(struct tsdb *db, const struct tsdb_append_req *req, char *id,
		struct pf_err *err)
{
	const struct tsdb_label *sorted[TSDB__MAX_LABELS];
	struct tsdb__rec_label rl[TSDB__MAX_LABELS];
	struct tsdb__rec_total *rt = NULL;
	struct pf_buf lab = PF_BUF_INIT(TSDB__META_MAX), meta = PF_BUF_INIT(TSDB__META_MAX);
	struct tsdb__series *s;
	struct tsdb__loc loc;
	uint64_t seq;
	int rc;

	if (!db || __atomic_load_n(&db->closed, __ATOMIC_ACQUIRE))
		return pf_err_set(err, PF_ECLOSED, "store is closed");
	if (!req || (req->nlabels && !req->labels) || (req->ntotals && !req->totals))
		return pf_err_set(err, PF_EINVAL, "bad append request");
	if (req->kind != TSDB_KIND_PPROF && req->kind != TSDB_KIND_RAW)
		return pf_err_set(err, PF_EINVAL, "unknown profile kind %d", (int)req->kind);
	if (!req->body || req->len == 0)
		return pf_err_set(err, PF_EINVAL, "empty profile body");
	if (req->len > db->max_body)
		return pf_err_set(err, PF_ETOOBIG, "profile body of %zu bytes exceeds the limit of %zu",
				  req->len, db->max_body);
	if (req->ntotals > TSDB__MAX_TOTALS)
		return pf_err_set(err, PF_EINVAL, "too many totals: %zu (at most %d)", req->ntotals,
				  TSDB__MAX_TOTALS);
	for (size_t i = 0; i < req->ntotals; i++) {
		const struct tsdb_total *t = &req->totals[i];
		if (!t->type || !t->unit || strlen(t->type) > TSDB__MAX_TOTAL_STR ||
		    strlen(t->unit) > TSDB__MAX_TOTAL_STR)
			return pf_err_set(err, PF_EINVAL, "total %zu: bad type or unit", i);
	}
	if ((rc = tsdb__labels_sort_check(req->labels, req->nlabels, sorted, err)) < 0)
		return rc;
	if ((rc = tsdb__labels_encode(&lab, sorted, req->nlabels)) < 0) {
		rc = pf_err_set(err, rc, "labels too large");
		goto out;
	}
	for (size_t i = 0; i < req->nlabels; i++) {
		rl[i].name.p = sorted[i]->name;
		rl[i].name.n = strlen(sorted[i]->name);
		rl[i].value.p = sorted[i]->value;
		rl[i].value.n = strlen(sorted[i]->value);
	}
	rc = tsdb__head_get_series(db->head, tsdb__labels_hash(lab.data, lab.len), rl,
				   req->nlabels, &s, err);
	if (rc < 0)
		goto out;
	seq = tsdb__series_next_seq(s);
	if (seq > UINT32_MAX) {
		rc = pf_err_set(err, PF_ETOOBIG, "series has run out of sequence numbers");
		goto out;
	}
	rc = tsdb__rec_encode_meta(&meta, lab.data, lab.len, req->t_ns, seq, (uint8_t)req->kind,
				   req->totals, req->ntotals, req->len);
	if (rc < 0) {
		rc = pf_err_set(err, PF_ETOOBIG, "labels and totals exceed %u bytes",
				TSDB__META_MAX);
		goto out;
	}
	if ((rc = tsdb__wal_append(db->wal, meta.data, meta.len, req->body, req->len, &loc, err)) < 0)
		goto out;
	if (req->ntotals) {
		rt = pf_xcalloc(req->ntotals, sizeof(*rt));
		for (size_t i = 0; i < req->ntotals; i++) {
			rt[i].type.p = req->totals[i].type;
			rt[i].type.n = strlen(req->totals[i].type);
			rt[i].unit.p = req->totals[i].unit;
			rt[i].unit.n = strlen(req->totals[i].unit);
			rt[i].value = req->totals[i].value;
		}
	}
	if (tsdb__head_insert(db->head, s, req->t_ns, (uint32_t)seq, (uint8_t)req->kind, req->len,
			      rt, req->ntotals, &loc) < 0) {
		/* cannot happen: seq is unique within the series */
		rc = pf_err_set(err, PF_EINVAL, "profile id already taken");
		goto out;
	}
	__atomic_fetch_add(&db->appends, 1, __ATOMIC_RELAXED);
	if (id)
		tsdb__id_encode(tsdb__series_hash(s), req->t_ns, (uint32_t)seq, id);
	rc = 0;
out:
	free(rt);
	pf_buf_free(&lab);
	pf_buf_free(&meta);
	return rc;
}

/* ---- metas ------------------------------------------------------------- */

static char *arena_str(struct pf_arena *a, const char *s)
{
	return pf_arena_strndup(a, s, strlen(s));
}

/* Fill m for entry e of series s, strings in a; labels may be shared
 * (pass NULL to build them). Head read lock held. */
static void meta_fill(struct tsdb_meta *m, struct tsdb__head *h, const struct tsdb__series *s,
		      const struct tsdb__entry *e, struct tsdb_label *labels, struct pf_arena *a)
{
	size_t nl = tsdb__series_nlabels(s);

	tsdb__id_encode(tsdb__series_hash(s), e->t_ns, e->seq, m->id);
	m->t_ns = e->t_ns;
	m->kind = (enum tsdb_kind)e->kind;
	m->size = (size_t)e->size;
	if (!labels) {
		labels = pf_arena_alloc(a, (nl ? nl : 1) * sizeof(*labels));
		for (size_t i = 0; i < nl; i++) {
			const char *name, *value;
			tsdb__series_label(h, s, i, &name, &value);
			labels[i].name = arena_str(a, name);
			labels[i].value = arena_str(a, value);
		}
	}
	m->labels = labels;
	m->nlabels = nl;
	m->ntotals = e->ntotals;
	m->totals = pf_arena_alloc(a, (e->ntotals ? e->ntotals : 1) * sizeof(*m->totals));
	for (size_t i = 0; i < e->ntotals; i++) {
		/* type and unit strings are interned in the head; copy them once per
		 * result would need a map, and they are short */
		m->totals[i].type = arena_str(a, tsdb__head_sym(h, e->totals[i].type));
		m->totals[i].unit = arena_str(a, tsdb__head_sym(h, e->totals[i].unit));
		m->totals[i].value = e->totals[i].value;
	}
}

void tsdb_meta_free(struct tsdb_meta *m)
{
	struct meta_box *b = (struct meta_box *)m;
	if (!m)
		return;
	pf_arena_free(b->arena);
	free(b);
}

/* ---- find -------------------------------------------------------------- */

struct ref {
	const struct tsdb__series *s;
	const struct tsdb__entry *e;
	uint64_t hash;
};

static int cmp_ref(const void *a, const void *b)
{
	const struct ref *x = a, *y = b;
	if (x->e->t_ns != y->e->t_ns)
		return x->e->t_ns < y->e->t_ns ? -1 : 1;
	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->e->seq < y->e->seq ? -1 : x->e->seq > y->e->seq;
}

/* First entry with t >= t_ns. */
static size_t entries_from(const struct tsdb__entry *e, size_t n, int64_t t_ns)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (e[mid].t_ns < t_ns)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int tsdb_find(struct tsdb *db, const struct tsdb_query *q, struct tsdb_result **out,
	      struct pf_err *err)
{
	struct tsdb__plist ids = {0};
	struct ref *refs = NULL;
	struct tsdb_result *res;
	struct tsdb_label **series_labels = NULL;
	size_t nrefs = 0, caprefs = 0, first;
	int rc;

	*out = NULL;
	if (!db || __atomic_load_n(&db->closed, __ATOMIC_ACQUIRE))
		return pf_err_set(err, PF_ECLOSED, "store is closed");
	if (!q || (q->nmatchers && !q->matchers))
		return pf_err_set(err, PF_EINVAL, "bad query");
	tsdb__head_rdlock(db->head);
	if ((rc = tsdb__head_select(db->head, q->matchers, q->nmatchers, &ids, err)) < 0) {
		tsdb__head_unlock(db->head);
		tsdb__plist_free(&ids);
		return rc;
	}
	for (size_t i = 0; i < ids.n && q->min_t_ns <= q->max_t_ns; i++) {
		const struct tsdb__series *s = tsdb__head_by_id(db->head, ids.ids[i]);
		size_t n;
		const struct tsdb__entry *e = tsdb__series_entries(s, &n);
		for (size_t j = entries_from(e, n, q->min_t_ns); j < n && e[j].t_ns <= q->max_t_ns;
		     j++) {
			pf_xgrow((void **)&refs, &caprefs, nrefs + 1, sizeof(*refs));
			refs[nrefs].s = s;
			refs[nrefs].e = &e[j];
			refs[nrefs].hash = tsdb__series_hash(s);
			nrefs++;
		}
	}
	if (nrefs > 1)
		qsort(refs, nrefs, sizeof(*refs), cmp_ref);
	first = q->limit && nrefs > q->limit ? nrefs - q->limit : 0;

	res = pf_xcalloc(1, sizeof(*res));
	res->arena = pf_arena_new();
	res->n = nrefs - first;
	res->metas = pf_xcalloc(res->n ? res->n : 1, sizeof(*res->metas));
	/* one copy of each series' labels per result */
	series_labels = pf_xcalloc(tsdb__head_nseries(db->head) + 1, sizeof(*series_labels));
	for (size_t i = first; i < nrefs; i++) {
		struct tsdb_meta *m = &res->metas[i - first];
		uint32_t sid = tsdb__series_id(refs[i].s);
		meta_fill(m, db->head, refs[i].s, refs[i].e, series_labels[sid], res->arena);
		series_labels[sid] = m->labels;
	}
	tsdb__head_unlock(db->head);
	free(series_labels);
	free(refs);
	tsdb__plist_free(&ids);
	*out = res;
	return 0;
}

size_t tsdb_result_len(const struct tsdb_result *r)
{
	return r ? r->n : 0;
}

const struct tsdb_meta *tsdb_result_at(const struct tsdb_result *r, size_t i)
{
	return r && i < r->n ? &r->metas[i] : NULL;
}

void tsdb_result_free(struct tsdb_result *r)
{
	if (!r)
		return;
	pf_arena_free(r->arena);
	free(r->metas);
	free(r);
}

/* ---- read -------------------------------------------------------------- */

int tsdb_read(struct tsdb *db, const char *id, struct pf_buf *body, struct tsdb_meta **meta,
	      struct pf_err *err)
{
	struct pf_buf mb = PF_BUF_INIT(TSDB__META_MAX);
	struct meta_box *box = NULL;
	const struct tsdb__series *s;
	const struct tsdb__entry *e;
	struct tsdb__entry ent;
	struct tsdb__rec *r = NULL;
	const char *why = NULL;
	uint64_t hash;
	int64_t t_ns;
	uint32_t seq;
	size_t old_len = body ? body->len : 0;
	int rc;

	if (meta)
		*meta = NULL;
	if (!db || __atomic_load_n(&db->closed, __ATOMIC_ACQUIRE))
		return pf_err_set(err, PF_ECLOSED, "store is closed");
	if (!body)
		return pf_err_set(err, PF_EINVAL, "no body buffer");
	if (tsdb__id_decode(id, &hash, &t_ns, &seq) < 0)
		return pf_err_set(err, PF_ENOTFOUND, "nothing found");
	tsdb__head_rdlock(db->head);
	s = tsdb__head_by_hash(db->head, hash);
	e = s ? tsdb__series_find(s, t_ns, seq) : NULL;
	if (!e) {
		tsdb__head_unlock(db->head);
		return pf_err_set(err, PF_ENOTFOUND, "nothing found");
	}
	ent = *e;
	if (meta) {
		box = pf_xcalloc(1, sizeof(*box));
		box->arena = pf_arena_new();
		meta_fill(&box->m, db->head, s, e, NULL, box->arena);
	}
	tsdb__head_unlock(db->head);

	if ((rc = tsdb__wal_read(db->wal, &ent.loc, ent.size, &mb, body, err)) < 0)
		goto fail;
	r = pf_xmalloc(sizeof(*r));
	if (tsdb__rec_decode(mb.data, mb.len, ent.loc.len - TSDB__REC_HDR, r, &why) < 0 ||
	    r->hash != hash || r->t_ns != t_ns || r->seq != seq || r->body_len != ent.size) {
		char path[PATH_MAX];
		tsdb__wal_path(db->wal, ent.loc.seg, path, sizeof(path));
		rc = pf_err_set(err, PF_ECORRUPT, "%s:%" PRIu64 ": record does not match its index entry%s%s",
				path, ent.loc.off, why ? ": " : "", why ? why : "");
		body->len = old_len;
		goto fail;
	}
	free(r);
	pf_buf_free(&mb);
	if (meta)
		*meta = &box->m;
	return 0;
fail:
	free(r);
	pf_buf_free(&mb);
	if (box)
		tsdb_meta_free(&box->m);
	return rc;
}

/* ---- labels and stats -------------------------------------------------- */

int tsdb_label_values(struct tsdb *db, const char *name, char ***values, size_t *n)
{
	if (!db || !values || !n)
		return PF_EINVAL;
	return tsdb__head_label_values(db->head, name, values, n);
}

int tsdb_label_names(struct tsdb *db, char ***names, size_t *n)
{
	if (!db || !names || !n)
		return PF_EINVAL;
	return tsdb__head_label_names(db->head, names, n);
}

void tsdb_strings_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void tsdb_stats(struct tsdb *db, struct tsdb_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!db)
		return;
	tsdb__head_counts(db->head, &st->series, &st->profiles);
	st->appends = __atomic_load_n(&db->appends, __ATOMIC_RELAXED);
	tsdb__wal_counters(db->wal, &st->wal_fsyncs, &st->wal_bytes);
	st->replayed = db->replayed;
}
