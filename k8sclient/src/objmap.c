/*
 * objmap.c - open-addressing hash map of projected objects (see objmap.h).
 */
#include <stdbool.h>
#include <string.h>

#include "kc/alloc.h"
#include "kc/hash.h"
#include "objmap.h"

#define OBJMAP_MIN_CAP 16

/* FNV-1a, 32 bits: keys are short and not chosen to collide by the server's
 * users in ways that matter more than any other hash (names are validated
 * DNS labels and subdomains). */
static uint32_t key_hash(const char *s, size_t n)
{
	return kc_fnv1a32(s, n);
}

void kc__objmap_init(kc_objmap *m)
{
	m->slots = NULL;
	m->cap = 0;
	m->len = 0;
}

void kc__objmap_release(kc_objmap *m, void (*free_obj)(void *ud, void *obj), void *ud)
{
	for (size_t i = 0; i < m->cap; i++) {
		kc_objent *e = m->slots[i];
		if (!e)
			continue;
		if (free_obj && e->obj)
			free_obj(ud, e->obj);
		kc_free(e);
	}
	kc_free(m->slots);
	kc__objmap_init(m);
}

static size_t find_slot(const kc_objmap *m, const char *key, size_t len, uint32_t h)
{
	size_t mask = m->cap - 1;
	size_t i = h & mask;
	for (;;) {
		kc_objent *e = m->slots[i];
		if (!e)
			return i;
		if (e->hash == h && strncmp(e->key, key, len) == 0 && e->key[len] == '\0')
			return i;
		i = (i + 1) & mask;
	}
}

kc_objent *kc__objmap_get(const kc_objmap *m, const char *key, size_t len)
{
	if (m->cap == 0)
		return NULL;
	return m->slots[find_slot(m, key, len, key_hash(key, len))];
}

static kc_err grow(kc_objmap *m)
{
	size_t ncap = m->cap ? m->cap * 2 : OBJMAP_MIN_CAP;
	if (ncap < m->cap || ncap > SIZE_MAX / sizeof(kc_objent *))
		return KC_ERR_NOMEM;
	kc_objent **ns = kc_calloc(ncap, sizeof(*ns));
	if (!ns)
		return KC_ERR_NOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		kc_objent *e = m->slots[i];
		if (!e)
			continue;
		size_t j = e->hash & (ncap - 1);
		while (ns[j])
			j = (j + 1) & (ncap - 1);
		ns[j] = e;
	}
	kc_free(m->slots);
	m->slots = ns;
	m->cap = ncap;
	return KC_OK;
}

kc_err kc__objmap_insert(kc_objmap *m, const char *key, size_t len, kc_objent **out)
{
	if (len == 0 || len >= KC_OBJMAP_KEY_MAX || memchr(key, '\0', len))
		return KC_ERR_INVALID;
	/* keep load <= 3/4 so probe sequences stay short */
	if ((m->len + 1) * 4 > m->cap * 3) {
		kc_err err = grow(m);
		if (err)
			return err;
	}
	kc_objent *e = kc_malloc(sizeof(*e) + len + 1);
	if (!e)
		return KC_ERR_NOMEM;
	e->obj = NULL;
	e->rv = -1;
	e->mark = 0;
	e->hash = key_hash(key, len);
	memcpy(e->key, key, len);
	e->key[len] = '\0';
	size_t i = find_slot(m, key, len, e->hash);
	m->slots[i] = e; /* the caller promised key is absent: i is empty */
	m->len++;
	*out = e;
	return KC_OK;
}

/* Free slot i and shift later members of its probe run back (Knuth 6.4 R). */
static void remove_at(kc_objmap *m, size_t i)
{
	size_t mask = m->cap - 1;
	kc_free(m->slots[i]);
	m->slots[i] = NULL;
	m->len--;
	size_t j = i;
	for (;;) {
		j = (j + 1) & mask;
		kc_objent *e = m->slots[j];
		if (!e)
			return;
		size_t home = e->hash & mask;
		/* e may move to i only if its home is not cyclically in (i, j] */
		bool in_range = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
		if (in_range)
			continue;
		m->slots[i] = e;
		m->slots[j] = NULL;
		i = j;
	}
}

void kc__objmap_remove(kc_objmap *m, kc_objent *e)
{
	size_t i = find_slot(m, e->key, strlen(e->key), e->hash);
	if (m->slots[i] == e)
		remove_at(m, i);
}

int64_t kc__rv_parse(const char *rv)
{
	if (!rv || !rv[0] || strlen(rv) > 18)
		return -1;
	int64_t v = 0;
	for (const char *p = rv; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
	}
	return v;
}
