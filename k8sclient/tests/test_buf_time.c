/* Capped buffers, RFC 3339 / MicroTime, cancellation tokens, allocator hook. */
#include <stdlib.h>

#include "kc/alloc.h"
#include "kc/buf.h"
#include "kc/cancel.h"
#include "kc/time.h"
#include "kctest.h"

KT_TEST(buf_respects_limit)
{
	kc_buf b;
	kc_buf_init(&b, 8);
	KT_EQ_INT(kc_buf_append_str(&b, "12345"), KC_OK);
	KT_EQ_INT(kc_buf_append_str(&b, "6789"), KC_ERR_TOOBIG);
	KT_EQ_STR(b.data, "12345"); /* unchanged after a refused append */
	KT_EQ_INT(kc_buf_printf(&b, "%d", 678), KC_OK);
	KT_EQ_STR(b.data, "12345678");
	KT_EQ_INT(kc_buf_append(&b, "x", 1), KC_ERR_TOOBIG);
	kc_buf_consume(&b, 3);
	KT_EQ_STR(b.data, "45678");
	char *s = kc_buf_take(&b);
	KT_EQ_STR(s, "45678");
	KT_CHECK(b.data == NULL && b.len == 0);
	kc_free(s);
	kc_buf_release(&b);
}

KT_TEST(buf_alloc_failure_leaves_buffer_intact)
{
	kc_buf b;
	kc_buf_init(&b, 1 << 20);
	KT_EQ_INT(kc_buf_append_str(&b, "abc"), KC_OK);
	kc_alloc_fail_after(0);
	char big[200];
	memset(big, 'x', sizeof(big));
	KT_EQ_INT(kc_buf_append(&b, big, sizeof(big)), KC_ERR_NOMEM);
	KT_CHECK(kc_alloc_fail_triggered());
	kc_alloc_fail_reset();
	KT_EQ_STR(b.data, "abc");
	kc_buf_release(&b);
}

KT_TEST(microtime_has_six_fraction_digits)
{
	char buf[KC_TIME_STR_MAX];
	/* 2024-02-29T23:59:58.000042Z */
	int64_t us = 1709251198LL * 1000000 + 42;
	KT_EQ_STR(kc_microtime_format(us, buf), "2024-02-29T23:59:58.000042Z");
	KT_EQ_STR(kc_time_format(us, buf), "2024-02-29T23:59:58Z");
	KT_EQ_STR(kc_microtime_format(0, buf), "1970-01-01T00:00:00.000000Z");
}

KT_TEST(time_format_frac_truncates_to_0_3_or_6_digits)
{
	char buf[KC_TIME_STR_MAX];
	int64_t us = 1709251198LL * 1000000 + 999999; /* 2024-02-29T23:59:58.999999Z */
	KT_EQ_STR(kc_time_format_frac(us, 0, buf), "2024-02-29T23:59:58Z");
	KT_EQ_STR(kc_time_format_frac(us, 3, buf), "2024-02-29T23:59:58.999Z"); /* not :59.000 */
	KT_EQ_STR(kc_time_format_frac(us, 6, buf), "2024-02-29T23:59:58.999999Z");
	us = 1709251198LL * 1000000 + 42000; /* milliseconds as the core passes them: ms * 1000 */
	KT_EQ_STR(kc_time_format_frac(us, 3, buf), "2024-02-29T23:59:58.042Z");
	KT_EQ_STR(kc_time_format_frac(us, 1, buf), "2024-02-29T23:59:58.0Z");
	/* out of range clamps */
	KT_EQ_STR(kc_time_format_frac(us, -5, buf), "2024-02-29T23:59:58Z");
	KT_EQ_STR(kc_time_format_frac(us, 9, buf), "2024-02-29T23:59:58.042000Z");
	/* zero, and before the epoch: the fraction counts up from the second below */
	KT_EQ_STR(kc_time_format_frac(0, 3, buf), "1970-01-01T00:00:00.000Z");
	KT_EQ_STR(kc_time_format_frac(-1, 6, buf), "1969-12-31T23:59:59.999999Z");
	KT_EQ_STR(kc_time_format_frac(-1, 3, buf), "1969-12-31T23:59:59.999Z");
	KT_EQ_STR(kc_time_format_frac(-1, 0, buf), "1969-12-31T23:59:59Z");
	KT_EQ_STR(kc_time_format_frac(-1500000, 3, buf), "1969-12-31T23:59:58.500Z");
	KT_EQ_STR(kc_time_format_frac(-62135596800LL * 1000000, 3, buf),
	          "0001-01-01T00:00:00.000Z");
	/* the extremes fit the buffer */
	KT_EQ_STR(kc_time_format_frac(INT64_MIN, 6, buf), "-290308-12-21T19:59:05.224192Z");
	KT_EQ_STR(kc_time_format_frac(INT64_MAX, 6, buf), "294247-01-10T04:00:54.775807Z");
	/* the two metav1 formats are the 0- and 6-digit forms */
	for (int64_t v = -3000001; v < 3000000; v += 499999) {
		char a[KC_TIME_STR_MAX];
		KT_EQ_STR(kc_time_format(v, buf), kc_time_format_frac(v, 0, a));
		KT_EQ_STR(kc_microtime_format(v, buf), kc_time_format_frac(v, 6, a));
	}
	/* every output parses back to the truncated time */
	int64_t back = 0;
	KT_EQ_INT(kc_time_parse(kc_time_format_frac(-1500001, 3, buf), &back), KC_OK);
	KT_EQ_INT(back, -1501000);
}

