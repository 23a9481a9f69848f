/*
 * proxy.c: the upstream module.
 *
 * Each step below moves the exchange on from its phase and returns
 * P_AGAIN when it waits for an event, or P_OK when it changed the phase:
 * a retry goes back to PH_CONNECT, an answer of portico's own to
 * PH_RESPONSE_HEAD, an end to PH_LOG. The dispatcher (exchange.c) does
 * the rest; nothing here runs another step on its own stack.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>

#include "log.h"
#include "balance.h"
#include "head.h"
#include "health.h"
#include "proxy.h"
#include "modules/geo.h"
#include "upstream.h"

static const struct content proxy_content;

static const struct conf_upstream *conf_of(const struct exchange *x)
{
	return x->up.upstream->conf;
}

static const char *server_address(const struct exchange *x)
{
	return conf_of(x)->servers[x->up.server].address;
}

/* An event on the server's connection: the exchange moves on. */
static void upstream_event(struct ev_io *io, uint32_t events)
{
	struct upconn *uc = (struct upconn *)io;
	struct exchange *x = uc->owner;

	(void)events;
	ev_post(&x->task);
}

static void drop_upstream(struct exchange *x)
{
	if (x->up.uc != NULL) {
		upstream_release(x->up.uc, false);
		x->up.uc = NULL;
	}
}

/* ---- health ---- */

/* A failed attempt: counted, and for the kinds fail_on names, held
 * against the server (which may mark it down). */
static void note_failure(struct exchange *x, unsigned kind)
{
	upstream_note_failure(x->up.upstream, x->up.server, kind, x->ctx->stats);
}

/* A final response head came: what the server's health learns from it. */
static void note_response(struct exchange *x)
{
	upstream_note_answer(x->up.upstream, x->up.server, x->resp.status,
			     ev_now_us() - x->up.try_start_us, x->ctx->stats);
}

/* ---- choosing and connecting ---- */

/* What the client gets when no server answered. */
static void give_up(struct exchange *x)
{
	if (x->up.pick.ntried == 0) {
		exchange_log(x, LL_ERROR, 0, "no live server in upstream \"%s\"", conf_of(x)->name);
		STATS_ADD(x->ctx->stats, c.no_server, 1);
		exchange_respond(x, 503, TERM_NO_SERVER, false);
		return;
	}
	if (x->up.connect_timed_out)
		exchange_respond(x, 504, TERM_SERVER_TIMEOUT, false);
	else
		exchange_respond(x, 502, TERM_SERVER, false);
}

/* Whether one more server may be tried: retries and retry_timeout. */
static bool may_try_another(const struct exchange *x)
{
	const struct conf_route *r = x->route;	/* the upstream's, or its own */

	if (x->up.pick.ntried > r->retries)
		return false;
	return r->retry_timeout == 0 || ev_now() - x->up.first_try < r->retry_timeout;
}

/* Choose the server for the next attempt: -1 when none may be tried. */
static int pick_next(struct exchange *x)
{
	int idx;

	if (!may_try_another(x))
		return -1;
	idx = balance_pick(x->up.upstream, &x->up.pick, ev_now());
	if (idx < 0)
		return -1;
	x->up.server = (unsigned)idx;
	STATS_ADD(x->ctx->stats, c.retries, 1);
	return idx;
}

/* Connected: the request head (and body) can go. */
static void start_sending(struct exchange *x)
{
	struct proxy_state *u = &x->up;
	const struct http_message *r = &x->req;

	x->upstream_addr = upconn_addr(u->uc);
	x->connect_us = MAX(ev_now_us() - u->try_start_us, (uint64_t)1);
	exchange_new_wait(x);
	pump_init(&x->req_pump, x->client.conn, &u->uc->conn, x->client.in, r->framing,
		  r->content_length,
		  r->framing == HTTP_BODY_CHUNKED ? PUMP_OUT_CHUNKED : PUMP_OUT_IDENTITY,
		  u->req_head->start, (size_t)(u->req_head->last - u->req_head->start));
	pump_keep_head(&x->req_pump);
	pump_set_limit(&x->req_pump, x->route->client_max_body_size);
	u->body_start = ev_now();
	u->waiting_server = false;
	exchange_goto(x, PH_UPSTREAM);
}

