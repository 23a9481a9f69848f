/*
 * proxy_state.h: what the upstream module keeps in each exchange it
 * serves (x->up): the server it tries, the connection, and the response
 * as it comes in. Only proxy.c reads or writes it.
 */
#ifndef PORTICO_PROXY_STATE_H
#define PORTICO_PROXY_STATE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "balance.h"

struct upstream;
struct upconn;
struct buf;

struct proxy_state {
	struct upstream *upstream;
	struct upconn *uc;
	struct pick pick;		/* servers tried, hash key */
	unsigned server;		/* of the current attempt */
	uint64_t first_try;		/* ms, for retry_timeout */
	uint64_t try_start_us;		/* of the current attempt */
	bool connect_timed_out;		/* an attempt did: 504, not 502 */
	bool req_failed;		/* sending the request failed ... */
	int req_err;			/* ... with this errno */
	bool reusable;			/* the connection may be kept */
	bool interim_pending;		/* a 1xx is being written to the client */
	struct buf *req_head;		/* head we send upstream */
	struct buf *in;			/* bytes read from the server */
	size_t scanned;			/* http_head_scan progress in in */
	size_t in_bytes;		/* read from the server so far */
	/* client_body_min_rate: when the request body began to be read, in
	 * ms, moved on by the time the server took to accept it (which is
	 * not the client's), and since when the body waits on the server */
	uint64_t body_start;
	uint64_t server_wait_since;
	bool waiting_server;
};

#endif
