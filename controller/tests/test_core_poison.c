/*
 * Poison detection and quarantine in the decision core: the cascade stops at
 * the second node, coincidences in a busy cluster quarantine nothing, the
 * evidence survives a restart, and a release undoes everything.
 */
#include <stdio.h>
#include <stdlib.h>

#include "core.h"
#include "coretest.h"
#include "kc/alloc.h"
#include "kctest.h"

static void setup_settle(bool dry_run, int64_t settle_ms)
{
	fb_core_config cfg;
	fb_core_config_defaults(&cfg);
	ratio_rule(&cfg);
	cfg.dry_run = dry_run;
	cfg.poison_settle_ms = settle_ms;
	setup_config(&cfg);
}

/* Most tests look at the verdict itself: judged the moment a failure is recorded. */
static void setup_at_once(bool dry_run)
{
	setup_settle(dry_run, 0);
}

/* The pods' tolerations of the failure taints, in seconds. */
#define TOL 30

/* Six healthy nodes; innocent web pods everywhere, long settled. */
static void cluster(void)
{
	for (int i = 1; i <= 6; i++) {
		char n[8], p[16];
		snprintf(n, sizeof(n), "n%d", i);
		snprintf(p, sizeof(p), "web-%d", i);
		node(n, NULL, FB_COND_TRUE, T0 - 86400 * S);
		pod(p, n, WEB, T0 - 86400 * S, TOL);
	}
}

KT_TEST(cascade_stops_at_the_second_node)
{
	setup_at_once(false);
	cluster();
	tick(T0);
	/* the poison pod lands on n1; n1 dies 25 s later */
	pod("poison-a", "n1", POISON, T0, TOL);
	node("n1", NULL, FB_COND_UNKNOWN, T0 + 25 * S);
	tick(T0 + 25 * S);
	const fb_action *ann = find(FB_ACT_NODE_ANNOTATE, "n1");
	KT_CHECK(ann && payload(ann) && strstr(payload(ann), POISON));
	KT_CHECK(find(FB_ACT_EVENT, "FailureRecorded") != NULL);
	KT_CHECK(find(FB_ACT_QUARANTINE, NULL) == NULL); /* one failure is not a verdict */
	/* its pods (poison included) are evicted after the 30 s toleration */
	tick(T0 + 55 * S);
	KT_CHECK(find(FB_ACT_EVICT, "poison-a") && find(FB_ACT_EVICT, "web-1"));
	evicted("poison-a", FB_EVICT_OK, T0 + 55 * S);
	evicted("web-1", FB_EVICT_OK, T0 + 55 * S);
	pod_gone("poison-a");
	pod_gone("web-1");
	/* the replacement lands on n2, which dies the same way */
	pod("poison-b", "n2", POISON, T0 + 56 * S, TOL);
	pod("web-1b", "n3", WEB, T0 + 56 * S, TOL);
	node("n2", NULL, FB_COND_UNKNOWN, T0 + 81 * S);
	tick(T0 + 81 * S);
	const fb_action *q = find(FB_ACT_QUARANTINE, NULL);
	KT_CHECK(q != NULL);
	KT_CHECK(q && !strcmp(q->ns, "default") && !strcmp(q->name, "deployment-poison"));
	KT_CHECK(q && payload(q) && strstr(payload(q), "\"migratedFrom\":\"n1\"") &&
	         strstr(payload(q), "MigrationChain") && strstr(payload(q), "\"taintedNodes\":[\"n1\",\"n2\"]"));
	KT_EQ_INT(count(FB_ACT_TAINT), 2);
	const fb_action *t = find(FB_ACT_TAINT, "n2");
	KT_CHECK(t && !strcmp(t->taint, "default.Deployment.poison"));
	const fb_action *e = find(FB_ACT_EVENT, "Quarantined");
	KT_CHECK(e && e->obj == FB_OBJ_WORKLOAD && !strcmp(e->workload.kind, "Deployment"));
	KT_CHECK(e && strstr(e->message, "arrived on n1 and n2 within"));
	/* the poison pod on n2 stays; the innocent pod on n2 leaves as usual */
	pod("web-2", "n2", WEB, T0 - 86400 * S, TOL);
	tick(T0 + 111 * S);
	KT_CHECK(find(FB_ACT_EVICT, "poison-b") == NULL);
	KT_CHECK(find(FB_ACT_EVICT, "web-2") != NULL);
	KT_CHECK(find(FB_ACT_EVENT, "Pinned") != NULL);
	tick(T0 + 3600 * S);
	KT_CHECK(find_all(FB_ACT_EVICT, "poison-b") == NULL); /* on no tick */
	KT_EQ_INT(count_all(FB_ACT_QUARANTINE, NULL), 1); /* at the second failure, once */
	fb_core_stats st;
	fb_core_get_stats(core, &st);
	KT_EQ_INT(st.quarantines_active, 1);
	KT_EQ_INT(st.nodes_lost_before_quarantine, 2);
	teardown();
}