/* A connect() that failed for want of something of ours (descriptors,
 * memory, local ports), not through any fault of the server. */
static bool local_shortage(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM ||
	       err == EADDRNOTAVAIL;
}

/* Connect to x->up.server, then to the next servers the balancer offers
 * until a connection is under way or none is left. */
static void connect_next(struct exchange *x, bool pooled)
{
	struct proxy_state *u = &x->up;
	struct upconn_client client;
	int err = 0, r;

	exchange_goto(x, PH_CONNECT);
	client.addrless = x->client.addrless;
	memcpy(client.addr, x->client.addr_bin, sizeof(client.addr));
	client.port = x->client.port;
	memcpy(client.local, x->client.local_bin, sizeof(client.local));
	client.local_port = x->client.local_port;
	for (;;) {
		u->try_start_us = ev_now_us();
		r = upstream_connect(u->upstream, u->server, x, upstream_event, pooled, &client,
				     &u->uc, &err);
		if (r == P_OK) {
			start_sending(x);
			return;
		}
		if (r == P_AGAIN) {
			exchange_new_wait(x);
			return;
		}
		u->uc = NULL;
		if (local_shortage(err)) {
			exchange_log(x, LL_ERROR, err, "no connection to upstream %s can be opened",
				     server_address(x));
			exchange_respond(x, 502, TERM_RESOURCE, false);
			return;
		}
		exchange_log(x, LL_ERROR, err, "connect() to upstream %s failed", server_address(x));
		note_failure(x, CONF_FAIL_ERROR);
		if (pick_next(x) < 0)
			break;
	}
	give_up(x);
}

/* A connect attempt failed (kind: error or timeout): on to the next
 * server, or the client's answer. */
static void next_server(struct exchange *x, unsigned kind)
{
	note_failure(x, kind);
	drop_upstream(x);
	if (pick_next(x) < 0) {
		give_up(x);
		return;
	}
	connect_next(x, true);
}

/* ---- retries ---- */

static bool idempotent(int method)
{
	return method == HTTP_GET || method == HTTP_HEAD || method == HTTP_PUT ||
	       method == HTTP_DELETE || method == HTTP_OPTIONS || method == HTTP_TRACE;
}

/* Without a body, the request head (kept until a response starts) is the
 * whole request and can be sent again. */
static bool replayable(const struct exchange *x)
{
	return x->req.framing == HTTP_BODY_NONE;
}

/* A connection taken from the pool may have been closed by the server
 * just as we sent on it: that is no fault of the server, and the request
 * goes again on a new connection to it. */
static bool can_retry_fresh(const struct exchange *x)
{
	return x->up.uc != NULL && x->up.uc->reused && replayable(x) && x->up.in_bytes == 0;
}

/* The server failed before any byte of a response: another may take the
 * request when none of it was sent nor any of its body taken from the
 * client's bytes (they would be missing from the retry), or when it is
 * idempotent and whole. */
static bool can_retry_elsewhere(const struct exchange *x)
{
	if (x->up.in_bytes != 0)
		return false;
	return (x->req_pump.sent == 0 && x->req_pump.taken == 0) ||
	       (idempotent(x->req.method_id) && replayable(x));
}

/* Send the request again from the start, to x->up.server (pooled: a kept
 * connection may serve). */
static void restart(struct exchange *x, bool pooled)
{
	drop_upstream(x);
	x->up.req_failed = false;
	x->up.scanned = 0;
	connect_next(x, pooled);
}

/* After the server failed the attempt in a way fail_on calls kind: the
 * next server, or status for the client (cause: how the end is logged). */
