/* Clocks, time and duration parsing, sizes. */
#include "base.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <time.h>

int64_t pf_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t pf_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

/* What int64 Unix nanoseconds hold, for messages. */
#define TIME_RANGE "(times from 1677-09-21T00:12:44Z to 2262-04-11T23:47:16Z are supported)"

static int unsupported(struct pf_err *err)
{
	return pf_err_set(err, PF_EINVAL, "time in unsupported format");
}

/* A number: Unix seconds (with fraction) below 1e11, else milliseconds. */
static int parse_number(const char *s, int64_t *ns, struct pf_err *err)
{
	const char *p = s;
	int64_t ip = 0, frac = 0, scale = 1;
	int neg = 0, big = 0;

	if (*p == '-') {
		neg = 1;
		p++;
	}
	if (!isdigit((unsigned char)*p))
		return unsupported(err);
	for (; isdigit((unsigned char)*p); p++) {
		if (ip > INT64_MAX / 10 - 10)
			big = 1; /* keep reading: it may still not be a number */
		else
			ip = ip * 10 + (*p - '0');
	}
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return unsupported(err);
		for (; isdigit((unsigned char)*p); p++) {
			if (scale < 1000000000LL) { /* digits past ns are dropped */
				frac = frac * 10 + (*p - '0');
				scale *= 10;
			}
		}
	}
	if (*p)
		return unsupported(err);
	if (big)
		return pf_err_set(err, PF_ETOOBIG, "Unix time out of range " TIME_RANGE);
	if (ip < 100000000000LL) {
		/* seconds; frac/scale of a second. Unix ns in int64 end in 2262. */
		int64_t v;
		if (__builtin_mul_overflow(ip, (int64_t)1000000000, &v) ||
		    __builtin_add_overflow(v, frac * 1000000000 / scale, &v))
			return pf_err_set(err, PF_ETOOBIG, "Unix time %s%" PRId64 " s out of range " TIME_RANGE,
					  neg ? "-" : "", ip);
		*ns = neg ? -v : v;
	} else {
		int64_t v;
		if (__builtin_mul_overflow(ip, (int64_t)1000000, &v) ||
		    __builtin_add_overflow(v, frac * 1000000 / scale, &v))
			return pf_err_set(err, PF_ETOOBIG, "Unix time %s%" PRId64 " ms out of range " TIME_RANGE,
					  neg ? "-" : "", ip);
		*ns = neg ? -v : v;
	}
	return 0;
}

int pf_parse_time(const char *s, int64_t *ns)
{
	return pf_parse_time_err(s, ns, NULL);
}

int pf_parse_time_err(const char *s, int64_t *ns, struct pf_err *err)
{
	const char *p = s;
	int M, D, h, m, sec, ny = 0;
	long Y = 0;
	int64_t frac = 0, off = 0;
	struct tm tm;
	time_t t;

	if (!s || !*s)
		return unsupported(err);
	/* a date starts with a year of four or more digits and a '-';
	 * anything else is a number or nothing we take */
	while (isdigit((unsigned char)p[ny]))
		ny++;
	if (ny < 4 || p[ny] != '-')
		return parse_number(s, ns, err);
	for (int i = 0; i < ny && i < 10; i++)
		Y = Y * 10 + (p[i] - '0');
	p += ny + 1;
	if (digits(&p, 2, &M) < 0 || *p++ != '-' || digits(&p, 2, &D) < 0 || *p++ != 'T' ||
	    digits(&p, 2, &h) < 0 || *p++ != ':' || digits(&p, 2, &m) < 0 || *p++ != ':' ||
	    digits(&p, 2, &sec) < 0)
		return unsupported(err);
	if (*p == '.') {
		int64_t scale = 1000000000;
		p++;
		if (!isdigit((unsigned char)*p))
			return unsupported(err);
		for (; isdigit((unsigned char)*p); p++) {
			scale /= 10;
			frac += (*p - '0') * scale;
		}
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om, sign = *p == '-' ? -1 : 1;
		p++;
		if (digits(&p, 2, &oh) < 0 || *p++ != ':' || digits(&p, 2, &om) < 0)
			return unsupported(err);
		if (oh > 23 || om > 59)
			return pf_err_set(err, PF_ETOOBIG, "time zone offset out of range");
		off = sign * ((int64_t)oh * 3600 + om * 60);
	}
	if (*p)
		return unsupported(err);
	if (M < 1 || M > 12)
		return pf_err_set(err, PF_ETOOBIG, "month %d out of range", M);
	if (D < 1 || D > 31)
		return pf_err_set(err, PF_ETOOBIG, "day %d out of range", D);
	if (h > 23 || m > 59 || sec > 60)
		return pf_err_set(err, PF_ETOOBIG, "time of day %02d:%02d:%02d out of range", h, m, sec);
	if (ny > 9)
		return pf_err_set(err, PF_ETOOBIG, "year of %d digits out of range " TIME_RANGE, ny);
	if (Y < 1677 || Y > 2262)
		return pf_err_set(err, PF_ETOOBIG, "year %ld out of range " TIME_RANGE, Y);
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = (int)Y - 1900;
	tm.tm_mon = M - 1;
	tm.tm_mday = D;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec;
	t = timegm(&tm);
	/* reject dates timegm normalised (Feb 30) */
	{
		struct tm back;
		gmtime_r(&t, &back);
		if (back.tm_mday != D || back.tm_mon != M - 1)
			return pf_err_set(err, PF_ETOOBIG, "day %d out of range for month %d of %ld", D, M, Y);
	}
	/* Unix ns in int64 cover the years 1677 to 2262 */
	if (__builtin_mul_overflow((int64_t)t - off, (int64_t)1000000000, ns) ||
	    __builtin_add_overflow(*ns, frac, ns))
		return pf_err_set(err, PF_ETOOBIG, "time out of range " TIME_RANGE);
	return 0;
}

