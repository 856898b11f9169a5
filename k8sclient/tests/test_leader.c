/*
 * Leader election: the pure decision core with a fake clock (client-go
 * leaderelection.go semantics), then two real electors against an in-memory
 * Lease store served by the test server.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "kc/alloc.h"
#include "kc/leader.h"
#include "kc/time.h"
#include "kctest.h"

#define WALL0 (1709251198LL * 1000000) /* 2024-02-29T23:59:58Z */

static kc_leader_timing std_timing(void)
{
	kc_leader_timing t = { 0 };
	kc_leader_timing_validate(&t, NULL);
	return t;
}

static kc_lease_record rec_of(const char *holder, int64_t dur_s, const char *renew, int64_t tr)
{
	kc_lease_record r;
	memset(&r, 0, sizeof(r));
	snprintf(r.holder, sizeof(r.holder), "%s", holder);
	r.lease_duration_s = dur_s;
	snprintf(r.renew_time, sizeof(r.renew_time), "%s", renew);
	snprintf(r.acquire_time, sizeof(r.acquire_time), "%s", "2024-01-01T00:00:00.000000Z");
	r.transitions = tr;
	return r;
}

static bool is_microtime(const char *s)
{
	int64_t us;
	const char *dot = strchr(s, '.');
	return kc_time_parse(s, &us) == KC_OK && dot && strlen(dot) == 8 && dot[7] == 'Z';
}

KT_TEST(timing_defaults_and_validation)
{
	kc_error_detail d;
	kc_leader_timing t = { 0 };
	KT_EQ_INT(kc_leader_timing_validate(&t, &d), KC_OK);
	KT_EQ_INT(t.lease_duration_ms, 15000);
	KT_EQ_INT(t.renew_deadline_ms, 10000);
	KT_EQ_INT(t.retry_period_ms, 2000);

	kc_leader_timing bad1 = { 10000, 10000, 2000 };
	KT_EQ_INT(kc_leader_timing_validate(&bad1, &d), KC_ERR_INVALID);
	KT_CHECK(strstr(d.message, "leaseDuration must be greater than renewDeadline") != NULL);
	kc_leader_timing bad2 = { 15000, 2400, 2000 }; /* 2400 <= 1.2 * 2000 */
	KT_EQ_INT(kc_leader_timing_validate(&bad2, &d), KC_ERR_INVALID);
	KT_CHECK(strstr(d.message, "JitterFactor") != NULL);
	kc_leader_timing ok2 = { 15000, 2401, 2000 };
	KT_EQ_INT(kc_leader_timing_validate(&ok2, &d), KC_OK);
	kc_leader_timing bad3 = { 15000, 10000, -5 };
	KT_EQ_INT(kc_leader_timing_validate(&bad3, &d), KC_ERR_INVALID);
	kc_leader_timing bad4 = { -1, -3, -5 };
	KT_EQ_INT(kc_leader_timing_validate(&bad4, &d), KC_ERR_INVALID);
	kc_leader_timing bad5 = { 900, 500, 100 }; /* the Lease holds whole seconds */
	KT_EQ_INT(kc_leader_timing_validate(&bad5, &d), KC_ERR_INVALID);
	kc_leader_timing test = { 1500, 1000, 200 };
	KT_EQ_INT(kc_leader_timing_validate(&test, &d), KC_OK);

	kc_election e;
	KT_EQ_INT(kc_election_init(&e, "", &t, false), KC_ERR_INVALID);
	char big[KC_LEADER_IDENTITY_MAX + 1];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	KT_EQ_INT(kc_election_init(&e, big, &t, false), KC_ERR_INVALID);
}

KT_TEST(acquire_when_no_lease)
{
	kc_leader_timing t = std_timing();
	kc_election e;
	KT_EQ_INT(kc_election_init(&e, "me", &t, false), KC_OK);
	kc_lease_record rec;
	KT_EQ_INT(kc_election_decide(&e, NULL, 1000, WALL0 + 42, &rec), KC_ELECT_CREATE);
	KT_EQ_STR(rec.holder, "me");
	KT_EQ_INT(rec.lease_duration_s, 15);
	KT_EQ_INT(rec.transitions, 0);
	KT_EQ_STR(rec.renew_time, "2024-02-29T23:59:58.000042Z");
	KT_EQ_STR(rec.acquire_time, "2024-02-29T23:59:58.000042Z");
	KT_CHECK(!kc_election_is_leading(&e, 1000));
	kc_election_written(&e, &rec, 1000, 1010);
	kc_election_events ev;
	kc_election_round_done(&e, true, 1010, &ev);
	KT_CHECK(ev.started);
	KT_CHECK(!ev.stopped);
	KT_CHECK(ev.new_leader);
	KT_EQ_STR(ev.leader, "me");
	KT_CHECK(kc_election_is_leading(&e, 1010));
	KT_EQ_INT(kc_election_valid_until(&e), 1000 + 10000); /* from the send time */

	/* The spec we would send: every field, MicroTime with 6 digits. */
	cJSON *spec = NULL;
	KT_EQ_INT(kc_lease_record_to_spec(&rec, &spec), KC_OK);
	KT_EQ_STR(cJSON_GetObjectItem(spec, "holderIdentity")->valuestring, "me");
	KT_EQ_INT(cJSON_GetObjectItem(spec, "leaseDurationSeconds")->valuedouble, 15);
	KT_EQ_INT(cJSON_GetObjectItem(spec, "leaseTransitions")->valuedouble, 0);
	KT_CHECK(is_microtime(cJSON_GetObjectItem(spec, "renewTime")->valuestring));
	KT_CHECK(is_microtime(cJSON_GetObjectItem(spec, "acquireTime")->valuestring));
	cJSON_Delete(spec);
}

