/*
 * conn.c: socket I/O with readiness flags, and the buffer free list.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/socket.h>

#include "log.h"
#include "conn.h"

ssize_t conn_recv(struct conn *c, char *buf, size_t len)
{
	ssize_t n;

	if (!c->io.readable)
		return P_AGAIN;
	for (;;) {
		n = recv(c->io.fd, buf, len, 0);
		if (n > 0) {
			/* A short read means the socket is drained; skip the
			 * recv() that would only say EAGAIN. */
			if ((size_t)n < len && !c->io.hup)
				c->io.readable = 0;
			return n;
		}
		if (n == 0)
			return P_DONE;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			c->io.readable = 0;
			return P_AGAIN;
		}
		c->err = errno;
		return P_ERROR;
	}
}

ssize_t conn_writev(struct conn *c, const struct iovec *iov, int n)
{
	struct msghdr mh = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n };
	ssize_t w;

	if (!c->io.writable)
		return P_AGAIN;
	for (;;) {
		w = sendmsg(c->io.fd, &mh, MSG_NOSIGNAL);
		if (w >= 0)
			return w;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			c->io.writable = 0;
			ev_want_write(&c->io);
			return P_AGAIN;
		}
		c->err = errno;
		return P_ERROR;
	}
}

bool conn_peer_closed(struct conn *c)
{
	char byte;
	ssize_t n = recv(c->io.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);

	return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
}

void conn_close(struct conn *c)
{
	if (c->io.fd < 0)
		return;
	close(c->io.fd);
	c->io.fd = -1;
}

/* Free buffers kept for reuse; beyond this, a burst's buffers go back to
 * the allocator instead of staying with the worker for good. */
#define BUF_FREE_MAX 128

static size_t buf_size;
static struct buf *buf_free_list;
static unsigned buf_free_count;

void buf_pool_init(size_t size)
{
	buf_size = size;
}

struct buf *buf_get(void)
{
	struct buf *b = buf_free_list;

	if (b != NULL) {
		buf_free_list = b->next_free;
		buf_free_count--;
	} else {
		b = malloc(sizeof(*b) + buf_size);
		if (b == NULL)
			return NULL;
		b->start = (char *)(b + 1);
		b->end = b->start + buf_size;
	}
	b->pos = b->last = b->start;
	b->next_free = NULL;
	return b;
}

void buf_put(struct buf *b)
{
	if (b == NULL)
		return;
	if (buf_free_count >= BUF_FREE_MAX) {
		free(b);
		return;
	}
	b->next_free = buf_free_list;
	buf_free_list = b;
	buf_free_count++;
}

void buf_compact(struct buf *b)
{
	size_t n = buf_len(b);

	if (b->pos == b->start)
		return;
	if (n)
		memmove(b->start, b->pos, n);
	b->pos = b->start;
	b->last = b->start + n;
}

int iov_advance(struct iovec *iov, int n, size_t written)
{
	int i = 0;

	while (i < n && written >= iov[i].iov_len) {
		written -= iov[i].iov_len;
		i++;
	}
	if (i < n) {
		iov[i].iov_base = (char *)iov[i].iov_base + written;
		iov[i].iov_len -= written;
	}
	return i;
}
