/*
 * meminfo.c - /proc/meminfo, and the memory in use that none of its categories
 * accounts for.
 *
 * The categories are those fs/proc/meminfo.c (meminfo_proc_show) prints in
 * Linux 6.x, where each is a distinct use of pages: the page cache (Cached,
 * which holds Shmem and file huge pages; Buffers; SwapCached), anonymous
 * memory (AnonPages, which holds AnonHugePages), slab (KReclaimable holds
 * SReclaimable and the other reclaimable kernel memory; SUnreclaim), kernel
 * stacks and shadow call stacks, page tables (PageTables, SecPageTables),
 * vmalloc (VmallocUsed: pages, since 5.3), per-cpu areas (Percpu), the zswap
 * pool, memory not accepted yet (Unaccepted), the balloon, and hugetlb pages
 * (Hugetlb, every size; before 5.x HugePages_Total x Hugepagesize). Subsets of
 * these (Active/Inactive, Mlocked, Dirty, Writeback, Mapped, Shmem, *HugePages)
 * are not added again. What is left of MemTotal - MemFree is memory the kernel
 * handed out without counting it in any of them: pages a driver allocated
 * directly (alloc_pages: a GPU driver's pinned memory), network buffers, and
 * the like; no memory cgroup is charged for most of it.
 */
#include <stdio.h>
#include <string.h>

#include "fbn.h"
#include "fbn_int.h"

static const char *const names[FBN_MEM_N] = {
	[FBN_MEM_TOTAL] = "MemTotal",
	[FBN_MEM_FREE] = "MemFree",
	[FBN_MEM_AVAILABLE] = "MemAvailable",
	[FBN_MEM_BUFFERS] = "Buffers",
	[FBN_MEM_CACHED] = "Cached",
	[FBN_MEM_SWAP_CACHED] = "SwapCached",
	[FBN_MEM_ANON] = "AnonPages",
	[FBN_MEM_SHMEM] = "Shmem",
	[FBN_MEM_SLAB] = "Slab",
	[FBN_MEM_SRECLAIMABLE] = "SReclaimable",
	[FBN_MEM_SUNRECLAIM] = "SUnreclaim",
	[FBN_MEM_KRECLAIMABLE] = "KReclaimable",
	[FBN_MEM_KERNEL_STACK] = "KernelStack",
	[FBN_MEM_SHADOW_STACK] = "ShadowCallStack",
	[FBN_MEM_PAGE_TABLES] = "PageTables",
	[FBN_MEM_SEC_PAGE_TABLES] = "SecPageTables",
	[FBN_MEM_VMALLOC_USED] = "VmallocUsed",
	[FBN_MEM_PERCPU] = "Percpu",
	[FBN_MEM_ZSWAP] = "Zswap",
	[FBN_MEM_UNACCEPTED] = "Unaccepted",
	[FBN_MEM_BALLOON] = "Balloon",
	[FBN_MEM_HUGETLB] = "Hugetlb",
	[FBN_MEM_HUGEPAGES_TOTAL] = "HugePages_Total",
	[FBN_MEM_HUGEPAGESIZE] = "Hugepagesize",
	[FBN_MEM_SWAP_TOTAL] = "SwapTotal",
	[FBN_MEM_SWAP_FREE] = "SwapFree",
};

bool fbn_meminfo_has(const fbn_meminfo *m, fbn_mem_field f)
{
	return (m->present >> f) & 1u;
}

/* "Name:   123 kB" or "Name:   123": false if the line is anything else. */
static bool parse_line(const fbn_line *l, fbn_mem_field *f, uint64_t *v)
{
	const char *colon = memchr(l->s, ':', l->len);
	if (!colon)
		return false;
	size_t nlen = (size_t)(colon - l->s);
	int field = -1;
	for (int i = 0; i < FBN_MEM_N; i++)
		if (strlen(names[i]) == nlen && memcmp(names[i], l->s, nlen) == 0)
			field = i;
	size_t i = nlen + 1;
	fbn__skip_blanks(l, &i);
	uint64_t value;
	if (!fbn__u64(l, &i, &value))
		return false;
	fbn__skip_blanks(l, &i);
	if (i < l->len) {
		if (l->len - i != 2 || memcmp(l->s + i, "kB", 2) != 0)
			return false;
		i += 2;
	}
	if (field < 0)
		return true; /* a line of another field: read, not kept */
	*f = (fbn_mem_field)field;
	*v = value;
	return true;
}

