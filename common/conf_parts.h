/*
 * conf_parts.h: the parts of the configuration, one section kind each:
 * their tables of options, how they are resolved into struct conf, and
 * how they are written back and freed. conf.c runs them in order.
 */
#ifndef PORTICO_CONF_PARTS_H
#define PORTICO_CONF_PARTS_H

#include <stdio.h>

#include <confuse.h>

#include "conf.h"
#include "conf_schema.h"

struct loader;

/* Resolving, in this order: globals and listeners, upstreams, sites. */
void conf_globals_resolve(struct loader *ld, cfg_t *cfg, struct conf *c);
void conf_upstreams_resolve(struct loader *ld, cfg_t *cfg, struct conf *c);
void conf_caches_resolve(struct loader *ld, cfg_t *cfg, struct conf *c);
void conf_filters_resolve(struct loader *ld, cfg_t *cfg, struct conf *c);
void conf_limits_resolve(struct loader *ld, cfg_t *cfg, struct conf *c);
void conf_geos_resolve(struct loader *ld, cfg_t *cfg, struct conf *c);
void conf_sites_resolve(struct loader *ld, cfg_t *cfg, struct conf *c);
/* log_format sections and the built-in formats, before the sites
 * (conf_log.c); a site's logs and request id options, read with its
 * others; its log sections written back; freed. */
void conf_log_formats_resolve(struct loader *ld, cfg_t *cfg, struct conf *c);
/* Why portico may not add the request field lower (lower-case) to what
 * it sends upstream (it frames the message, it is hop-by-hop, portico
 * writes it), or NULL (conf_rules.c). */
const char *conf_request_field_refused(const char *lower);
void conf_log_format_dump(const struct conf_log_format *f, FILE *out);
void conf_log_format_free(struct conf_log_format *f);
void conf_site_logs_read(struct loader *ld, cfg_t *sec, struct conf *c, struct conf_site *site);
void conf_site_logs_dump(const struct conf_site *s, FILE *out, const char *indent);
void conf_site_logs_free(struct conf_site *s);
/* After the sites: each listener's default site and the index of its
 * sites' host patterns (conf_hosts.c). */
void conf_hosts_resolve(struct loader *ld, cfg_t *cfg, struct conf *c);

/* A route's caching options, read with its others (conf_cache.c): check
 * that they hold together; free. */
void conf_route_cache_check(struct loader *ld, cfg_t *sec, const struct conf_route *r);
void conf_route_cache_free(struct conf_route *r);

/* A site's error pages (conf_error_page.c), read with its others. */
void conf_site_error_pages_free(struct conf_site *site);
/* A page file (an error page, a route's return_file) read whole into a
 * new *body of *len bytes, at most CONF_ERROR_PAGE_MAX; -1 with the
 * reason in err. Its Content-Type by its extension. */
int conf_page_read(const char *file, char **body, size_t *len, char *err, size_t errlen);
const char *conf_page_type(const char *file);
/* A site's and a route's actions and header edits (conf_rules.c), read
 * with their others: the route's after its upstream, as it inherits the
 * upstream's timeouts; whether the route answers by itself (return,
 * redirect); writing back the route's own; free. */
void conf_route_rules_read(struct loader *ld, cfg_t *sec, struct conf *c,
			   const struct conf_site *site, struct conf_route *r);
bool conf_route_answers(const struct conf_route *r);
void conf_route_rules_dump(FILE *out, const struct conf_site *s, const struct conf_route *r,
			   const char *indent);
void conf_route_rules_free(const struct conf_site *s, struct conf_route *r);
void conf_site_rules_free(struct conf_site *s);
/* HTTP Basic authentication (conf_auth_basic.c): a site's, read by
 * conf_site_auth_basic_options, checked; a route's, from its site's and
 * its own rows (after its auth); a route's written back; freed. */
void conf_site_auth_basic_check(struct loader *ld, cfg_t *sec, const struct conf *c,
				const struct conf_site *site);

/* A cache time written (option) while auth_cache_size is 0, which keeps
 * nothing: an error at its line (conf_globals.c). */
void conf_auth_cache_check(struct loader *ld, cfg_t *sec, const struct conf *c,
			   const char *option, unsigned cache_time);
void conf_route_auth_basic_read(struct loader *ld, cfg_t *sec, struct conf *c,
				const struct conf_site *site, struct conf_route *r);
