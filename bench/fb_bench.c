/*
 * fb_bench.c - firebreak's side of the scale benchmark (bench/run.sh, docs/benchmarks.md).
 *
 * Runs what the controller runs between the API server and the decision core,
 * wired as controller/shell/controller.c wires it: k8sclient informers on Nodes
 * and Pods with firebreak's projections (fb_project_node / fb_project_pod), whose
 * callbacks apply each observation to the core under one lock and wake the run
 * loop; the run loop ticks the core (fb_core_tick) as fb_controller_run does. The
 * actions are counted, not carried out (no API writes: the decision, not the
 * network round trip, is what is timed). Leader election, EvictionBudgets and
 * Quarantines are left out (the replay server serves only nodes and pods).
 *
 * Against the replay server (e2e/cmd/bench-replay) it measures:
 *   - CPU seconds (user+sys, getrusage) and wall time from process start until
 *     both informers have synced;
 *   - the burst: after sync it POSTs /bench/go, the server releases the
 *     recorded watch events, and the time until the expected number has
 *     reached the callbacks gives events per second (and CPU spent on them);
 *   - decision latency: for every burst event, from its arrival in the
 *     informer callback to the end of the first fb_core_tick that ran after it
 *     was applied (the tick that considered it); p50/p99/max;
 *   - the duration of every tick (is the core's tick O(pods)?);
 *   - peak RSS: getrusage ru_maxrss and /proc/self/status VmHWM.
 * Prints one JSON object on stdout; run.sh turns two of them into the table.
 *
 * Usage: fb_bench --server http://127.0.0.1:PORT --expect-events N [--settle-ms MS]
 *                 [--timeout-s S]
 */
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "kc/alloc.h"
#include "kc/array.h"
#include "kc/client.h"
#include "kc/informer.h"
#include "kc/time.h"
#include "controller.h"
#include "project.h"

#define LOOP_MAX_WAIT_MS 250 /* as controller.c */

/* A growable array of int64 samples. */
typedef struct samples {
	int64_t *v;
	size_t n, cap;
} samples;

