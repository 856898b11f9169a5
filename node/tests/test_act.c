/*
 * firebreak-node's act mode: the decision (node/analysis/act.c, fbn_act_decide) over reports of
 * the recorded incident and of a node running short, and the kill (node/io/kill.c,
 * fbn_kill_pod) on a simulated tree and, where root and a writable cgroup hierarchy allow it,
 * of a real process in a real pod cgroup.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fbn.h"
#include "fbn_io.h"
#include "kctest.h"

#define UID_A "7c9e6679-7425-40de-944b-e07fc1f90ae7"
#define UID_B "11111111-2222-3333-4444-555555555555"
#define MIN_MS 60000

/* A node of 64 GiB, 31 GiB of it unaccounted and laid at pod UID_A on basis b, with avail_pct
 * of MemTotal available and memory stalled psi % of the last 10 s. */
static void report_of(fbn_report *r, fbn_basis b, double avail_pct, double psi)
{
	memset(r, 0, sizeof(*r));
	r->have_meminfo = true;
	r->mem.kb[FBN_MEM_TOTAL] = 64ull << 20;
	r->mem.kb[FBN_MEM_AVAILABLE] = (uint64_t)((double)(64ull << 20) * avail_pct / 100);
	r->mem.present = (1u << FBN_MEM_TOTAL) | (1u << FBN_MEM_AVAILABLE);
	r->unaccounted_known = true;
	r->unaccounted_kb = 31ll << 20;
	r->flag_unaccounted = true;
	r->have_psi = true;
	r->psi.some.present = true;
	r->psi.some.avg10 = psi;
	r->holders.scanned = true;
	fbn_holders_add(&r->holders, UID_A, 4242, "/dev/nvidia0", 12, 100);
	r->suspect = b == FBN_BASIS_NONE ? -1 : 0;
	r->basis = b;
}

static fbn_pod_facts facts_of(const char *owner)
{
	fbn_pod_facts f = { .known = true };
	snprintf(f.namespace_, sizeof(f.namespace_), "gpu");
	snprintf(f.name, sizeof(f.name), "train-0");
	snprintf(f.owner_kind, sizeof(f.owner_kind), "%s", owner);
	return f;
}

/* Decide as the agent does: without facts, then with them if asked to look up. */
static fbn_act_verdict decide(const fbn_act_config *c, fbn_act_state *s, const fbn_report *r,
                              const fbn_pod_facts *f, int64_t now, char *why, size_t cap)
{
	fbn_act_verdict v = fbn_act_decide(c, s, r, NULL, now, why, cap);
	if (v == FBN_ACT_LOOK_UP)
		v = fbn_act_decide(c, s, r, f, now, why, cap);
	return v;
}

