/*
 * The admission webhook's HTTPS server (webhook.h), over real TLS with
 * libcurl: the server certificate is verified against the test's CA.
 */
#include <curl/curl.h>
#include <stdlib.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "kc/alloc.h"
#include "kc/buf.h"
#include "kctest.h"
#include "testcert.h"
#include "webhook.h"

#define UID "0b8f3f6e-1b4c-4c55-9d7e-2a6c7c3f0e11"
#define REPLY_MAX (1u << 20)

/* A CA and the serving certificates it signs. */
typedef struct pki {
	EVP_PKEY *ca_key;
	X509 *ca;
	char *ca_pem;
} pki;

static void pki_init(pki *p, const char *cn)
{
	p->ca_key = kt_key_new();
	p->ca = kt_cert_new(p->ca_key, cn, NULL, NULL, KT_CERT_CA, 0);
	p->ca_pem = kt_pem_of_cert(p->ca);
	KT_CHECK(p->ca_pem != NULL);
}

static void pki_release(pki *p)
{
	EVP_PKEY_free(p->ca_key);
	X509_free(p->ca);
	free(p->ca_pem);
}

/* A serving certificate (localhost, 127.0.0.1) with this serial; free() both. */
static void issue(const pki *p, long serial, char **cert_pem, char **key_pem)
{
	EVP_PKEY *key = kt_key_new();
	X509 *cert = kt_cert_new(key, "firebreak-webhook", p->ca, p->ca_key, KT_CERT_SERVER, serial);
	*cert_pem = kt_pem_of_cert(cert);
	*key_pem = kt_pem_of_key(key);
	KT_CHECK(*cert_pem && *key_pem);
	X509_free(cert);
	EVP_PKEY_free(key);
}

static int set_cert(fb_webhook *w, const char *cert_pem, const char *key_pem)
{
	return fb_webhook_set_cert(w, cert_pem, strlen(cert_pem), key_pem, strlen(key_pem));
}

/* The verdict: Deployment shop/poison is quarantined, nothing else. */
static bool gate(void *ud, const fb_workload_ref *w, char quarantine[FB_NAME_MAX])
{
	if (strcmp(w->kind, "Deployment") || strcmp(w->ns, "shop") || strcmp(w->name, "poison"))
		return false;
	snprintf(quarantine, FB_NAME_MAX, "deployment-poison");
	return true;
}

static char *review(const char *deployment)
{
	size_t cap = 2048;
	char *s = malloc(cap);
	snprintf(s, cap,
	         "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{"
	         "\"uid\":\"" UID "\",\"kind\":{\"group\":\"\",\"version\":\"v1\",\"kind\":\"Pod\"},"
	         "\"resource\":{\"group\":\"\",\"version\":\"v1\",\"resource\":\"pods\"},"
	         "\"operation\":\"CREATE\",\"namespace\":\"shop\",\"object\":{\"metadata\":{"
	         "\"generateName\":\"%s-5d8b9c7f4-\",\"labels\":{\"pod-template-hash\":\"5d8b9c7f4\"},"
	         "\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":"
	         "\"%s-5d8b9c7f4\",\"uid\":\"r\",\"controller\":true}]},\"spec\":{\"containers\":"
	         "[{\"name\":\"c\",\"image\":\"busybox\"}]}}}}",
	         deployment, deployment);
	return s;
}

/* ---- the client ------------------------------------------------------------ */

typedef struct reply {
	CURLcode rc;
	long status;
	long connects;        /* new connections this request made (0: one was reused) */
	long http_version;
	long serial;          /* the server certificate's, when a handshake happened; -1 if unseen */
	kc_buf body;
	char allow[64];       /* the Allow header */
	bool conn_close;      /* Connection: close */
} reply;

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
	reply *r = ud;
	return kc_buf_append(&r->body, p, size * n) == KC_OK ? size * n : 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	reply *r = ud;
	size_t len = size * n;
	if (len > 6 && strncasecmp(p, "allow:", 6) == 0)
		snprintf(r->allow, sizeof(r->allow), "%.*s", (int)(len - 6), p + 6);
	if (len >= 17 && strncasecmp(p, "connection: close", 17) == 0)
		r->conn_close = true;
	return len;
}

