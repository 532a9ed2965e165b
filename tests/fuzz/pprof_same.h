/*
 * Test helper (fuzz_stream and test_pprof): are two decoded profiles the
 * same, field for field? Every top-level field, every string (as the C
 * string protobuf-c keeps), mapping, function, location with its lines and
 * sample with its location ids, values and labels, in message order. So it
 * is stricter than pprof-level equality (sample types, stacks of function
 * names and lines, values, labels, mappings), which follows from it.
 * pprof_same: NULL when equal, else a static sentence naming the first
 * difference.
 */
#ifndef PF_TEST_PPROF_SAME_H
#define PF_TEST_PPROF_SAME_H

#include "pprof/pprof.h"

#include <stdio.h>

static const char *pprof_same(const pprof_msg *a, const pprof_msg *b)
{
	static char why[256];
	size_t i, j;

#define SAME(cond, ...)                                              \
	do {                                                         \
		if (!(cond)) {                                       \
			snprintf(why, sizeof(why), __VA_ARGS__);     \
			return why;                                  \
		}                                                    \
	} while (0)
	SAME(a->n_sample_type == b->n_sample_type, "sample type counts %zu, %zu", a->n_sample_type,
	     b->n_sample_type);
	for (i = 0; i < a->n_sample_type; i++)
		SAME(a->sample_type[i]->type == b->sample_type[i]->type &&
			     a->sample_type[i]->unit == b->sample_type[i]->unit,
		     "sample_type %zu", i);
	SAME(!a->period_type == !b->period_type, "period_type present in one only");
	if (a->period_type)
		SAME(a->period_type->type == b->period_type->type &&
			     a->period_type->unit == b->period_type->unit,
		     "period_type");
	SAME(a->drop_frames == b->drop_frames && a->keep_frames == b->keep_frames &&
		     a->time_nanos == b->time_nanos && a->duration_nanos == b->duration_nanos &&
		     a->period == b->period && a->default_sample_type == b->default_sample_type,
	     "a scalar header field");
	SAME(a->n_comment == b->n_comment, "comment counts");
	for (i = 0; i < a->n_comment; i++)
		SAME(a->comment[i] == b->comment[i], "comment %zu", i);
	SAME(a->n_string_table == b->n_string_table, "string counts %zu, %zu", a->n_string_table,
	     b->n_string_table);
	for (i = 0; i < a->n_string_table; i++)
		SAME(strcmp(a->string_table[i], b->string_table[i]) == 0, "string %zu: \"%.40s\", \"%.40s\"",
		     i, a->string_table[i], b->string_table[i]);
	SAME(a->n_mapping == b->n_mapping, "mapping counts");
	for (i = 0; i < a->n_mapping; i++) {
		const Perftools__Profiles__Mapping *x = a->mapping[i], *y = b->mapping[i];
		SAME(x->id == y->id && x->memory_start == y->memory_start &&
			     x->memory_limit == y->memory_limit && x->file_offset == y->file_offset &&
			     x->filename == y->filename && x->build_id == y->build_id &&
			     !x->has_functions == !y->has_functions && !x->has_filenames == !y->has_filenames &&
			     !x->has_line_numbers == !y->has_line_numbers &&
			     !x->has_inline_frames == !y->has_inline_frames,
		     "mapping %zu", i);
	}
	SAME(a->n_function == b->n_function, "function counts");
	for (i = 0; i < a->n_function; i++) {
		const Perftools__Profiles__Function *x = a->function[i], *y = b->function[i];
		SAME(x->id == y->id && x->name == y->name && x->system_name == y->system_name &&
			     x->filename == y->filename && x->start_line == y->start_line,
		     "function %zu", i);
	}
	SAME(a->n_location == b->n_location, "location counts");
	for (i = 0; i < a->n_location; i++) {
		const Perftools__Profiles__Location *x = a->location[i], *y = b->location[i];
		SAME(x->id == y->id && x->mapping_id == y->mapping_id && x->address == y->address &&
			     !x->is_folded == !y->is_folded && x->n_line == y->n_line,
		     "location %zu", i);
		for (j = 0; j < x->n_line; j++)
			SAME(x->line[j]->function_id == y->line[j]->function_id &&
				     x->line[j]->line == y->line[j]->line && x->line[j]->column == y->line[j]->column,
			     "location %zu line %zu", i, j);
	}
	SAME(a->n_sample == b->n_sample, "sample counts %zu, %zu", a->n_sample, b->n_sample);
	for (i = 0; i < a->n_sample; i++) {
		const Perftools__Profiles__Sample *x = a->sample[i], *y = b->sample[i];
		SAME(x->n_location_id == y->n_location_id && x->n_value == y->n_value &&
			     x->n_label == y->n_label,
		     "sample %zu counts", i);
		for (j = 0; j < x->n_location_id; j++)
			SAME(x->location_id[j] == y->location_id[j], "sample %zu location %zu", i, j);
		for (j = 0; j < x->n_value; j++)
			SAME(x->value[j] == y->value[j], "sample %zu value %zu", i, j);
		for (j = 0; j < x->n_label; j++)
			SAME(x->label[j]->key == y->label[j]->key && x->label[j]->str == y->label[j]->str &&
				     x->label[j]->num == y->label[j]->num &&
				     x->label[j]->num_unit == y->label[j]->num_unit,
			     "sample %zu label %zu", i, j);
	}
#undef SAME
	return NULL;
}

#endif
