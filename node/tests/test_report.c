/*
 * firebreak-node's reporter (node/agent/report.c) against the fake API server (TLS, a
 * kubeconfig with the server's CA and a bearer token): the UnaccountedMemory condition
 * written with a strategic merge patch of nodes/<node>/status and nothing else in it, at
 * once when it changes and otherwise every heartbeat, retried after a failed write, its
 * lastTransitionTime kept across heartbeats and restarts; the Events when it turns (the
 * pod named by namespace/name); /metrics; and a reporter that cannot start.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fbn.h"
#include "fbn_io.h"
#include "kc/alloc.h"
#include "kc/base64.h"
#include "kc/buf.h"
#include "kc/time.h"
#include "kctest.h"
#include "report.h"
#include "testserver.h"

#define NODE       "node-a"
#define NODE_UID   "3f6c2b1e-8d4a-4e0f-9b7c-5a1d2e3f4a5b"
#define POD_UID    "7c9e6679-7425-40de-944b-e07fc1f90ae7"
#define TOKEN      "reporter-test-token"
#define NODE_PATH  "/api/v1/nodes/" NODE
#define STATUS     NODE_PATH "/status"
#define EVENTS     "/apis/events.k8s.io/v1/namespaces/default/events"
#define SMP        "application/strategic-merge-patch+json"
#define WALL0      1709251200000LL /* 2024-03-01T00:00:00Z, in ms */
#define SEC        1000
#define MAX_REQS   128

/* ---- the verdicts: the recorded trees, analysed as test_analysis.c does ---------------------- */

typedef struct tree {
	fbn_files files;
	fbn_holders holders;
	fbn_inputs in;
} tree;

static void analyze_tree(const char *name, fbn_report *r)
{
	const char *trees = getenv("FBN_TREES");
	char root[1024];
	snprintf(root, sizeof(root), "%s/%s", trees ? trees : "node/tests/trees", name);
	tree t;
	fbn_files_read(root, &t.files);
	fbn_scan_holders(root, NULL, &t.holders);
	t.in = t.files.in;
	t.in.holders = &t.holders;
	KT_CHECK(t.files.meminfo != NULL);
	fbn_thresholds th;
	fbn_thresholds_default(&th);
	fbn_analyze(&t.in, &th, r);
	fbn_files_release(&t.files);
}

/* True/OnlyHolder, False/MemoryAccounted, True/NotAttributed, Unknown/NotMeasured */
static fbn_report incident, healthy, nogpu, unknown;
static fbn_condition c_incident, c_healthy, c_nogpu, c_unknown;
static fbn_trend trend;                      /* zeroed: no rates, no growth */

/* ---- the fake API server --------------------------------------------------------------------- */

typedef struct rec {
	char method[16];
	char *path, *query, *body;
	char ctype[128];
	char auth[160];
} rec;

typedef struct fake {
	pthread_mutex_t lock;
	rec reqs[MAX_REQS];
	int nreqs;
	int get_node_status;     /* 0: 200 with the node */
	int patch_status;        /* 0: 200 with the node */
	const char *conditions;  /* the node's status.conditions (JSON), NULL none */
	kt_server *srv;
	char dir[64], kubeconfig[128];
} fake;

static void respond_node(fake *f, kt_conn *c)
{
	char body[4096];
	snprintf(body, sizeof(body),
	         "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"" NODE "\","
	         "\"uid\":\"" NODE_UID "\",\"resourceVersion\":\"42\"},\"status\":{\"conditions\":%s}}",
	         f->conditions ? f->conditions : "[]");
	kt_respond(c, 200, NULL, body);
}

