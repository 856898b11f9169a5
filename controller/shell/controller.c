/*
 * controller.c - set-up, leadership, teardown and the run loop of the shell
 * around the core. The informer adapters are in informers.c, the writes in
 * executor.c, metrics and health in telemetry.c (controller_int.h).
 */
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "controller_int.h"
#include "kc/alloc.h"
#include "log.h"

const kc_resource FB_RES_EVICTIONBUDGETS = { "firebreak.dev", "v1alpha1", "evictionbudgets",
	                                     "EvictionBudget", false };
const kc_resource FB_RES_QUARANTINES = { "firebreak.dev", "v1alpha1", "quarantines", "Quarantine",
	                                 true };

#define FB_CONTROLLER_NAME "firebreak.dev/firebreak"
#define LOOP_MAX_WAIT_MS 250

void fb_tune_malloc(void)
{
	const char *off = getenv("FB_MALLOC_TUNE");
	if (off && strcmp(off, "0") == 0)
		return; /* for measuring the difference (bench/run.sh) */
	/* Fastbins make malloc_consolidate the top cost of parse-and-free, and
	 * per-thread arenas keep each informer's freed pages. Measured with
	 * bench/run.sh --small (docs/benchmarks.md): -30 % sync CPU, -23 % peak RSS. */
	mallopt(M_MXFAST, 0);
	mallopt(M_ARENA_MAX, 1);
}

void fb_controller_options_defaults(fb_controller_options *o)
{
	memset(o, 0, sizeof(*o));
	o->leader_elect = true;
	o->lease_name = "firebreak";
	fb_core_config_defaults(&o->core);
	o->sync_timeout_ms = 5 * 60 * 1000;
	o->webhook_addr = ":9443";
	o->webhook_secret = "firebreak-webhook-tls";
	o->webhook_config = "firebreak";
	o->webhook_service = "firebreak-webhook";
	o->webhook_certs = FB_CERTS_SELF;
	o->default_toleration_s = FB_DEFAULT_TOLERATION_S;
}

void fb__poke(fb_controller *c)
{
	if (!c->woken)
		c->pending_since_us = kc_now_mono_us();
	c->woken = true;
	pthread_cond_signal(&c->wake);
}

/* ---- leadership ------------------------------------------------------------------ */

/*
 * Whether this replica may act is held in one place, c->leading, and written
 * only by set_leading: from the leader callbacks, and once at start when there
 * is no election. The core's leader flag (fb_core_set_leader) is derived from
 * it there and nowhere else, so the two cannot disagree for longer than the
 * lock is held between the two stores.
 *
 * Losing the lease clears c->leading before anything else, so no write starts
 * from then on; writes already under way finish. Gaining it sets c->leading
 * first and then lets the core re-judge everything (fb_core_set_leader); wake
 * says whether the run loop should turn at once (it should on a gain).
 */
static void set_leading(fb_controller *c, bool leading, bool wake)
{
	atomic_store(&c->leading, leading);
	pthread_mutex_lock(&c->lock);
	fb_core_set_leader(c->core, leading);
	if (wake)
		fb__poke(c);
	pthread_mutex_unlock(&c->lock);
}

/*
 * c->leading, guarded by the lease's own clock: kc_leader_is_leader turns
 * false as soon as the lease is past its renew deadline, even if the
 * stopped_leading callback has not run yet (the leader thread may be blocked
 * in a request). That is not a second state, only a check that the one flag
 * is not stale.
 */
bool fb__may_write(const fb_controller *c)
{
	if (!atomic_load(&c->leading))
		return false;
	return !c->leader || kc_leader_is_leader(c->leader);
}

static void started_leading(void *ud)
{
	fb_log(FB_INFO, "became leader", NULL);
	set_leading(ud, true, true);
}

static void stopped_leading(void *ud)
{
	set_leading(ud, false, false); /* first, so that no write starts from here on */
	fb_log(FB_WARN, "lost leadership; stopped all writes", NULL);
}

static void new_leader(void *ud, const char *identity)
{
	fb_log(FB_INFO, "leader observed", "leader=%s", identity[0] ? identity : "(none)");
}

/* ---- the webhook's certificates ---------------------------------------------------- */

