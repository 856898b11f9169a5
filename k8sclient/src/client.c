/*
 * client.c - kc_client: the HTTP transport under every API call (kc/client.h).
 *
 * Shape (client-go rest/config.go, rest/request.go, rest/with_retry.go):
 *   - one CURLSH per client shares the connection cache, DNS cache and TLS
 *     sessions between all its easy handles, with pthread locks, so calls on
 *     any thread reuse the same keep-alive connections;
 *   - a mutex-protected pool of (easy, multi) handle pairs; a call takes one,
 *     curl_easy_reset()s it, sets every option from scratch, and gives it back,
 *     so no per-call state lives in the client (checklist item 31);
 *   - every try goes through the token bucket first (flowcontrol), then asks
 *     kc_auth for current credentials;
 *   - 429 and 5xx answers carrying an integer Retry-After are retried after
 *     that delay (client-go checkWait/retryAfterSeconds), at most max_retries
 *     tries in all; the body is replayed as is;
 *   - a 401 invalidates refreshable credentials (token file, exec plugin) and
 *     the request is tried once more with fresh ones;
 *   - a GET that fails with a connection reset / empty reply is tried once
 *     more after 1 s (client-go's IsErrRetryable for GET, with_retry.go).
 *
 * The transfer runs on the handle's own multi handle in a loop that wakes
 * every KC__POLL_MS to look at the cancel token and the stream's stall
 * detector, so a cancel from another thread ends a blocked watch within
 * about 50 ms rather than libcurl's once-a-second progress callback.
 *
 * TLS choices:
 *   - verification is on unless the config says insecure_skip_tls_verify;
 *     an empty CA means the system trust store, never "no checks";
 *   - the CA, client certificate and key are handed to libcurl from memory
 *     (CURLOPT_*_BLOB, PEM), never written to a file; with a CA blob the
 *     system CA path is switched off, so only that CA is trusted (as Go's
 *     tls.Config.RootCAs does);
 *   - tls_server_name: libcurl 7.88 has no SNI/verify-name override, so the
 *     URL names tls_server_name and CURLOPT_CONNECT_TO maps
 *     "tls_server_name:port" to the real "host:port". libcurl then sends SNI
 *     and verifies the certificate against tls_server_name while connecting
 *     to the server's address; the Host header is set to the real host:port,
 *     which is what Go's net/http sends with tls.Config.ServerName;
 *   - proxies come only from the config's proxy_url. CURLOPT_PROXY is set to
 *     "" otherwise, so http_proxy/https_proxy in the environment are never
 *     used silently (config.h: environment proxies are not used implicitly).
 *
 * Secrets: the bearer token goes into the Authorization header of each try
 * and nowhere else; error messages name the method and path, never headers.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>

#include <curl/curl.h>
#include <openssl/x509.h>

#include "client_internal.h"
#include "internal.h"
#include "kc/alloc.h"
#include "kc/client.h"
#include "kc/time.h"
#include "ratelimit.h"

#ifndef KC_VERSION
#define KC_VERSION "0.0.0"
#endif

/* One pooled transfer context: an easy handle and the multi that drives it. */
typedef struct handle {
	CURL *easy;
	CURLM *multi;
} handle;

struct kc_client {
	kc_config *cfg;                 /* our copy */
	kc_auth *auth;
	char *user_agent;
	char *base_url;                 /* scheme://urlhost:port[/prefix] */
	char *host_header;              /* "Host: host:port" with tls_server_name, else NULL */
	struct curl_slist *connect_to;  /* tls_server_name mapping, else NULL */
	bool refreshable_auth;          /* token file or exec plugin: worth a retry on 401 */

	long connect_timeout_ms;
	long request_timeout_ms;
	int max_retries;
	void (*on_request)(void *ud, const char *method, long status, int64_t duration_us);
	void *on_request_ud;
	size_t max_body;

	bool rate_limited;
	kc__ratelimit rl;

	CURLSH *share;
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];

	pthread_mutex_t pool_mu;
	handle pool[KC__POOL_MAX];
	size_t npool;
};

/* ---- share locks ---------------------------------------------------------- */

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
	(void)h;
	(void)access;
	kc_client *c = ud;
	if ((unsigned)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&c->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
	(void)h;
	kc_client *c = ud;
	if ((unsigned)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&c->share_locks[data]);
}

/* ---- handle pool ------------------------------------------------------------ */

