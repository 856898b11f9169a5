/* Projections of API objects into what the core needs (shell/project.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc/alloc.h"
#include "kctest.h"
#include "project.h"

static int64_t tol(const char *json, const char *key)
{
	cJSON *t = cJSON_Parse(json);
	int64_t v = fb_toleration_s(t, key);
	cJSON_Delete(t);
	return v;
}

KT_TEST(toleration_matching_follows_tolerates_taint)
{
	/* what the DefaultTolerationSeconds admission plugin adds */
	const char *defaults =
		"[{\"key\":\"node.kubernetes.io/not-ready\",\"operator\":\"Exists\","
		"\"effect\":\"NoExecute\",\"tolerationSeconds\":300},"
		"{\"key\":\"node.kubernetes.io/unreachable\",\"operator\":\"Exists\","
		"\"effect\":\"NoExecute\",\"tolerationSeconds\":300}]";
	KT_EQ_INT(tol(defaults, FB_TAINT_NOT_READY), 300);
	KT_EQ_INT(tol(defaults, FB_TAINT_UNREACHABLE), 300);
	KT_EQ_INT(tol("[]", FB_TAINT_NOT_READY), FB_TOL_NONE);
	KT_EQ_INT(tol("null", FB_TAINT_NOT_READY), FB_TOL_NONE);
	/* empty key + Exists tolerates everything, forever */
	KT_EQ_INT(tol("[{\"operator\":\"Exists\"}]", FB_TAINT_UNREACHABLE), FB_TOL_FOREVER);
	/* NoSchedule tolerations do not count */
	KT_EQ_INT(tol("[{\"key\":\"node.kubernetes.io/unreachable\",\"operator\":\"Exists\","
	              "\"effect\":\"NoSchedule\"}]", FB_TAINT_UNREACHABLE), FB_TOL_NONE);
	/* Equal needs the taint's (empty) value */
	KT_EQ_INT(tol("[{\"key\":\"node.kubernetes.io/unreachable\",\"operator\":\"Equal\","
	              "\"value\":\"x\",\"effect\":\"NoExecute\"}]", FB_TAINT_UNREACHABLE), FB_TOL_NONE);
	/* the first matching toleration decides (GetMatchingTolerations takes one per taint):
	 * a wildcard without seconds first is forever, whatever follows */
	KT_EQ_INT(tol("[{\"operator\":\"Exists\",\"effect\":\"NoExecute\"},"
	              "{\"key\":\"node.kubernetes.io/unreachable\",\"operator\":\"Exists\","
	              "\"tolerationSeconds\":60},{\"operator\":\"Exists\",\"tolerationSeconds\":120}]",
	              FB_TAINT_UNREACHABLE), FB_TOL_FOREVER);
	/* ... and a later, shorter one does not shorten the first */
	KT_EQ_INT(tol("[{\"key\":\"node.kubernetes.io/unreachable\",\"operator\":\"Exists\","
	              "\"effect\":\"NoExecute\",\"tolerationSeconds\":600},"
	              "{\"operator\":\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":60}]",
	              FB_TAINT_UNREACHABLE), 600);
	/* negative or zero seconds: at once */
	KT_EQ_INT(tol("[{\"operator\":\"Exists\",\"tolerationSeconds\":-5}]", FB_TAINT_NOT_READY), 0);
	/* other keys do not match */
	KT_EQ_INT(tol("[{\"key\":\"gpu\",\"operator\":\"Exists\"}]", FB_TAINT_NOT_READY), FB_TOL_NONE);
}

KT_TEST(node_projection_keeps_zone_labels_and_ready)
{
	cJSON *obj = cJSON_Parse(
		"{\"metadata\":{\"name\":\"n1\",\"uid\":\"u1\",\"labels\":{"
		"\"topology.kubernetes.io/zone\":\"z1\",\"failure-domain.beta.kubernetes.io/region\":\"r\","
		"\"pool\":\"gpu\"}},\"status\":{\"conditions\":["
		"{\"type\":\"MemoryPressure\",\"status\":\"True\"},"
		"{\"type\":\"Ready\",\"status\":\"Unknown\",\"lastTransitionTime\":\"2026-11-23T01:00:00Z\"}]}}");
	fb_node_proj *n = fb_project_node(obj, NULL);
	KT_CHECK(n != NULL);
	KT_EQ_STR(n->name, "n1");
	KT_EQ_STR(n->zone, "z1");
	KT_EQ_STR(n->region, "r");
	KT_EQ_STR(fb_labels_get(&n->labels, "pool"), "gpu");
	KT_EQ_INT(n->ready, FB_COND_UNKNOWN);
	KT_CHECK(n->memory_pressure);
	KT_EQ_INT(n->ready_transition_ms, 1795395600000LL);
	fb_node_proj_free(n, NULL);
	cJSON_Delete(obj);
}

/* The pod UID of firebreak-node's condition `cond` (JSON) on a node, and its time. */
static const char *node_attribution(const char *cond, int64_t *at)
{
	static char uid[40];
	char json[1024];
	snprintf(json, sizeof(json),
	         "{\"metadata\":{\"name\":\"n1\"},\"status\":{\"conditions\":[%s]}}", cond);
	cJSON *obj = cJSON_Parse(json);
	fb_node_proj *n = obj ? fb_project_node(obj, NULL) : NULL;
	KT_CHECK(n != NULL);
	fb_node_obs o;
	if (n)
		fb_node_proj_obs(n, &o);
	snprintf(uid, sizeof(uid), "%s", n ? o.attributed_pod_uid : "?");
	*at = n ? o.attributed_ms : -1;
	fb_node_proj_free(n, NULL);
	cJSON_Delete(obj);
	return uid;
}

/*
 * firebreak-node's condition UnaccountedMemory: the pod it names, when it last said so; a
 * condition on other grounds, False, or with a message that does not begin with a pod UID,
 * names none.
 */
