/* kctest.c - the runner side of kctest.h. */
#include <stdlib.h>

#include "kc/alloc.h"
#include "kctest.h"

int kt_failed_checks_;
static int tests_passed, tests_failed;

void kt_run_(const char *name, void (*fn)(void))
{
	static int initialised;
	if (!initialised) {
		kc_global_init();
		initialised = 1;
	}
	int before = kt_failed_checks_;
	fn();
	kc_alloc_fail_reset();
	if (kt_failed_checks_ == before) {
		tests_passed++;
		printf("ok   %s\n", name);
	} else {
		tests_failed++;
		printf("FAIL %s\n", name);
	}
	fflush(stdout);
}

int kt_finish_(void)
{
	printf("%d passed, %d failed\n", tests_passed, tests_failed);
	kc_global_cleanup();
	return tests_failed ? 1 : 0;
}
