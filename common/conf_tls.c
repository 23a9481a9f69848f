/*
 * conf_tls.c: the TLS part of the configuration: the tls_* globals, a
 * site's "tls" section with redirect_https and hsts, an upstream's tls_*
 * options, and the checks that tie them to the listeners. Each site's and
 * upstream's OpenSSL context is built here, so that "portico -t" loads
 * every certificate and key, and reports a bad one at its file:line.
 */
#include "config.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>

#include "conf_loader.h"
#include "conf_tls.h"
#include "tls.h"

/* Forward secrecy only, AEAD only (Mozilla's "intermediate" without DHE). */
#define DEF_CIPHERS "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
		    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
		    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define DEF_CIPHERSUITES "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:" \
			 "TLS_CHACHA20_POLY1305_SHA256"
#define DEF_CURVES "X25519:P-256:P-384"
#define DEF_SUBJECT_HEADER "X-Client-Subject"
#define DEF_VERIFY_DEPTH 3
#define DEF_SESSION_CACHE (10 * 1024 * 1024)
#define DEF_SESSION_TIMEOUT 3600000
#define DEF_TICKET_ROTATION 3600000

/* A duration of at least a second: a session or a key that lived less
 * would only cost handshakes. */
static unsigned get_seconds(struct loader *ld, cfg_t *cfg, const char *name, unsigned def)
{
	unsigned ms = ld_get_duration(ld, cfg, name, def, false);

	if (ms >= 1000)
		return ms;
	ld_error(ld, ld_opt_line(ld, cfg, name), "%s must be at least 1s", name);
	return def;
}

void conf_tls_globals(struct loader *ld, cfg_t *cfg, struct conf *c)
{
	const char *cache = cfg_getstr(cfg, "tls_session_cache");

	c->tls_handshake_timeout = ld_get_duration(ld, cfg, "tls_handshake_timeout", 10000, false);
	if (cache != NULL && (strcmp(cache, "off") == 0 || strcmp(cache, "0") == 0))
		c->tls_session_cache = 0;
	else
		c->tls_session_cache = ld_get_size(ld, cfg, "tls_session_cache", DEF_SESSION_CACHE);
	c->tls_session_timeout = get_seconds(ld, cfg, "tls_session_timeout", DEF_SESSION_TIMEOUT);
	c->tls_session_tickets = ld_get_bool(ld, cfg, "tls_session_tickets", true);
	c->tls_ticket_key_rotation = get_seconds(ld, cfg, "tls_ticket_key_rotation",
						 DEF_TICKET_ROTATION);
}

/* A list of protocol names into the range they span. */
static void resolve_protocols(struct loader *ld, cfg_t *sec, struct conf_site_tls *t)
{
	unsigned i, n = cfg_size(sec, "protocols");

	t->min_version = t->max_version = 0;
	for (i = 0; i < n; i++) {
		const char *name = cfg_getnstr(sec, "protocols", i);
		int v = tls_protocol_version(name);

		if (v == 0) {
			ld_error(ld, ld_opt_line(ld, sec, "protocols"), "protocols: unknown "
				 "protocol \"%s\" (use TLSv1, TLSv1.1, TLSv1.2, TLSv1.3)", name);
			continue;
		}
		if (t->min_version == 0 || v < t->min_version)
			t->min_version = v;
		if (v > t->max_version)
			t->max_version = v;
	}
	if (t->min_version == 0) {
		if (n == 0)
			ld_error(ld, ld_opt_line(ld, sec, "protocols"), "protocols is empty");
		t->min_version = TLS1_2_VERSION;
		t->max_version = TLS1_3_VERSION;
	}
}

static void resolve_certs(struct loader *ld, cfg_t *sec, const char *site,
			  struct conf_site_tls *t)
{
	unsigned i, nc = cfg_size(sec, "certificate"), nk = cfg_size(sec, "key");

	if (nc == 0) {
		ld_error(ld, ld_sec_line(ld, sec), "site \"%s\": tls needs a certificate "
			 "and its key", site);
		return;
	}
	if (nk != nc) {
		ld_error(ld, ld_opt_line(ld, sec, nk ? "key" : "certificate"), "site \"%s\": "
			 "%u certificates but %u keys (one key per certificate, in the same "
			 "order)", site, nc, nk);
		return;
	}
	t->certs = ld_realloc(ld, NULL, nc, sizeof(*t->certs));
	if (t->certs == NULL)
		return;
	memset(t->certs, 0, nc * sizeof(*t->certs));
	t->ncerts = nc;
	for (i = 0; i < nc; i++) {
		t->certs[i].chain = ld_get_path_n(ld, sec, "certificate", i);
		t->certs[i].key = ld_get_path_n(ld, sec, "key", i);
	}
}

