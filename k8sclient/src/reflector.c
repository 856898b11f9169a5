/*
 * reflector.c - LIST + WATCH forever (kc/watch.h kc_reflector_run).
 *
 * A C rendering of client-go's tools/cache/reflector.go (Reflector.Run,
 * ListAndWatch, list, watch, handleWatch, relistResourceVersion) and of
 * tools/pager/pager.go (ListPager.list), with one deliberate difference: list
 * pages are handed to the caller one object at a time and freed page by page,
 * never accumulated into one list (the informer keeps only projections).
 *
 * Control flow, as upstream:
 *   run:            loop { listAndWatch; back off (BackoffUntil, sliding) }
 *   listAndWatch:   list (paginated), then watch in a loop:
 *                     clean end              -> re-watch at once, same RV
 *                     429 / refused connect  -> back off, re-watch
 *                     anything else          -> return (back off, relist)
 *   backoff:        NewExponentialBackoffManager(800ms, 30s, 2m, 2.0, 1.0)
 *
 * Every wait is a kc_cancel_sleep and every request carries the cancel token,
 * so a fired cancel ends the run promptly.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "kc/alloc.h"
#include "kc/time.h"
#include "kc/watch.h"

#define REFL_QUERY_MAX    (64u << 10) /* one request's query string */
#define REFL_CONTINUE_MAX (64u << 10) /* one continue token */
#define REFL_PATH_MAX     4096

struct kc_reflector_stats_cell {
	pthread_mutex_t lock;
	kc_reflector_stats s;
};

kc_err kc_reflector_stats_cell_new(kc_reflector_stats_cell **out)
{
	kc_reflector_stats_cell *s = kc_calloc(1, sizeof(*s));
	if (!s)
		return KC_ERR_NOMEM;
	pthread_mutex_init(&s->lock, NULL);
	*out = s;
	return KC_OK;
}

void kc_reflector_stats_cell_free(kc_reflector_stats_cell *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	kc_free(s);
}

void kc_reflector_stats_get(kc_reflector_stats_cell *s, kc_reflector_stats *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->s;
	pthread_mutex_unlock(&s->lock);
}

/* What to do after one watch ended. */
typedef enum watch_next {
	WATCH_AGAIN,          /* re-watch at once from the last RV */
	WATCH_BACKOFF_AGAIN,  /* back off, then re-watch (isWatchErrorRetriable, 429) */
	WATCH_RELIST,         /* return from listAndWatch: back off and relist */
} watch_next;

typedef struct refl {
	kc_client *c;
	kc_reflector_options o;             /* defaults filled in */
	const kc_reflector_handler *h;
	void *ud;
	kc_cancel *cancel;
	kc_reflector_stats_cell *stats;
	kc_buf path;

	char last_sync_rv[KC_RV_MAX];       /* lastSyncResourceVersion */
	bool rv_unavailable;                /* isLastSyncResourceVersionUnavailable */
	bool paginated_result;              /* a LIST came back in pages (reflector.paginatedResult) */
	bool force_paginate;                /* an unpaginated LIST passed the response cap */

	bool backoff_used;                  /* exponentialBackoffManagerImpl state */
	int64_t backoff_cur_ms;
	int64_t backoff_last_ms;

	/* the watch in progress */
	kc_watch_framer framer;
	uint64_t watch_events;              /* events of any type, bookmarks included */
	uint64_t watch_bytes;
	kc_error_detail line_detail;        /* why a line stopped the stream */
} refl;

/* ---- small helpers ----------------------------------------------------------- */

static void stats_update(refl *r, void (*fn)(kc_reflector_stats *s, const void *arg),
                         const void *arg)
{
	if (!r->stats)
		return;
	pthread_mutex_lock(&r->stats->lock);
	fn(&r->stats->s, arg);
	pthread_mutex_unlock(&r->stats->lock);
}

static void st_list_page(kc_reflector_stats *s, const void *a) { (void)a; s->list_pages++; }
static void st_watch(kc_reflector_stats *s, const void *a) { (void)a; s->watches++; }
/* A complete LIST, an event or a bookmark: the stream works again, nothing fails in a row. */
static void working(kc_reflector_stats *s)
{
	s->failures_in_row = 0;
	s->retry_at_mono_ms = 0;
}

