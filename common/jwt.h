/*
 * jwt.h: JSON Web Tokens (RFC 7519) signed with JWS compact
 * serialization (RFC 7515), verified with OpenSSL's EVP interface.
 *
 * Owns: the keys a site trusts, each with its type (struct jwt_key), as
 * the master reads them from PEM files, JWK sets (RFC 7517) and secret
 * files (jwt_keys.c); and the verification of a token against them and
 * against the claims a site asks (jwt.c).
 *
 * A key carries its type, and an algorithm is only ever run with a key
 * of its own type: an HS256 token is checked against secrets only, never
 * against a public key's bytes (the "algorithm confusion" attack), and
 * "none" is no algorithm at all.
 */
#ifndef PORTICO_JWT_H
#define PORTICO_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>

#include "jwt_json.h"

enum jwt_key_type {
	JWT_KEY_SECRET = 1,		/* HS256/384/512 */
	JWT_KEY_RSA,			/* RS256/384/512, PS256 */
	JWT_KEY_P256,			/* ES256 */
	JWT_KEY_P384,			/* ES384 */
	JWT_KEY_ED25519			/* EdDSA */
};

enum jwt_alg {
	JWT_HS256 = 1, JWT_HS384, JWT_HS512,
	JWT_RS256, JWT_RS384, JWT_RS512,
	JWT_PS256,
	JWT_ES256, JWT_ES384,
	JWT_EDDSA
};

struct jwt_key {
	enum jwt_key_type type;
	char *kid;			/* NULL: a key without one (PEM, a raw
					 * secret), which any kid names */
	enum jwt_alg alg;		/* the JWK's "alg"; 0: any of its type */
	EVP_PKEY *pkey;			/* public keys */
	uint8_t *secret;		/* JWT_KEY_SECRET */
	size_t secret_len;
};

/* The keys of one option (auth_jwt_key_file or auth_jwt_secret_file):
 * the files as written, for -T, and what they hold. */
struct jwt_keys {
	char **files;
	unsigned nfiles;
	struct jwt_key *keys;
	unsigned nkeys;
	uint8_t tag[32];		/* random, made as they are read: names
					 * these keys, of this reading, where
					 * verified tokens are remembered */
};

/* Where a file's reading failed: the reason, and the file's line (0:
 * the file as a whole). */
struct jwt_load_error {
	char text[256];
	int line;
};

/* Read the public keys of path (PEM: public keys and certificates; or
 * a JWK set, a file that starts with '{') into ks; -1 with err set. */
int jwt_keys_load_public(struct jwt_keys *ks, const char *path, struct jwt_load_error *err);

/* Read the shared secrets of path (its bytes as they are, or a JWK set
 * of "oct" keys when it starts with '{') into ks; -1 with err set. */
int jwt_keys_load_secret(struct jwt_keys *ks, const char *path, struct jwt_load_error *err);

void jwt_keys_free(struct jwt_keys *ks);

/* The claims a site asks for, beyond a good signature. */
struct jwt_policy {
	const struct jwt_keys *public_keys, *secrets;	/* either may be NULL */
	unsigned leeway;		/* seconds, for exp and nbf */
	char **issuers;			/* one must be iss; none: any */
	unsigned nissuers;
	char **audiences;		/* aud must have one; none: any */
	unsigned naudiences;
	bool signature_known;		/* the token's signature was verified
					 * with these keys before: only its
					 * header and claims are checked */
};

/* Room for a verified token's claims: as many values as 8 KiB of JSON
 * can hold, so that no token a trusted issuer signed is too rich. */
#define JWT_MAX_TOKEN 8192
#define JWT_MAX_TOKENS (JWT_MAX_TOKEN / 2)

struct jwt_claims {
	char text[JWT_MAX_TOKEN];	/* the payload, decoded */
	struct json_tok t[JWT_MAX_TOKENS];	/* t[0]: the claims object */
	int n;
};

/*
 * Verify token (the compact form, header.payload.signature) under p at
 * now (seconds since the epoch). NULL when it holds, its claims in c;
 * else a short reason without spaces ("expired", "bad_signature"), a
 * literal.
 */
const char *jwt_verify(const char *token, size_t len, const struct jwt_policy *p, time_t now,
		       struct jwt_claims *c);

/* Whether alg is one portico verifies, by its JWS name; 0 when not. */
enum jwt_alg jwt_alg_named(const char *name, size_t len);

#endif
