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

static inline long camqp_ssl_set_mode(SSL *ssl, long mode) {
    return SSL_set_mode(ssl, mode);
}
static inline long camqp_bio_shutdown_wr(BIO *bio) {
    return BIO_shutdown_wr(bio);
}
static inline long camqp_ssl_ctx_set_session_cache_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_session_cache_mode(ctx, mode);
}
// SSL_OP_* are built with SSL_OP_BIT(n), which Swift cannot import.
static inline uint64_t camqp_ssl_op_no_renegotiation(void) {
    return SSL_OP_NO_RENEGOTIATION;
}
static inline uint64_t camqp_ssl_op_no_compression(void) {
    return SSL_OP_NO_COMPRESSION;
}
static inline int camqp_err_get_lib(unsigned long code) {
    return ERR_GET_LIB(code);
}
static inline int camqp_err_get_reason(unsigned long code) {
    return ERR_GET_REASON(code);
}

// XN_FLAG_RFC2253 ORs constants with casts, which Swift does not import.
static inline unsigned long camqp_xn_flag_rfc2253(void) {
    return XN_FLAG_RFC2253;
}

#endif
