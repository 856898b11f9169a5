/*
 * admission.c - EvictionBudgets at runtime, the counts they and the zones
 * are judged on, and the admission of failed nodes: a failed node whose
 * first pod is due is admitted when its zone's token bucket (zones.h, the
 * node lifecycle controller's rules) and every EvictionBudget selecting it
 * (budget.h) admit it; nodes wait in order of failure.
 *
 * Owns: c->budgets, c->zones, c->sel_epoch and each node's budget selection
 * (sel), each node's admitted / deferred fields.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_int.h"
#include "duration.h"
#include "kc/alloc.h"
#include "kc/array.h"

static void budget_free(core_budget *b)
{
	kc_free(b->name);
	fb_budget_spec_release(&b->spec);
	cJSON_Delete(b->spec_json);
	fb_zones_release(&b->zones);
	kc_free(b->adm);
	kc_free(b);
}

void budgets_free(fb_core *c)
{
	for (size_t i = 0; i < c->nbudgets; i++)
		budget_free(c->budgets[i]);
	kc_free(c->budgets);
	c->budgets = NULL;
	c->nbudgets = c->budgetcap = 0;
}

core_budget *budget_find(fb_core *c, const char *name, size_t *pos)
{
	size_t lo = 0, hi = c->nbudgets;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int cmp = strcmp(c->budgets[mid]->name, name);
		if (cmp == 0) {
			if (pos)
				*pos = mid;
			return c->budgets[mid];
		}
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (pos)
		*pos = lo;
	return NULL;
}

/* Add an admission unless the same node is already recorded at that time. */
static int budget_record(core_budget *b, const char *node, int64_t at_ms)
{
	for (size_t i = 0; i < b->nadm; i++)
		if (b->adm[i].at_ms == at_ms && strcmp(b->adm[i].node, node) == 0)
			return 0;
	if (b->nadm == FB_BUDGET_ADMISSIONS_MAX) {
		/* drop the oldest: it is older than any window that can still count it */
		size_t oldest = 0;
		for (size_t i = 1; i < b->nadm; i++)
			if (b->adm[i].at_ms < b->adm[oldest].at_ms)
				oldest = i;
		b->adm[oldest] = b->adm[--b->nadm];
	}
	if (KC_ARRAY_RESERVE(b->adm, b->admcap, b->nadm + 1) != 0)
		return -1;
	fb_admission *a = &b->adm[b->nadm++];
	copy_str(a->node, sizeof(a->node), node);
	a->at_ms = at_ms;
	return 0;
}

/* Forget admissions older than every window (and the poison window). */
static void budget_prune(core_budget *b, int64_t now_ms)
{
	int64_t keep = b->spec.poison.window_ms;
	for (int i = 0; i < b->spec.nwindows; i++)
		if (b->spec.windows[i].window_ms > keep)
			keep = b->spec.windows[i].window_ms;
	size_t w = 0;
	for (size_t i = 0; i < b->nadm; i++)
		if (b->adm[i].at_ms > now_ms - keep)
			b->adm[w++] = b->adm[i];
	if (w != b->nadm)
		b->status_dirty = true;
	b->nadm = w;
}

void admission_prune(fb_core *c, int64_t now_ms)
{
	for (size_t i = 0; i < c->nbudgets; i++)
		budget_prune(c->budgets[i], now_ms);
}

