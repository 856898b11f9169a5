/*
 * project.h - what firebreak keeps of each Node, Pod and EvictionBudget: the
 * few fields the decision core needs, projected out of the API object by the
 * informers (kc/informer.h) so that no JSON document is ever kept.
 *
 * The projection functions are pure and total: any JSON, however malformed,
 * gives either a projection or NULL (out of memory, or not an object with a
 * name), never a crash. They are fuzzed (controller/fuzz).
 */
#ifndef FB_PROJECT_H
#define FB_PROJECT_H

#include <cjson/cJSON.h>

#include "budget.h"
#include "core.h"
#include "selector.h"
#include "tolerations.h"

#define FB_LABEL_EXCLUDE_DISRUPTION "node.kubernetes.io/exclude-disruption"
#define FB_ANNOTATION_MIRROR "kubernetes.io/config.mirror"
/*
 * firebreak-node's Node condition (node-problem-detector's convention: a type of its own).
 * Status True when the node holds memory no cgroup counts; its reason is the grounds the
 * memory is laid at a pod on (OnlyHolder, ArrivedBeforeGrowth, OnlyHolderArrivedBeforeGrowth;
 * NotAttributed: at none), and then its message begins "pod <uid>: ".
 */
#define FB_CONDITION_UNACCOUNTED "UnaccountedMemory"

typedef struct fb_node_proj {
	char *name, *uid;
	char *region, *zone;
	fb_labels labels;
	fb_cond ready;
	int64_t ready_transition_ms;
	int64_t created_ms;             /* metadata.creationTimestamp (0: absent) */
	bool exclude_disruption;
	bool memory_pressure;
	char *failure_annotation;       /* firebreak.dev/failure, if set (capped) */
	char *quarantine_taint;         /* value of a firebreak.dev/quarantine taint, if any */
	char attributed_uid[40];        /* condition UnaccountedMemory laid at this pod ("": none) */
	int64_t attributed_ms;          /* ... its lastHeartbeatTime, else lastTransitionTime */
} fb_node_proj;

typedef struct fb_quarantine_proj {
	char *ns, *name;
	char *kind, *workload;          /* spec.workload kind and name; NULL if unusable */
	bool release;                   /* spec.release */
	fb_poison_action action;        /* spec.action (Pin unless it says ScaleToZero) */
	int64_t scaled_from;            /* status.scaledFromReplicas; -1 if absent or not a count */
	bool phase_released;            /* status.phase == Released */
	bool deleting;                  /* metadata.deletionTimestamp is set */
	int finalizer_index;            /* of FB_QUARANTINE_FINALIZER in metadata.finalizers, or -1 */
	int nfinalizers;
	int64_t created_ms;             /* metadata.creationTimestamp */
} fb_quarantine_proj;

typedef struct fb_pod_proj {
	char *ns, *name, *uid, *node;
	char *owner_kind, *owner_name;  /* the controller ownerReference, if any */
	char *template_hash;            /* label pod-template-hash (Deployment's ReplicaSets) */
	bool daemonset, mirror, terminating, terminal;
	int64_t tol_not_ready_s, tol_unreachable_s;
	int64_t arrived_ms;
	int64_t created_ms;             /* metadata.creationTimestamp */
	bool gated;                     /* spec.schedulingGates holds FB_QUARANTINE_GATE */
	bool gate_exempt;               /* labelled firebreak.dev/webhook=skip */
	int64_t memory_evicted_ms;      /* kubelet evicted it for memory then (0: not; below) */
	/* managed mode (tolerations.h); tol_*_s above already honour the record */
	bool k8s_evicts;                /* the taint-eviction controller would evict it in finite time */
	bool annotated;                 /* carries FB_ANNOTATION_TOLERATIONS */
	bool record_malformed;          /* ... with a value fb_tol_record_parse refuses */
	fb_tol_record record;           /* ... as parsed (a malformed one: the default, both keys) */
	bool shortened;                 /* carries FB_ANNOTATION_TOLERATIONS_FULL (readable): */
	fb_tol_record full;             /* ... its whole times, which tol_*_s honour */
	/* Kept only for a pod firebreak may have to rewrite (fb_pod_project_opts): */
	char *tolerations;              /* spec.tolerations, compact JSON ("[]" when none) */
	char *resource_version;         /* metadata.resourceVersion: the write's precondition */
} fb_pod_proj;

