/*
 * certs.c - the webhook's CA and serving certificate: generation, parsing and
 * the rotation plan (certs.h).
 *
 * What the two references do (read at open-policy-agent/cert-controller
 * 5bfb84d pkg/rotator/rotator.go, and kyverno/kyverno 111e07b pkg/tls/
 * renewer.go, keypair.go, utils.go, pkg/controllers/certmanager):
 *
 *   cert-controller: CA 10 years, serving certificate 1 year, both renewed
 *   when they are within a 90-day lookahead of notAfter, checked every 12 h;
 *   notBefore backdated 1 h. When the CA is renewed, a new CA AND a new
 *   serving certificate are written to the Secret in one update and the
 *   caBundle is then set to the new CA alone (injectCertToWebhook): there is
 *   no overlap. Between that update and every replica loading the new
 *   certificate (a mounted Secret volume, synced by the kubelet in up to a
 *   minute or more), the API server holds one CA and replicas serve a
 *   certificate from the other, and calls fail. It even offers to exit the
 *   process to load a renewed certificate (RestartOnSecretRefresh).
 *
 *   Kyverno: CA 365 days, serving certificate 150 days, renewed within
 *   renewBefore (15 days by default, --renewBefore) of notAfter, checked
 *   every 12 h (CertRenewalInterval); notBefore backdated 1 h. The CA Secret
 *   holds a list of CA certificates and the caBundle is that whole list
 *   (ReadRootCASecret). But a renewed CA reuses the old CA's key and subject
 *   (generateCA(key, ...), CN "*.kyverno.svc"), which is what makes old and
 *   new serving certificates verify under either CA certificate: the
 *   overlap comes from never changing the key. The expiring CA certificate
 *   leaves the list in the same update that adds the new one.
 *
 * What firebreak does, and why:
 *
 *   Lifetimes. CA 365 days (Kyverno's); serving certificate 90 days (shorter
 *   than both: a leaked serving key is good for less time, and renewal is
 *   exercised every two months rather than once a year). Both are renewed at
 *   67 % of their validity (cert-manager's default of renewing a third of
 *   the way before the end), so a CA rotation starts ~120 days and a
 *   serving renewal ~30 days before expiry: months and weeks to notice and
 *   fix a leader that cannot write. notBefore is backdated 1 h, as both
 *   references do, for clocks that run behind. Each CA gets a new key and a
 *   subject of its own ("firebreak-webhook-ca@<unix seconds>", the form of
 *   client-go's cert.GenerateSelfSignedCertKey): unlike Kyverno, rotating
 *   the CA rotates its key, and certificates of old and new CA never
 *   chain to each other by accident. Serials are random (127 bits); both
 *   references use fixed serials 0 and 1.
 *
 *   The CA rotation, in steps, each a separate write (fb_cert_plan_make):
 *     1. START_ROTATION: a new CA goes first in ca.crt, the old CA stays
 *        after it, ca.key becomes the new CA's; tls.crt/tls.key unchanged
 *        (still from the old CA). The old CA's key is dropped: it signs
 *        nothing more.
 *     2. PATCH_BUNDLE: the caBundle of every webhook entry := ca.crt, i.e.
 *        new and old CA. Both verify what is served.
 *     3. NEW_SERVING, only once the caBundle has been observed holding the
 *        new CA for bundle_hold (1 h): a serving certificate from the new
 *        CA. Every API server has the new CA long before any replica can
 *        serve a certificate signed by it (the API servers' webhook
 *        configuration informers see the patch within seconds).
 *     4. FINISH_ROTATION, only once that serving certificate has been
 *        observed in the Secret for serving_hold (24 h): the old CA leaves
 *        ca.crt, and 5. PATCH_BUNDLE takes it out of the caBundle. Replicas
 *        load the Secret through a watch (seconds; the reflector's worst case
 *        for a stalled watch is about 11 minutes: timeoutSeconds < 600 s, a
 *        60 s stall margin, backoff < 30 s), so after 24 h nothing signed by
 *        the old CA is served by any replica that can reach the API server.
 *   "Observed since" is the time this replica first saw the object with that
 *   content (webhookcerts.c); a new leader starts counting afresh unless it
 *   was watching as a follower, which only ever delays a step. The holds are
 *   cheap: the old CA stays valid for months after the rotation starts.
 *
 *   A Secret that cannot be used is repaired the same way where it can be:
 *   a CA that cannot sign (ca.key missing, garbage, not ca.crt's key; the CA
 *   expired or not a CA) while the serving certificate is still good starts
 *   a rotation that keeps the serving certificate's CA; a serving
 *   certificate that is broken (garbage, wrong key, expired, other SANs, not
 *   from a CA in ca.crt) is replaced at once from the current CA, after the
 *   caBundle holds ca.crt; only when neither can be kept is everything
 *   regenerated (RESET). A CA is generated only when there is none that can
 *   sign or the current one is at 67 %: never on start, never on render.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certs.h"
#include "kc/time.h"
#include "kc/alloc.h"
#include "kc/names.h"

#define DAY_MS (24LL * 3600 * 1000)
#define HOUR_MS (3600LL * 1000)

void fb_cert_policy_defaults(fb_cert_policy *p)
{
	p->ca_lifetime_ms = 365 * DAY_MS;
	p->serving_lifetime_ms = 90 * DAY_MS;
	p->renew_pct = 67;
	p->backdate_ms = HOUR_MS;
	p->bundle_hold_ms = HOUR_MS;
	p->serving_hold_ms = 24 * HOUR_MS;
}

static void say(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *why, size_t cap, const char *fmt, ...)
{
	if (!why || !cap)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, cap, fmt, ap);
	va_end(ap);
}

/* ---- SANs ------------------------------------------------------------------------ */

