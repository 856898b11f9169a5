/*
 * kc_e2e_check - k8sclient against a real control plane (e2e scenario
 * "client"): paginated LIST, an informer seeing a pod come and go, the
 * Eviction API with and without a PodDisruptionBudget, leader election
 * between two electors on one Lease, and Events with a series.
 *
 *   KUBECONFIG=e2e/.run/kubeconfig kc_e2e_check
 *
 * Prints one line per check and "N passed, N failed"; exits non-zero on any
 * failure. Everything it creates lives in namespace kc-e2e-<random>, deleted
 * at the end.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc/alloc.h"
#include "kc/client.h"
#include "kc/events.h"
#include "kc/informer.h"
#include "kc/leader.h"
#include "kc/time.h"

static int passed, failed;
static kc_client *client;
static char ns[64];

static void check(bool ok, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void check(bool ok, const char *what, const char *fmt, ...)
{
	char detail[512] = "";
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	printf("%s %s%s%s\n", ok ? "ok  " : "FAIL", what, detail[0] ? ": " : "", detail);
	fflush(stdout);
	if (ok)
		passed++;
	else
		failed++;
}

static const kc_resource RES_PDB = { "policy", "v1", "poddisruptionbudgets",
	                             "PodDisruptionBudget", true };

static cJSON *parse(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static cJSON *parse(const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return cJSON_Parse(buf);
}

static kc_err create(const kc_resource *res, const char *in_ns, cJSON *obj)
{
	kc_error_detail d;
	kc_detail_clear(&d);
	kc_err err = kc_create(client, res, in_ns, obj, NULL, NULL, &d);
	if (err != KC_OK)
		fprintf(stderr, "create %s: %s: %s\n", res->plural, kc_strerror(err), d.message);
	cJSON_Delete(obj);
	return err;
}

static kc_err create_pod(const char *name, const char *app)
{
	return create(&KC_RES_PODS, ns,
	              parse("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\","
	                    "\"labels\":{\"app\":\"%s\"}},\"spec\":{\"containers\":[{\"name\":\"c\","
	                    "\"image\":\"registry.k8s.io/pause:3.10\"}],"
	                    "\"terminationGracePeriodSeconds\":0}}",
	                    name, app));
}

/* ---- paginated LIST ----------------------------------------------------------- */

static void check_pagination(void)
{
	cJSON *all = NULL;
	kc_error_detail d;
	kc_err err = kc_list(client, &KC_RES_NODES, NULL, NULL, &all, &d);
	int total = cJSON_GetArraySize(cJSON_GetObjectItem(all, "items"));
	cJSON_Delete(all);
	check(err == KC_OK && total > 0, "list nodes", "%d nodes (%s)", total, kc_strerror(err));

	int seen = 0, pages = 0;
	char cont[2048] = "";
	do {
		kc_list_opts o = { .limit = { true, 2 } };
		if (cont[0])
			o.continue_token = cont;
		cJSON *page = NULL;
		err = kc_list(client, &KC_RES_NODES, NULL, &o, &page, &d);
		if (err != KC_OK)
			break;
		pages++;
		seen += cJSON_GetArraySize(cJSON_GetObjectItem(page, "items"));
		const cJSON *meta = cJSON_GetObjectItem(page, "metadata");
		const cJSON *c = cJSON_GetObjectItem(meta, "continue");
		snprintf(cont, sizeof(cont), "%s", cJSON_IsString(c) ? c->valuestring : "");
		cJSON_Delete(page);
	} while (cont[0] && pages < 100);
	check(err == KC_OK && seen == total && pages == (total + 1) / 2, "paginated list (limit 2)",
	      "%d items in %d pages", seen, pages);

	kc_list_opts bad = { .label_selector = "this is not a selector!!" };
	err = kc_list(client, &KC_RES_PODS, ns, &bad, NULL, &d);
	check(err == KC_ERR_BAD_REQUEST && d.http_status == 400 && d.message[0],
	      "bad selector decoded as metav1.Status", "%s: %.120s", kc_strerror(err), d.message);
	err = kc_get(client, &KC_RES_PODS, ns, "no-such-pod", NULL, NULL, &d);
	check(err == KC_ERR_NOT_FOUND && strcmp(d.reason, "NotFound") == 0, "get missing pod",
	      "%s reason=%s", kc_strerror(err), d.reason);
}

