/* Errors, allocation and the arena. */
#include "base.h"

#include <stdlib.h>

int pf_err_set(struct pf_err *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		err->code = code;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

void pf_err_prefix(struct pf_err *err, const char *fmt, ...)
{
	char pre[256], old[sizeof(err->msg)];
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	size_t pl = strlen(pre), room = sizeof(err->msg) - 1;
	memcpy(old, err->msg, sizeof(old));
	old[sizeof(old) - 1] = 0;
	if (pl > room)
		pl = room;
	memcpy(err->msg, pre, pl);
	size_t ol = strnlen(old, room - pl);
	memcpy(err->msg + pl, old, ol);
	err->msg[pl + ol] = 0;
}

const char *pf_strerror(int code)
{
	switch (code) {
	case PF_OK: return "ok";
	case PF_ENOMEM: return "out of memory";
	case PF_EINVAL: return "invalid input";
	case PF_EIO: return "I/O error";
	case PF_ENOTFOUND: return "not found";
	case PF_ETOOBIG: return "too large";
	case PF_ECORRUPT: return "corrupt data";
	case PF_EMISMATCH: return "incompatible inputs";
	case PF_ECLOSED: return "closed";
	case PF_ENOSPC: return "no space left on device";
	case PF_EFUTURE: return "time too far in the future";
	case PF_ETOOOLD: return "time before the retention window";
	case PF_EBUSY: return "busy, try again later";
	case PF_ELIMIT: return "over a cap";
	case PF_ETIMEDOUT: return "deadline passed";
	case PF_ENEWER: return "format version newer than this build reads";
	case PF_ECANCELED: return "canceled";
	}
	return "unknown error";
}

static void oom(size_t n)
{
	fprintf(stderr, "profefe: out of memory allocating %zu bytes\n", n);
	abort();
}

void *pf_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *pf_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom(n * size);
	return p;
}

void *pf_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom(n);
	return q;
}

char *pf_xstrdup(const char *s)
{
	return pf_xstrndup(s, strlen(s));
}

char *pf_xstrndup(const char *s, size_t n)
{
	char *p = pf_xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

void pf_xgrow(void **p, size_t *cap, size_t need, size_t sz)
{
	size_t c = *cap ? *cap : 8, bytes;
	if (need <= *cap)
		return;
	while (c < need)
		c *= 2;
	if (__builtin_mul_overflow(c, sz, &bytes))
		oom(SIZE_MAX);
	*p = pf_xrealloc(*p, bytes);
	*cap = c;
}

/* ---- arena ---- */

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, size;
	_Alignas(16) uint8_t data[];
};

struct pf_arena {
	struct arena_chunk *head;
	size_t bytes;
};

struct pf_arena *pf_arena_new(void)
{
	return pf_xcalloc(1, sizeof(struct pf_arena));
}

void pf_arena_free(struct pf_arena *a)
{
	struct arena_chunk *c, *n;
	if (!a)
		return;
	for (c = a->head; c; c = n) {
		n = c->next;
		free(c);
	}
	free(a);
}

void *pf_arena_alloc(struct pf_arena *a, size_t n)
{
	struct arena_chunk *c = a->head;
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (!c || c->size - c->used < n) {
		size_t size = n > 60000 ? n : 64 * 1024 - sizeof(*c);
		c = pf_xmalloc(sizeof(*c) + size);
		c->size = size;
		c->used = 0;
		if (n > 60000 && a->head) {
			/* big allocation: keep the current chunk at the head */
			c->next = a->head->next;
			a->head->next = c;
		} else {
			c->next = a->head;
			a->head = c;
		}
		a->bytes += sizeof(*c) + size;
	}
	p = c->data + c->used;
	c->used += n;
	memset(p, 0, n);
	return p;
}

char *pf_arena_strndup(struct pf_arena *a, const char *s, size_t n)
{
	char *p = pf_arena_alloc(a, n + 1);
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

size_t pf_arena_bytes(const struct pf_arena *a)
{
	return a->bytes;
}
