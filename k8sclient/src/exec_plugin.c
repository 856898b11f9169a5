/*
 * exec_plugin.c - client.authentication.k8s.io exec credential plugins, as
 * client-go's plugin/pkg/client/auth/exec/exec.go runs them:
 *
 *   - the command is run directly (fork + execve, no shell), argv exactly as
 *     configured, the command looked up on $PATH when it has no '/';
 *   - environment = this process's environment, then the configured env list
 *     (overriding), then KUBERNETES_EXEC_INFO, a JSON ExecCredential whose
 *     spec says interactive=false and, with provideClusterInfo, carries
 *     spec.cluster (server, tls-server-name, insecure-skip-tls-verify,
 *     certificate-authority-data, proxy-url) like exec.go's newClusterFromConfig;
 *   - stdin is /dev/null (firebreak never has a TTY, so interactiveMode
 *     "Always" is refused, as exec.go refuses it without a terminal);
 *   - stdout is captured up to KC_EXEC_OUTPUT_MAX (more is an error), stderr
 *     up to KC_EXEC_STDERR_MAX and quoted (sanitised) in error messages;
 *   - the plugin runs in its own process group, which is killed when it
 *     passes the timeout (client-go has none); the child is always reaped.
 *
 * The output must be an ExecCredential of the configured apiVersion with
 * status.token or status.clientCertificateData + clientKeyData, and optionally
 * status.expirationTimestamp (exec.go's refreshCredsLocked checks the same).
 * Nothing from stdout ever goes into an error message: it holds secrets.
 */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "config_internal.h"
#include "internal.h"
#include "kc/alloc.h"
#include "kc/buf.h"
#include "kc/time.h"

extern char **environ;

#define EXEC_INFO_ENV "KUBERNETES_EXEC_INFO"
#define EXEC_PATH_MAX 4096

static atomic_llong exec_timeout_override_ms;

void kc__exec_set_timeout_ms(int64_t ms)
{
	atomic_store(&exec_timeout_override_ms, ms > 0 ? ms : 0);
}

static int64_t exec_timeout_ms(void)
{
	long long ms = atomic_load(&exec_timeout_override_ms);
	return ms > 0 ? ms : KC_EXEC_TIMEOUT_MS;
}

/* ---- config copy / free ------------------------------------------------ */

void kc__exec_config_free(kc_exec_config *e)
{
	if (!e)
		return;
	kc_free(e->command);
	for (size_t i = 0; i < e->argc; i++)
		kc_free(e->args[i]);
	kc_free(e->args);
	for (size_t i = 0; i < e->envc; i++) {
		kc_free(e->env[i].name);
		kc_free(e->env[i].value);
	}
	kc_free(e->env);
	kc_free(e->api_version);
	kc_free(e->interactive_mode);
	kc_free(e);
}

kc_err kc__exec_config_copy(const kc_exec_config *src, kc_exec_config **out)
{
	*out = NULL;
	kc_exec_config *e = kc_calloc(1, sizeof(*e));
	if (!e)
		return KC_ERR_NOMEM;
	e->provide_cluster_info = src->provide_cluster_info;
	if (!(e->command = kc_strdup(src->command)) && src->command)
		goto out_nomem;
	if (src->argc) {
		if (!(e->args = kc_calloc(src->argc, sizeof(char *))))
			goto out_nomem;
		for (; e->argc < src->argc; e->argc++)
			if (!(e->args[e->argc] = kc_strdup(src->args[e->argc])))
				goto out_nomem;
	}
	if (src->envc) {
		if (!(e->env = kc_calloc(src->envc, sizeof(kc_exec_env))))
			goto out_nomem;
		for (; e->envc < src->envc; e->envc++) {
			kc_exec_env *v = &e->env[e->envc];
			v->name = kc_strdup(src->env[e->envc].name);
			v->value = kc_strdup(src->env[e->envc].value);
			if (!v->name || !v->value) {
				e->envc++;
				goto out_nomem;
			}
		}
	}
	if ((!(e->api_version = kc_strdup(src->api_version)) && src->api_version) ||
	    (!(e->interactive_mode = kc_strdup(src->interactive_mode)) && src->interactive_mode))
		goto out_nomem;
	*out = e;
	return KC_OK;

out_nomem:
	kc__exec_config_free(e);
	return KC_ERR_NOMEM;
}

void kc__exec_result_release(kc__exec_result *r)
{
	if (!r)
		return;
	if (r->token) {
		memset(r->token, 0, strlen(r->token));
		kc_free(r->token);
	}
	kc__blob_release(&r->client_cert);
	kc__blob_release(&r->client_key);
	memset(r, 0, sizeof(*r));
}

