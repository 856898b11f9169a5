/*
 * actions.c - the list of actions a tick returns, the Events among them (the
 * table of reasons in core.h), and the small string helpers the core's
 * files share.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core_int.h"
#include "duration.h"
#include "kc/alloc.h"
#include "kc/array.h"

static const struct {
	const char *name, *action;
	bool warning;
} reasons[FB_REASON_COUNT] = {
#define FB_REASON_ROW(id, name, action, warning) [FB_REASON_##id] = { name, action, warning },
	FB_REASONS(FB_REASON_ROW)
#undef FB_REASON_ROW
};

const char *fb_reason_name(fb_reason r)
{
	return (unsigned)r < FB_REASON_COUNT ? reasons[r].name : "Unknown";
}

const char *fb_reason_action(fb_reason r)
{
	return (unsigned)r < FB_REASON_COUNT ? reasons[r].action : "Evict";
}

bool fb_reason_warning(fb_reason r)
{
	return (unsigned)r < FB_REASON_COUNT && reasons[r].warning;
}

void fb_quarantine_record_free(fb_quarantine_record *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->nnodes; i++) {
		kc_free(q->nodes[i].name);
		kc_free(q->nodes[i].pod);
		kc_free(q->nodes[i].migrated_from);
	}
	kc_free(q->nodes);
	kc_free(q);
}

void fb_actions_init(fb_actions *a)
{
	memset(a, 0, sizeof(*a));
}

void fb_actions_clear(fb_actions *a)
{
	for (size_t i = 0; i < a->n; i++) {
		if (a->v[i].failure) {
			fb_failure_release(a->v[i].failure);
			kc_free(a->v[i].failure);
			a->v[i].failure = NULL;
		}
		fb_quarantine_record_free(a->v[i].verdict);
		a->v[i].verdict = NULL;
	}
	a->n = 0;
}

void fb_actions_release(fb_actions *a)
{
	fb_actions_clear(a);
	kc_free(a->v);
	memset(a, 0, sizeof(*a));
}

fb_action *push_action(fb_actions *a, fb_action_kind kind)
{
	if (KC_ARRAY_RESERVE(a->v, a->cap, a->n + 1) != 0)
		return NULL;
	fb_action *act = &a->v[a->n++];
	memset(act, 0, sizeof(*act));
	act->kind = kind;
	act->grace_period_s = -1;
	act->left_not_ready_s = act->left_unreachable_s = -1;
	return act;
}

void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

bool replace_str(char **dst, const char *src)
{
	if (*dst && src && strcmp(*dst, src) == 0)
		return true;
	char *copy = NULL;
	if (src && !(copy = kc_strdup(src)))
		return false;
	kc_free(*dst);
	*dst = copy;
	return true;
}

void event(fb_actions *out, bool dry_run, fb_obj_kind obj, const char *ns, const char *name,
           const char *uid, fb_reason reason, const char *fmt, ...)
{
	fb_action *a = push_action(out, FB_ACT_EVENT);
	if (!a)
		return;
	a->dry_run = dry_run;
	a->obj = obj;
	a->reason = reason;
	a->warning = fb_reason_warning(reason);
	copy_str(a->ns, sizeof(a->ns), ns);
	copy_str(a->name, sizeof(a->name), name);
	copy_str(a->uid, sizeof(a->uid), uid);
	size_t n = 0;
	if (dry_run)
		n = (size_t)snprintf(a->message, sizeof(a->message), "(dry run) ");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(a->message + n, sizeof(a->message) - n, fmt, ap);
	va_end(ap);
}

void workload_ref(const core_workload *w, fb_workload_ref *out)
{
	/* the parts of a valid id always fit (workload_get_or_add checked them) */
	int rc = fb_workload_ref_set(out, w->kind, w->ns, w->name);
	FB_CHECK(rc == 0);
	(void)rc;
}

void workload_event(fb_actions *out, bool dry, const core_workload *w, fb_reason reason,
                    const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	size_t before = out->n;
	event(out, dry, FB_OBJ_WORKLOAD, w->ns, w->name, NULL, reason, "%s", msg);
	if (out->n > before)
		workload_ref(w, &out->v[out->n - 1].workload);
}

const char *cond_name(fb_cond c)
{
	switch (c) {
	case FB_COND_TRUE: return "True";
	case FB_COND_FALSE: return "False";
	case FB_COND_UNKNOWN: return "Unknown";
	case FB_COND_NONE: break;
	}
	return "absent";
}

const char *ago(int64_t ms, char *buf, size_t cap)
{
	return fb_duration_format(ms < 0 ? 0 : ms / 1000 * 1000, buf, cap);
}
