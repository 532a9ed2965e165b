/* Unit tests of the store's blocks: the index writer/reader, cuts of the
 * head, reads and merges from blocks, compaction, retention, recovery.
 * Real fixtures (tests/fixtures/pprof); each test gets a fresh temp dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fixture.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pthread.h>

#include "pprof/pprof.h"
#include "tsdb/codec/codec.h"
#include "tsdb/tsdb-internal.h"
#include "tsdb/tsdb.h"

#define SEC ((int64_t)1000000000)
#define T0 ((int64_t)1700000000 * SEC)

struct ctx {
	char dir[64];
	struct tsdb *db;
	struct tsdb_options o;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	fixture_store_dir(c->dir, "blocks");
	c->o.dir = c->dir;
	c->o.block_duration_ns = 10 * SEC;
	c->o.maintenance_ns = -1; /* the tests drive maintenance */
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	fixture_store_remove(c->db, c->dir);
	free(c);
	return 0;
}

static void open_db(struct ctx *c)
{
	tsdb_close(c->db);
	c->db = NULL;
	c->db = fixture_store_open(&c->o);
}

static void maintain(struct ctx *c, int flush)
{
	struct pf_err err = {0};
	if (tsdb_maintain(c->db, flush, &err) != 0)
		fail_msg("tsdb_maintain: %s", err.msg);
}

static void read_fixture(const char *name, struct pf_buf *b)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "tests/fixtures/pprof/%s", name);
	fixture_read(path, b);
}

/* Append a fixture (pprof with its totals, or raw) with the given labels. */
static void append_fixture(struct ctx *c, const char *name, const char *service,
			   const char *type, int64_t t, char *id)
{
	struct pf_buf b;
	struct pprof_profile *p = NULL;
	struct tsdb_total tot[16];
	int64_t sums[16];
	struct tsdb_label l[2] = {{"service", service}, {"type", type}};
	struct tsdb_append_req req = {0};
	struct pf_err err = {0};

	read_fixture(name, &b);
	req.labels = l;
	req.nlabels = 2;
	req.t_ns = t;
	req.body = b.data;
	req.len = b.len;
	req.kind = TSDB_KIND_RAW;
	if (strstr(name, ".pb.gz")) {
		assert_int_equal(pprof_decode(b.data, b.len, (size_t)1 << 30, &p, &err), 0);
		const pprof_msg *m = pprof_message(p);
		assert_true(m->n_sample_type <= 16);
		pprof_totals(p, sums);
		for (size_t i = 0; i < m->n_sample_type; i++) {
			tot[i].type = pprof_string(p, m->sample_type[i]->type);
			tot[i].unit = pprof_string(p, m->sample_type[i]->unit);
			tot[i].value = sums[i];
		}
		req.kind = TSDB_KIND_PPROF;
		req.totals = tot;
		req.ntotals = m->n_sample_type;
	}
	if (tsdb_append(c->db, &req, id, &err) != 0)
		fail_msg("append %s: %s", name, err.msg);
	pprof_free(p);
	pf_buf_free(&b);
}

/* The profile stored under id equals the fixture at the pprof level
 * (sample count, totals of every sample type, time), or byte for byte for
 * a raw body. */
static void check_read(struct ctx *c, const char *id, const char *name)
{
	struct pf_buf want, got = PF_BUF_INIT(0);
	struct pf_err err = {0};
	struct tsdb_meta *meta = NULL;

	read_fixture(name, &want);
	if (tsdb_read(c->db, id, &got, &meta, &err) != 0)
		fail_msg("read %s (%s): %s", id, name, err.msg);
	assert_string_equal(meta->id, id);
	assert_int_equal(meta->size, want.len);
	if (!strstr(name, ".pb.gz")) {
		assert_int_equal(got.len, want.len);
		assert_memory_equal(got.data, want.data, want.len);
	} else {
		struct pprof_profile *a, *b;
		int64_t ta[16], tb[16];
		assert_int_equal(pprof_decode(want.data, want.len, (size_t)1 << 30, &a, &err), 0);
		if (pprof_decode(got.data, got.len, (size_t)1 << 30, &b, &err) != 0)
			fail_msg("stored %s does not decode: %s", name, err.msg);
		assert_int_equal(pprof_sample_count(a), pprof_sample_count(b));
		assert_int_equal(pprof_time_nanos(a), pprof_time_nanos(b));
		assert_int_equal(pprof_message(a)->n_sample_type, pprof_message(b)->n_sample_type);
		pprof_totals(a, ta);
		pprof_totals(b, tb);
		for (size_t i = 0; i < pprof_message(a)->n_sample_type; i++)
			assert_int_equal(ta[i], tb[i]);
		assert_int_equal(pprof_message(a)->n_location, pprof_message(b)->n_location);
		pprof_free(a);
		pprof_free(b);
	}
	tsdb_meta_free(meta);
	pf_buf_free(&want);
	pf_buf_free(&got);
}

static const char *heaps[10] = {"heap-001.pb.gz", "heap-002.pb.gz", "heap-003.pb.gz",
				"heap-004.pb.gz", "heap-005.pb.gz", "heap-006.pb.gz",
				"heap-007.pb.gz", "heap-008.pb.gz", "heap-009.pb.gz",
				"heap-010.pb.gz"};

static size_t count_blocks(const struct ctx *c)
{
	char path[128];
	DIR *d;
	struct dirent *de;
	size_t n = 0;
	snprintf(path, sizeof(path), "%s/blocks", c->dir);
	assert_non_null(d = opendir(path));
	while ((de = readdir(d)) != NULL)
		if (tsdb__block_name_ok(de->d_name))
			n++;
	closedir(d);
	return n;
}

static size_t find_all(struct ctx *c, const char *service)
{
	struct tsdb_matcher m = {TSDB_MATCH_EQ, "service", service};
	struct tsdb_query q = {&m, 1, INT64_MIN, INT64_MAX, 0};
	struct tsdb_result *r = NULL;
	struct pf_err err = {0};
	size_t n;
	assert_int_equal(tsdb_find(c->db, &q, &r, &err), 0);
	n = tsdb_result_len(r);
	for (size_t i = 1; i < n; i++) /* ascending by time */
		assert_true(tsdb_result_at(r, i - 1)->t_ns <= tsdb_result_at(r, i)->t_ns);
	tsdb_result_free(r);
	return n;
}

static uint64_t du_total;

static int du_add(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)path, (void)flag, (void)ftw;
	du_total += (uint64_t)st->st_size;
	return 0;
}

/* Bytes under dir as du -sb counts them (apparent sizes, directories too). */
static uint64_t du_bytes(const char *dir)
{
	du_total = 0;
	assert_int_equal(nftw(dir, du_add, 16, FTW_PHYS), 0);
	return du_total;
}

/* ---- tests ------------------------------------------------------------- */

/* Profiles spread over 27 s with 10 s blocks: cuts leave the newest in the
 * head, and everything reads back the same from blocks and head. */
static void test_cut_and_read(void **state)
{
	struct ctx *c = *state;
	char ids[11][TSDB_ID_LEN + 1];
	struct tsdb_stats st;

	open_db(c);
	for (int i = 0; i < 10; i++)
		append_fixture(c, heaps[i], "api", "heap", T0 + i * 3 * SEC, ids[i]);
	append_fixture(c, "trace-001.out", "api", "trace", T0 + SEC, ids[10]);
	maintain(c, 0);
	tsdb_stats(c->db, &st);
	assert_true(st.blocks >= 1);
	assert_true(st.head_profiles > 0 && st.head_profiles < 11);
	assert_int_equal(st.profiles, 11);
	assert_int_equal(st.series, 2);
	assert_int_equal(find_all(c, "api"), 11);
	for (int i = 0; i < 10; i++)
		check_read(c, ids[i], heaps[i]);
	check_read(c, ids[10], "trace-001.out");
}

