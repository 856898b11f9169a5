/* The watch stream framer and the watch event decoder (kc/watch.h). */
#include <stdlib.h>

#include "kc/alloc.h"
#include "kc/watch.h"
#include "kctest.h"

#define MAX_LINES 64

typedef struct collected {
	char *lines[MAX_LINES];
	size_t n;
	int calls;
	int fail_on; /* return KC_ERR_PARSE on this call (1-based), 0 = never */
} collected;

static kc_err collect(void *ud, const char *line, size_t len)
{
	collected *c = ud;
	c->calls++;
	if (c->fail_on && c->calls == c->fail_on)
		return KC_ERR_PARSE;
	if (c->n < MAX_LINES)
		c->lines[c->n++] = kc_strndup(line, len);
	return KC_OK;
}

static void collected_free(collected *c)
{
	for (size_t i = 0; i < c->n; i++)
		kc_free(c->lines[i]);
	memset(c, 0, sizeof(*c));
}

static const char STREAM[] =
	"{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\",\"namespace\":\"ns\",\"resourceVersion\":\"11\"}}}\n"
	"{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\",\"namespace\":\"ns\",\"resourceVersion\":\"12\"},\"spec\":{\"nodeName\":\"n1\"}}}\n"
	"\n"
	"{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"resourceVersion\":\"15\"}}}\r\n"
	"{\"type\":\"DELETED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\",\"namespace\":\"ns\",\"resourceVersion\":\"16\"}}}\n";

static const char *const EXPECTED_TYPES[] = {"ADDED", "MODIFIED", "BOOKMARK", "DELETED"};
static const char *const EXPECTED_RVS[] = {"11", "12", "15", "16"};

/* Every split point, and every pair of split points, yields the same 4 lines once each. */
KT_TEST(framer_every_split_point_yields_each_line_once)
{
	size_t len = sizeof(STREAM) - 1;
	collected whole = {0};
	kc_watch_framer f;
	kc_watch_framer_init(&f, 0, collect, &whole);
	KT_EQ_INT(kc_watch_framer_feed(&f, STREAM, len), KC_OK);
	KT_EQ_INT(whole.n, 4);
	KT_CHECK(!kc_watch_framer_has_partial(&f));
	kc_watch_framer_release(&f);

	int bad = 0;
	for (size_t i = 0; i <= len; i++) {
		for (size_t j = i; j <= len; j += (i % 7 == 0) ? 1 : 13) {
			collected c = {0};
			kc_watch_framer_init(&f, 0, collect, &c);
			kc_err e1 = kc_watch_framer_feed(&f, STREAM, i);
			kc_err e2 = kc_watch_framer_feed(&f, STREAM + i, j - i);
			kc_err e3 = kc_watch_framer_feed(&f, STREAM + j, len - j);
			int ok = e1 == KC_OK && e2 == KC_OK && e3 == KC_OK && c.n == whole.n &&
			         !kc_watch_framer_has_partial(&f);
			for (size_t k = 0; ok && k < c.n; k++)
				ok = strcmp(c.lines[k], whole.lines[k]) == 0;
			if (!ok && bad++ < 3)
				fprintf(stderr, "  split at %zu/%zu gave %zu lines\n", i, j, c.n);
			collected_free(&c);
			kc_watch_framer_release(&f);
		}
	}
	KT_EQ_INT(bad, 0);

	/* one byte at a time */
	collected c = {0};
	kc_watch_framer_init(&f, 0, collect, &c);
	for (size_t i = 0; i < len; i++)
		KT_EQ_INT(kc_watch_framer_feed(&f, STREAM + i, 1), KC_OK);
	KT_EQ_INT(c.n, 4);
	for (size_t k = 0; k < c.n && k < whole.n; k++)
		KT_EQ_STR(c.lines[k], whole.lines[k]);
	collected_free(&c);
	kc_watch_framer_release(&f);

	/* and each line decodes to the expected event */
	for (size_t k = 0; k < whole.n; k++) {
		kc_watch_event ev;
		KT_EQ_INT(kc_watch_event_decode(whole.lines[k], strlen(whole.lines[k]), &ev, NULL),
		          KC_OK);
		KT_EQ_STR(kc_watch_type_name(ev.type), EXPECTED_TYPES[k]);
		KT_EQ_STR(ev.resource_version, EXPECTED_RVS[k]);
		kc_watch_event_release(&ev);
	}
	collected_free(&whole);
}

