/* tolerations.c - the failure taints' tolerations, read and rewritten (see tolerations.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tolerations.h"

#define KEY_NOT_READY "not-ready"
#define KEY_UNREACHABLE "unreachable"

static const cJSON *get(const cJSON *obj, const char *name)
{
	return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, name) : NULL;
}

static const char *str(const cJSON *obj, const char *name)
{
	const cJSON *it = get(obj, name);
	return cJSON_IsString(it) ? it->valuestring : NULL;
}

void fb_tol_record_clear(fb_tol_record *r)
{
	r->not_ready_s = r->unreachable_s = FB_TOL_FOREVER;
}

bool fb_tol_record_any(const fb_tol_record *r)
{
	return r->not_ready_s >= 0 || r->unreachable_s >= 0;
}

int fb_tol_record_parse(const char *s, fb_tol_record *out)
{
	fb_tol_record r;
	fb_tol_record_clear(&r);
	fb_tol_record_clear(out);
	if (!s || !*s || strlen(s) >= FB_TOL_RECORD_MAX)
		return -1;
	const char *p = s;
	for (;;) {
		int64_t *slot;
		if (strncmp(p, KEY_NOT_READY "=", sizeof(KEY_NOT_READY)) == 0) {
			slot = &r.not_ready_s;
			p += sizeof(KEY_NOT_READY);
		} else if (strncmp(p, KEY_UNREACHABLE "=", sizeof(KEY_UNREACHABLE)) == 0) {
			slot = &r.unreachable_s;
			p += sizeof(KEY_UNREACHABLE);
		} else {
			return -1;
		}
		if (*slot != FB_TOL_FOREVER || *p < '0' || *p > '9')
			return -1; /* a key twice, or no number */
		int64_t v = 0;
		for (; *p >= '0' && *p <= '9'; p++) {
			v = v * 10 + (*p - '0');
			if (v > FB_TOLERATION_S_MAX)
				return -1;
		}
		*slot = v;
		if (!*p)
			break;
		if (*p++ != ',')
			return -1;
	}
	*out = r;
	return 0;
}

void fb_tol_record_format(const fb_tol_record *r, char buf[FB_TOL_RECORD_MAX])
{
	size_t n = 0;
	buf[0] = '\0';
	if (r->not_ready_s >= 0)
		n += (size_t)snprintf(buf, FB_TOL_RECORD_MAX, KEY_NOT_READY "=%lld",
		                      (long long)r->not_ready_s);
	if (r->unreachable_s >= 0 && n < FB_TOL_RECORD_MAX)
		snprintf(buf + n, FB_TOL_RECORD_MAX - n, "%s" KEY_UNREACHABLE "=%lld", n ? "," : "",
		         (long long)r->unreachable_s);
}

/* v1.Toleration.ToleratesTaint for the NoExecute taint taint_key with no value
 * (the comparison operators Lt/Gt never match a value-less taint). */
static bool tolerates(const cJSON *t, const char *taint_key)
{
	const char *effect = str(t, "effect");
	const char *key = str(t, "key");
	const char *op = str(t, "operator");
	const char *value = str(t, "value");
	if (!cJSON_IsObject(t))
		return false;
	if (effect && *effect && strcmp(effect, "NoExecute") != 0)
		return false;
	if (key && *key && strcmp(key, taint_key) != 0)
		return false;
	if (!op || !*op || strcmp(op, "Equal") == 0)
		return !value || !*value;
	return strcmp(op, "Exists") == 0;
}

/* The first toleration of taint_key in spec order, its index in *at; NULL: none. */
static const cJSON *first_match(const cJSON *tolerations, const char *taint_key, int *at)
{
	const cJSON *t;
	int i = 0;
	if (!cJSON_IsArray(tolerations))
		return NULL;
	cJSON_ArrayForEach(t, tolerations) {
		if (tolerates(t, taint_key)) {
			*at = i;
			return t;
		}
		i++;
	}
	return NULL;
}

/* tolerationSeconds of t as getMinTolerationTime reads it; FB_TOL_FOREVER without. */
static int64_t seconds_of(const cJSON *t)
{
	const cJSON *secs = get(t, "tolerationSeconds");
	if (!cJSON_IsNumber(secs) || isnan(secs->valuedouble))
		return FB_TOL_FOREVER;
	if (secs->valuedouble <= 0)
		return 0;
	return secs->valuedouble >= (double)FB_TOLERATION_S_MAX ? FB_TOLERATION_S_MAX
	                                                        : (int64_t)secs->valuedouble;
}

