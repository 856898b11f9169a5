/*
 * httpserver.h - the small HTTP server for /metrics, /healthz and /readyz,
 * on libwebsockets, in a thread of its own. GET only; every answer is built
 * whole by the caller's serve() and sent with Content-Length.
 */
#ifndef FB_HTTPSERVER_H
#define FB_HTTPSERVER_H

#include <stddef.h>

typedef struct fb_http fb_http;

/*
 * Build the answer to GET path: set *status and *content_type (static
 * string), and *body (allocated with kc_malloc; the server frees it) with
 * *len bytes. Called on the server thread.
 */
typedef void (*fb_http_serve_fn)(void *ud, const char *path, int *status,
                                 const char **content_type, char **body, size_t *len);

#define FB_HTTP_HOST_MAX 128

/*
 * Split a listen address "host:port", ":port" or "port" into host ("" for
 * every address, which "0.0.0.0" also means) and port (0 to 65535; 0 picks
 * one). 0, or -1 when addr is not such an address (nothing is printed).
 */
int fb_http_parse_addr(const char *addr, char host[FB_HTTP_HOST_MAX], int *port);

struct lws;
/*
 * For a libwebsockets server of the shell, in its LWS_CALLBACK_HTTP_WRITEABLE
 * callback: send the next part (at most 16 KiB) of a body of len bytes whose
 * headers, with its Content-Length, are written; *sent advances. 1 when the
 * body is all sent (the last part went as LWS_WRITE_HTTP_FINAL), 0 when more
 * remains (the caller asks for another writeable callback), -1 when the write
 * failed (the caller closes the connection).
 */
int fb_http_write_body(struct lws *wsi, const char *body, size_t len, size_t *sent);

/*
 * Route libwebsockets' errors (process-wide: its log settings are global)
 * through fb_log; its notices and warnings are dropped. Both servers of the
 * shell call it before creating their context.
 */
void fb_http_lws_logs(void);

/*
 * Listen on addr ("host:port", ":port" or "port"; host "" or "0.0.0.0" for
 * every address) and serve until fb_http_stop. NULL with a message on stderr
 * when the address is invalid or cannot be bound.
 */
fb_http *fb_http_start(const char *addr, fb_http_serve_fn serve, void *ud);
/* The port actually bound (useful with port 0). */
int fb_http_port(const fb_http *h);
/* Stop the thread, close the socket, free everything. Accepts NULL. */
void fb_http_stop(fb_http *h);

#endif