static void handler(void *ud, const kt_request *req, kt_conn *c)
{
	fake *f = ud;
	pthread_mutex_lock(&f->lock);
	if (f->nreqs < MAX_REQS) {
		rec *r = &f->reqs[f->nreqs];
		snprintf(r->method, sizeof(r->method), "%s", req->method);
		r->path = strdup(req->path);
		r->query = strdup(req->query);
		r->body = strdup(req->body);
		kt_header(req, "Content-Type", r->ctype, sizeof(r->ctype));
		kt_header(req, "Authorization", r->auth, sizeof(r->auth));
		f->nreqs++;
	}
	int get_status = f->get_node_status, patch_status = f->patch_status;
	pthread_mutex_unlock(&f->lock);

	char auth[160] = "";
	kt_header(req, "Authorization", auth, sizeof(auth));
	bool get = strcmp(req->method, "GET") == 0, patch = strcmp(req->method, "PATCH") == 0;
	if (strcmp(auth, "Bearer " TOKEN) != 0) {
		kt_respond(c, 401, NULL, "{\"kind\":\"Status\",\"status\":\"Failure\",\"code\":401}");
	} else if (get && strcmp(req->path, NODE_PATH) == 0) {
		if (get_status)
			kt_respond(c, get_status, NULL, "{\"kind\":\"Status\",\"status\":\"Failure\","
			                                "\"reason\":\"NotFound\",\"code\":404}");
		else
			respond_node(f, c);
	} else if (patch && strcmp(req->path, STATUS) == 0) {
		if (patch_status)
			kt_respond(c, patch_status, NULL, "{\"kind\":\"Status\",\"status\":\"Failure\","
			                                  "\"message\":\"etcd is down\",\"code\":500}");
		else
			respond_node(f, c);
	} else if (get && strcmp(req->path, "/api/v1/pods") == 0) {
		char sel[256] = "";
		kt_query_param(req, "fieldSelector", sel, sizeof(sel));
		bool ours = strcmp(sel, "spec.nodeName=" NODE) == 0;
		kt_respond(c, 200, NULL,
		           ours ? "{\"apiVersion\":\"v1\",\"kind\":\"PodList\",\"metadata\":"
		                  "{\"resourceVersion\":\"7\"},\"items\":["
		                  "{\"metadata\":{\"name\":\"web-0\",\"namespace\":\"web\","
		                  "\"uid\":\"0b6f3c1d-2e4a-4b5c-8d9e-0f1a2b3c4d5e\"}},"
		                  "{\"metadata\":{\"name\":\"train-0\",\"namespace\":\"gpu\","
		                  "\"uid\":\"" POD_UID "\"}}]}"
		                : "{\"apiVersion\":\"v1\",\"kind\":\"PodList\",\"metadata\":{},"
		                  "\"items\":[]}");
	} else if (strcmp(req->method, "POST") == 0 && strcmp(req->path, EVENTS) == 0) {
		kt_respond(c, 201, NULL, req->body[0] ? req->body : "{}");
	} else if (patch && strncmp(req->path, EVENTS "/", sizeof(EVENTS)) == 0) {
		kt_respond(c, 200, NULL, req->body[0] ? req->body : "{}");
	} else {
		kt_respond(c, 404, NULL, "{\"kind\":\"Status\",\"status\":\"Failure\",\"code\":404}");
	}
}

/* Start the server and write a kubeconfig for it: its URL, its CA, a bearer token. */
static bool fake_start(fake *f, const char *conditions)
{
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	f->conditions = conditions;
	kt_server_opts o = { .tls = true, .handler = handler, .ud = f };
	if (kt_server_start(&o, &f->srv) != 0)
		return false;
	snprintf(f->dir, sizeof(f->dir), "/tmp/fbn-report-XXXXXX");
	if (!mkdtemp(f->dir))
		return false;
	snprintf(f->kubeconfig, sizeof(f->kubeconfig), "%s/config", f->dir);
	const char *ca = kt_server_ca_pem(f->srv);
	kc_buf b64;
	kc_buf_init(&b64, 1 << 20);
	bool ok = ca && kc_base64_encode(ca, strlen(ca), &b64) == KC_OK;
	FILE *fp = ok ? fopen(f->kubeconfig, "w") : NULL;
	if (fp) {
		fprintf(fp,
		        "apiVersion: v1\n"
		        "kind: Config\n"
		        "clusters:\n"
		        "- name: fake\n"
		        "  cluster:\n"
		        "    server: %s\n"
		        "    certificate-authority-data: %s\n"
		        "contexts:\n"
		        "- name: fake\n"
		        "  context: {cluster: fake, user: reporter}\n"
		        "current-context: fake\n"
		        "users:\n"
		        "- name: reporter\n"
		        "  user:\n"
		        "    token: " TOKEN "\n",
		        kt_server_url(f->srv), b64.data);
		ok = fclose(fp) == 0;
	} else {
		ok = false;
	}
	kc_buf_release(&b64);
	return ok;
}

static void fake_stop(fake *f)
{
	kt_server_stop(f->srv);
	for (int i = 0; i < f->nreqs; i++) {
		free(f->reqs[i].path);
		free(f->reqs[i].query);
		free(f->reqs[i].body);
	}
	if (f->kubeconfig[0])
		unlink(f->kubeconfig);
	if (f->dir[0])
		rmdir(f->dir);
	pthread_mutex_destroy(&f->lock);
}

static void set_patch_status(fake *f, int status)
{
	pthread_mutex_lock(&f->lock);
	f->patch_status = status;
	pthread_mutex_unlock(&f->lock);
}

