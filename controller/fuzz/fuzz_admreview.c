/*
 * Fuzz the admission webhook's AdmissionReview decoder and encoder
 * (admreview.h) over any bytes, each input answered twice: managed mode off,
 * and on (the default seconds chosen by the last byte). Checked is what the
 * callers rely on:
 *   - every answer is an allowed AdmissionReview response for the request's
 *     uid, and a refusal says why in one line;
 *   - a patch comes only with the outcome "gated" or a cover, and only
 *     managed mode covers;
 *   - managed mode changes nothing of the gate's answer: the same outcome,
 *     Quarantine and patch ops, the cover's ops after them; it only refuses
 *     more (a pod whose tolerations are not a list or annotations not a map);
 *   - a cover leaves the pod tolerating both failure taints forever, every
 *     toleration it had still there (at most its seconds gone), and records
 *     in the annotation (one member added, or the map when the pod has none)
 *     what res.record says, as the audit annotation does;
 *   - a pod is covered exactly when Kubernetes would evict it in finite time
 *     and does not exempt it (DaemonSet, mirror, labelled
 *     firebreak.dev/webhook=skip), and only if its tolerations are a list and
 *     its annotations a map (for a pod without a key twice in an object, which
 *     the API server never sends).
 * The gate answers from the workload's name, so both answers are seen.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "admreview.h"
#include "kc/alloc.h"
#include "project.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool gate(void *ud, const fb_workload_ref *w, char quarantine[FB_NAME_MAX])
{
	int *calls = ud;
	(*calls)++;
	if (!w->kind[0] || !w->name[0] || (strlen(w->name) & 1))
		return false;
	memset(quarantine, 'q', FB_NAME_MAX); /* no NUL: the decoder must cut it */
	return true;
}

#define CHECK(cond)                                                                       \
	do {                                                                              \
		if (!(cond))                                                              \
			abort();                                                          \
	} while (0)

#define ANN_PATH "/metadata/annotations/firebreak.dev~1toleration-seconds"

static const cJSON *get(const cJSON *obj, const char *name)
{
	return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, name) : NULL;
}

/* One answer, and the checks every answer passes; the response parsed (NULL on an error). */
typedef struct run {
	kc_err err;
	fb_adm_result res;
	int calls;
	cJSON *root;          /* the response document */
	cJSON *ops;           /* its patch decoded, NULL if none */
} run;

static cJSON *decode_patch(const char *b64)
{
	size_t n = strlen(b64);
	CHECK(n % 4 == 0);
	unsigned char *raw = malloc(n / 4 * 3 + 1);
	CHECK(raw);
	int len = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)n);
	CHECK(len >= 0);
	while (n > 0 && b64[n - 1] == '=') {
		n--;
		len--;
	}
	cJSON *ops = cJSON_ParseWithLength((const char *)raw, (size_t)len);
	free(raw);
	return ops;
}

static void answer(const uint8_t *data, size_t size, bool managed, int64_t default_s, run *r)
{
	fb_adm_options o = { .gate = gate, .ud = &r->calls, .managed = managed,
		             .default_toleration_s = default_s };
	char *out;
	size_t len;
	r->err = fb_admreview_answer_opts((const char *)data, size, &o, &r->res, &out, &len);
	CHECK(r->calls <= 1);
	CHECK(strlen(r->res.quarantine) < FB_NAME_MAX);
	CHECK(!r->res.covered || managed);
	if (r->err != KC_OK) {
		CHECK(!out && len == 0 && r->res.reason[0] && !strchr(r->res.reason, '\n'));
		return;
	}
	r->root = cJSON_ParseWithLength(out, len);
	CHECK(r->root && len == strlen(out));
	kc_free(out);
	const cJSON *resp = get(r->root, "response");
	CHECK(cJSON_IsTrue(get(resp, "allowed")));
	const char *uid = cJSON_GetStringValue(get(resp, "uid"));
	CHECK(uid && r->res.uid[0] && strcmp(uid, r->res.uid) == 0);
	const char *patch = cJSON_GetStringValue(get(resp, "patch"));
	CHECK((patch != NULL) ==
	      (r->res.outcome == FB_ADM_GATED || r->res.covered || r->res.record_removed));
	CHECK(!(r->res.record_removed && (r->res.covered || !managed)));
	CHECK(!(r->res.uncoverable && (r->res.covered || !managed)));
	if (patch) {
		r->ops = decode_patch(patch);
		CHECK(cJSON_IsArray(r->ops));
		const cJSON *op;
		int n = cJSON_GetArraySize(r->ops), i = 0;
		cJSON_ArrayForEach(op, r->ops) {
			const char *kind = cJSON_GetStringValue(get(op, "op"));
			const char *path = cJSON_GetStringValue(get(op, "path"));
			CHECK(kind && path);
			if (strcmp(kind, "remove") == 0) /* only an unreadable record, last */
				CHECK(r->res.record_removed && i == n - 1 && strcmp(path, ANN_PATH) == 0 &&
				      !get(op, "value"));
			else
				CHECK(strcmp(kind, "add") == 0 && get(op, "value"));
			i++;
		}
	}
	/* a cover says what it recorded, in res and in the audit annotation */
	const char *audited = cJSON_GetStringValue(get(get(resp, "auditAnnotations"),
	                                               "tolerations-covered"));
	CHECK((audited != NULL) == r->res.covered);
	if (r->res.covered) {
		char value[FB_TOL_RECORD_MAX];
		CHECK(fb_tol_record_any(&r->res.record));
		fb_tol_record_format(&r->res.record, value);
		CHECK(strcmp(audited, value) == 0);
	}
}

