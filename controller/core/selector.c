/* selector.c - see selector.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc/alloc.h"
#include "selector.h"

static int label_cmp(const void *a, const void *b)
{
	return strcmp(((const fb_label *)a)->key, ((const fb_label *)b)->key);
}

void fb_labels_release(fb_labels *l)
{
	for (size_t i = 0; i < l->n; i++) {
		kc_free(l->v[i].key);
		kc_free(l->v[i].value);
	}
	kc_free(l->v);
	l->v = NULL;
	l->n = 0;
}

int fb_labels_from_json(fb_labels *out, const cJSON *obj)
{
	out->v = NULL;
	out->n = 0;
	int count = cJSON_IsObject(obj) ? cJSON_GetArraySize(obj) : 0;
	if (count == 0)
		return 0;
	out->v = kc_calloc((size_t)count, sizeof(fb_label));
	if (!out->v)
		return -1;
	const cJSON *it;
	cJSON_ArrayForEach(it, obj) {
		if (!cJSON_IsString(it) || !it->string)
			continue;
		fb_label *l = &out->v[out->n];
		l->key = kc_strdup(it->string);
		l->value = kc_strdup(it->valuestring);
		out->n++;
		if (!l->key || !l->value) {
			fb_labels_release(out);
			return -1;
		}
	}
	qsort(out->v, out->n, sizeof(fb_label), label_cmp);
	return 0;
}

bool fb_labels_equal(const fb_labels *a, const fb_labels *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i].key, b->v[i].key) != 0 || strcmp(a->v[i].value, b->v[i].value) != 0)
			return false;
	return true;
}

const char *fb_labels_get(const fb_labels *l, const char *key)
{
	fb_label probe = { (char *)key, NULL };
	fb_label *hit = l->n ? bsearch(&probe, l->v, l->n, sizeof(fb_label), label_cmp) : NULL;
	return hit ? hit->value : NULL;
}

void fb_selector_release(fb_selector *s)
{
	for (size_t i = 0; i < s->n; i++) {
		kc_free(s->reqs[i].key);
		for (size_t j = 0; j < s->reqs[i].nvalues; j++)
			kc_free(s->reqs[i].values[j]);
		kc_free(s->reqs[i].values);
	}
	kc_free(s->reqs);
	s->reqs = NULL;
	s->n = 0;
}

static int add_req(fb_selector *s, const char *key, fb_sel_op op, const cJSON *values,
                   const char *single)
{
	fb_sel_req *r = &s->reqs[s->n];
	memset(r, 0, sizeof(*r));
	r->op = op;
	r->key = kc_strdup(key);
	s->n++;
	if (!r->key)
		return -1;
	size_t n = single ? 1 : (values ? (size_t)cJSON_GetArraySize(values) : 0);
	if (n == 0)
		return 0;
	r->values = kc_calloc(n, sizeof(char *));
	if (!r->values)
		return -1;
	if (single) {
		r->values[0] = kc_strdup(single);
		r->nvalues = 1;
		return r->values[0] ? 0 : -1;
	}
	const cJSON *v;
	cJSON_ArrayForEach(v, values) {
		r->values[r->nvalues] = kc_strdup(v->valuestring);
		if (!r->values[r->nvalues])
			return -1;
		r->nvalues++;
	}
	return 0;
}

/*
 * Label syntax, as apimachinery's labels.NewRequirement checks it
 * (k8s.io/apimachinery/pkg/util/validation: IsQualifiedName for keys,
 * IsValidLabelValue for the values of In and NotIn). The CRD's schema cannot
 * express these for matchLabels keys, so a selector that the API server
 * accepted may still be one Kubernetes itself would refuse to use.
 */
