/*
 * core.h - firebreak's decision core: observed state + time in, actions out.
 *
 * No I/O and no clock reads: the shell (informers, API writes) and the
 * simulator feed the same functions with what they observe and the time, and
 * carry out the actions that fb_core_tick returns. All policy lives here.
 *
 * What it decides (DESIGN.md section 2.3, issue 4), in place of the
 * taint-eviction controller:
 *   - a node is failed while its Ready condition is False or Unknown;
 *   - a pod on it is due at failedSince + the tolerationSeconds of its
 *     toleration for node.kubernetes.io/not-ready (Ready=False) or
 *     node.kubernetes.io/unreachable (Unknown), NoExecute: no matching
 *     toleration = due at once; tolerated without seconds = never
 *     (tainteviction's getMinTolerationTime);
 *   - DaemonSet pods, mirror pods, terminating and terminal pods stay;
 *   - a failed node whose first pod is due asks for admission: its zone's
 *     token bucket (nodelifecycle semantics, zones.h) and every
 *     EvictionBudget selecting it (budget.h) must admit it; nodes wait in
 *     order of failure. Admission happens when the first pod is due rather
 *     than when the node fails (upstream taints at failure), so a node that
 *     recovers within its pods' tolerations spends no budget; the spacing
 *     between nodes is the same;
 *   - pods of an admitted node leave as each becomes due, through the
 *     Eviction API (PDBs honoured), retried with backoff on 429, deleted after
 *     pdbBlockedTimeout; or deleted at once in mode Delete;
 *   - a node that recovers before its pods are due keeps them.
 *
 * And the poison guard (poison.h, DESIGN.md 2.4-2.5): evidence, verdicts,
 * quarantine (pins, taints, the Quarantine object) and, with the opt-in
 * poison.action ScaleToZero, scaling the workload to zero and back.
 *
 * Threading: none. One owner calls everything.
 */
#ifndef FB_CORE_H
#define FB_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "budget.h"
#include "poison.h"
#include "selector.h"
#include "workload.h"
#include "zones.h"

typedef struct fb_core fb_core;

typedef enum fb_cond { FB_COND_NONE, FB_COND_TRUE, FB_COND_FALSE, FB_COND_UNKNOWN } fb_cond;

/* Toleration of a failure taint, in seconds, or one of these: */
#define FB_TOL_NONE    (-2) /* no matching toleration: due at once */
#define FB_TOL_FOREVER (-1) /* tolerated without tolerationSeconds: never due */

#define FB_GATE_EXEMPT_NS_MAX 32

/*
 * The poison verdict (verdict.c, surprise.c): SURPRISE quarantines a workload
 * whose failed nodes are too many for its exposure under the cluster's own
 * background failure rate, at a false-alarm rate the operator sets; RATIO is
 * the first rule (failures >= N and bad >= ratio x (bad + good)), kept for
 * comparison (firebreak-sim) and as a fallback.
 */
typedef enum fb_verdict_kind { FB_VERDICT_SURPRISE, FB_VERDICT_RATIO } fb_verdict_kind;

typedef struct fb_core_config {
	fb_rates rates;                 /* the node lifecycle controller's, cluster-wide */
	bool dry_run;                   /* global: decide and report, write nothing */
	int64_t pdb_retry_initial_ms;   /* backoff after a 429 from the Eviction API */
	int64_t pdb_retry_max_ms;
	int max_pod_actions_per_tick;   /* bound on the work of one tick */
	fb_budget_spec defaults;        /* podEviction/poison when no budget selects a node */
	double poison_ratio;            /* the verdict's guard: bad >= ratio x (bad + good) */
	int64_t poison_settle_ms;       /* a failure is judged this long after it happened (or
	                                   when the first pod on its node is due, if sooner) */
	fb_verdict_kind verdict;
	/* SURPRISE: quarantines of innocent workloads accepted per cluster-year (0.01: one in
	 * a hundred years); the background rate assumed until the cluster's own failures
	 * outweigh it (failures per node per day); the trailing period it is measured over;
	 * MemoryPressure before a failure used as evidence */
	double false_alarms_per_year;
	double prior_failures_per_node_day;
	int64_t background_period_ms;
	bool memory_pressure_evidence;
	/* Namespaces the admission webhook is never called for (kube-system, kube-node-lease,
	 * firebreak's own, the chart's excludeNamespaces): their pods are never gated, so an
	 * ungated one is no escape. fb_core_config_gate_exempt adds one. */
	char gate_exempt_ns[FB_GATE_EXEMPT_NS_MAX][FB_NS_MAX];
	size_t ngate_exempt_ns;
	/* Managed mode (managed.c): Kubernetes' taint-eviction controller stays on, and
	 * firebreak evicts only the pods whose failure tolerations it covers. */
	bool managed;
	double adopt_per_s;             /* pods covered (managed) or restored (not) per second */
	int64_t uncovered_report_ms;    /* a pod still not covered this long gets an Event */
} fb_core_config;