/* The last annotation written to node in this tick's actions (a copy), or NULL. */
static char *annotation_of(const char *node)
{
	const char *last = NULL;
	for (size_t a = 0; a < acts.n; a++)
		if (acts.v[a].kind == FB_ACT_NODE_ANNOTATE && !strcmp(acts.v[a].name, node))
			last = payload(&acts.v[a]);
	return last ? kc_strdup(last) : NULL;
}

static const char *const zones6[] = { "a", "b", "c", "a", "b", "c" };

/* Six nodes in three zones with settled web pods; then batch, 2 replicas, lands on n1 and n2. */
static void zoned_cluster_with_rollout(void)
{
	setup_settle(false, FB_POISON_SETTLE_DEFAULT_MS);
	for (int i = 1; i <= 6; i++) {
		char n[8], p[16];
		snprintf(n, sizeof(n), "n%d", i);
		snprintf(p, sizeof(p), "web-%d", i);
		node(n, zones6[i - 1], FB_COND_TRUE, T0 - 86400 * S);
		pod(p, n, WEB, T0 - 86400 * S, TOL);
	}
	tick(T0);
	pod("batch-1", "n1", "Deployment/default/batch", T0, TOL);
	pod("batch-2", "n2", "Deployment/default/batch", T0 + 1 * S, TOL);
}

/*
 * The outage: the node lifecycle controller marks n<i> (1..6) with ready at its monitor
 * pass, one every 2 s from T0 + 60 s; annotation is what the informer shows on the node.
 * Returns that time.
 */
static int64_t outage_mark(int i, fb_cond ready, const char *annotation)
{
	char n[8];
	snprintf(n, sizeof(n), "n%d", i);
	int64_t t = T0 + 60 * S + (i - 1) * 2 * S;
	node_with(n, ready, t, &(node_spec){ .zone = zones6[i - 1], .failure_annotation = annotation });
	return t;
}

/*
 * The control plane loses every node of a 6-node, 3-zone cluster a minute after a
 * 2-replica Deployment rolled out onto n1 and n2. The node lifecycle controller marks the
 * nodes Unknown one by one, n1 and n2 first, and firebreak ticks in between: the first two
 * failures look like a poison killing two nodes, until the rest show a cluster-wide outage.
 * Nothing may be quarantined, and the records on n1 and n2 are rewritten without suspects.
 */
KT_TEST(cluster_wide_outage_quarantines_nothing)
{
	zoned_cluster_with_rollout();
	int cleared = 0;
	int written = 0;
	for (int i = 1; i <= 6; i++) {
		char n[8];
		snprintf(n, sizeof(n), "n%d", i);
		tick(outage_mark(i, FB_COND_UNKNOWN, NULL));
		for (size_t a = 0; a < acts.n; a++) {
			if (acts.v[a].kind != FB_ACT_NODE_ANNOTATE || !payload(&acts.v[a]))
				continue;
			written += !strcmp(acts.v[a].name, n);
			if ((!strcmp(acts.v[a].name, "n1") || !strcmp(acts.v[a].name, "n2")) &&
			    !strstr(payload(&acts.v[a]), "batch"))
				cleared++;
		}
	}
	/* every failure is written down when recorded: n1 and n2 (suspects), n3 (first of
	 * zone c, with no recent arrival: the node's history only), n4, n5, n6 (outages of
	 * zones a, b, c) */
	KT_EQ_INT(written, 6);
	for (int64_t t = T0 + 71 * S; t <= T0 + 10 * MIN; t += 5 * S)
		tick(t);
	/* on no tick */
	KT_EQ_INT(count_all(FB_ACT_QUARANTINE, NULL), 0);
	KT_EQ_INT(count_all(FB_ACT_TAINT, NULL), 0);
	KT_EQ_INT(cleared, 2);
	fb_core_stats st;
	fb_core_get_stats(core, &st);
	KT_EQ_INT(st.quarantines_total, 0);
	KT_EQ_INT(st.suspects, 0);
	teardown();
}

