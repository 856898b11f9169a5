/*
 * path.c - the resources we use, request paths and query strings.
 *
 * Paths follow the API server's layout (client-go rest/request.go URL()):
 *   core group:   /api/v1[/namespaces/NS]/PLURAL[/NAME[/SUB]]
 *   other groups: /apis/GROUP/VERSION[/namespaces/NS]/PLURAL[/NAME[/SUB]]
 * Every segment and every query key and value is percent-encoded (RFC 3986:
 * everything but the unreserved characters), so names with spaces, '/', '%'
 * or UTF-8 cannot change the meaning of the URL. Nothing here uses a
 * fixed-size buffer: output goes into the caller's capped kc_buf, and on any
 * failure the buffer is put back to what it held before the call.
 *
 * Optional query parameters are three-state (client-go's ListOptions with
 * omitempty, and the checklist's items 8/9): a NULL string or an unset
 * kc_opt_i64 is not sent at all; a set kc_opt_i64 is sent even when it is 0.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "kc/client.h"

const kc_resource KC_RES_NODES = { "", "v1", "nodes", "Node", false };
const kc_resource KC_RES_PODS = { "", "v1", "pods", "Pod", true };
const kc_resource KC_RES_NAMESPACES = { "", "v1", "namespaces", "Namespace", false };
const kc_resource KC_RES_LEASES = { "coordination.k8s.io", "v1", "leases", "Lease", true };
const kc_resource KC_RES_EVENTS = { "events.k8s.io", "v1", "events", "Event", true };
const kc_resource KC_RES_CORE_EVENTS = { "", "v1", "events", "Event", true };
const kc_resource KC_RES_REPLICASETS = { "apps", "v1", "replicasets", "ReplicaSet", true };
const kc_resource KC_RES_DEPLOYMENTS = { "apps", "v1", "deployments", "Deployment", true };
const kc_resource KC_RES_STATEFULSETS = { "apps", "v1", "statefulsets", "StatefulSet", true };
const kc_resource KC_RES_DAEMONSETS = { "apps", "v1", "daemonsets", "DaemonSet", true };
const kc_resource KC_RES_JOBS = { "batch", "v1", "jobs", "Job", true };
const kc_resource KC_RES_CRONJOBS = { "batch", "v1", "cronjobs", "CronJob", true };
const kc_resource KC_RES_SECRETS = { "", "v1", "secrets", "Secret", true };
const kc_resource KC_RES_MUTATINGWEBHOOKCONFIGURATIONS = {
	"admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
	"MutatingWebhookConfiguration", false
};

static bool is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

/* Put b back to its first `len` bytes after a failed append. */
static void buf_truncate(kc_buf *b, size_t len)
{
	if (b->len > len) {
		b->len = len;
		b->data[len] = '\0';
	}
}

kc_err kc_percent_encode(kc_buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	if (!out || !s)
		return KC_ERR_INVALID;
	size_t start = out->len;
	kc_err err = kc_buf_append(out, "", 0); /* "" still leaves a C string */
	const unsigned char *p = (const unsigned char *)s;
	while (!err && *p) {
		size_t run = 0; /* a run of unreserved characters goes in one append */
		while (p[run] && is_unreserved(p[run]))
			run++;
		if (run) {
			err = kc_buf_append(out, p, run);
			p += run;
		} else {
			char enc[3] = { '%', hex[*p >> 4], hex[*p & 0x0f] };
			err = kc_buf_append(out, enc, sizeof(enc));
			p++;
		}
	}
	if (err)
		buf_truncate(out, start);
	return err;
}

/* A path segment must be non-empty and not "." or ".." (they would be
 * normalised away by proxies and servers and address something else). */