/* The i-th (0-based) request of method to path (path ending in '*': a prefix), or NULL. */
static const rec *nth(fake *f, const char *method, const char *path, int i)
{
	size_t n = strlen(path);
	bool prefix = n && path[n - 1] == '*';
	const rec *found = NULL;
	pthread_mutex_lock(&f->lock);
	for (int k = 0; k < f->nreqs && !found; k++) {
		const rec *r = &f->reqs[k];
		bool match = strcmp(r->method, method) == 0 &&
		             (prefix ? strncmp(r->path, path, n - 1) == 0 : strcmp(r->path, path) == 0);
		if (match && i-- == 0)
			found = r;
	}
	pthread_mutex_unlock(&f->lock);
	return found;
}

static int count(fake *f, const char *method, const char *path)
{
	int n = 0;
	while (nth(f, method, path, n))
		n++;
	return n;
}

static int total(fake *f)
{
	pthread_mutex_lock(&f->lock);
	int n = f->nreqs;
	pthread_mutex_unlock(&f->lock);
	return n;
}

static fbn_reporter *reporter(fake *f, int64_t heartbeat_ms, const char *metrics_addr)
{
	fbn_reporter_options o = { .node = NODE, .kubeconfig = f->kubeconfig,
		                   .metrics_addr = metrics_addr, .heartbeat_ms = heartbeat_ms };
	return fbn_reporter_new(&o);
}

static void sample(fbn_reporter *rp, const fbn_report *r, int64_t wall_ms)
{
	if (rp)
		fbn_reporter_sample(rp, r, &trend, wall_ms, 0.003);
}

/* ---- what was written ------------------------------------------------------------------------ */

static const char *jstr(const cJSON *o, const char *a, const char *b)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, a);
	if (b)
		it = cJSON_GetObjectItemCaseSensitive(it, b);
	return cJSON_IsString(it) ? it->valuestring : NULL;
}

static const char *at(int64_t wall_ms, char buf[KC_TIME_STR_MAX])
{
	return kc_time_format(wall_ms * 1000, buf);
}

/*
 * The status PATCH r: a strategic merge patch whose only content is one condition of
 * type UnaccountedMemory saying want, heartbeat hb and transition tr (ms).
 */
static void check_patch(const rec *r, const fbn_condition *want, int64_t hb, int64_t tr)
{
	KT_CHECK(r != NULL);
	if (!r)
		return;
	int before = kt_failed_checks_;
	char b1[KC_TIME_STR_MAX], b2[KC_TIME_STR_MAX];
	KT_EQ_STR(r->ctype, SMP);
	KT_EQ_STR(r->auth, "Bearer " TOKEN);
	cJSON *root = cJSON_Parse(r->body);
	KT_CHECK(cJSON_IsObject(root));
	KT_EQ_INT(cJSON_GetArraySize(root), 1);
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "status");
	KT_CHECK(cJSON_IsObject(st));
	KT_EQ_INT(cJSON_GetArraySize(st), 1);
	const cJSON *conds = cJSON_GetObjectItemCaseSensitive(st, "conditions");
	KT_CHECK(cJSON_IsArray(conds));
	KT_EQ_INT(cJSON_GetArraySize(conds), 1);
	const cJSON *c = cJSON_GetArrayItem(conds, 0);
	KT_CHECK(cJSON_IsObject(c));
	KT_EQ_INT(cJSON_GetArraySize(c), 6);
	KT_EQ_STR(jstr(c, "type", NULL), "UnaccountedMemory");
	KT_EQ_STR(jstr(c, "status", NULL), want->status);
	KT_EQ_STR(jstr(c, "reason", NULL), want->reason);
	KT_EQ_STR(jstr(c, "message", NULL), want->message);
	KT_EQ_STR(jstr(c, "lastHeartbeatTime", NULL), at(hb, b1));
	KT_EQ_STR(jstr(c, "lastTransitionTime", NULL), at(tr, b2));
	if (kt_failed_checks_ != before)
		fprintf(stderr, "  patch: %s\n", r->body);
	cJSON_Delete(root);
}

/* ---- the tests ------------------------------------------------------------------------------- */

