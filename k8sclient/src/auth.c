/*
 * auth.c - kc_auth, the credential source behind a config, plus the config
 * lifetime (kc_config_free / kc_config_dup) and small helpers the config
 * module's files share.
 *
 * Mirrors client-go:
 *   - transport/token_source.go: NewCachedFileTokenSource re-reads a token
 *     file once the cached value is older than a minute; when a re-read fails
 *     the previous token is kept (cachingTokenSource.Token logs and returns
 *     ts.tok); ResetTokenOlderThan, called after a 401, forces the next read.
 *   - plugin/pkg/client/auth/exec/exec.go: credentials cached until
 *     status.expirationTimestamp (none = until a 401), re-run after a 401
 *     (maybeRefreshCreds).
 *
 * Precedence of bearer tokens follows client-go's transport config: a token
 * file (re-read) over a static token, and either of them over an exec
 * plugin's token (exec's roundTripper leaves an existing Authorization header
 * alone). A certificate from the plugin replaces the config's.
 *
 * Thread-safety: one mutex per kc_auth; the plugin runs under it, so
 * concurrent callers wait for one run instead of starting several.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_internal.h"
#include "kc/alloc.h"
#include "kc/buf.h"
#include "kc/config.h"
#include "kc/time.h"

/* ---- shared helpers ---------------------------------------------------- */

void kc__blob_release(kc_blob *b)
{
	if (!b)
		return;
	if (b->data) {
		/* may hold a private key: do not leave it in freed memory */
		memset(b->data, 0, b->len);
		kc_free(b->data);
	}
	b->data = NULL;
	b->len = 0;
}

kc_err kc__blob_copy(kc_blob *dst, const kc_blob *src)
{
	dst->data = NULL;
	dst->len = 0;
	if (!src || !src->data)
		return KC_OK;
	dst->data = kc_malloc(src->len + 1);
	if (!dst->data)
		return KC_ERR_NOMEM;
	memcpy(dst->data, src->data, src->len);
	dst->data[src->len] = '\0';
	dst->len = src->len;
	return KC_OK;
}

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

char *kc__strdup_trimmed(const char *s, size_t len)
{
	while (len && is_space((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len && is_space((unsigned char)s[len - 1]))
		len--;
	return kc_strndup(s, len);
}

kc_err kc__read_file(const char *path, size_t cap, const char *what, kc_blob *out,
                     kc_error_detail *d)
{
	out->data = NULL;
	out->len = 0;
	/* O_NONBLOCK: a FIFO planted at the path must not hang us in open() */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return kc_fail(d, KC_ERR_IO, "%s: cannot read %s: %s", path, what, strerror(errno));

	kc_err err = KC_OK;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		err = kc_fail(d, KC_ERR_IO, "%s: cannot read %s: not a regular file", path, what);
		goto out_close;
	}
	kc_buf b;
	kc_buf_init(&b, cap);
	char chunk[16384];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = kc_fail(d, KC_ERR_IO, "%s: cannot read %s: %s", path, what,
			              strerror(errno));
			goto out_release_buf;
		}
		if (n == 0)
			break;
		err = kc_buf_append(&b, chunk, (size_t)n);
		if (err == KC_ERR_TOOBIG) {
			err = kc_fail(d, KC_ERR_TOOBIG, "%s: %s is larger than %zu bytes", path,
			              what, cap);
			goto out_release_buf;
		}
		if (err) {
			err = kc_fail(d, err, "%s: reading %s: out of memory", path, what);
			goto out_release_buf;
		}
	}
	memset(chunk, 0, sizeof(chunk));
	out->len = b.len;
	out->data = (unsigned char *)kc_buf_take(&b);
	if (!out->data) {
		out->len = 0;
		err = kc_fail(d, KC_ERR_NOMEM, "%s: reading %s: out of memory", path, what);
	}
	goto out_close;

out_release_buf:
	memset(chunk, 0, sizeof(chunk));
	if (b.data)
		memset(b.data, 0, b.len);
	kc_buf_release(&b);
out_close:
	close(fd);
	return err;
}

/* ---- config lifetime --------------------------------------------------- */

static void free_secret_str(char *s)
{
	if (!s)
		return;
	memset(s, 0, strlen(s));
	kc_free(s);
}