/* series_limit keeps the newest N in range of each series, over blocks
 * and head, and only those count against max_profiles. */
static void test_series_limit(void **state)
{
	struct ctx *c = *state;
	char ids[2][10][TSDB_ID_LEN + 1];
	struct tsdb_matcher m = {TSDB_MATCH_EQ, "type", "heap"};
	struct tsdb_query q = {&m, 1, INT64_MIN, T0 + 8 * 3 * SEC, 0};
	struct tsdb_result *r = NULL;
	struct tsdb_stats st;
	struct pf_err err = {0};

	open_db(c);
	for (int i = 0; i < 10; i++) {
		append_fixture(c, heaps[i], "api", "heap", T0 + i * 3 * SEC, ids[0][i]);
		append_fixture(c, heaps[i], "web", "heap", T0 + i * 3 * SEC, ids[1][i]);
	}
	maintain(c, 0);
	tsdb_stats(c->db, &st);
	assert_true(st.blocks >= 1 && st.head_profiles > 0); /* the newest in the head */
	q.series_limit = 3;
	q.max_profiles = 6;
	assert_int_equal(tsdb_find(c->db, &q, &r, &err), 0);
	assert_int_equal(tsdb_result_len(r), 6);
	/* ascending by time: the 7th to 9th of each (the 10th is past max_t) */
	for (size_t i = 0; i < 6; i++) {
		const char *id = tsdb_result_at(r, i)->id;
		assert_true(!strcmp(id, ids[0][6 + i / 2]) || !strcmp(id, ids[1][6 + i / 2]));
	}
	tsdb_result_free(r);
	r = NULL;
	q.limit = 2; /* then the newest two of those */
	assert_int_equal(tsdb_find(c->db, &q, &r, &err), 0);
	assert_int_equal(tsdb_result_len(r), 2);
	assert_int_equal(tsdb_result_at(r, 0)->t_ns, T0 + 8 * 3 * SEC);
	tsdb_result_free(r);
	r = NULL;
	q.limit = 0;
	q.series_limit = 4;
	assert_int_equal(tsdb_find(c->db, &q, &r, &err), PF_ELIMIT);
	assert_non_null(strstr(err.msg, "selects 8 profiles, over the cap of 6"));
	q.series_limit = 0;
	assert_int_equal(tsdb_find(c->db, &q, &r, &err), PF_ELIMIT);
	assert_non_null(strstr(err.msg, "over the cap of 6"));
}

/* A clean close writes the head out and empties the WAL; the restart
 * replays nothing and finds everything. */
static void test_flush_on_close(void **state)
{
	struct ctx *c = *state;
	char ids[10][TSDB_ID_LEN + 1], path[128];
	struct tsdb_stats st;

	open_db(c);
	for (int i = 0; i < 10; i++)
		append_fixture(c, heaps[i], "api", "heap", T0 + i * SEC, ids[i]);
	open_db(c); /* close + open */
	tsdb_stats(c->db, &st);
	assert_int_equal(st.replayed, 0);
	assert_int_equal(st.head_profiles, 0);
	assert_int_equal(st.profiles, 10);
	assert_true(st.wal_bytes <= 64);
	snprintf(path, sizeof(path), "%s/blocks", c->dir);
	assert_true(count_blocks(c) >= 1);
	for (int i = 0; i < 10; i++)
		check_read(c, ids[i], heaps[i]);
	/* ids keep going after the restart: no id is reused */
	char more[TSDB_ID_LEN + 1];
	append_fixture(c, heaps[0], "api", "heap", T0, more);
	for (int i = 0; i < 10; i++)
		assert_string_not_equal(more, ids[i]);
	assert_int_equal(find_all(c, "api"), 11);
}

/* A merge over blocks and head equals pprof_merge of the same files. */
static void test_merge_matches_pprof_merge(void **state)
{
	struct ctx *c = *state;
	struct pprof_profile *in[10], *want = NULL, *got = NULL;
	struct tsdb_matcher m[2] = {{TSDB_MATCH_EQ, "service", "api"}, {TSDB_MATCH_EQ, "type", "heap"}};
	struct tsdb_query q = {m, 2, INT64_MIN, INT64_MAX, 0};
	struct pf_err err = {0};
	int64_t tw[8], tg[8];
	size_t n;

	open_db(c);
	for (int i = 0; i < 10; i++) {
		struct pf_buf b;
		char id[TSDB_ID_LEN + 1];
		append_fixture(c, heaps[i], "api", "heap", T0 + i * 3 * SEC, id);
		read_fixture(heaps[i], &b);
		assert_int_equal(pprof_decode(b.data, b.len, (size_t)1 << 30, &in[i], &err), 0);
		pf_buf_free(&b);
	}
	maintain(c, 0); /* some in blocks, some in the head */
	assert_int_equal(pprof_merge(in, 10, &want, &err), 0);
	if (tsdb_merge(c->db, &q, &got, &n, &err) != 0)
		fail_msg("tsdb_merge: %s", err.msg);
	assert_int_equal(n, 10);
	pprof_totals(want, tw);
	pprof_totals(got, tg);
	for (size_t i = 0; i < pprof_message(want)->n_sample_type; i++)
		assert_int_equal(tw[i], tg[i]);
	assert_int_equal(pprof_sample_count(want), pprof_sample_count(got));
	pprof_free(got);
	got = NULL;
	maintain(c, 1); /* all in blocks now */
	assert_int_equal(tsdb_merge(c->db, &q, &got, &n, &err), 0);
	pprof_totals(got, tg);
	for (size_t i = 0; i < pprof_message(want)->n_sample_type; i++)
		assert_int_equal(tw[i], tg[i]);
	pprof_free(got);
	/* a trace in the selection cannot be merged */
	char tid[TSDB_ID_LEN + 1];
	append_fixture(c, "trace-001.out", "api", "heap", T0, tid);
	assert_int_equal(tsdb_merge(c->db, &q, &got, &n, &err), PF_EINVAL);
	for (int i = 0; i < 10; i++)
		pprof_free(in[i]);
	pprof_free(want);
}

/* Append a pprof fixture without totals: tsdb decodes and totals it. */
static int append_untotalled(struct ctx *c, const void *body, size_t len, int64_t t, char *id,
			     struct pf_err *err)
{
	struct tsdb_label l[2] = {{"service", "api"}, {"type", "heap"}};
	struct tsdb_append_req req = {0};

	req.labels = l;
	req.nlabels = 2;
	req.t_ns = t;
	req.kind = TSDB_KIND_PPROF;
	req.body = body;
	req.len = len;
	return tsdb_append(c->db, &req, id, err);
}

/* Merge of service=api type=heap: totals and sample count as want's. */
static void check_merge_as(struct ctx *c, const struct pprof_profile *want, size_t nwant)
{
	struct tsdb_matcher m[2] = {{TSDB_MATCH_EQ, "service", "api"}, {TSDB_MATCH_EQ, "type", "heap"}};
	struct tsdb_query q = {m, 2, INT64_MIN, INT64_MAX, 0};
	struct pprof_profile *got = NULL;
	struct pf_err err = {0};
	int64_t tw[8], tg[8];
	size_t n;

	if (tsdb_merge(c->db, &q, &got, &n, &err) != 0)
		fail_msg("tsdb_merge: %s", err.msg);
	assert_int_equal(n, nwant);
	pprof_totals(want, tw);
	pprof_totals(got, tg);
	for (size_t i = 0; i < pprof_message(want)->n_sample_type; i++)
		assert_int_equal(tw[i], tg[i]);
	assert_int_equal(pprof_sample_count(want), pprof_sample_count(got));
	assert_int_equal(pprof_message(want)->n_location, pprof_message(got)->n_location);
	assert_int_equal(pprof_message(want)->n_function, pprof_message(got)->n_function);
	pprof_free(got);
}

