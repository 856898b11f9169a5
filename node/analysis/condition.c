/* condition.c - the Node condition firebreak-node writes (fbn.h, fbn_condition_of). */
#include <stdio.h>
#include <string.h>

#include "fbn.h"

static double gib(uint64_t kb)
{
	return (double)kb / (1024.0 * 1024.0);
}

/* A message longer than FBN_CONDITION_MESSAGE_MAX is cut: its head (the pod, the figures) is
 * what the controller and an operator read first. */
static void cut(int n, fbn_condition *c)
{
	if (n < 0)
		c->message[0] = '\0';
}

void fbn_condition_of(const fbn_report *r, fbn_condition *c)
{
	memset(c, 0, sizeof(*c));
	if (!r->unaccounted_known) {
		c->status = "Unknown";
		c->reason = "NotMeasured";
		cut(snprintf(c->message, sizeof(c->message),
		             "the memory no cgroup accounts for is not known: %s", r->unknown_why), c);
		return;
	}
	uint64_t un = r->unaccounted_kb > 0 ? (uint64_t)r->unaccounted_kb : 0;
	uint64_t total = r->mem.kb[FBN_MEM_TOTAL];
	char thrash[96] = "";
	if (r->flag_thrashing)
		cut(snprintf(thrash, sizeof(thrash), ", and the node thrashes (memory stalled %.0f%% of "
		             "the last 10 s)", r->psi.some.avg10), c);
	if (!r->flag_unaccounted) {
		c->status = "False";
		c->reason = "MemoryAccounted";
		cut(snprintf(c->message, sizeof(c->message),
		             "%.2f GiB of %.1f GiB is in no /proc/meminfo category, under the threshold%s",
		             gib(un), gib(total), thrash), c);
		return;
	}
	c->status = "True";
	const fbn_holder *h = r->suspect >= 0 && (size_t)r->suspect < r->holders.n
	                              ? &r->holders.v[r->suspect] : NULL;
	if (h && h->pod_uid[0]) {
		c->reason = fbn_basis_name(r->basis);
		memcpy(c->pod_uid, h->pod_uid, sizeof(c->pod_uid));
		cut(snprintf(c->message, sizeof(c->message),
		             "pod %s: %.1f GiB of %.1f GiB is in no /proc/meminfo category, so no cgroup "
		             "counts it%s; laid at this pod: %s", c->pod_uid, gib(un), gib(total), thrash,
		             r->suspect_why), c);
	} else {
		c->reason = "NotAttributed";
		cut(snprintf(c->message, sizeof(c->message),
		             "%.1f GiB of %.1f GiB is in no /proc/meminfo category, so no cgroup counts "
		             "it%s; %s", gib(un), gib(total), thrash, r->suspect_why), c);
	}
}

bool fbn_condition_changed(const fbn_condition *a, const fbn_condition *b)
{
	return strcmp(a->status, b->status) != 0 || strcmp(a->reason, b->reason) != 0 ||
	       strcmp(a->pod_uid, b->pod_uid) != 0;
}
