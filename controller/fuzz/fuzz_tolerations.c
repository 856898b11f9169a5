/*
 * Fuzz the failure tolerations' reading and rewriting for managed mode
 * (tolerations.h). Input: a pod's spec.tolerations as JSON, then, after the
 * last newline, its FB_ANNOTATION_TOLERATIONS value (no newline: no
 * annotation). Checked: a record that parses formats back to itself; cover
 * leaves both failure taints tolerated forever, records what the pod had,
 * only drops seconds and adds tolerations of the two keys (what the API
 * server allows on an update), and changes no other taint's toleration;
 * restore after cover gives every key its time back; the merge patches carry
 * what they should.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "kc/alloc.h"
#include "tolerations.h"
#include "../tests/support/jsontext.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                       \
	do {                                                                              \
		if (!(cond))                                                              \
			abort();                                                          \
	} while (0)

#define DEFAULT_S 300

/* What a key tolerated not at all is recorded as: the DefaultTolerationSeconds plugin's
 * default, unless a toleration of the key (or the empty key) with effect NoExecute or none kept
 * it away (the plugin's own test), which leaves Kubernetes evicting at once: 0. */
static int64_t none_s(const cJSON *list, const char *key, int64_t default_s)
{
	const cJSON *t;
	if (!cJSON_IsArray(list))
		return default_s;
	cJSON_ArrayForEach(t, list) {
		const char *k = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "key"));
		const char *e = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "effect"));
		if (cJSON_IsObject(t) && (!k || !*k || strcmp(k, key) == 0) &&
		    (!e || !*e || strcmp(e, "NoExecute") == 0))
			return 0;
	}
	return default_s;
}


static const char *const keys[] = { FB_TAINT_NOT_READY, FB_TAINT_UNREACHABLE };

static int64_t rec_key(const fb_tol_record *r, int k)
{
	return k ? r->unreachable_s : r->not_ready_s;
}

static bool valid_s(int64_t s)
{
	return s == FB_TOL_NONE || s == FB_TOL_FOREVER || (s >= 0 && s <= FB_TOLERATION_S_MAX);
}

/* cJSON_Compare, but equal numbers are equal when infinite too (1e999 parses as inf,
 * and cJSON_Compare's tolerance makes inf unequal to itself). */
static bool eq(const cJSON *a, const cJSON *b)
{
	const cJSON *x, *y;
	if ((a->type & 0xFF) != (b->type & 0xFF))
		return false;
	if (cJSON_IsNumber(a))
		return a->valuedouble == b->valuedouble;
	if (cJSON_IsString(a))
		return strcmp(a->valuestring, b->valuestring) == 0;
	if (cJSON_IsArray(a)) {
		for (x = a->child, y = b->child; x && y; x = x->next, y = y->next)
			if (!eq(x, y))
				return false;
		return !x && !y;
	}
	if (cJSON_IsObject(a)) {
		if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b))
			return false;
		cJSON_ArrayForEach(x, a) {
			y = cJSON_GetObjectItemCaseSensitive(b, x->string);
			if (!y || !eq(x, y))
				return false;
		}
	}
	return true;
}

/* Every number whole and below 2^53 in magnitude: what a double carries exactly, the only
 * lists cover and restore rewrite (tolerations.h). */
static bool exact_numbers(const cJSON *j)
{
	if (cJSON_IsNumber(j))
		return j->valuedouble == floor(j->valuedouble) && fabs(j->valuedouble) < 9007199254740992.0;
	for (const cJSON *x = j ? j->child : NULL; x; x = x->next)
		if (!exact_numbers(x))
			return false;
	return true;
}

/* Objects with a key twice: the API server never sends them (it writes what it
 * decoded), and cJSON reads the first where Go reads the last. */
static bool dup_keys(const cJSON *j)
{
	const cJSON *x, *y;
	cJSON_ArrayForEach(x, j) {
		if (cJSON_IsObject(j))
			for (y = x->next; y; y = y->next)
				if (strcmp(x->string, y->string) == 0)
					return true;
		if (dup_keys(x))
			return true;
	}
	return false;
}

