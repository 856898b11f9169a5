/*
 * The unit-test server itself: plain and TLS answers, keep-alive, chunked
 * streams, client-certificate checks. Driven with raw libcurl so that a fault
 * here is not confused with one in kc_client.
 */
#include <curl/curl.h>
#include <stdlib.h>

#include "kc/buf.h"
#include "kctest.h"
#include "testserver.h"

static void handler(void *ud, const kt_request *req, kt_conn *conn)
{
	(void)ud;
	char v[64];
	if (strcmp(req->path, "/stream") == 0) {
		kt_stream_begin(conn, 200, NULL);
		kt_stream_writes(conn, "{\"a\":1}\n");
		kt_stream_writes(conn, "{\"b\":2}\n");
		return;
	}
	if (strcmp(req->path, "/echo") == 0) {
		kt_respond(conn, 200, "X-Test: yes\r\n", req->body);
		return;
	}
	if (kt_query_param(req, "name", v, sizeof(v))) {
		kt_respond(conn, 200, NULL, v);
		return;
	}
	kt_respond(conn, 404, NULL, "{\"kind\":\"Status\",\"code\":404}");
}

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
	kc_buf_append(ud, p, size * n);
	return size * n;
}

static long fetch(CURL *h, const char *url, kc_buf *out)
{
	kc_buf_reset(out);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
	long status = 0;
	if (curl_easy_perform(h) != CURLE_OK)
		return -1;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

KT_TEST(plain_keepalive_and_stream)
{
	kt_server *s = NULL;
	kt_server_opts o = { .handler = handler };
	KT_EQ_INT(kt_server_start(&o, &s), 0);
	CURL *h = curl_easy_init();
	kc_buf b;
	kc_buf_init(&b, 1 << 16);
	char url[256];
	snprintf(url, sizeof(url), "%s/x?name=a%%20b", kt_server_url(s));
	KT_EQ_INT(fetch(h, url, &b), 200);
	KT_EQ_STR(b.data, "a b");
	snprintf(url, sizeof(url), "%s/stream", kt_server_url(s));
	KT_EQ_INT(fetch(h, url, &b), 200);
	KT_EQ_STR(b.data, "{\"a\":1}\n{\"b\":2}\n");
	snprintf(url, sizeof(url), "%s/missing", kt_server_url(s));
	KT_EQ_INT(fetch(h, url, &b), 404);
	KT_EQ_INT(kt_server_connections(s), 1);
	KT_EQ_INT(kt_server_requests(s), 3);
	kc_buf_release(&b);
	curl_easy_cleanup(h);
	kt_server_stop(s);
}

KT_TEST(tls_with_ca_blob_and_client_cert)
{
	kt_server *s = NULL;
	kt_server_opts o = { .tls = true, .require_client_cert = true, .handler = handler };
	KT_EQ_INT(kt_server_start(&o, &s), 0);
	char *cert = NULL, *key = NULL;
	KT_EQ_INT(kt_server_issue_client_cert(s, "tester", &cert, &key), 0);
	kc_buf b;
	kc_buf_init(&b, 1 << 16);
	char url[256];
	snprintf(url, sizeof(url), "%s/x?name=tls", kt_server_url(s));

	CURL *h = curl_easy_init();
	/* No CA given: the system store does not know our CA, so this must fail. */
	KT_EQ_INT(fetch(h, url, &b), -1);

	struct curl_blob ca = { (void *)kt_server_ca_pem(s), strlen(kt_server_ca_pem(s)),
	                        CURL_BLOB_COPY };
	curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &ca);
	/* CA right but no client certificate: the server refuses the handshake. */
	KT_EQ_INT(fetch(h, url, &b), -1);

	struct curl_blob cb = { cert, strlen(cert), CURL_BLOB_COPY };
	struct curl_blob kb = { key, strlen(key), CURL_BLOB_COPY };
	curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cb);
	curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
	curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &kb);
	curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
	KT_EQ_INT(fetch(h, url, &b), 200);
	KT_EQ_STR(b.data, "tls");
	curl_easy_cleanup(h);
	kc_buf_release(&b);
	free(cert);
	free(key);
	kt_server_stop(s);
}

int main(void)
{
	KT_RUN(plain_keepalive_and_stream);
	KT_RUN(tls_with_ca_blob_and_client_cert);
	return KT_DONE();
}