static void retry_or_fail(struct exchange *x, unsigned kind, int status, enum term_cause cause)
{
	note_failure(x, kind);
	if (can_retry_elsewhere(x) && pick_next(x) >= 0) {
		exchange_log(x, LL_WARN, 0, "trying upstream %s next", server_address(x));
		restart(x, true);
		return;
	}
	exchange_respond(x, status, cause, false);
}

static void upstream_failed(struct exchange *x, int err, const char *what)
{
	if (can_retry_fresh(x)) {
		exchange_log(x, LL_DEBUG, err, "kept-alive upstream %s failed %s, retrying",
			     x->upstream_addr, what);
		restart(x, false);
		return;
	}
	exchange_log(x, LL_ERROR, err, "upstream %s failed %s", x->upstream_addr, what);
	retry_or_fail(x, CONF_FAIL_ERROR, 502, TERM_SERVER);
}

/* A response that cannot be forwarded: the server failed. */
static void bad_response(struct exchange *x, const char *why)
{
	exchange_log(x, LL_ERROR, 0, "%s from upstream %s", why, x->upstream_addr);
	note_failure(x, CONF_FAIL_ERROR);
	exchange_respond(x, 502, TERM_SERVER, false);
}

/* ---- the request ---- */

/* The time the server takes to accept the request body is not held
 * against the client: it moves the body's start on. */
static void note_server_wait(struct exchange *x)
{
	struct proxy_state *u = &x->up;
	bool waiting = pump_blocked_on_dst(&x->req_pump);

	if (waiting && !u->waiting_server)
		u->server_wait_since = ev_now();
	else if (!waiting && u->waiting_server)
		u->body_start += ev_now() - u->server_wait_since;
	u->waiting_server = waiting;
}

/*
 * When the request body falls under its site's client_body_min_rate (ms,
 * on the ev_now() clock; 0: never): once client_body_min_rate_after has
 * passed since it began, the bytes taken so far must have come at least
 * that fast. Each byte moves it on, and the exchange's timer is set anew
 * whenever bytes move, so a timer at this time checks the rate without
 * any polling.
 */
static uint64_t min_rate_deadline(const struct exchange *x)
{
	uint64_t rate = x->site->client_body_min_rate, taken = x->req_pump.taken;

	if (rate == 0)
		return 0;
	return x->up.body_start + MAX((uint64_t)x->site->client_body_min_rate_after,
				      taken / rate * 1000 + taken % rate * 1000 / rate);
}

static bool body_too_slow(const struct exchange *x)
{
	uint64_t deadline = min_rate_deadline(x);

	return deadline != 0 && ev_now() >= deadline;
}

static void body_rate_failed(struct exchange *x)
{
	uint64_t ms = MAX(ev_now() - x->up.body_start, (uint64_t)1);

	exchange_log(x, LL_INFO, 0, "client sent the request body at %llu bytes/s, under "
		     "client_body_min_rate (%zu bytes/s)",
		     (unsigned long long)(x->req_pump.taken * 1000 / ms),
		     x->site->client_body_min_rate);
	x->refused_by = "client_body_min_rate";
	exchange_respond(x, 408, TERM_CLIENT_TIMEOUT, true);
}

/*
 * Move the request (head and body) on. P_OK while it may go on (sent, or
 * waiting for a side), P_DONE when this ended or answered the exchange.
 */