/*
 * As cluster_wide_outage_quarantines_nothing, but batch has one more, older pod on n7,
 * which failed a minute before and whose eviction a PodDisruptionBudget blocks: a pod of
 * batch overdue on a failed node while the outage is marked. It must not make batch judged
 * before the outage shows (found by review: it did, and batch was quarantined).
 */
KT_TEST(cluster_wide_outage_with_a_stuck_pod_quarantines_nothing)
{
	zoned_cluster_with_rollout();
	node("n7", "a", FB_COND_TRUE, T0 - 86400 * S);
	pod("batch-0", "n7", "Deployment/default/batch", T0 - 86400 * S, TOL);
	tick(T0 + 1 * S);
	node("n7", "a", FB_COND_UNKNOWN, T0 + 2 * S);
	tick(T0 + 2 * S);
	tick(T0 + 2 * S + TOL * S);
	KT_CHECK(find(FB_ACT_EVICT, "batch-0") != NULL);
	evicted("batch-0", FB_EVICT_BLOCKED, T0 + 2 * S + TOL * S);
	tick(T0 + 40 * S);
	for (int i = 1; i <= 6; i++)
		tick(outage_mark(i, FB_COND_UNKNOWN, NULL));
	for (int64_t t = T0 + 71 * S; t <= T0 + 10 * MIN; t += 5 * S)
		tick(t);
	KT_EQ_INT(count_all(FB_ACT_QUARANTINE, NULL), 0); /* on no tick */
	teardown();
}

/*
 * A follower saw the leader's first records of n1 and n2 (with suspects), then the same
 * records rewritten without them once the outage showed. It takes over after the outage:
 * it must judge as the leader would have, and quarantine nothing.
 */
KT_TEST(follower_forgets_suspects_the_leader_dropped)
{
	char *first[7] = { 0 }, *final[7] = { 0 };
	zoned_cluster_with_rollout();
	for (int i = 1; i <= 6; i++) {
		tick(outage_mark(i, FB_COND_UNKNOWN, NULL));
		for (int j = 1; j <= 6; j++) {
			char m[8];
			snprintf(m, sizeof(m), "n%d", j);
			char *a = annotation_of(m);
			if (!a)
				continue;
			if (!first[j])
				first[j] = kc_strdup(a);
			kc_free(final[j]);
			final[j] = a;
		}
	}
	teardown();
	KT_CHECK(first[1] && strstr(first[1], "batch") && final[1] && !strstr(final[1], "batch"));

	zoned_cluster_with_rollout();
	fb_core_set_leader(core, false);
	for (int pass = 0; pass < 2; pass++) /* the first records, then the rewritten ones */
		for (int i = 1; i <= 6; i++)
			outage_mark(i, FB_COND_UNKNOWN, pass ? final[i] : first[i]);
	/* the outage ends for all but n1 and n2; then this replica becomes leader */
	for (int i = 3; i <= 6; i++) {
		char n[8];
		snprintf(n, sizeof(n), "n%d", i);
		node(n, zones6[i - 1], FB_COND_TRUE, T0 + 20 * MIN);
	}
	fb_core_set_leader(core, true);
	size_t led = log_mark();
	for (int64_t t = T0 + 20 * MIN; t <= T0 + 30 * MIN; t += 5 * S)
		tick(t);
	/* on no tick as leader */
	KT_EQ_INT(count_since(led, FB_ACT_QUARANTINE, NULL), 0);
	KT_EQ_INT(count_since(led, FB_ACT_EVENT, "FailureRecorded"), 0); /* read back, not again */
	for (int i = 0; i < 7; i++) {
		kc_free(first[i]);
		kc_free(final[i]);
	}
	teardown();
}

/*
 * Tolerations of 5 s, shorter than the settling: the verdict must still come before the
 * poison's second pod is due, although the first failure has not settled yet.
 */