KT_TEST(it_kills_only_when_the_node_is_about_to_thrash_and_the_growth_names_the_pod)
{
	fbn_act_config c;
	fbn_act_config_default(&c);
	fbn_act_state s = { 0 };
	fbn_report r;
	char why[768];
	fbn_pod_facts rs = facts_of("ReplicaSet");
	/* memory and stall fine: nothing */
	report_of(&r, FBN_BASIS_ARRIVAL, 40, 2);
	KT_EQ_INT(decide(&c, &s, &r, &rs, 0, why, sizeof(why)), FBN_ACT_NONE);
	KT_CHECK(strstr(why, "not about to thrash") != NULL);
	/* about to thrash, but named only as the only holder (one sample): no kill on a guess */
	report_of(&r, FBN_BASIS_ONLY_HOLDER, 3, 60);
	KT_EQ_INT(decide(&c, &s, &r, &rs, 0, why, sizeof(why)), FBN_ACT_NONE);
	KT_CHECK(strstr(why, "too weak") != NULL);
	/* about to thrash, no pod named */
	report_of(&r, FBN_BASIS_NONE, 3, 60);
	KT_EQ_INT(decide(&c, &s, &r, &rs, 0, why, sizeof(why)), FBN_ACT_NONE);
	KT_CHECK(strstr(why, "laid at no pod") != NULL);
	/* unaccounted memory under the flag: nothing, however short the node is */
	report_of(&r, FBN_BASIS_ARRIVAL, 2, 60);
	r.flag_unaccounted = false;
	KT_EQ_INT(decide(&c, &s, &r, &rs, 0, why, sizeof(why)), FBN_ACT_NONE);
	/* stalled (PSI 60 %) with memory left (40 %): a pod reclaiming in its own limit, not the
	 * node thrashing; short of memory (3 %) without a stall: not thrashing yet */
	report_of(&r, FBN_BASIS_ARRIVAL, 40, 60);
	KT_EQ_INT(decide(&c, &s, &r, &rs, 0, why, sizeof(why)), FBN_ACT_NONE);
	KT_CHECK(strstr(why, "not about to thrash") != NULL);
	report_of(&r, FBN_BASIS_ARRIVAL, 3, 0);
	KT_EQ_INT(decide(&c, &s, &r, &rs, 0, why, sizeof(why)), FBN_ACT_NONE);
	/* the growth followed the pod, and the node is short and stalled: look it up, kill */
	report_of(&r, FBN_BASIS_ARRIVAL, 3, 35);
	KT_EQ_INT(fbn_act_decide(&c, &s, &r, NULL, 0, why, sizeof(why)), FBN_ACT_LOOK_UP);
	KT_EQ_INT(fbn_act_decide(&c, &s, &r, &rs, 0, why, sizeof(why)), FBN_ACT_KILL);
	KT_CHECK(strstr(why, "31.0 GiB no cgroup counts is laid at pod gpu/train-0 (ArrivedBeforeGrowth)") != NULL);
	/* a kernel without PSI: the memory alone */
	fbn_act_state s2 = { 0 };
	report_of(&r, FBN_BASIS_ONLY_HOLDER_ARRIVAL, 3, 0);
	r.have_psi = false;
	KT_EQ_INT(decide(&c, &s2, &r, &rs, 0, why, sizeof(why)), FBN_ACT_KILL);
	/* a huge page pool (24 of the 64 GiB) is not memory that could be available: 2.2 GiB
	 * available is 3.4 % of MemTotal but 5.5 % of the rest, not short */
	fbn_act_state s4 = { 0 };
	report_of(&r, FBN_BASIS_ARRIVAL, 3.4, 50);
	r.mem.kb[FBN_MEM_HUGETLB] = 24ull << 20;
	r.mem.present |= 1u << FBN_MEM_HUGETLB;
	KT_EQ_INT(decide(&c, &s4, &r, &rs, 0, why, sizeof(why)), FBN_ACT_NONE);
	report_of(&r, FBN_BASIS_ARRIVAL, 3, 35);
	/* not found in the API on this node: no kill (and not disarmed: asked again) */
	fbn_pod_facts unknown = { .known = false };
	fbn_act_state s3 = { 0 };
	KT_EQ_INT(decide(&c, &s3, &r, &unknown, 0, why, sizeof(why)), FBN_ACT_NONE);
	KT_CHECK(strstr(why, "no kill on a guess") != NULL && !s3.disarmed);
}

KT_TEST(never_a_daemonset_static_critical_or_protected_pod)
{
	fbn_act_config c;
	fbn_act_config_default(&c);
	fbn_report r;
	report_of(&r, FBN_BASIS_ARRIVAL, 2, 80);
	char why[768];
	fbn_pod_facts f[5] = { facts_of("DaemonSet"), facts_of("Node"), facts_of("ReplicaSet"),
		               facts_of("ReplicaSet"), facts_of("StatefulSet") };
	f[1].mirror = true;
	f[2].critical = true;
	f[3].protected_namespace = true;
	static const char *const rule[] = { "a DaemonSet's pod", "a static pod", "a system-critical pod",
		                            "in a protected namespace", NULL };
	for (size_t i = 0; i < 5; i++) {
		fbn_act_state s = { 0 };
		fbn_act_verdict v = decide(&c, &s, &r, &f[i], 0, why, sizeof(why));
		if (rule[i]) {
			KT_EQ_INT(v, FBN_ACT_REFUSE);
			KT_CHECK(strstr(why, rule[i]) != NULL);
			fbn_act_done(&s, v, 0);
			/* refused: disarmed, no kill counted */
			KT_CHECK(s.disarmed && s.nkills == 0);
		} else {
			KT_EQ_INT(v, FBN_ACT_KILL); /* a StatefulSet's pod may be killed */
		}
	}
}

