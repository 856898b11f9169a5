/*
 * The webhook's certificates against a small fake of the API
 * (controller/shell/webhookcerts.c): in self mode the leader creates the
 * Secret and patches the caBundle of every webhook entry, and what it loads
 * verifies under that caBundle; a POST that another replica won (409) is read
 * again and adopted; a PUT that raced another writer (409) is read again and
 * never overwrites; a patch that raced (409) is read again; a failed read is
 * retried; a follower never writes; in external mode nothing is written, a
 * Secret that cannot be served is not loaded, and a renewed one is loaded
 * without a restart. No key ever reaches the log.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "kc/alloc.h"
#include "kc/base64.h"
#include "kc/time.h"
#include "kctest.h"
#include "log.h"
#include "testserver.h"
#include "webhookcerts.h"

#define NS          "fb-system"
#define SECRET      "fb-tls"
#define CONFIG      "fb"
#define SERVICE     "fb-webhook"
#define SECRETS     "/api/v1/namespaces/" NS "/secrets"
#define CONFIGS     "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
#define LOG_MAX     64

/* ---- the fake API ------------------------------------------------------------------- */

typedef struct fake {
	pthread_mutex_t mu;
	cJSON *secret;            /* NULL: none */
	cJSON *config;            /* NULL: none */
	long rv;
	/* what goes wrong */
	cJSON *winner;            /* the next POST: this Secret appears first, the POST gets 409 */
	cJSON *racer;             /* the next PUT: this Secret is written first, the PUT gets 409 */
	int patch_conflicts;      /* patches answered 409 (someone changed the configuration) */
	int get_errors;           /* GETs of the Secret answered 500 */
	bool forbid_list;         /* LISTs of Secrets answered 403 */
	/* what was asked */
	char log[LOG_MAX][96];
	int nlog;
	char secret_selector[128], config_selector[128];
} fake;

static fake F;

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	if (F.nlog == LOG_MAX)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(F.log[F.nlog++], sizeof(F.log[0]), fmt, ap);
	va_end(ap);
}

/* How many requests were noted starting with prefix. */
static int asked(const char *prefix)
{
	pthread_mutex_lock(&F.mu);
	int n = 0;
	for (int i = 0; i < F.nlog; i++)
		n += strncmp(F.log[i], prefix, strlen(prefix)) == 0;
	pthread_mutex_unlock(&F.mu);
	return n;
}

/* How many noted requests start with prefix and contain what. */
static int noted(const char *prefix, const char *what)
{
	pthread_mutex_lock(&F.mu);
	int n = 0;
	for (int i = 0; i < F.nlog; i++)
		n += strncmp(F.log[i], prefix, strlen(prefix)) == 0 && strstr(F.log[i], what);
	pthread_mutex_unlock(&F.mu);
	return n;
}

static long rv_of(const cJSON *obj)
{
	const cJSON *rv = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "resourceVersion");
	return cJSON_IsString(rv) ? strtol(rv->valuestring, NULL, 10) : -1;
}

/* Store obj (taken) as the new version of *slot. */
static void install(cJSON **slot, cJSON *obj)
{
	char rv[32];
	snprintf(rv, sizeof(rv), "%ld", ++F.rv);
	cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	cJSON_DeleteItemFromObjectCaseSensitive(meta, "resourceVersion");
	cJSON_AddStringToObject(meta, "resourceVersion", rv);
	cJSON_Delete(*slot);
	*slot = obj;
}

static const char conflict[] =
	"{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":\"Conflict\",\"code\":409}";
static const char exists[] =
	"{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":\"AlreadyExists\",\"code\":409}";
static const char not_found[] =
	"{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":\"NotFound\",\"code\":404}";

static void respond_obj(kt_conn *conn, int status, const cJSON *obj)
{
	char *s = cJSON_PrintUnformatted(obj);
	kt_respond(conn, s ? status : 500, NULL, s ? s : "{}");
	cJSON_free(s);
}

/* A watch: every change of *slot after the listed version, until the client goes. */
static void serve_watch(const kt_request *req, kt_conn *conn, cJSON **slot)
{
	char from[32] = "0";
	kt_query_param(req, "resourceVersion", from, sizeof(from));
	long last = strtol(from, NULL, 10);
	kt_stream_begin(conn, 200, NULL);
	while (!kt_conn_stopping(conn)) {
		pthread_mutex_lock(&F.mu);
		char *ev = NULL;
		if (*slot && rv_of(*slot) > last) {
			last = rv_of(*slot);
			cJSON *e = cJSON_CreateObject();
			cJSON_AddStringToObject(e, "type", "MODIFIED");
			cJSON_AddItemToObject(e, "object", cJSON_Duplicate(*slot, true));
			ev = cJSON_PrintUnformatted(e);
			cJSON_Delete(e);
		}
		pthread_mutex_unlock(&F.mu);
		if (ev) {
			int rc = kt_stream_writes(conn, ev);
			kt_stream_writes(conn, "\n");
			cJSON_free(ev);
			if (rc < 0)
				return;
		}
		if (!kt_conn_sleep_ms(conn, 10))
			return;
	}
}

