/*
 * jwt_keys.c: the keys JWTs are verified with, read by the master when
 * the configuration loads: PEM public keys and certificates, JWK sets
 * (RFC 7517, 7518 section 6, RFC 8037 for Ed25519), raw secrets. Each
 * key is turned once into what a worker uses as it is (an EVP_PKEY, or
 * the secret's bytes), with its type, so that no request parses a key.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "base64.h"
#include "core.h"
#include "jwt.h"

#define KEY_FILE_MAX (1 << 20)
#define SECRET_MIN 32		/* RFC 7518 3.2: at least the hash's 256 bits */

static int fail(struct jwt_load_error *err, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct jwt_load_error *err, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->text, sizeof(err->text), fmt, ap);
	va_end(ap);
	err->line = line;
	return -1;
}

/* The whole file into a new *text (NUL added); -1 with err set. */
static int read_whole(const char *path, char **text, size_t *len, struct jwt_load_error *err)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	size_t n;

	if (f == NULL)
		return fail(err, 0, "cannot open: %s", strerror(errno));
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > KEY_FILE_MAX) {
		fclose(f);
		return fail(err, 0, "not a regular file of at most 1 MiB");
	}
	if ((*text = malloc((size_t)st.st_size + 1)) == NULL) {
		fclose(f);
		return fail(err, 0, "out of memory");
	}
	n = fread(*text, 1, (size_t)st.st_size, f);
	if (ferror(f) || n != (size_t)st.st_size) {
		fclose(f);
		free(*text);
		return fail(err, 0, "cannot read: %s", strerror(errno ? errno : EIO));
	}
	fclose(f);
	(*text)[n] = '\0';
	*len = n;
	return 0;
}

static int line_at(const char *text, size_t pos)
{
	int line = 1;
	size_t i;

	for (i = 0; i < pos && text[i]; i++)
		line += text[i] == '\n';
	return line;
}

static bool starts_as_json(const char *text, size_t len)
{
	size_t i = 0;

	while (i < len && strchr(" \t\r\n", text[i]) != NULL && text[i] != '\0')
		i++;
	return i < len && text[i] == '{';
}

static struct jwt_key *new_key(struct jwt_keys *ks)
{
	struct jwt_key *k = realloc(ks->keys, (ks->nkeys + 1) * sizeof(*k));

	if (k == NULL)
		return NULL;
	ks->keys = k;
	k += ks->nkeys;
	memset(k, 0, sizeof(*k));
	return k;
}

/* The type of a public key portico can verify with; 0 with err set. */
static enum jwt_key_type pkey_type(EVP_PKEY *pkey, int line, struct jwt_load_error *err)
{
	char group[64];
	size_t glen;

	if (EVP_PKEY_is_a(pkey, "RSA")) {
		if (EVP_PKEY_get_bits(pkey) >= 2048)
			return JWT_KEY_RSA;
		fail(err, line, "an RSA key of %d bits: 2048 at least", EVP_PKEY_get_bits(pkey));
		return 0;
	}
	if (EVP_PKEY_is_a(pkey, "ED25519"))
		return JWT_KEY_ED25519;
	if (EVP_PKEY_is_a(pkey, "EC") &&
	    EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
					   sizeof(group), &glen) == 1) {
		if (strcmp(group, "prime256v1") == 0)
			return JWT_KEY_P256;
		if (strcmp(group, "secp384r1") == 0)
			return JWT_KEY_P384;
		fail(err, line, "an EC key on curve %s: P-256 and P-384 only", group);
		return 0;
	}
	fail(err, line, "a %s key: RSA, EC (P-256, P-384) and Ed25519 only",
	     EVP_PKEY_get0_type_name(pkey));
	return 0;
}