static void release(run *r)
{
	cJSON_Delete(r->root);
	cJSON_Delete(r->ops);
}

/* t without tolerationSeconds (a copy). */
static cJSON *without_seconds(const cJSON *t)
{
	cJSON *c = cJSON_Duplicate(t, true);
	CHECK(c);
	if (cJSON_IsObject(c))
		cJSON_DeleteItemFromObjectCaseSensitive(c, "tolerationSeconds");
	return c;
}

/* a and b are the same JSON text (cJSON_Compare looks members up by name, so it finds an
 * object with a key twice unequal even to its copy; the API server never sends one, fuzzers do). */
static bool same(const cJSON *a, const cJSON *b)
{
	char *x = cJSON_PrintUnformatted(a), *y = cJSON_PrintUnformatted(b);
	CHECK(x && y);
	bool eq = strcmp(x, y) == 0;
	kc_free(x);
	kc_free(y);
	return eq;
}

/* Every toleration of before is in after, at most without its seconds. */
static void check_kept(const cJSON *before, const cJSON *after)
{
	const cJSON *t, *u;
	int n = cJSON_GetArraySize(before);
	if (n > 64)
		return; /* quadratic: enough for what the fuzzer builds */
	cJSON_ArrayForEach(t, before) {
		cJSON *t0 = without_seconds(t);
		bool found = false;
		cJSON_ArrayForEach(u, after) {
			cJSON *u0 = without_seconds(u);
			found = same(t0, u0);
			cJSON_Delete(u0);
			if (found)
				break;
		}
		cJSON_Delete(t0);
		CHECK(found);
	}
}

/* The cover's ops (ops[at], ops[at + 1]) against the pod of the request. */
static void check_cover(const cJSON *ops, int at, const cJSON *pod, const fb_tol_record *rec)
{
	CHECK(cJSON_GetArraySize(ops) == at + 2);
	const cJSON *tol_op = cJSON_GetArrayItem(ops, at), *ann_op = cJSON_GetArrayItem(ops, at + 1);
	CHECK(strcmp(cJSON_GetStringValue(get(tol_op, "path")), "/spec/tolerations") == 0);
	const cJSON *after = get(tol_op, "value");
	CHECK(cJSON_IsArray(after));
	CHECK(fb_toleration_s(after, FB_TAINT_NOT_READY) == FB_TOL_FOREVER);
	CHECK(fb_toleration_s(after, FB_TAINT_UNREACHABLE) == FB_TOL_FOREVER);
	const cJSON *before = get(get(pod, "spec"), "tolerations");
	int n = cJSON_IsArray(before) ? cJSON_GetArraySize(before) : 0;
	CHECK(cJSON_GetArraySize(after) >= n && cJSON_GetArraySize(after) <= n + 2);
	if (cJSON_IsArray(before))
		check_kept(before, after);
	/* the record: one member when the pod has annotations, else the map */
	const char *path = cJSON_GetStringValue(get(ann_op, "path"));
	const cJSON *value = get(ann_op, "value");
	const char *recorded;
	if (cJSON_IsObject(get(get(pod, "metadata"), "annotations"))) {
		CHECK(strcmp(path, ANN_PATH) == 0);
		recorded = cJSON_GetStringValue(value);
	} else {
		CHECK(strcmp(path, "/metadata/annotations") == 0);
		CHECK(cJSON_IsObject(value) && cJSON_GetArraySize(value) == 1);
		recorded = cJSON_GetStringValue(get(value, FB_ANNOTATION_TOLERATIONS));
	}
	fb_tol_record back;
	CHECK(recorded && fb_tol_record_parse(recorded, &back) == 0);
	CHECK(back.not_ready_s == rec->not_ready_s && back.unreachable_s == rec->unreachable_s);
}

