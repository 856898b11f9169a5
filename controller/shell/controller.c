/* controller.c - informers, leader election and API writes around the core. */
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "controller.h"
#include "httpserver.h"
#include "kc/alloc.h"
#include "kc/events.h"
#include "kc/informer.h"
#include "kc/time.h"
#include "log.h"
#include "metrics.h"
#include "project.h"
#include "render.h"
#include "scale.h"

const kc_resource FB_RES_EVICTIONBUDGETS = { "firebreak.dev", "v1alpha1", "evictionbudgets",
	                                     "EvictionBudget", false };
const kc_resource FB_RES_QUARANTINES = { "firebreak.dev", "v1alpha1", "quarantines", "Quarantine",
	                                 true };

#define TAINT_WRITE_TRIES 5

#define FB_CONTROLLER_NAME "firebreak.dev/firebreak"
#define LOOP_MAX_WAIT_MS 250

typedef struct fb_controller {
	const fb_controller_options *opts;
	kc_client *client;
	kc_informer *nodes, *pods, *budgets, *quarantines;
	kc_leader *leader;
	kc_recorder *recorder;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool woken;
	fb_core *core;
	atomic_bool leading;
	atomic_bool synced;
	bool budgets_available;
	bool quarantines_available;
	fb_metrics *metrics;
	fb_http *http;
	atomic_llong loop_mono_ms;     /* the run loop's last turn, for /healthz */
	int64_t pending_since_us;      /* earliest observation not yet decided on (mono) */
} fb_controller;

/* A stuck run loop (no turn for this long) fails /healthz, so the pod restarts. */
#define HEALTH_STALL_MS 30000

void fb_tune_malloc(void)
{
	const char *off = getenv("FB_MALLOC_TUNE");
	if (off && strcmp(off, "0") == 0)
		return; /* for measuring the difference (bench/run.sh) */
	/* Fastbins make malloc_consolidate the top cost of parse-and-free, and
	 * per-thread arenas keep each informer's freed pages. Measured with
	 * bench/run.sh --small (docs/benchmarks.md): -30 % sync CPU, -23 % peak RSS. */
	mallopt(M_MXFAST, 0);
	mallopt(M_ARENA_MAX, 1);
}

void fb_controller_options_defaults(fb_controller_options *o)
{
	memset(o, 0, sizeof(*o));
	o->leader_elect = true;
	o->lease_name = "firebreak";
	fb_core_config_defaults(&o->core);
	o->sync_timeout_ms = 5 * 60 * 1000;
}

static int64_t wall_ms(void)
{
	return kc_now_wall_us() / 1000;
}

static void poke(fb_controller *c)
{
	if (!c->woken)
		c->pending_since_us = kc_now_mono_us();
	c->woken = true;
	pthread_cond_signal(&c->wake);
}

/* ---- informer callbacks: observations into the core ------------------------- */

/* Informer threads change the core under the lock, then wake the run loop. */
static void observing(fb_controller *c)
{
	pthread_mutex_lock(&c->lock);
}

static void observed(fb_controller *c)
{
	poke(c);
	pthread_mutex_unlock(&c->lock);
}

static void node_apply(fb_controller *c, const fb_node_proj *n)
{
	fb_node_obs o;
	fb_node_proj_obs(n, &o);
	observing(c);
	if (fb_core_node_set(c->core, &o, wall_ms()) != 0)
		fb_log(FB_ERROR, "out of memory recording a node", "node=%s", n->name);
	observed(c);
}

static const char *cond_str(fb_cond c)
{
	return c == FB_COND_TRUE ? "True" : c == FB_COND_FALSE ? "False" :
	       c == FB_COND_UNKNOWN ? "Unknown" : "absent";
}

static void node_added(const char *key, const void *obj, void *ud)
{
	const fb_node_proj *n = obj;
	fb_log(FB_DEBUG, "node added", "node=%s ready=%s", n->name, cond_str(n->ready));
	node_apply(ud, n);
}

static void node_updated(const char *key, const void *old_obj, const void *new_obj, void *ud)
{
	const fb_node_proj *o = old_obj, *n = new_obj;
	if (o->ready != n->ready)
		fb_log(n->ready == FB_COND_TRUE ? FB_INFO : FB_WARN, "node readiness changed",
		       "node=%s from=%s to=%s", n->name, cond_str(o->ready), cond_str(n->ready));
	node_apply(ud, n);
}

static void node_deleted(const char *key, const void *obj, void *ud)
{
	fb_controller *c = ud;
	const fb_node_proj *n = obj;
	fb_log(FB_INFO, "node deleted", "node=%s", n->name);
	observing(c);
	fb_core_node_delete(c->core, n->name);
	observed(c);
}

static void pod_apply(fb_controller *c, const fb_pod_proj *p)
{
	if (!p->uid)
		return;
	fb_pod_obs o;
	fb_workload_ref workload;
	fb_pod_proj_obs(p, &o, &workload);
	observing(c);
	if (fb_core_pod_set(c->core, &o) != 0)
		fb_log(FB_ERROR, "out of memory recording a pod", "pod=%s/%s", p->ns, p->name);
	observed(c);
}

static void pod_added(const char *key, const void *obj, void *ud)
{
	pod_apply(ud, obj);
}

static void pod_updated(const char *key, const void *old_obj, const void *new_obj, void *ud)
{
	pod_apply(ud, new_obj);
}

static void pod_deleted(const char *key, const void *obj, void *ud)
{
	fb_controller *c = ud;
	const fb_pod_proj *p = obj;
	if (!p->uid)
		return;
	observing(c);
	fb_core_pod_delete(c->core, p->uid);
	observed(c);
}

static void budget_apply(fb_controller *c, const fb_budget_proj *b)
{
	observing(c);
	if (fb_core_budget_set(c->core, b->name, b->generation, b->spec, b->admissions,
	                       b->nadmissions, wall_ms()) != 0)
		fb_log(FB_ERROR, "out of memory recording an EvictionBudget", "budget=%s", b->name);
	observed(c);
}

static void budget_added(const char *key, const void *obj, void *ud)
{
	const fb_budget_proj *b = obj;
	fb_log(FB_INFO, "EvictionBudget observed", "budget=%s generation=%lld", b->name,
	       (long long)b->generation);
	budget_apply(ud, b);
}

static void budget_updated(const char *key, const void *old_obj, const void *new_obj, void *ud)
{
	budget_apply(ud, new_obj);
}

static void budget_deleted(const char *key, const void *obj, void *ud)
{
	fb_controller *c = ud;
	const fb_budget_proj *b = obj;
	fb_log(FB_INFO, "EvictionBudget deleted", "budget=%s", b->name);
	observing(c);
	fb_core_budget_delete(c->core, b->name);
	observed(c);
}

static void quarantine_apply(fb_controller *c, const fb_quarantine_proj *q)
{
	fb_quarantine_obs o;
	if (fb_quarantine_proj_obs(q, &o) != 0)
		return;
	observing(c);
	if (fb_core_quarantine_set(c->core, &o, wall_ms()) != 0)
		fb_log(FB_ERROR, "out of memory recording a Quarantine", "quarantine=%s/%s", q->ns,
		       q->name);
	observed(c);
}

