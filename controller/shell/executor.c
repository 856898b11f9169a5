/*
 * executor.c - the core's actions carried out as API writes: Events, evictions
 * and deletions, budget status, node annotations and taints, Quarantine
 * objects, ScaleToZero and its restore. Every write is preceded by
 * fb__may_write; what came of an eviction or a scale goes back to the core.
 * The switch over action kinds is in one place, fb__execute, at the end.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "controller_int.h"
#include "kc/alloc.h"
#include "log.h"
#include "project.h"
#include "render.h"
#include "scale.h"
#include "scalepolicy.h"

#define TAINT_WRITE_TRIES 5

/* ---- the one write helper ---- */

/* The logfmt key naming an object of res in log lines ("pod=ns/name"). */
static const char *object_key(const kc_resource *res)
{
	if (res == &KC_RES_PODS)
		return "pod";
	if (res == &KC_RES_NODES)
		return "node";
	if (res == &FB_RES_EVICTIONBUDGETS)
		return "budget";
	if (res == &FB_RES_QUARANTINES)
		return "quarantine";
	return res->plural;
}

/*
 * Serialize patch and PATCH it onto ns/name (ns NULL: cluster-scoped) or its
 * subresource. A failure is logged as a warning "what" with the object's key
 * and the API's answer; with gone_ok a 404 is not (the object went away, and
 * with it what the patch was for). Returns the API's answer; KC_ERR_NOMEM when
 * the body could not be built (not logged).
 */
static kc_err patch_object(fb_controller *c, const kc_resource *res, const char *ns,
                           const char *name, const char *subresource, kc_patch_type type,
                           const cJSON *patch, const char *what, bool gone_ok)
{
	char *body = patch ? cJSON_PrintUnformatted(patch) : NULL;
	if (!body)
		return KC_ERR_NOMEM;
	kc_error_detail d;
	kc_detail_clear(&d);
	kc_err err = kc_patch(c->client, res, ns, name, subresource, type, body, NULL, NULL, &d);
	cJSON_free(body);
	if (err != KC_OK && !(gone_ok && err == KC_ERR_NOT_FOUND))
		fb_log_api_error(FB_WARN, what, err, d.message, "%s=%s%s%s", object_key(res),
		                 ns ? ns : "", ns ? "/" : "", name);
	return err;
}

/* {"status": status}, taking status (freed on failure too). NULL on ENOMEM. */
static cJSON *status_patch(cJSON *status)
{
	cJSON *patch = status ? cJSON_CreateObject() : NULL;
	if (!patch) {
		cJSON_Delete(status);
		return NULL;
	}
	cJSON_AddItemToObject(patch, "status", status);
	return patch;
}

/* ---- Events ---- */

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
	if (!c->recorder || !fb__may_write(c))
		return;
	kc_err err = kc_recorder_event(c->recorder, &ref, NULL,
	                               a->warning ? KC_EVENT_WARNING : KC_EVENT_NORMAL, reason,
	                               fb_reason_action(a->reason), a->message);
	if (err != KC_OK)
		fb_log(FB_WARN, "event not recorded", "reason=%s err=\"%s\"", reason,
		       kc_strerror(err));
}

/* ---- evictions and deletions ---- */

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
	if (a->reason == FB_REASON_ESCAPED)
		snprintf(msg, sizeof(msg), "firebreak: created without the quarantine gate %s",
		         FB_QUARANTINE_GATE);
	else if (a->reason == FB_REASON_RECALLED)
		snprintf(msg, sizeof(msg), "firebreak: replaces a pod moved off a failed node, and "
		         "its workload is quarantined");
	else
		snprintf(msg, sizeof(msg), "firebreak: evicting from failed node %s", a->node);
	cJSON_AddStringToObject(cond, "message", msg);
	cJSON_AddStringToObject(cond, "lastTransitionTime", ts);
	cJSON_AddItemToArray(conds, cond);
	patch_object(c, &KC_RES_PODS, a->ns, a->name, "status", KC_PATCH_STRATEGIC, patch,
	             "could not set DisruptionTarget", true);
	cJSON_Delete(patch);
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
	if (!fb__may_write(c))
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
		fb_log_api_error(FB_WARN, del ? "pod deletion failed" : "pod eviction refused", err,
		                 d.message, "pod=%s/%s node=%s", a->ns, a->name, a->node);
	pthread_mutex_lock(&c->lock);
	fb_core_evict_result(c->core, a->uid, r, fb__wall_ms());
	pthread_mutex_unlock(&c->lock);
}

