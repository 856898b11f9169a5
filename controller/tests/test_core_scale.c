/*
 * The opt-in quarantine action ScaleToZero in the decision core: the scale is
 * asked for once, after the Quarantine that records it, and not again when the
 * object is observed, after a restart that finds it done, or while the result
 * is out; it is restored on release (also a release that happened while no
 * firebreak was leading); failures are retried with backoff; workloads without
 * a scale subresource fall back to Pin with an Event; dry run writes nothing;
 * and the budget of the node that failed last decides.
 */
#include <stdio.h>
#include <stdlib.h>

#include "core.h"
#include "coretest.h"
#include "kc/alloc.h"
#include "kctest.h"

#define VERDICT (T0 + 44 * S) /* failures at T0 + 25 s are judged by then */

/* The pods' tolerations of the failure taints, in seconds. */
#define TOL 30

#define S2Z FB_POISON_SCALE_TO_ZERO

/* Six healthy nodes with innocent pods; a poison workload kills n1 and n2 at T0 + 25 s. */
static void cascade(const char *workload)
{
	for (int i = 1; i <= 6; i++) {
		char n[8], p[16];
		snprintf(n, sizeof(n), "n%d", i);
		snprintf(p, sizeof(p), "web-%d", i);
		node(n, NULL, FB_COND_TRUE, T0 - 86400 * S);
		pod(p, n, WEB, T0 - 86400 * S, TOL);
	}
	pod("poison-a", "n1", workload, T0, TOL);
	pod("poison-b", "n2", workload, T0, TOL);
	tick(T0);
	node("n1", NULL, FB_COND_UNKNOWN, T0 + 25 * S);
	node("n2", NULL, FB_COND_UNKNOWN, T0 + 25 * S);
	tick(T0 + 25 * S);
	/* the verdict may wait for the failures to settle: keep what both ticks decided */
	tick_keep(VERDICT);
}

KT_TEST(scaled_once_and_restored_on_release)
{
	setup(false);
	budget("all", 1, "{\"poison\":{\"action\":\"ScaleToZero\"}}");
	cascade(POISON);
	const fb_action *q = find(FB_ACT_QUARANTINE, NULL);
	KT_CHECK(q && payload(q) && strstr(payload(q), "\"action\":\"ScaleToZero\""));
	KT_EQ_INT(count(FB_ACT_SCALE_TO_ZERO), 1);
	const fb_action *sc = find(FB_ACT_SCALE_TO_ZERO, NULL);
	KT_CHECK(sc && !strcmp(sc->ns, "default") && !strcmp(sc->name, "poison") &&
	         !strcmp(sc->workload.kind, "Deployment") && !strcmp(sc->quarantine, "deployment-poison") &&
	         !sc->dry_run);
	/* after the Quarantine that records it; pins and taints as with Pin */
	KT_CHECK(index_of(FB_ACT_QUARANTINE) >= 0 &&
	         index_of(FB_ACT_QUARANTINE) < index_of(FB_ACT_SCALE_TO_ZERO));
	KT_EQ_INT(count(FB_ACT_TAINT), 2);
	const fb_action *e = find(FB_ACT_EVENT, "Quarantined");
	KT_CHECK(e && strstr(e->message, "scaled to 0 replicas"));
	/* not again while its result is out, nor when the informer shows the object */
	tick(T0 + 46 * S);
	KT_EQ_INT(count(FB_ACT_SCALE_TO_ZERO), 0);
	KT_EQ_INT(qset("deployment-poison", "Deployment", "poison", false, S2Z, -1, false,
	               T0 + 46 * S), 0);
	tick(T0 + 47 * S);
	KT_EQ_INT(count(FB_ACT_SCALE_TO_ZERO), 0);
	fb_core_scale_result(core, WK("Deployment", "default", "poison"), false, FB_SCALE_DONE,
	                     T0 + 47 * S);
	KT_EQ_INT(qset("deployment-poison", "Deployment", "poison", false, S2Z, 2, false,
	               T0 + 48 * S), 0);
	tick(T0 + 80 * S);
	KT_EQ_INT(count(FB_ACT_SCALE_TO_ZERO), 0);
	KT_EQ_INT(count(FB_ACT_SCALE_RESTORE), 0);
	/* still pinned, on every tick */
	KT_CHECK(find_all(FB_ACT_EVICT, "poison-a") == NULL);
	KT_CHECK(find_all(FB_ACT_EVICT, "poison-b") == NULL);
	fb_core_stats st;
	fb_core_get_stats(core, &st);
	KT_EQ_INT(st.scaled_to_zero, 1);
	/* the operator deletes the Quarantine: restored once */
	fb_core_quarantine_delete(core, WK("Deployment", "default", "poison"), T0 + 120 * S);
	tick(T0 + 120 * S);
	KT_EQ_INT(count(FB_ACT_SCALE_RESTORE), 1);
	const fb_action *r = find(FB_ACT_SCALE_RESTORE, NULL);
	KT_CHECK(r && !strcmp(r->name, "poison") && !strcmp(r->workload.kind, "Deployment"));
	KT_EQ_INT(count(FB_ACT_SCALE_TO_ZERO), 0);
	tick(T0 + 121 * S);
	KT_EQ_INT(count(FB_ACT_SCALE_RESTORE), 0);
	fb_core_scale_result(core, WK("Deployment", "default", "poison"), true, FB_SCALE_DONE,
	                     T0 + 121 * S);
	tick(T0 + 220 * S);
	KT_EQ_INT(count(FB_ACT_SCALE_RESTORE), 0);
	fb_core_get_stats(core, &st);
	KT_EQ_INT(st.scaled_to_zero, 0);
	/* once each, over every tick */
	KT_EQ_INT(count_all(FB_ACT_SCALE_TO_ZERO, NULL), 1);
	KT_EQ_INT(count_all(FB_ACT_SCALE_RESTORE, NULL), 1);
	teardown();
}