/* Keep pkey (taken over, freed on failure) in ks. */
static int add_pkey(struct jwt_keys *ks, EVP_PKEY *pkey, const char *kid, enum jwt_alg alg,
		    enum jwt_key_type want, int line, struct jwt_load_error *err)
{
	enum jwt_key_type type = pkey_type(pkey, line, err);
	struct jwt_key *k;

	if (type == 0 || (want != 0 && type != want)) {
		EVP_PKEY_free(pkey);
		return type == 0 ? -1 : fail(err, line, "its alg is not one of its key type");
	}
	if ((k = new_key(ks)) == NULL || (kid != NULL && (k->kid = strdup(kid)) == NULL)) {
		EVP_PKEY_free(pkey);
		return fail(err, line, "out of memory");
	}
	k->type = type;
	k->alg = alg;
	k->pkey = pkey;
	ks->nkeys++;
	return 0;
}

static int add_secret(struct jwt_keys *ks, const uint8_t *bytes, size_t len, const char *kid,
		      enum jwt_alg alg, int line, struct jwt_load_error *err)
{
	struct jwt_key *k;

	if (len < SECRET_MIN)
		return fail(err, line, "a secret of %zu bytes: %d at least (RFC 7518 asks as many "
			    "bits as the hash has)", len, SECRET_MIN);
	if ((k = new_key(ks)) == NULL || (k->secret = malloc(len)) == NULL ||
	    (kid != NULL && (k->kid = strdup(kid)) == NULL)) {
		if (k != NULL)
			free(k->secret);
		return fail(err, line, "out of memory");
	}
	memcpy(k->secret, bytes, len);
	k->secret_len = len;
	k->type = JWT_KEY_SECRET;
	k->alg = alg;
	ks->nkeys++;
	return 0;
}

/* ---- PEM ---- */

/* The line of the n-th "-----BEGIN " of text. */
static int block_line(const char *text, unsigned n)
{
	const char *p = text;

	while ((p = strstr(p, "-----BEGIN ")) != NULL && n-- > 0)
		p++;
	return p != NULL ? line_at(text, (size_t)(p - text)) : 0;
}

static EVP_PKEY *block_key(const char *name, const unsigned char *data, long len)
{
	EVP_PKEY *pkey = NULL;
	X509 *cert;

	if (strcmp(name, "PUBLIC KEY") == 0)
		return d2i_PUBKEY(NULL, &data, len);
	if ((cert = d2i_X509(NULL, &data, len)) != NULL) {
		pkey = X509_get_pubkey(cert);
		X509_free(cert);
	}
	return pkey;
}

static int load_pem(struct jwt_keys *ks, const char *text, size_t len,
		    struct jwt_load_error *err)
{
	BIO *bio = BIO_new_mem_buf(text, (int)len);
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	unsigned blocks = 0;
	long dlen;
	int rc = 0;

	if (bio == NULL)
		return fail(err, 0, "out of memory");
	while (rc == 0 && PEM_read_bio(bio, &name, &header, &data, &dlen) == 1) {
		int line = block_line(text, blocks++);
		EVP_PKEY *pkey;

		if (strstr(name, "PRIVATE KEY") != NULL)
			rc = fail(err, line, "a private key: give its public key (openssl pkey "
				  "-pubout)");
		else if (strcmp(name, "PUBLIC KEY") != 0 && strcmp(name, "CERTIFICATE") != 0)
			rc = fail(err, line, "a \"%s\" block: public keys (\"PUBLIC KEY\") and "
				  "certificates only", name);
		else if ((pkey = block_key(name, data, dlen)) == NULL)
			rc = fail(err, line, "a \"%s\" block OpenSSL cannot read", name);
		else
			rc = add_pkey(ks, pkey, NULL, 0, 0, line, err);
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_clear_free(data, (size_t)dlen);	/* a private key, by mistake */
	}
	BIO_free(bio);
	ERR_clear_error();
	if (rc == 0 && blocks == 0)
		return fail(err, 0, "neither a PEM public key nor a JWK set (a JSON object)");
	return rc;
}

