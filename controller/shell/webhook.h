/*
 * webhook.h - the admission webhook's HTTPS server: POST /mutate-pods, on
 * libwebsockets with OpenSSL, in a thread of its own (a libwebsockets
 * context apart from the /metrics server's, httpserver.h).
 *
 * It decides nothing: each AdmissionReview is answered by admreview.h, which
 * asks the caller's gate callback (the core's verdict). Every replica serves
 * it, leader or not.
 *
 * The server:
 *   - listens only once a serving certificate is loaded (fb_webhook_set_cert);
 *     later certificates replace it for new TLS handshakes, without a restart
 *     and without dropping open connections (an OpenSSL certificate callback
 *     picks the current certificate and key for each handshake);
 *   - speaks TLS 1.2 or later and HTTP/1.1 only (ALPN http/1.1: no HTTP/2,
 *     whose request bodies the libwebsockets version in use handles poorly);
 *     keeps connections alive for the API server, which reuses them: an idle
 *     connection is kept FB_WEBHOOK_IDLE_S, longer than the API server's own
 *     idle timeout (90 s), so that the client and not this server closes it
 *     and no request races a close;
 *   - answers POST /mutate-pods with Content-Type application/json and a
 *     Content-Length of at most FB_ADMREVIEW_MAX (read in chunks into a buffer
 *     capped there); anything else is refused with a one-line text/plain
 *     reason and counted (fb_webhook_err):
 *       404 another path; 405 another method (Allow: POST);
 *       415 another Content-Type;
 *       411 no Content-Length, 400 an invalid one, 413 one over the cap, and
 *       503 when FB_WEBHOOK_BUFFERED_MAX bytes of bodies are already being
 *       read: these close the connection after the answer (as does any
 *       refusal of a request whose body is unannounced or over the cap); the
 *       body is never kept, but up to FB_WEBHOOK_DRAIN_MAX of it is read and
 *       dropped first, so that a client still sending reads the answer;
 *       400 a body that is not a usable AdmissionReview, even when its uid
 *       could be read: the API server then records the call as failed (its
 *       log, apiserver_admission_webhook_fail_open_count, the audit event's
 *       failed-open annotation) and, the webhook being failurePolicy: Ignore,
 *       admits the pod ungated, which is what an "allowed" answer would have
 *       done without leaving a trace;
 *       500 out of memory.
 *     Refusals are logged: warn; 404 and 405, which scanners cause, debug; 500 error.
 *
 * Threading: fb_webhook_new, fb_webhook_set_cert and fb_webhook_free may be
 * called from any thread but not concurrently with fb_webhook_free;
 * fb_webhook_set_cert calls are serialised. The gate callback runs on the
 * server thread (the caller locks what it reads). fb_webhook_port and
 * fb_webhook_stats may be called from any thread at any time.
 *
 * OpenSSL: libwebsockets initialises OpenSSL (OPENSSL_init_ssl, idempotent
 * and thread-safe in OpenSSL 1.1+) when the server starts, and never cleans
 * it up; kc_global_init (libcurl) must have run before, as for everything.
 */
#ifndef FB_WEBHOOK_H
#define FB_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "admreview.h"
#include "workload.h"

#define FB_WEBHOOK_PATH "/mutate-pods"
/* Idle keep-alive connections are closed after this long (see above). */
#define FB_WEBHOOK_IDLE_S 120
/* A TLS handshake or a request body that stalls this long is dropped. */
#define FB_WEBHOOK_IO_TIMEOUT_S 10
/*
 * Cap on the request bodies being read at once, all connections together (by
 * their Content-Length): however many connections are opened, the webhook
 * holds at most this much of their bodies. Beyond it: 503, connection closed.
 */
#define FB_WEBHOOK_BUFFERED_MAX (64u << 20)
/*
 * After a refusal that closes the connection (411, 413, 503), at most this
 * much of the request body is still read, and dropped, before the close: a
 * client that sends its body without waiting (no Expect: 100-continue) then
 * reads the answer instead of a connection reset (nginx's lingering close).
 */
#define FB_WEBHOOK_DRAIN_MAX (8u << 20)
/* Cap on a PEM certificate chain or key handed to fb_webhook_set_cert. */
#define FB_WEBHOOK_PEM_MAX (256u << 10)

typedef struct fb_webhook fb_webhook;

/*
 * The question the webhook asks: is this workload's new pod to be gated? If
 * so, true and the Quarantine's name in quarantine[]. Called on the server
 * thread (the caller locks).
 */
typedef bool (*fb_webhook_gate_fn)(void *ud, const fb_workload_ref *w, char quarantine[FB_NAME_MAX]);