KT_TEST(node_projection_reads_the_agents_attribution)
{
	int64_t at;
	const char *ok = "{\"type\":\"UnaccountedMemory\",\"status\":\"True\","
	                 "\"reason\":\"ArrivedBeforeGrowth\",\"message\":\"pod "
	                 "7c9e6679-7425-40de-944b-e07fc1f90ae7: 31.0 GiB charged to no cgroup\","
	                 "\"lastHeartbeatTime\":\"2026-11-23T01:00:00Z\","
	                 "\"lastTransitionTime\":\"2026-11-23T00:00:00Z\"}";
	KT_EQ_STR(node_attribution(ok, &at), "7c9e6679-7425-40de-944b-e07fc1f90ae7");
	KT_EQ_INT(at, 1795395600000LL);
	const char *no_heartbeat = "{\"type\":\"UnaccountedMemory\",\"status\":\"True\","
	                           "\"reason\":\"OnlyHolder\",\"message\":\"pod "
	                           "7c9e6679-7425-40de-944b-e07fc1f90ae7: x\","
	                           "\"lastTransitionTime\":\"2026-11-23T00:00:00Z\"}";
	KT_EQ_STR(node_attribution(no_heartbeat, &at), "7c9e6679-7425-40de-944b-e07fc1f90ae7");
	KT_EQ_INT(at, 1795392000000LL);
	const char *none[] = {
		"{\"type\":\"UnaccountedMemory\",\"status\":\"True\",\"reason\":\"NotAttributed\","
		"\"message\":\"pod 7c9e6679-7425-40de-944b-e07fc1f90ae7: x\","
		"\"lastHeartbeatTime\":\"2026-11-23T01:00:00Z\"}",
		"{\"type\":\"UnaccountedMemory\",\"status\":\"False\",\"reason\":\"OnlyHolder\","
		"\"message\":\"pod 7c9e6679-7425-40de-944b-e07fc1f90ae7: x\","
		"\"lastHeartbeatTime\":\"2026-11-23T01:00:00Z\"}",
		"{\"type\":\"UnaccountedMemory\",\"status\":\"True\",\"reason\":\"OnlyHolder\","
		"\"message\":\"pod 7c9e6679-7425-40de-944b-e07fc1f90ae: x\","
		"\"lastHeartbeatTime\":\"2026-11-23T01:00:00Z\"}",
		"{\"type\":\"UnaccountedMemory\",\"status\":\"True\",\"reason\":\"OnlyHolder\","
		"\"message\":\"pod 7C9E6679-7425-40de-944b-e07fc1f90ae7: x\","
		"\"lastHeartbeatTime\":\"2026-11-23T01:00:00Z\"}",
		"{\"type\":\"UnaccountedMemory\",\"status\":\"True\",\"reason\":\"OnlyHolder\","
		"\"message\":\"pod 7c9e6679-7425-40de-944b-e07fc1f90ae7: x\"}",
		"{\"type\":\"UnaccountedMemory\",\"status\":\"True\",\"reason\":\"OnlyHolder\","
		"\"message\":7,\"lastHeartbeatTime\":\"2026-11-23T01:00:00Z\"}",
	};
	for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		KT_EQ_STR(node_attribution(none[i], &at), "");
		KT_EQ_INT(at, 0);
	}
}

KT_TEST(pod_projection_sees_owner_daemonset_mirror_and_arrival)
{
	cJSON *obj = cJSON_Parse(
		"{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"shop\",\"uid\":\"pu\","
		"\"creationTimestamp\":\"2026-11-23T00:00:00Z\","
		"\"ownerReferences\":[{\"kind\":\"Other\",\"name\":\"x\"},"
		"{\"kind\":\"ReplicaSet\",\"name\":\"web-abc\",\"controller\":true}]},"
		"\"spec\":{\"nodeName\":\"n1\",\"tolerations\":[{\"operator\":\"Exists\"}]},"
		"\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"PodScheduled\","
		"\"status\":\"True\",\"lastTransitionTime\":\"2026-11-23T00:00:05Z\"}]}}");
	fb_pod_proj *p = fb_project_pod(obj, NULL);
	KT_CHECK(p != NULL);
	KT_EQ_STR(p->owner_kind, "ReplicaSet");
	KT_EQ_STR(p->owner_name, "web-abc");
	KT_EQ_STR(p->node, "n1");
	KT_CHECK(!p->daemonset && !p->mirror && !p->terminating && !p->terminal);
	KT_EQ_INT(p->tol_unreachable_s, FB_TOL_FOREVER);
	KT_EQ_INT(p->arrived_ms, 1795392005000LL);
	fb_pod_obs o;
	fb_workload_ref wl;
	fb_pod_proj_obs(p, &o, &wl);
	KT_CHECK(o.workload == &wl);
	KT_EQ_STR(wl.kind, "ReplicaSet");
	KT_EQ_STR(wl.ns, "shop");
	KT_EQ_STR(wl.name, "web-abc");
	fb_pod_proj_free(p, NULL);
	cJSON_Delete(obj);

	obj = cJSON_Parse("{\"metadata\":{\"name\":\"agent\",\"namespace\":\"kube-system\","
	                  "\"deletionTimestamp\":\"2026-11-23T00:00:00Z\","
	                  "\"annotations\":{\"kubernetes.io/config.mirror\":\"abc\"},"
	                  "\"ownerReferences\":[{\"kind\":\"DaemonSet\",\"name\":\"d\",\"controller\":true}]},"
	                  "\"status\":{\"phase\":\"Failed\"}}");
	p = fb_project_pod(obj, NULL);
	KT_CHECK(p && p->daemonset && p->mirror && p->terminating && p->terminal);
	fb_pod_proj_free(p, NULL);
	cJSON_Delete(obj);
}

