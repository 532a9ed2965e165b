/*
 * profefe: flags, wiring of the store, the scraper and the HTTP server,
 * signals and the shutdown order (stop accepting, finish in-flight
 * requests, stop scraping and finish scrapes in flight, close the store,
 * exit 0).
 */
#include "api/api.h"
#include "base/base.h"
#include "bundle/bundle.h"
#include "config/config.h"
#include "import/import.h"
#include "scrape/scrape.h"
#include "store/store.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>

#ifndef PF_VERSION
#define PF_VERSION "unknown"
#endif
#ifndef PF_COMMIT
#define PF_COMMIT "unknown"
#endif
#ifndef PF_BUILD_TIME
#define PF_BUILD_TIME "unknown"
#endif

/* ---- flags, in Go's flag style ---- */

struct flags {
	const char *addr;
	const char *config_file;
	const char *storage_type;
	const char *clickhouse_dsn;
	const char *scrape_shard;
	const char *clickhouse_queue_size;
	const char *clickhouse_timeout;
	const char *tsdb_dir;
	const char *tsdb_retention;
	const char *tsdb_block_duration;
	const char *tsdb_retention_size;
	const char *tsdb_max_future;
	const char *max_body_size;
	const char *max_profile_size;
	const char *max_inflight_decompressed;
	const char *query_max_profiles;
	const char *query_timeout;
	const char *web_auth_token_file;
	const char *web_threads;
	const char *web_max_connections;
	const char *web_max_connections_per_ip;
	const char *web_read_header_timeout;
	const char *web_read_timeout;
	const char *web_tls_cert_file;
	const char *web_tls_key_file;
	const char *log_level;
	const char *log_format;
	int version;
	int help;
};

/* is_bool: 0 a string, 1 a boolean, 2 a string that may repeat (a
 * struct flag_list) */
struct flag_def {
	const char *name;
	int is_bool;
	size_t off;
	const char *def;
	const char *usage;
};

#define F(field) offsetof(struct flags, field)
static const struct flag_def flag_defs[] = {
	{"addr", 0, F(addr), ":10100", "HTTP listen address"},
	{"config.file", 0, F(config_file), "", "scrape configuration (YAML); without it the server only accepts pushes"},
	{"storage-type", 0, F(storage_type), "tsdb", "storage: tsdb (the embedded store) or clickhouse (a shared ClickHouse, -clickhouse.dsn)"},
	{"scrape.shard", 0, F(scrape_shard), "", "I/N: scrape only the targets whose label hash falls to shard I (0..N-1) of N; N servers sharing one config split the targets"},
	{"clickhouse.dsn", 0, F(clickhouse_dsn), "", "with -storage-type=clickhouse: http://host:8123/?database=NAME[&user=U&password=P]"},
	{"clickhouse.queue-size", 0, F(clickhouse_queue_size), "1024", "profiles waiting for the ClickHouse writer; past it a push gets 503 and a scrape a store_error"},
	{"clickhouse.timeout", 0, F(clickhouse_timeout), "30s", "bound on one ClickHouse query or insert"},
	{"tsdb.dir", 0, F(tsdb_dir), "./data", "directory of the embedded store"},
	{"tsdb.retention", 0, F(tsdb_retention), "360h", "keep profiles this long (15d, 36h, 90m; 0 = forever)"},
	{"tsdb.block-duration", 0, F(tsdb_block_duration), "2h", "span of one block of the embedded store"},
	{"tsdb.retention-size", 0, F(tsdb_retention_size), "0", "cap on the store's bytes, WAL included (0 = none; 10GB)"},
	{"tsdb.max-future", 0, F(tsdb_max_future), "10m", "refuse profiles dated more than this after the server's clock (0 = no limit)"},
	{"max-body-size", 0, F(max_body_size), "64MB", "largest request body; larger gets 413"},
	{"max-profile-size", 0, F(max_profile_size), "512MB", "largest decompressed profile"},
	{"max-inflight-decompressed", 0, F(max_inflight_decompressed), "512MB", "decompressed bytes in flight across all pushes and scrapes; past it a request waits briefly, then gets 503"},
	{"query.max-profiles", 0, F(query_max_profiles), "1000000", "profiles one find or merge may read; over it a 400 names the count and the cap (0 = no cap)"},
	{"query.timeout", 0, F(query_timeout), "2m", "a find or merge running longer is stopped with a 503 (0 = no limit)"},
	{"web.auth-token-file", 0, F(web_auth_token_file), "", "when set, every request but /-/healthy and a GET or HEAD of the web UI's files needs Authorization: Bearer <the file's token>"},
	{"web.threads", 0, F(web_threads), "64", "HTTP worker threads; a push holds one until its fsync, a query until it is answered"},
	{"web.max-connections", 0, F(web_max_connections), "0", "open HTTP connections at most (0 = what the open-file limit allows)"},
	{"web.max-connections-per-ip", 0, F(web_max_connections_per_ip), "1024", "open HTTP connections at most from one client address (0 = no limit)"},
	{"web.read-header-timeout", 0, F(web_read_header_timeout), "10s", "time a connection has to send a request's headers (from its start or its previous reply)"},
	{"web.read-timeout", 0, F(web_read_timeout), "60s", "inactivity allowed once a request's headers are in (body, reply)"},
	{"web.tls-cert-file", 0, F(web_tls_cert_file), "", "PEM certificate (chain): serve HTTPS; needs -web.tls-key-file"},
	{"web.tls-key-file", 0, F(web_tls_key_file), "", "PEM private key of -web.tls-cert-file"},
	{"log.level", 0, F(log_level), "info", "debug, info, warn or error"},
	{"log.format", 0, F(log_format), "logfmt", "logfmt or json (to stderr)"},
	{"version", 1, F(version), NULL, "print version, commit and build time, then exit"},
	{"help", 1, F(help), NULL, "print the flags with their defaults, then exit"},
};
#undef F

