/* The AdmissionReview decoder and encoder of the admission webhook (admreview.h). */
#include <stdlib.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "admreview.h"
#include "project.h"
#include "kc/alloc.h"
#include "kctest.h"

#define UID "705ab4f5-6393-11e8-b7cc-42010a800002"

/* The gate callback: records what it was asked, answers `answer` (NULL: not quarantined). */
typedef struct gate_rec {
	int calls;
	fb_workload_ref asked;
	const char *answer;
} gate_rec;

static bool gate(void *ud, const fb_workload_ref *w, char quarantine[FB_NAME_MAX])
{
	gate_rec *g = ud;
	g->calls++;
	g->asked = *w;
	if (!g->answer)
		return false;
	snprintf(quarantine, FB_NAME_MAX, "%s", g->answer);
	return true;
}

/* One request: NULL fields take the defaults (a Pod CREATE in namespace shop). */
typedef struct rq {
	const char *group, *version, *kind, *op, *sub, *ns, *object;
	bool dry_run;
} rq;

static char *mk(const rq *r)
{
	size_t cap = 16384 + (r->object ? strlen(r->object) : 0);
	char *s = malloc(cap);
	char ns[128] = "";
	if (r->ns && *r->ns)
		snprintf(ns, sizeof(ns), ",\"namespace\":\"%s\"", r->ns);
	else if (!r->ns)
		snprintf(ns, sizeof(ns), ",\"namespace\":\"shop\"");
	snprintf(s, cap,
	         "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
	         "\"request\":{\"uid\":\"" UID "\","
	         "\"kind\":{\"group\":\"%s\",\"version\":\"%s\",\"kind\":\"%s\"},"
	         "\"resource\":{\"group\":\"\",\"version\":\"v1\",\"resource\":\"pods\"},"
	         "\"subResource\":\"%s\",\"operation\":\"%s\"%s,\"dryRun\":%s,"
	         "\"userInfo\":{\"username\":\"system:serviceaccount:kube-system:replicaset-controller\"},"
	         "\"object\":%s,\"oldObject\":null}}",
	         r->group ? r->group : "", r->version ? r->version : "v1",
	         r->kind ? r->kind : "Pod", r->sub ? r->sub : "", r->op ? r->op : "CREATE", ns,
	         r->dry_run ? "true" : "false",
	         r->object ? r->object
	                   : "{\"metadata\":{\"name\":\"lonely\"},\"spec\":{\"containers\":[]}}");
	return s;
}

/* Pods as the API server sends them at admission. */
#define POD_DEPLOYMENT                                                                       \
	"{\"metadata\":{\"generateName\":\"web-7d9f8c6b5-\",\"labels\":{\"app\":\"web\","  \
	"\"pod-template-hash\":\"7d9f8c6b5\"},\"ownerReferences\":[{\"apiVersion\":"       \
	"\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"web-7d9f8c6b5\",\"uid\":\"u1\","     \
	"\"controller\":true,\"blockOwnerDeletion\":true}]},"                                \
	"\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"nginx\"}]}}"
#define POD_CRONJOB                                                                          \
	"{\"metadata\":{\"generateName\":\"backup-28512345-\",\"labels\":{\"job-name\":"     \
	"\"backup-28512345\"},\"ownerReferences\":[{\"apiVersion\":\"batch/v1\",\"kind\":"   \
	"\"Job\",\"name\":\"backup-28512345\",\"uid\":\"u2\",\"controller\":true}]},"        \
	"\"spec\":{\"containers\":[]}}"
#define POD_STATEFULSET                                                                      \
	"{\"metadata\":{\"name\":\"db-0\",\"ownerReferences\":[{\"apiVersion\":\"apps/v1\"," \
	"\"kind\":\"StatefulSet\",\"name\":\"db\",\"uid\":\"u3\",\"controller\":true}]},"    \
	"\"spec\":{\"containers\":[]}}"
#define POD_DAEMONSET                                                                        \
	"{\"metadata\":{\"generateName\":\"agent-\",\"ownerReferences\":[{\"apiVersion\":"   \
	"\"apps/v1\",\"kind\":\"DaemonSet\",\"name\":\"agent\",\"uid\":\"u4\","              \
	"\"controller\":true}]},\"spec\":{\"containers\":[]}}"
#define POD_MIRROR                                                                           \
	"{\"metadata\":{\"name\":\"etcd-node1\",\"annotations\":{"                           \
	"\"kubernetes.io/config.mirror\":\"abc\"}},\"spec\":{\"nodeName\":\"node1\","        \
	"\"containers\":[]}}"

/* Base64 decoded (the patch), NUL-terminated; free(). */
static char *unbase64(const char *in)
{
	size_t n = strlen(in);
	unsigned char *out = calloc(1, n + 4);
	int len = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
	if (len < 0) {
		free(out);
		return NULL;
	}
	while (n > 0 && in[n - 1] == '=') {
		n--;
		len--;
	}
	out[len] = '\0';
	return (char *)out;
}

/* A review answered: the status, the outcome, and the response parsed. */
typedef struct answer {
	kc_err err;
	fb_adm_result res;
	cJSON *json;       /* the response, NULL on error */
	cJSON *response;   /* json.response */
	char *patch;       /* decoded response.patch, NULL if none */
} answer;

/* Managed mode for the reviews that follow (ask() passes it); NULL: off, fb_admreview_answer. */
static const fb_adm_options *managed_opts;