KT_TEST(framer_keeps_partial_tail_until_newline)
{
	collected c = {0};
	kc_watch_framer f;
	kc_watch_framer_init(&f, 0, collect, &c);
	KT_EQ_INT(kc_watch_framer_feed(&f, "{\"a\":1}\n{\"b\":", 13), KC_OK);
	KT_EQ_INT(c.n, 1);
	KT_EQ_STR(c.lines[0], "{\"a\":1}");
	KT_CHECK(kc_watch_framer_has_partial(&f));
	KT_EQ_INT(kc_watch_framer_feed(&f, "2}", 2), KC_OK);
	KT_EQ_INT(c.n, 1); /* still incomplete: nothing delivered */
	KT_EQ_INT(kc_watch_framer_feed(&f, "\n\n\n", 3), KC_OK);
	KT_EQ_INT(c.n, 2);
	KT_EQ_STR(c.lines[1], "{\"b\":2}");
	KT_CHECK(!kc_watch_framer_has_partial(&f));
	/* reset drops a pending tail: it is never delivered */
	KT_EQ_INT(kc_watch_framer_feed(&f, "{\"half", 6), KC_OK);
	kc_watch_framer_reset(&f);
	KT_EQ_INT(kc_watch_framer_feed(&f, "{\"c\":3}\n", 8), KC_OK);
	KT_EQ_INT(c.n, 3);
	KT_EQ_STR(c.lines[2], "{\"c\":3}");
	collected_free(&c);
	kc_watch_framer_release(&f);
}

KT_TEST(framer_rejects_over_long_lines)
{
	collected c = {0};
	kc_watch_framer f;
	/* a complete line in one chunk */
	kc_watch_framer_init(&f, 8, collect, &c);
	KT_EQ_INT(kc_watch_framer_feed(&f, "12345678\n", 9), KC_OK); /* exactly the cap */
	KT_EQ_INT(kc_watch_framer_feed(&f, "123456789\n", 10), KC_ERR_TOOBIG);
	KT_EQ_INT(c.n, 1);
	/* refuses input until reset */
	KT_EQ_INT(kc_watch_framer_feed(&f, "1\n", 2), KC_ERR_INVALID);
	kc_watch_framer_reset(&f);
	KT_EQ_INT(kc_watch_framer_feed(&f, "1\n", 2), KC_OK);
	KT_EQ_INT(c.n, 2);
	/* a tail growing past the cap across chunks, without any newline */
	KT_EQ_INT(kc_watch_framer_feed(&f, "12345", 5), KC_OK);
	KT_EQ_INT(kc_watch_framer_feed(&f, "6789", 4), KC_ERR_TOOBIG);
	kc_watch_framer_reset(&f);
	/* a tail completed past the cap */
	KT_EQ_INT(kc_watch_framer_feed(&f, "1234567", 7), KC_OK);
	KT_EQ_INT(kc_watch_framer_feed(&f, "89\n", 3), KC_ERR_TOOBIG);
	KT_EQ_INT(c.n, 2);
	collected_free(&c);
	kc_watch_framer_release(&f);
}

KT_TEST(framer_stops_on_callback_error)
{
	collected c = {.fail_on = 2};
	kc_watch_framer f;
	kc_watch_framer_init(&f, 0, collect, &c);
	KT_EQ_INT(kc_watch_framer_feed(&f, "a\nb\nc\n", 6), KC_ERR_PARSE);
	KT_EQ_INT(c.calls, 2); /* "c" is not delivered after the error */
	collected_free(&c);
	kc_watch_framer_release(&f);
}

KT_TEST(framer_survives_allocation_failure)
{
	collected c = {0};
	kc_watch_framer f;
	kc_watch_framer_init(&f, 0, collect, &c);
	kc_alloc_fail_after(0);
	KT_EQ_INT(kc_watch_framer_feed(&f, "{\"partial", 9), KC_ERR_NOMEM);
	kc_alloc_fail_reset();
	kc_watch_framer_reset(&f);
	KT_EQ_INT(kc_watch_framer_feed(&f, "{}\n", 3), KC_OK);
	KT_EQ_INT(c.n, 1);
	collected_free(&c);
	kc_watch_framer_release(&f);
}

static kc_err decode(const char *s, kc_watch_event *ev, kc_error_detail *d)
{
	kc_detail_clear(d);
	kc_err err = kc_watch_event_decode(s, strlen(s), ev, d);
	if (err == KC_OK)
		KT_CHECK(ev->doc != NULL && ev->object != NULL);
	else
		KT_CHECK(ev->doc == NULL);
	return err;
}

