/*
 * pump.c: body streaming between two connections.
 */
#include "config.h"

#include <stdio.h>

#include "pump.h"

void pump_clear(struct pump *p)
{
	memset(p, 0, offsetof(struct pump, iov));
	p->iov_first = p->iov_count = p->nsizes = 0;
}

void pump_init(struct pump *p, struct conn *src, struct conn *dst,
	       struct buf *buf, int in_framing, uint64_t length, int out,
	       const char *prefix, size_t prefix_len)
{
	pump_clear(p);
	p->src = src;
	p->dst = dst;
	p->buf = buf;
	p->in_framing = (uint8_t)in_framing;
	p->out = (uint8_t)out;
	p->remaining = length;
	http_chunked_init(&p->chunked);
	if (in_framing == HTTP_BODY_NONE ||
	    (in_framing == HTTP_BODY_LENGTH && length == 0))
		p->in_done = true;
	if (prefix_len > 0) {
		p->iov[0].iov_base = (char *)prefix;
		p->iov[0].iov_len = prefix_len;
		p->iov_count = 1;
	}
}

void pump_keep_head(struct pump *p)
{
	if (p->buf != NULL && (size_t)(p->buf->end - p->buf->pos) >= PUMP_MIN_ROOM)
		p->floor = p->buf->pos;
}

void pump_set_filter(struct pump *p, pump_filter_fn fn, void *arg)
{
	p->filter = fn;
	p->filter_arg = arg;
}

void pump_set_limit(struct pump *p, uint64_t max)
{
	p->max_body = max;
}

void pump_set_view(struct pump *p, pump_view_fn fn, void *arg)
{
	p->view = fn;
	p->view_arg = arg;
}

int body_emit(struct body_out *out, struct slice data)
{
	if (out->n >= BODY_EMIT_MAX)
		return P_ERROR;
	if (data.len > 0)
		out->s[out->n++] = data;
	return P_OK;
}

static bool iov_full(const struct pump *p)
{
	return p->iov_first + p->iov_count + 3 > PUMP_IOV_MAX ||
	       p->nsizes >= (int)ARRAY_LEN(p->sizes);
}

static void queue(struct pump *p, const char *data, size_t len)
{
	struct iovec *v = &p->iov[p->iov_first + p->iov_count++];

	v->iov_base = (char *)data;
	v->iov_len = len;
}

static void queue_payload(struct pump *p, const char *data, size_t len)
{
	if (len == 0)
		return;
	if (p->out == PUMP_OUT_CHUNKED) {
		char *line = p->sizes[p->nsizes++];
		int n = snprintf(line, sizeof(p->sizes[0]), "%zx\r\n", len);

		queue(p, line, (size_t)n);
		queue(p, data, len);
		queue(p, "\r\n", 2);
	} else {
		queue(p, data, len);
	}
	p->body_out += len;
}

/* Pass a decoded piece of the body on: to the output as it is, or
 * through the filter (last: it is the body's last, or data is empty
 * after the end). */
static int pass(struct pump *p, struct slice data, bool last)
{
	struct body_out in = { .n = 0 }, out = { .n = 0 };
	unsigned i;
	int r;

	if (p->filter == NULL) {
		queue_payload(p, data.p, data.len);
		return P_OK;
	}
	body_emit(&in, data);
	r = p->filter(p->filter_arg, &in, last, &out);
	if (r != P_OK && r != P_AGAIN) {
		p->fault = PUMP_FILTER_ERROR;
		return P_ERROR;
	}
	for (i = 0; i < out.n; i++)
		queue_payload(p, out.s[i].p, out.s[i].len);
	p->filter_busy = true;
	p->filter_more = r == P_AGAIN;
	p->more_last = last;
	p->filter_ended = last && r == P_OK;
	return P_OK;
}

/* Write what is queued; P_OK once all of it went out. A lent body's
 * last bytes follow its other bytes at once, in the same pump_run: the
 * kernel is told, so that they leave in one packet with what precedes
 * them instead of one of their own. */
static int flush(struct pump *p)
{
	bool more = p->view != NULL && !p->in_done;

	while (p->iov_count > 0) {
		ssize_t n = more ? conn_writev_more(p->dst, &p->iov[p->iov_first], p->iov_count)
				 : conn_writev(p->dst, &p->iov[p->iov_first], p->iov_count);
		int done;

		if (n < 0) {
			if (n == P_ERROR)
				p->fault = PUMP_DST_ERROR;
			return (int)n;
		}
		p->progress++;
		p->sent += (uint64_t)n;
		done = iov_advance(&p->iov[p->iov_first], p->iov_count, (size_t)n);
		p->iov_first += done;
		p->iov_count -= done;
	}
	p->iov_first = 0;
	p->nsizes = 0;
	p->filter_busy = false;
	p->lent_pending = false;
	return P_OK;
}

/* Whether the filter may be called now: there is room, and its earlier
 * output has been written. */
static bool may_filter(const struct pump *p)
{
	return !iov_full(p) && !p->filter_busy;
}

/* Whether decoding may add to the output now: the filter may be called,
 * and it has emitted all it had for its earlier input. */