/* ---- EvictionBudget status and node records ---- */

static void do_budget_status(fb_controller *c, const fb_action *a)
{
	if (!fb__may_write(c))
		return;
	pthread_mutex_lock(&c->lock);
	cJSON *status = fb_core_budget_status_json(c->core, a->name, fb__wall_ms());
	pthread_mutex_unlock(&c->lock);
	if (!status)
		return;
	fb__budget_window_metrics(c, a->name, status);
	cJSON *patch = status_patch(status);
	patch_object(c, &FB_RES_EVICTIONBUDGETS, NULL, a->name, "status", KC_PATCH_MERGE, patch,
	             "could not write EvictionBudget status", false);
	cJSON_Delete(patch);
}

/* Record the failure evidence on the node (durable across restarts and leaders). */
static void do_annotate(fb_controller *c, const fb_action *a)
{
	if (!fb__may_write(c) || !a->failure)
		return;
	char *value = fb_failure_to_json(a->failure);
	cJSON *patch = cJSON_CreateObject();
	cJSON *meta = cJSON_AddObjectToObject(patch, "metadata");
	cJSON *ann = cJSON_AddObjectToObject(meta, "annotations");
	if (value && ann && cJSON_AddStringToObject(ann, FB_FAILURE_ANNOTATION, value))
		patch_object(c, &KC_RES_NODES, NULL, a->name, NULL, KC_PATCH_MERGE, patch,
		             "could not record failure evidence on the node", false);
	cJSON_Delete(patch);
	kc_free(value);
}

/*
 * Add or remove our NoSchedule taint in a node's spec.taints. true if the list
 * changed (a taint added, or ours removed).
 */
static bool edit_taints(cJSON *node, const char *value, bool add)
{
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
		if (cJSON_IsString(v) && strcmp(v->valuestring, value) == 0) {
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
		cJSON_AddStringToObject(t, "value", value);
		cJSON_AddStringToObject(t, "effect", "NoSchedule");
		cJSON_AddStringToObject(t, "timeAdded", kc_time_format(kc_now_wall_us(), ts));
		cJSON_AddItemToArray(taints, t);
		changed = true;
	}
	return changed;
}

/*
 * Add or remove our NoSchedule taint: read the node, change spec.taints, write
 * it back with its resourceVersion; a conflict means someone else wrote in
 * between, so read again (as controller.AddOrUpdateTaintOnNode does).
 */
static void do_taint(fb_controller *c, const fb_action *a, bool add)
{
	for (int tries = 0; tries < TAINT_WRITE_TRIES && fb__may_write(c); tries++) {
		cJSON *node = NULL;
		kc_error_detail d;
		kc_detail_clear(&d);
		kc_err err = kc_get(c->client, &KC_RES_NODES, NULL, a->name, NULL, &node, &d);
		if (err != KC_OK) {
			fb_log_api_error(FB_WARN, "could not read node to change its taints", err,
			                 d.message, "node=%s", a->name);
			return;
		}
		if (!edit_taints(node, a->taint, add)) {
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
			fb_log_api_error(FB_WARN, "could not change node taints", err, d.message,
			                 "node=%s", a->name);
			return;
		}
	}
}

/* ---- Quarantines ---- */

/* Create the Quarantine (the verdict, durable), then write its status. */
static void do_quarantine(fb_controller *c, const fb_action *a)
{
	if (!fb__may_write(c) || !a->verdict)
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
		fb_log_api_error(FB_ERROR, "could not create the Quarantine", err, d.message,
		                 "quarantine=%s/%s", a->ns, a->name);
		cJSON_Delete(status);
		return;
	}
	fb_log(FB_WARN, "workload quarantined", "quarantine=%s/%s", a->ns, a->name);
	cJSON *patch = status_patch(status);
	patch_object(c, &FB_RES_QUARANTINES, a->ns, a->name, "status", KC_PATCH_MERGE, patch,
	             "could not write the Quarantine status", false);
	cJSON_Delete(patch);
}

/* Merge-patch a Quarantine's status (taking status); a Quarantine already gone is no error. */
static void patch_quarantine_status(fb_controller *c, const char *ns, const char *name,
                                    cJSON *status, const char *failure_msg)
{
	cJSON *patch = status_patch(status);
	patch_object(c, &FB_RES_QUARANTINES, ns, name, "status", KC_PATCH_MERGE, patch,
	             failure_msg, true);
	cJSON_Delete(patch);
}

