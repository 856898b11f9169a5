/* The API's name rules (kc/names.h) against apimachinery's validation tests' cases. */
#include <string.h>

#include "kc/names.h"
#include "kctest.h"

static bool label(const char *s)
{
	return kc_is_dns_label(s, strlen(s));
}

static bool subdomain(const char *s)
{
	return kc_is_dns_subdomain(s, strlen(s));
}

KT_TEST(dns_labels)
{
	static const char *const good[] = { "a", "ab", "abc", "a1", "a-1", "a--1--2--b", "0", "01",
		                            "012345678901234567890123456789012345678901234567890123456789012" };
	static const char *const bad[] = { "", "A", "ABC", "aBc", "A1", "A-1", "1-A", "-", "a-", "-a",
		                           "1-", "-1", "_", "a_", "_a", "a_b", "1_", "_1", "1_2", ".",
		                           "a.", ".a", "a.b", "1.", ".1", "1.2", " ", "a ", " a", "a b",
		                           "1 ", " 1", "1 2",
		                           "0123456789012345678901234567890123456789012345678901234567890123" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		KT_CHECK(label(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		KT_CHECK(!label(bad[i]));
	KT_CHECK(!kc_is_dns_label("ab", 0));
	KT_CHECK(kc_is_dns_label("ab-", 2)); /* only len bytes count */
}

KT_TEST(dns_subdomains)
{
	char long_label[80], too_long[260];
	memset(long_label, 'a', 70); /* longer than a DNS label: upstream takes it */
	long_label[70] = '\0';
	memset(too_long, 'a', 254);
	too_long[254] = '\0';
	const char *good[] = { "a", "ab", "a1", "a-1", "a--1--2--b", "0", "01", "a.a", "ab.a",
		               "a1.a", "a-1.a", "a.b.c.d", "0.0", "firebreak-webhook.ns.svc", long_label };
	const char *bad[] = { "", "A", "ABC", "aBc", "-", "a-", "-a", "_", "a_b", ".", "a.", ".a",
		              "a..b", "a.-b", "a-.b", "A.a", "a.A", "a b", "*.a", too_long };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		KT_CHECK(subdomain(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		KT_CHECK(!subdomain(bad[i]));
}

int main(void)
{
	KT_RUN(dns_labels);
	KT_RUN(dns_subdomains);
	return KT_DONE();
}