int fb_core_budget_set(fb_core *c, const char *name, int64_t generation, const cJSON *spec,
                       const fb_admission *admissions, size_t nadmissions, int64_t now_ms)
{
	size_t pos;
	core_budget *b = budget_find(c, name, &pos);
	if (!b) {
		if (KC_ARRAY_RESERVE(c->budgets, c->budgetcap, c->nbudgets + 1) != 0)
			return -1;
		b = kc_calloc(1, sizeof(*b));
		if (!b || !(b->name = kc_strdup(name))) {
			kc_free(b);
			return -1;
		}
		fb_zones_init(&b->zones);
		memmove(&c->budgets[pos + 1], &c->budgets[pos],
		        (c->nbudgets - pos) * sizeof(*c->budgets));
		c->budgets[pos] = b;
		c->nbudgets++;
		b->last_selected = b->last_unhealthy = -1;
	}
	for (size_t i = 0; i < nadmissions; i++)
		if (budget_record(b, admissions[i].node, admissions[i].at_ms) != 0)
			return -1;
	if (generation == b->generation && (b->has_spec || b->invalid))
		return 0; /* a status echo: the spec is the one we have */
	b->generation = generation;
	b->status_dirty = true;
	c->counts_dirty = true;
	c->sel_epoch++; /* the nodes it selects may differ now */
	c->managed_dirty = true; /* and whether it is in dry run (managed.c: handed back) */

	fb_budget_spec parsed;
	char err[256] = "";
	if (fb_budget_spec_parse(&parsed, spec, err, sizeof(err)) != 0) {
		b->invalid = true;
		b->invalid_generation = generation;
		b->invalid_reported = false;
		copy_str(b->invalid_msg, sizeof(b->invalid_msg), err);
		return 0;
	}
	fb_poison_spec_resolve(&parsed.poison, c->cfg.verdict == FB_VERDICT_SURPRISE);
	cJSON *copy = spec ? cJSON_Duplicate(spec, true) : cJSON_CreateObject();
	if (!copy) {
		fb_budget_spec_release(&parsed);
		return -1;
	}
	bool rate_changed = !b->has_spec || parsed.has_rate != b->spec.has_rate ||
	                    memcmp(&parsed.rate, &b->spec.rate, sizeof(parsed.rate)) != 0;
	fb_budget_spec_release(&b->spec);
	cJSON_Delete(b->spec_json);
	b->spec = parsed;
	b->spec_json = copy;
	b->has_spec = true;
	b->invalid = false;
	b->invalid_msg[0] = '\0';
	if (rate_changed) {
		fb_zones_release(&b->zones);
		fb_zones_init(&b->zones);
	}
	(void)now_ms;
	return 0;
}

void fb_core_budget_delete(fb_core *c, const char *name)
{
	size_t pos;
	core_budget *b = budget_find(c, name, &pos);
	if (!b)
		return;
	memmove(&c->budgets[pos], &c->budgets[pos + 1],
	        (c->nbudgets - pos - 1) * sizeof(*c->budgets));
	c->nbudgets--;
	budget_free(b);
	c->counts_dirty = true;
	c->sel_epoch++;
	c->managed_dirty = true;
}

/* ---- which budgets select a node --------------------------------------------------- */

static bool budget_selects(const core_budget *b, const core_node *n)
{
	return b->has_spec && fb_selector_matches(&b->spec.selector, &n->labels);
}

/*
 * The budgets selecting n are computed once per change of the node's labels
 * or of any budget (sel_epoch), instead of in every pass that asks. Should
 * the list not fit in memory, the iteration falls back to testing every
 * budget, which gives the same answer.
 */
budget_iter node_budgets(fb_core *c, core_node *n)
{
	if (n->sel_epoch != c->sel_epoch) {
		n->nsel = 0;
		if (KC_ARRAY_RESERVE(n->sel, n->selcap, c->nbudgets) == 0) {
			for (size_t i = 0; i < c->nbudgets; i++)
				if (budget_selects(c->budgets[i], n))
					n->sel[n->nsel++] = c->budgets[i];
			n->sel_epoch = c->sel_epoch;
		}
	}
	return (budget_iter){ 0, n->sel_epoch == c->sel_epoch };
}

core_budget *node_budget_next(fb_core *c, const core_node *n, budget_iter *it)
{
	if (it->cached)
		return it->i < n->nsel ? n->sel[it->i++] : NULL;
	while (it->i < c->nbudgets) {
		core_budget *b = c->budgets[it->i++];
		if (budget_selects(b, n))
			return b;
	}
	return NULL;
}

bool node_dry_run(fb_core *c, core_node *n)
{
	if (c->cfg.dry_run)
		return true;
	core_budget *b;
	for (budget_iter bi = node_budgets(c, n); (b = node_budget_next(c, n, &bi));)
		if (b->spec.dry_run)
			return true;
	return false;
}

/* ---- counting: zone states and budget populations ---------------------------------- */