KT_TEST(hysteresis_and_the_limit_per_period)
{
	fbn_act_config c;
	fbn_act_config_default(&c);
	c.max_kills = 2;
	c.period_ms = 60 * MIN_MS;
	fbn_act_state s = { 0 };
	fbn_report r;
	char why[768];
	fbn_pod_facts rs = facts_of("ReplicaSet");
	int64_t t = 0;
	report_of(&r, FBN_BASIS_ARRIVAL, 3, 50);
	KT_EQ_INT(decide(&c, &s, &r, &rs, t, why, sizeof(why)), FBN_ACT_KILL);
	fbn_act_done(&s, FBN_ACT_KILL, t);
	/* still short a minute later (the memory not yet freed): disarmed, nothing */
	t += MIN_MS;
	KT_EQ_INT(decide(&c, &s, &r, &rs, t, why, sizeof(why)), FBN_ACT_NONE);
	KT_CHECK(strstr(why, "acted already") != NULL);
	/* between the marks (MemAvailable 10 %: over 5 %, under 15 %): still disarmed */
	report_of(&r, FBN_BASIS_ARRIVAL, 10, 5);
	t += MIN_MS;
	KT_EQ_INT(decide(&c, &s, &r, &rs, t, why, sizeof(why)), FBN_ACT_NONE);
	KT_CHECK(s.disarmed);
	/* recovered (20 %, stall 5 %): armed again; short again: the second kill */
	report_of(&r, FBN_BASIS_ARRIVAL, 20, 5);
	t += MIN_MS;
	KT_EQ_INT(decide(&c, &s, &r, &rs, t, why, sizeof(why)), FBN_ACT_NONE);
	KT_CHECK(!s.disarmed);
	report_of(&r, FBN_BASIS_ARRIVAL, 3, 50);
	t += MIN_MS;
	KT_EQ_INT(decide(&c, &s, &r, &rs, t, why, sizeof(why)), FBN_ACT_KILL);
	fbn_act_done(&s, FBN_ACT_KILL, t);
	/* a third within the hour: refused, the limit */
	report_of(&r, FBN_BASIS_ARRIVAL, 20, 5);
	t += MIN_MS;
	KT_EQ_INT(decide(&c, &s, &r, &rs, t, why, sizeof(why)), FBN_ACT_NONE);
	report_of(&r, FBN_BASIS_ARRIVAL, 3, 50);
	t += MIN_MS;
	KT_EQ_INT(decide(&c, &s, &r, &rs, t, why, sizeof(why)), FBN_ACT_REFUSE);
	KT_CHECK(strstr(why, "2 kills in 60 minutes is the limit") != NULL);
	fbn_act_done(&s, FBN_ACT_REFUSE, t);
	/* an hour after the first kill, one slot is free again */
	report_of(&r, FBN_BASIS_ARRIVAL, 20, 5);
	t = 60 * MIN_MS + 1;
	KT_EQ_INT(decide(&c, &s, &r, &rs, t, why, sizeof(why)), FBN_ACT_NONE);
	report_of(&r, FBN_BASIS_ARRIVAL, 3, 50);
	KT_EQ_INT(decide(&c, &s, &r, &rs, t, why, sizeof(why)), FBN_ACT_KILL);
	/* without MemAvailable the node never counts as recovered */
	fbn_act_state d = { .disarmed = true };
	report_of(&r, FBN_BASIS_ARRIVAL, 50, 0);
	r.mem.present = 1u << FBN_MEM_TOTAL;
	KT_EQ_INT(decide(&c, &d, &r, &rs, t, why, sizeof(why)), FBN_ACT_NONE);
	KT_CHECK(d.disarmed);
}