/* A client trusting only the test's CA (the server certificate is verified). */
static CURL *client(const pki *p)
{
	CURL *h = curl_easy_init();
	struct curl_blob ca = { .data = p->ca_pem, .len = strlen(p->ca_pem),
	                        .flags = CURL_BLOB_COPY };
	curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &ca);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_CERTINFO, 1L);
	/* offered, and refused by the server's ALPN: the webhook speaks HTTP/1.1 only */
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
	return h;
}

static long cert_serial(CURL *h)
{
	struct curl_certinfo *ci = NULL;
	if (curl_easy_getinfo(h, CURLINFO_CERTINFO, &ci) != CURLE_OK || !ci || ci->num_of_certs < 1)
		return -1;
	for (struct curl_slist *l = ci->certinfo[0]; l; l = l->next)
		if (strncmp(l->data, "Serial Number:", 14) == 0)
			return strtol(l->data + 14, NULL, 16);
	return -1;
}

/*
 * One request: method POST when body is not NULL (with content_type; len < 0
 * sends it chunked, with no Content-Length), else GET.
 */
static reply request(CURL *h, int port, const char *path, const char *content_type,
                     const char *body, long len, bool expect)
{
	reply r = { .serial = -1 };
	kc_buf_init(&r.body, REPLY_MAX);
	char url[256];
	snprintf(url, sizeof(url), "https://127.0.0.1:%d%s", port, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &r);
	struct curl_slist *hdrs = NULL;
	if (body) {
		char ct[128];
		snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
		hdrs = curl_slist_append(hdrs, ct);
		if (!expect)
			hdrs = curl_slist_append(hdrs, "Expect:");
		if (len < 0)
			hdrs = curl_slist_append(hdrs, "Transfer-Encoding: chunked");
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		                 (curl_off_t)(len < 0 ? (long)strlen(body) : len));
	} else {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	r.rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
	curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &r.connects);
	curl_easy_getinfo(h, CURLINFO_HTTP_VERSION, &r.http_version);
	if (r.connects > 0)
		r.serial = cert_serial(h);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	return r;
}

static reply post_review(CURL *h, int port, const char *deployment)
{
	char *body = review(deployment);
	reply r = request(h, port, FB_WEBHOOK_PATH "?timeout=5s", "application/json", body,
	                  (long)strlen(body), true);
	free(body);
	return r;
}

static void reply_release(reply *r)
{
	kc_buf_release(&r->body);
}

static fb_webhook *serve(const pki *p, long serial)
{
	fb_webhook *w = fb_webhook_new("127.0.0.1:0", gate, NULL);
	KT_CHECK(w != NULL);
	char *cert, *key;
	issue(p, serial, &cert, &key);
	KT_EQ_INT(set_cert(w, cert, key), 0);
	free(cert);
	free(key);
	KT_CHECK(fb_webhook_port(w) > 0);
	return w;
}

/* ---- tests ------------------------------------------------------------------ */

KT_TEST(listens_only_once_a_good_certificate_is_loaded)
{
	KT_CHECK(fb_webhook_new("", gate, NULL) == NULL);
	KT_CHECK(fb_webhook_new("127.0.0.1:notaport", gate, NULL) == NULL);
	KT_CHECK(fb_webhook_new("127.0.0.1:70000", gate, NULL) == NULL);
	pki p;
	pki_init(&p, "test-ca");
	fb_webhook *w = fb_webhook_new("127.0.0.1:0", gate, NULL);
	struct fb_webhook_stats st;
	fb_webhook_stats(w, &st);
	KT_EQ_INT(fb_webhook_port(w), 0);
	KT_CHECK(!st.listening);
	char *cert, *key, *cert2, *key2;
	issue(&p, 0x11, &cert, &key);
	issue(&p, 0x12, &cert2, &key2);
	/* refused: not PEM, a key that is not this certificate's, a cut certificate */
	KT_EQ_INT(fb_webhook_set_cert(w, "junk", 4, key, strlen(key)), -1);
	KT_EQ_INT(set_cert(w, cert, key2), -1);
	KT_EQ_INT(fb_webhook_set_cert(w, cert, strlen(cert) / 2, key, strlen(key)), -1);
	KT_EQ_INT(fb_webhook_set_cert(w, cert, strlen(cert), key, 0), -1);
	KT_EQ_INT(fb_webhook_port(w), 0);
	KT_EQ_INT(set_cert(w, cert, key), 0);
	KT_CHECK(fb_webhook_port(w) > 0);
	fb_webhook_stats(w, &st);
	KT_CHECK(st.listening);
	KT_EQ_INT(st.certs_refused, 4);
	KT_EQ_INT(st.certs_loaded, 1);
	free(cert);
	free(key);
	free(cert2);
	free(key2);
	fb_webhook_free(w);
	fb_webhook_free(NULL);
	pki_release(&p);
}

