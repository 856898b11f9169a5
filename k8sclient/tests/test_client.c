/*
 * kc_client against the unit-test HTTP/TLS server: TLS verification (never
 * silently off), client certificates and CA from memory, tls-server-name,
 * connection reuse, Retry-After retries, 401 credential refresh, Status
 * decoding, caps, timeouts, streams (order, stall, cancel, consumer stop),
 * headers (User-Agent, Authorization), proxies from the environment ignored,
 * and allocation failure on a request path.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "kc/alloc.h"
#include "kc/client.h"
#include "kc/time.h"
#include "kctest.h"
#include "testserver.h"

/* ---- a scripted server ---------------------------------------------------- */

typedef enum mode {
	M_OK,            /* 200 {"kind":"Pod",...} */
	M_429_THEN_OK,   /* 429 Retry-After: ra for `fails` requests, then 200 */
	M_503_PLAIN,     /* 503 with a Status, no Retry-After */
	M_401_ROTATE,    /* 401 unless the bearer is "new"; rewrites token_path */
	M_404_STATUS,
	M_409_STATUS,
	M_GARBAGE,
	M_BIG,           /* 5000 bytes of JSON */
	M_HUGE_CL,       /* claims a body over KC_RESPONSE_MAX_BYTES */
	M_SLOW,          /* answers after 2 s */
	M_STREAM,        /* 5 chunks */
	M_STREAM_STALL,  /* 1 chunk, then silence */
	M_STREAM_410,
	M_RESET_ONCE,    /* first request: abrupt close; then 200 */
	M_BY_PATH,       /* /slow-close: 300 ms then Connection: close; /short: 50 ms */
} mode;

typedef struct script {
	mode mode;
	int fails;            /* M_429_THEN_OK */
	const char *ra;       /* Retry-After value */
	char token_path[256]; /* M_401_ROTATE */
	atomic_int hits;
	pthread_mutex_t mu;
	char last_auth[256];
	char last_ua[256];
	char last_accept[128];
	char last_host[128];
} script;

static script S;

static void script_reset(mode m)
{
	S.mode = m;
	S.fails = 0;
	S.ra = "0";
	atomic_store(&S.hits, 0);
	S.last_auth[0] = S.last_ua[0] = S.last_accept[0] = S.last_host[0] = '\0';
}

static const char pod_json[] = "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"}}";

