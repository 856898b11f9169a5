/* act.c - whether to kill the pod the unaccounted memory is laid at (fbn.h, fbn_act_decide). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fbn.h"

void fbn_act_config_default(fbn_act_config *c)
{
	*c = (fbn_act_config){
		.available_low = 0.05,
		.available_high = 0.15,
		.psi_high = 30,
		.psi_low = 10,
		.min_basis = FBN_BASIS_ARRIVAL,
		.max_kills = 3,
		.period_ms = 3600 * 1000,
	};
}

/* MemAvailable / (MemTotal - Hugetlb), or -1 when not known: a huge page pool is reserved on
 * purpose and never available, so it is left out of both. */
static double available_fraction(const fbn_report *r)
{
	if (!r->have_meminfo || !fbn_meminfo_has(&r->mem, FBN_MEM_AVAILABLE) ||
	    !fbn_meminfo_has(&r->mem, FBN_MEM_TOTAL))
		return -1;
	uint64_t total = r->mem.kb[FBN_MEM_TOTAL];
	if (fbn_meminfo_has(&r->mem, FBN_MEM_HUGETLB) && r->mem.kb[FBN_MEM_HUGETLB] < total)
		total -= r->mem.kb[FBN_MEM_HUGETLB];
	if (total == 0)
		return -1;
	return (double)r->mem.kb[FBN_MEM_AVAILABLE] / (double)total;
}

static size_t kills_within(fbn_act_state *s, int64_t period_ms, int64_t now_ms)
{
	size_t n = 0;
	for (size_t i = 0; i < s->nkills; i++)
		n += now_ms - s->kills_ms[i] < period_ms; /* a kill dated ahead (a clock set back) counts */
	return n;
}

fbn_act_verdict fbn_act_decide(const fbn_act_config *c, fbn_act_state *s, const fbn_report *r,
                               const fbn_pod_facts *facts, int64_t now_ms, char *why, size_t whycap)
{
	double avail = available_fraction(r);
	bool psi = r->have_psi && r->psi.some.present;
	double some = psi ? r->psi.some.avg10 : 0;
	if (s->disarmed) {
		/* hysteresis: back over the high marks before the next act */
		if (avail >= c->available_high && some < c->psi_low) {
			s->disarmed = false;
		} else {
			snprintf(why, whycap, "acted already; waiting for MemAvailable over %.0f%% and memory "
			         "stall under %.0f%%", c->available_high * 100, c->psi_low);
			return FBN_ACT_NONE;
		}
	}
	/* both, as earlyoom wants MemAvailable and SwapFree low together: a stall alone may be a
	 * pod reclaiming inside its own limit; memory short without a stall is not thrashing yet
	 * (a kernel without PSI: the memory alone) */
	bool short_of_memory = avail >= 0 && avail < c->available_low;
	bool stalled = !psi || some >= c->psi_high;
	if (!short_of_memory || !stalled) {
		snprintf(why, whycap, "not about to thrash");
		return FBN_ACT_NONE;
	}
	char state[96];
	snprintf(state, sizeof(state), "MemAvailable %.1f%% of MemTotal, memory stalled %.0f%%",
	         avail >= 0 ? avail * 100 : 0, some);
	const fbn_holder *h = r->suspect >= 0 && (size_t)r->suspect < r->holders.n
	                              ? &r->holders.v[r->suspect] : NULL;
	if (!r->flag_unaccounted || !h || !h->pod_uid[0]) {
		snprintf(why, whycap, "about to thrash (%s), but the memory is laid at no pod", state);
		return FBN_ACT_NONE;
	}
	if (r->basis < c->min_basis) {
		snprintf(why, whycap, "about to thrash (%s); pod %s is named on grounds too weak to "
		         "kill on (%s, below %s)", state, h->pod_uid, fbn_basis_name(r->basis),
		         fbn_basis_name(c->min_basis));
		return FBN_ACT_NONE;
	}
	if (kills_within(s, c->period_ms, now_ms) >= (size_t)c->max_kills) {
		snprintf(why, whycap, "about to thrash (%s); pod %s named, but %d kills in %lld minutes "
		         "is the limit", state, h->pod_uid, c->max_kills,
		         (long long)(c->period_ms / 60000));
		return FBN_ACT_REFUSE;
	}
	if (!facts) {
		snprintf(why, whycap, "about to thrash (%s); pod %s named (%s): look it up", state,
		         h->pod_uid, fbn_basis_name(r->basis));
		return FBN_ACT_LOOK_UP;
	}
	if (!facts->known) {
		snprintf(why, whycap, "about to thrash (%s); pod %s named, but not found on this node "
		         "in the API: no kill on a guess", state, h->pod_uid);
		return FBN_ACT_NONE;
	}
	const char *rule = strcmp(facts->owner_kind, "DaemonSet") == 0 ? "a DaemonSet's pod"
	                   : facts->mirror                              ? "a static pod"
	                   : facts->critical                            ? "a system-critical pod"
	                   : facts->protected_namespace                 ? "in a protected namespace"
	                                                                : NULL;
	if (rule) {
		snprintf(why, whycap, "about to thrash (%s); pod %s/%s is named (%s), but it is %s: "
		         "never killed", state, facts->namespace_, facts->name, fbn_basis_name(r->basis),
		         rule);
		return FBN_ACT_REFUSE;
	}
	snprintf(why, whycap, "about to thrash (%s); %.1f GiB no cgroup counts is laid at pod %s/%s "
	         "(%s)", state, (double)r->unaccounted_kb / (1024.0 * 1024.0), facts->namespace_,
	         facts->name, fbn_basis_name(r->basis));
	return FBN_ACT_KILL;
}

