/*
 * jsontext.h - checks on JSON as text, shared by the unit tests and the fuzz
 * targets (header only: the fuzz targets link no test support library).
 */
#ifndef FB_TEST_JSONTEXT_H
#define FB_TEST_JSONTEXT_H

#include <stdbool.h>

/*
 * Whether every number token in the JSON text is a plain integer (-?digits),
 * what Go's encoding/json decodes into an int64 (the API server refuses
 * "1e+15" for tolerationSeconds). Strings are skipped; an unterminated one is
 * false.
 */
static inline bool json_integer_literals_only(const char *text)
{
	for (const char *p = text; *p; p++) {
		if (*p == '"') {
			for (p++; *p && *p != '"'; p++)
				if (*p == '\\' && p[1])
					p++;
			if (!*p)
				return false;
			continue;
		}
		if (*p == '-' || (*p >= '0' && *p <= '9')) {
			const char *q = p + (*p == '-');
			while (*q >= '0' && *q <= '9')
				q++;
			if (*q == '.' || *q == 'e' || *q == 'E')
				return false;
			p = q - 1;
		}
	}
	return true;
}

#endif