KT_TEST(held_by_other_until_observed_expiry)
{
	kc_leader_timing t = std_timing();
	kc_election e;
	kc_election_init(&e, "me", &t, false);
	kc_lease_record other = rec_of("other", 15, "2024-02-29T23:59:50.000000Z", 3);
	kc_lease_record rec;
	kc_election_events ev;

	KT_EQ_INT(kc_election_decide(&e, &other, 5000, WALL0, &rec), KC_ELECT_HELD);
	kc_election_round_done(&e, false, 5000, &ev);
	KT_CHECK(!ev.started);
	KT_CHECK(ev.new_leader);
	KT_EQ_STR(ev.leader, "other");
	/* Unchanged record: still held until 5000 + 15000 on OUR clock. */
	KT_EQ_INT(kc_election_decide(&e, &other, 19999, WALL0, &rec), KC_ELECT_HELD);
	kc_election_round_done(&e, false, 19999, &ev);
	KT_CHECK(!ev.new_leader); /* reported once */
	KT_EQ_INT(kc_election_decide(&e, &other, 20000, WALL0 + 15000000, &rec), KC_ELECT_UPDATE);
	KT_EQ_STR(rec.holder, "me");
	KT_EQ_INT(rec.transitions, 4); /* holder change */
	KT_EQ_STR(rec.acquire_time, "2024-03-01T00:00:13.000000Z"); /* a new term */
	kc_election_written(&e, &rec, 20000, 20005);
	kc_election_round_done(&e, true, 20005, &ev);
	KT_CHECK(ev.started);
	KT_EQ_STR(ev.leader, "me");
}

KT_TEST(renewing_holder_is_never_taken_over)
{
	kc_leader_timing t = std_timing();
	kc_election e;
	kc_election_init(&e, "me", &t, false);
	kc_lease_record rec;
	char renew[KC_TIME_STR_MAX];
	/* The holder renews every 2 s for a minute: the record keeps changing. */
	for (int64_t now = 0; now <= 60000; now += 2000) {
		kc_microtime_format(WALL0 + now * 1000, renew);
		kc_lease_record other = rec_of("other", 15, renew, 1);
		KT_EQ_INT(kc_election_decide(&e, &other, now, WALL0 + now * 1000, &rec),
		          KC_ELECT_HELD);
	}
}

KT_TEST(clock_skew_expiry_uses_local_observation)
{
	kc_leader_timing t = std_timing();
	kc_election e;
	kc_election_init(&e, "me", &t, false);
	kc_lease_record rec;
	/*
	 * The holder's clock runs a year ahead, so by wall-clock arithmetic its
	 * renewTime looks fresh for a year. It stopped renewing though: the
	 * record never changes, so we take over 15 s after we first saw it.
	 */
	kc_lease_record future = rec_of("skewed", 15, "2025-03-01T00:00:00.000000Z", 7);
	KT_EQ_INT(kc_election_decide(&e, &future, 100, WALL0, &rec), KC_ELECT_HELD);
	KT_EQ_INT(kc_election_decide(&e, &future, 15099, WALL0, &rec), KC_ELECT_HELD);
	KT_EQ_INT(kc_election_decide(&e, &future, 15100, WALL0, &rec), KC_ELECT_UPDATE);
	KT_EQ_INT(rec.transitions, 8);

	/*
	 * The other way round: a holder whose clock is far behind writes renew
	 * times that look long expired, but it IS renewing: never take over.
	 */
	kc_election e2;
	kc_election_init(&e2, "me", &t, false);
	for (int i = 0; i < 20; i++) {
		char renew[KC_TIME_STR_MAX];
		kc_microtime_format(946684800LL * 1000000 + i * 2000000LL, renew); /* year 2000 */
		kc_lease_record past = rec_of("behind", 15, renew, 1);
		KT_EQ_INT(kc_election_decide(&e2, &past, (int64_t)i * 2000, WALL0, &rec),
		          KC_ELECT_HELD);
	}
}

