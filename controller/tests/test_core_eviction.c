/*
 * The decision core's eviction rules, driven as the shell and the simulator
 * drive it: observations and time in, actions out.
 */
#include <stdio.h>
#include <stdlib.h>

#include "core.h"
#include "coretest.h"
#include "kctest.h"

/* The pods of these tests arrived long before T0. */
#define ARRIVED (T0 - 3600 * S)

/* A healthy cluster of `n` nodes in zones a/b, with one pod each (toleration tol). */
static void cluster(int n, int64_t tol)
{
	for (int i = 0; i < n; i++) {
		char name[16], p[16];
		snprintf(name, sizeof(name), "n%d", i);
		snprintf(p, sizeof(p), "p%d", i);
		labelled_node(name, i % 2 ? "b" : "a", FB_COND_TRUE, T0 - 86400 * S, NULL);
		pod(p, name, WEB, ARRIVED, tol);
	}
}

KT_TEST(pod_is_evicted_when_its_toleration_expires)
{
	setup(false);
	cluster(6, 300);
	tick(T0);
	labelled_node("n0", "a", FB_COND_UNKNOWN, T0, NULL);
	int64_t next = tick(T0 + 1 * S);
	KT_EQ_INT(count(FB_ACT_EVICT), 0);
	KT_EQ_INT(next, T0 + 300 * S); /* the shell's timer is told when */
	tick(T0 + 299 * S);
	KT_EQ_INT(count(FB_ACT_EVICT), 0);
	tick(T0 + 300 * S);
	const fb_action *a = find(FB_ACT_EVICT, "p0");
	KT_CHECK(a != NULL);
	KT_CHECK(a && !a->dry_run && strcmp(a->node, "n0") == 0);
	KT_CHECK(find(FB_ACT_EVENT, "EvictionStarted") != NULL);
	KT_CHECK(find(FB_ACT_EVENT, "Evicting") != NULL);
	/* in flight: not asked twice */
	tick(T0 + 301 * S);
	KT_EQ_INT(count(FB_ACT_EVICT), 0);
	evicted("p0", FB_EVICT_OK, T0 + 301 * S);
	tick(T0 + 400 * S);
	KT_EQ_INT(count(FB_ACT_EVICT), 0);
	/* over every tick: p0 once, nothing else */
	KT_EQ_INT(count_all(FB_ACT_EVICT, NULL), 1);
	KT_EQ_INT(count_all(FB_ACT_EVICT, "p0"), 1);
	teardown();
}

KT_TEST(tolerations_decide_due_times)
{
	setup(false);
	cluster(6, 300);
	pod("no-tol", "n0", WEB, ARRIVED, FB_TOL_NONE);
	pod("forever", "n0", WEB, ARRIVED, FB_TOL_FOREVER);
	pod("short", "n0", WEB, ARRIVED, 30);
	pod_with("ds", "n0", &(pod_spec){ .workload = WEB, .arrived_ms = ARRIVED,
	                                   .tol_s = FB_TOL_NONE, .daemonset = true });
	pod_with("going", "n0", &(pod_spec){ .workload = WEB, .arrived_ms = ARRIVED,
	                                      .tol_s = FB_TOL_NONE, .terminating = true });
	tick(T0);
	labelled_node("n0", "a", FB_COND_FALSE, T0, NULL);
	tick(T0);
	/* no matching toleration: at once; DaemonSet and terminating pods stay */
	KT_CHECK(find(FB_ACT_EVICT, "no-tol") != NULL);
	KT_EQ_INT(count(FB_ACT_EVICT), 1);
	tick(T0 + 30 * S);
	KT_CHECK(find(FB_ACT_EVICT, "short") != NULL);
	KT_EQ_INT(count(FB_ACT_EVICT), 1);
	tick(T0 + 300 * S);
	KT_CHECK(find(FB_ACT_EVICT, "p0") != NULL);
	tick(T0 + 86400 * S);
	/* on no tick: the others stay */
	KT_CHECK(find_all(FB_ACT_EVICT, "forever") == NULL);
	KT_CHECK(find_all(FB_ACT_EVICT, "ds") == NULL);
	KT_CHECK(find_all(FB_ACT_EVICT, "going") == NULL);
	KT_CHECK(find_all(FB_ACT_DELETE, NULL) == NULL);
	KT_EQ_INT(count_all(FB_ACT_EVICT, NULL), 3); /* no-tol, short, p0: once each */
	teardown();
}

