/*
 * ingest: the one path a profile takes into the store, pushed (POST
 * /api/0/profiles), scraped (src/scrape) or read from a bundle (src/bundle):
 * check the labels against SPEC §1, classify the body by its type (trace:
 * a Go execution trace kept byte for byte; anything else: pprof), gzip a
 * pprof body when it came raw, and append it with store_append (src/store:
 * the embedded store or ClickHouse), which decodes and checks it once (the
 * caps of -max-profile-size, the decoder and -max-inflight-decompressed,
 * charged for the inflated body while the store holds it), totals it, and
 * returns once it is durable.
 *
 * Every refusal is one class (enum ingest_class) with err->msg saying what
 * was wrong with which input; the API maps a class to an HTTP status and
 * its JSON error, the scraper to a scrape result, the bundle store to a
 * refusal per entry. Safe to call from many threads at
 * once (the store and the budget are).
 */
#ifndef PF_INGEST_H
#define PF_INGEST_H

#include "base/base.h"
#include "store/store.h"

/* What became of a profile. INGEST_OK is 0; every other class is a refusal
 * (nothing stored) with err->msg set. */
enum ingest_class {
	INGEST_OK = 0,
	INGEST_BAD_LABELS,  /* a label breaks SPEC §1 (name, reserved "__", value, count), or service/type missing */
	INGEST_BAD_TYPE,    /* the type label is not a SPEC §1 type */
	INGEST_MALFORMED,   /* not a pprof profile (or not a Go trace): err says why, as pprof_decode does */
	INGEST_NO_SAMPLES,  /* a pprof profile with no samples */
	INGEST_TOO_BIG,     /* decompressed past -max-profile-size (PF_ETOOBIG) */
	INGEST_DECODE_CAP,  /* past a decoder cap (PF_ELIMIT: counts of samples, locations, ...) */
	INGEST_BUSY,        /* -max-inflight-decompressed is spent: try again later */
	INGEST_FUTURE,      /* dated past -tsdb.max-future */
	INGEST_TOO_OLD,     /* dated before the retention window */
	INGEST_INVALID,     /* the store refused what it was given (PF_EINVAL, PF_ETOOBIG: totals past its caps) */
	INGEST_DISK_FULL,   /* the WAL write ran out of space: nothing acknowledged */
	INGEST_QUEUE_FULL,  /* the store's write queue is full (ClickHouse): nothing queued, try again later */
	INGEST_STORE_DOWN,  /* ClickHouse did not take the insert after every retry: nothing acknowledged, try again later */
	INGEST_STORE,       /* any other failure of the store (or of gzip): the server's fault */
};

/* The class's name, for logs and tests ("malformed", "disk_full"). */
const char *ingest_class_name(enum ingest_class c);

/* The server-wide settings ingest uses; borrowed for each call. */
struct ingest_opts {
	struct store *db;           /* the store (store.h) */
	size_t max_profile_bytes;   /* -max-profile-size */
	struct pf_budget *inflight; /* -max-inflight-decompressed, or NULL */
};

struct ingest_req {
	const struct tsdb_label *labels; /* any order; names unique; service and type included */
	size_t nlabels;
	int64_t t_ns;                    /* the profile's time, unless time_nanos wins */
	int time_nanos_wins;             /* a pprof body's own time_nanos (> 0) replaces t_ns */
	const void *body;                /* borrowed for the call */
	size_t len;
	/*
	 * What the caller knows: when decoded is set, the body was decoded and
	 * checked already (a bundle's entries): a pprof body is gzip and these
	 * are its totals, and it is appended as it is.
	 */
	int decoded;
	const struct tsdb_total *totals;
	size_t ntotals;
	/* decoded only, optional: the body inflated, when the caller kept it
	 * (the store decodes it without inflating body again) */
	const void *plain;
	size_t plain_len;
};

/* What was stored. */
struct ingest_out {
	char id[TSDB_ID_LEN + 1];
	int64_t t_ns;          /* the time stored (time_nanos or req->t_ns) */
	enum tsdb_kind kind;   /* TSDB_KIND_PPROF or TSDB_KIND_RAW (trace) */
};

/*
 * Store one profile (see the top of this file). Returns INGEST_OK with out
 * filled, or the class of the refusal with err->msg naming the input
 * ("label name \"__x\" is reserved (starts with __)", "decompressing
 * profile: gzip: invalid header", "profile has no samples", the store's
 * time sentences, ...). Malformed-body sentences are pprof_decode's
 * without a prefix; a trace that is not one says "empty trace body" or
 * "not a Go execution trace: it does not start with \"go 1.N trace\"".
 */
enum ingest_class ingest_profile(const struct ingest_opts *o, const struct ingest_req *req,
				 struct ingest_out *out, struct pf_err *err);

/*
 * SPEC §1 on a label set as the store gets it: at most PF_MAX_LABELS
 * labels, names pf_label_name_ok and not reserved ("__"), values
 * pf_label_value_ok and not empty, names unique, service and type present
 * and type pf_type_ok. Returns INGEST_OK, INGEST_BAD_LABELS or
 * INGEST_BAD_TYPE with err naming the label.
 */
enum ingest_class ingest_check_labels(const struct tsdb_label *labels, size_t nlabels,
				      struct pf_err *err);

/* 1 when the n bytes at p start as a Go execution trace ("go 1.N trace"). */
int ingest_is_go_trace(const void *p, size_t n);

#endif