KT_TEST(event_decode_errors_and_gone)
{
	kc_watch_event ev;
	kc_error_detail d;
	KT_EQ_INT(decode("{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"x\"", &ev, &d),
	          KC_ERR_PARSE);
	KT_EQ_INT(decode("not json", &ev, &d), KC_ERR_PARSE);
	KT_EQ_INT(decode("[1,2]", &ev, &d), KC_ERR_PARSE);
	KT_EQ_INT(decode("{\"type\":\"SURPRISE\",\"object\":{\"metadata\":{\"name\":\"x\","
	                 "\"resourceVersion\":\"1\"}}}", &ev, &d), KC_ERR_PARSE);
	KT_EQ_INT(decode("{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"x\"}}}", &ev, &d),
	          KC_ERR_PARSE); /* no resourceVersion */
	KT_EQ_INT(decode("{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"resourceVersion\":\"1\"}}}",
	                 &ev, &d), KC_ERR_PARSE); /* no name */
	KT_EQ_INT(decode("{\"type\":\"ADDED\",\"object\":[]}", &ev, &d), KC_ERR_PARSE);
	KT_EQ_INT(decode("{\"type\":7,\"object\":{}}", &ev, &d), KC_ERR_PARSE);

	/* ERROR 410 Expired */
	KT_EQ_INT(decode("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
	                 "\"status\":\"Failure\",\"message\":\"too old resource version: 5 (90)\","
	                 "\"reason\":\"Expired\",\"code\":410}}", &ev, &d), KC_ERR_GONE);
	KT_EQ_INT(ev.type, KC_WATCH_ERROR);
	KT_EQ_STR(d.reason, "Expired");
	KT_EQ_INT(d.http_status, 410);
	KT_CHECK(strstr(d.message, "too old resource version") != NULL);
	/* reason Gone without a code, and code 410 without a reason */
	KT_EQ_INT(decode("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"reason\":\"Gone\"}}",
	                 &ev, &d), KC_ERR_GONE);
	KT_EQ_INT(decode("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410}}", &ev, &d),
	          KC_ERR_GONE);
	/* other errors keep their code */
	KT_EQ_INT(decode("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":500,"
	                 "\"reason\":\"InternalError\"}}", &ev, &d), KC_ERR_SERVER);
	KT_EQ_INT(decode("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\"}}", &ev, &d),
	          KC_ERR_HTTP);

	/* an over-long resourceVersion is refused */
	char big[256];
	int n = snprintf(big, sizeof(big),
	                 "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"%0*d\"}}}",
	                 KC_RV_MAX, 7);
	KT_CHECK(n > 0 && (size_t)n < sizeof(big));
	KT_EQ_INT(decode(big, &ev, &d), KC_ERR_PARSE);
}

KT_TEST(event_decode_bookmark_and_initial_events_end)
{
	kc_watch_event ev;
	kc_error_detail d;
	KT_EQ_INT(decode("{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\","
	                 "\"metadata\":{\"resourceVersion\":\"12345\",\"annotations\":"
	                 "{\"k8s.io/initial-events-end\":\"true\"}}}}", &ev, &d), KC_OK);
	KT_EQ_INT(ev.type, KC_WATCH_BOOKMARK);
	KT_EQ_STR(ev.resource_version, "12345");
	KT_CHECK(ev.initial_events_end);
	kc_watch_event_release(&ev);
	kc_watch_event_release(&ev); /* idempotent */
	KT_EQ_INT(decode("{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"9\"}}}",
	                 &ev, &d), KC_OK);
	KT_CHECK(!ev.initial_events_end);
	kc_watch_event_release(&ev);
}

KT_TEST(event_decode_under_allocation_failure)
{
	const char *line = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"x\","
	                   "\"namespace\":\"y\",\"resourceVersion\":\"3\"},\"spec\":{\"a\":[1,2,3]}}}";
	int ok = 0, failed = 0;
	for (long n = 0; n < 64; n++) {
		kc_watch_event ev;
		kc_alloc_fail_after(n);
		kc_err err = kc_watch_event_decode(line, strlen(line), &ev, NULL);
		bool injected = kc_alloc_fail_triggered();
		kc_alloc_fail_reset();
		if (err == KC_OK) {
			ok++;
			KT_EQ_STR(ev.resource_version, "3");
			kc_watch_event_release(&ev);
		} else {
			failed++;
			KT_CHECK(injected);
		}
	}
	KT_CHECK(ok > 0 && failed > 0);
}

int main(void)
{
	KT_RUN(framer_every_split_point_yields_each_line_once);
	KT_RUN(framer_keeps_partial_tail_until_newline);
	KT_RUN(framer_rejects_over_long_lines);
	KT_RUN(framer_stops_on_callback_error);
	KT_RUN(framer_survives_allocation_failure);
	KT_RUN(event_decode_errors_and_gone);
	KT_RUN(event_decode_bookmark_and_initial_events_end);
	KT_RUN(event_decode_under_allocation_failure);
	return KT_DONE();
}
