/* poison.c - failure evidence and the poison verdict (see poison.h). */
#include <stdio.h>
#include <string.h>

#include "kc/alloc.h"
#include "kc/array.h"
#include "kc/time.h"
#include "poison.h"

void fb_failure_release(fb_failure *f)
{
	fb_failure_drop_suspects(f);
	kc_free(f->node);
	memset(f, 0, sizeof(*f));
}

void fb_failure_drop_suspects(fb_failure *f)
{
	for (size_t i = 0; i < f->n; i++) {
		kc_free(f->s[i].workload);
		kc_free(f->s[i].pod);
		kc_free(f->s[i].migrated_from);
	}
	kc_free(f->s);
	f->s = NULL;
	f->n = f->cap = 0;
}

bool fb_failure_keep_only(fb_failure *f, bool (*keep)(const char *workload, void *ud), void *ud)
{
	size_t w = 0;
	for (size_t i = 0; i < f->n; i++) {
		if (keep(f->s[i].workload, ud)) {
			f->s[w++] = f->s[i];
			continue;
		}
		kc_free(f->s[i].workload);
		kc_free(f->s[i].pod);
		kc_free(f->s[i].migrated_from);
	}
	bool changed = w != f->n;
	f->n = w;
	return changed;
}

int fb_failure_add_suspect(fb_failure *f, const char *workload, const char *pod,
                           int64_t arrived_ms, const char *migrated_from)
{
	if (f->n >= FB_FAILURE_SUSPECTS_MAX)
		return -1;
	if (KC_ARRAY_RESERVE(f->s, f->cap, f->n + 1) != 0)
		return -1;
	fb_suspect *s = &f->s[f->n];
	memset(s, 0, sizeof(*s));
	s->workload = kc_strdup(workload);
	s->pod = kc_strdup(pod ? pod : "");
	s->migrated_from = migrated_from ? kc_strdup(migrated_from) : NULL;
	s->arrived_ms = arrived_ms;
	f->n++;
	if (!s->workload || !s->pod || (migrated_from && !s->migrated_from))
		return -1; /* the partial entry is freed with the record */
	return 0;
}

const fb_suspect *fb_failure_suspect(const fb_failure *f, const char *workload)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->s[i].workload, workload) == 0)
			return &f->s[i];
	return NULL;
}

int fb_failure_copy(fb_failure *dst, const fb_failure *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->failed_ms = src->failed_ms;
	dst->memory_pressure = src->memory_pressure;
	dst->outage = src->outage;
	dst->attributed = src->attributed;
	memcpy(dst->past, src->past, sizeof(dst->past));
	dst->npast = src->npast;
	if (!(dst->node = kc_strdup(src->node)))
		return -1;
	for (size_t i = 0; i < src->n; i++) {
		const fb_suspect *s = &src->s[i];
		if (fb_failure_add_suspect(dst, s->workload, s->pod, s->arrived_ms,
		                           s->migrated_from) != 0) {
			fb_failure_release(dst);
			return -1;
		}
		dst->s[dst->n - 1].attributed = s->attributed;
	}
	return 0;
}

static void add_time(cJSON *obj, const char *key, int64_t ms)
{
	char ts[KC_TIME_STR_MAX];
	kc_microtime_format(ms * 1000, ts);
	cJSON_AddStringToObject(obj, key, ts);
}

