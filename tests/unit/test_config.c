/*
 * Unit tests for src/config: every error class with its exact
 * FILE:LINE:COLUMN, the defaults and per-type rules of SPEC §4 and §10.7,
 * conprof's own example files, file_sd target files (JSON and YAML),
 * target resolution, durations, and the YAML printer.
 * Run from the repository root (fixtures under tests/fixtures/config).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "config/config.h"

#include <sys/stat.h>
#include <unistd.h>

#define SEC 1000000000LL
#define FIX "tests/fixtures/config/"

static char tmp[256];

/* ---- helpers ---------------------------------------------------------- */

static void write_file(const char *name, const char *text)
{
	char path[512];
	FILE *f;
	snprintf(path, sizeof(path), "%s/%s", tmp, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static struct config *load_ok(const char *yaml)
{
	struct config *c = NULL;
	struct pf_err err = {0};
	int rc = config_load_buffer("t.yaml", tmp, yaml, strlen(yaml), &c, &err);
	if (rc < 0)
		print_error("unexpected load error: %s\n", err.msg);
	assert_int_equal(rc, 0);
	return c;
}

static void expect_err(const char *yaml, const char *want)
{
	struct config *c = NULL;
	struct pf_err err = {0};
	int rc = config_load_buffer("t.yaml", tmp, yaml, strlen(yaml), &c, &err);
	if (rc == 0) {
		print_error("loaded, but wanted the error: %s\n", want);
		config_free(c);
	}
	assert_int_equal(rc, PF_EINVAL);
	assert_null(c);
	assert_string_equal(err.msg, want);
}

static void expect_err_prefix(const char *yaml, const char *want)
{
	struct config *c = NULL;
	struct pf_err err = {0};
	int rc = config_load_buffer("t.yaml", tmp, yaml, strlen(yaml), &c, &err);
	assert_int_equal(rc, PF_EINVAL);
	if (strncmp(err.msg, want, strlen(want)) != 0)
		print_error("got  %s\nwant %s...\n", err.msg, want);
	assert_int_equal(strncmp(err.msg, want, strlen(want)), 0);
}

static const struct config_profile *profile(const struct config_job *j, const char *type)
{
	for (size_t i = 0; i < j->nprofiles; i++)
		if (strcmp(j->profiles[i].type, type) == 0)
			return &j->profiles[i];
	return NULL;
}

static const struct config_target *target(const struct config_target *v, size_t n, const char *addr,
					  const char *type)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].address, addr) == 0 && strcmp(v[i].type, type) == 0)
			return &v[i];
	return NULL;
}

/* "a=1 b=2" */
static void labels_str(const struct config_labels *l, char *out, size_t n)
{
	size_t off = 0;
	out[0] = 0;
	for (size_t i = 0; i < l->n && off < n; i++) {
		int m = snprintf(out + off, n - off, "%s%s=%s", i ? " " : "", l->v[i].name, l->v[i].value);
		if (m < 0)
			break;
		off += (size_t)m;
	}
}

static void assert_labels(const struct config_labels *l, const char *want)
{
	char got[2048];
	labels_str(l, got, sizeof(got));
	assert_string_equal(got, want);
}

static void *has(const struct pf_buf *b, const char *s)
{
	return memmem(b->data, b->len, s, strlen(s));
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/profefe-config-test.XXXXXX");
	if (!mkdtemp(tmp))
		return -1;
	write_file("password.txt", "p4ss\n");
	write_file("token.txt", "t0ken\n");
	write_file("ca.pem", "not really a CA\n");
	write_file("client.pem", "cert\n");
	write_file("client.key", "key\n");
	return 0;
}

