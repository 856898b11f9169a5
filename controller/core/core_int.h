/*
 * core_int.h - what the decision core's files share, and no one else sees.
 *
 * The core is cut along its tick's pipeline (core.c states the order once):
 *
 *   tables.c     nodes, pods and workloads as observed, linked both ways
 *   admission.c  EvictionBudgets at runtime, zone and budget counts, and the
 *                admission of failed nodes (zone token buckets, budgets)
 *   eviction.c   when pods are due, and the evictions and deletions
 *   verdict.c    poison evidence (who arrived before each failure), outages,
 *                and the verdict
 *   quarantine.c the verdict carried out: Quarantine objects, taints,
 *                ScaleToZero and its restore, release
 *   scalepolicy.c the ScaleToZero and restore decisions on what the shell
 *                read from the API (public: scalepolicy.h)
 *   actions.c    the action list and the Events (the table of reasons)
 *   render.c     API objects built from the core's typed records (the only
 *                file that knows their JSON shape)
 *   workload.c   workload references and the table of kinds
 *
 * Each file owns the fields of the structs below that its header comment
 * names; the others read them. Counters that mirror a table are changed
 * only through the functions declared here, and core_check (FB_CHECKS)
 * recounts them.
 */
#ifndef FB_CORE_INT_H
#define FB_CORE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "core.h"
#include "kc/map.h"

/* ---- invariants --------------------------------------------------------------- */

/*
 * FB_CHECK(cond): what must hold, checked in debug and test builds (curl's
 * DEBUGASSERT, redis's serverAssert); a failure names the place and aborts.
 * Release builds compile it out, so it must have no side effect.
 */
#if defined(FB_CHECKS) || !defined(NDEBUG)
#define FB_CHECKS_ON 1
#define FB_CHECK(cond) ((cond) ? (void)0 : fb_check_failed(__FILE__, __LINE__, #cond))
_Noreturn void fb_check_failed(const char *file, int line, const char *what);
#else
#define FB_CHECKS_ON 0
#define FB_CHECK(cond) ((void)0)
#endif

/* ---- the tables (tables.c) ---------------------------------------------------- */

typedef struct core_node core_node;
typedef struct core_workload core_workload;
typedef struct core_budget core_budget;

typedef enum pod_state {
	POD_IDLE,      /* nothing asked yet */
	POD_INFLIGHT,  /* an EVICT/DELETE action is out; waiting for its result */
	POD_RETRY,     /* blocked (429) or failed: try again at next_try_ms */
	POD_DONE,      /* evicted / deleted / gone (or reported, in dry run) */
} pod_state;

typedef struct core_pod {
	char *ns, *name, *uid, *node_name;
	core_workload *wl;         /* its workload (NULL: none); wl->pods lists it */
	bool daemonset, mirror, terminating, terminal;
	int64_t tol_not_ready_s, tol_unreachable_s;
	int64_t arrived_ms;
	core_node *node;           /* NULL: unscheduled; node->pods lists it */
	/* eviction.c */
	pod_state state;
	bool blocked;              /* the last try got a 429 */
	bool blocked_reported;
	bool deleting;             /* the fallback to delete has been taken */
	bool pinned_reported;      /* its workload is quarantined and it was told so */
	/* tables.c: as observed */
	bool gated;                /* carries FB_QUARANTINE_GATE */
	bool gate_exempt;          /* the webhook is never called for it (label or namespace) */
	int64_t created_ms;
	bool k8s_evicts;           /* its spec lets the taint-eviction controller evict it */
	bool annotated;            /* carries firebreak's record of its tolerations */
	bool shortened;            /* its whole times kept aside (fb_pod_obs) */
	bool k8s_owned;            /* managed mode (not dry run) and k8s_evicts: Kubernetes
	                              evicts it, not us */
	/* managed.c */
	int64_t cover_next_ms;     /* FB_ACT_COVER/UNCOVER not again before this */
	int64_t cover_backoff_ms;
	int64_t cover_first_ms;    /* first asked then (0: not yet) */
	uint8_t cover_kind;        /* what it was asked for last (managed.c ASK_*; 0: nothing) */
	int64_t uncovered_since_ms; /* first seen uncovered (0: covered) */
	bool uncovered_reported;   /* the Event about it went out */
	/* verdict.c */
	bool moved;                /* a replacement for a pod firebreak moved off a failed node
	                              where its workload was no suspect: not a suspect itself */
	bool followed;             /* a replacement for one moved off a failed node where its
	                              workload was a suspect (recalled if it is quarantined) */
	/* quarantine.c */
	bool gate_reported;        /* told it is gated (or ungated, once released) */
	bool escape_reported;      /* told it escaped the gate */
	bool recall_reported;      /* told it is recalled */
	int64_t ungate_sent_ms;    /* FB_ACT_UNGATE went out then (0: not yet) */
	int attempts;
	int64_t first_try_ms, next_try_ms, backoff_ms;
} core_pod;

