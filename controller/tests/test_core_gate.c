/*
 * The quarantine holds (issue 12) in the decision core: the admission
 * webhook's answer (fb_core_gate) on the leader and on followers; gated pods
 * reported once and counted in the Quarantine's status; the gates removed on
 * release, bounded and retried, never from a held workload's pods; the
 * finalizer that holds the Quarantine until gates, taints and scale are
 * undone, across a restart and a change of leader; pods that escaped the
 * gate deleted with backoff; failures explained by a quarantined workload
 * counted against no one else; pods firebreak moved not suspects for having
 * moved; and Quarantine names that never collide.
 */
#include <stdio.h>
#include <string.h>

#include "core.h"
#include "coretest.h"
#include "kctest.h"

/* The pods' tolerations of the failure taints, in seconds. */
#define TOL 30
#define S2Z FB_POISON_SCALE_TO_ZERO
/* The poison kills n1 and n2 then; judged at once (no settling). */
#define VERDICT (T0 + 25 * S)
#define POISON_TAINT "default.Deployment.poison"
#define API "Deployment/default/api"

static void setup_with(bool dry_run, int max_pod_actions)
{
	fb_core_config cfg;
	fb_core_config_defaults(&cfg);
	ratio_rule(&cfg);
	cfg.dry_run = dry_run;
	cfg.poison_settle_ms = 0;
	if (max_pod_actions)
		cfg.max_pod_actions_per_tick = max_pod_actions;
	setup_config(&cfg);
}

static void setup_at_once(void)
{
	setup_with(false, 0);
}

/* Nodes n<from>..n<to>, healthy for a day. */
static void nodes(int from, int to)
{
	for (int i = from; i <= to; i++) {
		char n[8];
		snprintf(n, sizeof(n), "n%d", i);
		node(n, NULL, FB_COND_TRUE, T0 - 86400 * S);
	}
}

/* Six healthy nodes with an innocent web pod on each, there for a day. */
static void cluster(void)
{
	nodes(1, 6);
	for (int i = 1; i <= 6; i++) {
		char n[8], p[16];
		snprintf(n, sizeof(n), "n%d", i);
		snprintf(p, sizeof(p), "web-%d", i);
		pod(p, n, WEB, T0 - 86400 * S, TOL);
	}
}

/* Workload id arrives on n1 and n2 at T0 (pods <name>-a, -b, the name cut to 40
 * characters); both die at VERDICT, which judges it. */
static void kills_n1_n2(const char *id)
{
	char a[48], b[48];
	snprintf(a, sizeof(a), "%.40s-a", strrchr(id, '/') + 1);
	snprintf(b, sizeof(b), "%.40s-b", strrchr(id, '/') + 1);
	pod(a, "n1", id, T0, TOL);
	pod(b, "n2", id, T0, TOL);
	tick(T0);
	node("n1", NULL, FB_COND_UNKNOWN, VERDICT);
	node("n2", NULL, FB_COND_UNKNOWN, VERDICT);
	tick(VERDICT);
}

/* The poison does, and the verdict quarantines it. */
static void quarantine_poison(void)
{
	kills_n1_n2(POISON);
	KT_CHECK(find(FB_ACT_QUARANTINE, "deployment-poison") != NULL);
}

/* The informer shows the Quarantine the verdict created (our finalizer its only one). */
static void observe_poison(int64_t now)
{
	KT_EQ_INT(qobserve("deployment-poison",
	                   &(quarantine_spec){ .kind = "Deployment", .workload = "poison",
	                                       .created_ms = VERDICT },
	                   now), 0);
}

/* A core with the poison just quarantined in the six-node cluster. */
static void poison_held(void)
{
	setup_at_once();
	cluster();
	quarantine_poison();
}

/* A pod of workload created then, on node `on` (NULL: unscheduled), gated or not. */
static void new_pod(const char *name, const char *on, const char *workload, int64_t created,
                    bool gated)
{
	pod_with(name, on, &(pod_spec){ .workload = workload, .arrived_ms = created + (on ? S : 0),
	                                .created_ms = created, .gated = gated, .tol_s = TOL });
}

/* The webhook held it: a new pod, unscheduled, behind the gate. */
static void gated_pod(const char *name, const char *workload, int64_t created)
{
	new_pod(name, NULL, workload, created, true);
}

/* Events with this reason about object `name` of kind obj, logged since mark. */
static int events(size_t mark, const char *reason, fb_obj_kind obj, const char *name)
{
	int n = 0;
	for (const fb_action *a; (a = logged(mark)); mark++)
		n += a->kind == FB_ACT_EVENT && a->obj == obj && !strcmp(a->name, name) &&
		     !strcmp(fb_reason_name(a->reason), reason);
	return n;
}

/* Actions of kind about pod or object `name` in this tick. */
static int count_named(fb_action_kind kind, const char *name)
{
	int n = 0;
	for (size_t i = 0; i < acts.n; i++)
		n += acts.v[i].kind == kind && !strcmp(acts.v[i].name, name);
	return n;
}

/* Events with this reason in this tick. */
static int count_reason(const char *reason)
{
	int n = 0;
	for (size_t i = 0; i < acts.n; i++)
		n += acts.v[i].kind == FB_ACT_EVENT && !strcmp(fb_reason_name(acts.v[i].reason), reason);
	return n;
}

static bool gate(const char *workload, char quarantine[FB_NAME_MAX])
{
	memset(quarantine, 0, FB_NAME_MAX);
	return fb_core_gate(core, WL(workload), quarantine);
}

/* ---- 1. the webhook's answer -------------------------------------------------------------- */

KT_TEST(gate_holds_new_pods_of_a_quarantined_workload)
{
	char q[FB_NAME_MAX];
	setup_at_once();
	cluster();
	tick(T0 - S);
	KT_CHECK(!gate(POISON, q));
	quarantine_poison();
	/* not before the object is observed: a gate needs something that can release it */
	KT_CHECK(!gate(POISON, q));
	observe_poison(VERDICT);
	KT_CHECK(gate(POISON, q));
	KT_EQ_STR(q, "deployment-poison");
	KT_CHECK(!gate(WEB, q));
	KT_CHECK(!fb_core_gate(core, WK("StatefulSet", "default", "poison"), q));
	KT_CHECK(!fb_core_gate(core, WK("Deployment", "other", "poison"), q));
	observe_poison(VERDICT + S);
	tick(VERDICT + S);
	KT_CHECK(gate(POISON, q));
	KT_EQ_STR(q, "deployment-poison");
	/* the operator deletes it: while our finalizer holds it, the gate is off */
	KT_EQ_INT(qobserve("deployment-poison",
	                   &(quarantine_spec){ .kind = "Deployment", .workload = "poison",
	                                       .deleting = true, .created_ms = VERDICT },
	                   T0 + 100 * S), 0);
	KT_CHECK(!gate(POISON, q));
	tick(T0 + 100 * S);
	KT_CHECK(!gate(POISON, q));
	fb_core_quarantine_delete(core, WL(POISON), T0 + 101 * S);
	tick(T0 + 101 * S);
	KT_CHECK(!gate(POISON, q));
	teardown();

	/* released by spec.release */
	poison_held();
	observe_poison(VERDICT + S);
	KT_EQ_INT(qset("deployment-poison", "Deployment", "poison", true, FB_POISON_PIN, -1, false,
	               T0 + 100 * S), 0);
	KT_CHECK(!gate(POISON, q));
	tick(T0 + 100 * S);
	KT_CHECK(!gate(POISON, q));
	teardown();

	/* deleted with no finalizer left (removed by hand) */
	poison_held();
	fb_core_quarantine_delete(core, WL(POISON), VERDICT + S);
	KT_CHECK(!gate(POISON, q));
	teardown();
}

KT_TEST(followers_answer_from_the_object)
{
	char q[FB_NAME_MAX];
	setup_at_once();
	fb_core_set_leader(core, false);
	/* the object's own name, whatever made it */
	KT_EQ_INT(qobserve("poison-quarantine-by-hand",
	                   &(quarantine_spec){ .kind = "Deployment", .workload = "poison",
	                                       .created_ms = T0 },
	                   T0), 0);
	KT_CHECK(gate(POISON, q));
	KT_EQ_STR(q, "poison-quarantine-by-hand");
	KT_CHECK(!gate(WEB, q));
	tick(T0 + S);
	KT_EQ_INT(acts.n, 0); /* it decides nothing */
	KT_CHECK(gate(POISON, q));
	/* deleting: off; and then gone */
	KT_EQ_INT(qobserve("poison-quarantine-by-hand",
	                   &(quarantine_spec){ .kind = "Deployment", .workload = "poison",
	                                       .deleting = true, .created_ms = T0 },
	                   T0 + 10 * S), 0);
	KT_CHECK(!gate(POISON, q));
	fb_core_quarantine_delete(core, WL(POISON), T0 + 11 * S);
	KT_CHECK(!gate(POISON, q));
	/* another one, released by spec */
	KT_EQ_INT(qset("statefulset-db", "StatefulSet", "db", false, FB_POISON_PIN, -1, false,
	               T0 + 20 * S), 0);
	KT_CHECK(gate("StatefulSet/default/db", q));
	KT_EQ_STR(q, "statefulset-db");
	KT_EQ_INT(qset("statefulset-db", "StatefulSet", "db", true, FB_POISON_PIN, -1, false,
	               T0 + 30 * S), 0);
	KT_CHECK(!gate("StatefulSet/default/db", q));
	/* an object whose release was carried out long ago holds nothing */
	KT_EQ_INT(qset("job-old", "Job", "old", true, FB_POISON_PIN, -1, true, T0 + 40 * S), 0);
	KT_CHECK(!gate("Job/default/old", q));
	teardown();
}

