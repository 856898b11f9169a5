/* The Prometheus registry and the /metrics /healthz /readyz server. */
#include <curl/curl.h>
#include <stdlib.h>

#include "httpserver.h"
#include "kc/alloc.h"
#include "kc/buf.h"
#include "kctest.h"
#include "metrics.h"

KT_TEST(render_counters_gauges_histograms)
{
	fb_metrics *m = fb_metrics_new();
	double b[] = { 0.001, 0.01, 0.1 };
	KT_EQ_INT(fb_metrics_family(m, "fb_evictions_total", FB_COUNTER, "Pods evicted.", NULL, 0), 0);
	KT_EQ_INT(fb_metrics_family(m, "fb_zone_state", FB_GAUGE, "Zone state.", NULL, 0), 0);
	KT_EQ_INT(fb_metrics_family(m, "fb_latency_seconds", FB_HISTOGRAM, "Latency.", b, 3), 0);
	KT_EQ_INT(fb_metrics_family(m, "fb_zone_state", FB_GAUGE, "again", NULL, 0), -1);
	char q[64], labels[128];
	snprintf(labels, sizeof(labels), "zone=\"%s\"", fb_metrics_label("a\"b", q, sizeof(q)));
	fb_metrics_add(m, "fb_evictions_total", "result=\"ok\"", 1);
	fb_metrics_add(m, "fb_evictions_total", "result=\"ok\"", 2);
	fb_metrics_set(m, "fb_zone_state", labels, 2);
	fb_metrics_observe(m, "fb_latency_seconds", NULL, 0.005);
	fb_metrics_observe(m, "fb_latency_seconds", NULL, 0.5);
	fb_metrics_add(m, "no_such_family", NULL, 1);
	char *text = fb_metrics_render(m);
	KT_CHECK(text != NULL);
	KT_CHECK(strstr(text, "# TYPE fb_evictions_total counter\n"));
	KT_CHECK(strstr(text, "fb_evictions_total{result=\"ok\"} 3\n"));
	KT_CHECK(strstr(text, "fb_zone_state{zone=\"a\\\"b\"} 2\n"));
	KT_CHECK(strstr(text, "fb_latency_seconds_bucket{le=\"0.001\"} 0\n"));
	KT_CHECK(strstr(text, "fb_latency_seconds_bucket{le=\"0.01\"} 1\n"));
	KT_CHECK(strstr(text, "fb_latency_seconds_bucket{le=\"+Inf\"} 2\n"));
	KT_CHECK(strstr(text, "fb_latency_seconds_count 2\n"));
	KT_CHECK(!strstr(text, "no_such_family"));
	kc_free(text);
	/* a histogram kept elsewhere, set whole (the webhook's latency) */
	uint64_t le[] = { 4, 7, 9 };
	fb_metrics_set_histogram(m, "fb_latency_seconds", "path=\"/x\"", le, 3, 10, 1.5);
	fb_metrics_set_histogram(m, "fb_latency_seconds", "path=\"/y\"", le, 2, 10, 1.5);
	fb_metrics_set_histogram(m, "fb_zone_state", NULL, le, 0, 10, 1.5);
	text = fb_metrics_render(m);
	KT_CHECK(strstr(text, "fb_latency_seconds_bucket{path=\"/x\",le=\"0.01\"} 7\n"));
	KT_CHECK(strstr(text, "fb_latency_seconds_bucket{path=\"/x\",le=\"+Inf\"} 10\n"));
	KT_CHECK(strstr(text, "fb_latency_seconds_sum{path=\"/x\"} 1.5\n"));
	KT_CHECK(strstr(text, "fb_latency_seconds_count{path=\"/x\"} 10\n"));
	KT_CHECK(!strstr(text, "path=\"/y\""));
	KT_CHECK(!strstr(text, "fb_zone_state_bucket"));
	kc_free(text);
	fb_metrics_reset(m, "fb_zone_state");
	text = fb_metrics_render(m);
	KT_CHECK(!strstr(text, "fb_zone_state{"));
	kc_free(text);
	fb_metrics_free(m);
}

static void serve(void *ud, const char *path, int *status, const char **ctype, char **body,
                  size_t *len)
{
	*ctype = "text/plain";
	if (strcmp(path, "/healthz") == 0) {
		*status = 200;
		*body = kc_strdup("ok\n");
	} else if (strcmp(path, "/big") == 0) {
		*status = 200;
		*body = kc_malloc(100000);
		memset(*body, 'x', 100000);
		*len = 100000;
		return;
	} else {
		*status = 404;
		*body = kc_strdup("not found\n");
	}
	*len = strlen(*body);
}

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
	kc_buf_append(ud, p, size * n);
	return size * n;
}

static long get(CURL *h, int port, const char *path, kc_buf *out)
{
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	kc_buf_reset(out);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 5L);
	long status = -1;
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

KT_TEST(server_answers_and_stops)
{
	fb_http *h = fb_http_start("127.0.0.1:0", serve, NULL);
	KT_CHECK(h != NULL);
	if (!h)
		return;
	int port = fb_http_port(h);
	KT_CHECK(port > 0);
	CURL *c = curl_easy_init();
	kc_buf b;
	kc_buf_init(&b, 1 << 20);
	KT_EQ_INT(get(c, port, "/healthz", &b), 200);
	KT_EQ_STR(b.data, "ok\n");
	KT_EQ_INT(get(c, port, "/nope", &b), 404);
	KT_EQ_INT(get(c, port, "/big", &b), 200);
	KT_EQ_INT(b.len, 100000);
	KT_EQ_INT(get(c, port, "/healthz", &b), 200); /* keep-alive after a large answer */
	curl_easy_cleanup(c);
	kc_buf_release(&b);
	fb_http_stop(h);
	KT_CHECK(fb_http_start("127.0.0.1:notaport", serve, NULL) == NULL);
}

int main(void)
{
	KT_RUN(render_counters_gauges_histograms);
	KT_RUN(server_answers_and_stops);
	return KT_DONE();
}
