/*
 * scenario.c - scenario files for firebreak-sim (see sim.h), parsed with
 * libcyaml: unknown keys are refused, and every error names the field.
 *
 *   name: poison-gpu-pool
 *   duration: 8h
 *   detection: {min: 40s, max: 50s}      # stopped -> Ready=Unknown
 *   replaceDelay: 2s                     # pod gone -> replacement bound
 *   tolerationSeconds: 300
 *   pools:
 *   - {name: gpu, nodes: 10, zones: [a], labels: ["pool=gpu"], maxPods: 110}
 *   workloads:
 *   - {name: web, count: 20, replicas: 3, replicasMax: 8, pool: cpu}
 *   - {name: render, replicas: 1, pool: gpu,
 *      poison: {killAfter: 5m, start: 1h, repair: 0s,
 *               scaleAt: 2h, scaleTo: 3,     # scaled (an HPA, an operator) at 2h
 *               deletePodsAt: 3h}}           # every pod of it deleted by hand at 3h
 *   nodeFailures: {perNodePerDay: 0.01, repair: 2h,
 *                  memoryPressure: 0.05,     # the share that showed MemoryPressure first
 *                  attribution: 0.01}        # ... that firebreak-node named a pod for first
 *   rackFailures: [{pool: gpu, at: 2h, fraction: 0.1, repair: 2h,
 *                   rolloutBefore: 2m}]      # a rollout there starts 2m before
 *   (poison: also killAfterSigma: 0.5 (lognormal kill delay, median killAfter),
 *            lethality: 0.6 (the share of nodes it lands on that it kills),
 *            memoryPressure: 0.9,
 *            attribution: 0.9 (the share of its kills firebreak-node named its pod for first))
 *   rollouts: {every: 2h, spacing: 15s}
 *   zoneOutages: [{zone: b, at: 2h, duration: 3h}]
 *   budgets: [{name: gpu, spec: '{"nodeSelector": {...}, ...}'}]
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cyaml/cyaml.h>

#include "yamlerr.h"

#include "budget.h"
#include "duration.h"
#include "kc/alloc.h"
#include "sim_int.h"

/* ---- the file's shape ------------------------------------------------------------ */

typedef struct y_range {
	char *min, *max;
} y_range;

typedef struct y_pool {
	char *name;
	long nodes;
	char **zones;
	unsigned zones_count;
	char **labels;
	unsigned labels_count;
	long *max_pods;
} y_pool;

typedef struct y_poison {
	char *kill_after, *start, *repair;
	char *scale_at, *delete_pods_at;
	long *scale_to;
	double *kill_sigma, *lethality, *memory_pressure, *attribution;
} y_poison;

typedef struct y_workload {
	char *name;
	long *count;
	long replicas;
	long *replicas_max;
	char *pool;
	y_poison *poison;
} y_workload;

typedef struct y_failures {
	double per_node_per_day;
	char *repair;
	double *memory_pressure, *attribution;
} y_failures;

typedef struct y_rack {
	char *pool, *at, *repair, *rollout_before;
	double fraction;
} y_rack;

typedef struct y_rollouts {
	char *every, *spacing;
} y_rollouts;

typedef struct y_outage {
	char *zone, *at, *duration;
} y_outage;

typedef struct y_budget {
	char *name, *spec;
} y_budget;

typedef struct y_scenario {
	char *name, *description, *duration, *replace_delay;
	y_range *detection;
	long *toleration_s;
	y_pool *pools;
	unsigned pools_count;
	y_workload *workloads;
	unsigned workloads_count;
	y_failures *failures;
	y_rollouts *rollouts;
	y_outage *outages;
	unsigned outages_count;
	y_budget *budgets;
	unsigned budgets_count;
	y_rack *racks;
	unsigned racks_count;
} y_scenario;

#define OPT (CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER)
#define REQ_STR(key, type, member, max) CYAML_FIELD_STRING_PTR(key, CYAML_FLAG_POINTER, type, member, 1, max)
#define OPT_STR(key, type, member, max) CYAML_FIELD_STRING_PTR(key, OPT, type, member, 0, max)