KT_TEST(dry_run_gates_nothing)
{
	char q[FB_NAME_MAX];
	/* a dry-run verdict (global) */
	setup_with(true, 0);
	cluster();
	kills_n1_n2(POISON);
	const fb_action *e = find(FB_ACT_EVENT, "Quarantined");
	KT_CHECK(e && e->dry_run);
	KT_CHECK(!gate(POISON, q));
	/* a controller in dry run never runs the gate pass, so it could never take a gate off
	 * again: it does not put one on, even for a Quarantine in force */
	KT_EQ_INT(qset("deployment-other", "Deployment", "other", false, FB_POISON_PIN, -1, false,
	               T0 + 60 * S), 0);
	tick(T0 + 60 * S);
	KT_CHECK(!gate("Deployment/default/other", q));
	teardown();

	/* a dry-run budget over the nodes it killed */
	setup_at_once();
	budget("all", 1, "{\"dryRun\":true}");
	cluster();
	kills_n1_n2(POISON);
	e = find(FB_ACT_EVENT, "Quarantined");
	KT_CHECK(e && e->dry_run);
	KT_CHECK(!gate(POISON, q));
	teardown();
}

/* ---- 2. gated pods reported and counted --------------------------------------------------- */

/* The Quarantine status action of this tick for the poison, or NULL (checks there is one at most). */
static const fb_action *poison_status(void)
{
	KT_CHECK(count_named(FB_ACT_QUARANTINE_STATUS, "deployment-poison") <= 1);
	return find(FB_ACT_QUARANTINE_STATUS, "deployment-poison");
}

/* Re-observe the gated pods as they are (a resync, a status update of theirs). */
static void resync_gated(const char *const *names, size_t n, int64_t created)
{
	for (size_t i = 0; i < n; i++)
		gated_pod(names[i], POISON, created);
}

KT_TEST(gated_pods_are_told_once_and_counted)
{
	poison_held();
	size_t mark = log_mark();
	const char *const held[] = { "poison-c", "poison-d" };
	resync_gated(held, 2, T0 + 30 * S);
	tick(T0 + 31 * S);
	KT_EQ_INT(events(mark, "QuarantineGated", FB_OBJ_POD, "poison-c"), 1);
	KT_EQ_INT(events(mark, "QuarantineGated", FB_OBJ_POD, "poison-d"), 1);
	KT_EQ_INT(events(mark, "QuarantineGated", FB_OBJ_WORKLOAD, "poison"), 1);
	const fb_action *e = find(FB_ACT_EVENT, "QuarantineGated");
	KT_CHECK(e && e->warning && strstr(e->message, "deployment-poison") &&
	         strstr(e->message, FB_QUARANTINE_GATE));
	/* its status waits for the object */
	KT_CHECK(poison_status() == NULL);
	/* not again, whatever the informer says again */
	for (int64_t t = T0 + 32 * S; t <= T0 + 60 * S; t += 2 * S) {
		resync_gated(held, 2, T0 + 30 * S);
		tick(t);
		KT_EQ_INT(count_reason("QuarantineGated"), 0);
		KT_CHECK(poison_status() == NULL);
	}
	/* the object is observed: its status counts them */
	observe_poison(T0 + 61 * S);
	tick(T0 + 61 * S);
	const fb_action *st = poison_status();
	KT_CHECK(st && st->verdict && st->verdict->gated_pods == 2 && st->verdict->escaped_pods == 0);
	KT_CHECK(st && !strcmp(st->ns, "default") && payload(st) &&
	         strstr(payload(st), "{\"op\":\"add\",\"path\":\"/status/gatedPods\",\"value\":2}"));
	/* no change, no write */
	for (int64_t t = T0 + 62 * S; t <= T0 + 70 * S; t += S) {
		resync_gated(held, 2, T0 + 30 * S);
		observe_poison(t);
		tick(t);
		KT_CHECK(poison_status() == NULL);
		KT_EQ_INT(count_reason("QuarantineGated"), 0);
	}
	/* a third one: told, counted */
	mark = log_mark();
	gated_pod("poison-e", POISON, T0 + 71 * S);
	tick(T0 + 71 * S);
	st = poison_status();
	KT_CHECK(st && st->verdict && st->verdict->gated_pods == 3);
	KT_EQ_INT(events(mark, "QuarantineGated", FB_OBJ_POD, "poison-e"), 1);
	KT_EQ_INT(events(mark, "QuarantineGated", FB_OBJ_POD, "poison-c"), 0);
	KT_EQ_INT(events(mark, "QuarantineGated", FB_OBJ_WORKLOAD, "poison"), 1);
	tick(T0 + 72 * S);
	KT_CHECK(poison_status() == NULL);
	/* one goes (the Deployment scaled down): counted */
	pod_gone("poison-c");
	tick(T0 + 73 * S);
	st = poison_status();
	KT_CHECK(st && st->verdict && st->verdict->gated_pods == 2);
	tick(T0 + 74 * S);
	KT_CHECK(poison_status() == NULL);
	fb_core_stats stats;
	fb_core_get_stats(core, &stats);
	KT_EQ_INT(stats.pods_gated, 2);
	KT_EQ_INT(stats.pods_escaped, 0);
	/* over every tick: each pod told once, never ungated, never deleted */
	KT_EQ_INT(events(0, "QuarantineGated", FB_OBJ_POD, "poison-d"), 1);
	KT_EQ_INT(count_all(FB_ACT_UNGATE, NULL), 0);
	KT_EQ_INT(count_all(FB_ACT_DELETE, NULL), 0);
	teardown();
}

/* ---- 3. release: the gates come off ------------------------------------------------------- */

/* No gate comes off a pod of a workload still held, in this tick. */
static void check_held_keep_gates(void)
{
	KT_EQ_INT(count_named(FB_ACT_UNGATE, "other-1"), 0);
	KT_EQ_INT(count_named(FB_ACT_UNGATE, "other-2"), 0);
}

KT_TEST(release_takes_every_gate_off)
{
	enum { NG = 5 };
	char names[NG][16];
	setup_with(false, 2); /* two pod actions per tick */
	cluster();
	quarantine_poison();
	observe_poison(VERDICT + S);
	node_with("n1", FB_COND_UNKNOWN, VERDICT, &(node_spec){ .quarantine_taint = POISON_TAINT });
	node_with("n2", FB_COND_UNKNOWN, VERDICT, &(node_spec){ .quarantine_taint = POISON_TAINT });
	/* another quarantined workload, whose pods stay behind the gate throughout */
	KT_EQ_INT(qset("deployment-other", "Deployment", "other", false, FB_POISON_PIN, -1, false,
	               VERDICT), 0);
	gated_pod("other-1", "Deployment/default/other", T0 + 30 * S);
	gated_pod("other-2", "Deployment/default/other", T0 + 30 * S);
	for (int i = 0; i < NG; i++) {
		snprintf(names[i], sizeof(names[i]), "poison-g%d", i + 1);
		gated_pod(names[i], POISON, T0 + 30 * S);
	}
	for (int64_t t = T0 + 31 * S; t < T0 + 100 * S; t += 5 * S) {
		tick(t);
		KT_EQ_INT(count(FB_ACT_UNGATE), 0);
	}
	/* the operator sets spec.release */
	KT_EQ_INT(qset("deployment-poison", "Deployment", "poison", true, FB_POISON_PIN, -1, false,
	               T0 + 100 * S), 0);
	int64_t next = tick(T0 + 100 * S);
	KT_CHECK(find(FB_ACT_UNTAINT, "n1") && find(FB_ACT_UNTAINT, "n2"));
	node("n1", NULL, FB_COND_UNKNOWN, VERDICT); /* seen untainted */
	node("n2", NULL, FB_COND_UNKNOWN, VERDICT);
	KT_EQ_INT(count(FB_ACT_UNGATE), 2); /* bounded: the rest next ticks */
	char first[2][FB_NAME_MAX] = { "", "" };
	for (size_t i = 0, k = 0; i < acts.n && k < 2; i++)
		if (acts.v[i].kind == FB_ACT_UNGATE)
			snprintf(first[k++], sizeof(first[0]), "%s", acts.v[i].name);
	KT_CHECK(next <= T0 + 100 * S);
	check_held_keep_gates();
	KT_EQ_INT(count(FB_ACT_QUARANTINE_RELEASED), 0);
	for (int64_t t = T0 + 101 * S; t <= T0 + 102 * S; t += S) {
		tick(t);
		KT_EQ_INT(count(FB_ACT_UNGATE), t == T0 + 101 * S ? 2 : 1);
		check_held_keep_gates();
		KT_EQ_INT(count(FB_ACT_QUARANTINE_RELEASED), 0);
	}
	/* each once, each told */
	for (int i = 0; i < NG; i++) {
		KT_EQ_INT(count_all(FB_ACT_UNGATE, names[i]), 1);
		KT_EQ_INT(events(0, "QuarantineUngated", FB_OBJ_POD, names[i]), 1);
		const fb_action *u = find_all(FB_ACT_UNGATE, names[i]);
		KT_CHECK(u && u->obj == FB_OBJ_POD && !strcmp(u->ns, "default") &&
		         !strncmp(u->uid, "uid-", 4) && !strcmp(u->uid + 4, names[i]));
	}
	/* the two the first tick sent are seen without the gate; the others' patches were lost */
	new_pod(first[0], NULL, POISON, T0 + 30 * S, false);
	new_pod(first[1], NULL, POISON, T0 + 30 * S, false);
	size_t resend = log_mark();
	for (int64_t t = T0 + 103 * S; t <= T0 + 112 * S; t += S) {
		next = tick(t);
		check_held_keep_gates();
		KT_EQ_INT(count(FB_ACT_QUARANTINE_RELEASED), 0); /* gates still on */
		/* those sent at T0 + 101 s, then the one sent at T0 + 102 s */
		KT_EQ_INT(count(FB_ACT_UNGATE), t == T0 + 111 * S ? 2 : t == T0 + 112 * S ? 1 : 0);
		if (t < T0 + 111 * S)
			KT_CHECK(next <= T0 + 111 * S); /* the shell's timer is set for the retry */
	}
	/* sent again 10 s later to those still gated, and only to them */
	KT_EQ_INT(count_since(resend, FB_ACT_UNGATE, NULL), 3);
	KT_EQ_INT(count_since(resend, FB_ACT_UNGATE, first[0]), 0);
	KT_EQ_INT(count_since(resend, FB_ACT_UNGATE, first[1]), 0);
	KT_EQ_INT(count_since(resend, FB_ACT_EVENT, "QuarantineUngated"), 0); /* told once */
	/* all seen ungated now: the status says Released, once */
	for (int j = 0; j < NG; j++)
		new_pod(names[j], NULL, POISON, T0 + 30 * S, false);
	tick(T0 + 113 * S);
	KT_EQ_INT(count(FB_ACT_QUARANTINE_RELEASED), 1);
	const fb_action *r = find(FB_ACT_QUARANTINE_RELEASED, "deployment-poison");
	KT_CHECK(r && !strcmp(r->ns, "default"));
	for (int64_t t = T0 + 114 * S; t <= T0 + 200 * S; t += 10 * S) {
		tick(t);
		check_held_keep_gates();
	}
	KT_EQ_INT(count_all(FB_ACT_QUARANTINE_RELEASED, NULL), 1);
	KT_EQ_INT(count_all(FB_ACT_UNTAINT, "n1"), 1);
	KT_EQ_INT(count_all(FB_ACT_UNTAINT, "n2"), 1);
	/* on no tick did a held workload's pod lose its gate */
	KT_EQ_INT(count_all(FB_ACT_UNGATE, "other-1"), 0);
	KT_EQ_INT(count_all(FB_ACT_UNGATE, "other-2"), 0);
	/* and the poison's pods, free now, are no escapes */
	KT_EQ_INT(count_all(FB_ACT_DELETE, NULL), 0);
	fb_core_stats st;
	fb_core_get_stats(core, &st);
	KT_EQ_INT(st.ungates_requested, NG + 3);
	KT_EQ_INT(st.pods_gated, 2); /* other's */
	teardown();
}

