/*
 * The reflector (kc_reflector_run) against a scripted API server: the
 * sequence of LIST and WATCH requests it makes (resourceVersion, limit,
 * continue, timeoutSeconds, allowWatchBookmarks), what it delivers to its
 * handler, and how it recovers from 410, bad lines, cut and short streams.
 */
#include <pthread.h>
#include <stdlib.h>

#include "kc/alloc.h"
#include "kc/client.h"
#include "kc/time.h"
#include "kc/watch.h"
#include "kctest.h"
#include "testserver.h"

/* ---- the scripted server ------------------------------------------------------ */

#define MAX_REQS 64

typedef struct rec {
	char kind;              /* 'L' list, 'W' watch */
	bool has_rv;
	char rv[KC_RV_MAX];
	char limit[16];
	char cont[128];
	char timeout[16];
	char bookmarks[16];
	char path[256];
	int64_t at_ms;
} rec;

typedef struct fake fake;
/* nth: 0-based number of this list (or watch) among lists (or watches). */
typedef void (*script_fn)(fake *f, int nth, const rec *r, kt_conn *conn);

struct fake {
	pthread_mutex_t lock;
	rec reqs[MAX_REQS];
	int n, lists, watches;
	script_fn script;
};

static void fake_handler(void *ud, const kt_request *req, kt_conn *conn)
{
	fake *f = ud;
	rec r;
	memset(&r, 0, sizeof(r));
	char w[8];
	r.kind = kt_query_param(req, "watch", w, sizeof(w)) ? 'W' : 'L';
	r.has_rv = kt_query_param(req, "resourceVersion", r.rv, sizeof(r.rv)) != NULL;
	kt_query_param(req, "limit", r.limit, sizeof(r.limit));
	kt_query_param(req, "continue", r.cont, sizeof(r.cont));
	kt_query_param(req, "timeoutSeconds", r.timeout, sizeof(r.timeout));
	kt_query_param(req, "allowWatchBookmarks", r.bookmarks, sizeof(r.bookmarks));
	size_t pl = strnlen(req->path, sizeof(r.path) - 1);
	memcpy(r.path, req->path, pl);
	r.at_ms = kc_now_mono_ms();
	pthread_mutex_lock(&f->lock);
	if (f->n < MAX_REQS)
		f->reqs[f->n++] = r;
	int nth = r.kind == 'L' ? f->lists++ : f->watches++;
	pthread_mutex_unlock(&f->lock);
	f->script(f, nth, &r, conn);
}

static int fake_count(fake *f)
{
	pthread_mutex_lock(&f->lock);
	int n = f->n;
	pthread_mutex_unlock(&f->lock);
	return n;
}

static rec fake_req(fake *f, int i)
{
	pthread_mutex_lock(&f->lock);
	rec r = f->reqs[i];
	pthread_mutex_unlock(&f->lock);
	return r;
}

static const char *pod(char *buf, size_t cap, const char *name, const char *rv)
{
	snprintf(buf, cap,
	         "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"ns\",\"resourceVersion\":\"%s\"},"
	         "\"spec\":{\"nodeName\":\"n1\"}}", name, rv);
	return buf;
}

/* A PodList page; items is a ready JSON array body (without brackets). */
static void list_answer(kt_conn *c, const char *rv, const char *cont, const char *items)
{
	char body[8192];
	snprintf(body, sizeof(body),
	         "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"%s\"%s%s%s},"
	         "\"items\":[%s]}", rv, cont ? ",\"continue\":\"" : "", cont ? cont : "",
	         cont ? "\"" : "", items);
	kt_respond(c, 200, NULL, body);
}

static void list_pods(kt_conn *c, const char *rv, const char *cont, const char *n1,
                      const char *n2)
{
	char a[256], b[256], items[600];
	snprintf(items, sizeof(items), "%s%s%s", n1 ? pod(a, sizeof(a), n1, "5") : "",
	         n1 && n2 ? "," : "", n2 ? pod(b, sizeof(b), n2, "6") : "");
	list_answer(c, rv, cont, items);
}

