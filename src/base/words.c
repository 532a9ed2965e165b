/*
 * SPEC §1 "Words": the rules a label name, a label value and a profile type
 * follow, in one place (the API, the config loader, the store and the
 * ingest path call these).
 */
#include "base/base.h"

int pf_label_name_ok(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return 0;
	}
	return 1;
}

int pf_label_name_reserved(const char *s)
{
	return s[0] == '_' && s[1] == '_';
}

int pf_label_value_ok(const char *s, size_t n)
{
	return n <= PF_MAX_LABEL_VALUE && pf_utf8_valid(s, n);
}

int pf_type_ok(const char *s)
{
	size_t n = 0;

	/* the built-in names (cpu, heap, ..., other) all match the custom rule */
	for (const char *p = s; *p; p++, n++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' ||
		      *p == '-'))
			return 0;
	return n > 0 && n <= PF_MAX_LABEL_VALUE;
}