static bool webhook_certs_may_write(void *ud)
{
	return fb__may_write(ud);
}

/* A new serving certificate from the Secret: the webhook serves it from the next handshake. */
static void webhook_cert_loaded(void *ud, const char *cert, size_t cert_len, const char *key,
                                size_t key_len)
{
	fb_controller *c = ud;
	fb_cert_summary s;
	char na[KC_TIME_STR_MAX];
	if (fb_webhook_set_cert(c->webhook, cert, cert_len, key, key_len) != 0)
		return; /* logged; the certificate served before stays */
	if (fb_cert_pem_summary(cert, cert_len, &s) == 0)
		fb_log(FB_INFO, "webhook certificate loaded", "serial=%s notAfter=%s port=%d", s.serial,
		       kc_time_format(s.not_after_ms * 1000, na), fb_webhook_port(c->webhook));
}

/*
 * The webhook's question, asked on its own thread: the core answers from
 * what this replica observed, leader or not. Until the caches have synced
 * nothing is known, and the pod is admitted as it is (it is found later if
 * it should have been gated: an escape).
 */
static bool webhook_gate(void *ud, const fb_workload_ref *w, char quarantine[FB_NAME_MAX])
{
	fb_controller *c = ud;
	if (!atomic_load(&c->synced))
		return false;
	pthread_mutex_lock(&c->lock);
	bool gate = fb_core_gate(c->core, w, quarantine);
	pthread_mutex_unlock(&c->lock);
	return gate;
}

/*
 * The core's config, with the namespaces the webhook is never called for:
 * firebreak's own and --webhook-exclude-namespaces (kube-system and
 * kube-node-lease are the core's defaults).
 */
static void core_config(const fb_controller_options *o, const char *own_ns, fb_core_config *cc)
{
	*cc = o->core;
	if (own_ns && own_ns[0] && fb_core_config_gate_exempt(cc, own_ns) != 0)
		fb_log(FB_WARN, "namespace not exempt from escapes", "namespace=%s", own_ns);
	const char *p = o->webhook_exclude_ns ? o->webhook_exclude_ns : "";
	while (*p) {
		size_t n = strcspn(p, ",");
		char ns[FB_NS_MAX];
		if (n > 0 && n < sizeof(ns)) {
			memcpy(ns, p, n);
			ns[n] = '\0';
			if (fb_core_config_gate_exempt(cc, ns) != 0)
				fb_log(FB_WARN, "namespace not exempt from escapes", "namespace=%s", ns);
		}
		p += n + (p[n] == ',');
	}
}

/* Watch (and in self mode, manage) the webhook's certificates. -1, logged, if it cannot. */
static int start_webhook_certs(fb_controller *c, const char *own_ns)
{
	const fb_controller_options *o = c->opts;
	char why[256];
	c->webhook = fb_webhook_new(o->webhook_addr, webhook_gate, c);
	if (c->webhook && c->managed && !o->core.dry_run) /* dry run changes no pod */
		fb_webhook_set_managed(c->webhook, o->default_toleration_s);
	if (!c->webhook)
		return -1; /* logged */
	fb_webhookcerts_options wo = {
		.namespace = own_ns,
		.secret = o->webhook_secret, .mode = o->webhook_certs,
		.sink = webhook_cert_loaded, .sink_ud = c,
		.webhook_config = o->webhook_config, .service = o->webhook_service,
		.extra_sans = o->webhook_sans, .is_leader = webhook_certs_may_write, .leader_ud = c,
	};
	kc_err err = fb_webhookcerts_start(c->client, &wo, &c->webhook_certs, why, sizeof(why));
	if (err != KC_OK) {
		fb_log_api_error(FB_ERROR, "cannot start the webhook's certificates", err, why, NULL);
		return -1;
	}
	fb_log(FB_INFO, "webhook certificates", "mode=%s secret=%s/%s webhook_config=%s",
	       fb_certs_mode_name(o->webhook_certs), wo.namespace, wo.secret,
	       o->webhook_certs == FB_CERTS_SELF ? wo.webhook_config : "(external)");
	return 0;
}

/* ---- set-up and the loop ----------------------------------------------------------- */

