/*
 * sim.c - the simulation engine (see sim.h).
 *
 * The cluster: nodes (pool, zone, physically up or stopped, and Ready as the
 * control plane sees it), Deployments with replicas, pods bound to nodes.
 * Exogenous events (random node failures, rollouts, zone outages, poison
 * workloads starting) are drawn from the seed before the run, so every
 * policy faces the same ones. What follows from them (detections, evictions,
 * replacements, the poison's next victims) depends on the policy.
 *
 * Time is virtual (ms since a fixed epoch); the core is ticked after every
 * node change it observes and at the `next` time it returns, never on a
 * fixed clock, so a simulated day of 1,000 nodes costs a few thousand ticks.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core.h"
#include "kc/alloc.h"
#include "kc/array.h"
#include "kc/hash.h"
#include "render.h"
#include "sim_int.h"

#define SIM_T0 (1700000000LL * 1000)      /* a wall-clock epoch: arrivals must be > 0 */
#define SIM_DAY_MS (86400LL * 1000)
#define SIM_NS "default"
#define K8S_TAINT_PERIOD_MS 100           /* doNoExecuteTaintingPass runs every 100 ms */
#define K8S_SLOW_RATE 0.0003
#define CORE_TICKS_PER_MS_MAX 64          /* guard against a core that never settles */
#define NODE_AGE_MS (365 * SIM_DAY_MS)    /* every node was made a year before the start */
#define HISTORY_MS (30 * SIM_DAY_MS)      /* failures before the start the nodes' records show */
#define RACK_STREAM 1000                  /* rng streams of the racks (2 each) */
#define HISTORY_STREAM 100000             /* rng streams of the nodes' past (1 each) */
#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

const char *fb_sim_policy_name(fb_sim_policy p)
{
	switch (p) {
	case FB_SIM_FIREBREAK: return "firebreak";
	case FB_SIM_FIREBREAK_RATIO: return "firebreak-ratio";
	case FB_SIM_K8S: return "kubernetes";
	case FB_SIM_K8S_SLOW: return "k8s-slow-rate";
	case FB_SIM_K8S_NO_EVICTION: return "k8s-no-eviction";
	case FB_SIM_NPOLICIES: break;
	}
	return "?";
}

bool fb_sim_policy_parse(const char *name, fb_sim_policy *out)
{
	for (int p = 0; p < FB_SIM_NPOLICIES; p++) {
		if (strcmp(name, fb_sim_policy_name((fb_sim_policy)p)) == 0) {
			*out = (fb_sim_policy)p;
			return true;
		}
	}
	return false;
}

void fb_sim_params_defaults(fb_sim_params *p)
{
	fb_budget_spec d;
	fb_budget_spec_defaults(&d);
	p->poison_failures = d.poison.failures;
	p->poison_window_ms = d.poison.window_ms;
	p->arrival_window_ms = d.poison.arrival_window_ms;
	p->poison_ratio = FB_POISON_RATIO_DEFAULT;
	p->false_alarms_per_year = FB_FALSE_ALARMS_PER_YEAR_DEFAULT;
	p->no_memory_pressure_evidence = false;
	p->duration_ms = 0;
	p->kill_after_ms = 0;
	p->trace = false;
	p->no_gate = false;
	fb_budget_spec_release(&d);
}

/* ---- randomness: xoshiro256**, seeded by splitmix64 ------------------------------ */

typedef struct rng {
	uint64_t s[4];
} rng;

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed * 0x2545f4914f6cdd1dULL + stream;
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* uniform in [0, 1) */
static double rng_unit(rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

static int64_t rng_range(rng *r, int64_t lo, int64_t hi)
{
	if (hi <= lo)
		return lo;
	return lo + (int64_t)(rng_next(r) % (uint64_t)(hi - lo + 1));
}

/* A value drawn from (seed, a, b) alone, so that it does not shift other draws. */
static double hash_unit(uint64_t seed, uint64_t a, uint64_t b)
{
	uint64_t x = seed ^ (a * 0x9e3779b97f4a7c15ULL) ^ (b * 0xc2b2ae3d27d4eb4fULL);
	return (double)(splitmix64(&x) >> 11) * 0x1.0p-53;
}

/* ---- the cluster ---------------------------------------------------------------- */

typedef enum down_cause { DOWN_NONE, DOWN_RANDOM, DOWN_POISON, DOWN_OUTAGE } down_cause;

typedef struct sim_node {
	char name[24];
	int pool, zone;
	bool up;                   /* physically running */
	bool ready;                /* Ready as the control plane sees it */
	down_cause cause;
	int64_t down_ms;           /* when it stopped */
	int64_t ready_transition_ms;
	uint32_t epoch;            /* bumped at every stop and repair */
	char taint[64];            /* firebreak.dev/quarantine value; "" = none */
	bool lost;                 /* a poison pod stopped it */
	bool mp;                   /* MemoryPressure True: it is stopping, and showed it first */
	char named[24];            /* firebreak-node named this pod's uid before it stopped ("") */
	int64_t named_ms;
	int *pods;                 /* bound pods (indexes) */
	int npods, podcap;
	fb_labels labels;          /* for the core's budget selectors */
	/* the node lifecycle controller model */
	bool k_queued;
	int64_t k_queued_ms;
	bool k_tainted;
	uint32_t k_taint_epoch;
} sim_node;

typedef struct sim_pod {
	int wl;
	int node;                  /* -1: pending */
	int nslot;                 /* its index in the node's list */
	int wslot;                 /* its index in the workload's list */
	int gen;                   /* the rollout generation it belongs to */
	int64_t arrived_ms;        /* bound (PodScheduled) */
	int64_t created_ms;
	bool alive;
	bool gated;                /* held by the quarantine gate: never scheduled while so */
} sim_pod;

typedef struct sim_wl {
	char name[FB_SIM_NAME_MAX + 8];
	fb_workload_ref ref;            /* Deployment default/<name> */
	int spec;
	int replicas;
	int pool;
	bool poison;
	int64_t kill_after_ms, repair_ms;
	int *pods;                 /* alive pods (indexes), pending included */
	int npods, podcap;
	int gen;
	int roll_left;             /* rollout steps left */
	bool quarantined;
	int born;                  /* pods created so far (for names) */
} sim_wl;

typedef enum ev_type {
	EV_NODE_STOP,     /* a: node, b: cause, x: repair after (0 = never) */
	EV_NODE_DETECT,   /* a: node; epoch */
	EV_NODE_REPAIR,   /* a: node; epoch */
	EV_POISON_KILL,   /* a: node, b: pod; epoch */
	EV_POD_CREATE,    /* a: workload */
	EV_WL_START,      /* a: workload */
	EV_ROLLOUT,       /* a: workload */
	EV_ROLLOUT_STEP,  /* a: workload */
	EV_OUTAGE_START,  /* a: zone, x: duration */
	EV_OUTAGE_END,    /* a: zone */
	EV_CORE_TICK,
	EV_K8S_PASS,
	EV_K8S_EVICT,     /* a: node; epoch = taint epoch */
	EV_WL_SCALE,      /* a: workload; to its spec's scaleTo */
	EV_WL_DELETE_PODS, /* a: workload: every pod of it deleted (and replaced) */
	EV_RACK,          /* a: rack (fb_sim_scenario.racks) */
} ev_type;

typedef struct event {
	int64_t t;
	uint64_t seq;
	ev_type type;
	int a, b;
	uint32_t epoch;
	int64_t x;
} event;

typedef struct sim {
	const fb_sim_scenario *sc;
	fb_sim_policy policy;
	fb_sim_params params;
	uint64_t seed;
	int64_t now, end;
	bool nomem;

	sim_node *nodes;
	int nnodes;
	sim_wl *wls;
	int nwls;
	sim_pod *pods;
	size_t npods, podcap;
	int *pending;              /* pods waiting for a feasible node */
	size_t npending, pendcap;
	char zone_key[FB_SIM_ZONES_MAX][FB_ZONE_KEY_MAX];
	size_t zone_key_len[FB_SIM_ZONES_MAX];
	bool zone_out[FB_SIM_ZONES_MAX];  /* in an outage: nothing there comes back before it ends */

	event *heap;
	size_t nheap, heapcap;
	uint64_t seq;

	rng exo;                   /* exogenous events: same for every policy */
	rng sched;                 /* the scheduler's tie-breaks */

	/* firebreak */
	fb_core *core;
	fb_actions acts;
	int64_t tick_at;           /* the pending core tick; INT64_MAX = none */
	int64_t last_tick_ms;
	int ticks_this_ms;

	/* kubernetes */
	fb_zones zones;
	fb_rates rates;
	int64_t pass_at;

	fb_sim_result res;
} sim;

/* ---- the event heap ------------------------------------------------------------- */

static bool ev_less(const event *x, const event *y)
{
	return x->t != y->t ? x->t < y->t : x->seq < y->seq;
}

static void push(sim *s, int64_t t, ev_type type, int a, int b, uint32_t epoch, int64_t x)
{
	if (t > s->end)
		return;
	if (KC_ARRAY_RESERVE(s->heap, s->heapcap, s->nheap + 1) != 0) {
		s->nomem = true;
		return;
	}
	event e = { t, s->seq++, type, a, b, epoch, x };
	size_t i = s->nheap++;
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!ev_less(&e, &s->heap[parent]))
			break;
		s->heap[i] = s->heap[parent];
		i = parent;
	}
	s->heap[i] = e;
}