/* A pod with tolerations TOLS (JSON) and the annotation value ANN (NULL: none). */
static fb_pod_proj *managed_pod(const char *tols, const char *ann, const fb_pod_project_opts *o)
{
	char buf[2048];
	char anns[256] = "";
	if (ann)
		snprintf(anns, sizeof(anns), ",\"annotations\":{\"firebreak.dev/toleration-seconds\":\"%s\"}",
		         ann);
	snprintf(buf, sizeof(buf),
	         "{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\",\"uid\":\"u\","
	         "\"resourceVersion\":\"42\"%s},\"spec\":{\"tolerations\":%s}}",
	         anns, tols);
	cJSON *obj = cJSON_Parse(buf);
	fb_pod_proj *p = fb_project_pod(obj, (void *)o);
	cJSON_Delete(obj);
	return p;
}

#define DEFAULTS "[{\"key\":\"node.kubernetes.io/not-ready\",\"operator\":\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":300},{\"key\":\"node.kubernetes.io/unreachable\",\"operator\":\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":300}]"
#define COVERED "[{\"key\":\"node.kubernetes.io/not-ready\",\"operator\":\"Exists\",\"effect\":\"NoExecute\"},{\"key\":\"node.kubernetes.io/unreachable\",\"operator\":\"Exists\",\"effect\":\"NoExecute\"}]"

KT_TEST(pod_projection_reads_the_whole_times_of_a_shortened_pod)
{
	/* given back on a failed node: 12 s left of not-ready's 300 in the spec, the 300 kept */
	static const fb_pod_project_opts managed = { .managed = true, .default_s = 300 };
	const char *spec = "[{\"key\":\"node.kubernetes.io/not-ready\",\"operator\":\"Exists\","
	                   "\"effect\":\"NoExecute\",\"tolerationSeconds\":12}]";
	char buf[1024];
	snprintf(buf, sizeof(buf),
	         "{\"metadata\":{\"name\":\"p\",\"uid\":\"u\",\"resourceVersion\":\"4\","
	         "\"annotations\":{\"" FB_ANNOTATION_TOLERATIONS_FULL "\":\"%s\"}},"
	         "\"spec\":{\"tolerations\":%s}}", "not-ready=300", spec);
	cJSON *obj = cJSON_Parse(buf);
	fb_pod_proj *p = fb_project_pod(obj, (void *)&managed);
	KT_CHECK(p && p->shortened && p->full.not_ready_s == 300);
	/* evicted at failedSince + 300, as Kubernetes now evicts it (its clock started at the
	 * restore); the spec kept for the write that lengthens it */
	KT_CHECK(p && p->tol_not_ready_s == 300 && p->tol_unreachable_s == FB_TOL_NONE);
	KT_CHECK(p && p->k8s_evicts && !p->annotated && p->tolerations && p->resource_version);
	fb_pod_proj_free(p, NULL);
	cJSON_Delete(obj);
	/* an unreadable one is not a shortened pod: the spec decides */
	snprintf(buf, sizeof(buf),
	         "{\"metadata\":{\"name\":\"p\",\"uid\":\"u\",\"annotations\":{\""
	         FB_ANNOTATION_TOLERATIONS_FULL "\":\"x=1\"}},\"spec\":{\"tolerations\":%s}}", spec);
	obj = cJSON_Parse(buf);
	p = fb_project_pod(obj, (void *)&managed);
	KT_CHECK(p && !p->shortened && p->tol_not_ready_s == 12);
	fb_pod_proj_free(p, NULL);
	cJSON_Delete(obj);
}

KT_TEST(pod_projection_reads_the_managed_record)
{
	fb_pod_project_opts managed = { .managed = true, .default_s = 300 };
	fb_pod_project_opts off = { .managed = false, .default_s = 300 };
	/* covered: forever in the spec, the record gives the seconds; nothing kept */
	fb_pod_proj *p = managed_pod(COVERED, "not-ready=60,unreachable=900", &managed);
	KT_CHECK(p && p->annotated && !p->k8s_evicts && !p->record_malformed);
	KT_EQ_INT(p->tol_not_ready_s, 60);
	KT_EQ_INT(p->tol_unreachable_s, 900);
	KT_CHECK(p && !p->tolerations && !p->resource_version);
	fb_pod_obs o;
	fb_workload_ref wl;
	fb_pod_proj_obs(p, &o, &wl);
	KT_CHECK(o.annotated && !o.k8s_evicts && o.tol_not_ready_s == 60);
	fb_pod_proj_free(p, NULL);
	/* ... and without managed mode it is kept, to be restored */
	p = managed_pod(COVERED, "not-ready=60,unreachable=900", &off);
	KT_CHECK(p && p->tolerations);
	KT_EQ_STR(p ? p->resource_version : NULL, "42");
	cJSON *kept = p ? cJSON_Parse(p->tolerations) : NULL;
	KT_CHECK(cJSON_IsArray(kept) && cJSON_GetArraySize(kept) == 2);
	cJSON_Delete(kept);
	fb_pod_proj_free(p, NULL);
	/* not covered (the spec has seconds): the spec wins, kept in managed mode only */
	p = managed_pod(DEFAULTS, NULL, &managed);
	KT_CHECK(p && p->k8s_evicts && !p->annotated && p->tol_not_ready_s == 300);
	KT_CHECK(p && p->tolerations && strstr(p->tolerations, "tolerationSeconds"));
	fb_pod_proj_free(p, NULL);
	p = managed_pod(DEFAULTS, NULL, &off);
	KT_CHECK(p && p->k8s_evicts && !p->tolerations && !p->resource_version);
	fb_pod_proj_free(p, NULL);
	p = managed_pod(DEFAULTS, NULL, NULL); /* the webhook's own projection: nothing kept */
	KT_CHECK(p && !p->tolerations);
	fb_pod_proj_free(p, NULL);
	/* restored by someone (seconds back) while the record stays: the spec wins */
	p = managed_pod(DEFAULTS, "not-ready=60,unreachable=900", &managed);
	KT_CHECK(p && p->k8s_evicts && p->tol_not_ready_s == 300 && p->tol_unreachable_s == 300);
	fb_pod_proj_free(p, NULL);
	/* a record of one key: the other keeps the spec's forever */
	p = managed_pod(COVERED, "unreachable=30", &managed);
	KT_CHECK(p && p->tol_not_ready_s == FB_TOL_FOREVER && p->tol_unreachable_s == 30);
	fb_pod_proj_free(p, NULL);
	/* a malformed record (damaged since the webhook saw the pod): both keys at the default,
	 * so that a covered pod is still evicted, and given back, rather than tolerating forever */
	fb_pod_project_opts d120 = { .managed = true, .default_s = 120 };
	p = managed_pod(COVERED, "not-ready=soon", &d120);
	KT_CHECK(p && p->annotated && p->record_malformed);
	KT_CHECK(p && p->tol_not_ready_s == 120 && p->tol_unreachable_s == 120);
	fb_pod_proj_free(p, NULL);
	/* no tolerations at all: kept as "[]" in managed mode (Kubernetes evicts it at once) */
	p = managed_pod("null", NULL, &managed);
	KT_CHECK(p && p->k8s_evicts && p->tol_not_ready_s == FB_TOL_NONE);
	KT_CHECK(p && p->tolerations && strcmp(p->tolerations, "[]") == 0);
	fb_pod_proj_free(p, NULL);
}