KT_TEST(gated_and_ungated_pods_over_one_kept_alive_connection)
{
	pki p;
	pki_init(&p, "test-ca");
	fb_webhook *w = serve(&p, 0x21);
	int port = fb_webhook_port(w);
	CURL *h = client(&p);

	reply r = post_review(h, port, "poison");
	KT_EQ_INT(r.rc, CURLE_OK);
	KT_EQ_INT(r.status, 200);
	KT_EQ_INT(r.connects, 1);
	KT_EQ_INT(r.serial, 0x21);
	KT_EQ_INT(r.http_version, CURL_HTTP_VERSION_1_1);
	cJSON *j = cJSON_Parse(r.body.data ? r.body.data : "");
	cJSON *resp = cJSON_GetObjectItem(j, "response");
	KT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(resp, "uid")), UID);
	KT_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(resp, "allowed")));
	KT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(resp, "patchType")), "JSONPatch");
	KT_CHECK(cJSON_GetStringValue(cJSON_GetObjectItem(resp, "patch")) != NULL);
	KT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(
		          cJSON_GetObjectItem(resp, "auditAnnotations"), "quarantine")),
	          "deployment-poison");
	cJSON_Delete(j);
	reply_release(&r);

	r = post_review(h, port, "web");
	KT_EQ_INT(r.status, 200);
	KT_EQ_INT(r.connects, 0); /* the connection was kept alive and reused */
	j = cJSON_Parse(r.body.data ? r.body.data : "");
	resp = cJSON_GetObjectItem(j, "response");
	KT_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(resp, "allowed")));
	KT_CHECK(cJSON_GetObjectItem(resp, "patch") == NULL);
	cJSON_Delete(j);
	reply_release(&r);

	struct fb_webhook_stats st;
	fb_webhook_stats(w, &st);
	KT_EQ_INT(st.requests, 2);
	KT_EQ_INT(st.gated, 1);
	KT_EQ_INT(st.allowed, 1);
	KT_EQ_INT(st.outcomes[FB_ADM_GATED], 1);
	KT_EQ_INT(st.outcomes[FB_ADM_NOT_QUARANTINED], 1);
	KT_EQ_INT(st.latency_count, 2);
	KT_EQ_INT(st.latency_le[FB_WEBHOOK_LATENCY_BUCKETS - 1], 2); /* within a second */
	for (size_t i = 1; i < FB_WEBHOOK_LATENCY_BUCKETS; i++)
		KT_CHECK(st.latency_le[i - 1] <= st.latency_le[i]);
	KT_CHECK(st.latency_sum_s > 0 && st.latency_sum_s < 2);
	curl_easy_cleanup(h);
	fb_webhook_free(w);
	pki_release(&p);
}

