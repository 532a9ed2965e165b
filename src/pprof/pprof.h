/*
 * pprof: decode, validate, encode and merge pprof profiles.
 *
 * A struct pprof_profile wraps one protobuf-c message (proto/profile.proto,
 * generated at build time) whose memory lives in an arena owned by the
 * profile. Everything here is safe to call from several threads on
 * different profiles; a profile itself is immutable once returned.
 *
 * Error sentences (struct pf_err.msg) follow Go's pprof where profefe's
 * clients see them, so the API can reply
 *   400 malformed profile (could not parse pprof profile: <msg>)
 * e.g. "parsing profile: empty input file",
 *      "parsing profile: unrecognized profile format",
 *      "decompressing profile: unexpected EOF",
 *      "sample 0 refers to location 7, which does not exist".
 */
#ifndef PF_PPROF_H
#define PF_PPROF_H

#include "base/base.h"
#include "proto/profile.pb-c.h"

typedef Perftools__Profiles__Profile pprof_msg;

struct pprof_profile;

/*
 * Decode a profile body: gzip (one or more concatenated members, as Go reads
 * it; inflated by libdeflate, and by zlib when libdeflate refuses, so that
 * errors read as Go's) or raw protobuf. The decompressed size is capped at max_decompressed
 * (PF_ETOOBIG past it, without inflating further: no decompression bomb).
 * Validates: string_table[0] is "", every string index in range, sample
 * value counts equal the sample type count, every location a sample names
 * exists, every function a line names exists, every mapping a location
 * names exists, ids non-zero and unique per kind. A profile with zero
 * samples decodes fine (callers decide; see pprof_sample_count).
 * Legacy text profiles (debug=1/2) are refused with a message naming
 * debug=0. On success *out is owned by the caller (pprof_free).
 * Returns 0, PF_EINVAL (malformed), PF_ETOOBIG, PF_ELIMIT (a decoder cap,
 * below) or PF_ENOMEM.
 * A raw (not gzip) body longer than max_decompressed is PF_ETOOBIG too.
 * Memory: the inflated body (malloc'd up to 1 MiB, mmap'd past that and
 * returned to the system when the decode returns) and the unpacked message in one arena, at most
 * PPROF_MAX_DECODED_BYTES (about 10 times the inflated size for Go's
 * profiles).
 * Error sentences: "parsing profile: empty input file", "parsing profile:
 * unrecognized profile format", "decompressing profile: unexpected EOF",
 * "decompressing profile: gzip: invalid header", "decompressed profile is
 * larger than N bytes", "sample 0 refers to location 7, which does not
 * exist", "sample 0 has 2 values but there are 1 sample types",
 * "function 1 name: string index 50 out of range (string table has 4
 * entries)" (items with ids are named by id, samples by index).
 */
int pprof_decode(const void *data, size_t len, size_t max_decompressed,
		 struct pprof_profile **out, struct pf_err *err);

/*
 * Caps on what decoding one profile builds. protobuf-c unpacks the whole
 * tree at once, so the counts are checked first, by a scan of the top-level
 * fields that unpacks nothing; then the unpack's allocator refuses to pass
 * PPROF_MAX_DECODED_BYTES, which bounds everything the counts allow
 * together (many samples with many frames, values or labels, unknown
 * fields); labels per sample are checked once unpacked, and values per
 * sample must equal the sample types. Each cap is far above the largest
 * real profile we have, tests/fixtures/pprof/heap-large-001.pb.gz (3.6 MB
 * inflated, 78 642 samples, 45 742 locations, 3 383 functions, 3 464
 * strings, 4 sample types, one label per sample, 5 mappings; 36 MB
 * decoded), so that only hand-made inputs reach them. Past one,
 * pprof_decode returns PF_ELIMIT and err names the cap and the count, e.g.
 * "profile has 60000000 samples; the decoder's cap is 2000000 samples".
 */
#define PPROF_MAX_SAMPLES       2000000   /* 25 x heap-large-001 */
#define PPROF_MAX_LOCATIONS     2000000   /* 43 x */
#define PPROF_MAX_FUNCTIONS     2000000   /* 590 x */
#define PPROF_MAX_MAPPINGS      100000    /* Go writes 5; a process maps a few thousand files at most */
#define PPROF_MAX_STRINGS       4000000   /* 1150 x */
#define PPROF_MAX_SAMPLE_TYPES  64        /* and values per sample; Go writes at most 4 */
#define PPROF_MAX_SAMPLE_LABELS 256       /* labels of one sample; Go's heap profiles have 1 */
/* memory an unpack may take (protobuf-c's structs, arrays, strings and
 * scratch space, in the profile's arena): 29 x heap-large-001's 36 MB */
#define PPROF_MAX_DECODED_BYTES ((size_t)1 << 30)

/* How long an inflate waits for the in-flight budget when no wait is set. */
#define PPROF_BUDGET_WAIT_NS ((int64_t)2000000000)

/* What pprof_decode_limited may use. */
struct pprof_limits {
	size_t max_decompressed;   /* cap on the inflated body (-max-profile-size) */
	/* when set, the inflate buffer's capacity is taken from this budget
	 * as it grows (-max-inflight-decompressed) and given back when the
	 * decode returns */
	struct pf_budget *budget;
	int64_t budget_wait_ns;    /* 0: PPROF_BUDGET_WAIT_NS */
};

/*
 * pprof_decode with an in-flight budget. Returns what pprof_decode returns,
 * plus PF_EBUSY when the inflate buffer could not grow within the budget
 * in time ("profiles being decompressed take N of the M bytes of
 * -max-inflight-decompressed; ..."); PF_ETOOBIG is the
 * max_decompressed cap and PF_ELIMIT a decoder cap (above).
 */