KT_TEST(deletion_and_stray_gates_take_gates_off)
{
	/* the Quarantine deleted (no finalizer left): every gated pod at once */
	poison_held();
	gated_pod("poison-c", POISON, T0 + 30 * S);
	gated_pod("poison-d", POISON, T0 + 30 * S);
	gated_pod("poison-e", POISON, T0 + 30 * S);
	tick(T0 + 31 * S);
	KT_EQ_INT(count(FB_ACT_UNGATE), 0);
	fb_core_quarantine_delete(core, WL(POISON), T0 + 40 * S);
	tick(T0 + 40 * S);
	KT_EQ_INT(count(FB_ACT_UNGATE), 3);
	KT_CHECK(find(FB_ACT_UNGATE, "poison-c") && find(FB_ACT_UNGATE, "poison-d") &&
	         find(FB_ACT_UNGATE, "poison-e"));
	teardown();

	/* a gate on a pod of a workload no one holds (a stale answer, or a firebreak gone and
	 * back): it comes off */
	setup_at_once();
	cluster();
	gated_pod("web-7", WEB, T0);
	tick(T0 + S);
	KT_EQ_INT(count(FB_ACT_UNGATE), 1);
	KT_CHECK(find(FB_ACT_UNGATE, "web-7") != NULL);
	teardown();
}

/*
 * A restarted firebreak whose Quarantine informer has not synced yet does not know which
 * workloads are quarantined: the gated pods it sees may be held by a Quarantine still to
 * come, so no gate comes off before the Quarantines are known; then only the stray one does.
 */
KT_TEST(no_gate_comes_off_before_the_quarantines_are_known)
{
	setup_at_once();
	cluster();
	fb_core_set_quarantines_synced(core, false);
	gated_pod("poison-c", POISON, T0 + 30 * S);
	gated_pod("web-7", WEB, T0 + 30 * S);
	for (int i = 1; i <= 20; i++) {
		tick(T0 + 30 * S + i * S);
		KT_EQ_INT(count(FB_ACT_UNGATE), 0);
	}
	/* the informer syncs: the poison's Quarantine (made before the restart) is there */
	KT_EQ_INT(qobserve("deployment-poison",
	                   &(quarantine_spec){ .kind = "Deployment", .workload = "poison",
	                                       .created_ms = T0 },
	                   T0 + 55 * S), 0);
	fb_core_set_quarantines_synced(core, true);
	tick(T0 + 60 * S);
	KT_EQ_INT(count(FB_ACT_UNGATE), 1);
	KT_CHECK(find(FB_ACT_UNGATE, "web-7") != NULL);
	KT_CHECK(find(FB_ACT_UNGATE, "poison-c") == NULL);
	teardown();
}

/*
 * The taints come off before the Quarantine says Released or loses its finalizer, as
 * observed: a node whose update failed (it still shows the taint) is untainted again 10 s
 * later, and holds both until it is seen without it. Otherwise a restart in between would
 * leave the taint behind for good (firebreak removes only taints of quarantines it knows).
 */
KT_TEST(release_waits_for_the_taints_to_go)
{
	for (int deleted = 0; deleted < 2; deleted++) {
		fb_action_kind done = deleted ? FB_ACT_QUARANTINE_FINALIZE : FB_ACT_QUARANTINE_RELEASED;
		setup_at_once();
		cluster();
		quarantine_poison();
		observe_poison(VERDICT + S);
		node_with("n1", FB_COND_UNKNOWN, VERDICT, &(node_spec){ .quarantine_taint = POISON_TAINT });
		node_with("n2", FB_COND_UNKNOWN, VERDICT, &(node_spec){ .quarantine_taint = POISON_TAINT });
		tick(T0 + 30 * S);
		KT_EQ_INT(qobserve("deployment-poison",
		                   &(quarantine_spec){ .kind = "Deployment", .workload = "poison",
		                                       .released = !deleted, .deleting = deleted,
		                                       .created_ms = VERDICT },
		                   T0 + 100 * S), 0);
		tick(T0 + 100 * S);
		KT_CHECK(find(FB_ACT_UNTAINT, "n1") && find(FB_ACT_UNTAINT, "n2"));
		KT_EQ_INT(count(done), 0);
		/* n2's update lands; n1's failed */
		node("n2", NULL, FB_COND_UNKNOWN, VERDICT);
		for (int64_t t = T0 + 101 * S; t < T0 + 110 * S; t += S) {
			node_with("n1", FB_COND_UNKNOWN, VERDICT,
			          &(node_spec){ .quarantine_taint = POISON_TAINT });
			int64_t next = tick(t);
			KT_EQ_INT(count(done), 0);
			KT_EQ_INT(count(FB_ACT_UNTAINT), 0);
			KT_CHECK(next <= T0 + 110 * S);
		}
		tick(T0 + 110 * S);
		KT_EQ_INT(count(FB_ACT_UNTAINT), 1);
		KT_CHECK(find(FB_ACT_UNTAINT, "n1") != NULL);
		KT_EQ_INT(count(done), 0);
		/* told once per node */
		KT_EQ_INT(events(0, "QuarantineReleased", FB_OBJ_NODE, "n1"), 1);
		node("n1", NULL, FB_COND_UNKNOWN, VERDICT);
		tick(T0 + 111 * S);
		KT_EQ_INT(count(done), 1);
		tick(T0 + 120 * S);
		/* Released once; a FINALIZE not seen answered (the object still shows our
		 * finalizer) goes again 10 s later: the patch may have failed */
		KT_EQ_INT(count_all(done, NULL), 1);
		tick(T0 + 121 * S);
		KT_EQ_INT(count_all(done, NULL), deleted ? 2 : 1);
		KT_EQ_INT(count_all(FB_ACT_UNTAINT, "n2"), 1);
		teardown();
	}
}

/*
 * An untaint not seen done: a new leader sends it again at once. And a node tainted again by
 * a later quarantine of the same workload is untainted again when that one is released,
 * and told so again.
 */
KT_TEST(untaint_asked_again_by_a_new_leader_and_for_a_new_taint)
{
	poison_held();
	observe_poison(VERDICT + S);
	node_with("n1", FB_COND_UNKNOWN, VERDICT, &(node_spec){ .quarantine_taint = POISON_TAINT });
	KT_EQ_INT(qset("deployment-poison", "Deployment", "poison", true, FB_POISON_PIN, -1, false,
	               T0 + 100 * S), 0);
	tick(T0 + 100 * S);
	KT_CHECK(find(FB_ACT_UNTAINT, "n1") != NULL);
	fb_core_set_leader(core, false);
	tick(T0 + 101 * S);
	fb_core_set_leader(core, true);
	tick(T0 + 102 * S);
	KT_CHECK(find(FB_ACT_UNTAINT, "n1") != NULL);
	node("n1", NULL, FB_COND_UNKNOWN, VERDICT); /* done */
	tick(T0 + 103 * S);
	KT_EQ_INT(count_all(FB_ACT_QUARANTINE_RELEASED, NULL), 1);
	/* quarantined again (its object made anew), n1 tainted again, released again */
	KT_EQ_INT(qset("deployment-poison", "Deployment", "poison", false, FB_POISON_PIN, -1, false,
	               T0 + 104 * S), 0);
	node_with("n1", FB_COND_UNKNOWN, VERDICT, &(node_spec){ .quarantine_taint = POISON_TAINT });
	tick(T0 + 104 * S);
	KT_EQ_INT(count(FB_ACT_UNTAINT), 0);
	size_t again = log_mark();
	KT_EQ_INT(qset("deployment-poison", "Deployment", "poison", true, FB_POISON_PIN, -1, false,
	               T0 + 105 * S), 0);
	tick(T0 + 105 * S);
	KT_CHECK(find(FB_ACT_UNTAINT, "n1") != NULL);
	KT_EQ_INT(events(again, "QuarantineReleased", FB_OBJ_NODE, "n1"), 1);
	teardown();
}

/* ---- 4. the finalizer --------------------------------------------------------------------- */

/* The poison's Quarantine being deleted, ScaleToZero done from 3 replicas, our finalizer
 * second of two. */
static void observe_poison_deleting(int64_t now)
{
	KT_EQ_INT(qobserve("deployment-poison",
	                   &(quarantine_spec){ .kind = "Deployment", .workload = "poison",
	                                       .action = S2Z, .scaled_from = 3, .deleting = true,
	                                       .others = 1, .created_ms = VERDICT },
	                   now), 0);
}

static void restore_result(fb_scale_result r, int64_t now)
{
	fb_core_scale_result(core, WL(POISON), true, r, now);
}

/*
 * Issue 12: deleting a ScaleToZero Quarantine whose restore is still failing, followed by a
 * restart, lost the restore. The finalizer holds the object until the replicas are back, the
 * gates off and the taints gone; the next firebreak finds it deleting and finishes the job.
 */