static void st_event(kc_reflector_stats *s, const void *a) { (void)a; s->events++; working(s); }
static void st_bookmark(kc_reflector_stats *s, const void *a) { (void)a; s->bookmarks++; working(s); }
static void st_list_done(kc_reflector_stats *s, const void *a) { (void)a; s->lists++; working(s); }

static void st_sync_rv(kc_reflector_stats *s, const void *a)
{
	int n = snprintf(s->last_sync_rv, sizeof(s->last_sync_rv), "%s", (const char *)a);
	(void)n;
}

typedef struct failure_note {
	kc_err err;
	const kc_error_detail *d;
	int64_t retry_at_mono_ms;
} failure_note;

static void st_failure(kc_reflector_stats *s, const void *a)
{
	const failure_note *f = a;
	s->failures++;
	s->failures_in_row++;
	s->retry_at_mono_ms = f->retry_at_mono_ms;
	s->last_err = f->err;
	/* truncated to fit: the message is for humans */
	size_t cap = sizeof(s->last_err_message), at = 0;
	const char *parts[3] = {kc_strerror(f->err), f->d && f->d->message[0] ? ": " : "",
	                        f->d ? f->d->message : ""};
	for (size_t i = 0; i < 3; i++) {
		size_t n = strnlen(parts[i], cap - 1 - at);
		memcpy(s->last_err_message + at, parts[i], n);
		at += n;
	}
	s->last_err_message[at] = '\0';
}

static void set_last_sync_rv(refl *r, const char *rv)
{
	int n = snprintf(r->last_sync_rv, sizeof(r->last_sync_rv), "%s", rv);
	(void)n;
	stats_update(r, st_sync_rv, r->last_sync_rv);
}

/*
 * reflector.go relistResourceVersion: "" (consistent read) once the last
 * version is known to be unavailable, "0" (any version, from the watch cache)
 * for the very first list, else the last synced version.
 */
static const char *relist_rv(const refl *r)
{
	if (r->rv_unavailable)
		return "";
	if (!r->last_sync_rv[0])
		return "0";
	return r->last_sync_rv;
}

/*
 * reflector.go list(): the page size. With a specific resourceVersion, an
 * unpaginated LIST can be served from the watch cache, so paging is switched
 * off unless the server has shown it pages (paginatedResult). Unlike
 * upstream, once an unpaginated answer passed KC_RESPONSE_MAX_BYTES we always
 * page: the memory target does not allow one huge response.
 */
static int page_size_for(const refl *r, const char *rv)
{
	if (r->o.page_size < 0)
		return 0;
	if (r->paginated_result || r->force_paginate)
		return r->o.page_size;
	if (rv[0] && strcmp(rv, "0") != 0)
		return 0;
	return r->o.page_size;
}

/* apierrors.IsResourceExpired || apierrors.IsGone (reflector.go isExpiredError). */
static bool is_expired(kc_err err, const kc_error_detail *d)
{
	return err == KC_ERR_GONE || strcmp(d->reason, "Expired") == 0 ||
	       strcmp(d->reason, "Gone") == 0;
}

/* reflector.go isTooLargeResourceVersionError: the server has not caught up
 * with the version we asked for (a Timeout Status with this message/cause). */
static bool is_too_large_rv(kc_err err, const kc_error_detail *d)
{
	return err != KC_OK && strstr(d->message, "Too large resource version") != NULL;
}

/*
 * The next backoff delay: wait.exponentialBackoffManagerImpl.getNextBackoff
 * with Backoff.Step (factor 2, cap, jitter 1.0: d + rand*d), reset to the
 * initial delay when the previous backoff started more than reset_ms ago.
 */
