/*
 * firebreak-sim: the same seed gives the same numbers; the poison cascade in
 * a GPU pool stops at two nodes with firebreak and does not with default
 * Kubernetes; random failures in a busy cluster quarantine nothing; a bad
 * scenario file is refused with a message naming the field.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kctest.h"
#include "sim.h"

static fb_sim_scenario *load(const char *name)
{
	const char *dir = getenv("FB_SOURCE_DIR");
	char path[1024], err[512];
	snprintf(path, sizeof(path), "%s/controller/sim/scenarios/%s", dir ? dir : ".", name);
	fb_sim_scenario *s = NULL;
	if (fb_sim_scenario_load_file(path, &s, err, sizeof(err)) != 0)
		fprintf(stderr, "  %s\n", err);
	return s;
}

static fb_sim_result run(const fb_sim_scenario *s, fb_sim_policy p, uint64_t seed)
{
	fb_sim_result r;
	char err[256];
	KT_EQ_INT(fb_sim_run(s, p, seed, NULL, &r, err, sizeof(err)), 0);
	return r;
}

/* A small cluster with everything moving: failures, rollouts, an outage, a poison. */
static const char busy[] =
	"name: busy\n"
	"duration: 12h\n"
	"pools:\n"
	"- {name: gpu, nodes: 12, zones: [a, b], labels: [\"pool=gpu\"], maxPods: 30}\n"
	"- {name: cpu, nodes: 60, zones: [a, b, c]}\n"
	"workloads:\n"
	"- {name: web, count: 40, replicas: 2, replicasMax: 12, pool: cpu}\n"
	"- {name: train, count: 6, replicas: 1, replicasMax: 3, pool: gpu}\n"
	"- {name: leak, replicas: 1, pool: gpu, poison: {killAfter: 7m, start: 3h, repair: 2h}}\n"
	"nodeFailures: {perNodePerDay: 0.5, repair: 1h}\n"
	"rollouts: {every: 30m, spacing: 5s}\n"
	"zoneOutages: [{zone: c, at: 6h, duration: 1h}]\n"
	"budgets:\n"
	"- {name: gpu, spec: '{\"nodeSelector\": {\"matchLabels\": {\"pool\": \"gpu\"}},"
	" \"windows\": [{\"maxNodes\": 3, \"window\": \"1h\"}]}'}\n";

KT_TEST(same_seed_same_numbers)
{
	char err[512];
	fb_sim_scenario *s = NULL;
	KT_EQ_INT(fb_sim_scenario_load_mem(busy, sizeof(busy) - 1, "busy", &s, err, sizeof(err)), 0);
	if (!s) {
		fprintf(stderr, "  %s\n", err);
		return;
	}
	for (int p = 0; p < FB_SIM_NPOLICIES; p++) {
		fb_sim_result a = run(s, (fb_sim_policy)p, 7);
		fb_sim_result b = run(s, (fb_sim_policy)p, 7);
		KT_CHECK(memcmp(&a, &b, sizeof(a)) == 0);
		KT_CHECK(a.events > 100 && a.node_failures > 0);
		if (p != FB_SIM_K8S_NO_EVICTION)
			KT_CHECK(a.evictions > 0);
		else
			KT_EQ_INT(a.evictions, 0);
	}
	/* another seed is another run */
	fb_sim_result a = run(s, FB_SIM_FIREBREAK, 7), c = run(s, FB_SIM_FIREBREAK, 8);
	KT_CHECK(memcmp(&a, &c, sizeof(a)) != 0);
	fb_sim_scenario_free(s);
}

KT_TEST(gpu_pool_cascade_stops_at_two_nodes)
{
	fb_sim_scenario *s = load("poison-gpu-pool.yaml");
	KT_CHECK(s != NULL);
	if (!s)
		return;
	for (uint64_t seed = 1; seed <= 5; seed++) {
		fb_sim_result fb = run(s, FB_SIM_FIREBREAK, seed);
		fb_sim_result k8s = run(s, FB_SIM_K8S, seed);
		KT_CHECK(fb.nodes_lost >= 1 && fb.nodes_lost <= 2);
		KT_EQ_INT(fb.poison_quarantined, 1);
		KT_EQ_INT(fb.false_quarantines, 0);
		KT_CHECK(k8s.nodes_lost > 2);
		/* the innocent pods of the killed nodes still moved, as fast as Kubernetes moves them */
		KT_CHECK(fb.evictions > 0 && fb.stuck_pod_minutes < k8s.stuck_pod_minutes);
	}
	fb_sim_scenario_free(s);
}

