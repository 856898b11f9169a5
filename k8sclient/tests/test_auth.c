/*
 * kc_auth: static credentials, token-file rotation (client-go's
 * cachingTokenSource), and exec credential plugins run without a shell,
 * cached until their expiry and re-run after a 401. The plugins are small
 * /bin/sh scripts written into a temp dir at test time.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "config_internal.h"
#include "kc/alloc.h"
#include "kc/config.h"
#include "kc/time.h"
#include "kctest.h"

#define API_V1 "client.authentication.k8s.io/v1"

static char *tmpdir;

static void path_in(char *buf, size_t cap, const char *name)
{
	snprintf(buf, cap, "%s/%s", tmpdir, name);
}

static void write_file(const char *name, const char *content, mode_t mode)
{
	char path[1024], tmp[1100];
	path_in(path, sizeof(path), name);
	/* write then rename, as kubelet's atomic writer does for projected tokens */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f) {
		fprintf(stderr, "cannot write %s: %s\n", tmp, strerror(errno));
		return;
	}
	fputs(content, f);
	fclose(f);
	chmod(tmp, mode);
	rename(tmp, path);
}

static char *read_file(const char *name)
{
	char path[1024];
	path_in(path, sizeof(path), name);
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	static char buf[16384];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static int run_count(void)
{
	const char *s = read_file("count");
	return s ? (int)strtol(s, NULL, 10) : 0;
}

static void reset_count(void)
{
	char path[1024];
	path_in(path, sizeof(path), "count");
	unlink(path);
}

/* A plugin script: counts its runs, then runs body. Returns its path. */
static const char *plugin(const char *name, const char *body)
{
	static char path[1024];
	char script[20000];
	snprintf(script, sizeof(script),
	         "#!/bin/sh\n"
	         "n=$(cat '%s/count' 2>/dev/null || echo 0)\n"
	         "echo $((n + 1)) > '%s/count'\n"
	         "%s\n",
	         tmpdir, tmpdir, body);
	write_file(name, script, 0755);
	path_in(path, sizeof(path), name);
	return path;
}

/* Body printing an ExecCredential with the given status JSON. */
static const char *cred_body(const char *api, const char *status)
{
	static char body[4096];
	snprintf(body, sizeof(body),
	         "cat <<'EOF'\n{\"apiVersion\":\"%s\",\"kind\":\"ExecCredential\",\"status\":%s}\nEOF",
	         api, status);
	return body;
}

/* A config with just an exec plugin. */
static kc_config *exec_config(const char *command)
{
	kc_config *c = calloc(1, sizeof(*c));
	kc_exec_config *e = calloc(1, sizeof(*e));
	c->server = kc_strdup("https://cluster.example:6443");
	e->command = kc_strdup(command);
	e->api_version = kc_strdup(API_V1);
	e->interactive_mode = kc_strdup("Never");
	c->exec = e;
	return c;
}

/* kc_config_free uses kc_free: the calloc'd structs above are compatible (free). */

static kc_auth *new_auth(const kc_config *c)
{
	kc_auth *a = NULL;
	kc_error_detail d;
	KT_EQ_INT(kc_auth_new(c, &a, &d), KC_OK);
	return a;
}

KT_TEST(static_credentials)
{
	kc_config c = { 0 };
	c.token = "static-token";
	c.client_cert = (kc_blob){ (unsigned char *)"CERT", 4 };
	c.client_key = (kc_blob){ (unsigned char *)"KEY", 3 };
	c.username = "bob";
	c.password = "pw";
	kc_auth *a = new_auth(&c);
	if (!a)
		return;
	kc_credentials cr;
	kc_error_detail d;
	KT_EQ_INT(kc_auth_get(a, 0, &cr, &d), KC_OK);
	KT_EQ_STR(cr.token, "static-token");
	KT_CHECK(cr.client_cert.len == 4 && memcmp(cr.client_cert.data, "CERT", 4) == 0);
	KT_CHECK(cr.client_key.len == 3 && memcmp(cr.client_key.data, "KEY", 3) == 0);
	KT_EQ_STR(cr.username, "bob");
	KT_EQ_STR(cr.password, "pw");
	kc_credentials_release(&cr);
	KT_CHECK(cr.token == NULL && cr.client_cert.data == NULL);
	kc_auth_invalidate(a);
	KT_EQ_INT(kc_auth_get(a, 1, &cr, &d), KC_OK);
	KT_EQ_STR(cr.token, "static-token");
	kc_credentials_release(&cr);
	kc_auth_free(a);
	kc_auth_free(NULL);
	kc_credentials_release(NULL);
}

KT_TEST(token_file_rotates_and_survives_a_failed_read)
{
	char path[1024];
	path_in(path, sizeof(path), "token");
	write_file("token", "  tok-1\n", 0600);
	kc_config c = { 0 };
	c.token_file = path;
	c.token = "static-is-overridden";
	kc_auth *a = new_auth(&c);
	if (!a)
		return;
	kc_credentials cr;
	kc_error_detail d;
	int64_t t0 = 1000000;
	KT_EQ_INT(kc_auth_get(a, t0, &cr, &d), KC_OK);
	KT_EQ_STR(cr.token, "tok-1"); /* trimmed */
	kc_credentials_release(&cr);

	write_file("token", "tok-2\n", 0600);
	KT_EQ_INT(kc_auth_get(a, t0 + 1000, &cr, &d), KC_OK);
	KT_EQ_STR(cr.token, "tok-1"); /* still cached */
	kc_credentials_release(&cr);
	KT_EQ_INT(kc_auth_get(a, t0 + KC_TOKEN_REREAD_MS + 1, &cr, &d), KC_OK);
	KT_EQ_STR(cr.token, "tok-2"); /* re-read after a minute */
	kc_credentials_release(&cr);

	/* the file disappears: the last good token is kept */
	unlink(path);
	KT_EQ_INT(kc_auth_get(a, t0 + 3 * KC_TOKEN_REREAD_MS, &cr, &d), KC_OK);
	KT_EQ_STR(cr.token, "tok-2");
	kc_credentials_release(&cr);
	/* an empty file is a failed read too */
	write_file("token", "\n", 0600);
	KT_EQ_INT(kc_auth_get(a, t0 + 4 * KC_TOKEN_REREAD_MS, &cr, &d), KC_OK);
	KT_EQ_STR(cr.token, "tok-2");
	kc_credentials_release(&cr);

	/* the file is back: a cache past due retries on every get, as client-go */
	write_file("token", "tok-3", 0600);
	int64_t t1 = t0 + 4 * KC_TOKEN_REREAD_MS + 10;
	KT_EQ_INT(kc_auth_get(a, t1, &cr, &d), KC_OK);
	KT_EQ_STR(cr.token, "tok-3");
	kc_credentials_release(&cr);

	/* after a 401, the next get re-reads at once */
	write_file("token", "tok-4", 0600);
	KT_EQ_INT(kc_auth_get(a, t1 + 10, &cr, &d), KC_OK);
	KT_EQ_STR(cr.token, "tok-3");
	kc_credentials_release(&cr);
	kc_auth_invalidate(a);
	KT_EQ_INT(kc_auth_get(a, t1 + 11, &cr, &d), KC_OK);
	KT_EQ_STR(cr.token, "tok-4");
	kc_credentials_release(&cr);
	KT_EQ_INT(kc_auth_get(a, t1 + 12, &cr, &d), KC_OK);
	KT_EQ_STR(cr.token, "tok-4");
	kc_credentials_release(&cr);
	kc_auth_free(a);

	/* no token ever read: the error names the file and the field */
	unlink(path);
	a = new_auth(&c);
	if (!a)
		return;
	KT_EQ_INT(kc_auth_get(a, 0, &cr, &d), KC_ERR_IO);
	KT_CHECK(cr.token == NULL);
	KT_CHECK(strstr(d.message, path) != NULL && strstr(d.message, "tokenFile") != NULL);
	write_file("token", " \n", 0600);
	KT_EQ_INT(kc_auth_get(a, 0, &cr, &d), KC_ERR_CONFIG);
	KT_CHECK(strstr(d.message, "empty") != NULL);
	kc_auth_free(a);
}

KT_TEST(exec_token_cached_until_expiry)
{
	reset_count();
	char status[512], exp[KC_TIME_STR_MAX];
	/* expires in one hour: cached, judged on the monotonic clock we pass */
	kc_time_format(kc_now_wall_us() + 3600LL * 1000000, exp);
	snprintf(status, sizeof(status), "{\"token\":\"exec-tok\",\"expirationTimestamp\":\"%s\"}",
	         exp);
	kc_config *c = exec_config(plugin("p-expiry", cred_body(API_V1, status)));
	kc_auth *a = new_auth(c);
	kc_config_free(c);
	if (!a)
		return;
	kc_credentials cr;
	kc_error_detail d;
	int64_t t0 = 5000000;
	KT_EQ_INT(kc_auth_get(a, t0, &cr, &d), KC_OK);
	KT_EQ_STR(cr.token, "exec-tok");
	kc_credentials_release(&cr);
	KT_EQ_INT(run_count(), 1);
	KT_EQ_INT(kc_auth_get(a, t0 + 30 * 60 * 1000, &cr, &d), KC_OK);
	kc_credentials_release(&cr);
	KT_EQ_INT(run_count(), 1); /* cached */
	KT_EQ_INT(kc_auth_get(a, t0 + 61 * 60 * 1000, &cr, &d), KC_OK);
	kc_credentials_release(&cr);
	KT_EQ_INT(run_count(), 2); /* expired: re-run */
	kc_auth_invalidate(a);    /* a 401 */
	KT_EQ_INT(kc_auth_get(a, t0 + 62 * 60 * 1000, &cr, &d), KC_OK);
	KT_EQ_STR(cr.token, "exec-tok");
	kc_credentials_release(&cr);
	KT_EQ_INT(run_count(), 3);
	kc_auth_free(a);

	/* no expirationTimestamp: cached until invalidated */
	reset_count();
	c = exec_config(plugin("p-noexp", cred_body(API_V1, "{\"token\":\"forever\"}")));
	a = new_auth(c);
	kc_config_free(c);
	if (!a)
		return;
	for (int i = 0; i < 5; i++) {
		KT_EQ_INT(kc_auth_get(a, (int64_t)i * 24 * 3600 * 1000, &cr, &d), KC_OK);
		KT_EQ_STR(cr.token, "forever");
		kc_credentials_release(&cr);
	}
	KT_EQ_INT(run_count(), 1);
	kc_auth_invalidate(a);
	KT_EQ_INT(kc_auth_get(a, 0, &cr, &d), KC_OK);
	kc_credentials_release(&cr);
	KT_EQ_INT(run_count(), 2);
	kc_auth_free(a);

	/* already expired: every get runs it again */
	reset_count();
	kc_time_format(kc_now_wall_us() - 10LL * 1000000, exp);
	snprintf(status, sizeof(status), "{\"token\":\"stale\",\"expirationTimestamp\":\"%s\"}", exp);
	c = exec_config(plugin("p-expired", cred_body(API_V1, status)));
	a = new_auth(c);
	kc_config_free(c);
	if (!a)
		return;
	KT_EQ_INT(kc_auth_get(a, 100, &cr, &d), KC_OK);
	kc_credentials_release(&cr);
	KT_EQ_INT(kc_auth_get(a, 100, &cr, &d), KC_OK);
	kc_credentials_release(&cr);
	KT_EQ_INT(run_count(), 2);
	kc_auth_free(a);
}

KT_TEST(exec_sees_env_args_and_exec_info)
{
	reset_count();
	char body[16384];
	snprintf(body, sizeof(body),
	         "printf '%%s' \"$KUBERNETES_EXEC_INFO\" > '%s/info'\n"
	         "printf '%%s|%%s|%%s' \"$FOO\" \"$KC_TEST_PARENT_VAR\" \"$OVERRIDDEN\" > '%s/env'\n"
	         "printf '%%s\\n' \"$#\" \"$@\" > '%s/args'\n"
	         "%s",
	         tmpdir, tmpdir, tmpdir,
	         cred_body(API_V1, "{\"clientCertificateData\":\"-----CERT-----\","
	                           "\"clientKeyData\":\"-----KEY-----\"}"));
	kc_config *c = exec_config(plugin("p-env", body));
	static char *args[] = { "hello world", "it's \"quoted\" $HOME", "", "--flag=a b" };
	c->exec->args = args;
	c->exec->argc = 4;
	static kc_exec_env env[] = { { "FOO", "bar baz" }, { "OVERRIDDEN", "from-config" } };
	c->exec->env = env;
	c->exec->envc = 2;
	c->exec->provide_cluster_info = true;
	c->tls_server_name = kc_strdup("api.internal");
	c->ca.data = (unsigned char *)kc_strdup("abc");
	c->ca.len = 3;
	setenv("KC_TEST_PARENT_VAR", "inherited", 1);
	setenv("OVERRIDDEN", "from-parent", 1);
	kc_auth *a = new_auth(c);
	c->exec->args = NULL;
	c->exec->argc = 0;
	c->exec->env = NULL;
	c->exec->envc = 0;
	kc_config_free(c);
	if (!a)
		return;
	kc_credentials cr;
	kc_error_detail d;
	kc_err err = kc_auth_get(a, 0, &cr, &d);
	KT_EQ_INT(err, KC_OK);
	if (err)
		fprintf(stderr, "  %s\n", d.message);
	KT_CHECK(cr.token == NULL);
	KT_CHECK(cr.client_cert.len == 14 && memcmp(cr.client_cert.data, "-----CERT-----", 14) == 0);
	KT_CHECK(cr.client_key.len == 13 && memcmp(cr.client_key.data, "-----KEY-----", 13) == 0);
	kc_credentials_release(&cr);
	kc_auth_free(a);

	const char *s = read_file("args");
	KT_EQ_STR(s, "4\nhello world\nit's \"quoted\" $HOME\n\n--flag=a b\n");
	s = read_file("env");
	KT_EQ_STR(s, "bar baz|inherited|from-config");
	s = read_file("info");
	cJSON *info = s ? cJSON_Parse(s) : NULL;
	KT_CHECK(info != NULL);
	if (info) {
		cJSON *spec = cJSON_GetObjectItem(info, "spec");
		cJSON *cl = cJSON_GetObjectItem(spec, "cluster");
		KT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(info, "apiVersion")), API_V1);
		KT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(info, "kind")), "ExecCredential");
		KT_CHECK(cJSON_IsFalse(cJSON_GetObjectItem(spec, "interactive")));
		KT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cl, "server")),
		          "https://cluster.example:6443");
		KT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cl, "tls-server-name")),
		          "api.internal");
		KT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cl, "certificate-authority-data")),
		          "YWJj");
		cJSON_Delete(info);
	}
	unsetenv("KC_TEST_PARENT_VAR");
	unsetenv("OVERRIDDEN");

	/* without provideClusterInfo there is no spec.cluster */
	snprintf(body, sizeof(body), "printf '%%s' \"$KUBERNETES_EXEC_INFO\" > '%s/info'\n%s",
	         tmpdir, cred_body(API_V1, "{\"token\":\"t\"}"));
	c = exec_config(plugin("p-info", body));
	a = new_auth(c);
	kc_config_free(c);
	if (!a)
		return;
	KT_EQ_INT(kc_auth_get(a, 0, &cr, &d), KC_OK);
	kc_credentials_release(&cr);
	kc_auth_free(a);
	s = read_file("info");
	KT_CHECK(s && strstr(s, "\"interactive\":false") && !strstr(s, "cluster"));
}

