/*
 * In-cluster config (rest.InClusterConfig): host:port joined IPv6-safely,
 * token kept as a file that kc_auth re-reads, ca.crt in memory, namespace
 * POD_NAMESPACE -> namespace file -> "default". A temp dir plays the
 * service-account mount.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kc/alloc.h"
#include "kc/config.h"
#include "kctest.h"

static char *sa_dir;

static void write_file(const char *name, const char *content)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", sa_dir, name);
	FILE *f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
		return;
	}
	fputs(content, f);
	fclose(f);
}

static void remove_file(const char *name)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", sa_dir, name);
	unlink(path);
}

static void set_env(const char *host, const char *port)
{
	setenv("KUBERNETES_SERVICE_HOST", host, 1);
	setenv("KUBERNETES_SERVICE_PORT", port, 1);
}

static kc_config *load(kc_err want)
{
	kc_config *c = NULL;
	kc_error_detail d;
	kc_detail_clear(&d);
	kc_err err = kc_config_in_cluster(sa_dir, &c, &d);
	if (err != want)
		fprintf(stderr, "  in-cluster: %s: %s\n", kc_strerror(err), d.message);
	KT_EQ_INT(err, want);
	return c;
}

KT_TEST(ipv4_service)
{
	set_env("10.96.0.1", "443");
	kc_config *c = load(KC_OK);
	if (!c)
		return;
	char want[1100];
	snprintf(want, sizeof(want), "%s/token", sa_dir);
	KT_EQ_STR(c->server, "https://10.96.0.1:443");
	KT_EQ_STR(c->token_file, want);
	KT_CHECK(c->token == NULL); /* re-read through kc_auth, never frozen */
	KT_CHECK(c->in_cluster);
	KT_CHECK(!c->insecure_skip_tls_verify);
	KT_CHECK(c->ca.len == strlen("CA-PEM\n") && memcmp(c->ca.data, "CA-PEM\n", c->ca.len) == 0);
	KT_CHECK(c->context_name == NULL);
	kc_config_free(c);
}

KT_TEST(ipv6_host_is_bracketed)
{
	set_env("fd00:10:96::1", "6443");
	kc_config *c = load(KC_OK);
	if (c)
		KT_EQ_STR(c->server, "https://[fd00:10:96::1]:6443");
	kc_config_free(c);
	set_env("[fd00::1]", "443"); /* already bracketed: not doubled */
	c = load(KC_OK);
	if (c)
		KT_EQ_STR(c->server, "https://[fd00::1]:443");
	kc_config_free(c);
	set_env("kubernetes.default.svc", "443");
	c = load(KC_OK);
	if (c)
		KT_EQ_STR(c->server, "https://kubernetes.default.svc:443");
	kc_config_free(c);
}

KT_TEST(namespace_fallback_order)
{
	set_env("10.96.0.1", "443");
	write_file("namespace", "from-file\n");
	setenv("POD_NAMESPACE", "from-env", 1);
	kc_config *c = load(KC_OK);
	if (c)
		KT_EQ_STR(c->namespace, "from-env");
	kc_config_free(c);

	unsetenv("POD_NAMESPACE");
	c = load(KC_OK);
	if (c)
		KT_EQ_STR(c->namespace, "from-file"); /* trimmed */
	kc_config_free(c);

	write_file("namespace", "  \n");
	c = load(KC_OK);
	if (c)
		KT_EQ_STR(c->namespace, "default");
	kc_config_free(c);

	remove_file("namespace");
	c = load(KC_OK);
	if (c)
		KT_EQ_STR(c->namespace, "default");
	kc_config_free(c);
	write_file("namespace", "from-file\n");
}