static int send_request(struct exchange *x)
{
	struct proxy_state *u = &x->up;
	int r = pump_run(&x->req_pump);

	if (r == P_OK) {
		/* Sent: its buffer can serve someone else meanwhile, unless
		 * the request may have to go again. */
		if (!replayable(x)) {
			buf_put(u->req_head);
			u->req_head = NULL;
		}
		return P_OK;
	}
	if (r == P_AGAIN) {
		note_server_wait(x);
		return P_OK;
	}
	switch (x->req_pump.fault) {
	case PUMP_SRC_INVALID:
		exchange_log(x, LL_INFO, 0, "invalid chunked body from client");
		exchange_respond(x, 400, TERM_PROXY, true);
		return P_DONE;
	case PUMP_SRC_TOO_LARGE:
		exchange_log(x, LL_INFO, 0, "the request body grew past client_max_body_size (%zu "
			     "bytes)", x->route->client_max_body_size);
		STATS_ADD(x->ctx->stats, c.body_size_refused, 1);
		exchange_deny(x, 413, "client_max_body_size", true);
		return P_DONE;
	case PUMP_SRC_EOF:
	case PUMP_SRC_ERROR:
		exchange_log(x, LL_INFO, x->client.conn->err,
			     "client closed while sending the request body");
		x->status = 499;
		exchange_end(x, TERM_CLIENT);
		return P_DONE;
	default:
		/* The server may have answered early and closed: read on, its
		 * response is still worth forwarding. */
		u->req_failed = true;
		u->req_err = u->uc->conn.err;
		return P_OK;
	}
}

static void send_continue(struct exchange *x)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	struct iovec iov = { (void *)cont, sizeof(cont) - 1 };

	/* The socket's send buffer is empty while a request is being read,
	 * so this small write completes or the client is gone anyway. */
	if (conn_writev(x->client.conn, &iov, 1) != (ssize_t)iov.iov_len)
		exchange_log(x, LL_INFO, x->client.conn->err, "could not send 100 Continue");
}

/* ---- the response head ---- */

/* The body follows the head in the buffer the head was read into: the
 * exchange takes it, with the connection to read the rest from. */
static void hand_over_body(struct exchange *x, size_t head_len)
{
	struct proxy_state *u = &x->up;

	u->in->pos += head_len;
	x->body_in = u->in;
	x->body_src = &u->uc->conn;
	u->in = NULL;
}

/* Whether the response names transfer codings that pass on with it (a
 * body read until the server closes, RFC 9112 6.3). */
static bool passes_transfer_coding(const struct http_message *r)
{
	unsigned i;

	for (i = 0; i < r->nheaders; i++)
		if (r->headers[i].id == HDR_TRANSFER_ENCODING && !(r->headers[i].flags & HTTP_HDR_HOP))
			return true;
	return false;
}

static void start_response(struct exchange *x, size_t head_len)
{
	struct proxy_state *u = &x->up;
	const struct http_message *r = &x->resp;

	x->status = r->status;
	x->header_us = MAX(ev_now_us() - u->try_start_us, (uint64_t)1);
	note_response(x);
	if (x->ctx->quitting || u->req_failed)
		x->keep_alive = false;
	/* An HTTP/1.0 client knows no transfer codings (RFC 9112 6.1): a
	 * body in one would reach it undecoded and unlabelled. */
	if (x->req.version < 11 && passes_transfer_coding(r)) {
		if (r->framing != HTTP_BODY_NONE) {
			exchange_log(x, LL_ERROR, 0, "a transfer coding from upstream %s cannot go "
				     "to an HTTP/1.0 client", x->upstream_addr);
			exchange_respond(x, 502, TERM_SERVER, false);
			return;
		}
		exchange_drop_known_field(x, HDR_TRANSFER_ENCODING);
	}
	u->reusable = http_keep_alive(r) && r->framing != HTTP_BODY_EOF &&
		      conf_of(x)->keepalive > 0;
	hand_over_body(x, head_len);
	exchange_goto(x, PH_RESPONSE_HEAD);
}

/* 101 to an upgrade request: from now on bytes flow both ways untouched,
 * until both sides have closed. */
static void start_tunnel(struct exchange *x, size_t head_len)
{
	x->status = 101;
	x->header_us = MAX(ev_now_us() - x->up.try_start_us, (uint64_t)1);
	x->up.reusable = false;
	x->keep_alive = false;
	hand_over_body(x, head_len);
	pump_init(&x->req_pump, x->client.conn, &x->up.uc->conn, x->client.in, HTTP_BODY_EOF,
		  0, PUMP_OUT_IDENTITY, NULL, 0);
	pump_keep_head(&x->req_pump);
	exchange_goto(x, PH_RESPONSE_HEAD);
}

