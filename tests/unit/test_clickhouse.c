/* Unit tests for src/clickhouse without a server: DSN parsing (every part
 * and its error), SQL quoting, the RowBinary writer (exact bytes) and
 * reader (round trips, and every read past the end or oversized length
 * caught), TSV fields, days; the client's cancel hook against a loopback
 * listener that never answers (a ClickHouse busy with the query). The
 * store against a real server is tests/e2e/clickhouse_store.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>


#include "clickhouse/clickhouse.h"

/* after base.h: socket.h's PF_MAX (46) wins, unused here */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

static void dsn_ok(const char *s, const char *base, const char *db, const char *user,
		   const char *pw)
{
	struct ch_dsn d;
	struct pf_err err = {0};
	int rc = ch_dsn_parse(s, &d, &err);
	if (rc != 0)
		fail_msg("%s: %s", s, err.msg);
	assert_string_equal(d.base, base);
	assert_string_equal(d.database, db);
	if (user)
		assert_string_equal(d.user, user);
	else
		assert_null(d.user);
	if (pw)
		assert_string_equal(d.password, pw);
	else
		assert_null(d.password);
	ch_dsn_free(&d);
}

static void dsn_bad(const char *s, const char *want)
{
	struct ch_dsn d;
	struct pf_err err = {0};
	int rc = ch_dsn_parse(s, &d, &err);
	assert_int_equal(rc, PF_EINVAL);
	if (!strstr(err.msg, want))
		fail_msg("%s: got \"%s\", want it to name \"%s\"", s ? s : "(null)", err.msg, want);
	assert_null(d.base);
	assert_null(d.database);
}

static void test_dsn(void **state)
{
	(void)state;
	dsn_ok("http://127.0.0.1:8123/?database=profefe", "http://127.0.0.1:8123/", "profefe", NULL,
	       NULL);
	dsn_ok("http://ch:8123?database=p", "http://ch:8123/", "p", NULL, NULL);
	dsn_ok("HTTPS://ch.example.com/?database=p_1&user=u&password=a%20b%26c%3D",
	       "https://ch.example.com/", "p_1", "u", "a b&c=");
	dsn_ok("http://[::1]:8123/?user=x&database=d", "http://[::1]:8123/", "d", "x", NULL);
	dsn_ok("http://h:1/?database=d&&user=", "http://h:1/", "d", "", NULL);

	dsn_bad(NULL, "empty");
	dsn_bad("", "empty");
	dsn_bad("127.0.0.1:8123/?database=x", "no scheme");
	dsn_bad("tcp://h:9000/?database=x", "scheme \"tcp\" is not http or https");
	dsn_bad("http:///?database=x", "missing host");
	dsn_bad("http://:8123/?database=x", "missing host");
	dsn_bad("http://u:p@h/?database=x", "user info in the host part");
	dsn_bad("http://h:/?database=x", "empty port");
	dsn_bad("http://h:0/?database=x", "port \"0\" is not a number in 1..65535");
	dsn_bad("http://h:65536/?database=x", "port \"65536\"");
	dsn_bad("http://h:8x/?database=x", "port \"8x\"");
	dsn_bad("http://[::1/?database=x", "unclosed [");
	dsn_bad("http://h/db?database=x", "path \"/db\"");
	dsn_bad("http://h/", "missing database= parameter");
	dsn_bad("http://h/?user=u", "missing database= parameter");
	dsn_bad("http://h/?database=", "database \"\" is not a name");
	dsn_bad("http://h/?database=a-b", "database \"a-b\" is not a name");
	dsn_bad("http://h/?database=1a", "is not a name");
	dsn_bad("http://h/?database=a%00", "bad %-escape");
	dsn_bad("http://h/?database=a%4", "bad %-escape");
	dsn_bad("http://h/?database=a%zz", "bad %-escape");
	dsn_bad("http://h/?database=a&database=b", "parameter database given twice");
	dsn_bad("http://h/?database", "parameter database has no =value");
	dsn_bad("http://h/?database=a&pasword=x", "unknown parameter \"pasword\"");
	dsn_bad("http://h/?database=a&password=x", "password= without user=");
	dsn_bad("http://h/?database=a#frag", "#fragment");
	dsn_bad("http://h/?database=a b", "space or control byte at offset 20");
	/* an error quotes the DSN with its password (and a user info's) as <secret> */
	dsn_bad("http://h/?user=u&password=hunter2&foo=1",
		"\"http://h/?user=u&password=<secret>&foo=1\": unknown parameter \"foo\"");
	dsn_bad("http://h/?password=hunter2", "\"http://h/?password=<secret>\": missing database=");
	dsn_bad("http://h/?password=hunter2&user=u&database=a-b",
		"\"http://h/?password=<secret>&user=u&database=a-b\": database \"a-b\"");
	dsn_bad("http://u:hunter2@h/?database=x", "\"http://<secret>@h/?database=x\": user info");
	dsn_bad("http://h/?database=a&user=u&password=hunter2 x", "password=<secret>\": space or control");
}