#define NR_FOREVER "{\"key\":\"node.kubernetes.io/not-ready\",\"operator\":\"Exists\",\"effect\":\"NoExecute\"}"
#define UR_60 "{\"key\":\"node.kubernetes.io/unreachable\",\"operator\":\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":60}"

KT_TEST(pod_projection_with_each_option)
{
	static const fb_pod_project_opts managed = { .managed = true, .default_s = 300 };
	static const fb_pod_project_opts off = { .managed = false, .default_s = 300 };
	static const fb_pod_project_opts managed_90 = { .managed = true, .default_s = 90 };
	static const fb_pod_project_opts off_90 = { .managed = false, .default_s = 90 };
	static const struct {
		const char *tols, *ann;         /* ann NULL: no annotation */
		const fb_pod_project_opts *o;   /* NULL: the defaults */
		int64_t nr, ur;                 /* tol_*_s */
		bool evicts, annotated, malformed, kept;
	} cases[] = {
		/* covered: the record's seconds, whatever the options; kept only to be restored */
		{ COVERED, "not-ready=60,unreachable=900", NULL, 60, 900, false, true, false, false },
		{ COVERED, "not-ready=60,unreachable=900", &managed, 60, 900, false, true, false, false },
		{ COVERED, "not-ready=60,unreachable=900", &off, 60, 900, false, true, false, true },
		/* a record of 0: evicted at once by firebreak, never by Kubernetes */
		{ COVERED, "not-ready=0,unreachable=0", &managed, 0, 0, false, true, false, false },
		/* the spec's seconds win over a record (restored, or never covered) */
		{ DEFAULTS, "not-ready=60,unreachable=900", NULL, 300, 300, true, true, false, false },
		{ DEFAULTS, "not-ready=60,unreachable=900", &managed, 300, 300, true, true, false, true },
		{ DEFAULTS, "not-ready=60,unreachable=900", &off, 300, 300, true, true, false, true },
		/* one key covered, the other finite: each read on its own */
		{ "[" NR_FOREVER "," UR_60 "]", "not-ready=45", &managed, 45, 60, true, true, false, true },
		{ "[" NR_FOREVER "," UR_60 "]", NULL, &managed, FB_TOL_FOREVER, 60, true, false, false, true },
		{ "[" NR_FOREVER "," UR_60 "]", NULL, &off, FB_TOL_FOREVER, 60, true, false, false, false },
		/* no record: the spec as it is */
		{ DEFAULTS, NULL, NULL, 300, 300, true, false, false, false },
		{ DEFAULTS, NULL, &managed, 300, 300, true, false, false, true },
		{ DEFAULTS, NULL, &off, 300, 300, true, false, false, false },
		{ "[{\"operator\":\"Exists\"}]", NULL, &managed, FB_TOL_FOREVER, FB_TOL_FOREVER, false,
		  false, false, false },
		{ "[{\"operator\":\"Exists\"}]", NULL, &off, FB_TOL_FOREVER, FB_TOL_FOREVER, false,
		  false, false, false },
		{ "[]", NULL, &managed, FB_TOL_NONE, FB_TOL_NONE, true, false, false, true },
		/* a record of no use (not ours, or damaged): the default for both keys of a pod that
		 * tolerates them forever (FB_DEFAULT_TOLERATION_S without options), and reported */
		{ COVERED, "not-ready=soon", NULL, FB_DEFAULT_TOLERATION_S, FB_DEFAULT_TOLERATION_S,
		  false, true, true, false },
		{ COVERED, "not-ready=soon", &managed_90, 90, 90, false, true, true, false },
		{ COVERED, "", &off_90, 90, 90, false, true, true, true },
		{ COVERED, "unreachable=5,unreachable=6", &managed_90, 90, 90, false, true, true, false },
		/* ... but not over the spec's own seconds */
		{ DEFAULTS, "garbage", &managed_90, 300, 300, true, true, true, true },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int failed_before = kt_failed_checks_;
		fb_pod_proj *p = managed_pod(cases[i].tols, cases[i].ann, cases[i].o);
		KT_CHECK(p != NULL);
		if (!p)
			continue;
		KT_EQ_INT(p->tol_not_ready_s, cases[i].nr);
		KT_EQ_INT(p->tol_unreachable_s, cases[i].ur);
		KT_EQ_INT(p->k8s_evicts, cases[i].evicts);
		KT_EQ_INT(p->annotated, cases[i].annotated);
		KT_EQ_INT(p->record_malformed, cases[i].malformed);
		if (cases[i].kept) {
			/* the spec's tolerations as they are, and the precondition of the write */
			cJSON *kept = cJSON_Parse(p->tolerations ? p->tolerations : "");
			cJSON *spec = cJSON_Parse(cases[i].tols);
			KT_CHECK(kept && spec && cJSON_Compare(kept, spec, true));
			cJSON_Delete(kept);
			cJSON_Delete(spec);
			KT_EQ_STR(p->resource_version, "42");
		} else {
			KT_CHECK(p->tolerations == NULL);
			KT_CHECK(p->resource_version == NULL);
		}
		/* the core sees the same */
		fb_pod_obs o;
		fb_workload_ref wl;
		fb_pod_proj_obs(p, &o, &wl);
		KT_EQ_INT(o.tol_not_ready_s, cases[i].nr);
		KT_EQ_INT(o.tol_unreachable_s, cases[i].ur);
		KT_EQ_INT(o.k8s_evicts, cases[i].evicts);
		KT_EQ_INT(o.annotated, cases[i].annotated);
		fb_pod_proj_free(p, NULL);
		if (kt_failed_checks_ != failed_before)
			fprintf(stderr, "  ^ case %zu\n", i);
	}
}