/* ---- building argv / envp ---------------------------------------------- */

/* The KUBERNETES_EXEC_INFO value; NULL on NOMEM. Caller frees. */
static char *exec_info_json(const kc_exec_config *ec, const kc_config *cc)
{
	char *json = NULL;
	char *ca64 = NULL;
	cJSON *root = cJSON_CreateObject();
	if (!root)
		return NULL;
	cJSON *spec;
	if (!cJSON_AddStringToObject(root, "apiVersion", ec->api_version) ||
	    !cJSON_AddStringToObject(root, "kind", "ExecCredential") ||
	    !(spec = cJSON_AddObjectToObject(root, "spec")) ||
	    !cJSON_AddBoolToObject(spec, "interactive", 0))
		goto out_delete;
	if (ec->provide_cluster_info && cc) {
		cJSON *cl = cJSON_AddObjectToObject(spec, "cluster");
		if (!cl || (cc->server && !cJSON_AddStringToObject(cl, "server", cc->server)) ||
		    (cc->tls_server_name &&
		     !cJSON_AddStringToObject(cl, "tls-server-name", cc->tls_server_name)) ||
		    (cc->insecure_skip_tls_verify &&
		     !cJSON_AddBoolToObject(cl, "insecure-skip-tls-verify", 1)) ||
		    (cc->proxy_url && !cJSON_AddStringToObject(cl, "proxy-url", cc->proxy_url)))
			goto out_delete;
		if (cc->ca.data && cc->ca.len) {
			if (cc->ca.len > KC_CREDENTIAL_FILE_MAX)
				goto out_delete;
			ca64 = kc_malloc(4 * ((cc->ca.len + 2) / 3) + 1);
			if (!ca64)
				goto out_delete;
			EVP_EncodeBlock((unsigned char *)ca64, cc->ca.data, (int)cc->ca.len);
			if (!cJSON_AddStringToObject(cl, "certificate-authority-data", ca64))
				goto out_delete;
		}
	}
	json = cJSON_PrintUnformatted(root);
out_delete:
	kc_free(ca64);
	cJSON_Delete(root);
	return json;
}

/* "NAME=value" in a new allocation. */
static char *env_pair(const char *name, const char *value)
{
	size_t nl = strlen(name), vl = strlen(value);
	char *s = kc_malloc(nl + vl + 2);
	if (!s)
		return NULL;
	memcpy(s, name, nl);
	s[nl] = '=';
	memcpy(s + nl + 1, value, vl + 1);
	return s;
}

