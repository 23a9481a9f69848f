/*
 * auth_request.c: forward authentication.
 *
 * Before a request of a route with auth_request goes anywhere, the auth
 * server is asked: GET auth_request_uri, with the request's method,
 * target, host, scheme and client address in X-Forwarded-* fields and
 * the client's fields auth_request_headers names, without a body. The
 * exchange waits in the access phase meanwhile (the request's own body
 * stays unread in the client's connection, so it reaches the upstream
 * untouched after). The subrequest is the upstream module's kind of
 * attempt, made here without a client connection: a server the
 * upstream's balancer picks, pooled connections, the upstream's connect,
 * send and read timeouts, retries on other servers, and what the health
 * table learns from each attempt.
 *
 * The answer decides:
 *   2xx            the request goes on, with auth_request_set's fields
 *                  copied from the answer (the client's own of those
 *                  names were dropped first, so none can be forged) and
 *                  the user named by auth_request_user's field;
 *   401, 403, 3xx  the client gets that status with the answer's
 *                  WWW-Authenticate, Location and Set-Cookie fields and
 *                  its body (up to AUTH_BODY_MAX bytes; portico's own
 *                  page without one or with a longer one) — 3xx passes
 *                  as Traefik passes it, for login redirects;
 *   anything else  (another status, no server, a timeout, a broken
 *                  answer) 500, and the error log says why.
 *
 * A decision is written down as a record (status, the fields that
 * matter, the body); the record is what the exchange is changed by, and
 * what the auth cache keeps under the request's key.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "log.h"
#include "auth_cache.h"
#include "balance.h"
#include "head_writer.h"
#include "health.h"
#include "upstream.h"
#include "modules/auth_request.h"

/* The body of an answer that goes to the client; a longer one is not
 * read on (the connection is closed) and the client gets portico's own
 * page for the status. */
#define AUTH_BODY_MAX 4096

enum auth_step {
	AUTH_CONNECT,		/* connecting to st->server */
	AUTH_SEND,		/* the subrequest's head goes out */
	AUTH_HEAD,		/* reading the answer's head */
	AUTH_BODY,		/* reading its body */
	AUTH_DECIDED,		/* the record holds the decision */
	AUTH_FAILED		/* no answer to decide by: 500 */
};

struct auth_request_state {
	struct auth_request_state *next_free;
	struct exchange *x;
	const struct conf_auth_request *conf;
	struct upstream *up;
	struct upconn *uc;
	struct pick pick;
	unsigned server;		/* of the current attempt */
	uint64_t first_try;		/* ms, for retry_timeout */
	uint64_t try_start_us;
	uint8_t step;			/* enum auth_step */
	enum term_cause fail_cause;	/* AUTH_FAILED: how the end is logged */
	struct buf *head;		/* the subrequest's head */
	size_t head_sent;
	struct buf *in;			/* the answer, head then kept body */
	size_t scanned;			/* http_head_scan's progress */
	size_t in_bytes;		/* read from the server in this attempt */
	size_t body_at;			/* the body starts there in in */
	size_t body_len;		/* bytes of it kept (decoded) */
	size_t raw_at;			/* chunked: the next byte to decode */
	bool body_too_long;
	bool reusable;			/* the connection may serve again */
	struct http_chunked chunked;
	struct http_message resp;
	struct buf *rec;		/* the decision (see rec_*) */
	size_t rec_len;
	bool keyed;			/* key names it in the auth cache */
	uint8_t key[32];
};

static struct auth_request_state *free_states;

/* ---- the decision's record ----
 *
 * status (2 bytes), fields (each: name length (1 byte), name, NUL, value
 * length (2 bytes), value, NUL), a name length of 0, body length (2
 * bytes), body. Names and values are NUL-terminated so that they can be
 * used as strings (a Content-Type, the user).
 */

struct rec_writer {
	char *p, *end;
	bool overflow;
};

