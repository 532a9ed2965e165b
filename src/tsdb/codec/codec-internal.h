/*
 * Internals shared by symtab.c, chunk.c, stackmerge.c and transcode.c (the
 * profile codec).
 * Only codec.h is the codec's contract with the rest of src/tsdb.
 */
#ifndef PF_TSDB_CODEC_INTERNAL_H
#define PF_TSDB_CODEC_INTERNAL_H

#include "tsdb/codec/codec.h"
#include "pprof/stream.h"

/* Hard cap on one uncompressed column or section (and on a raw body). */
#define TSDB__CODEC_MAX_COLUMN ((size_t)1 << 30)
/*
 * Per profile: samples * sample types, and location ids of the distinct
 * stacks of its samples (heap-large-001: 0.3 M and 1.2 M). Both are
 * enforced when encoding, so what is written can be read; when decoding
 * they stop a small input (stacks shared through the table, columns that
 * compress well) from asking for unbounded memory.
 */
#define TSDB__CODEC_MAX_VALUES ((size_t)1 << 26)
#define TSDB__CODEC_MAX_FRAMES ((size_t)1 << 26)
/* Default zstd level of columns and sections (see tsdb__symtab_set_level
 * for the measurements). */
#define TSDB__CODEC_ZSTD_LEVEL 15

/* ---- symbols ----------------------------------------------------------- */

/* Ids are indexes into these arrays. "+1" fields use 0 for "none". */
struct tsdb__st_mapping {
	uint64_t start, limit, offset;
	uint32_t file, build_id; /* strings */
	uint8_t flags;           /* TSDB__MAP_HAS_* */
};
#define TSDB__MAP_HAS_FUNCTIONS 1u
#define TSDB__MAP_HAS_FILENAMES 2u
#define TSDB__MAP_HAS_LINE_NUMBERS 4u
#define TSDB__MAP_HAS_INLINE_FRAMES 8u

struct tsdb__st_function {
	uint32_t name, system_name, file; /* strings */
	int64_t start_line;
};

struct tsdb__st_line {
	uint32_t fn; /* function id + 1, 0 = none */
	int64_t line, column;
};

struct tsdb__st_location {
	uint64_t address;
	uint32_t mapping; /* mapping id + 1, 0 = none */
	uint32_t line_off, nline;
	uint8_t folded;
};

/* A stack is a node of a tree rooted at node 0 (the empty stack): node k
 * (k > 0) is its parent's stack with location loc added on the leaf side.
 * parent < k. depth = number of locations. */
struct tsdb__st_node {
	uint32_t parent, loc, depth;
};

/* A sample label exactly as in the proto (all four fields kept). */
struct tsdb__st_label {
	uint32_t key, str, unit; /* strings */
	int64_t num;
};

struct tsdb__st_labelset {
	uint32_t off, n; /* into labels */
};

struct tsdb__symtab {
	uint64_t nonce;
	int level; /* zstd level of what is written with it */

	/* strings: string i is sbytes + soff[i], NUL-terminated */
	char *sbytes;
	size_t slen, scap;
	uint32_t *soff;
	size_t nstr, strcap;

	struct tsdb__st_mapping *maps;
	size_t nmap, mapcap;
	struct tsdb__st_function *fns;
	size_t nfn, fncap;
	struct tsdb__st_location *locs;
	size_t nloc, loccap;
	struct tsdb__st_line *lines;
	size_t nline, linecap;
	struct tsdb__st_node *nodes;
	size_t nnode, nodecap;
	struct tsdb__st_labelset *lsets;
	size_t nlset, lsetcap;
	struct tsdb__st_label *labels;
	size_t nlabel, labelcap;

	/* dedup indexes, built on the first add (a table read from bytes
	 * only gets them when added to) */
	int indexed;
	int dups; /* build_index met a string, function or location twice */
	struct pf_htab istr, imap, ifn, iloc, ilset; /* hash of a symbol -> its id */
	struct pf_htab inode; /* parent << 32 | location -> node */
	struct pf_htab istack; /* hash of a stack's locations -> its entry in stk (a cache) */
	/* the stacks istack holds: node, depth and where its locations (leaf
	 * first, as tsdb__st_add_stack takes them) start in stkloc, so that a
	 * hit is checked with one memcmp instead of a walk up the node tree
	 * (4 bytes per frame of each distinct stack added to the table) */
	struct tsdb__st_stk {
		uint32_t node, n, off;
	} *stk;
	size_t nstk, stkcap;
	uint32_t *stkloc;
	size_t nstkloc, stklcap;
	uint32_t *nodestk; /* node -> its entry in stk + 1 (0: none), for
			    * the nodes below nnodestk */
	size_t nnodestk, nodestkcap;
};

static inline const char *tsdb__st_str(const struct tsdb__symtab *st, uint32_t id)
{
	return st->sbytes + st->soff[id];
}

