/*
 * Kubeconfig loading: client-go's clientcmd precedence and merging, relative
 * paths, base64 data fields, validation errors that name the file and field,
 * caps, and allocation failure on every path.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_internal.h"
#include "kc/alloc.h"
#include "kc/base64.h"
#include "kc/config.h"
#include "kctest.h"

static char data_dir[1024];

static const char *data_path(const char *rel, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/kubeconfig/%s", data_dir, rel);
	return buf;
}

static char *make_tmpdir(void)
{
	char tmpl[] = "/tmp/kc_test_kubeconfig.XXXXXX";
	char *d = mkdtemp(tmpl);
	return d ? strdup(d) : NULL;
}

static void write_file(const char *dir, const char *name, const char *content)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
		return;
	}
	fputs(content, f);
	fclose(f);
}

static void rm_rf(const char *dir)
{
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", dir);
}

static bool blob_is(const kc_blob *b, const char *s)
{
	return b->data && b->len == strlen(s) && memcmp(b->data, s, b->len) == 0;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	static char buf[8192];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

/* Parse YAML from memory as one file named "mem.yaml". */
static kc_err parse(const char *yaml, const char *context, kc_config **out, kc_error_detail *d)
{
	kc_detail_clear(d);
	*out = NULL;
	return kc__kubeconfig_parse_mem(yaml, strlen(yaml), "mem.yaml", "/base", context, out, d);
}

KT_TEST(basic_file_with_relative_paths)
{
	char p[1100], want[1100];
	kc_config *c = NULL;
	kc_error_detail d;
	KT_EQ_INT(kc_config_load_kubeconfig(data_path("basic/config", p, sizeof(p)), NULL, &c, &d),
	          KC_OK);
	if (!c) {
		fprintf(stderr, "  %s\n", d.message);
		return;
	}
	KT_EQ_STR(c->server, "https://prod.example.com:6443"); /* trailing '/' dropped */
	KT_EQ_STR(c->tls_server_name, "api.prod.internal");
	KT_EQ_STR(c->proxy_url, "http://proxy.example.com:3128");
	KT_EQ_STR(c->namespace, "kube-system");
	KT_EQ_STR(c->context_name, "admin@prod");
	KT_CHECK(!c->insecure_skip_tls_verify);
	KT_CHECK(!c->in_cluster);
	KT_CHECK(blob_is(&c->ca, slurp(data_path("basic/pki/ca.crt", p, sizeof(p)))));
	KT_CHECK(blob_is(&c->client_cert, slurp(data_path("basic/pki/client.crt", p, sizeof(p)))));
	KT_CHECK(blob_is(&c->client_key, slurp(data_path("basic/pki/client.key", p, sizeof(p)))));
	KT_CHECK(c->token == NULL && c->token_file == NULL && c->exec == NULL);
	kc_config_free(c);

	/* the other context: tokenFile resolved against the file's folder */
	c = NULL;
	KT_EQ_INT(kc_config_load_kubeconfig(data_path("basic/config", p, sizeof(p)), "other", &c, &d),
	          KC_OK);
	if (!c)
		return;
	KT_EQ_STR(c->server, "http://127.0.0.1:8080");
	KT_EQ_STR(c->namespace, "default");
	KT_EQ_STR(c->token, "static-token-value");
	KT_EQ_STR(c->token_file, data_path("basic/secrets/token", want, sizeof(want)));
	KT_CHECK(c->ca.data == NULL && c->ca.len == 0);
	kc_config_free(c);
}

