/*
 * init.c - the process-wide initialisation of libcurl and cJSON (kc/alloc.h).
 * Apart from alloc.c so that kc_base, which the decision core links, does not
 * pull in libcurl.
 */
#include <stdbool.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "kc/alloc.h"

static bool global_done;

int kc_global_init(void)
{
	if (global_done)
		return 0;
	/* cJSON's hooks take malloc/free only; realloc is then emulated by cJSON. */
	cJSON_Hooks hooks = { .malloc_fn = kc_malloc, .free_fn = kc_free };
	cJSON_InitHooks(&hooks);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -1;
	global_done = true;
	return 0;
}

void kc_global_cleanup(void)
{
	if (!global_done)
		return;
	curl_global_cleanup();
	global_done = false;
}