/*
 * Builders: each returns the id of the symbol (existing or added), or
 * PF_ETOOBIG (as a negative int64_t) when a kind would pass 2^32 - 2 ids.
 * Referenced ids must be valid.
 */
int64_t tsdb__st_add_string(struct tsdb__symtab *st, const char *s, size_t len);
int64_t tsdb__st_add_mapping(struct tsdb__symtab *st, const struct tsdb__st_mapping *m);
int64_t tsdb__st_add_function(struct tsdb__symtab *st, const struct tsdb__st_function *f);
int64_t tsdb__st_add_location(struct tsdb__symtab *st, uint64_t address, uint32_t mapping,
			      uint8_t folded, const struct tsdb__st_line *lines, size_t nline);
/* The same, trying id hint first (a guess; see symtab.c). */
int64_t tsdb__st_add_string_hint(struct tsdb__symtab *st, const char *s, size_t len, uint32_t hint);
int64_t tsdb__st_add_function_hint(struct tsdb__symtab *st, const struct tsdb__st_function *f,
				   uint32_t hint);
int64_t tsdb__st_add_location_hint(struct tsdb__symtab *st, uint64_t address, uint32_t mapping,
				   uint8_t folded, const struct tsdb__st_line *lines, size_t nline,
				   uint32_t hint);
int64_t tsdb__st_add_node(struct tsdb__symtab *st, uint32_t parent, uint32_t loc);
/* The node of a whole stack: locs[0] is the leaf, locs[n - 1] the root
 * side, as in a pprof sample. */
int64_t tsdb__st_add_stack(struct tsdb__symtab *st, const uint32_t *locs, size_t n);
/* The same, trying node hint first (a guess, e.g. the previous profile's
 * stack at this row; UINT32_MAX: none): when it is the stack of locs, no
 * hash is taken. */
int64_t tsdb__st_add_stack_hint(struct tsdb__symtab *st, const uint32_t *locs, size_t n,
				uint32_t hint);
int64_t tsdb__st_add_labelset(struct tsdb__symtab *st, const struct tsdb__st_label *l, size_t n);

/* ---- rebuilding a pprof profile ------------------------------------------ */

/* A profile's header with symtab ids. */
struct tsdb__phdr {
	int64_t time_nanos, duration_nanos, period;
	uint8_t has_period_type;
	uint32_t period_type[2];
	uint32_t drop_frames, keep_frames, default_sample_type;
	size_t nsample_type;
	const uint32_t *sample_type; /* 2 per type: type, unit */
	size_t ncomment;
	const uint32_t *comment;
	size_t nmapping;
	const uint32_t *mapping;
	size_t nextra_loc;
	const uint32_t *extra_loc;
	size_t nextra_fn;
	const uint32_t *extra_fn;
};

/*
 * Check that every id of h is in st's range. PF_ECORRUPT naming the field,
 * what says which profile ("chunk profile 3").
 */
int tsdb__phdr_check(const struct tsdb__symtab *st, const struct tsdb__phdr *h, const char *what,
		     struct pf_err *err);

/*
 * Build a pprof profile from a header and rows (stack node ids, label set
 * ids, values: nrows * h->nsample_type, row-major). Ids must be in range
 * (checked by the caller); a location whose mapping is not in the
 * header's mapping list is PF_ECORRUPT. The result is validated with
 * pprof_from_message (PF_ECORRUPT if that fails). PF_ETOOBIG when the
 * distinct stacks hold more than TSDB__CODEC_MAX_FRAMES location ids.
 */
int tsdb__build_pprof(const struct tsdb__symtab *st, const struct tsdb__phdr *h, size_t nrows,
		      const uint32_t *stacks, const uint32_t *lsets, const int64_t *vals,
		      struct pprof_profile **out, struct pf_err *err);

/* Rows of one decoded profile, borrowed from the decoder until its next call. */
struct tsdb__rows {
	const struct tsdb__phdr *hdr;
	size_t nrows;
	const uint32_t *stacks, *lsets;
	const int64_t *vals; /* nrows * hdr->nsample_type */
};

/*
 * Decode profile i's rows (delta-decoded, ids checked against st).
 * Errors as tsdb__chunk_dec_pprof.
 */
int tsdb__chunk_dec_rows(struct tsdb__chunk_dec *d, const struct tsdb__symtab *st, size_t i,
			 struct tsdb__rows *rows, struct pf_err *err);

/*
 * Encode one pprof profile given in symtab ids (of e's table): its header
 * and rows (stack node, label set, values: ns * h->nsample_type, row-major).
 * Writes every column, or nothing and leaves e as it was (PF_ETOOBIG,
 * PF_ENOMEM).
 */
int tsdb__chunk_enc_rows(struct tsdb__chunk_enc *e, const struct tsdb__phdr *h, size_t ns,
			 const uint32_t *stacks, const uint32_t *lsets, const int64_t *vals,
			 struct pf_err *err);
/* The table e adds to. */
struct tsdb__symtab *tsdb__chunk_enc_symtab(const struct tsdb__chunk_enc *e);

