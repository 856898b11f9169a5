/*
 * quarantine.c - the verdict carried out (DESIGN.md "Quarantine" and
 * "ScaleToZero"): the Quarantine object, the taints on the nodes the
 * workload killed, the Events; with poison.action ScaleToZero, the workload
 * scaled to zero and restored on release; and the release itself (the
 * object deleted or spec.release), which removes what firebreak added.
 *
 * Owns: each workload's quarantine fields and scale state, each node's
 * quarantine_taint, and the counters releases_pending, tainted_nodes,
 * scales_pending (changed only through set_release_pending,
 * quarantine_node_taint and set_scale).
 */
#include <stdio.h>
#include <string.h>

#include "core_int.h"
#include "kc/alloc.h"
#include "kc/hash.h"

#define SCALE_RETRY_INITIAL_MS 5000
#define SCALE_RETRY_MAX_MS (5 * 60 * 1000)

static void taint_value(const char *ns, const char *kind, const char *name, char out[64])
{
	char full[FB_WORKLOAD_ID_MAX];
	int n = snprintf(full, sizeof(full), "%s.%s.%s", ns, kind, name);
	if (n >= 0 && n <= 63) {
		memcpy(out, full, (size_t)n + 1);
		return;
	}
	/* too long for a taint value: keep a readable prefix and a hash of the rest */
	uint32_t h = kc_fnv1a32(full, strlen(full));
	snprintf(out, 64, "%.54s-%08x", full, h);
	/* a taint value must end with an alphanumeric character: the hash does */
}

void fb_quarantine_taint_value(const fb_workload_ref *w, char out[64])
{
	taint_value(w->ns, w->kind, w->name, out);
}

/* The taint value of w, straight from its record (the release pass asks for it per node). */
static void workload_taint_value(const core_workload *w, char out[64])
{
	taint_value(w->ns, w->kind, w->name, out);
}

/* The taint value observed on node n (NULL or "": none), counted in tainted_nodes. */
int quarantine_node_taint(fb_core *c, core_node *n, const char *taint)
{
	bool had = n->quarantine_taint != NULL;
	if (!replace_str(&n->quarantine_taint, taint && taint[0] ? taint : NULL))
		return -1;
	bool has = n->quarantine_taint != NULL;
	if (has && !had)
		c->tainted_nodes++;
	else if (had && !has)
		c->tainted_nodes--;
	return 0;
}

/* Mark w's Quarantine object to be set Released (counted in releases_pending). */
static void set_release_pending(fb_core *c, core_workload *w, bool pending)
{
	if (pending && !w->release_pending)
		c->releases_pending++;
	else if (!pending && w->release_pending)
		c->releases_pending--;
	w->release_pending = pending;
}

/* Move w to scale state st, keeping the counts of pending and scaled workloads. */
static void set_scale(fb_core *c, core_workload *w, scale_state st)
{
	bool was_pending = w->scale == SCALE_WANTED || w->scale == SCALE_RESTORE;
	bool pending = st == SCALE_WANTED || st == SCALE_RESTORE;
	if (was_pending && !pending)
		c->scales_pending--;
	else if (pending && !was_pending)
		c->scales_pending++;
	if (pending && w->scale_next_ms < c->scale_due_ms)
		c->scale_due_ms = w->scale_next_ms;
	if (w->scale == SCALE_DONE && st != SCALE_DONE)
		c->stats.scaled_to_zero--;
	else if (st == SCALE_DONE && w->scale != SCALE_DONE)
		c->stats.scaled_to_zero++;
	w->scale = st;
}

/* Start a scale (or a restore) afresh: at once, no backoff from earlier tries. */
static void start_scale(fb_core *c, core_workload *w, scale_state st)
{
	w->scale_next_ms = 0;
	w->scale_backoff_ms = 0;
	set_scale(c, w, st);
}

/* The name of a workload's Quarantine: "<kind in lower case>-<name>". */
static void quarantine_name(const core_workload *w, char *out, size_t cap)
{
	char lower[64];
	size_t i;
	for (i = 0; w->kind[i] && i < sizeof(lower) - 1; i++)
		lower[i] = (char)(w->kind[i] >= 'A' && w->kind[i] <= 'Z' ? w->kind[i] + 32 : w->kind[i]);
	lower[i] = '\0';
	snprintf(out, cap, "%s-%.180s", lower, w->name);
}

