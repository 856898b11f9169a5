/*
 * kc/events.h - the events.k8s.io/v1 event recorder.
 *
 * Mirrors client-go tools/events (event_recorder.go makeEvent,
 * event_broadcaster.go recordToSink / getKey / refreshExistingEventSeries /
 * finishSeries / recordEvent / attemptRecording) and the API server's
 * events validation (pkg/apis/core/validation/events.go: reason and action
 * 1..128 bytes, note <= 1024 bytes, reportingInstance <= 128 bytes, type
 * Normal|Warning, eventTime set). Two layers:
 *
 *   kc_evcorr    the pure correlator: an occurrence + clock in, the writes to
 *                make out (CREATE an Event, or PATCH its series). No I/O, no
 *                clock reads; unit-tested with a fake clock.
 *   kc_recorder  the handle: kc_recorder_eventf (never blocks on the network),
 *                a bounded queue, and a worker thread writing through kc_client.
 *
 * Series (event_broadcaster.go recordToSink):
 *   - the first occurrence of a key is CREATEd as a new Event named
 *     regarding.name + "." + a unique hex suffix (util.GenerateEventName; a
 *     random hex name when that is not a valid DNS subdomain) in regarding's
 *     namespace, or "default" for cluster-scoped objects (makeEvent);
 *   - the second occurrence PATCHes that Event (strategic merge patch) with
 *     series {count: 2, lastObservedTime}; a PATCH answered 404 CREATEs the
 *     event with its series instead;
 *   - later occurrences only count (count++, lastObservedTime) in memory;
 *   - every series is re-sent (PATCH with the current count) 30 min after its
 *     last write (upstream: refreshExistingEventSeries on a 30 min ticker), which
 *     also keeps the Event from expiring under the API server's event TTL;
 *   - a key idle for 6 min is finished (finishSeries): a series whose count
 *     changed since its last write gets a final PATCH, and the key is forgotten,
 *     so the next occurrence is a new Event. Upstream checks on a 6 min ticker
 *     (idle 6-12 min) and re-sends even an unchanged count; here the check runs
 *     every tick (1 s) and an unchanged count is not re-sent.
 *   - the key is upstream's getKey (type, action, reason, reportingController,
 *     reportingInstance, regarding, related) PLUS the note: firebreak's notes
 *     name the pod or node they are about, and folding different notes into one
 *     series would hide all but the first from the operator.
 *
 * Writes (attemptRecording / recordEvent): up to 12 tries, KC_EVENT_RETRY_MS
 * apart jittered by up to +25 % (wait.Jitter(d, 0.25): [d, 1.25 d)); transport
 * errors, timeouts, 5xx, 429 and 409 Conflict are retried; other 4xx are not
 * (the event is malformed: abandoned). AlreadyExists on a plain CREATE means an
 * earlier try landed (done); on the CREATE that follows a PATCH 404 it means
 * the first CREATE raced us, so the PATCH is retried. Not done: the core/v1
 * fallback for clusters without events.k8s.io/v1 (record/events_cache.go spam
 * filter and aggregation).
 */
#ifndef KC_EVENTS_H
#define KC_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kc/client.h"
#include "kc/error.h"

#define KC_EVENT_REASON_MAX     128   /* bytes, validation ReasonLengthLimit */
#define KC_EVENT_ACTION_MAX     128   /* ActionLengthLimit */
#define KC_EVENT_NOTE_MAX       1024  /* NoteLengthLimit */
#define KC_EVENT_INSTANCE_MAX   128   /* ReportingInstanceLengthLimit */
#define KC_EVENT_CONTROLLER_MAX 316   /* a qualified name: 253 prefix + '/' + 63 - 1 */
#define KC_EVENT_FIELD_MAX      253   /* each objref field we copy */
#define KC_EVENT_QUEUE_MAX      1000  /* maxQueuedEvents */
#define KC_EVENT_MAX_TRIES      12    /* maxTriesPerEvent */
#define KC_EVENT_RETRY_MS       10000 /* defaultSleepDuration */
#define KC_EVENT_FINISH_MS      (6 * 60 * 1000)  /* finishTime */
#define KC_EVENT_REFRESH_MS     (30 * 60 * 1000) /* refreshTime */
#define KC_EVENT_CACHE_MAX      4096  /* keys remembered; the least recently seen goes */

