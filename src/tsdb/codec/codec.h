/*
 * The symbolized profile codec of the store: how profiles are kept inside an
 * immutable block. Internal to src/tsdb (tsdb__ prefix); the block layer
 * includes this header.
 *
 * Per block, each service has one symbol table (struct tsdb__symtab) holding
 * its strings, mappings, functions, locations, stacks and sample label sets
 * once. A chunk holds consecutive profiles of one series: each pprof profile
 * is its header (times, sample types, mapping list, ...) plus rows (stack id,
 * label set id, values), values delta-encoded against the matching row of
 * the previous profile of the chunk; the columns are zstd-compressed. Other
 * bodies (traces) are kept byte for byte, zstd-compressed. A chunk decodes
 * on its own with its symbol table; reading one profile needs only those
 * two. Formats: docs/format/symtab.md and docs/format/chunk.md (magic and
 * version in src/tsdb/format.h).
 *
 * Lossless at the pprof level (SPEC 10.2): samples in order (duplicates and
 * empty stacks kept), values, labels in order (string and numeric with unit),
 * mappings in the profile's order, locations (address, mapping, is_folded,
 * lines with inlined frames in order), functions, period, period type,
 * time, duration, comments, drop/keep frames, default sample type. Ids are
 * renumbered 1..n: mappings in the profile's order, locations in order of
 * first use by the samples, functions in order of first use by the
 * locations (what Go's writer does), then locations and functions that
 * nothing used. Duplicate strings, mappings, functions and locations (equal
 * content) become one.
 *
 * Threads: a symtab is used by one thread at a time while it is built;
 * once built, any number of threads may read it (dec_pprof, merger) as
 * long as no encoder adds to it. Encoders, decoders and mergers are
 * single-threaded objects.
 */
#ifndef PF_TSDB_CODEC_H
#define PF_TSDB_CODEC_H

#include "base/base.h"
#include "pprof/pprof.h"

/* ---- symbol table ------------------------------------------------------ */

/* One service's symbols within one block: builder and reader. */
struct tsdb__symtab;

/* An empty table (with a fresh random nonce that its chunks carry).
 * Aborts on OOM. Free with tsdb__symtab_free. */
struct tsdb__symtab *tsdb__symtab_new(void);
/* NULL is a no-op. */
void tsdb__symtab_free(struct tsdb__symtab *st);

/*
 * Serialize st, appended to out: magic "PFSY", version, nonce, six sections
 * (strings, mappings, functions, locations, stack nodes, label sets), each
 * zstd-compressed when that is smaller, and a CRC32C of everything before
 * it. Returns 0, PF_ETOOBIG (out's cap) or PF_ENOMEM; out keeps its
 * previous length on failure.
 */
int tsdb__symtab_write(const struct tsdb__symtab *st, struct pf_buf *out, struct pf_err *err);

/*
 * Parse a serialized table (p, n: exactly what symtab_write appended).
 * Verifies the CRC, the framing and every reference between symbols, so
 * that decoding chunks against it only has to range-check ids. Untrusted
 * bytes: returns PF_ECORRUPT with the reason (and byte offset) for anything
 * wrong, never crashes; allocations are bounded by the bytes actually
 * present. PF_ENOMEM. On success *out is the caller's (tsdb__symtab_free);
 * it can also be added to (new symbols get new ids).
 */
int tsdb__symtab_read(const void *p, size_t n, struct tsdb__symtab **out, struct pf_err *err);

/*
 * zstd level (1..19, clamped) of what is written with st: its own
 * serialization and the chunks of encoders over it. Default 15. Measured
 * on the 2-core test machine, shared (ten heap snapshots as one series /
 * heap-large-001 alone: size over the gzip size, encode time, pprof
 * decoding of the input not included):
 *   level 3:  0.091, 17 ms / 0.356, 157 ms
 *   level 9:  0.087, 19 ms / 0.338, 205 ms
 *   level 15: 0.084, 26 ms / 0.329, 289 ms
 *   level 19: 0.084, 34 ms / 0.294, 621 ms
 * zstd's working memory while a chunk or table is written (freed after):
 * level 3: 1 MB; 15 and 19: about 16 MB for a 1 MB column, up to 64 and
 * 81 MB for large ones. Decoding speed does not depend on the level.
 */
