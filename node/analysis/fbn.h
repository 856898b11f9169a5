/*
 * fbn.h - firebreak-node's analysis: what a node's /proc says about memory that
 * no category of /proc/meminfo (and so no cgroup) accounts for, and about
 * thrashing (issue 16).
 *
 * Pure: text in, numbers and a verdict out. No file is opened here (the
 * caller reads them, capped: FBN_FILE_MAX), no clock is read, nothing is
 * killed. Every parser accepts any bytes: a file cut short, a line it does
 * not know, a number out of range. What it cannot read it reports as missing
 * or incomplete, and the verdict never flags on what is missing: an agent that
 * acts on this must never act on a guess.
 */
#ifndef FBN_H
#define FBN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* The largest /proc file read (slabinfo of a busy node is ~100 KiB). */
#define FBN_FILE_MAX (4u << 20)

/* ---- /proc/meminfo --------------------------------------------------------------------------- */

/*
 * The fields the unaccounted computation reads, as fs/proc/meminfo.c
 * (meminfo_proc_show, Linux 6.x) prints them. The order is the table in
 * meminfo.c; FBN_MEM_N counts them.
 */
typedef enum fbn_mem_field {
	FBN_MEM_TOTAL,            /* MemTotal */
	FBN_MEM_FREE,             /* MemFree */
	FBN_MEM_AVAILABLE,        /* MemAvailable */
	FBN_MEM_BUFFERS,          /* Buffers */
	FBN_MEM_CACHED,           /* Cached (page cache, Shmem included, swap cache not) */
	FBN_MEM_SWAP_CACHED,      /* SwapCached */
	FBN_MEM_ANON,             /* AnonPages */
	FBN_MEM_SHMEM,            /* Shmem (inside Cached) */
	FBN_MEM_SLAB,             /* Slab = SReclaimable + SUnreclaim */
	FBN_MEM_SRECLAIMABLE,     /* SReclaimable */
	FBN_MEM_SUNRECLAIM,       /* SUnreclaim */
	FBN_MEM_KRECLAIMABLE,     /* KReclaimable = SReclaimable + other reclaimable kernel memory */
	FBN_MEM_KERNEL_STACK,     /* KernelStack */
	FBN_MEM_SHADOW_STACK,     /* ShadowCallStack (arm64) */
	FBN_MEM_PAGE_TABLES,      /* PageTables */
	FBN_MEM_SEC_PAGE_TABLES,  /* SecPageTables (KVM's, IOMMU's) */
	FBN_MEM_VMALLOC_USED,     /* VmallocUsed */
	FBN_MEM_PERCPU,           /* Percpu */
	FBN_MEM_ZSWAP,            /* Zswap (the compressed pool) */
	FBN_MEM_UNACCEPTED,       /* Unaccepted (confidential VMs) */
	FBN_MEM_BALLOON,          /* Balloon */
	FBN_MEM_HUGETLB,          /* Hugetlb (every size) */
	FBN_MEM_HUGEPAGES_TOTAL,  /* HugePages_Total (a count) */
	FBN_MEM_HUGEPAGESIZE,     /* Hugepagesize */
	FBN_MEM_SWAP_TOTAL,       /* SwapTotal */
	FBN_MEM_SWAP_FREE,        /* SwapFree */
	FBN_MEM_N
} fbn_mem_field;

typedef struct fbn_meminfo {
	uint64_t kb[FBN_MEM_N];   /* kB (HugePages_Total: pages) */
	uint32_t present;         /* bit f: field f was read */
	bool complete;            /* the file ended with a newline, after the hugetlb lines */
	int bad_lines;            /* lines that did not parse (ignored) */
} fbn_meminfo;

/* Parse /proc/meminfo's text (len bytes, no terminator needed). Never fails: what
 * it cannot read is absent. */
void fbn_meminfo_parse(const char *text, size_t len, fbn_meminfo *out);
bool fbn_meminfo_has(const fbn_meminfo *m, fbn_mem_field f);