struct core_node {
	char *name, *uid;
	bool known;                /* observed (not only referenced by pods) */
	char zone_key[FB_ZONE_KEY_MAX];
	size_t zone_len;
	fb_labels labels;
	fb_cond ready;
	int64_t ready_transition_ms;
	bool exclude, memory_pressure;
	bool memory_pressure_seen; /* MemoryPressure was True at some point before it failed */
	int64_t memory_signal_ms;  /* the latest other memory signal (fb_core_node_memory_signal) */
	char attributed_uid[48];   /* firebreak-node laid its memory at this pod ("": none) ... */
	int64_t attributed_ms;     /* ... as said last then, while Ready */
	int64_t back_ms;           /* when it last came back from a failure (0: never failed) */
	core_pod **pods;
	size_t npods, podcap;
	/* the budgets that select it, by name (admission.c: node_budgets) */
	core_budget **sel;
	size_t nsel, selcap;
	uint64_t sel_epoch;        /* valid while equal to the core's */
	/* the current failure */
	bool failed;
	int64_t failed_since_ms;
	bool admitted;             /* admission.c */
	int64_t admitted_ms;
	fb_deny deferred;          /* last deferral reported for this failure */
	char deferred_by[FB_NAME_MAX];
	bool failure_recorded;     /* verdict.c: evidence for the current failure is on record */
	/* surprise.c: the background rate's inputs. The node's age (creation, else first
	 * seen) and its failures within the background period, its current one included once
	 * recorded, oldest first (read back from and written to its failure record) */
	int64_t created_ms;
	fb_past_failure *past;     /* FB_FAILURE_PAST_MAX entries once allocated */
	size_t npast;
	char *quarantine_taint;    /* value of our taint on it, if any (tainted_nodes counts them) */
	int64_t untaint_sent_ms;   /* quarantine.c: FB_ACT_UNTAINT of that taint went out then
	                              (0: not yet); it counts until a node update shows it gone */
};

/*
 * ScaleToZero, per workload: WANTED -> SENT -> DONE while the quarantine is
 * in force; on release any of them -> RESTORE -> RESTORE_SENT -> NONE. A
 * failed try goes back one step with backoff; a leadership change turns the
 * SENT states back into the ones before (nothing is lost: both actions are
 * idempotent, the replica count before the quarantine lives on the workload).
 */
typedef enum scale_state {
	SCALE_NONE,          /* not scaled by a quarantine, nothing pending */
	SCALE_WANTED,        /* to be scaled to zero (at scale_next_ms) */
	SCALE_SENT,          /* FB_ACT_SCALE_TO_ZERO is out; waiting for its result */
	SCALE_DONE,          /* held at zero replicas */
	SCALE_RESTORE,       /* released: its replicas to be restored (at scale_next_ms) */
	SCALE_RESTORE_SENT,  /* FB_ACT_SCALE_RESTORE is out */
} scale_state;

