/*
 * firebreak-node: the node agent (issue 16). So far its offline diagnosis:
 *
 *   firebreak-node analyze --root DIR [--device PREFIX]...
 *
 * reads DIR/proc/meminfo, DIR/proc/pressure/memory, DIR/proc/vmstat,
 * DIR/proc/slabinfo, the pods' cgroup usage under DIR/sys/fs/cgroup (v1 or v2,
 * either cgroup driver) and the processes under DIR/proc holding a GPU device
 * open (a descriptor linking to a path that starts with a PREFIX; the default
 * /dev/nvidia, /dev/dri/, /dev/kfd, /dev/accel/), any of them may be missing
 * (--root / reads this machine), and prints the analysis (node/analysis/fbn.h)
 * as JSON: the memory no /proc/meminfo category accounts for and what no pod
 * is charged for, thrashing, the largest and the suspect slab caches, the
 * pods holding a GPU, the flags, and the pod the memory is laid at. Exit
 * status 0 when it printed a report, 2 on a usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fbn.h"
#include "fbn_io.h"

#define DEVICE_PREFIXES_MAX 16

static void usage(FILE *f)
{
	fprintf(f, "usage: firebreak-node analyze --root DIR [--device PREFIX]...\n"
	           "  Reads DIR/proc/{meminfo,pressure/memory,vmstat,slabinfo}, the pods' cgroup\n"
	           "  usage under DIR/sys/fs/cgroup and the processes under DIR/proc holding a\n"
	           "  device whose path starts with a PREFIX open (default: /dev/nvidia, /dev/dri/,\n"
	           "  /dev/kfd, /dev/accel/); any may be missing. Prints its verdict as JSON.\n");
}

static int analyze(const char *root, const char *const *devices)
{
	fbn_inputs in = { 0 };
	char *mi = fbn_read_capped(root, "proc/meminfo", &in.meminfo_len);
	char *psi = fbn_read_capped(root, "proc/pressure/memory", &in.pressure_memory_len);
	char *vm = fbn_read_capped(root, "proc/vmstat", &in.vmstat_len);
	char *slab = fbn_read_capped(root, "proc/slabinfo", &in.slabinfo_len);
	char *pods = NULL;
	for (size_t i = 0; fbn_kubepods_usage_paths[i] && !pods; i++)
		if ((pods = fbn_read_capped(root, fbn_kubepods_usage_paths[i], &in.kubepods_usage_len)))
			in.kubepods_path = fbn_kubepods_usage_paths[i];
	in.meminfo = mi;
	in.pressure_memory = psi;
	in.vmstat = vm;
	in.slabinfo = slab;
	in.kubepods_usage = pods;
	static fbn_holders holders;
	fbn_scan_holders(root, devices, &holders);
	in.holders = &holders;
	fbn_thresholds t;
	fbn_thresholds_default(&t);
	static fbn_report r;
	fbn_analyze(&in, &t, &r);
	cJSON *j = fbn_report_json(&r);
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
	const char *root = NULL;
	const char *devices[DEVICE_PREFIXES_MAX + 1] = { 0 };
	size_t ndevices = 0;
	if (argc < 2 || strcmp(argv[1], "analyze") != 0) {
		usage(stderr);
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--root") && i + 1 < argc && argv[i + 1][0]) {
			root = argv[++i];
		} else if (!strcmp(argv[i], "--device") && i + 1 < argc && argv[i + 1][0] &&
		           ndevices < DEVICE_PREFIXES_MAX) {
			devices[ndevices++] = argv[++i];
		} else {
			fprintf(stderr, "firebreak-node: unexpected argument %s\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (!root) {
		usage(stderr);
		return 2;
	}
	return analyze(root, ndevices ? devices : NULL);
}
