/*
 * verbs.c - GET, LIST, CREATE, UPDATE, PATCH, DELETE and the Eviction
 * subresource on top of kc_client_do (kc/client.h).
 *
 * Bodies are what the caller built, serialised with cJSON_PrintUnformatted:
 * a 0 or false the caller put in the object is sent (replicas: 0 must reach
 * the server; kubernetes-client/c issue 203). Options are three-state: only
 * what the caller set goes on the wire. Answers are parsed with
 * cJSON_ParseWithLength; a non-2xx answer never reaches the parser as a
 * success (kc_client_do decodes it as a metav1.Status), and malformed JSON on
 * a 2xx is KC_ERR_PARSE.
 */
#include <string.h>

#include "client_internal.h"
#include "kc/alloc.h"
#include "kc/client.h"

/* Path and query of one call; released together. */
typedef struct target {
	kc_buf path;
	kc_buf query;
} target;

static void target_init(target *t)
{
	kc_buf_init(&t->path, KC__PATH_MAX);
	kc_buf_init(&t->query, KC__QUERY_MAX);
}

static void target_release(target *t)
{
	kc_buf_release(&t->path);
	kc_buf_release(&t->query);
}

static kc_err build_path(target *t, const kc_resource *res, const char *ns, const char *name,
                         const char *sub, kc_error_detail *d)
{
	kc_err err = kc_path_append(&t->path, res, ns, name, sub);
	if (err == KC_ERR_INVALID)
		return kc_fail(d, err, "invalid path for %s: namespace \"%.80s\", name \"%.80s\"",
		               res && res->plural ? res->plural : "(null)", ns ? ns : "", name ? name : "");
	if (err)
		return kc_fail(d, err, "building the request path: %s", kc_strerror(err));
	return KC_OK;
}

/* fieldManager and dryRun=All, each only when set. */
static kc_err write_query(target *t, const kc_write_opts *o, kc_error_detail *d)
{
	kc_err err = KC_OK;
	if (o && o->field_manager && *o->field_manager)
		err = kc_query_append(&t->query, "fieldManager", o->field_manager);
	if (!err && o && o->dry_run)
		err = kc_query_append(&t->query, "dryRun", "All");
	return err ? kc_fail(d, err, "building the query: %s", kc_strerror(err)) : KC_OK;
}

/* Parse a 2xx body into *out (if out is wanted). */
static kc_err decode(const kc_response *r, const char *what, cJSON **out, kc_error_detail *d)
{
	if (!out)
		return KC_OK;
	cJSON *obj = r->body.len ? cJSON_ParseWithLength(r->body.data, r->body.len) : NULL;
	if (!obj)
		return kc_fail(d, KC_ERR_PARSE, "%s: the answer (HTTP %ld, %zu bytes) is not valid JSON",
		               what, r->status, r->body.len);
	if (!cJSON_IsObject(obj)) {
		cJSON_Delete(obj);
		return kc_fail(d, KC_ERR_PARSE, "%s: the answer is not a JSON object", what);
	}
	*out = obj;
	return KC_OK;
}

/* One request from a target, an optional body, and decoding of the answer. */
static kc_err call(kc_client *c, const char *method, const target *t, const char *content_type,
                   const char *body, size_t body_len, kc_cancel *cancel, cJSON **out,
                   kc_error_detail *d)
{
	kc_request req = {
		.method = method,
		.path = t->path.data,
		.query = t->query.len ? t->query.data : NULL,
		.content_type = content_type,
		.body = body,
		.body_len = body_len,
		.cancel = cancel,
	};
	kc_response resp;
	kc_err err = kc_client_do(c, &req, &resp, d);
	if (err)
		return err;
	err = decode(&resp, method, out, d);
	kc_response_release(&resp);
	return err;
}

/* Serialise obj and send it. */
static kc_err call_json(kc_client *c, const char *method, const target *t, const cJSON *obj,
                        kc_cancel *cancel, cJSON **out, kc_error_detail *d)
{
	char *body = cJSON_PrintUnformatted(obj);
	if (!body)
		return kc_fail(d, KC_ERR_NOMEM, "%s: cannot serialise the body", method);
	size_t len = strlen(body);
	kc_err err = len > KC__REQUEST_BODY_MAX
	                     ? kc_fail(d, KC_ERR_TOOBIG, "%s: body of %zu bytes is too large", method, len)
	                     : call(c, method, t, NULL, body, len, cancel, out, d);
	cJSON_free(body);
	return err;
}

