/*
 * surprise.c - the poison verdict whose false-alarm rate is derived, not
 * tuned (issue 15; DESIGN.md "Poison detection").
 *
 * The null hypothesis is that a workload is innocent: the nodes its pods are
 * on fail at the cluster's background rate, whatever it does. Under it, the
 * failures of nodes a workload arrived on (within arrivalWindow of the
 * arrival: its *exposure*) form a Poisson process whose clock is the
 * workload's accumulated exposure times the background rate, Lambda. At each
 * failure of such a node (an "evaluation") the workload is judged: given a
 * failure now, the chance that j earlier ones fell within the last
 * Lambda-span s is P(Gamma(j, 1) <= s) = P(Poisson(s) >= j) (the Palm
 * distribution of a Poisson process: the gaps before an event are
 * independent Exp(1)). The smallest of these over j = 1..k-1 (k failures in
 * the window), times k-1 (Bonferroni), is the verdict's p. MemoryPressure
 * before a failure, seen in a fraction q of background failures, multiplies
 * it by q per failure that had it (independent of the workload under the
 * null). The same delay is judged too: at a failure a after the workload's
 * pod arrived, the earlier failures that came a (within a tolerance) after its
 * pods arrived, against its exposure at those ages alone (see the judgement:
 * a poison kills as long after it arrives each time, so its second node is
 * as surprising at 6 h as at 1 min).
 *
 * The workload is quarantined when p <= alpha, alpha = F / R: F the false
 * quarantines the operator accepts per cluster-year, R the evaluations per
 * year (workloads judged on a failure, counted from the nodes' history, at
 * least one per failure at the background rate). So the expected number of
 * false quarantines per year is at most F, in any cluster whose failures
 * are independent given the rate. One failure is never enough: with no
 * earlier failure there is no span, so the ">= 2 failed nodes" floor is
 * what the statistic gives, not a threshold on top of it.
 *
 * The background rate is failures per node-day over the trailing period
 * (30 days), per pool (the nodes a budget selects first) shrunk towards the
 * cluster's, and the cluster's towards the prior (0.01 a day) by one
 * pseudo-failure, so a young cluster or pool starts at the prior and its own
 * history takes over as it accumulates. Outages are not background, a burst
 * (failures within a minute) counts once, and the workload under judgement
 * is left out of its own background. The history lives in each node's
 * firebreak.dev/failure record ("earlier"), so it survives restarts and
 * failovers; a deleted node takes its history (and its node-days) with it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_int.h"
#include "kc/alloc.h"
#include "kc/array.h"

#define DAY_MS (24.0 * 3600 * 1000)
#define YEAR_DAYS 365.25
#define BG_FRESH_MS (60 * 1000) /* the background is recomputed at most this often */
#define JUDGE_SPANS_MAX 8       /* spans tried per judgement (the Bonferroni factor) */
#define EVENTS_MAX 64
#define SAME_DELAY_MS (30 * 1000) /* the same delay: within this of the failure now's */
#define SAME_DELAY_SHARE 4        /* ... tried where the delay is over 4 times that */
#define FRESH_NODE_MS (15 * 60 * 1000) /* a node this young: its age is the pod's (fresh_node) */

double fb_poisson_tail(int k, double mean)
{
	if (k <= 0)
		return 1.0;
	if (!(mean > 0))
		return 0.0;
	if (mean > (double)k) { /* the bulk: 1 - P(N < k), no cancellation worth fearing */
		double term = exp(-mean), cdf = term;
		for (int i = 1; i < k; i++) {
			term *= mean / i;
			cdf += term;
		}
		double t = 1.0 - cdf;
		return t < 0 ? 0 : t;
	}
	/* the tail: P(N = k) (1 + m/(k+1) + m^2/((k+1)(k+2)) + ...), in logs for tiny m */
	double logp = -mean + k * log(mean) - lgamma(k + 1.0);
	double sum = 1.0, term = 1.0;
	for (int i = k + 1; i < k + 200; i++) {
		term *= mean / i;
		sum += term;
		if (term < sum * 1e-17)
			break;
	}
	double t = exp(logp) * sum;
	return t > 1 ? 1 : t;
}

/* ---- the nodes' failure history ----------------------------------------------------------- */

static int past_add(fb_core *c, core_node *n, const fb_past_failure *pf)
{
	for (size_t i = 0; i < n->npast; i++)
		if (n->past[i].at_ms == pf->at_ms) { /* the same failure, as it stands now */
			n->past[i] = *pf;
			return 0;
		}
	if (!n->past && !(n->past = kc_calloc(FB_FAILURE_PAST_MAX + 1, sizeof(*n->past))))
		return -1;
	/* in time order; the oldest goes when full */
	size_t at = n->npast;
	while (at > 0 && n->past[at - 1].at_ms > pf->at_ms)
		at--;
	memmove(n->past + at + 1, n->past + at, (n->npast - at) * sizeof(*n->past));
	n->past[at] = *pf;
	n->npast++;
	if (n->npast > FB_FAILURE_PAST_MAX) {
		memmove(n->past, n->past + 1, FB_FAILURE_PAST_MAX * sizeof(*n->past));
		n->npast = FB_FAILURE_PAST_MAX;
	}
	surprise_invalidate(c);
	return 0;
}

void surprise_note_failure(fb_core *c, core_node *n, const fb_failure *f)
{
	fb_past_failure pf = { .at_ms = f->failed_ms, .suspects = (int)f->n,
	                       .outage = f->outage, .memory_pressure = f->memory_pressure };
	pf.attributed = f->attributed;
	for (size_t i = 0; i < f->n; i++)
		pf.attributed |= f->s[i].attributed;
	past_add(c, n, &pf); /* out of memory: the failure is missing from the background */
}

