/* Unit tests of src/tsdb: append/read, queries, WAL replay and repair,
 * rotation, group commit, locking. Each test gets a fresh temp dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"
#include "tsdb/tsdb-internal.h"
#include "tsdb/tsdb.h"

struct ctx {
	char dir[64];
	char wal1[128]; /* first segment */
	struct tsdb *db;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	fixture_store_dir(c->dir, "tsdb");
	snprintf(c->wal1, sizeof(c->wal1), "%s/wal/00000001", c->dir);
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

static struct tsdb *open_db(struct ctx *c, size_t seg_bytes)
{
	struct tsdb_options o = {c->dir, seg_bytes, 0};
	return fixture_store_open(&o);
}

static void reopen(struct ctx *c, size_t seg_bytes)
{
	tsdb__crash_close(c->db); /* as after kill -9: the head stays in the WAL */
	c->db = open_db(c, seg_bytes);
}

/* Append with labels given as "name=value" strings (NULL-terminated). */
static int append_l(struct tsdb *db, int64_t t, const void *body, size_t len, char *id,
		    const char *const *kv)
{
	struct tsdb_label l[16];
	char buf[16][128];
	size_t n = 0;
	struct tsdb_total tot[2] = {{"samples", "count", 42}, {"cpu", "nanoseconds", -7}};
	struct tsdb_append_req req = {0};
	struct pf_err err = {0};
	int rc;

	for (; kv[n]; n++) {
		snprintf(buf[n], sizeof(buf[n]), "%s", kv[n]);
		char *eq = strchr(buf[n], '=');
		*eq = 0;
		l[n].name = buf[n];
		l[n].value = eq + 1;
	}
	req.labels = l;
	req.nlabels = n;
	req.t_ns = t;
	req.kind = TSDB_KIND_RAW; /* opaque bodies: a pprof body must decode (test_pprof_append) */
	req.body = body;
	req.len = len;
	req.totals = tot;
	req.ntotals = 2;
	rc = tsdb_append(db, &req, id, &err);
	if (rc != 0)
		print_message("append: %s\n", err.msg);
	return rc;
}

static void append_ok(struct tsdb *db, int64_t t, const char *body, char *id,
		      const char *const *kv)
{
	char tmp[TSDB_ID_LEN + 1];
	assert_int_equal(append_l(db, t, body, strlen(body), id ? id : tmp, kv), 0);
}

static const char *const L_A_CPU[] = {"service=a", "type=cpu", NULL};

static int read_body(struct tsdb *db, const char *id, char *out, size_t outsz)
{
	struct pf_buf b = PF_BUF_INIT(0);
	struct pf_err err = {0};
	int rc = tsdb_read(db, id, &b, NULL, &err);
	if (rc == 0) {
		assert_true(b.len < outsz);
		memcpy(out, b.data, b.len);
		out[b.len] = 0;
	}
	pf_buf_free(&b);
	return rc;
}

static uint64_t file_size(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_size;
}

static size_t find_n(struct tsdb *db, const struct tsdb_matcher *m, size_t nm, int64_t lo,
		     int64_t hi, size_t limit, struct tsdb_result **out)
{
	struct tsdb_query q = {m, nm, lo, hi, limit};
	struct pf_err err = {0};
	struct tsdb_result *r = NULL;
	int rc = tsdb_find(db, &q, &r, &err);
	if (rc != 0)
		fail_msg("find: %s", err.msg);
	size_t n = tsdb_result_len(r);
	if (out)
		*out = r;
	else
		tsdb_result_free(r);
	return n;
}

/* ---- append / read ------------------------------------------------------ */

static void test_append_read(void **state)
{
	struct ctx *c = *state;
	static const char *const kv[] = {"type=heap", "service=api", "zone=eu", NULL};
	uint8_t body[5000];
	char id[TSDB_ID_LEN + 1];
	struct pf_buf b = PF_BUF_INIT(0);
	struct tsdb_meta *m = NULL;
	struct pf_err err = {0};

	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)(i * 7 + 3);
	c->db = open_db(c, 0);
	assert_int_equal(append_l(c->db, 1559250605000000000LL, body, sizeof(body), id, kv), 0);
	assert_int_equal(strlen(id), TSDB_ID_LEN);
	for (size_t i = 0; i < TSDB_ID_LEN; i++)
		assert_true((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'z') ||
			    (id[i] >= 'A' && id[i] <= 'Z'));
	assert_int_equal(tsdb_read(c->db, id, &b, &m, &err), 0);
	assert_int_equal(b.len, sizeof(body));
	assert_memory_equal(b.data, body, sizeof(body));
	assert_string_equal(m->id, id);
	assert_int_equal(m->t_ns, 1559250605000000000LL);
	assert_int_equal(m->kind, TSDB_KIND_RAW);
	assert_int_equal(m->size, sizeof(body));
	assert_int_equal(m->nlabels, 3);
	assert_string_equal(m->labels[0].name, "service");
	assert_string_equal(m->labels[0].value, "api");
	assert_string_equal(m->labels[1].name, "type");
	assert_string_equal(m->labels[2].name, "zone");
	assert_string_equal(m->labels[2].value, "eu");
	assert_int_equal(m->ntotals, 2);
	assert_string_equal(m->totals[0].type, "samples");
	assert_string_equal(m->totals[0].unit, "count");
	assert_int_equal(m->totals[0].value, 42);
	assert_int_equal(m->totals[1].value, -7);
	tsdb_meta_free(m);

	/* body appended after existing content; cap respected */
	pf_buf_reset(&b);
	pf_buf_append(&b, "xy", 2);
	assert_int_equal(tsdb_read(c->db, id, &b, NULL, &err), 0);
	assert_int_equal(b.len, sizeof(body) + 2);
	pf_buf_free(&b);
	struct pf_buf small = PF_BUF_INIT(100);
	assert_int_equal(tsdb_read(c->db, id, &small, NULL, &err), PF_ETOOBIG);
	pf_buf_free(&small);

	struct tsdb_stats st;
	tsdb_stats(c->db, &st);
	assert_int_equal(st.series, 1);
	assert_int_equal(st.profiles, 1);
	assert_int_equal(st.appends, 1);
	assert_true(st.wal_fsyncs >= 1);
	assert_true(st.wal_bytes > sizeof(body));
}

