/*
 * head.h: the heads portico writes on the way through: the request head
 * for the upstream and the response heads for the client.
 *
 * Owns: which fields pass (hop-by-hop ones never do, nor names with "_"),
 * which portico adds on the way up (forwarding fields, Via) and the
 * framing and Connection fields both ways. What a site adds to or hides
 * from responses is a head filter's (modules/headers.c).
 */
#ifndef PORTICO_HEAD_H
#define PORTICO_HEAD_H

#include "conn.h"
#include "exchange.h"

/* The response head's kind. */
enum head_kind {
	HEAD_FINAL,		/* the response, body framed as it says */
	HEAD_FINAL_CHUNKED,	/* the response, body re-framed as chunked */
	HEAD_INTERIM,		/* a 1xx before the final response */
	HEAD_SWITCH		/* 101: the connection becomes a tunnel */
};

/* The Upgrade field's value when the request asks to switch protocols
 * (GET without a body, "Connection: upgrade"), else an empty slice. */
struct slice head_upgrade_request(const struct http_message *req);

struct head_writer;

/* Whether name is the site's request id field (request_id_header): a
 * client's own never passes, portico sends $request_id instead. */
bool head_is_request_id_field(const struct exchange *x, struct slice name);

/* The site's request id field with $request_id, when it has one. */
void head_put_request_id(struct head_writer *w, const struct exchange *x);

/* Write into b the head to send upstream (server x->up.server of
 * x->up.upstream) for x's request; returns its length, or 0 when it does
 * not fit. */
size_t head_request(const struct exchange *x, struct buf *b);

/* Write into b the head of x's response (x->resp, without the fields
 * dropped, with those added by head filters) to send the client; returns
 * its length, or 0 when it does not fit. */
size_t head_response(const struct exchange *x, struct buf *b, enum head_kind kind);

#endif
