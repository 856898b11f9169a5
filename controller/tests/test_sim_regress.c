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
#include "coretest.h"
#include "kctest.h"

#define API "Deployment/default/api"

KT_TEST(zone_outage_after_a_rollout_is_not_poison)
{
	setup(false);
	const char *names[4] = { "a1", "a2", "b1", "b2" };
	const char *zones[4] = { "a", "a", "b", "b" };
	for (int i = 0; i < 4; i++) {
		char p[16];
		node(names[i], zones[i], FB_COND_TRUE, T0 - 86400 * S);
		snprintf(p, sizeof(p), "api-%d", i);
		pod(p, names[i], API, T0 + i * 10 * S, 300); /* the rollout */
	}
	tick(T0 + MIN);
	/* zone b goes dark: both of its nodes at once */
	node("b1", "b", FB_COND_UNKNOWN, T0 + 10 * MIN);
	node("b2", "b", FB_COND_UNKNOWN, T0 + 10 * MIN);
	tick(T0 + 10 * MIN);
	KT_EQ_INT(count_all(FB_ACT_QUARANTINE, NULL), 0);
	fb_core_stats st;
	fb_core_get_stats(core, &st);
	KT_EQ_INT(st.quarantines_total, 0);
	teardown();
}

int main(void)
{
	KT_RUN(zone_outage_after_a_rollout_is_not_poison);
	return KT_DONE();
}
