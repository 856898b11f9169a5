/*
 * Event recorder: the pure correlator with a fake clock (client-go
 * tools/events event_broadcaster.go series semantics, API validation limits),
 * then the recorder's writes against the test server.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "kc/alloc.h"
#include "kc/events.h"
#include "kc/time.h"
#include "kctest.h"
#include "testserver.h"

#define WALL0 (1709251198LL * 1000000) /* 2024-02-29T23:59:58Z */
#define MIN   (60 * 1000)

static const kc_objref POD = { "v1", "Pod", "ns1", "pod-a", "uid-1" };
static const kc_objref NODE = { "v1", "Node", NULL, "node-1", "uid-n" };

static kc_evcorr *corr(size_t cache_max)
{
	kc_evcorr_options o = { .reporting_controller = "firebreak.dev/firebreak",
		                .reporting_instance = "firebreak.dev/firebreak-host1",
		                .cache_max = cache_max };
	kc_evcorr *c = NULL;
	kc_evcorr_new(&o, &c);
	return c;
}

static const char *jstr(const cJSON *o, const char *a, const char *b)
{
	const cJSON *it = cJSON_GetObjectItem(o, a);
	if (b)
		it = cJSON_GetObjectItem(it, b);
	return cJSON_IsString(it) ? it->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *a, const char *b)
{
	const cJSON *it = cJSON_GetObjectItem(o, a);
	if (b)
		it = cJSON_GetObjectItem(it, b);
	return cJSON_IsNumber(it) ? it->valuedouble : -1;
}

static bool is_microtime(const char *s)
{
	int64_t us;
	const char *dot = s ? strchr(s, '.') : NULL;
	return s && kc_time_parse(s, &us) == KC_OK && dot && strlen(dot) == 8 && dot[7] == 'Z';
}

static void release_all(kc_evwrite *w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		kc_evwrite_release(&w[i]);
}

KT_TEST(utf8_truncation_never_splits_a_character)
{
	char out[16];
	KT_EQ_INT(kc_utf8_truncate(out, sizeof(out), "abc", 3), 3);
	KT_EQ_STR(out, "abc");
	KT_EQ_INT(kc_utf8_truncate(out, sizeof(out), "abcd", 3), 3);
	KT_EQ_STR(out, "abc");
	KT_EQ_INT(kc_utf8_truncate(out, sizeof(out), "a\xc3\xa9", 2), 1); /* "aé" */
	KT_EQ_STR(out, "a");
	KT_EQ_INT(kc_utf8_truncate(out, sizeof(out), "\xf0\x9f\x94\xa5x", 3), 0); /* 🔥 */
	KT_EQ_INT(kc_utf8_truncate(out, sizeof(out), "\xf0\x9f\x94\xa5x", 4), 4);
	KT_EQ_INT(kc_utf8_truncate(out, 4, "abcdef", 100), 3); /* the buffer bounds it too */
	KT_EQ_STR(out, "abc");
	KT_EQ_INT(kc_utf8_truncate(out, sizeof(out), NULL, 5), 0);
}

KT_TEST(first_occurrence_creates_with_all_fields)
{
	kc_evcorr *c = corr(0);
	KT_CHECK(c != NULL);
	kc_evwrite w[2];
	size_t n = 0;
	kc_objref rs = { "apps/v1", "ReplicaSet", "ns1", "rs-a", NULL };
	KT_EQ_INT(kc_evcorr_observe(c, &POD, &rs, KC_EVENT_WARNING, "Evicting", "Evict",
	                            "evicting pod-a from failed node", 0, WALL0 + 42, w, &n),
	          KC_OK);
	KT_EQ_INT(n, 1);
	KT_EQ_INT(w[0].kind, KC_EVWRITE_CREATE);
	KT_EQ_STR(w[0].ns, "ns1");
	KT_CHECK(strncmp(w[0].name, "pod-a.", 6) == 0);
	KT_CHECK(w[0].patch_body == NULL);
	cJSON *ev = cJSON_Parse(w[0].create_body);
	KT_EQ_STR(jstr(ev, "apiVersion", NULL), "events.k8s.io/v1");
	KT_EQ_STR(jstr(ev, "kind", NULL), "Event");
	KT_EQ_STR(jstr(ev, "metadata", "name"), w[0].name);
	KT_EQ_STR(jstr(ev, "metadata", "namespace"), "ns1");
	KT_EQ_STR(jstr(ev, "eventTime", NULL), "2024-02-29T23:59:58.000042Z");
	KT_EQ_STR(jstr(ev, "reportingController", NULL), "firebreak.dev/firebreak");
	KT_EQ_STR(jstr(ev, "reportingInstance", NULL), "firebreak.dev/firebreak-host1");
	KT_EQ_STR(jstr(ev, "type", NULL), "Warning");
	KT_EQ_STR(jstr(ev, "reason", NULL), "Evicting");
	KT_EQ_STR(jstr(ev, "action", NULL), "Evict");
	KT_EQ_STR(jstr(ev, "note", NULL), "evicting pod-a from failed node");
	KT_EQ_STR(jstr(ev, "regarding", "apiVersion"), "v1");
	KT_EQ_STR(jstr(ev, "regarding", "kind"), "Pod");
	KT_EQ_STR(jstr(ev, "regarding", "namespace"), "ns1");
	KT_EQ_STR(jstr(ev, "regarding", "name"), "pod-a");
	KT_EQ_STR(jstr(ev, "regarding", "uid"), "uid-1");
	KT_EQ_STR(jstr(ev, "related", "kind"), "ReplicaSet");
	KT_CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(ev, "related"), "uid") == NULL);
	KT_CHECK(cJSON_GetObjectItem(ev, "series") == NULL);
	cJSON_Delete(ev);
	release_all(w, n);
	kc_evcorr_free(c);
}

