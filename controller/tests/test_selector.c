/*
 * test_selector.c - label selectors and label syntax, with the cases of
 * apimachinery's validation tests (TestIsQualifiedName, TestIsValidLabelValue)
 * and of labels.NewRequirement: a selector Kubernetes would refuse is refused.
 */
#include <stdbool.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "budget.h"
#include "kctest.h"
#include "selector.h"

KT_TEST(label_keys_follow_is_qualified_name)
{
	static const char *good[] = {
		"simple", "now-with-dashes", "1-starts-with-num", "1234", "simple/simple",
		"now-with-dashes/simple", "now-with-dashes/now-with-dashes", "now.with.dots/simple",
		"now-with.dashes-and.dots/simple", "1-num.2-num/3-num", "1234/5678", "1.2.3.4/5678",
		"Uppercase_Is_OK_123", "example.com/Uppercase_Is_OK_123", "requests.storage-foo",
		"topology.kubernetes.io/zone",
		"123456789012345678901234567890123456789012345678901234567890123", /* 63 */
	};
	static const char *bad[] = {
		"", "nospecialchars%^=@", "cantendwithadash-", "-cantstartwithadash-",
		"only/one/slash", "Example.com/abc", "example_com/abc", "example.com/",
		"/simple", "a b", "zone a",
		"1234567890123456789012345678901234567890123456789012345678901234", /* 64 */
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (!fb_label_key_valid(good[i]))
			fprintf(stderr, "  refused good key \"%s\"\n", good[i]);
		KT_CHECK(fb_label_key_valid(good[i]));
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (fb_label_key_valid(bad[i]))
			fprintf(stderr, "  accepted bad key \"%s\"\n", bad[i]);
		KT_CHECK(!fb_label_key_valid(bad[i]));
	}
	/* a prefix of 253 characters is allowed, 254 is not */
	char key[300];
	memset(key, 'a', 253);
	strcpy(key + 253, "/n");
	KT_CHECK(fb_label_key_valid(key));
	memset(key, 'a', 254);
	strcpy(key + 254, "/n");
	KT_CHECK(!fb_label_key_valid(key));
}