/*
 * The observations that follow were made at now_ms (wall clock): a pod deleted or bound
 * elsewhere left its node then (the surprise verdict counts the time pods spent on nodes).
 * Time never goes back: an earlier now_ms is ignored. fb_core_node_set and fb_core_tick
 * say it too.
 */
void fb_core_observed_at(fb_core *c, int64_t now_ms);

/* Add namespace ns to gate_exempt_ns. -1 if it does not fit (too many, too long). */
int fb_core_config_gate_exempt(fb_core_config *c, const char *ns);

/* Kubernetes' defaults; dry_run off. */
void fb_core_config_defaults(fb_core_config *c);

/* ---- observations (copied; the caller keeps ownership) -------------------- */

typedef struct fb_node_obs {
	const char *name;
	const char *uid;
	const char *region, *zone;      /* topology labels (or NULL) */
	const fb_labels *labels;        /* for budget selectors; may be NULL */
	fb_cond ready;
	int64_t ready_transition_ms;    /* Ready.lastTransitionTime, wall clock */
	bool exclude_disruption;        /* node.kubernetes.io/exclude-disruption */
	bool memory_pressure;
	int64_t created_ms;             /* metadata.creationTimestamp (0: unknown) */
	const char *failure_annotation; /* firebreak.dev/failure: evidence recorded earlier */
	const char *quarantine_taint;   /* value of its firebreak.dev/quarantine taint, if any */
	/* firebreak-node laid the node's unaccounted memory at this pod (its UID; NULL: at
	 * none), as last said at attributed_ms (condition UnaccountedMemory: project.c) */
	const char *attributed_pod_uid;
	int64_t attributed_ms;
} fb_node_obs;

typedef struct fb_pod_obs {
	const char *ns, *name, *uid;
	const char *node;               /* spec.nodeName; NULL or "" = unscheduled */
	const fb_workload_ref *workload; /* its workload (workload.h); NULL: none */
	bool daemonset, mirror, terminating, terminal;
	int64_t memory_evicted_ms;      /* kubelet evicted it for memory then (a memory signal
	                                 * of its node: fb_core_node_memory_signal); 0: not */
	int64_t tol_not_ready_s;        /* FB_TOL_NONE, FB_TOL_FOREVER or seconds */
	int64_t tol_unreachable_s;
	int64_t arrived_ms;             /* PodScheduled transition time, else creation */
	int64_t created_ms;             /* metadata.creationTimestamp (0: unknown) */
	bool gated;                     /* spec.schedulingGates holds FB_QUARANTINE_GATE */
	bool gate_exempt;               /* labelled firebreak.dev/webhook=skip: never gated */
	/* managed mode: its spec lets the taint-eviction controller evict it in finite time
	 * (tol_*_s are then what firebreak would honour once it covers the pod) */
	bool k8s_evicts;
	bool annotated;                 /* carries firebreak's record of its tolerations */
	bool shortened;                 /* given back on a failed node with the seconds left; its
	                                 * whole times kept aside (tol_*_s are those) */
} fb_pod_obs;

/* The label that keeps a pod from the admission webhook (its objectSelector). */
#define FB_WEBHOOK_SKIP_LABEL "firebreak.dev/webhook"
#define FB_WEBHOOK_SKIP_VALUE "skip"

