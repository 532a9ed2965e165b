/*
 * Unit tests of src/scrape: the schedule (stable offsets spread evenly over
 * the interval, first slots, the jitter's bound and distribution), the
 * target diff of a reload (kept, started and stopped pairs), and the
 * validation of a scraped body before it is stored (pprof, empty profiles
 * with their hint, HTML, legacy text, traces), against a real store.
 * Run from the repository root (fixtures under tests/fixtures).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "fixture.h"

#include "pprof/pprof.h"
#include "scrape/scrape-internal.h"

#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEC 1000000000LL
#define MS 1000000LL

/* ---- helpers ------------------------------------------------------------------- */

static struct config *load(const char *yaml)
{
	struct config *c = NULL;
	struct pf_err err = {0};
	int rc = config_load_buffer("t.yaml", "/tmp", yaml, strlen(yaml), &c, &err);
	if (rc < 0)
		fail_msg("config load: %s", err.msg);
	return c;
}

/* Every (target, type) pair of every job of c, in job order. */
static const struct config_target **pairs_of(const struct config *c, size_t *n)
{
	const struct config_target **v = NULL;
	size_t cnt = 0;

	for (size_t i = 0; i < config_job_count(c); i++)
		cnt += config_job_at(c, i)->ntargets;
	v = calloc(cnt ? cnt : 1, sizeof(*v));
	cnt = 0;
	for (size_t i = 0; i < config_job_count(c); i++) {
		const struct config_job *j = config_job_at(c, i);
		for (size_t k = 0; k < j->ntargets; k++)
			v[cnt++] = &j->targets[k];
	}
	*n = cnt;
	return v;
}

/* A configuration with ntargets targets on 127.0.0.1 (all 7 default types). */
static struct config *many_targets(size_t ntargets, const char *interval)
{
	struct pf_buf b = PF_BUF_INIT(0);
	struct config *c;

	pf_buf_printf(&b, "scrape_configs:\n  - job_name: fleet\n    scrape_interval: %s\n"
			  "    static_configs:\n      - targets:\n",
		      interval);
	for (size_t i = 0; i < ntargets; i++)
		pf_buf_printf(&b, "          - '127.0.0.1:%zu'\n", 10000 + i);
	pf_buf_putc(&b, 0);
	c = load((const char *)b.data);
	pf_buf_free(&b);
	return c;
}

/* ---- the schedule ------------------------------------------------------------------ */

/* Offsets of real pairs (their configuration hashes) are stable, inside the
 * interval, and spread evenly: 1429 targets x 7 types into 10 buckets. */
static void test_offsets_spread(void **state)
{
	struct config *c = many_targets(1429, "10s");
	size_t n, buckets[10] = {0};
	const struct config_target **t = pairs_of(c, &n);
	double expect, chi2 = 0;

	(void)state;
	assert_int_equal(n, 1429 * 7);
	for (size_t i = 0; i < n; i++) {
		int64_t off = scrape_offset(t[i]->hash, t[i]->interval_ns);
		assert_true(off >= 0 && off < 10 * SEC);
		assert_int_equal(off, scrape_offset(t[i]->hash, t[i]->interval_ns));
		buckets[off / SEC]++;
	}
	expect = (double)n / 10;
	for (size_t b = 0; b < 10; b++) {
		/* each tenth of the interval holds its share within 10 % */
		if (fabs((double)buckets[b] - expect) > expect * 0.10)
			fail_msg("bucket %zu holds %zu pairs, expected about %.0f", b, buckets[b], expect);
		chi2 += ((double)buckets[b] - expect) * ((double)buckets[b] - expect) / expect;
	}
	/* 9 degrees of freedom: 27.9 is p = 0.001 */
	if (chi2 > 27.9)
		fail_msg("offsets are not uniform: chi-square %.1f over 10 buckets", chi2);
	/* the same pair loaded again gets the same offset (stable across reloads) */
	{
		struct config *c2 = many_targets(1429, "10s");
		size_t n2;
		const struct config_target **t2 = pairs_of(c2, &n2);
		assert_int_equal(n, n2);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(scrape_offset(t[i]->hash, 10 * SEC), scrape_offset(t2[i]->hash, 10 * SEC));
		free(t2);
		config_free(c2);
	}
	free(t);
	config_free(c);
}

