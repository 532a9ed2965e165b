/*
 * The main() of a fuzz harness built without libFuzzer (make test builds
 * every tests/fuzz/fuzz_*.c with it, plain and under ASan+UBSan): each
 * argument is a file, or a directory whose regular files are all taken, and
 * every file is fed once to LLVMFuzzerTestOneInput. A harness aborts on a
 * broken promise; a clean run prints one line with the number of inputs.
 *
 *   fuzz_X FILE|DIR...     run the inputs
 *   fuzz_X -seeds DIR      write the harness's own seeds to DIR (harnesses
 *                          that define pf_fuzz_seeds; the others refuse)
 *
 * `make fuzz` builds the same harnesses with clang's libFuzzer instead.
 */
#include "base/base.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int pf_fuzz_seeds(const char *dir) __attribute__((weak));

#define FUZZ_MAX_INPUT ((size_t)64 << 20)

static int run_file(const char *path, size_t *n)
{
	struct pf_buf b = PF_BUF_INIT(0);
	struct pf_err err = {0};

	if (pf_read_file(path, FUZZ_MAX_INPUT, &b, &err) < 0) {
		fprintf(stderr, "fuzz driver: %s\n", err.msg);
		return -1;
	}
	LLVMFuzzerTestOneInput(b.data, b.len);
	pf_buf_free(&b);
	(*n)++;
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path, size_t *n)
{
	struct stat st;
	struct dirent *de;
	char **names = NULL;
	size_t nnames = 0, cap = 0;
	DIR *d;
	int rc = 0;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "fuzz driver: %s: no such file or directory\n", path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return run_file(path, n);
	if (!(d = opendir(path))) {
		fprintf(stderr, "fuzz driver: cannot open directory %s\n", path);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		char p[PATH_MAX];
		struct stat fst;
		int k;
		if (de->d_name[0] == '.')
			continue;
		k = snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
		if (k < 0 || (size_t)k >= sizeof(p) || stat(p, &fst) < 0 || !S_ISREG(fst.st_mode))
			continue;
		pf_xgrow((void **)&names, &cap, nnames + 1, sizeof(*names));
		names[nnames++] = pf_xstrdup(p);
	}
	closedir(d);
	qsort(names, nnames, sizeof(*names), cmp_name);
	for (size_t i = 0; i < nnames; i++) {
		if (rc == 0 && run_file(names[i], n) < 0)
			rc = -1;
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	size_t n = 0;

	if (argc == 3 && strcmp(argv[1], "-seeds") == 0) {
		if (!pf_fuzz_seeds) {
			fprintf(stderr, "%s: this harness has no seeds of its own\n", argv[0]);
			return 2;
		}
		return pf_fuzz_seeds(argv[2]) < 0 ? 1 : 0;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR... | -seeds DIR\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++)
		if (run_path(argv[i], &n) < 0)
			return 1;
	printf("%s: %zu inputs, no failure\n", argv[0], n);
	return 0;
}
