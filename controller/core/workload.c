/* workload.c - workload references, identities and the table of kinds (see workload.h). */
#include <stdio.h>
#include <string.h>

#include "workload.h"

static const fb_kind_info kinds[] = {
	{ "Deployment", "apps/v1", "deployments", true },
	{ "StatefulSet", "apps/v1", "statefulsets", true },
	{ "ReplicaSet", "apps/v1", "replicasets", true },
	{ "DaemonSet", "apps/v1", "daemonsets", false },
	{ "Job", "batch/v1", "jobs", false },
	{ "CronJob", "batch/v1", "cronjobs", false },
	{ "Pod", "v1", "pods", false },
};

const fb_kind_info *fb_kind_lookup(const char *kind)
{
	for (size_t i = 0; kind && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kinds[i].kind, kind) == 0)
			return &kinds[i];
	return NULL;
}

const char *fb_kind_api_version(const char *kind)
{
	const fb_kind_info *k = fb_kind_lookup(kind);
	return k ? k->api_version : NULL;
}

bool fb_workload_scalable(const char *kind)
{
	const fb_kind_info *k = fb_kind_lookup(kind);
	return k && k->scalable;
}

static bool fits(char *dst, size_t cap, const char *src, size_t len)
{
	if (len >= cap)
		return false;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return true;
}

int fb_workload_ref_set(fb_workload_ref *out, const char *kind, const char *ns, const char *name)
{
	if (kind && ns && name && fits(out->kind, sizeof(out->kind), kind, strlen(kind)) &&
	    fits(out->ns, sizeof(out->ns), ns, strlen(ns)) &&
	    fits(out->name, sizeof(out->name), name, strlen(name)))
		return 0;
	memset(out, 0, sizeof(*out));
	return -1;
}

bool fb_workload_ref_eq(const fb_workload_ref *a, const fb_workload_ref *b)
{
	return strcmp(a->kind, b->kind) == 0 && strcmp(a->ns, b->ns) == 0 &&
	       strcmp(a->name, b->name) == 0;
}

const char *fb_workload_id(const fb_workload_ref *r, char out[FB_WORKLOAD_ID_MAX])
{
	snprintf(out, FB_WORKLOAD_ID_MAX, "%s/%s/%s", r->kind, r->ns, r->name);
	return out;
}

int fb_workload_id_parse(const char *id, fb_workload_ref *out)
{
	memset(out, 0, sizeof(*out));
	const char *a = id ? strchr(id, '/') : NULL;
	const char *b = a ? strchr(a + 1, '/') : NULL;
	if (!a || !b || a == id || !b[1] ||
	    !fits(out->kind, sizeof(out->kind), id, (size_t)(a - id)) ||
	    !fits(out->ns, sizeof(out->ns), a + 1, (size_t)(b - a - 1)) ||
	    !fits(out->name, sizeof(out->name), b + 1, strlen(b + 1))) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	return 0;
}