static answer ask(const char *body, size_t len, gate_rec *g)
{
	answer a = { 0 };
	char *out = (char *)"not touched";
	size_t out_len = 7;
	if (managed_opts) {
		fb_adm_options o = *managed_opts;
		o.gate = gate;
		o.ud = g;
		a.err = fb_admreview_answer_opts(body, len, &o, &a.res, &out, &out_len);
	} else {
		a.err = fb_admreview_answer(body, len, gate, g, &a.res, &out, &out_len);
	}
	if (a.err != KC_OK) {
		KT_CHECK(out == NULL);
		KT_EQ_INT(out_len, 0);
		return a;
	}
	KT_CHECK(out != NULL);
	KT_EQ_INT(out_len, out ? strlen(out) : 0);
	a.json = cJSON_Parse(out);
	kc_free(out);
	KT_CHECK(a.json != NULL);
	KT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(a.json, "apiVersion")),
	          "admission.k8s.io/v1");
	KT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(a.json, "kind")), "AdmissionReview");
	a.response = cJSON_GetObjectItem(a.json, "response");
	KT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(a.response, "uid")), UID);
	/* this webhook never denies */
	KT_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(a.response, "allowed")));
	const char *patch = cJSON_GetStringValue(cJSON_GetObjectItem(a.response, "patch"));
	if (patch) {
		KT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(a.response, "patchType")),
		          "JSONPatch");
		a.patch = unbase64(patch);
		KT_CHECK(a.patch != NULL);
	} else {
		KT_CHECK(!cJSON_GetObjectItem(a.response, "patchType"));
	}
	return a;
}

static answer ask_rq(const rq *r, gate_rec *g)
{
	char *body = mk(r);
	answer a = ask(body, strlen(body), g);
	free(body);
	return a;
}

static void answer_release(answer *a)
{
	cJSON_Delete(a->json);
	free(a->patch);
}

static const char *audit(const answer *a, const char *key)
{
	return cJSON_GetStringValue(
		cJSON_GetObjectItem(cJSON_GetObjectItem(a->response, "auditAnnotations"), key));
}

static const char *first_warning(const answer *a)
{
	return cJSON_GetStringValue(
		cJSON_GetArrayItem(cJSON_GetObjectItem(a->response, "warnings"), 0));
}

static void check_asked(const gate_rec *g, const char *kind, const char *ns, const char *name)
{
	KT_EQ_INT(g->calls, 1);
	KT_EQ_STR(g->asked.kind, kind);
	KT_EQ_STR(g->asked.ns, ns);
	KT_EQ_STR(g->asked.name, name);
}

#define PATCH_FIRST_GATE                                                                    \
	"[{\"op\":\"add\",\"path\":\"/spec/schedulingGates\",\"value\":[{\"name\":"          \
	"\"firebreak.dev/quarantine\"}]}]"
#define PATCH_MORE_GATES                                                                    \
	"[{\"op\":\"add\",\"path\":\"/spec/schedulingGates/-\",\"value\":{\"name\":"         \
	"\"firebreak.dev/quarantine\"}}]"

KT_TEST(deployment_pod_of_a_quarantined_workload_is_gated)
{
	gate_rec g = { .answer = "deployment-web-1a2b3c" };
	answer a = ask_rq(&(rq){ .object = POD_DEPLOYMENT }, &g);
	KT_EQ_INT(a.err, KC_OK);
	KT_EQ_INT(a.res.outcome, FB_ADM_GATED);
	/* no name and no namespace in the object: request.namespace, the ReplicaSet's Deployment */
	check_asked(&g, "Deployment", "shop", "web");
	KT_EQ_STR(a.patch, PATCH_FIRST_GATE);
	KT_EQ_STR(audit(&a, "quarantine"), "deployment-web-1a2b3c");
	KT_CHECK(first_warning(&a) && strstr(first_warning(&a), "Quarantine deployment-web-1a2b3c"));
	KT_EQ_STR(a.res.quarantine, "deployment-web-1a2b3c");
	KT_EQ_STR(a.res.uid, UID);
	KT_EQ_STR(a.res.ns, "shop");
	KT_EQ_STR(a.res.pod, "web-7d9f8c6b5-");
	KT_CHECK(!a.res.dry_run);
	answer_release(&a);
}

KT_TEST(deployment_pod_of_a_healthy_workload_is_allowed_unchanged)
{
	gate_rec g = { 0 };
	answer a = ask_rq(&(rq){ .object = POD_DEPLOYMENT }, &g);
	KT_EQ_INT(a.err, KC_OK);
	KT_EQ_INT(a.res.outcome, FB_ADM_NOT_QUARANTINED);
	check_asked(&g, "Deployment", "shop", "web");
	KT_CHECK(a.patch == NULL);
	KT_CHECK(!cJSON_GetObjectItem(a.response, "auditAnnotations"));
	KT_CHECK(!cJSON_GetObjectItem(a.response, "warnings"));
	answer_release(&a);
}