/* ---- JWK sets ---- */

struct jwk {
	const char *text;
	const struct json_tok *t;
	unsigned obj;			/* the key's object */
	int line;
	char kid[256];			/* empty: none */
	enum jwt_alg alg;
};

/* Member name of the key, base64url, into out[cap]: its length, or -1
 * (err set). */
static ssize_t jwk_bytes(const struct jwk *j, const char *name, uint8_t *out, size_t cap,
			 struct jwt_load_error *err)
{
	int m = json_member(j->text, j->t, j->obj, name);
	ssize_t n;

	if (m < 0 || j->t[m].type != JSON_STRING || j->t[m].escaped)
		return fail(err, j->line, "its \"%s\" is missing or not a string", name);
	n = base64_decode(j->text + j->t[m].start, j->t[m].len, BASE64_URL, out, cap);
	if (n <= 0)
		return fail(err, j->line, "its \"%s\" is not base64url without padding, or too "
			    "long", name);
	return n;
}

/* Whether member name is the string s; -1 when it is not a string. */
static int jwk_is(const struct jwk *j, const char *name, const char *s)
{
	int m = json_member(j->text, j->t, j->obj, name);

	if (m < 0)
		return 0;
	if (j->t[m].type != JSON_STRING)
		return -1;
	return json_string_is(j->text, &j->t[m], s);
}

static EVP_PKEY *pkey_from(const char *type, OSSL_PARAM_BLD *b)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(b);
	EVP_PKEY *pkey = NULL;

	if (ctx != NULL && params != NULL && EVP_PKEY_fromdata_init(ctx) == 1 &&
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
	OSSL_PARAM_free(params);
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

static EVP_PKEY *jwk_rsa(const struct jwk *j, struct jwt_load_error *err)
{
	uint8_t n[1024], e[16];
	ssize_t nl = jwk_bytes(j, "n", n, sizeof(n), err), el;
	OSSL_PARAM_BLD *b;
	BIGNUM *bn = NULL, *be = NULL;
	EVP_PKEY *pkey = NULL;

	if (nl < 0 || (el = jwk_bytes(j, "e", e, sizeof(e), err)) < 0)
		return NULL;
	if ((b = OSSL_PARAM_BLD_new()) != NULL && (bn = BN_bin2bn(n, (int)nl, NULL)) != NULL &&
	    (be = BN_bin2bn(e, (int)el, NULL)) != NULL &&
	    OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, bn) == 1 &&
	    OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, be) == 1)
		pkey = pkey_from("RSA", b);
	BN_free(bn);
	BN_free(be);
	OSSL_PARAM_BLD_free(b);
	if (pkey == NULL)
		fail(err, j->line, "OpenSSL refuses this RSA key");
	return pkey;
}

static EVP_PKEY *jwk_ec(const struct jwk *j, struct jwt_load_error *err)
{
	bool p256 = jwk_is(j, "crv", "P-256") == 1, p384 = jwk_is(j, "crv", "P-384") == 1;
	size_t half = p256 ? 32 : 48;
	uint8_t point[1 + 2 * 48];
	EVP_PKEY *pkey = NULL;
	EVP_PKEY_CTX *check = NULL;
	OSSL_PARAM_BLD *b;

	if (!p256 && !p384)
		return fail(err, j->line, "an EC key whose crv is not P-256 or P-384"), NULL;
	point[0] = 0x04;	/* uncompressed: x then y */
	if (jwk_bytes(j, "x", point + 1, half, err) != (ssize_t)half ||
	    jwk_bytes(j, "y", point + 1 + half, half, err) != (ssize_t)half)
		return fail(err, j->line, "its x and y must be %zu bytes each", half), NULL;
	if ((b = OSSL_PARAM_BLD_new()) != NULL &&
	    OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME,
					    p256 ? "prime256v1" : "secp384r1", 0) == 1 &&
	    OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, point,
					     1 + 2 * half) == 1)
		pkey = pkey_from("EC", b);
	OSSL_PARAM_BLD_free(b);
	/* a point off the curve would make every signature a guess */
	if (pkey != NULL && ((check = EVP_PKEY_CTX_new(pkey, NULL)) == NULL ||
			     EVP_PKEY_public_check(check) != 1)) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	EVP_PKEY_CTX_free(check);
	if (pkey == NULL)
		fail(err, j->line, "OpenSSL refuses this EC key (a point not on the curve?)");
	return pkey;
}

