/*
 * analyze.c - one sample of a node, judged: memory no category accounts for
 * above the thresholds, thrashing (PSI) above them. Only what was read
 * counts; what is missing is said, and never flags.
 */
#include <stdio.h>
#include <string.h>

#include "fbn.h"

void fbn_thresholds_default(fbn_thresholds *t)
{
	*t = (fbn_thresholds){ .unaccounted_fraction = 0.10, .unaccounted_min_kb = 1024 * 1024,
		               .psi_some_avg10 = 10.0, .psi_full_avg10 = 5.0,
		               .slab_prefixes = fbn_default_slab_prefixes };
}

/*
 * The unaccounted memory laid at a pod: the only one holding a GPU device open. Offline
 * that is all there is to go on; several holders are not told apart here (the live
 * agent will, by when each arrived and how the memory grew since), and none means none.
 */
static void lay_at_a_pod(fbn_report *r)
{
	const fbn_holders *h = &r->holders;
	size_t pods = 0, last = 0, others = 0;
	for (size_t i = 0; i < h->n; i++) {
		if (h->v[i].pod_uid[0]) {
			pods++;
			last = i;
		} else {
			others += h->v[i].pid_count;
		}
	}
	if (!h->scanned) {
		snprintf(r->suspect_why, sizeof(r->suspect_why), "the processes were not looked at");
	} else if (pods == 0) {
		snprintf(r->suspect_why, sizeof(r->suspect_why),
		         "no pod holds a GPU device open%s: laid at no pod",
		         others ? " (only processes outside every pod do)" : "");
	} else if (pods > 1 || h->dropped) {
		snprintf(r->suspect_why, sizeof(r->suspect_why),
		         "%zu pods hold a GPU device open: not laid at one of them", pods + h->dropped);
	} else {
		r->suspect = (int)last;
		r->basis = FBN_BASIS_ONLY_HOLDER;
		snprintf(r->suspect_why, sizeof(r->suspect_why),
		         "the only pod holding a GPU device open (%s, %zu process%s)%s",
		         h->v[last].device, h->v[last].pid_count, h->v[last].pid_count == 1 ? "" : "es",
		         others ? "; processes outside every pod hold one too" : "");
	}
}

void fbn_analyze(const fbn_inputs *in, const fbn_thresholds *t, fbn_report *out)
{
	memset(out, 0, sizeof(*out));
	unsigned page_kb = 4;
	if ((out->have_meminfo = in->meminfo != NULL)) {
		fbn_meminfo_parse(in->meminfo, in->meminfo_len, &out->mem);
		out->unaccounted_known = fbn_unaccounted_kb(&out->mem, &out->unaccounted_kb,
		                                            out->unknown_why, sizeof(out->unknown_why));
	} else {
		snprintf(out->unknown_why, sizeof(out->unknown_why), "no meminfo");
	}
	if ((out->have_psi = in->pressure_memory != NULL))
		fbn_psi_parse(in->pressure_memory, in->pressure_memory_len, &out->psi);
	if ((out->have_vmstat = in->vmstat != NULL))
		fbn_vmstat_parse(in->vmstat, in->vmstat_len, &out->vm);
	if (in->slabinfo) {
		fbn_slabinfo_parse(in->slabinfo, in->slabinfo_len, t->slab_prefixes, page_kb,
		                   &out->slabs);
		out->have_slabinfo = out->slabs.present;
	}
	if (in->kubepods_usage) {
		out->have_pods_usage = fbn_cgroup_bytes_parse(in->kubepods_usage, in->kubepods_usage_len,
		                                              &out->pods_usage_bytes);
		out->pods_usage_path = in->kubepods_path;
	}
	if (out->unaccounted_known && out->unaccounted_kb > 0) {
		uint64_t un = (uint64_t)out->unaccounted_kb;
		double total = (double)out->mem.kb[FBN_MEM_TOTAL];
		out->flag_unaccounted = un >= t->unaccounted_min_kb &&
		                        total > 0 && (double)un >= t->unaccounted_fraction * total;
	}
	out->suspect = -1;
	if (in->holders)
		out->holders = *in->holders;
	if (out->flag_unaccounted)
		lay_at_a_pod(out);
	out->flag_thrashing = (out->psi.some.present && out->psi.some.avg10 >= t->psi_some_avg10) ||
	                      (out->psi.full.present && out->psi.full.avg10 >= t->psi_full_avg10);
}