KT_TEST(workloads_are_named_as_the_core_names_them)
{
	static const struct {
		const char *object, *kind, *name;
	} cases[] = {
		{ POD_CRONJOB, "CronJob", "backup" },
		{ POD_STATEFULSET, "StatefulSet", "db" },
		{ "{\"metadata\":{\"name\":\"lonely\"},\"spec\":{}}", "Pod", "lonely" },
		/* a ReplicaSet whose hash does not match is itself the workload */
		{ "{\"metadata\":{\"generateName\":\"rs-\",\"labels\":{\"pod-template-hash\":\"x\"},"
		  "\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"plain\","
		  "\"controller\":true}]},\"spec\":{}}",
		  "ReplicaSet", "plain" },
		/* a Job not named by the cronjob controller */
		{ "{\"metadata\":{\"generateName\":\"j-\",\"ownerReferences\":[{\"kind\":\"Job\","
		  "\"name\":\"migrate\",\"controller\":true}]},\"spec\":{}}",
		  "Job", "migrate" },
		/* an owner that is not the controller is not the workload */
		{ "{\"metadata\":{\"name\":\"solo\",\"ownerReferences\":[{\"kind\":\"ConfigMap\","
		  "\"name\":\"cm\"}]},\"spec\":{}}",
		  "Pod", "solo" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		gate_rec g = { .answer = "q" };
		answer a = ask_rq(&(rq){ .object = cases[i].object }, &g);
		KT_EQ_INT(a.err, KC_OK);
		KT_EQ_INT(a.res.outcome, FB_ADM_GATED);
		check_asked(&g, cases[i].kind, "shop", cases[i].name);
		KT_EQ_STR(a.patch, PATCH_FIRST_GATE);
		answer_release(&a);
	}
}

KT_TEST(request_namespace_and_name_win_over_the_object)
{
	gate_rec g = { .answer = "q" };
	/* the request's namespace is the pod's; the request's name stands for a missing one */
	char *body = mk(&(rq){ .ns = "prod",
	                       .object = "{\"metadata\":{\"namespace\":\"other\"},\"spec\":{}}" });
	char *p = strstr(body, "\"dryRun\"");
	char *with_name = malloc(strlen(body) + 32);
	snprintf(with_name, strlen(body) + 32, "%.*s\"name\":\"given\",%s", (int)(p - body), body, p);
	answer a = ask(with_name, strlen(with_name), &g);
	KT_EQ_INT(a.err, KC_OK);
	check_asked(&g, "Pod", "prod", "given");
	KT_EQ_STR(a.res.pod, "given");
	answer_release(&a);
	free(with_name);
	free(body);
}

KT_TEST(daemonset_mirror_and_unnamed_bare_pods_are_never_asked)
{
	const char *objects[] = {
		POD_DAEMONSET,
		POD_MIRROR,
		/* a bare pod with only a generateName: no workload can be named yet */
		"{\"metadata\":{\"generateName\":\"tmp-\"},\"spec\":{}}",
		/* a workload name too long for a reference */
		NULL,
	};
	char longname[400];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	char longpod[600];
	snprintf(longpod, sizeof(longpod), "{\"metadata\":{\"name\":\"%s\"},\"spec\":{}}", longname);
	objects[3] = longpod;
	for (size_t i = 0; i < sizeof(objects) / sizeof(objects[0]); i++) {
		gate_rec g = { .answer = "q" };
		answer a = ask_rq(&(rq){ .object = objects[i] }, &g);
		KT_EQ_INT(a.err, KC_OK);
		KT_EQ_INT(a.res.outcome, FB_ADM_EXEMPT);
		KT_EQ_INT(g.calls, 0);
		KT_CHECK(a.patch == NULL);
		answer_release(&a);
	}
}

KT_TEST(a_pod_already_gated_gets_no_second_gate)
{
	gate_rec g = { .answer = "q" };
	answer a = ask_rq(&(rq){ .object = "{\"metadata\":{\"name\":\"p\"},\"spec\":{"
	                                   "\"schedulingGates\":[{\"name\":\"other.io/wait\"},"
	                                   "{\"name\":\"firebreak.dev/quarantine\"}]}}" },
	                  &g);
	KT_EQ_INT(a.err, KC_OK);
	KT_EQ_INT(a.res.outcome, FB_ADM_ALREADY_GATED);
	KT_EQ_INT(g.calls, 1);
	KT_CHECK(a.patch == NULL);
	KT_CHECK(!audit(&a, "quarantine"));
	answer_release(&a);
}

KT_TEST(a_pod_with_another_gate_gets_ours_appended)
{
	gate_rec g = { .answer = "q" };
	answer a = ask_rq(&(rq){ .object = "{\"metadata\":{\"name\":\"p\"},\"spec\":{"
	                                   "\"schedulingGates\":[{\"name\":\"other.io/wait\"}]}}" },
	                  &g);
	KT_EQ_INT(a.res.outcome, FB_ADM_GATED);
	KT_EQ_STR(a.patch, PATCH_MORE_GATES);
	answer_release(&a);
	/* null and an empty list are no gates: the list is added whole */
	const char *none[] = { "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"schedulingGates\":null}}",
	                       "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"schedulingGates\":[]}}" };
	for (size_t i = 0; i < 2; i++) {
		a = ask_rq(&(rq){ .object = none[i] }, &g);
		KT_EQ_INT(a.res.outcome, FB_ADM_GATED);
		KT_EQ_STR(a.patch, PATCH_FIRST_GATE);
		answer_release(&a);
	}
}

KT_TEST(dry_run_is_answered_as_the_real_request)
{
	gate_rec g = { .answer = "q" };
	answer a = ask_rq(&(rq){ .object = POD_DEPLOYMENT, .dry_run = true }, &g);
	KT_EQ_INT(a.err, KC_OK);
	KT_CHECK(a.res.dry_run);
	KT_EQ_INT(a.res.outcome, FB_ADM_GATED);
	KT_EQ_STR(a.patch, PATCH_FIRST_GATE);
	answer_release(&a);
}

KT_TEST(a_pod_naming_its_node_cannot_be_gated)
{
	gate_rec g = { .answer = "q" };
	answer a = ask_rq(&(rq){ .object = "{\"metadata\":{\"name\":\"pinned\"},\"spec\":{"
	                                   "\"nodeName\":\"node-3\"}}" },
	                  &g);
	KT_EQ_INT(a.err, KC_OK);
	KT_EQ_INT(a.res.outcome, FB_ADM_UNGATEABLE);
	KT_CHECK(a.patch == NULL); /* the API server would refuse nodeName + gates */
	KT_EQ_STR(audit(&a, "quarantine-ungated"), "q");
	KT_CHECK(first_warning(&a) && strstr(first_warning(&a), "spec.nodeName"));
	answer_release(&a);
}

KT_TEST(anything_but_a_pod_create_is_allowed_without_asking)
{
	const rq cases[] = {
		{ .op = "UPDATE" },
		{ .op = "DELETE" },
		{ .op = "CONNECT", .sub = "exec" },
		{ .sub = "binding" },
		{ .sub = "eviction", .kind = "Eviction", .group = "policy" },
		{ .kind = "Deployment", .group = "apps" },
		{ .version = "v2" },
		{ .group = "example.com" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		gate_rec g = { .answer = "q" };
		answer a = ask_rq(&cases[i], &g);
		KT_EQ_INT(a.err, KC_OK);
		KT_EQ_INT(a.res.outcome, FB_ADM_IGNORED);
		KT_EQ_INT(g.calls, 0);
		KT_CHECK(a.patch == NULL);
		answer_release(&a);
	}
	/* a namespace is not needed when nothing is asked */
	gate_rec g = { 0 };
	answer a = ask_rq(&(rq){ .ns = "", .kind = "Node" }, &g);
	KT_EQ_INT(a.err, KC_OK);
	answer_release(&a);
}

KT_TEST(malformed_reviews_are_refused_with_a_reason)
{
	char longuid[300];
	memset(longuid, 'u', sizeof(longuid) - 1);
	longuid[sizeof(longuid) - 1] = '\0';
	char longuid_body[600];
	snprintf(longuid_body, sizeof(longuid_body),
	         "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
	         "\"request\":{\"uid\":\"%s\",\"kind\":{\"version\":\"v1\",\"kind\":\"Pod\"},"
	         "\"operation\":\"CREATE\"}}",
	         longuid);
#define ENV "\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\""
#define PODREQ "\"uid\":\"u\",\"kind\":{\"group\":\"\",\"version\":\"v1\",\"kind\":\"Pod\"}," \
	       "\"operation\":\"CREATE\""
	const struct {
		const char *body, *why;
	} cases[] = {
		{ "", "not JSON" },
		{ "{", "not JSON" },
		{ "{\"apiVersion\":", "not JSON" },
		{ "\xff\xfe", "not JSON" },
		{ "null", "AdmissionReview" },
		{ "[]", "AdmissionReview" },
		{ "\"AdmissionReview\"", "AdmissionReview" },
		{ "{}", "AdmissionReview" },
		{ "{\"apiVersion\":\"admission.k8s.io/v1beta1\",\"kind\":\"AdmissionReview\","
		  "\"request\":{\"uid\":\"u\"}}",
		  "AdmissionReview" },
		{ "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"Pod\"}", "AdmissionReview" },
		{ "{\"apiVersion\":1,\"kind\":\"AdmissionReview\"}", "AdmissionReview" },
		{ "{" ENV "}", "request is missing" },
		{ "{" ENV ",\"request\":null}", "request is missing" },
		{ "{" ENV ",\"request\":[1]}", "request is missing" },
		{ "{" ENV ",\"response\":{\"uid\":\"u\",\"allowed\":true}}", "request is missing" },
		{ "{" ENV ",\"request\":{}}", "uid is missing" },
		{ "{" ENV ",\"request\":{\"uid\":\"\"}}", "uid is missing" },
		{ "{" ENV ",\"request\":{\"uid\":42}}", "uid is missing" },
		{ longuid_body, "uid is too long" },
		{ "{" ENV ",\"request\":{\"uid\":\"u\",\"operation\":\"CREATE\"}}", "kind or" },
		{ "{" ENV ",\"request\":{\"uid\":\"u\",\"kind\":\"Pod\",\"operation\":\"CREATE\"}}",
		  "kind or" },
		{ "{" ENV ",\"request\":{\"uid\":\"u\",\"kind\":{}}}", "operation is missing" },
		{ "{" ENV ",\"request\":{" PODREQ "}}", "namespace is missing" },
		{ "{" ENV ",\"request\":{" PODREQ ",\"namespace\":\"\"}}", "namespace is missing" },
		{ "{" ENV ",\"request\":{" PODREQ ",\"namespace\":\"ns\"}}", "object is missing" },
		{ "{" ENV ",\"request\":{" PODREQ ",\"namespace\":\"ns\",\"object\":null}}",
		  "object is missing" },
		{ "{" ENV ",\"request\":{" PODREQ ",\"namespace\":\"ns\",\"object\":\"pod\"}}",
		  "object is missing" },
		{ "{" ENV ",\"request\":{" PODREQ ",\"namespace\":\"ns\",\"object\":{}}}",
		  "spec is missing" },
		{ "{" ENV ",\"request\":{" PODREQ ",\"namespace\":\"ns\",\"object\":"
		  "{\"metadata\":{\"name\":\"p\"},\"spec\":[]}}}",
		  "spec is missing" },
		{ "{" ENV ",\"request\":{" PODREQ ",\"namespace\":\"ns\",\"object\":"
		  "{\"metadata\":[],\"spec\":{}}}}",
		  "metadata is not an object" },
		{ "{" ENV ",\"request\":{" PODREQ ",\"namespace\":\"ns\",\"object\":"
		  "{\"spec\":{\"schedulingGates\":{\"name\":\"x\"}}}}}",
		  "schedulingGates is not an array" },
		{ "{" ENV ",\"request\":{" PODREQ ",\"namespace\":\"ns\",\"object\":"
		  "{\"spec\":{\"schedulingGates\":\"firebreak.dev/quarantine\"}}}}",
		  "schedulingGates is not an array" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		gate_rec g = { .answer = "q" };
		answer a = ask(cases[i].body, strlen(cases[i].body), &g);
		if (a.err != KC_ERR_PARSE || !strstr(a.res.reason, cases[i].why))
			fprintf(stderr, "  case %zu: err %d reason \"%s\"\n", i, a.err, a.res.reason);
		KT_EQ_INT(a.err, KC_ERR_PARSE);
		KT_CHECK(strstr(a.res.reason, cases[i].why) != NULL);
		KT_CHECK(!strchr(a.res.reason, '\n'));
		KT_EQ_INT(g.calls, 0);
		answer_release(&a);
	}
#undef ENV
#undef PODREQ
}

KT_TEST(the_size_cap_is_checked_before_parsing)
{
	gate_rec g = { .answer = "q" };
	char *review = mk(&(rq){ .object = POD_DEPLOYMENT });
	size_t n = strlen(review);
	/* a valid review padded with whitespace to exactly the cap is answered */
	char *big = malloc(FB_ADMREVIEW_MAX + 1);
	memset(big, ' ', FB_ADMREVIEW_MAX + 1);
	memcpy(big, review, n);
	answer a = ask(big, FB_ADMREVIEW_MAX, &g);
	KT_EQ_INT(a.err, KC_OK);
	KT_EQ_INT(a.res.outcome, FB_ADM_GATED);
	answer_release(&a);
	/* one byte more is refused without being read */
	g.calls = 0;
	a = ask(big, FB_ADMREVIEW_MAX + 1, &g);
	KT_EQ_INT(a.err, KC_ERR_TOOBIG);
	KT_CHECK(strstr(a.res.reason, "4 MiB") != NULL);
	KT_EQ_INT(g.calls, 0);
	KT_EQ_STR(a.res.uid, "");
	answer_release(&a);
	free(big);
	free(review);
}

KT_TEST(only_len_bytes_are_read)
{
	gate_rec g = { .answer = "q" };
	char *review = mk(&(rq){ .object = POD_STATEFULSET });
	size_t n = strlen(review);
	char *padded = malloc(n + 16);
	memcpy(padded, review, n);
	memcpy(padded + n, "garbage{{{", 10); /* no NUL: only n bytes are the body */
	answer a = ask(padded, n, &g);
	KT_EQ_INT(a.err, KC_OK);
	KT_EQ_INT(a.res.outcome, FB_ADM_GATED);
	answer_release(&a);
	/* a truncated body is malformed */
	a = ask(padded, n - 1, &g);
	KT_EQ_INT(a.err, KC_ERR_PARSE);
	answer_release(&a);
	free(padded);
	free(review);
}

KT_TEST(every_allocation_failure_is_reported_and_frees_everything)
{
	char *review = mk(&(rq){ .object = "{\"metadata\":{\"generateName\":\"web-7d9f8c6b5-\","
	                                   "\"labels\":{\"pod-template-hash\":\"7d9f8c6b5\"},"
	                                   "\"ownerReferences\":[{\"kind\":\"ReplicaSet\","
	                                   "\"name\":\"web-7d9f8c6b5\",\"controller\":true}]},"
	                                   "\"spec\":{\"schedulingGates\":[{\"name\":\"a/b\"}]}}" });
	int failures = 0;
	for (long n = 0; n < 10000; n++) {
		gate_rec g = { .answer = "q" };
		fb_adm_result res;
		char *out = NULL;
		size_t len = 0;
		kc_alloc_fail_after(n);
		kc_err err = fb_admreview_answer(review, strlen(review), gate, &g, &res, &out, &len);
		bool triggered = kc_alloc_fail_triggered();
		kc_alloc_fail_reset();
		if (!triggered) {
			KT_EQ_INT(err, KC_OK);
			KT_EQ_INT(res.outcome, FB_ADM_GATED);
			kc_free(out);
			break;
		}
		failures++;
		/* cJSON cannot tell a failed allocation from bad input while parsing */
		KT_CHECK(err == KC_ERR_NOMEM || err == KC_ERR_PARSE || err == KC_OK);
		KT_CHECK(err == KC_OK ? out != NULL : out == NULL);
		kc_free(out);
	}
	KT_CHECK(failures > 10);
	free(review);
}

/* ---- managed mode: the failure tolerations covered (tolerations.h) ---------------------------- */

#define NR_300 "{\"key\":\"node.kubernetes.io/not-ready\",\"operator\":\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":300}"
#define UR_300 "{\"key\":\"node.kubernetes.io/unreachable\",\"operator\":\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":300}"
/* A Deployment pod as the API server sends it after DefaultTolerationSeconds: tolerations
 * TOLS (a JSON array), annotations ANNS (a JSON object, or empty: none), labels LABELS. */
static char *deployment_pod(const char *tols, const char *anns, const char *labels)
{
	char *s = malloc(4096);
	snprintf(s, 4096,
	         "{\"metadata\":{\"generateName\":\"web-7d9f8c6b5-\",\"labels\":{%s\"pod-template-hash\":"
	         "\"7d9f8c6b5\"}%s%s,\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":"
	         "\"ReplicaSet\",\"name\":\"web-7d9f8c6b5\",\"uid\":\"u1\",\"controller\":true}]},"
	         "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"nginx\"}],\"tolerations\":%s}}",
	         labels ? labels : "", anns && *anns ? ",\"annotations\":" : "", anns ? anns : "",
	         tols);
	return s;
}

/* JSON Pointer (RFC 6901) segment, unescaped in place. */
static void unescape(char *seg)
{
	char *o = seg;
	for (char *i = seg; *i; i++) {
		if (i[0] == '~' && (i[1] == '0' || i[1] == '1')) {
			*o++ = i[1] == '1' ? '/' : '~';
			i++;
		} else {
			*o++ = *i;
		}
	}
	*o = '\0';
}

/* Apply a JSON Patch of "add" ops (the only op this webhook writes) to obj; false if an op
 * is not an add or its parent is missing, as the API server would refuse it. */
static bool apply_adds(cJSON *obj, const char *patch)
{
	cJSON *ops = cJSON_Parse(patch), *op;
	bool ok = cJSON_IsArray(ops);
	cJSON_ArrayForEach(op, ops) {
		const char *kind = cJSON_GetStringValue(cJSON_GetObjectItem(op, "op"));
		const char *path = cJSON_GetStringValue(cJSON_GetObjectItem(op, "path"));
		cJSON *value = cJSON_GetObjectItem(op, "value");
		if (!kind || strcmp(kind, "add") != 0 || !path || path[0] != '/' || !value) {
			ok = false;
			break;
		}
		char buf[512];
		snprintf(buf, sizeof(buf), "%s", path + 1);
		cJSON *parent = obj;
		char *seg = buf, *slash;
		while ((slash = strchr(seg, '/'))) {
			*slash = '\0';
			unescape(seg);
			parent = cJSON_GetObjectItemCaseSensitive(parent, seg);
			seg = slash + 1;
		}
		unescape(seg);
		if (!parent) {
			ok = false;
			break;
		}
		cJSON *v = cJSON_Duplicate(value, true);
		if (cJSON_IsArray(parent) && strcmp(seg, "-") == 0) {
			cJSON_AddItemToArray(parent, v);
		} else if (cJSON_IsObject(parent)) {
			cJSON_DeleteItemFromObjectCaseSensitive(parent, seg); /* add replaces */
			cJSON_AddItemToObject(parent, seg, v);
		} else {
			cJSON_Delete(v);
			ok = false;
			break;
		}
	}
	cJSON_Delete(ops);
	return ok;
}

/* The pod of review body after the answer's patch. */
static cJSON *patched_pod(const char *pod_json, const answer *a)
{
	cJSON *pod = cJSON_Parse(pod_json);
	if (a->patch)
		KT_CHECK(apply_adds(pod, a->patch));
	return pod;
}

static const char *record_of(const cJSON *pod)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(
		cJSON_GetObjectItem(cJSON_GetObjectItem(pod, "metadata"), "annotations"),
		FB_ANNOTATION_TOLERATIONS));
}

static const cJSON *tols_of(const cJSON *pod)
{
	return cJSON_GetObjectItem(cJSON_GetObjectItem(pod, "spec"), "tolerations");
}

static const fb_adm_options MANAGED = { .managed = true, .default_toleration_s = 300 };

KT_TEST(managed_mode_covers_a_new_pods_failure_tolerations)
{
	managed_opts = &MANAGED;
	gate_rec g = { 0 };
	/* without annotations: the whole map is added */
	char *pod = deployment_pod("[" NR_300 "," UR_300 "]", NULL, NULL);
	answer a = ask_rq(&(rq){ .object = pod }, &g);
	KT_EQ_INT(a.err, KC_OK);
	KT_EQ_INT(a.res.outcome, FB_ADM_NOT_QUARANTINED);
	KT_CHECK(a.res.covered);
	KT_EQ_INT(a.res.record.not_ready_s, 300);
	KT_EQ_INT(a.res.record.unreachable_s, 300);
	KT_CHECK(a.patch && strstr(a.patch, "\"path\":\"/metadata/annotations\""));
	KT_EQ_STR(audit(&a, "tolerations-covered"), "not-ready=300,unreachable=300");
	KT_CHECK(first_warning(&a) == NULL); /* no warning for every pod */
	cJSON *after = patched_pod(pod, &a);
	KT_EQ_STR(record_of(after), "not-ready=300,unreachable=300");
	KT_EQ_INT(fb_toleration_s(tols_of(after), FB_TAINT_NOT_READY), FB_TOL_FOREVER);
	KT_EQ_INT(fb_toleration_s(tols_of(after), FB_TAINT_UNREACHABLE), FB_TOL_FOREVER);
	KT_EQ_INT(cJSON_GetArraySize(tols_of(after)), 2);
	/* the projection of the pod as stored (named by then) reads the recorded seconds */
	cJSON_AddStringToObject(cJSON_GetObjectItem(after, "metadata"), "name", "web-7d9f8c6b5-x");
	fb_pod_proj *p = fb_project_pod(after, NULL);
	KT_CHECK(p && p->tol_not_ready_s == 300 && p->tol_unreachable_s == 300 && !p->k8s_evicts);
	fb_pod_proj_free(p, NULL);
	cJSON_Delete(after);
	answer_release(&a);
	free(pod);
	/* with annotations: the one key is added, the others stay */
	pod = deployment_pod("[" NR_300 "," UR_300 "]", "{\"team\":\"x\"}", NULL);
	a = ask_rq(&(rq){ .object = pod }, &g);
	KT_CHECK(a.patch && strstr(a.patch, "/metadata/annotations/firebreak.dev~1toleration-seconds"));
	after = patched_pod(pod, &a);
	KT_EQ_STR(record_of(after), "not-ready=300,unreachable=300");
	KT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(
		          cJSON_GetObjectItem(cJSON_GetObjectItem(after, "metadata"), "annotations"), "team")),
	          "x");
	cJSON_Delete(after);
	answer_release(&a);
	free(pod);
	managed_opts = NULL;
}

