/*
 * conf_tls.c: the TLS part of the configuration: the tls_* globals, a
 * site's "tls" section, an upstream's tls_* options, and the checks that
 * tie them to the listeners (redirect_https and hsts among them). Each
 * site's and upstream's OpenSSL context is built here, so that
 * "portico -t" loads every certificate and key, and reports a bad one at
 * its file:line.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/stat.h>

#include "conf_loader.h"
#include "conf_parts.h"
#include "cidr.h"
#include "conf_tls.h"
#include "tls.h"
#include "tls_cache.h"

/* Forward secrecy only, AEAD only (Mozilla's "intermediate" without DHE). */
#define DEF_CIPHERS "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
		    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
		    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define DEF_CIPHERSUITES "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:" \
			 "TLS_CHACHA20_POLY1305_SHA256"
#define DEF_CURVES "X25519:P-256:P-384"

#define C(field) offsetof(struct conf, field)
#define T(field) offsetof(struct conf_site_tls, field)
#define UT(field) offsetof(struct conf_upstream_tls, field)

/* ---- globals ---- */

static void read_session_cache(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			       void *obj, struct conf *c)
{
	const char *s = cfg_getstr(sec, o->name);
	long long v;

	(void)obj;
	c->tls_session_cache = (size_t)conf_parse_size(o->def);
	if (s == NULL)
		return;
	if (strcmp(s, "off") == 0 || strcmp(s, "0") == 0) {
		c->tls_session_cache = 0;
		return;
	}
	v = conf_parse_size(s);
	if (v <= 0 || v > CONF_SIZE_MAX)
		ld_error(ld, ld_opt_line(ld, sec, o->name), "%s: bad size \"%s\" (use e.g. "
			 "\"4096\", \"16k\", \"1m\"; at most 1g)", o->name, s);
	else
		c->tls_session_cache = (size_t)v;
}

static void dump_session_cache(FILE *out, const struct conf_option *o, const void *obj,
			       const char *indent)
{
	const struct conf *c = obj;

	if (c->tls_session_cache == 0)
		fprintf(out, "%s%s = \"off\"\n", indent, o->name);
	else
		conf_dump_size(out, o->name, c->tls_session_cache, indent);
}

/* One key file into *k: 0, or -1 with the reason in err. Read whole
 * here, by the master (as root: the file need not be readable by the
 * workers' user, and should not be). */
