/*
 * telemetry.c - what firebreak tells about itself: the metric families and
 * their refresh, the API request counter, the list/watch report of the run
 * loop, and the HTTP answers for /metrics, /healthz and /readyz.
 */
#include <stdio.h>
#include <string.h>

#include "controller_int.h"
#include "kc/alloc.h"
#include "log.h"

/* A stuck run loop (no turn for this long) fails /healthz, so the pod restarts. */
#define HEALTH_STALL_MS 30000

static const double latency_buckets[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
	                                  0.01, 0.025, 0.05, 0.1, 0.5 };

/*
 * Every metric family firebreak exports (docs/operations.md lists them;
 * scripts/check-monitoring.sh reads this table: keep one { "name", TYPE, help } per entry).
 */
static const struct {
	const char *name;
	fb_metric_type type;
	const char *help;
} metric_families[] = {
	{ "firebreak_leader", FB_GAUGE, "1 while this replica holds the lease and may act." },
	{ "firebreak_caches_synced", FB_GAUGE, "1 once the node and pod caches have synced." },
	{ "firebreak_nodes", FB_GAUGE, "Nodes known, and failed ones." },
	{ "firebreak_zone_unhealthy_nodes", FB_GAUGE, "Nodes not Ready per zone." },
	{ "firebreak_zone_state", FB_GAUGE,
	  "1 for the current state of each zone (Normal, PartialDisruption, FullDisruption)." },
	{ "firebreak_evictions_total", FB_COUNTER, "Pod evictions and deletions by result." },
	{ "firebreak_eviction_deferrals_total", FB_COUNTER,
	  "Failed nodes whose evictions were deferred, by reason." },
	{ "firebreak_budget_window_used", FB_GAUGE,
	  "Nodes admitted within each EvictionBudget window." },
	{ "firebreak_budget_window_max", FB_GAUGE, "maxNodes of each EvictionBudget window." },
	{ "firebreak_watch_restarts_total", FB_COUNTER,
	  "List/watch failures that led to a backoff and relist, by resource." },
	{ "firebreak_watch_events_total", FB_COUNTER, "Watch events received, by resource." },
	{ "firebreak_poison_suspects", FB_GAUGE,
	  "Workloads that arrived on failed nodes but have no verdict." },
	{ "firebreak_quarantines_active", FB_GAUGE, "Workloads quarantined now." },
	{ "firebreak_quarantines_total", FB_COUNTER, "Verdicts declared since start." },
	{ "firebreak_nodes_lost_before_quarantine", FB_GAUGE,
	  "Failed nodes that led to the latest verdict." },
	{ "firebreak_pods_pinned_total", FB_COUNTER,
	  "Pods kept on failed nodes because their workload is quarantined." },
	{ "firebreak_workloads_scaled_to_zero", FB_GAUGE,
	  "Workloads a ScaleToZero quarantine holds at zero replicas." },
	{ "firebreak_workload_scales_total", FB_COUNTER,
	  "ScaleToZero actions and their restores, by result." },
	{ "firebreak_quarantine_gated_pods", FB_GAUGE,
	  "New pods of quarantined workloads held Pending by the scheduling gate." },
	{ "firebreak_quarantine_escaped_pods", FB_GAUGE,
	  "Pods of quarantined workloads created without the gate (the webhook did not answer)." },
	{ "firebreak_quarantine_escapes_deleted_total", FB_COUNTER,
	  "Escaped pods deleted so that their replacements are gated." },
	{ "firebreak_quarantine_recalls_deleted_total", FB_COUNTER,
	  "Pods that followed a workload off nodes it failed before its quarantine, deleted so "
	  "that their replacements are gated." },
	{ "firebreak_quarantine_ungates_total", FB_COUNTER,
	  "Scheduling gates removed from pods of released workloads, by result." },
	{ "firebreak_failures_explained_total", FB_COUNTER,
	  "Node failures put down to a quarantined workload (evidence against no other)." },
	{ "firebreak_poison_judgements_total", FB_COUNTER,
	  "Surprise verdict: workloads judged on a new failure of a node they arrived on." },
	{ "firebreak_poison_false_quarantines_expected_total", FB_COUNTER,
	  "Surprise verdict: false quarantines those judgements could make at worst (the sum of "
	  "each one's limit); compare with the quarantines released as mistaken." },
	{ "firebreak_poison_background_failures_per_node_day", FB_GAUGE,
	  "Surprise verdict: the background failure rate at the last judgement." },
	{ "firebreak_poison_judged_per_year", FB_GAUGE,
	  "Surprise verdict: workloads judged per year, the false-alarm limit's divisor." },
	{ "firebreak_managed_mode", FB_GAUGE,
	  "1 in managed mode (the taint-eviction controller stays on; firebreak covers pods)." },
	{ "firebreak_managed_pods", FB_GAUGE,
	  "Managed mode: pods not covered yet (uncovered), of them past the report time "
	  "(uncovered_reported); with the mode off, pods still to be given their seconds back "
	  "(to_restore)." },
	{ "firebreak_managed_writes_total", FB_COUNTER,
	  "Pods covered or given their seconds back by a patch, by op and result." },
	{ "firebreak_webhook_tolerations_covered_total", FB_COUNTER,
	  "New pods whose failure tolerations the webhook covered (managed mode)." },
	{ "firebreak_webhook_serving", FB_GAUGE,
	  "1 while the admission webhook has a certificate and listens." },
	{ "firebreak_webhook_reviews_total", FB_COUNTER,
	  "AdmissionReviews answered by the webhook, by outcome (gated, not_quarantined, ...)." },
	{ "firebreak_webhook_errors_total", FB_COUNTER,
	  "Webhook requests refused, by kind (malformed, too_big, ...)." },
	{ "firebreak_webhook_certificates_total", FB_COUNTER,
	  "Serving certificates offered to the webhook, by result (loaded, refused)." },
	{ "firebreak_webhook_duration_seconds", FB_HISTOGRAM,
	  "From a webhook request's headers read to its answer written." },
	{ "firebreak_api_requests_total", FB_COUNTER,
	  "HTTP exchanges with the API server by verb and status code (code 0: no answer)." },
	{ "firebreak_decision_latency_seconds", FB_HISTOGRAM,
	  "From a watch event's arrival to the decision taken on it." },
};