KT_TEST(series_second_patches_third_folds_idle_finishes)
{
	kc_evcorr *c = corr(0);
	kc_evwrite w[2];
	size_t n = 0;
	KT_EQ_INT(kc_evcorr_observe(c, &POD, NULL, KC_EVENT_NORMAL, "R", "A", "same", 0, WALL0,
	                            w, &n), KC_OK);
	char name[300];
	snprintf(name, sizeof(name), "%s", w[0].name);
	release_all(w, n);

	/* Second: PATCH series count 2 on the same Event. */
	KT_EQ_INT(kc_evcorr_observe(c, &POD, NULL, KC_EVENT_NORMAL, "R", "A", "same", 1000,
	                            WALL0 + 1000000, w, &n), KC_OK);
	KT_EQ_INT(n, 1);
	KT_EQ_INT(w[0].kind, KC_EVWRITE_PATCH);
	KT_EQ_STR(w[0].name, name);
	KT_EQ_STR(w[0].patch_body,
	          "{\"series\":{\"count\":2,\"lastObservedTime\":\"2024-02-29T23:59:59.000000Z\"}}");
	cJSON *full = cJSON_Parse(w[0].create_body); /* for a PATCH answered 404 */
	KT_EQ_INT(jnum(full, "series", "count"), 2);
	KT_EQ_STR(jstr(full, "eventTime", NULL), "2024-02-29T23:59:58.000000Z");
	KT_EQ_STR(jstr(full, "metadata", "name"), name);
	cJSON_Delete(full);
	release_all(w, n);

	/* Third and fourth: folded, nothing to write. */
	KT_EQ_INT(kc_evcorr_observe(c, &POD, NULL, KC_EVENT_NORMAL, "R", "A", "same", 2000,
	                            WALL0 + 2000000, w, &n), KC_OK);
	KT_EQ_INT(n, 0);
	KT_EQ_INT(kc_evcorr_observe(c, &POD, NULL, KC_EVENT_NORMAL, "R", "A", "same", 3000,
	                            WALL0 + 3000000, w, &n), KC_OK);
	KT_EQ_INT(n, 0);
	KT_EQ_INT(kc_evcorr_size(c), 1);

	/* Not idle yet: nothing. */
	kc_evwrite t[8];
	KT_EQ_INT(kc_evcorr_tick(c, 3000 + 6 * MIN - 1, false, t, 8), 0);
	/* Idle 6 min: the final count (4) goes out and the key is forgotten. */
	KT_EQ_INT(kc_evcorr_tick(c, 3000 + 6 * MIN, false, t, 8), 1);
	KT_EQ_INT(t[0].kind, KC_EVWRITE_PATCH);
	KT_EQ_STR(t[0].name, name);
	KT_EQ_STR(t[0].patch_body,
	          "{\"series\":{\"count\":4,\"lastObservedTime\":\"2024-03-01T00:00:01.000000Z\"}}");
	release_all(t, 1);
	KT_EQ_INT(kc_evcorr_size(c), 0);

	/* The next occurrence is a new Event. */
	KT_EQ_INT(kc_evcorr_observe(c, &POD, NULL, KC_EVENT_NORMAL, "R", "A", "same",
	                            3000 + 7 * MIN, WALL0 + 500000000, w, &n), KC_OK);
	KT_EQ_INT(n, 1);
	KT_EQ_INT(w[0].kind, KC_EVWRITE_CREATE);
	KT_CHECK(strcmp(w[0].name, name) != 0);
	release_all(w, n);
	kc_evcorr_free(c);
}

KT_TEST(idle_key_observed_without_tick_starts_a_new_event)
{
	kc_evcorr *c = corr(0);
	kc_evwrite w[2];
	size_t n = 0;
	for (int i = 0; i < 3; i++) {
		kc_evcorr_observe(c, &NODE, NULL, KC_EVENT_WARNING, "R", "A", "x", i * 1000,
		                  WALL0 + i, w, &n);
		release_all(w, n);
	}
	/* count 3, last write carried 2: the final PATCH, then a fresh CREATE */
	KT_EQ_INT(kc_evcorr_observe(c, &NODE, NULL, KC_EVENT_WARNING, "R", "A", "x",
	                            2000 + 6 * MIN, WALL0 + 10, w, &n), KC_OK);
	KT_EQ_INT(n, 2);
	KT_EQ_INT(w[0].kind, KC_EVWRITE_PATCH);
	KT_CHECK(strstr(w[0].patch_body, "\"count\":3") != NULL);
	KT_EQ_INT(w[1].kind, KC_EVWRITE_CREATE);
	KT_CHECK(strcmp(w[0].name, w[1].name) != 0);
	release_all(w, n);

	/* A singleton that went idle is simply forgotten: no write. */
	kc_evwrite t[4];
	KT_EQ_INT(kc_evcorr_tick(c, 2000 + 12 * MIN, false, t, 4), 0);
	KT_EQ_INT(kc_evcorr_size(c), 0);
	kc_evcorr_free(c);
}