static const cyaml_schema_value_t name_entry = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, FB_SIM_NAME_MAX - 1),
};
static const cyaml_schema_value_t label_entry = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 3, 2 * FB_SIM_NAME_MAX - 1),
};

static const cyaml_schema_field_t range_fields[] = {
	REQ_STR("min", y_range, min, 32),
	REQ_STR("max", y_range, max, 32),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t pool_fields[] = {
	REQ_STR("name", y_pool, name, FB_SIM_NAME_MAX - 1),
	CYAML_FIELD_INT("nodes", CYAML_FLAG_DEFAULT, y_pool, nodes),
	CYAML_FIELD_SEQUENCE("zones", CYAML_FLAG_POINTER, y_pool, zones, &name_entry, 1,
	                     FB_SIM_POOL_ZONES_MAX),
	CYAML_FIELD_SEQUENCE("labels", OPT, y_pool, labels, &label_entry, 0, FB_SIM_LABELS_MAX),
	CYAML_FIELD_INT_PTR("maxPods", OPT, y_pool, max_pods),
	CYAML_FIELD_END
};
static const cyaml_schema_value_t pool_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, y_pool, pool_fields),
};

static const cyaml_schema_field_t poison_fields[] = {
	REQ_STR("killAfter", y_poison, kill_after, 32),
	OPT_STR("start", y_poison, start, 32),
	OPT_STR("repair", y_poison, repair, 32),
	OPT_STR("scaleAt", y_poison, scale_at, 32),
	CYAML_FIELD_INT_PTR("scaleTo", OPT, y_poison, scale_to),
	OPT_STR("deletePodsAt", y_poison, delete_pods_at, 32),
	CYAML_FIELD_FLOAT_PTR("killAfterSigma", OPT, y_poison, kill_sigma),
	CYAML_FIELD_FLOAT_PTR("lethality", OPT, y_poison, lethality),
	CYAML_FIELD_FLOAT_PTR("memoryPressure", OPT, y_poison, memory_pressure),
	CYAML_FIELD_FLOAT_PTR("attribution", OPT, y_poison, attribution),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t workload_fields[] = {
	REQ_STR("name", y_workload, name, FB_SIM_NAME_MAX - 1),
	CYAML_FIELD_INT_PTR("count", OPT, y_workload, count),
	CYAML_FIELD_INT("replicas", CYAML_FLAG_DEFAULT, y_workload, replicas),
	CYAML_FIELD_INT_PTR("replicasMax", OPT, y_workload, replicas_max),
	OPT_STR("pool", y_workload, pool, FB_SIM_NAME_MAX - 1),
	CYAML_FIELD_MAPPING_PTR("poison", OPT, y_workload, poison, poison_fields),
	CYAML_FIELD_END
};
static const cyaml_schema_value_t workload_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, y_workload, workload_fields),
};

static const cyaml_schema_field_t failures_fields[] = {
	CYAML_FIELD_FLOAT("perNodePerDay", CYAML_FLAG_DEFAULT, y_failures, per_node_per_day),
	REQ_STR("repair", y_failures, repair, 32),
	CYAML_FIELD_FLOAT_PTR("memoryPressure", OPT, y_failures, memory_pressure),
	CYAML_FIELD_FLOAT_PTR("attribution", OPT, y_failures, attribution),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t rack_fields[] = {
	REQ_STR("pool", y_rack, pool, FB_SIM_NAME_MAX - 1),
	REQ_STR("at", y_rack, at, 32),
	CYAML_FIELD_FLOAT("fraction", CYAML_FLAG_DEFAULT, y_rack, fraction),
	REQ_STR("repair", y_rack, repair, 32),
	OPT_STR("rolloutBefore", y_rack, rollout_before, 32),
	CYAML_FIELD_END
};
static const cyaml_schema_value_t rack_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, y_rack, rack_fields),
};

