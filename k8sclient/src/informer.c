/*
 * informer.c - the projected-object cache fed by a reflector (kc/informer.h).
 *
 * Mirrors client-go's sharedIndexInformer.HandleDeltas / processDeltas
 * (shared_informer.go) and DeltaFIFO.Replace (delta_fifo.go) without the
 * queue: the reflector thread applies each change to the cache under the
 * write lock, drops the lock, then notifies. Only this thread writes, so the
 * objects it hands to callbacks cannot change or vanish under them.
 *
 * Replace: each LIST gets a generation number; every listed object is marked
 * with it, and at list_end the objects not marked are deleted (notified as
 * deletions, as DeltaFIFO.Replace queues Deleted for keys missing from the
 * list). Objects are applied as pages arrive, so a relist never holds more
 * than one page of JSON.
 *
 * Work per lock hold is one object, so readers (the controller) never wait
 * behind a burst of thousands of events.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "kc/alloc.h"
#include "kc/informer.h"
#include "kc/time.h"
#include "objmap.h"

struct kc_informer {
	kc_client *c;
	kc_informer_options o;           /* strings below are owned copies */
	char *ns, *label_selector, *field_selector;

	pthread_rwlock_t lock;           /* guards map (writers: the informer thread) */
	kc_objmap map;
	uint32_t gen;                    /* generation of the LIST in progress */
	bool listing;

	pthread_mutex_t sync_lock;
	pthread_cond_t sync_cond;        /* CLOCK_MONOTONIC */
	atomic_bool synced;

	kc_cancel *cancel;
	kc_reflector_stats_cell *stats;
	pthread_t thread;
	bool started, joined;
};

/* ---- keys -------------------------------------------------------------------- */

/* MetaNamespaceKeyFunc: "namespace/name", or "name" without a namespace. */
static kc_err make_key(char out[KC_OBJMAP_KEY_MAX], const char *ns, const char *name,
                       size_t *len)
{
	size_t nl = ns ? strlen(ns) : 0, ml = name ? strlen(name) : 0;
	if (ml == 0)
		return KC_ERR_PARSE;
	size_t total = nl ? nl + 1 + ml : ml;
	if (total >= KC_OBJMAP_KEY_MAX)
		return KC_ERR_PARSE;
	size_t at = 0;
	if (nl) {
		memcpy(out, ns, nl);
		out[nl] = '/';
		at = nl + 1;
	}
	memcpy(out + at, name, ml);
	out[total] = '\0';
	*len = total;
	return KC_OK;
}

static kc_err key_of(const cJSON *obj, char out[KC_OBJMAP_KEY_MAX], size_t *len,
                     int64_t *rv)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	if (!cJSON_IsObject(meta))
		return KC_ERR_PARSE;
	*rv = kc__rv_parse(kc__json_str(meta, "resourceVersion"));
	return make_key(out, kc__json_str(meta, "namespace"), kc__json_str(meta, "name"), len);
}

/* ---- applying changes (the reflector thread) --------------------------------- */

/* Add or update obj: the Added/Updated/Replaced/Sync branch of processDeltas. */
static kc_err upsert(kc_informer *inf, const cJSON *obj)
{
	char key[KC_OBJMAP_KEY_MAX];
	size_t klen;
	int64_t rv;
	kc_err err = key_of(obj, key, &klen, &rv);
	if (err)
		return err;
	kc_objent *e = kc__objmap_get(&inf->map, key, klen);
	if (e) {
		e->mark = inf->gen; /* read and written only on this thread */
		if (rv >= 0 && e->rv == rv)
			return KC_OK; /* a relist of an object we already hold */
	}
	void *fresh = inf->o.project(obj, inf->o.ud);
	if (!fresh)
		return KC_ERR_NOMEM;
	void *old = NULL;
	pthread_rwlock_wrlock(&inf->lock);
	if (e) {
		old = e->obj;
	} else {
		err = kc__objmap_insert(&inf->map, key, klen, &e);
		if (err) {
			pthread_rwlock_unlock(&inf->lock);
			inf->o.free_obj(fresh, inf->o.ud);
			return err;
		}
		e->mark = inf->gen;
	}
	e->obj = fresh;
	e->rv = rv;
	pthread_rwlock_unlock(&inf->lock);
	if (old) {
		if (inf->o.on_update)
			inf->o.on_update(key, old, fresh, inf->o.ud);
		inf->o.free_obj(old, inf->o.ud);
	} else if (inf->o.on_add) {
		inf->o.on_add(key, fresh, inf->o.ud);
	}
	return KC_OK;
}

