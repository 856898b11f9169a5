/* webhook.c - the admission webhook's HTTPS server (see webhook.h). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libwebsockets.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "httpserver.h"
#include "kc/alloc.h"
#include "kc/buf.h"
#include "kc/time.h"
#include "log.h"
#include "webhook.h"

#define WEBHOOK_HEADERS_MAX 512  /* status line and headers of an answer */
#define WEBHOOK_HEADER_VALUE_MAX 128
#define WEBHOOK_REASON_MAX (FB_ADM_REASON_MAX + 2)
#define WEBHOOK_TOO_BIG "request entity too large: an AdmissionReview is at most 4 MiB"

const double fb_webhook_latency_bounds[FB_WEBHOOK_LATENCY_BUCKETS] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
};

static const char *const err_names[FB_WEBHOOK_ERR_COUNT] = {
	[FB_WEBHOOK_ERR_NOT_FOUND] = "not_found",   [FB_WEBHOOK_ERR_METHOD] = "method",
	[FB_WEBHOOK_ERR_MEDIA_TYPE] = "media_type", [FB_WEBHOOK_ERR_LENGTH] = "length",
	[FB_WEBHOOK_ERR_TOO_BIG] = "too_big",       [FB_WEBHOOK_ERR_MALFORMED] = "malformed",
	[FB_WEBHOOK_ERR_BUSY] = "busy",             [FB_WEBHOOK_ERR_INTERNAL] = "internal",
};

/* The serving certificate: leaf, intermediates and key, replaced whole. */
typedef struct cert {
	X509 *leaf;
	STACK_OF(X509) *chain;
	EVP_PKEY *key;
} cert;

typedef atomic_uint_least64_t counter;

struct fb_webhook {
	char host[FB_HTTP_HOST_MAX];
	int want_port;
	fb_webhook_gate_fn gate;
	void *ud;
	bool managed;                   /* fixed before the server starts */
	int64_t default_toleration_s;

	pthread_mutex_t start_lock;     /* serialises fb_webhook_set_cert (and the start) */
	pthread_mutex_t cert_lock;      /* cur, read by each handshake on the server thread */
	cert cur;

	struct lws_context *ctx;        /* NULL until listening; set under start_lock */
	SSL_CTX *client_ctx;            /* an empty one for libwebsockets (see start) */
	pthread_t thread;
	atomic_bool stop;
	atomic_int port;                /* 0 until listening */
	uint64_t buffered;              /* bodies being read, by Content-Length (server thread) */

	counter certs_loaded, certs_refused, requests, gated, allowed, dry_run, covered;
	counter outcomes[FB_ADM_OUTCOMES];
	counter errors[FB_WEBHOOK_ERR_COUNT];
	counter latency_le[FB_WEBHOOK_LATENCY_BUCKETS];
	counter latency_count, latency_sum_us;
};

/*
 * One HTTP transaction. libwebsockets frees and re-zeroes it between the
 * transactions of a keep-alive connection, so anything allocated is released
 * before lws_http_transaction_completed and on close.
 */
typedef struct session {
	int64_t start_us;               /* headers read */
	bool reading;                   /* a body is awaited for review */
	bool answered;                  /* the answer's headers are written */
	bool body_follows;              /* libwebsockets will read a request body */
	bool draining;                  /* answered and closing: the body is dropped */
	uint64_t drained;
	kc_buf body;                    /* capped at FB_ADMREVIEW_MAX */
	uint64_t reserved;              /* its Content-Length, counted in fb_webhook.buffered */
	const char *out;                /* the answer's body: owned or reason */
	char *owned;
	size_t out_len, sent;
	char reason[WEBHOOK_REASON_MAX]; /* a refusal's text, "...\n" */
} session;

const char *fb_webhook_err_name(fb_webhook_err e)
{
	return (size_t)e < FB_WEBHOOK_ERR_COUNT ? err_names[e] : "unknown";
}

/* Drop the request body and its share of fb_webhook.buffered. */
static void body_release(fb_webhook *w, session *s)
{
	w->buffered -= s->reserved;
	s->reserved = 0;
	kc_buf_release(&s->body);
}

