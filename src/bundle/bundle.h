/*
 * bundle: autoprof bundles (github.com/rhysh/autoprof), read and written.
 *
 * A bundle is a zip of stored entries: `meta` (a JSON object of strings:
 * main, revision, go_version, hostname, proc_id, init_time, capture_time),
 * `expvar`, `pprof/heap`, the other `pprof/<url-path-escaped name>`,
 * `pprof/profile` (CPU), `pprof/trace` (a raw Go execution trace) and
 * `pprof/profile-during-trace`; see ../shared/reference/autoprof-format.md.
 *
 * bundle_read opens a bundle held in memory with libzip, through its
 * central directory (a zip cut short has none and is refused), checks the
 * entry count, the sizes against a cap on their total, each entry's CRC
 * (libzip checks it when an entry is read to its end) and the names (`..`
 * and absolute names are refused, a leading `./` is dropped), then reads
 * the entries one at a time and maps each `pprof/NAME` one to a profile: its
 * type, series labels, time and body, each pprof decoded and validated.
 * Empty entries (0 bytes, or a pprof with 0 samples) are skipped with their
 * reason; any other bad entry fails the whole read naming the entry, so a
 * caller that stores the profiles only after bundle_read succeeded stores
 * all of a bundle or nothing of it.
 *
 * bundle_store then appends what is not stored yet: the server's POST
 * /api/v1/bundles is bundle_read + bundle_store, and a local import into a
 * store directory can be the same two calls.
 *
 * Nothing here is shared between threads; different bundles may be read
 * on different threads at once.
 */
#ifndef PF_BUNDLE_H
#define PF_BUNDLE_H

#include "base/base.h"
#include "pprof/pprof.h"
#include "store/store.h"

#define BUNDLE_MAX_ENTRIES 1024                 /* autoprof writes about 12 */
#define BUNDLE_MAX_TOTAL ((uint64_t)1 << 30)    /* uncompressed bytes of all entries */
#define BUNDLE_MAX_TYPE 128                     /* bytes of a custom type name */

struct bundle_options {
	size_t max_entries;   /* entries in the central directory; 0 = BUNDLE_MAX_ENTRIES */
	uint64_t max_total;   /* sum of the entries' uncompressed sizes; 0 = BUNDLE_MAX_TOTAL */
	struct pprof_limits pprof; /* caps of each pprof entry's decode */
	/* the service label; NULL or "": the last path element of meta's main */
	const char *service;
	/* labels added to every profile (borrowed for the call; they win over
	 * the ones from meta, may not set service or type) */
	const struct tsdb_label *labels;
	size_t nlabels;
};

/* meta's fields (empty strings when absent). */
struct bundle_meta {
	const char *main, *revision, *go_version, *hostname, *proc_id, *init_time, *capture_time;
	int64_t capture_ns; /* capture_time parsed; 0 when empty or unparsable */
};

/* One profile of a bundle; everything borrowed until bundle_free. */
struct bundle_profile {
	const char *entry;               /* the entry's name: "pprof/heap" */
	const char *type;                /* "heap", "cpu", "example.com_shop_open-conns" */
	const struct tsdb_label *labels; /* series labels, sorted by name, service and type included */
	size_t nlabels;
	int64_t t_ns;                    /* time_nanos, else meta's capture_time */
	enum tsdb_kind kind;             /* PPROF (gzip pprof) or RAW (trace) */
	const void *body;                /* gzip pprof (gzipped here when it was not) or the trace */
	size_t len;
	const struct tsdb_total *totals; /* per sample type (pprof) */
	size_t ntotals;
	/* bundle_digest of the body, when has_digest: bundle_read computes it
	 * for every entry; bundle_read_one leaves it to the duplicate check,
	 * which needs it only for a stored candidate of other bytes (use
	 * bundle_profile_digest) */
	uint64_t digest;
	int has_digest;
	/* the pprof body inflated, when bundle_read_one kept it (the store
	 * decodes it in place of inflating body again); else NULL */
	const void *plain;
	size_t plain_len;
};