KT_TEST(record_lease_duration_governs_expiry)
{
	/* A released lease (duration 1, holder "") is free at once; a holder
	 * announcing 1 s is expired 1 s after we saw it (upstream isLeaseValid). */
	kc_leader_timing t = std_timing();
	kc_election e;
	kc_election_init(&e, "me", &t, false);
	kc_lease_record rec;
	kc_lease_record released = rec_of("", 1, "2024-02-29T23:59:58.000000Z", 5);
	KT_EQ_INT(kc_election_decide(&e, &released, 0, WALL0, &rec), KC_ELECT_UPDATE);
	KT_EQ_INT(rec.transitions, 6);

	kc_election e2;
	kc_election_init(&e2, "me", &t, false);
	kc_lease_record short_lease = rec_of("other", 1, "2024-02-29T23:59:58.000000Z", 5);
	KT_EQ_INT(kc_election_decide(&e2, &short_lease, 0, WALL0, &rec), KC_ELECT_HELD);
	KT_EQ_INT(kc_election_decide(&e2, &short_lease, 999, WALL0, &rec), KC_ELECT_HELD);
	KT_EQ_INT(kc_election_decide(&e2, &short_lease, 1000, WALL0, &rec), KC_ELECT_UPDATE);
}

KT_TEST(conflict_on_update_is_not_leader)
{
	kc_leader_timing t = std_timing();
	kc_election e;
	kc_election_init(&e, "me", &t, false);
	kc_lease_record rec;
	kc_election_events ev;
	kc_lease_record empty = rec_of("", 15, "", 0);
	KT_EQ_INT(kc_election_decide(&e, &empty, 0, WALL0, &rec), KC_ELECT_UPDATE);
	/* The PUT came back 409: kc_election_written is not called. */
	kc_election_round_done(&e, false, 10, &ev);
	KT_CHECK(!ev.started);
	KT_CHECK(!kc_election_is_leading(&e, 10));
	/* The winner's record shows up on the next GET and is respected. */
	kc_lease_record winner = rec_of("winner", 15, "2024-02-29T23:59:58.100000Z", 1);
	KT_EQ_INT(kc_election_decide(&e, &winner, 2000, WALL0, &rec), KC_ELECT_HELD);
}

static void lead(kc_election *e, int64_t now)
{
	kc_lease_record rec;
	kc_election_events ev;
	kc_election_decide(e, NULL, now, WALL0, &rec);
	kc_election_written(e, &rec, now, now);
	kc_election_round_done(e, true, now, &ev);
}

KT_TEST(renew_keeps_acquire_time_and_transitions)
{
	kc_leader_timing t = std_timing();
	kc_election e;
	kc_election_init(&e, "me", &t, false);
	lead(&e, 0);
	kc_lease_record rec;
	KT_CHECK(kc_election_fast_renew(&e, 2000, WALL0 + 2000000, &rec));
	KT_EQ_STR(rec.acquire_time, "2024-02-29T23:59:58.000000Z");
	KT_EQ_STR(rec.renew_time, "2024-03-01T00:00:00.000000Z");
	KT_EQ_INT(rec.transitions, 0);
	kc_election_written(&e, &rec, 2000, 2003);
	KT_EQ_INT(kc_election_valid_until(&e), 12000);

	/* The slow path on our own record renews too, keeping acquireTime. */
	kc_lease_record mine = e.observed;
	mine.transitions = 4;
	snprintf(mine.renew_time, sizeof(mine.renew_time), "%s", "2024-03-01T00:00:00.000001Z");
	KT_EQ_INT(kc_election_decide(&e, &mine, 4000, WALL0 + 4000000, &rec), KC_ELECT_UPDATE);
	KT_EQ_INT(rec.transitions, 4);
	KT_EQ_STR(rec.acquire_time, "2024-02-29T23:59:58.000000Z");

	/* No fast path when not leading. */
	kc_election c;
	kc_election_init(&c, "cand", &t, false);
	KT_CHECK(!kc_election_fast_renew(&c, 0, WALL0, &rec));
}

KT_TEST(renew_deadline_loses_exactly_once)
{
	kc_leader_timing t = std_timing();
	kc_election e;
	kc_election_init(&e, "me", &t, false);
	lead(&e, 0);
	kc_election_events ev;
	int stops = 0;
	for (int64_t now = 2000; now <= 30000; now += 500) {
		if (now % 2000 == 0) {
			kc_election_round_done(&e, false, now, &ev); /* renewal failed */
		} else {
			kc_election_check(&e, now, &ev);
		}
		stops += ev.stopped;
		KT_CHECK(!ev.started);
		if (now < 10000)
			KT_CHECK(kc_election_is_leading(&e, now));
		else
			KT_CHECK(!kc_election_is_leading(&e, now));
	}
	KT_EQ_INT(stops, 1);
	KT_EQ_INT(e.phase, KC_ELECTION_LOST);
	kc_election_check(&e, 9999, &ev);
	KT_CHECK(!ev.stopped);

	/* Exactly at the deadline. */
	kc_election e2;
	kc_election_init(&e2, "me", &t, false);
	lead(&e2, 0);
	kc_election_check(&e2, 9999, &ev);
	KT_CHECK(!ev.stopped);
	kc_election_check(&e2, 10000, &ev);
	KT_CHECK(ev.stopped);
}

