/* report.c - see report.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpserver.h"
#include "kc/alloc.h"
#include "kc/client.h"
#include "kc/events.h"
#include "kc/time.h"
#include "log.h"
#include "metrics.h"
#include "report.h"

#define REPORTER_NAME "firebreak.dev/firebreak-node"
#define DEFAULT_HEARTBEAT_MS 60000
#define NODE_NAME_MAX 254
#define POD_REF_MAX 320

struct fbn_reporter {
	char node[NODE_NAME_MAX];
	char node_uid[64];
	kc_client *client;
	kc_recorder *recorder;
	fb_metrics *metrics;
	fb_http *http;
	int64_t heartbeat_ms;
	/* the condition as last written, and when */
	bool written;
	fbn_condition last;
	int64_t last_write_ms;        /* wall, of the last successful write */
	int64_t transition_us;        /* lastTransitionTime of the status written */
	/* the named pod's namespace/name, looked up once per naming */
	char named_uid[FBN_POD_UID_MAX];
	char named_ref[POD_REF_MAX];
	cJSON *labels;                /* the node's, as read at start (fbn_reporter_node_matches) */
};

static void declare_metrics(fb_metrics *m)
{
	static const double seconds[] = { 0.001, 0.005, 0.02, 0.1, 0.5, 2 };
	static const struct { const char *name; fb_metric_type type; const char *help; } fams[] = {
		{ "firebreak_node_unaccounted_bytes", FB_GAUGE,
		  "Memory in use that no /proc/meminfo category (so no cgroup) accounts for" },
		{ "firebreak_node_memory_total_bytes", FB_GAUGE, "MemTotal" },
		{ "firebreak_node_pods_memory_bytes", FB_GAUGE, "The pods' parent cgroup's memory usage" },
		{ "firebreak_node_memory_pressure_avg10", FB_GAUGE,
		  "PSI memory stall over the last 10 s, percent (kind: some or full)" },
		{ "firebreak_node_major_faults_per_second", FB_GAUGE,
		  "Major page faults a second between the last two samples" },
		{ "firebreak_node_refaults_per_second", FB_GAUGE,
		  "File refaults a second between the last two samples" },
		{ "firebreak_node_unaccounted_growth_bytes_per_minute", FB_GAUGE,
		  "How fast the unaccounted memory grew over the growth window" },
		{ "firebreak_node_gpu_holder_pods", FB_GAUGE,
		  "Pods found holding a GPU device open at the last look" },
		{ "firebreak_node_condition", FB_GAUGE,
		  "The UnaccountedMemory condition as last computed (1 for its status and reason)" },
		{ "firebreak_node_attributed", FB_GAUGE,
		  "1 for the pod the unaccounted memory is laid at (at most one series)" },
		{ "firebreak_node_samples_total", FB_COUNTER, "Samples taken" },
		{ "firebreak_node_condition_writes_total", FB_COUNTER,
		  "Writes of the Node condition, by result" },
		{ "firebreak_node_act_total", FB_COUNTER,
		  "Act mode: kills of a pod the unaccounted memory was laid at, by result (killed, "
		  "refused by a rule, failed)" },
		{ "firebreak_node_act_processes_killed_total", FB_COUNTER,
		  "Act mode: processes signalled with SIGKILL" },
	};
	for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++)
		fb_metrics_family(m, fams[i].name, fams[i].type, fams[i].help, NULL, 0);
	fb_metrics_family(m, "firebreak_node_sample_duration_seconds", FB_HISTOGRAM,
	                  "Time to take and judge one sample", seconds, sizeof(seconds) / sizeof(seconds[0]));
}

static void serve(void *ud, const char *path, int *status, const char **ctype, char **body,
                  size_t *len)
{
	fbn_reporter *rp = ud;
	*ctype = "text/plain; charset=utf-8";
	if (strcmp(path, "/metrics") == 0) {
		*body = fb_metrics_render(rp->metrics);
		*ctype = "text/plain; version=0.0.4; charset=utf-8";
	} else if (strcmp(path, "/healthz") == 0) {
		*body = kc_strdup("ok\n");
	} else {
		*status = 404;
		*body = kc_strdup("not found\n");
		*len = *body ? strlen(*body) : 0;
		return;
	}
	*status = *body ? 200 : 500;
	*len = *body ? strlen(*body) : 0;
}