/* An object reference (core/v1 ObjectReference subset). Strings are borrowed. */
typedef struct kc_objref {
	const char *api_version; /* "v1", "apps/v1" */
	const char *kind;
	const char *namespace;   /* NULL or "" for cluster-scoped objects */
	const char *name;        /* required for regarding */
	const char *uid;         /* may be NULL */
} kc_objref;

typedef enum kc_event_type {
	KC_EVENT_NORMAL,
	KC_EVENT_WARNING,
} kc_event_type;

/*
 * Copy s into dst (cap bytes) cutting at a UTF-8 character boundary so the
 * result has at most max_bytes bytes (and fits cap). Returns the length.
 */
size_t kc_utf8_truncate(char *dst, size_t cap, const char *s, size_t max_bytes);

/* ---- Pure correlator -------------------------------------------------------- */

typedef enum kc_evwrite_kind {
	KC_EVWRITE_CREATE, /* POST create_body */
	KC_EVWRITE_PATCH,  /* PATCH name with patch_body; on 404 POST create_body */
} kc_evwrite_kind;

/* One write, self-contained. Owned by whoever holds it: kc_evwrite_release. */
typedef struct kc_evwrite {
	kc_evwrite_kind kind;
	char *ns;
	char *name;
	char *create_body;   /* the whole Event (with series once count >= 2) */
	char *patch_body;    /* {"series":{...}}; NULL for CREATE */
} kc_evwrite;

void kc_evwrite_release(kc_evwrite *w);

typedef struct kc_evcorr kc_evcorr;

typedef struct kc_evcorr_options {
	const char *reporting_controller; /* required: a qualified name, "firebreak.dev/firebreak" */
	const char *reporting_instance;   /* required; truncated to 128 bytes */
	int64_t finish_ms;                /* 0: KC_EVENT_FINISH_MS */
	int64_t refresh_ms;               /* 0: KC_EVENT_REFRESH_MS */
	size_t cache_max;                 /* 0: KC_EVENT_CACHE_MAX */
} kc_evcorr_options;

/* KC_ERR_INVALID (empty controller/instance), KC_ERR_NOMEM; *out untouched. */
kc_err kc_evcorr_new(const kc_evcorr_options *o, kc_evcorr **out);
void kc_evcorr_free(kc_evcorr *c);

/*
 * One occurrence at now_mono_ms (windows) / now_wall_us (eventTime,
 * lastObservedTime). reason and action are required (KC_ERR_INVALID when
 * empty) and are cut to 128 bytes, note to 1024 bytes, on UTF-8 boundaries;
 * regarding->name is required. Fills out[0..*n) with 0, 1 or 2 writes (a
 * finished series' final PATCH may precede a CREATE); the caller owns them.
 * On failure (KC_ERR_INVALID, KC_ERR_NOMEM, KC_ERR_TOOBIG) the occurrence is
 * not recorded, but writes already due are still in out[0..*n): release them.
 */
kc_err kc_evcorr_observe(kc_evcorr *c, const kc_objref *regarding, const kc_objref *related,
                         kc_event_type type, const char *reason, const char *action,
                         const char *note, int64_t now_mono_ms, int64_t now_wall_us,
                         kc_evwrite out[2], size_t *n);

/*
 * Periodic work: refresh and finish series as described above. Writes at
 * most max entries into out and returns how many; what did not fit is done on
 * a later call. all = finish every key now (shutdown).
 */