KT_TEST(pin_by_default_makes_no_scale)
{
	setup(false);
	cascade(POISON);
	const fb_action *q = find(FB_ACT_QUARANTINE, NULL);
	KT_CHECK(q && payload(q) && strstr(payload(q), "\"action\":\"Pin\""));
	KT_EQ_INT(count(FB_ACT_SCALE_TO_ZERO), 0);
	fb_core_quarantine_delete(core, WK("Deployment", "default", "poison"), T0 + 120 * S);
	tick(T0 + 120 * S);
	/* on no tick */
	KT_EQ_INT(count_all(FB_ACT_SCALE_TO_ZERO, NULL), 0);
	KT_EQ_INT(count_all(FB_ACT_SCALE_RESTORE, NULL), 0);
	teardown();
}

KT_TEST(failures_are_retried_with_backoff)
{
	setup(false);
	budget("all", 1, "{\"poison\":{\"action\":\"ScaleToZero\"}}");
	cascade(POISON);
	KT_EQ_INT(count(FB_ACT_SCALE_TO_ZERO), 1);
	fb_core_scale_result(core, WK("Deployment", "default", "poison"), false, FB_SCALE_FAILED,
	                     T0 + 45 * S);
	int64_t next = tick(T0 + 46 * S);
	KT_EQ_INT(count(FB_ACT_SCALE_TO_ZERO), 0);
	KT_CHECK(next <= T0 + 50 * S);
	tick(T0 + 50 * S);
	KT_EQ_INT(count(FB_ACT_SCALE_TO_ZERO), 1);
	/* the second failure waits twice as long */
	fb_core_scale_result(core, WK("Deployment", "default", "poison"), false, FB_SCALE_FAILED,
	                     T0 + 50 * S);
	tick(T0 + 55 * S);
	KT_EQ_INT(count(FB_ACT_SCALE_TO_ZERO), 0);
	tick(T0 + 60 * S);
	KT_EQ_INT(count(FB_ACT_SCALE_TO_ZERO), 1);
	/* refused (e.g. managed by another controller): pinned only, nothing to restore */
	fb_core_scale_result(core, WK("Deployment", "default", "poison"), false, FB_SCALE_REFUSED,
	                     T0 + 60 * S);
	size_t refused = log_mark();
	tick(T0 + 420 * S);
	fb_core_quarantine_delete(core, WK("Deployment", "default", "poison"), T0 + 520 * S);
	tick(T0 + 520 * S);
	KT_EQ_INT(count_since(refused, FB_ACT_SCALE_TO_ZERO, NULL), 0);
	KT_EQ_INT(count_all(FB_ACT_SCALE_RESTORE, NULL), 0); /* on no tick */
	KT_CHECK(find(FB_ACT_EVICT, "poison-a") != NULL); /* released as with Pin: pods may go */
	teardown();
}