/* ---- informer + eviction ------------------------------------------------------------ */

typedef struct pod_seen {
	char name[128];
	char node[128];
	char phase[32];
} pod_seen;

static atomic_int adds, deletes;

static void *project(const cJSON *obj, void *ud)
{
	pod_seen *p = kc_calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	const cJSON *meta = cJSON_GetObjectItem(obj, "metadata");
	const cJSON *v = cJSON_GetObjectItem(meta, "name");
	snprintf(p->name, sizeof(p->name), "%s", cJSON_IsString(v) ? v->valuestring : "");
	v = cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "spec"), "nodeName");
	snprintf(p->node, sizeof(p->node), "%s", cJSON_IsString(v) ? v->valuestring : "");
	v = cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "status"), "phase");
	snprintf(p->phase, sizeof(p->phase), "%s", cJSON_IsString(v) ? v->valuestring : "");
	return p;
}

static void free_obj(void *obj, void *ud)
{
	kc_free(obj);
}

static void on_add(const char *key, const void *obj, void *ud)
{
	atomic_fetch_add(&adds, 1);
}

static void on_delete(const char *key, const void *obj, void *ud)
{
	atomic_fetch_add(&deletes, 1);
}

struct scheduled {
	bool bound;
	char node[128];
};

static void visit(const char *key, const void *obj, void *ud)
{
	const pod_seen *p = obj;
	struct scheduled *s = ud;
	s->bound = p->node[0] != '\0';
	snprintf(s->node, sizeof(s->node), "%s", p->node);
}

static bool wait_for(bool (*cond)(void *), void *ud, int64_t timeout_ms)
{
	int64_t end = kc_now_mono_ms() + timeout_ms;
	while (kc_now_mono_ms() < end) {
		if (cond(ud))
			return true;
		kc_cancel_sleep(NULL, 100);
	}
	return cond(ud);
}

static bool pod_bound(void *ud)
{
	kc_informer *inf = ud;
	struct scheduled s = { 0 };
	return kc_informer_get(inf, ns, "evictee", visit, &s) && s.bound;
}

static bool pod_gone(void *ud)
{
	kc_informer *inf = ud;
	struct scheduled s = { 0 };
	return !kc_informer_get(inf, ns, "evictee", visit, &s);
}

