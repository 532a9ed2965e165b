/* Label sets: validation, canonical order, encoding and hashing. */
#include "tsdb/tsdb-internal.h"

#include <stdlib.h>

/* SPEC §1's rule (pf_label_name_ok), and the store's cap on a name's length */
int tsdb__label_name_ok(const char *s, size_t n)
{
	return n <= TSDB__MAX_NAME_LEN && pf_label_name_ok(s, n);
}

static int cmp_label_ptr(const void *a, const void *b)
{
	const struct tsdb_label *x = *(const struct tsdb_label *const *)a;
	const struct tsdb_label *y = *(const struct tsdb_label *const *)b;
	return strcmp(x->name, y->name);
}

int tsdb__labels_sort_check(const struct tsdb_label *labels, size_t nlabels,
			    const struct tsdb_label **sorted, struct pf_err *err)
{
	int have_service = 0, have_type = 0;

	if (nlabels > TSDB__MAX_LABELS)
		return pf_err_set(err, PF_EINVAL, "too many labels: %zu (at most %d)", nlabels,
				  TSDB__MAX_LABELS);
	for (size_t i = 0; i < nlabels; i++) {
		const struct tsdb_label *l = &labels[i];
		if (!l->name || !l->value)
			return pf_err_set(err, PF_EINVAL, "label %zu has no name or value", i);
		if (!tsdb__label_name_ok(l->name, strlen(l->name)))
			return pf_err_set(err, PF_EINVAL, "bad label name \"%.64s\"", l->name);
		size_t vl = strlen(l->value);
		if (vl == 0)
			return pf_err_set(err, PF_EINVAL, "label %s has an empty value", l->name);
		if (vl > TSDB__MAX_VALUE_LEN)
			return pf_err_set(err, PF_EINVAL, "label %s: value longer than %d bytes",
					  l->name, TSDB__MAX_VALUE_LEN);
		if (!pf_label_value_ok(l->value, vl))
			return pf_err_set(err, PF_EINVAL, "label %s: value is not valid UTF-8", l->name);
		if (strcmp(l->name, "service") == 0)
			have_service = 1;
		else if (strcmp(l->name, "type") == 0)
			have_type = 1;
		sorted[i] = l;
	}
	if (!have_service || !have_type)
		return pf_err_set(err, PF_EINVAL, "labels need \"service\" and \"type\"");
	qsort(sorted, nlabels, sizeof(*sorted), cmp_label_ptr);
	for (size_t i = 1; i < nlabels; i++)
		if (strcmp(sorted[i - 1]->name, sorted[i]->name) == 0)
			return pf_err_set(err, PF_EINVAL, "duplicate label name \"%s\"",
					  sorted[i]->name);
	return 0;
}

int tsdb__labels_encode(struct pf_buf *b, const struct tsdb_label *const *sorted, size_t n)
{
	int rc = pf_buf_put_uvarint(b, n);
	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = pf_buf_put_bytes(b, sorted[i]->name, strlen(sorted[i]->name));
		if (rc == 0)
			rc = pf_buf_put_bytes(b, sorted[i]->value, strlen(sorted[i]->value));
	}
	return rc;
}

uint64_t tsdb__labels_hash(const void *enc, size_t n)
{
	return pf_hash64(enc, n, TSDB__LABELS_HASH_SEED);
}
