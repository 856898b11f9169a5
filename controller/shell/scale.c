/* scale.c - ScaleToZero and its restore against the API (see scale.h). */
#include <stdio.h>
#include <string.h>

#include "kc/alloc.h"
#include "scale.h"
#include "scalepolicy.h"
#include "workload.h"

/*
 * Where ScaleToZero reaches the kinds the core's table calls scalable
 * (workload.h), matched by kind. scripts/check-chart.sh reads this list to
 * know which apps/v1 resources the calls below reach: keep one &RESOURCE
 * per line.
 */
static const kc_resource *const scale_targets[] = {
	&KC_RES_DEPLOYMENTS,
	&KC_RES_STATEFULSETS,
	&KC_RES_REPLICASETS,
};

static const kc_resource *resource_of(const char *kind)
{
	const fb_kind_info *k = fb_kind_lookup(kind);
	for (size_t i = 0; k && k->scalable && i < sizeof(scale_targets) / sizeof(scale_targets[0]);
	     i++)
		if (strcmp(scale_targets[i]->plural, k->resource) == 0)
			return scale_targets[i];
	return NULL;
}

/* What firebreak needs of the workload. */
typedef struct wl_view {
	int64_t replicas;
	char rv[128];              /* metadata.resourceVersion, "" if absent */
	char manager[300];         /* "Kind name" of a controller ownerReference, "" if none */
	bool has_annotation;
	int64_t annotated;         /* the annotation's count; -1 if it is not one */
	char annotation[40];       /* its value (truncated), for messages */
} wl_view;

static fb_scale_result api_failure(fb_scale_report *rep, kc_err err, const kc_error_detail *d,
                                   const char *what)
{
	rep->err = err;
	snprintf(rep->why, sizeof(rep->why), "%s: %s%s%.200s", what, kc_strerror(err),
	         d && d->message[0] ? ": " : "", d ? d->message : "");
	return err == KC_ERR_NOT_FOUND ? FB_SCALE_GONE : FB_SCALE_FAILED;
}

/* GET the workload and project what we need of it. */
static fb_scale_result read_workload(kc_client *c, const kc_resource *res, const char *ns,
                                     const char *name, wl_view *v, fb_scale_report *rep)
{
	cJSON *obj = NULL;
	kc_error_detail d;
	kc_detail_clear(&d);
	kc_err err = kc_get(c, res, ns, name, NULL, &obj, &d);
	if (err != KC_OK)
		return api_failure(rep, err, &d, "reading it");
	memset(v, 0, sizeof(*v));
	v->annotated = -1;
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	const cJSON *rv = cJSON_GetObjectItemCaseSensitive(meta, "resourceVersion");
	/* the precondition of our writes; one that does not fit is left out, not cut */
	if (cJSON_IsString(rv) && strlen(rv->valuestring) < sizeof(v->rv))
		snprintf(v->rv, sizeof(v->rv), "%s", rv->valuestring);
	/* apps/v1 defaults spec.replicas to 1; stored objects always carry it */
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(spec, "replicas");
	v->replicas = 1;
	if (cJSON_IsNumber(r)) {
		if (r->valuedouble < 0 || r->valuedouble > (double)FB_REPLICAS_MAX) {
			cJSON_Delete(obj);
			rep->err = KC_ERR_PARSE;
			snprintf(rep->why, sizeof(rep->why), "spec.replicas out of range");
			return FB_SCALE_FAILED;
		}
		v->replicas = (int64_t)r->valuedouble;
	}
	const cJSON *ref;
	cJSON_ArrayForEach(ref, cJSON_GetObjectItemCaseSensitive(meta, "ownerReferences")) {
		const cJSON *kind = cJSON_GetObjectItemCaseSensitive(ref, "kind");
		const cJSON *rname = cJSON_GetObjectItemCaseSensitive(ref, "name");
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ref, "controller"))) {
			snprintf(v->manager, sizeof(v->manager), "%.60s %.200s",
			         cJSON_IsString(kind) ? kind->valuestring : "?",
			         cJSON_IsString(rname) ? rname->valuestring : "?");
			break;
		}
	}
	const cJSON *ann = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(meta, "annotations"), FB_REPLICAS_ANNOTATION);
	if (cJSON_IsString(ann)) {
		v->has_annotation = true;
		v->annotated = fb_replicas_parse(ann->valuestring);
		snprintf(v->annotation, sizeof(v->annotation), "%s", ann->valuestring);
	}
	cJSON_Delete(obj);
	return FB_SCALE_DONE;
}

/*
 * Merge-patch metadata.annotations[FB_REPLICAS_ANNOTATION] to value (NULL:
 * remove it), with the resourceVersion as precondition when rv is not NULL.
 */
static kc_err patch_annotation(kc_client *c, const kc_resource *res, const char *ns,
                               const char *name, const char *rv, const char *value,
                               kc_error_detail *d)
{
	cJSON *patch = cJSON_CreateObject();
	cJSON *meta = cJSON_AddObjectToObject(patch, "metadata");
	cJSON *ann = cJSON_AddObjectToObject(meta, "annotations");
	bool ok = ann && (!rv || cJSON_AddStringToObject(meta, "resourceVersion", rv)) &&
	          (value ? cJSON_AddStringToObject(ann, FB_REPLICAS_ANNOTATION, value) != NULL
	                 : cJSON_AddNullToObject(ann, FB_REPLICAS_ANNOTATION) != NULL);
	char *body = ok ? cJSON_PrintUnformatted(patch) : NULL;
	cJSON_Delete(patch);
	if (!body)
		return KC_ERR_NOMEM;
	kc_err err = kc_patch(c, res, ns, name, NULL, KC_PATCH_MERGE, body, NULL, NULL, d);
	cJSON_free(body);
	return err;
}