/* Run a plugin once and return the error, with the message in d. */
static kc_err run_once(const char *name, const char *body, const char *api, kc_error_detail *d)
{
	kc_config *c = exec_config(plugin(name, body));
	if (api) {
		kc_free(c->exec->api_version);
		c->exec->api_version = kc_strdup(api);
	}
	kc_auth *a = new_auth(c);
	kc_config_free(c);
	if (!a)
		return KC_ERR_INVALID;
	kc_credentials cr;
	kc_detail_clear(d);
	kc_err err = kc_auth_get(a, 0, &cr, d);
	KT_CHECK(cr.token == NULL && cr.client_cert.data == NULL); /* zeroed on failure */
	kc_credentials_release(&cr);
	kc_auth_free(a);
	return err;
}

static bool no_children_left(void)
{
	return waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD;
}

KT_TEST(exec_failures)
{
	kc_error_detail d;
	char path[1024];

	KT_EQ_INT(run_once("p-exit", "echo 'boom: credentials revoked' >&2\necho SECRET-OUT\nexit 3",
	                   NULL, &d), KC_ERR_EXEC);
	path_in(path, sizeof(path), "p-exit");
	KT_CHECK(strstr(d.message, path) != NULL);
	KT_CHECK(strstr(d.message, "exit status 3") != NULL);
	KT_CHECK(strstr(d.message, "boom: credentials revoked") != NULL);
	KT_CHECK(strstr(d.message, "SECRET") == NULL);

	KT_EQ_INT(run_once("p-garbage", "echo 'SECRET-garbage {not json'", NULL, &d), KC_ERR_EXEC);
	KT_CHECK(strstr(d.message, "p-garbage") != NULL && strstr(d.message, "JSON") != NULL);
	KT_CHECK(strstr(d.message, "SECRET") == NULL);

	KT_EQ_INT(run_once("p-big", "head -c 2000000 /dev/zero | tr '\\000' a", NULL, &d),
	          KC_ERR_TOOBIG);
	KT_CHECK(strstr(d.message, "p-big") != NULL);

	KT_EQ_INT(run_once("p-api", cred_body("client.authentication.k8s.io/v1beta1",
	                                      "{\"token\":\"SECRET\"}"), NULL, &d), KC_ERR_EXEC);
	KT_CHECK(strstr(d.message, "client.authentication.k8s.io/v1beta1") != NULL);
	KT_CHECK(strstr(d.message, API_V1) != NULL);

	KT_EQ_INT(run_once("p-nostatus", "echo '{\"apiVersion\":\"" API_V1 "\",\"kind\":\"ExecCredential\"}'",
	                   NULL, &d), KC_ERR_EXEC);
	KT_CHECK(strstr(d.message, "status") != NULL);
	KT_EQ_INT(run_once("p-half", cred_body(API_V1, "{\"clientCertificateData\":\"C\"}"), NULL, &d),
	          KC_ERR_EXEC);
	KT_CHECK(strstr(d.message, "certificate or key") != NULL);
	KT_EQ_INT(run_once("p-badexp", cred_body(API_V1, "{\"token\":\"t\",\"expirationTimestamp\":"
	                                                 "\"tomorrow\"}"), NULL, &d), KC_ERR_EXEC);
	KT_CHECK(strstr(d.message, "expirationTimestamp") != NULL);

	/* a command that is not there */
	kc_config *c = exec_config("/nonexistent/kc-plugin");
	kc_auth *a = new_auth(c);
	kc_config_free(c);
	kc_credentials cr;
	if (a) {
		KT_EQ_INT(kc_auth_get(a, 0, &cr, &d), KC_ERR_EXEC);
		KT_CHECK(strstr(d.message, "/nonexistent/kc-plugin") != NULL);
		kc_auth_free(a);
	}
	c = exec_config("kc-plugin-not-on-path-anywhere");
	a = new_auth(c);
	kc_config_free(c);
	if (a) {
		KT_EQ_INT(kc_auth_get(a, 0, &cr, &d), KC_ERR_EXEC);
		KT_CHECK(strstr(d.message, "not found") != NULL);
		kc_auth_free(a);
	}
	/* interactiveMode Always needs a terminal we never have */
	c = exec_config(plugin("p-always", cred_body(API_V1, "{\"token\":\"t\"}")));
	kc_free(c->exec->interactive_mode);
	c->exec->interactive_mode = kc_strdup("Always");
	a = new_auth(c);
	kc_config_free(c);
	if (a) {
		KT_EQ_INT(kc_auth_get(a, 0, &cr, &d), KC_ERR_EXEC);
		KT_CHECK(strstr(d.message, "interactiveMode") != NULL);
		kc_auth_free(a);
	}
	KT_CHECK(no_children_left());
}

