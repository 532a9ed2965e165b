/*
 * `profefe import`: the walk, what each file is, the two ends (a server
 * over HTTP with curl multi, or a store directory), the progress bar and
 * the summary. See import.h.
 */
#include "import/import.h"
#include "bundle/bundle.h"
#include "ingest/ingest.h"

#include <curl/curl.h>
#include <dirent.h>
#include <inttypes.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#define MAX_LINES 1000                 /* skipped (and failed) lines printed; then counted */
#define MAX_REPLY ((size_t)16 << 20)  /* bytes of a server's reply */
#define MAX_TRIES 6                    /* sends of a file the server answered 503 */
#define PROGRESS_NS 100000000          /* the bar is drawn at most every 100 ms */
#define QUEUE_MAX_BYTES ((uint64_t)256 << 20) /* of the files read ahead */

/* ---- what a file is ---------------------------------------------------- */

enum import_kind import_sniff(const void *data, size_t len)
{
	const uint8_t *p = data;

	if (len >= 4 && p[0] == 'P' && p[1] == 'K' &&
	    ((p[2] == 3 && p[3] == 4) || (p[2] == 5 && p[3] == 6)))
		return IMPORT_BUNDLE;
	if (ingest_is_go_trace(data, len))
		return IMPORT_TRACE;
	return IMPORT_PPROF;
}

/* A profile's sample types and default sample type, as the inference
 * reads them (borrowed). */
struct sample_types {
	const char *type[PPROF_MAX_SAMPLE_TYPES];
	const char *unit[PPROF_MAX_SAMPLE_TYPES];
	size_t n;
	const char *dflt;
};