KT_TEST(verdict_comes_before_a_short_toleration_expires)
{
	setup_settle(false, FB_POISON_SETTLE_DEFAULT_MS);
	cluster();
	tick(T0);
	pod("poison-1", "n1", POISON, T0, 5);
	node("n1", NULL, FB_COND_UNKNOWN, T0 + 20 * S);
	tick(T0 + 20 * S);
	tick(T0 + 25 * S);
	KT_CHECK(find(FB_ACT_EVICT, "poison-1") != NULL); /* one failure: no verdict yet */
	evicted("poison-1", FB_EVICT_OK, T0 + 25 * S);
	pod_gone("poison-1");
	pod("poison-2", "n2", POISON, T0 + 26 * S, 5);
	node("n2", NULL, FB_COND_UNKNOWN, T0 + 27 * S);
	int64_t next = tick(T0 + 27 * S);
	KT_CHECK(find(FB_ACT_QUARANTINE, NULL) == NULL);
	KT_CHECK(next <= T0 + 32 * S);
	tick(T0 + 32 * S);
	KT_CHECK(find(FB_ACT_QUARANTINE, NULL) != NULL);
	KT_CHECK(find_all(FB_ACT_EVICT, "poison-2") == NULL); /* on no tick */
	teardown();
}

/* The same two failures with the rest of the cluster healthy: a poison, judged once settled. */
KT_TEST(two_failures_are_judged_once_settled)
{
	zoned_cluster_with_rollout();
	node("n1", "a", FB_COND_UNKNOWN, T0 + 60 * S);
	node("n2", "b", FB_COND_UNKNOWN, T0 + 62 * S);
	int64_t next = tick(T0 + 62 * S);
	KT_CHECK(find(FB_ACT_QUARANTINE, NULL) == NULL);
	/* settled 15 s after the second failure, before any pod is due (tolerations 30 s) */
	KT_EQ_INT(next, T0 + 77 * S);
	tick(T0 + 77 * S);
	KT_CHECK(find(FB_ACT_QUARANTINE, NULL) != NULL);
	KT_CHECK(find_all(FB_ACT_EVICT, "batch-1") == NULL); /* on no tick */
	KT_CHECK(find_all(FB_ACT_EVICT, "batch-2") == NULL);
	teardown();
}

KT_TEST(two_replicas_killing_two_nodes_at_once)
{
	setup_at_once(false);
	cluster();
	tick(T0);
	pod("poison-a", "n1", POISON, T0, TOL);
	pod("poison-b", "n2", POISON, T0, TOL);
	node("n1", NULL, FB_COND_UNKNOWN, T0 + 25 * S);
	node("n2", NULL, FB_COND_UNKNOWN, T0 + 26 * S);
	tick(T0 + 26 * S);
	KT_CHECK(find(FB_ACT_QUARANTINE, NULL) != NULL);
	tick(T0 + 60 * S);
	/* on no tick */
	KT_CHECK(find_all(FB_ACT_EVICT, "poison-a") == NULL && find_all(FB_ACT_EVICT, "poison-b") == NULL);
	KT_CHECK(find(FB_ACT_EVICT, "web-1") && find(FB_ACT_EVICT, "web-2"));
	teardown();
}

KT_TEST(rollout_with_random_failures_quarantines_nothing)
{
	/* a workload rolled out onto 20 nodes; 2 of them fail at random within the hour */
	setup_at_once(false);
	for (int i = 1; i <= 20; i++) {
		char n[8], p[16];
		snprintf(n, sizeof(n), "n%d", i);
		snprintf(p, sizeof(p), "api-%d", i);
		node(n, NULL, FB_COND_TRUE, T0 - 86400 * S);
		pod(p, n, "Deployment/default/api", T0 + i * S, TOL);
	}
	tick(T0 + 60 * S);
	node("n3", NULL, FB_COND_UNKNOWN, T0 + 10 * MIN);
	tick(T0 + 10 * MIN);
	node("n11", NULL, FB_COND_FALSE, T0 + 20 * MIN);
	tick(T0 + 20 * MIN);
	KT_CHECK(find(FB_ACT_QUARANTINE, NULL) == NULL);
	KT_EQ_INT(count(FB_ACT_TAINT), 0);
	tick(T0 + 21 * MIN);
	KT_CHECK(find(FB_ACT_EVICT, "api-3") || find(FB_ACT_EVICT, "api-11"));
	/* on no tick */
	KT_EQ_INT(count_all(FB_ACT_QUARANTINE, NULL), 0);
	KT_EQ_INT(count_all(FB_ACT_TAINT, NULL), 0);
	fb_core_stats st;
	fb_core_get_stats(core, &st);
	KT_EQ_INT(st.quarantines_total, 0);
	KT_EQ_INT(st.suspects, 1);
	teardown();
}

