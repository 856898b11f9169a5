/*
 * kubeconfig.c - load a kc_config from kubeconfig files, after client-go's
 * tools/clientcmd:
 *
 *   - loader.go (ClientConfigLoadingRules.Load): an explicit path must exist;
 *     else every file of $KUBECONFIG (':'-separated, empty entries skipped,
 *     duplicates dropped, missing files skipped), merged so that the first
 *     file to set a named cluster/user/context, or current-context, wins;
 *     else ~/.kube/config. ResolveLocalPaths: certificate-authority,
 *     client-certificate, client-key, tokenFile and an exec command that
 *     contains a '/' resolve against the folder of the file that defined them.
 *   - validation.go (ConfirmUsable): the context must name a known cluster
 *     (and user, when it names one), a cluster needs a server, CA file and
 *     data together are refused, cert/key file and data together are refused,
 *     a cert needs a key, token and basic auth together are refused, exec
 *     needs command/apiVersion/interactiveMode, the namespace is a DNS label.
 *   - transport.go (TLSConfigFor): a CA together with insecure-skip-tls-verify
 *     is refused.
 *
 * The YAML is parsed with libcyaml (allocations through kc_realloc/kc_free),
 * unknown keys ignored, anchors and aliases refused. Each file is read with the KC_KUBECONFIG_MAX_BYTES
 * cap; CA/cert/key files with KC_CREDENTIAL_FILE_MAX, into memory only.
 * Every error names the file and the field; no token, password or key
 * material is ever put into a message.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cyaml/cyaml.h>

#include "config_internal.h"
#include "kc/alloc.h"
#include "kc/base64.h"
#include "kc/config.h"
#include "kc/names.h"

/* Files in $KUBECONFIG we are willing to merge. */
#define KC_KUBECONFIG_MAX_FILES 64

/* ---- the YAML schema (clientcmd/api/v1 types, the fields we use) ------- */

typedef struct y_cluster {
	char *server;
	char *ca;
	char *ca_data;
	bool insecure;
	char *tls_server_name;
	char *proxy_url;
} y_cluster;

typedef struct y_env {
	char *name;
	char *value;
} y_env;

typedef struct y_exec {
	char *command;
	char **args;
	unsigned args_count;
	y_env *env;
	unsigned env_count;
	char *api_version;
	bool provide_cluster_info;
	char *interactive_mode;
} y_exec;

typedef struct y_user {
	char *cert;
	char *cert_data;
	char *key;
	char *key_data;
	char *token;
	char *token_file;
	char *username;
	char *password;
	y_exec *exec;
} y_user;

typedef struct y_context {
	char *cluster;
	char *user;
	char *namespace;
} y_context;

typedef struct y_named_cluster {
	char *name;
	y_cluster *cluster;
} y_named_cluster;

typedef struct y_named_user {
	char *name;
	y_user *user;
} y_named_user;

typedef struct y_named_context {
	char *name;
	y_context *context;
} y_named_context;

typedef struct y_root {
	y_named_cluster *clusters;
	unsigned clusters_count;
	y_named_user *users;
	unsigned users_count;
	y_named_context *contexts;
	unsigned contexts_count;
	char *current_context;
} y_root;

#define OPT_PTR (CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER_NULL_STR)
#define STR(key, st, member) CYAML_FIELD_STRING_PTR(key, OPT_PTR, st, member, 0, CYAML_UNLIMITED)

static const cyaml_schema_field_t cluster_fields[] = {
	STR("server", y_cluster, server),
	STR("certificate-authority", y_cluster, ca),
	STR("certificate-authority-data", y_cluster, ca_data),
	CYAML_FIELD_BOOL("insecure-skip-tls-verify", CYAML_FLAG_OPTIONAL, y_cluster, insecure),
	STR("tls-server-name", y_cluster, tls_server_name),
	STR("proxy-url", y_cluster, proxy_url),
	CYAML_FIELD_END
};

static const cyaml_schema_value_t string_ptr_schema = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 0, CYAML_UNLIMITED),
};

static const cyaml_schema_field_t env_fields[] = {
	STR("name", y_env, name),
	STR("value", y_env, value),
	CYAML_FIELD_END
};