/* A 1xx before the final response: passed to HTTP/1.1 clients (102, 103),
 * except 100, which the client already had from portico. */
static void interim_response(struct exchange *x, size_t head_len)
{
	struct proxy_state *u = &x->up;
	size_t len = 0;

	if (x->resp.status != 100 && x->req.version >= 11 &&
	    (x->resp_head != NULL || (x->resp_head = buf_get()) != NULL))
		len = head_response(x, x->resp_head, HEAD_INTERIM);
	u->in->pos += head_len;
	u->scanned = 0;
	if (len > 0) {
		pump_init(&x->resp_pump, NULL, x->client.conn, NULL, HTTP_BODY_NONE, 0,
			  PUMP_OUT_IDENTITY, x->resp_head->start, len);
		u->interim_pending = true;
	}
}

/* A head is in u->in[0..end): P_AGAIN after an interim one (read on),
 * P_OK when the exchange moved on. */
static int parse_response_head(struct exchange *x, size_t end)
{
	struct proxy_state *u = &x->up;

	if (http_parse_response(u->in->pos, end, &x->resp, &x->ctx->head_limits,
				x->req.method_id) != P_OK) {
		bad_response(x, "invalid response head");
		return P_OK;
	}
	if (x->resp.status == 101) {
		if (head_upgrade_request(&x->req).p == NULL) {
			bad_response(x, "unrequested protocol switch");
			return P_OK;
		}
		start_tunnel(x, end);
		return P_OK;
	}
	if (x->resp.status < 200) {
		interim_response(x, end);
		return P_AGAIN;
	}
	start_response(x, end);
	return P_OK;
}

/* Write out a forwarded interim response before reading further: P_OK
 * when written, P_AGAIN, or P_DONE when the client is gone. */
static int flush_interim(struct exchange *x)
{
	int r = pump_run(&x->resp_pump);

	if (r == P_AGAIN)
		return P_AGAIN;
	x->up.interim_pending = false;
	if (r == P_OK)
		return P_OK;
	exchange_log(x, LL_INFO, x->client.conn->err,
		     "client closed while receiving a 1xx response");
	exchange_end(x, TERM_CLIENT);
	return P_DONE;
}

static int read_response_head(struct exchange *x)
{
	struct proxy_state *u = &x->up;
	struct buf *in;
	ssize_t n;
	long end;

	if (u->in == NULL && (u->in = buf_get()) == NULL) {
		exchange_log(x, LL_ERROR, ENOMEM, "no buffer for a response");
		exchange_respond(x, 502, TERM_RESOURCE, false);
		return P_OK;
	}
	in = u->in;
	for (;;) {
		if (u->interim_pending) {
			int r = flush_interim(x);

			if (r != P_OK)
				return r == P_DONE ? P_OK : P_AGAIN;
		}
		if (buf_len(in) > 0) {
			end = http_head_scan(in->pos, buf_len(in), &u->scanned);
			if (end < 0) {
				bad_response(x, "invalid bytes in response head");
				return P_OK;
			}
			if (end > 0) {
				if (parse_response_head(x, (size_t)end) == P_OK)
					return P_OK;
				continue;
			}
			if (buf_len(in) >= x->ctx->conf->header_buffer_size) {
				bad_response(x, "too large response head");
				return P_OK;
			}
		}
		if (buf_room(in) == 0)
			buf_compact(in);
		n = conn_recv(&u->uc->conn, in->last, buf_room(in));
		if (n == P_AGAIN)
			return P_AGAIN;
		if (n == P_DONE) {
			upstream_failed(x, u->req_failed ? u->req_err : 0,
					"closing the connection before a response");
			return P_OK;
		}
		if (n == P_ERROR) {
			upstream_failed(x, u->uc->conn.err, "reading the response head");
			return P_OK;
		}
		in->last += n;
		u->in_bytes += (size_t)n;
		x->progress += (uint64_t)n;
	}
}

