/*
 * conf_limits.c: request-rate and connection limits (limit_req "NAME"
 * { } and limit_conn "NAME" { } at the top level) and the sites and
 * routes that name them.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_loader.h"
#include "conf_parts.h"

#define LIMIT(field) offsetof(struct conf_limit, field)
#define LIMIT_SIZE_MAX (1LL << 32)
#define LIMIT_MAX_CONNS ((1 << 24) - 1)
#define RATE_MAX 1000000L		/* r/s: one request a microsecond */

/* ---- the sections ---- */

/* "10r/s", "30r/m", "100r/h": the time between two requests at that
 * rate. */
static void read_rate(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
		      struct conf *c)
{
	struct conf_limit *l = obj;
	const char *text = cfg_getstr(sec, o->name);
	char *end;
	long n;

	(void)c;
	if (text == NULL) {
		ld_error(ld, ld_sec_line(ld, sec), "limit_req \"%s\" has no rate (rate = \"10r/s\")",
			 l->name);
		return;
	}
	n = strtol(text, &end, 10);
	if (end != text && n > 0 && n <= RATE_MAX && strcmp(end, "r/s") == 0)
		l->interval_us = 1000000 / (uint64_t)n;
	else if (end != text && n > 0 && n <= RATE_MAX && strcmp(end, "r/m") == 0)
		l->interval_us = 60000000 / (uint64_t)n;
	else if (end != text && n > 0 && n <= RATE_MAX && strcmp(end, "r/h") == 0)
		l->interval_us = 3600000000ULL / (uint64_t)n;
	else
		ld_error(ld, ld_opt_line(ld, sec, o->name), "limit_req \"%s\": rate \"%s\" is not "
			 "requests per second, minute or hour (\"10r/s\", \"30r/m\", \"100r/h\"; "
			 "1 to %ld)",
			 l->name, text, RATE_MAX);
	l->rate = ld_strdup(ld, text);
}

static void dump_rate(FILE *out, const struct conf_option *o, const void *obj,
		      const char *indent)
{
	conf_dump_line(out, indent, o->name, ((const struct conf_limit *)obj)->rate);
}

static void read_key(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
		     struct conf *c)
{
	const char *text = cfg_getstr(sec, o->name);

	(void)c;
	conf_expr_parse(ld, text ? ld_opt_line(ld, sec, o->name) : ld_sec_line(ld, sec), o->name,
			&((struct conf_limit *)obj)->key, text ? text : o->def);
}

static void dump_key(FILE *out, const struct conf_option *o, const void *obj,
		     const char *indent)
{
	conf_dump_line(out, indent, o->name, ((const struct conf_limit *)obj)->key.text);
}