/* An entry left out, and why ("empty entry (0 bytes)", "profile has no samples"). */
struct bundle_skip {
	const char *entry;
	const char *reason;
};

struct bundle;

/*
 * Read the bundle zip[0..len) (borrowed for the call). *out is freed with
 * bundle_free. Returns 0; PF_EINVAL for a broken zip or a bad entry,
 * err->msg naming the entry and the reason ("entry \"pprof/heap\": could
 * not parse pprof profile: ...", "bundle has no \"meta\" entry", "not a
 * zip archive (no central directory): ..."); PF_ETOOBIG for the caps
 * (entries, total size, -max-profile-size of an entry); PF_ELIMIT for a
 * pprof decoder cap; PF_EBUSY when the in-flight budget is spent
 * (o->pprof.budget).
 */
int bundle_read(const void *zip, size_t len, const struct bundle_options *o, struct bundle **out,
		struct pf_err *err);
const struct bundle_meta *bundle_get_meta(const struct bundle *b);
size_t bundle_nprofiles(const struct bundle *b);
const struct bundle_profile *bundle_profile_at(const struct bundle *b, size_t i);
size_t bundle_nskipped(const struct bundle *b);
const struct bundle_skip *bundle_skipped_at(const struct bundle *b, size_t i);
/* NULL is a no-op. */
void bundle_free(struct bundle *b);

/*
 * One profile outside a bundle (POST /api/v1/profiles, `profefe import` of
 * a pprof file or a trace): its type and service are given, not read from
 * a meta entry.
 */
struct bundle_one {
	const char *name;    /* the profile's entry in results ("heap.pb.gz"); borrowed */
	const char *type;    /* a type of SPEC §1 (bundle_type_valid); "trace": a Go execution trace */
	const char *service; /* the service label; required */
	int64_t t_ns;        /* the time of a body without time_nanos (a trace: always); 0 = now */
};

/*
 * body[0..len) (copied) as a bundle of one profile: the same checks,
 * labels (o->labels added, service and type from one), time, digest and
 * totals as a bundle's entry gets, so bundle_store stores it or finds it
 * already stored exactly as it does a bundle's. An empty body (0 bytes,
 * "empty file (0 bytes)") or a pprof with no samples is one skipped entry
 * and no profile. Errors as bundle_read's, without an entry name: an
 * unknown type or no service PF_EINVAL, "could not parse pprof profile:
 * ...", "not a Go execution trace ...".
 */
int bundle_read_one(const void *body, size_t len, const struct bundle_one *one,
		    const struct bundle_options *o, struct bundle **out, struct pf_err *err);

/* 1 when t is a profile type of SPEC §1: a non-empty name of [a-z0-9_.-]
 * (the built-in types among them), at most BUNDLE_MAX_TYPE bytes, not
 * "unknown". */
int bundle_type_valid(const char *t);

/*
 * An entry name as found in the zip, checked and normalized into out (n
 * bytes): a leading "./" (repeated) is dropped; empty names, absolute ones
 * ("/x", "C:x", "\x"), names with a ".." element, a backslash or a NUL are
 * PF_EINVAL with err saying why.
 */
int bundle_entry_name(const char *raw, char *out, size_t n, struct pf_err *err);

/*
 * The type of a `pprof/<esc>` entry from <esc>: url-path-unescaped, then
 * heap allocs block goroutine mutex threadcreate as they are, profile and
 * profile-during-trace as cpu (*during_trace set for the latter), trace as
 * trace, any other name made a custom type of SPEC §1: lower-cased, every
 * byte outside [a-z0-9_.-] becomes '_', at most BUNDLE_MAX_TYPE bytes, and
 * "custom_" before a name that would be a built-in type or "unknown".
 * type needs BUNDLE_MAX_TYPE + 8 bytes. PF_EINVAL for a bad %-escape or an
 * empty name.
 */