KT_TEST(node_that_recovers_in_time_keeps_its_pods)
{
	setup(false);
	cluster(6, 300);
	tick(T0);
	labelled_node("n0", "a", FB_COND_UNKNOWN, T0, NULL);
	tick(T0 + 100 * S);
	labelled_node("n0", "a", FB_COND_TRUE, T0 + 200 * S, NULL);
	tick(T0 + 300 * S); /* when p0 would have been due */
	tick(T0 + 1000 * S);
	/* on no tick, before, at or after the toleration's end */
	KT_EQ_INT(count_all(FB_ACT_EVICT, NULL), 0);
	KT_EQ_INT(count_all(FB_ACT_DELETE, NULL), 0);
	teardown();
}

KT_TEST(zone_rate_spaces_nodes_ten_seconds_apart)
{
	setup(false);
	cluster(20, FB_TOL_NONE); /* 10 per zone: 3 failed of 10 stays Normal */
	tick(T0);
	labelled_node("n0", "a", FB_COND_UNKNOWN, T0, NULL);
	labelled_node("n2", "a", FB_COND_UNKNOWN, T0, NULL);
	labelled_node("n4", "a", FB_COND_UNKNOWN, T0, NULL);
	int64_t next = tick(T0);
	KT_EQ_INT(count(FB_ACT_EVICT), 1);
	KT_CHECK(find(FB_ACT_EVICT, "p0") != NULL); /* queue order: failure time, then name */
	KT_CHECK(find(FB_ACT_EVENT, "EvictionDeferred") != NULL);
	KT_EQ_INT(next, T0 + 10 * S);
	tick(T0 + 9 * S);
	KT_EQ_INT(count(FB_ACT_EVICT), 0);
	tick(T0 + 10 * S);
	KT_CHECK(find(FB_ACT_EVICT, "p2") != NULL);
	tick(T0 + 20 * S);
	KT_CHECK(find(FB_ACT_EVICT, "p4") != NULL);
	KT_EQ_INT(count_all(FB_ACT_EVICT, NULL), 3); /* one node per 10 s, each once */
	teardown();
}

KT_TEST(partial_disruption_of_small_zone_stops_evictions)
{
	setup(false);
	cluster(20, FB_TOL_NONE);
	tick(T0);
	for (int i = 0; i < 12; i += 2) { /* 6 of 10 in zone a */
		char name[8];
		snprintf(name, sizeof(name), "n%d", i);
		labelled_node(name, "a", FB_COND_UNKNOWN, T0, NULL);
	}
	labelled_node("n1", "b", FB_COND_UNKNOWN, T0, NULL); /* zone b: 1 of 10, Normal */
	tick(T0);
	KT_EQ_INT(count(FB_ACT_EVICT), 1);
	KT_CHECK(find(FB_ACT_EVICT, "p1") != NULL);
	const fb_action *e = find(FB_ACT_EVENT, "EvictionDeferred");
	KT_CHECK(e && strstr(e->message, "(PartialDisruption, 0 nodes/s); none until the zone's "
	                                 "state changes"));
	tick(T0 + 3600 * S);
	KT_EQ_INT(count(FB_ACT_EVICT), 0);
	KT_EQ_INT(count_all(FB_ACT_EVICT, NULL), 1); /* zone b's p1 only, on any tick */
	teardown();
}

