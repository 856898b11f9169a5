/*
 * leader.c - leader election on a Lease (see kc/leader.h).
 *
 * The pure core follows client-go tools/leaderelection/leaderelection.go
 * (tryAcquireOrRenew, isLeaseValid, maybeReportTransition, release, acquire's
 * wait.JitterUntil, renew's wait.Until + PollImmediateUntil); the lease
 * encoding follows resourcelock/leaselock.go. The thread at the bottom is the
 * only part that does I/O or reads clocks.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "kc/alloc.h"
#include "kc/cancel.h"
#include "kc/leader.h"

/* ---- Timing ---------------------------------------------------------------- */

kc_err kc_leader_timing_validate(kc_leader_timing *t, kc_error_detail *d)
{
	if (!t)
		return kc_fail(d, KC_ERR_INVALID, "leader timing missing");
	if (t->lease_duration_ms == 0)
		t->lease_duration_ms = KC_LEADER_DEFAULT_LEASE_MS;
	if (t->renew_deadline_ms == 0)
		t->renew_deadline_ms = KC_LEADER_DEFAULT_RENEW_MS;
	if (t->retry_period_ms == 0)
		t->retry_period_ms = KC_LEADER_DEFAULT_RETRY_MS;
	/* NewLeaderElector's checks, in its order. */
	if (t->lease_duration_ms <= t->renew_deadline_ms)
		return kc_fail(d, KC_ERR_INVALID, "leaseDuration must be greater than renewDeadline");
	if ((double)t->renew_deadline_ms <= KC_LEADER_JITTER * (double)t->retry_period_ms)
		return kc_fail(d, KC_ERR_INVALID,
		               "renewDeadline must be greater than retryPeriod*JitterFactor");
	if (t->lease_duration_ms < 1)
		return kc_fail(d, KC_ERR_INVALID, "leaseDuration must be greater than zero");
	if (t->renew_deadline_ms < 1)
		return kc_fail(d, KC_ERR_INVALID, "renewDeadline must be greater than zero");
	if (t->retry_period_ms < 1)
		return kc_fail(d, KC_ERR_INVALID, "retryPeriod must be greater than zero");
	/* The Lease holds whole seconds: a shorter duration would be written as 0. */
	if (t->lease_duration_ms < 1000)
		return kc_fail(d, KC_ERR_INVALID, "leaseDuration must be at least 1s");
	return KC_OK;
}

/* ---- Lease record <-> JSON ----------------------------------------------------- */

static void copy_str(char *dst, size_t cap, const char *s)
{
	size_t n = strlen(s);
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/* A string field: absent or null is "", another type is an error. */
static bool spec_str(const cJSON *spec, const char *name, char *dst, size_t cap)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(spec, name);
	dst[0] = '\0';
	if (!it || cJSON_IsNull(it))
		return true;
	if (!cJSON_IsString(it))
		return false;
	copy_str(dst, cap, it->valuestring);
	return true;
}

static bool spec_int(const cJSON *spec, const char *name, int64_t *out)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(spec, name);
	*out = 0;
	if (!it || cJSON_IsNull(it))
		return true;
	if (!cJSON_IsNumber(it) || it->valuedouble < -2147483648.0 || it->valuedouble > 2147483647.0)
		return false;
	*out = (int64_t)it->valuedouble;
	return true;
}

kc_err kc_lease_record_from_json(const cJSON *lease, kc_lease_record *out)
{
	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(lease))
		return KC_ERR_PARSE;
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(lease, "spec");
	if (!spec || cJSON_IsNull(spec))
		return KC_OK; /* a Lease with no spec: nobody holds it */
	if (!cJSON_IsObject(spec))
		return KC_ERR_PARSE;
	if (!spec_str(spec, "holderIdentity", out->holder, sizeof(out->holder)) ||
	    !spec_int(spec, "leaseDurationSeconds", &out->lease_duration_s) ||
	    !spec_str(spec, "acquireTime", out->acquire_time, sizeof(out->acquire_time)) ||
	    !spec_str(spec, "renewTime", out->renew_time, sizeof(out->renew_time)) ||
	    !spec_int(spec, "leaseTransitions", &out->transitions)) {
		memset(out, 0, sizeof(*out));
		return KC_ERR_PARSE;
	}
	return KC_OK;
}

