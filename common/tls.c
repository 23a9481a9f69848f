/*
 * tls.c: building OpenSSL contexts, and the callbacks of handshakes.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "tls.h"

/* Largest serialized session kept in the shared cache. */
#define SESSION_MAX 8192

static struct tls_cache *shared_cache;
static tls_select_fn select_site;
static int server_key_index = -1;	/* SSL ex_data: struct tls_server_key */

static const struct {
	const char *name;
	int version;
} protocols[] = {
	{ "TLSv1", TLS1_VERSION },
	{ "TLSv1.1", TLS1_1_VERSION },
	{ "TLSv1.2", TLS1_2_VERSION },
	{ "TLSv1.3", TLS1_3_VERSION },
};

int tls_protocol_version(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(protocols); i++)
		if (strcmp(protocols[i].name, name) == 0)
			return protocols[i].version;
	return 0;
}

const char *tls_protocol_name(int version)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(protocols); i++)
		if (protocols[i].version == version)
			return protocols[i].name;
	return "unknown";
}

const char *tls_error_string(const char *fallback)
{
	static char buf[256];
	unsigned long code = ERR_peek_last_error();

	if (code == 0) {
		snprintf(buf, sizeof(buf), "%s", fallback);
	} else {
		ERR_error_string_n(code, buf, sizeof(buf));
	}
	ERR_clear_error();
	return buf;
}

const char *tls_handshake_error(SSL *ssl, const char *fallback)
{
	static char buf[256];
	long v = SSL_get_verify_result(ssl);

	if (v == X509_V_OK)
		return tls_error_string(fallback);
	ERR_clear_error();
	snprintf(buf, sizeof(buf), "certificate verify failed: %s",
		 X509_verify_cert_error_string(v));
	return buf;
}

static void set_err(struct tls_err *e, const char *opt, unsigned idx, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void set_err(struct tls_err *e, const char *opt, unsigned idx, const char *fmt, ...)
{
	va_list ap;
	int n;

	e->opt = opt;
	e->idx = idx;
	va_start(ap, fmt);
	n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(e->msg) && ERR_peek_last_error() != 0)
		snprintf(e->msg + n, sizeof(e->msg) - (size_t)n, " (%s)", tls_error_string(""));
	ERR_clear_error();
}

/* What every context of ours does, server or client. */
static SSL_CTX *ctx_new(const SSL_METHOD *method, int min_version, int max_version,
			struct tls_err *e)
{
	SSL_CTX *ctx = SSL_CTX_new(method);

	if (ctx == NULL) {
		set_err(e, NULL, 0, "SSL_CTX_new() failed");
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, min_version) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, max_version) != 1) {
		set_err(e, "protocols", 0, "protocol versions %s to %s are not supported",
			tls_protocol_name(min_version), tls_protocol_name(max_version));
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	/* Buffers go back while a connection idles; partial writes fit the
	 * streaming pump, which may offer the same bytes again from another
	 * address. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* Read whole socket buffers, not a record header and then its body. */
	SSL_CTX_set_read_ahead(ctx, 1);
	return ctx;
}

/* Whether path can be read; if not, why, in words an operator can act
 * on ("No such file or directory", "Permission denied"), rather than
 * OpenSSL's error code. */
static bool readable(const char *path, const char *opt, unsigned idx, const char *what,
		     struct tls_err *e)
{
	if (access(path, R_OK) == 0)
		return true;
	set_err(e, opt, idx, "cannot read %s \"%s\": %s", what, path, strerror(errno));
	return false;
}

/* The key just loaded is not the certificate's (one of another type ends
 * in another slot, which SSL_CTX_check_private_key() then finds empty). */
static bool key_mismatch(void)
{
	unsigned long code = ERR_peek_last_error();

	return ERR_GET_LIB(code) == ERR_LIB_X509 &&
	       (ERR_GET_REASON(code) == X509_R_KEY_VALUES_MISMATCH ||
		ERR_GET_REASON(code) == X509_R_KEY_TYPE_MISMATCH);
}

