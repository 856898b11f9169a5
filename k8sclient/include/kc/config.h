/*
 * kc/config.h - where the client connects and how it authenticates.
 *
 * A kc_config is plain data describing one cluster endpoint and credentials,
 * loaded from a kubeconfig (client-go's clientcmd loading rules) or from the
 * in-cluster service-account environment (client-go's rest.InClusterConfig).
 * Certificates and keys are held in memory as PEM bytes and are never written
 * to disk. Credentials that change over time (token files, exec plugins) are
 * not resolved here but by kc_auth (below), which the HTTP client consults
 * before each request.
 */
#ifndef KC_CONFIG_H
#define KC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kc/error.h"

/* Hard caps on what the loaders read. */
#define KC_KUBECONFIG_MAX_BYTES   (4u << 20)  /* one kubeconfig file */
#define KC_CREDENTIAL_FILE_MAX    (1u << 20)  /* CA, cert, key, token file */
#define KC_EXEC_OUTPUT_MAX        (1u << 20)  /* an exec plugin's stdout */

typedef struct kc_blob {
	unsigned char *data; /* owned; NULL when absent */
	size_t len;
} kc_blob;

typedef struct kc_exec_env {
	char *name;
	char *value;
} kc_exec_env;

/* users[].user.exec (client.authentication.k8s.io/v1). */
typedef struct kc_exec_config {
	char *command;          /* resolved against the kubeconfig's folder if relative with a '/' */
	char **args;            /* argc entries, not NULL-terminated */
	size_t argc;
	kc_exec_env *env;
	size_t envc;
	char *api_version;      /* e.g. "client.authentication.k8s.io/v1" */
	bool provide_cluster_info;
	char *interactive_mode; /* "Never" | "IfAvailable" | "Always"; firebreak never has a TTY */
} kc_exec_config;

typedef struct kc_config {
	char *server;            /* "https://host:port" (IPv6 hosts bracketed), no trailing '/' */
	char *tls_server_name;   /* SNI / name to verify; NULL = host of server */
	char *proxy_url;         /* NULL = none (environment proxies are NOT used implicitly) */
	bool insecure_skip_tls_verify; /* only when explicitly set in the kubeconfig */
	kc_blob ca;              /* PEM bundle; empty = system trust store (never "no checks") */
	kc_blob client_cert;     /* PEM */
	kc_blob client_key;      /* PEM */
	char *token;             /* static bearer token */
	char *token_file;        /* bearer token file, re-read as it rotates */
	kc_exec_config *exec;    /* NULL when no exec plugin */
	char *username, *password; /* basic auth, rarely used */
	char *namespace;         /* context namespace, in-cluster namespace, or "default" */
	char *context_name;      /* NULL in cluster */
	bool in_cluster;
} kc_config;

/* Free the contents and the struct. Accepts NULL. */
void kc_config_free(kc_config *cfg);

/*
 * Deep copy of src into a new config the caller owns (kc_config_free).
 * KC_ERR_NOMEM / KC_ERR_INVALID leave *out untouched.
 */
kc_err kc_config_dup(const kc_config *src, kc_config **out);

/*
 * Load from kubeconfig files, with client-go's precedence:
 *   explicit_path if not NULL, else every file of $KUBECONFIG (':'-separated,
 *   merged, the first file to set a map key wins), else ~/.kube/config.
 * context: use this context instead of current-context (NULL = current).
 * Relative paths in a file resolve against that file's folder.
 * Files it reads (kubeconfigs, CA/cert/key) must be regular files within
 * their caps (KC_ERR_TOOBIG otherwise); YAML anchors/aliases are refused.
 * Validation follows clientcmd's ConfirmUsable (see src/kubeconfig.c).
 * On failure *out is untouched and d says which file and field was wrong
 * (never a token, password or key).
 */
kc_err kc_config_load_kubeconfig(const char *explicit_path, const char *context,
                                 kc_config **out, kc_error_detail *d);

/*
 * In-cluster: KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT (IPv6-safe),
 * the service-account token file (kept as token_file, so it is re-read), its
 * ca.crt, and the namespace from POD_NAMESPACE, else the namespace file, else
 * "default". sa_dir NULL = /var/run/secrets/kubernetes.io/serviceaccount.
 * KC_ERR_CONFIG when not running in a cluster.
 */
kc_err kc_config_in_cluster(const char *sa_dir, kc_config **out, kc_error_detail *d);

/*
 * What firebreak uses: explicit path if given; else in-cluster when
 * KUBERNETES_SERVICE_HOST is set and no $KUBECONFIG; else the kubeconfig rules.
 */
kc_err kc_config_load_default(const char *explicit_path, const char *context,
                              kc_config **out, kc_error_detail *d);

/*
 * kc_auth: the credential source behind a config (thread-safe).
 *   - static token;
 *   - token_file: re-read when older than KC_TOKEN_REREAD_MS and after a 401;
 *     a failed read keeps the previous token (client-go's cachingTokenSource);
 *   - exec plugin: run (fork/exec, no shell, env list + KUBERNETES_EXEC_INFO),
 *     output cached until status.expirationTimestamp, re-run after a 401;
 *   - client certificate/key from the config or from the exec plugin.
 */
#define KC_TOKEN_REREAD_MS 60000

typedef struct kc_auth kc_auth;

typedef struct kc_credentials {
	char *token;           /* NULL when no bearer token */
	kc_blob client_cert;   /* PEM; empty when none */
	kc_blob client_key;
	char *username, *password;
} kc_credentials;

/* cfg is copied; the auth source does not refer to it afterwards. */
kc_err kc_auth_new(const kc_config *cfg, kc_auth **out, kc_error_detail *d);
void kc_auth_free(kc_auth *a);
/*
 * Current credentials, refreshed as needed; the caller owns *out and frees it
 * with kc_credentials_release. now_mono_ms is the monotonic clock (tests pass
 * their own). On failure *out is zeroed.
 */
kc_err kc_auth_get(kc_auth *a, int64_t now_mono_ms, kc_credentials *out, kc_error_detail *d);
/*
 * A request got 401: the next kc_auth_get re-reads the token file / re-runs
 * the plugin. Exec plugins are killed after 30 s (KC_EXEC_TIMEOUT_MS).
 * Accepts NULL.
 */
void kc_auth_invalidate(kc_auth *a);
void kc_credentials_release(kc_credentials *c);

#endif