static void event(kt_conn *c, const char *type, const char *name, const char *rv)
{
	char p[256], line[400];
	snprintf(line, sizeof(line), "{\"type\":\"%s\",\"object\":%s}\n", type,
	         pod(p, sizeof(p), name, rv));
	kt_stream_writes(c, line);
}

static void bookmark(kt_conn *c, const char *rv)
{
	char line[200];
	snprintf(line, sizeof(line),
	         "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\","
	         "\"metadata\":{\"resourceVersion\":\"%s\"}}}\n", rv);
	kt_stream_writes(c, line);
}

static const char GONE_STATUS[] =
	"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
	"\"message\":\"too old resource version: 1 (100)\",\"reason\":\"Expired\",\"code\":410}";

/* Keep a watch open (writing keep-alive newlines) until the client leaves. */
static void hold(kt_conn *c)
{
	while (kt_conn_sleep_ms(c, 50))
		if (kt_stream_writes(c, "\n") < 0)
			return;
}

/* ---- running a reflector on a thread ------------------------------------------ */

typedef struct runner {
	kt_server *srv;
	fake f;
	kc_client *c;
	kc_reflector_options o;
	kc_cancel *cancel;
	kc_reflector_stats_cell *stats;
	pthread_t thread;
	kc_err rc;
	pthread_mutex_t log_lock;
	kc_buf log;
	/* the failures reported (under log_lock) */
	int nfail;
	kc_err fail_err[8];
	char fail_reason[8][KC_DETAIL_REASON_MAX];
	int64_t fail_retry_ms[8], fail_at_ms[8];
} runner;

static void logf_(runner *r, const char *what, const cJSON *obj)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(meta, "name");
	const cJSON *rv = cJSON_GetObjectItemCaseSensitive(meta, "resourceVersion");
	pthread_mutex_lock(&r->log_lock);
	kc_buf_printf(&r->log, "%s:%s@%s ", what, cJSON_IsString(name) ? name->valuestring : "?",
	              cJSON_IsString(rv) ? rv->valuestring : "?");
	pthread_mutex_unlock(&r->log_lock);
}

static void logs(runner *r, const char *s)
{
	pthread_mutex_lock(&r->log_lock);
	kc_buf_append_str(&r->log, s);
	pthread_mutex_unlock(&r->log_lock);
}

static kc_err h_begin(void *ud) { logs(ud, "begin "); return KC_OK; }
static kc_err h_item(void *ud, const cJSON *o) { logf_(ud, "item", o); return KC_OK; }
static void h_abort(void *ud) { logs(ud, "abort "); }

static kc_err h_end(void *ud, const char *rv)
{
	runner *r = ud;
	pthread_mutex_lock(&r->log_lock);
	kc_buf_printf(&r->log, "end:%s ", rv);
	pthread_mutex_unlock(&r->log_lock);
	return KC_OK;
}

static kc_err h_event(void *ud, kc_watch_type t, const cJSON *o)
{
	logf_(ud, kc_watch_type_name(t), o);
	return KC_OK;
}

static void h_failure(void *ud, kc_err err, const kc_error_detail *d, int64_t retry_in_ms)
{
	runner *r = ud;
	pthread_mutex_lock(&r->log_lock);
	if (r->nfail < 8) {
		r->fail_err[r->nfail] = err;
		snprintf(r->fail_reason[r->nfail], KC_DETAIL_REASON_MAX, "%s", d ? d->reason : "");
		r->fail_retry_ms[r->nfail] = retry_in_ms;
		r->fail_at_ms[r->nfail] = kc_now_mono_ms();
	}
	r->nfail++;
	pthread_mutex_unlock(&r->log_lock);
}

static const kc_reflector_handler handler = {h_begin, h_item, h_end, h_abort, h_event, h_failure};

static void *run_main(void *arg)
{
	runner *r = arg;
	r->rc = kc_reflector_run(r->c, &r->o, &handler, r, r->cancel, r->stats);
	return NULL;
}

