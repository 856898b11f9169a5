/*
 * yamlerr.h - what firebreak's YAML loaders (the settings file, the
 * simulator's scenarios) share around libcyaml: its allocations through the
 * kc_ allocator hook, and its error lines turned into one readable message.
 */
#ifndef FB_YAMLERR_H
#define FB_YAMLERR_H

#include <cyaml/cyaml.h>

typedef struct fb_yaml_errors {
	char msg[384];  /* "what is wrong; in mapping field 'x' (line, column); ..." */
} fb_yaml_errors;

/*
 * A cyaml config: strict keys, no aliases (a "billion laughs" file cannot get
 * around the size caps), errors collected into *errs (cleared here).
 */
void fb_yaml_config(cyaml_config_t *cfg, fb_yaml_errors *errs);

#endif