int pprof_decode_limited(const void *data, size_t len, const struct pprof_limits *lim,
			 struct pprof_profile **out, struct pf_err *err);

/* 1 when data starts with the gzip magic (1f 8b). */
int pprof_is_gzip(const void *data, size_t len);

/*
 * Inflate a gzip body (all members) into out, capped at max bytes.
 * Trailing bytes that are not a gzip member are an error, as in Go.
 */
int pprof_gunzip(const void *data, size_t len, size_t max, struct pf_buf *out,
		 struct pf_err *err);
/*
 * An inflated body the caller holds: the inflate buffer of
 * pprof_decode_limited (capacity taken from lim->budget as it grows, when
 * set), kept until pprof_inflated_free gives it and its budget back.
 */
struct pprof_inflated {
	const uint8_t *data;
	size_t len;
	/* private */
	void *buf_;
	size_t cap_;
	int mapped_;
	struct pf_budget *budget_;
};
/* Inflate a gzip body as pprof_decode_limited does (lim's cap, budget and
 * wait): 0, or PF_EINVAL (gzip's sentence, unprefixed), PF_ETOOBIG,
 * PF_EBUSY, PF_ENOMEM; *out is empty on failure. */
int pprof_inflate_limited(const void *data, size_t len, const struct pprof_limits *lim,
			  struct pprof_inflated *out, struct pf_err *err);
void pprof_inflated_free(struct pprof_inflated *in);
/* gzip data into out (appends). */
int pprof_gzip(const void *data, size_t len, struct pf_buf *out, struct pf_err *err);

/* Encode as gzip-compressed protobuf (zlib level 2, see encode.c), appended
 * to out. Returns 0, PF_ENOMEM or PF_ETOOBIG (out's cap). */
int pprof_encode(const struct pprof_profile *p, struct pf_buf *out, struct pf_err *err);

/*
 * Merge n >= 1 profiles with pprof's rules (google/pprof profile.Merge):
 * sample types and period type must be equal (else PF_EMISMATCH naming
 * both, e.g. "sample types differ: [samples/count cpu/nanoseconds] and
 * [inuse_space/bytes]"); samples with the same stack (locations compared by
 * mapping, address relative to the mapping start and lines) and the same
 * labels are summed; all-zero samples are dropped; mappings, functions and
 * locations deduplicated; time = earliest non-zero, duration = sum,
 * period = max, comments deduplicated, first default_sample_type.
 * The inputs are not modified. *out is owned by the caller.
 */
int pprof_merge(struct pprof_profile *const *in, size_t n, struct pprof_profile **out,
		struct pf_err *err);

/*
 * The same merge, one input at a time, so that a caller can decode a
 * profile, add it and free it before the next: the merger keeps only the
 * distinct strings, mappings, functions, locations and samples (stack and
 * labels) of what it was given, so its memory grows with the distinct
 * stacks, not with the number of inputs. pprof_merge is a loop over it:
 * the result is the same, input for input. Not thread-safe (one merger,
 * one thread).
 *
 * pprof_merger_new: an empty merger (aborts on OOM); free with
 * pprof_merger_free (NULL is a no-op).
 * pprof_merger_add: fold in (borrowed for the call only). The first input
 * fixes the sample types and period type; a later one that differs is
 * PF_EMISMATCH with err naming both ("sample types differ:
 * [alloc_objects/count ...] and [samples/count cpu/nanoseconds]", the
 * first input's first) and leaves the merger as it was.
 * pprof_merger_count: the inputs added so far.
 * pprof_merger_finish: the merged profile into *out (the caller's, freed
 * with pprof_free); PF_EINVAL when nothing was added. The merger is then
 * only good for pprof_merger_free.
 */
struct pprof_merger;
struct pprof_merger *pprof_merger_new(void);
int pprof_merger_add(struct pprof_merger *m, const struct pprof_profile *in, struct pf_err *err);
size_t pprof_merger_count(const struct pprof_merger *m);
int pprof_merger_finish(struct pprof_merger *m, struct pprof_profile **out, struct pf_err *err);
void pprof_merger_free(struct pprof_merger *m);

/*
 * Wrap a message that the caller assembled in arena (the message and
 * everything it points to live there) into a profile: builds the id indexes
 * and validates it exactly as pprof_decode does. Takes ownership of arena in
 * every case: on success it is freed by pprof_free(*out), on failure here.
 * Returns 0 or PF_EINVAL with err naming the offending item (the same
 * sentences as pprof_decode).
 */
int pprof_from_message(struct pf_arena *arena, pprof_msg *msg, struct pprof_profile **out,
		       struct pf_err *err);

/*
 * Index into the message's mapping, location or function array of the item
 * with this id, or -1 when there is none (or id is 0). O(1).
 */
int64_t pprof_mapping_index(const struct pprof_profile *p, uint64_t id);
int64_t pprof_location_index(const struct pprof_profile *p, uint64_t id);
int64_t pprof_function_index(const struct pprof_profile *p, uint64_t id);

void pprof_free(struct pprof_profile *p);

/* The message; borrowed until pprof_free. */
const pprof_msg *pprof_message(const struct pprof_profile *p);
/* string_table[idx], or "" when idx is out of range. */
const char *pprof_string(const struct pprof_profile *p, int64_t idx);
size_t pprof_sample_count(const struct pprof_profile *p);
int64_t pprof_time_nanos(const struct pprof_profile *p);

/*
 * Per sample type totals: totals[i] = sum of sample.value[i] over all
 * samples, for i < n_sample_type. totals must hold n_sample_type entries.
 */
void pprof_totals(const struct pprof_profile *p, int64_t *totals);

#endif
