/* scalepolicy.c - ScaleToZero and restore decisions (see scalepolicy.h). */
#include <stdio.h>
#include <string.h>

#include "scalepolicy.h"

int64_t fb_replicas_parse(const char *s)
{
	int64_t v = 0;
	if (!s || !*s || strlen(s) > 10)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v <= FB_REPLICAS_MAX ? v : -1;
}

fb_scale_result fb_scale_quarantine_check(const fb_scale_quarantine_view *q, const char *ns,
                                          const char *quarantine, const char *kind,
                                          const char *name, char *why, size_t cap)
{
	if (cap > 0)
		why[0] = '\0';
	if (!q->exists) {
		snprintf(why, cap, "its Quarantine %.63s/%.200s does not exist (yet)", ns, quarantine);
		return FB_SCALE_FAILED;
	}
	bool ours = q->workload_kind && q->workload_name && strcmp(q->workload_kind, kind) == 0 &&
	            strcmp(q->workload_name, name) == 0;
	if (!ours) {
		snprintf(why, cap, "Quarantine %.63s/%.200s records another workload", ns, quarantine);
		return FB_SCALE_REFUSED;
	}
	if (q->release || q->deleting) {
		snprintf(why, cap, "its Quarantine %.63s/%.200s is being released", ns, quarantine);
		return FB_SCALE_REFUSED;
	}
	return FB_SCALE_DONE;
}

fb_scale_down_plan fb_scale_down_plan_for(int64_t replicas, int64_t annotated)
{
	/* an earlier run's count stays; one that is not a count is replaced */
	bool kept = annotated >= 0;
	return (fb_scale_down_plan){
		.write_annotation = !kept,
		.from = kept ? annotated : replicas,
		.set_zero = replicas != 0,
	};
}

fb_restore_step fb_restore_step_for(int64_t replicas, bool has_annotation, int64_t annotated)
{
	if (!has_annotation)
		return FB_RESTORE_NOTHING;
	if (annotated < 0)
		return FB_RESTORE_REFUSE;
	if (replicas == 0 && annotated != 0)
		return FB_RESTORE_SCALE;
	if (replicas != annotated)
		return FB_RESTORE_KEEP_THEIRS;
	return FB_RESTORE_UNCHANGED;
}
