/*
 * fbn_sample_bench - firebreak-node's cost per sample (issue 16): read the
 * memory files, look at every process's open files for a GPU device, judge,
 * render the report. On a synthetic node of 110 pods and 2,000 processes (a
 * tree written to a temporary directory: 20 descriptors per process, 2 pods
 * holding /dev/nvidia0), side by side with this machine's own /proc (its
 * processes, as many as it has); each also without the process scan (the
 * memory files alone, which the agent can read far more often). CPU (user +
 * system) and wall time per sample, over many samples, and the peak resident
 * memory of the process.
 *
 * A tree on disk is not procfs: readdir and readlink cost differently there
 * (procfs generates each entry; the page cache serves the tree), which is why
 * the real /proc is measured next to it.
 *
 * Usage: fbn_sample_bench [SAMPLES (default 50)]
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fbn.h"
#include "fbn_io.h"

#define PODS 110
#define PROCS 2000
#define FDS 20

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t cpu_us(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
	       ru.ru_stime.tv_usec;
}

static long peak_kb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		fprintf(stderr, "fbn_sample_bench: cannot write %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

static void mkdirs(const char *path)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s", path);
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			mkdir(p, 0755);
			*s = '/';
		}
	mkdir(p, 0755);
}

/* A node of PODS pods and PROCS processes under root. */
static void make_tree(const char *root)
{
	char path[4096], text[512];
	snprintf(path, sizeof(path), "%s/proc/pressure", root);
	mkdirs(path);
	snprintf(path, sizeof(path), "%s/proc/meminfo", root);
	put(path, "MemTotal: 65011712 kB\nMemFree: 412000 kB\nMemAvailable: 1290000 kB\n"
	          "Buffers: 2100 kB\nCached: 1350000 kB\nSwapCached: 0 kB\nAnonPages: 29300000 kB\n"
	          "Shmem: 20000 kB\nKReclaimable: 110000 kB\nSlab: 940000 kB\nSReclaimable: 98000 kB\n"
	          "SUnreclaim: 842000 kB\nKernelStack: 28000 kB\nPageTables: 92000 kB\n"
	          "VmallocUsed: 310000 kB\nPercpu: 48000 kB\nHugePages_Total: 0\n"
	          "Hugepagesize: 2048 kB\nHugetlb: 0 kB\n");
	snprintf(path, sizeof(path), "%s/proc/pressure/memory", root);
	put(path, "some avg10=72.35 avg60=65.10 avg300=48.02 total=9120345521\n"
	          "full avg10=41.80 avg60=37.22 avg300=25.91 total=5230118830\n");
	snprintf(path, sizeof(path), "%s/proc/vmstat", root);
	put(path, "pgmajfault 48210993\nworkingset_refault_file 91203341\noom_kill 0\n");
	snprintf(path, sizeof(path), "%s/sys/fs/cgroup/kubepods.slice", root);
	mkdirs(path);
	snprintf(path, sizeof(path), "%s/sys/fs/cgroup/kubepods.slice/memory.current", root);
	put(path, "29798400000\n");
	for (int pid = 1; pid <= PROCS; pid++) {
		snprintf(path, sizeof(path), "%s/proc/%d/fd", root, pid);
		mkdirs(path);
		int pod = pid % (PROCS / PODS + 1) == 0 ? -1 : pid % PODS; /* some in no pod */
		if (pod < 0)
			snprintf(text, sizeof(text), "0::/system.slice/daemon-%d.service\n", pid);
		else
			snprintf(text, sizeof(text),
			         "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
			         "%08x_1111_4222_8333_%012x.slice/cri-containerd-%d.scope\n",
			         (unsigned)pod, (unsigned)pod, pid);
		snprintf(path, sizeof(path), "%s/proc/%d/cgroup", root, pid);
		put(path, text);
		for (int fd = 0; fd < FDS; fd++) {
			const char *target = fd < 3 ? "/dev/null" : "socket:[123456]";
			if (fd == 7 && (pod == 1 || pod == 2))
				target = "/dev/nvidia0";
			snprintf(path, sizeof(path), "%s/proc/%d/fd/%d", root, pid, fd);
			if (symlink(target, path) != 0 && errno != EEXIST) {
				fprintf(stderr, "fbn_sample_bench: symlink %s: %s\n", path, strerror(errno));
				exit(1);
			}
		}
	}
}

/* One sample of root, as the agent will take it: the files, the processes, the verdict, the
 * report. Returns the number of GPU-holding pods found (so that nothing is optimised away). */
static size_t sample(const char *root, bool scan)
{
	fbn_files f;
	fbn_files_read(root, &f);
	static fbn_holders h;
	if (scan) {
		fbn_scan_holders(root, NULL, &h);
		f.in.holders = &h;
	}
	fbn_thresholds t;
	fbn_thresholds_default(&t);
	static fbn_report r;
	fbn_analyze(&f.in, &t, &r);
	cJSON *j = fbn_report_json(&r);
	char *text = j ? cJSON_PrintUnformatted(j) : NULL;
	cJSON_free(text);
	cJSON_Delete(j);
	fbn_files_release(&f);
	return h.n;
}

static int count_procs(const char *root)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/proc", root);
	FILE *p = NULL;
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "ls '%s' | grep -c '^[0-9]*$'", path);
	p = popen(cmd, "r");
	int n = 0;
	if (p && fscanf(p, "%d", &n) != 1)
		n = 0;
	if (p)
		pclose(p);
	return n;
}

static void measure(const char *label, const char *root, int samples, bool scan)
{
	sample(root, scan); /* warm: the page cache, the allocator */
	int64_t w0 = now_us(), c0 = cpu_us();
	size_t holders = 0;
	for (int i = 0; i < samples; i++)
		holders = sample(root, scan);
	int64_t w = now_us() - w0, c = cpu_us() - c0;
	char held[16] = "-";
	if (scan)
		snprintf(held, sizeof(held), "%zu", holders);
	printf("%-34s %9d %9.3f %9.3f %10s %12ld\n", label, count_procs(root),
	       (double)c / samples / 1000.0, (double)w / samples / 1000.0, held, peak_kb());
}

int main(int argc, char **argv)
{
	int samples = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 50;
	if (samples < 1)
		samples = 1;
	char root[] = "/tmp/fbn-bench-XXXXXX";
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	make_tree(root);
	printf("firebreak-node, one sample (read, scan the processes, judge, render), %d samples\n",
	       samples);
	printf("%-34s %9s %9s %9s %10s %12s\n", "node", "processes", "cpu ms", "wall ms",
	       "gpu pods", "peak RSS kB");
	measure("synthetic: 110 pods, 2,000 procs", root, samples, true);
	measure("  the same, memory files only", root, samples * 20, false);
	measure("this machine's /proc", "/", samples, true);
	measure("  the same, memory files only", "/", samples * 20, false);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : 1;
}