static void handler(void *ud, const kt_request *req, kt_conn *conn)
{
	(void)ud;
	int hit = atomic_fetch_add(&S.hits, 1) + 1;
	pthread_mutex_lock(&S.mu);
	if (!kt_header(req, "Authorization", S.last_auth, sizeof(S.last_auth)))
		S.last_auth[0] = '\0';
	if (!kt_header(req, "User-Agent", S.last_ua, sizeof(S.last_ua)))
		S.last_ua[0] = '\0';
	if (!kt_header(req, "Accept", S.last_accept, sizeof(S.last_accept)))
		S.last_accept[0] = '\0';
	if (!kt_header(req, "Host", S.last_host, sizeof(S.last_host)))
		S.last_host[0] = '\0';
	pthread_mutex_unlock(&S.mu);

	char hdr[128];
	switch (S.mode) {
	case M_OK:
		kt_respond(conn, 200, NULL, pod_json);
		return;
	case M_429_THEN_OK:
		if (hit <= S.fails) {
			snprintf(hdr, sizeof(hdr), "Retry-After: %s\r\n", S.ra);
			kt_respond(conn, 429, hdr,
			           "{\"kind\":\"Status\",\"reason\":\"TooManyRequests\",\"code\":429}");
		} else {
			kt_respond(conn, 200, NULL, pod_json);
		}
		return;
	case M_503_PLAIN:
		kt_respond(conn, 503, NULL,
		           "{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":\"ServiceUnavailable\","
		           "\"message\":\"etcd is down\",\"code\":503}");
		return;
	case M_401_ROTATE: {
		char auth[128];
		if (kt_header(req, "Authorization", auth, sizeof(auth)) &&
		    strcmp(auth, "Bearer new") == 0) {
			kt_respond(conn, 200, NULL, pod_json);
			return;
		}
		FILE *f = fopen(S.token_path, "w");
		if (f) {
			fputs("new\n", f);
			fclose(f);
		}
		kt_respond(conn, 401, NULL,
		           "{\"kind\":\"Status\",\"reason\":\"Unauthorized\",\"message\":\"Unauthorized\","
		           "\"code\":401}");
		return;
	}
	case M_404_STATUS:
		kt_respond(conn, 404, NULL,
		           "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
		           "\"message\":\"pods \\\"p\\\" not found\",\"reason\":\"NotFound\","
		           "\"details\":{\"name\":\"p\",\"kind\":\"pods\"},\"code\":404}");
		return;
	case M_409_STATUS:
		kt_respond(conn, 409, NULL,
		           "{\"kind\":\"Status\",\"message\":\"the object has been modified\","
		           "\"reason\":\"Conflict\",\"code\":409}");
		return;
	case M_GARBAGE:
		kt_respond(conn, 200, NULL, "{\"kind\":\"Pod\",\"metadata\":{");
		return;
	case M_BIG: {
		char big[5001];
		memset(big, ' ', sizeof(big) - 1);
		big[0] = '{';
		big[4998] = '}';
		big[5000] = '\0';
		kt_respond(conn, 200, NULL, big);
		return;
	}
	case M_HUGE_CL: {
		char head[256];
		snprintf(head, sizeof(head),
		         "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		         "Content-Length: %u\r\n\r\n{\"kind\":",
		         KC_RESPONSE_MAX_BYTES + 1u);
		kt_conn_write_raw(conn, head, strlen(head));
		kt_conn_sleep_ms(conn, 2000);
		kt_conn_close(conn);
		return;
	}
	case M_SLOW:
		kt_conn_sleep_ms(conn, 2000);
		kt_respond(conn, 200, NULL, pod_json);
		return;
	case M_STREAM:
		kt_stream_begin(conn, 200, NULL);
		for (int i = 0; i < 5; i++) {
			char line[64];
			snprintf(line, sizeof(line), "{\"n\":%d}\n", i);
			if (kt_stream_writes(conn, line) != 0)
				return;
			kt_conn_sleep_ms(conn, 20);
		}
		kt_stream_end(conn);
		return;
	case M_STREAM_STALL:
		kt_stream_begin(conn, 200, NULL);
		kt_stream_writes(conn, "{\"n\":0}\n");
		kt_conn_sleep_ms(conn, 5000);
		return;
	case M_STREAM_410:
		kt_respond(conn, 410, NULL,
		           "{\"kind\":\"Status\",\"reason\":\"Expired\",\"message\":\"too old\",\"code\":410}");
		return;
	case M_BY_PATH:
		if (strcmp(req->path, "/slow-close") == 0) {
			kt_conn_sleep_ms(conn, 300);
			kt_respond(conn, 200, "Connection: close\r\n", pod_json);
			kt_conn_close(conn);
			return;
		}
		if (strcmp(req->path, "/short") == 0)
			kt_conn_sleep_ms(conn, 50);
		kt_respond(conn, 200, NULL, pod_json);
		return;
	case M_RESET_ONCE:
		if (hit == 1) {
			kt_conn_close(conn);
			return;
		}
		kt_respond(conn, 200, NULL, pod_json);
		return;
	}
}

static kt_server *start(bool tls, bool client_cert)
{
	kt_server *s = NULL;
	kt_server_opts o = { .tls = tls, .require_client_cert = client_cert, .handler = handler };
	if (kt_server_start(&o, &s) != 0)
		return NULL;
	return s;
}

static kc_client *client_for(const kc_config *cfg, const kc_client_options *o)
{
	kc_client *c = NULL;
	kc_error_detail d;
	kc_err err = kc_client_new(cfg, o, &c, &d);
	if (err)
		fprintf(stderr, "  kc_client_new: %s: %s\n", kc_strerror(err), d.message);
	return c;
}

static const kc_request get_pod = { .method = "GET", .path = "/api/v1/namespaces/default/pods/p" };

/* One GET; returns the error and fills d. */
static kc_err do_get(kc_client *c, kc_error_detail *d)
{
	kc_response r;
	kc_err err = kc_client_do(c, &get_pod, &r, d);
	if (!err)
		kc_response_release(&r);
	return err;
}

/* ---- TLS ------------------------------------------------------------------ */

KT_TEST(get_over_tls_with_config_ca)
{
	script_reset(M_OK);
	kt_server *s = start(true, false);
	KT_CHECK(s != NULL);
	kc_config *cfg = kt_server_config(s, "tok-123");
	kc_client *c = client_for(cfg, NULL);
	KT_CHECK(c != NULL);
	kc_response r;
	kc_error_detail d;
	KT_EQ_INT(kc_client_do(c, &get_pod, &r, &d), KC_OK);
	KT_EQ_INT(r.status, 200);
	KT_EQ_STR(r.body.data, pod_json);
	KT_EQ_INT(r.body.len, strlen(pod_json));
	kc_response_release(&r);
	KT_EQ_STR(S.last_auth, "Bearer tok-123");
	KT_EQ_STR(S.last_accept, "application/json");
	kc_client_free(c);
	kc_config_free(cfg);
	kt_server_stop(s);
}

KT_TEST(user_agent_format)
{
	script_reset(M_OK);
	kt_server *s = start(false, false);
	kc_config *cfg = kt_server_config(s, NULL);
	kc_client *c = client_for(cfg, NULL);
	kc_error_detail d;
	KT_EQ_INT(do_get(c, &d), KC_OK);
	struct utsname u;
	uname(&u);
	const char *arch = strcmp(u.machine, "x86_64") == 0    ? "amd64"
	                   : strcmp(u.machine, "aarch64") == 0 ? "arm64"
	                                                       : u.machine;
	char want[128];
	/* k8sclient names no application: its own name and version by default */
	snprintf(want, sizeof(want), "k8sclient/%s (linux/%s)", KC_VERSION, arch);
	KT_EQ_STR(kc_client_user_agent(c), want);
	KT_EQ_STR(S.last_ua, want);
	KT_EQ_STR(S.last_auth, ""); /* no credentials, no header */
	kc_client_free(c);

	kc_client_options o = { .user_agent = "custom/1.0" };
	c = client_for(cfg, &o);
	KT_EQ_INT(do_get(c, &d), KC_OK);
	KT_EQ_STR(S.last_ua, "custom/1.0");
	KT_EQ_STR(kc_client_namespace(c), "default");
	kc_client_free(c);

	/* what an application passes to name itself, in the same form */
	char *ua = kc_user_agent_new("firebreak", "9.8.7");
	snprintf(want, sizeof(want), "firebreak/9.8.7 (linux/%s)", arch);
	KT_EQ_STR(ua, want);
	kc_free(ua);
	kc_config_free(cfg);
	kt_server_stop(s);
}

KT_TEST(wrong_ca_is_a_tls_error)
{
	script_reset(M_OK);
	kt_server *s = start(true, false);
	kt_server *other = start(true, false);
	kc_config *cfg = kt_server_config(s, NULL);
	kc_config *other_cfg = kt_server_config(other, NULL);
	/* swap in the other server's CA */
	kc_blob tmp = cfg->ca;
	cfg->ca = other_cfg->ca;
	other_cfg->ca = tmp;
	kc_client *c = client_for(cfg, NULL);
	kc_error_detail d;
	KT_EQ_INT(do_get(c, &d), KC_ERR_TLS);
	KT_CHECK(strstr(d.message, "certificate verification failed") != NULL);
	if (!strstr(d.message, "certificate verification failed"))
		fprintf(stderr, "  message: %s\n", d.message);
	KT_EQ_INT(kt_server_requests(s), 0);
	kc_client_free(c);
	kc_config_free(cfg);
	kc_config_free(other_cfg);
	kt_server_stop(other);
	kt_server_stop(s);
}

KT_TEST(no_ca_means_system_store_not_no_checks)
{
	script_reset(M_OK);
	kt_server *s = start(true, false);
	kc_config *cfg = kt_server_config(s, NULL);
	kc_free(cfg->ca.data);
	cfg->ca.data = NULL;
	cfg->ca.len = 0;
	kc_client *c = client_for(cfg, NULL);
	kc_error_detail d;
	KT_EQ_INT(do_get(c, &d), KC_ERR_TLS);
	KT_EQ_INT(kt_server_requests(s), 0);
	kc_client_free(c);

	/* insecure_skip_tls_verify, and only it, turns checking off */
	cfg->insecure_skip_tls_verify = true;
	c = client_for(cfg, NULL);
	KT_EQ_INT(do_get(c, &d), KC_OK);
	KT_EQ_INT(kt_server_requests(s), 1);
	kc_client_free(c);
	kc_config_free(cfg);
	kt_server_stop(s);
}

KT_TEST(client_certificate_from_memory)
{
	script_reset(M_OK);
	kt_server *s = start(true, true);
	kc_config *cfg = kt_server_config(s, NULL);
	kc_client *c = client_for(cfg, NULL);
	kc_error_detail d;
	kc_err err = do_get(c, &d);
	KT_CHECK(err == KC_ERR_TRANSPORT || err == KC_ERR_TLS); /* no certificate: refused */
	KT_EQ_INT(kt_server_requests(s), 0);
	kc_client_free(c);

	char *cert = NULL, *key = NULL;
	KT_EQ_INT(kt_server_issue_client_cert(s, "firebreak", &cert, &key), 0);
	cfg->client_cert.data = (unsigned char *)kc_strdup(cert);
	cfg->client_cert.len = strlen(cert);
	cfg->client_key.data = (unsigned char *)kc_strdup(key);
	cfg->client_key.len = strlen(key);
	free(cert);
	free(key);
	c = client_for(cfg, NULL);
	KT_EQ_INT(do_get(c, &d), KC_OK);
	KT_EQ_INT(kt_server_requests(s), 1);
	kc_client_free(c);
	kc_config_free(cfg);
	kt_server_stop(s);
}

KT_TEST(tls_server_name_overrides_the_verified_name)
{
	script_reset(M_OK);
	kt_server *s = start(true, false);
	kc_config *cfg = kt_server_config(s, NULL);
	KT_CHECK(strncmp(cfg->server, "https://127.0.0.1:", 18) == 0);
	cfg->tls_server_name = kc_strdup("localhost");
	kc_client *c = client_for(cfg, NULL);
	kc_error_detail d;
	KT_EQ_INT(do_get(c, &d), KC_OK);
	/* the Host header still names the server we connect to */
	char want_host[64];
	snprintf(want_host, sizeof(want_host), "127.0.0.1:%d", kt_server_port(s));
	KT_EQ_STR(S.last_host, want_host);
	kc_client_free(c);

	/* a name the certificate does not carry must fail: the override is in effect */
	kc_free(cfg->tls_server_name);
	cfg->tls_server_name = kc_strdup("not-this-server.example");
	c = client_for(cfg, NULL);
	KT_EQ_INT(do_get(c, &d), KC_ERR_TLS);
	kc_client_free(c);
	kc_config_free(cfg);
	kt_server_stop(s);
}

/* ---- connections, retries, credentials ------------------------------------ */

KT_TEST(sequential_requests_reuse_one_connection)
{
	script_reset(M_OK);
	kt_server *s = start(true, false);
	kc_config *cfg = kt_server_config(s, NULL);
	kc_client *c = client_for(cfg, NULL);
	kc_error_detail d;
	for (int i = 0; i < 8; i++)
		KT_EQ_INT(do_get(c, &d), KC_OK);
	KT_EQ_INT(kt_server_requests(s), 8);
	KT_EQ_INT(kt_server_connections(s), 1);
	kc_client_free(c);
	kc_config_free(cfg);
	kt_server_stop(s);
}

static void *get_short(void *p)
{
	kc_request req = { .method = "GET", .path = "/short" };
	kc_response r;
	kc_error_detail d;
	if (kc_client_do(p, &req, &r, &d) == KC_OK)
		kc_response_release(&r);
	return NULL;
}

/*
 * A connection opened by one pooled handle is reused by another: the
 * connection cache is the client's (CURLSH), not each handle's. Two calls run
 * at once (two handles); the one on /slow-close loses its connection; its
 * handle, next out of the pool, must reuse the other call's connection.
 */
KT_TEST(connections_are_shared_between_handles)
{
	script_reset(M_BY_PATH);
	kt_server *s = start(true, false);
	kc_config *cfg = kt_server_config(s, NULL);
	kc_client *c = client_for(cfg, NULL);
	pthread_t t;
	pthread_create(&t, NULL, get_short, c);
	kc_cancel_sleep(NULL, 10);
	kc_request slow = { .method = "GET", .path = "/slow-close" };
	kc_response r;
	kc_error_detail d;
	KT_EQ_INT(kc_client_do(c, &slow, &r, &d), KC_OK);
	kc_response_release(&r);
	pthread_join(t, NULL);
	KT_EQ_INT(kt_server_connections(s), 2);
	KT_EQ_INT(do_get(c, &d), KC_OK);
	KT_EQ_INT(do_get(c, &d), KC_OK);
	KT_EQ_INT(kt_server_requests(s), 4);
	KT_EQ_INT(kt_server_connections(s), 2);
	kc_client_free(c);
	kc_config_free(cfg);
	kt_server_stop(s);
}

typedef struct par_arg {
	kc_client *c;
	atomic_int ok;
} par_arg;

static void *par_worker(void *p)
{
	par_arg *a = p;
	for (int i = 0; i < 10; i++) {
		kc_error_detail d;
		if (do_get(a->c, &d) == KC_OK)
			atomic_fetch_add(&a->ok, 1);
	}
	return NULL;
}

KT_TEST(threads_share_a_client)
{
	script_reset(M_OK);
	kt_server *s = start(true, false);
	kc_config *cfg = kt_server_config(s, NULL);
	kc_client_options o = { .rate_limit_off = true };
	kc_client *c = client_for(cfg, &o);
	par_arg a = { .c = c };
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, par_worker, &a);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	KT_EQ_INT(atomic_load(&a.ok), 40);
	KT_CHECK(kt_server_connections(s) <= 4); /* reused, at most one per thread */
	kc_client_free(c);
	kc_config_free(cfg);
	kt_server_stop(s);
}

