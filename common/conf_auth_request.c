/*
 * conf_auth_request.c: forward authentication's options on sites and
 * routes: auth_request (the auth server's upstream), auth_request_uri,
 * auth_request_headers, auth_request_set, auth_request_user,
 * auth_request_cache_time and auth_request_cache_key. A route starts
 * from its site's values (conf_route_auth_request_read) and changes the
 * ones it writes; a route with auth = off may write none of them.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

#include "conf_loader.h"
#include "conf_parts.h"
#include "http_parse.h"

#define SITE(field) offsetof(struct conf_site, auth_request.field)
#define ROUTE(field) offsetof(struct conf_route, auth_request.field)

/* The client's fields the auth server gets when none are named. */
static const char *const default_headers[] = { "Authorization", "Cookie" };

/* Fields that frame or route the request: copying one from the auth
 * server's answer would change what the request is, not who sent it. */
static bool framing_field(const char *name)
{
	static const char *const names[] = {
		"host", "content-length", "transfer-encoding", "connection", "upgrade",
		"te", "trailer", "keep-alive", "expect",
	};
	unsigned i;

	for (i = 0; i < ARRAY_LEN(names); i++)
		if (strcasecmp(name, names[i]) == 0)
			return true;
	return false;
}

/* Fields that never go upstream from the request as it stands: the
 * forwarding ones portico writes itself, and names with '_' (which a
 * server may read as another name). A copy into one would never arrive. */
static bool never_passed(const char *name)
{
	static const char *const names[] = {
		"x-forwarded-for", "x-real-ip", "x-forwarded-proto", "forwarded",
	};
	unsigned i;

	for (i = 0; i < ARRAY_LEN(names); i++)
		if (strcasecmp(name, names[i]) == 0)
			return true;
	return strchr(name, '_') != NULL;
}

/* The settings whose upstream field is f. */
static struct conf_auth_request *request_of(const struct conf_upstream **f)
{
	return (struct conf_auth_request *)(void *)((char *)f -
						    offsetof(struct conf_auth_request, upstream));
}

static void read_upstream(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
			  struct conf *c)
{
	const struct conf_upstream **field = conf_field(o, obj);
	const char *name = cfg_getstr(sec, o->name);

	(void)c;
	if (name == NULL)
		return;		/* none, or the site's */
	*field = NULL;
	if (strcmp(name, "off") == 0)
		return;
	if ((*field = ld_named(ld, CS_UPSTREAM, name)) == NULL)
		ld_error(ld, ld_opt_line(ld, sec, o->name), "auth_request: unknown upstream \"%s\" "
			 "(an upstream \"%s\" { ... } section makes one)", name, name);
	else if (RAND_bytes(request_of(field)->tag, sizeof(request_of(field)->tag)) != 1)
		ld_error(ld, ld_opt_line(ld, sec, o->name), "auth_request: no random bytes");
}

static void dump_upstream(FILE *out, const struct conf_option *o, const void *obj,
			  const char *indent)
{
	const struct conf_upstream *u = *(const struct conf_upstream *const *)conf_cfield(o, obj);

	if (u != NULL)
		conf_dump_line(out, indent, o->name, u->name);
}

/* An expression row (auth_request_uri, auth_request_cache_key): a new
 * one when written, else the site's (or none). */
static struct conf_expr *read_expr(struct loader *ld, cfg_t *sec, const struct conf_option *o,
				   void *obj)
{
	struct conf_expr **field = conf_field(o, obj), *e;
	const char *text = cfg_getstr(sec, o->name);

	if (text == NULL)
		return NULL;
	if ((e = ld_realloc(ld, NULL, 1, sizeof(*e))) == NULL)
		return NULL;
	memset(e, 0, sizeof(*e));
	*field = e;
	conf_expr_parse(ld, ld_opt_line(ld, sec, o->name), o->name, e, text);
	return e;
}