static void serve_list(const kt_request *req, kt_conn *conn, cJSON *obj, char *selector,
                       size_t cap)
{
	kt_query_param(req, "fieldSelector", selector, cap);
	cJSON *list = cJSON_CreateObject();
	cJSON *meta = cJSON_AddObjectToObject(list, "metadata");
	char rv[32];
	snprintf(rv, sizeof(rv), "%ld", F.rv);
	cJSON_AddStringToObject(meta, "resourceVersion", rv);
	cJSON *items = cJSON_AddArrayToObject(list, "items");
	if (obj)
		cJSON_AddItemToArray(items, cJSON_Duplicate(obj, true));
	respond_obj(conn, 200, list);
	cJSON_Delete(list);
}

/* The strategic merge patch of webhooks by name, caBundle only. 0 or an HTTP status. */
static int apply_bundle_patch(const cJSON *patch)
{
	const cJSON *p;
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(patch, "webhooks")) {
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(p, "name");
		const cJSON *b = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(p, "clientConfig"), "caBundle");
		cJSON *hook, *found = NULL;
		cJSON_ArrayForEach(hook, cJSON_GetObjectItemCaseSensitive(F.config, "webhooks")) {
			const cJSON *n = cJSON_GetObjectItemCaseSensitive(hook, "name");
			if (cJSON_IsString(name) && cJSON_IsString(n) && !strcmp(n->valuestring, name->valuestring))
				found = hook;
		}
		if (!found || !cJSON_IsString(b))
			return 422;
		cJSON *cc = cJSON_GetObjectItemCaseSensitive(found, "clientConfig");
		cJSON_DeleteItemFromObjectCaseSensitive(cc, "caBundle");
		cJSON_AddStringToObject(cc, "caBundle", b->valuestring);
	}
	return 0;
}

static void handler(void *ud, const kt_request *req, kt_conn *conn)
{
	char w[8], ct[96] = "";
	bool watch = kt_query_param(req, "watch", w, sizeof(w)) != NULL;
	bool get = !strcmp(req->method, "GET");
	kt_header(req, "Content-Type", ct, sizeof(ct));
	if (get && watch && !strcmp(req->path, SECRETS)) {
		pthread_mutex_lock(&F.mu);
		note("WATCH secrets");
		pthread_mutex_unlock(&F.mu);
		serve_watch(req, conn, &F.secret);
		return;
	}
	if (get && watch && !strcmp(req->path, CONFIGS)) {
		pthread_mutex_lock(&F.mu);
		note("WATCH configs");
		pthread_mutex_unlock(&F.mu);
		serve_watch(req, conn, &F.config);
		return;
	}
	pthread_mutex_lock(&F.mu);
	cJSON *body = req->body_len ? cJSON_Parse(req->body) : NULL;
	if (get && !strcmp(req->path, SECRETS) && F.forbid_list) {
		note("LIST secrets -> 403");
		kt_respond(conn, 403, NULL, "{\"kind\":\"Status\",\"status\":\"Failure\","
		           "\"reason\":\"Forbidden\",\"message\":\"secrets is forbidden\",\"code\":403}");
	} else if (get && !strcmp(req->path, SECRETS)) {
		note("LIST secrets");
		serve_list(req, conn, F.secret, F.secret_selector, sizeof(F.secret_selector));
	} else if (get && !strcmp(req->path, CONFIGS)) {
		note("LIST configs");
		serve_list(req, conn, F.config, F.config_selector, sizeof(F.config_selector));
	} else if (get && !strcmp(req->path, SECRETS "/" SECRET)) {
		note("GET secret");
		if (F.get_errors > 0) {
			F.get_errors--;
			kt_respond(conn, 500, NULL, "{\"kind\":\"Status\",\"code\":500}");
		} else if (F.secret) {
			respond_obj(conn, 200, F.secret);
		} else {
			kt_respond(conn, 404, NULL, not_found);
		}
	} else if (get && !strcmp(req->path, CONFIGS "/" CONFIG)) {
		note("GET config");
		if (F.config)
			respond_obj(conn, 200, F.config);
		else
			kt_respond(conn, 404, NULL, not_found);
	} else if (!strcmp(req->method, "POST") && !strcmp(req->path, SECRETS) && body) {
		if (F.winner) {
			note("POST secret -> 409 (another replica won)");
			install(&F.secret, F.winner);
			F.winner = NULL;
			kt_respond(conn, 409, NULL, exists);
		} else if (F.secret) {
			note("POST secret -> 409");
			kt_respond(conn, 409, NULL, exists);
		} else {
			note("POST secret");
			install(&F.secret, body);
			respond_obj(conn, 201, F.secret);
			body = NULL;
		}
	} else if (!strcmp(req->method, "PUT") && !strcmp(req->path, SECRETS "/" SECRET) && body) {
		long pre = rv_of(body);
		if (F.racer) {
			note("PUT secret rv=%ld -> 409 (raced)", pre);
			install(&F.secret, F.racer);
			F.racer = NULL;
			kt_respond(conn, 409, NULL, conflict);
		} else if (!F.secret || pre != rv_of(F.secret)) {
			note("PUT secret rv=%ld -> 409", pre);
			kt_respond(conn, 409, NULL, conflict);
		} else {
			note("PUT secret rv=%ld", pre);
			install(&F.secret, body);
			respond_obj(conn, 200, F.secret);
			body = NULL;
		}
	} else if (!strcmp(req->method, "PATCH") && !strcmp(req->path, CONFIGS "/" CONFIG) && body &&
	           !strcmp(ct, "application/strategic-merge-patch+json")) {
		long pre = rv_of(body);
		if (F.patch_conflicts > 0) {
			F.patch_conflicts--;
			note("PATCH config rv=%ld -> 409 (raced)", pre);
			install(&F.config, cJSON_Duplicate(F.config, true));
			kt_respond(conn, 409, NULL, conflict);
		} else if (!F.config || pre != rv_of(F.config)) {
			note("PATCH config rv=%ld -> 409", pre);
			kt_respond(conn, 409, NULL, conflict);
		} else {
			cJSON *next = cJSON_Duplicate(F.config, true);
			cJSON *was = F.config;
			F.config = next;
			int st = apply_bundle_patch(body);
			if (st) {
				F.config = was;
				cJSON_Delete(next);
				note("PATCH config -> %d", st);
				kt_respond(conn, st, NULL, "{\"kind\":\"Status\",\"code\":422}");
			} else {
				F.config = was;
				install(&F.config, next);
				note("PATCH config rv=%ld", pre);
				respond_obj(conn, 200, F.config);
			}
		}
	} else {
		note("%s %s (unexpected)", req->method, req->path);
		kt_respond(conn, 404, NULL, not_found);
	}
	cJSON_Delete(body);
	pthread_mutex_unlock(&F.mu);
}