/* 1 when the sample types are exactly want[0..n) (type/unit). */
static int types_are(const struct sample_types *st, const char *const *want, size_t n)
{
	if (st->n != n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		const char *slash = strchr(want[i], '/');
		size_t tl = (size_t)(slash - want[i]);
		if (strlen(st->type[i]) != tl || strncmp(st->type[i], want[i], tl) != 0 ||
		    strcmp(st->unit[i], slash + 1) != 0)
			return 0;
	}
	return 1;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

static int infer_from(const struct sample_types *st, const char *name, char *type, size_t n,
		      char *why, size_t wn)
{
	static const char *const cpu[] = {"samples/count", "cpu/nanoseconds"};
	static const char *const heap[] = {"alloc_objects/count", "alloc_space/bytes",
					   "inuse_objects/count", "inuse_space/bytes"};
	static const char *const goroutine[] = {"goroutine/count"};
	static const char *const threadcreate[] = {"threadcreate/count"};
	static const char *const contention[] = {"contentions/count", "delay/nanoseconds"};
	const char *t = NULL;

	if (types_are(st, cpu, 2)) {
		t = "cpu";
	} else if (types_are(st, heap, 4)) {
		/* the same sample types: the runtime's allocs sets the default;
		 * a delta (allocs?seconds=N) does not, its name may say */
		t = strcmp(st->dflt, "alloc_space") == 0 || strcmp(st->dflt, "alloc_objects") == 0 ||
				    strstr(base_name(name), "allocs")
			    ? "allocs"
			    : "heap";
	} else if (types_are(st, goroutine, 1)) {
		t = "goroutine";
	} else if (types_are(st, threadcreate, 1)) {
		t = "threadcreate";
	} else if (types_are(st, contention, 2)) {
		const char *b = base_name(name);
		int is_block = strstr(b, "block") != NULL, is_mutex = strstr(b, "mutex") != NULL;
		if (is_block != is_mutex) {
			t = is_block ? "block" : "mutex";
		} else {
			snprintf(why, wn, "block and mutex profiles have the same sample types (contentions/count, delay/nanoseconds) and the file name says %s: give -type block or -type mutex, or name the file ...block... or ...mutex...",
				 is_block ? "both" : "neither");
			return PF_ENOTFOUND;
		}
	}
	if (!t) {
		struct pf_buf b = PF_BUF_INIT(0);
		for (size_t i = 0; i < st->n && i < 8; i++)
			pf_buf_printf(&b, "%s%s/%s", i ? ", " : "", st->type[i], st->unit[i]);
		snprintf(why, wn, "cannot tell the type from the sample types (%.*s): give -type",
			 (int)(b.len > 300 ? 300 : b.len), b.data ? (const char *)b.data : "");
		pf_buf_free(&b);
		return PF_ENOTFOUND;
	}
	snprintf(type, n, "%s", t);
	return 0;
}

int import_infer_type(const struct pprof_profile *p, const char *name, char *type, size_t n,
		      char *why, size_t wn)
{
	const pprof_msg *m = pprof_message(p);
	struct sample_types st = {.n = PF_MIN(m->n_sample_type, (size_t)PPROF_MAX_SAMPLE_TYPES)};

	for (size_t i = 0; i < st.n; i++) {
		st.type[i] = pprof_string(p, m->sample_type[i]->type);
		st.unit[i] = pprof_string(p, m->sample_type[i]->unit);
	}
	st.dflt = pprof_string(p, m->default_sample_type);
	return infer_from(&st, name, type, n, why, wn);
}

/* ---- a quick look at a pprof file --------------------------------------- */

/*
 * The sample types, default sample type and whether there are samples,
 * from one pass over the top-level protobuf fields of the inflated body,
 * unpacking nothing else (the server decodes and validates it whole).
 * Strings are copied into names. Returns 0, or -1 when the body is not
 * what this pass understands (the full decode then says why).
 */
static int get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t x = 0;
	for (int shift = 0; shift < 64 && *p < end; shift += 7) {
		uint8_t b = *(*p)++;
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

static int skip_field(const uint8_t **p, const uint8_t *end, int wt)
{
	uint64_t v;

	switch (wt) {
	case 0:
		return get_varint(p, end, &v);
	case 1:
		if (end - *p < 8)
			return -1;
		*p += 8;
		return 0;
	case 5:
		if (end - *p < 4)
			return -1;
		*p += 4;
		return 0;
	case 2:
		if (get_varint(p, end, &v) < 0 || v > (uint64_t)(end - *p))
			return -1;
		*p += v;
		return 0;
	}
	return -1;
}

static int peek_types(const uint8_t *data, size_t len, struct sample_types *st, size_t *nsamples,
		      struct pf_buf *names)
{
	const uint8_t *p = data, *end = data + len;
	uint64_t ti[PPROF_MAX_SAMPLE_TYPES], ui[PPROF_MAX_SAMPLE_TYPES], dflt = 0, key, v;
	const uint8_t **str = NULL;
	size_t *slen = NULL, nstr = 0, cap = 0, off[2 * PPROF_MAX_SAMPLE_TYPES + 1];
	size_t scap = 0;
	int rc = -1;

	st->n = 0;
	*nsamples = 0;
	while (p < end) {
		if (get_varint(&p, end, &key) < 0)
			goto out;
		if ((key >> 3) == 1 && (key & 7) == 2) { /* sample_type: ValueType */
			const uint8_t *q, *qe;
			if (get_varint(&p, end, &v) < 0 || v > (uint64_t)(end - p) ||
			    st->n >= PPROF_MAX_SAMPLE_TYPES)
				goto out;
			q = p;
			qe = p + v;
			p = qe;
			ti[st->n] = ui[st->n] = 0;
			while (q < qe) {
				uint64_t k2, x;
				if (get_varint(&q, qe, &k2) < 0)
					goto out;
				if ((k2 & 7) == 0 && ((k2 >> 3) == 1 || (k2 >> 3) == 2)) {
					if (get_varint(&q, qe, &x) < 0)
						goto out;
					if ((k2 >> 3) == 1)
						ti[st->n] = x;
					else
						ui[st->n] = x;
				} else if (skip_field(&q, qe, (int)(k2 & 7)) < 0) {
					goto out;
				}
			}
			st->n++;
		} else if ((key >> 3) == 2 && (key & 7) == 2) { /* sample */
			(*nsamples)++;
			if (skip_field(&p, end, 2) < 0)
				goto out;
		} else if ((key >> 3) == 6 && (key & 7) == 2) { /* string_table */
			if (get_varint(&p, end, &v) < 0 || v > (uint64_t)(end - p))
				goto out;
			pf_xgrow((void **)&str, &cap, nstr + 1, sizeof(*str));
			if (scap != cap) {
				slen = realloc(slen, cap * sizeof(*slen));
				if (!slen)
					abort();
				scap = cap;
			}
			str[nstr] = p;
			slen[nstr++] = (size_t)v;
			p += v;
		} else if ((key >> 3) == 14 && (key & 7) == 0) { /* default_sample_type */
			if (get_varint(&p, end, &dflt) < 0)
				goto out;
		} else if (skip_field(&p, end, (int)(key & 7)) < 0) {
			goto out;
		}
	}
	/* the names, copied out NUL-terminated */
	pf_buf_reset(names);
	for (size_t i = 0; i < 2 * st->n + 1; i++) {
		uint64_t idx = i == 2 * st->n ? dflt : (i & 1) ? ui[i / 2] : ti[i / 2];
		off[i] = names->len;
		if (idx >= nstr)
			goto out;
		if (pf_buf_append(names, str[idx], slen[idx]) < 0 || pf_buf_putc(names, 0) < 0)
			goto out;
	}
	for (size_t i = 0; i < st->n; i++) {
		st->type[i] = (const char *)names->data + off[2 * i];
		st->unit[i] = (const char *)names->data + off[2 * i + 1];
	}
	st->dflt = (const char *)names->data + off[2 * st->n];
	rc = 0;
out:
	free(str);
	free(slen);
	return rc;
}

int import_label_parse(const char *kv, char *name, size_t n, struct tsdb_label *out,
		       struct pf_err *err)
{
	const char *eq = strchr(kv, '=');
	size_t nl = eq ? (size_t)(eq - kv) : 0;

	if (!eq || nl == 0)
		return pf_err_set(err, PF_EINVAL, "-label \"%.100s\": want name=value", kv);
	if (nl + 1 > n)
		return pf_err_set(err, PF_EINVAL, "-label \"%.100s\": the name is too long", kv);
	memcpy(name, kv, nl);
	name[nl] = 0;
	for (size_t i = 0; i < nl; i++) {
		char ch = name[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
		      (i > 0 && ch >= '0' && ch <= '9')))
			return pf_err_set(err, PF_EINVAL, "-label \"%.100s\": invalid label name \"%s\": want [a-zA-Z_][a-zA-Z0-9_]*",
					  kv, name);
	}
	if (strncmp(name, "__", 2) == 0)
		return pf_err_set(err, PF_EINVAL, "-label \"%.100s\": label name \"%s\" is reserved (starts with __)", kv, name);
	if (strcmp(name, "service") == 0 || strcmp(name, "type") == 0 || strcmp(name, "job") == 0)
		return pf_err_set(err, PF_EINVAL, "-label \"%.100s\": label \"%s\" cannot be set with -label (use -service or -type)",
				  kv, name);
	if (!eq[1] || strlen(eq + 1) > 1024 || !pf_utf8_valid(eq + 1, strlen(eq + 1)))
		return pf_err_set(err, PF_EINVAL, "-label \"%.100s\": the value must be UTF-8 of 1 to 1024 bytes", kv);
	out->name = name;
	out->value = eq + 1;
	return 0;
}

/* ---- the walk ---------------------------------------------------------- */

struct frame {
	char *dir;
	struct dirent **names;
	int n, i;
};

struct walker {
	char *const *paths;
	size_t npaths, next;
	struct frame *stack;
	size_t depth, cap;
};

static int visible(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

static char *join(const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	char *s = pf_xmalloc(a + b + 2);
	memcpy(s, dir, a);
	s[a] = '/';
	memcpy(s + a + 1, name, b + 1);
	if (a && dir[a - 1] == '/') /* "dir/" given */
		memmove(s + a, s + a + 1, b + 1);
	return s;
}

static void walk_push(struct walker *w, char *dir, struct pf_err *err)
{
	struct dirent **names = NULL;
	int n = scandir(dir, &names, visible, alphasort);

	if (n < 0) {
		pf_err_set(err, PF_EIO, "cannot read the directory: %s", strerror(errno));
		free(dir);
		return;
	}
	pf_xgrow((void **)&w->stack, &w->cap, w->depth + 1, sizeof(*w->stack));
	w->stack[w->depth++] = (struct frame){dir, names, n, 0};
}

static void frame_free(struct frame *f)
{
	for (int i = 0; i < f->n; i++)
		free(f->names[i]);
	free(f->names);
	free(f->dir);
}

/*
 * The next regular file, in name order within each directory: 1 with
 * *path (the caller's) and *st; 0 when done; -1 for a path that cannot be
 * walked, *path and err saying why (the walk goes on).
 */
static int walk_next(struct walker *w, char **path, struct stat *st, struct pf_err *err)
{
	*path = NULL;
	for (;;) {
		if (w->depth > 0) {
			struct frame *f = &w->stack[w->depth - 1];
			char *p;

			if (f->i >= f->n) {
				frame_free(f);
				w->depth--;
				continue;
			}
			p = join(f->dir, f->names[f->i++]->d_name);
			if (lstat(p, st) < 0) {
				*path = p;
				return pf_err_set(err, PF_EIO, "%s", strerror(errno)), -1;
			}
			if (S_ISDIR(st->st_mode)) {
				err->msg[0] = 0;
				walk_push(w, pf_xstrdup(p), err);
				if (err->msg[0]) {
					*path = p;
					return -1;
				}
				free(p);
				continue;
			}
			if (S_ISLNK(st->st_mode) && stat(p, st) == 0 && S_ISREG(st->st_mode)) {
				*path = p;
				return 1;
			}
			if (!S_ISREG(st->st_mode)) { /* sockets, fifos, links to directories */
				free(p);
				continue;
			}
			*path = p;
			return 1;
		}
		if (w->next >= w->npaths)
			return 0;
		{
			const char *a = w->paths[w->next++];
			if (stat(a, st) < 0) {
				*path = pf_xstrdup(a);
				return pf_err_set(err, PF_EIO, "%s", strerror(errno)), -1;
			}
			if (S_ISDIR(st->st_mode)) {
				err->msg[0] = 0;
				walk_push(w, pf_xstrdup(a), err);
				if (err->msg[0]) {
					*path = pf_xstrdup(a);
					return -1;
				}
				continue;
			}
			*path = pf_xstrdup(a);
			if (!S_ISREG(st->st_mode))
				return pf_err_set(err, PF_EINVAL, "not a regular file or a directory"), -1;
			return 1;
		}
	}
}

static void walk_finish(struct walker *w)
{
	while (w->depth > 0)
		frame_free(&w->stack[--w->depth]);
	free(w->stack);
	w->stack = NULL;
}

/* ---- the run's state --------------------------------------------------- */

struct job {
	int state; /* 0 free, 1 sending, 2 waiting to be sent again */
	CURL *h;
	char *path;
	char *url;
	uint8_t *body;
	size_t len;
	uint64_t size; /* on disk, for the progress */
	struct pf_buf reply;
	int tries;
	int64_t retry_at;
};

struct import {
	const struct import_options *o;
	struct import_counts *c;
	struct store *db;
	CURLM *multi;
	struct curl_slist *hdrs;
	char *base;     /* the server's URL without a trailing / */
	char *labels_q; /* the labels parameter, escaped for a query */
	char *service_q;
	struct job *jobs;
	size_t njobs;
	unsigned nlines_skipped, nlines_failed;
	/* the progress */
	uint64_t total_files, total_bytes, done_files, done_bytes;
	int64_t t0, last_draw;
	int bar_shown;
};

static void clear_bar(struct import *im)
{
	if (im->bar_shown) {
		fputs("\r\033[K", im->o->err_out);
		im->bar_shown = 0;
	}
}

static void human_bytes(uint64_t b, char *out, size_t n)
{
	if (b < 1024)
		snprintf(out, n, "%" PRIu64 " B", b);
	else if (b < (uint64_t)1 << 20)
		snprintf(out, n, "%.1f KB", b / 1024.0);
	else if (b < (uint64_t)1 << 30)
		snprintf(out, n, "%.1f MB", b / 1048576.0);
	else
		snprintf(out, n, "%.2f GB", b / 1073741824.0);
}

static void draw_bar(struct import *im, int force)
{
	int64_t now = pf_mono_ns();
	double el, rate, frac;
	char done[32], total[32], eta[32] = "--:--";
	int width = 24, fill;

	if (!im->o->progress || (!force && now - im->last_draw < PROGRESS_NS))
		return;
	im->last_draw = now;
	el = (now - im->t0) / 1e9;
	rate = el > 0 ? im->done_files / el : 0;
	frac = im->total_bytes ? (double)im->done_bytes / (double)im->total_bytes
	       : im->total_files ? (double)im->done_files / (double)im->total_files : 1;
	if (frac > 1)
		frac = 1;
	if (frac >= 1) {
		snprintf(eta, sizeof(eta), "0:00");
	} else if (frac > 0 && el > 0.2) {
		long s = (long)(el / frac - el + 0.5);
		snprintf(eta, sizeof(eta), "%ld:%02ld", s / 60, s % 60);
	}
	fill = (int)(frac * width);
	human_bytes(im->done_bytes, done, sizeof(done));
	human_bytes(im->total_bytes, total, sizeof(total));
	fprintf(im->o->err_out, "\r[%.*s%.*s] %" PRIu64 "/%" PRIu64 " files  %s/%s  %.0f files/s %.1f MB/s  ETA %s\033[K",
		fill, "########################", width - fill, "------------------------",
		im->done_files, im->total_files, done, total, rate,
		el > 0 ? im->done_bytes / el / 1048576.0 : 0.0, eta);
	fflush(im->o->err_out);
	im->bar_shown = 1;
}

__attribute__((format(printf, 4, 5))) static void line(struct import *im, const char *what,
						       unsigned *nlines, const char *fmt, ...)
{
	va_list ap;

	if (*nlines >= MAX_LINES) {
		if (*nlines == MAX_LINES) {
			clear_bar(im);
			fprintf(im->o->out, "%s: more than %d; the rest are only counted\n", what, MAX_LINES);
		}
		(*nlines)++;
		return;
	}
	(*nlines)++;
	clear_bar(im);
	fprintf(im->o->out, "%-8s", what);
	va_start(ap, fmt);
	vfprintf(im->o->out, fmt, ap);
	va_end(ap);
	fputc('\n', im->o->out);
}

static void skipped(struct import *im, const char *path, const char *entry, const char *reason)
{
	im->c->skipped++;
	line(im, "skipped", &im->nlines_skipped, "%s%s%s: %s", path, entry && *entry ? " " : "",
	     entry ? entry : "", reason);
}

static void failed(struct import *im, const char *path, const char *reason)
{
	im->c->failed++;
	line(im, "failed", &im->nlines_failed, "%s: %s", path, reason);
}

/* One profile's fate as a reason says it ("already stored" or a skip). */
static void outcome(struct import *im, const char *path, const char *entry, const char *reason)
{
	if (strcmp(reason, "already stored") == 0)
		im->c->already++;
	else
		skipped(im, path, entry, reason);
}

static void file_done(struct import *im, uint64_t size)
{
	im->done_files++;
	im->done_bytes += size;
	draw_bar(im, 0);
}

int import_pprof_type(const void *data, size_t len, size_t max, const char *name, char *type,
		      size_t n, char *why, size_t wn)
{
	struct pf_buf names = PF_BUF_INIT(0);
	struct pprof_limits lim = {.max_decompressed = max};
	struct pprof_inflated raw = {0};
	struct pprof_profile *p = NULL;
	struct sample_types st;
	struct pf_err err = {0};
	size_t nsamples = 0;
	int ok, rc;

	/* a quick look at the top-level fields; what that cannot read, the
	 * full decode explains */
	if (pprof_is_gzip(data, len))
		ok = pprof_inflate_limited(data, len, &lim, &raw, &err) == 0 &&
		     peek_types(raw.data, raw.len, &st, &nsamples, &names) == 0;
	else
		ok = peek_types(data, len, &st, &nsamples, &names) == 0;
	pprof_inflated_free(&raw);
	/* a type: the server decodes and checks the rest; no type (a skip):
	 * the full decode says whether the file is a valid profile at all */
	if (ok && nsamples > 0 && infer_from(&st, name, type, n, why, wn) == 0) {
		pf_buf_free(&names);
		return 0;
	}
	pf_buf_free(&names);
	if ((rc = pprof_decode(data, len, max, &p, &err)) < 0) {
		snprintf(why, wn, "%s%s", rc == PF_EINVAL ? "could not parse pprof profile: " : "", err.msg);
		return rc == PF_ENOTFOUND ? PF_EINVAL : rc;
	}
	if (pprof_sample_count(p) == 0) {
		snprintf(why, wn, "profile has no samples");
		rc = PF_ENOTFOUND;
	} else {
		rc = import_infer_type(p, name, type, n, why, wn);
	}
	pprof_free(p);
	return rc;
}

/* ---- a file, read and classified --------------------------------------- */

enum settle { GO_ON = 0, SKIP, FAIL };

struct item {
	char *path;
	uint8_t *data;
	size_t len;
	uint64_t size;
	enum import_kind kind;
	char type[BUNDLE_MAX_TYPE + 16];
	int64_t t_ns; /* the file's mtime: the time of a body without its own */
	enum settle settle;
	char reason[640];
};

static void item_free(struct item *it)
{
	free(it->path);
	free(it->data);
	memset(it, 0, sizeof(*it));
}

__attribute__((format(printf, 3, 4))) static void settle(struct item *it, enum settle s,
							 const char *fmt, ...)
{
	va_list ap;

	it->settle = s;
	va_start(ap, fmt);
	vsnprintf(it->reason, sizeof(it->reason), fmt, ap);
	va_end(ap);
	free(it->data); /* nothing is sent */
	it->data = NULL;
	it->len = 0;
}

/*
 * Read it->path and decide what to send (kind, type), or settle its fate
 * here (skipped or failed, with the reason). Runs on the reader thread:
 * touches nothing but it.
 */
static void prepare(const struct import_options *o, struct item *it, const struct stat *st)
{
	struct pf_buf b = PF_BUF_INIT(IMPORT_MAX_FILE);
	struct pf_err err = {0};
	char why[512];
	int rc;

	it->t_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	if (pf_read_file(it->path, IMPORT_MAX_FILE, &b, &err) < 0) {
		pf_buf_free(&b);
		settle(it, FAIL, "%s", err.msg);
		return;
	}
	it->len = b.len;
	it->data = pf_buf_steal(&b, NULL);
	if (it->len == 0) {
		settle(it, SKIP, "empty file (0 bytes)");
		return;
	}
	it->kind = import_sniff(it->data, it->len);
	if (it->kind == IMPORT_BUNDLE)
		return;
	if (!o->service || !*o->service) {
		settle(it, FAIL, "a %s file names no service (only bundles carry theirs): give -service",
		       it->kind == IMPORT_TRACE ? "trace" : "pprof");
		return;
	}
	if (it->kind == IMPORT_TRACE) {
		snprintf(it->type, sizeof(it->type), "trace");
		return;
	}
	if (o->type) {
		snprintf(it->type, sizeof(it->type), "%s", o->type);
		return;
	}
	rc = import_pprof_type(it->data, it->len, IMPORT_MAX_PROFILE, it->path, it->type, sizeof(it->type),
			       why, sizeof(why));
	if (rc == PF_ENOTFOUND)
		settle(it, SKIP, "%s", why);
	else if (rc < 0)
		settle(it, FAIL, "%s", why);
}

/* ---- the reader thread: walk, read, classify, queue -------------------- */

struct queue {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct item *v;
	size_t cap, head, n;
	uint64_t bytes; /* of the files queued */
	int done, stop;
	CURLM *wake; /* woken when an item comes (HTTP) */
	const struct import_options *o;
	struct walker w;
};

static void *reader(void *arg)
{
	struct queue *q = arg;

	for (;;) {
		struct item it = {0};
		struct pf_err we = {0};
		struct stat st;
		int r = walk_next(&q->w, &it.path, &st, &we);

		if (r == 0)
			break;
		if (r < 0) {
			it.settle = FAIL;
			snprintf(it.reason, sizeof(it.reason), "%s", we.msg);
		} else {
			it.size = (uint64_t)st.st_size;
			prepare(q->o, &it, &st);
		}
		pthread_mutex_lock(&q->mu);
		/* at most cap files and QUEUE_MAX_BYTES of them (one file at
		 * least) wait to be sent */
		while ((q->n == q->cap || (q->n > 0 && q->bytes + it.len > QUEUE_MAX_BYTES)) && !q->stop)
			pthread_cond_wait(&q->cv, &q->mu);
		if (q->stop) {
			pthread_mutex_unlock(&q->mu);
			item_free(&it);
			break;
		}
		q->v[(q->head + q->n++) % q->cap] = it;
		q->bytes += it.len;
		pthread_cond_broadcast(&q->cv);
		pthread_mutex_unlock(&q->mu);
		if (q->wake)
			curl_multi_wakeup(q->wake);
	}
	pthread_mutex_lock(&q->mu);
	q->done = 1;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	if (q->wake)
		curl_multi_wakeup(q->wake);
	return NULL;
}

/* The next item: 1 with *it, 0 when there is none now (wait: until one
 * comes), -1 when the reader is done and the queue empty. */
static int queue_pop(struct queue *q, struct item *it, int wait)
{
	int r;

	pthread_mutex_lock(&q->mu);
	while (wait && q->n == 0 && !q->done)
		pthread_cond_wait(&q->cv, &q->mu);
	if (q->n > 0) {
		*it = q->v[q->head];
		q->bytes -= it->len;
		q->head = (q->head + 1) % q->cap;
		q->n--;
		pthread_cond_broadcast(&q->cv);
		r = 1;
	} else {
		r = q->done ? -1 : 0;
	}
	pthread_mutex_unlock(&q->mu);
	return r;
}

/* ---- -tsdb.dir: the store's calls ------------------------------------- */

static void store_item(struct import *im, struct item *it)
{
	const struct import_options *o = im->o;
	struct bundle_options bo = {0};
	struct bundle *b = NULL;
	struct bundle_result *res = NULL;
	struct pf_err err = {0};
	size_t nres = 0;
	int rc;

	bo.service = o->service;
	bo.labels = o->labels;
	bo.nlabels = o->nlabels;
	bo.pprof.max_decompressed = IMPORT_MAX_PROFILE;
	if (it->kind == IMPORT_BUNDLE) {
		rc = bundle_read(it->data, it->len, &bo, &b, &err);
	} else {
		struct bundle_one one = {.name = "", .type = it->type, .service = o->service,
					 .t_ns = it->t_ns};
		rc = bundle_read_one(it->data, it->len, &one, &bo, &b, &err);
	}
	if (rc < 0) {
		failed(im, it->path, err.msg);
		goto out;
	}
	for (size_t i = 0; i < bundle_nskipped(b); i++)
		skipped(im, it->path, bundle_skipped_at(b, i)->entry, bundle_skipped_at(b, i)->reason);
	res = pf_xcalloc(bundle_nprofiles(b) + 1, sizeof(*res));
	rc = bundle_store(im->db, b, &bo.pprof, res, &nres, &err);
	for (size_t i = 0; i < nres; i++) {
		if (res[i].outcome == BUNDLE_STORED)
			im->c->imported++;
		else if (res[i].outcome == BUNDLE_ALREADY)
			im->c->already++;
		else
			skipped(im, it->path, res[i].p->entry, res[i].reason);
	}
	if (rc < 0)
		failed(im, it->path, err.msg);
out:
	free(res);
	bundle_free(b);
}

/* ---- -addr: HTTP with curl multi --------------------------------------- */

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct job *j = ud;
	size_t n = size * nmemb;
	return pf_buf_append(&j->reply, ptr, n) < 0 ? 0 : n;
}

static char *escape(const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0), *r;
	if (!e)
		abort();
	r = pf_xstrdup(e);
	curl_free(e);
	return r;
}