/*
 * The symbolized head (issue 18): pprof bodies appended without totals are
 * decoded and totalled by tsdb; a body that does not decode is refused with
 * pprof_decode's sentence and leaves nothing; head profiles read back byte
 * for byte, merge as pprof_merge does (from the head, after a crash and
 * replay, from blocks), and are cut into blocks whether they came in time
 * order (chunks copied) or not (rows re-encoded).
 */
static void test_symbolized_head(void **state)
{
	struct ctx *c = *state;
	/* out of order in the middle: the cut re-encodes those windows */
	static const int at[10] = {0, 1, 2, 3, 7, 5, 6, 4, 8, 9};
	struct pprof_profile *in[10], *want = NULL;
	struct pf_buf bodies[10];
	char ids[10][TSDB_ID_LEN + 1];
	struct pf_err err = {0}, e2 = {0};
	struct tsdb_stats st;
	struct pprof_profile *bad = NULL;

	open_db(c);
	for (int i = 0; i < 10; i++) {
		read_fixture(heaps[i], &bodies[i]);
		assert_int_equal(pprof_decode(bodies[i].data, bodies[i].len, (size_t)1 << 30, &in[i], &err), 0);
		if (append_untotalled(c, bodies[i].data, bodies[i].len, T0 + at[i] * 2 * SEC, ids[i], &err))
			fail_msg("append %s: %s", heaps[i], err.msg);
	}
	/* a bad body: pprof_decode's sentence, nothing stored */
	{
		static const char junk[] = "\x1f\x8b\x08\x00garbage that is not gzip";
		char id[TSDB_ID_LEN + 1];
		assert_int_equal(pprof_decode(junk, sizeof(junk) - 1, (size_t)1 << 30, &bad, &e2), PF_EINVAL);
		assert_int_equal(append_untotalled(c, junk, sizeof(junk) - 1, T0, id, &err), PF_EINVAL);
		assert_string_equal(err.msg, e2.msg);
		tsdb_stats(c->db, &st);
		assert_int_equal(st.head_profiles, 10);
	}
	/* totals computed as pprof_totals, types and units named */
	for (int i = 0; i < 10; i++) {
		struct tsdb_meta *meta = NULL;
		struct pf_buf got = PF_BUF_INIT(0);
		int64_t t[8];
		const pprof_msg *m = pprof_message(in[i]);
		assert_int_equal(tsdb_read(c->db, ids[i], &got, &meta, &err), 0);
		assert_int_equal(got.len, bodies[i].len); /* the head: the bytes as pushed */
		assert_memory_equal(got.data, bodies[i].data, got.len);
		pprof_totals(in[i], t);
		assert_int_equal(meta->ntotals, m->n_sample_type);
		for (size_t k = 0; k < meta->ntotals; k++) {
			assert_string_equal(meta->totals[k].type, pprof_string(in[i], m->sample_type[k]->type));
			assert_string_equal(meta->totals[k].unit, pprof_string(in[i], m->sample_type[k]->unit));
			assert_true(meta->totals[k].value == t[k]);
		}
		tsdb_meta_free(meta);
		pf_buf_free(&got);
	}
	assert_int_equal(pprof_merge(in, 10, &want, &err), 0);
	check_merge_as(c, want, 10);
	/* a crash: the replay rebuilds the symbolized head from the WAL */
	tsdb__crash_close(c->db);
	c->db = NULL;
	open_db(c);
	tsdb_stats(c->db, &st);
	assert_int_equal(st.head_profiles, 10);
	assert_true(c->db->catch_up); /* the open decodes nothing: WAL-only for now */
	check_merge_as(c, want, 10);
	maintain(c, 0); /* symbolized; some windows cut, some still in the head */
	assert_false(c->db->catch_up);
	check_merge_as(c, want, 10);
	maintain(c, 1);
	tsdb_stats(c->db, &st);
	assert_int_equal(st.head_profiles, 0);
	assert_int_equal(st.block_profiles, 10);
	check_merge_as(c, want, 10);
	for (int i = 0; i < 10; i++)
		check_read(c, ids[i], heaps[i]);
	/* the head's groups are gone with their profiles; new ones work */
	{
		char id[TSDB_ID_LEN + 1];
		assert_int_equal(append_untotalled(c, bodies[0].data, bodies[0].len, T0 + 100 * SEC, id, &err), 0);
		maintain(c, 1);
		check_read(c, id, heaps[0]);
	}
	for (int i = 0; i < 10; i++) {
		pprof_free(in[i]);
		pf_buf_free(&bodies[i]);
	}
	pprof_free(want);
}

/* Appenders, a merger and the maintenance round at once on the symbolized
 * head: two services, profiles over several block windows (so groups are
 * sealed, cut and freed while appends and merges go on). */
struct conc {
	struct ctx *c;
	struct pf_buf *bodies;
	int idx, n, stop, failed;
	size_t merged;
};

static void *conc_append(void *arg)
{
	struct conc *w = arg;
	struct tsdb_label l[3] = {{"service", w->idx % 2 ? "api" : "web"}, {"type", "heap"},
				  {"instance", w->idx < 2 ? "a" : "b"}};
	for (int i = 0; i < w->n; i++) {
		struct tsdb_append_req req = {0};
		struct pf_err err = {0};
		char id[TSDB_ID_LEN + 1];
		const struct pf_buf *b = &w->bodies[(i + w->idx) % 10];
		req.labels = l;
		req.nlabels = 3;
		req.t_ns = T0 + (int64_t)i * SEC; /* 10 s blocks: a new window every 10 */
		req.kind = TSDB_KIND_PPROF;
		req.body = b->data;
		req.len = b->len;
		if (tsdb_append(w->c->db, &req, id, &err) != 0) {
			fprintf(stderr, "append: %s\n", err.msg);
			w->failed = 1;
		}
	}
	return NULL;
}

static void *conc_merge(void *arg)
{
	struct conc *w = arg;
	struct tsdb_matcher m[1] = {{TSDB_MATCH_EQ, "type", "heap"}};
	struct tsdb_query q = {m, 1, INT64_MIN, INT64_MAX, 0};
	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		struct pprof_profile *got = NULL;
		struct pf_err err = {0};
		size_t n = 0;
		int rc = tsdb_merge(w->c->db, &q, &got, &n, &err);
		if (rc != 0 && rc != PF_ENOTFOUND) {
			fprintf(stderr, "merge: %s\n", err.msg);
			w->failed = 1;
		}
		w->merged += n;
		pprof_free(got);
		if (tsdb_maintain(w->c->db, 0, &err) != 0) {
			fprintf(stderr, "maintain: %s\n", err.msg);
			w->failed = 1;
		}
	}
	return NULL;
}