KT_TEST(release_while_the_scale_is_out_restores)
{
	setup(false);
	budget("all", 1, "{\"poison\":{\"action\":\"ScaleToZero\"}}");
	cascade(POISON);
	KT_EQ_INT(count(FB_ACT_SCALE_TO_ZERO), 1);
	fb_core_quarantine_delete(core, WK("Deployment", "default", "poison"), T0 + 46 * S);
	/* the scale's result arrives after the release: ignored, the restore follows */
	fb_core_scale_result(core, WK("Deployment", "default", "poison"), false, FB_SCALE_DONE,
	                     T0 + 46 * S);
	tick(T0 + 47 * S);
	KT_EQ_INT(count(FB_ACT_SCALE_RESTORE), 1);
	KT_EQ_INT(count(FB_ACT_SCALE_TO_ZERO), 0);
	fb_core_stats st;
	fb_core_get_stats(core, &st);
	KT_EQ_INT(st.scaled_to_zero, 0);
	/* a failed restore is tried again */
	fb_core_scale_result(core, WK("Deployment", "default", "poison"), true, FB_SCALE_FAILED,
	                     T0 + 47 * S);
	tick(T0 + 48 * S);
	KT_EQ_INT(count(FB_ACT_SCALE_RESTORE), 0);
	tick(T0 + 53 * S);
	KT_EQ_INT(count(FB_ACT_SCALE_RESTORE), 1);
	teardown();
}

KT_TEST(a_restart_does_not_scale_twice)
{
	/* a new leader finds the Quarantine with the count recorded: nothing to do */
	setup(false);
	node("n1", NULL, FB_COND_UNKNOWN, T0);
	pod("poison-a", "n1", POISON, T0 - 10 * S, TOL);
	KT_EQ_INT(qset("deployment-poison", "Deployment", "poison", false, S2Z, 3, false, T0), 0);
	tick(T0 + S);
	KT_EQ_INT(count(FB_ACT_SCALE_TO_ZERO), 0);
	KT_EQ_INT(count(FB_ACT_QUARANTINE), 0);
	fb_core_stats st;
	fb_core_get_stats(core, &st);
	KT_EQ_INT(st.scaled_to_zero, 1);
	/* its release restores */
	KT_EQ_INT(qset("deployment-poison", "Deployment", "poison", true, S2Z, 3, false, T0 + 9 * S),
	          0);
	tick(T0 + 10 * S);
	KT_EQ_INT(count(FB_ACT_SCALE_RESTORE), 1);
	/* the status says Released only once the restore is done */
	KT_CHECK(find(FB_ACT_QUARANTINE_RELEASED, NULL) == NULL);
	fb_core_scale_result(core, WK("Deployment", "default", "poison"), true, FB_SCALE_DONE,
	                     T0 + 10 * S);
	tick(T0 + 11 * S);
	KT_CHECK(find(FB_ACT_QUARANTINE_RELEASED, NULL) != NULL);
	/* on no tick */
	KT_EQ_INT(count_all(FB_ACT_SCALE_TO_ZERO, NULL), 0);
	KT_EQ_INT(count_all(FB_ACT_QUARANTINE, NULL), 0);
	teardown();

	/* the old leader died between the annotation and the scale (no count in the status):
	 * the scale is asked for once more; carrying it out keeps the annotated count */
	setup(false);
	KT_EQ_INT(qset("deployment-poison", "Deployment", "poison", false, S2Z, -1, false, T0), 0);
	tick(T0 + S);
	KT_EQ_INT(count(FB_ACT_SCALE_TO_ZERO), 1);
	tick(T0 + 2 * S);
	KT_EQ_INT(count(FB_ACT_SCALE_TO_ZERO), 0);
	KT_EQ_INT(count_all(FB_ACT_SCALE_TO_ZERO, NULL), 1);
	teardown();

	/* a Pin quarantine is never scaled */
	setup(false);
	KT_EQ_INT(qset("deployment-poison", "Deployment", "poison", false, FB_POISON_PIN, -1, false,
	               T0), 0);
	tick(T0 + S);
	KT_EQ_INT(count(FB_ACT_SCALE_TO_ZERO), 0);
	teardown();
}