void tsdb__symtab_set_level(struct tsdb__symtab *st, int level);

/* The table's nonce (written in every chunk encoded against it). */
uint64_t tsdb__symtab_nonce(const struct tsdb__symtab *st);

/* Counts, for reports and tests. */
struct tsdb__symtab_stats {
	size_t strings, mappings, functions, locations, lines, nodes, labelsets;
};
void tsdb__symtab_stats(const struct tsdb__symtab *st, struct tsdb__symtab_stats *s);

/* ---- chunk encoder ----------------------------------------------------- */

/*
 * Builds one chunk: consecutive profiles (ascending time) of ONE series.
 * Symbols go into st (borrowed: it must outlive the encoder; many encoders
 * of the same service may share it, used one at a time). Aborts on OOM.
 */
struct tsdb__chunk_enc;
struct tsdb__chunk_enc *tsdb__chunk_enc_new(struct tsdb__symtab *st);
/*
 * Per profile scratch memory (index memos, rows in table ids, value coding
 * buffers, the rows being built), sized to the largest profile added.
 * Encoders made with chunk_enc_new_shared borrow sc (it must outlive them)
 * and keep only their columns and the previous profile's rows: many
 * encoders of one table (the head's series of one group) share one
 * scratch, used by one encoder at a time. _new aborts on OOM; _trim frees
 * what it holds (it stays usable); NULL is a no-op for _trim and _free.
 */
struct tsdb__chunk_scratch;
struct tsdb__chunk_scratch *tsdb__chunk_scratch_new(void);
void tsdb__chunk_scratch_trim(struct tsdb__chunk_scratch *sc);
void tsdb__chunk_scratch_free(struct tsdb__chunk_scratch *sc);
struct tsdb__chunk_enc *tsdb__chunk_enc_new_shared(struct tsdb__symtab *st,
						   struct tsdb__chunk_scratch *sc);

/*
 * Add a pprof profile (validated: from pprof_decode or pprof_from_message).
 * p is not kept. Returns 0, or PF_ETOOBIG when the symbol table or the
 * chunk would pass its limits (2^32 - 1 symbols of a kind, 1 GiB per
 * column); on failure the chunk is unchanged (the table may have gained
 * symbols, which is harmless). The profile is turned into the flat form
 * (tsdb__flat_from_pprof) and added by chunk_enc_add_flat: one encoder.
 */
int tsdb__chunk_enc_add_pprof(struct tsdb__chunk_enc *e, const struct pprof_profile *p,
			      struct pf_err *err);
/*
 * The same for a profile from tsdb__flat_decode (the streaming decoder's
 * output): the chunk and the table end up as chunk_enc_add_pprof leaves
 * them for pprof_decode of the same body. Errors as add_pprof. When f's
 * digest (its symbols and samples, values aside) is the one of the
 * previous profile this encoder took by add_flat, that profile's header
 * ids and rows are used as they are: no symbol lookups.
 */
struct tsdb__flat;
/* What add_flat computes from f alone (the digest), done ahead and kept
 * in f: for a caller that holds a lock around add_flat. Optional. */
void tsdb__flat_prepare(struct tsdb__flat *f);
int tsdb__chunk_enc_add_flat(struct tsdb__chunk_enc *e, const struct tsdb__flat *f,
			     struct pf_err *err);
/* Whether add_flat would take f by its digest alone (the previous profile's
 * header ids and rows); a light f that it would not take is PF_EMISMATCH
 * from add_flat, with nothing changed. */
int tsdb__chunk_enc_takes(const struct tsdb__chunk_enc *e, const struct tsdb__flat *f);
/*
 * A seed: what an encoder keeps of its last profile (header ids, rows and
 * digest) for the next chunk of the same series and table, so that the
 * next chunk's first profile, when it has the same digest, is coded from
 * them instead of being decoded whole and interned again (a chunk starts
 * from nothing: its first profile is coded against no previous one, and
 * the bytes are the same either way). tsdb__chunk_enc_seed is NULL when e's
 * last profile did not come from add_flat.
 */