static bool parse_ip(const char *s, unsigned char addr[16], int *len)
{
	if (inet_pton(AF_INET, s, addr) == 1) {
		*len = 4;
		return true;
	}
	if (inet_pton(AF_INET6, s, addr) == 1) {
		*len = 16;
		return true;
	}
	return false;
}

/* The same name: IPs as addresses ("::1" is "0::1"), DNS names without case. */
static bool san_same(const char *a, const char *b)
{
	unsigned char x[16], y[16];
	int xl, yl;
	bool xip = parse_ip(a, x, &xl), yip = parse_ip(b, y, &yl);
	if (xip || yip)
		return xip && yip && xl == yl && memcmp(x, y, (size_t)xl) == 0;
	return strcasecmp(a, b) == 0;
}

static int san_add(fb_sans *out, const char *name, size_t len, char *why, size_t cap)
{
	char v[FB_SAN_LEN_MAX + 1];
	if (len > FB_SAN_LEN_MAX) {
		say(why, cap, "SAN \"%.40s...\" is longer than %d characters", name, FB_SAN_LEN_MAX);
		return -1;
	}
	memcpy(v, name, len);
	v[len] = '\0';
	unsigned char addr[16];
	int alen;
	if (!parse_ip(v, addr, &alen) && !kc_is_dns_subdomain(v, len)) {
		say(why, cap, "SAN \"%s\" is neither an IP address nor a DNS name (RFC 1123, lowercase)",
		    v);
		return -1;
	}
	for (size_t i = 0; i < out->n; i++)
		if (san_same(out->name[i], v))
			return 0;
	if (out->n == FB_SAN_MAX) {
		say(why, cap, "more than %d SANs", FB_SAN_MAX);
		return -1;
	}
	memcpy(out->name[out->n++], v, len + 1);
	return 0;
}

int fb_sans_build(fb_sans *out, const char *service, const char *ns, const char *extra,
                  char *why, size_t cap)
{
	out->n = 0;
	if (!service || !service[0] || !ns || !ns[0]) {
		say(why, cap, "the webhook's Service and namespace are required");
		return -1;
	}
	/* the names the API server may use for service.ns (its webhook client's
	 * serviceresolver gives service.ns.svc; the shorter ones for clients in ns) */
	static const char *const suffixes[] = { NULL, "", ".svc", ".svc.cluster.local" };
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		char name[2 * FB_SAN_LEN_MAX + 32];
		int n = suffixes[i] ? snprintf(name, sizeof(name), "%s.%s%s", service, ns, suffixes[i])
		                    : snprintf(name, sizeof(name), "%s", service);
		if (n < 0 || (size_t)n >= sizeof(name)) {
			say(why, cap, "the Service name \"%.40s\" is too long", service);
			return -1;
		}
		if (san_add(out, name, (size_t)n, why, cap) != 0)
			return -1;
	}
	for (const char *p = extra; p && *p;) {
		while (*p == ' ' || *p == '\t')
			p++;
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len && san_add(out, p, len, why, cap) != 0)
			return -1;
		p = end ? end + 1 : p + strlen(p);
	}
	return 0;
}

/* ---- parsing ------------------------------------------------------------------------ */

void fb_cert_list_release(fb_cert_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		X509_free(l->cert[i]);
	l->n = 0;
}

int fb_cert_list_add(fb_cert_list *l, X509 *c)
{
	if (l->n == FB_CERT_BUNDLE_MAX || !X509_up_ref(c))
		return -1;
	l->cert[l->n++] = c;
	return 0;
}

static bool blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return false;
	return true;
}

/* why := what and the reason OpenSSL gives for its last error; the error queue is cleared. */
static void say_openssl(char *why, size_t cap, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	say(why, cap, "%s%s%s", what, r ? ": " : "", r ? r : "");
	ERR_clear_error();
}

/*
 * The next PEM block of s[*pos..len): its bounds [*start, *end), text outside
 * blocks skipped. 1 found, 0 none left, -1 (why) when a block has no END line
 * or a line outside the blocks starts with '-' (a boundary line cut short, as
 * a half-written field leaves it).
 */
static int next_block(const char *s, size_t len, size_t *pos, size_t *start, size_t *end,
                      char *why, size_t cap)
{
	bool in = false;
	for (size_t i = *pos; i < len;) {
		size_t eol = i;
		while (eol < len && s[eol] != '\n')
			eol++;
		size_t ll = eol - i, next = eol < len ? eol + 1 : eol;
		if (!in && ll >= 11 && memcmp(s + i, "-----BEGIN ", 11) == 0) {
			in = true;
			*start = i;
		} else if (!in && ll > 0 && s[i] == '-') {
			say(why, cap, "a broken PEM boundary line");
			return -1;
		} else if (in && ll >= 9 && memcmp(s + i, "-----END ", 9) == 0) {
			*end = *pos = next;
			return 1;
		}
		i = next;
	}
	if (in) {
		say(why, cap, "a PEM block is cut short (no END line)");
		return -1;
	}
	*pos = len;
	return 0;
}

/*
 * Decode one PEM block (from next_block) into its label and DER, both
 * OPENSSL_malloc'd. -1 with why when OpenSSL cannot (bad base64, bad END
 * line) or it carries headers (Proc-Type: an encrypted legacy key).
 */
