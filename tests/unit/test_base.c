/* Unit tests for src/base: CRC32C, varints, readers, capped buffers, the
 * hash table and the map on it, base62, the time/duration/size parsers, the pread/pwrite-all
 * pair, zigzag, hex digits and the shared byte budget. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "base/base.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>

static void test_crc32c_known_vectors(void **state)
{
	(void)state;
	/* RFC 3720 / iSCSI check value */
	assert_int_equal(pf_crc32c(0, "123456789", 9), 0xE3069283u);
	uint8_t zeros[32] = {0};
	assert_int_equal(pf_crc32c(0, zeros, 32), 0x8A9136AAu);
	/* chaining equals one pass */
	assert_int_equal(pf_crc32c(pf_crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
	/* every length and split, unaligned, against the bitwise definition
	 * (pf_crc32c may use the SSE4.2 instruction or the tables) */
	{
		uint8_t buf[80];
		uint32_t x = 7;
		for (size_t i = 0; i < sizeof(buf); i++) {
			x = x * 1103515245u + 12345u;
			buf[i] = (uint8_t)(x >> 16);
		}
		for (size_t n = 0; n + 1 < sizeof(buf); n++) {
			uint32_t ref = ~0u;
			for (size_t i = 0; i < n; i++) {
				ref ^= buf[1 + i];
				for (int k = 0; k < 8; k++)
					ref = ref & 1 ? (ref >> 1) ^ 0x82F63B78u : ref >> 1;
			}
			ref = ~ref;
			assert_int_equal(pf_crc32c(0, buf + 1, n), ref);
			assert_int_equal(pf_crc32c(pf_crc32c(0, buf + 1, n / 3), buf + 1 + n / 3, n - n / 3), ref);
		}
	}
}

static void test_uvarint_roundtrip(void **state)
{
	uint64_t vals[] = {0, 1, 127, 128, 300, 16383, 16384, UINT32_MAX, UINT64_MAX};
	struct pf_buf b = PF_BUF_INIT(0);
	struct pf_reader r;
	(void)state;
	for (size_t i = 0; i < PF_ARRAY_LEN(vals); i++)
		assert_int_equal(pf_buf_put_uvarint(&b, vals[i]), 0);
	pf_reader_init(&r, b.data, b.len);
	for (size_t i = 0; i < PF_ARRAY_LEN(vals); i++)
		assert_true(pf_read_uvarint(&r) == vals[i]);
	assert_false(r.bad);
	assert_int_equal(pf_reader_left(&r), 0);
	/* reading past the end flags the reader, never overruns */
	pf_read_uvarint(&r);
	assert_true(r.bad);
	pf_buf_free(&b);
}

static void test_reader_rejects_overlong(void **state)
{
	uint8_t bad[11];
	struct pf_reader r;
	size_t n;
	(void)state;
	memset(bad, 0xff, sizeof(bad));
	pf_reader_init(&r, bad, sizeof(bad));
	pf_read_uvarint(&r);
	assert_true(r.bad);
	/* a length prefix larger than what is left */
	uint8_t l[] = {0x05, 'a', 'b'};
	pf_reader_init(&r, l, sizeof(l));
	assert_null(pf_read_bytes(&r, &n));
	assert_true(r.bad);
}

static void test_buf_cap(void **state)
{
	struct pf_buf b = PF_BUF_INIT(10);
	(void)state;
	assert_int_equal(pf_buf_append(&b, "0123456789", 10), 0);
	assert_int_equal(pf_buf_append(&b, "x", 1), PF_ETOOBIG);
	assert_int_equal(b.len, 10);
	pf_buf_reset(&b);
	assert_int_equal(pf_buf_printf(&b, "%d-%s", 42, "ab"), 0);
	assert_memory_equal(b.data, "42-ab", 5);
	assert_int_equal(pf_buf_printf(&b, "%s", "too long for it"), PF_ETOOBIG);
	pf_buf_free(&b);
}

/* Integer keys: many of them (growing from the smallest table), keys 0
 * and keys that differ in their high half only, put/set/get/clear. */
static void test_htab_int(void **state)
{
	struct pf_htab t;
	uint32_t v;
	(void)state;
	pf_htab_init(&t, 0);
	assert_false(pf_htab_get(&t, 0, &v));
	for (uint32_t i = 0; i < 100000; i++) {
		assert_int_equal(pf_htab_put(&t, (uint64_t)i << 32, i, &v), 0);
		assert_int_equal(pf_htab_put(&t, i, i + 7, &v), i == 0 ? 1 : 0);
	}
	assert_int_equal(t.n, 199999);
	assert_true(t.mask + 1 >= 199999 * 4 / 3);
	for (uint32_t i = 0; i < 100000; i++) {
		assert_true(pf_htab_get(&t, (uint64_t)i << 32, &v));
		assert_int_equal(v, i);
		if (i) {
			assert_true(pf_htab_get(&t, i, &v));
			assert_int_equal(v, i + 7);
		}
	}
	assert_false(pf_htab_get(&t, (uint64_t)100000 << 32, &v));
	assert_false(pf_htab_get(&t, UINT64_MAX, &v));
	/* put keeps the first value and reports it; set replaces */
	assert_int_equal(pf_htab_put(&t, 5, 1, &v), 1);
	assert_int_equal(v, 12);
	pf_htab_set(&t, 5, UINT32_MAX - 1);
	assert_true(pf_htab_get(&t, 5, &v));
	assert_int_equal(v, UINT32_MAX - 1);
	pf_htab_set(&t, UINT64_MAX, 3);
	assert_true(pf_htab_get(&t, UINT64_MAX, &v));
	assert_int_equal(v, 3);
	assert_int_equal(t.n, 200000);
	pf_htab_clear(&t);
	assert_int_equal(t.n, 0);
	assert_false(pf_htab_get(&t, 5, &v));
	assert_int_equal(pf_htab_put(&t, 5, 2, &v), 0);
	assert_true(pf_htab_get(&t, 5, &v));
	assert_int_equal(v, 2);
	pf_htab_free(&t);
	pf_htab_free(&t); /* a zeroed table */
}

/* Keys kept by the caller (strings interned by index, as the symbol table
 * and the pprof merger do): the table holds their hashes. */
struct strstore {
	char (*s)[16];
	size_t n;
};

static int str_eq(const void *ctx, const void *key, uint32_t i)
{
	const struct strstore *st = ctx;
	return strcmp(st->s[i], key) == 0;
}

static uint32_t intern(struct pf_htab *t, struct strstore *st, const char *s, uint64_t h)
{
	uint32_t i;
	size_t pos;
	if (pf_htab_find(t, h, str_eq, st, s, &i, &pos))
		return i;
	snprintf(st->s[st->n], sizeof(st->s[0]), "%s", s);
	pf_htab_insert_at(t, pos, h, (uint32_t)st->n);
	return (uint32_t)st->n++;
}

static void test_htab_interned(void **state)
{
	enum { N = 50000 };
	struct strstore st = { calloc(N, sizeof(*st.s)), 0 };
	struct pf_htab t;
	char s[16];
	(void)state;
	pf_htab_init(&t, 8);
	/* twice over: the second pass finds every string at its first index */
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < N; i++) {
			snprintf(s, sizeof(s), "str-%d", i);
			assert_int_equal(intern(&t, &st, s, pf_hash64(s, strlen(s), 0)), i);
		}
	assert_int_equal(st.n, N);
	assert_int_equal(t.n, N);
	pf_htab_free(&t);

	/* every key of one hash: eq alone tells them apart */
	st.n = 0;
	pf_htab_init(&t, 0);
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < 300; i++) {
			snprintf(s, sizeof(s), "c%d", i);
			assert_int_equal(intern(&t, &st, s, 42), i);
		}
	assert_int_equal(t.n, 300);
	assert_false(pf_htab_find(&t, 42, str_eq, &st, "c300", NULL, NULL));
	assert_false(pf_htab_find(&t, 43, str_eq, &st, "c1", NULL, NULL));
	pf_htab_free(&t);
	free(st.s);
}

