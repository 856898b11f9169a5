/*
 * log.h - firebreak's structured logs, on stderr.
 *
 *   fb_log(FB_INFO, "informers synced", "nodes=%d pods=%d", n, p);
 *
 * Fields are written by the caller in logfmt (key=value, values with spaces
 * quoted with fb_log_quote). The text format prints them as they are:
 *   ts=2026-11-23T01:59:53.123456Z level=info msg="informers synced" nodes=6 pods=12
 * The json format turns the same fields into one JSON object per line.
 * Never log a secret: tokens, keys and certificates do not go into fields.
 * Thread-safe: one line is written with one write(2).
 */
#ifndef FB_LOG_H
#define FB_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include "kc/error.h"

typedef enum fb_log_level { FB_DEBUG, FB_INFO, FB_WARN, FB_ERROR } fb_log_level;
typedef enum fb_log_format { FB_LOG_TEXT, FB_LOG_JSON } fb_log_format;

void fb_log_setup(fb_log_level min, fb_log_format format);
/* "debug" | "info" | "warn" | "error"; false if unknown. */
bool fb_log_parse_level(const char *s, fb_log_level *out);
bool fb_log_parse_format(const char *s, fb_log_format *out);
bool fb_log_enabled(fb_log_level level);

void fb_log(fb_log_level level, const char *msg, const char *fields_fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * An API call that failed: fb_log with the caller's fields, then
 * err=<kc_strerror(err)> detail=<detail>, both quoted with fb_log_quote (the
 * detail cut to about 300 characters). detail is what the callee said, usually
 * a kc_error_detail's message (or a reflector's last_err_message); NULL or ""
 * logs detail="". fields_fmt may be NULL.
 */
void fb_log_api_error(fb_log_level level, const char *msg, kc_err err, const char *detail,
                      const char *fields_fmt, ...) __attribute__((format(printf, 5, 6)));

/*
 * Quote a value for a logfmt field when it needs it (spaces, quotes, '=',
 * control characters). Returns buf, always NUL-terminated, truncated to cap.
 */
const char *fb_log_quote(const char *value, char *buf, size_t cap);

#endif