kc_err kc_lease_record_to_spec(const kc_lease_record *r, cJSON **out)
{
	cJSON *spec = cJSON_CreateObject();
	if (!spec)
		return KC_ERR_NOMEM;
	bool ok = cJSON_AddStringToObject(spec, "holderIdentity", r->holder) &&
	          cJSON_AddNumberToObject(spec, "leaseDurationSeconds",
	                                  (double)r->lease_duration_s);
	if (ok && r->acquire_time[0])
		ok = cJSON_AddStringToObject(spec, "acquireTime", r->acquire_time) != NULL;
	if (ok && r->renew_time[0])
		ok = cJSON_AddStringToObject(spec, "renewTime", r->renew_time) != NULL;
	if (ok)
		ok = cJSON_AddNumberToObject(spec, "leaseTransitions", (double)r->transitions) != NULL;
	if (!ok) {
		cJSON_Delete(spec);
		return KC_ERR_NOMEM;
	}
	*out = spec;
	return KC_OK;
}

bool kc_lease_record_equal(const kc_lease_record *a, const kc_lease_record *b)
{
	return strcmp(a->holder, b->holder) == 0 && a->lease_duration_s == b->lease_duration_s &&
	       strcmp(a->acquire_time, b->acquire_time) == 0 &&
	       strcmp(a->renew_time, b->renew_time) == 0 && a->transitions == b->transitions;
}

/* ---- Pure decision core --------------------------------------------------------- */

kc_err kc_election_init(kc_election *e, const char *identity, const kc_leader_timing *t,
                        bool rejoin_after_loss)
{
	if (!e || !t || !identity || !identity[0] || strlen(identity) >= KC_LEADER_IDENTITY_MAX)
		return KC_ERR_INVALID;
	memset(e, 0, sizeof(*e));
	copy_str(e->identity, sizeof(e->identity), identity);
	e->timing = *t;
	e->rejoin_after_loss = rejoin_after_loss;
	e->phase = KC_ELECTION_ACQUIRING;
	return KC_OK;
}

static bool observed_is_us(const kc_election *e)
{
	return e->have_observed && strcmp(e->observed.holder, e->identity) == 0;
}

/* isLeaseValid: observedTime + the record's leaseDurationSeconds is after now. */
static bool lease_valid(const kc_election *e, int64_t now_ms)
{
	int64_t dur_ms = e->observed.lease_duration_s > 0 ? e->observed.lease_duration_s * 1000
	                                                 : e->timing.lease_duration_ms;
	return e->observed_ms + dur_ms > now_ms;
}

static void set_observed(kc_election *e, const kc_lease_record *r, int64_t now_ms)
{
	e->observed = *r;
	e->observed_ms = now_ms;
	e->have_observed = true;
}

/* The record we write: us, our duration, both times now (tryAcquireOrRenew). */
static void fresh_record(const kc_election *e, int64_t now_wall_us, kc_lease_record *rec)
{
	memset(rec, 0, sizeof(*rec));
	copy_str(rec->holder, sizeof(rec->holder), e->identity);
	rec->lease_duration_s = e->timing.lease_duration_ms / 1000;
	kc_microtime_format(now_wall_us, rec->renew_time);
	kc_microtime_format(now_wall_us, rec->acquire_time);
}

bool kc_election_fast_renew(kc_election *e, int64_t now_ms, int64_t now_wall_us,
                            kc_lease_record *rec)
{
	if (e->phase != KC_ELECTION_LEADING || !observed_is_us(e) || !lease_valid(e, now_ms))
		return false;
	fresh_record(e, now_wall_us, rec);
	copy_str(rec->acquire_time, sizeof(rec->acquire_time), e->observed.acquire_time);
	rec->transitions = e->observed.transitions;
	return true;
}

kc_election_step kc_election_decide(kc_election *e, const kc_lease_record *got,
                                    int64_t now_ms, int64_t now_wall_us,
                                    kc_lease_record *rec)
{
	fresh_record(e, now_wall_us, rec);
	if (!got)
		return KC_ELECT_CREATE; /* 1. obtain or create the record */

	/* 2. the record changed since we last looked: restart the expiry clock */
	if (!e->have_observed || !kc_lease_record_equal(&e->observed, got))
		set_observed(e, got, now_ms);
	if (got->holder[0] && lease_valid(e, now_ms) && !observed_is_us(e)) {
		if (e->phase == KC_ELECTION_LEADING)
			e->lost_to_other = true;
		return KC_ELECT_HELD;
	}
	/* 3. correct the record before the update */
	if (observed_is_us(e)) {
		copy_str(rec->acquire_time, sizeof(rec->acquire_time), got->acquire_time);
		rec->transitions = got->transitions;
	} else {
		rec->transitions = got->transitions + 1;
	}
	return KC_ELECT_UPDATE;
}

