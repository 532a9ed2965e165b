/*
 * config: the scrape configuration (SPEC §4, §10.7), read from YAML with
 * libyaml into an immutable, reference-counted snapshot.
 *
 *   config_load_file / config_load_buffer   strict load; every error is one
 *                                           sentence "FILE:LINE:COLUMN: reason"
 *   config_job_count / config_job_at        the jobs, with every default applied
 *   struct config_job.targets               the resolved (target, type) pairs of
 *                                           static_configs
 *   config_sd_read*                          file_sd target files (JSON, YAML)
 *   config_targets_resolve                   static + file_sd groups -> pairs
 *   config_print_yaml                        the loaded configuration as YAML
 *
 * Format: Prometheus/conprof style. A conprof file (no `global`, the key
 * `profile` for CPU, conprof's pprof_config map) loads unchanged.
 *
 * Everything a snapshot hands out (strings, arrays, jobs, targets) is owned
 * by the snapshot and valid until its last reference is dropped with
 * config_free(). A snapshot never changes after load, so any number of
 * threads may read it; config_ref/config_free are atomic.
 */
#ifndef PF_CONFIG_H
#define PF_CONFIG_H

#include "base/base.h"

/* Largest configuration or target file read. */
#define CONFIG_MAX_FILE_BYTES ((size_t)16 << 20)
/* Most labels on one series (SPEC §1), service/job/instance/type included. */
#define CONFIG_MAX_LABELS 64
/* Longest label value, in bytes (SPEC §1). */
#define CONFIG_MAX_LABEL_VALUE 1024

struct config;

struct config_label {
	const char *name;
	const char *value;
};

/* A label set: sorted by name, names unique, no empty values. */
struct config_labels {
	const struct config_label *v;
	size_t n;
};

/* One query parameter of `params` (Go's url.Values flattened): sorted by
 * name, a name's values in file order. */
struct config_param {
	const char *name;
	const char *value;
};

/* File names below are resolved against the configuration file's directory
 * (as Prometheus does) and were readable at load; NULL when unset. */
struct config_tls {
	const char *ca_file;
	const char *cert_file;
	const char *key_file;
	const char *server_name;
	int insecure_skip_verify;
};

/* How a job's targets are fetched. Secrets are kept as given; the YAML
 * printer masks them. At most one of basic auth and bearer token is set. */
struct config_http {
	const char *scheme;                   /* "http" or "https" */
	int basic_auth;                       /* basic_auth given */
	const char *basic_auth_username;      /* "" when not given */
	const char *basic_auth_password;      /* NULL when unset */
	const char *basic_auth_password_file; /* NULL when unset */
	const char *bearer_token;             /* NULL when unset */
	const char *bearer_token_file;        /* NULL when unset */
	struct config_tls tls;
	const char *proxy_url;                /* NULL when unset */
	int follow_redirects;                 /* default 1 */
	const struct config_param *params;
	size_t nparams;
	const char *path_prefix;              /* "" or "/prefix" (no trailing slash) */
};

/* One profile type of a job: a built-in (cpu heap allocs block mutex
 * goroutine threadcreate trace) or a custom name of [a-z0-9_.-]+. */
struct config_profile {
	const char *type;      /* "cpu" for the key `profile` */
	const char *key;       /* the key as written ("profile"), or type when not listed */
	int listed;            /* present under pprof_config */
	int enabled;
	const char *path;      /* e.g. "/debug/pprof/heap", without path_prefix */
	int delta;
	int has_seconds;       /* cpu, trace, custom and delta types take ?seconds= */
	int64_t seconds;       /* whole seconds when has_seconds, else 0 */
	int seconds_set;       /* seconds written in the file */
	int64_t timeout_ns;    /* the effective scrape timeout of this type */
};

/* A target group: Prometheus's {targets: [...], labels: {...}}. Targets are
 * validated "host[:port]" strings as written (a port is added when the group
 * is resolved against a job's scheme). */
struct config_group {
	const char *source;    /* "FILE:LINE:COLUMN" of the group, for messages */
	const char *const *targets;
	const char *const *target_sources; /* "FILE:LINE:COLUMN" of each target */
	size_t ntargets;
	struct config_labels labels;
};

struct config_file_sd {
	const char *const *files;  /* glob patterns, resolved against the config's directory */
	size_t nfiles;
	int64_t refresh_interval_ns; /* default 5m */
};

struct config_job;

/* One (target, type) pair, ready to scrape. job and profile point into the
 * snapshot the pair was resolved from. */
struct config_target {
	const struct config_job *job;
	const struct config_profile *profile;
	const char *type;          /* profile->type */
	const char *address;       /* "host:port", the port added from the scheme when absent */
	const char *url;           /* scheme://address + path_prefix + path [?params&seconds=N] */
	struct config_labels labels; /* service, job, instance, type, the group's, external_labels */
	int64_t interval_ns;
	int64_t timeout_ns;
	int64_t seconds;           /* ?seconds= value, 0 when the type takes none */
	uint64_t hash;             /* of url and labels: identity and schedule offset */
};

