/*
 * kc/informer.h - a cache of projected objects kept current by a reflector
 * (client-go's tools/cache shared_informer.go + DeltaFIFO + indexer, reduced
 * to what a controller needs).
 *
 * The informer never keeps a JSON document. For every object it sees, it
 * calls the caller's project() to extract the few fields the caller needs
 * into the caller's own small struct, and stores only that, keyed by
 * "namespace/name" ("name" for cluster-scoped objects), with the object's
 * resourceVersion. This is where the memory target (150,000 pods in a tenth
 * of a client-go informer) is won: per object the cache holds one entry of
 * about 24 bytes plus the key, one table slot, and the caller's projection.
 *
 * Threads: kc_informer_start runs the list/watch loop (kc/watch.h) on a
 * thread of its own. The add/update/delete callbacks run on that thread, one
 * at a time, after the cache already reflects the change (a callback that
 * reads the cache sees the new state). The cache read functions below are
 * safe from any thread, including from inside a callback.
 *
 * Ownership: projected objects belong to the informer from the moment
 * project() returns them until it calls free_obj(). A pointer handed to a
 * callback or a visit function is valid only during that call; copy what you
 * need. Never modify a projected object through these pointers.
 */
#ifndef KC_INFORMER_H
#define KC_INFORMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "kc/cancel.h"
#include "kc/client.h"
#include "kc/error.h"
#include "kc/watch.h"

typedef struct kc_informer kc_informer;

typedef struct kc_informer_options {
	/*
	 * What to watch and how: resource (required), ns (NULL = all), label and
	 * field selectors, page size, stall timeout, backoff timings (tests
	 * scale them down). The informer copies the strings; the kc_resource
	 * itself (normally one of the static KC_RES_*) must outlive the informer.
	 */
	kc_reflector_options watch;

	/*
	 * Required. Extract what you need from obj (borrowed, valid only during
	 * the call) into a new allocation; NULL means out of memory (the list or
	 * watch is retried later). Called on the informer thread.
	 */
	void *(*project)(const cJSON *obj, void *ud);
	/* Required. Free what project() returned. */
	void (*free_obj)(void *obj, void *ud);

	/*
	 * Optional notifications (shared_informer.go ResourceEventHandler), on
	 * the informer thread, with the cache already updated:
	 *   on_add     a new key (from a LIST or an ADDED/MODIFIED event);
	 *   on_update  a known key whose resourceVersion changed (old and new
	 *              projections; old is freed right after the call). A relist
	 *              does not notify objects whose resourceVersion is unchanged
	 *              (client-go sends those as Replaced updates, which
	 *              controllers then filter by resourceVersion);
	 *   on_delete  a DELETED event, or an object missing from a new LIST
	 *              (DeltaFIFO.Replace); obj is the last known projection,
	 *              freed right after the call.
	 */
	void (*on_add)(const char *key, const void *obj, void *ud);
	void (*on_update)(const char *key, const void *old_obj, const void *new_obj, void *ud);
	void (*on_delete)(const char *key, const void *obj, void *ud);
	/*
	 * Optional: a LIST or WATCH failed (err; d holds the API server's
	 * message and Status reason) and is tried again in retry_in_ms
	 * (kc_reflector_handler.failure). On the informer thread; must not block.
	 */
	void (*on_failure)(kc_err err, const kc_error_detail *d, int64_t retry_in_ms, void *ud);
	void *ud;
} kc_informer_options;

/*
 * Create an informer (not running). c may be NULL only if the informer is
 * fed by hand (kc_informer_handler) and never started. KC_ERR_INVALID
 * without resource, project or free_obj; KC_ERR_NOMEM. *out untouched on
 * failure. The client must outlive the informer.
 */
kc_err kc_informer_new(kc_client *c, const kc_informer_options *opts, kc_informer **out);

/* Start the list/watch thread. KC_ERR_INVALID if already started or no client. */
kc_err kc_informer_start(kc_informer *inf);
/*
 * Cancel the list/watch and join the thread; returns once it has stopped
 * (promptly: an in-flight request is aborted). Idempotent; a no-op if never
 * started. Not callable from inside a callback. The cache stays readable.
 */
void kc_informer_stop(kc_informer *inf);
/* Stop, then free the cache (free_obj on every object) and the handle. Accepts NULL. */
void kc_informer_free(kc_informer *inf);

/* True once the first complete LIST is in the cache and notified (HasSynced). */
bool kc_informer_has_synced(kc_informer *inf);
/*
 * Wait for has_synced. timeout_ms < 0 waits without limit. Returns KC_OK,
 * KC_ERR_TIMEOUT, or KC_ERR_CANCELED when cancel (may be NULL) fires.
 */
kc_err kc_informer_wait_synced(kc_informer *inf, int64_t timeout_ms, kc_cancel *cancel);

/*
 * Look up ns/name (ns NULL or "" for cluster-scoped objects). If present,
 * visit(key, obj, ud) runs under the cache's read lock and true is returned.
 * Keep visit short: the informer thread waits for it to update the cache.
 */
bool kc_informer_get(kc_informer *inf, const char *ns, const char *name,
                     void (*visit)(const char *key, const void *obj, void *ud), void *ud);
/*
 * Call visit for every cached object, in no particular order, under the read
 * lock, until it returns false. Returns the number of calls made.
 */
size_t kc_informer_foreach(kc_informer *inf,
                           bool (*visit)(const char *key, const void *obj, void *ud),
                           void *ud);
/* Number of cached objects. */
size_t kc_informer_count(kc_informer *inf);
/* The reflector's counters (lists, watches, events, failures, last RV). */
void kc_informer_stats(kc_informer *inf, kc_reflector_stats *out);

/*
 * The handler through which the reflector feeds this informer's cache, for
 * driving an informer without a server (tests, fuzzing, replaying a
 * recording). Never use it while the informer is started.
 */
void kc_informer_handler(kc_informer *inf, kc_reflector_handler *h, void **ud);

#endif