/* ---- objects ----------------------------------------------------------------------- */

static cJSON *config_with(int entries)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *meta = cJSON_AddObjectToObject(o, "metadata");
	cJSON_AddStringToObject(meta, "name", CONFIG);
	cJSON *hooks = cJSON_AddArrayToObject(o, "webhooks");
	for (int i = 0; i < entries; i++) {
		cJSON *h = cJSON_CreateObject();
		char name[64];
		snprintf(name, sizeof(name), "%c.firebreak.dev", 'a' + i);
		cJSON_AddStringToObject(h, "name", name);
		cJSON *cc = cJSON_AddObjectToObject(h, "clientConfig");
		cJSON *svc = cJSON_AddObjectToObject(cc, "service");
		cJSON_AddStringToObject(svc, "name", SERVICE);
		cJSON_AddStringToObject(svc, "namespace", NS);
		cJSON_AddItemToArray(hooks, h);
	}
	return o;
}

static void add_b64(cJSON *data, const char *key, const char *pem)
{
	kc_buf b;
	kc_buf_init(&b, 1 << 20);
	kc_base64_encode(pem, strlen(pem), &b);
	cJSON_AddStringToObject(data, key, b.data ? b.data : "");
	kc_buf_release(&b);
}

/* A Secret as firebreak or cert-manager would hold it (ca_key NULL: none). */
static cJSON *secret_with(const char *crt, const char *key, const char *ca, const char *ca_key)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *meta = cJSON_AddObjectToObject(o, "metadata");
	cJSON_AddStringToObject(meta, "name", SECRET);
	cJSON_AddStringToObject(meta, "namespace", NS);
	cJSON_AddStringToObject(o, "type", "kubernetes.io/tls");
	cJSON *data = cJSON_AddObjectToObject(o, "data");
	add_b64(data, "tls.crt", crt);
	add_b64(data, "tls.key", key);
	add_b64(data, "ca.crt", ca);
	if (ca_key)
		add_b64(data, "ca.key", ca_key);
	return o;
}

static char *pem_cert(X509 *x)
{
	kc_buf b;
	kc_buf_init(&b, FB_CERT_PEM_MAX);
	fb_cert_pem(x, &b);
	return kc_buf_take(&b);
}

static char *pem_key(EVP_PKEY *k)
{
	kc_buf b;
	kc_buf_init(&b, FB_CERT_PEM_MAX);
	fb_key_pem(k, &b);
	return kc_buf_take(&b);
}

/* A CA and serving certificates from it, as PEM. */
typedef struct material {
	char *ca, *ca_key, *crt, *key;
} material;

/* Material issued at now_ms by the policy (notBefore backdated 1 h). */
static material make_material_at(const char *service, X509 *ca_in, EVP_PKEY *ca_key_in,
                                 int64_t now);

static material make_material(const char *service, X509 *ca_in, EVP_PKEY *ca_key_in)
{
	return make_material_at(service, ca_in, ca_key_in, kc_now_wall_us() / 1000);
}

