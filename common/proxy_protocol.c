/*
 * proxy_protocol.c: PROXY protocol v1 and v2 headers, read and written.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "cidr.h"
#include "core.h"
#include "proxy_protocol.h"

static const char v1_prefix[] = "PROXY ";
static const unsigned char v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

#define V2_HEAD 16			/* signature, version and command, family, length */
#define V2_CMD_LOCAL 0x0
#define V2_CMD_PROXY 0x1
#define V2_AF_UNSPEC 0x0
#define V2_AF_INET 0x1
#define V2_AF_INET6 0x2
#define V2_AF_UNIX 0x3
#define V2_STREAM 0x1
#define V2_INET_LEN 12			/* two addresses of 4 bytes, two ports */
#define V2_INET6_LEN 36
#define TLV_HEAD 3			/* type, 16-bit length */

/* Whether p[0..n) agrees with the first bytes of prefix[0..plen). */
static bool begins_as(const unsigned char *p, size_t n, const void *prefix, size_t plen)
{
	return memcmp(p, prefix, MIN(n, plen)) == 0;
}

static void set_addr(struct sockaddr_storage *ss, int family, const void *addr, unsigned port)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		memcpy(&in->sin_addr, addr, 4);
		in->sin_port = htons((uint16_t)port);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, addr, 16);
		in6->sin6_port = htons((uint16_t)port);
	}
}

/* ---- v1: "PROXY TCP4 192.0.2.1 198.51.100.2 51234 443\r\n" ---- */

/* The next space-separated word of line[*pos..end) into word[cap]; false
 * when there is none or it does not fit. */
static bool next_word(const char *line, size_t end, size_t *pos, char *word, size_t cap)
{
	size_t start = *pos, i = start;

	while (i < end && line[i] != ' ')
		i++;
	if (i == start || i - start >= cap)
		return false;
	memcpy(word, line + start, i - start);
	word[i - start] = '\0';
	*pos = i < end ? i + 1 : i;
	return true;
}

/* A port as the specification writes it: decimal, no leading zero. */
static bool parse_port(const char *s, unsigned *port)
{
	unsigned long v = 0;
	size_t i;

	if (s[0] == '\0' || (s[0] == '0' && s[1] != '\0') || strlen(s) > 5)
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 65535)
		return false;
	*port = (unsigned)v;
	return true;
}

static int parse_v1_line(const char *line, size_t end, struct pp_header *h, const char **why)
{
	char proto[8], src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], sport[8], dport[8];
	unsigned char a[16], b[16];
	unsigned sp, dp;
	size_t pos = sizeof(v1_prefix) - 1;
	int family;

	if (!next_word(line, end, &pos, proto, sizeof(proto))) {
		*why = "v1: no protocol";
		return P_ERROR;
	}
	if (strcmp(proto, "UNKNOWN") == 0)
		return P_OK;		/* the rest of the line is to be ignored */
	if (strcmp(proto, "TCP4") == 0)
		family = AF_INET;
	else if (strcmp(proto, "TCP6") == 0)
		family = AF_INET6;
	else {
		*why = "v1: unknown protocol";
		return P_ERROR;
	}
	if (!next_word(line, end, &pos, src, sizeof(src)) ||
	    !next_word(line, end, &pos, dst, sizeof(dst)) ||
	    !next_word(line, end, &pos, sport, sizeof(sport)) ||
	    !next_word(line, end, &pos, dport, sizeof(dport)) || pos != end ||
	    line[end - 1] == ' ') {
		*why = "v1: expected two addresses and two ports";
		return P_ERROR;
	}
	if (inet_pton(family, src, a) != 1 || inet_pton(family, dst, b) != 1) {
		*why = "v1: bad address";
		return P_ERROR;
	}
	if (!parse_port(sport, &sp) || !parse_port(dport, &dp)) {
		*why = "v1: bad port";
		return P_ERROR;
	}
	h->has_addr = true;
	set_addr(&h->src, family, a, sp);
	set_addr(&h->dst, family, b, dp);
	return P_OK;
}

