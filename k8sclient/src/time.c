/* time.c - clocks, RFC 3339 / metav1.MicroTime formatting and parsing. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kc/time.h"

int64_t kc_now_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t kc_now_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t kc_now_wall_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	const int64_t era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = (unsigned)(y - era * 400);
	const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
	z += 719468;
	const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	const unsigned doe = (unsigned)(z - era * 146097);
	const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	const unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static void split(int64_t wall_us, int *y, unsigned *mo, unsigned *d, int *h, int *mi,
                  int *s, long *us)
{
	int64_t secs = wall_us / 1000000;
	int64_t frac = wall_us % 1000000;
	if (frac < 0) {
		frac += 1000000;
		secs -= 1;
	}
	int64_t days = secs / 86400;
	int64_t rem = secs % 86400;
	if (rem < 0) {
		rem += 86400;
		days -= 1;
	}
	civil_from_days(days, y, mo, d);
	*h = (int)(rem / 3600);
	*mi = (int)(rem % 3600 / 60);
	*s = (int)(rem % 60);
	*us = (long)frac;
}

char *kc_time_format_frac(int64_t wall_us, int frac_digits, char buf[KC_TIME_STR_MAX])
{
	int y, h, mi, s;
	unsigned mo, d;
	long us;
	split(wall_us, &y, &mo, &d, &h, &mi, &s, &us);
	if (frac_digits < 0)
		frac_digits = 0;
	if (frac_digits > 6)
		frac_digits = 6;
	int n = snprintf(buf, KC_TIME_STR_MAX, "%04d-%02u-%02uT%02d:%02d:%02d", y, mo, d, h, mi, s);
	if (n < 0 || n >= KC_TIME_STR_MAX - 9) /* no room for ".ffffffZ": cannot happen */
		return buf;
	if (frac_digits > 0) {
		for (int i = frac_digits; i < 6; i++)
			us /= 10; /* truncate, never round */
		n += snprintf(buf + n, (size_t)(KC_TIME_STR_MAX - n), ".%0*ld", frac_digits, us);
	}
	snprintf(buf + n, (size_t)(KC_TIME_STR_MAX - n), "Z");
	return buf;
}

char *kc_time_format(int64_t wall_us, char buf[KC_TIME_STR_MAX])
{
	return kc_time_format_frac(wall_us, 0, buf);
}

char *kc_microtime_format(int64_t wall_us, char buf[KC_TIME_STR_MAX])
{
	return kc_time_format_frac(wall_us, 6, buf);
}

/* Read exactly n decimal digits. */
static bool digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static bool expect(const char **p, char c)
{
	if (**p != c)
		return false;
	(*p)++;
	return true;
}

kc_err kc_time_parse(const char *s, int64_t *out)
{
	if (!s)
		return KC_ERR_PARSE;
	const char *p = s;
	int y, mo, d, h, mi, sec;
	if (!digits(&p, 4, &y) || !expect(&p, '-') || !digits(&p, 2, &mo) || !expect(&p, '-') ||
	    !digits(&p, 2, &d))
		return KC_ERR_PARSE;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return KC_ERR_PARSE;
	p++;
	if (!digits(&p, 2, &h) || !expect(&p, ':') || !digits(&p, 2, &mi) || !expect(&p, ':') ||
	    !digits(&p, 2, &sec))
		return KC_ERR_PARSE;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return KC_ERR_PARSE;
	long us = 0;
	if (*p == '.') {
		p++;
		int n = 0;
		long scale = 100000;
		while (*p >= '0' && *p <= '9') {
			if (n < 6) {
				us += (*p - '0') * scale;
				scale /= 10;
			}
			n++;
			p++;
		}
		if (n == 0 || n > 9)
			return KC_ERR_PARSE;
	}
	int64_t offset = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1;
		int oh, om;
		p++;
		if (!digits(&p, 2, &oh) || !expect(&p, ':') || !digits(&p, 2, &om) || oh > 23 ||
		    om > 59)
			return KC_ERR_PARSE;
		offset = sign * (int64_t)(oh * 3600 + om * 60);
	} else {
		return KC_ERR_PARSE;
	}
	if (*p != '\0')
		return KC_ERR_PARSE;
	int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
	int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset;
	*out = secs * 1000000 + us;
	return KC_OK;
}

static pthread_mutex_t rand_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t rand_state;

double kc_rand01(void)
{
	pthread_mutex_lock(&rand_lock);
	if (rand_state == 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		rand_state = (((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^
		             (uint64_t)(uintptr_t)&ts) | 1;
	}
	/* xorshift64* */
	rand_state ^= rand_state >> 12;
	rand_state ^= rand_state << 25;
	rand_state ^= rand_state >> 27;
	uint64_t r = rand_state * 0x2545F4914F6CDD1DULL;
	pthread_mutex_unlock(&rand_lock);
	return (double)(r >> 11) / 9007199254740992.0;
}