static void test_concurrent_head(void **state)
{
	struct ctx *c = *state;
	struct pf_buf bodies[10];
	struct conc w[5];
	pthread_t th[5];
	struct tsdb_stats st;
	struct pf_err err = {0};

	open_db(c);
	for (int i = 0; i < 10; i++)
		read_fixture(heaps[i], &bodies[i]);
	for (int i = 0; i < 5; i++) {
		w[i] = (struct conc){c, bodies, i, 40, 0, 0, 0};
		pthread_create(&th[i], NULL, i < 4 ? conc_append : conc_merge, &w[i]);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	__atomic_store_n(&w[4].stop, 1, __ATOMIC_RELEASE);
	pthread_join(th[4], NULL);
	for (int i = 0; i < 5; i++)
		assert_false(w[i].failed);
	tsdb_stats(c->db, &st);
	assert_int_equal(st.profiles, 160);
	{
		struct tsdb_matcher m[1] = {{TSDB_MATCH_EQ, "type", "heap"}};
		struct tsdb_query q = {m, 1, INT64_MIN, INT64_MAX, 0};
		struct pprof_profile *a = NULL, *b = NULL;
		int64_t ta[8], tb[8];
		size_t n;
		assert_int_equal(tsdb_merge(c->db, &q, &a, &n, &err), 0);
		assert_int_equal(n, 160);
		maintain(c, 1);
		assert_int_equal(tsdb_merge(c->db, &q, &b, &n, &err), 0);
		assert_int_equal(n, 160);
		pprof_totals(a, ta);
		pprof_totals(b, tb);
		for (size_t i = 0; i < pprof_message(a)->n_sample_type; i++)
			assert_true(ta[i] == tb[i]);
		pprof_free(a);
		pprof_free(b);
	}
	tsdb_stats(c->db, &st);
	assert_int_equal(st.head_profiles, 0);
	assert_int_equal(st.block_profiles, 160);
	for (int i = 0; i < 10; i++)
		pf_buf_free(&bodies[i]);
}

/* Totals of a merge equal the sums of the fixtures named (heaps[idx[k]]). */
static void check_merge_totals(const struct pprof_profile *got, const int *idx, size_t n)
{
	int64_t want[8] = {0}, t[8], tg[8];
	struct pf_err err = {0};

	for (size_t k = 0; k < n; k++) {
		struct pf_buf b;
		struct pprof_profile *p;
		read_fixture(heaps[idx[k]], &b);
		assert_int_equal(pprof_decode(b.data, b.len, (size_t)1 << 30, &p, &err), 0);
		pprof_totals(p, t);
		for (int j = 0; j < 4; j++)
			want[j] += t[j];
		pprof_free(p);
		pf_buf_free(&b);
	}
	pprof_totals(got, tg);
	assert_memory_equal(tg, want, 4 * sizeof(int64_t));
}

/* Merges by ids through the read path: three series interleaved in one
 * block, the ids named across them (one twice) and with a head profile
 * among them: each chunk is decoded once per merge, an id named twice
 * counts twice, missing ids are skipped. Then the limits: max_profiles
 * (before anything is read) and a deadline already past. */
static void test_merge_ids(void **state)
{
	struct ctx *c = *state;
	static const char *types[3] = {"heapa", "heapb", "heapc"};
	char ids[3][10][TSDB_ID_LEN + 1], head_id[TSDB_ID_LEN + 1];
	const char *list[40];
	int idx[40];
	size_t nl = 0, n;
	struct tsdb_query q = {0};
	struct pprof_profile *got = NULL;
	struct pf_err err = {0};
	struct tsdb_stats st0, st1;

	open_db(c);
	for (int i = 0; i < 10; i++)
		for (int s = 0; s < 3; s++)
			append_fixture(c, heaps[(i + s) % 10], "api", types[s], T0 + i * SEC, ids[s][i]);
	maintain(c, 1); /* one block, one chunk per series */
	assert_int_equal(count_blocks(c), 1);
	/* a0 b0 c0 a1 b1 c1 ... c9, then a0 again and an id of nothing */
	for (int i = 0; i < 10; i++)
		for (int s = 0; s < 3; s++) {
			idx[nl] = (i + s) % 10;
			list[nl++] = ids[s][i];
		}
	idx[nl] = 0;
	list[nl++] = ids[0][0];
	list[nl++] = "000000000000000000000000000";
	q.ids = list;
	q.nids = nl;
	tsdb_stats(c->db, &st0);
	if (tsdb_merge(c->db, &q, &got, &n, &err) != 0)
		fail_msg("tsdb_merge by ids: %s", err.msg);
	tsdb_stats(c->db, &st1);
	assert_int_equal(n, 31);
	assert_int_equal(st1.merge_chunk_decodes - st0.merge_chunk_decodes, 3);
	check_merge_totals(got, idx, 31);
	pprof_free(got);
	got = NULL;

	/* and one in the head: folded with the block's sums */
	append_fixture(c, heaps[4], "api", "heapa", T0 + 100 * SEC, head_id);
	list[nl - 1] = head_id;
	idx[31] = 4;
	tsdb_stats(c->db, &st0);
	assert_int_equal(tsdb_merge(c->db, &q, &got, &n, &err), 0);
	tsdb_stats(c->db, &st1);
	assert_int_equal(n, 32);
	assert_int_equal(st1.merge_chunk_decodes - st0.merge_chunk_decodes, 3);
	check_merge_totals(got, idx, 32);
	pprof_free(got);
	got = NULL;

	/* the limits */
	q.max_profiles = 31;
	assert_int_equal(tsdb_merge(c->db, &q, &got, &n, &err), PF_ELIMIT);
	assert_string_equal(err.msg, "the query selects 32 profiles, over the cap of 31");
	q.max_profiles = 0;
	q.deadline_ns = 1; /* long past */
	assert_int_equal(tsdb_merge(c->db, &q, &got, &n, &err), PF_ETIMEDOUT);
	assert_null(got);
	q.ids = NULL;
	q.nids = 0;
	{
		struct tsdb_matcher m = {TSDB_MATCH_EQ, "service", "api"};
		q.matchers = &m;
		q.nmatchers = 1;
		q.min_t_ns = INT64_MIN;
		q.max_t_ns = INT64_MAX;
		assert_int_equal(tsdb_merge(c->db, &q, &got, &n, &err), PF_ETIMEDOUT);
		q.deadline_ns = 0;
		q.max_profiles = 30;
		assert_int_equal(tsdb_merge(c->db, &q, &got, &n, &err), PF_ELIMIT);
		assert_string_equal(err.msg, "the query selects 31 profiles, over the cap of 30");
		q.max_profiles = 31;
		tsdb_stats(c->db, &st0);
		assert_int_equal(tsdb_merge(c->db, &q, &got, &n, &err), 0);
		tsdb_stats(c->db, &st1);
		assert_int_equal(n, 31);
		assert_int_equal(st1.merge_chunk_decodes - st0.merge_chunk_decodes, 3);
		pprof_free(got);
	}
}

/* tsdb_series over blocks and the head: one entry per series however many
 * places hold it, with the count and first and last time inside the range,
 * whether the range covers a block series whole or in part. */
static void expect_series(struct ctx *c, int64_t lo, int64_t hi, const char *want)
{
	struct tsdb_matcher m = {TSDB_MATCH_NE, "service", ""};
	struct tsdb_query q = {&m, 1, lo, hi, 0};
	struct tsdb_series_set *set = NULL;
	struct pf_err err = {0};
	char got[512] = "";
	size_t at = 0;

	if (tsdb_series(c->db, &q, &set, &err) < 0)
		fail_msg("tsdb_series: %s", err.msg);
	for (size_t i = 0; i < tsdb_series_len(set); i++) {
		const struct tsdb_series_info *si = tsdb_series_at(set, i);
		assert_int_equal(si->nlabels, 2);
		assert_string_equal(si->labels[0].name, "service");
		assert_string_equal(si->labels[1].name, "type");
		at += (size_t)snprintf(got + at, sizeof(got) - at, "%s%s/%s:%llu@%lld-%lld",
				       i ? " " : "", si->labels[0].value, si->labels[1].value,
				       (unsigned long long)si->profiles,
				       (long long)((si->min_t_ns - T0) / SEC),
				       (long long)((si->max_t_ns - T0) / SEC));
	}
	tsdb_series_free(set);
	assert_string_equal(got, want);
}

static void test_series(void **state)
{
	struct ctx *c = *state;
	char id[TSDB_ID_LEN + 1];

	open_db(c);
	for (int i = 0; i < 4; i++)
		append_fixture(c, heaps[i], "api", "heap", T0 + i * SEC, id);
	append_fixture(c, heaps[4], "web", "heap", T0 + 2 * SEC, id);
	maintain(c, 1); /* all of it into a block */
	append_fixture(c, heaps[5], "api", "heap", T0 + 100 * SEC, id); /* the head */
	append_fixture(c, "trace-001.out", "api", "trace", T0 + 101 * SEC, id);

	expect_series(c, INT64_MIN, INT64_MAX,
		      "api/heap:5@0-100 api/trace:1@101-101 web/heap:1@2-2");
	/* part of the block's api series */
	expect_series(c, T0 + 1 * SEC, T0 + 2 * SEC, "api/heap:2@1-2 web/heap:1@2-2");
	/* the block whole, nothing of the head */
	expect_series(c, T0, T0 + 99 * SEC, "api/heap:4@0-3 web/heap:1@2-2");
	/* the head alone */
	expect_series(c, T0 + 50 * SEC, T0 + 200 * SEC, "api/heap:1@100-100 api/trace:1@101-101");
	expect_series(c, T0 + 4 * SEC, T0 + 99 * SEC, "");
	expect_series(c, T0 + 5 * SEC, T0, ""); /* an empty range */
	open_db(c); /* after a restart: the head went into a block too */
	expect_series(c, INT64_MIN, INT64_MAX,
		      "api/heap:5@0-100 api/trace:1@101-101 web/heap:1@2-2");
}

/* An old profile arriving after its window was cut forms an overlapping
 * block; compaction merges them into one. */
static void test_overlap_compaction(void **state)
{
	struct ctx *c = *state;
	char a[TSDB_ID_LEN + 1], b[TSDB_ID_LEN + 1];
	struct tsdb_stats st;

	open_db(c);
	append_fixture(c, heaps[0], "api", "heap", T0 + 1 * SEC, a);
	maintain(c, 1);
	assert_int_equal(count_blocks(c), 1);
	append_fixture(c, heaps[1], "api", "heap", T0 + 2 * SEC, b);
	maintain(c, 1); /* a second block over the same window, then compacted */
	tsdb_stats(c->db, &st);
	assert_int_equal(st.blocks, 1);
	assert_true(st.compactions >= 1);
	assert_int_equal(count_blocks(c), 1);
	check_read(c, a, heaps[0]);
	check_read(c, b, heaps[1]);
	assert_int_equal(find_all(c, "api"), 2);
	open_db(c);
	check_read(c, a, heaps[0]);
	check_read(c, b, heaps[1]);
}

/* Blocks of adjacent windows compact into one once their range is full;
 * profiles move between blocks' symbol tables without being re-encoded,
 * two services (two tables) and raw bodies among them, and read back the same. */
static void test_level_compaction(void **state)
{
	struct ctx *c = *state;
	char ids[10][TSDB_ID_LEN + 1], other[10][TSDB_ID_LEN + 1], traces[3][TSDB_ID_LEN + 1];
	struct tsdb_stats st;

	open_db(c);
	/* 10 s blocks: windows [0,10) [10,20) [20,30) fill the 30 s range */
	for (int i = 0; i < 10; i++) {
		append_fixture(c, heaps[i], "svc", "heap", T0 + i * 8 * SEC, ids[i]);
		append_fixture(c, heaps[9 - i], "other", "heap", T0 + i * 8 * SEC + 1, other[i]);
	}
	for (int i = 0; i < 3; i++)
		append_fixture(c, "trace-001.out", "svc", "trace", T0 + i * 10 * SEC, traces[i]);
	maintain(c, 1);
	tsdb_stats(c->db, &st);
	/* windows at 0, 10, ..., 70 s: 8 blocks; the 30 s ranges that are
	 * complete hold three each */
	assert_true(st.compactions >= 1);
	assert_true(st.blocks < 8);
	assert_true(st.compacted_profiles >= 2 && st.compacted_profiles <= st.profiles * 3);
	assert_true(st.compact_ns > 0 && st.cut_ns > 0);
	for (int i = 0; i < 10; i++) {
		check_read(c, ids[i], heaps[i]);
		check_read(c, other[i], heaps[9 - i]);
	}
	for (int i = 0; i < 3; i++)
		check_read(c, traces[i], "trace-001.out");
	open_db(c); /* and from the files alone */
	for (int i = 0; i < 10; i++)
		check_read(c, other[i], heaps[9 - i]);
	check_read(c, traces[2], "trace-001.out");
}

static void test_retention_time(void **state)
{
	struct ctx *c = *state;
	char old[TSDB_ID_LEN + 1], young[TSDB_ID_LEN + 1];
	struct pf_buf b = PF_BUF_INIT(0);
	struct pf_err err = {0};

	c->o.retention_ns = 3600 * SEC;
	open_db(c);
	append_fixture(c, heaps[0], "api", "heap", T0, old);
	maintain(c, 1);
	/* a profile 2 h newer: the old block is past the retention */
	append_fixture(c, heaps[1], "api", "heap", T0 + 7200 * SEC, young);
	maintain(c, 0); /* without a restart, without a flush */
	assert_int_equal(tsdb_read(c->db, old, &b, NULL, &err), PF_ENOTFOUND);
	check_read(c, young, heaps[1]);
	assert_int_equal(find_all(c, "api"), 1);
	pf_buf_free(&b);
}

static void test_retention_size(void **state)
{
	struct ctx *c = *state;
	char ids[4][TSDB_ID_LEN + 1];
	struct tsdb_stats st;

	open_db(c);
	for (int i = 0; i < 4; i++) {
		append_fixture(c, heaps[i], "api", "heap", T0 + i * 1000 * SEC, ids[i]);
		maintain(c, 1); /* one block each, far apart (no compaction) */
	}
	tsdb_stats(c->db, &st);
	assert_int_equal(st.blocks, 4);
	c->o.retention_bytes = du_bytes(c->dir) - st.block_bytes / 2;
	open_db(c); /* retention runs at open */
	tsdb_stats(c->db, &st);
	assert_true(st.blocks < 4 && st.blocks >= 1);
	assert_true(du_bytes(c->dir) <= c->o.retention_bytes);
	/* the newest stays */
	check_read(c, ids[3], heaps[3]);
	struct pf_buf b = PF_BUF_INIT(0);
	struct pf_err err = {0};
	assert_int_equal(tsdb_read(c->db, ids[0], &b, NULL, &err), PF_ENOTFOUND);
	pf_buf_free(&b);
}

static void block_file(struct ctx *c, const char *file, char *out, size_t n)
{
	char path[128];
	DIR *d;
	struct dirent *de;
	snprintf(path, sizeof(path), "%s/blocks", c->dir);
	assert_non_null(d = opendir(path));
	out[0] = 0;
	while ((de = readdir(d)) != NULL)
		if (tsdb__block_name_ok(de->d_name)) {
			int w = snprintf(out, n, "%s/%.26s/%.32s", path, de->d_name, file);
			assert_true(w > 0 && (size_t)w < n);
		}
	closedir(d);
	assert_true(out[0] != 0);
}

static void flip_byte(const char *path, off_t off)
{
	int fd = open(path, O_RDWR);
	uint8_t x;
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &x, 1, off), 1);
	x ^= 0x5a;
	assert_int_equal(pwrite(fd, &x, 1, off), 1);
	close(fd);
}

