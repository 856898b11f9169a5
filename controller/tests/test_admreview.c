/* The AdmissionReview decoder and encoder of the admission webhook (admreview.h). */
#include <stdlib.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "admreview.h"
#include "support/jsontext.h"
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

/* Answer body with options o (NULL: fb_admreview_answer, managed mode off); o's gate and ud
 * are replaced by the recording gate g. */
static answer ask_opts(const char *body, size_t len, gate_rec *g, const fb_adm_options *o)
{
	answer a = { 0 };
	char *out = (char *)"not touched";
	size_t out_len = 7;
	if (o) {
		fb_adm_options with_gate = *o;
		with_gate.gate = gate;
		with_gate.ud = g;
		a.err = fb_admreview_answer_opts(body, len, &with_gate, &a.res, &out, &out_len);
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
	/* without managed mode nothing is ever covered */
	if (!o || !o->managed)
		KT_CHECK(!a.res.covered);
	return a;
}

static answer ask(const char *body, size_t len, gate_rec *g)
{
	return ask_opts(body, len, g, NULL);
}

static answer ask_rq_opts(const rq *r, gate_rec *g, const fb_adm_options *o)
{
	char *body = mk(r);
	answer a = ask_opts(body, strlen(body), g, o);
	free(body);
	return a;
}

static answer ask_rq(const rq *r, gate_rec *g)
{
	return ask_rq_opts(r, g, NULL);
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

/* Answer review without the checks of ask() (no KT_* here: this runs under injected failures). */
static kc_err answer_raw(const char *review, const fb_adm_options *o, gate_rec *g,
                         fb_adm_result *res, char **out, size_t *len)
{
	if (!o)
		return fb_admreview_answer(review, strlen(review), gate, g, res, out, len);
	fb_adm_options w = *o;
	w.gate = gate;
	w.ud = g;
	return fb_admreview_answer_opts(review, strlen(review), &w, res, out, len);
}

/*
 * Every allocation failing in turn while review is answered with o (NULL: managed mode off)
 * and the gate answering quarantine (NULL: no): each failure is reported (as out of memory,
 * or as unparsable: cJSON cannot tell a failed allocation from bad input while parsing), with
 * no answer and a reason; an answer given all the same is the answer given without failures;
 * the sanitizer's leak check sees everything freed. The number of failures injected.
 */
static int alloc_failures(const char *review, const fb_adm_options *o, const char *quarantine,
                          fb_adm_outcome want, bool covered)
{
	gate_rec g = { .answer = quarantine };
	fb_adm_result res;
	char *ref = NULL;
	size_t ref_len = 0;
	KT_EQ_INT(answer_raw(review, o, &g, &res, &ref, &ref_len), KC_OK);
	KT_EQ_INT(res.outcome, want);
	KT_EQ_INT(res.covered, covered);
	int failures = 0;
	bool finished = false;
	for (long n = 0; n < 20000 && !finished; n++) {
		char *out = NULL;
		size_t len = 0;
		g = (gate_rec){ .answer = quarantine };
		kc_alloc_fail_after(n);
		kc_err err = answer_raw(review, o, &g, &res, &out, &len);
		bool triggered = kc_alloc_fail_triggered();
		kc_alloc_fail_reset();
		if (!triggered) {
			finished = true;
			KT_EQ_INT(err, KC_OK);
			KT_CHECK(out && ref && strcmp(out, ref) == 0);
			KT_EQ_INT(res.outcome, want);
			KT_EQ_INT(res.covered, covered);
			kc_free(out);
			break;
		}
		failures++;
		KT_CHECK(err == KC_ERR_NOMEM || err == KC_ERR_PARSE || err == KC_OK);
		if (err == KC_OK) {
			KT_CHECK(out && ref && strcmp(out, ref) == 0);
		} else {
			KT_CHECK(out == NULL && len == 0);
			KT_CHECK(res.reason[0] != '\0');
		}
		kc_free(out);
	}
	KT_CHECK(finished);
	kc_free(ref);
	return failures;
}

KT_TEST(every_allocation_failure_is_reported_and_frees_everything)
{
	char *review = mk(&(rq){ .object = "{\"metadata\":{\"generateName\":\"web-7d9f8c6b5-\","
	                                   "\"labels\":{\"pod-template-hash\":\"7d9f8c6b5\"},"
	                                   "\"ownerReferences\":[{\"kind\":\"ReplicaSet\","
	                                   "\"name\":\"web-7d9f8c6b5\",\"controller\":true}]},"
	                                   "\"spec\":{\"schedulingGates\":[{\"name\":\"a/b\"}]}}" });
	KT_CHECK(alloc_failures(review, NULL, "q", FB_ADM_GATED, false) > 10);
	free(review);
}

/* ---- managed mode: the failure tolerations covered (tolerations.h) ---------------------------- */

#define NR_KEY "node.kubernetes.io/not-ready"
#define UR_KEY "node.kubernetes.io/unreachable"
/* A toleration of one failure taint; SECS "" (forever) or ",\"tolerationSeconds\":N". */
#define TOL(key, secs) "{\"key\":\"" key "\",\"operator\":\"Exists\",\"effect\":\"NoExecute\"" secs "}"
#define NR_300 TOL(NR_KEY, ",\"tolerationSeconds\":300")
#define UR_300 TOL(UR_KEY, ",\"tolerationSeconds\":300")
/* What the DefaultTolerationSeconds admission plugin gives a pod without either, and that
 * pair covered (the seconds gone, nothing else changed). */
#define DEFAULT_PAIR "[" NR_300 "," UR_300 "]"
#define COVERED_PAIR "[" TOL(NR_KEY, "") "," TOL(UR_KEY, "") "]"
/* The annotation's member as a JSON Pointer: "/" in the key is "~1" (RFC 6901). */
#define ANN_PATH "/metadata/annotations/firebreak.dev~1toleration-seconds"
#define RECORD_300 "not-ready=300,unreachable=300"

static const fb_adm_options MANAGED = { .managed = true, .default_toleration_s = 300 };

/* A Deployment pod's request.object: spec.tolerations TOLS (JSON; NULL: no member),
 * metadata.annotations ANNS (JSON; NULL: no member), LABELS more labels ("k":"v", each with a
 * trailing comma; NULL: none). malloc'd. */
static char *deployment_pod(const char *tols, const char *anns, const char *labels)
{
	char t[3072] = "", *s = malloc(4096);
	if (tols)
		snprintf(t, sizeof(t), ",\"tolerations\":%s", tols);
	snprintf(s, 4096,
	         "{\"metadata\":{\"generateName\":\"web-7d9f8c6b5-\",\"labels\":{%s\"pod-template-hash\":"
	         "\"7d9f8c6b5\"}%s%s,\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":"
	         "\"ReplicaSet\",\"name\":\"web-7d9f8c6b5\",\"uid\":\"u1\",\"controller\":true}]},"
	         "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"nginx\"}]%s}}",
	         labels ? labels : "", anns ? ",\"annotations\":" : "", anns ? anns : "", t);
	return s;
}

/* The pod of pod_json after the answer's patch (none: as it was). */
static cJSON *patched_pod(const char *pod_json, const answer *a)
{
	cJSON *pod = cJSON_Parse(pod_json);
	KT_CHECK(pod != NULL);
	if (a->patch) {
		cJSON *ops = cJSON_Parse(a->patch);
		KT_CHECK(json_patch_apply(pod, ops));
		cJSON_Delete(ops);
	}
	return pod;
}

static cJSON *annotations_of(const cJSON *pod)
{
	return cJSON_GetObjectItem(cJSON_GetObjectItem(pod, "metadata"), "annotations");
}

static const char *record_of(const cJSON *pod)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(annotations_of(pod), FB_ANNOTATION_TOLERATIONS));
}

