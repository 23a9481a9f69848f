/*
 * conf_jwt.c: auth_jwt and its options on sites and routes. A route
 * starts from its site's values and changes the ones it writes; what it
 * shares with its site is freed with the site. The key files are read
 * here, by the master, each time the configuration loads (so a reload
 * reads them again), into keys a worker uses as they are (jwt.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

#include "conf_loader.h"
#include "conf_parts.h"
#include "jwt.h"

#define SITE(field) offsetof(struct conf_site, jwt.field)
#define ROUTE(field) offsetof(struct conf_route, jwt.field)

/* Every row reads into a struct conf_jwt at the start of obj's jwt. */
static struct conf_jwt *jwt_of(const struct conf_option *o, void *obj)
{
	return (struct conf_jwt *)((char *)obj + (o->scope == CS_SITE ? SITE(realm)
								      : ROUTE(realm)));
}

static const struct conf_jwt *cjwt_of(const struct conf_option *o, const void *obj)
{
	return (const struct conf_jwt *)((const char *)obj + (o->scope == CS_SITE ? SITE(realm)
										  : ROUTE(realm)));
}

/* ---- auth_jwt: the realm ---- */

/* The realm goes into a quoted-string of WWW-Authenticate as it is. */
static bool good_realm(const char *s)
{
	for (; *s; s++)
		if (*s < 0x20 || *s > 0x7e || *s == '"' || *s == '\\')
			return false;
	return true;
}

static char *challenge(struct loader *ld, const char *realm, bool error)
{
	size_t n = strlen(realm) + 64;
	char *s = ld_realloc(ld, NULL, 1, n);

	if (s != NULL)
		snprintf(s, n, "Bearer realm=\"%s\"%s", realm,
			 error ? ", error=\"invalid_token\"" : "");
	return s;
}

static void read_realm(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
		       struct conf *c)
{
	struct conf_jwt *j = jwt_of(o, obj);
	const char *s = cfg_getstr(sec, o->name);

	(void)c;
	if (s == NULL)
		return;		/* none, or the site's */
	j->realm = j->challenge = j->challenge_error = NULL;
	if (strcmp(s, "off") == 0)
		return;
	if (*s == '\0' || !good_realm(s)) {
		ld_error(ld, ld_opt_line(ld, sec, o->name), "auth_jwt: \"%s\": a realm is printable "
			 "text without '\"' or '\\' (or \"off\")", s);
		return;
	}
	j->realm = ld_strdup(ld, s);
	j->challenge = challenge(ld, s, false);
	j->challenge_error = challenge(ld, s, true);
}

static void dump_realm(FILE *out, const struct conf_option *o, const void *obj,
		       const char *indent)
{
	const struct conf_jwt *j = cjwt_of(o, obj);

	/* A route's "off" differs from its site's realm. */
	conf_dump_line(out, indent, o->name,
		       j->realm != NULL ? j->realm : o->scope == CS_ROUTE ? "off" : NULL);
}

/* ---- auth_jwt_key_file, auth_jwt_secret_file ---- */

static struct jwt_keys **keys_field(const struct conf_option *o, struct conf_jwt *j)
{
	return strstr(o->name, "secret") != NULL ? &j->secrets : &j->public_keys;
}

static void load_file(struct loader *ld, cfg_t *sec, const struct conf_option *o,
		      struct jwt_keys *ks, unsigned i)
{
	int line = ld_opt_line_n(ld, sec, o->name, i);
	char *path = ld_get_path_n(ld, sec, o->name, i);
	struct jwt_load_error err = { "", 0 };
	bool secret = strstr(o->name, "secret") != NULL;

	if (path == NULL)
		return;
	ks->files[ks->nfiles++] = path;
	if ((secret ? jwt_keys_load_secret(ks, path, &err)
		    : jwt_keys_load_public(ks, path, &err)) == 0)
		return;
	if (err.line > 0)
		ld_error_file(ld, line, path, err.line, "%s: %s", o->name, err.text);
	else
		ld_error(ld, line, "%s: \"%s\": %s", o->name, path, err.text);
}