/* Merge-patch the scale subresource's spec.replicas (resourceVersion-checked when rv is set). */
static kc_err patch_scale(kc_client *c, const kc_resource *res, const char *ns, const char *name,
                          const char *rv, int64_t replicas, kc_error_detail *d)
{
	char body[256];
	if (rv) {
		cJSON *s = cJSON_CreateString(rv); /* JSON-escaped: it comes from the server */
		char *q = s ? cJSON_PrintUnformatted(s) : NULL;
		cJSON_Delete(s);
		if (!q)
			return KC_ERR_NOMEM;
		snprintf(body, sizeof(body), "{\"metadata\":{\"resourceVersion\":%s},\"spec\":{\"replicas\":%lld}}",
		         q, (long long)replicas);
		cJSON_free(q);
	} else {
		snprintf(body, sizeof(body), "{\"spec\":{\"replicas\":%lld}}", (long long)replicas);
	}
	return kc_patch(c, res, ns, name, "scale", KC_PATCH_MERGE, body, NULL, NULL, d);
}

static void report_init(fb_scale_report *rep)
{
	memset(rep, 0, sizeof(*rep));
	rep->from = rep->to = -1;
}

fb_scale_result fb_scale_to_zero(kc_client *c, const char *kind, const char *ns,
                                 const char *name, fb_scale_report *rep)
{
	report_init(rep);
	const kc_resource *res = resource_of(kind);
	if (!res) {
		snprintf(rep->why, sizeof(rep->why),
		         "a %.60s has no scale subresource firebreak uses (Deployment, StatefulSet, "
		         "ReplicaSet)", kind ? kind : "workload");
		return FB_SCALE_REFUSED;
	}
	kc_error_detail d;
	for (int tries = 0; tries < FB_SCALE_WRITE_TRIES; tries++) {
		wl_view v;
		fb_scale_result r = read_workload(c, res, ns, name, &v, rep);
		if (r != FB_SCALE_DONE)
			return r;
		if (v.manager[0]) {
			snprintf(rep->why, sizeof(rep->why),
			         "it is managed by %.262s, which would undo the scale", v.manager);
			return FB_SCALE_REFUSED;
		}
		fb_scale_down_plan plan = fb_scale_down_plan_for(v.replicas, v.annotated);
		rep->kept_annotation = !plan.write_annotation;
		rep->from = plan.from;
		if (plan.write_annotation) {
			char count[24];
			snprintf(count, sizeof(count), "%lld", (long long)v.replicas);
			kc_detail_clear(&d);
			kc_err err = patch_annotation(c, res, ns, name, v.rv[0] ? v.rv : NULL, count, &d);
			if (err == KC_ERR_CONFLICT)
				continue; /* changed since the read: record the count it has now */
			if (err != KC_OK)
				return api_failure(rep, err, &d, "annotating it");
		}
		if (plan.set_zero) {
			kc_detail_clear(&d);
			kc_err err = patch_scale(c, res, ns, name, NULL, 0, &d);
			if (err != KC_OK)
				return api_failure(rep, err, &d, "scaling it to 0");
		}
		rep->to = 0;
		return FB_SCALE_DONE;
	}
	rep->err = KC_ERR_CONFLICT;
	snprintf(rep->why, sizeof(rep->why), "it kept changing (%d conflicts)", FB_SCALE_WRITE_TRIES);
	return FB_SCALE_FAILED;
}

fb_scale_result fb_scale_restore(kc_client *c, const char *kind, const char *ns,
                                 const char *name, fb_scale_report *rep)
{
	report_init(rep);
	const kc_resource *res = resource_of(kind);
	if (!res) {
		rep->nothing_to_do = true; /* never scaled by us */
		return FB_SCALE_DONE;
	}
	kc_error_detail d;
	for (int tries = 0; tries < FB_SCALE_WRITE_TRIES; tries++) {
		wl_view v;
		fb_scale_result r = read_workload(c, res, ns, name, &v, rep);
		if (r != FB_SCALE_DONE)
			return r;
		rep->to = v.replicas;
		rep->from = v.annotated; /* -1 without a count */
		switch (fb_restore_step_for(v.replicas, v.has_annotation, v.annotated)) {
		case FB_RESTORE_NOTHING:
			rep->nothing_to_do = true;
			return FB_SCALE_DONE;
		case FB_RESTORE_REFUSE:
			snprintf(rep->why, sizeof(rep->why),
			         "its annotation %s=\"%s\" is not a replica count; restore it by hand "
			         "and remove the annotation", FB_REPLICAS_ANNOTATION, v.annotation);
			return FB_SCALE_REFUSED;
		case FB_RESTORE_SCALE: {
			kc_detail_clear(&d);
			kc_err err = patch_scale(c, res, ns, name, v.rv[0] ? v.rv : NULL, v.annotated, &d);
			if (err == KC_ERR_CONFLICT)
				continue; /* someone wrote meanwhile: look again */
			if (err != KC_OK)
				return api_failure(rep, err, &d, "restoring its replicas");
			rep->to = v.annotated;
			break;
		}
		case FB_RESTORE_KEEP_THEIRS:
			rep->changed_meanwhile = true; /* scaled by someone else since: theirs stands */
			break;
		case FB_RESTORE_UNCHANGED:
			break;
		}
		kc_detail_clear(&d);
		kc_err err = patch_annotation(c, res, ns, name, NULL, NULL, &d);
		if (err != KC_OK)
			return api_failure(rep, err, &d, "removing its annotation");
		return FB_SCALE_DONE;
	}
	rep->err = KC_ERR_CONFLICT;
	snprintf(rep->why, sizeof(rep->why), "it kept changing (%d conflicts)", FB_SCALE_WRITE_TRIES);
	return FB_SCALE_FAILED;
}