/* Requests refused, by kind (the HTTP status in brackets). */
typedef enum fb_webhook_err {
	FB_WEBHOOK_ERR_NOT_FOUND,  /* 404: a path other than FB_WEBHOOK_PATH */
	FB_WEBHOOK_ERR_METHOD,     /* 405: not POST */
	FB_WEBHOOK_ERR_MEDIA_TYPE, /* 415: Content-Type is not application/json */
	FB_WEBHOOK_ERR_LENGTH,     /* 411 no Content-Length, 400 an invalid one */
	FB_WEBHOOK_ERR_TOO_BIG,    /* 413: larger than FB_ADMREVIEW_MAX */
	FB_WEBHOOK_ERR_MALFORMED,  /* 400: not a usable AdmissionReview */
	FB_WEBHOOK_ERR_BUSY,       /* 503: FB_WEBHOOK_BUFFERED_MAX bytes of bodies already read */
	FB_WEBHOOK_ERR_INTERNAL,   /* 500: out of memory */
	FB_WEBHOOK_ERR_COUNT
} fb_webhook_err;

/* A short static name ("not_found", "too_big", ...) for logs and metric labels. */
const char *fb_webhook_err_name(fb_webhook_err e);

/*
 * The latency histogram's upper bounds, in seconds (+Inf implied), as a
 * Prometheus histogram wants them.
 */
#define FB_WEBHOOK_LATENCY_BUCKETS 12
extern const double fb_webhook_latency_bounds[FB_WEBHOOK_LATENCY_BUCKETS];

/*
 * Counters since fb_webhook_new, all monotonic (Prometheus counters), read
 * without a lock: each is exact, a snapshot of them all is not atomic. A
 * struct tag, not a typedef: the function fb_webhook_stats has that name.
 */
struct fb_webhook_stats {
	bool listening;                 /* a certificate is loaded and the port bound */
	uint64_t certs_loaded;          /* fb_webhook_set_cert calls that took effect */
	uint64_t certs_refused;         /* ... that were refused (the old one kept) */
	uint64_t requests;              /* HTTP requests answered, whatever the path or status */
	uint64_t gated;                 /* reviews answered with the gate patch */
	uint64_t allowed;               /* reviews answered allowed without a patch */
	uint64_t outcomes[FB_ADM_OUTCOMES]; /* gated + allowed, by fb_adm_outcome */
	uint64_t dry_run;               /* of gated + allowed, dry-run requests */
	uint64_t covered;               /* of gated + allowed, pods whose tolerations were covered */
	uint64_t errors[FB_WEBHOOK_ERR_COUNT]; /* requests refused, by kind */
	/*
	 * Latency of every answered request, from its headers read to its answer
	 * written: a Prometheus histogram, buckets cumulative (le[i] = answered
	 * within fb_webhook_latency_bounds[i]; count is the +Inf bucket).
	 */
	uint64_t latency_le[FB_WEBHOOK_LATENCY_BUCKETS];
	uint64_t latency_count;
	double latency_sum_s;
};

/*
 * A webhook server for addr ("host:port", ":port" or "port"; port 0 picks
 * one), not yet listening. NULL and a log line when addr is invalid (or "")
 * or memory runs out. The caller owns it and frees it with fb_webhook_free.
 */
fb_webhook *fb_webhook_new(const char *addr, fb_webhook_gate_fn gate, void *ud);

/*
 * Managed mode (admreview.h): cover new pods' failure tolerations, recording
 * default_toleration_s for a key a pod does not tolerate at all. Call before
 * the webhook first listens (before the first fb_webhook_set_cert).
 */
void fb_webhook_set_managed(fb_webhook *w, int64_t default_toleration_s);

/*
 * Load (first call: start listening) or replace the serving certificate
 * (PEM: the leaf first, then any intermediates) and its private key (PEM,
 * any type OpenSSL reads). The bytes are copied; the caller keeps its own.
 * A replacement takes effect for new TLS handshakes without a restart.
 * 0, or -1 with a log line (never a secret in it): a certificate or key that
 * cannot be read, a key that does not match the certificate, a listen
 * address that cannot be bound. On -1 the certificate in use is kept; if the
 * server was not listening yet it still is not, and the next call tries again.
 */
int fb_webhook_set_cert(fb_webhook *w, const char *cert_pem, size_t cert_len,
                        const char *key_pem, size_t key_len);

/* The port bound (the actual one with port 0); 0 while not listening. */
int fb_webhook_port(const fb_webhook *w);

/* A snapshot of the counters (see struct fb_webhook_stats). */
void fb_webhook_stats(const fb_webhook *w, struct fb_webhook_stats *out);

/*
 * Stop serving (open connections are closed), join the thread, free
 * everything. Accepts NULL. No call on w may run concurrently or follow.
 */
void fb_webhook_free(fb_webhook *w);

#endif
