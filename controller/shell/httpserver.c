/* httpserver.c - /metrics, /healthz, /readyz over libwebsockets (see httpserver.h). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "httpserver.h"
#include "kc/alloc.h"
#include "log.h"

#define HTTP_PATH_MAX 256
#define HTTP_WRITE_CHUNK 16384

struct fb_http {
	struct lws_context *ctx;
	pthread_t thread;
	atomic_bool stop;
	fb_http_serve_fn serve;
	void *ud;
	int port;
};

typedef struct session {
	char *body;
	size_t len, sent;
	int status;
	const char *ctype;
} session;

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
	session *s = user;
	switch (reason) {
	case LWS_CALLBACK_HTTP: {
		fb_http *h = lws_context_user(lws_get_context(wsi));
		char path[HTTP_PATH_MAX];
		snprintf(path, sizeof(path), "%.*s", (int)(len < sizeof(path) - 1 ? len : sizeof(path) - 1),
		         in ? (const char *)in : "/");
		memset(s, 0, sizeof(*s));
		if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0) {
			s->status = 405;
			s->ctype = "text/plain";
			s->body = kc_strdup("only GET is served\n");
			s->len = s->body ? strlen(s->body) : 0;
		} else {
			h->serve(h->ud, path, &s->status, &s->ctype, &s->body, &s->len);
		}
		unsigned char buf[LWS_PRE + 512];
		unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf) - 1;
		if (lws_add_http_common_headers(wsi, (unsigned)s->status, s->ctype, (lws_filepos_t)s->len,
		                                &p, end) ||
		    lws_finalize_write_http_header(wsi, start, &p, end))
			return 1;
		if (s->len == 0)
			return lws_http_transaction_completed(wsi) ? -1 : 0;
		lws_callback_on_writable(wsi);
		return 0;
	}
	case LWS_CALLBACK_HTTP_WRITEABLE: {
		if (!s->body)
			return -1;
		int done = fb_http_write_body(wsi, s->body, s->len, &s->sent);
		if (done <= 0)
			return done;
		kc_free(s->body);
		s->body = NULL;
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	}
	case LWS_CALLBACK_CLOSED_HTTP:
		if (s) {
			kc_free(s->body);
			s->body = NULL;
		}
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

int fb_http_write_body(struct lws *wsi, const char *body, size_t len, size_t *sent)
{
	size_t n = len - *sent;
	if (n > HTTP_WRITE_CHUNK)
		n = HTTP_WRITE_CHUNK;
	unsigned char buf[LWS_PRE + HTTP_WRITE_CHUNK];
	memcpy(buf + LWS_PRE, body + *sent, n);
	bool last = *sent + n == len;
	if (lws_write(wsi, buf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
		return -1;
	*sent += n;
	if (last)
		return 1;
	lws_callback_on_writable(wsi);
	return 0;
}

/* A libwebsockets error, as a firebreak log line (JSON too, when logs are JSON). */
static void lws_emit(int level, const char *line)
{
	char text[256], q[300];
	snprintf(text, sizeof(text), "%s", line);
	text[strcspn(text, "\r\n")] = '\0';
	fb_log(FB_ERROR, "libwebsockets", "line=%s", fb_log_quote(text, q, sizeof(q)));
}

void fb_http_lws_logs(void)
{
	lws_set_log_level(LLL_ERR, lws_emit);
}

static const struct lws_protocols protocols[] = {
	{ "http", callback, sizeof(session), 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

static void *serve_main(void *arg)
{
	fb_http *h = arg;
	while (!atomic_load(&h->stop))
		if (lws_service(h->ctx, 0) < 0)
			break;
	return NULL;
}

int fb_http_parse_addr(const char *addr, char host[FB_HTTP_HOST_MAX], int *port)
{
	const char *colon = strrchr(addr, ':');
	const char *port_s = colon ? colon + 1 : addr;
	size_t host_len = colon ? (size_t)(colon - addr) : 0;
	char *end;
	long p = strtol(port_s, &end, 10);
	if (!*port_s || *end || p < 0 || p > 65535 || host_len >= FB_HTTP_HOST_MAX)
		return -1;
	snprintf(host, FB_HTTP_HOST_MAX, "%.*s", (int)host_len, addr);
	if (strcmp(host, "0.0.0.0") == 0)
		host[0] = '\0';
	*port = (int)p;
	return 0;
}

fb_http *fb_http_start(const char *addr, fb_http_serve_fn serve, void *ud)
{
	char host[FB_HTTP_HOST_MAX];
	int port;
	if (fb_http_parse_addr(addr, host, &port) != 0) {
		fprintf(stderr, "firebreak: invalid listen address \"%s\" (want host:port)\n", addr);
		return NULL;
	}
	fb_http *h = kc_calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->serve = serve;
	h->ud = ud;
	fb_http_lws_logs();
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.port = port;
	info.iface = host[0] ? host : NULL;
	info.protocols = protocols;
	info.user = h;
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	h->ctx = lws_create_context(&info);
	if (!h->ctx) {
		fprintf(stderr, "firebreak: cannot listen on \"%s\"\n", addr);
		kc_free(h);
		return NULL;
	}
	struct lws_vhost *vh = lws_get_vhost_by_name(h->ctx, "default");
	h->port = vh ? lws_get_vhost_listen_port(vh) : port;
	if (pthread_create(&h->thread, NULL, serve_main, h) != 0) {
		lws_context_destroy(h->ctx);
		kc_free(h);
		return NULL;
	}
	return h;
}

int fb_http_port(const fb_http *h)
{
	return h->port;
}

void fb_http_stop(fb_http *h)
{
	if (!h)
		return;
	atomic_store(&h->stop, true);
	lws_cancel_service(h->ctx);
	pthread_join(h->thread, NULL);
	lws_context_destroy(h->ctx);
	kc_free(h);
}
