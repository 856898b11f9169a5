/*
 * client_internal.h - what the HTTP client's files share (client.c, verbs.c,
 * path.c). kc__ prefix; not for library callers.
 */
#ifndef KC_CLIENT_INTERNAL_H
#define KC_CLIENT_INTERNAL_H

/* Hard caps on what we build from caller input (names are at most 253 bytes,
 * three times that encoded; selectors and continue tokens are the long part). */
#define KC__PATH_MAX  (8u << 10)   /* one request path */
#define KC__QUERY_MAX (64u << 10)  /* one query string */
#define KC__URL_MAX   (KC__PATH_MAX + KC__QUERY_MAX + 1024)
/* A serialised request body (an object we send). */
#define KC__REQUEST_BODY_MAX (16u << 20)
/* The body of a non-2xx answer to a stream (a metav1.Status, normally tiny). */
#define KC__STREAM_ERROR_BODY_MAX (1u << 20)
/* Retry-After is honoured up to this many seconds per wait (sanity cap:
 * a misbehaving server must not park a controller thread for hours). */
#define KC__RETRY_AFTER_CAP_S 10
/* Easy handles kept for reuse; more may exist while many calls run at once. */
#define KC__POOL_MAX 16
/* How often a transfer wakes to check cancellation and the stall detector. */
#define KC__POLL_MS 50

#endif
