/*
 * informers.c - the informer adapters: each watched resource's objects,
 * projected (project.c), become observations of the core.
 *
 * One table says, per resource, how to project, apply and delete an object and
 * what to log; three generic callbacks do the rest. Every callback runs on the
 * informer's thread: it changes the core under the controller's lock, then
 * wakes the run loop.
 *
 * Order in the callbacks (the same for every resource): on add and update the
 * log line comes first, then objects the core cannot use are skipped
 * (usable()); on delete the skip comes first, then the log line.
 */
#include <stdio.h>
#include <string.h>

#include "controller_int.h"
#include "log.h"
#include "project.h"

struct fb_informer_def {
	const kc_resource *res;
	const char *name;                              /* "nodes": logs and metric labels */
	const char *field_selector;                    /* NULL: every object */
	bool optional;                                 /* not waited for; its failures said less often */
	void *(*project)(const cJSON *obj, void *ud);
	void (*free_obj)(void *obj, void *ud);
	bool (*usable)(const void *obj);               /* NULL: all are */
	/* under the lock; -1 only on ENOMEM, logged with oom_msg and describe()'s fields */
	int (*set)(fb_core *core, const void *obj, int64_t now_ms);
	void (*remove)(fb_core *core, const void *obj, int64_t now_ms);
	const char *oom_msg;
	void (*describe)(const void *obj, char *buf, size_t cap);
	/* the log lines of each event; NULL: none */
	void (*log_added)(const void *obj);
	void (*log_updated)(const void *old_obj, const void *new_obj);
	void (*log_deleted)(const void *obj);
};

/* ---- Nodes ---- */

static const char *cond_str(fb_cond c)
{
	return c == FB_COND_TRUE ? "True" : c == FB_COND_FALSE ? "False" :
	       c == FB_COND_UNKNOWN ? "Unknown" : "absent";
}

static int node_set(fb_core *core, const void *obj, int64_t now_ms)
{
	fb_node_obs o;
	fb_node_proj_obs(obj, &o);
	return fb_core_node_set(core, &o, now_ms);
}

static void node_remove(fb_core *core, const void *obj, int64_t now_ms)
{
	const fb_node_proj *n = obj;
	fb_core_node_delete(core, n->name);
}

static void node_describe(const void *obj, char *buf, size_t cap)
{
	const fb_node_proj *n = obj;
	snprintf(buf, cap, "node=%s", n->name);
}

static void node_log_added(const void *obj)
{
	const fb_node_proj *n = obj;
	fb_log(FB_DEBUG, "node added", "node=%s ready=%s", n->name, cond_str(n->ready));
}

static void node_log_updated(const void *old_obj, const void *new_obj)
{
	const fb_node_proj *o = old_obj, *n = new_obj;
	if (o->ready != n->ready)
		fb_log(n->ready == FB_COND_TRUE ? FB_INFO : FB_WARN, "node readiness changed",
		       "node=%s from=%s to=%s", n->name, cond_str(o->ready), cond_str(n->ready));
}

static void node_log_deleted(const void *obj)
{
	const fb_node_proj *n = obj;
	fb_log(FB_INFO, "node deleted", "node=%s", n->name);
}

/* ---- Pods ---- */

/* The informer's ud is the fb_watched; the projection's options are the controller's. */
static void *pod_project(const cJSON *obj, void *ud)
{
	const fb_watched *w = ud;
	return fb_project_pod(obj, &w->c->pod_opts);
}

static bool pod_usable(const void *obj)
{
	const fb_pod_proj *p = obj;
	return p->uid != NULL;
}

static int pod_set(fb_core *core, const void *obj, int64_t now_ms)
{
	fb_pod_obs o;
	fb_workload_ref workload;
	fb_pod_proj_obs(obj, &o, &workload);
	fb_core_observed_at(core, now_ms);
	return fb_core_pod_set(core, &o);
}

static void pod_remove(fb_core *core, const void *obj, int64_t now_ms)
{
	const fb_pod_proj *p = obj;
	fb_core_observed_at(core, now_ms);
	fb_core_pod_delete(core, p->uid);
}

static void pod_describe(const void *obj, char *buf, size_t cap)
{
	const fb_pod_proj *p = obj;
	snprintf(buf, cap, "pod=%s/%s", p->ns, p->name);
}

/* ---- EvictionBudgets ---- */

static int budget_set(fb_core *core, const void *obj, int64_t now_ms)
{
	const fb_budget_proj *b = obj;
	return fb_core_budget_set(core, b->name, b->generation, b->spec, b->admissions,
	                          b->nadmissions, now_ms);
}