/* created_at: the file's time, to the nanosecond (RFC 3339) */
static void format_ns(int64_t ns, char *out, size_t n)
{
	time_t s = (time_t)(ns / 1000000000);
	long frac = (long)(ns % 1000000000);
	struct tm tm;

	if (frac < 0) {
		frac += 1000000000;
		s--;
	}
	gmtime_r(&s, &tm);
	snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

static void job_start(struct import *im, struct job *j)
{
	/* each job keeps its handle (and so its connection) from one
	 * request to the next */
	CURL *h = j->h ? j->h : curl_easy_init();

	if (!h)
		abort();
	curl_easy_reset(h);
	pf_buf_reset(&j->reply);
	curl_easy_setopt(h, CURLOPT_URL, j->url);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, (const char *)j->body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->len);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, im->hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, j);
	curl_easy_setopt(h, CURLOPT_PRIVATE, j);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "profefe-import");
	j->h = h;
	j->state = 1;
	j->tries++;
	curl_multi_add_handle(im->multi, h);
}

static void job_clear(struct job *j)
{
	free(j->path);
	free(j->url);
	free(j->body);
	j->path = j->url = NULL;
	j->body = NULL;
	j->state = 0;
	j->tries = 0;
}

/* Queue an item on a free job: its URL, its body (taken from it). */
static void job_queue(struct import *im, struct job *j, struct item *it)
{
	struct pf_buf u = PF_BUF_INIT(0);

	if (it->kind == IMPORT_BUNDLE) {
		pf_buf_printf(&u, "%s/api/v1/bundles?", im->base);
		if (im->service_q)
			pf_buf_printf(&u, "service=%s&", im->service_q);
	} else {
		char t[64];
		char *tq = escape(it->type);
		format_ns(it->t_ns, t, sizeof(t));
		pf_buf_printf(&u, "%s/api/v1/profiles?service=%s&type=%s&created_at=%s&", im->base,
			      im->service_q, tq, t);
		free(tq);
	}
	if (im->labels_q)
		pf_buf_printf(&u, "labels=%s", im->labels_q);
	pf_buf_putc(&u, 0);
	j->url = (char *)pf_buf_steal(&u, NULL);
	j->path = it->path;
	j->body = it->data;
	j->len = it->len;
	j->size = it->size;
	it->path = NULL;
	it->data = NULL;
	job_start(im, j);
}