/* An agent starts disarmed; the kill times survive a restart through the state file's text. */
KT_TEST(the_limit_and_the_arming_survive_a_restart)
{
	fbn_act_config c;
	fbn_act_config_default(&c);
	c.max_kills = 2;
	c.period_ms = 60 * MIN_MS;
	fbn_pod_facts rs = facts_of("ReplicaSet");
	fbn_report r;
	char why[768];
	fbn_act_state s;
	fbn_act_state_init(&s);
	/* started during a thrash: nothing until the node recovers once */
	report_of(&r, FBN_BASIS_ARRIVAL, 3, 50);
	KT_EQ_INT(decide(&c, &s, &r, &rs, 0, why, sizeof(why)), FBN_ACT_NONE);
	KT_CHECK(strstr(why, "acted already") != NULL);
	/* two kills, kept as text, loaded by the next agent: the limit holds */
	fbn_act_done(&s, FBN_ACT_KILL, 5 * MIN_MS);
	fbn_act_done(&s, FBN_ACT_KILL, 20 * MIN_MS);
	char *text = fbn_act_state_text(&s);
	KT_EQ_STR(text ? text : "", "300000\n1200000\n");
	fbn_act_state next;
	fbn_act_state_init(&next);
	fbn_act_state_load(&next, text, text ? strlen(text) : 0);
	free(text);
	KT_EQ_INT(next.nkills, 2);
	report_of(&r, FBN_BASIS_ARRIVAL, 20, 5);
	KT_EQ_INT(decide(&c, &next, &r, &rs, 30 * MIN_MS, why, sizeof(why)), FBN_ACT_NONE); /* re-arms */
	report_of(&r, FBN_BASIS_ARRIVAL, 3, 50);
	KT_EQ_INT(decide(&c, &next, &r, &rs, 30 * MIN_MS, why, sizeof(why)), FBN_ACT_REFUSE);
	/* a kill dated ahead of the clock (the clock set back) still counts */
	fbn_act_state ahead;
	fbn_act_state_init(&ahead);
	ahead.disarmed = false;
	fbn_act_done(&ahead, FBN_ACT_KILL, 90 * MIN_MS);
	fbn_act_done(&ahead, FBN_ACT_KILL, 91 * MIN_MS);
	ahead.disarmed = false;
	KT_EQ_INT(decide(&c, &ahead, &r, &rs, 10 * MIN_MS, why, sizeof(why)), FBN_ACT_REFUSE);
	/* a damaged file: lines that are not numbers, a line cut short at the end, skipped */
	fbn_act_state d;
	fbn_act_state_init(&d);
	const char *damaged = "12\nx9\n\n-5\n99999999999999999999\n34\n56";
	fbn_act_state_load(&d, damaged, strlen(damaged));
	KT_EQ_INT(d.nkills, 2);
	KT_CHECK(d.kills_ms[0] == 12 && d.kills_ms[1] == 34);
	/* more than the ring holds: the newest kept */
	char many[FBN_ACT_KILLS_MAX * 8 + 64] = "";
	size_t n = 0;
	for (int i = 1; i <= FBN_ACT_KILLS_MAX + 3; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n, "%d\n", i);
	fbn_act_state m;
	fbn_act_state_init(&m);
	fbn_act_state_load(&m, many, n);
	KT_EQ_INT(m.nkills, FBN_ACT_KILLS_MAX);
	text = fbn_act_state_text(&m);
	KT_CHECK(text && strncmp(text, "4\n5\n", 4) == 0);
	free(text);
}