void fbn_act_done(fbn_act_state *s, fbn_act_verdict v, int64_t now_ms)
{
	if (v != FBN_ACT_KILL && v != FBN_ACT_REFUSE)
		return;
	s->disarmed = true;
	if (v == FBN_ACT_KILL) {
		s->kills_ms[s->next] = now_ms;
		s->next = (s->next + 1) % FBN_ACT_KILLS_MAX;
		if (s->nkills < FBN_ACT_KILLS_MAX)
			s->nkills++;
	}
}

static void facts_of(const cJSON *p, const char *const *protected_ns, fbn_pod_facts *f)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(p, "metadata");
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(p, "spec");
	const char *ns = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "namespace"));
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "name"));
	f->known = true;
	snprintf(f->namespace_, sizeof(f->namespace_), "%s", ns ? ns : "");
	snprintf(f->name, sizeof(f->name), "%s", name ? name : "");
	const cJSON *o;
	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(m, "ownerReferences")) {
		const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "kind"));
		if (kind && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "controller")))
			snprintf(f->owner_kind, sizeof(f->owner_kind), "%s", kind);
	}
	const cJSON *ann = cJSON_GetObjectItemCaseSensitive(m, "annotations");
	f->mirror = (cJSON_IsObject(ann) &&
	             cJSON_GetObjectItemCaseSensitive(ann, "kubernetes.io/config.mirror") != NULL) ||
	            strcmp(f->owner_kind, "Node") == 0;
	const cJSON *prio = cJSON_GetObjectItemCaseSensitive(spec, "priority");
	const char *pc = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(spec, "priorityClassName"));
	f->critical = (cJSON_IsNumber(prio) && prio->valuedouble >= 2000000000.0) ||
	              (pc && (strcmp(pc, "system-node-critical") == 0 ||
	                      strcmp(pc, "system-cluster-critical") == 0));
	/* a namespace it cannot read whole (none, empty, longer than a namespace can be) is not
	 * known: protected, never a kill on a guess */
	f->protected_namespace = !ns || !*ns || strlen(ns) >= sizeof(f->namespace_) ||
	                         strcmp(ns, "kube-system") == 0;
	for (size_t i = 0; ns && protected_ns && protected_ns[i]; i++)
		f->protected_namespace |= strcmp(ns, protected_ns[i]) == 0;
}

bool fbn_pod_facts_find(const cJSON *list, const char *uid, const char *const *protected_ns,
                        fbn_pod_facts *f)
{
	memset(f, 0, sizeof(*f));
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(list, "items");
	if (!cJSON_IsArray(items) || !uid || !*uid)
		return false;
	const cJSON *p;
	cJSON_ArrayForEach(p, items) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(p, "metadata");
		const char *u = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "uid"));
		if (u && strcmp(u, uid) == 0) {
			facts_of(p, protected_ns, f);
			return true;
		}
	}
	return false;
}

void fbn_act_state_init(fbn_act_state *s)
{
	memset(s, 0, sizeof(*s));
	s->disarmed = true;
}

void fbn_act_state_load(fbn_act_state *s, const char *text, size_t len)
{
	size_t i = 0;
	while (i < len) {
		size_t j = i;
		while (j < len && text[j] != '\n')
			j++;
		/* a whole line of digits (a line cut short at the end is not read) */
		int64_t ms = 0;
		bool ok = j > i && j < len && j - i <= 15;
		for (size_t k = i; ok && k < j; k++) {
			ok = text[k] >= '0' && text[k] <= '9';
			ms = ms * 10 + (text[k] - '0');
		}
		if (ok) {
			s->kills_ms[s->next] = ms;
			s->next = (s->next + 1) % FBN_ACT_KILLS_MAX;
			if (s->nkills < FBN_ACT_KILLS_MAX)
				s->nkills++;
		}
		i = j + 1;
	}
}

char *fbn_act_state_text(const fbn_act_state *s)
{
	char *out = malloc(FBN_ACT_KILLS_MAX * 24 + 1);
	if (!out)
		return NULL;
	size_t n = 0;
	/* oldest first, so that a reload keeps the newest */
	size_t first = s->nkills < FBN_ACT_KILLS_MAX ? 0 : s->next;
	for (size_t k = 0; k < s->nkills; k++) {
		size_t i = (first + k) % FBN_ACT_KILLS_MAX;
		n += (size_t)snprintf(out + n, 24, "%lld\n", (long long)s->kills_ms[i]);
	}
	out[n] = '\0';
	return out;
}
