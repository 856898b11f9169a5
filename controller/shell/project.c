/* project.c - projections of Nodes, Pods, EvictionBudgets and Quarantines (see project.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kc/alloc.h"
#include "kc/time.h"
#include "project.h"

static const cJSON *get(const cJSON *obj, const char *name)
{
	return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, name) : NULL;
}

/* The named member if it is an array, else NULL (safe for cJSON_ArrayForEach). */
static const cJSON *arr(const cJSON *obj, const char *name)
{
	const cJSON *it = get(obj, name);
	return cJSON_IsArray(it) ? it : NULL;
}

static const char *str(const cJSON *obj, const char *name)
{
	const cJSON *it = get(obj, name);
	return cJSON_IsString(it) ? it->valuestring : NULL;
}

/* Wall-clock ms of an RFC 3339 string member; 0 when absent or malformed. */
static int64_t time_ms(const cJSON *obj, const char *name)
{
	int64_t us;
	const char *s = str(obj, name);
	return s && kc_time_parse(s, &us) == KC_OK ? us / 1000 : 0;
}

static bool dup_opt(char **dst, const char *src)
{
	*dst = NULL;
	return !src || (*dst = kc_strdup(src)) != NULL;
}

static fb_cond cond_of(const char *status)
{
	if (!status)
		return FB_COND_NONE;
	if (strcmp(status, "True") == 0)
		return FB_COND_TRUE;
	if (strcmp(status, "False") == 0)
		return FB_COND_FALSE;
	return FB_COND_UNKNOWN;
}

/*
 * firebreak-node's condition (FB_CONDITION_UNACCOUNTED): the pod its memory is laid at, on
 * one of the grounds the agent names, and when it last said so. Anything else in it,
 * malformed included, lays it at no pod.
 */