KT_TEST(old_arrivals_are_not_suspects)
{
	setup_at_once(false);
	cluster();
	tick(T0);
	/* web pods arrived a day ago: two failures say nothing about them */
	node("n1", NULL, FB_COND_UNKNOWN, T0 + 10 * S);
	node("n2", NULL, FB_COND_UNKNOWN, T0 + 20 * S);
	tick(T0 + 30 * S);
	KT_CHECK(find_all(FB_ACT_QUARANTINE, NULL) == NULL);
	/* written down for the nodes' history, with no suspect */
	const fb_action *a = find_all(FB_ACT_NODE_ANNOTATE, "n1");
	KT_CHECK(a && payload(a) && strstr(payload(a), "\"arrivals\":[]"));
	KT_EQ_INT(count_all(FB_ACT_EVENT, "FailureRecorded"), 0);
	teardown();
}

KT_TEST(evidence_on_nodes_survives_a_restart)
{
	/* leader 1 records n1's failure, then dies */
	setup_at_once(false);
	cluster();
	tick(T0);
	pod("poison-a", "n1", POISON, T0, TOL);
	node("n1", NULL, FB_COND_UNKNOWN, T0 + 25 * S);
	tick(T0 + 25 * S);
	const fb_action *ann = find(FB_ACT_NODE_ANNOTATE, "n1");
	char *saved = ann && payload(ann) ? kc_strdup(payload(ann)) : NULL;
	KT_CHECK(saved != NULL);
	teardown();

	/* leader 2 starts from what the API holds: n1 annotated, the poison moved to n2 */
	setup_at_once(false);
	cluster();
	node_with("n1", FB_COND_UNKNOWN, T0 + 25 * S, &(node_spec){ .failure_annotation = saved });
	pod("poison-b", "n2", POISON, T0 + 56 * S, TOL);
	tick(T0 + 60 * S);
	KT_CHECK(find(FB_ACT_NODE_ANNOTATE, "n1") == NULL); /* not written again */
	KT_CHECK(find(FB_ACT_QUARANTINE, NULL) == NULL);
	node("n2", NULL, FB_COND_UNKNOWN, T0 + 81 * S);
	tick(T0 + 81 * S);
	const fb_action *q = find(FB_ACT_QUARANTINE, NULL);
	KT_CHECK(q && strstr(payload(q), "\"migratedFrom\":\"n1\""));
	KT_CHECK(find_all(FB_ACT_NODE_ANNOTATE, "n1") == NULL); /* on no tick of leader 2 */
	kc_free(saved);
	teardown();
}

KT_TEST(release_untaints_and_lets_pods_go)
{
	setup_at_once(false);
	cluster();
	pod("poison-a", "n1", POISON, T0, TOL);
	pod("poison-b", "n2", POISON, T0, TOL);
	tick(T0);
	node("n1", NULL, FB_COND_UNKNOWN, T0 + 25 * S);
	node("n2", NULL, FB_COND_UNKNOWN, T0 + 25 * S);
	tick(T0 + 25 * S);
	KT_CHECK(find(FB_ACT_QUARANTINE, NULL) != NULL);
	/* the informer shows the Quarantine and the taints */
	KT_EQ_INT(qset("deployment-poison", "Deployment", "poison", false, FB_POISON_PIN, -1, false,
	               T0 + 26 * S), 0);
	node_with("n1", FB_COND_UNKNOWN, T0 + 25 * S,
	          &(node_spec){ .quarantine_taint = "default.Deployment.poison" });
	node_with("n2", FB_COND_UNKNOWN, T0 + 25 * S,
	          &(node_spec){ .quarantine_taint = "default.Deployment.poison" });
	node_with("n3", FB_COND_TRUE, T0 - 86400 * S,
	          &(node_spec){ .quarantine_taint = "other.Deployment.x" }); /* not ours */
	tick(T0 + 100 * S);
	/* pinned until the release, on every tick */
	KT_CHECK(find_all(FB_ACT_EVICT, "poison-a") == NULL);
	KT_CHECK(find_all(FB_ACT_EVICT, "poison-b") == NULL);
	KT_EQ_INT(count_all(FB_ACT_UNTAINT, NULL), 0);
	/* the operator deletes the Quarantine */
	size_t released = log_mark();
	fb_core_quarantine_delete(core, WK("Deployment", "default", "poison"), T0 + 200 * S);
	tick(T0 + 200 * S);
	KT_CHECK(find(FB_ACT_UNTAINT, "n1") && find(FB_ACT_UNTAINT, "n2"));
	KT_CHECK(find(FB_ACT_UNTAINT, "n3") == NULL);
	KT_CHECK(find(FB_ACT_EVENT, "QuarantineReleased") != NULL);
	KT_CHECK(find(FB_ACT_EVICT, "poison-a") && find(FB_ACT_EVICT, "poison-b"));
	tick(T0 + 201 * S);
	/* old evidence does not bring the verdict back, on any tick */
	KT_EQ_INT(count_since(released, FB_ACT_QUARANTINE, NULL), 0);
	KT_EQ_INT(count_since(released, FB_ACT_TAINT, NULL), 0);
	KT_CHECK(find_all(FB_ACT_UNTAINT, "n3") == NULL);
	teardown();
}