KT_TEST(all_zones_fully_disrupted_evicts_nothing)
{
	setup(false);
	cluster(4, FB_TOL_NONE);
	tick(T0);
	for (int i = 0; i < 4; i++) {
		char name[8];
		snprintf(name, sizeof(name), "n%d", i);
		labelled_node(name, i % 2 ? "b" : "a", FB_COND_UNKNOWN, T0, NULL);
	}
	tick(T0);
	KT_EQ_INT(count(FB_ACT_EVICT), 0);
	const fb_action *e = find(FB_ACT_EVENT, "EvictionHalted");
	KT_CHECK(e && strstr(e->message, "every zone") != NULL);
	tick(T0 + 3600 * S);
	KT_EQ_INT(count(FB_ACT_EVICT), 0);
	KT_EQ_INT(count_all(FB_ACT_EVICT, NULL), 0); /* on no tick while all zones are down */
	/* one node comes back: the other zone's dead nodes fail over, clocks restarted */
	labelled_node("n1", "b", FB_COND_TRUE, T0 + 3600 * S, NULL);
	tick(T0 + 3600 * S);
	KT_CHECK(count(FB_ACT_EVICT) >= 1);
	teardown();
}

KT_TEST(budget_window_admits_one_node_and_names_itself)
{
	setup(false);
	/* three GPU nodes in three zones, so the zone rate does not interfere */
	labelled_node("g1", "a", FB_COND_TRUE, T0 - 86400 * S, "gpu");
	labelled_node("g2", "b", FB_COND_TRUE, T0 - 86400 * S, "gpu");
	labelled_node("g3", "c", FB_COND_TRUE, T0 - 86400 * S, "gpu");
	for (int i = 0; i < 6; i++) {
		char name[8];
		snprintf(name, sizeof(name), "c%d", i);
		labelled_node(name, i % 3 == 0 ? "a" : i % 3 == 1 ? "b" : "c", FB_COND_TRUE, T0 - 86400 * S, NULL);
	}
	pod("p1", "g1", WEB, ARRIVED, FB_TOL_NONE);
	pod("p2", "g2", WEB, ARRIVED, FB_TOL_NONE);
	pod("p3", "g3", WEB, ARRIVED, FB_TOL_NONE);
	budget("gpu-pool", 1, "{\"nodeSelector\":{\"matchLabels\":{\"pool\":\"gpu\"}},"
	                      "\"windows\":[{\"maxNodes\":1,\"window\":\"1h\"}]}");
	tick(T0);
	labelled_node("g1", "a", FB_COND_UNKNOWN, T0, "gpu");
	labelled_node("g2", "b", FB_COND_UNKNOWN, T0 + 1, "gpu");
	labelled_node("g3", "c", FB_COND_UNKNOWN, T0 + 2, "gpu");
	tick(T0 + 10);
	KT_EQ_INT(count(FB_ACT_EVICT), 1);
	KT_CHECK(find(FB_ACT_EVICT, "p1") != NULL);
	const fb_action *e = find(FB_ACT_EVENT, "EvictionDeferred");
	KT_CHECK(e && strstr(e->message, "EvictionBudget gpu-pool") && strstr(e->message, "1 of 1"));
	KT_CHECK(find(FB_ACT_BUDGET_STATUS, "gpu-pool") != NULL);
	/* deferral events are not repeated every tick */
	tick(T0 + 20 * S);
	KT_EQ_INT(count(FB_ACT_EVENT), 0);
	KT_EQ_INT(count(FB_ACT_EVICT), 0);
	/* the window slides: an hour later the next node goes */
	tick(T0 + 3600 * S + 10);
	KT_EQ_INT(count(FB_ACT_EVICT), 1);
	KT_CHECK(find(FB_ACT_EVICT, "p2") != NULL);
	KT_CHECK(find_all(FB_ACT_EVICT, "p3") == NULL); /* one node per window, on every tick */
	KT_EQ_INT(count_all(FB_ACT_EVICT, NULL), 2);

	cJSON *st = fb_core_budget_status_json(core, "gpu-pool", T0 + 3600 * S + 10);
	KT_CHECK(st != NULL);
	cJSON *usage = cJSON_GetArrayItem(cJSON_GetObjectItem(st, "windowUsage"), 0);
	KT_EQ_INT(cJSON_GetObjectItem(usage, "used")->valueint, 1);
	/* g1's admission is exactly one window old now: out of the record */
	cJSON *adm = cJSON_GetObjectItem(st, "admissions");
	KT_EQ_INT(cJSON_GetArraySize(adm), 1);
	KT_EQ_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(adm, 0), "node")->valuestring, "g2");
	KT_EQ_INT(cJSON_GetObjectItem(st, "selectedNodes")->valueint, 3);
	KT_EQ_INT(cJSON_GetObjectItem(st, "unhealthyNodes")->valueint, 3);
	cJSON_Delete(st);
	teardown();
}

