/*
 * proxy.c: the upstream half of an exchange.
 *
 * Helpers that can end the exchange return P_DONE when they did: the
 * session then belongs to someone else (answered, closed or reused) and
 * the caller must not touch it again.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "log.h"
#include "balance.h"
#include "head.h"
#include "health.h"
#include "proxy.h"
#include "session.h"
#include "upstream.h"
#include "worker.h"

static void upstream_event(struct ev_io *io, uint32_t events)
{
	struct upconn *uc = (struct upconn *)io;

	(void)events;
	proxy_progress(uc->owner);
}

static void drop_upstream(struct exchange *x)
{
	if (x->uc != NULL) {
		upstream_release(x->uc, false);
		x->uc = NULL;
	}
	x->connecting = false;
}

static int start_sending(struct session *s)
{
	struct exchange *x = s->x;
	const struct http_message *r = &x->req;
	size_t head_len = (size_t)(x->req_head->last - x->req_head->start);

	x->connecting = false;
	x->upstream_addr = upconn_addr(x->uc);
	/* A new attempt: the next arm_timer() must replace the connect
	 * timer even if as many bytes have moved as in the last attempt. */
	x->progress_seen = UINT64_MAX;
	pump_init(&x->req_pump, &s->client, &x->uc->conn, s->in, r->framing,
		  r->content_length,
		  r->framing == HTTP_BODY_CHUNKED ? PUMP_OUT_CHUNKED : PUMP_OUT_IDENTITY,
		  x->req_head->start, head_len);
	return P_OK;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* A failed attempt: counted, and for the kinds fail_on names, held
 * against the server (which may mark it down). */
static void note_failure(struct session *s, unsigned kind)
{
	struct exchange *x = s->x;
	const struct conf_upstream *cu = x->up->conf;
	const struct conf_server *srv = &cu->servers[x->server];

	if (kind != CONF_FAIL_5XX)
		STATS_ADD(worker_stats, c.upstream_failures, 1);
	if ((cu->fail_on & kind) && health_fail(x->up->servers[x->server].peer, srv, ev_now()))
		log_msg(LL_WARN, "upstream \"%s\" server %s marked down for %u ms after %u failures",
			cu->name, srv->address, srv->fail_timeout, srv->max_fails);
}

/* What the client gets when no server answered. */
static void give_up(struct session *s)
{
	struct exchange *x = s->x;

	if (x->pick.ntried == 0) {
		session_log(s, LL_ERROR, 0, "no live server in upstream \"%s\"", x->up->conf->name);
		STATS_ADD(worker_stats, c.no_server, 1);
		session_respond(s, 503, false);
		return;
	}
	session_respond(s, x->connect_timed_out ? 504 : 502, false);
}

/* Whether one more server may be tried: retries and retry_timeout. */
static bool may_try_another(const struct exchange *x)
{
	const struct conf_upstream *cu = x->up->conf;

	if (x->pick.ntried > cu->retries)
		return false;
	return cu->retry_timeout == 0 || ev_now() - x->first_try < cu->retry_timeout;
}

/* Choose the server for the next attempt: -1 when none may be tried. */
static int pick_next(struct session *s)
{
	struct exchange *x = s->x;
	int idx;

	if (!may_try_another(x))
		return -1;
	idx = balance_pick(x->up, &x->pick, ev_now());
	if (idx < 0)
		return -1;
	x->server = (unsigned)idx;
	STATS_ADD(worker_stats, c.retries, 1);
	return idx;
}

/* Connect to x->server, then to the next servers the balancer offers
 * until one connects or none is left. */
