// The system's OpenSSL 3 (Debian's libssl-dev), for the TLS layer and SCRAM: the headers Swift
// imports, and small inline functions for the macros it cannot call.
#ifndef COPENSSL_H
#define COPENSSL_H

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>
#include <openssl/crypto.h>

// Macros in OpenSSL 3's headers, as functions Swift can call.
static inline long camqp_ssl_set_tlsext_host_name(SSL *ssl, const char *name) {
    return SSL_set_tlsext_host_name(ssl, name);
}
static inline long camqp_ssl_ctx_set_min_proto_version(SSL_CTX *ctx, int version) {
    return SSL_CTX_set_min_proto_version(ctx, version);
}
static inline long camqp_ssl_ctx_set_max_proto_version(SSL_CTX *ctx, int version) {
    return SSL_CTX_set_max_proto_version(ctx, version);
}
static inline size_t camqp_bio_pending(BIO *bio) {
    return BIO_ctrl_pending(bio);
}
static inline size_t camqp_bio_wpending(BIO *bio) {
    return BIO_ctrl_wpending(bio);
}

#endif
