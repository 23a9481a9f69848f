/*
 * upstream.h: a worker's view of its upstreams: which server takes the
 * next request, and the connections to servers (connecting, in use, or
 * idle in the keep-alive pool).
 *
 * Owns: the runtime form of each upstream (its balancer state lives in
 * balance.c), the connections and their idle pools, and the count of open
 * exchanges per server in the shared health table.
 */
#ifndef PORTICO_UPSTREAM_H
#define PORTICO_UPSTREAM_H

#include "conf.h"
#include "conn.h"
#include "context.h"
#include "health.h"
#include "tls.h"

struct upstream;
struct ring_point;

/* Whom a connection to a server speaks for, when its upstream sends a
 * PROXY protocol header: the client, and the address it connected to
 * (16 bytes as cidr.h holds them, and ports), or nobody known (a unix
 * socket's client: the header then says UNKNOWN, or LOCAL in v2). */
struct upconn_client {
	bool addrless;
	uint8_t addr[16];
	uint16_t port;
	uint8_t local[16];
	uint16_t local_port;
};

struct upconn {
	struct conn conn;
	struct upstream *up;
	unsigned server;		/* index in up->conf->servers */
	bool reused;			/* came from the idle pool */
	bool counted;			/* in the server's open exchanges */
	bool connected;			/* TCP connect done */
	bool ready;			/* ... and the TLS handshake, if any */
	struct upconn_client client;	/* the header's: with one, a connection
					 * serves this client address only */
	void *owner;			/* the exchange using it */
	struct upconn *prev, *next;	/* idle list, or free list */
};

struct upstream_server {
	int current_weight;		/* smooth weighted round robin state */
	struct upconn *idle;		/* most recently used first */
	struct health_peer *peer;	/* shared state */
	struct tls_server_key tls_key;	/* names its TLS session in the cache */
};

struct upstream {
	const struct conf_upstream *conf;
	struct upstream_server *servers;
	unsigned nidle;
	struct ring_point *ring;	/* consistent hashing, sorted */
	unsigned nring;
};

/* Build the runtime state for every upstream of the configuration ctx
 * serves; -1 on no memory. */
int upstream_init_all(const struct worker_ctx *ctx);

/* Runtime state of a configured upstream. */
struct upstream *upstream_of(const struct conf_upstream *cu);

/* A failed attempt on server s of up: counted in stats, and for the
 * kinds (CONF_FAIL_*) fail_on names, held against the server, which may
 * mark it down. */
void upstream_note_failure(struct upstream *up, unsigned s, unsigned kind,
			   struct stats_proc *stats);

/* A final answer's head came from server s, try_us after the attempt
 * began: what its health learns (a 5xx is a failure of kind 5xx). */
void upstream_note_answer(struct upstream *up, unsigned s, int status, uint64_t try_us,
			  struct stats_proc *stats);

/*
 * A connection to server s of up, for owner, whose client is client: an
 * idle pooled one when pooled and there is one (when the upstream sends
 * PROXY headers, only one that was opened for the same client address),
 * else a new non-blocking connect. Returns P_OK (usable now), P_AGAIN
 * (connect in progress: finish with upstream_finish_connect() once
 * writable), or P_ERROR with errno in *err.
 */
int upstream_connect(struct upstream *up, unsigned s, void *owner,
		     ev_io_cb cb, bool pooled, const struct upconn_client *client,
		     struct upconn **out, int *err);

/*
 * Drive a connection that upstream_connect() left in progress: the TCP
 * connect, the PROXY protocol header when the upstream sends one, then
 * the TLS handshake when the upstream has TLS. P_OK when it
 * is ready for the request, P_AGAIN, or P_ERROR: *why is NULL when the
 * connect failed (uc->conn.err says why), else the TLS failure's reason.
 */
int upstream_finish_connect(struct upconn *uc, const char **why);

/* Done with uc: keep it idle for reuse when reusable and the pool has
 * room, else close it. */
void upstream_release(struct upconn *uc, bool reusable);

/* Close every idle connection (graceful stop). */
void upstream_close_idle(void);

/* "1.2.3.4:80" of the connection's server. */
const char *upconn_addr(const struct upconn *uc);

/* Open upstream connections, for the worker's connection cap. */
unsigned upstream_open_count(void);

#endif
