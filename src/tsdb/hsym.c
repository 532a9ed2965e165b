/*
 * The symbolized head: what the head keeps of its pprof profiles besides
 * the WAL record (which stays the durability record and what get-by-id
 * returns).
 *
 * Profiles are grouped by (service, block window): the window is the
 * aligned span of block_duration a cut turns into one block
 * (tsdb__align_down(t, block_ns)). Each group has one symbol table (the
 * codec's struct tsdb__symtab, zstd level TSDB__HEAD_ZSTD_LEVEL) and, per
 * series, its profiles as chunks (tsdb__chunk_enc): the open chunk takes
 * the rows of each new profile (delta against the previous one of the
 * series), and is finished (compressed) every TSDB__HEAD_CHUNK_PROFILES
 * profiles. A head entry names its profile as (series of a group, chunk,
 * index in the chunk).
 *
 * A cut of window W seals the groups of W (no more adds: an append with a
 * time in W that comes later starts a new group, cut later), and writes
 * their tables and chunks into the block as they are when the profiles
 * arrived in time order (the usual case), else re-encodes rows (no pprof
 * decoding either way). Once their profiles left the head, sealed groups
 * are freed: a table holds the symbols of one window of one service, so
 * the head's memory does not grow with time.
 *
 * Locks: db->hg_mu guards the registry (which group takes (service, W));
 * a group's mu guards its table and chunks (appends, and reads by merges
 * and cuts). Order: state -> head -> hg_mu -> g->mu. Groups are freed only
 * under state exclusive and the head's write lock, when no entry names
 * them (live == 0) and they are sealed, after every append that could
 * have chosen them has finished (tsdb__wait_appends).
 */
#include "tsdb/tsdb-internal.h"
#include "tsdb/codec/codec.h"

#include <inttypes.h>
#include <stdlib.h>

struct tsdb__hgroup {
	pthread_mutex_t mu;
	int64_t window;
	char *service;
	int sealed;    /* set under mu and hg_mu */
	uint64_t live; /* head entries naming it (head write lock) */
	struct tsdb__symtab *st;
	struct tsdb__chunk_scratch *sc; /* shared by the series' encoders */
	struct pf_htab by_series; /* series id -> index in series */
	struct tsdb__hseries **series;
	size_t nseries, capseries;
};

struct tsdb__hseries {
	struct tsdb__hgroup *g;
	struct tsdb__series *s;
	struct tsdb__chunk_enc *enc; /* the open chunk (chunk number ndone) */
	struct tsdb__chunk_seed *seed; /* the last finished chunk's last profile */
	struct pf_buf *done;         /* finished chunks */
	uint32_t *done_count;        /* their profile counts */
	size_t ndone, capdone, capcount;
	uint64_t nprofiles; /* added, over all chunks */
};

static void hseries_free(struct tsdb__hseries *hs)
{
	tsdb__chunk_enc_free(hs->enc);
	tsdb__chunk_seed_free(hs->seed);
	for (size_t i = 0; i < hs->ndone; i++)
		pf_buf_free(&hs->done[i]);
	free(hs->done);
	free(hs->done_count);
	free(hs);
}

static void group_free(struct tsdb__hgroup *g)
{
	for (size_t i = 0; i < g->nseries; i++)
		hseries_free(g->series[i]);
	free(g->series);
	pf_htab_free(&g->by_series);
	tsdb__symtab_free(g->st);
	tsdb__chunk_scratch_free(g->sc);
	free(g->service);
	pthread_mutex_destroy(&g->mu);
	free(g);
}

void tsdb__hsym_init(struct tsdb *db)
{
	pthread_mutex_init(&db->hg_mu, NULL);
	db->hg_map = pf_map_new(16);
}

void tsdb__hsym_free_all(struct tsdb *db)
{
	for (size_t i = 0; i < db->nhg; i++)
		group_free(db->hgs[i]);
	free(db->hgs);
	db->hgs = NULL;
	db->nhg = db->caphg = 0;
	pf_map_free(db->hg_map);
	db->hg_map = NULL;
	pthread_mutex_destroy(&db->hg_mu);
}

