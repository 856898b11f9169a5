/*
 * Fuzz target: the /proc parsers of firebreak-node (meminfo, pressure/memory,
 * vmstat, slabinfo, a process's stat, uptime) and the report built from them, attributed. The same bytes go to each
 * parser; the first byte also splits them into four files for fbn_analyze.
 * Checks: no crash, no leak, no undefined behaviour, and a flag only on what
 * was read whole (unaccounted memory flagged only when it is known).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fbn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	fbn_meminfo m;
	fbn_meminfo_parse(text, size, &m);
	int64_t kb;
	char why[160];
	(void)fbn_unaccounted_kb(&m, &kb, why, sizeof(why));
	fbn_psi p;
	fbn_psi_parse(text, size, &p);
	if ((p.some.present && (p.some.avg10 < 0 || p.some.avg10 > 100)) ||
	    (p.full.present && (p.full.avg300 < 0 || p.full.avg300 > 100)))
		__builtin_trap();
	uint64_t bytes;
	(void)fbn_cgroup_bytes_parse(text, size, &bytes);
	/* /proc/<pid>/cgroup and device links: a pod UID is 36 characters of its form */
	static fbn_holders holders;
	memset(&holders, 0, sizeof(holders));
	holders.scanned = true;
	/* /proc/<pid>/stat and /proc/uptime: when a holder began */
	uint64_t ticks = 0;
	int64_t start = fbn_proc_starttime(text, size, &ticks) && ticks <= INT64_MAX
	                        ? (int64_t)ticks : -1;
	int64_t uptime = 0;
	if (fbn_uptime_ms(text, size, &uptime) && uptime < 0)
		__builtin_trap();
	char uid[FBN_POD_UID_MAX];
	if (fbn_pod_uid_from_cgroup(text, size, uid)) {
		if (strlen(uid) != 36 || uid[8] != '-' || uid[23] != '-')
			__builtin_trap();
		fbn_holders_add(&holders, uid, 1, text, size, start);
	}
	if (fbn_device_is_gpu(text, size, NULL))
		fbn_holders_add(&holders, "", 2, text, size, -1);
	fbn_vmstat v;
	fbn_vmstat_parse(text, size, &v);
	fbn_slabinfo s;
	fbn_slabinfo_parse(text, size, NULL, 4, &s);
	if (s.ntop > FBN_SLABS_TOP || s.nsuspects > FBN_SLABS_TOP)
		__builtin_trap();
	for (size_t i = 0; i < s.ntop; i++)
		if (strlen(s.top[i].name) >= FBN_SLAB_NAME_MAX || (i && s.top[i].bytes > s.top[i - 1].bytes))
			__builtin_trap();

	/* four files from one input: cut at the first byte's proportions */
	size_t cut[5] = { 0, size / 4, size / 2, 3 * size / 4, size };
	if (size > 0)
		cut[1] = (size_t)data[0] * size / 256;
	for (int i = 2; i < 4; i++)
		if (cut[i] < cut[i - 1])
			cut[i] = cut[i - 1];
	fbn_inputs in = { text + cut[0], text + cut[1], text + cut[2], text + cut[3],
		          cut[1] - cut[0], cut[2] - cut[1], cut[3] - cut[2], cut[4] - cut[3],
		          text + cut[3], cut[4] - cut[3], "kubepods", &holders };
	fbn_thresholds t;
	fbn_thresholds_default(&t);
	fbn_report r;
	fbn_analyze(&in, &t, &r);
	if (r.flag_unaccounted && !r.unaccounted_known)
		__builtin_trap();
	/* the same report twice into a trend: whatever its numbers, no overflow */
	fbn_trend_config tc;
	fbn_trend_config_default(&tc);
	fbn_trend tr;
	fbn_trend_init(&tr);
	fbn_trend_update(&tr, &tc, 1000, &r, true);
	(void)fbn_trend_scan_due(&tr, &tc, 2000, r.unaccounted_known, r.unaccounted_kb);
	fbn_trend_update(&tr, &tc, 2000, &r, false);
	if (tr.have_rates && (tr.majfault_per_s != 0 || tr.refault_per_s != 0))
		__builtin_trap(); /* the same counters twice: no faults */
	/* attribution by arrival over that history: a suspect only among the holders, only
	 * for flagged memory, whatever the times */
	fbn_arrival_config ac;
	fbn_arrival_config_default(&ac);
	fbn_attribute_by_arrival(&r, &tr, &ac, 2000, uptime, 100);
	if (r.suspect >= (int)r.holders.n || (r.suspect >= 0 && !r.flag_unaccounted))
		__builtin_trap();
	cJSON *j = fbn_report_json(&r);
	char *out = j ? cJSON_PrintUnformatted(j) : NULL;
	cJSON_free(out);
	cJSON_Delete(j);
	return 0;
}