KT_TEST(kubeconfig_list_first_file_wins)
{
	char a[1100], b[1100], list[4096];
	data_path("merge/a/config", a, sizeof(a));
	data_path("merge/b/config", b, sizeof(b));
	/* missing files and empty entries are skipped, as client-go does */
	snprintf(list, sizeof(list), "/nonexistent/kubeconfig::%s:%s:", a, b);
	setenv("KUBECONFIG", list, 1);
	kc_config *c = NULL;
	kc_error_detail d;
	KT_EQ_INT(kc_config_load_kubeconfig(NULL, NULL, &c, &d), KC_OK);
	if (c) {
		KT_EQ_STR(c->context_name, "a-ctx");             /* a's current-context */
		KT_EQ_STR(c->server, "https://a.example.com:6443"); /* a's "shared" */
		KT_CHECK(c->insecure_skip_tls_verify);
		KT_EQ_STR(c->namespace, "from-a");
		/* user only in b: its relative paths resolve against b's folder */
		KT_CHECK(blob_is(&c->client_cert, slurp(data_path("merge/b/certs/b.crt", b, sizeof(b)))));
		KT_CHECK(blob_is(&c->client_key, slurp(data_path("merge/b/certs/b.key", b, sizeof(b)))));
		kc_config_free(c);
	}
	c = NULL;
	KT_EQ_INT(kc_config_load_kubeconfig(NULL, "common", &c, &d), KC_OK);
	if (c) {
		KT_EQ_STR(c->namespace, "common-a"); /* same context name in both: a wins */
		kc_config_free(c);
	}

	/* reversed order: b wins everything it sets */
	data_path("merge/b/config", b, sizeof(b));
	snprintf(list, sizeof(list), "%s:%s", b, a);
	setenv("KUBECONFIG", list, 1);
	c = NULL;
	KT_EQ_INT(kc_config_load_kubeconfig(NULL, NULL, &c, &d), KC_OK);
	if (c) {
		KT_EQ_STR(c->context_name, "b-ctx");
		KT_EQ_STR(c->server, "https://b-only.example.com");
		kc_config_free(c);
	}
	c = NULL;
	KT_EQ_INT(kc_config_load_kubeconfig(NULL, "a-ctx", &c, &d), KC_OK);
	if (c) {
		KT_EQ_STR(c->server, "https://b.example.com:6443"); /* b's "shared" now */
		KT_CHECK(!c->insecure_skip_tls_verify);
		kc_config_free(c);
	}

	/* an explicit path beats $KUBECONFIG: nothing is merged from b then */
	c = NULL;
	KT_EQ_INT(kc_config_load_kubeconfig(a, NULL, &c, &d), KC_ERR_CONFIG);
	KT_CHECK(c == NULL);
	KT_CHECK(strstr(d.message, "context \"a-ctx\" refers to unknown user \"b-user\"") != NULL);
	KT_CHECK(strstr(d.message, a) == d.message);

	/* only missing files: an error, not a crash */
	setenv("KUBECONFIG", "/nonexistent/one:/nonexistent/two", 1);
	c = NULL;
	KT_EQ_INT(kc_config_load_kubeconfig(NULL, NULL, &c, &d), KC_ERR_CONFIG);
	KT_CHECK(c == NULL);
	KT_CHECK(strstr(d.message, "KUBECONFIG") != NULL);
	unsetenv("KUBECONFIG");
}

KT_TEST(home_kube_config_is_the_fallback)
{
	char *dir = make_tmpdir();
	KT_CHECK(dir != NULL);
	if (!dir)
		return;
	char kube[1100];
	snprintf(kube, sizeof(kube), "%s/.kube", dir);
	mkdir(kube, 0700);
	write_file(kube, "config",
	           "clusters: [{name: c, cluster: {server: 'https://home.example:443'}}]\n"
	           "contexts: [{name: x, context: {cluster: c}}]\ncurrent-context: x\n");
	char *old_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
	unsetenv("KUBECONFIG");
	setenv("HOME", dir, 1);
	kc_config *c = NULL;
	kc_error_detail d;
	KT_EQ_INT(kc_config_load_kubeconfig(NULL, NULL, &c, &d), KC_OK);
	if (c)
		KT_EQ_STR(c->server, "https://home.example:443");
	kc_config_free(c);

	/* load_default: with $KUBECONFIG set, the in-cluster variables don't win */
	setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	char path[1200];
	snprintf(path, sizeof(path), "%s/config", kube);
	setenv("KUBECONFIG", path, 1);
	c = NULL;
	KT_EQ_INT(kc_config_load_default(NULL, NULL, &c, &d), KC_OK);
	if (c) {
		KT_CHECK(!c->in_cluster);
		KT_EQ_STR(c->server, "https://home.example:443");
	}
	kc_config_free(c);
	unsetenv("KUBECONFIG");
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");

	if (old_home) {
		setenv("HOME", old_home, 1);
		free(old_home);
	}
	rm_rf(dir);
	free(dir);
}

