/*
 * Zone states and admission rates, case by case against the node lifecycle
 * controller (node_lifecycle_controller.go ComputeZoneState / handleDisruption
 * and the disruption cases of its TestMonitorNodeHealthEvictPodsWithDisruption).
 */
#include "kctest.h"
#include "zones.h"

static fb_rates rates;

KT_TEST(compute_zone_state_matches_upstream)
{
	/* no Ready node and at least one not Ready */
	KT_EQ_INT(fb_compute_zone_state(0, 1, 0.55), FB_ZONE_FULL_DISRUPTION);
	/* empty zone is Normal */
	KT_EQ_INT(fb_compute_zone_state(0, 0, 0.55), FB_ZONE_NORMAL);
	/* two not-ready out of two+one: only > 2 counts as partial */
	KT_EQ_INT(fb_compute_zone_state(1, 2, 0.55), FB_ZONE_NORMAL);
	/* 3 of 5 = 0.6 >= 0.55 */
	KT_EQ_INT(fb_compute_zone_state(2, 3, 0.55), FB_ZONE_PARTIAL_DISRUPTION);
	/* 3 of 6 = 0.5 < 0.55 */
	KT_EQ_INT(fb_compute_zone_state(3, 3, 0.55), FB_ZONE_NORMAL);
	/* exactly at the threshold counts (>=) */
	KT_EQ_INT(fb_compute_zone_state(9, 11, 0.55), FB_ZONE_PARTIAL_DISRUPTION);
}

KT_TEST(zone_rates_follow_reduced_and_healthy_qps)
{
	KT_CHECK(fb_zone_qps(FB_ZONE_NORMAL, 10, &rates) == 0.1);
	/* small zone in partial disruption: evictions stop */
	KT_CHECK(fb_zone_qps(FB_ZONE_PARTIAL_DISRUPTION, 50, &rates) == 0);
	/* large zone (> 50 nodes) in partial disruption: secondary rate */
	KT_CHECK(fb_zone_qps(FB_ZONE_PARTIAL_DISRUPTION, 51, &rates) == 0.01);
	/* a fully disrupted zone fails over at the normal rate */
	KT_CHECK(fb_zone_qps(FB_ZONE_FULL_DISRUPTION, 3, &rates) == 0.1);
}

KT_TEST(bucket_is_burst_one_then_rate)
{
	fb_bucket b;
	fb_bucket_reset(&b, 0.1, 1000);
	KT_CHECK(fb_bucket_try(&b, 1000));   /* a fresh bucket admits one at once */
	KT_CHECK(!fb_bucket_try(&b, 1000));  /* burst 1 */
	KT_CHECK(!fb_bucket_try(&b, 10999));
	KT_EQ_INT(fb_bucket_next_ms(&b, 10999), 11000);
	KT_CHECK(fb_bucket_try(&b, 11000));  /* one token per 10 s at 0.1/s */
	KT_CHECK(!fb_bucket_try(&b, 11000));
	/* idle for an hour still gives only one token */
	KT_CHECK(fb_bucket_try(&b, 3600000));
	KT_CHECK(!fb_bucket_try(&b, 3600000));
	fb_bucket_reset(&b, 0, 0);
	KT_CHECK(!fb_bucket_try(&b, 0));
	KT_CHECK(fb_bucket_next_ms(&b, 0) == INT64_MAX);
}

KT_TEST(zone_key_matches_get_zone_key)
{
	char k[FB_ZONE_KEY_MAX], d[64];
	size_t n = fb_zone_key("eu", "eu-1a", k);
	KT_EQ_INT(n, 2 + 3 + 5);
	KT_CHECK(memcmp(k, "eu:\0:eu-1a", n) == 0);
	KT_EQ_STR(fb_zone_display(k, n, d, sizeof(d)), "eu/eu-1a");
	n = fb_zone_key(NULL, "zone-a", k);
	KT_CHECK(memcmp(k, ":\0:zone-a", n) == 0);
	KT_EQ_STR(fb_zone_display(k, n, d, sizeof(d)), "zone-a");
	KT_EQ_INT(fb_zone_key(NULL, NULL, k), 0);
	KT_EQ_STR(fb_zone_display(k, 0, d, sizeof(d)), "(no zone)");
}

struct changes {
	int count;
	fb_zone_state last_to;
};

static void on_change(void *ud, const fb_zone_change *c)
{
	struct changes *ch = ud;
	ch->count++;
	ch->last_to = c->to;
}

/* One pass with `ready` and `not_ready` nodes in zones "a" and "b". */
static void pass(fb_zones *z, int ra, int na, int rb, int nb, int64_t now, struct changes *ch)
{
	fb_zones_begin(z);
	for (int i = 0; i < ra; i++)
		fb_zones_count(z, "a", 1, true);
	for (int i = 0; i < na; i++)
		fb_zones_count(z, "a", 1, false);
	for (int i = 0; i < rb; i++)
		fb_zones_count(z, "b", 1, true);
	for (int i = 0; i < nb; i++)
		fb_zones_count(z, "b", 1, false);
	fb_zones_end(z, &rates, now, on_change, ch);
}

KT_TEST(new_zones_go_initial_to_normal_with_a_full_bucket)
{
	fb_zones z;
	struct changes ch = { 0 };
	fb_zones_init(&z);
	pass(&z, 3, 0, 3, 0, 0, &ch);
	KT_EQ_INT(z.n, 2);
	KT_EQ_INT(ch.count, 2);
	fb_zone *a = fb_zones_find(&z, "a", 1);
	KT_EQ_INT(a->state, FB_ZONE_NORMAL);
	KT_CHECK(fb_bucket_try(&a->bucket, 0));
	fb_zones_release(&z);
}