/* Remove e (key is a copy of e->key) and notify with its last projection. */
static void remove_entry(kc_informer *inf, kc_objent *e, const char *key)
{
	pthread_rwlock_wrlock(&inf->lock);
	void *obj = e->obj;
	kc__objmap_remove(&inf->map, e);
	pthread_rwlock_unlock(&inf->lock);
	if (inf->o.on_delete)
		inf->o.on_delete(key, obj, inf->o.ud);
	inf->o.free_obj(obj, inf->o.ud);
}

static kc_err h_list_begin(void *ud)
{
	kc_informer *inf = ud;
	if (++inf->gen == 0)
		inf->gen = 1;
	inf->listing = true;
	return KC_OK;
}

static kc_err h_list_item(void *ud, const cJSON *obj)
{
	return upsert(ud, obj);
}

/*
 * DeltaFIFO.Replace: keys we hold that the complete list did not contain
 * are deleted. Deleting shifts later entries back into the current slot, so
 * the slot is examined again; entries that wrap around from the table's
 * start were already examined and kept (same argument as Knuth's 6.4 R).
 */
static kc_err h_list_end(void *ud, const char *rv)
{
	kc_informer *inf = ud;
	(void)rv;
	kc_objmap *m = &inf->map;
	for (size_t i = 0; i < m->cap; i++) {
		kc_objent *e;
		while ((e = m->slots[i]) != NULL && e->mark != inf->gen) {
			char key[KC_OBJMAP_KEY_MAX];
			size_t kl = strlen(e->key);
			memcpy(key, e->key, kl + 1);
			remove_entry(inf, e, key);
		}
	}
	inf->listing = false;
	if (!atomic_load(&inf->synced)) {
		pthread_mutex_lock(&inf->sync_lock);
		atomic_store(&inf->synced, true);
		pthread_cond_broadcast(&inf->sync_cond);
		pthread_mutex_unlock(&inf->sync_lock);
	}
	return KC_OK;
}

static void h_list_abort(void *ud)
{
	kc_informer *inf = ud;
	inf->listing = false;
}

static kc_err h_event(void *ud, kc_watch_type type, const cJSON *obj)
{
	kc_informer *inf = ud;
	if (type == KC_WATCH_ADDED || type == KC_WATCH_MODIFIED)
		return upsert(inf, obj);
	if (type != KC_WATCH_DELETED)
		return KC_OK;
	char key[KC_OBJMAP_KEY_MAX];
	size_t klen;
	int64_t rv;
	kc_err err = key_of(obj, key, &klen, &rv);
	if (err)
		return err;
	kc_objent *e = kc__objmap_get(&inf->map, key, klen);
	if (e)
		remove_entry(inf, e, key);
	return KC_OK;
}

static void h_failure(void *ud, kc_err err, const kc_error_detail *d, int64_t retry_in_ms)
{
	kc_informer *inf = ud;
	if (inf->o.on_failure)
		inf->o.on_failure(err, d, retry_in_ms, inf->o.ud);
}

static const kc_reflector_handler informer_handler = {
	.list_begin = h_list_begin,
	.list_item = h_list_item,
	.list_end = h_list_end,
	.list_abort = h_list_abort,
	.event = h_event,
	.failure = h_failure,
};

void kc_informer_handler(kc_informer *inf, kc_reflector_handler *h, void **ud)
{
	*h = informer_handler;
	*ud = inf;
}

/* ---- lifecycle ---------------------------------------------------------------- */

kc_err kc_informer_new(kc_client *c, const kc_informer_options *opts, kc_informer **out)
{
	if (!opts || !opts->watch.resource || !opts->project || !opts->free_obj)
		return KC_ERR_INVALID;
	kc_informer *inf = kc_calloc(1, sizeof(*inf));
	if (!inf)
		return KC_ERR_NOMEM;
	inf->c = c;
	inf->o = *opts;
	kc_err err = KC_ERR_NOMEM;
	if (opts->watch.ns && !(inf->ns = kc_strdup(opts->watch.ns)))
		goto out_free;
	if (opts->watch.label_selector &&
	    !(inf->label_selector = kc_strdup(opts->watch.label_selector)))
		goto out_free;
	if (opts->watch.field_selector &&
	    !(inf->field_selector = kc_strdup(opts->watch.field_selector)))
		goto out_free;
	inf->o.watch.ns = inf->ns;
	inf->o.watch.label_selector = inf->label_selector;
	inf->o.watch.field_selector = inf->field_selector;
	if ((err = kc_cancel_new(&inf->cancel)) != KC_OK)
		goto out_free;
	if ((err = kc_reflector_stats_cell_new(&inf->stats)) != KC_OK)
		goto out_free_cancel;
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&inf->sync_cond, &attr);
	pthread_condattr_destroy(&attr);
	pthread_mutex_init(&inf->sync_lock, NULL);
	pthread_rwlock_init(&inf->lock, NULL);
	atomic_init(&inf->synced, false);
	kc__objmap_init(&inf->map);
	*out = inf;
	return KC_OK;