KT_TEST(bad_requests_get_a_status_and_a_reason)
{
	pki p;
	pki_init(&p, "test-ca");
	fb_webhook *w = serve(&p, 0x31);
	int port = fb_webhook_port(w);
	CURL *h = client(&p);

	/* a malformed review: 400 with its reason; the connection stays usable */
	reply r = request(h, port, FB_WEBHOOK_PATH, "application/json", "{\"apiVersion\":", 14, true);
	KT_EQ_INT(r.status, 400);
	KT_EQ_STR(r.body.data, "body is not JSON\n");
	reply_release(&r);
	const char *wrong = "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
	                    "\"request\":{\"kind\":{},\"operation\":\"CREATE\"}}";
	r = request(h, port, FB_WEBHOOK_PATH, "application/json", wrong, (long)strlen(wrong), true);
	KT_EQ_INT(r.status, 400);
	KT_EQ_STR(r.body.data, "request.uid is missing\n");
	KT_EQ_INT(r.connects, 0);
	reply_release(&r);

	/* another path, another method, another type: refused, connection kept */
	r = request(h, port, "/metrics", NULL, NULL, 0, true);
	KT_EQ_INT(r.status, 404);
	KT_EQ_INT(r.connects, 0);
	reply_release(&r);
	r = request(h, port, "/mutate-pods/x", "application/json", "{}", 2, true);
	KT_EQ_INT(r.status, 404);
	KT_EQ_INT(r.connects, 0);
	reply_release(&r);
	r = request(h, port, FB_WEBHOOK_PATH, NULL, NULL, 0, true);
	KT_EQ_INT(r.status, 405);
	KT_CHECK(strstr(r.allow, "POST") != NULL);
	reply_release(&r);
	r = request(h, port, FB_WEBHOOK_PATH, "text/plain", "{}", 2, true);
	KT_EQ_INT(r.status, 415);
	KT_EQ_INT(r.connects, 0);
	reply_release(&r);
	/* a body it did not read does not spoil the next request on the connection */
	char *body = review("poison");
	r = request(h, port, FB_WEBHOOK_PATH, "application/json; charset=utf-8", body,
	            (long)strlen(body), true);
	KT_EQ_INT(r.status, 200);
	KT_EQ_INT(r.connects, 0);
	reply_release(&r);

	/* no Content-Length: 411, and the connection is closed */
	r = request(h, port, FB_WEBHOOK_PATH, "application/json", body, -1, true);
	KT_EQ_INT(r.status, 411);
	KT_CHECK(r.conn_close);
	reply_release(&r);
	r = post_review(h, port, "poison");
	KT_EQ_INT(r.status, 200);
	KT_EQ_INT(r.connects, 1);
	reply_release(&r);
	free(body);

	/* one byte over the cap: 413 before the body is read, with or without Expect */
	char *big = malloc(FB_ADMREVIEW_MAX + 1);
	memset(big, ' ', FB_ADMREVIEW_MAX + 1);
	for (int expect = 1; expect >= 0; expect--) {
		r = request(h, port, FB_WEBHOOK_PATH, "application/json", big,
		            (long)FB_ADMREVIEW_MAX + 1, expect);
		if (r.rc != CURLE_OK)
			fprintf(stderr, "  413 (expect %d): %s\n", expect, curl_easy_strerror(r.rc));
		KT_EQ_INT(r.rc, CURLE_OK);
		KT_EQ_INT(r.status, 413);
		KT_CHECK(r.conn_close);
		KT_CHECK(r.body.data && strstr(r.body.data, "at most 4 MiB"));
		reply_release(&r);
	}
	/* at the cap, the body is read and reviewed (and is not JSON) */
	r = request(h, port, FB_WEBHOOK_PATH, "application/json", big, (long)FB_ADMREVIEW_MAX,
	            false);
	KT_EQ_INT(r.status, 400);
	reply_release(&r);
	free(big);

	struct fb_webhook_stats st;
	fb_webhook_stats(w, &st);
	KT_EQ_INT(st.errors[FB_WEBHOOK_ERR_MALFORMED], 3);
	KT_EQ_INT(st.errors[FB_WEBHOOK_ERR_NOT_FOUND], 2);
	KT_EQ_INT(st.errors[FB_WEBHOOK_ERR_METHOD], 1);
	KT_EQ_INT(st.errors[FB_WEBHOOK_ERR_MEDIA_TYPE], 1);
	KT_EQ_INT(st.errors[FB_WEBHOOK_ERR_LENGTH], 1);
	KT_EQ_INT(st.errors[FB_WEBHOOK_ERR_TOO_BIG], 2);
	KT_EQ_INT(st.errors[FB_WEBHOOK_ERR_INTERNAL], 0);
	KT_EQ_INT(st.gated, 2);
	KT_EQ_INT(st.requests, 12);
	KT_EQ_STR(fb_webhook_err_name(FB_WEBHOOK_ERR_TOO_BIG), "too_big");
	KT_EQ_STR(fb_webhook_err_name(FB_WEBHOOK_ERR_COUNT), "unknown");
	curl_easy_cleanup(h);
	fb_webhook_free(w);
	pki_release(&p);
}