const struct conf_option conf_limit_req_options[] = {
	{ "key", CS_LIMIT_REQ, CT_CUSTOM, "$remote_addr", 0, 0, 0, read_key, NULL, dump_key,
	  "what names a client's bucket (variables as in hash_key); empty: not counted", 0 },
	{ "rate", CS_LIMIT_REQ, CT_CUSTOM, NULL, 0, 0, 0, read_rate, NULL, dump_rate,
	  "requests per second, minute or hour a key may make: \"10r/s\", \"30r/m\", "
	  "\"100r/h\"", 0 },
	{ "burst", CS_LIMIT_REQ, CT_NUMBER, "0", 0, 1000000, LIMIT(burst), NULL, NULL, NULL,
	  "requests over the rate a key may have queued; more are refused", 0 },
	{ "delay", CS_LIMIT_REQ, CT_NUMBER, "0", 0, 1000000, LIMIT(delay), NULL, NULL, NULL,
	  "requests of the burst passed at once; the rest wait their turn", 0 },
	{ "nodelay", CS_LIMIT_REQ, CT_BOOL, "false", 0, 0, LIMIT(nodelay), NULL, NULL, NULL,
	  "pass the whole burst at once, delaying none", 0 },
	{ "status", CS_LIMIT_REQ, CT_NUMBER, "429", 400, 599, LIMIT(status), NULL, NULL, NULL,
	  "the answer to a refused request", 0 },
	{ "size", CS_LIMIT_REQ, CT_SIZE, "10m", 64 * 1024, LIMIT_SIZE_MAX, LIMIT(size), NULL, NULL,
	  NULL, "the zone's shared memory: 24 bytes a key", 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

const struct conf_option conf_limit_conn_options[] = {
	{ "key", CS_LIMIT_CONN, CT_CUSTOM, "$remote_addr", 0, 0, 0, read_key, NULL, dump_key,
	  "what names a client's count (variables as in hash_key); empty: not counted", 0 },
	{ "max", CS_LIMIT_CONN, CT_NUMBER, NULL, 1, LIMIT_MAX_CONNS, LIMIT(max), NULL, NULL, NULL,
	  "requests a key may have open at once, over all workers", 0 },
	{ "status", CS_LIMIT_CONN, CT_NUMBER, "429", 400, 599, LIMIT(status), NULL, NULL, NULL,
	  "the answer to a refused request", 0 },
	{ "size", CS_LIMIT_CONN, CT_SIZE, "10m", 64 * 1024, LIMIT_SIZE_MAX, LIMIT(size), NULL,
	  NULL, NULL, "the zone's shared memory: 24 bytes a key, a quarter for the workers' "
	  "journals", 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

/* The sections of one kind into c->limits from *at on. */
static void resolve_kind(struct loader *ld, cfg_t *cfg, struct conf *c, const char *kind,
			 unsigned *at)
{
	unsigned i, n = cfg_size(cfg, kind);
	char by[256];

	for (i = 0; i < n; i++) {
		cfg_t *sec = cfg_getnsec(cfg, kind, i);
		struct conf_limit *l = &c->limits[(*at)++];

		l->index = (int)(l - c->limits);
		l->name = ld_strdup(ld, ld_title_of(ld, sec));
		snprintf(by, sizeof(by), "%s=%s", kind, l->name ? l->name : "");
		l->refused_by = ld_strdup(ld, by);
		if (l->name != NULL && strcmp(l->name, "off") == 0)
			ld_error(ld, ld_sec_line(ld, sec), "%s \"off\": the name turns limits off on "
				 "sites and routes; call it something else", kind);
		if (strcmp(kind, "limit_req") == 0) {
			l->kind = CONF_LIMIT_REQ;
			conf_read(ld, sec, conf_limit_req_options, l, c);
			if (l->delay > l->burst && !l->nodelay)
				ld_error(ld, ld_opt_line(ld, sec, "delay"), "limit_req \"%s\": delay "
					 "(%u) is more than burst (%u)", l->name, l->delay, l->burst);
		} else {
			l->kind = CONF_LIMIT_CONN;
			conf_read(ld, sec, conf_limit_conn_options, l, c);
			if (!ld_opt_written(ld, sec, "max"))
				ld_error(ld, ld_sec_line(ld, sec), "limit_conn \"%s\" has no max (max = "
					 "10)", l->name);
		}
	}
}

void conf_limits_resolve(struct loader *ld, cfg_t *cfg, struct conf *c)
{
	unsigned n = cfg_size(cfg, "limit_req") + cfg_size(cfg, "limit_conn"), at = 0;

	if (n == 0 || (c->limits = ld_realloc(ld, NULL, n, sizeof(*c->limits))) == NULL)
		return;
	memset(c->limits, 0, n * sizeof(*c->limits));
	c->nlimits = n;
	resolve_kind(ld, cfg, c, "limit_req", &at);
	resolve_kind(ld, cfg, c, "limit_conn", &at);
}

void conf_limit_dump(const struct conf_limit *l, FILE *out)
{
	fputs(l->kind == CONF_LIMIT_REQ ? "\nlimit_req " : "\nlimit_conn ", out);
	conf_dump_str(out, l->name);
	fputs(" {\n", out);
	conf_write(out, l->kind == CONF_LIMIT_REQ ? conf_limit_req_options :
		   conf_limit_conn_options, l, "\t");
	fputs("}\n", out);
}

void conf_limit_free(struct conf_limit *l)
{
	conf_expr_free(&l->key);
	free(l->name);
	free(l->refused_by);
	free(l->rate);
}

/* ---- sites and routes ---- */

/* The limit of kind named by option o: NULL for "off"; left as it is
 * (the site's, on a route) when not written. */
static void read_use(struct loader *ld, cfg_t *sec, const struct conf_option *o,
		     const struct conf_limit **out, struct conf *c, enum conf_limit_kind kind)
{
	const char *name = cfg_getstr(sec, o->name);
	unsigned i;

	if (name == NULL)
		return;
	*out = NULL;
	if (strcmp(name, "off") == 0)
		return;
	for (i = 0; i < c->nlimits; i++)
		if (c->limits[i].kind == kind && c->limits[i].name != NULL &&
		    strcmp(c->limits[i].name, name) == 0) {
			*out = &c->limits[i];
			return;
		}
	ld_error(ld, ld_opt_line(ld, sec, o->name), "%s: unknown %s \"%s\" (a %s \"%s\" { ... } "
		 "section at the top level makes one)", o->name, o->name, name, o->name, name);
}

static void read_site_req(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			  void *obj, struct conf *c)
{
	read_use(ld, sec, o, &((struct conf_site *)obj)->limit_req, c, CONF_LIMIT_REQ);
}

static void read_site_conn(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			   void *obj, struct conf *c)
{
	read_use(ld, sec, o, &((struct conf_site *)obj)->limit_conn, c, CONF_LIMIT_CONN);
}

static void read_route_req(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			   void *obj, struct conf *c)
{
	read_use(ld, sec, o, &((struct conf_route *)obj)->limit_req, c, CONF_LIMIT_REQ);
}

static void read_route_conn(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			    void *obj, struct conf *c)
{
	read_use(ld, sec, o, &((struct conf_route *)obj)->limit_conn, c, CONF_LIMIT_CONN);
}

static void dump_use(FILE *out, const char *indent, const char *name,
		     const struct conf_limit *l)
{
	if (l != NULL)
		conf_dump_line(out, indent, name, l->name);
}

static void dump_site_req(FILE *out, const struct conf_option *o, const void *obj,
			  const char *indent)
{
	dump_use(out, indent, o->name, ((const struct conf_site *)obj)->limit_req);
}

static void dump_site_conn(FILE *out, const struct conf_option *o, const void *obj,
			   const char *indent)
{
	dump_use(out, indent, o->name, ((const struct conf_site *)obj)->limit_conn);
}

static void dump_route_req(FILE *out, const struct conf_option *o, const void *obj,
			   const char *indent)
{
	dump_use(out, indent, o->name, ((const struct conf_route *)obj)->limit_req);
}

static void dump_route_conn(FILE *out, const struct conf_option *o, const void *obj,
			    const char *indent)
{
	dump_use(out, indent, o->name, ((const struct conf_route *)obj)->limit_conn);
}

void conf_route_limits_dump(FILE *out, const struct conf_site *s, const struct conf_route *r,
			    const char *indent)
{
	conf_write(out, conf_route_limit_options, r, indent);
	/* what only the site's default would say otherwise */
	if (r->limit_req == NULL && s->limit_req != NULL)
		conf_dump_line(out, indent, "limit_req", "off");
	if (r->limit_conn == NULL && s->limit_conn != NULL)
		conf_dump_line(out, indent, "limit_conn", "off");
}

const struct conf_option conf_site_limit_options[] = {
	{ "limit_req", CS_SITE, CT_CUSTOM, NULL, 0, 0, 0, read_site_req, NULL, dump_site_req,
	  "the limit_req its routes' requests are counted by", 0 },
	{ "limit_conn", CS_SITE, CT_CUSTOM, NULL, 0, 0, 0, read_site_conn, NULL, dump_site_conn,
	  "the limit_conn its routes' requests are counted by", 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

const struct conf_option conf_route_limit_options[] = {
	{ "limit_req", CS_ROUTE, CT_CUSTOM, NULL, 0, 0, 0, read_route_req, NULL, dump_route_req,
	  "the limit_req its requests are counted by (default: the site's); \"off\": none", 0 },
	{ "limit_conn", CS_ROUTE, CT_CUSTOM, NULL, 0, 0, 0, read_route_conn, NULL,
	  dump_route_conn,
	  "the limit_conn its requests are counted by (default: the site's); \"off\": none", 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};