static material make_material_at(const char *service, X509 *ca_in, EVP_PKEY *ca_key_in,
                                 int64_t now)
{
	fb_cert_policy p;
	fb_cert_policy_defaults(&p);
	fb_sans s;
	char why[200];
	fb_sans_build(&s, service, NS, "127.0.0.1", why, sizeof(why));
	X509 *ca = ca_in, *crt = NULL;
	EVP_PKEY *ca_key = ca_key_in, *key = NULL;
	if (!ca)
		KT_EQ_INT(fb_ca_generate(now, &p, &ca, &ca_key), 0);
	KT_EQ_INT(fb_serving_generate(ca, ca_key, &s, now, &p, &crt, &key), 0);
	material m = { pem_cert(ca), pem_key(ca_key), pem_cert(crt), pem_key(key) };
	if (!ca_in) {
		X509_free(ca);
		EVP_PKEY_free(ca_key);
	}
	X509_free(crt);
	EVP_PKEY_free(key);
	return m;
}

static void material_free(material *m)
{
	kc_free(m->ca);
	kc_free(m->ca_key);
	kc_free(m->crt);
	kc_free(m->key);
}

/* A field of the fake's Secret, decoded (caller frees), under F.mu. */
static char *secret_field(const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(F.secret, "data"), key);
	if (!cJSON_IsString(v))
		return NULL;
	kc_buf b;
	kc_buf_init(&b, 1 << 20);
	kc_base64_decode(v->valuestring, strlen(v->valuestring), &b);
	return kc_buf_take(&b);
}

/* Entry i's caBundle, decoded (caller frees), under F.mu; NULL if none. */
static char *bundle_of(int i)
{
	const cJSON *h = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(F.config, "webhooks"), i);
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(h, "clientConfig"), "caBundle");
	if (!cJSON_IsString(b))
		return NULL;
	kc_buf out;
	kc_buf_init(&out, 1 << 20);
	kc_base64_decode(b->valuestring, strlen(b->valuestring), &out);
	return kc_buf_take(&out);
}

/* ---- the replica's side ------------------------------------------------------------ */

typedef struct sink_log {
	pthread_mutex_t mu;
	int calls;
	char *cert, *key;
} sink_log;

static sink_log S;
static atomic_bool leader;

static void sink(void *ud, const char *cert, size_t cl, const char *key, size_t kl)
{
	pthread_mutex_lock(&S.mu);
	S.calls++;
	kc_free(S.cert);
	kc_free(S.key);
	S.cert = kc_strndup(cert, cl);
	S.key = kc_strndup(key, kl);
	pthread_mutex_unlock(&S.mu);
}

static bool is_leader(void *ud)
{
	return atomic_load(&leader);
}

static int sink_calls(void)
{
	pthread_mutex_lock(&S.mu);
	int n = S.calls;
	pthread_mutex_unlock(&S.mu);
	return n;
}

static bool loaded_is(const char *crt)
{
	pthread_mutex_lock(&S.mu);
	bool same = S.cert && crt && !strcmp(S.cert, crt);
	pthread_mutex_unlock(&S.mu);
	return same;
}

typedef struct env {
	kt_server *srv;
	kc_client *client;
	fb_webhookcerts *wc;
	int log_fd, saved_stderr;
	char log_path[64];
	int failed_before;             /* kt_failed_checks_ at the start */
} env;

static fb_webhookcerts *WC; /* the one under test, for the conditions waited for */

static fb_webhookcerts_stats stats(void)
{
	fb_webhookcerts_stats st;
	fb_webhookcerts_stats_get(WC, &st);
	return st;
}