static void rec_put(struct rec_writer *w, const void *data, size_t len)
{
	if (w->overflow || (size_t)(w->end - w->p) < len) {
		w->overflow = true;
		return;
	}
	memcpy(w->p, data, len);
	w->p += len;
}

static void rec_put_u16(struct rec_writer *w, size_t v)
{
	unsigned char b[2] = { (unsigned char)(v >> 8), (unsigned char)v };

	if (v > 0xffff)
		w->overflow = true;
	rec_put(w, b, 2);
}

static void rec_put_field(struct rec_writer *w, struct slice name, struct slice value)
{
	unsigned char len = (unsigned char)name.len;

	if (name.len == 0 || name.len > 0xff)
		w->overflow = true;
	rec_put(w, &len, 1);
	rec_put(w, name.p, name.len);
	rec_put(w, "", 1);
	rec_put_u16(w, value.len);
	rec_put(w, value.p, value.len);
	rec_put(w, "", 1);
}

/* A record read back. */
struct rec_reader {
	const unsigned char *p, *end;
	bool bad;
};

static size_t rec_get_u16(struct rec_reader *r)
{
	size_t v;

	if (r->end - r->p < 2) {
		r->bad = true;
		return 0;
	}
	v = (size_t)r->p[0] << 8 | r->p[1];
	r->p += 2;
	return v;
}

static const char *rec_get_bytes(struct rec_reader *r, size_t len)
{
	const char *s = (const char *)r->p;

	if ((size_t)(r->end - r->p) < len) {
		r->bad = true;
		return NULL;
	}
	r->p += len;
	return s;
}

/* The next field into name and value; false at the fields' end. */
static bool rec_next_field(struct rec_reader *r, struct slice *name, struct slice *value)
{
	size_t len;

	if (r->bad || r->p >= r->end) {
		r->bad = true;
		return false;
	}
	len = *r->p++;
	if (len == 0)
		return false;
	name->p = rec_get_bytes(r, len + 1);
	name->len = len;
	len = rec_get_u16(r);
	value->p = rec_get_bytes(r, len + 1);
	value->len = len;
	return !r->bad;
}

/* ---- the state of an exchange ---- */

static struct auth_request_state *state_new(struct exchange *x)
{
	struct auth_request_state *st = free_states;

	if (st != NULL)
		free_states = st->next_free;
	else if ((st = malloc(sizeof(*st))) == NULL)
		return NULL;
	memset(st, 0, offsetof(struct auth_request_state, resp));
	st->x = x;
	st->conf = &x->route->auth_request;
	if ((st->rec = buf_get()) == NULL) {
		st->next_free = free_states;
		free_states = st;
		return NULL;
	}
	x->auth_req = st;
	return st;
}

static void drop_connection(struct auth_request_state *st, bool reusable)
{
	if (st->uc != NULL) {
		upstream_release(st->uc, reusable);
		st->uc = NULL;
	}
}

static void state_free(struct exchange *x)
{
	struct auth_request_state *st = x->auth_req;

	if (st == NULL)
		return;
	drop_connection(st, false);
	buf_put(st->head);
	buf_put(st->in);
	buf_put(st->rec);
	st->next_free = free_states;
	free_states = st;
	x->auth_req = NULL;
}

static bool name_in(const struct conf_auth_names *l, struct slice name)
{
	unsigned i;

	for (i = 0; l != NULL && i < l->n; i++)
		if (strlen(l->names[i]) == name.len &&
		    strncasecmp(l->names[i], name.p, name.len) == 0)
			return true;
	return false;
}

/* The client's own fields of the names the auth server's answer sets
 * are removed from the request, whatever the answer: nobody but the
 * auth server says who the user is ($http_x_user included). */
static void drop_forged(struct exchange *x, const struct conf_auth_request *a)
{
	struct http_message *q = &x->req;
	unsigned i, kept = 0;

	if (a->set == NULL)
		return;
	for (i = 0; i < q->nheaders; i++)
		if (!name_in(a->set, q->headers[i].name))
			q->headers[kept++] = q->headers[i];
	q->nheaders = kept;
}