KT_TEST(late_renewal_does_not_revive)
{
	kc_leader_timing t = std_timing();
	kc_election e;
	kc_election_init(&e, "me", &t, false);
	lead(&e, 0);
	kc_lease_record rec;
	KT_CHECK(kc_election_fast_renew(&e, 9000, WALL0, &rec));
	/* The answer arrives after the deadline (10000). */
	kc_election_written(&e, &rec, 9000, 10500);
	kc_election_events ev;
	kc_election_round_done(&e, true, 10500, &ev);
	KT_CHECK(ev.stopped);
	KT_CHECK(!kc_election_is_leading(&e, 10500));
}

KT_TEST(leader_seeing_other_holder_stops_at_once)
{
	kc_leader_timing t = std_timing();
	kc_election e;
	kc_election_init(&e, "me", &t, false);
	lead(&e, 0);
	kc_lease_record rec;
	kc_election_events ev;
	kc_lease_record thief = rec_of("thief", 15, "2024-02-29T23:59:59.000000Z", 1);
	KT_EQ_INT(kc_election_decide(&e, &thief, 2000, WALL0, &rec), KC_ELECT_HELD);
	kc_election_round_done(&e, false, 2000, &ev);
	KT_CHECK(ev.stopped);
	KT_CHECK(ev.new_leader);
	KT_EQ_STR(ev.leader, "thief");
	KT_CHECK(!kc_election_is_leading(&e, 2000));
}

KT_TEST(rejoin_after_loss_goes_back_to_acquiring)
{
	kc_leader_timing t = std_timing();
	kc_election e;
	kc_election_init(&e, "me", &t, true);
	lead(&e, 0);
	kc_election_events ev;
	kc_election_check(&e, 10000, &ev);
	KT_CHECK(ev.stopped);
	KT_EQ_INT(e.phase, KC_ELECTION_ACQUIRING);
	/* Someone else took it: we wait like any candidate. */
	kc_lease_record rec;
	kc_lease_record other = rec_of("other", 15, "2024-02-29T23:59:59.000000Z", 1);
	KT_EQ_INT(kc_election_decide(&e, &other, 11000, WALL0, &rec), KC_ELECT_HELD);
	KT_EQ_INT(kc_election_decide(&e, &other, 26000, WALL0, &rec), KC_ELECT_UPDATE);
	kc_election_written(&e, &rec, 26000, 26000);
	kc_election_round_done(&e, true, 26000, &ev);
	KT_CHECK(ev.started);
}

KT_TEST(transitions_count_holder_changes)
{
	kc_leader_timing t = std_timing();
	kc_election a, b;
	kc_election_init(&a, "a", &t, false);
	kc_election_init(&b, "b", &t, false);
	kc_lease_record rec, cur;
	KT_EQ_INT(kc_election_decide(&a, NULL, 0, WALL0, &rec), KC_ELECT_CREATE);
	kc_election_written(&a, &rec, 0, 0);
	cur = rec;
	KT_EQ_INT(cur.transitions, 0);
	/* b sees a's record, waits it out, takes over: 1 */
	KT_EQ_INT(kc_election_decide(&b, &cur, 1, WALL0, &rec), KC_ELECT_HELD);
	KT_EQ_INT(kc_election_decide(&b, &cur, 15001, WALL0 + 1, &rec), KC_ELECT_UPDATE);
	kc_election_written(&b, &rec, 15001, 15001);
	cur = rec;
	KT_EQ_INT(cur.transitions, 1);
	/* b renews: still 1 */
	KT_EQ_INT(kc_election_decide(&b, &cur, 17000, WALL0 + 2, &rec), KC_ELECT_UPDATE);
	kc_election_written(&b, &rec, 17000, 17000);
	cur = rec;
	KT_EQ_INT(cur.transitions, 1);
	/* b releases; a takes the free lease at once: 2 */
	KT_CHECK(kc_election_release(&b, WALL0 + 3, &rec));
	kc_election_released(&b, &rec, 18000);
	cur = rec;
	KT_EQ_INT(kc_election_decide(&a, &cur, 18001, WALL0 + 4, &rec), KC_ELECT_UPDATE);
	KT_EQ_INT(rec.transitions, 2);
}

KT_TEST(release_record)
{
	kc_leader_timing t = std_timing();
	kc_election e;
	kc_election_init(&e, "me", &t, false);
	kc_lease_record rec;
	KT_CHECK(!kc_election_release(&e, WALL0, &rec)); /* never held it */
	lead(&e, 0);
	e.observed.transitions = 9;
	KT_CHECK(kc_election_release(&e, WALL0 + 7, &rec));
	KT_EQ_STR(rec.holder, "");
	KT_EQ_INT(rec.lease_duration_s, 1);
	KT_EQ_INT(rec.transitions, 9);
	KT_EQ_STR(rec.renew_time, "2024-02-29T23:59:58.000007Z");
	KT_EQ_STR(rec.acquire_time, "2024-02-29T23:59:58.000007Z");
	KT_CHECK(!kc_election_is_leading(&e, 1));
	cJSON *spec = NULL;
	KT_EQ_INT(kc_lease_record_to_spec(&rec, &spec), KC_OK);
	char *txt = cJSON_PrintUnformatted(spec);
	KT_EQ_STR(txt, "{\"holderIdentity\":\"\",\"leaseDurationSeconds\":1,"
	               "\"acquireTime\":\"2024-02-29T23:59:58.000007Z\","
	               "\"renewTime\":\"2024-02-29T23:59:58.000007Z\",\"leaseTransitions\":9}");
	cJSON_free(txt);
	cJSON_Delete(spec);
}