KT_TEST(managed_mode_keeps_each_pods_own_toleration)
{
	managed_opts = &MANAGED;
	gate_rec g = { 0 };
	struct {
		const char *tols;
		bool covered;
		const char *record;
	} cases[] = {
		/* its own 60 s and 3600 s */
		{ "[{\"key\":\"node.kubernetes.io/not-ready\",\"operator\":\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":60}," UR_300 "]",
		  true, "not-ready=60,unreachable=300" },
		{ "[" NR_300 ",{\"key\":\"node.kubernetes.io/unreachable\",\"operator\":\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":3600}]",
		  true, "not-ready=300,unreachable=3600" },
		/* tolerates everything forever: nothing to cover */
		{ "[{\"operator\":\"Exists\"}]", false, NULL },
		/* no toleration at all (the plugin off): the default recorded */
		{ "[]", true, "not-ready=120,unreachable=120" },
	};
	fb_adm_options o = MANAGED;
	o.default_toleration_s = 120;
	managed_opts = &o;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char *pod = deployment_pod(cases[i].tols, NULL, NULL);
		answer a = ask_rq(&(rq){ .object = pod }, &g);
		KT_EQ_INT(a.err, KC_OK);
		KT_EQ_INT(a.res.covered, cases[i].covered);
		KT_CHECK(cases[i].covered == (a.patch != NULL));
		cJSON *after = patched_pod(pod, &a);
		if (cases[i].record)
			KT_EQ_STR(record_of(after), cases[i].record);
		KT_EQ_INT(fb_toleration_s(tols_of(after), FB_TAINT_NOT_READY), FB_TOL_FOREVER);
		cJSON_Delete(after);
		answer_release(&a);
		free(pod);
	}
	managed_opts = NULL;
}

