/*
 * render.h - the API objects firebreak writes, built from the core's typed
 * records: the only place that knows their JSON shape (the CRDs in
 * config/crds/ are the schema). The decision code produces records; the
 * shell renders and sends them; the simulator and the tests read the
 * records directly.
 *
 * Each returns a new cJSON tree the caller frees with cJSON_Delete, or NULL
 * on ENOMEM.
 */
#ifndef FB_RENDER_H
#define FB_RENDER_H

#include <cjson/cJSON.h>

#include "core.h"

/* The whole Quarantine object (firebreak.dev/v1alpha1), status included. */
cJSON *fb_render_quarantine(const fb_quarantine_record *q);

/*
 * A JSON Patch (RFC 6902) for the status of an existing Quarantine
 * (FB_ACT_QUARANTINE_STATUS): the record's nodes appended to status.nodes,
 * taintedNodes and evidence (appended, never replaced: the object keeps the
 * nodes of the verdict), and gatedPods / escapedPods set. NULL on ENOMEM.
 */
cJSON *fb_render_quarantine_status_patch(const fb_quarantine_record *q);

/* An EvictionBudget's .status; conditions carry now_ms as lastTransitionTime. */
cJSON *fb_render_budget_status(const fb_budget_status *st, int64_t now_ms);

#endif