/* ---- `profefe import` flags ---- */

struct flag_list {
	const char **v;
	size_t n, cap;
};

struct import_flags {
	const char *addr;
	const char *tsdb_dir;
	const char *tsdb_retention;
	const char *tsdb_max_future;
	const char *service;
	const char *type;
	struct flag_list label;
	const char *parallel;
	const char *auth_token_file;
	int help;
};

#define F(field) offsetof(struct import_flags, field)
static const struct flag_def import_flag_defs[] = {
	{"addr", 0, F(addr), "", "the server to send to: http://host:port (default http://127.0.0.1:10100 when -tsdb.dir is not set)"},
	{"tsdb.dir", 0, F(tsdb_dir), "", "store the profiles into this store directory instead, which no server may be using"},
	{"tsdb.retention", 0, F(tsdb_retention), "360h", "with -tsdb.dir: the server's -tsdb.retention (older profiles are skipped; 0 = forever)"},
	{"tsdb.max-future", 0, F(tsdb_max_future), "10m", "with -tsdb.dir: the server's -tsdb.max-future (0 = no limit)"},
	{"service", 0, F(service), "", "the service label of every profile (bundles: default from their meta; pprof files and traces need it)"},
	{"type", 0, F(type), "", "the type of every pprof file (default: inferred from its sample types; block and mutex from the file name)"},
	{"label", 2, F(label), "", "name=value: a label added to every profile (repeat for more)"},
	{"parallel", 0, F(parallel), "8", "requests in flight with -addr"},
	{"auth-token-file", 0, F(auth_token_file), "", "send Authorization: Bearer with the file's token (the server's -web.auth-token-file)"},
	{"help", 1, F(help), NULL, "print these flags with their defaults, then exit"},
};
#undef F

static void usage_of(FILE *f, const char *head, const struct flag_def *defs, size_t ndefs)
{
	fprintf(f, "%s", head);
	for (size_t i = 0; i < ndefs; i++) {
		const struct flag_def *d = &defs[i];
		if (d->is_bool == 1)
			fprintf(f, "  -%s\n    \t%s\n", d->name, d->usage);
		else if (!*d->def)
			fprintf(f, "  -%s string\n    \t%s\n", d->name, d->usage);
		else
			fprintf(f, "  -%s string\n    \t%s (default \"%s\")\n", d->name, d->usage, d->def);
	}
}

static void usage(FILE *f)
{
	usage_of(f, "Usage: profefe [flags]\n       profefe import [flags] FILE|DIR...\n\nFlags:\n",
		 flag_defs, PF_ARRAY_LEN(flag_defs));
}

