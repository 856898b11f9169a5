/*
 * hash.h - the one string hash of the project: FNV-1a
 * (http://www.isthe.com/chongo/tech/comp/fnv/), 32 and 64 bits. Fast on the
 * short keys hashed here (names, uids, "namespace/name"), and stable across
 * runs and machines, which the taint values built from it rely on.
 */
#ifndef KC_HASH_H
#define KC_HASH_H

#include <stddef.h>
#include <stdint.h>

static inline uint32_t kc_fnv1a32(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static inline uint64_t kc_fnv1a64(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 14695981039346656037ULL;
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

#endif