static int id_eq(const void *ctx, const void *key, uint32_t val)
{
	(void)ctx;
	return *(const uint32_t *)key == val;
}

/*
 * Insertions and deletions at random against a plain array: 64 keys whose
 * hashes take only 5 values (long runs that collide, wrap around the end of
 * the table and mix homes), so each deletion shifts entries back.
 */
static void test_htab_delete(void **state)
{
	enum { K = 64 };
	int present[K] = { 0 };
	struct pf_htab t;
	size_t n = 0;
	(void)state;
	srand(14);
	for (int round = 0; round < 4; round++) {
		pf_htab_init(&t, 0);
		memset(present, 0, sizeof(present));
		n = 0;
		for (int op = 0; op < 20000; op++) {
			uint32_t k = (uint32_t)(rand() % K), v;
			uint64_t h = (uint64_t)(k % 5) * 0x9E3779B97F4A7C15ull + (uint64_t)round;
			size_t pos;
			int found = pf_htab_find(&t, h, id_eq, NULL, &k, &v, &pos);
			assert_int_equal(found, present[k]);
			if (found) {
				assert_int_equal(v, k);
				if (rand() % 2) {
					pf_htab_del_at(&t, pos);
					present[k] = 0;
					n--;
				}
			} else {
				pf_htab_insert_at(&t, pos, h, k);
				present[k] = 1;
				n++;
			}
			assert_int_equal(t.n, n);
			if (op % 97 == 0)
				for (uint32_t j = 0; j < K; j++) {
					uint64_t hj = (uint64_t)(j % 5) * 0x9E3779B97F4A7C15ull + (uint64_t)round;
					assert_int_equal(pf_htab_find(&t, hj, id_eq, NULL, &j, NULL, NULL),
							 present[j]);
				}
		}
		/* delete everything: the table ends empty */
		for (uint32_t j = 0; j < K; j++) {
			uint64_t hj = (uint64_t)(j % 5) * 0x9E3779B97F4A7C15ull + (uint64_t)round;
			size_t pos;
			if (pf_htab_find(&t, hj, id_eq, NULL, &j, NULL, &pos))
				pf_htab_del_at(&t, pos);
		}
		assert_int_equal(t.n, 0);
		for (size_t i = 0; i <= t.mask; i++)
			assert_int_equal(t.slots[i].val, 0);
		pf_htab_free(&t);
	}
}