static void test_first_slot(void **state)
{
	const int64_t iv = 10 * SEC;
	const int64_t now = 1795434050LL * SEC + 123456789;
	uint64_t rng = 42;

	(void)state;
	for (int i = 0; i < 10000; i++) {
		uint64_t h = rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		int64_t t = scrape_first_slot(now, h, iv);
		assert_true(t > now);
		assert_true(t - now <= iv);
		assert_int_equal(t % iv, scrape_offset(h, iv));
	}
	/* exactly on a slot: the next one */
	{
		uint64_t h = 7 * SEC;
		int64_t on = 100 * iv + 7 * SEC;
		assert_int_equal(scrape_first_slot(on, h, iv), on + iv);
		assert_int_equal(scrape_first_slot(on - 1, h, iv), on);
	}
	/* a restart at another time finds the same phase */
	{
		uint64_t h = 0xdeadbeefcafeULL;
		int64_t a = scrape_first_slot(now, h, iv), b = scrape_first_slot(now + 37 * SEC + 5, h, iv);
		assert_int_equal((b - a) % iv, 0);
	}
}

static void test_jitter(void **state)
{
	static const struct {
		int64_t iv, bound;
	} cases[] = {
		{100 * MS, 5 * MS}, {2 * SEC, 100 * MS}, {10 * SEC, 500 * MS}, {60 * SEC, SEC}, {3600 * SEC, SEC},
	};
	(void)state;
	for (size_t c = 0; c < PF_ARRAY_LEN(cases); c++)
		assert_int_equal(scrape_jitter_bound(cases[c].iv), cases[c].bound);
	assert_int_equal(scrape_jitter_bound(0), 0);
	{
		const int64_t iv = 10 * SEC, j = scrape_jitter_bound(iv);
		const size_t n = 200000;
		size_t buckets[10] = {0};
		double sum = 0;
		uint64_t st = 1;

		for (size_t i = 0; i < n; i++) {
			int64_t v = scrape_jitter(&st, iv);
			assert_true(v >= 0 && v < j);
			sum += (double)v;
			buckets[v * 10 / j]++;
		}
		/* uniform over [0, J): mean J/2 within 1 %, tenths within 5 % */
		if (fabs(sum / (double)n - (double)j / 2) > (double)j * 0.01)
			fail_msg("mean jitter %.0f ns, expected about %.0f", sum / (double)n, (double)j / 2);
		for (size_t b = 0; b < 10; b++)
			if (fabs((double)buckets[b] - (double)n / 10) > (double)n / 10 * 0.05)
				fail_msg("jitter bucket %zu holds %zu of %zu", b, buckets[b], n);
	}
	{
		uint64_t zero = 0;
		int64_t v = scrape_jitter(&zero, 10 * SEC); /* a zero state still works */
		assert_true(v >= 0 && v < scrape_jitter_bound(10 * SEC));
		assert_true(zero != 0);
	}
}

/* ---- the target diff ------------------------------------------------------------------ */

static const char *label(const struct config_target *t, const char *name)
{
	for (size_t i = 0; i < t->labels.n; i++)
		if (strcmp(t->labels.v[i].name, name) == 0)
			return t->labels.v[i].value;
	return "";
}

static const char *const old_yaml =
	"global: {scrape_interval: 10s}\n"
	"scrape_configs:\n"
	"  - job_name: a\n"
	"    static_configs:\n"
	"      - targets: ['h1:6060', 'h2:6060']\n"
	"        labels: {service: shop}\n"
	"      - targets: ['h3:6060']\n"
	"        labels: {service: shop, zone: z1}\n"
	"  - job_name: b\n"
	"    static_configs: [{targets: ['h4:6060']}]\n"
	"  - job_name: c\n"
	"    static_configs: [{targets: ['h5:6060']}]\n";

/*
 * h1: unchanged (kept); h2: removed; h3: its zone label changes (all its
 * pairs restart); h6: new; job b: its interval changes (restart); job c:
 * heap disabled (one pair stops, the others stay).
 */