static const cyaml_schema_value_t env_schema = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, y_env, env_fields),
};

static const cyaml_schema_field_t exec_fields[] = {
	STR("command", y_exec, command),
	CYAML_FIELD_SEQUENCE("args", OPT_PTR, y_exec, args, &string_ptr_schema, 0,
	                     CYAML_UNLIMITED),
	CYAML_FIELD_SEQUENCE("env", OPT_PTR, y_exec, env, &env_schema, 0, CYAML_UNLIMITED),
	STR("apiVersion", y_exec, api_version),
	CYAML_FIELD_BOOL("provideClusterInfo", CYAML_FLAG_OPTIONAL, y_exec, provide_cluster_info),
	STR("interactiveMode", y_exec, interactive_mode),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t user_fields[] = {
	STR("client-certificate", y_user, cert),
	STR("client-certificate-data", y_user, cert_data),
	STR("client-key", y_user, key),
	STR("client-key-data", y_user, key_data),
	STR("token", y_user, token),
	STR("tokenFile", y_user, token_file),
	STR("username", y_user, username),
	STR("password", y_user, password),
	CYAML_FIELD_MAPPING_PTR("exec", OPT_PTR, y_user, exec, exec_fields),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t context_fields[] = {
	STR("cluster", y_context, cluster),
	STR("user", y_context, user),
	STR("namespace", y_context, namespace),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t named_cluster_fields[] = {
	STR("name", y_named_cluster, name),
	CYAML_FIELD_MAPPING_PTR("cluster", OPT_PTR, y_named_cluster, cluster, cluster_fields),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t named_user_fields[] = {
	STR("name", y_named_user, name),
	CYAML_FIELD_MAPPING_PTR("user", OPT_PTR, y_named_user, user, user_fields),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t named_context_fields[] = {
	STR("name", y_named_context, name),
	CYAML_FIELD_MAPPING_PTR("context", OPT_PTR, y_named_context, context, context_fields),
	CYAML_FIELD_END
};

static const cyaml_schema_value_t named_cluster_schema = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, y_named_cluster, named_cluster_fields),
};
static const cyaml_schema_value_t named_user_schema = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, y_named_user, named_user_fields),
};
static const cyaml_schema_value_t named_context_schema = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, y_named_context, named_context_fields),
};

static const cyaml_schema_field_t root_fields[] = {
	CYAML_FIELD_SEQUENCE("clusters", OPT_PTR, y_root, clusters, &named_cluster_schema, 0,
	                     CYAML_UNLIMITED),
	CYAML_FIELD_SEQUENCE("users", OPT_PTR, y_root, users, &named_user_schema, 0,
	                     CYAML_UNLIMITED),
	CYAML_FIELD_SEQUENCE("contexts", OPT_PTR, y_root, contexts, &named_context_schema, 0,
	                     CYAML_UNLIMITED),
	STR("current-context", y_root, current_context),
	CYAML_FIELD_END
};

static const cyaml_schema_value_t root_schema = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, y_root, root_fields),
};

/* ---- cyaml glue --------------------------------------------------------- */

static void *yaml_mem(void *ctx, void *ptr, size_t size)
{
	(void)ctx;
	if (size == 0) {
		kc_free(ptr);
		return NULL;
	}
	return kc_realloc(ptr, size);
}

/* cyaml's error log for the file being parsed (it holds the line numbers). */
typedef struct yaml_log {
	char text[KC_DETAIL_MESSAGE_MAX];
	size_t len;
} yaml_log;

