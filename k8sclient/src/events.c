/*
 * events.c - the events.k8s.io/v1 recorder (see kc/events.h).
 *
 * The correlator mirrors client-go tools/events/event_broadcaster.go
 * (recordToSink's series logic, getKey, refreshExistingEventSeries,
 * finishSeries, createPatchBytesForSeries) and event_recorder.go (makeEvent);
 * the worker at the bottom mirrors attemptRecording / recordEvent.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "internal.h"
#include "kc/alloc.h"
#include "kc/buf.h"
#include "kc/cancel.h"
#include "kc/events.h"
#include "kc/map.h"
#include "kc/names.h"
#include "kc/time.h"

#define KEY_MAX_BYTES 8192 /* a key: a dozen fields, each capped */

size_t kc_utf8_truncate(char *dst, size_t cap, const char *s, size_t max_bytes)
{
	if (!dst || cap == 0)
		return 0;
	if (!s)
		s = "";
	size_t len = strlen(s);
	size_t n = len;
	if (n > max_bytes)
		n = max_bytes;
	if (n > cap - 1)
		n = cap - 1;
	/* Cutting before a continuation byte would split a character: back up. */
	while (n > 0 && n < len && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return n;
}

/* ---- Name rules ----------------------------------------------------------------- */

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* IsQualifiedName: [prefix/]name, name 1..63 of [A-Za-z0-9_.-] with alnum ends. */
static bool is_qualified_name(const char *s)
{
	const char *slash = strchr(s, '/');
	const char *name = s;
	if (slash) {
		if (!kc_is_dns_subdomain(s, (size_t)(slash - s)))
			return false;
		name = slash + 1;
	}
	size_t n = strlen(name);
	if (n == 0 || n > 63 || !is_alnum(name[0]) || !is_alnum(name[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(name[i]) && name[i] != '-' && name[i] != '_' && name[i] != '.')
			return false;
	return true;
}

/* ---- The correlator ------------------------------------------------------------ */

typedef struct evc_entry {
	struct evc_entry *prev, *next;     /* all entries, least recently seen first */
	char *key;                         /* as in the map (which holds its own copy) */
	char *ns;
	char *name;
	cJSON *event;                      /* as created, without series */
	int64_t count;                     /* occurrences; 1 = no series yet */
	int64_t sent_count;                /* count carried by the last write */
	int64_t last_observed_us;          /* wall, for series.lastObservedTime */
	int64_t last_seen_ms;              /* monotonic */
	int64_t last_sent_ms;              /* monotonic */
} evc_entry;

struct kc_evcorr {
	char *controller;
	char instance[KC_EVENT_INSTANCE_MAX + 1];
	int64_t finish_ms;
	int64_t refresh_ms;
	size_t cache_max;
	kc_map entries;                    /* key -> evc_entry * */
	evc_entry *head, *tail;
	size_t size;
	uint64_t last_suffix;              /* event name suffixes only grow */
};

kc_err kc_evcorr_new(const kc_evcorr_options *o, kc_evcorr **out)
{
	if (!o || !out || !o->reporting_controller || !o->reporting_instance ||
	    !o->reporting_instance[0] || strlen(o->reporting_controller) > KC_EVENT_CONTROLLER_MAX ||
	    !is_qualified_name(o->reporting_controller))
		return KC_ERR_INVALID;
	kc_evcorr *c = kc_calloc(1, sizeof(*c));
	if (!c)
		return KC_ERR_NOMEM;
	c->controller = kc_strdup(o->reporting_controller);
	kc_utf8_truncate(c->instance, sizeof(c->instance), o->reporting_instance,
	                 KC_EVENT_INSTANCE_MAX);
	c->finish_ms = o->finish_ms > 0 ? o->finish_ms : KC_EVENT_FINISH_MS;
	c->refresh_ms = o->refresh_ms > 0 ? o->refresh_ms : KC_EVENT_REFRESH_MS;
	c->cache_max = o->cache_max > 0 ? o->cache_max : KC_EVENT_CACHE_MAX;
	kc_map_init(&c->entries);
	if (!c->controller) {
		kc_free(c);
		return KC_ERR_NOMEM;
	}
	*out = c;
	return KC_OK;
}

static void entry_free(evc_entry *e)
{
	if (!e)
		return;
	kc_free(e->key);
	kc_free(e->ns);
	kc_free(e->name);
	cJSON_Delete(e->event);
	kc_free(e);
}

/* Take e out of the table and the list, and free it. */
static void entry_remove(kc_evcorr *c, evc_entry *e)
{
	kc_map_del(&c->entries, e->key);
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	c->size--;
	entry_free(e);
}

/* Move e to the most-recently-seen end. */
static void entry_touch(kc_evcorr *c, evc_entry *e)
{
	if (c->tail == e)
		return;
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	e->prev = c->tail;
	e->next = NULL;
	if (c->tail)
		c->tail->next = e;
	else
		c->head = e;
	c->tail = e;
}

void kc_evcorr_free(kc_evcorr *c)
{
	if (!c)
		return;
	evc_entry *e = c->head;
	while (e) {
		evc_entry *next = e->next;
		entry_free(e);
		e = next;
	}
	kc_map_release(&c->entries);
	kc_free(c->controller);
	kc_free(c);
}

size_t kc_evcorr_size(const kc_evcorr *c)
{
	return c ? c->size : 0;
}

void kc_evwrite_release(kc_evwrite *w)
{
	if (!w)
		return;
	kc_free(w->ns);
	kc_free(w->name);
	cJSON_free(w->create_body);
	cJSON_free(w->patch_body);
	memset(w, 0, sizeof(*w));
}

/* Length-prefixed, so no field value can imitate another key. */
static kc_err key_field(kc_buf *k, const char *s)
{
	if (!s)
		s = "";
	return kc_buf_printf(k, "%zu:%s;", strlen(s), s);
}

static kc_err key_ref(kc_buf *k, const kc_objref *r)
{
	if (!r)
		return kc_buf_append_str(k, "-;");
	kc_err err = kc_buf_append_str(k, "+;");
	if (!err)
		err = key_field(k, r->api_version);
	if (!err)
		err = key_field(k, r->kind);
	if (!err)
		err = key_field(k, r->namespace);
	if (!err)
		err = key_field(k, r->name);
	if (!err)
		err = key_field(k, r->uid);
	return err;
}

/* An ObjectReference; empty fields are left out as Go's omitempty does. */
static bool add_ref(cJSON *obj, const char *field, const kc_objref *r)
{
	cJSON *o = cJSON_AddObjectToObject(obj, field);
	if (!o)
		return false;
	char buf[KC_EVENT_FIELD_MAX + 1];
	const char *names[] = { "apiVersion", "kind", "namespace", "name", "uid" };
	const char *vals[] = { r->api_version, r->kind, r->namespace, r->name, r->uid };
	for (size_t i = 0; i < 5; i++) {
		if (!vals[i] || !vals[i][0])
			continue;
		kc_utf8_truncate(buf, sizeof(buf), vals[i], KC_EVENT_FIELD_MAX);
		if (!cJSON_AddStringToObject(o, names[i], buf))
			return false;
	}
	return true;
}

/* util.GenerateEventName: name.<hex time>, or a random name if that is not valid. */
static char *event_name(kc_evcorr *c, const char *regarding, int64_t now_wall_us)
{
	uint64_t suffix = (uint64_t)now_wall_us * 1000u;
	if (suffix <= c->last_suffix)
		suffix = c->last_suffix + 1;
	c->last_suffix = suffix;
	kc_buf b;
	kc_buf_init(&b, 512);
	if (kc_buf_printf(&b, "%s.%llx", regarding, (unsigned long long)suffix) != KC_OK ||
	    !kc_is_dns_subdomain(b.data, b.len)) {
		kc_buf_reset(&b);
		for (int i = 0; i < 4; i++) {
			uint64_t r = (uint64_t)(kc_rand01() * 4294967296.0);
			if (kc_buf_printf(&b, "%08llx", (unsigned long long)r) != KC_OK)
				break;
		}
	}
	char *name = b.len ? kc_buf_take(&b) : NULL;
	kc_buf_release(&b);
	return name;
}

static const char *type_name(kc_event_type t)
{
	return t == KC_EVENT_WARNING ? "Warning" : "Normal";
}

/* makeEvent: the Event as first created. */
static cJSON *make_event(const kc_evcorr *c, const char *ns, const char *name,
                         const kc_objref *regarding, const kc_objref *related,
                         kc_event_type type, const char *reason, const char *action,
                         const char *note, int64_t now_wall_us)
{
	char ts[KC_TIME_STR_MAX];
	cJSON *ev = cJSON_CreateObject();
	if (!ev)
		return NULL;
	cJSON *meta = cJSON_AddObjectToObject(ev, "metadata");
	bool ok = meta && cJSON_AddStringToObject(ev, "apiVersion", "events.k8s.io/v1") &&
	          cJSON_AddStringToObject(ev, "kind", "Event") &&
	          cJSON_AddStringToObject(meta, "name", name) &&
	          cJSON_AddStringToObject(meta, "namespace", ns) &&
	          cJSON_AddStringToObject(ev, "eventTime", kc_microtime_format(now_wall_us, ts)) &&
	          cJSON_AddStringToObject(ev, "reportingController", c->controller) &&
	          cJSON_AddStringToObject(ev, "reportingInstance", c->instance) &&
	          cJSON_AddStringToObject(ev, "action", action) &&
	          cJSON_AddStringToObject(ev, "reason", reason) && add_ref(ev, "regarding", regarding) &&
	          (!related || add_ref(ev, "related", related)) &&
	          cJSON_AddStringToObject(ev, "note", note) &&
	          cJSON_AddStringToObject(ev, "type", type_name(type));
	if (!ok) {
		cJSON_Delete(ev);
		return NULL;
	}
	return ev;
}

static cJSON *series_object(int64_t count, int64_t last_observed_us)
{
	char ts[KC_TIME_STR_MAX];
	cJSON *s = cJSON_CreateObject();
	if (!s || !cJSON_AddNumberToObject(s, "count", (double)count) ||
	    !cJSON_AddStringToObject(s, "lastObservedTime",
	                             kc_microtime_format(last_observed_us, ts))) {
		cJSON_Delete(s);
		return NULL;
	}
	return s;
}

/* The write for e as it stands: CREATE when no series yet, else the series PATCH. */
static kc_err make_write(const evc_entry *e, kc_evwrite *w)
{
	memset(w, 0, sizeof(*w));
	kc_err err = KC_ERR_NOMEM;
	cJSON *full = NULL, *patch = NULL;
	w->ns = kc_strdup(e->ns);
	w->name = kc_strdup(e->name);
	if (!w->ns || !w->name)
		goto out_fail;
	if (e->count < 2) {
		w->kind = KC_EVWRITE_CREATE;
		w->create_body = cJSON_PrintUnformatted(e->event);
		if (!w->create_body)
			goto out_fail;
		return KC_OK;
	}
	/* createPatchBytesForSeries: the two-way merge patch of event vs event+series */
	w->kind = KC_EVWRITE_PATCH;
	full = cJSON_Duplicate(e->event, true);
	cJSON *s1 = series_object(e->count, e->last_observed_us);
	if (!full || !s1 || !cJSON_AddItemToObject(full, "series", s1)) {
		cJSON_Delete(s1);
		goto out_fail;
	}
	patch = cJSON_CreateObject();
	cJSON *s2 = series_object(e->count, e->last_observed_us);
	if (!patch || !s2 || !cJSON_AddItemToObject(patch, "series", s2)) {
		cJSON_Delete(s2);
		goto out_fail;
	}
	w->create_body = cJSON_PrintUnformatted(full);
	w->patch_body = cJSON_PrintUnformatted(patch);
	if (!w->create_body || !w->patch_body)
		goto out_fail;
	err = KC_OK;
	goto out_json;
out_fail:
	kc_evwrite_release(w);
out_json:
	cJSON_Delete(full);
	cJSON_Delete(patch);
	return err;
}

/* Finish e: its final PATCH into *w if its count changed since the last write. */
static bool finish_entry(kc_evcorr *c, evc_entry *e, kc_evwrite *w)
{
	bool wrote = e->count >= 2 && e->count != e->sent_count && make_write(e, w) == KC_OK;
	entry_remove(c, e);
	return wrote;
}

kc_err kc_evcorr_observe(kc_evcorr *c, const kc_objref *regarding, const kc_objref *related,
                         kc_event_type type, const char *reason, const char *action,
                         const char *note, int64_t now_mono_ms, int64_t now_wall_us,
                         kc_evwrite out[2], size_t *n)
{
	*n = 0;
	if (!c || !regarding || !regarding->name || !regarding->name[0] || !reason || !reason[0] ||
	    !action || !action[0] || (type != KC_EVENT_NORMAL && type != KC_EVENT_WARNING))
		return KC_ERR_INVALID;
	char reason_t[KC_EVENT_REASON_MAX + 1], action_t[KC_EVENT_ACTION_MAX + 1];
	char note_t[KC_EVENT_NOTE_MAX + 1];
	kc_utf8_truncate(reason_t, sizeof(reason_t), reason, KC_EVENT_REASON_MAX);
	kc_utf8_truncate(action_t, sizeof(action_t), action, KC_EVENT_ACTION_MAX);
	kc_utf8_truncate(note_t, sizeof(note_t), note, KC_EVENT_NOTE_MAX);
	if (!reason_t[0] || !action_t[0])
		return KC_ERR_INVALID;

	kc_buf key;
	kc_buf_init(&key, KEY_MAX_BYTES);
	kc_err err = key_field(&key, type_name(type));
	if (!err)
		err = key_field(&key, action_t);
	if (!err)
		err = key_field(&key, reason_t);
	if (!err)
		err = key_field(&key, c->controller);
	if (!err)
		err = key_field(&key, c->instance);
	if (!err)
		err = key_ref(&key, regarding);
	if (!err)
		err = key_ref(&key, related);
	if (!err)
		err = key_field(&key, note_t);
	if (err)
		goto out_key;
	evc_entry *e = kc_map_get(&c->entries, key.data);
	if (e && now_mono_ms - e->last_seen_ms >= c->finish_ms) {
		/* Idle past the finish time: that series is over, this is a new Event. */
		if (finish_entry(c, e, &out[*n]))
			(*n)++;
		e = NULL;
	}
	if (e) {
		e->count++;
		e->last_observed_us = now_wall_us;
		e->last_seen_ms = now_mono_ms;
		entry_touch(c, e);
		if (e->count == 2) {
			/* The second occurrence starts the series: PATCH it now. */
			err = make_write(e, &out[*n]);
			if (err) {
				e->count--;
				goto out_undo;
			}
			e->sent_count = e->count;
			e->last_sent_ms = now_mono_ms;
			(*n)++;
		}
		goto out_key;
	}

	/* A new key: make room, then the CREATE. */
	if (c->size >= c->cache_max && c->head) {
		if (finish_entry(c, c->head, &out[*n]))
			(*n)++;
	}
	e = kc_calloc(1, sizeof(*e));
	if (!e) {
		err = KC_ERR_NOMEM;
		goto out_undo;
	}
	const char *ns = regarding->namespace && regarding->namespace[0] ? regarding->namespace
	                                                                 : "default";
	e->key = kc_buf_take(&key);
	e->ns = kc_strdup(ns);
	e->name = event_name(c, regarding->name, now_wall_us);
	if (!e->key || !e->ns || !e->name) {
		entry_free(e);
		err = KC_ERR_NOMEM;
		goto out_undo;
	}
	e->event = make_event(c, e->ns, e->name, regarding, related, type, reason_t, action_t,
	                      note_t, now_wall_us);
	e->count = 1;
	e->sent_count = 1;
	e->last_observed_us = now_wall_us;
	e->last_seen_ms = now_mono_ms;
	e->last_sent_ms = now_mono_ms;
	if (!e->event || make_write(e, &out[*n]) != KC_OK) {
		entry_free(e);
		err = KC_ERR_NOMEM;
		goto out_undo;
	}
	if (kc_map_put(&c->entries, e->key, e, NULL) != 0) {
		kc_evwrite_release(&out[*n]);
		entry_free(e);
		err = KC_ERR_NOMEM;
		goto out_undo;
	}
	(*n)++;
	e->prev = c->tail;
	if (c->tail)
		c->tail->next = e;
	else
		c->head = e;
	c->tail = e;
	c->size++;
	goto out_key;

out_undo:
	/* Not recorded. A finished series' PATCH made above is still handed out. */
out_key:
	kc_buf_release(&key);
	return err;
}

size_t kc_evcorr_tick(kc_evcorr *c, int64_t now_mono_ms, bool all, kc_evwrite *out, size_t max)
{
	size_t n = 0;
	if (!c)
		return 0;
	evc_entry *e = c->head;
	while (e && n < max) {
		evc_entry *next = e->next;
		if (all || now_mono_ms - e->last_seen_ms >= c->finish_ms) {
			/* finishSeries: final count, then forget (singletons just go). */
			if (finish_entry(c, e, &out[n]))
				n++;
		} else if (e->count >= 2 && now_mono_ms - e->last_sent_ms >= c->refresh_ms) {
			/* refreshExistingEventSeries */
			if (make_write(e, &out[n]) == KC_OK) {
				e->sent_count = e->count;
				e->last_sent_ms = now_mono_ms;
				n++;
			}
		}
		e = next;
	}
	return n;
}

void kc_evcorr_forget(kc_evcorr *c, const char *ns, const char *name)
{
	if (!c || !ns || !name)
		return;
	for (evc_entry *e = c->head; e; e = e->next) {
		if (strcmp(e->name, name) == 0 && strcmp(e->ns, ns) == 0) {
			entry_remove(c, e);
			return;
		}
	}
}

/* ---- The recorder: queue, worker thread, writes ---------------------------------- */

typedef struct job {
	struct job *next;
	kc_evwrite w;
} job;

struct kc_recorder {
	kc_client *client;
	char instance[KC_EVENT_INSTANCE_MAX + 1];
	size_t queue_max;
	int max_tries;
	int64_t retry_ms;
	int64_t tick_ms;
	long timeout_ms;

	pthread_mutex_t lock;      /* everything below */
	pthread_cond_t wake;       /* the worker: work queued, or stopping */
	pthread_cond_t idle;       /* flush / stop waiters: a job finished, or the worker ended */
	kc_evcorr *corr;
	job *head, *tail;
	size_t qlen;
	bool busy;                 /* the worker holds a job */
	bool stopping;
	bool worker_done;
	bool joined;
	kc_recorder_stats stats;

	kc_cancel *cancel;         /* fired to abandon in-flight work at stop */
	pthread_t thread;
};

static void cond_init_mono(pthread_cond_t *c)
{
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
}

static void abs_deadline(struct timespec *ts, int64_t at_mono_ms)
{
	ts->tv_sec = (time_t)(at_mono_ms / 1000);
	ts->tv_nsec = (long)(at_mono_ms % 1000) * 1000000L;
}

/* Queue w (taking it) or drop it when full. Called with the lock held. */
static bool enqueue(kc_recorder *r, kc_evwrite *w)
{
	if (r->qlen >= r->queue_max) {
		r->stats.dropped++;
		if (w->kind == KC_EVWRITE_CREATE)
			kc_evcorr_forget(r->corr, w->ns, w->name); /* next time: a new Event */
		kc_evwrite_release(w);
		return false;
	}
	job *j = kc_calloc(1, sizeof(*j));
	if (!j) {
		r->stats.dropped++;
		kc_evwrite_release(w);
		return false;
	}
	j->w = *w;
	memset(w, 0, sizeof(*w));
	if (r->tail)
		r->tail->next = j;
	else
		r->head = j;
	r->tail = j;
	r->qlen++;
	pthread_cond_signal(&r->wake);
	return true;
}

typedef enum attempt_result { ATTEMPT_DONE, ATTEMPT_RETRY, ATTEMPT_GIVE_UP } attempt_result;

static kc_err send_write(kc_recorder *r, const char *method, const char *ns, const char *name,
                         const char *content_type, const char *body, kc_error_detail *d)
{
	kc_buf path;
	kc_buf_init(&path, 4096);
	kc_response resp = { 0 };
	kc_err err = kc_path_append(&path, &KC_RES_EVENTS, ns, name, NULL);
	if (!err) {
		kc_request req = {
			.method = method,
			.path = path.data,
			.content_type = content_type,
			.body = body,
			.body_len = strlen(body),
			.timeout_ms = r->timeout_ms,
			.cancel = r->cancel,
		};
		err = kc_client_do(r->client, &req, &resp, d);
		if (!err)
			kc_response_release(&resp);
	}
	kc_buf_release(&path);
	return err;
}

/* recordEvent's error classes: retry what may succeed later, drop what will not. */
static attempt_result classify(kc_err err)
{
	switch (err) {
	case KC_OK:
		return ATTEMPT_DONE;
	case KC_ERR_NOMEM:
	case KC_ERR_TRANSPORT:
	case KC_ERR_TLS:
	case KC_ERR_TIMEOUT:
	case KC_ERR_STALLED:
	case KC_ERR_SERVER:
	case KC_ERR_TOO_MANY:
	case KC_ERR_CONFLICT:
	case KC_ERR_PARSE:   /* an answer we could not read: UnexpectedObjectError */
		return ATTEMPT_RETRY;
	default:
		return ATTEMPT_GIVE_UP; /* other 4xx, invalid, cancelled */
	}
}

static bool already_exists(kc_err err, const kc_error_detail *d)
{
	return err == KC_ERR_CONFLICT && strcmp(d->reason, "AlreadyExists") == 0;
}

static attempt_result attempt(kc_recorder *r, const kc_evwrite *w)
{
	kc_error_detail d;
	kc_detail_clear(&d);
	if (w->kind == KC_EVWRITE_PATCH) {
		kc_err err = send_write(r, "PATCH", w->ns, w->name,
		                        "application/strategic-merge-patch+json", w->patch_body, &d);
		if (err != KC_ERR_NOT_FOUND)
			return classify(err);
		/* The Event is gone (or its CREATE never landed): create it, series and all. */
		kc_detail_clear(&d);
		err = send_write(r, "POST", w->ns, NULL, NULL, w->create_body, &d);
		if (already_exists(err, &d))
			return ATTEMPT_RETRY; /* created meanwhile: the PATCH will now work */
		return classify(err);
	}
	kc_err err = send_write(r, "POST", w->ns, NULL, NULL, w->create_body, &d);
	if (already_exists(err, &d))
		return ATTEMPT_DONE; /* an earlier try landed */
	return classify(err);
}

/* attemptRecording: up to max_tries, jittered sleeps between. Lock NOT held. */
static void perform(kc_recorder *r, const kc_evwrite *w, uint64_t *retries, int *outcome)
{
	for (int tries = 1;; tries++) {
		attempt_result res = attempt(r, w);
		if (res == ATTEMPT_DONE) {
			*outcome = 0;
			return;
		}
		if (kc_cancel_fired(r->cancel)) {
			*outcome = 2;
			return;
		}
		if (res == ATTEMPT_GIVE_UP || tries >= r->max_tries) {
			*outcome = 1;
			return;
		}
		(*retries)++;
		/* wait.Jitter(sleepDuration, 0.25) */
		int64_t ms = r->retry_ms + (int64_t)(kc_rand01() * 0.25 * (double)r->retry_ms);
		if (kc_cancel_sleep(r->cancel, ms)) {
			*outcome = 2;
			return;
		}
	}
}

#define TICK_BATCH 64

static void *worker(void *arg)
{
	kc_recorder *r = arg;
	kc_evwrite batch[TICK_BATCH];
	int64_t next_tick = kc_now_mono_ms() + r->tick_ms;
	pthread_mutex_lock(&r->lock);
	for (;;) {
		if (kc_cancel_fired(r->cancel))
			break;
		int64_t now = kc_now_mono_ms();
		if (!r->stopping && now >= next_tick) {
			size_t n = kc_evcorr_tick(r->corr, now, false, batch, TICK_BATCH);
			for (size_t i = 0; i < n; i++)
				enqueue(r, &batch[i]);
			if (n < TICK_BATCH)
				next_tick = now + r->tick_ms;
		}
		if (!r->head) {
			if (r->stopping)
				break;
			struct timespec ts;
			abs_deadline(&ts, next_tick);
			pthread_cond_timedwait(&r->wake, &r->lock, &ts);
			continue;
		}
		job *j = r->head;
		r->head = j->next;
		if (!r->head)
			r->tail = NULL;
		r->qlen--;
		r->busy = true;
		pthread_mutex_unlock(&r->lock);

		uint64_t retries = 0;
		int outcome = 0;
		perform(r, &j->w, &retries, &outcome);
		kc_evwrite_release(&j->w);
		kc_free(j);

		pthread_mutex_lock(&r->lock);
		r->busy = false;
		r->stats.retries += retries;
		if (outcome == 0)
			r->stats.written++;
		else if (outcome == 1)
			r->stats.failed++;
		else
			r->stats.abandoned++;
		pthread_cond_broadcast(&r->idle);
	}
	/* Abandon what is left. */
	while (r->head) {
		job *j = r->head;
		r->head = j->next;
		kc_evwrite_release(&j->w);
		kc_free(j);
		r->stats.abandoned++;
	}
	r->tail = NULL;
	r->qlen = 0;
	r->worker_done = true;
	pthread_cond_broadcast(&r->idle);
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

kc_err kc_recorder_new(kc_client *client, const kc_recorder_options *o, kc_recorder **out,
                       kc_error_detail *d)
{
	if (!client || !o || !out || !o->reporting_controller)
		return kc_fail(d, KC_ERR_INVALID, "recorder: client, options and controller required");
	kc_recorder *r = kc_calloc(1, sizeof(*r));
	if (!r)
		return KC_ERR_NOMEM;
	kc_err err = KC_ERR_NOMEM;
	if (o->reporting_instance && o->reporting_instance[0]) {
		kc_utf8_truncate(r->instance, sizeof(r->instance), o->reporting_instance,
		                 KC_EVENT_INSTANCE_MAX);
	} else {
		/* NewRecorder: reportingController + "-" + hostname */
		char host[256] = "";
		if (gethostname(host, sizeof(host) - 1) != 0)
			host[0] = '\0';
		host[sizeof(host) - 1] = '\0';
		kc_buf b;
		kc_buf_init(&b, 1024);
		if (kc_buf_printf(&b, "%s-%s", o->reporting_controller, host) != KC_OK) {
			kc_buf_release(&b);
			goto out_free;
		}
		kc_utf8_truncate(r->instance, sizeof(r->instance), b.data, KC_EVENT_INSTANCE_MAX);
		kc_buf_release(&b);
	}
	kc_evcorr_options co = {
		.reporting_controller = o->reporting_controller,
		.reporting_instance = r->instance,
		.finish_ms = o->finish_ms,
		.refresh_ms = o->refresh_ms,
	};
	err = kc_evcorr_new(&co, &r->corr);
	if (err) {
		if (err == KC_ERR_INVALID)
			kc_fail(d, err, "recorder: reportingController must be a qualified name: %s",
			        o->reporting_controller);
		goto out_free;
	}
	err = kc_cancel_new(&r->cancel);
	if (err)
		goto out_corr;
	r->client = client;
	r->queue_max = o->queue_max ? o->queue_max : KC_EVENT_QUEUE_MAX;
	r->max_tries = o->max_tries > 0 ? o->max_tries : KC_EVENT_MAX_TRIES;
	r->retry_ms = o->retry_interval_ms > 0 ? o->retry_interval_ms : KC_EVENT_RETRY_MS;
	r->tick_ms = o->tick_ms > 0 ? o->tick_ms : 1000;
	r->timeout_ms = o->request_timeout_ms > 0 ? o->request_timeout_ms : 0;
	pthread_mutex_init(&r->lock, NULL);
	cond_init_mono(&r->wake);
	cond_init_mono(&r->idle);
	if (pthread_create(&r->thread, NULL, worker, r) != 0) {
		err = KC_ERR_NOMEM;
		goto out_sync;
	}
	*out = r;
	return KC_OK;

out_sync:
	pthread_cond_destroy(&r->idle);
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->lock);
	kc_cancel_free(r->cancel);
out_corr:
	kc_evcorr_free(r->corr);
out_free:
	kc_free(r);
	return err;
}

kc_err kc_recorder_event(kc_recorder *r, const kc_objref *regarding, const kc_objref *related,
                         kc_event_type type, const char *reason, const char *action,
                         const char *note)
{
	if (!r)
		return KC_ERR_INVALID;
	kc_evwrite w[2];
	size_t n = 0;
	int64_t now_ms = kc_now_mono_ms();
	int64_t now_us = kc_now_wall_us();
	pthread_mutex_lock(&r->lock);
	if (r->stopping) {
		pthread_mutex_unlock(&r->lock);
		return KC_ERR_CANCELED;
	}
	kc_err err = kc_evcorr_observe(r->corr, regarding, related, type, reason, action,
	                               note ? note : "", now_ms, now_us, w, &n);
	if (!err) {
		r->stats.accepted++;
		if (n == 0)
			r->stats.folded++;
	}
	for (size_t i = 0; i < n; i++)
		if (!enqueue(r, &w[i]) && !err)
			err = KC_ERR_TOO_MANY;
	pthread_mutex_unlock(&r->lock);
	return err;
}

kc_err kc_recorder_eventf(kc_recorder *r, const kc_objref *regarding, const kc_objref *related,
                          kc_event_type type, const char *reason, const char *action,
                          const char *fmt, ...)
{
	/* A few bytes past the limit, so the UTF-8 cut can see the next byte. */
	char note[KC_EVENT_NOTE_MAX + 8];
	va_list ap;
	va_start(ap, fmt);
	int len = fmt ? vsnprintf(note, sizeof(note), fmt, ap) : 0;
	va_end(ap);
	if (len < 0 || !fmt)
		note[0] = '\0';
	return kc_recorder_event(r, regarding, related, type, reason, action, note);
}

kc_err kc_recorder_flush(kc_recorder *r, int64_t timeout_ms)
{
	if (!r)
		return KC_ERR_INVALID;
	int64_t end = kc_now_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	struct timespec ts;
	abs_deadline(&ts, end);
	kc_err err = KC_OK;
	pthread_mutex_lock(&r->lock);
	while ((r->head || r->busy) && !r->worker_done) {
		if (kc_now_mono_ms() >= end) {
			err = KC_ERR_TIMEOUT;
			break;
		}
		pthread_cond_timedwait(&r->idle, &r->lock, &ts);
	}
	pthread_mutex_unlock(&r->lock);
	return err;
}

void kc_recorder_stop(kc_recorder *r, int64_t drain_timeout_ms)
{
	if (!r || r->joined)
		return;
	kc_evwrite batch[TICK_BATCH];
	pthread_mutex_lock(&r->lock);
	if (!r->stopping) {
		/* The final count of every open series, before the drain. */
		size_t n;
		do {
			n = kc_evcorr_tick(r->corr, kc_now_mono_ms(), true, batch, TICK_BATCH);
			for (size_t i = 0; i < n; i++)
				enqueue(r, &batch[i]);
		} while (n == TICK_BATCH);
		r->stopping = true;
		pthread_cond_signal(&r->wake);
	}
	int64_t end = kc_now_mono_ms() + (drain_timeout_ms > 0 ? drain_timeout_ms : 0);
	struct timespec ts;
	abs_deadline(&ts, end);
	while (!r->worker_done && kc_now_mono_ms() < end)
		pthread_cond_timedwait(&r->idle, &r->lock, &ts);
	pthread_mutex_unlock(&r->lock);
	kc_cancel_fire(r->cancel); /* abandon a request or a retry sleep in progress */
	pthread_join(r->thread, NULL);
	r->joined = true;
}

void kc_recorder_free(kc_recorder *r)
{
	if (!r)
		return;
	kc_recorder_stop(r, 0);
	kc_evcorr_free(r->corr);
	kc_cancel_free(r->cancel);
	pthread_cond_destroy(&r->idle);
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->lock);
	kc_free(r);
}

void kc_recorder_get_stats(kc_recorder *r, kc_recorder_stats *out)
{
	if (!r || !out)
		return;
	pthread_mutex_lock(&r->lock);
	*out = r->stats;
	out->queued = r->qlen;
	pthread_mutex_unlock(&r->lock);
}

const char *kc_recorder_instance(const kc_recorder *r)
{
	return r ? r->instance : "";
}