kc_err kc_get(kc_client *c, const kc_resource *res, const char *ns, const char *name,
              const char *subresource, cJSON **out, kc_error_detail *d)
{
	kc_detail_clear(d);
	if (!name)
		return kc_fail(d, KC_ERR_INVALID, "kc_get: no name");
	target t;
	target_init(&t);
	kc_err err = build_path(&t, res, ns, name, subresource, d);
	if (!err)
		err = call(c, "GET", &t, NULL, NULL, 0, NULL, out, d);
	target_release(&t);
	return err;
}

kc_err kc_list(kc_client *c, const kc_resource *res, const char *ns,
               const kc_list_opts *opts, cJSON **out, kc_error_detail *d)
{
	kc_detail_clear(d);
	target t;
	target_init(&t);
	kc_err err = build_path(&t, res, ns, NULL, NULL, d);
	if (!err && (err = kc_list_query(&t.query, opts, false)))
		err = kc_fail(d, err, "building the list query: %s", kc_strerror(err));
	if (!err)
		err = call(c, "GET", &t, NULL, NULL, 0, NULL, out, d);
	target_release(&t);
	return err;
}

kc_err kc_create(kc_client *c, const kc_resource *res, const char *ns, const cJSON *obj,
                 const kc_write_opts *opts, cJSON **out, kc_error_detail *d)
{
	kc_detail_clear(d);
	if (!obj)
		return kc_fail(d, KC_ERR_INVALID, "kc_create: no object");
	target t;
	target_init(&t);
	kc_err err = build_path(&t, res, ns, NULL, NULL, d);
	if (!err)
		err = write_query(&t, opts, d);
	if (!err)
		err = call_json(c, "POST", &t, obj, opts ? opts->cancel : NULL, out, d);
	target_release(&t);
	return err;
}

kc_err kc_update(kc_client *c, const kc_resource *res, const char *ns, const char *name,
                 const char *subresource, const cJSON *obj, const kc_write_opts *opts,
                 cJSON **out, kc_error_detail *d)
{
	kc_detail_clear(d);
	if (!obj || !name)
		return kc_fail(d, KC_ERR_INVALID, "kc_update: no object or name");
	target t;
	target_init(&t);
	kc_err err = build_path(&t, res, ns, name, subresource, d);
	if (!err)
		err = write_query(&t, opts, d);
	if (!err)
		err = call_json(c, "PUT", &t, obj, opts ? opts->cancel : NULL, out, d);
	target_release(&t);
	return err;
}

static const char *patch_content_type(kc_patch_type type)
{
	switch (type) {
	case KC_PATCH_MERGE: return "application/merge-patch+json";
	case KC_PATCH_STRATEGIC: return "application/strategic-merge-patch+json";
	case KC_PATCH_JSON: return "application/json-patch+json";
	case KC_PATCH_APPLY: return "application/apply-patch+yaml";
	}
	return NULL;
}

kc_err kc_patch(kc_client *c, const kc_resource *res, const char *ns, const char *name,
                const char *subresource, kc_patch_type type, const char *patch,
                const kc_write_opts *opts, cJSON **out, kc_error_detail *d)
{
	kc_detail_clear(d);
	const char *ct = patch_content_type(type);
	if (!ct || !patch || !name)
		return kc_fail(d, KC_ERR_INVALID, "kc_patch: no patch, name or known patch type");
	/* server-side apply requires a field manager (the API server says 422 otherwise) */
	if (type == KC_PATCH_APPLY && (!opts || !opts->field_manager || !*opts->field_manager))
		return kc_fail(d, KC_ERR_INVALID, "kc_patch: apply patches need a field manager");
	size_t len = strlen(patch);
	if (len > KC__REQUEST_BODY_MAX)
		return kc_fail(d, KC_ERR_TOOBIG, "kc_patch: patch of %zu bytes is too large", len);
	target t;
	target_init(&t);
	kc_err err = build_path(&t, res, ns, name, subresource, d);
	if (!err)
		err = write_query(&t, opts, d);
	if (!err)
		err = call(c, "PATCH", &t, ct, patch, len, opts ? opts->cancel : NULL, out, d);
	target_release(&t);
	return err;
}

/*
 * metav1.DeleteOptions with only the fields that were set; NULL (and KC_OK)
 * when nothing was set. *obj is owned by the caller.
 */