static bool env_name_is(const char *entry, const char *name)
{
	size_t n = strlen(name);
	return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

/*
 * envp for the child: inherited entries (minus those overridden), then the
 * configured ones and KUBERNETES_EXEC_INFO. owned[] lists what we allocated.
 */
typedef struct exec_env {
	char **envp;
	char **owned;
	size_t nowned;
} exec_env;

static void exec_env_release(exec_env *e)
{
	for (size_t i = 0; i < e->nowned; i++)
		kc_free(e->owned[i]);
	kc_free(e->owned);
	kc_free(e->envp);
	memset(e, 0, sizeof(*e));
}

static kc_err exec_env_build(const kc_exec_config *ec, const char *info, exec_env *e)
{
	memset(e, 0, sizeof(*e));
	size_t ninherit = 0;
	for (char **p = environ; p && *p; p++)
		ninherit++;
	e->envp = kc_calloc(ninherit + ec->envc + 2, sizeof(char *));
	e->owned = kc_calloc(ec->envc + 1, sizeof(char *));
	if (!e->envp || !e->owned)
		goto out_nomem;
	size_t n = 0;
	for (char **p = environ; p && *p; p++) {
		bool overridden = env_name_is(*p, EXEC_INFO_ENV);
		for (size_t i = 0; i < ec->envc && !overridden; i++)
			overridden = env_name_is(*p, ec->env[i].name);
		if (!overridden)
			e->envp[n++] = *p;
	}
	for (size_t i = 0; i < ec->envc; i++) {
		/* a later entry with the same name wins, as in exec.go's env list */
		bool later = false;
		for (size_t j = i + 1; j < ec->envc && !later; j++)
			later = strcmp(ec->env[i].name, ec->env[j].name) == 0;
		if (later)
			continue;
		char *s = env_pair(ec->env[i].name, ec->env[i].value);
		if (!s)
			goto out_nomem;
		e->owned[e->nowned++] = s;
		e->envp[n++] = s;
	}
	char *s = env_pair(EXEC_INFO_ENV, info);
	if (!s)
		goto out_nomem;
	e->owned[e->nowned++] = s;
	e->envp[n++] = s;
	e->envp[n] = NULL;
	return KC_OK;

out_nomem:
	exec_env_release(e);
	return KC_ERR_NOMEM;
}

/*
 * The file to execve: the command itself when it contains '/', else the first
 * executable regular file named so on $PATH (exec.LookPath). false if none.
 */
static bool resolve_command(const char *cmd, char out[EXEC_PATH_MAX])
{
	struct stat st;
	if (strchr(cmd, '/')) {
		if ((size_t)snprintf(out, EXEC_PATH_MAX, "%s", cmd) >= EXEC_PATH_MAX)
			return false;
		return stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0;
	}
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		const char *colon = strchr(path, ':');
		size_t len = colon ? (size_t)(colon - path) : strlen(path);
		int w = len ? snprintf(out, EXEC_PATH_MAX, "%.*s/%s", (int)len, path, cmd)
		            : snprintf(out, EXEC_PATH_MAX, "./%s", cmd);
		if (w > 0 && w < EXEC_PATH_MAX && stat(out, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(out, X_OK) == 0)
			return true;
		if (!colon)
			break;
		path = colon + 1;
	}
	return false;
}

/* ---- running the child ------------------------------------------------- */

/* Copy printable text of the captured stderr for a message (never stdout). */
static void sanitize_stderr(const kc_buf *b, char *out, size_t cap)
{
	size_t n = 0;
	const char *s = b->data ? b->data : "";
	size_t len = b->len;
	while (len && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' '))
		len--;
	for (size_t i = 0; i < len && n + 1 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		out[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : ' ';
	}
	out[n] = '\0';
}

/* Kill the plugin's process group and reap the child. */
static void kill_and_reap(pid_t pid)
{
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/*
 * Child side: only async-signal-safe calls between fork and execve (the
 * parent may have other threads).
 */
static void child_exec(const char *path, char **argv, char **envp, int devnull, int out_w,
                       int err_w)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGPIPE, &sa, NULL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setpgid(0, 0);
	if (dup2(devnull, 0) < 0 || dup2(out_w, 1) < 0 || dup2(err_w, 2) < 0)
		_exit(127);
	execve(path, argv, envp);
	_exit(127);
}

typedef struct run_output {
	kc_buf out;
	kc_buf err;
	int status;   /* waitpid status */
} run_output;

static kc_err run_child(const char *cmd, const char *path, char **argv, char **envp,
                        run_output *ro, kc_error_detail *d)
{
	kc_err err = KC_OK;
	int out_p[2] = { -1, -1 }, err_p[2] = { -1, -1 };
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0)
		return kc_fail(d, KC_ERR_EXEC, "exec plugin \"%s\": cannot open /dev/null: %s", cmd,
		               strerror(errno));
	if (pipe2(out_p, O_CLOEXEC) != 0 || pipe2(err_p, O_CLOEXEC) != 0) {
		err = kc_fail(d, KC_ERR_EXEC, "exec plugin \"%s\": pipe: %s", cmd, strerror(errno));
		goto out_close;
	}
	pid_t pid = fork();
	if (pid < 0) {
		err = kc_fail(d, KC_ERR_EXEC, "exec plugin \"%s\": fork: %s", cmd, strerror(errno));
		goto out_close;
	}
	if (pid == 0)
		child_exec(path, argv, envp, devnull, out_p[1], err_p[1]);
	setpgid(pid, pid); /* also in the child; whichever runs first */
	close(out_p[1]);
	close(err_p[1]);
	out_p[1] = err_p[1] = -1;

	int64_t deadline = kc_now_mono_ms() + exec_timeout_ms();
	struct pollfd pfd[2] = { { .fd = out_p[0], .events = POLLIN },
		                 { .fd = err_p[0], .events = POLLIN } };
	int open_fds = 2;
	char chunk[8192];
	while (open_fds) {
		int64_t left = deadline - kc_now_mono_ms();
		if (left <= 0) {
			kill_and_reap(pid);
			err = kc_fail(d, KC_ERR_EXEC, "exec plugin \"%s\": timed out after %lld ms",
			              cmd, (long long)exec_timeout_ms());
			goto out_close;
		}
		int pr = poll(pfd, 2, left > 1000 ? 1000 : (int)left);
		if (pr < 0 && errno != EINTR) {
			kill_and_reap(pid);
			err = kc_fail(d, KC_ERR_EXEC, "exec plugin \"%s\": poll: %s", cmd,
			              strerror(errno));
			goto out_close;
		}
		for (int i = 0; i < 2 && pr > 0; i++) {
			if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t n = read(pfd[i].fd, chunk, sizeof(chunk));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				close(pfd[i].fd);
				if (i == 0)
					out_p[0] = -1;
				else
					err_p[0] = -1;
				pfd[i].fd = -1;
				open_fds--;
				continue;
			}
			if (i == 1) {
				/* stderr beyond its cap is dropped, not an error */
				if (kc_buf_append(&ro->err, chunk, (size_t)n) == KC_ERR_NOMEM) {
					kill_and_reap(pid);
					err = kc_fail(d, KC_ERR_NOMEM, "exec plugin \"%s\": out of memory",
					              cmd);
					goto out_close;
				}
				continue;
			}
			kc_err e = kc_buf_append(&ro->out, chunk, (size_t)n);
			if (e) {
				kill_and_reap(pid);
				err = e == KC_ERR_TOOBIG
				        ? kc_fail(d, KC_ERR_TOOBIG,
				                  "exec plugin \"%s\": output is larger than %u bytes",
				                  cmd, KC_EXEC_OUTPUT_MAX)
				        : kc_fail(d, KC_ERR_NOMEM, "exec plugin \"%s\": out of memory",
				                  cmd);
				goto out_close;
			}
		}
	}
	memset(chunk, 0, sizeof(chunk));

	/* Both pipes closed; the plugin may still be running. Wait for it. */
	for (;;) {
		pid_t w = waitpid(pid, &ro->status, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			err = kc_fail(d, KC_ERR_EXEC, "exec plugin \"%s\": waitpid: %s", cmd,
			              strerror(errno));
			goto out_close;
		}
		if (kc_now_mono_ms() >= deadline) {
			kill_and_reap(pid);
			err = kc_fail(d, KC_ERR_EXEC, "exec plugin \"%s\": timed out after %lld ms",
			              cmd, (long long)exec_timeout_ms());
			goto out_close;
		}
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}

