/* admreview.c - AdmissionReview in, AdmissionReview out (see admreview.h). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "admreview.h"
#include "kc/alloc.h"
#include "project.h"

#define ADM_API_VERSION "admission.k8s.io/v1"
#define ADM_KIND "AdmissionReview"
/* The audit annotation keys; the API server prefixes "<webhook name>/". */
#define ADM_AUDIT_GATED "quarantine"
#define ADM_AUDIT_UNGATED "quarantine-ungated"
#define ADM_AUDIT_COVERED "tolerations-covered"
#define ADM_WARNING_MAX (FB_WORKLOAD_ID_MAX + FB_NAME_MAX + 256)

/* One decoded review: the parsed body and what the answer depends on. */
typedef struct review {
	cJSON *root;            /* owned */
	cJSON *pod;             /* request.object (normalised in place), NULL if not a pod CREATE */
	bool has_gates;         /* spec.schedulingGates is a non-empty array */
	bool carries_gate;      /* ... holding FB_QUARANTINE_GATE */
	bool node_named;        /* spec.nodeName is set */
	bool has_annotations;   /* metadata.annotations is an object */
	bool bad_record;        /* ... holding FB_ANNOTATION_TOLERATIONS, unreadable */
	cJSON *tolerations;     /* owned: the covered spec.tolerations, when they change */
} review;

static const char *const outcome_names[] = {
	[FB_ADM_IGNORED] = "ignored",
	[FB_ADM_EXEMPT] = "exempt",
	[FB_ADM_NOT_QUARANTINED] = "not_quarantined",
	[FB_ADM_GATED] = "gated",
	[FB_ADM_ALREADY_GATED] = "already_gated",
	[FB_ADM_UNGATEABLE] = "ungateable",
};

const char *fb_adm_outcome_name(fb_adm_outcome o)
{
	return (size_t)o < sizeof(outcome_names) / sizeof(outcome_names[0]) && outcome_names[o]
	               ? outcome_names[o]
	               : "unknown";
}

static cJSON *get(const cJSON *obj, const char *name)
{
	return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, name) : NULL;
}

static const char *str(const cJSON *obj, const char *name)
{
	const cJSON *it = get(obj, name);
	return cJSON_IsString(it) ? it->valuestring : NULL;
}

static bool is(const char *s, const char *want)
{
	return s && strcmp(s, want) == 0;
}

static bool nonempty(const char *s)
{
	return s && *s;
}

