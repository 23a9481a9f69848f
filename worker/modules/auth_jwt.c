/*
 * auth_jwt.c: the access hook of JWT bearer authentication. A token's
 * signature is verified with keys parsed by the master, once: a good one
 * is remembered for auth_jwt_cache_time in the shared auth cache, under
 * a hash of the token and of the keys' random tag, so that every worker
 * then checks only its header and claims (a signature costs tens of
 * microseconds; a lookup, one). Keys read again by a reload have a new
 * tag, and a site or route with other keys another, so a token is never
 * taken on another's word. The worker's scratch room holds one token and
 * its claims (a worker serves one hook at a time); what the exchange
 * keeps of them, a block of their size.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

#include "jwt.h"
#include "log.h"
#include "modules/auth_jwt.h"

/* The access log's and the error log's word for each refusal. */
static const char *const refusals[] = {
	"auth_jwt=no_token", "auth_jwt=malformed", "auth_jwt=bad_json", "auth_jwt=bad_alg",
	"auth_jwt=alg_none", "auth_jwt=crit", "auth_jwt=bad_kid", "auth_jwt=no_key",
	"auth_jwt=bad_signature", "auth_jwt=bad_claim", "auth_jwt=expired",
	"auth_jwt=not_yet_valid", "auth_jwt=bad_issuer", "auth_jwt=bad_audience",
};

static const char *refusal(const char *why)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(refusals); i++)
		if (strcmp(refusals[i] + sizeof("auth_jwt=") - 1, why) == 0)
			return refusals[i];
	return "auth_jwt";
}

/* 401 with the challenge; RFC 6750 3.1: a request that sent no token
 * is told no error, only that one is asked. */
static int refuse(struct exchange *x, const struct conf_jwt *j, const char *why)
{
	bool none = strcmp(why, "no_token") == 0;
	const char *c = none ? j->challenge : j->challenge_error;

	STATS_ADD(x->ctx->stats, c.auth_jwt_refused, 1);
	exchange_deny(x, 401, refusal(why), false);
	if (x->phase == PH_RESPONSE_HEAD)
		exchange_add_field(x, SLICE_LIT("WWW-Authenticate"), (struct slice){ c, strlen(c) });
	return P_DONE;
}

/* The Authorization field's Bearer token (RFC 6750 2.1), or an empty
 * slice: none, or another scheme. */
static struct slice bearer_token(struct slice v)
{
	if (v.len < 7 || !slice_ieq((struct slice){ v.p, 6 }, "bearer") ||
	    (v.p[6] != ' ' && v.p[6] != '\t'))
		return (struct slice){ NULL, 0 };
	return slice_trim((struct slice){ v.p + 7, v.len - 7 });
}

/* The token the route names; its length, 0 for none; JWT_MAX_TOKEN + 1
 * when it is too long to be one. */
static size_t find_token(const struct exchange *x, const struct conf_jwt *j,
			 struct slice authorization, char *out)
{
	struct var_source src;
	struct slice b;

	if (j->token.text != NULL) {
		src = exchange_vars(x);
		return vars_expand(&j->token, &src, out, JWT_MAX_TOKEN);
	}
	b = bearer_token(authorization);
	if (b.len == 0 || b.len > JWT_MAX_TOKEN)
		return b.len == 0 ? 0 : JWT_MAX_TOKEN + 1;
	memcpy(out, b.p, b.len);
	return b.len;
}

/* The values a verified token gives the exchange, kept until its end:
 * the user, and the claims sent as fields. A block of their own size,
 * since a long-lived exchange (a WebSocket) holds it all its life. */
struct auth_jwt_values {
	size_t used, size;
	char text[];
};

/* Bytes the user and the claims sent as fields may take: each at most
 * its length in the token (decoding never lengthens). */
static size_t values_size(const struct conf_jwt *j, const struct jwt_claims *c)
{
	const struct conf_jwt_claims *l = j->claim_headers;
	size_t n = 0;
	unsigned i;
	int v;

	if ((v = json_member(c->text, c->t, 0, "sub")) >= 0)
		n += c->t[v].len + 1;
	for (i = 0; l != NULL && i < l->n; i++)
		if ((v = json_member(c->text, c->t, 0, l->h[i].claim)) >= 0)
			n += c->t[v].len;
	return n;
}