static void make_identity(char *buf, size_t cap)
{
	char host[128] = "firebreak";
	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	unsigned long long r = (unsigned long long)(kc_rand01() * 1e15);
	snprintf(buf, cap, "%s_%llx", host, r);
}

static void report_sync(fb_controller *c)
{
	fb_core_stats st;
	pthread_mutex_lock(&c->lock);
	fb_core_get_stats(c->core, &st);
	pthread_mutex_unlock(&c->lock);
	fb_log(FB_INFO, "informers synced", "nodes=%zu pods=%zu budgets=%zu quarantines=%zu",
	       kc_informer_count(fb__informer(c, FB_INF_NODES)),
	       kc_informer_count(fb__informer(c, FB_INF_PODS)),
	       c->budgets_available ? kc_informer_count(fb__informer(c, FB_INF_BUDGETS)) : 0,
	       c->quarantines_available ? kc_informer_count(fb__informer(c, FB_INF_QUARANTINES))
	                                : 0);
}

static void teardown(fb_controller *c)
{
	fb_http_stop(c->http);
	fb_webhookcerts_free(c->webhook_certs); /* first: its worker asks fb__may_write */
	fb_webhook_free(c->webhook);            /* before the core its gate asks */
	if (c->leader)
		kc_leader_stop(c->leader);
	for (int i = FB_NUM_INFORMERS - 1; i >= 0; i--)
		kc_informer_stop(c->watched[i].inf);
	if (c->recorder)
		kc_recorder_stop(c->recorder, 3000);
	kc_leader_free(c->leader);
	kc_recorder_free(c->recorder);
	for (int i = FB_NUM_INFORMERS - 1; i >= 0; i--)
		kc_informer_free(c->watched[i].inf);
	fb_core_free(c->core);
	kc_client_free(c->client);
	fb_metrics_free(c->metrics);
	pthread_cond_destroy(&c->wake);
	pthread_mutex_destroy(&c->lock);
}