/* The node's UID, and its condition's lastTransitionTime when it already says status. */
static bool read_node(fbn_reporter *rp, int64_t *transition_us, char *status, size_t cap)
{
	cJSON *node = NULL;
	kc_error_detail d = { 0 };
	kc_err err = kc_get(rp->client, &KC_RES_NODES, NULL, rp->node, NULL, &node, &d);
	if (err != KC_OK) {
		fb_log_api_error(FB_ERROR, "cannot read the node", err, d.message, "node=%s", rp->node);
		return false;
	}
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(node, "metadata");
	const char *uid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta, "uid"));
	snprintf(rp->node_uid, sizeof(rp->node_uid), "%s", uid ? uid : "");
	const cJSON *labels = cJSON_GetObjectItemCaseSensitive(meta, "labels");
	rp->labels = cJSON_IsObject(labels) ? cJSON_Duplicate(labels, 1) : cJSON_CreateObject();
	const cJSON *conds = cJSON_GetObjectItemCaseSensitive(
	        cJSON_GetObjectItemCaseSensitive(node, "status"), "conditions");
	const cJSON *c;
	cJSON_ArrayForEach(c, conds) {
		const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "type"));
		const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "status"));
		const char *lt = cJSON_GetStringValue(
		        cJSON_GetObjectItemCaseSensitive(c, "lastTransitionTime"));
		if (type && strcmp(type, FBN_CONDITION_TYPE) == 0 && st && lt &&
		    kc_time_parse(lt, transition_us) == KC_OK)
			snprintf(status, cap, "%s", st);
	}
	cJSON_Delete(node);
	return true;
}

bool fbn_client_new(const char *kubeconfig, kc_client **out)
{
	kc_config *cfg = NULL;
	kc_error_detail d = { 0 };
	kc_err err = kc_config_load_default(kubeconfig, NULL, &cfg, &d);
	if (err != KC_OK) {
		fb_log_api_error(FB_ERROR, "cannot load cluster configuration", err, d.message, NULL);
		return false;
	}
	char *ua = kc_user_agent_new("firebreak-node", FB_VERSION);
	kc_client_options copts = { .user_agent = ua, .qps = 5, .burst = 10 };
	err = kc_client_new(cfg, &copts, out, &d);
	kc_free(ua);
	kc_config_free(cfg);
	if (err != KC_OK) {
		fb_log_api_error(FB_ERROR, "cannot create API client", err, d.message, NULL);
		return false;
	}
	return true;
}

fbn_reporter *fbn_reporter_new(const fbn_reporter_options *o)
{
	fbn_reporter *rp = kc_calloc(1, sizeof(*rp));
	if (!rp || !o->node || strlen(o->node) >= sizeof(rp->node)) {
		fb_log(FB_ERROR, "no node name, or out of memory", NULL);
		kc_free(rp);
		return NULL;
	}
	snprintf(rp->node, sizeof(rp->node), "%s", o->node);
	rp->heartbeat_ms = o->heartbeat_ms > 0 ? o->heartbeat_ms : DEFAULT_HEARTBEAT_MS;
	if (!fbn_client_new(o->kubeconfig, &rp->client))
		goto fail;
	kc_error_detail d = { 0 };
	kc_err err;
	char status[16] = "";
	int64_t transition = 0;
	if (!read_node(rp, &transition, status, sizeof(status)))
		goto fail;
	if (status[0]) {
		/* what the last run wrote: its transition time stands while the status does */
		rp->last.status = !strcmp(status, "True") ? "True" : !strcmp(status, "False") ? "False"
		                                                                           : "Unknown";
		rp->last.reason = "";
		rp->transition_us = transition;
	}
	char instance[NODE_NAME_MAX + 32];
	snprintf(instance, sizeof(instance), "firebreak-node-%s", rp->node);
	kc_recorder_options ro = { .reporting_controller = REPORTER_NAME,
		                   .reporting_instance = instance };
	err = kc_recorder_new(rp->client, &ro, &rp->recorder, &d);
	if (err != KC_OK)
		fb_log_api_error(FB_WARN, "event recorder unavailable; the condition is written, no Events",
		                 err, d.message, NULL);
	rp->metrics = fb_metrics_new();
	if (!rp->metrics)
		goto fail;
	declare_metrics(rp->metrics);
	if (o->metrics_addr && o->metrics_addr[0]) {
		fb_http_lws_logs();
		rp->http = fb_http_start(o->metrics_addr, serve, rp);
		if (!rp->http)
			goto fail;
	}
	fb_log(FB_INFO, "reporting to the cluster", "node=%s heartbeat_s=%lld", rp->node,
	       (long long)(rp->heartbeat_ms / 1000));
	return rp;
fail:
	fbn_reporter_free(rp);
	return NULL;
}