static int decode_block(const char *blk, size_t len, char **label, unsigned char **der,
                        long *der_len, char *why, size_t cap)
{
	char *header = NULL;
	BIO *bio = BIO_new_mem_buf(blk, (int)len);
	int ok = bio && PEM_read_bio(bio, label, &header, der, der_len);
	BIO_free(bio);
	if (!ok) {
		say_openssl(why, cap, "a PEM block is malformed");
		return -1;
	}
	bool headers = header[0] != '\0';
	OPENSSL_free(header);
	if (headers) {
		OPENSSL_free(*label);
		OPENSSL_free(*der);
		say(why, cap, "a PEM block with headers (encrypted?)");
		return -1;
	}
	return 0;
}

/* The cap and "nothing there" checks every PEM field gets first. */
static bool pem_sane(const char *pem, size_t len, char *why, size_t cap)
{
	if (len > FB_CERT_PEM_MAX) {
		say(why, cap, "%zu bytes, more than %u", len, FB_CERT_PEM_MAX);
		return false;
	}
	if (!pem || blank(pem, len)) {
		say(why, cap, "empty");
		return false;
	}
	return true;
}

/* Text outside the blocks is skipped, as Go's pem.Decode and OpenSSL do (a
 * bundle written by `openssl x509 -text` has it). */
int fb_cert_list_parse(fb_cert_list *l, const char *pem, size_t len, char *why, size_t cap)
{
	if (!pem_sane(pem, len, why, cap))
		return -1;
	size_t pos = 0, start = 0, end = 0;
	int found;
	while ((found = next_block(pem, len, &pos, &start, &end, why, cap)) == 1) {
		char *label = NULL;
		unsigned char *der = NULL;
		long dlen = 0;
		if (decode_block(pem + start, end - start, &label, &der, &dlen, why, cap) != 0)
			break;
		const unsigned char *p = der;
		bool cert_block = strcmp(label, "CERTIFICATE") == 0;
		X509 *x = cert_block ? d2i_X509(NULL, &p, dlen) : NULL;
		bool whole = x && p == der + dlen;
		OPENSSL_free(label);
		OPENSSL_free(der);
		if (!whole) {
			X509_free(x);
			if (!cert_block)
				say(why, cap, "a PEM block that is not a CERTIFICATE");
			else
				say_openssl(why, cap, "a CERTIFICATE block does not parse as X.509");
			found = -1;
			break;
		}
		if (l->n == FB_CERT_BUNDLE_MAX) {
			X509_free(x);
			say(why, cap, "more than %d certificates", FB_CERT_BUNDLE_MAX);
			found = -1;
			break;
		}
		l->cert[l->n++] = x;
	}
	ERR_clear_error();
	if (found == 0 && l->n == 0)
		say(why, cap, "no PEM block");
	if (found != 0 || l->n == 0) {
		fb_cert_list_release(l);
		return -1;
	}
	return 0;
}

/* Write with a PEM writer into a memory BIO, then onto out. */
static int pem_out(kc_buf *out, int (*write)(BIO *, void *), void *obj)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	long n = 0;
	int rc = -1;
	if (bio && write(bio, obj) == 1 && (n = BIO_get_mem_data(bio, &data)) > 0 &&
	    kc_buf_append(out, data, (size_t)n) == KC_OK)
		rc = 0;
	BIO_free(bio);
	ERR_clear_error();
	return rc;
}

static int write_cert(BIO *bio, void *obj)
{
	return PEM_write_bio_X509(bio, obj);
}

static int write_key(BIO *bio, void *obj)
{
	return PEM_write_bio_PrivateKey(bio, obj, NULL, NULL, 0, NULL, NULL);
}

int fb_cert_pem(X509 *cert, kc_buf *out)
{
	return pem_out(out, write_cert, cert);
}

int fb_key_pem(EVP_PKEY *key, kc_buf *out)
{
	return pem_out(out, write_key, key);
}

int fb_cert_list_pem(const fb_cert_list *l, kc_buf *out)
{
	size_t was = out->len;
	for (size_t i = 0; i < l->n; i++) {
		if (fb_cert_pem(l->cert[i], out) != 0) {
			out->len = was;
			if (out->data)
				out->data[was] = '\0';
			return -1;
		}
	}
	return 0;
}

/* Never ask for a passphrase: an encrypted key is a key we cannot use. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

EVP_PKEY *fb_key_parse(const char *pem, size_t len, char *why, size_t cap)
{
	if (!pem_sane(pem, len, why, cap))
		return NULL;
	size_t pos = 0, start = 0, end = 0, more_start, more_end;
	int found = next_block(pem, len, &pos, &start, &end, why, cap);
	if (found == 0)
		say(why, cap, "no PEM block");
	if (found != 1)
		return NULL;
	int more = next_block(pem, len, &pos, &more_start, &more_end, why, cap);
	if (more != 0) {
		if (more == 1)
			say(why, cap, "more than one PEM block");
		return NULL;
	}
	/* the label decides, not what OpenSSL's decoders would make of the bytes */
	static const char *const labels[] = { "-----BEGIN PRIVATE KEY-----",
		                              "-----BEGIN EC PRIVATE KEY-----",
		                              "-----BEGIN RSA PRIVATE KEY-----" };
	bool known = false;
	for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]) && !known; i++)
		known = end - start >= strlen(labels[i]) &&
		        memcmp(pem + start, labels[i], strlen(labels[i])) == 0;
	if (!known) {
		say(why, cap, "not a PEM private key (PRIVATE KEY, EC or RSA PRIVATE KEY; "
		    "never an encrypted one)");
		return NULL;
	}
	BIO *bio = BIO_new_mem_buf(pem + start, (int)(end - start));
	EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
	BIO_free(bio);
	if (!key)
		say_openssl(why, cap, "the private key does not parse (or is encrypted)");
	ERR_clear_error();
	return key;
}