/*
 * A client that closes while its whole request is out and no response has
 * started gets nothing more: stop waiting (nginx's default) rather than
 * hold the server and count against max_conns and least_conn. It is no
 * fault of the server. A body still being read ends in the pump instead.
 */
static bool client_aborted(struct exchange *x)
{
	struct conn *c = x->client.conn;

	if (!c->io.hup || (x->req.framing != HTTP_BODY_NONE && !x->req_pump.in_done) ||
	    !conn_peer_closed(c))
		return false;
	exchange_log(x, LL_INFO, 0, "client closed the connection while waiting for upstream %s",
		     server_address(x));
	x->status = 499;
	exchange_end(x, TERM_CLIENT);
	return true;
}

/* ---- the steps ---- */

static int step_connect(struct exchange *x)
{
	struct proxy_state *u = &x->up;
	const char *why;
	int r;

	if (client_aborted(x))
		return P_OK;
	r = upstream_finish_connect(u->uc, &why);
	if (r == P_AGAIN)
		return P_AGAIN;
	if (r == P_OK) {
		start_sending(x);
		return P_OK;
	}
	if (why == NULL)
		exchange_log(x, LL_ERROR, u->uc->conn.err, "connect() to upstream %s failed",
			     upconn_addr(u->uc));
	else
		exchange_log(x, LL_ERROR, 0, "TLS handshake with upstream %s failed: %s",
			     upconn_addr(u->uc), why);
	next_server(x, CONF_FAIL_ERROR);
	return P_OK;
}

static int step_upstream(struct exchange *x)
{
	if (client_aborted(x))
		return P_OK;
	if (!x->req_pump.done && !x->up.req_failed && send_request(x) == P_DONE)
		return P_OK;
	return read_response_head(x);
}

/* The body is all out: whether the server's connection can serve again. */
static void body_sent(struct exchange *x)
{
	struct proxy_state *u = &x->up;

	/* Bytes after the response's end mean the server and we disagree
	 * on framing: never reuse that connection. */
	u->reusable = u->reusable && x->req_pump.done && !u->req_failed &&
		      buf_len(x->body_in) == 0;
	if (!x->req_pump.in_done && x->req.framing != HTTP_BODY_NONE)
		x->keep_alive = false;
	exchange_end(x, TERM_NORMAL);
}

static void body_failed(struct exchange *x)
{
	struct proxy_state *u = &x->up;
	const struct pump *p = &x->resp_pump;
	const char *what = p->fault == PUMP_SRC_INVALID ? "invalid chunked framing" :
			   "closed early";

	if (p->sent == 0 && p->fault != PUMP_DST_ERROR && p->fault != PUMP_FILTER_ERROR) {
		/* The body broke before anything reached the client (its first
		 * chunk came with the head): the client can still get a 502. */
		bad_response(x, p->fault == PUMP_SRC_INVALID ? "invalid chunked framing"
							     : "a body cut short");
		return;
	}
	if (p->sent == 0 && p->fault == PUMP_FILTER_ERROR) {
		/* the same for a filter's failure, which the filter logged */
		u->reusable = false;
		exchange_respond(x, 502, TERM_PROXY, false);
		return;
	}
	u->reusable = false;
	x->keep_alive = false;
	if (p->fault == PUMP_DST_ERROR) {
		exchange_log(x, LL_INFO, x->client.conn->err,
			     "client closed while receiving the response");
		exchange_end(x, TERM_CLIENT);
	} else if (p->fault == PUMP_FILTER_ERROR) {
		exchange_end(x, TERM_PROXY);	/* the filter said why */
	} else {
		exchange_log(x, LL_ERROR, u->uc->conn.err,
			     "upstream %s broke off the response body (%s)", x->upstream_addr, what);
		note_failure(x, CONF_FAIL_ERROR);
		exchange_end(x, TERM_SERVER);
	}
}