int fb__metrics_setup(fb_controller *c)
{
	fb_metrics *m = c->metrics = fb_metrics_new();
	if (!m)
		return -1;
	int rc = 0;
	for (size_t i = 0; i < sizeof(metric_families) / sizeof(metric_families[0]); i++) {
		bool hist = metric_families[i].type == FB_HISTOGRAM;
		bool webhook = strcmp(metric_families[i].name, "firebreak_webhook_duration_seconds") == 0;
		const double *b = webhook ? fb_webhook_latency_bounds : latency_buckets;
		size_t nb = webhook ? FB_WEBHOOK_LATENCY_BUCKETS
		                    : sizeof(latency_buckets) / sizeof(latency_buckets[0]);
		rc |= fb_metrics_family(m, metric_families[i].name, metric_families[i].type,
		                        metric_families[i].help, hist ? b : NULL, hist ? nb : 0);
	}
	return rc ? -1 : 0;
}

void fb__count_request(void *ud, const char *method, long status, int64_t duration_us)
{
	fb_controller *c = ud;
	char lbl[64];
	snprintf(lbl, sizeof(lbl), "verb=\"%s\",code=\"%ld\"", method, status);
	fb_metrics_add(c->metrics, "firebreak_api_requests_total", lbl, 1);
}

/*
 * client-go's reflector logs every failed list or watch ("Failed to watch",
 * "watch of *v1.Node ended with: ...") and then resumes or relists; ours only
 * counts them, so the run loop reports what changed since its last turn: a
 * warning per failure burst (the API server restarting, a 410 Gone) and a line
 * when a relist completed, so an operator can tell a gap in the stream from
 * a quiet cluster.
 */
