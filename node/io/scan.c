/* scan.c - reading a node's files and its processes' open devices (fbn_io.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fbn_io.h"
#include "fbn_io_int.h"

char *fbn_read_capped(const char *root, const char *rel, size_t *len)
{
	char path[4096];
	int n = snprintf(path, sizeof(path), "%s/%s", root, rel);
	*len = 0;
	if (n < 0 || (size_t)n >= sizeof(path)) {
		fprintf(stderr, "firebreak-node: path too long: %s/%s\n", root, rel);
		return NULL;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			fprintf(stderr, "firebreak-node: cannot read %s: %s\n", path, strerror(errno));
		return NULL;
	}
	size_t cap = 64 * 1024, used = 0;
	char *buf = malloc(cap);
	while (buf) {
		if (used == cap) {
			if (cap > FBN_FILE_MAX) {
				fprintf(stderr, "firebreak-node: %s is larger than %u bytes: not read\n", path,
				        FBN_FILE_MAX);
				free(buf);
				buf = NULL;
				break;
			}
			char *bigger = realloc(buf, cap * 2);
			if (!bigger) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = bigger;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + used, cap - used);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "firebreak-node: cannot read %s: %s\n", path, strerror(errno));
			free(buf);
			buf = NULL;
			break;
		}
		if (r == 0)
			break;
		used += (size_t)r;
	}
	close(fd);
	*len = buf ? used : 0;
	return buf;
}

void fbn_files_read(const char *root, fbn_files *f)
{
	memset(f, 0, sizeof(*f));
	fbn_inputs *in = &f->in;
	in->meminfo = f->meminfo = fbn_read_capped(root, "proc/meminfo", &in->meminfo_len);
	in->pressure_memory = f->pressure_memory =
	        fbn_read_capped(root, "proc/pressure/memory", &in->pressure_memory_len);
	in->vmstat = f->vmstat = fbn_read_capped(root, "proc/vmstat", &in->vmstat_len);
	in->slabinfo = f->slabinfo = fbn_read_capped(root, "proc/slabinfo", &in->slabinfo_len);
	for (size_t i = 0; fbn_kubepods_usage_paths[i] && !f->kubepods_usage; i++)
		if ((f->kubepods_usage = fbn_read_capped(root, fbn_kubepods_usage_paths[i],
		                                         &in->kubepods_usage_len)))
			in->kubepods_path = fbn_kubepods_usage_paths[i];
	in->kubepods_usage = f->kubepods_usage;
}

void fbn_files_release(fbn_files *f)
{
	free(f->meminfo);
	free(f->pressure_memory);
	free(f->vmstat);
	free(f->slabinfo);
	free(f->kubepods_usage);
	memset(f, 0, sizeof(*f));
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

bool fbn__gpu_device_at(int piddir, const char *const *prefixes, char *dev, size_t devcap,
                        size_t *devlen)
{
	int fdfd = openat(piddir, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fdfd >= 0 ? fdopendir(fdfd) : NULL;
	if (!d) {
		if (fdfd >= 0)
			close(fdfd);
		return false;
	}
	struct dirent *e;
	bool found = false;
	for (int seen = 0; !found && seen < FBN_SCAN_FDS_MAX && (e = readdir(d)); seen++) {
		if (!all_digits(e->d_name))
			continue;
		ssize_t n = readlinkat(fdfd, e->d_name, dev, devcap - 1);
		if (n <= 0)
			continue;
		dev[n] = '\0';
		if (fbn_device_is_gpu(dev, (size_t)n, prefixes)) {
			*devlen = (size_t)n;
			found = true;
		}
	}
	closedir(d);
	return found;
}

#define CGROUP_FILE_MAX (64u << 10)

void fbn__pod_uid_at(int piddir, char uid[FBN_POD_UID_MAX])
{
	uid[0] = '\0';
	int fd = openat(piddir, "cgroup", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	char *buf = malloc(CGROUP_FILE_MAX);
	size_t len = 0;
	ssize_t n;
	while (buf && len < CGROUP_FILE_MAX && (n = read(fd, buf + len, CGROUP_FILE_MAX - len)) > 0)
		len += (size_t)n;
	close(fd);
	if (buf && !fbn_pod_uid_from_cgroup(buf, len, uid))
		uid[0] = '\0';
	free(buf);
}

void fbn_scan_holders(const char *root, const char *const *prefixes, fbn_holders *h)
{
	memset(h, 0, sizeof(*h));
	char proc[4096];
	if (snprintf(proc, sizeof(proc), "%s/proc", root) >= (int)sizeof(proc))
		return;
	DIR *d = opendir(proc);
	if (!d)
		return;
	h->scanned = true;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!all_digits(e->d_name) || strlen(e->d_name) > 9)
			continue;
		int piddir = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (piddir < 0)
			continue; /* exited meanwhile */
		char dev[256], uid[FBN_POD_UID_MAX] = "";
		size_t devlen = 0;
		bool gpu = fbn__gpu_device_at(piddir, prefixes, dev, sizeof(dev), &devlen);
		if (gpu)
			fbn__pod_uid_at(piddir, uid);
		close(piddir);
		if (!gpu)
			continue;
		char rel[300];
		size_t len;
		snprintf(rel, sizeof(rel), "proc/%s/stat", e->d_name);
		char *st = fbn_read_capped(root, rel, &len);
		uint64_t ticks;
		int64_t start = st && fbn_proc_starttime(st, len, &ticks) && ticks <= INT64_MAX
		                        ? (int64_t)ticks : -1;
		free(st);
		fbn_holders_add(h, uid, (int)strtol(e->d_name, NULL, 10), dev, devlen, start);
	}
	closedir(d);
}