/* One chain and its key into the slot of the key's type. */
static int use_cert(SSL_CTX *ctx, const struct conf_cert *cert, const char *cert_opt,
		    const char *key_opt, unsigned idx, struct tls_err *e)
{
	if (!readable(cert->chain, cert_opt, idx, "certificate chain", e) ||
	    !readable(cert->key, key_opt, idx, "private key", e))
		return -1;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert->chain) != 1) {
		set_err(e, cert_opt, idx, "cannot load certificate chain \"%s\"", cert->chain);
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cert->key, SSL_FILETYPE_PEM) != 1 &&
	    !key_mismatch()) {
		set_err(e, key_opt, idx, "cannot load private key \"%s\"", cert->key);
		return -1;
	}
	if (ERR_peek_last_error() != 0 || SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		set_err(e, key_opt, idx, "private key \"%s\" does not match certificate \"%s\"",
			cert->key, cert->chain);
		return -1;
	}
	return 0;
}

/* ALPN: HTTP/1.x or nothing; a client that offers only other protocols
 * (h2 alone) is refused rather than answered in a language it did not
 * ask for. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char ours[] = "\x08http/1.1\x08http/1.0";

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto((unsigned char **)out, outlen, ours, sizeof(ours) - 1, in,
				  inlen) == OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_OK;
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* OCSP stapling: the response file read at (re)load, to clients that ask. */
static int ocsp_status(SSL *ssl, void *arg)
{
	const struct conf_site_tls *t = arg;
	unsigned char *copy;

	if (t->ocsp_der == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	copy = OPENSSL_memdup(t->ocsp_der, t->ocsp_len);
	if (copy == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	SSL_set_tlsext_status_ocsp_resp(ssl, copy, (long)t->ocsp_len);
	return SSL_TLSEXT_ERR_OK;
}

static int load_ocsp(struct conf_site_tls *t, struct tls_err *e)
{
	const unsigned char *p;
	OCSP_RESPONSE *resp;
	long len;
	FILE *f;
	int status;

	f = fopen(t->ocsp_response, "rb");
	if (f == NULL) {
		set_err(e, "ocsp_response", 0, "cannot open \"%s\": %s", t->ocsp_response,
			strerror(errno));
		return -1;
	}
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) > 0 && len < (1 << 20) &&
	    fseek(f, 0, SEEK_SET) == 0 && (t->ocsp_der = OPENSSL_malloc((size_t)len)) != NULL &&
	    fread(t->ocsp_der, 1, (size_t)len, f) == (size_t)len)
		t->ocsp_len = (size_t)len;
	fclose(f);
	if (t->ocsp_len == 0) {
		set_err(e, "ocsp_response", 0, "cannot read \"%s\"", t->ocsp_response);
		return -1;
	}
	p = t->ocsp_der;
	resp = d2i_OCSP_RESPONSE(NULL, &p, (long)t->ocsp_len);
	status = resp ? OCSP_response_status(resp) : -1;
	OCSP_RESPONSE_free(resp);
	if (status != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
		set_err(e, "ocsp_response", 0, "\"%s\" is not a successful DER OCSP response",
			t->ocsp_response);
		return -1;
	}
	return 0;
}

static int verify_mode(enum conf_verify v)
{
	switch (v) {
	case CONF_VERIFY_REQUIRED:
		return SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	case CONF_VERIFY_OPTIONAL:
		return SSL_VERIFY_PEER;
	default:
		return SSL_VERIFY_NONE;
	}
}

static int setup_client_verify(SSL_CTX *ctx, const struct conf_site_tls *t, struct tls_err *e)
{
	STACK_OF(X509_NAME) *names;

	if (t->verify_client == CONF_VERIFY_OFF)
		return 0;
	if (!readable(t->client_ca, "client_ca", 0, "CA certificates", e))
		return -1;
	if (SSL_CTX_load_verify_locations(ctx, t->client_ca, NULL) != 1) {
		set_err(e, "client_ca", 0, "cannot load CA certificates \"%s\"", t->client_ca);
		return -1;
	}
	names = SSL_load_client_CA_file(t->client_ca);
	if (names == NULL) {
		set_err(e, "client_ca", 0, "no CA names in \"%s\"", t->client_ca);
		return -1;
	}
	SSL_CTX_set_client_CA_list(ctx, names);
	SSL_CTX_set_verify(ctx, verify_mode(t->verify_client), NULL);
	SSL_CTX_set_verify_depth(ctx, (int)t->verify_depth);
	return 0;
}