KT_TEST(retry_after_429_then_success)
{
	script_reset(M_429_THEN_OK);
	S.fails = 2;
	S.ra = "0";
	kt_server *s = start(false, false);
	kc_config *cfg = kt_server_config(s, NULL);
	kc_client *c = client_for(cfg, NULL);
	kc_error_detail d;
	KT_EQ_INT(do_get(c, &d), KC_OK);
	KT_EQ_INT(atomic_load(&S.hits), 3);

	/* the delay is honoured */
	script_reset(M_429_THEN_OK);
	S.fails = 1;
	S.ra = "1";
	int64_t t0 = kc_now_mono_ms();
	KT_EQ_INT(do_get(c, &d), KC_OK);
	KT_CHECK(kc_now_mono_ms() - t0 >= 950);
	KT_EQ_INT(atomic_load(&S.hits), 2);

	/* a 429 without Retry-After is not retried */
	script_reset(M_429_THEN_OK);
	S.fails = 1;
	S.ra = "soon";
	KT_EQ_INT(do_get(c, &d), KC_ERR_TOO_MANY);
	KT_EQ_INT(atomic_load(&S.hits), 1);
	KT_EQ_INT(d.retry_after_s, -1);
	kc_client_free(c);
	kc_config_free(cfg);
	kt_server_stop(s);
}