static event pop(sim *s)
{
	event top = s->heap[0];
	event last = s->heap[--s->nheap];
	size_t i = 0, n = s->nheap;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		const event *best = &last;
		if (l < n && ev_less(&s->heap[l], best)) {
			m = l;
			best = &s->heap[l];
		}
		if (r < n && ev_less(&s->heap[r], best))
			m = r;
		if (m == i)
			break;
		s->heap[i] = s->heap[m];
		i = m;
	}
	if (n)
		s->heap[i] = last;
	return top;
}

/* ---- small lists ------------------------------------------------------------------ */

static bool list_add(int **v, int *n, int *cap, int x, int *slot)
{
	size_t c = (size_t)*cap;
	if (KC_ARRAY_RESERVE(*v, c, (size_t)*n + 1) != 0 || c > INT_MAX)
		return false;
	*cap = (int)c;
	*slot = *n;
	(*v)[(*n)++] = x;
	return true;
}

/* ---- the core's view ---------------------------------------------------------------- */

static void node_obs(const sim *s, const sim_node *n, fb_node_obs *o, char uid[32])
{
	snprintf(uid, 32, "uid-%s", n->name);
	memset(o, 0, sizeof(*o));
	o->name = n->name;
	o->uid = uid;
	o->zone = s->sc->zones[n->zone];
	o->labels = &n->labels;
	o->ready = n->ready ? FB_COND_TRUE : FB_COND_UNKNOWN;
	o->ready_transition_ms = n->ready_transition_ms;
	o->quarantine_taint = n->taint[0] ? n->taint : NULL;
	o->created_ms = SIM_T0 - NODE_AGE_MS;
	o->memory_pressure = n->mp;
	o->attributed_pod_uid = n->named[0] ? n->named : NULL;
	o->attributed_ms = n->named_ms;
}

static void core_node(sim *s, const sim_node *n)
{
	if (!s->core)
		return;
	fb_node_obs o;
	char uid[32];
	node_obs(s, n, &o, uid);
	if (fb_core_node_set(s->core, &o, s->now) != 0)
		s->nomem = true;
}

/* The firebreak policies: the core decides. */
static bool firebreak_policy(fb_sim_policy p)
{
	return p == FB_SIM_FIREBREAK || p == FB_SIM_FIREBREAK_RATIO;
}

/* A standard normal draw from (seed, a, b) alone (Box-Muller). */
static double hash_normal(uint64_t seed, uint64_t a, uint64_t b)
{
	double u1 = hash_unit(seed, a, b * 2 + 1), u2 = hash_unit(seed, a, b * 2 + 2);
	return sqrt(-2.0 * log(1.0 - u1)) * cos(2 * M_PI * u2);
}

/*
 * The poison pod idx has just started on node ni: when it kills the node, or -1 if this
 * node survives it (lethality). Drawn from (seed, node, pod, epoch) alone: a constant
 * delay and lethality 1 draw nothing.
 */
static int64_t poison_delay(const sim *s, const sim_wl *w, int ni, int idx)
{
	const fb_sim_workload_spec *ws = &s->sc->wls[w->spec];
	uint64_t key = ((uint64_t)(uint32_t)idx << 32) | s->nodes[ni].epoch;
	if (ws->lethality < 1 && hash_unit(s->seed ^ 0x1e7ULL, (uint64_t)ni, key) >= ws->lethality)
		return -1;
	if (ws->kill_sigma <= 0)
		return w->kill_after_ms;
	double z = hash_normal(s->seed ^ 0x519ULL, (uint64_t)ni, key);
	double d = (double)w->kill_after_ms * exp(ws->kill_sigma * z);
	return d < 1000 ? 1000 : (int64_t)d;
}

static void poison_start(sim *s, const sim_wl *w, int ni, int idx)
{
	int64_t d = poison_delay(s, w, ni, idx);
	if (d >= 0)
		push(s, s->now + d, EV_POISON_KILL, ni, idx, s->nodes[ni].epoch, 0);
}

static void pod_uid(int idx, char out[24])
{
	snprintf(out, 24, "p%d", idx);
}