/* The pod's facts from a PodList as the API server sends it. */
KT_TEST(pod_facts_from_the_api_servers_pod_list)
{
	const char *json =
	        "{\"items\":["
	        "{\"metadata\":{\"name\":\"train-0\",\"namespace\":\"gpu\",\"uid\":\"" UID_A "\","
	        "\"ownerReferences\":[{\"kind\":\"Job\",\"controller\":false},"
	        "{\"kind\":\"StatefulSet\",\"controller\":true}]},\"spec\":{\"priority\":1000}},"
	        "{\"metadata\":{\"name\":\"dcgm-x\",\"namespace\":\"gpu\",\"uid\":\"u-ds\","
	        "\"ownerReferences\":[{\"kind\":\"DaemonSet\",\"controller\":true}]}},"
	        "{\"metadata\":{\"name\":\"etcd-a\",\"namespace\":\"kube-system\",\"uid\":\"u-mirror\","
	        "\"annotations\":{\"kubernetes.io/config.mirror\":\"x\"}}},"
	        "{\"metadata\":{\"name\":\"crit\",\"namespace\":\"ops\",\"uid\":\"u-crit\"},"
	        "\"spec\":{\"priority\":2000000000}},"
	        "{\"metadata\":{\"name\":\"cls\",\"namespace\":\"ml-infra\",\"uid\":\"u-class\"},"
	        "\"spec\":{\"priorityClassName\":\"system-cluster-critical\"}},"
	        "{\"metadata\":{\"name\":\"nons\",\"namespace\":7,\"uid\":\"u-nons\"}},"
	        "{\"metadata\":{\"name\":\"empty\",\"namespace\":\"\",\"uid\":\"u-empty\"}}]}";
	cJSON *list = cJSON_Parse(json);
	KT_CHECK(list != NULL);
	static const char *const protect[] = { "ml-infra", NULL };
	fbn_pod_facts f;
	KT_CHECK(fbn_pod_facts_find(list, UID_A, protect, &f) && f.known);
	KT_EQ_STR(f.namespace_, "gpu");
	KT_EQ_STR(f.name, "train-0");
	KT_EQ_STR(f.owner_kind, "StatefulSet"); /* the controller reference, not the first */
	KT_CHECK(!f.mirror && !f.critical && !f.protected_namespace);
	KT_CHECK(fbn_pod_facts_find(list, "u-ds", protect, &f) && !strcmp(f.owner_kind, "DaemonSet"));
	KT_CHECK(fbn_pod_facts_find(list, "u-mirror", protect, &f) && f.mirror && f.protected_namespace);
	KT_CHECK(fbn_pod_facts_find(list, "u-crit", protect, &f) && f.critical && !f.protected_namespace);
	KT_CHECK(fbn_pod_facts_find(list, "u-class", protect, &f) && f.critical && f.protected_namespace);
	/* no namespace it can read: protected (never killed on a guess) */
	KT_CHECK(fbn_pod_facts_find(list, "u-nons", protect, &f) && f.protected_namespace);
	KT_CHECK(fbn_pod_facts_find(list, "u-empty", protect, &f) && f.protected_namespace);
	KT_CHECK(!fbn_pod_facts_find(list, "u-absent", protect, &f) && !f.known);
	KT_CHECK(!fbn_pod_facts_find(list, "", protect, &f));
	cJSON_Delete(list);
	cJSON *bad = cJSON_Parse("{\"items\":{\"a\":1}}");
	KT_CHECK(bad && !fbn_pod_facts_find(bad, "a", NULL, &f));
	cJSON_Delete(bad);
}

/* Write DIR/proc/PID/cgroup placing the process in pod uid's cgroup (systemd driver). */
static void fake_process(const char *dir, int pid, const char *uid, bool gpu)
{
	char p[512], under[64];
	snprintf(under, sizeof(under), "%s", uid);
	for (char *c = under; *c; c++)
		if (*c == '-')
			*c = '_';
	snprintf(p, sizeof(p), "%s/proc/%d", dir, pid);
	KT_CHECK(mkdir(p, 0755) == 0);
	snprintf(p, sizeof(p), "%s/proc/%d/cgroup", dir, pid);
	FILE *f = fopen(p, "w");
	KT_CHECK(f != NULL);
	if (f) {
		fprintf(f, "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod%s.slice/"
		           "cri-containerd-%d.scope\n", under, pid);
		fclose(f);
	}
	snprintf(p, sizeof(p), "%s/proc/%d/fd", dir, pid);
	KT_CHECK(mkdir(p, 0755) == 0);
	snprintf(p, sizeof(p), "%s/proc/%d/fd/0", dir, pid);
	KT_CHECK(symlink("/dev/null", p) == 0);
	if (gpu) {
		snprintf(p, sizeof(p), "%s/proc/%d/fd/3", dir, pid);
		KT_CHECK(symlink("/dev/nvidia0", p) == 0);
	}
}

static bool killed_file(const char *dir, int pid)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/proc/%d/killed", dir, pid);
	FILE *f = fopen(p, "r");
	char buf[8] = "";
	bool ok = f && fgets(buf, sizeof(buf), f) && strcmp(buf, "9\n") == 0;
	if (f)
		fclose(f);
	unlink(p);
	return ok;
}

/* A simulated tree (not procfs): the kill is recorded in each of the pod's processes that hold
 * the GPU, only: not its sandbox (pause, no device), not another pod's. */