void taint_action(fb_actions *out, const core_node *n, const core_workload *w, bool add)
{
	fb_action *a = push_action(out, add ? FB_ACT_TAINT : FB_ACT_UNTAINT);
	if (!a)
		return;
	a->obj = FB_OBJ_NODE;
	copy_str(a->name, sizeof(a->name), n->name);
	copy_str(a->uid, sizeof(a->uid), n->uid);
	workload_taint_value(w, a->taint);
}

/*
 * The Quarantine object's content: per failed node, the arrival of w there
 * as the node's first record has it, and whether the node is known (its
 * taint goes on it).
 */
static fb_quarantine_record *quarantine_record(fb_core *c, const core_workload *w,
                                               const char **nodes, int bad, const char *message,
                                               fb_poison_action action, int64_t now_ms,
                                               const char *qname)
{
	fb_quarantine_record *q = kc_calloc(1, sizeof(*q));
	size_t n = bad < 0 ? 0 : (size_t)(bad < 64 ? bad : 64);
	if (!q || (n && !(q->nodes = kc_calloc(n, sizeof(*q->nodes))))) {
		kc_free(q);
		return NULL;
	}
	workload_ref(w, &q->workload);
	copy_str(q->name, sizeof(q->name), qname);
	copy_str(q->message, sizeof(q->message), message);
	q->action = action;
	q->declared_ms = now_ms;
	for (size_t b = 0; b < n; b++) {
		fb_quarantine_node *qn = &q->nodes[q->nnodes++];
		if (!(qn->name = kc_strdup(nodes[b])))
			goto nomem;
		const fb_failure *f = NULL;
		for (size_t e = 0; e < c->evidence.n && !f; e++)
			if (strcmp(c->evidence.v[e].node, nodes[b]) == 0)
				f = &c->evidence.v[e];
		const fb_suspect *su = f ? fb_failure_suspect(f, w->id) : NULL;
		if (su) {
			qn->has_arrival = true;
			qn->arrived_ms = su->arrived_ms;
			qn->failed_ms = f->failed_ms;
			qn->memory_pressure = f->memory_pressure;
			if (!(qn->pod = kc_strdup(su->pod)) ||
			    (su->migrated_from && !(qn->migrated_from = kc_strdup(su->migrated_from))))
				goto nomem;
		}
		const core_node *node = kc_map_get(&c->nodes, nodes[b]);
		qn->tainted = node && node->known;
	}
	return q;
nomem:
	fb_quarantine_record_free(q);
	return NULL;
}

/*
 * The verdict: Events, taints, the Quarantine object and, with action
 * ScaleToZero, the scaling. spec is the poison section that judged w (see
 * judge_workloads); its action decides. A workload without a scale
 * subresource falls back to Pin, and an Event says why.
 */