void fbn_reporter_free(fbn_reporter *rp)
{
	if (!rp)
		return;
	fb_http_stop(rp->http);
	if (rp->recorder) {
		kc_recorder_stop(rp->recorder, 5000);
		kc_recorder_free(rp->recorder);
	}
	kc_client_free(rp->client);
	fb_metrics_free(rp->metrics);
	cJSON_Delete(rp->labels);
	kc_free(rp);
}

bool fbn_reporter_node_matches(const fbn_reporter *rp, const char *selector)
{
	if (!selector || !*selector)
		return true;
	char buf[1024];
	if (strlen(selector) >= sizeof(buf) || !rp->labels)
		return false;
	snprintf(buf, sizeof(buf), "%s", selector);
	char *save = NULL;
	for (char *term = strtok_r(buf, ",", &save); term; term = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(term, '=');
		if (!eq)
			return false;
		*eq = '\0';
		const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rp->labels, term));
		if (!v || strcmp(v, eq + 1) != 0)
			return false;
	}
	return true;
}

/* The pod uid on this node as the API server has it (LIST pods, fieldSelector
 * spec.nodeName=<node>). False when the list failed (logged); else f->known says whether it
 * was found. */
static bool find_pod(fbn_reporter *rp, const char *uid, const char *const *protected_ns,
                     fbn_pod_facts *f)
{
	memset(f, 0, sizeof(*f));
	char field[NODE_NAME_MAX + 32];
	snprintf(field, sizeof(field), "spec.nodeName=%s", rp->node);
	kc_list_opts lo = { .field_selector = field };
	cJSON *list = NULL;
	kc_error_detail d = { 0 };
	kc_err err = kc_list(rp->client, &KC_RES_PODS, NULL, &lo, &list, &d);
	if (err != KC_OK) {
		fb_log_api_error(FB_WARN, "cannot list the node's pods", err, d.message, "node=%s",
		                 rp->node);
		return false;
	}
	fbn_pod_facts_find(list, uid, protected_ns, f);
	cJSON_Delete(list);
	return true;
}

bool fbn_reporter_pod_facts(fbn_reporter *rp, const char *uid, const char *const *protected_ns,
                            fbn_pod_facts *f)
{
	return find_pod(rp, uid, protected_ns, f);
}

/* "namespace/name" of the pod uid on this node, into rp->named_ref ("" when not found). */
static void look_up_pod(fbn_reporter *rp, const char *uid)
{
	if (strcmp(rp->named_uid, uid) == 0)
		return;
	snprintf(rp->named_uid, sizeof(rp->named_uid), "%s", uid);
	rp->named_ref[0] = '\0';
	fbn_pod_facts f;
	if (!find_pod(rp, uid, NULL, &f)) {
		rp->named_uid[0] = '\0'; /* looked up again at the next Event */
		return;
	}
	if (f.known)
		snprintf(rp->named_ref, sizeof(rp->named_ref), "%s/%s", f.namespace_, f.name);
}

