/*
 * sim.h - firebreak-sim: a deterministic discrete-event simulation of a
 * cluster (nodes in zones and pools, Deployments, a spreading scheduler,
 * ReplicaSet replacement, node failures and repairs, rollouts, zone outages,
 * poison workloads) that drives the controller's own decision core (core.h)
 * and, on the same seeds, a model of default Kubernetes (the node lifecycle
 * controller's zone rules from zones.h + the taint-eviction controller) and
 * the two operator workarounds of the incident (a lowered
 * --node-eviction-rate, NotReady eviction turned off).
 *
 * Everything is a pure function of (scenario, policy, seed, params): no clock
 * is read inside a run, so the same inputs give the same numbers.
 */
#ifndef FB_SIM_H
#define FB_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FB_SIM_FILE_MAX (64u << 10) /* a scenario file larger than this is refused */

typedef enum fb_sim_policy {
	FB_SIM_FIREBREAK,        /* the decision core; its actions carried out */
	FB_SIM_FIREBREAK_RATIO,  /* the same with the ratio rule, the verdict before issue 15 */
	FB_SIM_K8S,              /* node lifecycle controller + taint eviction, defaults */
	FB_SIM_K8S_SLOW,         /* the same with --node-eviction-rate 0.0003 */
	FB_SIM_K8S_NO_EVICTION,  /* NotReady eviction off: pods never move */
	FB_SIM_NPOLICIES
} fb_sim_policy;

/* "firebreak", "firebreak-ratio", "kubernetes", "k8s-slow-rate", "k8s-no-eviction" */
const char *fb_sim_policy_name(fb_sim_policy p);
/* false when name is none of the above */
bool fb_sim_policy_parse(const char *name, fb_sim_policy *out);

typedef struct fb_sim_scenario fb_sim_scenario;

/*
 * Load a scenario (YAML, see controller/sim/scenarios/). Unknown keys,
 * missing required keys and out-of-range values are refused: -1 with a
 * one-line message naming the field (and `source`) in err, *out NULL.
 * On success *out is owned by the caller (fb_sim_scenario_free).
 */
int fb_sim_scenario_load_mem(const char *data, size_t len, const char *source,
                             fb_sim_scenario **out, char *err, size_t errcap);
int fb_sim_scenario_load_file(const char *path, fb_sim_scenario **out, char *err,
                              size_t errcap);
void fb_sim_scenario_free(fb_sim_scenario *s);
const char *fb_sim_scenario_name(const fb_sim_scenario *s);
int fb_sim_scenario_nodes(const fb_sim_scenario *s);
int64_t fb_sim_scenario_duration_ms(const fb_sim_scenario *s);

/* firebreak's settings under test (the firebreak policies only). */
typedef struct fb_sim_params {
	int poison_failures;            /* spec.poison.failures */
	int64_t poison_window_ms;       /* spec.poison.window (0: the verdict's own) */
	int64_t arrival_window_ms;      /* spec.poison.arrivalWindow (0: the verdict's own) */
	double poison_ratio;            /* fb_core_config.poison_ratio (firebreak-ratio) */
	double false_alarms_per_year;   /* fb_core_config's (firebreak) */
	bool no_memory_pressure_evidence;
	int64_t duration_ms;            /* > 0: overrides the scenario's duration */
	int64_t kill_after_ms;          /* > 0: overrides every poison workload's killAfter */
	bool trace;                     /* print each verdict and failure record to stderr */
	bool no_gate;                   /* no admission webhook: new pods are never gated */
} fb_sim_params;

/* The core's defaults; the scenario's killAfter. */
void fb_sim_params_defaults(fb_sim_params *p);

typedef struct fb_sim_result {
	int nodes_lost;                 /* distinct nodes a poison pod stopped */
	double stuck_pod_minutes;       /* innocent pods bound to stopped nodes */
	int false_quarantines;          /* quarantines of workloads that are not poison */
	int poison_quarantined;         /* poison workloads quarantined */
	long evictions;                 /* pods evicted or deleted by the policy */
	long node_failures;             /* node stops of any cause */
	long events;                    /* simulation events processed */
	long core_ticks;                /* fb_core_tick calls (firebreak) */
	long actions;                   /* actions the core gave (firebreak) */
	long pods_gated;                /* new pods the quarantine gate held at creation */
	uint64_t digest;                /* of those actions, in order (sim.c digest_action) */
	/* the surprise verdict's judgements (fb_core_stats): how many, the false quarantines
	 * they could have made at worst (the sum of their limits), and how many had p <= 10^-i */
	long judgements;
	double false_expected;
	long judged_p_below[8];
} fb_sim_result;

/*
 * Run one scenario under one policy with one seed. params may be NULL (the
 * defaults). Returns 0, or -1 when memory runs out (err says so).
 */
int fb_sim_run(const fb_sim_scenario *s, fb_sim_policy policy, uint64_t seed,
               const fb_sim_params *params, fb_sim_result *out, char *err, size_t errcap);

#endif