/* A reply: 200 lists what became of each profile; 503 is tried again. */
static int job_done(struct import *im, struct job *j, CURLcode cc, struct pf_err *err)
{
	long status = 0;
	json_t *r = NULL, *data, *v;
	json_error_t je;
	size_t i;
	int rc = 0;

	curl_easy_getinfo(j->h, CURLINFO_RESPONSE_CODE, &status);
	curl_multi_remove_handle(im->multi, j->h); /* kept for the job's next request */
	if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST) {
		rc = pf_err_set(err, PF_EIO, "cannot reach the server at %s: %s", im->base,
				curl_easy_strerror(cc));
		goto out;
	}
	if (cc != CURLE_OK) {
		char msg[300];
		snprintf(msg, sizeof(msg), "sending to %s failed: %s", im->base, curl_easy_strerror(cc));
		failed(im, j->path, msg);
		goto out;
	}
	if (status == 503 && j->tries < MAX_TRIES) {
		j->state = 2;
		j->retry_at = pf_mono_ns() + (int64_t)j->tries * 250000000;
		return 0;
	}
	r = json_loadb((const char *)j->reply.data, j->reply.len, 0, &je);
	if (status == 200 && r && (data = json_object_get(r, "data"))) {
		json_array_foreach(json_object_get(data, "stored"), i, v)
			im->c->imported++;
		json_array_foreach(json_object_get(data, "skipped"), i, v)
			outcome(im, j->path, json_string_value(json_object_get(v, "entry")),
				json_string_value(json_object_get(v, "reason"))
					? json_string_value(json_object_get(v, "reason")) : "skipped");
	} else {
		const char *e = r ? json_string_value(json_object_get(r, "error")) : NULL;
		char msg[600];
		/* a server that refuses a profile outside its time window (as
		 * /api/0 does, with a 400 naming the window): skipped, not lost */
		if (status == 400 && e && (strstr(e, "retention window") || strstr(e, "-tsdb.max-future"))) {
			skipped(im, j->path, NULL, e);
			goto out;
		}
		if (e)
			snprintf(msg, sizeof(msg), "%s", e);
		else
			snprintf(msg, sizeof(msg), "HTTP %ld from %s: %.200s", status, im->base,
				 j->reply.len ? (const char *)j->reply.data : "");
		failed(im, j->path, msg);
	}
