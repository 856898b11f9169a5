/* The failure taints' tolerations, read and rewritten for managed mode (shell/tolerations.c). */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "kc/alloc.h"
#include "kctest.h"
#include "tolerations.h"
#include "support/jsontext.h"

/* Toleration lists are written with ' for " below. */
#define NR "'key':'node.kubernetes.io/not-ready'"
#define UR "'key':'node.kubernetes.io/unreachable'"
#define EX "'operator':'Exists'"
#define NOEX "'effect':'NoExecute'"
#define DEFAULTS                                                                          \
	"[{" NR "," EX "," NOEX ",'tolerationSeconds':300},"                              \
	"{" UR "," EX "," NOEX ",'tolerationSeconds':300}]"
#define ANN "firebreak.dev/toleration-seconds"

/* s with ' turned into ", parsed (NULL when it does not parse). */
static cJSON *J(const char *s)
{
	size_t n = strlen(s);
	char *t = malloc(n + 1);
	for (size_t i = 0; i <= n; i++)
		t[i] = s[i] == '\'' ? '"' : s[i];
	cJSON *j = cJSON_Parse(t);
	free(t);
	return j;
}

/* s with ' turned into ", as a C string (free it). */
static char *Q(const char *s)
{
	char *t = strdup(s);
	for (char *p = t; *p; p++)
		if (*p == '\'')
			*p = '"';
	return t;
}

static int64_t tol_s(const char *json, const char *key)
{
	cJSON *t = J(json);
	int64_t v = fb_toleration_s(t, key);
	cJSON_Delete(t);
	return v;
}

static bool same(const cJSON *a, const cJSON *b)
{
	return cJSON_Compare(a, b, true);
}

/* A copy of t without its tolerationSeconds. */
static cJSON *strip(const cJSON *t)
{
	cJSON *c = cJSON_Duplicate(t, true);
	if (cJSON_IsObject(c))
		cJSON_DeleteItemFromObjectCaseSensitive(c, "tolerationSeconds");
	return c;
}

/* validateOnlyAddedTolerations: every toleration of old is in new, equal but for its seconds. */
static bool only_added(const cJSON *old, const cJSON *new_)
{
	const cJSON *o, *n;
	cJSON_ArrayForEach(o, old) {
		bool found = false;
		cJSON *so = strip(o);
		cJSON_ArrayForEach(n, new_) {
			cJSON *sn = strip(n);
			found = same(so, sn);
			cJSON_Delete(sn);
			if (found)
				break;
		}
		cJSON_Delete(so);
		if (!found)
			return false;
	}
	return true;
}

/* Exactly equal item in list? */
static bool contains(const cJSON *list, const cJSON *item)
{
	const cJSON *n;
	cJSON_ArrayForEach(n, list) {
		if (same(n, item))
			return true;
	}
	return false;
}

static const char *key_of(const cJSON *t)
{
	const cJSON *k = cJSON_GetObjectItemCaseSensitive(t, "key");
	return cJSON_IsString(k) ? k->valuestring : NULL;
}

static bool is_failure_key(const char *k)
{
	return k && (strcmp(k, FB_TAINT_NOT_READY) == 0 || strcmp(k, FB_TAINT_UNREACHABLE) == 0);
}

/*
 * What cover may do and nothing else: every toleration without a failure key
 * (wildcards and other keys) is kept exactly; a failure key's toleration may lose
 * its seconds; anything new is {key: failure key, Exists, NoExecute} without seconds.
 */
static bool cover_is_safe(const cJSON *in, const cJSON *out)
{
	const cJSON *t;
	if (!only_added(in, out))
		return false;
	cJSON_ArrayForEach(t, in) {
		if (!is_failure_key(key_of(t)) && !contains(out, t))
			return false; /* a wildcard or another key's toleration was changed */
	}
	cJSON_ArrayForEach(t, out) {
		if (contains(in, t))
			continue;
		if (!is_failure_key(key_of(t)) ||
		    cJSON_GetObjectItemCaseSensitive(t, "tolerationSeconds"))
			return false;
	}
	return true;
}

/* ---- the record ---- */

static void check_record(const char *s, int64_t nr, int64_t ur)
{
	fb_tol_record r;
	KT_EQ_INT(fb_tol_record_parse(s, &r), 0);
	KT_EQ_INT(r.not_ready_s, nr);
	KT_EQ_INT(r.unreachable_s, ur);
}

static void check_record_rejected(const char *s)
{
	fb_tol_record r = { 1, 2 };
	int rc = fb_tol_record_parse(s, &r);
	if (rc != -1)
		fprintf(stderr, "  accepted: \"%s\"\n", s ? s : "(null)");
	KT_EQ_INT(rc, -1);
	KT_EQ_INT(r.not_ready_s, FB_TOL_FOREVER);
	KT_EQ_INT(r.unreachable_s, FB_TOL_FOREVER);
	KT_CHECK(!fb_tol_record_any(&r));
}

/* What a key tolerated not at all is recorded as: the DefaultTolerationSeconds plugin's
 * default, unless a toleration of the key (or the empty key) with effect NoExecute or none kept
 * it away (the plugin's own test), which leaves Kubernetes evicting at once: 0. */
static int64_t none_s(const cJSON *list, const char *key, int64_t default_s)
{
	const cJSON *t;
	if (!cJSON_IsArray(list))
		return default_s;
	cJSON_ArrayForEach(t, list) {
		const char *k = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "key"));
		const char *e = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "effect"));
		if (cJSON_IsObject(t) && (!k || !*k || strcmp(k, key) == 0) &&
		    (!e || !*e || strcmp(e, "NoExecute") == 0))
			return 0;
	}
	return default_s;
}

KT_TEST(record_parses_and_formats_round_trip)
{
	check_record("not-ready=300,unreachable=300", 300, 300);
	check_record("not-ready=60", 60, FB_TOL_FOREVER);
	check_record("unreachable=0", FB_TOL_FOREVER, 0);
	check_record("unreachable=900,not-ready=5", 5, 900);
	check_record("not-ready=1000000000000", FB_TOLERATION_S_MAX, FB_TOL_FOREVER);

	const char *canonical[] = { "not-ready=300,unreachable=300", "not-ready=60", "unreachable=0",
		                    "not-ready=0,unreachable=1000000000000",
		                    "not-ready=1000000000000,unreachable=1000000000000" };
	for (size_t i = 0; i < sizeof(canonical) / sizeof(*canonical); i++) {
		fb_tol_record r;
		char buf[FB_TOL_RECORD_MAX];
		KT_EQ_INT(fb_tol_record_parse(canonical[i], &r), 0);
		KT_CHECK(fb_tol_record_any(&r));
		fb_tol_record_format(&r, buf);
		KT_EQ_STR(buf, canonical[i]);
	}

	/* records to text and back */
	int64_t vals[] = { FB_TOL_FOREVER, 0, 1, 59, 300, 86400, FB_TOLERATION_S_MAX };
	for (size_t i = 0; i < sizeof(vals) / sizeof(*vals); i++) {
		for (size_t j = 0; j < sizeof(vals) / sizeof(*vals); j++) {
			fb_tol_record r = { vals[i], vals[j] }, back;
			char buf[FB_TOL_RECORD_MAX];
			fb_tol_record_format(&r, buf);
			KT_CHECK(strlen(buf) < FB_TOL_RECORD_MAX);
			if (!fb_tol_record_any(&r)) {
				KT_EQ_STR(buf, "");
				continue;
			}
			KT_EQ_INT(fb_tol_record_parse(buf, &back), 0);
			KT_EQ_INT(back.not_ready_s, r.not_ready_s);
			KT_EQ_INT(back.unreachable_s, r.unreachable_s);
		}
	}

	/* the cleared record records nothing and formats as "" */
	fb_tol_record r;
	char buf[FB_TOL_RECORD_MAX] = "x";
	fb_tol_record_clear(&r);
	KT_CHECK(!fb_tol_record_any(&r));
	fb_tol_record_format(&r, buf);
	KT_EQ_STR(buf, "");
	r.unreachable_s = 0;
	KT_CHECK(fb_tol_record_any(&r));
	/* the longest value the formatter can be given still fits */
	fb_tol_record big = { INT64_MAX, INT64_MAX };
	fb_tol_record_format(&big, buf);
	KT_CHECK(strlen(buf) < FB_TOL_RECORD_MAX);
	KT_EQ_STR(buf, "not-ready=9223372036854775807,unreachable=9223372036854775807");
}