KT_TEST(managed_mode_and_the_gate_share_one_patch)
{
	managed_opts = &MANAGED;
	gate_rec g = { .answer = "deployment-web-1a2b3c" };
	char *pod = deployment_pod("[" NR_300 "," UR_300 "]", NULL, NULL);
	answer a = ask_rq(&(rq){ .object = pod }, &g);
	KT_EQ_INT(a.res.outcome, FB_ADM_GATED);
	KT_CHECK(a.res.covered);
	cJSON *after = patched_pod(pod, &a);
	KT_EQ_STR(record_of(after), "not-ready=300,unreachable=300");
	KT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(
		          cJSON_GetObjectItem(after, "spec"), "schedulingGates"), 0), "name")),
	          "firebreak.dev/quarantine");
	KT_EQ_STR(audit(&a, "quarantine"), "deployment-web-1a2b3c");
	KT_EQ_STR(audit(&a, "tolerations-covered"), "not-ready=300,unreachable=300");
	cJSON_Delete(after);
	answer_release(&a);
	free(pod);
	managed_opts = NULL;
}

KT_TEST(managed_mode_reinvoked_finds_the_pod_covered)
{
	managed_opts = &MANAGED;
	gate_rec g = { 0 };
	char *pod = deployment_pod("[" NR_300 "," UR_300 "]", NULL, NULL);
	answer a = ask_rq(&(rq){ .object = pod }, &g);
	cJSON *after = patched_pod(pod, &a);
	char *again = cJSON_PrintUnformatted(after);
	answer b = ask_rq(&(rq){ .object = again }, &g);
	KT_EQ_INT(b.err, KC_OK);
	KT_CHECK(!b.res.covered);
	KT_CHECK(b.patch == NULL); /* nothing to change, the record kept */
	answer_release(&b);
	/* another webhook gave it seconds again after us: covered anew, the new seconds recorded */
	cJSON *t = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(after, "spec"), "tolerations"), 0);
	cJSON_AddNumberToObject(t, "tolerationSeconds", 45);
	kc_free(again);
	again = cJSON_PrintUnformatted(after);
	b = ask_rq(&(rq){ .object = again }, &g);
	KT_CHECK(b.res.covered);
	cJSON *after2 = patched_pod(again, &b);
	KT_EQ_STR(record_of(after2), "not-ready=45,unreachable=300");
	cJSON_Delete(after2);
	answer_release(&b);
	/* a record that is not ours to trust is written anew from the spec */
	char *forged = deployment_pod("[" NR_300 "," UR_300 "]",
	                              "{\"firebreak.dev/toleration-seconds\":\"not-ready=banana\"}", NULL);
	b = ask_rq(&(rq){ .object = forged }, &g);
	cJSON *after3 = patched_pod(forged, &b);
	KT_EQ_STR(record_of(after3), "not-ready=300,unreachable=300");
	cJSON_Delete(after3);
	answer_release(&b);
	free(forged);
	kc_free(again);
	cJSON_Delete(after);
	answer_release(&a);
	free(pod);
	managed_opts = NULL;
}