KT_TEST(e2e_cascade_matches_the_real_control_plane)
{
	/* e2e/scenarios/cascade-{baseline,firebreak}.sh on the real control plane:
	 * baseline lost 4 nodes (it stops counting at 4), firebreak lost 2. */
	fb_sim_scenario *s = load("e2e-cascade.yaml");
	KT_CHECK(s != NULL);
	if (!s)
		return;
	for (uint64_t seed = 1; seed <= 5; seed++) {
		fb_sim_result fb = run(s, FB_SIM_FIREBREAK, seed);
		fb_sim_result k8s = run(s, FB_SIM_K8S, seed);
		KT_EQ_INT(fb.nodes_lost, 2);
		KT_EQ_INT(fb.poison_quarantined, 1);
		KT_CHECK(k8s.nodes_lost >= 4);
		if (seed == 1)
			printf("  e2e-cascade seed 1: kubernetes lost %d nodes, firebreak %d\n",
			       (int)k8s.nodes_lost, (int)fb.nodes_lost);
	}
	fb_sim_scenario_free(s);
}

KT_TEST(random_failures_quarantine_nothing)
{
	fb_sim_scenario *s = load("random-failures.yaml");
	KT_CHECK(s != NULL);
	if (!s)
		return;
	for (uint64_t seed = 1; seed <= 3; seed++) {
		fb_sim_result r = run(s, FB_SIM_FIREBREAK, seed);
		KT_CHECK(r.node_failures >= 3);  /* the test means something */
		KT_CHECK(r.evictions > 0);
		KT_EQ_INT(r.false_quarantines, 0);
		KT_EQ_INT(r.nodes_lost, 0);
	}
	fb_sim_scenario_free(s);
}

static void refused(const char *yaml, const char *needle)
{
	fb_sim_scenario *s = NULL;
	char err[512] = "";
	int rc = fb_sim_scenario_load_mem(yaml, strlen(yaml), "t.yaml", &s, err, sizeof(err));
	KT_EQ_INT(rc, -1);
	KT_CHECK(s == NULL);
	if (!strstr(err, needle) || strncmp(err, "t.yaml: ", 8) != 0)
		fprintf(stderr, "  wanted \"%s\" in: %s\n", needle, err);
	KT_CHECK(strstr(err, needle) != NULL && strncmp(err, "t.yaml: ", 8) == 0);
	fb_sim_scenario_free(s);
}

#define HEAD "name: t\nduration: 1h\npools: [{name: p, nodes: 3, zones: [a]}]\n"
#define WL "workloads: [{name: w, replicas: 2}]\n"

