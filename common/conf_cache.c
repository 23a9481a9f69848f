/*
 * conf_cache.c: cache zones (cache "NAME" { } at the top level) and what
 * a route says about caching through one.
 */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf_loader.h"
#include "conf_parts.h"

#define CACHE(field) offsetof(struct conf_cache, field)
#define ROUTE(field) offsetof(struct conf_route, field)
#define CACHE_SIZE_MAX (1LL << 40)

/* ---- zones ---- */

const struct conf_option conf_cache_options[] = {
	{ "size", CS_CACHE, CT_SIZE, "256m", 64 * 1024, CACHE_SIZE_MAX, CACHE(size), NULL, NULL,
	  NULL, "the zone's shared memory: index and stored answers", 0 },
	{ "max_object", CS_CACHE, CT_SIZE, "1m", 1, CACHE_SIZE_MAX, CACHE(max_object), NULL,
	  NULL, NULL, "answers larger than this pass through uncached", 0 },
	{ "inactive", CS_CACHE, CT_DURATION, "10m", 0, CONF_MS_MAX, CACHE(inactive), NULL, NULL,
	  NULL, "answers nobody asks for this long are dropped, fresh or not; 0: never", 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

void conf_caches_resolve(struct loader *ld, cfg_t *cfg, struct conf *c)
{
	unsigned i, n = cfg_size(cfg, "cache");

	if (n == 0)
		return;
	c->caches = ld_realloc(ld, NULL, n, sizeof(*c->caches));
	if (c->caches == NULL)
		return;
	memset(c->caches, 0, n * sizeof(*c->caches));
	c->ncaches = n;
	for (i = 0; i < n; i++) {
		cfg_t *sec = cfg_getnsec(cfg, "cache", i);
		struct conf_cache *z = &c->caches[i];

		z->index = (int)i;
		z->name = ld_strdup(ld, ld_title_of(ld, sec));
		conf_read(ld, sec, conf_cache_options, z, c);
		if (!ld_opt_written(ld, sec, "max_object"))
			z->max_object = MIN(z->max_object, z->size / 2);
		if (z->max_object > z->size / 2)
			ld_error(ld, ld_opt_line(ld, sec, cfg_getstr(sec, "max_object") ?
						 "max_object" : "size"),
				 "cache \"%s\": max_object must be at most half of size", z->name);
	}
}

void conf_cache_dump(const struct conf_cache *z, FILE *out)
{
	fputs("\ncache ", out);
	conf_dump_str(out, z->name);
	fputs(" {\n", out);
	conf_write(out, conf_cache_options, z, "\t");
	fputs("}\n", out);
}

void conf_cache_free(struct conf_cache *z)
{
	free(z->name);
}

/* ---- routes ---- */

static void read_cache(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
		       struct conf *c)
{
	struct conf_route *r = obj;
	const char *name = cfg_getstr(sec, o->name);
	unsigned i;

	if (name == NULL)
		return;
	for (i = 0; i < c->ncaches; i++)
		if (c->caches[i].name != NULL && strcmp(c->caches[i].name, name) == 0) {
			r->cache = &c->caches[i];
			return;
		}
	ld_error(ld, ld_opt_line(ld, sec, o->name), "route \"%s\": unknown cache \"%s\" (a "
		 "cache \"%s\" { size = \"256m\" } section at the top level makes one)",
		 r->pattern, name, name);
}

static void dump_cache(FILE *out, const struct conf_option *o, const void *obj,
		       const char *indent)
{
	const struct conf_route *r = obj;

	if (r->cache != NULL)
		conf_dump_line(out, indent, o->name, r->cache->name);
}

static void read_key(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
		     struct conf *c)
{
	const char *text = cfg_getstr(sec, o->name);

	(void)c;
	if (text == NULL && ((struct conf_route *)obj)->cache == NULL)
		return;
	conf_expr_parse(ld, text ? ld_opt_line(ld, sec, o->name) : ld_sec_line(ld, sec), o->name,
			&((struct conf_route *)obj)->cache_key, text ? text : o->def);
}

static void dump_key(FILE *out, const struct conf_option *o, const void *obj,
		     const char *indent)
{
	conf_dump_line(out, indent, o->name, ((const struct conf_route *)obj)->cache_key.text);
}

/* A list of names, each one bit: cache_methods, cache_ignore_headers. */
struct name_bit {
	const char *name;
	unsigned bit;
};

static const struct name_bit methods[] = {
	{ "GET", CONF_CACHE_GET },
	{ "HEAD", CONF_CACHE_HEAD },
	{ NULL, 0 }
};

static const struct name_bit ignorable[] = {
	{ "Cache-Control", CONF_IGNORE_CACHE_CONTROL },
	{ "Expires", CONF_IGNORE_EXPIRES },
	{ "Set-Cookie", CONF_IGNORE_SET_COOKIE },
	{ "Vary", CONF_IGNORE_VARY },
	{ NULL, 0 }
};

static unsigned read_bits(struct loader *ld, cfg_t *sec, const char *name,
			  const struct name_bit *table, const char *choices)
{
	unsigned i, n = cfg_size(sec, name), bits = 0;
	const struct name_bit *t;

	for (i = 0; i < n; i++) {
		const char *s = cfg_getnstr(sec, name, i);

		for (t = table; t->name != NULL && strcasecmp(s, t->name) != 0; t++)
			;
		if (t->name == NULL)
			ld_error(ld, ld_opt_line_n(ld, sec, name, i), "%s: \"%s\" is not one of %s",
				 name, s, choices);
		bits |= t->bit;
	}
	return bits;
}

static void dump_bits(FILE *out, const char *indent, const char *name, unsigned bits,
		      const struct name_bit *table)
{
	unsigned n = 0;

	fprintf(out, "%s%s = {", indent, name);
	for (; table->name != NULL; table++)
		if (bits & table->bit)
			fprintf(out, "%s\"%s\"", n++ ? ", " : "", table->name);
	fputs("}\n", out);
}

static void read_methods(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
			 struct conf *c)
{
	struct conf_route *r = obj;

	(void)c;
	r->cache_methods = CONF_CACHE_GET | CONF_CACHE_HEAD;
	if (cfg_size(sec, o->name) > 0)
		r->cache_methods = read_bits(ld, sec, o->name, methods, "GET or HEAD (answers to "
					     "other methods are never stored)");
}

static void dump_methods(FILE *out, const struct conf_option *o, const void *obj,
			 const char *indent)
{
	dump_bits(out, indent, o->name, ((const struct conf_route *)obj)->cache_methods, methods);
}

static void read_ignore(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
			struct conf *c)
{
	(void)c;
	((struct conf_route *)obj)->cache_ignore =
		read_bits(ld, sec, o->name, ignorable, "Cache-Control, Expires, Set-Cookie or Vary");
}

static void dump_ignore(FILE *out, const struct conf_option *o, const void *obj,
			const char *indent)
{
	const struct conf_route *r = obj;

	if (r->cache_ignore != 0)
		dump_bits(out, indent, o->name, r->cache_ignore, ignorable);
}

static void read_statuses(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
			  struct conf *c)
{
	struct conf_route *r = obj;
	unsigned i, n = cfg_size(sec, o->name);

	(void)c;
	for (i = 0; i < n; i++) {
		const char *s = cfg_getnstr(sec, o->name, i);
		long v = conf_parse_number(s);

		if (v < 200 || v > 599) {
			ld_error(ld, ld_opt_line_n(ld, sec, o->name, i), "%s: \"%s\" is not a final "
				 "status (200 to 599)", o->name, s);
			continue;
		}
		r->cache_statuses[(v - 100) / 64] |= 1ULL << ((v - 100) % 64);
	}
}

static void dump_statuses(FILE *out, const struct conf_option *o, const void *obj,
			  const char *indent)
{
	const struct conf_route *r = obj;
	unsigned s, n = 0;

	if (!conf_route_statuses_listed(r))
		return;
	fprintf(out, "%s%s = {", indent, o->name);
	for (s = 200; s < 600; s++)
		if (r->cache_statuses[(s - 100) / 64] & (1ULL << ((s - 100) % 64)))
			fprintf(out, "%s\"%u\"", n++ ? ", " : "", s);
	fputs("}\n", out);
}

/* A list of expressions: cache_bypass, cache_no_store. */
static void read_exprs(struct loader *ld, cfg_t *sec, const char *name, struct conf_expr **out,
		       unsigned *nout)
{
	unsigned i, n = cfg_size(sec, name);

	if (n == 0 || (*out = ld_realloc(ld, NULL, n, sizeof(**out))) == NULL)
		return;
	memset(*out, 0, n * sizeof(**out));
	for (i = 0; i < n; i++)
		conf_expr_parse(ld, ld_opt_line_n(ld, sec, name, i), name, &(*out)[i],
				cfg_getnstr(sec, name, i));
	*nout = n;
}

static void dump_exprs(FILE *out, const char *indent, const char *name,
		       const struct conf_expr *e, unsigned n)
{
	unsigned i;

	if (n == 0)
		return;
	fprintf(out, "%s%s = {", indent, name);
	for (i = 0; i < n; i++) {
		fputs(i ? ", " : "", out);
		conf_dump_str(out, e[i].text);
	}
	fputs("}\n", out);
}

static void read_bypass(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
			struct conf *c)
{
	struct conf_route *r = obj;

	(void)c;
	read_exprs(ld, sec, o->name, &r->cache_bypass, &r->ncache_bypass);
}

static void dump_bypass(FILE *out, const struct conf_option *o, const void *obj,
			const char *indent)
{
	const struct conf_route *r = obj;

	dump_exprs(out, indent, o->name, r->cache_bypass, r->ncache_bypass);
}

static void read_no_store(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
			  struct conf *c)
{
	struct conf_route *r = obj;

	(void)c;
	read_exprs(ld, sec, o->name, &r->cache_no_store, &r->ncache_no_store);
}

static void dump_no_store(FILE *out, const struct conf_option *o, const void *obj,
			  const char *indent)
{
	const struct conf_route *r = obj;

	dump_exprs(out, indent, o->name, r->cache_no_store, r->ncache_no_store);
}

static void read_purge(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
		       struct conf *c)
{
	struct conf_route *r = obj;

	(void)c;
	ld_get_cidrs(ld, sec, o->name, NULL, &r->cache_purge, &r->ncache_purge);
}

static void dump_purge(FILE *out, const struct conf_option *o, const void *obj,
		       const char *indent)
{
	const struct conf_route *r = obj;

	conf_dump_cidrs(out, indent, o->name, r->cache_purge, r->ncache_purge);
}

const struct conf_option conf_route_cache_options[] = {
	{ "cache", CS_ROUTE, CT_CUSTOM, NULL, 0, 0, 0, read_cache, NULL, dump_cache,
	  "the cache zone its answers are stored in and served from", 0 },
	{ "cache_key", CS_ROUTE, CT_CUSTOM, "$scheme$host$request_uri", 0, 0, 0, read_key, NULL,
	  dump_key, "what names a stored answer: text and $variables", 0 },
	{ "cache_methods", CS_ROUTE, CT_CUSTOM, NULL, 0, 0, 0, read_methods, NULL, dump_methods,
	  "the methods answered from the cache: GET, HEAD (default: both)", CF_LIST },
	{ "cache_statuses", CS_ROUTE, CT_CUSTOM, NULL, 0, 0, 0, read_statuses, NULL,
	  dump_statuses, "the only statuses stored (default: any RFC 9111 allows)", CF_LIST },
	{ "cache_valid", CS_ROUTE, CT_DURATION, "0", 0, CONF_MS_MAX, ROUTE(cache_valid), NULL,
	  NULL, NULL, "how long an answer that says nothing of its freshness is fresh; 0: "
	  "RFC 9111's heuristic", 0 },
	{ "cache_ignore_headers", CS_ROUTE, CT_CUSTOM, NULL, 0, 0, 0, read_ignore, NULL,
	  dump_ignore, "fields of the server's answer not obeyed: Cache-Control, Expires, "
	  "Set-Cookie, Vary", CF_LIST },
	{ "cache_bypass", CS_ROUTE, CT_CUSTOM, NULL, 0, 0, 0, read_bypass, NULL, dump_bypass,
	  "expressions; when one is neither empty nor \"0\", the request skips the cache",
	  CF_LIST },
	{ "cache_no_store", CS_ROUTE, CT_CUSTOM, NULL, 0, 0, 0, read_no_store, NULL,
	  dump_no_store, "expressions; when one is neither empty nor \"0\", the answer is not "
	  "stored", CF_LIST },
	{ "cache_lock_timeout", CS_ROUTE, CT_DURATION, "5s", 0, CONF_MS_MAX,
	  ROUTE(cache_lock_timeout), NULL, NULL, NULL, "how long a miss waits for the same "
	  "answer being fetched by another request before it asks the server itself", 0 },
	{ "cache_min_uses", CS_ROUTE, CT_NUMBER, "1", 1, 1000000, ROUTE(cache_min_uses), NULL,
	  NULL, NULL, "how many requests of a URL it takes before its answer is stored", 0 },
	{ "cache_purge", CS_ROUTE, CT_CUSTOM, NULL, 0, 0, 0, read_purge, NULL, dump_purge,
	  "the client addresses (CIDR) allowed to send PURGE", CF_LIST },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

bool conf_route_statuses_listed(const struct conf_route *r)
{
	unsigned i;

	for (i = 0; i < ARRAY_LEN(r->cache_statuses); i++)
		if (r->cache_statuses[i] != 0)
			return true;
	return false;
}

/* The route's caching options hold together: each needs a cache, and a
 * cache needs an upstream to fill it from. */
void conf_route_cache_check(struct loader *ld, cfg_t *sec, const struct conf_route *r)
{
	const struct conf_option *o;

	if (r->cache != NULL) {
		if (r->upstream == NULL)
			ld_error(ld, ld_opt_line(ld, sec, "cache"), "route \"%s\": cache needs an "
				 "upstream to fill it", r->pattern);
		return;
	}
	for (o = conf_route_cache_options + 1; o->name != NULL; o++)
		if (ld_opt_written(ld, sec, o->name))
			ld_error(ld, ld_opt_line(ld, sec, o->name), "route \"%s\": %s needs cache "
				 "= \"NAME\" on the route", r->pattern, o->name);
}

void conf_route_cache_free(struct conf_route *r)
{
	unsigned i;

	conf_expr_free(&r->cache_key);
	for (i = 0; i < r->ncache_bypass; i++)
		conf_expr_free(&r->cache_bypass[i]);
	free(r->cache_bypass);
	for (i = 0; i < r->ncache_no_store; i++)
		conf_expr_free(&r->cache_no_store[i]);
	free(r->cache_no_store);
	free(r->cache_purge);
}