/*
 * Memory in use that no category accounts for, in kB: MemTotal - MemFree -
 * (Buffers + Cached + SwapCached + AnonPages + KReclaimable (or SReclaimable) +
 * SUnreclaim + KernelStack + ShadowCallStack + PageTables + SecPageTables +
 * VmallocUsed + Percpu + Zswap + Unaccepted + Balloon + Hugetlb). It is what
 * drivers take with alloc_pages (the GPU driver's pinned pages), network
 * buffers and the like: tens to hundreds of MiB on a healthy machine.
 * Returns false (and *kb untouched) when the file is incomplete or lacks one
 * of the fields every kernel since 4.x prints (the missing-field list goes to
 * why, if not NULL).
 */
bool fbn_unaccounted_kb(const fbn_meminfo *m, int64_t *kb, char *why, size_t whycap);

/* ---- /proc/pressure/memory (PSI) ---------------------------------------------------------- */

typedef struct fbn_psi_line {
	bool present;
	double avg10, avg60, avg300;  /* % of wall time stalled */
	uint64_t total_us;
} fbn_psi_line;

typedef struct fbn_psi {
	fbn_psi_line some, full;
} fbn_psi;

/* Parse /proc/pressure/memory. A line that does not parse whole is absent. */
void fbn_psi_parse(const char *text, size_t len, fbn_psi *out);

/* ---- /proc/vmstat ------------------------------------------------------------------------- */

typedef struct fbn_vmstat {
	bool present_majfault, present_refault;
	uint64_t pgmajfault;          /* major faults since boot */
	uint64_t workingset_refault;  /* file refaults (workingset_refault_file; before 5.9
	                               * workingset_refault) */
	uint64_t pswpin, pswpout;
	uint64_t oom_kill;            /* OOM kills since boot (4.13+) */
	bool present_oom_kill;
} fbn_vmstat;

void fbn_vmstat_parse(const char *text, size_t len, fbn_vmstat *out);

/* ---- /proc/slabinfo ---------------------------------------------------------------------- */

#define FBN_SLAB_NAME_MAX 64
#define FBN_SLABS_TOP 8

typedef struct fbn_slab {
	char name[FBN_SLAB_NAME_MAX];
	uint64_t objects;             /* active_objs */
	uint64_t bytes;               /* num_slabs * pagesperslab * page size */
} fbn_slab;

/* The largest caches by bytes, largest first, and the ones whose name starts
 * with one of the suspect prefixes (a driver's: "nvidia", "amdgpu", ...). */
typedef struct fbn_slabinfo {
	bool present;                 /* the version 2.x header was read */
	fbn_slab top[FBN_SLABS_TOP];
	size_t ntop;
	fbn_slab suspects[FBN_SLABS_TOP];
	size_t nsuspects;
	uint64_t total_bytes;
	int bad_lines;
} fbn_slabinfo;

/* prefixes: NULL-terminated; NULL = the default list (fbn_default_slab_prefixes). */
extern const char *const fbn_default_slab_prefixes[];
void fbn_slabinfo_parse(const char *text, size_t len, const char *const *prefixes,
                        unsigned page_kb, fbn_slabinfo *out);

/* ---- cgroups ------------------------------------------------------------------------------- */

/*
 * A cgroup's memory usage file, one decimal number of bytes and a newline
 * (v2 memory.current, v1 memory.usage_in_bytes). False if it is anything else.
 */
bool fbn_cgroup_bytes_parse(const char *text, size_t len, uint64_t *bytes);

/* Where the pods' parent cgroup keeps its usage, relative to the root, in the order
 * tried: cgroup v2 with the systemd and the cgroupfs driver, then v1 with each. */
extern const char *const fbn_kubepods_usage_paths[];

/* ---- attribution: who holds a GPU ------------------------------------------------------------ */