static void resolve_verify_client(struct loader *ld, cfg_t *sec, struct conf_site_tls *t)
{
	static const char *const names[] = { "off", "optional", "required" };
	const char *v = cfg_getstr(sec, "verify_client");
	unsigned i;

	t->verify_client = CONF_VERIFY_OFF;
	if (v != NULL) {
		for (i = 0; i < ARRAY_LEN(names) && strcmp(names[i], v) != 0; i++)
			;
		if (i < ARRAY_LEN(names))
			t->verify_client = (enum conf_verify)i;
		else
			ld_error(ld, ld_opt_line(ld, sec, "verify_client"), "verify_client: "
				 "expected off, optional or required, not \"%s\"", v);
	}
	t->client_ca = ld_get_path(ld, sec, "client_ca", NULL);
	t->verify_depth = (unsigned)ld_get_number(ld, sec, "verify_depth", DEF_VERIFY_DEPTH,
						  1, 100);
	if (t->verify_client != CONF_VERIFY_OFF && t->client_ca == NULL)
		ld_error(ld, ld_opt_line(ld, sec, "verify_client"), "verify_client = \"%s\" "
			 "needs client_ca, the CAs client certificates must come from", v);
}

static bool is_field_name(const char *s)
{
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-')
			return false;
	return true;
}

static void report_tls_err(struct loader *ld, cfg_t *sec, const struct tls_err *e)
{
	int line = e->opt ? ld_opt_line_n(ld, sec, e->opt, e->idx) : ld_sec_line(ld, sec);

	ld_error(ld, line, "%s", e->msg);
}

/* Settings first; the context only when they were all right, or its
 * errors would only repeat theirs. */
static struct conf_site_tls *resolve_tls_section(struct loader *ld, cfg_t *sec,
						 const struct conf *c, const char *site)
{
	struct conf_site_tls *t = ld_realloc(ld, NULL, 1, sizeof(*t));
	unsigned errors = ld_error_count(ld);
	struct tls_err e;

	if (t == NULL)
		return NULL;
	memset(t, 0, sizeof(*t));
	resolve_certs(ld, sec, site, t);
	resolve_protocols(ld, sec, t);
	t->ciphers = ld_get_string(ld, sec, "ciphers", DEF_CIPHERS);
	t->ciphersuites = ld_get_string(ld, sec, "ciphersuites", DEF_CIPHERSUITES);
	t->curves = ld_get_string(ld, sec, "curves", DEF_CURVES);
	t->ocsp_response = ld_get_path(ld, sec, "ocsp_response", NULL);
	resolve_verify_client(ld, sec, t);
	t->client_subject_header = ld_get_string(ld, sec, "client_subject_header",
						 DEF_SUBJECT_HEADER);
	if (t->client_subject_header && !is_field_name(t->client_subject_header))
		ld_error(ld, ld_opt_line(ld, sec, "client_subject_header"), "client_subject_header: "
			 "\"%s\" is not a field name (letters, digits, '-')",
			 t->client_subject_header);
	if (ld_error_count(ld) == errors && t->ciphers && t->ciphersuites && t->curves &&
	    (t->ctx = tls_site_ctx_new(t, site, c, &e)) == NULL)
		report_tls_err(ld, sec, &e);
	return t;
}

