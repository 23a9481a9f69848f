/*
 * conn.h: a connection's byte I/O and the worker's buffers.
 *
 * Owns: reading and writing a socket with the readiness flags of its
 * ev_io, and the free list of fixed-size buffers. This is the layer TLS
 * will sit in: callers see bytes, never the socket.
 */
#ifndef PORTICO_CONN_H
#define PORTICO_CONN_H

#include <sys/types.h>
#include <sys/uio.h>

#include "core.h"
#include "event.h"

struct conn {
	struct ev_io io;
	int err;		/* errno of the last failed call */
};

/* Read up to len bytes. Returns the count, P_AGAIN, P_DONE at end of
 * stream, or P_ERROR (c->err set). */
ssize_t conn_recv(struct conn *c, char *buf, size_t len);

/* Write iov[0..n). Returns the count written (possibly partial),
 * P_AGAIN, or P_ERROR (c->err set). */
ssize_t conn_writev(struct conn *c, const struct iovec *iov, int n);

/* After a hang-up event: whether the peer has really closed or reset
 * (no byte is waiting to be read before the end). */
bool conn_peer_closed(struct conn *c);

/* Close the socket; c->io.fd becomes -1. */
void conn_close(struct conn *c);

/* A buffer: [start, end) memory, [pos, last) the bytes not yet used. */
struct buf {
	char *start, *pos, *last, *end;
	struct buf *next_free;
};

void buf_pool_init(size_t size);
struct buf *buf_get(void);		/* NULL when out of memory */
void buf_put(struct buf *b);		/* NULL is fine */

static inline size_t buf_len(const struct buf *b)
{
	return (size_t)(b->last - b->pos);
}

static inline size_t buf_room(const struct buf *b)
{
	return (size_t)(b->end - b->last);
}

/* Move the unused bytes to the start, to make room at the end. */
void buf_compact(struct buf *b);

/* Consume n bytes from the front of an iovec array after a partial
 * write; returns the new start index. */
int iov_advance(struct iovec *iov, int n, size_t written);

#endif
