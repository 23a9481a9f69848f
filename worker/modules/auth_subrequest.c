/*
 * auth_subrequest.c: forward authentication's subrequest to the auth
 * server.
 *
 * It is the upstream module's kind of attempt, made without a client
 * connection of its own: a server the upstream's balancer picks, a
 * pooled or new connection, the head written, the answer's head read
 * and its body read (what goes back to the client is kept, up to
 * AUTH_BODY_MAX bytes), with the upstream's connect, send and read
 * timeouts (the exchange's timer, through the wait's struct content),
 * retries on other servers, and what the health table learns from each
 * attempt. Each step returns P_AGAIN when it waits for an event, P_OK
 * when it changed st->step.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "head.h"
#include "head_writer.h"
#include "health.h"
#include "modules/auth_request_state.h"

void auth_subrequest_drop(struct auth_request_state *st, bool reusable)
{
	if (st->uc != NULL) {
		upstream_release(st->uc, reusable);
		st->uc = NULL;
	}
}

/* ---- health, as the upstream module keeps it ---- */

static void note_failure(struct auth_request_state *st, unsigned kind)
{
	upstream_note_failure(st->up, st->server, kind, st->x->ctx->stats);
}

static void note_answer(struct auth_request_state *st)
{
	upstream_note_answer(st->up, st->server, st->resp.status,
			     ev_now_us() - st->try_start_us, st->x->ctx->stats);
}

/* ---- the subrequest ---- */

static void auth_event(struct ev_io *io, uint32_t events)
{
	struct upconn *uc = (struct upconn *)io;
	struct auth_request_state *st = uc->owner;

	(void)events;
	ev_post(&st->x->task);
}

static void put_forwarded(struct head_writer *w, const struct exchange *x)
{
	const struct http_message *q = &x->req;

	hw_put_str(w, "X-Forwarded-Method: ");
	hw_put_slice(w, q->method);
	hw_put_str(w, x->client.tls ? "\r\nX-Forwarded-Proto: https\r\n"
				  : "\r\nX-Forwarded-Proto: http\r\n");
	if (q->host.len > 0)
		hw_put_field(w, SLICE_LIT("X-Forwarded-Host"), q->host);
	hw_put_field(w, SLICE_LIT("X-Forwarded-Uri"), q->target);
	hw_put_str(w, "X-Forwarded-For: ");
	hw_put_str(w, x->client.addr);
	hw_put_str(w, "\r\nX-Real-IP: ");
	hw_put_str(w, x->client.addr);
	hw_put(w, "\r\n", 2);
}

/* The subrequest's target: auth_request_uri, its variables' values
 * encoded (a client's value adds no parameter to its query). */
static void put_target(struct head_writer *w, const struct auth_request_state *st)
{
	const struct conf_auth_request *a = st->conf;
	struct var_source src;
	size_t n;

	if (a->uri == NULL) {
		hw_put(w, "/", 1);
		return;
	}
	if (w->overflow)
		return;
	src = exchange_vars(st->x);
	n = vars_expand_for_head(a->uri, &src, w->p, (size_t)(w->end - w->p), VAR_IN_COMPONENT);
	if (n > (size_t)(w->end - w->p))
		w->overflow = true;
	else
		w->p += n;
}

/* The fields that tell the auth server of the request, and the client's
 * fields it is given. */
static void put_asked(struct head_writer *w, const struct auth_request_state *st)
{
	const struct exchange *x = st->x;
	unsigned i;

	put_forwarded(w, x);
	for (i = 0; i < x->req.nheaders; i++)
		if (auth_names_has(st->conf->headers, x->req.headers[i].name) &&
		    !head_is_request_id_field(x, x->req.headers[i].name))
			hw_put_header(w, &x->req.headers[i]);
}

void auth_subrequest_question(const struct auth_request_state *st, struct head_writer *w)
{
	put_target(w, st);
	hw_put(w, "\r\n", 2);
	put_asked(w, st);
}