static bool runner_start(runner *r, script_fn script)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->f.lock, NULL);
	pthread_mutex_init(&r->log_lock, NULL);
	kc_buf_init(&r->log, 1 << 20);
	r->f.script = script;
	kt_server_opts so = {.handler = fake_handler, .ud = &r->f};
	if (kt_server_start(&so, &r->srv) != 0)
		return false;
	kc_config *cfg = kt_server_config(r->srv, NULL);
	kc_client_options co = {.rate_limit_off = true};
	kc_error_detail d;
	kc_err err = kc_client_new(cfg, &co, &r->c, &d);
	kc_config_free(cfg);
	if (err)
		return false;
	kc_cancel_new(&r->cancel);
	kc_reflector_stats_cell_new(&r->stats);
	r->o.resource = &KC_RES_PODS;
	r->o.backoff_initial_ms = 20;
	r->o.backoff_max_ms = 200;
	r->o.short_watch_ms = 1000;
	return true;
}

static void runner_go(runner *r)
{
	pthread_create(&r->thread, NULL, run_main, r);
}

/* Wait until the server has seen n requests (5 s at most). */
static bool wait_requests(runner *r, int n)
{
	for (int i = 0; i < 500; i++) {
		if (fake_count(&r->f) >= n)
			return true;
		kc_cancel_sleep(NULL, 10);
	}
	fprintf(stderr, "  only %d of %d requests arrived\n", fake_count(&r->f), n);
	return false;
}

static int64_t runner_stop(runner *r)
{
	int64_t t0 = kc_now_mono_ms();
	kc_cancel_fire(r->cancel);
	pthread_join(r->thread, NULL);
	int64_t took = kc_now_mono_ms() - t0;
	KT_EQ_INT(r->rc, KC_ERR_CANCELED);
	kc_client_free(r->c);
	kt_server_stop(r->srv);
	kc_cancel_free(r->cancel);
	kc_reflector_stats_cell_free(r->stats);
	kc_buf_release(&r->log);
	pthread_mutex_destroy(&r->log_lock);
	pthread_mutex_destroy(&r->f.lock);
	return took;
}

static void print_reqs(runner *r)
{
	int n = fake_count(&r->f);
	for (int i = 0; i < n; i++) {
		rec q = fake_req(&r->f, i);
		fprintf(stderr, "    %c rv=%s%s limit=%s continue=%s\n", q.kind, q.has_rv ? "" : "(none)",
		        q.rv, q.limit, q.cont);
	}
}

/* Check request i: its kind and resourceVersion (NULL = must be absent). */
static void expect_req(runner *r, int i, char kind, const char *rv)
{
	rec q = fake_req(&r->f, i);
	int ok = q.kind == kind && (rv ? q.has_rv && strcmp(q.rv, rv) == 0 : !q.has_rv);
	if (!ok) {
		fprintf(stderr, "  request %d: wanted %c rv=%s\n", i, kind, rv ? rv : "(none)");
		print_reqs(r);
	}
	KT_CHECK(ok);
}

/* ---- tests ---------------------------------------------------------------------- */

/*
 * list rv=0 -> watch rv=10 (bookmarks on, timeoutSeconds in [300,600)); the
 * stream sends one event and a bookmark and ends cleanly -> the next watch
 * resumes from the bookmark's version, without a relist.
 */
static void script_bookmark(fake *f, int nth, const rec *r, kt_conn *c)
{
	if (r->kind == 'L') {
		list_pods(c, "10", NULL, "a", "b");
		return;
	}
	kt_stream_begin(c, 200, NULL);
	if (nth == 0) {
		event(c, "ADDED", "c", "11");
		bookmark(c, "20");
		return; /* clean end of the watch (server-side timeout) */
	}
	hold(c);
}