KT_TEST(budget_history_survives_a_restart)
{
	/* A new core (restart or new leader) is given the admissions from status. */
	setup(false);
	labelled_node("g1", "a", FB_COND_TRUE, T0 - 86400 * S, "gpu");
	labelled_node("g2", "b", FB_COND_TRUE, T0 - 86400 * S, "gpu");
	labelled_node("c1", "a", FB_COND_TRUE, T0 - 86400 * S, NULL);
	labelled_node("c2", "b", FB_COND_TRUE, T0 - 86400 * S, NULL);
	pod("p1", "g1", WEB, ARRIVED, FB_TOL_NONE);
	pod("p2", "g2", WEB, ARRIVED, FB_TOL_NONE);
	fb_admission spent = { "g9", T0 - 600 * S }; /* a node admitted 10 min ago */
	budget_admitted("gpu-pool", 1, "{\"nodeSelector\":{\"matchLabels\":{\"pool\":\"gpu\"}},"
	                               "\"windows\":[{\"maxNodes\":1,\"window\":\"1h\"}]}",
	                &spent, 1);
	tick(T0);
	labelled_node("g2", "b", FB_COND_UNKNOWN, T0, "gpu");
	tick(T0);
	KT_EQ_INT(count(FB_ACT_EVICT), 0);
	tick(T0 + 3000 * S + 1);
	KT_EQ_INT(count(FB_ACT_EVICT), 1);
	KT_EQ_INT(count_all(FB_ACT_EVICT, NULL), 1); /* none before the window had room */
	teardown();
}

KT_TEST(new_leader_does_not_charge_an_admission_twice)
{
	setup(false);
	labelled_node("g1", "a", FB_COND_TRUE, T0 - 86400 * S, "gpu");
	labelled_node("g2", "b", FB_COND_TRUE, T0 - 86400 * S, "gpu");
	labelled_node("c1", "a", FB_COND_TRUE, T0 - 86400 * S, NULL);
	labelled_node("c2", "b", FB_COND_TRUE, T0 - 86400 * S, NULL);
	pod("p1", "g1", WEB, ARRIVED, FB_TOL_NONE);
	pod("late", "g1", WEB, ARRIVED, 60);
	/* the old leader admitted g1's current failure before it died */
	fb_admission spent = { "g1", T0 + 5 * S };
	budget_admitted("gpu-pool", 1, "{\"nodeSelector\":{\"matchLabels\":{\"pool\":\"gpu\"}},"
	                               "\"windows\":[{\"maxNodes\":1,\"window\":\"1h\"}]}",
	                &spent, 1);
	labelled_node("g1", "a", FB_COND_UNKNOWN, T0, "gpu");
	fb_core_set_leader(core, false);
	KT_CHECK(tick(T0 + 60 * S) == INT64_MAX);
	KT_EQ_INT(acts.n, 0); /* a follower decides nothing */
	fb_core_set_leader(core, true);
	tick(T0 + 60 * S);
	/* the budget is full (1/1) yet g1 goes on: its admission is already on record */
	KT_CHECK(find(FB_ACT_EVICT, "p1") != NULL);
	KT_CHECK(find(FB_ACT_EVICT, "late") != NULL);
	cJSON *st = fb_core_budget_status_json(core, "gpu-pool", T0 + 60 * S);
	KT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(st, "admissions")), 1);
	cJSON_Delete(st);
	teardown();
}

