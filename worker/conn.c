/*
 * conn.c: socket I/O with readiness flags, in the clear or through TLS,
 * and the buffer free list.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/socket.h>

#include <openssl/err.h>

#include "log.h"
#include "conn.h"

/* The largest TLS record's payload: one SSL_write, one record. */
#define TLS_RECORD_MAX 16384

static ssize_t plain_recv(struct conn *c, char *buf, size_t len)
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

/* A write that would block: say so, and be told when it would not. */
static void write_blocked(struct conn *c)
{
	c->io.writable = 0;
	ev_want_write(&c->io);
}

static ssize_t plain_sendmsg(struct conn *c, const struct iovec *iov, int n, int flags)
{
	struct msghdr mh = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n };
	ssize_t w;

	if (!c->io.writable)
		return P_AGAIN;
	for (;;) {
		w = sendmsg(c->io.fd, &mh, MSG_NOSIGNAL | flags);
		if (w >= 0)
			return w;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			write_blocked(c);
			return P_AGAIN;
		}
		c->err = errno;
		return P_ERROR;
	}
}

static ssize_t plain_writev(struct conn *c, const struct iovec *iov, int n)
{
	return plain_sendmsg(c, iov, n, 0);
}

/*
 * The BIO under every TLS connection: the socket, read and written with
 * the same readiness flags as plain I/O, so that OpenSSL never makes a
 * call that epoll has already answered.
 */
static BIO_METHOD *socket_bio;

static int bio_read(BIO *b, char *buf, int len)
{
	struct conn *c = BIO_get_data(b);
	ssize_t n;

	BIO_clear_retry_flags(b);
	n = plain_recv(c, buf, (size_t)len);
	if (n >= 0)
		return (int)n;
	if (n == P_DONE)
		return 0;
	if (n == P_AGAIN)
		BIO_set_retry_read(b);
	return -1;
}

static int bio_write(BIO *b, const char *data, int len)
{
	struct conn *c = BIO_get_data(b);
	struct iovec iov = { (void *)data, (size_t)len };
	ssize_t n;

	BIO_clear_retry_flags(b);
	n = plain_writev(c, &iov, 1);
	if (n >= 0)
		return (int)n;
	if (n == P_AGAIN)
		BIO_set_retry_write(b);
	return -1;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	/* Every write went to the socket already: nothing to flush. */
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static BIO_METHOD *socket_bio_method(void)
{
	if (socket_bio != NULL)
		return socket_bio;
	socket_bio = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "portico socket");
	if (socket_bio == NULL || BIO_meth_set_read(socket_bio, bio_read) != 1 ||
	    BIO_meth_set_write(socket_bio, bio_write) != 1 ||
	    BIO_meth_set_ctrl(socket_bio, bio_ctrl) != 1 ||
	    BIO_meth_set_create(socket_bio, bio_create) != 1) {
		BIO_meth_free(socket_bio);
		socket_bio = NULL;
	}
	return socket_bio;
}

int conn_tls_attach(struct conn *c, SSL *ssl)
{
	BIO_METHOD *m = socket_bio_method();
	BIO *b = m ? BIO_new(m) : NULL;

	if (b == NULL) {
		SSL_free(ssl);
		return -1;
	}
	BIO_set_data(b, c);
	SSL_set_bio(ssl, b, b);
	c->ssl = ssl;
	c->read_wants_write = false;
	c->write_pending = false;
	return 0;
}

/*
 * SSL_get_error() reads the thread's error queue, which must be empty
 * before each SSL call. Clearing it walks every slot; looking costs
 * little, and on the hot path it is almost always empty already.
 */
static inline void tls_clear_errors(void)
{
	if (ERR_peek_error() != 0)
		ERR_clear_error();
}

/* What an SSL call's failure means for the caller. */
static int tls_result(struct conn *c, int ret)
{
	switch (SSL_get_error(c->ssl, ret)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return P_AGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return P_DONE;
	case SSL_ERROR_SYSCALL:
		if (c->err == 0)
			c->err = errno ? errno : EPIPE;
		return P_ERROR;
	default:
		/* A peer that closes without close_notify, as most HTTP
		 * clients do, has still closed. */
		if (ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
			ERR_clear_error();
			return P_DONE;
		}
		c->err = EPROTO;
		return P_ERROR;
	}
}