KT_TEST(different_reason_note_type_or_object_is_a_new_event)
{
	kc_evcorr *c = corr(0);
	kc_evwrite w[2];
	size_t n = 0;
	kc_objref pod_b = POD;
	pod_b.name = "pod-b";
	struct {
		const kc_objref *ref;
		kc_event_type type;
		const char *reason, *note;
	} cases[] = {
		{ &POD, KC_EVENT_NORMAL, "R1", "n" },
		{ &POD, KC_EVENT_NORMAL, "R2", "n" },   /* reason */
		{ &POD, KC_EVENT_WARNING, "R1", "n" },  /* type */
		{ &POD, KC_EVENT_NORMAL, "R1", "n2" },  /* note */
		{ &pod_b, KC_EVENT_NORMAL, "R1", "n" }, /* object */
	};
	for (size_t i = 0; i < 5; i++) {
		KT_EQ_INT(kc_evcorr_observe(c, cases[i].ref, NULL, cases[i].type, cases[i].reason,
		                            "A", cases[i].note, 10, WALL0, w, &n), KC_OK);
		KT_EQ_INT(n, 1);
		KT_EQ_INT(w[0].kind, KC_EVWRITE_CREATE);
		release_all(w, n);
	}
	KT_EQ_INT(kc_evcorr_size(c), 5);
	/* A different action, too; and a related object or not. */
	kc_evcorr_observe(c, &POD, NULL, KC_EVENT_NORMAL, "R1", "B", "n", 10, WALL0, w, &n);
	KT_EQ_INT(w[0].kind, KC_EVWRITE_CREATE);
	release_all(w, n);
	kc_evcorr_observe(c, &POD, &NODE, KC_EVENT_NORMAL, "R1", "A", "n", 10, WALL0, w, &n);
	KT_EQ_INT(w[0].kind, KC_EVWRITE_CREATE);
	release_all(w, n);
	/* ...but the very first one again is its series. */
	kc_evcorr_observe(c, &POD, NULL, KC_EVENT_NORMAL, "R1", "A", "n", 10, WALL0, w, &n);
	KT_EQ_INT(w[0].kind, KC_EVWRITE_PATCH);
	release_all(w, n);
	kc_evcorr_free(c);
}

KT_TEST(series_refreshed_every_30_minutes)
{
	kc_evcorr *c = corr(0);
	kc_evwrite w[2], t[4];
	size_t n = 0, patches = 0, refreshes = 0;
	/* One occurrence every 5 min for 70 min: never idle 6 min. */
	for (int64_t m = 0; m <= 70; m++) {
		int64_t now = m * MIN;
		if (m % 5 == 0) {
			kc_evcorr_observe(c, &POD, NULL, KC_EVENT_NORMAL, "R", "A", "n", now,
			                  WALL0 + now * 1000, w, &n);
			for (size_t i = 0; i < n; i++)
				patches += w[i].kind == KC_EVWRITE_PATCH;
			release_all(w, n);
		}
		size_t k = kc_evcorr_tick(c, now, false, t, 4);
		for (size_t i = 0; i < k; i++) {
			KT_EQ_INT(t[i].kind, KC_EVWRITE_PATCH);
			if (m == 35)
				KT_CHECK(strstr(t[i].patch_body, "\"count\":8") != NULL);
		}
		refreshes += k;
		release_all(t, k);
	}
	KT_EQ_INT(patches, 1);   /* the second occurrence at 5 min */
	KT_EQ_INT(refreshes, 2); /* at 35 and 65 min */
	kc_evcorr_free(c);
}

