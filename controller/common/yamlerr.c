/* yamlerr.c - see yamlerr.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kc/alloc.h"
#include "yamlerr.h"

/* cyaml's error lines joined on one: what is wrong, then the keys leading there. */
static void capture_log(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
{
	fb_yaml_errors *e = ctx;
	if (level < CYAML_LOG_ERROR)
		return;
	size_t n = strlen(e->msg);
	if (n + 8 >= sizeof(e->msg))
		return;
	char line[256];
	vsnprintf(line, sizeof(line), fmt, args);
	char *p = line;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncmp(p, "Load: ", 6) == 0)
		p += 6;
	size_t l = strlen(p);
	while (l && (p[l - 1] == '\n' || p[l - 1] == ' '))
		p[--l] = '\0';
	if (!l || strcmp(p, "Backtrace:") == 0)
		return;
	snprintf(e->msg + n, sizeof(e->msg) - n, "%s%s", n ? "; " : "", p);
}

static void *mem(void *ctx, void *ptr, size_t size)
{
	(void)ctx;
	if (size == 0) {
		kc_free(ptr);
		return NULL;
	}
	return kc_realloc(ptr, size);
}

void fb_yaml_config(cyaml_config_t *cfg, fb_yaml_errors *errs)
{
	errs->msg[0] = '\0';
	memset(cfg, 0, sizeof(*cfg));
	cfg->log_fn = capture_log;
	cfg->log_ctx = errs;
	cfg->mem_fn = mem;
	cfg->log_level = CYAML_LOG_ERROR;
	cfg->flags = CYAML_CFG_NO_ALIAS;
}
