/* map.c - see kc/map.h. FNV-1a hashing (kc/hash.h); grows at 70 % load, tombstones counted. */
#include <string.h>

#include "kc/alloc.h"
#include "kc/hash.h"
#include "kc/map.h"

static char tomb;
#define KC_MAP_TOMB (&tomb)

static size_t hash_str(const char *s)
{
	return (size_t)kc_fnv1a64(s, strlen(s));
}

void kc_map_init(kc_map *m)
{
	memset(m, 0, sizeof(*m));
}

void kc_map_release(kc_map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key && m->slots[i].key != KC_MAP_TOMB)
			kc_free(m->slots[i].key);
	kc_free(m->slots);
	memset(m, 0, sizeof(*m));
}

static kc_map_slot *find(const kc_map *m, const char *key, size_t h)
{
	if (!m->cap)
		return NULL;
	for (size_t i = h & (m->cap - 1), n = 0; n < m->cap; i = (i + 1) & (m->cap - 1), n++) {
		kc_map_slot *s = &m->slots[i];
		if (!s->key)
			return NULL;
		if (s->key != KC_MAP_TOMB && s->hash == h && strcmp(s->key, key) == 0)
			return s;
	}
	return NULL;
}

static int grow(kc_map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 16;
	if (m->len * 10 < m->cap * 4) /* mostly tombstones: rehash at the same size */
		cap = m->cap;
	kc_map_slot *slots = kc_calloc(cap, sizeof(*slots));
	if (!slots)
		return -1;
	for (size_t i = 0; i < m->cap; i++) {
		kc_map_slot *s = &m->slots[i];
		if (!s->key || s->key == KC_MAP_TOMB)
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

void *kc_map_get(const kc_map *m, const char *key)
{
	kc_map_slot *s = find(m, key, hash_str(key));
	return s ? s->value : NULL;
}

int kc_map_put(kc_map *m, const char *key, void *value, void **old)
{
	size_t h = hash_str(key);
	kc_map_slot *s = find(m, key, h);
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
	while (m->slots[i].key && m->slots[i].key != KC_MAP_TOMB)
		i = (i + 1) & (m->cap - 1);
	if (!m->slots[i].key)
		m->used++;
	m->slots[i] = (kc_map_slot){ copy, value, h };
	m->len++;
	return 0;
}

void *kc_map_del(kc_map *m, const char *key)
{
	kc_map_slot *s = find(m, key, hash_str(key));
	if (!s)
		return NULL;
	void *v = s->value;
	kc_free(s->key);
	s->key = KC_MAP_TOMB;
	s->value = NULL;
	m->len--;
	return v;
}

bool kc_map_next(const kc_map *m, size_t *iter, const char **key, void **value)
{
	for (; *iter < m->cap; (*iter)++) {
		kc_map_slot *s = &m->slots[*iter];
		if (s->key && s->key != KC_MAP_TOMB) {
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