static void session_release(fb_webhook *w, session *s)
{
	body_release(w, s);
	s->draining = false;
	kc_free(s->owned);
	s->owned = NULL;
	s->out = NULL;
	s->reading = false;
}

static void cert_release(cert *c)
{
	X509_free(c->leaf);
	sk_X509_pop_free(c->chain, X509_free);
	EVP_PKEY_free(c->key);
	memset(c, 0, sizeof(*c));
}

/* ---- TLS ------------------------------------------------------------------ */

/* A PEM passphrase callback that has none: an encrypted key is refused, never prompted for. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return 0;
}

/* Read a leaf certificate, its intermediates and a matching key; -1 and *why. */
static int cert_parse(cert *c, const char *cert_pem, size_t cert_len, const char *key_pem,
                      size_t key_len, const char **why)
{
	memset(c, 0, sizeof(*c));
	*why = "out of memory";
	if (cert_len > FB_WEBHOOK_PEM_MAX || key_len > FB_WEBHOOK_PEM_MAX) {
		*why = "certificate or key larger than 256 KiB";
		return -1;
	}
	BIO *bio = BIO_new_mem_buf(cert_pem, (int)cert_len);
	if (!bio)
		goto fail;
	c->leaf = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL);
	c->chain = sk_X509_new_null();
	X509 *x;
	while (c->leaf && c->chain && (x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL))) {
		if (!sk_X509_push(c->chain, x)) {
			X509_free(x);
			break;
		}
	}
	BIO_free(bio);
	if (!c->leaf) {
		*why = "no PEM certificate";
		goto fail;
	}
	if (!(bio = BIO_new_mem_buf(key_pem, (int)key_len)))
		goto fail;
	c->key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	if (!c->key) {
		*why = "no PEM private key (or an encrypted one)";
		goto fail;
	}
	if (X509_check_private_key(c->leaf, c->key) != 1) {
		*why = "the private key does not match the certificate";
		goto fail;
	}
	ERR_clear_error(); /* the end of the chain leaves "no start line" behind */
	return 0;
fail:
	ERR_clear_error();
	cert_release(c);
	return -1;
}

/* Each handshake takes the certificate current when it starts. 1 = go on, 0 = fail it. */
static int select_cert(SSL *ssl, void *arg)
{
	fb_webhook *w = arg;
	pthread_mutex_lock(&w->cert_lock);
	/* takes its own references: a later swap frees nothing this connection uses */
	int ok = w->cur.leaf && SSL_use_cert_and_key(ssl, w->cur.leaf, w->cur.key, w->cur.chain, 1);
	pthread_mutex_unlock(&w->cert_lock);
	return ok;
}

/* The vhost's SSL_CTX, as libwebsockets made it without a certificate. */
static int tls_setup(fb_webhook *w, SSL_CTX *ctx)
{
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION))
		return -1;
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_cert_cb(ctx, select_cert, w);
	return 0;
}

/* ---- answers -------------------------------------------------------------- */

static void observe(fb_webhook *w, int64_t us)
{
	if (us < 0)
		us = 0;
	atomic_fetch_add(&w->requests, 1);
	atomic_fetch_add(&w->latency_count, 1);
	atomic_fetch_add(&w->latency_sum_us, (uint64_t)us);
	for (size_t i = 0; i < FB_WEBHOOK_LATENCY_BUCKETS; i++)
		if ((double)us <= fb_webhook_latency_bounds[i] * 1e6)
			atomic_fetch_add(&w->latency_le[i], 1);
}

/*
 * Write the answer's headers; the body goes out on the writeable callback,
 * and the transaction completes there (the connection stays open). With
 * close, the whole answer is written now and the connection closed: at once
 * (-1) when no request body follows, else once up to FB_WEBHOOK_DRAIN_MAX
 * bytes of it have been read and dropped (never kept), so that a client
 * still sending reads the answer rather than a reset.
 */