/*
 * How fb_project_pod projects (its ud; NULL = the defaults: not managed,
 * nothing kept, FB_DEFAULT_TOLERATION_S).
 *   - managed: keep tolerations and resourceVersion of a pod the
 *     taint-eviction controller would evict (to adopt it); not managed: of a
 *     pod that carries the annotation (to restore it). Nothing of any other
 *     pod, so that a cluster of covered pods costs no memory for this (the
 *     few covered pods given back in managed mode, on nodes of a dry-run
 *     budget, are read from the API server when they are: executor.c).
 *   - default_s: what an annotation fb_tol_record_parse refuses records, for
 *     both keys (record_malformed says so). The webhook removes such a value
 *     from a new pod, so it is one damaged since: a key the pod tolerates
 *     forever then is firebreak's doing, and is evicted, and given back, at
 *     the default rather than left tolerating forever.
 */
typedef struct fb_pod_project_opts {
	bool managed;
	int64_t default_s;
} fb_pod_project_opts;

typedef struct fb_budget_proj {
	char *name;
	int64_t generation;
	cJSON *spec;                    /* owned copy of .spec (budgets are few and small) */
	fb_admission *admissions;       /* from .status.admissions */
	size_t nadmissions;
} fb_budget_proj;

/*
 * An Event that says a node ran short of memory (fb_core_node_memory_signal),
 * from the Warning Events on Nodes firebreak watches:
 *   - SystemOOM: kubelet's OOM watcher (pkg/kubelet/oom/oom_watcher_linux.go),
 *     for an OOM kill outside every container's cgroup limit;
 *   - EvictionThresholdMet "Attempting to reclaim memory": kubelet's eviction
 *     manager (pkg/kubelet/eviction/eviction_manager.go), before it evicts;
 *   - OOMKilling from node-problem-detector's kernel monitor, only when the
 *     kernel line is a global OOM ("Out of memory: ..."), not a container
 *     reaching its own limit ("Memory cgroup out of memory: ...").
 * Any other Event, or one with no time, projects to an empty one (node NULL).
 */
typedef struct fb_event_proj {
	char *node;
	char *reason;
	int64_t at_ms;                  /* the latest occurrence it records */
} fb_event_proj;

/* kc_informer project/free_obj signatures. */
void *fb_project_node(const cJSON *obj, void *ud);
void fb_node_proj_free(void *p, void *ud);
void *fb_project_pod(const cJSON *obj, void *ud);
void fb_pod_proj_free(void *p, void *ud);
void *fb_project_budget(const cJSON *obj, void *ud);
void fb_budget_proj_free(void *p, void *ud);
void *fb_project_quarantine(const cJSON *obj, void *ud);
void fb_quarantine_proj_free(void *p, void *ud);
void *fb_project_event(const cJSON *obj, void *ud);
void fb_event_proj_free(void *p, void *ud);

/* Views for the core (pointers into the projection; no copies). */
void fb_node_proj_obs(const fb_node_proj *n, fb_node_obs *out);
/* -1 when spec.workload is missing or unusable (the Quarantine names no workload). */
int fb_quarantine_proj_obs(const fb_quarantine_proj *q, fb_quarantine_obs *out);
/*
 * wl receives the pod's workload (out->workload points at it):
 *   - ReplicaSet "<d>-<hash>" whose pod carries pod-template-hash=<hash>:
 *     Deployment <d> (the deployment controller names its ReplicaSets so:
 *     pkg/controller/deployment/sync.go getNewReplicaSet);
 *   - Job "<c>-<n>" with <n> a Unix time in minutes: CronJob <c> (the cronjob
 *     controller's getJobName);
 *   - any other controller: itself; a bare pod: Pod <namespace>/<name>.
 * A value too long to be a kind, namespace or name (workload.h) gives no
 * workload. DaemonSet pods are never suspects (the core skips them).
 */
void fb_pod_proj_obs(const fb_pod_proj *p, fb_pod_obs *out, fb_workload_ref *wl);

#endif