KT_TEST(record_parse_rejects_everything_else)
{
	check_record_rejected(NULL);
	check_record_rejected("");
	check_record_rejected("ready=300");
	check_record_rejected("not-ready");
	check_record_rejected("not-ready=");
	check_record_rejected("Not-Ready=300");
	check_record_rejected("node.kubernetes.io/not-ready=300");
	check_record_rejected("not-ready=300,not-ready=300");
	check_record_rejected("unreachable=1,not-ready=2,unreachable=3");
	check_record_rejected("not-ready=abc");
	check_record_rejected("not-ready=30s");
	check_record_rejected("not-ready=3e2");
	check_record_rejected("not-ready=-1");
	check_record_rejected("not-ready=+1");
	check_record_rejected("not-ready=0x10");
	check_record_rejected("not-ready=1000000000001");
	check_record_rejected("not-ready=99999999999999999999999999");
	check_record_rejected("not-ready=300,");
	check_record_rejected(",not-ready=300");
	check_record_rejected("not-ready=300,,unreachable=300");
	check_record_rejected("not-ready=300;unreachable=300");
	check_record_rejected("not-ready = 300");
	check_record_rejected("not-ready=300, unreachable=300");
	check_record_rejected(" not-ready=300");
	check_record_rejected("not-ready=300 ");
	check_record_rejected("not-ready=300,unreachable=300,gpu=1");
	/* overlong: 64 characters and more, even if well formed */
	char s[128];
	snprintf(s, sizeof(s), "not-ready=%053d", 1); /* 10 + 53 = 63: fits */
	check_record(s, 1, FB_TOL_FOREVER);
	snprintf(s, sizeof(s), "not-ready=%054d", 1); /* 64: too long */
	check_record_rejected(s);
	snprintf(s, sizeof(s), "not-ready=%0100d", 1);
	check_record_rejected(s);
}

KT_TEST(record_accepts_non_canonical_text_and_formats_it_canonically)
{
	/* leading zeros and the reverse order are read, and written back canonically:
	 * format(parse(s)) == s holds for canonical s only */
	fb_tol_record r;
	char buf[FB_TOL_RECORD_MAX];
	KT_EQ_INT(fb_tol_record_parse("not-ready=0300", &r), 0);
	fb_tol_record_format(&r, buf);
	KT_EQ_STR(buf, "not-ready=300");
	KT_EQ_INT(fb_tol_record_parse("unreachable=2,not-ready=1", &r), 0);
	fb_tol_record_format(&r, buf);
	KT_EQ_STR(buf, "not-ready=1,unreachable=2");
}

/* ---- reading ---- */

KT_TEST(first_matching_toleration_decides)
{
	/* spec order, not the minimum */
	KT_EQ_INT(tol_s("[{" NR "," EX "," NOEX ",'tolerationSeconds':600},"
	                "{" NR "," EX "," NOEX ",'tolerationSeconds':60}]",
	                FB_TAINT_NOT_READY), 600);
	KT_EQ_INT(tol_s("[{" NR "," EX "," NOEX ",'tolerationSeconds':60},"
	                "{" NR "," EX "," NOEX ",'tolerationSeconds':600}]",
	                FB_TAINT_NOT_READY), 60);
	/* a first match without seconds is forever though a later one has seconds */
	KT_EQ_INT(tol_s("[{" NR "," EX "," NOEX "},{" NR "," EX "," NOEX ",'tolerationSeconds':1}]",
	                FB_TAINT_NOT_READY), FB_TOL_FOREVER);
	/* and a first match with seconds is finite though a later one has none */
	KT_EQ_INT(tol_s("[{" NR "," EX "," NOEX ",'tolerationSeconds':1},{" NR "," EX "," NOEX "}]",
	                FB_TAINT_NOT_READY), 1);
	/* a wildcard first decides for both keys */
	KT_EQ_INT(tol_s("[{" EX "," NOEX ",'tolerationSeconds':45},{" UR "," EX ",'tolerationSeconds':9}]",
	                FB_TAINT_UNREACHABLE), 45);
	/* one key's toleration does not touch the other */
	KT_EQ_INT(tol_s("[{" NR "," EX "," NOEX ",'tolerationSeconds':60}]", FB_TAINT_UNREACHABLE),
	          FB_TOL_NONE);
	KT_EQ_INT(tol_s(DEFAULTS, FB_TAINT_NOT_READY), 300);
	KT_EQ_INT(tol_s(DEFAULTS, FB_TAINT_UNREACHABLE), 300);
}

KT_TEST(matching_is_tolerates_taint)
{
	/* Equal: the taint has no value, so only an empty value matches */
	KT_EQ_INT(tol_s("[{" NR ",'operator':'Equal','value':'x'," NOEX ",'tolerationSeconds':5}]",
	                FB_TAINT_NOT_READY), FB_TOL_NONE);
	KT_EQ_INT(tol_s("[{" NR ",'operator':'Equal','value':''," NOEX ",'tolerationSeconds':5}]",
	                FB_TAINT_NOT_READY), 5);
	KT_EQ_INT(tol_s("[{" NR ",'operator':'Equal'," NOEX ",'tolerationSeconds':6}]",
	                FB_TAINT_NOT_READY), 6);
	/* no operator is Equal */
	KT_EQ_INT(tol_s("[{" NR "," NOEX ",'tolerationSeconds':7}]", FB_TAINT_NOT_READY), 7);
	KT_EQ_INT(tol_s("[{" NR ",'value':'x'," NOEX ",'tolerationSeconds':7}]", FB_TAINT_NOT_READY),
	          FB_TOL_NONE);
	/* Exists ignores the value */
	KT_EQ_INT(tol_s("[{" NR "," EX "," NOEX ",'tolerationSeconds':8}]", FB_TAINT_NOT_READY), 8);
	/* Lt/Gt never match a taint without a value; an unknown operator never matches */
	KT_EQ_INT(tol_s("[{" NR ",'operator':'Lt','value':'5'," NOEX "}]", FB_TAINT_NOT_READY),
	          FB_TOL_NONE);
	KT_EQ_INT(tol_s("[{" NR ",'operator':'Gt','value':'5'," NOEX "}]", FB_TAINT_NOT_READY),
	          FB_TOL_NONE);
	KT_EQ_INT(tol_s("[{" NR ",'operator':'exists'," NOEX "}]", FB_TAINT_NOT_READY), FB_TOL_NONE);
	/* effect: NoSchedule and PreferNoSchedule do not match a NoExecute taint; empty does */
	KT_EQ_INT(tol_s("[{" NR "," EX ",'effect':'NoSchedule'}]", FB_TAINT_NOT_READY), FB_TOL_NONE);
	KT_EQ_INT(tol_s("[{" NR "," EX ",'effect':'PreferNoSchedule'}]", FB_TAINT_NOT_READY),
	          FB_TOL_NONE);
	KT_EQ_INT(tol_s("[{" NR "," EX ",'effect':''}]", FB_TAINT_NOT_READY), FB_TOL_FOREVER);
	KT_EQ_INT(tol_s("[{" NR "," EX "}]", FB_TAINT_NOT_READY), FB_TOL_FOREVER);
	/* a non-matching toleration is skipped, the next one decides */
	KT_EQ_INT(tol_s("[{" NR "," EX ",'effect':'NoSchedule'},{" NR "," EX "," NOEX
	                ",'tolerationSeconds':11}]", FB_TAINT_NOT_READY), 11);
	/* wildcard: empty or no key with Exists; empty key with Equal and no value too */
	KT_EQ_INT(tol_s("[{" EX "}]", FB_TAINT_NOT_READY), FB_TOL_FOREVER);
	KT_EQ_INT(tol_s("[{'key':''," EX "," NOEX ",'tolerationSeconds':12}]", FB_TAINT_UNREACHABLE), 12);
	KT_EQ_INT(tol_s("[{" NOEX ",'tolerationSeconds':13}]", FB_TAINT_UNREACHABLE), 13);
	KT_EQ_INT(tol_s("[{" EX ",'effect':'NoSchedule'}]", FB_TAINT_NOT_READY), FB_TOL_NONE);
	/* keys are case sensitive; other keys never match */
	KT_EQ_INT(tol_s("[{'key':'node.kubernetes.io/Not-Ready'," EX "}]", FB_TAINT_NOT_READY),
	          FB_TOL_NONE);
	KT_EQ_INT(tol_s("[{'key':'gpu'," EX "," NOEX "}]", FB_TAINT_NOT_READY), FB_TOL_NONE);
	KT_EQ_INT(tol_s("[{" UR "," EX "," NOEX "}]", FB_TAINT_NOT_READY), FB_TOL_NONE);
	/* junk items are skipped */
	KT_EQ_INT(tol_s("[1,'x',null,[],{" NR "," EX ",'tolerationSeconds':14}]", FB_TAINT_NOT_READY), 14);
}