void kc_config_free(kc_config *cfg)
{
	if (!cfg)
		return;
	kc_free(cfg->server);
	kc_free(cfg->tls_server_name);
	kc_free(cfg->proxy_url);
	kc__blob_release(&cfg->ca);
	kc__blob_release(&cfg->client_cert);
	kc__blob_release(&cfg->client_key);
	free_secret_str(cfg->token);
	kc_free(cfg->token_file);
	kc__exec_config_free(cfg->exec);
	kc_free(cfg->username);
	free_secret_str(cfg->password);
	kc_free(cfg->namespace);
	kc_free(cfg->context_name);
	kc_free(cfg);
}

/* kc_strdup that reports failure only when there was something to copy. */
static bool dup_opt(char **dst, const char *src)
{
	*dst = kc_strdup(src);
	return !src || *dst;
}

kc_err kc_config_dup(const kc_config *src, kc_config **out)
{
	if (!src || !out)
		return KC_ERR_INVALID;
	kc_config *c = kc_calloc(1, sizeof(*c));
	if (!c)
		return KC_ERR_NOMEM;
	c->insecure_skip_tls_verify = src->insecure_skip_tls_verify;
	c->in_cluster = src->in_cluster;
	if (!dup_opt(&c->server, src->server) ||
	    !dup_opt(&c->tls_server_name, src->tls_server_name) ||
	    !dup_opt(&c->proxy_url, src->proxy_url) || !dup_opt(&c->token, src->token) ||
	    !dup_opt(&c->token_file, src->token_file) ||
	    !dup_opt(&c->username, src->username) || !dup_opt(&c->password, src->password) ||
	    !dup_opt(&c->namespace, src->namespace) ||
	    !dup_opt(&c->context_name, src->context_name) ||
	    kc__blob_copy(&c->ca, &src->ca) || kc__blob_copy(&c->client_cert, &src->client_cert) ||
	    kc__blob_copy(&c->client_key, &src->client_key) ||
	    (src->exec && kc__exec_config_copy(src->exec, &c->exec)))
		goto out_nomem;
	*out = c;
	return KC_OK;

out_nomem:
	kc_config_free(c);
	return KC_ERR_NOMEM;
}

/* ---- kc_auth ----------------------------------------------------------- */

struct kc_auth {
	pthread_mutex_t mu;
	/* What the config said; immutable after kc_auth_new. The copy also
	 * supplies spec.cluster to exec plugins that ask for it. */
	kc_config *cfg;

	/* token file cache (cachingTokenSource) */
	char *file_token;         /* NULL until the first successful read */
	int64_t file_read_mono;   /* when file_token was read */
	bool file_stale;          /* invalidated: re-read on the next get */

	/* exec plugin cache */
	kc__exec_result exec;
	bool exec_valid;
	bool exec_has_deadline;
	int64_t exec_deadline_mono;
};

kc_err kc_auth_new(const kc_config *cfg, kc_auth **out, kc_error_detail *d)
{
	if (!cfg || !out)
		return kc_fail(d, KC_ERR_INVALID, "kc_auth_new: no config");
	kc_auth *a = kc_calloc(1, sizeof(*a));
	if (!a)
		return kc_fail(d, KC_ERR_NOMEM, "out of memory");
	kc_err err = kc_config_dup(cfg, &a->cfg);
	if (err) {
		kc_free(a);
		return kc_fail(d, err, "out of memory");
	}
	if (pthread_mutex_init(&a->mu, NULL) != 0) {
		kc_config_free(a->cfg);
		kc_free(a);
		return kc_fail(d, KC_ERR_NOMEM, "cannot create mutex");
	}
	*out = a;
	return KC_OK;
}

void kc_auth_free(kc_auth *a)
{
	if (!a)
		return;
	pthread_mutex_destroy(&a->mu);
	kc_config_free(a->cfg);
	free_secret_str(a->file_token);
	kc__exec_result_release(&a->exec);
	kc_free(a);
}

void kc_auth_invalidate(kc_auth *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	a->file_stale = true;
	a->exec_valid = false;
	pthread_mutex_unlock(&a->mu);
}

