/* Shared between the files of src/report; not part of the public API. */
#ifndef PF_REPORT_INTERNAL_H
#define PF_REPORT_INTERNAL_H

#include "report/report.h"

/* A frame: name id << 1 | 1 when it is an inlined call. */
#define REPORT_FRAME(name, inl) (((uint32_t)(name) << 1) | ((inl) ? 1u : 0u))
#define REPORT_NAME(f)          ((f) >> 1)
#define REPORT_INLINE(f)        ((f) & 1u)

/* One kept sample: frames[off .. off+len), leaf first. side: 0 for a
 * single profile or a diff's target, 1 for a diff's base. */
struct report_sample {
	size_t off;
	uint32_t len;
	uint8_t side;
	int64_t v;
};

/* What the views read: a prep, or the union of a diff's two. */
struct report_view {
	const uint32_t *frames;
	const struct report_sample *s;
	size_t ns;
	char *const *names; /* by name id, without inline suffix */
	size_t nnames;
	int diff;
	int64_t total;      /* pprof's report total */
	const char *sample_type, *unit;
	double node_fraction;
	size_t limit, max_nodes;
	const char *function;
};

struct report_prep {
	char *sample_type, *unit;
	int64_t total;
	struct pf_arena *arena; /* names */
	char **names;
	size_t nnames, names_cap;
	struct pf_map *name_ids;
	uint32_t *frames;
	size_t nframes, frames_cap;
	struct report_sample *samples;
	size_t nsamples, samples_cap;
	double node_fraction;
	size_t limit, max_nodes;
	char *function;
};

/* The view of one prep. */
void report__view_of(const struct report_prep *p, struct report_view *v);
/* The union of a diff's preps (base samples on side 1); free with
 * report__view_free. PF_EINVAL when their sample types differ. */
int report__view_diff(const struct report_prep *base, const struct report_prep *target,
		      struct report_view *v, struct pf_err *err);
void report__view_free(struct report_view *v);

/* Name id of name in v, or -1. */
int64_t report__name_find(const struct report_view *v, const char *name);

int report__top(const struct report_view *v, json_t **out, struct pf_err *err);
int report__flame(const struct report_view *v, json_t **out, struct pf_err *err);
int report__sandwich(const struct report_view *v, json_t **out, struct pf_err *err);

#endif
