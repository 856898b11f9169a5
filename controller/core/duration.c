/* duration.c - see duration.h (mirrors Go's time.ParseDuration, ms precision). */
#include <stdio.h>
#include <string.h>

#include "duration.h"

static const struct {
	const char *unit;
	double ms;
} units[] = {
	{ "ns", 1e-6 }, { "us", 1e-3 }, { "\xc2\xb5s", 1e-3 }, { "\xce\xbcs", 1e-3 },
	{ "ms", 1 }, { "s", 1e3 }, { "m", 60e3 }, { "h", 3600e3 },
};

bool fb_duration_parse(const char *s, int64_t *ms)
{
	if (!s || !*s)
		return false;
	const char *p = s;
	double sign = 1;
	if (*p == '-' || *p == '+') {
		sign = *p == '-' ? -1 : 1;
		p++;
	}
	if (strcmp(p, "0") == 0) {
		*ms = 0;
		return true;
	}
	if (!*p)
		return false;
	double total = 0;
	while (*p) {
		double v = 0, frac = 0, scale = 1;
		bool digits = false;
		while (*p >= '0' && *p <= '9') {
			v = v * 10 + (*p++ - '0');
			digits = true;
			if (v > 1e15)
				return false;
		}
		if (*p == '.') {
			p++;
			while (*p >= '0' && *p <= '9') {
				scale /= 10;
				frac += (*p++ - '0') * scale;
				digits = true;
			}
		}
		if (!digits)
			return false;
		size_t best = 0;
		double unit_ms = 0;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t n = strlen(units[i].unit);
			if (n > best && strncmp(p, units[i].unit, n) == 0) {
				best = n;
				unit_ms = units[i].ms;
			}
		}
		if (!best)
			return false; /* a unit is required ("30" alone is not a duration) */
		p += best;
		total += (v + frac) * unit_ms;
		if (total > 9.2e15)
			return false;
	}
	*ms = (int64_t)(sign * total + (sign > 0 ? 0.5 : -0.5));
	return true;
}

const char *fb_duration_format(int64_t ms, char *buf, size_t cap)
{
	if (ms == 0) {
		snprintf(buf, cap, "0s");
		return buf;
	}
	const char *neg = ms < 0 ? "-" : "";
	int64_t v = ms < 0 ? -ms : ms;
	int64_t h = v / 3600000, m = v / 60000 % 60, s = v / 1000 % 60, rest = v % 1000;
	size_t n = (size_t)snprintf(buf, cap, "%s", neg);
	if (h && n < cap)
		n += (size_t)snprintf(buf + n, cap - n, "%lldh", (long long)h);
	if (m && n < cap)
		n += (size_t)snprintf(buf + n, cap - n, "%lldm", (long long)m);
	if (s && n < cap)
		n += (size_t)snprintf(buf + n, cap - n, "%llds", (long long)s);
	if (rest && n < cap)
		snprintf(buf + n, cap - n, "%lldms", (long long)rest);
	return buf;
}
