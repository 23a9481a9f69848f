/*
 * conf_site.c: site sections and their routes: the listeners and host
 * names a site answers, its access log and forwarding fields, and each
 * route's path and what answers it.
 */
#include "config.h"

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf_loader.h"
#include "conf_parts.h"
#include "conf_tls.h"
#include "host_index.h"
#include "route_cond.h"
#include "route_trie.h"

#define SITE(field) offsetof(struct conf_site, field)
#define BODY_SIZE_MAX (1LL << 40)
#define ROUTE(field) offsetof(struct conf_route, field)

static struct conf_listen *find_listen(struct conf *c, const char *name)
{
	unsigned i;

	for (i = 0; i < c->nlistens; i++)
		if (c->listens[i].name && strcmp(c->listens[i].name, name) == 0)
			return &c->listens[i];
	return NULL;
}

/* ---- site options ---- */

static void read_listen(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
			struct conf *c)
{
	struct conf_site *site = obj;
	unsigned i, j, n = cfg_size(sec, o->name);

	if (n == 0)
		n = c->nlistens;	/* default: every listener */
	site->listens = ld_realloc(ld, NULL, n, sizeof(*site->listens));
	if (site->listens == NULL)
		return;
	if (cfg_size(sec, o->name) == 0) {
		for (i = 0; i < n; i++)
			site->listens[i] = &c->listens[i];
		site->nlistens = n;
		return;
	}
	for (i = 0; i < n; i++) {
		const char *name = cfg_getnstr(sec, o->name, i);
		struct conf_listen *l = find_listen(c, name);

		if (l == NULL) {
			ld_error(ld, ld_opt_line_n(ld, sec, o->name, i), "site \"%s\": unknown "
				 "listen \"%s\"", site->name, name);
			continue;
		}
		for (j = 0; j < site->nlistens && site->listens[j] != l; j++)
			;
		if (j == site->nlistens)
			site->listens[site->nlistens++] = l;
	}
}

static void dump_listen(FILE *out, const struct conf_option *o, const void *obj,
			const char *indent)
{
	const struct conf_site *s = obj;
	unsigned i;

	fprintf(out, "%s%s = {", indent, o->name);
	for (i = 0; i < s->nlistens; i++) {
		fputs(i ? ", " : "", out);
		conf_dump_str(out, s->listens[i]->name);
	}
	fputs("}\n", out);
}

static void read_hosts(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
		       struct conf *c)
{
	struct conf_site *site = obj;
	unsigned i, n = cfg_size(sec, o->name);
	char err[320];

	(void)c;
	if (n == 0) {
		ld_error(ld, ld_opt_line(ld, sec, o->name), "site \"%s\": hosts must not be empty "
			 "(use \"*\" for any host)", site->name);
		return;
	}
	site->hosts = ld_realloc(ld, NULL, n, sizeof(*site->hosts));
	if (site->hosts == NULL)
		return;
	for (i = 0; i < n; i++) {
		const char *s = cfg_getnstr(sec, o->name, i);

		if (host_pattern_parse(s, &site->hosts[site->nhosts], err, sizeof(err)) == -1)
			ld_error(ld, ld_opt_line_n(ld, sec, o->name, i), "site \"%s\": bad host "
				 "\"%s\": %s", site->name, s, err);
		else
			site->nhosts++;
	}
}

static void dump_hosts(FILE *out, const struct conf_option *o, const void *obj,
		       const char *indent)
{
	const struct conf_site *s = obj;
	unsigned i;

	fprintf(out, "%s%s = {", indent, o->name);
	for (i = 0; i < s->nhosts; i++) {
		fputs(i ? ", " : "", out);
		conf_dump_str(out, s->hosts[i].pattern);
	}
	fputs("}\n", out);
}

static const struct {
	const char *name;
	unsigned bit;
} forwarded_fields[] = {
	{ "x-forwarded-for", CONF_FWD_FOR },
	{ "x-real-ip", CONF_FWD_REAL_IP },
	{ "x-forwarded-proto", CONF_FWD_PROTO },
	{ "forwarded", CONF_FWD_FORWARDED },
};