KT_TEST(delays_jitter_and_deadline_cap)
{
	kc_leader_timing t = std_timing();
	kc_election e;
	kc_election_init(&e, "me", &t, false);
	KT_EQ_INT(kc_election_delay_ms(&e, 0, 0.0), 2000);
	KT_EQ_INT(kc_election_delay_ms(&e, 0, 0.5), 3200);
	KT_CHECK(kc_election_delay_ms(&e, 0, 0.999999) < 4400);
	lead(&e, 0);
	KT_EQ_INT(kc_election_delay_ms(&e, 0, 0.9), 2000);
	KT_EQ_INT(kc_election_delay_ms(&e, 9000, 0.9), 1000);
	KT_EQ_INT(kc_election_delay_ms(&e, 12000, 0.9), 0);
}

KT_TEST(lease_json_parsing)
{
	cJSON *l = cJSON_Parse("{\"metadata\":{\"resourceVersion\":\"5\"},\"spec\":{"
	                       "\"holderIdentity\":\"h\",\"leaseDurationSeconds\":15,"
	                       "\"renewTime\":\"2024-02-29T23:59:58.000042Z\","
	                       "\"leaseTransitions\":3}}");
	kc_lease_record r;
	KT_EQ_INT(kc_lease_record_from_json(l, &r), KC_OK);
	KT_EQ_STR(r.holder, "h");
	KT_EQ_INT(r.lease_duration_s, 15);
	KT_EQ_STR(r.acquire_time, "");
	KT_EQ_INT(r.transitions, 3);
	cJSON_Delete(l);
	l = cJSON_Parse("{\"spec\":{\"holderIdentity\":5}}");
	KT_EQ_INT(kc_lease_record_from_json(l, &r), KC_ERR_PARSE);
	cJSON_Delete(l);
	l = cJSON_Parse("{\"spec\":{\"leaseDurationSeconds\":\"15\"}}");
	KT_EQ_INT(kc_lease_record_from_json(l, &r), KC_ERR_PARSE);
	cJSON_Delete(l);
	l = cJSON_Parse("{\"spec\":null}");
	KT_EQ_INT(kc_lease_record_from_json(l, &r), KC_OK);
	KT_EQ_STR(r.holder, "");
	cJSON_Delete(l);
	KT_EQ_INT(kc_lease_record_from_json(NULL, &r), KC_ERR_PARSE);
}

/* ---- Against the test server: an in-memory Lease store --------------------- */

#include "testserver.h"

#define LEASE_PATH "/apis/coordination.k8s.io/v1/namespaces/ns1/leases"

typedef struct store {
	pthread_mutex_t lock;
	cJSON *lease;          /* NULL = 404 */
	long rv;
	atomic_bool blackhole; /* answer 503 to everything */
	int posts, puts, conflicts;
	char last_put[4096];
} store;

static void status(kt_conn *c, int code, const char *reason)
{
	char body[256];
	snprintf(body, sizeof(body),
	         "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
	         "\"reason\":\"%s\",\"code\":%d}", reason, code);
	kt_respond(c, code, NULL, body);
}

static void respond_lease(kt_conn *c, int code, const cJSON *lease)
{
	char *txt = cJSON_PrintUnformatted(lease);
	kt_respond(c, code, NULL, txt);
	cJSON_free(txt);
}

static void set_rv(cJSON *obj, long rv)
{
	cJSON *meta = cJSON_GetObjectItem(obj, "metadata");
	if (!meta)
		meta = cJSON_AddObjectToObject(obj, "metadata");
	char v[32];
	snprintf(v, sizeof(v), "%ld", rv);
	cJSON_DeleteItemFromObject(meta, "resourceVersion");
	cJSON_AddStringToObject(meta, "resourceVersion", v);
}