KT_TEST(released_while_no_leader_was_watching)
{
	/* spec.release was set while firebreak was down: the new leader restores */
	setup(false);
	KT_EQ_INT(qset("deployment-poison", "Deployment", "poison", true, S2Z, 3, false, T0), 0);
	tick(T0 + S);
	KT_EQ_INT(count(FB_ACT_SCALE_RESTORE), 1);
	KT_EQ_INT(count(FB_ACT_SCALE_TO_ZERO), 0);
	KT_EQ_INT(count(FB_ACT_QUARANTINE_RELEASED), 0);
	/* a failed restore (a webhook, RBAC) is retried and the release stays unmarked, so a
	 * restart or the next leader would restore again */
	fb_core_scale_result(core, WK("Deployment", "default", "poison"), true, FB_SCALE_FAILED, T0 + S);
	tick(T0 + 2 * S);
	KT_EQ_INT(count(FB_ACT_QUARANTINE_RELEASED), 0);
	int64_t t = T0 + 2 * S;
	while (count(FB_ACT_SCALE_RESTORE) == 0 && t < T0 + 10 * MIN)
		tick(t += S);
	KT_EQ_INT(count(FB_ACT_SCALE_RESTORE), 1);
	KT_EQ_INT(count(FB_ACT_QUARANTINE_RELEASED), 0);
	fb_core_scale_result(core, WK("Deployment", "default", "poison"), true, FB_SCALE_DONE, t);
	tick(t + S);
	KT_EQ_INT(count(FB_ACT_QUARANTINE_RELEASED), 1);
	/* over every tick: marked once, only after the restore was done; never scaled down */
	KT_EQ_INT(count_all(FB_ACT_QUARANTINE_RELEASED, NULL), 1);
	KT_EQ_INT(count_all(FB_ACT_SCALE_TO_ZERO, NULL), 0);
	teardown();
	/* ... but not one whose release was carried out already */
	setup(false);
	KT_EQ_INT(qset("deployment-poison", "Deployment", "poison", true, S2Z, 3, true, T0), 0);
	tick(T0 + S);
	KT_EQ_INT(count(FB_ACT_SCALE_RESTORE), 0);
	KT_EQ_INT(count(FB_ACT_QUARANTINE_RELEASED), 0);
	teardown();
}

KT_TEST(leadership_regained_asks_again)
{
	setup(false);
	budget("all", 1, "{\"poison\":{\"action\":\"ScaleToZero\"}}");
	cascade(POISON);
	KT_EQ_INT(count(FB_ACT_SCALE_TO_ZERO), 1);
	/* the lease was lost before the shell carried it out: no result ever came */
	fb_core_set_leader(core, false);
	tick(T0 + 46 * S);
	KT_EQ_INT(acts.n, 0);
	fb_core_set_leader(core, true);
	tick(T0 + 47 * S);
	KT_EQ_INT(count(FB_ACT_SCALE_TO_ZERO), 1);
	teardown();

	/* a follower that saw the leader's count does not scale when it takes over */
	setup(false);
	fb_core_set_leader(core, false);
	KT_EQ_INT(qset("deployment-poison", "Deployment", "poison", false, S2Z, -1, false, T0), 0);
	KT_EQ_INT(qset("deployment-poison", "Deployment", "poison", false, S2Z, 4, false, T0 + S), 0);
	fb_core_set_leader(core, true);
	tick(T0 + 2 * S);
	KT_EQ_INT(count(FB_ACT_SCALE_TO_ZERO), 0);
	teardown();
}