void fbn_reporter_acted(fbn_reporter *rp, fbn_act_verdict v, const char *uid,
                        const fbn_pod_facts *f, const char *why, size_t killed, size_t found,
                        const char *fail_why)
{
	if (v != FBN_ACT_KILL && v != FBN_ACT_REFUSE)
		return;
	kc_objref node = { .api_version = "v1", .kind = "Node", .name = rp->node,
		           .uid = rp->node_uid[0] ? rp->node_uid : NULL };
	kc_objref pod = { .api_version = "v1", .kind = "Pod", .namespace = f ? f->namespace_ : NULL,
		          .name = f ? f->name : NULL, .uid = uid };
	bool have_pod = f && f->known && f->name[0];
	const char *result = v == FBN_ACT_REFUSE ? "refused" : killed ? "killed" : "failed";
	char lbl[48];
	snprintf(lbl, sizeof(lbl), "result=\"%s\"", result);
	fb_metrics_add(rp->metrics, "firebreak_node_act_total", lbl, 1);
	fb_metrics_add(rp->metrics, "firebreak_node_act_processes_killed_total", NULL, (double)killed);
	kc_err err = KC_OK;
	if (v == FBN_ACT_REFUSE) {
		fb_log(FB_WARN, "not killed", "node=%s pod=%s why=%s", rp->node, uid, why);
		if (rp->recorder)
			err = kc_recorder_eventf(rp->recorder, &node, have_pod ? &pod : NULL, KC_EVENT_WARNING,
			                         "UnaccountedMemoryNotKilled", "Kill", "%s", why);
	} else if (killed) {
		fb_log(FB_WARN, "pod killed", "node=%s pod=%s processes=%zu why=%s", rp->node, uid, killed,
		       why);
		/* on the Node, the Pod related: firebreak reads Warning Events on Nodes, and takes
		 * this one as a sign the node ran short of memory (project.c, memory_sign) */
		if (rp->recorder)
			err = kc_recorder_eventf(rp->recorder, &node, have_pod ? &pod : NULL,
			                         KC_EVENT_WARNING, "UnaccountedMemoryKilled", "Kill",
			                         "firebreak-node killed %zu of its %zu processes on %s: %s; the "
			                         "kernel frees the memory with them, and kubelet restarts its "
			                         "containers on this node", killed, found, rp->node, why);
	} else {
		fb_log(FB_ERROR, "kill failed", "node=%s pod=%s processes=%zu why=%s", rp->node, uid, found,
		       fail_why);
		if (rp->recorder)
			err = kc_recorder_eventf(rp->recorder, have_pod ? &pod : &node, have_pod ? &node : NULL,
			                         KC_EVENT_WARNING, "UnaccountedMemoryKillFailed", "Kill",
			                         "firebreak-node could not kill the pod's %zu processes on %s: "
			                         "%s (%s)", found, rp->node, fail_why[0] ? fail_why
			                                                                 : "none found", why);
	}
	if (err != KC_OK)
		fb_log(FB_WARN, "event not recorded", "node=%s err=%s", rp->node, kc_strerror(err));
}

/* The strategic merge patch of the node's status with condition c (conditions merge
 * by type: corev1.NodeStatus.Conditions, patchMergeKey "type"). NULL on ENOMEM. */
static char *condition_patch(const fbn_condition *c, int64_t heartbeat_us, int64_t transition_us)
{
	char hb[KC_TIME_STR_MAX], tr[KC_TIME_STR_MAX];
	cJSON *root = cJSON_CreateObject();
	cJSON *st = root ? cJSON_AddObjectToObject(root, "status") : NULL;
	cJSON *arr = st ? cJSON_AddArrayToObject(st, "conditions") : NULL;
	cJSON *o = arr ? cJSON_CreateObject() : NULL;
	if (o && !cJSON_AddItemToArray(arr, o)) {
		cJSON_Delete(o);
		o = NULL;
	}
	char *text = NULL;
	if (o && cJSON_AddStringToObject(o, "type", FBN_CONDITION_TYPE) &&
	    cJSON_AddStringToObject(o, "status", c->status) &&
	    cJSON_AddStringToObject(o, "reason", c->reason) &&
	    cJSON_AddStringToObject(o, "message", c->message) &&
	    cJSON_AddStringToObject(o, "lastHeartbeatTime", kc_time_format(heartbeat_us, hb)) &&
	    cJSON_AddStringToObject(o, "lastTransitionTime", kc_time_format(transition_us, tr)))
		text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return text;
}

