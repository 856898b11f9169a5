/*
 * webhookcerts.h - the webhook's certificates on the API side: the Secret
 * watched by every replica, and, when firebreak manages the certificates,
 * created and rotated by the leader, with the caBundle of the
 * MutatingWebhookConfiguration kept current (certs.h has the plan it follows).
 *
 * Every replica (both modes) watches the one Secret (an informer with
 * fieldSelector metadata.name=NAME in its namespace) and hands tls.crt and
 * tls.key to the sink each time they change and can be served (they parse,
 * the key is the certificate's, it is valid now): a renewed certificate is
 * loaded without a restart. A Secret that cannot be served is one log line
 * per change and no call: the replica keeps what it loaded before.
 *
 * FB_CERTS_SELF: a worker thread, which acts only while is_leader() says so,
 * reads the Secret and the webhook configuration (GET), asks the plan, and
 * carries out one step at a time until there is nothing to do:
 *   - the Secret is created when missing (POST; 409 AlreadyExists means
 *     another replica was first: read it again and go on from there);
 *   - it is rewritten with PUT carrying the resourceVersion read (a 409
 *     Conflict is read again and planned afresh, never overwritten);
 *   - the caBundle of every webhook entry is set by a strategic merge patch
 *     (webhooks merge by name) carrying the resourceVersion read, so a
 *     concurrent change is a 409 and a re-read too.
 * It wakes when either object changes (a second informer watches the webhook
 * configuration by name), when leadership is gained, when the plan's next
 * time comes, and at least every resync_ms. Failures are logged
 * (fb_log_api_error) and retried with backoff. Both informers run on every
 * replica, so the "observed unchanged since" times the plan's holds need are
 * already known to a follower that becomes leader.
 *
 * FB_CERTS_EXTERNAL: someone else (cert-manager and its cainjector) writes the
 * Secret and the caBundle; firebreak only loads, and writes nothing.
 *
 * Both modes log a watch that keeps failing (RBAC, a wrong name), which the
 * reflector would otherwise only retry, and external mode a Secret that is
 * not there yet.
 *
 * Nothing secret is ever logged: serials, notAfter, CNs and reasons only.
 *
 * API calls (the RBAC they need is in the report of issue 12 and
 * docs/operations.md): secrets get, list, watch (by name), update (by name)
 * and create, in the Secret's namespace; mutatingwebhookconfigurations get,
 * list, watch and patch, by name (self mode only).
 */
#ifndef FB_WEBHOOKCERTS_H
#define FB_WEBHOOKCERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "certs.h"
#include "kc/client.h"

/*
 * Where a certificate goes when it is loaded: PEM of tls.crt (the serving
 * certificate first, then any chain) and of tls.key, borrowed for the call.
 * Called on the Secret informer's thread; it must be quick and thread-safe
 * against whatever serves TLS.
 */
typedef void (*fb_cert_sink)(void *ud, const char *cert_pem, size_t cert_len,
                             const char *key_pem, size_t key_len);

typedef enum fb_certs_mode { FB_CERTS_SELF, FB_CERTS_EXTERNAL } fb_certs_mode;

/* "self" | "external". */
bool fb_certs_mode_parse(const char *s, fb_certs_mode *out);
const char *fb_certs_mode_name(fb_certs_mode m);

#define FB_WEBHOOK_ENTRIES_MAX 16 /* webhook entries in the configuration */

typedef struct fb_webhookcerts fb_webhookcerts;

typedef struct fb_webhookcerts_options {
	const char *namespace;         /* required: firebreak's own, the Secret's */
	const char *secret;            /* required */
	fb_certs_mode mode;
	fb_cert_sink sink;             /* required */
	void *sink_ud;
	/* self mode only (required then): */
	const char *webhook_config;    /* the MutatingWebhookConfiguration */
	const char *service;           /* the Service in front of the webhook: the SANs */
	const char *extra_sans;        /* comma separated; NULL or "" for none */
	bool (*is_leader)(void *ud);   /* may this replica write now? any thread */
	void *leader_ud;
	fb_cert_policy policy;         /* all zero: fb_cert_policy_defaults */
	/* timings; 0 = the default (tests scale them down) */
	int64_t resync_ms;             /* plan again at least this often (10 min) */
	int64_t leader_poll_ms;        /* how often is_leader is asked (1 s) */
	int64_t backoff_initial_ms;    /* after a failure (1 s), doubling to */
	int64_t backoff_max_ms;        /* (5 min) */
	long watch_backoff_ms;         /* the informers' first backoff (the reflector's) */
} fb_webhookcerts_options;

/*
 * Start watching (and, in self mode, the worker). The strings are copied; the
 * client must outlive the handle. KC_ERR_INVALID (why says which option),
 * KC_ERR_NOMEM; *out untouched on failure, nothing left running.
 */
kc_err fb_webhookcerts_start(kc_client *c, const fb_webhookcerts_options *o,
                             fb_webhookcerts **out, char *why, size_t cap);

/* Wake the worker now (e.g. leadership gained); harmless in external mode. */
void fb_webhookcerts_poke(fb_webhookcerts *w);

/*
 * Stop every thread, then free. Watches and writes are cancelled at once; a
 * GET under way finishes first (at most the client's request timeout).
 * Accepts NULL.
 */
void fb_webhookcerts_free(fb_webhookcerts *w);

typedef struct fb_webhookcerts_stats {
	uint64_t loads;          /* pairs handed to the sink */
	uint64_t unusable;       /* Secret contents that could not be served */
	uint64_t secret_creates; /* self: Secrets created */
	uint64_t secret_updates; /* self: Secrets rewritten */
	uint64_t bundle_patches; /* self: caBundle patches */
	uint64_t conflicts;      /* self: 409s, each followed by a re-read */
	uint64_t failures;       /* self: reconciles that failed and backed off */
	/* why the Secret's pair is not served, when it is not ("" once one is loaded) */
	char unusable_why[FB_CERT_WHY_MAX + 40];
} fb_webhookcerts_stats;

void fb_webhookcerts_stats_get(fb_webhookcerts *w, fb_webhookcerts_stats *out);

#endif