static bool is_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9], at most 63 characters; empty if allow_empty. */
static bool valid_name_part(const char *s, size_t n, bool allow_empty)
{
	if (n == 0)
		return allow_empty;
	if (n > 63 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (size_t i = 1; i + 1 < n; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

/* A DNS-1123 subdomain: lower-case labels [a-z0-9]([-a-z0-9]*[a-z0-9])? joined by dots, <= 253. */
static bool valid_dns_subdomain(const char *s, size_t n)
{
	if (n == 0 || n > 253)
		return false;
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		size_t len = i - start;
		if (len == 0)
			return false;
		for (size_t j = start; j < i; j++) {
			char ch = s[j];
			bool lower_alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
			bool edge = j == start || j == i - 1;
			if (!lower_alnum && (edge || ch != '-'))
				return false;
		}
		start = i + 1;
	}
	return true;
}

bool fb_label_key_valid(const char *key)
{
	const char *slash = strchr(key, '/');
	if (!slash)
		return valid_name_part(key, strlen(key), false);
	if (strchr(slash + 1, '/'))
		return false;
	return valid_dns_subdomain(key, (size_t)(slash - key)) &&
	       valid_name_part(slash + 1, strlen(slash + 1), false);
}

bool fb_label_value_valid(const char *value)
{
	return valid_name_part(value, strlen(value), true);
}

#define SEL_FAIL(...)                                  \
	do {                                           \
		snprintf(err, errcap, __VA_ARGS__);    \
		goto fail;                             \
	} while (0)

int fb_selector_parse(fb_selector *out, const cJSON *obj, char *err, size_t errcap)
{
	memset(out, 0, sizeof(*out));
	if (!obj || cJSON_IsNull(obj))
		return 0;
	if (!cJSON_IsObject(obj))
		SEL_FAIL("nodeSelector must be an object");
	const cJSON *ml = cJSON_GetObjectItemCaseSensitive(obj, "matchLabels");
	const cJSON *me = cJSON_GetObjectItemCaseSensitive(obj, "matchExpressions");
	if (ml && !cJSON_IsNull(ml) && !cJSON_IsObject(ml))
		SEL_FAIL("nodeSelector.matchLabels must be an object");
	if (me && !cJSON_IsNull(me) && !cJSON_IsArray(me))
		SEL_FAIL("nodeSelector.matchExpressions must be a list");
	size_t cap = (size_t)(cJSON_IsObject(ml) ? cJSON_GetArraySize(ml) : 0) +
	             (size_t)(cJSON_IsArray(me) ? cJSON_GetArraySize(me) : 0);
	if (cap == 0)
		return 0;
	out->reqs = kc_calloc(cap, sizeof(fb_sel_req));
	if (!out->reqs)
		SEL_FAIL("out of memory");
	const cJSON *it;
	if (cJSON_IsObject(ml)) {
		cJSON_ArrayForEach(it, ml) {
			if (!cJSON_IsString(it))
				SEL_FAIL("nodeSelector.matchLabels[%s] must be a string", it->string);
			if (!fb_label_key_valid(it->string))
				SEL_FAIL("nodeSelector.matchLabels: \"%.80s\" is not a valid label key",
				         it->string);
			if (!fb_label_value_valid(it->valuestring))
				SEL_FAIL("nodeSelector.matchLabels[%.80s]: \"%.80s\" is not a valid label "
				         "value", it->string, it->valuestring);
			if (add_req(out, it->string, FB_SEL_IN, NULL, it->valuestring) != 0)
				SEL_FAIL("out of memory");
		}
	}
	int idx = 0;
	if (cJSON_IsArray(me)) {
		cJSON_ArrayForEach(it, me) {
			const cJSON *key = cJSON_GetObjectItemCaseSensitive(it, "key");
			const cJSON *op = cJSON_GetObjectItemCaseSensitive(it, "operator");
			const cJSON *values = cJSON_GetObjectItemCaseSensitive(it, "values");
			if (!cJSON_IsString(key) || !key->valuestring[0])
				SEL_FAIL("nodeSelector.matchExpressions[%d]: key is required", idx);
			if (!fb_label_key_valid(key->valuestring))
				SEL_FAIL("nodeSelector.matchExpressions[%d]: \"%.80s\" is not a valid "
				         "label key", idx, key->valuestring);
			if (!cJSON_IsString(op))
				SEL_FAIL("nodeSelector.matchExpressions[%d]: operator is required", idx);
			fb_sel_op o;
			if (strcmp(op->valuestring, "In") == 0)
				o = FB_SEL_IN;
			else if (strcmp(op->valuestring, "NotIn") == 0)
				o = FB_SEL_NOT_IN;
			else if (strcmp(op->valuestring, "Exists") == 0)
				o = FB_SEL_EXISTS;
			else if (strcmp(op->valuestring, "DoesNotExist") == 0)
				o = FB_SEL_DOES_NOT_EXIST;
			else
				SEL_FAIL("nodeSelector.matchExpressions[%d]: operator \"%.40s\" is not In, "
				         "NotIn, Exists or DoesNotExist", idx, op->valuestring);
			int nv = cJSON_IsArray(values) ? cJSON_GetArraySize(values) : 0;
			if ((o == FB_SEL_IN || o == FB_SEL_NOT_IN) && nv == 0)
				SEL_FAIL("nodeSelector.matchExpressions[%d]: %s needs at least one value",
				         idx, op->valuestring);
			if ((o == FB_SEL_EXISTS || o == FB_SEL_DOES_NOT_EXIST) && nv > 0)
				SEL_FAIL("nodeSelector.matchExpressions[%d]: %s takes no values", idx,
				         op->valuestring);
			const cJSON *v;
			cJSON_ArrayForEach(v, values) {
				if (!cJSON_IsString(v))
					SEL_FAIL("nodeSelector.matchExpressions[%d]: values must be strings",
					         idx);
				if (!fb_label_value_valid(v->valuestring))
					SEL_FAIL("nodeSelector.matchExpressions[%d]: \"%.80s\" is not a "
					         "valid label value", idx, v->valuestring);
			}
			if (add_req(out, key->valuestring, o, nv ? values : NULL, NULL) != 0)
				SEL_FAIL("out of memory");
			idx++;
		}
	}
	return 0;
fail:
	fb_selector_release(out);
	return -1;
}

bool fb_selector_matches(const fb_selector *s, const fb_labels *labels)
{
	for (size_t i = 0; i < s->n; i++) {
		const fb_sel_req *r = &s->reqs[i];
		const char *v = fb_labels_get(labels, r->key);
		bool in = false;
		for (size_t j = 0; v && j < r->nvalues && !in; j++)
			in = strcmp(v, r->values[j]) == 0;
		switch (r->op) {
		case FB_SEL_IN:
			if (!in)
				return false;
			break;
		case FB_SEL_NOT_IN: /* a missing label satisfies NotIn, as in apimachinery */
			if (in)
				return false;
			break;
		case FB_SEL_EXISTS:
			if (!v)
				return false;
			break;
		case FB_SEL_DOES_NOT_EXIST:
			if (v)
				return false;
			break;
		}
	}
	return true;
}