KT_TEST(the_recorded_trees_give_the_three_verdicts)
{
	analyze_tree("incident", &incident);
	analyze_tree("healthy-6.18", &healthy);
	analyze_tree("no-gpu-holder", &nogpu);
	analyze_tree("cut-midline", &unknown);
	fbn_condition_of(&incident, &c_incident);
	fbn_condition_of(&healthy, &c_healthy);
	fbn_condition_of(&nogpu, &c_nogpu);
	fbn_condition_of(&unknown, &c_unknown);
	KT_EQ_STR(c_incident.status, "True");
	KT_EQ_STR(c_incident.reason, "OnlyHolder");
	KT_EQ_STR(c_incident.pod_uid, POD_UID);
	KT_EQ_STR(c_healthy.status, "False");
	KT_EQ_STR(c_healthy.reason, "MemoryAccounted");
	KT_EQ_STR(c_nogpu.status, "True");
	KT_EQ_STR(c_nogpu.reason, "NotAttributed");
	KT_EQ_STR(c_unknown.status, "Unknown");
	KT_EQ_STR(c_unknown.reason, "NotMeasured");
}

/* Each verdict, as a first sample: one PATCH of nodes/<node>/status saying it, nothing more. */
KT_TEST(the_first_sample_writes_the_condition)
{
	const fbn_report *reports[] = { &incident, &healthy, &nogpu };
	const fbn_condition *want[] = { &c_incident, &c_healthy, &c_nogpu };
	for (size_t i = 0; i < 3; i++) {
		fake f;
		KT_CHECK(fake_start(&f, NULL));
		fbn_reporter *rp = reporter(&f, 60000, NULL);
		KT_CHECK(rp != NULL);
		KT_EQ_INT(count(&f, "GET", NODE_PATH), 1);  /* the node read once, at start */
		KT_EQ_INT(count(&f, "PATCH", STATUS), 0);
		sample(rp, reports[i], WALL0 + (int64_t)i * SEC);
		KT_EQ_INT(count(&f, "PATCH", STATUS), 1);
		check_patch(nth(&f, "PATCH", STATUS, 0), want[i], WALL0 + (int64_t)i * SEC,
		            WALL0 + (int64_t)i * SEC);
		/* nothing else is written to the node */
		KT_EQ_INT(count(&f, "PATCH", NODE_PATH), 0);
		KT_EQ_INT(count(&f, "PUT", NODE_PATH "*"), 0);
		KT_EQ_INT(count(&f, "POST", "/api/*"), 0);
		fbn_reporter_free(rp);
		fake_stop(&f);
	}
}

/* The same verdict is written again only when the heartbeat is due, and keeps its transition
 * time; another status is written at once with a new one. */
KT_TEST(heartbeat_and_transitions)
{
	fake f;
	KT_CHECK(fake_start(&f, NULL));
	fbn_reporter *rp = reporter(&f, 60000, NULL);
	KT_CHECK(rp != NULL);
	sample(rp, &healthy, WALL0);
	KT_EQ_INT(count(&f, "PATCH", STATUS), 1);
	check_patch(nth(&f, "PATCH", STATUS, 0), &c_healthy, WALL0, WALL0);
	/* 10 s later, the same: nothing */
	sample(rp, &healthy, WALL0 + 10 * SEC);
	KT_EQ_INT(count(&f, "PATCH", STATUS), 1);
	sample(rp, &healthy, WALL0 + 59 * SEC);
	KT_EQ_INT(count(&f, "PATCH", STATUS), 1);
	/* 61 s after the write: the heartbeat, the transition as it was */
	sample(rp, &healthy, WALL0 + 61 * SEC);
	KT_EQ_INT(count(&f, "PATCH", STATUS), 2);
	check_patch(nth(&f, "PATCH", STATUS, 1), &c_healthy, WALL0 + 61 * SEC, WALL0);
	/* the heartbeat counts from the last write: 40 s after it, nothing */
	sample(rp, &healthy, WALL0 + 101 * SEC);
	KT_EQ_INT(count(&f, "PATCH", STATUS), 2);
	/* healthy -> incident, 1 s later: at once, a new transition */
	sample(rp, &incident, WALL0 + 102 * SEC);
	KT_EQ_INT(count(&f, "PATCH", STATUS), 3);
	check_patch(nth(&f, "PATCH", STATUS, 2), &c_incident, WALL0 + 102 * SEC, WALL0 + 102 * SEC);
	sample(rp, &incident, WALL0 + 103 * SEC);
	KT_EQ_INT(count(&f, "PATCH", STATUS), 3);
	/* another reason, the same status: at once; the status did not transition, so its
	 * lastTransitionTime stands (Kubernetes API conventions) */
	sample(rp, &nogpu, WALL0 + 104 * SEC);
	KT_EQ_INT(count(&f, "PATCH", STATUS), 4);
	check_patch(nth(&f, "PATCH", STATUS, 3), &c_nogpu, WALL0 + 104 * SEC, WALL0 + 102 * SEC);
	/* and back to healthy: at once, a new transition */
	sample(rp, &healthy, WALL0 + 105 * SEC);
	KT_EQ_INT(count(&f, "PATCH", STATUS), 5);
	check_patch(nth(&f, "PATCH", STATUS, 4), &c_healthy, WALL0 + 105 * SEC, WALL0 + 105 * SEC);
	/* the next heartbeat of it keeps that transition */
	sample(rp, &healthy, WALL0 + 165 * SEC);
	KT_EQ_INT(count(&f, "PATCH", STATUS), 6);
	check_patch(nth(&f, "PATCH", STATUS, 5), &c_healthy, WALL0 + 165 * SEC, WALL0 + 105 * SEC);
	fbn_reporter_free(rp);
	fake_stop(&f);
}

