/*
 * tables.c - the core's view of the cluster: nodes by name, pods by uid and
 * workloads by identity, linked both ways (a node and a workload list their
 * pods; a pod points at its node and workload). A node referenced by a pod
 * before it is observed, or after it is deleted, stays as a placeholder
 * (known false) until its last pod goes; a workload is forgotten when
 * nothing about it is left to remember.
 *
 * Owns: the three maps, the link fields, and each record's observed fields.
 */
#include <stdio.h>
#include <string.h>

#include "core_int.h"
#include "kc/alloc.h"
#include "kc/array.h"

static void pod_free(core_pod *p)
{
	kc_free(p->ns);
	kc_free(p->name);
	kc_free(p->uid);
	kc_free(p->node_name);
	kc_free(p);
}

static void workload_free(core_workload *w)
{
	kc_free(w->pods);
	for (size_t i = 0; i < w->nnew_nodes; i++)
		kc_free(w->new_nodes[i]);
	kc_free(w->new_nodes);
	kc_free(w->moves);
	surprise_free_workload(w);
	kc_free(w->quarantine);
	kc_free(w->id);
	kc_free(w->ns);
	kc_free(w->kind);
	kc_free(w->name);
	kc_free(w);
}

static void node_free(core_node *n)
{
	kc_free(n->quarantine_taint);
	kc_free(n->name);
	kc_free(n->uid);
	fb_labels_release(&n->labels);
	kc_free(n->pods);
	kc_free(n->sel);
	kc_free(n->past);
	kc_free(n);
}

/* ---- workloads ------------------------------------------------------------------ */

core_workload *workload_get_or_add(fb_core *c, const char *id)
{
	core_workload *w = kc_map_get(&c->workloads, id);
	if (w)
		return w;
	fb_workload_ref ref;
	if (fb_workload_id_parse(id, &ref) != 0)
		return NULL;
	w = kc_calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->finalizer_index = -1;
	w->reported_gated = w->reported_escaped = -1;
	w->id = kc_strdup(id);
	w->kind = kc_strdup(ref.kind);
	w->ns = kc_strdup(ref.ns);
	w->name = kc_strdup(ref.name);
	if (!w->id || !w->kind || !w->ns || !w->name || kc_map_put(&c->workloads, id, w, NULL) != 0) {
		workload_free(w);
		return NULL;
	}
	return w;
}

core_workload *workload_find(fb_core *c, const fb_workload_ref *ref)
{
	char id[FB_WORKLOAD_ID_MAX];
	return kc_map_get(&c->workloads, fb_workload_id(ref, id));
}

/* Forget a workload with nothing left to remember (Jobs come and go). */
void workload_forget_if_idle(fb_core *c, core_workload *w)
{
	if (w->npods == 0 && !w->quarantined && !w->release_pending && !w->released_ms &&
	    !w->dirty && w->bad == 0 && !w->declared_ms && w->scale == SCALE_NONE &&
	    w->nmoves == 0 && w->nnew_nodes == 0 && !w->observed) {
		kc_map_del(&c->workloads, w->id);
		workload_free(w);
	}
}

static void workload_unlink_pod(fb_core *c, core_pod *p)
{
	core_workload *w = p->wl;
	if (!w)
		return;
	p->wl = NULL;
	for (size_t i = 0; i < w->npods; i++) {
		if (w->pods[i] == p) {
			w->pods[i] = w->pods[--w->npods];
			break;
		}
	}
	workload_forget_if_idle(c, w);
}

static int workload_link_pod(fb_core *c, core_pod *p, const char *id)
{
	core_workload *w = workload_get_or_add(c, id);
	if (!w || KC_ARRAY_RESERVE(w->pods, w->podcap, w->npods + 1) != 0)
		return -1;
	w->pods[w->npods++] = p;
	p->wl = w;
	return 0;
}

/* ---- nodes and pods ------------------------------------------------------------ */

static core_node *node_get_or_add(fb_core *c, const char *name)
{
	core_node *n = kc_map_get(&c->nodes, name);
	if (n)
		return n;
	n = kc_calloc(1, sizeof(*n));
	if (!n || !(n->name = kc_strdup(name)) || kc_map_put(&c->nodes, name, n, NULL) != 0) {
		if (n)
			kc_free(n->name);
		kc_free(n);
		return NULL;
	}
	return n;
}

static void node_unlink_pod(core_node *n, core_pod *p)
{
	for (size_t i = 0; i < n->npods; i++) {
		if (n->pods[i] == p) {
			n->pods[i] = n->pods[--n->npods];
			return;
		}
	}
}

static int node_link_pod(core_node *n, core_pod *p)
{
	if (KC_ARRAY_RESERVE(n->pods, n->podcap, n->npods + 1) != 0)
		return -1;
	n->pods[n->npods++] = p;
	return 0;
}

static bool cond_failed(fb_cond c)
{
	return c == FB_COND_FALSE || c == FB_COND_UNKNOWN;
}

/* Whether a change of n (failed, recovered, relabelled) is the managed pass's business: in
 * managed mode, or for a pod on it carrying a record or shortened (managed.c). Self-managed
 * clusters without either pay nothing for it. */
