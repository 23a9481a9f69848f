/*
 * jwt.c: verifying a JWT: its form, its header, one signature, then its
 * claims. The signature is checked before the claims are read, so the
 * claims parser only ever sees what a trusted key signed.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include "base64.h"
#include "core.h"
#include "jwt.h"

static const struct {
	const char *name;
	enum jwt_alg alg;
	enum jwt_key_type key;
	const EVP_MD *(*md)(void);	/* NULL: EdDSA hashes by itself */
	bool pss;
	size_t ec_half;			/* ES: bytes of r and of s */
} algs[] = {
	{ "HS256", JWT_HS256, JWT_KEY_SECRET, EVP_sha256, false, 0 },
	{ "HS384", JWT_HS384, JWT_KEY_SECRET, EVP_sha384, false, 0 },
	{ "HS512", JWT_HS512, JWT_KEY_SECRET, EVP_sha512, false, 0 },
	{ "RS256", JWT_RS256, JWT_KEY_RSA, EVP_sha256, false, 0 },
	{ "RS384", JWT_RS384, JWT_KEY_RSA, EVP_sha384, false, 0 },
	{ "RS512", JWT_RS512, JWT_KEY_RSA, EVP_sha512, false, 0 },
	{ "PS256", JWT_PS256, JWT_KEY_RSA, EVP_sha256, true, 0 },
	{ "ES256", JWT_ES256, JWT_KEY_P256, EVP_sha256, false, 32 },
	{ "ES384", JWT_ES384, JWT_KEY_P384, EVP_sha384, false, 48 },
	{ "EdDSA", JWT_EDDSA, JWT_KEY_ED25519, NULL, false, 0 },
};

#define ALG(a) (&algs[(a) - 1])

enum jwt_alg jwt_alg_named(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(algs); i++)
		if (strlen(algs[i].name) == len && memcmp(algs[i].name, name, len) == 0)
			return algs[i].alg;
	return 0;
}

/* An ECDSA signature as JWS has it (r || s, each half bytes) in the DER
 * form EVP verifies, into der (room for two 48-byte integers); its
 * length. */
static size_t ecdsa_der(const uint8_t *raw, size_t half, uint8_t *der)
{
	size_t n = 2, i;

	der[0] = 0x30;
	for (i = 0; i < 2; i++) {
		const uint8_t *v = raw + i * half;
		size_t len = half;

		while (len > 1 && v[0] == 0) {
			v++;
			len--;
		}
		der[n++] = 0x02;
		der[n++] = (uint8_t)(len + (v[0] >> 7));
		if (v[0] & 0x80)
			der[n++] = 0;
		memcpy(der + n, v, len);
		n += len;
	}
	der[1] = (uint8_t)(n - 2);	/* below 128 for P-256 and P-384 */
	return n;
}

static bool verify_hmac(const struct jwt_key *k, const EVP_MD *md, const char *data, size_t len,
			const uint8_t *sig, size_t slen)
{
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned mlen = 0;

	if (HMAC(md, k->secret, (int)k->secret_len,
		 (const unsigned char *)data, len, mac, &mlen) == NULL)
		return false;
	return slen == mlen && CRYPTO_memcmp(mac, sig, mlen) == 0;
}