size_t kc_evcorr_tick(kc_evcorr *c, int64_t now_mono_ms, bool all, kc_evwrite *out, size_t max);

/* Forget the key whose Event is named name (its CREATE could not be queued). */
void kc_evcorr_forget(kc_evcorr *c, const char *ns, const char *name);
/* Keys remembered. */
size_t kc_evcorr_size(const kc_evcorr *c);

/* ---- The recorder handle -------------------------------------------------- */

typedef struct kc_recorder kc_recorder;

typedef struct kc_recorder_options {
	const char *reporting_controller; /* required, e.g. "firebreak.dev/firebreak" */
	const char *reporting_instance;   /* NULL: controller + "-" + hostname */
	size_t queue_max;                 /* 0: KC_EVENT_QUEUE_MAX */
	int max_tries;                    /* 0: KC_EVENT_MAX_TRIES */
	int64_t retry_interval_ms;        /* 0: KC_EVENT_RETRY_MS (tests use a few ms) */
	int64_t finish_ms;                /* 0: KC_EVENT_FINISH_MS */
	int64_t refresh_ms;               /* 0: KC_EVENT_REFRESH_MS */
	int64_t tick_ms;                  /* 0: 1000, how often series are checked */
	long request_timeout_ms;          /* 0: the client's */
} kc_recorder_options;

typedef struct kc_recorder_stats {
	uint64_t accepted;   /* occurrences taken by eventf */
	uint64_t folded;     /* occurrences counted into a series without a write */
	uint64_t dropped;    /* writes refused because the queue was full */
	uint64_t written;    /* writes the server accepted */
	uint64_t failed;     /* writes given up (non-retriable or out of tries) */
	uint64_t abandoned;  /* writes dropped at stop */
	uint64_t retries;    /* tries after the first */
	size_t queued;       /* writes waiting now */
} kc_recorder_stats;

/*
 * Create a recorder and start its worker thread. client is borrowed and must
 * outlive the recorder. KC_ERR_INVALID (message in d), KC_ERR_NOMEM; on
 * failure *out is untouched.
 */
kc_err kc_recorder_new(kc_client *client, const kc_recorder_options *o, kc_recorder **out,
                       kc_error_detail *d);

/*
 * Record an event. Thread-safe; never waits for the network: the write is
 * queued for the worker. Returns KC_OK when queued or folded into a series,
 * KC_ERR_TOO_MANY when the queue was full (the write is dropped and counted),
 * KC_ERR_INVALID for a missing regarding name, reason or action,
 * KC_ERR_CANCELED after kc_recorder_stop, KC_ERR_NOMEM.
 */
kc_err kc_recorder_eventf(kc_recorder *r, const kc_objref *regarding, const kc_objref *related,
                          kc_event_type type, const char *reason, const char *action,
                          const char *fmt, ...) __attribute__((format(printf, 7, 8)));
kc_err kc_recorder_event(kc_recorder *r, const kc_objref *regarding, const kc_objref *related,
                         kc_event_type type, const char *reason, const char *action,
                         const char *note);

/* Wait until every queued write is done. KC_ERR_TIMEOUT if not within timeout_ms. */
kc_err kc_recorder_flush(kc_recorder *r, int64_t timeout_ms);

/*
 * Stop accepting events, queue the final PATCH of every open series, try to
 * drain the queue for up to drain_timeout_ms, then abandon what is left
 * (aborting a request or retry sleep in progress) and join the worker.
 * Returns within drain_timeout_ms plus about a second. Idempotent.
 */
void kc_recorder_stop(kc_recorder *r, int64_t drain_timeout_ms);
/* Stops (drain timeout 0) if needed and frees. Accepts NULL. */
void kc_recorder_free(kc_recorder *r);

void kc_recorder_get_stats(kc_recorder *r, kc_recorder_stats *out);
/* The reportingInstance in use. */
const char *kc_recorder_instance(const kc_recorder *r);

#endif