/* ---- WAL checkpoints ---------------------------------------------------- */

/* Close as kill -9 would leave the files. */
static void crash(struct ctx *c)
{
	tsdb__crash_close(c->db);
	c->db = NULL;
}

static void assert_gone(struct ctx *c, const char *id)
{
	struct pf_buf b = PF_BUF_INIT(0);
	struct pf_err err = {0};
	assert_int_equal(tsdb_read(c->db, id, &b, NULL, &err), PF_ENOTFOUND);
	pf_buf_free(&b);
}

/* The WAL directory's names, sorted, space-separated. */
static void wal_files(struct ctx *c, char *out, size_t n)
{
	char path[128];
	struct dirent **de;
	int k;
	snprintf(path, sizeof(path), "%s/wal", c->dir);
	k = scandir(path, &de, NULL, alphasort);
	assert_true(k >= 0);
	out[0] = 0;
	for (int i = 0; i < k; i++) {
		if (de[i]->d_name[0] != '.')
			snprintf(out + strlen(out), n - strlen(out), "%s%s", out[0] ? " " : "",
				 de[i]->d_name);
		free(de[i]);
	}
	free(de);
}

static int count_rec(void *arg, const uint8_t *head, size_t nhead, uint64_t rec_len,
		     const struct tsdb__loc *loc, const char *path, struct pf_err *err)
{
	(void)head, (void)nhead, (void)rec_len, (void)path, (void)err;
	assert_int_equal(loc->kind, TSDB__LOC_CKPT);
	(*(int *)arg)++;
	return 0;
}