static kc_err pool_get(kc_client *c, handle *out)
{
	pthread_mutex_lock(&c->pool_mu);
	if (c->npool) {
		*out = c->pool[--c->npool];
		pthread_mutex_unlock(&c->pool_mu);
		curl_easy_reset(out->easy);
		return KC_OK;
	}
	pthread_mutex_unlock(&c->pool_mu);
	out->easy = curl_easy_init();
	out->multi = curl_multi_init();
	if (!out->easy || !out->multi) {
		curl_easy_cleanup(out->easy);
		curl_multi_cleanup(out->multi);
		return KC_ERR_NOMEM;
	}
	return KC_OK;
}

static void pool_put(kc_client *c, handle *h)
{
	pthread_mutex_lock(&c->pool_mu);
	if (c->npool < KC__POOL_MAX) {
		c->pool[c->npool++] = *h;
		pthread_mutex_unlock(&c->pool_mu);
		return;
	}
	pthread_mutex_unlock(&c->pool_mu);
	curl_multi_cleanup(h->multi);
	curl_easy_cleanup(h->easy);
}

/* ---- construction --------------------------------------------------------- */

/* Go's GOARCH name for uname's machine (client-go's DefaultKubernetesUserAgent
 * uses runtime.GOOS/GOARCH). */
static const char *go_arch(const char *m)
{
	static const struct {
		const char *uname, *go;
	} map[] = {
		{ "x86_64", "amd64" }, { "amd64", "amd64" },   { "aarch64", "arm64" },
		{ "arm64", "arm64" },  { "i386", "386" },      { "i486", "386" },
		{ "i586", "386" },     { "i686", "386" },      { "armv6l", "arm" },
		{ "armv7l", "arm" },   { "ppc64le", "ppc64le" }, { "ppc64", "ppc64" },
		{ "s390x", "s390x" },  { "riscv64", "riscv64" }, { "loongarch64", "loong64" },
		{ "mips64", "mips64" },
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(m, map[i].uname) == 0)
			return map[i].go;
	return m;
}

char *kc_user_agent_new(const char *product, const char *version)
{
	struct utsname u;
	char os[sizeof(u.sysname)] = "unknown";
	const char *arch = "unknown";
	if (uname(&u) == 0) {
		size_t i = 0;
		for (; u.sysname[i] && i + 1 < sizeof(os); i++)
			os[i] = (char)tolower((unsigned char)u.sysname[i]);
		os[i] = '\0';
		arch = go_arch(u.machine);
	}
	kc_buf b;
	kc_buf_init(&b, 512);
	if (kc_buf_printf(&b, "%s/%s (%s/%s)", product, version, os, arch)) {
		kc_buf_release(&b);
		return NULL;
	}
	return kc_buf_take(&b);
}