int64_t fb_toleration_s(const cJSON *tolerations, const char *taint_key)
{
	int at;
	const cJSON *t = first_match(tolerations, taint_key, &at);
	return t ? seconds_of(t) : FB_TOL_NONE;
}

bool fb_tolerations_finite(const cJSON *tolerations)
{
	return fb_toleration_s(tolerations, FB_TAINT_NOT_READY) != FB_TOL_FOREVER ||
	       fb_toleration_s(tolerations, FB_TAINT_UNREACHABLE) != FB_TOL_FOREVER;
}

/* {key: taint_key, operator: Exists, effect: NoExecute[, tolerationSeconds: s]}; NULL on ENOMEM. */
static cJSON *key_toleration(const char *taint_key, int64_t s)
{
	cJSON *t = cJSON_CreateObject();
	if (!t || !cJSON_AddStringToObject(t, "key", taint_key) ||
	    !cJSON_AddStringToObject(t, "operator", "Exists") ||
	    !cJSON_AddStringToObject(t, "effect", "NoExecute") ||
	    (s >= 0 && !cJSON_AddNumberToObject(t, "tolerationSeconds", (double)s))) {
		cJSON_Delete(t);
		return NULL;
	}
	return t;
}

/* Insert item at index at of list (at == size: append); frees item on failure.
 * Not with cJSON_InsertItemInArray: Debian bookworm's cJSON 1.7.15 (the image's
 * libcjson1, 1.7.15-1+deb12u4) refuses every index but 0 and the end. Appended,
 * then the items from at on moved behind it; neither step allocates. */
static bool insert(cJSON *list, int at, cJSON *item)
{
	if (!item)
		return false;
	int n = cJSON_GetArraySize(list);
	if (!cJSON_AddItemToArray(list, item)) {
		cJSON_Delete(item);
		return false;
	}
	for (int i = at; i < n; i++)
		cJSON_AddItemToArray(list, cJSON_DetachItemFromArray(list, at));
	return true;
}

/* Whether every number in item is whole and within ±FB_TOLERATION_S_EXACT (tolerations.h). */
static bool exact(const cJSON *item)
{
	if (cJSON_IsNumber(item))
		return item->valuedouble == floor(item->valuedouble) &&
		       fabs(item->valuedouble) <= FB_TOLERATION_S_EXACT;
	for (const cJSON *c = item ? item->child : NULL; c; c = c->next)
		if (!exact(c))
			return false;
	return true;
}

bool fb_tolerations_print_exact(cJSON *item)
{
	for (cJSON *c = item ? item->child : NULL; c; c = c->next) {
		if (!cJSON_IsNumber(c)) {
			if (!fb_tolerations_print_exact(c))
				return false;
			continue;
		}
		char digits[32];
		snprintf(digits, sizeof(digits), "%.0f", c->valuedouble);
		cJSON *raw = cJSON_CreateRaw(digits);
		if (!raw)
			return false;
		/* in place, so that an object member keeps its name and place: the raw
		 * item's text moves over, and cJSON_Delete frees it with c */
		c->type = cJSON_Raw | (c->type & cJSON_StringIsConst);
		c->valuestring = raw->valuestring;
		raw->valuestring = NULL;
		cJSON_Delete(raw);
	}
	return true;
}

/* A copy of tolerations as an array (none = empty); NULL on ENOMEM. */
static cJSON *copy_list(const cJSON *tolerations)
{
	return cJSON_IsArray(tolerations) ? cJSON_Duplicate(tolerations, true)
	                                  : cJSON_CreateArray();
}

/*
 * Whether the DefaultTolerationSeconds plugin would have added its toleration for taint_key:
 * only when no toleration has that key or the empty key with effect NoExecute or none (its
 * Admit; it does not look at operator or value, so a toleration of the key that does not match
 * the taint keeps the default away, and Kubernetes evicts the pod at once).
 */
static bool plugin_would_default(const cJSON *list, const char *taint_key)
{
	const cJSON *t;
	cJSON_ArrayForEach(t, list) {
		const char *key = str(t, "key"), *effect = str(t, "effect");
		if (cJSON_IsObject(t) && (!key || !*key || strcmp(key, taint_key) == 0) &&
		    (!effect || !*effect || strcmp(effect, "NoExecute") == 0))
			return false;
	}
	return true;
}

