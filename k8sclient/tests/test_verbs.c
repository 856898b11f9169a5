/*
 * The verbs on the wire: paths, query parameters sent only when set, bodies
 * that keep zero/false values, DeleteOptions with only the fields set, the
 * policy/v1 Eviction body, patch content types, decoding of answers (garbage
 * JSON is KC_ERR_PARSE, error answers are Status), and allocation failure.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include "kc/alloc.h"
#include "internal.h"
#include "kc/client.h"
#include "kctest.h"
#include "testserver.h"

typedef struct seen {
	pthread_mutex_t mu;
	int requests;
	char method[16];
	char path[KT_MAX_TARGET];
	char query[KT_MAX_TARGET];
	char content_type[128];
	char body[4096];
	size_t body_len;
	/* what to answer */
	int status;
	const char *answer;
} seen;

static seen S;

static void handler(void *ud, const kt_request *req, kt_conn *conn)
{
	(void)ud;
	pthread_mutex_lock(&S.mu);
	S.requests++;
	snprintf(S.method, sizeof(S.method), "%s", req->method);
	snprintf(S.path, sizeof(S.path), "%s", req->path);
	snprintf(S.query, sizeof(S.query), "%s", req->query);
	if (!kt_header(req, "Content-Type", S.content_type, sizeof(S.content_type)))
		S.content_type[0] = '\0';
	snprintf(S.body, sizeof(S.body), "%s", req->body);
	S.body_len = req->body_len;
	int status = S.status;
	const char *answer = S.answer;
	pthread_mutex_unlock(&S.mu);
	kt_respond(conn, status, NULL, answer);
}

static void expect(int status, const char *answer)
{
	pthread_mutex_lock(&S.mu);
	S.requests = 0;
	S.method[0] = S.path[0] = S.query[0] = S.content_type[0] = S.body[0] = '\0';
	S.body_len = 0;
	S.status = status;
	S.answer = answer;
	pthread_mutex_unlock(&S.mu);
}

static kt_server *srv;
static kc_config *cfg;
static kc_client *cli;

static const char obj_answer[] = "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"resourceVersion\":\"7\"}}";

KT_TEST(get_decodes_the_object)
{
	expect(200, obj_answer);
	cJSON *out = NULL;
	kc_error_detail d;
	KT_EQ_INT(kc_get(cli, &KC_RES_PODS, "ns 1", "p/1", NULL, &out, &d), KC_OK);
	KT_EQ_STR(S.method, "GET");
	KT_EQ_STR(S.path, "/api/v1/namespaces/ns%201/pods/p%2F1");
	KT_EQ_STR(S.query, "");
	KT_CHECK(out != NULL);
	KT_EQ_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(out, "metadata"), "resourceVersion")->valuestring, "7");
	cJSON_Delete(out);

	expect(200, obj_answer);
	KT_EQ_INT(kc_get(cli, &KC_RES_NODES, NULL, "n1", "status", NULL, &d), KC_OK);
	KT_EQ_STR(S.path, "/api/v1/nodes/n1/status");
}

KT_TEST(garbage_json_is_a_parse_error)
{
	cJSON *out = (cJSON *)0x1; /* untouched on failure */
	kc_error_detail d;
	expect(200, "{\"kind\":\"Pod\",\"metadata\":{\"name\":");
	KT_EQ_INT(kc_get(cli, &KC_RES_PODS, "ns", "p", NULL, &out, &d), KC_ERR_PARSE);
	KT_CHECK(out == (cJSON *)0x1);
	expect(200, "");
	KT_EQ_INT(kc_get(cli, &KC_RES_PODS, "ns", "p", NULL, &out, &d), KC_ERR_PARSE);
	expect(200, "[1,2]");
	KT_EQ_INT(kc_get(cli, &KC_RES_PODS, "ns", "p", NULL, &out, &d), KC_ERR_PARSE);
	expect(200, "\x01\xff\xfe not json at all");
	KT_EQ_INT(kc_get(cli, &KC_RES_PODS, "ns", "p", NULL, &out, &d), KC_ERR_PARSE);
	KT_CHECK(out == (cJSON *)0x1);
}