static const cyaml_schema_field_t rollouts_fields[] = {
	REQ_STR("every", y_rollouts, every, 32),
	REQ_STR("spacing", y_rollouts, spacing, 32),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t outage_fields[] = {
	REQ_STR("zone", y_outage, zone, FB_SIM_NAME_MAX - 1),
	REQ_STR("at", y_outage, at, 32),
	REQ_STR("duration", y_outage, duration, 32),
	CYAML_FIELD_END
};
static const cyaml_schema_value_t outage_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, y_outage, outage_fields),
};

static const cyaml_schema_field_t budget_fields[] = {
	REQ_STR("name", y_budget, name, FB_SIM_NAME_MAX - 1),
	REQ_STR("spec", y_budget, spec, FB_SIM_BUDGET_SPEC_MAX - 1),
	CYAML_FIELD_END
};
static const cyaml_schema_value_t budget_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, y_budget, budget_fields),
};

static const cyaml_schema_field_t top_fields[] = {
	REQ_STR("name", y_scenario, name, FB_SIM_NAME_MAX - 1),
	OPT_STR("description", y_scenario, description, 1024),
	REQ_STR("duration", y_scenario, duration, 32),
	CYAML_FIELD_MAPPING_PTR("detection", OPT, y_scenario, detection, range_fields),
	OPT_STR("replaceDelay", y_scenario, replace_delay, 32),
	CYAML_FIELD_INT_PTR("tolerationSeconds", OPT, y_scenario, toleration_s),
	CYAML_FIELD_SEQUENCE("pools", CYAML_FLAG_POINTER, y_scenario, pools, &pool_entry, 1,
	                     FB_SIM_POOLS_MAX),
	CYAML_FIELD_SEQUENCE("workloads", CYAML_FLAG_POINTER, y_scenario, workloads,
	                     &workload_entry, 1, FB_SIM_WORKLOAD_SPECS_MAX),
	CYAML_FIELD_MAPPING_PTR("nodeFailures", OPT, y_scenario, failures, failures_fields),
	CYAML_FIELD_MAPPING_PTR("rollouts", OPT, y_scenario, rollouts, rollouts_fields),
	CYAML_FIELD_SEQUENCE("zoneOutages", OPT, y_scenario, outages, &outage_entry, 0,
	                     FB_SIM_OUTAGES_MAX),
	CYAML_FIELD_SEQUENCE("budgets", OPT, y_scenario, budgets, &budget_entry, 0,
	                     FB_SIM_BUDGETS_MAX),
	CYAML_FIELD_SEQUENCE("rackFailures", OPT, y_scenario, racks, &rack_entry, 0,
	                     FB_SIM_RACKS_MAX),
	CYAML_FIELD_END
};

static const cyaml_schema_value_t top_schema = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, y_scenario, top_fields),
};

/* ---- loading ---------------------------------------------------------------------- */


#define BAD(...)                                                                   \
	do {                                                                       \
		int n_ = snprintf(err, errcap, "%s: ", source);                    \
		if (n_ >= 0 && (size_t)n_ < errcap)                                \
			snprintf(err + n_, errcap - (size_t)n_, __VA_ARGS__);      \
		goto out;                                                          \
	} while (0)

/* A duration that must be present and within [min, max]. */
static bool dur(const char *v, int64_t min, int64_t max, int64_t *out)
{
	int64_t ms;
	if (!v || !fb_duration_parse(v, &ms) || ms < min || ms > max)
		return false;
	*out = ms;
	return true;
}

#define DAY_MS (86400LL * 1000)
#define YEAR_MS (365 * DAY_MS)

static int zone_index(fb_sim_scenario *s, const char *name)
{
	for (int i = 0; i < s->nzones; i++)
		if (strcmp(s->zones[i], name) == 0)
			return i;
	if (s->nzones == FB_SIM_ZONES_MAX)
		return -1;
	snprintf(s->zones[s->nzones], sizeof(s->zones[0]), "%s", name);
	return s->nzones++;
}