bool fb_cert_list_has(const fb_cert_list *l, const X509 *c)
{
	for (size_t i = 0; i < l->n; i++)
		if (X509_cmp(l->cert[i], c) == 0)
			return true;
	return false;
}

bool fb_cert_list_same(const fb_cert_list *a, const fb_cert_list *b)
{
	for (size_t i = 0; i < a->n; i++)
		if (!fb_cert_list_has(b, a->cert[i]))
			return false;
	for (size_t i = 0; i < b->n; i++)
		if (!fb_cert_list_has(a, b->cert[i]))
			return false;
	return true;
}

/* ---- inspection --------------------------------------------------------------------- */

static int64_t asn1_ms(const ASN1_TIME *t)
{
	struct tm tm;
	if (!t || !ASN1_TIME_to_tm(t, &tm)) {
		ERR_clear_error();
		return 0;
	}
	return (int64_t)timegm(&tm) * 1000;
}

int64_t fb_cert_not_before_ms(const X509 *cert)
{
	return asn1_ms(X509_get0_notBefore(cert));
}

int64_t fb_cert_not_after_ms(const X509 *cert)
{
	return asn1_ms(X509_get0_notAfter(cert));
}

bool fb_cert_valid_at(const X509 *cert, int64_t now_ms)
{
	return fb_cert_not_before_ms(cert) <= now_ms && now_ms < fb_cert_not_after_ms(cert);
}

bool fb_cert_is_ca(X509 *cert)
{
	bool ca = X509_check_ca(cert) == 1;
	ERR_clear_error();
	return ca;
}

bool fb_cert_issued_by(X509 *cert, X509 *ca)
{
	EVP_PKEY *pub = X509_get0_pubkey(ca);
	bool ok = X509_check_issued(ca, cert) == X509_V_OK && pub && X509_verify(cert, pub) == 1;
	ERR_clear_error();
	return ok;
}

bool fb_cert_key_matches(X509 *cert, EVP_PKEY *key)
{
	bool ok = cert && key && X509_check_private_key(cert, key) == 1;
	ERR_clear_error();
	return ok;
}

/* Which of sans (distinct, as fb_sans_build keeps them) a certificate's SAN is; -1 none. */
static int san_index(const GENERAL_NAME *g, const fb_sans *sans)
{
	for (size_t i = 0; i < sans->n; i++) {
		unsigned char addr[16];
		int alen;
		bool ip = parse_ip(sans->name[i], addr, &alen);
		if (g->type == GEN_DNS && !ip) {
			const ASN1_IA5STRING *s = g->d.dNSName;
			size_t n = strlen(sans->name[i]);
			if ((size_t)ASN1_STRING_length(s) == n &&
			    strncasecmp((const char *)ASN1_STRING_get0_data(s), sans->name[i], n) == 0)
				return (int)i;
		} else if (g->type == GEN_IPADD && ip) {
			const ASN1_OCTET_STRING *s = g->d.iPAddress;
			if (ASN1_STRING_length(s) == alen &&
			    memcmp(ASN1_STRING_get0_data(s), addr, (size_t)alen) == 0)
				return (int)i;
		}
	}
	return -1;
}

bool fb_cert_has_sans(X509 *cert, const fb_sans *sans)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	ERR_clear_error();
	if (!names)
		return false;
	int n = sk_GENERAL_NAME_num(names);
	bool ok = true;
	/* each of the certificate's SANs is wanted ... */
	for (int i = 0; i < n && ok; i++)
		ok = san_index(sk_GENERAL_NAME_value(names, i), sans) >= 0;
	/* ... and each wanted one is the certificate's */
	for (size_t w = 0; w < sans->n && ok; w++) {
		bool found = false;
		for (int i = 0; i < n && !found; i++)
			found = san_index(sk_GENERAL_NAME_value(names, i), sans) == (int)w;
		ok = found;
	}
	GENERAL_NAMES_free(names);
	return ok;
}

bool fb_cert_verify(X509 *leaf, const fb_cert_list *roots, const char *host, int64_t at_ms)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	bool ok = false;
	if (!store || !ctx || !leaf)
		goto out;
	for (size_t i = 0; i < roots->n; i++)
		if (!X509_STORE_add_cert(store, roots->cert[i]))
			goto out;
	if (!X509_STORE_CTX_init(ctx, store, leaf, NULL))
		goto out;
	X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_time(param, (time_t)(at_ms / 1000));
	if (!X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER))
		goto out;
	unsigned char addr[16];
	int alen;
	if (host) {
		int set = parse_ip(host, addr, &alen)
		          ? X509_VERIFY_PARAM_set1_ip(param, addr, (size_t)alen)
		          : X509_VERIFY_PARAM_set1_host(param, host, 0);
		if (!set)
			goto out;
	}
	ok = X509_verify_cert(ctx) == 1;
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	ERR_clear_error();
	return ok;
}

void fb_cert_serial(const X509 *cert, char *buf, size_t cap)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	snprintf(buf, cap, "%s", hex ? hex : "?");
	OPENSSL_free(hex);
	BN_free(bn);
	ERR_clear_error();
}