static int connect_next(struct session *s, bool pooled)
{
	struct exchange *x = s->x;
	int err = 0, r;

	for (;;) {
		if (x->up->conf->balance == BALANCE_EWMA)
			x->try_start_us = now_us();
		r = upstream_connect(x->up, x->server, s, upstream_event, pooled, &x->uc, &err);
		if (r == P_OK)
			return start_sending(s);
		if (r == P_AGAIN) {
			x->connecting = true;
			ev_timer_set(&s->timer, x->up->conf->connect_timeout);
			return P_AGAIN;
		}
		x->uc = NULL;
		session_log(s, LL_ERROR, err, "connect() to upstream %s failed",
			    x->up->conf->servers[x->server].address);
		note_failure(s, CONF_FAIL_ERROR);
		if (pick_next(s) < 0)
			break;
	}
	give_up(s);
	return P_DONE;
}

/* A connect attempt failed (kind: error or timeout): on to the next
 * server, or the client's answer. P_OK when connected at once. */
static int next_server(struct session *s, unsigned kind)
{
	note_failure(s, kind);
	drop_upstream(s->x);
	if (pick_next(s) < 0) {
		give_up(s);
		return P_DONE;
	}
	return connect_next(s, true);
}

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
	return x->uc != NULL && x->uc->reused && replayable(x) && x->uin_bytes == 0;
}

/* The server failed before any byte of a response: another may take the
 * request when none of it was sent, or when it is idempotent and whole. */
static bool can_retry_elsewhere(const struct exchange *x)
{
	if (x->uin_bytes != 0)
		return false;
	return x->req_pump.sent == 0 || (idempotent(x->req.method_id) && replayable(x));
}

/* Send the request again from the start, to x->server (pooled: a kept
 * connection may serve). Always P_DONE: the caller was reading a response
 * that no longer exists. */
static int restart(struct session *s, bool pooled)
{
	struct exchange *x = s->x;

	drop_upstream(x);
	x->req_done = false;
	x->req_failed = false;
	if (connect_next(s, pooled) == P_OK)
		proxy_progress(s);
	return P_DONE;
}

/* After the server failed the attempt in a way fail_on calls kind. */
static int retry_or_fail(struct session *s, unsigned kind, int status)
{
	struct exchange *x = s->x;

	note_failure(s, kind);
	if (can_retry_elsewhere(x) && pick_next(s) >= 0) {
		session_log(s, LL_WARN, 0, "trying upstream %s next",
			    x->up->conf->servers[x->server].address);
		return restart(s, true);
	}
	session_respond(s, status, false);
	return P_DONE;
}

static int upstream_failed(struct session *s, int err, const char *what)
{
	struct exchange *x = s->x;

	if (can_retry_fresh(x)) {
		session_log(s, LL_DEBUG, err, "kept-alive upstream %s failed %s, retrying",
			    x->upstream_addr, what);
		return restart(s, false);
	}
	session_log(s, LL_ERROR, err, "upstream %s failed %s", x->upstream_addr, what);
	return retry_or_fail(s, CONF_FAIL_ERROR, 502);
}

static int send_request(struct session *s)
{
	struct exchange *x = s->x;
	int r = pump_run(&x->req_pump);

	if (r == P_OK) {
		x->req_done = true;
		/* Sent: its buffer can serve someone else meanwhile, unless
		 * the request may have to go again. */
		if (!replayable(x)) {
			buf_put(x->req_head);
			x->req_head = NULL;
		}
		return P_OK;
	}
	if (r == P_AGAIN)
		return P_OK;
	switch (x->req_pump.fault) {
	case PUMP_SRC_INVALID:
		session_log(s, LL_INFO, 0, "invalid chunked body from client");
		session_respond(s, 400, true);
		return P_DONE;
	case PUMP_SRC_EOF:
	case PUMP_SRC_ERROR:
		session_log(s, LL_INFO, s->client.err, "client closed while sending the request body");
		x->status = 499;
		s->keep_alive = false;
		session_exchange_done(s);
		return P_DONE;
	default:
		/* The server may have answered early and closed: read on, its
		 * response is still worth forwarding. */
		x->req_failed = true;
		x->req_err = x->uc->conn.err;
		return P_OK;
	}
}