static void budget_remove(fb_core *core, const void *obj, int64_t now_ms)
{
	const fb_budget_proj *b = obj;
	fb_core_budget_delete(core, b->name);
}

static void budget_describe(const void *obj, char *buf, size_t cap)
{
	const fb_budget_proj *b = obj;
	snprintf(buf, cap, "budget=%s", b->name);
}

static void budget_log_added(const void *obj)
{
	const fb_budget_proj *b = obj;
	fb_log(FB_INFO, "EvictionBudget observed", "budget=%s generation=%lld", b->name,
	       (long long)b->generation);
}

static void budget_log_deleted(const void *obj)
{
	const fb_budget_proj *b = obj;
	fb_log(FB_INFO, "EvictionBudget deleted", "budget=%s", b->name);
}

/* ---- Quarantines ---- */

static bool quarantine_usable(const void *obj)
{
	fb_quarantine_obs o;
	return fb_quarantine_proj_obs(obj, &o) == 0; /* it names a workload */
}

static int quarantine_set(fb_core *core, const void *obj, int64_t now_ms)
{
	fb_quarantine_obs o;
	if (fb_quarantine_proj_obs(obj, &o) != 0)
		return 0;
	return fb_core_quarantine_set(core, &o, now_ms);
}

static void quarantine_remove(fb_core *core, const void *obj, int64_t now_ms)
{
	fb_quarantine_obs o;
	if (fb_quarantine_proj_obs(obj, &o) == 0)
		fb_core_quarantine_delete(core, &o.workload, now_ms);
}

static void quarantine_describe(const void *obj, char *buf, size_t cap)
{
	const fb_quarantine_proj *q = obj;
	snprintf(buf, cap, "quarantine=%s/%s", q->ns, q->name);
}

static void quarantine_log_added(const void *obj)
{
	const fb_quarantine_proj *q = obj;
	fb_log(FB_INFO, "Quarantine observed", "quarantine=%s/%s workload=%s/%s action=%s release=%s",
	       q->ns, q->name, q->kind ? q->kind : "?", q->workload ? q->workload : "?",
	       q->action == FB_POISON_SCALE_TO_ZERO ? "ScaleToZero" : "Pin",
	       q->release ? "true" : "false");
}

static void quarantine_log_deleted(const void *obj)
{
	const fb_quarantine_proj *q = obj;
	fb_log(FB_INFO, "Quarantine deleted: releasing", "quarantine=%s/%s workload=%s/%s", q->ns,
	       q->name, q->kind, q->workload);
}

/* ---- Events: signs of memory pressure on nodes ---- */

static bool event_usable(const void *obj)
{
	const fb_event_proj *e = obj;
	return e->node != NULL;
}

static int event_set(fb_core *core, const void *obj, int64_t now_ms)
{
	const fb_event_proj *e = obj;
	fb_core_node_memory_signal(core, e->node, e->at_ms);
	return 0;
}

static void event_remove(fb_core *core, const void *obj, int64_t now_ms)
{
	/* an Event expiring (its TTL) takes nothing back: the node's sign stays */
}

static void event_describe(const void *obj, char *buf, size_t cap)
{
	const fb_event_proj *e = obj;
	snprintf(buf, cap, "node=%s reason=%s", e->node, e->reason);
}

static void event_log_added(const void *obj)
{
	const fb_event_proj *e = obj;
	if (e->node)
		fb_log(FB_INFO, "node short of memory", "node=%s reason=%s at_ms=%lld", e->node,
		       e->reason, (long long)e->at_ms);
}

/*
 * The watched resources. scripts/check-chart.sh reads the .res entries of this
 * table to know what is listed and watched: keep each as .res = &(its resource).
 */