/* Strict-Transport-Security: a max-age, and nothing a header cannot hold. */
static char *resolve_hsts(struct loader *ld, cfg_t *sec)
{
	char *v = ld_get_string(ld, sec, "hsts", NULL);
	const char *p;

	if (v == NULL)
		return NULL;
	for (p = v; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			break;
	if (*p != '\0' || strncasecmp(v, "max-age=", 8) != 0 || !isdigit((unsigned char)v[8]))
		ld_error(ld, ld_opt_line(ld, sec, "hsts"), "hsts: expected a header value such "
			 "as \"max-age=31536000; includeSubDomains\", not \"%s\"", v);
	return v;
}

void conf_tls_site(struct loader *ld, cfg_t *sec, const struct conf *c, struct conf_site *site)
{
	unsigned i, n = cfg_size(sec, "tls");
	char where[PATH_MAX + 16];
	cfg_t *tsec;

	site->redirect_https = ld_get_bool(ld, sec, "redirect_https", false);
	site->hsts = resolve_hsts(ld, sec);
	if (n == 0)
		return;
	tsec = cfg_getnsec(sec, "tls", 0);
	ld_where(ld, ld_sec_line(ld, tsec), where, sizeof(where));
	for (i = 1; i < n; i++)
		ld_error(ld, ld_sec_line(ld, cfg_getnsec(sec, "tls", i)), "tls is defined twice "
			 "in site \"%s\" (first at %s)", site->name, where);
	site->tls = resolve_tls_section(ld, tsec, c, site->name);
}

static bool any_tls_option(cfg_t *sec)
{
	static const char *const opts[] = {
		"tls_verify", "tls_ca", "tls_server_name", "tls_certificate", "tls_key"
	};
	unsigned i;

	for (i = 0; i < ARRAY_LEN(opts); i++)
		if (cfg_getstr(sec, opts[i]) != NULL)
			return true;
	return false;
}

void conf_tls_upstream(struct loader *ld, cfg_t *sec, struct conf_upstream *u)
{
	struct conf_upstream_tls *t;
	unsigned errors = ld_error_count(ld);
	struct tls_err e;

	if (!ld_get_bool(ld, sec, "tls", false)) {
		if (any_tls_option(sec))
			ld_error(ld, ld_sec_line(ld, sec), "upstream \"%s\" has tls_* options but "
				 "not tls = true", u->name);
		return;
	}
	t = ld_realloc(ld, NULL, 1, sizeof(*t));
	if (t == NULL)
		return;
	memset(t, 0, sizeof(*t));
	u->tls = t;
	t->verify = ld_get_bool(ld, sec, "tls_verify", true);
	t->ca = ld_get_path(ld, sec, "tls_ca", NULL);
	t->server_name = ld_get_string(ld, sec, "tls_server_name", NULL);
	t->cert.chain = ld_get_path(ld, sec, "tls_certificate", NULL);
	t->cert.key = ld_get_path(ld, sec, "tls_key", NULL);
	if ((t->cert.chain == NULL) != (t->cert.key == NULL))
		ld_error(ld, ld_opt_line(ld, sec, t->cert.chain ? "tls_certificate" : "tls_key"),
			 "upstream \"%s\": tls_certificate and tls_key go together", u->name);
	if (ld_error_count(ld) == errors && (t->ctx = tls_upstream_ctx_new(t, &e)) == NULL)
		report_tls_err(ld, sec, &e);
}

static unsigned port_of(const struct conf_listen *l)
{
	const struct sockaddr_storage *ss = &l->addr;

	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

/* A site's TLS settings serve its TLS listeners, and only them. */
static void check_site(struct loader *ld, cfg_t *sec, struct conf_site *site)
{
	const struct conf_listen *first_tls = NULL;
	unsigned i;

	for (i = 0; i < site->nlistens; i++) {
		const struct conf_listen *l = site->listens[i];

		if (!l->tls)
			continue;
		if (first_tls == NULL)
			first_tls = l;
		if (site->tls == NULL)
			ld_error(ld, ld_sec_line(ld, sec), "site \"%s\" is served on listener "
				 "\"%s\", which has tls = true, but has no tls { certificate key } "
				 "section", site->name, l->name);
	}
	if (first_tls != NULL) {
		site->https_port = port_of(first_tls);
		return;
	}
	if (site->tls != NULL)
		ld_error(ld, ld_sec_line(ld, cfg_getnsec(sec, "tls", 0)), "site \"%s\" has a tls "
			 "section but none of its listeners has tls = true", site->name);
	if (site->redirect_https)
		ld_error(ld, ld_opt_line(ld, sec, "redirect_https"), "site \"%s\": redirect_https "
			 "needs one of its listeners to have tls = true", site->name);
	if (site->hsts != NULL)
		ld_error(ld, ld_opt_line(ld, sec, "hsts"), "site \"%s\": hsts is sent over TLS "
			 "only, and none of its listeners has tls = true", site->name);
}

void conf_tls_check(struct loader *ld, cfg_t *cfg, struct conf *c)
{
	unsigned i;

	for (i = 0; i < c->nsites; i++)
		if (c->sites[i].name != NULL)
			check_site(ld, cfg_getnsec(cfg, "site", i), &c->sites[i]);
	for (i = 0; i < c->nlistens; i++)
		c->tls_used |= c->listens[i].tls;
	for (i = 0; i < c->nupstreams; i++)
		c->tls_used |= c->upstreams[i].tls != NULL;
}

void conf_tls_free_site(struct conf_site_tls *t)
{
	unsigned i;

	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx);
	for (i = 0; i < t->ncerts; i++) {
		free(t->certs[i].chain);
		free(t->certs[i].key);
	}
	free(t->certs);
	free(t->ciphers);
	free(t->ciphersuites);
	free(t->curves);
	free(t->ocsp_response);
	OPENSSL_free(t->ocsp_der);
	free(t->client_ca);
	free(t->client_subject_header);
	free(t);
}

void conf_tls_free_upstream(struct conf_upstream_tls *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx);
	free(t->ca);
	free(t->server_name);
	free(t->cert.chain);
	free(t->cert.key);
	free(t);
}