KT_TEST(limits_truncate_on_utf8_boundaries)
{
	kc_evcorr *c = corr(0);
	kc_evwrite w[2];
	size_t n = 0;
	char reason[300], action[300], note[3000];
	memset(reason, 'r', 200);
	reason[200] = '\0';
	memset(action, 'a', 129);
	action[129] = '\0';
	for (int i = 0; i < 1400; i++) {
		note[2 * i] = (char)0xc3; /* é */
		note[2 * i + 1] = (char)0xa9;
	}
	note[2800] = '\0';
	note[1] = 'x'; /* shift by one so 1024 falls inside a character: "?x" + é... */
	note[0] = 'y';
	KT_EQ_INT(kc_evcorr_observe(c, &POD, NULL, KC_EVENT_NORMAL, reason, action, note, 0,
	                            WALL0, w, &n), KC_OK);
	cJSON *ev = cJSON_Parse(w[0].create_body);
	KT_EQ_INT(strlen(jstr(ev, "reason", NULL)), 128);
	KT_EQ_INT(strlen(jstr(ev, "action", NULL)), 128);
	const char *nt = jstr(ev, "note", NULL);
	KT_EQ_INT(strlen(nt), 1024); /* "yx" + 511 x é = 1024 exactly */
	cJSON_Delete(ev);
	release_all(w, n);
	note[0] = 'z'; /* now 1024 would cut an é: 1023 */
	note[1] = (char)0xc3;
	note[2] = (char)0xa9;
	for (int i = 3; i < 2800; i += 2) {
		note[i] = (char)0xc3;
		note[i + 1] = (char)0xa9;
	}
	note[2801] = '\0';
	KT_EQ_INT(kc_evcorr_observe(c, &NODE, NULL, KC_EVENT_NORMAL, "R", "A", note, 0, WALL0,
	                            w, &n), KC_OK);
	ev = cJSON_Parse(w[0].create_body);
	nt = jstr(ev, "note", NULL);
	KT_EQ_INT(strlen(nt), 1023);
	KT_CHECK(((unsigned char)nt[1022] & 0xC0) == 0x80); /* ends on a whole é */
	cJSON_Delete(ev);
	release_all(w, n);

	KT_EQ_INT(kc_evcorr_observe(c, &POD, NULL, KC_EVENT_NORMAL, "", "A", "n", 0, WALL0, w,
	                            &n), KC_ERR_INVALID);
	KT_EQ_INT(n, 0);
	KT_EQ_INT(kc_evcorr_observe(c, &POD, NULL, KC_EVENT_NORMAL, "R", NULL, "n", 0, WALL0, w,
	                            &n), KC_ERR_INVALID);
	kc_objref noname = { "v1", "Pod", "ns1", NULL, NULL };
	KT_EQ_INT(kc_evcorr_observe(c, &noname, NULL, KC_EVENT_NORMAL, "R", "A", "n", 0, WALL0,
	                            w, &n), KC_ERR_INVALID);
	kc_evcorr_free(c);

	kc_evcorr *bad = NULL;
	kc_evcorr_options o = { .reporting_controller = "not a name!", .reporting_instance = "i" };
	KT_EQ_INT(kc_evcorr_new(&o, &bad), KC_ERR_INVALID);
	o.reporting_controller = "firebreak";
	o.reporting_instance = "";
	KT_EQ_INT(kc_evcorr_new(&o, &bad), KC_ERR_INVALID);
	KT_CHECK(bad == NULL);
	/* reportingInstance is cut to 128 bytes */
	char inst[200];
	memset(inst, 'i', 199);
	inst[199] = '\0';
	o.reporting_instance = inst;
	KT_EQ_INT(kc_evcorr_new(&o, &bad), KC_OK);
	kc_evcorr_observe(bad, &POD, NULL, KC_EVENT_NORMAL, "R", "A", "n", 0, WALL0, w, &n);
	ev = cJSON_Parse(w[0].create_body);
	KT_EQ_INT(strlen(jstr(ev, "reportingInstance", NULL)), 128);
	cJSON_Delete(ev);
	release_all(w, n);
	kc_evcorr_free(bad);
}

KT_TEST(names_and_namespaces)
{
	kc_evcorr *c = corr(0);
	kc_evwrite w[2];
	size_t n = 0;
	/* Cluster-scoped: namespace "default" (makeEvent). */
	kc_evcorr_observe(c, &NODE, NULL, KC_EVENT_NORMAL, "R", "A", "n", 0, WALL0, w, &n);
	KT_EQ_STR(w[0].ns, "default");
	KT_CHECK(strncmp(w[0].name, "node-1.", 7) == 0);
	cJSON *ev = cJSON_Parse(w[0].create_body);
	KT_CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(ev, "regarding"), "namespace") == NULL);
	cJSON_Delete(ev);
	/* GenerateEventName: name.<hex of UnixNano>. */
	char expect[64];
	snprintf(expect, sizeof(expect), "node-1.%llx", (unsigned long long)(WALL0 * 1000));
	KT_EQ_STR(w[0].name, expect);
	char first[300];
	snprintf(first, sizeof(first), "%s", w[0].name);
	release_all(w, n);
	/* Same instant, another key: still a unique name. */
	kc_evcorr_observe(c, &NODE, NULL, KC_EVENT_NORMAL, "R2", "A", "n", 0, WALL0, w, &n);
	KT_CHECK(strcmp(w[0].name, first) != 0);
	release_all(w, n);
	/* Not a DNS subdomain: a random hex name. */
	kc_objref odd = { "rbac.authorization.k8s.io/v1", "ClusterRole", NULL, "system:node", NULL };
	kc_evcorr_observe(c, &odd, NULL, KC_EVENT_NORMAL, "R", "A", "n", 0, WALL0, w, &n);
	KT_EQ_INT(strlen(w[0].name), 32);
	KT_EQ_INT(strspn(w[0].name, "0123456789abcdef"), 32);
	release_all(w, n);
	char longname[260];
	memset(longname, 'a', 250);
	longname[250] = '\0';
	kc_objref lng = { "v1", "ConfigMap", "ns1", longname, NULL };
	kc_evcorr_observe(c, &lng, NULL, KC_EVENT_NORMAL, "R", "A", "n", 0, WALL0, w, &n);
	KT_EQ_INT(strlen(w[0].name), 32);
	KT_EQ_STR(w[0].ns, "ns1");
	release_all(w, n);
	kc_evcorr_free(c);
}