static int read_ticket_key_file(const char *path, struct tls_ticket_key *k, char *err,
				size_t errlen)
{
	uint8_t buf[TLS_TICKET_KEY_FILE + 1];
	struct stat st;
	ssize_t n = -1;
	/* Not blocked by a FIFO: it is refused as not a regular file. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		n = read(fd, buf, sizeof(buf));
	else if (fd >= 0)
		errno = EINVAL;
	if (n < 0) {
		snprintf(err, errlen, "cannot read \"%s\": %s", path,
			 errno == EINVAL ? "not a regular file" : strerror(errno));
	} else if (tls_ticket_key_parse(buf, (size_t)n, k) < 0) {
		snprintf(err, errlen, "\"%s\" is not a ticket key: it holds %s%zd bytes, a key "
			 "has %d (made with: openssl rand %d > FILE) or %d", path,
			 n > TLS_TICKET_KEY_FILE ? "more than " : "", MIN(n, (ssize_t)
			 TLS_TICKET_KEY_FILE), TLS_TICKET_KEY_FILE, TLS_TICKET_KEY_FILE,
			 TLS_TICKET_KEY_FILE_SHORT);
		n = -1;
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	if (fd >= 0)
		close(fd);
	return n < 0 ? -1 : 0;
}

/* The operator's ticket keys, the first one encrypting: read at start and
 * on every reload, since the configuration is read then. */
static void read_ticket_key_files(struct loader *ld, cfg_t *sec, const struct conf_option *o,
				  void *obj, struct conf *c)
{
	unsigned i, n = cfg_size(sec, o->name);
	char err[PATH_MAX + 128];

	(void)obj;
	if (n == 0)
		return;
	if (n > TLS_TICKET_KEYS_MAX) {
		ld_error(ld, ld_opt_line(ld, sec, o->name), "%s: %u files, at most %d (the "
			 "current key and the ones before it that still decrypt)", o->name, n,
			 TLS_TICKET_KEYS_MAX);
		return;
	}
	c->tls_ticket_key_files = ld_realloc(ld, NULL, n, sizeof(char *));
	c->tls_ticket_keys = ld_realloc(ld, NULL, n, sizeof(struct tls_ticket_key));
	if (c->tls_ticket_key_files == NULL || c->tls_ticket_keys == NULL)
		return;
	for (i = 0; i < n; i++) {
		char *path = ld_get_path_n(ld, sec, o->name, i);

		if (path == NULL)
			continue;
		c->tls_ticket_key_files[c->ntls_ticket_key_files++] = path;
		if (read_ticket_key_file(path, &c->tls_ticket_keys[c->ntls_ticket_keys], err,
					 sizeof(err)) == 0)
			c->ntls_ticket_keys++;
		else
			ld_error(ld, ld_opt_line_n(ld, sec, o->name, i), "%s: %s", o->name, err);
	}
}

static void dump_ticket_key_files(FILE *out, const struct conf_option *o, const void *obj,
				  const char *indent)
{
	const struct conf *c = obj;
	unsigned i;

	if (c->ntls_ticket_key_files == 0)
		return;
	fprintf(out, "%s%s = {", indent, o->name);
	for (i = 0; i < c->ntls_ticket_key_files; i++) {
		fputs(i ? ", " : "", out);
		conf_dump_str(out, c->tls_ticket_key_files[i]);
	}
	fputs("}\n", out);
}

/* Sessions and keys live at least a second: less would only cost
 * handshakes. */
const struct conf_option conf_tls_global_options[] = {
	{ "tls_handshake_timeout", CS_GLOBAL, CT_DURATION, "10s", 1, CONF_MS_MAX,
	  C(tls_handshake_timeout), NULL, NULL, NULL,
	  "how long a client's TLS handshake may take", 0 },
	{ "tls_session_cache", CS_GLOBAL, CT_CUSTOM, "10m", 0, 0, 0, read_session_cache, NULL,
	  dump_session_cache, "the shared memory for TLS sessions of all workers; off: none", 0 },
	{ "tls_session_timeout", CS_GLOBAL, CT_DURATION, "1h", 1000, CONF_MS_MAX,
	  C(tls_session_timeout), NULL, NULL, NULL, "how long a TLS session may be resumed", 0 },
	{ "tls_session_tickets", CS_GLOBAL, CT_BOOL, "true", 0, 0, C(tls_session_tickets), NULL,
	  NULL, NULL, "resume sessions by ticket too (keys shared by the workers)", 0 },
	{ "tls_ticket_key_rotation", CS_GLOBAL, CT_DURATION, "1h", 1000, CONF_MS_MAX,
	  C(tls_ticket_key_rotation), NULL, NULL, NULL,
	  "how often the master makes a new ticket key (the two before still decrypt)", 0 },
	{ "tls_ticket_key_file", CS_GLOBAL, CT_CUSTOM, NULL, 0, 0, 0, read_ticket_key_files,
	  NULL, dump_ticket_key_files, "ticket keys shared by several nodes: the first "
	  "encrypts, the others only decrypt (no rotation by the master then)", CF_LIST },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

/* ---- a site's tls section ---- */

/* The protocols listed, as the range they span. */
static void read_protocols(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			   void *obj, struct conf *c)
{
	struct conf_site_tls *t = obj;
	unsigned i, n = cfg_size(sec, o->name);

	(void)c;
	t->min_version = t->max_version = 0;
	for (i = 0; i < n; i++) {
		const char *name = cfg_getnstr(sec, o->name, i);
		int v = tls_protocol_version(name);

		if (v == 0) {
			ld_error(ld, ld_opt_line(ld, sec, o->name), "protocols: unknown protocol "
				 "\"%s\" (use TLSv1, TLSv1.1, TLSv1.2, TLSv1.3)", name);
			continue;
		}
		if (t->min_version == 0 || v < t->min_version)
			t->min_version = v;
		if (v > t->max_version)
			t->max_version = v;
	}
	if (t->min_version == 0) {
		if (n == 0)
			ld_error(ld, ld_opt_line(ld, sec, o->name), "protocols is empty");
		t->min_version = TLS1_2_VERSION;
		t->max_version = TLS1_3_VERSION;
	}
}

static void dump_protocols(FILE *out, const struct conf_option *o, const void *obj,
			   const char *indent)
{
	const struct conf_site_tls *t = obj;
	int v;

	fprintf(out, "%s%s = {", indent, o->name);
	for (v = t->min_version; v <= t->max_version; v++)
		fprintf(out, "%s\"%s\"", v > t->min_version ? ", " : "", tls_protocol_name(v));
	fputs("}\n", out);
}

/* Certificates and keys go in pairs, in the same order: both lists are
 * read with the certificate row (resolve_tls_section says what is
 * missing). */
static void read_certs(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
		       struct conf *c)
{
	struct conf_site_tls *t = obj;
	unsigned i, nc = cfg_size(sec, "certificate"), nk = cfg_size(sec, "key");

	(void)o;
	(void)c;
	if (nc == 0 || nk != nc)
		return;
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

static void read_keys(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
		      struct conf *c)
{
	(void)ld, (void)sec, (void)o, (void)obj, (void)c;	/* with the certificates */
}

static void dump_cert_list(FILE *out, const struct conf_option *o, const void *obj,
			   const char *indent)
{
	const struct conf_site_tls *t = obj;
	bool keys = strcmp(o->name, "key") == 0;
	unsigned i;

	fprintf(out, "%s%s = {", indent, o->name);
	for (i = 0; i < t->ncerts; i++) {
		fputs(i ? ", " : "", out);
		conf_dump_str(out, keys ? t->certs[i].key : t->certs[i].chain);
	}
	fputs("}\n", out);
}

static const char *const verify_names[] = { "off", "optional", "required", NULL };

static void read_verify_client(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			       void *obj, struct conf *c)
{
	struct conf_site_tls *t = obj;
	const char *v = cfg_getstr(sec, o->name);
	unsigned i;

	(void)c;
	t->verify_client = CONF_VERIFY_OFF;
	if (v == NULL)
		return;
	for (i = 0; verify_names[i] != NULL && strcmp(verify_names[i], v) != 0; i++)
		;
	if (verify_names[i] != NULL)
		t->verify_client = (enum conf_verify)i;
	else
		ld_error(ld, ld_opt_line(ld, sec, o->name), "verify_client: expected off, optional "
			 "or required, not \"%s\"", v);
}

static void dump_verify_client(FILE *out, const struct conf_option *o, const void *obj,
			       const char *indent)
{
	fprintf(out, "%s%s = \"%s\"\n", indent, o->name,
		verify_names[((const struct conf_site_tls *)obj)->verify_client]);
}

static bool is_field_name(const char *s)
{
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-')
			return false;
	return true;
}

static void check_field_name(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			     void *obj)
{
	const char *s = *(char **)conf_field(o, obj);

	if (s != NULL && !is_field_name(s))
		ld_error(ld, ld_opt_line(ld, sec, o->name), "%s: \"%s\" is not a field name "
			 "(letters, digits, '-')", o->name, s);
}

const struct conf_option conf_tls_options[] = {
	{ "certificate", CS_TLS, CT_CUSTOM, NULL, 0, 0, 0, read_certs, NULL, dump_cert_list,
	  "PEM certificate chains, leaf first: one per key type (RSA, ECDSA)", CF_LIST },
	{ "key", CS_TLS, CT_CUSTOM, NULL, 0, 0, 0, read_keys, NULL, dump_cert_list,
	  "their private keys, in the same order", CF_LIST },
	{ "protocols", CS_TLS, CT_CUSTOM, "{\"TLSv1.2\", \"TLSv1.3\"}", 0, 0, 0, read_protocols,
	  NULL, dump_protocols, "the TLS versions offered: TLSv1 to TLSv1.3", CF_LIST },
	{ "ciphers", CS_TLS, CT_STRING, DEF_CIPHERS, 0, 0, T(ciphers), NULL, NULL, NULL,
	  "the cipher list of TLS 1.2 and below (OpenSSL's syntax)", 0 },
	{ "ciphersuites", CS_TLS, CT_STRING, DEF_CIPHERSUITES, 0, 0, T(ciphersuites), NULL, NULL,
	  NULL, "the cipher suites of TLS 1.3", 0 },
	{ "curves", CS_TLS, CT_STRING, DEF_CURVES, 0, 0, T(curves), NULL, NULL, NULL,
	  "the key exchange groups, in order of preference", 0 },
	{ "ocsp_response", CS_TLS, CT_PATH, NULL, 0, 0, T(ocsp_response), NULL, NULL, NULL,
	  "a DER OCSP response to staple, read at start and on reload", 0 },
	{ "verify_client", CS_TLS, CT_CUSTOM, "off", 0, 0, 0, read_verify_client, NULL,
	  dump_verify_client, "ask clients for a certificate: off, optional or required", 0 },
	{ "client_ca", CS_TLS, CT_PATH, NULL, 0, 0, T(client_ca), NULL, NULL, NULL,
	  "the PEM file of the CAs client certificates must come from", 0 },
	{ "verify_depth", CS_TLS, CT_NUMBER, "3", 1, 100, T(verify_depth), NULL, NULL, NULL,
	  "the longest chain of a client certificate", 0 },
	{ "client_subject_header", CS_TLS, CT_STRING, "X-Client-Subject", 0, 0,
	  T(client_subject_header), NULL, check_field_name, NULL,
	  "the request field that carries a verified client's subject upstream", 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

static void check_cert_counts(struct loader *ld, cfg_t *sec, const char *site)
{
	unsigned nc = cfg_size(sec, "certificate"), nk = cfg_size(sec, "key");

	if (nc == 0)
		ld_error(ld, ld_sec_line(ld, sec), "site \"%s\": tls needs a certificate and its key",
			 site);
	else if (nk != nc)
		ld_error(ld, ld_opt_line(ld, sec, nk ? "key" : "certificate"), "site \"%s\": %u "
			 "certificates but %u keys (one key per certificate, in the same order)",
			 site, nc, nk);
}

static void report_tls_err(struct loader *ld, cfg_t *sec, const struct tls_err *e)
{
	int line = e->opt ? ld_opt_line_n(ld, sec, e->opt, e->idx) : ld_sec_line(ld, sec);

	ld_error(ld, line, "%s", e->msg);
}

/* Settings first; the context only when they were all right, or its
 * errors would only repeat theirs. */
static struct conf_site_tls *resolve_tls_section(struct loader *ld, cfg_t *sec, struct conf *c,
						 const char *site)
{
	struct conf_site_tls *t = ld_realloc(ld, NULL, 1, sizeof(*t));
	unsigned errors = ld_error_count(ld);
	struct tls_err e;

	if (t == NULL)
		return NULL;
	memset(t, 0, sizeof(*t));
	conf_read(ld, sec, conf_tls_options, t, c);
	check_cert_counts(ld, sec, site);
	if (t->verify_client != CONF_VERIFY_OFF && t->client_ca == NULL)
		ld_error(ld, ld_opt_line(ld, sec, "verify_client"), "verify_client = \"%s\" needs "
			 "client_ca, the CAs client certificates must come from",
			 verify_names[t->verify_client]);
	if (ld_error_count(ld) == errors && t->ciphers && t->ciphersuites && t->curves &&
	    (t->ctx = tls_site_ctx_new(t, site, c, &e)) == NULL)
		report_tls_err(ld, sec, &e);
	return t;
}

void conf_tls_check_hsts(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj)
{
	const char *v = *(char **)conf_field(o, obj), *p;

	if (v == NULL)
		return;
	for (p = v; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			break;
	if (*p != '\0' || strncasecmp(v, "max-age=", 8) != 0 || !isdigit((unsigned char)v[8]))
		ld_error(ld, ld_opt_line(ld, sec, o->name), "hsts: expected a header value such "
			 "as \"max-age=31536000; includeSubDomains\", not \"%s\"", v);
}

void conf_tls_site(struct loader *ld, cfg_t *sec, struct conf *c, struct conf_site *site)
{
	unsigned i, n = cfg_size(sec, "tls");
	char where[PATH_MAX + 16];
	cfg_t *tsec;

	if (n == 0)
		return;
	tsec = cfg_getnsec(sec, "tls", 0);
	ld_where(ld, ld_sec_line(ld, tsec), where, sizeof(where));
	for (i = 1; i < n; i++)
		ld_error(ld, ld_sec_line(ld, cfg_getnsec(sec, "tls", i)), "tls is defined twice "
			 "in site \"%s\" (first at %s)", site->name, where);
	site->tls = resolve_tls_section(ld, tsec, c, site->name);
}

/* ---- an upstream's tls_* options ---- */

static void read_tls_flag(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
			  struct conf *c)
{
	(void)ld, (void)sec, (void)o, (void)obj, (void)c;	/* by conf_tls_upstream */
}

static void dump_tls_flag(FILE *out, const struct conf_option *o, const void *obj,
			  const char *indent)
{
	(void)obj;
	fprintf(out, "%s%s = true\n", indent, o->name);
}

const struct conf_option conf_tls_upstream_options[] = {
	{ "tls", CS_UPSTREAM, CT_CUSTOM, "false", 0, 0, 0, read_tls_flag, NULL, dump_tls_flag,
	  "connect to its servers over TLS", 0 },
	{ "tls_verify", CS_UPSTREAM, CT_BOOL, "true", 0, 0, UT(verify), NULL, NULL, NULL,
	  "verify the servers' certificates and names", 0 },
	{ "tls_ca", CS_UPSTREAM, CT_PATH, NULL, 0, 0, UT(ca), NULL, NULL, NULL,
	  "the PEM file of the CAs to verify them against (default: the system's)", 0 },
	{ "tls_server_name", CS_UPSTREAM, CT_STRING, NULL, 0, 0, UT(server_name), NULL, NULL,
	  NULL, "the name sent in SNI and verified (default: the server's address)", 0 },
	{ "tls_certificate", CS_UPSTREAM, CT_PATH, NULL, 0, 0, UT(cert.chain), NULL, NULL, NULL,
	  "a client certificate chain to present", 0 },
	{ "tls_key", CS_UPSTREAM, CT_PATH, NULL, 0, 0, UT(cert.key), NULL, NULL, NULL,
	  "its private key", 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

static bool any_tls_option(cfg_t *sec)
{
	const struct conf_option *o;

	for (o = conf_tls_upstream_options + 1; o->name != NULL; o++)
		if (cfg_getstr(sec, o->name) != NULL)
			return true;
	return false;
}

/* Without tls_server_name, a certificate is verified against the
 * server's IP address: a unix socket has none to verify it against. */
static void check_unix_verify(struct loader *ld, cfg_t *sec, const struct conf_upstream *u,
			      const struct conf_upstream_tls *t)
{
	unsigned i;

	if (!t->verify || t->server_name != NULL)
		return;
	for (i = 0; i < u->nservers; i++) {
		if (u->servers[i].addrlen == 0 || u->servers[i].addr.ss_family != AF_UNIX)
			continue;
		ld_error(ld, ld_opt_line(ld, sec, "tls"), "upstream \"%s\": server %s is a unix "
			 "socket, which has no IP address to verify a certificate against: set "
			 "tls_server_name (or tls_verify = false)", u->name, u->servers[i].address);
		return;
	}
}

void conf_tls_upstream(struct loader *ld, cfg_t *sec, struct conf_upstream *u, struct conf *c)
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
	if ((t = ld_realloc(ld, NULL, 1, sizeof(*t))) == NULL)
		return;
	memset(t, 0, sizeof(*t));
	u->tls = t;
	conf_read(ld, sec, conf_tls_upstream_options, t, c);
	check_unix_verify(ld, sec, u, t);
	if ((t->cert.chain == NULL) != (t->cert.key == NULL))
		ld_error(ld, ld_opt_line(ld, sec, t->cert.chain ? "tls_certificate" : "tls_key"),
			 "upstream \"%s\": tls_certificate and tls_key go together", u->name);
	if (ld_error_count(ld) == errors && (t->ctx = tls_upstream_ctx_new(t, &e)) == NULL)
		report_tls_err(ld, sec, &e);
}

/* A unix socket has no port: the clients reach it through a balancer,
 * on the port https URLs leave out. */
static unsigned port_of(const struct conf_listen *l)
{
	const struct sockaddr_storage *ss = &l->addr;

	if (ss->ss_family == AF_UNIX)
		return 443;
	return cidr_port_of((const struct sockaddr *)ss);
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
		/* the port of a TCP listener says more than a unix one's */
		if (first_tls == NULL ||
		    (first_tls->addr.ss_family == AF_UNIX && l->addr.ss_family != AF_UNIX))
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

	if (c->ntls_ticket_key_files > 0 && !c->tls_session_tickets)
		ld_error(ld, ld_opt_line(ld, cfg, "tls_ticket_key_file"), "tls_ticket_key_file "
			 "is set but tls_session_tickets = false: no ticket would use the keys");

	for (i = 0; i < c->nsites; i++)
		if (c->sites[i].name != NULL)
			check_site(ld, cfg_getnsec(cfg, "site", i), &c->sites[i]);
	for (i = 0; i < c->nlistens; i++)
		c->tls_used |= c->listens[i].tls;
	for (i = 0; i < c->nupstreams; i++)
		c->tls_used |= c->upstreams[i].tls != NULL;
}

void conf_tls_free_globals(struct conf *c)
{
	unsigned i;

	for (i = 0; i < c->ntls_ticket_key_files; i++)
		free(c->tls_ticket_key_files[i]);
	free(c->tls_ticket_key_files);
	if (c->tls_ticket_keys != NULL)
		OPENSSL_cleanse(c->tls_ticket_keys, c->ntls_ticket_keys * sizeof(*c->tls_ticket_keys));
	free(c->tls_ticket_keys);
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
	conf_release(conf_tls_options, t);
	OPENSSL_free(t->ocsp_der);
	free(t);
}

void conf_tls_free_upstream(struct conf_upstream_tls *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx);
	conf_release(conf_tls_upstream_options, t);
	free(t);
}
