/*
 * Managed mode in the decision core (core/managed.c): Kubernetes' taint-eviction
 * controller stays on, firebreak evicts only the pods it covers, adopts the others
 * at a set rate (pods of failed nodes first), reports the ones it cannot cover, and
 * with the mode off gives covered pods their seconds back.
 */
#include <stdio.h>
#include <string.h>

#include "core.h"
#include "coretest.h"
#include "kctest.h"

#define ARRIVED (T0 - 3600 * S)

static void setup_managed(bool managed, double per_s, bool dry_run)
{
	fb_core_config c;
	fb_core_config_defaults(&c);
	c.managed = managed;
	c.adopt_per_s = per_s;
	c.dry_run = dry_run;
	setup_config(&c);
}

/* A pod of WEB on node `on` as the informer shows it in managed mode: uncovered (its spec
 * still has the 300 s, Kubernetes evicts it) or covered (forever in the spec, 300 recorded). */
static void mpod(const char *name, const char *on, bool covered)
{
	pod_with(name, on, &(pod_spec){ .workload = WEB, .arrived_ms = ARRIVED, .tol_s = 300,
	                                .k8s_evicts = !covered, .annotated = covered });
}

static fb_core_stats stats(void)
{
	fb_core_stats st;
	fb_core_get_stats(core, &st);
	return st;
}

static void healthy_nodes(int n)
{
	for (int i = 0; i < n; i++) {
		char name[16];
		snprintf(name, sizeof(name), "n%d", i);
		node(name, "a", FB_COND_TRUE, T0 - 86400 * S);
	}
}

KT_TEST(uncovered_pods_are_adopted_at_the_set_rate)
{
	setup_managed(true, 10, false);
	healthy_nodes(4);
	for (int i = 0; i < 100; i++) {
		char name[16], on[16];
		snprintf(name, sizeof(name), "p%d", i);
		snprintf(on, sizeof(on), "n%d", i % 4);
		mpod(name, on, false);
	}
	tick(T0);
	/* the bucket holds one second of the rate */
	KT_EQ_INT(count(FB_ACT_COVER), 10);
	KT_EQ_INT(stats().pods_uncovered, 100);
	/* 10 a second, whichever way the ticks fall */
	int asked = 10;
	for (int64_t t = T0 + 250; t <= T0 + 9 * S; t += 250) {
		tick(t);
		asked += count(FB_ACT_COVER);
	}
	KT_EQ_INT(asked, 100); /* at 0, 1, ..., 9 s */
	/* each pod once: none is asked again before its 10 s */
	for (int i = 0; i < 100; i++) {
		char name[16];
		snprintf(name, sizeof(name), "p%d", i);
		KT_EQ_INT(count_all(FB_ACT_COVER, name), 1);
	}
	/* still uncovered after 10 s (the informer shows no change): the first ten again */
	tick(T0 + 10 * S);
	KT_EQ_INT(count(FB_ACT_COVER), 10);
	KT_EQ_INT(count_all(FB_ACT_UNCOVER, NULL), 0);
	KT_EQ_INT(count_all(FB_ACT_EVICT, NULL), 0);
	KT_EQ_INT(stats().covers_requested, 110);
	teardown();
}

KT_TEST(pods_of_failed_nodes_are_adopted_first)
{
	setup_managed(true, 1, false);
	healthy_nodes(3);
	for (int i = 0; i < 6; i++) {
		char name[16], on[16];
		snprintf(name, sizeof(name), "p%d", i);
		snprintf(on, sizeof(on), "n%d", i % 3);
		mpod(name, on, false);
	}
	node("n2", "a", FB_COND_UNKNOWN, T0); /* p2 and p5 are on it */
	tick(T0);
	KT_EQ_INT(count(FB_ACT_COVER), 1);
	const fb_action *a = find(FB_ACT_COVER, NULL);
	KT_CHECK(a && (strcmp(a->name, "p2") == 0 || strcmp(a->name, "p5") == 0));
	KT_CHECK(a && strcmp(a->node, "n2") == 0);
	tick(T0 + 1 * S);
	a = find(FB_ACT_COVER, NULL);
	KT_CHECK(a && strcmp(a->node, "n2") == 0); /* the other pod of n2 next */
	tick(T0 + 2 * S);
	a = find(FB_ACT_COVER, NULL);
	KT_CHECK(a && strcmp(a->node, "n2") != 0); /* then the rest */
	teardown();
}