/* The subrequest's head into b: its length, or 0 when it does not fit. */
static size_t build_head(const struct auth_request_state *st, struct buf *b)
{
	const struct conf_server *srv = auth_server_of(st);
	struct head_writer w = { b->start, b->end, false };

	hw_put_str(&w, "GET ");
	put_target(&w, st);
	hw_put_str(&w, " HTTP/1.1\r\nHost: ");
	hw_put_str(&w, srv->addr.ss_family == AF_UNIX ? "localhost" : srv->address);
	hw_put(&w, "\r\n", 2);
	put_asked(&w, st);
	/* Not part of the question (a cache key): the same one, asked again,
	 * comes with another id. */
	head_put_request_id(&w, st->x);
	if (st->up->conf->keepalive == 0)
		hw_put_str(&w, "Connection: close\r\n");
	return hw_finish(&w, b->start);
}

static void fail(struct auth_request_state *st, enum term_cause cause)
{
	auth_subrequest_drop(st, false);
	st->fail_cause = cause;
	st->step = AUTH_FAILED;
}

static bool may_try_another(const struct auth_request_state *st)
{
	const struct conf_upstream *cu = st->up->conf;

	if (st->pick.ntried > cu->retries)
		return false;
	return cu->retry_timeout == 0 || ev_now() - st->first_try < cu->retry_timeout;
}

static void attempt(struct auth_request_state *st, bool pooled);

/* The attempt on st->server failed (kind, for fail_on): the next server
 * the balancer offers, or no answer at all. */
static void attempt_failed(struct auth_request_state *st, unsigned kind, enum term_cause cause)
{
	int idx;

	note_failure(st, kind);
	auth_subrequest_drop(st, false);
	if (!may_try_another(st) || (idx = balance_pick(st->up, &st->pick, ev_now())) < 0) {
		fail(st, cause);
		return;
	}
	st->server = (unsigned)idx;
	STATS_ADD(st->x->ctx->stats, c.retries, 1);
	exchange_log(st->x, LL_WARN, 0, "auth_request: trying upstream \"%s\" server %s next",
		     st->up->conf->name, auth_server_of(st)->address);
	attempt(st, true);
}

/* A connect() that failed for want of something of ours. */
static bool local_shortage(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM ||
	       err == EADDRNOTAVAIL;
}

/* Start an attempt on st->server: a pooled connection when pooled and
 * one is idle, else a new one. */
static void attempt(struct auth_request_state *st, bool pooled)
{
	struct exchange *x = st->x;
	struct upconn_client client;
	int err = 0, r;

	client.addrless = x->client.addrless;
	memcpy(client.addr, x->client.addr_bin, sizeof(client.addr));
	client.port = x->client.port;
	memcpy(client.local, x->client.local_bin, sizeof(client.local));
	client.local_port = x->client.local_port;
	st->try_start_us = ev_now_us();
	st->head_sent = 0;
	st->scanned = 0;
	st->in_bytes = 0;
	if (st->in != NULL)
		st->in->pos = st->in->last = st->in->start;
	exchange_new_wait(x);
	r = upstream_connect(st->up, st->server, st, auth_event, pooled, &client, &st->uc, &err);
	if (r == P_OK) {
		st->step = AUTH_SEND;
		return;
	}
	if (r == P_AGAIN) {
		st->step = AUTH_CONNECT;
		return;
	}
	st->uc = NULL;
	exchange_log(x, LL_ERROR, err, "auth_request: connect() to upstream \"%s\" server %s "
		     "failed", st->up->conf->name, auth_server_of(st)->address);
	if (local_shortage(err))
		fail(st, TERM_RESOURCE);
	else
		attempt_failed(st, CONF_FAIL_ERROR, TERM_SERVER);
}

/* A connection from the pool may have been closed by the server just as
 * the subrequest went on it: it goes again on a new one, to the same
 * server, as the upstream module does. */
