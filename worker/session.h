/*
 * session.h: an HTTP/1.1 client connection, the carrier of one exchange
 * at a time.
 *
 * Owns: the client side of the request path up to a complete request
 * head (accept, TLS handshake, reading and scanning the head), the
 * connection between exchanges (keep-alive, pipelining, lingering close),
 * the one place a client connection is closed, and the per-worker free
 * list of sessions.
 *
 * A session's life: SS_PROXY (a PROXY protocol header, on listeners that
 * take one) -> SS_HANDSHAKE (TLS) -> SS_IDLE -> SS_HEAD -> SS_EXCHANGE
 * (an exchange runs and the connection's events are its) -> SS_AFTER (it
 * ended) -> SS_IDLE or SS_HEAD again (keep-alive, pipelining), or
 * SS_LINGER, or closed. Every step runs from the run queue: the end of an
 * exchange posts the session, it never reads the next request on the
 * exchange's stack.
 */
#ifndef PORTICO_SESSION_H
#define PORTICO_SESSION_H

#include <netinet/in.h>
#include <arpa/inet.h>

#include "conf.h"
#include "conn.h"
#include "context.h"
#include "event.h"

struct exchange;

enum session_state {
	SS_HANDSHAKE = 0,	/* TLS handshake, before the first request */
	SS_IDLE,		/* between requests, no byte of the next yet */
	SS_HEAD,		/* reading a request head */
	SS_EXCHANGE,		/* an exchange runs */
	SS_AFTER,		/* the exchange ended: what next */
	SS_LINGER,		/* answered and half-closed, draining the rest */
	SS_PROXY		/* reading a PROXY protocol header, first of all */
};

struct session {
	struct conn client;		/* first: the ev_io leads to us */
	struct ev_task task;
	struct ev_timer timer;
	const struct conf_listen *listen;
	char peer[INET6_ADDRSTRLEN];
	uint8_t peer_bin[16];		/* the same, for prefixes (cidr.h) */
	uint16_t peer_port;
	bool addrless;			/* a unix socket's client, with no PROXY
					 * header: peer is "unix:" */
	/* the address the client connected to, for PROXY protocol headers
	 * to servers: only kept when an upstream sends them */
	uint8_t local_bin[16];
	uint16_t local_port;
	struct buf *in;			/* bytes read from the client */
	size_t scanned;			/* http_head_scan progress in in */
	uint8_t state;			/* enum session_state */
	bool plain_on_tls;		/* spoke plain HTTP to a TLS listener */
	const struct conf_site *tls_site;	/* TLS: the site SNI chose */
	char *client_subject;		/* TLS: verified client certificate's */
	struct exchange *x;		/* while SS_EXCHANGE and SS_AFTER */
	struct session *prev, *next;	/* open sessions, or the free list */
};

/* Before serving: keep the worker's context, and make the context each
 * TLS listener's handshakes start with. -1 when out of memory. */
int session_init(const struct worker_ctx *ctx);

/* Start serving a connection accepted on lst; takes ownership of fd. */
void session_accept(int fd, const struct conf_listen *lst,
		    const struct sockaddr *peer);

/* For tls_worker_init(): the site a ClientHello's server name picks on
 * the listener of the connection (the SSL's app data), as the Host field
 * would; it is remembered as the session's TLS site. */
struct conf_site_tls *session_site_by_sni(SSL *ssl, const char *name, size_t len);

/* Graceful stop (the context says quitting): close idle connections
 * soon, and the others once their current exchange ends. */
void session_quit_all(void);

/* The worker stops now: every exchange in progress ends (logged with
 * TERM_KILLED); run the queue to let them finish. */
void session_kill_all(void);

/* Open client connections. */
unsigned session_count(void);

#endif