#define FBN_POD_UID_MAX 37        /* 36 characters and the terminator */

/* The pod UID in /proc/<pid>/cgroup's text (either cgroup driver, v1 or v2), with '-'
 * (the systemd driver writes '_'). False when the process is in no pod's cgroup. */
bool fbn_pod_uid_from_cgroup(const char *text, size_t len, char uid[FBN_POD_UID_MAX]);

/* Whether an open file's target (readlink of /proc/<pid>/fd/N, len bytes) is a GPU or
 * accelerator device: it starts with one of prefixes (NULL-terminated; NULL = the
 * default, fbn_default_device_prefixes: /dev/nvidia, /dev/dri/, /dev/kfd, /dev/accel/). */
extern const char *const fbn_default_device_prefixes[];
bool fbn_device_is_gpu(const char *target, size_t len, const char *const *prefixes);

/* The processes found holding such a device, by pod (uid "" = in no pod's cgroup). */
#define FBN_HOLDERS_MAX 32
#define FBN_HOLDER_PIDS_MAX 8
#define FBN_DEVICE_MAX 64

typedef struct fbn_holder {
	char pod_uid[FBN_POD_UID_MAX];
	int pids[FBN_HOLDER_PIDS_MAX];
	size_t npids;                 /* kept; pid_count counts them all */
	size_t pid_count;
	char device[FBN_DEVICE_MAX];  /* the first device seen */
	bool have_start;              /* the earliest start of its processes is known: */
	uint64_t start_ticks;         /* ... clock ticks after boot (/proc/<pid>/stat field 22) */
} fbn_holder;

typedef struct fbn_holders {
	bool scanned;                 /* the processes were looked at */
	fbn_holder v[FBN_HOLDERS_MAX];
	size_t n;
	size_t dropped;               /* pods beyond FBN_HOLDERS_MAX */
} fbn_holders;

/* Record that pid (of pod uid, "" for none) holds device; the process started
 * start_ticks after boot (fbn_proc_starttime; -1: not known). */
void fbn_holders_add(fbn_holders *h, const char *uid, int pid, const char *device, size_t len,
                     int64_t start_ticks);

/* Field 22 of /proc/<pid>/stat, starttime: clock ticks after boot. Fields are counted
 * after the last ')', since the command name (field 2) may hold spaces and ')'. */
bool fbn_proc_starttime(const char *text, size_t len, uint64_t *ticks);

/* /proc/uptime's first number (seconds since boot, two decimals) in ms. */
bool fbn_uptime_ms(const char *text, size_t len, int64_t *ms);

/* ---- the verdict ----------------------------------------------------------------------------- */

/* One sample of a node, as read (each file absent when its text is NULL). */
typedef struct fbn_inputs {
	const char *meminfo, *pressure_memory, *vmstat, *slabinfo;
	size_t meminfo_len, pressure_memory_len, vmstat_len, slabinfo_len;
	const char *kubepods_usage;   /* the pods' cgroup usage file (fbn_kubepods_usage_paths) */
	size_t kubepods_usage_len;
	const char *kubepods_path;    /* ... which one it is (reported) */
	const fbn_holders *holders;   /* who holds a GPU device (NULL: not looked) */
} fbn_inputs;

/* When the verdict flags. Defaults: fbn_thresholds_default. */
typedef struct fbn_thresholds {
	double unaccounted_fraction;  /* of MemTotal (0.10) ... */
	uint64_t unaccounted_min_kb;  /* ... and at least this much (1 GiB) */
	double psi_some_avg10;        /* memory stall, % (10) ... */
	double psi_full_avg10;        /* ... or full stall, % (5) */
	const char *const *slab_prefixes;
} fbn_thresholds;

void fbn_thresholds_default(fbn_thresholds *t);