static void read_uri(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
		     struct conf *c)
{
	struct conf_expr *e = read_expr(ld, sec, o, obj);

	(void)c;
	if (e != NULL && e->text != NULL && e->text[0] != '/')
		ld_error(ld, ld_opt_line(ld, sec, o->name), "auth_request_uri: \"%s\" must start "
			 "with \"/\" (a path on the auth server, variables after it)", e->text);
}

static void read_key(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
		     struct conf *c)
{
	(void)c;
	read_expr(ld, sec, o, obj);
}

static void dump_expr(FILE *out, const struct conf_option *o, const void *obj,
		      const char *indent)
{
	const struct conf_expr *e = *(struct conf_expr *const *)conf_cfield(o, obj);

	if (e != NULL)
		conf_dump_line(out, indent, o->name, e->text);
}

static struct conf_auth_names *names_new(struct loader *ld, unsigned n)
{
	struct conf_auth_names *l = ld_realloc(ld, NULL, 1, sizeof(*l));

	if (l == NULL)
		return NULL;
	if ((l->names = ld_realloc(ld, NULL, n ? n : 1, sizeof(*l->names))) == NULL) {
		free(l);
		return NULL;
	}
	l->n = 0;
	return l;
}

/* A list of field names (auth_request_headers, auth_request_set): a new
 * one when written, else the site's (or the default). */
static void read_names(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
		       struct conf *c)
{
	struct conf_auth_names **field = conf_field(o, obj), *l;
	bool set = strcmp(o->name, "auth_request_set") == 0;
	unsigned i, n = cfg_size(sec, o->name);

	(void)c;
	if (n == 0)
		return;
	if ((l = names_new(ld, n)) == NULL)
		return;
	*field = l;
	for (i = 0; i < n; i++) {
		const char *s = cfg_getnstr(sec, o->name, i);
		int line = ld_opt_line_n(ld, sec, o->name, i);

		if (!http_is_token(s)) {
			ld_error(ld, line, "%s: \"%s\" is not a field name (a token: letters, digits "
				 "and !#$%%&'*+-.^_`|~)", o->name, s);
			continue;
		}
		if (set && framing_field(s)) {
			ld_error(ld, line, "%s: \"%s\" frames the request and cannot be copied from "
				 "the auth server's answer", o->name, s);
			continue;
		}
		if (set && never_passed(s)) {
			ld_error(ld, line, "%s: \"%s\" never goes upstream from a request (portico "
				 "writes the forwarding fields itself, and drops names with '_')",
				 o->name, s);
			continue;
		}
		if ((l->names[l->n] = ld_strdup(ld, s)) == NULL)
			return;
		l->n++;
	}
}

/* Whether l is the list a site has when it names none. */
static bool default_list(const struct conf_auth_names *l)
{
	unsigned i;

	if (l->n != ARRAY_LEN(default_headers))
		return false;
	for (i = 0; i < l->n; i++)
		if (strcmp(l->names[i], default_headers[i]) != 0)
			return false;
	return true;
}

static void dump_names(FILE *out, const struct conf_option *o, const void *obj,
		       const char *indent)
{
	const struct conf_auth_names *l = *(struct conf_auth_names *const *)conf_cfield(o, obj);
	unsigned i;

	if (l == NULL || (o->scope == CS_SITE && o->offset == SITE(headers) && default_list(l)))
		return;
	fprintf(out, "%s%s = {", indent, o->name);
	for (i = 0; i < l->n; i++) {
		fputs(i ? ", " : "", out);
		conf_dump_str(out, l->names[i]);
	}
	fputs("}\n", out);
}

static void check_user(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj)
{
	const char *s = *(char **)conf_field(o, obj);

	if (s != NULL && !http_is_token(s))
		ld_error(ld, ld_opt_line(ld, sec, o->name), "auth_request_user: \"%s\" is not a "
			 "field name", s);
}

/* The route's own auth_request_user, when it writes one (the field
 * holds the site's until then). */