KT_TEST(a_simulated_tree_records_the_kill_of_the_pods_processes_only)
{
	char dir[] = "/tmp/fbn-act-XXXXXX";
	KT_CHECK(mkdtemp(dir) != NULL);
	char p[512];
	snprintf(p, sizeof(p), "%s/proc", dir);
	KT_CHECK(mkdir(p, 0755) == 0);
	fake_process(dir, 99, UID_A, false); /* the pod's pause */
	fake_process(dir, 100, UID_A, true);
	fake_process(dir, 101, UID_A, true);
	fake_process(dir, 102, UID_B, true);
	snprintf(p, sizeof(p), "%s/proc/meminfo", dir); /* not a process */
	FILE *f = fopen(p, "w");
	if (f)
		fclose(f);
	size_t found = 0;
	char why[256];
	KT_EQ_INT(fbn_kill_pod(dir, UID_A, NULL, &found, why, sizeof(why)), 2);
	KT_EQ_INT(found, 2);
	KT_EQ_STR(why, "");
	KT_CHECK(killed_file(dir, 100) && killed_file(dir, 101) && !killed_file(dir, 102) &&
	         !killed_file(dir, 99));
	/* "killed" already a symlink (a hostile tree): not followed */
	char victim[600], link[600];
	snprintf(victim, sizeof(victim), "%s/precious", dir);
	FILE *v = fopen(victim, "w");
	if (v) {
		fputs("keep\n", v);
		fclose(v);
	}
	snprintf(link, sizeof(link), "%s/proc/100/killed", dir);
	KT_CHECK(symlink(victim, link) == 0);
	KT_EQ_INT(fbn_kill_pod(dir, UID_A, NULL, &found, why, sizeof(why)), 1);
	KT_CHECK(strstr(why, "pid 100") != NULL);
	v = fopen(victim, "r");
	char keep[8] = "";
	KT_CHECK(v && fgets(keep, sizeof(keep), v) && strcmp(keep, "keep\n") == 0);
	if (v)
		fclose(v);
	unlink(link);
	killed_file(dir, 101);
	/* a pod with no process: nothing */
	KT_EQ_INT(fbn_kill_pod(dir, "99999999-2222-3333-4444-555555555555", NULL, &found, why, sizeof(why)), 0);
	KT_EQ_INT(found, 0);
	/* no proc directory: said why */
	KT_EQ_INT(fbn_kill_pod("/nonexistent-fbn", UID_A, NULL, &found, why, sizeof(why)), 0);
	KT_CHECK(strstr(why, "cannot read") != NULL);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	KT_CHECK(system(cmd) == 0);
}

static int rmdir_retry(const char *dir)
{
	int rc = -1;
	for (int i = 0; i < 200 && (rc = rmdir(dir)) != 0 && errno == EBUSY; i++)
		usleep(10000);
	if (rc != 0)
		fprintf(stderr, "  rmdir %s: %s\n", dir, strerror(errno));
	return rc;
}

/*
 * Live: a real process in a real cgroup named as kubelet names a pod's, holding a "device" open,
 * killed through its /proc/<pid> directory (pidfd_send_signal) on this machine's procfs; the
 * pod's other process (holding no device, as its sandbox) and a process in no pod are not. Needs root and a writable cgroup hierarchy (skipped
 * otherwise).
 */
