/* error.c - kc_err names and the error-detail helpers. */
#include <stdio.h>
#include <string.h>

#include "kc/error.h"

static const char *const err_names[KC_ERR__COUNT] = {
	[KC_OK] = "ok",
	[KC_ERR_NOMEM] = "out of memory",
	[KC_ERR_INVALID] = "invalid argument",
	[KC_ERR_CONFIG] = "invalid configuration",
	[KC_ERR_PARSE] = "malformed input",
	[KC_ERR_TOOBIG] = "input too large",
	[KC_ERR_IO] = "I/O error",
	[KC_ERR_EXEC] = "credential plugin failed",
	[KC_ERR_TRANSPORT] = "transport error",
	[KC_ERR_TLS] = "TLS verification failed",
	[KC_ERR_TIMEOUT] = "timed out",
	[KC_ERR_STALLED] = "stream stalled",
	[KC_ERR_CANCELED] = "cancelled",
	[KC_ERR_BAD_REQUEST] = "bad request",
	[KC_ERR_UNAUTHORIZED] = "unauthorized",
	[KC_ERR_FORBIDDEN] = "forbidden",
	[KC_ERR_NOT_FOUND] = "not found",
	[KC_ERR_CONFLICT] = "conflict",
	[KC_ERR_GONE] = "gone (resource version expired)",
	[KC_ERR_INVALID_OBJ] = "invalid object",
	[KC_ERR_TOO_MANY] = "too many requests",
	[KC_ERR_SERVER] = "server error",
	[KC_ERR_HTTP] = "unexpected HTTP status",
};

const char *kc_strerror(kc_err err)
{
	if ((unsigned)err >= KC_ERR__COUNT || !err_names[err])
		return "unknown error";
	return err_names[err];
}

kc_err kc_err_from_http(long status)
{
	if (status >= 200 && status < 300)
		return KC_OK;
	switch (status) {
	case 400: return KC_ERR_BAD_REQUEST;
	case 401: return KC_ERR_UNAUTHORIZED;
	case 403: return KC_ERR_FORBIDDEN;
	case 404: return KC_ERR_NOT_FOUND;
	case 409: return KC_ERR_CONFLICT;
	case 410: return KC_ERR_GONE;
	case 422: return KC_ERR_INVALID_OBJ;
	case 429: return KC_ERR_TOO_MANY;
	default:
		return status >= 500 && status < 600 ? KC_ERR_SERVER : KC_ERR_HTTP;
	}
}

void kc_detail_clear(kc_error_detail *d)
{
	if (!d)
		return;
	d->http_status = 0;
	d->retry_after_s = -1;
	d->reason[0] = '\0';
	d->message[0] = '\0';
}

kc_err kc_failv(kc_error_detail *d, kc_err err, const char *fmt, va_list ap)
{
	if (d)
		vsnprintf(d->message, sizeof(d->message), fmt, ap);
	return err;
}

kc_err kc_fail(kc_error_detail *d, kc_err err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	kc_failv(d, err, fmt, ap);
	va_end(ap);
	return err;
}