int fb_controller_run(const fb_controller_options *o, kc_cancel *stop)
{
	fb_controller c = { .opts = o };
	pthread_mutex_init(&c.lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c.wake, &ca);
	pthread_condattr_destroy(&ca);
	int rc = 1;

	kc_config *cfg = NULL;
	kc_error_detail d;
	kc_detail_clear(&d);
	kc_err err = kc_config_load_default(o->kubeconfig, o->context, &cfg, &d);
	if (err != KC_OK) {
		fb_log_api_error(FB_ERROR, "cannot load cluster configuration", err, d.message, NULL);
		goto out;
	}
	if (fb__metrics_setup(&c) != 0)
		goto out;
	kc_client_options copts = o->client;
	copts.on_request = fb__count_request;
	copts.on_request_ud = &c;
	/* k8sclient names no application: the user agent is ours to give */
	char *user_agent = copts.user_agent ? NULL : kc_user_agent_new("firebreak", FB_VERSION);
	if (user_agent)
		copts.user_agent = user_agent;
	err = kc_client_new(cfg, &copts, &c.client, &d);
	kc_free(user_agent);
	if (err != KC_OK) {
		fb_log_api_error(FB_ERROR, "cannot create API client", err, d.message, NULL);
		kc_config_free(cfg);
		goto out;
	}
	fb_log(FB_INFO, "connecting", "server=%s in_cluster=%s namespace=%s", cfg->server,
	       cfg->in_cluster ? "true" : "false", kc_client_namespace(c.client));
	kc_config_free(cfg);
	char ns_buf[FB_NS_MAX];
	const char *own_ns = fb_own_namespace(o->namespace, FB_INCLUSTER_NAMESPACE_FILE,
	                                      kc_client_namespace(c.client), ns_buf, sizeof(ns_buf));
	/* firebreak's namespace is known (the flag, or in-cluster) or only guessed (the
	 * kubeconfig context's): a guess exempts no namespace from escapes */
	bool own_known = own_ns != kc_client_namespace(c.client);
	fb_core_config cc;
	core_config(o, own_known ? own_ns : NULL, &cc);
	bool webhook_on = o->webhook_addr && o->webhook_addr[0] && !o->exit_after_sync;
	bool elect = o->leader_elect;
	if (o->restore_only) {
		cc.managed = false; /* every pod with firebreak's record gets its seconds back */
		cc.dry_run = false; /* even so (only the restores are carried out: fb__execute) */
		webhook_on = elect = false;
		if (o->stop_deployment && o->stop_deployment[0] &&
		    fb__stop_deployment(&c, own_ns, o->stop_deployment, stop) != 0)
			goto out;
	}
	if (cc.managed)
		fb_log(FB_INFO, "managed mode: Kubernetes' taint-eviction controller stays on; new pods' "
		       "not-ready/unreachable tolerations are covered by the webhook, older ones adopted",
		       "adopt_per_s=%g default_toleration_s=%lld webhook=%s", cc.adopt_per_s,
		       (long long)o->default_toleration_s, webhook_on ? "on" : "OFF");
	if (cc.managed && cc.dry_run)
		fb_log(FB_WARN, "managed mode in dry run: no pod is covered, and pods covered before "
		       "get their seconds back; Kubernetes keeps evicting them; firebreak reports what "
		       "it would do as if every pod were covered", NULL);
	else if (cc.managed && !webhook_on)
		fb_log(FB_WARN, "managed mode without the webhook: every new pod is left to Kubernetes "
		       "until firebreak adopts it", NULL);
	if (cc.verdict == FB_VERDICT_SURPRISE)
		fb_log(FB_INFO, "poison verdict: surprise (quarantine when a workload's failed nodes "
		       "are too many for its exposure at the cluster's own failure rate)",
		       "false_alarms_per_year=%g prior_failures_per_node_day=%g background_period_h=%lld "
		       "memory_pressure_evidence=%s", cc.false_alarms_per_year,
		       cc.prior_failures_per_node_day, (long long)(cc.background_period_ms / 3600000),
		       cc.memory_pressure_evidence ? "true" : "false");
	else
		fb_log(FB_INFO, "poison verdict: ratio (failures and the healthy-arrival ratio)",
		       "ratio=%g", cc.poison_ratio);
	c.core = fb_core_new(&cc);
	if (!c.core)
		goto out;
	c.managed = cc.managed;
	/* in dry run covered pods are given back (managed.c), as with the mode off */
	c.pod_opts = (fb_pod_project_opts){ .managed = cc.managed && !cc.dry_run,
	                                    .default_s = o->default_toleration_s };
	fb_core_set_quarantines_synced(c.core, false); /* until the informer says so */
	if (webhook_on && start_webhook_certs(&c, own_ns) != 0)
		goto out;
	atomic_store(&c.loop_mono_ms, kc_now_mono_ms());
	if (o->metrics_addr && o->metrics_addr[0]) {
		c.http = fb_http_start(o->metrics_addr, fb__serve, &c);
		if (!c.http) {
			fb_log(FB_ERROR, "cannot serve metrics and health", "addr=%s", o->metrics_addr);
			goto out;
		}
		fb_log(FB_INFO, "serving /metrics /healthz /readyz", "addr=%s port=%d",
		       o->metrics_addr, fb_http_port(c.http));
	}
	/* Followers decide nothing: the core waits for leadership when electing. */
	set_leading(&c, !elect, false);

	if (fb__informers_start(&c) != KC_OK) {
		fb_log(FB_ERROR, "cannot start informers", NULL);
		goto out;
	}
	int64_t timeout = o->sync_timeout_ms > 0 ? o->sync_timeout_ms : 5 * 60 * 1000;
	if (kc_informer_wait_synced(fb__informer(&c, FB_INF_NODES), timeout, stop) != KC_OK ||
	    kc_informer_wait_synced(fb__informer(&c, FB_INF_PODS), timeout, stop) != KC_OK) {
		if (!kc_cancel_fired(stop)) {
			kc_reflector_stats st;
			kc_informer_stats(fb__informer(&c, FB_INF_NODES), &st);
			fb_log_api_error(FB_ERROR, "caches did not sync", st.last_err,
			                 st.last_err_message, "timeout_ms=%lld", (long long)timeout);
		}
		rc = kc_cancel_fired(stop) ? 0 : 1;
		goto out;
	}
	/* EvictionBudgets are optional: without the CRD, the built-in defaults apply. */
	c.budgets_available =
		kc_informer_wait_synced(fb__informer(&c, FB_INF_BUDGETS), 5000, stop) == KC_OK;
	c.quarantines_available =
		kc_informer_wait_synced(fb__informer(&c, FB_INF_QUARANTINES), 5000, stop) == KC_OK;
	if (!c.quarantines_available)
		fb_log(FB_WARN, "Quarantines not available (CRD not installed?); verdicts cannot be "
		       "recorded", NULL);
	if (!c.budgets_available)
		fb_log(FB_WARN, "EvictionBudgets not available (CRD not installed?); built-in defaults apply",
		       NULL);
	atomic_store(&c.synced, true);
	report_sync(&c);
	if (o->exit_after_sync) {
		rc = 0;
		goto out;
	}

	kc_recorder_options ro = { .reporting_controller = FB_CONTROLLER_NAME };
	err = kc_recorder_new(c.client, &ro, &c.recorder, &d);
	if (err != KC_OK)
		fb_log_api_error(FB_WARN, "event recorder unavailable; decisions are logged only",
		                 err, d.message, NULL);
	if (elect) {
		char identity[256];
		make_identity(identity, sizeof(identity));
		kc_leader_config lc = {
			.namespace = o->lease_namespace ? o->lease_namespace
			                                : kc_client_namespace(c.client),
			.name = o->lease_name ? o->lease_name : "firebreak",
			.identity = identity,
			.timing = o->timing,
			.release_on_cancel = true,
			.rejoin_after_loss = true,
			.callbacks = { started_leading, stopped_leading, new_leader, &c },
		};
		err = kc_leader_new(c.client, &lc, &c.leader, &d);
		if (err == KC_OK)
			err = kc_leader_start(c.leader);
		if (err != KC_OK) {
			fb_log_api_error(FB_ERROR, "cannot start leader election", err, d.message, NULL);
			goto out;
		}
		fb_log(FB_INFO, "campaigning for leadership", "lease=%s/%s identity=%s", lc.namespace,
		       lc.name, identity);
	}

	fb_actions acts;
	fb_actions_init(&acts);
	int64_t next = 0;
	fb_watch_seen seen[FB_NUM_INFORMERS];
	memset(seen, 0, sizeof(seen));
	fb__watch_report(&c, seen); /* the initial lists are not relists */
	bool quarantines_synced = false;
	int64_t quiet_since = 0, reported = kc_now_mono_ms();
	while (!kc_cancel_fired(stop)) {
		if (o->restore_only && fb__restore_done(&c, kc_now_mono_ms(), &quiet_since, &reported))
			break;
		/* the Quarantines' informer may sync after the 5 s start-up wait (or never,
		 * without the CRD): until then no gate is removed */
		bool tell_core = !quarantines_synced &&
		                 (c.quarantines_available ||
		                  kc_informer_has_synced(fb__informer(&c, FB_INF_QUARANTINES)));
		pthread_mutex_lock(&c.lock);
		if (tell_core) /* once */
			fb_core_set_quarantines_synced(c.core, quarantines_synced = true);
		int64_t now = fb__wall_ms();
		int64_t wait = next > now ? next - now : 0;
		if (wait > LOOP_MAX_WAIT_MS)
			wait = LOOP_MAX_WAIT_MS;
		if (!c.woken && wait > 0) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_nsec += (wait % 1000) * 1000000;
			ts.tv_sec += wait / 1000 + ts.tv_nsec / 1000000000;
			ts.tv_nsec %= 1000000000;
			pthread_cond_timedwait(&c.wake, &c.lock, &ts);
		}
		bool had_news = c.woken;
		int64_t since = c.pending_since_us;
		c.woken = false;
		fb_actions_clear(&acts);
		next = fb_core_tick(c.core, fb__wall_ms(), &acts);
		pthread_mutex_unlock(&c.lock);
		int64_t now_us = kc_now_mono_us();
		atomic_store(&c.loop_mono_ms, now_us / 1000);
		if (had_news)
			fb_metrics_observe(c.metrics, "firebreak_decision_latency_seconds", NULL,
			                   (double)(now_us - since) / 1e6);
		fb__execute(&c, &acts);
		fb__watch_report(&c, seen);
	}
	fb_actions_release(&acts);
	fb_log(FB_INFO, "stopping", NULL);
	rc = 0;
out:
	teardown(&c);
	return rc;
}