out:
	json_decref(r);
	file_done(im, j->size);
	job_clear(j);
	return rc;
}

/* Run the transfers until one job is free (or none runs); rc < 0 stops. */
static int pump(struct import *im, int wait, struct pf_err *err)
{
	int running, left, rc = 0;
	CURLMsg *msg;
	int64_t now = pf_mono_ns();

	for (size_t i = 0; i < im->njobs; i++)
		if (im->jobs[i].state == 2 && im->jobs[i].retry_at <= now)
			job_start(im, &im->jobs[i]);
	curl_multi_perform(im->multi, &running);
	while ((msg = curl_multi_info_read(im->multi, &left))) {
		struct job *j = NULL;
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&j);
		if (job_done(im, j, msg->data.result, err) < 0)
			rc = -1;
	}
	if (rc < 0)
		return rc;
	if (wait)
		curl_multi_poll(im->multi, NULL, 0, 50, NULL);
	draw_bar(im, 0);
	return 0;
}

static struct job *free_job(struct import *im)
{
	for (size_t i = 0; i < im->njobs; i++)
		if (im->jobs[i].state == 0)
			return &im->jobs[i];
	return NULL;
}

static int busy(struct import *im)
{
	for (size_t i = 0; i < im->njobs; i++)
		if (im->jobs[i].state != 0)
			return 1;
	return 0;
}