static void check_informer_and_eviction(void)
{
	kc_informer_options o = { .project = project, .free_obj = free_obj, .on_add = on_add,
	                          .on_delete = on_delete };
	o.watch.resource = &KC_RES_PODS;
	o.watch.ns = ns;
	kc_informer *inf = NULL;
	kc_err err = kc_informer_new(client, &o, &inf);
	if (err == KC_OK)
		err = kc_informer_start(inf);
	err = err == KC_OK ? kc_informer_wait_synced(inf, 30000, NULL) : err;
	check(err == KC_OK, "pod informer synced", "%s", kc_strerror(err));
	if (err != KC_OK) {
		kc_informer_free(inf);
		return;
	}

	check(create_pod("evictee", "evictee") == KC_OK, "create pod", "%s", "");
	bool bound = wait_for(pod_bound, inf, 60000);
	struct scheduled s = { 0 };
	kc_informer_get(inf, ns, "evictee", visit, &s);
	check(bound, "informer sees the pod scheduled by the real scheduler", "node=%s", s.node);

	kc_delete_opts dopts = { .grace_period_seconds = { true, 0 } };
	kc_error_detail d;
	kc_detail_clear(&d);
	err = kc_evict(client, ns, "evictee", &dopts, &d);
	check(err == KC_OK, "evict pod (no PDB)", "%s %.100s", kc_strerror(err), d.message);
	check(wait_for(pod_gone, inf, 30000), "informer sees the evicted pod deleted", "%s", "");

	/* A PDB that allows no disruption: the Eviction API answers 429. */
	create(&RES_PDB, ns,
	       parse("{\"apiVersion\":\"policy/v1\",\"kind\":\"PodDisruptionBudget\","
	             "\"metadata\":{\"name\":\"guard\"},\"spec\":{\"maxUnavailable\":0,"
	             "\"selector\":{\"matchLabels\":{\"app\":\"guarded\"}}}}"));
	create_pod("guarded", "guarded");
	/* The disruption controller must have counted the pod healthy first: an eviction is
	 * judged on the PDB's status, and while it says currentHealthy 0 >= desiredHealthy 0
	 * (pod not Ready yet, e.g. on a loaded machine) an unready pod may be evicted. */
	int64_t end = kc_now_mono_ms() + 30000;
	for (;;) {
		cJSON *pdb = NULL;
		kc_detail_clear(&d);
		bool counted = false;
		if (kc_get(client, &RES_PDB, ns, "guard", NULL, &pdb, &d) == KC_OK) {
			const cJSON *st = cJSON_GetObjectItemCaseSensitive(pdb, "status");
			const cJSON *h = cJSON_GetObjectItemCaseSensitive(st, "currentHealthy");
			counted = cJSON_IsNumber(h) && h->valueint >= 1;
		}
		cJSON_Delete(pdb);
		if (counted || kc_now_mono_ms() >= end)
			break;
		kc_cancel_sleep(NULL, 250);
	}
	do {
		kc_detail_clear(&d);
		err = kc_evict(client, ns, "guarded", NULL, &d);
		if (err == KC_ERR_TOO_MANY)
			break;
		kc_cancel_sleep(NULL, 500);
	} while (kc_now_mono_ms() < end);
	check(err == KC_ERR_TOO_MANY && d.http_status == 429,
	      "eviction refused by a PodDisruptionBudget (429)", "%s: %.150s", kc_strerror(err),
	      d.message);
	err = kc_delete(client, &KC_RES_PODS, ns, "guarded", &dopts, &d);
	check(err == KC_OK, "delete with grace period 0", "%s", kc_strerror(err));

	kc_reflector_stats st;
	kc_informer_stats(inf, &st);
	check(st.lists >= 1 && st.watches >= 1 && st.events >= 2 && st.last_sync_rv[0],
	      "reflector counters", "lists=%llu watches=%llu events=%llu rv=%s",
	      (unsigned long long)st.lists, (unsigned long long)st.watches,
	      (unsigned long long)st.events, st.last_sync_rv);
	kc_informer_free(inf);
}

/* ---- leader election ------------------------------------------------------------------ */

typedef struct elector {
	const char *id;
	kc_leader *l;
	atomic_int started, stopped;
} elector;

static void started(void *ud)
{
	atomic_fetch_add(&((elector *)ud)->started, 1);
}

static void stopped(void *ud)
{
	atomic_fetch_add(&((elector *)ud)->stopped, 1);
}

static kc_err elector_start(elector *e)
{
	kc_leader_config cfg = {
		.namespace = ns,
		.name = "kc-e2e-lease",
		.identity = e->id,
		.timing = { 3000, 2000, 500 },
		.release_on_cancel = true,
		.callbacks = { started, stopped, NULL, e },
	};
	kc_error_detail d;
	kc_err err = kc_leader_new(client, &cfg, &e->l, &d);
	return err == KC_OK ? kc_leader_start(e->l) : err;
}

static void check_leader_election(void)
{
	elector a = { .id = "kc-e2e-a" }, b = { .id = "kc-e2e-b" };
	kc_err err = elector_start(&a);
	if (err == KC_OK)
		err = elector_start(&b);
	check(err == KC_OK, "start two electors", "%s", kc_strerror(err));
	if (err != KC_OK)
		goto out;
	int64_t end = kc_now_mono_ms() + 10000;
	while (kc_now_mono_ms() < end && !kc_leader_is_leader(a.l) && !kc_leader_is_leader(b.l))
		kc_cancel_sleep(NULL, 50);
	kc_cancel_sleep(NULL, 2000); /* several retry periods: still exactly one leader */
	bool al = kc_leader_is_leader(a.l), bl = kc_leader_is_leader(b.l);
	check(al != bl, "exactly one of two electors leads", "a=%d b=%d", al, bl);
	elector *leader = al ? &a : &b, *other = al ? &b : &a;
	int64_t t0 = kc_now_mono_ms();
	kc_leader_stop(leader->l); /* releases the lease */
	check(atomic_load(&leader->stopped) == 1, "stopping the leader calls on_stopped_leading", "%s", "");
	while (kc_now_mono_ms() - t0 < 10000 && !kc_leader_is_leader(other->l))
		kc_cancel_sleep(NULL, 50);
	int64_t took = kc_now_mono_ms() - t0;
	check(kc_leader_is_leader(other->l) && took < 3000,
	      "after release the other takes over within the lease duration", "%lld ms",
	      (long long)took);
out:
	kc_leader_free(a.l);
	kc_leader_free(b.l);
}