static void core_pod(sim *s, int idx)
{
	if (!s->core)
		return;
	const sim_pod *p = &s->pods[idx];
	const sim_wl *w = &s->wls[p->wl];
	char uid[24], name[FB_SIM_NAME_MAX + 32];
	pod_uid(idx, uid);
	snprintf(name, sizeof(name), "%s-%d", w->name, idx);
	fb_pod_obs o = { .ns = SIM_NS, .name = name, .uid = uid,
	                 .node = p->node >= 0 ? s->nodes[p->node].name : NULL,
	                 .workload = &w->ref,
	                 .tol_not_ready_s = s->sc->toleration_s,
	                 .tol_unreachable_s = s->sc->toleration_s,
	                 .arrived_ms = p->arrived_ms, .created_ms = p->created_ms,
	                 .gated = p->gated };
	fb_core_observed_at(s->core, s->now);
	if (fb_core_pod_set(s->core, &o) != 0)
		s->nomem = true;
}

/* ---- pods: scheduling, removal, replacement --------------------------------------- */

/*
 * The scheduler: the least-loaded feasible node, ties broken at random (the
 * default scheduler spreads with LeastAllocated and picks among equal
 * scores at random). Feasible: in the workload's pool, Ready (a NotReady node
 * carries the NoSchedule not-ready/unreachable taint), without the
 * firebreak.dev/quarantine NoSchedule taint (no pod tolerates it), room left.
 */
static int pick_node(sim *s, const sim_wl *w)
{
	int best = -1, ties = 0;
	for (int i = 0; i < s->nnodes; i++) {
		const sim_node *n = &s->nodes[i];
		if ((w->pool >= 0 && n->pool != w->pool) || !n->ready || n->taint[0] ||
		    n->npods >= s->sc->pools[n->pool].max_pods)
			continue;
		if (best < 0 || n->npods < s->nodes[best].npods) {
			best = i;
			ties = 1;
		} else if (n->npods == s->nodes[best].npods) {
			ties++;
			if (rng_next(&s->sched) % (uint64_t)ties == 0)
				best = i;
		}
	}
	return best;
}

static void pending_add(sim *s, int idx)
{
	if (KC_ARRAY_RESERVE(s->pending, s->pendcap, s->npending + 1) != 0) {
		s->nomem = true;
		return;
	}
	s->pending[s->npending++] = idx;
}

/* Bind pod idx to a node (arrived at arrived_ms, 0 = now), or leave it pending. */
static void bind_pod(sim *s, int idx, int64_t arrived_ms)
{
	sim_pod *p = &s->pods[idx];
	sim_wl *w = &s->wls[p->wl];
	int ni = pick_node(s, w);
	if (ni < 0) {
		pending_add(s, idx);
		return;
	}
	sim_node *n = &s->nodes[ni];
	if (!list_add(&n->pods, &n->npods, &n->podcap, idx, &p->nslot)) {
		s->nomem = true;
		return;
	}
	p->node = ni;
	p->arrived_ms = arrived_ms ? arrived_ms : s->now;
	core_pod(s, idx);
	if (w->poison && n->up)
		poison_start(s, w, ni, idx);
}

static void retry_pending(sim *s)
{
	size_t n = s->npending;
	if (!n)
		return;
	int *v = s->pending;
	s->pending = NULL;
	s->npending = s->pendcap = 0;
	for (size_t i = 0; i < n; i++)
		if (s->pods[v[i]].alive && s->pods[v[i]].node < 0)
			bind_pod(s, v[i], 0);
	kc_free(v);
}

/* A new pod of workload wi (a ReplicaSet creating one); bound at once if it can be. */
static int create_pod(sim *s, int wi, int64_t arrived_ms)
{
	if (KC_ARRAY_RESERVE(s->pods, s->podcap, s->npods + 1) != 0) {
		s->nomem = true;
		return -1;
	}
	int idx = (int)s->npods++;
	sim_pod *p = &s->pods[idx];
	sim_wl *w = &s->wls[wi];
	memset(p, 0, sizeof(*p));
	p->wl = wi;
	p->node = -1;
	p->gen = w->gen;
	p->alive = true;
	p->created_ms = arrived_ms ? arrived_ms : s->now;
	w->born++;
	if (!list_add(&w->pods, &w->npods, &w->podcap, idx, &p->wslot)) {
		s->nomem = true;
		return -1;
	}
	/* the admission webhook: a new pod of a quarantined workload waits behind the gate */
	char qname[FB_NAME_MAX];
	if (s->core && !s->params.no_gate && fb_core_gate(s->core, &w->ref, qname)) {
		p->gated = true;
		s->res.pods_gated++;
		core_pod(s, idx);
		return idx;
	}
	bind_pod(s, idx, arrived_ms);
	return idx;
}

/* Innocent pod-minutes on a stopped node, from when the pod was there and the node was down. */
static void stuck_until_now(sim *s, const sim_pod *p, const sim_node *n)
{
	if (n->up || s->wls[p->wl].poison)
		return;
	int64_t from = p->arrived_ms > n->down_ms ? p->arrived_ms : n->down_ms;
	if (s->now > from)
		s->res.stuck_pod_minutes += (double)(s->now - from) / 60000.0;
}

/* The pod is gone (evicted, deleted, rolled); a replacement follows if replace. */
static void remove_pod(sim *s, int idx, bool replace)
{
	sim_pod *p = &s->pods[idx];
	if (!p->alive)
		return;
	sim_wl *w = &s->wls[p->wl];
	if (p->node >= 0) {
		sim_node *n = &s->nodes[p->node];
		stuck_until_now(s, p, n);
		int last = n->pods[--n->npods];
		n->pods[p->nslot] = last;
		s->pods[last].nslot = p->nslot;
	}
	int wlast = w->pods[--w->npods];
	w->pods[p->wslot] = wlast;
	s->pods[wlast].wslot = p->wslot;
	p->alive = false;
	p->node = -1;
	if (s->core) {
		char uid[24];
		pod_uid(idx, uid);
		fb_core_observed_at(s->core, s->now);
		fb_core_pod_delete(s->core, uid);
	}
	if (replace)
		push(s, s->now + s->sc->replace_delay_ms, EV_POD_CREATE, p->wl, 0, 0, 0);
}

/* ---- firebreak: tick the core and carry out its actions ------------------------------ */

static int parse_index(const char *s, const char *prefix)
{
	size_t pl = strlen(prefix);
	if (strncmp(s, prefix, pl) != 0)
		return -1;
	char *end;
	long v = strtol(s + pl, &end, 10);
	if (end == s + pl || *end || v < 0 || v > 100000000)
		return -1;
	return (int)v;
}

static void apply_quarantine(sim *s, const fb_action *a)
{
	const fb_workload_ref *ref = &a->verdict->workload;
	for (int i = 0; i < s->nwls; i++) {
		sim_wl *w = &s->wls[i];
		if (strcmp(w->name, ref->name) != 0 || w->quarantined)
			continue;
		w->quarantined = true;
		if (w->poison)
			s->res.poison_quarantined++;
		else
			s->res.false_quarantines++;
		/* the informer sees the Quarantine object it created */
		fb_quarantine_obs q = { .ns = a->ns, .name = a->name, .workload = *ref,
		                        .action = FB_POISON_PIN, .scaled_from = -1,
		                        .finalizer_index = 0, .nfinalizers = 1,
		                        .created_ms = s->now };
		fb_core_quarantine_set(s->core, &q, s->now);
	}
}