struct tsdb__chunk_seed;
struct tsdb__chunk_seed *tsdb__chunk_enc_seed(const struct tsdb__chunk_enc *e);
void tsdb__chunk_seed_free(struct tsdb__chunk_seed *s);
/* Whether add_seeded takes f from s (the same digest and sample count). */
int tsdb__chunk_seed_takes(const struct tsdb__chunk_seed *s, const struct tsdb__flat *f);
/* Add f, which s takes (else PF_EMISMATCH, nothing changed), to e, which
 * has no profile yet and adds to s's table: s's header ids and rows, f's
 * values and times; e then takes f's successors of the same digest as
 * add_flat does. */
int tsdb__chunk_enc_add_seeded(struct tsdb__chunk_enc *e, const struct tsdb__chunk_seed *s,
			       const struct tsdb__flat *f, struct pf_err *err);
/* Add a non-pprof body (a trace), kept byte for byte. PF_ETOOBIG past 1 GiB. */
int tsdb__chunk_enc_add_raw(struct tsdb__chunk_enc *e, const void *body, size_t n,
			    struct pf_err *err);
/* Profiles added since the last finish. */
size_t tsdb__chunk_enc_count(const struct tsdb__chunk_enc *e);
/*
 * Uncompressed bytes of the columns so far (a hint for when to cut a
 * chunk; the finished chunk is usually 5 to 50 times smaller).
 */
size_t tsdb__chunk_enc_raw_bytes(const struct tsdb__chunk_enc *e);

/*
 * Append the finished chunk to out: magic "PFCK", version, the symtab's
 * nonce, the profile count, five columns (headers, stack ids, label set
 * ids, values, raw bodies), each zstd-compressed when that is smaller, and
 * a CRC32C of everything before it. Then reset e for the next chunk of the
 * same series (which does not delta against this one). A chunk of zero
 * profiles is valid. Returns 0, PF_ETOOBIG (out's cap) or PF_ENOMEM; on
 * failure out keeps its length and e its profiles.
 */
int tsdb__chunk_enc_finish(struct tsdb__chunk_enc *e, struct pf_buf *out, struct pf_err *err);
/*
 * The chunk so far appended to out as chunk_enc_finish would, but with
 * the columns stored (not compressed) and e left as it is: what the
 * profiles added so far read from (the head's open chunk). Errors as
 * chunk_enc_finish.
 */
int tsdb__chunk_enc_peek(const struct tsdb__chunk_enc *e, struct pf_buf *out, struct pf_err *err);
/* Free the encoder's per-profile scratch memory (kept between adds to
 * save allocations) when it has its own; what the next add needs stays.
 * A shared scratch is left alone (tsdb__chunk_scratch_trim). */
void tsdb__chunk_enc_trim(struct tsdb__chunk_enc *e);
/* NULL is a no-op. */
void tsdb__chunk_enc_free(struct tsdb__chunk_enc *e);

/* ---- decoding a pprof body for the encoder (ingest.c) --------------------- */

/*
 * A pprof body (gzip or not, as pprof_decode takes it) decoded by the
 * streaming decoder (pprof/stream.h) into flat arrays: every check of
 * pprof_decode with its sentences and caps, no protobuf-c tree. Then
 * tsdb__chunk_enc_add_flat interns it. _new/_free; one decode per flat.
 */
struct tsdb__flat *tsdb__flat_new(void);
void tsdb__flat_free(struct tsdb__flat *f);
/* Returns 0 or what pprof_decode returns for the body, with its sentence
 * (PF_EINVAL, PF_ELIMIT, PF_ETOOBIG past max_decompressed). The body is
 * not kept (a gzip body is inflated into f). */
int tsdb__flat_decode(struct tsdb__flat *f, const void *body, size_t len, size_t max_decompressed,
		      struct pf_err *err);
/* The same with lim's budget (-max-inflight-decompressed: PF_EBUSY when
 * spent), which the inflated body is charged to until tsdb__flat_free. */
int tsdb__flat_decode_limited(struct tsdb__flat *f, const void *body, size_t len,
			      const struct pprof_limits *lim, struct pf_err *err);
