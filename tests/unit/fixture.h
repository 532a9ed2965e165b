/* Reading fixtures in the unit tests (after cmocka.h): a file whole, or a
 * pprof profile decoded; either fails the test, naming the file.
 * fixture_read starts b afresh (free a buffer before reusing it). */
#ifndef PF_TESTS_FIXTURE_H
#define PF_TESTS_FIXTURE_H

#include "pprof/pprof.h"

static inline void fixture_read(const char *path, struct pf_buf *b)
{
	struct pf_err err = {0};
	pf_buf_init(b, 0);
	if (pf_read_file(path, (size_t)64 << 20, b, &err) < 0)
		fail_msg("%s: %s", path, err.msg);
}

static inline struct pprof_profile *fixture_pprof(const char *path)
{
	struct pf_buf b;
	struct pf_err err = {0};
	struct pprof_profile *p = NULL;
	int rc;

	fixture_read(path, &b);
	rc = pprof_decode(b.data, b.len, (size_t)256 << 20, &p, &err);
	pf_buf_free(&b);
	if (rc != 0)
		fail_msg("%s: %s", path, err.msg);
	return p;
}

#endif
