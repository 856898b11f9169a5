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
#include "kc/array.h"
#include "kc/hash.h"

#define SCALE_RETRY_INITIAL_MS 5000
#define SCALE_RETRY_MAX_MS (5 * 60 * 1000)
/* An ungate not seen done is sent again after this long; so is an untaint. */
/* A finalizer patch not seen done is sent again after this long. */
#define FINALIZER_RETRY_MS 10000
#define UNGATE_RETRY_MS 10000
#define UNTAINT_RETRY_MS 10000
/* Escaped pods: the first deleted at once, then no faster than this, doubling. */
#define ESCAPE_BACKOFF_INITIAL_MS 10000
#define ESCAPE_BACKOFF_MAX_MS (5 * 60 * 1000)

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

static void min_time(int64_t *next, int64_t t)
{
	if (t < *next)
		*next = t;
}

/* The taint value observed on node n (NULL or "": none), counted in tainted_nodes. */
int quarantine_node_taint(fb_core *c, core_node *n, const char *taint)
{
	bool had = n->quarantine_taint != NULL;
	const char *now = taint && taint[0] ? taint : NULL;
	if (!now || !had || strcmp(now, n->quarantine_taint) != 0)
		n->untaint_sent_ms = 0; /* gone or another: no removal of it is out */
	if (!replace_str(&n->quarantine_taint, now))
		return -1;
	bool has = n->quarantine_taint != NULL;
	if (has && !had) {
		c->tainted_nodes++;
	} else if (had && !has) {
		c->tainted_nodes--;
		c->gates_dirty = true; /* a finalizer may have waited for it */
	}
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

/*
 * The name of a workload's Quarantine: "<kind in lower case>-<name>", unique
 * per workload. A name longer than QUARANTINE_NAME_MAX keeps a readable
 * prefix and ends with a hash of the whole, so that two workloads sharing a
 * long prefix never share a Quarantine (the prefix loses trailing '.' and
 * '-', which may not precede the hash in a DNS subdomain).
 */
#define QUARANTINE_NAME_MAX 180
static void quarantine_name(const core_workload *w, char *out, size_t cap)
{
	char full[FB_WORKLOAD_ID_MAX];
	size_t i;
	for (i = 0; w->kind[i] && i < 63; i++)
		full[i] = (char)(w->kind[i] >= 'A' && w->kind[i] <= 'Z' ? w->kind[i] + 32 : w->kind[i]);
	int n = snprintf(full + i, sizeof(full) - i, "-%s", w->name);
	size_t len = i + (n > 0 ? (size_t)n : 0);
	if (len <= QUARANTINE_NAME_MAX) {
		snprintf(out, cap, "%.*s", QUARANTINE_NAME_MAX, full);
		return;
	}
	uint32_t h = kc_fnv1a32(full, len);
	size_t keep = QUARANTINE_NAME_MAX - 9;
	while (keep > 0 && (full[keep - 1] == '.' || full[keep - 1] == '-'))
		keep--;
	snprintf(out, cap, "%.*s-%08x", (int)keep, full, h);
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
		/* the node's latest record that lists w (an earlier failure of the node, read
		 * back from its history, may list others or none) */
		const fb_failure *f = NULL;
		const fb_suspect *su = NULL;
		for (size_t e = 0; e < c->evidence.n; e++) {
			const fb_failure *g = &c->evidence.v[e];
			const fb_suspect *s = strcmp(g->node, nodes[b]) == 0 ? fb_failure_suspect(g, w->id)
			                                                     : NULL;
			if (s && (!f || g->failed_ms > f->failed_ms)) {
				f = g;
				su = s;
			}
		}
		if (su) {
			qn->has_arrival = true;
			qn->arrived_ms = su->arrived_ms;
			qn->failed_ms = f->failed_ms;
			qn->memory_pressure = f->memory_pressure;
			qn->attributed = su->attributed;
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
                        const fb_poison_spec *spec, const char *why, int64_t now_ms,
                        fb_actions *out)
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
	char tv[64], msg[1024], qname[FB_NAME_MAX], how[96];
	workload_taint_value(w, tv);
	quarantine_name(w, qname, sizeof(qname));
	if (scalable)
		snprintf(how, sizeof(how), "pinned and scaled to 0 replicas (restored on release)");
	else if (scale)
		snprintf(how, sizeof(how), "pinned (a %.40s cannot be scaled to zero)", w->kind);
	else
		snprintf(how, sizeof(how), "pinned");
	if (why)
		snprintf(msg, sizeof(msg), "%s %s/%s: %s; %s, nodes tainted %s=%s:NoSchedule",
		         w->kind, w->ns, w->name, why, how, FB_QUARANTINE_TAINT_KEY, tv);
	else
		snprintf(msg, sizeof(msg),
		         "%s %s/%s arrived on %s within %s before each failed (%d failed nodes, %d "
		         "healthy; threshold %d); %s, nodes tainted %s=%s:NoSchedule",
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
	w->observed = false; /* the object is on its way, with our finalizer */
	w->held_since_ms = now_ms;
	w->recall_arrival_ms = spec->arrival_window_ms;
	w->reported_gated = w->reported_escaped = 0; /* as created */
	c->gates_dirty = true;
	/* its name from now on, not once the informer shows the object: the webhook's answer
	 * and the Events about gated pods name it; scaled only once the Quarantine that
	 * records it (and releases it) is on its way */
	if (replace_str(&w->quarantine, qname) && scalable)
		start_scale(c, w, SCALE_WANTED);
}

static void release(fb_core *c, core_workload *w, int64_t now_ms);

/* A quarantine this core learns of from its object (restart, follower, released while away). */
static void quarantine_adopt(fb_core *c, core_workload *w, const fb_quarantine_obs *q,
                             int64_t now_ms)
{
	w->quarantined = true;
	w->announced = true; /* it exists: do not create it again */
	w->declared_ms = now_ms;
	w->held_since_ms = q->created_ms > 0 ? q->created_ms : now_ms;
	/* the budget that judged it is not on the object: the defaults' window */
	w->recall_arrival_ms = c->cfg.defaults.poison.arrival_window_ms;
	w->reported_gated = w->reported_escaped = -1; /* unknown: written once */
	c->workloads_dirty = true;
	c->gates_dirty = true;
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
	if (!w->observed || w->finalizer_index != q->finalizer_index || w->deleting != q->deleting)
		w->finalizer_sent = false; /* what was sent is answered, or to be sent again */
	w->observed = true;
	w->deleting = q->deleting;
	w->finalizer_index = q->finalizer_index;
	w->nfinalizers = q->nfinalizers;
	c->gates_dirty = true;
	if (q->released || q->deleting) {
		/* released before this core saw it in force (no leader at the time, or a
		 * restart in between): carry the release out, taints and scaling included */
		if (!w->quarantined && !w->released_ms && !q->phase_released)
			quarantine_adopt(c, w, q, now_ms);
		if (w->quarantined && !q->deleting) /* the object stays: its status says Released */
			set_release_pending(c, w, true);
		release(c, w, now_ms);
		return 0;
	}
	if (!w->quarantined)
		quarantine_adopt(c, w, q, now_ms);
	else if (w->scale == SCALE_WANTED && q->action == FB_POISON_SCALE_TO_ZERO &&
	         q->scaled_from >= 0)
		set_scale(c, w, SCALE_DONE); /* the leader did it (this core follows) */
	return 0;
}

/*
 * The verdict on w is lifted. What it leaves to undo is found by the tick:
 * nodes tainted for a workload no longer quarantined, gated pods of one that
 * is not held, a scale to restore.
 */
static void release(fb_core *c, core_workload *w, int64_t now_ms)
{
	if (!w->quarantined)
		return;
	c->gates_dirty = true;
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

/* The object is gone (its finalizer removed, or it had none). */
void fb_core_quarantine_delete(fb_core *c, const fb_workload_ref *workload, int64_t now_ms)
{
	core_workload *w = workload_find(c, workload);
	if (!w)
		return;
	w->observed = false;
	w->deleting = false;
	w->finalizer_index = -1;
	w->finalizer_sent = false;
	set_release_pending(c, w, false); /* no object left to say Released */
	release(c, w, now_ms);
}

bool fb_core_gate(const fb_core *c, const fb_workload_ref *ref, char quarantine[FB_NAME_MAX])
{
	char id[FB_WORKLOAD_ID_MAX];
	/* in dry run the gate pass never runs: a gate put on could never come off */
	if (c->cfg.dry_run)
		return false;
	const core_workload *w = kc_map_get(&c->workloads, fb_workload_id(ref, id));
	/* only once its Quarantine is observed: a gate needs an object that can release it
	 * (a create that failed would leave pods gated with nothing to delete; a pod made in
	 * the moment before is an escape, deleted and gated the next time) */
	/* only once its Quarantine is observed: a gate needs an object that can release it
	 * (a create that failed, the CRD missing, would leave pods gated with nothing to
	 * delete); a pod made in the moment before is an escape, deleted and gated next time */
	if (!w || !workload_held(w) || w->deleting || !w->observed)
		return false;
	copy_str(quarantine, FB_NAME_MAX, w->quarantine ? w->quarantine : "");
	return true;
}

void quarantine_add_node(fb_core *c, core_workload *w, const char *node)
{
	for (size_t i = 0; i < w->nnew_nodes; i++)
		if (strcmp(w->new_nodes[i], node) == 0)
			return;
	char *copy = kc_strdup(node);
	if (!copy || KC_ARRAY_RESERVE(w->new_nodes, w->newcap, w->nnew_nodes + 1) != 0) {
		kc_free(copy); /* out of memory: the status misses a node the taint still marks */
		return;
	}
	w->new_nodes[w->nnew_nodes++] = copy;
	c->gates_dirty = true;
}

/* Is any known node still carrying w's taint? */
static bool taints_left(fb_core *c, const core_workload *w)
{
	if (!c->tainted_nodes)
		return false;
	char tv[64];
	workload_taint_value(w, tv);
	const char *k;
	void *v;
	for (size_t it = 0; kc_map_next(&c->nodes, &it, &k, &v);) {
		const core_node *n = v;
		if (n->known && n->quarantine_taint && strcmp(n->quarantine_taint, tv) == 0)
			return true;
	}
	return false;
}

/*
 * Everything the quarantine of w did is undone, as observed: its scale
 * restored, no pod of it gated, no node tainted for it. Only then does its
 * status say Released, or its finalizer go.
 */
static bool release_done(fb_core *c, const core_workload *w)
{
	if (w->quarantined || w->scale != SCALE_NONE)
		return false;
	for (size_t i = 0; i < w->npods; i++)
		if (w->pods[i]->gated)
			return false;
	return !taints_left(c, w);
}

/*
 * Nodes still carrying the taint of a workload that is not quarantined any
 * more; then the Released status of those whose release is carried out. A
 * taint counts until a node update shows it gone (an update that failed
 * would otherwise be forgotten, and after a restart the taint of a released
 * quarantine is no one's to remove); the removal is sent again meanwhile.
 */
int64_t quarantine_release_pass(fb_core *c, int64_t now_ms, fb_actions *out)
{
	const char *k;
	void *v;
	int64_t next = INT64_MAX;
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
		if (n->untaint_sent_ms && now_ms - n->untaint_sent_ms < UNTAINT_RETRY_MS) {
			min_time(&next, n->untaint_sent_ms + UNTAINT_RETRY_MS);
			continue;
		}
		taint_action(out, n, released, false);
		if (!n->untaint_sent_ms)
			event(out, false, FB_OBJ_NODE, NULL, n->name, n->uid,
			      FB_REASON_QUARANTINE_RELEASED,
			      "Quarantine of %s %s/%s released; taint %s removed", released->kind,
			      released->ns, released->name, FB_QUARANTINE_TAINT_KEY);
		n->untaint_sent_ms = now_ms;
		min_time(&next, now_ms + UNTAINT_RETRY_MS);
	}
	for (size_t it = 0; c->releases_pending && kc_map_next(&c->workloads, &it, &k, &v);) {
		core_workload *w = v;
		if (!w->release_pending || !w->quarantine)
			continue;
		/* The status says Released only once everything is undone (replicas back,
		 * gates and taints gone); until then a restart or a new leader, reading
		 * spec.release without Released, carries the release out again. */
		if (!release_done(c, w))
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
	return next;
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
	c->gates_dirty = true; /* a finalizer may wait for the restore */
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

/* A new leader sends again every scale, finalizer change and untaint whose result it never saw. */
void quarantine_rejudge(fb_core *c)
{
	const char *k;
	void *v;
	for (size_t it = 0; kc_map_next(&c->nodes, &it, &k, &v);)
		((core_node *)v)->untaint_sent_ms = 0;
	for (size_t it = 0; kc_map_next(&c->workloads, &it, &k, &v);) {
		core_workload *w = v;
		w->finalizer_sent = false; /* its answer may never have come */
		if (w->scale == SCALE_SENT)
			set_scale(c, w, SCALE_WANTED);
		else if (w->scale == SCALE_RESTORE_SENT)
			set_scale(c, w, SCALE_RESTORE);
	}
}

/* ---- the gate ----------------------------------------------------------------------------------- */

/*
 * A pod of held workload w that the gate should have held and did not: one
 * the webhook is called for (not exempt by label or namespace), made after
 * the quarantine began (the webhook did not answer, or answered before
 * it knew), not on a failed node (those are pinned), still running or about
 * to run. Creation times have whole seconds, so a pod made in the second the
 * quarantine began is given the benefit of the doubt.
 */
/* A pod the gate would hold were it made now, still running or about to: one an escape or
 * a recall may delete. */
static bool gate_would_hold(const core_pod *p)
{
	return !p->gated && !p->gate_exempt && !p->daemonset && !p->mirror && !p->terminating &&
	       !p->terminal;
}

static bool escaped_pod(const core_workload *w, const core_pod *p)
{
	return gate_would_hold(p) && p->created_ms > w->held_since_ms &&
	       !(p->node && p->node->failed);
}

/*
 * A pod of held workload w that followed it off a node it failed before the
 * verdict came: the replacement of a pod firebreak evicted from a failed node
 * where w was a suspect (core_pod.followed), made before the quarantine began
 * (after, it is an escape) and since any release, still running on a healthy
 * node, and no longer ago than the arrival window. The verdict says such a
 * pod kills its node next. While the evidence was still coming in, the pods
 * on w's first failed nodes reached their tolerations and were evicted, and
 * their replacements run elsewhere (firebreak-sim poison-many-replicas: two
 * nodes lost beyond the 20 replicas in 3 seeds of 100, both to replacements
 * made minutes before the verdict). It is deleted as an escape is, so that
 * its replacement waits behind the gate. Only replacements: the pods that
 * were in place before w's failures stay, as with Pin, and so do w's other
 * new pods (a rollout, a scale-up). A false quarantine thus costs the
 * workload no more pods than it had on the failed nodes.
 */
static bool recalled_pod(const core_workload *w, const core_pod *p, int64_t now_ms)
{
	return p->followed && gate_would_hold(p) && p->node && !p->node->failed &&
	       p->created_ms <= w->held_since_ms && p->created_ms > w->released_ms &&
	       now_ms - p->arrived_ms <= w->recall_arrival_ms;
}

/*
 * An action on pod p within the gate pass's bound (budget, taken from): NULL
 * when the bound is reached (the rest next tick) or on ENOMEM.
 */
static fb_action *pod_action(fb_actions *out, fb_action_kind kind, const core_pod *p,
                             int64_t now_ms, int *budget, int64_t *next)
{
	if (*budget <= 0) {
		min_time(next, now_ms);
		return NULL;
	}
	fb_action *a = push_action(out, kind);
	if (!a)
		return NULL;
	(*budget)--;
	a->obj = FB_OBJ_POD;
	copy_str(a->ns, sizeof(a->ns), p->ns);
	copy_str(a->name, sizeof(a->name), p->name);
	copy_str(a->uid, sizeof(a->uid), p->uid);
	return a;
}

/*
 * An escaped pod is deleted, so that its replacement goes through the
 * webhook and waits behind the gate: a pod of a poison running on a healthy
 * node is what the quarantine exists to prevent. While the webhook stays
 * away the replacements escape too; deletions then go in rounds: every
 * escaped pod of the workload at once, the rounds spaced by a backoff per
 * workload (reset once a new pod of it is gated again). True if p was deleted.
 */
static bool delete_escaped(fb_core *c, core_workload *w, core_pod *p, bool round,
                           fb_reason why, int64_t now_ms, int *budget, int64_t *next,
                           fb_actions *out)
{
	if (p->state == POD_INFLIGHT || p->state == POD_DONE ||
	    (p->state == POD_RETRY && p->next_try_ms > now_ms)) {
		if (p->state == POD_RETRY)
			min_time(next, p->next_try_ms);
		return false;
	}
	if (!round) {
		min_time(next, w->escape_next_ms);
		return false;
	}
	fb_action *a = pod_action(out, FB_ACT_DELETE, p, now_ms, budget, next);
	if (!a)
		return false;
	copy_str(a->node, sizeof(a->node), p->node ? p->node->name : "");
	a->reason = why; /* why it is deleted (no Event of its own) */
	p->state = POD_INFLIGHT;
	if (why == FB_REASON_RECALLED)
		c->stats.recalls_deleted++;
	else
		c->stats.escapes_deleted++;
	return true;
}

/* A round of escape deletions went out: the next waits, 10 s doubling to 5 min. */
static void escape_backoff(core_workload *w, int64_t now_ms, int64_t *next)
{
	w->escape_backoff_ms = w->escape_backoff_ms ? w->escape_backoff_ms * 2
	                                            : ESCAPE_BACKOFF_INITIAL_MS;
	if (w->escape_backoff_ms > ESCAPE_BACKOFF_MAX_MS)
		w->escape_backoff_ms = ESCAPE_BACKOFF_MAX_MS;
	w->escape_next_ms = now_ms + w->escape_backoff_ms;
	min_time(next, w->escape_next_ms);
}

/*
 * A pod of w gated after the last escape was deleted: the webhook answers
 * again, and the backoff is over. Looked for before any escape of w is, so
 * that an escape seen earlier than that pod goes at once too.
 */
static void escape_backoff_reset(core_workload *w)
{
	int64_t last = w->escape_next_ms - w->escape_backoff_ms;
	for (size_t i = 0; i < w->npods; i++) {
		if (w->pods[i]->gated && w->pods[i]->created_ms >= last) {
			w->escape_backoff_ms = 0;
			w->escape_next_ms = 0;
			return;
		}
	}
}

/* Our gate leaves pod p of w, whose quarantine is lifted. */
static void ungate(fb_core *c, core_pod *p, int64_t now_ms, int *budget, int64_t *next,
                   fb_actions *out)
{
	if (p->ungate_sent_ms && now_ms - p->ungate_sent_ms < UNGATE_RETRY_MS) {
		min_time(next, p->ungate_sent_ms + UNGATE_RETRY_MS);
		return;
	}
	if (!pod_action(out, FB_ACT_UNGATE, p, now_ms, budget, next))
		return;
	p->ungate_sent_ms = now_ms;
	c->stats.ungates_requested++;
	min_time(next, now_ms + UNGATE_RETRY_MS);
	if (p->gate_reported) {
		p->gate_reported = false;
		event(out, false, FB_OBJ_POD, p->ns, p->name, p->uid, FB_REASON_UNGATED,
		      "Scheduling gate %s removed: the quarantine of %s %s/%s is lifted",
		      FB_QUARANTINE_GATE, p->wl->kind, p->wl->ns, p->wl->name);
	}
}

/* The Quarantine's status: nodes its verdict now explains, gated and escaped pods. */
static void report_status(fb_core *c, core_workload *w, int64_t now_ms, fb_actions *out)
{
	if (w->gated == w->reported_gated && w->escaped == w->reported_escaped && !w->nnew_nodes)
		return;
	fb_quarantine_record *rec =
		quarantine_record(c, w, (const char **)w->new_nodes, (int)w->nnew_nodes, "",
		                  FB_POISON_PIN, now_ms, w->quarantine);
	fb_action *a = rec ? push_action(out, FB_ACT_QUARANTINE_STATUS) : NULL;
	if (!a) {
		fb_quarantine_record_free(rec);
		return;
	}
	rec->gated_pods = w->gated;
	rec->escaped_pods = w->escaped;
	a->obj = FB_OBJ_QUARANTINE;
	copy_str(a->ns, sizeof(a->ns), w->ns);
	copy_str(a->name, sizeof(a->name), w->quarantine);
	a->verdict = rec;
	w->reported_gated = w->gated;
	w->reported_escaped = w->escaped;
	for (size_t i = 0; i < w->nnew_nodes; i++)
		kc_free(w->new_nodes[i]);
	w->nnew_nodes = 0;
}

/* Our finalizer: added to an object made without it, removed once the release is done. */
static void finalizer_work(fb_core *c, core_workload *w, int64_t now_ms, int64_t *next,
                           fb_actions *out)
{
	if (!w->observed || !w->quarantine)
		return;
	/* sent and not yet answered by an observation: again after 10 s (the patch may have
	 * failed, and a failed patch changes nothing the informer would show) */
	if (w->finalizer_sent && now_ms - w->finalizer_sent_ms < FINALIZER_RETRY_MS) {
		min_time(next, w->finalizer_sent_ms + FINALIZER_RETRY_MS);
		return;
	}
	fb_action_kind kind;
	if (w->deleting && w->finalizer_index >= 0 && release_done(c, w))
		kind = FB_ACT_QUARANTINE_FINALIZE;
	else if (workload_held(w) && !w->deleting && w->finalizer_index < 0)
		kind = FB_ACT_QUARANTINE_HOLD;
	else
		return;
	fb_action *a = push_action(out, kind);
	if (!a)
		return;
	a->obj = FB_OBJ_QUARANTINE;
	copy_str(a->ns, sizeof(a->ns), w->ns);
	copy_str(a->name, sizeof(a->name), w->quarantine);
	a->index = kind == FB_ACT_QUARANTINE_FINALIZE ? w->finalizer_index : w->nfinalizers;
	w->finalizer_sent = true;
	w->finalizer_sent_ms = now_ms;
	min_time(next, now_ms + FINALIZER_RETRY_MS);
}

/*
 * The quarantine holds against new pods: the webhook gates them at
 * creation (fb_core_gate); this pass tells them and their workload why,
 * counts them in the Quarantine's status, finds and deletes the pods that
 * escaped the gate, removes the gate from the pods of released workloads,
 * and moves the finalizer. Runs when an observation touched a gated pod or
 * a quarantined workload, or a retry is due.
 */
int64_t quarantine_gate_pass(fb_core *c, int64_t now_ms, fb_actions *out)
{
	if (!c->gates_dirty && now_ms < c->gate_due_ms)
		return c->gate_due_ms;
	c->gates_dirty = false;
	int64_t next = INT64_MAX;
	int budget = c->cfg.max_pod_actions_per_tick;
	size_t gated_total = 0, escaped_total = 0;
	const char *k;
	void *v;
	for (size_t it = 0; kc_map_next(&c->workloads, &it, &k, &v);) {
		core_workload *w = v;
		bool held = workload_held(w) && !w->deleting;
		int gated = 0, escaped = 0, recalled = 0;
		bool newly_gated = false, escape_seen = false, recall_seen = false, deleted = false;
		if (held && w->escape_backoff_ms)
			escape_backoff_reset(w);
		/* a round deletes every escaped pod there is (a scale-up makes several at once);
		 * the backoff spaces the rounds */
		bool round = w->escape_next_ms <= now_ms;
		for (size_t i = 0; i < w->npods; i++) {
			core_pod *p = w->pods[i];
			if (p->gated) {
				gated++;
				if (!held) {
					/* not before every Quarantine is known: its own may be one */
					if (!p->terminating && !p->terminal && c->quarantines_synced)
						ungate(c, p, now_ms, &budget, &next, out);
					continue;
				}
				if (!p->gate_reported) {
					p->gate_reported = newly_gated = true;
					event(out, false, FB_OBJ_POD, p->ns, p->name, p->uid, FB_REASON_GATED,
					      "Held by scheduling gate %s: %s %s/%s is quarantined "
					      "(Quarantine %s); it schedules when the quarantine is released",
					      FB_QUARANTINE_GATE, w->kind, w->ns, w->name, w->quarantine);
				}
				continue;
			}
			p->ungate_sent_ms = 0;
			if (!held)
				continue;
			if (!escaped_pod(w, p)) {
				if (!recalled_pod(w, p, now_ms))
					continue;
				recalled++;
				if (!p->recall_reported) {
					p->recall_reported = recall_seen = true;
					event(out, false, FB_OBJ_POD, p->ns, p->name, p->uid,
					      FB_REASON_RECALLED,
					      "Replaces a pod firebreak moved off a node that failed shortly "
					      "after %s %s/%s arrived there, before the quarantine (Quarantine "
					      "%s); deleting it from node %s so that its replacement is gated",
					      w->kind, w->ns, w->name, w->quarantine, p->node->name);
				}
				deleted |= delete_escaped(c, w, p, round, FB_REASON_RECALLED, now_ms,
				                          &budget, &next, out);
				continue;
			}
			escaped++;
			if (!p->escape_reported) {
				p->escape_reported = escape_seen = true;
				event(out, false, FB_OBJ_POD, p->ns, p->name, p->uid, FB_REASON_ESCAPED,
				      "Created without scheduling gate %s while %s %s/%s is quarantined "
				      "(Quarantine %s; the admission webhook did not answer); deleting it so "
				      "that its replacement is gated", FB_QUARANTINE_GATE, w->kind, w->ns,
				      w->name, w->quarantine);
			}
			deleted |= delete_escaped(c, w, p, round, FB_REASON_ESCAPED, now_ms, &budget,
			                          &next, out);
		}
		if (deleted)
			escape_backoff(w, now_ms, &next);
		if (newly_gated)
			workload_event(out, false, w, FB_REASON_GATED,
			               "%d pod(s) of %s %s/%s now held Pending by scheduling gate %s "
			               "(Quarantine %s)", gated, w->kind, w->ns, w->name,
			               FB_QUARANTINE_GATE, w->quarantine);
		if (recall_seen)
			workload_event(out, false, w, FB_REASON_RECALLED,
			               "%d pod(s) of %s %s/%s replace pods firebreak moved off nodes "
			               "that failed shortly after it arrived, before the quarantine "
			               "(Quarantine %s): deleting them so that their replacements are "
			               "gated", recalled, w->kind, w->ns, w->name, w->quarantine);
		if (escape_seen)
			workload_event(out, false, w, FB_REASON_ESCAPED,
			               "%d pod(s) of %s %s/%s were created without scheduling gate %s "
			               "while quarantined (Quarantine %s): the admission webhook did not "
			               "answer; deleting them", escaped, w->kind, w->ns, w->name,
			               FB_QUARANTINE_GATE, w->quarantine);
		w->gated = gated;
		w->escaped = escaped;
		gated_total += (size_t)gated;
		escaped_total += (size_t)escaped;
		if (held && w->announced && w->observed && w->quarantine)
			report_status(c, w, now_ms, out);
		finalizer_work(c, w, now_ms, &next, out);
	}
	c->stats.pods_gated = gated_total;
	c->stats.pods_escaped = escaped_total;
	c->gate_due_ms = next;
	return next;
}