void kc_credentials_release(kc_credentials *c)
{
	if (!c)
		return;
	free_secret_str(c->token);
	kc__blob_release(&c->client_cert);
	kc__blob_release(&c->client_key);
	kc_free(c->username);
	free_secret_str(c->password);
	memset(c, 0, sizeof(*c));
}

/*
 * Refresh the token file cache if it is due (first use, older than
 * KC_TOKEN_REREAD_MS, or invalidated). A failed read is an error only when
 * there is no previous token to keep (cachingTokenSource.Token).
 */
static kc_err refresh_token_file(kc_auth *a, int64_t now, kc_error_detail *d)
{
	if (a->file_token && !a->file_stale && now - a->file_read_mono < KC_TOKEN_REREAD_MS)
		return KC_OK;
	kc_blob raw;
	kc_err err = kc__read_file(a->cfg->token_file, KC_CREDENTIAL_FILE_MAX, "tokenFile", &raw, d);
	char *tok = NULL;
	if (!err) {
		tok = kc__strdup_trimmed((const char *)raw.data, raw.len);
		kc__blob_release(&raw);
		if (!tok)
			err = kc_fail(d, KC_ERR_NOMEM, "%s: reading tokenFile: out of memory",
			              a->cfg->token_file);
		else if (!*tok)
			err = kc_fail(d, KC_ERR_CONFIG, "%s: tokenFile is empty", a->cfg->token_file);
	}
	if (err) {
		free_secret_str(tok);
		if (a->file_token) {
			/* keep the previous token; try again on the next call */
			kc_detail_clear(d);
			return KC_OK;
		}
		return err;
	}
	free_secret_str(a->file_token);
	a->file_token = tok;
	a->file_read_mono = now;
	a->file_stale = false;
	return KC_OK;
}

static kc_err refresh_exec(kc_auth *a, int64_t now, kc_error_detail *d)
{
	if (a->exec_valid && (!a->exec_has_deadline || now < a->exec_deadline_mono))
		return KC_OK;
	kc__exec_result r;
	kc_err err = kc__exec_run(a->cfg->exec, a->cfg, &r, d);
	if (err)
		return err;
	kc__exec_result_release(&a->exec);
	a->exec = r;
	a->exec_valid = true;
	a->exec_has_deadline = r.has_expiry;
	if (r.has_expiry) {
		/* Expiry is wall time; judge it on the monotonic clock from now on. */
		int64_t left_ms = (r.expiry_wall_us - kc_now_wall_us()) / 1000;
		if (left_ms < 0)
			left_ms = 0;
		a->exec_deadline_mono = now + left_ms;
	}
	return KC_OK;
}

kc_err kc_auth_get(kc_auth *a, int64_t now_mono_ms, kc_credentials *out, kc_error_detail *d)
{
	memset(out, 0, sizeof(*out));
	if (!a)
		return kc_fail(d, KC_ERR_INVALID, "kc_auth_get: no auth");
	const kc_config *cfg = a->cfg;
	kc_err err = KC_OK;
	pthread_mutex_lock(&a->mu);

	if (cfg->token_file) {
		err = refresh_token_file(a, now_mono_ms, d);
		if (err)
			goto out_unlock;
	}
	if (cfg->exec) {
		err = refresh_exec(a, now_mono_ms, d);
		if (err)
			goto out_unlock;
	}

	const char *token = NULL;
	if (cfg->token_file && a->file_token)
		token = a->file_token;
	else if (cfg->token && *cfg->token)
		token = cfg->token;
	else if (cfg->exec && a->exec.token)
		token = a->exec.token;
	const kc_blob *cert = &cfg->client_cert, *key = &cfg->client_key;
	if (cfg->exec && a->exec.client_cert.data) {
		cert = &a->exec.client_cert;
		key = &a->exec.client_key;
	}

	if ((token && !(out->token = kc_strdup(token))) || kc__blob_copy(&out->client_cert, cert) ||
	    kc__blob_copy(&out->client_key, key) || !dup_opt(&out->username, cfg->username) ||
	    !dup_opt(&out->password, cfg->password)) {
		kc_credentials_release(out);
		err = kc_fail(d, KC_ERR_NOMEM, "credentials: out of memory");
	}

out_unlock:
	pthread_mutex_unlock(&a->mu);
	return err;
}
