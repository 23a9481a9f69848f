/*
 * cidr.c: address prefixes.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"

static const uint8_t v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

const uint8_t cidr_local_peer[16] = { [10] = 0xff, [11] = 0xff, [12] = 127, [15] = 1 };

/* The address as 16 bytes; false when it is none. */
static bool to_v6(const char *text, uint8_t out[16], bool *v4)
{
	struct in_addr a4;

	if (inet_pton(AF_INET, text, &a4) == 1) {
		memcpy(out, v4_mapped, 12);
		memcpy(out + 12, &a4, 4);
		*v4 = true;
		return true;
	}
	*v4 = false;
	return inet_pton(AF_INET6, text, out) == 1;
}

static bool host_bits_zero(const struct cidr *c)
{
	unsigned i;

	for (i = c->bits; i < 128; i++)
		if (c->addr[i / 8] & (0x80 >> (i % 8)))
			return false;
	return true;
}

int cidr_parse(const char *text, struct cidr *out, char *err, size_t errlen)
{
	char addr[64], *end;
	const char *slash = strchr(text, '/');
	size_t n = slash ? (size_t)(slash - text) : strlen(text);
	unsigned long bits;
	bool v4;

	if (n == 0 || n >= sizeof(addr)) {
		snprintf(err, errlen, "not an address or prefix");
		return -1;
	}
	memcpy(addr, text, n);
	addr[n] = '\0';
	if (!to_v6(addr, out->addr, &v4)) {
		snprintf(err, errlen, "\"%s\" is not an IPv4 or IPv6 address", addr);
		return -1;
	}
	out->bits = 128;
	if (slash != NULL) {
		bits = strtoul(slash + 1, &end, 10);
		if (slash[1] < '0' || slash[1] > '9' || *end != '\0' || bits > (v4 ? 32u : 128u)) {
			snprintf(err, errlen, "bad prefix length \"%s\" (at most %u)", slash + 1,
				 v4 ? 32 : 128);
			return -1;
		}
		out->bits = (unsigned)bits + (v4 ? 96 : 0);
	}
	if (!host_bits_zero(out)) {
		snprintf(err, errlen, "\"%s\" has bits set after its prefix length", text);
		return -1;
	}
	return 0;
}

void cidr_addr_of(const struct sockaddr *sa, uint8_t out[16])
{
	if (sa->sa_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	} else if (sa->sa_family == AF_INET) {
		memcpy(out, v4_mapped, 12);
		memcpy(out + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else {
		memset(out, 0, 16);
	}
}

unsigned cidr_port_of(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	return 0;
}

bool cidr_contains(const struct cidr *c, const uint8_t a[16])
{
	unsigned full = c->bits / 8, rest = c->bits % 8;

	if (memcmp(c->addr, a, full) != 0)
		return false;
	return rest == 0 || ((c->addr[full] ^ a[full]) & (uint8_t)(0xff00 >> rest)) == 0;
}

bool cidr_list_match(const struct cidr *list, unsigned n, const uint8_t addr[16])
{
	unsigned i;

	for (i = 0; addr != NULL && i < n; i++)
		if (cidr_contains(&list[i], addr))
			return true;
	return false;
}

void cidr_format(const struct cidr *c, char *out, size_t len)
{
	char text[INET6_ADDRSTRLEN];

	if (c->bits >= 96 && memcmp(c->addr, v4_mapped, 12) == 0) {
		inet_ntop(AF_INET, c->addr + 12, text, sizeof(text));
		snprintf(out, len, "%s/%u", text, c->bits - 96);
	} else {
		inet_ntop(AF_INET6, c->addr, text, sizeof(text));
		snprintf(out, len, "%s/%u", text, c->bits);
	}
}
