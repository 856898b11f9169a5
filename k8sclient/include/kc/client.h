/*
 * kc/client.h - the HTTP client and the API verbs.
 *
 * A kc_client is one API server endpoint with its credentials, a pool of
 * libcurl handles sharing one connection cache (connections are reused), a
 * client-side token-bucket rate limiter (client-go's flowcontrol), and retry
 * of 429/5xx answers that carry Retry-After (client-go's rest.WithRetry: at
 * most KC_MAX_RETRIES tries, each through the rate limiter).
 *
 * TLS is verified by default and is never silently off: verification is
 * disabled only by insecure_skip_tls_verify in the config. A CA in the config
 * is the only CA trusted; without one, the system trust store is used. The CA,
 * client certificate and key go to libcurl from memory, never via files.
 * tls_server_name is honoured by putting that name in the URL and mapping it
 * to the real host:port with CURLOPT_CONNECT_TO (libcurl 7.88 has no SNI
 * override); the Host header keeps the real host:port, as Go sends it.
 *
 * Proxies: only the config's proxy_url. Environment proxies (http_proxy,
 * HTTPS_PROXY, ALL_PROXY) are deliberately ignored, so a stray variable in a
 * pod cannot reroute API traffic.
 *
 * Retries: a Retry-After wait is capped at 10 s. A 401 is retried once, with
 * fresh credentials, only when they can change (token file, exec plugin). A
 * GET whose connection was reset is retried once after 1 s (client-go's
 * IsErrRetryable for GET).
 *
 * Threading: a kc_client is thread-safe; any number of threads may issue
 * requests and streams on it at once. No per-call state lives in it.
 *
 * Errors: a non-2xx answer is never parsed as the success type. Its body is
 * decoded as a metav1.Status into the kc_error_detail (reason, message, code)
 * and the matching kc_err is returned (KC_ERR_NOT_FOUND, KC_ERR_CONFLICT ...).
 */
#ifndef KC_CLIENT_H
#define KC_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "kc/buf.h"
#include "kc/cancel.h"
#include "kc/config.h"
#include "kc/error.h"

#define KC_RESPONSE_MAX_BYTES (64u << 20) /* one non-streamed response body */
#define KC_MAX_RETRIES        10
#define KC_DEFAULT_QPS        20.0
#define KC_DEFAULT_BURST      30
#define KC_DEFAULT_CONNECT_TIMEOUT_MS 10000
#define KC_DEFAULT_REQUEST_TIMEOUT_MS 30000

typedef struct kc_client kc_client;

typedef struct kc_client_options {
	double qps;                /* <= 0: KC_DEFAULT_QPS; set rate_limit_off to disable */
	int burst;                 /* <= 0: KC_DEFAULT_BURST */
	bool rate_limit_off;
	long connect_timeout_ms;   /* <= 0: default */
	long request_timeout_ms;   /* whole non-streamed request; <= 0: default */
	int max_retries;           /* <= 0: KC_MAX_RETRIES */
	const char *user_agent;    /* NULL: "k8sclient/<version> (<os>/<arch>)" */
	size_t max_response_bytes; /* 0 or > KC_RESPONSE_MAX_BYTES: KC_RESPONSE_MAX_BYTES */
	/*
	 * Observer, called after every HTTP exchange (each try of a retried
	 * request counts) on the calling thread: the method, the HTTP status (0
	 * when no answer came: transport error, timeout, cancel) and how long the
	 * exchange took. For metrics; it must be quick and thread-safe. May be NULL.
	 */
	void (*on_request)(void *ud, const char *method, long status, int64_t duration_us);
	void *on_request_ud;
} kc_client_options;

/*
 * Create a client for cfg (copied; the caller keeps ownership of cfg).
 * opts may be NULL for defaults. On failure *out is untouched.
 */
kc_err kc_client_new(const kc_config *cfg, const kc_client_options *opts,
                     kc_client **out, kc_error_detail *d);