KT_TEST(finalizer_holds_a_failing_restore_across_a_restart)
{
	char q[FB_NAME_MAX];
	setup_at_once();
	budget("all", 1, "{\"poison\":{\"action\":\"ScaleToZero\"}}");
	cluster();
	quarantine_poison();
	KT_EQ_INT(count(FB_ACT_SCALE_TO_ZERO), 1);
	fb_core_scale_result(core, WL(POISON), false, FB_SCALE_DONE, VERDICT);
	KT_EQ_INT(qobserve("deployment-poison",
	                   &(quarantine_spec){ .kind = "Deployment", .workload = "poison",
	                                       .action = S2Z, .scaled_from = 3, .others = 1,
	                                       .created_ms = VERDICT },
	                   VERDICT + S), 0);
	node_with("n1", FB_COND_UNKNOWN, VERDICT, &(node_spec){ .quarantine_taint = POISON_TAINT });
	node_with("n2", FB_COND_UNKNOWN, VERDICT, &(node_spec){ .quarantine_taint = POISON_TAINT });
	gated_pod("poison-c", POISON, T0 + 30 * S);
	tick(T0 + 31 * S);
	KT_EQ_INT(count_all(FB_ACT_QUARANTINE_HOLD, NULL), 0); /* it has ours already */
	/* the operator deletes it */
	observe_poison_deleting(T0 + 100 * S);
	KT_CHECK(!gate(POISON, q));
	tick(T0 + 100 * S);
	KT_EQ_INT(count(FB_ACT_SCALE_RESTORE), 1);
	KT_CHECK(find(FB_ACT_UNTAINT, "n1") && find(FB_ACT_UNTAINT, "n2"));
	KT_CHECK(find(FB_ACT_UNGATE, "poison-c") != NULL);
	/* the gate is off, the taints gone; the restore fails, again and again */
	restore_result(FB_SCALE_FAILED, T0 + 100 * S);
	new_pod("poison-c", NULL, POISON, T0 + 30 * S, false);
	node("n1", NULL, FB_COND_UNKNOWN, VERDICT);
	node("n2", NULL, FB_COND_UNKNOWN, VERDICT);
	for (int64_t t = T0 + 101 * S; t <= T0 + 10 * MIN; t += S) {
		tick(t);
		KT_EQ_INT(count(FB_ACT_QUARANTINE_FINALIZE), 0);
		if (count(FB_ACT_SCALE_RESTORE))
			restore_result(FB_SCALE_FAILED, t);
	}
	KT_CHECK(count_all(FB_ACT_SCALE_RESTORE, NULL) > 3); /* retried */
	teardown();

	/* firebreak restarts: it finds the object deleting and the workload at zero; and a pod
	 * the webhook gated (a replica's answer) that the first one never saw */
	setup_at_once();
	budget("all", 1, "{\"poison\":{\"action\":\"ScaleToZero\"}}");
	cluster();
	node("n1", NULL, FB_COND_UNKNOWN, VERDICT);
	node("n2", NULL, FB_COND_UNKNOWN, VERDICT);
	pod("poison-a", "n1", POISON, T0, TOL);
	pod("poison-b", "n2", POISON, T0, TOL);
	new_pod("poison-c", NULL, POISON, T0 + 30 * S, false);
	gated_pod("poison-d", POISON, T0 + 99 * S);
	observe_poison_deleting(T0 + 11 * MIN);
	KT_CHECK(!gate(POISON, q));
	tick(T0 + 11 * MIN);
	KT_EQ_INT(count(FB_ACT_SCALE_RESTORE), 1);
	const fb_action *r = find(FB_ACT_SCALE_RESTORE, NULL);
	KT_CHECK(r && !strcmp(r->name, "poison") && !strcmp(r->quarantine, "deployment-poison"));
	KT_CHECK(find(FB_ACT_UNGATE, "poison-d") != NULL);
	KT_EQ_INT(count(FB_ACT_QUARANTINE_FINALIZE), 0);
	/* restored; the gate still on: not yet */
	restore_result(FB_SCALE_DONE, T0 + 11 * MIN + S);
	tick(T0 + 11 * MIN + S);
	KT_EQ_INT(count(FB_ACT_QUARANTINE_FINALIZE), 0);
	/* the gate is off: now, and at the position of ours */
	new_pod("poison-d", NULL, POISON, T0 + 99 * S, false);
	tick(T0 + 11 * MIN + 2 * S);
	KT_EQ_INT(count(FB_ACT_QUARANTINE_FINALIZE), 1);
	const fb_action *f = find(FB_ACT_QUARANTINE_FINALIZE, "deployment-poison");
	KT_CHECK(f && !strcmp(f->ns, "default") && f->index == 1 && f->obj == FB_OBJ_QUARANTINE);
	/* not again while it is out, for 10 s; then again (a failed patch changes nothing
	 * the informer would show, so only a retry can end the wait) */
	for (int64_t t = T0 + 11 * MIN + 3 * S; t < T0 + 11 * MIN + 12 * S; t += S) {
		observe_poison_deleting(t);
		tick(t);
		KT_EQ_INT(count(FB_ACT_QUARANTINE_FINALIZE), 0);
	}
	tick(T0 + 11 * MIN + 12 * S);
	KT_EQ_INT(count(FB_ACT_QUARANTINE_FINALIZE), 1);
	fb_core_quarantine_delete(core, WL(POISON), T0 + 12 * MIN);
	tick(T0 + 12 * MIN);
	/* over every tick of this firebreak: one restore, the finalize and its one retry,
	 * nothing made again */
	KT_EQ_INT(count_all(FB_ACT_SCALE_RESTORE, NULL), 1);
	KT_EQ_INT(count_all(FB_ACT_QUARANTINE_FINALIZE, NULL), 2);
	KT_EQ_INT(count_all(FB_ACT_SCALE_TO_ZERO, NULL), 0);
	KT_EQ_INT(count_all(FB_ACT_QUARANTINE, NULL), 0);
	KT_EQ_INT(count_all(FB_ACT_QUARANTINE_HOLD, NULL), 0);
	teardown();
}

/* The restore is the last thing left: the finalizer goes as soon as its result is in (not at
 * some later pod update). */
KT_TEST(finalizer_goes_when_the_restore_is_done)
{
	setup_at_once();
	budget("all", 1, "{\"poison\":{\"action\":\"ScaleToZero\"}}");
	cluster();
	quarantine_poison();
	fb_core_scale_result(core, WL(POISON), false, FB_SCALE_DONE, VERDICT);
	observe_poison_deleting(T0 + 100 * S);
	tick(T0 + 100 * S);
	KT_EQ_INT(count(FB_ACT_SCALE_RESTORE), 1);
	KT_EQ_INT(count(FB_ACT_QUARANTINE_FINALIZE), 0);
	for (int64_t t = T0 + 101 * S; t <= T0 + 110 * S; t += S) {
		tick(t);
		KT_EQ_INT(count(FB_ACT_QUARANTINE_FINALIZE), 0);
	}
	restore_result(FB_SCALE_DONE, T0 + 111 * S);
	tick(T0 + 111 * S);
	KT_EQ_INT(count(FB_ACT_QUARANTINE_FINALIZE), 1);
	const fb_action *f = find(FB_ACT_QUARANTINE_FINALIZE, "deployment-poison");
	KT_CHECK(f && f->index == 1);
	teardown();
}

KT_TEST(finalizer_is_added_once_and_asked_again_by_a_new_leader)
{
	/* an object made before the finalizer existed (two finalizers of others, not ours) */
	quarantine_spec old = { .kind = "Deployment", .workload = "poison", .others = 2,
		                .without_ours = true, .created_ms = T0 };
	setup_at_once();
	KT_EQ_INT(qobserve("deployment-poison", &old, T0), 0);
	tick(T0);
	KT_EQ_INT(count(FB_ACT_QUARANTINE_HOLD), 1);
	const fb_action *h = find(FB_ACT_QUARANTINE_HOLD, "deployment-poison");
	KT_CHECK(h && h->index == 2 && !strcmp(h->ns, "default") && h->obj == FB_OBJ_QUARANTINE);
	for (int64_t t = T0 + S; t <= T0 + 30 * S; t += S) {
		KT_EQ_INT(qobserve("deployment-poison", &old, t), 0); /* the answer not seen yet */
		tick(t);
		/* again every 10 s while not seen (the patch may have failed) */
		KT_EQ_INT(count(FB_ACT_QUARANTINE_HOLD), (t - T0) % (10 * S) == 0 ? 1 : 0);
	}
	/* the lease changes hands before the patch was seen: the new leader asks again */
	fb_core_set_leader(core, false);
	tick(T0 + 31 * S);
	KT_EQ_INT(acts.n, 0);
	fb_core_set_leader(core, true);
	tick(T0 + 32 * S);
	KT_EQ_INT(count(FB_ACT_QUARANTINE_HOLD), 1);
	h = find(FB_ACT_QUARANTINE_HOLD, NULL);
	KT_CHECK(h && h->index == 2);
	/* ours is there now, third */
	quarantine_spec held = old;
	held.without_ours = false;
	for (int64_t t = T0 + 33 * S; t <= T0 + 60 * S; t += S) {
		KT_EQ_INT(qobserve("deployment-poison", &held, t), 0);
		tick(t);
		KT_EQ_INT(count(FB_ACT_QUARANTINE_HOLD), 0);
		KT_EQ_INT(count(FB_ACT_QUARANTINE_FINALIZE), 0);
	}
	/* deleted: ours goes from position 2, once; a new leader asks again */
	quarantine_spec deleting = held;
	deleting.deleting = true;
	KT_EQ_INT(qobserve("deployment-poison", &deleting, T0 + 61 * S), 0);
	tick(T0 + 61 * S);
	KT_EQ_INT(count(FB_ACT_QUARANTINE_FINALIZE), 1);
	const fb_action *f = find(FB_ACT_QUARANTINE_FINALIZE, NULL);
	KT_CHECK(f && f->index == 2);
	tick(T0 + 62 * S);
	KT_EQ_INT(count(FB_ACT_QUARANTINE_FINALIZE), 0);
	fb_core_set_leader(core, false);
	fb_core_set_leader(core, true);
	tick(T0 + 63 * S);
	KT_EQ_INT(count(FB_ACT_QUARANTINE_FINALIZE), 1);
	/* an object deleting without ours: nothing of ours to remove */
	KT_EQ_INT(qset("deployment-other", "Deployment", "other", false, FB_POISON_PIN, -1, false,
	               T0 + 64 * S), 0);
	KT_EQ_INT(qobserve("deployment-other",
	                   &(quarantine_spec){ .kind = "Deployment", .workload = "other",
	                                       .others = 1, .without_ours = true,
	                                       .deleting = true },
	                   T0 + 65 * S), 0);
	for (int64_t t = T0 + 65 * S; t <= T0 + 70 * S; t += S) {
		tick(t);
		KT_EQ_INT(count_named(FB_ACT_QUARANTINE_FINALIZE, "deployment-other"), 0);
		KT_EQ_INT(count_named(FB_ACT_QUARANTINE_HOLD, "deployment-other"), 0);
	}
	teardown();

	/* a follower never writes it; made leader, it does */
	setup_at_once();
	fb_core_set_leader(core, false);
	KT_EQ_INT(qobserve("deployment-poison", &old, T0), 0);
	tick(T0);
	KT_EQ_INT(acts.n, 0);
	fb_core_set_leader(core, true);
	tick(T0 + S);
	KT_EQ_INT(count(FB_ACT_QUARANTINE_HOLD), 1);
	teardown();
}

