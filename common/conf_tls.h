/*
 * conf_tls.h: the TLS part of the configuration, resolved beside conf.c
 * (which owns the schema and calls these in order: globals, then each
 * upstream and site, then the checks over all of them).
 *
 * Owns: the tls_* globals, sites' "tls" sections with redirect_https and
 * hsts, upstreams' tls_* options, and their OpenSSL contexts.
 */
#ifndef PORTICO_CONF_TLS_H
#define PORTICO_CONF_TLS_H

#include "conf_loader.h"

void conf_tls_globals(struct loader *ld, cfg_t *cfg, struct conf *c);
/* After the site's listeners are resolved; builds its context. */
void conf_tls_site(struct loader *ld, cfg_t *sec, const struct conf *c,
		   struct conf_site *site);
void conf_tls_upstream(struct loader *ld, cfg_t *sec, struct conf_upstream *u);
/* Sites against listeners, once all are resolved; sets c->tls_used. */
void conf_tls_check(struct loader *ld, cfg_t *cfg, struct conf *c);

void conf_tls_free_site(struct conf_site_tls *t);
void conf_tls_free_upstream(struct conf_upstream_tls *t);

void conf_tls_dump_globals(const struct conf *c, FILE *out);
void conf_tls_dump_site(const struct conf_site *s, FILE *out);
void conf_tls_dump_upstream(const struct conf_upstream *u, FILE *out);

#endif