static const char *const new_yaml =
	"global: {scrape_interval: 10s}\n"
	"scrape_configs:\n"
	"  - job_name: a\n"
	"    static_configs:\n"
	"      - targets: ['h1:6060', 'h6:6060']\n"
	"        labels: {service: shop}\n"
	"      - targets: ['h3:6060']\n"
	"        labels: {service: shop, zone: z2}\n"
	"  - job_name: b\n"
	"    scrape_interval: 15s\n"
	"    static_configs: [{targets: ['h4:6060']}]\n"
	"  - job_name: c\n"
	"    static_configs: [{targets: ['h5:6060']}]\n"
	"    profiling_config: {pprof_config: {heap: {enabled: false}}}\n";

static void test_diff(void **state)
{
	struct config *a = load(old_yaml), *b = load(new_yaml);
	size_t no, nn, kept_n = 0, started = 0;
	const struct config_target **o = pairs_of(a, &no), **n = pairs_of(b, &nn);
	long *match = calloc(no > nn ? no : nn, sizeof(*match)); /* the diffs below reuse it */
	int *kept = calloc(no, sizeof(*kept));

	(void)state;
	assert_int_equal(no, 5 * 7);
	assert_int_equal(nn, 5 * 7 - 1);
	scrape_diff(o, no, n, nn, match, kept);
	for (size_t i = 0; i < nn; i++) {
		const char *inst = label(n[i], "instance"), *job = n[i]->job->name, *type = n[i]->type;
		int want_kept = strcmp(inst, "h1:6060") == 0 || strcmp(job, "c") == 0;
		if (want_kept != (match[i] >= 0))
			fail_msg("%s %s %s: kept=%d, want %d", job, inst, type, match[i] >= 0, want_kept);
		if (match[i] >= 0) {
			/* the same work: same instance, type and job */
			assert_string_equal(label(o[match[i]], "instance"), inst);
			assert_string_equal(o[match[i]]->type, type);
			assert_string_equal(o[match[i]]->job->name, job);
			assert_true(config_target_equal(o[match[i]], n[i]));
			kept_n++;
		} else {
			started++;
		}
	}
	assert_int_equal(kept_n, 7 + 6);       /* h1, and job c without heap */
	assert_int_equal(started, 7 + 7 + 7); /* h6, h3 (new zone), h4 (new interval) */
	for (size_t j = 0; j < no; j++) {
		const char *inst = label(o[j], "instance");
		int want = strcmp(inst, "h1:6060") == 0 ||
			   (strcmp(inst, "h5:6060") == 0 && strcmp(o[j]->type, "heap") != 0);
		if (want != kept[j])
			fail_msg("old %s %s: kept=%d, want %d", inst, o[j]->type, kept[j], want);
	}

	/* the same list on both sides keeps everything, each old pair once */
	scrape_diff(o, no, o, no, match, kept);
	for (size_t i = 0; i < no; i++) {
		assert_int_equal(match[i], (long)i);
		assert_int_equal(kept[i], 1);
	}
	/* a pair listed twice matches one old pair; the second starts */
	{
		const struct config_target *twice[2] = {o[0], o[0]};
		long m2[2];
		scrape_diff(o, 1, twice, 2, m2, kept);
		assert_int_equal(m2[0], 0);
		assert_int_equal(m2[1], -1);
	}
	/* nothing before: everything starts; nothing after: everything stops */
	scrape_diff(NULL, 0, n, nn, match, kept);
	for (size_t i = 0; i < nn; i++)
		assert_int_equal(match[i], -1);
	scrape_diff(o, no, NULL, 0, match, kept);
	for (size_t j = 0; j < no; j++)
		assert_int_equal(kept[j], 0);

	free(match);
	free(kept);
	free(o);
	free(n);
	config_free(a);
	config_free(b);
}

/* ---- validating and storing a body ------------------------------------------------------- */

struct store_ctx {
	char dir[64];
	struct store *db;
	struct scrape *s;
};

static int store_setup(void **state)
{
	struct store_ctx *c = calloc(1, sizeof(*c));
	struct tsdb_options o = {.dir = c->dir};

	fixture_store_dir(c->dir, "scrape");
	c->db = fixture_istore_open(&o);
	c->s = calloc(1, sizeof(*c->s));
	c->s->o.db = c->db;
	c->s->o.max_body_bytes = 64 << 20;
	c->s->o.max_profile_bytes = 512 << 20;
	*state = c;
	return 0;
}

static int store_teardown(void **state)
{
	struct store_ctx *c = *state;
	fixture_istore_remove(c->db, c->dir);
	free(c->s);
	free(c);
	return 0;
}