static int teardown(void **state)
{
	char cmd[600];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

#define JOB "scrape_configs:\n  - job_name: a\n"
#define PROF JOB "    profiling_config:\n      pprof_config:\n"
#define STATIC JOB "    static_configs:\n"

/* ---- errors ------------------------------------------------------------ */

static void test_err_unknown_keys(void **state)
{
	(void)state;
	expect_err("global:\n  scrape_interval: 15s\nfoo: 1\n",
		   "t.yaml:3:1: unknown key \"foo\" in the configuration (known: global, scrape_configs)");
	expect_err_prefix(JOB "    scrape_intervall: 1s\n",
			  "t.yaml:3:5: unknown key \"scrape_intervall\" in a scrape config (known: job_name, scrape_interval,");
	expect_err("global:\n  scrape_interval: 15s\n  external: {}\n",
		   "t.yaml:3:3: unknown key \"external\" in global (known: scrape_interval, scrape_timeout, external_labels)");
	expect_err(STATIC "      - targets: ['a:1']\n        label: {a: b}\n",
		   "t.yaml:5:9: unknown key \"label\" in static_configs (known: targets, labels)");
	expect_err(PROF "        heap: {enable: false}\n",
		   "t.yaml:5:16: unknown key \"enable\" in pprof_config.heap (known: enabled, path, seconds, delta)");
	expect_err(JOB "    tls_config: {ca: x}\n",
		   "t.yaml:3:18: unknown key \"ca\" in tls_config (known: ca_file, cert_file, key_file, server_name, "
		   "insecure_skip_verify)");
	/* known to Prometheus, not supported here: the reason instead */
	expect_err(JOB "    kubernetes_sd_configs: []\n",
		   "t.yaml:3:5: this service discovery is not supported: list targets in static_configs or in "
		   "file_sd_configs files");
	expect_err(JOB "    relabel_configs: []\n",
		   "t.yaml:3:5: relabeling is not supported: set target labels in static_configs or in "
		   "file_sd_configs files");
	expect_err(JOB "    metrics_path: /metrics\n",
		   "t.yaml:3:5: metrics_path does not apply to profiles: set profiling_config.path_prefix or a type's path");
	expect_err("rule_files: []\n", "t.yaml:1:1: this Prometheus setting has no meaning for profefe; remove it");
	/* a key given twice */
	expect_err(JOB "    scrape_interval: 1s\n    scrape_interval: 2s\n",
		   "t.yaml:4:5: a scrape config: key \"scrape_interval\" is repeated (first at line 3)");
}

static void test_err_types(void **state)
{
	(void)state;
	expect_err("- a\n", "t.yaml:1:1: the configuration must be a mapping (key: value), not a list");
	expect_err("global: 5\n", "t.yaml:1:9: global must be a mapping (key: value), not a string");
	expect_err("scrape_configs: {a: 1}\n", "t.yaml:1:17: scrape_configs must be a list, not a mapping");
	expect_err(JOB "    static_configs: {targets: [x]}\n",
		   "t.yaml:3:21: static_configs must be a list, not a mapping");
	expect_err(STATIC "      - targets: 'a:1'\n", "t.yaml:4:18: targets must be a list, not a string");
	expect_err(STATIC "      - targets: [{a: 1}]\n",
		   "t.yaml:4:19: a target must be a string \"host:port\", not a mapping");
	expect_err(PROF "        heap: {enabled: 'yes please'}\n",
		   "t.yaml:5:25: enabled must be true or false, not \"yes please\"");
	expect_err(PROF "        cpu: {seconds: 10s}\n", "t.yaml:5:24: seconds must be a whole number, not \"10s\"");
	expect_err(PROF "        cpu: {seconds: 0}\n", "t.yaml:5:24: seconds must be between 1 and 86400, not 0");
	expect_err(JOB "    follow_redirects: [true]\n", "t.yaml:3:23: follow_redirects must be true or false, not a list");
	expect_err(JOB "    job_name: b\n", "t.yaml:3:5: a scrape config: key \"job_name\" is repeated (first at line 2)");
	expect_err(JOB "    params: {debug: 0}\n",
		   "t.yaml:3:21: params: the value of \"debug\" must be a list of strings like [\"0\"], not a string");
	expect_err(JOB "    params: {seconds: ['5']}\n",
		   "t.yaml:3:14: params: seconds is set per profile type (profiling_config.pprof_config.<type>.seconds)");
	expect_err(JOB "    scheme: ftp\n", "t.yaml:3:13: scheme \"ftp\" is not supported (want http or https)");
	expect_err(JOB "    proxy_url: ftp://x\n",
		   "t.yaml:3:16: proxy_url \"ftp://x\" must start with http://, https:// or socks5://");
	expect_err(JOB "    proxy_url: http://\n", "t.yaml:3:16: proxy_url \"http://\" has no host");
	expect_err(PROF "        heap: {path: debug/heap}\n", "t.yaml:5:22: path \"debug/heap\" must start with /");
	expect_err(PROF "        heap: {path: '/heap?gc=1'}\n",
		   "t.yaml:5:22: path \"/heap?gc=1\" must be a plain path (no query, fragment or space; use the job's params)");
	expect_err(JOB "    profiling_config: {path_prefix: app}\n",
		   "t.yaml:3:37: path_prefix \"app\" must start with /");
}

static void test_err_yaml_syntax(void **state)
{
	(void)state;
	expect_err("global:\n  scrape_interval: 1s\n scrape_timeout: 2s\n",
		   "t.yaml:3:2: invalid YAML: did not find expected key (while parsing a block mapping at line 1 column 1)");
	expect_err("scrape_configs:\n  - job_name: [a\n",
		   "t.yaml:3:1: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence at line 2 column 15)");
	expect_err(STATIC "      - targets: [*x]\n", "t.yaml:4:19: invalid YAML: found undefined alias");
	expect_err("scrape_configs:\n  - job_name: a\xff\n", "t.yaml:2:16: invalid YAML: invalid leading UTF-8 octet");
	expect_err("scrape_configs: []\n---\nglobal: {}\n", "t.yaml:3:1: a second YAML document; the file must hold one");
}

static void test_err_durations(void **state)
{
	(void)state;
	expect_err(JOB "    scrape_interval: 15x\n",
		   "t.yaml:3:22: scrape_interval: \"15x\" is not a valid duration (want e.g. 15s, 1m30s, 2h, 15d)");
	expect_err("global:\n  scrape_timeout: 30s1m\n",
		   "t.yaml:2:19: scrape_timeout: \"30s1m\" is not a valid duration (want e.g. 15s, 1m30s, 2h, 15d)");
	expect_err(JOB "    scrape_interval: 1.5s\n",
		   "t.yaml:3:22: scrape_interval: \"1.5s\" is not a valid duration (want e.g. 15s, 1m30s, 2h, 15d)");
	expect_err(JOB "    scrape_interval: 0s\n", "t.yaml:3:22: scrape_interval must be longer than 0s");
	expect_err(JOB "    scrape_timeout: {a: 1}\n", "t.yaml:3:21: scrape_timeout must be a duration like 15s, not a mapping");
	expect_err(JOB "    file_sd_configs:\n      - files: ['a.json']\n        refresh_interval: 5\n",
		   "t.yaml:5:27: refresh_interval: \"5\" is not a valid duration (want e.g. 15s, 1m30s, 2h, 15d)");
}

static void test_err_jobs(void **state)
{
	(void)state;
	expect_err("scrape_configs:\n  - job_name: a\n  - job_name: b\n  - job_name: a\n",
		   "t.yaml:4:15: job_name \"a\" is already used (line 2)");
	expect_err("scrape_configs:\n  - scrape_interval: 1s\n", "t.yaml:2:5: a scrape config needs a job_name");
	expect_err("scrape_configs:\n  - job_name:\n", "t.yaml:2:5: a scrape config needs a job_name");
	expect_err("scrape_configs:\n  - job_name: ''\n", "t.yaml:2:15: job_name is empty");
	expect_err("scrape_configs:\n  - 5\n", "t.yaml:2:5: a scrape config must be a mapping (key: value), not a string");
}

static void test_err_targets(void **state)
{
	static const struct {
		const char *target, *why;
	} bad[] = {
		{"http://a:1", "must be host:port without a scheme (set the job's scheme: https instead)"},
		{"a:1/x", "must be host:port without a path (use profiling_config.path_prefix)"},
		{"a:99999", "has a port above 65535"},
		{"a:0", "has port 0"},
		{"a:x", "has a port that is not a number"},
		{"a:", "has an empty port"},
		{"::1", "has several colons: write an IPv6 address in brackets, [::1]:6060"},
		{"[::1", "has an IPv6 address without its closing ]"},
		{"[::1]6060", "must be [ipv6]:port"},
		{"a b:1", "has a character a host name cannot have"},
		{"user@a:1", "has a character a host name cannot have"},
		{"", "is empty"},
		{":6060", "has no host"},
	};
	char yaml[256], want[512];
	(void)state;
	for (size_t i = 0; i < PF_ARRAY_LEN(bad); i++) {
		snprintf(yaml, sizeof(yaml), STATIC "      - targets: ['%s']\n", bad[i].target);
		snprintf(want, sizeof(want), "t.yaml:4:19: target \"%s\" %s", bad[i].target, bad[i].why);
		expect_err(yaml, want);
	}
	{
		char host[301], y[512], w[700];
		memset(host, 'h', 300);
		host[300] = 0;
		snprintf(y, sizeof(y), STATIC "      - targets: ['%s']\n", host);
		snprintf(w, sizeof(w), "t.yaml:4:19: target \"%s\" is too long for a host:port", host);
		expect_err(y, w);
	}
	/* duplicates within a job, ports normalized */
	expect_err(STATIC "      - targets: ['a:80', 'b:1']\n      - targets: ['a']\n",
		   "t.yaml:5:19: target \"a\" is repeated in job \"a\" (first at 4:19)");
	expect_err(STATIC "      - targets: ['a:1', 'a:1']\n",
		   "t.yaml:4:26: target \"a:1\" is repeated in job \"a\" (first at 4:19)");
	/* the same target in two jobs is fine */
	config_free(load_ok("scrape_configs:\n  - job_name: a\n    static_configs: [{targets: ['h:1']}]\n"
			    "  - job_name: b\n    static_configs: [{targets: ['h:1']}]\n"));
}

static void test_err_labels(void **state)
{
	char *yaml, *want;
	size_t n;
	(void)state;
	expect_err(STATIC "      - targets: ['a:1']\n        labels: {1abc: x}\n",
		   "t.yaml:5:18: labels: label name \"1abc\" is not valid (want [a-zA-Z_][a-zA-Z0-9_]*)");
	expect_err(STATIC "      - targets: ['a:1']\n        labels: {__x: x}\n",
		   "t.yaml:5:18: labels: label name \"__x\" is reserved (names starting with __)");
	expect_err(STATIC "      - targets: ['a:1']\n        labels: {job: x}\n",
		   "t.yaml:5:18: labels: label \"job\" is set by profefe (job from job_name, type per profile type)");
	expect_err(STATIC "      - targets: ['a:1']\n        labels: {type: x}\n",
		   "t.yaml:5:18: labels: label \"type\" is set by profefe (job from job_name, type per profile type)");
	expect_err(STATIC "      - targets: ['a:1']\n        labels: {a: x, a: y}\n",
		   "t.yaml:5:24: labels: label \"a\" is repeated");
	expect_err(STATIC "      - targets: ['a:1']\n        labels: {a: [x]}\n",
		   "t.yaml:5:21: labels: the value of label \"a\" must be a string, not a list");
	expect_err(STATIC "      - targets: ['a:1']\n        labels: [a]\n",
		   "t.yaml:5:17: labels must be a mapping (key: value), not a list");
	expect_err("global:\n  external_labels: {instance: x}\n",
		   "t.yaml:2:21: external_labels: label \"instance\" is set per target");
	expect_err("global:\n  external_labels: {service: x}\n",
		   "t.yaml:2:21: external_labels: label \"service\" is set per target");
	/* a value over 1024 bytes */
	n = strlen(STATIC) + 2000;
	yaml = malloc(n);
	snprintf(yaml, n, STATIC "      - targets: ['a:1']\n        labels: {env: %01025d}\n", 7);
	expect_err(yaml, "t.yaml:5:23: labels: the value of label \"env\" is longer than 1024 bytes");
	/* 65 labels in one group */
	want = malloc(4096);
	yaml = realloc(yaml, 8192);
	{
		size_t off = (size_t)snprintf(yaml, 8192, STATIC "      - targets: ['a:1']\n        labels: {");
		for (int i = 0; i < 65; i++)
			off += (size_t)snprintf(yaml + off, 8192 - off, "%sl%d: v", i ? ", " : "", i);
		snprintf(yaml + off, 8192 - off, "}\n");
	}
	expect_err(yaml, "t.yaml:5:17: labels: 65 labels, more than 64");
	/* 61 labels of its own + service, job, instance, type, external: over 64 per series */
	{
		size_t off = (size_t)snprintf(yaml, 8192, "global:\n  external_labels: {zone: z}\n" STATIC
					      "      - targets: ['a:1']\n        labels: {");
		for (int i = 0; i < 61; i++)
			off += (size_t)snprintf(yaml + off, 8192 - off, "%sl%d: v", i ? ", " : "", i);
		snprintf(yaml + off, 8192 - off, "}\n");
	}
	expect_err(yaml, "t.yaml:6:9: target \"a:1\" of job \"a\" would have 66 labels, more than 64");
	free(want);
	free(yaml);
}

static void test_err_profiles(void **state)
{
	(void)state;
	/* explicit timeout not longer than explicit seconds */
	expect_err(JOB "    scrape_timeout: 10s\n    profiling_config:\n      pprof_config:\n        cpu: {seconds: 10}\n",
		   "t.yaml:6:24: cpu seconds 10 needs a longer scrape_timeout than 10s (scrape_timeout 10s at line 3)");
	expect_err("global:\n  scrape_timeout: 5s\n" PROF "        profile: {seconds: 30}\n",
		   "t.yaml:7:28: profile seconds 30 needs a longer scrape_timeout than 30s (scrape_timeout 5s at line 2)");
	expect_err(JOB "    scrape_timeout: 3s\n    profiling_config:\n      pprof_config:\n"
		   "        fgprof: {path: /debug/fgprof, seconds: 3}\n",
		   "t.yaml:6:48: fgprof seconds 3 needs a longer scrape_timeout than 3s (scrape_timeout 3s at line 3)");
	/* seconds where it does not apply */
	expect_err(PROF "        heap: {seconds: 10}\n",
		   "t.yaml:5:25: pprof_config.heap: seconds applies to cpu, trace, custom and delta types "
		   "(set delta: true for a delta heap profile)");
	expect_err(PROF "        fgprof: {seconds: 10}\n", "t.yaml:5:9: pprof_config: custom profile type \"fgprof\" needs a path");
	expect_err(PROF "        fgprof:\n", "t.yaml:5:9: pprof_config: custom profile type \"fgprof\" needs a path");
	expect_err(PROF "        Fg-Prof: {path: /x}\n",
		   "t.yaml:5:9: pprof_config: profile type \"Fg-Prof\" is not valid (want [a-z0-9_.-]+)");
	expect_err(PROF "        profile: {}\n        cpu: {}\n",
		   "t.yaml:6:9: pprof_config: \"cpu\" and \"profile\" (line 5) both configure the cpu type");
	expect_err(PROF "        heap: {}\n        heap: {}\n",
		   "t.yaml:6:9: pprof_config: type \"heap\" is repeated (first at line 5)");
	expect_err(JOB "    profiling_config:\n      pprof_config: [cpu]\n",
		   "t.yaml:4:21: pprof_config must be a mapping (key: value), not a list");
}

static void test_err_auth_tls_files(void **state)
{
	char want[600];
	(void)state;
	expect_err(JOB "    basic_auth: {username: u, password: p, password_file: password.txt}\n",
		   "t.yaml:3:44: basic_auth: set password or password_file, not both");
	expect_err(JOB "    bearer_token: t\n    bearer_token_file: token.txt\n",
		   "t.yaml:4:5: set bearer_token or bearer_token_file, not both");
	expect_err(JOB "    basic_auth: {username: u}\n    bearer_token: t\n",
		   "t.yaml:4:5: set basic_auth or a bearer token, not both");
	expect_err(JOB "    tls_config: {cert_file: client.pem}\n",
		   "t.yaml:3:18: tls_config: cert_file and key_file go together; set both");
	snprintf(want, sizeof(want), "t.yaml:3:27: tls_config.ca_file \"%s/nope.pem\" cannot be read: No such file or directory", tmp);
	expect_err(JOB "    tls_config: {ca_file: nope.pem}\n", want);
	snprintf(want, sizeof(want), "t.yaml:3:24: bearer_token_file \"%s/nope\" cannot be read: No such file or directory", tmp);
	expect_err(JOB "    bearer_token_file: nope\n", want);
	expect_err(JOB "    file_sd_configs:\n      - files: ['t.txt']\n",
		   "t.yaml:4:17: file_sd file \"t.txt\" must end in .json, .yml or .yaml");
	expect_err(JOB "    file_sd_configs:\n      - files: ['a*/b.json']\n",
		   "t.yaml:4:17: file_sd file \"a*/b.json\": a * may only appear in the last path element");
	expect_err(JOB "    file_sd_configs:\n      - files: []\n",
		   "t.yaml:4:16: file_sd_configs: files must list at least one file");
}

static void test_err_files(void **state)
{
	struct config *c = NULL;
	struct pf_err err = {0};
	(void)state;
	assert_int_equal(config_load_file("tests/fixtures/config/nope.yaml", &c, &err), PF_EIO);
	assert_string_equal(err.msg, "open tests/fixtures/config/nope.yaml: No such file or directory");
	assert_null(c);
}

/* ---- defaults and rules ---------------------------------------------------- */

static void test_empty_config(void **state)
{
	struct config *c;
	(void)state;
	c = load_ok("");
	assert_int_equal(config_job_count(c), 0);
	assert_true(config_global_interval(c) == 60 * SEC);
	assert_true(config_global_timeout(c) == 0);
	assert_int_equal(config_warning_count(c), 0);
	config_free(c);
	c = load_ok("# nothing but a comment\n");
	assert_int_equal(config_job_count(c), 0);
	config_free(c);
	c = load_ok("global:\nscrape_configs:\n");
	assert_int_equal(config_job_count(c), 0);
	config_free(c);
}

static void test_job_defaults(void **state)
{
	static const char *const on[] = {"allocs", "block", "cpu", "goroutine", "heap", "mutex", "threadcreate"};
	struct config *c;
	const struct config_job *j;
	const struct config_target *t;
	(void)state;
	c = load_ok(STATIC "      - targets: ['h:6060']\n");
	assert_int_equal(config_job_count(c), 1);
	j = config_job_at(c, 0);
	assert_ptr_equal(config_job_find(c, "a"), j);
	assert_null(config_job_find(c, "b"));
	assert_string_equal(j->name, "a");
	assert_true(j->interval_ns == 60 * SEC);
	assert_int_equal(j->timeout_set, 0);
	assert_string_equal(j->http.scheme, "http");
	assert_int_equal(j->http.follow_redirects, 1);
	assert_string_equal(j->http.path_prefix, "");
	assert_int_equal(j->http.basic_auth, 0);
	assert_null(j->http.bearer_token);
	assert_int_equal(j->nprofiles, 8);
	/* seven types on, trace off; one pair per enabled type */
	assert_int_equal(j->ntargets, 7);
	for (size_t i = 0; i < PF_ARRAY_LEN(on); i++) {
		assert_true(profile(j, on[i])->enabled);
		assert_non_null(target(j->targets, j->ntargets, "h:6060", on[i]));
	}
	assert_false(profile(j, "trace")->enabled);
	assert_string_equal(profile(j, "trace")->path, "/debug/pprof/trace");
	assert_int_equal(profile(j, "trace")->seconds, 1);
	/* cpu: seconds 10, timeout max(60s, 15s) */
	t = target(j->targets, j->ntargets, "h:6060", "cpu");
	assert_string_equal(t->url, "http://h:6060/debug/pprof/profile?seconds=10");
	assert_int_equal(t->seconds, 10);
	assert_true(t->timeout_ns == 60 * SEC);
	assert_true(t->interval_ns == 60 * SEC);
	assert_labels(&t->labels, "instance=h:6060 job=a service=a type=cpu");
	t = target(j->targets, j->ntargets, "h:6060", "heap");
	assert_string_equal(t->url, "http://h:6060/debug/pprof/heap");
	assert_int_equal(t->seconds, 0);
	assert_true(t->timeout_ns == 60 * SEC);
	assert_string_equal(target(j->targets, j->ntargets, "h:6060", "allocs")->url, "http://h:6060/debug/pprof/allocs");
	assert_string_equal(target(j->targets, j->ntargets, "h:6060", "threadcreate")->url,
			    "http://h:6060/debug/pprof/threadcreate");
	assert_int_equal(config_warning_count(c), 0);
	config_free(c);
}

static void test_timeouts(void **state)
{
	struct config *c;
	const struct config_job *j;
	(void)state;
	/* default timeout per type: max(interval, seconds + 5s) */
	c = load_ok(JOB "    scrape_interval: 5s\n    profiling_config:\n      pprof_config:\n        trace: {}\n");
	j = config_job_at(c, 0);
	assert_true(profile(j, "cpu")->timeout_ns == 15 * SEC);
	assert_true(profile(j, "heap")->timeout_ns == 5 * SEC);
	assert_true(profile(j, "trace")->enabled);
	assert_int_equal(profile(j, "trace")->seconds, 1);
	assert_true(profile(j, "trace")->timeout_ns == 6 * SEC);
	config_free(c);
	/* an explicit timeout applies to every type */
	c = load_ok(JOB "    scrape_timeout: 20s\n");
	j = config_job_at(c, 0);
	assert_int_equal(j->timeout_set, 1);
	assert_true(profile(j, "cpu")->timeout_ns == 20 * SEC);
	assert_true(profile(j, "heap")->timeout_ns == 20 * SEC);
	assert_int_equal(config_warning_count(c), 0);
	config_free(c);
	/* an explicit timeout may exceed the interval */
	c = load_ok(JOB "    scrape_interval: 10s\n    scrape_timeout: 30s\n");
	assert_true(profile(config_job_at(c, 0), "heap")->timeout_ns == 30 * SEC);
	config_free(c);
	/* defaulted seconds: the type's timeout is raised, with a warning */
	c = load_ok(JOB "    scrape_timeout: 10s\n");
	j = config_job_at(c, 0);
	assert_true(profile(j, "cpu")->timeout_ns == 15 * SEC);
	assert_true(profile(j, "heap")->timeout_ns == 10 * SEC);
	assert_int_equal(config_warning_count(c), 1);
	assert_string_equal(config_warning_at(c, 0),
			    "t.yaml:3:21: job \"a\": scrape_timeout 10s is not longer than the default cpu seconds (10), "
			    "so cpu scrapes use a 15s timeout");
	assert_null(config_warning_at(c, 1));
	config_free(c);
	/* a global timeout is explicit for every job; warnings point at it */
	c = load_ok("global:\n  scrape_timeout: 5s\nscrape_configs:\n  - job_name: a\n  - job_name: b\n");
	assert_true(config_global_timeout(c) == 5 * SEC);
	assert_int_equal(config_warning_count(c), 2);
	assert_string_equal(config_warning_at(c, 1),
			    "t.yaml:2:19: job \"b\": scrape_timeout 5s is not longer than the default cpu seconds (10), "
			    "so cpu scrapes use a 15s timeout");
	assert_true(profile(config_job_at(c, 1), "goroutine")->timeout_ns == 5 * SEC);
	config_free(c);
	/* a job's interval and timeout win over global's */
	c = load_ok("global:\n  scrape_interval: 30s\n  scrape_timeout: 5s\n" JOB "    scrape_interval: 7s\n    scrape_timeout: 12s\n");
	j = config_job_at(c, 0);
	assert_true(j->interval_ns == 7 * SEC);
	assert_true(profile(j, "cpu")->timeout_ns == 12 * SEC);
	assert_int_equal(config_warning_count(c), 0);
	config_free(c);
	/* explicit seconds under a longer explicit timeout */
	c = load_ok(JOB "    scrape_timeout: 40s\n    static_configs: [{targets: ['h:1']}]\n"
		    "    profiling_config:\n      pprof_config:\n        cpu: {seconds: 30}\n");
	j = config_job_at(c, 0);
	assert_string_equal(target(j->targets, j->ntargets, "h:1", "cpu")->url, "http://h:1/debug/pprof/profile?seconds=30");
	assert_true(profile(j, "cpu")->timeout_ns == 40 * SEC);
	assert_int_equal(profile(j, "cpu")->seconds_set, 1);
	config_free(c);
	/* a disabled type is not checked */
	c = load_ok(JOB "    scrape_timeout: 1s\n    profiling_config:\n      pprof_config:\n        cpu: {enabled: false, seconds: 10}\n");
	assert_int_equal(config_warning_count(c), 0);
	config_free(c);
}

static void test_profile_types(void **state)
{
	struct config *c;
	const struct config_job *j;
	const struct config_target *t;
	(void)state;
	c = load_ok(STATIC "      - targets: ['h:1']\n    profiling_config:\n      pprof_config:\n"
		    "        profile: {path: /debug/profiles/cpu}\n"
		    "        heap: {path: /x}\n"
		    "        block: {enabled: false}\n"
		    "        mutex: {enabled: no}\n"
		    "        allocs: {delta: true}\n"
		    "        goroutine: {delta: true, seconds: 5}\n"
		    "        fgprof: {path: /debug/fgprof}\n"
		    "        cmdline: {enabled: false}\n");
	j = config_job_at(c, 0);
	/* profile is cpu; a listed type changes only what it sets */
	assert_string_equal(profile(j, "cpu")->key, "profile");
	assert_true(profile(j, "cpu")->enabled);
	t = target(j->targets, j->ntargets, "h:1", "cpu");
	assert_string_equal(t->url, "http://h:1/debug/profiles/cpu?seconds=10");
	assert_string_equal(target(j->targets, j->ntargets, "h:1", "heap")->url, "http://h:1/x");
	assert_null(target(j->targets, j->ntargets, "h:1", "block"));
	assert_string_equal(profile(j, "block")->path, "/debug/pprof/block");
	assert_null(target(j->targets, j->ntargets, "h:1", "mutex"));
	/* delta types take seconds (default 10) */
	assert_string_equal(target(j->targets, j->ntargets, "h:1", "allocs")->url, "http://h:1/debug/pprof/allocs?seconds=10");
	assert_int_equal(target(j->targets, j->ntargets, "h:1", "allocs")->seconds, 10);
	assert_string_equal(target(j->targets, j->ntargets, "h:1", "goroutine")->url,
			    "http://h:1/debug/pprof/goroutine?seconds=5");
	/* custom: on when listed, seconds 10 */
	t = target(j->targets, j->ntargets, "h:1", "fgprof");
	assert_non_null(t);
	assert_string_equal(t->url, "http://h:1/debug/fgprof?seconds=10");
	assert_labels(&t->labels, "instance=h:1 job=a service=a type=fgprof");
	assert_true(t->timeout_ns == 60 * SEC);
	assert_false(profile(j, "cmdline")->enabled);
	assert_null(target(j->targets, j->ntargets, "h:1", "cmdline"));
	assert_null(target(j->targets, j->ntargets, "h:1", "trace"));
	/* profiles are sorted by type; pairs follow that order per target */
	for (size_t i = 1; i < j->nprofiles; i++)
		assert_true(strcmp(j->profiles[i - 1].type, j->profiles[i].type) < 0);
	assert_int_equal(j->ntargets, 6); /* allocs cpu fgprof goroutine heap threadcreate */
	assert_string_equal(j->targets[0].type, "allocs");
	config_free(c);
}

static void test_labels_and_urls(void **state)
{
	struct config *c;
	const struct config_job *j;
	const struct config_target *t;
	(void)state;
	c = load_ok("global:\n  external_labels: {env: prod, cluster: eu}\n" STATIC
		    "      - targets: ['web-1.internal:6060']\n"
		    "        labels: {service: shop, env: dev, instance: web-1, empty: ''}\n"
		    "      - targets: ['h2:6060']\n"
		    "    params: {debug: ['1'], b: ['x y', 'z&']}\n"
		    "    profiling_config:\n      path_prefix: /app/\n");
	assert_labels(config_external_labels(c), "cluster=eu env=prod");
	j = config_job_at(c, 0);
	/* the target's labels win over external ones; service and instance may be set */
	t = target(j->targets, j->ntargets, "web-1.internal:6060", "cpu");
	assert_labels(&t->labels, "cluster=eu env=dev instance=web-1 job=a service=shop type=cpu");
	t = target(j->targets, j->ntargets, "h2:6060", "cpu");
	assert_labels(&t->labels, "cluster=eu env=prod instance=h2:6060 job=a service=a type=cpu");
	/* params sorted by name as url.Values.Encode, seconds among them, escaped */
	assert_string_equal(t->url, "http://h2:6060/app/debug/pprof/profile?b=x+y&b=z%26&debug=1&seconds=10");
	assert_string_equal(target(j->targets, j->ntargets, "h2:6060", "heap")->url,
			    "http://h2:6060/app/debug/pprof/heap?b=x+y&b=z%26&debug=1");
	assert_int_equal(j->http.nparams, 3);
	assert_string_equal(j->http.path_prefix, "/app");
	/* identity: distinct pairs, distinct hashes */
	assert_true(target(j->targets, j->ntargets, "h2:6060", "heap")->hash !=
		    target(j->targets, j->ntargets, "h2:6060", "cpu")->hash);
	config_free(c);

	/* a parameter after "seconds" */
	c = load_ok(STATIC "      - targets: ['h:1']\n    params: {zz: ['1']}\n");
	j = config_job_at(c, 0);
	assert_string_equal(target(j->targets, j->ntargets, "h:1", "cpu")->url, "http://h:1/debug/pprof/profile?seconds=10&zz=1");
	config_free(c);

	/* default ports from the scheme; IPv6 */
	c = load_ok(JOB "    scheme: https\n    static_configs: [{targets: ['h', '[::1]', '10.0.0.1:8443']}]\n");
	j = config_job_at(c, 0);
	assert_string_equal(target(j->targets, j->ntargets, "h:443", "heap")->url, "https://h:443/debug/pprof/heap");
	assert_string_equal(target(j->targets, j->ntargets, "[::1]:443", "heap")->url, "https://[::1]:443/debug/pprof/heap");
	assert_non_null(target(j->targets, j->ntargets, "10.0.0.1:8443", "heap"));
	assert_string_equal(j->static_groups[0].targets[0], "h"); /* as written */
	config_free(c);
	c = load_ok(STATIC "      - targets: ['h']\n");
	j = config_job_at(c, 0);
	assert_labels(&target(j->targets, j->ntargets, "h:80", "heap")->labels, "instance=h:80 job=a service=a type=heap");
	config_free(c);
}

static void test_http_settings(void **state)
{
	struct config *c;
	const struct config_http *h;
	char want[512];
	(void)state;
	c = load_ok(JOB "    basic_auth: {username: u, password_file: password.txt}\n"
		    "    tls_config:\n      ca_file: ca.pem\n      cert_file: client.pem\n      key_file: " "client.key\n"
		    "      server_name: app.internal\n      insecure_skip_verify: true\n"
		    "    proxy_url: http://proxy:3128\n    follow_redirects: false\n");
	h = &config_job_at(c, 0)->http;
	assert_int_equal(h->basic_auth, 1);
	assert_string_equal(h->basic_auth_username, "u");
	assert_null(h->basic_auth_password);
	snprintf(want, sizeof(want), "%s/password.txt", tmp);
	assert_string_equal(h->basic_auth_password_file, want);
	snprintf(want, sizeof(want), "%s/ca.pem", tmp);
	assert_string_equal(h->tls.ca_file, want);
	snprintf(want, sizeof(want), "%s/client.key", tmp);
	assert_string_equal(h->tls.key_file, want);
	assert_string_equal(h->tls.server_name, "app.internal");
	assert_int_equal(h->tls.insecure_skip_verify, 1);
	assert_string_equal(h->proxy_url, "http://proxy:3128");
	assert_int_equal(h->follow_redirects, 0);
	config_free(c);
	c = load_ok(JOB "    bearer_token_file: token.txt\n");
	snprintf(want, sizeof(want), "%s/token.txt", tmp);
	assert_string_equal(config_job_at(c, 0)->http.bearer_token_file, want);
	config_free(c);
	c = load_ok(JOB "    bearer_token: s3cret\n");
	assert_string_equal(config_job_at(c, 0)->http.bearer_token, "s3cret");
	config_free(c);
}

static void test_yaml_forms(void **state)
{
	struct config *c;
	const struct config_job *j;
	(void)state;
	/* anchors and aliases, YAML 1.1 booleans, nulls, quoted strings */
	c = load_ok("scrape_configs:\n"
		    "  - job_name: \"a\"\n    static_configs:\n      - targets: &t ['h:1', \"h:2\"]\n"
		    "        labels: {port: 8080}\n"
		    "    params:\n    profiling_config:\n      pprof_config:\n        heap: {enabled: off}\n"
		    "  - job_name: 123\n    static_configs:\n      - targets: *t\n");
	assert_int_equal(config_job_count(c), 2);
	j = config_job_at(c, 0);
	assert_false(profile(j, "heap")->enabled);
	assert_string_equal(j->static_groups[0].labels.v[0].value, "8080");
	j = config_job_at(c, 1);
	assert_string_equal(j->name, "123");
	assert_int_equal(j->static_groups[0].ntargets, 2);
	config_free(c);
}

/* ---- conprof's files ------------------------------------------------------ */

static void test_conprof_example(void **state)
{
	struct config *c = NULL;
	struct pf_err err = {0};
	const struct config_job *j;
	const struct config_target *t;
	(void)state;
	assert_int_equal(config_load_file(FIX "conprof.yaml", &c, &err), 0);
	assert_string_equal(config_file(c), FIX "conprof.yaml");
	assert_int_equal(config_job_count(c), 1);
	j = config_job_at(c, 0);
	assert_string_equal(j->name, "conprof");
	assert_true(j->interval_ns == 1 * SEC);
	assert_true(j->timeout_ns == 1 * SEC);
	assert_int_equal(j->ntargets, 7);
	t = target(j->targets, j->ntargets, "localhost:8080", "cpu");
	assert_string_equal(t->url, "http://localhost:8080/debug/pprof/profile?seconds=10");
	assert_true(t->timeout_ns == 15 * SEC);
	assert_true(target(j->targets, j->ntargets, "localhost:8080", "heap")->timeout_ns == 1 * SEC);
	assert_int_equal(config_warning_count(c), 1);
	assert_string_equal(config_warning_at(c, 0),
			    FIX "conprof.yaml:4:19: job \"conprof\": scrape_timeout 1s is not longer than the default cpu "
			    "seconds (10), so cpu scrapes use a 15s timeout");
	config_free(c);

	assert_int_equal(config_load_file(FIX "conprof-pprof-config.yaml", &c, &err), 0);
	j = config_job_at(c, 0);
	assert_int_equal(j->ntargets, 1);
	assert_string_equal(j->targets[0].type, "allocs");
	assert_string_equal(j->targets[0].url, "http://localhost:8080/debug/pprof/allocs");
	assert_labels(&j->targets[0].labels, "instance=localhost:8080 job=conprof service=conprof type=allocs");
	assert_false(profile(j, "cpu")->enabled);
	assert_string_equal(profile(j, "cpu")->key, "profile");
	assert_int_equal(config_warning_count(c), 0);
	config_free(c);
}

static void test_shipped_configs(void **state)
{
	struct config *c = NULL;
	struct pf_err err = {0};
	const struct config_job *j;
	(void)state;
	if (config_load_file("examples/profefe.yaml", &c, &err) < 0)
		print_error("%s\n", err.msg);
	assert_non_null(c);
	assert_int_equal(config_warning_count(c), 0);
	j = config_job_find(c, "hotapp");
	assert_non_null(j);
	assert_true(j->interval_ns == 10 * SEC);
	assert_non_null(target(j->targets, j->ntargets, "127.0.0.1:6060", "cpu"));
	assert_labels(&target(j->targets, j->ntargets, "127.0.0.1:6060", "heap")->labels,
		      "env=demo instance=127.0.0.1:6060 job=hotapp service=hotapp team=checkout type=heap");
	config_free(c);
	c = NULL;
	if (config_load_file("config/profefe.yaml", &c, &err) < 0)
		print_error("%s\n", err.msg);
	assert_non_null(c);
	assert_int_equal(config_warning_count(c), 0);
	j = config_job_at(c, 0);
	assert_int_equal(j->nfile_sd, 1);
	assert_string_equal(j->file_sd[0].files[0], "config/targets/*.json");
	config_free(c);
	/* "a commented default with every key" (README): each key the loader
	 * takes appears in it, as "key:" */
	{
		static const char *const keys[] = {
			"global", "scrape_interval", "scrape_timeout", "external_labels", "scrape_configs",
			"job_name", "scheme", "params", "basic_auth", "username", "password",
			"password_file", "bearer_token", "bearer_token_file", "tls_config", "ca_file",
			"cert_file", "key_file", "server_name", "insecure_skip_verify", "proxy_url",
			"follow_redirects", "static_configs", "targets", "labels", "file_sd_configs",
			"files", "refresh_interval", "profiling_config", "path_prefix", "pprof_config",
			"enabled", "path", "seconds", "delta"};
		FILE *f = fopen("config/profefe.yaml", "r");
		char *text = pf_xcalloc(1, 1 << 16), want[64];
		size_t n;
		assert_non_null(f);
		n = fread(text, 1, (1 << 16) - 1, f);
		fclose(f);
		text[n] = 0;
		for (size_t i = 0; i < PF_ARRAY_LEN(keys); i++) {
			snprintf(want, sizeof(want), "%s:", keys[i]);
			if (!strstr(text, want))
				fail_msg("config/profefe.yaml does not show the key %s", keys[i]);
		}
		free(text);
	}
}

/* ---- file_sd -------------------------------------------------------------- */

static void test_file_sd(void **state)
{
	struct config *c;
	const struct config_job *j;
	struct config_sd_groups *g = NULL;
	struct config_targets *ts = NULL;
	struct pf_err err = {0};
	const struct config_target *t;
	char path[512];
	(void)state;
	snprintf(path, sizeof(path), "%s/sd", tmp);
	mkdir(path, 0755);
	write_file("sd/a.json", "[\n  {\"targets\": [\"10.0.0.1:6060\", \"10.0.0.2:6060\"],\n"
		   "   \"labels\": {\"service\": \"shop\", \"env\": \"prod\"}},\n  {\"targets\": [\"10.0.0.3:6060\"]}\n]\n");
	write_file("sd/b.yaml", "- targets: ['10.0.0.4:6060', 'h:1']\n  labels: {zone: b}\n");
	write_file("sd/c.txt", "not a target file\n");
	c = load_ok(STATIC "      - targets: ['h:1']\n        labels: {zone: b}\n"
		    "    file_sd_configs:\n      - files: ['sd/*.json', 'sd/*.yaml', 'sd/*.yml', 'sd/a.json']\n"
		    "        refresh_interval: 30s\n");
	j = config_job_at(c, 0);
	assert_int_equal(j->nfile_sd, 1);
	assert_int_equal(j->file_sd[0].nfiles, 4);
	assert_true(j->file_sd[0].refresh_interval_ns == 30 * SEC);
	snprintf(path, sizeof(path), "%s/sd/*.json", tmp);
	assert_string_equal(j->file_sd[0].files[0], path);
	assert_int_equal(config_sd_read(&j->file_sd[0], &g, &err), 0);
	assert_int_equal(config_sd_files_count(g), 2); /* a.json once, b.yaml */
	assert_int_equal(config_sd_groups_count(g), 3);
	assert_int_equal(config_sd_groups_at(g, 0)->ntargets, 2);
	assert_labels(&config_sd_groups_at(g, 0)->labels, "env=prod service=shop");
	snprintf(path, sizeof(path), "%s/sd/a.json:2:3", tmp);
	assert_string_equal(config_sd_groups_at(g, 0)->source, path);
	assert_null(config_sd_groups_at(g, 3));
	/* static + file_sd; h:1 with the same labels in both is listed once */
	{
		const struct config_sd_groups *sets[] = {g};
		assert_int_equal(config_targets_resolve(c, j, sets, 1, &ts, &err), 0);
	}
	assert_int_equal(config_targets_count(ts), 5 * 7);
	t = NULL;
	for (size_t i = 0; i < config_targets_count(ts); i++) {
		const struct config_target *x = config_targets_at(ts, i);
		if (!strcmp(x->address, "10.0.0.1:6060") && !strcmp(x->type, "cpu"))
			t = x;
	}
	assert_non_null(t);
	assert_labels(&t->labels, "env=prod instance=10.0.0.1:6060 job=a service=shop type=cpu");
	assert_string_equal(t->url, "http://10.0.0.1:6060/debug/pprof/profile?seconds=10");
	/* the static pairs resolve equal to the snapshot's own */
	assert_true(config_target_equal(config_targets_at(ts, 0), &j->targets[0]));
	assert_false(config_target_equal(config_targets_at(ts, 0), &j->targets[1]));
	config_targets_free(ts);
	config_sd_groups_free(g);
	/* static only */
	assert_int_equal(config_targets_resolve(c, j, NULL, 0, &ts, &err), 0);
	assert_int_equal(config_targets_count(ts), 7);
	assert_null(config_targets_at(ts, 7));
	config_targets_free(ts);
	config_free(c);

	/* one file; an empty YAML file; a pattern that matches nothing */
	snprintf(path, sizeof(path), "%s/sd/b.yaml", tmp);
	assert_int_equal(config_sd_read_file(path, &g, &err), 0);
	assert_int_equal(config_sd_groups_count(g), 1);
	assert_string_equal(config_sd_file_at(g, 0), path);
	config_sd_groups_free(g);
	write_file("empty.yaml", "");
	snprintf(path, sizeof(path), "%s/empty.yaml", tmp);
	assert_int_equal(config_sd_read_file(path, &g, &err), 0);
	assert_int_equal(config_sd_groups_count(g), 0);
	config_sd_groups_free(g);
	{
		char pat[512];
		const char *files[] = {pat};
		struct config_file_sd sd = {files, 1, SEC};
		snprintf(pat, sizeof(pat), "%s/none/*.json", tmp);
		assert_int_equal(config_sd_read(&sd, &g, &err), 0);
		assert_int_equal(config_sd_groups_count(g), 0);
		assert_int_equal(config_sd_files_count(g), 0);
		config_sd_groups_free(g);
	}
}

static void expect_sd_err(const char *name, const char *text, const char *why)
{
	struct config_sd_groups *g = NULL;
	struct pf_err err = {0};
	char path[512], want[1024];
	write_file(name, text);
	snprintf(path, sizeof(path), "%s/%s", tmp, name);
	snprintf(want, sizeof(want), "%s/%s%s", tmp, name, why);
	assert_true(config_sd_read_file(path, &g, &err) < 0);
	assert_null(g);
	if (strcmp(err.msg, want) != 0)
		print_error("got  %s\nwant %s\n", err.msg, want);
	assert_string_equal(err.msg, want);
}

static void test_file_sd_errors(void **state)
{
	struct config_sd_groups *g = NULL;
	struct pf_err err = {0};
	char path[512], want[600];
	(void)state;
	/* JSON syntax, from jansson */
	expect_sd_err("s1.json", "[\n  {\"targets\": [\"a:1\", ]}\n]", ":2:23: invalid JSON: unexpected token near ']'");
	expect_sd_err("s2.json", "", ":1:1: invalid JSON: '[' or '{' expected near end of file");
	expect_sd_err("s3.json", "[{\"targets\": [\"a:1\"], \"targets\": []}]",
		      ":1:23: invalid JSON: duplicate object key near '\"targets\"'");
	/* JSON content, at the exact node */
	expect_sd_err("c1.json", "[\n  {\"targets\": [\"a:1\", \"http://b:1\"]}\n]",
		      ":2:23: target \"http://b:1\" must be host:port without a scheme (set the job's scheme: https instead)");
	expect_sd_err("c2.json", "[{\"targets\": [\"a:1\"], \"labels\": {\"bad-name\": \"x\"}}]",
		      ":1:34: labels: label name \"bad-name\" is not valid (want [a-zA-Z_][a-zA-Z0-9_]*)");
	expect_sd_err("c3.json", "[{\"target\": [\"a:1\"]}]",
		      ":1:3: unknown key \"target\" in a target file (known: targets, labels)");
	expect_sd_err("c4.json", "{\"targets\": []}", ":1:1: a target file must be a list, not a mapping");
	/* columns count characters, not bytes */
	expect_sd_err("c5.json", "[{\"labels\": {\"a\": \"\xc3\xa9\"}, \"targets\": [\"x y\"]}]",
		      ":1:37: target \"x y\" has a character a host name cannot have");
	expect_sd_err("c6.json", "[{\"targets\": [\"a:1\"], \"labels\": {\"a\": \"b\\u0000c\"}}]",
		      ":1:39: a string holds a NUL character");
	/* YAML */
	expect_sd_err("y1.yaml", "- targets: ['a:1']\n  labels: {job: x}\n",
		      ":2:12: labels: label \"job\" is set by profefe (job from job_name, type per profile type)");
	expect_sd_err("y2.yaml", "- targets: ['a:1']\n- targets: ['a:1']\n", ":2:13: target \"a:1\" is repeated in this file");
	expect_sd_err("y3.yml", "- targets: ['a:1'\n", ":2:1: invalid YAML: did not find expected ',' or ']' "
		      "(while parsing a flow sequence at line 1 column 12)");
	/* unreadable */
	snprintf(path, sizeof(path), "%s/nope.json", tmp);
	snprintf(want, sizeof(want), "open %s: No such file or directory", path);
	assert_int_equal(config_sd_read_file(path, &g, &err), PF_EIO);
	assert_string_equal(err.msg, want);
}

/* ---- durations, printing, references ------------------------------------ */

static void test_durations(void **state)
{
	static const struct {
		const char *s;
		int64_t ms;
	} good[] = {
		{"0", 0}, {"15s", 15000}, {"1m30s", 90000}, {"2h", 7200000}, {"15d", 15LL * 86400000},
		{"1w", 7LL * 86400000}, {"1y", 365LL * 86400000}, {"500ms", 500}, {"1h30m15s100ms", 5415100},
		{"0s", 0}, {"90m", 5400000},
	};
	static const char *const bad[] = {"", "15", "1.5s", "30s1m", "1s1s", "-1s", "1x", "s", "1h 30m", " 1s",
					  "99999999999999999999s", "106751991167d", "1ms1s"};
	static const struct {
		int64_t ms;
		const char *s;
	} fmt[] = {
		{0, "0s"}, {90000, "1m30s"}, {86400000, "1d"}, {7LL * 86400000, "1w"}, {8LL * 86400000, "8d"},
		{365LL * 86400000, "1y"}, {1500, "1s500ms"}, {3600000 + 1, "1h1ms"}, {14LL * 86400000, "2w"},
	};
	char buf[64];
	int64_t ns;
	(void)state;
	for (size_t i = 0; i < PF_ARRAY_LEN(good); i++) {
		ns = -1;
		assert_int_equal(pf_parse_duration(good[i].s, &ns), 0);
		assert_true(ns == good[i].ms * 1000000);
	}
	for (size_t i = 0; i < PF_ARRAY_LEN(bad); i++) {
		if (pf_parse_duration(bad[i], &ns) == 0)
			print_error("accepted \"%s\"\n", bad[i]);
		assert_int_equal(pf_parse_duration(bad[i], &ns), PF_EINVAL);
	}
	for (size_t i = 0; i < PF_ARRAY_LEN(fmt); i++) {
		config_format_duration(fmt[i].ms * 1000000, buf, sizeof(buf));
		assert_string_equal(buf, fmt[i].s);
		assert_int_equal(pf_parse_duration(buf, &ns), 0);
		assert_true(ns == fmt[i].ms * 1000000);
	}
}

static void test_print_roundtrip(void **state)
{
	static const char yaml[] =
		"global:\n  scrape_interval: 30s\n  scrape_timeout: 20s\n  external_labels: {cluster: eu1, null_ish: 'null'}\n"
		"scrape_configs:\n"
		"  - job_name: shop\n    scrape_interval: 15s\n    scheme: https\n"
		"    params: {debug: ['0'], x: ['a b', 'true']}\n"
		"    bearer_token_file: token.txt\n"
		"    tls_config: {ca_file: ca.pem, server_name: shop.internal}\n"
		"    static_configs:\n      - targets: ['app-1:6060', 'app-2:6060']\n        labels: {service: shop, env: '123'}\n"
		"    file_sd_configs:\n      - files: ['sd/*.json']\n"
		"    profiling_config:\n      path_prefix: /internal\n      pprof_config:\n"
		"        profile: {seconds: 15}\n        trace: {enabled: true}\n        fgprof: {path: /debug/fgprof, delta: true}\n"
		"  - job_name: conprof\n    scrape_interval: 1s\n    scrape_timeout: 1s\n"
		"    static_configs: [{targets: ['localhost:8080']}]\n";
	struct config *c = load_ok(yaml), *c2;
	struct pf_buf out = PF_BUF_INIT(0), out2 = PF_BUF_INIT(0);
	struct pf_err err = {0};
	(void)state;
	assert_int_equal(config_print_yaml(c, &out, &err), 0);
	assert_non_null(has(&out, "bearer_token_file: "));
	assert_non_null(has(&out, "null_ish: \"null\""));
	assert_non_null(has(&out, "env: \"123\""));
	assert_non_null(has(&out, "cpu: {enabled: true, path: /debug/pprof/profile, seconds: 15}"));
	assert_non_null(has(&out, "path_prefix: /internal"));
	assert_int_equal(config_load_buffer("printed.yaml", NULL, out.data, out.len, &c2, &err), 0);
	assert_int_equal(config_print_yaml(c2, &out2, &err), 0);
	assert_int_equal(out.len, out2.len);
	assert_memory_equal(out.data, out2.data, out.len);
	/* the same work, pair by pair */
	assert_int_equal(config_job_count(c2), 2);
	for (size_t jn = 0; jn < 2; jn++) {
		const struct config_job *a = config_job_at(c, jn), *b = config_job_at(c2, jn);
		assert_int_equal(a->ntargets, b->ntargets);
		for (size_t i = 0; i < a->ntargets; i++)
			assert_true(config_target_equal(&a->targets[i], &b->targets[i]));
	}
	/* the same warnings, from the printed file */
	assert_int_equal(config_warning_count(c2), config_warning_count(c));
	config_free(c2);
	config_free(c);
	pf_buf_free(&out);
	pf_buf_free(&out2);

	/* secrets are masked */
	c = load_ok(JOB "    basic_auth: {username: u, password: hunter2}\n");
	pf_buf_reset(&out);
	assert_int_equal(config_print_yaml(c, &out, &err), 0);
	assert_null(has(&out, "hunter2"));
	assert_non_null(has(&out, "password: <secret>"));
	config_free(c);
	c = load_ok(JOB "    bearer_token: hunter2\n");
	pf_buf_reset(&out);
	assert_int_equal(config_print_yaml(c, &out, &err), 0);
	assert_null(has(&out, "hunter2"));
	assert_non_null(has(&out, "bearer_token: <secret>"));
	config_free(c);
	pf_buf_free(&out);
}

static void test_refcount(void **state)
{
	struct config *c = load_ok(STATIC "      - targets: ['h:1']\n");
	(void)state;
	assert_ptr_equal(config_ref(c), c);
	config_free(c);
	/* still alive */
	assert_string_equal(config_job_at(c, 0)->targets[0].address, "h:1");
	assert_null(config_job_at(c, 1));
	config_free(c);
	config_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_err_unknown_keys),
		cmocka_unit_test(test_err_types),
		cmocka_unit_test(test_err_yaml_syntax),
		cmocka_unit_test(test_err_durations),
		cmocka_unit_test(test_err_jobs),
		cmocka_unit_test(test_err_targets),
		cmocka_unit_test(test_err_labels),
		cmocka_unit_test(test_err_profiles),
		cmocka_unit_test(test_err_auth_tls_files),
		cmocka_unit_test(test_err_files),
		cmocka_unit_test(test_empty_config),
		cmocka_unit_test(test_job_defaults),
		cmocka_unit_test(test_timeouts),
		cmocka_unit_test(test_profile_types),
		cmocka_unit_test(test_labels_and_urls),
		cmocka_unit_test(test_http_settings),
		cmocka_unit_test(test_yaml_forms),
		cmocka_unit_test(test_conprof_example),
		cmocka_unit_test(test_shipped_configs),
		cmocka_unit_test(test_file_sd),
		cmocka_unit_test(test_file_sd_errors),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_print_roundtrip),
		cmocka_unit_test(test_refcount),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