/* ---- events ----------------------------------------------------------------------------- */

static void check_events(void)
{
	kc_recorder_options o = { .reporting_controller = "firebreak.dev/kc-e2e",
	                          .tick_ms = 200 };
	kc_recorder *r = NULL;
	kc_error_detail d;
	kc_err err = kc_recorder_new(client, &o, &r, &d);
	check(err == KC_OK, "start event recorder", "%s", kc_strerror(err));
	if (err != KC_OK)
		return;
	kc_objref ref = { "v1", "Namespace", NULL, ns, NULL };
	for (int i = 0; i < 3; i++)
		kc_recorder_event(r, &ref, NULL, KC_EVENT_WARNING, "E2ECheck", "Test",
		                  "the same event three times");
	err = kc_recorder_flush(r, 20000);
	check(err == KC_OK, "events flushed", "%s", kc_strerror(err));
	cJSON *list = NULL;
	err = kc_list(client, &KC_RES_EVENTS, "default", NULL, &list, &d);
	int found = 0, count = 0;
	const char *controller = "";
	const cJSON *ev;
	cJSON_ArrayForEach(ev, cJSON_GetObjectItem(list, "items")) {
		const cJSON *reason = cJSON_GetObjectItem(ev, "reason");
		const cJSON *reg = cJSON_GetObjectItem(ev, "regarding");
		const cJSON *name = cJSON_GetObjectItem(reg, "name");
		if (!cJSON_IsString(reason) || strcmp(reason->valuestring, "E2ECheck") != 0 ||
		    !cJSON_IsString(name) || strcmp(name->valuestring, ns) != 0)
			continue;
		found++;
		const cJSON *series = cJSON_GetObjectItem(ev, "series");
		const cJSON *c = cJSON_GetObjectItem(series, "count");
		count = cJSON_IsNumber(c) ? c->valueint : 1;
		const cJSON *rc = cJSON_GetObjectItem(ev, "reportingController");
		controller = cJSON_IsString(rc) ? rc->valuestring : "";
	}
	check(err == KC_OK && found == 1, "one Event object for three occurrences", "found %d", found);
	check(count >= 2, "repeats folded into a series", "series.count=%d", count);
	check(strcmp(controller, "firebreak.dev/kc-e2e") == 0, "reportingController set", "%s",
	      controller);
	cJSON_Delete(list);
	kc_recorder_free(r);
}

int main(void)
{
	kc_global_init();
	kc_config *cfg = NULL;
	kc_error_detail d;
	kc_detail_clear(&d);
	kc_err err = kc_config_load_default(NULL, NULL, &cfg, &d);
	if (err == KC_OK)
		err = kc_client_new(cfg, NULL, &client, &d);
	kc_config_free(cfg);
	if (err != KC_OK) {
		fprintf(stderr, "kc_e2e_check: %s: %s\n", kc_strerror(err), d.message);
		return 1;
	}
	snprintf(ns, sizeof(ns), "kc-e2e-%06x", (unsigned)(kc_rand01() * 0xffffff));
	err = create(&KC_RES_NAMESPACES, NULL,
	             parse("{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}}",
	                   ns));
	check(err == KC_OK, "create namespace", "%s", ns);
	if (err == KC_OK) {
		check_pagination();
		check_informer_and_eviction();
		check_leader_election();
		check_events();
		kc_delete(client, &KC_RES_NAMESPACES, NULL, ns, NULL, NULL);
	}
	kc_client_free(client);
	kc_global_cleanup();
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
