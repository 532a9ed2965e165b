/*
 * report: the views of SPEC §6 (top, flame graph, sandwich, meta, and the
 * diff of top, flame graph, sandwich and meta) computed from a decoded pprof profile, with
 * go tool pprof's meaning for sample_index, focus, ignore, hide, show_from,
 * tagfocus, tagignore and granularity.
 *
 * It works on a struct pprof_profile only (one stored profile, or a merge:
 * a merge is a profile too) and never on the store, so any storage reuses
 * it. First a prepared view (report_prep_new): the sample type resolved,
 * the filters applied as go tool pprof applies them (google/pprof's
 * FilterSamplesByName, ShowFrom, FilterSamplesByTag, then Aggregate), every
 * sample's frames named as pprof prints them with inlined functions
 * expanded; then any number of reports over it, each a jansson object in
 * SPEC §6's shape that the caller owns (json_decref).
 *
 * Names: at granularity functions a frame is its function's name; lines
 * "name file:line"; files "file"; a frame without a function is
 * "[binary]" (the mapping's file name) or "<unknown>", as pprof prints
 * them. A frame that is an inlined call (any line of a location but its
 * last) is named with pprof's " (inline)" suffix in flame graphs and
 * sandwiches, as `go tool pprof -traces` prints it; a top row carries
 * " (inline)" or " (partial-inline)" exactly as `go tool pprof -top` does.
 *
 * Not thread-safe on one prep; different preps may be used at once.
 */
#ifndef PF_REPORT_H
#define PF_REPORT_H

#include "base/base.h"
#include "pprof/pprof.h"

#include <jansson.h>

enum report_granularity {
	REPORT_FUNCTIONS = 0,
	REPORT_LINES,
	REPORT_FILES,
};

#define REPORT_DEFAULT_MAX_NODES     8192
#define REPORT_DEFAULT_NODE_FRACTION 0.005 /* go tool pprof's -nodefraction */
/* Flame graph and sandwich trees stop this deep: the value of a deeper
 * stack stays in its node at this depth (self), so totals still add up and
 * the JSON stays shallow enough to write. */
#define REPORT_MAX_DEPTH 1024
/* Frames a prepared view may hold (every sample's stack with inlined calls
 * expanded, counted before the filters; 4 bytes each): heap-large-001
 * (78 642 samples) has 422 164, 1/159 of it. A profile that expands past it (a location
 * with many lines in many samples) is refused with PF_ELIMIT rather than
 * exhausting memory. */
#define REPORT_MAX_FRAMES ((size_t)64 << 20)

struct report_opts {
	const char *sample_index; /* a sample type name or index; NULL/"": the
				   * default sample type, else the last */
	/* PCRE2, unanchored, over function names and file names (and mapping
	 * file names), as go tool pprof; NULL or "" for none */
	const char *focus, *ignore, *hide, *show_from;
	/* go tool pprof's -tagfocus/-tagignore: "key=re[,re..]" (a value of
	 * key matches one of them) or "re[,re..]" (each matches some
	 * "key:value"); a number or range with pprof's units ("64B",
	 * "1kb:", ":2MB", "10ms:1s") over numeric labels, scaled as pprof
	 * scales them (a label's unit: its num_unit, else its key) */
	const char *tagfocus, *tagignore;
	enum report_granularity granularity;
	double node_fraction; /* top: drop nodes whose cum is below this
			       * share of the total (< 0: the default) */
	size_t limit;         /* top: rows at most; 0 = all */
	size_t max_nodes;     /* flame graph, sandwich: nodes at most; 0 = default */
	const char *function; /* sandwich: the function (a name as top prints it) */
};

/* Defaults: everything unset, node_fraction and max_nodes at their defaults. */
void report_opts_init(struct report_opts *o);

/* "functions", "lines" or "files" (NULL or "": functions). Returns 0 or
 * PF_EINVAL with err naming the value and the choices. */
int report_granularity_parse(const char *s, enum report_granularity *g, struct pf_err *err);

struct report_prep;

/*
 * Prepare p for reports. p is borrowed only during the call; o's strings
 * too. Returns 0, or PF_EINVAL with err saying what was wrong: an unknown
 * sample type ("unknown sample_index \"x\": the profile has
 * alloc_objects, alloc_space, ..."), a regex that does not compile
 * ("bad focus regex \"(\": missing closing parenthesis at offset 1"), a
 * tag filter's regex that does not compile; or PF_ELIMIT when the
 * samples' stacks expand past REPORT_MAX_FRAMES. *out is freed with report_prep_free.
 */