static int no_head_room(struct session *s, const char *what)
{
	session_log(s, LL_ERROR, 0, "%s from upstream %s does not fit a buffer", what,
		    s->x->upstream_addr);
	session_respond(s, 502, false);
	return P_DONE;
}

static bool get_resp_head(struct exchange *x)
{
	return x->resp_head != NULL || (x->resp_head = buf_get()) != NULL;
}

/* Decide how the body goes to the client and start the response pump. */
/* A final response head came: what the server's health learns from it. */
static void note_response(struct session *s)
{
	struct exchange *x = s->x;
	const struct conf_upstream *cu = x->up->conf;
	struct health_peer *peer = x->up->servers[x->server].peer;

	if (cu->balance == BALANCE_EWMA)
		health_ewma_sample(peer, now_us() - x->try_start_us, ev_now(), cu->ewma_decay);
	if (x->resp.status >= 500)
		note_failure(s, CONF_FAIL_5XX);
	else
		health_success(peer);
}

static int start_response(struct session *s, size_t head_len)
{
	struct exchange *x = s->x;
	const struct http_message *r = &x->resp;
	bool chunked = false;
	size_t len;

	x->resp_head_done = true;
	x->status = r->status;
	note_response(s);
	if (r->framing == HTTP_BODY_CHUNKED || r->framing == HTTP_BODY_EOF) {
		if (x->req.version >= 11)
			chunked = true;
		else
			s->keep_alive = false;	/* the end is shown by closing */
	}
	if (session_quitting || x->req_failed)
		s->keep_alive = false;
	x->resp_reusable = http_keep_alive(r) && r->framing != HTTP_BODY_EOF &&
			   x->up->conf->keepalive > 0;
	if (!get_resp_head(x))
		return no_head_room(s, "a response head");
	len = head_response(s, x->resp_head, chunked ? HEAD_FINAL_CHUNKED : HEAD_FINAL);
	if (len == 0)
		return no_head_room(s, "a response head");
	x->uin->pos += head_len;
	pump_init(&x->resp_pump, &x->uc->conn, &s->client, x->uin, r->framing,
		  r->content_length, chunked ? PUMP_OUT_CHUNKED : PUMP_OUT_IDENTITY,
		  x->resp_head->start, len);
	return P_OK;
}

/* 101 to an upgrade request: from now on bytes flow both ways untouched,
 * until both sides have closed. */
static int start_tunnel(struct session *s, size_t head_len)
{
	struct exchange *x = s->x;
	size_t len;

	if (!get_resp_head(x))
		return no_head_room(s, "a 101 head");
	len = head_response(s, x->resp_head, HEAD_SWITCH);
	if (len == 0)
		return no_head_room(s, "a 101 head");
	x->uin->pos += head_len;
	x->resp_head_done = true;
	x->tunnel = true;
	x->status = 101;
	x->resp_reusable = false;
	s->keep_alive = false;
	pump_init(&x->resp_pump, &x->uc->conn, &s->client, x->uin, HTTP_BODY_EOF, 0,
		  PUMP_OUT_IDENTITY, x->resp_head->start, len);
	pump_init(&x->req_pump, &s->client, &x->uc->conn, s->in, HTTP_BODY_EOF, 0,
		  PUMP_OUT_IDENTITY, NULL, 0);
	return P_OK;
}

/* A 1xx before the final response: passed to HTTP/1.1 clients (102, 103),
 * except 100, which the client already had from portico. */
static int interim_response(struct session *s, size_t head_len)
{
	struct exchange *x = s->x;
	size_t len = 0;

	if (x->resp.status != 100 && x->req.version >= 11 && get_resp_head(x))
		len = head_response(s, x->resp_head, HEAD_INTERIM);
	x->uin->pos += head_len;
	x->uscanned = 0;
	if (len > 0) {
		pump_init(&x->resp_pump, NULL, &s->client, NULL, HTTP_BODY_NONE, 0,
			  PUMP_OUT_IDENTITY, x->resp_head->start, len);
		x->interim_pending = true;
	}
	return P_AGAIN;
}