KT_TEST(exec_timeout_kills_and_reaps)
{
	kc_error_detail d;
	kc__exec_set_timeout_ms(300);
	int64_t t0 = kc_now_mono_ms();
	/* the sleep is a grandchild: the whole process group must go */
	KT_EQ_INT(run_once("p-hang", "sleep 30\necho never", NULL, &d), KC_ERR_EXEC);
	int64_t took = kc_now_mono_ms() - t0;
	KT_CHECK(took >= 300 && took < 5000);
	KT_CHECK(strstr(d.message, "timed out") != NULL && strstr(d.message, "p-hang") != NULL);
	/* closes its stdout but keeps running */
	t0 = kc_now_mono_ms();
	KT_EQ_INT(run_once("p-linger", "exec >&- 2>&-\nsleep 30", NULL, &d), KC_ERR_EXEC);
	KT_CHECK(kc_now_mono_ms() - t0 < 5000);
	KT_CHECK(strstr(d.message, "timed out") != NULL);
	kc__exec_set_timeout_ms(0);
	KT_CHECK(no_children_left());
}

typedef struct thread_arg {
	kc_auth *a;
	int ok;
} thread_arg;

static void *getter(void *p)
{
	thread_arg *t = p;
	for (int i = 0; i < 20; i++) {
		kc_credentials cr;
		kc_error_detail d;
		if (kc_auth_get(t->a, i, &cr, &d) == KC_OK && cr.token &&
		    strcmp(cr.token, "shared") == 0)
			t->ok++;
		kc_credentials_release(&cr);
		if (i == 10)
			kc_auth_invalidate(t->a);
	}
	return NULL;
}

