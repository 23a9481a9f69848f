/*
 * test_pump.c: body streaming through the pump, with and without a body
 * filter (the hook response body filters use): a copying filter sees
 * every byte once and changes nothing, a transforming one replaces the
 * body and is called again only once its output is written, one whose
 * output outgrows its buffer (P_AGAIN) goes on with its input left in
 * place, its last call comes once at the end, and a failing one stops
 * the pump. A view
 * source lends the body in runs, and is asked for its last bytes only
 * once everything it lent went out.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/socket.h>

#include "conn.h"
#include "event.h"
#include "pump.h"
#include "tap.h"

#define BODY_MAX (1 << 20)

/* A connected pair: c is the pump's side, peer the test's. */
struct pair {
	struct conn c;
	int peer;
};

static void pair_open(struct pair *p)
{
	int sv[2], small = 4096;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
		abort();
	/* Small buffers, so a large body needs many writes. */
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	memset(&p->c, 0, sizeof(p->c));
	p->c.io.fd = sv[0];
	p->c.io.readable = p->c.io.writable = 1;
	p->peer = sv[1];
	if (ev_add(&p->c.io, false) < 0)
		abort();
}

static void pair_close(struct pair *p)
{
	conn_close(&p->c);
	close(p->peer);
}

/* Deterministic body bytes. */
static void make_body(char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = (char)('a' + (i * 7 + i / 13) % 26);
}

/* Feed in[0..n) to the source peer and run the pump to the end, reading
 * what it writes into out; returns pump_run's last result. */
static int run(struct pump *p, struct pair *src, struct pair *dst, const char *in, size_t n,
	       char *out, size_t *out_len)
{
	size_t fed = 0;
	int r, rounds = 0;

	*out_len = 0;
	for (;;) {
		ssize_t k;

		if (src != NULL && fed < n) {
			k = write(src->peer, in + fed, n - fed);
			if (k > 0)
				fed += (size_t)k;
			if (fed == n)
				shutdown(src->peer, SHUT_WR);
			src->c.io.readable = 1;
		}
		r = pump_run(p);
		while ((k = read(dst->peer, out + *out_len, BODY_MAX * 2 - *out_len)) > 0)
			*out_len += (size_t)k;
		dst->c.io.writable = 1;
		if (r != P_AGAIN || ++rounds > 100000)
			return r;
	}
}

/* in[0..n) as a chunked body of 1000-byte chunks, into out; its length. */
static size_t chunk(const char *in, size_t n, char *out)
{
	size_t off, o = 0;

	for (off = 0; off < n; off += 1000) {
		size_t k = MIN((size_t)1000, n - off);

		o += (size_t)snprintf(out + o, 16, "%zx\r\n", k);
		memcpy(out + o, in + off, k);
		o += k;
		memcpy(out + o, "\r\n", 2);
		o += 2;
	}
	memcpy(out + o, "0\r\n\r\n", 5);
	return o + 5;
}

/* ---- filters ---- */

struct tee {
	char copy[BODY_MAX];
	size_t len;
	int lasts;
};

static int tee_filter(void *arg, const struct body_out *in, bool last, struct body_out *out)
{
	struct tee *t = arg;
	unsigned i;

	for (i = 0; i < in->n; i++) {
		memcpy(t->copy + t->len, in->s[i].p, in->s[i].len);
		t->len += in->s[i].len;
		if (body_emit(out, in->s[i]) != P_OK)
			return P_ERROR;
	}
	t->lasts += last;
	return P_OK;
}

/* Upper-cases into one buffer of its own, reused at every call: if the
 * pump called it again before its output was written, the output would
 * be corrupted. The last call adds a line of its own. */
struct upper {
	char buf[32768];
};

static int upper_filter(void *arg, const struct body_out *in, bool last, struct body_out *out)
{
	struct upper *u = arg;
	size_t len = 0, i;
	unsigned k;

	for (k = 0; k < in->n; k++)
		for (i = 0; i < in->s[k].len; i++)
			u->buf[len++] = (char)toupper((unsigned char)in->s[k].p[i]);
	if (body_emit(out, (struct slice){ u->buf, len }) != P_OK)
		return P_ERROR;
	return last ? body_emit(out, SLICE_LIT("\nEND\n")) : P_OK;
}

