/*
 * controller_int.h - what the files of the controller share (private to
 * controller/shell; prefix fb__). The controller is split by the work it does:
 *   controller.c  set-up, leadership, teardown and the run loop
 *   informers.c   the informer adapters: observations into the core (one table)
 *   executor.c    the core's actions carried out as API writes
 *   telemetry.c   metric families, their refresh, watch reports, /metrics /healthz /readyz
 *
 * Threads (see controller.h): informer threads and the leader-election thread
 * change the core under c->lock; the run loop ticks it under the lock and
 * carries out its actions outside it.
 */
#ifndef FB_CONTROLLER_INT_H
#define FB_CONTROLLER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "controller.h"
#include "webhook.h"
#include "httpserver.h"
#include "kc/events.h"
#include "kc/informer.h"
#include "kc/time.h"
#include "metrics.h"
#include "project.h"

/* The informers, in the order they start (and stop in reverse). */
typedef enum fb_informer_id {
	FB_INF_NODES,
	FB_INF_PODS,
	FB_INF_BUDGETS,
	FB_INF_QUARANTINES,
	FB_INF_EVENTS,                  /* Warning Events on Nodes: signs of memory pressure */
	FB_NUM_INFORMERS
} fb_informer_id;

typedef struct fb_controller fb_controller;
typedef struct fb_informer_def fb_informer_def;

/* One informer and what its callbacks need (their ud). */
typedef struct fb_watched {
	fb_controller *c;
	const fb_informer_def *def;
	/* NULL before it starts; atomic: the HTTP thread (/metrics, /readyz) reads it while
	 * fb__informers_start, on the main thread, creates the informers one by one */
	kc_informer *_Atomic inf;
	/* its failures as last logged (the informer's thread only): informers.c on_failed */
	kc_err logged_err;
	int64_t logged_mono_ms;
	uint64_t unlogged;             /* failures since, not logged */
} fb_watched;

struct fb_controller {
	const fb_controller_options *opts;
	kc_client *client;
	fb_watched watched[FB_NUM_INFORMERS];
	kc_leader *leader;
	kc_recorder *recorder;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool woken;
	fb_core *core;
	fb_pod_project_opts pod_opts;  /* how the pods' informer projects (project.h) */
	bool managed;                  /* managed mode (core.managed, off with restore_only) */
	atomic_bool leading;           /* may act; written only by set_leading (controller.c) */
	atomic_bool synced;
	bool budgets_available;
	bool quarantines_available;
	fb_metrics *metrics;
	fb_http *http;
	fb_webhookcerts *webhook_certs; /* the webhook's certificates; NULL when off */
	fb_webhook *webhook;            /* the admission webhook's server; NULL when off */
	atomic_llong loop_mono_ms;     /* the run loop's last turn, for /healthz */
	int64_t pending_since_us;      /* earliest observation not yet decided on (mono) */
};

static inline int64_t fb__wall_ms(void)
{
	return kc_now_wall_us() / 1000;
}

static inline kc_informer *fb__informer(const fb_controller *c, fb_informer_id id)
{
	return c->watched[id].inf;
}

/* ---- controller.c ---- */

/* Wake the run loop: there is news for the core. Caller holds c->lock. */
void fb__poke(fb_controller *c);

/*
 * Whether this replica may write now. The one source of truth is c->leading
 * (see set_leading in controller.c); this adds the lease's own clock as a guard.
 */
bool fb__may_write(const fb_controller *c);

/* ---- restore.c ---- */

/* Scale firebreak's Deployment ns/name to zero and wait until none of its replicas runs.
 * 0, or -1 (logged) when it could not (or stop fired). */
int fb__stop_deployment(fb_controller *c, const char *ns, const char *name, kc_cancel *stop);
/* --restore-tolerations: true once no pod is left to restore (for a few seconds); logs progress. */
bool fb__restore_done(fb_controller *c, int64_t now_mono_ms, int64_t *quiet_since_ms,
                      int64_t *reported_ms);

/* ---- informers.c ---- */

/* Create and start every informer; on failure the ones started stay for teardown. */
kc_err fb__informers_start(fb_controller *c);

/* "nodes", "pods", "evictionbudgets", "quarantines": for logs and metric labels. */
const char *fb__informer_name(fb_informer_id id);
/* Why a list or watch of res failed with err, in words an operator acts on ("the API server is
 * unreachable", "RBAC forbids it (403)", "its CRD is not installed (404)"...). Never NULL. */
const char *fb__sync_failure_reason(kc_err err, const kc_resource *res);
/* "<name>: <reason> (<error>); next try in Ns" for each informer failing since its last
 * complete LIST, one per line, into buf (cap bytes; "" when none): /readyz's detail. */
void fb__sync_failures(fb_controller *c, char *buf, size_t cap);

/* ---- executor.c ---- */

/* Carry out the actions of one tick, in order; leadership is checked before each write. */
void fb__execute(fb_controller *c, const fb_actions *acts);

/* ---- telemetry.c ---- */

/* Create c->metrics with every family firebreak exports. -1 on ENOMEM. */
int fb__metrics_setup(fb_controller *c);

/* kc_client_options.on_request: count an exchange with the API server. */
void fb__count_request(void *ud, const char *method, long status, int64_t duration_us);

/* The window usage of a budget's status, as gauges. */
void fb__budget_window_metrics(fb_controller *c, const char *name, const cJSON *status);

/* What each informer had reported at the run loop's last turn. */
typedef struct fb_watch_seen {
	uint64_t failures;
	uint64_t lists;
} fb_watch_seen;

/* Log list/watch failures and relists since the last call (see telemetry.c). */
void fb__watch_report(const fb_controller *c, fb_watch_seen seen[FB_NUM_INFORMERS]);

/* fb_http_handler for /metrics, /healthz and /readyz (ud: the controller). */
void fb__serve(void *ud, const char *path, int *status, const char **ctype, char **body,
               size_t *len);

#endif