void surprise_restore_history(fb_core *c, core_node *n, const fb_failure *f)
{
	for (size_t i = 0; i < f->npast; i++)
		past_add(c, n, &f->past[i]);
	surprise_note_failure(c, n, f);
}

void surprise_fill_past(const core_node *n, fb_failure *f)
{
	f->npast = 0;
	for (size_t i = 0; n && i < n->npast && f->npast < FB_FAILURE_PAST_MAX; i++)
		if (n->past[i].at_ms < f->failed_ms)
			f->past[f->npast++] = n->past[i];
}

/* ---- the background rate ------------------------------------------------------------------ */

typedef struct bg_failure {
	int64_t at_ms;
	int pool;
	bool mp, attributed;
} bg_failure;

static int bg_failure_cmp(const void *a, const void *b)
{
	const bg_failure *x = a, *y = b;
	if (x->pool != y->pool)
		return x->pool < y->pool ? -1 : 1;
	return x->at_ms < y->at_ms ? -1 : x->at_ms > y->at_ms;
}

/* The pool of node n: the budget that selects it first (index into c->bg.pools; 0: none). */
static int node_pool(fb_core *c, core_node *n)
{
	if (!n || !n->known)
		return 0;
	budget_iter bi = node_budgets(c, n);
	core_budget *b = node_budget_next(c, n, &bi);
	if (!b)
		return 0;
	for (size_t i = 1; i < c->bg.npools; i++)
		if (c->bg.pools[i].budget == b->name)
			return (int)i;
	if (c->bg.npools == CORE_POOLS_MAX)
		return 0; /* too many pools: the cluster's rate */
	c->bg.pools[c->bg.npools] = (core_pool_rate){ .budget = b->name };
	return (int)c->bg.npools++;
}

/* The estimate for a pool with `failures` over `node_days`, shrunk towards prior_per_day. */
static double shrunk(double failures, double node_days, double prior_per_day)
{
	if (failures < 0)
		failures = 0;
	return (failures + 1.0) / (node_days + 1.0 / prior_per_day);
}

static void bg_compute(fb_core *c, int64_t now_ms)
{
	core_background *bg = &c->bg;
	if (bg->computed_ms && now_ms - bg->computed_ms < BG_FRESH_MS && now_ms >= bg->computed_ms)
		return;
	int64_t period = c->cfg.background_period_ms, from = now_ms - period;
	memset(bg, 0, sizeof(*bg));
	bg->npools = 1;
	bg_failure *fs = NULL;
	size_t nfs = 0, fcap = 0;
	double judged = 0;
	const char *k;
	void *v;
	for (size_t it = 0; kc_map_next(&c->nodes, &it, &k, &v);) {
		core_node *n = v;
		if (!n->known)
			continue;
		int pool = node_pool(c, n);
		int64_t since = n->created_ms > from ? n->created_ms : from;
		double days = since < now_ms ? (double)(now_ms - since) / DAY_MS : 0;
		bg->pools[0].nodes++;
		bg->pools[0].node_days += days;
		if (pool) {
			bg->pools[pool].nodes++;
			bg->pools[pool].node_days += days;
		}
		for (size_t i = 0; i < n->npast; i++) {
			const fb_past_failure *pf = &n->past[i];
			if (pf->at_ms < from || pf->at_ms > now_ms || pf->outage)
				continue;
			judged += pf->suspects;
			if (KC_ARRAY_RESERVE(fs, fcap, nfs + 1) != 0)
				continue; /* out of memory: fewer failures, a lower rate; judged once more */
			fs[nfs++] = (bg_failure){ pf->at_ms, pool, pf->memory_pressure, pf->attributed };
		}
	}
	/* groups: a failure within FB_BURST_SPAN_MS of its pool's group start joins it */
	if (nfs > 1)
		qsort(fs, nfs, sizeof(*fs), bg_failure_cmp);
	double cluster_groups = 0, mp_groups = 0, attr_groups = 0;
	int64_t start = 0;
	int cur = -1;
	bool mp = false, attr = false;
	for (size_t i = 0; i <= nfs; i++) {
		bool fresh = i == nfs || fs[i].pool != cur || fs[i].at_ms - start > FB_BURST_SPAN_MS;
		if (fresh && cur >= 0) {
			cluster_groups++;
			mp_groups += mp;
			attr_groups += attr;
			if (cur)
				bg->pools[cur].failures++;
		}
		if (i == nfs)
			break;
		if (fresh) {
			cur = fs[i].pool;
			start = fs[i].at_ms;
			mp = attr = false;
		}
		mp |= fs[i].mp;
		attr |= fs[i].attributed;
	}
	kc_free(fs);
	bg->pools[0].failures = cluster_groups;
	bg->mp_failures = mp_groups;
	bg->attributed_failures = attr_groups;
	bg->computed_ms = now_ms ? now_ms : 1;
	double years = (double)period / DAY_MS / YEAR_DAYS;
	bg->judged_measured = judged / years;
	/* the rates with no workload left out (a departing pod's span is priced at them); a
	 * judgement computes its own, leaving its workload out (surprise_judge) */
	bg->pools[0].per_day =
	        shrunk(bg->pools[0].failures, bg->pools[0].node_days, c->cfg.prior_failures_per_node_day);
	for (size_t i = 1; i < bg->npools; i++)
		bg->pools[i].per_day =
		        shrunk(bg->pools[i].failures, bg->pools[i].node_days, bg->pools[0].per_day);
}