static int64_t backoff_next(refl *r)
{
	int64_t now = kc_now_mono_ms();
	if (!r->backoff_used || now - r->backoff_last_ms > r->o.backoff_reset_ms)
		r->backoff_cur_ms = r->o.backoff_initial_ms;
	r->backoff_used = true;
	r->backoff_last_ms = now;
	int64_t d = r->backoff_cur_ms;
	r->backoff_cur_ms *= 2;
	if (r->backoff_cur_ms > r->o.backoff_max_ms)
		r->backoff_cur_ms = r->o.backoff_max_ms;
	return d + (int64_t)(kc_rand01() * (double)d);
}

/* Record a failure, tell the handler, and sleep the backoff delay. false if cancelled. */
static bool back_off(refl *r, kc_err err, const kc_error_detail *d)
{
	int64_t delay = backoff_next(r);
	failure_note f = {err, d, kc_now_mono_ms() + delay};
	stats_update(r, st_failure, &f);
	if (r->h->failure)
		r->h->failure(r->ud, err, d, delay);
	return !kc_cancel_sleep(r->cancel, delay);
}

static void base_opts(const refl *r, kc_list_opts *lo)
{
	memset(lo, 0, sizeof(*lo));
	lo->label_selector = r->o.label_selector;
	lo->field_selector = r->o.field_selector;
}

/* ---- LIST (pager.go) ------------------------------------------------------- */

/* One GET of the collection; *out is the parsed page (caller deletes). */
static kc_err list_page(refl *r, const kc_list_opts *lo, cJSON **out, kc_error_detail *d)
{
	kc_buf q;
	kc_buf_init(&q, REFL_QUERY_MAX);
	kc_response resp;
	memset(&resp, 0, sizeof(resp));
	kc_err err = kc_list_query(&q, lo, false);
	if (err)
		goto out_free_query;
	kc_request req = {
		.method = "GET",
		.path = r->path.data,
		.query = q.len ? q.data : NULL,
		.timeout_ms = r->o.list_timeout_ms,
		.cancel = r->cancel,
	};
	err = kc_client_do(r->c, &req, &resp, d);
	if (err)
		goto out_free_query;
	stats_update(r, st_list_page, NULL);
	cJSON *doc = cJSON_ParseWithLength(resp.body.data ? resp.body.data : "", resp.body.len);
	if (!cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		err = kc_fail(d, KC_ERR_PARSE, "LIST answer is not a JSON object");
		goto out_release_resp;
	}
	*out = doc;
out_release_resp:
	kc_response_release(&resp);
out_free_query:
	kc_buf_release(&q);
	return err;
}

typedef struct list_state {
	bool begun;
	char rv[KC_RV_MAX];
	kc_buf cont;
} list_state;

static kc_err list_begin(refl *r, list_state *ls)
{
	if (ls->begun)
		return KC_OK;
	ls->begun = true;
	return r->h->list_begin ? r->h->list_begin(r->ud) : KC_OK;
}

static void list_abort(refl *r, list_state *ls)
{
	if (ls->begun && r->h->list_abort)
		r->h->list_abort(r->ud);
	ls->begun = false;
}

/* Hand one page's items over and note its resourceVersion and continue token. */
static kc_err deliver_page(refl *r, list_state *ls, const cJSON *doc, kc_error_detail *d)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(doc, "metadata");
	const cJSON *rv = cJSON_GetObjectItemCaseSensitive(meta, "resourceVersion");
	const cJSON *cont = cJSON_GetObjectItemCaseSensitive(meta, "continue");
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(doc, "items");
	if (!cJSON_IsString(rv) || !rv->valuestring[0] ||
	    strlen(rv->valuestring) >= sizeof(ls->rv))
		return kc_fail(d, KC_ERR_PARSE, "LIST answer without a usable resourceVersion");
	if (items && !cJSON_IsArray(items) && !cJSON_IsNull(items))
		return kc_fail(d, KC_ERR_PARSE, "LIST answer whose items is not an array");
	if (cont && !cJSON_IsString(cont) && !cJSON_IsNull(cont))
		return kc_fail(d, KC_ERR_PARSE, "LIST answer with a non-string continue");
	memcpy(ls->rv, rv->valuestring, strlen(rv->valuestring) + 1);
	kc_buf_reset(&ls->cont);
	if (cJSON_IsString(cont) && cont->valuestring[0]) {
		kc_err err = kc_buf_append_str(&ls->cont, cont->valuestring);
		if (err)
			return kc_fail(d, err, "LIST continue token too long");
	}
	kc_err err = list_begin(r, ls);
	if (err)
		return err;
	const cJSON *it;
	cJSON_ArrayForEach(it, items) {
		if (!cJSON_IsObject(it))
			return kc_fail(d, KC_ERR_PARSE, "LIST item is not an object");
		if (r->h->list_item && (err = r->h->list_item(r->ud, it)) != KC_OK)
			return kc_fail(d, err, "LIST item refused by the handler");
	}
	return KC_OK;
}