/* The registry key of (service, window). */
static size_t group_key(uint8_t *key, size_t cap, int64_t window, const char *svc, size_t n)
{
	pf_put_le64(key, (uint64_t)window);
	memcpy(key + 8, svc, PF_MIN(n, cap - 8));
	return 8 + PF_MIN(n, cap - 8);
}

/* The unsealed group of (service, window), created when missing; returned
 * with its mu held. */
static struct tsdb__hgroup *group_get(struct tsdb *db, int64_t window, const char *svc, size_t n)
{
	uint8_t key[8 + TSDB__MAX_VALUE_LEN];
	size_t klen = group_key(key, sizeof(key), window, svc, n);
	struct tsdb__hgroup *g;
	uint64_t idx;

	for (;;) {
		pthread_mutex_lock(&db->hg_mu);
		if (pf_map_get(db->hg_map, key, klen, &idx)) {
			g = (struct tsdb__hgroup *)(uintptr_t)idx;
		} else {
			g = pf_xcalloc(1, sizeof(*g));
			pthread_mutex_init(&g->mu, NULL);
			g->window = window;
			g->service = pf_xstrndup(svc, n);
			g->st = tsdb__symtab_new();
			tsdb__symtab_set_level(g->st, TSDB__HEAD_ZSTD_LEVEL);
			g->sc = tsdb__chunk_scratch_new();
			pf_htab_init(&g->by_series, 16);
			pf_xgrow((void **)&db->hgs, &db->caphg, db->nhg + 1, sizeof(*db->hgs));
			db->hgs[db->nhg++] = g;
			pf_map_put(db->hg_map, key, klen, (uint64_t)(uintptr_t)g);
		}
		pthread_mutex_unlock(&db->hg_mu);
		pthread_mutex_lock(&g->mu);
		if (!g->sealed)
			return g;
		/* sealed by a cut since: it left the registry, look again */
		pthread_mutex_unlock(&g->mu);
	}
}

static struct tsdb__hseries *hseries_get(struct tsdb__hgroup *g, struct tsdb__series *s)
{
	uint32_t id = tsdb__series_id(s), idx;
	struct tsdb__hseries *hs;

	if (pf_htab_get(&g->by_series, id, &idx))
		return g->series[idx];
	hs = pf_xcalloc(1, sizeof(*hs));
	hs->g = g;
	hs->s = s;
	pf_xgrow((void **)&g->series, &g->capseries, g->nseries + 1, sizeof(*g->series));
	g->series[g->nseries] = hs;
	pf_htab_set(&g->by_series, id, (uint32_t)g->nseries);
	g->nseries++;
	return hs;
}

/* Finish the open chunk into done (g->mu held). */
static int hseries_finish(struct tsdb__hseries *hs, struct pf_err *err)
{
	struct tsdb__chunk_seed *seed;
	struct pf_buf *b;
	int rc;

	if (!hs->enc || tsdb__chunk_enc_count(hs->enc) == 0)
		return 0;
	pf_xgrow((void **)&hs->done, &hs->capdone, hs->ndone + 1, sizeof(*hs->done));
	pf_xgrow((void **)&hs->done_count, &hs->capcount, hs->ndone + 1, sizeof(uint32_t));
	b = &hs->done[hs->ndone];
	pf_buf_init(b, 0);
	hs->done_count[hs->ndone] = (uint32_t)tsdb__chunk_enc_count(hs->enc);
	seed = tsdb__chunk_enc_seed(hs->enc); /* before finish forgets the last profile */
	if ((rc = tsdb__chunk_enc_finish(hs->enc, b, err)) < 0) {
		tsdb__chunk_seed_free(seed);
		pf_buf_free(b);
		return rc;
	}
	hs->ndone++;
	/* the next chunk starts from nothing: drop the encoder's memory, but
	 * for what codes a next profile of the same shape (the seed) */
	tsdb__chunk_seed_free(hs->seed);
	hs->seed = seed;
	tsdb__chunk_enc_free(hs->enc);
	hs->enc = NULL;
	return 0;
}