/* ---- actions --------------------------------------------------------------- */

typedef enum fb_action_kind {
	FB_ACT_EVICT,          /* POST pods/eviction */
	FB_ACT_DELETE,         /* DELETE the pod (mode Delete, or after pdbBlockedTimeout) */
	FB_ACT_EVENT,          /* record an Event */
	FB_ACT_BUDGET_STATUS,  /* write an EvictionBudget's status (fb_core_budget_status_json) */
	FB_ACT_NODE_ANNOTATE,  /* set firebreak.dev/failure on node `name` to `failure` */
	FB_ACT_TAINT,          /* add firebreak.dev/quarantine=`taint`:NoSchedule to node `name` */
	FB_ACT_UNTAINT,        /* remove firebreak.dev/quarantine=`taint` from node `name` */
	FB_ACT_QUARANTINE,     /* create Quarantine ns/name: `verdict` (render.h), status included */
	FB_ACT_QUARANTINE_RELEASED, /* set Quarantine ns/name status.phase to Released */
	FB_ACT_SCALE_TO_ZERO,  /* scale `workload` to 0 replicas for Quarantine
	                        * `quarantine`, keeping the old count; report the outcome with
	                        * fb_core_scale_result */
	FB_ACT_SCALE_RESTORE,  /* give it back the replicas it had before; report the outcome */
	FB_ACT_UNGATE,         /* remove FB_QUARANTINE_GATE from pod ns/name (uid) */
	FB_ACT_QUARANTINE_STATUS, /* patch Quarantine ns/name's status with `verdict` (render.h):
	                        * its nodes and evidence, gated and escaped pods */
	FB_ACT_QUARANTINE_HOLD,   /* add FB_QUARANTINE_FINALIZER to Quarantine ns/name, which has
	                        * `index` finalizers now */
	FB_ACT_QUARANTINE_FINALIZE, /* its release is carried out: remove FB_QUARANTINE_FINALIZER,
	                        * at position `index` of its finalizers */
	FB_ACT_COVER,          /* managed mode: cover pod ns/name (uid)'s failure tolerations */
	FB_ACT_UNCOVER,        /* not managed: give pod ns/name (uid) its recorded seconds back */
} fb_action_kind;

#define FB_QUARANTINE_TAINT_KEY "firebreak.dev/quarantine"
/* The scheduling gate the admission webhook puts on new pods of a quarantined workload. */
#define FB_QUARANTINE_GATE "firebreak.dev/quarantine"
/* Holds a Quarantine until its release is carried out (gates, taints, scale). */
#define FB_QUARANTINE_FINALIZER "firebreak.dev/release"

typedef enum fb_obj_kind {
	FB_OBJ_NODE,
	FB_OBJ_POD,
	FB_OBJ_BUDGET,
	FB_OBJ_WORKLOAD,       /* the action's `workload` (Deployment, StatefulSet, Job, ...) */
	FB_OBJ_QUARANTINE,
} fb_obj_kind;

/*
 * Every Event reason the core gives, with the `action` field of the
 * events.k8s.io Event it goes out as (what firebreak did or would do) and
 * whether its type is Warning (else Normal).
 * The shell's own Events about the outcome of a scale are listed too, so
 * that the choice of action is made here, once.
 */