void fb__watch_report(const fb_controller *c, fb_watch_seen seen[FB_NUM_INFORMERS])
{
	for (int i = 0; i < FB_NUM_INFORMERS; i++) {
		kc_informer *inf = fb__informer(c, (fb_informer_id)i);
		if (!inf)
			continue;
		const char *name = fb__informer_name((fb_informer_id)i);
		kc_reflector_stats rs;
		kc_informer_stats(inf, &rs);
		/* each failure is said (rate-limited, with its reason) by informers.c on_failed */
		if (rs.failures > seen[i].failures)
			fb_log_api_error(FB_DEBUG, "list/watch failed; backing off, then resuming or relisting",
			                 rs.last_err, rs.last_err_message, "resource=%s failures=%llu",
			                 name, (unsigned long long)rs.failures);
		if (rs.lists > seen[i].lists && seen[i].lists > 0)
			fb_log(FB_INFO, "relisted", "resource=%s lists=%llu resource_version=%s", name,
			       (unsigned long long)rs.lists, rs.last_sync_rv);
		seen[i] = (fb_watch_seen){ rs.failures, rs.lists };
	}
}

/* Refresh the gauges that mirror state (cheap: a few zones and budgets). */
/* The admission webhook's counters, as its server keeps them. */
static void webhook_metrics(fb_controller *c)
{
	if (!c->webhook)
		return;
	fb_metrics *m = c->metrics;
	struct fb_webhook_stats ws;
	fb_webhook_stats(c->webhook, &ws);
	char lbl[64];
	fb_metrics_set(m, "firebreak_webhook_serving", NULL, ws.listening ? 1 : 0);
	fb_metrics_set(m, "firebreak_webhook_tolerations_covered_total", NULL, (double)ws.covered);
	for (int i = 0; i < FB_ADM_OUTCOMES; i++) {
		snprintf(lbl, sizeof(lbl), "outcome=\"%s\"", fb_adm_outcome_name((fb_adm_outcome)i));
		fb_metrics_set(m, "firebreak_webhook_reviews_total", lbl, (double)ws.outcomes[i]);
	}
	for (int i = 0; i < FB_WEBHOOK_ERR_COUNT; i++) {
		snprintf(lbl, sizeof(lbl), "kind=\"%s\"", fb_webhook_err_name((fb_webhook_err)i));
		fb_metrics_set(m, "firebreak_webhook_errors_total", lbl, (double)ws.errors[i]);
	}
	fb_metrics_set(m, "firebreak_webhook_certificates_total", "result=\"loaded\"",
	               (double)ws.certs_loaded);
	fb_metrics_set(m, "firebreak_webhook_certificates_total", "result=\"refused\"",
	               (double)ws.certs_refused);
	fb_metrics_set_histogram(m, "firebreak_webhook_duration_seconds", NULL, ws.latency_le,
	                         FB_WEBHOOK_LATENCY_BUCKETS, ws.latency_count, ws.latency_sum_s);
}

