/*
 * proxy_protocol.h: the PROXY protocol header (HAProxy's
 * doc/proxy-protocol.txt) that a balancer in front of portico sends
 * before the client's first byte, and that portico sends to servers.
 *
 * Owns: reading a v1 (text) or v2 (binary) header from the bytes a
 * connection starts with, and writing one. Pure functions over bytes:
 * the worker peeks at the socket, asks how long the header is, and reads
 * exactly that much, so no byte of TLS or HTTP is taken with it.
 */
#ifndef PORTICO_PROXY_PROTOCOL_H
#define PORTICO_PROXY_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* A v1 header is at most 107 bytes (the specification's bound); a v2
 * header's length is in it, and one longer than this (TLVs that large)
 * is refused: 16 bytes, two IPv6 addresses and ports, and room to spare
 * for the TLVs balancers add (AWS, Azure, GCP: tens of bytes). */
#define PP_V1_MAX 107
#define PP_MAX 1024

enum pp_version {
	PP_OFF = 0,
	PP_V1,
	PP_V2
};

struct pp_header {
	enum pp_version version;
	/* false for v1 UNKNOWN, a v2 LOCAL command or a v2 family other
	 * than TCP over IPv4/IPv6: the connection's own addresses stand */
	bool has_addr;
	struct sockaddr_storage src;	/* the client, with its port */
	struct sockaddr_storage dst;	/* the address it connected to */
};

/*
 * Read the header at the start of p[0..n). P_OK with the header's whole
 * length in *len and h filled; P_AGAIN when p is a valid beginning of a
 * header that needs more bytes; P_ERROR when it is no header or a
 * malformed one, with a short reason in *why.
 */
int pp_parse(const void *p, size_t n, struct pp_header *h, size_t *len, const char **why);

/*
 * Write a header of version (PP_V1, PP_V2) for a connection from src to
 * dst into out (at least PP_V1_MAX bytes; v2 needs 52 at most).
 * IPv4-mapped IPv6 addresses are written as IPv4; when one address is
 * IPv4 and the other IPv6, both are written as IPv6 (the IPv4 one as
 * ::ffff:a.b.c.d); an address of another family makes the header say
 * UNKNOWN (v1) or LOCAL (v2). Returns its length.
 */
size_t pp_write(enum pp_version version, const struct sockaddr *src, const struct sockaddr *dst,
		void *out, size_t cap);

#endif