/* A quarantine released by spec.release: the object stays, its status says so. */
static void do_quarantine_released(fb_controller *c, const fb_action *a)
{
	if (!fb__may_write(c))
		return;
	char ts[KC_TIME_STR_MAX], msg[128];
	kc_time_format(kc_now_wall_us(), ts);
	snprintf(msg, sizeof(msg), "released by spec.release at %s; taints removed", ts);
	cJSON *status = cJSON_CreateObject();
	if (!cJSON_AddStringToObject(status, "phase", "Released") ||
	    !cJSON_AddStringToObject(status, "message", msg)) {
		cJSON_Delete(status);
		return;
	}
	patch_quarantine_status(c, a->ns, a->name, status, "could not mark the Quarantine released");
}

/* ---- ScaleToZero and restore ---- */

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
 * what restores the workload later. Reads the Quarantine; the decision is
 * fb_scale_quarantine_check's (core/scalepolicy.h). FB_SCALE_DONE if in force.
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
	if (err != KC_OK && err != KC_ERR_NOT_FOUND) {
		rep->err = err;
		snprintf(rep->why, sizeof(rep->why), "reading its Quarantine: %s: %.200s",
		         kc_strerror(err), d.message);
		return FB_SCALE_FAILED;
	}
	fb_scale_quarantine_view v = { 0 };
	if (err == KC_OK) {
		const cJSON *meta = cJSON_GetObjectItemCaseSensitive(q, "metadata");
		const cJSON *spec = cJSON_GetObjectItemCaseSensitive(q, "spec");
		const cJSON *wl = cJSON_GetObjectItemCaseSensitive(spec, "workload");
		const cJSON *wk = cJSON_GetObjectItemCaseSensitive(wl, "kind");
		const cJSON *wn = cJSON_GetObjectItemCaseSensitive(wl, "name");
		v = (fb_scale_quarantine_view){
			.exists = true,
			.workload_kind = cJSON_IsString(wk) ? wk->valuestring : NULL,
			.workload_name = cJSON_IsString(wn) ? wn->valuestring : NULL,
			.release = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(spec, "release")),
			.deleting = cJSON_GetObjectItemCaseSensitive(meta, "deletionTimestamp") != NULL,
		};
	}
	fb_scale_result r = fb_scale_quarantine_check(&v, a->ns, a->quarantine, a->workload.kind,
	                                              a->name, rep->why, sizeof(rep->why));
	if (!v.exists)
		rep->err = KC_ERR_NOT_FOUND;
	cJSON_Delete(q);
	return r;
}

/* Record the count in the Quarantine's status.scaledFromReplicas (a restarted core reads it). */
static void record_scaled_from(fb_controller *c, const fb_action *a, int64_t from)
{
	cJSON *status = cJSON_CreateObject();
	if (!cJSON_AddNumberToObject(status, "scaledFromReplicas", (double)from)) {
		cJSON_Delete(status);
		return;
	}
	patch_quarantine_status(c, a->ns, a->quarantine, status,
	                        "could not record the replica count in the Quarantine");
}

/* The log line and Event of a scale or restore that was done. */
static void report_scale_done(fb_controller *c, const fb_action *a, bool restore,
                              const fb_scale_report *rep)
{
	const char *k = a->workload.kind;
	if (!restore) {
		fb_log(FB_WARN, "workload scaled to zero",
		       "workload=%s/%s/%s from=%lld quarantine=%s kept_annotation=%s", k, a->ns,
		       a->name, (long long)rep->from, a->quarantine,
		       rep->kept_annotation ? "true" : "false");
		scale_event(c, a, FB_REASON_SCALED_TO_ZERO,
		            "%s %s/%s scaled from %lld to 0 replicas by quarantine %s; restored on "
		            "release (annotation %s)", k, a->ns, a->name, (long long)rep->from,
		            a->quarantine, FB_REPLICAS_ANNOTATION);
		record_scaled_from(c, a, rep->from);
	} else if (rep->nothing_to_do) {
		fb_log(FB_INFO, "nothing to restore", "workload=%s/%s/%s replicas=%lld", k, a->ns,
		       a->name, (long long)rep->to);
	} else if (rep->changed_meanwhile) {
		fb_log(FB_INFO, "workload replicas changed during the quarantine; left as they are",
		       "workload=%s/%s/%s replicas=%lld before=%lld", k, a->ns, a->name,
		       (long long)rep->to, (long long)rep->from);
		scale_event(c, a, FB_REASON_SCALE_RESTORED,
		            "%s %s/%s left at %lld replica%s on release: scaled by someone else "
		            "since quarantine %s took it from %lld to 0", k, a->ns, a->name,
		            (long long)rep->to, rep->to == 1 ? "" : "s", a->quarantine,
		            (long long)rep->from);
	} else {
		fb_log(FB_INFO, "workload replicas restored", "workload=%s/%s/%s replicas=%lld", k,
		       a->ns, a->name, (long long)rep->to);
		scale_event(c, a, FB_REASON_SCALE_RESTORED,
		            "%s %s/%s restored to %lld replica%s: quarantine %s released", k, a->ns,
		            a->name, (long long)rep->to, rep->to == 1 ? "" : "s", a->quarantine);
	}
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
	if (!fb__may_write(c))
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
		report_scale_done(c, a, restore, &rep);
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
	fb_core_scale_result(c->core, &a->workload, restore, r, fb__wall_ms());
	pthread_mutex_unlock(&c->lock);
}