__attribute__((format(printf, 3, 0)))
static void yaml_log_fn(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
{
	yaml_log *log = ctx;
	if (level < CYAML_LOG_ERROR || log->len + 1 >= sizeof(log->text))
		return;
	char line[256];
	vsnprintf(line, sizeof(line), fmt, args);
	/* one line per message, newline folded, "Load: " prefix dropped */
	const char *s = strncmp(line, "Load: ", 6) == 0 ? line + 6 : line;
	while (*s == ' ' || *s == '\t')
		s++;
	if (strncmp(s, "Backtrace:", 10) == 0)
		return;
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
		n--;
	if (!n)
		return;
	int w = snprintf(log->text + log->len, sizeof(log->text) - log->len, "%s%.*s",
	                 log->len ? "; " : "", (int)n, s);
	if (w > 0)
		log->len += (size_t)w < sizeof(log->text) - log->len ? (size_t)w
		                                                      : sizeof(log->text) - log->len - 1;
}

static void yaml_config(cyaml_config_t *cfg, yaml_log *log)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->log_fn = yaml_log_fn;
	cfg->log_ctx = log;
	cfg->mem_fn = yaml_mem;
	cfg->log_level = CYAML_LOG_ERROR;
	/* No anchors/aliases: kubectl never writes them, and their expansion
	 * ("billion laughs") would defeat the byte cap on the file. */
	cfg->flags = CYAML_CFG_IGNORE_UNKNOWN_KEYS | CYAML_CFG_NO_ALIAS;
}

static void root_free(y_root *root)
{
	if (!root)
		return;
	cyaml_config_t cfg;
	yaml_log log = { .len = 0 };
	yaml_config(&cfg, &log);
	cyaml_free(&cfg, &root_schema, root, 0);
}

/* true if the bytes hold no YAML content at all (empty, blanks, comments). */
static bool yaml_is_blank(const char *s, size_t len)
{
	bool comment = false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '\n')
			comment = false;
		else if (c == '#')
			comment = true;
		else if (!comment && c != ' ' && c != '\t' && c != '\r')
			return false;
	}
	return true;
}

/*
 * Parse one file's bytes. An empty file is an empty config (loader.go's Load
 * returns a new Config for zero-length data). *out NULL then.
 */
static kc_err parse_yaml(const void *data, size_t len, const char *name, y_root **out,
                         kc_error_detail *d)
{
	*out = NULL;
	if (len > KC_KUBECONFIG_MAX_BYTES)
		return kc_fail(d, KC_ERR_TOOBIG, "%s: kubeconfig is larger than %u bytes", name,
		               KC_KUBECONFIG_MAX_BYTES);
	if (yaml_is_blank(data, len))
		return KC_OK;
	cyaml_config_t cfg;
	yaml_log log = { .len = 0 };
	log.text[0] = '\0';
	yaml_config(&cfg, &log);
	cyaml_data_t *root = NULL;
	cyaml_err_t ce = cyaml_load_data(data, len, &cfg, &root_schema, &root, NULL);
	if (ce == CYAML_ERR_OOM)
		return kc_fail(d, KC_ERR_NOMEM, "%s: out of memory", name);
	if (ce != CYAML_OK) {
		if (kc_alloc_fail_triggered())
			return kc_fail(d, KC_ERR_NOMEM, "%s: out of memory", name);
		return kc_fail(d, KC_ERR_PARSE, "%s: malformed kubeconfig: %s%s%s", name,
		               cyaml_strerror(ce), log.len ? ": " : "", log.text);
	}
	*out = root;
	return KC_OK;
}

/* ---- the set of loaded files ------------------------------------------ */

typedef struct kc_file {
	char *path;     /* as named, for messages */
	char *dir;      /* folder for relative paths; NULL = leave them as they are */
	y_root *root;   /* NULL for an empty file */
} kc_file;

typedef struct kc_fileset {
	kc_file files[KC_KUBECONFIG_MAX_FILES];
	size_t n;
} kc_fileset;

static void fileset_release(kc_fileset *set)
{
	for (size_t i = 0; i < set->n; i++) {
		kc_free(set->files[i].path);
		kc_free(set->files[i].dir);
		root_free(set->files[i].root);
	}
	set->n = 0;
}

/* The folder part of path ("." when it has none). NULL on NOMEM. */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return kc_strdup(".");
	if (slash == path)
		return kc_strdup("/");
	return kc_strndup(path, (size_t)(slash - path));
}