void conf_route_auth_basic_dump(FILE *out, const struct conf_site *s, const struct conf_route *r,
				const char *indent);
void conf_route_auth_basic_free(const struct conf_site *s, struct conf_route *r);
void conf_site_auth_basic_free(struct conf_site *s);
/* Forward authentication (conf_auth_request.c): a site's default list
 * of fields once its options are read; a route's options, read from
 * its site's; writing back what the route has of its own; free. */
void conf_site_auth_request_finish(struct loader *ld, cfg_t *sec, const struct conf *c,
				   struct conf_site *site);
void conf_route_auth_request_read(struct loader *ld, cfg_t *sec, struct conf *c,
				  const struct conf_site *site, struct conf_route *r);
void conf_route_auth_request_dump(FILE *out, const struct conf_site *s, const struct conf_route *r,
				  const char *indent);
void conf_route_auth_request_free(const struct conf_site *s, struct conf_route *r);
void conf_site_auth_request_free(struct conf_site *s);
/* gzip_types (conf_gzip.c): free a list. */
void conf_gzip_types_free(struct conf_gzip_types *t);
/* auth_jwt and its options (conf_jwt.c): a site's and a route's read
 * with their others (the route's after auth), the route's written back
 * (none on a route with auth = off), freed. */
void conf_site_jwt_read(struct loader *ld, cfg_t *sec, struct conf *c, struct conf_site *site);
void conf_route_jwt_read(struct loader *ld, cfg_t *sec, struct conf *c,
			 const struct conf_site *site, struct conf_route *r);
void conf_route_jwt_dump(FILE *out, const struct conf_route *r, const char *indent);
void conf_route_jwt_free(const struct conf_site *site, struct conf_route *r);
void conf_site_jwt_free(struct conf_site *site);
/* methods = {...} on sites and routes (conf_methods.c): a row's reader
 * and writer for a struct conf_methods * field, and its free. */
void conf_methods_read(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
		       struct conf *c);
void conf_methods_dump(FILE *out, const struct conf_option *o, const void *obj,
		       const char *indent);
void conf_methods_free(struct conf_methods *m);
/* allow and deny (conf_access.c), read with a site's or a route's other
 * options: make them ready for lookups, and the route's in force (its
 * own, or its site's); free. */
void conf_acl_finish(struct loader *ld, struct conf_acl *a);
void conf_route_acl(struct conf_route *r, const struct conf_site *site);
void conf_acl_free(struct conf_acl *a);

/* A variable expression written as option what at line (conf_expr.c):
 * its parts into e, or errors. */
void conf_expr_parse(struct loader *ld, int line, const char *what, struct conf_expr *e,
		     const char *text);
void conf_expr_free(struct conf_expr *e);
/* The same for a log format, which may also name the variables only the
 * exchange's end has ($status, $request_time, ...). */
void conf_expr_parse_log(struct loader *ld, int line, const char *what, struct conf_expr *e,
			 const char *text);

/* Rows for portico behind other proxies (conf_proxy.c): a listener's
 * proxy_protocol_from, an upstream's send_proxy_protocol, a site's
 * real_ip_from and real_ip_header. */
void conf_read_proxy_protocol_from(struct loader *ld, cfg_t *sec, const struct conf_option *o,
				   void *obj, struct conf *c);
void conf_dump_proxy_protocol_from(FILE *out, const struct conf_option *o, const void *obj,
				   const char *indent);
void conf_read_send_proxy_protocol(struct loader *ld, cfg_t *sec, const struct conf_option *o,
				   void *obj, struct conf *c);
void conf_dump_send_proxy_protocol(FILE *out, const struct conf_option *o, const void *obj,
				   const char *indent);
void conf_read_real_ip_from(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			    void *obj, struct conf *c);
void conf_dump_real_ip_from(FILE *out, const struct conf_option *o, const void *obj,
			    const char *indent);
void conf_read_real_ip_header(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			      void *obj, struct conf *c);
void conf_dump_real_ip_header(FILE *out, const struct conf_option *o, const void *obj,
			      const char *indent);

