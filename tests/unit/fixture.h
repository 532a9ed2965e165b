/* Fixtures of the unit tests (after cmocka.h): a file read whole, a pprof
 * profile decoded, a store in a fresh temp dir; each fails the test, naming
 * the file or directory. fixture_read starts b afresh (free a buffer before
 * reusing it). */
#ifndef PF_TESTS_FIXTURE_H
#define PF_TESTS_FIXTURE_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "pprof/pprof.h"
#include "tsdb/tsdb.h"
#include "store/store.h"

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

/* A fresh directory /tmp/pf-<name>-XXXXXX for a store (dir holds 64 bytes);
 * the log at the level TSDB_TEST_LOG names, "error" by default. */
static inline void fixture_store_dir(char *dir, const char *name)
{
	snprintf(dir, 64, "/tmp/pf-%s-XXXXXX", name);
	if (!mkdtemp(dir))
		fail_msg("mkdtemp %s: %s", dir, strerror(errno));
	pf_log_setup(getenv("TSDB_TEST_LOG") ? getenv("TSDB_TEST_LOG") : "error", "logfmt");
}

/* The store o describes, open. */
static inline struct tsdb *fixture_store_open(const struct tsdb_options *o)
{
	struct pf_err err = {0};
	struct tsdb *db = NULL;
	if (tsdb_open(o, &db, &err) != 0)
		fail_msg("tsdb_open %s: %s", o->dir, err.msg);
	return db;
}

/* Close db (NULL is fine) and remove its directory. */
static inline void fixture_store_remove(struct tsdb *db, const char *dir)
{
	tsdb_close(db);
	pf_rm_rf(dir);
}

/* The same store behind the storage interface (store.h), for the code
 * above it (API, ingest, bundles, scraper). */
static inline struct store *fixture_istore_open(const struct tsdb_options *o)
{
	struct pf_err err = {0};
	struct store_options so = {.type = STORE_TSDB, .tsdb = *o};
	struct store *db = NULL;
	if (store_open(&so, &db, &err) != 0)
		fail_msg("store_open %s: %s", o->dir, err.msg);
	return db;
}

static inline void fixture_istore_remove(struct store *db, const char *dir)
{
	store_close(db);
	pf_rm_rf(dir);
}

#endif