static bool values_new(struct exchange *x, size_t size)
{
	x->auth_jwt = malloc(sizeof(*x->auth_jwt) + size);
	if (x->auth_jwt == NULL)
		return false;
	x->auth_jwt->used = 0;
	x->auth_jwt->size = size;
	return true;
}

/* Room for n more bytes of values, or NULL. */
static char *room(struct exchange *x, size_t n)
{
	struct auth_jwt_values *v = x->auth_jwt;

	if (v == NULL || v->size - v->used < n)
		return NULL;
	return v->text + v->used;
}

/* A claim's value as a field value: a string (without control
 * characters, which a head cannot carry), a number or a boolean as
 * written; an empty slice for anything else or no room. */
static struct slice claim_value(struct exchange *x, const struct jwt_claims *c, int v)
{
	const struct json_tok *t = &c->t[v];
	char *p = room(x, t->len);
	ssize_t n = t->len;
	ssize_t i;

	if (p == NULL || t->len == 0)
		return (struct slice){ NULL, 0 };
	switch (t->type) {
	case JSON_STRING:
		n = json_string(c->text, t, p, t->len);	/* never longer decoded */
		for (i = 0; i < n; i++)
			if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
				return (struct slice){ NULL, 0 };
		break;
	case JSON_NUMBER:
	case JSON_TRUE:
	case JSON_FALSE:
		memcpy(p, c->text + t->start, t->len);
		break;
	default:
		return (struct slice){ NULL, 0 };
	}
	x->auth_jwt->used += (size_t)n;
	return (struct slice){ p, (size_t)n };
}

/* Whether a field of the request's is one a claim is sent as. */
static bool claim_field(const struct conf_jwt_claims *l, struct slice name)
{
	unsigned i;

	for (i = 0; i < l->n; i++)
		if (name.len == l->h[i].header_len &&
		    strncasecmp(name.p, l->h[i].header, name.len) == 0)
			return true;
	return false;
}

/* The client's fields of the claims' names out, whether the route asks
 * for a token or not (a route with auth = off, or auth_jwt = "off",
 * keeps its site's list): nobody but a verified token names them. */
static void drop_forged(struct exchange *x, const struct conf_jwt_claims *l)
{
	struct http_message *r = &x->req;
	unsigned i, n = 0;

	for (i = 0; i < r->nheaders; i++)
		if (!claim_field(l, r->headers[i].name))
			r->headers[n++] = r->headers[i];
	r->nheaders = n;
}

/* The claims the token has, as fields. */
static void pass_claims(struct exchange *x, const struct conf_jwt_claims *l,
			const struct jwt_claims *c)
{
	struct http_message *r = &x->req;
	unsigned i;
	int v;

	for (i = 0; i < l->n; i++) {
		struct slice value;

		if ((v = json_member(c->text, c->t, 0, l->h[i].claim)) < 0)
			continue;
		value = claim_value(x, c, v);
		if (value.len == 0 || r->nheaders == HTTP_MAX_HEADERS)
			continue;
		r->headers[r->nheaders++] = (struct http_header){
			.name = { l->h[i].header, l->h[i].header_len }, .value = value };
	}
}

/* sub as the user, when it is printable ASCII without spaces. */
static void set_user(struct exchange *x, const struct jwt_claims *c)
{
	int v = json_member(c->text, c->t, 0, "sub");
	ssize_t n, i;
	char *p;

	if (v < 0 || c->t[v].type != JSON_STRING || c->t[v].len == 0 ||
	    (p = room(x, c->t[v].len + 1)) == NULL)
		return;
	n = json_string(c->text, &c->t[v], p, c->t[v].len);
	for (i = 0; i < n; i++)
		if (p[i] <= 0x20 || p[i] >= 0x7f)
			return;
	p[n] = '\0';
	x->auth_jwt->used += (size_t)n + 1;
	x->auth_user = p;
}

/* The cache's key for token under j's keys (keyed by the public keys'
 * tag, or the secrets' when there are none; the secrets' tag in it too
 * when there are both); false when the token is not to be remembered. */
