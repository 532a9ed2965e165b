/* Capped growable buffer and bounds-checked readers. */
#include "base.h"

#include <stdlib.h>

void pf_buf_init(struct pf_buf *b, size_t max)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->max = max;
}

int pf_buf_reserve(struct pf_buf *b, size_t n)
{
	size_t need, max = b->max ? b->max : SIZE_MAX, c;
	uint8_t *p;

	if (__builtin_add_overflow(b->len, n, &need) || need > max)
		return PF_ETOOBIG;
	if (need <= b->cap)
		return 0;
	c = b->cap ? b->cap : 256;
	while (c < need)
		c = c > SIZE_MAX / 2 ? need : c * 2;
	if (c > max)
		c = max;
	p = realloc(b->data, c);
	if (!p)
		return PF_ENOMEM;
	b->data = p;
	b->cap = c;
	return 0;
}

int pf_buf_append(struct pf_buf *b, const void *p, size_t n)
{
	int rc;
	if (n == 0)
		return 0;
	if ((rc = pf_buf_reserve(b, n)) < 0)
		return rc;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int pf_buf_putc(struct pf_buf *b, uint8_t c)
{
	return pf_buf_append(b, &c, 1);
}

int pf_buf_printf(struct pf_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return PF_EINVAL;
	if ((rc = pf_buf_reserve(b, (size_t)n + 1)) < 0)
		return rc;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

size_t pf_put_uvarint(uint8_t *p, uint64_t v)
{
	size_t i = 0;
	while (v >= 0x80) {
		p[i++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[i++] = (uint8_t)v;
	return i;
}

int pf_buf_put_uvarint(struct pf_buf *b, uint64_t v)
{
	uint8_t tmp[10];
	return pf_buf_append(b, tmp, pf_put_uvarint(tmp, v));
}

int pf_buf_put_le32(struct pf_buf *b, uint32_t v)
{
	uint8_t tmp[4];
	pf_put_le32(tmp, v);
	return pf_buf_append(b, tmp, 4);
}

int pf_buf_put_le64(struct pf_buf *b, uint64_t v)
{
	uint8_t tmp[8];
	pf_put_le64(tmp, v);
	return pf_buf_append(b, tmp, 8);
}

int pf_buf_put_bytes(struct pf_buf *b, const void *p, size_t n)
{
	int rc = pf_buf_put_uvarint(b, n);
	return rc < 0 ? rc : pf_buf_append(b, p, n);
}

void pf_buf_reset(struct pf_buf *b)
{
	b->len = 0;
}

void pf_buf_free(struct pf_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

uint8_t *pf_buf_steal(struct pf_buf *b, size_t *len)
{
	uint8_t *p = b->data;
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

uint8_t pf_read_u8(struct pf_reader *r)
{
	if (r->bad || r->p >= r->end) {
		r->bad = 1;
		return 0;
	}
	return *r->p++;
}

uint32_t pf_read_le32(struct pf_reader *r)
{
	uint32_t v;
	if (r->bad || pf_reader_left(r) < 4) {
		r->bad = 1;
		return 0;
	}
	v = pf_get_le32(r->p);
	r->p += 4;
	return v;
}

uint64_t pf_read_le64(struct pf_reader *r)
{
	uint64_t v;
	if (r->bad || pf_reader_left(r) < 8) {
		r->bad = 1;
		return 0;
	}
	v = pf_get_le64(r->p);
	r->p += 8;
	return v;
}

uint64_t pf_read_uvarint(struct pf_reader *r)
{
	uint64_t v = 0;
	unsigned shift = 0;
	while (!r->bad) {
		uint8_t c;
		if (r->p >= r->end || shift > 63) {
			r->bad = 1;
			break;
		}
		c = *r->p++;
		if (shift == 63 && c > 1) {
			r->bad = 1;
			break;
		}
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
		shift += 7;
	}
	return 0;
}

const uint8_t *pf_read_raw(struct pf_reader *r, size_t n)
{
	const uint8_t *p;
	if (r->bad || pf_reader_left(r) < n) {
		r->bad = 1;
		return NULL;
	}
	p = r->p;
	r->p += n;
	return p;
}

const uint8_t *pf_read_bytes(struct pf_reader *r, size_t *n)
{
	uint64_t len = pf_read_uvarint(r);
	if (r->bad || len > pf_reader_left(r)) {
		r->bad = 1;
		*n = 0;
		return NULL;
	}
	*n = (size_t)len;
	return pf_read_raw(r, (size_t)len);
}
