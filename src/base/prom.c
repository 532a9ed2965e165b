/* Pieces of the Prometheus text format shared by the /metrics writers. */
#include "base.h"

void pf_prom_label_value(struct pf_buf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			pf_buf_printf(b, "\\%c", *v);
		else if (*v == '\n')
			pf_buf_printf(b, "\\n");
		else
			pf_buf_putc(b, (uint8_t)*v);
	}
}

size_t pf_prom_bucket(const double *bounds, size_t nb, double v)
{
	size_t i = 0;
	while (i < nb && v > bounds[i])
		i++;
	return i;
}

/* "{label="value"," (or "{" without a label) */
static void open_labels(struct pf_buf *b, const char *metric, const char *suffix,
			const char *label, const char *value)
{
	pf_buf_printf(b, "%s%s{", metric, suffix);
	if (label) {
		pf_buf_printf(b, "%s=\"", label);
		pf_prom_label_value(b, value);
		pf_buf_printf(b, "\"");
	}
}

void pf_prom_histogram(struct pf_buf *b, const char *metric, const char *label,
		       const char *value, const double *bounds, size_t nb, const uint64_t *buckets,
		       double sum)
{
	uint64_t cum = 0;

	for (size_t i = 0; i <= nb; i++) {
		cum += buckets[i];
		open_labels(b, metric, "_bucket", label, value);
		if (label)
			pf_buf_putc(b, ',');
		if (i < nb)
			pf_buf_printf(b, "le=\"%g\"} %llu\n", bounds[i], (unsigned long long)cum);
		else
			pf_buf_printf(b, "le=\"+Inf\"} %llu\n", (unsigned long long)cum);
	}
	if (label) {
		open_labels(b, metric, "_sum", label, value);
		pf_buf_printf(b, "} %.6f\n", sum);
		open_labels(b, metric, "_count", label, value);
		pf_buf_printf(b, "} %llu\n", (unsigned long long)cum);
	} else {
		pf_buf_printf(b, "%s_sum %.6f\n%s_count %llu\n", metric, sum, metric,
			      (unsigned long long)cum);
	}
}