/* Write c; false (logged, counted) when the write failed. */
static bool write_condition(fbn_reporter *rp, const fbn_condition *c, int64_t wall_ms)
{
	int64_t now_us = wall_ms * 1000;
	bool turned = !rp->last.status || strcmp(rp->last.status, c->status) != 0;
	int64_t transition = turned || rp->transition_us <= 0 ? now_us : rp->transition_us;
	char *patch = condition_patch(c, now_us, transition);
	if (!patch) {
		fb_log(FB_ERROR, "out of memory writing the condition", NULL);
		return false;
	}
	kc_error_detail d = { 0 };
	kc_err err = kc_patch(rp->client, &KC_RES_NODES, NULL, rp->node, "status", KC_PATCH_STRATEGIC,
	                      patch, NULL, NULL, &d);
	cJSON_free(patch);
	fb_metrics_add(rp->metrics, "firebreak_node_condition_writes_total",
	               err == KC_OK ? "result=\"ok\"" : "result=\"error\"", 1);
	if (err != KC_OK) {
		fb_log_api_error(FB_WARN, "cannot write the node's condition; retried at the next sample",
		                 err, d.message, "node=%s", rp->node);
		return false;
	}
	bool news = !rp->written || fbn_condition_changed(&rp->last, c);
	rp->written = true;
	rp->last = *c;
	rp->last_write_ms = wall_ms;
	rp->transition_us = transition;
	if (news)
		fb_log(FB_INFO, "condition written", "node=%s status=%s reason=%s pod=%s", rp->node,
		       c->status, c->reason, c->pod_uid[0] ? c->pod_uid : "-");
	return true;
}

void fbn_reporter_withdraw(fbn_reporter *rp)
{
	if (!rp || !rp->written)
		return;
	if (rp->last.status && strcmp(rp->last.status, "True") == 0) {
		/* a naming is evidence, and a SIGTERM may come as the node goes down (a liveness
		 * restart, an eviction): it stays, and ages (the controller heeds one for an hour) */
		fb_log(FB_INFO, "condition kept: a naming stays until it ages", "node=%s", rp->node);
		return;
	}
	static const char patch[] = "{\"status\":{\"conditions\":[{\"type\":\"" FBN_CONDITION_TYPE
	                            "\",\"$patch\":\"delete\"}]}}";
	kc_error_detail d = { 0 };
	kc_err err = kc_patch(rp->client, &KC_RES_NODES, NULL, rp->node, "status", KC_PATCH_STRATEGIC,
	                      patch, NULL, NULL, &d);
	if (err != KC_OK) {
		fb_log_api_error(FB_WARN, "cannot withdraw the node's condition", err, d.message, "node=%s",
		                 rp->node);
		return;
	}
	rp->written = false;
	fb_log(FB_INFO, "condition withdrawn", "node=%s", rp->node);
}

/* An Event on the Node when the condition turns True, names another pod, or turns back. */
static void record_event(fbn_reporter *rp, const fbn_condition *before, bool had_before,
                         const fbn_condition *c)
{
	if (!rp->recorder)
		return;
	bool was_true = had_before && before->status && strcmp(before->status, "True") == 0;
	bool is_true = strcmp(c->status, "True") == 0;
	if (had_before && !fbn_condition_changed(before, c))
		return;
	if (!is_true && !was_true)
		return;
	kc_objref node = { .api_version = "v1", .kind = "Node", .name = rp->node,
		           .uid = rp->node_uid[0] ? rp->node_uid : NULL };
	kc_objref pod = { .api_version = "v1", .kind = "Pod" };
	char ns[POD_REF_MAX] = "";
	const kc_objref *related = NULL;
	if (c->pod_uid[0]) {
		look_up_pod(rp, c->pod_uid);
		char *slash = strchr(rp->named_ref, '/');
		if (slash) {
			snprintf(ns, sizeof(ns), "%.*s", (int)(slash - rp->named_ref), rp->named_ref);
			pod.namespace = ns;
			pod.name = slash + 1;
			pod.uid = c->pod_uid;
			related = &pod;
		}
	}
	kc_err err;
	if (!is_true)
		err = kc_recorder_eventf(rp->recorder, &node, NULL, KC_EVENT_NORMAL, c->reason,
		                         "Observe", "%s", c->message);
	else if (c->pod_uid[0])
		err = kc_recorder_eventf(rp->recorder, &node, related, KC_EVENT_WARNING,
		                         "UnaccountedMemory", "Attribute", "%s%s%s%s", c->message,
		                         rp->named_ref[0] ? " (pod " : "",
		                         rp->named_ref[0] ? rp->named_ref : "",
		                         rp->named_ref[0] ? ")" : "");
	else
		err = kc_recorder_eventf(rp->recorder, &node, NULL, KC_EVENT_WARNING, "UnaccountedMemory",
		                         "Observe", "%s", c->message);
	if (err != KC_OK)
		fb_log(FB_WARN, "event not recorded", "node=%s err=%s", rp->node, kc_strerror(err));
}