static struct scrape__xfer *xfer(struct store_ctx *c, const char *type, const void *body, size_t len,
				 const char *ctype)
{
	static const char *const kv[][2] = {{"instance", "127.0.0.1:6060"}, {"job", "hot"},
					    {"service", "hot"}, {"type", NULL}};
	struct scrape__xfer *x = calloc(1, sizeof(*x));
	size_t n = PF_ARRAY_LEN(kv);

	x->s = c->s;
	x->url = pf_xstrdup("http://127.0.0.1:6060/debug/pprof/x");
	x->address = pf_xstrdup("127.0.0.1:6060");
	x->type = pf_xstrdup(type);
	x->content_type = ctype ? pf_xstrdup(ctype) : NULL;
	x->labels = pf_xcalloc(n, sizeof(*x->labels)); /* freed as one block */
	for (size_t i = 0; i < n; i++) {
		x->labels[i].name = kv[i][0];
		x->labels[i].value = kv[i][1] ? kv[i][1] : x->type;
	}
	x->nlabels = n;
	x->start_ns = 1795434050LL * SEC;
	pf_buf_init(&x->body, 0);
	pf_buf_append(&x->body, body, len);
	x->result = -1;
	return x;
}

static size_t count_series(struct store_ctx *c, const char *type)
{
	struct tsdb_matcher m[2] = {{TSDB_MATCH_EQ, "job", "hot"}, {TSDB_MATCH_EQ, "type", type}};
	struct tsdb_query q = {m, 2, INT64_MIN, INT64_MAX, 0};
	struct store_result *r = NULL;
	struct pf_err err = {0};
	size_t n;

	assert_int_equal(store_find(c->db, &q, &r, &err), 0);
	n = store_result_len(r);
	if (n) {
		const struct tsdb_meta *mm = store_result_at(r, 0);
		assert_int_equal(mm->t_ns, 1795434050LL * SEC); /* the scrape's start, not time_nanos */
		assert_int_equal(mm->nlabels, 4);
	}
	store_result_free(r);
	return n;
}

/* An empty block profile as Go writes it when block profiling is off. */
static void empty_profile(const char *sample_type, struct pf_buf *out)
{
	Perftools__Profiles__Profile p = PERFTOOLS__PROFILES__PROFILE__INIT;
	Perftools__Profiles__ValueType vt[2] = {PERFTOOLS__PROFILES__VALUE_TYPE__INIT,
						PERFTOOLS__PROFILES__VALUE_TYPE__INIT};
	Perftools__Profiles__ValueType *vts[2] = {&vt[0], &vt[1]};
	char *strings[] = {"", "contentions", "count", (char *)sample_type, "nanoseconds"};
	size_t n;

	vt[0].type = 1;
	vt[0].unit = 2;
	vt[1].type = 3;
	vt[1].unit = 4;
	p.n_sample_type = 2;
	p.sample_type = vts;
	p.n_string_table = 5;
	p.string_table = strings;
	p.period_type = &vt[0];
	p.period = 1;
	n = perftools__profiles__profile__get_packed_size(&p);
	pf_buf_reserve(out, n);
	perftools__profiles__profile__pack(&p, out->data);
	out->len = n;
}