KT_TEST(seconds_are_read_as_get_min_toleration_time_reads_them)
{
	KT_EQ_INT(tol_s("[{" NR "," EX "," NOEX ",'tolerationSeconds':0}]", FB_TAINT_NOT_READY), 0);
	KT_EQ_INT(tol_s("[{" NR "," EX "," NOEX ",'tolerationSeconds':-7}]", FB_TAINT_NOT_READY), 0);
	KT_EQ_INT(tol_s("[{" NR "," EX "," NOEX ",'tolerationSeconds':1}]", FB_TAINT_NOT_READY), 1);
	KT_EQ_INT(tol_s("[{" NR "," EX "," NOEX ",'tolerationSeconds':1e15}]", FB_TAINT_NOT_READY),
	          FB_TOLERATION_S_MAX);
	KT_EQ_INT(tol_s("[{" NR "," EX "," NOEX ",'tolerationSeconds':null}]", FB_TAINT_NOT_READY),
	          FB_TOL_FOREVER);
	KT_EQ_INT(tol_s("[{" NR "," EX "," NOEX ",'tolerationSeconds':'60'}]", FB_TAINT_NOT_READY),
	          FB_TOL_FOREVER);
	KT_EQ_INT(tol_s("[{" NR "," EX "," NOEX "}]", FB_TAINT_NOT_READY), FB_TOL_FOREVER);
	/* no list, an empty one, something else */
	KT_EQ_INT(fb_toleration_s(NULL, FB_TAINT_NOT_READY), FB_TOL_NONE);
	KT_EQ_INT(tol_s("[]", FB_TAINT_NOT_READY), FB_TOL_NONE);
	KT_EQ_INT(tol_s("null", FB_TAINT_NOT_READY), FB_TOL_NONE);
	KT_EQ_INT(tol_s("{" NR "," EX "}", FB_TAINT_NOT_READY), FB_TOL_NONE);
	/* finite: either key not forever */
	cJSON *t = J(DEFAULTS);
	KT_CHECK(fb_tolerations_finite(t));
	cJSON_Delete(t);
	t = J("[{" EX "}]");
	KT_CHECK(!fb_tolerations_finite(t));
	cJSON_Delete(t);
	t = J("[{" NR "," EX "}]");
	KT_CHECK(fb_tolerations_finite(t));
	cJSON_Delete(t);
	KT_CHECK(fb_tolerations_finite(NULL));
}

/* ---- cover ---- */

/* cover(in) must give want (NULL: no change) and the record (nr, ur). */
static void check_cover(const char *in, const fb_tol_record *prior, int64_t default_s,
                        const char *want, int64_t nr, int64_t ur)
{
	cJSON *t = J(in), *out = (cJSON *)1;
	fb_tol_record rec = { 123, 456 };
	KT_EQ_INT(fb_tolerations_cover(t, prior, default_s, &out, &rec), KC_OK);
	KT_EQ_INT(rec.not_ready_s, nr);
	KT_EQ_INT(rec.unreachable_s, ur);
	if (!want) {
		KT_CHECK(out == NULL);
	} else {
		cJSON *w = J(want);
		KT_CHECK(w != NULL);
		KT_CHECK(out != NULL);
		if (out && !same(out, w)) {
			char *got = cJSON_PrintUnformatted(out);
			fprintf(stderr, "  cover(%s)\n   = %s\n", in, got);
			kc_free(got);
			KT_CHECK(!"cover gave another list");
		}
		KT_CHECK(cover_is_safe(t, out));
		KT_EQ_INT(fb_toleration_s(out, FB_TAINT_NOT_READY), FB_TOL_FOREVER);
		KT_EQ_INT(fb_toleration_s(out, FB_TAINT_UNREACHABLE), FB_TOL_FOREVER);
		KT_CHECK(!fb_tolerations_finite(out));
		cJSON_Delete(w);
	}
	cJSON_Delete(out);
	cJSON_Delete(t);
}

KT_TEST(cover_takes_the_default_seconds_and_keeps_the_rest)
{
	/* (a) the pair the DefaultTolerationSeconds plugin adds, among the pod's own */
	check_cover("[{'key':'gpu'," EX ",'effect':'NoSchedule'},"
	            "{" NR "," EX "," NOEX ",'tolerationSeconds':300},"
	            "{'key':'dedicated','operator':'Equal','value':'db','effect':'NoExecute',"
	            "'tolerationSeconds':30},"
	            "{" UR "," EX "," NOEX ",'tolerationSeconds':300}]",
	            NULL, 300,
	            "[{'key':'gpu'," EX ",'effect':'NoSchedule'},"
	            "{" NR "," EX "," NOEX "},"
	            "{'key':'dedicated','operator':'Equal','value':'db','effect':'NoExecute',"
	            "'tolerationSeconds':30},"
	            "{" UR "," EX "," NOEX "}]",
	            300, 300);
	check_cover(DEFAULTS, NULL, 300, "[{" NR "," EX "," NOEX "},{" UR "," EX "," NOEX "}]", 300, 300);
	/* (b) the pod's own times, shorter and longer, recorded as they are */
	check_cover("[{" NR "," EX "," NOEX ",'tolerationSeconds':60},"
	            "{" UR "," EX "," NOEX ",'tolerationSeconds':900}]",
	            NULL, 300, "[{" NR "," EX "," NOEX "},{" UR "," EX "," NOEX "}]", 60, 900);
	/* zero and negative are recorded as 0 (at once) */
	check_cover("[{" NR "," EX "," NOEX ",'tolerationSeconds':-3},"
	            "{" UR "," EX "," NOEX ",'tolerationSeconds':0}]",
	            NULL, 300, "[{" NR "," EX "," NOEX "},{" UR "," EX "," NOEX "}]", 0, 0);
	/* the first match decides: the later one keeps its seconds */
	check_cover("[{" NR "," EX "," NOEX ",'tolerationSeconds':60},"
	            "{" NR "," EX "," NOEX ",'tolerationSeconds':5},"
	            "{" UR "," EX "," NOEX ",'tolerationSeconds':900}]",
	            NULL, 300,
	            "[{" NR "," EX "," NOEX "},{" NR "," EX "," NOEX ",'tolerationSeconds':5},"
	            "{" UR "," EX "," NOEX "}]", 60, 900);
}

KT_TEST(cover_leaves_a_pod_that_tolerates_forever)
{
	/* (c) both keys forever already: nothing to change, nothing recorded */
	check_cover("[{" NR "," EX "," NOEX "},{" UR "," EX "," NOEX "}]", NULL, 300, NULL,
	            FB_TOL_FOREVER, FB_TOL_FOREVER);
	check_cover("[{" EX "}]", NULL, 300, NULL, FB_TOL_FOREVER, FB_TOL_FOREVER);
	/* one key forever, the other covered: only the other recorded */
	check_cover("[{" NR "," EX "," NOEX "},{" UR "," EX "," NOEX ",'tolerationSeconds':30}]",
	            NULL, 300, "[{" NR "," EX "," NOEX "},{" UR "," EX "," NOEX "}]",
	            FB_TOL_FOREVER, 30);
}

