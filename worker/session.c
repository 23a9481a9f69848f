/*
 * session.c: the client side of the request path.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "log.h"
#include "tls.h"
#include "access_log.h"
#include "proxy.h"
#include "status.h"
#include "router.h"
#include "session.h"
#include "upstream.h"
#include "worker.h"

/* How long an idle keep-alive connection may still send a request once
 * its worker stops gracefully. */
#define QUIT_IDLE_GRACE_MS 1000

/* How long a closing connection drains what the client still sends. */
#define LINGER_MS 2000

bool session_quitting;

static struct session *open_sessions;
static unsigned open_count;
static struct session *session_free;
static struct exchange *exchange_free;
/* Per listener: the context a TLS handshake starts with, its default
 * site's, whose certificate a client without SNI gets. */
static SSL_CTX **listener_ctx;

static void client_event(struct ev_io *io, uint32_t events);
static void session_timeout(struct ev_timer *t);
static void read_head(struct session *s);

unsigned session_count(void)
{
	return open_count;
}

void session_log(const struct session *s, int level, int err, const char *fmt, ...)
{
	char msg[1024], cause[128] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (err)
		snprintf(cause, sizeof(cause), " (%d: %s)", err, strerror(err));
	if (s->x != NULL && s->x->request_line[0])
		log_msg(level, "%s%s, client: %s, request: \"%s\"", msg, cause, s->peer,
			s->x->request_line);
	else
		log_msg(level, "%s%s, client: %s", msg, cause, s->peer);
}

static void message_reset(struct http_message *m)
{
	memset(m, 0, offsetof(struct http_message, headers));
	memset(&m->nheaders, 0, sizeof(*m) - offsetof(struct http_message, nheaders));
}

static struct exchange *exchange_alloc(void)
{
	struct exchange *x = exchange_free;

	if (x != NULL)
		exchange_free = x->next_free;
	else if ((x = malloc(sizeof(*x))) == NULL)
		return NULL;
	/* The header arrays are filled by the parser; clear the rest. */
	message_reset(&x->req);
	message_reset(&x->resp);
	memset(&x->site, 0, offsetof(struct exchange, request_line) -
	       offsetof(struct exchange, site));
	x->request_line[0] = x->referer[0] = x->user_agent[0] = '\0';
	return x;
}

static void exchange_free_one(struct session *s)
{
	struct exchange *x = s->x;

	if (x == NULL)
		return;
	if (x->uc != NULL)
		upstream_release(x->uc, false);
	buf_put(x->req_head);
	buf_put(x->resp_head);
	buf_put(x->uin);
	x->next_free = exchange_free;
	exchange_free = x;
	s->x = NULL;
}

void session_close(struct session *s, const char *reason)
{
	log_msg(LL_DEBUG, "close client %s: %s", s->peer, reason);
	exchange_free_one(s);
	ev_timer_del(&s->timer);
	conn_close(&s->client);
	free(s->client_subject);
	s->client_subject = NULL;
	buf_put(s->in);
	s->in = NULL;
	if (s->prev)
		s->prev->next = s->next;
	else
		open_sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	open_count--;
	STATS_ADD(worker_stats, g.connections_open, -1);
	/* Stays in the free list, never freed: see struct ev_io. */
	s->next = session_free;
	session_free = s;
}

static struct session *session_alloc(void)
{
	struct session *s = session_free;

	if (s != NULL)
		session_free = s->next;
	else if ((s = malloc(sizeof(*s))) == NULL)
		return NULL;
	memset(s, 0, sizeof(*s));
	return s;
}

