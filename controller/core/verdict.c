/*
 * verdict.c - the poison guard's evidence and verdict (poison.h, DESIGN.md
 * "Poison detection"): for every node failure, which workloads arrived on
 * the node shortly before it (written to the node, read back by any
 * replica); zone and cluster outages, which are not evidence; and the
 * verdict on each workload whose evidence changed, once its failures have
 * settled.
 *
 * Owns: c->evidence, c->workloads_dirty, c->outage_seen, each workload's
 * dirty and bad, each node's failure_recorded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_int.h"
#include "kc/alloc.h"
#include "kc/array.h"

/* Failures of a whole zone within this span are one event: an outage. */
#define ZONE_OUTAGE_SPAN_MS (60 * 1000)
/*
 * A pod of a workload created within this long after firebreak moved one of
 * its pods off a failed node is that pod's replacement (the ReplicaSet or
 * StatefulSet controller creates it within seconds; creation timestamps have
 * whole seconds, hence the slack before the move).
 */
#define MOVE_MATCH_MS (10 * 60 * 1000)
#define MOVE_SLACK_MS 1000
#define MOVES_MAX 64

/* w is to be judged again at the next verdict pass. */
static void mark_dirty(fb_core *c, core_workload *w)
{
	w->dirty = c->workloads_dirty = true;
}

/* The suspects of f (that this core knows of) are to be judged again. */
static void mark_suspects_dirty(fb_core *c, const fb_failure *f)
{
	for (size_t i = 0; i < f->n; i++) {
		core_workload *w = kc_map_get(&c->workloads, f->s[i].workload);
		if (w)
			mark_dirty(c, w);
	}
}

/*
 * The poison settings that apply to a node: those of the first budget (by
 * name) that selects it, else the defaults. A verdict, and the action it
 * takes, follow the settings of the node that failed last with the workload
 * (judge_workloads).
 */
const fb_poison_spec *node_poison_spec(fb_core *c, core_node *n)
{
	if (!n)
		return &c->cfg.defaults.poison;
	budget_iter bi = node_budgets(c, n);
	core_budget *b = node_budget_next(c, n, &bi);
	return b ? &b->spec.poison : &c->cfg.defaults.poison;
}

/*
 * Evidence written to the node earlier (by us, or by the leader before us):
 * take it back so that the verdict is the same after a restart.
 */
void verdict_restore_failure(fb_core *c, core_node *n, const char *json)
{
	fb_failure f;
	if (fb_failure_from_json(json, n->name, &f) != 0)
		return;
	surprise_restore_history(c, n, &f);
	bool current = n->failed && f.failed_ms == n->failed_since_ms;
	fb_failure *known = fb_evidence_find(&c->evidence, n->name, f.failed_ms);
	if (known) {
		/* The leader found the failure part of an outage and rewrote the record
		 * without suspects (forget_suspects): a follower must forget them too. */
		if (f.n == 0 && known->n > 0) {
			mark_suspects_dirty(c, known);
			fb_failure_drop_suspects(known);
		}
		fb_failure_release(&f);
		if (current)
			n->failure_recorded = true;
		return;
	}
	for (size_t i = 0; i < f.n; i++) {
		core_workload *w = workload_get_or_add(c, f.s[i].workload);
		if (w)
			mark_dirty(c, w);
	}
	if (fb_evidence_take(&c->evidence, &f) && current)
		n->failure_recorded = true;
}

/* ---- evidence ---------------------------------------------------------------------------- */

/* Write failure f (as it now stands) to node m's annotation, unless in dry run. */
static void write_failure(fb_core *c, const fb_failure *f, core_node *m, fb_actions *out)
{
	if (m)
		surprise_note_failure(c, m, f); /* the background's history, dry run or not */
	if (!m || node_dry_run(c, m))
		return;
	fb_failure *copy = kc_calloc(1, sizeof(*copy));
	if (!copy || fb_failure_copy(copy, f) != 0) {
		kc_free(copy);
		return;
	}
	surprise_fill_past(m, copy);
	fb_action *a = push_action(out, FB_ACT_NODE_ANNOTATE);
	if (!a) {
		fb_failure_release(copy);
		kc_free(copy);
		return;
	}
	a->obj = FB_OBJ_NODE;
	copy_str(a->name, sizeof(a->name), m->name);
	a->failure = copy;
}