/* ---- 5. pods that escaped the gate -------------------------------------------------------- */

/* The DELETE of pod name in this tick, if it is one for an escape. */
static const fb_action *escape_delete(const char *name)
{
	const fb_action *d = find(FB_ACT_DELETE, name);
	KT_CHECK(!d || d->reason == FB_REASON_ESCAPED);
	return d;
}

/* Pods of held workloads that are not escapes; none of them is ever deleted. */
static const char *const not_escapes[] = { "before-1", "same-second", "pinned-1", "agent-x",
	                                   "leaving-1", "gated-1" };

static void observe_not_escapes(void)
{
	new_pod("before-1", "n4", POISON, T0 + 10 * S, false);   /* made before the verdict */
	new_pod("same-second", "n4", POISON, VERDICT, false);   /* in its second */
	new_pod("pinned-1", "n1", POISON, T0 + 30 * S, false);  /* on a failed node */
	pod_with("agent-x", "n5", &(pod_spec){ .workload = "DaemonSet/default/agent",
	                                       .daemonset = true, .arrived_ms = T0 + 31 * S,
	                                       .created_ms = T0 + 30 * S, .tol_s = TOL });
	pod_with("leaving-1", "n5", &(pod_spec){ .workload = POISON, .terminating = true,
	                                         .arrived_ms = T0 + 31 * S,
	                                         .created_ms = T0 + 30 * S, .tol_s = TOL });
	gated_pod("gated-1", POISON, T0 + 30 * S);
}

static void check_not_escapes_kept(void)
{
	for (size_t i = 0; i < sizeof(not_escapes) / sizeof(not_escapes[0]); i++) {
		KT_EQ_INT(count_named(FB_ACT_DELETE, not_escapes[i]), 0);
		KT_EQ_INT(count_named(FB_ACT_EVICT, not_escapes[i]), 0);
	}
	int n = 0;
	for (size_t i = 0; i < acts.n; i++)
		for (size_t j = 0; j < sizeof(not_escapes) / sizeof(not_escapes[0]); j++)
			n += acts.v[i].kind == FB_ACT_EVENT && !strcmp(acts.v[i].name, not_escapes[j]) &&
			     acts.v[i].reason == FB_REASON_ESCAPED;
	KT_EQ_INT(n, 0);
}

/* The poison quarantined and its object seen; a quarantined DaemonSet too. */
static void escape_setup(void)
{
	poison_held();
	observe_poison(VERDICT);
	KT_EQ_INT(qset("daemonset-agent", "DaemonSet", "agent", false, FB_POISON_PIN, -1, false,
	               T0), 0);
	observe_not_escapes();
}

/*
 * A scale-up while no webhook answers makes several escapes at once: a round deletes them
 * all (leaving one running for the backoff would give a poison 10 s on a healthy node);
 * their replacements, escaping in turn, wait for the next round.
 */
KT_TEST(a_round_deletes_every_escape_at_once)
{
	escape_setup();
	new_pod("esc-a", "n3", POISON, T0 + 40 * S, false);
	new_pod("esc-b", "n4", POISON, T0 + 40 * S, false);
	new_pod("esc-c", NULL, POISON, T0 + 40 * S, false);
	tick(T0 + 41 * S);
	KT_CHECK(escape_delete("esc-a") && escape_delete("esc-b") && escape_delete("esc-c"));
	evicted("esc-a", FB_EVICT_OK, T0 + 41 * S);
	evicted("esc-b", FB_EVICT_OK, T0 + 41 * S);
	evicted("esc-c", FB_EVICT_OK, T0 + 41 * S);
	pod_gone("esc-a");
	pod_gone("esc-b");
	pod_gone("esc-c");
	new_pod("esc-d", "n5", POISON, T0 + 42 * S, false);
	new_pod("esc-e", "n3", POISON, T0 + 42 * S, false);
	for (int64_t t = T0 + 42 * S; t < T0 + 51 * S; t += S) {
		tick(t);
		KT_EQ_INT(count(FB_ACT_DELETE), 0);
	}
	tick(T0 + 51 * S);
	KT_CHECK(escape_delete("esc-d") && escape_delete("esc-e"));
	teardown();
}

KT_TEST(escaped_pods_are_deleted_with_backoff)
{
	escape_setup();
	/* the webhook did not answer: a new pod of the poison on a healthy node */
	size_t mark = log_mark();
	new_pod("esc-1", "n3", POISON, T0 + 40 * S, false);
	tick(T0 + 41 * S);
	check_not_escapes_kept();
	const fb_action *d = escape_delete("esc-1");
	KT_CHECK(d && d->obj == FB_OBJ_POD && !strcmp(d->node, "n3") && !strcmp(d->uid, "uid-esc-1") &&
	         !d->dry_run);
	KT_EQ_INT(events(mark, "QuarantineEscaped", FB_OBJ_POD, "esc-1"), 1);
	KT_EQ_INT(events(mark, "QuarantineEscaped", FB_OBJ_WORKLOAD, "poison"), 1);
	const fb_action *st = find(FB_ACT_QUARANTINE_STATUS, "deployment-poison");
	KT_CHECK(st && st->verdict && st->verdict->escaped_pods == 1 && st->verdict->gated_pods == 1);
	fb_core_stats stats;
	fb_core_get_stats(core, &stats);
	KT_EQ_INT(stats.escapes_deleted, 1);
	KT_EQ_INT(stats.pods_escaped, 1);
	evicted("esc-1", FB_EVICT_OK, T0 + 41 * S);
	pod_gone("esc-1");
	/* the next one, unscheduled yet, right after: it waits 10 s */
	new_pod("esc-2", NULL, POISON, T0 + 42 * S, false);
	int64_t next = tick(T0 + 42 * S);
	KT_CHECK(escape_delete("esc-2") == NULL);
	KT_EQ_INT(count_reason("QuarantineEscaped"), 2); /* told at once, though */
	KT_CHECK(next <= T0 + 51 * S);
	tick(T0 + 51 * S - 1);
	KT_CHECK(escape_delete("esc-2") == NULL);
	tick(T0 + 51 * S);
	d = escape_delete("esc-2");
	KT_CHECK(d && !strcmp(d->node, ""));
	evicted("esc-2", FB_EVICT_OK, T0 + 51 * S);
	pod_gone("esc-2");
	/* while the webhook stays away, each replacement escapes too: 20 s, 40 s, ... 5 min */
	const int64_t gaps[] = { 20, 40, 80, 160, 300, 300, 300 };
	int64_t last = T0 + 51 * S;
	size_t g = 0;
	char live[16] = "";
	for (int64_t t = T0 + 52 * S; t <= T0 + 30 * MIN && g < sizeof(gaps) / sizeof(gaps[0]);
	     t += S) {
		if (!live[0]) {
			snprintf(live, sizeof(live), "esc-%zu", g + 3);
			new_pod(live, "n3", POISON, t, false);
		}
		tick(t);
		check_not_escapes_kept();
		KT_CHECK(count(FB_ACT_DELETE) <= 1);
		if (!escape_delete(live))
			continue;
		KT_EQ_INT((t - last) / S, gaps[g]);
		last = t;
		g++;
		evicted(live, FB_EVICT_OK, t);
		pod_gone(live);
		live[0] = '\0';
	}
	KT_EQ_INT(g, sizeof(gaps) / sizeof(gaps[0]));
	/* the webhook answers again: a gated pod made after the last deletion; the next escape
	 * (one more late answer) goes at once */
	gated_pod("gated-2", POISON, last + 2 * S);
	tick(last + 2 * S);
	new_pod("esc-late", "n3", POISON, last + 3 * S, false);
	tick(last + 3 * S);
	KT_CHECK(escape_delete("esc-late") != NULL);
	for (int64_t t = last + 4 * S; t <= last + 10 * MIN; t += 10 * S) {
		observe_not_escapes();
		tick(t);
		check_not_escapes_kept();
	}
	/* on no tick */
	for (size_t i = 0; i < sizeof(not_escapes) / sizeof(not_escapes[0]); i++)
		KT_EQ_INT(count_all(FB_ACT_DELETE, not_escapes[i]), 0);
	teardown();
}

/*
 * A pod escaped while the webhook was away, and is waiting out the backoff; then the webhook
 * answers again (a gated pod, made after the last deletion): the backoff is over for it too,
 * whether the informer showed it a tick before the gated pod or in the same tick.
 */
KT_TEST(an_escape_seen_before_the_gate_returns_goes_at_once)
{
	for (int same_tick = 0; same_tick < 2; same_tick++) {
		escape_setup();
		new_pod("esc-1", "n3", POISON, T0 + 40 * S, false);
		tick(T0 + 41 * S);
		KT_CHECK(escape_delete("esc-1") != NULL); /* the next no sooner than T0 + 51 s */
		evicted("esc-1", FB_EVICT_OK, T0 + 41 * S);
		pod_gone("esc-1");
		new_pod("esc-2", "n4", POISON, T0 + 43 * S, false);
		if (!same_tick) {
			tick(T0 + 44 * S);
			KT_CHECK(escape_delete("esc-2") == NULL);
		}
		gated_pod("gated-2", POISON, T0 + 45 * S);
		tick(T0 + 45 * S);
		KT_CHECK(escape_delete("esc-2") != NULL);
		if (!find(FB_ACT_DELETE, "esc-2"))
			fprintf(stderr, "  (same tick: %d)\n", same_tick);
		teardown();
	}
}