/* FNV-1a over a string and its terminator. */
static void digest_str(uint64_t *h, const char *str)
{
	*h = (*h ^ kc_fnv1a64(str ? str : "", str ? strlen(str) + 1 : 1)) * 1099511628211ULL;
}

static void digest_json(uint64_t *h, cJSON *o)
{
	char *text = o ? cJSON_PrintUnformatted(o) : NULL;
	digest_str(h, text ? text : "(none)");
	cJSON_free(text);
	cJSON_Delete(o);
}

/*
 * Every action the core gives, in order, folded into one number per run
 * (--per-seed prints it): what the core decided, compared across builds
 * that must decide the same (a restructuring, say). The API objects go in
 * as the shell would write them.
 */
static void digest_action(sim *s, const fb_action *a)
{
	uint64_t *h = &s->res.digest;
	char head[96];
	snprintf(head, sizeof(head), "%d %d %d %lld", (int)a->kind, (int)a->dry_run, (int)a->obj,
	         (long long)a->grace_period_s);
	digest_str(h, head);
	digest_str(h, a->ns);
	digest_str(h, a->name);
	digest_str(h, a->uid);
	digest_str(h, a->node);
	digest_str(h, a->taint);
	digest_str(h, a->quarantine);
	bool wl = a->obj == FB_OBJ_WORKLOAD || a->kind == FB_ACT_SCALE_TO_ZERO ||
	          a->kind == FB_ACT_SCALE_RESTORE;
	digest_str(h, wl ? a->workload.kind : "");
	switch (a->kind) {
	case FB_ACT_EVENT:
		digest_str(h, a->warning ? "Warning" : "Normal");
		digest_str(h, fb_reason_name(a->reason));
		digest_str(h, fb_reason_action(a->reason));
		digest_str(h, a->message);
		break;
	case FB_ACT_NODE_ANNOTATE: {
		char *json = a->failure ? fb_failure_to_json(a->failure) : NULL;
		digest_str(h, json ? json : "(none)");
		kc_free(json);
		break;
	}
	case FB_ACT_QUARANTINE:
		digest_json(h, a->verdict ? fb_render_quarantine(a->verdict) : NULL);
		break;
	case FB_ACT_BUDGET_STATUS:
		digest_json(h, fb_core_budget_status_json(s->core, a->name, s->now));
		break;
	default:
		break;
	}
	s->res.actions++;
}

static void apply_actions(sim *s)
{
	bool untainted = false;
	for (size_t i = 0; i < s->acts.n; i++) {
		const fb_action *a = &s->acts.v[i];
		digest_action(s, a);
		if (a->dry_run)
			continue;
		switch (a->kind) {
		case FB_ACT_EVICT:
		case FB_ACT_DELETE: {
			int idx = parse_index(a->uid, "p");
			if (idx < 0 || (size_t)idx >= s->npods || !s->pods[idx].alive) {
				fb_core_evict_result(s->core, a->uid, FB_EVICT_GONE, s->now);
				break;
			}
			/* no PodDisruptionBudgets in the simulated cluster: accepted at once */
			fb_core_evict_result(s->core, a->uid, FB_EVICT_OK, s->now);
			s->res.evictions++;
			remove_pod(s, idx, true);
			break;
		}
		case FB_ACT_TAINT:
		case FB_ACT_UNTAINT: {
			int ni = parse_index(a->name, "node-");
			if (ni < 0 || ni >= s->nnodes)
				break;
			sim_node *n = &s->nodes[ni];
			if (a->kind == FB_ACT_TAINT) {
				snprintf(n->taint, sizeof(n->taint), "%s", a->taint);
			} else if (strcmp(n->taint, a->taint) == 0) {
				n->taint[0] = '\0';
				untainted = true;
			}
			core_node(s, n); /* the informer sees the node change */
			break;
		}
		case FB_ACT_QUARANTINE:
			apply_quarantine(s, a);
			break;
		case FB_ACT_EVENT:
			if (s->params.trace && (a->reason == FB_REASON_QUARANTINED ||
			                        a->reason == FB_REASON_FAILURE_RECORDED ||
			                        a->reason == FB_REASON_FAILURE_EXPLAINED ||
			                        a->reason == FB_REASON_ESCAPED ||
			                        a->reason == FB_REASON_RECALLED))
				fprintf(stderr, "  [%s seed %llu +%.1fmin] %s\n", s->sc->name,
				        (unsigned long long)s->seed, (double)(s->now - SIM_T0) / 60000.0,
				        a->message);
			break;
		case FB_ACT_UNGATE: {
			int idx = parse_index(a->uid, "p");
			if (idx < 0 || (size_t)idx >= s->npods || !s->pods[idx].alive ||
			    !s->pods[idx].gated)
				break;
			s->pods[idx].gated = false;
			bind_pod(s, idx, 0); /* the informer sees it ungated, then bound */
			if (s->pods[idx].node < 0)
				core_pod(s, idx);
			break;
		}
		case FB_ACT_BUDGET_STATUS:
		case FB_ACT_NODE_ANNOTATE:
		case FB_ACT_QUARANTINE_RELEASED:
		case FB_ACT_QUARANTINE_STATUS:
		case FB_ACT_QUARANTINE_HOLD:
		case FB_ACT_QUARANTINE_FINALIZE:
		case FB_ACT_COVER:   /* managed mode is not simulated: its eviction times are */
		case FB_ACT_UNCOVER: /* those of self-managed mode (docs/simulator.md) */
			break;
		case FB_ACT_SCALE_TO_ZERO:
		case FB_ACT_SCALE_RESTORE:
			/* not modelled: the simulated budgets never choose ScaleToZero */
			fb_core_scale_result(s->core, &a->workload, a->kind == FB_ACT_SCALE_RESTORE,
			                     FB_SCALE_REFUSED, s->now);
			break;
		}
	}
	fb_actions_clear(&s->acts);
	if (untainted)
		retry_pending(s);
}

static void core_tick(sim *s)
{
	if (!firebreak_policy(s->policy))
		return;
	if (s->now == s->last_tick_ms) {
		if (++s->ticks_this_ms > CORE_TICKS_PER_MS_MAX)
			return; /* the pending tick a millisecond later picks it up */
	} else {
		s->last_tick_ms = s->now;
		s->ticks_this_ms = 1;
	}
	s->res.core_ticks++;
	int64_t next = fb_core_tick(s->core, s->now, &s->acts);
	apply_actions(s);
	if (next == INT64_MAX) {
		s->tick_at = INT64_MAX;
		return;
	}
	if (next <= s->now)
		next = s->now + 1;
	s->tick_at = next;
	push(s, next, EV_CORE_TICK, 0, 0, 0, 0);
}

/* ---- kubernetes: node lifecycle controller + taint eviction --------------------------- */