/* *out = list when changed, else list freed; KC_OK. */
static kc_err keep_if(bool changed, cJSON *list, cJSON **out)
{
	if (changed)
		*out = list;
	else
		cJSON_Delete(list);
	return KC_OK;
}

/* Cover taint_key in list (tolerations.h); *recorded: the seconds taken, or prior. */
static bool cover_key(cJSON *list, const char *taint_key, int64_t prior, int64_t default_s,
                      int64_t *recorded, bool *changed)
{
	int at = 0;
	cJSON *t = (cJSON *)first_match(list, taint_key, &at);
	if (!t) {
		/* what Kubernetes would do: the plugin's default, or at once (0) when the
		 * plugin saw a toleration of the key that does not match */
		*recorded = plugin_would_default(list, taint_key) ? default_s : 0;
		*changed = true;
		return insert(list, cJSON_GetArraySize(list), key_toleration(taint_key, -1));
	}
	int64_t s = seconds_of(t);
	if (s == FB_TOL_FOREVER) {
		*recorded = prior; /* forever already: by the pod itself, or by us before */
		return true;
	}
	*recorded = s;
	*changed = true;
	const char *key = str(t, "key");
	if (key && *key) { /* a toleration of this key alone: drop its seconds */
		cJSON_DeleteItemFromObjectCaseSensitive(t, "tolerationSeconds");
		return true;
	}
	return insert(list, at, key_toleration(taint_key, -1));
}

kc_err fb_tolerations_cover(const cJSON *tolerations, const fb_tol_record *prior,
                            int64_t default_s, cJSON **out, fb_tol_record *rec)
{
	fb_tol_record none;
	fb_tol_record_clear(&none);
	if (!prior)
		prior = &none;
	*out = NULL;
	*rec = none;
	if (!exact(tolerations))
		return KC_ERR_TOOBIG;
	cJSON *list = copy_list(tolerations);
	bool changed = false;
	if (!list || !cover_key(list, FB_TAINT_NOT_READY, prior->not_ready_s, default_s,
	                        &rec->not_ready_s, &changed) ||
	    !cover_key(list, FB_TAINT_UNREACHABLE, prior->unreachable_s, default_s,
	               &rec->unreachable_s, &changed)) {
		cJSON_Delete(list);
		*rec = none;
		return KC_ERR_NOMEM;
	}
	return keep_if(changed, list, out);
}

/* ops += {"op": op, "path": path[, "value": value]}: value taken (NULL: its allocation
 * failed), or none for a remove; false on ENOMEM. */
static bool op_to(cJSON *ops, const char *op, const char *path, cJSON *value, bool has_value)
{
	cJSON *o = has_value && !value ? NULL : cJSON_CreateObject();
	if (!o || !cJSON_AddItemToArray(ops, o)) {
		cJSON_Delete(o);
		cJSON_Delete(value);
		return false;
	}
	if (!cJSON_AddStringToObject(o, "op", op) || !cJSON_AddStringToObject(o, "path", path)) {
		cJSON_Delete(value);
		return false;
	}
	if (has_value && !cJSON_AddItemToObject(o, "value", value)) {
		cJSON_Delete(value);
		return false;
	}
	return true;
}

static bool add_op(cJSON *ops, const char *op, const char *path, cJSON *value)
{
	return op_to(ops, op, path, value, true);
}

static bool remove_op(cJSON *ops, const char *path)
{
	return op_to(ops, "remove", path, NULL, false);
}

/* A number item of s, or NULL on ENOMEM. */
static cJSON *number(int64_t s)
{
	return cJSON_CreateNumber((double)s);
}

/*
 * Give taint_key's first matching toleration in list the seconds s again. With ops, the
 * same change as one JSON Patch operation on /spec/tolerations (list is the pod's list as
 * the ops before have left it), so that no other toleration is written.
 */