/*
 * pager.go ListPager.list: pages of page_size (0 = one request) following
 * continue tokens, with resourceVersion(Match) cleared on follow-up pages
 * (kubernetes#85221). An expired continuation (410 on page >= 2) falls back
 * to one unpaginated LIST at the originally requested version
 * (FullListIfExpired). On KC_OK the handler got list_end and *out_rv holds
 * the list's resourceVersion.
 */
static kc_err pager_list(refl *r, const char *rv, int page_size, char out_rv[KC_RV_MAX],
                         kc_error_detail *d)
{
	list_state ls = {.begun = false};
	kc_buf_init(&ls.cont, REFL_CONTINUE_MAX);
	kc_list_opts lo;
	base_opts(r, &lo);
	lo.resource_version = rv[0] ? rv : NULL;
	if (page_size > 0)
		lo.limit = (kc_opt_i64){true, page_size};
	kc_err err;
	for (;;) {
		cJSON *doc = NULL;
		kc_detail_clear(d);
		err = list_page(r, &lo, &doc, d);
		if (err && lo.continue_token && is_expired(err, d)) {
			/* the snapshot our continue token points at was compacted */
			list_abort(r, &ls);
			base_opts(r, &lo);
			lo.resource_version = rv[0] ? rv : NULL;
			kc_detail_clear(d);
			err = list_page(r, &lo, &doc, d);
			if (err)
				goto out_abort;
			err = deliver_page(r, &ls, doc, d);
			cJSON_Delete(doc);
			if (err)
				goto out_abort;
			break;
		}
		if (err)
			goto out_abort;
		err = deliver_page(r, &ls, doc, d);
		cJSON_Delete(doc);
		if (err)
			goto out_abort;
		if (ls.cont.len == 0)
			break;
		if (lo.limit.set)
			r->paginated_result = true;
		lo.continue_token = ls.cont.data;
		lo.resource_version = NULL;
		lo.resource_version_match = NULL;
		if (kc_cancel_fired(r->cancel)) {
			err = KC_ERR_CANCELED;
			goto out_abort;
		}
	}
	if (r->h->list_end && (err = r->h->list_end(r->ud, ls.rv)) != KC_OK) {
		kc_fail(d, err, "LIST refused by the handler");
		goto out_abort;
	}
	memcpy(out_rv, ls.rv, sizeof(ls.rv));
	kc_buf_release(&ls.cont);
	return KC_OK;

out_abort:
	list_abort(r, &ls);
	kc_buf_release(&ls.cont);
	return err;
}

/*
 * reflector.go list(): LIST at relistResourceVersion; if that version is
 * expired or too new, mark it unavailable and LIST again at once from ""
 * (a consistent read). An unpaginated answer that overran the response cap
 * is retried in pages from "".
 */
static kc_err do_list(refl *r, kc_error_detail *d)
{
	char rv[KC_RV_MAX];
	const char *want = relist_rv(r);
	int page = page_size_for(r, want);
	kc_err err = pager_list(r, want, page, rv, d);
	if (err && err != KC_ERR_CANCELED && (is_expired(err, d) || is_too_large_rv(err, d))) {
		r->rv_unavailable = true;
		want = relist_rv(r);
		page = page_size_for(r, want);
		err = pager_list(r, want, page, rv, d);
	}
	if (err == KC_ERR_TOOBIG && r->o.page_size > 0 && !r->force_paginate) {
		r->force_paginate = true;
		err = pager_list(r, "", page_size_for(r, ""), rv, d);
	}
	if (err)
		return err;
	r->rv_unavailable = false;
	set_last_sync_rv(r, rv);
	stats_update(r, st_list_done, NULL);
	return KC_OK;
}