KT_TEST(cover_never_writes_a_wildcard)
{
	/* (d) a wildcard with seconds first: it stays as it is (every other NoExecute taint
	 * keeps its 60 s), a toleration of each key alone goes before it */
	check_cover("[{" EX "," NOEX ",'tolerationSeconds':60}]", NULL, 300,
	            "[{" NR "," EX "," NOEX "},{" UR "," EX "," NOEX "},"
	            "{" EX "," NOEX ",'tolerationSeconds':60}]",
	            60, 60);
	check_cover("[{'key':'gpu'," EX ",'effect':'NoSchedule'},"
	            "{" EX "," NOEX ",'tolerationSeconds':60},"
	            "{" NR "," EX "," NOEX ",'tolerationSeconds':300},"
	            "{" UR "," EX "," NOEX ",'tolerationSeconds':300}]",
	            NULL, 300,
	            "[{'key':'gpu'," EX ",'effect':'NoSchedule'},"
	            "{" NR "," EX "," NOEX "},{" UR "," EX "," NOEX "},"
	            "{" EX "," NOEX ",'tolerationSeconds':60},"
	            "{" NR "," EX "," NOEX ",'tolerationSeconds':300},"
	            "{" UR "," EX "," NOEX ",'tolerationSeconds':300}]",
	            60, 60);
	/* a wildcard of every effect, and one with Equal and no value */
	check_cover("[{" EX ",'tolerationSeconds':45}]", NULL, 300,
	            "[{" NR "," EX "," NOEX "},{" UR "," EX "," NOEX "},{" EX ",'tolerationSeconds':45}]",
	            45, 45);
	check_cover("[{" NOEX ",'tolerationSeconds':46}]", NULL, 300,
	            "[{" NR "," EX "," NOEX "},{" UR "," EX "," NOEX "},{" NOEX ",'tolerationSeconds':46}]",
	            46, 46);
	/* a key's own toleration before the wildcard: that one loses its seconds, the other
	 * key gets its own before the wildcard */
	check_cover("[{" UR "," EX "," NOEX ",'tolerationSeconds':900},"
	            "{" EX "," NOEX ",'tolerationSeconds':60}]",
	            NULL, 300,
	            "[{" UR "," EX "," NOEX "},{" NR "," EX "," NOEX "},"
	            "{" EX "," NOEX ",'tolerationSeconds':60}]",
	            60, 900);
}

KT_TEST(cover_adds_what_is_missing_with_the_default_recorded)
{
	/* (e) no toleration at all (the DefaultTolerationSeconds plugin off) */
	check_cover("[]", NULL, 300, "[{" NR "," EX "," NOEX "},{" UR "," EX "," NOEX "}]", 300, 300);
	check_cover("null", NULL, 120, "[{" NR "," EX "," NOEX "},{" UR "," EX "," NOEX "}]", 120, 120);
	cJSON *out = NULL;
	fb_tol_record rec;
	KT_EQ_INT(fb_tolerations_cover(NULL, NULL, 77, &out, &rec), KC_OK);
	KT_CHECK(out && cJSON_GetArraySize(out) == 2);
	KT_EQ_INT(rec.not_ready_s, 77);
	KT_EQ_INT(rec.unreachable_s, 77);
	cJSON_Delete(out);
	/* other tolerations only: appended after them */
	check_cover("[{'key':'gpu'," EX "," NOEX ",'tolerationSeconds':30}]", NULL, 300,
	            "[{'key':'gpu'," EX "," NOEX ",'tolerationSeconds':30},"
	            "{" NR "," EX "," NOEX "},{" UR "," EX "," NOEX "}]",
	            300, 300);
	/* a toleration of the key that does not match: appended, and recorded as 0 (at once),
	 * since it kept the plugin's default away and Kubernetes evicts such a pod at once */
	check_cover("[{" NR ",'operator':'Equal','value':'x'," NOEX ",'tolerationSeconds':5},"
	            "{" UR "," EX "," NOEX ",'tolerationSeconds':10}]",
	            NULL, 300,
	            "[{" NR ",'operator':'Equal','value':'x'," NOEX ",'tolerationSeconds':5},"
	            "{" UR "," EX "," NOEX "},{" NR "," EX "," NOEX "}]",
	            0, 10);
	/* a NoSchedule toleration of the key does not keep the default away: the plugin adds it */
	check_cover("[{" NR "," EX ",'effect':'NoSchedule'}]", NULL, 300,
	            "[{" NR "," EX ",'effect':'NoSchedule'},"
	            "{" NR "," EX "," NOEX "},{" UR "," EX "," NOEX "}]",
	            300, 300);
}

KT_TEST(cover_is_idempotent_and_keeps_the_prior_record)
{
	/* (f) the webhook invoked again on its own output */
	const char *inputs[] = {
		DEFAULTS,
		"[{" NR "," EX "," NOEX ",'tolerationSeconds':60},{" UR "," EX "," NOEX ",'tolerationSeconds':900}]",
		"[{" EX "," NOEX ",'tolerationSeconds':60}]",
		"[]",
	};
	for (size_t i = 0; i < sizeof(inputs) / sizeof(*inputs); i++) {
		cJSON *t = J(inputs[i]), *once = NULL, *twice = (cJSON *)1;
		fb_tol_record rec1, rec2;
		KT_EQ_INT(fb_tolerations_cover(t, NULL, 300, &once, &rec1), KC_OK);
		KT_CHECK(once != NULL);
		KT_CHECK(fb_tol_record_any(&rec1));
		KT_EQ_INT(fb_tolerations_cover(once, &rec1, 300, &twice, &rec2), KC_OK);
		KT_CHECK(twice == NULL);
		cJSON_Delete(twice);
		KT_EQ_INT(rec2.not_ready_s, rec1.not_ready_s);
		KT_EQ_INT(rec2.unreachable_s, rec1.unreachable_s);
		/* without the prior record, a covered pod is simply one that tolerates forever */
		KT_EQ_INT(fb_tolerations_cover(once, NULL, 300, &twice, &rec2), KC_OK);
		KT_CHECK(twice == NULL);
		cJSON_Delete(twice);
		KT_CHECK(!fb_tol_record_any(&rec2));
		/* (g) a covered pod is never evicted by the taint-eviction controller */
		KT_EQ_INT(fb_toleration_s(once, FB_TAINT_NOT_READY), FB_TOL_FOREVER);
		KT_EQ_INT(fb_toleration_s(once, FB_TAINT_UNREACHABLE), FB_TOL_FOREVER);
		cJSON_Delete(once);
		cJSON_Delete(t);
	}
	/* a prior record for a key the pod has seconds for again is replaced */
	fb_tol_record prior = { 60, 60 };
	check_cover("[{" NR "," EX "," NOEX "},{" UR "," EX "," NOEX ",'tolerationSeconds':30}]",
	            &prior, 300, "[{" NR "," EX "," NOEX "},{" UR "," EX "," NOEX "}]", 60, 30);
	/* the input is not modified */
	cJSON *t = J(DEFAULTS), *copy = cJSON_Duplicate(t, true), *out = NULL;
	fb_tol_record rec;
	KT_EQ_INT(fb_tolerations_cover(t, NULL, 300, &out, &rec), KC_OK);
	KT_CHECK(same(t, copy));
	cJSON_Delete(out);
	cJSON_Delete(copy);
	cJSON_Delete(t);
}

