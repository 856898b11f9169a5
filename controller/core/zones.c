/* zones.c - zone states and per-zone token buckets (see zones.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc/alloc.h"
#include "kc/array.h"
#include "zones.h"

const char *fb_zone_state_name(fb_zone_state s)
{
	switch (s) {
	case FB_ZONE_INITIAL: return "Initial";
	case FB_ZONE_NORMAL: return "Normal";
	case FB_ZONE_PARTIAL_DISRUPTION: return "PartialDisruption";
	case FB_ZONE_FULL_DISRUPTION: return "FullDisruption";
	}
	return "Unknown";
}

void fb_bucket_reset(fb_bucket *b, double qps, int64_t now_ms)
{
	b->qps = qps;
	b->tokens = 1.0;
	b->last_ms = now_ms;
}

static void bucket_refill(fb_bucket *b, int64_t now_ms)
{
	if (now_ms > b->last_ms && b->qps > 0) {
		b->tokens += (double)(now_ms - b->last_ms) / 1000.0 * b->qps;
		if (b->tokens > 1.0)
			b->tokens = 1.0;
	}
	if (now_ms > b->last_ms)
		b->last_ms = now_ms;
}

bool fb_bucket_try(fb_bucket *b, int64_t now_ms)
{
	if (b->qps <= 0)
		return false;
	bucket_refill(b, now_ms);
	/* A small epsilon: 10 s at 0.1/s must give a whole token despite rounding. */
	if (b->tokens + 1e-9 < 1.0)
		return false;
	b->tokens -= 1.0;
	if (b->tokens < 0)
		b->tokens = 0;
	return true;
}

int64_t fb_bucket_next_ms(const fb_bucket *b, int64_t now_ms)
{
	if (b->qps <= 0)
		return INT64_MAX;
	fb_bucket copy = *b;
	bucket_refill(&copy, now_ms);
	if (copy.tokens + 1e-9 >= 1.0)
		return now_ms;
	double wait_s = (1.0 - copy.tokens) / copy.qps;
	return now_ms + (int64_t)ceil(wait_s * 1000.0);
}

fb_zone_state fb_compute_zone_state(int ready, int not_ready, double threshold)
{
	if (ready == 0 && not_ready > 0)
		return FB_ZONE_FULL_DISRUPTION;
	/* upstream compares float32(notReady)/float32(total) >= threshold */
	if (not_ready > 2 && (float)not_ready / (float)(not_ready + ready) >= (float)threshold)
		return FB_ZONE_PARTIAL_DISRUPTION;
	return FB_ZONE_NORMAL;
}

double fb_zone_qps(fb_zone_state s, int zone_size, const fb_rates *r)
{
	switch (s) {
	case FB_ZONE_NORMAL:
	case FB_ZONE_FULL_DISRUPTION:
		return r->normal;
	case FB_ZONE_PARTIAL_DISRUPTION:
		return zone_size > r->large_cluster_threshold ? r->secondary : 0;
	case FB_ZONE_INITIAL:
		break;
	}
	return r->normal;
}

size_t fb_zone_key(const char *region, const char *zone, char out[FB_ZONE_KEY_MAX])
{
	region = region ? region : "";
	zone = zone ? zone : "";
	if (!*region && !*zone) {
		out[0] = '\0';
		return 0;
	}
	size_t rl = strlen(region), zl = strlen(zone);
	/* keep both parts; truncate absurdly long labels (max label value is 63) */
	if (rl > 120)
		rl = 120;
	if (zl > 120)
		zl = 120;
	memcpy(out, region, rl);
	memcpy(out + rl, ":\0:", 3);
	memcpy(out + rl + 3, zone, zl);
	out[rl + 3 + zl] = '\0';
	return rl + 3 + zl;
}

const char *fb_zone_display(const char *key, size_t key_len, char *buf, size_t cap)
{
	if (key_len == 0) {
		snprintf(buf, cap, "(no zone)");
		return buf;
	}
	const char *sep = memchr(key, '\0', key_len);
	if (!sep || sep - key < 1 || (size_t)(sep - key) + 2 > key_len) {
		snprintf(buf, cap, "%.*s", (int)key_len, key);
		return buf;
	}
	int rl = (int)(sep - key - 1);
	const char *zone = sep + 2;
	if (rl == 0) {
		snprintf(buf, cap, "%.*s", (int)(key + key_len - zone), zone);
		return buf;
	}
	snprintf(buf, cap, "%.*s/%.*s", rl, key, (int)(key + key_len - zone), zone);
	return buf;
}