static void expect_fallback(const char *kind, const char *name)
{
	char workload[128];
	snprintf(workload, sizeof(workload), "%s/default/%s", kind, name);
	setup(false);
	budget("all", 1, "{\"poison\":{\"action\":\"ScaleToZero\"}}");
	cascade(workload);
	const fb_action *q = find(FB_ACT_QUARANTINE, NULL);
	KT_CHECK(q && payload(q) && strstr(payload(q), "\"action\":\"Pin\""));
	KT_EQ_INT(count(FB_ACT_SCALE_TO_ZERO), 0);
	KT_EQ_INT(count(FB_ACT_TAINT), 2);
	const fb_action *e = find(FB_ACT_EVENT, "ScaleToZeroSkipped");
	KT_CHECK(e && e->warning && e->obj == FB_OBJ_WORKLOAD && !strcmp(e->workload.kind, kind) &&
	         strstr(e->message, "pinned instead"));
	if (!e)
		fprintf(stderr, "  (no ScaleToZeroSkipped for %s)\n", workload);
	const fb_action *qe = find(FB_ACT_EVENT, "Quarantined");
	KT_CHECK(qe && strstr(qe->message, "cannot be scaled to zero"));
	tick(T0 + 80 * S);
	KT_EQ_INT(count(FB_ACT_SCALE_TO_ZERO), 0);
	fb_core_quarantine_delete(core, WK(kind, "default", name), T0 + 120 * S);
	tick(T0 + 120 * S);
	/* on no tick */
	KT_EQ_INT(count_all(FB_ACT_SCALE_TO_ZERO, NULL), 0);
	KT_EQ_INT(count_all(FB_ACT_SCALE_RESTORE, NULL), 0);
	teardown();
}

KT_TEST(kinds_without_scale_fall_back_to_pin)
{
	KT_CHECK(fb_workload_scalable("Deployment") && fb_workload_scalable("StatefulSet") &&
	         fb_workload_scalable("ReplicaSet"));
	KT_CHECK(!fb_workload_scalable("Job") && !fb_workload_scalable("CronJob") &&
	         !fb_workload_scalable("Pod") && !fb_workload_scalable("DaemonSet") &&
	         !fb_workload_scalable("ReplicationController") && !fb_workload_scalable(NULL));
	expect_fallback("Job", "batch");
	expect_fallback("CronJob", "nightly");
	expect_fallback("Pod", "lonely");
	expect_fallback("Widget", "custom");
	/* a StatefulSet is scaled */
	setup(false);
	budget("all", 1, "{\"poison\":{\"action\":\"ScaleToZero\"}}");
	cascade("StatefulSet/default/db");
	const fb_action *sc = find(FB_ACT_SCALE_TO_ZERO, NULL);
	KT_CHECK(sc && !strcmp(sc->workload.kind, "StatefulSet") && !strcmp(sc->quarantine, "statefulset-db"));
	teardown();
}