static int step_body(struct exchange *x)
{
	int r;

	/* The server answered before the request was all sent: the rest
	 * still goes, as long as the server takes it. */
	if (!x->req_pump.done && !x->up.req_failed && send_request(x) == P_DONE)
		return P_OK;
	r = exchange_send_body(x);
	if (r == P_AGAIN)
		return P_AGAIN;
	if (r == P_OK)
		body_sent(x);
	else
		body_failed(x);
	return P_OK;
}

/* One direction of a tunnel: when its source has closed, pass the close
 * on with a half-close, so the other direction can still finish. */
static int tunnel_direction(struct exchange *x, struct pump *p, enum term_cause src_side)
{
	int r;

	if (p->done)
		return P_OK;
	r = pump_run(p);
	if (r == P_OK)
		conn_shutdown(p->dst);
	if (r != P_ERROR)
		return P_OK;
	exchange_log(x, LL_INFO, p->fault == PUMP_DST_ERROR ? p->dst->err : p->src->err,
		     "tunnel closed on an error");
	exchange_end(x, p->fault == PUMP_DST_ERROR
			? (src_side == TERM_SERVER ? TERM_CLIENT : TERM_SERVER) : src_side);
	return P_DONE;
}

static int step_tunnel(struct exchange *x)
{
	if (tunnel_direction(x, &x->resp_pump, TERM_SERVER) == P_DONE ||
	    tunnel_direction(x, &x->req_pump, TERM_CLIENT) == P_DONE)
		return P_OK;
	if (x->resp_pump.done && x->req_pump.done) {
		exchange_end(x, TERM_NORMAL);
		return P_OK;
	}
	return P_AGAIN;
}

static int proxy_run(struct exchange *x)
{
	switch (x->phase) {
	case PH_CONNECT:
		return step_connect(x);
	case PH_UPSTREAM:
		return step_upstream(x);
	case PH_TUNNEL:
		return step_tunnel(x);
	default:
		return step_body(x);
	}
}

/* ---- timeouts ---- */

/* Waiting for the client's request body: until it stalls for
 * client_body_timeout, or falls under client_body_min_rate. */
static unsigned body_wait_ms(const struct exchange *x)
{
	unsigned stall = x->ctx->conf->client_body_timeout;
	uint64_t deadline = min_rate_deadline(x), now = ev_now();

	if (deadline == 0)
		return stall;
	return deadline <= now ? 0 : (unsigned)MIN(deadline - now, (uint64_t)stall);
}

static unsigned proxy_wait_ms(const struct exchange *x)
{
	const struct conf_route *r = x->route;	/* the upstream's, or its own */
	const struct conf *c = x->ctx->conf;

	switch (x->phase) {
	case PH_CONNECT:
		return r->connect_timeout;
	case PH_UPSTREAM:
		if (!x->req_pump.done && !x->up.req_failed)
			return pump_blocked_on_dst(&x->req_pump) ? r->send_timeout
								 : body_wait_ms(x);
		return r->read_timeout;
	case PH_TUNNEL:
		return c->tunnel_timeout;
	default:
		return pump_blocked_on_dst(&x->resp_pump) ? c->send_timeout : r->read_timeout;
	}
}

