/* File helpers: atomic writes, directory fsync, mkdir -p, capped reads. */
#include "base.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

int pf_fsync_dir(const char *dir, struct pf_err *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return pf_err_set(err, PF_EIO, "open directory %s: %s", dir, strerror(errno));
	if (fsync(fd) < 0) {
		int e = errno;
		close(fd);
		return pf_err_set(err, PF_EIO, "fsync directory %s: %s", dir, strerror(e));
	}
	close(fd);
	return 0;
}

int pf_mkdir_p(const char *dir, struct pf_err *err)
{
	char *p = pf_xstrdup(dir);
	int rc = 0;

	for (char *s = p + 1; ; s++) {
		if (*s == '/' || *s == 0) {
			char c = *s;
			*s = 0;
			if (mkdir(p, 0755) < 0 && errno != EEXIST) {
				rc = pf_err_set(err, PF_EIO, "create directory %s: %s", p, strerror(errno));
				break;
			}
			*s = c;
			if (c == 0)
				break;
		}
	}
	free(p);
	return rc;
}

ssize_t pf_pread_full(int fd, void *buf, size_t n, uint64_t off)
{
	uint8_t *p = buf;
	size_t got = 0;

	while (got < n) {
		ssize_t r = pread(fd, p + got, n - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int pf_pwrite_full(int fd, const void *buf, size_t n, uint64_t off)
{
	struct iovec iov = {(void *)(uintptr_t)buf, n};
	return pf_pwritev_full(fd, &iov, 1, off);
}

int pf_pwritev_full(int fd, struct iovec *iov, int n, uint64_t off)
{
	while (n > 0) {
		ssize_t r;
		if (iov->iov_len == 0) {
			iov++;
			n--;
			continue;
		}
		r = pwritev(fd, iov, PF_MIN(n, 1024), (off_t)off); /* Linux's UIO_MAXIOV */
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0) {
			errno = EIO;
			return -1;
		}
		off += (uint64_t)r;
		while (n > 0 && (size_t)r >= iov->iov_len) {
			r -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + r;
			iov->iov_len -= (size_t)r;
		}
	}
	return 0;
}

int pf_write_file_atomic(const char *path, const void *data, size_t n, struct pf_err *err)
{
	size_t plen = strlen(path);
	char *tmp = pf_xmalloc(plen + 5), *dircopy = NULL;
	int fd = -1, rc = 0;

	memcpy(tmp, path, plen);
	memcpy(tmp + plen, ".tmp", 5);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = pf_err_set(err, PF_EIO, "create %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (pf_pwrite_full(fd, data, n, 0) < 0) {
		rc = pf_err_set(err, PF_EIO, "write %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (fsync(fd) < 0) {
		rc = pf_err_set(err, PF_EIO, "fsync %s: %s", tmp, strerror(errno));
		goto fail;
	}
	close(fd);
	fd = -1;
	if (rename(tmp, path) < 0) {
		rc = pf_err_set(err, PF_EIO, "rename %s to %s: %s", tmp, path, strerror(errno));
		goto fail;
	}
	dircopy = pf_xstrdup(path);
	rc = pf_fsync_dir(dirname(dircopy), err);
	free(dircopy);
	free(tmp);
	return rc;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	return rc;
}

int pf_read_file(const char *path, size_t max, struct pf_buf *b, struct pf_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;
	if (fd < 0)
		return pf_err_set(err, PF_EIO, "open %s: %s", path, strerror(errno));
	b->max = max;
	for (;;) {
		ssize_t r;
		/* read in steps of 64 KiB, or what is left under a smaller cap */
		size_t step = max && max - b->len < 65536 ? max - b->len : 65536;
		if ((rc = step ? pf_buf_reserve(b, step) : PF_ETOOBIG) < 0 && b->cap == b->len) {
			if (rc == PF_ETOOBIG) {
				/* exactly at the cap is fine if the file ends here */
				uint8_t c;
				if (read(fd, &c, 1) == 0) {
					rc = 0;
					break;
				}
			}
			rc = pf_err_set(err, rc, "read %s: larger than %zu bytes", path, max);
			break;
		}
		rc = 0;
		r = read(fd, b->data + b->len, b->cap - b->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = pf_err_set(err, PF_EIO, "read %s: %s", path, strerror(errno));
			break;
		}
		if (r == 0)
			break;
		b->len += (size_t)r;
	}
	close(fd);
	return rc;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

int pf_rm_rf(const char *path)
{
	return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT ? -1 : 0;
}

size_t pf_raise_nofile(void)
{
	struct rlimit rl;
	char a[32], b[32];

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t was = rl.rlim_cur;
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0) {
			snprintf(a, sizeof(a), "%llu", (unsigned long long)was);
			snprintf(b, sizeof(b), "%llu", (unsigned long long)rl.rlim_cur);
			pf_log(PF_LOG_INFO, "raised the open-file limit to the hard limit", "from", a,
			       "to", b, NULL);
		} else {
			rl.rlim_cur = was;
		}
	}
	return rl.rlim_cur == RLIM_INFINITY ? (size_t)1 << 20 : (size_t)rl.rlim_cur;
}
