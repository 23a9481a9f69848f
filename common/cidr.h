/*
 * cidr.h: address prefixes as operators write them ("10.0.0.0/8",
 * "2001:db8::/32", "127.0.0.1") and whether a client's address is in
 * one. A list here is scanned: it is meant for the short lists of who may
 * do what (cache_purge). Lists that may be long (allow, deny, geo) are
 * looked up in a prefix tree (prefix_tree.h).
 */
#ifndef PORTICO_CIDR_H
#define PORTICO_CIDR_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

struct sockaddr;

struct cidr {
	uint8_t addr[16];		/* IPv4 as ::ffff:a.b.c.d */
	unsigned bits;			/* of the 128 */
};

/* Parse text; 0, or -1 with a reason in err. Bits past the prefix must
 * be zero ("10.0.0.1/8" is refused: it says less than it seems to). */
int cidr_parse(const char *text, struct cidr *out, char *err, size_t errlen);

/* A socket address (IPv4 or IPv6) as the 16 bytes prefixes hold; any
 * other (a unix socket's) as the unspecified address "::". */
void cidr_addr_of(const struct sockaddr *sa, uint8_t out[16]);

/* The port of a socket address (IPv4 or IPv6), in host order; 0 for any
 * other. */
unsigned cidr_port_of(const struct sockaddr *sa);

/* What a peer with no address (a client of a unix socket) is taken for
 * in the lists of trusted senders (proxy_protocol_from, real_ip_from):
 * it is on this machine, so it is trusted as 127.0.0.1 is. In any other
 * list it matches nothing. */
extern const uint8_t cidr_local_peer[16];

/* Whether addr (16 bytes, as cidr_addr_of makes) is in c; in one of the
 * n prefixes of list (never when addr is NULL: a peer without one). */
bool cidr_contains(const struct cidr *c, const uint8_t addr[16]);
bool cidr_list_match(const struct cidr *list, unsigned n, const uint8_t addr[16]);

/* Write c back as parsed: "10.0.0.0/8", "::1/128". */
void cidr_format(const struct cidr *c, char *out, size_t len);

#endif