static void import_usage(FILE *f)
{
	usage_of(f, "Usage: profefe import [flags] FILE|DIR...\n\n"
		    "Sends pprof files, Go execution traces and autoprof bundles (directories are walked)\n"
		    "to a server, or stores them into a store directory.\n\nFlags:\n",
		 import_flag_defs, PF_ARRAY_LEN(import_flag_defs));
}

/*
 * Flags of defs into the struct at fl, from argv[first..argc). With args
 * set, the other arguments are collected there ("--" ends the flags);
 * without, one is an error. Returns 0, or 2 (Go's exit code for a flag
 * error) after printing why.
 */
static int parse_flags_of(const struct flag_def *defs, size_t ndefs, void (*use)(FILE *),
			  int argc, char **argv, int first, void *fl, struct flag_list *args)
{
	int flags_done = 0;

	for (size_t i = 0; i < ndefs; i++)
		if (!defs[i].is_bool)
			*(const char **)((char *)fl + defs[i].off) = defs[i].def;
	for (size_t i = 0; i < ndefs; i++)
		if (defs[i].is_bool == 2)
			memset((char *)fl + defs[i].off, 0, sizeof(struct flag_list));
	for (int i = first; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		const struct flag_def *d = NULL;
		size_t nlen;

		if (args && !flags_done && strcmp(a, "--") == 0) {
			flags_done = 1;
			continue;
		}
		if (args && (flags_done || a[0] != '-' || a[1] == 0)) {
			pf_xgrow((void **)&args->v, &args->cap, args->n + 1, sizeof(*args->v));
			args->v[args->n++] = a;
			continue;
		}
		if (a[0] != '-' || a[1] == 0) {
			fprintf(stderr, "profefe: unexpected argument %s\n", a);
			use(stderr);
			return 2;
		}
		a += a[1] == '-' ? 2 : 1;
		if (strcmp(a, "h") == 0)
			a = "help";
		nlen = strcspn(a, "=");
		if (a[nlen] == '=')
			val = a + nlen + 1;
		for (size_t k = 0; k < ndefs; k++)
			if (strlen(defs[k].name) == nlen && strncmp(defs[k].name, a, nlen) == 0)
				d = &defs[k];
		if (!d) {
			fprintf(stderr, "profefe: flag provided but not defined: -%.*s\n", (int)nlen, a);
			use(stderr);
			return 2;
		}
		if (d->is_bool == 1) {
			int v = 1;
			if (val) {
				if (strcmp(val, "true") == 0 || strcmp(val, "1") == 0)
					v = 1;
				else if (strcmp(val, "false") == 0 || strcmp(val, "0") == 0)
					v = 0;
				else {
					fprintf(stderr, "profefe: invalid boolean value %s for -%s\n", val, d->name);
					return 2;
				}
			}
			*(int *)((char *)fl + d->off) = v;
			continue;
		}
		if (!val) {
			if (i + 1 >= argc) {
				fprintf(stderr, "profefe: flag needs an argument: -%s\n", d->name);
				use(stderr);
				return 2;
			}
			val = argv[++i];
		}
		if (d->is_bool == 2) {
			struct flag_list *l = (struct flag_list *)((char *)fl + d->off);
			pf_xgrow((void **)&l->v, &l->cap, l->n + 1, sizeof(*l->v));
			l->v[l->n++] = val;
			continue;
		}
		*(const char **)((char *)fl + d->off) = val;
	}
	return 0;
}

static int parse_flags(int argc, char **argv, struct flags *fl)
{
	return parse_flags_of(flag_defs, PF_ARRAY_LEN(flag_defs), usage, argc, argv, 1, fl, NULL);
}

/* ---- the running process ---- */

struct pf_app {
	uv_loop_t loop;
	uv_signal_t sigterm, sigint, sighup;
	struct store *db;
	struct api_server *api;
	struct scrape *scrape;   /* owns the running configuration */
	int stopping;
};