static kc_err delete_options(const kc_delete_opts *o, cJSON **obj)
{
	*obj = NULL;
	if (!o || (!o->grace_period_seconds.set && !o->precondition_uid &&
	           !o->precondition_resource_version && !o->propagation_policy && !o->dry_run))
		return KC_OK;
	cJSON *dopt = cJSON_CreateObject();
	if (!dopt)
		return KC_ERR_NOMEM;
	if (o->grace_period_seconds.set &&
	    !cJSON_AddNumberToObject(dopt, "gracePeriodSeconds", (double)o->grace_period_seconds.value))
		goto out_free_obj;
	if (o->precondition_uid || o->precondition_resource_version) {
		cJSON *pre = cJSON_AddObjectToObject(dopt, "preconditions");
		if (!pre || (o->precondition_uid &&
		             !cJSON_AddStringToObject(pre, "uid", o->precondition_uid)) ||
		    (o->precondition_resource_version &&
		     !cJSON_AddStringToObject(pre, "resourceVersion", o->precondition_resource_version)))
			goto out_free_obj;
	}
	if (o->propagation_policy &&
	    !cJSON_AddStringToObject(dopt, "propagationPolicy", o->propagation_policy))
		goto out_free_obj;
	if (o->dry_run) {
		cJSON *arr = cJSON_AddArrayToObject(dopt, "dryRun");
		cJSON *all = arr ? cJSON_CreateString("All") : NULL;
		if (!all)
			goto out_free_obj;
		cJSON_AddItemToArray(arr, all);
	}
	*obj = dopt;
	return KC_OK;

out_free_obj:
	cJSON_Delete(dopt);
	return KC_ERR_NOMEM;
}

kc_err kc_delete(kc_client *c, const kc_resource *res, const char *ns, const char *name,
                 const kc_delete_opts *opts, kc_error_detail *d)
{
	kc_detail_clear(d);
	if (!name)
		return kc_fail(d, KC_ERR_INVALID, "kc_delete: no name");
	target t;
	target_init(&t);
	cJSON *dopt = NULL;
	kc_err err = build_path(&t, res, ns, name, NULL, d);
	if (err)
		goto out_release_target;
	if ((err = delete_options(opts, &dopt))) {
		err = kc_fail(d, err, "building DeleteOptions: out of memory");
		goto out_release_target;
	}
	if (dopt)
		err = call_json(c, "DELETE", &t, dopt, NULL, NULL, d);
	else
		err = call(c, "DELETE", &t, NULL, NULL, 0, NULL, NULL, d);
	cJSON_Delete(dopt);
out_release_target:
	target_release(&t);
	return err;
}

/* {"apiVersion":"policy/v1","kind":"Eviction","metadata":{...},"deleteOptions":{...}} */
static kc_err eviction_body(const char *ns, const char *pod, const kc_delete_opts *opts,
                            cJSON **out)
{
	cJSON *ev = cJSON_CreateObject();
	cJSON *dopt = NULL;
	if (!ev)
		return KC_ERR_NOMEM;
	cJSON *meta;
	if (!cJSON_AddStringToObject(ev, "apiVersion", "policy/v1") ||
	    !cJSON_AddStringToObject(ev, "kind", "Eviction") ||
	    !(meta = cJSON_AddObjectToObject(ev, "metadata")) ||
	    !cJSON_AddStringToObject(meta, "name", pod) ||
	    !cJSON_AddStringToObject(meta, "namespace", ns) || delete_options(opts, &dopt))
		goto out_free_eviction;
	if (dopt && !cJSON_AddItemToObject(ev, "deleteOptions", dopt)) {
		cJSON_Delete(dopt);
		goto out_free_eviction;
	}
	*out = ev;
	return KC_OK;

out_free_eviction:
	cJSON_Delete(ev);
	return KC_ERR_NOMEM;
}

kc_err kc_evict(kc_client *c, const char *ns, const char *pod, const kc_delete_opts *opts,
                kc_error_detail *d)
{
	kc_detail_clear(d);
	if (!ns || !*ns || !pod)
		return kc_fail(d, KC_ERR_INVALID, "kc_evict: pods are namespaced; namespace and name needed");
	target t;
	target_init(&t);
	cJSON *ev = NULL;
	kc_err err = build_path(&t, &KC_RES_PODS, ns, pod, "eviction", d);
	if (err)
		goto out_release_target;
	if ((err = eviction_body(ns, pod, opts, &ev))) {
		err = kc_fail(d, err, "building the Eviction: out of memory");
		goto out_release_target;
	}
	err = call_json(c, "POST", &t, ev, NULL, NULL, d);
	cJSON_Delete(ev);
out_release_target:
	target_release(&t);
	return err;
}