static int samples_push(samples *s, int64_t x)
{
	if (KC_ARRAY_RESERVE(s->v, s->cap, s->n + 1) != 0)
		return -1;
	s->v[s->n++] = x;
	return 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted s; 0 when empty. */
static int64_t pct(const samples *s, double p)
{
	if (!s->n)
		return 0;
	size_t i = (size_t)(p / 100.0 * (double)s->n + 0.999999);
	if (i < 1)
		i = 1;
	if (i > s->n)
		i = s->n;
	return s->v[i - 1];
}

typedef struct bench {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool woken;
	fb_core *core;
	/* under lock */
	bool measuring;               /* the burst has been released */
	samples pending;              /* arrival times (mono us) of events not yet ticked */
	samples latency;              /* event arrival -> end of the tick that considered it */
	samples waits;                /* event arrival -> start of that tick (lock, wake-up, CPU) */
	samples ticks;                /* duration of each tick after sync */
	size_t actions[32];                /* by fb_action_kind */
	/* burst progress (informer threads) */
	atomic_llong burst_events;
	atomic_llong burst_last_us;
	atomic_bool stop;
} bench;

static int64_t wall_ms(void)
{
	return kc_now_wall_us() / 1000;
}

/* Called with the lock held after an observation was applied (controller.c's poke). */
static void poke(bench *b, int64_t arrived_us)
{
	b->woken = true;
	if (b->measuring) {
		samples_push(&b->pending, arrived_us);
		atomic_fetch_add(&b->burst_events, 1);
		atomic_store(&b->burst_last_us, kc_now_mono_us());
	}
	pthread_cond_signal(&b->wake);
}

static void node_apply(bench *b, const fb_node_proj *n)
{
	int64_t t = kc_now_mono_us();
	fb_node_obs o;
	fb_node_proj_obs(n, &o);
	pthread_mutex_lock(&b->lock);
	if (fb_core_node_set(b->core, &o, wall_ms()) != 0)
		fprintf(stderr, "fb_bench: out of memory recording node %s\n", n->name);
	poke(b, t);
	pthread_mutex_unlock(&b->lock);
}

static void node_added(const char *key, const void *obj, void *ud)
{
	node_apply(ud, obj);
}

static void node_updated(const char *key, const void *old_obj, const void *new_obj, void *ud)
{
	node_apply(ud, new_obj);
}

static void node_deleted(const char *key, const void *obj, void *ud)
{
	bench *b = ud;
	const fb_node_proj *n = obj;
	int64_t t = kc_now_mono_us();
	pthread_mutex_lock(&b->lock);
	fb_core_node_delete(b->core, n->name);
	poke(b, t);
	pthread_mutex_unlock(&b->lock);
}

static void pod_apply(bench *b, const fb_pod_proj *p)
{
	int64_t t = kc_now_mono_us();
	if (!p->uid)
		return;
	fb_pod_obs o;
	fb_workload_ref workload;
	fb_pod_proj_obs(p, &o, &workload);
	pthread_mutex_lock(&b->lock);
	if (fb_core_pod_set(b->core, &o) != 0)
		fprintf(stderr, "fb_bench: out of memory recording pod %s/%s\n", p->ns, p->name);
	poke(b, t);
	pthread_mutex_unlock(&b->lock);
}

static void pod_added(const char *key, const void *obj, void *ud)
{
	pod_apply(ud, obj);
}

static void pod_updated(const char *key, const void *old_obj, const void *new_obj, void *ud)
{
	pod_apply(ud, new_obj);
}

static void pod_deleted(const char *key, const void *obj, void *ud)
{
	bench *b = ud;
	const fb_pod_proj *p = obj;
	int64_t t = kc_now_mono_us();
	if (!p->uid)
		return;
	pthread_mutex_lock(&b->lock);
	fb_core_pod_delete(b->core, p->uid);
	poke(b, t);
	pthread_mutex_unlock(&b->lock);
}

/* fb_controller_run's loop, with timing around fb_core_tick and no execute(). */
static void *run_loop(void *ud)
{
	bench *b = ud;
	fb_actions acts;
	fb_actions_init(&acts);
	int64_t next = 0;
	while (!atomic_load(&b->stop)) {
		pthread_mutex_lock(&b->lock);
		int64_t now = wall_ms();
		int64_t wait = next > now ? next - now : 0;
		if (wait > LOOP_MAX_WAIT_MS)
			wait = LOOP_MAX_WAIT_MS;
		if (!b->woken && wait > 0) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_nsec += (wait % 1000) * 1000000;
			ts.tv_sec += wait / 1000 + ts.tv_nsec / 1000000000;
			ts.tv_nsec %= 1000000000;
			pthread_cond_timedwait(&b->wake, &b->lock, &ts);
		}
		b->woken = false;
		fb_actions_clear(&acts);
		int64_t t0 = kc_now_mono_us();
		next = fb_core_tick(b->core, wall_ms(), &acts);
		int64_t t1 = kc_now_mono_us();
		samples_push(&b->ticks, t1 - t0);
		for (size_t i = 0; i < b->pending.n; i++) {
			samples_push(&b->latency, t1 - b->pending.v[i]);
			samples_push(&b->waits, t0 - b->pending.v[i]);
		}
		b->pending.n = 0;
		for (size_t i = 0; i < acts.n; i++)
			if ((size_t)acts.v[i].kind < sizeof(b->actions) / sizeof(b->actions[0]))
				b->actions[acts.v[i].kind]++;
		pthread_mutex_unlock(&b->lock);
	}
	fb_actions_release(&acts);
	return NULL;
}

typedef struct usage {
	double user_s, sys_s;
	long maxrss_kb;
} usage;

static usage get_usage(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (usage){ ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
		        ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6, ru.ru_maxrss };
}

/* Bytes the program holds in malloc (glibc mallinfo2: in-use chunks + mmapped). */
static long heap_live_kb(void)
{
	struct mallinfo2 mi = mallinfo2();
	return (long)((mi.uordblks + mi.hblkhd) / 1024);
}

/* A "VmXXX:" line of /proc/self/status in kB; -1 if absent. */
static long proc_status_kb(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return -1;
	char line[256];
	long v = -1;
	size_t n = strlen(field);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, field, n) == 0 && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

static kc_informer *informer(kc_client *c, bench *b, const kc_resource *res,
                             void *(*project)(const cJSON *, void *),
                             void (*free_obj)(void *, void *),
                             void (*on_add)(const char *, const void *, void *),
                             void (*on_update)(const char *, const void *, const void *, void *),
                             void (*on_delete)(const char *, const void *, void *))
{
	kc_informer_options o = { .project = project, .free_obj = free_obj, .on_add = on_add,
	                          .on_update = on_update, .on_delete = on_delete, .ud = b };
	o.watch.resource = res;
	kc_informer *inf = NULL;
	if (kc_informer_new(c, &o, &inf) != KC_OK || kc_informer_start(inf) != KC_OK) {
		kc_informer_free(inf);
		return NULL;
	}
	return inf;
}