static cJSON *slabs_json(const fbn_slab *s, size_t n)
{
	cJSON *a = cJSON_CreateArray();
	for (size_t i = 0; a && i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(a, o) || !cJSON_AddStringToObject(o, "name", s[i].name) ||
		    !cJSON_AddNumberToObject(o, "objects", (double)s[i].objects) ||
		    !cJSON_AddNumberToObject(o, "bytes", (double)s[i].bytes)) {
			cJSON_Delete(a);
			return NULL;
		}
	}
	return a;
}

static bool add_psi(cJSON *o, const char *name, const fbn_psi_line *p)
{
	if (!p->present)
		return true;
	cJSON *l = cJSON_AddObjectToObject(o, name);
	return l && cJSON_AddNumberToObject(l, "avg10", p->avg10) &&
	       cJSON_AddNumberToObject(l, "avg60", p->avg60) &&
	       cJSON_AddNumberToObject(l, "avg300", p->avg300) &&
	       cJSON_AddNumberToObject(l, "totalMicroseconds", (double)p->total_us);
}

cJSON *fbn_report_json(const fbn_report *r)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON *flags = cJSON_AddArrayToObject(o, "flags");
	cJSON *missing = cJSON_AddArrayToObject(o, "missing");
	cJSON *mem = cJSON_AddObjectToObject(o, "memory");
	if (!flags || !missing || !mem)
		goto fail;
	if (r->flag_unaccounted && !cJSON_AddItemToArray(flags, cJSON_CreateString("UnaccountedMemory")))
		goto fail;
	if (r->flag_thrashing && !cJSON_AddItemToArray(flags, cJSON_CreateString("Thrashing")))
		goto fail;
	const char *files[] = { "meminfo", "pressure/memory", "vmstat", "slabinfo" };
	bool have[] = { r->have_meminfo, r->have_psi, r->have_vmstat, r->have_slabinfo };
	for (size_t i = 0; i < 4; i++)
		if (!have[i] && !cJSON_AddItemToArray(missing, cJSON_CreateString(files[i])))
			goto fail;
	if (r->have_meminfo) {
		if (!cJSON_AddNumberToObject(mem, "totalBytes", (double)r->mem.kb[FBN_MEM_TOTAL] * 1024) ||
		    !cJSON_AddNumberToObject(mem, "freeBytes", (double)r->mem.kb[FBN_MEM_FREE] * 1024) ||
		    !cJSON_AddBoolToObject(mem, "complete", r->mem.complete))
			goto fail;
		if (fbn_meminfo_has(&r->mem, FBN_MEM_AVAILABLE) &&
		    !cJSON_AddNumberToObject(mem, "availableBytes",
		                             (double)r->mem.kb[FBN_MEM_AVAILABLE] * 1024))
			goto fail;
	}
	if (r->have_pods_usage) {
		/* in use (MemTotal - MemFree) and charged to no pod's cgroup */
		uint64_t used = r->mem.kb[FBN_MEM_TOTAL] > r->mem.kb[FBN_MEM_FREE]
		                        ? (r->mem.kb[FBN_MEM_TOTAL] - r->mem.kb[FBN_MEM_FREE]) * 1024 : 0;
		if (!cJSON_AddNumberToObject(mem, "podsChargedBytes", (double)r->pods_usage_bytes) ||
		    (r->pods_usage_path &&
		     !cJSON_AddStringToObject(mem, "podsCgroup", r->pods_usage_path)) ||
		    (r->have_meminfo && r->mem.complete &&
		     !cJSON_AddNumberToObject(mem, "notChargedToPodsBytes",
		                              used > r->pods_usage_bytes
		                                      ? (double)(used - r->pods_usage_bytes) : 0)))
			goto fail;
	}
	if (r->unaccounted_known) {
		if (!cJSON_AddNumberToObject(mem, "unaccountedBytes", (double)r->unaccounted_kb * 1024) ||
		    !cJSON_AddNumberToObject(mem, "unaccountedFraction",
		                             r->mem.kb[FBN_MEM_TOTAL]
		                                     ? (double)r->unaccounted_kb /
		                                               (double)r->mem.kb[FBN_MEM_TOTAL]
		                                     : 0))
			goto fail;
	} else if (!cJSON_AddStringToObject(mem, "unaccountedUnknown", r->unknown_why)) {
		goto fail;
	}
	if (r->holders.scanned) {
		cJSON *g = cJSON_AddArrayToObject(o, "gpuHolders");
		if (!g)
			goto fail;
		for (size_t i = 0; i < r->holders.n; i++) {
			const fbn_holder *x = &r->holders.v[i];
			cJSON *e = cJSON_CreateObject();
			cJSON *pids = cJSON_CreateIntArray(x->pids, (int)x->npids);
			if (!e || !cJSON_AddItemToArray(g, e) || !pids ||
			    !cJSON_AddItemToObject(e, "pids", pids)) {
				cJSON_Delete(pids);
				goto fail;
			}
			if ((x->pod_uid[0] ? !cJSON_AddStringToObject(e, "podUID", x->pod_uid)
			                   : !cJSON_AddNullToObject(e, "podUID")) ||
			    !cJSON_AddNumberToObject(e, "processes", (double)x->pid_count) ||
			    !cJSON_AddStringToObject(e, "device", x->device))
				goto fail;
		}
	}
	if (r->flag_unaccounted) {
		cJSON *a = cJSON_AddObjectToObject(o, "attribution");
		if (!a || (r->suspect >= 0
		                   ? !cJSON_AddStringToObject(a, "podUID", r->holders.v[r->suspect].pod_uid)
		                   : !cJSON_AddNullToObject(a, "podUID")) ||
		    !cJSON_AddStringToObject(a, "basis", fbn_basis_name(r->basis)) ||
		    !cJSON_AddStringToObject(a, "why", r->suspect_why))
			goto fail;
	}
	if (r->have_psi) {
		cJSON *p = cJSON_AddObjectToObject(o, "pressure");
		if (!p || !add_psi(p, "some", &r->psi.some) || !add_psi(p, "full", &r->psi.full))
			goto fail;
	}
	if (r->have_vmstat) {
		cJSON *v = cJSON_AddObjectToObject(o, "vmstat");
		if (!v || (r->vm.present_majfault &&
		           !cJSON_AddNumberToObject(v, "pgmajfault", (double)r->vm.pgmajfault)) ||
		    (r->vm.present_refault &&
		     !cJSON_AddNumberToObject(v, "workingsetRefaultFile", (double)r->vm.workingset_refault)) ||
		    (r->vm.present_oom_kill &&
		     !cJSON_AddNumberToObject(v, "oomKill", (double)r->vm.oom_kill)))
			goto fail;
	}
	if (r->have_slabinfo) {
		cJSON *s = cJSON_AddObjectToObject(o, "slabs");
		cJSON *top = slabs_json(r->slabs.top, r->slabs.ntop);
		cJSON *sus = slabs_json(r->slabs.suspects, r->slabs.nsuspects);
		if (!s || !cJSON_AddNumberToObject(s, "totalBytes", (double)r->slabs.total_bytes) ||
		    !top || !cJSON_AddItemToObject(s, "largest", top)) {
			cJSON_Delete(top);
			cJSON_Delete(sus);
			goto fail;
		}
		if (!sus || !cJSON_AddItemToObject(s, "suspects", sus)) {
			cJSON_Delete(sus);
			goto fail;
		}
	}
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}