static int answer(fb_webhook *w, struct lws *wsi, session *s, unsigned status, const char *ctype,
                  bool close)
{
	observe(w, kc_now_mono_us() - s->start_us);
	unsigned char buf[LWS_PRE + WEBHOOK_HEADERS_MAX];
	unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf) - 1;
	if (lws_add_http_header_status(wsi, status, &p, end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
	                                 (const unsigned char *)ctype, (int)strlen(ctype), &p, end) ||
	    lws_add_http_header_content_length(wsi, s->out_len, &p, end) ||
	    (status == HTTP_STATUS_METHOD_NOT_ALLOWED &&
	     lws_add_http_header_by_name(wsi, (const unsigned char *)"allow:",
	                                 (const unsigned char *)"POST", 4, &p, end)) ||
	    (close && lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
	                                           (const unsigned char *)"close", 5, &p, end)) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	s->answered = true;
	s->reading = false;
	if (close) {
		while (fb_http_write_body(wsi, s->out, s->out_len, &s->sent) == 0)
			;
		session_release(w, s);
		s->draining = s->body_follows;
		return s->draining ? 0 : -1;
	}
	lws_callback_on_writable(wsi);
	return 0;
}

/* Refuse a request with a one-line reason (text/plain), count and log it. */
static int refuse(fb_webhook *w, struct lws *wsi, session *s, fb_webhook_err kind,
                  unsigned status, const char *reason, const fb_adm_result *res, bool close)
{
	atomic_fetch_add(&w->errors[kind], 1);
	char peer[64] = "", q[WEBHOOK_REASON_MAX + 8], quid[FB_ADM_UID_MAX + 16], qpeer[80];
	lws_get_peer_simple(wsi, peer, sizeof(peer));
	fb_log(kind == FB_WEBHOOK_ERR_NOT_FOUND || kind == FB_WEBHOOK_ERR_METHOD ? FB_DEBUG
	       : kind == FB_WEBHOOK_ERR_INTERNAL                                 ? FB_ERROR
	                                                                         : FB_WARN,
	       "admission request refused", "status=%u kind=%s reason=%s uid=%s peer=%s", status,
	       fb_webhook_err_name(kind), fb_log_quote(reason, q, sizeof(q)),
	       fb_log_quote(res ? res->uid : "", quid, sizeof(quid)),
	       fb_log_quote(peer, qpeer, sizeof(qpeer)));
	snprintf(s->reason, sizeof(s->reason), "%s\n", reason);
	s->out = s->reason;
	s->out_len = strlen(s->reason);
	return answer(w, wsi, s, status, "text/plain; charset=utf-8", close);
}

/* Every value from the request is quoted: a client other than the API server may send anything. */
static void log_review(const fb_adm_result *res)
{
	fb_log_level level = res->outcome == FB_ADM_UNGATEABLE || res->uncoverable ? FB_WARN
	                     : res->outcome == FB_ADM_GATED                        ? FB_INFO
	                                                                           : FB_DEBUG;
	if (!fb_log_enabled(level))
		return;
	char id[FB_WORKLOAD_ID_MAX], qid[FB_WORKLOAD_ID_MAX + 16], qns[FB_NS_MAX + 16];
	char qpod[FB_NAME_MAX + 16], qq[FB_NAME_MAX + 16], quid[FB_ADM_UID_MAX + 16];
	char rec[FB_TOL_RECORD_MAX] = "";
	if (res->covered)
		fb_tol_record_format(&res->record, rec);
	fb_log(level,
	       res->outcome == FB_ADM_GATED        ? "pod gated"
	       : res->outcome == FB_ADM_UNGATEABLE ? "pod of a quarantined workload not gated: it sets spec.nodeName"
	       : res->uncoverable                  ? "pod's tolerations not covered: a tolerationSeconds is not a whole number below 2^53"
	                                           : "admission review answered",
	       "outcome=%s ns=%s pod=%s workload=%s quarantine=%s covered=%s dry_run=%s uid=%s",
	       fb_adm_outcome_name(res->outcome), fb_log_quote(res->ns, qns, sizeof(qns)),
	       fb_log_quote(res->pod, qpod, sizeof(qpod)),
	       fb_log_quote(fb_workload_ref_empty(&res->workload) ? ""
	                                                          : fb_workload_id(&res->workload, id),
	                    qid, sizeof(qid)),
	       fb_log_quote(res->quarantine, qq, sizeof(qq)),
	       rec[0] ? rec : res->uncoverable ? "not-exact" : "no",
	       res->dry_run ? "true" : "false",
	       fb_log_quote(res->uid, quid, sizeof(quid)));
}

