/*
 * test_proxy_protocol.c: PROXY protocol headers. v1 and v2 carry IPv4
 * and IPv6 addresses with their ports; UNKNOWN and LOCAL keep the
 * connection's own; TLVs are skipped; a header that arrives in pieces
 * asks for more at every cut and never takes a byte past its end; what
 * is malformed is refused, and what portico writes reads back the same.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "core.h"
#include "proxy_protocol.h"
#include "tap.h"

static const unsigned char sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

/* "addr port" of a parsed address. */
static const char *text_of(const struct sockaddr_storage *ss, char *out, size_t cap)
{
	char a[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, a, sizeof(a));
		port = ntohs(((const struct sockaddr_in *)ss)->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, a, sizeof(a));
		port = ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	}
	snprintf(out, cap, "%s %u", a, port);
	return out;
}

/* A v2 header: the signature, ver_cmd, fam, and body[0..blen). */
static size_t v2(unsigned char *out, unsigned ver_cmd, unsigned fam, const void *body,
		 size_t blen)
{
	memcpy(out, sig, 12);
	out[12] = (unsigned char)ver_cmd;
	out[13] = (unsigned char)fam;
	out[14] = (unsigned char)(blen >> 8);
	out[15] = (unsigned char)blen;
	memcpy(out + 16, body, blen);
	return 16 + blen;
}

static int parse(const void *p, size_t n, struct pp_header *h, size_t *len)
{
	const char *why;

	return pp_parse(p, n, h, len, &why);
}

static void check_v1(void)
{
	const char *tcp4 = "PROXY TCP4 203.0.113.7 192.0.2.1 51234 443\r\nGET / HTTP/1.1\r\n";
	const char *tcp6 = "PROXY TCP6 2001:db8::7 2001:db8::1 65535 80\r\n";
	struct pp_header h;
	size_t len = 0;
	char t[64];

	is_int(parse(tcp4, strlen(tcp4), &h, &len), P_OK, "v1 TCP4 is read");
	is_int(len, strlen("PROXY TCP4 203.0.113.7 192.0.2.1 51234 443\r\n"),
	       "... up to its CRLF, not into the request");
	ok(h.version == PP_V1 && h.has_addr, "... as v1 with addresses");
	is_str(text_of(&h.src, t, sizeof(t)), "203.0.113.7 51234", "... the client and its port");
	is_str(text_of(&h.dst, t, sizeof(t)), "192.0.2.1 443", "... the address it reached");

	is_int(parse(tcp6, strlen(tcp6), &h, &len), P_OK, "v1 TCP6 is read");
	is_str(text_of(&h.src, t, sizeof(t)), "2001:db8::7 65535", "... the IPv6 client");
	is_str(text_of(&h.dst, t, sizeof(t)), "2001:db8::1 80", "... and destination");

	is_int(parse("PROXY UNKNOWN\r\n", 15, &h, &len), P_OK, "v1 UNKNOWN is read");
	ok(!h.has_addr && len == 15, "... without addresses");
	is_int(parse("PROXY UNKNOWN 1.2.3.4 garbage\r\n", 31, &h, &len), P_OK,
	       "v1 UNKNOWN ignores the rest of its line");
	ok(!h.has_addr, "... and keeps no address from it");
}

