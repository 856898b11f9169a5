/* sim_int.h - what the simulator's own files share (the parsed scenario). */
#ifndef FB_SIM_INT_H
#define FB_SIM_INT_H

#include <stdint.h>

#include "sim.h"

#define FB_SIM_NAME_MAX 64
#define FB_SIM_POOLS_MAX 16
#define FB_SIM_ZONES_MAX 16         /* distinct zones in a scenario */
#define FB_SIM_POOL_ZONES_MAX 8
#define FB_SIM_LABELS_MAX 8
#define FB_SIM_WORKLOAD_SPECS_MAX 256
#define FB_SIM_WORKLOADS_MAX 20000  /* after expanding `count` */
#define FB_SIM_NODES_MAX 10000
#define FB_SIM_REPLICAS_MAX 2000
#define FB_SIM_OUTAGES_MAX 16
#define FB_SIM_BUDGETS_MAX 8
#define FB_SIM_BUDGET_SPEC_MAX 4096

typedef struct fb_sim_pool {
	char name[FB_SIM_NAME_MAX];
	int nodes;
	int zones[FB_SIM_POOL_ZONES_MAX]; /* indexes into the scenario's zone table */
	int nzones;
	char label_key[FB_SIM_LABELS_MAX][FB_SIM_NAME_MAX];
	char label_value[FB_SIM_LABELS_MAX][FB_SIM_NAME_MAX];
	int nlabels;
	int max_pods;
} fb_sim_pool;

typedef struct fb_sim_workload_spec {
	char name[FB_SIM_NAME_MAX];
	int count;                        /* this many workloads, named name-0, name-1, ... */
	int replicas_min, replicas_max;   /* drawn per workload and seed */
	int pool;                         /* -1: any node */
	bool poison;
	int64_t kill_after_ms;            /* a node running one of its pods this long stops */
	int64_t start_ms;                 /* created at this time (0 = running from the start) */
	int64_t repair_ms;                /* a node it stopped comes back after this; 0 = never */
	int64_t scale_at_ms;              /* scaled to scale_to replicas then (0 = never) */
	int scale_to;
	int64_t delete_pods_at_ms;        /* every pod of it deleted then (0 = never) */
	double kill_sigma;                /* the kill delay is killAfter x exp(sigma Z) (0: exact) */
	double lethality;                 /* the share of nodes it lands on that it kills (1) */
	double memory_pressure;           /* chance a node it stops showed MemoryPressure first */
	double attribution;               /* chance firebreak-node named its pod first */
} fb_sim_workload_spec;

#define FB_SIM_RACKS_MAX 16

/* A rack (or top-of-rack switch): a share of a pool's nodes stopping at one instant. */
typedef struct fb_sim_rack {
	int pool;
	int64_t at_ms, repair_ms;
	double fraction;
	int64_t rollout_before_ms;        /* > 0: a rollout of a workload there starts this long before */
} fb_sim_rack;

typedef struct fb_sim_outage {
	int zone;
	int64_t at_ms, duration_ms;
} fb_sim_outage;

typedef struct fb_sim_budget {
	char name[FB_SIM_NAME_MAX];
	char spec[FB_SIM_BUDGET_SPEC_MAX]; /* EvictionBudget .spec as JSON (checked at load) */
} fb_sim_budget;

struct fb_sim_scenario {
	char name[FB_SIM_NAME_MAX];
	int64_t duration_ms;
	int64_t detect_min_ms, detect_max_ms; /* stopped -> Ready=Unknown (grace period) */
	int64_t replace_delay_ms;             /* pod gone -> replacement created and bound */
	int64_t toleration_s;                 /* DefaultTolerationSeconds */
	char zones[FB_SIM_ZONES_MAX][FB_SIM_NAME_MAX];
	int nzones;
	fb_sim_pool pools[FB_SIM_POOLS_MAX];
	int npools;
	fb_sim_workload_spec wls[FB_SIM_WORKLOAD_SPECS_MAX];
	int nwls;
	double failures_per_node_day;
	int64_t failure_repair_ms;
	double failure_memory_pressure;       /* chance a random failure showed MemoryPressure first */
	double failure_attribution;           /* chance firebreak-node named a pod of it (the
	                                         newest) first: a wrong naming */
	fb_sim_rack racks[FB_SIM_RACKS_MAX];
	int nracks;
	int64_t rollout_every_ms, rollout_spacing_ms;
	fb_sim_outage outages[FB_SIM_OUTAGES_MAX];
	int noutages;
	fb_sim_budget budgets[FB_SIM_BUDGETS_MAX];
	int nbudgets;
};

#endif