static void test_quote(void **state)
{
	struct pf_buf b = PF_BUF_INIT(0);
	(void)state;
	assert_int_equal(ch_sql_quote(&b, "a'b\\c\n\x01z", 8), 0);
	pf_buf_putc(&b, 0);
	assert_string_equal((char *)b.data, "'a\\'b\\\\c\\x0A\\x01z'");
	pf_buf_free(&b);
}

static void test_rowbinary_writer(void **state)
{
	struct pf_buf b = PF_BUF_INIT(0);
	static const uint8_t want[] = {
		0x7f,                                           /* u8 */
		0x34, 0x12,                                     /* u16 */
		0x78, 0x56, 0x34, 0x12,                         /* u32 */
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* u64 */
		0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* i64 -2 */
		0xac, 0x02,                                     /* LEB128 300 */
		0x03, 'a', 'b', 'c',                            /* string */
		0x00,                                           /* empty string */
		0x2b, 0x51,                                     /* Date 2026-11-22 = day 20779 */
	};
	(void)state;
	ch_rb_u8(&b, 0x7f);
	ch_rb_u16(&b, 0x1234);
	ch_rb_u32(&b, 0x12345678);
	ch_rb_u64(&b, 0x0102030405060708ull);
	ch_rb_i64(&b, -2);
	ch_rb_len(&b, 300);
	ch_rb_str(&b, "abc", 3);
	ch_rb_cstr(&b, NULL);
	ch_rb_date(&b, (uint16_t)ch_day_of(1795352768277834234ll));
	assert_int_equal(b.len, sizeof(want));
	assert_memory_equal(b.data, want, sizeof(want));
	pf_buf_free(&b);
}