static void test_invalid_appends(void **state)
{
	struct ctx *c = *state;
	static const char *const no_type[] = {"service=a", NULL};
	static const char *const dup[] = {"service=a", "type=cpu", "type=heap", NULL};
	static const char *const badname[] = {"service=a", "type=cpu", "1x=y", NULL};
	static const char *const empty[] = {"service=a", "type=cpu", "x=", NULL};
	char id[TSDB_ID_LEN + 1];
	struct tsdb_options o = {c->dir, 0, 16};
	struct pf_err err = {0};

	assert_int_equal(tsdb_open(&o, &c->db, &err), 0);
	assert_int_equal(append_l(c->db, 1, "x", 1, id, no_type), PF_EINVAL);
	assert_int_equal(append_l(c->db, 1, "x", 1, id, dup), PF_EINVAL);
	assert_int_equal(append_l(c->db, 1, "x", 1, id, badname), PF_EINVAL);
	assert_int_equal(append_l(c->db, 1, "x", 1, id, empty), PF_EINVAL);
	assert_int_equal(append_l(c->db, 1, "x", 0, id, L_A_CPU), PF_EINVAL);
	assert_int_equal(append_l(c->db, 1, "0123456789abcdefg", 17, id, L_A_CPU), PF_ETOOBIG);
	assert_int_equal(append_l(c->db, 1, "0123456789abcdef", 16, id, L_A_CPU), 0);
	struct tsdb_stats st;
	tsdb_stats(c->db, &st);
	assert_int_equal(st.profiles, 1);
	assert_int_equal(st.series, 1);
	/* failed appends leave no visible series or label names */
	char **v;
	size_t n;
	tsdb_label_names(c->db, &v, &n);
	assert_int_equal(n, 2);
	tsdb_strings_free(v, n);
}

/* A pprof append: the body is decoded, totals given or not; one that does
 * not decode is refused with the decoder's sentence, and nothing is stored. */
static void test_pprof_append(void **state)
{
	struct ctx *c = *state;
	struct tsdb_label l[2] = {{"service", "a"}, {"type", "heap"}};
	struct tsdb_total tot[1] = {{"samples", "count", 42}};
	struct tsdb_append_req req = {0};
	struct tsdb_append_info info;
	struct tsdb_meta *m = NULL;
	struct pf_buf b, out = PF_BUF_INIT(0);
	struct pf_err err = {0};
	struct tsdb_stats st;
	char id[TSDB_ID_LEN + 1];

	c->db = open_db(c, 0);
	fixture_read("tests/fixtures/pprof/heap-001.pb.gz", &b);
	req.labels = l;
	req.nlabels = 2;
	req.t_ns = 1000;
	req.kind = TSDB_KIND_PPROF;
	req.info = &info;
	/* not pprof, with totals: refused (no longer kept WAL-only) */
	req.body = "not a profile";
	req.len = 13;
	req.totals = tot;
	req.ntotals = 1;
	assert_int_equal(tsdb_append(c->db, &req, id, &err), PF_EINVAL);
	assert_string_equal(err.msg, "parsing profile: unrecognized profile format");
	assert_int_equal(info.body, TSDB_BODY_BAD);
	/* a truncated gzip, without totals */
	req.body = b.data;
	req.len = b.len - 9;
	req.totals = NULL;
	req.ntotals = 0;
	assert_int_equal(tsdb_append(c->db, &req, id, &err), PF_EINVAL);
	assert_string_equal(err.msg, "decompressing profile: unexpected EOF");
	tsdb_stats(c->db, &st);
	assert_int_equal(st.profiles, 0);
	/* the real profile: totals computed, the body kept byte for byte */
	req.len = b.len;
	assert_int_equal(tsdb_append(c->db, &req, id, &err), 0);
	assert_int_equal(info.body, TSDB_BODY_OK);
	assert_int_equal(info.t_ns, 1000);
	assert_int_equal(tsdb_read(c->db, id, &out, &m, &err), 0);
	assert_int_equal(out.len, b.len);
	assert_memory_equal(out.data, b.data, b.len);
	assert_int_equal(m->kind, TSDB_KIND_PPROF);
	assert_true(m->ntotals >= 1);
	assert_true(m->totals[0].value > 0);
	tsdb_meta_free(m);
	/* the same with totals given: stored as given */
	req.t_ns = 2000;
	req.totals = tot;
	req.ntotals = 1;
	if (tsdb_append(c->db, &req, id, &err) != 0)
		fail_msg("append with totals: %s", err.msg);
	pf_buf_reset(&out);
	assert_int_equal(tsdb_read(c->db, id, &out, &m, &err), 0);
	assert_int_equal(m->ntotals, 1);
	assert_int_equal(m->totals[0].value, 42);
	tsdb_meta_free(m);
	pf_buf_free(&out);
	pf_buf_free(&b);
}

/* ---- queries ------------------------------------------------------------ */

static void fill_query_fixture(struct tsdb *db)
{
	static const char *const s1[] = {"service=a", "type=cpu", NULL};
	static const char *const s2[] = {"service=a", "type=heap", "zone=eu", NULL};
	static const char *const s3[] = {"service=b", "type=cpu", "zone=us", NULL};
	static const char *const s4[] = {"service=ab", "type=cpu", NULL};
	for (int i = 0; i < 5; i++) {
		append_ok(db, 100 + i * 10, "s1", NULL, s1); /* 100..140 */
		append_ok(db, 105 + i * 10, "s2", NULL, s2); /* 105..145 */
		append_ok(db, 100 + i * 10, "s3", NULL, s3); /* 100..140 */
	}
	append_ok(db, 1000, "s4", NULL, s4);
}