static void connection_failed(struct auth_request_state *st, int err, const char *what)
{
	if (st->uc->reused && st->in_bytes == 0) {
		exchange_log(st->x, LL_DEBUG, err, "auth_request: kept-alive upstream %s failed "
			     "%s, retrying", upconn_addr(st->uc), what);
		auth_subrequest_drop(st, false);
		attempt(st, false);
		return;
	}
	exchange_log(st->x, LL_ERROR, err, "auth_request: upstream \"%s\" server %s failed %s",
		     st->up->conf->name, upconn_addr(st->uc), what);
	attempt_failed(st, CONF_FAIL_ERROR, TERM_SERVER);
}

static int step_connect(struct auth_request_state *st)
{
	const char *why;
	int r = upstream_finish_connect(st->uc, &why);

	if (r == P_AGAIN)
		return P_AGAIN;
	if (r == P_OK) {
		st->step = AUTH_SEND;
		return P_OK;
	}
	if (why == NULL)
		exchange_log(st->x, LL_ERROR, st->uc->conn.err, "auth_request: connect() to "
			     "upstream \"%s\" server %s failed", st->up->conf->name,
			     upconn_addr(st->uc));
	else
		exchange_log(st->x, LL_ERROR, 0, "auth_request: TLS handshake with upstream \"%s\" "
			     "server %s failed: %s", st->up->conf->name, upconn_addr(st->uc), why);
	attempt_failed(st, CONF_FAIL_ERROR, TERM_SERVER);
	return P_OK;
}

static int step_send(struct auth_request_state *st)
{
	size_t len = (size_t)(st->head->last - st->head->start);
	struct iovec iov;
	ssize_t n;

	while (st->head_sent < len) {
		iov.iov_base = st->head->start + st->head_sent;
		iov.iov_len = len - st->head_sent;
		n = conn_writev(&st->uc->conn, &iov, 1);
		if (n == P_AGAIN)
			return P_AGAIN;
		if (n < 0) {
			connection_failed(st, st->uc->conn.err, "taking the subrequest");
			return P_OK;
		}
		st->head_sent += (size_t)n;
		st->x->progress += (uint64_t)n;
	}
	STATS_ADD(st->x->ctx->stats, c.auth_request_asked, 1);
	st->step = AUTH_HEAD;
	return P_OK;
}

/* Read what the server sent: the count, or P_AGAIN, P_DONE, P_ERROR. */
static ssize_t read_more(struct auth_request_state *st)
{
	struct buf *in = st->in;
	ssize_t n = conn_recv(&st->uc->conn, in->last, buf_room(in));

	if (n > 0) {
		in->last += n;
		st->in_bytes += (size_t)n;
		st->x->progress += (uint64_t)n;
	}
	return n;
}

/* The head is in[0..end): on to its body, or past an interim answer. */
static int take_head(struct auth_request_state *st, size_t end)
{
	struct buf *in = st->in;

	if (http_parse_response(in->pos, end, &st->resp, &st->x->ctx->head_limits,
				HTTP_GET) != P_OK) {
		exchange_log(st->x, LL_ERROR, 0, "auth_request: invalid answer head from upstream "
			     "\"%s\" server %s", st->up->conf->name, upconn_addr(st->uc));
		attempt_failed(st, CONF_FAIL_ERROR, TERM_SERVER);
		return P_OK;
	}
	if (st->resp.status < 200) {
		/* 100, 103: the answer proper follows */
		memmove(in->start, in->pos + end, buf_len(in) - end);
		in->last = in->start + (buf_len(in) - end);
		in->pos = in->start;
		st->scanned = 0;
		return P_OK;
	}
	note_answer(st);
	st->body_at = end;
	st->body_len = 0;
	st->raw_at = end;
	st->body_too_long = false;
	st->reusable = http_keep_alive(&st->resp) && st->resp.framing != HTTP_BODY_EOF &&
		       st->up->conf->keepalive > 0;
	http_chunked_init(&st->chunked);
	st->step = AUTH_BODY;
	return P_OK;
}