static void check_v1_malformed(void)
{
	static const char *const bad[] = {
		"PROXY TCP4 203.0.113.7 192.0.2.1 51234\r\n",		/* a port short */
		"PROXY TCP4 203.0.113.7 192.0.2.1 51234 443 1\r\n",	/* a word more */
		"PROXY TCP4 203.0.113.7  192.0.2.1 51234 443\r\n",	/* two spaces */
		"PROXY TCP4 203.0.113.7 192.0.2.1 51234 443 \r\n",	/* trailing space */
		"PROXY TCP4 2001:db8::7 192.0.2.1 1 2\r\n",		/* family mismatch */
		"PROXY TCP6 203.0.113.7 2001:db8::1 1 2\r\n",
		"PROXY TCP4 203.0.113.300 192.0.2.1 1 2\r\n",		/* bad address */
		"PROXY TCP4 203.0.113.7 192.0.2.1 65536 443\r\n",	/* port too large */
		"PROXY TCP4 203.0.113.7 192.0.2.1 0443 443\r\n",	/* leading zero */
		"PROXY TCP4 203.0.113.7 192.0.2.1 -1 443\r\n",
		"PROXY UDP4 203.0.113.7 192.0.2.1 1 2\r\n",		/* not TCP */
		"PROXY TCP4 203.0.113.7 192.0.2.1 1 2\n",		/* bare LF */
		"PROXY \r\n",
		"PROXY\r\n",
		"GET / HTTP/1.1\r\n",					/* no header */
		"proxy TCP4 203.0.113.7 192.0.2.1 1 2\r\n",		/* lower case */
		"\x16\x03\x01\x02\x00",					/* TLS */
	};
	char longline[200];
	struct pp_header h;
	size_t i, len;

	for (i = 0; i < ARRAY_LEN(bad); i++)
		is_int(parse(bad[i], strlen(bad[i]), &h, &len), P_ERROR,
		       "v1 malformed #%zu is refused", i);
	memset(longline, 'x', sizeof(longline));
	memcpy(longline, "PROXY UNKNOWN ", 14);
	is_int(parse(longline, PP_V1_MAX, &h, &len), P_ERROR,
	       "v1 without CRLF in 107 bytes is refused");
	is_int(parse(longline, PP_V1_MAX - 1, &h, &len), P_AGAIN,
	       "... and may still end before that");
}

static void check_v2(void)
{
	unsigned char in[256], body[64];
	unsigned char v4[12] = { 203, 0, 113, 7, 192, 0, 2, 1, 0xc8, 0x22, 0x01, 0xbb };
	struct pp_header h;
	size_t n, len = 0;
	char t[64];

	n = v2(in, 0x21, 0x11, v4, sizeof(v4));
	memcpy(in + n, "GET", 3);
	is_int(parse(in, n + 3, &h, &len), P_OK, "v2 PROXY TCP over IPv4 is read");
	is_int(len, 28, "... to its length, not into the request");
	ok(h.version == PP_V2 && h.has_addr, "... as v2 with addresses");
	is_str(text_of(&h.src, t, sizeof(t)), "203.0.113.7 51234", "... the client and its port");
	is_str(text_of(&h.dst, t, sizeof(t)), "192.0.2.1 443", "... the address it reached");

	memset(body, 0, sizeof(body));
	inet_pton(AF_INET6, "2001:db8::7", body);
	inet_pton(AF_INET6, "2001:db8::1", body + 16);
	body[32] = 0x12; body[33] = 0x34; body[34] = 0; body[35] = 80;
	n = v2(in, 0x21, 0x21, body, 36);
	is_int(parse(in, n, &h, &len), P_OK, "v2 PROXY TCP over IPv6 is read");
	is_str(text_of(&h.src, t, sizeof(t)), "2001:db8::7 4660", "... the IPv6 client");
	is_str(text_of(&h.dst, t, sizeof(t)), "2001:db8::1 80", "... and destination");

	/* TLVs: ALPN "h2" and a NOOP of 5 bytes after the addresses. */
	memcpy(body, v4, 12);
	memcpy(body + 12, "\x01\x00\x02h2\x04\x00\x05zzzzz", 13);
	n = v2(in, 0x21, 0x11, body, 25);
	is_int(parse(in, n, &h, &len), P_OK, "v2 with TLVs is read");
	ok(len == 41 && h.has_addr, "... and the TLVs skipped");
	is_str(text_of(&h.src, t, sizeof(t)), "203.0.113.7 51234", "... the addresses kept");

	n = v2(in, 0x20, 0x00, "", 0);
	is_int(parse(in, n, &h, &len), P_OK, "v2 LOCAL is read");
	ok(!h.has_addr && len == 16, "... and keeps the connection's addresses");
	n = v2(in, 0x20, 0x11, v4, sizeof(v4));
	is_int(parse(in, n, &h, &len), P_OK, "v2 LOCAL with addresses is read");
	ok(!h.has_addr && len == 28, "... which it ignores");
	n = v2(in, 0x21, 0x00, "", 0);
	is_int(parse(in, n, &h, &len), P_OK, "v2 PROXY UNSPEC is read");
	ok(!h.has_addr, "... without addresses");
}