KT_TEST(concurrent_gets_share_one_run)
{
	reset_count();
	kc_config *c = exec_config(plugin("p-shared", cred_body(API_V1, "{\"token\":\"shared\"}")));
	kc_auth *a = new_auth(c);
	kc_config_free(c);
	if (!a)
		return;
	pthread_t th[4];
	thread_arg args[4];
	for (int i = 0; i < 4; i++) {
		args[i] = (thread_arg){ a, 0 };
		pthread_create(&th[i], NULL, getter, &args[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		KT_EQ_INT(args[i].ok, 20);
	}
	/* one first run plus at most one per invalidation */
	KT_CHECK(run_count() >= 1 && run_count() <= 5);
	kc_auth_free(a);
}

KT_TEST(allocation_failures_in_auth)
{
	char path[1024];
	path_in(path, sizeof(path), "token");
	write_file("token", "tok", 0600);
	kc_config *c = exec_config(plugin("p-alloc", cred_body(API_V1, "{\"token\":\"exec\"}")));
	c->token_file = kc_strdup(path);
	long n;
	for (n = 0; n < 5000; n++) {
		kc_auth *a = NULL;
		kc_error_detail d;
		kc_alloc_fail_after(n);
		kc_err err = kc_auth_new(c, &a, &d);
		kc_credentials cr = { 0 };
		if (!err)
			err = kc_auth_get(a, 0, &cr, &d);
		bool triggered = kc_alloc_fail_triggered();
		kc_alloc_fail_reset();
		kc_credentials_release(&cr);
		kc_auth_free(a);
		if (!err && !triggered)
			break;
		if (err) {
			KT_CHECK(triggered);
			KT_EQ_INT(err, KC_ERR_NOMEM);
		}
	}
	KT_CHECK(n > 5 && n < 5000);
	kc_config_free(c);
	KT_CHECK(no_children_left());
}

int main(void)
{
	char tmpl[] = "/tmp/kc_test_auth.XXXXXX";
	tmpdir = mkdtemp(tmpl);
	if (!tmpdir) {
		perror("mkdtemp");
		return 1;
	}
	KT_RUN(static_credentials);
	KT_RUN(token_file_rotates_and_survives_a_failed_read);
	KT_RUN(exec_token_cached_until_expiry);
	KT_RUN(exec_sees_env_args_and_exec_info);
	KT_RUN(exec_failures);
	KT_RUN(exec_timeout_kills_and_reaps);
	KT_RUN(concurrent_gets_share_one_run);
	KT_RUN(allocation_failures_in_auth);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed\n");
	return KT_DONE();
}