/* Lists of every shape: plugin defaults, own times, wildcards before and after, junk. */
static const char *const varied[] = {
	"[]",
	"null",
	DEFAULTS,
	"[{" NR "," EX "," NOEX ",'tolerationSeconds':60},{" UR "," EX "," NOEX ",'tolerationSeconds':900}]",
	"[{" EX "," NOEX ",'tolerationSeconds':60}]",
	"[{" EX "," NOEX ",'tolerationSeconds':60}," DEFAULTS "]",
	"[{" EX "}]",
	"[{" EX ",'tolerationSeconds':45},{'key':'gpu'," EX ",'effect':'NoSchedule'}]",
	"[{" NOEX ",'tolerationSeconds':46}]",
	"[{" NR "," EX "," NOEX "},{" UR "," EX "," NOEX ",'tolerationSeconds':300}]",
	"[{" NR ",'operator':'Equal','value':'x'," NOEX "},{" UR "," EX "," NOEX ",'tolerationSeconds':1}]",
	"[{" NR "," EX ",'effect':'NoSchedule'}]",
	"[{'key':'gpu'," EX "," NOEX ",'tolerationSeconds':30},{" NR "," EX "," NOEX ",'tolerationSeconds':120},"
	"{" UR "," EX "," NOEX ",'tolerationSeconds':300}]",
	"[{'key':'gpu'," EX "," NOEX ",'tolerationSeconds':30}]",
	"[{" NR "," EX "," NOEX ",'tolerationSeconds':900},{" EX "," NOEX ",'tolerationSeconds':60}]",
	"[{" EX "," NOEX ",'tolerationSeconds':60},{" NR "," EX "," NOEX ",'tolerationSeconds':900}]",
	"[{" NR "," EX "," NOEX ",'tolerationSeconds':-5},{" UR "," EX "," NOEX ",'tolerationSeconds':0}]",
	"[{" NR "," EX "," NOEX ",'tolerationSeconds':1e15},{" UR "," EX "," NOEX ",'tolerationSeconds':9007199254740991}]",
	"[{" NR "," EX ",'tolerationSeconds':60},{" UR ",'effect':'','tolerationSeconds':70}]",
	"[{" NR ",'operator':'Equal','value':''," NOEX ",'tolerationSeconds':77}]",
	"[{" NR ",'operator':'Lt','value':'3'," NOEX ",'tolerationSeconds':7},{" EX ",'effect':'NoSchedule',"
	"'tolerationSeconds':8}]",
	"[1,'x',null,[],{" NR "," EX "," NOEX ",'tolerationSeconds':14},{'key':7," EX ",'tolerationSeconds':15}]",
	"[{" NR "," EX "," NOEX ",'tolerationSeconds':null},{" UR "," EX "," NOEX ",'tolerationSeconds':'9'}]",
	"[{'key':''," EX "," NOEX ",'tolerationSeconds':33},{'key':'gpu'," EX "}]",
};

/* Taints besides the two whose toleration cover and restore must not change. */
static const char *const others[] = { "gpu", "dedicated", "node.kubernetes.io/out-of-service",
	                              "" };

KT_TEST(restore_after_cover_gives_every_taint_its_time_back)
{
	/* (h) and (i), over lists of every shape */
	for (size_t i = 0; i < sizeof(varied) / sizeof(*varied); i++) {
		cJSON *x = J(varied[i]), *covered = NULL, *restored = NULL;
		KT_CHECK(x != NULL);
		fb_tol_record rec;
		KT_EQ_INT(fb_tolerations_cover(x, NULL, 300, &covered, &rec), KC_OK);
		const cJSON *c = covered ? covered : x;
		KT_EQ_INT(fb_tolerations_restore(c, &rec, &restored), KC_OK);
		const cJSON *r = restored ? restored : c;
		const char *keys[] = { FB_TAINT_NOT_READY, FB_TAINT_UNREACHABLE };
		for (int k = 0; k < 2; k++) {
			int64_t before = fb_toleration_s(x, keys[k]);
			/* covered: forever for Kubernetes */
			KT_EQ_INT(fb_toleration_s(c, keys[k]), FB_TOL_FOREVER);
			/* restored: as before; a key tolerated not at all comes back with the default
			 * (the toleration added cannot be removed on an update) */
			int64_t want = before == FB_TOL_NONE ? none_s(x, keys[k], 300) : before;
			if (fb_toleration_s(r, keys[k]) != want)
				fprintf(stderr, "  list %zu key %s: %lld -> %lld\n", i, keys[k],
				        (long long)before, (long long)fb_toleration_s(r, keys[k]));
			KT_EQ_INT(fb_toleration_s(r, keys[k]), want);
			/* and firebreak reads the time from the record */
			int64_t recorded = k ? rec.unreachable_s : rec.not_ready_s;
			KT_EQ_INT(recorded, want);
		}
		for (size_t k = 0; k < sizeof(others) / sizeof(*others); k++) {
			KT_EQ_INT(fb_toleration_s(c, others[k]), fb_toleration_s(x, others[k]));
			KT_EQ_INT(fb_toleration_s(r, others[k]), fb_toleration_s(x, others[k]));
		}
		/* what the API server allows on an update */
		if (cJSON_IsArray(x)) {
			KT_CHECK(only_added(x, c));
			KT_CHECK(cover_is_safe(x, c));
		}
		KT_CHECK(only_added(c, r));
		/* restoring again changes nothing */
		cJSON *again = (cJSON *)1;
		KT_EQ_INT(fb_tolerations_restore(r, &rec, &again), KC_OK);
		KT_CHECK(again == NULL);
		cJSON_Delete(again == (cJSON *)1 ? NULL : again);
		/* and covering the restored list covers it again with the same record, but
		 * for keys tolerated forever from the start */
		cJSON *recovered = NULL;
		fb_tol_record rec2;
		KT_EQ_INT(fb_tolerations_cover(r, NULL, 300, &recovered, &rec2), KC_OK);
		KT_EQ_INT(rec2.not_ready_s, rec.not_ready_s);
		KT_EQ_INT(rec2.unreachable_s, rec.unreachable_s);
		cJSON_Delete(recovered);
		cJSON_Delete(restored);
		cJSON_Delete(covered);
		cJSON_Delete(x);
	}
}

/* ---- restore ---- */

static void check_restore(const char *in, fb_tol_record rec, const char *want)
{
	cJSON *t = J(in), *out = (cJSON *)1;
	KT_EQ_INT(fb_tolerations_restore(t, &rec, &out), KC_OK);
	if (!want) {
		KT_CHECK(out == NULL);
		if (out == (cJSON *)1)
			out = NULL;
	} else {
		cJSON *w = J(want);
		KT_CHECK(out != NULL);
		if (out && !same(out, w)) {
			char *got = cJSON_PrintUnformatted(out);
			fprintf(stderr, "  restore(%s)\n   = %s\n", in, got);
			kc_free(got);
			KT_CHECK(!"restore gave another list");
		}
		KT_CHECK(out && only_added(t, out));
		cJSON_Delete(w);
	}
	cJSON_Delete(out);
	cJSON_Delete(t);
}

KT_TEST(restore_gives_the_recorded_seconds_back)
{
	check_restore("[{'key':'gpu'," EX "},{" NR "," EX "," NOEX "},{" UR "," EX "," NOEX "}]",
	              (fb_tol_record){ 300, 300 },
	              "[{'key':'gpu'," EX "},{" NR "," EX "," NOEX ",'tolerationSeconds':300},"
	              "{" UR "," EX "," NOEX ",'tolerationSeconds':300}]");
	check_restore("[{" NR "," EX "," NOEX "},{" UR "," EX "," NOEX "}]",
	              (fb_tol_record){ 60, FB_TOL_FOREVER },
	              "[{" NR "," EX "," NOEX ",'tolerationSeconds':60},{" UR "," EX "," NOEX "}]");
	check_restore("[{" NR "," EX "," NOEX "}]", (fb_tol_record){ 0, FB_TOL_FOREVER },
	              "[{" NR "," EX "," NOEX ",'tolerationSeconds':0}]");
	/* keys with seconds (restored before, or changed since) are left alone */
	check_restore("[{" NR "," EX "," NOEX ",'tolerationSeconds':30},{" UR "," EX "," NOEX
	              ",'tolerationSeconds':40}]", (fb_tol_record){ 300, 300 }, NULL);
	check_restore("[{" NR "," EX "," NOEX ",'tolerationSeconds':30},{" UR "," EX "," NOEX "}]",
	              (fb_tol_record){ 300, 300 },
	              "[{" NR "," EX "," NOEX ",'tolerationSeconds':30},"
	              "{" UR "," EX "," NOEX ",'tolerationSeconds':300}]");
	/* nothing recorded: nothing to do */
	check_restore("[{" NR "," EX "," NOEX "},{" UR "," EX "," NOEX "}]",
	              (fb_tol_record){ FB_TOL_FOREVER, FB_TOL_FOREVER }, NULL);
	check_restore("[]", (fb_tol_record){ FB_TOL_FOREVER, FB_TOL_FOREVER }, NULL);
	/* the first match is a wildcard (or a toleration of every effect, which cannot have
	 * seconds): a toleration of the key with the seconds goes before it */
	check_restore("[{'key':'gpu'," EX "},{" EX "}]", (fb_tol_record){ 60, FB_TOL_FOREVER },
	              "[{'key':'gpu'," EX "},{" NR "," EX "," NOEX ",'tolerationSeconds':60},{" EX "}]");
	check_restore("[{" UR "," EX "}]", (fb_tol_record){ FB_TOL_FOREVER, 70 },
	              "[{" UR "," EX "," NOEX ",'tolerationSeconds':70},{" UR "," EX "}]");
	/* no match at all: appended */
	check_restore("[]", (fb_tol_record){ 10, 20 },
	              "[{" NR "," EX "," NOEX ",'tolerationSeconds':10},"
	              "{" UR "," EX "," NOEX ",'tolerationSeconds':20}]");
	/* a null tolerationSeconds is none */
	check_restore("[{" NR "," EX "," NOEX ",'tolerationSeconds':null}]",
	              (fb_tol_record){ 10, FB_TOL_FOREVER },
	              "[{" NR "," EX "," NOEX ",'tolerationSeconds':10}]");
	/* the input is not modified */
	cJSON *t = J("[{" NR "," EX "," NOEX "}]"), *copy = cJSON_Duplicate(t, true), *out = NULL;
	KT_EQ_INT(fb_tolerations_restore(t, &(fb_tol_record){ 5, 5 }, &out), KC_OK);
	KT_CHECK(out != NULL);
	KT_CHECK(same(t, copy));
	cJSON_Delete(out);
	cJSON_Delete(copy);
	cJSON_Delete(t);
}