static void store_handler(void *ud, const kt_request *req, kt_conn *c)
{
	store *st = ud;
	if (atomic_load(&st->blackhole)) {
		status(c, 503, "ServiceUnavailable");
		return;
	}
	bool coll = strcmp(req->path, LEASE_PATH) == 0;
	bool named = strcmp(req->path, LEASE_PATH "/lock") == 0;
	pthread_mutex_lock(&st->lock);
	if (named && strcmp(req->method, "GET") == 0) {
		if (st->lease)
			respond_lease(c, 200, st->lease);
		else
			status(c, 404, "NotFound");
	} else if (coll && strcmp(req->method, "POST") == 0) {
		st->posts++;
		cJSON *obj = cJSON_Parse(req->body);
		if (st->lease) {
			status(c, 409, "AlreadyExists");
			cJSON_Delete(obj);
		} else if (!obj) {
			status(c, 400, "BadRequest");
		} else {
			set_rv(obj, ++st->rv);
			st->lease = obj;
			respond_lease(c, 201, obj);
		}
	} else if (named && strcmp(req->method, "PUT") == 0) {
		st->puts++;
		snprintf(st->last_put, sizeof(st->last_put), "%s", req->body);
		cJSON *obj = cJSON_Parse(req->body);
		const cJSON *meta = cJSON_GetObjectItem(obj, "metadata");
		const cJSON *rv = cJSON_GetObjectItem(meta, "resourceVersion");
		char cur[32];
		snprintf(cur, sizeof(cur), "%ld", st->rv);
		if (!st->lease) {
			status(c, 404, "NotFound");
			cJSON_Delete(obj);
		} else if (!cJSON_IsString(rv) || strcmp(rv->valuestring, cur) != 0) {
			st->conflicts++;
			status(c, 409, "Conflict");
			cJSON_Delete(obj);
		} else {
			set_rv(obj, ++st->rv);
			cJSON_Delete(st->lease);
			st->lease = obj;
			respond_lease(c, 200, obj);
		}
	} else {
		status(c, 404, "NotFound");
	}
	pthread_mutex_unlock(&st->lock);
}

static kc_lease_record store_record(store *st)
{
	kc_lease_record r;
	memset(&r, 0, sizeof(r));
	pthread_mutex_lock(&st->lock);
	if (st->lease)
		kc_lease_record_from_json(st->lease, &r);
	pthread_mutex_unlock(&st->lock);
	return r;
}

typedef struct counters {
	atomic_int started, stopped, new_leader;
	char last_leader[KC_LEADER_IDENTITY_MAX];
	kc_leader **self;
	atomic_bool leader_inside_started; /* is_leader was true inside the callback */
} counters;

static void cb_started(void *ud)
{
	counters *k = ud;
	atomic_fetch_add(&k->started, 1);
	if (k->self && *k->self && kc_leader_is_leader(*k->self))
		atomic_store(&k->leader_inside_started, true);
}

static void cb_stopped(void *ud)
{
	counters *k = ud;
	atomic_fetch_add(&k->stopped, 1);
}

static void cb_new_leader(void *ud, const char *id)
{
	counters *k = ud;
	atomic_fetch_add(&k->new_leader, 1);
	snprintf(k->last_leader, sizeof(k->last_leader), "%s", id);
}

typedef struct env {
	store st;
	kt_server *srv;
	kc_client *client;
} env;

static bool env_start(env *e)
{
	memset(e, 0, sizeof(*e));
	pthread_mutex_init(&e->st.lock, NULL);
	kt_server_opts o = { .handler = store_handler, .ud = &e->st };
	if (kt_server_start(&o, &e->srv) != 0)
		return false;
	kc_config *cfg = kt_server_config(e->srv, NULL);
	kc_client_options co = { .rate_limit_off = true };
	kc_error_detail d;
	kc_err err = kc_client_new(cfg, &co, &e->client, &d);
	kc_config_free(cfg);
	return err == KC_OK;
}

static void env_stop(env *e)
{
	kc_client_free(e->client);
	kt_server_stop(e->srv);
	cJSON_Delete(e->st.lease);
	pthread_mutex_destroy(&e->st.lock);
}

static kc_leader *elector(env *e, const char *id, counters *k, kc_leader **slot,
                          kc_leader_timing t, bool release)
{
	memset(k, 0, sizeof(*k));
	k->self = slot;
	kc_leader_config cfg = {
		.namespace = "ns1",
		.name = "lock",
		.identity = id,
		.timing = t,
		.release_on_cancel = release,
		.callbacks = { cb_started, cb_stopped, cb_new_leader, k },
	};
	kc_error_detail d;
	kc_leader *l = NULL;
	if (kc_leader_new(e->client, &cfg, &l, &d) != KC_OK)
		return NULL;
	*slot = l;
	return l;
}

static const kc_leader_timing FAST = { 1500, 1000, 200 };

/* Wait up to ms for exactly one of a, b to lead; returns it or NULL. */
static kc_leader *wait_one_leader(kc_leader *a, kc_leader *b, int ms)
{
	int64_t end = kc_now_mono_ms() + ms;
	while (kc_now_mono_ms() < end) {
		bool la = a && kc_leader_is_leader(a), lb = b && kc_leader_is_leader(b);
		if (la && !lb)
			return a;
		if (lb && !la)
			return b;
		kc_cancel_sleep(NULL, 10);
	}
	return NULL;
}

