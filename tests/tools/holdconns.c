/*
 * holdconns: clients that hold connections to a server open, for
 * tests/e2e/connections.sh.
 *
 *   holdconns idle SRC HOST PORT N       open N connections from address SRC
 *                                        and send nothing
 *   holdconns keepalive SRC HOST PORT N  open N connections, make one
 *                                        GET /-/healthy on each, keep them
 *   holdconns slowloris SRC HOST PORT MS send a request's head one byte every
 *                                        MS milliseconds, never finishing it
 *
 * idle and keepalive print "connected N" (and "answered N" for keepalive)
 * once every connection is open, then hold them until stdin reaches EOF or
 * a signal ends the program; at EOF they print "open N": how many the server
 * had not closed. slowloris prints "connected", then "cut after N bytes"
 * when the server closes the connection (exit 0), or "answered: ..." if the
 * server replied to the unfinished head (exit 1).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static int open_conn(const char *src, const char *host, int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET}, from = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (inet_pton(AF_INET, src, &from.sin_addr) != 1 ||
	    bind(fd, (struct sockaddr *)&from, sizeof(from)) < 0)
		goto fail;
	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

/* Whether the server has closed fd (EOF or an error); drains what it sent. */
static int closed_by_server(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char buf[4096];

	while (poll(&p, 1, 0) == 1) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return 1;
		if (n < 0)
			return 0;
	}
	return 0;
}

static int hold(const char *mode, const char *src, const char *host, int port, int n)
{
	int *fds = calloc((size_t)n, sizeof(*fds)), open_n = 0, answered = 0, rc = 1;
	int keepalive = strcmp(mode, "keepalive") == 0;
	static const char req[] = "GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n";
	char buf[4096];

	if (!fds)
		return 1;
	for (int i = 0; i < n; i++) {
		fds[i] = open_conn(src, host, port);
		if (fds[i] < 0) {
			fprintf(stderr, "holdconns: connection %d of %d from %s: %s\n", i + 1, n, src,
				strerror(errno));
			n = i;
			goto out;
		}
		if (keepalive) {
			ssize_t got;
			if (send(fds[i], req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(req) - 1) {
				n = i + 1;
				goto out;
			}
			got = recv(fds[i], buf, sizeof(buf), 0); /* one short reply */
			if (got > 12 && memcmp(buf, "HTTP/1.1 200", 12) == 0)
				answered++;
		}
	}
	printf("connected %d\n", n);
	if (keepalive)
		printf("answered %d\n", answered);
	fflush(stdout);
	while (read(0, buf, sizeof(buf)) > 0)
		;
	for (int i = 0; i < n; i++)
		open_n += !closed_by_server(fds[i]);
	printf("open %d\n", open_n);
	rc = 0;
out:
	for (int i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
	return rc;
}

static int slowloris(const char *src, const char *host, int port, int ms)
{
	static const char head[] = "GET /-/healthy HTTP/1.1\r\nHost: x\r\nX-Slow: ";
	int fd = open_conn(src, host, port);
	size_t sent = 0;

	if (fd < 0) {
		fprintf(stderr, "holdconns: connect: %s\n", strerror(errno));
		return 1;
	}
	printf("connected\n");
	fflush(stdout);
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		char c = sent < sizeof(head) - 1 ? head[sent] : 'a', buf[256];
		int r;
		ssize_t n;

		if (send(fd, &c, 1, MSG_NOSIGNAL) != 1)
			break;
		sent++;
		r = poll(&p, 1, ms);
		if (r < 0 && errno != EINTR) {
			close(fd);
			return 1;
		}
		if (r <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			break;
		buf[n] = 0;
		printf("answered: %.80s\n", buf);
		close(fd);
		return 1;
	}
	printf("cut after %zu bytes\n", sent);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct rlimit rl;

	if (argc != 6) {
		fprintf(stderr, "usage: holdconns idle|keepalive|slowloris SRC HOST PORT N|MS\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (strcmp(argv[1], "slowloris") == 0)
		return slowloris(argv[2], argv[3], (int)strtol(argv[4], NULL, 10), (int)strtol(argv[5], NULL, 10));
	if (strcmp(argv[1], "idle") == 0 || strcmp(argv[1], "keepalive") == 0)
		return hold(argv[1], argv[2], argv[3], (int)strtol(argv[4], NULL, 10), (int)strtol(argv[5], NULL, 10));
	fprintf(stderr, "holdconns: unknown mode %s\n", argv[1]);
	return 2;
}