/* ---- the auth cache ---- */

static bool caches(const struct exchange *x, const struct conf_auth_request *a)
{
	return a->cache_time > 0 && x->ctx->auth_cache != NULL;
}

/* Append an expression's value and a NUL; false when it does not fit. */
static bool put_expr(struct head_writer *w, const struct conf_expr *e,
		     const struct var_source *src)
{
	size_t n;

	if (w->overflow)
		return false;
	n = vars_expand(e, src, w->p, (size_t)(w->end - w->p));
	if (n >= (size_t)(w->end - w->p))
		return false;
	w->p += n;
	*w->p++ = '\0';
	return true;
}

/*
 * The decision's key: SHA-256 of what it was asked with and what it
 * gives back: the auth server's upstream and target, the fields copied
 * and the user's, and auth_request_cache_key's value (by default, the
 * values of the client's fields the auth server gets). Two routes that
 * ask the same server the same way share decisions; no credential is
 * kept in clear. False when the text does not fit scratch (not cached).
 */
static bool make_key(struct auth_request_state *st, struct buf *scratch)
{
	const struct exchange *x = st->x;
	const struct conf_auth_request *a = st->conf;
	struct head_writer w = { scratch->start, scratch->end, false };
	struct var_source src = exchange_vars(x);
	unsigned i;

	hw_put_str(&w, a->upstream->name);
	hw_put(&w, "", 1);
	if (a->uri != NULL && !put_expr(&w, a->uri, &src))
		return false;
	for (i = 0; a->set != NULL && i < a->set->n; i++) {
		hw_put_str(&w, a->set->names[i]);
		hw_put(&w, ",", 1);
	}
	hw_put(&w, "", 1);
	hw_put_str(&w, a->user != NULL ? a->user : "");
	hw_put(&w, "", 1);
	if (a->cache_key != NULL) {
		if (!put_expr(&w, a->cache_key, &src))
			return false;
	} else {
		for (i = 0; i < x->req.nheaders; i++)
			if (name_in(a->headers, x->req.headers[i].name))
				hw_put_header(&w, &x->req.headers[i]);
	}
	if (w.overflow)
		return false;
	return EVP_Digest(scratch->start, (size_t)(w.p - scratch->start), st->key, NULL,
			  EVP_sha256(), NULL) == 1;
}

/* A decision kept for this request's key into the record. */
static bool cached_decision(struct auth_request_state *st)
{
	ssize_t n;

	if (!caches(st->x, st->conf))
		return false;
	if ((st->head = buf_get()) == NULL || !make_key(st, st->head))
		return false;
	st->keyed = true;
	n = auth_cache_get(st->x->ctx->auth_cache, AUTH_CACHE_REQUEST, st->key, sizeof(st->key),
			   st->rec->start, AUTH_CACHE_VALUE_MAX, ev_now_us() / 1000);
	if (n < 0)
		return false;
	st->rec_len = (size_t)n;
	return true;
}

/* Keep the decision for auth_request_cache_time; one whose record is
 * longer than the cache takes (a long body) is used this once. */
static void keep_decision(struct auth_request_state *st)
{
	if (!st->keyed || st->rec_len > AUTH_CACHE_VALUE_MAX)
		return;
	auth_cache_put(st->x->ctx->auth_cache, AUTH_CACHE_REQUEST, st->key, sizeof(st->key),
		       st->rec->start, st->rec_len, ev_now_us() / 1000 + st->conf->cache_time);
}

/* ---- health, as the upstream module keeps it ---- */

static const struct conf_server *server_of(const struct auth_request_state *st)
{
	return &st->up->conf->servers[st->server];
}