/* The background rate at node n, failures per ms (rates: per pool, per day). */
static double node_rate_ms(fb_core *c, core_node *n, const double *rates)
{
	return rates[node_pool(c, n)] / DAY_MS;
}

int64_t poison_longest(const fb_core *c, bool window)
{
	const fb_poison_spec *d = &c->cfg.defaults.poison;
	int64_t h = window ? d->window_ms : d->arrival_window_ms;
	for (size_t i = 0; i < c->nbudgets; i++) {
		const fb_poison_spec *p = &c->budgets[i]->spec.poison;
		int64_t v = window ? p->window_ms : p->arrival_window_ms;
		if (v > h)
			h = v;
	}
	return h;
}

/* Where stint s stops counting as exposure at horizon_ms (a merged one is cut already). */
static int64_t stint_end(const core_stint *s, int64_t horizon_ms)
{
	if (s->merged || s->to_ms - s->from_ms <= horizon_ms)
		return s->to_ms;
	return s->from_ms + horizon_ms;
}

/*
 * w keeps CORE_STINTS_MAX stints and one more has to fit: the two most alike
 * (closest in start and end) become one, which over-counts their exposure and
 * never under-counts it. Each is cut at the longest horizon in force, and the
 * merged stint spans both at the sum of their rates: any span overlaps it at
 * least as much as it overlapped the two. Dropping the oldest, as was done
 * first, left a churning workload (a rollout every 15 minutes) with no
 * exposure between two of its failures hours apart, and a p of 0: 8 false
 * quarantines in 30,000 simulated cluster-days where the bound allows 0.65
 * (firebreak-sim calibration, 1,000 seeds). An over-count errs towards
 * innocence: a later verdict, never a false one.
 */
static void merge_closest_stints(const fb_core *c, core_workload *w, int64_t now_ms)
{
	int64_t h = poison_longest(c, false);
	/* first those no judgement can reach any more: over before the longest window */
	for (size_t i = 0; i < w->nstints;)
		if (stint_end(&w->stints[i], h) < now_ms - poison_longest(c, true))
			w->stints[i] = w->stints[--w->nstints];
		else
			i++;
	if (w->nstints < CORE_STINTS_MAX)
		return;
	size_t a = 0, b = 1;
	double best = INFINITY;
	for (size_t i = 0; i < w->nstints; i++)
		for (size_t j = i + 1; j < w->nstints; j++) {
			const core_stint *x = &w->stints[i], *y = &w->stints[j];
			double d = fabs((double)(x->from_ms - y->from_ms)) +
			           fabs((double)(stint_end(x, h) - stint_end(y, h)));
			if (d < best) {
				best = d;
				a = i;
				b = j;
			}
		}
	core_stint *x = &w->stints[a], *y = &w->stints[b];
	int64_t ex = stint_end(x, h), ey = stint_end(y, h);
	*x = (core_stint){ x->from_ms < y->from_ms ? x->from_ms : y->from_ms, ex > ey ? ex : ey,
		           x->per_ms + y->per_ms, true };
	w->stints[b] = w->stints[--w->nstints];
}

void surprise_pod_leaves(fb_core *c, core_pod *p)
{
	core_workload *w = p->wl;
	core_node *n = p->node;
	if (c->cfg.verdict != FB_VERDICT_SURPRISE || !w || !n || p->daemonset || p->mirror ||
	    p->arrived_ms <= 0)
		return;
	int64_t now = c->last_now_ms;
	int64_t to = n->failed && n->failed_since_ms < now ? n->failed_since_ms : now;
	if (to <= p->arrived_ms)
		return;
	bg_compute(c, now);
	double rates[CORE_POOLS_MAX];
	for (size_t i = 0; i < c->bg.npools; i++)
		rates[i] = c->bg.pools[i].per_day;
	core_stint s = { p->arrived_ms, to, 0, false };
	s.per_ms = node_rate_ms(c, n, rates);
	if (w->nstints == CORE_STINTS_MAX) {
		merge_closest_stints(c, w, now);
		w->stints[w->nstints++] = s;
		return;
	}
	if (KC_ARRAY_RESERVE(w->stints, w->stintcap, w->nstints + 1) != 0)
		return; /* out of memory: less exposure known (a judgement errs towards poison) */
	w->stints[w->nstints++] = s;
}

void surprise_free_workload(core_workload *w)
{
	kc_free(w->stints);
	w->stints = NULL;
	w->nstints = w->stintcap = 0;
}

/* ---- the judgement -------------------------------------------------------------------------- */


/*
 * Failure f lists another workload whose pod came there from a node that had failed with it
 * (a migration chain, the mark of a poison followed from node to node) while w's pod s did
 * not: the failure goes to that chain first, and is no evidence against w (an innocent
 * workload sharing two of a poison's nodes would otherwise look the more surprising of the
 * two: firebreak-sim, poison-pinned-deleted). If the chain is cleared, it counts again.
 */
static bool chained_elsewhere(const fb_failure *f, const fb_suspect *s)
{
	if (s->migrated_from)
		return false;
	for (size_t i = 0; i < f->n; i++)
		if (&f->s[i] != s && f->s[i].migrated_from && strcmp(f->s[i].workload, s->workload) != 0)
			return true;
	return false;
}