/*
 * Failure f of node m turned out to be part of an outage: its suspects were
 * not the cause. Keep the failure with no suspects, judge its workloads
 * again, and rewrite the node's record so that a restart or a new leader
 * reads the same (the annotation is the durable evidence).
 */
static void forget_suspects(fb_core *c, fb_failure *f, core_node *m, fb_actions *out)
{
	if (f->n == 0 && f->outage)
		return;
	mark_suspects_dirty(c, f);
	fb_failure_drop_suspects(f);
	f->outage = true;
	write_failure(c, f, m, out);
}

/*
 * Did n fail as part of an outage of its zone? When at least two nodes of
 * the zone fail within a minute of each other and the zone is disrupted in
 * the node lifecycle controller's sense (no node Ready, or more than 2 not
 * Ready and at least unhealthyZoneThreshold of them: ComputeZoneState), the
 * cause is the zone (power, network), not what arrived on its nodes: a
 * poison kills the nodes it lands on, not their neighbours. Found by
 * firebreak-sim (docs/simulator.md): without this, a zone outage shortly
 * after a rollout quarantined the rolled-out workload. If so, failures
 * already recorded in the zone within the span lose their suspects too.
 */
static bool zone_outage(fb_core *c, const core_node *n, fb_actions *out)
{
	int total = 0, together = 0, failed = 0;
	const char *k;
	void *v;
	for (size_t it = 0; kc_map_next(&c->nodes, &it, &k, &v);) {
		const core_node *m = v;
		if (!m->known || m->zone_len != n->zone_len ||
		    memcmp(m->zone_key, n->zone_key, n->zone_len) != 0)
			continue;
		total++;
		if (!m->failed)
			continue;
		failed++;
		int64_t d = m->failed_since_ms - n->failed_since_ms;
		if (d <= ZONE_OUTAGE_SPAN_MS && d >= -ZONE_OUTAGE_SPAN_MS)
			together++;
	}
	if (together < 2 ||
	    fb_compute_zone_state(total - failed, failed, c->cfg.rates.unhealthy_threshold) ==
	            FB_ZONE_NORMAL)
		return false;
	for (size_t it = 0; kc_map_next(&c->nodes, &it, &k, &v);) {
		core_node *m = v;
		if (!m->known || m == n || m->zone_len != n->zone_len ||
		    memcmp(m->zone_key, n->zone_key, n->zone_len) != 0)
			continue;
		fb_failure *f = fb_evidence_find(&c->evidence, m->name, m->failed_since_ms);
		if (f)
			forget_suspects(c, f, m, out);
	}
	return true;
}

/*
 * A sign n gave at at_ms (0: none) came before its failure: within
 * FB_MEMORY_SIGNAL_MS before it (one stamped up to a minute after the Ready
 * transition is a dying node's last word, not a later one).
 */
static bool sign_before_failure(const core_node *n, int64_t at_ms)
{
	int64_t failed = n->failed_since_ms;
	return at_ms > 0 && at_ms <= failed + 60 * 1000 && failed - at_ms <= FB_MEMORY_SIGNAL_MS;
}

/*
 * The node ran short of memory before it failed: MemoryPressure in its last
 * status while Ready, or another sign of it (fb_core_node_memory_signal) in time.
 */
static bool memory_distress(const core_node *n)
{
	return n->memory_pressure_seen || sign_before_failure(n, n->memory_signal_ms);
}

/* firebreak-node laid n's unaccounted memory at a pod, and said so in time ... */
static bool named_in_time(const core_node *n)
{
	return n->attributed_uid[0] && sign_before_failure(n, n->attributed_ms);
}

/* ... at pod p. */
static bool attributed_to(const core_node *n, const core_pod *p)
{
	return named_in_time(n) && p->uid && strcmp(n->attributed_uid, p->uid) == 0;
}

/*
 * An outage's failure is written down too, with no suspects: a restart or a
 * new leader reads it back (restore_failure) instead of recording the failure
 * afresh, perhaps after the outage has ended and with suspects.
 */