KT_TEST(pod_projection_keeping_tolerations_survives_allocation_failure)
{
	static const fb_pod_project_opts managed = { .managed = true, .default_s = 300 };
	cJSON *obj = cJSON_Parse("{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\","
	                         "\"resourceVersion\":\"42\"},\"spec\":{\"tolerations\":" DEFAULTS "}}");
	int ok_at = -1;
	for (long n = 0; n < 200 && ok_at < 0; n++) {
		kc_alloc_fail_after(n);
		fb_pod_proj *p = fb_project_pod(obj, (void *)&managed);
		kc_alloc_fail_reset();
		if (p) {
			/* never a projection without what the write needs */
			KT_CHECK(p->tolerations && p->resource_version);
			if (!kc_alloc_fail_triggered())
				ok_at = (int)n;
		}
		fb_pod_proj_free(p, NULL);
	}
	KT_CHECK(ok_at > 3);
	cJSON_Delete(obj);
}

static const char *workload_of(const char *meta_json)
{
	static char wl[FB_WORKLOAD_ID_MAX];
	char buf[1024];
	snprintf(buf, sizeof(buf), "{\"metadata\":%s}", meta_json);
	cJSON *obj = cJSON_Parse(buf);
	fb_pod_proj *p = fb_project_pod(obj, NULL);
	fb_pod_obs o;
	fb_workload_ref ref;
	snprintf(wl, sizeof(wl), "(null)");
	if (p) {
		fb_pod_proj_obs(p, &o, &ref);
		if (o.workload)
			fb_workload_id(o.workload, wl);
	}
	fb_pod_proj_free(p, NULL);
	cJSON_Delete(obj);
	return wl;
}

KT_TEST(workload_identity_follows_controllers)
{
	KT_EQ_STR(workload_of("{\"name\":\"web-7d4b9-x\",\"namespace\":\"shop\","
	                      "\"labels\":{\"pod-template-hash\":\"7d4b9\"},"
	                      "\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"web-7d4b9\","
	                      "\"controller\":true}]}"),
	          "Deployment/shop/web");
	/* a ReplicaSet without the Deployment's hash label is its own workload */
	KT_EQ_STR(workload_of("{\"name\":\"x\",\"namespace\":\"shop\","
	                      "\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"web-7d4b9\","
	                      "\"controller\":true}]}"),
	          "ReplicaSet/shop/web-7d4b9");
	KT_EQ_STR(workload_of("{\"name\":\"x\",\"namespace\":\"ops\","
	                      "\"ownerReferences\":[{\"kind\":\"Job\",\"name\":\"backup-29387540\","
	                      "\"controller\":true}]}"),
	          "CronJob/ops/backup");
	KT_EQ_STR(workload_of("{\"name\":\"x\",\"namespace\":\"ops\","
	                      "\"ownerReferences\":[{\"kind\":\"Job\",\"name\":\"migrate-v2\","
	                      "\"controller\":true}]}"),
	          "Job/ops/migrate-v2");
	KT_EQ_STR(workload_of("{\"name\":\"db-0\",\"namespace\":\"d\","
	                      "\"ownerReferences\":[{\"kind\":\"StatefulSet\",\"name\":\"db\","
	                      "\"controller\":true}]}"),
	          "StatefulSet/d/db");
	KT_EQ_STR(workload_of("{\"name\":\"lonely\",\"namespace\":\"d\"}"), "Pod/d/lonely");
}

KT_TEST(budget_projection_reads_admissions_and_skips_damaged_ones)
{
	cJSON *obj = cJSON_Parse(
		"{\"metadata\":{\"name\":\"gpu\",\"generation\":3},\"spec\":{\"paused\":false},"
		"\"status\":{\"admissions\":[{\"node\":\"n1\",\"time\":\"2026-11-23T01:00:00.250Z\"},"
		"{\"node\":\"n2\"},{\"time\":\"garbage\"},7]}}");
	fb_budget_proj *b = fb_project_budget(obj, NULL);
	KT_CHECK(b != NULL);
	KT_EQ_INT(b->generation, 3);
	KT_EQ_INT(b->nadmissions, 1);
	KT_EQ_STR(b->admissions[0].node, "n1");
	KT_EQ_INT(b->admissions[0].at_ms, 1795395600250LL);
	fb_budget_proj_free(b, NULL);
	cJSON_Delete(obj);
}

