/* render.c - API objects from the core's records (see render.h). */
#include <stdio.h>

#include "core_int.h"
#include "duration.h"
#include "kc/time.h"
#include "render.h"

static void add_time(cJSON *o, const char *key, int64_t ms, int frac_digits)
{
	char ts[KC_TIME_STR_MAX];
	cJSON_AddStringToObject(o, key, kc_time_format_frac(ms * 1000, frac_digits, ts));
}

/* One entry of status.evidence. */
static void add_evidence(cJSON *ev, const char *kind, const char *node, int64_t at_ms,
                         const char *detail)
{
	cJSON *e = cJSON_CreateObject();
	cJSON_AddStringToObject(e, "kind", kind);
	cJSON_AddStringToObject(e, "node", node);
	add_time(e, "time", at_ms, 0);
	cJSON_AddStringToObject(e, "detail", detail);
	cJSON_AddItemToArray(ev, e);
}

/* One failed node of a verdict: its entry in status.nodes, taintedNodes and evidence. */
static void render_node(const fb_quarantine_node *n, cJSON *jn, cJSON *tn, cJSON *ev)
{
	if (n->has_arrival) {
		cJSON *jnode = cJSON_CreateObject();
		cJSON_AddStringToObject(jnode, "name", n->name);
		add_time(jnode, "arrivedAt", n->arrived_ms, 0);
		add_time(jnode, "failedAt", n->failed_ms, 0);
		if (n->migrated_from)
			cJSON_AddStringToObject(jnode, "migratedFrom", n->migrated_from);
		cJSON_AddItemToArray(jn, jnode);
		char detail[300], abuf[32];
		snprintf(detail, sizeof(detail), "pod %s arrived %s before the node failed", n->pod,
		         ago(n->failed_ms - n->arrived_ms, abuf, sizeof(abuf)));
		add_evidence(ev, "Arrival", n->name, n->arrived_ms, detail);
		if (n->migrated_from) {
			snprintf(detail, sizeof(detail),
			         "its previous pod was on node %s, which had failed", n->migrated_from);
			add_evidence(ev, "MigrationChain", n->name, n->arrived_ms, detail);
		}
		if (n->memory_pressure)
			add_evidence(ev, "MemoryPressure", n->name, n->failed_ms,
			             "MemoryPressure was True before the node failed");
		if (n->attributed) {
			snprintf(detail, sizeof(detail),
			         "firebreak-node laid the node's unaccounted memory at pod %s before it "
			         "failed (condition UnaccountedMemory)", n->pod);
			add_evidence(ev, "Attribution", n->name, n->failed_ms, detail);
		}
	}
	if (n->tainted)
		cJSON_AddItemToArray(tn, cJSON_CreateString(n->name));
}

cJSON *fb_render_quarantine(const fb_quarantine_record *q)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *meta = cJSON_AddObjectToObject(o, "metadata");
	cJSON *labels = cJSON_AddObjectToObject(meta, "labels");
	cJSON *spec = cJSON_AddObjectToObject(o, "spec");
	cJSON *wl = cJSON_AddObjectToObject(spec, "workload");
	cJSON *st = cJSON_AddObjectToObject(o, "status");
	cJSON *jn = cJSON_AddArrayToObject(st, "nodes");
	cJSON *tn = cJSON_AddArrayToObject(st, "taintedNodes");
	cJSON *ev = cJSON_AddArrayToObject(st, "evidence");
	if (!o || !meta || !labels || !spec || !wl || !st || !jn || !tn || !ev) {
		cJSON_Delete(o);
		return NULL;
	}
	cJSON_AddStringToObject(o, "apiVersion", "firebreak.dev/v1alpha1");
	cJSON_AddStringToObject(o, "kind", "Quarantine");
	cJSON_AddStringToObject(meta, "name", q->name);
	cJSON_AddStringToObject(meta, "namespace", q->workload.ns);
	cJSON_AddStringToObject(labels, "app.kubernetes.io/managed-by", "firebreak");
	cJSON *fin = cJSON_AddArrayToObject(meta, "finalizers");
	if (fin)
		cJSON_AddItemToArray(fin, cJSON_CreateString(FB_QUARANTINE_FINALIZER));
	const char *av = fb_kind_api_version(q->workload.kind);
	if (av)
		cJSON_AddStringToObject(wl, "apiVersion", av);
	cJSON_AddStringToObject(wl, "kind", q->workload.kind);
	cJSON_AddStringToObject(wl, "name", q->workload.name);
	cJSON_AddStringToObject(spec, "action",
	                        q->action == FB_POISON_SCALE_TO_ZERO ? "ScaleToZero" : "Pin");
	cJSON_AddStringToObject(st, "phase", "Active");
	add_time(st, "declaredAt", q->declared_ms, 0);
	cJSON_AddStringToObject(st, "reason", "RepeatedNodeFailures");
	cJSON_AddStringToObject(st, "message", q->message);
	for (size_t i = 0; i < q->nnodes; i++)
		render_node(&q->nodes[i], jn, tn, ev);
	cJSON_AddNumberToObject(st, "gatedPods", q->gated_pods);
	cJSON_AddNumberToObject(st, "escapedPods", q->escaped_pods);
	return o;
}