/* Writes every byte it is given 8 times, into one buffer of 1000 bytes
 * reused at every call: when that is full it says P_AGAIN and goes on
 * from where it was at the next call, which comes with in empty. It
 * keeps its input's slices and reads them later, so the pump must not
 * have reused them meanwhile. */
struct expand {
	char buf[1000];
	struct slice in[BODY_EMIT_MAX];
	unsigned nin, at;
	size_t off;		/* in in[at] */
	unsigned copies;	/* of the byte at off, written */
	int lasts, agains, fresh_while_pending;
	bool pending;
};

static int expand_filter(void *arg, const struct body_out *in, bool last, struct body_out *out)
{
	struct expand *e = arg;
	size_t len = 0;

	if (in->n > 0) {
		e->fresh_while_pending += e->pending;
		memcpy(e->in, in->s, in->n * sizeof(in->s[0]));
		e->nin = in->n;
		e->at = 0;
		e->off = 0;
	}
	while (e->at < e->nin && len < sizeof(e->buf)) {
		e->buf[len++] = e->in[e->at].p[e->off];
		if (++e->copies == 8) {
			e->copies = 0;
			if (++e->off == e->in[e->at].len) {
				e->off = 0;
				e->at++;
			}
		}
	}
	if (body_emit(out, (struct slice){ e->buf, len }) != P_OK)
		return P_ERROR;
	e->pending = e->at < e->nin;
	if (e->pending) {
		e->agains++;
		return P_AGAIN;
	}
	e->lasts += last;
	return P_OK;
}

static int failing_filter(void *arg, const struct body_out *in, bool last, struct body_out *out)
{
	(void)arg;
	(void)in;
	(void)last;
	(void)out;
	return P_ERROR;
}

/* ---- a view source ---- */

/* Lends body in runs of at most 3000 bytes, keeping its last
 * PUMP_VIEW_TAIL bytes for a call of their own, as a cache does; records
 * how much the destination had not yet been given when the tail was
 * asked for (it must be nothing: all lent bytes written). */
struct lender {
	const char *body;
	size_t len, off;
	struct pump *pump;
	int tail_calls;
	bool lent_pending_at_tail;
};

static ssize_t lend(void *arg, uint64_t remaining, const char **p)
{
	struct lender *l = arg;
	size_t n;

	if (remaining <= PUMP_VIEW_TAIL) {
		l->tail_calls++;
		l->lent_pending_at_tail = l->pump->iov_count > 0;
		n = (size_t)remaining;
	} else {
		n = MIN((size_t)3000, (size_t)(remaining - PUMP_VIEW_TAIL));
	}
	*p = l->body + l->off;
	l->off += n;
	return (ssize_t)n;
}

static ssize_t lend_nothing(void *arg, uint64_t remaining, const char **p)
{
	(void)arg;
	(void)remaining;
	(void)p;
	return P_ERROR;
}

/* Decode a chunked body in[0..n) into out; its length, or -1. */
static long dechunk(const char *in, size_t n, char *out)
{
	struct http_chunked ch;
	size_t off = 0, used, o = 0;
	struct slice data;
	int r;

	http_chunked_init(&ch);
	while (off < n) {
		r = http_chunked_decode(&ch, in + off, n - off, &used, &data);
		off += used;
		if (r == HTTP_CHUNK_DATA) {
			memcpy(out + o, data.p, data.len);
			o += data.len;
		} else if (r == P_DONE) {
			return off == n ? (long)o : -1;
		} else if (r == P_ERROR) {
			return -1;
		}
	}
	return -1;
}