/* Server sessions in the shared cache, by session ID. */

/* TLS 1.3 resumes from the ticket itself unless tickets are stateful
 * (SSL_OP_NO_TICKET): then no one would ever look the session up. */
static bool resumed_by_ticket_only(SSL *ssl)
{
	return SSL_version(ssl) >= TLS1_3_VERSION && !(SSL_get_options(ssl) & SSL_OP_NO_TICKET);
}

static int server_session_new(SSL *ssl, SSL_SESSION *sess)
{
	static uint8_t der[SESSION_MAX];
	unsigned int idlen;
	const unsigned char *id;
	unsigned char *p = der;
	int len;

	if (shared_cache == NULL || resumed_by_ticket_only(ssl))
		return 0;
	id = SSL_SESSION_get_id(sess, &idlen);
	len = i2d_SSL_SESSION(sess, NULL);
	if (len <= 0 || len > (int)sizeof(der))
		return 0;
	i2d_SSL_SESSION(sess, &p);
	tls_cache_put(shared_cache, TLS_CACHE_SERVER, id, idlen, der, (size_t)len,
		      (time_t)(SSL_SESSION_get_time(sess) + SSL_SESSION_get_timeout(sess)));
	return 0;		/* we keep no reference to sess */
}

static SSL_SESSION *server_session_get(SSL *ssl, const unsigned char *id, int idlen,
				       int *copy)
{
	static uint8_t der[SESSION_MAX];
	const unsigned char *p = der;
	size_t len;

	(void)ssl;
	*copy = 0;
	if (shared_cache == NULL || idlen <= 0)
		return NULL;
	len = tls_cache_get(shared_cache, TLS_CACHE_SERVER, id, (size_t)idlen, der, sizeof(der),
			    time(NULL));
	return len ? d2i_SSL_SESSION(NULL, &p, (long)len) : NULL;
}

static void server_session_remove(SSL_CTX *ctx, SSL_SESSION *sess)
{
	unsigned int idlen;
	const unsigned char *id = SSL_SESSION_get_id(sess, &idlen);

	(void)ctx;
	if (shared_cache != NULL)
		tls_cache_remove(shared_cache, TLS_CACHE_SERVER, id, idlen);
}

/* Session tickets, with the keys every worker shares. */

static int set_ticket_hmac(EVP_MAC_CTX *hctx, const struct tls_ticket_key *k)
{
	OSSL_PARAM params[3];

	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)k->hmac,
						      k->keylen);
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0);
	params[2] = OSSL_PARAM_construct_end();
	return EVP_MAC_CTX_set_params(hctx, params);
}

/* A 48-byte key file holds AES-128 keys; every other key is AES-256. */
static const EVP_CIPHER *ticket_cipher(const struct tls_ticket_key *k)
{
	return k->keylen == 16 ? EVP_aes_128_cbc() : EVP_aes_256_cbc();
}

static int ticket_key(SSL *ssl, unsigned char name[16], unsigned char *iv,
		      EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	struct tls_ticket_key k;
	int found;

	(void)ssl;
	if (shared_cache == NULL)
		return 0;
	if (enc) {
		if (tls_cache_current_key(shared_cache, &k) < 0 || RAND_bytes(iv, 16) != 1)
			return 0;
		memcpy(name, k.name, sizeof(k.name));
		found = EVP_EncryptInit_ex(cctx, ticket_cipher(&k), NULL, k.aes, iv) == 1 &&
			set_ticket_hmac(hctx, &k) == 1 ? 1 : -1;
	} else {
		found = tls_cache_find_key(shared_cache, name, &k);
		if (found != 0 && (EVP_DecryptInit_ex(cctx, ticket_cipher(&k), NULL, k.aes,
						      iv) != 1 ||
				   set_ticket_hmac(hctx, &k) != 1))
			found = -1;
	}
	OPENSSL_cleanse(&k, sizeof(k));
	return found;
}