KT_TEST(list_watch_bookmark_resume_without_relist)
{
	runner r;
	KT_CHECK(runner_start(&r, script_bookmark));
	r.o.backoff_initial_ms = 1000; /* so that "no backoff" is measurable */
	runner_go(&r);
	KT_CHECK(wait_requests(&r, 3));
	kc_cancel_sleep(NULL, 50);
	expect_req(&r, 0, 'L', "0");
	rec l = fake_req(&r.f, 0);
	KT_EQ_STR(l.limit, "500");
	KT_EQ_STR(l.path, "/api/v1/pods");
	expect_req(&r, 1, 'W', "10");
	expect_req(&r, 2, 'W', "20");
	for (int i = 1; i <= 2; i++) {
		rec w = fake_req(&r.f, i);
		KT_EQ_STR(w.bookmarks, "true");
		long t = strtol(w.timeout, NULL, 10);
		KT_CHECK(t >= 300 && t < 600);
	}
	/* the clean end re-watched at once: no backoff */
	KT_CHECK(fake_req(&r.f, 2).at_ms - fake_req(&r.f, 1).at_ms < 500);
	KT_EQ_INT(fake_count(&r.f), 3);
	kc_reflector_stats st;
	kc_reflector_stats_get(r.stats, &st);
	KT_EQ_STR(st.last_sync_rv, "20");
	KT_EQ_INT(st.bookmarks, 1);
	KT_EQ_INT(st.lists, 1);
	KT_EQ_INT(st.failures, 0);
	runner_stop(&r);
}

KT_TEST(list_watch_delivers_list_then_events)
{
	runner r;
	KT_CHECK(runner_start(&r, script_bookmark));
	runner_go(&r);
	KT_CHECK(wait_requests(&r, 3));
	kc_cancel_sleep(NULL, 50);
	pthread_mutex_lock(&r.log_lock);
	KT_EQ_STR(r.log.data, "begin item:a@5 item:b@6 end:10 ADDED:c@11 ");
	pthread_mutex_unlock(&r.log_lock);
	runner_stop(&r);
}

/*
 * An ERROR 410 event on the watch: relist at the last version (client-go:
 * a LIST at RV is at least as fresh), which answers 410 too, so the version
 * is unavailable and the next LIST is a consistent read (no resourceVersion).
 */
static void script_gone(fake *f, int nth, const rec *r, kt_conn *c)
{
	if (r->kind == 'L') {
		if (nth == 0)
			list_pods(c, "10", NULL, "a", NULL);
		else if (nth == 1)
			kt_respond(c, 410, NULL, GONE_STATUS);
		else
			list_pods(c, "30", NULL, "a", NULL);
		return;
	}
	kt_stream_begin(c, 200, NULL);
	if (nth == 0) {
		event(c, "MODIFIED", "a", "12");
		kt_stream_writes(c, "{\"type\":\"ERROR\",\"object\":");
		kt_stream_writes(c, GONE_STATUS);
		kt_stream_writes(c, "}\n");
		hold(c); /* the client must hang up on its own */
		return;
	}
	hold(c);
}

KT_TEST(error_410_relists_then_from_empty_rv)
{
	runner r;
	KT_CHECK(runner_start(&r, script_gone));
	runner_go(&r);
	KT_CHECK(wait_requests(&r, 5));
	expect_req(&r, 0, 'L', "0");
	expect_req(&r, 1, 'W', "10");
	expect_req(&r, 2, 'L', "12");  /* last seen version first */
	expect_req(&r, 3, 'L', NULL);  /* then "" after the LIST's 410 */
	expect_req(&r, 4, 'W', "30");
	kc_reflector_stats st;
	kc_reflector_stats_get(r.stats, &st);
	KT_EQ_INT(st.lists, 2);
	KT_CHECK(st.failures >= 1);
	runner_stop(&r);
}

/* "Too large resource version" on a LIST also falls back to "" at once. */
static void script_too_large(fake *f, int nth, const rec *r, kt_conn *c)
{
	if (r->kind == 'L') {
		if (nth == 0)
			kt_respond(c, 504, NULL,
			           "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":"
			           "\"Too large resource version: 99, current: 10\",\"reason\":\"Timeout\","
			           "\"code\":504}");
		else
			list_pods(c, "10", NULL, "a", NULL);
		return;
	}
	kt_stream_begin(c, 200, NULL);
	hold(c);
}