static void k8s_schedule_pass(sim *s, int64_t at)
{
	/* doNoExecuteTaintingPass runs on a 100 ms period */
	int64_t t = (at + K8S_TAINT_PERIOD_MS - 1) / K8S_TAINT_PERIOD_MS * K8S_TAINT_PERIOD_MS;
	if (t < s->now)
		t = s->now;
	if (s->pass_at != INT64_MAX && s->pass_at <= t && s->pass_at >= s->now)
		return;
	s->pass_at = t;
	push(s, t, EV_K8S_PASS, 0, 0, 0, 0);
}

static void k8s_untaint(sim_node *n)
{
	if (n->k_tainted) {
		n->k_tainted = false;
		n->k_taint_epoch++; /* its pending deletions are void */
	}
}

/* handleDisruption: zone states and limiters recomputed from every node (zones.c). */
static void k8s_recount(sim *s)
{
	bool was_master = s->zones.master_disruption;
	fb_zones_begin(&s->zones);
	for (int i = 0; i < s->nnodes; i++) {
		const sim_node *n = &s->nodes[i];
		if (fb_zones_count(&s->zones, s->zone_key[n->zone], s->zone_key_len[n->zone],
		                   n->ready) != 0)
			s->nomem = true;
	}
	fb_zones_end(&s->zones, &s->rates, s->now, NULL, NULL);
	if (s->zones.master_disruption && !was_master) {
		/* every zone fully disrupted: taints come off every node, nothing is evicted */
		for (int i = 0; i < s->nnodes; i++) {
			sim_node *n = &s->nodes[i];
			if (n->k_tainted) {
				k8s_untaint(n);
				n->k_queued = true; /* still NotReady: queued again, limiter 0 */
			}
		}
	}
	k8s_schedule_pass(s, s->now);
}

static int queued_cmp_ms(const sim_node *a, const sim_node *b)
{
	if (a->k_queued_ms != b->k_queued_ms)
		return a->k_queued_ms < b->k_queued_ms ? -1 : 1;
	return 0;
}

/*
 * doNoExecuteTaintingPass: per zone, pop the queued nodes (oldest first)
 * while the zone's token bucket accepts; a tainted node's pods are deleted
 * when their toleration of the taint runs out.
 */
static void k8s_pass(sim *s)
{
	int64_t next = INT64_MAX;
	for (int z = 0; z < s->sc->nzones; z++) {
		fb_zone *zone = fb_zones_find(&s->zones, s->zone_key[z], s->zone_key_len[z]);
		for (;;) {
			int head = -1;
			for (int i = 0; i < s->nnodes; i++) {
				const sim_node *n = &s->nodes[i];
				if (n->zone == z && n->k_queued &&
				    (head < 0 || queued_cmp_ms(n, &s->nodes[head]) < 0))
					head = i;
			}
			if (head < 0 || !zone)
				break;
			if (!fb_bucket_try(&zone->bucket, s->now)) {
				int64_t t = fb_bucket_next_ms(&zone->bucket, s->now);
				if (t < next)
					next = t;
				break;
			}
			sim_node *n = &s->nodes[head];
			n->k_queued = false;
			n->k_tainted = true;
			n->k_taint_epoch++;
			push(s, s->now + s->sc->toleration_s * 1000, EV_K8S_EVICT, head, 0,
			     n->k_taint_epoch, 0);
		}
	}
	s->pass_at = INT64_MAX;
	if (next != INT64_MAX)
		k8s_schedule_pass(s, next);
}

static void k8s_evict(sim *s, const event *e)
{
	sim_node *n = &s->nodes[e->a];
	if (!n->k_tainted || n->k_taint_epoch != e->epoch || n->ready)
		return;
	/* the taint-eviction controller deletes every pod that does not tolerate it */
	while (n->npods > 0) {
		s->res.evictions++;
		remove_pod(s, n->pods[n->npods - 1], true);
	}
}

static bool k8s_model(const sim *s)
{
	return s->policy == FB_SIM_K8S || s->policy == FB_SIM_K8S_SLOW;
}

/* ---- node lifecycle ----------------------------------------------------------------------- */

/* The pod that arrived last on node ni and runs there (-1: none). */
static int newest_pod(const sim *s, int ni)
{
	const sim_node *n = &s->nodes[ni];
	int best = -1;
	for (int i = 0; i < n->npods; i++) {
		const sim_pod *p = &s->pods[n->pods[i]];
		if (p->alive && (best < 0 || p->arrived_ms > s->pods[best].arrived_ms))
			best = n->pods[i];
	}
	return best;
}

static void node_stop(sim *s, int ni, down_cause cause, int64_t repair_ms, double mp_chance,
                      int named, double named_chance)
{
	sim_node *n = &s->nodes[ni];
	if (!n->up)
		return;
	n->up = false;
	n->cause = cause;
	n->down_ms = s->now;
	n->epoch++;
	/* it showed MemoryPressure before going silent: the core sees it now, Ready still */
	bool seen = false;
	if (mp_chance > 0 && hash_unit(s->seed ^ 0x3e3ULL, (uint64_t)ni, n->epoch) < mp_chance) {
		n->mp = true;
		seen = true;
	}
	/* firebreak-node named a pod of it first (the poison's, or for a random failure the
	 * pod that arrived last: a wrong naming) */
	if (named >= 0 && named_chance > 0 &&
	    hash_unit(s->seed ^ 0xa77ULL, (uint64_t)ni, n->epoch) < named_chance) {
		pod_uid(named, n->named);
		n->named_ms = s->now;
		seen = true;
	}
	if (seen)
		core_node(s, n);
	s->res.node_failures++;
	if (cause == DOWN_POISON && !n->lost) {
		n->lost = true;
		s->res.nodes_lost++;
	}
	/* kubelet stops posting status; the node lifecycle controller notices after its grace period */
	double u = hash_unit(s->seed, (uint64_t)ni, n->epoch);
	int64_t delay = s->sc->detect_min_ms +
	                (int64_t)(u * (double)(s->sc->detect_max_ms - s->sc->detect_min_ms));
	push(s, s->now + delay, EV_NODE_DETECT, ni, 0, n->epoch, 0);
	if (repair_ms > 0)
		push(s, s->now + repair_ms, EV_NODE_REPAIR, ni, 0, n->epoch, 0);
}

static void node_detect(sim *s, int ni)
{
	sim_node *n = &s->nodes[ni];
	if (!n->ready)
		return;
	n->ready = false;
	n->ready_transition_ms = s->now;
	if (k8s_model(s)) {
		n->k_queued = true;
		n->k_queued_ms = s->now;
		k8s_recount(s);
	}
	core_node(s, n);
	core_tick(s);
}

