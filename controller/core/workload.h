/*
 * workload.h - what the controller knows of workloads: a reference to one
 * (kind, namespace, name), its identity string, and the one table of the
 * kinds firebreak knows by name.
 *
 * Identity follows the pod's controller ownerReference (project.h says how a
 * ReplicaSet becomes its Deployment and a Job its CronJob); a bare pod is its
 * own workload. The identity string "Kind/namespace/name" is the form kept in
 * the durable evidence (the firebreak.dev/failure annotation) and the key of
 * the core's workload table; it is built and parsed only here.
 */
#ifndef FB_WORKLOAD_H
#define FB_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Sizes that hold every valid value: a kind, lowercased, is a DNS-1035 label
 * (apiextensions ValidateCustomResourceDefinitionNames), a namespace a
 * DNS-1123 label (63), an object name a DNS-1123 subdomain (253).
 */
#define FB_KIND_MAX 64
#define FB_NS_MAX 64
#define FB_NAME_MAX 254
#define FB_WORKLOAD_ID_MAX (FB_KIND_MAX + FB_NS_MAX + FB_NAME_MAX)

typedef struct fb_workload_ref {
	char kind[FB_KIND_MAX];     /* "" = no workload */
	char ns[FB_NS_MAX];
	char name[FB_NAME_MAX];
} fb_workload_ref;

/* Fill *out (values longer than the fields are refused: -1, *out cleared). */
int fb_workload_ref_set(fb_workload_ref *out, const char *kind, const char *ns, const char *name);
static inline bool fb_workload_ref_empty(const fb_workload_ref *r)
{
	return !r || !r->kind[0];
}
bool fb_workload_ref_eq(const fb_workload_ref *a, const fb_workload_ref *b);

/* "Kind/namespace/name" into out; returns out. */
const char *fb_workload_id(const fb_workload_ref *r, char out[FB_WORKLOAD_ID_MAX]);
/* The reverse; -1 (and *out cleared) on anything that is not three non-empty parts. */
int fb_workload_id_parse(const char *id, fb_workload_ref *out);

/*
 * The kinds firebreak knows: their API group/version and resource, and
 * whether ScaleToZero can set their replicas through the apps/v1 scale
 * subresource. Any other kind (another controller's) is still a workload,
 * with no known apiVersion, and is never scaled.
 */
typedef struct fb_kind_info {
	const char *kind;           /* "Deployment" */
	const char *api_version;    /* "apps/v1" */
	const char *resource;       /* "deployments" */
	bool scalable;
} fb_kind_info;

/* The table's entry for kind, or NULL for a kind it does not list. */
const fb_kind_info *fb_kind_lookup(const char *kind);
/* Its apiVersion, or NULL when the kind is not in the table. */
const char *fb_kind_api_version(const char *kind);
/* Deployment, StatefulSet and ReplicaSet; any other workload is pinned instead. */
bool fb_workload_scalable(const char *kind);

#endif