/* A free port on 127.0.0.1 (bound, read, closed). */
static int free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int port = -1;
	if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(s, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (s >= 0)
		close(s);
	return port;
}

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
	return kc_buf_append(ud, p, size * n) == KC_OK ? size * n : 0;
}

static long http_get(int port, const char *path, kc_buf *out)
{
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	kc_buf_reset(out);
	CURL *h = curl_easy_init();
	if (!h)
		return -1;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 5L);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	long status = -1;
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	if (!out->data)
		kc_buf_append(out, "", 0);
	return status;
}

static bool has_line(const kc_buf *b, const char *line)
{
	char want[512];
	snprintf(want, sizeof(want), "\n%s\n", line);
	bool ok = b->data && strstr(b->data, want) != NULL;
	if (!ok)
		fprintf(stderr, "  /metrics has no line \"%s\"\n", line);
	return ok;
}

/* A write the server refuses is retried at the next sample, heartbeat or not; /metrics
 * counts the writes by result and shows the condition and the pod as last computed. */
KT_TEST(a_failed_write_is_retried_at_the_next_sample)
{
	fake f;
	KT_CHECK(fake_start(&f, NULL));
	int port = free_port();
	KT_CHECK(port > 0);
	char addr[32];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	f.patch_status = 500;
	fbn_reporter *rp = reporter(&f, 60000, addr);
	KT_CHECK(rp != NULL);
	kc_buf m;
	kc_buf_init(&m, 1 << 20);

	/* the first write fails; the next sample, 1 s later, writes it */
	sample(rp, &healthy, WALL0);
	KT_EQ_INT(count(&f, "PATCH", STATUS), 1);
	set_patch_status(&f, 0);
	sample(rp, &healthy, WALL0 + 1 * SEC);
	KT_EQ_INT(count(&f, "PATCH", STATUS), 2);
	check_patch(nth(&f, "PATCH", STATUS, 1), &c_healthy, WALL0 + 1 * SEC, WALL0 + 1 * SEC);
	sample(rp, &healthy, WALL0 + 2 * SEC); /* written: nothing until the heartbeat */
	KT_EQ_INT(count(&f, "PATCH", STATUS), 2);
	KT_EQ_INT(http_get(port, "/metrics", &m), 200);
	KT_CHECK(has_line(&m, "firebreak_node_condition_writes_total{result=\"error\"} 1"));
	KT_CHECK(has_line(&m, "firebreak_node_condition_writes_total{result=\"ok\"} 1"));
	KT_CHECK(has_line(&m, "firebreak_node_condition{status=\"False\",reason=\"MemoryAccounted\"} 1"));
	KT_CHECK(has_line(&m, "firebreak_node_samples_total 3"));
	KT_CHECK(m.data && !strstr(m.data, "firebreak_node_attributed{"));

	/* a change whose write fails is retried at the next sample too */
	set_patch_status(&f, 500);
	sample(rp, &incident, WALL0 + 3 * SEC);
	KT_EQ_INT(count(&f, "PATCH", STATUS), 3);
	set_patch_status(&f, 0);
	sample(rp, &incident, WALL0 + 4 * SEC);
	KT_EQ_INT(count(&f, "PATCH", STATUS), 4);
	check_patch(nth(&f, "PATCH", STATUS, 3), &c_incident, WALL0 + 4 * SEC, WALL0 + 4 * SEC);
	sample(rp, &incident, WALL0 + 5 * SEC);
	KT_EQ_INT(count(&f, "PATCH", STATUS), 4);
	/* and so is a heartbeat that fails: at the next sample, not a heartbeat later */
	set_patch_status(&f, 500);
	sample(rp, &incident, WALL0 + 64 * SEC);
	KT_EQ_INT(count(&f, "PATCH", STATUS), 5);
	set_patch_status(&f, 0);
	sample(rp, &incident, WALL0 + 65 * SEC);
	KT_EQ_INT(count(&f, "PATCH", STATUS), 6);
	check_patch(nth(&f, "PATCH", STATUS, 5), &c_incident, WALL0 + 65 * SEC, WALL0 + 4 * SEC);
	sample(rp, &incident, WALL0 + 66 * SEC);
	KT_EQ_INT(count(&f, "PATCH", STATUS), 6);

	KT_EQ_INT(http_get(port, "/metrics", &m), 200);
	KT_CHECK(has_line(&m, "firebreak_node_condition_writes_total{result=\"error\"} 3"));
	KT_CHECK(has_line(&m, "firebreak_node_condition_writes_total{result=\"ok\"} 3"));
	KT_CHECK(has_line(&m, "firebreak_node_condition{status=\"True\",reason=\"OnlyHolder\"} 1"));
	KT_CHECK(m.data && !strstr(m.data, "reason=\"MemoryAccounted\""));
	KT_CHECK(has_line(&m, "firebreak_node_attributed{pod_uid=\"" POD_UID
	                      "\",basis=\"OnlyHolder\"} 1"));
	KT_CHECK(has_line(&m, "firebreak_node_samples_total 9"));
	KT_CHECK(m.data && strstr(m.data, "firebreak_node_unaccounted_bytes ") != NULL);
	KT_EQ_INT(http_get(port, "/healthz", &m), 200);
	KT_EQ_INT(http_get(port, "/nope", &m), 404);
	fbn_reporter_free(rp);
	/* the failed writes recorded no Event; the True written once did */
	KT_EQ_INT(count(&f, "POST", EVENTS), 1);
	kc_buf_release(&m);
	fake_stop(&f);
}