/* Copy src (NULL = "") into dst, cut to fit. */
static void copy(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

static kc_err refuse(fb_adm_result *res, kc_err err, const char *reason)
{
	copy(res->reason, sizeof(res->reason), reason);
	return err;
}

/* obj[name] = value, replacing any member of that name; -1 on ENOMEM. */
static int set_str(cJSON *obj, const char *name, const char *value)
{
	cJSON *v = cJSON_CreateString(value);
	if (!v)
		return -1;
	cJSON_DeleteItemFromObjectCaseSensitive(obj, name);
	if (!cJSON_AddItemToObject(obj, name, v)) {
		cJSON_Delete(v);
		return -1;
	}
	return 0;
}

/* RFC 4648 base64 with padding: how JSON carries the []byte field response.patch. */
static char *base64(const char *in, size_t n)
{
	static const char digits[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = kc_malloc((n + 2) / 3 * 4 + 1), *o = out;
	if (!out)
		return NULL;
	const unsigned char *p = (const unsigned char *)in;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		*o++ = digits[v >> 18 & 63];
		*o++ = digits[v >> 12 & 63];
		*o++ = i + 1 < n ? digits[v >> 6 & 63] : '=';
		*o++ = i + 2 < n ? digits[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

/* A core/v1 Pod CREATE on the pods resource itself (not a subresource). */
static bool is_pod_create(const cJSON *req)
{
	const cJSON *kind = get(req, "kind");
	const char *group = str(kind, "group"), *sub = str(req, "subResource");
	return (!group || !*group) && is(str(kind, "version"), "v1") && is(str(kind, "kind"), "Pod") &&
	       is(str(req, "operation"), "CREATE") && !nonempty(sub);
}

/*
 * The pod as the informer will later see it: metadata.namespace from
 * request.namespace and metadata.name from request.name when the object has
 * none (generateName is resolved after mutating admission; "" then).
 */
static kc_err normalise_pod(cJSON *pod, const cJSON *req, fb_adm_result *res)
{
	cJSON *meta = get(pod, "metadata");
	if (meta && !cJSON_IsObject(meta))
		return refuse(res, KC_ERR_PARSE, "request.object.metadata is not an object");
	if (!meta && !(meta = cJSON_AddObjectToObject(pod, "metadata")))
		return refuse(res, KC_ERR_NOMEM, "out of memory");
	const char *name = str(meta, "name");
	if (!nonempty(name))
		name = nonempty(str(req, "name")) ? str(req, "name") : "";
	copy(res->pod, sizeof(res->pod), *name ? name : str(meta, "generateName"));
	/* set_str copies the value before dropping the member it may point into;
	 * the namespace is request.namespace whole (res->ns may be cut) */
	if (set_str(meta, "name", name) != 0 ||
	    set_str(meta, "namespace", str(req, "namespace")) != 0)
		return refuse(res, KC_ERR_NOMEM, "out of memory");
	return KC_OK;
}

/* Read spec.schedulingGates and spec.nodeName. */
static kc_err read_spec(review *rv, fb_adm_result *res)
{
	const cJSON *spec = get(rv->pod, "spec");
	if (!cJSON_IsObject(spec))
		return refuse(res, KC_ERR_PARSE, "request.object.spec is missing or not an object");
	const cJSON *gates = get(spec, "schedulingGates"), *g;
	if (gates && !cJSON_IsNull(gates) && !cJSON_IsArray(gates))
		return refuse(res, KC_ERR_PARSE, "request.object.spec.schedulingGates is not an array");
	if (!cJSON_IsArray(gates))
		gates = NULL; /* absent or null: none */
	rv->has_gates = cJSON_GetArraySize(gates) > 0;
	cJSON_ArrayForEach(g, gates) {
		if (is(str(g, "name"), FB_QUARANTINE_GATE))
			rv->carries_gate = true;
	}
	rv->node_named = nonempty(str(spec, "nodeName"));
	return KC_OK;
}

/* Parse and check the envelope; for a pod CREATE, rv->pod is its normalised object. */
static kc_err decode(const char *body, size_t len, review *rv, fb_adm_result *res)
{
	if (len > FB_ADMREVIEW_MAX)
		return refuse(res, KC_ERR_TOOBIG, "AdmissionReview larger than 4 MiB");
	rv->root = cJSON_ParseWithLength(body, len);
	if (!rv->root)
		return refuse(res, KC_ERR_PARSE, "body is not JSON");
	if (!is(str(rv->root, "apiVersion"), ADM_API_VERSION) || !is(str(rv->root, "kind"), ADM_KIND))
		return refuse(res, KC_ERR_PARSE, "not an admission.k8s.io/v1 AdmissionReview");
	const cJSON *req = get(rv->root, "request");
	if (!cJSON_IsObject(req))
		return refuse(res, KC_ERR_PARSE, "request is missing");
	const char *uid = str(req, "uid");
	if (!nonempty(uid))
		return refuse(res, KC_ERR_PARSE, "request.uid is missing");
	if (strlen(uid) >= sizeof(res->uid))
		return refuse(res, KC_ERR_PARSE, "request.uid is too long");
	copy(res->uid, sizeof(res->uid), uid);
	if (!cJSON_IsObject(get(req, "kind")) || !str(req, "operation"))
		return refuse(res, KC_ERR_PARSE, "request.kind or request.operation is missing");
	res->dry_run = cJSON_IsTrue(get(req, "dryRun"));
	copy(res->ns, sizeof(res->ns), str(req, "namespace"));
	if (!is_pod_create(req))
		return KC_OK;
	if (!nonempty(str(req, "namespace")))
		return refuse(res, KC_ERR_PARSE, "request.namespace is missing for a Pod");
	rv->pod = get(req, "object");
	if (!cJSON_IsObject(rv->pod))
		return refuse(res, KC_ERR_PARSE, "request.object is missing");
	kc_err err = normalise_pod(rv->pod, req, res);
	return err == KC_OK ? read_spec(rv, res) : err;
}

/* Managed mode: the pod's failure tolerations covered (tolerations.h), into rv and res. */
static kc_err cover(review *rv, const fb_adm_options *o, fb_adm_result *res)
{
	const cJSON *meta = get(rv->pod, "metadata");
	const cJSON *anns = get(meta, "annotations");
	if (anns && !cJSON_IsNull(anns) && !cJSON_IsObject(anns))
		return refuse(res, KC_ERR_PARSE, "request.object.metadata.annotations is not an object");
	rv->has_annotations = cJSON_IsObject(anns);
	const cJSON *tols = get(get(rv->pod, "spec"), "tolerations");
	if (tols && !cJSON_IsNull(tols) && !cJSON_IsArray(tols))
		return refuse(res, KC_ERR_PARSE, "request.object.spec.tolerations is not an array");
	fb_tol_record prior;
	const char *ann = str(anns, FB_ANNOTATION_TOLERATIONS);
	if (fb_tol_record_parse(ann, &prior) != 0) {
		fb_tol_record_clear(&prior); /* none, or not ours to trust: recorded anew */
		/* one that cannot be read goes, so that a pod never starts with a record the
		 * projection would read at the default (project.h) */
		rv->bad_record = ann != NULL;
	}
	kc_err err = fb_tolerations_cover(tols, &prior, o->default_toleration_s, &rv->tolerations,
	                                  &res->record);
	if (err == KC_ERR_TOOBIG) {
		/* a number the list cannot be written back with (tolerations.h): admitted as it
		 * is, and the answer's warning says why */
		res->uncoverable = true;
		return KC_OK;
	}
	if (err != KC_OK)
		return refuse(res, KC_ERR_NOMEM, "out of memory");
	res->covered = rv->tolerations != NULL;
	res->record_removed = rv->bad_record && !res->covered;
	return KC_OK;
}

/* Find the workload as the core does, and ask; cover in managed mode. Sets res->outcome. */
static kc_err judge(review *rv, const fb_adm_options *o, fb_adm_result *res)
{
	res->outcome = FB_ADM_IGNORED;
	if (!rv->pod)
		return KC_OK;
	fb_pod_proj *p = fb_project_pod(rv->pod, NULL);
	if (!p)
		return refuse(res, KC_ERR_NOMEM, "out of memory");
	fb_pod_obs obs;
	fb_workload_ref wl;
	fb_pod_proj_obs(p, &obs, &wl);
	bool exempt = p->daemonset || p->mirror || !obs.workload || !wl.name[0];
	bool coverable = o->managed && !p->daemonset && !p->mirror && !p->gate_exempt;
	fb_pod_proj_free(p, NULL);
	if (coverable) {
		kc_err err = cover(rv, o, res);
		if (err != KC_OK)
			return err;
	}
	res->outcome = FB_ADM_EXEMPT;
	if (exempt)
		return KC_OK;
	res->workload = wl;
	char q[FB_NAME_MAX] = "";
	bool quarantined = o->gate(o->ud, &res->workload, q);
	q[sizeof(q) - 1] = '\0';
	if (!quarantined) {
		res->outcome = FB_ADM_NOT_QUARANTINED;
		return KC_OK;
	}
	copy(res->quarantine, sizeof(res->quarantine), q);
	if (rv->carries_gate)
		res->outcome = FB_ADM_ALREADY_GATED;
	else if (rv->node_named)
		res->outcome = FB_ADM_UNGATEABLE;
	else
		res->outcome = FB_ADM_GATED;
	return KC_OK;
}

/* ops += {"op": "add", "path": path}; its "value" is the caller's to add. NULL on ENOMEM. */
static cJSON *add_op(cJSON *ops, const char *path)
{
	cJSON *op = cJSON_CreateObject();
	if (!op || !cJSON_AddItemToArray(ops, op)) {
		cJSON_Delete(op);
		return NULL;
	}
	if (!cJSON_AddStringToObject(op, "op", "add") || !cJSON_AddStringToObject(op, "path", path))
		return NULL;
	return op;
}

/* The gate: `add /spec/schedulingGates/-`, or the whole list when the pod has none. */
static bool gate_ops(cJSON *ops, bool has_gates)
{
	cJSON *op = add_op(ops, has_gates ? "/spec/schedulingGates/-" : "/spec/schedulingGates");
	cJSON *gate = NULL;
	if (!op)
		return false;
	if (has_gates) {
		gate = cJSON_AddObjectToObject(op, "value");
	} else {
		cJSON *list = cJSON_AddArrayToObject(op, "value");
		if (!list || !(gate = cJSON_CreateObject()))
			return false;
		if (!cJSON_AddItemToArray(list, gate)) {
			cJSON_Delete(gate);
			return false;
		}
	}
	return gate && cJSON_AddStringToObject(gate, "name", FB_QUARANTINE_GATE);
}

/* The cover: the whole tolerations list (an atomic list), and the record. Takes rv->tolerations. */
static bool cover_ops(cJSON *ops, review *rv, const fb_tol_record *rec)
{
	char value[FB_TOL_RECORD_MAX];
	fb_tol_record_format(rec, value);
	cJSON *op = add_op(ops, "/spec/tolerations");
	if (!op || !fb_tolerations_print_exact(rv->tolerations) ||
	    !cJSON_AddItemToObject(op, "value", rv->tolerations))
		return false;
	rv->tolerations = NULL;
	if (rv->has_annotations) {
		/* JSON Pointer escapes "/" in the key as "~1" (RFC 6901) */
		op = add_op(ops, "/metadata/annotations/firebreak.dev~1toleration-seconds");
		return op && cJSON_AddStringToObject(op, "value", value);
	}
	op = add_op(ops, "/metadata/annotations");
	cJSON *anns = op ? cJSON_AddObjectToObject(op, "value") : NULL;
	return anns && cJSON_AddStringToObject(anns, FB_ANNOTATION_TOLERATIONS, value);
}

/* `remove` of an unreadable record (a cover replaces it instead). */
static bool remove_record_op(cJSON *ops)
{
	cJSON *op = cJSON_CreateObject();
	if (!op || !cJSON_AddItemToArray(ops, op)) {
		cJSON_Delete(op);
		return false;
	}
	return cJSON_AddStringToObject(op, "op", "remove") &&
	       cJSON_AddStringToObject(op, "path",
	                               "/metadata/annotations/firebreak.dev~1toleration-seconds");
}

/* The JSONPatch of the answer, base64-encoded; NULL on ENOMEM. */
static char *patch_of(review *rv, const fb_adm_result *res)
{
	char *text = NULL, *b64 = NULL;
	cJSON *ops = cJSON_CreateArray();
	if (!ops || (res->outcome == FB_ADM_GATED && !gate_ops(ops, rv->has_gates)) ||
	    (res->covered && !cover_ops(ops, rv, &res->record)) ||
	    (res->record_removed && !remove_record_op(ops)))
		goto out;
	if ((text = cJSON_PrintUnformatted(ops)))
		b64 = base64(text, strlen(text));
out:
	cJSON_Delete(ops);
	kc_free(text);
	return b64;
}

/* The text of the client warning, for a gated or an ungateable pod. */
static void warning(const fb_adm_result *res, char *buf, size_t cap)
{
	const fb_workload_ref *w = &res->workload;
	if (res->outcome == FB_ADM_GATED)
		snprintf(buf, cap,
		         "firebreak: %s %s/%s is quarantined (Quarantine %s): the pod is held by "
		         "the scheduling gate " FB_QUARANTINE_GATE " until it is released",
		         w->kind, w->ns, w->name, res->quarantine);
	else
		snprintf(buf, cap,
		         "firebreak: %s %s/%s is quarantined (Quarantine %s) but the pod sets "
		         "spec.nodeName, which a scheduling gate cannot hold",
		         w->kind, w->ns, w->name, res->quarantine);
}

#define UNCOVERABLE_WARNING                                                                   \
	"firebreak: managed mode left this pod's tolerations as they are: one has a "             \
	"tolerationSeconds that is not a whole number below 2^53, which firebreak cannot write " \
	"back exactly; Kubernetes' taint-eviction controller, not firebreak, evicts it from a "   \
	"failed node"

/* resp.warnings += text (the list made on first use, in *list); false on ENOMEM. */
static bool add_warning(cJSON *resp, cJSON **list, const char *text)
{
	if (!*list && !(*list = cJSON_AddArrayToObject(resp, "warnings")))
		return false;
	cJSON *w = cJSON_CreateString(text);
	if (!w || !cJSON_AddItemToArray(*list, w)) {
		cJSON_Delete(w);
		return false;
	}
	return true;
}

/* Build the response for res (an answered review); KC_ERR_NOMEM or KC_OK. */
static kc_err respond(review *rv, fb_adm_result *res, char **out, size_t *out_len)
{
	kc_err err = KC_ERR_NOMEM;
	char *patch = NULL;
	cJSON *root = cJSON_CreateObject(), *resp = NULL, *audit = NULL;
	if (!root || !cJSON_AddStringToObject(root, "apiVersion", ADM_API_VERSION) ||
	    !cJSON_AddStringToObject(root, "kind", ADM_KIND) ||
	    !(resp = cJSON_AddObjectToObject(root, "response")) ||
	    !cJSON_AddStringToObject(resp, "uid", res->uid) || !cJSON_AddTrueToObject(resp, "allowed"))
		goto out;
	cJSON *warnings = NULL;
	if (res->uncoverable && !add_warning(resp, &warnings, UNCOVERABLE_WARNING))
		goto out;
	if (res->outcome == FB_ADM_GATED || res->outcome == FB_ADM_UNGATEABLE) {
		char text[ADM_WARNING_MAX];
		warning(res, text, sizeof(text));
		if (!add_warning(resp, &warnings, text))
			goto out;
		if (!(audit = cJSON_AddObjectToObject(resp, "auditAnnotations")) ||
		    !cJSON_AddStringToObject(audit,
		                             res->outcome == FB_ADM_GATED ? ADM_AUDIT_GATED
		                                                          : ADM_AUDIT_UNGATED,
		                             res->quarantine))
			goto out;
	}
	if (res->covered) {
		char value[FB_TOL_RECORD_MAX];
		fb_tol_record_format(&res->record, value);
		if (!audit && !(audit = cJSON_AddObjectToObject(resp, "auditAnnotations")))
			goto out;
		if (!cJSON_AddStringToObject(audit, ADM_AUDIT_COVERED, value))
			goto out;
	}
	if (res->outcome == FB_ADM_GATED || res->covered || res->record_removed) {
		if (!(patch = patch_of(rv, res)) ||
		    !cJSON_AddStringToObject(resp, "patchType", "JSONPatch") ||
		    !cJSON_AddStringToObject(resp, "patch", patch))
			goto out;
	}
	if ((*out = cJSON_PrintUnformatted(root))) {
		*out_len = strlen(*out);
		err = KC_OK;
	}
out:
	kc_free(patch);
	cJSON_Delete(root);
	return err == KC_OK ? KC_OK : refuse(res, err, "out of memory");
}

kc_err fb_admreview_answer_opts(const char *body, size_t len, const fb_adm_options *o,
                                fb_adm_result *res, char **out, size_t *out_len)
{
	memset(res, 0, sizeof(*res));
	fb_tol_record_clear(&res->record);
	*out = NULL;
	*out_len = 0;
	review rv = { 0 };
	kc_err err = decode(body, len, &rv, res);
	if (err == KC_OK)
		err = judge(&rv, o, res);
	if (err == KC_OK)
		err = respond(&rv, res, out, out_len);
	cJSON_Delete(rv.tolerations);
	cJSON_Delete(rv.root);
	return err;
}

kc_err fb_admreview_answer(const char *body, size_t len, fb_adm_gate_fn gate, void *ud,
                           fb_adm_result *res, char **out, size_t *out_len)
{
	fb_adm_options o = { .gate = gate, .ud = ud };
	return fb_admreview_answer_opts(body, len, &o, res, out, out_len);
}
