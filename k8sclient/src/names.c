/* names.c - the API's name rules (kc/names.h), as apimachinery's validation package. */
#include "kc/names.h"

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool kc_is_dns_label(const char *s, size_t len)
{
	if (len == 0 || len > 63)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_lower_alnum(s[i]) && !(s[i] == '-' && i > 0 && i + 1 < len))
			return false;
	return true;
}

/* dns1123SubdomainFmt: labels of [a-z0-9-] with alphanumeric ends; no limit per label */
bool kc_is_dns_subdomain(const char *s, size_t len)
{
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		bool starts = i == 0 || s[i - 1] == '.', ends = i + 1 == len || s[i + 1] == '.';
		if (is_lower_alnum(s[i]))
			continue;
		if (s[i] == '-' && !starts && !ends)
			continue;
		if (s[i] == '.' && !starts && !ends)
			continue;
		return false;
	}
	return true;
}