static void split(int64_t ns, time_t *sec, long *nsec)
{
	int64_t s = ns / 1000000000, r = ns % 1000000000;
	if (r < 0) {
		r += 1000000000;
		s--;
	}
	*sec = (time_t)s;
	*nsec = (long)r;
}

void pf_format_rfc3339(int64_t ns, char *out, size_t n)
{
	time_t sec;
	long nsec;
	struct tm tm;
	split(ns, &sec, &nsec);
	gmtime_r(&sec, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void pf_format_go_time(int64_t ns, char *out, size_t n)
{
	time_t sec;
	long nsec;
	struct tm tm;
	char base[40], frac[16] = "";

	split(ns, &sec, &nsec);
	gmtime_r(&sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%d %H:%M:%S", &tm);
	if (nsec) {
		int len;
		snprintf(frac, sizeof(frac), ".%09ld", nsec);
		len = (int)strlen(frac);
		while (len > 1 && frac[len - 1] == '0')
			frac[--len] = 0;
	}
	snprintf(out, n, "%s%s +0000 UTC", base, frac);
}

int pf_parse_duration(const char *s, int64_t *ns)
{
	static const struct {
		const char *u;
		int64_t ms;
	} units[] = {
		{"y", 365LL * 86400000}, {"w", 7LL * 86400000}, {"d", 86400000}, {"h", 3600000},
		{"m", 60000}, {"s", 1000}, {"ms", 1},
	};
	const char *p = s;
	int64_t total = 0;
	size_t next = 0; /* units must come in order, each once */

	if (!s || !*s)
		return PF_EINVAL;
	if (strcmp(s, "0") == 0) {
		*ns = 0;
		return 0;
	}
	while (*p) {
		int64_t v = 0;
		size_t u;
		if (!isdigit((unsigned char)*p))
			return PF_EINVAL;
		for (; isdigit((unsigned char)*p); p++) {
			if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *p - '0', &v))
				return PF_EINVAL;
		}
		if (p[0] == 'm' && p[1] == 's')
			u = 6;
		else if (p[0] && strchr("ywdhms", p[0]))
			for (u = 0; units[u].u[0] != p[0] || units[u].u[1]; u++)
				;
		else
			return PF_EINVAL;
		if (u < next)
			return PF_EINVAL;
		next = u + 1;
		p += strlen(units[u].u);
		if (__builtin_mul_overflow(v, units[u].ms, &v) || __builtin_add_overflow(total, v, &total))
			return PF_EINVAL;
	}
	if (__builtin_mul_overflow(total, 1000000, &total))
		return PF_EINVAL;
	*ns = total;
	return 0;
}

int pf_parse_size(const char *s, uint64_t *bytes)
{
	static const struct {
		const char *u;
		unsigned shift;
	} units[] = {
		{"", 0}, {"B", 0}, {"KB", 10}, {"MB", 20}, {"GB", 30}, {"TB", 40}, {"PB", 50},
		{"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40}, {"PiB", 50},
		{"k", 10}, {"K", 10}, {"M", 20}, {"G", 30}, {"T", 40},
	};
	const char *p = s;
	uint64_t v = 0;

	if (!s || !isdigit((unsigned char)*p))
		return PF_EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > UINT64_MAX / 10 - 10)
			return PF_EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	for (size_t i = 0; i < PF_ARRAY_LEN(units); i++) {
		if (strcmp(p, units[i].u) == 0) {
			if (units[i].shift && v > (UINT64_MAX >> units[i].shift))
				return PF_EINVAL;
			*bytes = v << units[i].shift;
			return 0;
		}
	}
	return PF_EINVAL;
}

void pf_format_duration(int64_t ns, char *out, size_t n)
{
	static const struct {
		const char *u;
		int64_t ms;
		int exact;
	} units[] = {
		{"y", 365LL * 86400000, 1}, {"w", 7LL * 86400000, 1}, {"d", 86400000, 0}, {"h", 3600000, 0},
		{"m", 60000, 0}, {"s", 1000, 0}, {"ms", 1, 0},
	};
	int64_t ms = ns / 1000000;
	size_t off = 0;

	if (n == 0)
		return;
	out[0] = 0;
	if (ms <= 0) {
		snprintf(out, n, "0s");
		return;
	}
	for (size_t i = 0; i < PF_ARRAY_LEN(units) && off < n; i++) {
		int64_t v;
		int m;
		if (units[i].exact && ms % units[i].ms != 0)
			continue;
		v = ms / units[i].ms;
		if (v <= 0)
			continue;
		m = snprintf(out + off, n - off, "%lld%s", (long long)v, units[i].u);
		if (m < 0)
			return;
		off += (size_t)m;
		ms -= v * units[i].ms;
	}
}
