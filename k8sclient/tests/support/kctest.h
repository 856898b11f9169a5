/*
 * kctest.h - the minimal test harness used by every unit test.
 *
 *   KT_TEST(name) { ... KT_CHECK(cond); KT_EQ_INT(a, b); KT_EQ_STR(a, b); }
 *   int main(void) { KT_RUN(name); ...; return KT_DONE(); }
 *
 * A failed check prints file:line and the values, marks the test failed and
 * carries on. KT_DONE prints "N passed, N failed" and returns the exit code.
 */
#ifndef KCTEST_H
#define KCTEST_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

extern int kt_failed_checks_;
int kt_finish_(void);
void kt_run_(const char *name, void (*fn)(void));

#define KT_TEST(name) static void name(void)
#define KT_RUN(name) kt_run_(#name, name)
#define KT_DONE() kt_finish_()

#define KT_CHECK(cond)                                                             \
	do {                                                                       \
		if (!(cond)) {                                                     \
			fprintf(stderr, "  %s:%d: check failed: %s\n", __FILE__,     \
			        __LINE__, #cond);                                  \
			kt_failed_checks_++;                                       \
		}                                                                  \
	} while (0)

#define KT_EQ_INT(a, b)                                                            \
	do {                                                                       \
		long long kt_a_ = (long long)(a), kt_b_ = (long long)(b);          \
		if (kt_a_ != kt_b_) {                                              \
			fprintf(stderr, "  %s:%d: %s == %s failed: %lld != %lld\n",  \
			        __FILE__, __LINE__, #a, #b, kt_a_, kt_b_);         \
			kt_failed_checks_++;                                       \
		}                                                                  \
	} while (0)

#define KT_EQ_STR(a, b)                                                            \
	do {                                                                       \
		const char *kt_a_ = (a), *kt_b_ = (b);                             \
		if (!kt_a_ || !kt_b_ || strcmp(kt_a_, kt_b_) != 0) {               \
			fprintf(stderr, "  %s:%d: %s == %s failed: \"%s\" != \"%s\"\n", \
			        __FILE__, __LINE__, #a, #b, kt_a_ ? kt_a_ : "(null)", \
			        kt_b_ ? kt_b_ : "(null)");                         \
			kt_failed_checks_++;                                       \
		}                                                                  \
	} while (0)

#endif