KT_TEST(cache_is_bounded_and_evicts_least_recent)
{
	kc_evcorr *c = corr(2);
	kc_evwrite w[2];
	size_t n = 0;
	/* key A with a series of 3 (one unsent), then B, then C evicts A. */
	for (int i = 0; i < 3; i++) {
		kc_evcorr_observe(c, &POD, NULL, KC_EVENT_NORMAL, "A", "A", "n", i, WALL0, w, &n);
		release_all(w, n);
	}
	kc_evcorr_observe(c, &POD, NULL, KC_EVENT_NORMAL, "B", "A", "n", 10, WALL0, w, &n);
	release_all(w, n);
	KT_EQ_INT(kc_evcorr_observe(c, &POD, NULL, KC_EVENT_NORMAL, "C", "A", "n", 20, WALL0, w,
	                            &n), KC_OK);
	KT_EQ_INT(n, 2);
	KT_EQ_INT(w[0].kind, KC_EVWRITE_PATCH); /* A's final count */
	KT_CHECK(strstr(w[0].patch_body, "\"count\":3") != NULL);
	KT_EQ_INT(w[1].kind, KC_EVWRITE_CREATE);
	release_all(w, n);
	KT_EQ_INT(kc_evcorr_size(c), 2);
	/* Shutdown finishes every key. */
	kc_evwrite t[4];
	KT_EQ_INT(kc_evcorr_tick(c, 30, true, t, 4), 0); /* B, C: no series */
	KT_EQ_INT(kc_evcorr_size(c), 0);
	kc_evcorr_free(c);
}

/* Every allocation that fails while a new key is recorded leaves the cache as
 * it was: NOMEM, no write handed out, nothing leaked (ASan/valgrind), and the
 * same observation succeeds once memory is back. Checked for each failure point. */
KT_TEST(allocation_failure_records_nothing_and_hands_out_nothing)
{
	bool failed_somewhere = false;
	for (long k = 0; k < 200; k++) {
		kc_evcorr *c = corr(0);
		kc_evwrite w[2];
		size_t n = 9;
		/* fill a few keys first so the map has grown once or twice */
		char reason[16];
		for (int i = 0; i < 20; i++) {
			snprintf(reason, sizeof(reason), "R%d", i);
			kc_evcorr_observe(c, &POD, NULL, KC_EVENT_NORMAL, reason, "A", "n", i, WALL0,
			                  w, &n);
			release_all(w, n);
		}
		kc_alloc_fail_after(k);
		kc_err err = kc_evcorr_observe(c, &NODE, NULL, KC_EVENT_WARNING, "New", "A", "n",
		                               100, WALL0, w, &n);
		bool triggered = kc_alloc_fail_triggered();
		kc_alloc_fail_reset();
		if (err != KC_OK) {
			failed_somewhere = true;
			KT_EQ_INT(err, KC_ERR_NOMEM);
			KT_EQ_INT(n, 0);
			KT_EQ_INT(kc_evcorr_size(c), 20);
		} else {
			KT_EQ_INT(n, 1);
			KT_EQ_INT(kc_evcorr_size(c), 21);
		}
		release_all(w, n);
		KT_EQ_INT(kc_evcorr_observe(c, &NODE, NULL, KC_EVENT_WARNING, "New", "A", "n", 101,
		                            WALL0, w, &n), KC_OK);
		KT_EQ_INT(n, 1); /* a create after a failure, the series PATCH after a success */
		KT_EQ_INT(w[0].kind, err != KC_OK ? KC_EVWRITE_CREATE : KC_EVWRITE_PATCH);
		release_all(w, n);
		kc_evcorr_free(c);
		if (!triggered)
			break;
	}
	KT_CHECK(failed_somewhere);
}

/* ---- Against the test server ------------------------------------------------ */

#define EV_PATH "/apis/events.k8s.io/v1/namespaces/"
#define MAX_REQS 256

typedef struct rec_req {
	char method[16];
	char *path;
	char ctype[128];
	char *body;
} rec_req;

typedef struct evsrv {
	pthread_mutex_t lock;
	rec_req reqs[MAX_REQS];
	int nreqs;
	int fail_first;       /* answer the first N requests 500 */
	int status_all;       /* when set, answer everything with it */
	int delay_ms;         /* hold each request this long */
	bool patch_404;       /* PATCH answered 404 */
} evsrv;

static void ev_handler(void *ud, const kt_request *req, kt_conn *c)
{
	evsrv *s = ud;
	pthread_mutex_lock(&s->lock);
	int idx = s->nreqs < MAX_REQS ? s->nreqs++ : -1;
	if (idx >= 0) {
		rec_req *r = &s->reqs[idx];
		snprintf(r->method, sizeof(r->method), "%s", req->method);
		r->path = strdup(req->path);
		kt_header(req, "Content-Type", r->ctype, sizeof(r->ctype));
		r->body = strdup(req->body);
	}
	int delay = s->delay_ms;
	int code = s->status_all ? s->status_all : (idx >= 0 && idx < s->fail_first) ? 500 : 0;
	bool p404 = s->patch_404 && strcmp(req->method, "PATCH") == 0;
	pthread_mutex_unlock(&s->lock);
	if (delay)
		kt_conn_sleep_ms(c, delay);
	if (code) {
		char body[200];
		snprintf(body, sizeof(body), "{\"kind\":\"Status\",\"status\":\"Failure\",\"code\":%d}",
		         code);
		kt_respond(c, code, NULL, body);
	} else if (p404) {
		kt_respond(c, 404, NULL, "{\"kind\":\"Status\",\"reason\":\"NotFound\",\"code\":404}");
	} else {
		kt_respond(c, strcmp(req->method, "POST") == 0 ? 201 : 200, NULL,
		           req->body[0] ? req->body : "{}");
	}
}

typedef struct evenv {
	evsrv s;
	kt_server *srv;
	kc_client *client;
} evenv;