static void test_store(void **state)
{
	struct store_ctx *c = *state;
	struct pf_buf b = PF_BUF_INIT(0);
	struct scrape__xfer *x;

	/* a gzip heap profile is stored under the pair's labels */
	fixture_read("tests/fixtures/pprof/heap-001.pb.gz", &b);
	x = xfer(c, "heap", b.data, b.len, "application/octet-stream");
	scrape__store_one(c->s, x);
	assert_int_equal(x->result, SCRAPE__R_SUCCESS);
	assert_null(x->error);
	scrape__xfer_free(x);
	assert_int_equal(count_series(c, "heap"), 1);

	/* an uncompressed protobuf is accepted too (stored gzip) */
	{
		struct pf_buf raw = PF_BUF_INIT(0);
		struct pf_err err = {0};
		assert_int_equal(pprof_gunzip(b.data, b.len, 64 << 20, &raw, &err), 0);
		x = xfer(c, "allocs", raw.data, raw.len, NULL);
		scrape__store_one(c->s, x);
		assert_int_equal(x->result, SCRAPE__R_SUCCESS);
		scrape__xfer_free(x);
		pf_buf_free(&raw);
		assert_int_equal(count_series(c, "allocs"), 1);
	}

	/* an empty block profile: nothing stored, the hint of SPEC §4 */
	pf_buf_reset(&b);
	empty_profile("delay", &b);
	x = xfer(c, "block", b.data, b.len, "application/octet-stream");
	scrape__store_one(c->s, x);
	assert_int_equal(x->result, SCRAPE__R_EMPTY);
	assert_string_equal(x->error, "profile has no samples: the program has not enabled block profiling "
				      "(runtime.SetBlockProfileRate)");
	scrape__xfer_free(x);
	x = xfer(c, "mutex", b.data, b.len, NULL);
	scrape__store_one(c->s, x);
	assert_int_equal(x->result, SCRAPE__R_EMPTY);
	assert_string_equal(x->error, "profile has no samples: the program has not enabled mutex profiling "
				      "(runtime.SetMutexProfileFraction)");
	scrape__xfer_free(x);
	assert_int_equal(count_series(c, "block"), 0);

	/* an HTML page: not a profile, and the error says what came */
	{
		const char html[] = "<!DOCTYPE html><html><body>login</body></html>";
		x = xfer(c, "goroutine", html, sizeof(html) - 1, "text/html; charset=utf-8");
		scrape__store_one(c->s, x);
		assert_int_equal(x->result, SCRAPE__R_INVALID);
		assert_string_equal(x->error, "the body from http://127.0.0.1:6060/debug/pprof/x is not a pprof profile "
					      "(Content-Type: text/html; charset=utf-8): parsing profile: unrecognized profile format");
		scrape__xfer_free(x);
	}
	/* a legacy text profile (?debug=1) is refused, naming debug=0 */
	{
		const char text[] = "heap profile: 1: 2 [3: 4] @ heap/1048576\n1: 2 [3: 4] @ 0x1 0x2\n";
		x = xfer(c, "heap", text, sizeof(text) - 1, "text/plain; charset=utf-8");
		scrape__store_one(c->s, x);
		assert_int_equal(x->result, SCRAPE__R_INVALID);
		assert_non_null(strstr(x->error, "debug=0"));
		scrape__xfer_free(x);
	}
	/* an empty body */
	x = xfer(c, "heap", "", 0, NULL);
	scrape__store_one(c->s, x);
	assert_int_equal(x->result, SCRAPE__R_INVALID);
	assert_non_null(strstr(x->error, "empty input"));
	scrape__xfer_free(x);
	assert_int_equal(count_series(c, "heap"), 1);

	/* a trace is kept byte for byte; a non-trace under type trace is refused */
	pf_buf_free(&b); /* fixture_read starts a new buffer */
	fixture_read("tests/fixtures/pprof/trace-001.out", &b);
	x = xfer(c, "trace", b.data, b.len, NULL);
	scrape__store_one(c->s, x);
	assert_int_equal(x->result, SCRAPE__R_SUCCESS);
	scrape__xfer_free(x);
	assert_int_equal(count_series(c, "trace"), 1);
	x = xfer(c, "trace", "<html>", 6, "text/html");
	scrape__store_one(c->s, x);
	assert_int_equal(x->result, SCRAPE__R_INVALID);
	assert_non_null(strstr(x->error, "not a Go execution trace (Content-Type: text/html)"));
	scrape__xfer_free(x);

	/* a decompression bomb past -max-profile-size is too large */
	pf_buf_free(&b); /* fixture_read starts a new buffer */
	fixture_read("tests/fixtures/pprof/heap-001.pb.gz", &b);
	c->s->o.max_profile_bytes = 1000;
	x = xfer(c, "heap", b.data, b.len, NULL);
	scrape__store_one(c->s, x);
	assert_int_equal(x->result, SCRAPE__R_TOO_LARGE);
	scrape__xfer_free(x);
	c->s->o.max_profile_bytes = 512 << 20;
	assert_int_equal(count_series(c, "heap"), 1);

	/* -max-inflight-decompressed spent by others: a store error, retried
	 * at the next scrape; nothing stored */
	c->s->o.inflight = pf_budget_new((size_t)1 << 20);
	assert_int_equal(pf_budget_take(c->s->o.inflight, (size_t)1 << 20, 0), 0);
	x = xfer(c, "heap", b.data, b.len, NULL);
	scrape__store_one(c->s, x);
	assert_int_equal(x->result, SCRAPE__R_STORE);
	assert_non_null(strstr(x->error, "-max-inflight-decompressed"));
	scrape__xfer_free(x);
	/* with room it is stored, and the budget is whole again */
	pf_budget_give(c->s->o.inflight, (size_t)1 << 20);
	x = xfer(c, "heap", b.data, b.len, NULL);
	scrape__store_one(c->s, x);
	assert_int_equal(x->result, SCRAPE__R_SUCCESS);
	scrape__xfer_free(x);
	assert_int_equal(pf_budget_used(c->s->o.inflight), 0);
	pf_budget_free(c->s->o.inflight);
	c->s->o.inflight = NULL;

	/* a profile past a decoder cap is too large */
	pf_buf_free(&b);
	fixture_read("tests/fixtures/bad/pprof-bomb-480MB.pb.gz", &b);
	x = xfer(c, "heap", b.data, b.len, NULL);
	scrape__store_one(c->s, x);
	assert_int_equal(x->result, SCRAPE__R_TOO_LARGE);
	assert_non_null(strstr(x->error, "too large to decode: profile has 60000000 samples; the decoder's cap is 2000000 samples"));
	scrape__xfer_free(x);
	pf_buf_free(&b);
}