static void record_outage_failure(fb_core *c, core_node *n, fb_actions *out)
{
	fb_failure f = { 0 };
	f.failed_ms = n->failed_since_ms;
	f.outage = true;
	f.memory_pressure = memory_distress(n);
	if (!(f.node = kc_strdup(n->name)))
		return;
	const fb_failure *kept = fb_evidence_take(&c->evidence, &f);
	if (kept)
		write_failure(c, kept, n, out);
}

/* ---- pods firebreak moved ------------------------------------------------------------------ */

/*
 * Firebreak moving a pod off a failed node says nothing about the pod's
 * workload: its replacement arrives on another node because of the move, not
 * because the workload was rolled out. So when the pod had been on the node
 * for longer than the arrival window and the node's record of the failure
 * does not list its workload (its workload was no suspect of the failure),
 * its replacement is no suspect on its new node either. A workload that was a
 * suspect keeps its migration chain: that is how a one-replica poison is
 * followed from node to node, and its replacement is marked as having
 * followed it (recalled, should the workload be quarantined: quarantine.c
 * recalled_pod). Kept in memory only: after a restart a moved pod is judged
 * as any arrival (the behaviour before this rule), and none is recalled.
 */
void verdict_note_move(fb_core *c, const core_pod *p, const core_node *n, int64_t now_ms)
{
	core_workload *w = p->wl;
	if (!w || p->daemonset || p->mirror || p->arrived_ms <= 0)
		return;
	/* Judged by the pod's own arrival, not only by the node's record: a record
	 * that lost the workload to explain_away must not excuse a pod that did
	 * arrive shortly before the failure (two poisons on one node would excuse
	 * each other's next node, and the second would never be caught). And by
	 * the record too: another pod of the workload that arrived shortly before
	 * (a rollout's new pod next to an old one) made it a suspect, and the
	 * replacement made first, perhaps the new pod's, would take the old one's
	 * excuse. */
	bool follow =
		n->failed_since_ms - p->arrived_ms <= node_poison_spec(c, (core_node *)n)->arrival_window_ms;
	if (!follow) {
		const fb_failure *f = fb_evidence_find(&c->evidence, n->name, n->failed_since_ms);
		follow = f && fb_failure_suspect(f, w->id);
	}
	if (w->nmoves == MOVES_MAX) { /* the oldest goes */
		memmove(w->moves, w->moves + 1, (MOVES_MAX - 1) * sizeof(*w->moves));
		w->nmoves--;
		c->moves--;
	}
	if (KC_ARRAY_RESERVE(w->moves, w->movecap, w->nmoves + 1) != 0)
		return; /* out of memory: the replacement is judged as any arrival */
	w->moves[w->nmoves++] = (core_move){ now_ms, follow };
	c->moves++;
}

void verdict_new_pod(fb_core *c, core_pod *p)
{
	core_workload *w = p->wl;
	if (!w->nmoves || p->created_ms <= 0)
		return;
	for (size_t i = 0; i < w->nmoves; i++) {
		int64_t d = p->created_ms - w->moves[i].at_ms;
		if (d < -MOVE_SLACK_MS || d > MOVE_MATCH_MS)
			continue;
		if (w->moves[i].follow)
			p->followed = true;
		else
			p->moved = true;
		memmove(w->moves + i, w->moves + i + 1, (w->nmoves - i - 1) * sizeof(*w->moves));
		w->nmoves--;
		c->moves--;
		return;
	}
}

/* Moves too old to have a replacement still to come are forgotten. */
static void prune_moves(fb_core *c, int64_t now_ms)
{
	const char *k;
	void *v;
	for (size_t it = 0; c->moves && kc_map_next(&c->workloads, &it, &k, &v);) {
		core_workload *w = v;
		size_t keep = 0;
		for (size_t i = 0; i < w->nmoves; i++)
			if (now_ms - w->moves[i].at_ms <= MOVE_MATCH_MS)
				w->moves[keep++] = w->moves[i];
		c->moves -= w->nmoves - keep;
		w->nmoves = keep;
		/* an idle workload kept only for its moves goes now (it may be freed) */
		if (keep == 0)
			workload_forget_if_idle(c, w);
	}
}

/* ---- explaining away -------------------------------------------------------------------------- */

/* The verdict on w explains the failures it arrived shortly before (in force or reported). */
static bool explains(const core_workload *w)
{
	return w->quarantined || (w->dry_run && w->declared_ms);
}

