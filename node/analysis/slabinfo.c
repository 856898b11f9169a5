/*
 * slabinfo.c - /proc/slabinfo (mm/slab_common.c: "slabinfo - version: 2.1",
 * then per cache "name active_objs num_objs objsize objperslab pagesperslab :
 * tunables limit batchcount sharedfactor : slabdata active_slabs num_slabs
 * sharedavail"). Root-only on most kernels: absent is normal.
 *
 * A driver that pins memory for a process often keeps a cache of its own
 * describing each page (the incident's nvidia_pte_cache held 8.6 million
 * objects for ~31 GiB of pages): such a cache, growing, points at the driver.
 */
#include <string.h>

#include "fbn.h"
#include "fbn_int.h"

const char *const fbn_default_slab_prefixes[] = { "nvidia", "nv_", "amdgpu", "drm_", "i915",
	                                          "kfd", "habanalabs", NULL };

/* Keep s among the n largest of list (cap FBN_SLABS_TOP), largest first. */
static void keep_largest(fbn_slab *list, size_t *n, const fbn_slab *s)
{
	size_t at = *n;
	while (at > 0 && list[at - 1].bytes < s->bytes)
		at--;
	if (at >= FBN_SLABS_TOP)
		return;
	size_t last = *n < FBN_SLABS_TOP ? *n : FBN_SLABS_TOP - 1;
	memmove(list + at + 1, list + at, (last - at) * sizeof(*list));
	list[at] = *s;
	if (*n < FBN_SLABS_TOP)
		(*n)++;
}

static bool suspect(const char *name, const char *const *prefixes)
{
	for (size_t i = 0; prefixes[i]; i++)
		if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return false;
}

/* One cache's line; false if it is not one. */
static bool cache_line(const fbn_line *l, unsigned page_kb, fbn_slab *out)
{
	size_t i = 0;
	while (i < l->len && l->s[i] != ' ' && l->s[i] != '\t')
		i++;
	if (i == 0 || i >= FBN_SLAB_NAME_MAX)
		return false;
	fbn_slab s = { 0 };
	memcpy(s.name, l->s, i);
	s.name[i] = '\0';
	if (memchr(s.name, '\0', i)) /* a NUL inside the name */
		return false;
	uint64_t v[5];
	for (int k = 0; k < 5; k++) {
		fbn__skip_blanks(l, &i);
		if (!fbn__u64(l, &i, &v[k]))
			return false;
	}
	/* ": tunables a b c : slabdata active_slabs num_slabs sharedavail" */
	uint64_t t[3], d[3];
	fbn__skip_blanks(l, &i);
	if (!fbn__word(l, &i, ":"))
		return false;
	fbn__skip_blanks(l, &i);
	if (!fbn__word(l, &i, "tunables"))
		return false;
	for (int k = 0; k < 3; k++) {
		fbn__skip_blanks(l, &i);
		if (!fbn__u64(l, &i, &t[k]))
			return false;
	}
	fbn__skip_blanks(l, &i);
	if (!fbn__word(l, &i, ":"))
		return false;
	fbn__skip_blanks(l, &i);
	if (!fbn__word(l, &i, "slabdata"))
		return false;
	for (int k = 0; k < 3; k++) {
		fbn__skip_blanks(l, &i);
		if (!fbn__u64(l, &i, &d[k]))
			return false;
	}
	fbn__skip_blanks(l, &i);
	if (i != l->len)
		return false;
	s.objects = v[0];
	/* num_slabs x pagesperslab pages; a forged line saturates */
	uint64_t pages = v[4] && d[1] > UINT64_MAX / v[4] ? UINT64_MAX : d[1] * v[4];
	s.bytes = pages > UINT64_MAX / 1024 / (page_kb ? page_kb : 4)
	                  ? UINT64_MAX : pages * (page_kb ? page_kb : 4) * 1024;
	*out = s;
	return true;
}

void fbn_slabinfo_parse(const char *text, size_t len, const char *const *prefixes,
                        unsigned page_kb, fbn_slabinfo *out)
{
	memset(out, 0, sizeof(*out));
	if (!prefixes)
		prefixes = fbn_default_slab_prefixes;
	size_t pos = 0;
	fbn_line l;
	if (!fbn__next_whole_line(text, len, &pos, &l) || l.len < 22 || memcmp(l.s, "slabinfo - version: 2.", 22) != 0)
		return;
	out->present = true;
	while (fbn__next_whole_line(text, len, &pos, &l)) {
		if (l.len && l.s[0] == '#')
			continue;
		fbn_slab s;
		if (!cache_line(&l, page_kb, &s)) {
			out->bad_lines++;
			continue;
		}
		out->total_bytes = out->total_bytes > UINT64_MAX - s.bytes ? UINT64_MAX
		                                                            : out->total_bytes + s.bytes;
		keep_largest(out->top, &out->ntop, &s);
		if (suspect(s.name, prefixes))
			keep_largest(out->suspects, &out->nsuspects, &s);
	}
}
