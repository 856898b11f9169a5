/*
 * attribute.c - which pod holds a GPU: processes with a GPU or DRM device
 * open (the links of /proc/<pid>/fd pointing at /dev/nvidia..., /dev/dri/..., /dev/kfd, ...),
 * mapped to the pod whose cgroup they run in (/proc/<pid>/cgroup).
 *
 * kubelet names a pod's cgroup after its UID: with the cgroupfs driver
 * ".../kubepods/<qos>/pod<uid>/<container>" (cgroup v1 and v2 alike), with
 * the systemd driver ".../kubepods-<qos>-pod<uid with _ for ->.slice/..."
 * (pkg/kubelet/cm/cgroup_manager_linux.go: ConvertCgroupNameToSystemd escapes
 * '-' as '_'). A process in no pod's cgroup holds the device for the node
 * itself (a daemon, the driver's persistence daemon) and names no pod.
 */
#include <stdio.h>
#include <string.h>

#include "fbn.h"
#include "fbn_int.h"

const char *const fbn_default_device_prefixes[] = { "/dev/nvidia", "/dev/dri/", "/dev/kfd",
	                                            "/dev/accel/", NULL };

static bool hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* A pod UID at s (36 chars, '-' or '_' at 8, 13, 18, 23), written with '-' to uid. */
static bool uid_at(const char *s, size_t n, char uid[FBN_POD_UID_MAX])
{
	if (n < 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? (s[i] != '-' && s[i] != '_') : !hex(s[i]))
			return false;
		uid[i] = dash ? '-' : s[i];
	}
	/* the UID ends there: a path separator, ".slice", or the end */
	if (n > 36 && s[36] != '/' && s[36] != '.')
		return false;
	uid[36] = '\0';
	return true;
}

bool fbn_pod_uid_from_cgroup(const char *text, size_t len, char uid[FBN_POD_UID_MAX])
{
	size_t pos = 0;
	fbn_line l;
	while (fbn__next_whole_line(text, len, &pos, &l)) {
		/* "hierarchy-ID:controllers:path" */
		const char *c1 = memchr(l.s, ':', l.len);
		const char *c2 = c1 ? memchr(c1 + 1, ':', l.len - (size_t)(c1 + 1 - l.s)) : NULL;
		if (!c2)
			continue;
		const char *path = c2 + 1, *end = l.s + l.len;
		bool kubepods = false;
		for (const char *p = path; p + 8 <= end && !kubepods; p++)
			kubepods = memcmp(p, "kubepods", 8) == 0;
		if (!kubepods)
			continue;
		for (const char *p = path; p + 3 < end; p++) {
			if (memcmp(p, "pod", 3) != 0 || (p > path && p[-1] != '/' && p[-1] != '-'))
				continue;
			if (uid_at(p + 3, (size_t)(end - p - 3), uid))
				return true;
		}
	}
	return false;
}

bool fbn_device_is_gpu(const char *target, size_t len, const char *const *prefixes)
{
	if (!prefixes)
		prefixes = fbn_default_device_prefixes;
	for (size_t i = 0; prefixes[i]; i++) {
		size_t n = strlen(prefixes[i]);
		if (n && len >= n && memcmp(target, prefixes[i], n) == 0)
			return true;
	}
	return false;
}

void fbn_holders_add(fbn_holders *h, const char *uid, int pid, const char *device, size_t len,
                     int64_t start_ticks)
{
	fbn_holder *x = NULL;
	for (size_t i = 0; i < h->n && !x; i++)
		if (strcmp(h->v[i].pod_uid, uid) == 0)
			x = &h->v[i];
	if (!x) {
		if (h->n == FBN_HOLDERS_MAX) {
			h->dropped++;
			return;
		}
		x = &h->v[h->n++];
		memset(x, 0, sizeof(*x));
		snprintf(x->pod_uid, sizeof(x->pod_uid), "%s", uid);
		size_t n = len < sizeof(x->device) - 1 ? len : sizeof(x->device) - 1;
		memcpy(x->device, device, n);
		x->device[n] = '\0';
	}
	if (start_ticks >= 0 && (!x->have_start || (uint64_t)start_ticks < x->start_ticks)) {
		x->have_start = true;
		x->start_ticks = (uint64_t)start_ticks;
	}
	for (size_t i = 0; i < x->npids; i++)
		if (x->pids[i] == pid)
			return; /* another of its descriptors */
	x->pid_count++;
	if (x->npids < FBN_HOLDER_PIDS_MAX)
		x->pids[x->npids++] = pid;
}