KT_TEST(one_zone_down_fails_over_at_normal_rate)
{
	/* upstream: "Network Disruption: One zone is down - eviction should take place" */
	fb_zones z;
	struct changes ch = { 0 };
	fb_zones_init(&z);
	pass(&z, 2, 0, 2, 0, 0, &ch);
	pass(&z, 0, 2, 2, 0, 1000, &ch);
	fb_zone *a = fb_zones_find(&z, "a", 1);
	KT_EQ_INT(a->state, FB_ZONE_FULL_DISRUPTION);
	KT_CHECK(!z.master_disruption);
	KT_CHECK(a->bucket.qps == 0.1);
	KT_CHECK(fb_bucket_try(&a->bucket, 1000));
	fb_zones_release(&z);
}

KT_TEST(all_zones_down_stops_everything_and_recovery_resets)
{
	/* upstream: "Network Disruption: Both zones down - eviction shouldn't take place" */
	fb_zones z;
	struct changes ch = { 0 };
	fb_zones_init(&z);
	pass(&z, 2, 0, 2, 0, 0, &ch);
	pass(&z, 0, 2, 0, 2, 1000, &ch);
	KT_CHECK(z.master_disruption);
	for (size_t i = 0; i < z.n; i++) {
		KT_EQ_INT(z.v[i].state, FB_ZONE_FULL_DISRUPTION);
		KT_CHECK(!fb_bucket_try(&z.v[i].bucket, 1000000));
	}
	/* staying down changes nothing */
	int before = ch.count;
	pass(&z, 0, 2, 0, 2, 2000, &ch);
	KT_EQ_INT(ch.count, before);
	KT_CHECK(z.master_disruption);
	/* one node back in b: leave master disruption, every limiter is reset */
	pass(&z, 0, 2, 1, 1, 3000, &ch);
	KT_CHECK(!z.master_disruption);
	fb_zone *a = fb_zones_find(&z, "a", 1);
	fb_zone *b = fb_zones_find(&z, "b", 1);
	KT_EQ_INT(a->state, FB_ZONE_FULL_DISRUPTION);
	KT_CHECK(a->bucket.qps == 0.1 && fb_bucket_try(&a->bucket, 3000));
	KT_EQ_INT(b->state, FB_ZONE_NORMAL);
	fb_zones_release(&z);
}

KT_TEST(only_zone_down_is_master_disruption)
{
	/* upstream: "Network Disruption: Only zone is down - eviction shouldn't take place" */
	fb_zones z;
	struct changes ch = { 0 };
	fb_zones_init(&z);
	pass(&z, 3, 0, 0, 0, 0, &ch);
	pass(&z, 0, 3, 0, 0, 1000, &ch);
	KT_CHECK(z.master_disruption);
	KT_CHECK(!fb_bucket_try(&z.v[0].bucket, 1000));
	fb_zones_release(&z);
}

KT_TEST(partial_disruption_small_zone_stops_large_zone_slows)
{
	fb_zones z;
	struct changes ch = { 0 };
	fb_zones_init(&z);
	pass(&z, 10, 0, 60, 0, 0, &ch);
	/* a: 6 of 10 not ready (small zone, rate 0); b: 40 of 60 (large zone, 0.01/s) */
	pass(&z, 4, 6, 20, 40, 1000, &ch);
	fb_zone *a = fb_zones_find(&z, "a", 1);
	fb_zone *b = fb_zones_find(&z, "b", 1);
	KT_EQ_INT(a->state, FB_ZONE_PARTIAL_DISRUPTION);
	KT_EQ_INT(b->state, FB_ZONE_PARTIAL_DISRUPTION);
	KT_CHECK(!fb_bucket_try(&a->bucket, 1000));
	KT_CHECK(fb_bucket_try(&b->bucket, 1000));
	KT_CHECK(!fb_bucket_try(&b->bucket, 99000));
	KT_CHECK(fb_bucket_try(&b->bucket, 101000)); /* one per 100 s */
	/* an unchanged state keeps its bucket (no reset, no refund) */
	pass(&z, 20, 40, 4, 6, 101500, &ch);
	KT_EQ_INT(b->state, FB_ZONE_PARTIAL_DISRUPTION);
	fb_zones_release(&z);
}

KT_TEST(vanished_zone_is_forgotten)
{
	fb_zones z;
	struct changes ch = { 0 };
	fb_zones_init(&z);
	pass(&z, 1, 0, 1, 0, 0, &ch);
	pass(&z, 1, 0, 0, 0, 1, &ch);
	KT_EQ_INT(z.n, 1);
	KT_CHECK(fb_zones_find(&z, "b", 1) == NULL);
	fb_zones_release(&z);
}

int main(void)
{
	rates = FB_RATES_DEFAULT;
	KT_RUN(compute_zone_state_matches_upstream);
	KT_RUN(zone_rates_follow_reduced_and_healthy_qps);
	KT_RUN(bucket_is_burst_one_then_rate);
	KT_RUN(zone_key_matches_get_zone_key);
	KT_RUN(new_zones_go_initial_to_normal_with_a_full_bucket);
	KT_RUN(one_zone_down_fails_over_at_normal_rate);
	KT_RUN(all_zones_down_stops_everything_and_recovery_resets);
	KT_RUN(only_zone_down_is_master_disruption);
	KT_RUN(partial_disruption_small_zone_stops_large_zone_slows);
	KT_RUN(vanished_zone_is_forgotten);
	return KT_DONE();
}
