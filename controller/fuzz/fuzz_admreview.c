/*
 * Fuzz the admission webhook's AdmissionReview decoder and encoder
 * (admreview.h) over any bytes, and check what its callers rely on: every
 * answer is an allowed AdmissionReview response for the request's uid, a
 * patch comes only with the outcome "gated" or a cover (managed mode, on for
 * inputs of odd length), and a refusal says why in one line. The gate answers from the workload's name, so both answers are seen.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "admreview.h"
#include "kc/alloc.h"

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	if (!init) {
		kc_global_init();
		init = 1;
	}
	fb_adm_result res;
	char *out;
	size_t len;
	int calls = 0;
	/* managed mode in half the runs, chosen by the size's low bit (the bytes stay a review) */
	fb_adm_options o = { .gate = gate, .ud = &calls, .managed = size & 1,
		             .default_toleration_s = 300 };
	kc_err err = fb_admreview_answer_opts((const char *)data, size, &o, &res, &out, &len);
	CHECK(calls <= 1);
	CHECK(strlen(res.quarantine) < FB_NAME_MAX);
	if (err != KC_OK) {
		CHECK(!out && res.reason[0] && !strchr(res.reason, '\n'));
		return 0;
	}
	cJSON *r = cJSON_ParseWithLength(out, len);
	CHECK(r && len == strlen(out));
	const cJSON *resp = cJSON_GetObjectItemCaseSensitive(r, "response");
	CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "allowed")));
	const char *uid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(resp, "uid"));
	CHECK(uid && res.uid[0] && strcmp(uid, res.uid) == 0);
	bool patched = cJSON_GetObjectItemCaseSensitive(resp, "patch") != NULL;
	CHECK(patched == (res.outcome == FB_ADM_GATED || res.covered));
	CHECK(!res.covered || o.managed);
	/* a cover records what it took (a key tolerated forever by the pod keeps none) and its
	 * audit annotation says so */
	if (res.covered)
		CHECK(fb_tol_record_any(&res.record) &&
		      cJSON_GetObjectItemCaseSensitive(
			      cJSON_GetObjectItemCaseSensitive(resp, "auditAnnotations"),
			      "tolerations-covered"));
	cJSON_Delete(r);
	kc_free(out);
	return 0;
}
