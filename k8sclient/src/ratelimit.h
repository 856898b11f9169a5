/*
 * ratelimit.h - the client-side token bucket (kc__ prefix: shared by the
 * client's own files and its tests, not part of the public API).
 *
 * Semantics of client-go's flowcontrol.NewTokenBucketRateLimiter, which wraps
 * golang.org/x/time/rate.Limiter: the bucket holds at most `burst` tokens,
 * starts full, and refills at `qps` tokens per second. Wait takes a token at
 * once if there is one; otherwise it reserves the next one (the count goes
 * negative, so waiters queue in order) and sleeps until it is due. A wait
 * that is cancelled gives its reservation back, as rate.Reservation.CancelAt
 * does, so a cancelled caller does not slow down the others.
 *
 * The clock is injectable so the tests can drive it without sleeping.
 * Thread-safe: any number of threads may wait on one limiter.
 */
#ifndef KC_RATELIMIT_H
#define KC_RATELIMIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "kc/cancel.h"
#include "kc/error.h"

typedef struct kc__clock {
	/* Monotonic time in microseconds. */
	int64_t (*now_us)(void *ud);
	/* Sleep `us` microseconds unless cancel fires first; true if it fired
	 * (before or during the sleep). cancel may be NULL. */
	bool (*sleep_us)(void *ud, kc_cancel *cancel, int64_t us);
	void *ud;
} kc__clock;

/* CLOCK_MONOTONIC and kc_cancel_sleep. */
kc__clock kc__clock_real(void);

typedef struct kc__ratelimit {
	pthread_mutex_t mu;
	double qps;
	int burst;
	double tokens;         /* may be negative: reserved by waiters */
	int64_t last_us;       /* when tokens was last brought up to date */
	int64_t last_event_us; /* when the latest reservation is due */
	kc__clock clock;
} kc__ratelimit;

/*
 * qps > 0 and burst >= 1 (KC_ERR_INVALID otherwise). clock NULL = the real
 * clock; the clock struct is copied. The bucket starts full.
 */
kc_err kc__ratelimit_init(kc__ratelimit *rl, double qps, int burst, const kc__clock *clock);
void kc__ratelimit_release(kc__ratelimit *rl);

/* Take a token if one is available now (client-go's TryAccept). */
bool kc__ratelimit_try_accept(kc__ratelimit *rl);

/*
 * Block until a token is ours (client-go's Wait). KC_OK, or KC_ERR_CANCELED
 * if cancel fired before or during the wait (the reservation is returned).
 */
kc_err kc__ratelimit_wait(kc__ratelimit *rl, kc_cancel *cancel);

#endif
