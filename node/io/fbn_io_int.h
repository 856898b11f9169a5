/* fbn_io_int.h - what scan.c and kill.c share: a process read through its /proc/<pid>
 * directory descriptor (piddir), so that the look and the kill see the same process. */
#ifndef FBN_IO_INT_H
#define FBN_IO_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "fbn.h"

/* The first of its descriptors whose target is a GPU device (fbn_device_is_gpu; at most
 * FBN_SCAN_FDS_MAX looked at), in dev (devcap bytes, terminated): false when none. */
bool fbn__gpu_device_at(int piddir, const char *const *prefixes, char *dev, size_t devcap,
                        size_t *devlen);
/* The pod UID of its cgroup file (64 KiB at most), "" when in no pod's cgroup. */
void fbn__pod_uid_at(int piddir, char uid[FBN_POD_UID_MAX]);

#endif