/* ---- the quarantine gate and finalizer ---- */

/*
 * Remove our scheduling gate from a pod (released quarantine). A strategic
 * merge patch deletes the one entry by its merge key (schedulingGates is a
 * list of objects keyed by name, patchStrategy merge): other gates stay, and
 * a pod without our gate is left as it is. The API server allows a gate to be
 * removed, never added, after creation (ValidatePodUpdate).
 */
static void do_ungate(fb_controller *c, const fb_action *a)
{
	if (!fb__may_write(c))
		return;
	cJSON *patch = cJSON_CreateObject();
	cJSON *spec = cJSON_AddObjectToObject(patch, "spec");
	cJSON *gates = cJSON_AddArrayToObject(spec, "schedulingGates");
	cJSON *del = cJSON_CreateObject();
	if (!patch || !spec || !gates || !del || !cJSON_AddStringToObject(del, "$patch", "delete") ||
	    !cJSON_AddStringToObject(del, "name", FB_QUARANTINE_GATE)) {
		cJSON_Delete(del);
		cJSON_Delete(patch);
		return;
	}
	cJSON_AddItemToArray(gates, del);
	kc_err err = patch_object(c, &KC_RES_PODS, a->ns, a->name, NULL, KC_PATCH_STRATEGIC, patch,
	                          "could not remove the quarantine gate", true);
	cJSON_Delete(patch);
	if (err == KC_OK)
		fb_log(FB_INFO, "quarantine gate removed", "pod=%s/%s", a->ns, a->name);
	fb_metrics_add(c->metrics, "firebreak_quarantine_ungates_total",
	               err == KC_OK || err == KC_ERR_NOT_FOUND ? "result=\"done\""
	                                                       : "result=\"failed\"", 1);
}

static void do_quarantine_status(fb_controller *c, const fb_action *a)
{
	if (!fb__may_write(c) || !a->verdict)
		return;
	cJSON *ops = fb_render_quarantine_status_patch(a->verdict);
	patch_object(c, &FB_RES_QUARANTINES, a->ns, a->name, "status", KC_PATCH_JSON, ops,
	             "could not update the Quarantine status", true);
	cJSON_Delete(ops);
}

/*
 * Our finalizer, added (HOLD: `index` = how many the object has) or removed
 * (FINALIZE: at `index`). JSON Patch, so that other finalizers are never
 * touched; the removal tests that the entry is still ours, so a list changed
 * meanwhile fails the patch (422) instead of removing someone else's, and the
 * core tries again on the next observation.
 */