static bool managed_node_changed(fb_core *c, const core_node *n)
{
	bool matters = c->cfg.managed;
	for (size_t i = 0; i < n->npods && !matters; i++)
		matters = n->pods[i]->annotated || n->pods[i]->shortened;
	if (matters)
		c->managed_dirty = true;
	return matters;
}

int fb_core_node_set(fb_core *c, const fb_node_obs *obs, int64_t now_ms)
{
	fb_core_observed_at(c, now_ms);
	core_node *n = node_get_or_add(c, obs->name);
	if (!n)
		return -1;
	fb_labels labels = { 0 };
	if (obs->labels && obs->labels->n) {
		labels.v = kc_calloc(obs->labels->n, sizeof(fb_label));
		if (!labels.v)
			return -1;
		for (size_t i = 0; i < obs->labels->n; i++) {
			labels.v[i].key = kc_strdup(obs->labels->v[i].key);
			labels.v[i].value = kc_strdup(obs->labels->v[i].value);
			labels.n++;
			if (!labels.v[i].key || !labels.v[i].value) {
				fb_labels_release(&labels);
				return -1;
			}
		}
	}
	if (!replace_str(&n->uid, obs->uid)) {
		fb_labels_release(&labels);
		return -1;
	}
	if (!fb_labels_equal(&n->labels, &labels))
		managed_node_changed(c, n); /* a budget in dry run may select it now, or no more */
	fb_labels_release(&n->labels);
	n->labels = labels;
	if (!n->known)
		surprise_invalidate(c); /* a node more in the background */
	n->known = true;
	/* its age: creation, else first seen (a restart makes it younger: a higher rate) */
	if (obs->created_ms > 0)
		n->created_ms = obs->created_ms;
	else if (!n->created_ms)
		n->created_ms = now_ms;
	n->zone_len = fb_zone_key(obs->region, obs->zone, n->zone_key);
	n->exclude = obs->exclude_disruption;
	n->memory_pressure = obs->memory_pressure;
	/* what the agent said last while the node was Ready (the status that shows the
	 * failure keeps it, and one written after the failure is no warning before it) */
	if (!cond_failed(obs->ready)) {
		bool named = obs->attributed_pod_uid && obs->attributed_pod_uid[0] &&
		             strlen(obs->attributed_pod_uid) < sizeof(n->attributed_uid);
		snprintf(n->attributed_uid, sizeof(n->attributed_uid), "%s",
		         named ? obs->attributed_pod_uid : "");
		n->attributed_ms = named ? obs->attributed_ms : 0;
	}
	if (obs->memory_pressure)
		n->memory_pressure_seen = true;
	n->sel_epoch = 0; /* its labels may select other budgets now */
	if (quarantine_node_taint(c, n, obs->quarantine_taint) != 0)
		return -1;
	bool was_failed = cond_failed(n->ready);
	n->ready = obs->ready;
	n->ready_transition_ms = obs->ready_transition_ms;
	if (cond_failed(n->ready) && (!was_failed || !n->failed)) {
		n->failed = true;
		n->failed_since_ms = obs->ready_transition_ms > 0 ? obs->ready_transition_ms : now_ms;
		n->admitted = false;
		n->deferred = FB_ADMIT;
		n->deferred_by[0] = '\0';
		n->failure_recorded = false;
		managed_node_changed(c, n); /* its pods first, if any are to be covered or given back */
	} else if (!cond_failed(n->ready)) {
		if (n->failed) {
			managed_node_changed(c, n); /* shortened pods get their whole times back */
			/* what came before belongs to the failure that ended */
			n->back_ms = obs->ready_transition_ms > 0 ? obs->ready_transition_ms : now_ms;
			n->memory_signal_ms = 0;
		}
		n->failed = false;
		n->memory_pressure_seen = obs->memory_pressure;
	}
	if (obs->failure_annotation)
		verdict_restore_failure(c, n, obs->failure_annotation);
	c->counts_dirty = true;
	return 0;
}

void fb_core_node_memory_signal(fb_core *c, const char *node, int64_t at_ms)
{
	core_node *n = node ? kc_map_get(&c->nodes, node) : NULL;
	if (!n || !n->known || at_ms <= 0 || at_ms < n->back_ms)
		return;
	if (n->failed && n->failure_recorded)
		return; /* too late for its evidence */
	if (at_ms > n->memory_signal_ms)
		n->memory_signal_ms = at_ms;
}

void fb_core_node_delete(fb_core *c, const char *name)
{
	core_node *n = kc_map_get(&c->nodes, name);
	if (!n)
		return;
	c->counts_dirty = true;
	surprise_invalidate(c);
	quarantine_node_taint(c, n, NULL); /* cannot fail: nothing is copied */
	if (n->npods) {
		/* pods still point at it: keep a placeholder until they go */
		n->known = false;
		n->failed = false;
		n->admitted = false;
		return;
	}
	kc_map_del(&c->nodes, name);
	node_free(n);
}