#define FB_REASONS(X)                                                   \
	X(EVICTION_STARTED, "EvictionStarted", "Evict", false)                 \
	X(EVICTION_DEFERRED, "EvictionDeferred", "Defer", true)                \
	X(EVICTION_HALTED, "EvictionHalted", "Defer", true)                    \
	X(EVICTIONS_HALTED, "EvictionsHalted", "Defer", true)                  \
	X(EVICTING, "Evicting", "Evict", false)                                \
	X(DELETING, "Deleting", "Delete", false)                               \
	X(DELETED_AFTER_PDB_TIMEOUT, "DeletedAfterPDBTimeout", "Delete", true) \
	X(EVICTION_BLOCKED, "EvictionBlocked", "Evict", true)                  \
	X(INVALID_SPEC, "InvalidSpec", "Validate", true)                       \
	X(FAILURE_RECORDED, "FailureRecorded", "Judge", false)                 \
	X(FAILURE_EXPLAINED, "FailureExplained", "Judge", true)                \
	X(QUARANTINED, "Quarantined", "Quarantine", true)                      \
	X(NODE_QUARANTINED, "NodeQuarantined", "Quarantine", true)             \
	X(PINNED, "Pinned", "Quarantine", true)                                \
	X(GATED, "QuarantineGated", "Gate", true)                              \
	X(UNGATED, "QuarantineUngated", "Ungate", false)                       \
	X(ESCAPED, "QuarantineEscaped", "Delete", true)                        \
	X(RECALLED, "QuarantineRecalled", "Delete", true)                      \
	X(QUARANTINE_RELEASED, "QuarantineReleased", "Release", false)         \
	X(SCALED_TO_ZERO, "ScaledToZero", "Scale", true)                       \
	X(SCALE_TO_ZERO_SKIPPED, "ScaleToZeroSkipped", "Scale", true)          \
	X(SCALE_TO_ZERO_FAILED, "ScaleToZeroFailed", "Scale", true)            \
	X(SCALE_RESTORED, "ScaleRestored", "Scale", false)                     \
	X(SCALE_RESTORE_FAILED, "ScaleRestoreFailed", "Scale", true)           \
	X(NOT_COVERED, "TolerationsNotCovered", "Cover", true)

typedef enum fb_reason {
#define FB_REASON_ENUM(id, name, action, warning) FB_REASON_##id,
	FB_REASONS(FB_REASON_ENUM)
#undef FB_REASON_ENUM
	FB_REASON_COUNT
} fb_reason;

/* The reason as an Event says it ("EvictionStarted"), the Event's action ("Evict"), its type. */
const char *fb_reason_name(fb_reason r);
const char *fb_reason_action(fb_reason r);
bool fb_reason_warning(fb_reason r);

/*
 * The verdict as the Quarantine object records it (render.h turns it into
 * the object). nodes: one entry per failed node of the verdict, with the
 * evidence of the workload's arrival there when the node's record has it.
 */
typedef struct fb_quarantine_node {
	char *name;
	bool has_arrival;               /* the fields below are set */
	char *pod;                      /* the pod that arrived */
	int64_t arrived_ms, failed_ms;
	char *migrated_from;            /* a failed node its previous pod was on, or NULL */
	bool memory_pressure;           /* MemoryPressure was True before the node failed */
	bool attributed;                /* firebreak-node named the pod before the failure */
	bool tainted;                   /* the node is known, and tainted by the verdict */
} fb_quarantine_node;

typedef struct fb_quarantine_record {
	fb_workload_ref workload;
	char name[FB_NAME_MAX];         /* the Quarantine object's, in workload.ns */
	fb_poison_action action;
	int64_t declared_ms;
	char message[768];
	fb_quarantine_node *nodes;
	size_t nnodes;
	/* FB_ACT_QUARANTINE_STATUS: the workload's new pods held by the gate, and those
	 * created ungated while it was quarantined (the webhook did not answer) */
	int gated_pods, escaped_pods;
} fb_quarantine_record;

void fb_quarantine_record_free(fb_quarantine_record *q);

typedef struct fb_action {
	fb_action_kind kind;
	bool dry_run;                   /* report it, do not write it */
	/* the object acted on or reported about */
	fb_obj_kind obj;
	char ns[FB_NS_MAX];
	char name[FB_NAME_MAX];
	char uid[64];
	char node[FB_NAME_MAX];         /* pods: the node they are on */
	int64_t grace_period_s;         /* -1 = not set */
	fb_workload_ref workload;       /* FB_OBJ_WORKLOAD events, FB_ACT_SCALE_*: the workload */
	char taint[64];                 /* FB_ACT_TAINT / FB_ACT_UNTAINT: the taint's value */
	char quarantine[FB_NAME_MAX];   /* FB_ACT_SCALE_*: the workload's Quarantine object */
	fb_failure *failure;            /* FB_ACT_NODE_ANNOTATE: the record (owned by the list) */
	fb_quarantine_record *verdict;  /* FB_ACT_QUARANTINE, _STATUS: the object (owned by the list) */
	int index;                      /* FB_ACT_QUARANTINE_HOLD / _FINALIZE: see there */
	/* FB_ACT_UNCOVER of a pod on a failed node: the seconds left of its recorded not-ready
	 * and unreachable times at failedSince + them, to be written instead of the whole times
	 * (the taint-eviction controller starts its clock at the update: processPodOnNode);
	 * -1 = the recorded time */
	int64_t left_not_ready_s, left_unreachable_s;
	/* FB_ACT_UNCOVER of a shortened pod whose node is up: its whole times back instead */
	bool lengthen;
	/* events (and FB_ACT_DELETE of a pod that escaped the gate: FB_REASON_ESCAPED) */
	fb_reason reason;
	bool warning;                   /* fb_reason_warning(reason) */
	char message[512];
} fb_action;