/*
 * The same, but when the body's shape (pprof_stream_shape) can be read,
 * only that: the digest comes from the shape, and f is light (its values,
 * sample types, strings, times, period and sample count; no tables), which
 * chunk_enc_add_flat takes only as the next profile of a series whose
 * previous one had the same digest (tsdb__chunk_enc_takes). A light f says
 * nothing of the body's validity beyond its shape: a caller that cannot
 * vouch for it by an equal digest of an accepted profile calls
 * tsdb__flat_complete, which decodes it whole (the checks and sentences of
 * tsdb__flat_decode_limited). A body whose shape cannot be read is decoded
 * whole right away. The body must stay as it is until f is freed.
 */
int tsdb__flat_decode_shape(struct tsdb__flat *f, const void *body, size_t len,
			    const struct pprof_limits *lim, struct pf_err *err);
int tsdb__flat_complete(struct tsdb__flat *f, struct pf_err *err);
int tsdb__flat_is_light(const struct tsdb__flat *f);
/* Sample types and, per type, the sum of the samples' values (pprof_totals,
 * wrapping as it does): type and unit are borrowed from f (len bytes, not
 * NUL-terminated). */
size_t tsdb__flat_ntypes(const struct tsdb__flat *f);
/* Its sample count and time_nanos. */
size_t tsdb__flat_nsamples(const struct tsdb__flat *f);
int64_t tsdb__flat_time_nanos(const struct tsdb__flat *f);
void tsdb__flat_type(const struct tsdb__flat *f, size_t i, const char **type, size_t *tlen,
		     const char **unit, size_t *ulen);
void tsdb__flat_totals(const struct tsdb__flat *f, int64_t *totals);

/* ---- moving profiles between tables (compaction) ------------------------ */

/*
 * Copies profiles from chunks written against src into encoders over dst
 * without rebuilding any protobuf: each source symbol is mapped into dst
 * once (the transcoder remembers), rows are copied as ids. A profile comes
 * out equal at the pprof level to what chunk_dec_pprof gives. src is read
 * only and, like dst, borrowed until transcoder_free; dst is added to (one
 * thread at a time, as for encoders). Aborts on OOM. src may be dst (rows
 * are then re-encoded with their ids).
 */
struct tsdb__transcoder;
struct tsdb__chunk_dec;
struct tsdb__transcoder *tsdb__transcoder_new(const struct tsdb__symtab *src,
					      struct tsdb__symtab *dst);
/*
 * Add profile i of chunk d (written against the transcoder's src) to e
 * (whose table must be the transcoder's dst, else PF_EINVAL). Raw bodies
 * are copied. Errors as chunk_dec_pprof (reading) and chunk_enc_add_pprof
 * (writing); on failure e is unchanged.
 */
int tsdb__chunk_enc_add_from(struct tsdb__chunk_enc *e, struct tsdb__transcoder *tc,
			     struct tsdb__chunk_dec *d, size_t i, struct pf_err *err);
/* NULL is a no-op. */
void tsdb__transcoder_free(struct tsdb__transcoder *tc);

/* ---- chunk decoder ----------------------------------------------------- */

/* One chunk, decompressed (the decoder's only large memory). */
struct tsdb__chunk_dec;

/*
 * Open a chunk (p, n: exactly what chunk_enc_finish appended; not kept).
 * Verifies the CRC and decompresses the columns, and parses every profile
 * header. Untrusted bytes: PF_ECORRUPT with the reason, never a crash, and
 * no allocation larger than what the data really decompresses to (capped
 * at 1 GiB per column). PF_ENOMEM. *out is the caller's (chunk_dec_free).
 */
int tsdb__chunk_dec_open(const void *p, size_t n, struct tsdb__chunk_dec **out,
			 struct pf_err *err);
size_t tsdb__chunk_dec_count(const struct tsdb__chunk_dec *d);
/* 1 when profile i is a raw body, 0 when pprof (or i out of range). */
int tsdb__chunk_dec_is_raw(const struct tsdb__chunk_dec *d, size_t i);
/* The symtab nonce the chunk was written with. */
uint64_t tsdb__chunk_dec_nonce(const struct tsdb__chunk_dec *d);

/*
 * The i-th profile rebuilt as a pprof profile, validated like pprof_decode
 * output; *out is the caller's (pprof_free). st must be the table the chunk
 * was written with (checked by nonce). Rows are delta-decoded from the
 * start of the chunk, or from the last profile decoded when i is after it
 * (reading a chunk in order costs one pass). Returns 0, PF_EINVAL (i out
 * of range or a raw body), PF_ECORRUPT (an id out of the table's range, a
 * column shorter than its headers say, another table), PF_ETOOBIG (the
 * stacks would hold more than 2^26 location ids: never for what an
 * encoder wrote), PF_ENOMEM. Samples with the same stack share one
 * location id array (the profile is immutable).
 */
