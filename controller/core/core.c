/*
 * core.c - the decision core's lifecycle and its tick (core.h says what it
 * decides; core_int.h how its files divide the work).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_int.h"
#include "kc/alloc.h"

void fb_core_config_defaults(fb_core_config *c)
{
	memset(c, 0, sizeof(*c));
	c->rates = FB_RATES_DEFAULT;
	c->pdb_retry_initial_ms = 5000;
	c->pdb_retry_max_ms = 60000;
	c->max_pod_actions_per_tick = 256;
	fb_budget_spec_defaults(&c->defaults);
	c->poison_ratio = FB_POISON_RATIO_DEFAULT;
	c->poison_settle_ms = FB_POISON_SETTLE_DEFAULT_MS;
	c->verdict = FB_VERDICT_SURPRISE;
	c->false_alarms_per_year = FB_FALSE_ALARMS_PER_YEAR_DEFAULT;
	c->prior_failures_per_node_day = FB_PRIOR_FAILURES_PER_NODE_DAY_DEFAULT;
	c->background_period_ms = FB_BACKGROUND_PERIOD_DEFAULT_MS;
	c->memory_pressure_evidence = true;
	c->adopt_per_s = 10;
	c->uncovered_report_ms = 5 * 60 * 1000;
	fb_core_config_gate_exempt(c, "kube-system");
	fb_core_config_gate_exempt(c, "kube-node-lease");
}

int fb_core_config_gate_exempt(fb_core_config *c, const char *ns)
{
	size_t len = strlen(ns);
	if (len == 0 || len >= FB_NS_MAX)
		return -1;
	for (size_t i = 0; i < c->ngate_exempt_ns; i++)
		if (strcmp(c->gate_exempt_ns[i], ns) == 0)
			return 0;
	if (c->ngate_exempt_ns == FB_GATE_EXEMPT_NS_MAX)
		return -1;
	memcpy(c->gate_exempt_ns[c->ngate_exempt_ns++], ns, len + 1);
	return 0;
}

fb_core *fb_core_new(const fb_core_config *cfg)
{
	fb_core *c = kc_calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->cfg = *cfg;
	c->quarantines_synced = true;
	memset(&c->cfg.defaults.selector, 0, sizeof(c->cfg.defaults.selector));
	if (c->cfg.max_pod_actions_per_tick <= 0)
		c->cfg.max_pod_actions_per_tick = 256;
	if (c->cfg.pdb_retry_initial_ms <= 0)
		c->cfg.pdb_retry_initial_ms = 5000;
	if (c->cfg.pdb_retry_max_ms < c->cfg.pdb_retry_initial_ms)
		c->cfg.pdb_retry_max_ms = c->cfg.pdb_retry_initial_ms;
	kc_map_init(&c->nodes);
	kc_map_init(&c->pods);
	kc_map_init(&c->workloads);
	fb_evidence_init(&c->evidence);
	fb_zones_init(&c->zones);
	if (c->cfg.poison_ratio <= 0 || c->cfg.poison_ratio > 1)
		c->cfg.poison_ratio = FB_POISON_RATIO_DEFAULT;
	if (c->cfg.poison_settle_ms < 0)
		c->cfg.poison_settle_ms = FB_POISON_SETTLE_DEFAULT_MS;
	if (!(c->cfg.false_alarms_per_year > 0)) /* NaN too */
		c->cfg.false_alarms_per_year = FB_FALSE_ALARMS_PER_YEAR_DEFAULT;
	if (!(c->cfg.prior_failures_per_node_day > 0))
		c->cfg.prior_failures_per_node_day = FB_PRIOR_FAILURES_PER_NODE_DAY_DEFAULT;
	if (c->cfg.background_period_ms <= 0)
		c->cfg.background_period_ms = FB_BACKGROUND_PERIOD_DEFAULT_MS;
	fb_poison_spec_resolve(&c->cfg.defaults.poison, c->cfg.verdict == FB_VERDICT_SURPRISE);
	c->leader = true;
	c->counts_dirty = true;
	c->sel_epoch = 1; /* no node's budget selection is computed yet */
	return c;
}

void fb_core_free(fb_core *c)
{
	if (!c)
		return;
	tables_free(c);
	fb_evidence_release(&c->evidence);
	budgets_free(c);
	fb_zones_release(&c->zones);
	kc_free(c);
}

void fb_core_set_quarantines_synced(fb_core *c, bool synced)
{
	if (synced && !c->quarantines_synced)
		c->gates_dirty = true;
	c->quarantines_synced = synced;
}

void fb_core_set_leader(fb_core *c, bool leader)
{
	if (leader && !c->leader)
		c->rejudge = true;
	c->leader = leader;
}

void fb_core_observed_at(fb_core *c, int64_t now_ms)
{
	if (now_ms > c->last_now_ms)
		c->last_now_ms = now_ms;
}

/* ---- the tick -------------------------------------------------------------------------------- */

/*
 * One decision pass. The order of the passes is the design:
 *
 *   0. a new leader forgets what was in flight (nothing it did not see
 *      answered is assumed done);
 *   1. admission_prune, admission_recount: budget windows moved on; zone
 *      states and budget populations as the nodes now stand (recount also
 *      restarts failure clocks when master disruption ends);
 *   2. verdict_pass: failures recorded, outages recognised, verdicts given;
 *      before admission, so that a poison's pods are pinned before any of
 *      them could be evicted in this same tick;
 *   3. quarantine_scale_pass, quarantine_release_pass, quarantine_gate_pass:
 *      the verdicts' and releases' work (scale after the Quarantine that
 *      records it; taints removed before the Released status, which waits
 *      for the restore, the gates and the taints to be seen gone; gated pods
 *      reported, escaped pods
 *      deleted, gates removed once released, the finalizer last), not in
 *      global dry run;
 *   4. admission_pass: failed nodes with a pod due are admitted or deferred,
 *      in order of failure;
 *   5. eviction_pass: the due pods of admitted nodes, bounded per tick;
 *   6. managed_pass: pods covered (managed mode) or given their seconds back,
 *      after the evictions, which never wait for it;
 *   7. admission_report_budgets: invalid specs and changed budget statuses
 *      (after eviction, so that the status carries this tick's admissions).
 *
 * Returns the earliest time any pass knows it has work.
 */