/* Fresh fake, sink and leadership; logs captured in a file (checked for secrets at the end). */
static void env_start(env *e, fb_certs_mode mode, bool lead)
{
	memset(e, 0, sizeof(*e));
	pthread_mutex_lock(&F.mu);
	F.nlog = 0;
	F.secret_selector[0] = F.config_selector[0] = '\0';
	pthread_mutex_unlock(&F.mu);
	pthread_mutex_lock(&S.mu);
	S.calls = 0;
	pthread_mutex_unlock(&S.mu);
	atomic_store(&leader, lead);
	e->failed_before = kt_failed_checks_;
	snprintf(e->log_path, sizeof(e->log_path), "/tmp/fb_test_webhookcerts.%d.log", (int)getpid());
	e->log_fd = open(e->log_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	e->saved_stderr = dup(2);
	dup2(e->log_fd, 2);
	kt_server_opts so = { .handler = handler };
	KT_EQ_INT(kt_server_start(&so, &e->srv), 0);
	kc_config *cfg = kt_server_config(e->srv, NULL);
	kc_client_options co = { .rate_limit_off = true };
	KT_EQ_INT(kc_client_new(cfg, &co, &e->client, NULL), KC_OK);
	kc_config_free(cfg);
	fb_webhookcerts_options o = {
		.namespace = NS, .secret = SECRET, .mode = mode, .sink = sink,
		.webhook_config = CONFIG, .service = SERVICE, .extra_sans = "127.0.0.1",
		.is_leader = is_leader, .resync_ms = 200, .leader_poll_ms = 10,
		.backoff_initial_ms = 20, .backoff_max_ms = 100, .watch_backoff_ms = 10,
	};
	char why[200] = "";
	KT_EQ_INT(fb_webhookcerts_start(e->client, &o, &e->wc, why, sizeof(why)), KC_OK);
	WC = e->wc;
}

/* Stop; return the captured log (caller frees) after checking it holds no key. */
static char *env_stop(env *e)
{
	fb_webhookcerts_free(e->wc);
	kc_client_free(e->client);
	kt_server_stop(e->srv);
	dup2(e->saved_stderr, 2);
	close(e->saved_stderr);
	off_t n = lseek(e->log_fd, 0, SEEK_END);
	char *log = kc_calloc(1, (size_t)n + 1);
	KT_CHECK(pread(e->log_fd, log, (size_t)n, 0) == n);
	close(e->log_fd);
	unlink(e->log_path);
	/* the checks' own lines went to the file */
	if (kt_failed_checks_ != e->failed_before || getenv("FB_TEST_SHOW_LOG"))
		fprintf(stderr, "  captured log:\n%s", log);
	KT_CHECK(strstr(log, "PRIVATE KEY") == NULL && strstr(log, "BEGIN") == NULL);
	pthread_mutex_lock(&S.mu);
	if (S.key) {
		/* nor a piece of the key's base64 */
		char piece[24];
		const char *body = strchr(S.key, '\n');
		snprintf(piece, sizeof(piece), "%.20s", body ? body + 1 : S.key);
		KT_CHECK(strstr(log, piece) == NULL);
	}
	pthread_mutex_unlock(&S.mu);
	pthread_mutex_lock(&F.mu);
	cJSON_Delete(F.secret);
	cJSON_Delete(F.config);
	cJSON_Delete(F.winner);
	cJSON_Delete(F.racer);
	F.secret = F.config = F.winner = F.racer = NULL;
	F.patch_conflicts = F.get_errors = 0;
	F.forbid_list = false;
	pthread_mutex_unlock(&F.mu);
	return log;
}

static bool wait_until(bool (*cond)(void), int ms)
{
	for (int i = 0; i < ms / 5; i++) {
		if (cond())
			return true;
		kc_cancel_sleep(NULL, 5);
	}
	return cond();
}

/* The caBundle of every entry verifies what was loaded, for the Service's name and the IP. */
static bool loaded_verifies_everywhere(void)
{
	bool ok = true;
	pthread_mutex_lock(&S.mu);
	pthread_mutex_lock(&F.mu);
	int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(F.config, "webhooks"));
	fb_cert_list leaf = { .n = 0 };
	char why[200];
	ok = S.cert && fb_cert_list_parse(&leaf, S.cert, strlen(S.cert), why, sizeof(why)) == 0;
	for (int i = 0; i < n && ok; i++) {
		char *b = bundle_of(i);
		fb_cert_list roots = { .n = 0 };
		int64_t now = kc_now_wall_us() / 1000;
		ok = b && fb_cert_list_parse(&roots, b, strlen(b), why, sizeof(why)) == 0 &&
		     fb_cert_verify(leaf.cert[0], &roots, SERVICE "." NS ".svc", now) &&
		     fb_cert_verify(leaf.cert[0], &roots, "127.0.0.1", now);
		fb_cert_list_release(&roots);
		kc_free(b);
	}
	fb_cert_list_release(&leaf);
	pthread_mutex_unlock(&F.mu);
	pthread_mutex_unlock(&S.mu);
	return ok;
}

/* ---- tests ------------------------------------------------------------------------- */

/* Created, patched and loaded (the stats follow the requests the fake has seen). */
static bool set_up(void)
{
	fb_webhookcerts_stats st = stats();
	return st.loads == 1 && st.secret_creates == 1 && st.bundle_patches >= 1 &&
	       loaded_verifies_everywhere();
}

KT_TEST(self_mode_creates_the_secret_and_patches_every_entry)
{
	pthread_mutex_lock(&F.mu);
	install(&F.config, config_with(2));
	F.get_errors = 1; /* the first read fails: retried after a backoff */
	pthread_mutex_unlock(&F.mu);
	env e;
	env_start(&e, FB_CERTS_SELF, true);
	KT_CHECK(wait_until(set_up, 5000));
	fb_webhookcerts_stats st = stats();
	KT_EQ_INT(st.secret_creates, 1);
	KT_EQ_INT(st.secret_updates, 0);
	KT_CHECK(st.bundle_patches >= 1);
	KT_CHECK(st.failures >= 1);
	KT_EQ_INT(st.loads, 1);
	KT_EQ_INT(asked("POST secret"), 1);
	KT_EQ_INT(asked("PUT"), 0);
	pthread_mutex_lock(&F.mu);
	KT_EQ_STR(F.secret_selector, "metadata.name=" SECRET);
	KT_EQ_STR(F.config_selector, "metadata.name=" CONFIG);
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(F.secret, "type");
	KT_CHECK(cJSON_IsString(type) && !strcmp(type->valuestring, "kubernetes.io/tls"));
	char *ca = secret_field("ca.crt"), *ca_key = secret_field("ca.key");
	char *b0 = bundle_of(0), *b1 = bundle_of(1);
	KT_CHECK(ca && ca_key && b0 && b1 && !strcmp(ca, b0) && !strcmp(ca, b1));
	kc_free(ca);
	kc_free(ca_key);
	kc_free(b0);
	kc_free(b1);
	pthread_mutex_unlock(&F.mu);
	/* settled: nothing more is written over a few resyncs */
	int writes = asked("POST") + asked("PUT") + asked("PATCH");
	kc_cancel_sleep(NULL, 500);
	KT_EQ_INT(asked("POST") + asked("PUT") + asked("PATCH"), writes);
	char *log = env_stop(&e);
	KT_CHECK(strstr(log, "webhook certificates written") && strstr(log, "step=create"));
	KT_CHECK(strstr(log, "caBundle patched"));
	kc_free(log);
}

