/*
 * certs.h - the admission webhook's certificates (OpenSSL): a CA and a serving
 * certificate generated, PEM parsed and inspected, and the rotation plan.
 *
 * The plan (fb_cert_plan_make) is a pure function: what the Secret holds
 * (parsed), the SANs wanted, the caBundle the MutatingWebhookConfiguration
 * holds, since when those were observed unchanged, and the time in; one step
 * out. It does no I/O and reads no clock; webhookcerts.c carries the steps out
 * against the API. Why the lifetimes, renewal points and the order of a CA
 * rotation are what they are is at the head of certs.c.
 *
 * Keys are ECDSA P-256, signatures SHA-256. The Secret's layout
 * (type kubernetes.io/tls):
 *   tls.crt, tls.key   the serving certificate and its key
 *   ca.crt             the CAs the caBundle must hold: the current CA first,
 *                      the previous one too while a rotation is under way
 *   ca.key             the current CA's key (self mode only)
 *
 * Input from the Secret and the webhook configuration is hostile: every
 * field is capped (FB_CERT_PEM_MAX) before it is parsed, a malformed field
 * gives a reason for the log (never key material), and nothing crashes.
 *
 * Times are wall-clock milliseconds since the Unix epoch (certificates keep
 * whole seconds). OpenSSL objects are owned by whoever the comment says;
 * OpenSSL's error queue is left empty by every function here.
 */
#ifndef FB_CERTS_H
#define FB_CERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "kc/buf.h"

#define FB_CERT_PEM_MAX    (64u << 10) /* one field of the Secret, one caBundle */
#define FB_CERT_BUNDLE_MAX 8           /* certificates in ca.crt, tls.crt or a caBundle */
#define FB_SAN_MAX         16          /* SANs of the serving certificate */
#define FB_SAN_LEN_MAX     253         /* a DNS name (RFC 1035) */
#define FB_CERT_WHY_MAX    200         /* a reason for the log */

/* ---- SANs ----------------------------------------------------------------------- */

typedef struct fb_sans {
	char name[FB_SAN_MAX][FB_SAN_LEN_MAX + 1]; /* DNS names and IP literals */
	size_t n;
} fb_sans;

/*
 * The serving certificate's SANs: the Service's names as the API server
 * calls it (service, service.ns, service.ns.svc, service.ns.svc.cluster.local)
 * and the extra ones, comma separated (IPv4/IPv6 literals or DNS names;
 * blanks around commas ignored; NULL or "" for none). Duplicates are kept
 * once. 0, or -1 with why: an invalid name, too many.
 */
int fb_sans_build(fb_sans *out, const char *service, const char *ns, const char *extra,
                  char *why, size_t cap);

/* ---- certificate lists ------------------------------------------------------------ */

typedef struct fb_cert_list {
	X509 *cert[FB_CERT_BUNDLE_MAX]; /* owned */
	size_t n;
} fb_cert_list;

/* Free the certificates; the list is empty and reusable. */
void fb_cert_list_release(fb_cert_list *l);

/*
 * Parse every CERTIFICATE block of pem[0..len) into l (which must be empty).
 * Text between blocks is skipped, as Go's pem.Decode does. -1 with why, and
 * l left empty, when: nothing but blanks (empty), no block, more than
 * FB_CERT_PEM_MAX bytes, a block that does not parse (cut short, bad base64,
 * not X.509, trailing bytes, headers), a line outside the blocks that starts
 * with '-' (a boundary cut short), a block of another kind, more than
 * FB_CERT_BUNDLE_MAX certificates, or out of memory.
 */
int fb_cert_list_parse(fb_cert_list *l, const char *pem, size_t len, char *why, size_t cap);

/* Append l as PEM to out. 0, or -1 (KC_ERR_TOOBIG / NOMEM: out unchanged). */
int fb_cert_list_pem(const fb_cert_list *l, kc_buf *out);

/* Whether c (by its DER) is in l. */
bool fb_cert_list_has(const fb_cert_list *l, const X509 *c);

/* Whether a and b hold the same certificates, in any order. */
bool fb_cert_list_same(const fb_cert_list *a, const fb_cert_list *b);

/* Append a reference to c to l (X509_up_ref). -1 when l is full. */
int fb_cert_list_add(fb_cert_list *l, X509 *c);

/* ---- keys and single certificates ------------------------------------------------- */

/*
 * Parse one private key (PKCS#8, SEC1 or PKCS#1 PEM; never an encrypted one:
 * no passphrase is ever asked for). NULL with why when it does not parse.
 * The caller frees it with EVP_PKEY_free.
 */
