/*
 * stop.c - the chart's uninstall hook for firebreak-node (fbn_stop_daemonset): delete the agent's
 * DaemonSet with foreground propagation and wait until it is gone, which is when every one of its
 * pods has ended. Each agent, stopped by SIGTERM while its RBAC still exists (a pre-delete hook
 * runs before helm deletes anything), takes its condition back (fbn_reporter_withdraw); helm
 * then deletes the rest. Without it, helm deletes the RBAC in the same pass as the DaemonSet and an
 * agent stopped after that cannot.
 */
#include <stdio.h>
#include <string.h>

#include "kc/alloc.h"
#include "kc/cancel.h"
#include "kc/client.h"
#include "kc/time.h"
#include "log.h"
#include "report.h"

int fbn_stop_daemonset(const char *kubeconfig, const char *ns, const char *name,
                       int64_t timeout_ms)
{
	kc_client *c = NULL;
	kc_error_detail d = { 0 };
	int rc = 1;
	if (!fbn_client_new(kubeconfig, &c))
		return 1;
	kc_err err;
	/* foreground: the DaemonSet stays (with a deletionTimestamp) until the garbage collector has
	 * deleted its pods, and a pod is deleted once its containers have stopped */
	kc_delete_opts del = { .propagation_policy = "Foreground" };
	err = kc_delete(c, &KC_RES_DAEMONSETS, ns, name, &del, &d);
	if (err == KC_ERR_NOT_FOUND) {
		fb_log(FB_INFO, "no firebreak-node DaemonSet to stop", "namespace=%s name=%s", ns, name);
		rc = 0;
		goto out;
	}
	if (err != KC_OK) {
		fb_log_api_error(FB_ERROR, "cannot delete the firebreak-node DaemonSet", err, d.message,
		                 "namespace=%s name=%s", ns, name);
		goto out;
	}
	int64_t until = kc_now_mono_ms() + timeout_ms;
	for (;;) {
		cJSON *ds = NULL;
		err = kc_get(c, &KC_RES_DAEMONSETS, ns, name, NULL, &ds, &d);
		cJSON_Delete(ds);
		if (err == KC_ERR_NOT_FOUND) {
			fb_log(FB_INFO, "firebreak-node stopped on every node", "namespace=%s name=%s", ns,
			       name);
			rc = 0;
			break;
		}
		if (kc_now_mono_ms() >= until) {
			fb_log(FB_ERROR, "firebreak-node's pods did not all stop in time; their conditions "
			       "may stay (docs/operations.md §9, Uninstall)", "namespace=%s name=%s", ns,
			       name);
			break;
		}
		kc_cancel_sleep(NULL, 1000);
	}
out:
	kc_client_free(c);
	return rc;
}
