/*
 * tolerations.h - a pod's tolerations of the two failure taints,
 * node.kubernetes.io/not-ready and node.kubernetes.io/unreachable (NoExecute),
 * read as Kubernetes' taint-eviction controller reads them, and rewritten for
 * managed mode (docs/DESIGN.md "Managed clusters", issue 13). Pure: JSON in,
 * JSON out; no I/O, no clock, no log.
 *
 * Reading (fb_toleration_s), as pkg/controller/tainteviction does for one
 * taint: the FIRST toleration in spec order that tolerates it
 * (v1helper.GetMatchingTolerations, Toleration.ToleratesTaint) decides; none =
 * evicted at once; with tolerationSeconds <= 0 at once; with seconds after
 * them; without seconds never (getMinTolerationTime's -1).
 *
 * Managed mode, where the taint-eviction controller stays on: a pod is
 * "covered" when neither failure taint has a finite time any more, so that
 * controller never evicts it, and the times it had are kept in the annotation
 * FB_ANNOTATION_TOLERATIONS ("not-ready=300,unreachable=300"), which firebreak
 * honours instead. fb_tolerations_cover makes a pod so, for each key whose
 * first matching toleration is finite:
 *   - a toleration of that very key loses its tolerationSeconds (on an UPDATE
 *     the API server allows exactly that change: validateOnlyAddedTolerations);
 *   - a toleration of every key (the empty-key wildcard) is left as it is, for
 *     every other taint's sake, and a toleration of this key alone, without
 *     seconds, is put before it;
 *   - no matching toleration at all gets one appended, recorded with the
 *     default seconds the DefaultTolerationSeconds admission plugin would
 *     have given (it is off, or the pod predates it), or with 0 (evicted at
 *     once, as Kubernetes would) when the pod has a toleration of the key
 *     that does not match the taint, which keeps the plugin's default away.
 * The wildcard toleration itself is never written: it tolerates every taint.
 * fb_tolerations_restore undoes it: each recorded key's first matching
 * toleration gets its seconds back (an added one cannot be removed again on
 * an UPDATE; with the seconds it decides exactly as the original did).
 *
 * Numbers. The list is written back whole (an atomic list), every other
 * toleration's seconds included, and the API server decodes tolerationSeconds
 * as an int64: "1e+15", which cJSON prints for 10^15 and up, is refused, and a
 * mutating webhook's patch that yields an undecodable object fails the
 * CREATE with an internal error that failurePolicy Ignore does not cover. So
 * the lists built here are printed with their numbers as integers
 * (fb_tolerations_print_exact), and a list holding a number that a double
 * does not carry exactly (not whole, or beyond FB_TOLERATION_S_EXACT = 2^53 - 1,
 * where cJSON may have dropped digits already) is not rewritten at all:
 * cover and restore answer KC_ERR_TOOBIG, and the pod stays as it is.
 */
#ifndef FB_TOLERATIONS_H
#define FB_TOLERATIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "core.h" /* FB_TOL_NONE, FB_TOL_FOREVER */
#include "kc/error.h"

#define FB_TAINT_NOT_READY   "node.kubernetes.io/not-ready"
#define FB_TAINT_UNREACHABLE "node.kubernetes.io/unreachable"

/* The seconds a covered pod's failure tolerations had before firebreak took them. */
#define FB_ANNOTATION_TOLERATIONS "firebreak.dev/toleration-seconds"
/* A pod given back on a failed node gets the seconds left of its time (the taint-eviction
 * controller starts its clock at the update); its whole times wait here until the node is
 * up again and firebreak writes them back (fb_tolerations_lengthen_patch). */
#define FB_ANNOTATION_TOLERATIONS_FULL "firebreak.dev/toleration-seconds-full"
/* Longest annotation value fb_tol_record_format writes or fb_tol_record_parse reads. */
#define FB_TOL_RECORD_MAX 64
/* The DefaultTolerationSeconds plugin's default (kube-apiserver
 * --default-not-ready-toleration-seconds / --default-unreachable-toleration-seconds). */
#define FB_DEFAULT_TOLERATION_S 300
/* Seconds beyond this are read as this (about 31,700 years). */
#define FB_TOLERATION_S_MAX 1000000000000LL
/* The largest magnitude a number in a list rewritten here may have: 2^53 - 1. Every integer
 * up to it is a double of its own; the text of 2^53 + 1 parses as 2^53. */
#define FB_TOLERATION_S_EXACT 9007199254740991.0

/* What the annotation records: seconds >= 0 per key, or FB_TOL_FOREVER = not recorded. */
typedef struct fb_tol_record {
	int64_t not_ready_s;
	int64_t unreachable_s;
} fb_tol_record;

/* Nothing recorded. */
void fb_tol_record_clear(fb_tol_record *r);

/* True if r records either key. */
bool fb_tol_record_any(const fb_tol_record *r);