static bool cache_key(const struct exchange *x, const struct conf_jwt *j, const char *token,
		      size_t n, uint8_t key[AUTH_CACHE_KEY_MAX])
{
	const struct jwt_keys *first = j->public_keys ? j->public_keys : j->secrets;
	bool both = j->public_keys != NULL && j->secrets != NULL;
	const struct slice parts[] = {
		{ both ? (const char *)j->secrets->tag : "", both ? sizeof(j->secrets->tag) : 0 },
		{ token, n },
	};

	if (x->ctx->auth_cache == NULL || j->cache_time == 0 || n > JWT_MAX_TOKEN ||
	    first == NULL)
		return false;
	return auth_cache_key(first->tag, parts, ARRAY_LEN(parts), key);
}

/* Whether the auth cache says token's signature was verified. */
static bool signature_known(struct exchange *x, const uint8_t key[AUTH_CACHE_KEY_MAX])
{
	uint8_t val;

	if (auth_cache_get(x->ctx->auth_cache, AUTH_CACHE_JWT, key, AUTH_CACHE_KEY_MAX, &val,
			   sizeof(val), ev_now_us() / 1000) != 1)
		return false;
	STATS_ADD(x->ctx->stats, c.auth_jwt_cache_hits, 1);
	return true;
}

static void remember_signature(struct exchange *x, const struct conf_jwt *j,
			       const uint8_t key[AUTH_CACHE_KEY_MAX])
{
	static const uint8_t good = 1;

	auth_cache_put(x->ctx->auth_cache, AUTH_CACHE_JWT, key, AUTH_CACHE_KEY_MAX, &good,
		       sizeof(good), ev_now_us() / 1000 + j->cache_time);
}

static int check_jwt(struct exchange *x)
{
	static char token[JWT_MAX_TOKEN + 1];
	static struct jwt_claims claims;
	uint8_t key[AUTH_CACHE_KEY_MAX];
	const struct conf_jwt *j;
	struct jwt_policy p;
	struct slice authorization;
	const char *why;
	bool cached, repeated;
	size_t n;

	if (x->route == NULL)
		return P_OK;
	j = &x->route->jwt;
	if (j->claim_headers != NULL)
		drop_forged(x, j->claim_headers);
	if (!x->route->auth || j->realm == NULL)
		return P_OK;
	/* Two would leave the server to choose the one it reads. */
	authorization = http_singleton_value(&x->req, "authorization", &repeated);
	if (repeated) {
		exchange_log(x, LL_WARN, 0, "auth_jwt: refused: more than one Authorization field");
		exchange_deny(x, 400, "auth_jwt", true);
		return P_DONE;
	}
	if ((n = find_token(x, j, authorization, token)) == 0)
		return refuse(x, j, "no_token");
	p = (struct jwt_policy){
		.public_keys = j->public_keys, .secrets = j->secrets,
		.leeway = (j->leeway + 999) / 1000,
		.issuers = j->issuers ? j->issuers->s : NULL,
		.nissuers = j->issuers ? j->issuers->n : 0,
		.audiences = j->audiences ? j->audiences->s : NULL,
		.naudiences = j->audiences ? j->audiences->n : 0,
	};
	if (n > JWT_MAX_TOKEN)
		return refuse(x, j, "malformed");
	cached = cache_key(x, j, token, n, key);
	p.signature_known = cached && signature_known(x, key);
	if (!p.signature_known)
		STATS_ADD(x->ctx->stats, c.auth_jwt_verifications, 1);
	if ((why = jwt_verify(token, n, &p, time(NULL), &claims)) != NULL)
		return refuse(x, j, why);
	if (cached && !p.signature_known)
		remember_signature(x, j, key);
	if (!values_new(x, values_size(j, &claims))) {
		exchange_log(x, LL_ERROR, ENOMEM, "auth_jwt: out of memory");
		exchange_respond(x, 500, TERM_RESOURCE, false);
		return P_DONE;
	}
	if (j->claim_headers != NULL)
		pass_claims(x, j->claim_headers, &claims);
	set_user(x, &claims);
	return P_OK;
}

static void release(struct exchange *x)
{
	free(x->auth_jwt);
	x->auth_jwt = NULL;
}

const struct module auth_jwt_module = {
	.name = "auth_jwt",
	.access = check_jwt,
	.end = release,
};