KT_TEST(bad_scenarios_are_refused_naming_the_field)
{
	refused(HEAD WL "nodeFailure: {perNodePerDay: 1, repair: 1h}\n", "nodeFailure");
	refused(HEAD "workloads: [{name: w, replicas: 2, replica: 3}]\n", "replica");
	refused(HEAD "workloads: [{name: w, replicas: 0}]\n", "workloads[0].replicas");
	refused(HEAD "workloads: [{name: w, replicas: 2, pool: gpu}]\n", "workloads[0].pool");
	refused(HEAD "workloads: [{name: w, replicas: 1, poison: {killAfter: soon}}]\n",
	        "workloads[0].poison.killAfter");
	refused(HEAD "workloads: [{name: w, replicas: 1, poison: {start: 1m}}]\n", "killAfter");
	refused("name: t\npools: [{name: p, nodes: 3, zones: [a]}]\n" WL, "duration");
	refused("name: t\nduration: 1 hour\npools: [{name: p, nodes: 3, zones: [a]}]\n" WL,
	        "duration");
	refused(HEAD WL "zoneOutages: [{zone: z, at: 10m, duration: 1h}]\n", "zoneOutages[0].zone");
	refused(HEAD WL "rollouts: {every: 1h, spacing: -1s}\n", "rollouts.spacing");
	refused(HEAD WL "budgets: [{name: b, spec: '{\"maxUnhealthy\": \"140%\"}'}]\n",
	        "budgets[0].spec");
	refused(HEAD WL "nodeFailures: {perNodePerDay: -1, repair: 1h}\n", "nodeFailures.perNodePerDay");
	refused("name: t\nduration: 1h\npools: [{name: p, nodes: 0, zones: [a]}]\n" WL,
	        "pools[0].nodes");
	refused("name: [t\n", "t.yaml");
	refused("", "empty");
	/* a good one loads */
	fb_sim_scenario *s = NULL;
	char err[256];
	const char ok[] = HEAD WL;
	KT_EQ_INT(fb_sim_scenario_load_mem(ok, sizeof(ok) - 1, "ok", &s, err, sizeof(err)), 0);
	KT_CHECK(s && !strcmp(fb_sim_scenario_name(s), "t") && fb_sim_scenario_nodes(s) == 3);
	fb_sim_scenario_free(s);
}

KT_TEST(new_fields_are_refused_out_of_range)
{
	refused(HEAD "workloads: [{name: w, replicas: 1, poison: {killAfter: 1m, lethality: 0}}]\n",
	        "workloads[0].poison.lethality");
	refused(HEAD "workloads: [{name: w, replicas: 1, poison: {killAfter: 1m, lethality: 1.5}}]\n",
	        "workloads[0].poison.lethality");
	refused(HEAD "workloads: [{name: w, replicas: 1, poison: {killAfter: 1m, killAfterSigma: -1}}]\n",
	        "workloads[0].poison.killAfterSigma");
	refused(HEAD "workloads: [{name: w, replicas: 1, poison: {killAfter: 1m, memoryPressure: 2}}]\n",
	        "workloads[0].poison.memoryPressure");
	refused(HEAD WL "nodeFailures: {perNodePerDay: 1, repair: 1h, memoryPressure: -0.1}\n",
	        "nodeFailures.memoryPressure");
	refused(HEAD "workloads: [{name: w, replicas: 1, poison: {killAfter: 1m, attribution: 1.1}}]\n",
	        "workloads[0].poison.attribution");
	refused(HEAD WL "nodeFailures: {perNodePerDay: 1, repair: 1h, attribution: -1}\n",
	        "nodeFailures.attribution");
	refused(HEAD WL "rackFailures: [{pool: q, at: 10m, fraction: 0.5, repair: 1h}]\n",
	        "rackFailures[0].pool");
	refused(HEAD WL "rackFailures: [{pool: p, at: 10m, fraction: 0, repair: 1h}]\n",
	        "rackFailures[0].fraction");
	refused(HEAD WL "rackFailures: [{pool: p, at: 2h, fraction: 0.5, repair: 1h}]\n",
	        "rackFailures[0].at");
	refused(HEAD WL "rackFailures: [{pool: p, at: 10m, fraction: 0.5, repair: 1h, "
	                "rolloutBefore: 20m}]\n", "rackFailures[0].rolloutBefore");
}

/* A scenario of one pool and a poison that lands on node after node until none is left. */
static fb_sim_scenario *poison_pool(const char *poison)
{
	char yaml[1024];
	snprintf(yaml, sizeof(yaml),
	         "name: t\nduration: 48h\n"
	         "pools: [{name: p, nodes: 400, zones: [a]}]\n"
	         "workloads: [{name: p, replicas: 1, poison: {%s}}]\n", poison);
	fb_sim_scenario *s = NULL;
	char err[256];
	KT_EQ_INT(fb_sim_scenario_load_mem(yaml, strlen(yaml), "t.yaml", &s, err, sizeof(err)), 0);
	return s;
}