static bool restore_key(cJSON *list, const char *taint_key, int64_t s, bool *changed,
                        cJSON *ops)
{
	if (s < 0)
		return true; /* not recorded */
	int at = 0;
	cJSON *t = (cJSON *)first_match(list, taint_key, &at);
	if (t && seconds_of(t) != FB_TOL_FOREVER)
		return true; /* it has seconds again (restored before, or changed since) */
	*changed = true;
	const char *effect = str(t, "effect"), *key = str(t, "key");
	char path[64];
	if (t && key && *key && effect && strcmp(effect, "NoExecute") == 0) {
		/* a toleration of this key alone (tolerationSeconds is valid only with
		 * effect NoExecute): its seconds back */
		snprintf(path, sizeof(path), "/spec/tolerations/%d/tolerationSeconds", at);
		cJSON_DeleteItemFromObjectCaseSensitive(t, "tolerationSeconds");
		return cJSON_AddNumberToObject(t, "tolerationSeconds", (double)s) != NULL &&
		       (!ops || add_op(ops, "add", path, number(s)));
	}
	/* none, a wildcard or one of every effect (not after a cover, but the annotation
	 * is anyone's to write): a toleration of this key with the seconds, before it, so
	 * that no other taint's toleration changes */
	int where = t ? at : cJSON_GetArraySize(list);
	snprintf(path, sizeof(path), "/spec/tolerations/%d", where);
	return insert(list, where, key_toleration(taint_key, s)) &&
	       (!ops || add_op(ops, "add", path, key_toleration(taint_key, s)));
}

kc_err fb_tolerations_restore(const cJSON *tolerations, const fb_tol_record *rec, cJSON **out)
{
	*out = NULL;
	if (!exact(tolerations))
		return KC_ERR_TOOBIG;
	cJSON *list = copy_list(tolerations);
	bool changed = false;
	if (!list || !restore_key(list, FB_TAINT_NOT_READY, rec->not_ready_s, &changed, NULL) ||
	    !restore_key(list, FB_TAINT_UNREACHABLE, rec->unreachable_s, &changed, NULL)) {
		cJSON_Delete(list);
		return KC_ERR_NOMEM;
	}
	return keep_if(changed, list, out);
}

#define ANN_PATH "/metadata/annotations/firebreak.dev~1toleration-seconds"
#define FULL_PATH "/metadata/annotations/firebreak.dev~1toleration-seconds-full"

/* The restore as a JSON Patch (tolerations.h fb_tolerations_pod_patch), with full kept when
 * rec shortens a key of it. */
static kc_err restore_ops(const cJSON *tols, const char *rv, const fb_tol_record *rec,
                          const fb_tol_record *full, cJSON **out)
{
	fb_tol_record kept;
	fb_tol_record_clear(&kept);
	if (full && rec->not_ready_s >= 0 && full->not_ready_s > rec->not_ready_s)
		kept.not_ready_s = full->not_ready_s;
	if (full && rec->unreachable_s >= 0 && full->unreachable_s > rec->unreachable_s)
		kept.unreachable_s = full->unreachable_s;
	char value[FB_TOL_RECORD_MAX];
	fb_tol_record_format(&kept, value);
	cJSON *ops = cJSON_CreateArray(), *list = copy_list(tols);
	bool changed = false;
	if (!ops || !list || (rv && !add_op(ops, "test", "/metadata/resourceVersion",
	                                    cJSON_CreateString(rv))))
		goto nomem;
	/* an empty list is not in the pod's JSON (omitempty): one to add to, replacing an empty
	 * one if it is */
	if (cJSON_GetArraySize(list) == 0 && fb_tol_record_any(rec) &&
	    !add_op(ops, "add", "/spec/tolerations", cJSON_CreateArray()))
		goto nomem;
	if (!restore_key(list, FB_TAINT_NOT_READY, rec->not_ready_s, &changed, ops) ||
	    !restore_key(list, FB_TAINT_UNREACHABLE, rec->unreachable_s, &changed, ops) ||
	    !remove_op(ops, ANN_PATH) ||
	    (fb_tol_record_any(&kept) && !add_op(ops, "add", FULL_PATH, cJSON_CreateString(value))))
		goto nomem;
	cJSON_Delete(list);
	*out = ops;
	return KC_OK;
nomem:
	cJSON_Delete(list);
	cJSON_Delete(ops);
	return KC_ERR_NOMEM;
}

/* {"metadata":{"resourceVersion":rv,"annotations":{ANN: record}},"spec":{"tolerations":list}};
 * list taken. */