static void node_repair(sim *s, int ni)
{
	sim_node *n = &s->nodes[ni];
	if (n->up)
		return;
	if (s->zone_out[n->zone]) {
		n->cause = DOWN_OUTAGE; /* repaired, but its zone is dark: up when the zone is */
		return;
	}
	for (int i = 0; i < n->npods; i++)
		stuck_until_now(s, &s->pods[n->pods[i]], n);
	n->up = true;
	n->cause = DOWN_NONE;
	n->mp = false;
	n->named[0] = '\0';
	n->named_ms = 0;
	n->epoch++;
	/* the pods still bound start again: a poison pod among them starts its clock again */
	for (int i = 0; i < n->npods; i++) {
		const sim_pod *p = &s->pods[n->pods[i]];
		if (s->wls[p->wl].poison)
			poison_start(s, &s->wls[p->wl], ni, n->pods[i]);
	}
	if (!n->ready) {
		n->ready = true;
		n->ready_transition_ms = s->now;
		if (k8s_model(s)) {
			n->k_queued = false;
			k8s_untaint(n);
			k8s_recount(s);
		}
		core_node(s, n);
		core_tick(s);
		retry_pending(s);
	}
}

/* ---- rollouts --------------------------------------------------------------------------- */

static void rollout_step(sim *s, int wi)
{
	sim_wl *w = &s->wls[wi];
	if (w->roll_left <= 0)
		return;
	w->roll_left--;
	/* maxSurge 1, maxUnavailable 0 in spirit: one new pod, then one old pod goes */
	create_pod(s, wi, 0);
	for (int i = 0; i < w->npods; i++) {
		int idx = w->pods[i];
		if (s->pods[idx].gen < w->gen) {
			remove_pod(s, idx, false);
			break;
		}
	}
	if (w->roll_left > 0)
		push(s, s->now + s->sc->rollout_spacing_ms, EV_ROLLOUT_STEP, wi, 0, 0, 0);
}

static void rollout_start(sim *s, int wi)
{
	sim_wl *w = &s->wls[wi];
	bool running = w->roll_left > 0;
	w->gen++;
	w->roll_left = w->replicas;
	if (!running)
		rollout_step(s, wi);
}

/* ---- setup -------------------------------------------------------------------------------- */

static int label_cmp(const void *a, const void *b)
{
	return strcmp(((const fb_label *)a)->key, ((const fb_label *)b)->key);
}

static int setup_nodes(sim *s)
{
	const fb_sim_scenario *sc = s->sc;
	s->nnodes = fb_sim_scenario_nodes(sc);
	s->nodes = kc_calloc((size_t)s->nnodes, sizeof(*s->nodes));
	if (!s->nodes)
		return -1;
	int ni = 0;
	for (int pi = 0; pi < sc->npools; pi++) {
		const fb_sim_pool *pool = &sc->pools[pi];
		for (int k = 0; k < pool->nodes; k++, ni++) {
			sim_node *n = &s->nodes[ni];
			snprintf(n->name, sizeof(n->name), "node-%d", ni);
			n->pool = pi;
			n->zone = pool->zones[k % pool->nzones];
			n->up = n->ready = true;
			n->ready_transition_ms = s->now - 30 * SIM_DAY_MS;
			size_t nl = (size_t)pool->nlabels + 1;
			n->labels.v = kc_calloc(nl, sizeof(fb_label));
			if (!n->labels.v)
				return -1;
			for (int l = 0; l < pool->nlabels; l++) {
				n->labels.v[l].key = kc_strdup(pool->label_key[l]);
				n->labels.v[l].value = kc_strdup(pool->label_value[l]);
				n->labels.n++;
				if (!n->labels.v[l].key || !n->labels.v[l].value)
					return -1;
			}
			fb_label *zl = &n->labels.v[n->labels.n];
			zl->key = kc_strdup("topology.kubernetes.io/zone");
			zl->value = kc_strdup(sc->zones[n->zone]);
			n->labels.n++;
			if (!zl->key || !zl->value)
				return -1;
			qsort(n->labels.v, n->labels.n, sizeof(fb_label), label_cmp);
		}
	}
	for (int z = 0; z < sc->nzones; z++)
		s->zone_key_len[z] = fb_zone_key(NULL, sc->zones[z], s->zone_key[z]);
	return 0;
}

static int setup_workloads(sim *s)
{
	const fb_sim_scenario *sc = s->sc;
	s->nwls = 0;
	for (int i = 0; i < sc->nwls; i++)
		s->nwls += sc->wls[i].count;
	s->wls = kc_calloc((size_t)s->nwls, sizeof(*s->wls));
	if (!s->wls)
		return -1;
	int wi = 0;
	for (int i = 0; i < sc->nwls; i++) {
		const fb_sim_workload_spec *ws = &sc->wls[i];
		for (int k = 0; k < ws->count; k++, wi++) {
			sim_wl *w = &s->wls[wi];
			if (ws->count == 1)
				snprintf(w->name, sizeof(w->name), "%s", ws->name);
			else
				snprintf(w->name, sizeof(w->name), "%.56s-%d", ws->name, k);
			fb_workload_ref_set(&w->ref, "Deployment", SIM_NS, w->name);
			w->spec = i;
			w->replicas = (int)rng_range(&s->exo, ws->replicas_min, ws->replicas_max);
			w->pool = ws->pool;
			w->poison = ws->poison;
			w->kill_after_ms = s->params.kill_after_ms > 0 ? s->params.kill_after_ms
			                                               : ws->kill_after_ms;
			w->repair_ms = ws->repair_ms;
		}
	}
	/* the settled cluster: every workload that runs from the start, bound long ago */
	for (int round = 0;; round++) {
		bool any = false;
		for (int i = 0; i < s->nwls; i++) {
			sim_wl *w = &s->wls[i];
			if (round >= w->replicas || (w->poison && sc->wls[w->spec].start_ms > 0))
				continue;
			any = true;
			int64_t ago = rng_range(&s->exo, SIM_DAY_MS, 30 * SIM_DAY_MS);
			if (create_pod(s, i, s->now - ago) < 0)
				return -1;
		}
		if (!any)
			break;
	}
	for (int i = 0; i < s->nwls; i++) {
		sim_wl *w = &s->wls[i];
		const fb_sim_workload_spec *ws = &sc->wls[w->spec];
		if (w->poison && ws->start_ms > 0)
			push(s, s->now + ws->start_ms, EV_WL_START, i, 0, 0, 0);
		if (ws->scale_at_ms > 0)
			push(s, s->now + ws->scale_at_ms, EV_WL_SCALE, i, 0, 0, 0);
		if (ws->delete_pods_at_ms > 0)
			push(s, s->now + ws->delete_pods_at_ms, EV_WL_DELETE_PODS, i, 0, 0, 0);
	}
	return s->nomem ? -1 : 0;
}

