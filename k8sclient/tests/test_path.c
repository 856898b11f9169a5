/*
 * Request paths, percent-encoding and list query parameters (checklist items
 * 8 and 23): names that would otherwise change the URL's meaning are encoded,
 * and optional parameters are sent only when the caller set them.
 */
#include <stdlib.h>

#include "kc/alloc.h"
#include "kc/client.h"
#include "kctest.h"

static char *path_of(const kc_resource *res, const char *ns, const char *name,
                     const char *sub, kc_err *err)
{
	kc_buf b;
	kc_buf_init(&b, 4096);
	*err = kc_path_append(&b, res, ns, name, sub);
	if (*err) {
		kc_buf_release(&b);
		return NULL;
	}
	return kc_buf_take(&b);
}

#define EXPECT_PATH(res, ns, name, sub, want)                                       \
	do {                                                                        \
		kc_err e_;                                                          \
		char *p_ = path_of(res, ns, name, sub, &e_);                        \
		KT_EQ_INT(e_, KC_OK);                                               \
		KT_EQ_STR(p_, want);                                                \
		kc_free(p_);                                                        \
	} while (0)

#define EXPECT_PATH_ERR(res, ns, name, sub)                                         \
	do {                                                                        \
		kc_err e_;                                                          \
		char *p_ = path_of(res, ns, name, sub, &e_);                        \
		KT_EQ_INT(e_, KC_ERR_INVALID);                                      \
		KT_CHECK(p_ == NULL);                                               \
		kc_free(p_);                                                        \
	} while (0)

KT_TEST(paths_core_and_groups)
{
	EXPECT_PATH(&KC_RES_PODS, "kube-system", NULL, NULL, "/api/v1/namespaces/kube-system/pods");
	EXPECT_PATH(&KC_RES_PODS, NULL, NULL, NULL, "/api/v1/pods");
	EXPECT_PATH(&KC_RES_PODS, "", NULL, NULL, "/api/v1/pods"); /* NamespaceAll */
	EXPECT_PATH(&KC_RES_PODS, "ns", "p-1", "eviction", "/api/v1/namespaces/ns/pods/p-1/eviction");
	EXPECT_PATH(&KC_RES_NODES, NULL, "node-a", "status", "/api/v1/nodes/node-a/status");
	/* a namespace on a cluster-scoped resource is ignored */
	EXPECT_PATH(&KC_RES_NODES, "ns", "node-a", NULL, "/api/v1/nodes/node-a");
	EXPECT_PATH(&KC_RES_LEASES, "kube-system", "firebreak", NULL,
	            "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/firebreak");
	EXPECT_PATH(&KC_RES_EVENTS, "a", NULL, NULL, "/apis/events.k8s.io/v1/namespaces/a/events");
	EXPECT_PATH(&KC_RES_CORE_EVENTS, "a", NULL, NULL, "/api/v1/namespaces/a/events");
	EXPECT_PATH(&KC_RES_DEPLOYMENTS, "a", "d", "scale", "/apis/apps/v1/namespaces/a/deployments/d/scale");
	EXPECT_PATH(&KC_RES_CRONJOBS, "a", NULL, NULL, "/apis/batch/v1/namespaces/a/cronjobs");
	kc_resource crd = { "firebreak.dev", "v1alpha1", "evictionbudgets", "EvictionBudget", false };
	EXPECT_PATH(&crd, NULL, "gpu-pool", NULL, "/apis/firebreak.dev/v1alpha1/evictionbudgets/gpu-pool");
}

KT_TEST(paths_encode_hostile_segments)
{
	EXPECT_PATH(&KC_RES_PODS, "ns", "a b", NULL, "/api/v1/namespaces/ns/pods/a%20b");
	EXPECT_PATH(&KC_RES_PODS, "ns", "a/b", NULL, "/api/v1/namespaces/ns/pods/a%2Fb");
	EXPECT_PATH(&KC_RES_PODS, "ns", "100%", NULL, "/api/v1/namespaces/ns/pods/100%25");
	EXPECT_PATH(&KC_RES_PODS, "ns", "x?y#z&w=1", NULL, "/api/v1/namespaces/ns/pods/x%3Fy%23z%26w%3D1");
	EXPECT_PATH(&KC_RES_PODS, "ns", "h\xc3\xa9", NULL, "/api/v1/namespaces/ns/pods/h%C3%A9");
	EXPECT_PATH(&KC_RES_PODS, "ns", "...", NULL, "/api/v1/namespaces/ns/pods/...");
	EXPECT_PATH(&KC_RES_PODS, "n/s", "p", NULL, "/api/v1/namespaces/n%2Fs/pods/p");
}