static const fb_informer_def informer_defs[FB_NUM_INFORMERS] = {
	[FB_INF_NODES] = {
		.res = &KC_RES_NODES, .name = "nodes",
		.project = fb_project_node, .free_obj = fb_node_proj_free,
		.set = node_set, .remove = node_remove,
		.oom_msg = "out of memory recording a node", .describe = node_describe,
		.log_added = node_log_added, .log_updated = node_log_updated,
		.log_deleted = node_log_deleted,
	},
	[FB_INF_PODS] = {
		.res = &KC_RES_PODS, .name = "pods",
		.project = pod_project, .free_obj = fb_pod_proj_free,
		.usable = pod_usable, .set = pod_set, .remove = pod_remove,
		.oom_msg = "out of memory recording a pod", .describe = pod_describe,
	},
	[FB_INF_BUDGETS] = {
		.res = &FB_RES_EVICTIONBUDGETS, .name = "evictionbudgets",
		.project = fb_project_budget, .free_obj = fb_budget_proj_free,
		.set = budget_set, .remove = budget_remove,
		.oom_msg = "out of memory recording an EvictionBudget", .describe = budget_describe,
		.log_added = budget_log_added, .log_deleted = budget_log_deleted,
	},
	[FB_INF_QUARANTINES] = {
		.res = &FB_RES_QUARANTINES, .name = "quarantines",
		.project = fb_project_quarantine, .free_obj = fb_quarantine_proj_free,
		.usable = quarantine_usable, .set = quarantine_set, .remove = quarantine_remove,
		.oom_msg = "out of memory recording a Quarantine", .describe = quarantine_describe,
		.log_added = quarantine_log_added, .log_deleted = quarantine_log_deleted,
	},
	/* the Warning Events kubelet (and node-problem-detector) record on Nodes: the API
	 * server filters them (events.k8s.io/v1 selects on regarding.kind and type), the
	 * projection keeps the few that say memory ran short (project.h) */
	[FB_INF_EVENTS] = {
		.res = &KC_RES_EVENTS, .name = "events",
		.field_selector = "regarding.kind=Node,type=Warning", .optional = true,
		.project = fb_project_event, .free_obj = fb_event_proj_free,
		.usable = event_usable, .set = event_set, .remove = event_remove,
		.oom_msg = "out of memory recording an Event", .describe = event_describe,
		.log_added = event_log_added,
	},
};

const char *fb__informer_name(fb_informer_id id)
{
	return informer_defs[id].name;
}

/* ---- the generic callbacks ---- */

static void apply(fb_watched *w, const void *obj)
{
	const fb_informer_def *def = w->def;
	fb_controller *c = w->c;
	if (def->usable && !def->usable(obj))
		return;
	pthread_mutex_lock(&c->lock);
	if (def->set(c->core, obj, fb__wall_ms()) != 0) {
		char fields[600];
		def->describe(obj, fields, sizeof(fields));
		fb_log(FB_ERROR, def->oom_msg, "%s", fields);
	}
	fb__poke(c);
	pthread_mutex_unlock(&c->lock);
}

static void on_added(const char *key, const void *obj, void *ud)
{
	fb_watched *w = ud;
	if (w->def->log_added)
		w->def->log_added(obj);
	apply(w, obj);
}

static void on_updated(const char *key, const void *old_obj, const void *new_obj, void *ud)
{
	fb_watched *w = ud;
	if (w->def->log_updated)
		w->def->log_updated(old_obj, new_obj);
	apply(w, new_obj);
}

static void on_deleted(const char *key, const void *obj, void *ud)
{
	fb_watched *w = ud;
	const fb_informer_def *def = w->def;
	fb_controller *c = w->c;
	if (def->usable && !def->usable(obj))
		return;
	if (def->log_deleted)
		def->log_deleted(obj);
	pthread_mutex_lock(&c->lock);
	def->remove(c->core, obj, fb__wall_ms());
	fb__poke(c);
	pthread_mutex_unlock(&c->lock);
}

/* ---- failing to list and watch ---- */

/* The same failure is logged again after this long (the first, and a new kind, at once):
 * a CRD left uninstalled on purpose is said less often than nodes or pods that cannot sync. */
#define FAILURE_RELOG_MS (30 * 1000)
#define FAILURE_RELOG_OPTIONAL_MS (5 * 60 * 1000)

static bool ours(const kc_resource *res)
{
	return res->group && strcmp(res->group, "firebreak.dev") == 0;
}

