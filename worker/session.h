/*
 * session.h: a client connection and the exchange (one request and its
 * response) in progress on it.
 *
 * Owns: the client side of the request path (accept, read and parse the
 * head, pick site and route, portico's own responses, keep-alive,
 * pipelining, the one place a client connection is closed) and the
 * per-worker free lists of sessions and exchanges. proxy.c drives the
 * upstream half of an exchange.
 */
#ifndef PORTICO_SESSION_H
#define PORTICO_SESSION_H

#include <netinet/in.h>
#include <arpa/inet.h>

#include "conf.h"
#include "conn.h"
#include "pump.h"
#include "http_parse.h"
#include "balance.h"

struct upconn;
struct upstream;

enum session_state {
	SS_IDLE = 0,		/* between requests, no byte of the next yet */
	SS_HEAD,		/* reading a request head */
	SS_PROXY,		/* exchange with an upstream in progress */
	SS_RESPOND,		/* sending portico's own response */
	SS_LINGER,		/* answered and half-closed, draining the rest */
	SS_HANDSHAKE		/* TLS handshake, before the first request */
};

struct exchange {
	struct http_message req;
	struct http_message resp;
	const struct conf_site *site;
	const struct conf_route *route;

	/* upstream side */
	struct upstream *up;
	struct upconn *uc;
	struct pick pick;		/* servers tried, hash key */
	unsigned server;		/* of the current attempt */
	uint64_t first_try;		/* ms, for retry_timeout */
	uint64_t try_start_us;		/* for the ewma sample */
	bool connect_timed_out;
	bool connecting;
	bool req_done;			/* request head and body sent */
	bool req_failed;		/* sending the request failed */
	int req_err;			/* ... with this errno */
	bool resp_head_done;
	bool resp_done;
	bool resp_reusable;		/* the upstream connection may be kept */
	bool interim_pending;		/* a 1xx is being written to the client */
	bool tunnel;			/* switched protocols: bytes both ways */
	struct buf *req_head;		/* head we send upstream */
	struct buf *resp_head;		/* head we send the client */
	struct buf *uin;		/* bytes read from the upstream */
	size_t uscanned;		/* http_head_scan progress in uin */
	size_t uin_bytes;		/* read from the upstream so far */
	struct pump req_pump;		/* client -> upstream */
	struct pump resp_pump;		/* upstream -> client, or own reply */
	uint64_t progress_seen;		/* for "time since last byte" timers */

	/* for the access log, copied because the buffer moves on */
	int status;
	const char *upstream_addr;
	uint64_t start_ms;
	/* Only the first byte of these is cleared for a new exchange. */
	char request_line[1024];
	char referer[256];
	char user_agent[512];

	struct exchange *next_free;
};

struct session {
	struct conn client;		/* first: the ev_io leads to us */
	struct ev_timer timer;
	const struct conf_listen *listen;
	char peer[INET6_ADDRSTRLEN];
	struct buf *in;			/* bytes read from the client */
	size_t scanned;			/* http_head_scan progress in in */
	uint8_t state;			/* enum session_state */
	bool keep_alive;		/* the connection outlives this exchange */
	bool plain_on_tls;		/* spoke plain HTTP to a TLS listener */
	const struct conf_site *tls_site;	/* TLS: the site SNI chose */
	char *client_subject;		/* TLS: verified client certificate's */
	struct exchange *x;		/* NULL between requests */
	struct session *prev, *next;	/* open sessions, or the free list */
};

/* Start serving a connection accepted on lst; takes ownership of fd. */
void session_accept(int fd, const struct conf_listen *lst,
		    const struct sockaddr *peer);

/* Before serving: the context each TLS listener's handshakes start with.
 * -1 when out of memory. */
int session_init(void);

/* For tls_worker_init(): the site a ClientHello's server name picks on
 * the listener of the connection (the SSL's app data), as the Host field
 * would; it is remembered as the session's TLS site. */
struct conf_site_tls *session_site_by_sni(SSL *ssl, const char *name, size_t len);

/* Graceful stop: close idle connections now, and the others once their
 * current exchange ends. */
void session_quit_all(void);

/* Open client connections. */
unsigned session_count(void);

/* Called by proxy.c when the exchange is over (all of the response went
 * to the client, or it was given up). */
void session_exchange_done(struct session *s);

/* Answer with portico's own page for status and end the exchange; with
 * close, the connection closes after it. */
void session_respond(struct session *s, int status, bool close);

/* The same with a body of portico's own (body[0..len) is copied; it must
 * fit a buffer with the head). */
void session_respond_body(struct session *s, int status, bool close, const char *type,
			  const char *body, size_t len);

/* Whether the client's connection is TLS. */
static inline bool session_is_tls(const struct session *s)
{
	return s->client.ssl != NULL;
}

/* Close the client connection and release everything; reason is logged
 * at debug level (or info when it is an error). */
void session_close(struct session *s, const char *reason);

/* Log with the connection's context appended (client, request). */
void session_log(const struct session *s, int level, int err,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Whether the worker is stopping gracefully. */
extern bool session_quitting;

#endif