/* ---- WATCH (reflector.go watch / handleWatch) --------------------------------- */

static kc_err on_line(void *ud, const char *line, size_t len)
{
	refl *r = ud;
	kc_watch_event ev;
	kc_err err = kc_watch_event_decode(line, len, &ev, &r->line_detail);
	if (err)
		return err;
	if (ev.type == KC_WATCH_BOOKMARK) {
		stats_update(r, st_bookmark, NULL);
	} else if (r->h->event) {
		err = r->h->event(r->ud, ev.type, ev.object);
		if (err) {
			kc_fail(&r->line_detail, err, "%s event refused by the handler",
			        kc_watch_type_name(ev.type));
			goto out_release;
		}
	}
	if (ev.type != KC_WATCH_BOOKMARK)
		stats_update(r, st_event, NULL);
	/* every event, bookmarks included, moves the resume point */
	set_last_sync_rv(r, ev.resource_version);
	r->watch_events++;
out_release:
	kc_watch_event_release(&ev);
	return err;
}

static kc_err on_data(void *ud, const char *data, size_t len)
{
	refl *r = ud;
	r->watch_bytes += len;
	if (kc_cancel_fired(r->cancel))
		return KC_ERR_CANCELED;
	return kc_watch_framer_feed(&r->framer, data, len);
}

static watch_next do_watch(refl *r, kc_err *err_out, kc_error_detail *d)
{
	int64_t min_s = r->o.min_watch_timeout_s;
	/* reflector.go: minWatchTimeout * (rand + 1) */
	int64_t timeout_s = min_s + (int64_t)(kc_rand01() * (double)min_s);
	long stall_ms = r->o.stall_timeout_ms;
	if (stall_ms == 0)
		stall_ms = (long)(timeout_s * 1000 + KC_WATCH_STALL_MARGIN_MS);
	else if (stall_ms < 0)
		stall_ms = 0;

	kc_list_opts lo;
	base_opts(r, &lo);
	lo.resource_version = r->last_sync_rv;
	lo.timeout_seconds = (kc_opt_i64){true, timeout_s};
	lo.allow_watch_bookmarks = true;
	kc_buf q;
	kc_buf_init(&q, REFL_QUERY_MAX);
	kc_detail_clear(d);
	kc_err err = kc_list_query(&q, &lo, true);
	if (err) {
		kc_buf_release(&q);
		*err_out = err;
		return WATCH_RELIST;
	}
	kc_request req = {
		.method = "GET",
		.path = r->path.data,
		.query = q.data,
		.cancel = r->cancel,
	};
	kc_watch_framer_reset(&r->framer);
	r->watch_events = 0;
	r->watch_bytes = 0;
	kc_detail_clear(&r->line_detail);
	stats_update(r, st_watch, NULL);
	int64_t start = kc_now_mono_ms();
	err = kc_client_stream(r->c, &req, stall_ms, on_data, r, d);
	int64_t lasted = kc_now_mono_ms() - start;
	kc_buf_release(&q);
	/* a partial line at the end is dropped, never delivered half */
	kc_watch_framer_reset(&r->framer);
	*err_out = err;

	if (err == KC_ERR_CANCELED || kc_cancel_fired(r->cancel)) {
		*err_out = KC_ERR_CANCELED;
		return WATCH_RELIST;
	}
	if (r->line_detail.message[0] || r->line_detail.reason[0])
		*d = r->line_detail; /* the stream stopped on a line we rejected */
	switch (err) {
	case KC_ERR_TOO_MANY:
		return WATCH_BACKOFF_AGAIN;
	case KC_ERR_TRANSPORT:
	case KC_ERR_TIMEOUT:
	case KC_ERR_STALLED:
		/* nothing arrived: isWatchErrorRetriable (connection refused) */
		if (r->watch_bytes == 0 && err != KC_ERR_STALLED)
			return WATCH_BACKOFF_AGAIN;
		/* a stream cut mid-way is a probable EOF: treated as a close */
		__attribute__((fallthrough));
	case KC_OK:
		if (lasted < r->o.short_watch_ms && r->watch_events == 0) {
			/* handleWatch: "very short watch ... Unexpected watch close" */
			*err_out = kc_fail(d, KC_ERR_TRANSPORT,
			                   "very short watch: closed within %ld ms with no event",
			                   r->o.short_watch_ms);
			return WATCH_RELIST;
		}
		*err_out = KC_OK;
		return WATCH_AGAIN;
	default:
		/* ERROR event (410 Expired included), bad line, handler error, HTTP error */
		return WATCH_RELIST;
	}
}

