/*
 * The informer cache (kc/informer.h): projection, add/update/delete
 * notifications, Replace semantics on relist, synced, thread-safe reads, and
 * start/stop against a scripted API server.
 */
#include <pthread.h>
#include <stdlib.h>

#include "kc/alloc.h"
#include "kc/informer.h"
#include "kc/time.h"
#include "kctest.h"
#include "testserver.h"

/* ---- a small projection: what a controller would keep of a pod ------------------ */

typedef struct mini_pod {
	char node[64];
	char rv[24];
} mini_pod;

static void *project(const cJSON *obj, void *ud)
{
	(void)ud;
	mini_pod *p = kc_calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	const cJSON *node = cJSON_GetObjectItemCaseSensitive(spec, "nodeName");
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	const cJSON *rv = cJSON_GetObjectItemCaseSensitive(meta, "resourceVersion");
	if (cJSON_IsString(node))
		snprintf(p->node, sizeof(p->node), "%.63s", node->valuestring);
	if (cJSON_IsString(rv))
		snprintf(p->rv, sizeof(p->rv), "%.23s", rv->valuestring);
	return p;
}

static void free_obj(void *obj, void *ud)
{
	(void)ud;
	kc_free(obj);
}

/* Notifications are logged as "add:KEY@node", "upd:KEY:oldnode>newnode", "del:KEY@node". */
typedef struct notes {
	pthread_mutex_t lock;
	kc_buf log;
	kc_informer *inf;      /* to check the cache from inside callbacks */
	int consistent_failures;
} notes;

static void note(notes *n, const char *s)
{
	pthread_mutex_lock(&n->lock);
	kc_buf_append_str(&n->log, s);
	pthread_mutex_unlock(&n->lock);
}

static void split_key(const char *key, char *ns, char *name)
{
	const char *slash = strchr(key, '/');
	size_t nl = slash ? (size_t)(slash - key) : 0;
	memcpy(ns, key, nl);
	ns[nl] = '\0';
	snprintf(name, 256, "%.255s", slash ? slash + 1 : key);
}

static void seen_node(const char *key, const void *obj, void *ud)
{
	*(const char **)ud = ((const mini_pod *)obj)->node;
}

/* Inside a callback the cache already holds the new state. */
static void check_cache(notes *n, const char *key, const void *expect)
{
	if (!n->inf)
		return;
	char ns[256], name[256];
	split_key(key, ns, name);
	const char *node = NULL;
	bool found = kc_informer_get(n->inf, ns, name, seen_node, &node);
	bool ok = expect ? found && node == ((const mini_pod *)expect)->node : !found;
	if (!ok)
		n->consistent_failures++;
}

static void on_add(const char *key, const void *obj, void *ud)
{
	char s[400];
	snprintf(s, sizeof(s), "add:%.200s@%.63s ", key, ((const mini_pod *)obj)->node);
	note(ud, s);
	check_cache(ud, key, obj);
}

static void on_update(const char *key, const void *o, const void *nw, void *ud)
{
	char s[400];
	snprintf(s, sizeof(s), "upd:%.200s:%.63s>%.63s ", key, ((const mini_pod *)o)->node,
	         ((const mini_pod *)nw)->node);
	note(ud, s);
	check_cache(ud, key, nw);
}

static void on_delete(const char *key, const void *obj, void *ud)
{
	char s[400];
	snprintf(s, sizeof(s), "del:%.200s@%.63s ", key, ((const mini_pod *)obj)->node);
	note(ud, s);
	check_cache(ud, key, NULL);
}

static void notes_init(notes *n)
{
	memset(n, 0, sizeof(*n));
	pthread_mutex_init(&n->lock, NULL);
	kc_buf_init(&n->log, 1 << 20);
}

static void notes_release(notes *n)
{
	kc_buf_release(&n->log);
	pthread_mutex_destroy(&n->lock);
}