static material winner_m;

static bool adopted_winner(void)
{
	return loaded_is(winner_m.crt) && stats().loads == 1 && loaded_verifies_everywhere();
}

KT_TEST(another_replica_creating_first_wins_and_is_adopted)
{
	winner_m = make_material(SERVICE, NULL, NULL);
	pthread_mutex_lock(&F.mu);
	install(&F.config, config_with(1));
	F.winner = secret_with(winner_m.crt, winner_m.key, winner_m.ca, winner_m.ca_key);
	pthread_mutex_unlock(&F.mu);
	env e;
	env_start(&e, FB_CERTS_SELF, true);
	KT_CHECK(wait_until(adopted_winner, 5000));
	kc_cancel_sleep(NULL, 300);
	KT_EQ_INT(asked("POST secret -> 409 (another replica won)"), 1);
	KT_EQ_INT(asked("POST"), 1);
	KT_EQ_INT(asked("PUT"), 0); /* the winner's Secret is never overwritten */
	pthread_mutex_lock(&F.mu);
	char *crt = secret_field("tls.crt");
	KT_CHECK(crt && !strcmp(crt, winner_m.crt));
	kc_free(crt);
	pthread_mutex_unlock(&F.mu);
	kc_free(env_stop(&e));
	material_free(&winner_m);
}

static material racer_m;

static bool loaded_racer(void)
{
	return loaded_is(racer_m.crt) && asked("GET secret") >= 2;
}

KT_TEST(a_conflicting_update_is_read_again_never_overwritten)
{
	/* the Secret holds a certificate for another Service: a new one is due; while it is
	 * written, another replica writes its own (from the same CA) first */
	fb_cert_policy p;
	fb_cert_policy_defaults(&p);
	X509 *ca = NULL;
	EVP_PKEY *ca_key = NULL;
	KT_EQ_INT(fb_ca_generate(kc_now_wall_us() / 1000, &p, &ca, &ca_key), 0);
	material old = make_material("old-service", ca, ca_key);
	racer_m = make_material(SERVICE, ca, ca_key);
	pthread_mutex_lock(&F.mu);
	install(&F.config, config_with(1));
	cJSON *cc = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(F.config, "webhooks"), 0),
		"clientConfig");
	add_b64(cc, "caBundle", old.ca);
	install(&F.secret, secret_with(old.crt, old.key, old.ca, old.ca_key));
	long before = rv_of(F.secret);
	F.racer = secret_with(racer_m.crt, racer_m.key, racer_m.ca, racer_m.ca_key);
	pthread_mutex_unlock(&F.mu);
	env e;
	env_start(&e, FB_CERTS_SELF, true);
	KT_CHECK(wait_until(loaded_racer, 5000));
	kc_cancel_sleep(NULL, 300);
	char expect[64];
	snprintf(expect, sizeof(expect), "PUT secret rv=%ld -> 409 (raced)", before);
	KT_EQ_INT(asked(expect), 1);
	KT_EQ_INT(asked("PUT"), 1);   /* read again: the racer's certificate is good, kept */
	KT_EQ_INT(asked("PATCH"), 0); /* same CA: the caBundle was right all along */
	fb_webhookcerts_stats st;
	fb_webhookcerts_stats_get(e.wc, &st);
	KT_EQ_INT(st.conflicts, 1);
	KT_EQ_INT(st.secret_updates, 0);
	pthread_mutex_lock(&F.mu);
	char *crt = secret_field("tls.crt");
	KT_CHECK(crt && !strcmp(crt, racer_m.crt));
	kc_free(crt);
	pthread_mutex_unlock(&F.mu);
	KT_CHECK(loaded_verifies_everywhere());
	kc_free(env_stop(&e));
	material_free(&old);
	material_free(&racer_m);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
}

static bool two_patches(void)
{
	return asked("PATCH config rv=") >= 2 && stats().bundle_patches == 1 &&
	       loaded_verifies_everywhere();
}