/* ---- a decoded pprof body, flat (ingest.c) --------------------------------- */

/* What the streaming decoder handed over, in arrays; strings point into the
 * inflated body the flat profile holds. */
struct tsdb__flat_loc {
	uint64_t mapping_id, address;
	uint32_t line_off, nline;
	uint8_t folded;
};
struct tsdb__flat_line {
	uint64_t function_id;
	int64_t line, column;
};
struct tsdb__flat_sample {
	uint32_t nloc, nlab;
	size_t loc_off, lab_off; /* into locids, labs; values at i * nt */
};
struct tsdb__flat {
	struct pprof_inflated raw; /* the inflated body (when it was gzip), charged to its budget */
	/* header */
	size_t nt;
	int64_t *sample_type; /* 2 * nt */
	int has_period_type;
	int64_t period_type[2], period, time_nanos, duration_nanos;
	int64_t drop_frames, keep_frames, default_sample_type;
	size_t ncomment;
	int64_t *comment;
	/* tables, in message order */
	const char **str;
	uint32_t *slen;
	size_t nstr;
	struct pprof_stream_mapping *maps;
	size_t nmap;
	struct pprof_stream_function *fns;
	size_t nfn;
	struct tsdb__flat_loc *locs;
	size_t nloc;
	struct tsdb__flat_line *lines;
	size_t nline, linecap;
	struct tsdb__flat_sample *samples;
	size_t nsample;
	uint64_t *locids;
	size_t nlocids, locidcap;
	int64_t *vals; /* nsample * nt */
	struct pprof_stream_label *labs;
	size_t nlabs, labcap;
	/* id -> index (ids 1..n in order need none) */
	int dense_map, dense_fn, dense_loc;
	struct pf_htab imap, ifn, iloc;
	/* tsdb__flat_digest's, kept by tsdb__flat_prepare */
	int has_digest;
	uint64_t digest[2];
	/* read by its shape alone (tsdb__flat_decode_shape): the header's
	 * sample types, time, duration and period, the strings, nsample and
	 * the values are set, nothing else; the body (the inflated one, or the
	 * caller's) is kept for tsdb__flat_complete */
	int light;
	const uint8_t *body;
	size_t blen;
};

/* A validated pprof profile (pprof_decode, pprof_from_message) as flat
 * arrays, as tsdb__flat_decode of its body would give them (strings point
 * into p, which must outlive f). Aborts on OOM. */
void tsdb__flat_from_pprof(struct tsdb__flat *f, const struct pprof_profile *p);

/*
 * A 128-bit digest (XXH3, seeded per process) of everything of f that
 * interning reads: the header's string indexes, the strings, the
 * mappings, functions, locations and lines, and the samples' locations
 * and labels; not the values, times, duration or period. Two profiles
 * with the same digest intern to the same header ids and rows (in the
 * same table). Once tsdb__flat_prepare kept it in f, that one; and a
 * decode whose body's shape reads (pprof_stream_shape) keeps the shape's
 * digest instead (the same promise, from the body's bytes: ingest.c).
 */
void tsdb__flat_digest(const struct tsdb__flat *f, uint64_t out[2]);

/* Index of the mapping, function or location with this id (it exists:
 * the decoder checked every reference). */
size_t tsdb__flat_map_index(const struct tsdb__flat *f, uint64_t id);
size_t tsdb__flat_fn_index(const struct tsdb__flat *f, uint64_t id);
size_t tsdb__flat_loc_index(const struct tsdb__flat *f, uint64_t id);

/* ---- compressed sections ----------------------------------------------- */

/* In a function returning int64_t: evaluate expr (a symbol id or a
 * negative error), return the error, else store the id in var. Used by the
 * encoder and the transcoder, which both map symbols into a table. */
#define TSDB__TRY_ID(var, expr)         \
	do {                            \
		int64_t t_ = (expr);    \
		if (t_ < 0)             \
			return t_;      \
		(var) = (uint32_t)t_;   \
	} while (0)

/*
 * Append one section: uvarint raw length, method byte (0 stored, 1 zstd),
 * uvarint stored length, bytes. zstd (at level, with the context zctx) is
 * used when it is smaller; zctx NULL: stored.
 */
int tsdb__put_section(struct pf_buf *out, const struct pf_buf *raw, void *zctx, int level,
		      struct pf_err *err);
/* A zstd compression context (aborts on OOM), reused between sections. */
void *tsdb__zctx_new(void);
void tsdb__zctx_free(void *zctx);
/*
 * Read one section from r into a fresh malloc'd buffer (*data, *len; never
 * NULL on success, so that data + offset is defined even for length 0).
 * what names it in errors. PF_ECORRUPT, PF_ENOMEM.
 * The output grows only as zstd really produces it, capped at
 * TSDB__CODEC_MAX_COLUMN and at the declared length.
 */
int tsdb__get_section(struct pf_reader *r, const uint8_t *base, const char *what, uint8_t **data,
		      size_t *len, struct pf_err *err);

#endif