static cJSON *event(fake *f, int i)
{
	const rec *r = nth(f, "POST", EVENTS, i);
	KT_CHECK(r != NULL);
	return r ? cJSON_Parse(r->body) : NULL;
}

static void check_regarding_node(const cJSON *ev)
{
	KT_EQ_STR(jstr(ev, "regarding", "apiVersion"), "v1");
	KT_EQ_STR(jstr(ev, "regarding", "kind"), "Node");
	KT_EQ_STR(jstr(ev, "regarding", "name"), NODE);
	KT_EQ_STR(jstr(ev, "regarding", "uid"), NODE_UID);
	KT_EQ_STR(jstr(ev, "reportingController", NULL), "firebreak.dev/firebreak-node");
	KT_EQ_STR(jstr(ev, "reportingInstance", NULL), "firebreak-node-" NODE);
	KT_EQ_STR(jstr(ev, "metadata", "namespace"), "default");
}

/* The condition turning True is a Warning Event on the Node naming the pod by its
 * namespace and name (looked up among the node's pods). */
KT_TEST(an_incident_records_a_warning_event_naming_the_pod)
{
	fake f;
	KT_CHECK(fake_start(&f, NULL));
	fbn_reporter *rp = reporter(&f, 60000, NULL);
	KT_CHECK(rp != NULL);
	sample(rp, &incident, WALL0);
	fbn_reporter_free(rp); /* flushes the recorder */
	KT_EQ_INT(count(&f, "POST", EVENTS), 1);
	KT_EQ_INT(count(&f, "PATCH", EVENTS "/*"), 0);
	KT_EQ_INT(count(&f, "GET", "/api/v1/pods"), 1);
	cJSON *ev = event(&f, 0);
	check_regarding_node(ev);
	KT_EQ_STR(jstr(ev, "type", NULL), "Warning");
	KT_EQ_STR(jstr(ev, "reason", NULL), "UnaccountedMemory");
	const char *note = jstr(ev, "note", NULL);
	KT_CHECK(note && strncmp(note, "pod " POD_UID ": ", 42) == 0);
	KT_CHECK(note && strstr(note, "(pod gpu/train-0)") != NULL);
	KT_EQ_STR(jstr(ev, "related", "apiVersion"), "v1");
	KT_EQ_STR(jstr(ev, "related", "kind"), "Pod");
	KT_EQ_STR(jstr(ev, "related", "name"), "train-0");
	KT_EQ_STR(jstr(ev, "related", "namespace"), "gpu");
	KT_EQ_STR(jstr(ev, "related", "uid"), POD_UID);
	if (note && !strstr(note, "(pod gpu/train-0)"))
		fprintf(stderr, "  note (%zu bytes): %s\n", strlen(note), note);
	cJSON_Delete(ev);
	fake_stop(&f);
}