static char *base_url(const char *addr)
{
	struct pf_buf b = PF_BUF_INIT(0);
	size_t n = strlen(addr);

	while (n && addr[n - 1] == '/')
		n--;
	if (strncmp(addr, "http://", 7) != 0 && strncmp(addr, "https://", 8) != 0)
		pf_buf_printf(&b, "http://%s", addr[0] == ':' ? "127.0.0.1" : "");
	pf_buf_append(&b, addr, n);
	pf_buf_putc(&b, 0);
	return (char *)pf_buf_steal(&b, NULL);
}

static int http_open(struct import *im, struct pf_err *err)
{
	const struct import_options *o = im->o;
	struct pf_buf l = PF_BUF_INIT(0);

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		return pf_err_set(err, PF_EIO, "libcurl does not start");
	im->base = base_url(o->addr);
	if (o->service && *o->service)
		im->service_q = escape(o->service);
	/* labels=k=v,k=v: each part escaped (commas in values), then the
	 * whole as a query value (SPEC §3 decodes labels twice) */
	for (size_t i = 0; i < o->nlabels; i++) {
		char *k = escape(o->labels[i].name), *v = escape(o->labels[i].value);
		pf_buf_printf(&l, "%s%s=%s", i ? "," : "", k, v);
		free(k);
		free(v);
	}
	if (l.len) {
		pf_buf_putc(&l, 0);
		im->labels_q = escape((const char *)l.data);
	}
	pf_buf_free(&l);
	im->hdrs = curl_slist_append(im->hdrs, "Content-Type: application/octet-stream");
	im->hdrs = curl_slist_append(im->hdrs, "Expect:");
	if (o->auth_token && *o->auth_token) {
		struct pf_buf h = PF_BUF_INIT(0);
		pf_buf_printf(&h, "Authorization: Bearer %s", o->auth_token);
		pf_buf_putc(&h, 0);
		im->hdrs = curl_slist_append(im->hdrs, (const char *)h.data);
		explicit_bzero(h.data, h.len);
		pf_buf_free(&h);
	}
	im->multi = curl_multi_init();
	curl_multi_setopt(im->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)im->njobs);
	im->jobs = pf_xcalloc(im->njobs, sizeof(*im->jobs));
	for (size_t i = 0; i < im->njobs; i++)
		pf_buf_init(&im->jobs[i].reply, MAX_REPLY);
	return 0;
}