static void metrics_refresh(fb_controller *c)
{
	fb_metrics *m = c->metrics;
	char lbl[256], zbuf[128], q[160];
	fb_metrics_set(m, "firebreak_leader", NULL, fb__may_write(c) ? 1 : 0);
	fb_metrics_set(m, "firebreak_caches_synced", NULL, atomic_load(&c->synced) ? 1 : 0);
	fb_metrics_reset(m, "firebreak_zone_unhealthy_nodes");
	fb_metrics_reset(m, "firebreak_zone_state");
	pthread_mutex_lock(&c->lock);
	fb_core_stats st;
	fb_core_get_stats(c->core, &st);
	const fb_zones *z = fb_core_zones(c->core);
	for (size_t i = 0; i < z->n; i++) {
		fb_zone_display(z->v[i].key, z->v[i].key_len, zbuf, sizeof(zbuf));
		snprintf(lbl, sizeof(lbl), "zone=\"%s\"", fb_metrics_label(zbuf, q, sizeof(q)));
		fb_metrics_set(m, "firebreak_zone_unhealthy_nodes", lbl, z->v[i].not_ready);
		for (int s = FB_ZONE_NORMAL; s <= FB_ZONE_FULL_DISRUPTION; s++) {
			snprintf(lbl, sizeof(lbl), "zone=\"%s\",state=\"%s\"", q,
			         fb_zone_state_name((fb_zone_state)s));
			fb_metrics_set(m, "firebreak_zone_state", lbl, z->v[i].state == (fb_zone_state)s);
		}
	}
	pthread_mutex_unlock(&c->lock);
	fb_metrics_set(m, "firebreak_nodes", "state=\"known\"", (double)st.nodes);
	fb_metrics_set(m, "firebreak_nodes", "state=\"failed\"", (double)st.failed_nodes);
	fb_metrics_set(m, "firebreak_eviction_deferrals_total", "reason=\"RateLimited\"",
	               (double)st.deferrals_rate);
	fb_metrics_set(m, "firebreak_eviction_deferrals_total", "reason=\"WindowExhausted\"",
	               (double)st.deferrals_window);
	fb_metrics_set(m, "firebreak_eviction_deferrals_total", "reason=\"Paused\"",
	               (double)st.deferrals_paused);
	fb_metrics_set(m, "firebreak_eviction_deferrals_total", "reason=\"MaxUnhealthy\"",
	               (double)st.deferrals_max_unhealthy);
	fb_metrics_set(m, "firebreak_eviction_deferrals_total", "reason=\"FullDisruption\"",
	               (double)st.deferrals_disruption);
	fb_metrics_set(m, "firebreak_poison_suspects", NULL, (double)st.suspects);
	fb_metrics_set(m, "firebreak_quarantines_active", NULL, (double)st.quarantines_active);
	fb_metrics_set(m, "firebreak_quarantines_total", NULL, (double)st.quarantines_total);
	fb_metrics_set(m, "firebreak_nodes_lost_before_quarantine", NULL,
	               (double)st.nodes_lost_before_quarantine);
	fb_metrics_set(m, "firebreak_pods_pinned_total", NULL, (double)st.pods_pinned);
	fb_metrics_set(m, "firebreak_workloads_scaled_to_zero", NULL, (double)st.scaled_to_zero);
	fb_metrics_set(m, "firebreak_quarantine_gated_pods", NULL, (double)st.pods_gated);
	fb_metrics_set(m, "firebreak_quarantine_escaped_pods", NULL, (double)st.pods_escaped);
	fb_metrics_set(m, "firebreak_quarantine_escapes_deleted_total", NULL,
	               (double)st.escapes_deleted);
	fb_metrics_set(m, "firebreak_quarantine_recalls_deleted_total", NULL,
	               (double)st.recalls_deleted);
	fb_metrics_set(m, "firebreak_failures_explained_total", NULL,
	               (double)st.failures_explained);
	fb_metrics_set(m, "firebreak_poison_judgements_total", NULL, (double)st.judgements);
	fb_metrics_set(m, "firebreak_poison_false_quarantines_expected_total", NULL,
	               st.false_quarantines_expected);
	fb_metrics_set(m, "firebreak_poison_background_failures_per_node_day", NULL,
	               st.background_per_node_day);
	fb_metrics_set(m, "firebreak_poison_judged_per_year", NULL, st.judged_per_year);
	fb_metrics_set(m, "firebreak_managed_mode", NULL, c->managed ? 1 : 0);
	fb_metrics_set(m, "firebreak_managed_pods", "state=\"uncovered\"", (double)st.pods_uncovered);
	fb_metrics_set(m, "firebreak_managed_pods", "state=\"uncovered_reported\"",
	               (double)st.pods_uncovered_reported);
	fb_metrics_set(m, "firebreak_managed_pods", "state=\"to_restore\"", (double)st.pods_to_restore);
	webhook_metrics(c);
	for (int i = 0; i < FB_NUM_INFORMERS; i++) {
		kc_informer *inf = fb__informer(c, (fb_informer_id)i);
		if (!inf)
			continue;
		kc_reflector_stats rs;
		kc_informer_stats(inf, &rs);
		snprintf(lbl, sizeof(lbl), "resource=\"%s\"", fb__informer_name((fb_informer_id)i));
		fb_metrics_set(m, "firebreak_watch_restarts_total", lbl, (double)rs.failures);
		fb_metrics_set(m, "firebreak_watch_events_total", lbl, (double)rs.events);
	}
}

void fb__budget_window_metrics(fb_controller *c, const char *name, const cJSON *status)
{
	char lbl[512], q[300];
	const cJSON *u;
	cJSON_ArrayForEach(u, cJSON_GetObjectItem(status, "windowUsage")) {
		const cJSON *w = cJSON_GetObjectItem(u, "window");
		if (!cJSON_IsString(w))
			continue;
		snprintf(lbl, sizeof(lbl), "budget=\"%s\",window=\"%s\"",
		         fb_metrics_label(name, q, sizeof(q)), w->valuestring);
		fb_metrics_set(c->metrics, "firebreak_budget_window_used", lbl,
		               cJSON_GetObjectItem(u, "used")->valuedouble);
		fb_metrics_set(c->metrics, "firebreak_budget_window_max", lbl,
		               cJSON_GetObjectItem(u, "maxNodes")->valuedouble);
	}
}