KT_TEST(too_large_resource_version_relists_from_empty_rv)
{
	runner r;
	KT_CHECK(runner_start(&r, script_too_large));
	runner_go(&r);
	KT_CHECK(wait_requests(&r, 3));
	expect_req(&r, 0, 'L', "0");
	expect_req(&r, 1, 'L', NULL);
	expect_req(&r, 2, 'W', "10");
	KT_CHECK(fake_req(&r.f, 1).at_ms - fake_req(&r.f, 0).at_ms < 500); /* at once */
	runner_stop(&r);
}

/* Three pages: continue tokens followed, resourceVersion only on the first. */
static void script_pages(fake *f, int nth, const rec *r, kt_conn *c)
{
	if (r->kind == 'L') {
		if (strcmp(r->cont, "") == 0)
			list_pods(c, "40", "tok1", "p1a", "p1b");
		else if (strcmp(r->cont, "tok1") == 0)
			list_pods(c, "40", "tok2", "p2a", NULL);
		else if (strcmp(r->cont, "tok2") == 0)
			list_pods(c, "40", NULL, "p3a", NULL);
		else
			kt_respond(c, 400, NULL, "{\"kind\":\"Status\",\"code\":400}");
		return;
	}
	kt_stream_begin(c, 200, NULL);
	hold(c);
}

KT_TEST(list_pages_follow_continue_without_rv)
{
	runner r;
	KT_CHECK(runner_start(&r, script_pages));
	r.o.page_size = 2;
	runner_go(&r);
	KT_CHECK(wait_requests(&r, 4));
	kc_cancel_sleep(NULL, 50);
	expect_req(&r, 0, 'L', "0");
	expect_req(&r, 1, 'L', NULL);
	expect_req(&r, 2, 'L', NULL);
	expect_req(&r, 3, 'W', "40");
	KT_EQ_STR(fake_req(&r.f, 0).cont, "");
	KT_EQ_STR(fake_req(&r.f, 1).cont, "tok1");
	KT_EQ_STR(fake_req(&r.f, 2).cont, "tok2");
	for (int i = 0; i < 3; i++)
		KT_EQ_STR(fake_req(&r.f, i).limit, "2");
	pthread_mutex_lock(&r.log_lock);
	KT_EQ_STR(r.log.data, "begin item:p1a@5 item:p1b@6 item:p2a@5 item:p3a@5 end:40 ");
	pthread_mutex_unlock(&r.log_lock);
	runner_stop(&r);
}

/* The continue token expires on page 2: one full LIST at the original version. */
static void script_expired_continue(fake *f, int nth, const rec *r, kt_conn *c)
{
	if (r->kind == 'L') {
		if (strcmp(r->cont, "tok1") == 0)
			kt_respond(c, 410, NULL,
			           "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"The provided "
			           "continue parameter is too old\",\"reason\":\"Expired\",\"code\":410}");
		else if (r->limit[0])
			list_pods(c, "40", "tok1", "p1a", "p1b");
		else
			list_pods(c, "50", NULL, "p1a", "full");
		return;
	}
	kt_stream_begin(c, 200, NULL);
	hold(c);
}

KT_TEST(expired_continue_falls_back_to_full_list)
{
	runner r;
	KT_CHECK(runner_start(&r, script_expired_continue));
	runner_go(&r);
	KT_CHECK(wait_requests(&r, 4));
	kc_cancel_sleep(NULL, 50);
	expect_req(&r, 0, 'L', "0");
	expect_req(&r, 1, 'L', NULL);
	KT_EQ_STR(fake_req(&r.f, 1).cont, "tok1");
	expect_req(&r, 2, 'L', "0");               /* the original version ... */
	KT_EQ_STR(fake_req(&r.f, 2).limit, "");    /* ... without limit */
	KT_EQ_STR(fake_req(&r.f, 2).cont, "");
	expect_req(&r, 3, 'W', "50");
	pthread_mutex_lock(&r.log_lock);
	KT_EQ_STR(r.log.data, "begin item:p1a@5 item:p1b@6 abort begin item:p1a@5 item:full@6 end:50 ");
	pthread_mutex_unlock(&r.log_lock);
	runner_stop(&r);
}