KT_TEST(max_unhealthy_and_paused_halt)
{
	setup(false);
	for (int i = 0; i < 10; i++) {
		char name[8], p[8];
		snprintf(name, sizeof(name), "g%d", i);
		snprintf(p, sizeof(p), "p%d", i);
		labelled_node(name, i % 2 ? "b" : "a", FB_COND_TRUE, T0 - 86400 * S, "gpu");
		pod(p, name, WEB, ARRIVED, FB_TOL_NONE);
	}
	budget("gpu", 1, "{\"nodeSelector\":{\"matchLabels\":{\"pool\":\"gpu\"}},\"maxUnhealthy\":\"20%\"}");
	tick(T0);
	labelled_node("g0", "a", FB_COND_UNKNOWN, T0, "gpu");
	labelled_node("g1", "b", FB_COND_UNKNOWN, T0, "gpu");
	labelled_node("g2", "a", FB_COND_UNKNOWN, T0, "gpu"); /* 3 of 10 > 20% (2) */
	tick(T0);
	KT_EQ_INT(count(FB_ACT_EVICT), 0);
	KT_CHECK(find(FB_ACT_EVENT, "EvictionsHalted") != NULL);
	KT_CHECK(find(FB_ACT_EVENT, "EvictionHalted") != NULL);
	labelled_node("g2", "a", FB_COND_TRUE, T0 + 5 * S, "gpu"); /* back to 2 of 10 */
	tick(T0 + 5 * S);
	KT_CHECK(count(FB_ACT_EVICT) >= 1);
	budget("gpu", 2, "{\"nodeSelector\":{\"matchLabels\":{\"pool\":\"gpu\"}},\"paused\":true}");
	labelled_node("g4", "a", FB_COND_UNKNOWN, T0 + 100 * S, "gpu");
	tick(T0 + 200 * S);
	KT_CHECK(find_all(FB_ACT_EVICT, "p4") == NULL);
	const fb_action *e = find(FB_ACT_EVENT, "EvictionDeferred");
	KT_CHECK(e && strstr(e->message, "paused"));
	/* g2 was back before its pod could go */
	KT_CHECK(find_all(FB_ACT_EVICT, "p2") == NULL);
	teardown();
}

KT_TEST(invalid_budget_keeps_last_good_spec)
{
	setup(false);
	cluster(4, FB_TOL_NONE);
	budget("all", 1, "{\"windows\":[{\"maxNodes\":0,\"window\":\"1h\"}]}");
	tick(T0);
	budget("all", 2, "{\"windows\":[{\"maxNodes\":5,\"window\":\"an hour\"}]}");
	tick(T0 + 1);
	const fb_action *e = find(FB_ACT_EVENT, "InvalidSpec");
	KT_CHECK(e && strstr(e->message, "spec.windows[0].window") && strstr(e->message, "last good"));
	labelled_node("n0", "a", FB_COND_UNKNOWN, T0 + 2, NULL);
	tick(T0 + 10 * S);
	KT_EQ_INT(count(FB_ACT_EVICT), 0); /* maxNodes 0 still in force */
	KT_EQ_INT(count_all(FB_ACT_EVICT, NULL), 0);
	cJSON *st = fb_core_budget_status_json(core, "all", T0 + 10 * S);
	cJSON *conds = cJSON_GetObjectItem(st, "conditions");
	bool invalid_true = false;
	cJSON *c;
	cJSON_ArrayForEach(c, conds) {
		if (strcmp(cJSON_GetObjectItem(c, "type")->valuestring, "InvalidSpec") == 0)
			invalid_true = strcmp(cJSON_GetObjectItem(c, "status")->valuestring, "True") == 0;
	}
	KT_CHECK(invalid_true);
	KT_EQ_INT(cJSON_GetObjectItem(st, "observedGeneration")->valueint, 2);
	cJSON_Delete(st);
	teardown();
}