static const cJSON *tols_of(const cJSON *pod)
{
	return cJSON_GetObjectItem(cJSON_GetObjectItem(pod, "spec"), "tolerations");
}

/* v equals the JSON text want (object members in any order, array items in order). */
static bool json_eq(const cJSON *v, const char *want)
{
	cJSON *w = cJSON_Parse(want);
	bool eq = v && w && cJSON_Compare(v, w, true);
	if (!eq) {
		char *got = v ? cJSON_PrintUnformatted(v) : NULL;
		fprintf(stderr, "  got %s\n  want %s\n", got ? got : "(null)", want);
		kc_free(got);
	}
	cJSON_Delete(w);
	return eq;
}

/* The answer's patch parsed: an array of n add ops, each with a path and a value. */
static cJSON *ops_of(const answer *a, int n)
{
	cJSON *ops = a->patch ? cJSON_Parse(a->patch) : NULL, *op;
	KT_CHECK(cJSON_IsArray(ops));
	KT_EQ_INT(cJSON_GetArraySize(ops), n);
	cJSON_ArrayForEach(op, ops) {
		KT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(op, "op")), "add");
		KT_CHECK(cJSON_GetObjectItem(op, "value") != NULL);
	}
	return ops;
}

static const char *path_at(const cJSON *ops, int i)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(ops, i), "path"));
}

static const cJSON *value_at(const cJSON *ops, int i)
{
	return cJSON_GetObjectItem(cJSON_GetArrayItem(ops, i), "value");
}

/*
 * a covers pod_json recording `record` (the annotation's value): res says so, the audit
 * annotation says so, and the pod after the patch is never evicted by Kubernetes (both taints
 * tolerated forever) and carries the record, which reads back as res.record. The patched pod
 * (the caller's to delete).
 */
static cJSON *check_covered(const char *pod_json, const answer *a, const char *record)
{
	KT_EQ_INT(a->err, KC_OK);
	KT_CHECK(a->res.covered);
	char formatted[FB_TOL_RECORD_MAX];
	fb_tol_record_format(&a->res.record, formatted);
	KT_EQ_STR(formatted, record);
	KT_EQ_STR(audit(a, "tolerations-covered"), record);
	cJSON *after = patched_pod(pod_json, a);
	KT_EQ_INT(fb_toleration_s(tols_of(after), FB_TAINT_NOT_READY), FB_TOL_FOREVER);
	KT_EQ_INT(fb_toleration_s(tols_of(after), FB_TAINT_UNREACHABLE), FB_TOL_FOREVER);
	KT_CHECK(!fb_tolerations_finite(tols_of(after)));
	KT_EQ_STR(record_of(after), record);
	fb_tol_record back;
	KT_EQ_INT(fb_tol_record_parse(record_of(after), &back), 0);
	KT_EQ_INT(back.not_ready_s, a->res.record.not_ready_s);
	KT_EQ_INT(back.unreachable_s, a->res.record.unreachable_s);
	return after;
}