static void check_v2_malformed(void)
{
	unsigned char v4[12] = { 203, 0, 113, 7, 192, 0, 2, 1, 0xc8, 0x22, 0x01, 0xbb };
	unsigned char in[PP_MAX + 64], body[64];
	struct pp_header h;
	size_t n, len;

	n = v2(in, 0x11, 0x11, v4, 12);
	is_int(parse(in, n, &h, &len), P_ERROR, "v2: version 1 in a v2 header is refused");
	n = v2(in, 0x22, 0x11, v4, 12);
	is_int(parse(in, n, &h, &len), P_ERROR, "v2: unknown command is refused");
	n = v2(in, 0x21, 0x41, v4, 12);
	is_int(parse(in, n, &h, &len), P_ERROR, "v2: unknown family is refused");
	n = v2(in, 0x21, 0x13, v4, 12);
	is_int(parse(in, n, &h, &len), P_ERROR, "v2: unknown transport is refused");
	n = v2(in, 0x21, 0x12, v4, 12);
	is_int(parse(in, n, &h, &len), P_ERROR, "v2: UDP is refused");
	n = v2(in, 0x21, 0x31, v4, 12);
	is_int(parse(in, n, &h, &len), P_ERROR, "v2: unix sockets are refused");
	n = v2(in, 0x21, 0x11, v4, 8);
	is_int(parse(in, n, &h, &len), P_ERROR, "v2: IPv4 addresses past the length");
	n = v2(in, 0x21, 0x21, v4, 12);
	is_int(parse(in, n, &h, &len), P_ERROR, "v2: IPv6 addresses past the length");
	memcpy(body, v4, 12);
	memcpy(body + 12, "\x01\x00\x09h2", 5);
	n = v2(in, 0x21, 0x11, body, 17);
	is_int(parse(in, n, &h, &len), P_ERROR, "v2: a TLV past the header is refused");
	memcpy(body + 12, "\x01\x00", 2);
	n = v2(in, 0x21, 0x11, body, 14);
	is_int(parse(in, n, &h, &len), P_ERROR, "v2: a cut TLV head is refused");
	memset(in, 0, sizeof(in));
	n = v2(in, 0x21, 0x11, v4, 12);
	in[14] = (unsigned char)((PP_MAX - 15) >> 8);
	in[15] = (unsigned char)(PP_MAX - 15);
	is_int(parse(in, 16, &h, &len), P_ERROR, "v2: a header longer than PP_MAX is refused");
	memcpy(in, sig, 12);
	in[5] = 0;
	is_int(parse(in, 16, &h, &len), P_ERROR, "v2: a broken signature is refused");
}

/* Fed one byte more at a time, the header wants more at every cut, and
 * whole, it is read to its end. */
static bool split_ok(const void *p, size_t n, size_t want_len)
{
	struct pp_header h;
	size_t i, len = 0;

	for (i = 0; i < want_len; i++)
		if (parse(p, i, &h, &len) != P_AGAIN)
			return false;
	return parse(p, n, &h, &len) == P_OK && len == want_len;
}

static void check_split(void)
{
	const char *tcp4 = "PROXY TCP4 203.0.113.7 192.0.2.1 51234 443\r\nGET";
	unsigned char v4[12] = { 203, 0, 113, 7, 192, 0, 2, 1, 0xc8, 0x22, 0x01, 0xbb };
	unsigned char in[64];
	size_t n;

	ok(split_ok(tcp4, strlen(tcp4), strlen(tcp4) - 3), "v1 in pieces: more wanted until CRLF");
	n = v2(in, 0x21, 0x11, v4, sizeof(v4));
	memcpy(in + n, "GET", 3);
	ok(split_ok(in, n + 3, n), "v2 in pieces: more wanted until its length");
}