int bundle_entry_type(const char *esc, char *type, int *during_trace, struct pf_err *err);

/*
 * What "the same content" means for the duplicate check: for a pprof body,
 * a 64-bit hash of the decoded profile that does not depend on its
 * encoding (ids, order of samples, locations, functions, strings; gzip or
 * not): sample types, period type and period, time, duration, default
 * sample type, comments, and every sample's values, labels (string and
 * numeric with units) and stack (each location's address and lines:
 * function name, system name, file name, line number). Two profiles the
 * store gives back equal at the pprof level (SPEC §10.2) have the same
 * digest. For a raw body, a hash of its bytes.
 */
uint64_t bundle_digest_profile(const struct pprof_profile *p);
int bundle_digest(const void *body, size_t len, enum tsdb_kind kind, const struct pprof_limits *lim,
		  uint64_t *out, struct pf_err *err);

/* p's digest: p->digest when has_digest, else bundle_digest of its body
 * (its plain bytes when kept). Errors of the decode. */
int bundle_profile_digest(const struct bundle_profile *p, const struct pprof_limits *lim,
			  uint64_t *out, struct pf_err *err);

/*
 * Whether db already holds p: a profile of exactly p's label set, at
 * exactly p->t_ns, of p's kind, whose totals equal p's and whose body
 * (read only when the rest matched) is p's bytes (the head gives back the
 * bytes pushed: no decode) or has p's digest (both decoded). *stored gets
 * 1 or 0. Errors of tsdb_find, tsdb_read and the decode.
 */
int bundle_stored(struct store *db, const struct bundle_profile *p, const struct pprof_limits *lim,
		  int *stored, struct pf_err *err);

/* What became of one profile of a bundle in bundle_store. */
enum bundle_outcome {
	BUNDLE_STORED = 1,  /* appended: id is set */
	BUNDLE_ALREADY,     /* the store held it already (bundle_stored) */
	BUNDLE_REFUSED,     /* outside the store's time window: code PF_EFUTURE or PF_ETOOOLD, reason */
};
struct bundle_result {
	const struct bundle_profile *p;
	enum bundle_outcome outcome;
	int code;
	char id[TSDB_ID_LEN + 1];
	char reason[512];
};

/*
 * Store b's profiles in db, as POST /api/v1/bundles and `profefe import
 * -tsdb.dir` do: first every profile is looked up (bundle_stored), then
 * those not stored yet are appended in the bundle's order. res (room for
 * bundle_nprofiles(b)) gets one result per profile, *nres how many. A
 * lookup failure stores nothing and returns its error; an append failure
 * other than the time refusals stops there and returns it (the profiles
 * before it are stored: *nres counts them; a repeat skips them as already
 * stored).
 */
int bundle_store(struct store *db, const struct bundle *b, const struct pprof_limits *lim,
		 struct bundle_result *res, size_t *nres, struct pf_err *err);

/* ---- writing ---------------------------------------------------------- */

/*
 * A bundle being written: entries in the order added, stored (not
 * deflated), as autoprof writes them. bundle_writer_add copies data.
 * bundle_writer_finish appends the zip to out and leaves the writer only
 * good for bundle_writer_free. Errors name the entry and libzip's message.
 */
struct bundle_writer;
struct bundle_writer *bundle_writer_new(void);
int bundle_writer_add(struct bundle_writer *w, const char *name, const void *data, size_t len,
		      struct pf_err *err);
int bundle_writer_finish(struct bundle_writer *w, struct pf_buf *out, struct pf_err *err);
void bundle_writer_free(struct bundle_writer *w);

/* The `pprof/...` entry name of a profile of type (during_trace: the
 * profile-during-trace CPU profile), url-path-escaped as autoprof does;
 * into out (n bytes). */
void bundle_type_entry(const char *type, int during_trace, char *out, size_t n);

#endif