KT_TEST(error_answers_are_status_not_objects)
{
	cJSON *out = NULL;
	kc_error_detail d;
	expect(404, "{\"kind\":\"Status\",\"reason\":\"NotFound\",\"message\":\"pods \\\"p\\\" not found\","
	            "\"code\":404}");
	KT_EQ_INT(kc_get(cli, &KC_RES_PODS, "ns", "p", NULL, &out, &d), KC_ERR_NOT_FOUND);
	KT_CHECK(out == NULL);
	KT_EQ_STR(d.reason, "NotFound");
	/* an error answer that is not even JSON */
	expect(500, "<html>oops</html>");
	KT_EQ_INT(kc_get(cli, &KC_RES_PODS, "ns", "p", NULL, &out, &d), KC_ERR_SERVER);
	KT_CHECK(out == NULL);
	KT_EQ_INT(d.http_status, 500);
	KT_CHECK(strstr(d.message, "oops") != NULL);
	/* invalid names never reach the server */
	expect(200, obj_answer);
	KT_EQ_INT(kc_get(cli, &KC_RES_PODS, "ns", "..", NULL, &out, &d), KC_ERR_INVALID);
	KT_EQ_INT(kc_get(cli, &KC_RES_PODS, NULL, "p", NULL, &out, &d), KC_ERR_INVALID);
	KT_EQ_INT(S.requests, 0);
}

KT_TEST(list_sends_only_what_was_set)
{
	cJSON *out = NULL;
	kc_error_detail d;
	expect(200, "{\"kind\":\"PodList\",\"items\":[]}");
	KT_EQ_INT(kc_list(cli, &KC_RES_PODS, NULL, NULL, &out, &d), KC_OK);
	KT_EQ_STR(S.path, "/api/v1/pods");
	KT_EQ_STR(S.query, "");
	cJSON_Delete(out);

	kc_list_opts o = { .limit = { true, 0 }, .label_selector = "app=a b" };
	expect(200, "{\"kind\":\"PodList\",\"items\":[]}");
	KT_EQ_INT(kc_list(cli, &KC_RES_PODS, "ns", &o, NULL, &d), KC_OK);
	KT_EQ_STR(S.path, "/api/v1/namespaces/ns/pods");
	KT_EQ_STR(S.query, "labelSelector=app%3Da%20b&limit=0");

	kc_list_opts p = { .limit = { true, 500 }, .continue_token = "abc=", .resource_version = "0" };
	expect(200, "{\"kind\":\"LeaseList\",\"items\":[]}");
	KT_EQ_INT(kc_list(cli, &KC_RES_LEASES, "kube-system", &p, NULL, &d), KC_OK);
	KT_EQ_STR(S.path, "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases");
	KT_EQ_STR(S.query, "resourceVersion=0&continue=abc%3D&limit=500");
}

KT_TEST(create_keeps_zero_and_false)
{
	cJSON *obj = cJSON_Parse("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
	                         "\"metadata\":{\"name\":\"d\"},"
	                         "\"spec\":{\"replicas\":0,\"paused\":false,\"selector\":{}}}");
	cJSON *out = NULL;
	kc_error_detail d;
	expect(201, "{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\",\"uid\":\"u1\"}}");
	KT_EQ_INT(kc_create(cli, &KC_RES_DEPLOYMENTS, "ns", obj, NULL, &out, &d), KC_OK);
	KT_EQ_STR(S.method, "POST");
	KT_EQ_STR(S.path, "/apis/apps/v1/namespaces/ns/deployments");
	KT_EQ_STR(S.query, "");
	KT_EQ_STR(S.content_type, "application/json");
	KT_EQ_STR(S.body, "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\"},"
	                  "\"spec\":{\"replicas\":0,\"paused\":false,\"selector\":{}}}");
	KT_EQ_STR(kc__json_str(cJSON_GetObjectItem(out, "metadata"), "uid"), "u1");
	cJSON_Delete(out);

	kc_write_opts w = { .field_manager = "firebreak", .dry_run = true };
	expect(201, obj_answer);
	KT_EQ_INT(kc_create(cli, &KC_RES_DEPLOYMENTS, "ns", obj, &w, NULL, &d), KC_OK);
	KT_EQ_STR(S.query, "fieldManager=firebreak&dryRun=All");
	cJSON_Delete(obj);
}

KT_TEST(update_puts_to_the_name)
{
	cJSON *obj = cJSON_Parse("{\"kind\":\"Lease\",\"metadata\":{\"name\":\"l\",\"resourceVersion\":\"41\"},"
	                         "\"spec\":{\"leaseDurationSeconds\":15}}");
	kc_error_detail d;
	expect(409, "{\"kind\":\"Status\",\"reason\":\"Conflict\",\"code\":409}");
	KT_EQ_INT(kc_update(cli, &KC_RES_LEASES, "kube-system", "l", NULL, obj, NULL, NULL, &d),
	          KC_ERR_CONFLICT);
	KT_EQ_STR(S.method, "PUT");
	KT_EQ_STR(S.path, "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/l");
	KT_CHECK(strstr(S.body, "\"resourceVersion\":\"41\"") != NULL);
	expect(200, obj_answer);
	kc_write_opts w = { .dry_run = true };
	KT_EQ_INT(kc_update(cli, &KC_RES_NODES, NULL, "n", "status", obj, &w, NULL, &d), KC_OK);
	KT_EQ_STR(S.path, "/api/v1/nodes/n/status");
	KT_EQ_STR(S.query, "dryRun=All");
	cJSON_Delete(obj);
}