const char *fb__sync_failure_reason(kc_err err, const kc_resource *res)
{
	switch (err) {
	case KC_ERR_TRANSPORT:
	case KC_ERR_TIMEOUT:
	case KC_ERR_STALLED:
		return "the API server is unreachable";
	case KC_ERR_TLS:
		return "the API server's certificate does not verify against the CA "
		       "(the kubeconfig's certificate-authority, or the service account's ca.crt)";
	case KC_ERR_UNAUTHORIZED:
		return "the API server refused the credentials (401: a token expired or wrong, a "
		       "client certificate it does not trust)";
	case KC_ERR_FORBIDDEN:
		return "RBAC forbids it (403): firebreak's ClusterRole needs list and watch on it "
		       "(docs/operations.md, RBAC)";
	case KC_ERR_NOT_FOUND:
		return ours(res) ? "its CRD is not installed (404): kubectl apply -f "
		                   "charts/firebreak/crds/"
		                 : "the API server does not serve it (404)";
	case KC_ERR_CONFIG:
	case KC_ERR_EXEC:
		return "the credentials could not be loaded";
	case KC_ERR_TOO_MANY:
		return "the API server is throttling requests (429)";
	case KC_ERR_SERVER:
		return "the API server failed the request (5xx)";
	case KC_ERR_NOMEM:
		return "out of memory";
	default:
		return "the API server answered an error";
	}
}

/*
 * The reflector failed and tries again in retry_in_ms: said at warn at once, and again when
 * the error changes or after FAILURE_RELOG_MS (the repeats in between at debug), so that a
 * firebreak that cannot start or sync says why within seconds rather than waiting silently.
 */
static void on_failed(kc_err err, const kc_error_detail *d, int64_t retry_in_ms, void *ud)
{
	fb_watched *w = ud;
	int64_t now = kc_now_mono_ms();
	int64_t relog = ours(w->def->res) || w->def->optional ? FAILURE_RELOG_OPTIONAL_MS
	                                                      : FAILURE_RELOG_MS;
	/* by reason, not error code (unreachable is three codes); a 410 Gone is the routine end
	 * of a watch that relists, said at debug only */
	bool routine = err == KC_ERR_GONE;
	bool say = !routine && (fb__sync_failure_reason(err, w->def->res) !=
	                                fb__sync_failure_reason(w->logged_err, w->def->res) ||
	                        now - w->logged_mono_ms >= relog);
	if (!say && !fb_log_enabled(FB_DEBUG)) {
		w->unlogged++;
		return;
	}
	char msg[512];
	snprintf(msg, sizeof(msg), "cannot list and watch %s: %s", w->def->name,
	         fb__sync_failure_reason(err, w->def->res));
	fb_log_api_error(say ? FB_WARN : FB_DEBUG, msg, err, d ? d->message : NULL,
	                 "resource=%s retry_in_s=%.1f repeated=%llu", w->def->name,
	                 (double)retry_in_ms / 1000.0, (unsigned long long)w->unlogged);
	if (say) {
		w->logged_err = err;
		w->logged_mono_ms = now;
		w->unlogged = 0;
	} else if (!routine) {
		w->unlogged++;
	}
}

void fb__sync_failures(fb_controller *c, char *buf, size_t cap)
{
	size_t n = 0;
	buf[0] = '\0';
	int64_t now = kc_now_mono_ms();
	for (int i = 0; i < FB_NUM_INFORMERS && n < cap; i++) {
		fb_watched *w = &c->watched[i];
		kc_informer *inf = w->inf;
		if (!inf)
			continue;
		kc_reflector_stats st;
		kc_informer_stats(inf, &st);
		if (!st.failures_in_row)
			continue;
		int64_t wait = st.retry_at_mono_ms > now ? st.retry_at_mono_ms - now : 0;
		int k = snprintf(buf + n, cap - n, "%s%s: %s (%s); %s %.1f s", n ? "\n" : "",
		                 w->def->name, fb__sync_failure_reason(st.last_err, w->def->res),
		                 st.last_err_message, wait ? "next try in" : "trying again, after",
		                 (double)(wait ? wait : now - st.retry_at_mono_ms) / 1000.0);
		if (k < 0)
			break;
		n += (size_t)k;
	}
}

kc_err fb__informers_start(fb_controller *c)
{
	for (int i = 0; i < FB_NUM_INFORMERS; i++) {
		fb_watched *w = &c->watched[i];
		w->c = c;
		w->def = &informer_defs[i];
		kc_informer_options o = { .project = w->def->project, .free_obj = w->def->free_obj,
		                          .on_add = on_added, .on_update = on_updated,
		                          .on_delete = on_deleted, .on_failure = on_failed,
		                          .ud = w };
		o.watch.resource = w->def->res;
		o.watch.field_selector = w->def->field_selector;
		kc_informer *inf = NULL;
		kc_err err = kc_informer_new(c->client, &o, &inf);
		if (err == KC_OK)
			w->inf = inf; /* published whole (an atomic store), then started */
		if (err == KC_OK)
			err = kc_informer_start(inf);
		if (err != KC_OK)
			return err;
	}
	return KC_OK;
}