struct config_job {
	const char *name;
	int64_t interval_ns;       /* job's, else global's, else 60s */
	int64_t timeout_ns;        /* explicit scrape_timeout (job's, else global's); 0 when defaulted */
	int timeout_set;
	struct config_http http;
	const struct config_profile *profiles; /* every known type, sorted by type */
	size_t nprofiles;
	const struct config_group *static_groups;
	size_t nstatic;
	const struct config_file_sd *file_sd;
	size_t nfile_sd;
	const struct config_target *targets;   /* static targets x enabled types, in file order */
	size_t ntargets;
};

/*
 * Load path into *out. On error returns PF_EINVAL (or PF_EIO, PF_ETOOBIG)
 * with err->msg "FILE:LINE:COLUMN: reason" (1-based; "open FILE: <errno
 * sentence>" when the file cannot be read) and *out untouched. The caller owns one
 * reference and drops it with config_free().
 */
int config_load_file(const char *path, struct config **out, struct pf_err *err);
/*
 * The same from memory: name is used in messages, dir resolves relative
 * file names (NULL: the current directory). Fuzz entry point.
 */
int config_load_buffer(const char *name, const char *dir, const void *data, size_t len,
		       struct config **out, struct pf_err *err);
/* Take another reference; returns c. */
struct config *config_ref(struct config *c);
/* Drop a reference; the last one frees the snapshot. NULL is a no-op. */
void config_free(struct config *c);

/* Warnings of the load, each "FILE:LINE:COLUMN: sentence" (for example a
 * timeout raised for a defaulted `seconds`). Borrowed from c. */
size_t config_warning_count(const struct config *c);
const char *config_warning_at(const struct config *c, size_t i);

/* The file name as given to the load. */
const char *config_file(const struct config *c);
/* global: scrape_interval (default 60s), scrape_timeout (0 when unset). */
int64_t config_global_interval(const struct config *c);
int64_t config_global_timeout(const struct config *c);
const struct config_labels *config_external_labels(const struct config *c);

size_t config_job_count(const struct config *c);
const struct config_job *config_job_at(const struct config *c, size_t i);
/* NULL when there is no job of that name. */
const struct config_job *config_job_find(const struct config *c, const char *name);

/* ---- file_sd ---------------------------------------------------------- */

/* Target groups read from file_sd files. */
struct config_sd_groups;

/*
 * Read one target file: JSON when the name ends in .json, else YAML; the
 * content is Prometheus's [{targets: [...], labels: {...}}]. Errors are
 * "FILE:LINE:COLUMN: reason" like the configuration's. Caller frees *out
 * with config_sd_groups_free().
 */
int config_sd_read_file(const char *path, struct config_sd_groups **out, struct pf_err *err);
/*
 * Read every file matching sd's patterns now (a pattern matching nothing
 * adds nothing). Fails at the first bad file, naming it.
 */
int config_sd_read(const struct config_file_sd *sd, struct config_sd_groups **out,
		   struct pf_err *err);
size_t config_sd_groups_count(const struct config_sd_groups *g);
const struct config_group *config_sd_groups_at(const struct config_sd_groups *g, size_t i);
/* The files that were read, in order (for change detection). */
size_t config_sd_files_count(const struct config_sd_groups *g);
const char *config_sd_file_at(const struct config_sd_groups *g, size_t i);
void config_sd_groups_free(struct config_sd_groups *g);

/* ---- resolved targets -------------------------------------------------- */

/* A list of (target, type) pairs; borrows the snapshot it came from. */
struct config_targets;

/*
 * Resolve a job's static groups plus the given file_sd groups (sd may be
 * NULL when nsd is 0) into (target, type) pairs for every enabled type. A
 * target repeated with the same labels is listed once. Fails (naming the
 * group's FILE:LINE:COLUMN) when a group's labels make a series break the
 * label limits. *out must be freed with config_targets_free() before the
 * snapshot is dropped.
 */
int config_targets_resolve(const struct config *c, const struct config_job *job,
			   const struct config_sd_groups *const *sd, size_t nsd,
			   struct config_targets **out, struct pf_err *err);
size_t config_targets_count(const struct config_targets *t);
const struct config_target *config_targets_at(const struct config_targets *t, size_t i);
void config_targets_free(struct config_targets *t);

/* 1 when scraping a and b is the same work: same URL, labels, interval,
 * timeout, seconds and HTTP settings (what a reload may keep running). */
int config_target_equal(const struct config_target *a, const struct config_target *b);
int config_http_equal(const struct config_http *a, const struct config_http *b);

/* ---- printing and helpers ---------------------------------------------- */

/*
 * The snapshot as YAML (for /api/v1/status/config): defaults filled in,
 * every type listed, passwords and bearer tokens as <secret>. It loads
 * back into an equivalent configuration. Appends to out.
 */
int config_print_yaml(const struct config *c, struct pf_buf *out, struct pf_err *err);

/* Durations are read with pf_parse_duration (src/base). */
/* Format ns (a whole number of milliseconds) as Prometheus does ("1m30s", "0s"). */
void config_format_duration(int64_t ns, char *out, size_t n);

#endif