static void http_close(struct import *im)
{
	for (size_t i = 0; im->jobs && i < im->njobs; i++) {
		struct job *j = &im->jobs[i];
		if (j->h) {
			if (j->state == 1)
				curl_multi_remove_handle(im->multi, j->h);
			curl_easy_cleanup(j->h);
		}
		job_clear(j);
		pf_buf_free(&j->reply);
	}
	free(im->jobs);
	if (im->multi)
		curl_multi_cleanup(im->multi);
	curl_slist_free_all(im->hdrs);
	free(im->base);
	free(im->labels_q);
	free(im->service_q);
	if (im->base || im->multi)
		curl_global_cleanup();
}

/* ---- the run ----------------------------------------------------------- */

/* The progress bar's totals: a walk that only stats. */
static void count_all(struct import *im, char *const *paths, size_t n)
{
	struct walker w = {.paths = paths, .npaths = n};
	struct pf_err err = {0};
	struct stat st;
	char *p;
	int r;

	while ((r = walk_next(&w, &p, &st, &err)) != 0) {
		im->total_files++;
		if (r > 0)
			im->total_bytes += (uint64_t)st.st_size;
		free(p);
	}
	walk_finish(&w);
}

static void summary(struct import *im)
{
	const struct import_counts *c = im->c;
	char b[32];

	clear_bar(im);
	human_bytes(c->bytes, b, sizeof(b));
	fprintf(im->o->out,
		"files:         %" PRIu64 " (%s in %.1f s)\n"
		"imported:      %" PRIu64 " profiles\n"
		"already there: %" PRIu64 " profiles\n"
		"skipped:       %" PRIu64 "\n"
		"failed:        %" PRIu64 " files\n",
		c->files, b, (pf_mono_ns() - im->t0) / 1e9, c->imported, c->already, c->skipped,
		c->failed);
	fflush(im->o->out);
}