int tsdb__hsym_add(struct tsdb *db, struct tsdb__series *s, const char *svc, size_t svc_len,
		   int64_t t_ns, struct tsdb__flat *f, struct tsdb__hpos *pos, struct pf_err *err)
{
	struct tsdb__hgroup *g = group_get(db, tsdb__align_down(t_ns, db->block_ns), svc, svc_len);
	struct tsdb__hseries *hs = hseries_get(g, s);
	int rc;

	if (!hs->enc)
		hs->enc = tsdb__chunk_enc_new_shared(g->st, g->sc);
	if (tsdb__chunk_enc_count(hs->enc) == 0 && tsdb__chunk_seed_takes(hs->seed, f))
		rc = tsdb__chunk_enc_add_seeded(hs->enc, hs->seed, f, err);
	else
		rc = tsdb__chunk_enc_add_flat(hs->enc, f, err);
	if (rc == PF_EMISMATCH && tsdb__flat_is_light(f)) {
		/* a profile of another shape came in since tsdb__hsym_settle
		 * looked: this one is decoded whole */
		if ((rc = tsdb__flat_complete(f, err)) == 0)
			rc = tsdb__chunk_enc_add_flat(hs->enc, f, err);
	}
	if (rc < 0)
		goto out;
	pos->hs = hs;
	pos->chunk = (uint32_t)hs->ndone;
	pos->idx = (uint32_t)(tsdb__chunk_enc_count(hs->enc) - 1);
	hs->nprofiles++;
	if (tsdb__chunk_enc_count(hs->enc) >= TSDB__HEAD_CHUNK_PROFILES) {
		struct pf_err e2 = {0};
		/* on failure the chunk stays open (and grows): logged, not fatal */
		if (hseries_finish(hs, &e2) < 0)
			pf_log(PF_LOG_WARN, "could not finish a head chunk", "err", e2.msg, NULL);
	}
out:
	pthread_mutex_unlock(&g->mu);
	return rc;
}

/* Whether s in the group of (svc, window of t_ns) would take f by its
 * digest alone: its open chunk, or when that has no profile yet the seed
 * of its last chunk; 0 without such a group, series or either. */
static int hsym_takes(struct tsdb *db, struct tsdb__series *s, const char *svc, size_t svc_len,
		      int64_t t_ns, const struct tsdb__flat *f)
{
	uint8_t key[8 + TSDB__MAX_VALUE_LEN];
	size_t klen = group_key(key, sizeof(key), tsdb__align_down(t_ns, db->block_ns), svc, svc_len);
	struct tsdb__hgroup *g = NULL;
	uint64_t idx;
	uint32_t si;
	int takes = 0;

	pthread_mutex_lock(&db->hg_mu);
	if (pf_map_get(db->hg_map, key, klen, &idx)) {
		g = (struct tsdb__hgroup *)(uintptr_t)idx;
		/* under hg_mu, as seal takes it: the group is in the registry,
		 * so not freed */
		pthread_mutex_lock(&g->mu);
		if (!g->sealed && pf_htab_get(&g->by_series, tsdb__series_id(s), &si)) {
			const struct tsdb__hseries *hs = g->series[si];
			if (hs->enc && tsdb__chunk_enc_count(hs->enc) > 0)
				takes = tsdb__chunk_enc_takes(hs->enc, f);
			else
				takes = tsdb__chunk_seed_takes(hs->seed, f);
		}
		pthread_mutex_unlock(&g->mu);
	}
	pthread_mutex_unlock(&db->hg_mu);
	return takes;
}

int tsdb__hsym_settle(struct tsdb *db, struct tsdb__series *s, const char *svc, size_t svc_len,
		      int64_t t_ns, struct tsdb__flat *f, struct pf_err *err)
{
	if (!tsdb__flat_is_light(f) || (s && hsym_takes(db, s, svc, svc_len, t_ns, f)))
		return 0;
	return tsdb__flat_complete(f, err);
}

void tsdb__hsym_live(struct tsdb__hseries *hs, int delta)
{
	if (hs)
		__atomic_add_fetch(&hs->g->live, (uint64_t)(int64_t)delta, __ATOMIC_RELAXED);
}

/* ---- cuts -------------------------------------------------------------- */

