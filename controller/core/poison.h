/*
 * poison.h - the evidence that a workload kills the nodes it lands on, and
 * the verdict (DESIGN.md 2.4, issue 5).
 *
 * For every node failure the core records which workloads had a pod that
 * arrived on the node within arrivalWindow before it failed (arrival =
 * PodScheduled transition time), and for each whether its previous pod had
 * been on a node that failed before (a migration chain). The record is
 * written to the Node as an annotation (firebreak.dev/failure) so that a new
 * leader or a restarted firebreak reads the same evidence back.
 *
 * The verdict: a workload is poison when
 *   bad  >= failures                       (distinct failed nodes within
 *                                            `window` where it was a recent
 *                                            arrival), and
 *   bad  >= ratio x (bad + good)           (good = distinct healthy nodes
 *                                            where it arrived within the
 *                                            window and which are still up).
 * The second condition is the guard against coincidence: a workload rolled
 * out onto many nodes, a couple of which fail at random, has good >> bad.
 */
#ifndef FB_POISON_H
#define FB_POISON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define FB_FAILURE_ANNOTATION "firebreak.dev/failure"
#define FB_FAILURE_ANNOTATION_MAX (64u << 10)  /* cap on what is read back */
#define FB_FAILURE_SUSPECTS_MAX 64             /* workloads kept per failure */
#define FB_POISON_RATIO_DEFAULT 0.5
/*
 * A failure is judged 15 s after it (or when its node's first pod is due):
 * long enough for the node lifecycle controller to mark the rest of a zone
 * or cluster outage (monitor period 5 s, lease renewals every 10 s).
 */
#define FB_POISON_SETTLE_DEFAULT_MS 15000

typedef struct fb_suspect {
	char *workload;        /* "Kind/namespace/name" */
	char *pod;             /* the pod that arrived */
	int64_t arrived_ms;
	char *migrated_from;   /* a failed node its previous pod was on, or NULL */
	bool attributed;       /* the node's agent laid its unaccounted memory at this pod
	                          before the failure (firebreak-node, issue 16) */
} fb_suspect;

/*
 * An earlier failure of the same node, kept in its record for the background
 * rate (verdict.c): when, whether it was part of an outage (zone, cluster),
 * and how many workloads were judged on it.
 */
typedef struct fb_past_failure {
	int64_t at_ms;
	int suspects;
	bool outage;
	bool memory_pressure;
	bool attributed;       /* its memory was laid at a pod of one of its suspects */
} fb_past_failure;

#define FB_FAILURE_PAST_MAX 32 /* earlier failures kept per node (the latest) */

typedef struct fb_failure {
	char *node;
	int64_t failed_ms;
	bool memory_pressure;  /* MemoryPressure was True before the node failed */
	bool outage;           /* part of a zone or cluster outage: no suspects, not background */
	bool attributed;       /* firebreak-node named a pod of the node (suspect or not) before
	                          it failed: counted in qa, how often failures are named */
	fb_suspect *s;
	size_t n, cap;
	/* the node's earlier failures within the background period, oldest first; written
	 * with the record so that the cluster's failure history outlives a restart */
	fb_past_failure past[FB_FAILURE_PAST_MAX];
	size_t npast;
} fb_failure;

typedef struct fb_evidence {
	fb_failure *v;
	size_t n, cap;
} fb_evidence;

void fb_failure_release(fb_failure *f);
/* Keep the failure on record but with no suspects (it was not their doing). */
void fb_failure_drop_suspects(fb_failure *f);
/*
 * Keep only the suspects whose workload keep() accepts (the failure is
 * explained by them). True if any was dropped.
 */
bool fb_failure_keep_only(fb_failure *f, bool (*keep)(const char *workload, void *ud), void *ud);
/* The suspect of f that is workload (its first), or NULL. */
const fb_suspect *fb_failure_suspect(const fb_failure *f, const char *workload);
/* A deep copy of src into *dst. -1 on ENOMEM (*dst is then released). */
int fb_failure_copy(fb_failure *dst, const fb_failure *src);
/* Append a suspect (strings copied). -1 on ENOMEM or when full. */
int fb_failure_add_suspect(fb_failure *f, const char *workload, const char *pod,
                           int64_t arrived_ms, const char *migrated_from);

/* The annotation's value, compact JSON; caller frees with kc_free. NULL on ENOMEM. */
char *fb_failure_to_json(const fb_failure *f);
/*
 * Parse an annotation written by fb_failure_to_json for node. -1 on anything
 * malformed or oversized (the record is then ignored, never half-used).
 */
int fb_failure_from_json(const char *json, const char *node, fb_failure *out);

void fb_evidence_init(fb_evidence *e);
void fb_evidence_release(fb_evidence *e);
/*
 * Take ownership of *f (it is zeroed). Returns the stored record, or NULL
 * when the same failure (node and time) is already known (f is released) or
 * on ENOMEM.
 */
fb_failure *fb_evidence_take(fb_evidence *e, fb_failure *f);
bool fb_evidence_has(const fb_evidence *e, const char *node, int64_t failed_ms);
/* The record of node's failure at failed_ms, or NULL. */
fb_failure *fb_evidence_find(fb_evidence *e, const char *node, int64_t failed_ms);
/* Forget failures older than before_ms. */
void fb_evidence_prune(fb_evidence *e, int64_t before_ms);
/*
 * Distinct nodes that failed at or after since_ms with workload among their
 * suspects (arrived at or after not_before_ms). Up to max node names are
 * stored in nodes (pointers into the evidence). Returns the count.
 */
int fb_evidence_bad(const fb_evidence *e, const char *workload, int64_t since_ms,
                    int64_t not_before_ms, const char **nodes, int max);
/*
 * The node a pod of workload that arrived at arrived_ms on node `node` most
 * plausibly came from: the latest other node that failed before the arrival
 * (and after arrived_ms - window) with the workload among its suspects.
 * NULL if none.
 */
const char *fb_evidence_migrated_from(const fb_evidence *e, const char *workload,
                                      const char *node, int64_t arrived_ms, int64_t window_ms);

bool fb_poison_verdict(int bad, int good, int failures, double ratio);

/* ---- the surprise verdict's arithmetic (surprise.c) ---- */
#define FB_FALSE_ALARMS_PER_YEAR_DEFAULT 0.01          /* one in a hundred cluster-years */
#define FB_PRIOR_FAILURES_PER_NODE_DAY_DEFAULT 0.01    /* one per node per 100 days */
#define FB_BACKGROUND_PERIOD_DEFAULT_MS (30LL * 24 * 3600 * 1000)
/* Failures of one workload's nodes within this span of the first are one piece of
 * evidence (a rack, a switch, a rollout's replicas dying together). */
#define FB_BURST_SPAN_MS (60 * 1000)

/*
 * P(N >= k) for N ~ Poisson(mean): the chance of k or more events where mean
 * were expected. Exact to a few ulps also for tails far below 1e-300 relative
 * to 1 (summed from the tail, not as 1 - cdf). 1 for k <= 0.
 */
double fb_poisson_tail(int k, double mean);

#endif
