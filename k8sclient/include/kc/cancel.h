/*
 * kc/cancel.h - a cancellation token.
 *
 * Every blocking call (HTTP requests, watches, rate-limiter waits, backoff
 * sleeps, leader election) takes an optional kc_cancel. Firing it from any
 * thread makes those calls return KC_ERR_CANCELED promptly (within about a
 * second for an HTTP transfer, at once for sleeps) without leaking anything.
 */
#ifndef KC_CANCEL_H
#define KC_CANCEL_H

#include <stdbool.h>
#include <stdint.h>

#include "kc/error.h"

typedef struct kc_cancel kc_cancel;

/* KC_ERR_NOMEM on failure, *out untouched. */
kc_err kc_cancel_new(kc_cancel **out);
/* Accepts NULL. No call may still be waiting on it. */
void kc_cancel_free(kc_cancel *c);
/* Thread-safe and idempotent; wakes every kc_cancel_sleep on it. */
void kc_cancel_fire(kc_cancel *c);
/* false for c == NULL. */
bool kc_cancel_fired(const kc_cancel *c);
/*
 * Sleep up to ms milliseconds. Returns true if c fired (before or during the
 * sleep), false after a full sleep. c may be NULL (a plain sleep).
 */
bool kc_cancel_sleep(kc_cancel *c, int64_t ms);

#endif