static kc_err fileset_add(kc_fileset *set, const char *path, const char *dir, const void *data,
                          size_t len, kc_error_detail *d)
{
	if (set->n >= KC_KUBECONFIG_MAX_FILES)
		return kc_fail(d, KC_ERR_TOOBIG, "%s: more than %d kubeconfig files", path,
		               KC_KUBECONFIG_MAX_FILES);
	kc_file *f = &set->files[set->n];
	memset(f, 0, sizeof(*f));
	f->path = kc_strdup(path);
	if (!f->path || (dir && !(f->dir = kc_strdup(dir)))) {
		kc_free(f->path);
		kc_free(f->dir);
		return kc_fail(d, KC_ERR_NOMEM, "%s: out of memory", path);
	}
	kc_err err = parse_yaml(data, len, path, &f->root, d);
	if (err) {
		kc_free(f->path);
		kc_free(f->dir);
		return err;
	}
	set->n++;
	return KC_OK;
}

/* Read and add one file. must_exist false: a missing file is skipped. */
static kc_err fileset_load(kc_fileset *set, const char *path, bool must_exist,
                           kc_error_detail *d)
{
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->files[i].path, path) == 0)
			return KC_OK; /* loader.go deduplicates the precedence list */
	struct stat st;
	if (!must_exist && stat(path, &st) != 0 && errno == ENOENT)
		return KC_OK;
	kc_blob raw;
	kc_err err = kc__read_file(path, KC_KUBECONFIG_MAX_BYTES, "kubeconfig", &raw, d);
	if (err)
		return err;
	char *dir = dir_of(path);
	if (!dir) {
		kc__blob_release(&raw);
		return kc_fail(d, KC_ERR_NOMEM, "%s: out of memory", path);
	}
	err = fileset_add(set, path, dir, raw.data, raw.len, d);
	kc_free(dir);
	kc__blob_release(&raw);
	return err;
}

/* ---- lookups across the merged files (first file, first entry wins) --- */

static const y_named_cluster *find_cluster(const kc_fileset *set, const char *name,
                                           const kc_file **from)
{
	for (size_t f = 0; f < set->n; f++) {
		const y_root *r = set->files[f].root;
		for (unsigned i = 0; r && i < r->clusters_count; i++)
			if (r->clusters[i].name && strcmp(r->clusters[i].name, name) == 0) {
				*from = &set->files[f];
				return &r->clusters[i];
			}
	}
	return NULL;
}

static const y_named_user *find_user(const kc_fileset *set, const char *name,
                                     const kc_file **from)
{
	for (size_t f = 0; f < set->n; f++) {
		const y_root *r = set->files[f].root;
		for (unsigned i = 0; r && i < r->users_count; i++)
			if (r->users[i].name && strcmp(r->users[i].name, name) == 0) {
				*from = &set->files[f];
				return &r->users[i];
			}
	}
	return NULL;
}

static const y_named_context *find_context(const kc_fileset *set, const char *name,
                                           const kc_file **from)
{
	for (size_t f = 0; f < set->n; f++) {
		const y_root *r = set->files[f].root;
		for (unsigned i = 0; r && i < r->contexts_count; i++)
			if (r->contexts[i].name && strcmp(r->contexts[i].name, name) == 0) {
				*from = &set->files[f];
				return &r->contexts[i];
			}
	}
	return NULL;
}

/* ---- building the config ----------------------------------------------- */

static bool has(const char *s)
{
	return s && *s;
}

/* path made absolute against dir (ResolvePath); NULL on NOMEM. */
static char *resolve_path(const kc_file *f, const char *path)
{
	if (path[0] == '/' || !f->dir)
		return kc_strdup(path);
	size_t dl = strlen(f->dir), pl = strlen(path);
	char *s = kc_malloc(dl + pl + 2);
	if (!s)
		return NULL;
	memcpy(s, f->dir, dl);
	s[dl] = '/';
	memcpy(s + dl + 1, path, pl + 1);
	return s;
}

/*
 * Load a PEM field: its -data form (base64) or its file form, resolved
 * against f's folder. kind/name say where it was ("cluster", "prod").
 */
