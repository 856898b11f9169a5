/*
 * kc/alloc.h - the allocator hook.
 *
 * All of k8sclient (and cJSON, through cJSON_InitHooks) allocates through
 * these functions, so tests can make the N-th allocation fail, as curl's
 * torture mode does, and check that every error path frees what it took.
 */
#ifndef KC_ALLOC_H
#define KC_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

void *kc_malloc(size_t n);
void *kc_calloc(size_t count, size_t size);
void *kc_realloc(void *p, size_t n);
void kc_free(void *p);
/* Copy a NUL-terminated string; NULL in gives NULL out, NULL on failure. */
char *kc_strdup(const char *s);
/* Copy n bytes and add a NUL; NULL on failure. */
char *kc_strndup(const char *s, size_t n);

/*
 * Must be called once before any other kc_ function, from one thread, while
 * no other thread uses k8sclient: it initialises libcurl and hooks cJSON to
 * the allocator above. Idempotent. kc_global_cleanup undoes it at exit.
 * Defined in k8sclient proper (src/init.c), not in kc_base: a program that
 * links only kc_base (the decision core) has no libcurl to initialise.
 */
int kc_global_init(void);
void kc_global_cleanup(void);

/*
 * Test hook: after `n` more successful allocations, every allocation fails
 * until kc_alloc_fail_reset(). n < 0 disables failure injection.
 * Counting is process-wide and thread-safe.
 */
void kc_alloc_fail_after(long n);
void kc_alloc_fail_reset(void);
/* true if an injected failure happened since the last reset */
bool kc_alloc_fail_triggered(void);

#endif