KT_TEST(managed_mode_leaves_what_kubernetes_keeps)
{
	managed_opts = &MANAGED;
	gate_rec g = { 0 };
	const char *pods[] = {
		"{\"metadata\":{\"generateName\":\"agent-\",\"ownerReferences\":[{\"kind\":\"DaemonSet\","
		"\"name\":\"agent\",\"controller\":true}]},\"spec\":{\"tolerations\":[" NR_300 "]}}",
		"{\"metadata\":{\"name\":\"etcd-node1\",\"annotations\":{\"kubernetes.io/config.mirror\":"
		"\"abc\"}},\"spec\":{\"nodeName\":\"node1\",\"tolerations\":[" NR_300 "]}}",
	};
	for (size_t i = 0; i < 2; i++) {
		answer a = ask_rq(&(rq){ .object = pods[i] }, &g);
		KT_EQ_INT(a.err, KC_OK);
		KT_CHECK(!a.res.covered && a.patch == NULL);
		answer_release(&a);
	}
	/* labelled firebreak.dev/webhook=skip (firebreak's own pods) */
	char *pod = deployment_pod("[" NR_300 "]", NULL, "\"firebreak.dev/webhook\":\"skip\",");
	answer a = ask_rq(&(rq){ .object = pod }, &g);
	KT_CHECK(!a.res.covered && a.patch == NULL);
	answer_release(&a);
	free(pod);
	/* a bare pod is covered (Kubernetes would evict it too) */
	answer b = ask_rq(&(rq){ .object = "{\"metadata\":{\"name\":\"lonely\"},\"spec\":{\"tolerations\":[" NR_300 "," UR_300 "]}}" }, &g);
	KT_CHECK(b.res.covered);
	answer_release(&b);
	/* managed mode off: the same pod is left as it is */
	managed_opts = NULL;
	pod = deployment_pod("[" NR_300 "," UR_300 "]", NULL, NULL);
	a = ask_rq(&(rq){ .object = pod }, &g);
	KT_CHECK(!a.res.covered && a.patch == NULL);
	answer_release(&a);
	free(pod);
}

