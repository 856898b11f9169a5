/*
 * admreview.h - the admission webhook's AdmissionReview (admission.k8s.io/v1)
 * decoder and encoder. Pure: bytes in, bytes out; no I/O, no clock, no log.
 *
 * It decides nothing. For a pod CREATE it finds the pod's workload exactly as
 * the core does (fb_project_pod + fb_pod_proj_obs, project.h), asks the
 * caller's gate callback (the core's verdict) whether that workload's new
 * pods are to be held, and writes the answer:
 *   - always allowed: true (this webhook never denies; a failure on our side
 *     must never block a pod, which is also why the webhook is configured
 *     failurePolicy: Ignore);
 *   - when the pod is to be gated, a JSONPatch adding the scheduling gate
 *     FB_QUARANTINE_GATE: `add /spec/schedulingGates` with a one-element array
 *     when the pod has none, else `add /spec/schedulingGates/-`; nothing when
 *     the gate is already there, so that a reinvocation (reinvocationPolicy
 *     IfNeeded) never adds it twice; plus the audit annotation
 *     `quarantine: <Quarantine name>` (the API server prefixes the webhook's
 *     name: quarantine.firebreak.dev/quarantine) and a warning for the client.
 *
 * What is never gated, and never asked about: anything but a core/v1 Pod
 * CREATE (no subresource), DaemonSet pods and mirror pods (as the core never
 * suspects them), and a pod whose workload cannot be named (a bare pod
 * without a name yet, or names too long for workload.h).
 *
 * A pod of a quarantined workload that sets spec.nodeName cannot be gated:
 * the API server refuses a pod with both (ValidatePodCreate, "nodeName cannot
 * be set until all schedulingGates have been cleared"), so gating it would
 * deny it. It is allowed without a patch, with a warning and the audit
 * annotation `quarantine-ungated`, and reported as FB_ADM_UNGATEABLE.
 *
 * At admission a pod may have no metadata.name (generateName is resolved
 * after mutating admission) and no metadata.namespace: the namespace is taken
 * from request.namespace, the name from request.name, before projecting.
 *
 * Managed mode (fb_adm_options.managed; tolerations.h): every pod CREATE but
 * a DaemonSet's, a mirror pod or one labelled firebreak.dev/webhook=skip also
 * has its not-ready/unreachable NoExecute tolerations covered: the JSONPatch
 * writes spec.tolerations without their seconds and records them in the
 * annotation FB_ANNOTATION_TOLERATIONS (`add /metadata/annotations/<key>`,
 * or `add /metadata/annotations` when the pod has none), with the audit
 * annotation `tolerations-covered: <record>`. A reinvocation finds the pod
 * covered and its record there: no patch.
 *
 * A dry-run request is answered as any other (dry run shows what would be
 * done; the webhook has no side effects, sideEffects: None).
 */
#ifndef FB_ADMREVIEW_H
#define FB_ADMREVIEW_H

#include <stdbool.h>
#include <stddef.h>

#include "kc/error.h"
#include "core.h"
#include "tolerations.h"
#include "workload.h"


/*
 * Hard cap on a request body, checked before parsing. The API server limits
 * a request it accepts to 3 MiB (etcd's limit on an object is 1.5 MiB), and a
 * review carries one object: 4 MiB leaves room and still bounds the memory
 * one connection can take.
 */
#define FB_ADMREVIEW_MAX (4u << 20)
/* request.uid: a UUID (36 characters) from the API server; longer is refused. */
#define FB_ADM_UID_MAX 128
/* One-line reasons (no newline, no quote from the input): sent and logged as they are. */
#define FB_ADM_REASON_MAX 160

/*
 * The gate question, as fb_webhook_gate_fn (webhook.h): true and the
 * Quarantine's name in quarantine[] when this workload's new pods are to be
 * gated. Called at most once per review, on the caller's thread.
 */
typedef bool (*fb_adm_gate_fn)(void *ud, const fb_workload_ref *w, char quarantine[FB_NAME_MAX]);

typedef enum fb_adm_outcome {
	FB_ADM_IGNORED,         /* not a v1 Pod CREATE: allowed, nothing asked */
	FB_ADM_EXEMPT,          /* DaemonSet or mirror pod, or no workload: allowed, nothing asked */
	FB_ADM_NOT_QUARANTINED, /* asked, answered no: allowed, no patch */
	FB_ADM_GATED,           /* allowed with the gate patch */
	FB_ADM_ALREADY_GATED,   /* quarantined, gate already there (a reinvocation): no patch */
	FB_ADM_UNGATEABLE,      /* quarantined, but spec.nodeName is set: no patch (see above) */
} fb_adm_outcome;
#define FB_ADM_OUTCOMES (FB_ADM_UNGATEABLE + 1)

/* A short static name for an outcome ("gated", ...), for logs and labels. Never NULL. */
const char *fb_adm_outcome_name(fb_adm_outcome o);

/* What one review was about, for the caller's logs and counters. Plain data. */
typedef struct fb_adm_result {
	fb_adm_outcome outcome;
	bool dry_run;
	char uid[FB_ADM_UID_MAX];           /* "" when it could not be read */
	char ns[FB_NS_MAX];                 /* request.namespace, cut to fit */
	char pod[FB_NAME_MAX];              /* metadata.name, else its generateName, cut to fit */
	fb_workload_ref workload;           /* the workload asked about; empty if none */
	char quarantine[FB_NAME_MAX];       /* the gate's answer, when quarantined */
	bool covered;                       /* managed mode: the patch covers its tolerations */
	fb_tol_record record;               /* ... recording these seconds */
	bool record_removed;                /* managed mode: not covered, and its unreadable
	                                       FB_ANNOTATION_TOLERATIONS removed (a cover
	                                       replaces one) */
	bool uncoverable;                   /* managed mode: not covered, as a number in its
	                                       tolerations cannot be written back exactly
	                                       (tolerations.h); the answer warns */
	char reason[FB_ADM_REASON_MAX];     /* why the body was refused (not KC_OK) */
} fb_adm_result;

/*
 * Answer one AdmissionReview request body of len bytes (need not be
 * NUL-terminated). Total: any bytes give one of
 *   KC_OK           *out holds the AdmissionReview response (JSON, *out_len
 *                   bytes, NUL-terminated; the caller frees it with kc_free);
 *                   res->outcome says what it answered;
 *   KC_ERR_TOOBIG   len > FB_ADMREVIEW_MAX (nothing parsed): answer 413;
 *   KC_ERR_PARSE    not a usable AdmissionReview (not JSON, wrong apiVersion
 *                   or kind, no request, uid, kind, operation, object...):
 *                   answer 400;
 *   KC_ERR_NOMEM    out of memory: answer 500;
 * and on any error *out is NULL and res->reason holds one line saying why.
 * res is always filled as far as the body could be read.
 */
kc_err fb_admreview_answer(const char *body, size_t len, fb_adm_gate_fn gate, void *ud,
                           fb_adm_result *res, char **out, size_t *out_len);

/* What the webhook does besides the gate. */
typedef struct fb_adm_options {
	fb_adm_gate_fn gate;
	void *ud;                           /* the gate's */
	bool managed;                       /* cover pods' failure tolerations (above) */
	int64_t default_toleration_s;       /* recorded for a key with no toleration at all */
} fb_adm_options;

/* fb_admreview_answer with options; fb_admreview_answer is this with managed off. */
kc_err fb_admreview_answer_opts(const char *body, size_t len, const fb_adm_options *o,
                                fb_adm_result *res, char **out, size_t *out_len);

#endif
