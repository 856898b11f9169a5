/* array.c - see kc/array.h. */
#include <stdint.h>
#include <string.h>

#include "kc/alloc.h"
#include "kc/array.h"

int kc_array_reserve(void *arrp, size_t *cap, size_t need, size_t elem, size_t min_cap)
{
	if (need <= *cap)
		return 0;
	size_t ncap = *cap > SIZE_MAX / 2 ? SIZE_MAX : *cap * 2;
	if (ncap < min_cap)
		ncap = min_cap;
	if (ncap < need)
		ncap = need;
	if (elem && ncap > SIZE_MAX / elem) {
		ncap = need; /* the doubling overflowed: try the exact size */
		if (ncap > SIZE_MAX / elem)
			return -1;
	}
	void *old;
	memcpy(&old, arrp, sizeof(old));
	void *nv = kc_realloc(old, ncap * elem);
	if (!nv)
		return -1;
	memcpy(arrp, &nv, sizeof(nv));
	*cap = ncap;
	return 0;
}
