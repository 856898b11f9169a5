/*
 * kc/watch.h - watch streams: the line framer, event decoding, and the
 * reflector (LIST + WATCH forever, as client-go's tools/cache/reflector.go).
 *
 * Three layers, each usable alone:
 *
 *   kc_watch_framer   splits a byte stream that arrives in arbitrary chunks
 *                     into '\n'-terminated lines. Each complete line is handed
 *                     to a callback exactly once; only the partial tail is
 *                     kept, and only newly arrived bytes are scanned (linear
 *                     in the stream, unlike kubernetes-client/c which
 *                     re-parses its whole buffer on every chunk).
 *
 *   kc_watch_event_decode
 *                     one line -> {type, object, resourceVersion}. ERROR
 *                     events are decoded as metav1.Status and returned as an
 *                     error (KC_ERR_GONE for 410 / Expired / Gone).
 *
 *   kc_reflector_run  the list/watch loop of client-go's Reflector.ListAndWatch
 *                     with the pager of tools/pager/pager.go, driving a
 *                     caller-supplied handler (the informer in kc/informer.h
 *                     is one). It blocks until its kc_cancel fires.
 *
 * Threading: a framer and a decoded event belong to one thread. Several
 * reflectors may run at once on one kc_client (which is thread-safe).
 */
#ifndef KC_WATCH_H
#define KC_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "kc/buf.h"
#include "kc/cancel.h"
#include "kc/client.h"
#include "kc/error.h"

/* ---- Framer ---------------------------------------------------------------- */

/* Hard cap on one watch event line (one object). */
#define KC_WATCH_LINE_MAX (16u << 20)

/*
 * Called once per complete, non-empty line, without its '\n' (a trailing
 * '\r' is kept; JSON treats it as whitespace). The bytes are NOT
 * NUL-terminated and are valid only during the call. Returning anything but
 * KC_OK stops kc_watch_framer_feed, which returns that code.
 */
typedef kc_err (*kc_watch_line_fn)(void *ud, const char *line, size_t len);

typedef struct kc_watch_framer {
	kc_buf tail;            /* the partial last line; never holds a '\n' */
	size_t line_max;
	kc_watch_line_fn on_line;
	void *ud;
	bool failed;            /* an error was returned; reset before reuse */
} kc_watch_framer;

/*
 * line_max 0 = KC_WATCH_LINE_MAX (tests pass smaller caps). Cannot fail;
 * allocates nothing until the first partial line has to be kept.
 */
void kc_watch_framer_init(kc_watch_framer *f, size_t line_max, kc_watch_line_fn on_line,
                          void *ud);
/*
 * Feed one chunk (any size, any boundary). Lines completed by this chunk are
 * delivered in order; the incomplete rest is kept for the next call.
 * Errors: KC_ERR_TOOBIG when a line (complete or partial) exceeds line_max,
 * KC_ERR_NOMEM, or the callback's code. After an error the framer refuses
 * further input (KC_ERR_INVALID) until kc_watch_framer_reset.
 */
kc_err kc_watch_framer_feed(kc_watch_framer *f, const char *data, size_t len);
/* True when an incomplete line is pending (a stream that ends now was truncated). */
bool kc_watch_framer_has_partial(const kc_watch_framer *f);
/* Drop the pending tail and any error state; keeps the allocation. */
void kc_watch_framer_reset(kc_watch_framer *f);
/* Free the tail. The framer can be re-initialised afterwards. */
void kc_watch_framer_release(kc_watch_framer *f);

/* ---- Events ---------------------------------------------------------------- */

typedef enum kc_watch_type {
	KC_WATCH_ADDED,
	KC_WATCH_MODIFIED,
	KC_WATCH_DELETED,
	KC_WATCH_BOOKMARK,
	KC_WATCH_ERROR,
} kc_watch_type;

/* Longest metadata.resourceVersion accepted (etcd revisions are <= 20 digits). */
#define KC_RV_MAX 64

/* The annotation a WatchList stream puts on the bookmark that ends the initial events. */
#define KC_INITIAL_EVENTS_END_ANNOTATION "k8s.io/initial-events-end"

