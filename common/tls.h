/*
 * tls.h: OpenSSL contexts built from the configuration, and the hooks
 * every handshake runs through.
 *
 * Owns: a site's server context (its certificates and keys are read here,
 * by the master while it is root, so no worker ever opens a key file), an
 * upstream's client context, the choice of a site's context by SNI, ALPN,
 * OCSP stapling, protocol names, and the glue between OpenSSL's session
 * cache and ticket hooks and the shared cache of tls_cache.h.
 */
#ifndef PORTICO_TLS_H
#define PORTICO_TLS_H

#include <stdint.h>

#include <openssl/ssl.h>

#include "conf.h"
#include "tls_cache.h"

/* What went wrong building a context, and which option (and which
 * element of a list option) it came from. */
struct tls_err {
	const char *opt;
	unsigned idx;
	char msg[384];
};

/* "TLSv1.2" -> TLS1_2_VERSION; 0 for an unknown name. */
int tls_protocol_version(const char *name);
const char *tls_protocol_name(int version);

/*
 * The server context of a site (t->ctx is left to the caller). Reads the
 * certificates, keys, CA file and OCSP response (into t->ocsp_der). NULL
 * with e filled on failure.
 */
SSL_CTX *tls_site_ctx_new(struct conf_site_tls *t, const char *site_name,
			  const struct conf *c, struct tls_err *e);

/* The client context for an upstream's servers. NULL with e filled. */
SSL_CTX *tls_upstream_ctx_new(const struct conf_upstream_tls *t, struct tls_err *e);

/*
 * In a worker, before any handshake: the shared cache (NULL: none), and
 * how a ClientHello's server name picks a site. select returns the site's
 * TLS settings, or NULL to keep the listener's default; name is NULL when
 * the client sent none.
 */
typedef struct conf_site_tls *(*tls_select_fn)(SSL *ssl, const char *name, size_t len);
void tls_worker_init(struct tls_cache *cache, tls_select_fn select);

/* A key naming a session with an upstream server: the SHA-256 of text. */
struct tls_server_key {
	uint8_t id[32];
};

void tls_server_key(struct tls_server_key *k, const char *text);

/*
 * A client connection to srv over t's context, with the server name or
 * address to verify, and the session last agreed with that server (key),
 * if the shared cache holds one; key (NULL: no session kept) must outlive
 * the connection. NULL when out of memory.
 */
SSL *tls_upstream_ssl(const struct conf_upstream_tls *t, const struct conf_server *srv,
		      const struct tls_server_key *key);

/* The verified client certificate's subject (RFC 2253) into out[0..cap),
 * NUL-terminated, with nothing a header value cannot hold; 0 when the
 * client gave no certificate. */
size_t tls_peer_subject(SSL *ssl, char *out, size_t cap);

/* The reason of the last OpenSSL error of this thread, or fallback, and
 * the error queue emptied. */
const char *tls_error_string(const char *fallback);

/* Why ssl's handshake failed: the certificate verification's reason when
 * that failed, else as tls_error_string(). */
const char *tls_handshake_error(SSL *ssl, const char *fallback);

#endif