static bool evenv_start(evenv *e)
{
	memset(e, 0, sizeof(*e));
	pthread_mutex_init(&e->s.lock, NULL);
	kt_server_opts o = { .handler = ev_handler, .ud = &e->s };
	if (kt_server_start(&o, &e->srv) != 0)
		return false;
	kc_config *cfg = kt_server_config(e->srv, NULL);
	kc_client_options co = { .rate_limit_off = true };
	kc_error_detail d;
	kc_err err = kc_client_new(cfg, &co, &e->client, &d);
	kc_config_free(cfg);
	return err == KC_OK;
}

static void evenv_stop(evenv *e)
{
	kc_client_free(e->client);
	kt_server_stop(e->srv);
	for (int i = 0; i < e->s.nreqs && i < MAX_REQS; i++) {
		free(e->s.reqs[i].path);
		free(e->s.reqs[i].body);
	}
	pthread_mutex_destroy(&e->s.lock);
}

static int nreqs(evenv *e)
{
	pthread_mutex_lock(&e->s.lock);
	int n = e->s.nreqs;
	pthread_mutex_unlock(&e->s.lock);
	return n;
}

static kc_recorder *recorder(evenv *e, kc_recorder_options o)
{
	if (!o.reporting_controller)
		o.reporting_controller = "firebreak.dev/firebreak";
	kc_recorder *r = NULL;
	kc_error_detail d;
	if (kc_recorder_new(e->client, &o, &r, &d) != KC_OK)
		return NULL;
	return r;
}

KT_TEST(post_body_has_every_field)
{
	evenv e;
	KT_CHECK(evenv_start(&e));
	kc_recorder *r = recorder(&e, (kc_recorder_options){ .reporting_instance = NULL });
	KT_CHECK(r != NULL);
	char host[256] = "", inst[300];
	gethostname(host, sizeof(host) - 1);
	snprintf(inst, sizeof(inst), "firebreak.dev/firebreak-%s", host);
	inst[128] = '\0';
	KT_EQ_STR(kc_recorder_instance(r), inst);
	KT_EQ_INT(kc_recorder_eventf(r, &POD, NULL, KC_EVENT_WARNING, "Quarantined", "Pin",
	                             "workload %s/%s arrived on %d failed nodes", "ns1", "web", 2),
	          KC_OK);
	KT_EQ_INT(kc_recorder_flush(r, 5000), KC_OK);
	KT_EQ_INT(nreqs(&e), 1);
	rec_req *q = &e.s.reqs[0];
	KT_EQ_STR(q->method, "POST");
	KT_EQ_STR(q->path, EV_PATH "ns1/events");
	KT_CHECK(strncmp(q->ctype, "application/json", 16) == 0);
	cJSON *ev = cJSON_Parse(q->body);
	KT_EQ_STR(jstr(ev, "reportingController", NULL), "firebreak.dev/firebreak");
	KT_EQ_STR(jstr(ev, "reportingInstance", NULL), inst);
	KT_CHECK(is_microtime(jstr(ev, "eventTime", NULL)));
	KT_EQ_STR(jstr(ev, "regarding", "name"), "pod-a");
	KT_EQ_STR(jstr(ev, "regarding", "uid"), "uid-1");
	KT_EQ_STR(jstr(ev, "type", NULL), "Warning");
	KT_EQ_STR(jstr(ev, "reason", NULL), "Quarantined");
	KT_EQ_STR(jstr(ev, "action", NULL), "Pin");
	KT_EQ_STR(jstr(ev, "note", NULL), "workload ns1/web arrived on 2 failed nodes");
	KT_EQ_STR(jstr(ev, "metadata", "namespace"), "ns1");
	cJSON_Delete(ev);
	kc_recorder_stats st;
	kc_recorder_get_stats(r, &st);
	KT_EQ_INT(st.written, 1);
	KT_EQ_INT(st.failed, 0);
	kc_recorder_free(r);
	evenv_stop(&e);
}

KT_TEST(repeat_sends_series_patch_and_final_count_at_stop)
{
	evenv e;
	KT_CHECK(evenv_start(&e));
	kc_recorder *r = recorder(&e, (kc_recorder_options){ .reporting_instance = "inst" });
	for (int i = 0; i < 4; i++)
		KT_EQ_INT(kc_recorder_eventf(r, &NODE, NULL, KC_EVENT_NORMAL, "NodeFailed", "Observe",
		                             "node %s is NotReady", "node-1"), KC_OK);
	KT_EQ_INT(kc_recorder_flush(r, 5000), KC_OK);
	KT_EQ_INT(nreqs(&e), 2); /* POST, PATCH(2); the 3rd and 4th are folded */
	KT_EQ_STR(e.s.reqs[0].method, "POST");
	KT_EQ_STR(e.s.reqs[0].path, EV_PATH "default/events");
	cJSON *ev = cJSON_Parse(e.s.reqs[0].body);
	char path[KT_MAX_TARGET];
	snprintf(path, sizeof(path), EV_PATH "default/events/%s", jstr(ev, "metadata", "name"));
	cJSON_Delete(ev);
	KT_EQ_STR(e.s.reqs[1].method, "PATCH");
	KT_EQ_STR(e.s.reqs[1].path, path);
	KT_EQ_STR(e.s.reqs[1].ctype, "application/strategic-merge-patch+json");
	cJSON *p = cJSON_Parse(e.s.reqs[1].body);
	KT_EQ_INT(jnum(p, "series", "count"), 2);
	KT_CHECK(is_microtime(jstr(p, "series", "lastObservedTime")));
	cJSON_Delete(p);
	kc_recorder_stats st;
	kc_recorder_get_stats(r, &st);
	KT_EQ_INT(st.accepted, 4);
	KT_EQ_INT(st.folded, 2);
	/* Stop: the series' final count (4) is written before the worker ends. */
	kc_recorder_stop(r, 5000);
	KT_EQ_INT(nreqs(&e), 3);
	KT_EQ_STR(e.s.reqs[2].method, "PATCH");
	p = cJSON_Parse(e.s.reqs[2].body);
	KT_EQ_INT(jnum(p, "series", "count"), 4);
	cJSON_Delete(p);
	KT_EQ_INT(kc_recorder_event(r, &NODE, NULL, KC_EVENT_NORMAL, "R", "A", "n"),
	          KC_ERR_CANCELED);
	kc_recorder_free(r);
	evenv_stop(&e);
}

