/*
 * objmap.h - the informer cache's hash map, keyed by "namespace/name"
 * (cluster-scoped objects: "name"), as client-go's MetaNamespaceKeyFunc.
 *
 * Built for 150,000 entries at small overhead: an open-addressing table of
 * entry pointers (linear probing, load <= 3/4, backward-shift deletion, no
 * tombstones) and one allocation per entry holding the key inline. The map
 * never looks inside obj; its owner frees it.
 *
 * Not thread-safe: the informer guards it with its read-write lock.
 *
 * Why a second hash map next to kc_map (kc/map.h), the project's general one:
 * memory at informer scale. Measured with 150,000 keys of ~40 bytes
 * ("ns-042/workload-01234-7f9c8d6b5-x0042"), heap in use (glibc mallinfo2):
 * this map 94 bytes an entry (an 8-byte slot, one allocation for entry and
 * key); kc_map plus a separate {obj, rv, mark} entry 122 bytes (a 24-byte
 * slot, the key copied in a second allocation, the entry in a third), i.e.
 * 4 MB more per 150k-object informer. It also deletes without tombstones,
 * which the informer's steady churn of pods would otherwise pile up, and
 * looks keys up by (pointer, length) without a NUL-terminated copy.
 */
#ifndef KC_OBJMAP_H
#define KC_OBJMAP_H

#include <stddef.h>
#include <stdint.h>

#include "kc/error.h"

#define KC_OBJMAP_KEY_MAX 512 /* namespace (63) + '/' + name (253), with room to spare */

typedef struct kc_objent {
	void *obj;          /* the caller's projected object (owned by the map's owner) */
	int64_t rv;         /* metadata.resourceVersion as a number, -1 if not decimal */
	uint32_t hash;
	uint32_t mark;      /* generation of the last LIST that saw it (Replace) */
	char key[];         /* NUL-terminated */
} kc_objent;

typedef struct kc_objmap {
	kc_objent **slots;  /* cap entries, NULL = empty */
	size_t cap;         /* 0 or a power of two */
	size_t len;
} kc_objmap;

void kc__objmap_init(kc_objmap *m);
/* Free the table and every entry, calling free_obj(ud, e->obj) first if not NULL. */
void kc__objmap_release(kc_objmap *m, void (*free_obj)(void *ud, void *obj), void *ud);
/* The entry for key (len bytes, no NUL needed), or NULL. */
kc_objent *kc__objmap_get(const kc_objmap *m, const char *key, size_t len);
/*
 * Insert a new entry for key, which must not be present (check with get).
 * The entry starts with obj NULL, rv -1, mark 0. KC_ERR_NOMEM (map
 * unchanged), KC_ERR_INVALID for an empty key or one of KC_OBJMAP_KEY_MAX or
 * more bytes.
 */
kc_err kc__objmap_insert(kc_objmap *m, const char *key, size_t len, kc_objent **out);
/* Unlink and free e (not e->obj). e must be in m. */
void kc__objmap_remove(kc_objmap *m, kc_objent *e);
/* Parse a decimal resourceVersion; -1 for anything else (RVs are opaque). */
int64_t kc__rv_parse(const char *rv);

#endif