/*
 * A malformed line stops the watch; the reflector backs off, relists from
 * the last good version and carries on. An over-long line does the same.
 */
static void script_garbage(fake *f, int nth, const rec *r, kt_conn *c)
{
	if (r->kind == 'L') {
		list_pods(c, nth == 0 ? "10" : "13", NULL, "a", NULL);
		return;
	}
	kt_stream_begin(c, 200, NULL);
	if (nth == 0) {
		event(c, "ADDED", "x", "11");
		kt_stream_writes(c, "{\"type\":\"ADDED\",\"object\":{garbage}\n");
		event(c, "ADDED", "never", "12");
		hold(c);
		return;
	}
	if (nth == 1) {
		event(c, "ADDED", "y", "14");
		char big[3000];
		memset(big, ' ', sizeof(big) - 2);
		big[sizeof(big) - 2] = '\n';
		big[sizeof(big) - 1] = '\0';
		kt_stream_writes(c, "{\"type\":\"ADDED\",");
		kt_stream_writes(c, big); /* a 3 kB line, over the 2 kB cap */
		event(c, "ADDED", "never2", "15");
		hold(c);
		return;
	}
	event(c, "ADDED", "z", "16");
	hold(c);
}

KT_TEST(malformed_and_over_long_lines_relist_and_continue)
{
	runner r;
	KT_CHECK(runner_start(&r, script_garbage));
	r.o.line_max = 2048;
	runner_go(&r);
	KT_CHECK(wait_requests(&r, 6));
	kc_cancel_sleep(NULL, 100);
	expect_req(&r, 0, 'L', "0");
	expect_req(&r, 1, 'W', "10");
	expect_req(&r, 2, 'L', "11");
	expect_req(&r, 3, 'W', "13");
	expect_req(&r, 4, 'L', "14");
	expect_req(&r, 5, 'W', "13");
	pthread_mutex_lock(&r.log_lock);
	KT_EQ_STR(r.log.data, "begin item:a@5 end:10 ADDED:x@11 begin item:a@5 end:13 ADDED:y@14 "
	                      "begin item:a@5 end:13 ADDED:z@16 ");
	pthread_mutex_unlock(&r.log_lock);
	kc_reflector_stats st;
	kc_reflector_stats_get(r.stats, &st);
	KT_EQ_INT(st.failures, 2);
	KT_EQ_INT(st.last_err, KC_ERR_TOOBIG);
	runner_stop(&r);
}

/*
 * A watch cut mid-line: the half event is never delivered, and the next
 * watch resumes from the last complete event without a relist.
 */
static void script_cut(fake *f, int nth, const rec *r, kt_conn *c)
{
	if (r->kind == 'L') {
		list_pods(c, "10", NULL, "a", NULL);
		return;
	}
	kt_stream_begin(c, 200, NULL);
	if (nth == 0) {
		event(c, "ADDED", "x", "11");
		kt_stream_writes(c, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"half\",");
		kc_cancel_sleep(NULL, 30);
		kt_conn_close(c);
		return;
	}
	hold(c);
}

KT_TEST(truncated_stream_rewatches_without_half_event)
{
	runner r;
	KT_CHECK(runner_start(&r, script_cut));
	runner_go(&r);
	KT_CHECK(wait_requests(&r, 3));
	kc_cancel_sleep(NULL, 100);
	expect_req(&r, 0, 'L', "0");
	expect_req(&r, 1, 'W', "10");
	expect_req(&r, 2, 'W', "11");
	KT_EQ_INT(fake_count(&r.f), 3);
	pthread_mutex_lock(&r.log_lock);
	KT_EQ_STR(r.log.data, "begin item:a@5 end:10 ADDED:x@11 ");
	pthread_mutex_unlock(&r.log_lock);
	runner_stop(&r);
}