static void test_rowbinary_reader(void **state)
{
	struct pf_buf b = PF_BUF_INIT(0);
	struct pf_arena *a = pf_arena_new();
	struct pf_reader r;
	size_t n;
	const uint8_t *p;
	(void)state;

	ch_rb_u8(&b, 9);
	ch_rb_u16(&b, 65535);
	ch_rb_u32(&b, 4000000000u);
	ch_rb_u64(&b, UINT64_MAX);
	ch_rb_i64(&b, INT64_MIN);
	ch_rb_len(&b, 2);
	ch_rb_i64(&b, 1);
	ch_rb_i64(&b, -1);
	ch_rb_cstr(&b, "hello");
	ch_rb_str(&b, "", 0);
	pf_reader_init(&r, b.data, b.len);
	assert_int_equal(ch_rb_read_u8(&r), 9);
	assert_int_equal(ch_rb_read_u16(&r), 65535);
	assert_int_equal(ch_rb_read_u32(&r), 4000000000u);
	assert_true(ch_rb_read_u64(&r) == UINT64_MAX);
	assert_true(ch_rb_read_i64(&r) == INT64_MIN);
	assert_int_equal(ch_rb_read_len(&r, 8), 2);
	assert_int_equal(ch_rb_read_i64(&r), 1);
	assert_int_equal(ch_rb_read_i64(&r), -1);
	assert_string_equal(ch_rb_read_strdup(&r, a), "hello");
	assert_string_equal(ch_rb_read_strdup(&r, a), "");
	assert_false(r.bad);
	assert_int_equal(pf_reader_left(&r), 0);
	/* past the end: 0 and bad */
	assert_int_equal(ch_rb_read_u16(&r), 0);
	assert_true(r.bad);

	/* a string longer than what is left */
	pf_buf_reset(&b);
	ch_rb_len(&b, 10);
	pf_buf_append(&b, "abc", 3);
	pf_reader_init(&r, b.data, b.len);
	p = ch_rb_read_str(&r, &n);
	assert_null(p);
	assert_int_equal(n, 0);
	assert_true(r.bad);

	/* an array count no reply could hold (allocation guard) */
	pf_buf_reset(&b);
	ch_rb_len(&b, (uint64_t)1 << 60);
	ch_rb_i64(&b, 1);
	pf_reader_init(&r, b.data, b.len);
	assert_int_equal(ch_rb_read_len(&r, 8), 0);
	assert_true(r.bad);
	pf_buf_reset(&b);
	ch_rb_len(&b, 2);
	ch_rb_i64(&b, 1); /* 8 bytes left: 2 Int64 do not fit */
	pf_reader_init(&r, b.data, b.len);
	assert_int_equal(ch_rb_read_len(&r, 8), 0);
	assert_true(r.bad);

	/* a truncated LEB128 */
	pf_reader_init(&r, "\x80\x80", 2);
	ch_rb_read_len(&r, 1);
	assert_true(r.bad);

	/* a string with a NUL byte cannot become a C string */
	pf_buf_reset(&b);
	ch_rb_str(&b, "a\0b", 3);
	pf_reader_init(&r, b.data, b.len);
	assert_null(ch_rb_read_strdup(&r, a));
	assert_true(r.bad);

	/* every prefix of a valid row fails cleanly */
	pf_buf_reset(&b);
	ch_rb_u64(&b, 7);
	ch_rb_len(&b, 2);
	ch_rb_cstr(&b, "service");
	ch_rb_cstr(&b, "type");
	for (size_t cut = 0; cut < b.len; cut++) {
		pf_reader_init(&r, b.data, cut);
		ch_rb_read_u64(&r);
		n = ch_rb_read_len(&r, 1);
		for (size_t i = 0; i < n && !r.bad; i++)
			ch_rb_read_strdup(&r, a);
		assert_true(r.bad);
	}
	pf_arena_free(a);
	pf_buf_free(&b);
}

static void test_tsv(void **state)
{
	static const char in[] = "a\\tb\\\\c\t\\x41\\n\\'\t\nnext\n";
	const char *p = in, *end = in + sizeof(in) - 1;
	struct pf_buf f = PF_BUF_INIT(0);
	int last;
	(void)state;
	assert_int_equal(ch_tsv_field(&p, end, &f, &last), 0);
	assert_string_equal((char *)f.data, "a\tb\\c");
	assert_false(last);
	assert_int_equal(ch_tsv_field(&p, end, &f, &last), 0);
	assert_string_equal((char *)f.data, "A\n'");
	assert_false(last);
	assert_int_equal(ch_tsv_field(&p, end, &f, &last), 0);
	assert_int_equal(f.len, 0);
	assert_true(last);
	assert_int_equal(ch_tsv_field(&p, end, &f, &last), 0);
	assert_string_equal((char *)f.data, "next");
	assert_true(last);
	assert_true(p == end);
	/* escapes cut by the end */
	p = "ab\\";
	assert_int_equal(ch_tsv_field(&p, p + 3, &f, &last), PF_EINVAL);
	p = "\\x4";
	assert_int_equal(ch_tsv_field(&p, p + 3, &f, &last), PF_EINVAL);
	p = "\\xZZ";
	assert_int_equal(ch_tsv_field(&p, p + 4, &f, &last), PF_EINVAL);
	pf_buf_free(&f);
}

static void test_days(void **state)
{
	const int64_t day = (int64_t)86400 * 1000000000;
	(void)state;
	assert_int_equal(ch_day_of(0), 0);
	assert_int_equal(ch_day_of(day - 1), 0);
	assert_int_equal(ch_day_of(day), 1);
	assert_int_equal(ch_day_of(-1), -1);
	assert_int_equal(ch_day_of(-day), -1);
	assert_int_equal(ch_day_of(-day - 1), -2);
	assert_int_equal(ch_day_of(1795352768277834234ll), 20779);
}