static void quarantine_added(const char *key, const void *obj, void *ud)
{
	const fb_quarantine_proj *q = obj;
	fb_log(FB_INFO, "Quarantine observed", "quarantine=%s/%s workload=%s/%s action=%s release=%s",
	       q->ns, q->name, q->kind ? q->kind : "?", q->workload ? q->workload : "?",
	       q->action == FB_POISON_SCALE_TO_ZERO ? "ScaleToZero" : "Pin",
	       q->release ? "true" : "false");
	quarantine_apply(ud, q);
}

static void quarantine_updated(const char *key, const void *old_obj, const void *new_obj,
                               void *ud)
{
	quarantine_apply(ud, new_obj);
}

static void quarantine_deleted(const char *key, const void *obj, void *ud)
{
	fb_controller *c = ud;
	const fb_quarantine_proj *q = obj;
	fb_quarantine_obs o;
	if (fb_quarantine_proj_obs(q, &o) != 0)
		return;
	fb_log(FB_INFO, "Quarantine deleted: releasing", "quarantine=%s/%s workload=%s/%s", q->ns,
	       q->name, q->kind, q->workload);
	observing(c);
	fb_core_quarantine_delete(c->core, &o.workload, wall_ms());
	observed(c);
}

/* ---- leader election ------------------------------------------------------------ */

static void started_leading(void *ud)
{
	fb_controller *c = ud;
	fb_log(FB_INFO, "became leader", NULL);
	atomic_store(&c->leading, true);
	observing(c);
	fb_core_set_leader(c->core, true);
	observed(c);
}

static void stopped_leading(void *ud)
{
	fb_controller *c = ud;
	/* first, so that no write starts from here on */
	atomic_store(&c->leading, false);
	fb_log(FB_WARN, "lost leadership; stopped all writes", NULL);
	pthread_mutex_lock(&c->lock);
	fb_core_set_leader(c->core, false);
	pthread_mutex_unlock(&c->lock);
}

static void new_leader(void *ud, const char *identity)
{
	fb_log(FB_INFO, "leader observed", "leader=%s", identity[0] ? identity : "(none)");
}

static bool may_write(fb_controller *c)
{
	if (!atomic_load(&c->leading))
		return false;
	return !c->leader || kc_leader_is_leader(c->leader);
}

/* ---- carrying out actions ----------------------------------------------------------- */

static void do_event(fb_controller *c, const fb_action *a)
{
	kc_objref ref = { 0 };
	switch (a->obj) {
	case FB_OBJ_NODE:
		ref = (kc_objref){ "v1", "Node", NULL, a->name, a->uid[0] ? a->uid : NULL };
		break;
	case FB_OBJ_POD:
		ref = (kc_objref){ "v1", "Pod", a->ns, a->name, a->uid[0] ? a->uid : NULL };
		break;
	case FB_OBJ_BUDGET:
		ref = (kc_objref){ "firebreak.dev/v1alpha1", "EvictionBudget", NULL, a->name, NULL };
		break;
	case FB_OBJ_WORKLOAD:
		/* a kind the table does not know goes without apiVersion (omitted, as Go's omitempty) */
		ref = (kc_objref){ fb_kind_api_version(a->workload.kind), a->workload.kind, a->ns,
		                   a->name, NULL };
		break;
	case FB_OBJ_QUARANTINE:
		ref = (kc_objref){ "firebreak.dev/v1alpha1", "Quarantine", a->ns, a->name, NULL };
		break;
	}
	char q[640];
	const char *reason = fb_reason_name(a->reason);
	fb_log(a->warning ? FB_WARN : FB_INFO, reason, "object=%s/%s%s%s message=%s",
	       ref.kind, a->ns[0] ? a->ns : "", a->ns[0] ? "/" : "", a->name,
	       fb_log_quote(a->message, q, sizeof(q)));
	if (!c->recorder || !may_write(c))
		return;
	kc_err err = kc_recorder_event(c->recorder, &ref, NULL,
	                               a->warning ? KC_EVENT_WARNING : KC_EVENT_NORMAL, reason,
	                               fb_reason_action(a->reason), a->message);
	if (err != KC_OK)
		fb_log(FB_WARN, "event not recorded", "reason=%s err=\"%s\"", reason,
		       kc_strerror(err));
}

/* Mark the pod with the DisruptionTarget condition, as the taint-eviction controller does. */
static void mark_disruption_target(fb_controller *c, const fb_action *a)
{
	char ts[KC_TIME_STR_MAX];
	kc_time_format(kc_now_wall_us(), ts);
	cJSON *patch = cJSON_CreateObject();
	cJSON *status = cJSON_AddObjectToObject(patch, "status");
	cJSON *conds = cJSON_AddArrayToObject(status, "conditions");
	cJSON *cond = cJSON_CreateObject();
	if (!patch || !status || !conds || !cond) {
		cJSON_Delete(cond);
		cJSON_Delete(patch);
		return;
	}
	cJSON_AddStringToObject(cond, "type", "DisruptionTarget");
	cJSON_AddStringToObject(cond, "status", "True");
	cJSON_AddStringToObject(cond, "reason", "DeletionByFirebreak");
	char msg[400];
	snprintf(msg, sizeof(msg), "firebreak: evicting from failed node %s", a->node);
	cJSON_AddStringToObject(cond, "message", msg);
	cJSON_AddStringToObject(cond, "lastTransitionTime", ts);
	cJSON_AddItemToArray(conds, cond);
	char *body = cJSON_PrintUnformatted(patch);
	cJSON_Delete(patch);
	if (!body)
		return;
	kc_error_detail d;
	kc_detail_clear(&d);
	kc_err err = kc_patch(c->client, &KC_RES_PODS, a->ns, a->name, "status", KC_PATCH_STRATEGIC,
	                      body, NULL, NULL, &d);
	if (err != KC_OK && err != KC_ERR_NOT_FOUND)
		fb_log(FB_WARN, "could not set DisruptionTarget", "pod=%s/%s err=\"%s\" detail=\"%.200s\"",
		       a->ns, a->name, kc_strerror(err), d.message);
	cJSON_free(body);
}

static fb_evict_result result_of(kc_err err)
{
	switch (err) {
	case KC_OK: return FB_EVICT_OK;
	case KC_ERR_NOT_FOUND: return FB_EVICT_GONE;
	case KC_ERR_TOO_MANY: return FB_EVICT_BLOCKED;
	default: return FB_EVICT_FAILED;
	}
}