void quarantine_declare(fb_core *c, core_workload *w, const char **nodes, int bad, int good,
                    const fb_poison_spec *spec, int64_t now_ms, fb_actions *out)
{
	/* dry run if global, or if a budget over any of the nodes it killed says so */
	bool dry = c->cfg.dry_run;
	for (int i = 0; i < bad && i < 64 && !dry; i++) {
		core_node *dn = kc_map_get(&c->nodes, nodes[i]);
		dry = dn && node_dry_run(c, dn);
	}
	w->quarantined = !dry;
	w->dry_run = dry;
	w->declared_ms = now_ms;
	c->stats.quarantines_total++;
	c->stats.nodes_lost_before_quarantine = (size_t)bad;
	/* "Deployment gpu/render arrived on node-3 and node-7 within 12m before each failed" */
	char names[300] = "", within[32];
	size_t len = 0;
	int64_t worst = 0;
	for (int i = 0; i < bad && i < 64; i++) {
		int n = snprintf(names + len, sizeof(names) - len, "%s%s",
		                 i == 0 ? "" : (i == bad - 1 ? " and " : ", "), nodes[i]);
		if (n > 0 && (size_t)n < sizeof(names) - len)
			len += (size_t)n;
		/* every record of the node, every entry of w (one read back may list it twice) */
		for (size_t e = 0; e < c->evidence.n; e++) {
			const fb_failure *f = &c->evidence.v[e];
			if (strcmp(f->node, nodes[i]) != 0)
				continue;
			for (size_t s2 = 0; s2 < f->n; s2++)
				if (strcmp(f->s[s2].workload, w->id) == 0 &&
				    f->failed_ms - f->s[s2].arrived_ms > worst)
					worst = f->failed_ms - f->s[s2].arrived_ms;
		}
	}
	bool scale = spec->action == FB_POISON_SCALE_TO_ZERO;
	bool scalable = scale && fb_workload_scalable(w->kind);
	char tv[64], msg[768], qname[FB_NAME_MAX], how[96];
	workload_taint_value(w, tv);
	quarantine_name(w, qname, sizeof(qname));
	if (scalable)
		snprintf(how, sizeof(how), "pinned and scaled to 0 replicas (restored on release)");
	else if (scale)
		snprintf(how, sizeof(how), "pinned (a %.40s cannot be scaled to zero)", w->kind);
	else
		snprintf(how, sizeof(how), "pinned");
	snprintf(msg, sizeof(msg),
	         "%s %s/%s arrived on %s within %s before each failed (%d failed nodes, %d healthy; "
	         "threshold %d); %s, nodes tainted %s=%s:NoSchedule",
	         w->kind, w->ns, w->name, names, ago(worst, within, sizeof(within)), bad, good,
	         spec->failures, how, FB_QUARANTINE_TAINT_KEY, tv);
	workload_event(out, dry, w, FB_REASON_QUARANTINED, "%s", msg);
	if (scale && !scalable)
		workload_event(out, dry, w, FB_REASON_SCALE_TO_ZERO_SKIPPED,
		               "%s %s/%s is not scaled to zero (poison.action ScaleToZero): only "
		               "Deployments, StatefulSets and ReplicaSets are; pinned instead",
		               w->kind, w->ns, w->name);
	else if (scalable && dry)
		workload_event(out, dry, w, FB_REASON_SCALED_TO_ZERO,
		               "%s %s/%s would be scaled to 0 replicas by quarantine %s "
		               "(poison.action ScaleToZero); nothing written",
		               w->kind, w->ns, w->name, qname);
	for (int i = 0; i < bad && i < 64; i++) {
		core_node *n = kc_map_get(&c->nodes, nodes[i]);
		if (!n || !n->known)
			continue;
		if (!dry)
			taint_action(out, n, w, true);
		event(out, dry, FB_OBJ_NODE, NULL, n->name, n->uid, FB_REASON_NODE_QUARANTINED,
		      "%s %s/%s arrived here shortly before this node failed and is quarantined; "
		      "tainted %s=%s:NoSchedule", w->kind, w->ns, w->name, FB_QUARANTINE_TAINT_KEY, tv);
	}
	if (dry)
		return;
	fb_quarantine_record *rec = quarantine_record(c, w, nodes, bad, msg,
	                                              scalable ? FB_POISON_SCALE_TO_ZERO
	                                                       : FB_POISON_PIN,
	                                              now_ms, qname);
	fb_action *a = rec ? push_action(out, FB_ACT_QUARANTINE) : NULL;
	if (!a) {
		fb_quarantine_record_free(rec);
		return;
	}
	a->obj = FB_OBJ_QUARANTINE;
	copy_str(a->ns, sizeof(a->ns), w->ns);
	copy_str(a->name, sizeof(a->name), qname);
	a->verdict = rec;
	w->announced = true;
	/* scaled only once the Quarantine that records it (and releases it) is on its way */
	if (scalable && replace_str(&w->quarantine, qname))
		start_scale(c, w, SCALE_WANTED);
}

