/* config internals shared by load.c, yaml.c, targets.c, sd.c and print.c. */
#ifndef PF_CONFIG_INTERNAL_H
#define PF_CONFIG_INTERNAL_H

#include "config/config.h"

#include <yaml.h>

struct config {
	int refs;              /* atomic */
	struct pf_arena *a;    /* everything below lives here */
	const char *file;
	const char *dir;
	int64_t global_interval;
	int64_t global_timeout; /* 0 when unset */
	struct config_labels external;
	struct config_job *jobs;
	size_t njobs;
	const char **warnings;
	size_t nwarnings;
};

/* ---- yaml.c: walking a libyaml document with positions ---- */

struct config__yw {
	const char *file;      /* name for messages */
	yaml_document_t *doc;
	struct pf_arena *a;    /* strings handed out */
	struct pf_err *err;
};

/* Read a configuration or target file whole into b (started afresh), at
 * most CONFIG_MAX_FILE_BYTES; on an error b holds nothing. */
int config__read_file(const char *path, struct pf_buf *b, struct pf_err *err);
/* Parse a whole YAML buffer into doc (one document at most; an empty
 * buffer gives a document without a root). Errors name FILE:LINE:COLUMN. */
int config__yaml_load(const char *file, const void *data, size_t len, yaml_document_t *doc,
		      struct pf_err *err);
/* Parse a JSON buffer with jansson and build the same document, with the
 * position of every node, so one walker checks both. */
int config__json_load(const char *file, const void *data, size_t len, yaml_document_t *doc,
		      struct pf_err *err);

/* Set err to "FILE:LINE:COLUMN: <fmt>" at n; returns PF_EINVAL. */
int config__fail(struct config__yw *w, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* "FILE:LINE:COLUMN" of n, in w->a. */
const char *config__where(struct config__yw *w, const yaml_node_t *n);
yaml_node_t *config__node(struct config__yw *w, int id);
int config__is_null(const yaml_node_t *n);
/* "a mapping", "a list", "a string" ... for messages. */
const char *config__kind(const yaml_node_t *n);

/* Value getters: n may be NULL (key absent) or null, which leaves *out
 * as it is and returns 0; a value of the wrong type is an error naming
 * what ("scrape_interval"). Strings are copied into w->a. */
int config__get_str(struct config__yw *w, const yaml_node_t *n, const char *what, const char **out);
int config__get_bool(struct config__yw *w, const yaml_node_t *n, const char *what, int *out);
int config__get_int(struct config__yw *w, const yaml_node_t *n, const char *what, int64_t min,
		    int64_t max, int64_t *out);
/* A positive Prometheus duration. */
int config__get_duration(struct config__yw *w, const yaml_node_t *n, const char *what, int64_t *ns);
/* 1 when n is a mapping (list) to walk, 0 when absent or null, <0 error. */
int config__want_map(struct config__yw *w, const yaml_node_t *n, const char *what);
int config__want_seq(struct config__yw *w, const yaml_node_t *n, const char *what);

struct config__key {
	const char *name;
	yaml_node_t *key;      /* filled: the key node */
	yaml_node_t *val;      /* filled: the value node (NULL when absent) */
};
/*
 * Match the keys of mapping n against keys[]: an unknown key, a key that
 * is not a string, or a repeated key is an error. unsupported(key) may
 * return a sentence for keys profefe knows but does not support.
 */
int config__collect(struct config__yw *w, const yaml_node_t *n, const char *what,
		    struct config__key *keys, size_t nkeys, const char *(*unsupported)(const char *key));

/* ---- targets.c: names, labels, targets ---- */

/* NULL when s is a valid "host[:port]" target, else why not. */
const char *config__check_target(const char *s);
/* s with the scheme's default port added when it has none (arena copy). */
const char *config__target_address(struct pf_arena *a, const char *s, const char *scheme);

/* Parse a label mapping (n: mapping or null) into a sorted set. reserved
 * names a NULL-terminated list of names the set may not hold (with why). */
int config__parse_labels(struct config__yw *w, const yaml_node_t *n, const char *what,
			 const char *const *reserved, const char *why_reserved,
			 struct config_labels *out);
/* Parse a list of groups ({targets, labels}); each target is checked. */
int config__parse_groups(struct config__yw *w, const yaml_node_t *n, const char *what,
			 struct config_group **out, size_t *nout);

/* Resolve groups of a job into pairs (arena a). */
int config__resolve(struct pf_arena *a, const struct config *c, const struct config_job *job,
		    const struct config_group *const *groups, const size_t *ngroups, size_t nsets,
		    struct config_target **out, size_t *nout, struct pf_err *err);

#endif
