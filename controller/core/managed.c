/*
 * managed.c - managed mode: which pods firebreak covers, adopts and gives
 * back (docs/DESIGN.md "Managed clusters", issue 13).
 *
 * Where Kubernetes' taint-eviction controller cannot be turned off, a pod
 * whose not-ready/unreachable tolerations have seconds is evicted by it at
 * their end, budgets and quarantines notwithstanding. The admission webhook
 * covers new pods (their seconds removed and recorded); this pass covers the
 * rest: pods created before the install, or while no webhook answered.
 *
 *   - managed: a pod the taint-eviction controller would still evict
 *     (k8s_evicts) and that the webhook would have covered (not a DaemonSet
 *     or mirror pod, not in a namespace or with the label the webhook is
 *     never called for: gate_exempt) is "uncovered": firebreak asks for it
 *     to be covered (FB_ACT_COVER) and, until it is, leaves its eviction to
 *     Kubernetes (eviction.c skips it: k8s_owned), so the two never race.
 *     One still uncovered after uncovered_report_ms gets a Warning Event.
 *   - not managed (the mode was turned off): every pod that carries
 *     firebreak's record gets its seconds back (FB_ACT_UNCOVER), so that
 *     nothing firebreak made tolerate forever stays so.
 *   - handed back: in dry run, globally or by an EvictionBudget with dryRun
 *     that selects the pod's node, firebreak reports evictions and makes
 *     none, so a covered pod there would be evicted by no one. Such pods get
 *     their seconds back as with the mode off (the one write dry run makes:
 *     it gives Kubernetes back what it had), and a budget's dry-run nodes'
 *     pods are not covered again. The webhook covers pods before they have a
 *     node; the ones scheduled onto such a node are given back here.
 *   A pod given back on a failed node gets the seconds left of its time,
 *   counted from failedSince (at least 0), not the whole time: the
 *   taint-eviction controller starts its clock at the update
 *   (processPodOnNode), and so evicts it when firebreak would have. Its
 *   whole times are kept aside (FB_ANNOTATION_TOLERATIONS_FULL: "shortened")
 *   and written back once its node is up again (FB_ACT_UNCOVER, lengthen),
 *   so that the shorter time does not stay; it is not covered meanwhile.
 *
 * Pods on failed nodes go first, and pods not asked for yet before those asked
 * again: the taint-eviction controller's clock runs for them, and a pod covered before it strikes is firebreak's to evict at
 * failedSince + its recorded seconds, exactly as in self-managed mode. The
 * rate is adopt_per_s (a token bucket), so a cluster of 10,000 old pods is
 * adopted without crowding out the API server or firebreak's evictions. A
 * pod asked for is asked again after 10 s, doubling to 5 min, while the
 * informer still shows it uncovered (a conflict, a refusal, a lost leader).
 * In dry run nothing is covered: the pods are counted only.
 *
 * Owns: each pod's cover_* and uncovered_* fields, and the core's managed_*.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core_int.h"

#define COVER_RETRY_MS (10 * 1000)
#define COVER_RETRY_MAX_MS (5 * 60 * 1000)
#define REPORTS_PER_PASS 20
/* what a pod is asked for (core_pod.cover_kind): the backoff holds back the same request only */
enum { ASK_COVER = 1, ASK_UNCOVER, ASK_LENGTHEN };
#define TOKENS_MAX_S 1.0 /* the bucket holds one second of the rate */

/* Whether any budget is in dry run: managed_pass looks at each pod's budgets only then. */
static bool any_budget_dry_run(const fb_core *c)
{
	for (size_t i = 0; i < c->nbudgets; i++)
		if (c->budgets[i]->has_spec && c->budgets[i]->spec.dry_run)
			return true;
	return false;
}

/* Whether a budget in dry run selects p's node (not the global dry run: there pods that
 * would be covered are still counted, as a preview). */
static bool budget_dry_run(fb_core *c, const core_pod *p)
{
	return c->managed_dry_budgets && !c->cfg.dry_run && p->node && node_dry_run(c, p->node);
}

static bool wants_cover(fb_core *c, const core_pod *p)
{
	return c->cfg.managed && p->k8s_evicts && !p->shortened && !p->daemonset && !p->mirror &&
	       !p->gate_exempt && !p->terminating && !p->terminal && !budget_dry_run(c, p);
}

