/*
 * arrival.c - the unaccounted memory laid at a pod by when it began holding a
 * GPU and how the memory grew since (fbn.h, fbn_attribute_by_arrival), and the
 * process start times it is read from (/proc/<pid>/stat, /proc/uptime).
 *
 * One sample can name a pod only when it is the only one holding a GPU
 * (analyze.c). A node of several GPU pods needs time: the pod whose arrival
 * the growth followed, where the others held their devices before it with no
 * growth. The incident behind issue 16 is that shape: the memory grew from
 * when the poison's process opened /dev/nvidia*, and stopped only when it was
 * killed.
 */
#include <stdio.h>
#include <string.h>

#include "fbn.h"
#include "fbn_int.h"

const char *fbn_basis_name(fbn_basis b)
{
	switch (b) {
	case FBN_BASIS_ONLY_HOLDER: return "OnlyHolder";
	case FBN_BASIS_ARRIVAL: return "ArrivedBeforeGrowth";
	case FBN_BASIS_ONLY_HOLDER_ARRIVAL: return "OnlyHolderArrivedBeforeGrowth";
	case FBN_BASIS_NONE: break;
	}
	return "None";
}

bool fbn_proc_starttime(const char *text, size_t len, uint64_t *ticks)
{
	/* "pid (comm) state ppid ...": field 3 (state) follows the last ')' */
	const char *close = NULL;
	for (size_t i = 0; i < len; i++)
		if (text[i] == ')')
			close = text + i;
	if (!close)
		return false;
	fbn_line l = { close + 1, (size_t)(text + len - close - 1), false };
	size_t i = 0;
	for (int field = 3; field < 22; field++) { /* skip fields 3..21 */
		fbn__skip_blanks(&l, &i);
		if (i >= l.len || l.s[i] == '\n')
			return false;
		while (i < l.len && l.s[i] != ' ' && l.s[i] != '\n')
			i++;
	}
	fbn__skip_blanks(&l, &i);
	/* followed by field 23: a number cut short by a half-written file is not taken */
	return fbn__u64(&l, &i, ticks) && i < l.len && l.s[i] == ' ';
}

bool fbn_uptime_ms(const char *text, size_t len, int64_t *ms)
{
	fbn_line l = { text, len, false };
	size_t i = 0;
	uint64_t sec = 0, frac = 0;
	if (!fbn__u64(&l, &i, &sec) || sec > (uint64_t)INT64_MAX / 1000 - 1)
		return false;
	int digits = 0;
	if (i < len && text[i] == '.')
		for (i++; i < len && text[i] >= '0' && text[i] <= '9'; i++)
			if (digits < 3) {
				frac = frac * 10 + (uint64_t)(text[i] - '0');
				digits++;
			}
	if (i >= len || (text[i] != ' ' && text[i] != '\n'))
		return false; /* cut short */
	while (digits++ < 3)
		frac *= 10;
	*ms = (int64_t)(sec * 1000 + frac);
	return true;
}

void fbn_arrival_config_default(fbn_arrival_config *c)
{
	*c = (fbn_arrival_config){ .onset_kb = 256 * 1024, .quiet_ms = 10 * 60 * 1000 };
}

/* The unaccounted memory at ms: the last point of the history at or before it (false:
 * before the history, which then cannot say). */
static bool kb_at(const fbn_trend *t, int64_t ms, int64_t *kb)
{
	bool found = false;
	int64_t best = 0;
	for (size_t i = 0; i < t->nhist; i++)
		if (t->hist[i].ms <= ms && (!found || t->hist[i].ms > best)) {
			found = true;
			best = t->hist[i].ms;
			*kb = t->hist[i].kb;
		}
	return found;
}

void fbn_attribute_by_arrival(fbn_report *r, const fbn_trend *t, const fbn_arrival_config *c,
                              int64_t now_ms, int64_t uptime_ms, long hz)
{
	const fbn_holders *h = &r->holders;
	if (!r->flag_unaccounted || !r->unaccounted_known || !h->scanned || h->dropped ||
	    !t->have_base || hz <= 0 || uptime_ms <= 0)
		return;
	int64_t growth = r->unaccounted_kb - t->base_kb;
	if (growth < c->onset_kb)
		return;
	/*
	 * Each pod holder is cleared when it began once the growth was under way (the
	 * memory then already onset_kb above the lowest), or when the memory was still
	 * that low quiet_ms after it began. One left uncleared is the suspect.
	 */
	int64_t start[FBN_HOLDERS_MAX];
	size_t pods = 0, late = 0, quiet = 0;
	int p = -1;
	for (size_t i = 0; i < h->n; i++) {
		const fbn_holder *x = &h->v[i];
		if (!x->pod_uid[0])
			continue;
		pods++;
		/* started this long before the sample (ticks to ms in doubles: a forged file's
		 * numbers cannot overflow) */
		double ago = (double)uptime_ms - (double)x->start_ticks * 1000.0 / (double)hz;
		int64_t kb, later;
		if (!x->have_start || ago < 0 || ago > (double)now_ms)
			return; /* when it began is not known */
		start[i] = now_ms - (int64_t)ago;
		if (!kb_at(t, start[i], &kb))
			return; /* it began before the history: the memory then is not known */
		if (kb - t->base_kb >= c->onset_kb) {
			late++;
			continue;
		}
		if (start[i] + c->quiet_ms <= now_ms && kb_at(t, start[i] + c->quiet_ms, &later) &&
		    later - t->base_kb < c->onset_kb) {
			quiet++;
			continue;
		}
		if (p >= 0)
			return; /* two began with the growth: they cannot be told apart */
		p = (int)i;
	}
	int64_t at_p;
	if (p < 0 || !kb_at(t, start[p], &at_p) || r->unaccounted_kb - at_p < c->onset_kb)
		return;
	r->suspect = p;
	r->basis = pods == 1 ? FBN_BASIS_ONLY_HOLDER_ARRIVAL : FBN_BASIS_ARRIVAL;
	const fbn_holder *x = &h->v[p];
	char others[200] = "";
	if (pods > 1)
		snprintf(others, sizeof(others),
		         "; of the %zu other pods holding a GPU, %zu held theirs for %lld minutes with no "
		         "growth and %zu began after the growth", pods - 1, quiet,
		         (long long)(c->quiet_ms / 60000), late);
	snprintf(r->suspect_why, sizeof(r->suspect_why),
	         "the memory grew %.1f GiB after this pod began holding %s %lld minutes ago, when it "
	         "was within %lld MiB of the day's lowest%s",
	         (double)(r->unaccounted_kb - at_p) / (1024.0 * 1024.0), x->device,
	         (long long)((now_ms - start[p]) / 60000), (long long)(c->onset_kb / 1024), others);
}