/* One item's fate, counted; 1 when it still has to be stored or sent. */
static int take(struct import *im, struct item *it)
{
	im->c->files++;
	im->c->bytes += it->size;
	if (it->settle == GO_ON)
		return 1;
	if (it->settle == SKIP)
		skipped(im, it->path, NULL, it->reason);
	else
		failed(im, it->path, it->reason);
	file_done(im, it->size);
	return 0;
}

int import_run(const struct import_options *o, char *const *paths, size_t n,
	       struct import_counts *c, struct pf_err *err)
{
	struct import im = {.o = o, .c = c};
	struct queue q = {.o = o, .w = {.paths = paths, .npaths = n}};
	struct item it = {0};
	pthread_t th;
	int rc = 0, r, started = 0;

	memset(c, 0, sizeof(*c));
	im.t0 = im.last_draw = pf_mono_ns();
	im.njobs = o->parallel ? o->parallel : IMPORT_PARALLEL;
	if (o->tsdb_dir) {
		struct store_options to = {.type = STORE_TSDB,
					   .tsdb = {.dir = o->tsdb_dir, .retention_ns = o->retention_ns,
						    .max_future_ns = o->max_future_ns}};
		if ((rc = store_open(&to, &im.db, err)) < 0) {
			pf_err_prefix(err, "open store %s: ", o->tsdb_dir);
			return rc;
		}
	} else if ((rc = http_open(&im, err)) < 0) {
		goto out;
	}
	if (o->progress) {
		count_all(&im, paths, n);
		im.t0 = pf_mono_ns();
		draw_bar(&im, 1);
	}
	/* the reader reads and classifies ahead, at most 2 files a job */
	pthread_mutex_init(&q.mu, NULL);
	pthread_cond_init(&q.cv, NULL);
	q.cap = im.njobs * 2;
	q.v = pf_xcalloc(q.cap, sizeof(*q.v));
	q.wake = im.multi;
	if (pthread_create(&th, NULL, reader, &q) != 0) {
		rc = pf_err_set(err, PF_EIO, "cannot start the reader thread");
		goto out;
	}
	started = 1;
	if (im.db) {
		while ((r = queue_pop(&q, &it, 1)) > 0) {
			if (take(&im, &it)) {
				store_item(&im, &it);
				file_done(&im, it.size);
			}
			item_free(&it);
		}
	} else {
		for (;;) {
			struct job *j;
			r = 1;
			while ((j = free_job(&im)) && (r = queue_pop(&q, &it, 0)) > 0) {
				if (take(&im, &it))
					job_queue(&im, j, &it);
				item_free(&it);
			}
			if (r < 0 && !busy(&im))
				break;
			if ((rc = pump(&im, 1, err)) < 0)
				goto out;
		}
	}
	draw_bar(&im, 1);
	summary(&im);
out:
	if (started) {
		pthread_mutex_lock(&q.mu);
		q.stop = 1;
		pthread_cond_broadcast(&q.cv);
		pthread_mutex_unlock(&q.mu);
		pthread_join(th, NULL);
		while (queue_pop(&q, &it, 0) > 0)
			item_free(&it);
	}
	if (q.v) {
		pthread_mutex_destroy(&q.mu);
		pthread_cond_destroy(&q.cv);
	}
	free(q.v);
	clear_bar(&im);
	item_free(&it);
	walk_finish(&q.w);
	if (!o->tsdb_dir)
		http_close(&im);
	store_close(im.db);
	return rc;
}