static bool keep_explaining(const char *workload, void *ud)
{
	core_workload *w = kc_map_get(&((fb_core *)ud)->workloads, workload);
	return w && explains(w);
}

static bool keep_workload(const char *workload, void *ud)
{
	return strcmp(workload, ((const core_workload *)ud)->id) == 0;
}

/*
 * Workload w was just declared poison: the failures where it arrived shortly
 * before are its doing, and evidence against no other workload. Their other
 * suspects are dropped, judged again, and the nodes' records rewritten.
 */
static void explain_away(fb_core *c, const core_workload *w, fb_actions *out)
{
	for (size_t e = 0; e < c->evidence.n; e++) {
		fb_failure *f = &c->evidence.v[e];
		if (f->n < 2 || !fb_failure_suspect(f, w->id))
			continue;
		mark_suspects_dirty(c, f);
		if (fb_failure_keep_only(f, keep_workload, (void *)w))
			write_failure(c, f, kc_map_get(&c->nodes, f->node), out);
	}
}

/* Record who arrived on node n shortly before its current failure. */
static void record_failure(fb_core *c, core_node *n, fb_actions *out)
{
	const fb_poison_spec *spec = node_poison_spec(c, n);
	n->failure_recorded = true;
	if (c->zones.master_disruption) {
		event(out, node_dry_run(c, n), FB_OBJ_NODE, NULL, n->name, n->uid,
		      FB_REASON_FAILURE_RECORDED,
		      "Node %s failed while every zone is disrupted: a cluster-wide outage (control "
		      "plane or network), not evidence against what arrived here", n->name);
		record_outage_failure(c, n, out);
		return;
	}
	if (zone_outage(c, n, out)) {
		char zbuf[128];
		fb_zone_display(n->zone_key, n->zone_len, zbuf, sizeof(zbuf));
		event(out, node_dry_run(c, n), FB_OBJ_NODE, NULL, n->name, n->uid,
		      FB_REASON_FAILURE_RECORDED,
		      "Node %s failed with every other node of zone %s within a minute: a zone "
		      "outage, not evidence against what arrived here", n->name, zbuf);
		record_outage_failure(c, n, out);
		return;
	}
	fb_failure f = { 0 };
	f.failed_ms = n->failed_since_ms;
	f.memory_pressure = memory_distress(n);
	f.attributed = named_in_time(n);
	if (!(f.node = kc_strdup(n->name)))
		return;
	char list[400] = "";
	size_t len = 0;
	for (size_t i = 0; i < n->npods; i++) {
		const core_pod *p = n->pods[i];
		const char *wid = pod_workload_id(p);
		if (p->daemonset || p->mirror || p->terminal || !wid || p->arrived_ms <= 0 ||
		    p->moved)
			continue;
		int64_t before = f.failed_ms - p->arrived_ms;
		if (before < 0 || before > spec->arrival_window_ms || fb_failure_suspect(&f, wid))
			continue;
		const char *from = fb_evidence_migrated_from(&c->evidence, wid, n->name,
		                                             p->arrived_ms, spec->window_ms);
		if (fb_failure_add_suspect(&f, wid, p->name, p->arrived_ms, from) != 0)
			break;
		bool named = f.s[f.n - 1].attributed = attributed_to(n, p);
		char ago_buf[32];
		int w = snprintf(list + len, sizeof(list) - len, "%s%s (%s before%s%s%s)",
		                 len ? ", " : "", wid, ago(before, ago_buf, sizeof(ago_buf)),
		                 from ? ", moved here from failed node " : "", from ? from : "",
		                 named ? ", named by the node's agent as holding its memory" : "");
		if (w > 0 && (size_t)w < sizeof(list) - len)
			len += (size_t)w;
	}
	if (f.n == 0) {
		/* no suspects: written down all the same, as part of the node's failure history
		 * (the surprise verdict's background rate) */
		write_failure(c, &f, n, out);
		fb_evidence_take(&c->evidence, &f);
		return;
	}
	/* A quarantined workload among the arrivals explains the failure: the others are
	 * not suspects of it (a failure is one workload's doing, and that one is known). */
	bool explained = false;
	for (size_t i = 0; i < f.n && !explained; i++)
		explained = keep_explaining(f.s[i].workload, c);
	if (explained) {
		fb_failure_keep_only(&f, keep_explaining, c);
		c->stats.failures_explained++;
	}
	char culprits[300] = "";
	size_t clen = 0;
	for (size_t i = 0; i < f.n; i++) {
		core_workload *w = workload_get_or_add(c, f.s[i].workload);
		if (!w)
			continue;
		mark_dirty(c, w);
		if (explained) {
			int k = snprintf(culprits + clen, sizeof(culprits) - clen, "%s%s %s/%s",
			                 clen ? ", " : "", w->kind, w->ns, w->name);
			if (k > 0 && (size_t)k < sizeof(culprits) - clen)
				clen += (size_t)k;
		}
		if (w->quarantined && !node_dry_run(c, n)) { /* it killed another node: mark it too */
			taint_action(out, n, w, true);
			quarantine_add_node(c, w, n->name);
		}
	}
	if (explained)
		event(out, node_dry_run(c, n), FB_OBJ_NODE, NULL, n->name, n->uid,
		      FB_REASON_FAILURE_EXPLAINED,
		      "Node %s failed; explained by quarantined %s, which arrived shortly before; "
		      "not evidence against the other recent arrivals (%s)", n->name, culprits, list);
	else
		event(out, node_dry_run(c, n), FB_OBJ_NODE, NULL, n->name, n->uid,
		      FB_REASON_FAILURE_RECORDED, "Node %s failed; recent arrivals: %s", n->name, list);
	write_failure(c, &f, n, out);
	fb_evidence_take(&c->evidence, &f);
}