/* A piece of evidence: failures of w's nodes within FB_BURST_SPAN_MS of the first. */
typedef struct evidence_event {
	int64_t at_ms;             /* the first failure's */
	const char *node;          /* its node */
	int64_t after_ms;          /* from w's arrival there to the failure */
	int nodes;
	bool mp;
	bool attributed;           /* the node's agent laid its memory at w's pod before */
} evidence_event;

/*
 * What the signs before failure e multiply a p by: the share q of background failures that
 * MemoryPressure came before, or qa, of those the node's agent laid at an arrival, whichever
 * is the stronger of the signs e had, once (both are the node's memory). *mp or *attr is
 * set when that sign was used.
 */
static double sign_factor(const evidence_event *e, double q, double qa, bool *mp, bool *attr)
{
	if (e->attributed && qa < 1 && (!e->mp || qa <= q)) {
		*attr = true;
		return qa;
	}
	if (e->mp && q < 1) {
		*mp = true;
		return q;
	}
	return 1;
}

/* Overlap of [a, b) with (t0, t1]. */
static double overlap(int64_t a, int64_t b, int64_t t0, int64_t t1)
{
	int64_t lo = a > t0 ? a : t0, hi = b < t1 ? b : t1;
	return hi > lo ? (double)(hi - lo) : 0;
}

/*
 * The stays w's failure records tell of that no pod or span of w still does: each failure of
 * one of w's nodes (ev) ended a stay of w's pod there, from its arrival to the failure. After
 * a restart the spans of pods that left are gone (they are kept in memory) and the pods on
 * failed nodes are evicted, while the records are read back: without these stays an innocent
 * workload's two failures were judged against no exposure at all, p = 0 ("by chance never").
 * A stay is known when a pod of w on that node arrived then, or a span of w runs from that
 * arrival to that failure; a merged span may hold it too and it is counted again then (an
 * over-count, which errs towards innocence).
 */
static void stays_known(const core_workload *w, const evidence_event *ev, size_t nev, bool *known)
{
	for (size_t e = 0; e < nev; e++) {
		int64_t arrived = ev[e].at_ms - ev[e].after_ms;
		known[e] = false;
		for (size_t i = 0; i < w->npods && !known[e]; i++) {
			const core_pod *p = w->pods[i];
			known[e] = p->arrived_ms == arrived && p->node && !strcmp(p->node->name, ev[e].node);
		}
		for (size_t i = 0; i < w->nstints && !known[e]; i++) {
			const core_stint *s = &w->stints[i];
			known[e] = !s->merged && s->from_ms == arrived && s->to_ms == ev[e].at_ms;
		}
	}
}

/* The part of the stay [from, to) at the ages [age - tol, age + tol] (tol < 0: all of it). */
static double at_age(int64_t from, int64_t to, int64_t age_ms, int64_t tol_ms, int64_t t0,
                     int64_t t1)
{
	if (tol_ms >= 0) {
		int64_t lo = from + age_ms - tol_ms, hi = from + age_ms + tol_ms;
		from = lo > from ? lo : from;
		to = hi < to ? hi : to;
	}
	return overlap(from, to, t0, t1);
}

/*
 * w's exposure between t0 and t1 in expected failures: the time each of its
 * pods spent on a node within horizon_ms of arriving there, at the node's
 * background rate; with tol_ms >= 0, only while it had been there between
 * age_ms - tol_ms and age_ms + tol_ms (the same delay). The pods on nodes now,
 * the spans of those that left (a merged span, which has lost its pods'
 * arrivals, counts whole) and the stays only w's failure records still tell
 * of (ev where !known). Node-time (ms) in *ms_out.
 */
static double exposure(fb_core *c, const core_workload *w, int64_t horizon_ms, int64_t t0,
                       int64_t t1, int64_t age_ms, int64_t tol_ms, int64_t now_ms,
                       const double *rates, const evidence_event *ev, size_t nev,
                       const bool *known, double *ms_out)
{
	double lambda = 0, ms = 0;
	for (size_t i = 0; i < w->npods; i++) {
		const core_pod *p = w->pods[i];
		core_node *n = p->node;
		if (!n || p->daemonset || p->mirror || p->arrived_ms <= 0)
			continue;
		int64_t end = n->failed && n->failed_since_ms < now_ms ? n->failed_since_ms : now_ms;
		if (end > p->arrived_ms + horizon_ms)
			end = p->arrived_ms + horizon_ms;
		double o = at_age(p->arrived_ms, end, age_ms, tol_ms, t0, t1);
		ms += o;
		lambda += o * node_rate_ms(c, n, rates);
	}
	for (size_t i = 0; i < w->nstints; i++) {
		const core_stint *s = &w->stints[i];
		double o = at_age(s->from_ms, stint_end(s, horizon_ms), age_ms,
		                  s->merged ? -1 : tol_ms, t0, t1);
		ms += o;
		lambda += o * s->per_ms;
	}
	for (size_t e = 0; e < nev; e++) {
		if (known[e])
			continue;
		int64_t from = ev[e].at_ms - ev[e].after_ms, to = ev[e].at_ms;
		if (to > from + horizon_ms)
			to = from + horizon_ms;
		core_node *n = kc_map_get(&c->nodes, ev[e].node);
		double o = at_age(from, to, age_ms, tol_ms, t0, t1);
		ms += o;
		lambda += o * (n ? node_rate_ms(c, n, rates) : rates[0] / DAY_MS);
	}
	*ms_out = ms;
	return lambda;
}

static int event_cmp(const void *a, const void *b)
{
	const evidence_event *x = a, *y = b;
	if (x->at_ms != y->at_ms)
		return x->at_ms < y->at_ms ? -1 : 1;
	return strcmp(x->node, y->node);
}