KT_TEST(patch_content_types)
{
	static const struct {
		kc_patch_type type;
		const char *ct;
	} cases[] = {
		{ KC_PATCH_MERGE, "application/merge-patch+json" },
		{ KC_PATCH_STRATEGIC, "application/strategic-merge-patch+json" },
		{ KC_PATCH_JSON, "application/json-patch+json" },
		{ KC_PATCH_APPLY, "application/apply-patch+yaml" },
	};
	kc_write_opts w = { .field_manager = "firebreak" };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kc_error_detail d;
		expect(200, obj_answer);
		const char *patch = "{\"spec\":{\"taints\":[]}}";
		KT_EQ_INT(kc_patch(cli, &KC_RES_NODES, NULL, "n", NULL, cases[i].type, patch, &w, NULL, &d),
		          KC_OK);
		KT_EQ_STR(S.method, "PATCH");
		KT_EQ_STR(S.path, "/api/v1/nodes/n");
		KT_EQ_STR(S.content_type, cases[i].ct);
		KT_EQ_STR(S.body, patch);
		KT_EQ_STR(S.query, "fieldManager=firebreak");
	}
	/* apply without a field manager is refused before anything is sent */
	kc_error_detail d;
	expect(200, obj_answer);
	KT_EQ_INT(kc_patch(cli, &KC_RES_NODES, NULL, "n", NULL, KC_PATCH_APPLY, "{}", NULL, NULL, &d),
	          KC_ERR_INVALID);
	KT_EQ_INT(S.requests, 0);
	/* the answer is decoded */
	cJSON *out = NULL;
	expect(200, obj_answer);
	KT_EQ_INT(kc_patch(cli, &KC_RES_PODS, "ns", "p", "status", KC_PATCH_MERGE, "{}", NULL, &out, &d),
	          KC_OK);
	KT_EQ_STR(S.path, "/api/v1/namespaces/ns/pods/p/status");
	KT_EQ_STR(S.query, "");
	KT_CHECK(cJSON_IsObject(out));
	cJSON_Delete(out);
}

KT_TEST(delete_sends_only_the_options_set)
{
	kc_error_detail d;
	expect(200, "{\"kind\":\"Status\",\"status\":\"Success\"}");
	KT_EQ_INT(kc_delete(cli, &KC_RES_PODS, "ns", "p", NULL, &d), KC_OK);
	KT_EQ_STR(S.method, "DELETE");
	KT_EQ_STR(S.path, "/api/v1/namespaces/ns/pods/p");
	KT_EQ_INT(S.body_len, 0);
	KT_EQ_STR(S.content_type, "");

	kc_delete_opts none = { 0 };
	expect(200, obj_answer);
	KT_EQ_INT(kc_delete(cli, &KC_RES_PODS, "ns", "p", &none, &d), KC_OK);
	KT_EQ_INT(S.body_len, 0);

	kc_delete_opts zero = { .grace_period_seconds = { true, 0 } };
	expect(200, obj_answer);
	KT_EQ_INT(kc_delete(cli, &KC_RES_PODS, "ns", "p", &zero, &d), KC_OK);
	KT_EQ_STR(S.body, "{\"gracePeriodSeconds\":0}");
	KT_EQ_STR(S.content_type, "application/json");

	kc_delete_opts all = {
		.grace_period_seconds = { true, 30 },
		.precondition_uid = "u-1",
		.precondition_resource_version = "99",
		.propagation_policy = "Background",
		.dry_run = true,
	};
	expect(200, obj_answer);
	KT_EQ_INT(kc_delete(cli, &KC_RES_NODES, NULL, "n", &all, &d), KC_OK);
	KT_EQ_STR(S.path, "/api/v1/nodes/n");
	KT_EQ_STR(S.body, "{\"gracePeriodSeconds\":30,\"preconditions\":{\"uid\":\"u-1\","
	                  "\"resourceVersion\":\"99\"},\"propagationPolicy\":\"Background\","
	                  "\"dryRun\":[\"All\"]}");

	expect(404, "{\"kind\":\"Status\",\"reason\":\"NotFound\",\"code\":404}");
	KT_EQ_INT(kc_delete(cli, &KC_RES_PODS, "ns", "gone", NULL, &d), KC_ERR_NOT_FOUND);
}

