/*
 * test_jwt.c: the strict JSON reader of JWTs (jwt_json.c),
 * and what jwt.c checks that needs no public key: the token's form, its
 * header, HMAC signatures, kid, and the claims. Signatures with public
 * keys are tested end to end in t/auth_jwt.t, with keys made by openssl.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <openssl/hmac.h>

#include "core.h"
#include "jwt.h"
#include "tap.h"

static struct json_tok t[64];

static int parse(const char *s)
{
	const char *why;
	size_t at;

	return json_parse(s, strlen(s), t, 64, &why, &at);
}

static void test_json_accepts(void)
{
	char out[16];
	int v;

	is_int(parse("{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}"), 12,
	       "an object of every kind of value: 12 tokens");
	v = json_member("{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}", t, 0, "c");
	ok(v == 9 && t[v].type == JSON_OBJECT && t[v].size == 1, "a member found past an array");
	ok(json_member("{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}", t, 0, "d") < 0,
	   "a nested key is not a member of the outer object");
	is_int(parse(" [ -0.5e+10 , 0 , 12.25E-1 ] "), 4, "numbers in their forms, spaces around");
	ok(json_number(" [ -0.5e+10 , 0 , 12.25E-1 ] ", &t[3]) == 1.225, "a number's value");
	is_int(parse("\"caf\\u00e9 \\ud83d\\ude00 \\/\\n\""), 1, "escapes, a surrogate pair");
	is_int(json_string("\"caf\\u00e9 \\ud83d\\ude00 \\/\\n\"", &t[0], out, sizeof(out)), 13,
	       "... decoded to 13 bytes of UTF-8");
	ok(memcmp(out, "caf\xc3\xa9 \xf0\x9f\x98\x80 /\n", 13) == 0, "... which are right");
	is_int(parse("{\"k\\u0069d\":\"x\"}"), 3, "an escaped key");
	ok(json_member("{\"k\\u0069d\":\"x\"}", t, 0, "kid") == 2, "... is found by its value");
	ok(parse("\"h\xc3\xa9\"") == 1, "raw UTF-8 in a string");
	is_int(parse("[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]"), 17, "16 levels deep");
}

static void test_json_refuses(void)
{
	static const struct {
		const char *text, *what;
	} bad[] = {
		{ "{\"a\":1,\"a\":2}", "a key twice" },
		{ "{\"a\":1,\"\\u0061\":2}", "a key twice, once escaped" },
		{ "{\"a\":1,}", "a trailing comma in an object" },
		{ "[1,]", "a trailing comma in an array" },
		{ "01", "a leading zero" },
		{ "1.", "a fraction without digits" },
		{ "1e", "an exponent without digits" },
		{ "-", "a minus alone" },
		{ "NaN", "NaN" },
		{ "'a'", "single quotes" },
		{ "\"\\x\"", "an unknown escape" },
		{ "\"\\u12\"", "a short \\u escape" },
		{ "\"\\ud800\"", "a high surrogate alone" },
		{ "\"\\udc00\"", "a low surrogate alone" },
		{ "\"\\u0000\"", "an escaped NUL" },
		{ "\"a\tb\"", "a raw tab in a string" },
		{ "\"\xc3\x28\"", "invalid UTF-8" },
		{ "\"\xc0\xaf\"", "overlong UTF-8" },
		{ "\"\xed\xa0\x80\"", "a surrogate in UTF-8" },
		{ "\"abc", "a string not closed" },
		{ "{} x", "bytes after the value" },
		{ "{}{}", "two values" },
		{ "", "nothing" },
		{ "{\"a\" 1}", "a member without ':'" },
		{ "{1:2}", "a key that is not a string" },
		{ "tru", "a literal cut short" },
		{ "[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]", "17 levels deep" },
	};
	struct json_tok few[3];
	const char *why;
	size_t i, at;

	for (i = 0; i < ARRAY_LEN(bad); i++)
		is_int(parse(bad[i].text), -1, "refused: %s", bad[i].what);
	is_int(json_parse("[1,2,3]", 7, few, 3, &why, &at), -1, "more values than tokens");
	ok(why != NULL && strcmp(why, "too many values") == 0, "... says so");
	is_int(json_parse("{\"a\":1,\"a\":2}", 13, t, 64, &why, &at), -1, "a key twice");
	ok(strcmp(why, "a key twice in one object") == 0, "... says so");
}

/* ---- tokens ---- */

