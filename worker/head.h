/*
 * head.h: the heads portico writes on the way through: the request head
 * for the upstream and the response heads for the client.
 *
 * Owns: which fields pass (hop-by-hop ones never do, nor names with "_"),
 * which portico adds (forwarding fields, Via, framing, Connection), and
 * which it hides (the backend's Server).
 */
#ifndef PORTICO_HEAD_H
#define PORTICO_HEAD_H

#include "conn.h"
#include "session.h"

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

/* Write into b the head to send upstream for s's request; returns its
 * length, or 0 when it does not fit. */
size_t head_request(const struct session *s, struct buf *b);

/* Write into b the head of s's response (s->x->resp) to send the client;
 * returns its length, or 0 when it does not fit. */
size_t head_response(const struct session *s, struct buf *b, enum head_kind kind);

#endif