/* "about once in 310,000" */
static const char *once_in(double p, char *buf, size_t cap)
{
	if (!(p > 0))
		snprintf(buf, cap, "never");
	else if (p >= 0.5)
		snprintf(buf, cap, "about every time");
	else {
		double n = 1.0 / p;
		if (n >= 1e9)
			snprintf(buf, cap, "about once in %.1e", n);
		else {
			/* two significant figures, thousands grouped */
			double mag = pow(10, floor(log10(n)) - 1);
			long long r = (long long)(floor(n / mag + 0.5) * mag);
			char digits[24], out[24];
			snprintf(digits, sizeof(digits), "%lld", r);
			size_t len = strlen(digits), o = 0;
			for (size_t i = 0; i < len && o + 2 < sizeof(out); i++) {
				if (i && (len - i) % 3 == 0)
					out[o++] = ',';
				out[o++] = digits[i];
			}
			out[o] = '\0';
			snprintf(buf, cap, "about once in %s", out);
		}
	}
	return buf;
}

/*
 * A burst g of w's nodes (failures within FB_BURST_SPAN_MS, w there before the
 * first): if another node of the same pool failed within the burst too, a
 * common cause (rack, switch, power) hit nodes whatever ran on them, and the
 * burst is one piece of evidence: 1. If it spared every node w was not on,
 * the chance that a burst of that many nodes of the pool lands only on w's:
 * C(m, b) / C(n, b), m the pool's nodes w had a pod on within horizon_ms, n
 * the pool's nodes.
 */
static double spared(fb_core *c, const core_workload *w, const evidence_event *g,
                     const evidence_event *ev, size_t nev, int64_t horizon_ms)
{
	core_node *first = kc_map_get(&c->nodes, g->node);
	int pool = node_pool(c, first);
	for (size_t e = 0; e < c->evidence.n; e++) {
		const fb_failure *f = &c->evidence.v[e];
		if (f->failed_ms < g->at_ms - FB_BURST_SPAN_MS ||
		    f->failed_ms > g->at_ms + FB_BURST_SPAN_MS)
			continue;
		bool ours = false;
		for (size_t i = 0; i < nev && !ours; i++)
			ours = strcmp(ev[i].node, f->node) == 0;
		if (!ours && node_pool(c, kc_map_get(&c->nodes, f->node)) == pool)
			return 1; /* a common cause */
	}
	int n = 0, m = 0;
	const char *k;
	void *v;
	for (size_t it = 0; kc_map_next(&c->nodes, &it, &k, &v);) {
		core_node *node = v;
		if (!node->known || node_pool(c, node) != pool)
			continue;
		n++;
		bool on = false;
		for (size_t i = 0; i < node->npods && !on; i++) {
			const core_pod *p = node->pods[i];
			on = p->wl == w && p->arrived_ms > 0 && p->arrived_ms <= g->at_ms &&
			     g->at_ms - p->arrived_ms <= horizon_ms;
		}
		for (size_t i = 0; i < nev && !on; i++) /* its pod there may be gone since */
			on = strcmp(ev[i].node, node->name) == 0;
		m += on;
	}
	int b = g->nodes;
	if (m < b || n < b)
		return 1;
	/* C(m, b) / C(n, b) in logs */
	double l = lgamma(m + 1.0) - lgamma(m - b + 1.0) - lgamma(n + 1.0) + lgamma(n - b + 1.0);
	return exp(l);
}

/*
 * w's pod arrived on node within FRESH_NODE_MS of the node's creation or of its return from a
 * failure, or the node is gone: its failure's delay after that arrival is also the node's
 * age, and a node can die at a fixed age whatever runs on it (a first-boot reboot, a
 * leaking node daemon, a certificate that was not rotated), so it is no evidence of the same
 * delay. A pod that waited for a new node (the cluster autoscaler) binds within seconds of
 * its Ready.
 */
static bool fresh_node(fb_core *c, const char *node, int64_t arrived_ms)
{
	core_node *n = kc_map_get(&c->nodes, node);
	if (!n || !n->known)
		return true;
	if (n->created_ms > 0 && arrived_ms - n->created_ms < FRESH_NODE_MS)
		return true;
	return n->back_ms > 0 && n->back_ms <= arrived_ms && arrived_ms - n->back_ms < FRESH_NODE_MS;
}

/* An earlier piece of evidence g came at the same delay as now's, a_ms after an arrival on a
 * fresh node or not (fresh_now): both on fresh nodes, the delays are the nodes' ages. */
static bool same_delay(fb_core *c, const evidence_event *g, int64_t a_ms, bool fresh_now,
                       int64_t horizon_ms)
{
	int64_t d = g->after_ms - a_ms;
	return g->after_ms <= horizon_ms && d <= SAME_DELAY_MS && -d <= SAME_DELAY_MS &&
	       !(fresh_now && fresh_node(c, g->node, g->at_ms - g->after_ms));
}

/*
 * "node-3 and node-7" into nodes and "52m and 49m" into delays: the groups g[i] with use[i],
 * in order, the last joined by "and".
 */