KT_TEST(paths_reject_bad_segments)
{
	EXPECT_PATH_ERR(&KC_RES_PODS, NULL, "p", NULL);  /* namespaced name without ns */
	EXPECT_PATH_ERR(&KC_RES_PODS, "", "p", NULL);
	EXPECT_PATH_ERR(&KC_RES_PODS, "ns", "", NULL);
	EXPECT_PATH_ERR(&KC_RES_PODS, "ns", ".", NULL);
	EXPECT_PATH_ERR(&KC_RES_PODS, "ns", "..", NULL);
	EXPECT_PATH_ERR(&KC_RES_PODS, "..", "p", NULL);
	EXPECT_PATH_ERR(&KC_RES_PODS, "ns", "p", "");
	EXPECT_PATH_ERR(&KC_RES_PODS, "ns", "p", "..");
	EXPECT_PATH_ERR(&KC_RES_PODS, "ns", NULL, "status"); /* subresource without name */
	EXPECT_PATH_ERR(&KC_RES_NODES, NULL, "", NULL);
}

KT_TEST(path_failure_leaves_buffer_unchanged)
{
	kc_buf b;
	kc_buf_init(&b, 30);
	KT_EQ_INT(kc_buf_append_str(&b, "/prefix"), KC_OK);
	KT_EQ_INT(kc_path_append(&b, &KC_RES_PODS, "ns", "a-rather-long-pod-name", NULL), KC_ERR_TOOBIG);
	KT_EQ_STR(b.data, "/prefix");
	KT_EQ_INT(kc_path_append(&b, &KC_RES_PODS, "ns", "..", NULL), KC_ERR_INVALID);
	KT_EQ_STR(b.data, "/prefix");
	KT_EQ_INT(kc_path_append(&b, &KC_RES_NODES, NULL, "n", NULL), KC_OK);
	KT_EQ_STR(b.data, "/prefix/api/v1/nodes/n");
	kc_buf_release(&b);
}

KT_TEST(percent_encode_unreserved_only)
{
	kc_buf b;
	kc_buf_init(&b, 4096);
	KT_EQ_INT(kc_percent_encode(&b, "AZaz09-._~"), KC_OK);
	KT_EQ_STR(b.data, "AZaz09-._~");
	kc_buf_reset(&b);
	KT_EQ_INT(kc_percent_encode(&b, " !\"#$%&'()*+,/:;=?@[]\x7f\xff"), KC_OK);
	KT_EQ_STR(b.data, "%20%21%22%23%24%25%26%27%28%29%2A%2B%2C%2F%3A%3B%3D%3F%40%5B%5D%7F%FF");
	kc_buf_reset(&b);
	KT_EQ_INT(kc_percent_encode(&b, ""), KC_OK);
	KT_EQ_STR(b.data, "");
	kc_buf_release(&b);
}

KT_TEST(query_append_encodes_keys_and_values)
{
	kc_buf b;
	kc_buf_init(&b, 4096);
	KT_EQ_INT(kc_query_append(&b, "labelSelector", "app in (a,b),tier!=db"), KC_OK);
	KT_EQ_INT(kc_query_append(&b, "k&=", "v a/l%"), KC_OK);
	KT_EQ_INT(kc_query_append(&b, "empty", ""), KC_OK);
	KT_EQ_STR(b.data, "labelSelector=app%20in%20%28a%2Cb%29%2Ctier%21%3Ddb&k%26%3D=v%20a%2Fl%25&empty=");
	KT_EQ_INT(kc_query_append(&b, "k", NULL), KC_ERR_INVALID);
	KT_EQ_INT(kc_query_append(&b, "", "v"), KC_ERR_INVALID);
	kc_buf_release(&b);
}