KT_TEST(a_pod_still_uncovered_is_asked_again_with_backoff)
{
	setup_managed(true, 10, false);
	healthy_nodes(1);
	mpod("p", "n0", false);
	int64_t want[] = { 0, 10, 30, 70, 150, 310, 610, 910 }; /* 10 s doubling to 5 min */
	size_t n = 0;
	for (int64_t t = T0; t <= T0 + 1000 * S; t += S / 2) {
		tick(t);
		if (count(FB_ACT_COVER) == 1) {
			KT_CHECK(n < sizeof(want) / sizeof(*want));
			if (n < sizeof(want) / sizeof(*want))
				KT_EQ_INT((t - T0) / S, want[n]);
			n++;
		}
	}
	KT_EQ_INT(n, 8);
	/* covered now: not asked again, not counted */
	mpod("p", "n0", true);
	size_t mark = log_mark();
	tick(T0 + 2000 * S);
	KT_EQ_INT(count_since(mark, FB_ACT_COVER, NULL), 0);
	KT_EQ_INT(stats().pods_uncovered, 0);
	/* uncovered again later (its seconds restored by someone): asked at once, backoff reset */
	mpod("p", "n0", false);
	tick(T0 + 2001 * S);
	KT_EQ_INT(count(FB_ACT_COVER), 1);
	tick(T0 + 2011 * S);
	KT_EQ_INT(count(FB_ACT_COVER), 1);
	teardown();
}

KT_TEST(a_new_leader_asks_again_at_once)
{
	setup_managed(true, 10, false);
	healthy_nodes(1);
	mpod("p", "n0", false);
	tick(T0);
	KT_EQ_INT(count(FB_ACT_COVER), 1);
	tick(T0 + 1 * S);
	KT_EQ_INT(count(FB_ACT_COVER), 0);
	fb_core_set_leader(core, false);
	tick(T0 + 2 * S);
	KT_EQ_INT(count(FB_ACT_COVER), 0); /* a follower decides nothing */
	fb_core_set_leader(core, true);
	tick(T0 + 3 * S);
	KT_EQ_INT(count(FB_ACT_COVER), 1);
	teardown();
}

KT_TEST(a_pod_that_stays_uncovered_is_reported_once)
{
	setup_managed(true, 10, false);
	healthy_nodes(1);
	mpod("p", "n0", false);
	mpod("q", "n0", false);
	tick(T0);
	tick(T0 + 4 * MIN);
	KT_CHECK(find(FB_ACT_EVENT, "TolerationsNotCovered") == NULL);
	mpod("q", "n0", true); /* q got covered in time */
	int64_t next = tick(T0 + 4 * MIN + S);
	KT_CHECK(next <= T0 + 5 * MIN);
	tick(T0 + 5 * MIN);
	const fb_action *e = find(FB_ACT_EVENT, "TolerationsNotCovered");
	KT_CHECK(e != NULL);
	KT_CHECK(e && e->obj == FB_OBJ_POD && strcmp(e->name, "p") == 0 && e->warning);
	KT_CHECK(e && strstr(e->message, "5m") != NULL);
	KT_EQ_INT(stats().pods_uncovered, 1);
	KT_EQ_INT(stats().pods_uncovered_reported, 1);
	tick(T0 + 30 * MIN);
	KT_EQ_INT(count_all(FB_ACT_EVENT, "TolerationsNotCovered"), 1);
	/* covered at last: the report is over */
	mpod("p", "n0", true);
	tick(T0 + 31 * MIN);
	KT_EQ_INT(stats().pods_uncovered_reported, 0);
	teardown();
}