KT_TEST(two_electors_exactly_one_leads)
{
	env e;
	KT_CHECK(env_start(&e));
	counters ka, kb;
	kc_leader *a = NULL, *b = NULL;
	elector(&e, "a_1", &ka, &a, FAST, false);
	elector(&e, "b_2", &kb, &b, FAST, false);
	KT_CHECK(a && b);
	KT_EQ_INT(kc_leader_start(a), KC_OK);
	KT_EQ_INT(kc_leader_start(b), KC_OK);
	KT_EQ_INT(kc_leader_start(a), KC_ERR_INVALID);
	kc_leader *lead = wait_one_leader(a, b, 3000);
	KT_CHECK(lead != NULL);
	/* For 2 s (many renewals, past the lease duration) never both, never a switch. */
	int both = 0, switched = 0;
	for (int i = 0; i < 100; i++) {
		bool la = kc_leader_is_leader(a), lb = kc_leader_is_leader(b);
		both += la && lb;
		switched += (lead == a && !la) || (lead == b && !lb);
		kc_cancel_sleep(NULL, 20);
	}
	KT_EQ_INT(both, 0);
	KT_EQ_INT(switched, 0);
	counters *kl = lead == a ? &ka : &kb, *kf = lead == a ? &kb : &ka;
	const char *lid = lead == a ? "a_1" : "b_2";
	KT_EQ_INT(atomic_load(&kl->started), 1);
	KT_EQ_INT(atomic_load(&kf->started), 0);
	KT_CHECK(atomic_load(&kl->leader_inside_started));
	KT_EQ_STR(kf->last_leader, lid);
	char cur[KC_LEADER_IDENTITY_MAX];
	KT_EQ_STR(kc_leader_current(lead == a ? b : a, cur, sizeof(cur)), lid);
	kc_lease_record r = store_record(&e.st);
	KT_EQ_STR(r.holder, lid);
	KT_EQ_INT(r.lease_duration_s, 1);
	KT_EQ_INT(r.transitions, 0);
	KT_CHECK(is_microtime(r.renew_time));
	KT_CHECK(is_microtime(r.acquire_time));
	pthread_mutex_lock(&e.st.lock);
	KT_CHECK(e.st.puts >= 5);  /* renewals every 200 ms */
	KT_CHECK(strstr(e.st.last_put, "\"resourceVersion\":") != NULL);
	pthread_mutex_unlock(&e.st.lock);
	kc_leader_free(a);
	kc_leader_free(b);
	KT_EQ_INT(atomic_load(&kl->stopped), 1); /* stopped while leading */
	KT_EQ_INT(atomic_load(&kf->stopped), 0);
	env_stop(&e);
}

KT_TEST(killed_leader_is_replaced_after_lease_duration)
{
	env e;
	KT_CHECK(env_start(&e));
	counters ka, kb;
	kc_leader *a = NULL, *b = NULL;
	elector(&e, "a_1", &ka, &a, FAST, false);
	KT_EQ_INT(kc_leader_start(a), KC_OK);
	KT_CHECK(wait_one_leader(a, NULL, 2000) == a);
	elector(&e, "b_2", &kb, &b, FAST, false);
	KT_EQ_INT(kc_leader_start(b), KC_OK);
	kc_cancel_sleep(NULL, 500);
	KT_CHECK(!kc_leader_is_leader(b));
	/* "Kill" a: it stops renewing and does not release. */
	kc_leader_stop(a);
	int64_t t0 = kc_now_mono_ms();
	KT_CHECK(!kc_leader_is_leader(a));
	KT_CHECK(wait_one_leader(NULL, b, 4000) == b);
	int64_t took = kc_now_mono_ms() - t0;
	/* b must wait out the record's 1 s from the last change it saw (<= 200 ms before). */
	KT_CHECK(took >= 700);
	KT_CHECK(took < 3000);
	kc_lease_record r = store_record(&e.st);
	KT_EQ_STR(r.holder, "b_2");
	KT_EQ_INT(r.transitions, 1);
	KT_EQ_INT(atomic_load(&kb.started), 1);
	KT_EQ_STR(ka.last_leader, "a_1");
	kc_leader_free(a);
	kc_leader_free(b);
	env_stop(&e);
}

KT_TEST(released_lease_is_taken_over_quickly)
{
	env e;
	KT_CHECK(env_start(&e));
	counters ka, kb;
	kc_leader *a = NULL, *b = NULL;
	kc_leader_timing slow = { 3000, 2000, 200 };
	elector(&e, "a_1", &ka, &a, slow, true);
	KT_EQ_INT(kc_leader_start(a), KC_OK);
	KT_CHECK(wait_one_leader(a, NULL, 2000) == a);
	elector(&e, "b_2", &kb, &b, slow, false);
	KT_EQ_INT(kc_leader_start(b), KC_OK);
	kc_cancel_sleep(NULL, 500);
	kc_leader_stop(a);
	int64_t t0 = kc_now_mono_ms();
	KT_EQ_INT(atomic_load(&ka.stopped), 1);
	pthread_mutex_lock(&e.st.lock);
	cJSON *put = cJSON_Parse(e.st.last_put);
	pthread_mutex_unlock(&e.st.lock);
	kc_lease_record rel;
	kc_lease_record_from_json(put, &rel);
	cJSON_Delete(put);
	if (strcmp(rel.holder, "") == 0) {
		KT_EQ_INT(rel.lease_duration_s, 1);
		KT_CHECK(is_microtime(rel.renew_time));
	} else {
		/* b may have taken it already in between; then it must be b. */
		KT_EQ_STR(rel.holder, "b_2");
	}
	KT_CHECK(wait_one_leader(NULL, b, 3000) == b);
	int64_t took = kc_now_mono_ms() - t0;
	KT_CHECK(took < 1200); /* far less than the 3 s lease */
	kc_lease_record r = store_record(&e.st);
	KT_EQ_STR(r.holder, "b_2");
	KT_EQ_INT(r.transitions, 1);
	kc_leader_free(a);
	kc_leader_free(b);
	env_stop(&e);
}