static int convert(fb_sim_scenario *s, const y_scenario *y, const char *source, char *err,
                   size_t errcap)
{
	int rc = -1;
	snprintf(s->name, sizeof(s->name), "%s", y->name);
	if (!dur(y->duration, 60 * 1000, 30 * DAY_MS, &s->duration_ms))
		BAD("duration \"%s\" must be a duration from 1m to 720h", y->duration);
	s->detect_min_ms = 40 * 1000;
	s->detect_max_ms = 50 * 1000;
	if (y->detection) {
		if (!dur(y->detection->min, 0, DAY_MS, &s->detect_min_ms))
			BAD("detection.min \"%s\" must be a duration from 0s to 24h", y->detection->min);
		if (!dur(y->detection->max, s->detect_min_ms, DAY_MS, &s->detect_max_ms))
			BAD("detection.max \"%s\" must be a duration from detection.min to 24h",
			    y->detection->max);
	}
	s->replace_delay_ms = 2000;
	if (y->replace_delay && !dur(y->replace_delay, 0, 3600 * 1000, &s->replace_delay_ms))
		BAD("replaceDelay \"%s\" must be a duration from 0s to 1h", y->replace_delay);
	s->toleration_s = 300;
	if (y->toleration_s) {
		if (*y->toleration_s < 0 || *y->toleration_s > 86400)
			BAD("tolerationSeconds must be from 0 to 86400");
		s->toleration_s = *y->toleration_s;
	}

	int total_nodes = 0;
	for (unsigned i = 0; i < y->pools_count; i++) {
		const y_pool *yp = &y->pools[i];
		fb_sim_pool *p = &s->pools[s->npools];
		snprintf(p->name, sizeof(p->name), "%s", yp->name);
		for (int j = 0; j < s->npools; j++)
			if (strcmp(s->pools[j].name, p->name) == 0)
				BAD("pools[%u].name \"%s\" is used twice", i, yp->name);
		if (yp->nodes < 1 || yp->nodes > FB_SIM_NODES_MAX)
			BAD("pools[%u].nodes must be from 1 to %d", i, FB_SIM_NODES_MAX);
		p->nodes = (int)yp->nodes;
		total_nodes += p->nodes;
		if (total_nodes > FB_SIM_NODES_MAX)
			BAD("pools[%u].nodes: more than %d nodes in all", i, FB_SIM_NODES_MAX);
		for (unsigned z = 0; z < yp->zones_count; z++) {
			int zi = zone_index(s, yp->zones[z]);
			if (zi < 0)
				BAD("pools[%u].zones: more than %d zones in all", i, FB_SIM_ZONES_MAX);
			p->zones[p->nzones++] = zi;
		}
		for (unsigned l = 0; l < yp->labels_count; l++) {
			const char *eq = strchr(yp->labels[l], '=');
			size_t kl = eq ? (size_t)(eq - yp->labels[l]) : 0;
			if (!eq || kl == 0 || kl >= FB_SIM_NAME_MAX || strlen(eq + 1) >= FB_SIM_NAME_MAX)
				BAD("pools[%u].labels[%u] \"%s\" is not key=value (each under %d characters)",
				    i, l, yp->labels[l], FB_SIM_NAME_MAX);
			memcpy(p->label_key[l], yp->labels[l], kl);
			p->label_key[l][kl] = '\0';
			snprintf(p->label_value[l], sizeof(p->label_value[l]), "%s", eq + 1);
			p->nlabels++;
		}
		p->max_pods = 110;
		if (yp->max_pods) {
			if (*yp->max_pods < 1 || *yp->max_pods > 1000)
				BAD("pools[%u].maxPods must be from 1 to 1000", i);
			p->max_pods = (int)*yp->max_pods;
		}
		s->npools++;
	}

	long total_wls = 0;
	for (unsigned i = 0; i < y->workloads_count; i++) {
		const y_workload *yw = &y->workloads[i];
		fb_sim_workload_spec *w = &s->wls[s->nwls];
		snprintf(w->name, sizeof(w->name), "%s", yw->name);
		for (int j = 0; j < s->nwls; j++)
			if (strcmp(s->wls[j].name, w->name) == 0)
				BAD("workloads[%u].name \"%s\" is used twice", i, yw->name);
		w->count = 1;
		if (yw->count) {
			if (*yw->count < 1 || *yw->count > FB_SIM_WORKLOADS_MAX)
				BAD("workloads[%u].count must be from 1 to %d", i, FB_SIM_WORKLOADS_MAX);
			w->count = (int)*yw->count;
		}
		total_wls += w->count;
		if (total_wls > FB_SIM_WORKLOADS_MAX)
			BAD("workloads[%u].count: more than %d workloads in all", i, FB_SIM_WORKLOADS_MAX);
		if (yw->replicas < 1 || yw->replicas > FB_SIM_REPLICAS_MAX)
			BAD("workloads[%u].replicas must be from 1 to %d", i, FB_SIM_REPLICAS_MAX);
		w->replicas_min = w->replicas_max = (int)yw->replicas;
		if (yw->replicas_max) {
			if (*yw->replicas_max < yw->replicas || *yw->replicas_max > FB_SIM_REPLICAS_MAX)
				BAD("workloads[%u].replicasMax must be from replicas to %d", i,
				    FB_SIM_REPLICAS_MAX);
			w->replicas_max = (int)*yw->replicas_max;
		}
		w->pool = -1;
		if (yw->pool) {
			for (int j = 0; j < s->npools; j++)
				if (strcmp(s->pools[j].name, yw->pool) == 0)
					w->pool = j;
			if (w->pool < 0)
				BAD("workloads[%u].pool \"%s\" is not one of the pools", i, yw->pool);
		}
		if (yw->poison) {
			w->poison = true;
			if (!dur(yw->poison->kill_after, 1000, DAY_MS, &w->kill_after_ms))
				BAD("workloads[%u].poison.killAfter \"%s\" must be a duration from 1s to 24h",
				    i, yw->poison->kill_after);
			if (yw->poison->start && !dur(yw->poison->start, 0, s->duration_ms, &w->start_ms))
				BAD("workloads[%u].poison.start \"%s\" must be a duration within the "
				    "scenario's duration", i, yw->poison->start);
			if (yw->poison->repair && !dur(yw->poison->repair, 0, YEAR_MS, &w->repair_ms))
				BAD("workloads[%u].poison.repair \"%s\" is not a duration", i,
				    yw->poison->repair);
			if (!yw->poison->scale_at != !yw->poison->scale_to)
				BAD("workloads[%u].poison: scaleAt and scaleTo go together", i);
			if (yw->poison->scale_at &&
			    (!dur(yw->poison->scale_at, 1, s->duration_ms, &w->scale_at_ms) ||
			     *yw->poison->scale_to < 0 || *yw->poison->scale_to > FB_SIM_REPLICAS_MAX))
				BAD("workloads[%u].poison: scaleAt \"%s\" must be a duration within the "
				    "scenario's and scaleTo a count from 0 to %d", i, yw->poison->scale_at,
				    FB_SIM_REPLICAS_MAX);
			if (yw->poison->scale_to)
				w->scale_to = (int)*yw->poison->scale_to;
			if (yw->poison->delete_pods_at &&
			    !dur(yw->poison->delete_pods_at, 1, s->duration_ms, &w->delete_pods_at_ms))
				BAD("workloads[%u].poison.deletePodsAt \"%s\" must be a duration within "
				    "the scenario's", i, yw->poison->delete_pods_at);
			const y_poison *yp = yw->poison;
			if (yp->kill_sigma && !(*yp->kill_sigma >= 0 && *yp->kill_sigma <= 3))
				BAD("workloads[%u].poison.killAfterSigma must be from 0 to 3", i);
			w->kill_sigma = yp->kill_sigma ? *yp->kill_sigma : 0;
			if (yp->lethality && !(*yp->lethality > 0 && *yp->lethality <= 1))
				BAD("workloads[%u].poison.lethality must be above 0 and at most 1", i);
			w->lethality = yp->lethality ? *yp->lethality : 1;
			if (yp->memory_pressure &&
			    !(*yp->memory_pressure >= 0 && *yp->memory_pressure <= 1))
				BAD("workloads[%u].poison.memoryPressure must be from 0 to 1", i);
			w->memory_pressure = yp->memory_pressure ? *yp->memory_pressure : 0;
			if (yp->attribution && !(*yp->attribution >= 0 && *yp->attribution <= 1))
				BAD("workloads[%u].poison.attribution must be from 0 to 1", i);
			w->attribution = yp->attribution ? *yp->attribution : 0;
		}
		s->nwls++;
	}

	if (y->failures) {
		double r = y->failures->per_node_per_day;
		if (!(r >= 0 && r <= 100))
			BAD("nodeFailures.perNodePerDay must be from 0 to 100");
		s->failures_per_node_day = r;
		if (!dur(y->failures->repair, 1000, YEAR_MS, &s->failure_repair_ms))
			BAD("nodeFailures.repair \"%s\" must be a duration of 1s or more",
			    y->failures->repair);
		const double *mp = y->failures->memory_pressure;
		if (mp && !(*mp >= 0 && *mp <= 1))
			BAD("nodeFailures.memoryPressure must be from 0 to 1");
		s->failure_memory_pressure = mp ? *mp : 0;
		const double *at = y->failures->attribution;
		if (at && !(*at >= 0 && *at <= 1))
			BAD("nodeFailures.attribution must be from 0 to 1");
		s->failure_attribution = at ? *at : 0;
	}
	for (unsigned i = 0; i < y->racks_count; i++) {
		const y_rack *yr = &y->racks[i];
		fb_sim_rack *r = &s->racks[s->nracks];
		r->pool = -1;
		for (int j = 0; j < s->npools; j++)
			if (strcmp(s->pools[j].name, yr->pool) == 0)
				r->pool = j;
		if (r->pool < 0)
			BAD("rackFailures[%u].pool \"%s\" is not one of the pools", i, yr->pool);
		if (!dur(yr->at, 0, s->duration_ms, &r->at_ms))
			BAD("rackFailures[%u].at \"%s\" must be a duration within the scenario's", i,
			    yr->at);
		if (!(yr->fraction > 0 && yr->fraction <= 1))
			BAD("rackFailures[%u].fraction must be above 0 and at most 1", i);
		r->fraction = yr->fraction;
		if (!dur(yr->repair, 1000, YEAR_MS, &r->repair_ms))
			BAD("rackFailures[%u].repair \"%s\" must be a duration of 1s or more", i,
			    yr->repair);
		if (yr->rollout_before &&
		    !dur(yr->rollout_before, 1000, r->at_ms, &r->rollout_before_ms))
			BAD("rackFailures[%u].rolloutBefore \"%s\" must be a duration from 1s to at",
			    i, yr->rollout_before);
		s->nracks++;
	}
	if (y->rollouts) {
		if (!dur(y->rollouts->every, 60 * 1000, YEAR_MS, &s->rollout_every_ms))
			BAD("rollouts.every \"%s\" must be a duration of 1m or more", y->rollouts->every);
		if (!dur(y->rollouts->spacing, 100, 3600 * 1000, &s->rollout_spacing_ms))
			BAD("rollouts.spacing \"%s\" must be a duration from 100ms to 1h",
			    y->rollouts->spacing);
	}
	for (unsigned i = 0; i < y->outages_count; i++) {
		const y_outage *yo = &y->outages[i];
		fb_sim_outage *o = &s->outages[s->noutages];
		o->zone = -1;
		for (int z = 0; z < s->nzones; z++)
			if (strcmp(s->zones[z], yo->zone) == 0)
				o->zone = z;
		if (o->zone < 0)
			BAD("zoneOutages[%u].zone \"%s\" is not a zone of any pool", i, yo->zone);
		if (!dur(yo->at, 0, s->duration_ms, &o->at_ms))
			BAD("zoneOutages[%u].at \"%s\" must be a duration within the scenario's duration",
			    i, yo->at);
		if (!dur(yo->duration, 1000, YEAR_MS, &o->duration_ms))
			BAD("zoneOutages[%u].duration \"%s\" must be a duration of 1s or more", i,
			    yo->duration);
		s->noutages++;
	}
	for (unsigned i = 0; i < y->budgets_count; i++) {
		const y_budget *yb = &y->budgets[i];
		fb_sim_budget *b = &s->budgets[s->nbudgets];
		snprintf(b->name, sizeof(b->name), "%s", yb->name);
		cJSON *spec = cJSON_Parse(yb->spec);
		if (!cJSON_IsObject(spec)) {
			cJSON_Delete(spec);
			BAD("budgets[%u].spec is not a JSON object", i);
		}
		fb_budget_spec parsed;
		char why[256];
		int prc = fb_budget_spec_parse(&parsed, spec, why, sizeof(why));
		cJSON_Delete(spec);
		if (prc != 0)
			BAD("budgets[%u].spec: %s", i, why);
		fb_budget_spec_release(&parsed);
		snprintf(b->spec, sizeof(b->spec), "%s", yb->spec);
		s->nbudgets++;
	}
	rc = 0;
out:
	return rc;
}