KT_TEST(managed_mode_covers_the_default_tolerations_of_a_new_pod)
{
	/* no annotations: the tolerations without their seconds, the whole annotations map */
	gate_rec g = { 0 };
	char *pod = deployment_pod(DEFAULT_PAIR, NULL, NULL);
	answer a = ask_rq_opts(&(rq){ .object = pod }, &g, &MANAGED);
	KT_EQ_INT(a.err, KC_OK);
	KT_EQ_INT(a.res.outcome, FB_ADM_NOT_QUARANTINED);
	check_asked(&g, "Deployment", "shop", "web");
	KT_EQ_INT(a.res.record.not_ready_s, 300);
	KT_EQ_INT(a.res.record.unreachable_s, 300);
	cJSON *ops = ops_of(&a, 2);
	KT_EQ_STR(path_at(ops, 0), "/spec/tolerations");
	KT_CHECK(json_eq(value_at(ops, 0), COVERED_PAIR));
	KT_EQ_STR(path_at(ops, 1), "/metadata/annotations");
	KT_CHECK(json_eq(value_at(ops, 1), "{\"firebreak.dev/toleration-seconds\":\"" RECORD_300 "\"}"));
	cJSON_Delete(ops);
	KT_CHECK(!audit(&a, "quarantine"));
	KT_CHECK(first_warning(&a) == NULL); /* no warning for every pod */
	cJSON *after = check_covered(pod, &a, RECORD_300);
	KT_EQ_INT(cJSON_GetArraySize(tols_of(after)), 2);
	/* the pod as stored (named by then) projects to the seconds it had, not evicted by Kubernetes */
	cJSON_AddStringToObject(cJSON_GetObjectItem(after, "metadata"), "name", "web-7d9f8c6b5-x");
	fb_pod_proj *p = fb_project_pod(after, NULL);
	KT_CHECK(p && p->tol_not_ready_s == 300 && p->tol_unreachable_s == 300);
	KT_CHECK(p && !p->k8s_evicts && p->annotated && !p->record_malformed);
	fb_pod_proj_free(p, NULL);
	cJSON_Delete(after);
	answer_release(&a);
	free(pod);

	/* annotations present (some, none, or null): the one member added, the others kept */
	static const struct {
		const char *anns, *path;
	} cases[] = {
		{ "{\"team\":\"x\"}", ANN_PATH },
		{ "{}", ANN_PATH },
		{ "null", "/metadata/annotations" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pod = deployment_pod(DEFAULT_PAIR, cases[i].anns, NULL);
		a = ask_rq_opts(&(rq){ .object = pod }, &g, &MANAGED);
		ops = ops_of(&a, 2);
		KT_EQ_STR(path_at(ops, 0), "/spec/tolerations");
		KT_CHECK(json_eq(value_at(ops, 0), COVERED_PAIR));
		KT_EQ_STR(path_at(ops, 1), cases[i].path);
		if (strcmp(cases[i].path, ANN_PATH) == 0)
			KT_CHECK(json_eq(value_at(ops, 1), "\"" RECORD_300 "\""));
		cJSON_Delete(ops);
		after = check_covered(pod, &a, RECORD_300);
		if (i == 0)
			KT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(annotations_of(after), "team")), "x");
		KT_EQ_INT(cJSON_GetArraySize(annotations_of(after)), i == 0 ? 2 : 1);
		cJSON_Delete(after);
		answer_release(&a);
		free(pod);
	}

	/* a dry-run request is answered as the real one */
	pod = deployment_pod(DEFAULT_PAIR, NULL, NULL);
	a = ask_rq_opts(&(rq){ .object = pod, .dry_run = true }, &g, &MANAGED);
	KT_CHECK(a.res.dry_run);
	after = check_covered(pod, &a, RECORD_300);
	cJSON_Delete(after);
	answer_release(&a);
	free(pod);
}