void admission_recount(fb_core *c, int64_t now_ms, fb_actions *out)
{
	bool was_master = c->zones.master_disruption;
	const char *k;
	void *v;
	fb_zones_begin(&c->zones);
	for (size_t i = 0; i < c->nbudgets; i++) {
		c->budgets[i]->selected = 0;
		c->budgets[i]->unhealthy = 0;
		fb_zones_begin(&c->budgets[i]->zones);
	}
	for (size_t it = 0; kc_map_next(&c->nodes, &it, &k, &v);) {
		core_node *n = v;
		if (!n->known)
			continue;
		bool ready = n->ready == FB_COND_TRUE;
		if (!n->exclude)
			fb_zones_count(&c->zones, n->zone_key, n->zone_len, ready);
		core_budget *b;
		for (budget_iter bi = node_budgets(c, n); (b = node_budget_next(c, n, &bi));) {
			b->selected++;
			if (!ready && n->ready != FB_COND_NONE)
				b->unhealthy++;
			if (b->spec.has_rate && !n->exclude)
				fb_zones_count(&b->zones, n->zone_key, n->zone_len, ready);
		}
	}
	fb_zones_end(&c->zones, &c->cfg.rates, now_ms, NULL, NULL);
	for (size_t i = 0; i < c->nbudgets; i++) {
		core_budget *b = c->budgets[i];
		fb_zones_end(&b->zones, &b->spec.rate, now_ms, NULL, NULL);
		if (b->selected != b->last_selected || b->unhealthy != b->last_unhealthy) {
			b->status_dirty = true;
			b->last_selected = b->selected;
			b->last_unhealthy = b->unhealthy;
		}
		bool halted = b->has_spec &&
		              fb_budget_over_max_unhealthy(&b->spec, b->unhealthy, b->selected);
		if (halted != b->halted) {
			b->halted = halted;
			b->status_dirty = true;
			if (halted)
				event(out, c->cfg.dry_run || b->spec.dry_run, FB_OBJ_BUDGET, NULL, b->name,
				      NULL, FB_REASON_EVICTIONS_HALTED,
				      "%d of %d selected nodes are unhealthy, above maxUnhealthy %d; "
				      "no evictions from these nodes until fewer fail",
				      b->unhealthy, b->selected,
				      fb_budget_max_unhealthy(&b->spec, b->selected));
		}
	}
	if (was_master && !c->zones.master_disruption) {
		/* Leaving master disruption mode: upstream resets every node's
		 * timestamps, and re-taints from scratch, so toleration clocks restart. */
		for (size_t it = 0; kc_map_next(&c->nodes, &it, &k, &v);) {
			core_node *n = v;
			if (n->failed && !n->admitted)
				n->failed_since_ms = now_ms;
		}
	}
	c->counts_dirty = false;
}

/* ---- admission ------------------------------------------------------------------------------ */

typedef struct candidate {
	core_node *node;
	int64_t failed_since_ms;
} candidate;

static int candidate_cmp(const void *a, const void *b)
{
	const candidate *x = a, *y = b;
	if (x->failed_since_ms != y->failed_since_ms)
		return x->failed_since_ms < y->failed_since_ms ? -1 : 1;
	return strcmp(x->node->name, y->node->name);
}

/* Was this node's current failure already admitted by b (e.g. by a previous leader)? */
static bool budget_has_admitted(const core_budget *b, const core_node *n)
{
	for (size_t i = 0; i < b->nadm; i++)
		if (b->adm[i].at_ms >= n->failed_since_ms && strcmp(b->adm[i].node, n->name) == 0)
			return true;
	return false;
}

typedef struct admit_verdict {
	fb_deny deny;
	const core_budget *by;     /* NULL: the cluster-wide zone limiter */
	int window;
	int64_t retry_ms;
} admit_verdict;