/*
 * Every zone is fully disrupted (the node lifecycle controller's master
 * disruption mode): failures recorded within the outage span before it
 * became evident were part of it too.
 */
static void cluster_outage(fb_core *c, int64_t now_ms, fb_actions *out)
{
	bool master = c->zones.master_disruption;
	if (master == c->outage_seen)
		return;
	c->outage_seen = master;
	if (!master)
		return;
	for (size_t e = 0; e < c->evidence.n; e++) {
		fb_failure *f = &c->evidence.v[e];
		if (f->failed_ms >= now_ms - ZONE_OUTAGE_SPAN_MS)
			forget_suspects(c, f, kc_map_get(&c->nodes, f->node), out);
	}
}

/* ---- the verdict ----------------------------------------------------------------------------- */

/* Distinct healthy nodes where w arrived since since_ms and is still running. */
static int healthy_arrivals(fb_core *c, const core_workload *w, int64_t since_ms)
{
	const char *seen[64];
	int n = 0;
	(void)c;
	for (size_t i = 0; i < w->npods; i++) {
		const core_pod *p = w->pods[i];
		if (!p->node || p->node->failed || p->terminating || p->terminal ||
		    p->arrived_ms < since_ms)
			continue;
		bool dup = false;
		for (int j = 0; j < n && j < 64 && !dup; j++)
			dup = seen[j] == p->node->name;
		if (dup)
			continue;
		if (n < 64)
			seen[n] = p->node->name;
		n++;
	}
	return n;
}

/*
 * When a workload's evidence may be judged. A failure settles poison_settle_ms
 * after it: until then it may still turn out to be part of a zone or
 * cluster-wide outage. When the control plane or a network loses every node,
 * the node lifecycle controller marks them Unknown over several monitor passes
 * (node-monitor-period 5 s, leases renewed every 10 s), so the first failures
 * are recorded before the outage is evident from the zone states. The
 * workload is judged once all its failures have settled, or as soon as one of
 * its failed nodes (not yet admitted) has a pod due, or a pod of its own falls
 * due on any failed node, whichever comes first: a verdict must be in force
 * before firebreak could evict a poison's pod (to be replaced), and the
 * judgement runs before admission in the same tick. (In managed mode a pod
 * firebreak has not covered is Kubernetes' to evict, at its own toleration.)
 * Its own pods count wherever they are: a node whose failure does not name it
 * (an outage's, a node it had long been on) may fall due first. e2e
 * poison-two-replicas lost a fifth node so: a replacement's node failed with
 * the rest of its zone one monitor pass before the other replacement's node,
 * whose failure convicted the workload 5 s too late. Returns INT64_MIN if it
 * may be judged now, else the time it may.
 */