static bool segment_ok(const char *s)
{
	return s && *s && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

static kc_err append_segment(kc_buf *out, const char *seg)
{
	kc_err err = kc_buf_append(out, "/", 1);
	return err ? err : kc_percent_encode(out, seg);
}

kc_err kc_path_append(kc_buf *out, const kc_resource *res, const char *ns,
                      const char *name, const char *subresource)
{
	if (!out || !res || !segment_ok(res->version) || !segment_ok(res->plural) || !res->group)
		return KC_ERR_INVALID;
	/* ns "" is client-go's NamespaceAll: the same as NULL. */
	if (ns && !*ns)
		ns = NULL;
	if (!res->namespaced)
		ns = NULL;
	if (res->namespaced && name && !ns)
		return KC_ERR_INVALID;
	if ((ns && !segment_ok(ns)) || (name && !segment_ok(name)) ||
	    (subresource && !segment_ok(subresource)) || (subresource && !name))
		return KC_ERR_INVALID;

	size_t start = out->len;
	kc_err err;
	if (*res->group) {
		if ((err = kc_buf_append_str(out, "/apis")) || (err = append_segment(out, res->group)))
			goto out_restore;
	} else if ((err = kc_buf_append_str(out, "/api"))) {
		goto out_restore;
	}
	if ((err = append_segment(out, res->version)))
		goto out_restore;
	if (ns && ((err = append_segment(out, "namespaces")) || (err = append_segment(out, ns))))
		goto out_restore;
	if ((err = append_segment(out, res->plural)))
		goto out_restore;
	if (name && (err = append_segment(out, name)))
		goto out_restore;
	if (subresource && (err = append_segment(out, subresource)))
		goto out_restore;
	return KC_OK;

out_restore:
	buf_truncate(out, start);
	return err;
}

kc_err kc_query_append(kc_buf *out, const char *key, const char *value)
{
	if (!out || !key || !*key || !value)
		return KC_ERR_INVALID;
	size_t start = out->len;
	kc_err err = KC_OK;
	if ((start && (err = kc_buf_append(out, "&", 1))) || (err = kc_percent_encode(out, key)) ||
	    (err = kc_buf_append(out, "=", 1)) || (err = kc_percent_encode(out, value))) {
		buf_truncate(out, start);
		return err;
	}
	return KC_OK;
}

static kc_err query_opt_str(kc_buf *out, const char *key, const char *value)
{
	return value && *value ? kc_query_append(out, key, value) : KC_OK;
}

static kc_err query_opt_i64(kc_buf *out, const char *key, kc_opt_i64 v)
{
	if (!v.set)
		return KC_OK;
	char num[24];
	snprintf(num, sizeof(num), "%" PRId64, v.value);
	return kc_query_append(out, key, num);
}

/*
 * metav1.ListOptions as query parameters. Empty strings are treated like NULL
 * (for resourceVersion "" and absent mean the same: "most recent").
 * timeoutSeconds is valid on LIST too and is sent whenever it is set;
 * allowWatchBookmarks and sendInitialEvents only on a watch.
 */
kc_err kc_list_query(kc_buf *out, const kc_list_opts *opts, bool watch)
{
	if (!out)
		return KC_ERR_INVALID;
	size_t start = out->len;
	kc_err err = KC_OK;
	if (watch && (err = kc_query_append(out, "watch", "1")))
		goto out_restore;
	if (!opts) {
		if (!out->data && (err = kc_buf_append(out, "", 0)))
			goto out_restore;
		return KC_OK;
	}
	if ((err = query_opt_str(out, "labelSelector", opts->label_selector)) ||
	    (err = query_opt_str(out, "fieldSelector", opts->field_selector)) ||
	    (err = query_opt_str(out, "resourceVersion", opts->resource_version)) ||
	    (err = query_opt_str(out, "resourceVersionMatch", opts->resource_version_match)) ||
	    (err = query_opt_str(out, "continue", opts->continue_token)) ||
	    (err = query_opt_i64(out, "limit", opts->limit)) ||
	    (err = query_opt_i64(out, "timeoutSeconds", opts->timeout_seconds)))
		goto out_restore;
	if (watch && opts->allow_watch_bookmarks &&
	    (err = kc_query_append(out, "allowWatchBookmarks", "true")))
		goto out_restore;
	if (watch && opts->send_initial_events &&
	    (err = kc_query_append(out, "sendInitialEvents", "true")))
		goto out_restore;
	if (!out->data && (err = kc_buf_append(out, "", 0)))
		goto out_restore;
	return KC_OK;

out_restore:
	buf_truncate(out, start);
	return err;
}