KT_TEST(spec_release_marks_the_object_released)
{
	setup_at_once(false);
	cluster();
	pod("poison-a", "n1", POISON, T0, TOL);
	pod("poison-b", "n2", POISON, T0, TOL);
	tick(T0);
	node("n1", NULL, FB_COND_UNKNOWN, T0 + 25 * S);
	node("n2", NULL, FB_COND_UNKNOWN, T0 + 25 * S);
	tick(T0 + 25 * S);
	KT_EQ_INT(qset("deployment-poison", "Deployment", "poison", false, FB_POISON_PIN, -1, false,
	               T0 + 26 * S), 0);
	tick(T0 + 27 * S);
	KT_EQ_INT(count(FB_ACT_QUARANTINE_RELEASED), 0);
	/* the operator sets spec.release: true */
	KT_EQ_INT(qset("deployment-poison", "Deployment", "poison", true, FB_POISON_PIN, -1, false,
	               T0 + 100 * S), 0);
	tick(T0 + 100 * S);
	const fb_action *r = find(FB_ACT_QUARANTINE_RELEASED, "deployment-poison");
	KT_CHECK(r && !strcmp(r->ns, "default"));
	KT_CHECK(find(FB_ACT_EVICT, "poison-a") != NULL);
	tick(T0 + 101 * S);
	KT_EQ_INT(count(FB_ACT_QUARANTINE_RELEASED), 0);
	KT_EQ_INT(count_all(FB_ACT_QUARANTINE_RELEASED, NULL), 1); /* said once */
	teardown();
}

KT_TEST(dry_run_budget_covers_poison_writes)
{
	setup_at_once(false);
	cluster();
	budget("rollout", 1, "{\"dryRun\":true}");
	pod("poison-a", "n1", POISON, T0, TOL);
	pod("poison-b", "n2", POISON, T0, TOL);
	tick(T0);
	node("n1", NULL, FB_COND_UNKNOWN, T0 + 25 * S);
	node("n2", NULL, FB_COND_UNKNOWN, T0 + 25 * S);
	tick(T0 + 25 * S);
	const fb_action *e = find(FB_ACT_EVENT, "Quarantined");
	KT_CHECK(e && e->dry_run);
	KT_EQ_INT(count_all(FB_ACT_NODE_ANNOTATE, NULL), 0);
	KT_EQ_INT(count_all(FB_ACT_TAINT, NULL), 0);
	KT_EQ_INT(count_all(FB_ACT_QUARANTINE, NULL), 0);
	teardown();
}

KT_TEST(dry_run_reports_the_verdict_only)
{
	setup_at_once(true);
	cluster();
	pod("poison-a", "n1", POISON, T0, TOL);
	pod("poison-b", "n2", POISON, T0, TOL);
	tick(T0);
	node("n1", NULL, FB_COND_UNKNOWN, T0 + 25 * S);
	node("n2", NULL, FB_COND_UNKNOWN, T0 + 25 * S);
	tick(T0 + 25 * S);
	const fb_action *e = find(FB_ACT_EVENT, "Quarantined");
	KT_CHECK(e && e->dry_run && !strncmp(e->message, "(dry run)", 9));
	KT_EQ_INT(count(FB_ACT_QUARANTINE), 0);
	KT_EQ_INT(count(FB_ACT_TAINT), 0);
	KT_EQ_INT(count(FB_ACT_NODE_ANNOTATE), 0);
	/* nothing is pinned in dry run: evictions are reported as usual */
	tick(T0 + 60 * S);
	const fb_action *a = find(FB_ACT_EVICT, "poison-a");
	KT_CHECK(a && a->dry_run);
	/* nothing written on any tick */
	KT_EQ_INT(count_all(FB_ACT_QUARANTINE, NULL), 0);
	KT_EQ_INT(count_all(FB_ACT_TAINT, NULL), 0);
	KT_EQ_INT(count_all(FB_ACT_NODE_ANNOTATE, NULL), 0);
	teardown();
}

