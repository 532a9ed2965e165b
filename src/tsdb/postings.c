/* Sorted series-id lists and the set operations selectors resolve with. */
#include "tsdb/tsdb-internal.h"

#include <stdlib.h>

void tsdb__plist_free(struct tsdb__plist *l)
{
	free(l->ids);
	l->ids = NULL;
	l->n = l->cap = 0;
}

void tsdb__plist_copy(struct tsdb__plist *dst, const uint32_t *ids, size_t n)
{
	pf_xgrow((void **)&dst->ids, &dst->cap, n, sizeof(uint32_t));
	if (n)
		memcpy(dst->ids, ids, n * sizeof(uint32_t));
	dst->n = n;
}

void tsdb__plist_intersect(struct tsdb__plist *a, const uint32_t *b, size_t nb)
{
	size_t i = 0, j = 0, k = 0;

	while (i < a->n && j < nb) {
		if (a->ids[i] < b[j]) {
			i++;
		} else if (a->ids[i] > b[j]) {
			j++;
		} else {
			a->ids[k++] = a->ids[i];
			i++;
			j++;
		}
	}
	a->n = k;
}

void tsdb__plist_subtract(struct tsdb__plist *a, const uint32_t *b, size_t nb)
{
	size_t i = 0, j = 0, k = 0;

	while (i < a->n) {
		while (j < nb && b[j] < a->ids[i])
			j++;
		if (j < nb && b[j] == a->ids[i]) {
			i++;
			continue;
		}
		a->ids[k++] = a->ids[i++];
	}
	a->n = k;
}

void tsdb__plist_union(struct tsdb__plist *a, const uint32_t *b, size_t nb)
{
	uint32_t *out;
	size_t i = 0, j = 0, k = 0, total;

	if (nb == 0)
		return;
	if (__builtin_add_overflow(a->n, nb, &total))
		abort();
	out = pf_xcalloc(total, sizeof(uint32_t));
	while (i < a->n || j < nb) {
		uint32_t v;
		if (j >= nb || (i < a->n && a->ids[i] < b[j]))
			v = a->ids[i++];
		else if (i >= a->n || b[j] < a->ids[i])
			v = b[j++];
		else {
			v = a->ids[i++];
			j++;
		}
		out[k++] = v;
	}
	free(a->ids);
	a->ids = out;
	a->n = k;
	a->cap = total;
}