/* ---- the merge patch ---- */

static const cJSON *path(const cJSON *o, const char *a, const char *b)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
	return b ? cJSON_GetObjectItemCaseSensitive(x, b) : x;
}

/* fb_tolerations_pod_patch, its patch as the API server reads it: printed and parsed again
 * (its numbers are raw integer text until printed). */
static kc_err pod_patch(const char *tolerations, const char *rv, const fb_tol_record *prior,
                        bool cover, int64_t default_s, cJSON **out)
{
	kc_err err = fb_tolerations_pod_patch(tolerations, rv, prior, cover, default_s, out);
	if (err == KC_OK && *out) {
		char *text = cJSON_PrintUnformatted(*out);
		cJSON_Delete(*out);
		*out = text ? cJSON_Parse(text) : NULL;
		free(text);
	}
	return err;
}

/* A pod of resourceVersion rv with tolerations tols (JSON text, NULL: none) and the record
 * ann (NULL: none), the restore's JSON Patch applied to it as the API server does; NULL when an
 * op fails. */
static cJSON *restored_pod(const char *tols, const char *rv, const char *ann, const cJSON *ops)
{
	cJSON *pod = cJSON_CreateObject();
	cJSON *meta = cJSON_AddObjectToObject(pod, "metadata");
	cJSON_AddStringToObject(meta, "resourceVersion", rv);
	cJSON *anns = cJSON_AddObjectToObject(meta, "annotations");
	cJSON_AddStringToObject(anns, "other", "kept");
	if (ann)
		cJSON_AddStringToObject(anns, ANN, ann);
	cJSON *spec = cJSON_AddObjectToObject(pod, "spec");
	if (tols)
		cJSON_AddItemToObject(spec, "tolerations", cJSON_Parse(tols));
	if (!json_patch_apply(pod, ops)) {
		cJSON_Delete(pod);
		return NULL;
	}
	return pod;
}

KT_TEST(pod_patch_covers_and_restores)
{
	char *defaults = Q(DEFAULTS);
	cJSON *patch = NULL;
	KT_EQ_INT(pod_patch(defaults, "4711", NULL, true, 300, &patch), KC_OK);
	KT_CHECK(patch != NULL);
	KT_EQ_STR(cJSON_GetStringValue(path(patch, "metadata", "resourceVersion")), "4711");
	KT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	                  path(patch, "metadata", "annotations"), ANN)),
	          "not-ready=300,unreachable=300");
	cJSON *want = J("[{" NR "," EX "," NOEX "},{" UR "," EX "," NOEX "}]");
	KT_CHECK(same(path(patch, "spec", "tolerations"), want));
	cJSON_Delete(want);
	/* only those fields */
	KT_EQ_INT(cJSON_GetArraySize(patch), 2);
	KT_EQ_INT(cJSON_GetArraySize(path(patch, "metadata", NULL)), 2);
	KT_EQ_INT(cJSON_GetArraySize(path(patch, "spec", NULL)), 1);

	/* and back (a JSON Patch): the annotation removed, the seconds restored, the precondition
	 * tested, nothing else written */
	char *covered = cJSON_PrintUnformatted(path(patch, "spec", "tolerations"));
	cJSON_Delete(patch);
	fb_tol_record rec;
	KT_EQ_INT(fb_tol_record_parse("not-ready=300,unreachable=300", &rec), 0);
	KT_EQ_INT(pod_patch(covered, "4712", &rec, false, 300, &patch), KC_OK);
	KT_CHECK(cJSON_IsArray(patch));
	KT_EQ_INT(cJSON_GetArraySize(patch), 4);
	cJSON *pod = restored_pod(covered, "4712", "not-ready=300,unreachable=300", patch);
	KT_CHECK(pod != NULL);
	want = J(DEFAULTS);
	KT_CHECK(same(path(pod, "spec", "tolerations"), want));
	cJSON_Delete(want);
	KT_CHECK(cJSON_GetObjectItemCaseSensitive(path(pod, "metadata", "annotations"), ANN) == NULL);
	KT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	                  path(pod, "metadata", "annotations"), "other")), "kept");
	cJSON_Delete(pod);
	/* a pod changed since: the test fails, nothing is written (the API server answers 422) */
	KT_CHECK(restored_pod(covered, "4799", "not-ready=300,unreachable=300", patch) == NULL);
	cJSON_Delete(patch);

	/* covered again by the webhook's reinvocation: nothing to patch */
	KT_EQ_INT(pod_patch(covered, "4713", &rec, true, 300, &patch), KC_OK);
	KT_CHECK(patch == NULL);
	/* restored with nothing to change: only the annotation goes */
	KT_EQ_INT(pod_patch(defaults, "4714", &rec, false, 300, &patch), KC_OK);
	KT_EQ_INT(cJSON_GetArraySize(patch), 2); /* test, remove */
	pod = restored_pod(defaults, "4714", "not-ready=300,unreachable=300", patch);
	KT_CHECK(pod && !cJSON_GetObjectItemCaseSensitive(path(pod, "metadata", "annotations"), ANN));
	want = J(DEFAULTS);
	KT_CHECK(pod && same(path(pod, "spec", "tolerations"), want));
	cJSON_Delete(want);
	cJSON_Delete(pod);
	cJSON_Delete(patch);
	/* a pod with no tolerations at all (someone's record): a list made, then filled */
	KT_EQ_INT(pod_patch(NULL, "4715", &(fb_tol_record){ 10, 20 }, false, 300, &patch), KC_OK);
	pod = restored_pod(NULL, "4715", "not-ready=10,unreachable=20", patch);
	want = J("[{" NR "," EX "," NOEX ",'tolerationSeconds':10},{" UR "," EX "," NOEX
	         ",'tolerationSeconds':20}]");
	KT_CHECK(pod && same(path(pod, "spec", "tolerations"), want));
	cJSON_Delete(want);
	cJSON_Delete(pod);
	cJSON_Delete(patch);
	kc_free(covered);

	/* no tolerations (NULL or "null"): appended, default recorded; no resourceVersion */
	KT_EQ_INT(pod_patch(NULL, NULL, NULL, true, 120, &patch), KC_OK);
	KT_CHECK(patch != NULL);
	KT_CHECK(path(patch, "metadata", "resourceVersion") == NULL);
	KT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	                  path(patch, "metadata", "annotations"), ANN)),
	          "not-ready=120,unreachable=120");
	KT_EQ_INT(cJSON_GetArraySize(path(patch, "spec", "tolerations")), 2);
	cJSON_Delete(patch);
	KT_EQ_INT(pod_patch("null", "1", NULL, true, 300, &patch), KC_OK);
	KT_EQ_INT(cJSON_GetArraySize(path(patch, "spec", "tolerations")), 2);
	cJSON_Delete(patch);
	/* one key forever: only the other recorded */
	char *half = Q("[{" NR "," EX "," NOEX "},{" UR "," EX "," NOEX ",'tolerationSeconds':20}]");
	KT_EQ_INT(pod_patch(half, "1", NULL, true, 300, &patch), KC_OK);
	KT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	                  path(patch, "metadata", "annotations"), ANN)),
	          "unreachable=20");
	cJSON_Delete(patch);
	free(half);
	free(defaults);
}