static int bad_response(struct session *s, const char *why)
{
	session_log(s, LL_ERROR, 0, "%s from upstream %s", why, s->x->upstream_addr);
	session_respond(s, 502, false);
	return P_DONE;
}

/* P_OK: the final response started; P_AGAIN: an interim one was handled,
 * read on; P_DONE: the exchange was answered. */
static int parse_response_head(struct session *s, size_t end)
{
	struct http_limits lim = worker_head_limits();
	struct exchange *x = s->x;

	if (http_parse_response(x->uin->pos, end, &x->resp, &lim, x->req.method_id) != P_OK)
		return bad_response(s, "invalid response head");
	if (x->resp.status == 101) {
		if (head_upgrade_request(&x->req).p == NULL)
			return bad_response(s, "unrequested protocol switch");
		return start_tunnel(s, end);
	}
	if (x->resp.status < 200)
		return interim_response(s, end);
	return start_response(s, end);
}

/* Write out a forwarded interim response before reading further. */
static int flush_interim(struct session *s)
{
	struct exchange *x = s->x;
	int r = pump_run(&x->resp_pump);

	if (r == P_AGAIN)
		return P_AGAIN;
	x->interim_pending = false;
	if (r == P_OK)
		return P_OK;
	session_log(s, LL_INFO, s->client.err, "client closed while receiving a 1xx response");
	s->keep_alive = false;
	session_exchange_done(s);
	return P_DONE;
}

static int read_response_head(struct session *s)
{
	struct exchange *x = s->x;
	struct buf *in;
	ssize_t n;
	long end;

	if (x->uin == NULL && (x->uin = buf_get()) == NULL) {
		session_log(s, LL_ERROR, ENOMEM, "no buffer for a response");
		session_respond(s, 502, false);
		return P_DONE;
	}
	in = x->uin;
	for (;;) {
		if (x->interim_pending) {
			int r = flush_interim(s);

			if (r != P_OK)
				return r;
		}
		if (buf_len(in) > 0) {
			end = http_head_scan(in->pos, buf_len(in), &x->uscanned);
			if (end < 0)
				return bad_response(s, "invalid bytes in response head");
			if (end > 0) {
				int r = parse_response_head(s, (size_t)end);

				if (r != P_AGAIN)
					return r;
				continue;
			}
			if (buf_len(in) >= worker_conf->header_buffer_size)
				return bad_response(s, "too large response head");
		}
		if (buf_room(in) == 0)
			buf_compact(in);
		n = conn_recv(&x->uc->conn, in->last, buf_room(in));
		if (n == P_AGAIN)
			return P_AGAIN;
		if (n == P_DONE)
			return upstream_failed(s, x->req_failed ? x->req_err : 0,
					       "closing the connection before a response");
		if (n == P_ERROR)
			return upstream_failed(s, x->uc->conn.err, "reading the response head");
		in->last += n;
		x->uin_bytes += (size_t)n;
	}
}

static int send_response(struct session *s)
{
	struct exchange *x = s->x;
	int r = pump_run(&x->resp_pump);

	if (r == P_AGAIN)
		return P_AGAIN;
	if (r == P_OK) {
		/* Bytes after the response's end mean the server and we
		 * disagree on framing: never reuse that connection. */
		x->resp_reusable = x->resp_reusable && x->req_done && !x->req_failed &&
				   buf_len(x->uin) == 0;
		if (!x->req_pump.in_done && x->req.framing != HTTP_BODY_NONE)
			s->keep_alive = false;
	} else if (x->resp_pump.sent == 0 && x->resp_pump.fault != PUMP_DST_ERROR) {
		/* The body broke before anything reached the client (its first
		 * chunk came with the head): the client can still get a 502. */
		return bad_response(s, x->resp_pump.fault == PUMP_SRC_INVALID
				       ? "invalid chunked framing" : "a body cut short");
	} else {
		x->resp_reusable = false;
		s->keep_alive = false;
		if (x->resp_pump.fault == PUMP_DST_ERROR)
			session_log(s, LL_INFO, s->client.err, "client closed while receiving the response");
		else
			session_log(s, LL_ERROR, x->uc->conn.err,
				    "upstream %s broke off the response body (%s)", x->upstream_addr,
				    x->resp_pump.fault == PUMP_SRC_INVALID ? "invalid chunked framing" :
				    "closed early");
	}
	session_exchange_done(s);
	return P_DONE;
}