KT_TEST(base64_data_fields)
{
	static const struct {
		const char *b64;
		const char *plain;
	} ok[] = {
		{ "YQ==", "a" },
		{ "YWI=", "ab" },
		{ "YWJj", "abc" },
		{ "YWJjZA==", "abcd" },
		{ "LS0tLS1CRUdJTi\n BDRVJUSUZJQ0FURS0tLS0t", NULL }, /* space: invalid */
	};
	char yaml[1024];
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(yaml, sizeof(yaml),
		         "clusters: [{name: c, cluster: {server: 'https://x', "
		         "certificate-authority-data: \"%s\"}}]\n"
		         "users: [{name: u, user: {client-certificate-data: \"%s\", "
		         "client-key-data: \"%s\"}}]\n"
		         "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
		         ok[i].b64, ok[i].b64, ok[i].b64);
		kc_config *c;
		kc_error_detail d;
		kc_err err = parse(yaml, NULL, &c, &d);
		if (!ok[i].plain) {
			KT_EQ_INT(err, KC_ERR_CONFIG);
			continue;
		}
		KT_EQ_INT(err, KC_OK);
		if (!c)
			continue;
		KT_CHECK(blob_is(&c->ca, ok[i].plain));
		KT_CHECK(blob_is(&c->client_cert, ok[i].plain));
		KT_CHECK(blob_is(&c->client_key, ok[i].plain));
		kc_config_free(c);
	}
	/* a newline inside the data is ignored, as Go's decoder ignores it */
	kc_buf b;
	kc_buf_init(&b, 16);
	KT_EQ_INT(kc_base64_decode("YWJj\nZA==\n", 10, &b), KC_OK);
	KT_EQ_STR(b.data, "abcd");
	kc_buf_release(&b);
	static const char *const bad[] = { "YQ=", "YQ", "Y@==", "YQ==YQ==", "=YQ=", "Y===",
		                           "not base64!", "-----BEGIN CERTIFICATE-----" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		KT_EQ_INT(kc_base64_decode(bad[i], strlen(bad[i]), &b), KC_ERR_PARSE);
		KT_CHECK(b.data == NULL && b.len == 0);
	}
	KT_EQ_INT(kc_base64_decode("", 0, &b), KC_OK);
	KT_EQ_INT(b.len, 0);
	/* the limit is on the decoded bytes: 16 fit, 17 do not, and a failure appends nothing */
	KT_EQ_INT(kc_base64_decode("YWJjZGVmZ2hpamtsbW5vcA==", 24, &b), KC_OK);
	KT_EQ_INT(b.len, 16);
	kc_buf_reset(&b);
	KT_EQ_INT(kc_base64_decode("YWJjZGVmZ2hpamtsbW5vcHE=", 24, &b), KC_ERR_TOOBIG);
	KT_EQ_INT(b.len, 0);
	/* encoding: padded, round trip, and the limit */
	KT_EQ_INT(kc_base64_encode("abcd", 4, &b), KC_OK);
	KT_EQ_STR(b.data, "YWJjZA==");
	KT_EQ_INT(kc_base64_encode("abcdefghijkl", 12, &b), KC_ERR_TOOBIG); /* 8 + 16 > 16 */
	KT_EQ_STR(b.data, "YWJjZA==");
	kc_buf_release(&b);
}