/* The whole body is read: review it and answer. */
static int on_body(fb_webhook *w, struct lws *wsi, session *s)
{
	fb_adm_result res;
	char *out;
	size_t len;
	fb_adm_options o = { .gate = w->gate, .ud = w->ud, .managed = w->managed,
		             .default_toleration_s = w->default_toleration_s };
	kc_err err = fb_admreview_answer_opts(s->body.data ? s->body.data : "", s->body.len, &o,
	                                      &res, &out, &len);
	body_release(w, s);
	switch (err) {
	case KC_OK:
		atomic_fetch_add(res.outcome == FB_ADM_GATED ? &w->gated : &w->allowed, 1);
		atomic_fetch_add(&w->outcomes[res.outcome], 1);
		if (res.dry_run)
			atomic_fetch_add(&w->dry_run, 1);
		if (res.covered)
			atomic_fetch_add(&w->covered, 1);
		log_review(&res);
		s->out = s->owned = out;
		s->out_len = len;
		return answer(w, wsi, s, HTTP_STATUS_OK, "application/json", false);
	case KC_ERR_TOOBIG:
		return refuse(w, wsi, s, FB_WEBHOOK_ERR_TOO_BIG, HTTP_STATUS_REQ_ENTITY_TOO_LARGE,
		              res.reason, &res, false);
	case KC_ERR_NOMEM:
		return refuse(w, wsi, s, FB_WEBHOOK_ERR_INTERNAL, HTTP_STATUS_INTERNAL_SERVER_ERROR,
		              "out of memory", &res, false);
	default:
		return refuse(w, wsi, s, FB_WEBHOOK_ERR_MALFORMED, HTTP_STATUS_BAD_REQUEST,
		              res.reason, &res, false);
	}
}

/* "application/json", any case, optionally with parameters ("; charset=utf-8"). */
static bool is_json(const char *ctype)
{
	static const char want[] = "application/json";
	while (*ctype == ' ' || *ctype == '\t')
		ctype++;
	if (strncasecmp(ctype, want, sizeof(want) - 1) != 0)
		return false;
	ctype += sizeof(want) - 1;
	while (*ctype == ' ' || *ctype == '\t')
		ctype++;
	return !*ctype || *ctype == ';';
}

/* A Content-Length: digits only, no sign, no overflow. */
static bool parse_length(const char *s, uint64_t *out)
{
	uint64_t n = 0;
	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || n > (UINT64_MAX - 9) / 10)
			return false;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	*out = n;
	return true;
}

/*
 * The body length the request announces: 0 and *len (0 when a method without
 * a body sends none), 1 when a method with a body (POST, PUT, PATCH) has no
 * Content-Length, -1 when it is invalid.
 */
static int announced_length(struct lws *wsi, uint64_t *len)
{
	char value[WEBHOOK_HEADER_VALUE_MAX];
	*len = 0;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0) {
		bool has_body = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0 ||
		                lws_hdr_total_length(wsi, WSI_TOKEN_PUT_URI) > 0 ||
		                lws_hdr_total_length(wsi, WSI_TOKEN_PATCH_URI) > 0;
		return has_body ? 1 : 0;
	}
	if (lws_hdr_copy(wsi, value, sizeof(value), WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0 ||
	    !parse_length(value, len))
		return -1;
	return 0;
}

/*
 * The request line and headers are read: refuse at once, or wait for the
 * body. A refusal keeps the connection (libwebsockets then reads and drops
 * the body) only when the body is announced and within the cap; otherwise
 * the connection is closed after the answer, the body unread.
 */