typedef struct fb_actions {
	fb_action *v;
	size_t n, cap;
} fb_actions;

void fb_actions_init(fb_actions *a);
void fb_actions_release(fb_actions *a);
void fb_actions_clear(fb_actions *a);

/* ---- lifecycle and observations -------------------------------------------- */

/* NULL on ENOMEM. The config is copied (the selector inside defaults is not used). */
fb_core *fb_core_new(const fb_core_config *cfg);
void fb_core_free(fb_core *c);

/* Upsert / forget. Return -1 only on ENOMEM (the observation is then dropped). */
int fb_core_node_set(fb_core *c, const fb_node_obs *n, int64_t now_ms);
void fb_core_node_delete(fb_core *c, const char *name);
int fb_core_pod_set(fb_core *c, const fb_pod_obs *p);
void fb_core_pod_delete(fb_core *c, const char *uid);

/*
 * A sign, at at_ms (wall clock), that node ran short of memory, other than its
 * MemoryPressure condition: kubelet's SystemOOM or EvictionThresholdMet (memory)
 * Event, or a pod kubelet evicted for memory (fb_pod_obs.memory_evicted_ms).
 * The node's next failure within FB_MEMORY_SIGNAL_MS of the latest one counts
 * as memory pressure before it, as MemoryPressure does (the surprise verdict's
 * q: memory_pressure_evidence). A node not observed yet, or a
 * sign from before the node last came back, are ignored, and so is a sign
 * that arrives once the node's failure has been recorded.
 */
#define FB_MEMORY_SIGNAL_MS (60LL * 60 * 1000)
void fb_core_node_memory_signal(fb_core *c, const char *node, int64_t at_ms);

/*
 * An EvictionBudget was added or changed. spec is its .spec; admissions are
 * those recorded in its status (the durable history windows are computed
 * from; merged with what this core admitted itself). An invalid spec keeps
 * the last good one in force and reports InvalidSpec (Event + status).
 * Returns -1 only on ENOMEM.
 */
int fb_core_budget_set(fb_core *c, const char *name, int64_t generation, const cJSON *spec,
                       const fb_admission *admissions, size_t nadmissions, int64_t now_ms);
void fb_core_budget_delete(fb_core *c, const char *name);

/*
 * A Quarantine object as observed (the strings are copied).
 */
typedef struct fb_quarantine_obs {
	const char *ns, *name;          /* the object */
	fb_workload_ref workload;       /* spec.workload, in the object's namespace */
	bool released;                  /* spec.release */
	fb_poison_action action;        /* spec.action */
	int64_t scaled_from;            /* status.scaledFromReplicas; -1 when absent */
	bool phase_released;            /* status.phase is Released: the release was carried out */
	bool deleting;                  /* metadata.deletionTimestamp is set */
	int finalizer_index;            /* position of FB_QUARANTINE_FINALIZER in
	                                   metadata.finalizers; -1: not there */
	int nfinalizers;                /* how many finalizers it has */
	int64_t created_ms;             /* metadata.creationTimestamp (0: unknown) */
} fb_quarantine_obs;