static void test_map(void **state)
{
	struct pf_map *m = pf_map_new(0);
	char key[32];
	uint64_t v;
	(void)state;
	for (int i = 0; i < 10000; i++) {
		int n = snprintf(key, sizeof(key), "key-%d", i);
		v = (uint64_t)i;
		assert_int_equal(pf_map_get_or_put(m, key, (size_t)n, &v), 0);
	}
	assert_int_equal(pf_map_len(m), 10000);
	for (int i = 0; i < 10000; i += 2) {
		int n = snprintf(key, sizeof(key), "key-%d", i);
		assert_int_equal(pf_map_del(m, key, (size_t)n), 1);
	}
	for (int i = 0; i < 10000; i++) {
		int n = snprintf(key, sizeof(key), "key-%d", i);
		int found = pf_map_get(m, key, (size_t)n, &v);
		assert_int_equal(found, i % 2);
		if (found)
			assert_true(v == (uint64_t)i);
	}
	v = 7;
	assert_int_equal(pf_map_get_or_put(m, "key-1", 5, &v), 1);
	assert_true(v == 1);
	pf_map_put(m, "key-1", 5, 99);
	assert_true(pf_map_get(m, "key-1", 5, &v) && v == 99);
	size_t it = 0, count = 0;
	while (pf_map_next(m, &it, NULL, NULL, NULL))
		count++;
	assert_int_equal(count, 5000);
	pf_map_free(m);
}

/* pf_map visits entries in insertion order; a deletion moves the last
 * entry into the hole. The empty key is a key like any other. */
static void test_map_order(void **state)
{
	struct pf_map *m = pf_map_new(2);
	const char *keys[] = { "a", "bb", "ccc", "dddd", "" };
	const void *k;
	size_t it = 0, klen, i = 0;
	uint64_t v;
	(void)state;
	for (size_t j = 0; j < 5; j++)
		pf_map_put(m, keys[j], strlen(keys[j]), 100 + j);
	while (pf_map_next(m, &it, &k, &klen, &v)) {
		assert_int_equal(klen, strlen(keys[i]));
		assert_memory_equal(k, keys[i], klen);
		assert_true(v == 100 + i);
		i++;
	}
	assert_int_equal(i, 5);
	assert_true(pf_map_get(m, NULL, 0, &v) && v == 104);
	assert_int_equal(pf_map_del(m, "bb", 2), 1);
	assert_int_equal(pf_map_del(m, "bb", 2), 0);
	/* "" (the last) now sits where "bb" was, and is still found */
	it = 1;
	assert_true(pf_map_next(m, &it, &k, &klen, &v));
	assert_int_equal(klen, 0);
	assert_true(v == 104);
	assert_true(pf_map_get(m, "", 0, &v) && v == 104);
	assert_int_equal(pf_map_del(m, "", 0), 1);
	assert_int_equal(pf_map_del(m, "dddd", 4), 1);
	assert_int_equal(pf_map_len(m), 2);
	assert_true(pf_map_get(m, "a", 1, &v) && v == 100);
	assert_true(pf_map_get(m, "ccc", 3, &v) && v == 102);
	v = 7;
	assert_int_equal(pf_map_get_or_put(m, "bb", 2, &v), 0);
	assert_true(pf_map_get(m, "bb", 2, &v) && v == 7);
	pf_map_free(m);
	pf_map_free(NULL);
}