KT_TEST(failure_annotation_round_trips_and_rejects_garbage)
{
	fb_failure f = { 0 }, back;
	f.node = kc_strdup("n1");
	f.failed_ms = T0 + 123;
	f.memory_pressure = true;
	KT_EQ_INT(fb_failure_add_suspect(&f, POISON, "poison-a", T0 - 5 * S, "n0"), 0);
	KT_EQ_INT(fb_failure_add_suspect(&f, WEB, "web-1", T0 - 9 * S, NULL), 0);
	char *json = fb_failure_to_json(&f);
	KT_CHECK(json != NULL);
	KT_EQ_INT(fb_failure_from_json(json, "n1", &back), 0);
	KT_EQ_INT(back.failed_ms, f.failed_ms);
	KT_CHECK(back.memory_pressure);
	KT_EQ_INT(back.n, 2);
	KT_EQ_STR(back.s[0].migrated_from, "n0");
	KT_CHECK(back.s[1].migrated_from == NULL);
	KT_EQ_INT(back.s[1].arrived_ms, T0 - 9 * S);
	fb_failure_release(&back);
	const char *bad[] = { "", "{}", "[]", "{\"failedAt\":7}", "{\"failedAt\":\"yesterday\"}",
		              "{\"failedAt\":\"2026-01-01T00:00:00Z\",\"arrivals\":{}}",
		              "{\"failedAt\":\"2026-01-01T00:00:00Z\",\"arrivals\":[{\"pod\":\"x\"}]}" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		KT_EQ_INT(fb_failure_from_json(bad[i], "n1", &back), -1);
	kc_free(json);
	fb_failure_release(&f);
}

KT_TEST(verdict_rule)
{
	KT_CHECK(fb_poison_verdict(2, 0, 2, 0.5));
	KT_CHECK(fb_poison_verdict(2, 2, 2, 0.5));
	KT_CHECK(!fb_poison_verdict(2, 3, 2, 0.5));
	KT_CHECK(!fb_poison_verdict(1, 0, 2, 0.5));
	KT_CHECK(fb_poison_verdict(3, 1, 3, 0.5));
	char tv[64];
	fb_quarantine_taint_value(WK("Deployment", "gpu", "render"), tv);
	KT_EQ_STR(tv, "gpu.Deployment.render");
	fb_quarantine_taint_value(WK("StatefulSet", "a-very-long-namespace-name-indeed",
	                             "with-an-even-longer-workload-name-that-goes-on"),
	                          tv);
	KT_CHECK(strlen(tv) <= 63);
	KT_CHECK(!strncmp(tv, "a-very-long-namespace-name-indeed.StatefulSet.", 46));
}

int main(void)
{
	KT_RUN(cascade_stops_at_the_second_node);
	KT_RUN(two_replicas_killing_two_nodes_at_once);
	KT_RUN(cluster_wide_outage_quarantines_nothing);
	KT_RUN(cluster_wide_outage_with_a_stuck_pod_quarantines_nothing);
	KT_RUN(two_failures_are_judged_once_settled);
	KT_RUN(follower_forgets_suspects_the_leader_dropped);
	KT_RUN(verdict_comes_before_a_short_toleration_expires);
	KT_RUN(rollout_with_random_failures_quarantines_nothing);
	KT_RUN(old_arrivals_are_not_suspects);
	KT_RUN(evidence_on_nodes_survives_a_restart);
	KT_RUN(release_untaints_and_lets_pods_go);
	KT_RUN(spec_release_marks_the_object_released);
	KT_RUN(dry_run_budget_covers_poison_writes);
	KT_RUN(dry_run_reports_the_verdict_only);
	KT_RUN(failure_annotation_round_trips_and_rejects_garbage);
	KT_RUN(verdict_rule);
	return KT_DONE();
}