/* SNI: the ClientHello's host name picks the site. */

/* The host_name of a server_name extension (RFC 6066 3): 0 and *name
 * NULL when there is none, -1 when it is malformed. */
static int parse_server_name(const unsigned char *p, size_t len, const char **name,
			     size_t *nlen)
{
	size_t list, n;

	*name = NULL;
	*nlen = 0;
	if (len < 2)
		return -1;
	list = (size_t)p[0] << 8 | p[1];
	if (list != len - 2 || list < 3)
		return -1;
	p += 2;
	if (p[0] != TLSEXT_NAMETYPE_host_name)
		return 0;
	n = (size_t)p[1] << 8 | p[2];
	if (n == 0 || n > list - 3 || n > 255 || memchr(p + 3, '\0', n) != NULL)
		return -1;
	*name = (const char *)p + 3;
	*nlen = n;
	return 0;
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* SSL_set_SSL_CTX() brings the certificates; what the handshake
 * negotiates comes from the SSL, set for the first context. */
static bool same_handshake(const struct conf_site_tls *a, const struct conf_site_tls *b)
{
	return a->min_version == b->min_version && a->max_version == b->max_version &&
	       same_str(a->ciphers, b->ciphers) && same_str(a->ciphersuites, b->ciphersuites) &&
	       same_str(a->curves, b->curves) && a->verify_client == b->verify_client &&
	       same_str(a->client_ca, b->client_ca) && a->verify_depth == b->verify_depth;
}

static int apply_site(SSL *ssl, const struct conf_site_tls *t)
{
	STACK_OF(X509_NAME) *names;

	if (SSL_set_min_proto_version(ssl, t->min_version) != 1 ||
	    SSL_set_max_proto_version(ssl, t->max_version) != 1 ||
	    SSL_set_cipher_list(ssl, t->ciphers) != 1 ||
	    SSL_set_ciphersuites(ssl, t->ciphersuites) != 1 ||
	    SSL_set1_groups_list(ssl, t->curves) != 1)
		return -1;
	SSL_set_verify(ssl, verify_mode(t->verify_client), NULL);
	SSL_set_verify_depth(ssl, (int)t->verify_depth);
	if (t->verify_client != CONF_VERIFY_OFF) {
		names = SSL_dup_CA_list(SSL_CTX_get_client_CA_list(t->ctx));
		if (names == NULL)
			return -1;
		SSL_set_client_CA_list(ssl, names);
	}
	return 0;
}

static int client_hello(SSL *ssl, int *alert, void *arg)
{
	const struct conf_site_tls *first = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	const unsigned char *ext;
	struct conf_site_tls *t;
	const char *name = NULL;
	size_t len = 0, nlen = 0;

	(void)arg;
	if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &ext, &len) == 1 &&
	    parse_server_name(ext, len, &name, &nlen) < 0) {
		*alert = SSL_AD_DECODE_ERROR;
		return SSL_CLIENT_HELLO_ERROR;
	}
	t = select_site ? select_site(ssl, name, nlen) : NULL;
	if (t == NULL || t == first)
		return SSL_CLIENT_HELLO_SUCCESS;
	if (SSL_set_SSL_CTX(ssl, t->ctx) == NULL ||
	    (first != NULL && !same_handshake(t, first) && apply_site(ssl, t) < 0)) {
		log_msg(LL_ERROR, "TLS: switching to the site of SNI \"%.*s\" failed: %s",
			(int)nlen, name ? name : "", tls_error_string("unknown error"));
		*alert = SSL_AD_INTERNAL_ERROR;
		return SSL_CLIENT_HELLO_ERROR;
	}
	return SSL_CLIENT_HELLO_SUCCESS;
}