static kc_err load_pem(const kc_file *f, const char *kind, const char *name, const char *field,
                       const char *file, const char *data, kc_blob *out, kc_error_detail *d)
{
	if (has(data)) {
		kc_buf raw;
		kc_buf_init(&raw, KC_KUBECONFIG_MAX_BYTES);
		kc_err err = kc_base64_decode(data, strlen(data), &raw);
		if (err == KC_OK) {
			out->len = raw.len;
			out->data = (unsigned char *)kc_buf_take(&raw);
			if (!out->data) {
				out->len = 0;
				err = KC_ERR_NOMEM;
			}
		}
		kc_buf_release(&raw);
		if (err == KC_ERR_NOMEM)
			return kc_fail(d, err, "%s: out of memory", f->path);
		if (err)
			return kc_fail(d, KC_ERR_CONFIG, "%s: %s \"%s\": %s-data is not valid base64",
			               f->path, kind, name, field);
		return KC_OK;
	}
	if (!has(file))
		return KC_OK;
	char *path = resolve_path(f, file);
	if (!path)
		return kc_fail(d, KC_ERR_NOMEM, "%s: out of memory", f->path);
	kc_error_detail inner;
	kc_detail_clear(&inner);
	kc_err err = kc__read_file(path, KC_CREDENTIAL_FILE_MAX, field, out, &inner);
	if (err)
		kc_fail(d, err, "%s: %s \"%s\": %s", f->path, kind, name, inner.message);
	kc_free(path);
	return err;
}

/* "https://" or "http://" followed by a host; what rest.DefaultServerURL needs. */
static bool server_url_ok(const char *s)
{
	const char *rest;
	if (strncasecmp(s, "https://", 8) == 0)
		rest = s + 8;
	else if (strncasecmp(s, "http://", 7) == 0)
		rest = s + 7;
	else
		return false;
	if (!*rest || *rest == '/' || *rest == ':')
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return false;
	return true;
}

/* parseProxyURL in client_config.go: http, https and socks5 with a host. */
static bool proxy_url_ok(const char *s)
{
	const char *rest;
	if (strncasecmp(s, "https://", 8) == 0)
		rest = s + 8;
	else if (strncasecmp(s, "http://", 7) == 0)
		rest = s + 7;
	else if (strncasecmp(s, "socks5://", 9) == 0)
		rest = s + 9;
	else
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return false;
	return *rest && *rest != '/';
}

static kc_err build_cluster(kc_config *c, const kc_file *f, const char *name,
                            const y_cluster *y, kc_error_detail *d)
{
	if (!y || !has(y->server))
		return kc_fail(d, KC_ERR_CONFIG, "%s: cluster \"%s\": no server found", f->path, name);
	if (!server_url_ok(y->server))
		return kc_fail(d, KC_ERR_CONFIG,
		               "%s: cluster \"%s\": server is not an https:// or http:// URL: \"%.200s\"",
		               f->path, name, y->server);
	if (has(y->ca) && has(y->ca_data))
		return kc_fail(d, KC_ERR_CONFIG, "%s: cluster \"%s\": certificate-authority-data and "
		               "certificate-authority are both specified", f->path, name);
	if (y->insecure && (has(y->ca) || has(y->ca_data)))
		return kc_fail(d, KC_ERR_CONFIG, "%s: cluster \"%s\": insecure-skip-tls-verify is set "
		               "together with a certificate-authority; specifying a root "
		               "certificate with the insecure flag is not allowed", f->path, name);
	if (has(y->proxy_url) && !proxy_url_ok(y->proxy_url))
		return kc_fail(d, KC_ERR_CONFIG, "%s: cluster \"%s\": invalid proxy-url \"%.200s\" "
		               "(want http://, https:// or socks5://)", f->path, name, y->proxy_url);

	size_t sl = strlen(y->server);
	while (sl > 0 && y->server[sl - 1] == '/')
		sl--;
	if (!(c->server = kc_strndup(y->server, sl)) ||
	    (has(y->tls_server_name) && !(c->tls_server_name = kc_strdup(y->tls_server_name))) ||
	    (has(y->proxy_url) && !(c->proxy_url = kc_strdup(y->proxy_url))))
		return kc_fail(d, KC_ERR_NOMEM, "%s: out of memory", f->path);
	c->insecure_skip_tls_verify = y->insecure;
	return load_pem(f, "cluster", name, "certificate-authority", y->ca, y->ca_data, &c->ca, d);
}

