/*
 * testserver.h - a small threaded HTTP/1.1 server (plain or TLS) for the
 * client's unit tests. It stands in for the API server only inside unit tests
 * of k8sclient, to drive error paths: truncated streams, 410, 429 with
 * Retry-After, garbage JSON, slow bodies. Acceptance runs against a real
 * control plane (e2e/), never against this.
 *
 * Each connection is served on its own thread; requests on a connection are
 * read one after the other (keep-alive), and the handler is called for each.
 * The handler answers with kt_respond*, or streams with kt_stream_*, or closes
 * the connection abruptly with kt_conn_close. A handler that does none of
 * these gets a 500.
 *
 * With TLS, the server makes a fresh CA at start and a server certificate for
 * "localhost" and 127.0.0.1 signed by it; kt_server_ca_pem gives the CA.
 */
#ifndef KC_TESTSERVER_H
#define KC_TESTSERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "kc/config.h"

typedef struct kt_server kt_server;
typedef struct kt_conn kt_conn;

#define KT_MAX_TARGET 8192

typedef struct kt_request {
	char method[16];
	char path[KT_MAX_TARGET];  /* the path, still percent-encoded */
	char query[KT_MAX_TARGET]; /* after '?', "" if none */
	char *headers;             /* the raw header block (lines end in \r\n) */
	char *body;                /* NUL-terminated; "" when none */
	size_t body_len;
	int conn_id;               /* 1-based number of the connection */
	int index;                 /* 1-based number of the request on the server */
} kt_request;

typedef void (*kt_handler)(void *ud, const kt_request *req, kt_conn *conn);

typedef struct kt_server_opts {
	bool tls;
	bool require_client_cert; /* TLS only: clients must present a cert from the CA */
	kt_handler handler;
	void *ud;
} kt_server_opts;

/* 0 on success. The server listens on 127.0.0.1 on an ephemeral port. */
int kt_server_start(const kt_server_opts *opts, kt_server **out);
/* Closes every connection, joins every thread, frees everything. Accepts NULL. */
void kt_server_stop(kt_server *s);

const char *kt_server_url(const kt_server *s); /* "https://127.0.0.1:PORT" */
int kt_server_port(const kt_server *s);
/* PEM of the CA that signed the server certificate (TLS servers only). */
const char *kt_server_ca_pem(const kt_server *s);
/* A client certificate and key (PEM) signed by the server's CA; free() both. */
int kt_server_issue_client_cert(kt_server *s, const char *cn, char **cert_pem, char **key_pem);
/* Connections accepted and requests read so far. */
int kt_server_connections(kt_server *s);
int kt_server_requests(kt_server *s);

/*
 * A kc_config (freed with kc_config_free) pointing at the server, with its CA
 * when it speaks TLS, and an optional static token. NULL on failure.
 */
kc_config *kt_server_config(const kt_server *s, const char *token);

/* The value of a request header (case-insensitive name) into out; NULL if absent. */
const char *kt_header(const kt_request *r, const char *name, char *out, size_t cap);
/* The value of a query parameter, percent-decoded, into out; NULL if absent. */
const char *kt_query_param(const kt_request *r, const char *name, char *out, size_t cap);

/* One complete response with Content-Length. extra_headers: "Name: v\r\n..." or NULL. */
void kt_respond(kt_conn *c, int status, const char *extra_headers, const char *body);
void kt_respond_n(kt_conn *c, int status, const char *extra_headers, const char *content_type,
                  const char *body, size_t len);
/* A chunked response (application/json), written piece by piece. */
void kt_stream_begin(kt_conn *c, int status, const char *extra_headers);
/* One chunk; -1 once the client has gone or the server is stopping. */
int kt_stream_write(kt_conn *c, const char *data, size_t len);
int kt_stream_writes(kt_conn *c, const char *s);
void kt_stream_end(kt_conn *c);
/* Raw bytes on the wire, for malformed answers. */
int kt_conn_write_raw(kt_conn *c, const char *data, size_t len);
/* Abrupt close after whatever was written (a truncated stream). */
void kt_conn_close(kt_conn *c);
/* true once the server is stopping: long-running handlers should return. */
bool kt_conn_stopping(const kt_conn *c);
/* Sleep in small steps; returns early (false) when the server is stopping. */
bool kt_conn_sleep_ms(kt_conn *c, int ms);

#endif