KT_TEST(eviction_body)
{
	kc_error_detail d;
	expect(201, "{\"kind\":\"Status\",\"status\":\"Success\",\"code\":201}");
	KT_EQ_INT(kc_evict(cli, "ns", "web-0", NULL, &d), KC_OK);
	KT_EQ_STR(S.method, "POST");
	KT_EQ_STR(S.path, "/api/v1/namespaces/ns/pods/web-0/eviction");
	KT_EQ_STR(S.content_type, "application/json");
	KT_EQ_STR(S.body, "{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\","
	                  "\"metadata\":{\"name\":\"web-0\",\"namespace\":\"ns\"}}");

	kc_delete_opts o = { .grace_period_seconds = { true, 10 }, .precondition_uid = "abc",
	                     .dry_run = true };
	expect(201, "{}");
	KT_EQ_INT(kc_evict(cli, "ns", "web-0", &o, &d), KC_OK);
	KT_EQ_STR(S.body, "{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\","
	                  "\"metadata\":{\"name\":\"web-0\",\"namespace\":\"ns\"},"
	                  "\"deleteOptions\":{\"gracePeriodSeconds\":10,"
	                  "\"preconditions\":{\"uid\":\"abc\"},\"dryRun\":[\"All\"]}}");

	/* a PodDisruptionBudget says no: 429, not retried without Retry-After */
	expect(429, "{\"kind\":\"Status\",\"reason\":\"TooManyRequests\",\"message\":\"Cannot evict pod "
	            "as it would violate the pod's disruption budget.\",\"code\":429}");
	KT_EQ_INT(kc_evict(cli, "ns", "web-0", NULL, &d), KC_ERR_TOO_MANY);
	KT_EQ_INT(S.requests, 1);
	KT_CHECK(strstr(d.message, "disruption budget") != NULL);

	expect(201, "{}");
	KT_EQ_INT(kc_evict(cli, NULL, "web-0", NULL, &d), KC_ERR_INVALID);
	KT_EQ_INT(kc_evict(cli, "ns", "", NULL, &d), KC_ERR_INVALID);
	KT_EQ_INT(S.requests, 0);
}

KT_TEST(verbs_under_allocation_failure)
{
	cJSON *obj = cJSON_Parse("{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"},\"data\":{\"a\":\"\"}}");
	kc_delete_opts o = { .grace_period_seconds = { true, 0 }, .precondition_uid = "u",
	                     .dry_run = true };
	bool done = false;
	for (long n = 0; n < 400 && !done; n++) {
		kc_error_detail d;
		cJSON *out = NULL;
		expect(201, obj_answer);
		kc_alloc_fail_after(n);
		kc_err e1 = kc_evict(cli, "ns", "p", &o, &d);
		kc_err e2 = e1 ? e1 : kc_create(cli, &KC_RES_PODS, "ns", obj, NULL, &out, &d);
		bool failed = kc_alloc_fail_triggered();
		kc_alloc_fail_reset();
		/* cJSON cannot tell a failed allocation from bad input: PARSE is possible */
		KT_CHECK(e1 == KC_OK || e1 == KC_ERR_NOMEM);
		KT_CHECK(e2 == KC_OK || e2 == KC_ERR_NOMEM || e2 == KC_ERR_PARSE);
		KT_CHECK(e2 != KC_OK || out != NULL);
		cJSON_Delete(out);
		if (!e1 && !e2 && !failed)
			done = true;
	}
	KT_CHECK(done);
	cJSON_Delete(obj);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	pthread_mutex_init(&S.mu, NULL);
	kc_global_init();
	kt_server_opts so = { .tls = true, .handler = handler };
	if (kt_server_start(&so, &srv) != 0 || !(cfg = kt_server_config(srv, "t0k"))) {
		fprintf(stderr, "cannot start the test server\n");
		return 1;
	}
	kc_error_detail d;
	kc_client_options co = { .rate_limit_off = true };
	if (kc_client_new(cfg, &co, &cli, &d) != KC_OK) {
		fprintf(stderr, "kc_client_new: %s\n", d.message);
		return 1;
	}
	KT_RUN(get_decodes_the_object);
	KT_RUN(garbage_json_is_a_parse_error);
	KT_RUN(error_answers_are_status_not_objects);
	KT_RUN(list_sends_only_what_was_set);
	KT_RUN(create_keeps_zero_and_false);
	KT_RUN(update_puts_to_the_name);
	KT_RUN(patch_content_types);
	KT_RUN(delete_sends_only_the_options_set);
	KT_RUN(eviction_body);
	KT_RUN(verbs_under_allocation_failure);
	kc_client_free(cli);
	kc_config_free(cfg);
	kt_server_stop(srv);
	return KT_DONE();
}