static int step_head(struct auth_request_state *st)
{
	struct buf *in;
	long end;
	ssize_t n;

	if (st->in == NULL && (st->in = buf_get()) == NULL) {
		exchange_log(st->x, LL_ERROR, ENOMEM, "auth_request: no buffer for an answer");
		fail(st, TERM_RESOURCE);
		return P_OK;
	}
	in = st->in;
	for (;;) {
		if (buf_len(in) > 0) {
			end = http_head_scan(in->pos, buf_len(in), &st->scanned);
			if (end < 0 || (end == 0 && buf_len(in) >= st->x->ctx->conf->header_buffer_size)) {
				exchange_log(st->x, LL_ERROR, 0, "auth_request: %s answer head from "
					     "upstream \"%s\" server %s", end < 0 ? "invalid" :
					     "too large", st->up->conf->name, upconn_addr(st->uc));
				attempt_failed(st, CONF_FAIL_ERROR, TERM_SERVER);
				return P_OK;
			}
			if (end > 0)
				return take_head(st, (size_t)end);
		}
		n = read_more(st);
		if (n == P_AGAIN)
			return P_AGAIN;
		if (n == P_DONE || n == P_ERROR) {
			connection_failed(st, n == P_ERROR ? st->uc->conn.err : 0,
					  "closing the connection before an answer");
			return P_OK;
		}
	}
}

/* Decode what came of a chunked body, moving its payload down to the
 * kept body's end (the payload is never longer than its framing, so it
 * moves only down): P_DONE at the body's end, P_AGAIN, P_ERROR. */
static int decode_chunked(struct auth_request_state *st)
{
	struct buf *in = st->in;
	struct slice data;
	size_t used;
	int r = P_AGAIN;

	while (st->raw_at < (size_t)(in->last - in->start)) {
		r = http_chunked_decode(&st->chunked, in->start + st->raw_at,
					(size_t)(in->last - in->start) - st->raw_at, &used, &data);
		st->raw_at += used;
		if (r == HTTP_CHUNK_DATA) {
			if (st->body_len + data.len > AUTH_BODY_MAX) {
				st->body_too_long = true;
				return P_DONE;
			}
			memmove(in->start + st->body_at + st->body_len, data.p, data.len);
			st->body_len += data.len;
			continue;
		}
		if (r != P_AGAIN)
			break;
	}
	if (r == P_DONE && st->raw_at < (size_t)(in->last - in->start))
		st->reusable = false;	/* bytes nobody asked for */
	if (r != HTTP_CHUNK_DATA && r != P_AGAIN)
		return r;
	/* all framing taken: later bytes come after the kept payload */
	in->last = in->start + st->body_at + st->body_len;
	st->raw_at = st->body_at + st->body_len;
	return P_AGAIN;
}

/* The body as far as it came: P_DONE when it is whole (or too long to
 * keep), P_AGAIN, P_ERROR when it is malformed. */
static int take_body(struct auth_request_state *st)
{
	const struct http_message *r = &st->resp;
	size_t have = (size_t)(st->in->last - st->in->start) - st->body_at;

	switch (r->framing) {
	case HTTP_BODY_NONE:
		return P_DONE;
	case HTTP_BODY_LENGTH:
		if (r->content_length > AUTH_BODY_MAX) {
			st->body_too_long = true;
			return P_DONE;
		}
		st->body_len = MIN(have, (size_t)r->content_length);
		if (have > r->content_length)
			st->reusable = false;	/* bytes nobody asked for */
		return have >= r->content_length ? P_DONE : P_AGAIN;
	case HTTP_BODY_CHUNKED:
		return decode_chunked(st);
	default:
		st->body_len = have;
		if (have > AUTH_BODY_MAX) {
			st->body_too_long = true;
			return P_DONE;
		}
		return P_AGAIN;		/* until the server closes */
	}
}

