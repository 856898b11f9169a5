/* testserver.c - see testserver.h. Test code: clarity over speed. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "kc/alloc.h"
#include "testcert.h"
#include "testserver.h"

#define KT_MAX_HEADERS (64 * 1024)
#define KT_MAX_BODY    (16 * 1024 * 1024)
#define KT_MAX_CONNS   256

struct kt_conn {
	kt_server *srv;
	int fd;
	SSL *ssl;
	int id;
	pthread_t thread;
	bool responded;
	bool closed;
	bool chunked;
};

struct kt_server {
	kt_server_opts opts;
	int listen_fd;
	int port;
	char url[64];
	pthread_t accept_thread;
	atomic_bool stopping;
	atomic_int nconns;
	atomic_int nrequests;
	pthread_mutex_t lock;
	kt_conn *conns[KT_MAX_CONNS];
	int conn_count;
	SSL_CTX *ctx;
	EVP_PKEY *ca_key;
	X509 *ca_cert;
	char *ca_pem;
};

/* ---- certificates (testcert.h) ------------------------------------------ */

int kt_server_issue_client_cert(kt_server *s, const char *cn, char **cert_pem, char **key_pem)
{
	if (!s->ca_cert)
		return -1;
	EVP_PKEY *key = kt_key_new();
	X509 *cert = key ? kt_cert_new(key, cn, s->ca_cert, s->ca_key, KT_CERT_CLIENT, 0) : NULL;
	int rc = -1;
	if (cert) {
		*cert_pem = kt_pem_of_cert(cert);
		*key_pem = kt_pem_of_key(key);
		rc = (*cert_pem && *key_pem) ? 0 : -1;
	}
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

static int setup_tls(kt_server *s)
{
	s->ca_key = kt_key_new();
	if (!s->ca_key)
		return -1;
	s->ca_cert = kt_cert_new(s->ca_key, "kt-test-ca", NULL, NULL, KT_CERT_CA, 0);
	EVP_PKEY *key = kt_key_new();
	X509 *cert = (s->ca_cert && key) ? kt_cert_new(key, "localhost", s->ca_cert, s->ca_key,
	                                                  KT_CERT_SERVER, 0)
	                                 : NULL;
	s->ca_pem = s->ca_cert ? kt_pem_of_cert(s->ca_cert) : NULL;
	s->ctx = SSL_CTX_new(TLS_server_method());
	int rc = -1;
	if (cert && s->ca_pem && s->ctx && SSL_CTX_use_certificate(s->ctx, cert) == 1 &&
	    SSL_CTX_use_PrivateKey(s->ctx, key) == 1) {
		if (s->opts.require_client_cert) {
			X509_STORE *store = SSL_CTX_get_cert_store(s->ctx);
			X509_STORE_add_cert(store, s->ca_cert);
			SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
			                   NULL);
		}
		rc = 0;
	}
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

/* ---- I/O ---------------------------------------------------------------- */

static int conn_write(kt_conn *c, const char *data, size_t len)
{
	if (c->closed)
		return -1;
	while (len > 0) {
		ssize_t n;
		if (c->ssl) {
			int w = SSL_write(c->ssl, data, (int)len);
			n = w > 0 ? w : -1;
		} else {
			n = send(c->fd, data, len, MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
		}
		if (n <= 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read some bytes, waking every 100 ms to notice a stopping server. */
static ssize_t conn_read(kt_conn *c, char *buf, size_t cap)
{
	for (;;) {
		if (atomic_load(&c->srv->stopping))
			return -1;
		if (!(c->ssl && SSL_pending(c->ssl) > 0)) {
			struct pollfd p = { .fd = c->fd, .events = POLLIN };
			int r = poll(&p, 1, 100);
			if (r < 0 && errno != EINTR)
				return -1;
			if (r <= 0)
				continue;
		}
		if (c->ssl) {
			int n = SSL_read(c->ssl, buf, (int)cap);
			if (n <= 0) {
				int e = SSL_get_error(c->ssl, n);
				if (e == SSL_ERROR_WANT_READ)
					continue;
				return -1;
			}
			return n;
		}
		ssize_t n = recv(c->fd, buf, cap, 0);
		if (n < 0 && errno == EINTR)
			continue;
		return n;
	}
}

static const char *status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Status";
	}
}

void kt_respond_n(kt_conn *c, int status, const char *extra_headers, const char *content_type,
                  const char *body, size_t len)
{
	char head[4096];
	int n = snprintf(head, sizeof(head),
	                 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s\r\n",
	                 status, status_text(status), content_type ? content_type : "application/json",
	                 len, extra_headers ? extra_headers : "");
	c->responded = true;
	if (n < 0 || (size_t)n >= sizeof(head) || conn_write(c, head, (size_t)n) != 0 ||
	    conn_write(c, body ? body : "", len) != 0)
		c->closed = true;
}

void kt_respond(kt_conn *c, int status, const char *extra_headers, const char *body)
{
	kt_respond_n(c, status, extra_headers, "application/json", body, body ? strlen(body) : 0);
}

void kt_stream_begin(kt_conn *c, int status, const char *extra_headers)
{
	char head[4096];
	int n = snprintf(head, sizeof(head),
	                 "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
	                 "Transfer-Encoding: chunked\r\n%s\r\n",
	                 status, status_text(status), extra_headers ? extra_headers : "");
	c->responded = true;
	c->chunked = true;
	if (n < 0 || (size_t)n >= sizeof(head) || conn_write(c, head, (size_t)n) != 0)
		c->closed = true;
}

int kt_stream_write(kt_conn *c, const char *data, size_t len)
{
	if (c->closed || atomic_load(&c->srv->stopping))
		return -1;
	if (len == 0)
		return 0;
	char size[32];
	int n = snprintf(size, sizeof(size), "%zx\r\n", len);
	if (conn_write(c, size, (size_t)n) != 0 || conn_write(c, data, len) != 0 ||
	    conn_write(c, "\r\n", 2) != 0) {
		c->closed = true;
		return -1;
	}
	return 0;
}

int kt_stream_writes(kt_conn *c, const char *s)
{
	return kt_stream_write(c, s, strlen(s));
}

void kt_stream_end(kt_conn *c)
{
	if (conn_write(c, "0\r\n\r\n", 5) != 0)
		c->closed = true;
	c->chunked = false;
}

int kt_conn_write_raw(kt_conn *c, const char *data, size_t len)
{
	c->responded = true;
	return conn_write(c, data, len);
}

void kt_conn_close(kt_conn *c)
{
	c->responded = true;
	c->closed = true;
	shutdown(c->fd, SHUT_RDWR);
}

bool kt_conn_stopping(const kt_conn *c)
{
	return atomic_load(&c->srv->stopping);
}

bool kt_conn_sleep_ms(kt_conn *c, int ms)
{
	while (ms > 0) {
		if (atomic_load(&c->srv->stopping))
			return false;
		int step = ms < 20 ? ms : 20;
		struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)step * 1000000 };
		nanosleep(&ts, NULL);
		ms -= step;
	}
	return !atomic_load(&c->srv->stopping);
}

/* ---- request parsing ---------------------------------------------------- */

const char *kt_header(const kt_request *r, const char *name, char *out, size_t cap)
{
	size_t nlen = strlen(name);
	const char *line = r->headers;
	while (line && *line) {
		const char *end = strstr(line, "\r\n");
		if (!end)
			break;
		if ((size_t)(end - line) > nlen && strncasecmp(line, name, nlen) == 0 &&
		    line[nlen] == ':') {
			const char *v = line + nlen + 1;
			while (v < end && (*v == ' ' || *v == '\t'))
				v++;
			size_t len = (size_t)(end - v);
			if (len >= cap)
				len = cap - 1;
			memcpy(out, v, len);
			out[len] = '\0';
			return out;
		}
		line = end + 2;
	}
	return NULL;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

const char *kt_query_param(const kt_request *r, const char *name, char *out, size_t cap)
{
	size_t nlen = strlen(name);
	const char *p = r->query;
	while (*p) {
		const char *amp = strchr(p, '&');
		const char *end = amp ? amp : p + strlen(p);
		if ((size_t)(end - p) >= nlen && strncmp(p, name, nlen) == 0 &&
		    (p[nlen] == '=' || p + nlen == end)) {
			const char *v = p[nlen] == '=' ? p + nlen + 1 : end;
			size_t j = 0;
			while (v < end && j + 1 < cap) {
				if (*v == '%' && end - v >= 3 && hexval(v[1]) >= 0 && hexval(v[2]) >= 0) {
					out[j++] = (char)(hexval(v[1]) * 16 + hexval(v[2]));
					v += 3;
				} else {
					out[j++] = *v == '+' ? ' ' : *v;
					v++;
				}
			}
			out[j] = '\0';
			return out;
		}
		p = amp ? amp + 1 : end;
	}
	return NULL;
}

/* Read one request into r; pending holds bytes read past the previous one. */
static int read_request(kt_conn *c, kt_request *r, char *pending, size_t *pending_len)
{
	char *buf = malloc(KT_MAX_HEADERS + 1);
	if (!buf)
		return -1;
	size_t len = *pending_len;
	memcpy(buf, pending, len);
	*pending_len = 0;
	char *end = NULL;
	for (;;) {
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end)
			break;
		if (len >= KT_MAX_HEADERS)
			goto fail;
		ssize_t n = conn_read(c, buf + len, KT_MAX_HEADERS - len);
		if (n <= 0)
			goto fail;
		len += (size_t)n;
	}
	size_t head_len = (size_t)(end - buf) + 4;
	char target[KT_MAX_TARGET];
	if (sscanf(buf, "%15s %8191s", r->method, target) != 2)
		goto fail;
	char *q = strchr(target, '?');
	if (q) {
		*q = '\0';
		snprintf(r->query, sizeof(r->query), "%s", q + 1);
	} else {
		r->query[0] = '\0';
	}
	snprintf(r->path, sizeof(r->path), "%s", target);
	const char *line_end = strstr(buf, "\r\n");
	r->headers = strndup(line_end + 2, head_len - (size_t)(line_end + 2 - buf));
	if (!r->headers)
		goto fail;
	char value[64];
	size_t body_len = 0;
	if (kt_header(r, "Content-Length", value, sizeof(value)))
		body_len = strtoul(value, NULL, 10);
	if (body_len > KT_MAX_BODY)
		goto fail;
	if (kt_header(r, "Expect", value, sizeof(value)) && strcasecmp(value, "100-continue") == 0)
		conn_write(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
	r->body = malloc(body_len + 1);
	if (!r->body)
		goto fail;
	size_t have = len - head_len;
	if (have > body_len) {
		/* pipelined bytes of the next request */
		memcpy(pending, buf + head_len + body_len, have - body_len);
		*pending_len = have - body_len;
		have = body_len;
	}
	memcpy(r->body, buf + head_len, have);
	while (have < body_len) {
		ssize_t n = conn_read(c, r->body + have, body_len - have);
		if (n <= 0)
			goto fail;
		have += (size_t)n;
	}
	r->body[body_len] = '\0';
	r->body_len = body_len;
	free(buf);
	return 0;
fail:
	free(buf);
	return -1;
}

static void *conn_main(void *arg)
{
	kt_conn *c = arg;
	kt_server *s = c->srv;
	char *pending = malloc(KT_MAX_HEADERS + 1);
	size_t pending_len = 0;
	if (!pending)
		goto out;
	if (s->ctx) {
		c->ssl = SSL_new(s->ctx);
		if (!c->ssl)
			goto out;
		SSL_set_fd(c->ssl, c->fd);
		if (SSL_accept(c->ssl) != 1)
			goto out;
	}
	while (!c->closed && !atomic_load(&s->stopping)) {
		kt_request r;
		memset(&r, 0, sizeof(r));
		if (read_request(c, &r, pending, &pending_len) != 0) {
			free(r.headers);
			free(r.body);
			break;
		}
		r.conn_id = c->id;
		r.index = atomic_fetch_add(&s->nrequests, 1) + 1;
		c->responded = false;
		s->opts.handler(s->opts.ud, &r, c);
		if (!c->responded)
			kt_respond(c, 500, NULL, "{\"kind\":\"Status\",\"message\":\"no response\"}");
		else if (c->chunked && !c->closed)
			kt_stream_end(c);
		free(r.headers);
		free(r.body);
	}
out:
	free(pending);
	if (c->ssl) {
		if (!c->closed)
			SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	shutdown(c->fd, SHUT_RDWR);
	return NULL;
}

static void *accept_main(void *arg)
{
	kt_server *s = arg;
	while (!atomic_load(&s->stopping)) {
		struct pollfd p = { .fd = s->listen_fd, .events = POLLIN };
		if (poll(&p, 1, 100) <= 0)
			continue;
		int fd = accept(s->listen_fd, NULL, NULL);
		if (fd < 0)
			continue;
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		kt_conn *c = calloc(1, sizeof(*c));
		pthread_mutex_lock(&s->lock);
		if (!c || s->conn_count >= KT_MAX_CONNS) {
			pthread_mutex_unlock(&s->lock);
			free(c);
			close(fd);
			continue;
		}
		c->srv = s;
		c->fd = fd;
		c->id = atomic_fetch_add(&s->nconns, 1) + 1;
		if (pthread_create(&c->thread, NULL, conn_main, c) != 0) {
			pthread_mutex_unlock(&s->lock);
			close(fd);
			free(c);
			continue;
		}
		s->conns[s->conn_count++] = c;
		pthread_mutex_unlock(&s->lock);
	}
	return NULL;
}

int kt_server_start(const kt_server_opts *opts, kt_server **out)
{
	/* SSL_write to a client that went away raises SIGPIPE; a test must not die of it */
	signal(SIGPIPE, SIG_IGN);
	kt_server *s = calloc(1, sizeof(*s));
	if (!s)
		return -1;
	s->opts = *opts;
	s->listen_fd = -1;
	pthread_mutex_init(&s->lock, NULL);
	if (opts->tls && setup_tls(s) != 0)
		goto fail;
	s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (s->listen_fd < 0)
		goto fail;
	int one = 1;
	setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = 0 };
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t alen = sizeof(addr);
	if (bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
	    listen(s->listen_fd, 64) != 0 ||
	    getsockname(s->listen_fd, (struct sockaddr *)&addr, &alen) != 0)
		goto fail;
	s->port = ntohs(addr.sin_port);
	snprintf(s->url, sizeof(s->url), "%s://127.0.0.1:%d", opts->tls ? "https" : "http", s->port);
	if (pthread_create(&s->accept_thread, NULL, accept_main, s) != 0)
		goto fail;
	*out = s;
	return 0;
fail:
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	SSL_CTX_free(s->ctx);
	X509_free(s->ca_cert);
	EVP_PKEY_free(s->ca_key);
	free(s->ca_pem);
	pthread_mutex_destroy(&s->lock);
	free(s);
	return -1;
}

void kt_server_stop(kt_server *s)
{
	if (!s)
		return;
	atomic_store(&s->stopping, true);
	pthread_join(s->accept_thread, NULL);
	pthread_mutex_lock(&s->lock);
	int n = s->conn_count;
	pthread_mutex_unlock(&s->lock);
	for (int i = 0; i < n; i++) {
		shutdown(s->conns[i]->fd, SHUT_RDWR);
		pthread_join(s->conns[i]->thread, NULL);
		close(s->conns[i]->fd);
		free(s->conns[i]);
	}
	close(s->listen_fd);
	SSL_CTX_free(s->ctx);
	X509_free(s->ca_cert);
	EVP_PKEY_free(s->ca_key);
	free(s->ca_pem);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

const char *kt_server_url(const kt_server *s)
{
	return s->url;
}

int kt_server_port(const kt_server *s)
{
	return s->port;
}

const char *kt_server_ca_pem(const kt_server *s)
{
	return s->ca_pem;
}

int kt_server_connections(kt_server *s)
{
	return atomic_load(&s->nconns);
}

int kt_server_requests(kt_server *s)
{
	return atomic_load(&s->nrequests);
}

kc_config *kt_server_config(const kt_server *s, const char *token)
{
	kc_config *cfg = kc_calloc(1, sizeof(*cfg));
	if (!cfg)
		return NULL;
	cfg->server = kc_strdup(s->url);
	cfg->namespace = kc_strdup("default");
	if (token)
		cfg->token = kc_strdup(token);
	if (s->ca_pem) {
		size_t n = strlen(s->ca_pem);
		cfg->ca.data = (unsigned char *)kc_strndup(s->ca_pem, n);
		cfg->ca.len = n;
	}
	if (!cfg->server || !cfg->namespace || (token && !cfg->token) || (s->ca_pem && !cfg->ca.data)) {
		kc_config_free(cfg);
		return NULL;
	}
	return cfg;
}