/* A header value or URL part must not carry CR/LF or other control bytes. */
static bool is_clean(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* host as it goes into a URL or host:port: IPv6 literals bracketed. */
static kc_err append_host(kc_buf *b, const char *host)
{
	if (strchr(host, ':') && host[0] != '[')
		return kc_buf_printf(b, "[%s]", host);
	return kc_buf_append_str(b, host);
}

/*
 * Work out the base URL, and for tls_server_name the CONNECT_TO mapping and
 * Host header (see the file comment).
 */
static kc_err setup_endpoint(kc_client *c, kc_error_detail *d)
{
	const kc_config *cfg = c->cfg;
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
	kc_buf b;
	kc_buf_init(&b, KC__URL_MAX);
	kc_err err = KC_OK;

	if (!cfg->server || !*cfg->server || !is_clean(cfg->server))
		return kc_fail(d, KC_ERR_CONFIG, "no usable API server URL in the configuration");
	CURLU *u = curl_url();
	if (!u)
		return kc_fail(d, KC_ERR_NOMEM, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, cfg->server, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
		err = kc_fail(d, KC_ERR_CONFIG, "API server URL \"%.200s\" is not valid", cfg->server);
		goto out_free_url;
	}
	if (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0) {
		err = kc_fail(d, KC_ERR_CONFIG, "API server URL \"%.200s\": scheme must be https or http",
		              cfg->server);
		goto out_free_url;
	}
	if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
		path = NULL;
	const char *sni = cfg->tls_server_name;
	bool remap = sni && *sni && strcmp(scheme, "https") == 0;
	if (remap && (!is_clean(sni) || strpbrk(sni, "/@?#[] "))) {
		err = kc_fail(d, KC_ERR_CONFIG, "tls-server-name \"%.200s\" is not a host name", sni);
		goto out_free_url;
	}

	/* base URL */
	if ((err = kc_buf_printf(&b, "%s://", scheme)) || (err = append_host(&b, remap ? sni : host)) ||
	    (err = kc_buf_printf(&b, ":%s", port)))
		goto out_nomem;
	if (path) {
		size_t n = strlen(path);
		while (n && path[n - 1] == '/')
			n--;
		if (n && (err = kc_buf_append(&b, path, n)))
			goto out_nomem;
	}
	if (!(c->base_url = kc_buf_take(&b)))
		goto out_nomem;

	if (remap) {
		/* CONNECT_TO "tls_server_name:port:host:port" */
		kc_buf_init(&b, KC__URL_MAX);
		if ((err = append_host(&b, sni)) || (err = kc_buf_printf(&b, ":%s:", port)) ||
		    (err = append_host(&b, host)) || (err = kc_buf_printf(&b, ":%s", port)))
			goto out_nomem;
		c->connect_to = curl_slist_append(NULL, b.data);
		kc_buf_reset(&b);
		if (!c->connect_to)
			goto out_nomem;
		if ((err = kc_buf_append_str(&b, "Host: ")) || (err = append_host(&b, host)) ||
		    (err = kc_buf_printf(&b, ":%s", port)))
			goto out_nomem;
		if (!(c->host_header = kc_buf_take(&b)))
			goto out_nomem;
	}
	err = KC_OK;
	goto out_free_url;

out_nomem:
	err = kc_fail(d, KC_ERR_NOMEM, "out of memory");
out_free_url:
	kc_buf_release(&b);
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_url_cleanup(u);
	return err;
}

kc_err kc_client_new(const kc_config *cfg, const kc_client_options *opts,
                     kc_client **out, kc_error_detail *d)
{
	kc_detail_clear(d);
	if (!cfg || !out)
		return kc_fail(d, KC_ERR_INVALID, "kc_client_new: no config");
	kc_client_options o = { 0 };
	if (opts)
		o = *opts;
	kc_err err;
	kc_client *c = kc_calloc(1, sizeof(*c));
	if (!c)
		return kc_fail(d, KC_ERR_NOMEM, "out of memory");

	c->connect_timeout_ms = o.connect_timeout_ms > 0 ? o.connect_timeout_ms
	                                                 : KC_DEFAULT_CONNECT_TIMEOUT_MS;
	c->request_timeout_ms = o.request_timeout_ms > 0 ? o.request_timeout_ms
	                                                 : KC_DEFAULT_REQUEST_TIMEOUT_MS;
	c->max_retries = o.max_retries > 0 ? o.max_retries : KC_MAX_RETRIES;
	c->on_request = o.on_request;
	c->on_request_ud = o.on_request_ud;
	c->max_body = o.max_response_bytes && o.max_response_bytes < KC_RESPONSE_MAX_BYTES
	                      ? o.max_response_bytes
	                      : KC_RESPONSE_MAX_BYTES;

	if (o.user_agent && !is_clean(o.user_agent)) {
		err = kc_fail(d, KC_ERR_INVALID, "user agent contains control characters");
		goto out_free_client;
	}
	if ((err = kc_config_dup(cfg, &c->cfg))) {
		err = kc_fail(d, err, "copying the configuration: %s", kc_strerror(err));
		goto out_free_client;
	}
	c->refreshable_auth = (c->cfg->token_file && *c->cfg->token_file) || c->cfg->exec;
	c->user_agent = o.user_agent ? kc_strdup(o.user_agent)
	                             : kc_user_agent_new("k8sclient", KC_VERSION);
	if (!c->user_agent) {
		err = kc_fail(d, KC_ERR_NOMEM, "out of memory");
		goto out_free_config;
	}
	if ((err = setup_endpoint(c, d)))
		goto out_free_endpoint;
	if ((err = kc_auth_new(c->cfg, &c->auth, d)))
		goto out_free_endpoint;
	if (!o.rate_limit_off) {
		double qps = o.qps > 0 ? o.qps : KC_DEFAULT_QPS;
		int burst = o.burst > 0 ? o.burst : KC_DEFAULT_BURST;
		if ((err = kc__ratelimit_init(&c->rl, qps, burst, NULL))) {
			err = kc_fail(d, err, "rate limiter: %s", kc_strerror(err));
			goto out_free_auth;
		}
		c->rate_limited = true;
	}

	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&c->share_locks[i], NULL);
	pthread_mutex_init(&c->pool_mu, NULL);
	c->share = curl_share_init();
	if (!c->share ||
	    curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock) != CURLSHE_OK ||
	    curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock) != CURLSHE_OK ||
	    curl_share_setopt(c->share, CURLSHOPT_USERDATA, c) != CURLSHE_OK ||
	    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK ||
	    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK ||
	    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK) {
		err = kc_fail(d, KC_ERR_NOMEM, "cannot set up the libcurl share handle");
		goto out_free_share;
	}
	*out = c;
	return KC_OK;