/* Accepts NULL. No request may still be running on it. */
void kc_client_free(kc_client *c);
/* The config's namespace (never NULL). */
const char *kc_client_namespace(const kc_client *c);
/* The User-Agent header sent, e.g. "k8sclient/0.1.0 (linux/amd64)". */
const char *kc_client_user_agent(const kc_client *c);

/*
 * "<product>/<version> (<os>/<arch>)" with the running system's names as Go
 * spells them ("linux/amd64"), the form of client-go's
 * rest.DefaultKubernetesUserAgent; for kc_client_options.user_agent. Caller
 * frees with kc_free; NULL on ENOMEM.
 */
char *kc_user_agent_new(const char *product, const char *version);

/* ---- Resources and paths ------------------------------------------------ */

typedef struct kc_resource {
	const char *group;    /* "" for the core group */
	const char *version;  /* "v1" */
	const char *plural;   /* "pods" */
	const char *kind;     /* "Pod" */
	bool namespaced;
} kc_resource;

extern const kc_resource KC_RES_NODES;
extern const kc_resource KC_RES_PODS;
extern const kc_resource KC_RES_NAMESPACES;
extern const kc_resource KC_RES_LEASES;        /* coordination.k8s.io/v1 */
extern const kc_resource KC_RES_EVENTS;        /* events.k8s.io/v1 */
extern const kc_resource KC_RES_CORE_EVENTS;   /* v1 events */
extern const kc_resource KC_RES_REPLICASETS;   /* apps/v1 */
extern const kc_resource KC_RES_DEPLOYMENTS;
extern const kc_resource KC_RES_STATEFULSETS;
extern const kc_resource KC_RES_DAEMONSETS;
extern const kc_resource KC_RES_JOBS;          /* batch/v1 */
extern const kc_resource KC_RES_CRONJOBS;
extern const kc_resource KC_RES_SECRETS;
extern const kc_resource KC_RES_MUTATINGWEBHOOKCONFIGURATIONS; /* admissionregistration.k8s.io/v1 */

/*
 * Append the request path to out: /api/v1[/namespaces/NS]/PLURAL[/NAME[/SUB]]
 * or /apis/GROUP/VERSION/... Each segment is percent-encoded. ns NULL (or a
 * cluster-scoped resource) = no namespace segment; name/sub NULL = omitted.
 * KC_ERR_INVALID if a namespaced name is given without ns, or a segment is
 * empty, "." or "..".
 */
kc_err kc_path_append(kc_buf *out, const kc_resource *res, const char *ns,
                      const char *name, const char *subresource);

/* Append "key=value" percent-encoded, preceded by '&' if out is not empty. */
kc_err kc_query_append(kc_buf *out, const char *key, const char *value);

/* RFC 3986 percent-encoding of everything but unreserved characters. */
kc_err kc_percent_encode(kc_buf *out, const char *s);

/* ---- Raw requests --------------------------------------------------------- */

typedef struct kc_request {
	const char *method;        /* "GET", "POST", "PUT", "PATCH", "DELETE" */
	const char *path;          /* from kc_path_append */
	const char *query;         /* from kc_query_append, or NULL */
	const char *content_type;  /* NULL: "application/json" when there is a body */
	const char *body;          /* replayable: resent as is on retry */
	size_t body_len;
	long timeout_ms;           /* 0: the client's request timeout */
	kc_cancel *cancel;         /* NULL: not cancellable */
} kc_request;

typedef struct kc_response {
	long status;               /* HTTP status */
	kc_buf body;               /* capped at KC_RESPONSE_MAX_BYTES */
} kc_response;

void kc_response_release(kc_response *r);

/*
 * Perform a request: rate limited, retried on 429/5xx with Retry-After,
 * credentials refreshed on 401 and the request tried once more.
 * On 2xx returns KC_OK and fills *resp (caller releases it).
 * On non-2xx returns the matching kc_err, fills d from the metav1.Status and
 * leaves *resp released. Transport failures return KC_ERR_TRANSPORT etc.
 */
kc_err kc_client_do(kc_client *c, const kc_request *req, kc_response *resp,
                    kc_error_detail *d);