typedef struct kc_watch_event {
	kc_watch_type type;
	cJSON *doc;                         /* owned: the whole parsed line */
	const cJSON *object;                /* borrowed from doc: "object" */
	char resource_version[KC_RV_MAX];   /* object.metadata.resourceVersion, never empty */
	bool initial_events_end;            /* BOOKMARK carrying the annotation above = "true" */
} kc_watch_event;

/*
 * Decode one watch line ({"type": ..., "object": {...}}).
 *
 * ADDED / MODIFIED / DELETED need an object with metadata.name and a
 * non-empty metadata.resourceVersion; BOOKMARK needs the resourceVersion.
 * On KC_OK the caller owns ev->doc and frees it with kc_watch_event_release.
 *
 * Errors (ev holds nothing to release then; ev->type is set when known):
 *   KC_ERR_PARSE   malformed JSON, missing or mistyped fields, unknown type,
 *                  resourceVersion longer than KC_RV_MAX - 1;
 *   an ERROR event: its object is decoded as a metav1.Status into d (reason,
 *                  message, code) and its error is returned: KC_ERR_GONE for
 *                  code 410 or reason "Expired" / "Gone", otherwise the code's
 *                  kc_err (KC_ERR_HTTP when it carries none); ev->type is
 *                  KC_WATCH_ERROR.
 * d may be NULL.
 */
kc_err kc_watch_event_decode(const char *line, size_t len, kc_watch_event *ev,
                             kc_error_detail *d);
/* Free ev->doc; accepts a zeroed or already released event. */
void kc_watch_event_release(kc_watch_event *ev);
/* "ADDED", "MODIFIED", ... */
const char *kc_watch_type_name(kc_watch_type t);

/* ---- Reflector ------------------------------------------------------------- */

#define KC_LIST_PAGE_SIZE          500     /* client-go pager's defaultPageSize */
#define KC_MIN_WATCH_TIMEOUT_S     300     /* reflector's minWatchTimeout (5 min) */
#define KC_WATCH_STALL_MARGIN_MS   60000   /* stall limit = timeoutSeconds + this */
#define KC_SHORT_WATCH_MS          1000    /* a watch closing sooner with no event failed */
#define KC_BACKOFF_INITIAL_MS      800     /* NewExponentialBackoffManager(800ms, */
#define KC_BACKOFF_MAX_MS          30000   /*   30s,                              */
#define KC_BACKOFF_RESET_MS        120000  /*   2m, factor 2.0, jitter 1.0)       */

/*
 * What the reflector feeds. All callbacks run on the reflector's thread, one
 * at a time. The cJSON objects are borrowed: valid only during the call (the
 * handler keeps what it needs and never the document).
 *
 * A LIST is delivered as list_begin, list_item for every object of every
 * page, then list_end with the list's resourceVersion (the caller now knows
 * the complete set: objects it holds that were not listed are gone, as in
 * DeltaFIFO.Replace) or list_abort if the list failed part-way (nothing is
 * implied about objects not yet listed; another list_begin follows later).
 * Watch events arrive through event (ADDED, MODIFIED, DELETED only; bookmarks
 * and errors are handled by the reflector).
 *
 * A callback returning an error stops the current list or watch; the
 * reflector backs off and relists, as after any failure. Any callback may be
 * NULL.
 */
typedef struct kc_reflector_handler {
	kc_err (*list_begin)(void *ud);
	kc_err (*list_item)(void *ud, const cJSON *obj);
	kc_err (*list_end)(void *ud, const char *resource_version);
	void (*list_abort)(void *ud);
	kc_err (*event)(void *ud, kc_watch_type type, const cJSON *obj);
	/* A LIST or WATCH failed (err, d's message and Status reason); the
	 * reflector waits retry_in_ms before the next attempt. For reporting: the
	 * caller says why it cannot sync, as client-go's reflector logs "failed to
	 * list" (it must not block: the reflector's thread). */
	void (*failure)(void *ud, kc_err err, const kc_error_detail *d, int64_t retry_in_ms);
} kc_reflector_handler;