static bool may_decode(const struct pump *p)
{
	return may_filter(p) && !p->filter_more;
}

/* A filter with more to emit for its last input is called for it. */
static int resume_filter(struct pump *p)
{
	if (p->filter_more && may_filter(p))
		return pass(p, (struct slice){ NULL, 0 }, p->more_last);
	return P_OK;
}

/* Decode buffered input into queued output, as far as the iov allows. */
static int decode(struct pump *p)
{
	struct buf *b = p->buf;

	while (!p->in_done && buf_len(b) > 0 && may_decode(p)) {
		const char *from = b->pos;
		struct slice data = { b->pos, 0 };
		size_t used;
		int r = HTTP_CHUNK_DATA;

		switch (p->in_framing) {
		case HTTP_BODY_LENGTH:
			data.len = (size_t)MIN((uint64_t)buf_len(b), p->remaining);
			b->pos += data.len;
			p->remaining -= data.len;
			p->in_done = p->remaining == 0;
			break;
		case HTTP_BODY_EOF:
			data.len = buf_len(b);
			b->pos = b->last;
			break;
		default:
			r = http_chunked_decode(&p->chunked, b->pos, buf_len(b), &used, &data);
			b->pos += used;
			if (r == P_DONE)
				p->in_done = true;
			else if (r == P_ERROR) {
				p->fault = PUMP_SRC_INVALID;
				return P_ERROR;
			}
			break;
		}
		p->taken += (uint64_t)(b->pos - from);
		if (p->max_body != 0 && p->body_out + data.len > p->max_body) {
			p->fault = PUMP_SRC_TOO_LARGE;
			return P_ERROR;
		}
		if (r == HTTP_CHUNK_DATA && pass(p, data, p->in_done) != P_OK)
			return P_ERROR;
	}
	return P_OK;
}

/* Lend the view's bytes to the output, as far as the iov allows; its
 * last bytes only once nothing lent waits to be written. */
static int lend(struct pump *p)
{
	while (!p->in_done && may_decode(p) &&
	       !(p->lent_pending && p->remaining <= PUMP_VIEW_TAIL)) {
		struct slice data;
		ssize_t n = p->view(p->view_arg, p->remaining, &data.p);

		if (n <= 0) {
			p->fault = PUMP_SRC_ERROR;
			return P_ERROR;
		}
		data.len = (size_t)MIN((uint64_t)n, p->remaining);
		p->remaining -= data.len;
		p->taken += data.len;
		p->progress++;
		p->in_done = p->remaining == 0;
		p->lent_pending = true;
		if (pass(p, data, p->in_done) != P_OK)
			return P_ERROR;
	}
	return P_OK;
}

/* After the body's end: the filter's last call, and chunked's last chunk. */
static int end_body(struct pump *p)
{
	if (p->in_done && p->filter != NULL && !p->filter_ended && may_decode(p) &&
	    pass(p, (struct slice){ NULL, 0 }, true) != P_OK)
		return P_ERROR;
	if (p->in_done && p->out == PUMP_OUT_CHUNKED && !p->last_chunk_queued &&
	    (p->filter == NULL || p->filter_ended) && !iov_full(p)) {
		queue(p, "0\r\n\r\n", 5);
		p->last_chunk_queued = true;
	}
	return P_OK;
}

/* Read more input into the buffer; only called when it is empty. */
static int fill(struct pump *p)
{
	struct buf *b = p->buf;
	size_t want = buf_room(b);
	ssize_t n;

	b->pos = b->last = p->floor != NULL ? p->floor : b->start;
	want = (size_t)(b->end - b->pos);
	/* Do not read past a Content-Length body: what follows belongs to
	 * the next message on this connection. */
	if (p->in_framing == HTTP_BODY_LENGTH && p->remaining < want)
		want = (size_t)p->remaining;
	n = conn_recv(p->src, b->last, want);
	if (n > 0) {
		b->last += n;
		p->progress++;
		return P_OK;
	}
	if (n == P_DONE) {
		if (p->in_framing == HTTP_BODY_EOF) {
			p->in_done = true;
			return P_OK;
		}
		p->fault = PUMP_SRC_EOF;
		return P_ERROR;
	}
	if (n == P_ERROR)
		p->fault = PUMP_SRC_ERROR;
	return (int)n;
}

int pump_run(struct pump *p)
{
	int r;

	for (;;) {
		/* Decode before writing, so a head and the body bytes read with
		 * it leave in one write. */
		r = resume_filter(p);
		if (r == P_OK)
			r = p->view != NULL ? lend(p) : decode(p);
		if (r == P_OK)
			r = end_body(p);
		if (r != P_OK)
			return r;
		r = flush(p);
		if (r != P_OK)
			return r;
		if (p->in_done && (p->filter == NULL || p->filter_ended) &&
		    (p->out != PUMP_OUT_CHUNKED || p->last_chunk_queued)) {
			p->done = true;
			return P_OK;
		}
		/* the filter may still be reading what is in the buffer */
		if (p->view == NULL && buf_len(p->buf) == 0 && !p->in_done && !p->filter_more) {
			r = fill(p);
			if (r != P_OK)
				return r;
		}
	}
}
