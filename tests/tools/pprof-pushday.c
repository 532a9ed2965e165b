/*
 * pprof-pushday: a test tool, not part of the product. Pushes N profiles as
 * one series, fast: profile i is FILE[i % nfiles] with its time_nanos set
 * to START_NS + i * STEP_NS, pushed to URL (a /api/0/profiles?... push URL)
 * by CONNS threads, each over its own keep-alive connection, each push
 * acknowledged (200) before that thread sends its next. The time is
 * rewritten as bench/pushseries does it: the profile inflated once, a
 * time_nanos field (9) appended (a later scalar field wins, in protobuf-c as
 * in Go) and gzipped again. Prints
 *   pushed=N failed=N bytes=N seconds=S profiles_per_s=X
 * and exits 1 when a push failed (the first few replies are printed).
 *   pprof-pushday URL N START_NS STEP_NS CONNS FILE...
 */
#include "pprof/pprof.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct job {
	const char *url;
	const struct pf_buf *raw; /* the files, inflated */
	long long nfiles, n, start, step;
	atomic_llong next, ok, failed, bytes;
};

struct reply {
	char text[512];
	size_t len;
};

static size_t keep(char *p, size_t size, size_t n, void *u)
{
	struct reply *r = u;
	size_t len = size * n, room = sizeof(r->text) - 1 - r->len;
	if (len < room)
		room = len;
	memcpy(r->text + r->len, p, room);
	r->len += room;
	r->text[r->len] = 0;
	return size * n;
}

/* body = raw with time_nanos t_ns appended, gzipped */
static int retime(const struct pf_buf *raw, int64_t t_ns, struct pf_buf *tmp, struct pf_buf *body,
		  struct pf_err *err)
{
	int rc;

	pf_buf_reset(tmp);
	pf_buf_reset(body);
	if ((rc = pf_buf_append(tmp, raw->data, raw->len)) < 0 || (rc = pf_buf_putc(tmp, 9 << 3)) < 0 ||
	    (rc = pf_buf_put_uvarint(tmp, (uint64_t)t_ns)) < 0)
		return pf_err_set(err, rc, "time_nanos: out of memory");
	return pprof_gzip(tmp->data, tmp->len, body, err);
}

static void *run(void *arg)
{
	struct job *j = arg;
	struct pf_buf tmp = PF_BUF_INIT(0), body = PF_BUF_INIT(0);
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type:");
	CURL *c = curl_easy_init();
	long long i;

	curl_easy_setopt(c, CURLOPT_URL, j->url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep);
	while ((i = atomic_fetch_add(&j->next, 1)) < j->n) {
		struct pf_err err = {0};
		struct reply rep = {0};
		long code = 0;
		CURLcode rc;

		if (retime(&j->raw[i % j->nfiles], j->start + i * j->step, &tmp, &body, &err) < 0) {
			fprintf(stderr, "pprof-pushday: profile %lld: %s\n", i, err.msg);
			atomic_fetch_add(&j->failed, 1);
			continue;
		}
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &rep);
		rc = curl_easy_perform(c);
		if (rc == CURLE_OK)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		if (code == 200) {
			atomic_fetch_add(&j->ok, 1);
			atomic_fetch_add(&j->bytes, (long long)body.len);
		} else if (atomic_fetch_add(&j->failed, 1) < 5) {
			fprintf(stderr, "pprof-pushday: profile %lld: %s %ld %s\n", i,
				rc == CURLE_OK ? "HTTP" : curl_easy_strerror(rc), code, rep.text);
		}
	}
	curl_easy_cleanup(c);
	curl_slist_free_all(hdr);
	pf_buf_free(&tmp);
	pf_buf_free(&body);
	return NULL;
}

int main(int argc, char **argv)
{
	struct job j = {0};
	struct pf_buf *raw = NULL;
	pthread_t th[64];
	long long conns, nth = 0;
	int64_t t0;
	double el;
	int ret = 1;

	if (argc < 7) {
		fprintf(stderr, "usage: pprof-pushday URL N START_NS STEP_NS CONNS FILE...\n");
		return 2;
	}
	j.url = argv[1];
	j.n = strtoll(argv[2], NULL, 10);
	j.start = strtoll(argv[3], NULL, 10);
	j.step = strtoll(argv[4], NULL, 10);
	conns = strtoll(argv[5], NULL, 10);
	if (j.n <= 0 || j.start <= 0 || conns < 1 || conns > 64) {
		fprintf(stderr, "pprof-pushday: want N > 0, START_NS > 0 and 1..64 CONNS\n");
		return 2;
	}
	j.nfiles = argc - 6;
	raw = pf_xcalloc((size_t)j.nfiles, sizeof(*raw));
	for (long long k = 0; k < j.nfiles; k++) {
		struct pf_buf file = PF_BUF_INIT(0);
		struct pf_err err = {0};
		int rc = pf_read_file(argv[6 + k], (size_t)1 << 30, &file, &err);

		if (rc == 0) {
			if (pprof_is_gzip(file.data, file.len))
				rc = pprof_gunzip(file.data, file.len, (size_t)1 << 30, &raw[k], &err);
			else
				rc = pf_buf_append(&raw[k], file.data, file.len);
		}
		pf_buf_free(&file);
		if (rc < 0) {
			fprintf(stderr, "pprof-pushday: %s: %s\n", argv[6 + k], err.msg);
			goto out;
		}
	}
	j.raw = raw;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	t0 = pf_mono_ns();
	for (; nth < conns; nth++)
		if (pthread_create(&th[nth], NULL, run, &j) != 0) {
			fprintf(stderr, "pprof-pushday: pthread_create failed\n");
			break;
		}
	for (long long k = 0; k < nth; k++)
		pthread_join(th[k], NULL);
	el = (double)(pf_mono_ns() - t0) / 1e9;
	curl_global_cleanup();
	printf("pushed=%lld failed=%lld bytes=%lld seconds=%.2f profiles_per_s=%.1f\n", (long long)j.ok,
	       (long long)j.failed, (long long)j.bytes, el, el > 0 ? (double)j.ok / el : 0);
	ret = nth == conns && j.failed == 0 && j.ok == j.n ? 0 : 1;
out:
	for (long long k = 0; k < j.nfiles; k++)
		pf_buf_free(&raw[k]);
	free(raw);
	return ret;
}
