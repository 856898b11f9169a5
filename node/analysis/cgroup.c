/*
 * cgroup.c - what the pods' cgroups are charged: kubelet puts every pod under
 * one parent, kubepods (kubepods.slice with the systemd cgroup driver), whose
 * usage (v2 memory.current, v1 memory.usage_in_bytes) is all the memory any
 * pod is charged for. Memory in use beyond it belongs to the system's daemons,
 * the kernel, and what nobody is charged for.
 */
#include "fbn.h"
#include "fbn_int.h"

const char *const fbn_kubepods_usage_paths[] = {
	"sys/fs/cgroup/kubepods.slice/memory.current",
	"sys/fs/cgroup/kubepods/memory.current",
	"sys/fs/cgroup/memory/kubepods.slice/memory.usage_in_bytes",
	"sys/fs/cgroup/memory/kubepods/memory.usage_in_bytes",
	NULL,
};

bool fbn_cgroup_bytes_parse(const char *text, size_t len, uint64_t *bytes)
{
	size_t pos = 0, i = 0;
	fbn_line l;
	uint64_t v;
	if (!fbn__next_whole_line(text, len, &pos, &l) || pos != len || !fbn__u64(&l, &i, &v) ||
	    i != l.len)
		return false;
	*bytes = v;
	return true;
}
