/*
 * fuzz_kubeconfig - the kubeconfig parser and resolver on arbitrary bytes.
 * Parses the input as one kubeconfig from memory (libcyaml, base64 fields,
 * validation), with the current context and then with the context "x", and
 * exercises the config copy and kc_auth construction on what loads. Relative
 * file references stay relative to the working directory (base_dir NULL);
 * only regular files are ever read, with their caps.
 */
#include <stddef.h>
#include <stdint.h>

#include "config_internal.h"
#include "kc/alloc.h"
#include "kc/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int initialised;
	if (!initialised) {
		kc_global_init();
		initialised = 1;
	}
	static const char *const contexts[] = { NULL, "x" };
	for (size_t i = 0; i < sizeof(contexts) / sizeof(contexts[0]); i++) {
		kc_config *cfg = NULL;
		kc_error_detail d;
		if (kc__kubeconfig_parse_mem(data, size, "fuzz", NULL, contexts[i], &cfg, &d) != KC_OK)
			continue;
		kc_config *copy = NULL;
		if (kc_config_dup(cfg, &copy) == KC_OK)
			kc_config_free(copy);
		kc_auth *a = NULL;
		if (kc_auth_new(cfg, &a, &d) == KC_OK)
			kc_auth_free(a);
		kc_config_free(cfg);
	}
	return 0;
}