static cJSON *strip(const cJSON *t)
{
	cJSON *c = cJSON_Duplicate(t, true);
	CHECK(c);
	if (cJSON_IsObject(c))
		cJSON_DeleteItemFromObjectCaseSensitive(c, "tolerationSeconds");
	return c;
}

/* validateOnlyAddedTolerations: every toleration of old is in new but for its seconds. */
static bool only_added(const cJSON *old, const cJSON *new_)
{
	const cJSON *o, *n;
	if (!cJSON_IsArray(old))
		return true;
	cJSON_ArrayForEach(o, old) {
		bool found = false;
		cJSON *so = strip(o);
		cJSON_ArrayForEach(n, new_) {
			cJSON *sn = strip(n);
			found = eq(so, sn);
			cJSON_Delete(sn);
			if (found)
				break;
		}
		cJSON_Delete(so);
		if (!found)
			return false;
	}
	return true;
}

/* Every other taint key the input names, and a few more, is tolerated as before. */
static void same_for_other_keys(const cJSON *x, const cJSON *y)
{
	static const char *const more[] = { "", "gpu", "node.kubernetes.io/out-of-service" };
	for (size_t i = 0; i < sizeof(more) / sizeof(*more); i++)
		CHECK(fb_toleration_s(x, more[i]) == fb_toleration_s(y, more[i]));
	const cJSON *t;
	if (!cJSON_IsArray(x))
		return;
	cJSON_ArrayForEach(t, x) {
		const char *k = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "key"));
		if (k && strcmp(k, FB_TAINT_NOT_READY) != 0 && strcmp(k, FB_TAINT_UNREACHABLE) != 0)
			CHECK(fb_toleration_s(x, k) == fb_toleration_s(y, k));
	}
}

/* What cover may add: {key: a failure key, operator: Exists, effect: NoExecute}. */
static void cover_adds_only_key_tolerations(const cJSON *x, const cJSON *out)
{
	const cJSON *t, *o;
	cJSON_ArrayForEach(t, out) {
		bool old = false;
		if (cJSON_IsArray(x)) {
			cJSON_ArrayForEach(o, x) {
				cJSON *so = strip(o), *st = strip(t);
				old = eq(so, st);
				cJSON_Delete(so);
				cJSON_Delete(st);
				if (old)
					break;
			}
		}
		if (old)
			continue;
		const char *k = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "key"));
		CHECK(k && (strcmp(k, FB_TAINT_NOT_READY) == 0 || strcmp(k, FB_TAINT_UNREACHABLE) == 0));
		CHECK(!cJSON_GetObjectItemCaseSensitive(t, "tolerationSeconds"));
	}
}

static void check_record_text(const char *s)
{
	fb_tol_record r, back;
	char buf[FB_TOL_RECORD_MAX], again[FB_TOL_RECORD_MAX];
	if (fb_tol_record_parse(s, &r) != 0) {
		CHECK(r.not_ready_s == FB_TOL_FOREVER && r.unreachable_s == FB_TOL_FOREVER);
		return;
	}
	CHECK(fb_tol_record_any(&r));
	CHECK(r.not_ready_s >= FB_TOL_FOREVER && r.not_ready_s <= FB_TOLERATION_S_MAX);
	CHECK(r.unreachable_s >= FB_TOL_FOREVER && r.unreachable_s <= FB_TOLERATION_S_MAX);
	fb_tol_record_format(&r, buf);
	CHECK(strlen(buf) < FB_TOL_RECORD_MAX);
	CHECK(fb_tol_record_parse(buf, &back) == 0);
	CHECK(back.not_ready_s == r.not_ready_s && back.unreachable_s == r.unreachable_s);
	fb_tol_record_format(&back, again);
	CHECK(strcmp(buf, again) == 0);
	/* the text itself comes back when it was canonical: not-ready first, no leading zeros */
	bool canonical = !(strncmp(s, "unreachable=", 12) == 0 && strchr(s, ','));
	for (const char *p = s; (p = strchr(p, '=')) != NULL; p++)
		if (p[1] == '0' && p[2] >= '0' && p[2] <= '9')
			canonical = false;
	if (canonical)
		CHECK(strcmp(buf, s) == 0);
}

