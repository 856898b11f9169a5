/*
 * scale.h - the ScaleToZero quarantine action carried out against the API: a
 * workload's replicas set to zero through its apps/v1 scale subresource (as
 * `kubectl scale` does), the count from before kept in an annotation on the
 * workload, and given back on release.
 *
 * Every step may be interrupted (a crash, a lost lease) and run again by the
 * next leader without losing the count:
 *   - to zero: the annotation is written first, with the resourceVersion read
 *     (so it records the replicas of that version); an annotation already
 *     there is never overwritten: a second run keeps the first count. Then the
 *     scale subresource is patched to 0.
 *   - restore: replicas are set back (resourceVersion-checked: someone who
 *     scaled it meanwhile wins) while they are still 0, and only then is the
 *     annotation removed. No annotation = nothing of ours to undo.
 * Those decisions are pure functions of what was read, in the core
 * (core/scalepolicy.h); this file does the reads and writes around them.
 *
 * Only Deployments, StatefulSets and ReplicaSets (fb_workload_scalable), and
 * only when no other controller manages them (a controller ownerReference):
 * that controller would undo the scale, and scaling its owner is what it
 * expects. Such workloads are refused and stay pinned.
 *
 * Upstream places this relies on: kubectl scale sends the same merge patch of
 * spec.replicas to the scale subresource (kubectl/pkg/scale/scale.go
 * ScaleSimple); a metadata.resourceVersion in that patch becomes the
 * workload's and is checked by storage (pkg/registry/apps/deployment/storage
 * scaleUpdatedObjectInfo.UpdatedObject, the same for StatefulSets and
 * ReplicaSets); a HorizontalPodAutoscaler leaves a target at 0 replicas alone
 * ("ScalingDisabled", pkg/controller/podautoscaler/horizontal.go).
 */
#ifndef FB_SCALE_H
#define FB_SCALE_H

#include <stdbool.h>
#include <stdint.h>

#include "core.h"
#include "kc/client.h"

#define FB_REPLICAS_ANNOTATION "firebreak.dev/replicas-before-quarantine"
#define FB_SCALE_WRITE_TRIES 5  /* reads and writes again after a 409 Conflict */

typedef struct fb_scale_report {
	int64_t from, to;           /* replicas before and after (-1 when unknown) */
	bool kept_annotation;       /* to zero: an earlier run's annotation was kept */
	bool nothing_to_do;         /* restore: no annotation, nothing of ours to undo */
	bool changed_meanwhile;     /* restore: replicas were not 0 any more; left as they are */
	kc_err err;                 /* FB_SCALE_GONE / FB_SCALE_FAILED: the API's answer */
	char why[400];              /* REFUSED / FAILED: one line for a person */
} fb_scale_report;

/*
 * Scale workload kind ns/name to zero replicas. Returns what the core is told
 * (FB_SCALE_DONE, GONE, REFUSED or FAILED) and fills *rep. Cannot fail in
 * any other way; allocation failure is FB_SCALE_FAILED.
 */
fb_scale_result fb_scale_to_zero(kc_client *c, const char *kind, const char *ns,
                                 const char *name, fb_scale_report *rep);

/* Give it back the replicas the annotation records, then remove the annotation. */
fb_scale_result fb_scale_restore(kc_client *c, const char *kind, const char *ns,
                                 const char *name, fb_scale_report *rep);

#endif