/*
 * A watch that ends at once with no event is a failure: back off (growing
 * delays) and relist. Scaled-down backoff: 300 ms, x2, jitter up to x2.
 */
static void script_short(fake *f, int nth, const rec *r, kt_conn *c)
{
	if (r->kind == 'L') {
		list_pods(c, "10", NULL, "a", NULL);
		return;
	}
	kt_stream_begin(c, 200, NULL);
	/* and end at once */
}

KT_TEST(short_empty_watch_backs_off_and_relists)
{
	runner r;
	KT_CHECK(runner_start(&r, script_short));
	r.o.backoff_initial_ms = 300;
	r.o.backoff_max_ms = 5000;
	runner_go(&r);
	KT_CHECK(wait_requests(&r, 6));
	expect_req(&r, 0, 'L', "0");
	expect_req(&r, 1, 'W', "10");
	expect_req(&r, 2, 'L', "10");
	expect_req(&r, 3, 'W', "10");
	expect_req(&r, 4, 'L', "10");
	int64_t gap1 = fake_req(&r.f, 2).at_ms - fake_req(&r.f, 1).at_ms;
	int64_t gap2 = fake_req(&r.f, 4).at_ms - fake_req(&r.f, 3).at_ms;
	int64_t listwatch = fake_req(&r.f, 3).at_ms - fake_req(&r.f, 2).at_ms;
	KT_CHECK(gap1 >= 300 && gap1 < 900);   /* [300, 600) plus slack */
	KT_CHECK(gap2 >= 600 && gap2 < 1800);  /* [600, 1200) plus slack */
	KT_CHECK(listwatch < 250);             /* no wait between a LIST and its WATCH */
	if (!(gap1 >= 300 && gap2 >= 600))
		fprintf(stderr, "  gaps %lld %lld\n", (long long)gap1, (long long)gap2);
	runner_stop(&r);
}

/* The stall detector: a silent watch is abandoned and resumed. */
static void script_silent(fake *f, int nth, const rec *r, kt_conn *c)
{
	if (r->kind == 'L') {
		list_pods(c, "10", NULL, "a", NULL);
		return;
	}
	kt_stream_begin(c, 200, NULL);
	event(c, "ADDED", nth == 0 ? "x" : "y", nth == 0 ? "11" : "12");
	while (kt_conn_sleep_ms(c, 50))
		; /* silent until the server stops */
}

KT_TEST(stalled_watch_is_resumed)
{
	runner r;
	KT_CHECK(runner_start(&r, script_silent));
	r.o.stall_timeout_ms = 300;
	runner_go(&r);
	KT_CHECK(wait_requests(&r, 3));
	expect_req(&r, 1, 'W', "10");
	expect_req(&r, 2, 'W', "11");
	int64_t gap = fake_req(&r.f, 2).at_ms - fake_req(&r.f, 1).at_ms;
	KT_CHECK(gap >= 250 && gap < 2000);
	runner_stop(&r);
}

/* Cancel while a watch is open: run returns promptly. */
static void script_hold(fake *f, int nth, const rec *r, kt_conn *c)
{
	if (r->kind == 'L') {
		list_pods(c, "10", NULL, "a", NULL);
		return;
	}
	kt_stream_begin(c, 200, NULL);
	while (kt_conn_sleep_ms(c, 50))
		; /* silent */
}

KT_TEST(cancel_mid_watch_is_prompt)
{
	runner r;
	KT_CHECK(runner_start(&r, script_hold));
	runner_go(&r);
	KT_CHECK(wait_requests(&r, 2));
	kc_cancel_sleep(NULL, 100);
	int64_t took = runner_stop(&r);
	KT_CHECK(took < 1500);
}

/* A LIST refused (403, 403, then allowed): each failure reported at once with its error,
 * the Status reason and the wait before the next attempt, which the next request keeps. */
#define FORBIDDEN_STATUS \
	"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":" \
	"\"pods is forbidden: User \\\"x\\\" cannot list resource \\\"pods\\\"\"," \
	"\"reason\":\"Forbidden\",\"code\":403}"