static EVP_PKEY *jwk_okp(const struct jwk *j, struct jwt_load_error *err)
{
	uint8_t x[32];
	EVP_PKEY *pkey;

	if (jwk_is(j, "crv", "Ed25519") != 1)
		return fail(err, j->line, "an OKP key whose crv is not Ed25519"), NULL;
	if (jwk_bytes(j, "x", x, sizeof(x), err) != (ssize_t)sizeof(x))
		return fail(err, j->line, "its x must be 32 bytes"), NULL;
	if ((pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, sizeof(x))) == NULL)
		fail(err, j->line, "OpenSSL refuses this Ed25519 key");
	return pkey;
}

static const struct {
	const char *alg;
	enum jwt_key_type type;
} alg_types[] = {
	{ "HS256", JWT_KEY_SECRET }, { "HS384", JWT_KEY_SECRET }, { "HS512", JWT_KEY_SECRET },
	{ "RS256", JWT_KEY_RSA }, { "RS384", JWT_KEY_RSA }, { "RS512", JWT_KEY_RSA },
	{ "PS256", JWT_KEY_RSA }, { "ES256", JWT_KEY_P256 }, { "ES384", JWT_KEY_P384 },
	{ "EdDSA", JWT_KEY_ED25519 },
};

static enum jwt_key_type type_of_alg(enum jwt_alg alg)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(alg_types); i++)
		if (jwt_alg_named(alg_types[i].alg, strlen(alg_types[i].alg)) == alg)
			return alg_types[i].type;
	return 0;
}

/* kid and alg of the key, when it has them; -1 with err set. */
static int jwk_names(struct jwk *j, struct jwt_load_error *err)
{
	int k = json_member(j->text, j->t, j->obj, "kid");
	int a = json_member(j->text, j->t, j->obj, "alg");
	ssize_t n = 0;

	if (k >= 0 && (j->t[k].type != JSON_STRING ||
		       (n = json_string(j->text, &j->t[k], j->kid, sizeof(j->kid) - 1)) <= 0))
		return fail(err, j->line, "its kid is not a string of 1 to 255 bytes");
	j->kid[n] = '\0';
	j->alg = 0;
	if (a < 0)
		return 0;
	if (j->t[a].type != JSON_STRING || j->t[a].escaped ||
	    (j->alg = jwt_alg_named(j->text + j->t[a].start, j->t[a].len)) == 0)
		return fail(err, j->line, "its alg is none of HS256, HS384, HS512, RS256, RS384, "
			    "RS512, PS256, ES256, ES384, EdDSA");
	return 0;
}

static int load_jwk(struct jwt_keys *ks, struct jwk *j, bool secret,
		    struct jwt_load_error *err)
{
	bool oct = jwk_is(j, "kty", "oct") == 1;
	EVP_PKEY *pkey = NULL;
	uint8_t k[1024];
	ssize_t n;

