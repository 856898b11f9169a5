/*
 * firebreak-node: the node agent (issue 16). So far its diagnosis, offline and
 * on a live node:
 *
 *   firebreak-node analyze --root DIR [--device PREFIX]...
 *   firebreak-node watch --root DIR [--interval SECONDS] [--samples N] [--device PREFIX]...
 *                        [--node NAME [--kubeconfig FILE] [--metrics-addr ADDR]
 *                        [--heartbeat SECONDS] [--print]
 *                        [--act [--act-node-selector K=V,...] [--act-max-kills N]
 *                         [--act-period SECONDS] [--act-protect-namespace NS]...
 *                         [--act-state FILE]]]
 *
 * reads DIR/proc/meminfo, DIR/proc/pressure/memory, DIR/proc/vmstat,
 * DIR/proc/slabinfo, the pods' cgroup usage under DIR/sys/fs/cgroup (v1 or v2,
 * either cgroup driver) and the processes under DIR/proc holding a GPU device
 * open (a descriptor linking to a path that starts with a PREFIX; the default
 * /dev/nvidia, /dev/dri/, /dev/kfd, /dev/accel/), any of them may be missing
 * (--root / reads this machine), and prints the analysis (node/analysis/fbn.h)
 * as JSON: the memory no /proc/meminfo category accounts for and what no pod
 * is charged for, thrashing, the largest and the suspect slab caches, the
 * pods holding a GPU, the flags, and the pod the memory is laid at. watch
 * samples every --interval seconds (default 5; N samples, default until
 * killed) and prints one report a line, with what successive samples say
 * (fbn_trend: fault and refault rates, the unaccounted memory's growth); it
 * looks at the processes only when fbn_trend says so.
 *
 * With --node, watch reports to the cluster instead of printing (--print prints
 * too): node NAME's UnaccountedMemory condition, an Event when it turns, and
 * Prometheus metrics on --metrics-addr (node/agent/report.h). The cluster is
 * reached in-cluster (the DaemonSet's service account), or with --kubeconfig /
 * $KUBECONFIG. With --act (and a node whose labels match --act-node-selector) it
 * kills the pod the memory is laid at when the node is about to thrash
 * (fbn_act_decide: never on a guess, never a DaemonSet's, static, critical or
 * protected pod, at most --act-max-kills, default 3, per --act-period, default
 * 3600 s, counted across restarts in --act-state FILE; it starts disarmed, as
 * after a kill). SIGTERM and SIGINT end the watch after
 * the sample under way, take the condition back (fbn_reporter_withdraw) and flush
 * the Events.
 *
 *   firebreak-node stop-daemonset --namespace NS --daemonset NAME [--timeout S]
 *
 * is the chart's uninstall hook (fbn_stop_daemonset). Exit status 0 when it ran to its end
 * or was stopped, 1 when the cluster could not be reached, 2 on a usage error.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fbn.h"
#include "fbn_io.h"
#include "kc/alloc.h"
#include "log.h"
#include "report.h"

#define DEVICE_PREFIXES_MAX 16

static void usage(FILE *f)
{
	fprintf(f, "usage: firebreak-node analyze --root DIR [--device PREFIX]...\n"
	           "       firebreak-node watch --root DIR [--interval SECONDS] [--samples N]\n"
	           "                            [--device PREFIX]... [--node NAME [--kubeconfig FILE]\n"
	           "                            [--metrics-addr ADDR] [--heartbeat SECONDS] [--print]\n"
	           "                            [--act [--act-node-selector K=V,...] [--act-max-kills N]\n"
	           "                             [--act-period SECONDS] [--act-protect-namespace NS]...\n"
	           "                             [--act-state FILE]]]\n"
	           "       firebreak-node stop-daemonset --namespace NS --daemonset NAME [--timeout S]\n"
	           "                            [--kubeconfig FILE]\n"
	           "  Reads DIR/proc/{meminfo,pressure/memory,vmstat,slabinfo}, the pods' cgroup\n"
	           "  usage under DIR/sys/fs/cgroup and the processes under DIR/proc holding a\n"
	           "  device whose path starts with a PREFIX open (default: /dev/nvidia, /dev/dri/,\n"
	           "  /dev/kfd, /dev/accel/); any may be missing. Prints its verdict as JSON;\n"
	           "  watch prints one a line every interval (default 5 s), with rates and growth;\n"
	           "  with --node it writes node NAME's UnaccountedMemory condition (every change,\n"
	           "  and every --heartbeat, default 60 s), Events, and metrics on ADDR; with --act it\n"
	           "  kills the pod the memory is laid at when the node is about to thrash.\n"
	           "  stop-daemonset (the chart's uninstall hook) deletes the agents' DaemonSet and\n"
	           "  waits until every agent has stopped (and taken its condition back).\n");
}

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The last look at the processes (fbn_scan_holders), kept between looks. */
static fbn_holders holders;
static bool looked;