/* The v1 header pp_write writes for src and dst, as a string. */
static const char *v1_of(const void *src, const void *dst)
{
	static char out[PP_V1_MAX + 1];

	out[pp_write(PP_V1, src, dst, out, sizeof(out) - 1)] = '\0';
	return out;
}

/* The length of the v2 header pp_write writes for src and dst, read back
 * whole into *h; 0 when it does not read back. */
static size_t v2_back(const void *src, const void *dst, struct pp_header *h)
{
	unsigned char out[128];
	size_t n = pp_write(PP_V2, src, dst, out, sizeof(out)), len;

	return n > 0 && parse(out, n, h, &len) == P_OK && len == n ? n : 0;
}

static void check_write(void)
{
	struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons(51234) };
	struct sockaddr_in d4 = { .sin_family = AF_INET, .sin_port = htons(8080) };
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(1) };
	struct sockaddr_in6 d6 = { .sin6_family = AF_INET6, .sin6_port = htons(443) };
	struct sockaddr_in6 m6 = { .sin6_family = AF_INET6, .sin6_port = htons(2) };
	struct pp_header h;
	char t[64];

	inet_pton(AF_INET, "203.0.113.7", &s4.sin_addr);
	inet_pton(AF_INET, "192.0.2.1", &d4.sin_addr);
	inet_pton(AF_INET6, "2001:db8::7", &s6.sin6_addr);
	inet_pton(AF_INET6, "2001:db8::1", &d6.sin6_addr);
	inet_pton(AF_INET6, "::ffff:198.51.100.9", &m6.sin6_addr);

	is_str(v1_of(&s4, &d4), "PROXY TCP4 203.0.113.7 192.0.2.1 51234 8080\r\n", "v1 written");
	is_str(v1_of(&s6, &d6), "PROXY TCP6 2001:db8::7 2001:db8::1 1 443\r\n", "v1 IPv6 written");
	is_str(v1_of(&m6, &d4), "PROXY TCP4 198.51.100.9 192.0.2.1 2 8080\r\n",
	       "v1: an IPv4-mapped address is written as IPv4");
	is_str(v1_of(&s6, &d4), "PROXY TCP6 2001:db8::7 ::ffff:192.0.2.1 1 8080\r\n",
	       "v1: an IPv6 client to an IPv4 address is written as IPv6, the IPv4 one mapped");
	is_str(v1_of(&s4, &d6), "PROXY TCP6 ::ffff:203.0.113.7 2001:db8::1 51234 443\r\n",
	       "v1: an IPv4 client to an IPv6 address too");
	is_str(v1_of(&m6, &d6), "PROXY TCP6 ::ffff:198.51.100.9 2001:db8::1 2 443\r\n",
	       "v1: an IPv4-mapped client to an IPv6 address stays mapped");

	ok(v2_back(&s4, &d4, &h) == 28 && h.has_addr, "v2 IPv4 written reads back");
	is_str(text_of(&h.src, t, sizeof(t)), "203.0.113.7 51234", "... the client");
	is_str(text_of(&h.dst, t, sizeof(t)), "192.0.2.1 8080", "... the destination");
	ok(v2_back(&s6, &d6, &h) == 52 && h.has_addr, "v2 IPv6 written reads back");
	is_str(text_of(&h.src, t, sizeof(t)), "2001:db8::7 1", "... the client");
	ok(v2_back(&s6, &d4, &h) == 52 && h.has_addr,
	   "v2: an IPv6 client to an IPv4 address is written as IPv6");
	is_str(text_of(&h.src, t, sizeof(t)), "2001:db8::7 1", "... the client");
	is_str(text_of(&h.dst, t, sizeof(t)), "::ffff:192.0.2.1 8080",
	       "... the destination mapped");
	ok(v2_back(&s4, &d6, &h) == 52 && h.has_addr, "v2: an IPv4 client to an IPv6 address too");
	is_str(text_of(&h.src, t, sizeof(t)), "::ffff:203.0.113.7 51234", "... the client mapped");
}

int main(void)
{
	check_v1();
	check_v1_malformed();
	check_v2();
	check_v2_malformed();
	check_split();
	check_write();
	return done_testing();
}