void kc_election_written(kc_election *e, const kc_lease_record *rec, int64_t sent_ms,
                         int64_t now_ms)
{
	/*
	 * A renewal answered after our deadline does not revive the term: the
	 * caller has already been told (by kc_leader_is_leader) to stop, and
	 * kc_election_round_done ends it.
	 */
	bool late = e->phase == KC_ELECTION_LEADING && now_ms >= kc_election_valid_until(e);
	set_observed(e, rec, now_ms);
	if (strcmp(rec->holder, e->identity) == 0 && !late)
		e->renewed_ms = sent_ms;
}

static void report_leader(kc_election *e, kc_election_events *ev)
{
	/* maybeReportTransition; an empty holder (released) is not announced. */
	if (!e->have_observed || !e->observed.holder[0] ||
	    strcmp(e->observed.holder, e->reported) == 0)
		return;
	copy_str(e->reported, sizeof(e->reported), e->observed.holder);
	ev->new_leader = true;
	copy_str(ev->leader, sizeof(ev->leader), e->reported);
}

static void lose(kc_election *e, kc_election_events *ev)
{
	e->phase = e->rejoin_after_loss ? KC_ELECTION_ACQUIRING : KC_ELECTION_LOST;
	e->renewed_ms = 0;
	ev->stopped = true;
}

void kc_election_check(kc_election *e, int64_t now_ms, kc_election_events *ev)
{
	memset(ev, 0, sizeof(*ev));
	if (e->phase == KC_ELECTION_LEADING && now_ms >= kc_election_valid_until(e))
		lose(e, ev);
}

void kc_election_round_done(kc_election *e, bool ok, int64_t now_ms, kc_election_events *ev)
{
	memset(ev, 0, sizeof(*ev));
	bool lost_to_other = e->lost_to_other;
	e->lost_to_other = false;
	if (e->phase == KC_ELECTION_ACQUIRING && ok) {
		e->phase = KC_ELECTION_LEADING;
		ev->started = true;
	} else if (e->phase == KC_ELECTION_LEADING && !ok && lost_to_other) {
		lose(e, ev);
	} else if (e->phase == KC_ELECTION_LEADING) {
		/* a failure past the deadline, or a success that came too late */
		kc_election_check(e, now_ms, ev);
	}
	report_leader(e, ev);
}

int64_t kc_election_valid_until(const kc_election *e)
{
	if (e->phase != KC_ELECTION_LEADING)
		return 0;
	return e->renewed_ms + e->timing.renew_deadline_ms;
}

bool kc_election_is_leading(const kc_election *e, int64_t now_ms)
{
	return e->phase == KC_ELECTION_LEADING && now_ms < kc_election_valid_until(e);
}

int64_t kc_election_delay_ms(const kc_election *e, int64_t now_ms, double rand01)
{
	int64_t retry = e->timing.retry_period_ms;
	if (e->phase == KC_ELECTION_LEADING) {
		int64_t left = kc_election_valid_until(e) - now_ms;
		if (left < 0)
			left = 0;
		return retry < left ? retry : left;
	}
	if (rand01 < 0.0 || rand01 >= 1.0)
		rand01 = 0.0;
	/* wait.Jitter(d, maxFactor) = d + rand * maxFactor * d */
	return retry + (int64_t)(rand01 * KC_LEADER_JITTER * (double)retry);
}

bool kc_election_release(kc_election *e, int64_t now_wall_us, kc_lease_record *rec)
{
	if (!observed_is_us(e))
		return false;
	memset(rec, 0, sizeof(*rec));
	rec->lease_duration_s = 1;
	kc_microtime_format(now_wall_us, rec->renew_time);
	kc_microtime_format(now_wall_us, rec->acquire_time);
	rec->transitions = e->observed.transitions;
	if (e->phase == KC_ELECTION_LEADING)
		e->phase = KC_ELECTION_LOST;
	e->renewed_ms = 0;
	return true;
}