static cJSON *merge_patch(const char *rv, const fb_tol_record *rec, cJSON *list)
{
	char value[FB_TOL_RECORD_MAX];
	fb_tol_record_format(rec, value);
	cJSON *patch = cJSON_CreateObject(), *meta, *anns, *spec;
	if (!patch || !(meta = cJSON_AddObjectToObject(patch, "metadata")) ||
	    (rv && !cJSON_AddStringToObject(meta, "resourceVersion", rv)) ||
	    !(anns = cJSON_AddObjectToObject(meta, "annotations")) ||
	    !cJSON_AddStringToObject(anns, FB_ANNOTATION_TOLERATIONS, value) ||
	    !fb_tolerations_print_exact(list) || !(spec = cJSON_AddObjectToObject(patch, "spec")) ||
	    !cJSON_AddItemToObject(spec, "tolerations", list)) {
		cJSON_Delete(list);
		cJSON_Delete(patch);
		return NULL;
	}
	return patch;
}

/* The pod's tolerations text parsed: an array (none = empty); NULL with *err set. */
static cJSON *parse_list(const char *tolerations, kc_err *err)
{
	cJSON *tols = cJSON_Parse(tolerations ? tolerations : "[]");
	*err = KC_ERR_PARSE; /* cJSON's only failure we cannot tell from ENOMEM */
	if (tols && !cJSON_IsArray(tols) && !cJSON_IsNull(tols)) {
		cJSON_Delete(tols);
		return NULL;
	}
	return tols;
}

kc_err fb_tolerations_pod_patch(const char *tolerations, const char *resource_version,
                                const fb_tol_record *prior, bool cover, int64_t default_s,
                                cJSON **out)
{
	*out = NULL;
	kc_err err;
	cJSON *tols = parse_list(tolerations, &err);
	if (!tols)
		return err;
	cJSON *list = NULL;
	if (cover) {
		fb_tol_record rec;
		err = fb_tolerations_cover(tols, prior, default_s, &list, &rec);
		if (err == KC_OK && list && !(*out = merge_patch(resource_version, &rec, list)))
			err = KC_ERR_NOMEM;
	} else {
		fb_tol_record none;
		fb_tol_record_clear(&none);
		err = restore_ops(tols, resource_version, prior ? prior : &none, NULL, out);
	}
	cJSON_Delete(tols);
	return err;
}

kc_err fb_tolerations_restore_patch(const char *tolerations, const char *resource_version,
                                    const fb_tol_record *rec, const fb_tol_record *full,
                                    cJSON **out)
{
	*out = NULL;
	kc_err err;
	cJSON *tols = parse_list(tolerations, &err);
	if (!tols)
		return err;
	err = restore_ops(tols, resource_version, rec, full, out);
	cJSON_Delete(tols);
	return err;
}

/* taint_key's first matching toleration in list, if it has fewer seconds than s: s (an op). */
static bool lengthen_key(const cJSON *list, const char *taint_key, int64_t s, cJSON *ops)
{
	int at = 0;
	const cJSON *t = first_match(list, taint_key, &at);
	int64_t now = t ? seconds_of(t) : FB_TOL_NONE;
	if (s < 0 || now < 0 || now >= s)
		return true; /* not kept, forever or none (changed since: the spec decides), or whole */
	char path[64];
	snprintf(path, sizeof(path), "/spec/tolerations/%d/tolerationSeconds", at);
	return add_op(ops, "add", path, number(s));
}

kc_err fb_tolerations_lengthen_patch(const char *tolerations, const char *resource_version,
                                     const fb_tol_record *full, cJSON **out)
{
	*out = NULL;
	kc_err err;
	cJSON *tols = parse_list(tolerations, &err);
	if (!tols)
		return err;
	cJSON *ops = cJSON_CreateArray();
	if (!ops || (resource_version && !add_op(ops, "test", "/metadata/resourceVersion",
	                                         cJSON_CreateString(resource_version))) ||
	    !lengthen_key(tols, FB_TAINT_NOT_READY, full->not_ready_s, ops) ||
	    !lengthen_key(tols, FB_TAINT_UNREACHABLE, full->unreachable_s, ops) ||
	    !remove_op(ops, FULL_PATH)) {
		cJSON_Delete(ops);
		cJSON_Delete(tols);
		return KC_ERR_NOMEM;
	}
	cJSON_Delete(tols);
	*out = ops;
	return KC_OK;
}