static void read_route_user(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			    void *obj, struct conf *c)
{
	char **field = conf_field(o, obj);
	const char *s = cfg_getstr(sec, o->name);

	(void)c;
	if (s == NULL)
		return;
	if ((*field = ld_strdup(ld, s)) != NULL && !http_is_token(s))
		ld_error(ld, ld_opt_line(ld, sec, o->name), "auth_request_user: \"%s\" is not a "
			 "field name", s);
}

const struct conf_option conf_site_auth_request_options[] = {
	{ "auth_request", CS_SITE, CT_CUSTOM, NULL, 0, 0, SITE(upstream), read_upstream, NULL,
	  dump_upstream, "the upstream of the auth server each request is first sent to "
	  "(forward authentication); \"off\" (default): none", 0 },
	{ "auth_request_uri", CS_SITE, CT_CUSTOM, NULL, 0, 0, SITE(uri), read_uri, NULL,
	  dump_expr, "the target asked of the auth server, with variables (default: \"/\")", 0 },
	{ "auth_request_headers", CS_SITE, CT_CUSTOM, NULL, 0, 0, SITE(headers), read_names,
	  NULL, dump_names, "the client's fields sent to the auth server (default: "
	  "{\"Authorization\", \"Cookie\"})", CF_LIST },
	{ "auth_request_set", CS_SITE, CT_CUSTOM, NULL, 0, 0, SITE(set), read_names, NULL,
	  dump_names, "fields copied from the auth server's 2xx answer into the request (the "
	  "client's own of those names are dropped); default: none", CF_LIST },
	{ "auth_request_user", CS_SITE, CT_STRING, NULL, 0, 0, SITE(user), NULL, check_user,
	  NULL, "the field of the auth server's 2xx answer that names the user ($remote_user)",
	  0 },
	{ "auth_request_cache_time", CS_SITE, CT_DURATION, "0", 0, CONF_MS_MAX,
	  SITE(cache_time), NULL, NULL, NULL,
	  "how long a decision of the auth server is kept in the auth cache; 0: not kept", 0 },
	{ "auth_request_cache_key", CS_SITE, CT_CUSTOM, NULL, 0, 0, SITE(cache_key), read_key,
	  NULL, dump_expr, "what names a kept decision, with variables (default: the values of "
	  "auth_request_headers)", 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

/* Written back by conf_route_auth_request_dump, which leaves out what
 * the route has from its site. */
const struct conf_option conf_route_auth_request_options[] = {
	{ "auth_request", CS_ROUTE, CT_CUSTOM, NULL, 0, 0, ROUTE(upstream), read_upstream, NULL,
	  dump_upstream, "the auth server's upstream (default: the site's); \"off\": none", 0 },
	{ "auth_request_uri", CS_ROUTE, CT_CUSTOM, NULL, 0, 0, ROUTE(uri), read_uri, NULL,
	  dump_expr, "the target asked of the auth server (default: the site's)", 0 },
	{ "auth_request_headers", CS_ROUTE, CT_CUSTOM, NULL, 0, 0, ROUTE(headers), read_names,
	  NULL, dump_names, "the client's fields sent to the auth server (default: the site's)",
	  CF_LIST },
	{ "auth_request_set", CS_ROUTE, CT_CUSTOM, NULL, 0, 0, ROUTE(set), read_names, NULL,
	  dump_names, "fields copied from a 2xx answer into the request (default: the site's)",
	  CF_LIST },
	{ "auth_request_user", CS_ROUTE, CT_CUSTOM, NULL, 0, 0, ROUTE(user), read_route_user,
	  NULL, NULL,
	  "the answer's field naming the user (default: the site's)", 0 },
	{ "auth_request_cache_time", CS_ROUTE, CT_DURATION, NULL, 0, CONF_MS_MAX,
	  ROUTE(cache_time), NULL, NULL, NULL,
	  "how long a decision is kept (default: the site's)", 0 },
	{ "auth_request_cache_key", CS_ROUTE, CT_CUSTOM, NULL, 0, 0, ROUTE(cache_key), read_key,
	  NULL, dump_expr, "what names a kept decision (default: the site's)", 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

/* Decisions are kept in the "auth" zone: without it, a cache time
 * would be a promise nothing keeps. */
void conf_site_auth_request_finish(struct loader *ld, cfg_t *sec, const struct conf *c,
				   struct conf_site *site)
{
	struct conf_auth_request *a = &site->auth_request;
	unsigned i;

	conf_auth_cache_check(ld, sec, c, "auth_request_cache_time", a->cache_time);
	if (a->headers != NULL || (a->headers = names_new(ld, ARRAY_LEN(default_headers))) == NULL)
		return;
	for (i = 0; i < ARRAY_LEN(default_headers); i++)
		if ((a->headers->names[a->headers->n] = ld_strdup(ld, default_headers[i])) != NULL)
			a->headers->n++;
}

void conf_route_auth_request_read(struct loader *ld, cfg_t *sec, struct conf *c,
				  const struct conf_site *site, struct conf_route *r)
{
	const struct conf_option *o;

	r->auth_request = site->auth_request;
	conf_read(ld, sec, conf_route_auth_request_options, r, c);
	conf_auth_cache_check(ld, sec, c, "auth_request_cache_time",
			      r->auth_request.cache_time);
	if (r->auth)
		return;
	for (o = conf_route_auth_request_options; o->name != NULL; o++)
		if (ld_opt_written(ld, sec, o->name))
			ld_error(ld, ld_opt_line(ld, sec, o->name), "route \"%s\": %s has no effect "
				 "with auth = off", r->pattern, o->name);
}

void conf_route_auth_request_dump(FILE *out, const struct conf_site *s, const struct conf_route *r,
				  const char *indent)
{
	const struct conf_auth_request *a = &r->auth_request, *sa = &s->auth_request;

	if (!r->auth)
		return;
	if (a->upstream != sa->upstream)
		conf_dump_line(out, indent, "auth_request", a->upstream ? a->upstream->name : "off");
	if (a->uri != sa->uri)
		dump_expr(out, &conf_route_auth_request_options[1], r, indent);
	if (a->headers != sa->headers)
		dump_names(out, &conf_route_auth_request_options[2], r, indent);
	if (a->set != sa->set)
		dump_names(out, &conf_route_auth_request_options[3], r, indent);
	if (a->user != sa->user)
		conf_dump_line(out, indent, "auth_request_user", a->user);
	if (a->cache_time != sa->cache_time)
		conf_dump_duration(out, "auth_request_cache_time", a->cache_time, indent);
	if (a->cache_key != sa->cache_key)
		dump_expr(out, &conf_route_auth_request_options[6], r, indent);
}

static void names_free(struct conf_auth_names *l)
{
	unsigned i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
	free(l);
}

static void expr_free(struct conf_expr *e)
{
	if (e == NULL)
		return;
	conf_expr_free(e);
	free(e);
}

void conf_route_auth_request_free(const struct conf_site *s, struct conf_route *r)
{
	struct conf_auth_request *a = &r->auth_request;
	const struct conf_auth_request *sa = &s->auth_request;

	if (a->uri != sa->uri)
		expr_free(a->uri);
	if (a->headers != sa->headers)
		names_free(a->headers);
	if (a->set != sa->set)
		names_free(a->set);
	if (a->user != sa->user)
		free(a->user);
	if (a->cache_key != sa->cache_key)
		expr_free(a->cache_key);
}

void conf_site_auth_request_free(struct conf_site *s)
{
	struct conf_auth_request *a = &s->auth_request;

	expr_free(a->uri);
	names_free(a->headers);
	names_free(a->set);
	expr_free(a->cache_key);
	conf_release(conf_site_auth_request_options, s);
	a->uri = a->cache_key = NULL;
	a->headers = a->set = NULL;
}
