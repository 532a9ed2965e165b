/*
 * pushload: a concurrent push client for benchmarks.
 *   pushload URL FILE CONCURRENCY SECONDS
 * POSTs FILE to URL from CONCURRENCY threads (one keep-alive connection
 * each) for SECONDS, then prints one line:
 *   requests=N ok=N failed=N seconds=S profiles_per_s=X mb_per_s=Y
 */
#include "base/base.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>

struct shared {
	const char *url;
	const uint8_t *body;
	size_t len;
	int64_t deadline;
	uint64_t ok, failed;
};

static size_t discard(char *p, size_t size, size_t n, void *u)
{
	(void)p;
	(void)u;
	return size * n;
}

static void *worker(void *arg)
{
	struct shared *sh = arg;
	CURL *c = curl_easy_init();
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type:");

	curl_easy_setopt(c, CURLOPT_URL, sh->url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, sh->body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)sh->len);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	while (pf_mono_ns() < sh->deadline) {
		long code = 0;
		CURLcode rc = curl_easy_perform(c);
		if (rc == CURLE_OK)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		if (code == 200)
			__atomic_add_fetch(&sh->ok, 1, __ATOMIC_RELAXED);
		else
			__atomic_add_fetch(&sh->failed, 1, __ATOMIC_RELAXED);
	}
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	return NULL;
}

int main(int argc, char **argv)
{
	struct shared sh = {0};
	struct pf_buf b = PF_BUF_INIT(0);
	struct pf_err err;
	pthread_t *th;
	int conc;
	double secs, el;
	int64_t t0;

	if (argc != 5) {
		fprintf(stderr, "usage: pushload URL FILE CONCURRENCY SECONDS\n");
		return 2;
	}
	if (pf_read_file(argv[2], 1u << 30, &b, &err) < 0) {
		fprintf(stderr, "pushload: %s\n", err.msg);
		return 1;
	}
	conc = (int)strtol(argv[3], NULL, 10);
	secs = strtod(argv[4], NULL);
	if (conc < 1 || secs <= 0) {
		fprintf(stderr, "pushload: bad concurrency or seconds\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	sh.url = argv[1];
	sh.body = b.data;
	sh.len = b.len;
	t0 = pf_mono_ns();
	sh.deadline = t0 + (int64_t)(secs * 1e9);
	th = pf_xcalloc((size_t)conc, sizeof(*th));
	for (int i = 0; i < conc; i++)
		pthread_create(&th[i], NULL, worker, &sh);
	for (int i = 0; i < conc; i++)
		pthread_join(th[i], NULL);
	el = (double)(pf_mono_ns() - t0) / 1e9;
	printf("requests=%llu ok=%llu failed=%llu seconds=%.2f profiles_per_s=%.1f mb_per_s=%.2f\n",
	       (unsigned long long)(sh.ok + sh.failed), (unsigned long long)sh.ok,
	       (unsigned long long)sh.failed, el, (double)sh.ok / el,
	       (double)sh.ok * (double)sh.len / el / 1e6);
	free(th);
	pf_buf_free(&b);
	curl_global_cleanup();
	return sh.failed ? 1 : 0;
}