static void on_stop_signal(uv_signal_t *h, int signum)
{
	struct pf_app *app = h->data;
	if (app->stopping)
		return;
	app->stopping = 1;
	pf_log(PF_LOG_INFO, "stopping", "signal", signum == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
	uv_stop(&app->loop);
}

/* SIGHUP: re-read -config.file (a broken file changes nothing; the
 * scraper logs and counts either outcome). */
static void on_sighup(uv_signal_t *h, int signum)
{
	struct pf_app *app = h->data;
	struct pf_err err = {0};

	(void)signum;
	scrape_reload(app->scrape, &err);
}

static void close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static int size_flag(const char *name, const char *v, size_t *out)
{
	uint64_t b;
	if (pf_parse_size(v, &b) < 0 || b == 0 || b > SIZE_MAX) {
		fprintf(stderr, "profefe: invalid value \"%s\" for -%s: want a size like 64MB\n", v, name);
		return -1;
	}
	*out = (size_t)b;
	return 0;
}

static int uint_flag(const char *name, const char *v, unsigned min, unsigned max, unsigned *out)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (!*v || *end || errno || n < min || n > max || *v == '-') {
		fprintf(stderr, "profefe: invalid value \"%s\" for -%s: want a whole number from %u to %u\n",
			v, name, min, max);
		return -1;
	}
	*out = (unsigned)n;
	return 0;
}

static int timeout_flag(const char *name, const char *v, int64_t *out)
{
	if (pf_parse_duration(v, out) < 0 || *out < 1000000000 || *out > 86400 * (int64_t)1000000000) {
		fprintf(stderr, "profefe: invalid value \"%s\" for -%s: want a duration from 1s to 1d, such as 10s\n",
			v, name);
		return -1;
	}
	return 0;
}

/* -query.timeout: a Prometheus duration (2m, 30s, 500ms; 0 = none), or
 * whole nanoseconds as "Nns" (tests: a deadline that has always passed). */
static int query_timeout_flag(const char *v, int64_t *out)
{
	size_t n = strlen(v);
	char *end;

	if (n > 2 && strcmp(v + n - 2, "ns") == 0 && v[0] >= '0' && v[0] <= '9') {
		unsigned long long x;
		errno = 0;
		x = strtoull(v, &end, 10);
		if (!errno && end == v + n - 2 && x <= (unsigned long long)INT64_MAX) {
			*out = (int64_t)x;
			return 0;
		}
	} else if (pf_parse_duration(v, out) == 0) {
		return 0;
	}
	fprintf(stderr, "profefe: invalid value \"%s\" for -query.timeout: want a duration such as 2m (0 = none)\n", v);
	return -1;
}

/* -query.max-profiles: a whole number, 0 = no cap. */
static int count_flag(const char *name, const char *v, size_t *out)
{
	char *end;
	unsigned long long n;

	errno = 0;
	n = strtoull(v, &end, 10);
	if (!*v || *end || errno || *v == '-' || n > SIZE_MAX) {
		fprintf(stderr, "profefe: invalid value \"%s\" for -%s: want a whole number (0 = no cap)\n", v, name);
		return -1;
	}
	*out = (size_t)n;
	return 0;
}

/* -web.tls-cert-file and -web.tls-key-file: both or neither; read whole
 * (libmicrohttpd takes PEM in memory). The caller frees. */
static int read_tls(const char *cert_file, const char *key_file, char **cert, char **key)
{
	const char *files[2] = {cert_file, key_file}, *names[2] = {"web.tls-cert-file", "web.tls-key-file"};
	char **outs[2] = {cert, key};

	if (!*cert_file != !*key_file) {
		fprintf(stderr, "profefe: -%s is set without -%s: HTTPS needs both\n",
			*cert_file ? names[0] : names[1], *cert_file ? names[1] : names[0]);
		return -1;
	}
	for (int i = 0; i < 2 && *cert_file; i++) {
		struct pf_buf b = PF_BUF_INIT(0);
		struct pf_err err = {0};
		if (pf_read_file(files[i], 1 << 20, &b, &err) < 0) {
			fprintf(stderr, "profefe: -%s: %s\n", names[i], err.msg);
			pf_buf_free(&b);
			return -1;
		}
		if (b.len == 0 || memchr(b.data, 0, b.len) || !memmem(b.data, b.len, "-----BEGIN ", 11)) {
			fprintf(stderr, "profefe: -%s %s: not a PEM file (no \"-----BEGIN \" line)\n",
				names[i], files[i]);
			pf_buf_free(&b);
			return -1;
		}
		pf_buf_append(&b, "", 1); /* NUL-terminated for libmicrohttpd */
		*outs[i] = (char *)pf_buf_steal(&b, NULL);
	}
	return 0;
}