static void read_keys(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
		      struct conf *c)
{
	struct jwt_keys **field = keys_field(o, jwt_of(o, obj)), *ks;
	unsigned i, n = cfg_size(sec, o->name);

	(void)c;
	if (n == 0)
		return;		/* none, or the site's */
	if ((ks = ld_realloc(ld, NULL, 1, sizeof(*ks))) == NULL)
		return;
	memset(ks, 0, sizeof(*ks));
	if ((ks->files = ld_realloc(ld, NULL, n, sizeof(*ks->files))) == NULL) {
		free(ks);
		return;
	}
	*field = ks;
	if (RAND_bytes(ks->tag, sizeof(ks->tag)) != 1)
		ld_error(ld, ld_opt_line(ld, sec, o->name), "%s: no random bytes to name the keys "
			 "by", o->name);
	for (i = 0; i < n; i++)
		load_file(ld, sec, o, ks, i);
}

static void dump_keys(FILE *out, const struct conf_option *o, const void *obj,
		      const char *indent)
{
	const struct conf_jwt *j = cjwt_of(o, obj);
	const struct jwt_keys *ks = strstr(o->name, "secret") != NULL ? j->secrets
								      : j->public_keys;
	unsigned i;

	if (ks == NULL || ks->nfiles == 0)
		return;
	fprintf(out, "%s%s = {", indent, o->name);
	for (i = 0; i < ks->nfiles; i++) {
		fputs(i ? ", " : "", out);
		conf_dump_str(out, ks->files[i]);
	}
	fputs("}\n", out);
}

/* ---- auth_jwt_token ---- */

static void read_token(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
		       struct conf *c)
{
	struct conf_jwt *j = jwt_of(o, obj);
	const char *s = cfg_getstr(sec, o->name);

	(void)c;
	if (s == NULL)
		return;		/* Authorization, or the site's */
	memset(&j->token, 0, sizeof(j->token));
	if (*s == '\0') {
		ld_error(ld, ld_opt_line(ld, sec, o->name), "auth_jwt_token must not be empty "
			 "(leave it out for the Authorization field's Bearer token)");
		return;
	}
	conf_expr_parse(ld, ld_opt_line(ld, sec, o->name), o->name, &j->token, s);
}

static void dump_token(FILE *out, const struct conf_option *o, const void *obj,
		       const char *indent)
{
	conf_dump_line(out, indent, o->name, cjwt_of(o, obj)->token.text);
}

/* ---- auth_jwt_issuer, auth_jwt_audience ---- */

static struct conf_jwt_list **list_field(const struct conf_option *o, struct conf_jwt *j)
{
	return strstr(o->name, "issuer") != NULL ? &j->issuers : &j->audiences;
}

static void read_list(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
		      struct conf *c)
{
	struct conf_jwt_list **field = list_field(o, jwt_of(o, obj)), *l;
	unsigned i, n = cfg_size(sec, o->name);

	(void)c;
	if (n == 0)
		return;		/* any, or the site's */
	if ((l = ld_realloc(ld, NULL, 1, sizeof(*l))) == NULL)
		return;
	if ((l->s = ld_realloc(ld, NULL, n, sizeof(*l->s))) == NULL) {
		free(l);
		return;
	}
	l->n = 0;
	*field = l;
	for (i = 0; i < n; i++) {
		const char *s = cfg_getnstr(sec, o->name, i);

		if (*s == '\0')
			ld_error(ld, ld_opt_line_n(ld, sec, o->name, i), "%s: an empty name", o->name);
		else if ((l->s[l->n] = ld_strdup(ld, s)) != NULL)
			l->n++;
	}
}

static void dump_list(FILE *out, const struct conf_option *o, const void *obj,
		      const char *indent)
{
	const struct conf_jwt *j = cjwt_of(o, obj);
	const struct conf_jwt_list *l = strstr(o->name, "issuer") != NULL ? j->issuers
									  : j->audiences;
	unsigned i;

	if (l == NULL)
		return;
	fprintf(out, "%s%s = {", indent, o->name);
	for (i = 0; i < l->n; i++) {
		fputs(i ? ", " : "", out);
		conf_dump_str(out, l->s[i]);
	}
	fputs("}\n", out);
}