/*
 * Parse an annotation value: "not-ready=S", "unreachable=S" or both, comma
 * separated, S a decimal 0..FB_TOLERATION_S_MAX. 0 and *out filled; -1 for
 * anything else (empty, unknown key, a key twice, not a number, too long),
 * *out then cleared.
 */
int fb_tol_record_parse(const char *s, fb_tol_record *out);

/* The annotation value of r ("" when nothing is recorded). Always fits FB_TOL_RECORD_MAX. */
void fb_tol_record_format(const fb_tol_record *r, char buf[FB_TOL_RECORD_MAX]);

/* The effective toleration of taint_key (above): seconds, FB_TOL_NONE or FB_TOL_FOREVER.
 * tolerations may be NULL or not an array (= none). */
int64_t fb_toleration_s(const cJSON *tolerations, const char *taint_key);

/*
 * Cover (above). tolerations: the pod's spec.tolerations (NULL = none).
 * prior: what its annotation records already (a reinvocation of the webhook,
 * or NULL); a key the pod tolerates forever keeps its prior record, a key
 * with finite seconds now is recorded anew. default_s: the seconds recorded
 * for a key with no matching toleration.
 * On KC_OK: *rec is the record to write, *out the new tolerations (owned by
 * the caller) or NULL when nothing is to change. KC_ERR_TOOBIG when a number
 * in tolerations is not exact (above), KC_ERR_NOMEM; *out NULL then, and *rec
 * records nothing.
 */
kc_err fb_tolerations_cover(const cJSON *tolerations, const fb_tol_record *prior,
                            int64_t default_s, cJSON **out, fb_tol_record *rec);

/*
 * Restore (above): every key rec records whose first matching toleration has
 * no seconds gets rec's seconds. *out: the new tolerations (owned by the
 * caller), or NULL when nothing is to change. KC_ERR_TOOBIG (a number not
 * exact, above), KC_ERR_NOMEM; *out NULL then.
 */
kc_err fb_tolerations_restore(const cJSON *tolerations, const fb_tol_record *rec, cJSON **out);

/*
 * The patch that covers (cover true) or restores a pod, from its
 * spec.tolerations as JSON text, its resourceVersion (the precondition: a pod
 * changed since is refused and read again) and its annotation's record
 * (prior; NULL = none).
 *   - Covering: a JSON merge patch (KC_PATCH_MERGE) of the whole list (an
 *     atomic list), printed with exact integers, and the record, with the
 *     resourceVersion (409 when stale). NULL when nothing is to change;
 *     KC_ERR_TOOBIG for a list with a number not exact (above).
 *   - Restoring: a JSON Patch (KC_PATCH_JSON) that tests the resourceVersion
 *     (422 when stale), gives each recorded key's first matching toleration
 *     its seconds (an "add" of its tolerationSeconds, or of a toleration of
 *     the key inserted before a wildcard), and removes the annotation. Only
 *     what changes is written, so a restore never refuses a list, whatever
 *     numbers its other tolerations hold: uninstalling must not get stuck.
 *     Always a patch (the annotation goes).
 * KC_ERR_PARSE when tolerations is not a JSON array, KC_ERR_NOMEM.
 */
kc_err fb_tolerations_pod_patch(const char *tolerations, const char *resource_version,
                                const fb_tol_record *prior, bool cover, int64_t default_s,
                                cJSON **out);

/*
 * The restore of fb_tolerations_pod_patch giving back rec, shorter than the whole times full
 * for a key of a pod on a failed node: the same JSON Patch, plus full (the keys rec shortens)
 * written to FB_ANNOTATION_TOLERATIONS_FULL. full NULL: the plain restore.
 */
kc_err fb_tolerations_restore_patch(const char *tolerations, const char *resource_version,
                                    const fb_tol_record *rec, const fb_tol_record *full,
                                    cJSON **out);

/*
 * The JSON Patch that gives a pod shortened on a failed node its whole times back, its node
 * being up: each key full records whose first matching toleration has fewer seconds gets
 * them, and FB_ANNOTATION_TOLERATIONS_FULL goes. KC_ERR_PARSE (not a list), KC_ERR_NOMEM.
 */
kc_err fb_tolerations_lengthen_patch(const char *tolerations, const char *resource_version,
                                     const fb_tol_record *full, cJSON **out);

/*
 * Make every number in item (a list built by cover or restore, whose numbers
 * are exact) print as the integer it is, not as cJSON's "1e+15": each becomes
 * a raw JSON value of its digits. false on ENOMEM (item then partly done, still
 * valid). Call it just before printing: the numbers are no longer numbers to
 * cJSON afterwards.
 */
bool fb_tolerations_print_exact(cJSON *item);

/* True when the taint-eviction controller would evict a pod with these tolerations from a
 * failed node in finite time (either key not tolerated forever). */
bool fb_tolerations_finite(const cJSON *tolerations);

#endif