KT_TEST(not_in_a_cluster_or_broken_mount)
{
	unsetenv("KUBERNETES_SERVICE_HOST");
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	kc_config *c = NULL;
	kc_error_detail d;
	KT_EQ_INT(kc_config_in_cluster(sa_dir, &c, &d), KC_ERR_CONFIG);
	KT_CHECK(strstr(d.message, "KUBERNETES_SERVICE_HOST") != NULL);
	KT_CHECK(c == NULL);

	set_env("10.96.0.1", "https");
	KT_EQ_INT(kc_config_in_cluster(sa_dir, &c, &d), KC_ERR_CONFIG);
	KT_CHECK(strstr(d.message, "KUBERNETES_SERVICE_PORT") != NULL);
	set_env("10.96.0.1", "70000");
	KT_EQ_INT(kc_config_in_cluster(sa_dir, &c, &d), KC_ERR_CONFIG);
	set_env("evil/host", "443");
	KT_EQ_INT(kc_config_in_cluster(sa_dir, &c, &d), KC_ERR_CONFIG);

	set_env("10.96.0.1", "443");
	remove_file("token");
	KT_EQ_INT(kc_config_in_cluster(sa_dir, &c, &d), KC_ERR_IO);
	KT_CHECK(strstr(d.message, "token") != NULL);
	KT_CHECK(c == NULL);
	write_file("token", "sa-token-1\n");

	/* no ca.crt: the system trust store applies, TLS still verified */
	remove_file("ca.crt");
	c = load(KC_OK);
	if (c) {
		KT_CHECK(c->ca.data == NULL);
		KT_CHECK(!c->insecure_skip_tls_verify);
	}
	kc_config_free(c);
	write_file("ca.crt", "CA-PEM\n");
}

KT_TEST(load_default_picks_in_cluster)
{
	/* load_default uses the real mount path; just check it tries in-cluster */
	set_env("10.96.0.1", "443");
	unsetenv("KUBECONFIG");
	kc_config *c = NULL;
	kc_error_detail d;
	kc_err err = kc_config_load_default(NULL, NULL, &c, &d);
	if (access("/var/run/secrets/kubernetes.io/serviceaccount/token", R_OK) != 0) {
		KT_EQ_INT(err, KC_ERR_IO);
		KT_CHECK(strstr(d.message, "/var/run/secrets/kubernetes.io/serviceaccount/token") != NULL);
	} else {
		KT_EQ_INT(err, KC_OK);
	}
	kc_config_free(c);
}

KT_TEST(service_account_token_rotates)
{
	set_env("10.96.0.1", "443");
	write_file("token", "sa-token-1\n");
	kc_config *c = load(KC_OK);
	if (!c)
		return;
	kc_auth *a = NULL;
	kc_error_detail d;
	KT_EQ_INT(kc_auth_new(c, &a, &d), KC_OK);
	kc_config_free(c);
	if (!a)
		return;
	kc_credentials cr;
	KT_EQ_INT(kc_auth_get(a, 0, &cr, &d), KC_OK);
	KT_EQ_STR(cr.token, "sa-token-1");
	kc_credentials_release(&cr);
	write_file("token", "sa-token-2\n"); /* kubelet rotated the bound token */
	KT_EQ_INT(kc_auth_get(a, KC_TOKEN_REREAD_MS / 2, &cr, &d), KC_OK);
	KT_EQ_STR(cr.token, "sa-token-1");
	kc_credentials_release(&cr);
	KT_EQ_INT(kc_auth_get(a, KC_TOKEN_REREAD_MS, &cr, &d), KC_OK);
	KT_EQ_STR(cr.token, "sa-token-2");
	kc_credentials_release(&cr);
	kc_auth_free(a);
	write_file("token", "sa-token-1\n");
}

KT_TEST(allocation_failures)
{
	set_env("fd00::1", "443");
	long n;
	for (n = 0; n < 1000; n++) {
		kc_config *c = NULL;
		kc_error_detail d;
		kc_alloc_fail_after(n);
		kc_err err = kc_config_in_cluster(sa_dir, &c, &d);
		kc_alloc_fail_reset();
		if (err == KC_OK) {
			kc_config_free(c);
			break;
		}
		KT_EQ_INT(err, KC_ERR_NOMEM);
		KT_CHECK(c == NULL);
	}
	KT_CHECK(n > 3 && n < 1000);
}

int main(void)
{
	char tmpl[] = "/tmp/kc_test_incluster.XXXXXX";
	sa_dir = mkdtemp(tmpl);
	if (!sa_dir) {
		perror("mkdtemp");
		return 1;
	}
	unsetenv("POD_NAMESPACE");
	write_file("token", "sa-token-1\n");
	write_file("ca.crt", "CA-PEM\n");
	write_file("namespace", "from-file\n");
	KT_RUN(ipv4_service);
	KT_RUN(ipv6_host_is_bracketed);
	KT_RUN(namespace_fallback_order);
	KT_RUN(not_in_a_cluster_or_broken_mount);
	KT_RUN(load_default_picks_in_cluster);
	KT_RUN(service_account_token_rotates);
	KT_RUN(allocation_failures);
	remove_file("token");
	remove_file("ca.crt");
	remove_file("namespace");
	rmdir(sa_dir);
	return KT_DONE();
}
