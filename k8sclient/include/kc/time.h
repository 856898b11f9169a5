/*
 * kc/time.h - clocks and Kubernetes time formats.
 *
 * Monotonic milliseconds for every timeout and expiry judgement (leader
 * election judges lease expiry on local observation time, as client-go does);
 * wall-clock microseconds only for what goes into API objects.
 */
#ifndef KC_TIME_H
#define KC_TIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kc/error.h"

/* CLOCK_MONOTONIC in milliseconds. Cannot fail. */
int64_t kc_now_mono_ms(void);
/* CLOCK_MONOTONIC in microseconds (latency measurements). Cannot fail. */
int64_t kc_now_mono_us(void);
/* CLOCK_REALTIME in microseconds since the Unix epoch. Cannot fail. */
int64_t kc_now_wall_us(void);

/* "2006-01-02T15:04:05Z" (metav1.Time) needs 21 bytes with the NUL. */
#define KC_TIME_STR_MAX 32
/* metav1.Time: RFC 3339, seconds precision, UTC. Returns buf. */
char *kc_time_format(int64_t wall_us, char buf[KC_TIME_STR_MAX]);
/* metav1.MicroTime: RFC 3339 with exactly 6 fractional digits, UTC. */
char *kc_microtime_format(int64_t wall_us, char buf[KC_TIME_STR_MAX]);
/* RFC 3339 in UTC with 0, 3 or 6 digits of fraction (truncated). */
char *kc_time_format_frac(int64_t wall_us, int frac_digits, char buf[KC_TIME_STR_MAX]);
/*
 * Parse RFC 3339 (any fraction length, 'Z' or +hh:mm offset) into wall-clock
 * microseconds. KC_ERR_PARSE on anything else; *out untouched then.
 */
kc_err kc_time_parse(const char *s, int64_t *out);

/* A uniformly random double in [0,1) from a thread-safe source. */
double kc_rand01(void);

#endif
