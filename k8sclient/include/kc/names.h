/*
 * kc/names.h - the API's name rules (k8s.io/apimachinery/pkg/util/validation),
 * for names that come from users or files before they go into a request.
 */
#ifndef KC_NAMES_H
#define KC_NAMES_H

#include <stdbool.h>
#include <stddef.h>

/* IsDNS1123Label: 1..63 of [a-z0-9-], alphanumeric at both ends (a namespace). */
bool kc_is_dns_label(const char *s, size_t len);

/*
 * IsDNS1123Subdomain: dot-separated labels of [a-z0-9-] with alphanumeric
 * ends, at most 253 bytes in all (most object names; as upstream, a label
 * may be longer than 63).
 */
bool kc_is_dns_subdomain(const char *s, size_t len);

#endif