static bool verify_public(const struct jwt_key *k, enum jwt_alg alg, const char *data,
			  size_t len, const uint8_t *sig, size_t slen)
{
	const EVP_MD *md = ALG(alg)->md ? ALG(alg)->md() : NULL;
	uint8_t der[2 * (3 + 48) + 2];
	EVP_PKEY_CTX *pctx = NULL;
	EVP_MD_CTX *ctx;
	bool ok;

	if (ALG(alg)->ec_half) {
		if (slen != 2 * ALG(alg)->ec_half)
			return false;
		slen = ecdsa_der(sig, ALG(alg)->ec_half, der);
		sig = der;
	} else if (alg == JWT_EDDSA && slen != 64) {
		return false;
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return false;
	ok = EVP_DigestVerifyInit(ctx, &pctx, md, NULL, k->pkey) == 1;
	if (ok && ALG(alg)->pss)	/* RFC 7518 3.5: salt as long as the hash */
		ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
		     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1 &&
		     EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) == 1;
	ok = ok && EVP_DigestVerify(ctx, sig, slen, (const unsigned char *)data, len) == 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

/* Whether k may check a token of alg naming kid (NULL: none): its type
 * is the algorithm's, a JWK's own alg (if any) is this one, and a key
 * with a kid is only chosen by it. A secret must be as long as the
 * hash (RFC 7518 3.2). */
static bool key_fits(const struct jwt_key *k, enum jwt_alg alg, const char *kid)
{
	if (k->type != ALG(alg)->key || (k->alg != 0 && k->alg != alg))
		return false;
	if (k->kid != NULL && (kid == NULL || strcmp(k->kid, kid) != 0))
		return false;
	return k->type != JWT_KEY_SECRET ||
	       k->secret_len >= (size_t)EVP_MD_get_size(ALG(alg)->md());
}

/* The signature against the keys that fit: "no_key" when none does. */
static const char *verify_signature(const struct jwt_policy *p, enum jwt_alg alg,
				    const char *kid, const char *data, size_t len,
				    const uint8_t *sig, size_t slen)
{
	const struct jwt_keys *ks = ALG(alg)->key == JWT_KEY_SECRET ? p->secrets : p->public_keys;
	bool tried = false;
	unsigned i;

	for (i = 0; ks != NULL && i < ks->nkeys; i++) {
		const struct jwt_key *k = &ks->keys[i];

		if (!key_fits(k, alg, kid))
			continue;
		tried = true;
		if (k->type == JWT_KEY_SECRET ? verify_hmac(k, ALG(alg)->md(), data, len, sig, slen)
					      : verify_public(k, alg, data, len, sig, slen))
			return NULL;
	}
	return tried ? "bad_signature" : "no_key";
}

/* The header: its alg, and its kid into kid[256] (empty: none). It is
 * read before anything is verified: its room is small, so that what
 * anyone may send costs little (a key is looked for twice among 32 at
 * most). */
static const char *read_header(const char *b64, size_t len, enum jwt_alg *alg, char *kid)
{
	char text[4096];
	struct json_tok t[64];
	const char *why;
	ssize_t n;
	size_t at;
	int a, k;

	n = base64_decode(b64, len, BASE64_URL, (uint8_t *)text, sizeof(text));
	if (n < 0)
		return "malformed";
	if (json_parse(text, (size_t)n, t, ARRAY_LEN(t), &why, &at) < 0 ||
	    t[0].type != JSON_OBJECT)
		return "bad_json";
	if ((a = json_member(text, t, 0, "alg")) < 0 || t[a].type != JSON_STRING)
		return "bad_alg";
	if (t[a].len == 4 && strncasecmp(text + t[a].start, "none", 4) == 0)
		return "alg_none";
	if (t[a].escaped || (*alg = jwt_alg_named(text + t[a].start, t[a].len)) == 0)
		return "bad_alg";
	/* No extension is understood, so any that must be is refused
	 * (RFC 7515 4.1.11). */
	if (json_member(text, t, 0, "crit") >= 0)
		return "crit";
	kid[0] = '\0';
	if ((k = json_member(text, t, 0, "kid")) >= 0) {
		if (t[k].type != JSON_STRING || (n = json_string(text, &t[k], kid, 255)) <= 0 ||
		    memchr(kid, '\0', (size_t)n) != NULL)
			return "bad_kid";
		kid[n] = '\0';
	}
	return NULL;
}

static bool string_in(const char *text, const struct json_tok *t, char *const *list,
		      unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (json_string_is(text, t, list[i]))
			return true;
	return false;
}

/* aud: a string, or an array of them, one of which is accepted. */
static bool audience_ok(const struct jwt_claims *c, int a, const struct jwt_policy *p)
{
	unsigned i, e;

	if (c->t[a].type == JSON_STRING)
		return string_in(c->text, &c->t[a], p->audiences, p->naudiences);
	if (c->t[a].type != JSON_ARRAY)
		return false;
	for (i = 0, e = (unsigned)a + 1; i < c->t[a].size; i++, e = c->t[e].next)
		if (string_in(c->text, &c->t[e], p->audiences, p->naudiences))
			return true;
	return false;
}

/* exp and nbf, when present, with the leeway (RFC 7519 4.1.4, 4.1.5);
 * iss and aud when the site names some. iat says nothing of validity. */
static const char *check_claims(const struct jwt_claims *c, const struct jwt_policy *p,
				time_t now)
{
	int exp = json_member(c->text, c->t, 0, "exp");
	int nbf = json_member(c->text, c->t, 0, "nbf");
	int iss, aud;

	if ((exp >= 0 && c->t[exp].type != JSON_NUMBER) ||
	    (nbf >= 0 && c->t[nbf].type != JSON_NUMBER))
		return "bad_claim";
	if (exp >= 0 && (double)now >= json_number(c->text, &c->t[exp]) + p->leeway)
		return "expired";
	if (nbf >= 0 && (double)now + p->leeway < json_number(c->text, &c->t[nbf]))
		return "not_yet_valid";
	iss = json_member(c->text, c->t, 0, "iss");
	if (p->nissuers > 0 && (iss < 0 || !string_in(c->text, &c->t[iss], p->issuers,
						      p->nissuers)))
		return "bad_issuer";
	aud = json_member(c->text, c->t, 0, "aud");
	if (p->naudiences > 0 && (aud < 0 || !audience_ok(c, aud, p)))
		return "bad_audience";
	return NULL;
}

const char *jwt_verify(const char *token, size_t len, const struct jwt_policy *p, time_t now,
		       struct jwt_claims *c)
{
	const char *dot1, *dot2, *why;
	uint8_t sig[1024];
	ssize_t slen, n;
	enum jwt_alg alg = 0;
	char kid[256];
	size_t at;

	if (len > JWT_MAX_TOKEN || (dot1 = memchr(token, '.', len)) == NULL ||
	    (dot2 = memchr(dot1 + 1, '.', (size_t)(token + len - dot1 - 1))) == NULL ||
	    memchr(dot2 + 1, '.', (size_t)(token + len - dot2 - 1)) != NULL)
		return "malformed";
	if ((why = read_header(token, (size_t)(dot1 - token), &alg, kid)) != NULL)
		return why;
	slen = base64_decode(dot2 + 1, (size_t)(token + len - dot2 - 1), BASE64_URL, sig,
			     sizeof(sig));
	n = base64_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), BASE64_URL, (uint8_t *)c->text,
			  sizeof(c->text));
	if (slen <= 0 || n < 0)
		return "malformed";
	if (!p->signature_known &&
	    (why = verify_signature(p, alg, kid[0] ? kid : NULL, token, (size_t)(dot2 - token),
				    sig, (size_t)slen)) != NULL)
		return why;
	c->n = json_parse(c->text, (size_t)n, c->t, ARRAY_LEN(c->t), &why, &at);
	if (c->n < 0 || c->t[0].type != JSON_OBJECT)
		return "bad_json";
	return check_claims(c, p, now);
}