static kc_err build_exec(kc_config *c, const kc_file *f, const char *name, const y_exec *y,
                         kc_error_detail *d)
{
	if (!has(y->command))
		return kc_fail(d, KC_ERR_CONFIG, "%s: user \"%s\": exec: command must be specified",
		               f->path, name);
	if (!has(y->api_version))
		return kc_fail(d, KC_ERR_CONFIG, "%s: user \"%s\": exec: apiVersion must be specified",
		               f->path, name);
	const char *mode = y->interactive_mode;
	if (!has(mode)) {
		/* api/v1 defaults: IfAvailable for the beta versions; v1 must say it */
		if (strcmp(y->api_version, "client.authentication.k8s.io/v1") == 0)
			return kc_fail(d, KC_ERR_CONFIG, "%s: user \"%s\": exec: interactiveMode must "
			               "be specified", f->path, name);
		mode = "IfAvailable";
	} else if (strcmp(mode, "Never") != 0 && strcmp(mode, "IfAvailable") != 0 &&
	           strcmp(mode, "Always") != 0) {
		return kc_fail(d, KC_ERR_CONFIG, "%s: user \"%s\": exec: invalid interactiveMode "
		               "\"%.40s\"", f->path, name, mode);
	}
	for (unsigned i = 0; i < y->env_count; i++)
		if (!has(y->env[i].name) || strchr(y->env[i].name, '='))
			return kc_fail(d, KC_ERR_CONFIG, "%s: user \"%s\": exec: env[%u]: invalid "
			               "variable name", f->path, name, i);
	for (unsigned i = 0; i < y->args_count; i++)
		if (!y->args[i])
			return kc_fail(d, KC_ERR_CONFIG, "%s: user \"%s\": exec: args[%u] is null",
			               f->path, name, i);

	kc_exec_config *e = kc_calloc(1, sizeof(*e));
	if (!e)
		goto out_nomem;
	c->exec = e;
	e->provide_cluster_info = y->provide_cluster_info;
	/* loader.go: the command is a path relative to the file only with a '/' */
	e->command = strchr(y->command, '/') ? resolve_path(f, y->command) : kc_strdup(y->command);
	e->api_version = kc_strdup(y->api_version);
	e->interactive_mode = kc_strdup(mode);
	if (!e->command || !e->api_version || !e->interactive_mode)
		goto out_nomem;
	if (y->args_count) {
		if (!(e->args = kc_calloc(y->args_count, sizeof(char *))))
			goto out_nomem;
		for (; e->argc < y->args_count; e->argc++)
			if (!(e->args[e->argc] = kc_strdup(y->args[e->argc])))
				goto out_nomem;
	}
	if (y->env_count) {
		if (!(e->env = kc_calloc(y->env_count, sizeof(kc_exec_env))))
			goto out_nomem;
		for (; e->envc < y->env_count; e->envc++) {
			kc_exec_env *v = &e->env[e->envc];
			v->name = kc_strdup(y->env[e->envc].name);
			v->value = kc_strdup(y->env[e->envc].value ? y->env[e->envc].value : "");
			if (!v->name || !v->value) {
				e->envc++;
				goto out_nomem;
			}
		}
	}
	return KC_OK;

out_nomem:
	return kc_fail(d, KC_ERR_NOMEM, "%s: out of memory", f->path);
}

