/* Base62 over a big-endian byte string, fixed width for a given length. */
#include "base.h"

static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* Characters needed for n bytes: ceil(n * 8 / log2(62)). */
static size_t enc_len(size_t n)
{
	/* log2(62) = 5.954196...; use 5954 / 1000 with rounding up */
	return (n * 8 * 1000 + 5953) / 5954;
}

size_t pf_base62_encode(const uint8_t *in, size_t n, char *out, size_t outsz)
{
	uint8_t num[64];
	size_t len = enc_len(n);

	if (n > sizeof(num) || outsz < len + 1)
		return 0;
	memcpy(num, in, n);
	for (size_t i = len; i-- > 0;) {
		unsigned rem = 0;
		for (size_t j = 0; j < n; j++) {
			unsigned cur = rem * 256 + num[j];
			num[j] = (uint8_t)(cur / 62);
			rem = cur % 62;
		}
		out[i] = alphabet[rem];
	}
	out[len] = 0;
	return len;
}

int pf_base62_decode(const char *s, size_t slen, uint8_t *out, size_t n)
{
	if (slen != enc_len(n))
		return PF_EINVAL;
	memset(out, 0, n);
	for (size_t i = 0; i < slen; i++) {
		char c = s[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'A' && c <= 'Z')
			d = (unsigned)(c - 'A') + 10;
		else if (c >= 'a' && c <= 'z')
			d = (unsigned)(c - 'a') + 36;
		else
			return PF_EINVAL;
		/* out = out * 62 + d */
		unsigned carry = d;
		for (size_t j = n; j-- > 0;) {
			unsigned cur = out[j] * 62u + carry;
			out[j] = (uint8_t)cur;
			carry = cur >> 8;
		}
		if (carry)
			return PF_EINVAL;
	}
	return 0;
}