KT_TEST(label_values_follow_is_valid_label_value)
{
	static const char *good[] = {
		"", "simple", "now-with-dashes", "1-starts-with-num", "end-with-num-1", "1234",
		"Uppercase_Is_OK_123", "dots.are.fine", "zone-a",
	};
	static const char *bad[] = {
		"nospecialchars%^=@", "Tama-nui-te-rā.is.Māori.sun", "\\backslashes\\are\\bad",
		"-starts-with-dash", "ends-with-dash-", ".starts.with.dot", "zone a", "a/b",
		"1234567890123456789012345678901234567890123456789012345678901234", /* 64 */
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		KT_CHECK(fb_label_value_valid(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (fb_label_value_valid(bad[i]))
			fprintf(stderr, "  accepted bad value \"%s\"\n", bad[i]);
		KT_CHECK(!fb_label_value_valid(bad[i]));
	}
}

/* Parse spec JSON; returns the parser's result and leaves its message in err. */
static int parse_spec(const char *json, char *err, size_t errcap)
{
	cJSON *spec = cJSON_Parse(json);
	KT_CHECK(spec != NULL);
	fb_budget_spec s;
	err[0] = '\0';
	int rc = fb_budget_spec_parse(&s, spec, err, errcap);
	if (rc == 0)
		fb_budget_spec_release(&s);
	cJSON_Delete(spec);
	return rc;
}

KT_TEST(budget_with_selector_kubernetes_would_refuse_is_invalid)
{
	char err[256];
	KT_EQ_INT(parse_spec("{\"nodeSelector\":{\"matchLabels\":"
	                     "{\"topology.kubernetes.io/zone\":\"zone-a\"}}}", err, sizeof(err)), 0);
	/* passes the CRD's schema (a string of at most 63), but is no label value */
	KT_EQ_INT(parse_spec("{\"nodeSelector\":{\"matchLabels\":"
	                     "{\"topology.kubernetes.io/zone\":\"zone a\"}}}", err, sizeof(err)), -1);
	KT_CHECK(strstr(err, "nodeSelector.matchLabels[topology.kubernetes.io/zone]") != NULL);
	KT_CHECK(strstr(err, "\"zone a\" is not a valid label value") != NULL);
	KT_EQ_INT(parse_spec("{\"nodeSelector\":{\"matchLabels\":{\"pool type\":\"gpu\"}}}", err,
	                     sizeof(err)), -1);
	KT_CHECK(strstr(err, "\"pool type\" is not a valid label key") != NULL);
	KT_EQ_INT(parse_spec("{\"nodeSelector\":{\"matchExpressions\":[{\"key\":\"Pool/x\","
	                     "\"operator\":\"Exists\"}]}}", err, sizeof(err)), -1);
	KT_CHECK(strstr(err, "matchExpressions[0]: \"Pool/x\" is not a valid label key") != NULL);
	KT_EQ_INT(parse_spec("{\"nodeSelector\":{\"matchExpressions\":[{\"key\":\"pool\","
	                     "\"operator\":\"In\",\"values\":[\"gpu\",\"a:b\"]}]}}", err,
	                     sizeof(err)), -1);
	KT_CHECK(strstr(err, "matchExpressions[0]: \"a:b\" is not a valid label value") != NULL);
	KT_EQ_INT(parse_spec("{\"nodeSelector\":{\"matchExpressions\":[{\"key\":\"pool\","
	                     "\"operator\":\"NotIn\",\"values\":[\"gpu\",\"\"]}]}}", err,
	                     sizeof(err)), 0);
}

KT_TEST(selector_matches_like_label_selector_as_selector)
{
	char err[256];
	cJSON *obj = cJSON_Parse("{\"matchLabels\":{\"pool\":\"gpu\"},\"matchExpressions\":["
	                         "{\"key\":\"zone\",\"operator\":\"NotIn\",\"values\":[\"a\"]},"
	                         "{\"key\":\"spot\",\"operator\":\"DoesNotExist\"}]}");
	fb_selector sel;
	KT_EQ_INT(fb_selector_parse(&sel, obj, err, sizeof(err)), 0);
	cJSON *l1 = cJSON_Parse("{\"pool\":\"gpu\",\"zone\":\"b\"}");
	cJSON *l2 = cJSON_Parse("{\"pool\":\"gpu\",\"zone\":\"a\"}");
	cJSON *l3 = cJSON_Parse("{\"pool\":\"gpu\",\"spot\":\"\"}");
	cJSON *l4 = cJSON_Parse("{\"pool\":\"cpu\"}");
	fb_labels a, b, c, d;
	KT_EQ_INT(fb_labels_from_json(&a, l1), 0);
	KT_EQ_INT(fb_labels_from_json(&b, l2), 0);
	KT_EQ_INT(fb_labels_from_json(&c, l3), 0);
	KT_EQ_INT(fb_labels_from_json(&d, l4), 0);
	KT_CHECK(fb_selector_matches(&sel, &a));
	KT_CHECK(!fb_selector_matches(&sel, &b)); /* zone NotIn [a] */
	KT_CHECK(!fb_selector_matches(&sel, &c)); /* spot exists, even empty */
	KT_CHECK(!fb_selector_matches(&sel, &d));
	fb_labels_release(&a);
	fb_labels_release(&b);
	fb_labels_release(&c);
	fb_labels_release(&d);
	cJSON_Delete(l1);
	cJSON_Delete(l2);
	cJSON_Delete(l3);
	cJSON_Delete(l4);
	fb_selector_release(&sel);
	cJSON_Delete(obj);
}

int main(void)
{
	KT_RUN(label_keys_follow_is_qualified_name);
	KT_RUN(label_values_follow_is_valid_label_value);
	KT_RUN(budget_with_selector_kubernetes_would_refuse_is_invalid);
	KT_RUN(selector_matches_like_label_selector_as_selector);
	return KT_DONE();
}