/* Exogenous events, drawn before the run so that every policy faces the same ones. */
static void setup_exogenous(sim *s)
{
	const fb_sim_scenario *sc = s->sc;
	double duration = (double)(s->end - s->now);
	double rate_per_ms = sc->failures_per_node_day / (double)SIM_DAY_MS;
	for (int i = 0; rate_per_ms > 0 && i < s->nnodes; i++) {
		double t = 0;
		for (;;) {
			t += -log(1.0 - rng_unit(&s->exo)) / rate_per_ms;
			if (t > duration)
				break;
			/* repair time: uniform within +-50% of the scenario's */
			int64_t repair = (int64_t)((0.5 + rng_unit(&s->exo)) * (double)sc->failure_repair_ms);
			push(s, s->now + (int64_t)t, EV_NODE_STOP, i, DOWN_RANDOM, 0, repair);
		}
	}
	int innocent = 0;
	for (int i = 0; i < s->nwls; i++)
		innocent += !s->wls[i].poison;
	if (sc->rollout_every_ms > 0 && innocent > 0) {
		double t = 0;
		for (;;) {
			t += -log(1.0 - rng_unit(&s->exo)) * (double)sc->rollout_every_ms;
			if (t > duration)
				break;
			int pick = (int)(rng_next(&s->exo) % (uint64_t)innocent), wi = 0;
			for (int i = 0; i < s->nwls; i++) {
				if (s->wls[i].poison)
					continue;
				if (pick-- == 0) {
					wi = i;
					break;
				}
			}
			push(s, s->now + (int64_t)t, EV_ROLLOUT, wi, 0, 0, 0);
		}
	}
	for (int i = 0; i < sc->noutages; i++)
		push(s, s->now + sc->outages[i].at_ms, EV_OUTAGE_START, sc->outages[i].zone, 0, 0,
		     sc->outages[i].duration_ms);
	/* racks: drawn from streams of their own, so that the events above do not shift */
	for (int i = 0; i < sc->nracks; i++) {
		const fb_sim_rack *r = &sc->racks[i];
		push(s, s->now + r->at_ms, EV_RACK, i, 0, 0, 0);
		if (r->rollout_before_ms <= 0)
			continue;
		int there = 0, wi = -1;
		for (int k = 0; k < s->nwls; k++)
			there += !s->wls[k].poison && (s->wls[k].pool == r->pool || s->wls[k].pool < 0);
		rng pick;
		rng_seed(&pick, s->seed, RACK_STREAM + 2 * (uint64_t)i);
		int nth = there ? (int)(rng_next(&pick) % (uint64_t)there) : -1;
		for (int k = 0; k < s->nwls && nth >= 0; k++)
			if (!s->wls[k].poison && (s->wls[k].pool == r->pool || s->wls[k].pool < 0) &&
			    nth-- == 0)
				wi = k;
		if (wi >= 0)
			push(s, s->now + r->at_ms - r->rollout_before_ms, EV_ROLLOUT, wi, 0, 0, 0);
	}
}

/* Rack i fails: ceil(fraction x pool) of its pool's nodes, picked at random, stop at once. */
static void rack_fail(sim *s, int i)
{
	const fb_sim_rack *r = &s->sc->racks[i];
	int *in = kc_calloc((size_t)s->nnodes, sizeof(int));
	if (!in) {
		s->nomem = true;
		return;
	}
	int n = 0;
	for (int k = 0; k < s->nnodes; k++)
		if (s->nodes[k].pool == r->pool)
			in[n++] = k;
	int take = (int)ceil(r->fraction * n - 1e-9);
	rng pick;
	rng_seed(&pick, s->seed, RACK_STREAM + 2 * (uint64_t)i + 1);
	for (int k = 0; k < take && k < n; k++) { /* a partial Fisher-Yates shuffle */
		int j = k + (int)(rng_next(&pick) % (uint64_t)(n - k));
		int t = in[k];
		in[k] = in[j];
		in[j] = t;
		node_stop(s, in[k], DOWN_RANDOM, r->repair_ms, s->sc->failure_memory_pressure,
		          newest_pod(s, in[k]), s->sc->failure_attribution);
	}
	kc_free(in);
}

/*
 * Node ni's failure record as a real node of this cluster would carry it: its failures in
 * the HISTORY_MS before the start, drawn from the scenario's random failures (their
 * MemoryPressure too), from a stream of its own. NULL if it has none (or out of memory).
 */
static char *node_history(const sim *s, int ni)
{
	const fb_sim_scenario *sc = s->sc;
	double rate_per_ms = sc->failures_per_node_day / (double)SIM_DAY_MS;
	if (rate_per_ms <= 0)
		return NULL;
	rng r;
	rng_seed(&r, s->seed, HISTORY_STREAM + (uint64_t)ni);
	fb_failure f = { 0 };
	f.node = (char *)s->nodes[ni].name;
	double t = (double)(s->now - HISTORY_MS);
	bool any = false, latest_named = false;
	for (;;) {
		t += -log(1.0 - rng_unit(&r)) / rate_per_ms;
		if (t >= (double)s->now)
			break;
		bool mp = rng_unit(&r) < sc->failure_memory_pressure;
		bool named = sc->failure_attribution > 0 && rng_unit(&r) < sc->failure_attribution;
		if (any) { /* the one before becomes an earlier failure */
			if (f.npast == FB_FAILURE_PAST_MAX)
				memmove(f.past, f.past + 1, (FB_FAILURE_PAST_MAX - 1) * sizeof(f.past[0]));
			else
				f.npast++;
			f.past[f.npast - 1] = (fb_past_failure){ .at_ms = f.failed_ms,
			                                         .memory_pressure = f.memory_pressure,
			                                         .attributed = latest_named };
		}
		f.failed_ms = (int64_t)t;
		f.memory_pressure = mp;
		latest_named = named;
		any = true;
	}
	f.attributed = latest_named;
	return any ? fb_failure_to_json(&f) : NULL;
}

static int setup_core(sim *s, char *err, size_t errcap)
{
	fb_core_config cfg;
	fb_core_config_defaults(&cfg);
	cfg.verdict = s->policy == FB_SIM_FIREBREAK_RATIO ? FB_VERDICT_RATIO : FB_VERDICT_SURPRISE;
	cfg.false_alarms_per_year = s->params.false_alarms_per_year;
	cfg.memory_pressure_evidence = !s->params.no_memory_pressure_evidence;
	cfg.defaults.poison.failures = s->params.poison_failures;
	cfg.defaults.poison.window_ms = s->params.poison_window_ms;
	cfg.defaults.poison.arrival_window_ms = s->params.arrival_window_ms;
	cfg.poison_ratio = s->params.poison_ratio;
	s->core = fb_core_new(&cfg);
	fb_budget_spec_release(&cfg.defaults);
	if (!s->core)
		return -1;
	for (int i = 0; i < s->sc->nbudgets; i++) {
		cJSON *spec = cJSON_Parse(s->sc->budgets[i].spec);
		int rc = spec ? fb_core_budget_set(s->core, s->sc->budgets[i].name, 1, spec, NULL, 0,
		                                   s->now)
		              : -1;
		cJSON_Delete(spec);
		if (rc != 0) {
			snprintf(err, errcap, "budget %s: out of memory", s->sc->budgets[i].name);
			return -1;
		}
	}
	/* every node observed with its record of the last month's failures, as after a restart */
	for (int i = 0; i < s->nnodes && !s->nomem; i++) {
		fb_node_obs o;
		char uid[32];
		node_obs(s, &s->nodes[i], &o, uid);
		char *history = node_history(s, i);
		o.failure_annotation = history;
		if (fb_core_node_set(s->core, &o, s->now) != 0)
			s->nomem = true;
		kc_free(history);
	}
	for (size_t i = 0; i < s->npods; i++)
		if (s->pods[i].alive && s->pods[i].node >= 0)
			core_pod(s, (int)i);
	return s->nomem ? -1 : 0;
}