/* -web.auth-token-file: the token is the file's content without its
 * trailing whitespace; an empty or unreadable file is a start error. */
static char auth_token[4096];

static int read_token(const char *flag, const char *path)
{
	struct pf_buf b = PF_BUF_INIT(0);
	struct pf_err err = {0};
	size_t n;

	if (pf_read_file(path, sizeof(auth_token), &b, &err) < 0) {
		fprintf(stderr, "profefe: -%s: %s\n", flag, err.msg);
		pf_buf_free(&b);
		return -1;
	}
	n = b.len;
	while (n > 0 && strchr(" \t\r\n", b.data[n - 1]))
		n--;
	if (n == 0 || n >= sizeof(auth_token) || memchr(b.data, 0, n)) {
		fprintf(stderr, "profefe: -%s %s: %s\n", flag, path,
			n == 0 ? "the file is empty (want a token)" : "not a token (a NUL byte or over 4 KB)");
		pf_buf_free(&b);
		return -1;
	}
	memcpy(auth_token, b.data, n);
	auth_token[n] = 0;
	pf_buf_free(&b);
	return 0;
}

/*
 * profefe import [flags] FILE|DIR...: exit 0 when every file was imported
 * or skipped with a reason, 1 when one failed or the run stopped, 2 for a
 * flag error.
 */
static int import_main(int argc, char **argv)
{
	struct import_flags fl = {0};
	struct flag_list args = {0};
	struct import_options o = {0};
	struct import_counts c = {0};
	struct tsdb_label *labels = NULL;
	char (*names)[128] = NULL;
	struct pf_err err = {0};
	unsigned par = 0;
	int rc;

	if ((rc = parse_flags_of(import_flag_defs, PF_ARRAY_LEN(import_flag_defs), import_usage, argc,
				 argv, 2, &fl, &args)) != 0)
		goto out;
	if (fl.help) {
		import_usage(stdout);
		goto out;
	}
	rc = 2;
	if (args.n == 0) {
		fprintf(stderr, "profefe import: no FILE or DIR given\n");
		import_usage(stderr);
		goto out;
	}
	if (*fl.addr && *fl.tsdb_dir) {
		fprintf(stderr, "profefe import: -addr and -tsdb.dir are both set: send to a server or store into a directory, not both\n");
		goto out;
	}
	o.addr = *fl.addr ? fl.addr : "http://127.0.0.1:10100";
	if (*fl.tsdb_dir) {
		o.addr = NULL;
		o.tsdb_dir = fl.tsdb_dir;
	}
	if (strcmp(fl.tsdb_retention, "0") != 0 &&
	    (pf_parse_duration(fl.tsdb_retention, &o.retention_ns) < 0 || o.retention_ns <= 0)) {
		fprintf(stderr, "profefe import: invalid -tsdb.retention \"%s\": want a duration such as 15d, 36h or 90m\n",
			fl.tsdb_retention);
		goto out;
	}
	if (pf_parse_duration(fl.tsdb_max_future, &o.max_future_ns) < 0 || o.max_future_ns < 0) {
		fprintf(stderr, "profefe import: invalid -tsdb.max-future \"%s\": want a duration such as 10m, or 0\n",
			fl.tsdb_max_future);
		goto out;
	}
	if (*fl.type && !bundle_type_valid(fl.type)) {
		fprintf(stderr, "profefe import: invalid -type \"%s\": want cpu, heap, allocs, block, mutex, goroutine, threadcreate, trace, other or a name of [a-z0-9_.-]\n",
			fl.type);
		goto out;
	}
	if (*fl.service && (strlen(fl.service) > 1024 || !pf_utf8_valid(fl.service, strlen(fl.service)))) {
		fprintf(stderr, "profefe import: invalid -service: want UTF-8 of at most 1024 bytes\n");
		goto out;
	}
	if (uint_flag("parallel", fl.parallel, 1, 64, &par) < 0)
		goto out;
	labels = pf_xcalloc(fl.label.n + 1, sizeof(*labels));
	names = pf_xcalloc(fl.label.n + 1, sizeof(*names));
	for (size_t i = 0; i < fl.label.n; i++) {
		if (import_label_parse(fl.label.v[i], names[i], sizeof(names[i]), &labels[i], &err) < 0) {
			fprintf(stderr, "profefe import: %s\n", err.msg);
			goto out;
		}
	}
	if (*fl.auth_token_file) {
		if (read_token("auth-token-file", fl.auth_token_file) < 0)
			goto out;
		o.auth_token = auth_token;
	}
	o.service = *fl.service ? fl.service : NULL;
	o.type = *fl.type ? fl.type : NULL;
	o.labels = labels;
	o.nlabels = fl.label.n;
	o.parallel = par;
	o.out = stdout;
	o.err_out = stderr;
	o.progress = isatty(STDERR_FILENO);
	signal(SIGPIPE, SIG_IGN);
	pf_log_setup("warn", "logfmt");
	if (import_run(&o, (char *const *)args.v, args.n, &c, &err) < 0) {
		fprintf(stderr, "profefe import: %s\n", err.msg);
		rc = 1;
		goto out;
	}
	rc = c.failed ? 1 : 0;
out:
	explicit_bzero(auth_token, sizeof(auth_token));
	free(labels);
	free(names);
	free(fl.label.v);
	free(args.v);
	return rc;
}