KT_TEST(escape_deletions_take_their_results)
{
	escape_setup();
	new_pod("esc-1", "n3", POISON, T0 + 40 * S, false);
	tick(T0 + 41 * S);
	KT_CHECK(escape_delete("esc-1") != NULL);
	/* not again while it is out */
	tick(T0 + 42 * S);
	KT_CHECK(escape_delete("esc-1") == NULL);
	/* failed: tried again, no sooner than the workload's backoff (10 s) */
	evicted("esc-1", FB_EVICT_FAILED, T0 + 42 * S);
	for (int64_t t = T0 + 43 * S; t < T0 + 51 * S; t += S) {
		tick(t);
		KT_CHECK(escape_delete("esc-1") == NULL);
	}
	int64_t t = T0 + 51 * S;
	while (!escape_delete("esc-1") && t < T0 + 60 * S)
		tick(t += S);
	KT_CHECK(t == T0 + 51 * S || t == T0 + 52 * S);
	/* gone already (404): done with it, though the informer still shows it for a while */
	evicted("esc-1", FB_EVICT_GONE, t);
	for (int64_t u = t + S; u <= t + 20 * MIN; u += 10 * S) {
		new_pod("esc-1", "n3", POISON, T0 + 40 * S, false);
		tick(u);
		KT_CHECK(escape_delete("esc-1") == NULL);
		check_not_escapes_kept();
	}
	KT_EQ_INT(count_all(FB_ACT_DELETE, "esc-1"), 2);
	/* and one that was deleted goes terminating: no escape any more */
	new_pod("esc-2", "n3", POISON, t + 21 * MIN, false);
	tick(t + 21 * MIN);
	KT_CHECK(escape_delete("esc-2") != NULL);
	evicted("esc-2", FB_EVICT_OK, t + 21 * MIN);
	pod_with("esc-2", "n3", &(pod_spec){ .workload = POISON, .terminating = true,
	                                     .arrived_ms = t + 21 * MIN + S,
	                                     .created_ms = t + 21 * MIN, .tol_s = TOL });
	tick(t + 22 * MIN);
	fb_core_stats stats;
	fb_core_get_stats(core, &stats);
	KT_EQ_INT(stats.pods_escaped, 1); /* esc-1, which the informer still shows */
	teardown();
}

/* ---- 6. explaining away ------------------------------------------------------------------- */

/* The record last written to node in this tick, or NULL. */
static const char *annotation(const char *node)
{
	const char *last = NULL;
	for (size_t i = 0; i < acts.n; i++)
		if (acts.v[i].kind == FB_ACT_NODE_ANNOTATE && !strcmp(acts.v[i].name, node))
			last = payload(&acts.v[i]);
	return last;
}

/* The node's failure was written down with no suspect (for its history only). */
static bool no_suspects(const char *node)
{
	const char *a = annotation(node);
	return a && strstr(a, "\"arrivals\":[]") != NULL;
}

/* Does the JSON text name workload id (as a whole string)? */
static bool names(const char *json, const char *id)
{
	char quoted[FB_WORKLOAD_ID_MAX + 2];
	snprintf(quoted, sizeof(quoted), "\"%s\"", id);
	return json && strstr(json, quoted);
}

/* Was workload id ever written into a record of a node, on any tick since mark? */
static bool ever_recorded(size_t mark, const char *id)
{
	for (const fb_action *a; (a = logged(mark)); mark++)
		if (a->kind == FB_ACT_NODE_ANNOTATE && names(payload(a), id))
			return true;
	return false;
}

static size_t suspects(void)
{
	fb_core_stats st;
	fb_core_get_stats(core, &st);
	return st.suspects;
}

/*
 * After the poison's verdict, n3 fails where the poison and the innocent api had both just
 * arrived: the poison's doing. The api had killed nothing else but n4, on its own: with n3 it
 * would have two failures, a verdict.
 */
KT_TEST(a_failure_the_quarantined_workload_explains_is_its_alone)
{
	poison_held();
	observe_poison(VERDICT + S);
	tick(VERDICT + S);
	/* api alone on n4, which fails: a suspect with one failure */
	pod("api-0", "n4", API, T0 + 60 * S, TOL);
	node("n4", NULL, FB_COND_UNKNOWN, T0 + 80 * S);
	tick(T0 + 80 * S);
	KT_CHECK(names(annotation("n4"), API));
	KT_EQ_INT(suspects(), 1);
	/* both arrive on n3, which fails */
	size_t mark = log_mark();
	pod("poison-c", "n3", POISON, T0 + 100 * S, TOL);
	pod("api-1", "n3", API, T0 + 100 * S, TOL);
	node("n3", NULL, FB_COND_UNKNOWN, T0 + 120 * S);
	tick(T0 + 120 * S);
	const fb_action *e = find(FB_ACT_EVENT, "FailureExplained");
	KT_CHECK(e && e->obj == FB_OBJ_NODE && !strcmp(e->name, "n3") && e->warning &&
	         strstr(e->message, "Deployment default/poison"));
	KT_EQ_INT(events(mark, "FailureRecorded", FB_OBJ_NODE, "n3"), 0);
	const char *ann = annotation("n3");
	KT_CHECK(names(ann, POISON) && !names(ann, API));
	const fb_action *t = find(FB_ACT_TAINT, "n3");
	KT_CHECK(t && !strcmp(t->taint, POISON_TAINT));
	/* the Quarantine's status gains the node */
	const fb_action *st = find(FB_ACT_QUARANTINE_STATUS, "deployment-poison");
	KT_CHECK(st && st->verdict && st->verdict->nnodes == 1 &&
	         !strcmp(st->verdict->nodes[0].name, "n3") && st->verdict->nodes[0].has_arrival &&
	         st->verdict->nodes[0].tainted);
	KT_CHECK(st && payload(st) &&
	         strstr(payload(st), "{\"op\":\"add\",\"path\":\"/status/taintedNodes/-\",\"value\":\"n3\"}"));
	KT_EQ_INT(suspects(), 1); /* the api's count is unchanged */
	fb_core_stats stats;
	fb_core_get_stats(core, &stats);
	KT_EQ_INT(stats.failures_explained, 1);
	/* on no tick is the api quarantined, nor the node written again with it */
	for (int64_t u = T0 + 121 * S; u <= T0 + 40 * MIN; u += 10 * S) {
		tick(u);
		KT_EQ_INT(count(FB_ACT_QUARANTINE), 0);
		KT_CHECK(find(FB_ACT_QUARANTINE_STATUS, "deployment-poison") == NULL); /* said once */
	}
	KT_CHECK(!ever_recorded(mark, API));
	KT_EQ_INT(count_all(FB_ACT_QUARANTINE, NULL), 1);
	teardown();
}

/*
 * Two workloads arrive on the nodes that fail, in the same pass. `api` and `poison` per
 * node: which pods are where. The verdict on the stronger case explains the failures; the
 * other is no longer a suspect of them (its records are rewritten without it).
 */
static void shared_failures(bool api_first, const char *p_nodes, const char *a_nodes,
                            const char *a_healthy, const char *poison, const char *api)
{
	setup_at_once();
	nodes(1, 6);
	tick(T0 - S);
	for (int pass = 0; pass < 2; pass++) {
		bool is_api = (pass == 0) == api_first;
		const char *w = is_api ? api : poison;
		const char *on = is_api ? a_nodes : p_nodes;
		for (const char *c = on; *c; c++) {
			char p[64], n[8];
			snprintf(p, sizeof(p), "%c-%s-%c", is_api ? 'i' : 'p', strrchr(w, '/') + 1, *c);
			snprintf(n, sizeof(n), "n%c", *c);
			pod(p, n, w, T0, TOL);
		}
		if (is_api)
			for (const char *c = a_healthy; *c; c++) {
				char p[64], n[8];
				snprintf(p, sizeof(p), "i-%s-ok%c", strrchr(w, '/') + 1, *c);
				snprintf(n, sizeof(n), "n%c", *c);
				pod(p, n, w, T0, TOL);
			}
	}
	/* p_nodes holds every failed node */
	for (const char *c = p_nodes; *c; c++) {
		char n[8];
		snprintf(n, sizeof(n), "n%c", *c);
		node(n, NULL, FB_COND_UNKNOWN, T0 + 25 * S);
	}
	tick(T0 + 25 * S);
}

/* Only `poison` is quarantined, and the failed nodes' last records do not name `api`. */
static void check_only(const char *poison, const char *api, const char *p_nodes)
{
	KT_EQ_INT(count(FB_ACT_QUARANTINE), 1);
	const fb_action *q = find(FB_ACT_QUARANTINE, NULL);
	const fb_workload_ref *want = WL(poison);
	KT_CHECK(q && q->verdict && fb_workload_ref_eq(&q->verdict->workload, want));
	for (const char *c = p_nodes; *c; c++) {
		char n[8];
		snprintf(n, sizeof(n), "n%c", *c);
		const char *ann = annotation(n);
		KT_CHECK(names(ann, poison));
		KT_CHECK(!names(ann, api));
		if (names(ann, api))
			fprintf(stderr, "  (%s still names %s)\n", n, api);
	}
	for (int64_t t = T0 + 26 * S; t <= T0 + 10 * MIN; t += 10 * S) {
		tick(t);
		KT_EQ_INT(count(FB_ACT_QUARANTINE), 0);
		KT_EQ_INT(count(FB_ACT_NODE_ANNOTATE), 0);
	}
	KT_EQ_INT(suspects(), 0);
}

/* Innocent workloads whose ids sort before and after the poisons' (the table's order varies). */
static const char *const innocents[] = { "Deployment/default/api", "Deployment/default/aaa",
	                                 "Deployment/default/zzz", "StatefulSet/default/queue",
	                                 "Deployment/default/cache", "Job/default/report" };
