/*
 * firebreak-node: the node agent (issue 16). So far its offline diagnosis:
 *
 *   firebreak-node analyze --root DIR
 *
 * reads DIR/proc/meminfo, DIR/proc/pressure/memory, DIR/proc/vmstat,
 * DIR/proc/slabinfo and the pods' cgroup usage under DIR/sys/fs/cgroup (v1 or
 * v2, either cgroup driver; any of them may be missing; --root / reads this
 * machine's), and prints the analysis (node/analysis/fbn.h) as JSON: the
 * memory no /proc/meminfo category accounts for, thrashing, the largest and
 * the suspect slab caches, and the flags they raise. Exit status 0 when it
 * printed a report, 2 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fbn.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: firebreak-node analyze --root DIR\n"
	           "  Reads DIR/proc/{meminfo,pressure/memory,vmstat,slabinfo} (any may be missing)\n"
	           "  and prints its verdict as JSON.\n");
}

/*
 * The file root/rel, read whole (at most FBN_FILE_MAX bytes): NULL when it
 * cannot be read or is larger, said on stderr unless it does not exist.
 */
static char *read_capped(const char *root, const char *rel, size_t *len)
{
	char path[4096];
	int n = snprintf(path, sizeof(path), "%s/%s", root, rel);
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
	*len = used;
	return buf;
}

static int analyze(const char *root)
{
	fbn_inputs in = { 0 };
	char *mi = read_capped(root, "proc/meminfo", &in.meminfo_len);
	char *psi = read_capped(root, "proc/pressure/memory", &in.pressure_memory_len);
	char *vm = read_capped(root, "proc/vmstat", &in.vmstat_len);
	char *slab = read_capped(root, "proc/slabinfo", &in.slabinfo_len);
	char *pods = NULL;
	for (size_t i = 0; fbn_kubepods_usage_paths[i] && !pods; i++)
		if ((pods = read_capped(root, fbn_kubepods_usage_paths[i], &in.kubepods_usage_len)))
			in.kubepods_path = fbn_kubepods_usage_paths[i];
	in.kubepods_usage = pods;
	in.meminfo = mi;
	in.pressure_memory = psi;
	in.vmstat = vm;
	in.slabinfo = slab;
	fbn_thresholds t;
	fbn_thresholds_default(&t);
	fbn_report r;
	fbn_analyze(&in, &t, &r);
	cJSON *j = fbn_report_json(&r); /* before the inputs go: it names the cgroup file */
	free(pods);
	free(mi);
	free(psi);
	free(vm);
	free(slab);
	char *text = j ? cJSON_Print(j) : NULL;
	cJSON_Delete(j);
	if (!text) {
		fprintf(stderr, "firebreak-node: out of memory\n");
		return 1;
	}
	printf("%s\n", text);
	cJSON_free(text);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc != 4 || strcmp(argv[1], "analyze") != 0 || strcmp(argv[2], "--root") != 0 ||
	    !argv[3][0]) {
		usage(stderr);
		return 2;
	}
	return analyze(argv[3]);
}