KT_TEST(managed_mode_records_each_pods_own_seconds)
{
	static const struct {
		const char *tols; /* NULL: no tolerations member */
		const char *record;
		int size_after;   /* tolerations after the patch */
	} cases[] = {
		/* its own 60 s, its own hour */
		{ "[" TOL(NR_KEY, ",\"tolerationSeconds\":60") "," UR_300 "]",
		  "not-ready=60,unreachable=300", 2 },
		{ "[" NR_300 "," TOL(UR_KEY, ",\"tolerationSeconds\":3600") "]",
		  "not-ready=300,unreachable=3600", 2 },
		/* 0 and negative seconds: evicted at once, recorded as 0 */
		{ "[" TOL(NR_KEY, ",\"tolerationSeconds\":0") "," TOL(UR_KEY, ",\"tolerationSeconds\":-5") "]",
		  "not-ready=0,unreachable=0", 2 },
		/* one key tolerated forever by the pod itself: only the other is recorded */
		{ "[" TOL(NR_KEY, "") "," UR_300 "]", "unreachable=300", 2 },
		/* no failure toleration at all (the plugin off): the default given in the options */
		{ "[]", "not-ready=120,unreachable=120", 2 },
		{ NULL, "not-ready=120,unreachable=120", 2 },
		{ "null", "not-ready=120,unreachable=120", 2 },
		{ "[{\"key\":\"gpu\",\"operator\":\"Exists\",\"effect\":\"NoSchedule\"}]",
		  "not-ready=120,unreachable=120", 3 },
		/* one key only: the other at the default */
		{ "[" NR_300 "]", "not-ready=300,unreachable=120", 2 },
		/* a toleration of every NoExecute taint with seconds: both keys take them; it stays
		 * (for the other taints) behind two forever tolerations of the keys */
		{ "[{\"operator\":\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":60}]",
		  "not-ready=60,unreachable=60", 3 },
		/* a toleration of the key that does not match the taint kept the plugin's default
		 * away: Kubernetes would evict it at once */
		{ "[{\"key\":\"" UR_KEY "\",\"operator\":\"Equal\",\"value\":\"x\",\"effect\":\"NoExecute\"}]",
		  "not-ready=120,unreachable=0", 3 },
	};
	fb_adm_options o = MANAGED;
	o.default_toleration_s = 120;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int failed_before = kt_failed_checks_;
		gate_rec g = { 0 };
		char *pod = deployment_pod(cases[i].tols, NULL, NULL);
		answer a = ask_rq_opts(&(rq){ .object = pod }, &g, &o);
		KT_EQ_INT(a.res.outcome, FB_ADM_NOT_QUARANTINED);
		cJSON *ops = ops_of(&a, 2);
		KT_EQ_STR(path_at(ops, 0), "/spec/tolerations");
		KT_EQ_STR(path_at(ops, 1), "/metadata/annotations");
		cJSON_Delete(ops);
		cJSON *after = check_covered(pod, &a, cases[i].record);
		KT_EQ_INT(cJSON_GetArraySize(tols_of(after)), cases[i].size_after);
		if (i == 9) { /* the wildcard kept as it was, last */
			const cJSON *w = cJSON_GetArrayItem(tols_of(after), 2);
			KT_CHECK(!cJSON_GetObjectItem(w, "key"));
			KT_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(w, "tolerationSeconds")), 60);
		}
		cJSON_Delete(after);
		answer_release(&a);
		free(pod);
		if (kt_failed_checks_ != failed_before)
			fprintf(stderr, "  ^ case %zu: %s\n", i, cases[i].tols ? cases[i].tols : "(none)");
	}
}

KT_TEST(managed_mode_leaves_a_pod_that_tolerates_both_forever)
{
	const char *tols[] = {
		"[{\"operator\":\"Exists\"}]",
		"[{\"operator\":\"Exists\",\"effect\":\"NoExecute\"}]",
		COVERED_PAIR, /* its own choice, without a record: nothing to record */
	};
	for (size_t i = 0; i < sizeof(tols) / sizeof(tols[0]); i++) {
		gate_rec g = { 0 };
		char *pod = deployment_pod(tols[i], NULL, NULL);
		answer a = ask_rq_opts(&(rq){ .object = pod }, &g, &MANAGED);
		KT_EQ_INT(a.err, KC_OK);
		KT_EQ_INT(a.res.outcome, FB_ADM_NOT_QUARANTINED);
		KT_CHECK(!a.res.covered);
		KT_CHECK(!fb_tol_record_any(&a.res.record));
		KT_CHECK(a.patch == NULL);
		KT_CHECK(!cJSON_GetObjectItem(a.response, "auditAnnotations"));
		answer_release(&a);
		free(pod);
	}
}

KT_TEST(managed_mode_and_the_gate_share_one_patch)
{
	/* no gates, no annotations: the gate first, then the cover */
	gate_rec g = { .answer = "deployment-web-1a2b3c" };
	char *pod = deployment_pod(DEFAULT_PAIR, NULL, NULL);
	answer a = ask_rq_opts(&(rq){ .object = pod }, &g, &MANAGED);
	KT_EQ_INT(a.res.outcome, FB_ADM_GATED);
	cJSON *ops = ops_of(&a, 3);
	KT_EQ_STR(path_at(ops, 0), "/spec/schedulingGates");
	KT_CHECK(json_eq(value_at(ops, 0), "[{\"name\":\"firebreak.dev/quarantine\"}]"));
	KT_EQ_STR(path_at(ops, 1), "/spec/tolerations");
	KT_EQ_STR(path_at(ops, 2), "/metadata/annotations");
	cJSON_Delete(ops);
	KT_EQ_STR(audit(&a, "quarantine"), "deployment-web-1a2b3c");
	KT_CHECK(first_warning(&a) && strstr(first_warning(&a), "Quarantine deployment-web-1a2b3c"));
	cJSON *after = check_covered(pod, &a, RECORD_300);
	const cJSON *gates = cJSON_GetObjectItem(cJSON_GetObjectItem(after, "spec"), "schedulingGates");
	KT_CHECK(json_eq(gates, "[{\"name\":\"firebreak.dev/quarantine\"}]"));
	cJSON_Delete(after);
	answer_release(&a);
	free(pod);

	/* another gate and annotations there: ours appended, the record's member added */
	char body[4096];
	snprintf(body, sizeof(body),
	         "{\"metadata\":{\"name\":\"p\",\"annotations\":{\"a\":\"b\"}},\"spec\":{"
	         "\"schedulingGates\":[{\"name\":\"other.io/wait\"}],\"tolerations\":%s}}",
	         DEFAULT_PAIR);
	a = ask_rq_opts(&(rq){ .object = body }, &g, &MANAGED);
	KT_EQ_INT(a.res.outcome, FB_ADM_GATED);
	ops = ops_of(&a, 3);
	KT_EQ_STR(path_at(ops, 0), "/spec/schedulingGates/-");
	KT_EQ_STR(path_at(ops, 1), "/spec/tolerations");
	KT_EQ_STR(path_at(ops, 2), ANN_PATH);
	cJSON_Delete(ops);
	after = check_covered(body, &a, RECORD_300);
	gates = cJSON_GetObjectItem(cJSON_GetObjectItem(after, "spec"), "schedulingGates");
	KT_CHECK(json_eq(gates, "[{\"name\":\"other.io/wait\"},{\"name\":\"firebreak.dev/quarantine\"}]"));
	cJSON_Delete(after);
	answer_release(&a);

	/* quarantined but naming its node: no gate (the API server would refuse it), still covered */
	snprintf(body, sizeof(body),
	         "{\"metadata\":{\"name\":\"pinned\"},\"spec\":{\"nodeName\":\"node-3\","
	         "\"tolerations\":%s}}", DEFAULT_PAIR);
	a = ask_rq_opts(&(rq){ .object = body }, &g, &MANAGED);
	KT_EQ_INT(a.res.outcome, FB_ADM_UNGATEABLE);
	ops = ops_of(&a, 2);
	KT_EQ_STR(path_at(ops, 0), "/spec/tolerations");
	KT_EQ_STR(path_at(ops, 1), "/metadata/annotations");
	cJSON_Delete(ops);
	KT_EQ_STR(audit(&a, "quarantine-ungated"), "deployment-web-1a2b3c");
	after = check_covered(body, &a, RECORD_300);
	KT_CHECK(!cJSON_GetObjectItem(cJSON_GetObjectItem(after, "spec"), "schedulingGates"));
	cJSON_Delete(after);
	answer_release(&a);
}