EVP_PKEY *fb_key_parse(const char *pem, size_t len, char *why, size_t cap);

/* Append the key as PKCS#8 PEM, or one certificate as PEM. 0 or -1 (out unchanged). */
int fb_key_pem(EVP_PKEY *key, kc_buf *out);
int fb_cert_pem(X509 *cert, kc_buf *out);

int64_t fb_cert_not_before_ms(const X509 *cert);
int64_t fb_cert_not_after_ms(const X509 *cert);
/* Whether now_ms is within [notBefore, notAfter). */
bool fb_cert_valid_at(const X509 *cert, int64_t now_ms);
/* basicConstraints CA:TRUE and, if keyUsage is present, keyCertSign. */
bool fb_cert_is_ca(X509 *cert);
/* cert names ca as its issuer (subject, key identifiers) and ca's key signed it. */
bool fb_cert_issued_by(X509 *cert, X509 *ca);
/* key is the private key of cert's public key. */
bool fb_cert_key_matches(X509 *cert, EVP_PKEY *key);
/* cert's SANs are exactly sans (DNS names compared without case, IPs as addresses). */
bool fb_cert_has_sans(X509 *cert, const fb_sans *sans);
/*
 * What the API server checks when it calls the webhook: leaf chains to one
 * of roots (with no other certificate), every certificate of the chain is
 * valid at at_ms, the leaf may serve TLS (extendedKeyUsage serverAuth) and
 * host (a DNS name or an IP literal) is one of its SANs.
 */
bool fb_cert_verify(X509 *leaf, const fb_cert_list *roots, const char *host, int64_t at_ms);
/* The serial number in hex ("?" when it cannot be printed), for logs. */
void fb_cert_serial(const X509 *cert, char *buf, size_t cap);
/* The subject's CN ("" if none), for logs. */
void fb_cert_cn(X509 *cert, char *buf, size_t cap);

/* What a log line says of a certificate. */
typedef struct fb_cert_summary {
	char serial[80];        /* hex */
	char cn[65];
	int64_t not_after_ms;
} fb_cert_summary;

/* The summary of the first certificate of pem. 0, or -1 when it does not parse. */
int fb_cert_pem_summary(const char *pem, size_t len, fb_cert_summary *out);

/* ---- generation -------------------------------------------------------------------- */

typedef struct fb_cert_policy {
	int64_t ca_lifetime_ms;      /* validity of a new CA */
	int64_t serving_lifetime_ms; /* validity of a new serving certificate (capped by its CA's) */
	int renew_pct;               /* renew a certificate at this percentage of its validity */
	int64_t backdate_ms;         /* notBefore this long before issue, for clock skew */
	int64_t bundle_hold_ms;      /* a new CA in the caBundle this long before it signs */
	int64_t serving_hold_ms;     /* the new serving certificate out this long before the
	                                old CA leaves the caBundle */
} fb_cert_policy;

/* The defaults (certs.c says why): 365 d, 90 d, 67 %, 1 h, 1 h, 24 h. */
void fb_cert_policy_defaults(fb_cert_policy *p);

/*
 * A new self-signed CA valid from now_ms - backdate for ca_lifetime_ms:
 * subject CN "firebreak-webhook-ca@<unix seconds>", basicConstraints
 * critical CA:TRUE pathlen 0, keyUsage critical keyCertSign, a random 127-bit
 * serial and a subject key identifier. 0 with *cert and *key (caller frees),
 * or -1 (nothing allocated).
 */
int fb_ca_generate(int64_t now_ms, const fb_cert_policy *p, X509 **cert, EVP_PKEY **key);

/*
 * A new serving certificate for sans signed by ca/ca_key, valid from
 * now_ms - backdate for serving_lifetime_ms but never past the CA's notAfter:
 * basicConstraints critical CA:FALSE, keyUsage critical digitalSignature,
 * extendedKeyUsage serverAuth, subjectAltName (DNS and IP), key identifiers.
 * 0 with *cert and *key (caller frees), or -1 (nothing allocated).
 */
int fb_serving_generate(X509 *ca, EVP_PKEY *ca_key, const fb_sans *sans, int64_t now_ms,
                        const fb_cert_policy *p, X509 **cert, EVP_PKEY **key);

/* ---- the Secret ------------------------------------------------------------------- */