static kc_err build_user(kc_config *c, const kc_file *f, const char *name, const y_user *y,
                         kc_error_detail *d)
{
	if (!y)
		return KC_OK;
	bool has_cert = has(y->cert) || has(y->cert_data);
	bool has_key = has(y->key) || has(y->key_data);
	if (has(y->cert) && has(y->cert_data))
		return kc_fail(d, KC_ERR_CONFIG, "%s: user \"%s\": client-certificate-data and "
		               "client-certificate are both specified", f->path, name);
	if (has(y->key) && has(y->key_data))
		return kc_fail(d, KC_ERR_CONFIG, "%s: user \"%s\": client-key-data and client-key "
		               "are both specified", f->path, name);
	if (has_cert && !has_key)
		return kc_fail(d, KC_ERR_CONFIG, "%s: user \"%s\": client-key-data or client-key "
		               "must be specified to use client-certificate", f->path, name);
	if (has_key && !has_cert)
		return kc_fail(d, KC_ERR_CONFIG, "%s: user \"%s\": client-key is set without "
		               "client-certificate", f->path, name);
	if (has(y->token) && (has(y->username) || has(y->password)))
		return kc_fail(d, KC_ERR_CONFIG, "%s: user \"%s\": more than one authentication "
		               "method found (token, basicAuth); only one is allowed", f->path, name);

	kc_err err = load_pem(f, "user", name, "client-certificate", y->cert, y->cert_data,
	                      &c->client_cert, d);
	if (err)
		return err;
	err = load_pem(f, "user", name, "client-key", y->key, y->key_data, &c->client_key, d);
	if (err)
		return err;
	if ((has(y->token) && !(c->token = kc_strdup(y->token))) ||
	    (has(y->token_file) && !(c->token_file = resolve_path(f, y->token_file))) ||
	    (has(y->username) && !(c->username = kc_strdup(y->username))) ||
	    (has(y->password) && !(c->password = kc_strdup(y->password))))
		return kc_fail(d, KC_ERR_NOMEM, "%s: out of memory", f->path);
	if (y->exec)
		return build_exec(c, f, name, y->exec, d);
	return KC_OK;
}

/* Pick the context and assemble the config (client_config.go ClientConfig). */
static kc_err resolve(const kc_fileset *set, const char *context, kc_config **out,
                      kc_error_detail *d)
{
	if (set->n == 0)
		return kc_fail(d, KC_ERR_CONFIG, "no kubeconfig file found");
	const char *first = set->files[0].path;
	const kc_file *ctx_file = &set->files[0];
	const char *ctx_name = context;
	if (!has(ctx_name)) {
		ctx_name = NULL;
		for (size_t i = 0; i < set->n && !ctx_name; i++) {
			const y_root *r = set->files[i].root;
			if (r && has(r->current_context)) {
				ctx_name = r->current_context;
				ctx_file = &set->files[i];
			}
		}
		if (!ctx_name)
			return kc_fail(d, KC_ERR_CONFIG, "%s: no current-context is set and no context "
			               "was given", first);
	}
	const y_named_context *nc = find_context(set, ctx_name, &ctx_file);
	if (!nc)
		return kc_fail(d, KC_ERR_CONFIG, "%s: context \"%s\" not found", ctx_file->path,
		               ctx_name);
	const y_context *yc = nc->context;
	if (!yc || !has(yc->cluster))
		return kc_fail(d, KC_ERR_CONFIG, "%s: context \"%s\": cluster was not specified",
		               ctx_file->path, ctx_name);
	const kc_file *cl_file = NULL, *us_file = NULL;
	const y_named_cluster *ncl = find_cluster(set, yc->cluster, &cl_file);
	if (!ncl)
		return kc_fail(d, KC_ERR_CONFIG, "%s: context \"%s\" refers to unknown cluster \"%s\"",
		               ctx_file->path, ctx_name, yc->cluster);
	const y_named_user *nu = NULL;
	if (has(yc->user)) {
		nu = find_user(set, yc->user, &us_file);
		if (!nu)
			return kc_fail(d, KC_ERR_CONFIG, "%s: context \"%s\" refers to unknown user "
			               "\"%s\"", ctx_file->path, ctx_name, yc->user);
	}
	if (has(yc->namespace) && !kc_is_dns_label(yc->namespace, strlen(yc->namespace)))
		return kc_fail(d, KC_ERR_CONFIG, "%s: context \"%s\": namespace \"%.80s\" is not a "
		               "valid DNS label", ctx_file->path, ctx_name, yc->namespace);

	kc_config *c = kc_calloc(1, sizeof(*c));
	if (!c)
		return kc_fail(d, KC_ERR_NOMEM, "%s: out of memory", first);
	kc_err err = build_cluster(c, cl_file, ncl->name, ncl->cluster, d);
	if (err)
		goto out_free;
	if (nu) {
		err = build_user(c, us_file, nu->name, nu->user, d);
		if (err)
			goto out_free;
	}
	c->namespace = kc_strdup(has(yc->namespace) ? yc->namespace : "default");
	c->context_name = kc_strdup(ctx_name);
	if (!c->namespace || !c->context_name) {
		err = kc_fail(d, KC_ERR_NOMEM, "%s: out of memory", first);
		goto out_free;
	}
	*out = c;
	return KC_OK;

out_free:
	kc_config_free(c);
	return err;
}