/* Take and clear the log. */
static char *notes_take(notes *n)
{
	pthread_mutex_lock(&n->lock);
	char *s = kc_buf_take(&n->log);
	pthread_mutex_unlock(&n->lock);
	return s;
}

static kc_informer_options pod_opts(notes *n)
{
	kc_informer_options o = {
		.watch = {.resource = &KC_RES_PODS},
		.project = project,
		.free_obj = free_obj,
		.on_add = on_add,
		.on_update = on_update,
		.on_delete = on_delete,
		.ud = n,
	};
	return o;
}

static cJSON *pod_json(const char *ns, const char *name, const char *rv, const char *node)
{
	char buf[512];
	snprintf(buf, sizeof(buf),
	         "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\",\"resourceVersion\":\"%s\"},"
	         "\"spec\":{\"nodeName\":\"%s\"}}", name, ns, rv, node);
	return cJSON_Parse(buf);
}

/* Feed one object through a handler callback. */
static kc_err feed_item(const kc_reflector_handler *h, void *ud, const char *name,
                        const char *rv, const char *node)
{
	cJSON *o = pod_json("ns", name, rv, node);
	kc_err err = h->list_item(ud, o);
	cJSON_Delete(o);
	return err;
}

static kc_err feed_event(const kc_reflector_handler *h, void *ud, kc_watch_type t,
                         const char *name, const char *rv, const char *node)
{
	cJSON *o = pod_json("ns", name, rv, node);
	kc_err err = h->event(ud, t, o);
	cJSON_Delete(o);
	return err;
}

/* ---- the cache, fed by hand -------------------------------------------------------- */

