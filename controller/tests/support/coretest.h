/*
 * coretest.h - what the decision core's unit tests share: one core, the
 * actions of its last tick and the log of every action since setup, times in
 * milliseconds from T0, and the observations a test feeds it (nodes, pods,
 * budgets, Quarantines). The tests build their clusters with these helpers
 * only, so a change to the core's observation structs is made here once.
 *
 * Conventions: a node or pod named x has uid "uid-x"; pods are in namespace
 * default; a budget is observed at T0.
 */
#ifndef FB_CORETEST_H
#define FB_CORETEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"

#define S 1000LL /* one second in ms */
#define MIN (60 * S)
#define T0 (1700000000LL * S)

/* Workloads the tests share. */
#define WEB "Deployment/default/web"
#define POISON "Deployment/default/poison"

extern fb_core *core;
extern fb_actions acts;

/* A core with cfg (NULL: the defaults) and an empty log; teardown frees both. */
void setup_config(const fb_core_config *cfg);
/*
 * The ratio rule with the windows it was tuned with (30m arrival, 1h): the tests of what
 * follows a verdict (pinning, the gate, scaling, eviction) script it at fixed points;
 * test_core_surprise tests the default verdict.
 */
void ratio_rule(fb_core_config *cfg);
/* A core with the defaults but the ratio rule, globally in dry run or not. */
void setup(bool dry_run);
void teardown(void);

/* One tick at now; acts holds what it decided, the log keeps it too. Returns the
 * core's next time. */
int64_t tick(int64_t now);
/* The same, but acts keeps the earlier ticks' actions: what several ticks decided. */
int64_t tick_keep(int64_t now);

/* Actions in acts: how many of a kind, the index of the first, and the first whose
 * object is named name_or_reason (or, for Events, whose reason is; NULL: the first
 * of the kind). */
int count(fb_action_kind kind);
int index_of(fb_action_kind kind);
const fb_action *find(fb_action_kind kind, const char *name_or_reason);

/*
 * Actions of every tick since setup, for what must not happen over time. A mark
 * is a position in that log (log_mark() now, 0 at setup); the _since lookups see
 * the actions decided after it. name_or_reason as for find (NULL: any).
 */
size_t log_mark(void);
int count_since(size_t mark, fb_action_kind kind, const char *name_or_reason);
const fb_action *find_since(size_t mark, fb_action_kind kind, const char *name_or_reason);
int count_all(fb_action_kind kind, const char *name_or_reason);
const fb_action *find_all(fb_action_kind kind, const char *name_or_reason);
/* The action at position i of that log (payload() renders its record), NULL past its end. */
const fb_action *logged(size_t i);

/* ---- observations ---------------------------------------------------------------- */

/* A node as the informer shows it, besides its name, readiness and transition time. */
typedef struct node_spec {
	const char *zone;               /* NULL: a zone of its own, named after the node */
	const char *pool;               /* label pool=<pool>; NULL: none */
	bool zone_label;                /* label topology.kubernetes.io/zone=<zone> too */
	const char *failure_annotation; /* firebreak.dev/failure; NULL: none */
	const char *quarantine_taint;   /* its firebreak.dev/quarantine taint's value; NULL: none */
	int64_t created_ms;             /* metadata.creationTimestamp; 0: unknown (first seen) */
	bool memory_pressure;           /* its MemoryPressure condition is True */
	const char *attributed_pod_uid; /* firebreak-node laid its memory at this pod ... */
	int64_t attributed_ms;          /* ... saying so then */
} node_spec;

/* Node name is Ready `ready` since `since`, observed at `since`. */
void node_with(const char *name, fb_cond ready, int64_t since, const node_spec *spec);
/* Without labels, in zone (NULL: a zone of its own). */
void node(const char *name, const char *zone, fb_cond ready, int64_t since);
/* Labelled as a real node is: pool=<pool> if pool is not NULL, and its zone label
 * if zone is not NULL (NULL: a zone of its own, unlabelled). */
void labelled_node(const char *name, const char *zone, fb_cond ready, int64_t since,
                   const char *pool);

/* A pod as the informer shows it, besides its name and node. */
typedef struct pod_spec {
	const char *workload;           /* "Kind/ns/name" */
	int64_t arrived_ms;
	int64_t tol_s;                  /* of the not-ready and unreachable taints: seconds,
	                                 * FB_TOL_NONE or FB_TOL_FOREVER */
	bool daemonset, terminating;
	int64_t created_ms;             /* metadata.creationTimestamp; 0: unknown */
	bool gated;                     /* held by the quarantine's scheduling gate */
	/* managed mode (core/managed.c) */
	const char *ns;                 /* NULL: default */
	bool k8s_evicts;                /* its spec still lets Kubernetes evict it */
	bool annotated;                 /* carries firebreak's record */
	bool shortened;                 /* given back with the seconds left, whole times aside */
	bool mirror, terminal, gate_exempt;
	int64_t memory_evicted_ms;      /* kubelet evicted it for memory then; 0: not */
} pod_spec;

void pod_with(const char *name, const char *on, const pod_spec *spec);
/* Pod name of workload on node `on`, arrived then, tolerating the failure taints tol_s. */
void pod(const char *name, const char *on, const char *workload, int64_t arrived_ms,
         int64_t tol_s);
/* The pod is gone from the API. */
void pod_gone(const char *name);
/* What became of the EVICT or DELETE action for pod name. */
void evicted(const char *name, fb_evict_result r, int64_t now);

/* EvictionBudget name at generation gen with .spec spec_json, observed at T0. */
void budget(const char *name, int64_t gen, const char *spec_json);
/* The same, with admissions recorded in its status. */
void budget_admitted(const char *name, int64_t gen, const char *spec_json,
                     const fb_admission *admissions, size_t nadmissions);

/* The informer shows Quarantine default/name of workload kind/workload (in default), with
 * our finalizer only. Returns what fb_core_quarantine_set does. */
int qset(const char *name, const char *kind, const char *workload, bool released,
                    fb_poison_action action, int64_t scaled_from, bool phase_released,
                    int64_t now);

/*
 * A Quarantine as the informer shows it, all of it. Zeroed, it is the object firebreak
 * creates: active, Pin, our finalizer its only one, no scale recorded.
 */
typedef struct quarantine_spec {
	const char *kind, *workload;    /* spec.workload, in default */
	bool released;                  /* spec.release */
	fb_poison_action action;        /* spec.action */
	int64_t scaled_from;            /* status.scaledFromReplicas; 0: absent */
	bool phase_released;            /* status.phase is Released */
	bool deleting;                  /* metadata.deletionTimestamp is set */
	int others;                     /* finalizers of others listed before ours */
	bool without_ours;              /* FB_QUARANTINE_FINALIZER is not listed */
	int64_t created_ms;             /* metadata.creationTimestamp; 0: unknown */
} quarantine_spec;
int qobserve(const char *name, const quarantine_spec *q, int64_t now);

/* The reference of workload id "Kind/namespace/name" (one of 8 rotating buffers), or NULL. */
const fb_workload_ref *WL(const char *id);
/* The same from its parts. */
const fb_workload_ref *WK(const char *kind, const char *ns, const char *name);
/*
 * The JSON an annotation or Quarantine action writes, as the shell renders it
 * (an action of the log: kept with the log; of the last tick: until the next tick).
 */
const char *payload(const fb_action *a);

#endif
