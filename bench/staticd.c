/*
 * staticd: a small static HTTP/1.1 server for the scrape benchmark. It
 * listens on N loopback ports (all chosen by the kernel) and answers
 * net/http/pprof's paths with fixture files, from memory, with keep-alive:
 *
 *   /debug/pprof/profile      tests/fixtures/pprof/cpu-001.pb.gz
 *   /debug/pprof/<type>       tests/fixtures/pprof/<type>-001.pb.gz
 *                             (heap allocs block mutex goroutine threadcreate)
 *
 * With -hold, a request with ?seconds=N is answered N seconds later, as Go
 * answers a CPU profile. One thread, epoll.
 *
 *   staticd -n PORTS -ports-file FILE [-dir DIR] [-hold]
 *
 * writes the ports to FILE, one a line, then prints "staticd port FIRST".
 */
#include "base/base.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

struct file {
	const char *name; /* last path element */
	const char *fixture;
	struct pf_buf data;
	char header[160];
	size_t hlen;
};

static struct file files[] = {
	{"profile", "cpu-001.pb.gz"},       {"heap", "heap-001.pb.gz"},
	{"allocs", "allocs-001.pb.gz"},     {"block", "block-001.pb.gz"},
	{"mutex", "mutex-001.pb.gz"},       {"goroutine", "goroutine-001.pb.gz"},
	{"threadcreate", "threadcreate-001.pb.gz"},
};

static const char not_found[] = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
				"Content-Length: 10\r\n\r\nnot found\n";

enum { T_LISTEN = 1, T_CONN = 2 };

struct conn {
	int type;
	int fd;
	char in[4096];
	size_t inlen;
	/* the response being written */
	const char *hdr;
	size_t hlen, blen, off;
	const uint8_t *body;
	int64_t due_ms;      /* held until (0: not held) */
	struct conn *next;   /* held list, sorted by due */
};

struct listener {
	int type;
	int fd;
};

static int ep;
static int hold;
static struct conn *held;
static uint64_t served;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void conn_close(struct conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
}

static void watch(struct conn *c, uint32_t ev)
{
	struct epoll_event e = {.events = ev, .data.ptr = c};
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
}

/* Write what is left of the response; 1 when done, 0 when blocked, -1 on error. */
static int flush(struct conn *c)
{
	while (c->off < c->hlen + c->blen) {
		struct iovec iov[2];
		int n = 0;
		ssize_t w;
		if (c->off < c->hlen) {
			iov[n].iov_base = (void *)(c->hdr + c->off);
			iov[n++].iov_len = c->hlen - c->off;
			iov[n].iov_base = (void *)c->body;
			iov[n++].iov_len = c->blen;
		} else {
			iov[n].iov_base = (void *)(c->body + (c->off - c->hlen));
			iov[n++].iov_len = c->blen - (c->off - c->hlen);
		}
		w = writev(c->fd, iov, n);
		if (w < 0) {
			if (errno == EAGAIN)
				return 0;
			if (errno == EINTR)
				continue;
			return -1;
		}
		c->off += (size_t)w;
	}
	c->hdr = NULL;
	c->hlen = c->blen = c->off = 0;
	served++;
	return 1;
}

static void hold_insert(struct conn *c)
{
	struct conn **p = &held;
	while (*p && (*p)->due_ms <= c->due_ms)
		p = &(*p)->next;
	c->next = *p;
	*p = c;
}

/* Parse every complete request in c->in; answer (or hold) one at a time. */
static int serve(struct conn *c)
{
	for (;;) {
		char *end, *sp, *path, *q;
		size_t used, plen;
		struct file *f = NULL;
		int rc;

		if (c->hdr || c->due_ms)
			return 0; /* a response is pending */
		end = memmem(c->in, c->inlen, "\r\n\r\n", 4);
		if (!end)
			return c->inlen >= sizeof(c->in) ? -1 : 0;
		used = (size_t)(end + 4 - c->in);
		if (c->inlen < 4 || memcmp(c->in, "GET ", 4) != 0)
			return -1;
		path = c->in + 4;
		sp = memchr(path, ' ', (size_t)(end - path));
		if (!sp)
			return -1;
		plen = (size_t)(sp - path);
		q = memchr(path, '?', plen);
		{
			char *last = NULL, *stop = q ? q : sp;
			for (char *p = path; p < stop; p++)
				if (*p == '/')
					last = p + 1;
			for (size_t i = 0; last && i < PF_ARRAY_LEN(files); i++)
				if ((size_t)(stop - last) == strlen(files[i].name) &&
				    memcmp(last, files[i].name, (size_t)(stop - last)) == 0)
					f = &files[i];
		}
		if (f) {
			c->hdr = f->header;
			c->hlen = f->hlen;
			c->body = f->data.data;
			c->blen = f->data.len;
		} else {
			c->hdr = not_found;
			c->hlen = sizeof(not_found) - 1;
			c->body = (const uint8_t *)"";
			c->blen = 0;
		}
		c->off = 0;
		if (hold && q) {
			char *s = memmem(q, (size_t)(sp - q), "seconds=", 8);
			long secs = s ? strtol(s + 8, NULL, 10) : 0;
			if (secs > 0) {
				c->due_ms = now_ms() + secs * 1000;
				memmove(c->in, c->in + used, c->inlen - used);
				c->inlen -= used;
				hold_insert(c);
				return 0;
			}
		}
		memmove(c->in, c->in + used, c->inlen - used);
		c->inlen -= used;
		rc = flush(c);
		if (rc < 0)
			return -1;
		if (rc == 0) {
			watch(c, EPOLLIN | EPOLLOUT);
			return 0;
		}
	}
}