static void set_session_id_context(SSL_CTX *ctx, const char *site_name)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	/* Sessions of one site never resume on another. */
	EVP_Digest(site_name, strlen(site_name), md, &len, EVP_sha256(), NULL);
	SSL_CTX_set_session_id_context(ctx, md, MIN(len, (unsigned)SSL_MAX_SID_CTX_LENGTH));
}

static void setup_server_sessions(SSL_CTX *ctx, const struct conf *c, const char *site_name)
{
	set_session_id_context(ctx, site_name);
	SSL_CTX_set_timeout(ctx, (long)(c->tls_session_timeout / 1000));
	if (c->tls_session_cache > 0) {
		/* Each worker's own cache would miss on every other worker. */
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER |
						    SSL_SESS_CACHE_NO_INTERNAL);
		SSL_CTX_sess_set_new_cb(ctx, server_session_new);
		SSL_CTX_sess_set_get_cb(ctx, server_session_get);
		SSL_CTX_sess_set_remove_cb(ctx, server_session_remove);
	} else {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	}
	if (c->tls_session_tickets) {
		SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_key);
		/* One ticket is what a client resumes with. */
		SSL_CTX_set_num_tickets(ctx, 1);
	} else {
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	}
}

SSL_CTX *tls_site_ctx_new(struct conf_site_tls *t, const char *site_name,
			  const struct conf *c, struct tls_err *e)
{
	SSL_CTX *ctx = ctx_new(TLS_server_method(), t->min_version, t->max_version, e);
	unsigned i;

	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_set_cipher_list(ctx, t->ciphers) != 1) {
		set_err(e, "ciphers", 0, "no usable cipher in \"%s\"", t->ciphers);
		goto fail;
	}
	if (SSL_CTX_set_ciphersuites(ctx, t->ciphersuites) != 1) {
		set_err(e, "ciphersuites", 0, "bad TLS 1.3 cipher suites \"%s\"", t->ciphersuites);
		goto fail;
	}
	if (SSL_CTX_set1_groups_list(ctx, t->curves) != 1) {
		set_err(e, "curves", 0, "bad curve list \"%s\"", t->curves);
		goto fail;
	}
	for (i = 0; i < t->ncerts; i++)
		if (use_cert(ctx, &t->certs[i], "certificate", "key", i, e) < 0)
			goto fail;
	if (t->ocsp_response != NULL && load_ocsp(t, e) < 0)
		goto fail;
	if (setup_client_verify(ctx, t, e) < 0)
		goto fail;
	SSL_CTX_set_tlsext_status_cb(ctx, ocsp_status);
	SSL_CTX_set_tlsext_status_arg(ctx, t);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	SSL_CTX_set_client_hello_cb(ctx, client_hello, NULL);
	SSL_CTX_set_app_data(ctx, t);
	setup_server_sessions(ctx, c, site_name);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* Sessions with upstream servers, shared so that every worker resumes. */

static int upstream_session_new(SSL *ssl, SSL_SESSION *sess)
{
	static uint8_t der[SESSION_MAX];
	const struct tls_server_key *k = SSL_get_ex_data(ssl, server_key_index);
	int len = i2d_SSL_SESSION(sess, NULL);
	unsigned char *p = der;

	if (shared_cache == NULL || k == NULL || !SSL_SESSION_is_resumable(sess) || len <= 0 ||
	    len > (int)sizeof(der))
		return 0;
	i2d_SSL_SESSION(sess, &p);
	tls_cache_put(shared_cache, TLS_CACHE_UPSTREAM, k->id, sizeof(k->id), der, (size_t)len,
		      (time_t)(SSL_SESSION_get_time(sess) + SSL_SESSION_get_timeout(sess)));
	return 0;
}

