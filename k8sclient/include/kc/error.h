/*
 * kc/error.h - the one error type of k8sclient.
 *
 * Every fallible kc_ function returns a kc_err directly (no "last error"
 * global, as libuv learnt). Where a human-readable reason helps, the callee
 * also fills a kc_error_detail that the caller passes in (it may pass NULL).
 * Details are plain data: no allocation, safe to copy, never need freeing.
 * Nothing secret (tokens, keys) is ever written into a detail.
 */
#ifndef KC_ERROR_H
#define KC_ERROR_H

#include <stdarg.h>
#include <stddef.h>

typedef enum kc_err {
	KC_OK = 0,
	KC_ERR_NOMEM,        /* allocation failed */
	KC_ERR_INVALID,      /* invalid argument from the caller */
	KC_ERR_CONFIG,       /* kubeconfig / in-cluster configuration unusable */
	KC_ERR_PARSE,        /* malformed JSON / YAML / stream from outside */
	KC_ERR_TOOBIG,       /* input exceeded a named hard cap */
	KC_ERR_IO,           /* local file or process I/O failed */
	KC_ERR_EXEC,         /* exec credential plugin failed */
	KC_ERR_TRANSPORT,    /* connect, DNS, reset, TLS handshake */
	KC_ERR_TLS,          /* certificate verification failed */
	KC_ERR_TIMEOUT,      /* connect or request timeout */
	KC_ERR_STALLED,      /* a stream went silent past its stall limit */
	KC_ERR_CANCELED,     /* the caller cancelled */
	/* The API server answered non-2xx; the detail holds the metav1.Status. */
	KC_ERR_BAD_REQUEST,  /* 400 */
	KC_ERR_UNAUTHORIZED, /* 401 */
	KC_ERR_FORBIDDEN,    /* 403 */
	KC_ERR_NOT_FOUND,    /* 404 */
	KC_ERR_CONFLICT,     /* 409 (also AlreadyExists) */
	KC_ERR_GONE,         /* 410, or a watch ERROR event with code 410 ("Expired") */
	KC_ERR_INVALID_OBJ,  /* 422 */
	KC_ERR_TOO_MANY,     /* 429 (rate limited, or a PodDisruptionBudget said no) */
	KC_ERR_SERVER,       /* 5xx */
	KC_ERR_HTTP,         /* any other non-2xx */
	KC_ERR__COUNT
} kc_err;

#define KC_DETAIL_REASON_MAX  64
#define KC_DETAIL_MESSAGE_MAX 512

typedef struct kc_error_detail {
	int http_status;                      /* 0 when no HTTP exchange was involved */
	int retry_after_s;                    /* Retry-After seconds, -1 when absent */
	char reason[KC_DETAIL_REASON_MAX];    /* metav1.Status reason, e.g. "Expired" */
	char message[KC_DETAIL_MESSAGE_MAX];  /* human-readable; truncated, never secret */
} kc_error_detail;

/* A short, static, English name for an error code. Never NULL. */
const char *kc_strerror(kc_err err);

/* Map an HTTP status to the error code above (2xx maps to KC_OK). */
kc_err kc_err_from_http(long status);

/* Reset a detail to "nothing to say". Accepts NULL. */
void kc_detail_clear(kc_error_detail *d);

/*
 * Fill d->message with printf-style text (truncated to fit) and return err,
 * so that callees can write `return kc_fail(d, KC_ERR_CONFIG, "...", ...)`.
 * Accepts d == NULL (the message is dropped).
 */
kc_err kc_fail(kc_error_detail *d, kc_err err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
kc_err kc_failv(kc_error_detail *d, kc_err err, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

#endif