void fb_zones_init(fb_zones *z)
{
	memset(z, 0, sizeof(*z));
}

void fb_zones_release(fb_zones *z)
{
	kc_free(z->v);
	memset(z, 0, sizeof(*z));
}

fb_zone *fb_zones_find(fb_zones *z, const char *key, size_t key_len)
{
	for (size_t i = 0; i < z->n; i++)
		if (z->v[i].key_len == key_len && memcmp(z->v[i].key, key, key_len) == 0)
			return &z->v[i];
	return NULL;
}

void fb_zones_begin(fb_zones *z)
{
	for (size_t i = 0; i < z->n; i++) {
		z->v[i].ready = 0;
		z->v[i].not_ready = 0;
		z->v[i].seen = false;
	}
}

int fb_zones_count(fb_zones *z, const char *key, size_t key_len, bool ready)
{
	if (key_len >= FB_ZONE_KEY_MAX)
		key_len = FB_ZONE_KEY_MAX - 1;
	fb_zone *zone = fb_zones_find(z, key, key_len);
	if (!zone) {
		if (KC_ARRAY_RESERVE(z->v, z->cap, z->n + 1) != 0)
			return -1;
		zone = &z->v[z->n++];
		memset(zone, 0, sizeof(*zone));
		memcpy(zone->key, key, key_len);
		zone->key_len = key_len;
		zone->state = FB_ZONE_INITIAL;
	}
	zone->seen = true;
	if (ready)
		zone->ready++;
	else
		zone->not_ready++;
	return 0;
}

static void set_state(fb_zone *zone, fb_zone_state to, const fb_rates *r, int64_t now_ms,
                      void (*on_change)(void *, const fb_zone_change *), void *ud)
{
	fb_zone_state from = zone->state;
	fb_bucket_reset(&zone->bucket, fb_zone_qps(to, zone->ready + zone->not_ready, r), now_ms);
	zone->state = to;
	if (on_change && from != to) {
		fb_zone_change c = { zone, from, to };
		on_change(ud, &c);
	}
}

void fb_zones_end(fb_zones *z, const fb_rates *r, int64_t now_ms,
                  void (*on_change)(void *ud, const fb_zone_change *c), void *ud)
{
	/* Forget zones with no node left (upstream deletes them from zoneStates). */
	size_t w = 0;
	for (size_t i = 0; i < z->n; i++)
		if (z->v[i].seen)
			z->v[w++] = z->v[i];
	z->n = w;

	bool all_are_full = true, all_were_full = true;
	for (size_t i = 0; i < z->n; i++) {
		fb_zone *zone = &z->v[i];
		if (fb_compute_zone_state(zone->ready, zone->not_ready, r->unhealthy_threshold) !=
		    FB_ZONE_FULL_DISRUPTION)
			all_are_full = false;
		if (zone->state != FB_ZONE_FULL_DISRUPTION)
			all_were_full = false;
	}
	if (z->n == 0)
		all_are_full = all_were_full = false;

	if (all_are_full && all_were_full)
		return; /* still in master disruption mode: nothing changes */
	if (all_are_full) {
		/* Entering master disruption mode: stop every eviction. */
		for (size_t i = 0; i < z->n; i++) {
			fb_zone *zone = &z->v[i];
			fb_zone_state from = zone->state;
			fb_bucket_reset(&zone->bucket, 0, now_ms);
			zone->state = FB_ZONE_FULL_DISRUPTION;
			if (on_change && from != zone->state) {
				fb_zone_change c = { zone, from, zone->state };
				on_change(ud, &c);
			}
		}
		z->master_disruption = true;
		return;
	}
	bool leaving = z->master_disruption;
	z->master_disruption = false;
	for (size_t i = 0; i < z->n; i++) {
		fb_zone *zone = &z->v[i];
		fb_zone_state to =
			fb_compute_zone_state(zone->ready, zone->not_ready, r->unhealthy_threshold);
		/* Leaving master disruption mode resets every limiter (upstream). */
		if (leaving || zone->state != to)
			set_state(zone, to, r, now_ms, on_change, ud);
	}
}