typedef enum fb_tls_field { FB_TLS_CRT, FB_TLS_KEY, FB_CA_CRT, FB_CA_KEY, FB_TLS_NFIELDS } fb_tls_field;

/* "tls.crt", "tls.key", "ca.crt", "ca.key": the Secret's data keys. */
const char *fb_tls_field_name(fb_tls_field f);

/* The Secret's fields as bytes (borrowed; NULL = absent). */
typedef struct fb_tls_fields {
	const char *data[FB_TLS_NFIELDS];
	size_t len[FB_TLS_NFIELDS];
} fb_tls_fields;

/* The Secret's fields, parsed. A field that is absent or malformed is empty, with a problem. */
typedef struct fb_tls_material {
	fb_cert_list ca;             /* ca.crt */
	EVP_PKEY *ca_key;            /* ca.key */
	fb_cert_list chain;          /* tls.crt: the serving certificate first */
	EVP_PKEY *key;               /* tls.key */
	char problem[FB_TLS_NFIELDS][FB_CERT_WHY_MAX]; /* "" when the field parsed */
} fb_tls_material;

/* Parse every field of f into m. Cannot fail: what does not parse is recorded in problem[]. */
void fb_tls_material_parse(fb_tls_material *m, const fb_tls_fields *f);
void fb_tls_material_release(fb_tls_material *m);

/*
 * Whether cert/key (PEM, as in tls.crt and tls.key) can be served at now_ms:
 * both parse, the key is the certificate's and the certificate is valid now.
 * If not, why says what is wrong. What every replica checks before loading.
 */
bool fb_tls_pair_usable(const char *cert, size_t cert_len, const char *key, size_t key_len,
                        int64_t now_ms, char *why, size_t cap);

/* New contents of the four fields, each PEM (ca.key empty in external mode). */
typedef struct fb_tls_pem {
	kc_buf field[FB_TLS_NFIELDS];
} fb_tls_pem;

void fb_tls_pem_init(fb_tls_pem *out);
void fb_tls_pem_release(fb_tls_pem *out);

/* ---- the plan ---------------------------------------------------------------------- */

typedef enum fb_cert_step {
	FB_CERT_NOTHING,          /* all is as it should be until next_ms */
	FB_CERT_CREATE,           /* no Secret: a new CA and serving certificate in a new one */
	FB_CERT_RESET,            /* nothing in the Secret can be kept: the same, replacing it */
	FB_CERT_START_ROTATION,   /* a new CA first in ca.crt, the serving certificate's
	                             CA kept after it, tls.* unchanged */
	FB_CERT_NEW_SERVING,      /* a serving certificate from the current CA */
	FB_CERT_FINISH_ROTATION,  /* the old CAs out of ca.crt */
	FB_CERT_PATCH_BUNDLE,     /* the webhook configuration's caBundle := ca.crt */
} fb_cert_step;

const char *fb_cert_step_name(fb_cert_step s);

/* What the plan looks at. */
typedef struct fb_cert_state {
	const fb_tls_material *secret; /* NULL: there is no Secret */
	const fb_sans *sans;           /* the SANs wanted */
	const fb_cert_list *bundle;    /* the caBundle; NULL: no webhook configuration */
	bool bundle_uniform;           /* every webhook entry holds that same caBundle */
	int64_t bundle_since_ms;       /* the caBundle observed unchanged since */
	int64_t serving_since_ms;      /* tls.crt observed unchanged since */
	int64_t now_ms;
} fb_cert_state;

typedef struct fb_cert_plan {
	fb_cert_step step;
	int keep_ca;                   /* START_ROTATION: index in ca.crt of the CA kept, -1 none */
	int64_t next_ms;               /* NOTHING: when time alone changes the plan (INT64_MAX: never) */
	char why[FB_CERT_WHY_MAX * 2]; /* one line for the log */
} fb_cert_plan;

/* The next step for s (certs.c, "The plan"). Pure; cannot fail. */
void fb_cert_plan_make(const fb_cert_state *s, const fb_cert_policy *p, fb_cert_plan *out);

/*
 * Carry out a step that changes the Secret (CREATE, RESET, START_ROTATION,
 * NEW_SERVING, FINISH_ROTATION) on s->secret: the new contents of all four
 * fields into out (initialised by the caller). Generates keys, so not pure.
 * 0, or -1 with why (out then holds nothing to use).
 */
int fb_cert_plan_apply(const fb_cert_plan *plan, const fb_cert_state *s, const fb_cert_policy *p,
                       fb_tls_pem *out, char *why, size_t cap);

#endif