void kc_election_released(kc_election *e, const kc_lease_record *rec, int64_t now_ms)
{
	set_observed(e, rec, now_ms);
}

/* ---- The handle: the election thread and its I/O ------------------------------ */

struct kc_leader {
	kc_client *client;
	char *ns;
	char *name;
	kc_leader_config cfg;      /* strings point at ns/name/el.identity */
	kc_election el;            /* election thread only */
	cJSON *lease;              /* last Lease object read or written; thread only */
	kc_cancel *cancel;
	pthread_t thread;
	bool started;
	bool joined;
	atomic_bool leading;
	atomic_llong valid_until;  /* monotonic ms */
	atomic_bool finished;
	pthread_mutex_t lock;      /* guards current */
	char current[KC_LEADER_IDENTITY_MAX];
};

kc_err kc_leader_new(kc_client *client, const kc_leader_config *cfg, kc_leader **out,
                     kc_error_detail *d)
{
	if (!client || !cfg || !out)
		return kc_fail(d, KC_ERR_INVALID, "leader: client, config and out are required");
	if (!cfg->namespace || !cfg->namespace[0] || !cfg->name || !cfg->name[0])
		return kc_fail(d, KC_ERR_INVALID, "leader: lease namespace and name are required");
	if (!cfg->identity || !cfg->identity[0] || strlen(cfg->identity) >= KC_LEADER_IDENTITY_MAX)
		return kc_fail(d, KC_ERR_INVALID, "leader: identity must be 1..%d bytes",
		               KC_LEADER_IDENTITY_MAX - 1);
	kc_leader_timing t = cfg->timing;
	kc_err err = kc_leader_timing_validate(&t, d);
	if (err)
		return err;

	kc_leader *l = kc_calloc(1, sizeof(*l));
	if (!l)
		return KC_ERR_NOMEM;
	l->ns = kc_strdup(cfg->namespace);
	l->name = kc_strdup(cfg->name);
	if (!l->ns || !l->name)
		goto out_free;
	if (kc_cancel_new(&l->cancel) != KC_OK)
		goto out_free;
	kc_election_init(&l->el, cfg->identity, &t, cfg->rejoin_after_loss);
	l->client = client;
	l->cfg = *cfg;
	l->cfg.timing = t;
	l->cfg.namespace = l->ns;
	l->cfg.name = l->name;
	l->cfg.identity = l->el.identity;
	atomic_init(&l->leading, false);
	atomic_init(&l->valid_until, 0);
	atomic_init(&l->finished, false);
	pthread_mutex_init(&l->lock, NULL);
	*out = l;
	return KC_OK;

out_free:
	kc_free(l->ns);
	kc_free(l->name);
	kc_free(l);
	return KC_ERR_NOMEM;
}

/*
 * One request on the Lease: GET/PUT name, or POST the collection. body may be
 * NULL. On KC_OK *out holds the decoded answer (caller deletes).
 */
static kc_err lease_request(kc_leader *l, const char *method, bool named, const cJSON *body,
                            long timeout_ms, kc_cancel *cancel, cJSON **out)
{
	kc_buf path;
	kc_buf_init(&path, 4096);
	char *text = NULL;
	kc_response resp = { 0 };
	kc_error_detail d;
	kc_detail_clear(&d);
	kc_err err = kc_path_append(&path, &KC_RES_LEASES, l->ns, named ? l->name : NULL, NULL);
	if (err)
		goto out_path;
	if (body) {
		text = cJSON_PrintUnformatted(body);
		if (!text) {
			err = KC_ERR_NOMEM;
			goto out_path;
		}
	}
	kc_request req = {
		.method = method,
		.path = path.data,
		.body = text,
		.body_len = text ? strlen(text) : 0,
		.timeout_ms = timeout_ms > 0 ? timeout_ms : 1,
		.cancel = cancel,
	};
	err = kc_client_do(l->client, &req, &resp, &d);
	if (err)
		goto out_text;
	if (resp.body.len > KC_LEASE_MAX_BYTES) {
		err = KC_ERR_TOOBIG;
		goto out_resp;
	}
	cJSON *obj = resp.body.data ? cJSON_ParseWithLength(resp.body.data, resp.body.len) : NULL;
	if (!cJSON_IsObject(obj)) {
		cJSON_Delete(obj);
		err = KC_ERR_PARSE;
		goto out_resp;
	}
	*out = obj;
out_resp:
	kc_response_release(&resp);
out_text:
	cJSON_free(text);
out_path:
	kc_buf_release(&path);
	return err;
}