char *fb_failure_to_json(const fb_failure *f)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	add_time(o, "failedAt", f->failed_ms);
	if (f->memory_pressure)
		cJSON_AddTrueToObject(o, "memoryPressure");
	if (f->outage)
		cJSON_AddTrueToObject(o, "outage");
	if (f->attributed)
		cJSON_AddTrueToObject(o, "attributed");
	if (f->npast) {
		/* "earlier": [{"at": time, "suspects": n, "outage": true, "memoryPressure": true}] */
		cJSON *past = cJSON_AddArrayToObject(o, "earlier");
		for (size_t i = 0; past && i < f->npast && i < FB_FAILURE_PAST_MAX; i++) {
			cJSON *e = cJSON_CreateObject();
			if (!e)
				break;
			add_time(e, "at", f->past[i].at_ms);
			if (f->past[i].suspects)
				cJSON_AddNumberToObject(e, "suspects", f->past[i].suspects);
			if (f->past[i].outage)
				cJSON_AddTrueToObject(e, "outage");
			if (f->past[i].memory_pressure)
				cJSON_AddTrueToObject(e, "memoryPressure");
			if (f->past[i].attributed)
				cJSON_AddTrueToObject(e, "attributed");
			cJSON_AddItemToArray(past, e);
		}
	}
	cJSON *arr = cJSON_AddArrayToObject(o, "arrivals");
	for (size_t i = 0; arr && i < f->n; i++) {
		cJSON *a = cJSON_CreateObject();
		if (!a)
			break;
		cJSON_AddStringToObject(a, "workload", f->s[i].workload);
		cJSON_AddStringToObject(a, "pod", f->s[i].pod);
		add_time(a, "arrivedAt", f->s[i].arrived_ms);
		if (f->s[i].migrated_from)
			cJSON_AddStringToObject(a, "migratedFrom", f->s[i].migrated_from);
		if (f->s[i].attributed)
			cJSON_AddTrueToObject(a, "attributed");
		cJSON_AddItemToArray(arr, a);
	}
	char *out = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return out;
}

static bool get_time(const cJSON *o, const char *key, int64_t *ms)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
	int64_t us;
	if (!cJSON_IsString(it) || kc_time_parse(it->valuestring, &us) != KC_OK)
		return false;
	*ms = us / 1000;
	return true;
}

int fb_failure_from_json(const char *json, const char *node, fb_failure *out)
{
	memset(out, 0, sizeof(*out));
	if (!json || strlen(json) > FB_FAILURE_ANNOTATION_MAX)
		return -1;
	cJSON *o = cJSON_Parse(json);
	int rc = -1;
	if (!cJSON_IsObject(o) || !get_time(o, "failedAt", &out->failed_ms))
		goto out;
	out->memory_pressure = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "memoryPressure"));
	out->outage = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "outage"));
	out->attributed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "attributed"));
	const cJSON *past = cJSON_GetObjectItemCaseSensitive(o, "earlier");
	if (past && !cJSON_IsArray(past))
		goto out;
	const cJSON *pe;
	cJSON_ArrayForEach(pe, past) {
		fb_past_failure pf = { 0 };
		const cJSON *ns = cJSON_GetObjectItemCaseSensitive(pe, "suspects");
		if (!cJSON_IsObject(pe) || !get_time(pe, "at", &pf.at_ms) ||
		    (ns && (!cJSON_IsNumber(ns) || ns->valuedouble < 0 ||
		            ns->valuedouble > FB_FAILURE_SUSPECTS_MAX)))
			goto out;
		pf.suspects = ns ? (int)ns->valuedouble : 0;
		pf.outage = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pe, "outage"));
		pf.memory_pressure = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pe, "memoryPressure"));
		pf.attributed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pe, "attributed"));
		if (out->npast == FB_FAILURE_PAST_MAX) /* the oldest goes */
			memmove(out->past, out->past + 1, (FB_FAILURE_PAST_MAX - 1) * sizeof(*out->past));
		else
			out->npast++;
		out->past[out->npast - 1] = pf;
	}
	if (!(out->node = kc_strdup(node)))
		goto out;
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "arrivals");
	if (arr && !cJSON_IsArray(arr))
		goto out;
	const cJSON *a;
	cJSON_ArrayForEach(a, arr) {
		const cJSON *w = cJSON_GetObjectItemCaseSensitive(a, "workload");
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(a, "pod");
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(a, "migratedFrom");
		int64_t at;
		if (!cJSON_IsString(w) || !get_time(a, "arrivedAt", &at))
			goto out;
		if (fb_failure_add_suspect(out, w->valuestring, cJSON_IsString(p) ? p->valuestring : "",
		                           at, cJSON_IsString(m) ? m->valuestring : NULL) != 0)
			goto out;
		out->s[out->n - 1].attributed =
		        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "attributed"));
	}
	rc = 0;