static void do_pod(fb_controller *c, const fb_action *a)
{
	bool del = a->kind == FB_ACT_DELETE;
	if (a->dry_run) {
		fb_metrics_add(c->metrics, "firebreak_evictions_total", "result=\"dry_run\"", 1);
		fb_log(FB_INFO, del ? "would delete pod (dry run)" : "would evict pod (dry run)",
		       "pod=%s/%s node=%s", a->ns, a->name, a->node);
		return;
	}
	if (!may_write(c))
		return;
	mark_disruption_target(c, a);
	kc_delete_opts dopts = { 0 };
	if (a->grace_period_s >= 0)
		dopts.grace_period_seconds = (kc_opt_i64){ true, a->grace_period_s };
	dopts.precondition_uid = a->uid;
	kc_error_detail d;
	kc_detail_clear(&d);
	kc_err err = del ? kc_delete(c->client, &KC_RES_PODS, a->ns, a->name, &dopts, &d)
	                 : kc_evict(c->client, a->ns, a->name, &dopts, &d);
	fb_evict_result r = result_of(err);
	static const char *const results[] = { "\"evicted\"", "\"gone\"", "\"blocked\"",
		                               "\"failed\"" };
	char lbl[64];
	snprintf(lbl, sizeof(lbl), "result=%s", del && r == FB_EVICT_OK ? "\"deleted\"" : results[r]);
	fb_metrics_add(c->metrics, "firebreak_evictions_total", lbl, 1);
	if (r == FB_EVICT_OK || r == FB_EVICT_GONE)
		fb_log(FB_INFO, del ? "pod deleted" : "pod evicted", "pod=%s/%s node=%s", a->ns,
		       a->name, a->node);
	else
		fb_log(FB_WARN, del ? "pod deletion failed" : "pod eviction refused",
		       "pod=%s/%s node=%s err=\"%s\" detail=\"%.200s\"", a->ns, a->name, a->node,
		       kc_strerror(err), d.message);
	pthread_mutex_lock(&c->lock);
	fb_core_evict_result(c->core, a->uid, r, wall_ms());
	pthread_mutex_unlock(&c->lock);
}

static void budget_window_metrics(fb_controller *c, const char *name, const cJSON *status);

static void do_budget_status(fb_controller *c, const fb_action *a)
{
	if (!may_write(c))
		return;
	pthread_mutex_lock(&c->lock);
	cJSON *status = fb_core_budget_status_json(c->core, a->name, wall_ms());
	pthread_mutex_unlock(&c->lock);
	if (!status)
		return;
	budget_window_metrics(c, a->name, status);
	cJSON *patch = cJSON_CreateObject();
	if (!patch) {
		cJSON_Delete(status);
		return;
	}
	cJSON_AddItemToObject(patch, "status", status);
	char *body = cJSON_PrintUnformatted(patch);
	cJSON_Delete(patch);
	if (!body)
		return;
	kc_error_detail d;
	kc_detail_clear(&d);
	kc_err err = kc_patch(c->client, &FB_RES_EVICTIONBUDGETS, NULL, a->name, "status",
	                      KC_PATCH_MERGE, body, NULL, NULL, &d);
	if (err != KC_OK)
		fb_log(FB_WARN, "could not write EvictionBudget status",
		       "budget=%s err=\"%s\" detail=\"%.200s\"", a->name, kc_strerror(err), d.message);
	cJSON_free(body);
}

/* Record the failure evidence on the node (durable across restarts and leaders). */
static void do_annotate(fb_controller *c, const fb_action *a)
{
	if (!may_write(c) || !a->failure)
		return;
	char *value = fb_failure_to_json(a->failure);
	cJSON *patch = cJSON_CreateObject();
	cJSON *meta = cJSON_AddObjectToObject(patch, "metadata");
	cJSON *ann = cJSON_AddObjectToObject(meta, "annotations");
	if (!value || !ann || !cJSON_AddStringToObject(ann, FB_FAILURE_ANNOTATION, value)) {
		kc_free(value);
		cJSON_Delete(patch);
		return;
	}
	kc_free(value);
	char *body = cJSON_PrintUnformatted(patch);
	cJSON_Delete(patch);
	if (!body)
		return;
	kc_error_detail d;
	kc_detail_clear(&d);
	kc_err err = kc_patch(c->client, &KC_RES_NODES, NULL, a->name, NULL, KC_PATCH_MERGE, body,
	                      NULL, NULL, &d);
	cJSON_free(body);
	if (err != KC_OK)
		fb_log(FB_WARN, "could not record failure evidence on the node",
		       "node=%s err=\"%s\" detail=\"%.200s\"", a->name, kc_strerror(err), d.message);
}

/*
 * Add or remove our NoSchedule taint: read the node, change spec.taints, write
 * it back with its resourceVersion; a conflict means someone else wrote in
 * between, so read again (as controller.AddOrUpdateTaintOnNode does).
 */
static void do_taint(fb_controller *c, const fb_action *a, bool add)
{
	for (int tries = 0; tries < TAINT_WRITE_TRIES && may_write(c); tries++) {
		cJSON *node = NULL;
		kc_error_detail d;
		kc_detail_clear(&d);
		kc_err err = kc_get(c->client, &KC_RES_NODES, NULL, a->name, NULL, &node, &d);
		if (err != KC_OK) {
			fb_log(FB_WARN, "could not read node to change its taints", "node=%s err=\"%s\"",
			       a->name, kc_strerror(err));
			return;
		}
		cJSON *spec = cJSON_GetObjectItemCaseSensitive(node, "spec");
		if (!spec)
			spec = cJSON_AddObjectToObject(node, "spec");
		cJSON *taints = cJSON_GetObjectItemCaseSensitive(spec, "taints");
		if (!cJSON_IsArray(taints)) {
			cJSON_DeleteItemFromObjectCaseSensitive(spec, "taints");
			taints = cJSON_AddArrayToObject(spec, "taints");
		}
		bool present = false, changed = false;
		for (int i = cJSON_GetArraySize(taints) - 1; i >= 0; i--) {
			cJSON *t = cJSON_GetArrayItem(taints, i);
			const cJSON *k = cJSON_GetObjectItemCaseSensitive(t, "key");
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, "value");
			if (!cJSON_IsString(k) || strcmp(k->valuestring, FB_QUARANTINE_TAINT_KEY) != 0)
				continue;
			if (cJSON_IsString(v) && strcmp(v->valuestring, a->taint) == 0) {
				present = true;
				if (!add) {
					cJSON_DeleteItemFromArray(taints, i);
					changed = true;
				}
			}
		}
		if (add && !present) {
			cJSON *t = cJSON_CreateObject();
			char ts[KC_TIME_STR_MAX];
			cJSON_AddStringToObject(t, "key", FB_QUARANTINE_TAINT_KEY);
			cJSON_AddStringToObject(t, "value", a->taint);
			cJSON_AddStringToObject(t, "effect", "NoSchedule");
			cJSON_AddStringToObject(t, "timeAdded", kc_time_format(kc_now_wall_us(), ts));
			cJSON_AddItemToArray(taints, t);
			changed = true;
		}
		if (!changed) {
			cJSON_Delete(node);
			return;
		}
		kc_detail_clear(&d);
		err = kc_update(c->client, &KC_RES_NODES, NULL, a->name, NULL, node, NULL, NULL, &d);
		cJSON_Delete(node);
		if (err == KC_OK) {
			fb_log(FB_INFO, add ? "node tainted" : "node untainted", "node=%s taint=%s=%s",
			       a->name, FB_QUARANTINE_TAINT_KEY, a->taint);
			return;
		}
		if (err != KC_ERR_CONFLICT) {
			fb_log(FB_WARN, "could not change node taints", "node=%s err=\"%s\" detail=\"%.200s\"",
			       a->name, kc_strerror(err), d.message);
			return;
		}
	}
}

