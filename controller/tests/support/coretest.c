/* coretest.c - see coretest.h. */
#include <string.h>

#include "coretest.h"
#include "kc/alloc.h"
#include "render.h"

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

#define RENDERED_MAX 64
static char *rendered[RENDERED_MAX];
static size_t nrendered;

static void rendered_clear(void)
{
	for (size_t i = 0; i < nrendered; i++)
		kc_free(rendered[i]);
	nrendered = 0;
}

void teardown(void)
{
	fb_core_free(core);
	fb_actions_release(&acts);
	rendered_clear();
}

int64_t tick(int64_t now)
{
	rendered_clear();
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
		    (kind == FB_ACT_EVENT && strcmp(fb_reason_name(a->reason), name_or_reason) == 0))
			return a;
	}
	return NULL;
}

static fb_workload_ref *ring_next(void)
{
	static fb_workload_ref ring[8];
	static unsigned next;
	return &ring[next++ % 8];
}

const fb_workload_ref *WL(const char *id)
{
	fb_workload_ref *r = ring_next();
	return fb_workload_id_parse(id, r) == 0 ? r : NULL;
}

const fb_workload_ref *WK(const char *kind, const char *ns, const char *name)
{
	fb_workload_ref *r = ring_next();
	return fb_workload_ref_set(r, kind, ns, name) == 0 ? r : NULL;
}

const char *payload(const fb_action *a)
{
	if (!a || nrendered == RENDERED_MAX)
		return NULL;
	char *text = NULL;
	if (a->kind == FB_ACT_NODE_ANNOTATE && a->failure) {
		text = fb_failure_to_json(a->failure);
	} else if (a->kind == FB_ACT_QUARANTINE && a->verdict) {
		cJSON *o = fb_render_quarantine(a->verdict);
		char *p = o ? cJSON_PrintUnformatted(o) : NULL;
		cJSON_Delete(o);
		text = p ? kc_strdup(p) : NULL;
		cJSON_free(p);
	}
	if (text)
		rendered[nrendered++] = text;
	return text;
}