void fb_cert_cn(X509 *cert, char *buf, size_t cap)
{
	if (cap == 0)
		return;
	buf[0] = '\0';
	if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf,
	                              cap > INT32_MAX ? INT32_MAX : (int)cap) < 0)
		buf[0] = '\0';
	ERR_clear_error();
}

int fb_cert_pem_summary(const char *pem, size_t len, fb_cert_summary *out)
{
	fb_cert_list l = { .n = 0 };
	char why[FB_CERT_WHY_MAX];
	memset(out, 0, sizeof(*out));
	if (fb_cert_list_parse(&l, pem, len, why, sizeof(why)) != 0)
		return -1;
	fb_cert_serial(l.cert[0], out->serial, sizeof(out->serial));
	fb_cert_cn(l.cert[0], out->cn, sizeof(out->cn));
	out->not_after_ms = fb_cert_not_after_ms(l.cert[0]);
	fb_cert_list_release(&l);
	return 0;
}

/* ---- generation --------------------------------------------------------------------- */

/* The fixed extensions of each kind of certificate, in the OpenSSL config syntax. */
typedef struct ext_def {
	int nid;
	const char *value;
} ext_def;

static const ext_def ca_exts[] = {
	{ NID_basic_constraints, "critical,CA:TRUE,pathlen:0" },
	{ NID_key_usage, "critical,keyCertSign" },
	{ NID_subject_key_identifier, "hash" },
};

static const ext_def serving_exts[] = {
	{ NID_basic_constraints, "critical,CA:FALSE" },
	{ NID_key_usage, "critical,digitalSignature" },
	{ NID_ext_key_usage, "serverAuth" },
	{ NID_subject_key_identifier, "hash" },
	{ NID_authority_key_identifier, "keyid:always" },
};

static int add_exts(X509 *cert, X509 *issuer, const ext_def *defs, size_t n)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	for (size_t i = 0; i < n; i++) {
		X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, defs[i].nid, defs[i].value);
		bool ok = e && X509_add_ext(cert, e, -1);
		X509_EXTENSION_free(e);
		if (!ok)
			return -1;
	}
	return 0;
}

/* subjectAltName built from the parsed names, not from a config string. */
static int add_sans(X509 *cert, const fb_sans *sans)
{
	GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
	int rc = -1;
	if (!names)
		return -1;
	for (size_t i = 0; i < sans->n; i++) {
		unsigned char addr[16];
		int alen;
		GENERAL_NAME *g = GENERAL_NAME_new();
		ASN1_STRING *s = NULL;
		if (!g)
			goto out;
		bool ip = parse_ip(sans->name[i], addr, &alen);
		s = ASN1_STRING_type_new(ip ? V_ASN1_OCTET_STRING : V_ASN1_IA5STRING);
		if (s && ASN1_STRING_set(s, ip ? (const void *)addr : sans->name[i],
		                         ip ? alen : (int)strlen(sans->name[i]))) {
			GENERAL_NAME_set0_value(g, ip ? GEN_IPADD : GEN_DNS, s);
		} else {
			ASN1_STRING_free(s);
			s = NULL;
		}
		if (!s || !sk_GENERAL_NAME_push(names, g)) {
			GENERAL_NAME_free(g);
			goto out;
		}
	}
	rc = X509_add1_ext_i2d(cert, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT) == 1 ? 0 : -1;
out:
	GENERAL_NAMES_free(names);
	return rc;
}

/* Ed25519 and Ed448 sign without a separate digest; every other key with SHA-256. */
static const EVP_MD *digest_for(EVP_PKEY *key)
{
	return EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448") ? NULL : EVP_sha256();
}

/*
 * An unsigned certificate for key, named cn, valid [not_before, not_after]
 * (seconds), with a random positive serial below 2^127; issuer NULL =
 * self-signed. The caller adds the extensions and signs. NULL on failure.
 */
static X509 *new_cert(EVP_PKEY *key, const char *cn, int64_t not_before_s, int64_t not_after_s,
                      X509 *issuer)
{
	X509 *x = X509_new();
	BIGNUM *serial = BN_new();
	X509_NAME *name = X509_NAME_new();
	bool ok = x && serial && name && X509_set_version(x, X509_VERSION_3) &&
	          BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ODD) &&
	          BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) &&
	          ASN1_TIME_set(X509_getm_notBefore(x), (time_t)not_before_s) &&
	          ASN1_TIME_set(X509_getm_notAfter(x), (time_t)not_after_s) &&
	          X509_set_pubkey(x, key) &&
	          X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn,
	                                     -1, -1, 0) &&
	          X509_set_subject_name(x, name) &&
	          X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
	BN_free(serial);
	X509_NAME_free(name);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static int64_t floor_s(int64_t ms)
{
	return ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
}

int fb_ca_generate(int64_t now_ms, const fb_cert_policy *p, X509 **cert, EVP_PKEY **key)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	char cn[64];
	snprintf(cn, sizeof(cn), "firebreak-webhook-ca@%lld", (long long)floor_s(now_ms));
	X509 *x = k ? new_cert(k, cn, floor_s(now_ms - p->backdate_ms),
	                       floor_s(now_ms + p->ca_lifetime_ms), NULL)
	            : NULL;
	if (!x || add_exts(x, x, ca_exts, sizeof(ca_exts) / sizeof(ca_exts[0])) != 0 ||
	    !X509_sign(x, k, digest_for(k))) {
		X509_free(x);
		EVP_PKEY_free(k);
		ERR_clear_error();
		return -1;
	}
	*cert = x;
	*key = k;
	return 0;
}