int fb_sim_scenario_load_mem(const char *data, size_t len, const char *source,
                             fb_sim_scenario **out, char *err, size_t errcap)
{
	fb_yaml_errors lc;
	cyaml_config_t cfg;
	fb_yaml_config(&cfg, &lc);
	y_scenario *y = NULL;
	fb_sim_scenario *s = NULL;
	int rc = -1;
	*out = NULL;
	source = source ? source : "scenario";
	if (len > FB_SIM_FILE_MAX)
		BAD("larger than %u bytes", FB_SIM_FILE_MAX);
	if (len == 0)
		BAD("empty");
	cyaml_err_t cerr = cyaml_load_data((const uint8_t *)data, len, &cfg, &top_schema,
	                                   (cyaml_data_t **)&y, NULL);
	if (cerr != CYAML_OK)
		BAD("%s%s%s", cyaml_strerror(cerr), lc.msg[0] ? ": " : "", lc.msg);
	if (!y)
		BAD("empty");
	if (!(s = kc_calloc(1, sizeof(*s))))
		BAD("out of memory");
	if (convert(s, y, source, err, errcap) != 0)
		goto out;
	*out = s;
	s = NULL;
	rc = 0;
out:
	kc_free(s);
	if (y)
		cyaml_free(&cfg, &top_schema, y, 0);
	return rc;
}

