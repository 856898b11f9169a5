/*
 * status.c - metav1.Status decoding. Non-2xx answers and watch ERROR events
 * carry a Status; it is reported to the caller, never parsed as success.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

const char *kc__json_str(const cJSON *obj, const char *name)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
	return cJSON_IsString(it) ? it->valuestring : NULL;
}

/* Copy s into dst, replacing control characters, always NUL-terminated. */
static void copy_printable(char *dst, size_t cap, const char *s, size_t len)
{
	size_t j = 0;
	for (size_t i = 0; i < len && j + 1 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		dst[j++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	dst[j] = '\0';
}

/* An HTTP status code, checked before any conversion (the input is hostile). */
static bool status_code_ok(const cJSON *code)
{
	return cJSON_IsNumber(code) && code->valuedouble >= 100 && code->valuedouble < 1000;
}

kc_err kc__status_from_json(const cJSON *obj, kc_error_detail *d)
{
	const char *kind = kc__json_str(obj, "kind");
	if (!cJSON_IsObject(obj) || !kind || strcmp(kind, "Status") != 0)
		return KC_ERR_HTTP;
	const char *reason = kc__json_str(obj, "reason");
	const char *message = kc__json_str(obj, "message");
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(obj, "code");
	if (d) {
		if (reason)
			copy_printable(d->reason, sizeof(d->reason), reason, strlen(reason));
		if (message)
			copy_printable(d->message, sizeof(d->message), message, strlen(message));
		if (status_code_ok(code) && d->http_status == 0)
			d->http_status = (int)code->valuedouble;
	}
	if (!status_code_ok(code))
		return KC_ERR_HTTP;
	kc_err err = kc_err_from_http((long)code->valuedouble);
	return err == KC_OK ? KC_ERR_HTTP : err;
}

kc_err kc__status_from_body(long status, const char *body, size_t len, kc_error_detail *d)
{
	kc_err err = kc_err_from_http(status);
	if (err == KC_OK)
		err = KC_ERR_HTTP;
	if (!d)
		return err;
	d->http_status = (int)status;
	cJSON *obj = body && len ? cJSON_ParseWithLength(body, len) : NULL;
	if (obj && kc__status_from_json(obj, d) != KC_ERR_HTTP) {
		cJSON_Delete(obj);
		return err;
	}
	cJSON_Delete(obj);
	if (body && len)
		copy_printable(d->message, sizeof(d->message), body, len);
	else
		snprintf(d->message, sizeof(d->message), "HTTP %ld with no body", status);
	return err;
}