static int on_headers(fb_webhook *w, struct lws *wsi, session *s, const char *path, size_t len)
{
	char value[WEBHOOK_HEADER_VALUE_MAX];
	uint64_t length;
	int announced = announced_length(wsi, &length);
	bool drop = announced != 0 || length > FB_ADMREVIEW_MAX;
	s->body_follows = announced > 0 || (announced == 0 && length > 0);
	if (len != strlen(FB_WEBHOOK_PATH) || memcmp(path, FB_WEBHOOK_PATH, len) != 0)
		return refuse(w, wsi, s, FB_WEBHOOK_ERR_NOT_FOUND, HTTP_STATUS_NOT_FOUND,
		              "not found: only POST " FB_WEBHOOK_PATH " is served", NULL, drop);
	if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) <= 0)
		return refuse(w, wsi, s, FB_WEBHOOK_ERR_METHOD, HTTP_STATUS_METHOD_NOT_ALLOWED,
		              "method not allowed: only POST is served", NULL, drop);
	if (lws_hdr_copy(wsi, value, sizeof(value), WSI_TOKEN_HTTP_CONTENT_TYPE) <= 0 ||
	    !is_json(value))
		return refuse(w, wsi, s, FB_WEBHOOK_ERR_MEDIA_TYPE, HTTP_STATUS_UNSUPPORTED_MEDIA_TYPE,
		              "unsupported media type: Content-Type must be application/json", NULL,
		              drop);
	if (announced > 0)
		return refuse(w, wsi, s, FB_WEBHOOK_ERR_LENGTH, HTTP_STATUS_LENGTH_REQUIRED,
		              "length required: send the AdmissionReview with a Content-Length",
		              NULL, true);
	if (announced < 0)
		return refuse(w, wsi, s, FB_WEBHOOK_ERR_LENGTH, HTTP_STATUS_BAD_REQUEST,
		              "invalid Content-Length", NULL, true);
	if (length > FB_ADMREVIEW_MAX)
		return refuse(w, wsi, s, FB_WEBHOOK_ERR_TOO_BIG, HTTP_STATUS_REQ_ENTITY_TOO_LARGE,
		              WEBHOOK_TOO_BIG, NULL, true);
	if (w->buffered + length > FB_WEBHOOK_BUFFERED_MAX)
		return refuse(w, wsi, s, FB_WEBHOOK_ERR_BUSY, HTTP_STATUS_SERVICE_UNAVAILABLE,
		              "busy: too many requests being read, try again", NULL, true);
	w->buffered += length;
	s->reserved = length;
	kc_buf_init(&s->body, FB_ADMREVIEW_MAX);
	s->reading = true;
	return 0;
}

static fb_webhook *owner(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}

/*
 * A part of the body: kept, up to the cap its Content-Length was checked
 * against; or dropped after a refusal, up to FB_WEBHOOK_DRAIN_MAX.
 */