static void proxy_timeout(struct exchange *x)
{
	switch (x->phase) {
	case PH_TUNNEL:
		exchange_log(x, LL_INFO, 0, "tunnel idle for tunnel_timeout, closing");
		exchange_end(x, TERM_CLIENT_TIMEOUT);
		return;
	case PH_CONNECT:
		exchange_log(x, LL_ERROR, ETIMEDOUT, "upstream %s timed out while connecting",
			     upconn_addr(x->up.uc));
		x->up.connect_timed_out = true;
		next_server(x, CONF_FAIL_TIMEOUT);
		return;
	case PH_UPSTREAM:
		if (!x->req_pump.done && !x->up.req_failed &&
		    !pump_blocked_on_dst(&x->req_pump)) {
			if (body_too_slow(x)) {
				body_rate_failed(x);
				return;
			}
			exchange_log(x, LL_INFO, ETIMEDOUT,
				     "client timed out sending the request body");
			exchange_respond(x, 408, TERM_CLIENT_TIMEOUT, true);
			return;
		}
		exchange_log(x, LL_ERROR, ETIMEDOUT, "upstream %s timed out %s", x->upstream_addr,
			     x->req_pump.done || x->up.req_failed ? "sending a response head"
								  : "taking the request");
		retry_or_fail(x, CONF_FAIL_TIMEOUT, 504, TERM_SERVER_TIMEOUT);
		return;
	default:
		x->up.reusable = false;
		x->keep_alive = false;
		if (pump_blocked_on_dst(&x->resp_pump)) {
			exchange_log(x, LL_INFO, ETIMEDOUT,
				     "timed out sending the response to the client");
			exchange_end(x, TERM_CLIENT_TIMEOUT);
			return;
		}
		exchange_log(x, LL_ERROR, ETIMEDOUT,
			     "timed out reading the response body from upstream %s",
			     x->upstream_addr);
		note_failure(x, CONF_FAIL_TIMEOUT);
		exchange_end(x, TERM_SERVER_TIMEOUT);
		return;
	}
}

/* The exchange is over, or is answered by portico instead: the server's
 * connection goes back to the pool when the exchange ended well. */
static void proxy_finish(struct exchange *x)
{
	struct proxy_state *u = &x->up;

	if (u->uc != NULL) {
		upstream_release(u->uc, u->reusable && x->term_cause == TERM_NORMAL);
		u->uc = NULL;
	}
	buf_put(u->req_head);
	u->req_head = NULL;
	buf_put(u->in);
	u->in = NULL;
}

static const struct content proxy_content = {
	.name = "upstream",
	.run = proxy_run,
	.wait_ms = proxy_wait_ms,
	.timeout = proxy_timeout,
	.finish = proxy_finish,
};

/* ---- the module ---- */

void proxy_start(struct exchange *x)
{
	struct var_source src;
	struct proxy_state *u = &x->up;
	size_t len;
	int idx;

	exchange_set_content(x, &proxy_content);
	u->upstream = upstream_of(x->route->upstream);
	u->first_try = ev_now();
	src = exchange_vars(x);
	balance_start(&u->pick, u->upstream->conf, &src);
	if (u->upstream->conf->gslb != NULL)
		balance_set_region(&u->pick, geo_region_in(x, u->upstream->conf->geo));
	idx = balance_pick(u->upstream, &u->pick, u->first_try);
	if (idx < 0) {
		give_up(x);
		return;
	}
	u->server = (unsigned)idx;
	if ((u->req_head = buf_get()) == NULL) {
		exchange_log(x, LL_ERROR, ENOMEM, "no buffer for a request head");
		exchange_respond(x, 500, TERM_RESOURCE, true);
		return;
	}
	len = head_request(x, u->req_head);
	if (len == 0) {
		exchange_respond(x, 431, TERM_PROXY, true);
		return;
	}
	u->req_head->last = u->req_head->start + len;
	if (x->req.expect_continue && x->req.version >= 11 &&
	    x->req.framing != HTTP_BODY_NONE && buf_len(x->client.in) == 0)
		send_continue(x);
	connect_next(x, true);
}

static bool proxy_claim(struct exchange *x)
{
	if (x->route == NULL || x->route->upstream == NULL)
		return false;
	proxy_start(x);
	return true;
}

static int proxy_init(const struct worker_ctx *ctx)
{
	return upstream_init_all(ctx);
}

const struct module proxy_module = {
	.name = "upstream",
	.init = proxy_init,
	.content = proxy_claim,
};
