/*
 * array.h - the one growable-array helper of the project (k8sclient and the
 * controller alike), in the spirit of curl's dynbuf and git's ALLOC_GROW:
 * capacity doubles from a small minimum, and the size computation is checked
 * for overflow before anything is allocated.
 *
 *     fb_thing *v = NULL; size_t n = 0, cap = 0;
 *     if (KC_ARRAY_RESERVE(v, cap, n + 1) != 0)
 *             return KC_ERR_NOMEM;      // v, cap unchanged
 *     v[n++] = thing;
 *
 * Allocation goes through kc_realloc, so the allocator hook's injected
 * failures reach every array.
 */
#ifndef KC_ARRAY_H
#define KC_ARRAY_H

#include <stddef.h>

/*
 * Make room for at least `need` elements of `elem` bytes in the array whose
 * pointer is at *arrp (a T **, passed as void *) and whose capacity is *cap.
 * Grows to max(min_cap, 2 x cap, need). Returns 0, or -1 on overflow or
 * ENOMEM, in which case neither the array nor *cap has changed.
 */
int kc_array_reserve(void *arrp, size_t *cap, size_t need, size_t elem, size_t min_cap);

/* KC_ARRAY_RESERVE(v, cap, need): v is a T * lvalue, cap a size_t lvalue. */
#define KC_ARRAY_RESERVE(v, cap, need)                                                    \
	((size_t)(need) <= (cap) ? 0 : kc_array_reserve(&(v), &(cap), (need), sizeof(*(v)), 8))

#endif
