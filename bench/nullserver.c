/*
 * nullserver: the baseline for push throughput. A libmicrohttpd server with
 * profefe's threading model (a thread per connection) whose handler reads
 * the body into memory and answers 200 without doing anything with it.
 *   nullserver PORT     (0: the kernel picks one)
 * prints "port N" on stdout once it listens.
 */
#include "base/base.h"

#include <microhttpd.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

static enum MHD_Result handle(void *cls, struct MHD_Connection *con, const char *url,
			      const char *method, const char *version, const char *data,
			      size_t *size, void **req_cls)
{
	struct pf_buf *b = *req_cls;
	struct MHD_Response *r;
	enum MHD_Result ret;
	static const char reply[] = "{\"code\":200,\"body\":{}}\n";
	(void)cls;
	(void)url;
	(void)method;
	(void)version;

	if (!b) {
		b = pf_xcalloc(1, sizeof(*b));
		*req_cls = b;
		return MHD_YES;
	}
	if (*size) {
		if (pf_buf_append(b, data, *size) < 0)
			return MHD_NO;
		*size = 0;
		return MHD_YES;
	}
	r = MHD_create_response_from_buffer(sizeof(reply) - 1, (void *)reply, MHD_RESPMEM_PERSISTENT);
	ret = MHD_queue_response(con, 200, r);
	MHD_destroy_response(r);
	return ret;
}

static void done(void *cls, struct MHD_Connection *con, void **req_cls,
		 enum MHD_RequestTerminationCode toe)
{
	struct pf_buf *b = *req_cls;
	(void)cls;
	(void)con;
	(void)toe;
	if (b) {
		pf_buf_free(b);
		free(b);
	}
	*req_cls = NULL;
}

int main(int argc, char **argv)
{
	struct MHD_Daemon *d;
	sigset_t set;
	int sig;

	if (argc != 2) {
		fprintf(stderr, "usage: nullserver PORT\n");
		return 2;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
				     MHD_USE_POLL,
			     (uint16_t)strtol(argv[1], NULL, 10), NULL, NULL, handle, NULL,
			     MHD_OPTION_NOTIFY_COMPLETED, done, NULL, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "nullserver: cannot listen on %s\n", argv[1]);
		return 1;
	}
	printf("port %u\n", (unsigned)MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port);
	fflush(stdout);
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	return 0;
}
