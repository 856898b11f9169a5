/*
 * restore.c - `firebreak --restore-tolerations`: leave the cluster as
 * managed mode found it (docs/operations.md, "Uninstall"; the chart's
 * pre-delete hook runs it).
 *
 * It first stops the installed firebreak (--stop-deployment: its Deployment
 * scaled to zero, then waited for until no pod of it is left, terminating
 * ones included), so that no leader
 * covers pods again behind it and no webhook covers new ones (with no replica
 * the API server admits pods uncovered: failurePolicy Ignore). Then the
 * controller runs with managed mode off and without election or webhook: the
 * core gives every pod carrying firebreak's record its seconds back
 * (managed.c), and the run loop ends once none is left (fb__restore_done).
 * Only those writes are carried out (fb__execute): the core's other decisions
 * (evictions, verdicts, Events) are dropped, as the installed firebreak is gone
 * and Kubernetes' taint-eviction controller takes over the restored pods.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "controller_int.h"
#include "kc/time.h"
#include "log.h"

#define STOP_WAIT_MS (120 * 1000)
#define STOP_POLL_MS 1000
/* Done once no pod is left to restore for this long (the informer has seen the last patches). */
#define RESTORE_QUIET_MS 3000
#define RESTORE_REPORT_MS 10000

static void sleep_ms(int64_t ms, kc_cancel *stop)
{
	int64_t until = kc_now_mono_ms() + ms;
	while (!kc_cancel_fired(stop) && kc_now_mono_ms() < until) {
		struct timespec ts = { 0, 100 * 1000000L };
		nanosleep(&ts, NULL);
	}
}

/* "k=v,k=v" of a selector's matchLabels into b; false when it has none, or matchExpressions
 * (not turned into text here: the chart's selector has matchLabels only), or on ENOMEM. */
static bool selector_text(const cJSON *selector, kc_buf *b)
{
	const cJSON *labels = cJSON_GetObjectItemCaseSensitive(selector, "matchLabels"), *l;
	const cJSON *exprs = cJSON_GetObjectItemCaseSensitive(selector, "matchExpressions");
	if (!cJSON_IsObject(labels) || !labels->child || (exprs && !cJSON_IsNull(exprs) &&
	                                                  cJSON_GetArraySize(exprs) > 0))
		return false;
	cJSON_ArrayForEach(l, labels) {
		if (!cJSON_IsString(l) ||
		    kc_buf_printf(b, "%s%s=%s", b->len ? "," : "", l->string, l->valuestring) != KC_OK)
			return false;
	}
	return true;
}

/*
 * What is left of the Deployment's replicas: status.replicas, plus
 * status.terminatingReplicas where the API server reports it, then the pods
 * its selector matches that have not ended and are within their grace period.
 * status.replicas leaves out terminating pods, and a replica shutting down may
 * still lead and write until its grace period ends. -1 when it cannot be read.
 */