/* The grounds the memory is laid at a pod on, weakest first (fbn_basis_name). */
typedef enum fbn_basis {
	FBN_BASIS_NONE,
	FBN_BASIS_ONLY_HOLDER,    /* the only pod holding a GPU device (one sample says so) */
	FBN_BASIS_ARRIVAL,        /* of several holders, the one that began holding just before
	                             the growth, the others having held theirs with no growth */
	FBN_BASIS_ONLY_HOLDER_ARRIVAL, /* the only holder, and the growth came after it began */
} fbn_basis;

const char *fbn_basis_name(fbn_basis b);

typedef struct fbn_report {
	fbn_meminfo mem;
	fbn_psi psi;
	fbn_vmstat vm;
	fbn_slabinfo slabs;
	bool have_meminfo, have_psi, have_vmstat, have_slabinfo;
	bool have_pods_usage;         /* the pods' cgroup usage was read */
	uint64_t pods_usage_bytes;
	const char *pods_usage_path;  /* the caller's string */
	bool unaccounted_known;
	int64_t unaccounted_kb;
	char unknown_why[160];        /* why unaccounted is not known */
	fbn_holders holders;
	/* the pod the unaccounted memory is laid at, when flagged (holders.v[suspect]); -1
	 * none (no holder, or several that cannot be told apart: why says) */
	int suspect;
	fbn_basis basis;              /* on what grounds */
	char suspect_why[800];
	bool flag_unaccounted;        /* unaccounted above the thresholds */
	bool flag_thrashing;          /* PSI above the thresholds */
} fbn_report;

void fbn_analyze(const fbn_inputs *in, const fbn_thresholds *t, fbn_report *out);

/* ---- across samples: rates, growth, when to look at the processes again ----------------------- */

/*
 * What one sample cannot say: how fast the node faults and refaults, how fast
 * the unaccounted memory grows, and whether the processes (the costly part of a
 * sample: fbn_sample_bench) should be looked at again. Fed one report per
 * sample, in time order; a sample with an older time is ignored.
 */
typedef struct fbn_trend_config {
	int64_t scan_every_ms;        /* look at the processes at least this often (60 s) ... */
	int64_t rescan_growth_kb;     /* ... and whenever unaccounted grew this much since (256 MiB) */
	int64_t growth_window_ms;     /* the growth is over the last this long (10 min) */
} fbn_trend_config;

#define FBN_TREND_POINTS 64
/* The unaccounted memory's history for attribution: a point a minute, a day of them. */
#define FBN_HISTORY_POINTS 1440
#define FBN_HISTORY_STEP_MS 60000

typedef struct fbn_trend {
	bool have_prev;
	int64_t prev_ms;
	fbn_vmstat prev_vm;
	bool have_rates;              /* the last two samples had the counters, and they rose */
	double majfault_per_s, refault_per_s;
	bool have_growth;             /* unaccounted known now and at an earlier sample kept */
	double growth_kb_per_min;     /* since the oldest such sample within growth_window_ms */
	struct { int64_t ms, kb; } points[FBN_TREND_POINTS]; /* unaccounted, a ring */
	size_t npoints, next;
	int64_t last_scan_ms, scan_kb;/* the last process scan, and unaccounted then */
	bool scanned_once;
	/* the day's history (fbn_attribute_by_arrival): its lowest, and a point a minute */
	bool have_base;
	int64_t base_kb;
	struct { int64_t ms, kb; } hist[FBN_HISTORY_POINTS]; /* a ring */
	size_t nhist, hnext;
} fbn_trend;

void fbn_trend_config_default(fbn_trend_config *c);
void fbn_trend_init(fbn_trend *t);

/* Whether the sample at now_ms should look at the processes, given unaccounted_kb
 * (known or not) from the memory files read first. */
bool fbn_trend_scan_due(const fbn_trend *t, const fbn_trend_config *c, int64_t now_ms,
                        bool unaccounted_known, int64_t unaccounted_kb);

/* Take in the sample's report (scanned: it looked at the processes). */
void fbn_trend_update(fbn_trend *t, const fbn_trend_config *c, int64_t now_ms,
                      const fbn_report *r, bool scanned);

