/* Structured logs: logfmt text and JSON lines, levels, quoting. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "kctest.h"
#include "log.h"

/* Run fn with stderr redirected to a temp file; return what it wrote. */
static char *capture(void (*fn)(void))
{
	static char out[16384];
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO);
	dup2(fileno(tmp), STDERR_FILENO);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	size_t n = fread(out, 1, sizeof(out) - 1, tmp);
	out[n] = '\0';
	fclose(tmp);
	return out;
}

static void emit_text(void)
{
	fb_log_setup(FB_INFO, FB_LOG_TEXT);
	fb_log(FB_DEBUG, "hidden", "x=1");
	fb_log(FB_INFO, "informers synced", "nodes=%d pods=%d", 6, 12);
}

static void emit_json(void)
{
	char q[64];
	fb_log_setup(FB_DEBUG, FB_LOG_JSON);
	fb_log(FB_WARN, "node \"n1\" failed", "node=n1 reason=%s", fb_log_quote("kubelet stopped", q, sizeof(q)));
}

KT_TEST(text_format_is_logfmt_and_filters_levels)
{
	const char *out = capture(emit_text);
	KT_CHECK(strstr(out, "hidden") == NULL);
	KT_CHECK(strncmp(out, "ts=", 3) == 0);
	KT_CHECK(strstr(out, " level=info msg=\"informers synced\" nodes=6 pods=12\n") != NULL);
}

KT_TEST(json_format_is_one_valid_object_per_line)
{
	const char *out = capture(emit_json);
	cJSON *obj = cJSON_Parse(out);
	KT_CHECK(obj != NULL);
	const cJSON *msg = cJSON_GetObjectItem(obj, "msg");
	const cJSON *reason = cJSON_GetObjectItem(obj, "reason");
	const cJSON *level = cJSON_GetObjectItem(obj, "level");
	KT_CHECK(cJSON_IsString(msg) && strcmp(msg->valuestring, "node \"n1\" failed") == 0);
	KT_CHECK(cJSON_IsString(reason) && strcmp(reason->valuestring, "kubelet stopped") == 0);
	KT_CHECK(cJSON_IsString(level) && strcmp(level->valuestring, "warn") == 0);
	cJSON_Delete(obj);
}

KT_TEST(quote_only_when_needed)
{
	char b[64];
	KT_EQ_STR(fb_log_quote("plain", b, sizeof(b)), "plain");
	KT_EQ_STR(fb_log_quote("a b", b, sizeof(b)), "\"a b\"");
	KT_EQ_STR(fb_log_quote("say \"hi\"", b, sizeof(b)), "\"say \\\"hi\\\"\"");
	KT_EQ_STR(fb_log_quote("", b, sizeof(b)), "\"\"");
	fb_log_level l;
	KT_CHECK(fb_log_parse_level("warn", &l) && l == FB_WARN);
	KT_CHECK(!fb_log_parse_level("loud", &l));
}

int main(void)
{
	KT_RUN(text_format_is_logfmt_and_filters_levels);
	KT_RUN(json_format_is_one_valid_object_per_line);
	KT_RUN(quote_only_when_needed);
	return KT_DONE();
}