struct observed {
	atomic_int calls;
	long statuses[8];
	char method[8];
};

static void observe(void *ud, const char *method, long status, int64_t duration_us)
{
	struct observed *o = ud;
	int i = atomic_fetch_add(&o->calls, 1);
	if (i < 8)
		o->statuses[i] = status;
	snprintf(o->method, sizeof(o->method), "%s", method);
	if (duration_us < 0)
		o->statuses[0] = -1; /* make the test fail */
}

KT_TEST(request_observer_sees_every_try)
{
	script_reset(M_429_THEN_OK);
	S.fails = 2;
	S.ra = "0";
	kt_server *s = start(false, false);
	kc_config *cfg = kt_server_config(s, NULL);
	struct observed ob = { 0 };
	kc_client_options o = { .on_request = observe, .on_request_ud = &ob };
	kc_client *c = client_for(cfg, &o);
	kc_error_detail d;
	KT_EQ_INT(do_get(c, &d), KC_OK);
	KT_EQ_INT(atomic_load(&ob.calls), 3);
	KT_EQ_INT(ob.statuses[0], 429);
	KT_EQ_INT(ob.statuses[1], 429);
	KT_EQ_INT(ob.statuses[2], 200);
	KT_EQ_STR(ob.method, "GET");
	kc_client_free(c);
	kc_config_free(cfg);
	kt_server_stop(s);
}

