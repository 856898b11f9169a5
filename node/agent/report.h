/*
 * report.h - what firebreak-node tells the cluster (issue 16, part 3): its Node's
 * UnaccountedMemory condition (fbn_condition_of), an Event when the condition turns,
 * and Prometheus metrics on /metrics.
 *
 * The condition is written with a strategic merge patch of nodes/<node>/status, so only
 * this condition type is touched (kubelet's and node-problem-detector's stay as they
 * are): at once when its status, reason or pod changes, and otherwise every heartbeat
 * (node-problem-detector's condition manager does the same, k8sexporter/condition:
 * heartbeatPeriod), so the controller knows the word is current. A write that fails is
 * retried at the next sample.
 */
#ifndef FBN_REPORT_H
#define FBN_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "fbn.h"

typedef struct fbn_reporter fbn_reporter;
typedef struct kc_client kc_client;

/* firebreak-node's API client (its user agent, a low rate: 5 QPS, burst 10) for kubeconfig
 * (NULL: in-cluster, else $KUBECONFIG, else ~/.kube/config); false with the reason logged. */
bool fbn_client_new(const char *kubeconfig, kc_client **out);

typedef struct fbn_reporter_options {
	const char *node;             /* the Node written (required) */
	const char *kubeconfig;       /* NULL: in-cluster, else $KUBECONFIG, else ~/.kube/config */
	const char *metrics_addr;     /* NULL: no HTTP server; "host:port", ":port" */
	int64_t heartbeat_ms;         /* <= 0: 60 s */
} fbn_reporter_options;

/* NULL with the reason logged when the cluster cannot be reached or the node not read. */
fbn_reporter *fbn_reporter_new(const fbn_reporter_options *o);
/* Report one sample (t: the trend after it; wall_ms: the sample's time). */
void fbn_reporter_sample(fbn_reporter *rp, const fbn_report *r, const fbn_trend *t,
                         int64_t wall_ms, double sample_seconds);
/* Whether the node's labels (read at start) match selector "k=v[,k=v...]" ("" or NULL: yes). */
bool fbn_reporter_node_matches(const fbn_reporter *rp, const char *selector);
/* The facts of pod uid on this node (act mode, before a kill); false when the API could not be
 * asked (then no kill: never on a guess). protected_ns: NULL-terminated, besides kube-system. */
bool fbn_reporter_pod_facts(fbn_reporter *rp, const char *uid, const char *const *protected_ns,
                            fbn_pod_facts *f);
/* Report what act mode did (KILL: killed of the found processes, fail_why when none; REFUSE):
 * a log line, firebreak_node_act_total{result}, and an Event on the Node, the Pod related
 * (UnaccountedMemoryKilled, UnaccountedMemoryNotKilled; UnaccountedMemoryKillFailed on the Pod);
 * firebreak reads the first two as signs the node ran short of memory. */
void fbn_reporter_acted(fbn_reporter *rp, fbn_act_verdict v, const char *uid,
                        const fbn_pod_facts *f, const char *why, size_t killed, size_t found,
                        const char *fail_why);
/*
 * Take the agent's word back as it stops (SIGTERM: a rolling update, a node drained, the chart
 * uninstalled): delete its condition from the Node (a strategic merge patch with
 * "$patch": "delete"); the next agent writes it again at its first sample. Not a True one: a
 * naming is evidence, and the SIGTERM may come as the node goes down; it stays, with its
 * heartbeat frozen, and ages (the controller heeds a naming for an hour). Best effort: logged
 * when refused.
 */
void fbn_reporter_withdraw(fbn_reporter *rp);
/* Flush the Events (up to 5 s), stop the HTTP server, free. Accepts NULL. */
void fbn_reporter_free(fbn_reporter *rp);

/*
 * The chart's uninstall hook (firebreak-node stop-daemonset): delete DaemonSet ns/name with
 * foreground propagation and wait, up to timeout_ms, until it is gone (every agent stopped, each
 * having taken its condition back while its RBAC still existed). 0 when gone (or there was none).
 */
int fbn_stop_daemonset(const char *kubeconfig, const char *ns, const char *name,
                       int64_t timeout_ms);

#endif