KT_TEST(managed_mode_writes_every_number_back_as_the_integer_it_was)
{
	/* the whole list goes back: a wildcard's 10^15 s, which cJSON would print "1e+15" and the
	 * API server's int64 refuse (an internal error that failurePolicy Ignore does not cover) */
	gate_rec g = { 0 };
	char *pod = deployment_pod("[" NR_300 ",{\"operator\":\"Exists\",\"effect\":\"NoExecute\","
	                           "\"tolerationSeconds\":1000000000000000}]",
	                           NULL, NULL);
	answer a = ask_rq_opts(&(rq){ .object = pod }, &g, &MANAGED);
	KT_EQ_INT(a.err, KC_OK);
	KT_CHECK(a.patch && strstr(a.patch, "\"tolerationSeconds\":1000000000000000"));
	KT_CHECK(a.patch && !strstr(a.patch, "e+"));
	cJSON *after = check_covered(pod, &a, "not-ready=300,unreachable=1000000000000");
	cJSON_Delete(after);
	answer_release(&a);
	free(pod);
}

KT_TEST(managed_mode_leaves_tolerations_it_cannot_write_back_exactly)
{
	/* a number a double does not carry exactly: admitted as it is, with a warning, and the
	 * gate still holds a quarantined workload's pod */
	static const char *const lists[] = {
		"[" NR_300 ",{\"key\":\"gpu\",\"operator\":\"Exists\",\"effect\":\"NoExecute\","
		"\"tolerationSeconds\":9007199254740993}]",
		"[{\"key\":\"node.kubernetes.io/not-ready\",\"operator\":\"Exists\","
		"\"effect\":\"NoExecute\",\"tolerationSeconds\":2.5}]",
	};
	for (size_t i = 0; i < sizeof(lists) / sizeof(*lists); i++) {
		for (int quarantined = 0; quarantined < 2; quarantined++) {
			gate_rec g = { .answer = quarantined ? "deployment-web-1a2b3c" : NULL };
			char *pod = deployment_pod(lists[i], NULL, NULL);
			answer a = ask_rq_opts(&(rq){ .object = pod }, &g, &MANAGED);
			KT_EQ_INT(a.err, KC_OK);
			KT_CHECK(!a.res.covered);
			KT_CHECK(a.res.uncoverable);
			KT_CHECK(audit(&a, "tolerations-covered") == NULL);
			KT_CHECK(first_warning(&a) && strstr(first_warning(&a), "not a whole number"));
			KT_EQ_INT(a.res.outcome, quarantined ? FB_ADM_GATED : FB_ADM_NOT_QUARANTINED);
			if (quarantined) {
				cJSON *ops = ops_of(&a, 1);
				KT_EQ_STR(path_at(ops, 0), "/spec/schedulingGates");
				cJSON_Delete(ops);
				KT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(a.response, "warnings")), 2);
			} else {
				KT_CHECK(a.patch == NULL);
			}
			answer_release(&a);
			free(pod);
		}
	}
}