static void read_forwarded(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			   void *obj, struct conf *c)
{
	struct conf_site *site = obj;
	unsigned i, j, n = cfg_size(sec, o->name);

	(void)c;
	site->forwarded = 0;
	for (i = 0; i < n; i++) {
		const char *s = cfg_getnstr(sec, o->name, i);

		for (j = 0; j < ARRAY_LEN(forwarded_fields); j++)
			if (strcasecmp(s, forwarded_fields[j].name) == 0)
				break;
		if (j == ARRAY_LEN(forwarded_fields)) {
			ld_error(ld, ld_opt_line_n(ld, sec, o->name, i), "site \"%s\": unknown "
				 "forwarded header \"%s\" (use x-forwarded-for, x-real-ip, "
				 "x-forwarded-proto or forwarded)", site->name, s);
			continue;
		}
		site->forwarded |= forwarded_fields[j].bit;
	}
}

static void dump_forwarded(FILE *out, const struct conf_option *o, const void *obj,
			   const char *indent)
{
	const struct conf_site *s = obj;
	unsigned i, n;

	fprintf(out, "%s%s = {", indent, o->name);
	for (i = 0, n = 0; i < ARRAY_LEN(forwarded_fields); i++)
		if (s->forwarded & forwarded_fields[i].bit)
			fprintf(out, "%s\"%s\"", n++ ? ", " : "", forwarded_fields[i].name);
	fputs("}\n", out);
}