KT_TEST(unreachable_server_loses_leadership_once)
{
	env e;
	KT_CHECK(env_start(&e));
	counters ka;
	kc_leader *a = NULL;
	elector(&e, "a_1", &ka, &a, FAST, false);
	KT_EQ_INT(kc_leader_start(a), KC_OK);
	KT_CHECK(wait_one_leader(a, NULL, 2000) == a);
	atomic_store(&e.st.blackhole, true);
	int64_t t0 = kc_now_mono_ms();
	while (kc_leader_is_leader(a) && kc_now_mono_ms() - t0 < 3000)
		kc_cancel_sleep(NULL, 5);
	int64_t took = kc_now_mono_ms() - t0;
	KT_CHECK(took <= 1050); /* the 1 s renew deadline from the last renewal */
	int64_t t1 = kc_now_mono_ms();
	while (atomic_load(&ka.stopped) == 0 && kc_now_mono_ms() - t1 < 2000)
		kc_cancel_sleep(NULL, 5);
	KT_CHECK(kc_now_mono_ms() - t0 <= 1300); /* callback promptly too */
	KT_EQ_INT(atomic_load(&ka.stopped), 1);
	atomic_store(&e.st.blackhole, false);
	kc_cancel_sleep(NULL, 1500);
	KT_CHECK(kc_leader_finished(a)); /* no second campaign */
	KT_CHECK(!kc_leader_is_leader(a));
	KT_EQ_INT(atomic_load(&ka.started), 1);
	KT_EQ_INT(atomic_load(&ka.stopped), 1);
	kc_leader_free(a);
	env_stop(&e);
}

KT_TEST(bad_config_is_refused)
{
	env e;
	KT_CHECK(env_start(&e));
	kc_leader *l = NULL;
	kc_error_detail d;
	kc_leader_config cfg = { .namespace = "ns1", .name = "lock", .identity = "x" };
	cfg.timing = (kc_leader_timing){ 10000, 10000, 2000 };
	KT_EQ_INT(kc_leader_new(e.client, &cfg, &l, &d), KC_ERR_INVALID);
	KT_CHECK(l == NULL);
	cfg.timing = (kc_leader_timing){ 0 };
	cfg.identity = "";
	KT_EQ_INT(kc_leader_new(e.client, &cfg, &l, &d), KC_ERR_INVALID);
	cfg.identity = "x";
	cfg.name = NULL;
	KT_EQ_INT(kc_leader_new(e.client, &cfg, &l, &d), KC_ERR_INVALID);
	cfg.name = "lock";
	KT_EQ_INT(kc_leader_new(e.client, &cfg, &l, &d), KC_OK);
	KT_CHECK(!kc_leader_is_leader(l));
	kc_leader_stop(l); /* never started: a no-op */
	kc_leader_free(l);
	kc_leader_free(NULL);
	env_stop(&e);
}

int main(void)
{
	kc_global_init();
	KT_RUN(timing_defaults_and_validation);
	KT_RUN(acquire_when_no_lease);
	KT_RUN(held_by_other_until_observed_expiry);
	KT_RUN(renewing_holder_is_never_taken_over);
	KT_RUN(clock_skew_expiry_uses_local_observation);
	KT_RUN(record_lease_duration_governs_expiry);
	KT_RUN(conflict_on_update_is_not_leader);
	KT_RUN(renew_keeps_acquire_time_and_transitions);
	KT_RUN(renew_deadline_loses_exactly_once);
	KT_RUN(late_renewal_does_not_revive);
	KT_RUN(leader_seeing_other_holder_stops_at_once);
	KT_RUN(rejoin_after_loss_goes_back_to_acquiring);
	KT_RUN(transitions_count_holder_changes);
	KT_RUN(release_record);
	KT_RUN(delays_jitter_and_deadline_cap);
	KT_RUN(lease_json_parsing);
	KT_RUN(two_electors_exactly_one_leads);
	KT_RUN(killed_leader_is_replaced_after_lease_duration);
	KT_RUN(released_lease_is_taken_over_quickly);
	KT_RUN(unreachable_server_loses_leadership_once);
	KT_RUN(bad_config_is_refused);
	kc_global_cleanup();
	return KT_DONE();
}