KT_TEST(a_shortened_restore_keeps_the_whole_times_and_they_come_back)
{
	/* given back on a failed node: not-ready's 300 shortened to 12 (unreachable whole) */
	const char *covered = "[{" NR "," EX "," NOEX "},{" UR "," EX "," NOEX "}]";
	char *text = Q(covered);
	cJSON *patch = NULL;
	fb_tol_record left = { 12, 300 }, full = { 300, 300 };
	KT_EQ_INT(fb_tolerations_restore_patch(text, "5", &left, &full, &patch), KC_OK);
	cJSON *pod = patch ? restored_pod(text, "5", "not-ready=300,unreachable=300", patch) : NULL;
	KT_CHECK(pod != NULL);
	const cJSON *anns = path(pod, "metadata", "annotations");
	KT_CHECK(cJSON_GetObjectItemCaseSensitive(anns, ANN) == NULL);
	KT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(anns, FB_ANNOTATION_TOLERATIONS_FULL)),
	          "not-ready=300");
	const cJSON *t = path(pod, "spec", "tolerations");
	KT_EQ_INT(fb_toleration_s(t, FB_TAINT_NOT_READY), 12);
	KT_EQ_INT(fb_toleration_s(t, FB_TAINT_UNREACHABLE), 300);
	cJSON_Delete(patch);
	/* nothing shortened: nothing kept aside */
	KT_EQ_INT(fb_tolerations_restore_patch(text, "5", &full, &full, &patch), KC_OK);
	char *printed = cJSON_PrintUnformatted(patch);
	KT_CHECK(printed && !strstr(printed, "seconds-full"));
	free(printed);
	cJSON_Delete(patch);

	/* the node up again: the whole times back, the annotation gone; nothing else written */
	char *now_text = cJSON_PrintUnformatted(t);
	fb_tol_record kept;
	KT_EQ_INT(fb_tol_record_parse("not-ready=300", &kept), 0);
	KT_EQ_INT(fb_tolerations_lengthen_patch(now_text, "6", &kept, &patch), KC_OK);
	KT_EQ_INT(cJSON_GetArraySize(patch), 3); /* test, one add, remove */
	cJSON *after = cJSON_CreateObject(), *meta = cJSON_AddObjectToObject(after, "metadata");
	cJSON_AddStringToObject(meta, "resourceVersion", "6");
	cJSON_AddItemToObject(meta, "annotations", cJSON_Duplicate(anns, true));
	cJSON_AddItemToObject(cJSON_AddObjectToObject(after, "spec"), "tolerations",
	                      cJSON_Parse(now_text));
	KT_CHECK(json_patch_apply(after, patch));
	cJSON *want = J(DEFAULTS);
	KT_CHECK(same(path(after, "spec", "tolerations"), want));
	KT_CHECK(!cJSON_GetObjectItemCaseSensitive(path(after, "metadata", "annotations"),
	                                           FB_ANNOTATION_TOLERATIONS_FULL));
	cJSON_Delete(want);
	cJSON_Delete(after);
	cJSON_Delete(patch);
	/* changed since (someone set 20 000 s, or tolerates forever now): the spec decides */
	char *longer = Q("[{" NR "," EX "," NOEX ",'tolerationSeconds':20000}]");
	KT_EQ_INT(fb_tolerations_lengthen_patch(longer, "7", &kept, &patch), KC_OK);
	KT_EQ_INT(cJSON_GetArraySize(patch), 2); /* test, remove */
	cJSON_Delete(patch);
	char *forever = Q("[{" NR "," EX "," NOEX "}]");
	KT_EQ_INT(fb_tolerations_lengthen_patch(forever, "7", &kept, &patch), KC_OK);
	KT_EQ_INT(cJSON_GetArraySize(patch), 2);
	cJSON_Delete(patch);
	KT_EQ_INT(fb_tolerations_lengthen_patch("{}", "7", &kept, &patch), KC_ERR_PARSE);
	KT_CHECK(patch == NULL);
	free(forever);
	free(longer);
	kc_free(now_text);
	cJSON_Delete(pod);
	free(text);
}

KT_TEST(pod_patch_refuses_what_is_not_a_list)
{
	const char *bad[] = { "", "[", "[{", "not json", "{}", "{\"tolerations\":[]}", "5",
		              "\"[]\"", "true" };
	fb_tol_record rec = { 300, 300 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		for (int cover = 0; cover < 2; cover++) {
			cJSON *patch = (cJSON *)1;
			KT_EQ_INT(fb_tolerations_pod_patch(bad[i], "1", &rec, cover, 300, &patch),
			          KC_ERR_PARSE);
			KT_CHECK(patch == NULL);
		}
	}
}

KT_TEST(numbers_are_written_back_as_the_integers_they_are)
{
	/* cJSON prints 10^15 and up as "1e+15", which the API server's int64 refuses: the
	 * untouched tolerations of a written list keep their exact digits */
	static const struct {
		const char *tols;
		bool cover;
		const char *want[3]; /* substrings of the printed patch */
	} cases[] = {
		{ "[{" EX "," NOEX ",'tolerationSeconds':1000000000000000},{'key':'gpu'," EX
		  ",'effect':'NoExecute','tolerationSeconds':9007199254740991}]",
		  true, { "\"tolerationSeconds\":1000000000000000", "\"tolerationSeconds\":9007199254740991" } },
		{ "[{" NR "," EX "," NOEX ",'tolerationSeconds':999999999999},{'key':'gpu'," EX
		  ",'effect':'NoExecute','tolerationSeconds':-9007199254740991}]",
		  true, { "not-ready=999999999999", "\"tolerationSeconds\":-9007199254740991" } },
		/* FB_TOLERATION_S_MAX given back whole; the other toleration is not written at all */
		{ "[{" NR "," EX "," NOEX "},{'key':'gpu'," EX ",'effect':'NoExecute','tolerationSeconds':5e15}]",
		  false, { "\"value\":1000000000000}" } },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char *tols = Q(cases[i].tols);
		cJSON *patch = NULL;
		fb_tol_record rec = { FB_TOLERATION_S_MAX, FB_TOL_FOREVER };
		KT_EQ_INT(fb_tolerations_pod_patch(tols, "9", cases[i].cover ? NULL : &rec,
		                                   cases[i].cover, 300, &patch),
		          KC_OK);
		char *text = patch ? cJSON_PrintUnformatted(patch) : NULL;
		KT_CHECK(text != NULL);
		if (text) {
			KT_CHECK(json_integer_literals_only(text));
			for (int k = 0; k < 3 && cases[i].want[k]; k++)
				if (!strstr(text, cases[i].want[k])) {
					fprintf(stderr, "  case %zu: %s not in %s\n", i, cases[i].want[k], text);
					KT_CHECK(false);
				}
		}
		free(text);
		cJSON_Delete(patch);
		free(tols);
	}
	/* the same, turned in place: names and places kept, nested lists too */
	cJSON *x = J("[{'a':1e15,'b':[2e15,{'c':-3}],'s':'1e15'},7]");
	KT_CHECK(fb_tolerations_print_exact(x));
	char *text = cJSON_PrintUnformatted(x);
	KT_EQ_STR(text, "[{\"a\":1000000000000000,\"b\":[2000000000000000,{\"c\":-3}],\"s\":\"1e15\"},7]");
	free(text);
	cJSON_Delete(x);
	/* and under every allocation failure: false, the item still valid and freed */
	for (long n = 0; n < 100; n++) {
		x = J("[{'a':1e15,'b':[2e15,{'c':-3}]},7]");
		kc_alloc_fail_after(n);
		bool ok = fb_tolerations_print_exact(x);
		bool triggered = kc_alloc_fail_triggered();
		kc_alloc_fail_reset();
		KT_CHECK(ok != triggered);
		text = cJSON_PrintUnformatted(x);
		KT_CHECK(text != NULL);
		if (ok && text)
			KT_CHECK(json_integer_literals_only(text));
		free(text);
		cJSON_Delete(x);
		if (!triggered)
			break;
	}
}