static const char *const poisons[] = { POISON, "Deployment/default/bad" };

KT_TEST(a_verdict_explains_its_failures_away_from_the_others)
{
	for (size_t p = 0; p < 2; p++)
		for (size_t i = 0; i < sizeof(innocents) / sizeof(innocents[0]); i++)
			for (int api_first = 0; api_first < 2; api_first++) {
				/* both on n1 and n2; the innocent also healthy on n3 and n4: the
				 * poison's ratio is better (the innocent's alone, 2 of 4, would be a
				 * verdict) */
				shared_failures(api_first, "12", "12", "34", poisons[p], innocents[i]);
				check_only(poisons[p], innocents[i], "12");
				teardown();
				/* the poison killed three nodes, the innocent was on two of them */
				shared_failures(api_first, "123", "12", "", poisons[p], innocents[i]);
				check_only(poisons[p], innocents[i], "123");
				teardown();
			}
}

KT_TEST(equal_evidence_is_decided_by_id)
{
	/* the same two failures, the same arrivals: whichever the informer showed first and
	 * whatever the table's order, the lower id is quarantined */
	static const char *const pairs[][2] = {
		{ "Deployment/default/alpha", "Deployment/default/beta" },
		{ "Deployment/default/api", "Deployment/default/web" },
		{ "Deployment/default/x1", "Deployment/default/x2" },
		{ "Deployment/default/queue", "StatefulSet/default/queue" },
		{ "Deployment/a/z", "Deployment/b/a" },
		{ "Job/default/report", "Job/default/reporter" },
	};
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
		for (int second_first = 0; second_first < 2; second_first++) {
			shared_failures(second_first, "12", "12", "", pairs[i][0], pairs[i][1]);
			check_only(pairs[i][0], pairs[i][1], "12");
			teardown();
		}
}

/*
 * Issue 12's e2e story: after the poison's verdict at n1 and n2, firebreak evicts the
 * innocent api and web pods there; their replacements land on n3 and n4. New poison pods
 * (a scale-up, the webhook away) land there too and kill both. The innocents must never be
 * quarantined.
 */
KT_TEST(innocents_moved_off_the_verdicts_nodes_stay_innocent)
{
	setup_at_once();
	cluster();
	for (int i = 1; i <= 6; i++) {
		char n[8], p[16];
		snprintf(n, sizeof(n), "n%d", i);
		snprintf(p, sizeof(p), "api-%d", i);
		pod(p, n, API, T0 - 86400 * S, TOL);
	}
	quarantine_poison();
	observe_poison(VERDICT + S);
	tick(T0 + 55 * S);
	const char *const moved[] = { "web-1", "web-2", "api-1", "api-2" };
	for (size_t i = 0; i < 4; i++) {
		KT_CHECK(find(FB_ACT_EVICT, moved[i]) != NULL);
		evicted(moved[i], FB_EVICT_OK, T0 + 55 * S);
		pod_gone(moved[i]);
	}
	/* their replacements, seconds later */
	new_pod("web-1r", "n3", WEB, T0 + 56 * S, false);
	new_pod("api-1r", "n3", API, T0 + 56 * S, false);
	new_pod("web-2r", "n4", WEB, T0 + 57 * S, false);
	new_pod("api-2r", "n4", API, T0 + 57 * S, false);
	tick(T0 + 58 * S);
	/* the scale-up, while the webhook is away */
	new_pod("poison-c", "n3", POISON, T0 + 60 * S, false);
	new_pod("poison-d", "n4", POISON, T0 + 60 * S, false);
	tick(T0 + 61 * S);
	node("n3", NULL, FB_COND_UNKNOWN, T0 + 80 * S);
	node("n4", NULL, FB_COND_UNKNOWN, T0 + 80 * S);
	tick(T0 + 80 * S);
	KT_EQ_INT(count_reason("FailureExplained"), 2);
	KT_CHECK(find(FB_ACT_TAINT, "n3") && find(FB_ACT_TAINT, "n4"));
	for (int64_t t = T0 + 81 * S; t <= T0 + 2 * 60 * MIN; t += 10 * S)
		tick(t);
	/* on no tick */
	KT_EQ_INT(count_all(FB_ACT_QUARANTINE, NULL), 1);
	KT_CHECK(!ever_recorded(0, API));
	KT_CHECK(!ever_recorded(0, WEB));
	KT_EQ_INT(suspects(), 0);
	teardown();
}

/* ---- 7. pods firebreak moved -------------------------------------------------------------- */

/*
 * api's pod on n1 had run there for a day when n1 failed; firebreak evicts it, its
 * replacement lands on n2, which fails shortly after. Firebreak's own move says nothing
 * about the api: it is no suspect of n2. by_hand: the pod on n1 went another way (deleted by
 * an operator), so its replacement is an arrival like any other, a suspect.
 */
static void established_pod_moves(bool by_hand, int64_t created_after_s)
{
	setup_at_once();
	nodes(1, 6);
	pod("api-1", "n1", API, T0 - 86400 * S, TOL);
	tick(T0);
	node("n1", NULL, FB_COND_UNKNOWN, T0 + 10 * S);
	tick(T0 + 10 * S);
	KT_CHECK(no_suspects("n1")); /* no recent arrival there */
	if (by_hand) /* before its toleration ran out */
		pod_gone("api-1");
	tick(T0 + 40 * S);
	KT_EQ_INT(count_named(FB_ACT_EVICT, "api-1"), !by_hand);
	if (!by_hand) {
		evicted("api-1", FB_EVICT_OK, T0 + 40 * S);
		pod_gone("api-1");
	}
	int64_t created = T0 + 40 * S + created_after_s * S;
	new_pod("api-1r", "n2", API, created, false);
	tick(created + 2 * S);
	node("n2", NULL, FB_COND_UNKNOWN, created + 20 * S);
	tick(created + 20 * S);
}

KT_TEST(pods_firebreak_moved_are_no_suspects_for_it)
{
	established_pod_moves(false, 2);
	KT_CHECK(no_suspects("n2"));
	KT_EQ_INT(count_reason("FailureRecorded"), 0);
	KT_EQ_INT(suspects(), 0);
	KT_CHECK(!ever_recorded(0, API));
	teardown();
	/* a replacement made in the second before the eviction (timestamps have seconds) */
	established_pod_moves(false, 0);
	KT_CHECK(!ever_recorded(0, API));
	teardown();
	/* the controls: moved by someone else, or a pod made long after the move */
	established_pod_moves(true, 2);
	KT_CHECK(names(annotation("n2"), API));
	KT_EQ_INT(suspects(), 1);
	teardown();
	established_pod_moves(false, 11 * 60);
	KT_CHECK(names(annotation("n2"), API));
	teardown();
}

/*
 * A one-replica poison arrives on n1, which dies; firebreak evicts it, and its replacement
 * kills n2: it is quarantined there, at the second node. The variants: the poison came with
 * a rollout, and a pod of the old version had run on n1 for a day. Its move must not excuse
 * the poison's replacement, whichever of the two replacements is made first (1, 2), nor
 * when the old pod tolerates the failure longer and leaves after the poison's pod has gone
 * (3: the poison's replacement made late, after the old pod's eviction, and first).
 */
static void poison_migrates(int variant)
{
	bool old_replica = variant > 0;
	int64_t old_tol = variant == 3 ? 90 : TOL;
	int64_t old_out = T0 + 25 * S + old_tol * S; /* when the old pod is evicted */
	setup_at_once();
	cluster();
	if (old_replica)
		pod("poison-old", "n1", POISON, T0 - 86400 * S, old_tol);
	pod("poison-a", "n1", POISON, T0, TOL);
	tick(T0);
	node("n1", NULL, FB_COND_UNKNOWN, T0 + 25 * S);
	tick(T0 + 25 * S);
	KT_CHECK(names(annotation("n1"), POISON));
	tick(T0 + 55 * S);
	KT_CHECK(find(FB_ACT_EVICT, "poison-a") && find(FB_ACT_EVICT, "web-1"));
	evicted("poison-a", FB_EVICT_OK, T0 + 55 * S);
	evicted("web-1", FB_EVICT_OK, T0 + 55 * S);
	pod_gone("poison-a");
	pod_gone("web-1");
	if (old_replica) {
		if (old_out > T0 + 55 * S)
			tick(old_out);
		KT_EQ_INT(count_all(FB_ACT_EVICT, "poison-old"), 1);
		evicted("poison-old", FB_EVICT_OK, old_out);
		pod_gone("poison-old");
	}
	/* the replacements, seconds later: new uids, new nodes */
	int64_t made = old_out + S;
	bool poison_first = variant == 1 || variant == 3;
	if (old_replica && !poison_first)
		new_pod("poison-old-r", "n4", POISON, made, false);
	new_pod("poison-b", "n2", POISON, made, false);
	if (old_replica && poison_first)
		new_pod("poison-old-r", "n4", POISON, made, false);
	new_pod("web-1r", "n3", WEB, T0 + 56 * S, false);
	tick(made + 2 * S);
	node("n2", NULL, FB_COND_UNKNOWN, made + 25 * S);
	tick(made + 25 * S);
}

KT_TEST(a_suspect_moved_stays_a_suspect)
{
	for (int v = 0; v < 4; v++) {
		poison_migrates(v);
		const fb_action *q = find(FB_ACT_QUARANTINE, "deployment-poison");
		KT_CHECK(q && payload(q) && strstr(payload(q), "\"migratedFrom\":\"n1\""));
		if (!q)
			fprintf(stderr, "  (variant %d: not caught at the second node)\n", v);
		KT_CHECK(names(annotation("n2"), POISON) && !names(annotation("n2"), WEB));
		teardown();
	}
}

/*
 * Pods that followed the poison off its first failed node before the verdict came are
 * recalled: n1 dies, the poison's pod there is evicted at its toleration and replaced on n3;
 * n2 dies and the verdict comes. The replacement on n3 is deleted (its own replacement is
 * then gated); the pods that were in place before (poison-old) and a new pod of a rollout
 * (poison-new, no replacement) stay, as does the pod pinned on n2. variant 1: dry run
 * (nothing deleted); 2: the replacement arrived longer ago than the arrival window (30 m).
 */