static void look_at_processes(const char *root, const char *const *devices)
{
	fbn_scan_holders(root, devices, &holders);
	looked = true;
}

/* Judge the files read into r, with the last look's holders if there was one. */
static void judge(fbn_files *f, fbn_report *r)
{
	f->in.holders = looked ? &holders : NULL;
	fbn_thresholds t;
	fbn_thresholds_default(&t);
	fbn_analyze(&f->in, &t, r);
}

/* Print j (freed) on one line (compact) or indented; false on ENOMEM. */
static bool print_json(cJSON *j, bool compact)
{
	char *text = j ? (compact ? cJSON_PrintUnformatted(j) : cJSON_Print(j)) : NULL;
	cJSON_Delete(j);
	if (!text) {
		fprintf(stderr, "firebreak-node: out of memory\n");
		return false;
	}
	printf("%s\n", text);
	fflush(stdout);
	cJSON_free(text);
	return true;
}

static int analyze(const char *root, const char *const *devices)
{
	static fbn_report r;
	fbn_files f;
	fbn_files_read(root, &f);
	look_at_processes(root, devices);
	judge(&f, &r);
	fbn_files_release(&f);
	return print_json(fbn_report_json(&r), false) ? 0 : 1;
}

/* Act mode (fbn_act_decide): on, its settings, and its state across samples. */
typedef struct act_mode {
	bool on;
	fbn_act_config config;
	fbn_act_state state;
	const char *protect[DEVICE_PREFIXES_MAX + 1]; /* namespaces besides kube-system */
	const char *const *devices;   /* the GPU device prefixes (NULL: the default) */
	const char *state_file;       /* where the kill times outlive the agent (NULL: nowhere) */
	int64_t next_lookup_ms;       /* a pod not found, or the API not answering: not before */
} act_mode;

#define LOOKUP_RETRY_MS 30000     /* after a lookup that found nothing or failed */
#define LOOKUP_STALE_MS 2000      /* a lookup slower than this: the sample is too old to act on */

/* Load the kill times kept in a->state_file (missing: none). */
static void act_load(act_mode *a)
{
	if (!a->state_file)
		return;
	FILE *f = fopen(a->state_file, "r");
	if (!f)
		return;
	char buf[FBN_ACT_KILLS_MAX * 24 + 1];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	fbn_act_state_load(&a->state, buf, n);
	fb_log(FB_INFO, "act mode: kill times loaded", "file=%s kills=%zu", a->state_file,
	       a->state.nkills);
}

/* Write the kill times to a->state_file, whole (a temporary file renamed over it). */
static void act_save(act_mode *a)
{
	if (!a->state_file)
		return;
	char *text = fbn_act_state_text(&a->state);
	char tmp[4200];
	bool ok = text && snprintf(tmp, sizeof(tmp), "%s.tmp", a->state_file) < (int)sizeof(tmp);
	FILE *f = ok ? fopen(tmp, "w") : NULL;
	ok = f && fputs(text, f) >= 0;
	if (f && fclose(f) != 0)
		ok = false;
	if (ok && rename(tmp, a->state_file) != 0)
		ok = false;
	if (!ok)
		fb_log(FB_ERROR, "act mode: cannot keep the kill times; the limit holds until a restart",
		       "file=%s", a->state_file);
	free(text);
}