int fb_serving_generate(X509 *ca, EVP_PKEY *ca_key, const fb_sans *sans, int64_t now_ms,
                        const fb_cert_policy *p, X509 **cert, EVP_PKEY **key)
{
	if (sans->n == 0)
		return -1;
	int64_t end = floor_s(now_ms + p->serving_lifetime_ms);
	int64_t ca_end = floor_s(fb_cert_not_after_ms(ca));
	if (end > ca_end)
		end = ca_end;
	/* a CN of at most 64 characters (RFC 5280 ub-common-name); clients read the SANs */
	char cn[65];
	snprintf(cn, sizeof(cn), "%.64s", sans->name[sans->n > 2 ? 2 : 0]);
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = k ? new_cert(k, cn, floor_s(now_ms - p->backdate_ms), end, ca) : NULL;
	if (!x || add_exts(x, ca, serving_exts, sizeof(serving_exts) / sizeof(serving_exts[0])) != 0 ||
	    add_sans(x, sans) != 0 || !X509_sign(x, ca_key, digest_for(ca_key))) {
		X509_free(x);
		EVP_PKEY_free(k);
		ERR_clear_error();
		return -1;
	}
	*cert = x;
	*key = k;
	return 0;
}

/* ---- the Secret --------------------------------------------------------------------- */

const char *fb_tls_field_name(fb_tls_field f)
{
	static const char *const names[FB_TLS_NFIELDS] = { "tls.crt", "tls.key", "ca.crt", "ca.key" };
	return (unsigned)f < FB_TLS_NFIELDS ? names[f] : "?";
}

void fb_tls_material_parse(fb_tls_material *m, const fb_tls_fields *f)
{
	memset(m, 0, sizeof(*m));
	for (int i = 0; i < FB_TLS_NFIELDS; i++) {
		char *why = m->problem[i];
		if (!f->data[i]) {
			say(why, sizeof(m->problem[i]), "absent");
			continue;
		}
		switch ((fb_tls_field)i) {
		case FB_TLS_CRT:
			fb_cert_list_parse(&m->chain, f->data[i], f->len[i], why, FB_CERT_WHY_MAX);
			break;
		case FB_CA_CRT:
			fb_cert_list_parse(&m->ca, f->data[i], f->len[i], why, FB_CERT_WHY_MAX);
			break;
		case FB_TLS_KEY:
			m->key = fb_key_parse(f->data[i], f->len[i], why, FB_CERT_WHY_MAX);
			break;
		case FB_CA_KEY:
			m->ca_key = fb_key_parse(f->data[i], f->len[i], why, FB_CERT_WHY_MAX);
			break;
		case FB_TLS_NFIELDS:
			break;
		}
	}
}

void fb_tls_material_release(fb_tls_material *m)
{
	fb_cert_list_release(&m->ca);
	fb_cert_list_release(&m->chain);
	EVP_PKEY_free(m->ca_key);
	EVP_PKEY_free(m->key);
	m->ca_key = m->key = NULL;
}

bool fb_tls_pair_usable(const char *cert, size_t cert_len, const char *key, size_t key_len,
                        int64_t now_ms, char *why, size_t cap)
{
	fb_cert_list chain = { .n = 0 };
	char w[FB_CERT_WHY_MAX];
	if (fb_cert_list_parse(&chain, cert, cert_len, w, sizeof(w)) != 0) {
		say(why, cap, "tls.crt: %s", w);
		return false;
	}
	EVP_PKEY *k = fb_key_parse(key, key_len, w, sizeof(w));
	bool ok = false;
	if (!k)
		say(why, cap, "tls.key: %s", w);
	else if (!fb_cert_key_matches(chain.cert[0], k))
		say(why, cap, "tls.key is not the key of tls.crt");
	else if (!fb_cert_valid_at(chain.cert[0], now_ms)) {
		char nb[KC_TIME_STR_MAX], na[KC_TIME_STR_MAX];
		kc_time_format(fb_cert_not_before_ms(chain.cert[0]) * 1000, nb);
		kc_time_format(fb_cert_not_after_ms(chain.cert[0]) * 1000, na);
		say(why, cap, "tls.crt is not valid now: %s (notBefore %s, notAfter %s)",
		    fb_cert_not_before_ms(chain.cert[0]) > now_ms ? "not valid yet (the issuer's clock "
		                                                    "ahead of this node's?)"
		                                                  : "expired",
		    nb, na);
	}
	else
		ok = true;
	EVP_PKEY_free(k);
	fb_cert_list_release(&chain);
	return ok;
}

void fb_tls_pem_init(fb_tls_pem *out)
{
	for (int i = 0; i < FB_TLS_NFIELDS; i++)
		kc_buf_init(&out->field[i], FB_CERT_PEM_MAX);
}

void fb_tls_pem_release(fb_tls_pem *out)
{
	for (int i = 0; i < FB_TLS_NFIELDS; i++)
		kc_buf_release(&out->field[i]);
}

/* ---- the plan ----------------------------------------------------------------------- */

const char *fb_cert_step_name(fb_cert_step s)
{
	switch (s) {
	case FB_CERT_NOTHING: return "nothing";
	case FB_CERT_CREATE: return "create";
	case FB_CERT_RESET: return "reset";
	case FB_CERT_START_ROTATION: return "start-ca-rotation";
	case FB_CERT_NEW_SERVING: return "new-serving-certificate";
	case FB_CERT_FINISH_ROTATION: return "finish-ca-rotation";
	case FB_CERT_PATCH_BUNDLE: return "patch-cabundle";
	}
	return "?";
}