/* JSON Patch ops appending every element of arr to the array at path. */
static void append_ops(cJSON *ops, const char *path, cJSON *arr)
{
	cJSON *e;
	while ((e = cJSON_DetachItemFromArray(arr, 0))) {
		cJSON *op = cJSON_CreateObject();
		cJSON_AddStringToObject(op, "op", "add");
		cJSON_AddStringToObject(op, "path", path);
		cJSON_AddItemToObject(op, "value", e);
		cJSON_AddItemToArray(ops, op);
	}
}

static void set_op(cJSON *ops, const char *path, int value)
{
	cJSON *op = cJSON_CreateObject();
	cJSON_AddStringToObject(op, "op", "add"); /* adds or replaces an object member */
	cJSON_AddStringToObject(op, "path", path);
	cJSON_AddNumberToObject(op, "value", value);
	cJSON_AddItemToArray(ops, op);
}

cJSON *fb_render_quarantine_status_patch(const fb_quarantine_record *q)
{
	cJSON *ops = cJSON_CreateArray();
	cJSON *jn = cJSON_CreateArray(), *tn = cJSON_CreateArray(), *ev = cJSON_CreateArray();
	if (!ops || !jn || !tn || !ev) {
		cJSON_Delete(ops);
		cJSON_Delete(jn);
		cJSON_Delete(tn);
		cJSON_Delete(ev);
		return NULL;
	}
	for (size_t i = 0; i < q->nnodes; i++)
		render_node(&q->nodes[i], jn, tn, ev);
	append_ops(ops, "/status/nodes/-", jn);
	append_ops(ops, "/status/taintedNodes/-", tn);
	append_ops(ops, "/status/evidence/-", ev);
	set_op(ops, "/status/gatedPods", q->gated_pods);
	set_op(ops, "/status/escapedPods", q->escaped_pods);
	cJSON_Delete(jn);
	cJSON_Delete(tn);
	cJSON_Delete(ev);
	return ops;
}

static cJSON *condition(const fb_budget_condition *cd, int64_t generation, int64_t now_ms)
{
	cJSON *c = cJSON_CreateObject();
	if (!c)
		return NULL;
	cJSON_AddStringToObject(c, "type", cd->type);
	cJSON_AddStringToObject(c, "status", cd->status ? "True" : "False");
	cJSON_AddStringToObject(c, "reason", cd->reason);
	cJSON_AddStringToObject(c, "message", cd->message);
	cJSON_AddNumberToObject(c, "observedGeneration", (double)generation);
	add_time(c, "lastTransitionTime", now_ms, 0);
	return c;
}

cJSON *fb_render_budget_status(const fb_budget_status *s, int64_t now_ms)
{
	cJSON *st = cJSON_CreateObject();
	cJSON *conds = cJSON_AddArrayToObject(st, "conditions");
	cJSON *usage = cJSON_AddArrayToObject(st, "windowUsage");
	cJSON *adm = cJSON_AddArrayToObject(st, "admissions");
	if (!st || !conds || !usage || !adm) {
		cJSON_Delete(st);
		return NULL;
	}
	cJSON_AddNumberToObject(st, "observedGeneration", (double)s->generation);
	cJSON_AddNumberToObject(st, "selectedNodes", s->selected);
	cJSON_AddNumberToObject(st, "unhealthyNodes", s->unhealthy);
	for (size_t i = 0; i < sizeof(s->conditions) / sizeof(s->conditions[0]); i++)
		cJSON_AddItemToArray(conds, condition(&s->conditions[i], s->generation, now_ms));
	char wbuf[32];
	for (int i = 0; i < s->nwindows; i++) {
		cJSON *u = cJSON_CreateObject();
		if (!u)
			break;
		cJSON_AddStringToObject(u, "window",
		                        fb_duration_format(s->windows[i].window_ms, wbuf, sizeof(wbuf)));
		cJSON_AddNumberToObject(u, "maxNodes", s->windows[i].max_nodes);
		cJSON_AddNumberToObject(u, "used", s->windows[i].used);
		cJSON_AddItemToArray(usage, u);
	}
	for (size_t i = 0; i < s->nadmissions; i++) {
		cJSON *a = cJSON_CreateObject();
		if (!a)
			break;
		cJSON_AddStringToObject(a, "node", s->admissions[i].node);
		/* milliseconds kept so that the record round-trips exactly */
		add_time(a, "time", s->admissions[i].at_ms, 3);
		cJSON_AddItemToArray(adm, a);
	}
	if (s->last_applied_spec)
		cJSON_AddItemToObject(st, "lastAppliedSpec",
		                      cJSON_Duplicate(s->last_applied_spec, true));
	return st;
}

cJSON *fb_core_budget_status_json(fb_core *c, const char *name, int64_t now_ms)
{
	fb_budget_status st;
	if (fb_core_budget_status(c, name, now_ms, &st) != 0)
		return NULL;
	return fb_render_budget_status(&st, now_ms);
}
