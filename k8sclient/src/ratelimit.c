/*
 * ratelimit.c - token bucket (see ratelimit.h). The arithmetic follows
 * golang.org/x/time/rate (Limiter.advance, reserveN, Reservation.CancelAt),
 * which is what client-go's flowcontrol.tokenBucketRateLimiter uses.
 */
#include <time.h>

#include "ratelimit.h"

static int64_t real_now_us(void *ud)
{
	(void)ud;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static bool real_sleep_us(void *ud, kc_cancel *cancel, int64_t us)
{
	(void)ud;
	/* round up: waking early would find the token not yet due */
	return kc_cancel_sleep(cancel, (us + 999) / 1000);
}

kc__clock kc__clock_real(void)
{
	return (kc__clock){ .now_us = real_now_us, .sleep_us = real_sleep_us, .ud = NULL };
}

kc_err kc__ratelimit_init(kc__ratelimit *rl, double qps, int burst, const kc__clock *clock)
{
	if (!rl || !(qps > 0) || burst < 1)
		return KC_ERR_INVALID;
	if (pthread_mutex_init(&rl->mu, NULL) != 0)
		return KC_ERR_NOMEM;
	rl->qps = qps;
	rl->burst = burst;
	rl->tokens = burst;
	rl->clock = clock ? *clock : kc__clock_real();
	rl->last_us = rl->clock.now_us(rl->clock.ud);
	rl->last_event_us = rl->last_us;
	return KC_OK;
}

void kc__ratelimit_release(kc__ratelimit *rl)
{
	if (rl)
		pthread_mutex_destroy(&rl->mu);
}

/* Tokens the bucket holds at `now` (Limiter.advance); does not store them. */
static double advance(const kc__ratelimit *rl, int64_t *now)
{
	int64_t last = rl->last_us;
	if (*now < last)
		last = *now;
	double tokens = rl->tokens + (double)(*now - last) * rl->qps / 1e6;
	return tokens > rl->burst ? rl->burst : tokens;
}

bool kc__ratelimit_try_accept(kc__ratelimit *rl)
{
	pthread_mutex_lock(&rl->mu);
	int64_t now = rl->clock.now_us(rl->clock.ud);
	double tokens = advance(rl, &now);
	bool ok = tokens >= 1;
	if (ok) {
		rl->tokens = tokens - 1;
		rl->last_us = now;
		rl->last_event_us = now;
	}
	pthread_mutex_unlock(&rl->mu);
	return ok;
}

/* Give back a reservation of one token due at act_us (Reservation.CancelAt). */
static void cancel_reservation(kc__ratelimit *rl, int64_t act_us)
{
	pthread_mutex_lock(&rl->mu);
	/* tokens reserved after ours stay reserved */
	double restore = 1.0 - (double)(rl->last_event_us - act_us) * rl->qps / 1e6;
	if (restore > 0) {
		int64_t now = rl->clock.now_us(rl->clock.ud);
		double tokens = advance(rl, &now) + restore;
		rl->tokens = tokens > rl->burst ? rl->burst : tokens;
		rl->last_us = now;
		if (act_us == rl->last_event_us) {
			int64_t prev = act_us - (int64_t)(1e6 / rl->qps);
			if (prev >= now)
				rl->last_event_us = prev;
		}
	}
	pthread_mutex_unlock(&rl->mu);
}

kc_err kc__ratelimit_wait(kc__ratelimit *rl, kc_cancel *cancel)
{
	if (kc_cancel_fired(cancel))
		return KC_ERR_CANCELED;
	pthread_mutex_lock(&rl->mu);
	int64_t now = rl->clock.now_us(rl->clock.ud);
	double tokens = advance(rl, &now) - 1;
	int64_t wait_us = 0;
	if (tokens < 0)
		wait_us = (int64_t)(-tokens * 1e6 / rl->qps + 0.5);
	rl->tokens = tokens;
	rl->last_us = now;
	int64_t act_us = now + wait_us;
	rl->last_event_us = act_us;
	pthread_mutex_unlock(&rl->mu);

	if (wait_us <= 0)
		return KC_OK;
	if (rl->clock.sleep_us(rl->clock.ud, cancel, wait_us)) {
		cancel_reservation(rl, act_us);
		return KC_ERR_CANCELED;
	}
	return KC_OK;
}