/* A workload (Kind/namespace/name): its pods, and its evidence and verdict. */
struct core_workload {
	char *id;                  /* "Kind/namespace/name": the key in c->workloads */
	char *ns, *kind, *name;
	core_pod **pods;           /* its pods, so that judging it is O(replicas) */
	size_t npods, podcap;
	/* verdict.c */
	bool dirty;                /* evidence changed: judge again */
	int bad;                   /* failed nodes at the last judgement */
	/* quarantine.c */
	char *quarantine;          /* name of its Quarantine object, once known */
	bool release_pending;      /* released while the object still exists (releases_pending) */
	bool quarantined;          /* verdict in force: its pods on failed nodes stay */
	bool dry_run;              /* the verdict was only reported */
	bool announced;            /* the Quarantine object and Events went out */
	int64_t declared_ms;
	int64_t released_ms;       /* evidence from before this does not count */
	scale_state scale;         /* ScaleToZero (scales_pending, stats.scaled_to_zero) */
	int64_t scale_next_ms;     /* no try before this (backoff after a failure) */
	int64_t scale_backoff_ms;
	int64_t held_since_ms;     /* the quarantine's start: pods created after it are new */
	int64_t recall_arrival_ms; /* the verdict's arrival window: its pods that followed it off
	                              a failed node longer ago than this are not recalled */
	bool observed;             /* its Quarantine object is in the informer's view */
	bool deleting;             /* its object is being deleted (held by our finalizer) */
	int finalizer_index;       /* of our finalizer in the object's list; -1: not there */
	int nfinalizers;
	bool finalizer_sent;       /* a HOLD or FINALIZE is out for the observed object */
	int64_t finalizer_sent_ms; /* ... since then (sent again after FINALIZER_RETRY_MS) */
	int gated, escaped;        /* pods held by the gate, pods that escaped it (gate pass) */
	int reported_gated, reported_escaped; /* as last written to the status (-1: never) */
	char **new_nodes;          /* failed nodes explained by it, not yet in its status */
	size_t nnew_nodes, newcap;
	int64_t escape_next_ms;    /* no escaped pod is deleted before this (backoff) */
	int64_t escape_backoff_ms;
	/* verdict.c: pods firebreak moved off failed nodes, oldest first; a new pod of it
	 * created after one of these is the replacement (consumes it) */
	struct core_move *moves;
	size_t nmoves, movecap;
	/* surprise.c: time its pods spent on nodes that they have left, counted from arrival
	 * (exposure): [from, to) at the node's background rate then, the latest kept */
	struct core_stint *stints;
	size_t nstints, stintcap;
	int64_t judged_event_ms;   /* the failure it was last judged on (stats.judgements) */
};

/* verdict.c: a pod firebreak moved off a failed node, when, and whether its workload was a
 * suspect of the failure (then its replacement follows it: core_pod.followed). */
typedef struct core_move {
	int64_t at_ms;
	bool follow;
} core_move;

typedef struct core_stint {
	int64_t from_ms, to_ms;
	double per_ms;             /* the node's background failure rate, failures per ms */
	bool merged;               /* several, merged when more left than are kept: [from, to)
	                              covers each cut at the horizon, per_ms is their sum */
} core_stint;

#define CORE_STINTS_MAX 32
#define CORE_POOLS_MAX 16

/* surprise.c: a pool's failure history (a pool: the nodes a budget selects first). */
typedef struct core_pool_rate {
	const char *budget;        /* NULL: nodes no budget selects (owned by core_budget) */
	int nodes;
	double node_days;          /* exposure within the background period */
	double failures;           /* groups of failures (FB_BURST_SPAN_MS), outages excluded */
	double per_day;            /* the estimate: failures per node per day */
} core_pool_rate;

typedef struct core_background {
	int64_t computed_ms;       /* 0: to be computed */
	core_pool_rate pools[CORE_POOLS_MAX]; /* [0]: the whole cluster */
	size_t npools;
	double judged_measured;    /* ... as counted, per year */
	double mp_failures;
	double attributed_failures; /* groups with a failure the node's agent had attributed */
} core_background;

/* An EvictionBudget at runtime (admission.c). */
struct core_budget {
	char *name;
	int64_t generation;
	bool has_spec;             /* a good spec has been seen */
	fb_budget_spec spec;       /* the last good spec, in force */
	cJSON *spec_json;          /* the same, for status.lastAppliedSpec */
	bool invalid;
	char invalid_msg[256];
	int64_t invalid_generation;
	bool invalid_reported;
	fb_zones zones;            /* spec.rate: its own zone limiter over its nodes */
	fb_admission *adm;         /* durable admissions (from status + ours) */
	size_t nadm, admcap;
	int selected, unhealthy;
	bool halted;
	bool status_dirty;
	int last_selected, last_unhealthy;
};

