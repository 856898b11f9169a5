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
