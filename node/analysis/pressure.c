/*
 * pressure.c - thrashing, as the kernel reports it: /proc/pressure/memory (PSI,
 * kernel/sched/psi.c psi_show: "some avg10=%lu.%02lu avg60=... avg300=...
 * total=%llu", then "full ..."), and the counters of /proc/vmstat that show it
 * where PSI is absent (mm/vmstat.c vmstat_text: pgmajfault, and
 * workingset_refault_file, named workingset_refault before 5.9).
 */
#include <stdlib.h>
#include <string.h>

#include "fbn.h"
#include "fbn_int.h"

/* "12.34" at *i: a non-negative decimal of at most 6 integer digits. */
static bool decimal(const fbn_line *l, size_t *i, double *out)
{
	size_t j = *i;
	uint64_t whole = 0, frac = 0, scale = 1;
	int digits = 0;
	while (j < l->len && l->s[j] >= '0' && l->s[j] <= '9' && digits < 6) {
		whole = whole * 10 + (uint64_t)(l->s[j++] - '0');
		digits++;
	}
	if (!digits || (j < l->len && l->s[j] >= '0' && l->s[j] <= '9'))
		return false;
	if (j < l->len && l->s[j] == '.') {
		j++;
		int fd = 0;
		while (j < l->len && l->s[j] >= '0' && l->s[j] <= '9' && fd < 6) {
			frac = frac * 10 + (uint64_t)(l->s[j++] - '0');
			scale *= 10;
			fd++;
		}
		if (!fd || (j < l->len && l->s[j] >= '0' && l->s[j] <= '9'))
			return false;
	}
	*i = j;
	*out = (double)whole + (double)frac / (double)scale;
	return true;
}

/* " key=value" at *i */
static bool keyed(const fbn_line *l, size_t *i, const char *key, double *d, uint64_t *u)
{
	fbn__skip_blanks(l, i);
	size_t n = strlen(key);
	if (l->len - *i < n + 1 || memcmp(l->s + *i, key, n) != 0 || l->s[*i + n] != '=')
		return false;
	*i += n + 1;
	return d ? decimal(l, i, d) : fbn__u64(l, i, u);
}

static bool psi_line(const fbn_line *l, fbn_psi_line *out)
{
	size_t i = 0;
	fbn_psi_line p = { .present = true };
	if (!fbn__word(l, &i, l->len && l->s[0] == 's' ? "some" : "full") ||
	    !keyed(l, &i, "avg10", &p.avg10, NULL) || !keyed(l, &i, "avg60", &p.avg60, NULL) ||
	    !keyed(l, &i, "avg300", &p.avg300, NULL) || !keyed(l, &i, "total", NULL, &p.total_us))
		return false;
	fbn__skip_blanks(l, &i);
	if (i != l->len || p.avg10 > 100 || p.avg60 > 100 || p.avg300 > 100)
		return false;
	*out = p;
	return true;
}

void fbn_psi_parse(const char *text, size_t len, fbn_psi *out)
{
	memset(out, 0, sizeof(*out));
	size_t pos = 0;
	fbn_line l;
	while (fbn__next_whole_line(text, len, &pos, &l)) {
		fbn_psi_line p;
		if (!psi_line(&l, &p))
			continue;
		if (l.s[0] == 's')
			out->some = p;
		else
			out->full = p;
	}
}

void fbn_vmstat_parse(const char *text, size_t len, fbn_vmstat *out)
{
	memset(out, 0, sizeof(*out));
	size_t pos = 0;
	fbn_line l;
	bool refault_file = false;
	while (fbn__next_whole_line(text, len, &pos, &l)) {
		size_t i = 0;
		uint64_t v;
		const char *key = NULL;
		static const char *const keys[] = { "pgmajfault", "workingset_refault_file",
			                            "workingset_refault", "pswpin", "pswpout",
			                            "oom_kill" };
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]) && !key; k++) {
			i = 0;
			if (fbn__word(&l, &i, keys[k]))
				key = keys[k];
		}
		if (!key)
			continue;
		fbn__skip_blanks(&l, &i);
		if (!fbn__u64(&l, &i, &v) || i != l.len)
			continue;
		if (!strcmp(key, "pgmajfault")) {
			out->pgmajfault = v;
			out->present_majfault = true;
		} else if (!strcmp(key, "workingset_refault_file")) {
			out->workingset_refault = v;
			out->present_refault = refault_file = true;
		} else if (!strcmp(key, "workingset_refault")) {
			if (!refault_file) { /* before 5.9: file refaults only */
				out->workingset_refault = v;
				out->present_refault = true;
			}
		} else if (!strcmp(key, "pswpin")) {
			out->pswpin = v;
		} else if (!strcmp(key, "pswpout")) {
			out->pswpout = v;
		} else {
			out->oom_kill = v;
			out->present_oom_kill = true;
		}
	}
}