/* Create the Quarantine (the verdict, durable), then write its status. */
static void do_quarantine(fb_controller *c, const fb_action *a)
{
	if (!may_write(c) || !a->verdict)
		return;
	cJSON *obj = fb_render_quarantine(a->verdict);
	if (!obj)
		return;
	cJSON *status = cJSON_DetachItemFromObjectCaseSensitive(obj, "status");
	kc_error_detail d;
	kc_detail_clear(&d);
	kc_err err = kc_create(c->client, &FB_RES_QUARANTINES, a->ns, obj, NULL, NULL, &d);
	cJSON_Delete(obj);
	if (err != KC_OK && err != KC_ERR_CONFLICT) {
		fb_log(FB_ERROR, "could not create the Quarantine", "quarantine=%s/%s err=\"%s\" detail=\"%.300s\"",
		       a->ns, a->name, kc_strerror(err), d.message);
		cJSON_Delete(status);
		return;
	}
	fb_log(FB_WARN, "workload quarantined", "quarantine=%s/%s", a->ns, a->name);
	cJSON *patch = cJSON_CreateObject();
	if (!patch || !status) {
		cJSON_Delete(patch);
		cJSON_Delete(status);
		return;
	}
	cJSON_AddItemToObject(patch, "status", status);
	char *body = cJSON_PrintUnformatted(patch);
	cJSON_Delete(patch);
	if (!body)
		return;
	kc_detail_clear(&d);
	err = kc_patch(c->client, &FB_RES_QUARANTINES, a->ns, a->name, "status", KC_PATCH_MERGE,
	               body, NULL, NULL, &d);
	cJSON_free(body);
	if (err != KC_OK)
		fb_log(FB_WARN, "could not write the Quarantine status", "quarantine=%s/%s err=\"%s\" detail=\"%.300s\"",
		       a->ns, a->name, kc_strerror(err), d.message);
}

/* Merge-patch a Quarantine's status; a Quarantine already gone is no error. */
static void patch_quarantine_status(fb_controller *c, const char *ns, const char *name,
                                    const char *body, const char *failure_msg)
{
	kc_error_detail d;
	kc_detail_clear(&d);
	kc_err err = kc_patch(c->client, &FB_RES_QUARANTINES, ns, name, "status", KC_PATCH_MERGE,
	                      body, NULL, NULL, &d);
	if (err != KC_OK && err != KC_ERR_NOT_FOUND)
		fb_log(FB_WARN, failure_msg, "quarantine=%s/%s err=\"%s\" detail=\"%.200s\"", ns,
		       name, kc_strerror(err), d.message);
}

/* A quarantine released by spec.release: the object stays, its status says so. */
static void do_quarantine_released(fb_controller *c, const fb_action *a)
{
	if (!may_write(c))
		return;
	char ts[KC_TIME_STR_MAX], body[256];
	kc_time_format(kc_now_wall_us(), ts);
	snprintf(body, sizeof(body),
	         "{\"status\":{\"phase\":\"Released\",\"message\":\"released by spec.release at %s; "
	         "taints removed\"}}", ts);
	patch_quarantine_status(c, a->ns, a->name, body, "could not mark the Quarantine released");
}

/* An Event on the workload of action a, from the shell (which alone knows the counts). */
static void scale_event(fb_controller *c, const fb_action *a, fb_reason reason, const char *fmt,
                        ...) __attribute__((format(printf, 4, 5)));

static void scale_event(fb_controller *c, const fb_action *a, fb_reason reason, const char *fmt,
                        ...)
{
	fb_action e = { .kind = FB_ACT_EVENT, .obj = FB_OBJ_WORKLOAD, .reason = reason,
	                .warning = fb_reason_warning(reason), .grace_period_s = -1,
	                .workload = a->workload };
	snprintf(e.ns, sizeof(e.ns), "%s", a->ns);
	snprintf(e.name, sizeof(e.name), "%s", a->name);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e.message, sizeof(e.message), fmt, ap);
	va_end(ap);
	do_event(c, &e);
}

/*
 * Scale only what a Quarantine records, and only while it is in force: it is
 * what restores the workload later. FB_SCALE_DONE if so.
 */
static fb_scale_result quarantine_in_force(fb_controller *c, const fb_action *a,
                                           fb_scale_report *rep)
{
	cJSON *q = NULL;
	kc_error_detail d;
	kc_detail_clear(&d);
	kc_err err = a->quarantine[0] ? kc_get(c->client, &FB_RES_QUARANTINES, a->ns, a->quarantine,
	                                       NULL, &q, &d)
	                              : KC_ERR_NOT_FOUND;
	if (err == KC_ERR_NOT_FOUND) {
		/* Not yet, most likely: its creation failed and is retried. Retried with
		 * backoff too; a release in the meantime makes the result moot. */
		rep->err = err;
		snprintf(rep->why, sizeof(rep->why), "its Quarantine %.63s/%.200s does not exist (yet)",
		         a->ns, a->quarantine);
		return FB_SCALE_FAILED;
	}
	if (err != KC_OK) {
		rep->err = err;
		snprintf(rep->why, sizeof(rep->why), "reading its Quarantine: %s: %.200s",
		         kc_strerror(err), d.message);
		return FB_SCALE_FAILED;
	}
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(q, "metadata");
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(q, "spec");
	bool released = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(spec, "release")) ||
	                cJSON_GetObjectItemCaseSensitive(meta, "deletionTimestamp") != NULL;
	/* The object of that name must record this very workload (names are derived from
	 * the workload's, and a hand-made Quarantine could name another). */
	const cJSON *wl = cJSON_GetObjectItemCaseSensitive(spec, "workload");
	const cJSON *wk = cJSON_GetObjectItemCaseSensitive(wl, "kind");
	const cJSON *wn = cJSON_GetObjectItemCaseSensitive(wl, "name");
	bool ours = cJSON_IsString(wk) && cJSON_IsString(wn) &&
	            strcmp(wk->valuestring, a->workload.kind) == 0 && strcmp(wn->valuestring, a->name) == 0;
	cJSON_Delete(q);
	if (!ours) {
		snprintf(rep->why, sizeof(rep->why),
		         "Quarantine %.63s/%.200s records another workload", a->ns, a->quarantine);
		return FB_SCALE_REFUSED;
	}
	if (released) {
		snprintf(rep->why, sizeof(rep->why), "its Quarantine %.63s/%.200s is being released", a->ns,
		         a->quarantine);
		return FB_SCALE_REFUSED;
	}
	return FB_SCALE_DONE;
}

/* Record the count in the Quarantine's status.scaledFromReplicas (a restarted core reads it). */
static void record_scaled_from(fb_controller *c, const fb_action *a, int64_t from)
{
	char body[96];
	snprintf(body, sizeof(body), "{\"status\":{\"scaledFromReplicas\":%lld}}", (long long)from);
	patch_quarantine_status(c, a->ns, a->quarantine, body,
	                        "could not record the replica count in the Quarantine");
}