int tsdb__chunk_dec_pprof(struct tsdb__chunk_dec *d, const struct tsdb__symtab *st, size_t i,
			  struct pprof_profile **out, struct pf_err *err);
/* Append the i-th raw body to out. PF_EINVAL when i is out of range or a
 * pprof profile, PF_ETOOBIG (out's cap), PF_ENOMEM. */
int tsdb__chunk_dec_raw(struct tsdb__chunk_dec *d, size_t i, struct pf_buf *out,
			struct pf_err *err);
/* NULL is a no-op. */
void tsdb__chunk_dec_free(struct tsdb__chunk_dec *d);

/* ---- merge by stack id ------------------------------------------------- */

/*
 * Merge pprof profiles of one symtab by summing values per (stack id,
 * label set id), without parsing any protobuf. The result equals
 * pprof_merge of the same profiles at the pprof level (same totals and
 * same -top for every sample index): all-zero rows are dropped, samples
 * come out in order of first appearance; time = earliest non-zero (Go's
 * rule), duration = sum, period = max, comments deduplicated, the first
 * non-empty default_sample_type, drop/keep frames and period type of the
 * first profile; mappings are the union of the profiles' lists in order.
 * st is borrowed until merger_free. Aborts on OOM.
 */
struct tsdb__merger;
struct tsdb__merger *tsdb__merger_new(const struct tsdb__symtab *st);
/*
 * Add profile i of chunk d (decoded from a chunk of the merger's symtab).
 * PF_EMISMATCH when its sample types or period type differ from the first
 * profile added ("sample types differ: [samples/count cpu/nanoseconds] and
 * [inuse_space/bytes]", as pprof_merge); PF_EINVAL for a raw body or i out
 * of range; PF_ECORRUPT as chunk_dec_pprof. On failure the merger is
 * unchanged.
 */
int tsdb__merger_add(struct tsdb__merger *m, struct tsdb__chunk_dec *d, size_t i,
		     struct pf_err *err);
/* Profiles added so far. */
size_t tsdb__merger_count(const struct tsdb__merger *m);
/*
 * The merged profile; *out is the caller's (pprof_free). PF_EINVAL when
 * nothing was added, PF_ETOOBIG past the limits of chunk_dec_pprof. The
 * merger may be freed right after (or added to and finished again).
 */
int tsdb__merger_finish(struct tsdb__merger *m, struct pprof_profile **out, struct pf_err *err);
/* NULL is a no-op. */
void tsdb__merger_free(struct tsdb__merger *m);

/* ---- focus by stack id ------------------------------------------------- */

/*
 * The totals of a profile over its rows whose stack reaches a location
 * that match accepts: match is asked about every mapping file, function
 * name and function file name a row reaches, at most once per symbol of
 * each symbol table however many profiles use it (a location matches when
 * its mapping or one of its lines' functions does, a stack when one of its
 * locations does). Read from the rows, no profile is built. A focuser may
 * be used with several tables; a table it has seen may grow between calls
 * (the head's). Single-threaded. Aborts on OOM.
 */
struct tsdb__focuser;
struct tsdb__focuser *tsdb__focuser_new(int (*match)(void *arg, const char *s), void *arg);
/*
 * Profile i of chunk d (decoded from a chunk of table st): *ntypes sample
 * types, (*types)[k] their names and (*totals)[k] the sums (wrapping, as
 * pprof's totals), both kept by f until focuser_free. Errors as
 * chunk_dec_rows (PF_EINVAL for a raw body or i out of range, PF_ECORRUPT).
 */
int tsdb__focuser_rows(struct tsdb__focuser *f, const struct tsdb__symtab *st,
		       struct tsdb__chunk_dec *d, size_t i, size_t *ntypes, const char ***types,
		       int64_t **totals, struct pf_err *err);
/* NULL is a no-op. */
void tsdb__focuser_free(struct tsdb__focuser *f);

#endif