KT_TEST(quarantine_projection_reads_action_count_and_phase)
{
	cJSON *obj = cJSON_Parse(
		"{\"metadata\":{\"name\":\"deployment-render\",\"namespace\":\"gpu\"},"
		"\"spec\":{\"workload\":{\"kind\":\"Deployment\",\"name\":\"render\"},"
		"\"action\":\"ScaleToZero\",\"release\":true},"
		"\"status\":{\"phase\":\"Released\",\"scaledFromReplicas\":3}}");
	fb_quarantine_proj *q = fb_project_quarantine(obj, NULL);
	KT_CHECK(q != NULL);
	fb_quarantine_obs o;
	KT_EQ_INT(fb_quarantine_proj_obs(q, &o), 0);
	KT_EQ_STR(o.ns, "gpu");
	KT_EQ_STR(o.name, "deployment-render");
	KT_EQ_STR(o.workload.kind, "Deployment");
	KT_EQ_STR(o.workload.ns, "gpu");
	KT_EQ_STR(o.workload.name, "render");
	KT_CHECK(o.released && o.phase_released);
	KT_EQ_INT(o.action, FB_POISON_SCALE_TO_ZERO);
	KT_EQ_INT(o.scaled_from, 3);
	fb_quarantine_proj_free(q, NULL);
	cJSON_Delete(obj);
	/* defaults, and values that are not what the schema allows */
	const char *odd[] = {
		"{\"metadata\":{\"name\":\"q\",\"namespace\":\"n\"},\"spec\":{}}",
		"{\"metadata\":{\"name\":\"q\",\"namespace\":\"n\"},\"spec\":{\"action\":\"Kill\"},"
		"\"status\":{\"scaledFromReplicas\":-1,\"phase\":7}}",
		"{\"metadata\":{\"name\":\"q\",\"namespace\":\"n\"},\"spec\":{\"action\":5},"
		"\"status\":{\"scaledFromReplicas\":1e300}}",
		"{\"metadata\":{\"name\":\"q\",\"namespace\":\"n\"},\"status\":{\"scaledFromReplicas\":\"3\"}}",
	};
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		obj = cJSON_Parse(odd[i]);
		q = fb_project_quarantine(obj, NULL);
		KT_CHECK(q != NULL);
		if (q) {
			KT_EQ_INT(q->action, FB_POISON_PIN);
			KT_EQ_INT(q->scaled_from, -1);
			KT_CHECK(!q->phase_released && !q->release);
			KT_CHECK(q->kind == NULL); /* no usable workload: ignored by the controller */
		}
		fb_quarantine_proj_free(q, NULL);
		cJSON_Delete(obj);
	}
}

/*
 * A malformed object and what each projection makes of it. name: the name a
 * projection must have (NULL: fb_project_node/pod/budget give NULL, not an object
 * they can key); every other field must have its default. budget_spec: the
 * budget's .spec copy, printed ("{}" when .spec is absent). A Quarantine is always
 * projected (NULL would mean "out of memory, retry" to the informer), with no
 * usable workload.
 */
typedef struct malformed {
	const char *json;
	const char *name;
	const char *budget_spec;
} malformed;

static const malformed malformed_inputs[] = {
	{ "null", NULL, NULL },
	{ "[]", NULL, NULL },
	{ "{}", NULL, NULL },
	{ "{\"metadata\":7}", NULL, NULL },
	{ "{\"metadata\":{\"name\":5}}", NULL, NULL },
	{ "{\"metadata\":{}}", NULL, NULL },
	{ "{\"metadata\":{\"name\":\"x\",\"labels\":[1,2]},\"status\":{\"conditions\":{}}}", "x",
	  "{}" },
	{ "{\"metadata\":{\"name\":\"x\",\"ownerReferences\":{}},\"spec\":{\"tolerations\":\"no\"}}",
	  "x", "{\"tolerations\":\"no\"}" },
	{ "{\"metadata\":{\"name\":\"x\"},\"status\":{\"admissions\":\"no\"}}", "x", "{}" },
};

static void expect_node_defaults(const fb_node_proj *n, const char *name)
{
	KT_CHECK((n != NULL) == (name != NULL));
	if (!n || !name)
		return;
	KT_EQ_STR(n->name, name);
	KT_CHECK(!n->uid && !n->region && !n->zone && n->labels.n == 0);
	KT_EQ_INT(n->ready, FB_COND_NONE);
	KT_EQ_INT(n->ready_transition_ms, 0);
	KT_CHECK(!n->exclude_disruption && !n->memory_pressure);
	KT_CHECK(!n->failure_annotation && !n->quarantine_taint);
}

static void expect_pod_defaults(const fb_pod_proj *p, const char *name)
{
	KT_CHECK((p != NULL) == (name != NULL));
	if (!p || !name)
		return;
	KT_EQ_STR(p->name, name);
	KT_CHECK(!p->ns && !p->uid && !p->node);
	KT_CHECK(!p->owner_kind && !p->owner_name && !p->template_hash);
	KT_CHECK(!p->daemonset && !p->mirror && !p->terminating && !p->terminal);
	KT_EQ_INT(p->tol_not_ready_s, FB_TOL_NONE);
	KT_EQ_INT(p->tol_unreachable_s, FB_TOL_NONE);
	KT_EQ_INT(p->arrived_ms, 0);
	fb_pod_obs o;
	fb_workload_ref wl;
	fb_pod_proj_obs(p, &o, &wl);
	KT_CHECK(o.workload == &wl); /* a bare pod, in no namespace */
	KT_EQ_STR(wl.kind, "Pod");
	KT_EQ_STR(wl.ns, "");
	KT_EQ_STR(wl.name, name);
}

static void expect_budget_defaults(const fb_budget_proj *b, const char *name, const char *spec)
{
	KT_CHECK((b != NULL) == (name != NULL));
	if (!b || !name)
		return;
	KT_EQ_STR(b->name, name);
	KT_EQ_INT(b->generation, 0);
	char *printed = cJSON_PrintUnformatted(b->spec);
	KT_EQ_STR(printed, spec);
	cJSON_free(printed);
	KT_CHECK(b->admissions == NULL);
	KT_EQ_INT(b->nadmissions, 0);
}

static void expect_quarantine_defaults(const fb_quarantine_proj *q, const char *name)
{
	KT_CHECK(q != NULL);
	if (!q)
		return;
	KT_CHECK(name ? q->name && !strcmp(q->name, name) : !q->name);
	KT_CHECK(!q->ns && !q->kind && !q->workload); /* ignored by the controller: */
	fb_quarantine_obs o;
	KT_EQ_INT(fb_quarantine_proj_obs(q, &o), -1);
	KT_CHECK(!q->release && !q->phase_released);
	KT_EQ_INT(q->action, FB_POISON_PIN);
	KT_EQ_INT(q->scaled_from, -1);
}

