/*
 * config.h - firebreak's own configuration file (YAML, read with libcyaml).
 * Every field is optional; flags given on the command line override it.
 * Unknown keys are errors: a misspelt setting is refused at start, with a
 * message naming it, rather than silently ignored. See config/firebreak.yaml.
 */
#ifndef FB_CONFIG_H
#define FB_CONFIG_H

#include <stddef.h>

#include "controller.h"
#include "log.h"

#define FB_CONFIG_FILE_MAX (1u << 20)

typedef struct fb_settings {
	fb_controller_options ctl;
	fb_log_level log_level;
	fb_log_format log_format;
	char *owned[24];  /* strings the options point into; freed by fb_settings_release */
	size_t nowned;
} fb_settings;

void fb_settings_defaults(fb_settings *s);
void fb_settings_release(fb_settings *s);

/*
 * Apply the file at path on top of s. Returns 0, or -1 with a one-line reason
 * naming the file and the field in err.
 */
int fb_settings_load_file(fb_settings *s, const char *path, char *err, size_t errcap);
/* The same from memory (tests, fuzzing). */
int fb_settings_load_mem(fb_settings *s, const char *data, size_t len, const char *name,
                         char *err, size_t errcap);

/* Where a pod finds its own namespace (client-go's rest.InClusterConfig reads the same file). */
#define FB_INCLUSTER_NAMESPACE_FILE "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

/*
 * firebreak's own namespace (--namespace): given if set and not empty, else
 * the namespace in file (its content, blanks trimmed) if the file is there
 * and names one, else fallback (the client's namespace). Returns given, buf
 * (holding the file's) or fallback.
 */
const char *fb_own_namespace(const char *given, const char *file, const char *fallback, char *buf,
                             size_t cap);

#endif