KT_TEST(patch_404_creates_the_event_with_its_series)
{
	evenv e;
	KT_CHECK(evenv_start(&e));
	e.s.patch_404 = true;
	kc_recorder *r = recorder(&e, (kc_recorder_options){ .reporting_instance = "inst" });
	kc_recorder_event(r, &POD, NULL, KC_EVENT_NORMAL, "R", "A", "n");
	kc_recorder_event(r, &POD, NULL, KC_EVENT_NORMAL, "R", "A", "n");
	KT_EQ_INT(kc_recorder_flush(r, 5000), KC_OK);
	KT_EQ_INT(nreqs(&e), 3);
	KT_EQ_STR(e.s.reqs[1].method, "PATCH");
	KT_EQ_STR(e.s.reqs[2].method, "POST");
	cJSON *ev = cJSON_Parse(e.s.reqs[2].body);
	KT_EQ_INT(jnum(ev, "series", "count"), 2);
	KT_EQ_STR(jstr(ev, "reason", NULL), "R");
	cJSON_Delete(ev);
	kc_recorder_free(r);
	evenv_stop(&e);
}

KT_TEST(server_error_is_retried_then_succeeds)
{
	evenv e;
	KT_CHECK(evenv_start(&e));
	e.s.fail_first = 2;
	kc_recorder *r = recorder(&e, (kc_recorder_options){ .reporting_instance = "inst",
	                                                     .retry_interval_ms = 20 });
	int64_t t0 = kc_now_mono_ms();
	KT_EQ_INT(kc_recorder_event(r, &POD, NULL, KC_EVENT_NORMAL, "R", "A", "n"), KC_OK);
	KT_EQ_INT(kc_recorder_flush(r, 5000), KC_OK);
	int64_t took = kc_now_mono_ms() - t0;
	KT_EQ_INT(nreqs(&e), 3);
	KT_CHECK(took >= 40);   /* two sleeps of 20..25 ms */
	KT_CHECK(took < 2000);
	KT_CHECK(strcmp(e.s.reqs[0].body, e.s.reqs[2].body) == 0); /* the same Event */
	kc_recorder_stats st;
	kc_recorder_get_stats(r, &st);
	KT_EQ_INT(st.written, 1);
	KT_EQ_INT(st.retries, 2);
	KT_EQ_INT(st.failed, 0);
	kc_recorder_free(r);
	evenv_stop(&e);
}

KT_TEST(client_errors_are_not_retried_and_tries_are_capped)
{
	evenv e;
	KT_CHECK(evenv_start(&e));
	e.s.status_all = 422;
	kc_recorder *r = recorder(&e, (kc_recorder_options){ .reporting_instance = "inst",
	                                                     .retry_interval_ms = 5 });
	kc_recorder_event(r, &POD, NULL, KC_EVENT_NORMAL, "R", "A", "n");
	KT_EQ_INT(kc_recorder_flush(r, 5000), KC_OK);
	KT_EQ_INT(nreqs(&e), 1);
	kc_recorder_stats st;
	kc_recorder_get_stats(r, &st);
	KT_EQ_INT(st.failed, 1);
	KT_EQ_INT(st.retries, 0);

	/* 429 is retried, and after 12 tries in all the event is given up. */
	pthread_mutex_lock(&e.s.lock);
	e.s.status_all = 429;
	pthread_mutex_unlock(&e.s.lock);
	kc_recorder_event(r, &NODE, NULL, KC_EVENT_NORMAL, "R", "A", "n");
	KT_EQ_INT(kc_recorder_flush(r, 5000), KC_OK);
	KT_EQ_INT(nreqs(&e), 1 + 12);
	kc_recorder_get_stats(r, &st);
	KT_EQ_INT(st.failed, 2);
	KT_EQ_INT(st.retries, 11);
	kc_recorder_free(r);
	evenv_stop(&e);
}