KT_TEST(a_real_process_of_the_pod_is_killed_and_no_other)
{
	static const char *const roots[] = { "/sys/fs/cgroup/memory", "/sys/fs/cgroup/unified",
		                             "/sys/fs/cgroup", NULL };
	const char *uid = "6a1d0b3f-4c2e-4f70-9b8c-0d1e2f3a4b5c";
	char top[512] = "", base[560] = "", pod[640] = "";
	for (size_t i = 0; roots[i] && !pod[0]; i++) {
		char probe[600];
		snprintf(probe, sizeof(probe), "%s/cgroup.procs", roots[i]);
		if (access(probe, W_OK) != 0)
			continue;
		snprintf(top, sizeof(top), "%s/firebreak-node-act-test", roots[i]);
		snprintf(base, sizeof(base), "%s/kubepods", top);
		snprintf(pod, sizeof(pod), "%s/pod%s", base, uid);
		if ((mkdir(top, 0755) != 0 && errno != EEXIST) || (mkdir(base, 0755) != 0 && errno != EEXIST) ||
		    (mkdir(pod, 0755) != 0 && errno != EEXIST)) {
			rmdir(base);
			rmdir(top);
			pod[0] = '\0';
		}
	}
	if (!pod[0]) {
		fprintf(stderr, "  (no writable cgroup hierarchy here: skipped)\n");
		return;
	}
	/* the "device": a file whose path is the GPU prefix for this test */
	char devdir[] = "/tmp/fbn-actdev-XXXXXX";
	KT_CHECK(mkdtemp(devdir) != NULL);
	char dev[64], prefix[64];
	snprintf(dev, sizeof(dev), "%s/gpu0", devdir);
	snprintf(prefix, sizeof(prefix), "%s/gpu", devdir);
	FILE *df = fopen(dev, "w");
	if (df)
		fclose(df);
	const char *prefixes[] = { prefix, NULL };
	int ready[2];
	KT_CHECK(pipe(ready) == 0);
	/* two processes in the pod's cgroup: the one holding the device, and one like the pod's
	 * sandbox (pause) holding none */
	pid_t victim = -1, sandbox = -1;
	for (int holder = 1; holder >= 0; holder--) {
		pid_t child = fork();
		if (child == 0) {
			char procs[700], me[32];
			snprintf(procs, sizeof(procs), "%s/cgroup.procs", pod);
			snprintf(me, sizeof(me), "%d\n", (int)getpid());
			FILE *p = fopen(procs, "w");
			int ok = p && fputs(me, p) >= 0;
			if (p && fclose(p) != 0)
				ok = 0;
			if (holder && open(dev, O_RDONLY) < 0)
				ok = 0;
			char c = ok ? 'y' : 'n';
			(void)!write(ready[1], &c, 1);
			for (;;)
				pause();
		}
		*(holder ? &victim : &sandbox) = child;
	}
	pid_t bystander = fork();
	if (bystander == 0) {
		for (;;)
			pause();
	}
	char c1 = 'n', c2 = 'n';
	KT_CHECK(victim > 0 && sandbox > 0 && bystander > 0 && read(ready[0], &c1, 1) == 1 &&
	         read(ready[0], &c2, 1) == 1 && c1 == 'y' && c2 == 'y');
	size_t found = 0;
	char why[256];
	size_t killed = fbn_kill_pod("/", uid, prefixes, &found, why, sizeof(why));
	KT_EQ_INT(killed, 1);
	KT_EQ_INT(found, 1);
	KT_EQ_STR(why, "");
	if (killed != 1)
		kill(victim, SIGKILL); /* the test fails; do not hang on it */
	int status = 0;
	KT_CHECK(waitpid(victim, &status, 0) == victim && WIFSIGNALED(status) &&
	         WTERMSIG(status) == SIGKILL);
	/* the pod's process holding no device lives */
	KT_CHECK(waitpid(sandbox, &status, WNOHANG) == 0);
	kill(sandbox, SIGKILL);
	waitpid(sandbox, &status, 0);
	unlink(dev);
	rmdir(devdir);
	/* the bystander (in no pod's cgroup) lives */
	KT_CHECK(waitpid(bystander, &status, WNOHANG) == 0);
	kill(bystander, SIGKILL);
	waitpid(bystander, &status, 0);
	close(ready[0]);
	close(ready[1]);
	/* a cgroup empties once the kernel has released the dead task (a moment after the reap) */
	KT_CHECK(rmdir_retry(pod) == 0 && rmdir_retry(base) == 0 && rmdir_retry(top) == 0);
}

int main(void)
{
	KT_RUN(it_kills_only_when_the_node_is_about_to_thrash_and_the_growth_names_the_pod);
	KT_RUN(never_a_daemonset_static_critical_or_protected_pod);
	KT_RUN(hysteresis_and_the_limit_per_period);
	KT_RUN(the_limit_and_the_arming_survive_a_restart);
	KT_RUN(pod_facts_from_the_api_servers_pod_list);
	KT_RUN(a_simulated_tree_records_the_kill_of_the_pods_processes_only);
	KT_RUN(a_real_process_of_the_pod_is_killed_and_no_other);
	return KT_DONE();
}