KT_TEST(a_list_with_a_number_not_exact_is_left_as_it_is)
{
	/* not whole, or beyond 2^53 where a double has dropped digits already: neither covered
	 * nor restored, so that no toleration is written with a time it did not have */
	static const char *const lists[] = {
		"[{" NR "," EX "," NOEX ",'tolerationSeconds':2.5}]",
		"[{" NR "," EX "," NOEX ",'tolerationSeconds':300},{'key':'gpu'," EX
		",'tolerationSeconds':9007199254740993}]",
		"[{" NR "," EX "," NOEX ",'tolerationSeconds':300},{'key':'gpu'," EX
		",'tolerationSeconds':9007199254740992}]",
		"[{" NR "," EX "," NOEX "},{'key':'gpu'," EX ",'tolerationSeconds':1e16}]",
		"[{" UR "," EX "," NOEX ",'tolerationSeconds':-1e300}]",
		"[{" NR "," EX "," NOEX ",'tolerationSeconds':300},[0.5]]",
		"[{" NR "," EX "," NOEX ",'tolerationSeconds':300,'x':{'y':1.25}}]",
	};
	fb_tol_record rec = { 60, 60 };
	for (size_t i = 0; i < sizeof(lists) / sizeof(*lists); i++) {
		cJSON *t = J(lists[i]), *out = (cJSON *)1;
		KT_CHECK(t != NULL);
		fb_tol_record got = { 1, 1 };
		KT_EQ_INT(fb_tolerations_cover(t, NULL, 300, &out, &got), KC_ERR_TOOBIG);
		KT_CHECK(out == NULL);
		KT_CHECK(!fb_tol_record_any(&got));
		out = (cJSON *)1;
		KT_EQ_INT(fb_tolerations_restore(t, &rec, &out), KC_ERR_TOOBIG);
		KT_CHECK(out == NULL);
		char *text = Q(lists[i]);
		out = (cJSON *)1;
		KT_EQ_INT(fb_tolerations_pod_patch(text, "1", &rec, true, 300, &out), KC_ERR_TOOBIG);
		KT_CHECK(out == NULL);
		/* the restore writes only what changes: it never refuses (uninstalling must not get
		 * stuck), and the numbers it cannot carry are not in it */
		out = NULL;
		KT_EQ_INT(fb_tolerations_pod_patch(text, "1", &rec, false, 300, &out), KC_OK);
		char *printed = out ? cJSON_PrintUnformatted(out) : NULL;
		KT_CHECK(printed && json_integer_literals_only(printed));
		cJSON *pod = out ? restored_pod(text, "1", "not-ready=60,unreachable=60", out) : NULL;
		KT_CHECK(pod != NULL);
		if (pod) {
			/* not-ready back to its 60 where it was forever, else as it was */
			int64_t before = fb_toleration_s(t, FB_TAINT_NOT_READY);
			KT_EQ_INT(fb_toleration_s(path(pod, "spec", "tolerations"), FB_TAINT_NOT_READY),
			          before == FB_TOL_FOREVER || before == FB_TOL_NONE ? 60 : before);
		}
		cJSON_Delete(pod);
		free(printed);
		cJSON_Delete(out);
		free(text);
		cJSON_Delete(t);
	}
}

/* ---- allocation failure ---- */

/* Run fn under every allocation failure until it completes; each result must be an error
 * with no output, or the complete result (cmp against the unfailed one). */
typedef kc_err (*op_fn)(const void *arg, cJSON **out);

static void every_failure(op_fn fn, const void *arg, bool parse_ok)
{
	cJSON *base = NULL;
	KT_EQ_INT(fn(arg, &base), KC_OK);
	int failures = 0;
	for (long n = 0; n < 10000; n++) {
		cJSON *out = (cJSON *)1;
		kc_alloc_fail_after(n);
		kc_err err = fn(arg, &out);
		bool triggered = kc_alloc_fail_triggered();
		kc_alloc_fail_reset();
		if (err == KC_OK) {
			KT_CHECK(base ? out && same(out, base) : out == NULL);
		} else {
			KT_CHECK(triggered);
			KT_CHECK(err == KC_ERR_NOMEM || (parse_ok && err == KC_ERR_PARSE));
			KT_CHECK(out == NULL);
		}
		if (out != (cJSON *)1)
			cJSON_Delete(out);
		if (!triggered)
			break;
		failures++;
	}
	KT_CHECK(failures > 2);
	cJSON_Delete(base);
}

static kc_err op_cover(const void *arg, cJSON **out)
{
	fb_tol_record rec;
	kc_err err = fb_tolerations_cover(arg, NULL, 300, out, &rec);
	if (err != KC_OK && (rec.not_ready_s != FB_TOL_FOREVER || rec.unreachable_s != FB_TOL_FOREVER))
		return KC_ERR_INVALID; /* fails the check: the record must be cleared */
	return err;
}

static kc_err op_restore(const void *arg, cJSON **out)
{
	return fb_tolerations_restore(arg, &(fb_tol_record){ 60, 90 }, out);
}

static kc_err op_patch_cover(const void *arg, cJSON **out)
{
	return fb_tolerations_pod_patch(arg, "42", NULL, true, 300, out);
}

static kc_err op_patch_restore(const void *arg, cJSON **out)
{
	return fb_tolerations_pod_patch(arg, "42", &(fb_tol_record){ 60, 90 }, false, 300, out);
}

static kc_err op_restore_shortened(const void *arg, cJSON **out)
{
	return fb_tolerations_restore_patch(arg, "42", &(fb_tol_record){ 6, 9 },
	                                    &(fb_tol_record){ 60, 90 }, out);
}

static kc_err op_lengthen(const void *arg, cJSON **out)
{
	return fb_tolerations_lengthen_patch(arg, "42", &(fb_tol_record){ 600, 900 }, out);
}

KT_TEST(every_allocation_failure_is_reported_and_frees_everything)
{
	const char *lists[] = {
		DEFAULTS,
		"[{'key':'gpu'," EX "},{" EX "," NOEX ",'tolerationSeconds':60}]",
		"[{'key':'gpu'," EX "," NOEX ",'tolerationSeconds':30}]",
		"[{" NR "," EX "," NOEX "},{" EX "}]",
	};
	for (size_t i = 0; i < sizeof(lists) / sizeof(*lists); i++) {
		cJSON *t = J(lists[i]);
		char *text = Q(lists[i]);
		every_failure(op_cover, t, false);
		every_failure(op_restore, t, false);
		/* cJSON cannot tell a failed allocation from bad input while parsing */
		every_failure(op_patch_cover, text, true);
		every_failure(op_patch_restore, text, true);
		every_failure(op_restore_shortened, text, true);
		every_failure(op_lengthen, text, true);
		free(text);
		cJSON_Delete(t);
	}
}

int main(void)
{
	KT_RUN(record_parses_and_formats_round_trip);
	KT_RUN(record_parse_rejects_everything_else);
	KT_RUN(record_accepts_non_canonical_text_and_formats_it_canonically);
	KT_RUN(first_matching_toleration_decides);
	KT_RUN(matching_is_tolerates_taint);
	KT_RUN(seconds_are_read_as_get_min_toleration_time_reads_them);
	KT_RUN(cover_takes_the_default_seconds_and_keeps_the_rest);
	KT_RUN(cover_leaves_a_pod_that_tolerates_forever);
	KT_RUN(cover_never_writes_a_wildcard);
	KT_RUN(cover_adds_what_is_missing_with_the_default_recorded);
	KT_RUN(cover_is_idempotent_and_keeps_the_prior_record);
	KT_RUN(restore_after_cover_gives_every_taint_its_time_back);
	KT_RUN(restore_gives_the_recorded_seconds_back);
	KT_RUN(pod_patch_covers_and_restores);
	KT_RUN(a_shortened_restore_keeps_the_whole_times_and_they_come_back);
	KT_RUN(pod_patch_refuses_what_is_not_a_list);
	KT_RUN(numbers_are_written_back_as_the_integers_they_are);
	KT_RUN(a_list_with_a_number_not_exact_is_left_as_it_is);
	KT_RUN(every_allocation_failure_is_reported_and_frees_everything);
	return KT_DONE();
}