KT_TEST(managed_mode_reinvoked_finds_the_pod_covered)
{
	/* healthy and quarantined: the second look (reinvocationPolicy IfNeeded) changes nothing and
	 * keeps the outcome */
	const char *answers[] = { NULL, "q" };
	const fb_adm_outcome second[] = { FB_ADM_NOT_QUARANTINED, FB_ADM_ALREADY_GATED };
	for (size_t i = 0; i < 2; i++) {
		gate_rec g = { .answer = answers[i] };
		char *pod = deployment_pod(DEFAULT_PAIR, NULL, NULL);
		answer a = ask_rq_opts(&(rq){ .object = pod }, &g, &MANAGED);
		KT_EQ_INT(a.res.outcome, answers[i] ? FB_ADM_GATED : FB_ADM_NOT_QUARANTINED);
		cJSON *after = check_covered(pod, &a, RECORD_300);
		char *again = cJSON_PrintUnformatted(after);
		g.calls = 0;
		answer b = ask_rq_opts(&(rq){ .object = again }, &g, &MANAGED);
		KT_EQ_INT(b.err, KC_OK);
		KT_EQ_INT(b.res.outcome, second[i]);
		KT_EQ_INT(g.calls, 1);
		KT_CHECK(!b.res.covered);
		KT_CHECK(b.patch == NULL);
		KT_CHECK(!audit(&b, "tolerations-covered"));
		/* what it would honour is still the record */
		KT_EQ_INT(b.res.record.not_ready_s, 300);
		KT_EQ_INT(b.res.record.unreachable_s, 300);
		answer_release(&b);
		kc_free(again);

		/* another webhook gave one key seconds again after us: that key is covered anew
		 * with its new seconds, the other keeps its record */
		cJSON *t = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(after, "spec"),
		                                                  "tolerations"), 0);
		cJSON_AddNumberToObject(t, "tolerationSeconds", 45);
		again = cJSON_PrintUnformatted(after);
		b = ask_rq_opts(&(rq){ .object = again }, &g, &MANAGED);
		cJSON *ops = ops_of(&b, 2);
		KT_EQ_STR(path_at(ops, 0), "/spec/tolerations");
		KT_CHECK(json_eq(value_at(ops, 0), COVERED_PAIR));
		KT_EQ_STR(path_at(ops, 1), ANN_PATH); /* the annotations are there now */
		cJSON_Delete(ops);
		cJSON *after2 = check_covered(again, &b, "not-ready=45,unreachable=300");
		cJSON_Delete(after2);
		answer_release(&b);
		kc_free(again);
		cJSON_Delete(after);
		answer_release(&a);
		free(pod);
	}
}

KT_TEST(managed_mode_records_anew_what_it_cannot_trust)
{
	/* a record that does not parse, or is not a string, is written anew from the spec; one
	 * that parses but is contradicted by the spec's seconds gives way to them */
	const char *anns[] = {
		"{\"firebreak.dev/toleration-seconds\":\"not-ready=banana\"}",
		"{\"firebreak.dev/toleration-seconds\":\"\"}",
		"{\"firebreak.dev/toleration-seconds\":5}",
		"{\"firebreak.dev/toleration-seconds\":\"not-ready=10,unreachable=10\"}",
	};
	for (size_t i = 0; i < sizeof(anns) / sizeof(anns[0]); i++) {
		gate_rec g = { 0 };
		char *pod = deployment_pod(DEFAULT_PAIR, anns[i], NULL);
		answer a = ask_rq_opts(&(rq){ .object = pod }, &g, &MANAGED);
		cJSON *ops = ops_of(&a, 2);
		KT_EQ_STR(path_at(ops, 1), ANN_PATH);
		KT_CHECK(json_eq(value_at(ops, 1), "\"" RECORD_300 "\""));
		cJSON_Delete(ops);
		cJSON *after = check_covered(pod, &a, RECORD_300);
		KT_EQ_INT(cJSON_GetArraySize(annotations_of(after)), 1);
		cJSON_Delete(after);
		answer_release(&a);
		free(pod);
	}
}

KT_TEST(managed_mode_removes_a_record_it_cannot_read)
{
	/* a pod that tolerates both forever, with a record that does not parse: nothing to
	 * cover, and the record goes, so that no pod starts with one the projection would read
	 * at the default; a readable one stays */
	const char *anns[] = {
		"{\"firebreak.dev/toleration-seconds\":\"not-ready=banana\",\"a\":\"b\"}",
		"{\"firebreak.dev/toleration-seconds\":\"\",\"a\":\"b\"}",
		"{\"firebreak.dev/toleration-seconds\":\"not-ready=10,unreachable=10\",\"a\":\"b\"}",
	};
	for (size_t i = 0; i < sizeof(anns) / sizeof(anns[0]); i++) {
		bool readable = i == 2;
		gate_rec g = { 0 };
		char *pod = deployment_pod(COVERED_PAIR, anns[i], NULL);
		answer a = ask_rq_opts(&(rq){ .object = pod }, &g, &MANAGED);
		KT_EQ_INT(a.err, KC_OK);
		KT_CHECK(!a.res.covered);
		KT_EQ_INT(a.res.record_removed, !readable);
		KT_CHECK(readable ? a.patch == NULL : a.patch != NULL);
		if (a.patch) {
			cJSON *ops = cJSON_Parse(a.patch), *after = cJSON_Parse(pod);
			KT_EQ_INT(cJSON_GetArraySize(ops), 1);
			KT_CHECK(json_patch_apply(after, ops));
			KT_CHECK(record_of(after) == NULL);
			KT_CHECK(cJSON_GetObjectItem(annotations_of(after), FB_ANNOTATION_TOLERATIONS) ==
			         NULL);
			KT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(annotations_of(after), "a")),
			          "b");
			KT_CHECK(json_eq(tols_of(after), COVERED_PAIR));
			cJSON_Delete(after);
			cJSON_Delete(ops);
		}
		answer_release(&a);
		free(pod);
	}
}