static void do_finalizer(fb_controller *c, const fb_action *a)
{
	if (!fb__may_write(c))
		return;
	bool add = a->kind == FB_ACT_QUARANTINE_HOLD;
	char path[64];
	cJSON *ops = cJSON_CreateArray();
	if (!ops)
		return;
	if (add) {
		cJSON *op = cJSON_CreateObject();
		cJSON_AddItemToArray(ops, op);
		cJSON_AddStringToObject(op, "op", "add");
		if (a->index > 0) {
			cJSON_AddStringToObject(op, "path", "/metadata/finalizers/-");
			cJSON_AddStringToObject(op, "value", FB_QUARANTINE_FINALIZER);
		} else {
			cJSON_AddStringToObject(op, "path", "/metadata/finalizers");
			cJSON *v = cJSON_AddArrayToObject(op, "value");
			cJSON_AddItemToArray(v, cJSON_CreateString(FB_QUARANTINE_FINALIZER));
		}
	} else {
		snprintf(path, sizeof(path), "/metadata/finalizers/%d", a->index);
		cJSON *test = cJSON_CreateObject(), *rm = cJSON_CreateObject();
		cJSON_AddItemToArray(ops, test);
		cJSON_AddItemToArray(ops, rm);
		cJSON_AddStringToObject(test, "op", "test");
		cJSON_AddStringToObject(test, "path", path);
		cJSON_AddStringToObject(test, "value", FB_QUARANTINE_FINALIZER);
		cJSON_AddStringToObject(rm, "op", "remove");
		cJSON_AddStringToObject(rm, "path", path);
	}
	kc_err err = patch_object(c, &FB_RES_QUARANTINES, a->ns, a->name, NULL, KC_PATCH_JSON, ops,
	                          add ? "could not add the Quarantine finalizer"
	                              : "could not remove the Quarantine finalizer", true);
	cJSON_Delete(ops);
	if (err == KC_OK)
		fb_log(add ? FB_INFO : FB_WARN,
		       add ? "Quarantine finalizer added" : "Quarantine released and finalized",
		       "quarantine=%s/%s", a->ns, a->name);
}

/* What a cover or uncover needs of a pod, copied out of the informer's cache. */
typedef struct pod_copy {
	const char *uid;               /* the action's: a pod of the same name but another uid
	                                  is not the one the core judged */
	bool found, nomem;
	char *tolerations, *resource_version;
	fb_tol_record record, full;
	bool annotated, k8s_evicts, shortened;
} pod_copy;

static void copy_pod(const char *key, const void *obj, void *ud)
{
	const fb_pod_proj *p = obj;
	pod_copy *pc = ud;
	if (!p->uid || strcmp(p->uid, pc->uid) != 0)
		return;
	pc->found = true;
	pc->tolerations = p->tolerations ? kc_strdup(p->tolerations) : NULL;
	pc->resource_version = p->resource_version ? kc_strdup(p->resource_version) : NULL;
	/* a write without its precondition could undo a change made since: none then */
	pc->nomem = (p->tolerations && !pc->tolerations) ||
	            (p->resource_version && !pc->resource_version);
	pc->record = p->record;
	pc->full = p->full;
	pc->annotated = p->annotated;
	pc->k8s_evicts = p->k8s_evicts;
	pc->shortened = p->shortened;
}

/* The pod read from the API server into pc (its copy in the informer keeps no tolerations:
 * a covered pod handed back in managed mode, project.h); false when it cannot be read. */
static bool read_pod(fb_controller *c, const fb_action *a, pod_copy *pc)
{
	cJSON *obj = NULL;
	kc_error_detail d;
	kc_detail_clear(&d);
	kc_err err = kc_get(c->client, &KC_RES_PODS, a->ns, a->name, NULL, &obj, &d);
	if (err != KC_OK) {
		if (err != KC_ERR_NOT_FOUND)
			fb_log_api_error(FB_WARN, "cannot read the pod to restore its tolerations", err,
			                 d.message, "pod=%s/%s", a->ns, a->name);
		return false;
	}
	fb_pod_project_opts restore = { .managed = false,
		                        .default_s = c->opts->default_toleration_s };
	fb_pod_proj *p = fb_project_pod(obj, &restore);
	cJSON_Delete(obj);
	kc_free(pc->tolerations);
	kc_free(pc->resource_version);
	pc->tolerations = pc->resource_version = NULL;
	pc->found = pc->nomem = false;
	if (p)
		copy_pod(NULL, p, pc);
	else
		pc->nomem = true;
	fb_pod_proj_free(p, &restore);
	return pc->found && !pc->nomem;
}

/*
 * Managed mode: cover a pod (its failure tolerations' seconds removed and
 * recorded), or, with the mode off, in dry run or on uninstall, give it its
 * seconds back (on a failed node the seconds left, the whole times kept
 * aside), or write a shortened pod's whole times back once its node is up
 * (tolerations.h). Written from the informer's copy of the pod with its
 * resourceVersion as precondition: a pod changed since is refused (409 for the
 * cover's merge patch, 422 for the JSON Patch's failed test) and asked for
 * again by the core after its backoff, once the informer has the new version.
 */
