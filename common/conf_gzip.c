/*
 * conf_gzip.c: gzip, gzip_types, gzip_min_length, gzip_level,
 * gzip_proxied and gunzip on sites and routes. A route starts from its site's
 * values (conf_route_gzip_inherit) and changes the ones it writes.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "conf_loader.h"
#include "conf_parts.h"

#define SITE(field) offsetof(struct conf_site, gzip.field)
#define ROUTE(field) offsetof(struct conf_route, gzip.field)

static const struct {
	const char *name;
	unsigned bit;
} proxied_names[] = {
	{ "expired", GZIP_PROXIED_EXPIRED }, { "no-cache", GZIP_PROXIED_NO_CACHE },
	{ "no-store", GZIP_PROXIED_NO_STORE }, { "private", GZIP_PROXIED_PRIVATE },
	{ "no_last_modified", GZIP_PROXIED_NO_LM }, { "no_etag", GZIP_PROXIED_NO_ETAG },
	{ "auth", GZIP_PROXIED_AUTH }, { "any", GZIP_PROXIED_ANY },
};

/* A media type as Content-Type names it: type "/" subtype, or "*". */
static bool is_media_type(const char *s)
{
	const char *slash = strchr(s, '/');

	if (strcmp(s, "*") == 0)
		return true;
	return slash != NULL && slash != s && slash[1] != '\0' && strchr(slash + 1, '/') == NULL &&
	       strpbrk(s, " \t;,\"") == NULL;
}

static void read_types(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
		       struct conf *c)
{
	struct conf_gzip_types **field = conf_field(o, obj), *t;
	unsigned i, k, n = cfg_size(sec, o->name);

	(void)c;
	if (n == 0)
		return;		/* text/html, or the site's */
	if ((t = ld_realloc(ld, NULL, 1, sizeof(*t))) == NULL)
		return;
	if ((t->types = ld_realloc(ld, NULL, n, sizeof(*t->types))) == NULL) {
		free(t);
		return;
	}
	t->n = 0;
	t->any = false;
	*field = t;
	for (i = 0; i < n; i++) {
		const char *s = cfg_getnstr(sec, o->name, i);
		char *copy;

		if (!is_media_type(s)) {
			ld_error(ld, ld_opt_line_n(ld, sec, o->name, i), "gzip_types: \"%s\" is not "
				 "a media type (\"text/html\", \"application/json\", or \"*\" for "
				 "any)", s);
			continue;
		}
		if ((copy = ld_strdup(ld, s)) == NULL)
			return;
		for (k = 0; copy[k] != '\0'; k++)
			if (copy[k] >= 'A' && copy[k] <= 'Z')
				copy[k] |= 0x20;
		t->any = t->any || strcmp(copy, "*") == 0;
		t->types[t->n++] = copy;
	}
}

static void dump_types(FILE *out, const struct conf_option *o, const void *obj,
		       const char *indent)
{
	const struct conf_gzip_types *t = *(struct conf_gzip_types *const *)conf_cfield(o, obj);
	unsigned i;

	if (t == NULL)
		return;
	fprintf(out, "%s%s = {", indent, o->name);
	for (i = 0; i < t->n; i++) {
		fputs(i ? ", " : "", out);
		conf_dump_str(out, t->types[i]);
	}
	fputs("}\n", out);
}

static void read_proxied(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
			 struct conf *c)
{
	unsigned *field = conf_field(o, obj), bits = 0, i, k, n = cfg_size(sec, o->name);

	(void)c;
	if (n == 0)
		return;		/* off, or the site's */
	for (i = 0; i < n; i++) {
		const char *s = cfg_getnstr(sec, o->name, i);

		if (strcmp(s, "off") == 0 && n == 1)
			break;
		for (k = 0; k < ARRAY_LEN(proxied_names); k++)
			if (strcmp(s, proxied_names[k].name) == 0)
				break;
		if (k == ARRAY_LEN(proxied_names))
			ld_error(ld, ld_opt_line_n(ld, sec, o->name, i), "gzip_proxied: \"%s\" is "
				 "none of off (alone), any, expired, no-cache, no-store, private, "
				 "no_last_modified, no_etag, auth", s);
		else
			bits |= proxied_names[k].bit;
	}
	*field = bits;
}

