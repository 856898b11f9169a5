/*
 * Fuzz the watch stream framer (kc/watch.h): the input is split into chunks
 * whose sizes come from the input itself, and the lines delivered must be
 * exactly those delivered when the same bytes arrive in one piece (each line
 * once, none lost, none half). Every line is also decoded as a watch event.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kc/alloc.h"
#include "kc/buf.h"
#include "kc/watch.h"

#define FUZZ_OUT_MAX (1u << 22)

typedef struct sink {
	kc_buf out; /* every line followed by '\n' */
	int lines;
} sink;

static kc_err on_line(void *ud, const char *line, size_t len)
{
	sink *s = ud;
	s->lines++;
	kc_watch_event ev;
	if (kc_watch_event_decode(line, len, &ev, NULL) == KC_OK)
		kc_watch_event_release(&ev);
	kc_err err = kc_buf_append(&s->out, line, len);
	if (!err)
		err = kc_buf_append(&s->out, "\n", 1);
	return err;
}

/* Feed data in chunks sized by the seed; returns the framer's first error. */
static kc_err run(const uint8_t *data, size_t size, uint8_t seed, size_t line_max, sink *s)
{
	kc_watch_framer f;
	kc_watch_framer_init(&f, line_max, on_line, s);
	kc_err err = KC_OK;
	size_t pos = 0;
	unsigned x = seed;
	while (pos < size && !err) {
		size_t n = seed ? (x % 61) + 1 : size;
		x = x * 1103515245u + 12345u;
		if (n > size - pos)
			n = size - pos;
		err = kc_watch_framer_feed(&f, (const char *)data + pos, n);
		pos += n;
	}
	kc_watch_framer_release(&f);
	return err;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	kc_global_init();
	if (size < 2)
		return 0;
	uint8_t seed = data[0];
	size_t line_max = data[1] < 128 ? 0 : (size_t)data[1] * 4; /* sometimes a small cap */
	data += 2;
	size -= 2;
	sink whole = {0}, chunked = {0};
	kc_buf_init(&whole.out, FUZZ_OUT_MAX);
	kc_buf_init(&chunked.out, FUZZ_OUT_MAX);
	kc_err e1 = run(data, size, 0, line_max, &whole);
	kc_err e2 = run(data, size, seed ? seed : 1, line_max, &chunked);
	/* the same bytes give the same lines, however they were cut */
	if (e1 == KC_OK && e2 == KC_OK &&
	    (whole.lines != chunked.lines || whole.out.len != chunked.out.len ||
	     (whole.out.len && memcmp(whole.out.data, chunked.out.data, whole.out.len) != 0)))
		abort();
	/* an over-long line is refused whichever way it arrives */
	if ((e1 == KC_ERR_TOOBIG) != (e2 == KC_ERR_TOOBIG))
		abort();
	kc_buf_release(&whole.out);
	kc_buf_release(&chunked.out);
	return 0;
}