static void note_failure(struct auth_request_state *st, unsigned kind)
{
	const struct conf_upstream *cu = st->up->conf;

	if (kind != CONF_FAIL_5XX)
		STATS_ADD(st->x->ctx->stats, c.upstream_failures, 1);
	if ((cu->fail_on & kind) &&
	    health_fail(st->up->servers[st->server].peer, server_of(st), ev_now()))
		log_msg(LL_WARN, "upstream \"%s\" server %s marked down for %u ms after %u failures",
			cu->name, server_of(st)->address, server_of(st)->fail_timeout,
			server_of(st)->max_fails);
}

static void note_answer(struct auth_request_state *st)
{
	const struct conf_upstream *cu = st->up->conf;
	struct health_peer *peer = st->up->servers[st->server].peer;

	if (cu->balance == BALANCE_EWMA)
		health_ewma_sample(peer, ev_now_us() - st->try_start_us, ev_now(), cu->ewma_decay);
	if (st->resp.status >= 500)
		note_failure(st, CONF_FAIL_5XX);
	else
		health_success(peer);
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

/* The subrequest's head into b: its length, or 0 when it does not fit. */
static size_t build_head(const struct auth_request_state *st, struct buf *b)
{
	const struct exchange *x = st->x;
	const struct conf_auth_request *a = st->conf;
	const struct conf_server *srv = server_of(st);
	struct head_writer w = { b->start, b->end, false };
	struct var_source src = exchange_vars(x);
	unsigned i;
	size_t n;

	hw_put_str(&w, "GET ");
	if (a->uri == NULL) {
		hw_put(&w, "/", 1);
	} else if (!w.overflow) {
		n = vars_expand_for_head(a->uri, &src, w.p, (size_t)(w.end - w.p), true);
		if (n > (size_t)(w.end - w.p))
			w.overflow = true;
		else
			w.p += n;
	}
	hw_put_str(&w, " HTTP/1.1\r\nHost: ");
	hw_put_str(&w, srv->addr.ss_family == AF_UNIX ? "localhost" : srv->address);
	hw_put(&w, "\r\n", 2);
	put_forwarded(&w, x);
	for (i = 0; i < x->req.nheaders; i++)
		if (name_in(a->headers, x->req.headers[i].name))
			hw_put_header(&w, &x->req.headers[i]);
	if (st->up->conf->keepalive == 0)
		hw_put_str(&w, "Connection: close\r\n");
	return hw_finish(&w, b->start);
}

static void fail(struct auth_request_state *st, enum term_cause cause)
{
	drop_connection(st, false);
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
	drop_connection(st, false);
	if (!may_try_another(st) || (idx = balance_pick(st->up, &st->pick, ev_now())) < 0) {
		fail(st, cause);
		return;
	}
	st->server = (unsigned)idx;
	STATS_ADD(st->x->ctx->stats, c.retries, 1);
	exchange_log(st->x, LL_WARN, 0, "auth_request: trying upstream \"%s\" server %s next",
		     st->up->conf->name, server_of(st)->address);
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
		     "failed", st->up->conf->name, server_of(st)->address);
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
		drop_connection(st, false);
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
	drop_connection(st, st->reusable && !st->body_too_long);
	st->step = AUTH_DECIDED;
	return P_OK;
}

/* Move the subrequest on until it waits or has its answer. */
static void advance(struct auth_request_state *st)
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
		     "%s", st->up->conf->name, server_of(st)->address,
		     connecting ? "while connecting" : "before answering");
	attempt_failed(st, CONF_FAIL_TIMEOUT, TERM_SERVER_TIMEOUT);
}

static const struct content auth_wait = {
	.name = "auth_request",
	.wait_ms = auth_wait_ms,
	.timeout = auth_timeout,
};

/* A client that hangs up while its request waits for the auth server
 * ends it (499), as a delayed one does. */
static bool client_left(struct exchange *x)
{
	struct conn *c = x->client.conn;

	if (!c->io.hup || !conn_peer_closed(c))
		return false;
	exchange_log(x, LL_INFO, 0, "client closed the connection while its request waited for "
		     "the auth server");
	x->status = 499;
	exchange_end(x, TERM_CLIENT);
	return true;
}

/* ---- deciding ---- */