/*
 * ScaleToZero and its restore (scale.h), then what came of it: a log line, an
 * Event on the workload, the count in the Quarantine's status, a metric, and
 * the result to the core (which retries failures with backoff).
 */
static void do_scale(fb_controller *c, const fb_action *a)
{
	bool restore = a->kind == FB_ACT_SCALE_RESTORE;
	if (a->dry_run) { /* the core reports dry runs by Event only; should one come, no write */
		fb_log(FB_INFO, restore ? "would restore workload replicas (dry run)"
		                        : "would scale workload to 0 (dry run)",
		       "workload=%s/%s/%s", a->workload.kind, a->ns, a->name);
		return;
	}
	if (!may_write(c))
		return; /* the core asks again when it leads again */
	fb_scale_report rep = { .from = -1, .to = -1 };
	fb_scale_result r = restore ? FB_SCALE_DONE : quarantine_in_force(c, a, &rep);
	if (r == FB_SCALE_DONE)
		r = restore ? fb_scale_restore(c->client, a->workload.kind, a->ns, a->name, &rep)
		            : fb_scale_to_zero(c->client, a->workload.kind, a->ns, a->name, &rep);
	static const char *const results[] = { "done", "gone", "refused", "failed" };
	char lbl[96], q[512];
	snprintf(lbl, sizeof(lbl), "action=\"%s\",result=\"%s\"",
	         restore ? "restore" : "scale_to_zero", results[r]);
	fb_metrics_add(c->metrics, "firebreak_workload_scales_total", lbl, 1);
	const char *k = a->workload.kind;
	switch (r) {
	case FB_SCALE_DONE:
		if (!restore) {
			fb_log(FB_WARN, "workload scaled to zero",
			       "workload=%s/%s/%s from=%lld quarantine=%s kept_annotation=%s", k, a->ns,
			       a->name, (long long)rep.from, a->quarantine,
			       rep.kept_annotation ? "true" : "false");
			scale_event(c, a, FB_REASON_SCALED_TO_ZERO,
			            "%s %s/%s scaled from %lld to 0 replicas by quarantine %s; restored on "
			            "release (annotation %s)", k, a->ns, a->name, (long long)rep.from,
			            a->quarantine, FB_REPLICAS_ANNOTATION);
			record_scaled_from(c, a, rep.from);
		} else if (rep.nothing_to_do) {
			fb_log(FB_INFO, "nothing to restore", "workload=%s/%s/%s replicas=%lld", k, a->ns,
			       a->name, (long long)rep.to);
		} else if (rep.changed_meanwhile) {
			fb_log(FB_INFO, "workload replicas changed during the quarantine; left as they are",
			       "workload=%s/%s/%s replicas=%lld before=%lld", k, a->ns, a->name,
			       (long long)rep.to, (long long)rep.from);
			scale_event(c, a, FB_REASON_SCALE_RESTORED,
			            "%s %s/%s left at %lld replica%s on release: scaled by someone else "
			            "since quarantine %s took it from %lld to 0", k, a->ns, a->name,
			            (long long)rep.to, rep.to == 1 ? "" : "s", a->quarantine,
			            (long long)rep.from);
		} else {
			fb_log(FB_INFO, "workload replicas restored", "workload=%s/%s/%s replicas=%lld", k,
			       a->ns, a->name, (long long)rep.to);
			scale_event(c, a, FB_REASON_SCALE_RESTORED,
			            "%s %s/%s restored to %lld replica%s: quarantine %s released", k, a->ns,
			            a->name, (long long)rep.to, rep.to == 1 ? "" : "s", a->quarantine);
		}
		break;
	case FB_SCALE_GONE:
		fb_log(FB_INFO, restore ? "workload gone; nothing to restore"
		                        : "workload gone; nothing to scale",
		       "workload=%s/%s/%s", k, a->ns, a->name);
		break;
	case FB_SCALE_REFUSED:
		fb_log(FB_WARN, restore ? "workload not restored" : "workload not scaled to zero",
		       "workload=%s/%s/%s why=%s", k, a->ns, a->name,
		       fb_log_quote(rep.why, q, sizeof(q)));
		if (restore)
			scale_event(c, a, FB_REASON_SCALE_RESTORE_FAILED, "%s %s/%s not restored: %s", k,
			            a->ns, a->name, rep.why);
		else
			scale_event(c, a, FB_REASON_SCALE_TO_ZERO_SKIPPED,
			            "%s %s/%s not scaled to zero: %s; pinned only", k, a->ns, a->name,
			            rep.why);
		break;
	case FB_SCALE_FAILED:
		fb_log(FB_WARN, restore ? "could not restore workload replicas; retrying"
		                        : "could not scale workload to zero; retrying",
		       "workload=%s/%s/%s why=%s", k, a->ns, a->name,
		       fb_log_quote(rep.why, q, sizeof(q)));
		scale_event(c, a,
		            restore ? FB_REASON_SCALE_RESTORE_FAILED : FB_REASON_SCALE_TO_ZERO_FAILED,
		            "%s %s/%s %s failed, retrying: %s", k, a->ns, a->name,
		            restore ? "restoring its replicas" : "scaling to 0 replicas", rep.why);
		break;
	}
	pthread_mutex_lock(&c->lock);
	fb_core_scale_result(c->core, &a->workload, restore, r, wall_ms());
	pthread_mutex_unlock(&c->lock);
}

static void execute(fb_controller *c, const fb_actions *acts)
{
	for (size_t i = 0; i < acts->n; i++) {
		const fb_action *a = &acts->v[i];
		switch (a->kind) {
		case FB_ACT_EVENT:
			do_event(c, a);
			break;
		case FB_ACT_EVICT:
		case FB_ACT_DELETE:
			do_pod(c, a);
			break;
		case FB_ACT_BUDGET_STATUS:
			do_budget_status(c, a);
			break;
		case FB_ACT_NODE_ANNOTATE:
			do_annotate(c, a);
			break;
		case FB_ACT_TAINT:
		case FB_ACT_UNTAINT:
			if (!a->dry_run)
				do_taint(c, a, a->kind == FB_ACT_TAINT);
			break;
		case FB_ACT_QUARANTINE:
			do_quarantine(c, a);
			break;
		case FB_ACT_QUARANTINE_RELEASED:
			do_quarantine_released(c, a);
			break;
		case FB_ACT_SCALE_TO_ZERO:
		case FB_ACT_SCALE_RESTORE:
			do_scale(c, a);
			break;
		}
	}
}

/* ---- metrics and health ------------------------------------------------------------- */

static const double latency_buckets[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
	                                  0.01, 0.025, 0.05, 0.1, 0.5 };

/*
 * Every metric family firebreak exports (docs/operations.md lists them;
 * scripts/check-monitoring.sh reads this table: keep one { "name", TYPE, help } per entry).
 */