/* Records in checkpoint num (checked as the open reads it). */
static int ckpt_records(struct ctx *c, uint32_t num)
{
	char path[128];
	struct tsdb__scan_result res;
	struct pf_err err = {0};
	int fd, n = 0;
	snprintf(path, sizeof(path), "%s/wal/checkpoint.%08" PRIu32, c->dir, num);
	assert_true((fd = open(path, O_RDONLY)) >= 0);
	assert_int_equal(tsdb__wal_scan_checkpoint(fd, num, path, count_rec, &n, &res, &err), 0);
	assert_int_equal(res.status, TSDB__SCAN_END);
	close(fd);
	return n;
}

/* Old profiles in a block and in the head, a young one 2 h later, retention
 * 1 h: the round drops the old ones and checkpoints the WAL. */
static void retention_scene(struct ctx *c, char old[2][TSDB_ID_LEN + 1], char *young)
{
	c->o.retention_ns = 3600 * SEC;
	open_db(c);
	append_fixture(c, heaps[0], "api", "heap", T0, old[0]);
	maintain(c, 0); /* nothing to cut yet: the records share segment 1 */
	append_fixture(c, heaps[1], "api", "heap", T0 + 20 * SEC, old[1]);
	append_fixture(c, heaps[2], "api", "heap", T0 + 7200 * SEC, young);
}

/* What time retention dropped, from blocks and from the head, is gone from
 * the WAL: a restart after a crash without any retention finds only the
 * young profile, replayed from the checkpoint. */
static void test_checkpoint_after_retention(void **state)
{
	struct ctx *c = *state;
	char old[2][TSDB_ID_LEN + 1], young[TSDB_ID_LEN + 1], files[512];
	struct tsdb_stats st;

	retention_scene(c, old, young);
	maintain(c, 0);
	tsdb_stats(c->db, &st);
	assert_int_equal(st.checkpoints, 1);
	assert_int_equal(st.retention_dropped_profiles, 2);
	assert_int_equal(st.profiles, 1);
	/* the cut made segment 2, the checkpoint 3: it covers 1 and 2 */
	wal_files(c, files, sizeof(files));
	assert_string_equal(files, "00000003 checkpoint.00000002");
	assert_int_equal(ckpt_records(c, 2), 1);
	assert_gone(c, old[0]);
	assert_gone(c, old[1]);
	check_read(c, young, heaps[2]); /* read from the checkpoint */
	crash(c);
	c->o.retention_ns = 0; /* nothing would drop them again */
	open_db(c);
	tsdb_stats(c->db, &st);
	assert_int_equal(st.replayed, 1);
	assert_int_equal(find_all(c, "api"), 1);
	assert_gone(c, old[0]);
	assert_gone(c, old[1]);
	check_read(c, young, heaps[2]);
	/* a clean close writes it into a block: no checkpoint left */
	open_db(c);
	wal_files(c, files, sizeof(files));
	assert_null(strstr(files, "checkpoint"));
	check_read(c, young, heaps[2]);
	assert_int_equal(find_all(c, "api"), 1);
}

/* Time retention reaches profiles still in the head (a retention shorter
 * than a block). */
static void test_retention_head(void **state)
{
	struct ctx *c = *state;
	char a[TSDB_ID_LEN + 1], b[TSDB_ID_LEN + 1];
	struct tsdb_stats st;

	c->o.retention_ns = 5 * SEC;
	open_db(c);
	append_fixture(c, heaps[0], "api", "heap", T0, a);
	append_fixture(c, heaps[1], "api", "heap", T0 + 8 * SEC, b);
	maintain(c, 0);
	tsdb_stats(c->db, &st);
	assert_int_equal(st.cuts, 0);
	assert_int_equal(st.head_profiles, 1);
	assert_int_equal(st.checkpoints, 1);
	assert_gone(c, a);
	check_read(c, b, heaps[1]);
	crash(c);
	c->o.retention_ns = 0;
	open_db(c);
	assert_gone(c, a);
	check_read(c, b, heaps[1]);
	assert_int_equal(find_all(c, "api"), 1);
}

/* A crash at each step of the round that drops: the restart (with the
 * retention) never shows what was dropped and keeps the rest; a second
 * crash and a restart without retention show the WAL no longer holds it. */
static void test_checkpoint_crash_steps(void **state)
{
	struct ctx *c = *state;
	int steps[] = {TSDB__CRASH_CKPT_WRITTEN, TSDB__CRASH_CKPT_RENAMED,
		       TSDB__CRASH_BEFORE_BLOCK_RM};

	for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
		char old[2][TSDB_ID_LEN + 1], young[TSDB_ID_LEN + 1], files[512];
		char cmd[256];
		struct tsdb_stats st;

		tsdb_close(c->db);
		c->db = NULL;
		snprintf(cmd, sizeof(cmd), "rm -rf %s/*", c->dir);
		assert_int_equal(system(cmd), 0);
		retention_scene(c, old, young);
		c->db->test_crash_at = steps[k];
		maintain(c, 0); /* retention logs its failure, the round goes on */
		tsdb_stats(c->db, &st);
		assert_int_equal(st.checkpoint_failures, steps[k] == TSDB__CRASH_BEFORE_BLOCK_RM ? 0 : 1);
		wal_files(c, files, sizeof(files));
		if (steps[k] == TSDB__CRASH_CKPT_WRITTEN)
			assert_non_null(strstr(files, "checkpoint.00000002.tmp"));
		else if (steps[k] == TSDB__CRASH_CKPT_RENAMED)
			assert_string_equal(files, "00000001 00000002 00000003 checkpoint.00000002");
		else
			assert_int_equal(count_blocks(c), 2); /* the old blocks, not deleted */
		crash(c);
		open_db(c); /* retention 1 h: the open drops what is left */
		wal_files(c, files, sizeof(files));
		assert_null(strstr(files, ".tmp"));
		assert_null(strstr(files, "00000001"));
		assert_int_equal(count_blocks(c), 0);
		assert_gone(c, old[0]);
		assert_gone(c, old[1]);
		check_read(c, young, heaps[2]);
		assert_int_equal(find_all(c, "api"), 1);
		crash(c);
		c->o.retention_ns = 0;
		open_db(c);
		assert_gone(c, old[0]);
		assert_gone(c, old[1]);
		check_read(c, young, heaps[2]);
		assert_int_equal(find_all(c, "api"), 1);
	}
}

/* A checkpoint whose header is damaged is reported and skipped: the open
 * goes on with the segments after it. */