static int on_chunk(fb_webhook *w, struct lws *wsi, session *s, const void *in, size_t len)
{
	if (s->draining) {
		s->drained += len;
		return s->drained > FB_WEBHOOK_DRAIN_MAX ? -1 : 0;
	}
	if (!s->reading)
		return 0;
	s->body_follows = false; /* a refusal here closes at once */
	switch (kc_buf_append(&s->body, in, len)) {
	case KC_OK:
		return 0;
	case KC_ERR_TOOBIG: /* more than its Content-Length said: never, but bounded */
		return refuse(w, wsi, s, FB_WEBHOOK_ERR_TOO_BIG, HTTP_STATUS_REQ_ENTITY_TOO_LARGE,
		              WEBHOOK_TOO_BIG, NULL, true);
	default:
		return refuse(w, wsi, s, FB_WEBHOOK_ERR_INTERNAL, HTTP_STATUS_INTERNAL_SERVER_ERROR,
		              "out of memory", NULL, true);
	}
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
	session *s = user;
	switch (reason) {
	case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
		return tls_setup(owner(wsi), user); /* user is the vhost's SSL_CTX here */
	case LWS_CALLBACK_HTTP:
		session_release(owner(wsi), s);
		memset(s, 0, sizeof(*s));
		s->start_us = kc_now_mono_us();
		return on_headers(owner(wsi), wsi, s, in ? in : "", in ? len : 0);
	case LWS_CALLBACK_HTTP_BODY:
		return len ? on_chunk(owner(wsi), wsi, s, in, len) : 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (s->draining)
			return -1; /* all of it read: now close */
		if (!s->reading)
			return 0;
		s->reading = false;
		return on_body(owner(wsi), wsi, s);
	case LWS_CALLBACK_HTTP_WRITEABLE: {
		if (!s || !s->answered || !s->out)
			return 0;
		int done = fb_http_write_body(wsi, s->out, s->out_len, &s->sent);
		if (done <= 0)
			return done;
		session_release(owner(wsi), s);
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	}
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_CLOSED_HTTP:
		if (s)
			session_release(owner(wsi), s);
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
	{ "http", callback, sizeof(session), 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

/* ---- lifecycle ------------------------------------------------------------ */

static void *serve_main(void *arg)
{
	fb_webhook *w = arg;
	while (!atomic_load(&w->stop))
		if (lws_service(w->ctx, 0) < 0)
			break;
	return NULL;
}

/* Bind and start the server thread (under start_lock). 0 or -1 with a log line. */
static int start(fb_webhook *w)
{
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.port = w->want_port;
	info.iface = w->host[0] ? w->host : NULL;
	info.protocols = protocols;
	info.user = w;
	/*
	 * A TLS vhost without a certificate of its own: select_cert provides it.
	 * The vhost is made apart from the context: when it cannot bind, the
	 * context is then destroyed whole (libwebsockets 4.1 leaks a context
	 * whose default vhost fails).
	 */
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
	               LWS_SERVER_OPTION_CREATE_VHOST_SSL_CTX | LWS_SERVER_OPTION_DISABLE_IPV6;
	info.alpn = "http/1.1";
	/*
	 * libwebsockets makes a client TLS context for every vhost, loading the
	 * system CA store (some 0.7 MB), and 4.1 leaks it when two TLS contexts
	 * live at once (a global ex_data index is reassigned). The webhook makes
	 * no client connections: it hands over an empty one, which it frees.
	 */
	if (!w->client_ctx && !(w->client_ctx = SSL_CTX_new(TLS_client_method())))
		return -1;
	info.provided_client_ssl_ctx = w->client_ctx;
	info.keepalive_timeout = FB_WEBHOOK_IDLE_S;
	info.timeout_secs = FB_WEBHOOK_IO_TIMEOUT_S;
	fb_http_lws_logs();
	w->ctx = lws_create_context(&info);
	struct lws_vhost *vh = w->ctx ? lws_create_vhost(w->ctx, &info) : NULL;
	if (!vh) {
		fb_log(FB_ERROR, "webhook cannot listen", "host=\"%s\" port=%d", w->host,
		       w->want_port);
		if (w->ctx)
			lws_context_destroy(w->ctx);
		w->ctx = NULL;
		return -1;
	}
	int port = lws_get_vhost_listen_port(vh);
	if (pthread_create(&w->thread, NULL, serve_main, w) != 0) {
		fb_log(FB_ERROR, "webhook cannot start its thread", NULL);
		lws_context_destroy(w->ctx);
		w->ctx = NULL;
		return -1;
	}
	atomic_store(&w->port, port);
	fb_log(FB_INFO, "webhook listening", "host=\"%s\" port=%d path=" FB_WEBHOOK_PATH, w->host,
	       port);
	return 0;
}

fb_webhook *fb_webhook_new(const char *addr, fb_webhook_gate_fn gate, void *ud)
{
	char host[FB_HTTP_HOST_MAX];
	int port;
	char q[FB_HTTP_HOST_MAX + 16];
	if (!addr || !*addr || fb_http_parse_addr(addr, host, &port) != 0) {
		fb_log(FB_ERROR, "invalid webhook listen address", "addr=%s",
		       fb_log_quote(addr ? addr : "", q, sizeof(q)));
		return NULL;
	}
	fb_webhook *w = kc_calloc(1, sizeof(*w));
	if (!w) {
		fb_log(FB_ERROR, "webhook: out of memory", NULL);
		return NULL;
	}
	memcpy(w->host, host, sizeof(host));
	w->want_port = port;
	w->gate = gate;
	w->ud = ud;
	pthread_mutex_init(&w->start_lock, NULL);
	pthread_mutex_init(&w->cert_lock, NULL);
	return w;
}

/* For the log: the certificate's subject, serial and end of validity (none is secret). */
static void log_cert(const cert *c)
{
	char subject[256] = "", serial[80] = "", not_after[64] = "", q[300];
	X509_NAME_oneline(X509_get_subject_name(c->leaf), subject, sizeof(subject));
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(c->leaf), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	snprintf(serial, sizeof(serial), "%s", hex ? hex : "");
	OPENSSL_free(hex);
	BN_free(bn);
	BIO *bio = BIO_new(BIO_s_mem());
	if (bio && ASN1_TIME_print(bio, X509_get0_notAfter(c->leaf)) > 0)
		BIO_read(bio, not_after, sizeof(not_after) - 1);
	BIO_free(bio);
	char qt[80];
	fb_log(FB_INFO, "webhook certificate loaded", "subject=%s serial=%s not_after=%s chain=%d",
	       fb_log_quote(subject, q, sizeof(q)), serial[0] ? serial : "\"\"",
	       fb_log_quote(not_after, qt, sizeof(qt)), sk_X509_num(c->chain));
}

int fb_webhook_set_cert(fb_webhook *w, const char *cert_pem, size_t cert_len,
                        const char *key_pem, size_t key_len)
{
	cert c;
	const char *why;
	char q[FB_ADM_REASON_MAX];
	if (cert_parse(&c, cert_pem, cert_len, key_pem, key_len, &why) != 0) {
		atomic_fetch_add(&w->certs_refused, 1);
		fb_log(FB_ERROR, "webhook certificate refused, the one in use is kept", "reason=%s",
		       fb_log_quote(why, q, sizeof(q)));
		return -1;
	}
	log_cert(&c);
	pthread_mutex_lock(&w->start_lock);
	pthread_mutex_lock(&w->cert_lock);
	cert old = w->cur;
	w->cur = c;
	pthread_mutex_unlock(&w->cert_lock);
	cert_release(&old);
	int rc = w->ctx ? 0 : start(w);
	pthread_mutex_unlock(&w->start_lock);
	if (rc == 0)
		atomic_fetch_add(&w->certs_loaded, 1);
	return rc;
}

int fb_webhook_port(const fb_webhook *w)
{
	return atomic_load(&w->port);
}

void fb_webhook_stats(const fb_webhook *w, struct fb_webhook_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->listening = atomic_load(&w->port) > 0;
	out->certs_loaded = atomic_load(&w->certs_loaded);
	out->certs_refused = atomic_load(&w->certs_refused);
	out->requests = atomic_load(&w->requests);
	out->gated = atomic_load(&w->gated);
	out->allowed = atomic_load(&w->allowed);
	out->dry_run = atomic_load(&w->dry_run);
	out->covered = atomic_load(&w->covered);
	for (size_t i = 0; i < FB_ADM_OUTCOMES; i++)
		out->outcomes[i] = atomic_load(&w->outcomes[i]);
	for (size_t i = 0; i < FB_WEBHOOK_ERR_COUNT; i++)
		out->errors[i] = atomic_load(&w->errors[i]);
	for (size_t i = 0; i < FB_WEBHOOK_LATENCY_BUCKETS; i++)
		out->latency_le[i] = atomic_load(&w->latency_le[i]);
	out->latency_count = atomic_load(&w->latency_count);
	out->latency_sum_s = (double)atomic_load(&w->latency_sum_us) / 1e6;
}

void fb_webhook_set_managed(fb_webhook *w, int64_t default_toleration_s)
{
	w->managed = true;
	w->default_toleration_s = default_toleration_s;
}

void fb_webhook_free(fb_webhook *w)
{
	if (!w)
		return;
	if (w->ctx) {
		atomic_store(&w->stop, true);
		lws_cancel_service(w->ctx);
		pthread_join(w->thread, NULL);
		lws_context_destroy(w->ctx);
	}
	SSL_CTX_free(w->client_ctx);
	cert_release(&w->cur);
	pthread_mutex_destroy(&w->start_lock);
	pthread_mutex_destroy(&w->cert_lock);
	kc_free(w);
}
