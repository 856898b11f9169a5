/* coretest.c - see coretest.h. */
#include <stdio.h>
#include <string.h>

#include "coretest.h"
#include "kc/alloc.h"
#include "kc/array.h"
#include "render.h"
#include "kctest.h"

fb_core *core;
fb_actions acts;

/* The JSON an annotation or Quarantine action writes, rendered as the shell would; NULL if none. */
static char *render(const fb_action *a)
{
	if (a->kind == FB_ACT_NODE_ANNOTATE && a->failure)
		return fb_failure_to_json(a->failure);
	if ((a->kind != FB_ACT_QUARANTINE && a->kind != FB_ACT_QUARANTINE_STATUS) || !a->verdict)
		return NULL;
	cJSON *o = a->kind == FB_ACT_QUARANTINE ? fb_render_quarantine(a->verdict)
	                                        : fb_render_quarantine_status_patch(a->verdict);
	char *p = o ? cJSON_PrintUnformatted(o) : NULL;
	char *text = p ? kc_strdup(p) : NULL;
	cJSON_free(p);
	cJSON_Delete(o);
	return text;
}

/*
 * Every action since setup, copied without the records it owns; what those
 * records render to is kept beside it (payloads[i] for v[i]).
 */
static struct {
	fb_action *v;
	char **payloads;
	size_t n, cap, pcap;
} log_;

/* What payload() rendered for the last tick's actions (freed at the next tick). */
#define RENDERED_MAX 64
static char *rendered[RENDERED_MAX];
static size_t nrendered;

static void rendered_clear(void)
{
	for (size_t i = 0; i < nrendered; i++)
		kc_free(rendered[i]);
	nrendered = 0;
}

static void log_release(void)
{
	for (size_t i = 0; i < log_.n; i++)
		kc_free(log_.payloads[i]);
	kc_free(log_.v);
	kc_free(log_.payloads);
	memset(&log_, 0, sizeof(log_));
	rendered_clear();
}

/* Copy acts from index `from` on into the log. */
static void log_append(size_t from)
{
	for (size_t i = from; i < acts.n; i++) {
		if (KC_ARRAY_RESERVE(log_.v, log_.cap, log_.n + 1) != 0 ||
		    KC_ARRAY_RESERVE(log_.payloads, log_.pcap, log_.n + 1) != 0) {
			KT_CHECK(!"out of memory for the action log");
			return;
		}
		char *text = render(&acts.v[i]);
		KT_CHECK(text || (!acts.v[i].failure && !acts.v[i].verdict));
		fb_action *a = &log_.v[log_.n];
		*a = acts.v[i];
		a->failure = NULL;
		a->verdict = NULL;
		log_.payloads[log_.n++] = text;
	}
}

const char *payload(const fb_action *a)
{
	if (!a)
		return NULL;
	if (a >= log_.v && a < log_.v + log_.n)
		return log_.payloads[a - log_.v];
	if (nrendered == RENDERED_MAX)
		return NULL;
	char *text = render(a);
	if (text)
		rendered[nrendered++] = text;
	return text;
}

static fb_workload_ref *ring_next(void)
{
	static fb_workload_ref ring[8];
	static unsigned next;
	return &ring[next++ % 8];
}

const fb_workload_ref *WL(const char *id)
{
	fb_workload_ref *r = ring_next();
	return id && fb_workload_id_parse(id, r) == 0 ? r : NULL;
}

const fb_workload_ref *WK(const char *kind, const char *ns, const char *name)
{
	fb_workload_ref *r = ring_next();
	return fb_workload_ref_set(r, kind, ns, name) == 0 ? r : NULL;
}

void setup_config(const fb_core_config *cfg)
{
	fb_core_config defaults;
	if (!cfg) {
		fb_core_config_defaults(&defaults);
		cfg = &defaults;
	}
	core = fb_core_new(cfg);
	fb_actions_init(&acts);
	log_release();
}