int fb_core_pod_set(fb_core *c, const fb_pod_obs *obs)
{
	core_pod *p = kc_map_get(&c->pods, obs->uid);
	bool added = false;
	if (!p) {
		p = kc_calloc(1, sizeof(*p));
		if (!p || !(p->uid = kc_strdup(obs->uid)) ||
		    kc_map_put(&c->pods, obs->uid, p, NULL) != 0) {
			if (p)
				kc_free(p->uid);
			kc_free(p);
			return -1;
		}
		added = true;
	}
	const char *node = obs->node && obs->node[0] ? obs->node : NULL;
	bool moved = added || (p->node_name == NULL) != (node == NULL) ||
	             (node && strcmp(p->node_name, node) != 0);
	char idbuf[FB_WORKLOAD_ID_MAX];
	const char *wid = fb_workload_ref_empty(obs->workload)
	                          ? NULL
	                          : fb_workload_id(obs->workload, idbuf);
	const char *had = pod_workload_id(p);
	bool relink = !had || !wid || strcmp(had, wid) != 0;
	if (relink)
		workload_unlink_pod(c, p);
	if (!replace_str(&p->ns, obs->ns) || !replace_str(&p->name, obs->name))
		goto nomem;
	if (relink && wid && workload_link_pod(c, p, wid) != 0)
		goto nomem;
	if (moved) {
		if (p->node) {
			surprise_pod_leaves(c, p);
			node_unlink_pod(p->node, p);
			p->node = NULL;
		}
		if (!replace_str(&p->node_name, node))
			goto nomem;
		if (node) {
			core_node *n = node_get_or_add(c, node);
			if (!n || node_link_pod(n, p) != 0)
				goto nomem;
			p->node = n;
		}
		p->state = POD_IDLE;
	}
	p->daemonset = obs->daemonset;
	p->mirror = obs->mirror;
	p->terminating = obs->terminating;
	p->terminal = obs->terminal;
	p->tol_not_ready_s = obs->tol_not_ready_s;
	p->tol_unreachable_s = obs->tol_unreachable_s;
	p->arrived_ms = obs->arrived_ms;
	p->created_ms = obs->created_ms;
	if (obs->memory_evicted_ms)
		fb_core_node_memory_signal(c, p->node_name, obs->memory_evicted_ms);
	if (p->terminating || p->terminal)
		p->state = POD_DONE;
	/* the gate pass looks at the pods of quarantined workloads, and at gated ones */
	if (p->gated != obs->gated || (p->wl && (p->wl->quarantined || p->wl->gated > 0)))
		c->gates_dirty = true;
	p->gated = obs->gated;
	p->gate_exempt = obs->gate_exempt;
	for (size_t i = 0; i < c->cfg.ngate_exempt_ns && !p->gate_exempt; i++)
		p->gate_exempt = strcmp(c->cfg.gate_exempt_ns[i], p->ns) == 0;
	/* what the managed pass looks at (managed.c): pods that Kubernetes would evict, and pods
	 * carrying the record, when the mode is off, in dry run, or when the record comes or goes
	 * or the pod arrives on a node (of a dry-run budget: handed back) */
	bool recorded = p->annotated || obs->annotated || p->shortened || obs->shortened;
	if (c->cfg.managed ? p->k8s_evicts || obs->k8s_evicts ||
	                             (recorded && (moved || c->cfg.dry_run ||
	                                           p->annotated != obs->annotated))
	                   : recorded)
		managed_pod_changed(c, p);
	p->k8s_evicts = obs->k8s_evicts;
	p->annotated = obs->annotated;
	p->shortened = obs->shortened;
	/* in dry run nothing is covered (the webhook leaves pods alone), and the report is
	 * what firebreak would do with every pod covered */
	p->k8s_owned = c->cfg.managed && !c->cfg.dry_run && p->k8s_evicts;
	if (added && p->wl)
		verdict_new_pod(c, p);
	return 0;
nomem:
	fb_core_pod_delete(c, obs->uid);
	return -1;
}

void fb_core_pod_delete(fb_core *c, const char *uid)
{
	core_pod *p = kc_map_del(&c->pods, uid);
	if (!p)
		return;
	if (p->gated || (p->wl && p->wl->quarantined))
		c->gates_dirty = true;
	if (p->annotated || p->shortened || (c->cfg.managed && p->k8s_evicts)) /* counted */
		managed_pod_changed(c, p);
	surprise_pod_leaves(c, p);
	workload_unlink_pod(c, p);
	core_node *n = p->node;
	if (n) {
		node_unlink_pod(n, p);
		if (!n->known && n->npods == 0) {
			kc_map_del(&c->nodes, n->name);
			node_free(n);
		}
	}
	pod_free(p);
}

void tables_free(fb_core *c)
{
	const char *k;
	void *v;
	for (size_t i = 0; kc_map_next(&c->pods, &i, &k, &v);)
		pod_free(v);
	for (size_t i = 0; kc_map_next(&c->nodes, &i, &k, &v);)
		node_free(v);
	for (size_t i = 0; kc_map_next(&c->workloads, &i, &k, &v);)
		workload_free(v);
	kc_map_release(&c->workloads);
	kc_map_release(&c->pods);
	kc_map_release(&c->nodes);
}
