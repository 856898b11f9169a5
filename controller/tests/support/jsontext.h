/*
 * jsontext.h - JSON helpers shared by the unit tests and the fuzz targets
 * (header only: the fuzz targets link no test support library): a check on
 * JSON text, and a JSON Patch applied as the API server applies it.
 */
#ifndef FB_TEST_JSONTEXT_H
#define FB_TEST_JSONTEXT_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

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

/* The item at JSON Pointer segment seg (RFC 6901 escapes undone) of parent, or NULL. */
static inline cJSON *json_patch_step_(cJSON *parent, const char *seg)
{
	if (cJSON_IsObject(parent))
		return cJSON_GetObjectItemCaseSensitive(parent, seg);
	if (!cJSON_IsArray(parent) || !*seg || strspn(seg, "0123456789") != strlen(seg))
		return NULL;
	return cJSON_GetArrayItem(parent, atoi(seg));
}

/* Undo "~1" and "~0" in place. */
static inline void json_pointer_unescape_(char *seg)
{
	char *o = seg;
	for (char *i = seg; *i; i++) {
		if (i[0] == '~' && (i[1] == '0' || i[1] == '1')) {
			*o++ = i[1] == '1' ? '/' : '~';
			i++;
		} else {
			*o++ = *i;
		}
	}
	*o = '\0';
}

/*
 * Apply a JSON Patch (RFC 6902: test, add, remove; what firebreak writes) to doc in
 * place, as the API server does; false at the first op that fails (a test that does
 * not hold, a missing parent or member, an index out of range), doc then partly
 * patched.
 */
static inline bool json_patch_apply(cJSON *doc, const cJSON *ops)
{
	const cJSON *op;
	if (!cJSON_IsArray(ops))
		return false;
	cJSON_ArrayForEach(op, ops) {
		const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(op, "op"));
		const char *path = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(op, "path"));
		const cJSON *value = cJSON_GetObjectItemCaseSensitive(op, "value");
		char buf[512];
		if (!kind || !path || path[0] != '/' || strlen(path) >= sizeof(buf))
			return false;
		strcpy(buf, path + 1);
		char *last = strrchr(buf, '/');
		cJSON *parent = doc;
		char *seg = buf;
		if (last) {
			*last = '\0';
			for (char *p = buf; p;) {
				char *slash = strchr(p, '/');
				if (slash)
					*slash = '\0';
				json_pointer_unescape_(p);
				if (!(parent = json_patch_step_(parent, p)))
					return false;
				p = slash ? slash + 1 : NULL;
			}
			seg = last + 1;
		}
		json_pointer_unescape_(seg);
		if (strcmp(kind, "test") == 0) {
			cJSON *at = json_patch_step_(parent, seg);
			if (!at || !value || !cJSON_Compare(at, value, true))
				return false;
		} else if (strcmp(kind, "add") == 0) {
			if (!value)
				return false;
			cJSON *v = cJSON_Duplicate(value, true);
			if (cJSON_IsObject(parent)) {
				cJSON_DeleteItemFromObjectCaseSensitive(parent, seg);
				cJSON_AddItemToObject(parent, seg, v);
			} else if (cJSON_IsArray(parent)) {
				int n = cJSON_GetArraySize(parent);
				int at = strcmp(seg, "-") == 0 ? n : atoi(seg);
				if (at < 0 || at > n || (strcmp(seg, "-") != 0 &&
				                         strspn(seg, "0123456789") != strlen(seg))) {
					cJSON_Delete(v);
					return false;
				}
				cJSON_AddItemToArray(parent, v); /* then moved to its place */
				for (int i = at; i < n; i++)
					cJSON_AddItemToArray(parent, cJSON_DetachItemFromArray(parent, at));
			} else {
				cJSON_Delete(v);
				return false;
			}
		} else if (strcmp(kind, "remove") == 0) {
			cJSON *at = json_patch_step_(parent, seg);
			if (!at)
				return false;
			cJSON_Delete(cJSON_DetachItemViaPointer(parent, at));
		} else {
			return false;
		}
	}
	return true;
}

#endif