/*
 * Lay r's flagged unaccounted memory at a pod by when the GPU holders began
 * holding and how the memory grew since (t, the day's history). now_ms is the
 * sample's time on t's clock, uptime_ms the node's /proc/uptime then, hz its
 * clock ticks a second (a process's start is in ticks after boot).
 *
 * A pod holder is cleared when it began once the growth was under way (the
 * memory then already onset_kb above the day's lowest), or when the memory was
 * still that low quiet_ms after it began (it held its device with no growth).
 * The memory is laid at the one pod left, if exactly one is and the memory grew
 * onset_kb since it began. Anything else (a holder that began before the
 * history, two left, a leak too slow to show within quiet_ms) leaves the
 * one-sample rule's answer (fbn_analyze) as it was: a wrong name is worse than
 * none.
 */
typedef struct fbn_arrival_config {
	int64_t onset_kb;             /* growth smaller than this is not growth (256 MiB) */
	int64_t quiet_ms;             /* a holder cleared by holding this long with no growth (10 m) */
} fbn_arrival_config;

void fbn_arrival_config_default(fbn_arrival_config *c);
void fbn_attribute_by_arrival(fbn_report *r, const fbn_trend *t, const fbn_arrival_config *c,
                              int64_t now_ms, int64_t uptime_ms, long hz);

/* ---- the Node condition the agent writes (node-problem-detector's convention) ---------------- */
/*
 * One condition of its own type on its Node, as node-problem-detector writes its
 * conditions (pkg/exporters/k8sexporter/condition): status, a CamelCase reason, a
 * one-line message. The controller (controller/shell/project.c, attribution_of)
 * reads a named pod from it; the two must agree:
 *   True    the unaccounted memory is flagged; reason the basis (fbn_basis_name) and
 *           message "pod <uid>: <how much>; <why>" when it is laid at a pod, else
 *           reason NotAttributed;
 *   False   MemoryAccounted: unaccounted memory under the thresholds;
 *   Unknown NotMeasured: /proc/meminfo could not be read whole (message: why).
 */
#define FBN_CONDITION_TYPE "UnaccountedMemory"
#define FBN_CONDITION_MESSAGE_MAX 1024
typedef struct fbn_condition {
	const char *status;           /* "True", "False", "Unknown" */
	const char *reason;
	char message[FBN_CONDITION_MESSAGE_MAX];
	char pod_uid[FBN_POD_UID_MAX];/* the pod it is laid at, "" none */
} fbn_condition;

void fbn_condition_of(const fbn_report *r, fbn_condition *c);
/* Whether b says something else than a (status, reason or pod), which is written at
 * once; a message that changed only in its figures waits for the next heartbeat. */
bool fbn_condition_changed(const fbn_condition *a, const fbn_condition *b);

/* ---- act: kill the pod the memory is laid at, before the node thrashes (opt-in) ------------------ */
/*
 * As earlyoom and oomd do for memory they can see (earlyoom: kill when MemAvailable and
 * SwapFree fall under a percentage; oomd: when PSI memory pressure stays over a threshold), for
 * memory no cgroup counts: when the node is about to thrash and its unaccounted memory is laid at
 * one pod on grounds of growth, kill that pod's processes; the kernel frees the driver's memory
 * with them, and kubelet restarts the containers on the same node.
 *
 * The node is about to thrash when MemAvailable falls under available_low of MemTotal (less its
 * huge page pool) and PSI memory some avg10 reaches psi_high (the memory alone on a kernel
 * without PSI). Hysteresis: after a kill, a refusal or a kill that signalled nothing, nothing
 * more is done until MemAvailable is back over available_high and PSI under psi_low; an agent
 * starts so (fbn_act_state_init), so that a restart during a thrash does not kill again at once.
 * Never more than max_kills within period_ms (the kill times survive a restart in the caller's
 * state file: fbn_act_state_load). Never on a guess: the basis must be at least min_basis (by default
 * the growth followed the pod: ArrivedBeforeGrowth), and the pod's facts must be known and allow
 * it (fbn_pod_facts): not a DaemonSet's, not static (a mirror pod), not system-critical, not in a
 * protected namespace.
 */