KT_TEST(pdb_block_retries_then_deletes_after_timeout)
{
	setup(false);
	cluster(6, FB_TOL_NONE);
	budget("all", 1, "{\"podEviction\":{\"pdbBlockedTimeout\":\"2m\",\"gracePeriodSeconds\":30}}");
	tick(T0);
	labelled_node("n0", "a", FB_COND_UNKNOWN, T0, NULL);
	tick(T0);
	const fb_action *a = find(FB_ACT_EVICT, "p0");
	KT_CHECK(a && a->grace_period_s == 30);
	evicted("p0", FB_EVICT_BLOCKED, T0 + 1 * S);
	int64_t next = tick(T0 + 1 * S);
	KT_CHECK(find(FB_ACT_EVENT, "EvictionBlocked") != NULL);
	KT_EQ_INT(next, T0 + 6 * S); /* 5 s backoff */
	tick(T0 + 6 * S);
	KT_CHECK(find(FB_ACT_EVICT, "p0") != NULL);
	KT_CHECK(find(FB_ACT_EVENT, "EvictionBlocked") == NULL); /* said once */
	evicted("p0", FB_EVICT_BLOCKED, T0 + 6 * S);
	next = tick(T0 + 7 * S);
	KT_EQ_INT(next, T0 + 16 * S); /* doubled */
	for (int64_t t = T0 + 16 * S; t < T0 + 120 * S; t += 1 * S) {
		tick(t);
		if (find(FB_ACT_EVICT, "p0"))
			evicted("p0", FB_EVICT_BLOCKED, t);
		KT_CHECK(find(FB_ACT_DELETE, "p0") == NULL);
	}
	int64_t t;
	for (t = T0 + 120 * S; t < T0 + 300 * S && !find(FB_ACT_DELETE, "p0"); t += 1 * S) {
		tick(t);
		if (find(FB_ACT_EVICT, "p0"))
			evicted("p0", FB_EVICT_BLOCKED, t);
	}
	KT_CHECK(find(FB_ACT_DELETE, "p0") != NULL);
	KT_CHECK(t <= T0 + 181 * S); /* the first try after the 2 min timeout (backoff <= 60 s) */
	KT_CHECK(find(FB_ACT_EVENT, "DeletedAfterPDBTimeout") != NULL);
	KT_EQ_INT(count_all(FB_ACT_DELETE, NULL), 1);
	KT_EQ_INT(count_all(FB_ACT_EVENT, "EvictionBlocked"), 1); /* said once, over all tries */
	teardown();
}

KT_TEST(delete_mode_skips_the_eviction_api)
{
	setup(false);
	cluster(6, FB_TOL_NONE);
	budget("all", 1, "{\"podEviction\":{\"mode\":\"Delete\"}}");
	tick(T0);
	labelled_node("n0", "a", FB_COND_UNKNOWN, T0, NULL);
	tick(T0);
	KT_CHECK(find(FB_ACT_DELETE, "p0") != NULL);
	KT_EQ_INT(count_all(FB_ACT_EVICT, NULL), 0);
	teardown();
}

KT_TEST(dry_run_reports_and_writes_nothing)
{
	setup(true);
	cluster(6, FB_TOL_NONE);
	budget("all", 1, "{\"windows\":[{\"maxNodes\":3,\"window\":\"1h\"}]}");
	tick(T0);
	labelled_node("n0", "a", FB_COND_UNKNOWN, T0, NULL);
	tick(T0);
	const fb_action *a = find(FB_ACT_EVICT, "p0");
	KT_CHECK(a && a->dry_run);
	const fb_action *e = find(FB_ACT_EVENT, "Evicting");
	KT_CHECK(e && e->dry_run && strncmp(e->message, "(dry run)", 9) == 0);
	KT_EQ_INT(count(FB_ACT_BUDGET_STATUS), 0);
	/* done: not reported again, and nothing waits for a result */
	tick(T0 + 60 * S);
	KT_EQ_INT(count(FB_ACT_EVICT), 0);
	KT_EQ_INT(count_all(FB_ACT_EVICT, NULL), 1);
	KT_EQ_INT(count_all(FB_ACT_BUDGET_STATUS, NULL), 0); /* on no tick */
	teardown();
}