/* Each invalid config: its error code and the words the message must hold. */
KT_TEST(errors_name_the_file_and_field)
{
	static const struct {
		const char *yaml;
		const char *context;
		kc_err err;
		const char *want1, *want2;
	} cases[] = {
		{ "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
		  "contexts: [{name: foo, context: {cluster: bar}}]\ncurrent-context: foo\n",
		  NULL, KC_ERR_CONFIG, "mem.yaml: context \"foo\" refers to unknown cluster \"bar\"", NULL },
		{ "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
		  "contexts: [{name: foo, context: {cluster: c, user: nobody}}]\ncurrent-context: foo\n",
		  NULL, KC_ERR_CONFIG, "unknown user \"nobody\"", "mem.yaml" },
		{ "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
		  "contexts: [{name: foo, context: {cluster: c}}]\n",
		  NULL, KC_ERR_CONFIG, "mem.yaml", "no current-context" },
		{ "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
		  "contexts: [{name: foo, context: {cluster: c}}]\ncurrent-context: foo\n",
		  "missing", KC_ERR_CONFIG, "context \"missing\" not found", "mem.yaml" },
		{ "clusters: [{name: c, cluster: {server: 'x.example.com:6443'}}]\n"
		  "contexts: [{name: foo, context: {cluster: c}}]\ncurrent-context: foo\n",
		  NULL, KC_ERR_CONFIG, "server is not", "cluster \"c\"" },
		{ "clusters: [{name: c, cluster: {server: 'ftp://x'}}]\n"
		  "contexts: [{name: foo, context: {cluster: c}}]\ncurrent-context: foo\n",
		  NULL, KC_ERR_CONFIG, "is not an https:// or http:// URL", "mem.yaml" },
		{ "clusters: [{name: c, cluster: {certificate-authority-data: YQ==}}]\n"
		  "contexts: [{name: foo, context: {cluster: c}}]\ncurrent-context: foo\n",
		  NULL, KC_ERR_CONFIG, "cluster \"c\"", "no server" },
		{ "clusters: [{name: c, cluster: {server: 'https://x', insecure-skip-tls-verify: true,"
		  " certificate-authority-data: YQ==}}]\n"
		  "contexts: [{name: foo, context: {cluster: c}}]\ncurrent-context: foo\n",
		  NULL, KC_ERR_CONFIG, "insecure-skip-tls-verify", "certificate-authority" },
		{ "clusters: [{name: c, cluster: {server: 'https://x', certificate-authority: ca.pem,"
		  " certificate-authority-data: YQ==}}]\n"
		  "contexts: [{name: foo, context: {cluster: c}}]\ncurrent-context: foo\n",
		  NULL, KC_ERR_CONFIG, "certificate-authority-data and certificate-authority", NULL },
		{ "clusters: [{name: c, cluster: {server: 'https://x', certificate-authority-data: 'Y@=='}}]\n"
		  "contexts: [{name: foo, context: {cluster: c}}]\ncurrent-context: foo\n",
		  NULL, KC_ERR_CONFIG, "certificate-authority-data is not valid base64", "cluster \"c\"" },
		{ "clusters: [{name: c, cluster: {server: 'https://x', certificate-authority: nope.pem}}]\n"
		  "contexts: [{name: foo, context: {cluster: c}}]\ncurrent-context: foo\n",
		  NULL, KC_ERR_IO, "/base/nope.pem", "certificate-authority" },
		{ "clusters: [{name: c, cluster: {server: 'https://x', proxy-url: 'gopher://p'}}]\n"
		  "contexts: [{name: foo, context: {cluster: c}}]\ncurrent-context: foo\n",
		  NULL, KC_ERR_CONFIG, "proxy-url", NULL },
		{ "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
		  "users: [{name: u, user: {client-certificate-data: YQ==}}]\n"
		  "contexts: [{name: foo, context: {cluster: c, user: u}}]\ncurrent-context: foo\n",
		  NULL, KC_ERR_CONFIG, "user \"u\"", "client-key" },
		{ "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
		  "users: [{name: u, user: {client-certificate-data: YQ==, client-certificate: a.crt, "
		  "client-key-data: YQ==}}]\n"
		  "contexts: [{name: foo, context: {cluster: c, user: u}}]\ncurrent-context: foo\n",
		  NULL, KC_ERR_CONFIG, "client-certificate-data and client-certificate", NULL },
		{ "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
		  "users: [{name: u, user: {token: SECRET-TOKEN-VALUE, username: bob, "
		  "password: SECRET-PASSWORD}}]\n"
		  "contexts: [{name: foo, context: {cluster: c, user: u}}]\ncurrent-context: foo\n",
		  NULL, KC_ERR_CONFIG, "more than one authentication method", "user \"u\"" },
		{ "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
		  "users: [{name: u, user: {exec: {command: foo, interactiveMode: Never}}}]\n"
		  "contexts: [{name: foo, context: {cluster: c, user: u}}]\ncurrent-context: foo\n",
		  NULL, KC_ERR_CONFIG, "apiVersion must be specified", "user \"u\"" },
		{ "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
		  "users: [{name: u, user: {exec: {command: foo, "
		  "apiVersion: client.authentication.k8s.io/v1}}}]\n"
		  "contexts: [{name: foo, context: {cluster: c, user: u}}]\ncurrent-context: foo\n",
		  NULL, KC_ERR_CONFIG, "interactiveMode must be specified", NULL },
		{ "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
		  "contexts: [{name: foo, context: {cluster: c, namespace: Not_A_Label}}]\n"
		  "current-context: foo\n",
		  NULL, KC_ERR_CONFIG, "namespace \"Not_A_Label\"", NULL },
		{ "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
		  "contexts: [{name: foo}]\ncurrent-context: foo\n",
		  NULL, KC_ERR_CONFIG, "context \"foo\"", "cluster was not specified" },
		/* malformed YAML: cyaml's message with the line */
		{ "clusters:\n- name: c\n  cluster: {server: 'https://x'\ncontexts: [\n",
		  NULL, KC_ERR_PARSE, "mem.yaml: malformed kubeconfig", "line" },
		{ "clusters: {name: c}\n", NULL, KC_ERR_PARSE, "mem.yaml: malformed kubeconfig", NULL },
		{ "- just\n- a list\n", NULL, KC_ERR_PARSE, "mem.yaml", NULL },
		/* anchors/aliases are refused: their expansion would beat the byte cap */
		{ "a: &a [x, x, x]\nb: &b [*a, *a, *a]\ncurrent-context: x\n",
		  NULL, KC_ERR_PARSE, "mem.yaml: malformed kubeconfig", "alias" },
		{ "", NULL, KC_ERR_CONFIG, "no current-context", NULL },
		{ "# only a comment\n", NULL, KC_ERR_CONFIG, "no current-context", NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kc_config *c = NULL;
		kc_error_detail d;
		kc_err err = parse(cases[i].yaml, cases[i].context, &c, &d);
		if (err != cases[i].err)
			fprintf(stderr, "  case %zu: got %s: %s\n", i, kc_strerror(err), d.message);
		KT_EQ_INT(err, cases[i].err);
		KT_CHECK(c == NULL);
		if (c)
			kc_config_free(c);
		if (!strstr(d.message, cases[i].want1) ||
		    (cases[i].want2 && !strstr(d.message, cases[i].want2))) {
			fprintf(stderr, "  case %zu: message \"%s\" lacks \"%s\"/\"%s\"\n", i, d.message,
			        cases[i].want1, cases[i].want2 ? cases[i].want2 : "");
			kt_failed_checks_++;
		}
		KT_CHECK(strstr(d.message, "SECRET") == NULL); /* secrets never in a message */
		if (getenv("KC_TEST_VERBOSE"))
			fprintf(stderr, "  case %zu: %s\n", i, d.message);
	}
}

KT_TEST(file_errors_name_the_path)
{
	char *dir = make_tmpdir();
	KT_CHECK(dir != NULL);
	if (!dir)
		return;
	kc_config *c = NULL;
	kc_error_detail d;
	char path[1100];

	/* explicit path that does not exist: an error (not skipped) */
	snprintf(path, sizeof(path), "%s/absent", dir);
	KT_EQ_INT(kc_config_load_kubeconfig(path, NULL, &c, &d), KC_ERR_IO);
	KT_CHECK(strstr(d.message, path) != NULL);

	/* unknown cluster: the message names the real file */
	write_file(dir, "bad", "contexts: [{name: foo, context: {cluster: bar}}]\n"
	                      "current-context: foo\n");
	snprintf(path, sizeof(path), "%s/bad", dir);
	KT_EQ_INT(kc_config_load_kubeconfig(path, NULL, &c, &d), KC_ERR_CONFIG);
	char want[1300];
	snprintf(want, sizeof(want), "%s: context \"foo\" refers to unknown cluster \"bar\"", path);
	KT_EQ_STR(d.message, want);

	/* a directory is not a kubeconfig */
	KT_EQ_INT(kc_config_load_kubeconfig(dir, NULL, &c, &d), KC_ERR_IO);

	/* oversized file: refused before parsing */
	snprintf(path, sizeof(path), "%s/big", dir);
	FILE *f = fopen(path, "w");
	KT_CHECK(f != NULL);
	if (f) {
		fputs("clusters: []\n", f);
		static const char line[] = "# padding padding padding padding padding padding pad\n";
		for (size_t n = 0; n <= KC_KUBECONFIG_MAX_BYTES; n += sizeof(line) - 1)
			fputs(line, f);
		fclose(f);
	}
	KT_EQ_INT(kc_config_load_kubeconfig(path, NULL, &c, &d), KC_ERR_TOOBIG);
	KT_CHECK(strstr(d.message, path) != NULL);
	KT_CHECK(c == NULL);
	/* and from memory too */
	KT_EQ_INT(kc__kubeconfig_parse_mem("", KC_KUBECONFIG_MAX_BYTES + 1u, "m", NULL, NULL, &c, &d),
	          KC_ERR_TOOBIG);

	/* a malformed file: the message names the file and the line */
	write_file(dir, "broken", "clusters:\n  - name: a\n    cluster: [unclosed\n");
	snprintf(path, sizeof(path), "%s/broken", dir);
	KT_EQ_INT(kc_config_load_kubeconfig(path, NULL, &c, &d), KC_ERR_PARSE);
	KT_CHECK(strstr(d.message, path) != NULL);
	KT_CHECK(strstr(d.message, "line") != NULL);
	rm_rf(dir);
	free(dir);
}

KT_TEST(exec_and_tokens_are_carried)
{
	const char *yaml =
		"clusters: [{name: c, cluster: {server: 'https://[fd00::1]:6443'}}]\n"
		"users:\n"
		"- name: u\n"
		"  user:\n"
		"    tokenFile: tok/token\n"
		"    exec:\n"
		"      apiVersion: client.authentication.k8s.io/v1beta1\n"
		"      command: ./bin/get-token\n"
		"      args: [\"--cluster\", \"my cluster\", \"\"]\n"
		"      env:\n"
		"      - {name: FOO, value: bar}\n"
		"      - {name: EMPTY}\n"
		"      provideClusterInfo: true\n"
		"- name: v\n"
		"  user:\n"
		"    exec: {apiVersion: client.authentication.k8s.io/v1, command: aws, "
		"interactiveMode: Never, args: null, env: null}\n"
		"contexts: [{name: x, context: {cluster: c, user: u}}, "
		"{name: y, context: {cluster: c, user: v}}]\n"
		"current-context: x\n";
	kc_config *c = NULL;
	kc_error_detail d;
	KT_EQ_INT(parse(yaml, NULL, &c, &d), KC_OK);
	if (!c) {
		fprintf(stderr, "  %s\n", d.message);
		return;
	}
	KT_EQ_STR(c->server, "https://[fd00::1]:6443");
	KT_EQ_STR(c->token_file, "/base/tok/token");
	KT_CHECK(c->exec != NULL);
	if (c->exec) {
		KT_EQ_STR(c->exec->command, "/base/./bin/get-token");
		KT_EQ_INT(c->exec->argc, 3);
		if (c->exec->argc == 3) {
			KT_EQ_STR(c->exec->args[1], "my cluster");
			KT_EQ_STR(c->exec->args[2], "");
		}
		KT_EQ_INT(c->exec->envc, 2);
		if (c->exec->envc == 2) {
			KT_EQ_STR(c->exec->env[0].name, "FOO");
			KT_EQ_STR(c->exec->env[0].value, "bar");
			KT_EQ_STR(c->exec->env[1].value, "");
		}
		KT_CHECK(c->exec->provide_cluster_info);
		KT_EQ_STR(c->exec->interactive_mode, "IfAvailable"); /* beta default */
	}
	/* kc_config_dup is deep */
	kc_config *copy = NULL;
	KT_EQ_INT(kc_config_dup(c, &copy), KC_OK);
	kc_config_free(c);
	if (copy && copy->exec) {
		KT_EQ_STR(copy->exec->args[1], "my cluster");
		KT_EQ_STR(copy->server, "https://[fd00::1]:6443");
	}
	kc_config_free(copy);

	c = NULL;
	KT_EQ_INT(parse(yaml, "y", &c, &d), KC_OK);
	if (c && c->exec) {
		KT_EQ_STR(c->exec->command, "aws"); /* no '/': looked up on $PATH later */
		KT_EQ_INT(c->exec->argc, 0);
	}
	kc_config_free(c);
}

/* Load once with the N-th allocation failing, for every N until it succeeds. */
static void alloc_failure_loop(const char *path, const char *context, const char *kubeconfig_env)
{
	if (kubeconfig_env)
		setenv("KUBECONFIG", kubeconfig_env, 1);
	long n;
	for (n = 0; n < 20000; n++) {
		kc_config *c = NULL;
		kc_error_detail d;
		kc_alloc_fail_after(n);
		kc_err err = kc_config_load_kubeconfig(path, context, &c, &d);
		bool triggered = kc_alloc_fail_triggered();
		kc_alloc_fail_reset();
		if (err == KC_OK) {
			KT_CHECK(c != NULL);
			kc_config_free(c);
			if (!triggered)
				break;
			continue; /* a failure was absorbed: acceptable only if nothing leaks */
		}
		KT_CHECK(c == NULL);
		KT_CHECK(triggered);
		if (err != KC_ERR_NOMEM)
			fprintf(stderr, "  n=%ld: %s (%s)\n", n, kc_strerror(err), d.message);
		KT_EQ_INT(err, KC_ERR_NOMEM);
	}
	KT_CHECK(n > 10 && n < 20000);
	if (kubeconfig_env)
		unsetenv("KUBECONFIG");
}

KT_TEST(allocation_failures_are_reported_and_do_not_leak)
{
	char p[1100], a[1100], b[1100], list[2300];
	alloc_failure_loop(data_path("basic/config", p, sizeof(p)), NULL, NULL);
	alloc_failure_loop(data_path("basic/config", p, sizeof(p)), "other", NULL);
	snprintf(list, sizeof(list), "%s:%s", data_path("merge/a/config", a, sizeof(a)),
	         data_path("merge/b/config", b, sizeof(b)));
	alloc_failure_loop(NULL, NULL, list);
}

int main(void)
{
	const char *dd = getenv("KC_TEST_DATA");
	snprintf(data_dir, sizeof(data_dir), "%s", dd ? dd : "k8sclient/tests/data");
	unsetenv("KUBECONFIG");
	KT_RUN(basic_file_with_relative_paths);
	KT_RUN(kubeconfig_list_first_file_wins);
	KT_RUN(home_kube_config_is_the_fallback);
	KT_RUN(base64_data_fields);
	KT_RUN(errors_name_the_file_and_field);
	KT_RUN(file_errors_name_the_path);
	KT_RUN(exec_and_tokens_are_carried);
	KT_RUN(allocation_failures_are_reported_and_do_not_leak);
	return KT_DONE();
}