out_close:
	for (int i = 0; i < 2; i++) {
		if (out_p[i] >= 0)
			close(out_p[i]);
		if (err_p[i] >= 0)
			close(err_p[i]);
	}
	close(devnull);
	return err;
}

/* ---- parsing the ExecCredential ---------------------------------------- */

static kc_err parse_credential(const kc_exec_config *ec, const char *cmd, const kc_buf *b,
                               kc__exec_result *r, kc_error_detail *d)
{
	kc_err err = KC_OK;
	cJSON *root = cJSON_ParseWithLength(b->data ? b->data : "", b->len);
	if (!root) {
		if (kc_alloc_fail_triggered())
			return kc_fail(d, KC_ERR_NOMEM, "exec plugin \"%s\": out of memory", cmd);
		return kc_fail(d, KC_ERR_EXEC, "exec plugin \"%s\": output is not an ExecCredential "
		               "(invalid JSON)", cmd);
	}
	const char *kind = kc__json_str(root, "kind");
	const char *api = kc__json_str(root, "apiVersion");
	if (!kind || strcmp(kind, "ExecCredential") != 0) {
		err = kc_fail(d, KC_ERR_EXEC, "exec plugin \"%s\": output kind is not ExecCredential",
		              cmd);
		goto out_delete;
	}
	if (!api || strcmp(api, ec->api_version) != 0) {
		char shown[80];
		sanitize_stderr(&(kc_buf){ .data = (char *)(api ? api : "(none)"),
		                           .len = strlen(api ? api : "(none)") },
		                shown, sizeof(shown));
		err = kc_fail(d, KC_ERR_EXEC,
		              "exec plugin \"%s\": is configured to use API version %s, "
		              "plugin returned version %s", cmd, ec->api_version, shown);
		goto out_delete;
	}
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(root, "status");
	if (!cJSON_IsObject(status)) {
		err = kc_fail(d, KC_ERR_EXEC, "exec plugin \"%s\": didn't return a status field", cmd);
		goto out_delete;
	}
	const char *token = kc__json_str(status, "token");
	const char *cert = kc__json_str(status, "clientCertificateData");
	const char *key = kc__json_str(status, "clientKeyData");
	const char *exp = kc__json_str(status, "expirationTimestamp");
	if (token && !*token)
		token = NULL;
	if (cert && !*cert)
		cert = NULL;
	if (key && !*key)
		key = NULL;
	if (!!cert != !!key) {
		err = kc_fail(d, KC_ERR_EXEC, "exec plugin \"%s\": returned only certificate or key, "
		              "not both", cmd);
		goto out_delete;
	}
	if (!token && !cert) {
		err = kc_fail(d, KC_ERR_EXEC, "exec plugin \"%s\": didn't return a token or cert/key "
		              "pair", cmd);
		goto out_delete;
	}
	if (exp && *exp) {
		if (kc_time_parse(exp, &r->expiry_wall_us) != KC_OK) {
			err = kc_fail(d, KC_ERR_EXEC, "exec plugin \"%s\": status.expirationTimestamp "
			              "is not an RFC 3339 time", cmd);
			goto out_delete;
		}
		r->has_expiry = true;
	}
	if (token && !(r->token = kc_strdup(token)))
		goto out_nomem;
	if (cert) {
		kc_blob c = { (unsigned char *)(void *)cert, strlen(cert) };
		kc_blob k = { (unsigned char *)(void *)key, strlen(key) };
		if (kc__blob_copy(&r->client_cert, &c) || kc__blob_copy(&r->client_key, &k))
			goto out_nomem;
	}
	goto out_delete;

out_nomem:
	err = kc_fail(d, KC_ERR_NOMEM, "exec plugin \"%s\": out of memory", cmd);
out_delete:
	cJSON_Delete(root);
	if (err)
		kc__exec_result_release(r);
	return err;
}

