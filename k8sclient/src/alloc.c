/*
 * alloc.c - the allocator hook (failure injection for tests). Part of kc_base,
 * so it needs nothing but libc; kc_global_init (init.c) hooks cJSON to it.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kc/alloc.h"

/* Allocations left before injected failures start; < 0 = never fail. */
static atomic_long fail_countdown = -1;
static atomic_bool fail_triggered;

static bool should_fail(void)
{
	long left = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
	if (left < 0)
		return false;
	while (left > 0) {
		if (atomic_compare_exchange_weak(&fail_countdown, &left, left - 1))
			return false;
		if (left < 0)
			return false;
	}
	atomic_store(&fail_triggered, true);
	return true;
}

void *kc_malloc(size_t n)
{
	if (should_fail())
		return NULL;
	return malloc(n ? n : 1);
}

void *kc_calloc(size_t count, size_t size)
{
	if (should_fail())
		return NULL;
	return calloc(count ? count : 1, size ? size : 1);
}

void *kc_realloc(void *p, size_t n)
{
	if (should_fail())
		return NULL;
	return realloc(p, n ? n : 1);
}

void kc_free(void *p)
{
	free(p);
}

char *kc_strndup(const char *s, size_t n)
{
	if (!s)
		return NULL;
	char *copy = kc_malloc(n + 1);
	if (!copy)
		return NULL;
	memcpy(copy, s, n);
	copy[n] = '\0';
	return copy;
}

char *kc_strdup(const char *s)
{
	return s ? kc_strndup(s, strlen(s)) : NULL;
}

void kc_alloc_fail_after(long n)
{
	atomic_store(&fail_triggered, false);
	atomic_store(&fail_countdown, n < 0 ? -1 : n);
}

void kc_alloc_fail_reset(void)
{
	atomic_store(&fail_countdown, -1);
}

bool kc_alloc_fail_triggered(void)
{
	return atomic_load(&fail_triggered);
}