void fb__serve(void *ud, const char *path, int *status, const char **ctype, char **body,
                  size_t *len)
{
	fb_controller *c = ud;
	*ctype = "text/plain; charset=utf-8";
	const char *text;
	if (strcmp(path, "/metrics") == 0) {
		metrics_refresh(c);
		*body = fb_metrics_render(c->metrics);
		*ctype = "text/plain; version=0.0.4; charset=utf-8";
		*status = *body ? 200 : 500;
		*len = *body ? strlen(*body) : 0;
		return;
	}
	if (strcmp(path, "/healthz") == 0) {
		/* Until the caches have synced the loop has not started: alive is all
		 * there is to say (readiness says the rest). After that a loop that
		 * stopped turning is a stuck process. */
		bool ok = !atomic_load(&c->synced) ||
		          kc_now_mono_ms() - atomic_load(&c->loop_mono_ms) < HEALTH_STALL_MS;
		*status = ok ? 200 : 500;
		text = ok ? "ok\n" : "run loop stalled\n";
	} else if (strcmp(path, "/readyz") == 0) {
		/* ready = caches synced (a follower with warm caches is ready to take over) and,
		 * with the webhook on, serving it: the Service sends the API server's calls only
		 * to ready replicas, and one without a certificate would fail them all */
		bool synced = atomic_load(&c->synced);
		struct fb_webhook_stats ws = { .listening = true };
		if (c->webhook)
			fb_webhook_stats(c->webhook, &ws);
		bool ok = synced && ws.listening;
		*status = ok ? 200 : 503;
		char nocert[sizeof(((fb_webhookcerts_stats *)0)->unusable_why) + 64];
		text = !synced        ? "caches not synced"
		       : !ws.listening ? "webhook not serving yet (no certificate loaded)"
		       : fb__may_write(c) ? "ok: leader" : "ok: follower";
		nocert[0] = '\0';
		if (!ws.listening && c->webhook_certs) {
			fb_webhookcerts_stats cs;
			fb_webhookcerts_stats_get(c->webhook_certs, &cs);
			if (cs.unusable_why[0])
				snprintf(nocert, sizeof(nocert),
				         "webhook not serving yet (the Secret's certificate: %s)",
				         cs.unusable_why);
			if (synced && nocert[0])
				text = nocert;
		}
		/* the mode, and (the leader knows) what managed mode still has to do: detail
		 * only, never a reason to be unready (that would take the webhook away) */
		fb_core_stats st;
		pthread_mutex_lock(&c->lock);
		fb_core_get_stats(c->core, &st);
		pthread_mutex_unlock(&c->lock);
		/* and why a cache is not syncing (or, synced, fails to stay current): each failing
		 * list and watch with its reason, error and next try */
		char failing[2048], buf[2560];
		fb__sync_failures(c, failing, sizeof(failing));
		int n;
		if (c->managed)
			n = snprintf(buf, sizeof(buf), "%s\nmode: managed%s; pods not covered yet: %zu%s\n",
			             text, fb__may_write(c) ? "" : " (counted by the leader)",
			             st.pods_uncovered,
			             st.pods_uncovered_reported ? " (some for longer than the report time)"
			                                        : "");
		else
			n = snprintf(buf, sizeof(buf), "%s\nmode: self-managed; pods to restore: %zu\n",
			             text, st.pods_to_restore);
		if (failing[0] && n > 0 && (size_t)n < sizeof(buf))
			n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s\n", failing);
		if (!synced && nocert[0] && n > 0 && (size_t)n < sizeof(buf))
			snprintf(buf + n, sizeof(buf) - (size_t)n, "%s\n", nocert);
		*body = kc_strdup(buf);
		*len = *body ? strlen(*body) : 0;
		return;
	} else {
		*status = 404;
		text = "not found: try /metrics, /healthz or /readyz\n";
	}
	*body = kc_strdup(text);
	*len = *body ? strlen(*body) : 0;
}