KT_TEST(retries_are_bounded)
{
	script_reset(M_429_THEN_OK);
	S.fails = 1000;
	S.ra = "0";
	kt_server *s = start(false, false);
	kc_config *cfg = kt_server_config(s, NULL);
	kc_client_options o = { .max_retries = 3 };
	kc_client *c = client_for(cfg, &o);
	kc_error_detail d;
	KT_EQ_INT(do_get(c, &d), KC_ERR_TOO_MANY);
	KT_EQ_INT(atomic_load(&S.hits), 3);
	KT_EQ_INT(d.http_status, 429);
	KT_EQ_INT(d.retry_after_s, 0);
	KT_EQ_STR(d.reason, "TooManyRequests");
	kc_client_free(c);

	script_reset(M_429_THEN_OK);
	S.fails = 1000;
	c = client_for(cfg, NULL); /* default: KC_MAX_RETRIES tries */
	KT_EQ_INT(do_get(c, &d), KC_ERR_TOO_MANY);
	KT_EQ_INT(atomic_load(&S.hits), KC_MAX_RETRIES);
	kc_client_free(c);
	kc_config_free(cfg);
	kt_server_stop(s);
}

KT_TEST(server_error_without_retry_after_is_not_retried)
{
	script_reset(M_503_PLAIN);
	kt_server *s = start(false, false);
	kc_config *cfg = kt_server_config(s, NULL);
	kc_client *c = client_for(cfg, NULL);
	kc_response r;
	kc_error_detail d;
	KT_EQ_INT(kc_client_do(c, &get_pod, &r, &d), KC_ERR_SERVER);
	KT_CHECK(r.body.data == NULL && r.body.len == 0); /* never returned as success */
	KT_EQ_INT(atomic_load(&S.hits), 1);
	KT_EQ_INT(d.http_status, 503);
	KT_EQ_STR(d.reason, "ServiceUnavailable");
	KT_EQ_STR(d.message, "etcd is down");
	kc_client_free(c);
	kc_config_free(cfg);
	kt_server_stop(s);
}

KT_TEST(status_is_decoded_into_the_detail)
{
	script_reset(M_404_STATUS);
	kt_server *s = start(false, false);
	kc_config *cfg = kt_server_config(s, NULL);
	kc_client *c = client_for(cfg, NULL);
	kc_error_detail d;
	KT_EQ_INT(do_get(c, &d), KC_ERR_NOT_FOUND);
	KT_EQ_INT(d.http_status, 404);
	KT_EQ_STR(d.reason, "NotFound");
	KT_EQ_STR(d.message, "pods \"p\" not found");
	script_reset(M_409_STATUS);
	KT_EQ_INT(do_get(c, &d), KC_ERR_CONFLICT);
	KT_EQ_STR(d.reason, "Conflict");
	KT_EQ_INT(d.http_status, 409);
	kc_client_free(c);
	kc_config_free(cfg);
	kt_server_stop(s);
}

KT_TEST(unauthorized_rereads_the_token_file_once)
{
	script_reset(M_401_ROTATE);
	snprintf(S.token_path, sizeof(S.token_path), "/tmp/kc_test_client_token_XXXXXX");
	int fd = mkstemp(S.token_path);
	KT_CHECK(fd >= 0);
	KT_EQ_INT(write(fd, "old\n", 4), 4);
	close(fd);
	kt_server *s = start(false, false);
	kc_config *cfg = kt_server_config(s, NULL);
	cfg->token_file = kc_strdup(S.token_path);
	kc_client *c = client_for(cfg, NULL);
	kc_error_detail d;
	KT_EQ_INT(do_get(c, &d), KC_OK);
	KT_EQ_INT(atomic_load(&S.hits), 2);
	KT_EQ_STR(S.last_auth, "Bearer new");
	/* the token never shows in an error message */
	script_reset(M_404_STATUS);
	KT_EQ_INT(do_get(c, &d), KC_ERR_NOT_FOUND);
	KT_CHECK(strstr(d.message, "new") == NULL || strstr(d.message, "Bearer") == NULL);
	kc_client_free(c);
	kc_config_free(cfg);

	/* a static token cannot change: the 401 is final after one try */
	script_reset(M_401_ROTATE);
	cfg = kt_server_config(s, "static");
	c = client_for(cfg, NULL);
	KT_EQ_INT(do_get(c, &d), KC_ERR_UNAUTHORIZED);
	KT_EQ_INT(atomic_load(&S.hits), 1);
	KT_CHECK(strstr(d.message, "static") == NULL);
	kc_client_free(c);
	kc_config_free(cfg);

	/* a token file that keeps being refused: one retry, not a loop */
	script_reset(M_401_ROTATE);
	FILE *f = fopen(S.token_path, "w");
	fputs("old\n", f);
	fclose(f);
	cfg = kt_server_config(s, NULL);
	cfg->token_file = kc_strdup(S.token_path);
	c = client_for(cfg, NULL);
	S.token_path[0] = '\0'; /* the handler cannot rotate it any more */
	KT_EQ_INT(do_get(c, &d), KC_ERR_UNAUTHORIZED);
	KT_EQ_INT(atomic_load(&S.hits), 2);
	unlink(cfg->token_file);
	kc_client_free(c);
	kc_config_free(cfg);
	kt_server_stop(s);
}