int main(void)
{
	static char body[BODY_MAX], chunked[BODY_MAX * 2], out[BODY_MAX * 2], plain[BODY_MAX * 2];
	static struct tee tee;
	static struct upper upper;
	struct pair src, dst;
	struct pump p;
	struct buf *b;
	size_t n = BODY_MAX, out_len, i;
	long plain_len;
	int r;

	if (ev_init() < 0)
		return 1;
	buf_pool_init(16384);
	make_body(body, n);

	/* No filter: a Content-Length body passes as it is. */
	pair_open(&src);
	pair_open(&dst);
	b = buf_get();
	pump_init(&p, &src.c, &dst.c, b, HTTP_BODY_LENGTH, n, PUMP_OUT_IDENTITY, "HEAD\r\n", 6);
	r = run(&p, &src, &dst, body, n, out, &out_len);
	is_int(r, P_OK, "without a filter: the pump ends");
	ok(out_len == n + 6 && memcmp(out, "HEAD\r\n", 6) == 0 && memcmp(out + 6, body, n) == 0,
	   "the head, then the 1 MiB body unchanged");
	buf_put(b);
	pair_close(&src);
	pair_close(&dst);

	/* A copying filter: the client gets the body unchanged, the filter
	 * saw every byte once, and its last call came once. */
	pair_open(&src);
	pair_open(&dst);
	b = buf_get();
	pump_init(&p, &src.c, &dst.c, b, HTTP_BODY_LENGTH, n, PUMP_OUT_IDENTITY, NULL, 0);
	pump_set_filter(&p, tee_filter, &tee);
	r = run(&p, &src, &dst, body, n, out, &out_len);
	is_int(r, P_OK, "a copying filter: the pump ends");
	ok(out_len == n && memcmp(out, body, n) == 0, "the client gets the body unchanged");
	ok(tee.len == n && memcmp(tee.copy, body, n) == 0, "the filter saw every byte, in order");
	is_int(tee.lasts, 1, "its last call came once");
	is_int(p.body_out, n, "body_out counts what was passed on");
	buf_put(b);
	pair_close(&src);
	pair_close(&dst);

	/* A transforming filter with a buffer of its own, from a chunked
	 * source (many chunks to a read), re-framed as chunked. */
	pair_open(&src);
	pair_open(&dst);
	b = buf_get();
	pump_init(&p, &src.c, &dst.c, b, HTTP_BODY_CHUNKED, 0, PUMP_OUT_CHUNKED, NULL, 0);
	pump_set_filter(&p, upper_filter, &upper);
	r = run(&p, &src, &dst, chunked, chunk(body, n, chunked), out, &out_len);
	is_int(r, P_OK, "a transforming filter: the pump ends");
	plain_len = dechunk(out, out_len, plain);
	ok(plain_len == (long)n + 5, "the output is well-formed chunked, the filter's length");
	for (i = 0; i < n && plain_len > 0; i++)
		if (plain[i] != (char)toupper((unsigned char)body[i]))
			break;
	ok(plain_len > 0 && i == n && memcmp(plain + n, "\nEND\n", 5) == 0,
	   "every byte transformed, never overwritten before it was written, then the last call's");
	buf_put(b);
	pair_close(&src);
	pair_close(&dst);

	/* A filter whose output outgrows its buffer (P_AGAIN): called again
	 * with nothing new until it has used its input up, which stays in
	 * place meanwhile; chunked in and out, 8 times the body. */
	{
		static struct expand e;
		static char want[BODY_MAX / 8 * 8];
		size_t m = BODY_MAX / 8;

		for (i = 0; i < m * 8; i++)
			want[i] = body[i / 8];
		pair_open(&src);
		pair_open(&dst);
		b = buf_get();
		pump_init(&p, &src.c, &dst.c, b, HTTP_BODY_CHUNKED, 0, PUMP_OUT_CHUNKED, NULL, 0);
		pump_set_filter(&p, expand_filter, &e);
		r = run(&p, &src, &dst, chunked, chunk(body, m, chunked), out, &out_len);
		is_int(r, P_OK, "a filter that says P_AGAIN: the pump ends");
		plain_len = dechunk(out, out_len, plain);
		ok(plain_len == (long)(m * 8) && memcmp(plain, want, m * 8) == 0,
		   "every byte expanded, in order, from input left in place");
		ok(e.agains > 0 && e.fresh_while_pending == 0,
		   "... never given new input while it had more to emit");
		is_int(e.lasts, 1, "... and its last call came once, after all of it");
		buf_put(b);
		pair_close(&src);
		pair_close(&dst);

		/* the same from a Content-Length body, whose last piece comes
		 * with last set while the filter still has more */
		memset(&e, 0, sizeof(e));
		pair_open(&src);
		pair_open(&dst);
		b = buf_get();
		pump_init(&p, &src.c, &dst.c, b, HTTP_BODY_LENGTH, m, PUMP_OUT_IDENTITY, NULL, 0);
		pump_set_filter(&p, expand_filter, &e);
		r = run(&p, &src, &dst, body, m, out, &out_len);
		ok(r == P_OK && out_len == m * 8 && memcmp(out, want, m * 8) == 0 && e.lasts == 1,
		   "a Content-Length body: the same, its last call once at the very end");
		buf_put(b);
		pair_close(&src);
		pair_close(&dst);
	}

	/* A body held in memory (an answer of portico's own), no source. */
	pair_open(&dst);
	b = buf_get();
	memcpy(b->last, "hello", 5);
	b->last += 5;
	pump_init(&p, NULL, &dst.c, b, HTTP_BODY_LENGTH, 5, PUMP_OUT_IDENTITY, NULL, 0);
	pump_set_filter(&p, upper_filter, &upper);
	r = run(&p, NULL, &dst, NULL, 0, out, &out_len);
	ok(r == P_OK && out_len == 10 && memcmp(out, "HELLO\nEND\n", 10) == 0,
	   "a body in memory goes through the filter too");
	buf_put(b);
	pair_close(&dst);

	/* A view: the head and the first runs leave together, the body
	 * arrives whole, and the tail is asked for once, with nothing lent
	 * still waiting. */
	{
		struct lender l = { body, 200000, 0, &p, 0, false };

		pair_open(&dst);
		pump_init(&p, NULL, &dst.c, NULL, HTTP_BODY_LENGTH, l.len, PUMP_OUT_IDENTITY,
			  "HEAD\r\n", 6);
		pump_set_view(&p, lend, &l);
		r = run(&p, NULL, &dst, NULL, 0, out, &out_len);
		ok(r == P_OK && out_len == l.len + 6 && memcmp(out + 6, body, l.len) == 0,
		   "a view: the head, then the body lent in runs, unchanged");
		ok(l.tail_calls == 1 && !l.lent_pending_at_tail,
		   "... its last bytes asked for once, after all it lent was written");
		pair_close(&dst);

		pair_open(&dst);
		pump_init(&p, NULL, &dst.c, NULL, HTTP_BODY_LENGTH, 10, PUMP_OUT_IDENTITY, NULL, 0);
		pump_set_view(&p, lend_nothing, NULL);
		r = run(&p, NULL, &dst, NULL, 0, out, &out_len);
		ok(r == P_ERROR && p.fault == PUMP_SRC_ERROR, "a view that fails: PUMP_SRC_ERROR");
		pair_close(&dst);
	}

	/* A failing filter stops the pump with its own fault. */
	pair_open(&dst);
	b = buf_get();
	memcpy(b->last, "hello", 5);
	b->last += 5;
	pump_init(&p, NULL, &dst.c, b, HTTP_BODY_LENGTH, 5, PUMP_OUT_IDENTITY, NULL, 0);
	pump_set_filter(&p, failing_filter, NULL);
	r = run(&p, NULL, &dst, NULL, 0, out, &out_len);
	ok(r == P_ERROR && p.fault == PUMP_FILTER_ERROR && out_len == 0,
	   "a failing filter: P_ERROR, PUMP_FILTER_ERROR, nothing written");
	buf_put(b);
	pair_close(&dst);

	return done_testing();
}