/* When a certificate reaches pct % of its validity. */
static int64_t renew_point(const X509 *c, int pct)
{
	int64_t nb = fb_cert_not_before_ms(c), na = fb_cert_not_after_ms(c);
	return nb + (na - nb) / 100 * pct;
}

/* Whether the current CA (ca.crt's first, with ca.key) can sign now; if not, why. */
static bool ca_usable(const fb_tls_material *m, int64_t now, char *why, size_t cap)
{
	if (m->ca.n == 0)
		say(why, cap, "ca.crt: %s", m->problem[FB_CA_CRT]);
	else if (!m->ca_key)
		say(why, cap, "ca.key: %s", m->problem[FB_CA_KEY]);
	else if (!fb_cert_is_ca(m->ca.cert[0]))
		say(why, cap, "ca.crt's first certificate is not a CA");
	else if (!fb_cert_key_matches(m->ca.cert[0], m->ca_key))
		say(why, cap, "ca.key is not the key of ca.crt's first certificate");
	else if (!fb_cert_valid_at(m->ca.cert[0], now))
		say(why, cap, "the CA is not valid now");
	else
		return true;
	return false;
}

/*
 * Whether the serving certificate can be kept: its key, the SANs wanted, and
 * the API server's own check against one CA of ca.crt (*signer: which, the
 * current first). If not, why.
 */
static bool serving_usable(const fb_tls_material *m, const fb_sans *sans, int64_t now,
                           int *signer, char *why, size_t cap)
{
	*signer = -1;
	X509 *leaf = m->chain.n ? m->chain.cert[0] : NULL;
	if (!leaf) {
		say(why, cap, "tls.crt: %s", m->problem[FB_TLS_CRT]);
		return false;
	}
	if (!m->key) {
		say(why, cap, "tls.key: %s", m->problem[FB_TLS_KEY]);
		return false;
	}
	if (!fb_cert_key_matches(leaf, m->key)) {
		say(why, cap, "tls.key is not the key of tls.crt");
		return false;
	}
	if (!fb_cert_has_sans(leaf, sans)) {
		say(why, cap, "the serving certificate's SANs are not the ones wanted");
		return false;
	}
	for (size_t i = 0; i < m->ca.n; i++) {
		fb_cert_list one = { .cert = { m->ca.cert[i] }, .n = 1 };
		if (fb_cert_verify(leaf, &one, sans->name[0], now)) {
			*signer = (int)i;
			return true;
		}
	}
	say(why, cap, "the serving certificate does not verify against a CA of ca.crt now "
	    "(expired, or from another CA)");
	return false;
}