static void test_base62(void **state)
{
	uint8_t in[20], out[20];
	char s[64];
	(void)state;
	for (int round = 0; round < 100; round++) {
		for (size_t i = 0; i < sizeof(in); i++)
			in[i] = (uint8_t)(rand() & 0xff);
		if (round == 0)
			memset(in, 0xff, sizeof(in));
		if (round == 1)
			memset(in, 0, sizeof(in));
		size_t n = pf_base62_encode(in, sizeof(in), s, sizeof(s));
		assert_int_equal(n, 27);
		for (size_t i = 0; i < n; i++)
			assert_true((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
				    (s[i] >= 'A' && s[i] <= 'Z'));
		assert_int_equal(pf_base62_decode(s, n, out, sizeof(out)), 0);
		assert_memory_equal(in, out, sizeof(in));
	}
	assert_int_equal(pf_base62_decode("abc", 3, out, sizeof(out)), PF_EINVAL);
	assert_int_equal(pf_base62_decode("zzzzzzzzzzzzzzzzzzzzzzzzzzz", 27, out, sizeof(out)), PF_EINVAL);
	assert_int_equal(pf_base62_decode("00000000000000000000000000+", 27, out, sizeof(out)), PF_EINVAL);
}

/* pf_parse_time_err says what is wrong: a layout it does not take, or
 * which field is out of range. */
static void test_parse_time_reasons(void **state)
{
	static const struct {
		const char *in;
		int rc;
		const char *msg;
	} cases[] = {
		{"99999-01-01T00:00:00", PF_ETOOBIG, "year 99999 out of range (times from 1677-09-21T00:12:44Z to 2262-04-11T23:47:16Z are supported)"},
		{"0000-01-01T00:00:00", PF_ETOOBIG, "year 0 out of range (times from 1677-09-21T00:12:44Z to 2262-04-11T23:47:16Z are supported)"},
		{"1000-01-01T00:00:00Z", PF_ETOOBIG, "year 1000 out of range (times from 1677-09-21T00:12:44Z to 2262-04-11T23:47:16Z are supported)"},
		{"1234567890123-01-01T00:00:00", PF_ETOOBIG, "year of 13 digits out of range (times from 1677-09-21T00:12:44Z to 2262-04-11T23:47:16Z are supported)"},
		{"2262-04-12T00:00:00Z", PF_ETOOBIG, "time out of range (times from 1677-09-21T00:12:44Z to 2262-04-11T23:47:16Z are supported)"},
		{"2019-13-01T00:00:00", PF_ETOOBIG, "month 13 out of range"},
		{"2019-02-29T00:00:00", PF_ETOOBIG, "day 29 out of range for month 2 of 2019"},
		{"2019-01-32T00:00:00", PF_ETOOBIG, "day 32 out of range"},
		{"2019-01-01T24:00:00", PF_ETOOBIG, "time of day 24:00:00 out of range"},
		{"2019-01-01T00:00:00+24:00", PF_ETOOBIG, "time zone offset out of range"},
		{"99999999999", PF_ETOOBIG, "Unix time 99999999999 s out of range (times from 1677-09-21T00:12:44Z to 2262-04-11T23:47:16Z are supported)"},
		{"99999999999999999999999", PF_ETOOBIG, "Unix time out of range (times from 1677-09-21T00:12:44Z to 2262-04-11T23:47:16Z are supported)"},
		{"99999-01-01", PF_EINVAL, "time in unsupported format"},
		{"2019-05-30 21:10:05", PF_EINVAL, "time in unsupported format"},
		{"99999999999999999999999x", PF_EINVAL, "time in unsupported format"},
		{"yesterday", PF_EINVAL, "time in unsupported format"},
		{"", PF_EINVAL, "time in unsupported format"},
	};
	(void)state;
	for (size_t i = 0; i < PF_ARRAY_LEN(cases); i++) {
		struct pf_err err = {0};
		int64_t ns;
		int rc = pf_parse_time_err(cases[i].in, &ns, &err);
		if (rc != cases[i].rc || strcmp(err.msg, cases[i].msg) != 0)
			fail_msg("%s: got %d \"%s\", want %d \"%s\"", cases[i].in, rc, err.msg,
				 cases[i].rc, cases[i].msg);
	}
}

static void test_parse_time(void **state)
{
	int64_t ns;
	(void)state;
	assert_int_equal(pf_parse_time("2019-05-30T21:10:05", &ns), 0);
	assert_true(ns == 1559250605LL * 1000000000);
	assert_int_equal(pf_parse_time("2019-05-30T21:10:05.5", &ns), 0);
	assert_true(ns == 1559250605LL * 1000000000 + 500000000);
	assert_int_equal(pf_parse_time("2019-05-30T21:10:05Z", &ns), 0);
	assert_true(ns == 1559250605LL * 1000000000);
	assert_int_equal(pf_parse_time("2019-05-30T23:10:05+02:00", &ns), 0);
	assert_true(ns == 1559250605LL * 1000000000);
	assert_int_equal(pf_parse_time("1559250605", &ns), 0);
	assert_true(ns == 1559250605LL * 1000000000);
	assert_int_equal(pf_parse_time("1559250605.25", &ns), 0);
	assert_true(ns == 1559250605LL * 1000000000 + 250000000);
	assert_int_equal(pf_parse_time("1559250605123", &ns), 0); /* ms */
	assert_true(ns == 1559250605123LL * 1000000);
	assert_int_equal(pf_parse_time("yesterday", &ns), PF_EINVAL);
	assert_int_equal(pf_parse_time("2019-02-30T00:00:00", &ns), PF_ETOOBIG);
	assert_int_equal(pf_parse_time("2019-05-30 21:10:05", &ns), PF_EINVAL);
	assert_int_equal(pf_parse_time("", &ns), PF_EINVAL);
	/* beyond int64 Unix ns (years 1677..2262): refused, not wrapped */
	assert_int_equal(pf_parse_time("99999999999", &ns), PF_ETOOBIG);
	assert_int_equal(pf_parse_time("-99999999999", &ns), PF_ETOOBIG);
	assert_int_equal(pf_parse_time("9999-01-01T00:00:00Z", &ns), PF_ETOOBIG);
	assert_int_equal(pf_parse_time("9223372036855", &ns), PF_ETOOBIG); /* ms */
	assert_int_equal(pf_parse_time("9223372036854", &ns), 0);
	assert_true(ns == 9223372036854LL * 1000000);
	/* fraction digits past the nanosecond are dropped */
	assert_int_equal(pf_parse_time("1559250605.1234567891234", &ns), 0);
	assert_true(ns == 1559250605LL * 1000000000 + 123456789);
	assert_int_equal(pf_parse_time("1559250605123.4567891234", &ns), 0);
	assert_true(ns == 1559250605123LL * 1000000 + 456789);
	char out[64];
	pf_format_rfc3339(1559250605LL * 1000000000 + 999, out, sizeof(out));
	assert_string_equal(out, "2019-05-30T21:10:05Z");
	pf_format_go_time(1559260800LL * 1000000000, out, sizeof(out));
	assert_string_equal(out, "2019-05-31 00:00:00 +0000 UTC");
	pf_format_go_time(1559260800LL * 1000000000 + 500000000, out, sizeof(out));
	assert_string_equal(out, "2019-05-31 00:00:00.5 +0000 UTC");
}

static void test_parse_duration_and_size(void **state)
{
	int64_t ns;
	uint64_t b;
	(void)state;
	assert_int_equal(pf_parse_duration("15d", &ns), 0);
	assert_true(ns == 15LL * 86400 * 1000000000);
	assert_int_equal(pf_parse_duration("1h30m", &ns), 0);
	assert_true(ns == 5400LL * 1000000000);
	assert_int_equal(pf_parse_duration("500ms", &ns), 0);
	assert_true(ns == 500000000);
	assert_int_equal(pf_parse_duration("10", &ns), PF_EINVAL);
	assert_int_equal(pf_parse_duration("h", &ns), PF_EINVAL);
	assert_int_equal(pf_parse_size("64MB", &b), 0);
	assert_true(b == 64ULL << 20);
	assert_int_equal(pf_parse_size("10GB", &b), 0);
	assert_true(b == 10ULL << 30);
	assert_int_equal(pf_parse_size("512MiB", &b), 0);
	assert_true(b == 512ULL << 20);
	assert_int_equal(pf_parse_size("1234", &b), 0);
	assert_true(b == 1234);
	assert_int_equal(pf_parse_size("12XB", &b), PF_EINVAL);
	assert_int_equal(pf_parse_size("-1", &b), PF_EINVAL);
	assert_int_equal(pf_parse_size("99999999999999999999PB", &b), PF_EINVAL);
}

/* pf_read_file under caps smaller and larger than its 64 KiB read step. */
static void test_read_file_caps(void **state)
{
	char path[] = "/tmp/pf-read-XXXXXX";
	static uint8_t big[70000];
	struct pf_err err = {0};
	int fd = mkstemp(path);
	(void)state;

	assert_true(fd >= 0);
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	assert_int_equal(write(fd, "0123456789", 10), 10);
	close(fd);
	for (size_t max = 10; max <= 4096; max = max == 10 ? 11 : max == 11 ? 4096 : 99999) {
		struct pf_buf b = PF_BUF_INIT(0);
		assert_int_equal(pf_read_file(path, max, &b, &err), 0);
		assert_int_equal(b.len, 10);
		assert_memory_equal(b.data, "0123456789", 10);
		pf_buf_free(&b);
	}
	{
		struct pf_buf b = PF_BUF_INIT(0);
		assert_int_equal(pf_read_file(path, 9, &b, &err), PF_ETOOBIG);
		assert_non_null(strstr(err.msg, "larger than 9 bytes"));
		pf_buf_free(&b);
	}
	/* a file longer than one step, with a cap above, at and below its size */
	assert_int_equal(pf_write_file_atomic(path, big, sizeof(big), &err), 0);
	for (int k = 0; k < 3; k++) {
		size_t max = k == 0 ? 0 : k == 1 ? sizeof(big) : sizeof(big) - 1;
		struct pf_buf b = PF_BUF_INIT(0);
		int rc = pf_read_file(path, max, &b, &err);
		assert_int_equal(rc, k == 2 ? PF_ETOOBIG : 0);
		if (rc == 0) {
			assert_int_equal(b.len, sizeof(big));
			assert_memory_equal(b.data, big, sizeof(big));
		}
		pf_buf_free(&b);
	}
	unlink(path);
}

/* pf_pwrite_full, pf_pwritev_full and pf_pread_full at offsets; a read past
 * the end is short. */
static void test_pread_pwrite_full(void **state)
{
	char path[] = "/tmp/pf-rw-XXXXXX";
	uint8_t got[16] = {0};
	int fd = mkstemp(path);
	(void)state;

	assert_true(fd >= 0);
	assert_int_equal(pf_pwrite_full(fd, "abcd", 4, 0), 0);
	assert_int_equal(pf_pwrite_full(fd, "efgh", 4, 4), 0);
	assert_int_equal(pf_pwrite_full(fd, "", 0, 100), 0);
	assert_int_equal(pf_pread_full(fd, got, 8, 0), 8);
	assert_memory_equal(got, "abcdefgh", 8);
	assert_int_equal(pf_pread_full(fd, got, 16, 6), 2);
	assert_memory_equal(got, "gh", 2);
	assert_int_equal(pf_pread_full(fd, got, 4, 8), 0);
	{
		/* pf_pwritev_full: the buffers one after the other, empty ones
		 * skipped, at the offset */
		struct iovec iov[4] = {{"12", 2}, {"", 0}, {"345", 3}, {"6", 1}};
		assert_int_equal(pf_pwritev_full(fd, iov, 4, 2), 0);
		assert_int_equal(pf_pread_full(fd, got, 16, 0), 8);
		assert_memory_equal(got, "ab123456", 8);
	}
	close(fd);
	assert_int_equal(pf_pread_full(fd, got, 4, 0), -1);
	assert_int_equal(pf_pwrite_full(fd, "x", 1, 0), -1);
	unlink(path);
}

static void test_zigzag_hexval(void **state)
{
	static const int64_t v[] = {0, -1, 1, -2, 2, INT64_MAX, INT64_MIN};
	static const uint64_t z[] = {0, 1, 2, 3, 4, UINT64_MAX - 1, UINT64_MAX};
	(void)state;

	for (size_t i = 0; i < PF_ARRAY_LEN(v); i++) {
		assert_true(pf_zigzag(v[i]) == z[i]);
		assert_true(pf_unzigzag(z[i]) == v[i]);
	}
	assert_int_equal(pf_hexval('0'), 0);
	assert_int_equal(pf_hexval('9'), 9);
	assert_int_equal(pf_hexval('a'), 10);
	assert_int_equal(pf_hexval('F'), 15);
	assert_int_equal(pf_hexval('g'), -1);
	assert_int_equal(pf_hexval('/'), -1);
	assert_int_equal(pf_hexval(0), -1);
}

static void test_err(void **state)
{
	struct pf_err e = {0};
	(void)state;
	assert_int_equal(pf_err_set(&e, PF_EINVAL, "bad %s", "thing"), PF_EINVAL);
	pf_err_prefix(&e, "file.wal:%d: ", 12);
	assert_string_equal(e.msg, "file.wal:12: bad thing");
	assert_int_equal(e.code, PF_EINVAL);
	assert_int_equal(pf_err_set(NULL, PF_EIO, "x"), PF_EIO);
}

/* ---- the shared byte budget ---- */

struct budget_taker {
	struct pf_budget *b;
	size_t n;
	int64_t wait_ns;
	int rc;
};

static void *budget_take_thread(void *arg)
{
	struct budget_taker *t = arg;
	t->rc = pf_budget_take(t->b, t->n, t->wait_ns);
	return NULL;
}

static void wait_waiting(struct pf_budget *b, size_t n)
{
	for (int i = 0; i < 5000 && pf_budget_waiting(b) != n; i++)
		usleep(1000);
	assert_int_equal(pf_budget_waiting(b), n);
}

static void test_budget(void **state)
{
	struct pf_budget *b = pf_budget_new(100);
	struct budget_taker small = {b, 40, 5000000000LL, 1}, big = {b, 50, 300000000LL, 1};
	pthread_t ts, tb;

	(void)state;
	assert_int_equal(pf_budget_total(b), 100);
	assert_int_equal(pf_budget_take(b, 0, 0), 0);
	assert_int_equal(pf_budget_take(b, 60, 0), 0);
	assert_int_equal(pf_budget_used(b), 60);
	/* more than is left: waits, then PF_EBUSY, and takes nothing */
	assert_int_equal(pf_budget_take(b, 50, 20000000), PF_EBUSY);
	assert_int_equal(pf_budget_used(b), 60);
	assert_int_equal(pf_budget_waiting(b), 0);
	/* more than the whole budget: PF_EBUSY at once */
	assert_int_equal(pf_budget_take(b, 101, 5000000000LL), PF_EBUSY);
	assert_int_equal(pf_budget_take(b, 40, 0), 0);
	assert_int_equal(pf_budget_used(b), 100);

	/* a waiter gets the bytes when they are given back */
	pthread_create(&ts, NULL, budget_take_thread, &small);
	wait_waiting(b, 1);
	pf_budget_give(b, 40);
	pthread_join(ts, NULL);
	assert_int_equal(small.rc, 0);
	assert_int_equal(pf_budget_used(b), 100);

	/* smaller first: with 60 free, the waiter for 50 may not take what the
	 * waiter for 40 needs, whichever wakes first; it times out */
	small.rc = big.rc = 1;
	pthread_create(&ts, NULL, budget_take_thread, &small);
	pthread_create(&tb, NULL, budget_take_thread, &big);
	wait_waiting(b, 2);
	pf_budget_give(b, 60);
	pthread_join(ts, NULL);
	pthread_join(tb, NULL);
	assert_int_equal(small.rc, 0);
	assert_int_equal(big.rc, PF_EBUSY);
	assert_int_equal(pf_budget_used(b), 80);
	assert_int_equal(pf_budget_waiting(b), 0);
	pf_budget_give(b, 80);
	assert_int_equal(pf_budget_used(b), 0);
	pf_budget_free(b);
	pf_budget_free(NULL);
}

/* UTF-8 as jansson takes it; the rest becomes U+FFFD byte by byte. */
static void test_utf8(void **state)
{
	(void)state;
	struct pf_buf b = PF_BUF_INIT(0);

	assert_int_equal(pf_utf8_seq("a", 1), 1);
	assert_int_equal(pf_utf8_seq("\xc3\xa9", 2), 2);         /* e acute */
	assert_int_equal(pf_utf8_seq("\xe2\x82\xac", 3), 3);     /* euro */
	assert_int_equal(pf_utf8_seq("\xf0\x9f\x94\xa5", 4), 4); /* U+1F525 */
	assert_int_equal(pf_utf8_seq("\xc3\xa9", 1), 0);         /* cut short */
	assert_int_equal(pf_utf8_seq("\xc0\xaf", 2), 0);         /* overlong */
	assert_int_equal(pf_utf8_seq("\xed\xa0\x80", 3), 0);     /* surrogate */
	assert_int_equal(pf_utf8_seq("\xf4\x90\x80\x80", 4), 0); /* above U+10FFFF */
	assert_int_equal(pf_utf8_seq("\x80", 1), 0);
	assert_int_equal(pf_utf8_seq("", 0), 0);
	assert_true(pf_utf8_valid("main.(*T).f \xc3\xa9", 15));
	assert_true(pf_utf8_valid("", 0));
	assert_false(pf_utf8_valid("ok\xff", 3));
	assert_int_equal(pf_utf8_fix(&b, "a\xff" "b\xc3", 4), 0);
	assert_int_equal(b.len, 8);
	assert_memory_equal(b.data, "a\xef\xbf\xbd" "b\xef\xbf\xbd", 8);
	pf_buf_free(&b);
}

/* SPEC §1 "Words" (words.c): each rule with an input that passes and one that fails. */
static void test_words(void **state)
{
	static const char *const types[] = {"cpu", "heap", "allocs", "block", "mutex", "goroutine",
					    "threadcreate", "trace", "other"};
	char big[PF_MAX_LABEL_VALUE + 2];

	(void)state;
	/* names: [a-zA-Z_][a-zA-Z0-9_]* */
	assert_true(pf_label_name_ok("a", 1));
	assert_true(pf_label_name_ok("_x", 2));
	assert_true(pf_label_name_ok("Zone_9", 6));
	assert_false(pf_label_name_ok("", 0));     /* empty */
	assert_false(pf_label_name_ok("9a", 2));   /* a digit first */
	assert_false(pf_label_name_ok("a-b", 3));  /* other characters */
	assert_false(pf_label_name_ok("a.b", 3));
	assert_false(pf_label_name_ok("a b", 3));
	assert_false(pf_label_name_ok("\xc3\xa9t\xc3\xa9", 6)); /* not ASCII */
	assert_true(pf_label_name_ok("ab", 1));    /* n bytes only */
	/* names starting with __ are reserved */
	assert_true(pf_label_name_reserved("__name__"));
	assert_true(pf_label_name_reserved("__"));
	assert_false(pf_label_name_reserved("_x"));
	assert_false(pf_label_name_reserved("x__"));
	/* values: any UTF-8 up to 1024 bytes */
	assert_true(pf_label_value_ok("", 0));
	assert_true(pf_label_value_ok("h\xc3\xa9llo \xf0\x9f\x94\xa5", 11));
	memset(big, 'v', sizeof(big));
	assert_true(pf_label_value_ok(big, PF_MAX_LABEL_VALUE));
	assert_false(pf_label_value_ok(big, PF_MAX_LABEL_VALUE + 1)); /* too long */
	assert_false(pf_label_value_ok("\xff", 1));                   /* not UTF-8 */
	assert_false(pf_label_value_ok("\xc0\x80", 2));               /* overlong */
	assert_false(pf_label_value_ok("\xed\xa0\x80", 3));           /* a surrogate */
	assert_false(pf_label_value_ok("\xc3", 1));                   /* cut short */
	/* at most 64 labels a profile */
	assert_int_equal(PF_MAX_LABELS, 64);
	/* types: the built-in ones, or custom names of [a-z0-9_.-]+ */
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		assert_true(pf_type_ok(types[i]));
	assert_true(pf_type_ok("fgprof"));
	assert_true(pf_type_ok("example.com_shop_open-conns"));
	assert_true(pf_type_ok("0"));
	assert_false(pf_type_ok(""));
	assert_false(pf_type_ok("Heap"));   /* upper case */
	assert_false(pf_type_ok("a/b"));
	assert_false(pf_type_ok("a b"));
	assert_false(pf_type_ok("h\xc3\xa9"));
	big[PF_MAX_LABEL_VALUE] = 0;
	assert_true(pf_type_ok(big));       /* a type is a label value: 1024 bytes */
	big[PF_MAX_LABEL_VALUE] = 'v';
	big[PF_MAX_LABEL_VALUE + 1] = 0;
	assert_false(pf_type_ok(big));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c_known_vectors),
		cmocka_unit_test(test_uvarint_roundtrip),
		cmocka_unit_test(test_reader_rejects_overlong),
		cmocka_unit_test(test_buf_cap),
		cmocka_unit_test(test_htab_int),
		cmocka_unit_test(test_htab_interned),
		cmocka_unit_test(test_htab_delete),
		cmocka_unit_test(test_map),
		cmocka_unit_test(test_map_order),
		cmocka_unit_test(test_base62),
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_parse_time_reasons),
		cmocka_unit_test(test_parse_duration_and_size),
		cmocka_unit_test(test_read_file_caps),
		cmocka_unit_test(test_pread_pwrite_full),
		cmocka_unit_test(test_zigzag_hexval),
		cmocka_unit_test(test_err),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_words),
		cmocka_unit_test(test_utf8),
	};
	return cmocka_run_group_tests_name("base", tests, NULL, NULL);
}
