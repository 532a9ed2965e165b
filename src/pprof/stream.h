/*
 * pprof streaming decoder: walks the protobuf wire format of a profile once,
 * without building protobuf-c's object tree, and hands each item to a sink.
 * It makes every check pprof_decode makes, with the same error sentences
 * and the same caps (pprof.h); see stream.c for how references that point
 * forward are handled.
 *
 * The order of the calls is fixed, whatever the order of the fields in the
 * message: header (once), then every string (in table order), mapping,
 * function, location and sample (each kind in message order). So every
 * string index, mapping, function and location an item names has been
 * handed over before the item (unless the profile is invalid: then the
 * decode fails, see below).
 *
 * Every pointer a callback gets is borrowed for the call, but for the
 * string callback's bytes, which point into the body given to
 * pprof_stream_decode and stay valid as long as it does (the symbolized
 * head's sink keeps them without copying). A callback
 * returns 0 or a negative PF_E* code with err set, which stops the decode
 * and is returned as is. When the decode fails (malformed profile, a cap),
 * the calls made so far are to be discarded: a check can fail after items
 * were handed over (a malformed field at the end of the body). Once the
 * decoder has found an error it makes no more calls.
 */
#ifndef PF_PPROF_STREAM_H
#define PF_PPROF_STREAM_H

#include "pprof/pprof.h"

/* The profile's top-level fields and the number of items of each kind. */
struct pprof_stream_header {
	size_t n_sample_type;
	const int64_t *sample_type;   /* 2 * n_sample_type: type, unit (string indexes) */
	int has_period_type;
	int64_t period_type[2];       /* type, unit; 0 when absent */
	int64_t period, time_nanos, duration_nanos;
	int64_t drop_frames, keep_frames, default_sample_type;
	size_t n_comment;
	const int64_t *comment;
	/* exact counts of what follows */
	size_t n_string, n_mapping, n_function, n_location, n_sample;
};

struct pprof_stream_mapping {
	uint64_t id, memory_start, memory_limit, file_offset;
	int64_t filename, build_id;
	int has_functions, has_filenames, has_line_numbers, has_inline_frames;
};

struct pprof_stream_function {
	uint64_t id;
	int64_t name, system_name, filename, start_line;
};

struct pprof_stream_line {
	uint64_t function_id;
	int64_t line, column;
};

struct pprof_stream_location {
	uint64_t id, mapping_id, address;
	int is_folded;
	size_t n_line;
	const struct pprof_stream_line *line;
};

struct pprof_stream_label {
	int64_t key, str, num, num_unit;
};

struct pprof_stream_sample {
	size_t n_location_id;
	const uint64_t *location_id;
	size_t n_value;                /* = the header's n_sample_type */
	const int64_t *value;
	size_t n_label;
	const struct pprof_stream_label *label;
};

/* What the decoder calls; a NULL callback is skipped. */
struct pprof_sink {
	int (*header)(void *ctx, const struct pprof_stream_header *h, struct pf_err *err);
	/* string idx of the table: len bytes at s, not NUL-terminated */
	int (*string)(void *ctx, size_t idx, const char *s, size_t len, struct pf_err *err);
	int (*mapping)(void *ctx, const struct pprof_stream_mapping *m, struct pf_err *err);
	int (*function)(void *ctx, const struct pprof_stream_function *f, struct pf_err *err);
	int (*location)(void *ctx, const struct pprof_stream_location *l, struct pf_err *err);
	int (*sample)(void *ctx, const struct pprof_stream_sample *s, struct pf_err *err);
	/*
	 * Optional: the samples' location ids in one buffer. When set, the
	 * decoder keeps every sample's location ids one after the other in a
	 * malloc'd buffer (a sample's location_id points into it, valid during
	 * its call as ever) and, after the last sample of a decode that found
	 * no error, hands the buffer over: ids[0..n) are the location ids of
	 * all samples in order (ids is NULL when n is 0). The sink owns it from
	 * then on (free), whatever it returns; a sink that keeps the ids needs
	 * no copy of its own.
	 */
	int (*sample_ids)(void *ctx, uint64_t *ids, size_t n, struct pf_err *err);
};

