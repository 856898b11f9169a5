/* testcert.c - see testcert.h. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "testcert.h"

EVP_PKEY *kt_key_new(void)
{
	return EVP_EC_gen("P-256");
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -1;
	int ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

X509 *kt_cert_new(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
                  kt_cert_kind kind, long serial)
{
	static atomic_long next_serial = 1;
	X509 *cert = X509_new();
	if (!cert)
		return NULL;
	X509_set_version(cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(cert),
	                 serial ? serial : atomic_fetch_add(&next_serial, 1));
	X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
	X509_set_pubkey(cert, key);
	X509_NAME *name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name);
	X509 *iss = issuer ? issuer : cert;
	int rc = 0;
	switch (kind) {
	case KT_CERT_CA:
		rc |= add_ext(cert, iss, NID_basic_constraints, "critical,CA:TRUE");
		rc |= add_ext(cert, iss, NID_key_usage, "critical,keyCertSign,cRLSign");
		rc |= add_ext(cert, iss, NID_subject_key_identifier, "hash");
		break;
	case KT_CERT_SERVER:
		rc |= add_ext(cert, iss, NID_basic_constraints, "critical,CA:FALSE");
		rc |= add_ext(cert, iss, NID_key_usage, "critical,digitalSignature");
		rc |= add_ext(cert, iss, NID_ext_key_usage, "serverAuth");
		rc |= add_ext(cert, iss, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
		break;
	case KT_CERT_CLIENT:
		rc |= add_ext(cert, iss, NID_basic_constraints, "critical,CA:FALSE");
		rc |= add_ext(cert, iss, NID_key_usage, "critical,digitalSignature");
		rc |= add_ext(cert, iss, NID_ext_key_usage, "clientAuth");
		break;
	}
	if (rc != 0 || !X509_sign(cert, issuer_key ? issuer_key : key, EVP_sha256())) {
		X509_free(cert);
		return NULL;
	}
	return cert;
}

char *kt_pem_of_cert(X509 *cert)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL, *out = NULL;
	if (bio && PEM_write_bio_X509(bio, cert)) {
		long n = BIO_get_mem_data(bio, &data);
		out = strndup(data, (size_t)n);
	}
	BIO_free(bio);
	return out;
}

char *kt_pem_of_key(EVP_PKEY *key)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL, *out = NULL;
	if (bio && PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)) {
		long n = BIO_get_mem_data(bio, &data);
		out = strndup(data, (size_t)n);
	}
	BIO_free(bio);
	return out;
}
