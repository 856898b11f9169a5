/* kill.c - act mode's kill of a pod's processes (fbn_io.h, fbn_kill_pod). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fbn_io.h"
#include "fbn_io_int.h"

#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif
/* Whether the procfs at procfd is of this process's PID namespace (its "self" is us). */
static bool our_namespace(int procfd)
{
	char self[32];
	ssize_t n = readlinkat(procfd, "self", self, sizeof(self) - 1);
	if (n <= 0)
		return false;
	self[n] = '\0';
	return strtol(self, NULL, 10) == (long)getpid();
}

static int send_kill(int procfd, int dirfd, long pid, bool procfs)
{
	if (procfs) {
		int rc = (int)syscall(SYS_pidfd_send_signal, dirfd, SIGKILL, NULL, 0);
		/* no pidfd_send_signal (a kernel before 5.1, or valgrind): kill(2) by number, only
		 * where the number means the same process to us (the procfs of our PID namespace);
		 * the pid's reuse between the cgroup read and the signal is then possible, if
		 * unlikely within microseconds */
		if (rc != 0 && errno == ENOSYS) {
			if (our_namespace(procfd))
				return kill((pid_t)pid, SIGKILL);
			errno = ENOSYS;
		}
		return rc;
	}
	int fd = openat(dirfd, "killed", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -1;
	int rc = write(fd, "9\n", 2) == 2 ? 0 : -1;
	if (close(fd) != 0)
		rc = -1;
	return rc;
}

size_t fbn_kill_pod(const char *root, const char *uid, const char *const *prefixes, size_t *found,
                    char *why, size_t whycap)
{
	*found = 0;
	why[0] = '\0';
	char path[4096];
	if (snprintf(path, sizeof(path), "%s/proc", root) >= (int)sizeof(path)) {
		snprintf(why, whycap, "root path too long");
		return 0;
	}
	struct statfs sf;
	bool procfs = statfs(path, &sf) == 0 && sf.f_type == PROC_SUPER_MAGIC;
	int procfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = procfd >= 0 ? fdopendir(procfd) : NULL;
	if (!d) {
		snprintf(why, whycap, "cannot read %s: %s", path, strerror(errno));
		if (procfd >= 0)
			close(procfd);
		return 0;
	}
	size_t killed = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (pid <= 0 || *end)
			continue;
		int dirfd = openat(procfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (dirfd < 0)
			continue; /* exited meanwhile */
		char pod[FBN_POD_UID_MAX], dev[256];
		size_t devlen;
		fbn__pod_uid_at(dirfd, pod);
		/* the pod's processes that hold the GPU: their memory is the driver's; the pod's
		 * sandbox (pause) and a runtime's monitor (CRI-O's conmon) hold none */
		if (pod[0] && strcmp(pod, uid) == 0 &&
		    fbn__gpu_device_at(dirfd, prefixes, dev, sizeof(dev), &devlen)) {
			(*found)++;
			if (send_kill(procfd, dirfd, pid, procfs) == 0) {
				killed++;
			} else if (errno != ESRCH && !why[0]) {
				int err = errno;
				snprintf(why, whycap, "pid %ld: %s%s", pid, strerror(err),
				         err == EINVAL || err == ENOSYS
				                 ? " (not in the host's PID namespace: act mode needs hostPID)"
				         : err == EPERM ? " (act mode needs CAP_KILL)"
				                        : "");
			}
		}
		close(dirfd);
	}
	closedir(d);
	return killed;
}
