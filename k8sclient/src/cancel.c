/* cancel.c - cancellation tokens (see kc/cancel.h). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "kc/alloc.h"
#include "kc/cancel.h"

struct kc_cancel {
	atomic_bool fired;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* on CLOCK_MONOTONIC */
};

kc_err kc_cancel_new(kc_cancel **out)
{
	kc_cancel *c = kc_calloc(1, sizeof(*c));
	if (!c)
		return KC_ERR_NOMEM;
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, &attr);
	pthread_condattr_destroy(&attr);
	atomic_init(&c->fired, false);
	*out = c;
	return KC_OK;
}

void kc_cancel_free(kc_cancel *c)
{
	if (!c)
		return;
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	kc_free(c);
}

void kc_cancel_fire(kc_cancel *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	atomic_store(&c->fired, true);
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

bool kc_cancel_fired(const kc_cancel *c)
{
	return c && atomic_load(&((kc_cancel *)c)->fired);
}

bool kc_cancel_sleep(kc_cancel *c, int64_t ms)
{
	if (ms < 0)
		ms = 0;
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	if (!c) {
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
			;
		return false;
	}
	pthread_mutex_lock(&c->lock);
	while (!atomic_load(&c->fired)) {
		if (pthread_cond_timedwait(&c->cond, &c->lock, &until) == ETIMEDOUT)
			break;
	}
	bool fired = atomic_load(&c->fired);
	pthread_mutex_unlock(&c->lock);
	return fired;
}