static void test_store_open_errors(void **state)
{
	struct ch_store_options o = {0};
	struct ch_store *s = (struct ch_store *)1;
	struct pf_err err = {0};
	(void)state;
	o.dsn = "http://h/?database=a-b";
	assert_int_equal(ch_store_open(&o, &s, &err), PF_EINVAL);
	assert_null(s);
	assert_non_null(strstr(err.msg, "is not a name"));
	/* nothing listens on port 1 of loopback */
	o.dsn = "http://127.0.0.1:1/?database=a";
	o.timeout_ns = 2000000000;
	assert_int_equal(ch_store_open(&o, &s, &err), PF_EIO);
	assert_null(s);
	assert_non_null(strstr(err.msg, "clickhouse http://127.0.0.1:1/: "));
	ch_store_close(NULL);
}

/* A loopback listener that accepts nothing: the kernel completes the
 * handshake and takes the request, no reply ever comes. */
static int listen_silent(int *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t n = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &n), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

struct cancel_after {
	int calls, after; /* nonzero from call after + 1 on */
};

static int cancel_after_fn(void *arg)
{
	struct cancel_after *c = arg;
	return ++c->calls > c->after;
}

static void test_query_cancel(void **state)
{
	struct ch_dsn d = {0};
	struct ch_client *c;
	struct pf_err err = {0};
	struct pf_buf out = PF_BUF_INIT(0);
	struct cancel_after ca = {0};
	struct ch_bound b = {.cancelled = cancel_after_fn, .cancel_arg = &ca};
	char dsn[96], want[160];
	int port, fd = listen_silent(&port);
	int64_t t0;
	(void)state;

	snprintf(dsn, sizeof(dsn), "http://127.0.0.1:%d/?database=a", port);
	assert_int_equal(ch_dsn_parse(dsn, &d, &err), 0);
	c = ch_client_new(&d, 30000000000ll); /* 30 s: far past what a case takes */
	pf_buf_append(&out, "kept", 4);

	/* given up before: nothing sent, the hook asked once */
	ca.after = 0;
	assert_int_equal(ch_query_bounded(c, 1, "SELECT 1", NULL, 0, &out, &b, &err), PF_ECANCELED);
	assert_int_equal(ca.calls, 1);
	snprintf(want, sizeof(want), "clickhouse http://127.0.0.1:%d/: canceled before sending \"SELECT 1\"", port);
	assert_string_equal(err.msg, want);

	/* given up while the server is silent: curl's progress callback
	 * aborts the transfer (CURLE_ABORTED_BY_CALLBACK), PF_ECANCELED in
	 * about a second, not at the 30 s timeout; out as it was */
	ca = (struct cancel_after){.after = 1};
	t0 = pf_mono_ns();
	assert_int_equal(ch_query_bounded(c, 1, "SELECT 2", NULL, 0, &out, &b, &err), PF_ECANCELED);
	assert_true(pf_mono_ns() - t0 < 10000000000ll);
	assert_true(ca.calls >= 2);
	snprintf(want, sizeof(want), "clickhouse http://127.0.0.1:%d/: canceled while ClickHouse ran \"SELECT 2\"", port);
	assert_string_equal(err.msg, want);
	assert_int_equal(out.len, 4);
	assert_memory_equal(out.data, "kept", 4);

	/* a hook that never cancels leaves the deadline as it was: the
	 * transfer is cut at it, PF_ETIMEDOUT, the hook asked on the way */
	ca = (struct cancel_after){.after = 1 << 30};
	b.deadline_ns = pf_mono_ns() + 300000000;
	assert_int_equal(ch_query_bounded(c, 1, "SELECT 3", NULL, 0, &out, &b, &err), PF_ETIMEDOUT);
	assert_true(ca.calls >= 2);
	/* and without a hook (ch_query_until) too */
	assert_int_equal(ch_query_until(c, 1, "SELECT 4", NULL, 0, &out, pf_mono_ns() + 300000000, &err),
			 PF_ETIMEDOUT);
	assert_int_equal(out.len, 4);

	ch_client_free(c);
	ch_dsn_free(&d);
	pf_buf_free(&out);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dsn),
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_rowbinary_writer),
		cmocka_unit_test(test_rowbinary_reader),
		cmocka_unit_test(test_tsv),
		cmocka_unit_test(test_days),
		cmocka_unit_test(test_store_open_errors),
		cmocka_unit_test(test_query_cancel),
	};
	return cmocka_run_group_tests_name("clickhouse", tests, NULL, NULL);
}