static void do_cover(fb_controller *c, const fb_action *a)
{
	if (!fb__may_write(c))
		return;
	bool cover = a->kind == FB_ACT_COVER, lengthen = !cover && a->lengthen;
	const char *op = cover ? "op=\"cover\"," : "op=\"uncover\",";
	pod_copy pc = { .uid = a->uid };
	kc_informer_get(fb__informer(c, FB_INF_PODS), a->ns, a->name, copy_pod, &pc);
	if (pc.found && !pc.nomem && !cover && pc.annotated && !pc.tolerations &&
	    !read_pod(c, a, &pc) && !pc.nomem)
		goto out;
	if (pc.nomem) {
		fb_log(FB_WARN, "out of memory; the pod is asked for again later", "pod=%s/%s",
		       a->ns, a->name);
		goto out;
	}
	if (!pc.found || (cover ? !pc.k8s_evicts : lengthen ? !pc.shortened : !pc.annotated) ||
	    !pc.tolerations || !pc.resource_version)
		goto out; /* gone, or done already: the core sees it next */
	fb_tol_record rec = pc.record;
	if (!cover) { /* on a failed node: the seconds left, not the whole time (fb_action) */
		if (a->left_not_ready_s >= 0 && rec.not_ready_s > a->left_not_ready_s)
			rec.not_ready_s = a->left_not_ready_s;
		if (a->left_unreachable_s >= 0 && rec.unreachable_s > a->left_unreachable_s)
			rec.unreachable_s = a->left_unreachable_s;
	}
	cJSON *patch = NULL;
	kc_err err = cover ? fb_tolerations_pod_patch(pc.tolerations, pc.resource_version,
	                                              pc.annotated ? &rec : NULL, true,
	                                              c->opts->default_toleration_s, &patch)
	             : lengthen ? fb_tolerations_lengthen_patch(pc.tolerations, pc.resource_version,
	                                                        &pc.full, &patch)
	                        : fb_tolerations_restore_patch(pc.tolerations, pc.resource_version,
	                                                       &rec, &pc.record, &patch);
	if (err == KC_ERR_TOOBIG) /* covering only: a restore writes just what changes */
		fb_log(FB_WARN, "pod not covered: a tolerationSeconds of it is not a whole number "
		       "below 2^53, which firebreak cannot write back exactly", "pod=%s/%s",
		       a->ns, a->name);
	if (err == KC_OK && patch)
		err = patch_object(c, &KC_RES_PODS, a->ns, a->name, NULL,
		                   cover ? KC_PATCH_MERGE : KC_PATCH_JSON, patch,
		                   cover ? "could not cover the pod's tolerations"
		                         : "could not restore the pod's tolerations", true);
	cJSON_Delete(patch);
	char labels[64];
	snprintf(labels, sizeof(labels), "%sresult=\"%s\"", op,
	         err == KC_OK || err == KC_ERR_NOT_FOUND ? "done"
	         : err == KC_ERR_CONFLICT                 ? "conflict"
	                                                  : "failed");
	fb_metrics_add(c->metrics, "firebreak_managed_writes_total", labels, 1);
	const fb_tol_record *wrote = lengthen ? &pc.full : &rec;
	if (err == KC_OK)
		fb_log(FB_DEBUG,
		       cover ? "pod covered" : lengthen ? "pod given its whole tolerations back"
		                                        : "pod tolerations restored",
		       "pod=%s/%s node=%s not_ready_s=%lld unreachable_s=%lld", a->ns, a->name,
		       a->node[0] ? a->node : "(none)", (long long)wrote->not_ready_s,
		       (long long)wrote->unreachable_s);
out:
	kc_free(pc.tolerations);
	kc_free(pc.resource_version);
}

/* ---- dispatch ---- */

void fb__execute(fb_controller *c, const fb_actions *acts)
{
	for (size_t i = 0; i < acts->n; i++) {
		const fb_action *a = &acts->v[i];
		/* --restore-tolerations gives pods their seconds back and does nothing else: no
		 * eviction, verdict or Event from a process that only runs while uninstalling */
		if (c->opts->restore_only && a->kind != FB_ACT_UNCOVER)
			continue;
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
		case FB_ACT_UNGATE:
			do_ungate(c, a);
			break;
		case FB_ACT_QUARANTINE_STATUS:
			do_quarantine_status(c, a);
			break;
		case FB_ACT_QUARANTINE_HOLD:
		case FB_ACT_QUARANTINE_FINALIZE:
			do_finalizer(c, a);
			break;
		case FB_ACT_COVER:
		case FB_ACT_UNCOVER:
			do_cover(c, a);
			break;
		}
	}
}