/* A healthy node records no Event; a turn to True does, each heartbeat of it does not, and
 * the turn back to False is a Normal MemoryAccounted Event (to Unknown, Normal NotMeasured). */
KT_TEST(events_follow_the_turns_not_the_heartbeats)
{
	fake f;
	KT_CHECK(fake_start(&f, NULL));
	fbn_reporter *rp = reporter(&f, 60000, NULL);
	KT_CHECK(rp != NULL);
	sample(rp, &healthy, WALL0);
	sample(rp, &healthy, WALL0 + 61 * SEC);            /* heartbeat */
	sample(rp, &nogpu, WALL0 + 62 * SEC);              /* True, no pod */
	sample(rp, &incident, WALL0 + 63 * SEC);           /* True, a pod named */
	sample(rp, &incident, WALL0 + 124 * SEC);          /* heartbeat */
	sample(rp, &healthy, WALL0 + 125 * SEC);           /* False again */
	KT_EQ_INT(count(&f, "PATCH", STATUS), 6);
	fbn_reporter_free(rp);
	KT_EQ_INT(count(&f, "POST", EVENTS), 3);
	KT_EQ_INT(count(&f, "PATCH", EVENTS "/*"), 0);
	KT_EQ_INT(count(&f, "GET", "/api/v1/pods"), 1);
	cJSON *ev = event(&f, 0);
	check_regarding_node(ev);
	KT_EQ_STR(jstr(ev, "type", NULL), "Warning");
	KT_EQ_STR(jstr(ev, "reason", NULL), "UnaccountedMemory");
	KT_EQ_STR(jstr(ev, "note", NULL), c_nogpu.message);
	KT_CHECK(cJSON_GetObjectItemCaseSensitive(ev, "related") == NULL);
	cJSON_Delete(ev);
	ev = event(&f, 1);
	check_regarding_node(ev);
	KT_EQ_STR(jstr(ev, "type", NULL), "Warning");
	KT_EQ_STR(jstr(ev, "reason", NULL), "UnaccountedMemory");
	KT_EQ_STR(jstr(ev, "related", "name"), "train-0");
	cJSON_Delete(ev);
	ev = event(&f, 2);
	check_regarding_node(ev);
	KT_EQ_STR(jstr(ev, "type", NULL), "Normal");
	KT_EQ_STR(jstr(ev, "reason", NULL), "MemoryAccounted");
	KT_EQ_STR(jstr(ev, "note", NULL), c_healthy.message);
	KT_CHECK(cJSON_GetObjectItemCaseSensitive(ev, "related") == NULL);
	cJSON_Delete(ev);
	fake_stop(&f);

	/* healthy from the start: no Event at all */
	KT_CHECK(fake_start(&f, NULL));
	rp = reporter(&f, 60000, NULL);
	KT_CHECK(rp != NULL);
	sample(rp, &healthy, WALL0);
	sample(rp, &healthy, WALL0 + 61 * SEC);
	fbn_reporter_free(rp);
	KT_EQ_INT(count(&f, "PATCH", STATUS), 2);
	KT_EQ_INT(count(&f, "POST", "/apis/*"), 0);
	KT_EQ_INT(count(&f, "PATCH", "/apis/*"), 0);
	fake_stop(&f);

	/* True, then not measured: a Normal Event that says so, not MemoryAccounted */
	KT_CHECK(fake_start(&f, NULL));
	rp = reporter(&f, 60000, NULL);
	KT_CHECK(rp != NULL);
	sample(rp, &incident, WALL0);
	sample(rp, &unknown, WALL0 + 1 * SEC);
	KT_EQ_INT(count(&f, "PATCH", STATUS), 2);
	check_patch(nth(&f, "PATCH", STATUS, 1), &c_unknown, WALL0 + 1 * SEC, WALL0 + 1 * SEC);
	fbn_reporter_free(rp);
	KT_EQ_INT(count(&f, "POST", EVENTS), 2);
	ev = event(&f, 1);
	check_regarding_node(ev);
	KT_EQ_STR(jstr(ev, "type", NULL), "Normal");
	KT_EQ_STR(jstr(ev, "reason", NULL), "NotMeasured");
	KT_EQ_STR(jstr(ev, "note", NULL), c_unknown.message);
	cJSON_Delete(ev);
	fake_stop(&f);
}