void ratio_rule(fb_core_config *cfg)
{
	cfg->verdict = FB_VERDICT_RATIO;
	cfg->defaults.poison.window_ms = 60 * MIN;
	cfg->defaults.poison.arrival_window_ms = 30 * MIN;
}

void setup(bool dry_run)
{
	fb_core_config cfg;
	fb_core_config_defaults(&cfg);
	ratio_rule(&cfg);
	cfg.dry_run = dry_run;
	setup_config(&cfg);
}

void teardown(void)
{
	fb_core_free(core);
	fb_actions_release(&acts);
	log_release();
}

int64_t tick_keep(int64_t now)
{
	size_t from = acts.n;
	int64_t next = fb_core_tick(core, now, &acts);
	log_append(from);
	return next;
}

int64_t tick(int64_t now)
{
	rendered_clear();
	fb_actions_clear(&acts);
	return tick_keep(now);
}

/* Does a, of kind, match name_or_reason (as find says)? */
static bool matches(const fb_action *a, fb_action_kind kind, const char *name_or_reason)
{
	return a->kind == kind &&
	       (!name_or_reason || strcmp(a->name, name_or_reason) == 0 ||
	        (kind == FB_ACT_EVENT && strcmp(fb_reason_name(a->reason), name_or_reason) == 0));
}

int count(fb_action_kind kind)
{
	int n = 0;
	for (size_t i = 0; i < acts.n; i++)
		n += acts.v[i].kind == kind;
	return n;
}

int index_of(fb_action_kind kind)
{
	for (size_t i = 0; i < acts.n; i++)
		if (acts.v[i].kind == kind)
			return (int)i;
	return -1;
}

const fb_action *find(fb_action_kind kind, const char *name_or_reason)
{
	for (size_t i = 0; i < acts.n; i++)
		if (matches(&acts.v[i], kind, name_or_reason))
			return &acts.v[i];
	return NULL;
}

size_t log_mark(void)
{
	return log_.n;
}

int count_since(size_t mark, fb_action_kind kind, const char *name_or_reason)
{
	int n = 0;
	for (size_t i = mark; i < log_.n; i++)
		n += matches(&log_.v[i], kind, name_or_reason);
	return n;
}

const fb_action *find_since(size_t mark, fb_action_kind kind, const char *name_or_reason)
{
	for (size_t i = mark; i < log_.n; i++)
		if (matches(&log_.v[i], kind, name_or_reason))
			return &log_.v[i];
	return NULL;
}

int count_all(fb_action_kind kind, const char *name_or_reason)
{
	return count_since(0, kind, name_or_reason);
}

const fb_action *find_all(fb_action_kind kind, const char *name_or_reason)
{
	return find_since(0, kind, name_or_reason);
}

const fb_action *logged(size_t i)
{
	return i < log_.n ? &log_.v[i] : NULL;
}

/* ---- observations ---------------------------------------------------------------- */

void node_with(const char *name, fb_cond ready, int64_t since, const node_spec *spec)
{
	/* sorted by key, as fb_labels keeps them */
	fb_label l[2];
	fb_labels labels = { l, 0 };
	if (spec->pool)
		l[labels.n++] = (fb_label){ "pool", (char *)spec->pool };
	if (spec->zone_label && spec->zone)
		l[labels.n++] = (fb_label){ "topology.kubernetes.io/zone", (char *)spec->zone };
	char uid[64];
	snprintf(uid, sizeof(uid), "uid-%s", name);
	fb_node_obs o = { .name = name, .uid = uid, .zone = spec->zone ? spec->zone : name,
	                  .labels = labels.n ? &labels : NULL, .ready = ready,
	                  .ready_transition_ms = since,
	                  .failure_annotation = spec->failure_annotation,
	                  .created_ms = spec->created_ms, .memory_pressure = spec->memory_pressure,
	                  .quarantine_taint = spec->quarantine_taint,
	                  .attributed_pod_uid = spec->attributed_pod_uid,
	                  .attributed_ms = spec->attributed_ms };
	KT_EQ_INT(fb_core_node_set(core, &o, since), 0);
}