static int64_t judge_time(fb_core *c, const core_workload *w, int64_t since_ms,
                          int64_t now_ms)
{
	int64_t settled = INT64_MIN, due = INT64_MAX, unsettled = INT64_MAX;
	for (size_t e = 0; e < c->evidence.n; e++) {
		const fb_failure *f = &c->evidence.v[e];
		if (f->failed_ms < since_ms)
			continue;
		if (!fb_failure_suspect(f, w->id))
			continue;
		int64_t at = f->failed_ms + c->cfg.poison_settle_ms;
		if (at > settled)
			settled = at;
		if (at > now_ms && f->failed_ms < unsettled)
			unsettled = f->failed_ms;
		const core_node *n = kc_map_get(&c->nodes, f->node);
		if (n && n->known && n->failed && !n->admitted && n->failed_since_ms == f->failed_ms) {
			int64_t d = node_next_due(n);
			if (d < due)
				due = d;
		}
	}
	if (settled <= now_ms)
		return INT64_MIN;
	/* Its own pods, not yet asked to leave, that fall due since the evidence still
	 * settling came: one due before it (a PodDisruptionBudget holding it, an admission
	 * deferred) is not waiting on that evidence, and counting it would judge every new
	 * failure at once, unsettled, as the first of an outage that is being marked */
	for (size_t i = 0; i < w->npods; i++) {
		const core_pod *p = w->pods[i];
		if (p->node && p->node->known && p->node->failed && p->state == POD_IDLE) {
			int64_t d = pod_next_due(p, p->node);
			if (d >= unsettled && d < due)
				due = d;
		}
	}
	int64_t at = settled < due ? settled : due;
	return at > now_ms ? at : INT64_MIN;
}

/* A workload whose evidence reaches a verdict, before the verdicts are declared. */
#define WHY_MAX 640

typedef struct candidate {
	core_workload *w;
	const fb_poison_spec *spec;
	int bad, good;
	double p;                  /* the surprise verdict's (the ratio rule: 0) */
	char why[WHY_MAX];         /* ... and its sentence */
} candidate;

/*
 * The verdict on w with its evidence since since_ms: the surprise verdict
 * (surprise.c), or the ratio rule (poison.h). *bad: its failed nodes, *good
 * its healthy arrivals (ratio rule only); why: the surprise verdict's sentence.
 */
static bool judge(fb_core *c, core_workload *w, const fb_poison_spec *spec, int64_t since,
                  int64_t now_ms, int *bad, int *good, double *p, char *why)
{
	if (c->cfg.verdict == FB_VERDICT_SURPRISE) {
		*good = 0;
		return surprise_judge(c, w, spec, since, now_ms, bad, p, why, WHY_MAX);
	}
	*p = 0;
	why[0] = '\0';
	*bad = fb_evidence_bad(&c->evidence, w->id, since, w->released_ms, NULL, 0);
	*good = healthy_arrivals(c, w, since > w->released_ms ? since : w->released_ms);
	return fb_poison_verdict(*bad, *good, spec->failures, c->cfg.poison_ratio);
}

/*
 * The most surprising first (the surprise verdict: a workload whose failures chance explains
 * less; the ratio rule's p is 0); then more failed nodes; then the better ratio (fewer
 * healthy); then by id.
 */
static int candidate_cmp(const void *a, const void *b)
{
	const candidate *x = a, *y = b;
	if (x->p != y->p)
		return x->p < y->p ? -1 : 1;
	if (x->bad != y->bad)
		return x->bad > y->bad ? -1 : 1;
	if (x->good != y->good)
		return x->good < y->good ? -1 : 1;
	return strcmp(x->w->id, y->w->id);
}