static admit_verdict judge(fb_core *c, core_node *n, int64_t now_ms, bool *all_recorded)
{
	admit_verdict v = { FB_ADMIT, NULL, -1, INT64_MAX };
	*all_recorded = true;
	bool any_budget = false;
	core_budget *b;
	for (budget_iter bi = node_budgets(c, n); (b = node_budget_next(c, n, &bi));) {
		any_budget = true;
		if (!budget_has_admitted(b, n))
			*all_recorded = false;
	}
	if (!any_budget)
		*all_recorded = false;
	if (*all_recorded)
		return v; /* admitted before (restart / leader change): do not charge again */

	fb_zone *z = fb_zones_find(&c->zones, n->zone_key, n->zone_len);
	if (c->zones.master_disruption)
		return (admit_verdict){ FB_DENY_FULL_DISRUPTION, NULL, -1, INT64_MAX };
	if (z && !n->exclude) {
		int64_t next = fb_bucket_next_ms(&z->bucket, now_ms);
		if (next > now_ms)
			return (admit_verdict){ FB_DENY_RATE, NULL, -1, next };
	}
	for (budget_iter bi = node_budgets(c, n); (b = node_budget_next(c, n, &bi));) {
		if (budget_has_admitted(b, n))
			continue;
		if (b->spec.paused)
			return (admit_verdict){ FB_DENY_PAUSED, b, -1, INT64_MAX };
		if (b->halted)
			return (admit_verdict){ FB_DENY_MAX_UNHEALTHY, b, -1, INT64_MAX };
		int which = -1;
		int64_t retry = INT64_MAX;
		if (fb_windows_check(&b->spec, b->adm, b->nadm, now_ms, &which, &retry) != FB_ADMIT)
			return (admit_verdict){ FB_DENY_WINDOW, b, which, retry };
		if (b->spec.has_rate) {
			if (b->zones.master_disruption)
				return (admit_verdict){ FB_DENY_FULL_DISRUPTION, b, -1, INT64_MAX };
			fb_zone *bz = fb_zones_find(&b->zones, n->zone_key, n->zone_len);
			if (bz && !n->exclude) {
				int64_t next = fb_bucket_next_ms(&bz->bucket, now_ms);
				if (next > now_ms)
					return (admit_verdict){ FB_DENY_RATE, b, -1, next };
			}
		}
	}
	return v;
}

static void admit(fb_core *c, core_node *n, int64_t now_ms, bool charge, fb_actions *out)
{
	char zbuf[128], since[32];
	fb_zone *z = fb_zones_find(&c->zones, n->zone_key, n->zone_len);
	if (charge) {
		if (z && !n->exclude)
			fb_bucket_try(&z->bucket, now_ms);
		core_budget *b;
		for (budget_iter bi = node_budgets(c, n); (b = node_budget_next(c, n, &bi));) {
			if (budget_has_admitted(b, n))
				continue;
			if (b->spec.has_rate && !n->exclude) {
				fb_zone *bz = fb_zones_find(&b->zones, n->zone_key, n->zone_len);
				if (bz)
					fb_bucket_try(&bz->bucket, now_ms);
			}
			if (!b->spec.dry_run && !c->cfg.dry_run)
				budget_record(b, n->name, now_ms);
			b->status_dirty = true;
		}
	}
	n->admitted = true;
	n->admitted_ms = now_ms;
	n->deferred = FB_ADMIT;
	c->stats.admitted_nodes++;
	fb_zone_display(n->zone_key, n->zone_len, zbuf, sizeof(zbuf));
	event(out, node_dry_run(c, n), FB_OBJ_NODE, NULL, n->name, n->uid, FB_REASON_EVICTION_STARTED,
	      "Node %s failed %s ago (Ready=%s); evicting its pods as their tolerations expire "
	      "(zone %s: %s)",
	      n->name, ago(now_ms - n->failed_since_ms, since, sizeof(since)), cond_name(n->ready),
	      zbuf, z ? fb_zone_state_name(z->state) : "Normal");
}

/* When a rate limiter admits the next node: "next in 8s", or never at rate 0. */
static const char *next_slot(int64_t retry_ms, int64_t now_ms, char *buf, size_t cap)
{
	if (retry_ms == INT64_MAX)
		return "none until the zone's state changes";
	char d[32];
	snprintf(buf, cap, "next in %s", ago(retry_ms - now_ms, d, sizeof(d)));
	return buf;
}