/* A pod kubelet evicted, as its eviction manager leaves it (pkg/kubelet/eviction: evictPod). */
static fb_pod_proj *evicted_pod(const char *phase, const char *message, const char *cond_reason)
{
	char buf[1024];
	snprintf(buf, sizeof(buf),
	         "{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\",\"uid\":\"u\"},"
	         "\"spec\":{\"nodeName\":\"n1\"},\"status\":{\"phase\":\"%s\",\"reason\":\"Evicted\","
	         "\"message\":\"%s\",\"conditions\":[{\"type\":\"DisruptionTarget\",\"status\":\"True\","
	         "\"reason\":\"%s\",\"lastTransitionTime\":\"2026-11-23T00:00:05Z\"}]}}",
	         phase, message, cond_reason);
	cJSON *obj = cJSON_Parse(buf);
	fb_pod_proj *p = fb_project_pod(obj, NULL);
	cJSON_Delete(obj);
	return p;
}

KT_TEST(pod_projection_sees_a_kubelet_eviction_for_memory)
{
	const char *mem = "The node was low on resource: memory. Threshold quantity: 100Mi, "
	                  "available: 52Mi. Container app was using 3Gi, request is 1Gi. ";
	fb_pod_proj *p = evicted_pod("Failed", mem, "TerminationByKubelet");
	KT_CHECK(p != NULL);
	KT_EQ_INT(p ? p->memory_evicted_ms : -1, 1795392005000LL);
	fb_pod_obs o;
	fb_workload_ref wl;
	if (p)
		fb_pod_proj_obs(p, &o, &wl);
	KT_EQ_INT(p ? o.memory_evicted_ms : -1, 1795392005000LL);
	fb_pod_proj_free(p, NULL);
	/* not for memory, not by kubelet, not failed (yet): no sign */
	p = evicted_pod("Failed", "The node was low on resource: ephemeral-storage. ",
	                "TerminationByKubelet");
	KT_EQ_INT(p ? p->memory_evicted_ms : -1, 0);
	fb_pod_proj_free(p, NULL);
	p = evicted_pod("Failed", mem, "EvictionByEvictionAPI");
	KT_EQ_INT(p ? p->memory_evicted_ms : -1, 0);
	fb_pod_proj_free(p, NULL);
	p = evicted_pod("Running", mem, "TerminationByKubelet");
	KT_EQ_INT(p ? p->memory_evicted_ms : -1, 0);
	fb_pod_proj_free(p, NULL);
}

static fb_event_proj *event(const char *json)
{
	cJSON *obj = cJSON_Parse(json);
	KT_CHECK(obj != NULL);
	fb_event_proj *e = fb_project_event(obj, NULL);
	cJSON_Delete(obj);
	KT_CHECK(e != NULL); /* never NULL but out of memory */
	return e;
}

KT_TEST(event_projection_keeps_the_signs_of_memory_pressure_only)
{
	/* kubelet's SystemOOM (legacy recorder: times in deprecated*Timestamp) */
	fb_event_proj *e = event(
		"{\"metadata\":{\"creationTimestamp\":\"2026-11-23T00:00:01Z\"},\"reason\":\"SystemOOM\","
		"\"note\":\"System OOM encountered, victim process: leak, pid: 4242\",\"type\":\"Warning\","
		"\"regarding\":{\"kind\":\"Node\",\"name\":\"n1\"},"
		"\"deprecatedFirstTimestamp\":\"2026-11-23T00:00:02Z\","
		"\"deprecatedLastTimestamp\":\"2026-11-23T00:00:05Z\"}");
	KT_EQ_STR(e->node, "n1");
	KT_EQ_STR(e->reason, "SystemOOM");
	KT_EQ_INT(e->at_ms, 1795392005000LL);
	fb_event_proj_free(e, NULL);
	/* a series: its last occurrence */
	e = event("{\"reason\":\"EvictionThresholdMet\",\"note\":\"Attempting to reclaim memory\","
	          "\"regarding\":{\"kind\":\"Node\",\"name\":\"n2\"},"
	          "\"eventTime\":\"2026-11-23T00:00:01.000000Z\","
	          "\"series\":{\"count\":3,\"lastObservedTime\":\"2026-11-23T00:00:09.500000Z\"}}");
	KT_EQ_STR(e->node, "n2");
	KT_EQ_INT(e->at_ms, 1795392009500LL);
	fb_event_proj_free(e, NULL);
	/* node-problem-detector: a global OOM counts, a container's own limit does not */
	e = event("{\"reason\":\"OOMKilling\",\"note\":\"Out of memory: Killed process 7 (leak) "
	          "total-vm:9kB\",\"regarding\":{\"kind\":\"Node\",\"name\":\"n3\"},"
	          "\"eventTime\":\"2026-11-23T00:00:01.000000Z\"}");
	KT_EQ_STR(e->node, "n3");
	fb_event_proj_free(e, NULL);
	/* firebreak-node's act mode: the node was about to thrash (a kill, or a kill forbidden) */
	e = event("{\"reason\":\"UnaccountedMemoryKilled\",\"reportingController\":"
	          "\"firebreak.dev/firebreak-node\",\"note\":\"firebreak-node killed 1 of its 1 ...\","
	          "\"regarding\":{\"kind\":\"Node\",\"name\":\"n4\"},"
	          "\"related\":{\"kind\":\"Pod\",\"name\":\"p\",\"namespace\":\"gpu\"},"
	          "\"eventTime\":\"2026-11-23T00:00:01.000000Z\"}");
	KT_EQ_STR(e->node, "n4");
	KT_EQ_STR(e->reason, "UnaccountedMemoryKilled");
	fb_event_proj_free(e, NULL);
	e = event("{\"reason\":\"UnaccountedMemoryNotKilled\",\"reportingController\":"
	          "\"firebreak.dev/firebreak-node\",\"regarding\":{\"kind\":\"Node\",\"name\":\"n5\"},"
	          "\"eventTime\":\"2026-11-23T00:00:01.000000Z\"}");
	KT_EQ_STR(e->node, "n5");
	fb_event_proj_free(e, NULL);
	const char *none[] = {
		/* the same reason from anyone else, and the agent's flag alone (not thrashing) */
		"{\"reason\":\"UnaccountedMemoryKilled\",\"reportingController\":\"someone\","
		"\"regarding\":{\"kind\":\"Node\",\"name\":\"n4\"},\"eventTime\":\"2026-11-23T00:00:01Z\"}",
		"{\"reason\":\"UnaccountedMemory\",\"reportingController\":\"firebreak.dev/firebreak-node\","
		"\"regarding\":{\"kind\":\"Node\",\"name\":\"n4\"},\"eventTime\":\"2026-11-23T00:00:01Z\"}",
		"{\"reason\":\"SystemOOM\",\"reportingController\":\"firebreak.dev/firebreak-node\","
		"\"regarding\":{\"kind\":\"Node\",\"name\":\"n4\"},\"eventTime\":\"2026-11-23T00:00:01Z\"}",
		"{\"reason\":\"OOMKilling\",\"note\":\"Memory cgroup out of memory: Killed process 7\","
		"\"regarding\":{\"kind\":\"Node\",\"name\":\"n3\"},\"eventTime\":\"2026-11-23T00:00:01Z\"}",
		"{\"reason\":\"EvictionThresholdMet\",\"note\":\"Attempting to reclaim ephemeral-storage\","
		"\"regarding\":{\"kind\":\"Node\",\"name\":\"n1\"},\"eventTime\":\"2026-11-23T00:00:01Z\"}",
		"{\"reason\":\"SystemOOM\",\"regarding\":{\"kind\":\"Pod\",\"name\":\"n1\"},"
		"\"eventTime\":\"2026-11-23T00:00:01Z\"}",
		"{\"reason\":\"SystemOOM\",\"regarding\":{\"kind\":\"Node\",\"name\":\"\"},"
		"\"eventTime\":\"2026-11-23T00:00:01Z\"}",
		"{\"reason\":\"SystemOOM\",\"regarding\":{\"kind\":\"Node\",\"name\":\"n1\"}}", /* when? */
		"{\"reason\":\"Rebooted\",\"regarding\":{\"kind\":\"Node\",\"name\":\"n1\"},"
		"\"eventTime\":\"2026-11-23T00:00:01Z\"}",
		"{\"reason\":7,\"regarding\":[\"Node\"],\"note\":{}}",
		"[]",
	};
	for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		e = event(none[i]);
		KT_CHECK(e->node == NULL);
		if (e->node)
			fprintf(stderr, "  ^ %s\n", none[i]);
		fb_event_proj_free(e, NULL);
	}
}