out_free_share:
	if (c->share)
		curl_share_cleanup(c->share);
	pthread_mutex_destroy(&c->pool_mu);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&c->share_locks[i]);
	if (c->rate_limited)
		kc__ratelimit_release(&c->rl);
out_free_auth:
	kc_auth_free(c->auth);
out_free_endpoint:
	kc_free(c->base_url);
	kc_free(c->host_header);
	curl_slist_free_all(c->connect_to);
	kc_free(c->user_agent);
out_free_config:
	kc_config_free(c->cfg);
out_free_client:
	kc_free(c);
	return err;
}

void kc_client_free(kc_client *c)
{
	if (!c)
		return;
	/* easy handles first: the share cannot go while they still use it */
	for (size_t i = 0; i < c->npool; i++) {
		curl_multi_cleanup(c->pool[i].multi);
		curl_easy_cleanup(c->pool[i].easy);
	}
	curl_share_cleanup(c->share);
	pthread_mutex_destroy(&c->pool_mu);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&c->share_locks[i]);
	if (c->rate_limited)
		kc__ratelimit_release(&c->rl);
	kc_auth_free(c->auth);
	kc_free(c->base_url);
	kc_free(c->host_header);
	curl_slist_free_all(c->connect_to);
	kc_free(c->user_agent);
	kc_config_free(c->cfg);
	kc_free(c);
}

const char *kc_client_namespace(const kc_client *c)
{
	return c && c->cfg->namespace && *c->cfg->namespace ? c->cfg->namespace : "default";
}

const char *kc_client_user_agent(const kc_client *c)
{
	return c->user_agent;
}

void kc_response_release(kc_response *r)
{
	if (!r)
		return;
	kc_buf_release(&r->body);
	r->status = 0;
}

/* ---- one transfer ------------------------------------------------------------ */

/* State of one call, shared with the libcurl callbacks. Lives on the stack. */
typedef struct xfer {
	CURL *easy;
	kc_buf body;            /* the response body (a stream's only on non-2xx) */
	kc_stream_fn on_data;   /* NULL for kc_client_do */
	void *ud;
	int64_t last_byte_ms;   /* stall detector */
	kc_err abort_err;       /* why a callback or the loop stopped the transfer */
	int retry_after_s;      /* -1 when the answer had none */
	char errbuf[CURL_ERROR_SIZE];
} xfer;

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	xfer *x = ud;
	size_t len = size * n;
	x->last_byte_ms = kc_now_mono_ms();
	if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		x->retry_after_s = -1; /* a new answer (after 1xx, or a proxy's) */
		return len;
	}
	static const char name[] = "retry-after:";
	if (len <= sizeof(name) - 1 || strncasecmp(p, name, sizeof(name) - 1) != 0)
		return len;
	/* Integer seconds only, as client-go's retryAfterSeconds (strconv.Atoi);
	 * an HTTP-date is ignored. Bounded parse, no atoi. */
	size_t i = sizeof(name) - 1;
	while (i < len && (p[i] == ' ' || p[i] == '\t'))
		i++;
	long v = 0;
	size_t digits = 0;
	for (; i < len && p[i] >= '0' && p[i] <= '9'; i++, digits++)
		if (v < 1000000)
			v = v * 10 + (p[i] - '0');
	while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
		i++;
	if (digits && i == len)
		x->retry_after_s = (int)v;
	return len;
}

static size_t on_write(char *p, size_t size, size_t n, void *ud)
{
	xfer *x = ud;
	size_t len = size * n;
	x->last_byte_ms = kc_now_mono_ms();
	if (x->on_data) {
		long status = 0;
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 200 && status < 300) {
			kc_err err = x->on_data(x->ud, p, len);
			if (err) {
				x->abort_err = err;
				return CURL_WRITEFUNC_ERROR;
			}
			return len;
		}
	}
	kc_err err = kc_buf_append(&x->body, p, len);
	if (err) {
		x->abort_err = err;
		return CURL_WRITEFUNC_ERROR;
	}
	return len;
}