static void set_step(fb_cert_plan *out, fb_cert_step step, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_step(fb_cert_plan *out, fb_cert_step step, const char *fmt, ...)
{
	out->step = step;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out->why, sizeof(out->why), fmt, ap);
	va_end(ap);
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/*
 * The plan. Steps, first that applies:
 *   no Secret                                        CREATE
 *   the current CA cannot sign                       START_ROTATION keeping the serving
 *                                                    certificate's CA, or RESET if that
 *                                                    certificate cannot be kept either
 *   the caBundle is not ca.crt                       PATCH_BUNDLE
 *   the serving certificate cannot be kept           NEW_SERVING
 *   served from an old CA (rotation, stage 3)        NEW_SERVING once the caBundle has
 *                                                    been as it is for bundle_hold
 *   old CAs in ca.crt, served from the current one   FINISH_ROTATION once tls.crt has been
 *                                                    as it is for serving_hold
 *   one CA, at renew_pct of its validity             START_ROTATION keeping it
 *   serving certificate at renew_pct                 NEW_SERVING
 * and otherwise NOTHING until the earliest of the times above.
 */
void fb_cert_plan_make(const fb_cert_state *s, const fb_cert_policy *p, fb_cert_plan *out)
{
	memset(out, 0, sizeof(*out));
	out->step = FB_CERT_NOTHING;
	out->keep_ca = -1;
	out->next_ms = INT64_MAX;
	const fb_tls_material *m = s->secret;
	int64_t now = s->now_ms;
	if (!m) {
		set_step(out, FB_CERT_CREATE, "no Secret yet");
		return;
	}
	char ca_why[FB_CERT_WHY_MAX + 32], srv_why[FB_CERT_WHY_MAX + 32];
	int signer;
	bool ca_ok = ca_usable(m, now, ca_why, sizeof(ca_why));
	bool srv_ok = serving_usable(m, s->sans, now, &signer, srv_why, sizeof(srv_why));
	if (!ca_ok) {
		if (srv_ok) {
			out->keep_ca = signer;
			set_step(out, FB_CERT_START_ROTATION,
			         "the current CA cannot sign (%s); a new CA, keeping the one that signed "
			         "the serving certificate until it is replaced", ca_why);
		} else {
			set_step(out, FB_CERT_RESET, "nothing to keep: %s; %s", ca_why, srv_why);
		}
		return;
	}
	if (s->bundle && (!s->bundle_uniform || !fb_cert_list_same(s->bundle, &m->ca))) {
		set_step(out, FB_CERT_PATCH_BUNDLE, "%s", !s->bundle_uniform
		         ? "the webhook entries hold different caBundles"
		         : "the caBundle is not the CAs of ca.crt");
		return;
	}
	if (!srv_ok) {
		set_step(out, FB_CERT_NEW_SERVING, "%s", srv_why);
		return;
	}
	X509 *leaf = m->chain.cert[0];
	if (signer > 0) {
		if (!s->bundle)
			return; /* no webhook configuration to hold the new CA: wait for one */
		int64_t due = s->bundle_since_ms + p->bundle_hold_ms;
		if (now >= due) {
			set_step(out, FB_CERT_NEW_SERVING,
			         "CA rotation: the caBundle has held the new CA for %lld s; the serving "
			         "certificate moves to it", (long long)((now - s->bundle_since_ms) / 1000));
			return;
		}
		out->next_ms = due;
		return;
	}
	if (m->ca.n > 1) {
		int64_t due = s->serving_since_ms + p->serving_hold_ms;
		if (now >= due) {
			set_step(out, FB_CERT_FINISH_ROTATION,
			         "CA rotation: the new CA's serving certificate has been out for %lld s; "
			         "the old CA leaves", (long long)((now - s->serving_since_ms) / 1000));
			return;
		}
		out->next_ms = min64(out->next_ms, due);
	} else {
		int64_t due = renew_point(m->ca.cert[0], p->renew_pct);
		if (now >= due) {
			out->keep_ca = 0;
			set_step(out, FB_CERT_START_ROTATION, "the CA reached %d%% of its validity",
			         p->renew_pct);
			return;
		}
		out->next_ms = min64(out->next_ms, due);
	}
	int64_t due = renew_point(leaf, p->renew_pct);
	if (now >= due) {
		set_step(out, FB_CERT_NEW_SERVING, "the serving certificate reached %d%% of its validity",
		         p->renew_pct);
		return;
	}
	out->next_ms = min64(out->next_ms, due);
}

/* ---- carrying a step out -------------------------------------------------------------- */

/* tls.crt and tls.key as they are (re-encoded). */
static int keep_serving(const fb_tls_material *m, fb_tls_pem *out)
{
	return fb_cert_list_pem(&m->chain, &out->field[FB_TLS_CRT]) == 0 &&
	       fb_key_pem(m->key, &out->field[FB_TLS_KEY]) == 0 ? 0 : -1;
}

/* A new serving certificate from ca/ca_key into tls.crt and tls.key. */
static int new_serving(X509 *ca, EVP_PKEY *ca_key, const fb_cert_state *s,
                       const fb_cert_policy *p, fb_tls_pem *out)
{
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	if (fb_serving_generate(ca, ca_key, s->sans, s->now_ms, p, &cert, &key) != 0)
		return -1;
	int rc = fb_cert_pem(cert, &out->field[FB_TLS_CRT]) == 0 &&
	         fb_key_pem(key, &out->field[FB_TLS_KEY]) == 0 ? 0 : -1;
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

int fb_cert_plan_apply(const fb_cert_plan *plan, const fb_cert_state *s, const fb_cert_policy *p,
                       fb_tls_pem *out, char *why, size_t cap)
{
	const fb_tls_material *m = s->secret;
	X509 *ca = NULL;
	EVP_PKEY *ca_key = NULL;
	int rc = -1;
	switch (plan->step) {
	case FB_CERT_CREATE:
	case FB_CERT_RESET:
		if (fb_ca_generate(s->now_ms, p, &ca, &ca_key) != 0)
			break;
		if (fb_cert_pem(ca, &out->field[FB_CA_CRT]) == 0 &&
		    fb_key_pem(ca_key, &out->field[FB_CA_KEY]) == 0 &&
		    new_serving(ca, ca_key, s, p, out) == 0)
			rc = 0;
		break;
	case FB_CERT_START_ROTATION:
		if (!m || plan->keep_ca >= (int)m->ca.n || fb_ca_generate(s->now_ms, p, &ca, &ca_key) != 0)
			break;
		if (fb_cert_pem(ca, &out->field[FB_CA_CRT]) == 0 &&
		    (plan->keep_ca < 0 ||
		     fb_cert_pem(m->ca.cert[plan->keep_ca], &out->field[FB_CA_CRT]) == 0) &&
		    fb_key_pem(ca_key, &out->field[FB_CA_KEY]) == 0 && keep_serving(m, out) == 0)
			rc = 0;
		break;
	case FB_CERT_NEW_SERVING:
		if (!m || m->ca.n == 0 || !m->ca_key)
			break;
		if (fb_cert_list_pem(&m->ca, &out->field[FB_CA_CRT]) == 0 &&
		    fb_key_pem(m->ca_key, &out->field[FB_CA_KEY]) == 0 &&
		    new_serving(m->ca.cert[0], m->ca_key, s, p, out) == 0)
			rc = 0;
		break;
	case FB_CERT_FINISH_ROTATION:
		if (!m || m->ca.n == 0 || !m->ca_key)
			break;
		if (fb_cert_pem(m->ca.cert[0], &out->field[FB_CA_CRT]) == 0 &&
		    fb_key_pem(m->ca_key, &out->field[FB_CA_KEY]) == 0 && keep_serving(m, out) == 0)
			rc = 0;
		break;
	case FB_CERT_NOTHING:
	case FB_CERT_PATCH_BUNDLE:
		say(why, cap, "%s does not change the Secret", fb_cert_step_name(plan->step));
		return -1;
	}
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	if (rc != 0)
		say(why, cap, "%s: could not generate or encode the certificates (out of memory?)",
		    fb_cert_step_name(plan->step));
	ERR_clear_error();
	return rc;
}
