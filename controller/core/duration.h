/*
 * duration.h - Go duration strings ("90s", "1h30m", "1.5h", "300ms"), as
 * metav1.Duration accepts them (time.ParseDuration), to milliseconds.
 */
#ifndef FB_DURATION_H
#define FB_DURATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* false on anything time.ParseDuration would refuse, or on overflow; *ms untouched. */
bool fb_duration_parse(const char *s, int64_t *ms);
/* "1h30m0s"-like short form: "1h30m", "45s", "250ms", "0s". */
const char *fb_duration_format(int64_t ms, char *buf, size_t cap);

#endif