static void defer_node(fb_core *c, core_node *n, const admit_verdict *v, int64_t now_ms,
                       fb_actions *out)
{
	const char *by = v->by ? v->by->name : "";
	if (n->deferred == v->deny && strcmp(n->deferred_by, by) == 0)
		return; /* reported already for this failure */
	n->deferred = v->deny;
	copy_str(n->deferred_by, sizeof(n->deferred_by), by);
	bool dry = node_dry_run(c, n);
	char zbuf[128], wbuf[32], rbuf[48];
	fb_zone_display(n->zone_key, n->zone_len, zbuf, sizeof(zbuf));
	const fb_zone *z = fb_zones_find(&c->zones, n->zone_key, n->zone_len);
	switch (v->deny) {
	case FB_DENY_RATE:
		c->stats.deferrals_rate++;
		if (v->by)
			event(out, dry, FB_OBJ_NODE, NULL, n->name, n->uid, FB_REASON_EVICTION_DEFERRED,
			      "Evictions from node %s deferred by the rate of EvictionBudget %s "
			      "(zone %s); %s", n->name, by, zbuf,
			      next_slot(v->retry_ms, now_ms, rbuf, sizeof(rbuf)));
		else
			event(out, dry, FB_OBJ_NODE, NULL, n->name, n->uid, FB_REASON_EVICTION_DEFERRED,
			      "Evictions from node %s deferred by the rate limit of zone %s (%s, "
			      "%g nodes/s); %s", n->name, zbuf,
			      z ? fb_zone_state_name(z->state) : "Normal", z ? z->bucket.qps : 0,
			      next_slot(v->retry_ms, now_ms, rbuf, sizeof(rbuf)));
		break;
	case FB_DENY_FULL_DISRUPTION:
		c->stats.deferrals_disruption++;
		event(out, dry, FB_OBJ_NODE, NULL, n->name, n->uid, FB_REASON_EVICTION_HALTED,
		      "Evictions from node %s halted: every zone%s is fully disrupted, which looks "
		      "like a control-plane or network problem rather than failed nodes",
		      n->name, v->by ? " selected by the budget" : "");
		break;
	case FB_DENY_PAUSED:
		c->stats.deferrals_paused++;
		event(out, dry, FB_OBJ_NODE, NULL, n->name, n->uid, FB_REASON_EVICTION_DEFERRED,
		      "Evictions from node %s deferred: EvictionBudget %s is paused", n->name, by);
		break;
	case FB_DENY_MAX_UNHEALTHY:
		c->stats.deferrals_max_unhealthy++;
		event(out, dry, FB_OBJ_NODE, NULL, n->name, n->uid, FB_REASON_EVICTION_HALTED,
		      "Evictions from node %s halted by EvictionBudget %s: %d of %d selected nodes "
		      "unhealthy, above maxUnhealthy %d", n->name, by, v->by->unhealthy,
		      v->by->selected, fb_budget_max_unhealthy(&v->by->spec, v->by->selected));
		break;
	case FB_DENY_WINDOW: {
		c->stats.deferrals_window++;
		const fb_window *w = &v->by->spec.windows[v->window];
		event(out, dry, FB_OBJ_NODE, NULL, n->name, n->uid, FB_REASON_EVICTION_DEFERRED,
		      "Evictions from node %s deferred by EvictionBudget %s: %d of %d nodes per %s "
		      "already used; next slot in %s", n->name, by,
		      fb_windows_used(w, v->by->adm, v->by->nadm, now_ms), w->max_nodes,
		      fb_duration_format(w->window_ms, wbuf, sizeof(wbuf)),
		      v->retry_ms == INT64_MAX ? "never (maxNodes 0)"
		                               : ago(v->retry_ms - now_ms, rbuf, sizeof(rbuf)));
		break;
	}
	case FB_ADMIT:
		break;
	}
}

/*
 * Failed nodes whose first pod is due ask for admission, in order of failure.
 * Returns the earliest time a waiting node may be admitted or falls due.
 */