void session_accept(int fd, const struct conf_listen *lst,
		    const struct sockaddr *peer)
{
	struct session *s;
	int one = 1;

	s = session_alloc();
	if (s == NULL) {
		log_msg(LL_ERROR, "out of memory accepting a connection");
		close(fd);
		return;
	}
	s->client.io.fd = fd;
	s->client.io.cb = client_event;
	/* A TLS client's first bytes are awaited from epoll (the socket is
	 * reported at once if they are there): until they come, it costs
	 * no TLS state. */
	s->client.io.readable = !lst->tls;
	s->client.io.writable = 1;
	s->listen = lst;
	s->timer.cb = session_timeout;
	s->state = lst->tls ? SS_HANDSHAKE : SS_IDLE;
	if (peer->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)peer)->sin6_addr,
			  s->peer, sizeof(s->peer));
	else
		inet_ntop(AF_INET, &((const struct sockaddr_in *)peer)->sin_addr,
			  s->peer, sizeof(s->peer));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	s->next = open_sessions;
	if (open_sessions)
		open_sessions->prev = s;
	open_sessions = s;
	open_count++;
	STATS_ADD(worker_stats, c.connections, 1);
	STATS_ADD(worker_stats, g.connections_open, 1);

	if (ev_add(&s->client.io, false) < 0) {
		log_errno(LL_ALERT, errno, "epoll_ctl(ADD) of a client failed");
		session_close(s, "epoll_ctl failed");
		return;
	}
	if (lst->tls) {
		ev_timer_set(&s->timer, worker_conf->tls_handshake_timeout);
		return;
	}
	ev_timer_set(&s->timer, worker_conf->client_header_timeout);
	read_head(s);
}

struct conf_site_tls *session_site_by_sni(SSL *ssl, const char *name, size_t len)
{
	struct session *s = SSL_get_app_data(ssl);

	s->tls_site = router_site(worker_conf, s->listen, (struct slice){ name, len });
	return s->tls_site ? s->tls_site->tls : NULL;
}

int session_init(void)
{
	const struct conf *c = worker_conf;
	unsigned i;

	listener_ctx = calloc(c->nlistens ? c->nlistens : 1, sizeof(*listener_ctx));
	if (listener_ctx == NULL)
		return -1;
	for (i = 0; i < c->nlistens; i++) {
		const struct conf_site *site;

		if (!c->listens[i].tls)
			continue;
		site = router_site(c, &c->listens[i], (struct slice){ NULL, 0 });
		listener_ctx[i] = site && site->tls ? site->tls->ctx : NULL;
	}
	return 0;
}

static void handshake_done(struct session *s)
{
	const struct conf_site_tls *t = s->tls_site ? s->tls_site->tls : NULL;
	char subject[1024];

	if (t != NULL && t->verify_client != CONF_VERIFY_OFF &&
	    tls_peer_subject(s->client.ssl, subject, sizeof(subject)) > 0)
		s->client_subject = strdup(subject);
	STATS_ADD(worker_stats, c.tls_handshakes, 1);
	if (SSL_session_reused(s->client.ssl))
		STATS_ADD(worker_stats, c.tls_resumed, 1);
	s->state = SS_IDLE;
	ev_timer_set(&s->timer, worker_conf->client_header_timeout);
	read_head(s);
}

/* Whether the first byte from the client starts an HTTP request, not a
 * TLS record: then it gets a 400 it can read rather than an alert. */