void node(const char *name, const char *zone, fb_cond ready, int64_t since)
{
	node_with(name, ready, since, &(node_spec){ .zone = zone });
}

void labelled_node(const char *name, const char *zone, fb_cond ready, int64_t since,
                   const char *pool)
{
	node_with(name, ready, since, &(node_spec){ .zone = zone, .pool = pool, .zone_label = true });
}

void pod_with(const char *name, const char *on, const pod_spec *spec)
{
	char uid[64];
	snprintf(uid, sizeof(uid), "uid-%s", name);
	fb_pod_obs o = { .ns = spec->ns ? spec->ns : "default", .name = name, .uid = uid,
	                 .node = on, .workload = WL(spec->workload), .daemonset = spec->daemonset,
	                 .terminating = spec->terminating, .tol_not_ready_s = spec->tol_s,
	                 .tol_unreachable_s = spec->tol_s, .arrived_ms = spec->arrived_ms,
	                 .created_ms = spec->created_ms, .gated = spec->gated,
	                 .k8s_evicts = spec->k8s_evicts, .annotated = spec->annotated,
	                 .mirror = spec->mirror, .terminal = spec->terminal,
	                 .gate_exempt = spec->gate_exempt, .shortened = spec->shortened,
	                 .memory_evicted_ms = spec->memory_evicted_ms };
	KT_EQ_INT(fb_core_pod_set(core, &o), 0);
}

void pod(const char *name, const char *on, const char *workload, int64_t arrived_ms,
         int64_t tol_s)
{
	pod_with(name, on, &(pod_spec){ .workload = workload, .arrived_ms = arrived_ms,
	                                .tol_s = tol_s });
}

void pod_gone(const char *name)
{
	char uid[64];
	snprintf(uid, sizeof(uid), "uid-%s", name);
	fb_core_pod_delete(core, uid);
}

void evicted(const char *name, fb_evict_result r, int64_t now)
{
	char uid[64];
	snprintf(uid, sizeof(uid), "uid-%s", name);
	fb_core_evict_result(core, uid, r, now);
}

void budget_admitted(const char *name, int64_t gen, const char *spec_json,
                     const fb_admission *admissions, size_t nadmissions)
{
	cJSON *spec = cJSON_Parse(spec_json);
	KT_CHECK(spec != NULL);
	KT_EQ_INT(fb_core_budget_set(core, name, gen, spec, admissions, nadmissions, T0), 0);
	cJSON_Delete(spec);
}

void budget(const char *name, int64_t gen, const char *spec_json)
{
	budget_admitted(name, gen, spec_json, NULL, 0);
}

int qobserve(const char *name, const quarantine_spec *q, int64_t now)
{
	fb_quarantine_obs o = { .ns = "default", .name = name,
	                        .workload = *WK(q->kind, "default", q->workload),
	                        .released = q->released, .action = q->action,
	                        .scaled_from = q->scaled_from ? q->scaled_from : -1,
	                        .phase_released = q->phase_released, .deleting = q->deleting,
	                        .finalizer_index = q->without_ours ? -1 : q->others,
	                        .nfinalizers = q->others + !q->without_ours,
	                        .created_ms = q->created_ms };
	return fb_core_quarantine_set(core, &o, now);
}

int qset(const char *name, const char *kind, const char *workload, bool released,
                    fb_poison_action action, int64_t scaled_from, bool phase_released,
                    int64_t now)
{
	return qobserve(name, &(quarantine_spec){ .kind = kind, .workload = workload,
	                                          .released = released, .action = action,
	                                          .scaled_from = scaled_from,
	                                          .phase_released = phase_released },
	                now);
}
