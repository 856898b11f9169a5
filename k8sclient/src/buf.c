/* buf.c - capped growable buffers (see kc/buf.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "kc/alloc.h"
#include "kc/buf.h"

void kc_buf_init(kc_buf *b, size_t limit)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->limit = limit;
}

void kc_buf_release(kc_buf *b)
{
	kc_free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void kc_buf_reset(kc_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

/* Make room for n more bytes plus the NUL. */
static kc_err buf_reserve(kc_buf *b, size_t n)
{
	if (n > b->limit || b->len > b->limit - n)
		return KC_ERR_TOOBIG;
	size_t need = b->len + n + 1;
	if (need <= b->cap)
		return KC_OK;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	/* never allocate far past the limit just because of doubling */
	if (cap > b->limit + 1 && need <= b->limit + 1)
		cap = b->limit + 1;
	char *p = kc_realloc(b->data, cap);
	if (!p)
		return KC_ERR_NOMEM;
	b->data = p;
	b->cap = cap;
	return KC_OK;
}

kc_err kc_buf_append(kc_buf *b, const void *data, size_t n)
{
	kc_err err = buf_reserve(b, n);
	if (err)
		return err;
	if (n)
		memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return KC_OK;
}

kc_err kc_buf_append_str(kc_buf *b, const char *s)
{
	return kc_buf_append(b, s, strlen(s));
}

kc_err kc_buf_printf(kc_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return KC_ERR_INVALID;
	kc_err err = buf_reserve(b, (size_t)n);
	if (err)
		return err;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return KC_OK;
}

void kc_buf_consume(kc_buf *b, size_t n)
{
	if (n >= b->len) {
		kc_buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

char *kc_buf_take(kc_buf *b)
{
	char *p = b->data;
	if (!p)
		p = kc_strdup("");
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}
