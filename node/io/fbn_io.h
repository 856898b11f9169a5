/*
 * fbn_io.h - what firebreak-node reads from a node, or from a tree saved from
 * one (root "/" is the node itself): files capped in size, and the processes
 * holding a GPU device open. The analysis (fbn.h) gets the bytes; nothing here
 * decides anything.
 */
#ifndef FBN_IO_H
#define FBN_IO_H

#include <stddef.h>

#include "fbn.h"

/* The file root/rel, read whole and at most FBN_FILE_MAX bytes; NULL when it cannot be
 * read or is larger (said on stderr, unless it does not exist). Free with free(). */
char *fbn_read_capped(const char *root, const char *rel, size_t *len);

/*
 * One sample's files under root, each read with fbn_read_capped (absent: NULL):
 * in points at them, ready for fbn_analyze but for in.holders, which is the
 * caller's (fbn_scan_holders, when it is worth it). Release frees them.
 */
typedef struct fbn_files {
	char *meminfo, *pressure_memory, *vmstat, *slabinfo, *kubepods_usage;
	fbn_inputs in;
} fbn_files;

void fbn_files_read(const char *root, fbn_files *f);
void fbn_files_release(fbn_files *f);

/* At most this many open files of one process are looked at. */
#define FBN_SCAN_FDS_MAX 4096

/*
 * Every process under root/proc with a GPU device open (fbn_device_is_gpu with
 * prefixes), by pod (its root/proc/<pid>/cgroup). Processes that vanish or
 * cannot be read while it looks are skipped. h->scanned says root/proc could be
 * listed.
 */
void fbn_scan_holders(const char *root, const char *const *prefixes, fbn_holders *h);

#endif