static void check_patch(const char *text, const fb_tol_record *prior, bool cover)
{
	cJSON *made = NULL;
	kc_err err = fb_tolerations_pod_patch(text, "7", prior, cover, DEFAULT_S, &made);
	CHECK(err == KC_OK || err == KC_ERR_PARSE || err == KC_ERR_TOOBIG);
	if (err != KC_OK) {
		CHECK(!made);
		return;
	}
	if (!made) {
		CHECK(cover);
		return;
	}
	/* as the API server reads it: every number an integer literal (Go's int64), and the
	 * checks below on the text parsed again */
	char *printed = cJSON_PrintUnformatted(made);
	cJSON_Delete(made);
	CHECK(printed != NULL);
	CHECK(json_integer_literals_only(printed));
	cJSON *patch = cJSON_Parse(printed);
	free(printed);
	CHECK(patch != NULL);
	if (!cover) {
		/* a JSON Patch: applied to the pod as the API server does, every op holds; the
		 * record's keys read as fb_tolerations_restore says (whatever other numbers the list
		 * holds: only what changes is written), and the annotation is gone */
		cJSON *pod = cJSON_Parse("{\"metadata\":{\"resourceVersion\":\"7\",\"annotations\":"
		                         "{\"" FB_ANNOTATION_TOLERATIONS "\":\"x\"}},\"spec\":{}}");
		cJSON *list = cJSON_Parse(text);
		CHECK(pod && list);
		if (cJSON_GetArraySize(list) > 0) /* an empty list is omitted (omitempty) */
			cJSON_AddItemToObject(cJSON_GetObjectItemCaseSensitive(pod, "spec"), "tolerations",
			                      cJSON_Duplicate(list, true));
		CHECK(json_patch_apply(pod, patch));
		const cJSON *after = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(pod, "spec"), "tolerations");
		cJSON *want = NULL;
		fb_tol_record none;
		fb_tol_record_clear(&none);
		/* the oracle, which copies the list whole: where it can */
		if (fb_tolerations_restore(list, prior ? prior : &none, &want) == KC_OK) {
			const cJSON *w = want ? want : list;
			for (int k = 0; k < 2; k++)
				CHECK(fb_toleration_s(after, keys[k]) == fb_toleration_s(w, keys[k]));
			CHECK(cJSON_GetArraySize(after) == cJSON_GetArraySize(w));
		}
		const cJSON *anns = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(pod, "metadata"), "annotations");
		CHECK(!cJSON_GetObjectItemCaseSensitive(anns, FB_ANNOTATION_TOLERATIONS));
		cJSON_Delete(want);
		cJSON_Delete(list);
		cJSON_Delete(pod);
		cJSON_Delete(patch);
		return;
	}
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(patch, "metadata");
	CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta, "resourceVersion")),
	              "7"));
	const cJSON *ann = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(meta, "annotations"), FB_ANNOTATION_TOLERATIONS);
	const cJSON *tols = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(patch, "spec"), "tolerations");
	fb_tol_record r;
	CHECK(cJSON_IsString(ann));
	CHECK(fb_tol_record_parse(ann->valuestring, &r) == 0 || !ann->valuestring[0]);
	CHECK(cJSON_IsArray(tols));
	CHECK(!fb_tolerations_finite(tols));
	cJSON_Delete(patch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	if (!init) {
		kc_global_init();
		init = 1;
	}
	/* tolerations JSON, then the annotation after the last newline */
	size_t split = size;
	while (split > 0 && data[split - 1] != '\n')
		split--;
	char *text = kc_malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	const char *ann = NULL;
	if (split > 0) {
		text[split - 1] = '\0';
		ann = text + split;
	}
	if (strlen(text) != (split > 0 ? split - 1 : size) || (ann && strlen(ann) != size - split)) {
		kc_free(text); /* a NUL inside: not a C string */
		return 0;
	}

	fb_tol_record prior;
	if (ann)
		check_record_text(ann);
	bool has_prior = ann && fb_tol_record_parse(ann, &prior) == 0;

	cJSON *x = cJSON_Parse(text);
	if (dup_keys(x)) {
		cJSON_Delete(x);
		kc_free(text);
		return 0;
	}
	for (int k = 0; k < 2; k++)
		CHECK(valid_s(fb_toleration_s(x, keys[k])));
	cJSON *out = NULL;
	fb_tol_record rec;
	if (!exact_numbers(x)) {
		/* left as it is: neither rewritten with a number it did not have */
		CHECK(fb_tolerations_cover(x, has_prior ? &prior : NULL, DEFAULT_S, &out, &rec) ==
		      KC_ERR_TOOBIG);
		CHECK(!out && !fb_tol_record_any(&rec));
		CHECK(fb_tolerations_restore(x, &prior, &out) == KC_ERR_TOOBIG);
		CHECK(!out);
		cJSON_Delete(x);
		check_patch(text, has_prior ? &prior : NULL, true);
		check_patch(text, has_prior ? &prior : NULL, false);
		kc_free(text);
		return 0;
	}

	/* cover with the annotation's record as prior: the record follows the pod */
	CHECK(fb_tolerations_cover(x, has_prior ? &prior : NULL, DEFAULT_S, &out, &rec) == KC_OK);
	const cJSON *c = out ? out : x;
	bool changed = false;
	for (int k = 0; k < 2; k++) {
		int64_t before = fb_toleration_s(x, keys[k]);
		CHECK(fb_toleration_s(c, keys[k]) == FB_TOL_FOREVER);
		if (before == FB_TOL_FOREVER) {
			CHECK(rec_key(&rec, k) == (has_prior ? rec_key(&prior, k) : FB_TOL_FOREVER));
		} else {
			changed = true;
			CHECK(rec_key(&rec, k) ==
			      (before == FB_TOL_NONE ? none_s(x, keys[k], DEFAULT_S) : before));
		}
	}
	CHECK(changed == (out != NULL));
	if (out) {
		CHECK(cJSON_IsArray(out));
		CHECK(only_added(x, out));
		cover_adds_only_key_tolerations(x, out);
		same_for_other_keys(x, out);
	}
	cJSON_Delete(out);

	/* restore(cover(x)) with no prior record: every key's time as before (none: the default) */
	CHECK(fb_tolerations_cover(x, NULL, DEFAULT_S, &out, &rec) == KC_OK);
	c = out ? out : x;
	cJSON *restored = NULL;
	CHECK(fb_tolerations_restore(c, &rec, &restored) == KC_OK);
	const cJSON *r = restored ? restored : c;
	for (int k = 0; k < 2; k++) {
		int64_t before = fb_toleration_s(x, keys[k]);
		CHECK(fb_toleration_s(r, keys[k]) ==
		      (before == FB_TOL_NONE ? none_s(x, keys[k], DEFAULT_S) : before));
	}
	if (restored) {
		CHECK(only_added(c, restored));
		same_for_other_keys(x, restored);
	}
	cJSON_Delete(restored);
	cJSON_Delete(out);

	/* restore with the annotation's record, as the executor does on uninstall */
	if (has_prior) {
		CHECK(fb_tolerations_restore(x, &prior, &restored) == KC_OK);
		r = restored ? restored : x;
		for (int k = 0; k < 2; k++) {
			int64_t before = fb_toleration_s(x, keys[k]), s = rec_key(&prior, k);
			bool restores = s >= 0 && (before == FB_TOL_FOREVER || before == FB_TOL_NONE);
			CHECK(fb_toleration_s(r, keys[k]) == (restores ? s : before));
		}
		if (restored) {
			CHECK(only_added(x, restored));
			same_for_other_keys(x, restored);
		}
		cJSON_Delete(restored);
	}
	cJSON_Delete(x);

	check_patch(text, has_prior ? &prior : NULL, true);
	check_patch(text, has_prior ? &prior : NULL, false);
	kc_free(text);
	return 0;
}