KT_TEST(a_conflicting_patch_is_read_again)
{
	material m = make_material(SERVICE, NULL, NULL);
	pthread_mutex_lock(&F.mu);
	install(&F.config, config_with(2)); /* no caBundle yet */
	install(&F.secret, secret_with(m.crt, m.key, m.ca, m.ca_key));
	F.patch_conflicts = 1;
	pthread_mutex_unlock(&F.mu);
	env e;
	env_start(&e, FB_CERTS_SELF, true);
	KT_CHECK(wait_until(two_patches, 5000));
	KT_EQ_INT(asked("PATCH config rv="), 2);
	KT_EQ_INT(noted("PATCH config", "-> 409 (raced)"), 1); /* then one that went through */
	fb_webhookcerts_stats st;
	fb_webhookcerts_stats_get(e.wc, &st);
	KT_EQ_INT(st.conflicts, 1);
	KT_EQ_INT(st.bundle_patches, 1);
	KT_EQ_INT(asked("PUT") + asked("POST"), 0);
	kc_free(env_stop(&e));
	material_free(&m);
}

static bool created(void)
{
	return asked("POST secret") == 1 && stats().bundle_patches == 1 &&
	       loaded_verifies_everywhere();
}

KT_TEST(a_follower_never_writes_until_it_leads)
{
	pthread_mutex_lock(&F.mu);
	install(&F.config, config_with(1));
	pthread_mutex_unlock(&F.mu);
	env e;
	env_start(&e, FB_CERTS_SELF, false);
	kc_cancel_sleep(NULL, 400);
	KT_EQ_INT(asked("POST") + asked("PUT") + asked("PATCH") + asked("GET"), 0);
	KT_CHECK(asked("WATCH secrets") >= 1 && asked("WATCH configs") >= 1);
	atomic_store(&leader, true);
	KT_CHECK(wait_until(created, 5000));
	kc_free(env_stop(&e));
}

static material ext_a, ext_b;

static bool loaded_a(void)
{
	return loaded_is(ext_a.crt);
}

static bool loaded_b(void)
{
	return loaded_is(ext_b.crt) && stats().loads == 2;
}

static bool refused_once(void)
{
	return stats().unusable == 1;
}

KT_TEST(external_mode_only_loads_and_reloads_without_a_restart)
{
	ext_a = make_material(SERVICE, NULL, NULL);
	ext_b = make_material(SERVICE, NULL, NULL);
	pthread_mutex_lock(&F.mu);
	install(&F.secret, secret_with(ext_a.crt, ext_a.key, ext_a.ca, NULL));
	pthread_mutex_unlock(&F.mu);
	env e;
	env_start(&e, FB_CERTS_EXTERNAL, true);
	KT_CHECK(wait_until(loaded_a, 5000));
	pthread_mutex_lock(&S.mu);
	KT_CHECK(S.key && !strcmp(S.key, ext_a.key));
	pthread_mutex_unlock(&S.mu);
	/* half-written by someone: not loaded, one log line; the old pair stays */
	char *half = kc_strndup(ext_b.crt, strlen(ext_b.crt) / 2);
	pthread_mutex_lock(&F.mu);
	install(&F.secret, secret_with(half, ext_b.key, ext_b.ca, NULL));
	pthread_mutex_unlock(&F.mu);
	KT_CHECK(wait_until(refused_once, 5000));
	/* the right certificate with the wrong key: not loaded either */
	pthread_mutex_lock(&F.mu);
	install(&F.secret, secret_with(ext_b.crt, ext_a.key, ext_b.ca, NULL));
	pthread_mutex_unlock(&F.mu);
	kc_cancel_sleep(NULL, 200);
	KT_EQ_INT(sink_calls(), 1);
	KT_CHECK(loaded_a());
	/* renewed: loaded at once */
	pthread_mutex_lock(&F.mu);
	install(&F.secret, secret_with(ext_b.crt, ext_b.key, ext_b.ca, NULL));
	pthread_mutex_unlock(&F.mu);
	KT_CHECK(wait_until(loaded_b, 5000));
	KT_EQ_INT(sink_calls(), 2);
	fb_webhookcerts_stats st;
	fb_webhookcerts_stats_get(e.wc, &st);
	KT_EQ_INT(st.unusable, 2);
	KT_EQ_INT(st.loads, 2);
	/* no write, no read of the webhook configuration: cert-manager's business */
	KT_EQ_INT(asked("POST") + asked("PUT") + asked("PATCH") + asked("GET"), 0);
	KT_EQ_INT(asked("LIST configs") + asked("WATCH configs"), 0);
	char *log = env_stop(&e);
	KT_CHECK(strstr(log, "cannot be served") && strstr(log, "not the key of tls.crt"));
	kc_free(log);
	kc_free(half);
	material_free(&ext_a);
	material_free(&ext_b);
}

static material ext_later;

static bool loaded_later(void)
{
	return loaded_is(ext_later.crt);
}

static bool refused_yet(void)
{
	return stats().unusable == 1;
}

