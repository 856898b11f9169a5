/*
 * scalepolicy.h - the decisions of ScaleToZero and its restore, as pure
 * functions of what the shell read from the API (controller/shell/scale.c and
 * executor.c do the reads and writes; scale.h describes the whole sequence).
 *
 *   - A workload is scaled to zero only while the Quarantine that records it
 *     is in force: it is what restores the workload later.
 *   - To zero: an annotation already holding a count is never overwritten (a
 *     second run keeps the first count); otherwise the replicas read are
 *     recorded first. Then the replicas are set to 0 unless they are.
 *   - Restore: no annotation = nothing of ours to undo. The count goes back
 *     only while the replicas are still 0; someone who scaled the workload
 *     meanwhile wins. An annotation that is not a count is refused.
 *
 * Upstream: kubectl scale's merge patch of spec.replicas (kubectl/pkg/scale
 * ScaleSimple); a HorizontalPodAutoscaler leaves a target at 0 replicas alone
 * ("ScalingDisabled", pkg/controller/podautoscaler/horizontal.go), so a
 * restore is ours to do.
 */
#ifndef FB_SCALEPOLICY_H
#define FB_SCALEPOLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"

#define FB_REPLICAS_MAX 2147483647LL /* spec.replicas is an int32 */

/*
 * A replica count as the annotation holds it: decimal digits only (at most
 * 10), within int32. Returns the count, or -1 for NULL, "" or anything else.
 */
int64_t fb_replicas_parse(const char *s);

/* What the shell read of the Quarantine named by a ScaleToZero action. */
typedef struct fb_scale_quarantine_view {
	bool exists;                 /* false: 404, or the action names none */
	const char *workload_kind;   /* spec.workload.kind; NULL if absent or not a string */
	const char *workload_name;   /* spec.workload.name; likewise */
	bool release;                /* spec.release is true */
	bool deleting;               /* metadata.deletionTimestamp is set */
} fb_scale_quarantine_view;

/*
 * May workload kind/name be scaled to zero under Quarantine ns/quarantine, as
 * q shows it? FB_SCALE_DONE: yes, it is in force. FB_SCALE_FAILED: it does
 * not exist (yet: its creation failed and is retried), retry later.
 * FB_SCALE_REFUSED: it records another workload (names are derived from the
 * workload's, but a hand-made Quarantine could name another), or it is being
 * released. Otherwise why (cap > 0) gets one line for a person; always
 * NUL-terminated. Cannot fail.
 */
fb_scale_result fb_scale_quarantine_check(const fb_scale_quarantine_view *q, const char *ns,
                                          const char *quarantine, const char *kind,
                                          const char *name, char *why, size_t cap);

/* Scaling to zero a workload that has `replicas` and annotation count `annotated` (-1: none). */
typedef struct fb_scale_down_plan {
	bool write_annotation;       /* record `replicas` first: no count there yet */
	int64_t from;                /* the count from before the quarantine */
	bool set_zero;               /* replicas are not 0 yet */
} fb_scale_down_plan;

fb_scale_down_plan fb_scale_down_plan_for(int64_t replicas, int64_t annotated);

typedef enum fb_restore_step {
	FB_RESTORE_NOTHING,    /* no annotation: nothing of ours to undo */
	FB_RESTORE_REFUSE,     /* the annotation is not a count: a person must look */
	FB_RESTORE_SCALE,      /* still 0: set the count back, then remove the annotation */
	FB_RESTORE_UNCHANGED,  /* already at the count: only remove the annotation */
	FB_RESTORE_KEEP_THEIRS,/* scaled by someone else meanwhile: theirs stands; remove it */
} fb_restore_step;

/*
 * The restore of a workload with `replicas` now; has_annotation and
 * `annotated` (its count, -1 if it is not one) as read with it.
 */
fb_restore_step fb_restore_step_for(int64_t replicas, bool has_annotation, int64_t annotated);

#endif
