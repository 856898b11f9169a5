/*
 * Fuzz target: act mode's reading of the node's pods (fbn_pod_facts_find) from a PodList as the
 * API server sends it, whatever its shape. The bytes are parsed as JSON; the pod looked for is
 * the first item's uid (when it has one) and a fixed one. Checks: no crash, no leak, no undefined
 * behaviour; found means known; names always terminated; a pod with no namespace counts as
 * protected (never killed on a guess).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fbn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const cJSON *list, const char *uid)
{
	static const char *const protect[] = { "ml-infra", NULL };
	fbn_pod_facts f;
	bool found = fbn_pod_facts_find(list, uid, protect, &f);
	if (found != f.known || strlen(f.namespace_) >= sizeof(f.namespace_) ||
	    strlen(f.name) >= sizeof(f.name) || strlen(f.owner_kind) >= sizeof(f.owner_kind) ||
	    (found && !f.namespace_[0] && !f.protected_namespace))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *list = cJSON_ParseWithLength((const char *)data, size);
	if (!list)
		return 0;
	const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(list, "items"), 0);
	const char *uid = cJSON_GetStringValue(
	        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(first, "metadata"), "uid"));
	if (uid)
		check(list, uid);
	check(list, "7c9e6679-7425-40de-944b-e07fc1f90ae7");
	check(list, "");
	cJSON_Delete(list);
	return 0;
}
