/*
 * cache_refresh.c: stale-while-revalidate's refresh in the background.
 *
 * The client that finds an answer stale within its stale-while-revalidate
 * gets it at once; a request of portico's own, a copy of the client's
 * without its preconditions, goes through the request path like any
 * other (routing, the cache's lookup and revalidation, the upstream) and
 * stores what the server says. Its answer goes into one end of a socket
 * pair whose other end is read and dropped: the exchange needs no other
 * kind of client.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "head_writer.h"
#include "modules/cache_state.h"

struct refresh {
	struct refresh *next_free;	/* refreshes are kept: the loop may
					 * read their ev_io after the end */
	struct conn sink;		/* the exchange's answer goes here ... */
	struct ev_io drain;		/* ... and is read and dropped here */
	struct ev_task end;
	struct exchange *x;
	struct buf *in;			/* the request head */
	char addr[64];
};

static struct refresh *free_refreshes;
static unsigned running;

/* At most this many at once per worker: beyond it, the client that found
 * the stale answer revalidates it itself. */
#define REFRESH_MAX 64

static void drain_event(struct ev_io *io, uint32_t events)
{
	char scrap[16384];

	(void)events;
	while (read(io->fd, scrap, sizeof(scrap)) > 0)
		;
}

/* The exchange's side of the pair became writable: it moves on. */
static void sink_event(struct ev_io *io, uint32_t events)
{
	struct refresh *r = container_of(io, struct refresh, sink.io);

	(void)events;
	if (r->x != NULL)
		ev_post(&r->x->task);
}

static void finish(struct ev_task *t)
{
	struct refresh *r = container_of(t, struct refresh, end);

	if (r->x != NULL)
		exchange_free(r->x);
	r->x = NULL;
	conn_close(&r->sink);
	close(r->drain.fd);
	r->drain.fd = -1;
	buf_put(r->in);
	r->in = NULL;
	r->next_free = free_refreshes;
	free_refreshes = r;
	running--;
}

static void refresh_done(struct exchange *x)
{
	struct refresh *r = x->client.owner;

	ev_post(&r->end);
}

/* The client's request as a request of our own: no preconditions and no
 * range (the whole answer is wanted), and no keep-alive. */
static size_t copy_request(const struct exchange *x, struct buf *b)
{
	const struct http_message *q = &x->req;
	struct head_writer w = { b->start, b->end, false };
	unsigned i;

	hw_put_slice(&w, q->method);
	hw_put(&w, " ", 1);
	hw_put_slice(&w, q->target);
	hw_put_str(&w, " HTTP/1.1\r\n");
	for (i = 0; i < q->nheaders; i++) {
		const struct http_header *h = &q->headers[i];

		if ((h->flags & (HTTP_HDR_HOP | HTTP_HDR_DROP)) ||
		    cache_client_condition(h->name) ||
		    slice_ieq(h->name, "cache-control") || slice_ieq(h->name, "pragma"))
			continue;
		hw_put_header(&w, h);
	}
	hw_put_str(&w, "Connection: close\r\n");
	return hw_finish(&w, b->start);
}

static struct refresh *refresh_new(void)
{
	struct refresh *r = free_refreshes;
	int fds[2];

	if (r != NULL)
		free_refreshes = r->next_free;
	else if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->in = buf_get();
	if (r->in == NULL ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0) {
		buf_put(r->in);
		r->next_free = free_refreshes;
		free_refreshes = r;
		return NULL;
	}
	memset(&r->sink, 0, sizeof(r->sink));
	r->sink.io = (struct ev_io){ .fd = fds[0], .cb = sink_event, .writable = 1 };
	r->drain = (struct ev_io){ .fd = fds[1], .cb = drain_event };
	r->end.cb = finish;
	r->x = NULL;
	running++;
	if (ev_add(&r->sink.io, true) < 0 || ev_add(&r->drain, false) < 0) {
		r->end.cb(&r->end);
		return NULL;
	}
	return r;
}

/* The copy, parsed into x's request; false when it does not fit. */
static bool build_request(struct refresh *r, const struct exchange *orig, struct exchange *x)
{
	size_t len = copy_request(orig, r->in);

	if (len == 0 || http_parse_request(r->in->start, len, &x->req,
					   &x->ctx->head_limits) != P_OK)
		return false;
	r->in->pos = r->in->start + x->req.head_len;
	r->in->last = r->in->start + len;
	memcpy(x->request_line, orig->request_line, sizeof(x->request_line));
	return true;
}

bool cache_refresh_start(const struct exchange *orig)
{
	struct client_side c = orig->client;
	struct refresh *r;
	struct exchange *x;

	if (running >= REFRESH_MAX || (r = refresh_new()) == NULL)
		return false;
	snprintf(r->addr, sizeof(r->addr), "%s", orig->client.addr);
	c.conn = &r->sink;
	c.in = r->in;
	c.addr = r->addr;
	c.subject = NULL;
	c.background = true;
	c.done = refresh_done;
	c.owner = r;
	if ((x = exchange_new(orig->ctx, &c)) == NULL) {
		r->end.cb(&r->end);
		return false;
	}
	r->x = x;
	if (!build_request(r, orig, x)) {
		exchange_log(orig, LL_INFO, 0, "a background refresh's request does not fit a buffer");
		r->end.cb(&r->end);
		return false;
	}
	exchange_begin(x);
	return true;
}