size_t tsdb__hsym_seal(struct tsdb *db, int64_t window, int empty_only)
{
	size_t n = 0;

	pthread_mutex_lock(&db->hg_mu);
	for (size_t i = 0; i < db->nhg; i++) {
		struct tsdb__hgroup *g = db->hgs[i];
		uint8_t key[8 + TSDB__MAX_VALUE_LEN];
		size_t klen;
		int empty = __atomic_load_n(&g->live, __ATOMIC_RELAXED) == 0;
		if (empty_only ? !empty : g->window != window)
			continue;
		n++;
		if (g->sealed)
			continue;
		pthread_mutex_lock(&g->mu);
		g->sealed = 1;
		tsdb__chunk_scratch_trim(g->sc); /* no more adds */
		pthread_mutex_unlock(&g->mu);
		klen = group_key(key, sizeof(key), g->window, g->service, strlen(g->service));
		pf_map_del(db->hg_map, key, klen);
	}
	pthread_mutex_unlock(&db->hg_mu);
	return n;
}

void tsdb__hsym_gc(struct tsdb *db)
{
	pthread_mutex_lock(&db->hg_mu);
	for (size_t i = 0; i < db->nhg;) {
		struct tsdb__hgroup *g = db->hgs[i];
		if (g->sealed && __atomic_load_n(&g->live, __ATOMIC_RELAXED) == 0) {
			group_free(g);
			db->hgs[i] = db->hgs[--db->nhg];
			continue;
		}
		i++;
	}
	pthread_mutex_unlock(&db->hg_mu);
}

int tsdb__hseries_sealed(const struct tsdb__hseries *hs)
{
	return hs->g->sealed;
}

struct tsdb__hgroup *tsdb__hseries_group(const struct tsdb__hseries *hs)
{
	return hs->g;
}

void tsdb__hgroup_lock(struct tsdb__hgroup *g)
{
	pthread_mutex_lock(&g->mu);
}

void tsdb__hgroup_unlock(struct tsdb__hgroup *g)
{
	pthread_mutex_unlock(&g->mu);
}

struct tsdb__symtab *tsdb__hgroup_symtab(struct tsdb__hgroup *g)
{
	return g->st;
}

const char *tsdb__hgroup_service(const struct tsdb__hgroup *g)
{
	return g->service;
}

int tsdb__hseries_seal_chunks(struct tsdb__hseries *hs, struct pf_err *err)
{
	return hseries_finish(hs, err);
}

size_t tsdb__hseries_layout(const struct tsdb__hseries *hs, const uint32_t **counts,
			    uint64_t *nprofiles)
{
	*counts = hs->done_count;
	*nprofiles = hs->nprofiles;
	return hs->ndone;
}

const struct pf_buf *tsdb__hseries_done(const struct tsdb__hseries *hs, size_t k)
{
	return k < hs->ndone ? &hs->done[k] : NULL;
}

int tsdb__hseries_dec(const struct tsdb__hseries *hs, uint32_t chunk, struct pf_buf *scratch,
		      struct tsdb__chunk_dec **out, struct pf_err *err)
{
	*out = NULL;
	if (chunk < hs->ndone)
		return tsdb__chunk_dec_open(hs->done[chunk].data, hs->done[chunk].len, out, err);
	if (chunk != hs->ndone || !hs->enc)
		return pf_err_set(err, PF_ECORRUPT, "head chunk %" PRIu32 " of a series is gone", chunk);
	pf_buf_reset(scratch);
	int rc = tsdb__chunk_enc_peek(hs->enc, scratch, err);
	if (rc == 0)
		rc = tsdb__chunk_dec_open(scratch->data, scratch->len, out, err);
	return rc;
}

void tsdb__hsym_mem(struct tsdb *db, uint64_t *groups, uint64_t *bytes)
{
	*groups = 0;
	*bytes = 0;
	pthread_mutex_lock(&db->hg_mu);
	for (size_t i = 0; i < db->nhg; i++) {
		struct tsdb__hgroup *g = db->hgs[i];
		(*groups)++;
		pthread_mutex_lock(&g->mu);
		for (size_t j = 0; j < g->nseries; j++) {
			const struct tsdb__hseries *hs = g->series[j];
			for (size_t k = 0; k < hs->ndone; k++)
				*bytes += hs->done[k].len;
			if (hs->enc)
				*bytes += tsdb__chunk_enc_raw_bytes(hs->enc);
		}
		pthread_mutex_unlock(&g->mu);
	}
	pthread_mutex_unlock(&db->hg_mu);
}