/* ---- entry points ----------------------------------------------------- */

kc_err kc__kubeconfig_parse_mem(const void *data, size_t len, const char *name,
                                const char *base_dir, const char *context,
                                kc_config **out, kc_error_detail *d)
{
	if (!out || (!data && len))
		return kc_fail(d, KC_ERR_INVALID, "kubeconfig: no data");
	kc_fileset *set = kc_calloc(1, sizeof(*set));
	if (!set)
		return kc_fail(d, KC_ERR_NOMEM, "out of memory");
	kc_err err = fileset_add(set, name ? name : "(memory)", base_dir, data, len, d);
	if (!err)
		err = resolve(set, context, out, d);
	fileset_release(set);
	kc_free(set);
	return err;
}

/* Load every file of a ':'-separated list, skipping empty and missing ones. */
static kc_err load_list(kc_fileset *set, const char *list, kc_error_detail *d)
{
	const char *p = list;
	while (*p) {
		const char *colon = strchr(p, ':');
		size_t len = colon ? (size_t)(colon - p) : strlen(p);
		if (len) {
			char *path = kc_strndup(p, len);
			if (!path)
				return kc_fail(d, KC_ERR_NOMEM, "out of memory");
			kc_err err = fileset_load(set, path, false, d);
			kc_free(path);
			if (err)
				return err;
		}
		if (!colon)
			break;
		p = colon + 1;
	}
	if (set->n == 0)
		return kc_fail(d, KC_ERR_CONFIG, "KUBECONFIG=\"%.300s\": none of the files exist",
		               list);
	return KC_OK;
}

kc_err kc_config_load_kubeconfig(const char *explicit_path, const char *context,
                                 kc_config **out, kc_error_detail *d)
{
	if (!out)
		return kc_fail(d, KC_ERR_INVALID, "kc_config_load_kubeconfig: out is NULL");
	kc_fileset *set = kc_calloc(1, sizeof(*set));
	if (!set)
		return kc_fail(d, KC_ERR_NOMEM, "out of memory");
	kc_err err;
	const char *env = getenv("KUBECONFIG");
	if (has(explicit_path)) {
		err = fileset_load(set, explicit_path, true, d);
	} else if (has(env)) {
		err = load_list(set, env, d);
	} else {
		const char *home = getenv("HOME");
		if (!has(home)) {
			err = kc_fail(d, KC_ERR_CONFIG, "no kubeconfig: KUBECONFIG and HOME are unset");
			goto out_free;
		}
		size_t hl = strlen(home);
		char *path = kc_malloc(hl + sizeof("/.kube/config"));
		if (!path) {
			err = kc_fail(d, KC_ERR_NOMEM, "out of memory");
			goto out_free;
		}
		memcpy(path, home, hl);
		memcpy(path + hl, "/.kube/config", sizeof("/.kube/config"));
		err = fileset_load(set, path, true, d);
		kc_free(path);
	}
	if (!err)
		err = resolve(set, context, out, d);
out_free:
	fileset_release(set);
	kc_free(set);
	return err;
}

kc_err kc_config_load_default(const char *explicit_path, const char *context,
                              kc_config **out, kc_error_detail *d)
{
	if (has(explicit_path))
		return kc_config_load_kubeconfig(explicit_path, context, out, d);
	if (has(getenv("KUBERNETES_SERVICE_HOST")) && !has(getenv("KUBECONFIG")))
		return kc_config_in_cluster(NULL, out, d);
	return kc_config_load_kubeconfig(NULL, context, out, d);
}