/* Whether j holds an object with a key twice (anywhere): JSON the API server never sends (it
 * serialises request.object from the decoded pod), for which a key's first member is what is
 * read but not all that is there. */
static bool duplicate_keys(const cJSON *j)
{
	const cJSON *a, *b;
	cJSON_ArrayForEach(a, j) {
		if (cJSON_IsObject(j))
			for (b = a->next; b; b = b->next)
				if (a->string && b->string && strcmp(a->string, b->string) == 0)
					return true;
		if (duplicate_keys(a))
			return true;
	}
	return false;
}

/* Whether managed mode is to cover pod: not one Kubernetes exempts (DaemonSet, mirror,
 * labelled firebreak.dev/webhook=skip), and one Kubernetes would evict in finite time. */
static bool coverable(const cJSON *pod)
{
	cJSON *named = cJSON_Duplicate(pod, true);
	CHECK(named);
	cJSON *meta = (cJSON *)get(named, "metadata");
	if (!meta)
		meta = cJSON_AddObjectToObject(named, "metadata");
	CHECK(cJSON_IsObject(meta));
	cJSON_DeleteItemFromObjectCaseSensitive(meta, "name");
	CHECK(cJSON_AddStringToObject(meta, "name", "x"));
	fb_pod_proj *p = fb_project_pod(named, NULL);
	CHECK(p);
	bool exempt = p->daemonset || p->mirror || p->gate_exempt;
	fb_pod_proj_free(p, NULL);
	cJSON_Delete(named);
	return !exempt && fb_tolerations_finite(get(get(pod, "spec"), "tolerations"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	if (!init) {
		kc_global_init();
		init = 1;
	}
	static const int64_t defaults[] = { 300, 0, 120, FB_TOLERATION_S_MAX };
	int64_t default_s = defaults[(size ? data[size - 1] : 0) & 3];
	run off = { 0 }, on = { 0 };
	answer(data, size, false, 0, &off);
	answer(data, size, true, default_s, &on);
	CHECK(!off.res.covered);
	if (off.err != KC_OK) {
		/* refused before managed mode has a say */
		CHECK(on.err == off.err && strcmp(on.res.reason, off.res.reason) == 0);
	} else if (on.err != KC_OK) {
		CHECK(on.err == KC_ERR_PARSE);
		CHECK(strstr(on.res.reason, "spec.tolerations is not an array") ||
		      strstr(on.res.reason, "metadata.annotations is not an object"));
	} else {
		CHECK(on.res.outcome == off.res.outcome && on.calls == off.calls);
		CHECK(strcmp(on.res.quarantine, off.res.quarantine) == 0);
		CHECK(strcmp(on.res.workload.kind, off.res.workload.kind) == 0 &&
		      strcmp(on.res.workload.ns, off.res.workload.ns) == 0 &&
		      strcmp(on.res.workload.name, off.res.workload.name) == 0);
		/* the gate's ops, then the cover's */
		int gate_ops = off.ops ? cJSON_GetArraySize(off.ops) : 0;
		for (int i = 0; i < gate_ops; i++)
			CHECK(same(cJSON_GetArrayItem(off.ops, i), cJSON_GetArrayItem(on.ops, i)));
		if (on.res.outcome != FB_ADM_IGNORED) {
			cJSON *review = cJSON_ParseWithLength((const char *)data, size);
			const cJSON *pod = get(get(review, "request"), "object");
			CHECK(cJSON_IsObject(pod));
			/* covered exactly when it is to be, and then only a pod of the right shape */
			bool plain = !duplicate_keys(pod);
			if (plain && !on.res.uncoverable)
				CHECK(on.res.covered == coverable(pod));
			/* not covered only for a number it cannot write back exactly */
			if (on.res.uncoverable) {
				cJSON *unused = NULL;
				fb_tol_record rec;
				CHECK(fb_tolerations_cover(get(get(pod, "spec"), "tolerations"), NULL, 300,
				                           &unused, &rec) == KC_ERR_TOOBIG);
			}
			if (on.res.covered && plain) {
				const cJSON *tols = get(get(pod, "spec"), "tolerations");
				const cJSON *anns = get(get(pod, "metadata"), "annotations");
				CHECK(!tols || cJSON_IsNull(tols) || cJSON_IsArray(tols));
				CHECK(!anns || cJSON_IsNull(anns) || cJSON_IsObject(anns));
				check_cover(on.ops, gate_ops, pod, &on.res.record);
			}
			cJSON_Delete(review);
		} else {
			CHECK(!on.res.covered);
		}
		if (!on.res.covered)
			CHECK(cJSON_GetArraySize(on.ops) == gate_ops + on.res.record_removed);
	}
	release(&off);
	release(&on);
	return 0;
}