/* Shortened on a failed node that is up again (or gone from it): its whole times back. */
static bool wants_lengthen(const core_pod *p)
{
	return p->shortened && !(p->node && p->node->failed) && !p->terminating && !p->terminal;
}

/* The mode off, or the pod handed back (above). */
static bool wants_uncover(fb_core *c, const core_pod *p)
{
	return p->annotated && !p->terminating && !p->terminal &&
	       (!c->cfg.managed || c->cfg.dry_run || budget_dry_run(c, p));
}

/* The seconds left at now_ms of s recorded seconds from failed_since_ms, rounded up; -1 when
 * s is not a time (not recorded, or none). */
static int64_t seconds_left(int64_t failed_since_ms, int64_t s, int64_t now_ms)
{
	if (s < 0)
		return -1;
	int64_t left_ms = failed_since_ms + s * 1000 - now_ms;
	return left_ms <= 0 ? 0 : (left_ms + 999) / 1000;
}

void managed_pod_changed(fb_core *c, core_pod *p)
{
	(void)p; /* the pass looks at every pod: it runs at most once a second while busy */
	c->managed_dirty = true;
}

void managed_rejudge(fb_core *c)
{
	const char *k;
	void *v;
	for (size_t it = 0; kc_map_next(&c->pods, &it, &k, &v);) {
		core_pod *p = v;
		p->cover_next_ms = 0; /* a new leader asks again for what it did not see done */
		p->cover_first_ms = p->cover_backoff_ms = 0;
	}
	c->managed_dirty = true;
}

static void refill(fb_core *c, int64_t now_ms)
{
	double rate = c->cfg.adopt_per_s > 0 ? c->cfg.adopt_per_s : 1;
	double cap = rate * TOKENS_MAX_S < 1 ? 1 : rate * TOKENS_MAX_S;
	if (c->managed_refill_ms == 0 || now_ms < c->managed_refill_ms)
		c->managed_tokens = cap; /* first pass, or the clock went back */
	else
		c->managed_tokens += (double)(now_ms - c->managed_refill_ms) / 1000.0 * rate;
	if (c->managed_tokens > cap)
		c->managed_tokens = cap;
	c->managed_refill_ms = now_ms;
}

/* When the bucket is full again: one pass a second at most while pods wait for it. */
static int64_t token_due(const fb_core *c, int64_t now_ms)
{
	double rate = c->cfg.adopt_per_s > 0 ? c->cfg.adopt_per_s : 1;
	double cap = rate * TOKENS_MAX_S < 1 ? 1 : rate * TOKENS_MAX_S;
	double missing = cap - c->managed_tokens;
	return missing <= 0 ? now_ms : now_ms + (int64_t)ceil(missing / rate * 1000.0);
}

static void ask(fb_core *c, core_pod *p, bool cover, bool lengthen, int64_t now_ms,
                fb_actions *out)
{
	fb_action *a = push_action(out, cover ? FB_ACT_COVER : FB_ACT_UNCOVER);
	if (!a)
		return;
	a->lengthen = lengthen;
	p->cover_kind = cover ? ASK_COVER : lengthen ? ASK_LENGTHEN : ASK_UNCOVER;
	a->obj = FB_OBJ_POD;
	copy_str(a->ns, sizeof(a->ns), p->ns);
	copy_str(a->name, sizeof(a->name), p->name);
	copy_str(a->uid, sizeof(a->uid), p->uid);
	copy_str(a->node, sizeof(a->node), p->node_name);
	if (!cover && !lengthen && p->node && p->node->failed) {
		/* a covered key's tol_*_s is its record (fb_pod_obs) */
		a->left_not_ready_s = seconds_left(p->node->failed_since_ms, p->tol_not_ready_s, now_ms);
		a->left_unreachable_s =
		        seconds_left(p->node->failed_since_ms, p->tol_unreachable_s, now_ms);
	}
	c->managed_tokens -= 1;
	if (!p->cover_first_ms)
		p->cover_first_ms = now_ms;
	p->cover_backoff_ms = p->cover_backoff_ms ? p->cover_backoff_ms * 2 : COVER_RETRY_MS;
	if (p->cover_backoff_ms > COVER_RETRY_MAX_MS)
		p->cover_backoff_ms = COVER_RETRY_MAX_MS;
	p->cover_next_ms = now_ms + p->cover_backoff_ms;
	if (cover)
		c->stats.covers_requested++;
	else
		c->stats.uncovers_requested++;
}