void fbn_meminfo_parse(const char *text, size_t len, fbn_meminfo *out)
{
	memset(out, 0, sizeof(*out));
	size_t pos = 0;
	fbn_line l;
	while (fbn__next_whole_line(text, len, &pos, &l)) {
		fbn_mem_field f = FBN_MEM_N;
		uint64_t v = 0;
		if (!parse_line(&l, &f, &v)) {
			out->bad_lines++;
			continue;
		}
		if (f < FBN_MEM_N) {
			out->kb[f] = v;
			out->present |= 1u << f;
		}
	}
	/* the hugetlb lines come after every category the computation reads */
	out->complete = len > 0 && text[len - 1] == '\n' &&
	                fbn_meminfo_has(out, FBN_MEM_HUGEPAGES_TOTAL);
}

/* Printed by every kernel since 4.x: without one of them, unaccounted is not known. */
static const fbn_mem_field required[] = {
	FBN_MEM_TOTAL, FBN_MEM_FREE, FBN_MEM_BUFFERS, FBN_MEM_CACHED, FBN_MEM_SWAP_CACHED,
	FBN_MEM_ANON, FBN_MEM_SRECLAIMABLE, FBN_MEM_SUNRECLAIM, FBN_MEM_KERNEL_STACK,
	FBN_MEM_PAGE_TABLES, FBN_MEM_VMALLOC_USED,
};

/* Added when the kernel prints them (newer kernels, some configurations). */
static const fbn_mem_field optional[] = {
	FBN_MEM_SHADOW_STACK, FBN_MEM_SEC_PAGE_TABLES, FBN_MEM_PERCPU, FBN_MEM_ZSWAP,
	FBN_MEM_UNACCEPTED, FBN_MEM_BALLOON,
};

/* a + b, saturating (a forged file may hold numbers of 19 digits) */
static uint64_t add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

bool fbn_unaccounted_kb(const fbn_meminfo *m, int64_t *kb, char *why, size_t whycap)
{
	char missing[128] = "";
	size_t n = 0;
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (!fbn_meminfo_has(m, required[i]) && n < sizeof(missing)) {
			int k = snprintf(missing + n, sizeof(missing) - n, "%s%s", n ? ", " : "",
			                 names[required[i]]);
			n += k > 0 ? (size_t)k : 0;
		}
	if (missing[0] || !m->complete) {
		if (why)
			snprintf(why, whycap, "%s%s%s", missing[0] ? "missing " : "", missing,
			         !m->complete ? (missing[0] ? "; the file is cut short"
			                                    : "the file is cut short (no hugetlb lines)")
			                      : "");
		return false;
	}
	uint64_t used = m->kb[FBN_MEM_TOTAL] > m->kb[FBN_MEM_FREE]
	                        ? m->kb[FBN_MEM_TOTAL] - m->kb[FBN_MEM_FREE] : 0;
	uint64_t acc = 0;
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (required[i] != FBN_MEM_TOTAL && required[i] != FBN_MEM_FREE &&
		    required[i] != FBN_MEM_SRECLAIMABLE)
			acc = add(acc, m->kb[required[i]]);
	/* KReclaimable (4.20+) holds SReclaimable and more */
	acc = add(acc, fbn_meminfo_has(m, FBN_MEM_KRECLAIMABLE) &&
	                       m->kb[FBN_MEM_KRECLAIMABLE] >= m->kb[FBN_MEM_SRECLAIMABLE]
	                       ? m->kb[FBN_MEM_KRECLAIMABLE] : m->kb[FBN_MEM_SRECLAIMABLE]);
	for (size_t i = 0; i < sizeof(optional) / sizeof(optional[0]); i++)
		acc = add(acc, m->kb[optional[i]]);
	/* hugetlb: every size (Hugetlb:), else the default size's pool */
	if (fbn_meminfo_has(m, FBN_MEM_HUGETLB))
		acc = add(acc, m->kb[FBN_MEM_HUGETLB]);
	else if (m->kb[FBN_MEM_HUGEPAGES_TOTAL] < (1ull << 32) &&
	         m->kb[FBN_MEM_HUGEPAGESIZE] < (1ull << 31))
		acc = add(acc, m->kb[FBN_MEM_HUGEPAGES_TOTAL] * m->kb[FBN_MEM_HUGEPAGESIZE]);
	if (acc > (uint64_t)INT64_MAX || used > (uint64_t)INT64_MAX) {
		if (why)
			snprintf(why, whycap, "numbers out of range");
		return false;
	}
	*kb = (int64_t)used - (int64_t)acc;
	return true;
}