KT_TEST(rfc3339_parse_round_trips_and_rejects_garbage)
{
	int64_t us = 0;
	KT_EQ_INT(kc_time_parse("2024-02-29T23:59:58.000042Z", &us), KC_OK);
	KT_EQ_INT(us, 1709251198LL * 1000000 + 42);
	KT_EQ_INT(kc_time_parse("2024-03-01T01:59:58+02:00", &us), KC_OK);
	KT_EQ_INT(us, 1709251198LL * 1000000);
	KT_EQ_INT(kc_time_parse("2024-02-29T23:59:58.123456789Z", &us), KC_OK);
	KT_EQ_INT(us % 1000000, 123456);
	us = 7;
	KT_EQ_INT(kc_time_parse("2024-02-29", &us), KC_ERR_PARSE);
	KT_EQ_INT(kc_time_parse("2024-13-01T00:00:00Z", &us), KC_ERR_PARSE);
	KT_EQ_INT(kc_time_parse("2024-01-01T00:00:00Zjunk", &us), KC_ERR_PARSE);
	KT_EQ_INT(kc_time_parse("2024-01-01T00:00:00.Z", &us), KC_ERR_PARSE);
	KT_EQ_INT(kc_time_parse(NULL, &us), KC_ERR_PARSE);
	KT_EQ_INT(us, 7);
}

KT_TEST(cancel_wakes_sleeper)
{
	kc_cancel *c = NULL;
	KT_EQ_INT(kc_cancel_new(&c), KC_OK);
	int64_t t0 = kc_now_mono_ms();
	KT_CHECK(!kc_cancel_sleep(c, 20));
	KT_CHECK(kc_now_mono_ms() - t0 >= 20);
	kc_cancel_fire(c);
	t0 = kc_now_mono_ms();
	KT_CHECK(kc_cancel_sleep(c, 5000));
	KT_CHECK(kc_now_mono_ms() - t0 < 1000);
	KT_CHECK(kc_cancel_fired(c));
	KT_CHECK(!kc_cancel_fired(NULL));
	kc_cancel_free(c);
}

KT_TEST(rand_is_in_unit_interval)
{
	double lo = 1, hi = 0;
	for (int i = 0; i < 10000; i++) {
		double r = kc_rand01();
		KT_CHECK(r >= 0 && r < 1);
		lo = r < lo ? r : lo;
		hi = r > hi ? r : hi;
	}
	KT_CHECK(lo < 0.01 && hi > 0.99);
}

int main(void)
{
	KT_RUN(buf_respects_limit);
	KT_RUN(buf_alloc_failure_leaves_buffer_intact);
	KT_RUN(microtime_has_six_fraction_digits);
	KT_RUN(time_format_frac_truncates_to_0_3_or_6_digits);
	KT_RUN(rfc3339_parse_round_trips_and_rejects_garbage);
	KT_RUN(cancel_wakes_sleeper);
	KT_RUN(rand_is_in_unit_interval);
	return KT_DONE();
}