KT_TEST(basic_auth)
{
	script_reset(M_OK);
	kt_server *s = start(false, false);
	kc_config *cfg = kt_server_config(s, NULL);
	cfg->username = kc_strdup("admin");
	cfg->password = kc_strdup("s3cret");
	kc_client *c = client_for(cfg, NULL);
	kc_error_detail d;
	KT_EQ_INT(do_get(c, &d), KC_OK);
	KT_EQ_STR(S.last_auth, "Basic YWRtaW46czNjcmV0");
	kc_client_free(c);
	kc_config_free(cfg);
	kt_server_stop(s);
}

KT_TEST(environment_proxy_is_not_used)
{
	script_reset(M_OK);
	kt_server *s = start(false, false);
	kc_config *cfg = kt_server_config(s, NULL);
	unsetenv("no_proxy");
	unsetenv("NO_PROXY");
	setenv("http_proxy", "http://127.0.0.1:9", 1); /* nothing listens there */
	setenv("HTTPS_PROXY", "http://127.0.0.1:9", 1);
	setenv("ALL_PROXY", "http://127.0.0.1:9", 1);
	kc_client *c = client_for(cfg, NULL);
	kc_error_detail d;
	KT_EQ_INT(do_get(c, &d), KC_OK);
	kc_client_free(c);
	unsetenv("http_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("ALL_PROXY");
	kc_config_free(cfg);
	kt_server_stop(s);
}

KT_TEST(get_retried_once_after_connection_reset)
{
	script_reset(M_RESET_ONCE);
	kt_server *s = start(false, false);
	kc_config *cfg = kt_server_config(s, NULL);
	kc_client *c = client_for(cfg, NULL);
	kc_error_detail d;
	int64_t t0 = kc_now_mono_ms();
	KT_EQ_INT(do_get(c, &d), KC_OK);
	KT_EQ_INT(atomic_load(&S.hits), 2);
	KT_CHECK(kc_now_mono_ms() - t0 >= 900); /* our retry (after 1 s), not libcurl's */
	kc_client_free(c);
	/* not for a POST: it may have been applied. A fresh client, so the POST is
	 * on a new connection (libcurl itself retries once on a reused one that
	 * turns out to be dead, which is a different matter). */
	script_reset(M_RESET_ONCE);
	c = client_for(cfg, NULL);
	kc_request post = { .method = "POST", .path = "/api/v1/namespaces/default/pods",
	                    .body = "{}", .body_len = 2 };
	kc_response r;
	KT_EQ_INT(kc_client_do(c, &post, &r, &d), KC_ERR_TRANSPORT);
	KT_EQ_INT(atomic_load(&S.hits), 1);
	kc_client_free(c);
	kc_config_free(cfg);
	kt_server_stop(s);
}

/* ---- caps and timeouts ---------------------------------------------------- */

KT_TEST(oversized_bodies_are_refused)
{
	script_reset(M_BIG);
	kt_server *s = start(false, false);
	kc_config *cfg = kt_server_config(s, NULL);
	kc_client_options o = { .max_response_bytes = 1000 };
	kc_client *c = client_for(cfg, &o);
	kc_response r;
	kc_error_detail d;
	KT_EQ_INT(kc_client_do(c, &get_pod, &r, &d), KC_ERR_TOOBIG);
	KT_CHECK(r.body.data == NULL);
	kc_client_free(c);

	o.max_response_bytes = 5000; /* exactly the body: fits */
	c = client_for(cfg, &o);
	KT_EQ_INT(kc_client_do(c, &get_pod, &r, &d), KC_OK);
	KT_EQ_INT(r.body.len, 5000);
	kc_response_release(&r);
	kc_client_free(c);

	/* the default cap, refused from Content-Length before reading the body */
	script_reset(M_HUGE_CL);
	c = client_for(cfg, NULL);
	int64_t t0 = kc_now_mono_ms();
	KT_EQ_INT(kc_client_do(c, &get_pod, &r, &d), KC_ERR_TOOBIG);
	KT_CHECK(kc_now_mono_ms() - t0 < 1500);
	kc_client_free(c);
	kc_config_free(cfg);
	kt_server_stop(s);
}

KT_TEST(request_timeout)
{
	script_reset(M_SLOW);
	kt_server *s = start(false, false);
	kc_config *cfg = kt_server_config(s, NULL);
	kc_client_options o = { .request_timeout_ms = 300 };
	kc_client *c = client_for(cfg, &o);
	kc_error_detail d;
	int64_t t0 = kc_now_mono_ms();
	KT_EQ_INT(do_get(c, &d), KC_ERR_TIMEOUT);
	int64_t took = kc_now_mono_ms() - t0;
	KT_CHECK(took >= 250 && took < 1500);
	/* per-request override */
	kc_request slow = get_pod;
	slow.timeout_ms = 100;
	kc_client_free(c);
	c = client_for(cfg, NULL);
	t0 = kc_now_mono_ms();
	kc_response r;
	KT_EQ_INT(kc_client_do(c, &slow, &r, &d), KC_ERR_TIMEOUT);
	KT_CHECK(kc_now_mono_ms() - t0 < 1000);
	kc_client_free(c);
	kc_config_free(cfg);
	kt_server_stop(s);
}

KT_TEST(garbage_config_and_requests_are_rejected)
{
	kc_config cfg = { .server = "ftp://example.com", .namespace = "x" };
	kc_client *c = NULL;
	kc_error_detail d;
	KT_EQ_INT(kc_client_new(&cfg, NULL, &c, &d), KC_ERR_CONFIG);
	KT_CHECK(c == NULL);
	cfg.server = "https://bad host";
	KT_EQ_INT(kc_client_new(&cfg, NULL, &c, &d), KC_ERR_CONFIG);
	cfg.server = "https://[::1]:6443/prefix/";
	KT_EQ_INT(kc_client_new(&cfg, NULL, &c, &d), KC_OK);
	kc_request bad = { .method = "GET", .path = "/api/v1/pods\r\nX-Evil: 1" };
	kc_response r;
	KT_EQ_INT(kc_client_do(c, &bad, &r, &d), KC_ERR_INVALID);
	bad.path = "/api/v1/pods";
	bad.method = "GET /x HTTP/1.1\r\n";
	KT_EQ_INT(kc_client_do(c, &bad, &r, &d), KC_ERR_INVALID);
	kc_client_free(c);
}

KT_TEST(cancelled_before_start_sends_nothing)
{
	script_reset(M_OK);
	kt_server *s = start(false, false);
	kc_config *cfg = kt_server_config(s, NULL);
	kc_client *c = client_for(cfg, NULL);
	kc_cancel *cancel = NULL;
	kc_cancel_new(&cancel);
	kc_cancel_fire(cancel);
	kc_request req = get_pod;
	req.cancel = cancel;
	kc_response r;
	kc_error_detail d;
	KT_EQ_INT(kc_client_do(c, &req, &r, &d), KC_ERR_CANCELED);
	KT_EQ_INT(kt_server_requests(s), 0);
	kc_cancel_free(cancel);
	kc_client_free(c);
	kc_config_free(cfg);
	kt_server_stop(s);
}

KT_TEST(every_try_goes_through_the_rate_limiter)
{
	script_reset(M_429_THEN_OK);
	S.fails = 3;
	kt_server *s = start(false, false);
	kc_config *cfg = kt_server_config(s, NULL);
	kc_client_options o = { .qps = 10, .burst = 1 };
	kc_client *c = client_for(cfg, &o);
	kc_error_detail d;
	int64_t t0 = kc_now_mono_ms();
	KT_EQ_INT(do_get(c, &d), KC_OK); /* 4 tries: 3 spaced by 100 ms */
	KT_CHECK(kc_now_mono_ms() - t0 >= 280);
	KT_EQ_INT(atomic_load(&S.hits), 4);
	kc_client_free(c);
	kc_config_free(cfg);
	kt_server_stop(s);
}

/* ---- streams ---------------------------------------------------------------- */

typedef struct sink {
	kc_buf got;
	int calls;
	int stop_after;  /* > 0: return KC_ERR_PARSE on that call */
} sink;

static kc_err on_data(void *ud, const char *data, size_t len)
{
	sink *k = ud;
	k->calls++;
	kc_buf_append(&k->got, data, len);
	if (k->stop_after && k->calls >= k->stop_after)
		return KC_ERR_PARSE;
	return KC_OK;
}

static const kc_request watch_req = { .method = "GET", .path = "/api/v1/pods", .query = "watch=1" };

KT_TEST(stream_delivers_chunks_in_order)
{
	script_reset(M_STREAM);
	kt_server *s = start(true, false);
	kc_config *cfg = kt_server_config(s, NULL);
	kc_client *c = client_for(cfg, NULL);
	sink k = { 0 };
	kc_buf_init(&k.got, 1 << 16);
	kc_error_detail d;
	KT_EQ_INT(kc_client_stream(c, &watch_req, 2000, on_data, &k, &d), KC_OK);
	KT_EQ_STR(k.got.data, "{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n{\"n\":4}\n");
	KT_CHECK(k.calls >= 1);
	kc_buf_release(&k.got);
	kc_client_free(c);
	kc_config_free(cfg);
	kt_server_stop(s);
}

KT_TEST(stream_stall_detector_fires)
{
	script_reset(M_STREAM_STALL);
	kt_server *s = start(false, false);
	kc_config *cfg = kt_server_config(s, NULL);
	kc_client *c = client_for(cfg, NULL);
	sink k = { 0 };
	kc_buf_init(&k.got, 1 << 16);
	kc_error_detail d;
	int64_t t0 = kc_now_mono_ms();
	KT_EQ_INT(kc_client_stream(c, &watch_req, 300, on_data, &k, &d), KC_ERR_STALLED);
	int64_t took = kc_now_mono_ms() - t0;
	KT_CHECK(took >= 280 && took < 1500);
	KT_EQ_STR(k.got.data, "{\"n\":0}\n");
	kc_buf_release(&k.got);
	kc_client_free(c);
	kc_config_free(cfg);
	kt_server_stop(s);
}

typedef struct fire_arg {
	kc_cancel *cancel;
	int64_t fired_at;
} fire_arg;

static void *fire_after_200ms(void *p)
{
	fire_arg *a = p;
	kc_cancel_sleep(NULL, 200);
	a->fired_at = kc_now_mono_ms();
	kc_cancel_fire(a->cancel);
	return NULL;
}

KT_TEST(stream_cancel_from_another_thread)
{
	script_reset(M_STREAM_STALL);
	kt_server *s = start(true, false);
	kc_config *cfg = kt_server_config(s, NULL);
	kc_client *c = client_for(cfg, NULL);
	sink k = { 0 };
	kc_buf_init(&k.got, 1 << 16);
	fire_arg a = { 0 };
	kc_cancel_new(&a.cancel);
	kc_request req = watch_req;
	req.cancel = a.cancel;
	pthread_t t;
	pthread_create(&t, NULL, fire_after_200ms, &a);
	kc_error_detail d;
	KT_EQ_INT(kc_client_stream(c, &req, 0, on_data, &k, &d), KC_ERR_CANCELED);
	int64_t late = kc_now_mono_ms() - a.fired_at;
	pthread_join(t, NULL);
	KT_CHECK(late < 300); /* promptly, not at the next second */
	kc_cancel_free(a.cancel);
	kc_buf_release(&k.got);
	kc_client_free(c);
	kc_config_free(cfg);
	kt_server_stop(s);
}

KT_TEST(stream_consumer_error_stops_it)
{
	script_reset(M_STREAM);
	kt_server *s = start(false, false);
	kc_config *cfg = kt_server_config(s, NULL);
	kc_client *c = client_for(cfg, NULL);
	sink k = { .stop_after = 2 };
	kc_buf_init(&k.got, 1 << 16);
	kc_error_detail d;
	KT_EQ_INT(kc_client_stream(c, &watch_req, 0, on_data, &k, &d), KC_ERR_PARSE);
	KT_EQ_INT(k.calls, 2);
	kc_buf_release(&k.got);
	kc_client_free(c);
	kc_config_free(cfg);
	kt_server_stop(s);
}

KT_TEST(stream_error_status_is_not_delivered)
{
	script_reset(M_STREAM_410);
	kt_server *s = start(false, false);
	kc_config *cfg = kt_server_config(s, NULL);
	kc_client *c = client_for(cfg, NULL);
	sink k = { 0 };
	kc_buf_init(&k.got, 1 << 16);
	kc_error_detail d;
	KT_EQ_INT(kc_client_stream(c, &watch_req, 0, on_data, &k, &d), KC_ERR_GONE);
	KT_EQ_INT(k.calls, 0);
	KT_EQ_STR(d.reason, "Expired");
	KT_EQ_INT(d.http_status, 410);
	kc_buf_release(&k.got);
	kc_client_free(c);
	kc_config_free(cfg);
	kt_server_stop(s);
}

/* ---- allocation failure ------------------------------------------------------ */

KT_TEST(allocation_failures_on_a_request_path)
{
	script_reset(M_404_STATUS);
	kt_server *s = start(true, false);
	kc_config *cfg = kt_server_config(s, "tok");
	bool done = false;
	for (long n = 0; n < 500 && !done; n++) {
		kc_alloc_fail_after(n);
		kc_client *c = NULL;
		kc_error_detail d;
		kc_err err = kc_client_new(cfg, NULL, &c, &d);
		if (!err) {
			kc_response r;
			err = kc_client_do(c, &get_pod, &r, &d);
			if (!err)
				kc_response_release(&r);
			kc_client_free(c);
		}
		bool failed = kc_alloc_fail_triggered();
		kc_alloc_fail_reset();
		KT_CHECK(err == KC_ERR_NOMEM || err == KC_ERR_NOT_FOUND);
		if (err == KC_ERR_NOT_FOUND && !failed)
			done = true;
	}
	KT_CHECK(done);
	kc_config_free(cfg);
	kt_server_stop(s);
}

int main(void)
{
	/* the test server writes to sockets the client may have closed */
	signal(SIGPIPE, SIG_IGN);
	pthread_mutex_init(&S.mu, NULL);
	KT_RUN(get_over_tls_with_config_ca);
	KT_RUN(user_agent_format);
	KT_RUN(wrong_ca_is_a_tls_error);
	KT_RUN(no_ca_means_system_store_not_no_checks);
	KT_RUN(client_certificate_from_memory);
	KT_RUN(tls_server_name_overrides_the_verified_name);
	KT_RUN(sequential_requests_reuse_one_connection);
	KT_RUN(connections_are_shared_between_handles);
	KT_RUN(threads_share_a_client);
	KT_RUN(retry_after_429_then_success);
	KT_RUN(request_observer_sees_every_try);
	KT_RUN(retries_are_bounded);
	KT_RUN(server_error_without_retry_after_is_not_retried);
	KT_RUN(status_is_decoded_into_the_detail);
	KT_RUN(unauthorized_rereads_the_token_file_once);
	KT_RUN(basic_auth);
	KT_RUN(environment_proxy_is_not_used);
	KT_RUN(get_retried_once_after_connection_reset);
	KT_RUN(oversized_bodies_are_refused);
	KT_RUN(request_timeout);
	KT_RUN(garbage_config_and_requests_are_rejected);
	KT_RUN(cancelled_before_start_sends_nothing);
	KT_RUN(every_try_goes_through_the_rate_limiter);
	KT_RUN(stream_delivers_chunks_in_order);
	KT_RUN(stream_stall_detector_fires);
	KT_RUN(stream_cancel_from_another_thread);
	KT_RUN(stream_consumer_error_stops_it);
	KT_RUN(stream_error_status_is_not_delivered);
	KT_RUN(allocation_failures_on_a_request_path);
	return KT_DONE();
}