KT_TEST(dry_run_writes_nothing)
{
	/* the whole controller */
	setup(true);
	budget("all", 1, "{\"poison\":{\"action\":\"ScaleToZero\"}}");
	cascade(POISON);
	KT_EQ_INT(count(FB_ACT_SCALE_TO_ZERO), 0);
	KT_EQ_INT(count(FB_ACT_QUARANTINE), 0);
	const fb_action *e = find(FB_ACT_EVENT, "ScaledToZero");
	KT_CHECK(e && e->dry_run && !strncmp(e->message, "(dry run)", 9) &&
	         strstr(e->message, "would be scaled to 0 replicas"));
	tick(T0 + 80 * S);
	KT_EQ_INT(count(FB_ACT_SCALE_TO_ZERO), 0);
	/* Quarantines already in force are not scaled by a dry-run controller either */
	KT_EQ_INT(qset("deployment-other", "Deployment", "other", false, S2Z, -1, false, T0 + 81 * S),
	          0);
	tick(T0 + 82 * S);
	/* on no tick */
	KT_EQ_INT(count_all(FB_ACT_SCALE_TO_ZERO, NULL), 0);
	KT_EQ_INT(count_all(FB_ACT_QUARANTINE, NULL), 0);
	teardown();

	/* a dry-run budget over the nodes it killed */
	setup(false);
	budget("all", 1, "{\"dryRun\":true,\"poison\":{\"action\":\"ScaleToZero\"}}");
	cascade(POISON);
	KT_EQ_INT(count(FB_ACT_SCALE_TO_ZERO), 0);
	KT_EQ_INT(count(FB_ACT_QUARANTINE), 0);
	e = find(FB_ACT_EVENT, "ScaledToZero");
	KT_CHECK(e && e->dry_run);
	teardown();
}

KT_TEST(the_budget_of_the_last_failed_node_decides)
{
	/* budget "gpu" (ScaleToZero) selects n2 only; n1 has the defaults (Pin) */
	for (int order = 0; order < 2; order++) {
		setup(false);
		budget("gpu", 1, "{\"nodeSelector\":{\"matchLabels\":{\"pool\":\"gpu\"}},"
		              "\"poison\":{\"action\":\"ScaleToZero\"}}");
		node("n1", NULL, FB_COND_TRUE, T0 - 86400 * S);
		labelled_node("n2", NULL, FB_COND_TRUE, T0 - 86400 * S, "gpu");
		for (int i = 3; i <= 6; i++) {
			char n[8];
			snprintf(n, sizeof(n), "n%d", i);
			node(n, NULL, FB_COND_TRUE, T0 - 86400 * S);
		}
		pod("poison-a", "n1", POISON, T0, TOL);
		pod("poison-b", "n2", POISON, T0, TOL);
		tick(T0);
		/* order 0: n1 fails first, then n2 (gpu) -> ScaleToZero; order 1: the reverse -> Pin */
		const char *first = order == 0 ? "n1" : "n2", *second = order == 0 ? "n2" : "n1";
		if (!strcmp(first, "n2"))
			labelled_node("n2", NULL, FB_COND_UNKNOWN, T0 + 20 * S, "gpu");
		else
			node("n1", NULL, FB_COND_UNKNOWN, T0 + 20 * S);
		tick(T0 + 20 * S);
		KT_CHECK(find(FB_ACT_QUARANTINE, NULL) == NULL);
		if (!strcmp(second, "n2"))
			labelled_node("n2", NULL, FB_COND_UNKNOWN, T0 + 25 * S, "gpu");
		else
			node("n1", NULL, FB_COND_UNKNOWN, T0 + 25 * S);
		tick(T0 + 25 * S);
		tick_keep(VERDICT);
		KT_CHECK(find(FB_ACT_QUARANTINE, NULL) != NULL);
		KT_EQ_INT(count_all(FB_ACT_SCALE_TO_ZERO, NULL), order == 0 ? 1 : 0);
		teardown();
	}
}

int main(void)
{
	KT_RUN(scaled_once_and_restored_on_release);
	KT_RUN(pin_by_default_makes_no_scale);
	KT_RUN(failures_are_retried_with_backoff);
	KT_RUN(release_while_the_scale_is_out_restores);
	KT_RUN(a_restart_does_not_scale_twice);
	KT_RUN(released_while_no_leader_was_watching);
	KT_RUN(leadership_regained_asks_again);
	KT_RUN(kinds_without_scale_fall_back_to_pin);
	KT_RUN(dry_run_writes_nothing);
	KT_RUN(the_budget_of_the_last_failed_node_decides);
	return KT_DONE();
}