/*
 * A Quarantine object was observed: the verdict is durable there, so a
 * restarted core knows it. released (its spec.release) or
 * fb_core_quarantine_delete lifts it: the taints firebreak added are removed,
 * a workload it scaled to zero is restored, its pods may be evicted again,
 * and only evidence newer than the release counts towards a new verdict. A
 * released object whose status does not say Released yet is released by this
 * core too, even if it never saw it active (the release came while no
 * firebreak was leading).
 *
 * The finalizer FB_QUARANTINE_FINALIZER makes the release durable: a
 * Quarantine being deleted (deleting) is released like spec.release, and the
 * leader removes the finalizer only once the release is carried out (its
 * pods ungated, its taints removed, its scale restored). An object without
 * it (made before it existed) is given it. A Quarantine that disappears
 * without it (the finalizer removed by hand) is released at once.
 *
 * ScaleToZero across restarts: a quarantine first seen here with action
 * ScaleToZero is scaled (again) unless status.scaledFromReplicas says it was
 * done; scaling again is harmless, the count from before the quarantine is
 * kept on the workload (FB_ACT_SCALE_TO_ZERO never overwrites it).
 * Returns -1 only on ENOMEM.
 */
int fb_core_quarantine_set(fb_core *c, const fb_quarantine_obs *q, int64_t now_ms);
void fb_core_quarantine_delete(fb_core *c, const fb_workload_ref *workload, int64_t now_ms);

/*
 * The admission webhook's question: is a new pod of workload w to wait
 * behind the scheduling gate FB_QUARANTINE_GATE? True while a verdict on w is
 * in force (not in dry run, not released), with the Quarantine's name in
 * quarantine[], once the object is observed: a gate needs something that
 * can release it (a create that failed, or no CRD, would leave pods gated
 * with nothing to delete; a pod made in the moment before is an escape).
 * Never in global dry run, which writes nothing and would never take the gate
 * off again. Any replica answers from what it observed, leader or not.
 * Reads only: safe to call between other calls, under the owner's lock.
 */
bool fb_core_gate(const fb_core *c, const fb_workload_ref *w, char quarantine[FB_NAME_MAX]);

/*
 * Whether every Quarantine has been observed (the informer synced). Until
 * it has, a gated pod of a workload not known to be quarantined may be one
 * whose Quarantine is yet to come: no gate is removed. True from
 * fb_core_new (the simulator and the tests observe everything first); the
 * shell sets it false until its Quarantine informer has synced.
 */
void fb_core_set_quarantines_synced(fb_core *c, bool synced);

/*
 * The taint value that marks nodes a workload killed:
 * "<namespace>.<kind>.<name>", shortened with a hash to the 63 characters a
 * taint value may have.
 */
void fb_quarantine_taint_value(const fb_workload_ref *w, char out[64]);

/* ---- decisions ---------------------------------------------------------------- */

/*
 * Decide what to do at now_ms; appends to out. Bounded: at most
 * max_pod_actions_per_tick pod actions per call (the rest follow next tick).
 * Returns the time of the next decision that is already known (a pod falling
 * due, a token arriving, a retry), for the shell's timer; INT64_MAX if none.
 */
int64_t fb_core_tick(fb_core *c, int64_t now_ms, fb_actions *out);

typedef enum fb_evict_result {
	FB_EVICT_OK,           /* accepted: the pod is terminating */
	FB_EVICT_GONE,         /* 404: already gone */
	FB_EVICT_BLOCKED,      /* 429: a PodDisruptionBudget does not allow it now */
	FB_EVICT_FAILED,       /* any other error: retried with backoff */
} fb_evict_result;

/* What became of an EVICT or DELETE action (by pod uid). */
void fb_core_evict_result(fb_core *c, const char *uid, fb_evict_result r, int64_t now_ms);

typedef enum fb_scale_result {
	FB_SCALE_DONE,         /* scaled (or restored); or nothing was left to do */
	FB_SCALE_GONE,         /* 404: the workload no longer exists */
	FB_SCALE_REFUSED,      /* cannot be done and retrying will not help (e.g. the workload
	                        * is managed by another controller): the quarantine pins only */
	FB_SCALE_FAILED,       /* any other error: retried with backoff */
} fb_scale_result;