static void list_failures(const evidence_event *g, size_t k, const bool *use, char *nodes,
                          size_t ncap, char *delays, size_t dcap)
{
	size_t nl = 0, dl = 0, total = 0, seen = 0;
	for (size_t i = 0; i < k; i++)
		total += use[i];
	nodes[0] = delays[0] = '\0';
	for (size_t i = 0; i < k; i++) {
		if (!use[i])
			continue;
		char a[32];
		seen++;
		const char *sep = seen == 1 ? "" : (seen == total ? " and " : ", ");
		int x = snprintf(nodes + nl, ncap - nl, "%s%s%s", sep, g[i].node,
		                 g[i].nodes > 1 ? " (+ others within a minute)" : "");
		if (x > 0 && (size_t)x < ncap - nl)
			nl += (size_t)x;
		x = snprintf(delays + dl, dcap - dl, "%s%s", sep, ago(g[i].after_ms, a, sizeof(a)));
		if (x > 0 && (size_t)x < dcap - dl)
			dl += (size_t)x;
	}
}

/* A judgement on a failure w was not judged on before: counted once (stats). */
static void count_judgement(fb_core *c, core_workload *w, int64_t event_ms, double p,
                            double alpha, double per_day, double judged)
{
	c->stats.background_per_node_day = per_day;
	c->stats.judged_per_year = judged;
	if (w->judged_event_ms == event_ms)
		return;
	w->judged_event_ms = event_ms;
	c->stats.judgements++;
	c->stats.false_quarantines_expected += alpha;
	double x = 1.0;
	for (int i = 0; i < 8; i++, x /= 10)
		if (p <= x)
			c->stats.judgements_p_below[i]++;
}

