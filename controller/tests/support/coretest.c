/* coretest.c - see coretest.h. */
#include <string.h>

#include "coretest.h"

fb_core *core;
fb_actions acts;

void setup_config(const fb_core_config *cfg)
{
	fb_core_config defaults;
	if (!cfg) {
		fb_core_config_defaults(&defaults);
		cfg = &defaults;
	}
	core = fb_core_new(cfg);
	fb_actions_init(&acts);
}

void setup(bool dry_run)
{
	fb_core_config cfg;
	fb_core_config_defaults(&cfg);
	cfg.dry_run = dry_run;
	setup_config(&cfg);
}

void teardown(void)
{
	fb_core_free(core);
	fb_actions_release(&acts);
}

int64_t tick(int64_t now)
{
	fb_actions_clear(&acts);
	return fb_core_tick(core, now, &acts);
}

int count(fb_action_kind kind)
{
	int n = 0;
	for (size_t i = 0; i < acts.n; i++)
		n += acts.v[i].kind == kind;
	return n;
}

int index_of(fb_action_kind kind)
{
	for (size_t i = 0; i < acts.n; i++)
		if (acts.v[i].kind == kind)
			return (int)i;
	return -1;
}

const fb_action *find(fb_action_kind kind, const char *name_or_reason)
{
	for (size_t i = 0; i < acts.n; i++) {
		const fb_action *a = &acts.v[i];
		if (a->kind != kind)
			continue;
		if (!name_or_reason || strcmp(a->name, name_or_reason) == 0 ||
		    (kind == FB_ACT_EVENT && strcmp(a->reason, name_or_reason) == 0))
			return a;
	}
	return NULL;
}