/*
 * Decode an inflated profile body (raw protobuf) into sink. Returns 0, or
 * what pprof_decode returns for the same body with the same sentence:
 * PF_EINVAL (empty, legacy text, malformed, a failed check) or PF_ELIMIT (a
 * count cap), or a sink's error. One difference: pprof_decode's cap on the
 * memory protobuf-c's tree takes (PPROF_MAX_DECODED_BYTES) has no
 * counterpart; this decoder's memory is a few scratch arrays plus the id
 * indexes, linear in the body's size.
 */
int pprof_stream_decode(const void *body, size_t len, const struct pprof_sink *sink, void *ctx,
			struct pf_err *err);

/*
 * pprof_decode_limited's front half on the streaming decoder: inflate a
 * gzip body as it does (libdeflate, zlib naming errors; the buffer taken
 * from lim->budget, at most lim->max_decompressed bytes) or take the raw
 * body, then pprof_stream_decode it into sink. Returns what
 * pprof_decode_limited returns for the same body, with the same sentences
 * (PF_EINVAL, PF_ETOOBIG, PF_ELIMIT for the count caps, PF_EBUSY, PF_ENOMEM),
 * or a sink's error; the inflated bytes a callback sees are gone when this
 * returns.
 */
int pprof_stream_decode_limited(const void *data, size_t len, const struct pprof_limits *lim,
				const struct pprof_sink *sink, void *ctx, struct pf_err *err);

/*
 * pprof_decode on the streaming decoder: inflate (gzip, as pprof_decode
 * does: libdeflate, zlib naming what is wrong) or take the raw body, stream it into a sink that
 * rebuilds the protobuf-c message, and index it (pprof_from_message). Same
 * returns and sentences as pprof_decode.
 */
int pprof_stream_to_profile(const void *data, size_t len, size_t max_decompressed,
			    struct pprof_profile **out, struct pf_err *err);

/*
 * The shape of a profile: what a program's next snapshot of the same kind
 * usually keeps. pprof_stream_shape reads an inflated body once, lightly
 * (the top-level fields and each sample's fields, no table is walked), and
 * feeds feed(ctx, bytes, n) a byte stream that determines everything
 * pprof_stream_decode would hand a sink but the samples' values, the
 * time, the duration and the period: the body's bytes with each sample's
 * key and length, each value field and each time, duration or period
 * field replaced by a token (a 0 byte, which no field starts with, and a
 * kind), so that the stream is the body's fields in order, unambiguously.
 * Two bodies that feed equal streams decode to the same strings, mappings,
 * functions, locations, sample types and samples (locations and labels),
 * and differ at most in those values and three scalars, which *s gets:
 * the values as the decoder reads them (row-major, n_sample by
 * n_sample_type), the last time_nanos, duration_nanos and period, the
 * sample types' string indexes and where each string lies in the body
 * (len bytes at str[i], not cut at a NUL).
 * Returns 0, or 1 when the body takes a form the shape does not read
 * (then *s is empty and the feed's bytes are to be dropped). 0 says
 * nothing of validity but this: every sample has as many values as there
 * are sample types, every value field is well formed, and the sample
 * types name strings of the table; the caller takes a body as valid on its
 * shape alone only when an equal stream came from a body that
 * pprof_stream_decode accepted.
 */
struct pprof_shape {
	size_t n_sample_type, cap_sample_type;
	int64_t *sample_type; /* 2 * n_sample_type: type, unit */
	size_t n_sample;
	int64_t *values; /* n_sample * n_sample_type */
	size_t n_values, cap_values;
	int64_t time_nanos, duration_nanos, period;
	const char **str;
	size_t *str_len;
	size_t n_string, cap_string, cap_str_len;
};

int pprof_stream_shape(const void *body, size_t len, void (*feed)(void *ctx, const void *p, size_t n),
		       void *ctx, struct pprof_shape *s);
/* Free what *s holds (after a 0 from pprof_stream_shape). */
void pprof_shape_free(struct pprof_shape *s);

#endif