static void update_metrics(fbn_reporter *rp, const fbn_report *r, const fbn_trend *t,
                           const fbn_condition *c, double sample_seconds)
{
	fb_metrics *m = rp->metrics;
	fb_metrics_add(m, "firebreak_node_samples_total", NULL, 1);
	fb_metrics_observe(m, "firebreak_node_sample_duration_seconds", NULL, sample_seconds);
	if (r->unaccounted_known)
		fb_metrics_set(m, "firebreak_node_unaccounted_bytes", NULL, (double)r->unaccounted_kb * 1024);
	if (r->have_meminfo)
		fb_metrics_set(m, "firebreak_node_memory_total_bytes", NULL,
		               (double)r->mem.kb[FBN_MEM_TOTAL] * 1024);
	if (r->have_pods_usage)
		fb_metrics_set(m, "firebreak_node_pods_memory_bytes", NULL, (double)r->pods_usage_bytes);
	if (r->psi.some.present)
		fb_metrics_set(m, "firebreak_node_memory_pressure_avg10", "kind=\"some\"", r->psi.some.avg10);
	if (r->psi.full.present)
		fb_metrics_set(m, "firebreak_node_memory_pressure_avg10", "kind=\"full\"", r->psi.full.avg10);
	if (t->have_rates) {
		fb_metrics_set(m, "firebreak_node_major_faults_per_second", NULL, t->majfault_per_s);
		fb_metrics_set(m, "firebreak_node_refaults_per_second", NULL, t->refault_per_s);
	}
	if (t->have_growth)
		fb_metrics_set(m, "firebreak_node_unaccounted_growth_bytes_per_minute", NULL,
		               t->growth_kb_per_min * 1024);
	if (r->holders.scanned) {
		size_t pods = 0;
		for (size_t i = 0; i < r->holders.n; i++)
			pods += r->holders.v[i].pod_uid[0] != '\0';
		fb_metrics_set(m, "firebreak_node_gpu_holder_pods", NULL, (double)(pods + r->holders.dropped));
	}
	char lbl[160];
	fb_metrics_reset(m, "firebreak_node_condition");
	snprintf(lbl, sizeof(lbl), "status=\"%s\",reason=\"%s\"", c->status, c->reason);
	fb_metrics_set(m, "firebreak_node_condition", lbl, 1);
	fb_metrics_reset(m, "firebreak_node_attributed");
	if (c->pod_uid[0]) {
		snprintf(lbl, sizeof(lbl), "pod_uid=\"%s\",basis=\"%s\"", c->pod_uid, c->reason);
		fb_metrics_set(m, "firebreak_node_attributed", lbl, 1);
	}
}

void fbn_reporter_sample(fbn_reporter *rp, const fbn_report *r, const fbn_trend *t,
                         int64_t wall_ms, double sample_seconds)
{
	fbn_condition c;
	fbn_condition_of(r, &c);
	update_metrics(rp, r, t, &c, sample_seconds);
	bool had = rp->written;
	fbn_condition before = rp->last;
	bool due = !rp->written || fbn_condition_changed(&rp->last, &c) ||
	           wall_ms - rp->last_write_ms >= rp->heartbeat_ms || wall_ms < rp->last_write_ms;
	if (!due)
		return;
	if (write_condition(rp, &c, wall_ms))
		record_event(rp, &before, had, &c);
}