const struct conf_option conf_site_options[] = {
	{ "listen", CS_SITE, CT_CUSTOM, NULL, 0, 0, 0, read_listen, NULL, dump_listen,
	  "the listen sections it answers on (default: all of them)", CF_LIST },
	{ "hosts", CS_SITE, CT_CUSTOM, "{\"*\"}", 0, 0, 0, read_hosts, NULL, dump_hosts,
	  "the host names it answers: \"example.com\", \"*.example.com\", \"www.example.*\", "
	  "\"~ regex\", \"*\"", CF_LIST },
	{ "access_log", CS_SITE, CT_PATH, NULL, 0, 0, SITE(access_log), NULL, conf_check_log_dest,
	  NULL,
	  "the file its requests are logged to, or a syslog destination (syslog:server=...); "
	  "none without it", CF_LOG_DEST },
	{ "forwarded_headers", CS_SITE, CT_CUSTOM,
	  "{\"x-forwarded-for\", \"x-real-ip\", \"x-forwarded-proto\", \"forwarded\"}", 0, 0, 0,
	  read_forwarded, NULL, dump_forwarded,
	  "the forwarding fields set on requests to the upstream", CF_LIST },
	{ "via", CS_SITE, CT_BOOL, "false", 0, 0, SITE(via), NULL, NULL, NULL,
	  "add \"Via: 1.1 portico\" to requests and responses", 0 },
	{ "hide_server", CS_SITE, CT_BOOL, "true", 0, 0, SITE(hide_server), NULL, NULL, NULL,
	  "drop the server's Server field from its responses", 0 },
	{ "redirect_https", CS_SITE, CT_BOOL, "false", 0, 0, SITE(redirect_https), NULL, NULL,
	  NULL, "answer plain HTTP with 301 to the same URL over https", 0 },
	{ "hsts", CS_SITE, CT_STRING, NULL, 0, 0, SITE(hsts), NULL, conf_tls_check_hsts, NULL,
	  "the Strict-Transport-Security value sent over TLS", 0 },
	{ "client_max_body_size", CS_SITE, CT_SIZE, "0", 0, BODY_SIZE_MAX,
	  SITE(client_max_body_size), NULL, NULL, NULL,
	  "the largest request body its routes take (413 beyond it); 0: no limit", 0 },
	{ "methods", CS_SITE, CT_CUSTOM, NULL, 0, 0, SITE(methods), conf_methods_read, NULL,
	  conf_methods_dump, "the only methods its routes take (405 for others; GET brings "
	  "HEAD); default: any", CF_LIST },
	{ "client_body_min_rate", CS_SITE, CT_SIZE, "500", 0, CONF_SIZE_MAX,
	  SITE(client_body_min_rate), NULL, NULL, NULL,
	  "bytes per second a request body must average (408 under it); 0: any rate", 0 },
	{ "client_body_min_rate_after", CS_SITE, CT_DURATION, "20s", 0, CONF_MS_MAX,
	  SITE(client_body_min_rate_after), NULL, NULL, NULL,
	  "how long a request body is read before client_body_min_rate holds", 0 },
	{ "real_ip_from", CS_SITE, CT_CUSTOM, NULL, 0, 0, 0, conf_read_real_ip_from, NULL,
	  conf_dump_real_ip_from, "the peers (CIDR) believed about the client's address in "
	  "real_ip_header", CF_LIST },
	{ "real_ip_header", CS_SITE, CT_CUSTOM, "X-Forwarded-For", 0, 0, 0,
	  conf_read_real_ip_header, NULL, conf_dump_real_ip_header,
	  "the field read: X-Forwarded-For, X-Real-IP or Forwarded", 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

/* ---- routes ---- */

static void read_upstream(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
			  struct conf *c)
{
	struct conf_route *r = obj;
	const char *up = cfg_getstr(sec, o->name);

	(void)c;
	if (up != NULL && (r->upstream = ld_named(ld, CS_UPSTREAM, up)) == NULL)
		ld_error(ld, ld_opt_line(ld, sec, o->name), "route \"%s\": unknown upstream \"%s\"",
			 r->pattern, up);
}

static void dump_upstream(FILE *out, const struct conf_option *o, const void *obj,
			  const char *indent)
{
	const struct conf_route *r = obj;

	if (r->upstream != NULL)
		conf_dump_line(out, indent, o->name, r->upstream->name);
}

const struct conf_option conf_route_options[] = {
	{ "upstream", CS_ROUTE, CT_CUSTOM, NULL, 0, 0, 0, read_upstream, NULL, dump_upstream,
	  "the upstream its requests go to", 0 },
	{ "status", CS_ROUTE, CT_BOOL, "false", 0, 0, ROUTE(status), NULL, NULL, NULL,
	  "answer with portico's status page instead", 0 },
	{ "metrics", CS_ROUTE, CT_BOOL, "false", 0, 0, ROUTE(metrics), NULL, NULL, NULL,
	  "answer with the metrics in Prometheus text format instead", 0 },
	{ "auth", CS_ROUTE, CT_BOOL, "true", 0, 0, ROUTE(auth), NULL, NULL, NULL,
	  "false (or off): no authentication on this route, whatever its site asks", 0 },
	{ "client_max_body_size", CS_ROUTE, CT_SIZE, NULL, 0, BODY_SIZE_MAX,
	  ROUTE(client_max_body_size), NULL, NULL, NULL,
	  "the largest request body it takes (default: the site's); 0: no limit", 0 },
	{ "methods", CS_ROUTE, CT_CUSTOM, NULL, 0, 0, ROUTE(methods), conf_methods_read, NULL,
	  conf_methods_dump, "the only methods it takes (default: the site's)", CF_LIST },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

static void compile_regex(struct loader *ld, cfg_t *sec, struct conf_route *r, const char *re)
{
	uint32_t opts = r->kind == ROUTE_REGEX_CASELESS ? PCRE2_CASELESS : 0;
	char err[320];

	if (*re == '\0') {
		ld_error(ld, ld_sec_line(ld, sec), "route \"%s\": empty regex", r->pattern);
		return;
	}
	r->regex = conf_regex_compile_opts(re, opts, err, sizeof(err));
	if (r->regex == NULL) {
		ld_error(ld, ld_sec_line(ld, sec), "route \"%s\": bad regex: %s", r->pattern, err);
		return;
	}
	r->match = pcre2_match_data_create_from_pattern(r->regex, NULL);
	if (r->match == NULL)
		ld_out_of_memory(ld);
}

/* The modifiers a pattern may start with, as nginx's locations have
 * them; the longest first, so that "~*" is not read as "~". */
static const struct {
	const char *mod;
	enum conf_route_kind kind;
} route_mods[] = {
	{ "~*", ROUTE_REGEX_CASELESS },
	{ "^~", ROUTE_PREFIX_NO_REGEX },
	{ "~", ROUTE_REGEX },
	{ "=", ROUTE_EXACT },
};

/* "/prefix", "= /path", "^~ /prefix", "~ regex", "~* regex". */
static void resolve_pattern(struct loader *ld, cfg_t *sec, struct conf_route *r)
{
	const char *rest = r->pattern;
	unsigned i;

	r->kind = ROUTE_PREFIX;
	for (i = 0; i < ARRAY_LEN(route_mods); i++)
		if (strncmp(rest, route_mods[i].mod, strlen(route_mods[i].mod)) == 0) {
			r->kind = route_mods[i].kind;
			rest += strlen(route_mods[i].mod);
			rest += strspn(rest, " \t");
			break;
		}
	if (r->kind == ROUTE_REGEX || r->kind == ROUTE_REGEX_CASELESS) {
		compile_regex(ld, sec, r, rest);
	} else if (rest[0] != '/') {
		ld_error(ld, ld_sec_line(ld, sec), "route \"%s\": a path starts with \"/\" (after "
			 "\"=\" or \"^~\" when it has them; a regex starts with \"~ \" or \"~* \")",
			 r->pattern);
	} else {
		r->prefix = rest;
		r->prefix_len = strlen(rest);
	}
}

static void resolve_route(struct loader *ld, cfg_t *sec, struct conf *c,
			  const struct conf_site *site, struct conf_route *r)
{
	bool has_upstream = cfg_getstr(sec, "upstream") != NULL;

	if ((r->pattern = ld_strdup(ld, ld_title_of(ld, sec))) == NULL)
		return;
	resolve_pattern(ld, sec, r);
	r->client_max_body_size = site->client_max_body_size;
	r->methods = site->methods;
	r->filters = site->filters;
	r->limit_req = site->limit_req;
	r->limit_conn = site->limit_conn;
	r->gzip = site->gzip;
	conf_read(ld, sec, conf_route_options, r, c);
	conf_route_auth_basic_read(ld, sec, c, site, r);
	conf_read(ld, sec, conf_route_gzip_options, r, c);
	conf_route_jwt_read(ld, sec, c, site, r);
	conf_read(ld, sec, conf_route_filter_options, r, c);
	conf_read(ld, sec, conf_route_cache_options, r, c);
	conf_read(ld, sec, conf_route_acl_options, r, c);
	conf_acl_finish(ld, &r->own_acl);
	conf_route_acl(r, site);
	conf_read(ld, sec, conf_route_limit_options, r, c);
	conf_route_auth_request_read(ld, sec, c, site, r);
	conf_read(ld, sec, conf_route_cond_options, r, c);
	route_conds_resolve_regions(ld, sec, c, site, r);
	conf_route_rules_read(ld, sec, c, site, r);
	if (has_upstream && r->status)
		ld_error(ld, ld_opt_line(ld, sec, "status"), "route \"%s\": upstream and status = "
			 "true exclude each other", r->pattern);
	else if (r->metrics && (has_upstream || r->status))
		ld_error(ld, ld_opt_line(ld, sec, "metrics"), "route \"%s\": metrics = true and "
			 "%s exclude each other", r->pattern, has_upstream ? "upstream" :
			 "status = true");
	else if (!has_upstream && !r->status && !r->metrics && !conf_route_answers(r))
		ld_error(ld, ld_sec_line(ld, sec), "route \"%s\" has no upstream", r->pattern);
	conf_route_cache_check(ld, sec, r);
}

/* ---- sites ---- */

/* The site's path routes (all but regexes) in a trie, by path, and its
 * regex routes in a list of their own: a request tries them all, which
 * must not mean a walk over every path route too. */
static void index_routes(struct loader *ld, struct conf_site *site)
{
	struct route_trie_key *keys = ld_realloc(ld, NULL, site->nroutes, sizeof(*keys));
	unsigned i, n = 0;

	site->regex_routes = ld_realloc(ld, NULL, site->nroutes, sizeof(*site->regex_routes));
	if (keys == NULL || site->regex_routes == NULL) {
		free(keys);
		return;
	}
	for (i = 0; i < site->nroutes; i++) {
		const struct conf_route *r = &site->routes[i];

		if (r->regex != NULL)
			site->regex_routes[site->nregex_routes++] = i;
		if (r->prefix == NULL)
			continue;
		keys[n++] = (struct route_trie_key){ r->prefix, r->prefix_len, i,
						     r->kind == ROUTE_EXACT };
	}
	if ((site->route_trie = route_trie_build(keys, n)) == NULL)
		ld_out_of_memory(ld);
	free(keys);
}

/* Routes in the order of their kind and pattern, then of the file. */
static const struct conf_route *sort_routes_base;

/* What a route is found by: path routes by their path, exact apart
 * ("/a" and "^~ /a" are one trie node); regexes by their text, case
 * apart. -1 for a pattern in error. */
static int route_group(const struct conf_route *r)
{
	if (r->prefix != NULL)
		return r->kind == ROUTE_EXACT;
	if (r->regex != NULL)
		return 2 + (r->kind == ROUTE_REGEX_CASELESS);
	return -1;
}

static const char *route_text(const struct conf_route *r)
{
	const char *p = r->pattern + 1;		/* after "~" */

	if (r->prefix != NULL)
		return r->prefix;
	p += *p == '*';
	return p + strspn(p, " \t");
}

static int route_order(const void *a, const void *b)
{
	const struct conf_route *x = &sort_routes_base[*(const unsigned *)a];
	const struct conf_route *y = &sort_routes_base[*(const unsigned *)b];
	int gx = route_group(x), gy = route_group(y);
	int r = gx != gy ? (gx < gy ? -1 : 1) : gx < 0 ? 0 : strcmp(route_text(x), route_text(y));

	return r ? r : (*(const unsigned *)a < *(const unsigned *)b ? -1 : 1);
}

/* Several routes may share a pattern when conditions tell them apart;
 * one written after a twin without conditions could never be chosen. */
static void check_shadowed_routes(struct loader *ld, cfg_t *sec, const struct conf_site *site)
{
	unsigned *v = ld_realloc(ld, NULL, site->nroutes, sizeof(*v)), i, first = 0;
	char where[PATH_MAX + 16];

	if (v == NULL)
		return;
	for (i = 0; i < site->nroutes; i++)
		v[i] = i;
	sort_routes_base = site->routes;
	qsort(v, site->nroutes, sizeof(*v), route_order);
	for (i = 1; i < site->nroutes; i++) {
		const struct conf_route *a = &site->routes[v[first]], *b = &site->routes[v[i]];

		if (route_group(a) < 0 || route_group(a) != route_group(b) ||
		    strcmp(route_text(a), route_text(b)) != 0) {
			first = i;
			continue;
		}
		if (a->nconds > 0) {
			first = i;	/* b may still be a twin's shadow */
			continue;
		}
		ld_where(ld, ld_sec_line(ld, cfg_getnsec(sec, "route", v[first])), where,
			 sizeof(where));
		ld_error(ld, ld_sec_line(ld, cfg_getnsec(sec, "route", v[i])), "route \"%s\" "
			 "would never be chosen: the route at %s matches the same paths and has "
			 "no condition", b->pattern, where);
	}
	free(v);
}

static void resolve_site(struct loader *ld, cfg_t *sec, struct conf *c, struct conf_site *site)
{
	unsigned i, n = cfg_size(sec, "route");

	if ((site->name = ld_strdup(ld, ld_title_of(ld, sec))) == NULL)
		return;
	conf_read(ld, sec, conf_site_options, site, c);
	conf_read(ld, sec, conf_site_error_page_options, site, c);
	conf_read(ld, sec, conf_site_acl_options, site, c);
	conf_acl_finish(ld, &site->acl);
	conf_read(ld, sec, conf_site_filter_options, site, c);
	conf_read(ld, sec, conf_site_limit_options, site, c);
	conf_read(ld, sec, conf_site_rule_options, site, c);
	conf_read(ld, sec, conf_site_geo_options, site, c);
	conf_read(ld, sec, conf_site_gzip_options, site, c);
	conf_read(ld, sec, conf_site_auth_basic_options, site, c);
	conf_site_auth_basic_check(ld, sec, c, site);
	conf_site_jwt_read(ld, sec, c, site);
	conf_read(ld, sec, conf_site_auth_request_options, site, c);
	conf_site_auth_request_finish(ld, sec, c, site);
	conf_tls_site(ld, sec, c, site);
	conf_site_logs_read(ld, sec, c, site);
	if (n == 0) {
		ld_error(ld, ld_sec_line(ld, sec), "site \"%s\" has no route", site->name);
		return;
	}
	site->routes = ld_realloc(ld, NULL, n, sizeof(*site->routes));
	if (site->routes == NULL)
		return;
	memset(site->routes, 0, n * sizeof(*site->routes));
	site->nroutes = n;
	for (i = 0; i < n; i++)
		resolve_route(ld, cfg_getnsec(sec, "route", i), c, site, &site->routes[i]);
	index_routes(ld, site);
	check_shadowed_routes(ld, sec, site);
}

void conf_sites_resolve(struct loader *ld, cfg_t *cfg, struct conf *c)
{
	unsigned i, n = cfg_size(cfg, "site");

	if (n == 0) {
		ld_error_global(ld, "no site defined: portico needs at least one");
		return;
	}
	c->sites = ld_realloc(ld, NULL, n, sizeof(*c->sites));
	if (c->sites == NULL)
		return;
	memset(c->sites, 0, n * sizeof(*c->sites));
	c->nsites = n;
	for (i = 0; i < n; i++)
		resolve_site(ld, cfg_getnsec(cfg, "site", i), c, &c->sites[i]);
	conf_hosts_resolve(ld, cfg, c);
	conf_tls_check(ld, cfg, c);
}

void conf_site_dump(const struct conf_site *s, FILE *out)
{
	unsigned i;

	fputs("\nsite ", out);
	conf_dump_str(out, s->name);
	fputs(" {\n", out);
	conf_write(out, conf_site_options, s, "\t");
	conf_write(out, conf_site_error_page_options, s, "\t");
	conf_write(out, conf_site_acl_options, s, "\t");
	conf_write(out, conf_site_filter_options, s, "\t");
	conf_write(out, conf_site_limit_options, s, "\t");
	conf_write(out, conf_site_rule_options, s, "\t");
	conf_write(out, conf_site_geo_options, s, "\t");
	conf_write(out, conf_site_gzip_options, s, "\t");
	conf_write(out, conf_site_auth_basic_options, s, "\t");
	conf_write(out, conf_site_jwt_options, s, "\t");
	conf_write(out, conf_site_auth_request_options, s, "\t");
	conf_write(out, conf_site_log_options, s, "\t");
	conf_site_logs_dump(s, out, "\t");
	if (s->tls != NULL) {
		fputs("\ttls {\n", out);
		conf_write(out, conf_tls_options, s->tls, "\t\t");
		fputs("\t}\n", out);
	}
	for (i = 0; i < s->nroutes; i++) {
		fputs("\troute ", out);
		conf_dump_str(out, s->routes[i].pattern);
		fputs(" {\n", out);
		conf_write(out, conf_route_options, &s->routes[i], "\t\t");
		conf_write(out, conf_route_acl_options, &s->routes[i], "\t\t");
		conf_route_filters_dump(s, &s->routes[i], out, "\t\t");
		if (s->routes[i].cache != NULL)
			conf_write(out, conf_route_cache_options, &s->routes[i], "\t\t");
		conf_route_limits_dump(out, s, &s->routes[i], "\t\t");
		conf_write(out, conf_route_cond_options, &s->routes[i], "\t\t");
		conf_write(out, conf_route_gzip_options, &s->routes[i], "\t\t");
		conf_route_auth_basic_dump(out, s, &s->routes[i], "\t\t");
		conf_route_jwt_dump(out, &s->routes[i], "\t\t");
		conf_route_rules_dump(out, s, &s->routes[i], "\t\t");
		conf_route_auth_request_dump(out, s, &s->routes[i], "\t\t");
		fputs("\t}\n", out);
	}
	fputs("}\n", out);
}

void conf_site_free(struct conf_site *s)
{
	unsigned j;

	for (j = 0; j < s->nroutes; j++) {
		free(s->routes[j].pattern);
		conf_route_cache_free(&s->routes[j]);
		conf_route_rules_free(s, &s->routes[j]);
		conf_route_auth_basic_free(s, &s->routes[j]);
		conf_route_auth_request_free(s, &s->routes[j]);
		if (s->routes[j].gzip.types != s->gzip.types)
			conf_gzip_types_free(s->routes[j].gzip.types);
		conf_route_jwt_free(s, &s->routes[j]);
		if (s->routes[j].methods != s->methods)
			conf_methods_free(s->routes[j].methods);
		conf_acl_free(&s->routes[j].own_acl);
		if (s->routes[j].filters != s->filters)
			conf_filter_list_free(s->routes[j].filters);
		if (s->routes[j].match)
			pcre2_match_data_free(s->routes[j].match);
		if (s->routes[j].regex)
			pcre2_code_free(s->routes[j].regex);
		route_conds_free(&s->routes[j]);
	}
	free(s->routes);
	route_trie_free(s->route_trie);
	free(s->regex_routes);
	free(s->real_ip_from);
	for (j = 0; j < s->nhosts; j++)
		host_pattern_free(&s->hosts[j]);
	free(s->hosts);
	free(s->listens);
	conf_filter_list_free(s->filters);
	conf_tls_free_site(s->tls);
	conf_site_error_pages_free(s);
	conf_methods_free(s->methods);
	conf_gzip_types_free(s->gzip.types);
	conf_site_auth_basic_free(s);
	conf_site_jwt_free(s);
	conf_site_auth_request_free(s);
	conf_acl_free(&s->acl);
	conf_site_rules_free(s);
	conf_site_logs_free(s);
	conf_release(conf_site_options, s);
	free(s->name);
}