static int parse_v1(const unsigned char *p, size_t n, struct pp_header *h, size_t *len,
		    const char **why)
{
	const unsigned char *lf = memchr(p, '\n', MIN(n, (size_t)PP_V1_MAX));
	size_t end;

	if (lf == NULL) {
		if (n >= PP_V1_MAX) {
			*why = "v1: no CRLF within 107 bytes";
			return P_ERROR;
		}
		return P_AGAIN;
	}
	end = (size_t)(lf - p);
	if (end == 0 || p[end - 1] != '\r') {
		*why = "v1: line does not end with CRLF";
		return P_ERROR;
	}
	h->version = PP_V1;
	*len = end + 1;
	return parse_v1_line((const char *)p, end - 1, h, why);
}

/* ---- v2: the binary form ---- */

/* The TLVs after the addresses must tile the rest exactly. */
static bool tlvs_fit(const unsigned char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		if (n - i < TLV_HEAD)
			return false;
		i += TLV_HEAD + ((size_t)p[i + 1] << 8 | p[i + 2]);
	}
	return i == n;
}

static int parse_v2_addrs(const unsigned char *body, size_t blen, unsigned fam,
			  struct pp_header *h, const char **why)
{
	unsigned af = fam >> 4, transport = fam & 0x0f;
	size_t alen;

	if (af == V2_AF_UNSPEC)
		return tlvs_fit(body, blen) ? P_OK : (*why = "v2: bad TLV", P_ERROR);
	if ((af != V2_AF_INET && af != V2_AF_INET6) || transport != V2_STREAM) {
		*why = af == V2_AF_UNIX ? "v2: unix socket addresses" : "v2: not TCP over IP";
		return P_ERROR;
	}
	alen = af == V2_AF_INET ? V2_INET_LEN : V2_INET6_LEN;
	if (blen < alen) {
		*why = "v2: addresses longer than the header";
		return P_ERROR;
	}
	if (!tlvs_fit(body + alen, blen - alen)) {
		*why = "v2: bad TLV";
		return P_ERROR;
	}
	if (af == V2_AF_INET) {
		set_addr(&h->src, AF_INET, body, (unsigned)body[8] << 8 | body[9]);
		set_addr(&h->dst, AF_INET, body + 4, (unsigned)body[10] << 8 | body[11]);
	} else {
		set_addr(&h->src, AF_INET6, body, (unsigned)body[32] << 8 | body[33]);
		set_addr(&h->dst, AF_INET6, body + 16, (unsigned)body[34] << 8 | body[35]);
	}
	h->has_addr = true;
	return P_OK;
}

static int parse_v2(const unsigned char *p, size_t n, struct pp_header *h, size_t *len,
		    const char **why)
{
	size_t total;

	if (n < V2_HEAD)
		return P_AGAIN;
	if (p[12] >> 4 != 2) {
		*why = "v2: unknown version";
		return P_ERROR;
	}
	if ((p[12] & 0x0f) > V2_CMD_PROXY) {
		*why = "v2: unknown command";
		return P_ERROR;
	}
	if (p[13] >> 4 > V2_AF_UNIX || (p[13] & 0x0f) > 2) {
		*why = "v2: unknown family";
		return P_ERROR;
	}
	total = V2_HEAD + ((size_t)p[14] << 8 | p[15]);
	if (total > PP_MAX) {
		*why = "v2: header too long";
		return P_ERROR;
	}
	if (n < total)
		return P_AGAIN;
	h->version = PP_V2;
	*len = total;
	/* LOCAL: the balancer speaks for itself (health checks); whatever
	 * the header holds is ignored, as the specification says. */
	if ((p[12] & 0x0f) == V2_CMD_LOCAL)
		return P_OK;
	return parse_v2_addrs(p + V2_HEAD, total - V2_HEAD, p[13], h, why);
}

int pp_parse(const void *data, size_t n, struct pp_header *h, size_t *len, const char **why)
{
	const unsigned char *p = data;

	memset(h, 0, sizeof(*h));
	*why = NULL;
	if (n == 0)
		return P_AGAIN;
	if (begins_as(p, n, v2_sig, sizeof(v2_sig)))
		return n < sizeof(v2_sig) ? P_AGAIN : parse_v2(p, n, h, len, why);
	if (begins_as(p, n, v1_prefix, sizeof(v1_prefix) - 1))
		return n < sizeof(v1_prefix) - 1 ? P_AGAIN : parse_v1(p, n, h, len, why);
	*why = "no PROXY protocol header";
	return P_ERROR;
}

/* ---- writing ---- */