/* ---- the run ------------------------------------------------------------------------------ */

static void handle(sim *s, const event *e)
{
	switch (e->type) {
	case EV_NODE_STOP:
		node_stop(s, e->a, (down_cause)e->b, e->x, s->sc->failure_memory_pressure,
		          newest_pod(s, e->a), s->sc->failure_attribution);
		break;
	case EV_RACK:
		rack_fail(s, e->a);
		break;
	case EV_NODE_DETECT:
		if (s->nodes[e->a].epoch == e->epoch)
			node_detect(s, e->a);
		break;
	case EV_NODE_REPAIR:
		if (s->nodes[e->a].epoch == e->epoch)
			node_repair(s, e->a);
		break;
	case EV_POISON_KILL: {
		const sim_pod *p = &s->pods[e->b];
		const sim_node *n = &s->nodes[e->a];
		if (p->alive && p->node == e->a && n->up && n->epoch == e->epoch)
			node_stop(s, e->a, DOWN_POISON, s->wls[p->wl].repair_ms,
			          s->sc->wls[s->wls[p->wl].spec].memory_pressure, e->b,
			          s->sc->wls[s->wls[p->wl].spec].attribution);
		break;
	}
	case EV_POD_CREATE:
		create_pod(s, e->a, 0);
		break;
	case EV_WL_START: {
		sim_wl *w = &s->wls[e->a];
		for (int i = 0; i < w->replicas; i++)
			create_pod(s, e->a, 0);
		break;
	}
	case EV_ROLLOUT:
		rollout_start(s, e->a);
		break;
	case EV_ROLLOUT_STEP:
		rollout_step(s, e->a);
		break;
	case EV_OUTAGE_START:
		s->zone_out[e->a] = true;
		for (int i = 0; i < s->nnodes; i++)
			if (s->nodes[i].zone == e->a)
				node_stop(s, i, DOWN_OUTAGE, 0, 0, -1, 0);
		push(s, s->now + e->x, EV_OUTAGE_END, e->a, 0, 0, 0);
		break;
	case EV_OUTAGE_END:
		s->zone_out[e->a] = false;
		for (int i = 0; i < s->nnodes; i++)
			if (s->nodes[i].zone == e->a && !s->nodes[i].up &&
			    s->nodes[i].cause == DOWN_OUTAGE)
				node_repair(s, i);
		break;
	case EV_CORE_TICK:
		if (s->tick_at == e->t)
			core_tick(s);
		break;
	case EV_K8S_PASS:
		if (s->pass_at == e->t)
			k8s_pass(s);
		break;
	case EV_K8S_EVICT:
		k8s_evict(s, e);
		break;
	case EV_WL_SCALE: {
		sim_wl *w = &s->wls[e->a];
		int to = s->sc->wls[w->spec].scale_to;
		while (w->npods > to)
			remove_pod(s, w->pods[w->npods - 1], false);
		for (int i = w->npods; i < to; i++)
			create_pod(s, e->a, 0);
		w->replicas = to;
		break;
	}
	case EV_WL_DELETE_PODS: {
		sim_wl *w = &s->wls[e->a];
		for (int n = w->npods; n > 0; n--)
			remove_pod(s, w->pods[0], true);
		break;
	}
	}
}

static void sim_release(sim *s)
{
	for (int i = 0; s->nodes && i < s->nnodes; i++) {
		kc_free(s->nodes[i].pods);
		fb_labels_release(&s->nodes[i].labels);
	}
	kc_free(s->nodes);
	for (int i = 0; s->wls && i < s->nwls; i++)
		kc_free(s->wls[i].pods);
	kc_free(s->wls);
	kc_free(s->pods);
	kc_free(s->pending);
	kc_free(s->heap);
	fb_core_free(s->core);
	fb_actions_release(&s->acts);
	fb_zones_release(&s->zones);
}

int fb_sim_run(const fb_sim_scenario *sc, fb_sim_policy policy, uint64_t seed,
               const fb_sim_params *params, fb_sim_result *out, char *err, size_t errcap)
{
	sim s;
	memset(&s, 0, sizeof(s));
	memset(out, 0, sizeof(*out));
	if (errcap)
		err[0] = '\0';
	s.sc = sc;
	s.policy = policy;
	s.seed = seed;
	if (params)
		s.params = *params;
	else
		fb_sim_params_defaults(&s.params);
	s.now = SIM_T0;
	s.end = SIM_T0 + (s.params.duration_ms > 0 ? s.params.duration_ms : sc->duration_ms);
	s.tick_at = s.pass_at = INT64_MAX;
	s.last_tick_ms = -1;
	rng_seed(&s.exo, seed, 1);
	rng_seed(&s.sched, seed, 2);
	fb_actions_init(&s.acts);
	fb_zones_init(&s.zones);
	s.rates = FB_RATES_DEFAULT;
	if (policy == FB_SIM_K8S_SLOW)
		s.rates.normal = K8S_SLOW_RATE;
	int rc = -1;
	if (setup_nodes(&s) != 0 || setup_workloads(&s) != 0)
		goto out;
	setup_exogenous(&s);
	if (firebreak_policy(policy)) {
		if (setup_core(&s, err, errcap) != 0)
			goto out;
		core_tick(&s);
	} else if (k8s_model(&s)) {
		k8s_recount(&s);
	}
	while (s.nheap > 0 && !s.nomem) {
		event e = pop(&s);
		s.now = e.t;
		s.res.events++;
		handle(&s, &e);
	}
	if (s.nomem)
		goto out;
	/* the run ends: innocent pods still on stopped nodes count up to the end */
	s.now = s.end;
	for (int i = 0; i < s.nnodes; i++)
		for (int k = 0; k < s.nodes[i].npods; k++)
			stuck_until_now(&s, &s.pods[s.nodes[i].pods[k]], &s.nodes[i]);
	if (s.core) {
		fb_core_stats st;
		fb_core_get_stats(s.core, &st);
		s.res.judgements = (long)st.judgements;
		s.res.false_expected = st.false_quarantines_expected;
		for (int i = 0; i < 8; i++)
			s.res.judged_p_below[i] = (long)st.judgements_p_below[i];
	}
	*out = s.res;
	rc = 0;
out:
	if (rc != 0 && errcap && !err[0])
		snprintf(err, errcap, "%s: out of memory", sc->name);
	sim_release(&s);
	return rc;
}