#define T_PREV "2024-02-29T12:00:00Z"
#define PREV_TRUE                                                                              \
	"[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"KubeletReady\","                \
	"\"lastHeartbeatTime\":\"2024-02-29T23:59:00Z\",\"lastTransitionTime\":\"2024-02-01T00:00:00Z\"}," \
	"{\"type\":\"UnaccountedMemory\",\"status\":\"True\",\"reason\":\"OnlyHolder\","     \
	"\"message\":\"pod " POD_UID ": 30.0 GiB\",\"lastHeartbeatTime\":\"2024-02-29T23:59:30Z\"," \
	"\"lastTransitionTime\":\"" T_PREV "\"}]"
#define PREV_FALSE                                                                             \
	"[{\"type\":\"UnaccountedMemory\",\"status\":\"False\",\"reason\":\"MemoryAccounted\"," \
	"\"message\":\"fine\",\"lastHeartbeatTime\":\"2024-02-29T23:59:30Z\","                 \
	"\"lastTransitionTime\":\"" T_PREV "\"}]"

/* A restarted agent finds the condition its last run wrote: the same status keeps that
 * lastTransitionTime, another status starts a new one. */
KT_TEST(a_restart_keeps_the_transition_time_of_the_same_status)
{
	int64_t prev_us = 0;
	KT_EQ_INT(kc_time_parse(T_PREV, &prev_us), KC_OK);
	int64_t prev = prev_us / 1000;
	struct {
		const char *conditions;
		const fbn_report *r;
		const fbn_condition *c;
		int64_t transition;
	} cases[] = {
		{ PREV_TRUE, &incident, &c_incident, prev },   /* True, True: kept */
		{ PREV_TRUE, &nogpu, &c_nogpu, prev },         /* True, True (another reason): kept */
		{ PREV_TRUE, &healthy, &c_healthy, WALL0 },    /* True, False: new */
		{ PREV_FALSE, &healthy, &c_healthy, prev },    /* False, False: kept */
		{ PREV_FALSE, &incident, &c_incident, WALL0 }, /* False, True: new */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int before = kt_failed_checks_;
		fake f;
		KT_CHECK(fake_start(&f, cases[i].conditions));
		fbn_reporter *rp = reporter(&f, 60000, NULL);
		KT_CHECK(rp != NULL);
		sample(rp, cases[i].r, WALL0);
		KT_EQ_INT(count(&f, "PATCH", STATUS), 1);
		check_patch(nth(&f, "PATCH", STATUS, 0), cases[i].c, WALL0, cases[i].transition);
		/* its heartbeat keeps it too */
		sample(rp, cases[i].r, WALL0 + 60 * SEC);
		KT_EQ_INT(count(&f, "PATCH", STATUS), 2);
		check_patch(nth(&f, "PATCH", STATUS, 1), cases[i].c, WALL0 + 60 * SEC,
		            cases[i].transition);
		if (kt_failed_checks_ != before)
			fprintf(stderr, "  ^ case %zu\n", i);
		fbn_reporter_free(rp);
		fake_stop(&f);
	}
}

/* No reporter when the cluster cannot be reached or the node read: NULL, nothing leaked. */
KT_TEST(no_reporter_without_a_config_or_a_node)
{
	fbn_reporter_options o = { .node = NODE, .kubeconfig = "/nonexistent-firebreak/kubeconfig" };
	KT_CHECK(fbn_reporter_new(&o) == NULL);
	fake f;
	KT_CHECK(fake_start(&f, NULL));
	f.get_node_status = 404;
	KT_CHECK(reporter(&f, 0, NULL) == NULL);
	KT_EQ_INT(count(&f, "GET", NODE_PATH), 1);
	KT_EQ_INT(total(&f), 1); /* nothing else asked */
	/* no node name */
	o.node = NULL;
	o.kubeconfig = f.kubeconfig;
	KT_CHECK(fbn_reporter_new(&o) == NULL);
	KT_EQ_INT(total(&f), 1);
	fbn_reporter_free(NULL);
	fake_stop(&f);
}

int main(void)
{
	kc_global_init();
	fbn_trend_init(&trend);
	KT_RUN(the_recorded_trees_give_the_three_verdicts);
	KT_RUN(the_first_sample_writes_the_condition);
	KT_RUN(heartbeat_and_transitions);
	KT_RUN(a_failed_write_is_retried_at_the_next_sample);
	KT_RUN(an_incident_records_a_warning_event_naming_the_pod);
	KT_RUN(events_follow_the_turns_not_the_heartbeats);
	KT_RUN(a_restart_keeps_the_transition_time_of_the_same_status);
	KT_RUN(no_reporter_without_a_config_or_a_node);
	return KT_DONE();
}