/*
 * Drive one transfer on the handle's multi, waking every KC__POLL_MS to look
 * at the cancel token and the stall detector. Returns libcurl's result;
 * x->abort_err says why we stopped it ourselves.
 */
static CURLcode perform(handle *h, xfer *x, kc_cancel *cancel, long stall_ms)
{
	if (curl_multi_add_handle(h->multi, h->easy) != CURLM_OK)
		return CURLE_OUT_OF_MEMORY;
	CURLcode rc = CURLE_OK;
	int running = 1;
	int poll_ms = KC__POLL_MS;
	if (stall_ms > 0 && stall_ms < poll_ms)
		poll_ms = (int)stall_ms;
	for (;;) {
		CURLMcode mc = curl_multi_perform(h->multi, &running);
		if (mc != CURLM_OK) {
			rc = mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_FAILED_INIT;
			break;
		}
		if (!running) {
			int left;
			CURLMsg *m;
			rc = CURLE_FAILED_INIT;
			while ((m = curl_multi_info_read(h->multi, &left)))
				if (m->msg == CURLMSG_DONE && m->easy_handle == h->easy)
					rc = m->data.result;
			break;
		}
		if (kc_cancel_fired(cancel)) {
			x->abort_err = KC_ERR_CANCELED;
			rc = CURLE_ABORTED_BY_CALLBACK;
			break;
		}
		if (stall_ms > 0 && kc_now_mono_ms() - x->last_byte_ms >= stall_ms) {
			x->abort_err = KC_ERR_STALLED;
			rc = CURLE_ABORTED_BY_CALLBACK;
			break;
		}
		mc = curl_multi_poll(h->multi, NULL, 0, poll_ms, NULL);
		if (mc != CURLM_OK) {
			rc = CURLE_FAILED_INIT;
			break;
		}
	}
	curl_multi_remove_handle(h->multi, h->easy);
	return rc;
}

/* Map a failed transfer to a kc_err and a message naming method and path. */
static kc_err transfer_error(CURL *e, CURLcode rc, const xfer *x, const kc_request *req,
                             long stall_ms, size_t max_body, kc_error_detail *d)
{
	const char *what = x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);
	const char *m = req->method, *p = req->path;
	switch (x->abort_err) {
	case KC_OK:
		break;
	case KC_ERR_CANCELED:
		return kc_fail(d, KC_ERR_CANCELED, "%s %.300s: cancelled", m, p);
	case KC_ERR_STALLED:
		return kc_fail(d, KC_ERR_STALLED, "%s %.300s: no data for %ld ms", m, p, stall_ms);
	case KC_ERR_TOOBIG:
		return kc_fail(d, KC_ERR_TOOBIG, "%s %.300s: response body over %zu bytes", m, p,
		               max_body);
	case KC_ERR_NOMEM:
		return kc_fail(d, KC_ERR_NOMEM, "%s %.300s: out of memory", m, p);
	default:
		/* the stream consumer stopped it; its code is the answer */
		return kc_fail(d, x->abort_err, "%s %.300s: stopped by the consumer: %s", m, p,
		               kc_strerror(x->abort_err));
	}
	/*
	 * A chain that fails verification is not always reported as
	 * CURLE_PEER_FAILED_VERIFICATION: a CA with the right name but the wrong
	 * key (every kubeadm cluster's CA is "CN=kubernetes") fails inside the
	 * signature check and libcurl says CURLE_SSL_CONNECT_ERROR. OpenSSL's
	 * verify result tells them apart.
	 */
	long verify = 0;
	if ((rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_PEER_FAILED_VERIFICATION) &&
	    curl_easy_getinfo(e, CURLINFO_SSL_VERIFYRESULT, &verify) == CURLE_OK && verify != 0)
		return kc_fail(d, KC_ERR_TLS,
		               "%s %.300s: server certificate verification failed: %s (%s)", m, p,
		               X509_verify_cert_error_string(verify), what);
	kc_err err;
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		err = KC_ERR_TIMEOUT;
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
		return kc_fail(d, KC_ERR_TLS, "%s %.300s: server certificate verification failed: %s",
		               m, p, what);
	case CURLE_SSL_CACERT_BADFILE:
		return kc_fail(d, KC_ERR_CONFIG, "%s %.300s: the CA certificate is unusable: %s", m, p,
		               what);
	case CURLE_SSL_CERTPROBLEM:
		return kc_fail(d, KC_ERR_CONFIG,
		               "%s %.300s: the client certificate or key is unusable: %s", m, p, what);
	case CURLE_FILESIZE_EXCEEDED:
		return kc_fail(d, KC_ERR_TOOBIG, "%s %.300s: response body over %zu bytes", m, p,
		               max_body);
	case CURLE_OUT_OF_MEMORY:
		err = KC_ERR_NOMEM;
		break;
	default:
		err = KC_ERR_TRANSPORT;
		break;
	}
	return kc_fail(d, err, "%s %.300s: %s", m, p, what);
}