static void script_forbidden(fake *f, int nth, const rec *r, kt_conn *c)
{
	if (r->kind == 'L' && nth < 2) {
		kt_respond(c, 403, NULL, FORBIDDEN_STATUS);
		return;
	}
	if (r->kind == 'L') {
		list_pods(c, "10", NULL, "a", NULL);
		return;
	}
	kt_stream_begin(c, 200, NULL);
	while (kt_conn_sleep_ms(c, 50))
		;
}

KT_TEST(failures_are_reported_with_the_next_retry)
{
	runner r;
	KT_CHECK(runner_start(&r, script_forbidden));
	r.o.backoff_initial_ms = 200;
	r.o.backoff_max_ms = 5000;
	runner_go(&r);
	KT_CHECK(wait_requests(&r, 2));
	kc_reflector_stats st;
	kc_reflector_stats_get(r.stats, &st);
	KT_EQ_INT(st.last_err, KC_ERR_FORBIDDEN);
	KT_CHECK(strstr(st.last_err_message, "cannot list resource") != NULL);
	KT_CHECK(st.failures_in_row >= 1);
	KT_CHECK(st.retry_at_mono_ms > 0);
	KT_CHECK(wait_requests(&r, 4)); /* two refusals, the LIST that works, its WATCH */
	pthread_mutex_lock(&r.log_lock);
	int nfail = r.nfail;
	pthread_mutex_unlock(&r.log_lock);
	KT_EQ_INT(nfail, 2);
	for (int i = 0; i < 2 && i < nfail; i++) {
		KT_EQ_INT(r.fail_err[i], KC_ERR_FORBIDDEN);
		KT_EQ_STR(r.fail_reason[i], "Forbidden");
		/* the delay as the backoff draws it: [200, 400) then [400, 800) */
		int64_t lo = 200 << i;
		KT_CHECK(r.fail_retry_ms[i] >= lo && r.fail_retry_ms[i] < 2 * lo);
		/* reported before the wait, and the next request came after the wait said */
		int64_t next = fake_req(&r.f, i + 1).at_ms;
		KT_CHECK(next - r.fail_at_ms[i] >= r.fail_retry_ms[i] - 20);
	}
	/* synced: nothing in a row any more, no retry pending */
	for (int i = 0; i < 100; i++) {
		kc_reflector_stats_get(r.stats, &st);
		if (st.lists)
			break;
		kc_cancel_sleep(NULL, 10);
	}
	KT_EQ_INT(st.lists, 1);
	KT_EQ_INT(st.failures, 2);
	KT_EQ_INT(st.failures_in_row, 0);
	KT_EQ_INT(st.retry_at_mono_ms, 0);
	runner_stop(&r);
}

KT_TEST(invalid_options_are_refused)
{
	kc_cancel *cancel;
	kc_cancel_new(&cancel);
	kc_reflector_options o = {0};
	KT_EQ_INT(kc_reflector_run(NULL, &o, &handler, NULL, cancel, NULL), KC_ERR_INVALID);
	kc_cancel_free(cancel);
}

int main(void)
{
	KT_RUN(list_watch_bookmark_resume_without_relist);
	KT_RUN(list_watch_delivers_list_then_events);
	KT_RUN(error_410_relists_then_from_empty_rv);
	KT_RUN(too_large_resource_version_relists_from_empty_rv);
	KT_RUN(list_pages_follow_continue_without_rv);
	KT_RUN(expired_continue_falls_back_to_full_list);
	KT_RUN(malformed_and_over_long_lines_relist_and_continue);
	KT_RUN(truncated_stream_rewatches_without_half_event);
	KT_RUN(short_empty_watch_backs_off_and_relists);
	KT_RUN(stalled_watch_is_resumed);
	KT_RUN(cancel_mid_watch_is_prompt);
	KT_RUN(failures_are_reported_with_the_next_retry);
	KT_RUN(invalid_options_are_refused);
	return KT_DONE();
}