/* A quarantine this core learns of from its object (restart, follower, released while away). */
static void quarantine_adopt(fb_core *c, core_workload *w, const fb_quarantine_obs *q,
                             int64_t now_ms)
{
	w->quarantined = true;
	w->announced = true; /* it exists: do not create it again */
	w->declared_ms = now_ms;
	c->workloads_dirty = true;
	/* ScaleToZero again unless the status says it was done: harmless if it was (the
	 * count from before stays on the workload), needed if a leader died midway */
	if (q->action == FB_POISON_SCALE_TO_ZERO && fb_workload_scalable(w->kind))
		start_scale(c, w, q->scaled_from >= 0 ? SCALE_DONE : SCALE_WANTED);
}

int fb_core_quarantine_set(fb_core *c, const fb_quarantine_obs *q, int64_t now_ms)
{
	char id[FB_WORKLOAD_ID_MAX];
	core_workload *w = workload_get_or_add(c, fb_workload_id(&q->workload, id));
	if (!w || !replace_str(&w->quarantine, q->name))
		return -1;
	if (q->released) {
		/* released before this core saw it in force (no leader at the time, or a
		 * restart in between): carry the release out, taints and scaling included */
		if (!w->quarantined && !w->released_ms && !q->phase_released)
			quarantine_adopt(c, w, q, now_ms);
		if (w->quarantined) /* the object stays: its status says Released */
			set_release_pending(c, w, true);
		fb_core_quarantine_delete(c, &q->workload, now_ms);
		return 0;
	}
	if (!w->quarantined)
		quarantine_adopt(c, w, q, now_ms);
	else if (w->scale == SCALE_WANTED && q->action == FB_POISON_SCALE_TO_ZERO &&
	         q->scaled_from >= 0)
		set_scale(c, w, SCALE_DONE); /* the leader did it (this core follows) */
	return 0;
}

/* Pending untaint work is found by the tick: nodes tainted for a workload no longer quarantined. */
void fb_core_quarantine_delete(fb_core *c, const fb_workload_ref *workload, int64_t now_ms)
{
	core_workload *w = workload_find(c, workload);
	if (!w || !w->quarantined)
		return;
	w->quarantined = false;
	w->announced = false;
	w->released_ms = now_ms;
	w->bad = 0;
	/* whatever became of the scaling, undo it: a restore with nothing to undo is a no-op */
	if (w->scale != SCALE_NONE)
		start_scale(c, w, SCALE_RESTORE);
	c->workloads_dirty = true;
	for (size_t i = 0; i < w->npods; i++)
		w->pods[i]->pinned_reported = false;
	c->counts_dirty = true;
}

/* Nodes still carrying the taint of a workload that is not quarantined any more. */
void quarantine_release_pass(fb_core *c, fb_actions *out)
{
	const char *k;
	void *v;
	for (size_t it = 0; c->releases_pending && kc_map_next(&c->workloads, &it, &k, &v);) {
		core_workload *w = v;
		if (!w->release_pending || !w->quarantine)
			continue;
		/* ScaleToZero: the status says Released only once the replicas are back (or
		 * there was nothing to restore); until then a restart or a new leader, reading
		 * spec.release without Released, restores again. */
		if (w->scale == SCALE_RESTORE || w->scale == SCALE_RESTORE_SENT)
			continue;
		set_release_pending(c, w, false);
		fb_action *a = push_action(out, FB_ACT_QUARANTINE_RELEASED);
		if (a) {
			a->obj = FB_OBJ_QUARANTINE;
			copy_str(a->ns, sizeof(a->ns), w->ns);
			copy_str(a->name, sizeof(a->name), w->quarantine);
		}
		workload_event(out, false, w, FB_REASON_QUARANTINE_RELEASED,
		               "%s %s/%s released (spec.release); its pods may be evicted again",
		               w->kind, w->ns, w->name);
	}
	for (size_t it = 0; c->tainted_nodes && kc_map_next(&c->nodes, &it, &k, &v);) {
		core_node *n = v;
		if (!n->known || !n->quarantine_taint)
			continue;
		bool held = false;
		const char *wk;
		void *wv;
		core_workload *released = NULL;
		for (size_t jt = 0; kc_map_next(&c->workloads, &jt, &wk, &wv) && !held;) {
			core_workload *w = wv;
			char tv[64];
			workload_taint_value(w, tv);
			if (strcmp(tv, n->quarantine_taint) != 0)
				continue;
			if (w->quarantined)
				held = true;
			else if (w->released_ms)
				released = w;
		}
		if (held || !released)
			continue; /* a taint we know nothing of is not ours to remove */
		taint_action(out, n, released, false);
		event(out, false, FB_OBJ_NODE, NULL, n->name, n->uid, FB_REASON_QUARANTINE_RELEASED,
		      "Quarantine of %s %s/%s released; taint %s removed", released->kind, released->ns,
		      released->name, FB_QUARANTINE_TAINT_KEY);
		quarantine_node_taint(c, n, NULL); /* until the node update shows it gone */
	}
}