KT_TEST(a_new_certificate_serves_new_connections_without_a_restart)
{
	pki p;
	pki_init(&p, "test-ca");
	fb_webhook *w = serve(&p, 0x41);
	int port = fb_webhook_port(w);
	CURL *old = client(&p);
	reply r = post_review(old, port, "poison");
	KT_EQ_INT(r.status, 200);
	KT_EQ_INT(r.serial, 0x41);
	reply_release(&r);

	char *cert, *key, *cert3, *key3;
	issue(&p, 0x42, &cert, &key);
	KT_EQ_INT(set_cert(w, cert, key), 0);
	KT_EQ_INT(fb_webhook_port(w), port);
	CURL *h = client(&p);
	r = post_review(h, port, "poison");
	KT_EQ_INT(r.status, 200);
	KT_EQ_INT(r.connects, 1);
	KT_EQ_INT(r.serial, 0x42);
	reply_release(&r);
	curl_easy_cleanup(h);

	/* the connection opened before the swap goes on */
	r = post_review(old, port, "web");
	KT_EQ_INT(r.status, 200);
	KT_EQ_INT(r.connects, 0);
	reply_release(&r);

	/* a key that is not the certificate's is refused: the current one stays */
	issue(&p, 0x43, &cert3, &key3);
	KT_EQ_INT(set_cert(w, cert3, key), -1);
	h = client(&p);
	r = post_review(h, port, "poison");
	KT_EQ_INT(r.status, 200);
	KT_EQ_INT(r.serial, 0x42);
	reply_release(&r);
	curl_easy_cleanup(h);

	/* the client really verifies: a certificate from another CA is rejected */
	pki other;
	pki_init(&other, "other-ca");
	char *ocert, *okey;
	issue(&other, 0x44, &ocert, &okey);
	KT_EQ_INT(set_cert(w, ocert, okey), 0);
	h = client(&p);
	r = post_review(h, port, "poison");
	KT_EQ_INT(r.rc, CURLE_PEER_FAILED_VERIFICATION);
	reply_release(&r);
	curl_easy_cleanup(h);

	struct fb_webhook_stats st;
	fb_webhook_stats(w, &st);
	KT_EQ_INT(st.certs_loaded, 3);
	KT_EQ_INT(st.certs_refused, 1);
	free(cert);
	free(key);
	free(cert3);
	free(key3);
	free(ocert);
	free(okey);
	pki_release(&other);
	curl_easy_cleanup(old);
	fb_webhook_free(w);
	pki_release(&p);
}

/* A request that sends its headers and 1 KiB of a 4 MiB body, then stalls. */
typedef struct stalled {
	int sent;
	int status;     /* from the status line, once answered */
} stalled;

static size_t stall(char *buf, size_t size, size_t n, void *ud)
{
	stalled *st = ud;
	if (st->sent)
		return CURL_READFUNC_PAUSE;
	st->sent = 1;
	size_t len = size * n < 1024 ? size * n : 1024;
	memset(buf, ' ', len);
	return len;
}

static size_t stalled_status(char *p, size_t size, size_t n, void *ud)
{
	stalled *st = ud;
	int status;
	if (!st->status && sscanf(p, "HTTP/1.1 %d", &status) == 1)
		st->status = status;
	return size * n;
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
	return size * n;
}

/*
 * Start n stalling requests at once and wait until one is answered (then a
 * little longer): how many were answered, and how many with 503.
 */
static void stalled_burst(const pki *p, int port, int n, int *answered, int *busy)
{
	CURLM *m = curl_multi_init();
	CURL *hs[32];
	stalled st[32];
	memset(st, 0, sizeof(st));
	struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, "Expect:");
	char url[128];
	snprintf(url, sizeof(url), "https://127.0.0.1:%d" FB_WEBHOOK_PATH, port);
	for (int i = 0; i < n; i++) {
		hs[i] = client(p);
		curl_easy_setopt(hs[i], CURLOPT_URL, url);
		curl_easy_setopt(hs[i], CURLOPT_POST, 1L);
		curl_easy_setopt(hs[i], CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)FB_ADMREVIEW_MAX);
		curl_easy_setopt(hs[i], CURLOPT_READFUNCTION, stall);
		curl_easy_setopt(hs[i], CURLOPT_READDATA, &st[i]);
		curl_easy_setopt(hs[i], CURLOPT_HEADERFUNCTION, stalled_status);
		curl_easy_setopt(hs[i], CURLOPT_HEADERDATA, &st[i]);
		curl_easy_setopt(hs[i], CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(hs[i], CURLOPT_HTTPHEADER, hdrs);
		curl_multi_add_handle(m, hs[i]);
	}
	int settle = -1;
	for (int round = 0; round < 800 && settle != 0; round++) {
		int running;
		curl_multi_perform(m, &running);
		curl_multi_poll(m, NULL, 0, 10, NULL);
		*answered = *busy = 0;
		for (int i = 0; i < n; i++) {
			*answered += st[i].status != 0;
			*busy += st[i].status == 503;
		}
		if (*answered && settle < 0)
			settle = 20; /* 20 more rounds: no second answer may come */
		else if (settle > 0)
			settle--;
	}
	for (int i = 0; i < n; i++) {
		curl_multi_remove_handle(m, hs[i]);
		curl_easy_cleanup(hs[i]);
	}
	curl_slist_free_all(hdrs);
	curl_multi_cleanup(m);
}