/* Returns when a workload held back by unsettled failures is to be judged (INT64_MAX: none). */
static int64_t judge_workloads(fb_core *c, int64_t now_ms, fb_actions *out)
{
	const char *k;
	void *v;
	int64_t next = INT64_MAX;
	candidate *cands = NULL;
	size_t ncands = 0, ccap = 0;
	if (!c->workloads_dirty)
		return next; /* nothing new: verdicts and counts stand */
	if (c->zones.master_disruption)
		return now_ms + 1000; /* every zone down: nothing can be told apart; wait */
	c->workloads_dirty = false;
	size_t suspects = 0, active = 0;
	for (size_t it = 0; kc_map_next(&c->workloads, &it, &k, &v);) {
		core_workload *w = v;
		if (w->quarantined)
			active++;
		if (!w->dirty) {
			if (!w->quarantined && w->bad > 0)
				suspects++;
			continue;
		}
		w->dirty = false;
		if (w->quarantined || (w->dry_run && w->declared_ms))
			continue;
		/* the settings (enabled, failures, window, action) of the node that failed
		 * last with it: the budget over the latest damage decides */
		const fb_poison_spec *spec = &c->cfg.defaults.poison;
		int64_t latest = INT64_MIN;
		for (size_t e = 0; e < c->evidence.n; e++) {
			const fb_failure *f = &c->evidence.v[e];
			if (f->failed_ms <= latest || !fb_failure_suspect(f, w->id))
				continue;
			latest = f->failed_ms;
			spec = node_poison_spec(c, kc_map_get(&c->nodes, f->node));
		}
		if (!spec->enabled)
			continue;
		int64_t since = now_ms - spec->window_ms;
		int64_t settle = judge_time(c, w, since, now_ms);
		if (settle != INT64_MIN) {
			/* judged again once its latest failure has settled */
			w->dirty = c->workloads_dirty = true;
			if (settle < next)
				next = settle;
			if (w->bad > 0)
				suspects++;
			continue;
		}
		int bad, good;
		double p;
		char why[WHY_MAX];
		bool poison = judge(c, w, spec, since, now_ms, &bad, &good, &p, why);
		w->bad = bad;
		if (poison) {
			candidate *cd = KC_ARRAY_RESERVE(cands, ccap, ncands + 1) == 0
			                        ? &cands[ncands++] : NULL;
			if (cd) {
				*cd = (candidate){ w, spec, bad, good, p, "" };
				memcpy(cd->why, why, sizeof(cd->why));
			} else { /* out of memory: judged again next tick */
				w->dirty = c->workloads_dirty = true;
			}
		} else if (bad > 0) {
			suspects++;
		}
	}
	/*
	 * The strongest case first: once declared, its failures are its doing
	 * (explain_away), and a workload that only shared them with it is no
	 * longer poison. Ties go by id, so the order never depends on the map.
	 */
	if (ncands > 1)
		qsort(cands, ncands, sizeof(*cands), candidate_cmp);
	for (size_t i = 0; i < ncands; i++) {
		const char *nodes[64];
		core_workload *w = cands[i].w;
		const fb_poison_spec *spec = cands[i].spec;
		int64_t since = now_ms - spec->window_ms;
		int bad = cands[i].bad, good = cands[i].good;
		double p;
		char *why = cands[i].why;
		bool poison = true;
		if (i > 0) { /* earlier verdicts may have explained some of its failures away */
			poison = judge(c, w, spec, since, now_ms, &bad, &good, &p, why);
			w->bad = bad;
		}
		fb_evidence_bad(&c->evidence, w->id, since, w->released_ms, nodes, 64);
		if (!poison) {
			w->dirty = false;
			if (bad > 0)
				suspects++;
			continue;
		}
		quarantine_declare(c, w, nodes, bad, good, spec,
		                   c->cfg.verdict == FB_VERDICT_SURPRISE ? why : NULL, now_ms, out);
		explain_away(c, w, out);
		w->dirty = false; /* explain_away marks it too: its own verdict stands */
		if (w->quarantined)
			active++;
	}
	kc_free(cands);
	c->stats.suspects = suspects;
	c->stats.quarantines_active = active;
	return next;
}

int64_t verdict_pass(fb_core *c, int64_t now_ms, fb_actions *out)
{
	const char *k;
	void *v;
	fb_evidence_prune(&c->evidence, now_ms - poison_longest(c, true));
	if (c->moves)
		prune_moves(c, now_ms);
	for (size_t it = 0; kc_map_next(&c->nodes, &it, &k, &v);) {
		core_node *n = v;
		if (n->known && n->failed && !n->failure_recorded)
			record_failure(c, n, out);
	}
	cluster_outage(c, now_ms, out);
	return judge_workloads(c, now_ms, out);
}