KT_TEST(replace_adds_updates_and_deletes_vanished)
{
	notes n;
	notes_init(&n);
	kc_informer_options o = pod_opts(&n);
	kc_informer *inf = NULL;
	KT_EQ_INT(kc_informer_new(NULL, &o, &inf), KC_OK);
	n.inf = inf;
	kc_reflector_handler h;
	void *ud;
	kc_informer_handler(inf, &h, &ud);

	KT_CHECK(!kc_informer_has_synced(inf));
	KT_EQ_INT(kc_informer_wait_synced(inf, 30, NULL), KC_ERR_TIMEOUT);
	KT_EQ_INT(h.list_begin(ud), KC_OK);
	KT_EQ_INT(feed_item(&h, ud, "a", "1", "n1"), KC_OK);
	KT_EQ_INT(feed_item(&h, ud, "b", "2", "n1"), KC_OK);
	KT_EQ_INT(feed_item(&h, ud, "c", "3", "n2"), KC_OK);
	KT_CHECK(!kc_informer_has_synced(inf)); /* not before the list is complete */
	KT_EQ_INT(h.list_end(ud, "10"), KC_OK);
	KT_CHECK(kc_informer_has_synced(inf));
	KT_EQ_INT(kc_informer_wait_synced(inf, 0, NULL), KC_OK);
	KT_EQ_INT(kc_informer_count(inf), 3);
	char *log = notes_take(&n);
	KT_EQ_STR(log, "add:ns/a@n1 add:ns/b@n1 add:ns/c@n2 ");
	kc_free(log);

	/* relist: a unchanged (no notification), b changed, c gone, d new */
	KT_EQ_INT(h.list_begin(ud), KC_OK);
	KT_EQ_INT(feed_item(&h, ud, "a", "1", "n1"), KC_OK);
	KT_EQ_INT(feed_item(&h, ud, "b", "7", "n3"), KC_OK);
	KT_EQ_INT(feed_item(&h, ud, "d", "8", "n4"), KC_OK);
	KT_EQ_INT(h.list_end(ud, "20"), KC_OK);
	log = notes_take(&n);
	KT_EQ_STR(log, "upd:ns/b:n1>n3 add:ns/d@n4 del:ns/c@n2 ");
	kc_free(log);
	KT_EQ_INT(kc_informer_count(inf), 3);
	KT_CHECK(!kc_informer_get(inf, "ns", "c", NULL, NULL));

	/* an aborted list deletes nothing; the next complete one does */
	KT_EQ_INT(h.list_begin(ud), KC_OK);
	KT_EQ_INT(feed_item(&h, ud, "a", "1", "n1"), KC_OK);
	h.list_abort(ud);
	KT_EQ_INT(kc_informer_count(inf), 3);
	KT_EQ_INT(h.list_begin(ud), KC_OK);
	KT_EQ_INT(feed_item(&h, ud, "d", "8", "n4"), KC_OK);
	KT_EQ_INT(h.list_end(ud, "30"), KC_OK);
	log = notes_take(&n);
	KT_CHECK(strstr(log, "del:ns/a@n1") && strstr(log, "del:ns/b@n3"));
	KT_CHECK(!strstr(log, "ns/d"));
	kc_free(log);
	KT_EQ_INT(kc_informer_count(inf), 1);

	/* watch events */
	KT_EQ_INT(feed_event(&h, ud, KC_WATCH_ADDED, "e", "31", "n5"), KC_OK);
	KT_EQ_INT(feed_event(&h, ud, KC_WATCH_MODIFIED, "e", "32", "n6"), KC_OK);
	KT_EQ_INT(feed_event(&h, ud, KC_WATCH_DELETED, "d", "33", "ignored"), KC_OK);
	KT_EQ_INT(feed_event(&h, ud, KC_WATCH_DELETED, "nobody", "34", "x"), KC_OK);
	log = notes_take(&n);
	KT_EQ_STR(log, "add:ns/e@n5 upd:ns/e:n5>n6 del:ns/d@n4 "); /* delete gets the last known */
	kc_free(log);
	const char *node = NULL;
	KT_CHECK(kc_informer_get(inf, "ns", "e", seen_node, &node));
	KT_EQ_STR(node, "n6");
	KT_EQ_INT(n.consistent_failures, 0);

	/* an object without a name is refused, the cache unchanged */
	cJSON *bad = cJSON_Parse("{\"metadata\":{\"namespace\":\"ns\",\"resourceVersion\":\"1\"}}");
	KT_EQ_INT(h.event(ud, KC_WATCH_ADDED, bad), KC_ERR_PARSE);
	cJSON_Delete(bad);
	KT_EQ_INT(kc_informer_count(inf), 1);
	kc_informer_free(inf);
	notes_release(&n);
}

static bool count_visit(const char *key, const void *obj, void *ud)
{
	(*(size_t *)ud)++;
	return true;
}

static bool stop_visit(const char *key, const void *obj, void *ud)
{
	return ++(*(size_t *)ud) < 3;
}