static char *list_query(const kc_list_opts *o, bool watch)
{
	kc_buf b;
	kc_buf_init(&b, 4096);
	if (kc_list_query(&b, o, watch) != KC_OK) {
		kc_buf_release(&b);
		return NULL;
	}
	return kc_buf_take(&b);
}

KT_TEST(list_query_sends_nothing_unasked)
{
	kc_list_opts none = { 0 };
	char *q = list_query(&none, false);
	KT_EQ_STR(q, "");
	kc_free(q);
	q = list_query(NULL, false);
	KT_EQ_STR(q, "");
	kc_free(q);
	/* watch-only booleans are not sent on a LIST even when true */
	kc_list_opts wl = { .allow_watch_bookmarks = true, .send_initial_events = true };
	q = list_query(&wl, false);
	KT_EQ_STR(q, "");
	kc_free(q);
	q = list_query(&none, true);
	KT_EQ_STR(q, "watch=1");
	kc_free(q);
}

KT_TEST(list_query_sends_zero_when_set)
{
	kc_list_opts o = { .limit = { .set = true, .value = 0 } };
	char *q = list_query(&o, false);
	KT_EQ_STR(q, "limit=0");
	kc_free(q);
	o.limit.set = false;
	o.limit.value = 500; /* a value without `set` is not sent */
	q = list_query(&o, false);
	KT_EQ_STR(q, "");
	kc_free(q);
}

KT_TEST(list_query_all_fields)
{
	kc_list_opts o = {
		.label_selector = "a=b",
		.field_selector = "spec.nodeName=n 1",
		.resource_version = "123",
		.resource_version_match = "NotOlderThan",
		.continue_token = "eyJ2Ijoi+/=",
		.limit = { true, 500 },
		.timeout_seconds = { true, 417 },
		.allow_watch_bookmarks = true,
		.send_initial_events = true,
	};
	char *q = list_query(&o, true);
	KT_EQ_STR(q, "watch=1&labelSelector=a%3Db&fieldSelector=spec.nodeName%3Dn%201"
	             "&resourceVersion=123&resourceVersionMatch=NotOlderThan"
	             "&continue=eyJ2Ijoi%2B%2F%3D&limit=500&timeoutSeconds=417"
	             "&allowWatchBookmarks=true&sendInitialEvents=true");
	kc_free(q);
	/* appending to an existing query joins with '&' */
	kc_buf b;
	kc_buf_init(&b, 4096);
	KT_EQ_INT(kc_query_append(&b, "x", "1"), KC_OK);
	kc_list_opts rv = { .resource_version = "0" };
	KT_EQ_INT(kc_list_query(&b, &rv, false), KC_OK);
	KT_EQ_STR(b.data, "x=1&resourceVersion=0");
	kc_buf_release(&b);
}

KT_TEST(path_and_query_alloc_failures)
{
	for (long n = 0;; n++) {
		kc_buf b;
		kc_buf_init(&b, 4096);
		kc_alloc_fail_after(n);
		kc_err e1 = kc_path_append(&b, &KC_RES_PODS, "ns", "name with spaces", "status");
		kc_list_opts o = { .label_selector = "a=b", .limit = { true, 0 } };
		kc_err e2 = e1 ? e1 : kc_list_query(&b, &o, true);
		kc_alloc_fail_reset();
		KT_CHECK(e1 == KC_OK || e1 == KC_ERR_NOMEM);
		KT_CHECK(e2 == KC_OK || e2 == KC_ERR_NOMEM);
		kc_buf_release(&b);
		if (!e1 && !e2)
			break;
		KT_CHECK(n < 100);
		if (n >= 100)
			break;
	}
}

int main(void)
{
	KT_RUN(paths_core_and_groups);
	KT_RUN(paths_encode_hostile_segments);
	KT_RUN(paths_reject_bad_segments);
	KT_RUN(path_failure_leaves_buffer_unchanged);
	KT_RUN(percent_encode_unreserved_only);
	KT_RUN(query_append_encodes_keys_and_values);
	KT_RUN(list_query_sends_nothing_unasked);
	KT_RUN(list_query_sends_zero_when_set);
	KT_RUN(list_query_all_fields);
	KT_RUN(path_and_query_alloc_failures);
	return KT_DONE();
}