out:
	cJSON_Delete(o);
	if (rc)
		fb_failure_release(out);
	return rc;
}

void fb_evidence_init(fb_evidence *e)
{
	memset(e, 0, sizeof(*e));
}

void fb_evidence_release(fb_evidence *e)
{
	for (size_t i = 0; i < e->n; i++)
		fb_failure_release(&e->v[i]);
	kc_free(e->v);
	memset(e, 0, sizeof(*e));
}

fb_failure *fb_evidence_find(fb_evidence *e, const char *node, int64_t failed_ms)
{
	for (size_t i = 0; i < e->n; i++)
		if (e->v[i].failed_ms == failed_ms && strcmp(e->v[i].node, node) == 0)
			return &e->v[i];
	return NULL;
}

bool fb_evidence_has(const fb_evidence *e, const char *node, int64_t failed_ms)
{
	return fb_evidence_find((fb_evidence *)e, node, failed_ms) != NULL;
}

fb_failure *fb_evidence_take(fb_evidence *e, fb_failure *f)
{
	if (fb_evidence_has(e, f->node, f->failed_ms)) {
		fb_failure_release(f);
		return NULL;
	}
	if (KC_ARRAY_RESERVE(e->v, e->cap, e->n + 1) != 0) {
		fb_failure_release(f);
		return NULL;
	}
	e->v[e->n] = *f;
	memset(f, 0, sizeof(*f));
	return &e->v[e->n++];
}

void fb_evidence_prune(fb_evidence *e, int64_t before_ms)
{
	size_t w = 0;
	for (size_t i = 0; i < e->n; i++) {
		if (e->v[i].failed_ms < before_ms)
			fb_failure_release(&e->v[i]);
		else
			e->v[w++] = e->v[i];
	}
	e->n = w;
}

static bool lists(const fb_failure *f, const char *workload, int64_t not_before_ms)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->s[i].arrived_ms >= not_before_ms && strcmp(f->s[i].workload, workload) == 0)
			return true;
	return false;
}

int fb_evidence_bad(const fb_evidence *e, const char *workload, int64_t since_ms,
                    int64_t not_before_ms, const char **nodes, int max)
{
	int count = 0;
	for (size_t i = 0; i < e->n; i++) {
		const fb_failure *f = &e->v[i];
		if (f->failed_ms < since_ms || !lists(f, workload, not_before_ms))
			continue;
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = e->v[j].failed_ms >= since_ms && strcmp(e->v[j].node, f->node) == 0 &&
			       lists(&e->v[j], workload, not_before_ms);
		if (seen)
			continue;
		if (count < max && nodes)
			nodes[count] = f->node;
		count++;
	}
	return count;
}

const char *fb_evidence_migrated_from(const fb_evidence *e, const char *workload,
                                      const char *node, int64_t arrived_ms, int64_t window_ms)
{
	const fb_failure *best = NULL;
	for (size_t i = 0; i < e->n; i++) {
		const fb_failure *f = &e->v[i];
		if (strcmp(f->node, node) == 0 || f->failed_ms > arrived_ms ||
		    f->failed_ms < arrived_ms - window_ms || !lists(f, workload, INT64_MIN))
			continue;
		if (!best || f->failed_ms > best->failed_ms)
			best = f;
	}
	return best ? best->node : NULL;
}

bool fb_poison_verdict(int bad, int good, int failures, double ratio)
{
	if (failures < 1 || bad < failures)
		return false;
	return (double)bad >= ratio * (double)(bad + good);
}