/* Their tables of options, for the schema and for errors that teach. */
extern const struct conf_option conf_global_options[];
extern const struct conf_option conf_listen_options[];
extern const struct conf_option conf_upstream_options[];
extern const struct conf_option conf_server_options[];
extern const struct conf_option conf_health_check_options[];
extern const struct conf_option conf_site_options[];
extern const struct conf_option conf_log_format_options[];
extern const struct conf_option conf_site_log_options[];
extern const struct conf_option conf_log_options[];
extern const struct conf_option conf_route_options[];
extern const struct conf_option conf_route_cache_options[];
extern const struct conf_option conf_site_error_page_options[];
extern const struct conf_option conf_cache_options[];
extern const struct conf_option conf_site_acl_options[];
extern const struct conf_option conf_route_acl_options[];
extern const struct conf_option conf_filter_options[];
extern const struct conf_option conf_site_filter_options[];
extern const struct conf_option conf_route_filter_options[];
extern const struct conf_option conf_limit_req_options[];
extern const struct conf_option conf_limit_conn_options[];
extern const struct conf_option conf_site_limit_options[];
extern const struct conf_option conf_route_limit_options[];
extern const struct conf_option conf_route_cond_options[];
/* route_cond.c: the ids of the regions r's match_region names, which the geo files
 * or the servers must name; errors at the entries' lines, in section sec
 * of site. */
void route_conds_resolve_regions(struct loader *ld, cfg_t *sec, const struct conf *c,
				 const struct conf_site *site, struct conf_route *r);
extern const struct conf_option conf_site_rule_options[];
extern const struct conf_option conf_route_rule_options[];
extern const struct conf_option conf_route_upstream_options[];
extern const struct conf_option conf_geo_options[];
extern const struct conf_option conf_site_geo_options[];
extern const struct conf_option conf_upstream_geo_options[];
extern const struct conf_option conf_server_region_options[];
extern const struct conf_option conf_region_options[];
extern const struct conf_option conf_site_gzip_options[];
extern const struct conf_option conf_route_gzip_options[];
extern const struct conf_option conf_site_auth_basic_options[];
extern const struct conf_option conf_route_auth_basic_options[];
extern const struct conf_option conf_site_jwt_options[];
extern const struct conf_option conf_route_jwt_options[];
extern const struct conf_option conf_site_auth_request_options[];
extern const struct conf_option conf_route_auth_request_options[];
extern const struct conf_option conf_tls_global_options[];
extern const struct conf_option conf_tls_upstream_options[];
extern const struct conf_option conf_tls_options[];

/* Every table, NULL-terminated (conf.c). */
extern const struct conf_option *const conf_option_tables[];

/* Writing back (-T) and freeing. */
void conf_globals_dump(const struct conf *c, FILE *out);
void conf_upstream_dump(const struct conf_upstream *u, FILE *out);
void conf_site_dump(const struct conf_site *s, FILE *out);
void conf_cache_dump(const struct conf_cache *z, FILE *out);
void conf_limit_dump(const struct conf_limit *l, FILE *out);
void conf_route_limits_dump(FILE *out, const struct conf_site *s, const struct conf_route *r,
			    const char *indent);
void conf_globals_free(struct conf *c);
void conf_upstream_free(struct conf_upstream *u);
void conf_site_free(struct conf_site *s);
void conf_cache_free(struct conf_cache *z);
void conf_filter_dump(const struct conf_filter *f, FILE *out);
void conf_filter_free(struct conf_filter *f);

/* A route's filters, written back when they are its own; a site's or a
 * route's list freed (conf_filter.c). */
void conf_route_filters_dump(const struct conf_site *site, const struct conf_route *r,
			     FILE *out, const char *indent);
void conf_filter_list_free(struct conf_filter_list *l);
void conf_limit_free(struct conf_limit *l);

/* Geo and GSLB (conf_geo.c): an upstream's regions, read after its
 * servers (the rows of conf_upstream_geo_options and the region
 * sections), written back, freed; geo sections written back and freed;
 * the regions freed. */
void conf_upstream_gslb(struct loader *ld, cfg_t *sec, struct conf_upstream *u, struct conf *c);
void conf_upstream_gslb_dump(const struct conf_upstream *u, FILE *out);
void conf_gslb_free(struct conf_gslb *g);
void conf_geo_dump(const struct conf_geo *g, FILE *out);
void conf_geo_free(struct conf_geo *g);
void conf_regions_free(struct conf *c);
/* A region name written as option what at line (a server's region, a
 * route's condition): interned, or NULL after an error said why. */
const struct conf_region *conf_region_of(struct loader *ld, int line, const char *what,
					 struct conf *c, const char *name);


#endif
