/*
 * map.h - the project's string-keyed hash map (open addressing, linear
 * probing, tombstones): the core's tables (nodes by name, pods by uid,
 * workloads by identity) and the event correlator's cache. Keys are copied;
 * values are caller-owned pointers. Not thread-safe: its owner serialises
 * access (the core is single-threaded by design).
 *
 * The informer store keeps a second, leaner map (src/objmap.h says why).
 */
#ifndef KC_MAP_H
#define KC_MAP_H

#include <stdbool.h>
#include <stddef.h>

typedef struct kc_map_slot {
	char *key;    /* NULL = empty; KC_MAP_TOMB = deleted */
	void *value;
	size_t hash;
} kc_map_slot;

typedef struct kc_map {
	kc_map_slot *slots;
	size_t cap;    /* power of two, or 0 */
	size_t len;    /* live entries */
	size_t used;   /* live + tombstones */
} kc_map;

void kc_map_init(kc_map *m);
/* Frees the keys and the table, not the values. */
void kc_map_release(kc_map *m);
void *kc_map_get(const kc_map *m, const char *key);
/* Insert or replace; the old value (if any) is returned through *old. -1 on ENOMEM. */
int kc_map_put(kc_map *m, const char *key, void *value, void **old);
/* Remove; returns the value, or NULL if absent. */
void *kc_map_del(kc_map *m, const char *key);

/* Iteration: for (size_t i = 0; kc_map_next(m, &i, &k, &v);) ... (no insert during it). */
bool kc_map_next(const kc_map *m, size_t *iter, const char **key, void **value);

#endif