static void followed_before_the_verdict(int variant)
{
	int64_t second = variant == 2 ? T0 + 40 * 60 * S : T0 + 90 * S;
	setup_with(variant == 1, 0);
	cluster();
	pod("poison-old", "n4", POISON, T0 - 86400 * S, TOL);
	pod("poison-a", "n1", POISON, T0, TOL);
	tick(T0);
	node("n1", NULL, FB_COND_UNKNOWN, T0 + 25 * S);
	tick(T0 + 25 * S);
	tick(T0 + 55 * S);
	KT_CHECK(find(FB_ACT_EVICT, "poison-a") != NULL);
	evicted("poison-a", FB_EVICT_OK, T0 + 55 * S);
	evicted("web-1", FB_EVICT_OK, T0 + 55 * S);
	pod_gone("poison-a");
	pod_gone("web-1");
	new_pod("poison-r", "n3", POISON, T0 + 56 * S, false); /* its replacement */
	new_pod("web-1r", "n5", WEB, T0 + 56 * S, false);
	new_pod("poison-new", "n5", POISON, T0 + 57 * S, false); /* a rollout's */
	tick(T0 + 60 * S);
	KT_EQ_INT(count(FB_ACT_QUARANTINE), 0); /* one failed node is no verdict */
	new_pod("poison-b", "n2", POISON, second - 60 * S, false);
	tick(second - 59 * S);
	node("n2", NULL, FB_COND_UNKNOWN, second);
	tick(second);
}

KT_TEST(pods_that_followed_the_poison_before_its_verdict_are_recalled)
{
	size_t mark = log_mark();
	followed_before_the_verdict(0);
	KT_CHECK(find(FB_ACT_QUARANTINE, "deployment-poison") != NULL);
	const fb_action *d = find(FB_ACT_DELETE, "poison-r");
	KT_CHECK(d && d->reason == FB_REASON_RECALLED && !strcmp(d->node, "n3") &&
	         !strcmp(d->uid, "uid-poison-r") && !d->dry_run);
	const char *stay[] = { "poison-old", "poison-new", "poison-b", "web-1r" };
	for (size_t i = 0; i < 4; i++) {
		KT_EQ_INT(count_named(FB_ACT_DELETE, stay[i]), 0);
		KT_EQ_INT(count_named(FB_ACT_EVICT, stay[i]), 0);
	}
	KT_EQ_INT(events(mark, "QuarantineRecalled", FB_OBJ_POD, "poison-r"), 1);
	KT_EQ_INT(events(mark, "QuarantineRecalled", FB_OBJ_WORKLOAD, "poison"), 1);
	KT_EQ_INT(events(mark, "QuarantineEscaped", FB_OBJ_POD, "poison-r"), 0);
	fb_core_stats st;
	fb_core_get_stats(core, &st);
	KT_EQ_INT(st.recalls_deleted, 1);
	KT_EQ_INT(st.escapes_deleted, 0);
	/* asked once; gone, its replacement waits behind the gate and nothing more goes */
	tick(T0 + 91 * S);
	KT_EQ_INT(count(FB_ACT_DELETE), 0);
	evicted("poison-r", FB_EVICT_OK, T0 + 91 * S);
	pod_gone("poison-r");
	gated_pod("poison-r2", POISON, T0 + 92 * S);
	for (int64_t t = T0 + 92 * S; t < T0 + 400 * S; t += 10 * S) {
		tick(t);
		KT_EQ_INT(count(FB_ACT_DELETE), 0);
	}
	KT_EQ_INT(count_reason("QuarantineRecalled"), 0);
	teardown();

	/* a failed deletion is tried again */
	followed_before_the_verdict(0);
	KT_CHECK(find(FB_ACT_DELETE, "poison-r") != NULL);
	evicted("poison-r", FB_EVICT_FAILED, T0 + 91 * S);
	int asked = 0;
	for (int64_t t = T0 + 91 * S; t < T0 + 200 * S; t += S)
		asked += tick(t) >= 0 ? count_named(FB_ACT_DELETE, "poison-r") : 0;
	KT_CHECK(asked >= 1);
	teardown();

	for (int v = 1; v <= 2; v++) {
		followed_before_the_verdict(v);
		if (v == 2)
			KT_CHECK(find(FB_ACT_QUARANTINE, "deployment-poison") != NULL);
		KT_EQ_INT(count_named(FB_ACT_DELETE, "poison-r"), 0);
		tick(T0 + 91 * 60 * S);
		KT_EQ_INT(count_named(FB_ACT_DELETE, "poison-r"), 0);
		if (count_reason("QuarantineRecalled"))
			fprintf(stderr, "  (variant %d recalled)\n", v);
		teardown();
	}
}

/* ---- 8. Quarantine names ------------------------------------------------------------------- */

/* A DNS-1123 subdomain, as metadata.name must be (IsDNS1123Subdomain). */
static bool dns_subdomain(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 253)
		return false;
	const char *label = s;
	for (const char *c = s;; c++) {
		if (*c == '.' || *c == '\0') {
			if (c == label || label[0] == '-' || c[-1] == '-')
				return false;
			if (*c == '\0')
				return true;
			label = c + 1;
		} else if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-')) {
			return false;
		}
	}
}

/* The name of the Quarantine a verdict on workload id creates (in a core of its own). */
static void verdict_name(const char *id, char out[FB_NAME_MAX])
{
	char q[FB_NAME_MAX];
	out[0] = '\0';
	setup_at_once();
	nodes(1, 4);
	kills_n1_n2(id);
	const fb_action *a = find(FB_ACT_QUARANTINE, NULL);
	KT_CHECK(a && a->verdict && !strcmp(a->verdict->name, a->name));
	if (a)
		snprintf(out, FB_NAME_MAX, "%s", a->name);
	fb_workload_ref r;
	KT_EQ_INT(fb_workload_id_parse(id, &r), 0);
	KT_EQ_INT(qobserve(out, &(quarantine_spec){ .kind = r.kind, .workload = r.name,
	                                            .created_ms = VERDICT },
	                   VERDICT + S), 0);
	/* the webhook names the same object */
	KT_CHECK(fb_core_gate(core, WL(id), q) && !strcmp(q, out));
	teardown();
}

KT_TEST(quarantine_names_never_collide)
{
	char a[FB_NAME_MAX], b[FB_NAME_MAX], again[FB_NAME_MAX], id[FB_WORKLOAD_ID_MAX];
	/* short names stay as they were */
	verdict_name(POISON, a);
	KT_EQ_STR(a, "deployment-poison");
	verdict_name("StatefulSet/default/db", a);
	KT_EQ_STR(a, "statefulset-db");
	/* 200 characters in common, with a '.' and a '-' where the prefix is cut */
	char prefix[201];
	for (int i = 0; i < 200; i++)
		prefix[i] = "payments-eu.west"[i % 16];
	prefix[200] = '\0';
	for (int cut = 0; cut < 3; cut++) {
		/* the readable prefix keeps 171 characters, 160 of the name: end it on '.', '-', 'x' */
		prefix[158] = 'a';
		prefix[159] = cut == 0 ? '.' : cut == 1 ? '-' : 'x';
		prefix[160] = 'b';
		snprintf(id, sizeof(id), "Deployment/default/%s-first", prefix);
		verdict_name(id, a);
		snprintf(id, sizeof(id), "Deployment/default/%s-second", prefix);
		verdict_name(id, b);
		KT_CHECK(strcmp(a, b) != 0);
		KT_CHECK(strlen(a) <= 180 && strlen(b) <= 180);
		KT_CHECK(dns_subdomain(a) && dns_subdomain(b));
		if (!dns_subdomain(a) || !dns_subdomain(b))
			fprintf(stderr, "  (not a DNS subdomain: %s / %s)\n", a, b);
		KT_CHECK(!strncmp(a, "deployment-payments-eu.west", 27));
		verdict_name(id, again);
		KT_EQ_STR(again, b); /* stable */
	}
	/* at the limit: 180 characters kept as they are, 181 shortened */
	char name[200];
	memset(name, 'n', sizeof(name));
	name[169] = '\0';
	snprintf(id, sizeof(id), "Deployment/default/%s", name);
	verdict_name(id, a);
	KT_EQ_INT(strlen(a), 180);
	KT_CHECK(!strncmp(a, "deployment-", 11) && !strcmp(a + 11, name));
	name[169] = 'n';
	name[170] = '\0';
	snprintf(id, sizeof(id), "Deployment/default/%s", name);
	verdict_name(id, b);
	KT_CHECK(strlen(b) <= 180 && strcmp(a, b) != 0 && dns_subdomain(b));
}

int main(void)
{
	KT_RUN(gate_holds_new_pods_of_a_quarantined_workload);
	KT_RUN(followers_answer_from_the_object);
	KT_RUN(dry_run_gates_nothing);
	KT_RUN(gated_pods_are_told_once_and_counted);
	KT_RUN(release_takes_every_gate_off);
	KT_RUN(deletion_and_stray_gates_take_gates_off);
	KT_RUN(no_gate_comes_off_before_the_quarantines_are_known);
	KT_RUN(release_waits_for_the_taints_to_go);
	KT_RUN(untaint_asked_again_by_a_new_leader_and_for_a_new_taint);
	KT_RUN(finalizer_holds_a_failing_restore_across_a_restart);
	KT_RUN(finalizer_goes_when_the_restore_is_done);
	KT_RUN(finalizer_is_added_once_and_asked_again_by_a_new_leader);
	KT_RUN(a_round_deletes_every_escape_at_once);
	KT_RUN(escaped_pods_are_deleted_with_backoff);
	KT_RUN(an_escape_seen_before_the_gate_returns_goes_at_once);
	KT_RUN(escape_deletions_take_their_results);
	KT_RUN(a_failure_the_quarantined_workload_explains_is_its_alone);
	KT_RUN(a_verdict_explains_its_failures_away_from_the_others);
	KT_RUN(equal_evidence_is_decided_by_id);
	KT_RUN(innocents_moved_off_the_verdicts_nodes_stay_innocent);
	KT_RUN(pods_firebreak_moved_are_no_suspects_for_it);
	KT_RUN(a_suspect_moved_stays_a_suspect);
	KT_RUN(pods_that_followed_the_poison_before_its_verdict_are_recalled);
	KT_RUN(quarantine_names_never_collide);
	return KT_DONE();
}