/* Thousands of keys: growth, backward-shift deletion, cluster-scoped keys. */
KT_TEST(many_objects_and_mass_deletion)
{
	kc_informer_options o = {
		.watch = {.resource = &KC_RES_NODES},
		.project = project,
		.free_obj = free_obj,
	};
	kc_informer *inf = NULL;
	KT_EQ_INT(kc_informer_new(NULL, &o, &inf), KC_OK);
	kc_reflector_handler h;
	void *ud;
	kc_informer_handler(inf, &h, &ud);
	enum { N = 5000 };
	char name[32], rv[16], buf[256];
	KT_EQ_INT(h.list_begin(ud), KC_OK);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "node-%d", i);
		snprintf(buf, sizeof(buf),
		         "{\"metadata\":{\"name\":\"%s\",\"resourceVersion\":\"%d\"}}", name, i + 1);
		cJSON *obj = cJSON_Parse(buf);
		KT_EQ_INT(h.list_item(ud, obj), KC_OK);
		cJSON_Delete(obj);
	}
	KT_EQ_INT(h.list_end(ud, "9999"), KC_OK);
	KT_EQ_INT(kc_informer_count(inf), N);
	/* relist keeping every third node */
	KT_EQ_INT(h.list_begin(ud), KC_OK);
	for (int i = 0; i < N; i += 3) {
		snprintf(name, sizeof(name), "node-%d", i);
		snprintf(rv, sizeof(rv), "%d", i + 1);
		snprintf(buf, sizeof(buf),
		         "{\"metadata\":{\"name\":\"%s\",\"resourceVersion\":\"%s\"}}", name, rv);
		cJSON *obj = cJSON_Parse(buf);
		KT_EQ_INT(h.list_item(ud, obj), KC_OK);
		cJSON_Delete(obj);
	}
	KT_EQ_INT(h.list_end(ud, "10000"), KC_OK);
	KT_EQ_INT(kc_informer_count(inf), (N + 2) / 3);
	int wrong = 0;
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "node-%d", i);
		if (kc_informer_get(inf, NULL, name, NULL, NULL) != (i % 3 == 0))
			wrong++;
	}
	KT_EQ_INT(wrong, 0);
	size_t visited = 0;
	KT_EQ_INT(kc_informer_foreach(inf, count_visit, &visited), (N + 2) / 3);
	KT_EQ_INT(visited, (N + 2) / 3);
	visited = 0;
	KT_EQ_INT(kc_informer_foreach(inf, stop_visit, &visited), 3);
	kc_informer_free(inf);
}

KT_TEST(allocation_failures_leave_cache_usable)
{
	notes n;
	notes_init(&n);
	kc_informer_options o = pod_opts(&n);
	int failures = 0;
	for (long k = 0; k < 40; k++) {
		kc_informer *inf = NULL;
		kc_alloc_fail_after(k);
		kc_err err = kc_informer_new(NULL, &o, &inf);
		if (err) {
			kc_alloc_fail_reset();
			KT_EQ_INT(err, KC_ERR_NOMEM);
			failures++;
			continue;
		}
		kc_reflector_handler h;
		void *ud;
		kc_informer_handler(inf, &h, &ud);
		h.list_begin(ud);
		cJSON *a = pod_json("ns", "a", "1", "n1"); /* parsed before failures bite? maybe not */
		kc_err e1 = a ? h.list_item(ud, a) : KC_ERR_NOMEM;
		cJSON_Delete(a);
		kc_alloc_fail_reset();
		if (e1)
			failures++;
		h.list_end(ud, "1");
		KT_EQ_INT(kc_informer_count(inf), e1 == KC_OK ? 1 : 0);
		/* after the failure everything works again */
		KT_EQ_INT(feed_event(&h, ud, KC_WATCH_ADDED, "b", "2", "n2"), KC_OK);
		KT_CHECK(kc_informer_get(inf, "ns", "b", NULL, NULL));
		kc_informer_free(inf);
		char *log = notes_take(&n);
		kc_free(log);
	}
	KT_CHECK(failures > 0);
	notes_release(&n);
}

KT_TEST(bad_options_refused)
{
	kc_informer *inf = NULL;
	kc_informer_options o = {.watch = {.resource = &KC_RES_PODS}, .project = project};
	KT_EQ_INT(kc_informer_new(NULL, &o, &inf), KC_ERR_INVALID); /* no free_obj */
	o.free_obj = free_obj;
	o.watch.resource = NULL;
	KT_EQ_INT(kc_informer_new(NULL, &o, &inf), KC_ERR_INVALID);
	o.watch.resource = &KC_RES_PODS;
	KT_EQ_INT(kc_informer_new(NULL, &o, &inf), KC_OK);
	KT_EQ_INT(kc_informer_start(inf), KC_ERR_INVALID); /* no client */
	kc_informer_stop(inf);
	kc_informer_free(inf);
	kc_informer_free(NULL);
}

/* ---- against a server ---------------------------------------------------------------- */

typedef struct server_state {
	pthread_mutex_t lock;
	int lists, watches;
	char last_label_selector[128];
	char last_path[256];
} server_state;