bool surprise_judge(fb_core *c, core_workload *w, const fb_poison_spec *spec, int64_t since_ms,
                    int64_t now_ms, int *bad, double *p_out, char *why, size_t whycap)
{
	*p_out = 1;
	bg_compute(c, now_ms);
	const core_background *bg = &c->bg;
	/* w's failed nodes in the window, each once (its earliest record) */
	evidence_event ev[EVENTS_MAX];
	size_t nev = 0;
	for (size_t e = 0; e < c->evidence.n && nev < EVENTS_MAX; e++) {
		const fb_failure *f = &c->evidence.v[e];
		if (f->failed_ms < since_ms)
			continue;
		const fb_suspect *s = fb_failure_suspect(f, w->id);
		if (!s || s->arrived_ms < w->released_ms || chained_elsewhere(f, s))
			continue;
		size_t j = 0;
		while (j < nev && strcmp(ev[j].node, f->node) != 0)
			j++;
		if (j < nev) {
			if (f->failed_ms < ev[j].at_ms)
				ev[j] = (evidence_event){ f->failed_ms, f->node, f->failed_ms - s->arrived_ms, 1,
				                 f->memory_pressure, s->attributed };
			continue;
		}
		ev[nev++] = (evidence_event){ f->failed_ms, f->node, f->failed_ms - s->arrived_ms, 1,
		                     f->memory_pressure, s->attributed };
	}
	*bad = (int)nev;
	if (nev > 1)
		qsort(ev, nev, sizeof(*ev), event_cmp);
	bool known[EVENTS_MAX];
	stays_known(w, ev, nev, known);
	/*
	 * bursts: failures within FB_BURST_SPAN_MS of a group's first are one piece of
	 * evidence when w was there before that first failure (a common cause found them in
	 * place); a pod that arrived after it (moved off the failed node) is evidence of its own
	 */
	evidence_event g[EVENTS_MAX];
	size_t k = 0;
	for (size_t i = 0; i < nev; i++) {
		if (k && ev[i].at_ms - g[k - 1].at_ms <= FB_BURST_SPAN_MS &&
		    ev[i].at_ms - ev[i].after_ms <= g[k - 1].at_ms) {
			g[k - 1].nodes++;
			g[k - 1].mp |= ev[i].mp;
			g[k - 1].attributed |= ev[i].attributed;
			continue;
		}
		g[k++] = ev[i];
	}
	/* the background without w's own failures (each burst once), per pool */
	double sub[CORE_POOLS_MAX] = { 0 }, rates[CORE_POOLS_MAX], sub_mp = 0, sub_attr = 0;
	for (size_t i = 0; i < k; i++) {
		int pool = node_pool(c, kc_map_get(&c->nodes, g[i].node));
		sub[0]++;
		sub_mp += g[i].mp;
		sub_attr += g[i].attributed;
		if (pool)
			sub[pool]++;
	}
	rates[0] = shrunk(bg->pools[0].failures - sub[0], bg->pools[0].node_days,
	                  c->cfg.prior_failures_per_node_day);
	for (size_t i = 1; i < bg->npools; i++)
		rates[i] = shrunk(bg->pools[i].failures - sub[i], bg->pools[i].node_days, rates[0]);
	double judged = bg->judged_measured, floor = rates[0] * YEAR_DAYS * bg->pools[0].nodes;
	if (judged < floor)
		judged = floor;
	double alpha = c->cfg.false_alarms_per_year / judged;
	/* the share of background failures MemoryPressure came before (Laplace's rule) */
	double mp_bg = bg->mp_failures - sub_mp, all_bg = bg->pools[0].failures - sub[0];
	double q = c->cfg.memory_pressure_evidence
	                   ? ((mp_bg > 0 ? mp_bg : 0) + 1.0) / ((all_bg > 0 ? all_bg : 0) + 2.0)
	                   : 1.0;
	if (q > 1)
		q = 1;
	/* the share of background failures the node's agent had laid at a pod of one of their
	 * recent arrivals (Laplace's rule): how often an innocent workload is named wrongly */
	double attr_bg = bg->attributed_failures - sub_attr;
	double qa = ((attr_bg > 0 ? attr_bg : 0) + 1.0) / ((all_bg > 0 ? all_bg : 0) + 2.0);
	if (qa > 1)
		qa = 1;
	/* one failure is a verdict only when it was laid at w (and `failures` is not raised) */
	bool attributed_now = k && g[k - 1].attributed;
	int floor_k = spec->failures > 2 ? spec->failures : (attributed_now ? 1 : 2);
	char alpha_buf[48];
	once_in(alpha, alpha_buf, sizeof(alpha_buf));
	if ((int)nev < floor_k) {
		if (k)
			count_judgement(c, w, g[k - 1].at_ms, 1.0, alpha, rates[0], judged);
		snprintf(why, whycap, "%zu node%s it arrived on failed; a verdict needs %d", nev,
		         nev == 1 ? "" : "s", floor_k);
		return false;
	}
	/* the most surprising span that ends at the latest failure */
	double best = 2, best_ms = 0;
	int best_j = 0, tried = 0;
	bool best_mp = false, best_attr = false;
	for (int j = 1; j < (int)k && j <= JUDGE_SPANS_MAX; j++) {
		int64_t t0 = g[k - 1 - (size_t)j].at_ms, t1 = g[k - 1].at_ms;
		double ms;
		double lambda = exposure(c, w, spec->arrival_window_ms, t0, t1, 0, -1, now_ms, rates,
		                         ev, nev, known, &ms);
		double p = fb_poisson_tail(j, lambda);
		bool mp = false, attr = false;
		for (size_t i = k - 1 - (size_t)j; i < k; i++)
			p *= sign_factor(&g[i], q, qa, &mp, &attr);
		tried++;
		if (p < best) {
			best = p;
			best_j = j;
			best_ms = ms;
			best_mp = mp;
			best_attr = attr;
		}
	}
	/* and the most surprising burst that spared every node w was not on */
	size_t best_g = k;
	for (size_t i = 0; i < k; i++) {
		if (g[i].nodes < 2)
			continue;
		double p = spared(c, w, &g[i], ev, nev, spec->arrival_window_ms);
		tried++;
		if (p < best) {
			best = p;
			best_g = i;
		}
	}
	/*
	 * A failure its node's agent laid at w beforehand, judged on its own: given the
	 * failure (the judgement is made at it), the chance that an innocent w is the one
	 * named is at most qa, the share of background failures named for some arrival.
	 * Not qa times the chance of the failure itself: the agent names the pods that arrived
	 * last, and a new pod's exposure is near 0, so that product made wrongly named new
	 * pods look near-certain poisons (firebreak-sim calibration-agent: p <= 1e-5 in 0.09 %
	 * of judgements). So one naming is a verdict only where namings are rarer than the
	 * limit, qa <= F / R, which a month of history seldom shows; at the second failure
	 * each naming multiplies the span's p by qa instead, as memory pressure does.
	 */
	bool best_single = false;
	if (attributed_now && spec->failures <= 2) {
		double p1 = qa;
		tried++;
		if (p1 < best) {
			best = p1;
			best_single = true;
			best_g = k;
		}
	}
	double p = tried ? best * tried : 1;
	/*
	 * The same delay. A poison kills the nodes it lands on about as long after it arrives
	 * each time, and an innocent workload's nodes fail whenever they do: given the failure
	 * now, a after w's pod arrived here, the earlier failures that came a (within
	 * SAME_DELAY_MS) after w's pods arrived on theirs form, under the null, a Poisson
	 * process on w's exposure at those ages alone (exposure with a tolerance: a thinning, by
	 * ages the failure now fixes, of the process the spans read). An earlier failure does not
	 * count when both it and the failure now came on nodes younger than FRESH_NODE_MS at the
	 * arrival (fresh_node): there both delays are also the nodes' ages. A one-replica workload spends about
	 * 2 SAME_DELAY_MS at those ages a stay, so two failures at one delay are as surprising at
	 * 6 h as at 1 min, where the spans' exposure grows with the delay and a poison slower
	 * than minutes took three nodes (docs/simulator.md). SAME_DELAY_MS is the noise of a
	 * constant delay between a death and its record (kubelet's 10 s heartbeat, the node
	 * monitor's period). The test has a third of the limit and the others share the rest
	 * (a weighted Bonferroni: p x 3 and theirs x 3/2), and it is tried only where a is over
	 * SAME_DELAY_SHARE times the tolerance (a fact of the failure now): at a shorter delay
	 * the window is the pods' whole stay, the spans read the same, and the test would only
	 * take a share of the limit. A delay that varies by more than the tolerance is left to
	 * the spans: a second, wider tolerance (a quarter of the delay), tried while this was
	 * built, caught no varying poison sooner in firebreak-sim and cost the others a share.
	 */
	bool best_same = false;
	bool same[EVENTS_MAX]; /* the failures at the delay of now's, now's included */
	int same_j = 0;
	int64_t a_now = g[k - 1].after_ms;
	if (k >= 2 && a_now > SAME_DELAY_SHARE * (int64_t)SAME_DELAY_MS) {
		bool fresh_now = fresh_node(c, g[k - 1].node, g[k - 1].at_ms - a_now);
		p *= 1.5;
		for (size_t i = 0; i + 1 < k; i++) {
			same[i] = same_delay(c, &g[i], a_now, fresh_now, spec->arrival_window_ms);
			same_j += same[i];
		}
		same[k - 1] = true;
		if (same_j > 0) {
			double ms;
			double lambda = exposure(c, w, spec->arrival_window_ms,
			                         g[k - 1].at_ms - spec->window_ms, g[k - 1].at_ms, a_now,
			                         SAME_DELAY_MS, now_ms, rates, ev, nev, known, &ms);
			double ps = fb_poisson_tail(same_j, lambda);
			bool mp = false, attr = false;
			for (size_t i = 0; i < k; i++)
				if (same[i])
					ps *= sign_factor(&g[i], q, qa, &mp, &attr);
			if (ps * 3 < p) {
				p = ps * 3;
				best_same = true;
				best_single = false;
				best_g = k;
				best_ms = ms;
				best_mp = mp;
				best_attr = attr;
			}
		}
	}
	if (p > 1)
		p = 1;
	bool poison = p <= alpha;
	*p_out = p;
	count_judgement(c, w, g[k - 1].at_ms, p, alpha, rates[0], judged);
	char pbuf[48];
	once_in(p, pbuf, sizeof(pbuf));
	if (best_single) {
		/* "its pod on node-3, which failed 52m after it arrived there, was named by the
		 * node's agent as holding the memory no cgroup counted; ..." */
		char a[32];
		snprintf(why, whycap,
		         "its pod on %s, which failed %s after it arrived there, was named by the "
		         "node's agent (firebreak-node) as holding the memory no cgroup counted, before "
		         "the failure; %.2g of this cluster's failures were named for a pod, so an "
		         "innocent workload is named for a failure of its node by chance %s; the limit "
		         "for %.3g false quarantines a year at %.0f workloads judged a year is %s",
		         g[k - 1].node, ago(g[k - 1].after_ms, a, sizeof(a)), qa, pbuf,
		         c->cfg.false_alarms_per_year, judged, alpha_buf);
		return poison;
	}
	if (best_g < k) {
		/* "node-3, node-7 and node-9, which it had arrived on 21m, 20m and 20m before, failed
		 * within a minute of each other and no other node of theirs did; ..." */
		char nodes[200] = "";
		size_t nl = 0, seen = 0;
		for (size_t i = 0; i < nev; i++) {
			if (ev[i].at_ms < g[best_g].at_ms || ev[i].at_ms - g[best_g].at_ms > FB_BURST_SPAN_MS ||
			    ev[i].at_ms - ev[i].after_ms > g[best_g].at_ms)
				continue;
			seen++;
			int x = snprintf(nodes + nl, sizeof(nodes) - nl, "%s%s",
			                 seen == 1 ? "" : (seen == (size_t)g[best_g].nodes ? " and " : ", "),
			                 ev[i].node);
			if (x > 0 && (size_t)x < sizeof(nodes) - nl)
				nl += (size_t)x;
		}
		snprintf(why, whycap,
		         "%s, where its pods had arrived, failed within a minute of each other and no "
		         "other node of theirs did; a failure of %d nodes at once would spare every "
		         "node it was not on %s; the limit for %.3g false quarantines a year at %.0f "
		         "workloads judged a year is %s",
		         nodes, g[best_g].nodes, pbuf, c->cfg.false_alarms_per_year, judged, alpha_buf);
		return poison;
	}
	int pool = node_pool(c, kc_map_get(&c->nodes, g[k - 1].node));
	char where[160];
	if (pool)
		snprintf(where, sizeof(where), "the failure rate of the nodes budget %s selects (%.2g "
		         "a day across %d nodes)", bg->pools[pool].budget, rates[pool] * bg->pools[pool].nodes,
		         bg->pools[pool].nodes);
	else
		snprintf(where, sizeof(where), "this cluster's failure rate (%.2g a day across %d "
		         "nodes)", rates[0] * bg->pools[0].nodes, bg->pools[0].nodes);
	const char *signs = best_attr ? (best_mp ? " (memory pressure and the node agent's naming "
	                                           "counted)"
	                                         : " (the node agent's naming counted)")
	                              : best_mp ? " (memory pressure counted)" : "";
	if (best_same) {
		/* "its pods arrived on node-4 and node-7, which failed 6h0m45s and 6h0m46s later, the
		 * same delay within 30s; ..." */
		char nodes[200], delays[160], tol[32], span[32], win[32];
		list_failures(g, k, same, nodes, sizeof(nodes), delays, sizeof(delays));
		snprintf(why, whycap,
		         "its pods arrived on %s, which failed %s later, the same delay within %s; "
		         "in the %s before, its pods spent %s on nodes at that delay from arriving; at "
		         "%s, failures at one delay after arrival happen by chance %s such "
		         "workloads%s; the limit for %.3g false quarantines a year at %.0f workloads "
		         "judged a year is %s",
		         nodes, delays, ago(SAME_DELAY_MS, tol, sizeof(tol)),
		         ago(spec->window_ms, win, sizeof(win)), ago((int64_t)best_ms, span, sizeof(span)),
		         where, pbuf, signs,
		         c->cfg.false_alarms_per_year, judged, alpha_buf);
		return poison;
	}
	/* "its pods arrived on node-3 and node-7, which failed 52m and 49m later; ..." */
	char nodes[200], delays[160], span[32];
	bool use[EVENTS_MAX];
	for (size_t i = 0; i < k; i++)
		use[i] = i >= k - 1 - (size_t)best_j;
	list_failures(g, k, use, nodes, sizeof(nodes), delays, sizeof(delays));
	snprintf(why, whycap,
	         "its pods arrived on %s, which failed %s later; its pods spent %s on nodes "
	         "between the first and the last of these failures; at %s that happens by chance "
	         "%s such workloads%s; the limit for %.3g false quarantines a year at %.0f "
	         "workloads judged a year is %s",
	         nodes, delays, ago((int64_t)best_ms, span, sizeof(span)), where, pbuf, signs,
	         c->cfg.false_alarms_per_year, judged, alpha_buf);
	return poison;
}
