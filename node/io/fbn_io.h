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

/*
 * SIGKILL every process under root/proc in pod uid's cgroup that holds a GPU device open (a
 * descriptor linking to a path that starts with one of prefixes; NULL: the default list) (act
 * mode, fbn_act_decide): the driver's memory goes with the last descriptor, and the pod's
 * sandbox (pause) or a runtime's monitor (CRI-O's conmon) is never touched. Each
 * process is opened as its /proc/<pid> directory, its cgroup read through that descriptor, and the
 * signal sent through it with pidfd_send_signal (Linux 5.1+): a pid reused meanwhile is never
 * signalled. That needs the agent in the host's PID namespace (hostPID; else EINVAL) and
 * CAP_KILL (else EPERM). Without pidfd_send_signal (ENOSYS: Linux < 5.1, valgrind) it falls
 * back to kill(2), only when root/proc is the procfs of the agent's own PID namespace.
 * When root/proc is not a procfs (a recorded or simulated tree: e2e's fakelet writes one), no
 * signal can be sent: the kill is recorded as a file "killed" holding "9" in the process's
 * directory, which the simulator acts on.
 * Returns the processes signalled (or recorded); *found counts the pod's processes seen; why
 * says what failed (the first error), "" when nothing did.
 */
size_t fbn_kill_pod(const char *root, const char *uid, const char *const *prefixes, size_t *found,
                    char *why, size_t whycap);

#endif
