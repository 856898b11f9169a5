/*
 * testcert.h - certificates for the tests of TLS clients and servers: EC
 * P-256 keys, and certificates valid from an hour ago for a day, made with
 * the OpenSSL API. Used by the test server (testserver.h) and by the tests of
 * the controller's own TLS server (the admission webhook).
 */
#ifndef KC_TESTCERT_H
#define KC_TESTCERT_H

#include <openssl/evp.h>
#include <openssl/x509.h>

typedef enum kt_cert_kind {
	KT_CERT_CA,     /* CA:TRUE, keyCertSign */
	KT_CERT_SERVER, /* serverAuth, SANs DNS:localhost and IP:127.0.0.1 */
	KT_CERT_CLIENT, /* clientAuth */
} kt_cert_kind;

/* A new EC P-256 key; NULL on failure. EVP_PKEY_free it. */
EVP_PKEY *kt_key_new(void);

/*
 * A certificate for key named cn, signed by (issuer, issuer_key), or
 * self-signed when issuer is NULL. serial 0 takes the next of a process-wide
 * counter. NULL on failure. X509_free it.
 */
X509 *kt_cert_new(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
                  kt_cert_kind kind, long serial);

/* PEM of a certificate or a private key (unencrypted); free() it. NULL on failure. */
char *kt_pem_of_cert(X509 *cert);
char *kt_pem_of_key(EVP_PKEY *key);

#endif