KT_TEST(full_queue_drops_without_blocking_and_stop_is_bounded)
{
	evenv e;
	KT_CHECK(evenv_start(&e));
	e.s.delay_ms = 300; /* a slow server */
	kc_recorder *r = recorder(&e, (kc_recorder_options){ .reporting_instance = "inst",
	                                                     .queue_max = 5 });
	int64_t t0 = kc_now_mono_ms();
	int too_many = 0;
	for (int i = 0; i < 50; i++) {
		kc_objref p = POD;
		char name[32];
		snprintf(name, sizeof(name), "pod-%d", i);
		p.name = name;
		too_many += kc_recorder_event(r, &p, NULL, KC_EVENT_NORMAL, "R", "A", "n") ==
		            KC_ERR_TOO_MANY;
	}
	int64_t took = kc_now_mono_ms() - t0;
	KT_CHECK(took < 250); /* no waiting on the server */
	kc_recorder_stats st;
	kc_recorder_get_stats(r, &st);
	KT_CHECK(st.dropped >= 44); /* 5 queued + at most 1 in flight */
	KT_EQ_INT(st.dropped, too_many);
	KT_CHECK(st.queued <= 5);
	KT_EQ_INT(kc_recorder_flush(r, 50), KC_ERR_TIMEOUT);
	t0 = kc_now_mono_ms();
	kc_recorder_stop(r, 400);
	took = kc_now_mono_ms() - t0;
	KT_CHECK(took < 1500);
	kc_recorder_get_stats(r, &st);
	KT_EQ_INT(st.written + st.abandoned + st.failed + st.dropped, 50);
	KT_CHECK(st.abandoned >= 1);
	KT_EQ_INT(st.queued, 0);
	kc_recorder_free(r);
	evenv_stop(&e);
}

KT_TEST(stop_abandons_a_write_stuck_in_retries)
{
	evenv e;
	KT_CHECK(evenv_start(&e));
	e.s.status_all = 500;
	/* The default 10 s retry interval: only the stop can end this. */
	kc_recorder *r = recorder(&e, (kc_recorder_options){ .reporting_instance = "inst" });
	kc_recorder_event(r, &POD, NULL, KC_EVENT_NORMAL, "R", "A", "n");
	while (nreqs(&e) < 1)
		kc_cancel_sleep(NULL, 5);
	int64_t t0 = kc_now_mono_ms();
	kc_recorder_stop(r, 200);
	int64_t took = kc_now_mono_ms() - t0;
	KT_CHECK(took >= 190);
	KT_CHECK(took < 1200);
	kc_recorder_stats st;
	kc_recorder_get_stats(r, &st);
	KT_EQ_INT(st.abandoned, 1);
	KT_EQ_INT(st.written, 0);
	kc_recorder_free(r);
	evenv_stop(&e);
}

KT_TEST(worker_refreshes_and_finishes_series_on_its_own)
{
	evenv e;
	KT_CHECK(evenv_start(&e));
	/* Scaled-down windows: finish after 300 ms idle, ticks every 20 ms. */
	kc_recorder *r = recorder(&e, (kc_recorder_options){ .reporting_instance = "inst",
	                                                     .finish_ms = 300, .tick_ms = 20 });
	for (int i = 0; i < 3; i++)
		kc_recorder_event(r, &POD, NULL, KC_EVENT_NORMAL, "R", "A", "n");
	KT_EQ_INT(kc_recorder_flush(r, 5000), KC_OK);
	KT_EQ_INT(nreqs(&e), 2);
	int64_t t0 = kc_now_mono_ms();
	while (nreqs(&e) < 3 && kc_now_mono_ms() - t0 < 3000)
		kc_cancel_sleep(NULL, 10);
	KT_EQ_INT(nreqs(&e), 3);
	cJSON *p = cJSON_Parse(e.s.reqs[2].body);
	KT_EQ_INT(jnum(p, "series", "count"), 3);
	cJSON_Delete(p);
	/* Forgotten: the same event again is a new POST. */
	kc_recorder_event(r, &POD, NULL, KC_EVENT_NORMAL, "R", "A", "n");
	KT_EQ_INT(kc_recorder_flush(r, 5000), KC_OK);
	KT_EQ_INT(nreqs(&e), 4);
	KT_EQ_STR(e.s.reqs[3].method, "POST");
	kc_recorder_free(r);
	evenv_stop(&e);
}

int main(void)
{
	kc_global_init();
	KT_RUN(utf8_truncation_never_splits_a_character);
	KT_RUN(first_occurrence_creates_with_all_fields);
	KT_RUN(series_second_patches_third_folds_idle_finishes);
	KT_RUN(idle_key_observed_without_tick_starts_a_new_event);
	KT_RUN(different_reason_note_type_or_object_is_a_new_event);
	KT_RUN(series_refreshed_every_30_minutes);
	KT_RUN(limits_truncate_on_utf8_boundaries);
	KT_RUN(names_and_namespaces);
	KT_RUN(cache_is_bounded_and_evicts_least_recent);
	KT_RUN(allocation_failure_records_nothing_and_hands_out_nothing);
	KT_RUN(post_body_has_every_field);
	KT_RUN(repeat_sends_series_patch_and_final_count_at_stop);
	KT_RUN(patch_404_creates_the_event_with_its_series);
	KT_RUN(server_error_is_retried_then_succeeds);
	KT_RUN(client_errors_are_not_retried_and_tries_are_capped);
	KT_RUN(full_queue_drops_without_blocking_and_stop_is_bounded);
	KT_RUN(stop_abandons_a_write_stuck_in_retries);
	KT_RUN(worker_refreshes_and_finishes_series_on_its_own);
	kc_global_cleanup();
	return KT_DONE();
}
