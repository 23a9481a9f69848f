/*
 * realip.c: the client's address from forwarding fields of trusted peers.
 */
#include "config.h"

#include <string.h>
#include <arpa/inet.h>

#include "cidr.h"
#include "realip.h"

/* A walk from the right of the field's addresses: the last one reached,
 * and the prefixes that let it go on past an address. */
struct walk {
	const struct conf_site *site;
	uint8_t bin[16];
	char text[INET6_ADDRSTRLEN];
	bool found;
};

/* An address as a forwarding field writes it: "192.0.2.1", "2001:db8::1",
 * "[2001:db8::1]", each maybe with ":port" (bracketed, for IPv6). Its
 * canonical text (never the client's bytes) and 16 bytes as cidr.h has
 * them; false when it is none (Forwarded's "unknown", "_hidden", junk). */
static bool parse_addr(struct slice s, uint8_t bin[16], char *text, size_t cap)
{
	char buf[INET6_ADDRSTRLEN];
	const char *colon = memchr(s.p, ':', s.len);
	unsigned char a4[4];

	if (s.len > 0 && s.p[0] == '[') {
		const char *close = memchr(s.p, ']', s.len);

		if (close == NULL)
			return false;
		s = (struct slice){ s.p + 1, (size_t)(close - s.p - 1) };
	} else if (colon != NULL && memchr(colon + 1, ':', s.len - (size_t)(colon - s.p) - 1) == NULL) {
		s.len = (size_t)(colon - s.p);	/* "192.0.2.1:port" */
	}
	if (s.len == 0 || s.len >= sizeof(buf))
		return false;
	memcpy(buf, s.p, s.len);
	buf[s.len] = '\0';
	if (inet_pton(AF_INET, buf, a4) == 1) {
		memset(bin, 0, 10);
		bin[10] = bin[11] = 0xff;
		memcpy(bin + 12, a4, 4);
		return inet_ntop(AF_INET, a4, text, (socklen_t)cap) != NULL;
	}
	return inet_pton(AF_INET6, buf, bin) == 1 &&
	       inet_ntop(AF_INET6, bin, text, (socklen_t)cap) != NULL;
}

/* Forwarded's element "for=...;proto=...;by=...": its for= value,
 * unquoted. */
static struct slice forwarded_for(struct slice e)
{
	const char *p = e.p, *end = e.p + e.len;

	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		struct slice pair = slice_trim((struct slice){ p, (size_t)((semi ? semi : end) - p) });

		p = semi ? semi + 1 : end;
		if (pair.len < 4 || !slice_ieq((struct slice){ pair.p, 4 }, "for="))
			continue;
		pair.p += 4;
		pair.len -= 4;
		if (pair.len >= 2 && pair.p[0] == '"' && pair.p[pair.len - 1] == '"')
			return (struct slice){ pair.p + 1, pair.len - 2 };
		return pair;
	}
	return (struct slice){ NULL, 0 };
}

/* One element, the next from the right: false ends the walk, at an
 * untrusted address (the client) or at one that is no address, where the
 * last one reached stands rather than anything further left, which no
 * trusted peer vouched for. */
static bool step(struct walk *w, struct slice e)
{
	const struct conf_site *site = w->site;

	if (site->real_ip_header == CONF_REAL_IP_FORWARDED)
		e = forwarded_for(e);
	if (!parse_addr(e, w->bin, w->text, sizeof(w->text)))
		return false;
	w->found = true;
	return cidr_list_match(site->real_ip_from, site->nreal_ip_from, w->bin);
}

/* The elements of one field value, right to left; false ends the walk. */
static bool walk_value(struct walk *w, struct slice v)
{
	size_t end = v.len, start;
	struct slice e;

	while (end > 0) {
		for (start = end; start > 0 && v.p[start - 1] != ','; start--)
			;
		e = slice_trim((struct slice){ v.p + start, end - start });
		if (e.len > 0 && !step(w, e))
			return false;
		end = start > 0 ? start - 1 : 0;
	}
	return true;
}

static const char *const field_names[] = {
	[CONF_REAL_IP_XFF] = "x-forwarded-for",
	[CONF_REAL_IP_X_REAL_IP] = "x-real-ip",
	[CONF_REAL_IP_FORWARDED] = "forwarded",
};

static int realip_route(struct exchange *x)
{
	const struct conf_site *site = x->site;
	const struct http_message *r = &x->req;
	struct walk w = { .site = site };
	const char *name;
	unsigned i;

	if (site == NULL || site->nreal_ip_from == 0 ||
	    !cidr_list_match(site->real_ip_from, site->nreal_ip_from,
			     x->client.addrless ? cidr_local_peer : x->client.addr_bin))
		return P_OK;
	/* Several fields of the name are one list, in order: the last
	 * field's last address is the nearest proxy's. */
	name = field_names[site->real_ip_header];
	for (i = r->nheaders; i-- > 0;)
		if (slice_ieq(r->headers[i].name, name) && !walk_value(&w, r->headers[i].value))
			break;
	if (!w.found)
		return P_OK;
	memcpy(x->real_addr, w.text, sizeof(x->real_addr));
	memcpy(x->client.addr_bin, w.bin, sizeof(x->client.addr_bin));
	x->client.addr = x->real_addr;
	x->client.addrless = false;
	return P_OK;
}

const struct module realip_module = {
	.name = "realip",
	.route = realip_route,
};