KT_TEST(managed_mode_refuses_what_is_not_a_pod)
{
	managed_opts = &MANAGED;
	gate_rec g = { 0 };
	answer a = ask_rq(&(rq){ .object = "{\"metadata\":{\"name\":\"x\"},\"spec\":{\"tolerations\":{}}}" }, &g);
	KT_EQ_INT(a.err, KC_ERR_PARSE);
	KT_CHECK(strstr(a.res.reason, "tolerations") != NULL);
	a = ask_rq(&(rq){ .object = "{\"metadata\":{\"name\":\"x\",\"annotations\":[]},\"spec\":{}}" }, &g);
	KT_EQ_INT(a.err, KC_ERR_PARSE);
	KT_CHECK(strstr(a.res.reason, "annotations") != NULL);
	managed_opts = NULL;
}

KT_TEST(managed_mode_survives_every_allocation_failure)
{
	char *pod = deployment_pod("[{\"operator\":\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":60}]",
	                           "{\"a\":\"b\"}", NULL);
	char *review = mk(&(rq){ .object = pod });
	int failures = 0;
	for (long n = 0; n < 20000; n++) {
		gate_rec g = { .answer = "q" };
		fb_adm_options o = MANAGED;
		o.gate = gate;
		o.ud = &g;
		fb_adm_result res;
		char *out = NULL;
		size_t len = 0;
		kc_alloc_fail_after(n);
		kc_err err = fb_admreview_answer_opts(review, strlen(review), &o, &res, &out, &len);
		bool triggered = kc_alloc_fail_triggered();
		kc_alloc_fail_reset();
		if (!triggered) {
			KT_EQ_INT(err, KC_OK);
			KT_CHECK(res.covered && res.outcome == FB_ADM_GATED);
			kc_free(out);
			break;
		}
		failures++;
		KT_CHECK(err == KC_ERR_NOMEM || err == KC_ERR_PARSE || err == KC_OK);
		KT_CHECK(err == KC_OK ? out != NULL : out == NULL);
		kc_free(out);
	}
	KT_CHECK(failures > 10);
	free(review);
	free(pod);
}