static void on_readable(struct conn *c)
{
	for (;;) {
		ssize_t r;
		if (c->inlen == sizeof(c->in)) {
			if (serve(c) < 0) {
				conn_close(c);
				return;
			}
			if (c->inlen == sizeof(c->in))
				return; /* waiting on a held or blocked response */
		}
		r = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
		if (r == 0) {
			if (c->due_ms) { /* closed while held: drop it from the list */
				struct conn **p = &held;
				while (*p && *p != c)
					p = &(*p)->next;
				if (*p)
					*p = c->next;
			}
			conn_close(c);
			return;
		}
		if (r < 0) {
			if (errno == EAGAIN)
				break;
			if (errno == EINTR)
				continue;
			conn_close(c);
			return;
		}
		c->inlen += (size_t)r;
	}
	if (serve(c) < 0)
		conn_close(c);
}

static void on_writable(struct conn *c)
{
	int rc = flush(c);
	if (rc < 0) {
		conn_close(c);
		return;
	}
	if (rc == 1) {
		watch(c, EPOLLIN);
		if (serve(c) < 0)
			conn_close(c);
	}
}

static void release_held(void)
{
	int64_t now = now_ms();
	while (held && held->due_ms <= now) {
		struct conn *c = held;
		int rc;
		held = c->next;
		c->due_ms = 0;
		rc = flush(c);
		if (rc < 0) {
			conn_close(c);
			continue;
		}
		if (rc == 0) {
			watch(c, EPOLLIN | EPOLLOUT);
			continue;
		}
		if (serve(c) < 0)
			conn_close(c);
	}
}

int main(int argc, char **argv)
{
	const char *dir = "tests/fixtures/pprof", *ports_file = NULL;
	long n = 0;
	FILE *pf;
	struct rlimit rl;
	int first = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
			n = strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "-dir") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strcmp(argv[i], "-ports-file") == 0 && i + 1 < argc)
			ports_file = argv[++i];
		else if (strcmp(argv[i], "-hold") == 0)
			hold = 1;
		else {
			fprintf(stderr, "usage: staticd -n PORTS -ports-file FILE [-dir DIR] [-hold]\n");
			return 2;
		}
	}
	if (n <= 0 || !ports_file) {
		fprintf(stderr, "usage: staticd -n PORTS -ports-file FILE [-dir DIR] [-hold]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (size_t i = 0; i < PF_ARRAY_LEN(files); i++) {
		char path[1024];
		struct pf_err err = {0};
		snprintf(path, sizeof(path), "%s/%s", dir, files[i].fixture);
		pf_buf_init(&files[i].data, 0);
		if (pf_read_file(path, 64 << 20, &files[i].data, &err) < 0) {
			fprintf(stderr, "staticd: %s\n", err.msg);
			return 1;
		}
		files[i].hlen = (size_t)snprintf(files[i].header, sizeof(files[i].header),
						 "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
						 "Content-Length: %zu\r\n\r\n",
						 files[i].data.len);
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!(pf = fopen(ports_file, "w"))) {
		fprintf(stderr, "staticd: open %s: %s\n", ports_file, strerror(errno));
		return 1;
	}
	for (long i = 0; i < n; i++) {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		socklen_t al = sizeof(a);
		struct listener *l = calloc(1, sizeof(*l));
		struct epoll_event e = {.events = EPOLLIN};
		int one = 1;

		l->type = T_LISTEN;
		l->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (l->fd < 0 || bind(l->fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l->fd, 128) < 0 ||
		    getsockname(l->fd, (struct sockaddr *)&a, &al) < 0) {
			fprintf(stderr, "staticd: listen on port %ld of %ld: %s\n", i + 1, n, strerror(errno));
			return 1;
		}
		e.data.ptr = l;
		epoll_ctl(ep, EPOLL_CTL_ADD, l->fd, &e);
		fprintf(pf, "%d\n", ntohs(a.sin_port));
		if (i == 0)
			first = ntohs(a.sin_port);
	}
	fclose(pf);
	printf("staticd port %d (%ld ports%s)\n", first, n, hold ? ", holding ?seconds= requests" : "");
	fflush(stdout);

	for (;;) {
		struct epoll_event ev[256];
		int timeout = -1, k;
		if (held) {
			int64_t d = held->due_ms - now_ms();
			timeout = d < 0 ? 0 : (int)d;
		}
		k = epoll_wait(ep, ev, 256, timeout);
		for (int i = 0; i < k; i++) {
			int type = *(int *)ev[i].data.ptr;
			if (type == T_LISTEN) {
				struct listener *l = ev[i].data.ptr;
				int fd;
				while ((fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					struct conn *c = calloc(1, sizeof(*c));
					struct epoll_event e = {.events = EPOLLIN};
					int one = 1;
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					c->type = T_CONN;
					c->fd = fd;
					e.data.ptr = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
				}
				continue;
			}
			if (ev[i].events & (EPOLLOUT))
				on_writable(ev[i].data.ptr);
			else
				on_readable(ev[i].data.ptr);
		}
		release_held();
	}
}