static int step_body(struct auth_request_state *st)
{
	ssize_t n;
	int r;

	for (;;) {
		r = take_body(st);
		if (r == P_DONE)
			break;
		if (r == P_ERROR) {
			exchange_log(st->x, LL_ERROR, 0, "auth_request: invalid chunked body from "
				     "upstream \"%s\" server %s", st->up->conf->name,
				     upconn_addr(st->uc));
			attempt_failed(st, CONF_FAIL_ERROR, TERM_SERVER);
			return P_OK;
		}
		if (buf_room(st->in) == 0) {
			st->body_too_long = true;
			break;
		}
		n = read_more(st);
		if (n == P_AGAIN)
			return P_AGAIN;
		if (n == P_DONE && st->resp.framing == HTTP_BODY_EOF)
			break;
		if (n == P_DONE || n == P_ERROR) {
			connection_failed(st, n == P_ERROR ? st->uc->conn.err : 0,
					  "closing the connection within the answer's body");
			return P_OK;
		}
	}
	auth_subrequest_drop(st, st->reusable && !st->body_too_long);
	st->step = AUTH_DECIDED;
	return P_OK;
}

void auth_subrequest_advance(struct auth_request_state *st)
{
	int r;

	for (;;) {
		switch (st->step) {
		case AUTH_CONNECT:
			r = step_connect(st);
			break;
		case AUTH_SEND:
			r = step_send(st);
			break;
		case AUTH_HEAD:
			r = step_head(st);
			break;
		case AUTH_BODY:
			r = step_body(st);
			break;
		default:
			return;
		}
		if (r == P_AGAIN)
			return;
	}
}

/* ---- waiting ---- */

static unsigned auth_wait_ms(const struct exchange *x)
{
	const struct auth_request_state *st = x->auth_req;
	const struct conf_upstream *cu = st->up->conf;

	switch (st->step) {
	case AUTH_CONNECT:
		return cu->connect_timeout;
	case AUTH_SEND:
		return cu->send_timeout;
	default:
		return cu->read_timeout;
	}
}

/* The wait was too long: this attempt failed; the access phase runs
 * again when the timer's task does, and goes on from there. */
static void auth_timeout(struct exchange *x)
{
	struct auth_request_state *st = x->auth_req;
	bool connecting = st->step == AUTH_CONNECT;

	exchange_log(x, LL_ERROR, ETIMEDOUT, "auth_request: upstream \"%s\" server %s timed out "
		     "%s", st->up->conf->name, auth_server_of(st)->address,
		     connecting ? "while connecting" : "before answering");
	attempt_failed(st, CONF_FAIL_TIMEOUT, TERM_SERVER_TIMEOUT);
}

static const struct content auth_wait = {
	.name = "auth_request",
	.wait_ms = auth_wait_ms,
	.timeout = auth_timeout,
};

void auth_subrequest_start(struct auth_request_state *st)
{
	struct exchange *x = st->x;
	struct var_source src = exchange_vars(x);
	size_t len;
	int idx;

	st->up = upstream_of(st->conf->upstream);
	st->first_try = ev_now();
	balance_start(&st->pick, st->up->conf, &src);
	idx = balance_pick(st->up, &st->pick, st->first_try);
	if (idx < 0) {
		exchange_log(x, LL_ERROR, 0, "auth_request: no live server in upstream \"%s\"",
			     st->up->conf->name);
		STATS_ADD(x->ctx->stats, c.no_server, 1);
		fail(st, TERM_NO_SERVER);
		return;
	}
	st->server = (unsigned)idx;
	if (st->head == NULL && (st->head = buf_get()) == NULL) {
		exchange_log(x, LL_ERROR, ENOMEM, "auth_request: no buffer for a subrequest");
		fail(st, TERM_RESOURCE);
		return;
	}
	if ((len = build_head(st, st->head)) == 0) {
		exchange_log(x, LL_ERROR, 0, "auth_request: the subrequest's head does not fit a "
			     "buffer");
		fail(st, TERM_RESOURCE);
		return;
	}
	st->head->last = st->head->start + len;
	exchange_set_content(x, &auth_wait);
	attempt(st, true);
}