KT_TEST(malformed_objects_give_null_or_defaults_never_crash)
{
	for (size_t i = 0; i < sizeof(malformed_inputs) / sizeof(malformed_inputs[0]); i++) {
		const malformed *m = &malformed_inputs[i];
		int failed_before = kt_failed_checks_;
		cJSON *obj = cJSON_Parse(m->json);
		KT_CHECK(obj != NULL); /* valid JSON, malformed object */
		fb_node_proj *n = fb_project_node(obj, NULL);
		expect_node_defaults(n, m->name);
		fb_node_proj_free(n, NULL);
		fb_pod_proj *p = fb_project_pod(obj, NULL);
		expect_pod_defaults(p, m->name);
		fb_pod_proj_free(p, NULL);
		fb_budget_proj *b = fb_project_budget(obj, NULL);
		expect_budget_defaults(b, m->name, m->budget_spec);
		fb_budget_proj_free(b, NULL);
		fb_quarantine_proj *q = fb_project_quarantine(obj, NULL);
		expect_quarantine_defaults(q, m->name);
		fb_quarantine_proj_free(q, NULL);
		cJSON_Delete(obj);
		if (kt_failed_checks_ != failed_before)
			fprintf(stderr, "  ^ malformed input %zu: %s\n", i, m->json);
	}
}

KT_TEST(projection_survives_allocation_failure)
{
	cJSON *obj = cJSON_Parse("{\"metadata\":{\"name\":\"n1\",\"uid\":\"u\",\"labels\":{\"a\":\"b\","
	                         "\"topology.kubernetes.io/zone\":\"z\"}}}");
	int ok_at = -1;
	for (long n = 0; n < 64 && ok_at < 0; n++) {
		kc_alloc_fail_after(n);
		fb_node_proj *p = fb_project_node(obj, NULL);
		kc_alloc_fail_reset();
		if (p) {
			ok_at = (int)n;
			KT_EQ_STR(p->zone, "z");
		}
		fb_node_proj_free(p, NULL);
	}
	KT_CHECK(ok_at > 0);
	cJSON_Delete(obj);
}

int main(void)
{
	KT_RUN(toleration_matching_follows_tolerates_taint);
	KT_RUN(node_projection_keeps_zone_labels_and_ready);
	KT_RUN(pod_projection_sees_owner_daemonset_mirror_and_arrival);
	KT_RUN(pod_projection_reads_the_whole_times_of_a_shortened_pod);
	KT_RUN(pod_projection_reads_the_managed_record);
	KT_RUN(pod_projection_with_each_option);
	KT_RUN(pod_projection_keeping_tolerations_survives_allocation_failure);
	KT_RUN(workload_identity_follows_controllers);
	KT_RUN(budget_projection_reads_admissions_and_skips_damaged_ones);
	KT_RUN(quarantine_projection_reads_action_count_and_phase);
	KT_RUN(pod_projection_sees_a_kubelet_eviction_for_memory);
	KT_RUN(event_projection_keeps_the_signs_of_memory_pressure_only);
	KT_RUN(node_projection_reads_the_agents_attribution);
	KT_RUN(malformed_objects_give_null_or_defaults_never_crash);
	KT_RUN(projection_survives_allocation_failure);
	return KT_DONE();
}