static bool speaks_plain_http(const struct session *s)
{
	unsigned char byte;

	return recv(s->client.io.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 1 &&
	       byte >= 'A' && byte <= 'Z';
}

static void handshake(struct session *s)
{
	SSL *ssl;
	int r;

	if (s->client.ssl == NULL) {
		if (!s->client.io.readable && !s->client.io.hup)
			return;
		if (speaks_plain_http(s)) {
			s->plain_on_tls = true;
			s->state = SS_IDLE;
			ev_timer_set(&s->timer, worker_conf->client_header_timeout);
			read_head(s);
			return;
		}
		ssl = listener_ctx[s->listen->index] ? SSL_new(listener_ctx[s->listen->index]) : NULL;
		if (ssl != NULL) {
			SSL_set_app_data(ssl, s);
			SSL_set_accept_state(ssl);
		}
		if (ssl == NULL || conn_tls_attach(&s->client, ssl) < 0) {
			session_log(s, LL_ERROR, 0, "starting TLS failed: %s",
				    tls_error_string("out of memory"));
			session_close(s, "TLS setup failed");
			return;
		}
	}
	r = conn_handshake(&s->client);
	if (r == P_AGAIN)
		return;
	if (r == P_DONE) {
		/* Probes and impatient clients close first: no error of theirs. */
		session_close(s, "client closed in the TLS handshake");
		return;
	}
	if (r != P_OK) {
		session_log(s, LL_INFO, s->client.err, "TLS handshake failed: %s",
			    tls_handshake_error(s->client.ssl, "connection error"));
		session_close(s, "TLS handshake failed");
		return;
	}
	handshake_done(s);
}

/* Wait for the next request on a kept-alive connection, or serve one that
 * is already buffered (pipelining). */
static void next_request(struct session *s)
{
	s->state = SS_IDLE;
	s->scanned = 0;
	if (s->in != NULL && buf_len(s->in) > 0) {
		buf_compact(s->in);
		s->state = SS_HEAD;
		ev_timer_set(&s->timer, worker_conf->client_header_timeout);
		read_head(s);
		return;
	}
	/* An idle connection holds no buffer: thousands of idle clients
	 * cost a session each, not a session and a buffer. */
	buf_put(s->in);
	s->in = NULL;
	ev_timer_set(&s->timer, worker_conf->keepalive_timeout);
	if (conn_has_input(&s->client))
		read_head(s);
}

/* Whether the client may still be sending: then a plain close() would
 * answer its bytes with a reset, which can destroy our response before
 * the client has read it (RFC 9112 9.6). */
static bool client_may_send(const struct session *s)
{
	const struct exchange *x = s->x;

	return (s->in != NULL && buf_len(s->in) > 0) || conn_has_input(&s->client) ||
	       (x != NULL && x->req.framing != HTTP_BODY_NONE && !x->req_pump.in_done);
}

/* Half-close, then read and drop what comes until the client closes or
 * LINGER_MS pass. A pass reads a bounded amount, so a client streaming
 * fast cannot keep the worker here; its next bytes bring the next pass. */
static void linger(struct session *s)
{
	static char sink[16384];
	ssize_t n = P_AGAIN;
	int i;

	for (i = 0; i < 4; i++) {
		n = conn_recv(&s->client, sink, sizeof(sink));
		if (n <= 0)
			break;
	}
	if (n == P_DONE || n == P_ERROR)
		session_close(s, "closed after lingering");
}

static void close_after_answer(struct session *s)
{
	if (!client_may_send(s) || conn_shutdown(&s->client) < 0) {
		session_close(s, "exchange done, connection not kept");
		return;
	}
	exchange_free_one(s);
	buf_put(s->in);
	s->in = NULL;
	s->state = SS_LINGER;
	ev_timer_set(&s->timer, LINGER_MS);
	linger(s);
}

static void count_response(const struct session *s)
{
	const struct exchange *x = s->x;
	int class = x->status / 100;

	STATS_ADD(worker_stats, c.requests, 1);
	STATS_ADD(worker_stats, c.responses[class >= 1 && class <= 5 ? class : 0], 1);
	STATS_ADD(worker_stats, c.bytes_out, x->resp_pump.sent);
}

void session_exchange_done(struct session *s)
{
	struct exchange *x = s->x;
	bool keep = s->keep_alive && !session_quitting;

	count_response(s);
	access_log_write(s);
	if (x->uc != NULL) {
		upstream_release(x->uc, x->resp_reusable);
		x->uc = NULL;
	}
	if (!keep) {
		close_after_answer(s);
		return;
	}
	exchange_free_one(s);
	next_request(s);
}

/* Whether the connection may carry another request after this one. */
static bool client_wants_keep_alive(const struct exchange *x)
{
	return http_keep_alive(&x->req) && worker_conf->keepalive_timeout > 0 &&
	       !session_quitting;
}

static const char *status_reason(int status)
{
	switch (status) {
	case 301: return "Moved Permanently";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 417: return "Expectation Failed";
	case 421: return "Misdirected Request";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default:  return "Error";
	}
}

/* The head and body of an answer of our own into out[0..cap); 0 when it
 * does not fit. fields: more header lines, each ending in CRLF. */
static size_t format_answer(char *out, size_t cap, int status, bool close, bool head,
			    const char *fields, const char *type, const char *body, size_t len)
{
	int n = snprintf(out, cap,
			 "HTTP/1.1 %d %s\r\nServer: portico\r\n%s"
			 "Content-Type: %s\r\nContent-Length: %zu\r\n%s\r\n",
			 status, status_reason(status), fields, type, len,
			 close ? "Connection: close\r\n" : "");

	if (n < 0 || (size_t)n >= cap || (!head && cap - (size_t)n < len))
		return 0;
	if (!head)
		memcpy(out + n, body, len);
	return (size_t)n + (head ? 0 : len);
}

/* The fields of an answer of our own beyond its framing: Location for a
 * redirect, and the site's Strict-Transport-Security (on TLS only). */
static void own_fields(const struct session *s, const char *location, char *out, size_t cap)
{
	const struct conf_site *site = s->x->site;
	int n = 0;

	out[0] = '\0';
	if (location != NULL)
		n = snprintf(out, cap, "Location: %s\r\n", location);
	if (session_is_tls(s) && site != NULL && site->hsts != NULL && n >= 0 && (size_t)n < cap)
		snprintf(out + n, cap - (size_t)n, "Strict-Transport-Security: %s\r\n", site->hsts);
}

/* An answer of portico's own, with location (may be NULL) for a redirect. */
static void respond(struct session *s, int status, bool close, const char *location,
		    const char *type, const char *body, size_t body_len)
{
	struct exchange *x = s->x;
	bool head = x->req.method_id == HTTP_HEAD;
	char fields[2048];
	size_t len;

	if (x->uc != NULL) {
		upstream_release(x->uc, false);
		x->uc = NULL;
	}
	/* Bytes of an answer that failed are committed to a TLS record: an
	 * answer of ours cannot follow them. */
	if (s->client.write_pending) {
		session_close(s, "an answer cannot follow a half-sent one");
		return;
	}
	if (x->resp_head == NULL && (x->resp_head = buf_get()) == NULL) {
		session_close(s, "out of memory for a response");
		return;
	}
	/* A request whose body was not read cannot be followed by another
	 * on this connection: we would take its body for the next head. */
	if (!close && x->req.framing != HTTP_BODY_NONE && !x->req_pump.in_done)
		close = true;
	s->keep_alive = !close && client_wants_keep_alive(x);
	x->status = status;
	own_fields(s, location, fields, sizeof(fields));
	len = format_answer(x->resp_head->start, (size_t)(x->resp_head->end - x->resp_head->start),
			    status, !s->keep_alive, head, fields, type, body, body_len);
	if (len == 0) {
		log_msg(LL_ALERT, "an answer of %zu bytes does not fit a buffer", body_len);
		session_close(s, "answer too large");
		return;
	}
	pump_init(&x->resp_pump, NULL, &s->client, NULL, HTTP_BODY_NONE, 0,
		  PUMP_OUT_IDENTITY, x->resp_head->start, len);
	x->resp_pump.body_out = head ? 0 : body_len;
	s->state = SS_RESPOND;
	ev_timer_set(&s->timer, worker_conf->send_timeout);
	client_event(&s->client.io, 0);
}

/* Portico's own page for status; location: where a redirect points. */
static void respond_page(struct session *s, int status, bool close, const char *location)
{
	char page[256];
	int len;

	len = snprintf(page, sizeof(page),
		       "<html>\r\n<head><title>%d %s</title></head>\r\n"
		       "<body>\r\n<center><h1>%d %s</h1></center>\r\n"
		       "<hr><center>portico</center>\r\n</body>\r\n</html>\r\n",
		       status, status_reason(status), status, status_reason(status));
	respond(s, status, close, location, "text/html", page, (size_t)len);
}

void session_respond(struct session *s, int status, bool close)
{
	respond_page(s, status, close, NULL);
}

void session_respond_body(struct session *s, int status, bool close, const char *type,
			  const char *body, size_t len)
{
	respond(s, status, close, NULL, type, body, len);
}

static void respond_loop(struct session *s)
{
	int r = pump_run(&s->x->resp_pump);

	if (r == P_AGAIN)
		return;
	if (r == P_ERROR) {
		s->keep_alive = false;
		session_log(s, LL_INFO, s->client.err, "writing a response to the client failed");
	}
	session_exchange_done(s);
}

/* Copy a piece of the request for the access log, escaping what a log
 * reader must not be fooled by. */
static void copy_escaped(char *out, size_t cap, struct slice in)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, o = 0;

	for (i = 0; i < in.len && o + 5 < cap; i++) {
		unsigned char c = (unsigned char)in.p[i];

		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
}

/* The request line serves error log lines too; the rest only the access
 * log, when the site has one. */
static void remember_for_log(struct exchange *x, const char *head, size_t len)
{
	const char *eol = memchr(head, '\r', len);

	copy_escaped(x->request_line, sizeof(x->request_line),
		     (struct slice){ head, eol ? (size_t)(eol - head) : MIN(len, (size_t)200) });
	if (x->site == NULL || x->site->access_log == NULL)
		return;
	copy_escaped(x->referer, sizeof(x->referer), http_header_value(&x->req, "referer"));
	copy_escaped(x->user_agent, sizeof(x->user_agent), http_header_value(&x->req, "user-agent"));
}

/* The same URL over https, on the site's TLS port. */
static void redirect_https(struct session *s)
{
	const struct http_message *r = &s->x->req;
	const struct conf_site *site = s->x->site;
	struct slice host = router_host_name(r->host), path = r->target;
	char location[4096], port[8] = "";
	int n;

	if (host.len == 0 && site->nhosts > 0 && !site->hosts[0].wildcard)
		host = (struct slice){ site->hosts[0].name, strlen(site->hosts[0].name) };
	if (host.len == 0) {
		session_log(s, LL_INFO, 0, "no host to redirect to https, answered 400");
		session_respond(s, 400, true);
		return;
	}
	if (site->https_port != 443)
		snprintf(port, sizeof(port), ":%u", site->https_port);
	if (path.len > 0 && path.p[0] == '/')	/* origin-form: path and query */
		n = snprintf(location, sizeof(location), "https://%.*s%s%.*s", (int)host.len,
			     host.p, port, (int)path.len, path.p);
	else					/* absolute-form */
		n = snprintf(location, sizeof(location), "https://%.*s%s%.*s%s%.*s",
			     (int)host.len, host.p, port, (int)r->path.len,
			     r->path.len ? r->path.p : "/", r->query.len ? "?" : "",
			     (int)r->query.len, r->query.len ? r->query.p : "");
	if (n < 0 || (size_t)n >= sizeof(location)) {
		session_respond(s, 414, true);
		return;
	}
	respond_page(s, 301, false, location);
}

static void dispatch(struct session *s, size_t head_len)
{
	const struct conf *conf = worker_conf;
	struct http_limits lim = worker_head_limits();
	struct exchange *x;
	int r;

	x = s->x = exchange_alloc();
	if (x == NULL) {
		session_close(s, "out of memory for a request");
		return;
	}
	x->start_ms = ev_now();
	r = http_parse_request(s->in->pos, head_len, &x->req, &lim);
	/* Over TLS, a request without Host (HTTP/1.0) is for the site its
	 * handshake named. */
	if (session_is_tls(s) && (r != P_OK || x->req.host.len == 0))
		x->site = s->tls_site;
	else
		x->site = router_site(conf, s->listen, r == P_OK ? x->req.host
								: (struct slice){ NULL, 0 });
	remember_for_log(x, s->in->pos, head_len);
	if (r != P_OK) {
		session_log(s, LL_INFO, 0, "invalid request, answered %d", r);
		x->req.framing = HTTP_BODY_NONE;
		session_respond(s, r, true);
		return;
	}
	s->in->pos += x->req.head_len;
	s->scanned = 0;
	if (s->plain_on_tls) {
		session_log(s, LL_INFO, 0, "plain HTTP request to a TLS listener, answered 400");
		session_respond(s, 400, true);
		return;
	}
	if (session_is_tls(s) && x->site != s->tls_site) {
		/* The certificate, and the client certificate checks, were
		 * those of the site SNI named: Host may not pick another. */
		session_log(s, LL_INFO, 0, "Host names another site than SNI, answered 421");
		session_respond(s, 421, false);
		return;
	}
	if (!session_is_tls(s) && x->site != NULL && x->site->redirect_https) {
		redirect_https(s);
		return;
	}
	x->route = x->site ? router_route(x->site, x->req.path) : NULL;
	if (x->route == NULL) {
		session_respond(s, 404, false);
		return;
	}
	if (x->route->status) {
		status_respond(s);
		return;
	}
	s->keep_alive = client_wants_keep_alive(x);
	s->state = SS_PROXY;
	proxy_start(s);
}

/* Status for a head that filled the buffer without ending. */
static int oversized_head_status(const struct buf *in)
{
	return memchr(in->pos, '\n', buf_len(in)) == NULL ? 414 : 431;
}

static void refuse_head(struct session *s, int status, const char *why)
{
	struct exchange *x = s->x = exchange_alloc();

	if (x == NULL) {
		session_close(s, "out of memory for a request");
		return;
	}
	x->start_ms = ev_now();
	copy_escaped(x->request_line, sizeof(x->request_line),
		     (struct slice){ s->in->pos, MIN(buf_len(s->in), (size_t)200) });
	x->site = router_site(worker_conf, s->listen, (struct slice){ NULL, 0 });
	session_log(s, LL_INFO, 0, "%s, answered %d", why, status);
	session_respond(s, status, true);
}

static void read_head(struct session *s)
{
	struct buf *in;
	ssize_t n;
	long end;

	if (s->in == NULL && (s->in = buf_get()) == NULL) {
		session_close(s, "out of memory for a request buffer");
		return;
	}
	in = s->in;
	for (;;) {
		if (buf_len(in) > 0) {
			end = http_head_scan(in->pos, buf_len(in), &s->scanned);
			if (end > 0) {
				dispatch(s, (size_t)end);
				return;
			}
			if (end < 0) {
				refuse_head(s, 400, "invalid bytes in a request head");
				return;
			}
			if (buf_len(in) >= worker_conf->header_buffer_size) {
				refuse_head(s, oversized_head_status(in), "request head too large");
				return;
			}
		}
		if (buf_room(in) == 0)
			buf_compact(in);
		n = conn_recv(&s->client, in->last,
			      MIN(buf_room(in), worker_conf->header_buffer_size - buf_len(in)));
		if (n == P_AGAIN) {
			if (s->state == SS_IDLE && buf_len(in) == 0) {
				buf_put(s->in);
				s->in = NULL;
			}
			return;
		}
		if (n == P_DONE) {
			session_close(s, buf_len(in) ? "client closed mid-head" : "client closed");
			return;
		}
		if (n == P_ERROR) {
			session_close(s, "read error from client");
			return;
		}
		if (s->state == SS_IDLE) {
			s->state = SS_HEAD;
			ev_timer_set(&s->timer, worker_conf->client_header_timeout);
		}
		in->last += n;
	}
}

static void client_event(struct ev_io *io, uint32_t events)
{
	struct session *s = (struct session *)io;

	(void)events;
	switch (s->state) {
	case SS_IDLE:
	case SS_HEAD:
		read_head(s);
		break;
	case SS_PROXY:
		proxy_progress(s);
		break;
	case SS_RESPOND:
		respond_loop(s);
		break;
	case SS_LINGER:
		linger(s);
		break;
	case SS_HANDSHAKE:
		handshake(s);
		break;
	}
}

static void session_timeout(struct ev_timer *t)
{
	struct session *s = container_of(t, struct session, timer);

	switch (s->state) {
	case SS_IDLE:
		session_close(s, "keep-alive timeout");
		break;
	case SS_HEAD:
		refuse_head(s, 408, "request head timeout");
		break;
	case SS_PROXY:
		proxy_timeout(s);
		break;
	case SS_RESPOND:
		session_log(s, LL_INFO, 0, "client timed out reading a response");
		s->keep_alive = false;
		session_exchange_done(s);
		break;
	case SS_LINGER:
		session_close(s, "lingering timed out");
		break;
	case SS_HANDSHAKE:
		session_close(s, "TLS handshake timed out");
		break;
	}
}

void session_quit_all(void)
{
	struct session *s;

	session_quitting = true;
	/* Closing an idle connection races with a request the client may be
	 * sending on it right now. A short grace lets such a request in (it
	 * is answered with Connection: close); quiet ones close after it. */
	for (s = open_sessions; s != NULL; s = s->next)
		if (s->state == SS_IDLE)
			ev_timer_set(&s->timer, MIN(worker_conf->keepalive_timeout,
						    QUIT_IDLE_GRACE_MS));
}