static const struct {
	const char *name;
	fb_metric_type type;
	const char *help;
} metric_families[] = {
	{ "firebreak_leader", FB_GAUGE, "1 while this replica holds the lease and may act." },
	{ "firebreak_caches_synced", FB_GAUGE, "1 once the node and pod caches have synced." },
	{ "firebreak_nodes", FB_GAUGE, "Nodes known, and failed ones." },
	{ "firebreak_zone_unhealthy_nodes", FB_GAUGE, "Nodes not Ready per zone." },
	{ "firebreak_zone_state", FB_GAUGE,
	  "1 for the current state of each zone (Normal, PartialDisruption, FullDisruption)." },
	{ "firebreak_evictions_total", FB_COUNTER, "Pod evictions and deletions by result." },
	{ "firebreak_eviction_deferrals_total", FB_COUNTER,
	  "Failed nodes whose evictions were deferred, by reason." },
	{ "firebreak_budget_window_used", FB_GAUGE,
	  "Nodes admitted within each EvictionBudget window." },
	{ "firebreak_budget_window_max", FB_GAUGE, "maxNodes of each EvictionBudget window." },
	{ "firebreak_watch_restarts_total", FB_COUNTER,
	  "List/watch failures that led to a backoff and relist, by resource." },
	{ "firebreak_watch_events_total", FB_COUNTER, "Watch events received, by resource." },
	{ "firebreak_poison_suspects", FB_GAUGE,
	  "Workloads that arrived on failed nodes but have no verdict." },
	{ "firebreak_quarantines_active", FB_GAUGE, "Workloads quarantined now." },
	{ "firebreak_quarantines_total", FB_COUNTER, "Verdicts declared since start." },
	{ "firebreak_nodes_lost_before_quarantine", FB_GAUGE,
	  "Failed nodes that led to the latest verdict." },
	{ "firebreak_pods_pinned_total", FB_COUNTER,
	  "Pods kept on failed nodes because their workload is quarantined." },
	{ "firebreak_workloads_scaled_to_zero", FB_GAUGE,
	  "Workloads a ScaleToZero quarantine holds at zero replicas." },
	{ "firebreak_workload_scales_total", FB_COUNTER,
	  "ScaleToZero actions and their restores, by result." },
	{ "firebreak_api_requests_total", FB_COUNTER,
	  "HTTP exchanges with the API server by verb and status code (code 0: no answer)." },
	{ "firebreak_decision_latency_seconds", FB_HISTOGRAM,
	  "From a watch event's arrival to the decision taken on it." },
};

static int metrics_setup(fb_controller *c)
{
	fb_metrics *m = c->metrics = fb_metrics_new();
	if (!m)
		return -1;
	int rc = 0;
	for (size_t i = 0; i < sizeof(metric_families) / sizeof(metric_families[0]); i++) {
		bool hist = metric_families[i].type == FB_HISTOGRAM;
		rc |= fb_metrics_family(m, metric_families[i].name, metric_families[i].type,
		                        metric_families[i].help, hist ? latency_buckets : NULL,
		                        hist ? sizeof(latency_buckets) / sizeof(latency_buckets[0]) : 0);
	}
	return rc ? -1 : 0;
}

static void count_request(void *ud, const char *method, long status, int64_t duration_us)
{
	fb_controller *c = ud;
	char lbl[64];
	snprintf(lbl, sizeof(lbl), "verb=\"%s\",code=\"%ld\"", method, status);
	fb_metrics_add(c->metrics, "firebreak_api_requests_total", lbl, 1);
}

#define NUM_INFORMERS 4
typedef struct named_informer {
	kc_informer *inf;   /* NULL before it starts */
	const char *name;
} named_informer;

static void informer_table(const fb_controller *c, named_informer out[NUM_INFORMERS])
{
	out[0] = (named_informer){ c->nodes, "nodes" };
	out[1] = (named_informer){ c->pods, "pods" };
	out[2] = (named_informer){ c->budgets, "evictionbudgets" };
	out[3] = (named_informer){ c->quarantines, "quarantines" };
}

/*
 * client-go's reflector logs every failed list or watch ("Failed to watch",
 * "watch of *v1.Node ended with: ...") and then resumes or relists; ours only
 * counts them, so the run loop reports what changed since its last turn: a
 * warning per failure burst (the API server restarting, a 410 Gone) and a line
 * when a relist completed, so an operator can tell a gap in the stream from
 * a quiet cluster.
 */
typedef struct watch_seen {
	uint64_t failures;
	uint64_t lists;
} watch_seen;

static void watch_report(const fb_controller *c, watch_seen seen[NUM_INFORMERS])
{
	named_informer infs[NUM_INFORMERS];
	informer_table(c, infs);
	for (size_t i = 0; i < NUM_INFORMERS; i++) {
		if (!infs[i].inf)
			continue;
		kc_reflector_stats rs;
		kc_informer_stats(infs[i].inf, &rs);
		if (rs.failures > seen[i].failures)
			fb_log(FB_WARN, "list/watch failed; backing off, then resuming or relisting",
			       "resource=%s failures=%llu err=\"%s\" detail=\"%.200s\"", infs[i].name,
			       (unsigned long long)rs.failures, kc_strerror(rs.last_err),
			       rs.last_err_message);
		if (rs.lists > seen[i].lists && seen[i].lists > 0)
			fb_log(FB_INFO, "relisted", "resource=%s lists=%llu resource_version=%s",
			       infs[i].name, (unsigned long long)rs.lists, rs.last_sync_rv);
		seen[i] = (watch_seen){ rs.failures, rs.lists };
	}
}

/* Refresh the gauges that mirror state (cheap: a few zones and budgets). */
static void metrics_refresh(fb_controller *c)
{
	fb_metrics *m = c->metrics;
	char lbl[256], zbuf[128], q[160];
	fb_metrics_set(m, "firebreak_leader", NULL, may_write(c) ? 1 : 0);
	fb_metrics_set(m, "firebreak_caches_synced", NULL, atomic_load(&c->synced) ? 1 : 0);
	fb_metrics_reset(m, "firebreak_zone_unhealthy_nodes");
	fb_metrics_reset(m, "firebreak_zone_state");
	pthread_mutex_lock(&c->lock);
	fb_core_stats st;
	fb_core_get_stats(c->core, &st);
	const fb_zones *z = fb_core_zones(c->core);
	for (size_t i = 0; i < z->n; i++) {
		fb_zone_display(z->v[i].key, z->v[i].key_len, zbuf, sizeof(zbuf));
		snprintf(lbl, sizeof(lbl), "zone=\"%s\"", fb_metrics_label(zbuf, q, sizeof(q)));
		fb_metrics_set(m, "firebreak_zone_unhealthy_nodes", lbl, z->v[i].not_ready);
		for (int s = FB_ZONE_NORMAL; s <= FB_ZONE_FULL_DISRUPTION; s++) {
			snprintf(lbl, sizeof(lbl), "zone=\"%s\",state=\"%s\"", q,
			         fb_zone_state_name((fb_zone_state)s));
			fb_metrics_set(m, "firebreak_zone_state", lbl, z->v[i].state == (fb_zone_state)s);
		}
	}
	pthread_mutex_unlock(&c->lock);
	fb_metrics_set(m, "firebreak_nodes", "state=\"known\"", (double)st.nodes);
	fb_metrics_set(m, "firebreak_nodes", "state=\"failed\"", (double)st.failed_nodes);
	fb_metrics_set(m, "firebreak_eviction_deferrals_total", "reason=\"RateLimited\"",
	               (double)st.deferrals_rate);
	fb_metrics_set(m, "firebreak_eviction_deferrals_total", "reason=\"WindowExhausted\"",
	               (double)st.deferrals_window);
	fb_metrics_set(m, "firebreak_eviction_deferrals_total", "reason=\"Paused\"",
	               (double)st.deferrals_paused);
	fb_metrics_set(m, "firebreak_eviction_deferrals_total", "reason=\"MaxUnhealthy\"",
	               (double)st.deferrals_max_unhealthy);
	fb_metrics_set(m, "firebreak_eviction_deferrals_total", "reason=\"FullDisruption\"",
	               (double)st.deferrals_disruption);
	fb_metrics_set(m, "firebreak_poison_suspects", NULL, (double)st.suspects);
	fb_metrics_set(m, "firebreak_quarantines_active", NULL, (double)st.quarantines_active);
	fb_metrics_set(m, "firebreak_quarantines_total", NULL, (double)st.quarantines_total);
	fb_metrics_set(m, "firebreak_nodes_lost_before_quarantine", NULL,
	               (double)st.nodes_lost_before_quarantine);
	fb_metrics_set(m, "firebreak_pods_pinned_total", NULL, (double)st.pods_pinned);
	fb_metrics_set(m, "firebreak_workloads_scaled_to_zero", NULL, (double)st.scaled_to_zero);
	named_informer infs[NUM_INFORMERS];
	informer_table(c, infs);
	for (size_t i = 0; i < NUM_INFORMERS; i++) {
		if (!infs[i].inf)
			continue;
		kc_reflector_stats rs;
		kc_informer_stats(infs[i].inf, &rs);
		snprintf(lbl, sizeof(lbl), "resource=\"%s\"", infs[i].name);
		fb_metrics_set(m, "firebreak_watch_restarts_total", lbl, (double)rs.failures);
		fb_metrics_set(m, "firebreak_watch_events_total", lbl, (double)rs.events);
	}
}