static void serve(void *ud, const kt_request *req, kt_conn *c)
{
	server_state *st = ud;
	char w[8];
	bool watch = kt_query_param(req, "watch", w, sizeof(w)) != NULL;
	pthread_mutex_lock(&st->lock);
	int nth = watch ? st->watches++ : st->lists++;
	kt_query_param(req, "labelSelector", st->last_label_selector,
	               sizeof(st->last_label_selector));
	size_t pl = strnlen(req->path, sizeof(st->last_path) - 1);
	memcpy(st->last_path, req->path, pl);
	st->last_path[pl] = '\0';
	pthread_mutex_unlock(&st->lock);
	if (!watch) {
		/* first list: a and b; later lists (after the 410): only b, changed */
		const char *items = nth == 0
			? "{\"metadata\":{\"name\":\"a\",\"namespace\":\"ns\",\"resourceVersion\":\"1\"},"
			  "\"spec\":{\"nodeName\":\"n1\"}},"
			  "{\"metadata\":{\"name\":\"b\",\"namespace\":\"ns\",\"resourceVersion\":\"2\"},"
			  "\"spec\":{\"nodeName\":\"n1\"}}"
			: "{\"metadata\":{\"name\":\"b\",\"namespace\":\"ns\",\"resourceVersion\":\"9\"},"
			  "\"spec\":{\"nodeName\":\"n9\"}}";
		char body[1024];
		snprintf(body, sizeof(body),
		         "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"%s\"},\"items\":[%s]}",
		         nth == 0 ? "5" : "10", items);
		kt_respond(c, 200, NULL, body);
		return;
	}
	kt_stream_begin(c, 200, NULL);
	if (nth == 0) {
		kc_cancel_sleep(NULL, 50);
		kt_stream_writes(c, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"c\","
		                    "\"namespace\":\"ns\",\"resourceVersion\":\"6\"},\"spec\":{\"nodeName\":\"n2\"}}}\n");
		kt_stream_writes(c, "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\","
		                    "\"namespace\":\"ns\",\"resourceVersion\":\"7\"},\"spec\":{\"nodeName\":\"n3\"}}}\n");
		kt_stream_writes(c, "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,"
		                    "\"reason\":\"Expired\",\"message\":\"too old\"}}\n");
		return;
	}
	while (kt_conn_sleep_ms(c, 50))
		; /* a silent, open watch */
}

static bool wait_log(notes *n, const char *needle)
{
	for (int i = 0; i < 500; i++) {
		pthread_mutex_lock(&n->lock);
		bool found = n->log.data && strstr(n->log.data, needle);
		pthread_mutex_unlock(&n->lock);
		if (found)
			return true;
		kc_cancel_sleep(NULL, 10);
	}
	fprintf(stderr, "  never saw \"%s\" in \"%s\"\n", needle, n->log.data ? n->log.data : "");
	return false;
}