static bool allows(int status)
{
	return status >= 200 && status < 300;
}

/* What goes back to the client as the auth server said it. */
static bool refuses(int status)
{
	return status == 401 || status == 403 || status == 301 || status == 302 ||
	       status == 303 || status == 307 || status == 308;
}

/* The fields of a refusal the client gets. */
static bool passed_back(struct slice name)
{
	return slice_ieq(name, "www-authenticate") || slice_ieq(name, "location") ||
	       slice_ieq(name, "set-cookie");
}

/* The answer as a record; false when it does not fit. */
static bool write_record(struct auth_request_state *st)
{
	const struct http_message *r = &st->resp;
	const struct conf_auth_request *a = st->conf;
	struct rec_writer w = { st->rec->start, st->rec->end, false };
	bool allowed = allows(r->status), with_body = !allowed && !st->body_too_long &&
						   st->body_len > 0;
	unsigned i;

	rec_put_u16(&w, (size_t)r->status);
	for (i = 0; i < r->nheaders; i++) {
		const struct http_header *h = &r->headers[i];
		bool keep = allowed ? name_in(a->set, h->name) ||
				      (a->user != NULL && strlen(a->user) == h->name.len &&
				       strncasecmp(a->user, h->name.p, h->name.len) == 0)
				    : passed_back(h->name) ||
				      (with_body && slice_ieq(h->name, "content-type"));

		if (keep)
			rec_put_field(&w, h->name, h->value);
	}
	rec_put(&w, "", 1);
	rec_put_u16(&w, with_body ? st->body_len : 0);
	if (with_body)
		rec_put(&w, st->in->start + st->body_at, st->body_len);
	st->rec_len = (size_t)(w.p - st->rec->start);
	return !w.overflow;
}

/* Whether s is a user name portico can log and pass as $remote_user. */
static bool printable_name(struct slice s)
{
	size_t i;

	for (i = 0; i < s.len; i++)
		if (s.p[i] <= ' ' || s.p[i] > '~')
			return false;
	return s.len > 0;
}

/* Let the request on with the record's fields. */
static int let_in(struct exchange *x, struct rec_reader *rd)
{
	const struct conf_auth_request *a = x->auth_req->conf;
	struct http_message *q = &x->req;
	struct slice name, value;

	while (rec_next_field(rd, &name, &value)) {
		if (a->user != NULL && strlen(a->user) == name.len &&
		    strncasecmp(a->user, name.p, name.len) == 0) {
			if (printable_name(value))
				x->auth_user = value.p;
			else
				exchange_log(x, LL_WARN, 0, "auth_request: the auth server's %s is no "
					     "user name portico can pass on: ignored", a->user);
		}
		if (!name_in(a->set, name))
			continue;
		if (q->nheaders >= HTTP_MAX_HEADERS) {
			exchange_log(x, LL_ERROR, 0, "auth_request: no room in the request for the "
				     "auth server's %.*s", (int)name.len, name.p);
			exchange_respond(x, 500, TERM_RESOURCE, false);
			return P_DONE;
		}
		q->headers[q->nheaders++] = (struct http_header){ .name = name, .value = value };
	}
	return P_OK;
}

/* Answer the client as the auth server did. */
static int turn_away(struct exchange *x, int status, struct rec_reader *rd)
{
	struct slice fields[2 * 8], name, value, body;
	const char *type = "text/plain";
	unsigned n = 0, i;

	while (rec_next_field(rd, &name, &value)) {
		if (slice_ieq(name, "content-type"))
			type = value.p;
		else if (n < ARRAY_LEN(fields)) {
			fields[n++] = name;
			fields[n++] = value;
		}
	}
	body.len = rec_get_u16(rd);
	body.p = rec_get_bytes(rd, body.len);
	x->refused_by = "auth_request";
	exchange_verdict(x, TERM_PROXY);
	if (body.len > 0 && body.p != NULL)
		exchange_respond_body(x, status, type, body.p, body.len);
	else
		exchange_respond(x, status, TERM_PROXY, false);
	for (i = 0; i < n && x->phase == PH_RESPONSE_HEAD; i += 2)
		if (exchange_add_field(x, fields[i], fields[i + 1]) < 0) {
			exchange_log(x, LL_WARN, 0, "auth_request: the auth server's %.*s does not "
				     "fit the answer: left out", (int)fields[i].len, fields[i].p);
			break;
		}
	return P_DONE;
}

