/*
 * conf_tls.h: the TLS part of the configuration, resolved with the parts
 * it belongs to (conf_globals.c reads its globals' table; conf_upstream.c
 * and conf_site.c call it for an upstream's tls_* options and a site's
 * tls section; conf_site.c for the checks over all of them).
 *
 * Owns: the tls_* globals, sites' "tls" sections, upstreams' tls_*
 * options, their OpenSSL contexts, and the rules that tie sites' TLS
 * settings (tls, redirect_https, hsts) to TLS listeners.
 */
#ifndef PORTICO_CONF_TLS_H
#define PORTICO_CONF_TLS_H

#include "conf_loader.h"

/* After the site's listeners are resolved; builds its context. */
void conf_tls_site(struct loader *ld, cfg_t *sec, struct conf *c, struct conf_site *site);
void conf_tls_upstream(struct loader *ld, cfg_t *sec, struct conf_upstream *u, struct conf *c);
/* Sites against listeners, once all are resolved; sets c->tls_used. */
void conf_tls_check(struct loader *ld, cfg_t *cfg, struct conf *c);

/* A site's hsts value (its row's check). */
void conf_tls_check_hsts(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj);

/* The tls_* globals' own memory (the ticket keys cleansed first). */
void conf_tls_free_globals(struct conf *c);
void conf_tls_free_site(struct conf_site_tls *t);
void conf_tls_free_upstream(struct conf_upstream_tls *t);

#endif