/* ---- catching up after a replay ---------------------------------------- */

/*
 * The replay at open puts every record in the head as a WAL-only entry (the
 * open reads no body: a restart after a crash stays as fast as before);
 * the maintenance rounds then symbolize them, oldest series first, for at
 * most budget_ns per round. Until then such an entry is read from the WAL
 * where needed, as a body given with totals that does not decode always
 * is. Runs in the maintenance round (maint_mu): no cut, retention or WAL
 * deletion runs meanwhile, so the entries' records stay where they are;
 * appends and queries go on (entries are looked up again by (t, seq)).
 */
void tsdb__hsym_catch_up(struct tsdb *db, int64_t budget_ns)
{
	struct pf_buf meta = PF_BUF_INIT(TSDB__META_MAX), body = PF_BUF_INIT(0);
	struct pprof_limits lim = {.max_decompressed = db->max_profile};
	uint64_t done = 0, kept = 0;
	int64_t t0 = pf_mono_ns();
	uint32_t ns;

	if (!__atomic_load_n(&db->catch_up, __ATOMIC_ACQUIRE))
		return;
	tsdb__head_rdlock(db->head);
	ns = tsdb__head_nseries(db->head);
	tsdb__head_unlock(db->head);
	for (uint32_t i = db->catch_up_next; i < ns; i++, db->catch_up_next = i) {
		struct tsdb__series *s;
		const char *svc = "";
		size_t j = 0;
		tsdb__head_rdlock(db->head);
		s = tsdb__head_by_id(db->head, i);
		for (size_t k = 0; k < tsdb__series_nlabels(s); k++) {
			const char *name, *value;
			tsdb__series_label(db->head, s, k, &name, &value);
			if (strcmp(name, "service") == 0)
				svc = value; /* head symbols live as long as the head */
		}
		tsdb__head_unlock(db->head);
		/* in (t, seq) order: the chunks then match a block's order */
		for (;;) {
			struct tsdb__entry e;
			struct tsdb__flat *f;
			struct tsdb__hpos pos = {0};
			struct pf_err e2 = {0};
			size_t ne;
			int found = 0;
			if (pf_mono_ns() - t0 > budget_ns)
				goto out;
			tsdb__head_rdlock(db->head);
			const struct tsdb__entry *es = tsdb__series_entries(s, &ne);
			for (; j < ne; j++)
				if (es[j].kind == TSDB_KIND_PPROF && !es[j].pos.hs && !es[j].wal_only) {
					e = es[j];
					found = 1;
					break;
				}
			tsdb__head_unlock(db->head);
			if (!found)
				break;
			j++;
			pf_buf_reset(&body);
			f = tsdb__flat_new();
			/* decoded as tsdb_append decodes a body (one appended
			 * with totals was not checked when it came) */
			if (tsdb__wal_read(db->wal, &e.loc, e.size, &meta, &body, &e2) < 0 ||
			    tsdb__flat_decode_shape(f, body.data, body.len, &lim, &e2) < 0 ||
			    tsdb__hsym_settle(db, s, svc, strlen(svc), e.t_ns, f, &e2) < 0 ||
			    tsdb__hsym_add(db, s, svc, strlen(svc), e.t_ns, f, &pos, &e2) < 0) {
				kept++;
				pos.hs = NULL;
			} else {
				done++;
			}
			tsdb__flat_free(f);
			tsdb__head_wrlock(db->head);
			tsdb__head_set_pos_locked(s, e.t_ns, e.seq, &pos);
			tsdb__head_unlock(db->head);
		}
	}
	__atomic_store_n(&db->catch_up, 0, __ATOMIC_RELEASE);
out:
	if (done || kept) {
		char nd[32], nk[32];
		snprintf(nd, sizeof(nd), "%" PRIu64, done);
		snprintf(nk, sizeof(nk), "%" PRIu64, kept);
		pf_log(PF_LOG_INFO, "replayed head profiles symbolized", "profiles", nd, "wal_only", nk,
		       "done", __atomic_load_n(&db->catch_up, __ATOMIC_ACQUIRE) ? "no" : "yes", NULL);
	}
	pf_buf_free(&meta);
	pf_buf_free(&body);
}
