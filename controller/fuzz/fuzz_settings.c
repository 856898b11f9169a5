/* Fuzz the settings file loader (libcyaml schema + field checks). */
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "kc/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fb_settings s;
	char err[512];
	fb_settings_defaults(&s);
	fb_settings_load_mem(&s, (const char *)data, size, "fuzz.yaml", err, sizeof(err));
	fb_settings_release(&s);
	return 0;
}
