/* log.c - structured logs (see log.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kc/time.h"
#include "log.h"

#define LOG_LINE_MAX 8192
#define LOG_FIELDS_MAX (LOG_LINE_MAX / 2)

static fb_log_level min_level = FB_INFO;
static fb_log_format log_format = FB_LOG_TEXT;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void fb_log_setup(fb_log_level min, fb_log_format format)
{
	min_level = min;
	log_format = format;
}

bool fb_log_parse_level(const char *s, fb_log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (fb_log_level)i;
			return true;
		}
	}
	return false;
}

bool fb_log_parse_format(const char *s, fb_log_format *out)
{
	if (strcmp(s, "text") == 0 || strcmp(s, "logfmt") == 0)
		*out = FB_LOG_TEXT;
	else if (strcmp(s, "json") == 0)
		*out = FB_LOG_JSON;
	else
		return false;
	return true;
}

bool fb_log_enabled(fb_log_level level)
{
	return level >= min_level;
}

const char *fb_log_quote(const char *value, char *buf, size_t cap)
{
	bool needs = value[0] == '\0';
	for (const char *p = value; *p && !needs; p++)
		needs = *p == ' ' || *p == '"' || *p == '=' || (unsigned char)*p < 0x20;
	size_t j = 0;
	if (!needs) {
		snprintf(buf, cap, "%s", value);
		return buf;
	}
	if (cap < 3) {
		buf[0] = '\0';
		return buf;
	}
	buf[j++] = '"';
	for (const char *p = value; *p && j + 3 < cap; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\') {
			buf[j++] = '\\';
			buf[j++] = (char)c;
		} else if (c < 0x20) {
			buf[j++] = ' ';
		} else {
			buf[j++] = (char)c;
		}
	}
	buf[j++] = '"';
	buf[j] = '\0';
	return buf;
}

/*
 * Append s to line at *len as a JSON string body (no quotes). Stops 80 bytes
 * short of the end, so the fixed punctuation around it always fits.
 */
static void json_escape(char *line, size_t *len, const char *s, size_t n)
{
	for (size_t i = 0; i < n && *len + 80 < LOG_LINE_MAX; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			line[(*len)++] = '\\';
			line[(*len)++] = (char)c;
		} else if (c < 0x20) {
			*len += (size_t)snprintf(line + *len, LOG_LINE_MAX - *len, "\\u%04x", c);
		} else {
			line[(*len)++] = (char)c;
		}
	}
}

/* Turn logfmt fields into ,"k":"v" pairs. Values stay strings. */
static void fields_to_json(char *line, size_t *len, const char *f)
{
	while (*f && *len + 80 < LOG_LINE_MAX) {
		while (*f == ' ')
			f++;
		const char *eq = strchr(f, '=');
		if (!*f || !eq)
			break;
		line[(*len)++] = ',';
		line[(*len)++] = '"';
		json_escape(line, len, f, (size_t)(eq - f));
		line[(*len)++] = '"';
		line[(*len)++] = ':';
		line[(*len)++] = '"';
		const char *v = eq + 1, *end;
		if (*v == '"') {
			v++;
			end = v;
			while (*end && *end != '"') {
				if (*end == '\\' && end[1])
					end++;
				end++;
			}
			/* unescape \" and \\ as we copy */
			for (const char *p = v; p < end && *len + 80 < LOG_LINE_MAX; p++) {
				if (*p == '\\' && p + 1 < end)
					p++;
				json_escape(line, len, p, 1);
			}
			f = *end ? end + 1 : end;
		} else {
			end = strchr(v, ' ');
			if (!end)
				end = v + strlen(v);
			json_escape(line, len, v, (size_t)(end - v));
			f = end;
		}
		line[(*len)++] = '"';
	}
}

/* The caller's logfmt fields into buf; "" without a format. */
static void format_fields(char *buf, size_t cap, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void format_fields(char *buf, size_t cap, const char *fmt, va_list ap)
{
	buf[0] = '\0';
	if (fmt)
		vsnprintf(buf, cap, fmt, ap);
}

/* Write one line: msg and the fields already formatted. */
static void emit(fb_log_level level, const char *msg, const char *fields)
{
	char ts[KC_TIME_STR_MAX];
	kc_time_format_frac(kc_now_wall_us(), 6, ts);
	char line[LOG_LINE_MAX];
	size_t len = 0;
	if (log_format == FB_LOG_JSON) {
		len = (size_t)snprintf(line, sizeof(line), "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"",
		                       ts, level_names[level]);
		json_escape(line, &len, msg, strlen(msg));
		line[len++] = '"';
		fields_to_json(line, &len, fields);
		line[len++] = '}';
	} else {
		char quoted[1024];
		fb_log_quote(msg, quoted, sizeof(quoted));
		if (quoted[0] != '"') { /* always quote msg, as klog's structured text does */
			snprintf(quoted, sizeof(quoted), "\"%s\"", msg);
		}
		int n = snprintf(line, sizeof(line), "ts=%s level=%s msg=%s%s%s", ts,
		                 level_names[level], quoted, fields[0] ? " " : "", fields);
		len = n < 0 ? 0 : (size_t)n < sizeof(line) - 1 ? (size_t)n : sizeof(line) - 2;
	}
	line[len++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
}

void fb_log(fb_log_level level, const char *msg, const char *fields_fmt, ...)
{
	if (level < min_level)
		return;
	char fields[LOG_FIELDS_MAX];
	va_list ap;
	va_start(ap, fields_fmt);
	format_fields(fields, sizeof(fields), fields_fmt, ap);
	va_end(ap);
	emit(level, msg, fields);
}

/* Room for a detail of about 300 characters once quoted. */
#define LOG_DETAIL_MAX 320

void fb_log_api_error(fb_log_level level, const char *msg, kc_err err, const char *detail,
                      const char *fields_fmt, ...)
{
	if (level < min_level)
		return;
	char fields[LOG_FIELDS_MAX];
	va_list ap;
	va_start(ap, fields_fmt);
	format_fields(fields, sizeof(fields), fields_fmt, ap);
	va_end(ap);
	char qerr[128], qdetail[LOG_DETAIL_MAX];
	size_t n = strlen(fields);
	snprintf(fields + n, sizeof(fields) - n, "%serr=%s detail=%s", n ? " " : "",
	         fb_log_quote(kc_strerror(err), qerr, sizeof(qerr)),
	         fb_log_quote(detail ? detail : "", qdetail, sizeof(qdetail)));
	emit(level, msg, fields);
}
