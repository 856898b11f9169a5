/*
 * internal.h - what k8sclient's own files share (kc__ prefix). Not installed,
 * not for callers of the library.
 */
#ifndef KC_INTERNAL_H
#define KC_INTERNAL_H

#include <cjson/cJSON.h>

#include "kc/error.h"

/*
 * Decode a metav1.Status object (already parsed) into d: reason, message and
 * code. Returns the kc_err that the Status's code maps to (KC_ERR_HTTP if it
 * has no usable code). Accepts obj that is not a Status (fills nothing and
 * returns KC_ERR_HTTP).
 */
kc_err kc__status_from_json(const cJSON *obj, kc_error_detail *d);

/*
 * Decode an HTTP error body: a metav1.Status when it is one, else the first
 * bytes of the body (sanitised, non-printables replaced) as the message.
 * Fills d->http_status = status and returns kc_err_from_http(status).
 */
kc_err kc__status_from_body(long status, const char *body, size_t len, kc_error_detail *d);

/* String member of obj, or NULL if absent or not a string. */
const char *kc__json_str(const cJSON *obj, const char *name);

#endif
