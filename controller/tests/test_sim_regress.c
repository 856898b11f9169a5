/*
 * A regression found by firebreak-sim (docs/simulator.md, scenario
 * zone-outage-2zones): a zone outage is taken for poison evidence.
 *
 * A workload is rolled out onto four nodes in two zones; ten minutes later
 * zone b goes dark and both of its nodes fail at the same instant. Nothing
 * about the workload caused that, yet the verdict counts 2 failed nodes
 * against 2 healthy ones, 2 >= 0.5 x 4, and quarantines it: its pods on the
 * dead zone are pinned there instead of being moved. In the simulator this
 * happens in half of the seeds of a two-zone cluster.
 *
 * Failures that take a whole zone at once are not evidence against what
 * arrived there; a poison kills the nodes it lands on, one after another.
 * The core now treats every node of a zone failing within a minute as a zone
 * outage (core.c zone_outage), and this test guards that.
 */
#include <stdio.h>

#include "core.h"
#include "kctest.h"

#define S 1000LL
#define MIN (60 * S)
#define T0 (1700000000LL * S)
#define API "Deployment/default/api"

static void node(fb_core *c, const char *name, const char *zone, fb_cond ready, int64_t since)
{
	char uid[32];
	snprintf(uid, sizeof(uid), "uid-%s", name);
	fb_node_obs o = { .name = name, .uid = uid, .zone = zone, .ready = ready,
	                  .ready_transition_ms = since };
	KT_EQ_INT(fb_core_node_set(c, &o, since), 0);
}

static void pod(fb_core *c, const char *name, const char *on, const char *wl, int64_t arrived)
{
	char uid[32];
	snprintf(uid, sizeof(uid), "uid-%s", name);
	fb_workload_ref ref;
	KT_EQ_INT(fb_workload_id_parse(wl, &ref), 0);
	fb_pod_obs o = { .ns = "default", .name = name, .uid = uid, .node = on, .workload = &ref,
	                 .tol_not_ready_s = 300, .tol_unreachable_s = 300, .arrived_ms = arrived };
	KT_EQ_INT(fb_core_pod_set(c, &o), 0);
}

KT_TEST(zone_outage_after_a_rollout_is_not_poison)
{
	fb_core_config cfg;
	fb_core_config_defaults(&cfg);
	fb_core *c = fb_core_new(&cfg);
	fb_actions acts;
	fb_actions_init(&acts);
	const char *names[4] = { "a1", "a2", "b1", "b2" };
	const char *zones[4] = { "a", "a", "b", "b" };
	for (int i = 0; i < 4; i++) {
		char p[16];
		node(c, names[i], zones[i], FB_COND_TRUE, T0 - 86400 * S);
		snprintf(p, sizeof(p), "api-%d", i);
		pod(c, p, names[i], API, T0 + i * 10 * S); /* the rollout */
	}
	fb_core_tick(c, T0 + MIN, &acts);
	fb_actions_clear(&acts);
	/* zone b goes dark: both of its nodes at once */
	node(c, "b1", "b", FB_COND_UNKNOWN, T0 + 10 * MIN);
	node(c, "b2", "b", FB_COND_UNKNOWN, T0 + 10 * MIN);
	fb_core_tick(c, T0 + 10 * MIN, &acts);
	int quarantines = 0;
	for (size_t i = 0; i < acts.n; i++)
		quarantines += acts.v[i].kind == FB_ACT_QUARANTINE;
	KT_EQ_INT(quarantines, 0);
	fb_core_stats st;
	fb_core_get_stats(c, &st);
	KT_EQ_INT(st.quarantines_total, 0);
	fb_actions_release(&acts);
	fb_core_free(c);
}

int main(void)
{
	KT_RUN(zone_outage_after_a_rollout_is_not_poison);
	return KT_DONE();
}