/* An IPv4-mapped IPv6 address (a dual-stack socket's IPv4 peer) as the
 * IPv4 address it is. */
static void unmap(const struct sockaddr *sa, struct sockaddr_storage *out)
{
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

	if (sa->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
		set_addr(out, AF_INET, &in6->sin6_addr.s6_addr[12], ntohs(in6->sin6_port));
		return;
	}
	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET)
		memcpy(out, sa, sizeof(struct sockaddr_in));
	else if (sa->sa_family == AF_INET6)
		memcpy(out, sa, sizeof(struct sockaddr_in6));
}

/* An IPv4 address as the IPv4-mapped IPv6 address ::ffff:a.b.c.d. */
static void map_v6(struct sockaddr_storage *ss)
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
	uint8_t a[16] = { [10] = 0xff, [11] = 0xff };

	if (ss->ss_family != AF_INET)
		return;
	memcpy(a + 12, &in->sin_addr, 4);
	set_addr(ss, AF_INET6, a, ntohs(in->sin_port));
}

static bool inet_family(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET || ss->ss_family == AF_INET6;
}

static const void *addr_bytes(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return &((const struct sockaddr_in *)ss)->sin_addr;
	return &((const struct sockaddr_in6 *)ss)->sin6_addr;
}

static size_t write_v1(const struct sockaddr_storage *s, const struct sockaddr_storage *d,
		       bool known, char *out, size_t cap)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
	int n;

	if (!known)
		n = snprintf(out, cap, "PROXY UNKNOWN\r\n");
	else {
		inet_ntop(s->ss_family, addr_bytes(s), a, sizeof(a));
		inet_ntop(d->ss_family, addr_bytes(d), b, sizeof(b));
		n = snprintf(out, cap, "PROXY %s %s %s %u %u\r\n",
			     s->ss_family == AF_INET ? "TCP4" : "TCP6", a, b,
			     cidr_port_of((const struct sockaddr *)s),
			     cidr_port_of((const struct sockaddr *)d));
	}
	return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

static size_t write_v2(const struct sockaddr_storage *s, const struct sockaddr_storage *d,
		       bool known, unsigned char *out, size_t cap)
{
	size_t alen = !known ? 0 : s->ss_family == AF_INET ? 4 : 16;
	size_t body = alen ? 2 * alen + 4 : 0;
	unsigned sp, dp;

	if (cap < V2_HEAD + body)
		return 0;
	memcpy(out, v2_sig, sizeof(v2_sig));
	out[12] = 0x20 | (known ? V2_CMD_PROXY : V2_CMD_LOCAL);
	out[13] = !known ? 0 : (s->ss_family == AF_INET ? V2_AF_INET : V2_AF_INET6) << 4 |
			       V2_STREAM;
	out[14] = 0;
	out[15] = (unsigned char)body;
	if (!known)
		return V2_HEAD;
	sp = cidr_port_of((const struct sockaddr *)s);
	dp = cidr_port_of((const struct sockaddr *)d);
	memcpy(out + V2_HEAD, addr_bytes(s), alen);
	memcpy(out + V2_HEAD + alen, addr_bytes(d), alen);
	out[V2_HEAD + 2 * alen] = (unsigned char)(sp >> 8);
	out[V2_HEAD + 2 * alen + 1] = (unsigned char)sp;
	out[V2_HEAD + 2 * alen + 2] = (unsigned char)(dp >> 8);
	out[V2_HEAD + 2 * alen + 3] = (unsigned char)dp;
	return V2_HEAD + body;
}

size_t pp_write(enum pp_version version, const struct sockaddr *src, const struct sockaddr *dst,
		void *out, size_t cap)
{
	struct sockaddr_storage s, d;
	bool known;

	unmap(src, &s);
	unmap(dst, &d);
	known = inet_family(&s) && inet_family(&d);
	/* An IPv6 client (from real_ip) that reached an IPv4 address of ours,
	 * or the reverse: both written as IPv6, as HAProxy does, rather than
	 * UNKNOWN or LOCAL, which would hide the client from the server. */
	if (known && s.ss_family != d.ss_family) {
		map_v6(&s);
		map_v6(&d);
	}
	if (version == PP_V1)
		return write_v1(&s, &d, known, out, cap);
	return write_v2(&s, &d, known, out, cap);
}
