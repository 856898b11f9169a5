/*
 * incluster.c - the in-cluster config, as client-go's rest.InClusterConfig:
 *
 *   - host and port from KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT,
 *     joined like net.JoinHostPort (an IPv6 literal gets brackets:
 *     "https://[fd00::1]:443");
 *   - the service-account token is kept as token_file, so kc_auth re-reads
 *     it as it rotates (InClusterConfig sets BearerTokenFile; bound tokens
 *     expire); it must be readable now, as InClusterConfig checks;
 *   - ca.crt loaded into memory (InClusterConfig logs and goes on without it;
 *     we do the same when it is missing: the system trust store applies);
 *   - the namespace from POD_NAMESPACE, else the namespace file, else
 *     "default" (clientcmd's inClusterClientConfig.Namespace).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_internal.h"
#include "kc/alloc.h"
#include "kc/config.h"

#define SA_DIR_DEFAULT "/var/run/secrets/kubernetes.io/serviceaccount"

/* dir + "/" + name; NULL on NOMEM. */
static char *join_path(const char *dir, const char *name)
{
	size_t dl = strlen(dir), nl = strlen(name);
	while (dl > 1 && dir[dl - 1] == '/')
		dl--;
	char *s = kc_malloc(dl + nl + 2);
	if (!s)
		return NULL;
	memcpy(s, dir, dl);
	s[dl] = '/';
	memcpy(s + dl + 1, name, nl + 1);
	return s;
}

/* Host and port characters we accept (no '/', '@', spaces, brackets inside). */
static bool host_ok(const char *h)
{
	if (!*h)
		return false;
	for (const char *p = h; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= ' ' || c >= 0x7f || c == '/' || c == '@' || c == '[' || c == ']' ||
		    c == '?' || c == '#')
			return false;
	}
	return true;
}

static bool port_ok(const char *p)
{
	if (!*p || strlen(p) > 5)
		return false;
	long v = 0;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (*p - '0');
	}
	return v > 0 && v <= 65535;
}

/* "https://" + JoinHostPort(host, port). NULL on NOMEM. */
static char *server_url(const char *host, const char *port)
{
	bool v6 = strchr(host, ':') != NULL;
	size_t n = strlen("https://") + strlen(host) + strlen(port) + 4;
	char *s = kc_malloc(n);
	if (!s)
		return NULL;
	snprintf(s, n, v6 ? "https://[%s]:%s" : "https://%s:%s", host, port);
	return s;
}

/* Namespace file contents, trimmed; *out NULL when absent or empty. */
static kc_err read_namespace_file(const char *sa_dir, char **out, kc_error_detail *d)
{
	*out = NULL;
	char *path = join_path(sa_dir, "namespace");
	if (!path)
		return kc_fail(d, KC_ERR_NOMEM, "out of memory");
	kc_blob raw;
	kc_error_detail ignored;
	kc_err err = kc__read_file(path, KC_CREDENTIAL_FILE_MAX, "namespace", &raw, &ignored);
	kc_free(path);
	if (err == KC_ERR_NOMEM)
		return kc_fail(d, err, "out of memory");
	if (err)
		return KC_OK; /* unreadable: fall back to "default" */
	char *ns = kc__strdup_trimmed((const char *)raw.data, raw.len);
	kc__blob_release(&raw);
	if (!ns)
		return kc_fail(d, KC_ERR_NOMEM, "out of memory");
	if (!*ns) {
		kc_free(ns);
		return KC_OK;
	}
	*out = ns;
	return KC_OK;
}

kc_err kc_config_in_cluster(const char *sa_dir, kc_config **out, kc_error_detail *d)
{
	if (!out)
		return kc_fail(d, KC_ERR_INVALID, "kc_config_in_cluster: out is NULL");
	if (!sa_dir)
		sa_dir = SA_DIR_DEFAULT;
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	if (!host || !*host || !port || !*port)
		return kc_fail(d, KC_ERR_CONFIG, "unable to load in-cluster configuration, "
		               "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined");
	/* A bracketed literal in the variable is accepted as is. */
	char *bare = NULL;
	size_t hl = strlen(host);
	if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
		bare = kc_strndup(host + 1, hl - 2);
		if (!bare)
			return kc_fail(d, KC_ERR_NOMEM, "out of memory");
		host = bare;
	}
	kc_err err = KC_OK;
	kc_config *c = NULL;
	if (!host_ok(host)) {
		err = kc_fail(d, KC_ERR_CONFIG, "KUBERNETES_SERVICE_HOST \"%.100s\" is not a host",
		              host);
		goto out_free;
	}
	if (!port_ok(port)) {
		err = kc_fail(d, KC_ERR_CONFIG, "KUBERNETES_SERVICE_PORT \"%.20s\" is not a port",
		              port);
		goto out_free;
	}
	c = kc_calloc(1, sizeof(*c));
	if (!c)
		goto out_nomem;
	c->in_cluster = true;
	if (!(c->server = server_url(host, port)) ||
	    !(c->token_file = join_path(sa_dir, "token")))
		goto out_nomem;

	/* InClusterConfig reads the token once up front: it must be readable. */
	kc_blob tok;
	err = kc__read_file(c->token_file, KC_CREDENTIAL_FILE_MAX, "service account token", &tok, d);
	if (err)
		goto out_free;
	kc__blob_release(&tok);

	char *ca_path = join_path(sa_dir, "ca.crt");
	if (!ca_path)
		goto out_nomem;
	if (access(ca_path, F_OK) == 0 || errno != ENOENT)
		err = kc__read_file(ca_path, KC_CREDENTIAL_FILE_MAX, "ca.crt", &c->ca, d);
	kc_free(ca_path);
	if (err)
		goto out_free;

	const char *env_ns = getenv("POD_NAMESPACE");
	if (env_ns && *env_ns) {
		if (!(c->namespace = kc_strdup(env_ns)))
			goto out_nomem;
	} else {
		err = read_namespace_file(sa_dir, &c->namespace, d);
		if (err)
			goto out_free;
		if (!c->namespace && !(c->namespace = kc_strdup("default")))
			goto out_nomem;
	}
	*out = c;
	kc_free(bare);
	return KC_OK;

out_nomem:
	err = kc_fail(d, KC_ERR_NOMEM, "out of memory");
out_free:
	kc_config_free(c);
	kc_free(bare);
	return err;
}