KT_TEST(managed_mode_off_covers_nothing)
{
	char *pod = deployment_pod(DEFAULT_PAIR, NULL, NULL);
	fb_adm_options off = { .managed = false, .default_toleration_s = 120 };
	for (int i = 0; i < 2; i++) {
		gate_rec g = { 0 };
		answer a = i == 0 ? ask_rq(&(rq){ .object = pod }, &g)
		                  : ask_rq_opts(&(rq){ .object = pod }, &g, &off);
		KT_EQ_INT(a.res.outcome, FB_ADM_NOT_QUARANTINED);
		KT_CHECK(!a.res.covered && a.patch == NULL);
		KT_CHECK(!cJSON_GetObjectItem(a.response, "auditAnnotations"));
		answer_release(&a);
		/* quarantined: the gate alone, as before managed mode */
		g.answer = "q";
		a = i == 0 ? ask_rq(&(rq){ .object = pod }, &g)
		           : ask_rq_opts(&(rq){ .object = pod }, &g, &off);
		KT_EQ_INT(a.res.outcome, FB_ADM_GATED);
		KT_EQ_STR(a.patch, PATCH_FIRST_GATE);
		KT_CHECK(!audit(&a, "tolerations-covered"));
		answer_release(&a);
	}
	/* what managed mode would refuse is not even looked at */
	gate_rec g = { 0 };
	answer a = ask_rq_opts(&(rq){ .object = "{\"metadata\":{\"name\":\"x\",\"annotations\":[]},"
	                                        "\"spec\":{\"tolerations\":{}}}" }, &g, &off);
	KT_EQ_INT(a.err, KC_OK);
	KT_EQ_INT(a.res.outcome, FB_ADM_NOT_QUARANTINED);
	answer_release(&a);
	free(pod);
}

KT_TEST(managed_mode_leaves_what_kubernetes_keeps)
{
	/* DaemonSet and mirror pods, and pods labelled firebreak.dev/webhook=skip (firebreak's own):
	 * not covered, and not even read (their tolerations are Kubernetes' business) */
	char *skip = deployment_pod(DEFAULT_PAIR, NULL, "\"firebreak.dev/webhook\":\"skip\",");
	const char *pods[] = {
		"{\"metadata\":{\"generateName\":\"agent-\",\"ownerReferences\":[{\"kind\":\"DaemonSet\","
		"\"name\":\"agent\",\"controller\":true}]},\"spec\":{\"tolerations\":" DEFAULT_PAIR "}}",
		"{\"metadata\":{\"generateName\":\"agent-\",\"ownerReferences\":[{\"kind\":\"DaemonSet\","
		"\"name\":\"agent\",\"controller\":true}],\"annotations\":7},\"spec\":{\"tolerations\":7}}",
		"{\"metadata\":{\"name\":\"etcd-node1\",\"annotations\":{\"kubernetes.io/config.mirror\":"
		"\"abc\"}},\"spec\":{\"nodeName\":\"node1\",\"tolerations\":" DEFAULT_PAIR "}}",
		skip,
	};
	const fb_adm_outcome outcomes[] = { FB_ADM_EXEMPT, FB_ADM_EXEMPT, FB_ADM_EXEMPT,
		                            FB_ADM_NOT_QUARANTINED };
	for (size_t i = 0; i < sizeof(pods) / sizeof(pods[0]); i++) {
		gate_rec g = { 0 };
		answer a = ask_rq_opts(&(rq){ .object = pods[i] }, &g, &MANAGED);
		KT_EQ_INT(a.err, KC_OK);
		KT_EQ_INT(a.res.outcome, outcomes[i]);
		KT_CHECK(!a.res.covered && a.patch == NULL);
		KT_CHECK(!fb_tol_record_any(&a.res.record));
		answer_release(&a);
	}
	free(skip);
	/* the label with another value is no exemption */
	char *pod = deployment_pod(DEFAULT_PAIR, NULL, "\"firebreak.dev/webhook\":\"no\",");
	gate_rec g = { 0 };
	answer a = ask_rq_opts(&(rq){ .object = pod }, &g, &MANAGED);
	cJSON *after = check_covered(pod, &a, RECORD_300);
	cJSON_Delete(after);
	answer_release(&a);
	free(pod);

	/* a bare pod is covered: Kubernetes would evict it too */
	const char *bare = "{\"metadata\":{\"name\":\"lonely\"},\"spec\":{\"tolerations\":" DEFAULT_PAIR "}}";
	g = (gate_rec){ 0 };
	a = ask_rq_opts(&(rq){ .object = bare }, &g, &MANAGED);
	KT_EQ_INT(a.res.outcome, FB_ADM_NOT_QUARANTINED);
	check_asked(&g, "Pod", "shop", "lonely");
	after = check_covered(bare, &a, RECORD_300);
	cJSON_Delete(after);
	answer_release(&a);
	/* ... even one whose workload cannot be named yet (never asked about) */
	bare = "{\"metadata\":{\"generateName\":\"tmp-\"},\"spec\":{\"tolerations\":" DEFAULT_PAIR "}}";
	g = (gate_rec){ .answer = "q" };
	a = ask_rq_opts(&(rq){ .object = bare }, &g, &MANAGED);
	KT_EQ_INT(a.res.outcome, FB_ADM_EXEMPT);
	KT_EQ_INT(g.calls, 0);
	after = check_covered(bare, &a, RECORD_300);
	cJSON_Delete(after);
	answer_release(&a);

	/* anything but a pod CREATE is never covered: an UPDATE may not change tolerations so */
	pod = deployment_pod(DEFAULT_PAIR, NULL, NULL);
	const rq others[] = { { .op = "UPDATE", .object = pod }, { .sub = "status", .object = pod } };
	for (size_t i = 0; i < 2; i++) {
		g = (gate_rec){ 0 };
		a = ask_rq_opts(&others[i], &g, &MANAGED);
		KT_EQ_INT(a.err, KC_OK);
		KT_EQ_INT(a.res.outcome, FB_ADM_IGNORED);
		KT_CHECK(!a.res.covered && a.patch == NULL);
		answer_release(&a);
	}
	free(pod);
}

