/*
 * test_scalepolicy.c - the ScaleToZero decisions (core/scalepolicy.h): when a
 * workload may be scaled to zero under its Quarantine, what the annotation
 * keeps, and what a restore does (only while still at 0; theirs wins).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "kctest.h"
#include "scalepolicy.h"

KT_TEST(replica_counts_are_digits_within_int32)
{
	KT_EQ_INT(fb_replicas_parse("0"), 0);
	KT_EQ_INT(fb_replicas_parse("3"), 3);
	KT_EQ_INT(fb_replicas_parse("007"), 7);
	KT_EQ_INT(fb_replicas_parse("2147483647"), 2147483647LL);
	static const char *bad[] = {
		"", "-1", "+1", " 1", "1 ", "1.0", "3x", "abc", "2147483648",
		"9999999999", "00000000001", /* 11 digits, even if small */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (fb_replicas_parse(bad[i]) != -1)
			fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
		KT_EQ_INT(fb_replicas_parse(bad[i]), -1);
	}
	KT_EQ_INT(fb_replicas_parse(NULL), -1);
}

static fb_scale_quarantine_view in_force(void)
{
	return (fb_scale_quarantine_view){ .exists = true, .workload_kind = "Deployment",
		                           .workload_name = "render" };
}

static fb_scale_result check(const fb_scale_quarantine_view *q, char *why, size_t cap)
{
	return fb_scale_quarantine_check(q, "gpu", "q-render", "Deployment", "render", why, cap);
}

KT_TEST(scales_only_under_its_own_quarantine_in_force)
{
	char why[400];
	fb_scale_quarantine_view q = in_force();
	KT_EQ_INT(check(&q, why, sizeof(why)), FB_SCALE_DONE);
	KT_EQ_STR(why, "");

	/* not there (yet): its creation is retried, so is the scale */
	q = (fb_scale_quarantine_view){ 0 };
	KT_EQ_INT(check(&q, why, sizeof(why)), FB_SCALE_FAILED);
	KT_EQ_STR(why, "its Quarantine gpu/q-render does not exist (yet)");

	/* a Quarantine of that name recording another workload: never */
	const struct {
		const char *kind, *name;
	} other[] = { { "StatefulSet", "render" }, { "Deployment", "renderer" },
		      { NULL, "render" }, { "Deployment", NULL } };
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		q = in_force();
		q.workload_kind = other[i].kind;
		q.workload_name = other[i].name;
		KT_EQ_INT(check(&q, why, sizeof(why)), FB_SCALE_REFUSED);
		KT_EQ_STR(why, "Quarantine gpu/q-render records another workload");
	}
	/* another workload wins over being released: the first reason is given */
	q.release = true;
	KT_EQ_INT(check(&q, why, sizeof(why)), FB_SCALE_REFUSED);
	KT_EQ_STR(why, "Quarantine gpu/q-render records another workload");

	/* being released, by spec.release or by deletion */
	q = in_force();
	q.release = true;
	KT_EQ_INT(check(&q, why, sizeof(why)), FB_SCALE_REFUSED);
	KT_EQ_STR(why, "its Quarantine gpu/q-render is being released");
	q = in_force();
	q.deleting = true;
	KT_EQ_INT(check(&q, why, sizeof(why)), FB_SCALE_REFUSED);
	KT_EQ_STR(why, "its Quarantine gpu/q-render is being released");

	/* why is cut to its size, and NUL-terminated */
	char small[8];
	KT_EQ_INT(check(&q, small, sizeof(small)), FB_SCALE_REFUSED);
	KT_EQ_STR(small, "its Qua");
}

KT_TEST(scale_down_keeps_an_earlier_count)
{
	/* first run: record the replicas, then set 0 */
	fb_scale_down_plan p = fb_scale_down_plan_for(3, -1);
	KT_CHECK(p.write_annotation);
	KT_EQ_INT(p.from, 3);
	KT_CHECK(p.set_zero);

	/* a second run after the annotation was written: the first count stays */
	p = fb_scale_down_plan_for(3, 5);
	KT_CHECK(!p.write_annotation);
	KT_EQ_INT(p.from, 5);
	KT_CHECK(p.set_zero);

	/* already at 0 with the count there: nothing left to write */
	p = fb_scale_down_plan_for(0, 5);
	KT_CHECK(!p.write_annotation);
	KT_EQ_INT(p.from, 5);
	KT_CHECK(!p.set_zero);

	/* at 0 without a count (scaled down by someone before us): record 0 */
	p = fb_scale_down_plan_for(0, -1);
	KT_CHECK(p.write_annotation);
	KT_EQ_INT(p.from, 0);
	KT_CHECK(!p.set_zero);

	/* an annotated 0 is a count like any other */
	p = fb_scale_down_plan_for(4, 0);
	KT_CHECK(!p.write_annotation);
	KT_EQ_INT(p.from, 0);
	KT_CHECK(p.set_zero);
}

KT_TEST(restore_only_while_still_at_zero)
{
	/* no annotation: nothing of ours, whatever the replicas */
	KT_EQ_INT(fb_restore_step_for(0, false, -1), FB_RESTORE_NOTHING);
	KT_EQ_INT(fb_restore_step_for(4, false, -1), FB_RESTORE_NOTHING);
	/* an annotation that is not a count: a person decides */
	KT_EQ_INT(fb_restore_step_for(0, true, -1), FB_RESTORE_REFUSE);
	KT_EQ_INT(fb_restore_step_for(2, true, -1), FB_RESTORE_REFUSE);
	/* still 0: the count goes back */
	KT_EQ_INT(fb_restore_step_for(0, true, 3), FB_RESTORE_SCALE);
	/* scaled by someone else meanwhile: theirs stands */
	KT_EQ_INT(fb_restore_step_for(1, true, 3), FB_RESTORE_KEEP_THEIRS);
	KT_EQ_INT(fb_restore_step_for(7, true, 3), FB_RESTORE_KEEP_THEIRS);
	KT_EQ_INT(fb_restore_step_for(2, true, 0), FB_RESTORE_KEEP_THEIRS);
	/* already at the count (restored, annotation left by a crash; or 0 from 0) */
	KT_EQ_INT(fb_restore_step_for(3, true, 3), FB_RESTORE_UNCHANGED);
	KT_EQ_INT(fb_restore_step_for(0, true, 0), FB_RESTORE_UNCHANGED);
}

int main(void)
{
	KT_RUN(replica_counts_are_digits_within_int32);
	KT_RUN(scales_only_under_its_own_quarantine_in_force);
	KT_RUN(scale_down_keeps_an_earlier_count);
	KT_RUN(restore_only_while_still_at_zero);
	return KT_DONE();
}