int fb_sim_scenario_load_file(const char *path, fb_sim_scenario **out, char *err,
                              size_t errcap)
{
	*out = NULL;
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		snprintf(err, errcap, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	char *buf = kc_calloc(1, FB_SIM_FILE_MAX + 1);
	if (!buf) {
		fclose(fp);
		snprintf(err, errcap, "%s: out of memory", path);
		return -1;
	}
	size_t n = fread(buf, 1, FB_SIM_FILE_MAX + 1, fp);
	bool failed = ferror(fp) != 0;
	fclose(fp);
	int rc;
	if (failed) {
		snprintf(err, errcap, "%s: read error", path);
		rc = -1;
	} else if (n > FB_SIM_FILE_MAX) {
		snprintf(err, errcap, "%s: larger than %u bytes", path, FB_SIM_FILE_MAX);
		rc = -1;
	} else {
		rc = fb_sim_scenario_load_mem(buf, n, path, out, err, errcap);
	}
	kc_free(buf);
	return rc;
}

void fb_sim_scenario_free(fb_sim_scenario *s)
{
	kc_free(s);
}

const char *fb_sim_scenario_name(const fb_sim_scenario *s)
{
	return s->name;
}

int fb_sim_scenario_nodes(const fb_sim_scenario *s)
{
	int n = 0;
	for (int i = 0; i < s->npools; i++)
		n += s->pools[i].nodes;
	return n;
}

int64_t fb_sim_scenario_duration_ms(const fb_sim_scenario *s)
{
	return s->duration_ms;
}