static void report(fb_core *c, core_pod *p, int64_t now_ms, fb_actions *out)
{
	char waited[32];
	ago(now_ms - p->uncovered_since_ms, waited, sizeof(waited));
	p->uncovered_reported = true;
	event(out, false, FB_OBJ_POD, p->ns, p->name, p->uid, FB_REASON_NOT_COVERED,
	      "Its node.kubernetes.io/not-ready or unreachable toleration still has seconds "
	      "after %s: Kubernetes' taint-eviction controller, not firebreak, evicts it from a "
	      "failed node, without budgets or quarantines; firebreak's log says why it could not "
	      "cover it",
	      waited);
}

int64_t managed_pass(fb_core *c, int64_t now_ms, fb_actions *out)
{
	if (!c->managed_dirty && now_ms < c->managed_due_ms)
		return c->managed_due_ms;
	c->managed_dirty = false;
	c->managed_dry_budgets = any_budget_dry_run(c);
	refill(c, now_ms);
	bool write = !c->cfg.dry_run;
	size_t uncovered = 0, reported = 0, restore = 0, reports = 0;
	int64_t next = INT64_MAX;
	bool waiting = false; /* a pod is due now but the bucket is empty */
	/* four rounds, each pod in one: on a failed node or not, never asked or asked before;
	 * the pods of failed nodes first, and of each, the ones not asked for yet */
	for (int round = 0; round < 4; round++) {
		const char *k;
		void *v;
		for (size_t it = 0; kc_map_next(&c->pods, &it, &k, &v);) {
			core_pod *p = v;
			bool on_failed = p->node && p->node->failed;
			/* as at the start of this pass: one asked for the first time in an
			 * earlier round of it is still fresh, so that it is in one round only */
			bool fresh = !p->cover_first_ms || p->cover_first_ms == now_ms;
			if ((round < 2) != on_failed || (round % 2 == 0) != fresh)
				continue;
			/* the cheap tests first: these two look at the node's budgets */
			bool lengthen = wants_lengthen(p);
			bool uncover = lengthen || (p->annotated && wants_uncover(c, p));
			bool cover = !uncover && p->k8s_evicts && wants_cover(c, p);
			if (!cover) {
				p->uncovered_since_ms = 0;
				p->uncovered_reported = false;
			}
			if (!cover && !uncover) {
				p->cover_next_ms = p->cover_backoff_ms = p->cover_first_ms = 0;
				p->cover_kind = 0;
				continue;
			}
			if (cover) {
				uncovered++;
				if (!p->uncovered_since_ms)
					p->uncovered_since_ms = now_ms;
				int64_t report_at = p->uncovered_since_ms + c->cfg.uncovered_report_ms;
				if (p->uncovered_reported)
					reported++;
				else if (write && now_ms >= report_at && reports < REPORTS_PER_PASS) {
					report(c, p, now_ms, out);
					reports++;
					reported++;
				} else if (write)
					next = report_at < next ? report_at : next;
			} else {
				restore++;
			}
			if (!write && !uncover)
				continue;
			/* another request than the one backed off (given back on a failed node, then
			 * the node up): not held back by the first's backoff */
			uint8_t kind = cover ? ASK_COVER : lengthen ? ASK_LENGTHEN : ASK_UNCOVER;
			if (p->cover_kind && p->cover_kind != kind)
				p->cover_next_ms = p->cover_backoff_ms = 0;
			if (p->cover_next_ms > now_ms) {
				next = p->cover_next_ms < next ? p->cover_next_ms : next;
				continue;
			}
			if (c->managed_tokens < 1) {
				waiting = true;
				continue;
			}
			ask(c, p, cover, lengthen, now_ms, out);
			next = p->cover_next_ms < next ? p->cover_next_ms : next;
		}
	}
	c->stats.pods_uncovered = uncovered;
	c->stats.pods_uncovered_reported = reported;
	c->stats.pods_to_restore = restore;
	if (waiting || reports == REPORTS_PER_PASS) {
		int64_t t = waiting ? token_due(c, now_ms) : now_ms;
		next = t < next ? t : next;
	}
	c->managed_due_ms = next;
	return next;
}