static unsigned current_timeout(const struct session *s)
{
	const struct exchange *x = s->x;
	const struct conf_upstream *cu = x->up->conf;

	if (x->tunnel)
		return worker_conf->tunnel_timeout;

	if (x->resp_head_done)
		return pump_blocked_on_dst(&x->resp_pump) ? worker_conf->send_timeout
							  : cu->read_timeout;
	if (!x->req_done && !x->req_failed)
		return pump_blocked_on_dst(&x->req_pump) ? cu->send_timeout
							 : worker_conf->client_body_timeout;
	return cu->read_timeout;
}

/* Timeouts count from the last byte moved in either direction. */
static void arm_timer(struct session *s)
{
	struct exchange *x = s->x;
	uint64_t progress = x->req_pump.progress + x->resp_pump.progress + x->uin_bytes;

	if (x->connecting)
		return;
	if (progress == x->progress_seen && ev_timer_armed(&s->timer))
		return;
	x->progress_seen = progress;
	ev_timer_set(&s->timer, current_timeout(s));
}

/* One direction of a tunnel: when its source has closed, pass the close
 * on with a half-close, so the other direction can still finish. */
static int tunnel_direction(struct session *s, struct pump *p)
{
	int r;

	if (p->done)
		return P_OK;
	r = pump_run(p);
	if (r == P_OK)
		conn_shutdown(p->dst);
	if (r != P_ERROR)
		return P_OK;
	session_log(s, LL_INFO, p->fault == PUMP_DST_ERROR ? p->dst->err : p->src->err,
		    "tunnel closed on an error");
	s->keep_alive = false;
	session_exchange_done(s);
	return P_DONE;
}

static void tunnel_progress(struct session *s)
{
	struct exchange *x = s->x;

	if (tunnel_direction(s, &x->resp_pump) == P_DONE ||
	    tunnel_direction(s, &x->req_pump) == P_DONE)
		return;
	if (x->resp_pump.done && x->req_pump.done) {
		session_exchange_done(s);
		return;
	}
	arm_timer(s);
}

/*
 * A client that closes while its whole request is out and no response has
 * started gets nothing more: stop waiting (nginx's default) rather than
 * hold the server and count against max_conns and least_conn. It is no
 * fault of the server. A body still being read ends in the pump instead.
 */
static bool client_aborted(struct session *s)
{
	struct exchange *x = s->x;

	if (!s->client.io.hup || x->resp_head_done ||
	    (x->req.framing != HTTP_BODY_NONE && !x->req_pump.in_done) ||
	    !conn_peer_closed(&s->client))
		return false;
	session_log(s, LL_INFO, 0, "client closed the connection while waiting for upstream %s",
		    x->up->conf->servers[x->server].address);
	x->status = 499;
	s->keep_alive = false;
	session_exchange_done(s);
	return true;
}

