/*
 * import: `profefe import`, the client that brings files of profiles into
 * profefe (SPEC §2): pprof files (gzip or not), Go execution traces and
 * autoprof bundles, named one by one or found in directories walked
 * recursively (autoprof's pprof/<main>/<host>/<proc_id>/<capture_time>
 * layout, flat profile_*.zip files, any tree of .pb.gz files; what a file
 * is comes from its first bytes, not its name).
 *
 * Two ends, one outcome per profile:
 *  - a server (-addr): bundles go to POST /api/v1/bundles, the other files
 *    to POST /api/v1/profiles, with libcurl's multi interface keeping a few
 *    requests in flight;
 *  - a store directory no server is using (-tsdb.dir): store_open (the
 *    embedded store), then
 *    bundle_read (or bundle_read_one) and bundle_store, the calls behind
 *    those two endpoints.
 * Either way a profile whose series, time and content are stored already
 * is counted "already there" and not stored again (SPEC §10.1), and one
 * outside the store's time window (-tsdb.retention, -tsdb.max-future) is
 * skipped with the store's reason.
 *
 * Memory is bounded by the requests in flight: the walk holds one
 * directory's names at a time, and a file's bytes only while it is sent.
 */
#ifndef PF_IMPORT_H
#define PF_IMPORT_H

#include "base/base.h"
#include "pprof/pprof.h"
#include "tsdb/tsdb.h"

#include <stdio.h>

#define IMPORT_MAX_FILE ((size_t)1 << 30) /* bytes of one file read */
#define IMPORT_MAX_PROFILE ((size_t)512 << 20) /* decompressed, when the type is read locally */
#define IMPORT_PARALLEL 8                 /* requests in flight by default */

struct import_options {
	/* exactly one of these: the server's base URL ("http://host:port";
	 * "host:port" and ":port" get http://) or a store directory */
	const char *addr;
	const char *tsdb_dir;
	/* the store's windows in -tsdb.dir mode, as the server's flags */
	int64_t retention_ns;  /* 0 = keep everything */
	int64_t max_future_ns; /* 0 = no limit */
	/* the service label: every file's (a bundle's meta otherwise names
	 * it; a pprof file or trace without it fails) */
	const char *service;
	/* the type of every pprof file (NULL: import_infer_type); bundles
	 * name their entries' types themselves */
	const char *type;
	/* labels added to every profile (borrowed for the call) */
	const struct tsdb_label *labels;
	size_t nlabels;
	const char *auth_token; /* Authorization: Bearer, when set */
	unsigned parallel;      /* requests in flight; 0 = IMPORT_PARALLEL */
	int progress;           /* draw a progress bar on err_out */
	FILE *out;              /* the summary */
	FILE *err_out;          /* the progress bar */
};

/* What became of the files (profiles: a bundle's entries or a file). */
struct import_counts {
	uint64_t files, bytes;
	uint64_t imported; /* profiles stored */
	uint64_t already;  /* profiles found stored already */
	uint64_t skipped;  /* profiles or files left out, with a reason (not failures) */
	uint64_t failed;   /* files that could not be imported */
};

/*
 * Import the files and directories paths[0..n). Prints one line per
 * skipped profile and per failed file, then the summary, on o->out.
 * Returns 0 when the run went through (failed files are in c->failed),
 * or an error that stopped it (the store does not open, the server
 * cannot be reached) with err saying why.
 */
int import_run(const struct import_options *o, char *const *paths, size_t n,
	       struct import_counts *c, struct pf_err *err);

/*
 * The type of a pprof profile no -type named, from its sample types and
 * default sample type as the Go runtime writes them:
 *   samples/count, cpu/nanoseconds                   cpu
 *   alloc_objects, alloc_space, inuse_objects,
 *   inuse_space                                      heap; allocs when the
 *                                                    default is alloc_space
 *                                                    or alloc_objects, or
 *                                                    the base name holds
 *                                                    "allocs" (a delta of
 *                                                    allocs sets no default)
 *   goroutine/count                                  goroutine
 *   threadcreate/count                               threadcreate
 *   contentions/count, delay/nanoseconds             block or mutex, which
 *     share these: from the file's base name (name), when it holds
 *     "block" or "mutex" (not both)
 * type gets it (n >= 16). Returns 0, or PF_ENOTFOUND with why (wn bytes)
 * saying what was seen and that -type is needed.
 */
int import_infer_type(const struct pprof_profile *p, const char *name, char *type, size_t n,
		      char *why, size_t wn);

/*
 * The type of the pprof body data[0..len) (gzip or not, at most max bytes
 * inflated) named name, as
 * import_infer_type gives it, from one pass over the inflated body's
 * top-level fields (sample types, default sample type, strings, samples
 * counted) without unpacking the profile (the server checks the rest); a
 * body that pass cannot read, or whose type it cannot tell, is decoded
 * whole, so that a broken file fails with the decoder's reason. Returns 0 with type; PF_ENOTFOUND with
 * why for a profile with no samples or a type that cannot be told (a
 * skip); another error with why for a body that is not a valid profile.
 */
int import_pprof_type(const void *data, size_t len, size_t max, const char *name, char *type,
		      size_t n, char *why, size_t wn);

/*
 * A -label flag "name=value" into *out (pointing into kv): the name as
 * SPEC §1 has it (not reserved, not service, type or job), a non-empty
 * value of at most 1024 bytes. PF_EINVAL with err saying what is wrong.
 */
int import_label_parse(const char *kv, char *name, size_t n, struct tsdb_label *out,
		       struct pf_err *err);

/* What a file is, from its first bytes. */
enum import_kind {
	IMPORT_PPROF = 1, /* anything else: tried as pprof (gzip or not) */
	IMPORT_TRACE,     /* "go 1.N trace" */
	IMPORT_BUNDLE,    /* a zip ("PK\3\4", or "PK\5\6" for an empty one) */
};
enum import_kind import_sniff(const void *data, size_t len);

#endif