KT_TEST(bodies_read_at_once_are_capped_all_connections_together)
{
	pki p;
	pki_init(&p, "test-ca");
	fb_webhook *w = serve(&p, 0x61);
	int port = fb_webhook_port(w);
	int fit = (int)(FB_WEBHOOK_BUFFERED_MAX / FB_ADMREVIEW_MAX);
	KT_CHECK(fit + 1 <= 32);
	for (int round = 0; round < 2; round++) { /* the second: the budget came back */
		int answered, busy;
		stalled_burst(&p, port, fit + 1, &answered, &busy);
		KT_EQ_INT(answered, 1);
		KT_EQ_INT(busy, 1);
	}
	/* the connections are gone: the budget is whole again */
	CURL *h = client(&p);
	reply r = post_review(h, port, "poison");
	KT_EQ_INT(r.status, 200);
	reply_release(&r);
	curl_easy_cleanup(h);
	struct fb_webhook_stats st;
	fb_webhook_stats(w, &st);
	KT_EQ_INT(st.errors[FB_WEBHOOK_ERR_BUSY], 2);
	fb_webhook_free(w);
	pki_release(&p);
}

KT_TEST(an_address_in_use_is_retried_with_the_next_certificate)
{
	pki p;
	pki_init(&p, "test-ca");
	fb_webhook *first = serve(&p, 0x71);
	int port = fb_webhook_port(first);
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	fb_webhook *w = fb_webhook_new(addr, gate, NULL);
	char *cert, *key;
	issue(&p, 0x72, &cert, &key);
	KT_EQ_INT(set_cert(w, cert, key), -1); /* the port is taken */
	KT_EQ_INT(fb_webhook_port(w), 0);
	fb_webhook_free(first);
	KT_EQ_INT(set_cert(w, cert, key), 0);
	KT_EQ_INT(fb_webhook_port(w), port);
	CURL *h = client(&p);
	reply r = post_review(h, port, "poison");
	KT_EQ_INT(r.status, 200);
	KT_EQ_INT(r.serial, 0x72);
	reply_release(&r);
	curl_easy_cleanup(h);
	free(cert);
	free(key);
	fb_webhook_free(w);
	pki_release(&p);
}

KT_TEST(freeing_closes_open_connections)
{
	pki p;
	pki_init(&p, "test-ca");
	fb_webhook *w = serve(&p, 0x51);
	int port = fb_webhook_port(w);
	CURL *h = client(&p);
	reply r = post_review(h, port, "poison");
	KT_EQ_INT(r.status, 200);
	reply_release(&r);
	fb_webhook_free(w); /* with the kept-alive connection still open */
	r = post_review(h, port, "poison");
	KT_CHECK(r.rc != CURLE_OK);
	reply_release(&r);
	curl_easy_cleanup(h);
	pki_release(&p);
}

int main(void)
{
	kc_global_init();
	KT_RUN(listens_only_once_a_good_certificate_is_loaded);
	KT_RUN(gated_and_ungated_pods_over_one_kept_alive_connection);
	KT_RUN(bad_requests_get_a_status_and_a_reason);
	KT_RUN(a_new_certificate_serves_new_connections_without_a_restart);
	KT_RUN(bodies_read_at_once_are_capped_all_connections_together);
	KT_RUN(an_address_in_use_is_retried_with_the_next_certificate);
	KT_RUN(freeing_closes_open_connections);
	kc_global_cleanup();
	return KT_DONE();
}
