/*
 * fb_tick_bench.c - how long one fb_core_tick takes as the cluster grows, with
 * no JSON and no network: the decision core alone, fed synthetic observations
 * (bench/run.sh --tick; docs/benchmarks.md "Where the tick's time goes").
 *
 * For each size it times, in microseconds (median of repeated runs):
 *   idle      a tick with nothing changed (the per-turn floor);
 *   pod       a tick after one pod update (what most watch events cause);
 *   node      a tick after one node update that changes nothing of note;
 *   failure   a tick after a node fails carrying S pods that arrived minutes
 *             before (poison suspects), so S workloads are judged (at once: the
 *             settle time is 0 here);
 *   recovery  the tick after that node recovers.
 *
 * Each size runs under both poison verdicts, the surprise verdict (arrivalWindow 8h,
 * window 24h) and the ratio rule (30m, 1h), one line each, side by side.
 *
 * A negative S makes the suspects recur: the same |S| workloads arrive on every failing
 * node, 5 minutes before it fails, the failures 10 minutes apart, so that from the second
 * failure on each judgement has earlier failures to weigh: every span (up to 8) and the
 * same-delay test are computed.
 * The surprise verdict's limit is set so low there that nothing is quarantined and every
 * failure is judged in full; the ratio rule quarantines them at the second.
 *
 * Usage: fb_tick_bench [nodes pods suspects]...   (default: 500 15000 1 5000 150000 1
 *                                                   5000 150000 10 5000 150000 -10)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "kc/time.h"

#define REPS 21
#define ZONES 3
#define REPLICAS 11

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static int64_t median(int64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_i64);
	return v[n / 2];
}

typedef struct cluster {
	fb_core *core;
	fb_actions acts;
	int nodes, pods;
	int64_t now_ms;
} cluster;

static void node_name(int i, char *buf, size_t cap)
{
	snprintf(buf, cap, "ip-10-%d-%d-%d.ec2.internal", i / 65536 % 256, i / 256 % 256, i % 256);
}

static void set_node(cluster *c, int i, fb_cond ready, int64_t transition_ms)
{
	char name[64], uid[64], zone[32];
	node_name(i, name, sizeof(name));
	snprintf(uid, sizeof(uid), "node-uid-%08d", i);
	snprintf(zone, sizeof(zone), "us-east-1%c", 'a' + i % ZONES);
	fb_node_obs o = { .name = name, .uid = uid, .region = "us-east-1", .zone = zone,
		          .ready = ready, .ready_transition_ms = transition_ms };
	fb_core_node_set(c->core, &o, c->now_ms);
}

static void set_pod(cluster *c, int i, int node, int64_t arrived_ms, int gen)
{
	char ns[32], name[96], uid[64], nname[64], wname[64];
	int w = i / REPLICAS;
	snprintf(ns, sizeof(ns), "team-%03d", w / 50);
	snprintf(name, sizeof(name), "svc-%05d-7d9f8c6b5d-%05d", w, i);
	snprintf(uid, sizeof(uid), "pod-uid-%08d", i);
	snprintf(wname, sizeof(wname), "svc-%05d", w);
	fb_workload_ref wl;
	fb_workload_ref_set(&wl, "Deployment", ns, wname);
	node_name(node, nname, sizeof(nname));
	fb_pod_obs o = { .ns = ns, .name = name, .uid = uid, .node = nname, .workload = &wl,
		         .tol_not_ready_s = 300 + gen % 2, .tol_unreachable_s = 300,
		         .arrived_ms = arrived_ms };
	fb_core_pod_set(c->core, &o);
}

static int64_t tick_us(cluster *c)
{
	fb_actions_clear(&c->acts);
	int64_t t0 = kc_now_mono_us();
	fb_core_tick(c->core, c->now_ms, &c->acts);
	return kc_now_mono_us() - t0;
}

static void run(int nodes, int pods, int suspects, fb_verdict_kind verdict)
{
	cluster c = { .nodes = nodes, .pods = pods, .now_ms = kc_now_wall_us() / 1000 };
	fb_core_config cfg;
	fb_core_config_defaults(&cfg);
	cfg.verdict = verdict;
	cfg.poison_settle_ms = 0; /* judged in the failure's own tick: the verdict is timed too */
	bool recurring = suspects < 0;
	if (recurring) {
		suspects = -suspects;
		cfg.false_alarms_per_year = 1e-300; /* judged in full, never quarantined */
	}
	if (verdict == FB_VERDICT_SURPRISE) {
		cfg.defaults.poison.arrival_window_ms = 8 * 3600 * 1000;
		cfg.defaults.poison.window_ms = 24 * 3600 * 1000;
	} else {
		cfg.defaults.poison.arrival_window_ms = 30 * 60 * 1000;
		cfg.defaults.poison.window_ms = 3600 * 1000;
	}
	c.core = fb_core_new(&cfg);
	fb_budget_spec_release(&cfg.defaults);
	if (!c.core) {
		fprintf(stderr, "fb_tick_bench: out of memory\n");
		exit(1);
	}
	fb_core_set_leader(c.core, true);
	fb_actions_init(&c.acts);
	int64_t old = c.now_ms - 7LL * 24 * 3600 * 1000;
	for (int i = 0; i < nodes; i++)
		set_node(&c, i, FB_COND_TRUE, old);
	for (int i = 0; i < pods; i++)
		set_pod(&c, i, (int)((unsigned)i * 2654435761u % (unsigned)nodes), old, 0);
	int64_t first = tick_us(&c);

	int64_t idle[REPS], pod[REPS], node[REPS], fail[REPS], recover[REPS];
	for (int r = 0; r < REPS; r++) {
		idle[r] = tick_us(&c);
		set_pod(&c, r * 7 % pods, (r * 7) % nodes, old, r + 1);
		pod[r] = tick_us(&c);
		set_node(&c, r % nodes, FB_COND_TRUE, old);
		node[r] = tick_us(&c);
		/* a node fails with `suspects` pods of distinct workloads that arrived 5 min ago;
		 * recurring, 10 minutes after the last (1 s after, they would all be one burst) */
		if (recurring)
			c.now_ms += 10 * 60 * 1000;
		int victim = (r * 13 + 1) % nodes;
		for (int s = 0; s < suspects; s++)
			set_pod(&c, ((recurring ? 0 : r * 97) + s * REPLICAS * 3) % pods, victim,
			        c.now_ms - 5 * 60 * 1000, r);
		c.now_ms += 1000;
		set_node(&c, victim, FB_COND_FALSE, c.now_ms);
		fail[r] = tick_us(&c);
		c.now_ms += 1000;
		set_node(&c, victim, FB_COND_TRUE, c.now_ms);
		recover[r] = tick_us(&c);
	}
	printf("%-8s %6d nodes %7d pods %3d %s: first %7lld  idle %6lld  pod %6lld  node "
	       "%6lld  failure %7lld  recovery %6lld  (us, median of %d)\n",
	       verdict == FB_VERDICT_SURPRISE ? "surprise" : "ratio", nodes, pods, suspects,
	       recurring ? "recurring" : "suspect(s)", (long long)first, (long long)median(idle, REPS),
	       (long long)median(pod, REPS), (long long)median(node, REPS),
	       (long long)median(fail, REPS), (long long)median(recover, REPS), REPS);
	fb_core_stats st;
	fb_core_get_stats(c.core, &st);
	printf("         %d node failures recorded, %zu quarantines; surprise judgements %zu\n",
	       REPS, st.quarantines_total, st.judgements);
	fflush(stdout);
	fb_actions_release(&c.acts);
	fb_core_free(c.core);
}

static void both(int nodes, int pods, int suspects)
{
	run(nodes, pods, suspects, FB_VERDICT_RATIO);
	run(nodes, pods, suspects, FB_VERDICT_SURPRISE);
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		if ((argc - 1) % 3) {
			fprintf(stderr, "usage: fb_tick_bench [nodes pods suspects]...\n");
			return 2;
		}
		for (int i = 1; i + 2 < argc; i += 3)
			both(atoi(argv[i]), atoi(argv[i + 1]), atoi(argv[i + 2]));
		return 0;
	}
	both(500, 15000, 1);
	both(5000, 150000, 1);
	both(5000, 150000, 10);
	both(5000, 150000, -10);
	return 0;
}