KT_TEST(informer_against_server_sync_events_relist_and_prompt_stop)
{
	server_state st;
	memset(&st, 0, sizeof(st));
	pthread_mutex_init(&st.lock, NULL);
	kt_server *srv = NULL;
	kt_server_opts so = {.handler = serve, .ud = &st};
	KT_EQ_INT(kt_server_start(&so, &srv), 0);
	kc_config *cfg = kt_server_config(srv, NULL);
	kc_client_options co = {.rate_limit_off = true};
	kc_client *c = NULL;
	KT_EQ_INT(kc_client_new(cfg, &co, &c, NULL), KC_OK);
	kc_config_free(cfg);

	notes n;
	notes_init(&n);
	kc_informer_options o = pod_opts(&n);
	o.watch.ns = "ns";
	o.watch.label_selector = "app=web";
	o.watch.backoff_initial_ms = 10;
	kc_informer *inf = NULL;
	KT_EQ_INT(kc_informer_new(c, &o, &inf), KC_OK);
	n.inf = inf;
	KT_EQ_INT(kc_informer_start(inf), KC_OK);
	KT_EQ_INT(kc_informer_start(inf), KC_ERR_INVALID);
	KT_EQ_INT(kc_informer_wait_synced(inf, 5000, NULL), KC_OK);
	KT_CHECK(kc_informer_count(inf) >= 1);

	/* watch: c added, a modified; then ERROR 410 -> relist: a and c vanish, b changes */
	KT_CHECK(wait_log(&n, "del:ns/c@n2"));
	char *log = notes_take(&n);
	KT_CHECK(strncmp(log, "add:ns/a@n1 add:ns/b@n1 add:ns/c@n2 upd:ns/a:n1>n3 ", 51) == 0);
	KT_CHECK(strstr(log, "upd:ns/b:n1>n9") && strstr(log, "del:ns/a@n3"));
	if (strncmp(log, "add:ns/a@n1 add:ns/b@n1 add:ns/c@n2 upd:ns/a:n1>n3 ", 51) != 0)
		fprintf(stderr, "  log: %s\n", log);
	kc_free(log);
	KT_EQ_INT(kc_informer_count(inf), 1);
	KT_EQ_INT(n.consistent_failures, 0);
	pthread_mutex_lock(&st.lock);
	KT_EQ_STR(st.last_label_selector, "app=web");
	KT_EQ_STR(st.last_path, "/api/v1/namespaces/ns/pods");
	pthread_mutex_unlock(&st.lock);

	/* wait for the second watch to be open, then stop mid-watch */
	for (int i = 0; i < 200; i++) {
		pthread_mutex_lock(&st.lock);
		int w = st.watches;
		pthread_mutex_unlock(&st.lock);
		if (w >= 2)
			break;
		kc_cancel_sleep(NULL, 10);
	}
	kc_cancel_sleep(NULL, 100);
	kc_reflector_stats rs;
	kc_informer_stats(inf, &rs);
	KT_EQ_INT(rs.lists, 2);
	KT_EQ_STR(rs.last_sync_rv, "10");
	int64_t t0 = kc_now_mono_ms();
	kc_informer_stop(inf);
	int64_t took = kc_now_mono_ms() - t0;
	KT_CHECK(took < 1000);
	kc_informer_stop(inf); /* idempotent */
	/* the cache stays readable after stop */
	const char *node = NULL;
	KT_CHECK(kc_informer_get(inf, "ns", "b", seen_node, &node));
	KT_EQ_STR(node, "n9");
	kc_informer_free(inf);
	notes_release(&n);
	kc_client_free(c);
	kt_server_stop(srv);
	pthread_mutex_destroy(&st.lock);
}

KT_TEST(wait_synced_honours_cancel)
{
	kc_informer_options o = {.watch = {.resource = &KC_RES_PODS},
	                         .project = project, .free_obj = free_obj};
	kc_informer *inf = NULL;
	KT_EQ_INT(kc_informer_new(NULL, &o, &inf), KC_OK);
	kc_cancel *cancel;
	kc_cancel_new(&cancel);
	kc_cancel_fire(cancel);
	int64_t t0 = kc_now_mono_ms();
	KT_EQ_INT(kc_informer_wait_synced(inf, -1, cancel), KC_ERR_CANCELED);
	KT_CHECK(kc_now_mono_ms() - t0 < 500);
	kc_cancel_free(cancel);
	kc_informer_free(inf);
}

int main(void)
{
	KT_RUN(replace_adds_updates_and_deletes_vanished);
	KT_RUN(many_objects_and_mass_deletion);
	KT_RUN(allocation_failures_leave_cache_usable);
	KT_RUN(bad_options_refused);
	KT_RUN(informer_against_server_sync_events_relist_and_prompt_stop);
	KT_RUN(wait_synced_honours_cancel);
	return KT_DONE();
}
