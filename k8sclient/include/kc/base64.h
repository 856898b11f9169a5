/*
 * kc/base64.h - standard base64 (RFC 4648 section 4, with padding), the
 * encoding the API gives every []byte field: a Secret's data, a webhook's
 * caBundle, a kubeconfig's *-data.
 */
#ifndef KC_BASE64_H
#define KC_BASE64_H

#include <stddef.h>

#include "kc/buf.h"
#include "kc/error.h"

/*
 * Decode in[0..len) and append the bytes to out, as Go's
 * base64.StdEncoding.DecodeString (what the API server's JSON decoder of
 * []byte fields and client-go use): '\r' and '\n' are ignored, padding is
 * required, anything else outside the alphabet is an error. The cap is out's
 * limit. KC_ERR_PARSE for malformed input, KC_ERR_TOOBIG past the limit,
 * KC_ERR_NOMEM; out is unchanged on failure.
 */
kc_err kc_base64_decode(const char *in, size_t len, kc_buf *out);

/* Append the padded encoding of data to out. KC_ERR_TOOBIG / KC_ERR_NOMEM leave out unchanged. */
kc_err kc_base64_encode(const void *data, size_t len, kc_buf *out);

#endif