/* A copy of base (or a fresh Lease) with spec replaced by rec. */
static cJSON *lease_with_record(const kc_leader *l, const cJSON *base, const kc_lease_record *rec)
{
	cJSON *spec = NULL;
	if (kc_lease_record_to_spec(rec, &spec) != KC_OK)
		return NULL;
	cJSON *obj = NULL;
	if (base) {
		obj = cJSON_Duplicate(base, true);
		if (!obj)
			goto out_spec;
		cJSON_DeleteItemFromObjectCaseSensitive(obj, "status");
	} else {
		obj = cJSON_CreateObject();
		cJSON *meta = obj ? cJSON_AddObjectToObject(obj, "metadata") : NULL;
		if (!meta || !cJSON_AddStringToObject(obj, "apiVersion", "coordination.k8s.io/v1") ||
		    !cJSON_AddStringToObject(obj, "kind", "Lease") ||
		    !cJSON_AddStringToObject(meta, "name", l->name) ||
		    !cJSON_AddStringToObject(meta, "namespace", l->ns))
			goto out_obj;
	}
	if (cJSON_GetObjectItemCaseSensitive(obj, "spec")) {
		if (!cJSON_ReplaceItemInObjectCaseSensitive(obj, "spec", spec))
			goto out_obj;
	} else if (!cJSON_AddItemToObject(obj, "spec", spec)) {
		goto out_obj;
	}
	return obj;
out_obj:
	cJSON_Delete(obj);
out_spec:
	cJSON_Delete(spec);
	return NULL;
}

/* Write rec: PUT on l->lease (update) or POST (create). Keeps the answer. */
static bool write_record(kc_leader *l, const kc_lease_record *rec, bool create, long timeout_ms)
{
	cJSON *body = lease_with_record(l, create ? NULL : l->lease, rec);
	if (!body)
		return false;
	int64_t sent = kc_now_mono_ms();
	cJSON *answer = NULL;
	kc_err err = lease_request(l, create ? "POST" : "PUT", !create, body, timeout_ms,
	                           l->cancel, &answer);
	cJSON_Delete(body);
	if (err)
		return false; /* 409: someone else wrote first, not leader this round */
	cJSON_Delete(l->lease);
	l->lease = answer;
	kc_election_written(&l->el, rec, sent, kc_now_mono_ms());
	return true;
}

/* Bound each request: by the renew deadline, and while leading by what is left of it. */
static long request_timeout(const kc_leader *l)
{
	int64_t t = l->el.timing.renew_deadline_ms;
	if (l->el.phase == KC_ELECTION_LEADING) {
		int64_t left = kc_election_valid_until(&l->el) - kc_now_mono_ms();
		if (left < t)
			t = left;
	}
	return t < 1 ? 1 : (long)t;
}

/* tryAcquireOrRenew: true when we hold the lease after this round. */
static bool try_acquire_or_renew(kc_leader *l)
{
	kc_lease_record rec;
	if (l->lease && kc_election_fast_renew(&l->el, kc_now_mono_ms(), kc_now_wall_us(), &rec)) {
		if (write_record(l, &rec, false, request_timeout(l)))
			return true;
		if (kc_cancel_fired(l->cancel))
			return false;
	}

	cJSON *got = NULL;
	kc_err err = lease_request(l, "GET", true, NULL, request_timeout(l), l->cancel, &got);
	if (err == KC_ERR_NOT_FOUND) {
		kc_election_decide(&l->el, NULL, kc_now_mono_ms(), kc_now_wall_us(), &rec);
		return write_record(l, &rec, true, request_timeout(l));
	}
	if (err)
		return false;
	kc_lease_record cur;
	if (kc_lease_record_from_json(got, &cur) != KC_OK) {
		cJSON_Delete(got);
		return false;
	}
	cJSON_Delete(l->lease);
	l->lease = got;
	kc_election_step step =
		kc_election_decide(&l->el, &cur, kc_now_mono_ms(), kc_now_wall_us(), &rec);
	if (step != KC_ELECT_UPDATE)
		return false;
	return write_record(l, &rec, false, request_timeout(l));
}