static void budget_window_metrics(fb_controller *c, const char *name, const cJSON *status)
{
	char lbl[512], q[300];
	const cJSON *u;
	cJSON_ArrayForEach(u, cJSON_GetObjectItem(status, "windowUsage")) {
		const cJSON *w = cJSON_GetObjectItem(u, "window");
		if (!cJSON_IsString(w))
			continue;
		snprintf(lbl, sizeof(lbl), "budget=\"%s\",window=\"%s\"",
		         fb_metrics_label(name, q, sizeof(q)), w->valuestring);
		fb_metrics_set(c->metrics, "firebreak_budget_window_used", lbl,
		               cJSON_GetObjectItem(u, "used")->valuedouble);
		fb_metrics_set(c->metrics, "firebreak_budget_window_max", lbl,
		               cJSON_GetObjectItem(u, "maxNodes")->valuedouble);
	}
}

static void serve(void *ud, const char *path, int *status, const char **ctype, char **body,
                  size_t *len)
{
	fb_controller *c = ud;
	*ctype = "text/plain; charset=utf-8";
	const char *text;
	if (strcmp(path, "/metrics") == 0) {
		metrics_refresh(c);
		*body = fb_metrics_render(c->metrics);
		*ctype = "text/plain; version=0.0.4; charset=utf-8";
		*status = *body ? 200 : 500;
		*len = *body ? strlen(*body) : 0;
		return;
	}
	if (strcmp(path, "/healthz") == 0) {
		/* Until the caches have synced the loop has not started: alive is all
		 * there is to say (readiness says the rest). After that a loop that
		 * stopped turning is a stuck process. */
		bool ok = !atomic_load(&c->synced) ||
		          kc_now_mono_ms() - atomic_load(&c->loop_mono_ms) < HEALTH_STALL_MS;
		*status = ok ? 200 : 500;
		text = ok ? "ok\n" : "run loop stalled\n";
	} else if (strcmp(path, "/readyz") == 0) {
		/* ready = caches synced; a follower with warm caches is ready to take over */
		bool ok = atomic_load(&c->synced);
		*status = ok ? 200 : 503;
		text = ok ? (may_write(c) ? "ok: leader\n" : "ok: follower\n") : "caches not synced\n";
	} else {
		*status = 404;
		text = "not found: try /metrics, /healthz or /readyz\n";
	}
	*body = kc_strdup(text);
	*len = *body ? strlen(*body) : 0;
}

/* ---- set-up and the loop ----------------------------------------------------------- */

static kc_err start_informer(fb_controller *c, const kc_resource *res,
                             void *(*project)(const cJSON *, void *), void (*free_obj)(void *, void *),
                             void (*on_add)(const char *, const void *, void *),
                             void (*on_update)(const char *, const void *, const void *, void *),
                             void (*on_delete)(const char *, const void *, void *),
                             kc_informer **out)
{
	kc_informer_options o = { .project = project, .free_obj = free_obj, .on_add = on_add,
	                          .on_update = on_update, .on_delete = on_delete, .ud = c };
	o.watch.resource = res;
	kc_err err = kc_informer_new(c->client, &o, out);
	if (err == KC_OK)
		err = kc_informer_start(*out);
	return err;
}

static void make_identity(char *buf, size_t cap)
{
	char host[128] = "firebreak";
	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	unsigned long long r = (unsigned long long)(kc_rand01() * 1e15);
	snprintf(buf, cap, "%s_%llx", host, r);
}

static void report_sync(fb_controller *c)
{
	fb_core_stats st;
	pthread_mutex_lock(&c->lock);
	fb_core_get_stats(c->core, &st);
	pthread_mutex_unlock(&c->lock);
	fb_log(FB_INFO, "informers synced", "nodes=%zu pods=%zu budgets=%zu quarantines=%zu",
	       kc_informer_count(c->nodes), kc_informer_count(c->pods),
	       c->budgets_available ? kc_informer_count(c->budgets) : 0,
	       c->quarantines_available ? kc_informer_count(c->quarantines) : 0);
}

static void teardown(fb_controller *c)
{
	fb_http_stop(c->http);
	if (c->leader)
		kc_leader_stop(c->leader);
	kc_informer_stop(c->quarantines);
	kc_informer_stop(c->budgets);
	kc_informer_stop(c->pods);
	kc_informer_stop(c->nodes);
	if (c->recorder)
		kc_recorder_stop(c->recorder, 3000);
	kc_leader_free(c->leader);
	kc_recorder_free(c->recorder);
	kc_informer_free(c->quarantines);
	kc_informer_free(c->budgets);
	kc_informer_free(c->pods);
	kc_informer_free(c->nodes);
	fb_core_free(c->core);
	kc_client_free(c->client);
	fb_metrics_free(c->metrics);
	pthread_cond_destroy(&c->wake);
	pthread_mutex_destroy(&c->lock);
}