void proxy_progress(struct session *s)
{
	struct exchange *x = s->x;
	const char *why;
	int r;

	if (x->tunnel) {
		tunnel_progress(s);
		return;
	}
	if (client_aborted(s))
		return;

	if (x->connecting) {
		r = upstream_finish_connect(x->uc, &why);
		if (r == P_AGAIN)
			return;
		if (r == P_ERROR) {
			if (why == NULL)
				session_log(s, LL_ERROR, x->uc->conn.err,
					    "connect() to upstream %s failed", upconn_addr(x->uc));
			else
				session_log(s, LL_ERROR, 0, "TLS handshake with upstream %s "
					    "failed: %s", upconn_addr(x->uc), why);
			if (next_server(s, CONF_FAIL_ERROR) != P_OK)
				return;
		} else {
			start_sending(s);
		}
	}
	if (!x->req_done && !x->req_failed && send_request(s) == P_DONE)
		return;
	if (!x->resp_head_done) {
		r = read_response_head(s);
		if (r == P_DONE)
			return;
		if (r == P_AGAIN) {
			arm_timer(s);
			return;
		}
		if (x->tunnel) {
			tunnel_progress(s);
			return;
		}
	}
	if (send_response(s) == P_DONE)
		return;
	arm_timer(s);
}

void proxy_timeout(struct session *s)
{
	struct exchange *x = s->x;

	if (x->tunnel) {
		session_log(s, LL_INFO, 0, "tunnel idle for tunnel_timeout, closing");
		s->keep_alive = false;
		session_exchange_done(s);
		return;
	}

	if (x->connecting) {
		session_log(s, LL_ERROR, ETIMEDOUT, "upstream %s timed out while connecting",
			    upconn_addr(x->uc));
		x->connect_timed_out = true;
		if (next_server(s, CONF_FAIL_TIMEOUT) == P_OK)
			proxy_progress(s);
		return;
	}
	if (x->resp_head_done) {
		session_log(s, LL_ERROR, ETIMEDOUT, "timed out %s",
			    pump_blocked_on_dst(&x->resp_pump) ? "sending the response to the client"
							       : "reading the response body from upstream");
		x->resp_reusable = false;
		s->keep_alive = false;
		session_exchange_done(s);
		return;
	}
	if (!x->req_done && !x->req_failed && !pump_blocked_on_dst(&x->req_pump)) {
		session_log(s, LL_INFO, ETIMEDOUT, "client timed out sending the request body");
		session_respond(s, 408, true);
		return;
	}
	session_log(s, LL_ERROR, ETIMEDOUT, "upstream %s timed out sending a response head",
		    x->upstream_addr);
	retry_or_fail(s, CONF_FAIL_TIMEOUT, 504);
}

static void send_continue(struct session *s)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	struct iovec iov = { (void *)cont, sizeof(cont) - 1 };

	/* The socket's send buffer is empty while a request is being read,
	 * so this small write completes or the client is gone anyway. */
	if (conn_writev(&s->client, &iov, 1) != (ssize_t)iov.iov_len)
		session_log(s, LL_INFO, s->client.err, "could not send 100 Continue");
}

void proxy_start(struct session *s)
{
	struct exchange *x = s->x;
	size_t len;
	int idx;

	x->up = upstream_of(x->route->upstream);
	x->first_try = ev_now();
	balance_start(&x->pick, x->up->conf, &x->req, s->peer);
	idx = balance_pick(x->up, &x->pick, x->first_try);
	if (idx < 0) {
		give_up(s);
		return;
	}
	x->server = (unsigned)idx;
	x->req_head = buf_get();
	if (x->req_head == NULL) {
		session_log(s, LL_ERROR, ENOMEM, "no buffer for a request head");
		session_respond(s, 500, true);
		return;
	}
	len = head_request(s, x->req_head);
	if (len == 0) {
		session_respond(s, 431, true);
		return;
	}
	x->req_head->last = x->req_head->start + len;
	if (x->req.expect_continue && x->req.version >= 11 &&
	    x->req.framing != HTTP_BODY_NONE && buf_len(s->in) == 0)
		send_continue(s);
	if (connect_next(s, true) == P_DONE)
		return;
	proxy_progress(s);
}
