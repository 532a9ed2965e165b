/*
 * streamdecode: a benchmark tool, not part of the product (issue 18). CPU
 * time per decode of the inflated body of each file given (the inflate is
 * left out: see bench/inflate.c), three ways:
 *   pprof_decode  protobuf-c's tree, checked and indexed (today's decoder)
 *   stream-count  pprof_stream_decode into a sink that counts items
 *   stream-tree   pprof_stream_to_profile: the stream into a sink that
 *                 rebuilds the protobuf-c message, then pprof_from_message
 *                 (which indexes and checks it again)
 *   streamdecode FILE.pb.gz...
 */
#include "pprof/pprof.h"
#include "pprof/stream.h"

#include <stdlib.h>
#include <time.h>

static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct counts {
	size_t strings, mappings, functions, locations, lines, samples, frames, labels;
};

static int c_string(void *ctx, size_t idx, const char *s, size_t len, struct pf_err *err)
{
	(void)idx, (void)s, (void)len, (void)err;
	((struct counts *)ctx)->strings++;
	return 0;
}
static int c_mapping(void *ctx, const struct pprof_stream_mapping *m, struct pf_err *err)
{
	(void)m, (void)err;
	((struct counts *)ctx)->mappings++;
	return 0;
}
static int c_function(void *ctx, const struct pprof_stream_function *f, struct pf_err *err)
{
	(void)f, (void)err;
	((struct counts *)ctx)->functions++;
	return 0;
}
static int c_location(void *ctx, const struct pprof_stream_location *l, struct pf_err *err)
{
	struct counts *c = ctx;
	(void)err;
	c->locations++;
	c->lines += l->n_line;
	return 0;
}
static int c_sample(void *ctx, const struct pprof_stream_sample *s, struct pf_err *err)
{
	struct counts *c = ctx;
	(void)err;
	c->samples++;
	c->frames += s->n_location_id;
	c->labels += s->n_label;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct pprof_sink counting = {NULL, c_string, c_mapping, c_function, c_location, c_sample};
	struct pf_err err = {0};
	size_t max = (size_t)256 << 20;

	printf("%-24s %9s %8s %13s %13s %13s\n", "file", "inflated", "samples", "pprof_decode",
	       "stream-count", "stream-tree");
	for (int a = 1; a < argc; a++) {
		struct pf_buf f = PF_BUF_INIT(0), body = PF_BUF_INIT(0);
		struct pprof_profile *p;
		struct counts c = {0};
		double t0, td, tc, tt;
		int iters;

		if (pf_read_file(argv[a], 0, &f, &err) < 0 || pprof_gunzip(f.data, f.len, max, &body, &err) < 0) {
			fprintf(stderr, "streamdecode: %s: %s\n", argv[a], err.msg);
			return 1;
		}
		t0 = cpu_s();
		if (pprof_decode(body.data, body.len, max, &p, &err) < 0) {
			fprintf(stderr, "streamdecode: %s: %s\n", argv[a], err.msg);
			return 1;
		}
		pprof_free(p);
		iters = (int)PF_MAX(5.0, PF_MIN(3000.0, 1.0 / PF_MAX(cpu_s() - t0, 1e-6)));

		t0 = cpu_s();
		for (int i = 0; i < iters; i++) {
			if (pprof_decode(body.data, body.len, max, &p, &err) < 0)
				return 1;
			pprof_free(p);
		}
		td = (cpu_s() - t0) / iters;
		t0 = cpu_s();
		for (int i = 0; i < iters; i++) {
			memset(&c, 0, sizeof(c));
			if (pprof_stream_decode(body.data, body.len, &counting, &c, &err) < 0)
				return 1;
		}
		tc = (cpu_s() - t0) / iters;
		t0 = cpu_s();
		for (int i = 0; i < iters; i++) {
			if (pprof_stream_to_profile(body.data, body.len, max, &p, &err) < 0)
				return 1;
			pprof_free(p);
		}
		tt = (cpu_s() - t0) / iters;
		printf("%-24s %9zu %8zu %10.1f us %10.1f us %10.1f us   (x%d; %zu locations, %zu frames)\n",
		       strrchr(argv[a], '/') ? strrchr(argv[a], '/') + 1 : argv[a], body.len, c.samples,
		       td * 1e6, tc * 1e6, tt * 1e6, iters, c.locations, c.frames);
		pf_buf_free(&f);
		pf_buf_free(&body);
	}
	return 0;
}
