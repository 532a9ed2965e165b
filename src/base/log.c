/* Leveled log lines on stderr, logfmt or JSON. Configured once at start. */
#include "base.h"

#include <pthread.h>
#include <time.h>

static enum pf_log_level log_level = PF_LOG_INFO;
static int log_json;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

int pf_log_setup(const char *level, const char *format)
{
	static const char *names[] = {"debug", "info", "warn", "error"};
	int lvl = -1;

	for (size_t i = 0; i < PF_ARRAY_LEN(names); i++)
		if (level && strcmp(level, names[i]) == 0)
			lvl = (int)i;
	if (lvl < 0)
		return PF_EINVAL;
	if (!format || (strcmp(format, "logfmt") != 0 && strcmp(format, "json") != 0))
		return PF_EINVAL;
	log_level = (enum pf_log_level)lvl;
	log_json = strcmp(format, "json") == 0;
	return 0;
}

int pf_log_enabled(enum pf_log_level lvl)
{
	return lvl >= log_level;
}

static void put_value(FILE *f, const char *v, int json)
{
	int quote = json || *v == 0 || strpbrk(v, " =\"\t\n\\") != NULL;
	if (!quote) {
		fputs(v, f);
		return;
	}
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p < 0x20)
			fprintf(f, json ? "\\u%04x" : "\\x%02x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

void pf_log(enum pf_log_level lvl, const char *msg, ...)
{
	static const char *names[] = {"debug", "info", "warn", "error"};
	char ts[64];
	struct timespec now;
	struct tm tm;
	va_list ap;
	const char *k;

	if (lvl < log_level)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(now.tv_nsec / 1000000));

	pthread_mutex_lock(&log_mu);
	flockfile(stderr);
	if (log_json) {
		fprintf(stderr, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts, names[lvl]);
		put_value(stderr, msg, 1);
	} else {
		fprintf(stderr, "ts=%s level=%s msg=", ts, names[lvl]);
		put_value(stderr, msg, 0);
	}
	va_start(ap, msg);
	while ((k = va_arg(ap, const char *)) != NULL) {
		const char *v = va_arg(ap, const char *);
		if (!v)
			v = "";
		if (log_json) {
			fputc(',', stderr);
			put_value(stderr, k, 1);
			fputc(':', stderr);
			put_value(stderr, v, 1);
		} else {
			fprintf(stderr, " %s=", k);
			put_value(stderr, v, 0);
		}
	}
	va_end(ap);
	fputs(log_json ? "}\n" : "\n", stderr);
	funlockfile(stderr);
	pthread_mutex_unlock(&log_mu);
}