/* Failures that client-go retries on a GET: the connection went away. */
static bool is_reset(CURLcode rc)
{
	return rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR || rc == CURLE_GOT_NOTHING;
}

static bool method_ok(const char *m)
{
	static const char *const ok[] = { "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD" };
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp(m, ok[i]) == 0)
			return true;
	return false;
}

/* The path and query must be what kc_path_append / kc_query_append make:
 * printable ASCII without spaces, '#' or a second '?'. */
static bool url_part_ok(const char *s, bool is_path)
{
	if (is_path && s[0] != '/')
		return false;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch <= 0x20 || ch >= 0x7f || ch == '#' || ch == '?')
			return false;
	}
	return true;
}

/* Options that stay the same across the tries of one call. */
static kc_err set_call_options(kc_client *c, handle *h, const kc_request *req, const char *url,
                               xfer *x, bool stream)
{
	CURL *e = h->easy;
	const kc_config *cfg = c->cfg;
	CURLcode rc = CURLE_OK;
#define SET(opt, val)                                         \
	do {                                                  \
		if (rc == CURLE_OK)                           \
			rc = curl_easy_setopt(e, opt, val);   \
	} while (0)
	SET(CURLOPT_SHARE, c->share);
	SET(CURLOPT_URL, url);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_TCP_KEEPIDLE, 30L);  /* Go's net.Dialer KeepAlive: 30 s */
	SET(CURLOPT_TCP_KEEPINTVL, 30L);
	SET(CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
	SET(CURLOPT_TIMEOUT_MS, stream ? 0L : (req->timeout_ms > 0 ? req->timeout_ms
	                                                          : c->request_timeout_ms));
	SET(CURLOPT_USERAGENT, c->user_agent);
	SET(CURLOPT_ERRORBUFFER, x->errbuf);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, x);
	SET(CURLOPT_WRITEFUNCTION, on_write);
	SET(CURLOPT_WRITEDATA, x);
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_PROXY, cfg->proxy_url ? cfg->proxy_url : "");
	if (!stream) {
		/* gzip like Go's transport; the cap applies to the decoded bytes */
		SET(CURLOPT_ACCEPT_ENCODING, "gzip");
		SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_body);
	}
	if (c->connect_to)
		SET(CURLOPT_CONNECT_TO, c->connect_to);

	/* TLS */
	bool insecure = cfg->insecure_skip_tls_verify;
	SET(CURLOPT_SSL_VERIFYPEER, insecure ? 0L : 1L);
	SET(CURLOPT_SSL_VERIFYHOST, insecure ? 0L : 2L);
	if (cfg->ca.data && cfg->ca.len) {
		struct curl_blob ca = { .data = cfg->ca.data, .len = cfg->ca.len,
		                        .flags = CURL_BLOB_COPY };
		SET(CURLOPT_CAINFO_BLOB, &ca);
		SET(CURLOPT_CAPATH, (char *)NULL); /* only the configured CA */
	}

	/* method and body */
	const char *body = req->body ? req->body : "";
	bool has_body = req->body != NULL;
	if (strcmp(req->method, "GET") == 0) {
		SET(CURLOPT_HTTPGET, 1L);
	} else if (strcmp(req->method, "HEAD") == 0) {
		SET(CURLOPT_NOBODY, 1L);
	} else {
		if (strcmp(req->method, "POST") == 0)
			SET(CURLOPT_POST, 1L);
		else
			SET(CURLOPT_CUSTOMREQUEST, req->method);
		if (has_body || strcmp(req->method, "DELETE") != 0) {
			/* not copied: req->body outlives the call and is replayed as is */
			SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(has_body ? req->body_len : 0));
			SET(CURLOPT_POSTFIELDS, body);
		}
	}
#undef SET
	return rc == CURLE_OK ? KC_OK : (rc == CURLE_OUT_OF_MEMORY ? KC_ERR_NOMEM : KC_ERR_INVALID);
}