/*
 * Under Kubernetes the poison moves on after every kill, so over 48 h (a kill, then 300 s of
 * toleration, again) it lands on ~100 nodes: lethality 0.5 stops the cascade at its first
 * survivor, after 1 node lost on average (geometric), never all of them.
 */
KT_TEST(lethality_spares_some_nodes)
{
	fb_sim_scenario *all = poison_pool("killAfter: 5m");
	fb_sim_scenario *half = poison_pool("killAfter: 5m, lethality: 0.5");
	double lost_all = 0, lost_half = 0;
	for (uint64_t seed = 1; seed <= 40; seed++) {
		lost_all += run(all, FB_SIM_K8S, seed).nodes_lost;
		lost_half += run(half, FB_SIM_K8S, seed).nodes_lost;
	}
	fprintf(stderr, "  mean nodes lost over 40 seeds: %.1f (lethality 1), %.2f (0.5)\n",
	        lost_all / 40, lost_half / 40);
	KT_CHECK(lost_all / 40 > 100);
	KT_CHECK(lost_half / 40 > 0.5 && lost_half / 40 < 2.0);
	fb_sim_scenario_free(all);
	fb_sim_scenario_free(half);
}

/* The kill delay's spread shows in how many nodes a cascade takes in a fixed time. */
KT_TEST(kill_delay_sigma_spreads_the_kills)
{
	fb_sim_scenario *exact = poison_pool("killAfter: 30m");
	fb_sim_scenario *spread = poison_pool("killAfter: 30m, killAfterSigma: 1");
	int a = run(exact, FB_SIM_K8S, 3).nodes_lost, b = run(exact, FB_SIM_K8S, 4).nodes_lost;
	KT_EQ_INT(a, b); /* exact delays: every seed the same */
	int lo = 1 << 30, hi = 0;
	for (uint64_t seed = 1; seed <= 20; seed++) {
		int n = run(spread, FB_SIM_K8S, seed).nodes_lost;
		lo = n < lo ? n : lo;
		hi = n > hi ? n : hi;
	}
	fprintf(stderr, "  48 h, killAfter 30m: %d nodes exact, %d..%d with sigma 1\n", a, lo, hi);
	KT_CHECK(lo < hi);
	fb_sim_scenario_free(exact);
	fb_sim_scenario_free(spread);
}

/* A rack of 10 % of a pool stops at one instant: that many nodes fail, and no more. */
KT_TEST(rack_failure_stops_its_share_of_the_pool)
{
	const char yaml[] = "name: t\nduration: 1h\n"
	                    "pools: [{name: p, nodes: 40, zones: [a]}, {name: q, nodes: 10, zones: [a]}]\n"
	                    "workloads: [{name: w, replicas: 20, pool: p}]\n"
	                    "rackFailures: [{pool: p, at: 10m, fraction: 0.1, repair: 2h}]\n";
	fb_sim_scenario *s = NULL;
	char err[256];
	KT_EQ_INT(fb_sim_scenario_load_mem(yaml, sizeof(yaml) - 1, "t.yaml", &s, err, sizeof(err)), 0);
	for (uint64_t seed = 1; seed <= 5; seed++) {
		fb_sim_result k = run(s, FB_SIM_K8S, seed), f = run(s, FB_SIM_FIREBREAK, seed);
		KT_EQ_INT((int)k.node_failures, 4);
		KT_EQ_INT((int)f.node_failures, 4);
		KT_EQ_INT(f.false_quarantines, 0);
	}
	fb_sim_scenario_free(s);
}

int main(void)
{
	KT_RUN(same_seed_same_numbers);
	KT_RUN(gpu_pool_cascade_stops_at_two_nodes);
	KT_RUN(e2e_cascade_matches_the_real_control_plane);
	KT_RUN(random_failures_quarantine_nothing);
	KT_RUN(bad_scenarios_are_refused_naming_the_field);
	KT_RUN(new_fields_are_refused_out_of_range);
	KT_RUN(lethality_spares_some_nodes);
	KT_RUN(kill_delay_sigma_spreads_the_kills);
	KT_RUN(rack_failure_stops_its_share_of_the_pool);
	return KT_DONE();
}
