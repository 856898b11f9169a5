/*
 * The client-side token bucket (checklist item 18), driven by a fake clock:
 * burst first, then qps spacing; refill capped at burst; cancelled waits
 * return at once and give their token back.
 */
#include <pthread.h>
#include <stdlib.h>

#include "kc/cancel.h"
#include "kc/time.h"
#include "kctest.h"
#include "ratelimit.h"

typedef struct fake_clock {
	int64_t now_us;
	int64_t slept_us;         /* total */
	int64_t last_sleep_us;    /* the latest sleep request */
	int sleeps;
	int64_t fire_after_us;    /* > 0: fire `cancel` this far into the next sleep */
	kc_cancel *cancel;
} fake_clock;

static int64_t fake_now(void *ud)
{
	return ((fake_clock *)ud)->now_us;
}

static bool fake_sleep(void *ud, kc_cancel *cancel, int64_t us)
{
	fake_clock *f = ud;
	f->sleeps++;
	f->last_sleep_us = us;
	if (kc_cancel_fired(cancel))
		return true;
	if (f->fire_after_us > 0 && f->fire_after_us < us) {
		f->now_us += f->fire_after_us;
		f->slept_us += f->fire_after_us;
		f->fire_after_us = 0;
		kc_cancel_fire(f->cancel);
		return true;
	}
	f->now_us += us;
	f->slept_us += us;
	return false;
}

static kc__clock make_clock(fake_clock *f)
{
	return (kc__clock){ .now_us = fake_now, .sleep_us = fake_sleep, .ud = f };
}

KT_TEST(rejects_bad_parameters)
{
	kc__ratelimit rl;
	KT_EQ_INT(kc__ratelimit_init(&rl, 0, 1, NULL), KC_ERR_INVALID);
	KT_EQ_INT(kc__ratelimit_init(&rl, -1, 1, NULL), KC_ERR_INVALID);
	KT_EQ_INT(kc__ratelimit_init(&rl, 5, 0, NULL), KC_ERR_INVALID);
}

KT_TEST(burst_then_qps_spacing)
{
	fake_clock f = { .now_us = 1000000 };
	kc__clock clk = make_clock(&f);
	kc__ratelimit rl;
	KT_EQ_INT(kc__ratelimit_init(&rl, 10, 3, &clk), KC_OK);
	for (int i = 0; i < 3; i++)
		KT_EQ_INT(kc__ratelimit_wait(&rl, NULL), KC_OK);
	KT_EQ_INT(f.sleeps, 0); /* the bucket starts full */
	KT_EQ_INT(kc__ratelimit_wait(&rl, NULL), KC_OK);
	KT_EQ_INT(f.sleeps, 1);
	KT_EQ_INT(f.last_sleep_us, 100000); /* 1/qps */
	KT_EQ_INT(kc__ratelimit_wait(&rl, NULL), KC_OK);
	KT_EQ_INT(f.last_sleep_us, 100000);
	KT_EQ_INT(f.slept_us, 200000);
	/* half a period later the next token is half due */
	f.now_us += 50000;
	KT_EQ_INT(kc__ratelimit_wait(&rl, NULL), KC_OK);
	KT_EQ_INT(f.last_sleep_us, 50000);
	kc__ratelimit_release(&rl);
}

KT_TEST(refill_is_capped_at_burst)
{
	fake_clock f = { .now_us = 0 };
	kc__clock clk = make_clock(&f);
	kc__ratelimit rl;
	KT_EQ_INT(kc__ratelimit_init(&rl, 5, 2, &clk), KC_OK);
	KT_CHECK(kc__ratelimit_try_accept(&rl));
	KT_CHECK(kc__ratelimit_try_accept(&rl));
	KT_CHECK(!kc__ratelimit_try_accept(&rl));
	f.now_us += 199000;
	KT_CHECK(!kc__ratelimit_try_accept(&rl)); /* 0.995 of a token */
	f.now_us += 1000;
	KT_CHECK(kc__ratelimit_try_accept(&rl));
	f.now_us += 3600 * 1000000LL; /* an hour idle still means only `burst` */
	KT_CHECK(kc__ratelimit_try_accept(&rl));
	KT_CHECK(kc__ratelimit_try_accept(&rl));
	KT_CHECK(!kc__ratelimit_try_accept(&rl));
	/* waiters queue: two waits in a row without time passing reserve two periods */
	kc__ratelimit_release(&rl);
}

