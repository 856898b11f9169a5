/*
 * Fuzz the node failure record (firebreak.dev/failure, poison.h): any bytes
 * read as the annotation are refused whole or read into a record that writes
 * back to the same record; and the core, given it as a node's record, reads
 * the failure history and judges a workload on it without crashing, leaking
 * or failing its own checks (the checked core: FB_CHECKS).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "kc/alloc.h"
#include "poison.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same(const fb_failure *a, const fb_failure *b)
{
	if (a->failed_ms != b->failed_ms || a->n != b->n || a->npast != b->npast ||
	    a->outage != b->outage || a->memory_pressure != b->memory_pressure)
		abort();
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->s[i].workload, b->s[i].workload) != 0 ||
		    a->s[i].arrived_ms != b->s[i].arrived_ms)
			abort();
	for (size_t i = 0; i < a->npast; i++)
		if (a->past[i].at_ms != b->past[i].at_ms || a->past[i].suspects != b->past[i].suspects ||
		    a->past[i].outage != b->past[i].outage)
			abort();
}

/* The core given json as node n1's record; n1 failed, a pod of w arrived on it shortly before. */
static void judge(const char *json, int64_t failed_ms)
{
	fb_core_config cfg;
	fb_core_config_defaults(&cfg);
	cfg.poison_settle_ms = 0;
	fb_core *c = fb_core_new(&cfg);
	fb_budget_spec_release(&cfg.defaults);
	if (!c)
		return;
	fb_actions acts;
	fb_actions_init(&acts);
	int64_t now = failed_ms > 0 && failed_ms < 4102444800000LL ? failed_ms : 1700000000000LL;
	const char *names[] = { "n1", "n2", "n3" };
	for (int i = 0; i < 3; i++) {
		fb_node_obs o = { .name = names[i], .uid = names[i], .ready = FB_COND_TRUE,
		                  .ready_transition_ms = now - 86400000, .created_ms = now - 86400000 * 40LL,
		                  .failure_annotation = i == 1 ? json : NULL };
		fb_core_node_set(c, &o, now - 1000);
	}
	fb_workload_ref wl;
	fb_workload_ref_set(&wl, "Deployment", "default", "w");
	fb_pod_obs p = { .ns = "default", .name = "w-1", .uid = "u1", .node = "n1", .workload = &wl,
	                 .tol_not_ready_s = 300, .tol_unreachable_s = 300,
	                 .arrived_ms = now - 60000 };
	fb_core_pod_set(c, &p);
	fb_core_tick(c, now - 1000, &acts);
	fb_node_obs f = { .name = "n1", .uid = "n1", .ready = FB_COND_UNKNOWN,
	                  .ready_transition_ms = now, .failure_annotation = json };
	fb_core_node_set(c, &f, now);
	fb_actions_clear(&acts);
	fb_core_tick(c, now + 1000, &acts);
	fb_actions_release(&acts);
	fb_core_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	if (!init) {
		kc_global_init();
		init = 1;
	}
	char *json = malloc(size + 1);
	if (!json)
		return 0;
	memcpy(json, data, size);
	json[size] = '\0';
	fb_failure f;
	if (fb_failure_from_json(json, "n1", &f) == 0) {
		if (f.n > FB_FAILURE_SUSPECTS_MAX || f.npast > FB_FAILURE_PAST_MAX)
			abort();
		char *back = fb_failure_to_json(&f);
		fb_failure g;
		if (back) {
			if (fb_failure_from_json(back, "n1", &g) != 0)
				abort(); /* what we write we read */
			same(&f, &g);
			fb_failure_release(&g);
			kc_free(back);
		}
		judge(json, f.failed_ms);
		fb_failure_release(&f);
	} else {
		judge(json, 0);
	}
	free(json);
	return 0;
}