KT_TEST(pods_kubernetes_keeps_are_never_adopted)
{
	fb_core_config c;
	fb_core_config_defaults(&c);
	c.managed = true;
	setup_config(&c);
	healthy_nodes(1);
	pod_with("ds", "n0", &(pod_spec){ .workload = "DaemonSet/default/agent", .tol_s = 300,
	                                   .daemonset = true, .k8s_evicts = true });
	pod_with("mirror", "n0", &(pod_spec){ .workload = "Pod/default/mirror", .tol_s = 300, .mirror = true,
	                                       .k8s_evicts = true });
	pod_with("skip", "n0", &(pod_spec){ .workload = WEB, .tol_s = 300, .gate_exempt = true,
	                                     .k8s_evicts = true });
	pod_with("sys", "n0", &(pod_spec){ .workload = "Deployment/kube-system/dns", .ns = "kube-system",
	                                    .tol_s = 300, .k8s_evicts = true });
	pod_with("done", "n0", &(pod_spec){ .workload = WEB, .tol_s = 300, .terminal = true,
	                                     .k8s_evicts = true });
	pod_with("bye", "n0", &(pod_spec){ .workload = WEB, .tol_s = 300, .terminating = true,
	                                    .k8s_evicts = true });
	mpod("web", "n0", false);
	tick(T0);
	KT_EQ_INT(count(FB_ACT_COVER), 1);
	KT_CHECK(find(FB_ACT_COVER, "web") != NULL);
	KT_EQ_INT(stats().pods_uncovered, 1);
	/* ... and Kubernetes evicts them: firebreak does not, when n0 fails */
	node("n0", "a", FB_COND_UNKNOWN, T0 + S);
	tick(T0 + 2 * S);
	tick(T0 + 400 * S);
	KT_EQ_INT(count_all(FB_ACT_EVICT, NULL) + count_all(FB_ACT_DELETE, NULL), 0);
	teardown();
}

KT_TEST(firebreak_evicts_a_pod_once_it_covers_it)
{
	setup_managed(true, 10, false);
	healthy_nodes(2);
	mpod("old", "n0", false);    /* from before the install */
	mpod("new", "n0", true);     /* covered by the webhook: 300 s recorded */
	tick(T0);
	node("n0", "a", FB_COND_UNKNOWN, T0 + S);
	tick(T0 + 2 * S);
	tick(T0 + 300 * S);
	KT_EQ_INT(count(FB_ACT_EVICT), 0);
	int64_t next = tick(T0 + 300 * S + 999);
	KT_EQ_INT(count(FB_ACT_EVICT), 0);
	KT_EQ_INT(next, T0 + 301 * S);
	tick(T0 + 301 * S); /* failedSince + the recorded 300 s */
	KT_CHECK(find(FB_ACT_EVICT, "new") != NULL);
	KT_CHECK(find(FB_ACT_EVICT, "old") == NULL); /* Kubernetes' */
	/* the old pod covered late (the race): from then on it is firebreak's, due already */
	mpod("old", "n0", true);
	tick(T0 + 302 * S);
	KT_CHECK(find(FB_ACT_EVICT, "old") != NULL);
	teardown();
}

KT_TEST(without_managed_mode_covered_pods_get_their_seconds_back)
{
	setup_managed(false, 10, false);
	healthy_nodes(3); /* one node of one: its failure would be a cluster outage */
	mpod("covered", "n0", true);
	mpod("plain", "n0", false); /* every pod of a self-managed cluster */
	pod_with("ds", "n0", &(pod_spec){ .workload = "DaemonSet/default/agent", .daemonset = true,
	                                   .tol_s = FB_TOL_FOREVER, .annotated = true });
	tick(T0);
	KT_EQ_INT(count(FB_ACT_COVER), 0);
	KT_EQ_INT(count(FB_ACT_UNCOVER), 2);
	KT_CHECK(find(FB_ACT_UNCOVER, "covered") != NULL);
	KT_CHECK(find(FB_ACT_UNCOVER, "ds") != NULL); /* whoever wrote the record */
	KT_EQ_INT(stats().pods_to_restore, 2);
	KT_EQ_INT(stats().pods_uncovered, 0);
	mpod("covered", "n0", false); /* restored: its seconds back, no record */
	pod_with("ds", "n0", &(pod_spec){ .workload = "DaemonSet/default/agent", .daemonset = true,
	                                   .tol_s = FB_TOL_FOREVER });
	tick(T0 + S);
	KT_EQ_INT(stats().pods_to_restore, 0);
	KT_EQ_INT(count_all(FB_ACT_UNCOVER, NULL), 2);
	/* and it is evicted as every pod is without managed mode */
	node("n0", "a", FB_COND_UNKNOWN, T0 + 2 * S);
	tick(T0 + 3 * S);
	tick(T0 + 302 * S);
	KT_CHECK(find_all(FB_ACT_EVICT, "plain") != NULL);
	teardown();
}

