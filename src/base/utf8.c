/*
 * UTF-8 as jansson and Go's encoding/json take it: overlong forms,
 * surrogates and code points above U+10FFFF are not UTF-8; where a string
 * must be carried anyway, each byte that does not start a valid sequence
 * becomes U+FFFD, as Go's encoding/json writes it.
 */
#include "base/base.h"

size_t pf_utf8_seq(const void *s, size_t left)
{
	const unsigned char *p = s;
	unsigned c;
	uint32_t cp, min;
	size_t n;

	if (!left)
		return 0;
	c = p[0];
	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0)
		n = 2, cp = c & 0x1f, min = 0x80;
	else if ((c & 0xf0) == 0xe0)
		n = 3, cp = c & 0x0f, min = 0x800;
	else if ((c & 0xf8) == 0xf0)
		n = 4, cp = c & 0x07, min = 0x10000;
	else
		return 0;
	if (left < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

int pf_utf8_valid(const void *s, size_t n)
{
	const unsigned char *p = s;

	for (size_t k; n; p += k, n -= k)
		if (!(k = pf_utf8_seq(p, n)))
			return 0;
	return 1;
}

int pf_utf8_fix(struct pf_buf *out, const void *s, size_t n)
{
	const unsigned char *p = s;

	for (size_t k; n; p += k, n -= k) {
		int rc;
		if ((k = pf_utf8_seq(p, n))) {
			rc = pf_buf_append(out, p, k);
		} else {
			rc = pf_buf_append(out, "\xef\xbf\xbd", 3);
			k = 1;
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}
