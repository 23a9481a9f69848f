/*
 * conn.h: a connection's byte I/O and the worker's buffers.
 *
 * Owns: reading and writing a socket with the readiness flags of its
 * ev_io, in the clear or through TLS (OpenSSL reads and writes the socket
 * through a BIO of ours that keeps those flags, so a TLS connection waits
 * on epoll exactly as a plain one does), and the free list of fixed-size
 * buffers. Callers see bytes, never the socket.
 */
#ifndef PORTICO_CONN_H
#define PORTICO_CONN_H

#include <sys/types.h>
#include <sys/uio.h>

#include <openssl/ssl.h>

#include "core.h"
#include "event.h"

struct conn {
	struct ev_io io;
	int err;		/* errno of the last failed call */
	SSL *ssl;		/* NULL: in the clear */
	bool read_wants_write;	/* TLS: the last read must write first */
	bool write_pending;	/* TLS: a record is made and waits for the
				 * socket; only the same bytes may follow */
};

/* From now on c's bytes go through ssl (taken over: conn_close frees
 * it). -1 when out of memory. */
int conn_tls_attach(struct conn *c, SSL *ssl);

/* Advance c's TLS handshake: P_OK when done, P_AGAIN, or P_ERROR (the
 * reason in tls_error_string(), c->err set for a socket error). */
int conn_handshake(struct conn *c);

/* Whether a read may return bytes without waiting for the socket: it is
 * readable, or TLS holds bytes already read from it. */
bool conn_has_input(const struct conn *c);

/* We will write no more: TLS close_notify, then the TCP half-close.
 * -1 when the socket is already gone. */
int conn_shutdown(struct conn *c);

/* Read up to len bytes. Returns the count, P_AGAIN, P_DONE at end of
 * stream, or P_ERROR (c->err set). */
ssize_t conn_recv(struct conn *c, char *buf, size_t len);

/* Write iov[0..n). Returns the count written (possibly partial),
 * P_AGAIN, or P_ERROR (c->err set). */
ssize_t conn_writev(struct conn *c, const struct iovec *iov, int n);
/* The same, when more bytes follow at once: the kernel keeps a last
 * packet that is not full for them (in the clear; TLS writes as is). */
ssize_t conn_writev_more(struct conn *c, const struct iovec *iov, int n);

/* After a hang-up event: whether the peer has really closed or reset
 * (no byte is waiting to be read before the end). */
bool conn_peer_closed(struct conn *c);

/* Close the socket (and free the TLS state); c->io.fd becomes -1. */
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