int fb_controller_run(const fb_controller_options *o, kc_cancel *stop)
{
	fb_controller c = { .opts = o };
	pthread_mutex_init(&c.lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c.wake, &ca);
	pthread_condattr_destroy(&ca);
	int rc = 1;

	kc_config *cfg = NULL;
	kc_error_detail d;
	kc_detail_clear(&d);
	kc_err err = kc_config_load_default(o->kubeconfig, o->context, &cfg, &d);
	if (err != KC_OK) {
		char q[600];
		fb_log(FB_ERROR, "cannot load cluster configuration", "err=\"%s\" detail=%s",
		       kc_strerror(err), fb_log_quote(d.message, q, sizeof(q)));
		goto out;
	}
	if (metrics_setup(&c) != 0)
		goto out;
	kc_client_options copts = o->client;
	copts.on_request = count_request;
	copts.on_request_ud = &c;
	err = kc_client_new(cfg, &copts, &c.client, &d);
	if (err != KC_OK) {
		fb_log(FB_ERROR, "cannot create API client", "err=\"%s\" detail=\"%.300s\"",
		       kc_strerror(err), d.message);
		kc_config_free(cfg);
		goto out;
	}
	fb_log(FB_INFO, "connecting", "server=%s in_cluster=%s namespace=%s", cfg->server,
	       cfg->in_cluster ? "true" : "false", kc_client_namespace(c.client));
	kc_config_free(cfg);

	c.core = fb_core_new(&o->core);
	if (!c.core)
		goto out;
	atomic_store(&c.loop_mono_ms, kc_now_mono_ms());
	if (o->metrics_addr && o->metrics_addr[0]) {
		c.http = fb_http_start(o->metrics_addr, serve, &c);
		if (!c.http) {
			fb_log(FB_ERROR, "cannot serve metrics and health", "addr=%s", o->metrics_addr);
			goto out;
		}
		fb_log(FB_INFO, "serving /metrics /healthz /readyz", "addr=%s port=%d",
		       o->metrics_addr, fb_http_port(c.http));
	}
	/* Followers decide nothing: the core waits for leadership when electing. */
	fb_core_set_leader(c.core, !o->leader_elect);
	atomic_store(&c.leading, !o->leader_elect);

	if (start_informer(&c, &KC_RES_NODES, fb_project_node, fb_node_proj_free, node_added,
	                   node_updated, node_deleted, &c.nodes) != KC_OK ||
	    start_informer(&c, &KC_RES_PODS, fb_project_pod, fb_pod_proj_free, pod_added,
	                   pod_updated, pod_deleted, &c.pods) != KC_OK ||
	    start_informer(&c, &FB_RES_EVICTIONBUDGETS, fb_project_budget, fb_budget_proj_free,
	                   budget_added, budget_updated, budget_deleted, &c.budgets) != KC_OK ||
	    start_informer(&c, &FB_RES_QUARANTINES, fb_project_quarantine, fb_quarantine_proj_free,
	                   quarantine_added, quarantine_updated, quarantine_deleted,
	                   &c.quarantines) != KC_OK) {
		fb_log(FB_ERROR, "cannot start informers", NULL);
		goto out;
	}
	int64_t timeout = o->sync_timeout_ms > 0 ? o->sync_timeout_ms : 5 * 60 * 1000;
	if (kc_informer_wait_synced(c.nodes, timeout, stop) != KC_OK ||
	    kc_informer_wait_synced(c.pods, timeout, stop) != KC_OK) {
		if (!kc_cancel_fired(stop)) {
			kc_reflector_stats st;
			kc_informer_stats(c.nodes, &st);
			fb_log(FB_ERROR, "caches did not sync", "timeout_ms=%lld last_err=\"%s\" detail=\"%.200s\"",
			       (long long)timeout, kc_strerror(st.last_err), st.last_err_message);
		}
		rc = kc_cancel_fired(stop) ? 0 : 1;
		goto out;
	}
	/* EvictionBudgets are optional: without the CRD, the built-in defaults apply. */
	c.budgets_available = kc_informer_wait_synced(c.budgets, 5000, stop) == KC_OK;
	c.quarantines_available = kc_informer_wait_synced(c.quarantines, 5000, stop) == KC_OK;
	if (!c.quarantines_available)
		fb_log(FB_WARN, "Quarantines not available (CRD not installed?); verdicts cannot be "
		       "recorded", NULL);
	if (!c.budgets_available)
		fb_log(FB_WARN, "EvictionBudgets not available (CRD not installed?); built-in defaults apply",
		       NULL);
	atomic_store(&c.synced, true);
	report_sync(&c);
	if (o->exit_after_sync) {
		rc = 0;
		goto out;
	}

	kc_recorder_options ro = { .reporting_controller = FB_CONTROLLER_NAME };
	if (kc_recorder_new(c.client, &ro, &c.recorder, &d) != KC_OK)
		fb_log(FB_WARN, "event recorder unavailable; decisions are logged only",
		       "detail=\"%.200s\"", d.message);
	if (o->leader_elect) {
		char identity[256];
		make_identity(identity, sizeof(identity));
		kc_leader_config lc = {
			.namespace = o->lease_namespace ? o->lease_namespace
			                                : kc_client_namespace(c.client),
			.name = o->lease_name ? o->lease_name : "firebreak",
			.identity = identity,
			.timing = o->timing,
			.release_on_cancel = true,
			.rejoin_after_loss = true,
			.callbacks = { started_leading, stopped_leading, new_leader, &c },
		};
		if (kc_leader_new(c.client, &lc, &c.leader, &d) != KC_OK ||
		    kc_leader_start(c.leader) != KC_OK) {
			fb_log(FB_ERROR, "cannot start leader election", "detail=\"%.300s\"", d.message);
			goto out;
		}
		fb_log(FB_INFO, "campaigning for leadership", "lease=%s/%s identity=%s", lc.namespace,
		       lc.name, identity);
	}

	fb_actions acts;
	fb_actions_init(&acts);
	int64_t next = 0;
	watch_seen seen[NUM_INFORMERS];
	memset(seen, 0, sizeof(seen));
	watch_report(&c, seen); /* the initial lists are not relists */
	while (!kc_cancel_fired(stop)) {
		pthread_mutex_lock(&c.lock);
		int64_t now = wall_ms();
		int64_t wait = next > now ? next - now : 0;
		if (wait > LOOP_MAX_WAIT_MS)
			wait = LOOP_MAX_WAIT_MS;
		if (!c.woken && wait > 0) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_nsec += (wait % 1000) * 1000000;
			ts.tv_sec += wait / 1000 + ts.tv_nsec / 1000000000;
			ts.tv_nsec %= 1000000000;
			pthread_cond_timedwait(&c.wake, &c.lock, &ts);
		}
		bool had_news = c.woken;
		int64_t since = c.pending_since_us;
		c.woken = false;
		fb_actions_clear(&acts);
		next = fb_core_tick(c.core, wall_ms(), &acts);
		pthread_mutex_unlock(&c.lock);
		int64_t now_us = kc_now_mono_us();
		atomic_store(&c.loop_mono_ms, now_us / 1000);
		if (had_news)
			fb_metrics_observe(c.metrics, "firebreak_decision_latency_seconds", NULL,
			                   (double)(now_us - since) / 1e6);
		execute(&c, &acts);
		watch_report(&c, seen);
	}
	fb_actions_release(&acts);
	fb_log(FB_INFO, "stopping", NULL);
	rc = 0;
out:
	teardown(&c);
	return rc;
}
