/*
 * controller.h - the shell around the decision core: informers on Nodes, Pods
 * and EvictionBudgets feed it; leader election decides whether it may act; its
 * actions become API writes (evictions, deletions, Events, budget status).
 *
 * Threads: one informer thread per resource and the leader-election thread
 * apply observations to the core under the controller's lock; the run loop
 * (the caller's thread) ticks the core under that lock and carries out the
 * actions outside it, checking leadership before every write.
 */
#ifndef FB_CONTROLLER_H
#define FB_CONTROLLER_H

#include <stdbool.h>
#include <stdint.h>

#include "core.h"
#include "kc/cancel.h"
#include "kc/client.h"
#include "kc/leader.h"
#include "webhookcerts.h"

extern const kc_resource FB_RES_EVICTIONBUDGETS;
extern const kc_resource FB_RES_QUARANTINES;

typedef struct fb_controller_options {
	const char *kubeconfig;        /* NULL: in-cluster, $KUBECONFIG, ~/.kube/config */
	const char *context;
	kc_client_options client;
	bool leader_elect;
	const char *lease_namespace;   /* NULL: the client's namespace */
	const char *lease_name;        /* NULL: "firebreak" */
	kc_leader_timing timing;
	fb_core_config core;
	int64_t sync_timeout_ms;       /* give up if caches do not sync in time (0: 5 min) */
	const char *metrics_addr;      /* "host:port" for /metrics /healthz /readyz; NULL or "" = off */
	bool exit_after_sync;          /* list, watch until synced, report, exit */
	/* the admission webhook and its certificates (webhookcerts.h) */
	const char *webhook_addr;      /* HTTPS "host:port" of the webhook (":9443"); NULL or "" = off */
	const char *namespace;         /* firebreak's own, the Secret's; NULL: the in-cluster
	                                  namespace, else the client's */
	const char *webhook_secret;    /* "firebreak-webhook-tls" */
	const char *webhook_config;    /* the MutatingWebhookConfiguration: "firebreak" */
	const char *webhook_service;   /* the Service in front of the webhook: "firebreak-webhook" */
	const char *webhook_sans;      /* extra SANs, comma separated; NULL or "" = none */
	const char *webhook_exclude_ns; /* namespaces the webhook is never called for besides
	                                  kube-system, kube-node-lease and our own (the chart's
	                                  excludeNamespaces), comma separated: their pods are never
	                                  taken for escapes */
	fb_certs_mode webhook_certs;   /* FB_CERTS_SELF */
	/* managed mode (core.managed; tolerations.h): the seconds recorded for a pod with no
	 * failure toleration at all, as kube-apiserver's --default-*-toleration-seconds */
	int64_t default_toleration_s;
	/* --restore-tolerations (restore.c): stop the installed firebreak (its Deployment
	 * stop_deployment in `namespace`, scaled to zero; NULL: none), give every pod it covered
	 * its seconds back, exit. Managed mode, election and the webhook are off for it. */
	bool restore_only;
	const char *stop_deployment;
} fb_controller_options;

void fb_controller_options_defaults(fb_controller_options *o);

/*
 * glibc malloc tuning for what firebreak does most: parse a 500-object LIST
 * page into ~1,000 small cJSON nodes per object, keep a ~100-byte projection,
 * free the rest. Call once at start, before any thread exists.
 */
void fb_tune_malloc(void);

/*
 * Run until stop fires (or once synced, with exit_after_sync). Returns 0 on a
 * clean stop, 1 when it could not start (config, client, sync), with the
 * reason logged.
 */
int fb_controller_run(const fb_controller_options *o, kc_cancel *stop);

#endif