static void test_find_matchers(void **state)
{
	struct ctx *c = *state;
	struct tsdb_result *r;
	c->db = open_db(c, 0);
	fill_query_fixture(c->db);

	const struct tsdb_matcher eq_a[] = {{TSDB_MATCH_EQ, "service", "a"}};
	assert_int_equal(find_n(c->db, eq_a, 1, INT64_MIN, INT64_MAX, 0, NULL), 10);
	const struct tsdb_matcher eq_a_cpu[] = {{TSDB_MATCH_EQ, "service", "a"},
						{TSDB_MATCH_EQ, "type", "cpu"}};
	assert_int_equal(find_n(c->db, eq_a_cpu, 2, INT64_MIN, INT64_MAX, 0, NULL), 5);
	const struct tsdb_matcher ne[] = {{TSDB_MATCH_EQ, "type", "cpu"},
					  {TSDB_MATCH_NE, "service", "a"}};
	assert_int_equal(find_n(c->db, ne, 2, INT64_MIN, INT64_MAX, 0, NULL), 6);
	/* anchored: "a" does not match "ab"; alternation is anchored as a whole */
	const struct tsdb_matcher re[] = {{TSDB_MATCH_RE, "service", "a|ab"}};
	assert_int_equal(find_n(c->db, re, 1, INT64_MIN, INT64_MAX, 0, NULL), 11);
	const struct tsdb_matcher re2[] = {{TSDB_MATCH_RE, "service", "a"}};
	assert_int_equal(find_n(c->db, re2, 1, INT64_MIN, INT64_MAX, 0, NULL), 10);
	const struct tsdb_matcher re3[] = {{TSDB_MATCH_RE, "service", "b"}};
	assert_int_equal(find_n(c->db, re3, 1, INT64_MIN, INT64_MAX, 0, NULL), 5);
	const struct tsdb_matcher nre[] = {{TSDB_MATCH_RE, "service", ".+"},
					   {TSDB_MATCH_NRE, "service", "a.*"}};
	assert_int_equal(find_n(c->db, nre, 2, INT64_MIN, INT64_MAX, 0, NULL), 5);
	/* negative-only selectors work against all series */
	const struct tsdb_matcher nre_only[] = {{TSDB_MATCH_NRE, "type", "cpu"}};
	assert_int_equal(find_n(c->db, nre_only, 1, INT64_MIN, INT64_MAX, 0, NULL), 5);
	/* missing label compares as "" */
	const struct tsdb_matcher nozone[] = {{TSDB_MATCH_EQ, "zone", ""}};
	assert_int_equal(find_n(c->db, nozone, 1, INT64_MIN, INT64_MAX, 0, NULL), 6);
	const struct tsdb_matcher haszone[] = {{TSDB_MATCH_NE, "zone", ""}};
	assert_int_equal(find_n(c->db, haszone, 1, INT64_MIN, INT64_MAX, 0, NULL), 10);
	const struct tsdb_matcher zone_ne_eu[] = {{TSDB_MATCH_EQ, "type", "cpu"},
						  {TSDB_MATCH_NE, "zone", "eu"}};
	assert_int_equal(find_n(c->db, zone_ne_eu, 2, INT64_MIN, INT64_MAX, 0, NULL), 11);
	const struct tsdb_matcher zone_re_opt[] = {{TSDB_MATCH_RE, "zone", "eu|"}};
	assert_int_equal(find_n(c->db, zone_re_opt, 1, INT64_MIN, INT64_MAX, 0, NULL), 11);
	const struct tsdb_matcher zone_nre_empty[] = {{TSDB_MATCH_NRE, "zone", ""}};
	assert_int_equal(find_n(c->db, zone_nre_empty, 1, INT64_MIN, INT64_MAX, 0, NULL), 10);
	const struct tsdb_matcher nolabel[] = {{TSDB_MATCH_EQ, "nope", "x"}};
	assert_int_equal(find_n(c->db, nolabel, 1, INT64_MIN, INT64_MAX, 0, NULL), 0);
	const struct tsdb_matcher nolabel2[] = {{TSDB_MATCH_EQ, "service", "a"},
						{TSDB_MATCH_NE, "nope", "x"}};
	assert_int_equal(find_n(c->db, nolabel2, 2, INT64_MIN, INT64_MAX, 0, NULL), 10);

	/* time range: inclusive on both ends */
	assert_int_equal(find_n(c->db, eq_a_cpu, 2, 110, 130, 0, NULL), 3);
	assert_int_equal(find_n(c->db, eq_a_cpu, 2, 111, 129, 0, NULL), 1);
	assert_int_equal(find_n(c->db, eq_a_cpu, 2, 140, 140, 0, NULL), 1);
	assert_int_equal(find_n(c->db, eq_a_cpu, 2, 141, 100, 0, NULL), 0);

	/* ascending by time, ties by id; limit keeps the newest */
	const struct tsdb_matcher cpu[] = {{TSDB_MATCH_EQ, "type", "cpu"}};
	assert_int_equal(find_n(c->db, cpu, 1, INT64_MIN, INT64_MAX, 0, &r), 11);
	for (size_t i = 1; i < tsdb_result_len(r); i++) {
		const struct tsdb_meta *p = tsdb_result_at(r, i - 1), *q = tsdb_result_at(r, i);
		assert_true(p->t_ns < q->t_ns ||
			    (p->t_ns == q->t_ns && strcmp(p->id, q->id) < 0));
	}
	tsdb_result_free(r);
	assert_int_equal(find_n(c->db, cpu, 1, INT64_MIN, INT64_MAX, 3, &r), 3);
	assert_int_equal(tsdb_result_at(r, 0)->t_ns, 140);
	assert_int_equal(tsdb_result_at(r, 1)->t_ns, 140);
	assert_int_equal(tsdb_result_at(r, 2)->t_ns, 1000);
	assert_string_equal(tsdb_result_at(r, 2)->labels[0].value, "ab");
	assert_int_equal(tsdb_result_at(r, 2)->ntotals, 2);
	assert_null(tsdb_result_at(r, 3));
	tsdb_result_free(r);
}