static const uint8_t secret[40] = "0123456789abcdef0123456789abcdef0123456";

static void b64url(const uint8_t *in, size_t len, char *out)
{
	static const char a[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t i, n = 0;
	uint32_t acc = 0;
	unsigned bits = 0;

	for (i = 0; i < len; i++) {
		acc = acc << 8 | in[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[n++] = a[(acc >> bits) & 63];
		}
	}
	if (bits > 0)
		out[n++] = a[(acc << (6 - bits)) & 63];
	out[n] = '\0';
}

/* header.claims signed with HS256 (or with md) and secret. */
static char *token(const char *header, const char *claims, const EVP_MD *md)
{
	static char tok[16384];
	uint8_t mac[64];
	unsigned mlen;
	size_t n;

	b64url((const uint8_t *)header, strlen(header), tok);
	n = strlen(tok);
	tok[n++] = '.';
	b64url((const uint8_t *)claims, strlen(claims), tok + n);
	n = strlen(tok);
	HMAC(md ? md : EVP_sha256(), secret, sizeof(secret), (const uint8_t *)tok, n, mac, &mlen);
	tok[n++] = '.';
	b64url(mac, mlen, tok + n);
	return tok;
}

static struct jwt_claims claims;

static const char *verify(const char *tok, const struct jwt_policy *p)
{
	const char *why = jwt_verify(tok, strlen(tok), p, 1000000, &claims);

	return why ? why : "ok";
}

#define HS256 "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

static void test_tokens(void)
{
	struct jwt_key key = { .type = JWT_KEY_SECRET, .secret = (uint8_t *)secret,
			       .secret_len = sizeof(secret) };
	struct jwt_keys ks = { .keys = &key, .nkeys = 1 };
	char *iss[] = { "https://idp.example" }, *aud[] = { "api", "web" };
	struct jwt_policy p = { .secrets = &ks };
	char tok[2048];

	is_str(verify(token(HS256, "{\"sub\":\"alice\"}", NULL), &p), "ok", "a good HS256 token");
	ok(json_string_is(claims.text, &claims.t[json_member(claims.text, claims.t, 0, "sub")],
			  "alice"), "... its claims");
	is_str(verify(token("{\"alg\":\"HS512\"}", "{}", EVP_sha512()), &p), "no_key",
	       "HS512 with a secret shorter than its hash: no key");
	is_str(verify(token("{\"alg\":\"none\"}", "{}", NULL), &p), "alg_none", "alg none");
	is_str(verify(token("{\"alg\":\"nOnE\"}", "{}", NULL), &p), "alg_none", "alg none, any case");
	is_str(verify(token("{\"alg\":\"HS257\"}", "{}", NULL), &p), "bad_alg", "an unknown alg");
	is_str(verify(token("{\"typ\":\"JWT\"}", "{}", NULL), &p), "bad_alg", "no alg");
	is_str(verify(token("{\"alg\":\"RS256\"}", "{}", NULL), &p), "no_key",
	       "RS256 with secrets only: no key");
	is_str(verify(token("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", "{}", NULL), &p), "crit",
	       "crit");
	is_str(verify(token("{\"alg\":\"HS256\",\"alg\":\"none\"}", "{}", NULL), &p), "bad_json",
	       "alg twice");
	is_str(verify(token("{\"alg\":\"HS256\"", "{}", NULL), &p), "bad_json", "a header cut short");
	is_str(verify(token(HS256, "{\"a\":1,\"a\":2}", NULL), &p), "bad_json", "claims with a key twice");
	is_str(verify(token(HS256, "[1]", NULL), &p), "bad_json", "claims not an object");
	{
		char big[6000];
		size_t n = 0;
		unsigned i;

		n += (size_t)snprintf(big + n, sizeof(big) - n, "{\"groups\":[");
		for (i = 0; i < 400; i++)
			n += (size_t)snprintf(big + n, sizeof(big) - n, "%s%u", i ? "," : "", i);
		n += (size_t)snprintf(big + n, sizeof(big) - n, "]");
		for (i = 0; i < 200; i++)
			n += (size_t)snprintf(big + n, sizeof(big) - n, ",\"c%u\":%u", i, i);
		snprintf(big + n, sizeof(big) - n, "}");
		is_str(verify(token(HS256, big, NULL), &p), "ok",
		       "claims with 200 members and an array of 400 groups");
	}

	strcpy(tok, token(HS256, "{\"sub\":\"alice\"}", NULL));
	tok[strlen(tok) - 2] ^= 1;
	is_str(verify(tok, &p), "bad_signature", "a signature changed");
	strcpy(tok, token(HS256, "{\"sub\":\"alice\"}", NULL));
	*strrchr(tok, '.') = '\0';
	is_str(verify(tok, &p), "malformed", "two parts");
	strcat(tok, ".x.y");
	is_str(verify(tok, &p), "malformed", "four parts");
	is_str(verify("e30=.e30.c2ln", &p), "malformed", "padding in the header");
	strcpy(tok, token(HS256, "{}", NULL));
	strrchr(tok, '.')[1] = '\0';
	is_str(verify(tok, &p), "malformed", "no signature");

	is_str(verify(token(HS256, "{\"exp\":999999}", NULL), &p), "expired", "expired");
	is_str(verify(token(HS256, "{\"exp\":1000000}", NULL), &p), "expired", "expiring now");
	is_str(verify(token(HS256, "{\"exp\":1000001}", NULL), &p), "ok", "expiring in a second");
	is_str(verify(token(HS256, "{\"exp\":\"2000000\"}", NULL), &p), "bad_claim", "exp a string");
	is_str(verify(token(HS256, "{\"nbf\":1000010}", NULL), &p), "not_yet_valid",
	       "nbf in the future");
	p.leeway = 30;
	is_str(verify(token(HS256, "{\"exp\":999980}", NULL), &p), "ok", "expired within the leeway");
	is_str(verify(token(HS256, "{\"nbf\":1000010}", NULL), &p), "ok", "nbf within the leeway");
	is_str(verify(token(HS256, "{\"exp\":999960}", NULL), &p), "expired", "expired beyond it");
	p.leeway = 0;

	p.issuers = iss;
	p.nissuers = 1;
	is_str(verify(token(HS256, "{\"iss\":\"https://idp.example\"}", NULL), &p), "ok", "iss");
	is_str(verify(token(HS256, "{\"iss\":\"https://evil.example\"}", NULL), &p), "bad_issuer",
	       "another iss");
	is_str(verify(token(HS256, "{}", NULL), &p), "bad_issuer", "no iss");
	p.nissuers = 0;
	p.audiences = aud;
	p.naudiences = 2;
	is_str(verify(token(HS256, "{\"aud\":\"web\"}", NULL), &p), "ok", "aud a string");
	is_str(verify(token(HS256, "{\"aud\":[\"x\",\"api\"]}", NULL), &p), "ok", "aud an array");
	is_str(verify(token(HS256, "{\"aud\":[\"x\",\"y\"]}", NULL), &p), "bad_audience",
	       "aud an array without one");
	is_str(verify(token(HS256, "{\"aud\":1}", NULL), &p), "bad_audience", "aud a number");
	is_str(verify(token(HS256, "{}", NULL), &p), "bad_audience", "no aud");
	p.naudiences = 0;

	key.kid = "k1";
	is_str(verify(token("{\"alg\":\"HS256\",\"kid\":\"k1\"}", "{}", NULL), &p), "ok", "its kid");
	is_str(verify(token("{\"alg\":\"HS256\",\"kid\":\"k2\"}", "{}", NULL), &p), "no_key",
	       "a kid naming no key");
	is_str(verify(token(HS256, "{}", NULL), &p), "no_key", "no kid, the key has one");
	is_str(verify(token("{\"alg\":\"HS256\",\"kid\":7}", "{}", NULL), &p), "bad_kid",
	       "kid not a string");
	key.kid = NULL;
	is_str(verify(token("{\"alg\":\"HS256\",\"kid\":\"any\"}", "{}", NULL), &p), "ok",
	       "a key without kid takes any kid");
	key.alg = JWT_HS384;
	is_str(verify(token(HS256, "{}", NULL), &p), "no_key", "a key of another alg");
}

int main(void)
{
	test_json_accepts();
	test_json_refuses();
	test_tokens();
	return done_testing();
}