static void test_checkpoint_damaged(void **state)
{
	struct ctx *c = *state;
	char old[2][TSDB_ID_LEN + 1], young[TSDB_ID_LEN + 1], later[TSDB_ID_LEN + 1];
	char path[128];

	retention_scene(c, old, young);
	maintain(c, 0);
	append_fixture(c, heaps[3], "api", "heap", T0 + 7201 * SEC, later);
	crash(c);
	snprintf(path, sizeof(path), "%s/wal/checkpoint.00000002", c->dir);
	flip_byte(path, 9); /* its number */
	open_db(c);
	check_read(c, later, heaps[3]);
	assert_gone(c, old[0]);
	assert_int_equal(find_all(c, "api"), 1);
}

/* A cap below the WAL's size: the head is cut early and checkpointed
 * rather than every block dropped; the directory stays under the cap, after
 * the round and after a crash and restart; the newest profiles stay. */
static void test_retention_size_wal(void **state)
{
	struct ctx *c = *state;
	char ids[10][TSDB_ID_LEN + 1], files[512];
	struct tsdb_stats st;
	uint64_t du;

	c->o.block_duration_ns = 3600 * SEC; /* no cut of its own */
	open_db(c);
	for (int i = 0; i < 10; i++)
		append_fixture(c, heaps[i], "api", "heap", T0 + i * SEC, ids[i]);
	du = du_bytes(c->dir);
	tsdb_stats(c->db, &st);
	assert_true(st.wal_bytes > du / 2);
	crash(c);
	c->o.retention_bytes = du / 2; /* the WAL alone is larger */
	open_db(c);                    /* retention runs at open */
	tsdb_stats(c->db, &st);
	assert_int_equal(st.cuts, 1);
	assert_int_equal(st.checkpoints, 1);
	assert_int_equal(st.head_profiles, 0);
	assert_true(st.blocks >= 1);
	assert_true(du_bytes(c->dir) <= c->o.retention_bytes);
	wal_files(c, files, sizeof(files));
	assert_int_equal(ckpt_records(c, (uint32_t)strtoul(strstr(files, "checkpoint.") + 11, NULL, 10)), 0);
	for (int i = 0; i < 10; i++)
		check_read(c, ids[i], heaps[i]);
	crash(c);
	open_db(c);
	assert_true(du_bytes(c->dir) <= c->o.retention_bytes);
	assert_int_equal(find_all(c, "api"), 10);
	/* a cap smaller than the block: everything goes, the cap holds */
	tsdb_close(c->db);
	c->db = NULL;
	c->o.retention_bytes = 16384;
	open_db(c);
	assert_true(du_bytes(c->dir) <= c->o.retention_bytes);
	assert_int_equal(find_all(c, "api"), 0);
}

/* A checkpoint that fails (a full disk) does not keep size retention from
 * freeing space: the oldest blocks go all the same, and the next round
 * checkpoints. */
static void test_retention_size_ckpt_fails(void **state)
{
	struct ctx *c = *state;
	char ids[4][TSDB_ID_LEN + 1];
	struct tsdb_stats st;
	uint64_t cap;

	open_db(c);
	for (int i = 0; i < 4; i++) {
		append_fixture(c, heaps[i], "api", "heap", T0 + i * 1000 * SEC, ids[i]);
		maintain(c, 1);
	}
	tsdb_stats(c->db, &st);
	cap = du_bytes(c->dir) - st.block_bytes / 2;
	c->db->retention_bytes = cap;
	c->db->test_crash_at = TSDB__CRASH_CKPT_WRITTEN; /* every checkpoint fails */
	maintain(c, 0);
	tsdb_stats(c->db, &st);
	assert_int_equal(st.checkpoint_failures, 1);
	assert_true(st.blocks < 4 && st.blocks >= 1);
	assert_true(du_bytes(c->dir) <= cap + 64); /* + the abandoned .tmp's header */
	assert_gone(c, ids[0]);
	check_read(c, ids[3], heaps[3]);
	c->db->test_crash_at = 0;
	maintain(c, 0); /* the pending checkpoint */
	tsdb_stats(c->db, &st);
	assert_int_equal(st.checkpoints, 1);
}

/* A corrupt index: the block is reported and skipped, the others serve. */
static void test_corrupt_index_skipped(void **state)
{
	struct ctx *c = *state;
	char a[TSDB_ID_LEN + 1], b[TSDB_ID_LEN + 1], path[256];
	struct tsdb_stats st;

	open_db(c);
	append_fixture(c, heaps[0], "api", "heap", T0, a);
	maintain(c, 1);
	block_file(c, "index", path, sizeof(path));
	tsdb_close(c->db);
	c->db = NULL;
	flip_byte(path, 40);
	open_db(c);
	append_fixture(c, heaps[1], "api", "heap", T0 + 1000 * SEC, b);
	tsdb_stats(c->db, &st);
	assert_int_equal(st.corrupt_skipped, 1);
	check_read(c, b, heaps[1]);
	assert_int_equal(find_all(c, "api"), 1);
}

/* A corrupt chunk: reading names file:offset; a merge leaves it out. */
static void test_corrupt_chunk(void **state)
{
	struct ctx *c = *state;
	char ids[10][TSDB_ID_LEN + 1], path[256];
	struct pf_buf body = PF_BUF_INIT(0);
	struct pf_err err = {0};
	struct stat sb;

	c->o.block_duration_ns = 3600 * SEC;
	open_db(c);
	for (int i = 0; i < 10; i++)
		append_fixture(c, heaps[i], "api", "heap", T0 + i * SEC, ids[i]);
	maintain(c, 1);
	block_file(c, "chunks", path, sizeof(path));
	assert_int_equal(stat(path, &sb), 0);
	tsdb_close(c->db);
	c->db = NULL;
	flip_byte(path, sb.st_size / 2);
	open_db(c);
	assert_int_equal(tsdb_read(c->db, ids[0], &body, NULL, &err), PF_ECORRUPT);
	assert_non_null(strstr(err.msg, "/chunks:"));
	struct tsdb_matcher m = {TSDB_MATCH_EQ, "service", "api"};
	struct tsdb_query q = {&m, 1, INT64_MIN, INT64_MAX, 0};
	struct pprof_profile *p = NULL;
	size_t n;
	int rc = tsdb_merge(c->db, &q, &p, &n, &err);
	assert_true(rc == 0 || rc == PF_ENOTFOUND); /* reported and skipped */
	pprof_free(p);
	struct tsdb_stats st;
	tsdb_stats(c->db, &st);
	assert_true(st.corrupt_skipped >= 1);
	pf_buf_free(&body);
}

/* Leftovers of interrupted writes: *.tmp block directories are removed,
 * and a block already compacted into another is deleted at open. */
static void test_leftovers(void **state)
{
	struct ctx *c = *state;
	char a[TSDB_ID_LEN + 1], b[TSDB_ID_LEN + 1], path[256], src[256], cmd[2048];

	open_db(c);
	append_fixture(c, heaps[0], "api", "heap", T0 + SEC, a);
	maintain(c, 1);
	block_file(c, "", src, sizeof(src));
	src[strlen(src) - 1] = 0; /* the block directory */
	snprintf(cmd, sizeof(cmd), "cp -a %s %s/saved", src, c->dir);
	assert_int_equal(system(cmd), 0);
	append_fixture(c, heaps[1], "api", "heap", T0 + 2 * SEC, b);
	maintain(c, 1); /* compacts the two overlapping blocks, deletes src */
	assert_int_equal(count_blocks(c), 1);
	tsdb_close(c->db);
	c->db = NULL;
	/* as if the compaction died before deleting its source */
	snprintf(cmd, sizeof(cmd), "mv %s/saved %s", c->dir, src);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/blocks/01ARZ3NDEKTSV4RRFFQ69G5FAV.tmp", c->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(count_blocks(c), 2);
	open_db(c);
	assert_int_equal(count_blocks(c), 1);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(find_all(c, "api"), 2);
	check_read(c, a, heaps[0]);
}

