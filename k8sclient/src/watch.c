/*
 * watch.c - the watch stream framer and the watch event decoder (kc/watch.h).
 *
 * The API server sends a watch as newline-delimited JSON, one
 * {"type":..., "object":...} per line (k8s.io/apimachinery's
 * watch.StreamWatcher over a json framer). Lines arrive split across chunks at
 * any byte; the framer keeps only the incomplete tail and scans every byte
 * once, so a stream costs O(bytes) and at most one line of memory.
 */
#include <string.h>

#include "internal.h"
#include "kc/alloc.h"
#include "kc/watch.h"

/* ---- Framer ---------------------------------------------------------------- */

void kc_watch_framer_init(kc_watch_framer *f, size_t line_max, kc_watch_line_fn on_line,
                          void *ud)
{
	f->line_max = line_max ? line_max : KC_WATCH_LINE_MAX;
	kc_buf_init(&f->tail, f->line_max);
	f->on_line = on_line;
	f->ud = ud;
	f->failed = false;
}

void kc_watch_framer_release(kc_watch_framer *f)
{
	kc_buf_release(&f->tail);
	f->failed = false;
}

void kc_watch_framer_reset(kc_watch_framer *f)
{
	kc_buf_reset(&f->tail);
	f->failed = false;
}

bool kc_watch_framer_has_partial(const kc_watch_framer *f)
{
	return f->tail.len > 0;
}

/* Blank lines (and a lone "\r") carry nothing: the server never sends them,
 * but proxies may add keep-alive newlines. */
static bool line_is_blank(const char *s, size_t n)
{
	return n == 0 || (n == 1 && s[0] == '\r');
}

static kc_err deliver(kc_watch_framer *f, const char *s, size_t n)
{
	if (line_is_blank(s, n))
		return KC_OK;
	return f->on_line ? f->on_line(f->ud, s, n) : KC_OK;
}

kc_err kc_watch_framer_feed(kc_watch_framer *f, const char *data, size_t len)
{
	if (f->failed)
		return KC_ERR_INVALID;
	kc_err err = KC_OK;
	size_t pos = 0;
	while (pos < len) {
		const char *nl = memchr(data + pos, '\n', len - pos);
		if (!nl)
			break;
		size_t seg = (size_t)(nl - (data + pos));
		if (f->tail.len > 0) {
			/* complete the kept tail; kc_buf enforces line_max */
			err = kc_buf_append(&f->tail, data + pos, seg);
			if (err)
				goto out_fail;
			err = deliver(f, f->tail.data, f->tail.len);
			kc_buf_reset(&f->tail);
		} else {
			/* whole line inside this chunk: no copy */
			if (seg > f->line_max) {
				err = KC_ERR_TOOBIG;
				goto out_fail;
			}
			err = deliver(f, data + pos, seg);
		}
		if (err)
			goto out_fail;
		pos += seg + 1;
	}
	if (pos < len) {
		err = kc_buf_append(&f->tail, data + pos, len - pos);
		if (err)
			goto out_fail;
	}
	return KC_OK;

out_fail:
	f->failed = true;
	kc_buf_reset(&f->tail);
	return err;
}

/* ---- Events ---------------------------------------------------------------- */

const char *kc_watch_type_name(kc_watch_type t)
{
	switch (t) {
	case KC_WATCH_ADDED: return "ADDED";
	case KC_WATCH_MODIFIED: return "MODIFIED";
	case KC_WATCH_DELETED: return "DELETED";
	case KC_WATCH_BOOKMARK: return "BOOKMARK";
	case KC_WATCH_ERROR: return "ERROR";
	}
	return "UNKNOWN";
}

static bool type_from_name(const char *s, kc_watch_type *out)
{
	static const struct {
		const char *name;
		kc_watch_type type;
	} names[] = {
		{"ADDED", KC_WATCH_ADDED},       {"MODIFIED", KC_WATCH_MODIFIED},
		{"DELETED", KC_WATCH_DELETED},   {"BOOKMARK", KC_WATCH_BOOKMARK},
		{"ERROR", KC_WATCH_ERROR},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i].name) == 0) {
			*out = names[i].type;
			return true;
		}
	}
	return false;
}

/*
 * An ERROR event carries a metav1.Status. 410 and the reasons "Expired" /
 * "Gone" mean our resourceVersion is too old (apierrors.IsResourceExpired,
 * IsGone): the caller must relist.
 */
static kc_err decode_error_event(const cJSON *obj, kc_error_detail *d)
{
	kc_error_detail local;
	kc_detail_clear(&local);
	kc_err err = kc__status_from_json(obj, &local);
	if (strcmp(local.reason, "Expired") == 0 || strcmp(local.reason, "Gone") == 0 ||
	    local.http_status == 410)
		err = KC_ERR_GONE;
	if (d) {
		*d = local;
		if (!d->message[0])
			kc_fail(d, err, "watch ERROR event");
	}
	return err;
}

void kc_watch_event_release(kc_watch_event *ev)
{
	if (!ev)
		return;
	cJSON_Delete(ev->doc);
	ev->doc = NULL;
	ev->object = NULL;
}

kc_err kc_watch_event_decode(const char *line, size_t len, kc_watch_event *ev,
                             kc_error_detail *d)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = KC_WATCH_ERROR;
	cJSON *doc = cJSON_ParseWithLength(line, len);
	if (!doc)
		return kc_fail(d, KC_ERR_PARSE, "watch event is not valid JSON");
	kc_err err = KC_ERR_PARSE;
	const char *type = kc__json_str(doc, "type");
	const cJSON *obj = cJSON_GetObjectItemCaseSensitive(doc, "object");
	if (!cJSON_IsObject(doc) || !type) {
		kc_fail(d, err, "watch event without a type");
		goto out_free_doc;
	}
	if (!type_from_name(type, &ev->type)) {
		ev->type = KC_WATCH_ERROR;
		kc_fail(d, err, "unknown watch event type");
		goto out_free_doc;
	}
	if (!cJSON_IsObject(obj)) {
		kc_fail(d, err, "%s watch event without an object", kc_watch_type_name(ev->type));
		goto out_free_doc;
	}
	if (ev->type == KC_WATCH_ERROR) {
		err = decode_error_event(obj, d);
		goto out_free_doc;
	}
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	const char *rv = kc__json_str(meta, "resourceVersion");
	if (!rv || !rv[0] || strlen(rv) >= KC_RV_MAX) {
		kc_fail(d, err, "%s watch event without a usable resourceVersion",
		        kc_watch_type_name(ev->type));
		goto out_free_doc;
	}
	if (ev->type == KC_WATCH_BOOKMARK) {
		const cJSON *ann = cJSON_GetObjectItemCaseSensitive(meta, "annotations");
		const char *end = kc__json_str(ann, KC_INITIAL_EVENTS_END_ANNOTATION);
		ev->initial_events_end = end && strcmp(end, "true") == 0;
	} else {
		const char *name = kc__json_str(meta, "name");
		if (!name || !name[0]) {
			kc_fail(d, err, "%s watch event for an object without a name",
			        kc_watch_type_name(ev->type));
			goto out_free_doc;
		}
	}
	memcpy(ev->resource_version, rv, strlen(rv) + 1);
	ev->doc = doc;
	ev->object = obj;
	return KC_OK;

out_free_doc:
	cJSON_Delete(doc);
	return err;
}