static void usage_exit(void)
{
	fprintf(stderr, "usage: fb_bench --server URL --expect-events N [--settle-ms MS] "
	                "[--timeout-s S]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	fb_tune_malloc(); /* as the firebreak binary does */
	int64_t start_us = kc_now_mono_us();
	const char *server = NULL;
	long long expect = -1, settle_ms = 2000, timeout_s = 600;
	static const struct option longopts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "expect-events", required_argument, NULL, 'e' },
		{ "settle-ms", required_argument, NULL, 'w' },
		{ "timeout-s", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	for (int ch; (ch = getopt_long(argc, argv, "", longopts, NULL)) != -1;) {
		char *end;
		switch (ch) {
		case 's': server = optarg; break;
		case 'e': expect = strtoll(optarg, &end, 10); if (*end) usage_exit(); break;
		case 'w': settle_ms = strtoll(optarg, &end, 10); if (*end) usage_exit(); break;
		case 't': timeout_s = strtoll(optarg, &end, 10); if (*end) usage_exit(); break;
		default: usage_exit();
		}
	}
	if (!server || expect < 0)
		usage_exit();

	kc_config cfg = { .server = (char *)server, .namespace = "default" };
	kc_client_options copts = { .rate_limit_off = true, .request_timeout_ms = 300000,
	                            .user_agent = "fb_bench" };
	kc_client *client = NULL;
	kc_error_detail d;
	kc_detail_clear(&d);
	if (kc_client_new(&cfg, &copts, &client, &d) != KC_OK) {
		fprintf(stderr, "fb_bench: client: %s\n", d.message);
		return 1;
	}

	bench b = { 0 };
	pthread_mutex_init(&b.lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b.wake, &ca);
	fb_core_config ccfg;
	fb_core_config_defaults(&ccfg);
	b.core = fb_core_new(&ccfg);
	if (!b.core)
		return 1;
	fb_core_set_leader(b.core, true); /* as with --leader-elect=false */

	kc_informer *nodes = informer(client, &b, &KC_RES_NODES, fb_project_node, fb_node_proj_free,
	                              node_added, node_updated, node_deleted);
	kc_informer *pods = informer(client, &b, &KC_RES_PODS, fb_project_pod, fb_pod_proj_free,
	                             pod_added, pod_updated, pod_deleted);
	if (!nodes || !pods) {
		fprintf(stderr, "fb_bench: cannot start informers\n");
		return 1;
	}
	if (kc_informer_wait_synced(nodes, timeout_s * 1000, NULL) != KC_OK ||
	    kc_informer_wait_synced(pods, timeout_s * 1000, NULL) != KC_OK) {
		fprintf(stderr, "fb_bench: informers did not sync\n");
		return 1;
	}
	int64_t sync_us = kc_now_mono_us();
	usage u_sync = get_usage();
	long rss_sync = proc_status_kb("VmRSS");
	long live_sync = heap_live_kb();

	/* The run loop starts after sync, as in fb_controller_run; its first tick
	 * judges the whole initial state. */
	pthread_t loop;
	pthread_create(&loop, NULL, run_loop, &b);
	for (;;) {
		pthread_mutex_lock(&b.lock);
		bool ticked = b.ticks.n > 0;
		pthread_mutex_unlock(&b.lock);
		if (ticked)
			break;
		usleep(1000);
	}
	pthread_mutex_lock(&b.lock);
	int64_t first_tick_us = b.ticks.v[0];
	b.measuring = true;
	pthread_mutex_unlock(&b.lock);

	/* Release the burst. */
	kc_request req = { .method = "POST", .path = "/bench/go" };
	kc_response resp = { 0 };
	usage u_go = get_usage();
	int64_t go_us = kc_now_mono_us();
	if (kc_client_do(client, &req, &resp, &d) != KC_OK) {
		fprintf(stderr, "fb_bench: POST /bench/go: %s\n", d.message);
		return 1;
	}
	kc_response_release(&resp);
	while (atomic_load(&b.burst_events) < expect &&
	       kc_now_mono_us() - go_us < timeout_s * 1000000LL)
		usleep(1000);
	usage u_burst = get_usage();
	long long got = atomic_load(&b.burst_events);
	int64_t last_us = atomic_load(&b.burst_last_us);
	usleep((useconds_t)settle_ms * 1000);

	atomic_store(&b.stop, true);
	pthread_mutex_lock(&b.lock);
	pthread_cond_signal(&b.wake);
	pthread_mutex_unlock(&b.lock);
	pthread_join(loop, NULL);
	usage u_end = get_usage();
	long hwm = proc_status_kb("VmHWM"), rss_end = proc_status_kb("VmRSS");
	long live_end = heap_live_kb();
	size_t ncached_nodes = kc_informer_count(nodes), ncached_pods = kc_informer_count(pods);
	fb_core_stats cs;
	fb_core_get_stats(b.core, &cs);

	qsort(b.latency.v, b.latency.n, sizeof(int64_t), cmp_i64);
	qsort(b.waits.v, b.waits.n, sizeof(int64_t), cmp_i64);
	samples after_first = { b.ticks.v + 1, b.ticks.n - 1, 0 };
	int64_t *tick_sorted = malloc((after_first.n + 1) * sizeof(int64_t));
	samples ts = { tick_sorted, after_first.n, after_first.n };
	if (after_first.n)
		memcpy(tick_sorted, after_first.v, after_first.n * sizeof(int64_t));
	qsort(ts.v, ts.n, sizeof(int64_t), cmp_i64);
	double burst_s = (double)(last_us - go_us) / 1e6;

	printf("{\"side\":\"firebreak\",\"nodes\":%zu,\"pods\":%zu,"
	       "\"sync_wall_s\":%.3f,\"sync_cpu_s\":%.3f,\"sync_user_s\":%.3f,\"sync_sys_s\":%.3f,"
	       "\"rss_at_sync_kb\":%ld,\"heap_live_at_sync_kb\":%ld,\"heap_live_end_kb\":%ld,"
	       "\"burst_events\":%lld,\"burst_expected\":%lld,\"burst_wall_s\":%.3f,"
	       "\"events_per_s\":%.0f,\"burst_cpu_s\":%.3f,"
	       "\"hwm_kb\":%ld,\"maxrss_kb\":%ld,\"rss_end_kb\":%ld,"
	       "\"lat_n\":%zu,\"lat_p50_us\":%lld,\"lat_p99_us\":%lld,\"lat_max_us\":%lld,"
	       "\"wait_p50_us\":%lld,\"wait_p99_us\":%lld,\"first_tick_us\":%lld,\"ticks\":%zu,\"tick_p50_us\":%lld,\"tick_p99_us\":%lld,"
	       "\"tick_max_us\":%lld,\"total_cpu_s\":%.3f,"
	       "\"actions\":{\"evict\":%zu,\"delete\":%zu,\"event\":%zu,\"taint\":%zu,"
	       "\"annotate\":%zu,\"quarantine\":%zu},"
	       "\"core\":{\"nodes\":%zu,\"pods\":%zu,\"failed_nodes\":%zu,\"admitted_nodes\":%zu,"
	       "\"suspects\":%zu,\"quarantines\":%zu}}\n",
	       ncached_nodes, ncached_pods, (double)(sync_us - start_us) / 1e6,
	       u_sync.user_s + u_sync.sys_s, u_sync.user_s, u_sync.sys_s, rss_sync, live_sync,
	       live_end, got, expect,
	       burst_s, burst_s > 0 ? (double)got / burst_s : 0.0,
	       (u_burst.user_s + u_burst.sys_s) - (u_go.user_s + u_go.sys_s), hwm,
	       u_end.maxrss_kb, rss_end, b.latency.n, (long long)pct(&b.latency, 50),
	       (long long)pct(&b.latency, 99), (long long)pct(&b.latency, 100),
	       (long long)pct(&b.waits, 50), (long long)pct(&b.waits, 99),
	       (long long)first_tick_us, ts.n, (long long)pct(&ts, 50), (long long)pct(&ts, 99),
	       (long long)pct(&ts, 100), u_end.user_s + u_end.sys_s,
	       b.actions[FB_ACT_EVICT], b.actions[FB_ACT_DELETE], b.actions[FB_ACT_EVENT],
	       b.actions[FB_ACT_TAINT], b.actions[FB_ACT_NODE_ANNOTATE],
	       b.actions[FB_ACT_QUARANTINE], cs.nodes, cs.pods, cs.failed_nodes,
	       cs.admitted_nodes, cs.suspects, cs.quarantines_active);
	fflush(stdout);
	free(tick_sorted);

	kc_informer_free(pods);
	kc_informer_free(nodes);
	fb_core_free(b.core);
	kc_client_free(client);
	kc_free(b.pending.v);
	kc_free(b.latency.v);
	kc_free(b.waits.v);
	kc_free(b.ticks.v);
	return got >= expect ? 0 : 1;
}
