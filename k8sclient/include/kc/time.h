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

/* "2006-01-02T15:04:05.000000Z" needs 28 bytes with the NUL (years 0-9999). */
#define KC_TIME_STR_MAX 32
/*
 * The one time formatter: RFC 3339 in UTC with exactly frac_digits fractional
 * digits (0: "2006-01-02T15:04:05Z", 3: "...05.123Z", 6: "...05.123456Z";
 * values outside 0..6 are clamped). The fraction is truncated, never rounded,
 * so a time never prints as a later second. Times before the epoch are
 * proleptic Gregorian, the fraction counted forward from the second below
 * (-1 us is "1969-12-31T23:59:59.999999Z"). Cannot fail; returns buf.
 */
char *kc_time_format_frac(int64_t wall_us, int frac_digits, char buf[KC_TIME_STR_MAX]);
/* metav1.Time: kc_time_format_frac(wall_us, 0, buf). */
char *kc_time_format(int64_t wall_us, char buf[KC_TIME_STR_MAX]);
/* metav1.MicroTime: kc_time_format_frac(wall_us, 6, buf). */
char *kc_microtime_format(int64_t wall_us, char buf[KC_TIME_STR_MAX]);
/*
 * Parse RFC 3339 (any fraction length, 'Z' or +hh:mm offset) into wall-clock
 * microseconds. KC_ERR_PARSE on anything else; *out untouched then.
 */
kc_err kc_time_parse(const char *s, int64_t *out);

/* A uniformly random double in [0,1) from a thread-safe source. */
double kc_rand01(void);

#endif