typedef struct fbn_act_config {
	double available_low, available_high; /* of MemTotal (0.05, 0.15) */
	double psi_high, psi_low;             /* PSI memory some avg10, % (30, 10) */
	fbn_basis min_basis;                  /* FBN_BASIS_ARRIVAL */
	int max_kills;                        /* per period (3) ... */
	int64_t period_ms;                    /* ... (1 h) */
} fbn_act_config;

void fbn_act_config_default(fbn_act_config *c);

#define FBN_ACT_KILLS_MAX 64
typedef struct fbn_act_state {
	bool disarmed;                /* acted (or refused) and not yet back over the high marks */
	int64_t kills_ms[FBN_ACT_KILLS_MAX]; /* the kills within the period, a ring */
	size_t nkills, next;
} fbn_act_state;

/* What the API says of the pod (the agent looks it up before a kill). */
typedef struct fbn_pod_facts {
	bool known;                   /* the pod was found on this node */
	char namespace_[64], name[254];
	char owner_kind[64];          /* its controller's kind, "" none */
	bool mirror;                  /* a static pod (kubernetes.io/config.mirror) */
	bool critical;                /* priority >= 2000000000, or system-node/cluster-critical */
	bool protected_namespace;     /* kube-system, or one the operator protects */
} fbn_pod_facts;

/*
 * The facts of pod uid in a PodList as the API server sends it (LIST pods, fieldSelector
 * spec.nodeName=<node>): false when the list holds no such pod (f->known false). Its
 * controller's kind, whether it is static (kubernetes.io/config.mirror, or owned by a Node),
 * critical (kubelet's IsCriticalPod, pkg/kubelet/types/pod_update.go: priority at least
 * SystemCriticalPriority, 2000000000, or a system-*-critical class for a pod whose priority is
 * not resolved), in kube-system or protected_ns (NULL-terminated). Any JSON: a field of the
 * wrong type is absent.
 */
bool fbn_pod_facts_find(const cJSON *list, const char *uid, const char *const *protected_ns,
                        fbn_pod_facts *f);

typedef enum fbn_act_verdict {
	FBN_ACT_NONE,                 /* nothing to do (not about to thrash, disarmed, none named) */
	FBN_ACT_LOOK_UP,              /* would kill: look the pod up, then decide again with its facts */
	FBN_ACT_KILL,
	FBN_ACT_REFUSE,               /* about to thrash, a pod named, but a rule forbids the kill */
} fbn_act_verdict;

/*
 * Decide at now_ms on report r (facts NULL: not looked up yet). why says which rule decided.
 * fbn_act_done records what was done with a KILL or REFUSE verdict (disarms; a kill counts).
 */
fbn_act_verdict fbn_act_decide(const fbn_act_config *c, fbn_act_state *s, const fbn_report *r,
                               const fbn_pod_facts *facts, int64_t now_ms, char *why, size_t whycap);
void fbn_act_done(fbn_act_state *s, fbn_act_verdict v, int64_t now_ms);
/* Disarmed, no kill counted. */
void fbn_act_state_init(fbn_act_state *s);
/* The kill times of a state file (text: one time in ms a line, the newest FBN_ACT_KILLS_MAX
 * kept; a line that is not a number is skipped), and the file's text for s (caller frees);
 * NULL on ENOMEM. */
void fbn_act_state_load(fbn_act_state *s, const char *text, size_t len);
char *fbn_act_state_text(const fbn_act_state *s);

/* The report as JSON (firebreak-node analyze). NULL on ENOMEM. */
cJSON *fbn_report_json(const fbn_report *r);

#endif