SSL_CTX *tls_upstream_ctx_new(const struct conf_upstream_tls *t, struct tls_err *e)
{
	static const unsigned char alpn[] = "\x08http/1.1";
	SSL_CTX *ctx = ctx_new(TLS_client_method(), TLS1_2_VERSION, 0, e);

	if (ctx == NULL)
		return NULL;
	if (t->verify) {
		if (t->ca != NULL && !readable(t->ca, "tls_ca", 0, "CA certificates", e))
			goto fail;
		if (t->ca != NULL ? SSL_CTX_load_verify_locations(ctx, t->ca, NULL) != 1
				  : SSL_CTX_set_default_verify_paths(ctx) != 1) {
			set_err(e, "tls_ca", 0, "cannot load CA certificates \"%s\"",
				t->ca ? t->ca : "(system default)");
			goto fail;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	if (t->cert.chain != NULL &&
	    use_cert(ctx, &t->cert, "tls_certificate", "tls_key", 0, e) < 0)
		goto fail;
	if (SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1) != 0) {
		set_err(e, NULL, 0, "setting ALPN failed");
		goto fail;
	}
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
					    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, upstream_session_new);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

void tls_worker_init(struct tls_cache *cache, tls_select_fn select)
{
	shared_cache = cache;
	select_site = select;
	if (server_key_index < 0)
		server_key_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

void tls_server_key(struct tls_server_key *k, const char *text)
{
	unsigned int len = sizeof(k->id);

	EVP_Digest(text, strlen(text), k->id, &len, EVP_sha256(), NULL);
}

/* The server's address without its port, to verify against. */
static void address_text(const struct conf_server *srv, char *out, size_t cap)
{
	const struct sockaddr *sa = (const struct sockaddr *)&srv->addr;

	if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
			  (socklen_t)cap);
	else
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out,
			  (socklen_t)cap);
}

static void resume_from_cache(SSL *ssl, const struct tls_server_key *key)
{
	static uint8_t der[SESSION_MAX];
	const unsigned char *p = der;
	SSL_SESSION *sess;
	size_t len;

	if (shared_cache == NULL)
		return;
	len = tls_cache_get(shared_cache, TLS_CACHE_UPSTREAM, key->id, sizeof(key->id), der,
			    sizeof(der), time(NULL));
	if (len == 0 || (sess = d2i_SSL_SESSION(NULL, &p, (long)len)) == NULL)
		return;
	SSL_set_session(ssl, sess);
	SSL_SESSION_free(sess);
}

SSL *tls_upstream_ssl(const struct conf_upstream_tls *t, const struct conf_server *srv,
		      const struct tls_server_key *key)
{
	char ip[INET6_ADDRSTRLEN];
	SSL *ssl = SSL_new(t->ctx);
	int ok;

	if (ssl == NULL)
		return NULL;
	SSL_set_connect_state(ssl);
	if (t->server_name != NULL) {
		ok = SSL_set_tlsext_host_name(ssl, t->server_name) == 1 &&
		     (!t->verify || SSL_set1_host(ssl, t->server_name) == 1);
	} else if (t->verify) {
		/* not a unix socket: the configuration requires a name for it */
		address_text(srv, ip, sizeof(ip));
		ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), ip) == 1;
	} else {
		ok = true;
	}
	if (!ok || (key != NULL && SSL_set_ex_data(ssl, server_key_index, (void *)key) != 1)) {
		SSL_free(ssl);
		return NULL;
	}
	if (key != NULL)
		resume_from_cache(ssl, key);
	return ssl;
}

size_t tls_peer_subject(SSL *ssl, char *out, size_t cap)
{
	X509 *cert = SSL_get0_peer_certificate(ssl);
	BIO *b;
	int n;
	size_t i;

	if (cert == NULL || cap == 0 || SSL_get_verify_result(ssl) != X509_V_OK)
		return 0;
	b = BIO_new(BIO_s_mem());
	if (b == NULL)
		return 0;
	X509_NAME_print_ex(b, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
	n = BIO_read(b, out, (int)cap - 1);
	BIO_free(b);
	if (n <= 0)
		return 0;
	out[n] = '\0';
	for (i = 0; i < (size_t)n; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			out[i] = '?';
	return (size_t)n;
}