KT_TEST(managed_mode_refuses_what_is_not_a_pod)
{
	static const struct {
		const char *object, *why;
	} cases[] = {
		{ "{\"metadata\":{\"name\":\"x\"},\"spec\":{\"tolerations\":{}}}",
		  "request.object.spec.tolerations is not an array" },
		{ "{\"metadata\":{\"name\":\"x\"},\"spec\":{\"tolerations\":\"" NR_KEY "\"}}",
		  "request.object.spec.tolerations is not an array" },
		{ "{\"metadata\":{\"name\":\"x\"},\"spec\":{\"tolerations\":300}}",
		  "request.object.spec.tolerations is not an array" },
		{ "{\"metadata\":{\"name\":\"x\",\"annotations\":[]},\"spec\":{}}",
		  "request.object.metadata.annotations is not an object" },
		{ "{\"metadata\":{\"name\":\"x\",\"annotations\":\"" RECORD_300 "\"},"
		  "\"spec\":{\"tolerations\":" DEFAULT_PAIR "}}",
		  "request.object.metadata.annotations is not an object" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		gate_rec g = { .answer = "q" };
		answer a = ask_rq_opts(&(rq){ .object = cases[i].object }, &g, &MANAGED);
		KT_EQ_INT(a.err, KC_ERR_PARSE); /* 400 */
		KT_CHECK(strstr(a.res.reason, cases[i].why) != NULL);
		KT_CHECK(!strchr(a.res.reason, '\n'));
		KT_CHECK(!a.res.covered);
		KT_EQ_STR(a.res.uid, UID);
		answer_release(&a);
	}
}

KT_TEST(managed_mode_survives_every_allocation_failure)
{
	fb_adm_options o120 = MANAGED;
	o120.default_toleration_s = 120;
	/* the gate and a cover inserting before a wildcard, the record's member added */
	char *pod = deployment_pod("[{\"operator\":\"Exists\",\"effect\":\"NoExecute\","
	                           "\"tolerationSeconds\":60}]", "{\"a\":\"b\"}", NULL);
	char *review = mk(&(rq){ .object = pod });
	KT_CHECK(alloc_failures(review, &MANAGED, "q", FB_ADM_GATED, true) > 10);
	free(review);
	free(pod);
	/* the seconds dropped, the whole annotations map added */
	pod = deployment_pod(DEFAULT_PAIR, NULL, NULL);
	review = mk(&(rq){ .object = pod });
	KT_CHECK(alloc_failures(review, &MANAGED, NULL, FB_ADM_NOT_QUARANTINED, true) > 10);
	free(review);
	free(pod);
	/* no tolerations: both appended at the default */
	pod = deployment_pod(NULL, NULL, NULL);
	review = mk(&(rq){ .object = pod });
	KT_CHECK(alloc_failures(review, &o120, NULL, FB_ADM_NOT_QUARANTINED, true) > 10);
	free(review);
	free(pod);
	/* covered already: the gate alone */
	pod = deployment_pod(COVERED_PAIR, "{\"firebreak.dev/toleration-seconds\":\"" RECORD_300 "\"}",
	                     NULL);
	review = mk(&(rq){ .object = pod });
	KT_CHECK(alloc_failures(review, &MANAGED, "q", FB_ADM_GATED, false) > 5);
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
	KT_RUN(managed_mode_covers_the_default_tolerations_of_a_new_pod);
	KT_RUN(managed_mode_records_each_pods_own_seconds);
	KT_RUN(managed_mode_leaves_a_pod_that_tolerates_both_forever);
	KT_RUN(managed_mode_and_the_gate_share_one_patch);
	KT_RUN(managed_mode_writes_every_number_back_as_the_integer_it_was);
	KT_RUN(managed_mode_leaves_tolerations_it_cannot_write_back_exactly);
	KT_RUN(managed_mode_reinvoked_finds_the_pod_covered);
	KT_RUN(managed_mode_records_anew_what_it_cannot_trust);
	KT_RUN(managed_mode_removes_a_record_it_cannot_read);
	KT_RUN(managed_mode_off_covers_nothing);
	KT_RUN(managed_mode_leaves_what_kubernetes_keeps);
	KT_RUN(managed_mode_refuses_what_is_not_a_pod);
	KT_RUN(managed_mode_survives_every_allocation_failure);
	KT_RUN(outcome_names);
	kc_global_cleanup();
	return KT_DONE();
}