int report_prep_new(const struct pprof_profile *p, const struct report_opts *o,
		    struct report_prep **out, struct pf_err *err);
void report_prep_free(struct report_prep *prep);

/* The resolved sample type and unit; borrowed until report_prep_free. */
const char *report_prep_sample_type(const struct report_prep *prep);
const char *report_prep_unit(const struct report_prep *prep);
/* pprof's total: the sum of |value| over every sample, before filters. */
int64_t report_prep_total(const struct report_prep *prep);

/*
 * {sample_type, unit, total, rows:[{name, flat, flat_pct, cum, cum_pct}]}:
 * the rows of `go tool pprof -top -nodecount=limit -nodefraction=F`, in its
 * order (|flat| descending, then name); percentages of total, the
 * unfiltered total as pprof's. *out is the caller's.
 */
int report_top(const struct report_prep *prep, json_t **out, struct pf_err *err);

/*
 * {sample_type, unit, total, trimmed:{nodes, value}, root:{name:"root", self,
 * total, children:[...]}}: every node's total is its self plus its
 * children's totals; the root's total is that of the samples the filters
 * keep (samples without frames count in the root's self). Children are
 * sorted by name. Past max_nodes nodes, the smallest (by |total|) are
 * folded into one node "other" per parent; trimmed counts the nodes folded
 * away and the sum of their totals.
 */
int report_flamegraph(const struct report_prep *prep, json_t **out, struct pf_err *err);

/*
 * {function, sample_type, unit, callers:<root>, callees:<root>, trimmed:
 * {callers:{..}, callees:{..}}}: two flame graph trees rooted at the
 * function (o->function, as top names it; an " (inline)" suffix is
 * ignored): its callees below, its callers (nearest first) above; each
 * root's total is the function's cum. PF_EINVAL when no sample the filters
 * keep passes through it, or no function was given.
 */
int report_sandwich(const struct report_prep *prep, json_t **out, struct pf_err *err);

/*
 * Diffs, target minus base. Both preps must have the same sample type and
 * unit (else PF_EINVAL naming both). Options (limit, node_fraction,
 * max_nodes) are the target's.
 * top: as `go tool pprof -top -diff_base=BASE TARGET`, except that a
 * function present on either side whose values cancel out is kept as a
 * row of zeros (go drops it), so the diff of a profile with itself lists
 * its functions with every flat and cum 0; total is the base's total (the
 * target's when the base's is 0).
 * flamegraph: every node also has base and target (its totals on each
 * side; total = target - base, self likewise) and "only": "base" or
 * "target" on a node that one side lacks.
 * sandwich: report_sandwich's trees (the target's function) over both
 * sides, their nodes as the flame graph diff's; PF_EINVAL when the
 * function is on neither side.
 */
int report_top_diff(const struct report_prep *base, const struct report_prep *target,
		    json_t **out, struct pf_err *err);
int report_flamegraph_diff(const struct report_prep *base, const struct report_prep *target,
			   json_t **out, struct pf_err *err);
int report_sandwich_diff(const struct report_prep *base, const struct report_prep *target,
			 json_t **out, struct pf_err *err);

/*
 * One function's cost over time (query_range's focus=): a focus regex
 * compiled once (report_focus_new: PF_EINVAL naming the pattern when it
 * does not compile), then for each profile the total of every sample type
 * over the samples with a frame that matches it, as go tool pprof -focus
 * keeps them (function name, file name or mapping file; unanchored).
 * totals must hold the profile's sample type count. A focus is used by one
 * thread at a time.
 */
struct report_focus;
int report_focus_new(const char *focus, struct report_focus **out, struct pf_err *err);
void report_focus_totals(struct report_focus *f, const struct pprof_profile *p, int64_t *totals);
/* Whether the focus (a struct report_focus *) matches s, a function name,
 * function file name or mapping file name (shaped for tsdb_focus). */
int report_focus_match(void *f, const char *s);
void report_focus_free(struct report_focus *f);

/*
 * {sample_types:[{type, unit}], default_sample_type, period_type:{type,
 * unit}, period, time (Unix ms), duration (ns), samples, profiles}: what
 * the profile says about itself; default_sample_type is the type
 * sample_index defaults to (the profile's own when set, else the last);
 * nprofiles is how many profiles were merged into it.
 */
json_t *report_meta(const struct pprof_profile *p, size_t nprofiles);

#endif
