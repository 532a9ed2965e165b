/*
 * pushseries: a benchmark tool, not part of the product. Pushes profiles
 * one after another over one keep-alive connection, in the order given,
 * each acknowledged (200) before the next is sent. Reads lines from stdin:
 *   URL FILE [TIME_NS]
 * With TIME_NS (> 0) the body's time_nanos becomes TIME_NS: the profile is
 * inflated, a time_nanos field (9) appended to the protobuf (a later
 * scalar field wins, in protobuf-c as in Go) and gzipped again; without it
 * the file is sent as it is, keeping its own time. Prints
 *   pushed=N failed=N bytes=N seconds=S profiles_per_s=X
 * and exits 1 when a push failed (the first few replies are printed).
 */
#include "pprof/pprof.h"

#include <curl/curl.h>
#include <stdlib.h>

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

/* body = FILE with its time_nanos set to t_ns */
static int retime(const struct pf_buf *file, int64_t t_ns, struct pf_buf *body, struct pf_err *err)
{
	struct pf_buf raw = PF_BUF_INIT(0);
	int rc;

	if (pprof_is_gzip(file->data, file->len))
		rc = pprof_gunzip(file->data, file->len, (size_t)1 << 30, &raw, err);
	else
		rc = pf_buf_append(&raw, file->data, file->len);
	if (rc == 0 && ((rc = pf_buf_putc(&raw, 9 << 3)) < 0 || (rc = pf_buf_put_uvarint(&raw, (uint64_t)t_ns)) < 0))
		pf_err_set(err, rc, "time_nanos: out of memory");
	if (rc == 0)
		rc = pprof_gzip(raw.data, raw.len, body, err);
	pf_buf_free(&raw);
	return rc;
}

int main(void)
{
	char line[8192], url[4096], path[4096];
	long long t_ns;
	uint64_t ok = 0, failed = 0, bytes = 0;
	struct curl_slist *hdr;
	CURL *c;
	int64_t t0;
	double el;
	int ret = 0;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	c = curl_easy_init();
	hdr = curl_slist_append(NULL, "Content-Type:");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep);
	t0 = pf_mono_ns();
	while (fgets(line, sizeof(line), stdin)) {
		struct pf_buf file = PF_BUF_INIT(0), body = PF_BUF_INIT(0);
		struct pf_err err = {0};
		struct reply rep = {0};
		const struct pf_buf *send = &file;
		long code = 0;
		CURLcode rc;
		int n;

		t_ns = 0;
		n = sscanf(line, "%4095s %4095s %lld", url, path, &t_ns);
		if (n < 2) {
			fprintf(stderr, "pushseries: want \"URL FILE [TIME_NS]\", got: %s", line);
			ret = 2;
			goto fail;
		}
		if (pf_read_file(path, (size_t)1 << 30, &file, &err) < 0) {
			fprintf(stderr, "pushseries: %s\n", err.msg);
			pf_buf_free(&file);
			ret = 1;
			goto fail;
		}
		if (t_ns > 0) {
			if (retime(&file, t_ns, &body, &err) < 0) {
				fprintf(stderr, "pushseries: %s: %s\n", path, err.msg);
				pf_buf_free(&file);
				pf_buf_free(&body);
				ret = 1;
				goto fail;
			}
			send = &body;
		}
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, send->data);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)send->len);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &rep);
		rc = curl_easy_perform(c);
		if (rc == CURLE_OK)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		if (code == 200) {
			ok++;
			bytes += send->len;
		} else if (failed++ < 5) {
			fprintf(stderr, "pushseries: %s: %s %ld %s\n", path,
				rc == CURLE_OK ? "HTTP" : curl_easy_strerror(rc), code, rep.text);
		}
		pf_buf_free(&file);
		pf_buf_free(&body);
	}
	el = (double)(pf_mono_ns() - t0) / 1e9;
	printf("pushed=%llu failed=%llu bytes=%llu seconds=%.2f profiles_per_s=%.1f\n",
	       (unsigned long long)ok, (unsigned long long)failed, (unsigned long long)bytes, el,
	       el > 0 ? (double)ok / el : 0);
	ret = failed ? 1 : 0;
fail:
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	curl_global_cleanup();
	return ret;
}