	if (j->t[j->obj].type != JSON_OBJECT)
		return fail(err, j->line, "a key that is not an object");
	if (jwk_is(j, "use", "enc") == 1)
		return 0;	/* for encryption: not ours to use */
	if (jwk_names(j, err) < 0)
		return -1;
	if (secret != oct)
		return fail(err, j->line, secret ? "a public key in a secret file: write it in "
			    "auth_jwt_key_file" : "a secret (\"oct\") key: write it in "
			    "auth_jwt_secret_file, readable by root only");
	if (oct) {
		if (j->alg != 0 && type_of_alg(j->alg) != JWT_KEY_SECRET)
			return fail(err, j->line, "its alg is not one of its key type");
		if ((n = jwk_bytes(j, "k", k, sizeof(k), err)) < 0)
			return -1;
		return add_secret(ks, k, (size_t)n, j->kid[0] ? j->kid : NULL, j->alg, j->line,
				  err);
	}
	if (jwk_is(j, "kty", "RSA") == 1)
		pkey = jwk_rsa(j, err);
	else if (jwk_is(j, "kty", "EC") == 1)
		pkey = jwk_ec(j, err);
	else if (jwk_is(j, "kty", "OKP") == 1)
		pkey = jwk_okp(j, err);
	else
		return fail(err, j->line, "a key whose kty is none of RSA, EC, OKP, oct");
	if (pkey == NULL)
		return -1;
	return add_pkey(ks, pkey, j->kid[0] ? j->kid : NULL, j->alg,
			j->alg ? type_of_alg(j->alg) : 0, j->line, err);
}

static int load_jwks(struct jwt_keys *ks, const char *text, size_t len, bool secret,
		     struct jwt_load_error *err)
{
	unsigned cap = (unsigned)(len / 2 + 2), before = ks->nkeys, e, i;
	struct json_tok *t = malloc(cap * sizeof(*t));
	struct jwk j = { .text = text };
	const char *why;
	size_t at;
	int keys, rc = 0;

	if (t == NULL)
		return fail(err, 0, "out of memory");
	j.t = t;
	if (json_parse(text, len, t, cap, &why, &at) < 0)
		rc = fail(err, line_at(text, at), "not a JWK set: %s", why);
	else if (t[0].type != JSON_OBJECT ||
		 (keys = json_member(text, t, 0, "keys")) < 0 || t[keys].type != JSON_ARRAY)
		rc = fail(err, 1, "not a JWK set: an object with a \"keys\" array");
	else
		for (i = 0, e = (unsigned)keys + 1; rc == 0 && i < t[keys].size;
		     i++, e = t[e].next) {
			j.obj = e;
			j.line = line_at(text, t[e].start);
			rc = load_jwk(ks, &j, secret, err);
		}
	free(t);
	if (rc == 0 && ks->nkeys == before)
		rc = fail(err, 0, "a JWK set without a key to verify signatures with");
	return rc;
}

/* ---- the files ---- */

static int load(struct jwt_keys *ks, const char *path, bool secret, struct jwt_load_error *err)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (read_whole(path, &text, &len, err) < 0)
		return -1;
	if (starts_as_json(text, len))
		rc = load_jwks(ks, text, len, secret, err);
	else if (secret)
		rc = add_secret(ks, (const uint8_t *)text, len, NULL, 0, 0, err);
	else
		rc = load_pem(ks, text, len, err);
	OPENSSL_cleanse(text, len);
	free(text);
	return rc;
}

int jwt_keys_load_public(struct jwt_keys *ks, const char *path, struct jwt_load_error *err)
{
	return load(ks, path, false, err);
}

int jwt_keys_load_secret(struct jwt_keys *ks, const char *path, struct jwt_load_error *err)
{
	return load(ks, path, true, err);
}

void jwt_keys_free(struct jwt_keys *ks)
{
	unsigned i;

	if (ks == NULL)
		return;
	for (i = 0; i < ks->nkeys; i++) {
		free(ks->keys[i].kid);
		EVP_PKEY_free(ks->keys[i].pkey);
		if (ks->keys[i].secret != NULL)
			OPENSSL_cleanse(ks->keys[i].secret, ks->keys[i].secret_len);
		free(ks->keys[i].secret);
	}
	free(ks->keys);
	for (i = 0; i < ks->nfiles; i++)
		free(ks->files[i]);
	free(ks->files);
	free(ks);
}