/* ---- entry point ------------------------------------------------------- */

kc_err kc__exec_run(const kc_exec_config *ec, const kc_config *cluster_cfg,
                    kc__exec_result *out, kc_error_detail *d)
{
	memset(out, 0, sizeof(*out));
	if (!ec || !ec->command || !*ec->command)
		return kc_fail(d, KC_ERR_CONFIG, "exec: command is empty");
	const char *cmd = ec->command;
	if (!ec->api_version || !*ec->api_version)
		return kc_fail(d, KC_ERR_CONFIG, "exec plugin \"%s\": apiVersion is empty", cmd);
	if (ec->interactive_mode && strcmp(ec->interactive_mode, "Always") == 0)
		return kc_fail(d, KC_ERR_EXEC, "exec plugin \"%s\": interactiveMode is Always but "
		               "standard input is not a terminal", cmd);

	char path[EXEC_PATH_MAX];
	if (!resolve_command(cmd, path))
		return kc_fail(d, KC_ERR_EXEC, "exec plugin \"%s\": executable not found", cmd);

	kc_err err = KC_OK;
	char **argv = NULL;
	exec_env env = { 0 };
	run_output ro;
	kc_buf_init(&ro.out, KC_EXEC_OUTPUT_MAX);
	kc_buf_init(&ro.err, KC_EXEC_STDERR_MAX);
	ro.status = 0;

	char *info = exec_info_json(ec, cluster_cfg);
	if (!info)
		goto out_nomem;
	err = exec_env_build(ec, info, &env);
	if (err)
		goto out_nomem;
	argv = kc_calloc(ec->argc + 2, sizeof(char *));
	if (!argv)
		goto out_nomem;
	argv[0] = (char *)cmd;
	for (size_t i = 0; i < ec->argc; i++)
		argv[i + 1] = ec->args[i];

	err = run_child(cmd, path, argv, env.envp, &ro, d);
	if (err)
		goto out_free;
	if (!WIFEXITED(ro.status) || WEXITSTATUS(ro.status) != 0) {
		char msg[200];
		sanitize_stderr(&ro.err, msg, sizeof(msg));
		if (WIFSIGNALED(ro.status))
			err = kc_fail(d, KC_ERR_EXEC, "exec plugin \"%s\": killed by signal %d: %s", cmd,
			              WTERMSIG(ro.status), msg);
		else
			err = kc_fail(d, KC_ERR_EXEC, "exec plugin \"%s\": exit status %d: %s", cmd,
			              WEXITSTATUS(ro.status), msg);
		goto out_free;
	}
	err = parse_credential(ec, cmd, &ro.out, out, d);
	goto out_free;

out_nomem:
	err = kc_fail(d, KC_ERR_NOMEM, "exec plugin \"%s\": out of memory", cmd);
out_free:
	if (ro.out.data)
		memset(ro.out.data, 0, ro.out.len);
	kc_buf_release(&ro.out);
	kc_buf_release(&ro.err);
	kc_free(argv);
	exec_env_release(&env);
	kc_free(info);
	return err;
}