KT_TEST(outcome_names)
{
	KT_EQ_STR(fb_adm_outcome_name(FB_ADM_GATED), "gated");
	KT_EQ_STR(fb_adm_outcome_name(FB_ADM_UNGATEABLE), "ungateable");
	KT_EQ_STR(fb_adm_outcome_name((fb_adm_outcome)99), "unknown");
}

int main(void)
{
	kc_global_init();
	KT_RUN(deployment_pod_of_a_quarantined_workload_is_gated);
	KT_RUN(deployment_pod_of_a_healthy_workload_is_allowed_unchanged);
	KT_RUN(workloads_are_named_as_the_core_names_them);
	KT_RUN(request_namespace_and_name_win_over_the_object);
	KT_RUN(daemonset_mirror_and_unnamed_bare_pods_are_never_asked);
	KT_RUN(a_pod_already_gated_gets_no_second_gate);
	KT_RUN(a_pod_with_another_gate_gets_ours_appended);
	KT_RUN(dry_run_is_answered_as_the_real_request);
	KT_RUN(a_pod_naming_its_node_cannot_be_gated);
	KT_RUN(anything_but_a_pod_create_is_allowed_without_asking);
	KT_RUN(malformed_reviews_are_refused_with_a_reason);
	KT_RUN(the_size_cap_is_checked_before_parsing);
	KT_RUN(only_len_bytes_are_read);
	KT_RUN(every_allocation_failure_is_reported_and_frees_everything);
	KT_RUN(managed_mode_covers_a_new_pods_failure_tolerations);
	KT_RUN(managed_mode_keeps_each_pods_own_toleration);
	KT_RUN(managed_mode_and_the_gate_share_one_patch);
	KT_RUN(managed_mode_reinvoked_finds_the_pod_covered);
	KT_RUN(managed_mode_leaves_what_kubernetes_keeps);
	KT_RUN(managed_mode_refuses_what_is_not_a_pod);
	KT_RUN(managed_mode_survives_every_allocation_failure);
	KT_RUN(outcome_names);
	kc_global_cleanup();
	return KT_DONE();
}