/* Headers and credentials of one try (they may change after a 401). */
static kc_err set_try_options(kc_client *c, handle *h, const kc_request *req,
                              const kc_credentials *cr, struct curl_slist **hdrs)
{
	CURL *e = h->easy;
	struct curl_slist *l = NULL, *t;
	kc_err err = KC_ERR_NOMEM;
	kc_buf auth;
	kc_buf_init(&auth, KC_CREDENTIAL_FILE_MAX + 64);

#define ADD(s)                                        \
	do {                                          \
		if (!(t = curl_slist_append(l, s)))   \
			goto out_free_list;           \
		l = t;                                \
	} while (0)
	ADD("Accept: application/json");
	ADD("Expect:"); /* no 100-continue round trip */
	if (c->host_header)
		ADD(c->host_header);
	if (req->body) {
		if (kc_buf_printf(&auth, "Content-Type: %s",
		                  req->content_type ? req->content_type : "application/json"))
			goto out_free_list;
		ADD(auth.data);
		kc_buf_reset(&auth);
	}
	if (cr->token && *cr->token) {
		if (!is_clean(cr->token)) {
			err = KC_ERR_CONFIG;
			goto out_free_list;
		}
		if (kc_buf_printf(&auth, "Authorization: Bearer %s", cr->token))
			goto out_free_list;
		ADD(auth.data);
	} else if (cr->username && *cr->username) {
		if (curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC) ||
		    curl_easy_setopt(e, CURLOPT_USERNAME, cr->username) ||
		    curl_easy_setopt(e, CURLOPT_PASSWORD, cr->password ? cr->password : ""))
			goto out_free_list;
	}
#undef ADD
	if (curl_easy_setopt(e, CURLOPT_HTTPHEADER, l))
		goto out_free_list;
	if (cr->client_cert.data && cr->client_cert.len) {
		struct curl_blob cert = { .data = cr->client_cert.data, .len = cr->client_cert.len,
		                          .flags = CURL_BLOB_COPY };
		struct curl_blob key = { .data = cr->client_key.data, .len = cr->client_key.len,
		                         .flags = CURL_BLOB_COPY };
		if (curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &cert) ||
		    curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM"))
			goto out_free_list;
		if (cr->client_key.data && cr->client_key.len &&
		    (curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &key) ||
		     curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM")))
			goto out_free_list;
	}
	if (auth.data)
		memset(auth.data, 0, auth.cap);
	kc_buf_release(&auth);
	*hdrs = l;
	return KC_OK;

out_free_list:
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
	curl_slist_free_all(l);
	if (auth.data)
		memset(auth.data, 0, auth.cap);
	kc_buf_release(&auth);
	return err;
}

/*
 * Everything kc_client_do and kc_client_stream share: validation, the retry
 * loop, error decoding. On KC_OK with !stream, *resp holds the answer.
 */
