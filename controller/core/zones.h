/*
 * zones.h - node admission per zone, as kube-controller-manager's node
 * lifecycle controller does it (pkg/controller/nodelifecycle/
 * node_lifecycle_controller.go: ComputeZoneState, handleDisruption,
 * setLimiterInZone, HealthyQPSFunc, ReducedQPSFunc; the per-zone
 * RateLimitedTimedQueue guarded by a token bucket of burst 1).
 *
 * Pure: the caller passes the time in; nothing here reads a clock or does I/O.
 */
#ifndef FB_ZONES_H
#define FB_ZONES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum fb_zone_state {
	FB_ZONE_INITIAL,
	FB_ZONE_NORMAL,
	FB_ZONE_PARTIAL_DISRUPTION,
	FB_ZONE_FULL_DISRUPTION,
} fb_zone_state;

/* "Initial" | "Normal" | "PartialDisruption" | "FullDisruption" */
const char *fb_zone_state_name(fb_zone_state s);

/* The node lifecycle controller's flags, with its defaults. */
typedef struct fb_rates {
	double normal;               /* --node-eviction-rate (nodes/s) */
	double secondary;            /* --secondary-node-eviction-rate */
	double unhealthy_threshold;  /* --unhealthy-zone-threshold */
	int large_cluster_threshold; /* --large-cluster-size-threshold */
} fb_rates;

#define FB_RATES_DEFAULT ((fb_rates){ 0.1, 0.01, 0.55, 50 })

/*
 * A token bucket of burst 1 (flowcontrol.NewTokenBucketRateLimiter(qps, 1)).
 * qps <= 0 never admits (flowcontrol.NewFakeNeverRateLimiter, what
 * SwapLimiter(0) installs).
 */
typedef struct fb_bucket {
	double qps;
	double tokens;    /* 0..1 */
	int64_t last_ms;  /* when tokens was last brought up to date */
} fb_bucket;

/* A fresh, full bucket (what SwapLimiter installs). */
void fb_bucket_reset(fb_bucket *b, double qps, int64_t now_ms);
/* TryAccept: take a token if one is there. */
bool fb_bucket_try(fb_bucket *b, int64_t now_ms);
/* The earliest time a token will be there; INT64_MAX when qps <= 0. */
int64_t fb_bucket_next_ms(const fb_bucket *b, int64_t now_ms);

/*
 * ComputeZoneState: FullDisruption when no node of the zone is Ready (and at
 * least one is not); PartialDisruption when more than 2 are not Ready and
 * their share is >= threshold; Normal otherwise.
 */
fb_zone_state fb_compute_zone_state(int ready, int not_ready, double threshold);

/*
 * setLimiterInZone: Normal -> normal rate; PartialDisruption -> secondary rate
 * if the zone has more than large_cluster_threshold nodes, else 0
 * (ReducedQPSFunc); FullDisruption -> normal rate (HealthyQPSFunc: a dead zone
 * should fail over).
 */
double fb_zone_qps(fb_zone_state s, int zone_size, const fb_rates *r);

/*
 * The zone key of a node, as nodetopology.GetZoneKey: region + ":\0:" + zone
 * from topology.kubernetes.io/{region,zone}, falling back to the deprecated
 * failure-domain.beta.kubernetes.io labels; "" when neither is set.
 * Because of the NUL inside, keys are (pointer, length) pairs; fb_zone_display
 * gives a printable "region/zone" form.
 */
#define FB_ZONE_KEY_MAX 256
size_t fb_zone_key(const char *region, const char *zone, char out[FB_ZONE_KEY_MAX]);
/* Printable form of a key: "zone", "region/zone", or "(no zone)". */
const char *fb_zone_display(const char *key, size_t key_len, char *buf, size_t cap);

typedef struct fb_zone {
	char key[FB_ZONE_KEY_MAX];
	size_t key_len;
	fb_zone_state state;
	fb_bucket bucket;
	int ready, not_ready;       /* counted in the current pass */
	bool seen;                  /* seen in the current pass */
} fb_zone;

typedef struct fb_zone_change {
	const fb_zone *zone;
	fb_zone_state from, to;
} fb_zone_change;

typedef struct fb_zones {
	fb_zone *v;
	size_t n, cap;
	bool master_disruption;     /* every zone fully disrupted: nothing is evicted */
} fb_zones;

void fb_zones_init(fb_zones *z);
void fb_zones_release(fb_zones *z);

/*
 * One pass of handleDisruption:
 *   fb_zones_begin(z);
 *   for each node not labelled node.kubernetes.io/exclude-disruption:
 *       fb_zones_count(z, key, len, ready);
 *   fb_zones_end(z, rates, now, on_change, ud);
 * New zones start Initial and move to their computed state (with a fresh
 * bucket) in the same pass; zones no longer seen are forgotten. When every
 * zone is fully disrupted, every bucket is set to never admit and
 * master_disruption is set; leaving that mode resets every zone's bucket for
 * its state (the shell also resets the nodes' failure timestamps then, as
 * upstream resets probe and transition timestamps).
 * fb_zones_count returns -1 only when memory runs out.
 */
void fb_zones_begin(fb_zones *z);
int fb_zones_count(fb_zones *z, const char *key, size_t key_len, bool ready);
void fb_zones_end(fb_zones *z, const fb_rates *r, int64_t now_ms,
                  void (*on_change)(void *ud, const fb_zone_change *c), void *ud);
fb_zone *fb_zones_find(fb_zones *z, const char *key, size_t key_len);

#endif
