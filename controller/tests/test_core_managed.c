/*
 * Managed mode in the decision core (core/managed.c): Kubernetes' taint-eviction
 * controller stays on, firebreak evicts only the pods it covers, adopts the others
 * at a set rate (pods of failed nodes first), reports the ones it cannot cover, and
 * with the mode off gives covered pods their seconds back. Besides the scenarios: the
 * bucket under many rates and tick patterns, asks lost to memory, a self-managed
 * cluster whose actions do not depend on the managed fields, and random histories
 * checked against a model of the pods at every tick.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "coretest.h"
#include "kc/alloc.h"
#include "kctest.h"

#define ARRIVED (T0 - 3600 * S)
#define COVER_RETRY_MAX_MS_TEST (5 * MIN) /* managed.c: asked again after 10 s, doubling to this */

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

/* Pods p0..p<n-1> of WEB, spread over n0..n<nodes-1> round robin, covered or not. */
static void mpods(int n, int nodes, bool covered)
{
	for (int i = 0; i < n; i++) {
		char name[16], on[16];
		snprintf(name, sizeof(name), "p%d", i);
		snprintf(on, sizeof(on), "n%d", i % nodes);
		mpod(name, on, covered);
	}
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
	mpods(100, 4, false);
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
	mpods(6, 3, false);
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
	mpods(30, 3, false);
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

/* ---- the bucket under any ticks ------------------------------------------------- */

/*
 * COVERs asked in [T0, T0 + secs] at rate, the core ticked as the shell ticks it (at the
 * time it returns) and, if every_ms, that often besides with a pod observed again (passes
 * at odd times, each with part of a token). Enough pods that the rate, not they, bounds it.
 */
static int asked_in(double rate, int secs, int every_ms)
{
	setup_managed(true, rate, false);
	healthy_nodes(2);
	int npods = (int)(rate * secs + rate) + 8;
	for (int i = 0; i < npods; i++) {
		char name[16];
		snprintf(name, sizeof(name), "p%d", i);
		mpod(name, i % 2 ? "n1" : "n0", false);
	}
	int asked = 0, spins = 0;
	int64_t t = T0, end = T0 + secs * S, extra = every_ms ? T0 + every_ms : INT64_MAX;
	while (t <= end) {
		int64_t next = tick(t);
		asked += count(FB_ACT_COVER);
		if (next <= t) {
			/* due again at once: only while a bound of one pass holds work back */
			KT_CHECK(++spins < 3);
			next = t + 1;
		} else {
			spins = 0;
		}
		KT_CHECK(next != INT64_MAX); /* pods wait: it knows when */
		if (next == INT64_MAX)
			break;
		if (extra <= next) {
			t = extra;
			extra += every_ms;
			mpod("p0", "n0", false);
		} else {
			t = next;
		}
	}
	teardown();
	return asked;
}

KT_TEST(the_rate_holds_however_the_ticks_fall)
{
	static const double rates[] = { 0.1, 0.3, 0.7, 1, 1.5, 2.5, 3, 7, 10, 33 };
	static const int every[] = { 0, 100, 137, 250, 1000, 3333 };
	const int secs = 30;
	for (size_t r = 0; r < sizeof(rates) / sizeof(*rates); r++) {
		double rate = rates[r], cap = rate < 1 ? 1 : rate;
		for (size_t e = 0; e < sizeof(every) / sizeof(*every); e++) {
			int asked = asked_in(rate, secs, every[e]);
			/* a token bucket: never more than it holds plus what flows in ... */
			int most = (int)(cap + rate * secs + 1e-9);
			/* ... and nothing lost to rounding or to waiting for a pass */
			int least = (int)(rate * secs + 1e-9);
			if (asked > most || asked < least)
				fprintf(stderr, "  rate %g, ticks every %d ms: %d asked in %d s, want %d..%d\n",
				        rate, every[e], asked, secs, least, most);
			KT_CHECK(asked <= most);
			KT_CHECK(asked >= least);
		}
	}
}

KT_TEST(pods_not_asked_yet_go_before_pods_asked_again)
{
	setup_managed(true, 1, false);
	healthy_nodes(1);
	mpod("a", "n0", false);
	tick(T0);
	KT_CHECK(find(FB_ACT_COVER, "a") != NULL);
	/* twenty new ones at 5 s, one a second: a is due again at 10 s, but waits for them */
	for (int i = 0; i < 20; i++) {
		char name[16];
		snprintf(name, sizeof(name), "b%d", i);
		mpod(name, "n0", false);
	}
	size_t mark = log_mark();
	for (int64_t t = T0 + 5 * S; t < T0 + 25 * S; t += S) {
		tick(t);
		KT_EQ_INT(count(FB_ACT_COVER), 1);
		const fb_action *c = find(FB_ACT_COVER, NULL);
		KT_CHECK(c && c->name[0] == 'b' && count_since(mark, FB_ACT_COVER, c->name) == 1);
	}
	KT_EQ_INT(count_all(FB_ACT_COVER, "a"), 1);
	/* all asked once: now the ones asked before (a, and b's due again), one a second */
	tick(T0 + 25 * S);
	KT_EQ_INT(count(FB_ACT_COVER), 1);
	KT_EQ_INT(stats().covers_requested, 22);
	teardown();
}

/* ---- order, reports, leaders ------------------------------------------------------ */

KT_TEST(a_failed_nodes_pod_asked_before_goes_before_new_pods_elsewhere)
{
	setup_managed(true, 1, false);
	healthy_nodes(2);
	mpod("f", "n0", false);
	tick(T0);
	KT_CHECK(find(FB_ACT_COVER, "f") != NULL);
	/* twenty more on n1, one a second; n0 fails meanwhile */
	for (int i = 0; i < 20; i++) {
		char name[16];
		snprintf(name, sizeof(name), "h%d", i);
		mpod(name, "n1", false);
	}
	node("n0", "a", FB_COND_FALSE, T0 + 2 * S);
	for (int64_t t = T0 + S; t < T0 + 10 * S; t += S) {
		tick(t);
		KT_EQ_INT(count(FB_ACT_COVER), 1);
		KT_CHECK(find(FB_ACT_COVER, "f") == NULL);
	}
	/* f is due again at 10 s: its node's clock runs, the new pods of n1 wait */
	tick(T0 + 10 * S);
	KT_EQ_INT(count(FB_ACT_COVER), 1);
	KT_CHECK(find(FB_ACT_COVER, "f") != NULL);
	tick(T0 + 11 * S);
	const fb_action *a = find(FB_ACT_COVER, NULL);
	KT_CHECK(a && a->name[0] == 'h');
	KT_EQ_INT(count_all(FB_ACT_COVER, "f"), 2);
	teardown();
}

KT_TEST(reports_go_out_twenty_a_pass)
{
	setup_managed(true, 1000, false);
	healthy_nodes(1);
	for (int i = 0; i < 45; i++) {
		char name[16];
		snprintf(name, sizeof(name), "p%d", i);
		mpod(name, "n0", false);
	}
	tick(T0);
	KT_EQ_INT(count(FB_ACT_COVER), 45);
	tick(T0 + 5 * MIN - 1);
	KT_EQ_INT(count_all(FB_ACT_EVENT, "TolerationsNotCovered"), 0);
	int64_t next = tick(T0 + 5 * MIN);
	KT_EQ_INT(count(FB_ACT_EVENT), 20);
	KT_EQ_INT(next, T0 + 5 * MIN); /* the rest at once, in the next pass */
	KT_EQ_INT(stats().pods_uncovered_reported, 20);
	next = tick(T0 + 5 * MIN);
	KT_EQ_INT(count(FB_ACT_EVENT), 20);
	KT_EQ_INT(next, T0 + 5 * MIN);
	next = tick(T0 + 5 * MIN);
	KT_EQ_INT(count(FB_ACT_EVENT), 5);
	KT_CHECK(next > T0 + 5 * MIN);
	KT_EQ_INT(stats().pods_uncovered_reported, 45);
	for (int i = 0; i < 45; i++) {
		char name[16];
		snprintf(name, sizeof(name), "p%d", i);
		int n = 0;
		for (size_t j = 0; logged(j); j++)
			n += logged(j)->kind == FB_ACT_EVENT && strcmp(logged(j)->name, name) == 0;
		KT_EQ_INT(n, 1);
	}
	tick(T0 + 20 * MIN);
	KT_EQ_INT(count_all(FB_ACT_EVENT, "TolerationsNotCovered"), 45);
	teardown();
}

KT_TEST(a_new_leader_starts_the_backoff_over)
{
	setup_managed(true, 10, false);
	healthy_nodes(1);
	mpod("p", "n0", false);
	tick(T0);
	tick(T0 + 10 * S);
	KT_EQ_INT(count(FB_ACT_COVER), 1); /* its backoff is 20 s now */
	fb_core_set_leader(core, false);
	for (int64_t t = T0 + 11 * S; t < T0 + 5 * MIN; t += 5 * S) {
		KT_EQ_INT(tick(t), INT64_MAX);
		KT_EQ_INT(acts.n, 0); /* a follower asks nothing, reports nothing */
	}
	fb_core_set_leader(core, true);
	tick(T0 + 5 * MIN);
	KT_EQ_INT(count(FB_ACT_COVER), 1);
	tick(T0 + 5 * MIN + 9 * S);
	KT_EQ_INT(count(FB_ACT_COVER), 0);
	tick(T0 + 5 * MIN + 10 * S); /* 10 s again, not 40 */
	KT_EQ_INT(count(FB_ACT_COVER), 1);
	KT_EQ_INT(stats().covers_requested, 4);
	teardown();
}

/* ---- which pods ---------------------------------------------------------------------- */

KT_TEST(pods_out_of_the_webhooks_reach_are_not_adopted_and_others_are)
{
	fb_core_config c;
	fb_core_config_defaults(&c);
	c.managed = true;
	KT_EQ_INT(fb_core_config_gate_exempt(&c, "infra"), 0);
	setup_config(&c);
	healthy_nodes(1);
	pod_with("lease", "n0", &(pod_spec){ .workload = "Deployment/kube-node-lease/x",
	                                      .ns = "kube-node-lease", .tol_s = 300, .k8s_evicts = true });
	pod_with("infra", "n0", &(pod_spec){ .workload = "Deployment/infra/x", .ns = "infra",
	                                      .tol_s = 300, .k8s_evicts = true });
	/* a bare pod, and one not scheduled yet: the webhook covers those as any */
	pod_with("bare", "n0", &(pod_spec){ .tol_s = 300, .k8s_evicts = true });
	pod_with("pending", NULL, &(pod_spec){ .workload = WEB, .tol_s = 300, .k8s_evicts = true });
	/* covered already, or tolerating forever of itself: nothing to do */
	pod_with("covered", "n0", &(pod_spec){ .workload = WEB, .tol_s = 300, .annotated = true });
	pod_with("forever", "n0", &(pod_spec){ .workload = WEB, .tol_s = FB_TOL_FOREVER });
	tick(T0);
	KT_EQ_INT(count(FB_ACT_COVER), 2);
	KT_CHECK(find(FB_ACT_COVER, "bare") != NULL);
	const fb_action *a = find(FB_ACT_COVER, "pending");
	KT_CHECK(a && a->node[0] == '\0' && strcmp(a->uid, "uid-pending") == 0 &&
	         strcmp(a->ns, "default") == 0 && a->obj == FB_OBJ_POD);
	KT_EQ_INT(stats().pods_uncovered, 2);
	tick(T0 + 10 * MIN);
	KT_EQ_INT(count_all(FB_ACT_EVENT, "TolerationsNotCovered"), 2);
	KT_EQ_INT(count_all(FB_ACT_COVER, "lease") + count_all(FB_ACT_COVER, "infra"), 0);
	KT_EQ_INT(count_all(FB_ACT_COVER, "covered") + count_all(FB_ACT_COVER, "forever"), 0);
	teardown();
}

KT_TEST(an_uncovered_pod_that_ends_is_let_go)
{
	setup_managed(true, 10, false);
	healthy_nodes(1);
	mpod("p", "n0", false);
	mpod("q", "n0", false);
	tick(T0);
	KT_EQ_INT(count(FB_ACT_COVER), 2);
	/* p is being deleted, q has run to completion: neither is asked again nor reported */
	pod_with("p", "n0", &(pod_spec){ .workload = WEB, .arrived_ms = ARRIVED, .tol_s = 300,
	                                  .k8s_evicts = true, .terminating = true });
	pod_with("q", "n0", &(pod_spec){ .workload = WEB, .arrived_ms = ARRIVED, .tol_s = 300,
	                                  .k8s_evicts = true, .terminal = true });
	tick(T0 + S);
	KT_EQ_INT(stats().pods_uncovered, 0);
	for (int64_t t = T0 + 10 * S; t <= T0 + 20 * MIN; t += 10 * S)
		tick(t);
	KT_EQ_INT(count_all(FB_ACT_COVER, NULL), 2);
	KT_EQ_INT(count_all(FB_ACT_EVENT, "TolerationsNotCovered"), 0);
	teardown();
}

KT_TEST(a_pod_made_again_under_its_name_is_a_new_pod)
{
	setup_managed(true, 10, false);
	healthy_nodes(1);
	mpod("p", "n0", false);
	tick(T0);
	KT_EQ_INT(count(FB_ACT_COVER), 1);
	pod_gone("p");
	fb_pod_obs o = { .ns = "default", .name = "p", .uid = "uid-p-2", .node = "n0",
	                 .workload = WL(WEB), .tol_not_ready_s = 300, .tol_unreachable_s = 300,
	                 .arrived_ms = T0, .k8s_evicts = true };
	KT_EQ_INT(fb_core_pod_set(core, &o), 0);
	tick(T0 + S); /* not 10 s after its namesake */
	const fb_action *a = find(FB_ACT_COVER, "p");
	KT_CHECK(a && strcmp(a->uid, "uid-p-2") == 0);
	KT_EQ_INT(stats().pods_uncovered, 1);
	teardown();
}

KT_TEST(an_ask_lost_to_memory_is_asked_next_tick)
{
	for (long n = 0; n < 40; n++) {
		setup_managed(true, 1000, false);
		healthy_nodes(1);
		for (int i = 0; i < 30; i++) {
			char name[16];
			snprintf(name, sizeof(name), "p%d", i);
			mpod(name, "n0", false);
		}
		/* the harness's tick logs what it decides, and would run out of memory too */
		fb_actions_clear(&acts);
		kc_alloc_fail_after(n);
		fb_core_tick(core, T0, &acts);
		bool hit = kc_alloc_fail_triggered();
		kc_alloc_fail_reset();
		int first = count(FB_ACT_COVER);
		KT_CHECK(hit || first == 30);
		bool asked[30] = { false };
		for (size_t i = 0; i < acts.n; i++)
			if (acts.v[i].kind == FB_ACT_COVER)
				asked[atoi(acts.v[i].name + 1)] = true;
		KT_EQ_INT(stats().covers_requested, first);
		/* the rest a second later, not after the 10 s of a pod asked for */
		tick(T0 + S);
		KT_EQ_INT(count(FB_ACT_COVER), 30 - first);
		for (size_t i = 0; i < acts.n; i++)
			if (acts.v[i].kind == FB_ACT_COVER) {
				int k = atoi(acts.v[i].name + 1);
				KT_CHECK(!asked[k]);
				asked[k] = true;
			}
		for (int i = 0; i < 30; i++)
			KT_CHECK(asked[i]);
		KT_EQ_INT(stats().covers_requested, 30);
		teardown();
	}
}

/* A pod covered, then uncovered again: its report waits uncovered_report_ms from then. */
KT_TEST(an_uncovered_stretch_starts_over_after_a_cover)
{
	setup_managed(true, 10, false);
	healthy_nodes(1);
	mpod("p", "n0", false);
	tick(T0);
	mpod("p", "n0", true);
	tick(T0 + 4 * MIN);
	mpod("p", "n0", false);
	tick(T0 + 4 * MIN + 30 * S);
	KT_EQ_INT(count(FB_ACT_COVER), 1); /* at once: its backoff started over too */
	tick(T0 + 5 * MIN);
	tick(T0 + 9 * MIN + 29 * S);
	KT_EQ_INT(count_all(FB_ACT_EVENT, "TolerationsNotCovered"), 0);
	tick(T0 + 9 * MIN + 30 * S);
	KT_CHECK(find(FB_ACT_EVENT, "TolerationsNotCovered") != NULL);
	teardown();
}

/* ---- eviction: Kubernetes' or firebreak's ---------------------------------------------- */

KT_TEST(a_failed_node_of_uncovered_pods_is_left_to_kubernetes)
{
	setup_managed(true, 10, false);
	healthy_nodes(3);
	mpod("u", "n0", false);
	mpod("v", "n0", false);
	tick(T0);
	node("n0", "a", FB_COND_FALSE, T0 + S); /* not ready: the not-ready toleration */
	for (int64_t t = T0 + 2 * S; t <= T0 + 100 * S; t += 2 * S)
		tick(t);
	KT_EQ_INT(count_all(FB_ACT_EVICT, NULL) + count_all(FB_ACT_DELETE, NULL), 0);
	/* not admitted: no zone's or budget's token is spent on a node firebreak leaves alone */
	KT_EQ_INT(count_all(FB_ACT_EVENT, "EvictionStarted"), 0);
	KT_EQ_INT(stats().admitted_nodes, 0);
	KT_EQ_INT(stats().failed_nodes, 1);
	/* u is covered at 100 s with 120 s recorded: firebreak's, due at failedSince + 120 s */
	pod_with("u", "n0", &(pod_spec){ .workload = WEB, .arrived_ms = ARRIVED, .tol_s = 120,
	                                  .annotated = true });
	int64_t next = tick(T0 + 101 * S);
	KT_EQ_INT(count(FB_ACT_EVICT) + count(FB_ACT_DELETE), 0);
	KT_CHECK(next <= T0 + 121 * S);
	tick(T0 + 121 * S - 1);
	KT_EQ_INT(count(FB_ACT_EVICT) + count(FB_ACT_DELETE), 0);
	tick(T0 + 121 * S);
	KT_CHECK(find(FB_ACT_EVENT, "EvictionStarted") != NULL);
	KT_EQ_INT(count(FB_ACT_EVICT) + count(FB_ACT_DELETE), 1);
	const fb_action *a = find(FB_ACT_DELETE, "u") ? find(FB_ACT_DELETE, "u") : find(FB_ACT_EVICT, "u");
	KT_CHECK(a && strcmp(a->node, "n0") == 0);
	/* v stays Kubernetes': not at its 300 s either; gone when Kubernetes evicts it */
	tick(T0 + 400 * S);
	KT_CHECK(find_all(FB_ACT_EVICT, "v") == NULL && find_all(FB_ACT_DELETE, "v") == NULL);
	pod_gone("v");
	tick(T0 + 401 * S);
	KT_EQ_INT(stats().pods_uncovered, 0);
	teardown();
}

/* ---- without managed mode ------------------------------------------------------------ */

KT_TEST(restore_goes_at_the_set_rate_and_backs_off)
{
	setup_managed(false, 2, false);
	healthy_nodes(2);
	for (int i = 0; i < 10; i++) {
		char name[16];
		snprintf(name, sizeof(name), "r%d", i);
		mpod(name, i % 2 ? "n1" : "n0", true);
	}
	pod_with("bye", "n0", &(pod_spec){ .workload = WEB, .tol_s = 300, .annotated = true,
	                                    .terminating = true });
	tick(T0);
	KT_EQ_INT(count(FB_ACT_UNCOVER), 2);
	KT_EQ_INT(stats().pods_to_restore, 10);
	int asked = 2;
	for (int64_t t = T0 + 250; t < T0 + 5 * S; t += 250) {
		tick(t);
		asked += count(FB_ACT_UNCOVER);
	}
	KT_EQ_INT(asked, 10); /* two a second, at 0 .. 4 s */
	for (int i = 0; i < 10; i++) {
		char name[16];
		snprintf(name, sizeof(name), "r%d", i);
		KT_EQ_INT(count_all(FB_ACT_UNCOVER, name), 1);
	}
	KT_CHECK(find_all(FB_ACT_UNCOVER, "bye") == NULL);
	/* all given back but one, which the informer still shows with the record */
	char keep[FB_NAME_MAX]; /* one asked at T0 */
	snprintf(keep, sizeof(keep), "%s", logged(0) ? logged(0)->name : "r0");
	for (int i = 0; i < 10; i++) {
		char name[16];
		snprintf(name, sizeof(name), "r%d", i);
		if (strcmp(name, keep) != 0)
			mpod(name, i % 2 ? "n1" : "n0", false);
	}
	size_t mark = log_mark();
	int64_t want[] = { 10, 30, 70, 150, 310, 610, 910 };
	size_t n = 0;
	for (int64_t t = T0 + 5 * S; t <= T0 + 1000 * S; t += S / 2) {
		tick(t);
		if (count(FB_ACT_UNCOVER)) {
			KT_EQ_INT(count(FB_ACT_UNCOVER), 1);
			KT_CHECK(find(FB_ACT_UNCOVER, keep) != NULL);
			if (n < sizeof(want) / sizeof(*want))
				KT_EQ_INT((t - T0) / S, want[n]);
			n++;
		}
	}
	KT_EQ_INT(n, 7);
	KT_EQ_INT(count_since(mark, FB_ACT_COVER, NULL), 0);
	KT_EQ_INT(stats().pods_to_restore, 1);
	KT_EQ_INT(stats().uncovers_requested, 17);
	KT_EQ_INT(stats().covers_requested, 0);
	KT_EQ_INT(stats().pods_uncovered, 0);
	teardown();
}

KT_TEST(dry_run_gives_covered_pods_back_and_counts)
{
	/* firebreak evicts nothing in dry run, so a covered pod would be evicted by no one: the
	 * one write a dry run makes is giving its seconds back, as with the mode off */
	setup_managed(false, 10, true);
	healthy_nodes(1);
	mpod("covered", "n0", true);
	mpod("plain", "n0", false);
	tick(T0);
	KT_EQ_INT(count_all(FB_ACT_UNCOVER, "covered"), 1);
	KT_EQ_INT(count_all(FB_ACT_COVER, NULL) + count_all(FB_ACT_UNCOVER, "plain"), 0);
	KT_EQ_INT(stats().uncovers_requested, 1);
	teardown();
	/* managed in dry run: covered pods given back, the others counted, none covered, nothing
	 * reported */
	setup_managed(true, 10, true);
	healthy_nodes(1);
	mpod("plain", "n0", false);
	mpod("covered", "n0", true);
	tick(T0);
	const fb_action *a = find(FB_ACT_UNCOVER, "covered");
	KT_CHECK(a != NULL);
	KT_CHECK(a && a->left_not_ready_s == -1 && a->left_unreachable_s == -1); /* healthy node */
	tick(T0 + 10 * MIN);
	KT_EQ_INT(stats().covers_requested, 0);
	KT_EQ_INT(stats().pods_uncovered_reported, 0);
	KT_EQ_INT(stats().pods_uncovered, 1);
	KT_EQ_INT(stats().pods_to_restore, 1); /* the informer still shows it covered */
	KT_EQ_INT(count_all(FB_ACT_EVENT, NULL), 0);
	/* given back: counted as not covered, like the other */
	mpod("covered", "n0", false);
	tick(T0 + 11 * MIN);
	KT_EQ_INT(stats().pods_uncovered, 2);
	KT_EQ_INT(stats().pods_to_restore, 0);
	teardown();
}

KT_TEST(a_dry_run_budget_s_nodes_are_handed_back)
{
	/* managed, and a budget in dry run selecting pool=canary: its pods are Kubernetes' */
	setup_managed(true, 10, false);
	labelled_node("c0", "a", FB_COND_TRUE, T0 - 86400 * S, "canary");
	labelled_node("c1", "a", FB_COND_TRUE, T0 - 86400 * S, "canary");
	labelled_node("w0", "a", FB_COND_TRUE, T0 - 86400 * S, "web");
	budget("canary", 1, "{\"dryRun\":true,\"nodeSelector\":{\"matchLabels\":{\"pool\":\"canary\"}}}");
	mpod("c-covered", "c0", true);
	mpod("c-plain", "c1", false);
	mpod("w-covered", "w0", true);
	mpod("w-plain", "w0", false);
	mpod("pending", NULL, true); /* covered by the webhook, not scheduled yet */
	tick(T0);
	KT_EQ_INT(count_all(FB_ACT_UNCOVER, NULL), 1);
	KT_EQ_INT(count_all(FB_ACT_UNCOVER, "c-covered"), 1);
	KT_EQ_INT(count_all(FB_ACT_COVER, NULL), 1);
	KT_EQ_INT(count_all(FB_ACT_COVER, "w-plain"), 1);
	/* not covered on purpose: not counted, never reported */
	KT_EQ_INT(stats().pods_uncovered, 1);
	tick(T0 + 10 * MIN);
	int reported = 0;
	for (size_t i = 0; logged(i); i++)
		if (logged(i)->kind == FB_ACT_EVENT && logged(i)->reason == FB_REASON_NOT_COVERED) {
			KT_EQ_STR(logged(i)->name, "w-plain"); /* asked for, and still not covered */
			reported++;
		}
	KT_EQ_INT(reported, 1);
	KT_EQ_INT(count_all(FB_ACT_COVER, "c-plain"), 0);
	/* the pending pod is scheduled onto a canary node that has failed 100 s ago: given back
	 * at once, with the 200 s left of its 300 */
	node_with("c1", FB_COND_UNKNOWN, T0 + 10 * MIN - 100 * S,
	          &(node_spec){ .zone = "a", .pool = "canary", .zone_label = true });
	mpod("pending", "c1", true);
	size_t mark = log_mark();
	tick(T0 + 10 * MIN);
	const fb_action *a = NULL;
	for (size_t i = mark; (a = logged(i)) != NULL; i++)
		if (a->kind == FB_ACT_UNCOVER && strcmp(a->name, "pending") == 0)
			break;
	KT_CHECK(a != NULL);
	KT_CHECK(a && a->left_not_ready_s == 200 && a->left_unreachable_s == 200);
	/* the budget out of dry run: covered again like any other */
	budget("canary", 2, "{\"dryRun\":false,\"nodeSelector\":{\"matchLabels\":{\"pool\":\"canary\"}}}");
	mpod("c-covered", "c0", false); /* given back by now */
	mark = log_mark();
	tick(T0 + 11 * MIN);
	KT_EQ_INT(count_since(mark, FB_ACT_COVER, "c-covered"), 1);
	KT_EQ_INT(count_since(mark, FB_ACT_COVER, "c-plain"), 1);
	KT_EQ_INT(count_since(mark, FB_ACT_UNCOVER, NULL), 0);
	teardown();
}

KT_TEST(a_node_relabelled_into_a_dry_run_budget_hands_its_pods_back)
{
	setup_managed(true, 10, false);
	labelled_node("w0", "a", FB_COND_TRUE, T0 - 86400 * S, "web");
	budget("canary", 1, "{\"dryRun\":true,\"nodeSelector\":{\"matchLabels\":{\"pool\":\"canary\"}}}");
	mpod("covered", "w0", true);
	tick(T0);
	tick(T0 + 60 * S);
	KT_EQ_INT(count_all(FB_ACT_UNCOVER, NULL), 0);
	/* relabelled, nothing else changes: the pass looks again */
	labelled_node("w0", "a", FB_COND_TRUE, T0 - 86400 * S, "canary");
	size_t mark = log_mark();
	tick(T0 + 61 * S);
	KT_EQ_INT(count_since(mark, FB_ACT_UNCOVER, "covered"), 1);
	/* and back out: covered again once the informer shows it given back, at once (another
	 * request than the give-back, which its backoff does not hold back) */
	labelled_node("w0", "a", FB_COND_TRUE, T0 - 86400 * S, "web");
	mpod("covered", "w0", false);
	mark = log_mark();
	tick(T0 + 62 * S);
	KT_EQ_INT(count_since(mark, FB_ACT_COVER, "covered"), 1);
	teardown();
}

KT_TEST(a_shortened_pod_gets_its_whole_times_back_once_its_node_is_up)
{
	/* managed mode, the pod given back on n0 while it was down (dry run then): its spec has
	 * the seconds left, its 300 kept aside; Kubernetes evicts it, firebreak never covers it
	 * while n0 is down, and gives it the 300 back once n0 is up */
	for (int managed = 0; managed < 2; managed++) {
		setup_managed(managed, 10, false);
		node("n0", "a", FB_COND_UNKNOWN, T0 - 100 * S);
		pod_with("p", "n0", &(pod_spec){ .workload = WEB, .arrived_ms = ARRIVED, .tol_s = 300,
		                                 .k8s_evicts = true, .shortened = true });
		tick(T0);
		tick(T0 + 30 * S);
		KT_EQ_INT(count_all(FB_ACT_COVER, NULL) + count_all(FB_ACT_UNCOVER, NULL), 0);
		KT_EQ_INT(stats().pods_uncovered, 0); /* not covered on purpose */
		node("n0", "a", FB_COND_TRUE, T0 + 40 * S);
		size_t mark = log_mark();
		tick(T0 + 40 * S);
		const fb_action *a = NULL;
		for (size_t i = mark; (a = logged(i)) != NULL; i++)
			if (a->kind == FB_ACT_UNCOVER)
				break;
		KT_CHECK(a && a->lengthen && strcmp(a->name, "p") == 0);
		KT_CHECK(a && a->left_not_ready_s == -1 && a->left_unreachable_s == -1);
		KT_EQ_INT(stats().pods_to_restore, 1);
		/* done: in managed mode then covered like any other */
		pod_with("p", "n0", &(pod_spec){ .workload = WEB, .arrived_ms = ARRIVED, .tol_s = 300,
		                                 .k8s_evicts = true });
		mark = log_mark();
		tick(T0 + 51 * S);
		KT_EQ_INT(count_since(mark, FB_ACT_COVER, "p"), managed);
		KT_EQ_INT(count_since(mark, FB_ACT_UNCOVER, "p"), 0);
		teardown();
	}
}

KT_TEST(lengthening_is_not_held_back_by_the_give_back_s_backoff)
{
	/* dry run: a covered pod on failed n0 is given back (the seconds left) at T0; the informer
	 * shows it shortened at T0+1 s; n0 is up at T0+2 s: its whole times are asked for at once,
	 * not 10 s after the give-back (another request than the one backed off) */
	setup_managed(true, 10, true);
	node("n0", "a", FB_COND_UNKNOWN, T0 - 100 * S);
	mpod("p", "n0", true);
	tick(T0);
	KT_EQ_INT(count_all(FB_ACT_UNCOVER, "p"), 1);
	pod_with("p", "n0", &(pod_spec){ .workload = WEB, .arrived_ms = ARRIVED, .tol_s = 300,
	                                 .k8s_evicts = true, .shortened = true });
	tick(T0 + 1 * S);
	KT_EQ_INT(count_all(FB_ACT_UNCOVER, "p"), 1);
	node("n0", "a", FB_COND_TRUE, T0 + 2 * S);
	size_t mark = log_mark();
	tick(T0 + 2 * S);
	const fb_action *a = NULL;
	for (size_t i = mark; (a = logged(i)) != NULL; i++)
		if (a->kind == FB_ACT_UNCOVER)
			break;
	KT_CHECK(a && a->lengthen);
	/* and that one backs off in its turn */
	mark = log_mark();
	tick(T0 + 5 * S);
	KT_EQ_INT(count_since(mark, FB_ACT_UNCOVER, "p"), 0);
	teardown();
}

KT_TEST(a_pod_given_back_on_a_failed_node_gets_the_seconds_left)
{
	/* with the mode off, each key's recorded time counted from failedSince, rounded up, at
	 * least 0: the taint-eviction controller starts its clock at the update */
	setup_managed(false, 100, false);
	node("n0", "a", FB_COND_FALSE, T0 - 30 * S - 400);
	node("n1", "a", FB_COND_UNKNOWN, T0 - 900 * S);
	node("n2", "a", FB_COND_TRUE, T0 - 900 * S);
	pod_with("young", "n0", &(pod_spec){ .workload = WEB, .arrived_ms = ARRIVED, .tol_s = 300,
	                                     .annotated = true });
	pod_with("zero", "n0", &(pod_spec){ .workload = WEB, .arrived_ms = ARRIVED, .tol_s = 0,
	                                    .annotated = true });
	pod_with("overdue", "n1", &(pod_spec){ .workload = WEB, .arrived_ms = ARRIVED, .tol_s = 300,
	                                       .annotated = true });
	pod_with("healthy", "n2", &(pod_spec){ .workload = WEB, .arrived_ms = ARRIVED, .tol_s = 300,
	                                       .annotated = true });
	pod_with("unrecorded", "n0", &(pod_spec){ .workload = WEB, .arrived_ms = ARRIVED,
	                                          .tol_s = FB_TOL_FOREVER, .annotated = true });
	tick(T0);
	static const struct { const char *name; int64_t left; } want[] = {
		{ "young", 270 }, { "zero", 0 }, { "overdue", 0 }, { "healthy", -1 }, { "unrecorded", -1 },
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++) {
		const fb_action *a = find(FB_ACT_UNCOVER, want[i].name);
		KT_CHECK(a != NULL);
		if (!a)
			continue;
		KT_EQ_INT(a->left_not_ready_s, want[i].left);
		KT_EQ_INT(a->left_unreachable_s, want[i].left);
	}
	teardown();
}

/*
 * Self-managed, the managed fields change nothing: the same cluster, its pods' specs
 * reported as letting Kubernetes evict them (what the shell now says of every pod with
 * finite seconds) or not (what it said before managed mode), gives the same actions, the
 * same messages and the same next times, tick by tick.
 */
#define TRANSCRIPT_MAX (256 * 1024)

static void self_managed_run(bool k8s_evicts, char *out, size_t cap)
{
	setup(false);
	size_t used = 0;
	for (int i = 0; i < 6; i++) {
		char name[16];
		snprintf(name, sizeof(name), "n%d", i);
		node(name, i < 3 ? "a" : "b", FB_COND_TRUE, T0 - 86400 * S);
	}
	static const int64_t tols[] = { 300, 60, FB_TOL_FOREVER, FB_TOL_NONE, 300, 120 };
	for (int i = 0; i < 36; i++) {
		char name[16], on[16];
		snprintf(name, sizeof(name), "p%d", i);
		snprintf(on, sizeof(on), "n%d", i % 6);
		int64_t tol = tols[i % 6];
		bool finite = tol != FB_TOL_FOREVER;
		pod_with(name, on, &(pod_spec){ .workload = i % 2 ? WEB : "Deployment/default/api",
		                                .arrived_ms = ARRIVED, .tol_s = tol,
		                                .k8s_evicts = k8s_evicts && finite,
		                                .terminating = i == 7 });
	}
	pod_with("agent", "n1", &(pod_spec){ .workload = "DaemonSet/default/agent", .daemonset = true,
	                                      .tol_s = FB_TOL_FOREVER });
	for (int64_t t = T0; t <= T0 + 600 * S; t += 5 * S) {
		if (t == T0 + 5 * S)
			node("n1", "a", FB_COND_UNKNOWN, t);
		if (t == T0 + 40 * S)
			node("n4", "b", FB_COND_FALSE, t);
		int64_t next = tick(t);
		used += (size_t)snprintf(out + used, cap - used, "tick %lld -> %lld\n",
		                         (long long)(t - T0), (long long)(next == INT64_MAX ? -1 : next - T0));
		for (size_t i = 0; i < acts.n && used < cap; i++) {
			const fb_action *a = &acts.v[i];
			used += (size_t)snprintf(out + used, cap - used, "%d %d %d %s/%s %s %s %d %s\n",
			                         a->kind, a->obj, a->dry_run, a->ns, a->name, a->uid, a->node,
			                         a->reason, a->message);
			if (a->kind == FB_ACT_EVICT || a->kind == FB_ACT_DELETE)
				evicted(a->name, FB_EVICT_OK, t);
		}
		KT_CHECK(used < cap);
		if (used >= cap)
			break;
	}
	KT_EQ_INT(count_all(FB_ACT_COVER, NULL) + count_all(FB_ACT_UNCOVER, NULL), 0);
	KT_EQ_INT(count_all(FB_ACT_EVENT, "TolerationsNotCovered"), 0);
	KT_CHECK(count_all(FB_ACT_EVICT, NULL) + count_all(FB_ACT_DELETE, NULL) >= 8);
	teardown();
}

KT_TEST(self_managed_actions_do_not_depend_on_the_managed_fields)
{
	static char before[TRANSCRIPT_MAX], now[TRANSCRIPT_MAX];
	self_managed_run(false, before, sizeof(before));
	self_managed_run(true, now, sizeof(now));
	KT_CHECK(strlen(before) > 1000);
	KT_CHECK(strcmp(before, now) == 0);
	if (strcmp(before, now) != 0) {
		size_t i = 0;
		while (before[i] && before[i] == now[i])
			i++;
		size_t from = i > 200 ? i - 200 : 0;
		fprintf(stderr, "  first difference at %zu:\n  before: %.300s\n  now:    %.300s\n", i,
		        before + from, now + from);
	}
}

/* ---- random histories ---------------------------------------------------------------- */

/*
 * Pods come, change and go, nodes fail and recover, the leader changes, time moves on as
 * the shell moves it (to the time the core returns, or sooner when something happens); a
 * model of what the pods are says what the core may and must do at every tick.
 */
#define RPODS 40
#define RNODES 4

typedef struct rpod {
	bool exists;
	int gen;
	char name[16], uid[32];
	int node; /* -1: not scheduled */
	bool k8s_evicts, annotated, ds, mirror, exempt, kube_system, terminating, terminal;
	/* what the core should have made of it, as of the last tick it led */
	int64_t since;     /* wanting cover (or restore) since; 0: not */
	bool reported;
	int64_t last_ask;  /* -1: not asked in this stretch (or since leading again) */
	int64_t from;      /* waiting for an ask since (since, the last ask, leading again) */
} rpod;

static uint64_t rstate;

static uint32_t rnd(uint32_t n)
{
	rstate ^= rstate << 13;
	rstate ^= rstate >> 7;
	rstate ^= rstate << 17;
	return (uint32_t)(rstate % n);
}

/* With the mode off, or in dry run (handed back: managed.c), a pod carrying the record gets
 * its seconds back; that goes before covering. */
static bool r_wants_uncover(bool managed, bool dry, const rpod *p)
{
	return (!managed || dry) && p->exists && p->annotated && !p->terminating && !p->terminal;
}

static bool r_wants_cover(bool managed, bool dry, const rpod *p)
{
	return managed && p->exists && p->k8s_evicts && !p->ds && !p->mirror && !p->exempt &&
	       !p->kube_system && !p->terminating && !p->terminal &&
	       !r_wants_uncover(managed, dry, p);
}

static void r_observe(rpod *p)
{
	static const char *nodes[RNODES] = { "n0", "n1", "n2", "n3" };
	fb_pod_obs o = { .ns = p->kube_system ? "kube-system" : "default", .name = p->name,
	                 .uid = p->uid, .node = p->node < 0 ? NULL : nodes[p->node],
	                 .workload = WL(p->ds ? "DaemonSet/default/agent" : WEB),
	                 .daemonset = p->ds, .mirror = p->mirror, .terminating = p->terminating,
	                 .terminal = p->terminal, .tol_not_ready_s = 300, .tol_unreachable_s = 300,
	                 .arrived_ms = ARRIVED, .gate_exempt = p->exempt, .k8s_evicts = p->k8s_evicts,
	                 .annotated = p->annotated };
	if (p->kube_system)
		o.workload = WL("Deployment/kube-system/dns");
	KT_EQ_INT(fb_core_pod_set(core, &o), 0);
}

static void r_new(rpod *p, int i)
{
	p->exists = true;
	p->gen++;
	snprintf(p->name, sizeof(p->name), "m%d", i);
	snprintf(p->uid, sizeof(p->uid), "m%d-%d", i, p->gen);
	p->node = (int)rnd(RNODES + 1) - 1;
	p->k8s_evicts = rnd(3) != 0;
	p->annotated = !p->k8s_evicts && rnd(2);
	p->ds = rnd(10) == 0;
	p->mirror = rnd(15) == 0;
	p->exempt = rnd(10) == 0;
	p->kube_system = rnd(10) == 0;
	p->terminating = rnd(12) == 0;
	p->terminal = rnd(15) == 0;
	p->since = 0;
	p->reported = false;
	p->last_ask = -1;
	p->from = 0;
	r_observe(p);
}

static void r_change(rpod *p)
{
	switch (rnd(8)) {
	case 0: /* covered, as the webhook or firebreak's COVER does */
		p->k8s_evicts = false;
		p->annotated = true;
		break;
	case 1: /* restored */
		p->k8s_evicts = true;
		p->annotated = false;
		break;
	case 2:
		p->annotated = !p->annotated;
		break;
	case 3:
		p->terminating = true;
		break;
	case 4:
		p->terminal = !p->terminal;
		break;
	case 5:
		p->exempt = !p->exempt;
		break;
	case 6:
		p->node = (int)rnd(RNODES + 1) - 1;
		break;
	default:
		break; /* observed again unchanged (a status update) */
	}
	r_observe(p);
}

static void random_history(uint64_t seed)
{
	rstate = seed * 0x9E3779B97F4A7C15ULL + 1;
	static const double rates[] = { 0.5, 1, 3, 10 };
	static const int64_t reports[] = { 30 * S, 5 * MIN };
	fb_core_config cfg;
	fb_core_config_defaults(&cfg);
	cfg.managed = rnd(4) != 0;
	cfg.dry_run = rnd(8) == 0;
	cfg.adopt_per_s = rates[rnd(4)];
	cfg.uncovered_report_ms = reports[rnd(2)];
	setup_config(&cfg);
	double rate = cfg.adopt_per_s, cap = rate < 1 ? 1 : rate;
	bool managed = cfg.managed, dry = cfg.dry_run, write = !cfg.dry_run, leader = true;
	int64_t failed_since[RNODES] = { 0 }; /* 0: healthy */
	bool master_disruption = false;       /* every node failed at once, at some time */
	/* the longest any pod waits for its next ask: the backoff's cap, then its turn */
	int64_t longest = COVER_RETRY_MAX_MS_TEST + (int64_t)((RPODS + 1) / rate * 1000) + S;
	static rpod pods[RPODS];
	memset(pods, 0, sizeof(pods));
	for (int n = 0; n < RNODES; n++) {
		char name[8];
		snprintf(name, sizeof(name), "n%d", n);
		node(name, "a", FB_COND_TRUE, T0 - 86400 * S);
	}
	for (int i = 0; i < RPODS; i++)
		if (rnd(2))
			r_new(&pods[i], i);
	static int64_t asks[4096];
	size_t nasks = 0;
	size_t covers = 0, uncovers = 0;
	int64_t t = T0;
	bool failed = false;
	int spins = 0;
	for (int step = 0; step < 400 && !failed; step++) {
		int before = kt_failed_checks_;
		int64_t next = tick(t);
		if (leader) {
			/* what the pass made of the pods it saw */
			size_t want_cover = 0, want_uncover = 0;
			for (int i = 0; i < RPODS; i++) {
				rpod *p = &pods[i];
				bool wc = r_wants_cover(managed, dry, p), wu = r_wants_uncover(managed, dry, p);
				want_cover += wc;
				want_uncover += wu;
				if (!wc && !wu) {
					p->since = 0;
					p->last_ask = -1;
					p->from = 0;
				} else {
					if (!p->since)
						p->since = t;
					if (!p->from)
						p->from = t;
				}
				if (!wc)
					p->reported = false;
			}
			int nreports = 0;
			for (size_t a = 0; a < acts.n; a++) {
				const fb_action *x = &acts.v[a];
				rpod *p = NULL;
				for (int i = 0; i < RPODS; i++)
					if (pods[i].exists && strcmp(pods[i].uid, x->uid) == 0)
						p = &pods[i];
				if (x->kind == FB_ACT_COVER || x->kind == FB_ACT_UNCOVER) {
					/* giving back is the one write of a dry run */
					KT_CHECK(p != NULL && (write || x->kind == FB_ACT_UNCOVER));
					if (!p)
						continue;
					/* on a failed node, the seconds left of the 300 from its failure */
					int64_t fs = p->node >= 0 ? failed_since[p->node] : 0;
					int64_t left = -1;
					if (x->kind == FB_ACT_UNCOVER && fs)
						left = fs + 300 * S <= t ? 0 : (fs + 300 * S - t + 999) / 1000;
					if (!master_disruption) {
						KT_EQ_INT(x->left_not_ready_s, left);
						KT_EQ_INT(x->left_unreachable_s, left);
					} else { /* leaving it restarts the clocks (admission.c) */
						KT_CHECK(x->left_not_ready_s >= left);
						KT_CHECK(x->left_not_ready_s <= (left < 0 ? -1 : 300));
						KT_EQ_INT(x->left_unreachable_s, x->left_not_ready_s);
					}
					KT_CHECK(x->kind == FB_ACT_COVER ? r_wants_cover(managed, dry, p)
					                                 : r_wants_uncover(managed, dry, p));
					KT_CHECK(p->last_ask < 0 || t - p->last_ask >= 10 * S);
					p->last_ask = p->from = t;
					if (nasks < sizeof(asks) / sizeof(*asks))
						asks[nasks++] = t;
					covers += x->kind == FB_ACT_COVER;
					uncovers += x->kind == FB_ACT_UNCOVER;
				} else if (x->kind == FB_ACT_EVENT && x->reason == FB_REASON_NOT_COVERED) {
					KT_CHECK(p != NULL && write);
					if (!p)
						continue;
					KT_CHECK(r_wants_cover(managed, dry, p));
					KT_CHECK(!p->reported);
					KT_CHECK(t - p->since >= cfg.uncovered_report_ms);
					p->reported = true;
					nreports++;
				} else if ((x->kind == FB_ACT_EVICT || x->kind == FB_ACT_DELETE) && p) {
					KT_CHECK(!(managed && write && p->k8s_evicts));
				}
			}
			KT_CHECK(nreports <= 20);
			fb_core_stats st = stats();
			KT_EQ_INT(st.pods_uncovered, want_cover);
			KT_EQ_INT(st.pods_to_restore, want_uncover);
			KT_EQ_INT(st.covers_requested, covers);
			KT_EQ_INT(st.uncovers_requested, uncovers);
			/* and nothing left waiting longer than it may */
			for (int i = 0; i < RPODS; i++) {
				rpod *p = &pods[i];
				if (!p->since || (!write && !r_wants_uncover(managed, dry, p)))
					continue;
				KT_CHECK(t - p->from <= longest);
				if (t - p->from > longest)
					fprintf(stderr, "  %s waits since T0+%lld ms, asked last T0+%lld\n", p->uid,
					        (long long)(p->from - T0), (long long)(p->last_ask - T0));
				if (r_wants_cover(managed, dry, p) && nreports < 20)
					KT_CHECK(p->reported || t < p->since + cfg.uncovered_report_ms);
			}
		} else {
			KT_EQ_INT(acts.n, 0);
			KT_EQ_INT(next, INT64_MAX);
		}
		if (kt_failed_checks_ != before) {
			fprintf(stderr, "  seed %llu, step %d, at T0+%lld ms (managed %d, dry run %d, "
			                "rate %g, report after %lld s)\n",
			        (unsigned long long)seed, step, (long long)(t - T0), managed, cfg.dry_run,
			        rate, (long long)(cfg.uncovered_report_ms / S));
			failed = true;
		}
		/* what happens before the next tick */
		int64_t step_ms = rnd(10) == 0 ? (int64_t)rnd(120) * S : (int64_t)rnd(3000) + 1;
		if (next > t && next - t < step_ms) {
			t = next; /* the core's own wake-up: nothing else happened */
			continue;
		}
		if (next <= t) {
			/* at once, as the shell does; but only while a bound of one pass holds work
			 * back (20 reports), never in a loop */
			KT_CHECK(++spins < 4);
			continue;
		}
		spins = 0;
		t += step_ms;
		int changes = (int)rnd(4);
		for (int k = 0; k < changes; k++) {
			int i = (int)rnd(RPODS);
			rpod *p = &pods[i];
			uint32_t what = rnd(10);
			if (!p->exists || what == 0) {
				if (p->exists) {
					fb_core_pod_delete(core, p->uid);
					p->exists = false;
				}
				r_new(p, i);
			} else if (what == 1) {
				fb_core_pod_delete(core, p->uid);
				p->exists = false;
				p->since = p->from = 0;
				p->reported = false;
				p->last_ask = -1;
			} else if (what == 2) {
				char name[8];
				int n = (int)rnd(RNODES);
				snprintf(name, sizeof(name), "n%d", n);
				fb_cond c = (fb_cond[]){ FB_COND_TRUE, FB_COND_FALSE, FB_COND_UNKNOWN }[rnd(3)];
				node(name, "a", c, t);
				if (c == FB_COND_TRUE)
					failed_since[n] = 0;
				else if (!failed_since[n])
					failed_since[n] = t; /* NotReady to Unknown: the same failure */
				bool all = true;
				for (int m = 0; m < RNODES; m++)
					all = all && failed_since[m];
				master_disruption = master_disruption || all;
			} else {
				r_change(p);
			}
		}
		if (rnd(40) == 0) {
			leader = !leader;
			fb_core_set_leader(core, leader);
			if (leader) /* a new leader asks again at once */
				for (int i = 0; i < RPODS; i++) {
					pods[i].last_ask = -1;
					pods[i].from = 0; /* from its first tick */
				}
		}
	}
	/* the bucket: never more asks in a span than it holds plus what flowed in */
	for (size_t i = 0; i < nasks && !failed; i++)
		for (size_t j = i + 1; j < nasks; j++)
			if ((double)(j - i + 1) > cap + rate * (double)(asks[j] - asks[i]) / 1000.0 + 1e-6) {
				fprintf(stderr, "  seed %llu: %zu asks in %lld ms at %g/s\n",
				        (unsigned long long)seed, j - i + 1, (long long)(asks[j] - asks[i]), rate);
				KT_CHECK(!"rate exceeded");
				failed = true;
				break;
			}
	teardown();
}

/* FB_SEEDS=n runs n histories (300 by default; 6000 pass). */
KT_TEST(random_histories_keep_the_rules)
{
	const char *env = getenv("FB_SEEDS");
	uint64_t seeds = env ? strtoull(env, NULL, 10) : 300;
	for (uint64_t seed = 1; seed <= seeds; seed++)
		random_history(seed);
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
	KT_RUN(the_rate_holds_however_the_ticks_fall);
	KT_RUN(pods_not_asked_yet_go_before_pods_asked_again);
	KT_RUN(a_failed_nodes_pod_asked_before_goes_before_new_pods_elsewhere);
	KT_RUN(reports_go_out_twenty_a_pass);
	KT_RUN(a_new_leader_starts_the_backoff_over);
	KT_RUN(pods_out_of_the_webhooks_reach_are_not_adopted_and_others_are);
	KT_RUN(an_uncovered_pod_that_ends_is_let_go);
	KT_RUN(a_pod_made_again_under_its_name_is_a_new_pod);
	KT_RUN(an_ask_lost_to_memory_is_asked_next_tick);
	KT_RUN(an_uncovered_stretch_starts_over_after_a_cover);
	KT_RUN(a_failed_node_of_uncovered_pods_is_left_to_kubernetes);
	KT_RUN(restore_goes_at_the_set_rate_and_backs_off);
	KT_RUN(dry_run_gives_covered_pods_back_and_counts);
	KT_RUN(a_dry_run_budget_s_nodes_are_handed_back);
	KT_RUN(a_node_relabelled_into_a_dry_run_budget_hands_its_pods_back);
	KT_RUN(a_shortened_pod_gets_its_whole_times_back_once_its_node_is_up);
	KT_RUN(lengthening_is_not_held_back_by_the_give_back_s_backoff);
	KT_RUN(a_pod_given_back_on_a_failed_node_gets_the_seconds_left);
	KT_RUN(self_managed_actions_do_not_depend_on_the_managed_fields);
	KT_RUN(random_histories_keep_the_rules);
	return KT_DONE();
}