static void test_label_values_names(void **state)
{
	struct ctx *c = *state;
	char **v;
	size_t n;

	c->db = open_db(c, 0);
	assert_int_equal(tsdb_label_names(c->db, &v, &n), 0);
	assert_int_equal(n, 0);
	tsdb_strings_free(v, n);
	fill_query_fixture(c->db);
	assert_int_equal(tsdb_label_values(c->db, "service", &v, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(v[0], "a");
	assert_string_equal(v[1], "ab");
	assert_string_equal(v[2], "b");
	tsdb_strings_free(v, n);
	assert_int_equal(tsdb_label_values(c->db, "zone", &v, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0], "eu");
	assert_string_equal(v[1], "us");
	tsdb_strings_free(v, n);
	assert_int_equal(tsdb_label_values(c->db, "nope", &v, &n), 0);
	assert_int_equal(n, 0);
	tsdb_strings_free(v, n);
	assert_int_equal(tsdb_label_names(c->db, &v, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(v[0], "service");
	assert_string_equal(v[1], "type");
	assert_string_equal(v[2], "zone");
	tsdb_strings_free(v, n);
	struct tsdb_stats st;
	tsdb_stats(c->db, &st);
	assert_int_equal(st.series, 4);
	assert_int_equal(st.profiles, 16);
}

static void test_bad_regex(void **state)
{
	struct ctx *c = *state;
	const struct tsdb_matcher m[] = {{TSDB_MATCH_RE, "service", "a(b"}};
	struct tsdb_query q = {m, 1, INT64_MIN, INT64_MAX, 0};
	struct tsdb_result *r = (void *)1;
	struct pf_err err = {0};

	c->db = open_db(c, 0);
	append_ok(c->db, 1, "x", NULL, L_A_CPU);
	assert_int_equal(tsdb_find(c->db, &q, &r, &err), PF_EINVAL);
	assert_null(r);
	assert_non_null(strstr(err.msg, "a(b"));
	assert_non_null(strstr(err.msg, "missing closing parenthesis"));
}

static void test_bad_id(void **state)
{
	struct ctx *c = *state;
	char id[TSDB_ID_LEN + 1], other[TSDB_ID_LEN + 1];
	struct pf_buf b = PF_BUF_INIT(0);
	struct pf_err err = {0};
	uint64_t h;
	int64_t t;
	uint32_t seq;

	c->db = open_db(c, 0);
	append_ok(c->db, 5, "x", id, L_A_CPU);
	assert_int_equal(tsdb_read(c->db, "", &b, NULL, &err), PF_ENOTFOUND);
	assert_int_equal(tsdb_read(c->db, "abc", &b, NULL, &err), PF_ENOTFOUND);
	assert_int_equal(tsdb_read(c->db, NULL, &b, NULL, &err), PF_ENOTFOUND);
	assert_int_equal(tsdb_read(c->db, "zzzzzzzzzzzzzzzzzzzzzzzzzzz", &b, NULL, &err),
			 PF_ENOTFOUND); /* overflows 20 bytes */
	assert_int_equal(tsdb_read(c->db, "0000000000000000000000000+/", &b, NULL, &err),
			 PF_ENOTFOUND);
	char longer[TSDB_ID_LEN + 2];
	snprintf(longer, sizeof(longer), "%s0", id);
	assert_int_equal(tsdb_read(c->db, longer, &b, NULL, &err), PF_ENOTFOUND);
	/* well-formed but naming nothing: other time, other seq, other series */
	assert_int_equal(tsdb__id_decode(id, &h, &t, &seq), 0);
	assert_int_equal(t, 5);
	assert_int_equal(seq, 0);
	tsdb__id_encode(h, 6, 0, other);
	assert_int_equal(tsdb_read(c->db, other, &b, NULL, &err), PF_ENOTFOUND);
	tsdb__id_encode(h, 5, 1, other);
	assert_int_equal(tsdb_read(c->db, other, &b, NULL, &err), PF_ENOTFOUND);
	tsdb__id_encode(h + 1, 5, 0, other);
	assert_int_equal(tsdb_read(c->db, other, &b, NULL, &err), PF_ENOTFOUND);
	assert_int_equal(b.len, 0);
	assert_int_equal(tsdb_read(c->db, id, &b, NULL, &err), 0);
	pf_buf_free(&b);
	/* negative times round-trip through ids */
	append_ok(c->db, -123456789, "neg", id, L_A_CPU);
	assert_int_equal(tsdb__id_decode(id, &h, &t, &seq), 0);
	assert_int_equal(t, -123456789);
	char out[8];
	assert_int_equal(read_body(c->db, id, out, sizeof(out)), 0);
	assert_string_equal(out, "neg");
}

/* ---- persistence -------------------------------------------------------- */

static void test_reopen_ids_seq(void **state)
{
	struct ctx *c = *state;
	char ids[6][TSDB_ID_LEN + 1], out[32];
	static const char *const other[] = {"service=b", "type=heap", NULL};
	uint64_t h;
	int64_t t;
	uint32_t seq;

	c->db = open_db(c, 0);
	for (int i = 0; i < 3; i++) {
		char body[16];
		snprintf(body, sizeof(body), "p%d", i);
		append_ok(c->db, 1000 + i, body, ids[i], L_A_CPU);
	}
	append_ok(c->db, 7, "o", ids[3], other);
	reopen(c, 0);
	struct tsdb_stats st;
	tsdb_stats(c->db, &st);
	assert_int_equal(st.replayed, 4);
	assert_int_equal(st.profiles, 4);
	assert_int_equal(st.series, 2);
	assert_int_equal(st.appends, 0);
	for (int i = 0; i < 3; i++) {
		char want[16];
		snprintf(want, sizeof(want), "p%d", i);
		assert_int_equal(read_body(c->db, ids[i], out, sizeof(out)), 0);
		assert_string_equal(out, want);
	}
	/* the same id comes back from find */
	const struct tsdb_matcher m[] = {{TSDB_MATCH_EQ, "service", "a"}};
	struct tsdb_result *r;
	assert_int_equal(find_n(c->db, m, 1, INT64_MIN, INT64_MAX, 0, &r), 3);
	for (int i = 0; i < 3; i++)
		assert_string_equal(tsdb_result_at(r, (size_t)i)->id, ids[i]);
	tsdb_result_free(r);
	/* sequence continues: same time and body still yield a new id */
	append_ok(c->db, 1000, "p0", ids[4], L_A_CPU);
	assert_int_equal(tsdb__id_decode(ids[4], &h, &t, &seq), 0);
	assert_int_equal(seq, 3);
	append_ok(c->db, 8, "o2", ids[5], other);
	assert_int_equal(tsdb__id_decode(ids[5], &h, &t, &seq), 0);
	assert_int_equal(seq, 1);
	reopen(c, 0);
	for (int i = 0; i < 6; i++)
		assert_int_equal(read_body(c->db, ids[i], out, sizeof(out)), 0);
}

static void test_out_of_order_and_repeats(void **state)
{
	struct ctx *c = *state;
	char ids[6][TSDB_ID_LEN + 1];
	const int64_t ts[6] = {30, 10, 20, 20, 5, 20};
	struct tsdb_result *r;

	c->db = open_db(c, 0);
	for (int i = 0; i < 6; i++)
		append_ok(c->db, ts[i], "same", ids[i], L_A_CPU);
	for (int i = 0; i < 6; i++)
		for (int j = i + 1; j < 6; j++)
			assert_string_not_equal(ids[i], ids[j]);
	const struct tsdb_matcher m[] = {{TSDB_MATCH_EQ, "service", "a"}};
	for (int pass = 0; pass < 2; pass++) {
		assert_int_equal(find_n(c->db, m, 1, INT64_MIN, INT64_MAX, 0, &r), 6);
		const int64_t want[6] = {5, 10, 20, 20, 20, 30};
		for (size_t i = 0; i < 6; i++)
			assert_int_equal(tsdb_result_at(r, i)->t_ns, want[i]);
		/* ties at 20 ordered by id (= by sequence within a series) */
		assert_string_equal(tsdb_result_at(r, 2)->id, ids[2]);
		assert_string_equal(tsdb_result_at(r, 3)->id, ids[3]);
		assert_string_equal(tsdb_result_at(r, 4)->id, ids[5]);
		tsdb_result_free(r);
		reopen(c, 0);
	}
}

/* Torn tails: cut the last record at several offsets, or add garbage. */
static void test_torn_tail(void **state)
{
	struct ctx *c = *state;
	char ids[4][TSDB_ID_LEN + 1], out[64], path[256];
	uint64_t before_last, full;
	uint8_t *orig;

	c->db = open_db(c, 0);
	append_ok(c->db, 1, "first", ids[0], L_A_CPU);
	append_ok(c->db, 2, "second", ids[1], L_A_CPU);
	before_last = file_size(c->wal1);
	append_ok(c->db, 3, "third-record-body", ids[2], L_A_CPU);
	tsdb__crash_close(c->db); /* as after kill -9: the head stays in the WAL */
	c->db = NULL;
	full = file_size(c->wal1);
	orig = malloc(full);
	{
		int fd = open(c->wal1, O_RDONLY);
		assert_int_equal(pread(fd, orig, full, 0), (ssize_t)full);
		close(fd);
	}
	snprintf(path, sizeof(path), "%s", c->wal1);
	const uint64_t rec = full - before_last;
	const uint64_t cuts[] = {1, 3, 4, 7, 8, 9, rec / 2, rec - 1};
	for (size_t k = 0; k < PF_ARRAY_LEN(cuts); k++) {
		int fd = open(path, O_WRONLY | O_TRUNC);
		assert_int_equal(write(fd, orig, before_last + cuts[k]),
				 (ssize_t)(before_last + cuts[k]));
		close(fd);
		c->db = open_db(c, 0);
		assert_int_equal(file_size(path), before_last); /* tail cut */
		assert_int_equal(read_body(c->db, ids[0], out, sizeof(out)), 0);
		assert_string_equal(out, "first");
		assert_int_equal(read_body(c->db, ids[1], out, sizeof(out)), 0);
		assert_string_equal(out, "second");
		assert_int_equal(read_body(c->db, ids[2], out, sizeof(out)), PF_ENOTFOUND);
		/* still writable; the new record survives a reopen */
		append_ok(c->db, 4, "after", ids[3], L_A_CPU);
		reopen(c, 0);
		assert_int_equal(read_body(c->db, ids[3], out, sizeof(out)), 0);
		assert_string_equal(out, "after");
		struct tsdb_stats st;
		tsdb_stats(c->db, &st);
		assert_int_equal(st.replayed, 3);
		tsdb__crash_close(c->db); /* as after kill -9: the head stays in the WAL */
		c->db = NULL;
	}
	/* garbage after complete records (zeros, then random-ish bytes) */
	for (int g = 0; g < 2; g++) {
		int fd = open(path, O_WRONLY | O_TRUNC);
		uint8_t junk[100];
		for (size_t i = 0; i < sizeof(junk); i++)
			junk[i] = g ? (uint8_t)(i * 37 + 11) : 0;
		assert_int_equal(write(fd, orig, full), (ssize_t)full);
		assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
		close(fd);
		c->db = open_db(c, 0);
		assert_int_equal(file_size(path), full);
		for (int i = 0; i < 3; i++)
			assert_int_equal(read_body(c->db, ids[i], out, sizeof(out)), 0);
		assert_string_equal(out, "third-record-body");
		append_ok(c->db, 4, "after", NULL, L_A_CPU);
		tsdb__crash_close(c->db); /* as after kill -9: the head stays in the WAL */
		c->db = NULL;
	}
	/* a segment cut inside its header is rewritten */
	{
		int fd = open(path, O_WRONLY | O_TRUNC);
		assert_int_equal(write(fd, orig, 5), 5);
		close(fd);
		c->db = open_db(c, 0);
		append_ok(c->db, 4, "after", ids[3], L_A_CPU);
		reopen(c, 0);
		assert_int_equal(read_body(c->db, ids[3], out, sizeof(out)), 0);
	}
	free(orig);
}

static void flip_byte(const char *path, uint64_t off)
{
	int fd = open(path, O_RDWR);
	uint8_t b;
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, (off_t)off), 1);
	b ^= 0x5a;
	assert_int_equal(pwrite(fd, &b, 1, (off_t)off), 1);
	close(fd);
}

static void test_flipped_byte(void **state)
{
	struct ctx *c = *state;
	char ids[3][TSDB_ID_LEN + 1], out[64];
	uint64_t off1, off2, end;
	struct pf_buf b = PF_BUF_INIT(0);
	struct pf_err err = {0};

	c->db = open_db(c, 0);
	append_ok(c->db, 1, "first-body", ids[0], L_A_CPU);
	off1 = file_size(c->wal1);
	append_ok(c->db, 2, "middle-body", ids[1], L_A_CPU);
	off2 = file_size(c->wal1);
	append_ok(c->db, 3, "last-body", ids[2], L_A_CPU);
	end = file_size(c->wal1);
	/* damage the middle body while open: read reports it */
	flip_byte(c->wal1, off2 - 3);
	assert_int_equal(tsdb_read(c->db, ids[1], &b, NULL, &err), PF_ECORRUPT);
	assert_non_null(strstr(err.msg, "00000001:"));
	assert_int_equal(b.len, 0);
	pf_buf_free(&b);
	assert_int_equal(read_body(c->db, ids[2], out, sizeof(out)), 0);
	/* replay skips just that record */
	reopen(c, 0);
	assert_int_equal(read_body(c->db, ids[0], out, sizeof(out)), 0);
	assert_int_equal(read_body(c->db, ids[1], out, sizeof(out)), PF_ENOTFOUND);
	assert_int_equal(read_body(c->db, ids[2], out, sizeof(out)), 0);
	assert_string_equal(out, "last-body");
	assert_int_equal(file_size(c->wal1), end);
	/* damage in the last record too: nothing intact follows the damaged
	 * middle record any more, so the tail is cut at the first record */
	tsdb__crash_close(c->db); /* as after kill -9: the head stays in the WAL */
	flip_byte(c->wal1, end - 2);
	c->db = open_db(c, 0);
	assert_int_equal(file_size(c->wal1), off1);
	assert_int_equal(read_body(c->db, ids[2], out, sizeof(out)), PF_ENOTFOUND);
	assert_int_equal(read_body(c->db, ids[0], out, sizeof(out)), 0);
	append_ok(c->db, 4, "x", ids[1], L_A_CPU);
	append_ok(c->db, 5, "y", ids[2], L_A_CPU);
	/* a damaged length field: framing lost, everything after is cut */
	tsdb__crash_close(c->db); /* as after kill -9: the head stays in the WAL */
	flip_byte(c->wal1, off1 + 1);
	c->db = open_db(c, 0);
	assert_int_equal(file_size(c->wal1), off1);
	assert_int_equal(read_body(c->db, ids[0], out, sizeof(out)), 0);
	assert_int_equal(read_body(c->db, ids[1], out, sizeof(out)), PF_ENOTFOUND);
	assert_int_equal(read_body(c->db, ids[2], out, sizeof(out)), PF_ENOTFOUND);
	append_ok(c->db, 9, "z", NULL, L_A_CPU);
}

static void test_rotation(void **state)
{
	struct ctx *c = *state;
	char ids[40][TSDB_ID_LEN + 1], out[256], body[200], path[256];
	int nseg = 0;

	c->db = open_db(c, 512);
	for (int i = 0; i < 40; i++) {
		memset(body, 'a' + i % 26, 100);
		snprintf(body + 100, sizeof(body) - 100, "#%d", i);
		append_ok(c->db, i, body, ids[i], L_A_CPU);
	}
	/* one record bigger than a segment still goes in (alone) */
	char big[2000];
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	char bigid[TSDB_ID_LEN + 1];
	append_ok(c->db, 100, big, bigid, L_A_CPU);
	for (uint32_t s = 1; s < 100; s++) {
		snprintf(path, sizeof(path), "%s/wal/%08u", c->dir, s);
		if (access(path, F_OK) != 0)
			break;
		nseg++;
	}
	assert_true(nseg >= 10);
	for (int s = 1; s <= nseg; s++) {
		snprintf(path, sizeof(path), "%s/wal/%08d", c->dir, s);
		if (s < nseg)
			assert_true(file_size(path) <= 512);
		else
			assert_true(file_size(path) > 2000); /* the big record, alone */
	}
	reopen(c, 512);
	struct tsdb_stats st;
	tsdb_stats(c->db, &st);
	assert_int_equal(st.replayed, 41);
	for (int i = 0; i < 40; i++) {
		assert_int_equal(read_body(c->db, ids[i], out, sizeof(out)), 0);
		assert_int_equal(strlen(out), 100 + strlen(strchr(out, '#')));
	}
	struct pf_buf b = PF_BUF_INIT(0);
	struct pf_err err = {0};
	assert_int_equal(tsdb_read(c->db, bigid, &b, NULL, &err), 0);
	assert_int_equal(b.len, sizeof(big) - 1);
	pf_buf_free(&b);

	/* damage in an earlier segment: logged, the rest of it skipped, the
	 * later segments replay */
	tsdb__crash_close(c->db); /* as after kill -9: the head stays in the WAL */
	c->db = NULL;
	snprintf(path, sizeof(path), "%s/wal/%08u", c->dir, 2);
	flip_byte(path, TSDB__WAL_HDR + 2); /* length of its first record */
	c->db = open_db(c, 512);
	tsdb_stats(c->db, &st);
	assert_true(st.replayed < 41 && st.replayed >= 35);
	assert_int_equal(read_body(c->db, ids[0], out, sizeof(out)), 0);
	assert_int_equal(read_body(c->db, ids[39], out, sizeof(out)), 0);
	assert_int_equal(tsdb_read(c->db, bigid, &b, NULL, &err), 0);
	pf_buf_free(&b);
	append_ok(c->db, 200, "more", NULL, L_A_CPU);
}

/* ---- concurrency -------------------------------------------------------- */

#define NTHREADS 8
#define PER_THREAD 200

struct worker {
	struct tsdb *db;
	int idx;
	int n;
	char (*ids)[TSDB_ID_LEN + 1];
	int failures;
	size_t body_len; /* pad bodies to this size (0: as formatted) */
};

static void *append_worker(void *arg)
{
	struct worker *w = arg;
	char svc[32], body[4096];
	snprintf(svc, sizeof(svc), "service=s%d", w->idx % 3);
	const char *kv[] = {svc, "type=cpu", NULL};
	for (int i = 0; i < w->n; i++) {
		size_t len = (size_t)snprintf(body, sizeof(body), "t%d-i%d", w->idx, i);
		if (w->body_len > len && w->body_len <= sizeof(body)) {
			memset(body + len, 'p', w->body_len - len);
			len = w->body_len;
		}
		if (append_l(w->db, (int64_t)i * 1000 + w->idx, body, len, w->ids[i], kv))
			w->failures++;
	}
	return NULL;
}

static void *query_worker(void *arg)
{
	struct worker *w = arg;
	const struct tsdb_matcher m[] = {{TSDB_MATCH_EQ, "type", "cpu"}};
	size_t last = 0;
	for (int i = 0; i < 50; i++) {
		size_t n = find_n(w->db, m, 1, INT64_MIN, INT64_MAX, 10, NULL);
		if (n < last)
			w->failures++;
		last = n;
		char **v;
		size_t nv;
		tsdb_label_values(w->db, "service", &v, &nv);
		tsdb_strings_free(v, nv);
	}
	return NULL;
}

static double run_appends(struct tsdb *db, int nthreads, int per, char (*ids)[TSDB_ID_LEN + 1],
			  int with_query, size_t body_len)
{
	pthread_t th[NTHREADS + 1];
	struct worker w[NTHREADS + 1];
	int64_t t0 = pf_mono_ns();

	for (int i = 0; i < nthreads; i++) {
		w[i] = (struct worker){db, i, per, ids + (size_t)i * (size_t)per, 0, body_len};
		pthread_create(&th[i], NULL, append_worker, &w[i]);
	}
	if (with_query) {
		w[nthreads] = (struct worker){db, nthreads, 0, NULL, 0, 0};
		pthread_create(&th[nthreads], NULL, query_worker, &w[nthreads]);
	}
	for (int i = 0; i < nthreads + with_query; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	return (double)(pf_mono_ns() - t0) / 1e9;
}

static void test_concurrent_appends(void **state)
{
	struct ctx *c = *state;
	char(*ids)[TSDB_ID_LEN + 1] = calloc(NTHREADS * PER_THREAD, TSDB_ID_LEN + 1);
	char out[64], want[64];
	struct tsdb_stats st;

	c->db = open_db(c, 64 << 10);
	double secs = run_appends(c->db, NTHREADS, PER_THREAD, ids, 1, 0);
	tsdb_stats(c->db, &st);
	print_message("# %d threads x %d appends: %.0f appends/s, %.3f fsyncs/append\n", NTHREADS,
		      PER_THREAD, NTHREADS * PER_THREAD / secs,
		      (double)st.wal_fsyncs / (NTHREADS * PER_THREAD));
	assert_int_equal(st.appends, NTHREADS * PER_THREAD);
	assert_int_equal(st.profiles, NTHREADS * PER_THREAD);
	assert_true(st.wal_fsyncs < st.appends);
	for (int pass = 0; pass < 2; pass++) {
		for (int t = 0; t < NTHREADS; t++)
			for (int i = 0; i < PER_THREAD; i++) {
				snprintf(want, sizeof(want), "t%d-i%d", t, i);
				assert_int_equal(read_body(c->db, ids[t * PER_THREAD + i], out,
							   sizeof(out)),
						 0);
				assert_string_equal(out, want);
			}
		reopen(c, 64 << 10);
	}
	free(ids);
}

/* One thread's appends, each one's return code kept. */
struct rc_worker {
	struct tsdb *db;
	int idx, n;
	char (*ids)[TSDB_ID_LEN + 1];
	int *rc;
};

static void *rc_append_worker(void *arg)
{
	struct rc_worker *w = arg;
	const char *kv[] = {"service=s", "type=cpu", NULL};
	char body[32];
	for (int i = 0; i < w->n; i++) {
		size_t len = (size_t)snprintf(body, sizeof(body), "t%d-i%d", w->idx, i);
		w->rc[i] = append_l(w->db, (int64_t)i * 1000 + w->idx, body, len, w->ids[i], kv);
	}
	return NULL;
}

/* Group commit when fsyncs fail: eight threads append while the first two
 * fsyncs fail. Every append returns (no appender sleeps for ever, whether
 * its sync failed, succeeded or was handed to it to lead), each is either
 * acknowledged or PF_EIO, and after a reopen every acknowledged one reads
 * back and nothing else is there. */
static void test_concurrent_sync_failures(void **state)
{
	enum { PER = 50 };
	struct ctx *c = *state;
	char(*ids)[TSDB_ID_LEN + 1] = calloc(NTHREADS * PER, TSDB_ID_LEN + 1);
	int *rcs = calloc(NTHREADS * PER, sizeof(int));
	const struct tsdb_matcher m[] = {{TSDB_MATCH_EQ, "type", "cpu"}};
	pthread_t th[NTHREADS];
	struct rc_worker w[NTHREADS];
	struct tsdb_stats st;
	char out[64], want[64];
	size_t ok = 0, failed = 0;

	c->db = open_db(c, 0);
	tsdb__wal_inject_failures(tsdb__db_wal(c->db), 0, 2);
	for (int i = 0; i < NTHREADS; i++) {
		w[i] = (struct rc_worker){c->db, i, PER, ids + (size_t)i * PER, rcs + (size_t)i * PER};
		pthread_create(&th[i], NULL, rc_append_worker, &w[i]);
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < NTHREADS * PER; i++) {
		if (rcs[i] == 0)
			ok++;
		else if (rcs[i] == PF_EIO)
			failed++;
		else
			fail_msg("append %d: %d, neither 0 nor PF_EIO", i, rcs[i]);
	}
	print_message("# %zu acknowledged, %zu failed with the two failing fsyncs\n", ok, failed);
	assert_true(failed >= 1);
	assert_true(ok >= 1);
	tsdb_stats(c->db, &st);
	assert_int_equal(st.appends, ok);
	reopen(c, 0);
	assert_int_equal(find_n(c->db, m, 1, INT64_MIN, INT64_MAX, 0, NULL), ok);
	for (int t = 0; t < NTHREADS; t++)
		for (int i = 0; i < PER; i++) {
			if (rcs[t * PER + i] != 0)
				continue;
			snprintf(want, sizeof(want), "t%d-i%d", t, i);
			assert_int_equal(read_body(c->db, ids[t * PER + i], out, sizeof(out)), 0);
			assert_string_equal(out, want);
		}
	free(rcs);
	free(ids);
}

static void test_lock(void **state)
{
	struct ctx *c = *state;
	struct tsdb_options o = {c->dir, 0, 0};
	struct tsdb *db2 = NULL;
	struct pf_err err = {0};

	c->db = open_db(c, 0);
	assert_int_equal(tsdb_open(&o, &db2, &err), PF_EIO);
	assert_null(db2);
	assert_non_null(strstr(err.msg, c->dir));
	tsdb__crash_close(c->db); /* as after kill -9: the head stays in the WAL */
	c->db = NULL;
	assert_int_equal(tsdb_open(&o, &db2, &err), 0);
	tsdb_close(db2);
}

static void test_tmp_removed(void **state)
{
	struct ctx *c = *state;
	char p1[256], p2[256], p3[256];

	c->db = open_db(c, 0);
	tsdb__crash_close(c->db); /* as after kill -9: the head stays in the WAL */
	c->db = NULL;
	snprintf(p1, sizeof(p1), "%s/meta.json.tmp", c->dir);
	snprintf(p2, sizeof(p2), "%s/wal/00000009.tmp", c->dir);
	snprintf(p3, sizeof(p3), "%s/01ABC.tmp-for-creation", c->dir);
	close(open(p1, O_CREAT | O_WRONLY, 0644));
	close(open(p2, O_CREAT | O_WRONLY, 0644));
	mkdir(p3, 0755);
	snprintf(p1 + strlen(p1), sizeof(p1) - strlen(p1), "%s", "");
	char inner[300];
	snprintf(inner, sizeof(inner), "%s/index", p3);
	close(open(inner, O_CREAT | O_WRONLY, 0644));
	c->db = open_db(c, 0);
	assert_int_equal(access(p1, F_OK), -1);
	assert_int_equal(access(p2, F_OK), -1);
	assert_int_equal(access(p3, F_OK), -1);
}

/* Write and fsync failures: the append fails and leaves no trace. */
static void test_io_failures(void **state)
{
	struct ctx *c = *state;
	char ids[4][TSDB_ID_LEN + 1], out[64];
	struct tsdb_stats st;

	c->db = open_db(c, 0);
	append_ok(c->db, 1, "one", ids[0], L_A_CPU);
	uint64_t sz = file_size(c->wal1);
	struct tsdb__wal *w = tsdb__db_wal(c->db);
	const struct tsdb_matcher m[] = {{TSDB_MATCH_EQ, "service", "a"}};

	tsdb__wal_inject_failures(w, 1, 0);
	assert_int_equal(append_l(c->db, 2, "two", 3, ids[1], L_A_CPU), PF_EIO);
	assert_int_equal(file_size(c->wal1), sz); /* torn write cut off */
	assert_int_equal(find_n(c->db, m, 1, INT64_MIN, INT64_MAX, 0, NULL), 1);
	append_ok(c->db, 3, "three", ids[2], L_A_CPU);
	sz = file_size(c->wal1);

	tsdb__wal_inject_failures(w, 0, 1);
	assert_int_equal(append_l(c->db, 4, "four", 4, ids[3], L_A_CPU), PF_EIO);
	assert_int_equal(file_size(c->wal1), sz); /* unsynced record cut off */
	assert_int_equal(find_n(c->db, m, 1, INT64_MIN, INT64_MAX, 0, NULL), 2);
	append_ok(c->db, 5, "five", ids[3], L_A_CPU); /* in a new segment */
	tsdb_stats(c->db, &st);
	assert_int_equal(st.profiles, 3);
	assert_int_equal(st.appends, 3);

	reopen(c, 0);
	tsdb_stats(c->db, &st);
	assert_int_equal(st.replayed, 3);
	assert_int_equal(find_n(c->db, m, 1, INT64_MIN, INT64_MAX, 0, NULL), 3);
	assert_int_equal(read_body(c->db, ids[0], out, sizeof(out)), 0);
	assert_int_equal(read_body(c->db, ids[2], out, sizeof(out)), 0);
	assert_int_equal(read_body(c->db, ids[3], out, sizeof(out)), 0);
	assert_string_equal(out, "five");
}

/* ---- the time window of appends (-tsdb.max-future, retention) ---------- */

#define MIN_NS (60 * (int64_t)1000000000)
#define Y2262_NS ((int64_t)9223286400 * 1000000000) /* 2262-04-11T00:00:00Z */

static struct tsdb *open_opts(struct ctx *c, int64_t retention, int64_t max_future)
{
	struct tsdb_options o = {.dir = c->dir, .block_duration_ns = 60 * MIN_NS,
				 .retention_ns = retention, .max_future_ns = max_future,
				 .maintenance_ns = -1};
	return fixture_store_open(&o);
}

/* append_l, keeping the error message */
static int append_e(struct tsdb *db, int64_t t, const char *service, struct pf_err *err)
{
	struct tsdb_label l[2] = {{"service", service}, {"type", "heap"}};
	struct tsdb_append_req req = {l, 2, t, TSDB_KIND_RAW, "body", 4, NULL, 0};
	char id[TSDB_ID_LEN + 1];
	memset(err, 0, sizeof(*err));
	return tsdb_append(db, &req, id, err);
}

static size_t count_service(struct tsdb *db, const char *service)
{
	const struct tsdb_matcher m[] = {{TSDB_MATCH_EQ, "service", service}};
	return find_n(db, m, 1, INT64_MIN, INT64_MAX, 0, NULL);
}

/* A time later than now + max-future is refused, with the times and the
 * limit in the message; 0 is no limit. */
static void test_time_future(void **state)
{
	struct ctx *c = *state;
	struct pf_err err;
	int64_t now = pf_now_ns();
	struct tsdb_stats st;

	c->db = open_opts(c, 0, 10 * MIN_NS);
	assert_int_equal(append_e(c->db, now, "shop", &err), 0);
	assert_int_equal(append_e(c->db, now + 9 * MIN_NS, "shop", &err), 0);
	assert_int_equal(append_e(c->db, now + 60 * MIN_NS, "evil", &err), PF_EFUTURE);
	assert_int_equal(err.code, PF_EFUTURE);
	assert_int_equal(append_e(c->db, Y2262_NS, "evil", &err), PF_EFUTURE);
	assert_non_null(strstr(err.msg, "profile time 2262-04-11T00:00:00Z is more than "
					"-tsdb.max-future 10m after the server's time 20"));
	assert_int_equal(append_e(c->db, INT64_MAX, "evil", &err), PF_EFUTURE);
	tsdb_stats(c->db, &st);
	assert_int_equal(st.profiles, 2);
	assert_int_equal(st.appends, 2);
	assert_int_equal(count_service(c->db, "evil"), 0);

	tsdb_close(c->db);
	c->db = open_opts(c, 0, 0); /* no limit */
	assert_int_equal(append_e(c->db, Y2262_NS, "evil", &err), 0);
	assert_int_equal(count_service(c->db, "evil"), 1);
}

/* A time before the retention window is refused, naming the window; the
 * window counts back from the newest profile, or from now + max-future
 * when the newest is later. An empty store or retention 0 has no window. */
static void test_time_too_old(void **state)
{
	struct ctx *c = *state;
	struct pf_err err;
	int64_t now = pf_now_ns();

	c->db = open_opts(c, 60 * MIN_NS, 10 * MIN_NS);
	/* empty: nothing to count back from */
	assert_int_equal(append_e(c->db, now - 1000 * MIN_NS, "old", &err), 0);
	assert_int_equal(append_e(c->db, now - 30 * MIN_NS, "shop", &err), 0);
	assert_int_equal(append_e(c->db, now - 89 * MIN_NS, "shop", &err), 0);
	assert_int_equal(append_e(c->db, now - 91 * MIN_NS, "late", &err), PF_ETOOOLD);
	assert_int_equal(err.code, PF_ETOOOLD);
	assert_non_null(strstr(err.msg, "is before the retention window, which starts at "));
	assert_non_null(strstr(err.msg, "(-tsdb.retention 1h before "));
	assert_non_null(strstr(err.msg, ", the newest profile's time)"));
	{
		/* the window's start is the newest (now - 30m) minus 1h */
		char start[40], want[80];
		pf_format_rfc3339(now - 90 * MIN_NS, start, sizeof(start));
		snprintf(want, sizeof(want), "starts at %s (", start);
		assert_non_null(strstr(err.msg, want));
	}
	assert_int_equal(count_service(c->db, "late"), 0);
	tsdb_close(c->db);

	/* a far-future profile already stored (no limit then) */
	c->db = open_opts(c, 0, 0);
	assert_int_equal(append_e(c->db, Y2262_NS, "evil", &err), 0);
	tsdb_close(c->db);
	c->db = open_opts(c, 60 * MIN_NS, 10 * MIN_NS);
	assert_int_equal(append_e(c->db, now, "shop", &err), 0);
	assert_int_equal(append_e(c->db, now - 120 * MIN_NS, "late", &err), PF_ETOOOLD);
	assert_non_null(strstr(err.msg, "the server's time plus -tsdb.max-future)"));
	tsdb_close(c->db);

	/* retention 0: no window */
	c->db = open_opts(c, 0, 10 * MIN_NS);
	assert_int_equal(append_e(c->db, 1, "late", &err), 0);
}

/* Retention counts back from min(newest, now + max-future): a store that
 * holds a 2262 profile keeps today's profiles; without the cap (max-future
 * 0) the same store loses them. */
static void test_retention_anchor(void **state)
{
	struct ctx *c = *state;
	struct pf_err err;
	int64_t now = pf_now_ns();
	struct tsdb_stats st;

	c->db = open_opts(c, 0, 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(append_e(c->db, now - (5 - i) * MIN_NS, "shop", &err), 0);
	assert_int_equal(append_e(c->db, Y2262_NS, "evil", &err), 0);
	tsdb_close(c->db); /* the head goes into blocks */

	c->db = open_opts(c, 60 * MIN_NS, 10 * MIN_NS); /* retention runs at open */
	for (int round = 0; round < 3; round++)
		assert_int_equal(tsdb_maintain(c->db, round == 2, &err), 0);
	tsdb_stats(c->db, &st);
	assert_int_equal(st.retention_drops, 0);
	assert_int_equal(count_service(c->db, "shop"), 5);
	assert_int_equal(count_service(c->db, "evil"), 1);
	/* new profiles of today are accepted and kept */
	assert_int_equal(append_e(c->db, now, "shop", &err), 0);
	assert_int_equal(tsdb_maintain(c->db, 1, &err), 0);
	assert_int_equal(count_service(c->db, "shop"), 6);
	tsdb_close(c->db);

	/* the old anchor (the newest profile, 2262) would drop them */
	c->db = open_opts(c, 60 * MIN_NS, 0);
	tsdb_stats(c->db, &st);
	assert_true(st.retention_drops >= 1);
	assert_int_equal(count_service(c->db, "shop"), 0);
	assert_int_equal(count_service(c->db, "evil"), 1);
}

/* ---- head internals ------------------------------------------------------ */

static void test_hash_collision_refused(void **state)
{
	(void)state;
	struct tsdb__head *h = tsdb__head_new();
	struct tsdb__rec_label a[2] = {{{"service", 7}, {"a", 1}}, {{"type", 4}, {"cpu", 3}}};
	struct tsdb__rec_label b[2] = {{{"service", 7}, {"b", 1}}, {{"type", 4}, {"cpu", 3}}};
	struct tsdb__series *s1, *s2;
	struct pf_err err = {0};

	assert_int_equal(tsdb__head_get_series(h, 42, a, 2, NULL, NULL, &s1, &err), 0);
	assert_int_equal(tsdb__head_get_series(h, 42, a, 2, NULL, NULL, &s2, &err), 0);
	assert_ptr_equal(s1, s2);
	assert_int_equal(tsdb__head_get_series(h, 42, b, 2, NULL, NULL, &s2, &err), PF_EINVAL);
	assert_non_null(strstr(err.msg, "collides"));
	tsdb__head_free(h);
}

static void test_postings_ops(void **state)
{
	(void)state;
	struct tsdb__plist l = {0};
	const uint32_t a[] = {1, 3, 5, 7, 9}, b[] = {2, 3, 4, 9, 10}, e[] = {0};
	tsdb__plist_copy(&l, a, 5);
	tsdb__plist_union(&l, b, 5);
	assert_int_equal(l.n, 8);
	tsdb__plist_subtract(&l, b, 5);
	assert_int_equal(l.n, 3); /* 1 5 7 */
	assert_int_equal(l.ids[1], 5);
	tsdb__plist_intersect(&l, a, 5);
	assert_int_equal(l.n, 3);
	tsdb__plist_intersect(&l, e, 0);
	assert_int_equal(l.n, 0);
	tsdb__plist_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_append_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_appends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pprof_append, setup, teardown),
		cmocka_unit_test_setup_teardown(test_find_matchers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_label_values_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_regex, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_ids_seq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_order_and_repeats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flipped_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_appends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_sync_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tmp_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_io_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_time_future, setup, teardown),
		cmocka_unit_test_setup_teardown(test_time_too_old, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_anchor, setup, teardown),
		cmocka_unit_test(test_hash_collision_refused),
		cmocka_unit_test(test_postings_ops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