static int64_t replicas_left(fb_controller *c, const char *ns, const char *name, kc_err *err,
                             bool *warned)
{
	cJSON *obj = NULL;
	kc_error_detail d;
	kc_detail_clear(&d);
	*err = kc_get(c->client, &KC_RES_DEPLOYMENTS, ns, name, NULL, &obj, &d);
	if (*err != KC_OK)
		return -1;
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(obj, "status");
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(status, "replicas");
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(status, "terminatingReplicas");
	int64_t n = (cJSON_IsNumber(r) ? (int64_t)r->valuedouble : 0) + /* absent: none */
	            (cJSON_IsNumber(t) ? (int64_t)t->valuedouble : 0);
	kc_buf sel;
	kc_buf_init(&sel, 4096);
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	if (n == 0 && selector_text(cJSON_GetObjectItemCaseSensitive(spec, "selector"), &sel)) {
		cJSON *pods = NULL;
		/* not the pods that have ended (kept until pod GC), and not one whose grace period
		 * is over (deletionTimestamp is when it ends: a pod on an unreachable node may
		 * stay listed for ever) */
		kc_list_opts lo = { .label_selector = sel.data,
			            .field_selector = "status.phase!=Failed,status.phase!=Succeeded" };
		*err = kc_list(c->client, &KC_RES_PODS, ns, &lo, &pods, &d);
		if (*err == KC_OK) {
			n = 0;
			const cJSON *pod;
			cJSON_ArrayForEach(pod, cJSON_GetObjectItemCaseSensitive(pods, "items")) {
				const cJSON *meta = cJSON_GetObjectItemCaseSensitive(pod, "metadata");
				const char *del = cJSON_GetStringValue(
					cJSON_GetObjectItemCaseSensitive(meta, "deletionTimestamp"));
				int64_t until_us;
				if (!del || kc_time_parse(del, &until_us) != KC_OK ||
				    until_us > kc_now_wall_us())
					n++;
			}
		} else {
			fb_log_api_error(FB_WARN, "cannot list firebreak's pods", *err, d.message,
			                 "deployment=%s/%s", ns, name);
			n = -1;
		}
		cJSON_Delete(pods);
	} else if (n == 0 && sel.len == 0 && !*warned) {
		*warned = true;
		fb_log(FB_WARN, "firebreak's Deployment selects its pods by no matchLabels; "
		       "waiting for status.replicas only", "deployment=%s/%s", ns, name);
	}
	kc_buf_release(&sel);
	cJSON_Delete(obj);
	return n;
}

int fb__stop_deployment(fb_controller *c, const char *ns, const char *name, kc_cancel *stop)
{
	kc_error_detail d;
	kc_detail_clear(&d);
	kc_err err = kc_patch(c->client, &KC_RES_DEPLOYMENTS, ns, name, "scale", KC_PATCH_MERGE,
	                      "{\"spec\":{\"replicas\":0}}", NULL, NULL, &d);
	if (err == KC_ERR_NOT_FOUND) {
		fb_log(FB_INFO, "firebreak's Deployment is gone already", "deployment=%s/%s", ns, name);
		return 0;
	}
	if (err != KC_OK) {
		fb_log_api_error(FB_ERROR, "cannot scale firebreak's Deployment to zero", err,
		                 d.message, "deployment=%s/%s", ns, name);
		return -1;
	}
	fb_log(FB_INFO, "scaled firebreak's Deployment to zero; waiting for its replicas to stop",
	       "deployment=%s/%s", ns, name);
	int64_t deadline = kc_now_mono_ms() + STOP_WAIT_MS;
	bool warned = false;
	for (;;) {
		int64_t n = replicas_left(c, ns, name, &err, &warned);
		if (n == 0 || err == KC_ERR_NOT_FOUND) {
			fb_log(FB_INFO, "firebreak's replicas have stopped", "deployment=%s/%s", ns, name);
			return 0;
		}
		if (kc_cancel_fired(stop))
			return -1;
		if (kc_now_mono_ms() >= deadline) {
			fb_log(FB_ERROR, "firebreak's replicas did not stop in time", "deployment=%s/%s "
			       "running=%lld waited_s=%d", ns, name, (long long)n, STOP_WAIT_MS / 1000);
			return -1;
		}
		sleep_ms(STOP_POLL_MS, stop);
	}
}

bool fb__restore_done(fb_controller *c, int64_t now_mono_ms, int64_t *quiet_since_ms,
                      int64_t *reported_ms)
{
	fb_core_stats st;
	pthread_mutex_lock(&c->lock);
	fb_core_get_stats(c->core, &st);
	pthread_mutex_unlock(&c->lock);
	if (now_mono_ms - *reported_ms >= RESTORE_REPORT_MS) {
		*reported_ms = now_mono_ms;
		fb_log(FB_INFO, "restoring tolerations", "pods_left=%zu restored=%zu",
		       st.pods_to_restore, st.uncovers_requested);
	}
	if (st.pods_to_restore > 0) {
		*quiet_since_ms = 0;
		return false;
	}
	if (!*quiet_since_ms)
		*quiet_since_ms = now_mono_ms;
	if (now_mono_ms - *quiet_since_ms < RESTORE_QUIET_MS)
		return false;
	fb_log(FB_INFO, "every pod firebreak covered has its tolerations back", "patched=%zu",
	       st.uncovers_requested);
	return true;
}