out_free_cancel:
	kc_cancel_free(inf->cancel);
out_free:
	kc_free(inf->ns);
	kc_free(inf->label_selector);
	kc_free(inf->field_selector);
	kc_free(inf);
	return err;
}

static void *informer_main(void *arg)
{
	kc_informer *inf = arg;
	kc_reflector_run(inf->c, &inf->o.watch, &informer_handler, inf, inf->cancel, inf->stats);
	return NULL;
}

kc_err kc_informer_start(kc_informer *inf)
{
	if (!inf || !inf->c || inf->started)
		return KC_ERR_INVALID;
	if (pthread_create(&inf->thread, NULL, informer_main, inf) != 0)
		return KC_ERR_NOMEM;
	inf->started = true;
	return KC_OK;
}

void kc_informer_stop(kc_informer *inf)
{
	if (!inf || !inf->started || inf->joined)
		return;
	kc_cancel_fire(inf->cancel);
	pthread_join(inf->thread, NULL);
	inf->joined = true;
}

static void free_obj_cb(void *ud, void *obj)
{
	kc_informer *inf = ud;
	inf->o.free_obj(obj, inf->o.ud);
}

void kc_informer_free(kc_informer *inf)
{
	if (!inf)
		return;
	kc_informer_stop(inf);
	kc__objmap_release(&inf->map, free_obj_cb, inf);
	pthread_rwlock_destroy(&inf->lock);
	pthread_cond_destroy(&inf->sync_cond);
	pthread_mutex_destroy(&inf->sync_lock);
	kc_reflector_stats_cell_free(inf->stats);
	kc_cancel_free(inf->cancel);
	kc_free(inf->ns);
	kc_free(inf->label_selector);
	kc_free(inf->field_selector);
	kc_free(inf);
}

/* ---- readers ------------------------------------------------------------------ */

bool kc_informer_has_synced(kc_informer *inf)
{
	return atomic_load(&inf->synced);
}

kc_err kc_informer_wait_synced(kc_informer *inf, int64_t timeout_ms, kc_cancel *cancel)
{
	/* wait in slices so a caller's cancel token is noticed within 50 ms */
	const int64_t slice_ms = 50;
	int64_t deadline = timeout_ms < 0 ? -1 : kc_now_mono_ms() + timeout_ms;
	kc_err err = KC_OK;
	pthread_mutex_lock(&inf->sync_lock);
	while (!atomic_load(&inf->synced)) {
		if (kc_cancel_fired(cancel)) {
			err = KC_ERR_CANCELED;
			break;
		}
		int64_t now = kc_now_mono_ms();
		if (deadline >= 0 && now >= deadline) {
			err = KC_ERR_TIMEOUT;
			break;
		}
		int64_t wait = slice_ms;
		if (deadline >= 0 && deadline - now < wait)
			wait = deadline - now;
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += (long)(wait % 1000) * 1000000L;
		ts.tv_sec += (time_t)(wait / 1000) + ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&inf->sync_cond, &inf->sync_lock, &ts);
	}
	pthread_mutex_unlock(&inf->sync_lock);
	return err;
}

bool kc_informer_get(kc_informer *inf, const char *ns, const char *name,
                     void (*visit)(const char *key, const void *obj, void *ud), void *ud)
{
	char key[KC_OBJMAP_KEY_MAX];
	size_t klen;
	if (make_key(key, ns, name, &klen) != KC_OK)
		return false;
	pthread_rwlock_rdlock(&inf->lock);
	kc_objent *e = kc__objmap_get(&inf->map, key, klen);
	if (e && visit)
		visit(e->key, e->obj, ud);
	pthread_rwlock_unlock(&inf->lock);
	return e != NULL;
}

size_t kc_informer_foreach(kc_informer *inf,
                           bool (*visit)(const char *key, const void *obj, void *ud),
                           void *ud)
{
	size_t n = 0;
	pthread_rwlock_rdlock(&inf->lock);
	for (size_t i = 0; i < inf->map.cap; i++) {
		const kc_objent *e = inf->map.slots[i];
		if (!e)
			continue;
		n++;
		if (!visit(e->key, e->obj, ud))
			break;
	}
	pthread_rwlock_unlock(&inf->lock);
	return n;
}

size_t kc_informer_count(kc_informer *inf)
{
	pthread_rwlock_rdlock(&inf->lock);
	size_t n = inf->map.len;
	pthread_rwlock_unlock(&inf->lock);
	return n;
}

void kc_informer_stats(kc_informer *inf, kc_reflector_stats *out)
{
	kc_reflector_stats_get(inf->stats, out);
}