/* Dump */

static void dump_opt(FILE *out, const char *indent, const char *name, const char *v)
{
	if (v == NULL)
		return;
	fprintf(out, "%s%s = ", indent, name);
	conf_dump_str(out, v);
	fputc('\n', out);
}

void conf_tls_dump_globals(const struct conf *c, FILE *out)
{
	conf_dump_duration(out, "tls_handshake_timeout", c->tls_handshake_timeout, "");
	if (c->tls_session_cache == 0)
		fputs("tls_session_cache = \"off\"\n", out);
	else
		conf_dump_size(out, "tls_session_cache", c->tls_session_cache);
	conf_dump_duration(out, "tls_session_timeout", c->tls_session_timeout, "");
	fprintf(out, "tls_session_tickets = %s\n", c->tls_session_tickets ? "true" : "false");
	conf_dump_duration(out, "tls_ticket_key_rotation", c->tls_ticket_key_rotation, "");
}

static void dump_list(FILE *out, const char *name, const struct conf_cert *certs,
		      unsigned n, bool keys)
{
	unsigned i;

	fprintf(out, "\t\t%s = {", name);
	for (i = 0; i < n; i++) {
		fputs(i ? ", " : "", out);
		conf_dump_str(out, keys ? certs[i].key : certs[i].chain);
	}
	fputs("}\n", out);
}

void conf_tls_dump_site(const struct conf_site *s, FILE *out)
{
	static const char *const verify[] = { "off", "optional", "required" };
	const struct conf_site_tls *t = s->tls;
	int v;

	fprintf(out, "\tredirect_https = %s\n", s->redirect_https ? "true" : "false");
	dump_opt(out, "\t", "hsts", s->hsts);
	if (t == NULL)
		return;
	fputs("\ttls {\n", out);
	dump_list(out, "certificate", t->certs, t->ncerts, false);
	dump_list(out, "key", t->certs, t->ncerts, true);
	fputs("\t\tprotocols = {", out);
	for (v = t->min_version; v <= t->max_version; v++)
		fprintf(out, "%s\"%s\"", v > t->min_version ? ", " : "", tls_protocol_name(v));
	fputs("}\n", out);
	dump_opt(out, "\t\t", "ciphers", t->ciphers);
	dump_opt(out, "\t\t", "ciphersuites", t->ciphersuites);
	dump_opt(out, "\t\t", "curves", t->curves);
	dump_opt(out, "\t\t", "ocsp_response", t->ocsp_response);
	fprintf(out, "\t\tverify_client = \"%s\"\n", verify[t->verify_client]);
	dump_opt(out, "\t\t", "client_ca", t->client_ca);
	fprintf(out, "\t\tverify_depth = %u\n", t->verify_depth);
	dump_opt(out, "\t\t", "client_subject_header", t->client_subject_header);
	fputs("\t}\n", out);
}

void conf_tls_dump_upstream(const struct conf_upstream *u, FILE *out)
{
	const struct conf_upstream_tls *t = u->tls;

	if (t == NULL)
		return;
	fprintf(out, "\ttls = true\n\ttls_verify = %s\n", t->verify ? "true" : "false");
	dump_opt(out, "\t", "tls_ca", t->ca);
	dump_opt(out, "\t", "tls_server_name", t->server_name);
	dump_opt(out, "\t", "tls_certificate", t->cert.chain);
	dump_opt(out, "\t", "tls_key", t->cert.key);
}
