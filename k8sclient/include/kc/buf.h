/*
 * kc/buf.h - a growable byte buffer with a hard cap (after curl's dynbuf).
 *
 * Every buffer that grows from network or file input is a kc_buf whose cap is
 * a named constant; an append that would pass the cap fails with
 * KC_ERR_TOOBIG and leaves the buffer unchanged. The data is always
 * NUL-terminated (the NUL is not counted in len) so text can be used in place.
 */
#ifndef KC_BUF_H
#define KC_BUF_H

#include <stddef.h>

#include "kc/error.h"

typedef struct kc_buf {
	char *data;   /* NULL until the first append */
	size_t len;
	size_t cap;   /* allocated bytes */
	size_t limit; /* hard cap on len */
} kc_buf;

void kc_buf_init(kc_buf *b, size_t limit);
/* Free the contents; the buffer is empty and reusable with the same limit. */
void kc_buf_release(kc_buf *b);
/* Forget the contents but keep the allocation. */
void kc_buf_reset(kc_buf *b);
kc_err kc_buf_append(kc_buf *b, const void *data, size_t n);
kc_err kc_buf_append_str(kc_buf *b, const char *s);
kc_err kc_buf_printf(kc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drop the first n bytes (n <= len). */
void kc_buf_consume(kc_buf *b, size_t n);
/*
 * Hand the contents to the caller (who frees them with kc_free) and leave the
 * buffer empty. Returns an empty allocated string for an empty buffer; NULL
 * only when that allocation fails.
 */
char *kc_buf_take(kc_buf *b);

#endif