static void attribution_of(const cJSON *c, fb_node_proj *n)
{
	static const char *const grounds[] = { "OnlyHolder", "ArrivedBeforeGrowth",
		                               "OnlyHolderArrivedBeforeGrowth" };
	const char *reason = str(c, "reason"), *msg = str(c, "message");
	bool known = false;
	for (size_t i = 0; reason && i < sizeof(grounds) / sizeof(grounds[0]); i++)
		known |= strcmp(reason, grounds[i]) == 0;
	if (!known || cond_of(str(c, "status")) != FB_COND_TRUE || !msg ||
	    strncmp(msg, "pod ", 4) != 0)
		return;
	/* a pod UID: 36 characters of hex and '-', then ':' */
	const char *u = msg + 4;
	for (size_t i = 0; i < 36; i++) {
		char ch = u[i];
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? ch != '-' : !((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return;
	}
	if (u[36] != ':')
		return;
	int64_t at = time_ms(c, "lastHeartbeatTime");
	if (at <= 0)
		at = time_ms(c, "lastTransitionTime");
	if (at <= 0)
		return;
	memcpy(n->attributed_uid, u, 36);
	n->attributed_uid[36] = '\0';
	n->attributed_ms = at;
}

void fb_node_proj_free(void *p, void *ud)
{
	fb_node_proj *n = p;
	if (!n)
		return;
	kc_free(n->name);
	kc_free(n->uid);
	kc_free(n->region);
	kc_free(n->zone);
	kc_free(n->failure_annotation);
	kc_free(n->quarantine_taint);
	fb_labels_release(&n->labels);
	kc_free(n);
}

void *fb_project_node(const cJSON *obj, void *ud)
{
	const cJSON *meta = get(obj, "metadata");
	const char *name = str(meta, "name");
	if (!name)
		return NULL;
	fb_node_proj *n = kc_calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	const cJSON *labels = get(meta, "labels");
	const char *zone = str(labels, "topology.kubernetes.io/zone");
	const char *region = str(labels, "topology.kubernetes.io/region");
	if (!zone)
		zone = str(labels, "failure-domain.beta.kubernetes.io/zone");
	if (!region)
		region = str(labels, "failure-domain.beta.kubernetes.io/region");
	if (!dup_opt(&n->name, name) || !dup_opt(&n->uid, str(meta, "uid")) ||
	    !dup_opt(&n->zone, zone) || !dup_opt(&n->region, region) ||
	    fb_labels_from_json(&n->labels, labels) != 0)
		goto fail;
	n->exclude_disruption = str(labels, FB_LABEL_EXCLUDE_DISRUPTION) != NULL;
	n->created_ms = time_ms(meta, "creationTimestamp");
	const char *failure = str(get(meta, "annotations"), FB_FAILURE_ANNOTATION);
	if (failure && strlen(failure) <= FB_FAILURE_ANNOTATION_MAX &&
	    !(n->failure_annotation = kc_strdup(failure)))
		goto fail;
	const cJSON *t;
	const cJSON *taints = arr(get(obj, "spec"), "taints");
	cJSON_ArrayForEach(t, taints) {
		const char *key = str(t, "key");
		if (key && strcmp(key, FB_QUARANTINE_TAINT_KEY) == 0) {
			if (!dup_opt(&n->quarantine_taint, str(t, "value") ? str(t, "value") : ""))
				goto fail;
			break;
		}
	}
	const cJSON *conds = arr(get(obj, "status"), "conditions");
	const cJSON *c;
	cJSON_ArrayForEach(c, conds) {
		const char *type = str(c, "type");
		if (!type)
			continue;
		if (strcmp(type, "Ready") == 0) {
			n->ready = cond_of(str(c, "status"));
			n->ready_transition_ms = time_ms(c, "lastTransitionTime");
		} else if (strcmp(type, "MemoryPressure") == 0) {
			n->memory_pressure = cond_of(str(c, "status")) == FB_COND_TRUE;
		} else if (strcmp(type, FB_CONDITION_UNACCOUNTED) == 0) {
			attribution_of(c, n);
		}
	}
	return n;
fail:
	fb_node_proj_free(n, ud);
	return NULL;
}

void fb_node_proj_obs(const fb_node_proj *n, fb_node_obs *out)
{
	*out = (fb_node_obs){ .name = n->name, .uid = n->uid, .region = n->region,
	                      .zone = n->zone, .labels = &n->labels, .ready = n->ready,
	                      .ready_transition_ms = n->ready_transition_ms,
	                      .exclude_disruption = n->exclude_disruption,
	                      .memory_pressure = n->memory_pressure,
	                      .created_ms = n->created_ms,
	                      .failure_annotation = n->failure_annotation,
	                      .quarantine_taint = n->quarantine_taint,
	                      .attributed_pod_uid = n->attributed_uid,
	                      .attributed_ms = n->attributed_ms };
}

void fb_pod_proj_free(void *p, void *ud)
{
	fb_pod_proj *pod = p;
	if (!pod)
		return;
	kc_free(pod->ns);
	kc_free(pod->name);
	kc_free(pod->uid);
	kc_free(pod->node);
	kc_free(pod->owner_kind);
	kc_free(pod->owner_name);
	kc_free(pod->template_hash);
	kc_free(pod->tolerations);
	kc_free(pod->resource_version);
	kc_free(pod);
}

/*
 * The failure tolerations as firebreak honours them: the spec's
 * (tolerations.h), except that a key the pod tolerates forever takes the
 * seconds its FB_ANNOTATION_TOLERATIONS records (a pod covered in managed
 * mode). And what a rewrite needs, for the pods that may need one.
 */
static int project_tolerations(fb_pod_proj *p, const cJSON *meta, const cJSON *tols, void *ud)
{
	const fb_pod_project_opts *o = ud;
	int64_t default_s = o ? o->default_s : FB_DEFAULT_TOLERATION_S;
	const char *ann = str(get(meta, "annotations"), FB_ANNOTATION_TOLERATIONS);
	fb_tol_record_clear(&p->record);
	p->annotated = ann != NULL;
	/* a record damaged after the pod was created (the webhook removes one it cannot read):
	 * a key the pod tolerates forever is firebreak's doing, so it is read, and given back,
	 * at the default rather than left to tolerate forever with no one evicting it */
	if (ann && fb_tol_record_parse(ann, &p->record) != 0) {
		p->record_malformed = true;
		p->record.not_ready_s = p->record.unreachable_s = default_s;
	}
	int64_t nr = fb_toleration_s(tols, FB_TAINT_NOT_READY);
	int64_t ur = fb_toleration_s(tols, FB_TAINT_UNREACHABLE);
	/* given back on a failed node with the seconds left: evicted at failedSince + the
	 * whole time, as the taint-eviction controller now will */
	const char *full = str(get(meta, "annotations"), FB_ANNOTATION_TOLERATIONS_FULL);
	p->shortened = full && fb_tol_record_parse(full, &p->full) == 0;
	if (!p->shortened)
		fb_tol_record_clear(&p->full);
	if (p->full.not_ready_s >= 0 && nr >= 0 && nr < p->full.not_ready_s)
		nr = p->full.not_ready_s;
	if (p->full.unreachable_s >= 0 && ur >= 0 && ur < p->full.unreachable_s)
		ur = p->full.unreachable_s;
	p->k8s_evicts = nr != FB_TOL_FOREVER || ur != FB_TOL_FOREVER;
	p->tol_not_ready_s = nr == FB_TOL_FOREVER && p->record.not_ready_s >= 0
	                             ? p->record.not_ready_s : nr;
	p->tol_unreachable_s = ur == FB_TOL_FOREVER && p->record.unreachable_s >= 0
	                               ? p->record.unreachable_s : ur;
	bool keep = o && (p->shortened || (o->managed ? p->k8s_evicts : p->annotated));
	if (!keep)
		return 0;
	p->tolerations = cJSON_IsArray(tols) ? cJSON_PrintUnformatted(tols) : kc_strdup("[]");
	return p->tolerations && dup_opt(&p->resource_version, str(meta, "resourceVersion")) ? 0 : -1;
}

#define KUBELET_MEMORY_EVICTION "The node was low on resource: memory."

static bool starts_with(const char *s, const char *prefix)
{
	return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

void *fb_project_pod(const cJSON *obj, void *ud)
{
	const cJSON *meta = get(obj, "metadata");
	const cJSON *spec = get(obj, "spec");
	const cJSON *status = get(obj, "status");
	const char *name = str(meta, "name");
	if (!name)
		return NULL;
	fb_pod_proj *p = kc_calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	const char *owner_kind = NULL, *owner_name = NULL;
	const cJSON *ref;
	const cJSON *refs = arr(meta, "ownerReferences");
	cJSON_ArrayForEach(ref, refs) {
		if (cJSON_IsTrue(get(ref, "controller"))) {
			owner_kind = str(ref, "kind");
			owner_name = str(ref, "name");
			break;
		}
	}
	if (!dup_opt(&p->name, name) || !dup_opt(&p->ns, str(meta, "namespace")) ||
	    !dup_opt(&p->uid, str(meta, "uid")) || !dup_opt(&p->node, str(spec, "nodeName")) ||
	    !dup_opt(&p->owner_kind, owner_kind) || !dup_opt(&p->owner_name, owner_name) ||
	    !dup_opt(&p->template_hash, str(get(meta, "labels"), "pod-template-hash")))
		goto fail;
	p->daemonset = owner_kind && strcmp(owner_kind, "DaemonSet") == 0;
	p->mirror = str(get(meta, "annotations"), FB_ANNOTATION_MIRROR) != NULL;
	const char *skip = str(get(meta, "labels"), FB_WEBHOOK_SKIP_LABEL);
	p->gate_exempt = skip && strcmp(skip, FB_WEBHOOK_SKIP_VALUE) == 0;
	p->terminating = str(meta, "deletionTimestamp") != NULL;
	const char *phase = str(status, "phase");
	p->terminal = phase && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0);
	if (project_tolerations(p, meta, get(spec, "tolerations"), ud) != 0)
		goto fail;
	p->created_ms = p->arrived_ms = time_ms(meta, "creationTimestamp");
	const cJSON *g;
	const cJSON *gates = arr(spec, "schedulingGates");
	cJSON_ArrayForEach(g, gates) {
		const char *gname = str(g, "name");
		if (gname && strcmp(gname, FB_QUARANTINE_GATE) == 0)
			p->gated = true;
	}
	/* kubelet's eviction manager (pkg/kubelet/eviction: evictPod) fails the pod with reason
	 * Evicted, message "The node was low on resource: memory. ...", and the condition
	 * DisruptionTarget (TerminationByKubelet), whose transition says when */
	const char *reason = str(status, "reason"), *message = str(status, "message");
	bool memory_evicted = p->terminal && reason && strcmp(reason, "Evicted") == 0 &&
	                      starts_with(message, KUBELET_MEMORY_EVICTION);
	const cJSON *c;
	const cJSON *conds = arr(status, "conditions");
	cJSON_ArrayForEach(c, conds) {
		const char *type = str(c, "type");
		if (!type || cond_of(str(c, "status")) != FB_COND_TRUE)
			continue;
		if (strcmp(type, "PodScheduled") == 0 && time_ms(c, "lastTransitionTime"))
			p->arrived_ms = time_ms(c, "lastTransitionTime");
		const char *why = str(c, "reason");
		if (memory_evicted && strcmp(type, "DisruptionTarget") == 0 && why &&
		    strcmp(why, "TerminationByKubelet") == 0)
			p->memory_evicted_ms = time_ms(c, "lastTransitionTime");
	}
	return p;
fail:
	fb_pod_proj_free(p, ud);
	return NULL;
}

/* "<prefix>-<suffix>": the length of prefix if the name ends so, else 0. */
static size_t strip_suffix(const char *name, const char *suffix)
{
	size_t n = strlen(name), s = strlen(suffix);
	if (!s || n < s + 2 || name[n - s - 1] != '-' || strcmp(name + n - s, suffix) != 0)
		return 0;
	return n - s - 1;
}

/* A Job named by the cronjob controller: "<cronjob>-<minutes since the epoch>". */
static size_t cronjob_prefix(const char *job)
{
	const char *dash = strrchr(job, '-');
	if (!dash || dash == job)
		return 0;
	long long minutes = 0;
	const char *p = dash + 1;
	if (!*p)
		return 0;
	for (; *p; p++) {
		if (*p < '0' || *p > '9' || minutes > 1000000000LL)
			return 0;
		minutes = minutes * 10 + (*p - '0');
	}
	/* 2000-01-01 .. 2200-01-01 in minutes */
	if (minutes < 15778080LL || minutes > 120000000LL)
		return 0;
	return (size_t)(dash - job);
}

void fb_pod_proj_obs(const fb_pod_proj *p, fb_pod_obs *out, fb_workload_ref *wl)
{
	const char *ns = p->ns ? p->ns : "";
	char name[FB_NAME_MAX];
	size_t len;
	int rc;
	if (p->owner_kind && p->owner_name && !strcmp(p->owner_kind, "ReplicaSet") &&
	    p->template_hash && (len = strip_suffix(p->owner_name, p->template_hash)) > 0) {
		snprintf(name, sizeof(name), "%.*s", (int)len, p->owner_name);
		rc = fb_workload_ref_set(wl, "Deployment", ns, name);
	} else if (p->owner_kind && p->owner_name && !strcmp(p->owner_kind, "Job") &&
	           (len = cronjob_prefix(p->owner_name)) > 0) {
		snprintf(name, sizeof(name), "%.*s", (int)len, p->owner_name);
		rc = fb_workload_ref_set(wl, "CronJob", ns, name);
	} else if (p->owner_kind && p->owner_name) {
		rc = fb_workload_ref_set(wl, p->owner_kind, ns, p->owner_name);
	} else {
		rc = fb_workload_ref_set(wl, "Pod", ns, p->name);
	}
	*out = (fb_pod_obs){ .ns = p->ns, .name = p->name, .uid = p->uid, .node = p->node,
	                     .workload = rc == 0 ? wl : NULL, .daemonset = p->daemonset,
	                     .mirror = p->mirror, .terminating = p->terminating,
	                     .terminal = p->terminal, .tol_not_ready_s = p->tol_not_ready_s,
	                     .tol_unreachable_s = p->tol_unreachable_s,
	                     .arrived_ms = p->arrived_ms, .created_ms = p->created_ms,
	                     .gated = p->gated, .gate_exempt = p->gate_exempt,
	                     .k8s_evicts = p->k8s_evicts, .annotated = p->annotated,
	                     .shortened = p->shortened,
	                     .memory_evicted_ms = p->memory_evicted_ms };
}

void fb_budget_proj_free(void *p, void *ud)
{
	fb_budget_proj *b = p;
	if (!b)
		return;
	kc_free(b->name);
	cJSON_Delete(b->spec);
	kc_free(b->admissions);
	kc_free(b);
}

void *fb_project_budget(const cJSON *obj, void *ud)
{
	const cJSON *meta = get(obj, "metadata");
	const char *name = str(meta, "name");
	if (!name)
		return NULL;
	fb_budget_proj *b = kc_calloc(1, sizeof(*b));
	if (!b || !(b->name = kc_strdup(name)))
		goto fail;
	const cJSON *gen = get(meta, "generation");
	/* range-checked before converting: the input is untrusted */
	b->generation = cJSON_IsNumber(gen) && gen->valuedouble >= 0 && gen->valuedouble < 9e15
	                        ? (int64_t)gen->valuedouble
	                        : 0;
	const cJSON *spec = get(obj, "spec");
	b->spec = spec ? cJSON_Duplicate(spec, true) : cJSON_CreateObject();
	if (!b->spec)
		goto fail;
	const cJSON *adm = get(get(obj, "status"), "admissions");
	int n = cJSON_IsArray(adm) ? cJSON_GetArraySize(adm) : 0;
	if (n > FB_BUDGET_ADMISSIONS_MAX)
		n = FB_BUDGET_ADMISSIONS_MAX;
	if (n > 0) {
		b->admissions = kc_calloc((size_t)n, sizeof(fb_admission));
		if (!b->admissions)
			goto fail;
		const cJSON *a;
		cJSON_ArrayForEach(a, adm) {
			if (b->nadmissions == (size_t)n)
				break;
			const char *node = str(a, "node");
			int64_t at = time_ms(a, "time");
			if (!node || !at)
				continue; /* a damaged entry is skipped, not fatal */
			fb_admission *dst = &b->admissions[b->nadmissions++];
			snprintf(dst->node, sizeof(dst->node), "%s", node);
			dst->at_ms = at;
		}
	}
	return b;
fail:
	fb_budget_proj_free(b, ud);
	return NULL;
}

void fb_quarantine_proj_free(void *p, void *ud)
{
	fb_quarantine_proj *q = p;
	if (!q)
		return;
	kc_free(q->ns);
	kc_free(q->name);
	kc_free(q->kind);
	kc_free(q->workload);
	kc_free(q);
}

void *fb_project_quarantine(const cJSON *obj, void *ud)
{
	const cJSON *meta = get(obj, "metadata");
	const cJSON *spec = get(obj, "spec");
	const cJSON *wl = get(spec, "workload");
	const char *name = str(meta, "name"), *ns = str(meta, "namespace");
	const char *kind = str(wl, "kind"), *wname = str(wl, "name");
	/* Not one we can act on (the schema requires these): projected empty and
	 * ignored, since NULL would mean "out of memory, retry" to the informer. */
	if (!ns || !kind || !wname || strchr(kind, '/') || strchr(wname, '/'))
		kind = wname = NULL;
	fb_quarantine_proj *q = kc_calloc(1, sizeof(*q));
	if (!q || !dup_opt(&q->ns, ns) || !dup_opt(&q->name, name) || !dup_opt(&q->kind, kind) ||
	    !dup_opt(&q->workload, wname)) {
		fb_quarantine_proj_free(q, ud);
		return NULL;
	}
	q->release = cJSON_IsTrue(get(spec, "release"));
	const char *action = str(spec, "action");
	q->action = action && strcmp(action, "ScaleToZero") == 0 ? FB_POISON_SCALE_TO_ZERO
	                                                          : FB_POISON_PIN;
	const cJSON *status = get(obj, "status");
	const cJSON *from = get(status, "scaledFromReplicas");
	/* range-checked before converting: the input is untrusted */
	q->scaled_from = cJSON_IsNumber(from) && from->valuedouble >= 0 &&
	                 from->valuedouble <= 2147483647.0
	                         ? (int64_t)from->valuedouble
	                         : -1;
	const char *phase = str(status, "phase");
	q->phase_released = phase && strcmp(phase, "Released") == 0;
	q->deleting = str(meta, "deletionTimestamp") != NULL;
	q->created_ms = time_ms(meta, "creationTimestamp");
	q->finalizer_index = -1;
	const cJSON *f;
	const cJSON *fins = arr(meta, "finalizers");
	cJSON_ArrayForEach(f, fins) {
		if (cJSON_IsString(f) && strcmp(f->valuestring, FB_QUARANTINE_FINALIZER) == 0 &&
		    q->finalizer_index < 0)
			q->finalizer_index = q->nfinalizers;
		q->nfinalizers++;
	}
	return q;
}

int fb_quarantine_proj_obs(const fb_quarantine_proj *q, fb_quarantine_obs *out)
{
	*out = (fb_quarantine_obs){ .ns = q->ns, .name = q->name, .released = q->release,
	                            .action = q->action, .scaled_from = q->scaled_from,
	                            .phase_released = q->phase_released,
	                            .deleting = q->deleting,
	                            .finalizer_index = q->finalizer_index,
	                            .nfinalizers = q->nfinalizers, .created_ms = q->created_ms };
	return fb_workload_ref_set(&out->workload, q->kind, q->ns, q->workload);
}

/* ---- Events: signs of memory pressure on a node ---- */

void fb_event_proj_free(void *p, void *ud)
{
	fb_event_proj *e = p;
	if (!e)
		return;
	kc_free(e->node);
	kc_free(e->reason);
	kc_free(e);
}

/* Whether an events.k8s.io/v1 Event of reason, note, from controller (reportingController),
 * says its node ran short of memory. */
static bool memory_sign(const char *reason, const char *note, const char *controller)
{
	if (!reason)
		return false;
	/* firebreak-node's act mode found the node about to thrash with memory no cgroup counts
	 * (docs/operations.md §9): it killed the pod the memory was laid at, or a rule forbade it */
	if (controller && strcmp(controller, "firebreak.dev/firebreak-node") == 0)
		return strcmp(reason, "UnaccountedMemoryKilled") == 0 ||
		       strcmp(reason, "UnaccountedMemoryNotKilled") == 0;
	if (strcmp(reason, "SystemOOM") == 0)
		return true;
	if (strcmp(reason, "EvictionThresholdMet") == 0)
		return note && strcmp(note, "Attempting to reclaim memory") == 0;
	if (strcmp(reason, "OOMKilling") == 0)
		return starts_with(note, "Out of memory");
	return false;
}

void *fb_project_event(const cJSON *obj, void *ud)
{
	fb_event_proj *e = kc_calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	const cJSON *regarding = get(obj, "regarding");
	const char *kind = str(regarding, "kind"), *node = str(regarding, "name");
	const char *reason = str(obj, "reason");
	if (!kind || strcmp(kind, "Node") != 0 || !node || !node[0] ||
	    !memory_sign(reason, str(obj, "note"), str(obj, "reportingController")))
		return e; /* nothing of it kept */
	/* its latest occurrence: a series' last, else the latest of the times it carries */
	int64_t at = time_ms(get(obj, "series"), "lastObservedTime");
	const char *times[] = { "eventTime", "deprecatedLastTimestamp", "deprecatedFirstTimestamp" };
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		int64_t t = time_ms(obj, times[i]);
		if (t > at)
			at = t;
	}
	if (at <= 0)
		at = time_ms(get(obj, "metadata"), "creationTimestamp");
	if (at <= 0)
		return e; /* no time: no evidence of when */
	if (!dup_opt(&e->node, node) || !dup_opt(&e->reason, reason)) {
		fb_event_proj_free(e, ud);
		return NULL;
	}
	e->at_ms = at;
	return e;
}