struct fb_core {
	fb_core_config cfg;
	bool leader;
	bool rejudge;              /* leadership just gained: forget in-flight work */
	int64_t last_now_ms;
	fb_core_stats stats;
	/* tables.c */
	kc_map nodes;              /* name -> core_node */
	kc_map pods;               /* uid -> core_pod */
	kc_map workloads;          /* id -> core_workload */
	/* admission.c */
	core_budget **budgets;     /* sorted by name */
	size_t nbudgets, budgetcap;
	uint64_t sel_epoch;        /* bumped when any budget's selection may have changed */
	fb_zones zones;            /* cluster-wide, the node lifecycle controller's */
	bool counts_dirty;
	/* verdict.c */
	fb_evidence evidence;      /* recent node failures and who arrived before them */
	bool workloads_dirty;      /* some workload needs judging */
	bool outage_seen;          /* master disruption already handled */
	core_background bg;        /* surprise.c */
	/* quarantine.c */
	size_t releases_pending;   /* workloads with release_pending set */
	size_t tainted_nodes;      /* known nodes carrying a firebreak.dev/quarantine taint */
	size_t scales_pending;     /* workloads in SCALE_WANTED or SCALE_RESTORE */
	int64_t scale_due_ms;      /* none of them is due before this */
	bool gates_dirty;          /* gates, escapes or finalizers may need work (gate pass) */
	bool quarantines_synced;   /* every Quarantine observed: gates may be removed */
	int64_t gate_due_ms;       /* a retry or backoff of the gate pass ends then */
	size_t moves;              /* verdict.c: sum of the workloads' nmoves (core_check recounts) */
	/* managed.c */
	bool managed_dirty;        /* a pod's cover may have changed: look again */
	bool managed_dry_budgets;  /* in this pass: a budget is in dry run (managed.c) */
	int64_t managed_due_ms;
	double managed_tokens;     /* the adopt_per_s bucket */
	int64_t managed_refill_ms;
};

/* ---- small helpers (actions.c) ------------------------------------------------ */

void copy_str(char *dst, size_t cap, const char *src);
bool replace_str(char **dst, const char *src);
/* A duration for messages, whole seconds ("1m30s"). */
const char *ago(int64_t ms, char *buf, size_t cap);
const char *cond_name(fb_cond c);
/* A new action of this kind at the end of out (zeroed, grace -1), or NULL on ENOMEM. */
fb_action *push_action(fb_actions *out, fb_action_kind kind);
/* An Event about an object; "(dry run) " leads its message in dry run. */
void event(fb_actions *out, bool dry_run, fb_obj_kind obj, const char *ns, const char *name,
           const char *uid, fb_reason reason, const char *fmt, ...)
	__attribute__((format(printf, 8, 9)));
