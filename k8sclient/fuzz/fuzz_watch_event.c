/*
 * Fuzz watch event decoding and the informer cache behind it: each input line
 * is decoded as a watch event (kc_watch_event_decode) and applied to an
 * informer through its handler, with a projection like the controller's (a
 * pod's node, phase, owner and a few labels); a line that is not an event is
 * tried as a LIST page (Replace). ERROR events, bookmarks, deletes of unknown
 * keys, huge numbers and deep nesting must all be handled without leaks.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kc/alloc.h"
#include "kc/informer.h"
#include "kc/watch.h"

typedef struct proj {
	char node[64];
	char phase[16];
	char owner_kind[32];
	int labels;
	double priority;
} proj;

static void *project(const cJSON *obj, void *ud)
{
	(void)ud;
	proj *p = kc_calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(obj, "status");
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, "nodeName");
	if (cJSON_IsString(v))
		snprintf(p->node, sizeof(p->node), "%.63s", v->valuestring);
	v = cJSON_GetObjectItemCaseSensitive(status, "phase");
	if (cJSON_IsString(v))
		snprintf(p->phase, sizeof(p->phase), "%.15s", v->valuestring);
	v = cJSON_GetObjectItemCaseSensitive(spec, "priority");
	if (cJSON_IsNumber(v))
		p->priority = v->valuedouble;
	const cJSON *it;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(meta, "labels"))
		p->labels++;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(meta, "ownerReferences")) {
		const cJSON *ctl = cJSON_GetObjectItemCaseSensitive(it, "controller");
		const cJSON *kind = cJSON_GetObjectItemCaseSensitive(it, "kind");
		if (cJSON_IsTrue(ctl) && cJSON_IsString(kind))
			snprintf(p->owner_kind, sizeof(p->owner_kind), "%.31s", kind->valuestring);
	}
	return p;
}

static void free_obj(void *obj, void *ud)
{
	(void)ud;
	kc_free(obj);
}

static size_t seen;

static void on_update(const char *key, const void *o, const void *n, void *ud)
{
	(void)ud;
	seen += strlen(key) + (size_t)((const proj *)o)->labels + (size_t)((const proj *)n)->labels;
}

static void on_delete(const char *key, const void *o, void *ud)
{
	(void)ud;
	seen += strlen(key) + strlen(((const proj *)o)->node);
}

/* A LIST page: {"metadata":{"resourceVersion":...},"items":[...]} */
static void try_list(const kc_reflector_handler *h, void *ud, const char *line, size_t len)
{
	cJSON *doc = cJSON_ParseWithLength(line, len);
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(doc, "items");
	if (!cJSON_IsArray(items)) {
		cJSON_Delete(doc);
		return;
	}
	h->list_begin(ud);
	const cJSON *it;
	kc_err err = KC_OK;
	cJSON_ArrayForEach(it, items) {
		if ((err = h->list_item(ud, it)) != KC_OK)
			break;
	}
	if (err)
		h->list_abort(ud);
	else
		h->list_end(ud, "1");
	cJSON_Delete(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	kc_global_init();
	kc_informer_options o = {
		.watch = {.resource = &KC_RES_PODS},
		.project = project,
		.free_obj = free_obj,
		.on_update = on_update,
		.on_delete = on_delete,
	};
	kc_informer *inf = NULL;
	if (kc_informer_new(NULL, &o, &inf) != KC_OK)
		return 0;
	kc_reflector_handler h;
	void *ud;
	kc_informer_handler(inf, &h, &ud);
	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		kc_watch_event ev;
		kc_error_detail d;
		kc_detail_clear(&d);
		kc_err err = kc_watch_event_decode(p, len, &ev, &d);
		if (err == KC_OK) {
			if (ev.type == KC_WATCH_BOOKMARK) {
				if (ev.initial_events_end)
					h.list_end(ud, ev.resource_version);
			} else {
				h.event(ud, ev.type, ev.object);
			}
			kc_watch_event_release(&ev);
		} else if (err == KC_ERR_PARSE) {
			try_list(&h, ud, p, len);
		}
		/* the detail is always a terminated string */
		if (strlen(d.message) >= sizeof(d.message) || strlen(d.reason) >= sizeof(d.reason))
			__builtin_trap();
		p += len + (nl ? 1 : 0);
	}
	kc_informer_free(inf);
	return 0;
}