KT_TEST(self_managed_pods_cost_the_managed_pass_nothing)
{
	/* default pods of a self-managed cluster: no record, 300 s in the spec */
	setup_managed(false, 10, false);
	healthy_nodes(3);
	for (int i = 0; i < 30; i++) {
		char name[16], on[16];
		snprintf(name, sizeof(name), "p%d", i);
		snprintf(on, sizeof(on), "n%d", i % 3);
		mpod(name, on, false);
	}
	tick(T0);
	node("n1", "a", FB_COND_FALSE, T0 + S);
	for (int64_t t = T0 + 2 * S; t < T0 + 400 * S; t += 10 * S)
		tick(t);
	KT_EQ_INT(count_all(FB_ACT_COVER, NULL) + count_all(FB_ACT_UNCOVER, NULL), 0);
	KT_EQ_INT(count_all(FB_ACT_EVICT, NULL), 10); /* n1's pods, as always */
	KT_EQ_INT(count_all(FB_ACT_EVENT, "TolerationsNotCovered"), 0);
	teardown();
}

KT_TEST(dry_run_counts_and_writes_nothing)
{
	setup_managed(true, 10, true);
	healthy_nodes(3);
	mpod("p", "n0", false);
	tick(T0);
	tick(T0 + 10 * MIN);
	KT_EQ_INT(count_all(FB_ACT_COVER, NULL), 0);
	KT_EQ_INT(count_all(FB_ACT_EVENT, "TolerationsNotCovered"), 0);
	KT_EQ_INT(stats().pods_uncovered, 1);
	/* nothing is covered in dry run, so it reports what it would do with the pod covered */
	node("n0", "a", FB_COND_UNKNOWN, T0 + 11 * MIN);
	tick(T0 + 11 * MIN + S);
	tick(T0 + 16 * MIN + S);
	const fb_action *a = find_all(FB_ACT_EVICT, "p");
	KT_CHECK(a && a->dry_run);
	teardown();
}

KT_TEST(a_pod_deleted_while_asked_for_is_forgotten)
{
	setup_managed(true, 10, false);
	healthy_nodes(1);
	mpod("p", "n0", false);
	mpod("q", "n0", false);
	tick(T0);
	KT_EQ_INT(count(FB_ACT_COVER), 2);
	pod_gone("p");
	tick(T0 + 11 * S);
	KT_EQ_INT(count(FB_ACT_COVER), 1);
	KT_CHECK(find(FB_ACT_COVER, "q") != NULL);
	KT_EQ_INT(stats().pods_uncovered, 1);
	pod_gone("q");
	tick(T0 + 12 * S);
	KT_EQ_INT(stats().pods_uncovered, 0);
	teardown();
}

int main(void)
{
	KT_RUN(uncovered_pods_are_adopted_at_the_set_rate);
	KT_RUN(pods_of_failed_nodes_are_adopted_first);
	KT_RUN(a_pod_still_uncovered_is_asked_again_with_backoff);
	KT_RUN(a_new_leader_asks_again_at_once);
	KT_RUN(a_pod_that_stays_uncovered_is_reported_once);
	KT_RUN(pods_kubernetes_keeps_are_never_adopted);
	KT_RUN(firebreak_evicts_a_pod_once_it_covers_it);
	KT_RUN(without_managed_mode_covered_pods_get_their_seconds_back);
	KT_RUN(self_managed_pods_cost_the_managed_pass_nothing);
	KT_RUN(dry_run_counts_and_writes_nothing);
	KT_RUN(a_pod_deleted_while_asked_for_is_forgotten);
	return KT_DONE();
}