/*
 * ScaleToZero and its undoing: one action per pending workload, in the order
 * the tick runs (after the verdict's Quarantine, before the Released status).
 * Returns when a try waiting for its backoff is due.
 */
int64_t quarantine_scale_pass(fb_core *c, int64_t now_ms, fb_actions *out)
{
	if (!c->scales_pending)
		return INT64_MAX;
	if (now_ms < c->scale_due_ms)
		return c->scale_due_ms; /* only retries waiting for their backoff: no scan */
	int64_t next = INT64_MAX;
	const char *k;
	void *v;
	for (size_t it = 0; c->scales_pending && kc_map_next(&c->workloads, &it, &k, &v);) {
		core_workload *w = v;
		if (w->scale != SCALE_WANTED && w->scale != SCALE_RESTORE)
			continue;
		if (w->scale_next_ms > now_ms) {
			if (w->scale_next_ms < next)
				next = w->scale_next_ms;
			continue;
		}
		bool restore = w->scale == SCALE_RESTORE;
		fb_action *a = push_action(out, restore ? FB_ACT_SCALE_RESTORE : FB_ACT_SCALE_TO_ZERO);
		if (!a) {
			/* out of memory: the rest next tick, whatever their backoff said */
			c->scale_due_ms = INT64_MIN;
			return now_ms;
		}
		a->obj = FB_OBJ_WORKLOAD;
		copy_str(a->ns, sizeof(a->ns), w->ns);
		copy_str(a->name, sizeof(a->name), w->name);
		workload_ref(w, &a->workload);
		copy_str(a->quarantine, sizeof(a->quarantine), w->quarantine);
		set_scale(c, w, restore ? SCALE_RESTORE_SENT : SCALE_SENT);
	}
	c->scale_due_ms = next;
	return next;
}

void fb_core_scale_result(fb_core *c, const fb_workload_ref *workload, bool restore,
                          fb_scale_result r, int64_t now_ms)
{
	core_workload *w = workload_find(c, workload);
	if (!w || w->scale != (restore ? SCALE_RESTORE_SENT : SCALE_SENT))
		return; /* released (or quarantined again) meanwhile: that is pending now */
	if (r == FB_SCALE_FAILED) {
		w->scale_backoff_ms = w->scale_backoff_ms ? w->scale_backoff_ms * 2
		                                          : SCALE_RETRY_INITIAL_MS;
		if (w->scale_backoff_ms > SCALE_RETRY_MAX_MS)
			w->scale_backoff_ms = SCALE_RETRY_MAX_MS;
		w->scale_next_ms = now_ms + w->scale_backoff_ms;
		set_scale(c, w, restore ? SCALE_RESTORE : SCALE_WANTED);
		return;
	}
	w->scale_backoff_ms = 0;
	/* gone or refused: nothing of ours to undo later */
	set_scale(c, w, !restore && r == FB_SCALE_DONE ? SCALE_DONE : SCALE_NONE);
}

/* A new leader sends again every scale whose result it never saw. */
void quarantine_rejudge(fb_core *c)
{
	const char *k;
	void *v;
	for (size_t it = 0; kc_map_next(&c->workloads, &it, &k, &v);) {
		core_workload *w = v;
		if (w->scale == SCALE_SENT)
			set_scale(c, w, SCALE_WANTED);
		else if (w->scale == SCALE_RESTORE_SENT)
			set_scale(c, w, SCALE_RESTORE);
	}
}