KT_TEST(work_per_tick_is_bounded)
{
	fb_core_config cfg;
	fb_core_config_defaults(&cfg);
	ratio_rule(&cfg);
	cfg.max_pod_actions_per_tick = 10;
	setup_config(&cfg);
	cluster(6, FB_TOL_NONE);
	for (int i = 0; i < 25; i++) {
		char p[16];
		snprintf(p, sizeof(p), "extra%d", i);
		pod(p, "n0", WEB, ARRIVED, FB_TOL_NONE);
	}
	tick(T0);
	labelled_node("n0", "a", FB_COND_UNKNOWN, T0, NULL);
	int64_t next = tick(T0);
	KT_EQ_INT(count(FB_ACT_EVICT), 10);
	KT_EQ_INT(next, T0); /* more to do at once */
	tick(T0);
	KT_EQ_INT(count(FB_ACT_EVICT), 10);
	tick(T0);
	KT_EQ_INT(count(FB_ACT_EVICT), 6);
	teardown();
}

/*
 * A pod first seen on a node not observed yet (a placeholder), then on another;
 * a node deleted under its pod, then the pod unscheduled: the tables stay
 * consistent (the checked core verifies them after every tick) and the pod is
 * judged on the node it is on now.
 */
KT_TEST(pods_moving_off_placeholder_nodes_keep_the_tables_whole)
{
	setup(false);
	node("other", "y", FB_COND_TRUE, T0 - 3600 * S); /* so that one failed zone is not an outage */
	pod("p0", "ghost", WEB, ARRIVED, 30);
	tick(T0);
	node("real", "z", FB_COND_TRUE, T0 - 3600 * S);
	pod("p0", "real", WEB, ARRIVED, 30);
	tick(T0 + 1 * S);
	KT_EQ_INT(count_all(FB_ACT_EVICT, NULL), 0);
	node("real", "z", FB_COND_UNKNOWN, T0 + 2 * S);
	tick(T0 + 40 * S);
	const fb_action *e = find(FB_ACT_EVICT, "p0");
	KT_CHECK(e && !strcmp(e->node, "real"));
	KT_CHECK(find_all(FB_ACT_EVENT, NULL) != NULL);
	for (size_t i = 0; i < acts.n; i++)
		KT_CHECK(strcmp(acts.v[i].name, "ghost") != 0 && strcmp(acts.v[i].node, "ghost") != 0);
	teardown();

	setup(false);
	node("other", "y", FB_COND_TRUE, T0 - 3600 * S);
	node("gone", "z", FB_COND_TRUE, T0 - 3600 * S);
	pod("p1", "gone", WEB, ARRIVED, 30);
	tick(T0);
	fb_core_node_delete(core, "gone");
	tick(T0 + 1 * S);
	pod("p1", NULL, WEB, ARRIVED, 30);
	tick(T0 + 2 * S);
	node("gone", "z", FB_COND_FALSE, T0 + 3 * S);
	tick(T0 + 60 * S);
	KT_EQ_INT(count_all(FB_ACT_EVICT, NULL), 0); /* p1 is no longer on it */
	teardown();
}

int main(void)
{
	KT_RUN(pod_is_evicted_when_its_toleration_expires);
	KT_RUN(tolerations_decide_due_times);
	KT_RUN(node_that_recovers_in_time_keeps_its_pods);
	KT_RUN(zone_rate_spaces_nodes_ten_seconds_apart);
	KT_RUN(partial_disruption_of_small_zone_stops_evictions);
	KT_RUN(all_zones_fully_disrupted_evicts_nothing);
	KT_RUN(budget_window_admits_one_node_and_names_itself);
	KT_RUN(budget_history_survives_a_restart);
	KT_RUN(new_leader_does_not_charge_an_admission_twice);
	KT_RUN(max_unhealthy_and_paused_halt);
	KT_RUN(invalid_budget_keeps_last_good_spec);
	KT_RUN(pdb_block_retries_then_deletes_after_timeout);
	KT_RUN(delete_mode_skips_the_eviction_api);
	KT_RUN(dry_run_reports_and_writes_nothing);
	KT_RUN(work_per_tick_is_bounded);
	KT_RUN(pods_moving_off_placeholder_nodes_keep_the_tables_whole);
	return KT_DONE();
}