int64_t fb_core_tick(fb_core *c, int64_t now_ms, fb_actions *out)
{
	c->last_now_ms = now_ms;
	if (!c->leader)
		return INT64_MAX;
	if (c->rejudge) {
		eviction_rejudge(c);
		quarantine_rejudge(c);
		managed_rejudge(c);
		c->gates_dirty = true;
		c->rejudge = false;
	}
	admission_prune(c, now_ms);
	if (c->counts_dirty)
		admission_recount(c, now_ms, out);
	int64_t next = verdict_pass(c, now_ms, out);
	if (!c->cfg.dry_run) {
		int64_t t = quarantine_scale_pass(c, now_ms, out);
		if (t < next)
			next = t;
		t = quarantine_release_pass(c, now_ms, out);
		if (t < next)
			next = t;
		t = quarantine_gate_pass(c, now_ms, out);
		if (t < next)
			next = t;
	}
	int64_t t = admission_pass(c, now_ms, out);
	if (t < next)
		next = t;
	t = eviction_pass(c, now_ms, out);
	if (t < next)
		next = t;
	t = managed_pass(c, now_ms, out);
	if (t < next)
		next = t;
	if (!c->cfg.dry_run)
		admission_report_budgets(c, out);
	core_check(c);
	return next;
}

void fb_core_get_stats(const fb_core *c, fb_core_stats *out)
{
	*out = c->stats;
	out->nodes = c->nodes.len;
	out->pods = c->pods.len;
	out->budgets = c->nbudgets;
}

const fb_zones *fb_core_zones(const fb_core *c)
{
	return &c->zones;
}

/* ---- invariants ---------------------------------------------------------------------------------- */

#if FB_CHECKS_ON
_Noreturn void fb_check_failed(const char *file, int line, const char *what)
{
	fprintf(stderr, "firebreak: internal check failed at %s:%d: %s\n", file, line, what);
	abort();
}

static bool lists_pod(core_pod *const *v, size_t n, const core_pod *p)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == p)
			return true;
	return false;
}

void core_check(const fb_core *c)
{
	const char *k;
	void *v;
	size_t on_nodes = 0, in_workloads = 0;
	for (size_t it = 0; kc_map_next(&c->pods, &it, &k, &v);) {
		const core_pod *p = v;
		FB_CHECK(strcmp(k, p->uid) == 0);
		if (p->node) {
			on_nodes++;
			FB_CHECK(p->node_name && strcmp(p->node_name, p->node->name) == 0);
			FB_CHECK(kc_map_get(&c->nodes, p->node->name) == p->node);
			FB_CHECK(lists_pod(p->node->pods, p->node->npods, p));
		} else {
			FB_CHECK(p->node_name == NULL);
		}
		if (p->wl) {
			in_workloads++;
			FB_CHECK(kc_map_get(&c->workloads, p->wl->id) == p->wl);
			FB_CHECK(lists_pod(p->wl->pods, p->wl->npods, p));
		}
	}
	size_t linked = 0, tainted = 0;
	for (size_t it = 0; kc_map_next(&c->nodes, &it, &k, &v);) {
		const core_node *n = v;
		FB_CHECK(strcmp(k, n->name) == 0);
		/* a placeholder (referenced by pods, not observed) is never failed, admitted or
		 * tainted; one left without pods when its last pod moved away stays until the
		 * node is observed again (as before the split: only a pod deletion frees it) */
		FB_CHECK(n->known || (!n->failed && !n->admitted && !n->quarantine_taint));
		for (size_t i = 0; i < n->npods; i++)
			FB_CHECK(n->pods[i]->node == n);
		linked += n->npods;
		tainted += n->quarantine_taint != NULL;
	}
	FB_CHECK(linked == on_nodes);
	FB_CHECK(tainted == c->tainted_nodes);
	size_t wlinked = 0, releases = 0, pending = 0, scaled = 0, moves = 0;
	for (size_t it = 0; kc_map_next(&c->workloads, &it, &k, &v);) {
		const core_workload *w = v;
		FB_CHECK(strcmp(k, w->id) == 0);
		for (size_t i = 0; i < w->npods; i++)
			FB_CHECK(w->pods[i]->wl == w);
		wlinked += w->npods;
		releases += w->release_pending;
		moves += w->nmoves;
		FB_CHECK(w->scale == SCALE_NONE || w->quarantine); /* it knows what to restore */
		bool is_pending = w->scale == SCALE_WANTED || w->scale == SCALE_RESTORE;
		pending += is_pending;
		scaled += w->scale == SCALE_DONE;
		if (is_pending)
			FB_CHECK(c->scale_due_ms <= w->scale_next_ms);
	}
	FB_CHECK(wlinked == in_workloads);
	FB_CHECK(releases == c->releases_pending);
	FB_CHECK(pending == c->scales_pending);
	FB_CHECK(scaled == c->stats.scaled_to_zero);
	FB_CHECK(moves == c->moves);
	for (size_t i = 1; i < c->nbudgets; i++)
		FB_CHECK(strcmp(c->budgets[i - 1]->name, c->budgets[i]->name) < 0);
}
#else
void core_check(const fb_core *c)
{
	(void)c;
}
#endif