/* Make the state visible to other threads, then tell the caller. */
static void publish_and_report(kc_leader *l, const kc_election_events *ev)
{
	bool leading = l->el.phase == KC_ELECTION_LEADING;
	atomic_store(&l->valid_until, (long long)kc_election_valid_until(&l->el));
	atomic_store(&l->leading, leading);
	pthread_mutex_lock(&l->lock);
	copy_str(l->current, sizeof(l->current), l->el.have_observed ? l->el.observed.holder : "");
	pthread_mutex_unlock(&l->lock);

	const kc_leader_callbacks *cb = &l->cfg.callbacks;
	if (ev->stopped && cb->on_stopped_leading)
		cb->on_stopped_leading(cb->ud);
	if (ev->new_leader && cb->on_new_leader)
		cb->on_new_leader(cb->ud, ev->leader);
	if (ev->started && cb->on_started_leading)
		cb->on_started_leading(cb->ud);
}

static void release_lease(kc_leader *l)
{
	kc_lease_record rec;
	if (!l->lease || !kc_election_release(&l->el, kc_now_wall_us(), &rec))
		return;
	cJSON *body = lease_with_record(l, l->lease, &rec);
	if (!body)
		return;
	cJSON *answer = NULL;
	/* The handle's cancel has fired: this one request runs on its own bound. */
	if (lease_request(l, "PUT", true, body, (long)l->el.timing.renew_deadline_ms, NULL,
	                  &answer) == KC_OK) {
		kc_election_released(&l->el, &rec, kc_now_mono_ms());
		cJSON_Delete(answer);
	}
	cJSON_Delete(body);
}

static void *election_thread(void *arg)
{
	kc_leader *l = arg;
	kc_election_events ev;
	while (!kc_cancel_fired(l->cancel)) {
		bool ok = try_acquire_or_renew(l);
		kc_election_round_done(&l->el, ok, kc_now_mono_ms(), &ev);
		publish_and_report(l, &ev);
		if (l->el.phase == KC_ELECTION_LOST)
			break;
		int64_t delay = kc_election_delay_ms(&l->el, kc_now_mono_ms(), kc_rand01());
		if (kc_cancel_sleep(l->cancel, delay))
			break;
		kc_election_check(&l->el, kc_now_mono_ms(), &ev);
		publish_and_report(l, &ev);
		if (l->el.phase == KC_ELECTION_LOST)
			break;
	}
	if (l->el.phase == KC_ELECTION_LEADING) {
		/* Stopped while leading: the caller stops writing before we let go. */
		memset(&ev, 0, sizeof(ev));
		ev.stopped = true;
		l->el.phase = KC_ELECTION_LOST;
		publish_and_report(l, &ev);
	}
	if (l->cfg.release_on_cancel && kc_cancel_fired(l->cancel))
		release_lease(l);
	atomic_store(&l->finished, true);
	return NULL;
}

kc_err kc_leader_start(kc_leader *l)
{
	if (!l || l->started)
		return KC_ERR_INVALID;
	if (pthread_create(&l->thread, NULL, election_thread, l) != 0)
		return KC_ERR_NOMEM;
	l->started = true;
	return KC_OK;
}

void kc_leader_stop(kc_leader *l)
{
	if (!l || !l->started || l->joined)
		return;
	kc_cancel_fire(l->cancel);
	pthread_join(l->thread, NULL);
	l->joined = true;
}

void kc_leader_free(kc_leader *l)
{
	if (!l)
		return;
	kc_leader_stop(l);
	cJSON_Delete(l->lease);
	kc_cancel_free(l->cancel);
	pthread_mutex_destroy(&l->lock);
	kc_free(l->ns);
	kc_free(l->name);
	kc_free(l);
}

bool kc_leader_is_leader(const kc_leader *l)
{
	kc_leader *m = (kc_leader *)l;
	if (!l || !atomic_load(&m->leading))
		return false;
	return kc_now_mono_ms() < (int64_t)atomic_load(&m->valid_until);
}

char *kc_leader_current(kc_leader *l, char *buf, size_t cap)
{
	if (!buf || cap == 0)
		return buf;
	buf[0] = '\0';
	if (!l)
		return buf;
	pthread_mutex_lock(&l->lock);
	copy_str(buf, cap, l->current);
	pthread_mutex_unlock(&l->lock);
	return buf;
}

bool kc_leader_finished(const kc_leader *l)
{
	return l && atomic_load(&((kc_leader *)l)->finished);
}