int conn_handshake(struct conn *c)
{
	int r;

	tls_clear_errors();
	r = SSL_do_handshake(c->ssl);
	return r == 1 ? P_OK : tls_result(c, r);
}

static ssize_t tls_recv(struct conn *c, char *buf, size_t len)
{
	size_t n;
	int r;

	if (!conn_has_input(c) && !(c->read_wants_write && c->io.writable))
		return P_AGAIN;
	tls_clear_errors();
	r = SSL_read_ex(c->ssl, buf, len, &n);
	if (r == 1) {
		c->read_wants_write = false;
		return (ssize_t)n;
	}
	c->read_wants_write = SSL_get_error(c->ssl, r) == SSL_ERROR_WANT_WRITE;
	return tls_result(c, r);
}

/* One record's worth of iov, gathered: a head and its first body bytes
 * leave as one record and one send. When a write must wait, OpenSSL keeps
 * the record; the retry gathers the same bytes (the pump only ever adds
 * behind them), as SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER allows. */
static ssize_t tls_writev(struct conn *c, const struct iovec *iov, int n)
{
	static char gather[TLS_RECORD_MAX];
	const char *data = iov[0].iov_base;
	size_t len = iov[0].iov_len, written;
	int i, r;

	if (!c->io.writable)
		return P_AGAIN;
	if (n > 1 && len < TLS_RECORD_MAX) {
		for (i = 0, len = 0; i < n && len < sizeof(gather); i++) {
			size_t k = MIN(iov[i].iov_len, sizeof(gather) - len);

			memcpy(gather + len, iov[i].iov_base, k);
			len += k;
		}
		data = gather;
	}
	if (len == 0)
		return 0;
	tls_clear_errors();
	r = SSL_write_ex(c->ssl, data, MIN(len, (size_t)TLS_RECORD_MAX), &written);
	c->write_pending = r != 1;
	if (r == 1)
		return (ssize_t)written;
	r = tls_result(c, r);
	return r == P_DONE ? P_ERROR : r;
}

ssize_t conn_recv(struct conn *c, char *buf, size_t len)
{
	return c->ssl ? tls_recv(c, buf, len) : plain_recv(c, buf, len);
}

ssize_t conn_writev(struct conn *c, const struct iovec *iov, int n)
{
	return c->ssl ? tls_writev(c, iov, n) : plain_writev(c, iov, n);
}

ssize_t conn_writev_more(struct conn *c, const struct iovec *iov, int n)
{
	return c->ssl ? tls_writev(c, iov, n) : plain_sendmsg(c, iov, n, MSG_MORE);
}

bool conn_has_input(const struct conn *c)
{
	return c->io.readable || (c->ssl != NULL && SSL_has_pending(c->ssl));
}

int conn_shutdown(struct conn *c)
{
	if (c->ssl != NULL) {
		/* One try: a close_notify that cannot go now is not worth
		 * waiting for. */
		ERR_clear_error();
		SSL_shutdown(c->ssl);
		ERR_clear_error();
	}
	return shutdown(c->io.fd, SHUT_WR);
}

bool conn_peer_closed(struct conn *c)
{
	char byte;
	ssize_t n = recv(c->io.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);

	return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
}

/* A close_notify when the connection is healthy, and in any case the
 * session marked as ended well: OpenSSL drops from the cache (ours, the
 * shared one) the session of a connection freed without it. A session
 * that failed was dropped when it failed. */
static void tls_end(SSL *ssl)
{
	ERR_clear_error();
	if (SSL_is_init_finished(ssl) && !(SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN))
		SSL_shutdown(ssl);
	ERR_clear_error();
	SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	SSL_free(ssl);
}

void conn_close(struct conn *c)
{
	if (c->ssl != NULL) {
		tls_end(c->ssl);
		c->ssl = NULL;
	}
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