/* reflector.go ListAndWatch: one list, then watches until one must relist. */
static kc_err list_and_watch(refl *r, kc_error_detail *d)
{
	kc_err err = do_list(r, d);
	if (err)
		return err;
	for (;;) {
		if (kc_cancel_fired(r->cancel))
			return KC_ERR_CANCELED;
		watch_next next = do_watch(r, &err, d);
		switch (next) {
		case WATCH_AGAIN:
			continue;
		case WATCH_BACKOFF_AGAIN:
			if (!back_off(r, err, d))
				return KC_ERR_CANCELED;
			continue;
		case WATCH_RELIST:
			return err ? err : KC_ERR_TRANSPORT;
		}
	}
}

static kc_err fill_defaults(kc_reflector_options *o)
{
	if (!o->resource)
		return KC_ERR_INVALID;
	if (o->page_size == 0)
		o->page_size = KC_LIST_PAGE_SIZE;
	if (o->min_watch_timeout_s <= 0)
		o->min_watch_timeout_s = KC_MIN_WATCH_TIMEOUT_S;
	if (o->short_watch_ms <= 0)
		o->short_watch_ms = KC_SHORT_WATCH_MS;
	if (o->backoff_initial_ms <= 0)
		o->backoff_initial_ms = KC_BACKOFF_INITIAL_MS;
	if (o->backoff_max_ms <= 0)
		o->backoff_max_ms = KC_BACKOFF_MAX_MS;
	if (o->backoff_max_ms < o->backoff_initial_ms)
		o->backoff_max_ms = o->backoff_initial_ms;
	if (o->backoff_reset_ms <= 0)
		o->backoff_reset_ms = KC_BACKOFF_RESET_MS;
	if (o->line_max == 0 || o->line_max > KC_WATCH_LINE_MAX)
		o->line_max = KC_WATCH_LINE_MAX;
	return KC_OK;
}

kc_err kc_reflector_run(kc_client *c, const kc_reflector_options *opts,
                        const kc_reflector_handler *h, void *ud, kc_cancel *cancel,
                        kc_reflector_stats_cell *stats)
{
	if (!c || !opts || !h || !cancel)
		return KC_ERR_INVALID;
	refl r;
	memset(&r, 0, sizeof(r));
	r.c = c;
	r.o = *opts;
	r.h = h;
	r.ud = ud;
	r.cancel = cancel;
	r.stats = stats;
	kc_err err = fill_defaults(&r.o);
	if (err)
		return err;
	kc_buf_init(&r.path, REFL_PATH_MAX);
	err = kc_path_append(&r.path, r.o.resource, r.o.resource->namespaced ? r.o.ns : NULL,
	                     NULL, NULL);
	if (err)
		goto out_free_path;
	kc_watch_framer_init(&r.framer, r.o.line_max, on_line, &r);

	/* wait.BackoffUntil(ListAndWatch, backoffManager, sliding=true) */
	while (!kc_cancel_fired(cancel)) {
		kc_error_detail d;
		kc_detail_clear(&d);
		err = list_and_watch(&r, &d);
		if (err == KC_ERR_CANCELED || kc_cancel_fired(cancel))
			break;
		if (!back_off(&r, err, &d))
			break;
	}
	err = KC_ERR_CANCELED;
	kc_watch_framer_release(&r.framer);
out_free_path:
	kc_buf_release(&r.path);
	return err;
}
