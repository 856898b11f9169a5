/*
 * Fuzz the controller's decoders of API objects: Node, Pod, EvictionBudget
 * and Quarantine projections and the EvictionBudget spec parser, over any
 * bytes that parse as JSON.
 */
#include <stddef.h>
#include <stdint.h>

#include "budget.h"
#include "kc/alloc.h"
#include "project.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	if (!init) {
		kc_global_init();
		init = 1;
	}
	cJSON *obj = cJSON_ParseWithLength((const char *)data, size);
	if (!obj)
		return 0;
	fb_node_proj_free(fb_project_node(obj, NULL), NULL);
	fb_pod_proj *p = fb_project_pod(obj, NULL);
	if (p) {
		fb_pod_obs o;
		fb_workload_ref wl;
		fb_pod_proj_obs(p, &o, &wl);
	}
	fb_pod_proj_free(p, NULL);
	fb_budget_proj_free(fb_project_budget(obj, NULL), NULL);
	fb_quarantine_proj *q = fb_project_quarantine(obj, NULL);
	if (q) {
		fb_quarantine_obs qo;
		fb_quarantine_proj_obs(q, &qo);
	}
	fb_quarantine_proj_free(q, NULL);
	fb_event_proj *e = fb_project_event(obj, NULL);
	if (e && e->node && (!e->reason || e->at_ms <= 0))
		__builtin_trap(); /* a sign is kept only with its reason and time */
	fb_event_proj_free(e, NULL);
	fb_budget_spec spec;
	char err[256];
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	if (fb_budget_spec_parse(&spec, s ? s : obj, err, sizeof(err)) == 0)
		fb_budget_spec_release(&spec);
	cJSON_Delete(obj);
	return 0;
}