/*
 * What became of a SCALE_TO_ZERO (restore false) or SCALE_RESTORE (restore
 * true) action for the workload. A result that no longer matches what is
 * pending (the quarantine was released meanwhile) is ignored.
 */
void fb_core_scale_result(fb_core *c, const fb_workload_ref *workload, bool restore,
                          fb_scale_result r, int64_t now_ms);

/*
 * Leadership: a follower observes but does not decide. Becoming leader makes
 * the next tick re-judge everything from the observed state (budget history
 * included), so nothing the previous leader did is repeated or forgotten.
 */
void fb_core_set_leader(fb_core *c, bool leader);

/* ---- status for the shell --------------------------------------------------- */

/*
 * The status of a budget to write back: conditions, counts, window usage,
 * admissions, lastAppliedSpec, observedGeneration. The pointers in it are
 * the core's and valid until the next call into the core. -1 if the budget
 * is unknown. render.h turns it into the object; fb_core_budget_status_json
 * does both.
 */
typedef struct fb_budget_condition {
	const char *type;               /* Ready, InvalidSpec, Halted */
	bool status;
	const char *reason;
	char message[320];
} fb_budget_condition;

typedef struct fb_budget_window_usage {
	int64_t window_ms;
	int max_nodes, used;
} fb_budget_window_usage;

typedef struct fb_budget_status {
	int64_t generation;
	int selected, unhealthy;
	fb_budget_condition conditions[3];
	fb_budget_window_usage windows[FB_MAX_WINDOWS];
	int nwindows;
	const fb_admission *admissions;
	size_t nadmissions;
	const cJSON *last_applied_spec; /* NULL before a good spec */
} fb_budget_status;

int fb_core_budget_status(fb_core *c, const char *name, int64_t now_ms, fb_budget_status *out);
/* The status object (caller frees with cJSON_Delete); NULL if unknown or on ENOMEM. */
cJSON *fb_core_budget_status_json(fb_core *c, const char *name, int64_t now_ms);

typedef struct fb_core_stats {
	size_t nodes, pods, failed_nodes, admitted_nodes, budgets;
	size_t evictions_requested, deletions_requested;
	size_t deferrals_rate, deferrals_window, deferrals_paused, deferrals_max_unhealthy,
	       deferrals_disruption;
	size_t suspects;                /* workloads with evidence but no verdict */
	size_t quarantines_active, quarantines_total;
	size_t nodes_lost_before_quarantine; /* at the latest verdict */
	size_t pods_pinned;
	size_t scaled_to_zero;          /* workloads a quarantine holds at zero replicas now */
	size_t pods_gated;              /* pods held by the quarantine gate now */
	size_t pods_escaped;            /* pods of quarantined workloads created ungated, now */
	size_t ungates_requested, escapes_deleted; /* since start */
	size_t recalls_deleted;         /* pods that followed a workload off the nodes it failed
	                                   before its quarantine, deleted since start */
	size_t failures_explained;      /* failures put down to a quarantined workload */
	/* managed mode (managed.c), now: */
	size_t pods_uncovered;          /* managed: pods the taint-eviction controller still
	                                   evicts after their tolerationSeconds */
	size_t pods_uncovered_reported; /* ... of them, uncovered past uncovered_report_ms */
	size_t pods_to_restore;         /* not managed: pods still carrying firebreak's record */
	size_t covers_requested, uncovers_requested; /* since start */
	/* the surprise verdict (surprise.c), since start: workloads judged on a new failure of
	 * a node they arrived on; the false quarantines expected of them (the sum of each
	 * judgement's limit, alpha); and how many of them had p at most 10^-i (i = 0..7) */
	size_t judgements;
	double false_quarantines_expected;
	size_t judgements_p_below[8];
	/* the background now (as of the last judgement): failures per node per day across the
	 * cluster, and workloads judged per year */
	double background_per_node_day;
	double judged_per_year;
} fb_core_stats;
void fb_core_get_stats(const fb_core *c, fb_core_stats *out);
/* Zone table of the cluster-wide limiter (for metrics). */
const fb_zones *fb_core_zones(const fb_core *c);

#endif
