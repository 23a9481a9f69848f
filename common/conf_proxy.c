/*
 * conf_proxy.c: the options for portico behind other proxies and
 * balancers: the PROXY protocol on listeners (and who may send it), the
 * PROXY protocol to an upstream's servers, and a site's real client
 * address from forwarding fields (and whom to believe). Their rows sit
 * in the tables of the sections they belong to.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cidr.h"
#include "conf_loader.h"
#include "conf_parts.h"

/* ---- listen: proxy_protocol_from ---- */

/* Who may send the header when the listener does not say: a balancer on
 * this machine. A header from anyone else would let a client choose its
 * own address (HAProxy's proxy-protocol.txt, section 2), so a balancer
 * elsewhere must be listed. */
static const char *const local_senders[] = { "127.0.0.0/8", "::1" };

static void default_senders(struct loader *ld, struct conf_listen *l)
{
	unsigned i;
	char err[160];

	l->proxy_protocol_from = ld_realloc(ld, NULL, ARRAY_LEN(local_senders),
					    sizeof(*l->proxy_protocol_from));
	if (l->proxy_protocol_from == NULL)
		return;
	for (i = 0; i < ARRAY_LEN(local_senders); i++)
		if (cidr_parse(local_senders[i], &l->proxy_protocol_from[i], err, sizeof(err)) == 0)
			l->nproxy_protocol_from++;
}

/* Read after proxy_protocol, which it goes with. */
void conf_read_proxy_protocol_from(struct loader *ld, cfg_t *sec, const struct conf_option *o,
				   void *obj, struct conf *c)
{
	struct conf_listen *l = obj;

	(void)c;
	ld_get_cidrs(ld, sec, o->name, NULL, &l->proxy_protocol_from, &l->nproxy_protocol_from);
	if (l->proxy_protocol && cfg_size(sec, o->name) == 0)
		default_senders(ld, l);
	else if (!l->proxy_protocol && cfg_size(sec, o->name) > 0)
		ld_error(ld, ld_opt_line(ld, sec, o->name), "listen \"%s\": proxy_protocol_from "
			 "without proxy_protocol = true", l->name ? l->name : "");
}

void conf_dump_proxy_protocol_from(FILE *out, const struct conf_option *o, const void *obj,
				   const char *indent)
{
	const struct conf_listen *l = obj;

	conf_dump_cidrs(out, indent, o->name, l->proxy_protocol_from, l->nproxy_protocol_from);
}

/* The index of s among the n words, case aside; -1 when none. */
static int keyword_of(const char *s, const char *const *words, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (strcasecmp(s, words[i]) == 0)
			return (int)i;
	return -1;
}

/* ---- upstream: send_proxy_protocol ---- */

static const char *const pp_versions[] = { "off", "v1", "v2" };

void conf_read_send_proxy_protocol(struct loader *ld, cfg_t *sec, const struct conf_option *o,
				   void *obj, struct conf *c)
{
	struct conf_upstream *u = obj;
	const char *s = cfg_getstr(sec, o->name);
	int i;

	(void)c;
	u->send_proxy_protocol = 0;
	if (s == NULL)
		return;
	if ((i = keyword_of(s, pp_versions, ARRAY_LEN(pp_versions))) >= 0) {
		u->send_proxy_protocol = (unsigned)i;
		return;
	}
	ld_error(ld, ld_opt_line(ld, sec, o->name), "upstream \"%s\": send_proxy_protocol: "
		 "expected \"off\", \"v1\" or \"v2\", not \"%s\"", u->name ? u->name : "", s);
}

void conf_dump_send_proxy_protocol(FILE *out, const struct conf_option *o, const void *obj,
				   const char *indent)
{
	conf_dump_line(out, indent, o->name,
		       pp_versions[((const struct conf_upstream *)obj)->send_proxy_protocol]);
}

/* ---- site: real_ip_from, real_ip_header ---- */

static const char *const real_ip_headers[] = {
	[CONF_REAL_IP_XFF] = "X-Forwarded-For",
	[CONF_REAL_IP_X_REAL_IP] = "X-Real-IP",
	[CONF_REAL_IP_FORWARDED] = "Forwarded",
};

void conf_read_real_ip_from(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			    void *obj, struct conf *c)
{
	struct conf_site *s = obj;

	(void)c;
	ld_get_cidrs(ld, sec, o->name, NULL, &s->real_ip_from, &s->nreal_ip_from);
}

void conf_dump_real_ip_from(FILE *out, const struct conf_option *o, const void *obj,
			    const char *indent)
{
	const struct conf_site *s = obj;

	conf_dump_cidrs(out, indent, o->name, s->real_ip_from, s->nreal_ip_from);
}

/* Read after real_ip_from: the field alone would do nothing. */
void conf_read_real_ip_header(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			      void *obj, struct conf *c)
{
	struct conf_site *site = obj;
	const char *s = cfg_getstr(sec, o->name);
	int i;

	(void)c;
	site->real_ip_header = CONF_REAL_IP_XFF;
	if (s == NULL)
		return;
	if (site->nreal_ip_from == 0 && cfg_size(sec, "real_ip_from") == 0)
		ld_error(ld, ld_opt_line(ld, sec, o->name), "site \"%s\": real_ip_header without "
			 "real_ip_from", site->name ? site->name : "");
	if ((i = keyword_of(s, real_ip_headers, ARRAY_LEN(real_ip_headers))) >= 0) {
		site->real_ip_header = (unsigned)i;
		return;
	}
	ld_error(ld, ld_opt_line(ld, sec, o->name), "site \"%s\": real_ip_header: expected "
		 "\"X-Forwarded-For\", \"X-Real-IP\" or \"Forwarded\", not \"%s\"",
		 site->name ? site->name : "", s);
}

void conf_dump_real_ip_header(FILE *out, const struct conf_option *o, const void *obj,
			      const char *indent)
{
	const struct conf_site *s = obj;

	if (s->nreal_ip_from > 0)
		conf_dump_line(out, indent, o->name, real_ip_headers[s->real_ip_header]);
}