int main(int argc, char **argv)
{
	struct flags fl = {0};
	struct pf_app app = {0};
	struct store_options stopt = {0};
	struct tsdb_options *topt = &stopt.tsdb;
	struct api_options aopt = {0};
	struct scrape_options sopt = {0};
	struct config *cfg = NULL;
	struct pf_err err = {0};
	struct pf_budget *inflight = NULL;
	size_t inflight_bytes = 0;
	char *tls_cert = NULL, *tls_key = NULL;
	char port[16];
	unsigned shard_i = 0, shard_n = 0;
	int rc, e;

	if (argc > 1 && strcmp(argv[1], "import") == 0)
		return import_main(argc, argv);
	if ((rc = parse_flags(argc, argv, &fl)) != 0)
		return rc;
	if (fl.help) {
		usage(stdout);
		return 0;
	}
	if (fl.version) {
		printf("profefe version %s commit %s build_time %s\n", PF_VERSION, PF_COMMIT, PF_BUILD_TIME);
		return 0;
	}
	if (pf_log_setup(fl.log_level, fl.log_format) < 0) {
		fprintf(stderr, "profefe: invalid -log.level \"%s\" or -log.format \"%s\" "
				"(want debug|info|warn|error and logfmt|json)\n", fl.log_level, fl.log_format);
		return 2;
	}
	if (strcmp(fl.storage_type, "badger") == 0) {
		fprintf(stderr, "profefe: -storage-type badger is not supported: use -storage-type tsdb, the embedded store\n");
		return 2;
	}
	if (strcmp(fl.storage_type, "tsdb") == 0) {
		if (*fl.clickhouse_dsn) { /* else the profiles would go to -tsdb.dir unsaid */
			fprintf(stderr, "profefe: -clickhouse.dsn is set but -storage-type is tsdb (the embedded store in -tsdb.dir): add -storage-type clickhouse, or drop -clickhouse.dsn\n");
			return 2;
		}
		stopt.type = STORE_TSDB;
	} else if (strcmp(fl.storage_type, "clickhouse") == 0) {
		struct ch_dsn d;
		unsigned q = 0;
		stopt.type = STORE_CLICKHOUSE;
		if (!*fl.clickhouse_dsn) {
			fprintf(stderr, "profefe: -storage-type clickhouse needs -clickhouse.dsn http://host:8123/?database=NAME\n");
			return 2;
		}
		if (ch_dsn_parse(fl.clickhouse_dsn, &d, &err) < 0) {
			fprintf(stderr, "profefe: %s\n", err.msg);
			return 2;
		}
		ch_dsn_free(&d);
		if (uint_flag("clickhouse.queue-size", fl.clickhouse_queue_size, 1, 1000000, &q) < 0 ||
		    timeout_flag("clickhouse.timeout", fl.clickhouse_timeout, &stopt.ch.timeout_ns) < 0)
			return 2;
		stopt.ch.dsn = fl.clickhouse_dsn;
		stopt.ch.queue_max = q;
	} else {
		fprintf(stderr, "profefe: unknown -storage-type \"%s\": want tsdb or clickhouse\n", fl.storage_type);
		return 2;
	}
	if (*fl.scrape_shard) {
		char *end;
		unsigned long a, b;
		errno = 0;
		a = strtoul(fl.scrape_shard, &end, 10);
		if (*fl.scrape_shard < '0' || *fl.scrape_shard > '9' || *end != '/' || errno ||
		    end[1] < '0' || end[1] > '9' || (b = strtoul(end + 1, &end, 10), *end) || errno ||
		    b < 1 || b > 1024 || a >= b) {
			fprintf(stderr, "profefe: invalid value \"%s\" for -scrape.shard: want I/N with N from 1 to 1024 and I from 0 to N-1, such as 0/2\n",
				fl.scrape_shard);
			return 2;
		}
		shard_i = (unsigned)a;
		shard_n = (unsigned)b;
	}
	if (size_flag("max-body-size", fl.max_body_size, &aopt.max_body_bytes) < 0 ||
	    size_flag("max-profile-size", fl.max_profile_size, &aopt.max_profile_bytes) < 0 ||
	    size_flag("max-inflight-decompressed", fl.max_inflight_decompressed, &inflight_bytes) < 0)
		return 2;
	if (inflight_bytes < aopt.max_profile_bytes) {
		fprintf(stderr, "profefe: -max-inflight-decompressed (%zu bytes) is smaller than -max-profile-size "
				"(%zu bytes): the largest profiles could never be decompressed\n",
			inflight_bytes, aopt.max_profile_bytes);
		return 2;
	}
	if (*fl.web_auth_token_file) {
		if (read_token("web.auth-token-file", fl.web_auth_token_file) < 0)
			return 1;
		aopt.auth_token = auth_token;
	}
	if (uint_flag("web.threads", fl.web_threads, 1, 1024, &aopt.threads) < 0 ||
	    uint_flag("web.max-connections", fl.web_max_connections, 0, 1000000, &aopt.max_connections) < 0 ||
	    uint_flag("web.max-connections-per-ip", fl.web_max_connections_per_ip, 0, 1000000,
		      &aopt.max_connections_per_ip) < 0 ||
	    timeout_flag("web.read-header-timeout", fl.web_read_header_timeout,
			 &aopt.read_header_timeout_ns) < 0 ||
	    timeout_flag("web.read-timeout", fl.web_read_timeout, &aopt.read_timeout_ns) < 0 ||
	    count_flag("query.max-profiles", fl.query_max_profiles, &aopt.query_max_profiles) < 0 ||
	    query_timeout_flag(fl.query_timeout, &aopt.query_timeout_ns) < 0)
		return 2;
	rc = 1;
	if (read_tls(fl.web_tls_cert_file, fl.web_tls_key_file, &tls_cert, &tls_key) < 0)
		goto out_tls;
	aopt.tls_cert_pem = tls_cert;
	aopt.tls_key_pem = tls_key;
	if (*fl.config_file && scrape_config_load(fl.config_file, &cfg, &err) < 0) {
		fprintf(stderr, "profefe: %s\n", err.msg);
		goto out_tls;
	}

	signal(SIGPIPE, SIG_IGN);
	/*
	 * Every push decodes its profile into an arena of 64 KiB chunks that is
	 * freed when the request ends. glibc would hand that memory back to the
	 * kernel and fault it in again on the next request; keep it instead
	 * (bounded by these thresholds). Measured on heap-large-001: decode
	 * 137 ms -> 30 ms. See BENCHMARKS.md.
	 */
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	topt->dir = fl.tsdb_dir;
	topt->max_body_bytes = aopt.max_body_bytes;
	topt->max_profile_bytes = aopt.max_profile_bytes;
	rc = 2;
	if (strcmp(fl.tsdb_retention, "0") != 0 &&
	    (pf_parse_duration(fl.tsdb_retention, &topt->retention_ns) < 0 || topt->retention_ns <= 0)) {
		fprintf(stderr, "profefe: invalid -tsdb.retention \"%s\": want a duration such as 15d, 36h or 90m\n",
			fl.tsdb_retention);
		goto out_cfg;
	}
	if (pf_parse_duration(fl.tsdb_block_duration, &topt->block_duration_ns) < 0 ||
	    topt->block_duration_ns < 1000000000) {
		fprintf(stderr, "profefe: invalid -tsdb.block-duration \"%s\": want a duration of at least 1s, such as 2h\n",
			fl.tsdb_block_duration);
		goto out_cfg;
	}
	if (pf_parse_duration(fl.tsdb_max_future, &topt->max_future_ns) < 0 || topt->max_future_ns < 0) {
		fprintf(stderr, "profefe: invalid -tsdb.max-future \"%s\": want a duration such as 10m or 1h, or 0\n",
			fl.tsdb_max_future);
		goto out_cfg;
	}
	if (pf_parse_size(fl.tsdb_retention_size, &topt->retention_bytes) < 0) {
		fprintf(stderr, "profefe: invalid -tsdb.retention-size \"%s\": want a size such as 10GB, or 0\n",
			fl.tsdb_retention_size);
		goto out_cfg;
	}
	rc = 1;
	/* the loop comes first so that it is closed last: its signal handles
	 * (started below) stay until the store is closed */
	if ((e = uv_loop_init(&app.loop)) < 0) {
		fprintf(stderr, "profefe: start the event loop: %s\n", uv_strerror(e));
		goto out_cfg;
	}
	if (store_open(&stopt, &app.db, &err) < 0) {
		fprintf(stderr, "profefe: open store %s: %s\n",
			stopt.type == STORE_CLICKHOUSE ? "clickhouse" : fl.tsdb_dir, err.msg);
		goto out_loop;
	}
	sopt.db = app.db;
	sopt.config_file = fl.config_file;
	sopt.shard_i = shard_i;
	sopt.shard_n = shard_n;
	sopt.max_body_bytes = aopt.max_body_bytes;
	sopt.max_profile_bytes = aopt.max_profile_bytes;
	inflight = pf_budget_new(inflight_bytes);
	sopt.inflight = aopt.inflight = inflight;
	sopt.user_agent = "profefe/" PF_VERSION;
	/* the scraper starts empty; its targets come once the server listens */
	if (scrape_start(&sopt, NULL, &app.scrape, &err) < 0) {
		fprintf(stderr, "profefe: %s\n", err.msg);
		goto out_budget;
	}
	aopt.addr = fl.addr;
	aopt.db = app.db;
	aopt.scrape = app.scrape;
	aopt.version = PF_VERSION;
	aopt.commit = PF_COMMIT;
	aopt.build_time = PF_BUILD_TIME;

	/* signals go to the loop, before any server thread starts */
	uv_signal_init(&app.loop, &app.sigterm);
	uv_signal_init(&app.loop, &app.sigint);
	uv_signal_init(&app.loop, &app.sighup);
	app.sigterm.data = app.sigint.data = app.sighup.data = &app;
	uv_signal_start(&app.sigterm, on_stop_signal, SIGTERM);
	uv_signal_start(&app.sigint, on_stop_signal, SIGINT);
	uv_signal_start(&app.sighup, on_sighup, SIGHUP);

	if (api_start(&aopt, &app.api, &err) < 0) {
		fprintf(stderr, "profefe: %s\n", err.msg);
		goto out_scrape;
	}
	if (cfg && scrape_apply(app.scrape, cfg, &err) < 0)
		pf_log(PF_LOG_ERROR, "starting the scrape targets failed", "err", err.msg, NULL);
	config_free(cfg); /* the scraper holds its own reference */
	cfg = NULL;
	snprintf(port, sizeof(port), "%d", api_port(app.api));
	pf_log(PF_LOG_INFO, "profefe started", "version", PF_VERSION, "addr", fl.addr, "port", port,
	       "storage", store_type_name(app.db),
	       "dir", stopt.type == STORE_CLICKHOUSE ? "" : fl.tsdb_dir, NULL);

	uv_run(&app.loop, UV_RUN_DEFAULT);
	rc = 0;

	/* shutdown: stop accepting, drain requests, stop scraping (scrapes in
	 * flight finish and are stored), close the store */
	api_stop(app.api);
out_scrape:
	scrape_stop(app.scrape);
out_budget:
	pf_budget_free(inflight);
	store_close(app.db);
out_loop:
	uv_walk(&app.loop, close_walk, NULL);
	uv_run(&app.loop, UV_RUN_DEFAULT);
	uv_loop_close(&app.loop);
out_cfg:
	config_free(cfg);
out_tls:
	if (rc == 0)
		pf_log(PF_LOG_INFO, "profefe stopped", NULL);
	free(tls_cert);
	if (tls_key)
		explicit_bzero(tls_key, strlen(tls_key));
	free(tls_key);
	return rc;
}