/* Act on the record: P_OK lets the request on, P_DONE answered it. */
static int apply_record(struct exchange *x)
{
	struct auth_request_state *st = x->auth_req;
	struct rec_reader rd = { (const unsigned char *)st->rec->start,
				 (const unsigned char *)st->rec->start + st->rec_len, false };
	int status = (int)rec_get_u16(&rd);

	if (allows(status))
		return let_in(x, &rd);
	return turn_away(x, status, &rd);
}

/* The subrequest has ended: its answer decides, or there was none. */
static int conclude(struct exchange *x)
{
	struct auth_request_state *st = x->auth_req;
	int status;

	exchange_set_content(x, NULL);
	if (st->step == AUTH_FAILED) {
		exchange_respond(x, 500, st->fail_cause, false);
		return P_DONE;
	}
	status = st->resp.status;
	if (!allows(status) && !refuses(status)) {
		exchange_log(x, LL_ERROR, 0, "auth_request: upstream \"%s\" server %s answered %d",
			     st->up->conf->name, server_of(st)->address, status);
		exchange_respond(x, 500, TERM_SERVER, false);
		return P_DONE;
	}
	if (!write_record(st)) {
		exchange_log(x, LL_ERROR, 0, "auth_request: the answer of upstream \"%s\" server %s "
			     "has too many fields to pass on", st->up->conf->name,
			     server_of(st)->address);
		exchange_respond(x, 500, TERM_SERVER, false);
		return P_DONE;
	}
	keep_decision(st);
	return apply_record(x);
}

/* Ask the auth server: the exchange waits (P_AGAIN) or was answered
 * (P_DONE) when the subrequest cannot start. */
static int ask(struct exchange *x)
{
	struct auth_request_state *st = x->auth_req;
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
		exchange_respond(x, 500, TERM_NO_SERVER, false);
		return P_DONE;
	}
	st->server = (unsigned)idx;
	if (st->head == NULL && (st->head = buf_get()) == NULL) {
		exchange_log(x, LL_ERROR, ENOMEM, "auth_request: no buffer for a subrequest");
		exchange_respond(x, 500, TERM_RESOURCE, false);
		return P_DONE;
	}
	if ((len = build_head(st, st->head)) == 0) {
		exchange_log(x, LL_ERROR, 0, "auth_request: the subrequest's head does not fit a "
			     "buffer");
		exchange_respond(x, 500, TERM_RESOURCE, false);
		return P_DONE;
	}
	st->head->last = st->head->start + len;
	exchange_set_content(x, &auth_wait);
	attempt(st, true);
	advance(st);
	return st->step < AUTH_DECIDED ? P_AGAIN : conclude(x);
}

static int check(struct exchange *x)
{
	const struct conf_route *rt = x->route;
	struct auth_request_state *st = x->auth_req;

	if (rt == NULL || !rt->auth || rt->auth_request.upstream == NULL)
		return P_OK;
	if (st == NULL) {
		if ((st = state_new(x)) == NULL) {
			exchange_log(x, LL_ERROR, ENOMEM, "auth_request: out of memory");
			exchange_respond(x, 500, TERM_RESOURCE, false);
			return P_DONE;
		}
		drop_forged(x, st->conf);
		if (cached_decision(st))
			return apply_record(x);
		return ask(x);
	}
	if (client_left(x))
		return P_DONE;
	advance(st);
	return st->step < AUTH_DECIDED ? P_AGAIN : conclude(x);
}

const struct module auth_request_module = {
	.name = "auth_request",
	.access = check,
	.end = state_free,
};