static void dump_proxied(FILE *out, const struct conf_option *o, const void *obj,
			 const char *indent)
{
	unsigned bits = *(const unsigned *)conf_cfield(o, obj), k;
	bool first = true;

	/* Written when off too: a route's off differs from its site's. */
	fprintf(out, "%s%s = {", indent, o->name);
	if (bits == 0)
		conf_dump_str(out, "off");
	for (k = 0; k < ARRAY_LEN(proxied_names); k++)
		if (bits & proxied_names[k].bit) {
			fputs(first ? "" : ", ", out);
			conf_dump_str(out, proxied_names[k].name);
			first = false;
		}
	fputs("}\n", out);
}

const struct conf_option conf_site_gzip_options[] = {
	{ "gzip", CS_SITE, CT_BOOL, "false", 0, 0, SITE(on), NULL, NULL, NULL,
	  "compress its routes' responses with gzip for clients that accept it", 0 },
	{ "gzip_types", CS_SITE, CT_CUSTOM, NULL, 0, 0, SITE(types), read_types, NULL,
	  dump_types, "the media types compressed (default: {\"text/html\"}); \"*\": any",
	  CF_LIST },
	{ "gzip_min_length", CS_SITE, CT_SIZE, "20", 0, CONF_SIZE_MAX, SITE(min_length), NULL,
	  NULL, NULL, "responses whose Content-Length is smaller go as they are", 0 },
	{ "gzip_level", CS_SITE, CT_NUMBER, "1", 1, 9, SITE(level), NULL, NULL, NULL,
	  "the compression level, 1 (fastest) to 9 (smallest)", 0 },
	{ "gzip_proxied", CS_SITE, CT_CUSTOM, NULL, 0, 0, SITE(proxied), read_proxied, NULL,
	  dump_proxied, "which responses to requests with Via are compressed: {\"off\"} "
	  "(default), {\"any\"}, or conditions as nginx's", CF_LIST },
	{ "gunzip", CS_SITE, CT_BOOL, "false", 0, 0, SITE(gunzip), NULL, NULL, NULL,
	  "inflate its routes' gzip-encoded responses for clients that do not accept gzip", 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

const struct conf_option conf_route_gzip_options[] = {
	{ "gzip", CS_ROUTE, CT_BOOL, NULL, 0, 0, ROUTE(on), NULL, NULL, NULL,
	  "compress its responses with gzip (default: the site's)", 0 },
	{ "gzip_types", CS_ROUTE, CT_CUSTOM, NULL, 0, 0, ROUTE(types), read_types, NULL,
	  dump_types, "the media types compressed (default: the site's)", CF_LIST },
	{ "gzip_min_length", CS_ROUTE, CT_SIZE, NULL, 0, CONF_SIZE_MAX, ROUTE(min_length), NULL,
	  NULL, NULL, "the smallest Content-Length compressed (default: the site's)", 0 },
	{ "gzip_level", CS_ROUTE, CT_NUMBER, NULL, 1, 9, ROUTE(level), NULL, NULL, NULL,
	  "the compression level (default: the site's)", 0 },
	{ "gzip_proxied", CS_ROUTE, CT_CUSTOM, NULL, 0, 0, ROUTE(proxied), read_proxied, NULL,
	  dump_proxied, "which responses to requests with Via are compressed (default: the "
	  "site's)", CF_LIST },
	{ "gunzip", CS_ROUTE, CT_BOOL, NULL, 0, 0, ROUTE(gunzip), NULL, NULL, NULL,
	  "inflate its gzip-encoded responses for clients without gzip (default: the "
	  "site's)", 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

void conf_gzip_types_free(struct conf_gzip_types *t)
{
	unsigned i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n; i++)
		free(t->types[i]);
	free(t->types);
	free(t);
}