/*
 * Stream a response body (watches). No overall timeout; the stream fails with
 * KC_ERR_STALLED if no byte arrives for stall_timeout_ms (0 = no detector).
 * on_data is called for each chunk as it arrives; returning anything but
 * KC_OK stops the stream and that code is returned. A non-2xx answer is
 * reported as for kc_client_do and on_data is not called. A clean end of the
 * stream returns KC_OK.
 */
typedef kc_err (*kc_stream_fn)(void *ud, const char *data, size_t len);
kc_err kc_client_stream(kc_client *c, const kc_request *req, long stall_timeout_ms,
                        kc_stream_fn on_data, void *ud, kc_error_detail *d);

/* ---- Verbs ----------------------------------------------------------------
 * Each returns the decoded object in *out (caller frees with cJSON_Delete) if
 * out is not NULL; on failure *out is untouched. All options are optional: a
 * NULL string, a false `set`, is simply not sent.
 */

typedef struct kc_opt_i64 {
	bool set;
	int64_t value;
} kc_opt_i64;

typedef struct kc_list_opts {
	const char *label_selector;
	const char *field_selector;
	const char *resource_version;
	const char *resource_version_match; /* "NotOlderThan" | "Exact" */
	const char *continue_token;
	kc_opt_i64 limit;
	kc_opt_i64 timeout_seconds;         /* watch only */
	bool allow_watch_bookmarks;         /* watch only */
	bool send_initial_events;           /* watch only */
} kc_list_opts;

/* Append the query for opts (watch adds "watch=1"). */
kc_err kc_list_query(kc_buf *out, const kc_list_opts *opts, bool watch);

typedef struct kc_delete_opts {
	kc_opt_i64 grace_period_seconds;
	const char *precondition_uid;
	const char *precondition_resource_version;
	const char *propagation_policy;     /* "Orphan" | "Background" | "Foreground" */
	bool dry_run;                       /* dryRun=All */
} kc_delete_opts;

typedef enum kc_patch_type {
	KC_PATCH_MERGE,           /* application/merge-patch+json */
	KC_PATCH_STRATEGIC,       /* application/strategic-merge-patch+json */
	KC_PATCH_JSON,            /* application/json-patch+json */
	KC_PATCH_APPLY,           /* application/apply-patch+yaml (needs field_manager) */
} kc_patch_type;

typedef struct kc_write_opts {
	const char *field_manager;
	bool dry_run;                       /* dryRun=All */
	kc_cancel *cancel;
} kc_write_opts;

kc_err kc_get(kc_client *c, const kc_resource *res, const char *ns, const char *name,
              const char *subresource, cJSON **out, kc_error_detail *d);
/* One page of a LIST (see kc/watch.h for the paginated, relisting reflector). */
kc_err kc_list(kc_client *c, const kc_resource *res, const char *ns,
               const kc_list_opts *opts, cJSON **out, kc_error_detail *d);
kc_err kc_create(kc_client *c, const kc_resource *res, const char *ns, const cJSON *obj,
                 const kc_write_opts *opts, cJSON **out, kc_error_detail *d);
/* PUT; obj carries metadata.resourceVersion for optimistic concurrency. */
kc_err kc_update(kc_client *c, const kc_resource *res, const char *ns, const char *name,
                 const char *subresource, const cJSON *obj, const kc_write_opts *opts,
                 cJSON **out, kc_error_detail *d);
kc_err kc_patch(kc_client *c, const kc_resource *res, const char *ns, const char *name,
                const char *subresource, kc_patch_type type, const char *patch,
                const kc_write_opts *opts, cJSON **out, kc_error_detail *d);
kc_err kc_delete(kc_client *c, const kc_resource *res, const char *ns, const char *name,
                 const kc_delete_opts *opts, kc_error_detail *d);
/*
 * POST pods/NAME/eviction (policy/v1 Eviction). PodDisruptionBudgets are
 * honoured by the server: KC_ERR_TOO_MANY means "not now, try again later".
 */
kc_err kc_evict(kc_client *c, const char *ns, const char *pod, const kc_delete_opts *opts,
                kc_error_detail *d);

#endif
