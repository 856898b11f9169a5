/* core.c - the decision core (see core.h for what it decides and why). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"
#include "duration.h"
#include "kc/alloc.h"
#include "kc/time.h"
#include "kc/map.h"

typedef struct core_node core_node;
typedef struct core_workload core_workload;

typedef enum pod_state {
	POD_IDLE,      /* nothing asked yet */
	POD_INFLIGHT,  /* an EVICT/DELETE action is out; waiting for its result */
	POD_RETRY,     /* blocked (429) or failed: try again at next_try_ms */
	POD_DONE,      /* evicted / deleted / gone (or reported, in dry run) */
} pod_state;

typedef struct core_pod {
	char *ns, *name, *uid, *node_name, *workload;
	core_workload *wl;         /* the record of its workload (indexed both ways) */
	bool daemonset, mirror, terminating, terminal;
	int64_t tol_not_ready_s, tol_unreachable_s;
	int64_t arrived_ms;
	core_node *node;
	pod_state state;
	bool blocked;              /* the last try got a 429 */
	bool blocked_reported;
	bool deleting;             /* the fallback to delete has been taken */
	bool pinned_reported;      /* its workload is quarantined and it was told so */
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
	int64_t reset_ms;          /* failure clocks restart here (leaving master disruption) */
	bool exclude, memory_pressure;
	bool memory_pressure_seen;  /* MemoryPressure was True at some point before it failed */
	core_pod **pods;
	size_t npods, podcap;
	/* the current failure */
	bool failed;
	int64_t failed_since_ms;
	bool admitted;
	int64_t admitted_ms;
	fb_deny deferred;          /* last deferral reported for this failure */
	char deferred_by[FB_NAME_MAX];
	bool failure_recorded;     /* evidence for the current failure is on record */
	char *quarantine_taint;    /* value of our taint on it, if any */
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

#define SCALE_RETRY_INITIAL_MS 5000
#define SCALE_RETRY_MAX_MS (5 * 60 * 1000)

/* A workload (Kind/namespace/name): its pods, and its evidence and verdict. */
struct core_workload {
	char *id;
	char *ns, *kind, *name;
	char *quarantine;          /* name of its Quarantine object, once known */
	bool release_pending;      /* released while the object still exists: mark it so */
	bool quarantined;          /* verdict in force: its pods on failed nodes stay */
	bool dry_run;              /* the verdict was only reported */
	bool announced;            /* the Quarantine object and Events went out */
	int64_t declared_ms;
	int64_t released_ms;       /* evidence from before this does not count */
	bool dirty;                /* evidence changed: judge again */
	int bad;                   /* failed nodes at the last judgement */
	scale_state scale;         /* ScaleToZero (see scale_state) */
	int64_t scale_next_ms;     /* no try before this (backoff after a failure) */
	int64_t scale_backoff_ms;
	core_pod **pods;           /* its pods, so that judging it is O(replicas) */
	size_t npods, podcap;
};

typedef struct core_admission {
	fb_admission a;
	bool dry_run;
} core_admission;

typedef struct core_budget {
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
	int64_t exhausted_reported_ms;
} core_budget;

struct fb_core {
	fb_core_config cfg;
	bool leader;
	bool rejudge;              /* leadership just gained: forget in-flight work */
	bool outage_seen;          /* master disruption already handled by the poison pass */
	kc_map nodes;              /* name -> core_node */
	kc_map pods;               /* uid -> core_pod */
	core_budget **budgets;     /* sorted by name */
	size_t nbudgets;
	fb_zones zones;            /* cluster-wide, the node lifecycle controller's */
	bool counts_dirty;
	fb_core_stats stats;
	int64_t last_now_ms;
	fb_evidence evidence;      /* recent node failures and who arrived before them */
	kc_map workloads;          /* id -> core_workload */
	bool workloads_dirty;      /* some workload needs judging */
	size_t releases_pending;   /* workloads with release_pending set */
	size_t tainted_nodes;      /* known nodes carrying a firebreak.dev/quarantine taint */
	size_t scales_pending;     /* workloads in SCALE_WANTED or SCALE_RESTORE */
	int64_t scale_due_ms;      /* none of them is due before this */
};

/* ---- small helpers ------------------------------------------------------- */

void fb_core_config_defaults(fb_core_config *c)
{
	memset(c, 0, sizeof(*c));
	c->rates = FB_RATES_DEFAULT;
	c->pdb_retry_initial_ms = 5000;
	c->pdb_retry_max_ms = 60000;
	c->max_pod_actions_per_tick = 256;
	fb_budget_spec_defaults(&c->defaults);
	c->poison_ratio = FB_POISON_RATIO_DEFAULT;
	c->poison_settle_ms = FB_POISON_SETTLE_DEFAULT_MS;
}

void fb_actions_init(fb_actions *a)
{
	memset(a, 0, sizeof(*a));
}

void fb_actions_clear(fb_actions *a)
{
	for (size_t i = 0; i < a->n; i++) {
		kc_free(a->v[i].payload);
		a->v[i].payload = NULL;
	}
	a->n = 0;
}

void fb_actions_release(fb_actions *a)
{
	fb_actions_clear(a);
	kc_free(a->v);
	memset(a, 0, sizeof(*a));
}

static fb_action *push_action(fb_actions *a, fb_action_kind kind)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 16;
		fb_action *v = kc_realloc(a->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		a->v = v;
		a->cap = cap;
	}
	fb_action *act = &a->v[a->n++];
	memset(act, 0, sizeof(*act));
	act->kind = kind;
	act->grace_period_s = -1;
	return act;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

static bool replace_str(char **dst, const char *src)
{
	if (*dst && src && strcmp(*dst, src) == 0)
		return true;
	char *copy = NULL;
	if (src && !(copy = kc_strdup(src)))
		return false;
	kc_free(*dst);
	*dst = copy;
	return true;
}

static void event(fb_actions *out, bool dry_run, fb_obj_kind obj, const char *ns,
                  const char *name, const char *uid, bool warning, const char *reason,
                  const char *fmt, ...) __attribute__((format(printf, 9, 10)));

static void event(fb_actions *out, bool dry_run, fb_obj_kind obj, const char *ns,
                  const char *name, const char *uid, bool warning, const char *reason,
                  const char *fmt, ...)
{
	fb_action *a = push_action(out, FB_ACT_EVENT);
	if (!a)
		return;
	a->dry_run = dry_run;
	a->obj = obj;
	a->warning = warning;
	copy_str(a->ns, sizeof(a->ns), ns);
	copy_str(a->name, sizeof(a->name), name);
	copy_str(a->uid, sizeof(a->uid), uid);
	copy_str(a->reason, sizeof(a->reason), reason);
	size_t n = 0;
	if (dry_run)
		n = (size_t)snprintf(a->message, sizeof(a->message), "(dry run) ");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(a->message + n, sizeof(a->message) - n, fmt, ap);
	va_end(ap);
}

static const char *cond_name(fb_cond c)
{
	switch (c) {
	case FB_COND_TRUE: return "True";
	case FB_COND_FALSE: return "False";
	case FB_COND_UNKNOWN: return "Unknown";
	case FB_COND_NONE: break;
	}
	return "absent";
}

static const char *ago(int64_t ms, char *buf, size_t cap)
{
	return fb_duration_format(ms < 0 ? 0 : ms / 1000 * 1000, buf, cap);
}

/* ---- lifecycle -------------------------------------------------------------- */

fb_core *fb_core_new(const fb_core_config *cfg)
{
	fb_core *c = kc_calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->cfg = *cfg;
	memset(&c->cfg.defaults.selector, 0, sizeof(c->cfg.defaults.selector));
	if (c->cfg.max_pod_actions_per_tick <= 0)
		c->cfg.max_pod_actions_per_tick = 256;
	if (c->cfg.pdb_retry_initial_ms <= 0)
		c->cfg.pdb_retry_initial_ms = 5000;
	if (c->cfg.pdb_retry_max_ms < c->cfg.pdb_retry_initial_ms)
		c->cfg.pdb_retry_max_ms = c->cfg.pdb_retry_initial_ms;
	kc_map_init(&c->nodes);
	kc_map_init(&c->pods);
	kc_map_init(&c->workloads);
	fb_evidence_init(&c->evidence);
	fb_zones_init(&c->zones);
	if (c->cfg.poison_ratio <= 0 || c->cfg.poison_ratio > 1)
		c->cfg.poison_ratio = FB_POISON_RATIO_DEFAULT;
	if (c->cfg.poison_settle_ms < 0)
		c->cfg.poison_settle_ms = FB_POISON_SETTLE_DEFAULT_MS;
	c->leader = true;
	c->counts_dirty = true;
	return c;
}

static void pod_free(core_pod *p)
{
	kc_free(p->ns);
	kc_free(p->name);
	kc_free(p->uid);
	kc_free(p->node_name);
	kc_free(p->workload);
	kc_free(p);
}

static void workload_free(core_workload *w)
{
	kc_free(w->pods);
	kc_free(w->quarantine);
	kc_free(w->id);
	kc_free(w->ns);
	kc_free(w->kind);
	kc_free(w->name);
	kc_free(w);
}

static void node_free(core_node *n)
{
	kc_free(n->quarantine_taint);
	kc_free(n->name);
	kc_free(n->uid);
	fb_labels_release(&n->labels);
	kc_free(n->pods);
	kc_free(n);
}

static void budget_free(core_budget *b)
{
	kc_free(b->name);
	fb_budget_spec_release(&b->spec);
	cJSON_Delete(b->spec_json);
	fb_zones_release(&b->zones);
	kc_free(b->adm);
	kc_free(b);
}

void fb_core_free(fb_core *c)
{
	if (!c)
		return;
	const char *k;
	void *v;
	for (size_t i = 0; kc_map_next(&c->pods, &i, &k, &v);)
		pod_free(v);
	for (size_t i = 0; kc_map_next(&c->nodes, &i, &k, &v);)
		node_free(v);
	for (size_t i = 0; kc_map_next(&c->workloads, &i, &k, &v);)
		workload_free(v);
	kc_map_release(&c->workloads);
	fb_evidence_release(&c->evidence);
	for (size_t i = 0; i < c->nbudgets; i++)
		budget_free(c->budgets[i]);
	kc_free(c->budgets);
	kc_map_release(&c->pods);
	kc_map_release(&c->nodes);
	fb_zones_release(&c->zones);
	kc_free(c);
}

void fb_core_set_leader(fb_core *c, bool leader)
{
	if (leader && !c->leader)
		c->rejudge = true;
	c->leader = leader;
}

/* ---- workloads ------------------------------------------------------------------ */

/* "Kind/namespace/name" -> its parts (copied). NULL on a malformed id or ENOMEM. */
static core_workload *workload_get_or_add(fb_core *c, const char *id)
{
	core_workload *w = kc_map_get(&c->workloads, id);
	if (w)
		return w;
	const char *a = strchr(id, '/');
	const char *b = a ? strchr(a + 1, '/') : NULL;
	if (!a || !b || a == id || !b[1])
		return NULL;
	w = kc_calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->id = kc_strdup(id);
	w->kind = kc_strndup(id, (size_t)(a - id));
	w->ns = kc_strndup(a + 1, (size_t)(b - a - 1));
	w->name = kc_strdup(b + 1);
	if (!w->id || !w->kind || !w->ns || !w->name || kc_map_put(&c->workloads, id, w, NULL) != 0) {
		workload_free(w);
		return NULL;
	}
	return w;
}

static void workload_unlink_pod(fb_core *c, core_pod *p)
{
	core_workload *w = p->wl;
	if (!w)
		return;
	p->wl = NULL;
	for (size_t i = 0; i < w->npods; i++) {
		if (w->pods[i] == p) {
			w->pods[i] = w->pods[--w->npods];
			break;
		}
	}
	/* Forget a workload with nothing left to remember (Jobs come and go). */
	if (w->npods == 0 && !w->quarantined && !w->release_pending && !w->released_ms &&
	    !w->dirty && w->bad == 0 && !w->declared_ms && w->scale == SCALE_NONE) {
		kc_map_del(&c->workloads, w->id);
		workload_free(w);
	}
}

static int workload_link_pod(fb_core *c, core_pod *p)
{
	core_workload *w = workload_get_or_add(c, p->workload);
	if (!w)
		return -1;
	if (w->npods == w->podcap) {
		size_t cap = w->podcap ? w->podcap * 2 : 4;
		core_pod **v = kc_realloc(w->pods, cap * sizeof(*v));
		if (!v)
			return -1;
		w->pods = v;
		w->podcap = cap;
	}
	w->pods[w->npods++] = p;
	p->wl = w;
	return 0;
}

void fb_quarantine_taint_value(const char *ns, const char *kind, const char *name, char out[64])
{
	char full[600];
	int n = snprintf(full, sizeof(full), "%s.%s.%s", ns, kind, name);
	if (n >= 0 && n <= 63) {
		memcpy(out, full, (size_t)n + 1);
		return;
	}
	/* too long for a taint value: keep a readable prefix and a hash of the rest */
	uint32_t h = 2166136261u;
	for (const char *p = full; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	snprintf(out, 64, "%.54s-%08x", full, h);
	/* a taint value must end with an alphanumeric character: the hash does */
}

/* ---- nodes and pods ------------------------------------------------------------ */

static core_node *node_get_or_add(fb_core *c, const char *name)
{
	core_node *n = kc_map_get(&c->nodes, name);
	if (n)
		return n;
	n = kc_calloc(1, sizeof(*n));
	if (!n || !(n->name = kc_strdup(name)) || kc_map_put(&c->nodes, name, n, NULL) != 0) {
		if (n)
			kc_free(n->name);
		kc_free(n);
		return NULL;
	}
	return n;
}

static void node_unlink_pod(core_node *n, core_pod *p)
{
	for (size_t i = 0; i < n->npods; i++) {
		if (n->pods[i] == p) {
			n->pods[i] = n->pods[--n->npods];
			return;
		}
	}
}

static int node_link_pod(core_node *n, core_pod *p)
{
	if (n->npods == n->podcap) {
		size_t cap = n->podcap ? n->podcap * 2 : 8;
		core_pod **v = kc_realloc(n->pods, cap * sizeof(*v));
		if (!v)
			return -1;
		n->pods = v;
		n->podcap = cap;
	}
	n->pods[n->npods++] = p;
	return 0;
}

static bool cond_failed(fb_cond c)
{
	return c == FB_COND_FALSE || c == FB_COND_UNKNOWN;
}

/*
 * Evidence written to the node earlier (by us, or by the leader before us):
 * take it back so that the verdict is the same after a restart.
 */
static void restore_failure(fb_core *c, core_node *n, const char *json)
{
	fb_failure f;
	if (fb_failure_from_json(json, n->name, &f) != 0)
		return;
	bool current = n->failed && f.failed_ms == n->failed_since_ms;
	fb_failure *known = fb_evidence_find(&c->evidence, n->name, f.failed_ms);
	if (known) {
		/* The leader found the failure part of an outage and rewrote the record
		 * without suspects (forget_suspects): a follower must forget them too. */
		if (f.n == 0 && known->n > 0) {
			for (size_t i = 0; i < known->n; i++) {
				core_workload *w = kc_map_get(&c->workloads, known->s[i].workload);
				if (w)
					w->dirty = c->workloads_dirty = true;
			}
			fb_failure_drop_suspects(known);
		}
		fb_failure_release(&f);
		if (current)
			n->failure_recorded = true;
		return;
	}
	for (size_t i = 0; i < f.n; i++) {
		core_workload *w = workload_get_or_add(c, f.s[i].workload);
		if (w)
			w->dirty = c->workloads_dirty = true;
	}
	if (fb_evidence_take(&c->evidence, &f) && current)
		n->failure_recorded = true;
}

int fb_core_node_set(fb_core *c, const fb_node_obs *obs, int64_t now_ms)
{
	core_node *n = node_get_or_add(c, obs->name);
	if (!n)
		return -1;
	fb_labels labels = { 0 };
	if (obs->labels && obs->labels->n) {
		labels.v = kc_calloc(obs->labels->n, sizeof(fb_label));
		if (!labels.v)
			return -1;
		for (size_t i = 0; i < obs->labels->n; i++) {
			labels.v[i].key = kc_strdup(obs->labels->v[i].key);
			labels.v[i].value = kc_strdup(obs->labels->v[i].value);
			labels.n++;
			if (!labels.v[i].key || !labels.v[i].value) {
				fb_labels_release(&labels);
				return -1;
			}
		}
	}
	if (!replace_str(&n->uid, obs->uid)) {
		fb_labels_release(&labels);
		return -1;
	}
	fb_labels_release(&n->labels);
	n->labels = labels;
	n->known = true;
	n->zone_len = fb_zone_key(obs->region, obs->zone, n->zone_key);
	n->exclude = obs->exclude_disruption;
	n->memory_pressure = obs->memory_pressure;
	if (obs->memory_pressure)
		n->memory_pressure_seen = true;
	bool had_taint = n->quarantine_taint != NULL;
	if (!replace_str(&n->quarantine_taint,
	                 obs->quarantine_taint && obs->quarantine_taint[0] ? obs->quarantine_taint
	                                                                   : NULL))
		return -1;
	c->tainted_nodes += (n->quarantine_taint != NULL) - had_taint;
	bool was_failed = cond_failed(n->ready);
	n->ready = obs->ready;
	n->ready_transition_ms = obs->ready_transition_ms;
	if (cond_failed(n->ready) && (!was_failed || !n->failed)) {
		n->failed = true;
		n->failed_since_ms = obs->ready_transition_ms > 0 ? obs->ready_transition_ms : now_ms;
		n->admitted = false;
		n->deferred = FB_ADMIT;
		n->deferred_by[0] = '\0';
		n->failure_recorded = false;
	} else if (!cond_failed(n->ready)) {
		n->failed = false;
		n->memory_pressure_seen = obs->memory_pressure;
	}
	if (obs->failure_annotation)
		restore_failure(c, n, obs->failure_annotation);
	c->counts_dirty = true;
	return 0;
}

void fb_core_node_delete(fb_core *c, const char *name)
{
	core_node *n = kc_map_get(&c->nodes, name);
	if (!n)
		return;
	c->counts_dirty = true;
	if (n->quarantine_taint) {
		c->tainted_nodes--;
		kc_free(n->quarantine_taint);
		n->quarantine_taint = NULL;
	}
	if (n->npods) {
		/* pods still point at it: keep a placeholder until they go */
		n->known = false;
		n->failed = false;
		n->admitted = false;
		return;
	}
	kc_map_del(&c->nodes, name);
	node_free(n);
}

int fb_core_pod_set(fb_core *c, const fb_pod_obs *obs)
{
	core_pod *p = kc_map_get(&c->pods, obs->uid);
	bool added = false;
	if (!p) {
		p = kc_calloc(1, sizeof(*p));
		if (!p || !(p->uid = kc_strdup(obs->uid)) ||
		    kc_map_put(&c->pods, obs->uid, p, NULL) != 0) {
			if (p)
				kc_free(p->uid);
			kc_free(p);
			return -1;
		}
		added = true;
	}
	const char *node = obs->node && obs->node[0] ? obs->node : NULL;
	bool moved = added || (p->node_name == NULL) != (node == NULL) ||
	             (node && strcmp(p->node_name, node) != 0);
	bool relink = !p->workload || !obs->workload || strcmp(p->workload, obs->workload) != 0;
	if (relink)
		workload_unlink_pod(c, p);
	if (!replace_str(&p->ns, obs->ns) || !replace_str(&p->name, obs->name) ||
	    !replace_str(&p->workload, obs->workload))
		goto nomem;
	if (relink && p->workload && workload_link_pod(c, p) != 0)
		goto nomem;
	if (moved) {
		if (p->node) {
			node_unlink_pod(p->node, p);
			p->node = NULL;
		}
		if (!replace_str(&p->node_name, node))
			goto nomem;
		if (node) {
			core_node *n = node_get_or_add(c, node);
			if (!n || node_link_pod(n, p) != 0)
				goto nomem;
			p->node = n;
		}
		p->state = POD_IDLE;
	}
	p->daemonset = obs->daemonset;
	p->mirror = obs->mirror;
	p->terminating = obs->terminating;
	p->terminal = obs->terminal;
	p->tol_not_ready_s = obs->tol_not_ready_s;
	p->tol_unreachable_s = obs->tol_unreachable_s;
	p->arrived_ms = obs->arrived_ms;
	if (p->terminating || p->terminal)
		p->state = POD_DONE;
	return 0;
nomem:
	fb_core_pod_delete(c, obs->uid);
	return -1;
}

void fb_core_pod_delete(fb_core *c, const char *uid)
{
	core_pod *p = kc_map_del(&c->pods, uid);
	if (!p)
		return;
	workload_unlink_pod(c, p);
	core_node *n = p->node;
	if (n) {
		node_unlink_pod(n, p);
		if (!n->known && n->npods == 0) {
			kc_map_del(&c->nodes, n->name);
			node_free(n);
		}
	}
	pod_free(p);
}

/* ---- budgets -------------------------------------------------------------------- */

static core_budget *budget_find(fb_core *c, const char *name, size_t *pos)
{
	size_t lo = 0, hi = c->nbudgets;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int cmp = strcmp(c->budgets[mid]->name, name);
		if (cmp == 0) {
			if (pos)
				*pos = mid;
			return c->budgets[mid];
		}
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (pos)
		*pos = lo;
	return NULL;
}

/* Add an admission unless the same node is already recorded at that time. */
static int budget_record(core_budget *b, const char *node, int64_t at_ms)
{
	for (size_t i = 0; i < b->nadm; i++)
		if (b->adm[i].at_ms == at_ms && strcmp(b->adm[i].node, node) == 0)
			return 0;
	if (b->nadm == FB_BUDGET_ADMISSIONS_MAX) {
		/* drop the oldest: it is older than any window that can still count it */
		size_t oldest = 0;
		for (size_t i = 1; i < b->nadm; i++)
			if (b->adm[i].at_ms < b->adm[oldest].at_ms)
				oldest = i;
		b->adm[oldest] = b->adm[--b->nadm];
	}
	if (b->nadm == b->admcap) {
		size_t cap = b->admcap ? b->admcap * 2 : 8;
		fb_admission *v = kc_realloc(b->adm, cap * sizeof(*v));
		if (!v)
			return -1;
		b->adm = v;
		b->admcap = cap;
	}
	fb_admission *a = &b->adm[b->nadm++];
	copy_str(a->node, sizeof(a->node), node);
	a->at_ms = at_ms;
	return 0;
}

/* Forget admissions older than every window (and the poison window). */
static void budget_prune(core_budget *b, int64_t now_ms)
{
	int64_t keep = b->spec.poison.window_ms;
	for (int i = 0; i < b->spec.nwindows; i++)
		if (b->spec.windows[i].window_ms > keep)
			keep = b->spec.windows[i].window_ms;
	size_t w = 0;
	for (size_t i = 0; i < b->nadm; i++)
		if (b->adm[i].at_ms > now_ms - keep)
			b->adm[w++] = b->adm[i];
	if (w != b->nadm)
		b->status_dirty = true;
	b->nadm = w;
}

int fb_core_budget_set(fb_core *c, const char *name, int64_t generation, const cJSON *spec,
                       const fb_admission *admissions, size_t nadmissions, int64_t now_ms)
{
	size_t pos;
	core_budget *b = budget_find(c, name, &pos);
	if (!b) {
		core_budget **v = kc_realloc(c->budgets, (c->nbudgets + 1) * sizeof(*v));
		if (!v)
			return -1;
		c->budgets = v;
		b = kc_calloc(1, sizeof(*b));
		if (!b || !(b->name = kc_strdup(name))) {
			kc_free(b);
			return -1;
		}
		fb_zones_init(&b->zones);
		memmove(&c->budgets[pos + 1], &c->budgets[pos],
		        (c->nbudgets - pos) * sizeof(*c->budgets));
		c->budgets[pos] = b;
		c->nbudgets++;
		b->last_selected = b->last_unhealthy = -1;
	}
	for (size_t i = 0; i < nadmissions; i++)
		if (budget_record(b, admissions[i].node, admissions[i].at_ms) != 0)
			return -1;
	if (generation == b->generation && (b->has_spec || b->invalid))
		return 0; /* a status echo: the spec is the one we have */
	b->generation = generation;
	b->status_dirty = true;
	c->counts_dirty = true;

	fb_budget_spec parsed;
	char err[256] = "";
	if (fb_budget_spec_parse(&parsed, spec, err, sizeof(err)) != 0) {
		b->invalid = true;
		b->invalid_generation = generation;
		b->invalid_reported = false;
		copy_str(b->invalid_msg, sizeof(b->invalid_msg), err);
		return 0;
	}
	cJSON *copy = spec ? cJSON_Duplicate(spec, true) : cJSON_CreateObject();
	if (!copy) {
		fb_budget_spec_release(&parsed);
		return -1;
	}
	bool rate_changed = !b->has_spec || parsed.has_rate != b->spec.has_rate ||
	                    memcmp(&parsed.rate, &b->spec.rate, sizeof(parsed.rate)) != 0;
	fb_budget_spec_release(&b->spec);
	cJSON_Delete(b->spec_json);
	b->spec = parsed;
	b->spec_json = copy;
	b->has_spec = true;
	b->invalid = false;
	b->invalid_msg[0] = '\0';
	if (rate_changed) {
		fb_zones_release(&b->zones);
		fb_zones_init(&b->zones);
	}
	(void)now_ms;
	return 0;
}

void fb_core_budget_delete(fb_core *c, const char *name)
{
	size_t pos;
	core_budget *b = budget_find(c, name, &pos);
	if (!b)
		return;
	memmove(&c->budgets[pos], &c->budgets[pos + 1],
	        (c->nbudgets - pos - 1) * sizeof(*c->budgets));
	c->nbudgets--;
	budget_free(b);
	c->counts_dirty = true;
}

static bool budget_selects(const core_budget *b, const core_node *n)
{
	return b->has_spec && fb_selector_matches(&b->spec.selector, &n->labels);
}

/* ---- counting: zone states and budget populations ---------------------------------- */

static void recount(fb_core *c, int64_t now_ms, fb_actions *out)
{
	bool was_master = c->zones.master_disruption;
	const char *k;
	void *v;
	fb_zones_begin(&c->zones);
	for (size_t i = 0; i < c->nbudgets; i++) {
		c->budgets[i]->selected = 0;
		c->budgets[i]->unhealthy = 0;
		fb_zones_begin(&c->budgets[i]->zones);
	}
	for (size_t it = 0; kc_map_next(&c->nodes, &it, &k, &v);) {
		core_node *n = v;
		if (!n->known)
			continue;
		bool ready = n->ready == FB_COND_TRUE;
		if (!n->exclude)
			fb_zones_count(&c->zones, n->zone_key, n->zone_len, ready);
		for (size_t i = 0; i < c->nbudgets; i++) {
			core_budget *b = c->budgets[i];
			if (!budget_selects(b, n))
				continue;
			b->selected++;
			if (!ready && n->ready != FB_COND_NONE)
				b->unhealthy++;
			if (b->spec.has_rate && !n->exclude)
				fb_zones_count(&b->zones, n->zone_key, n->zone_len, ready);
		}
	}
	fb_zones_end(&c->zones, &c->cfg.rates, now_ms, NULL, NULL);
	for (size_t i = 0; i < c->nbudgets; i++) {
		core_budget *b = c->budgets[i];
		fb_zones_end(&b->zones, &b->spec.rate, now_ms, NULL, NULL);
		if (b->selected != b->last_selected || b->unhealthy != b->last_unhealthy) {
			b->status_dirty = true;
			b->last_selected = b->selected;
			b->last_unhealthy = b->unhealthy;
		}
		bool halted = b->has_spec &&
		              fb_budget_over_max_unhealthy(&b->spec, b->unhealthy, b->selected);
		if (halted != b->halted) {
			b->halted = halted;
			b->status_dirty = true;
			if (halted)
				event(out, c->cfg.dry_run || b->spec.dry_run, FB_OBJ_BUDGET, NULL, b->name,
				      NULL, true, "EvictionsHalted",
				      "%d of %d selected nodes are unhealthy, above maxUnhealthy %d; "
				      "no evictions from these nodes until fewer fail",
				      b->unhealthy, b->selected,
				      fb_budget_max_unhealthy(&b->spec, b->selected));
		}
	}
	if (was_master && !c->zones.master_disruption) {
		/* Leaving master disruption mode: upstream resets every node's
		 * timestamps, and re-taints from scratch, so toleration clocks restart. */
		for (size_t it = 0; kc_map_next(&c->nodes, &it, &k, &v);) {
			core_node *n = v;
			if (n->failed && !n->admitted)
				n->failed_since_ms = now_ms;
		}
	}
	c->counts_dirty = false;
}

/* ---- pods: when are they due ------------------------------------------------------------ */

static bool pod_eligible(const core_pod *p)
{
	return !p->daemonset && !p->mirror && !p->terminating && !p->terminal &&
	       p->state != POD_DONE;
}

/* A pod of a quarantined workload stays where it is (no replacement, no spreading). */
static bool pod_pinned(const fb_core *c, const core_pod *p)
{
	(void)c;
	return p->wl && p->wl->quarantined;
}

/* Due time of p on its failed node n; INT64_MAX = never. */
static int64_t pod_due_ms(const core_pod *p, const core_node *n)
{
	int64_t tol = n->ready == FB_COND_FALSE ? p->tol_not_ready_s : p->tol_unreachable_s;
	if (tol == FB_TOL_FOREVER)
		return INT64_MAX;
	if (tol == FB_TOL_NONE || tol <= 0)
		return n->failed_since_ms;
	return n->failed_since_ms + tol * 1000;
}

static int64_t node_next_due(const fb_core *c, const core_node *n)
{
	int64_t due = INT64_MAX;
	for (size_t i = 0; i < n->npods; i++) {
		const core_pod *p = n->pods[i];
		if (!pod_eligible(p) || pod_pinned(c, p))
			continue;
		int64_t d = pod_due_ms(p, n);
		if (d < due)
			due = d;
	}
	return due;
}

/* ---- admission ------------------------------------------------------------------------------ */

typedef struct candidate {
	core_node *node;
	int64_t failed_since_ms;
} candidate;

static int candidate_cmp(const void *a, const void *b)
{
	const candidate *x = a, *y = b;
	if (x->failed_since_ms != y->failed_since_ms)
		return x->failed_since_ms < y->failed_since_ms ? -1 : 1;
	return strcmp(x->node->name, y->node->name);
}

/* Was this node's current failure already admitted by b (e.g. by a previous leader)? */
static bool budget_has_admitted(const core_budget *b, const core_node *n)
{
	for (size_t i = 0; i < b->nadm; i++)
		if (b->adm[i].at_ms >= n->failed_since_ms && strcmp(b->adm[i].node, n->name) == 0)
			return true;
	return false;
}

static bool node_dry_run(const fb_core *c, const core_node *n)
{
	if (c->cfg.dry_run)
		return true;
	for (size_t i = 0; i < c->nbudgets; i++)
		if (budget_selects(c->budgets[i], n) && c->budgets[i]->spec.dry_run)
			return true;
	return false;
}

/*
 * The podEviction settings for a node: the most careful of the budgets that
 * select it (Evict over Delete, the longest pdbBlockedTimeout with 0 = never
 * winning, the longest grace period); the defaults when none does.
 */
static void node_eviction_settings(const fb_core *c, const core_node *n, fb_evict_mode *mode,
                                   int64_t *pdb_timeout_ms, int64_t *grace_s)
{
	bool any = false;
	*mode = FB_MODE_DELETE;
	*pdb_timeout_ms = 0;
	*grace_s = -1;
	bool never = false;
	for (size_t i = 0; i < c->nbudgets; i++) {
		const core_budget *b = c->budgets[i];
		if (!budget_selects(b, n))
			continue;
		any = true;
		if (b->spec.mode == FB_MODE_EVICT)
			*mode = FB_MODE_EVICT;
		if (b->spec.pdb_blocked_timeout_ms == 0)
			never = true;
		else if (b->spec.pdb_blocked_timeout_ms > *pdb_timeout_ms)
			*pdb_timeout_ms = b->spec.pdb_blocked_timeout_ms;
		if (b->spec.grace_period_s > *grace_s)
			*grace_s = b->spec.grace_period_s;
	}
	if (!any) {
		*mode = c->cfg.defaults.mode;
		*pdb_timeout_ms = c->cfg.defaults.pdb_blocked_timeout_ms;
		*grace_s = c->cfg.defaults.grace_period_s;
		return;
	}
	if (never)
		*pdb_timeout_ms = 0;
}

typedef struct verdict {
	fb_deny deny;
	const core_budget *by;     /* NULL: the cluster-wide zone limiter */
	int window;
	int64_t retry_ms;
} verdict;

static verdict judge(fb_core *c, core_node *n, int64_t now_ms, bool *all_recorded)
{
	verdict v = { FB_ADMIT, NULL, -1, INT64_MAX };
	*all_recorded = true;
	bool any_budget = false;
	for (size_t i = 0; i < c->nbudgets; i++) {
		core_budget *b = c->budgets[i];
		if (!budget_selects(b, n))
			continue;
		any_budget = true;
		if (!budget_has_admitted(b, n))
			*all_recorded = false;
	}
	if (!any_budget)
		*all_recorded = false;
	if (*all_recorded)
		return v; /* admitted before (restart / leader change): do not charge again */

	fb_zone *z = fb_zones_find(&c->zones, n->zone_key, n->zone_len);
	if (c->zones.master_disruption)
		return (verdict){ FB_DENY_FULL_DISRUPTION, NULL, -1, INT64_MAX };
	if (z && !n->exclude) {
		int64_t next = fb_bucket_next_ms(&z->bucket, now_ms);
		if (next > now_ms)
			return (verdict){ FB_DENY_RATE, NULL, -1, next };
	}
	for (size_t i = 0; i < c->nbudgets; i++) {
		core_budget *b = c->budgets[i];
		if (!budget_selects(b, n) || budget_has_admitted(b, n))
			continue;
		if (b->spec.paused)
			return (verdict){ FB_DENY_PAUSED, b, -1, INT64_MAX };
		if (b->halted)
			return (verdict){ FB_DENY_MAX_UNHEALTHY, b, -1, INT64_MAX };
		int which = -1;
		int64_t retry = INT64_MAX;
		if (fb_windows_check(&b->spec, b->adm, b->nadm, now_ms, &which, &retry) != FB_ADMIT)
			return (verdict){ FB_DENY_WINDOW, b, which, retry };
		if (b->spec.has_rate) {
			if (b->zones.master_disruption)
				return (verdict){ FB_DENY_FULL_DISRUPTION, b, -1, INT64_MAX };
			fb_zone *bz = fb_zones_find(&b->zones, n->zone_key, n->zone_len);
			if (bz && !n->exclude) {
				int64_t next = fb_bucket_next_ms(&bz->bucket, now_ms);
				if (next > now_ms)
					return (verdict){ FB_DENY_RATE, b, -1, next };
			}
		}
	}
	return v;
}

static void admit(fb_core *c, core_node *n, int64_t now_ms, bool charge, fb_actions *out)
{
	char zbuf[128], since[32];
	fb_zone *z = fb_zones_find(&c->zones, n->zone_key, n->zone_len);
	if (charge) {
		if (z && !n->exclude)
			fb_bucket_try(&z->bucket, now_ms);
		for (size_t i = 0; i < c->nbudgets; i++) {
			core_budget *b = c->budgets[i];
			if (!budget_selects(b, n) || budget_has_admitted(b, n))
				continue;
			if (b->spec.has_rate && !n->exclude) {
				fb_zone *bz = fb_zones_find(&b->zones, n->zone_key, n->zone_len);
				if (bz)
					fb_bucket_try(&bz->bucket, now_ms);
			}
			if (!b->spec.dry_run && !c->cfg.dry_run)
				budget_record(b, n->name, now_ms);
			b->status_dirty = true;
		}
	}
	n->admitted = true;
	n->admitted_ms = now_ms;
	n->deferred = FB_ADMIT;
	c->stats.admitted_nodes++;
	fb_zone_display(n->zone_key, n->zone_len, zbuf, sizeof(zbuf));
	event(out, node_dry_run(c, n), FB_OBJ_NODE, NULL, n->name, n->uid, false, "EvictionStarted",
	      "Node %s failed %s ago (Ready=%s); evicting its pods as their tolerations expire "
	      "(zone %s: %s)",
	      n->name, ago(now_ms - n->failed_since_ms, since, sizeof(since)), cond_name(n->ready),
	      zbuf, z ? fb_zone_state_name(z->state) : "Normal");
}

/* When a rate limiter admits the next node: "next in 8s", or never at rate 0. */
static const char *next_slot(int64_t retry_ms, int64_t now_ms, char *buf, size_t cap)
{
	if (retry_ms == INT64_MAX)
		return "none until the zone's state changes";
	char d[32];
	snprintf(buf, cap, "next in %s", ago(retry_ms - now_ms, d, sizeof(d)));
	return buf;
}

static void defer_node(fb_core *c, core_node *n, const verdict *v, int64_t now_ms,
                       fb_actions *out)
{
	const char *by = v->by ? v->by->name : "";
	if (n->deferred == v->deny && strcmp(n->deferred_by, by) == 0)
		return; /* reported already for this failure */
	n->deferred = v->deny;
	copy_str(n->deferred_by, sizeof(n->deferred_by), by);
	bool dry = node_dry_run(c, n);
	char zbuf[128], wbuf[32], rbuf[48];
	fb_zone_display(n->zone_key, n->zone_len, zbuf, sizeof(zbuf));
	const fb_zone *z = fb_zones_find(&c->zones, n->zone_key, n->zone_len);
	switch (v->deny) {
	case FB_DENY_RATE:
		c->stats.deferrals_rate++;
		if (v->by)
			event(out, dry, FB_OBJ_NODE, NULL, n->name, n->uid, true, "EvictionDeferred",
			      "Evictions from node %s deferred by the rate of EvictionBudget %s "
			      "(zone %s); %s", n->name, by, zbuf,
			      next_slot(v->retry_ms, now_ms, rbuf, sizeof(rbuf)));
		else
			event(out, dry, FB_OBJ_NODE, NULL, n->name, n->uid, true, "EvictionDeferred",
			      "Evictions from node %s deferred by the rate limit of zone %s (%s, "
			      "%g nodes/s); %s", n->name, zbuf,
			      z ? fb_zone_state_name(z->state) : "Normal", z ? z->bucket.qps : 0,
			      next_slot(v->retry_ms, now_ms, rbuf, sizeof(rbuf)));
		break;
	case FB_DENY_FULL_DISRUPTION:
		c->stats.deferrals_disruption++;
		event(out, dry, FB_OBJ_NODE, NULL, n->name, n->uid, true, "EvictionHalted",
		      "Evictions from node %s halted: every zone%s is fully disrupted, which looks "
		      "like a control-plane or network problem rather than failed nodes",
		      n->name, v->by ? " selected by the budget" : "");
		break;
	case FB_DENY_PAUSED:
		c->stats.deferrals_paused++;
		event(out, dry, FB_OBJ_NODE, NULL, n->name, n->uid, true, "EvictionDeferred",
		      "Evictions from node %s deferred: EvictionBudget %s is paused", n->name, by);
		break;
	case FB_DENY_MAX_UNHEALTHY:
		c->stats.deferrals_max_unhealthy++;
		event(out, dry, FB_OBJ_NODE, NULL, n->name, n->uid, true, "EvictionHalted",
		      "Evictions from node %s halted by EvictionBudget %s: %d of %d selected nodes "
		      "unhealthy, above maxUnhealthy %d", n->name, by, v->by->unhealthy,
		      v->by->selected, fb_budget_max_unhealthy(&v->by->spec, v->by->selected));
		break;
	case FB_DENY_WINDOW: {
		c->stats.deferrals_window++;
		const fb_window *w = &v->by->spec.windows[v->window];
		event(out, dry, FB_OBJ_NODE, NULL, n->name, n->uid, true, "EvictionDeferred",
		      "Evictions from node %s deferred by EvictionBudget %s: %d of %d nodes per %s "
		      "already used; next slot in %s", n->name, by,
		      fb_windows_used(w, v->by->adm, v->by->nadm, now_ms), w->max_nodes,
		      fb_duration_format(w->window_ms, wbuf, sizeof(wbuf)),
		      v->retry_ms == INT64_MAX ? "never (maxNodes 0)"
		                               : ago(v->retry_ms - now_ms, rbuf, sizeof(rbuf)));
		break;
	}
	case FB_ADMIT:
		break;
	}
}

/* ---- pod actions ---------------------------------------------------------------------------- */

static int64_t pod_actions(fb_core *c, core_node *n, int64_t now_ms, int *budget,
                           fb_actions *out)
{
	int64_t next = INT64_MAX;
	bool dry = node_dry_run(c, n);
	fb_evict_mode mode;
	int64_t pdb_timeout_ms, grace_s;
	node_eviction_settings(c, n, &mode, &pdb_timeout_ms, &grace_s);
	for (size_t i = 0; i < n->npods; i++) {
		core_pod *p = n->pods[i];
		if (!pod_eligible(p) || p->state == POD_INFLIGHT)
			continue;
		if (pod_pinned(c, p)) {
			if (!p->pinned_reported) {
				p->pinned_reported = true;
				c->stats.pods_pinned++;
				event(out, dry, FB_OBJ_POD, p->ns, p->name, p->uid, true, "Pinned",
				      "Not evicted from failed node %s: %s is quarantined (it arrived on "
				      "nodes shortly before they failed); it stays so that no replacement "
				      "spreads it", n->name, p->workload);
			}
			continue;
		}
		int64_t due = pod_due_ms(p, n);
		if (p->state == POD_RETRY) {
			due = p->next_try_ms;
			/* The delete fallback is due when pdbBlockedTimeout expires, not at the
			 * next backed-off retry (5 s, 10 s, 20 s, ... up to 60 s later): found by
			 * e2e pdb-block, where a 20 s timeout deleted the pod after 35 s. */
			if (pdb_timeout_ms > 0 && p->first_try_ms + pdb_timeout_ms < due)
				due = p->first_try_ms + pdb_timeout_ms;
		}
		if (due > now_ms) {
			if (due < next)
				next = due;
			continue;
		}
		if (*budget <= 0) {
			next = now_ms;
			break;
		}
		(*budget)--;
		bool fallback = p->state == POD_RETRY && pdb_timeout_ms > 0 &&
		                now_ms - p->first_try_ms >= pdb_timeout_ms;
		bool del = mode == FB_MODE_DELETE || fallback || p->deleting;
		fb_action *a = push_action(out, del ? FB_ACT_DELETE : FB_ACT_EVICT);
		if (!a)
			return now_ms;
		a->dry_run = dry;
		a->obj = FB_OBJ_POD;
		copy_str(a->ns, sizeof(a->ns), p->ns);
		copy_str(a->name, sizeof(a->name), p->name);
		copy_str(a->uid, sizeof(a->uid), p->uid);
		copy_str(a->node, sizeof(a->node), n->name);
		a->grace_period_s = grace_s;
		char tol[32], fail[32], tbuf[32];
		int64_t t = n->ready == FB_COND_FALSE ? p->tol_not_ready_s : p->tol_unreachable_s;
		if (t == FB_TOL_NONE)
			snprintf(tol, sizeof(tol), "no toleration");
		else
			snprintf(tol, sizeof(tol), "toleration %llds", (long long)t);
		if (fallback) {
			event(out, dry, FB_OBJ_POD, p->ns, p->name, p->uid, true,
			      "DeletedAfterPDBTimeout",
			      "Deleting pod: its eviction from failed node %s was blocked by a "
			      "PodDisruptionBudget for %s (pdbBlockedTimeout %s)", n->name,
			      ago(now_ms - p->first_try_ms, fail, sizeof(fail)),
			      fb_duration_format(pdb_timeout_ms, tbuf, sizeof(tbuf)));
			p->deleting = true;
		} else if (p->state == POD_IDLE) {
			event(out, dry, FB_OBJ_POD, p->ns, p->name, p->uid, false,
			      del ? "Deleting" : "Evicting",
			      "%s pod from failed node %s (Ready=%s for %s, %s)",
			      del ? "Deleting" : "Evicting", n->name, cond_name(n->ready),
			      ago(now_ms - n->failed_since_ms, fail, sizeof(fail)), tol);
		}
		if (p->state == POD_IDLE)
			p->first_try_ms = now_ms;
		p->attempts++;
		if (del)
			c->stats.deletions_requested++;
		else
			c->stats.evictions_requested++;
		/* In dry run nothing is sent, so nothing will answer: it is done. */
		p->state = dry ? POD_DONE : POD_INFLIGHT;
	}
	return next;
}

void fb_core_evict_result(fb_core *c, const char *uid, fb_evict_result r, int64_t now_ms)
{
	core_pod *p = kc_map_get(&c->pods, uid);
	if (!p || p->state != POD_INFLIGHT)
		return;
	switch (r) {
	case FB_EVICT_OK:
	case FB_EVICT_GONE:
		p->state = POD_DONE;
		return;
	case FB_EVICT_BLOCKED:
	case FB_EVICT_FAILED:
		p->blocked = r == FB_EVICT_BLOCKED;
		p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : c->cfg.pdb_retry_initial_ms;
		if (p->backoff_ms > c->cfg.pdb_retry_max_ms)
			p->backoff_ms = c->cfg.pdb_retry_max_ms;
		p->next_try_ms = now_ms + p->backoff_ms;
		p->state = POD_RETRY;
		return;
	}
}

/* Events about blocked pods go out once, from the tick (results carry no output). */
static void report_blocked(fb_core *c, core_node *n, fb_actions *out)
{
	fb_evict_mode mode;
	int64_t pdb_timeout_ms, grace_s;
	char tbuf[32];
	bool settings = false;
	for (size_t i = 0; i < n->npods; i++) {
		core_pod *p = n->pods[i];
		if (p->state != POD_RETRY || !p->blocked || p->blocked_reported)
			continue;
		if (!settings) {
			node_eviction_settings(c, n, &mode, &pdb_timeout_ms, &grace_s);
			settings = true;
		}
		p->blocked_reported = true;
		if (pdb_timeout_ms > 0)
			event(out, node_dry_run(c, n), FB_OBJ_POD, p->ns, p->name, p->uid, true,
			      "EvictionBlocked",
			      "A PodDisruptionBudget blocks the eviction of this pod from failed node "
			      "%s; retrying, and deleting it after %s", n->name,
			      fb_duration_format(pdb_timeout_ms, tbuf, sizeof(tbuf)));
		else
			event(out, node_dry_run(c, n), FB_OBJ_POD, p->ns, p->name, p->uid, true,
			      "EvictionBlocked",
			      "A PodDisruptionBudget blocks the eviction of this pod from failed node "
			      "%s; retrying until it allows it", n->name);
	}
}

/* ---- poison: evidence, verdicts, quarantine --------------------------------------------- */

/*
 * The poison settings that apply to a node: those of the first budget (by
 * name) that selects it, else the defaults. A verdict, and the action it
 * takes, follow the settings of the node that failed last with the workload
 * (judge_workloads).
 */
static const fb_poison_spec *node_poison_spec(const fb_core *c, const core_node *n)
{
	for (size_t i = 0; n && i < c->nbudgets; i++)
		if (budget_selects(c->budgets[i], n))
			return &c->budgets[i]->spec.poison;
	return &c->cfg.defaults.poison;
}

static const char *workload_api_version(const char *kind)
{
	if (!strcmp(kind, "Deployment") || !strcmp(kind, "ReplicaSet") ||
	    !strcmp(kind, "StatefulSet") || !strcmp(kind, "DaemonSet"))
		return "apps/v1";
	if (!strcmp(kind, "Job") || !strcmp(kind, "CronJob"))
		return "batch/v1";
	if (!strcmp(kind, "Pod"))
		return "v1";
	return NULL;
}

bool fb_workload_scalable(const char *kind)
{
	return kind && (!strcmp(kind, "Deployment") || !strcmp(kind, "StatefulSet") ||
	                !strcmp(kind, "ReplicaSet"));
}

/* Move w to scale state st, keeping the counts of pending and scaled workloads. */
static void set_scale(fb_core *c, core_workload *w, scale_state st)
{
	bool was_pending = w->scale == SCALE_WANTED || w->scale == SCALE_RESTORE;
	bool pending = st == SCALE_WANTED || st == SCALE_RESTORE;
	if (was_pending && !pending)
		c->scales_pending--;
	else if (pending && !was_pending)
		c->scales_pending++;
	if (pending && w->scale_next_ms < c->scale_due_ms)
		c->scale_due_ms = w->scale_next_ms;
	if (w->scale == SCALE_DONE && st != SCALE_DONE)
		c->stats.scaled_to_zero--;
	else if (st == SCALE_DONE && w->scale != SCALE_DONE)
		c->stats.scaled_to_zero++;
	w->scale = st;
}

/* Start a scale (or a restore) afresh: at once, no backoff from earlier tries. */
static void start_scale(fb_core *c, core_workload *w, scale_state st)
{
	w->scale_next_ms = 0;
	w->scale_backoff_ms = 0;
	set_scale(c, w, st);
}

/* The name of a workload's Quarantine: "<kind in lower case>-<name>". */
static void quarantine_name(const core_workload *w, char *out, size_t cap)
{
	char lower[64];
	size_t i;
	for (i = 0; w->kind[i] && i < sizeof(lower) - 1; i++)
		lower[i] = (char)(w->kind[i] >= 'A' && w->kind[i] <= 'Z' ? w->kind[i] + 32 : w->kind[i]);
	lower[i] = '\0';
	snprintf(out, cap, "%s-%.180s", lower, w->name);
}

static void workload_event(fb_actions *out, bool dry, const core_workload *w, bool warning,
                           const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static void workload_event(fb_actions *out, bool dry, const core_workload *w, bool warning,
                           const char *reason, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	event(out, dry, FB_OBJ_WORKLOAD, w->ns, w->name, NULL, warning, reason, "%s", msg);
	if (out->n)
		copy_str(out->v[out->n - 1].wl_kind, sizeof(out->v[out->n - 1].wl_kind), w->kind);
}

static void taint_action(fb_actions *out, const core_node *n, const core_workload *w, bool add)
{
	fb_action *a = push_action(out, add ? FB_ACT_TAINT : FB_ACT_UNTAINT);
	if (!a)
		return;
	a->obj = FB_OBJ_NODE;
	copy_str(a->name, sizeof(a->name), n->name);
	copy_str(a->uid, sizeof(a->uid), n->uid);
	fb_quarantine_taint_value(w->ns, w->kind, w->name, a->taint);
}

/* Failures of a whole zone within this span are one event: an outage. */
#define ZONE_OUTAGE_SPAN_MS (60 * 1000)

/*
 * Failure f of node m turned out to be part of an outage: its suspects were
 * not the cause. Keep the failure with no suspects, judge its workloads
 * again, and rewrite the node's record so that a restart or a new leader
 * reads the same (the annotation is the durable evidence).
 */
/* Write failure f (as it now stands) to node m's annotation, unless in dry run. */
static void write_failure(fb_core *c, const fb_failure *f, const core_node *m, fb_actions *out)
{
	if (!m || node_dry_run(c, m))
		return;
	char *json = fb_failure_to_json(f);
	fb_action *a = json ? push_action(out, FB_ACT_NODE_ANNOTATE) : NULL;
	if (!a) {
		kc_free(json);
		return;
	}
	a->obj = FB_OBJ_NODE;
	copy_str(a->name, sizeof(a->name), m->name);
	a->payload = json;
}

static void forget_suspects(fb_core *c, fb_failure *f, const core_node *m, fb_actions *out)
{
	if (f->n == 0)
		return;
	for (size_t i = 0; i < f->n; i++) {
		core_workload *w = kc_map_get(&c->workloads, f->s[i].workload);
		if (w)
			w->dirty = c->workloads_dirty = true;
	}
	fb_failure_drop_suspects(f);
	write_failure(c, f, m, out);
}


/*
 * Did n fail as part of an outage of its zone? When at least two nodes of
 * the zone fail within a minute of each other and the zone is disrupted in
 * the node lifecycle controller's sense (no node Ready, or more than 2 not
 * Ready and at least unhealthyZoneThreshold of them: ComputeZoneState), the
 * cause is the zone (power, network), not what arrived on its nodes: a
 * poison kills the nodes it lands on, not their neighbours. Found by
 * firebreak-sim (docs/simulator.md): without this, a zone outage shortly
 * after a rollout quarantined the rolled-out workload. If so, failures
 * already recorded in the zone within the span lose their suspects too.
 */
static bool zone_outage(fb_core *c, const core_node *n, fb_actions *out)
{
	int total = 0, together = 0, failed = 0;
	const char *k;
	void *v;
	for (size_t it = 0; kc_map_next(&c->nodes, &it, &k, &v);) {
		const core_node *m = v;
		if (!m->known || m->zone_len != n->zone_len ||
		    memcmp(m->zone_key, n->zone_key, n->zone_len) != 0)
			continue;
		total++;
		if (!m->failed)
			continue;
		failed++;
		int64_t d = m->failed_since_ms - n->failed_since_ms;
		if (d <= ZONE_OUTAGE_SPAN_MS && d >= -ZONE_OUTAGE_SPAN_MS)
			together++;
	}
	if (together < 2 ||
	    fb_compute_zone_state(total - failed, failed, c->cfg.rates.unhealthy_threshold) ==
	            FB_ZONE_NORMAL)
		return false;
	for (size_t it = 0; kc_map_next(&c->nodes, &it, &k, &v);) {
		const core_node *m = v;
		if (!m->known || m == n || m->zone_len != n->zone_len ||
		    memcmp(m->zone_key, n->zone_key, n->zone_len) != 0)
			continue;
		for (size_t e = 0; e < c->evidence.n; e++) {
			fb_failure *f = &c->evidence.v[e];
			if (f->failed_ms != m->failed_since_ms || strcmp(f->node, m->name) != 0)
				continue;
			forget_suspects(c, f, m, out);
		}
	}
	return true;
}

/*
 * An outage's failure is written down too, with no suspects: a restart or a
 * new leader reads it back (restore_failure) instead of recording the failure
 * afresh, perhaps after the outage has ended and with suspects.
 */
static void record_outage_failure(fb_core *c, const core_node *n, fb_actions *out)
{
	fb_failure f = { 0 };
	f.failed_ms = n->failed_since_ms;
	if (!(f.node = kc_strdup(n->name)))
		return;
	const fb_failure *kept = fb_evidence_take(&c->evidence, &f);
	if (kept)
		write_failure(c, kept, n, out);
}

/* Record who arrived on node n shortly before its current failure. */
static void record_failure(fb_core *c, core_node *n, int64_t now_ms, fb_actions *out)
{
	const fb_poison_spec *spec = node_poison_spec(c, n);
	n->failure_recorded = true;
	if (c->zones.master_disruption) {
		event(out, node_dry_run(c, n), FB_OBJ_NODE, NULL, n->name, n->uid, false,
		      "FailureRecorded",
		      "Node %s failed while every zone is disrupted: a cluster-wide outage (control "
		      "plane or network), not evidence against what arrived here", n->name);
		record_outage_failure(c, n, out);
		return;
	}
	if (zone_outage(c, n, out)) {
		char zbuf[128];
		fb_zone_display(n->zone_key, n->zone_len, zbuf, sizeof(zbuf));
		event(out, node_dry_run(c, n), FB_OBJ_NODE, NULL, n->name, n->uid, false,
		      "FailureRecorded",
		      "Node %s failed with every other node of zone %s within a minute: a zone "
		      "outage, not evidence against what arrived here", n->name, zbuf);
		record_outage_failure(c, n, out);
		return;
	}
	fb_failure f = { 0 };
	f.failed_ms = n->failed_since_ms;
	f.memory_pressure = n->memory_pressure_seen;
	if (!(f.node = kc_strdup(n->name)))
		return;
	char list[400] = "";
	size_t len = 0;
	for (size_t i = 0; i < n->npods; i++) {
		const core_pod *p = n->pods[i];
		if (p->daemonset || p->mirror || p->terminal || !p->workload || p->arrived_ms <= 0)
			continue;
		int64_t before = f.failed_ms - p->arrived_ms;
		if (before < 0 || before > spec->arrival_window_ms)
			continue;
		bool dup = false;
		for (size_t j = 0; j < f.n && !dup; j++)
			dup = strcmp(f.s[j].workload, p->workload) == 0;
		if (dup)
			continue;
		const char *from = fb_evidence_migrated_from(&c->evidence, p->workload, n->name,
		                                             p->arrived_ms, spec->window_ms);
		if (fb_failure_add_suspect(&f, p->workload, p->name, p->arrived_ms, from) != 0)
			break;
		char ago_buf[32];
		int w = snprintf(list + len, sizeof(list) - len, "%s%s (%s before%s%s)",
		                 len ? ", " : "", p->workload, ago(before, ago_buf, sizeof(ago_buf)),
		                 from ? ", moved here from failed node " : "", from ? from : "");
		if (w > 0 && (size_t)w < sizeof(list) - len)
			len += (size_t)w;
	}
	if (f.n == 0) {
		fb_failure_release(&f);
		return;
	}
	for (size_t i = 0; i < f.n; i++) {
		core_workload *w = workload_get_or_add(c, f.s[i].workload);
		if (!w)
			continue;
		w->dirty = c->workloads_dirty = true;
		if (w->quarantined && !node_dry_run(c, n)) /* it killed another node: mark it too */
			taint_action(out, n, w, true);
	}
	event(out, node_dry_run(c, n), FB_OBJ_NODE, NULL, n->name, n->uid, false, "FailureRecorded",
	      "Node %s failed; recent arrivals: %s", n->name, list);
	write_failure(c, &f, n, out);
	fb_evidence_take(&c->evidence, &f);
	(void)now_ms;
}

/* Distinct healthy nodes where w arrived since since_ms and is still running. */
static int healthy_arrivals(fb_core *c, const core_workload *w, int64_t since_ms)
{
	const char *seen[64];
	int n = 0;
	(void)c;
	for (size_t i = 0; i < w->npods; i++) {
		const core_pod *p = w->pods[i];
		if (!p->node || p->node->failed || p->terminating || p->terminal ||
		    p->arrived_ms < since_ms)
			continue;
		bool dup = false;
		for (int j = 0; j < n && j < 64 && !dup; j++)
			dup = seen[j] == p->node->name;
		if (dup)
			continue;
		if (n < 64)
			seen[n] = p->node->name;
		n++;
	}
	return n;
}

static char *quarantine_object(fb_core *c, const core_workload *w, const char **nodes, int bad,
                               const char *message, const char *action, int64_t now_ms,
                               const char *qname)
{
	char ts[32], tv[64];
	cJSON *o = cJSON_CreateObject();
	cJSON *meta = cJSON_AddObjectToObject(o, "metadata");
	cJSON *labels = cJSON_AddObjectToObject(meta, "labels");
	cJSON *spec = cJSON_AddObjectToObject(o, "spec");
	cJSON *wl = cJSON_AddObjectToObject(spec, "workload");
	cJSON *st = cJSON_AddObjectToObject(o, "status");
	cJSON *jn = cJSON_AddArrayToObject(st, "nodes");
	cJSON *tn = cJSON_AddArrayToObject(st, "taintedNodes");
	cJSON *ev = cJSON_AddArrayToObject(st, "evidence");
	if (!o || !meta || !labels || !spec || !wl || !st || !jn || !tn || !ev) {
		cJSON_Delete(o);
		return NULL;
	}
	cJSON_AddStringToObject(o, "apiVersion", "firebreak.dev/v1alpha1");
	cJSON_AddStringToObject(o, "kind", "Quarantine");
	cJSON_AddStringToObject(meta, "name", qname);
	cJSON_AddStringToObject(meta, "namespace", w->ns);
	cJSON_AddStringToObject(labels, "app.kubernetes.io/managed-by", "firebreak");
	const char *av = workload_api_version(w->kind);
	if (av)
		cJSON_AddStringToObject(wl, "apiVersion", av);
	cJSON_AddStringToObject(wl, "kind", w->kind);
	cJSON_AddStringToObject(wl, "name", w->name);
	cJSON_AddStringToObject(spec, "action", action);
	cJSON_AddStringToObject(st, "phase", "Active");
	cJSON_AddStringToObject(st, "declaredAt", kc_time_format(now_ms * 1000, ts));
	cJSON_AddStringToObject(st, "reason", "RepeatedNodeFailures");
	cJSON_AddStringToObject(st, "message", message);
	fb_quarantine_taint_value(w->ns, w->kind, w->name, tv);
	for (int b = 0; b < bad && b < 64; b++) {
		for (size_t e = 0; e < c->evidence.n; e++) {
			const fb_failure *f = &c->evidence.v[e];
			if (strcmp(f->node, nodes[b]) != 0)
				continue;
			for (size_t s2 = 0; s2 < f->n; s2++) {
				const fb_suspect *su = &f->s[s2];
				if (strcmp(su->workload, w->id) != 0)
					continue;
				cJSON *jnode = cJSON_CreateObject();
				cJSON_AddStringToObject(jnode, "name", f->node);
				cJSON_AddStringToObject(jnode, "arrivedAt", kc_time_format(su->arrived_ms * 1000, ts));
				cJSON_AddStringToObject(jnode, "failedAt", kc_time_format(f->failed_ms * 1000, ts));
				if (su->migrated_from)
					cJSON_AddStringToObject(jnode, "migratedFrom", su->migrated_from);
				cJSON_AddItemToArray(jn, jnode);
				char detail[300], abuf[32];
				cJSON *e1 = cJSON_CreateObject();
				cJSON_AddStringToObject(e1, "kind", "Arrival");
				cJSON_AddStringToObject(e1, "node", f->node);
				cJSON_AddStringToObject(e1, "time", kc_time_format(su->arrived_ms * 1000, ts));
				snprintf(detail, sizeof(detail), "pod %s arrived %s before the node failed",
				         su->pod, ago(f->failed_ms - su->arrived_ms, abuf, sizeof(abuf)));
				cJSON_AddStringToObject(e1, "detail", detail);
				cJSON_AddItemToArray(ev, e1);
				if (su->migrated_from) {
					cJSON *e2 = cJSON_CreateObject();
					cJSON_AddStringToObject(e2, "kind", "MigrationChain");
					cJSON_AddStringToObject(e2, "node", f->node);
					cJSON_AddStringToObject(e2, "time", kc_time_format(su->arrived_ms * 1000, ts));
					snprintf(detail, sizeof(detail),
					         "its previous pod was on node %s, which had failed",
					         su->migrated_from);
					cJSON_AddStringToObject(e2, "detail", detail);
					cJSON_AddItemToArray(ev, e2);
				}
				if (f->memory_pressure) {
					cJSON *e3 = cJSON_CreateObject();
					cJSON_AddStringToObject(e3, "kind", "MemoryPressure");
					cJSON_AddStringToObject(e3, "node", f->node);
					cJSON_AddStringToObject(e3, "time", kc_time_format(f->failed_ms * 1000, ts));
					cJSON_AddStringToObject(e3, "detail",
					                        "MemoryPressure was True before the node failed");
					cJSON_AddItemToArray(ev, e3);
				}
				break;
			}
			break;
		}
		const core_node *node = kc_map_get(&c->nodes, nodes[b]);
		if (node && node->known)
			cJSON_AddItemToArray(tn, cJSON_CreateString(nodes[b]));
	}
	char *json = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return json;
}

/*
 * The verdict: Events, taints, the Quarantine object and, with action
 * ScaleToZero, the scaling. spec is the poison section that judged w (see
 * judge_workloads); its action decides. A workload without a scale
 * subresource falls back to Pin, and an Event says why.
 */
static void declare(fb_core *c, core_workload *w, const char **nodes, int bad, int good,
                    const fb_poison_spec *spec, int64_t now_ms, fb_actions *out)
{
	/* dry run if global, or if a budget over any of the nodes it killed says so */
	bool dry = c->cfg.dry_run;
	for (int i = 0; i < bad && i < 64 && !dry; i++) {
		const core_node *dn = kc_map_get(&c->nodes, nodes[i]);
		dry = dn && node_dry_run(c, dn);
	}
	w->quarantined = !dry;
	w->dry_run = dry;
	w->declared_ms = now_ms;
	c->stats.quarantines_total++;
	c->stats.nodes_lost_before_quarantine = (size_t)bad;
	/* "Deployment gpu/render arrived on node-3 and node-7 within 12m before each failed" */
	char names[300] = "", within[32];
	size_t len = 0;
	int64_t worst = 0;
	for (int i = 0; i < bad && i < 64; i++) {
		int n = snprintf(names + len, sizeof(names) - len, "%s%s",
		                 i == 0 ? "" : (i == bad - 1 ? " and " : ", "), nodes[i]);
		if (n > 0 && (size_t)n < sizeof(names) - len)
			len += (size_t)n;
		for (size_t e = 0; e < c->evidence.n; e++) {
			const fb_failure *f = &c->evidence.v[e];
			if (strcmp(f->node, nodes[i]) != 0)
				continue;
			for (size_t s2 = 0; s2 < f->n; s2++)
				if (strcmp(f->s[s2].workload, w->id) == 0 &&
				    f->failed_ms - f->s[s2].arrived_ms > worst)
					worst = f->failed_ms - f->s[s2].arrived_ms;
		}
	}
	bool scale = spec->action == FB_POISON_SCALE_TO_ZERO;
	bool scalable = scale && fb_workload_scalable(w->kind);
	char tv[64], msg[768], qname[FB_NAME_MAX], how[96];
	fb_quarantine_taint_value(w->ns, w->kind, w->name, tv);
	quarantine_name(w, qname, sizeof(qname));
	if (scalable)
		snprintf(how, sizeof(how), "pinned and scaled to 0 replicas (restored on release)");
	else if (scale)
		snprintf(how, sizeof(how), "pinned (a %.40s cannot be scaled to zero)", w->kind);
	else
		snprintf(how, sizeof(how), "pinned");
	snprintf(msg, sizeof(msg),
	         "%s %s/%s arrived on %s within %s before each failed (%d failed nodes, %d healthy; "
	         "threshold %d); %s, nodes tainted %s=%s:NoSchedule",
	         w->kind, w->ns, w->name, names, ago(worst, within, sizeof(within)), bad, good,
	         spec->failures, how, FB_QUARANTINE_TAINT_KEY, tv);
	workload_event(out, dry, w, true, "Quarantined", "%s", msg);
	if (scale && !scalable)
		workload_event(out, dry, w, true, "ScaleToZeroSkipped",
		               "%s %s/%s is not scaled to zero (poison.action ScaleToZero): only "
		               "Deployments, StatefulSets and ReplicaSets are; pinned instead",
		               w->kind, w->ns, w->name);
	else if (scalable && dry)
		workload_event(out, dry, w, true, "ScaledToZero",
		               "%s %s/%s would be scaled to 0 replicas by quarantine %s "
		               "(poison.action ScaleToZero); nothing written",
		               w->kind, w->ns, w->name, qname);
	for (int i = 0; i < bad && i < 64; i++) {
		core_node *n = kc_map_get(&c->nodes, nodes[i]);
		if (!n || !n->known)
			continue;
		if (!dry)
			taint_action(out, n, w, true);
		event(out, dry, FB_OBJ_NODE, NULL, n->name, n->uid, true, "NodeQuarantined",
		      "%s %s/%s arrived here shortly before this node failed and is quarantined; "
		      "tainted %s=%s:NoSchedule", w->kind, w->ns, w->name, FB_QUARANTINE_TAINT_KEY, tv);
	}
	if (dry)
		return;
	char *json = quarantine_object(c, w, nodes, bad, msg, scalable ? "ScaleToZero" : "Pin",
	                               now_ms, qname);
	fb_action *a = json ? push_action(out, FB_ACT_QUARANTINE) : NULL;
	if (!a) {
		kc_free(json);
		return;
	}
	a->obj = FB_OBJ_QUARANTINE;
	copy_str(a->ns, sizeof(a->ns), w->ns);
	copy_str(a->name, sizeof(a->name), qname);
	a->payload = json;
	w->announced = true;
	/* scaled only once the Quarantine that records it (and releases it) is on its way */
	if (scalable && replace_str(&w->quarantine, qname))
		start_scale(c, w, SCALE_WANTED);
}

/*
 * When a workload's evidence may be judged. A failure settles poison_settle_ms
 * after it: until then it may still turn out to be part of a zone or
 * cluster-wide outage. When the control plane or a network loses every node,
 * the node lifecycle controller marks them Unknown over several monitor passes
 * (node-monitor-period 5 s, leases renewed every 10 s), so the first failures
 * are recorded before the outage is evident from the zone states. The
 * workload is judged once all its failures have settled, or as soon as one of
 * its failed nodes (not yet admitted) has a pod due, whichever comes first: a
 * verdict must be in force before a poison's pod could be evicted and
 * replaced, and the judgement runs before admission in the same tick.
 * Returns INT64_MIN if it may be judged now, else the time it may.
 */
static int64_t judge_time(const fb_core *c, const core_workload *w, int64_t since_ms,
                          int64_t now_ms)
{
	int64_t settled = INT64_MIN, due = INT64_MAX;
	for (size_t e = 0; e < c->evidence.n; e++) {
		const fb_failure *f = &c->evidence.v[e];
		if (f->failed_ms < since_ms)
			continue;
		for (size_t i = 0; i < f->n; i++) {
			if (strcmp(f->s[i].workload, w->id) != 0)
				continue;
			int64_t at = f->failed_ms + c->cfg.poison_settle_ms;
			if (at > settled)
				settled = at;
			const core_node *n = kc_map_get(&c->nodes, f->node);
			if (n && n->known && n->failed && !n->admitted &&
			    n->failed_since_ms == f->failed_ms) {
				int64_t d = node_next_due(c, n);
				if (d < due)
					due = d;
			}
			break;
		}
	}
	int64_t at = settled < due ? settled : due;
	return at > now_ms ? at : INT64_MIN;
}

/* Returns when a workload held back by unsettled failures is to be judged (INT64_MAX: none). */
static int64_t judge_workloads(fb_core *c, int64_t now_ms, fb_actions *out)
{
	const char *k;
	void *v;
	int64_t next = INT64_MAX;
	if (!c->workloads_dirty)
		return next; /* nothing new: verdicts and counts stand */
	if (c->zones.master_disruption)
		return now_ms + 1000; /* every zone down: nothing can be told apart; wait */
	c->workloads_dirty = false;
	size_t suspects = 0, active = 0;
	for (size_t it = 0; kc_map_next(&c->workloads, &it, &k, &v);) {
		core_workload *w = v;
		if (w->quarantined)
			active++;
		if (!w->dirty) {
			if (!w->quarantined && w->bad > 0)
				suspects++;
			continue;
		}
		w->dirty = false;
		if (w->quarantined || (w->dry_run && w->declared_ms))
			continue;
		const char *nodes[64];
		/* the settings (enabled, failures, window, action) of the node that failed
		 * last with it: the budget over the latest damage decides */
		const fb_poison_spec *spec = &c->cfg.defaults.poison;
		int64_t latest = INT64_MIN;
		for (size_t e = 0; e < c->evidence.n; e++) {
			const fb_failure *f = &c->evidence.v[e];
			if (f->failed_ms <= latest)
				continue;
			for (size_t s2 = 0; s2 < f->n; s2++) {
				if (strcmp(f->s[s2].workload, w->id) == 0) {
					latest = f->failed_ms;
					spec = node_poison_spec(c, kc_map_get(&c->nodes, f->node));
					break;
				}
			}
		}
		if (!spec->enabled)
			continue;
		int64_t since = now_ms - spec->window_ms;
		int64_t settle = judge_time(c, w, since, now_ms);
		if (settle != INT64_MIN) {
			/* judged again once its latest failure has settled */
			w->dirty = c->workloads_dirty = true;
			if (settle < next)
				next = settle;
			if (w->bad > 0)
				suspects++;
			continue;
		}
		int bad = fb_evidence_bad(&c->evidence, w->id, since, w->released_ms, nodes, 64);
		int good = healthy_arrivals(c, w, since > w->released_ms ? since : w->released_ms);
		w->bad = bad;
		if (fb_poison_verdict(bad, good, spec->failures, c->cfg.poison_ratio)) {
			declare(c, w, nodes, bad, good, spec, now_ms, out);
			if (w->quarantined)
				active++;
		} else if (bad > 0) {
			suspects++;
		}
	}
	c->stats.suspects = suspects;
	c->stats.quarantines_active = active;
	return next;
}

/*
 * Every zone is fully disrupted (the node lifecycle controller's master
 * disruption mode): failures recorded within the outage span before it
 * became evident were part of it too.
 */
static void cluster_outage(fb_core *c, int64_t now_ms, fb_actions *out)
{
	bool master = c->zones.master_disruption;
	if (master == c->outage_seen)
		return;
	c->outage_seen = master;
	if (!master)
		return;
	for (size_t e = 0; e < c->evidence.n; e++) {
		fb_failure *f = &c->evidence.v[e];
		if (f->failed_ms >= now_ms - ZONE_OUTAGE_SPAN_MS)
			forget_suspects(c, f, kc_map_get(&c->nodes, f->node), out);
	}
}

static int64_t poison_pass(fb_core *c, int64_t now_ms, fb_actions *out)
{
	const char *k;
	void *v;
	int64_t keep = c->cfg.defaults.poison.window_ms;
	for (size_t i = 0; i < c->nbudgets; i++)
		if (c->budgets[i]->spec.poison.window_ms > keep)
			keep = c->budgets[i]->spec.poison.window_ms;
	fb_evidence_prune(&c->evidence, now_ms - keep);
	for (size_t it = 0; kc_map_next(&c->nodes, &it, &k, &v);) {
		core_node *n = v;
		if (n->known && n->failed && !n->failure_recorded)
			record_failure(c, n, now_ms, out);
	}
	cluster_outage(c, now_ms, out);
	return judge_workloads(c, now_ms, out);
}

/* A quarantine this core learns of from its object (restart, follower, released while away). */
static void quarantine_adopt(fb_core *c, core_workload *w, const fb_quarantine_obs *q,
                             int64_t now_ms)
{
	w->quarantined = true;
	w->announced = true; /* it exists: do not create it again */
	w->declared_ms = now_ms;
	c->workloads_dirty = true;
	/* ScaleToZero again unless the status says it was done: harmless if it was (the
	 * count from before stays on the workload), needed if a leader died midway */
	if (q->action == FB_POISON_SCALE_TO_ZERO && fb_workload_scalable(w->kind))
		start_scale(c, w, q->scaled_from >= 0 ? SCALE_DONE : SCALE_WANTED);
}

int fb_core_quarantine_set(fb_core *c, const fb_quarantine_obs *q, int64_t now_ms)
{
	char id[600];
	snprintf(id, sizeof(id), "%s/%s/%s", q->kind, q->ns, q->workload);
	core_workload *w = workload_get_or_add(c, id);
	if (!w || !replace_str(&w->quarantine, q->name))
		return -1;
	if (q->released) {
		/* released before this core saw it in force (no leader at the time, or a
		 * restart in between): carry the release out, taints and scaling included */
		if (!w->quarantined && !w->released_ms && !q->phase_released)
			quarantine_adopt(c, w, q, now_ms);
		if (w->quarantined && !w->release_pending) {
			w->release_pending = true; /* the object stays: its status says Released */
			c->releases_pending++;
		}
		fb_core_quarantine_delete(c, q->ns, q->kind, q->workload, now_ms);
		return 0;
	}
	if (!w->quarantined)
		quarantine_adopt(c, w, q, now_ms);
	else if (w->scale == SCALE_WANTED && q->action == FB_POISON_SCALE_TO_ZERO &&
	         q->scaled_from >= 0)
		set_scale(c, w, SCALE_DONE); /* the leader did it (this core follows) */
	return 0;
}

/* Pending untaint work is found by the tick: nodes tainted for a workload no longer quarantined. */
void fb_core_quarantine_delete(fb_core *c, const char *ns, const char *kind,
                               const char *workload_name, int64_t now_ms)
{
	char id[600];
	snprintf(id, sizeof(id), "%s/%s/%s", kind, ns, workload_name);
	core_workload *w = kc_map_get(&c->workloads, id);
	if (!w || !w->quarantined)
		return;
	w->quarantined = false;
	w->announced = false;
	w->released_ms = now_ms;
	w->bad = 0;
	/* whatever became of the scaling, undo it: a restore with nothing to undo is a no-op */
	if (w->scale != SCALE_NONE)
		start_scale(c, w, SCALE_RESTORE);
	c->workloads_dirty = true;
	for (size_t i = 0; i < w->npods; i++)
		w->pods[i]->pinned_reported = false;
	c->counts_dirty = true;
}

/* Nodes still carrying the taint of a workload that is not quarantined any more. */
static void release_pass(fb_core *c, fb_actions *out)
{
	const char *k;
	void *v;
	for (size_t it = 0; c->releases_pending && kc_map_next(&c->workloads, &it, &k, &v);) {
		core_workload *w = v;
		if (!w->release_pending || !w->quarantine)
			continue;
		/* ScaleToZero: the status says Released only once the replicas are back (or
		 * there was nothing to restore); until then a restart or a new leader, reading
		 * spec.release without Released, restores again. */
		if (w->scale == SCALE_RESTORE || w->scale == SCALE_RESTORE_SENT)
			continue;
		c->releases_pending--;
		w->release_pending = false;
		fb_action *a = push_action(out, FB_ACT_QUARANTINE_RELEASED);
		if (a) {
			a->obj = FB_OBJ_QUARANTINE;
			copy_str(a->ns, sizeof(a->ns), w->ns);
			copy_str(a->name, sizeof(a->name), w->quarantine);
		}
		workload_event(out, false, w, false, "QuarantineReleased",
		               "%s %s/%s released (spec.release); its pods may be evicted again",
		               w->kind, w->ns, w->name);
	}
	for (size_t it = 0; c->tainted_nodes && kc_map_next(&c->nodes, &it, &k, &v);) {
		core_node *n = v;
		if (!n->known || !n->quarantine_taint)
			continue;
		bool held = false;
		const char *wk;
		void *wv;
		core_workload *released = NULL;
		for (size_t jt = 0; kc_map_next(&c->workloads, &jt, &wk, &wv) && !held;) {
			core_workload *w = wv;
			char tv[64];
			fb_quarantine_taint_value(w->ns, w->kind, w->name, tv);
			if (strcmp(tv, n->quarantine_taint) != 0)
				continue;
			if (w->quarantined)
				held = true;
			else if (w->released_ms)
				released = w;
		}
		if (held || !released)
			continue; /* a taint we know nothing of is not ours to remove */
		taint_action(out, n, released, false);
		event(out, false, FB_OBJ_NODE, NULL, n->name, n->uid, false, "QuarantineReleased",
		      "Quarantine of %s %s/%s released; taint %s removed", released->kind, released->ns,
		      released->name, FB_QUARANTINE_TAINT_KEY);
		kc_free(n->quarantine_taint); /* until the node update shows it gone */
		n->quarantine_taint = NULL;
		c->tainted_nodes--;
	}
}

/*
 * ScaleToZero and its undoing: one action per pending workload, in the order
 * the tick runs (after the verdict's Quarantine, before the Released status).
 * Returns when a try waiting for its backoff is due.
 */
static int64_t scale_pass(fb_core *c, int64_t now_ms, fb_actions *out)
{
	if (!c->scales_pending)
		return INT64_MAX;
	if (now_ms < c->scale_due_ms)
		return c->scale_due_ms; /* only retries waiting for their backoff: no scan */
	int64_t next = INT64_MAX;
	const char *k;
	void *v;
	for (size_t it = 0; c->scales_pending && kc_map_next(&c->workloads, &it, &k, &v);) {
		core_workload *w = v;
		if (w->scale != SCALE_WANTED && w->scale != SCALE_RESTORE)
			continue;
		if (w->scale_next_ms > now_ms) {
			if (w->scale_next_ms < next)
				next = w->scale_next_ms;
			continue;
		}
		bool restore = w->scale == SCALE_RESTORE;
		fb_action *a = push_action(out, restore ? FB_ACT_SCALE_RESTORE : FB_ACT_SCALE_TO_ZERO);
		if (!a) {
			next = now_ms; /* out of memory: the rest next tick */
			break;
		}
		a->obj = FB_OBJ_WORKLOAD;
		copy_str(a->ns, sizeof(a->ns), w->ns);
		copy_str(a->name, sizeof(a->name), w->name);
		copy_str(a->wl_kind, sizeof(a->wl_kind), w->kind);
		copy_str(a->quarantine, sizeof(a->quarantine), w->quarantine);
		set_scale(c, w, restore ? SCALE_RESTORE_SENT : SCALE_SENT);
	}
	c->scale_due_ms = next;
	return next;
}

void fb_core_scale_result(fb_core *c, const char *ns, const char *kind, const char *name,
                          bool restore, fb_scale_result r, int64_t now_ms)
{
	char id[600];
	snprintf(id, sizeof(id), "%s/%s/%s", kind, ns, name);
	core_workload *w = kc_map_get(&c->workloads, id);
	if (!w || w->scale != (restore ? SCALE_RESTORE_SENT : SCALE_SENT))
		return; /* released (or quarantined again) meanwhile: that is pending now */
	if (r == FB_SCALE_FAILED) {
		w->scale_backoff_ms = w->scale_backoff_ms ? w->scale_backoff_ms * 2
		                                          : SCALE_RETRY_INITIAL_MS;
		if (w->scale_backoff_ms > SCALE_RETRY_MAX_MS)
			w->scale_backoff_ms = SCALE_RETRY_MAX_MS;
		w->scale_next_ms = now_ms + w->scale_backoff_ms;
		set_scale(c, w, restore ? SCALE_RESTORE : SCALE_WANTED);
		return;
	}
	w->scale_backoff_ms = 0;
	/* gone or refused: nothing of ours to undo later */
	set_scale(c, w, !restore && r == FB_SCALE_DONE ? SCALE_DONE : SCALE_NONE);
}

/* ---- the tick -------------------------------------------------------------------------------- */

static void rejudge(fb_core *c)
{
	const char *k;
	void *v;
	for (size_t it = 0; kc_map_next(&c->pods, &it, &k, &v);) {
		core_pod *p = v;
		if (p->state == POD_INFLIGHT || p->state == POD_RETRY)
			p->state = POD_IDLE;
	}
	for (size_t it = 0; kc_map_next(&c->nodes, &it, &k, &v);) {
		core_node *n = v;
		n->admitted = false;
		n->deferred = FB_ADMIT;
	}
	/* a scale whose result never came (leadership lost before it was carried out) */
	for (size_t it = 0; kc_map_next(&c->workloads, &it, &k, &v);) {
		core_workload *w = v;
		if (w->scale == SCALE_SENT)
			set_scale(c, w, SCALE_WANTED);
		else if (w->scale == SCALE_RESTORE_SENT)
			set_scale(c, w, SCALE_RESTORE);
	}
	c->rejudge = false;
}

int64_t fb_core_tick(fb_core *c, int64_t now_ms, fb_actions *out)
{
	c->last_now_ms = now_ms;
	if (!c->leader)
		return INT64_MAX;
	if (c->rejudge)
		rejudge(c);
	for (size_t i = 0; i < c->nbudgets; i++)
		budget_prune(c->budgets[i], now_ms);
	if (c->counts_dirty)
		recount(c, now_ms, out);
	int64_t next = poison_pass(c, now_ms, out);
	if (!c->cfg.dry_run) {
		int64_t t = scale_pass(c, now_ms, out);
		if (t < next)
			next = t;
		release_pass(c, out);
	}

	const char *k;
	void *v;
	size_t ncand = 0, capcand = 0;
	candidate *cand = NULL;
	size_t failed = 0;
	for (size_t it = 0; kc_map_next(&c->nodes, &it, &k, &v);) {
		core_node *n = v;
		if (!n->known || !n->failed)
			continue;
		failed++;
		if (n->admitted)
			continue;
		int64_t due = node_next_due(c, n);
		if (due > now_ms) {
			if (due < next)
				next = due;
			continue;
		}
		if (ncand == capcand) {
			size_t cap = capcand ? capcand * 2 : 16;
			candidate *nv = kc_realloc(cand, cap * sizeof(*nv));
			if (!nv)
				break;
			cand = nv;
			capcand = cap;
		}
		cand[ncand++] = (candidate){ n, n->failed_since_ms };
	}
	c->stats.failed_nodes = failed;
	if (ncand > 1)
		qsort(cand, ncand, sizeof(*cand), candidate_cmp);
	for (size_t i = 0; i < ncand; i++) {
		core_node *n = cand[i].node;
		bool recorded;
		verdict vd = judge(c, n, now_ms, &recorded);
		if (vd.deny == FB_ADMIT) {
			admit(c, n, now_ms, !recorded, out);
			continue;
		}
		defer_node(c, n, &vd, now_ms, out);
		if (vd.retry_ms < next)
			next = vd.retry_ms;
	}
	kc_free(cand);

	int budget = c->cfg.max_pod_actions_per_tick;
	for (size_t it = 0; kc_map_next(&c->nodes, &it, &k, &v);) {
		core_node *n = v;
		if (!n->known || !n->failed || !n->admitted)
			continue;
		report_blocked(c, n, out);
		int64_t t = pod_actions(c, n, now_ms, &budget, out);
		if (t < next)
			next = t;
	}

	if (!c->cfg.dry_run) {
		for (size_t i = 0; i < c->nbudgets; i++) {
			core_budget *b = c->budgets[i];
			if (b->invalid && !b->invalid_reported) {
				b->invalid_reported = true;
				event(out, false, FB_OBJ_BUDGET, NULL, b->name, NULL, true, "InvalidSpec",
				      "Spec of generation %lld is invalid: %s; %s",
				      (long long)b->invalid_generation, b->invalid_msg,
				      b->has_spec ? "the last good spec stays in force"
				                  : "this budget applies to no node until it is fixed");
			}
			if (!b->status_dirty)
				continue;
			b->status_dirty = false;
			fb_action *a = push_action(out, FB_ACT_BUDGET_STATUS);
			if (a) {
				a->obj = FB_OBJ_BUDGET;
				copy_str(a->name, sizeof(a->name), b->name);
			}
		}
	}
	return next;
}

/* ---- status -------------------------------------------------------------------------------------- */

static cJSON *condition(const char *type, bool status, const char *reason, const char *message,
                        int64_t generation, int64_t now_ms)
{
	char ts[32];
	time_t secs = (time_t)(now_ms / 1000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	cJSON *c = cJSON_CreateObject();
	if (!c)
		return NULL;
	cJSON_AddStringToObject(c, "type", type);
	cJSON_AddStringToObject(c, "status", status ? "True" : "False");
	cJSON_AddStringToObject(c, "reason", reason);
	cJSON_AddStringToObject(c, "message", message);
	cJSON_AddNumberToObject(c, "observedGeneration", (double)generation);
	cJSON_AddStringToObject(c, "lastTransitionTime", ts);
	return c;
}

cJSON *fb_core_budget_status(fb_core *c, const char *name, int64_t now_ms)
{
	core_budget *b = budget_find(c, name, NULL);
	if (!b)
		return NULL;
	cJSON *st = cJSON_CreateObject();
	cJSON *conds = cJSON_AddArrayToObject(st, "conditions");
	cJSON *usage = cJSON_AddArrayToObject(st, "windowUsage");
	cJSON *adm = cJSON_AddArrayToObject(st, "admissions");
	if (!st || !conds || !usage || !adm) {
		cJSON_Delete(st);
		return NULL;
	}
	char msg[320], wbuf[32];
	cJSON_AddNumberToObject(st, "observedGeneration", (double)b->generation);
	cJSON_AddNumberToObject(st, "selectedNodes", b->selected);
	cJSON_AddNumberToObject(st, "unhealthyNodes", b->unhealthy);
	bool ready = b->has_spec && !b->invalid;
	snprintf(msg, sizeof(msg), "%s", ready ? "spec in force"
	                                       : (b->has_spec ? "last good spec in force"
	                                                      : "no valid spec yet"));
	cJSON_AddItemToArray(conds, condition("Ready", b->has_spec, ready ? "SpecApplied" :
	                                      "InvalidSpec", msg, b->generation, now_ms));
	cJSON_AddItemToArray(conds, condition("InvalidSpec", b->invalid,
	                                      b->invalid ? "ValidationFailed" : "Valid",
	                                      b->invalid ? b->invalid_msg : "spec is valid",
	                                      b->generation, now_ms));
	if (b->halted)
		snprintf(msg, sizeof(msg), "%d of %d selected nodes unhealthy, above maxUnhealthy %d",
		         b->unhealthy, b->selected, fb_budget_max_unhealthy(&b->spec, b->selected));
	else
		snprintf(msg, sizeof(msg), "%s", b->spec.paused ? "paused" : "evictions allowed");
	cJSON_AddItemToArray(conds, condition("Halted", b->halted || b->spec.paused,
	                                      b->halted ? "MaxUnhealthyExceeded" :
	                                      (b->spec.paused ? "Paused" : "WithinBudget"), msg,
	                                      b->generation, now_ms));
	for (int i = 0; b->has_spec && i < b->spec.nwindows; i++) {
		const fb_window *w = &b->spec.windows[i];
		cJSON *u = cJSON_CreateObject();
		if (!u)
			break;
		cJSON_AddStringToObject(u, "window", fb_duration_format(w->window_ms, wbuf, sizeof(wbuf)));
		cJSON_AddNumberToObject(u, "maxNodes", w->max_nodes);
		cJSON_AddNumberToObject(u, "used", fb_windows_used(w, b->adm, b->nadm, now_ms));
		cJSON_AddItemToArray(usage, u);
	}
	for (size_t i = 0; i < b->nadm; i++) {
		char ts[32];
		time_t secs = (time_t)(b->adm[i].at_ms / 1000);
		struct tm tm;
		gmtime_r(&secs, &tm);
		/* milliseconds kept so that the record round-trips exactly */
		size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(ts + n, sizeof(ts) - n, ".%03dZ", (int)(b->adm[i].at_ms % 1000));
		cJSON *a = cJSON_CreateObject();
		if (!a)
			break;
		cJSON_AddStringToObject(a, "node", b->adm[i].node);
		cJSON_AddStringToObject(a, "time", ts);
		cJSON_AddItemToArray(adm, a);
	}
	if (b->spec_json)
		cJSON_AddItemToObject(st, "lastAppliedSpec", cJSON_Duplicate(b->spec_json, true));
	return st;
}

void fb_core_get_stats(const fb_core *c, fb_core_stats *out)
{
	*out = c->stats;
	out->nodes = c->nodes.len;
	out->pods = c->pods.len;
	out->budgets = c->nbudgets;
}

const fb_zones *fb_core_zones(const fb_core *c)
{
	return &c->zones;
}
