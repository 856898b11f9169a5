/*
 * map.h - a string-keyed hash map (open addressing, linear probing) for the
 * core's tables: nodes by name, pods by uid, workloads by identity.
 * Keys are copied; values are caller-owned pointers. Not thread-safe: the
 * core is single-threaded by design.
 */
#ifndef FB_MAP_H
#define FB_MAP_H

#include <stdbool.h>
#include <stddef.h>

typedef struct fb_map_slot {
	char *key;    /* NULL = empty; FB_MAP_TOMB = deleted */
	void *value;
	size_t hash;
} fb_map_slot;

typedef struct fb_map {
	fb_map_slot *slots;
	size_t cap;    /* power of two, or 0 */
	size_t len;    /* live entries */
	size_t used;   /* live + tombstones */
} fb_map;

void fb_map_init(fb_map *m);
/* Frees the keys and the table, not the values. */
void fb_map_release(fb_map *m);
void *fb_map_get(const fb_map *m, const char *key);
/* Insert or replace; the old value (if any) is returned through *old. -1 on ENOMEM. */
int fb_map_put(fb_map *m, const char *key, void *value, void **old);
/* Remove; returns the value, or NULL if absent. */
void *fb_map_del(fb_map *m, const char *key);

/* Iteration: for (size_t i = 0; fb_map_next(m, &i, &k, &v);) ... (no insert during it). */
bool fb_map_next(const fb_map *m, size_t *iter, const char **key, void **value);

#endif