/* ---- auth_jwt_claim_headers ---- */

/* A field name a backend reads as one (RFC 9110 token, no '_' that CGI
 * would read as '-'), and not one that frames or routes the request. */
static bool good_header(const char *name)
{
	static const char *const framing[] = {
		"host", "content-length", "transfer-encoding", "connection", "keep-alive",
		"upgrade", "te", "trailer", "proxy-connection", "expect",
	};
	size_t i;

	if (*name == '\0' || name[strspn(name, "abcdefghijklmnopqrstuvwxyz"
					 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^`|~")])
		return false;
	for (i = 0; i < ARRAY_LEN(framing); i++)
		if (strcasecmp(name, framing[i]) == 0)
			return false;
	return true;
}

/* "claim Header" into h; false when it is not. */
static bool split_claim_header(struct loader *ld, const char *s,
			       struct conf_jwt_claim_header *h)
{
	size_t claim = strcspn(s, " \t"), gap = strspn(s + claim, " \t");
	const char *header = s + claim + gap;

	if (claim == 0 || gap == 0 || header[strcspn(header, " \t")] != '\0' ||
	    !good_header(header))
		return false;
	if ((h->claim = ld_realloc(ld, NULL, 1, claim + 1)) == NULL)
		return false;
	memcpy(h->claim, s, claim);
	h->claim[claim] = '\0';
	if ((h->header = ld_strdup(ld, header)) == NULL) {
		free(h->claim);
		return false;
	}
	h->header_len = strlen(header);
	return true;
}

static bool header_taken(const struct conf_jwt_claims *l, const char *header)
{
	unsigned i;

	for (i = 0; i < l->n; i++)
		if (strcasecmp(l->h[i].header, header) == 0)
			return true;
	return false;
}

static void read_claims(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
			struct conf *c)
{
	struct conf_jwt *j = jwt_of(o, obj);
	struct conf_jwt_claims *l;
	unsigned i, n = cfg_size(sec, o->name);

	(void)c;
	if (n == 0)
		return;		/* none, or the site's */
	if ((l = ld_realloc(ld, NULL, 1, sizeof(*l))) == NULL)
		return;
	if ((l->h = ld_realloc(ld, NULL, n, sizeof(*l->h))) == NULL) {
		free(l);
		return;
	}
	l->n = 0;
	j->claim_headers = l;
	for (i = 0; i < n; i++) {
		const char *s = cfg_getnstr(sec, o->name, i);
		int line = ld_opt_line_n(ld, sec, o->name, i);

		if (!split_claim_header(ld, s, &l->h[l->n]))
			ld_error(ld, line, "auth_jwt_claim_headers: \"%s\" is not \"claim "
				 "Header-Name\" (a field name without '_', not one that frames "
				 "the request)", s);
		else if (header_taken(l, l->h[l->n].header))
			ld_error(ld, line, "auth_jwt_claim_headers: %s is named twice",
				 l->h[l->n].header);
		else
			l->n++;
	}
}

static void dump_claims(FILE *out, const struct conf_option *o, const void *obj,
			const char *indent)
{
	const struct conf_jwt_claims *l = cjwt_of(o, obj)->claim_headers;
	unsigned i;

	if (l == NULL)
		return;
	fprintf(out, "%s%s = {", indent, o->name);
	for (i = 0; i < l->n; i++) {
		size_t n = strlen(l->h[i].claim) + l->h[i].header_len + 2;
		char *entry = malloc(n);

		if (entry == NULL)
			break;
		snprintf(entry, n, "%s %s", l->h[i].claim, l->h[i].header);
		fputs(i ? ", " : "", out);
		conf_dump_str(out, entry);
		free(entry);
	}
	fputs("}\n", out);
}

/* ---- the tables ---- */

const struct conf_option conf_site_jwt_options[] = {
	{ "auth_jwt", CS_SITE, CT_CUSTOM, NULL, 0, 0, 0, read_realm, NULL, dump_realm,
	  "ask its routes' requests for a JWT bearer token, in this realm; \"off\": none "
	  "(default)", 0 },
	{ "auth_jwt_key_file", CS_SITE, CT_CUSTOM, NULL, 0, 0, 0, read_keys, NULL, dump_keys,
	  "files of the public keys tokens are signed with: PEM public keys or "
	  "certificates, JWK sets", CF_LIST },
	{ "auth_jwt_secret_file", CS_SITE, CT_CUSTOM, NULL, 0, 0, 0, read_keys, NULL, dump_keys,
	  "files of the secrets of HS256, HS384, HS512: the file's bytes, or a JWK set of "
	  "\"oct\" keys", CF_LIST },
	{ "auth_jwt_token", CS_SITE, CT_CUSTOM, NULL, 0, 0, 0, read_token, NULL, dump_token,
	  "where the token is (variables, e.g. \"$cookie_token\"); default: the "
	  "Authorization field's Bearer token", 0 },
	{ "auth_jwt_leeway", CS_SITE, CT_DURATION, "0", 0, 86400000, SITE(leeway), NULL, NULL,
	  NULL, "the clock skew allowed for exp and nbf", 0 },
	{ "auth_jwt_cache_time", CS_SITE, CT_DURATION, "60s", 0, 86400000, SITE(cache_time),
	  NULL, NULL, NULL, "how long a token's verified signature is remembered in the auth "
	  "cache; 0: every request verifies it", 0 },
	{ "auth_jwt_issuer", CS_SITE, CT_CUSTOM, NULL, 0, 0, 0, read_list, NULL, dump_list,
	  "the iss a token must have one of (default: any)", CF_LIST },
	{ "auth_jwt_audience", CS_SITE, CT_CUSTOM, NULL, 0, 0, 0, read_list, NULL, dump_list,
	  "the aud a token must name one of (default: any)", CF_LIST },
	{ "auth_jwt_claim_headers", CS_SITE, CT_CUSTOM, NULL, 0, 0, 0, read_claims, NULL,
	  dump_claims, "claims sent upstream as fields: {\"sub X-User\", ...}; the client's "
	  "fields of those names never pass", CF_LIST },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

const struct conf_option conf_route_jwt_options[] = {
	{ "auth_jwt", CS_ROUTE, CT_CUSTOM, NULL, 0, 0, 0, read_realm, NULL, dump_realm,
	  "ask for a JWT in this realm; \"off\": not here (default: the site's)", 0 },
	{ "auth_jwt_key_file", CS_ROUTE, CT_CUSTOM, NULL, 0, 0, 0, read_keys, NULL, dump_keys,
	  "files of the public keys (default: the site's)", CF_LIST },
	{ "auth_jwt_secret_file", CS_ROUTE, CT_CUSTOM, NULL, 0, 0, 0, read_keys, NULL,
	  dump_keys, "files of the HMAC secrets (default: the site's)", CF_LIST },
	{ "auth_jwt_token", CS_ROUTE, CT_CUSTOM, NULL, 0, 0, 0, read_token, NULL, dump_token,
	  "where the token is (default: the site's)", 0 },
	{ "auth_jwt_leeway", CS_ROUTE, CT_DURATION, NULL, 0, 86400000, ROUTE(leeway), NULL,
	  NULL, NULL, "the clock skew allowed for exp and nbf (default: the site's)", 0 },
	{ "auth_jwt_cache_time", CS_ROUTE, CT_DURATION, NULL, 0, 86400000, ROUTE(cache_time),
	  NULL, NULL, NULL, "how long a verified signature is remembered (default: the "
	  "site's)", 0 },
	{ "auth_jwt_issuer", CS_ROUTE, CT_CUSTOM, NULL, 0, 0, 0, read_list, NULL, dump_list,
	  "the iss a token must have one of (default: the site's)", CF_LIST },
	{ "auth_jwt_audience", CS_ROUTE, CT_CUSTOM, NULL, 0, 0, 0, read_list, NULL, dump_list,
	  "the aud a token must name one of (default: the site's)", CF_LIST },
	{ "auth_jwt_claim_headers", CS_ROUTE, CT_CUSTOM, NULL, 0, 0, 0, read_claims, NULL,
	  dump_claims, "claims sent upstream as fields (default: the site's)", CF_LIST },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

/* ---- reading, writing back, freeing ---- */

/* A realm needs keys; said where auth_jwt is written, once. Keys
 * written without a realm would ask nothing, which their writer cannot
 * mean. */
static void check_keys(struct loader *ld, cfg_t *sec, const struct conf_jwt *j)
{
	static const char *const files[] = { "auth_jwt_key_file", "auth_jwt_secret_file" };
	unsigned i;

	/* files that hold none were refused already */
	if (j->realm != NULL && j->public_keys == NULL && j->secrets == NULL &&
	    ld_opt_written(ld, sec, "auth_jwt"))
		ld_error(ld, ld_opt_line(ld, sec, "auth_jwt"), "auth_jwt \"%s\" has no key: write "
			 "auth_jwt_key_file or auth_jwt_secret_file", j->realm);
	for (i = 0; i < ARRAY_LEN(files); i++)
		if (j->realm == NULL && !ld_opt_written(ld, sec, "auth_jwt") &&
		    ld_opt_written(ld, sec, files[i]))
			ld_error(ld, ld_opt_line(ld, sec, files[i]), "%s without auth_jwt: write "
				 "the realm that asks for a token (or auth_jwt = \"off\" on a "
				 "route)", files[i]);
}

void conf_site_jwt_read(struct loader *ld, cfg_t *sec, struct conf *c, struct conf_site *site)
{
	conf_read(ld, sec, conf_site_jwt_options, site, c);
	check_keys(ld, sec, &site->jwt);
	conf_auth_cache_check(ld, sec, c, "auth_jwt_cache_time", site->jwt.cache_time);
}

void conf_route_jwt_read(struct loader *ld, cfg_t *sec, struct conf *c,
			 const struct conf_site *site, struct conf_route *r)
{
	const struct conf_option *o;

	r->jwt = site->jwt;
	conf_read(ld, sec, conf_route_jwt_options, r, c);
	conf_auth_cache_check(ld, sec, c, "auth_jwt_cache_time", r->jwt.cache_time);
	for (o = conf_route_jwt_options; o->name != NULL; o++)
		if (!r->auth && ld_opt_written(ld, sec, o->name))
			ld_error(ld, ld_opt_line(ld, sec, o->name), "route \"%s\": %s on a route "
				 "with auth = off, which asks for no authentication", r->pattern,
				 o->name);
	check_keys(ld, sec, &r->jwt);
}

void conf_route_jwt_dump(FILE *out, const struct conf_route *r, const char *indent)
{
	/* a route with auth = off must not have them */
	if (r->auth)
		conf_write(out, conf_route_jwt_options, r, indent);
}

static void list_free(struct conf_jwt_list *l)
{
	unsigned i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		free(l->s[i]);
	free(l->s);
	free(l);
}

static void claims_free(struct conf_jwt_claims *l)
{
	unsigned i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++) {
		free(l->h[i].claim);
		free(l->h[i].header);
	}
	free(l->h);
	free(l);
}

/* What j holds that base (its site's; NULL: none) does not share. */
static void jwt_free(struct conf_jwt *j, const struct conf_jwt *base)
{
#define OWN(f) (base == NULL || j->f != base->f)
	if (OWN(realm)) {
		free(j->realm);
		free(j->challenge);
		free(j->challenge_error);
	}
	if (OWN(public_keys))
		jwt_keys_free(j->public_keys);
	if (OWN(secrets))
		jwt_keys_free(j->secrets);
	if (OWN(token.text))
		conf_expr_free(&j->token);
	if (OWN(issuers))
		list_free(j->issuers);
	if (OWN(audiences))
		list_free(j->audiences);
	if (OWN(claim_headers))
		claims_free(j->claim_headers);
#undef OWN
}

void conf_route_jwt_free(const struct conf_site *site, struct conf_route *r)
{
	jwt_free(&r->jwt, &site->jwt);
}

void conf_site_jwt_free(struct conf_site *site)
{
	jwt_free(&site->jwt, NULL);
}
