/*
 * selector.h - metav1.LabelSelector (matchLabels + matchExpressions), parsed
 * from JSON and matched against a label set, with the semantics of
 * apimachinery's metav1.LabelSelectorAsSelector: all requirements ANDed; an
 * empty selector matches everything.
 */
#ifndef FB_SELECTOR_H
#define FB_SELECTOR_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

typedef struct fb_label {
	char *key;
	char *value;
} fb_label;

typedef struct fb_labels {
	fb_label *v;   /* sorted by key */
	size_t n;
} fb_labels;

/* Copy the string members of a JSON object (metadata.labels); -1 on ENOMEM. */
int fb_labels_from_json(fb_labels *out, const cJSON *obj);
void fb_labels_release(fb_labels *l);
const char *fb_labels_get(const fb_labels *l, const char *key);
/* The same labels (both sorted by key). */
bool fb_labels_equal(const fb_labels *a, const fb_labels *b);

typedef enum fb_sel_op { FB_SEL_IN, FB_SEL_NOT_IN, FB_SEL_EXISTS, FB_SEL_DOES_NOT_EXIST } fb_sel_op;

typedef struct fb_sel_req {
	char *key;
	fb_sel_op op;
	char **values;
	size_t nvalues;
} fb_sel_req;

typedef struct fb_selector {
	fb_sel_req *reqs; /* matchLabels become In with one value */
	size_t n;
} fb_selector;

/*
 * Parse a LabelSelector object (NULL or {} = match everything). On error
 * returns -1 with a one-line reason in err (e.g. "matchExpressions[0]:
 * operator \"Near\" is not In, NotIn, Exists or DoesNotExist"), *out empty.
 */
int fb_selector_parse(fb_selector *out, const cJSON *obj, char *err, size_t errcap);

/*
 * Label syntax as Kubernetes validates it: a key is a qualified name
 * ([prefix/]name, prefix a DNS subdomain, name <= 63 of [-A-Za-z0-9_.] starting
 * and ending alphanumeric); a value is empty or such a name.
 */
bool fb_label_key_valid(const char *key);
bool fb_label_value_valid(const char *value);
void fb_selector_release(fb_selector *s);
bool fb_selector_matches(const fb_selector *s, const fb_labels *labels);

#endif