/* A cut that cannot read its input (a WAL record gone bad under the running
 * store) fails cleanly: nothing half-written stays, the WAL keeps the rest,
 * the store keeps serving and closes without crashing. */
static void test_cut_failure(void **state)
{
	struct ctx *c = *state;
	char a[TSDB_ID_LEN + 1], b[TSDB_ID_LEN + 1], path[128];
	struct pf_err err = {0};

	open_db(c);
	/* a trace: the cut reads it from the WAL (pprof profiles it takes
	 * from the symbolized head, without reading the WAL) */
	append_fixture(c, "trace-001.out", "api", "trace", T0, a);
	append_fixture(c, heaps[1], "api", "heap", T0 + SEC, b);
	snprintf(path, sizeof(path), "%s/wal/00000001", c->dir);
	flip_byte(path, 100); /* inside the first record */
	assert_int_equal(tsdb_maintain(c->db, 1, &err), PF_ECORRUPT);
	assert_non_null(strstr(err.msg, "wal/00000001:"));
	assert_int_equal(count_blocks(c), 0);
	check_read(c, b, heaps[1]);
	tsdb_close(c->db); /* logs the failed flush */
	c->db = NULL;
	open_db(c); /* the bad record is cut off at replay, the good one kept */
	check_read(c, b, heaps[1]);
}

/* The index writer and reader on their own: postings, lookups, and every
 * byte of the index checked. */
static void test_index_roundtrip(void **state)
{
	struct ctx *c = *state;
	struct tsdb__bw *w;
	struct tsdb__block *b;
	struct pf_err err = {0};
	char name[TSDB__BLOCK_NAME_LEN + 1], dir[128], path[256];
	const char *names[3] = {"env", "service", "type"};
	const char *vals[4][3] = {{"prod", "a", "cpu"}, {"dev", "a", "heap"}, {"prod", "b", "cpu"},
				  {"prod", "b", "heap"}};
	struct tsdb_total tot = {"samples", "count", 5};

	snprintf(dir, sizeof(dir), "%s/blocks", c->dir);
	assert_int_equal(pf_mkdir_p(dir, &err), 0);
	assert_int_equal(tsdb__bw_new(dir, &w, &err), 0);
	for (int s = 0; s < 4; s++) {
		assert_int_equal(tsdb__bw_series(w, 1000 + (uint64_t)s, names, vals[s], 3, 7, &err), 0);
		for (int k = 0; k < 3; k++)
			assert_int_equal(tsdb__bw_add(w, T0 + k, (uint32_t)k, TSDB_KIND_RAW, 5, &tot, 1,
						      NULL, "hello", 5, &err),
					 0);
	}
	assert_int_equal(tsdb__bw_commit(w, 1, NULL, 0, name, &err), 0);
	tsdb__bw_free(w);
	assert_int_equal(tsdb__block_open(dir, name, &b, &err), 0);
	const struct tsdb__block_info *in = tsdb__block_info(b);
	assert_int_equal(in->nseries, 4);
	assert_int_equal(in->nprofiles, 12);
	assert_true(in->min_t == T0 && in->max_t == T0 + 2);

	struct tsdb_matcher m[2] = {{TSDB_MATCH_EQ, "env", "prod"}, {TSDB_MATCH_NRE, "type", "c.*"}};
	struct tsdb__preds *ps;
	struct tsdb__psource src;
	struct tsdb__plist out = {0};
	assert_int_equal(tsdb__preds_new(m, 2, &ps, &err), 0);
	tsdb__block_psource(b, &src);
	tsdb__select(&src, ps, &out);
	assert_int_equal(out.n, 1);
	assert_int_equal(tsdb__block_series_hash(b, out.ids[0]), 1003);
	tsdb__preds_free(ps);
	tsdb__plist_free(&out);

	uint32_t ord;
	assert_true(tsdb__block_find_hash(b, 1002, &ord));
	assert_false(tsdb__block_find_hash(b, 999, &ord));
	assert_int_equal(tsdb__block_series_max_seq(b, ord), 7);
	struct tsdb__bentries es;
	tsdb__block_entries(b, ord, &es);
	assert_int_equal(es.n, 3);
	assert_int_equal(es.e[2].t_ns, T0 + 2);
	assert_string_equal(es.totals[es.e[1].totals_at].type, "samples");
	struct pf_buf raw = PF_BUF_INIT(0);
	assert_int_equal(tsdb__block_decode(b, ord, &es.e[1], NULL, &raw, &err), 0);
	assert_int_equal(raw.len, 5);
	assert_memory_equal(raw.data, "hello", 5);
	pf_buf_free(&raw);
	tsdb__bentries_free(&es);
	tsdb__block_unref(b);

	/* every byte of the index is covered: a flip anywhere is refused */
	struct stat sb;
	snprintf(path, sizeof(path), "%s/%s/index", dir, name);
	assert_int_equal(stat(path, &sb), 0);
	for (off_t off = 0; off < sb.st_size; off++) {
		flip_byte(path, off);
		int rc = tsdb__block_open(dir, name, &b, &err);
		if (rc == 0)
			fail_msg("a flipped byte at %lld went unnoticed", (long long)off);
		assert_int_equal(rc, PF_ECORRUPT);
		assert_non_null(strstr(err.msg, "/index:"));
		flip_byte(path, off);
	}
	assert_int_equal(tsdb__block_open(dir, name, &b, &err), 0);
	tsdb__block_unref(b);

	/* damage that passes the checksums reaches the parser: every byte of
	 * every section's payload changed, its CRC32C made right again; the
	 * open either works or fails with a message, and a failed open
	 * frees what it had read (a services count past its section once
	 * left b->services NULL with nservices set) */
	struct pf_buf orig = PF_BUF_INIT(0);
	assert_int_equal(pf_read_file(path, (size_t)1 << 30, &orig, &err), 0);
	uint8_t *mut = malloc(orig.len);
	size_t opened = 0, refused = 0;
	assert_non_null(mut);
	for (size_t off = 8; off + 12 <= orig.len;) {
		uint64_t len = pf_get_le64(orig.data + off);
		size_t p0 = off + 12;
		assert_true(len <= orig.len - p0);
		for (size_t i = p0; i < p0 + len; i++) {
			static const int vs[] = {0x01, 0x80, 0xff, 0x100, 0x17f};
			for (size_t k = 0; k < PF_ARRAY_LEN(vs); k++) {
				memcpy(mut, orig.data, orig.len);
				if (vs[k] >= 0x100)
					mut[i] = (uint8_t)(vs[k] - 0x100);
				else
					mut[i] ^= (uint8_t)vs[k];
				pf_put_le32(mut + off + 8, pf_crc32c(0, mut + p0, len));
				assert_int_equal(pf_write_file_atomic(path, mut, orig.len, &err), 0);
				memset(&err, 0, sizeof(err));
				if (tsdb__block_open(dir, name, &b, &err) == 0) {
					tsdb__block_unref(b);
					opened++;
				} else {
					assert_true(err.msg[0] != 0);
					refused++;
				}
			}
		}
		off = p0 + len;
	}
	assert_true(refused > 0);
	print_message("# index sections damaged past their checksums: %zu opened, %zu refused\n",
		      opened, refused);
	assert_int_equal(pf_write_file_atomic(path, orig.data, orig.len, &err), 0);
	free(mut);
	pf_buf_free(&orig);
	assert_int_equal(tsdb__block_open(dir, name, &b, &err), 0);
	tsdb__block_unref(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_index_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cut_and_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_series_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_on_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_merge_matches_pprof_merge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_merge_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlap_compaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_level_compaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_after_retention, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_head, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_crash_steps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_damaged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_size_wal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_size_ckpt_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_index_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_chunk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leftovers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cut_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symbolized_head, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_head, setup, teardown),
		cmocka_unit_test_setup_teardown(test_series, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