/* An Event about workload w (its kind in the action's workload reference). */
void workload_event(fb_actions *out, bool dry, const core_workload *w, fb_reason reason,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The workload reference of w. */
void workload_ref(const core_workload *w, fb_workload_ref *out);

/* ---- tables.c ------------------------------------------------------------------- */

/* The record of workload id ("Kind/namespace/name"), added if new. NULL on a malformed id or ENOMEM. */
core_workload *workload_get_or_add(fb_core *c, const char *id);
core_workload *workload_find(fb_core *c, const fb_workload_ref *ref);
/* Forget w if nothing about it is left to remember (no pods, no evidence, no verdict). */
void workload_forget_if_idle(fb_core *c, core_workload *w);
static inline const char *pod_workload_id(const core_pod *p)
{
	return p->wl ? p->wl->id : NULL;
}
void tables_free(fb_core *c);

/* ---- admission.c ----------------------------------------------------------------- */

/*
 * The budgets (with a good spec) that select n, in order of name:
 *     core_budget *b;
 *     for (budget_iter it = node_budgets(c, n); (b = node_budget_next(c, n, &it));)
 * Nothing may change the budgets or the node's labels during the iteration.
 */
typedef struct budget_iter {
	size_t i;
	bool cached;
} budget_iter;
budget_iter node_budgets(fb_core *c, core_node *n);
core_budget *node_budget_next(fb_core *c, const core_node *n, budget_iter *it);
/* Global dry run, or a budget over the node says dryRun. */
bool node_dry_run(fb_core *c, core_node *n);
core_budget *budget_find(fb_core *c, const char *name, size_t *pos);
void budgets_free(fb_core *c);
/* Tick passes. */
void admission_prune(fb_core *c, int64_t now_ms);
void admission_recount(fb_core *c, int64_t now_ms, fb_actions *out);
int64_t admission_pass(fb_core *c, int64_t now_ms, fb_actions *out);
void admission_report_budgets(fb_core *c, fb_actions *out);

/* ---- eviction.c ------------------------------------------------------------------ */

/* When pod p on failed node n is due, if it is to be evicted at all (INT64_MAX: never). */
int64_t pod_next_due(const core_pod *p, const core_node *n);
/* The earliest time a pod on failed node n is due (INT64_MAX: never). */
int64_t node_next_due(const core_node *n);
int64_t eviction_pass(fb_core *c, int64_t now_ms, fb_actions *out);
void eviction_rejudge(fb_core *c);

/* ---- verdict.c ------------------------------------------------------------------- */

/* A node's firebreak.dev/failure annotation, as observed. */
void verdict_restore_failure(fb_core *c, core_node *n, const char *json);
int64_t verdict_pass(fb_core *c, int64_t now_ms, fb_actions *out);
/* Firebreak is moving pod p off failed node n (eviction.c): remember it for p's workload. */
void verdict_note_move(fb_core *c, const core_pod *p, const core_node *n, int64_t now_ms);
/* The longest poison window (window) or arrival window in force: the defaults' or a
 * budget's (surprise.c). */
int64_t poison_longest(const fb_core *c, bool window);
/* A new pod p of its workload appeared: is it the replacement of a moved pod? */
void verdict_new_pod(fb_core *c, core_pod *p);
/* The poison settings over a node: its first budget's by name, else the defaults. */
const fb_poison_spec *node_poison_spec(fb_core *c, core_node *n);

/* ---- surprise.c ------------------------------------------------------------------ */

/* Node n's failure f was recorded: note it in n's history (and f's earlier list). */
void surprise_note_failure(fb_core *c, core_node *n, const fb_failure *f);
/* Node n's record as read back: its history (the record's own failure and the earlier). */
void surprise_restore_history(fb_core *c, core_node *n, const fb_failure *f);
/* f as it will be written for node n: its earlier failures from n's history. */
void surprise_fill_past(const core_node *n, fb_failure *f);
/* Pod p is leaving its node (deleted, or bound elsewhere): keep its exposure. */
void surprise_pod_leaves(fb_core *c, core_pod *p);
/* The background changed (a failure recorded, a node added or gone): recompute it. */
static inline void surprise_invalidate(fb_core *c)
{
	c->bg.computed_ms = 0;
}
/*
 * The surprise verdict on w, with its failures since since_ms. True when it is
 * poison; why (an operator's sentence) says why either way.
 */
bool surprise_judge(fb_core *c, core_workload *w, const fb_poison_spec *spec, int64_t since_ms,
                    int64_t now_ms, int *bad, double *p, char *why, size_t whycap);
void surprise_free_workload(core_workload *w);

/* ---- quarantine.c ---------------------------------------------------------------- */

/* The verdict on w carried out (or reported, in dry run); why: the surprise verdict's
 * sentence (NULL: the ratio rule's). */
void quarantine_declare(fb_core *c, core_workload *w, const char **nodes, int bad, int good,
                        const fb_poison_spec *spec, const char *why, int64_t now_ms,
                        fb_actions *out);
/* Our taint on node n for workload w, added or removed. */
void taint_action(fb_actions *out, const core_node *n, const core_workload *w, bool add);
/* The node's observed taint changed (keeps tainted_nodes). */
int quarantine_node_taint(fb_core *c, core_node *n, const char *taint);
int64_t quarantine_scale_pass(fb_core *c, int64_t now_ms, fb_actions *out);
/* Taints of released workloads, then the Released status. Returns when an untaint is due again. */
int64_t quarantine_release_pass(fb_core *c, int64_t now_ms, fb_actions *out);
/* Gates, escaped pods, the Quarantine's status and finalizer. Returns its next due time. */
int64_t quarantine_gate_pass(fb_core *c, int64_t now_ms, fb_actions *out);
/* w's verdict is in force: its new pods are gated. */
static inline bool workload_held(const core_workload *w)
{
	return w->quarantined && !w->dry_run;
}
/* Failure f (on node n) is w's doing: add it to w's Quarantine status. */
void quarantine_add_node(fb_core *c, core_workload *w, const char *node);
void quarantine_rejudge(fb_core *c);

/* ---- managed.c ------------------------------------------------------------------ */

/* Pods covered, adopted or given back (managed mode). Returns its next due time. */
int64_t managed_pass(fb_core *c, int64_t now_ms, fb_actions *out);
/* A pod's cover, record or eligibility may have changed. */
void managed_pod_changed(fb_core *c, core_pod *p);
/* A new leader: ask again for every pod still uncovered. */
void managed_rejudge(fb_core *c);

/* ---- core.c ----------------------------------------------------------------------- */

/* Recount every counter the tick relies on from the tables and check the links (FB_CHECKS). */
void core_check(const fb_core *c);

#endif
