/*
 * trend.c - what successive samples say that one cannot (fbn.h, fbn_trend):
 * fault and refault rates from vmstat's counters, the unaccounted memory's
 * growth, and when the processes are worth looking at again.
 *
 * Counters that go down (a reboot, a tree rewritten by a test) give no rate
 * for that step rather than a negative one; a sample without the numbers
 * leaves the rates unknown, never zero.
 */
#include <string.h>

#include "fbn.h"

void fbn_trend_config_default(fbn_trend_config *c)
{
	*c = (fbn_trend_config){ .scan_every_ms = 60 * 1000, .rescan_growth_kb = 256 * 1024,
		                 .growth_window_ms = 10 * 60 * 1000 };
}

void fbn_trend_init(fbn_trend *t)
{
	memset(t, 0, sizeof(*t));
}

bool fbn_trend_scan_due(const fbn_trend *t, const fbn_trend_config *c, int64_t now_ms,
                        bool unaccounted_known, int64_t unaccounted_kb)
{
	if (!t->scanned_once || now_ms - t->last_scan_ms >= c->scan_every_ms)
		return true;
	/* in doubles: a forged file's numbers cannot overflow the difference */
	return unaccounted_known &&
	       (double)unaccounted_kb - (double)t->scan_kb >= (double)c->rescan_growth_kb;
}

static bool rate(uint64_t prev, uint64_t now, double seconds, double *out)
{
	if (now < prev || seconds <= 0)
		return false;
	*out = (double)(now - prev) / seconds;
	return true;
}

void fbn_trend_update(fbn_trend *t, const fbn_trend_config *c, int64_t now_ms,
                      const fbn_report *r, bool scanned)
{
	if (t->have_prev && now_ms <= t->prev_ms)
		return;
	double seconds = t->have_prev ? (double)(now_ms - t->prev_ms) / 1000.0 : 0;
	t->have_rates = t->have_prev && r->have_vmstat && t->prev_vm.present_majfault &&
	                r->vm.present_majfault && t->prev_vm.present_refault && r->vm.present_refault &&
	                rate(t->prev_vm.pgmajfault, r->vm.pgmajfault, seconds, &t->majfault_per_s) &&
	                rate(t->prev_vm.workingset_refault, r->vm.workingset_refault, seconds,
	                     &t->refault_per_s);
	if (!t->have_rates)
		t->majfault_per_s = t->refault_per_s = 0;
	t->prev_vm = r->have_vmstat ? r->vm : (fbn_vmstat){ 0 };
	t->prev_ms = now_ms;
	t->have_prev = true;
	t->have_growth = false;
	t->growth_kb_per_min = 0;
	if (r->unaccounted_known) {
		/* the oldest point kept within the window */
		const int64_t *oldest = NULL;
		int64_t oldest_ms = 0;
		for (size_t i = 0; i < t->npoints; i++)
			if (now_ms - t->points[i].ms <= c->growth_window_ms &&
			    (!oldest || t->points[i].ms < oldest_ms)) {
				oldest = &t->points[i].kb;
				oldest_ms = t->points[i].ms;
			}
		if (oldest) {
			t->have_growth = true;
			t->growth_kb_per_min = ((double)r->unaccounted_kb - (double)*oldest) /
			                       ((double)(now_ms - oldest_ms) / 60000.0);
		}
		t->points[t->next].ms = now_ms;
		t->points[t->next].kb = r->unaccounted_kb;
		t->next = (t->next + 1) % FBN_TREND_POINTS;
		if (t->npoints < FBN_TREND_POINTS)
			t->npoints++;
		if (scanned)
			t->scan_kb = r->unaccounted_kb;
		if (!t->have_base || r->unaccounted_kb < t->base_kb)
			t->base_kb = r->unaccounted_kb;
		t->have_base = true;
		/* a point a minute for the day's history (the ring's oldest goes), and one at once when
		 * the memory fell (it was freed: a process holding it ended, or act mode killed it), so
		 * that a holder that begins again after the fall is seen to begin low, not at the
		 * minute's point taken before it */
		size_t last = (t->hnext + FBN_HISTORY_POINTS - 1) % FBN_HISTORY_POINTS;
		if (!t->nhist || now_ms - t->hist[last].ms >= FBN_HISTORY_STEP_MS ||
		    (double)t->hist[last].kb - (double)r->unaccounted_kb >= (double)c->rescan_growth_kb) {
			t->hist[t->hnext].ms = now_ms;
			t->hist[t->hnext].kb = r->unaccounted_kb;
			t->hnext = (t->hnext + 1) % FBN_HISTORY_POINTS;
			if (t->nhist < FBN_HISTORY_POINTS)
				t->nhist++;
		}
	}
	if (scanned) {
		t->last_scan_ms = now_ms;
		t->scanned_once = true;
	}
}