/* One sample's act: decide, look the pod up, decide again, kill, report. */
static void act(act_mode *a, const char *root, fbn_reporter *rp, const fbn_report *r, int64_t now)
{
	char why[768], fail_why[256] = "";
	fbn_pod_facts facts;
	const fbn_pod_facts *fp = NULL;
	fbn_act_verdict v = fbn_act_decide(&a->config, &a->state, r, NULL, now, why, sizeof(why));
	if (v == FBN_ACT_NONE)
		return;
	const char *uid = r->holders.v[r->suspect].pod_uid;
	if (v == FBN_ACT_LOOK_UP) {
		if (now < a->next_lookup_ms)
			return;
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		bool asked = fbn_reporter_pod_facts(rp, uid, a->protect, &facts);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		int64_t took = (int64_t)(t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
		if (!asked || !facts.known) {
			fb_log(FB_WARN, "not killed: the pod could not be confirmed on this node (never on a "
			       "guess)", "pod=%s asked_again_in_s=%d", uid, LOOKUP_RETRY_MS / 1000);
			a->next_lookup_ms = now + LOOKUP_RETRY_MS;
			return;
		}
		if (took > LOOKUP_STALE_MS) {
			/* the memory and the stall were read before a slow API answer: decide again on
			 * the next sample's */
			fb_log(FB_WARN, "not killed yet: the pod's lookup was slow, the sample is stale",
			       "pod=%s lookup_ms=%lld", uid, (long long)took);
			return;
		}
		fp = &facts;
		v = fbn_act_decide(&a->config, &a->state, r, fp, now, why, sizeof(why));
	}
	size_t killed = 0, found = 0;
	if (v == FBN_ACT_KILL)
		killed = fbn_kill_pod(root, uid, a->devices, &found, fail_why, sizeof(fail_why));
	fbn_reporter_acted(rp, v, uid, fp, why, killed, found, fail_why);
	/* a kill that signalled nothing disarms as a refusal does: no retry in a loop */
	fbn_act_done(&a->state, v == FBN_ACT_KILL && !killed ? FBN_ACT_REFUSE : v, now);
	if (v == FBN_ACT_KILL && killed)
		act_save(a);
}

static int watch(const char *root, const char *const *devices, double interval_s, long samples,
                 fbn_reporter *rp, bool print, act_mode *am)
{
	fbn_trend_config c;
	fbn_trend_config_default(&c);
	static fbn_trend t;
	fbn_trend_init(&t);
	fbn_arrival_config arrival;
	fbn_arrival_config_default(&arrival);
	static fbn_report r;
	for (long i = 0; !stopping && (samples <= 0 || i < samples); i++) {
		if (i > 0) {
			struct timespec ts = { (time_t)interval_s,
				               (long)((interval_s - (double)(time_t)interval_s) * 1e9) };
			while (nanosleep(&ts, &ts) != 0 && !stopping)
				;
			if (stopping)
				break;
		}
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		int64_t now = wall_ms();
		/* the memory first, to know whether the processes are worth the look; judged
		 * again with them only if they were looked at (the files are not read twice) */
		fbn_files f;
		fbn_files_read(root, &f);
		judge(&f, &r);
		bool scan = fbn_trend_scan_due(&t, &c, now, r.unaccounted_known, r.unaccounted_kb);
		if (scan) {
			look_at_processes(root, devices);
			judge(&f, &r);
		}
		fbn_files_release(&f);
		fbn_trend_update(&t, &c, now, &r, scan);
		/* several GPU pods: the one the growth followed (needs the day's history) */
		size_t ulen;
		char *up = fbn_read_capped(root, "proc/uptime", &ulen);
		int64_t uptime_ms;
		if (up && fbn_uptime_ms(up, ulen, &uptime_ms))
			fbn_attribute_by_arrival(&r, &t, &arrival, now, uptime_ms, sysconf(_SC_CLK_TCK));
		free(up);
		if (rp) {
			clock_gettime(CLOCK_MONOTONIC, &t1);
			/* act first: the report's API write may wait on the API server, the act must not */
			if (am && am->on)
				act(am, root, rp, &r, now);
			fbn_reporter_sample(rp, &r, &t, now,
			                    (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
		}
		if (!print)
			continue;
		cJSON *j = fbn_report_json(&r);
		cJSON *tr = j ? cJSON_AddObjectToObject(j, "trend") : NULL;
		if (tr && (!cJSON_AddNumberToObject(tr, "timeMs", (double)now) ||
		           !cJSON_AddBoolToObject(tr, "processesLookedAt", scan) ||
		           (t.have_rates &&
		            (!cJSON_AddNumberToObject(tr, "majorFaultsPerSecond", t.majfault_per_s) ||
		             !cJSON_AddNumberToObject(tr, "refaultsPerSecond", t.refault_per_s))) ||
		           (t.have_growth &&
		            !cJSON_AddNumberToObject(tr, "unaccountedGrowthBytesPerMinute",
		                                     t.growth_kb_per_min * 1024))))
			tr = NULL;
		if (!tr) {
			cJSON_Delete(j);
			j = NULL;
		}
		if (!print_json(j, true))
			return 1;
	}
	return 0;
}

/* firebreak-node stop-daemonset --namespace NS --daemonset NAME [--timeout SECONDS]
 * [--kubeconfig FILE]: the chart's uninstall hook (fbn_stop_daemonset). */
static int stop_daemonset(int argc, char **argv)
{
	const char *ns = NULL, *name = NULL, *kubeconfig = NULL;
	double timeout = 120;
	for (int i = 2; i < argc; i++) {
		char *end = NULL;
		bool value = i + 1 < argc && argv[i + 1][0];
		if (!strcmp(argv[i], "--namespace") && value) {
			ns = argv[++i];
		} else if (!strcmp(argv[i], "--daemonset") && value) {
			name = argv[++i];
		} else if (!strcmp(argv[i], "--kubeconfig") && value) {
			kubeconfig = argv[++i];
		} else if (!strcmp(argv[i], "--timeout") && value &&
		           (timeout = strtod(argv[i + 1], &end)) >= 1 && timeout <= 3600 && end && !*end) {
			i++;
		} else {
			fprintf(stderr, "firebreak-node: unexpected argument %s\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (!ns || !name) {
		usage(stderr);
		return 2;
	}
	if (kc_global_init() != 0) {
		fprintf(stderr, "firebreak-node: cannot initialise libcurl\n");
		return 1;
	}
	int rc = fbn_stop_daemonset(kubeconfig, ns, name, (int64_t)(timeout * 1000));
	kc_global_cleanup();
	return rc;
}

static int run(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	const char *root = NULL, *node = NULL, *kubeconfig = NULL, *metrics_addr = NULL;
	const char *devices[DEVICE_PREFIXES_MAX + 1] = { 0 };
	size_t ndevices = 0;
	double interval = 5, heartbeat = 60, act_period = 3600;
	long samples = 0;
	bool print = false;
	static act_mode am;
	fbn_act_config_default(&am.config);
	fbn_act_state_init(&am.state);
	size_t nprotect = 0;
	const char *act_selector = NULL;
	long max_kills = am.config.max_kills;
	if (argc >= 2 && !strcmp(argv[1], "stop-daemonset"))
		return stop_daemonset(argc, argv);
	bool watching = argc >= 2 && !strcmp(argv[1], "watch");
	if (argc < 2 || (strcmp(argv[1], "analyze") != 0 && !watching)) {
		usage(stderr);
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		char *end = NULL;
		bool value = i + 1 < argc && argv[i + 1][0];
		if (!strcmp(argv[i], "--root") && value) {
			root = argv[++i];
		} else if (watching && !strcmp(argv[i], "--interval") && value &&
		           (interval = strtod(argv[i + 1], &end)) >= 0.01 && interval <= 3600 &&
		           end && !*end) {
			i++;
		} else if (watching && !strcmp(argv[i], "--samples") && value &&
		           (samples = strtol(argv[i + 1], &end, 10)) > 0 && end && !*end) {
			i++;
		} else if (!strcmp(argv[i], "--device") && value && ndevices < DEVICE_PREFIXES_MAX) {
			devices[ndevices++] = argv[++i];
		} else if (watching && !strcmp(argv[i], "--node") && value) {
			node = argv[++i];
		} else if (watching && !strcmp(argv[i], "--kubeconfig") && value) {
			kubeconfig = argv[++i];
		} else if (watching && !strcmp(argv[i], "--metrics-addr") && value) {
			metrics_addr = argv[++i];
		} else if (watching && !strcmp(argv[i], "--heartbeat") && value &&
		           (heartbeat = strtod(argv[i + 1], &end)) >= 1 && heartbeat <= 3600 &&
		           end && !*end) {
			i++;
		} else if (watching && !strcmp(argv[i], "--print")) {
			print = true;
		} else if (watching && !strcmp(argv[i], "--act")) {
			am.on = true;
		} else if (watching && !strcmp(argv[i], "--act-state") && value) {
			am.state_file = argv[++i];
		} else if (watching && !strcmp(argv[i], "--act-node-selector") && i + 1 < argc) {
			act_selector = argv[++i];
		} else if (watching && !strcmp(argv[i], "--act-max-kills") && value &&
		           (max_kills = strtol(argv[i + 1], &end, 10)) >= 1 && max_kills <= FBN_ACT_KILLS_MAX &&
		           end && !*end) {
			i++;
		} else if (watching && !strcmp(argv[i], "--act-period") && value &&
		           (act_period = strtod(argv[i + 1], &end)) >= 1 && act_period <= 7 * 86400 &&
		           end && !*end) {
			i++;
		} else if (watching && !strcmp(argv[i], "--act-protect-namespace") && value &&
		           nprotect < DEVICE_PREFIXES_MAX) {
			am.protect[nprotect++] = argv[++i];
		} else {
			fprintf(stderr, "firebreak-node: unexpected argument %s\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (!root || ((kubeconfig || metrics_addr || am.on) && !node)) {
		if (root)
			fprintf(stderr, "firebreak-node: --kubeconfig, --metrics-addr and --act need --node\n");
		usage(stderr);
		return 2;
	}
	const char *const *dev = ndevices ? devices : NULL;
	am.devices = dev;
	if (!watching)
		return analyze(root, dev);
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (!node)
		return watch(root, dev, interval, samples, NULL, true, NULL);
	if (kc_global_init() != 0) {
		fprintf(stderr, "firebreak-node: cannot initialise libcurl\n");
		return 1;
	}
	fbn_reporter_options ro = { .node = node, .kubeconfig = kubeconfig,
		                    .metrics_addr = metrics_addr,
		                    .heartbeat_ms = (int64_t)(heartbeat * 1000) };
	fbn_reporter *rp = fbn_reporter_new(&ro);
	am.config.max_kills = (int)max_kills;
	am.config.period_ms = (int64_t)(act_period * 1000);
	if (rp && am.on && !fbn_reporter_node_matches(rp, act_selector)) {
		fb_log(FB_INFO, "act mode off on this node: its labels do not match", "selector=%s",
		       act_selector);
		am.on = false;
	} else if (rp && am.on) {
		act_load(&am);
		fb_log(FB_INFO, "act mode on", "max_kills=%d period_s=%.0f selector=%s", am.config.max_kills,
		       act_period, act_selector ? act_selector : "");
	}
	int rc = rp ? watch(root, dev, interval, samples, rp, print, &am) : 1;
	if (stopping) {
		fb_log(FB_INFO, "signal received, stopping", "node=%s", node);
		fbn_reporter_withdraw(rp);
	}
	fbn_reporter_free(rp);
	kc_global_cleanup();
	return rc;
}

int main(int argc, char **argv)
{
	/* --flag=value is --flag value (the chart's DaemonSet writes its arguments so) */
	char **args = calloc((size_t)argc * 2 + 1, sizeof(*args));
	if (!args) {
		fprintf(stderr, "firebreak-node: out of memory\n");
		return 1;
	}
	int nargs = 0;
	for (int i = 0; i < argc; i++) {
		char *eq = i >= 2 && strncmp(argv[i], "--", 2) == 0 ? strchr(argv[i], '=') : NULL;
		args[nargs++] = argv[i];
		if (eq) {
			*eq = '\0';
			args[nargs++] = eq + 1;
		}
	}
	int rc = run(nargs, args);
	free(args);
	return rc;
}