KT_TEST(a_certificate_not_valid_yet_is_said_and_loaded_once_it_is)
{
	/* issued by a clock 2 s ahead of this one: not valid for 2 s more */
	int64_t ahead = kc_now_wall_us() / 1000 + 3600 * 1000 + 2000;
	ext_later = make_material_at(SERVICE, NULL, NULL, ahead);
	pthread_mutex_lock(&F.mu);
	install(&F.secret, secret_with(ext_later.crt, ext_later.key, ext_later.ca, NULL));
	pthread_mutex_unlock(&F.mu);
	env e;
	env_start(&e, FB_CERTS_EXTERNAL, true);
	KT_CHECK(wait_until(refused_yet, 5000));
	fb_webhookcerts_stats st = stats();
	if (!loaded_later()) { /* (a slow machine may have passed the 2 s already) */
		KT_EQ_INT(sink_calls(), 0);
		KT_CHECK(strstr(st.unusable_why, "not valid yet") != NULL);
	}
	/* the same Secret, unchanged: loaded by the worker when it becomes valid */
	KT_CHECK(wait_until(loaded_later, 6000));
	st = stats();
	KT_EQ_INT(st.loads, 1);
	KT_EQ_STR(st.unusable_why, "");
	char *log = env_stop(&e);
	KT_CHECK(strstr(log, "not valid yet; loading it when it is") != NULL);
	kc_free(log);
	material_free(&ext_later);
}

static bool listed_twice(void)
{
	return asked("LIST secrets") >= 2;
}

KT_TEST(a_missing_secret_and_a_failing_watch_are_said)
{
	env e;
	env_start(&e, FB_CERTS_EXTERNAL, false);
	KT_CHECK(wait_until(listed_twice, 5000) || asked("LIST secrets") >= 1);
	kc_cancel_sleep(NULL, 1200); /* a worker turn after the sync */
	char *log = env_stop(&e);
	KT_CHECK(strstr(log, "no webhook certificate Secret yet") != NULL);
	KT_EQ_INT(sink_calls(), 0);
	kc_free(log);

	pthread_mutex_lock(&F.mu);
	F.forbid_list = true;
	pthread_mutex_unlock(&F.mu);
	env_start(&e, FB_CERTS_EXTERNAL, false);
	kc_cancel_sleep(NULL, 1200);
	log = env_stop(&e);
	KT_CHECK(strstr(log, "cannot watch an object of the webhook's certificates") &&
	         strstr(log, "err=forbidden") && strstr(log, "secret=" NS "/" SECRET));
	kc_free(log);
}

KT_TEST(options_are_checked)
{
	fb_webhookcerts_options o = { .namespace = NS, .secret = SECRET, .sink = sink,
		                      .mode = FB_CERTS_SELF, .webhook_config = CONFIG,
		                      .service = SERVICE, .is_leader = is_leader };
	fb_webhookcerts *wc = (fb_webhookcerts *)&o; /* must stay untouched */
	char why[200] = "";
	o.is_leader = NULL;
	KT_EQ_INT(fb_webhookcerts_start(NULL, &o, &wc, why, sizeof(why)), KC_ERR_INVALID);
	KT_CHECK(strstr(why, "leadership") != NULL);
	o.is_leader = is_leader;
	o.extra_sans = "not a name";
	KT_EQ_INT(fb_webhookcerts_start(NULL, &o, &wc, why, sizeof(why)), KC_ERR_INVALID);
	KT_CHECK(strstr(why, "not a name") != NULL);
	o.secret = "";
	KT_EQ_INT(fb_webhookcerts_start(NULL, &o, &wc, why, sizeof(why)), KC_ERR_INVALID);
	KT_CHECK(strstr(why, "Secret") != NULL);
	KT_CHECK(wc == (fb_webhookcerts *)&o);
	fb_certs_mode m;
	KT_CHECK(fb_certs_mode_parse("external", &m) && m == FB_CERTS_EXTERNAL);
	KT_CHECK(fb_certs_mode_parse("self", &m) && m == FB_CERTS_SELF);
	KT_CHECK(!fb_certs_mode_parse("Self", &m) && !fb_certs_mode_parse("", &m));
	fb_webhookcerts_free(NULL);
}

int main(void)
{
	kc_global_init();
	pthread_mutex_init(&F.mu, NULL);
	pthread_mutex_init(&S.mu, NULL);
	KT_RUN(self_mode_creates_the_secret_and_patches_every_entry);
	KT_RUN(another_replica_creating_first_wins_and_is_adopted);
	KT_RUN(a_conflicting_update_is_read_again_never_overwritten);
	KT_RUN(a_conflicting_patch_is_read_again);
	KT_RUN(a_follower_never_writes_until_it_leads);
	KT_RUN(external_mode_only_loads_and_reloads_without_a_restart);
	KT_RUN(a_certificate_not_valid_yet_is_said_and_loaded_once_it_is);
	KT_RUN(a_missing_secret_and_a_failing_watch_are_said);
	KT_RUN(options_are_checked);
	kc_free(S.cert);
	kc_free(S.key);
	kc_global_cleanup();
	return KT_DONE();
}