static kc_err run(kc_client *c, const kc_request *req, bool stream, long stall_ms,
                  kc_stream_fn on_data, void *ud, kc_response *resp, kc_error_detail *d)
{
	kc_detail_clear(d);
	if (!c || !req || !req->method || !req->path || !method_ok(req->method) ||
	    !url_part_ok(req->path, true) || (req->query && !url_part_ok(req->query, false)) ||
	    (req->content_type && !is_clean(req->content_type)) || (stream && !on_data))
		return kc_fail(d, KC_ERR_INVALID, "invalid request");
	if (kc_cancel_fired(req->cancel))
		return kc_fail(d, KC_ERR_CANCELED, "%s %.300s: cancelled", req->method, req->path);

	kc_err err;
	kc_buf url;
	kc_buf_init(&url, KC__URL_MAX);
	if ((err = kc_buf_append_str(&url, c->base_url)) || (err = kc_buf_append_str(&url, req->path)) ||
	    (req->query && *req->query &&
	     ((err = kc_buf_append(&url, "?", 1)) || (err = kc_buf_append_str(&url, req->query))))) {
		err = kc_fail(d, err, "%s %.300s: cannot build the URL: %s", req->method, req->path,
		              kc_strerror(err));
		goto out_free_url;
	}

	handle h;
	if ((err = pool_get(c, &h))) {
		err = kc_fail(d, err, "out of memory");
		goto out_free_url;
	}
	xfer x = { .easy = h.easy, .on_data = on_data, .ud = ud, .retry_after_s = -1 };
	kc_buf_init(&x.body, stream ? KC__STREAM_ERROR_BODY_MAX : c->max_body);
	if ((err = set_call_options(c, &h, req, url.data, &x, stream))) {
		err = kc_fail(d, err, "%s %.300s: cannot set up the transfer", req->method, req->path);
		goto out_put_handle;
	}

	bool auth_retried = false, reset_retried = false;
	for (int tries = 1;; tries++) {
		if (c->rate_limited && (err = kc__ratelimit_wait(&c->rl, req->cancel))) {
			err = kc_fail(d, err, "%s %.300s: cancelled", req->method, req->path);
			goto out_put_handle;
		}
		kc_credentials cr;
		if ((err = kc_auth_get(c->auth, kc_now_mono_ms(), &cr, d)))
			goto out_put_handle;
		struct curl_slist *hdrs = NULL;
		err = set_try_options(c, &h, req, &cr, &hdrs);
		kc_credentials_release(&cr);
		if (err) {
			err = kc_fail(d, err, "%s %.300s: cannot set credentials or headers", req->method,
			              req->path);
			goto out_put_handle;
		}
		kc_buf_reset(&x.body);
		x.abort_err = KC_OK;
		x.retry_after_s = -1;
		x.errbuf[0] = '\0';
		x.last_byte_ms = kc_now_mono_ms();
		int64_t t0_us = kc_now_mono_us();
		CURLcode rc = perform(&h, &x, req->cancel, stream ? stall_ms : 0);
		if (c->on_request) {
			long answered = 0;
			if (rc == CURLE_OK || x.abort_err != KC_OK)
				curl_easy_getinfo(h.easy, CURLINFO_RESPONSE_CODE, &answered);
			c->on_request(c->on_request_ud, req->method, answered, kc_now_mono_us() - t0_us);
		}
		curl_easy_setopt(h.easy, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
		curl_slist_free_all(hdrs);

		if (rc != CURLE_OK) {
			err = transfer_error(h.easy, rc, &x, req, stall_ms, c->max_body, d);
			if (!stream && x.abort_err == KC_OK && is_reset(rc) && !reset_retried &&
			    strcmp(req->method, "GET") == 0 && tries < c->max_retries) {
				reset_retried = true;
				if (kc_cancel_sleep(req->cancel, 1000)) {
					err = kc_fail(d, KC_ERR_CANCELED, "%s %.300s: cancelled", req->method,
					              req->path);
					goto out_put_handle;
				}
				kc_detail_clear(d);
				continue;
			}
			goto out_put_handle;
		}

		long status = 0;
		curl_easy_getinfo(h.easy, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 200 && status < 300) {
			if (resp) {
				resp->status = status;
				resp->body = x.body;
				if (!resp->body.data && (err = kc_buf_append(&resp->body, "", 0))) {
					kc_response_release(resp);
					err = kc_fail(d, err, "out of memory");
				}
				kc_buf_init(&x.body, 0);
			}
			goto out_put_handle;
		}
		if (status == 401 && c->refreshable_auth && !auth_retried) {
			/* the token may have rotated: re-read it and try once more */
			kc_auth_invalidate(c->auth);
			auth_retried = true;
			continue;
		}
		if ((status == 429 || status >= 500) && x.retry_after_s >= 0 && tries < c->max_retries) {
			int wait_s = x.retry_after_s < KC__RETRY_AFTER_CAP_S ? x.retry_after_s
			                                                     : KC__RETRY_AFTER_CAP_S;
			if (kc_cancel_sleep(req->cancel, (int64_t)wait_s * 1000)) {
				err = kc_fail(d, KC_ERR_CANCELED, "%s %.300s: cancelled", req->method,
				              req->path);
				goto out_put_handle;
			}
			continue;
		}
		err = kc__status_from_body(status, x.body.data, x.body.len, d);
		if (d)
			d->retry_after_s = x.retry_after_s;
		goto out_put_handle;
	}

out_put_handle:
	kc_buf_release(&x.body);
	pool_put(c, &h);
out_free_url:
	kc_buf_release(&url);
	return err;
}

kc_err kc_client_do(kc_client *c, const kc_request *req, kc_response *resp, kc_error_detail *d)
{
	if (resp) {
		resp->status = 0;
		kc_buf_init(&resp->body, c ? c->max_body : KC_RESPONSE_MAX_BYTES);
	}
	return run(c, req, false, 0, NULL, NULL, resp, d);
}

kc_err kc_client_stream(kc_client *c, const kc_request *req, long stall_timeout_ms,
                        kc_stream_fn on_data, void *ud, kc_error_detail *d)
{
	return run(c, req, true, stall_timeout_ms > 0 ? stall_timeout_ms : 0, on_data, ud, NULL, d);
}