KT_TEST(queued_reservations_are_spaced)
{
	fake_clock f = { .now_us = 0 };
	kc__clock clk = make_clock(&f);
	kc__ratelimit rl;
	KT_EQ_INT(kc__ratelimit_init(&rl, 4, 1, &clk), KC_OK);
	KT_EQ_INT(kc__ratelimit_wait(&rl, NULL), KC_OK);
	for (int i = 0; i < 8; i++)
		KT_EQ_INT(kc__ratelimit_wait(&rl, NULL), KC_OK);
	KT_EQ_INT(f.slept_us, 8 * 250000);
	kc__ratelimit_release(&rl);
}

KT_TEST(cancelled_wait_returns_and_gives_token_back)
{
	fake_clock f = { .now_us = 0 };
	kc__clock clk = make_clock(&f);
	kc__ratelimit rl;
	KT_EQ_INT(kc__ratelimit_init(&rl, 1, 1, &clk), KC_OK);
	kc_cancel *c = NULL;
	KT_EQ_INT(kc_cancel_new(&c), KC_OK);
	f.cancel = c;
	KT_EQ_INT(kc__ratelimit_wait(&rl, c), KC_OK);
	/* the next token is due in 1 s; cancel 200 ms into the wait */
	f.fire_after_us = 200000;
	KT_EQ_INT(kc__ratelimit_wait(&rl, c), KC_ERR_CANCELED);
	KT_EQ_INT(f.now_us, 200000);
	/* already fired: no token taken, no sleep */
	int sleeps = f.sleeps;
	KT_EQ_INT(kc__ratelimit_wait(&rl, c), KC_ERR_CANCELED);
	KT_EQ_INT(f.sleeps, sleeps);
	/* the cancelled reservation was returned: the next wait is 800 ms, not 1.8 s */
	KT_EQ_INT(kc__ratelimit_wait(&rl, NULL), KC_OK);
	KT_EQ_INT(f.last_sleep_us, 800000);
	kc_cancel_free(c);
	kc__ratelimit_release(&rl);
}

static void *fire_later(void *arg)
{
	kc_cancel_sleep(NULL, 50);
	kc_cancel_fire(arg);
	return NULL;
}

KT_TEST(real_clock_wait_cancelled_from_another_thread)
{
	kc__ratelimit rl;
	KT_EQ_INT(kc__ratelimit_init(&rl, 0.2, 1, NULL), KC_OK); /* one token per 5 s */
	kc_cancel *c = NULL;
	KT_EQ_INT(kc_cancel_new(&c), KC_OK);
	KT_EQ_INT(kc__ratelimit_wait(&rl, c), KC_OK);
	pthread_t t;
	pthread_create(&t, NULL, fire_later, c);
	int64_t t0 = kc_now_mono_ms();
	KT_EQ_INT(kc__ratelimit_wait(&rl, c), KC_ERR_CANCELED);
	int64_t took = kc_now_mono_ms() - t0;
	KT_CHECK(took >= 40 && took < 1000);
	pthread_join(t, NULL);
	kc_cancel_free(c);
	kc__ratelimit_release(&rl);
}

typedef struct waiter_arg {
	kc__ratelimit *rl;
	int n;
} waiter_arg;

static void *waiter(void *p)
{
	waiter_arg *a = p;
	for (int i = 0; i < a->n; i++)
		kc__ratelimit_wait(a->rl, NULL);
	return NULL;
}

KT_TEST(real_clock_threads_share_the_rate)
{
	kc__ratelimit rl;
	KT_EQ_INT(kc__ratelimit_init(&rl, 100, 1, NULL), KC_OK);
	pthread_t t[4];
	waiter_arg a = { &rl, 5 };
	int64_t t0 = kc_now_mono_ms();
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, waiter, &a);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	int64_t took = kc_now_mono_ms() - t0;
	/* 20 tokens at 100/s with burst 1: at least 19 periods of 10 ms */
	KT_CHECK(took >= 185);
	KT_CHECK(took < 2000);
	kc__ratelimit_release(&rl);
}

int main(void)
{
	KT_RUN(rejects_bad_parameters);
	KT_RUN(burst_then_qps_spacing);
	KT_RUN(refill_is_capped_at_burst);
	KT_RUN(queued_reservations_are_spaced);
	KT_RUN(cancelled_wait_returns_and_gives_token_back);
	KT_RUN(real_clock_wait_cancelled_from_another_thread);
	KT_RUN(real_clock_threads_share_the_rate);
	return KT_DONE();
}