typedef struct kc_reflector_options {
	const kc_resource *resource;     /* required; the struct must outlive the run */
	const char *ns;                  /* NULL = all namespaces (or cluster-scoped) */
	const char *label_selector;      /* NULL = none */
	const char *field_selector;      /* NULL = none */
	int page_size;                   /* 0 = KC_LIST_PAGE_SIZE; < 0 = never paginate */
	long list_timeout_ms;            /* one LIST page request; 0 = the client's default */
	int64_t min_watch_timeout_s;     /* 0 = KC_MIN_WATCH_TIMEOUT_S; sent timeoutSeconds
	                                    is uniform in [min, 2*min) */
	long stall_timeout_ms;           /* 0 = timeoutSeconds*1000 + KC_WATCH_STALL_MARGIN_MS;
	                                    < 0 = no stall detector */
	long short_watch_ms;             /* 0 = KC_SHORT_WATCH_MS */
	long backoff_initial_ms;         /* 0 = KC_BACKOFF_INITIAL_MS */
	long backoff_max_ms;             /* 0 = KC_BACKOFF_MAX_MS */
	long backoff_reset_ms;           /* 0 = KC_BACKOFF_RESET_MS */
	size_t line_max;                 /* 0 = KC_WATCH_LINE_MAX */
} kc_reflector_options;

/* Counters a running reflector updates (read with kc_reflector_stats_get). */
typedef struct kc_reflector_stats {
	uint64_t lists;          /* complete LISTs delivered (list_end called) */
	uint64_t list_pages;     /* LIST requests that answered 2xx */
	uint64_t watches;        /* WATCH requests started */
	uint64_t events;         /* ADDED/MODIFIED/DELETED delivered */
	uint64_t bookmarks;
	uint64_t failures;       /* times the reflector backed off */
	uint64_t failures_in_row; /* ... since the last complete LIST, event or bookmark */
	int64_t retry_at_mono_ms; /* when the attempt after the last failure starts
	                            (kc_now_mono_ms); 0 once a LIST, event or bookmark
	                            came since */
	kc_err last_err;         /* the most recent failure, KC_OK if none yet */
	char last_err_message[KC_DETAIL_MESSAGE_MAX];
	char last_sync_rv[KC_RV_MAX];
} kc_reflector_stats;

/*
 * Run list-and-watch until cancel fires (cancel is required), then return
 * KC_ERR_CANCELED. KC_ERR_INVALID at once for bad options. Every other
 * failure is retried forever with backoff (client-go's BackoffUntil around
 * ListAndWatch). If stats is not NULL it is updated under its own lock:
 * read it from other threads with kc_reflector_stats_get.
 *
 * resourceVersion rules (reflector.go relistResourceVersion): the first LIST
 * asks for "0" (served from the watch cache), later LISTs for the last synced
 * version, and "" (a consistent read) after a LIST answered 410 Expired or
 * "Too large resource version". Pages: limit=page_size, continue tokens,
 * resourceVersion cleared on follow-up pages; a continue token that expired
 * (410 on page >= 2) falls back to one unpaginated LIST at the original
 * version (pager.go). WATCH: allowWatchBookmarks=true, timeoutSeconds
 * random in [300, 600), from the last seen resourceVersion (bookmarks
 * included); a clean end re-watches without relisting; an ERROR event, a 410,
 * a malformed line or a watch that ended within 1 s with no event backs off
 * and relists.
 */
typedef struct kc_reflector_stats_cell kc_reflector_stats_cell;
kc_err kc_reflector_run(kc_client *c, const kc_reflector_options *opts,
                        const kc_reflector_handler *h, void *ud, kc_cancel *cancel,
                        kc_reflector_stats_cell *stats);

/* A lock-protected kc_reflector_stats for sharing between threads. */
kc_err kc_reflector_stats_cell_new(kc_reflector_stats_cell **out);
void kc_reflector_stats_cell_free(kc_reflector_stats_cell *s);
void kc_reflector_stats_get(kc_reflector_stats_cell *s, kc_reflector_stats *out);

#endif