static void test_result_names(void **state)
{
	(void)state;
	for (int r = 0; r < SCRAPE__R_COUNT; r++)
		assert_string_not_equal(scrape__result_name(r), "unknown");
	assert_string_equal(scrape__result_name(SCRAPE__R_COUNT), "unknown");
	assert_string_equal(scrape_health_name(SCRAPE_HEALTH_UP), "up");
	assert_string_equal(scrape_health_name(SCRAPE_HEALTH_DOWN), "down");
	assert_string_equal(scrape_health_name(SCRAPE_HEALTH_UNKNOWN), "unknown");
}

/* The store's time rules (tsdb_append) hold for scrapes as for pushes: a
 * refused time is a store error whose message is the pair's lastError. */
static void test_store_time_refused(void **state)
{
	struct store_ctx *c = *state;
	struct tsdb_options o = {.dir = c->dir, .retention_ns = 3600 * SEC,
				 .max_future_ns = 600 * SEC};
	struct pf_buf b = PF_BUF_INIT(0);
	struct scrape__xfer *x;

	store_close(c->db);
	c->db = fixture_istore_open(&o);
	c->s->o.db = c->db;
	fixture_read("tests/fixtures/pprof/heap-001.pb.gz", &b);
	x = xfer(c, "heap", b.data, b.len, NULL);
	x->start_ns = pf_now_ns() + 3600 * SEC; /* a clock an hour ahead */
	scrape__store_one(c->s, x);
	assert_int_equal(x->result, SCRAPE__R_STORE);
	assert_non_null(strstr(x->error, "storing the profile from http://127.0.0.1:6060/debug/pprof/x "
					 "failed: profile time "));
	assert_non_null(strstr(x->error, "is more than -tsdb.max-future 10m after the server's time"));
	scrape__xfer_free(x);

	x = xfer(c, "heap", b.data, b.len, NULL); /* 2026-11-23: stored, the newest */
	scrape__store_one(c->s, x);
	assert_int_equal(x->result, SCRAPE__R_SUCCESS);
	scrape__xfer_free(x);
	x = xfer(c, "heap", b.data, b.len, NULL);
	x->start_ns -= 2 * 3600 * SEC; /* two hours before it: past the 1h retention */
	scrape__store_one(c->s, x);
	assert_int_equal(x->result, SCRAPE__R_STORE);
	assert_non_null(strstr(x->error, "is before the retention window, which starts at "
					 "2026-11-23T10:40:50Z (-tsdb.retention 1h before "
					 "2026-11-23T11:40:50Z, the newest profile's time)"));
	scrape__xfer_free(x);
	assert_int_equal(count_series(c, "heap"), 1);
	pf_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offsets_spread),
		cmocka_unit_test(test_first_slot),
		cmocka_unit_test(test_jitter),
		cmocka_unit_test(test_diff),
		cmocka_unit_test_setup_teardown(test_store, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_store_time_refused, store_setup, store_teardown),
		cmocka_unit_test(test_result_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