int64_t admission_pass(fb_core *c, int64_t now_ms, fb_actions *out)
{
	const char *k;
	void *v;
	int64_t next = INT64_MAX;
	size_t ncand = 0, capcand = 0;
	candidate *cand = NULL;
	size_t failed = 0;
	for (size_t it = 0; kc_map_next(&c->nodes, &it, &k, &v);) {
		core_node *n = v;
		if (!n->known || !n->failed)
			continue;
		failed++;
		if (n->admitted)
			continue;
		int64_t due = node_next_due(n);
		if (due > now_ms) {
			if (due < next)
				next = due;
			continue;
		}
		if (KC_ARRAY_RESERVE(cand, capcand, ncand + 1) != 0)
			break;
		cand[ncand++] = (candidate){ n, n->failed_since_ms };
	}
	c->stats.failed_nodes = failed;
	if (ncand > 1)
		qsort(cand, ncand, sizeof(*cand), candidate_cmp);
	for (size_t i = 0; i < ncand; i++) {
		core_node *n = cand[i].node;
		bool recorded;
		admit_verdict vd = judge(c, n, now_ms, &recorded);
		if (vd.deny == FB_ADMIT) {
			admit(c, n, now_ms, !recorded, out);
			continue;
		}
		defer_node(c, n, &vd, now_ms, out);
		if (vd.retry_ms < next)
			next = vd.retry_ms;
	}
	kc_free(cand);
	return next;
}

/* An invalid spec is reported once; a budget whose status changed gets it written. */
void admission_report_budgets(fb_core *c, fb_actions *out)
{
	for (size_t i = 0; i < c->nbudgets; i++) {
		core_budget *b = c->budgets[i];
		if (b->invalid && !b->invalid_reported) {
			b->invalid_reported = true;
			event(out, false, FB_OBJ_BUDGET, NULL, b->name, NULL, FB_REASON_INVALID_SPEC,
			      "Spec of generation %lld is invalid: %s; %s",
			      (long long)b->invalid_generation, b->invalid_msg,
			      b->has_spec ? "the last good spec stays in force"
			                  : "this budget applies to no node until it is fixed");
		}
		if (!b->status_dirty)
			continue;
		b->status_dirty = false;
		fb_action *a = push_action(out, FB_ACT_BUDGET_STATUS);
		if (a) {
			a->obj = FB_OBJ_BUDGET;
			copy_str(a->name, sizeof(a->name), b->name);
		}
	}
}

/* ---- status -------------------------------------------------------------------------------------- */

static void condition(fb_budget_condition *cd, const char *type, bool status, const char *reason,
                      const char *message)
{
	cd->type = type;
	cd->status = status;
	cd->reason = reason;
	copy_str(cd->message, sizeof(cd->message), message);
}

int fb_core_budget_status(fb_core *c, const char *name, int64_t now_ms, fb_budget_status *st)
{
	core_budget *b = budget_find(c, name, NULL);
	if (!b)
		return -1;
	memset(st, 0, sizeof(*st));
	st->generation = b->generation;
	st->selected = b->selected;
	st->unhealthy = b->unhealthy;
	bool ready = b->has_spec && !b->invalid;
	condition(&st->conditions[0], "Ready", b->has_spec, ready ? "SpecApplied" : "InvalidSpec",
	          ready ? "spec in force"
	                : (b->has_spec ? "last good spec in force" : "no valid spec yet"));
	condition(&st->conditions[1], "InvalidSpec", b->invalid,
	          b->invalid ? "ValidationFailed" : "Valid",
	          b->invalid ? b->invalid_msg : "spec is valid");
	char msg[320];
	if (b->halted)
		snprintf(msg, sizeof(msg), "%d of %d selected nodes unhealthy, above maxUnhealthy %d",
		         b->unhealthy, b->selected, fb_budget_max_unhealthy(&b->spec, b->selected));
	else
		snprintf(msg, sizeof(msg), "%s", b->spec.paused ? "paused" : "evictions allowed");
	condition(&st->conditions[2], "Halted", b->halted || b->spec.paused,
	          b->halted ? "MaxUnhealthyExceeded" : (b->spec.paused ? "Paused" : "WithinBudget"),
	          msg);
	for (int i = 0; b->has_spec && i < b->spec.nwindows; i++) {
		const fb_window *w = &b->spec.windows[i];
		st->windows[st->nwindows++] = (fb_budget_window_usage){
			w->window_ms, w->max_nodes, fb_windows_used(w, b->adm, b->nadm, now_ms)
		};
	}
	st->admissions = b->adm;
	st->nadmissions = b->nadm;
	st->last_applied_spec = b->spec_json;
	return 0;
}
