/* base64.c - standard base64 for the API's []byte fields (kc/base64.h). */
#include <string.h>

#include <openssl/evp.h>

#include "kc/alloc.h"
#include "kc/base64.h"

static bool b64_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

kc_err kc_base64_decode(const char *in, size_t len, kc_buf *out)
{
	/* Input that could not fit the limit even if half of it were line breaks is
	 * refused unread; EVP_DecodeBlock takes an int. */
	size_t encoded_max = out->limit / 3 * 4 + 4;
	if (len / 2 > encoded_max || len > (size_t)1 << 30)
		return KC_ERR_TOOBIG;
	char *clean = kc_malloc(len + 1);
	if (!clean)
		return KC_ERR_NOMEM;
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		if (in[i] != '\n' && in[i] != '\r')
			clean[n++] = in[i];
	kc_err err = KC_ERR_PARSE;
	unsigned char *raw = NULL;
	if (n % 4 != 0)
		goto out_free_clean;
	size_t pad = 0;
	if (n && clean[n - 1] == '=')
		pad = (n >= 2 && clean[n - 2] == '=') ? 2 : 1;
	for (size_t i = 0; i < n - pad; i++)
		if (!b64_char((unsigned char)clean[i]))
			goto out_free_clean;
	raw = kc_malloc(n / 4 * 3 + 1);
	if (!raw) {
		err = KC_ERR_NOMEM;
		goto out_free_clean;
	}
	int got = n ? EVP_DecodeBlock(raw, (unsigned char *)clean, (int)n) : 0;
	if (got < 0 || (size_t)got < pad)
		goto out_free_raw;
	err = kc_buf_append(out, raw, (size_t)got - pad);
out_free_raw:
	kc_free(raw);
out_free_clean:
	kc_free(clean);
	return err;
}

kc_err kc_base64_encode(const void *data, size_t len, kc_buf *out)
{
	if (len > (size_t)3 << 28 || (len + 2) / 3 * 4 > out->limit - out->len)
		return KC_ERR_TOOBIG;
	size_t n = (len + 2) / 3 * 4;
	unsigned char *enc = kc_malloc(n + 1);
	if (!enc)
		return KC_ERR_NOMEM;
	int got = len ? EVP_EncodeBlock(enc, data, (int)len) : 0;
	kc_err err = got == (int)n ? kc_buf_append(out, enc, n) : KC_ERR_PARSE;
	kc_free(enc);
	return err;
}
