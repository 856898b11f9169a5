/* map.c - see map.h. FNV-1a hashing; grows at 70 % load, tombstones counted. */
#include <string.h>

#include "kc/alloc.h"
#include "map.h"

static char tomb;
#define FB_MAP_TOMB (&tomb)

static size_t hash_str(const char *s)
{
	size_t h = 1469598103934665603ULL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

void fb_map_init(fb_map *m)
{
	memset(m, 0, sizeof(*m));
}

void fb_map_release(fb_map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key && m->slots[i].key != FB_MAP_TOMB)
			kc_free(m->slots[i].key);
	kc_free(m->slots);
	memset(m, 0, sizeof(*m));
}

static fb_map_slot *find(const fb_map *m, const char *key, size_t h)
{
	if (!m->cap)
		return NULL;
	for (size_t i = h & (m->cap - 1), n = 0; n < m->cap; i = (i + 1) & (m->cap - 1), n++) {
		fb_map_slot *s = &m->slots[i];
		if (!s->key)
			return NULL;
		if (s->key != FB_MAP_TOMB && s->hash == h && strcmp(s->key, key) == 0)
			return s;
	}
	return NULL;
}

static int grow(fb_map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 16;
	if (m->len * 10 < m->cap * 4) /* mostly tombstones: rehash at the same size */
		cap = m->cap;
	fb_map_slot *slots = kc_calloc(cap, sizeof(*slots));
	if (!slots)
		return -1;
	for (size_t i = 0; i < m->cap; i++) {
		fb_map_slot *s = &m->slots[i];
		if (!s->key || s->key == FB_MAP_TOMB)
			continue;
		size_t j = s->hash & (cap - 1);
		while (slots[j].key)
			j = (j + 1) & (cap - 1);
		slots[j] = *s;
	}
	kc_free(m->slots);
	m->slots = slots;
	m->cap = cap;
	m->used = m->len;
	return 0;
}

void *fb_map_get(const fb_map *m, const char *key)
{
	fb_map_slot *s = find(m, key, hash_str(key));
	return s ? s->value : NULL;
}

int fb_map_put(fb_map *m, const char *key, void *value, void **old)
{
	size_t h = hash_str(key);
	fb_map_slot *s = find(m, key, h);
	if (s) {
		if (old)
			*old = s->value;
		s->value = value;
		return 0;
	}
	if (old)
		*old = NULL;
	if ((m->used + 1) * 10 > m->cap * 7 && grow(m) != 0)
		return -1;
	char *copy = kc_strdup(key);
	if (!copy)
		return -1;
	size_t i = h & (m->cap - 1);
	while (m->slots[i].key && m->slots[i].key != FB_MAP_TOMB)
		i = (i + 1) & (m->cap - 1);
	if (!m->slots[i].key)
		m->used++;
	m->slots[i] = (fb_map_slot){ copy, value, h };
	m->len++;
	return 0;
}

void *fb_map_del(fb_map *m, const char *key)
{
	fb_map_slot *s = find(m, key, hash_str(key));
	if (!s)
		return NULL;
	void *v = s->value;
	kc_free(s->key);
	s->key = FB_MAP_TOMB;
	s->value = NULL;
	m->len--;
	return v;
}

bool fb_map_next(const fb_map *m, size_t *iter, const char **key, void **value)
{
	for (; *iter < m->cap; (*iter)++) {
		fb_map_slot *s = &m->slots[*iter];
		if (s->key && s->key != FB_MAP_TOMB) {
			if (key)
				*key = s->key;
			if (value)
				*value = s->value;
			(*iter)++;
			return true;
		}
	}
	return false;
}
