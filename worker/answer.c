/*
 * answer.c: answers of portico's own (its error pages, the status
 * document, redirects): a response head and a body in memory, sent
 * through the same head filters and body path as a proxied response.
 */
#include "config.h"

#include <stdio.h>
#include <time.h>

#include "log.h"
#include "exchange.h"

const char *http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 417: return "Expectation Failed";
	case 421: return "Misdirected Request";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 499: return "Client Closed Request";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default:  return "Unknown";
	}
}

/* "Fri, 04 Dec 2026 18:00:00 GMT" (RFC 9110 5.6.7), made once a second. */
static struct slice http_date(void)
{
	static char text[32];
	static time_t cached;
	static size_t len;
	time_t now = time(NULL);
	struct tm tm;

	if (now != cached) {
		cached = now;
		gmtime_r(&now, &tm);
		len = strftime(text, sizeof(text), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	}
	return (struct slice){ text, len };
}

/* Sending the answer's body, once its head is out. */
static int own_run(struct exchange *x)
{
	int r = exchange_send_body(x);

	if (r == P_AGAIN)
		return P_AGAIN;
	if (r == P_ERROR && x->resp_pump.fault == PUMP_FILTER_ERROR) {
		x->abort_client = true;
		exchange_end(x, TERM_PROXY);	/* the filter said why */
		return P_OK;
	}
	if (r == P_ERROR) {
		exchange_log(x, LL_INFO, x->client.conn->err,
			     "writing a response to the client failed");
		exchange_end(x, TERM_CLIENT);
		return P_OK;
	}
	exchange_end(x, TERM_NORMAL);
	return P_OK;
}

static const struct content own_content = {
	.name = "own answer",
	.run = own_run,
};

static void add(struct http_message *m, struct slice name, struct slice value)
{
	m->headers[m->nheaders++] = (struct http_header){ .name = name, .value = value };
}

/*
 * Whether an answer can still go to the client: not when bytes of a
 * final response already did, nor in the middle of an interim one, nor
 * when bytes sit in a TLS record that must be sent as it is.
 */
static bool answer_possible(const struct exchange *x)
{
	const struct pump *p = &x->resp_pump;
	bool final = x->phase == PH_RESPONSE_BODY || x->phase == PH_TUNNEL;

	return !(p->sent > 0 && (final || pump_blocked_on_dst(p))) &&
	       !x->client.conn->write_pending;
}

/* Hand the exchange to the own-answer content, after the module that
 * had it has let go. */
static void take_over(struct exchange *x)
{
	exchange_set_content(x, &own_content);
	x->own_answer = true;
	x->body_src = NULL;
	x->body_view = NULL;
	x->nfilters = 0;
	x->nadded = 0;
}

/* 204 and 304 carry no body, and 204 no Content-Length either (RFC 9110
 * 8.6, 15.3.5, 15.4.5). */
static bool bodiless(int status)
{
	return status == 204 || status == 304;
}

/* A lent body's bytes: arg is its end. */
static ssize_t lend_answer(void *arg, uint64_t remaining, const char **p)
{
	*p = (const char *)arg - remaining;
	return (ssize_t)remaining;
}

/* The answer's head in x->resp and its body (and location) in
 * x->body_in, or the body lent where it is (lend); then on to the head
 * filters. */
static void respond(struct exchange *x, int status, enum term_cause cause, bool close,
		    const char *type, const char *body, size_t len, const char *location,
		    bool lend)
{
	struct http_message *m = &x->resp;
	size_t loc_len = location ? strlen(location) : 0;
	const char *reason = http_reason(status);
	struct buf *b;

	exchange_verdict(x, cause);
	if (!answer_possible(x)) {
		x->abort_client = true;
		exchange_end(x, cause);
		return;
	}
	take_over(x);
	x->status = status;
	/* A request whose body was not read cannot be followed by another
	 * on this connection: we would take its body for the next head. */
	if (x->req.framing != HTTP_BODY_NONE && !x->req_pump.in_done)
		close = true;
	x->keep_alive = x->keep_alive && !close;
	if (x->body_in == NULL && (x->body_in = buf_get()) == NULL) {
		exchange_log(x, LL_ERROR, 0, "out of memory for an answer");
		x->abort_client = true;
		exchange_end(x, TERM_RESOURCE);
		return;
	}
	b = x->body_in;
	if ((lend ? 0 : len) + loc_len > (size_t)(b->end - b->start)) {
		log_msg(LL_ALERT, "an answer of %zu bytes does not fit a buffer", len + loc_len);
		x->abort_client = true;
		exchange_end(x, TERM_RESOURCE);
		return;
	}
	b->pos = b->last = b->start;
	if (lend) {
		x->body_view = lend_answer;
		x->body_view_arg = (void *)(body + len);
	} else {
		memcpy(b->start, body, len);
		b->last += len;
	}
	if (location != NULL)
		memcpy(b->last, location, loc_len);

	memset(m, 0, offsetof(struct http_message, headers));
	m->nheaders = 0;
	m->status = status;
	m->reason = (struct slice){ reason, strlen(reason) };
	m->version = 11;
	add(m, SLICE_LIT("Server"), SLICE_LIT("portico"));
	add(m, SLICE_LIT("Date"), http_date());
	if (location != NULL)
		add(m, SLICE_LIT("Location"), (struct slice){ b->last, loc_len });
	if (bodiless(status)) {
		m->framing = HTTP_BODY_NONE;
		exchange_goto(x, PH_RESPONSE_HEAD);
		return;
	}
	add(m, SLICE_LIT("Content-Type"), (struct slice){ type, strlen(type) });
	snprintf(x->length_text, sizeof(x->length_text), "%zu", len);
	add(m, SLICE_LIT("Content-Length"), (struct slice){ x->length_text, strlen(x->length_text) });
	/* known by id, so that a body filter that changes the length
	 * (gzip) has it dropped as a server's would be */
	m->headers[m->nheaders - 1].id = HDR_CONTENT_LENGTH;
	m->framing = x->req.method_id == HTTP_HEAD ? HTTP_BODY_NONE : HTTP_BODY_LENGTH;
	m->content_length = len;
	exchange_goto(x, PH_RESPONSE_HEAD);
}

/* portico's own page for status: the site's, or the built-in one. */
static void respond_page(struct exchange *x, int status, enum term_cause cause, bool close,
			 const char *location)
{
	const struct conf_error_page *own;
	const char *reason = http_reason(status);
	char page[256];
	int len;

	if (x->site != NULL && (own = conf_site_error_page(x->site, status)) != NULL) {
		respond(x, status, cause, close, own->type, own->body, own->len, location, false);
		return;
	}
	len = snprintf(page, sizeof(page),
		       "<html>\r\n<head><title>%d %s</title></head>\r\n"
		       "<body>\r\n<center><h1>%d %s</h1></center>\r\n"
		       "<hr><center>portico</center>\r\n</body>\r\n</html>\r\n",
		       status, reason, status, reason);
	respond(x, status, cause, close, "text/html", page, (size_t)MIN(len, (int)sizeof(page) - 1),
		location, false);
}

void exchange_respond(struct exchange *x, int status, enum term_cause cause, bool close)
{
	respond_page(x, status, cause, close, NULL);
}

void exchange_respond_body(struct exchange *x, int status, const char *type,
			   const char *body, size_t len)
{
	respond(x, status, TERM_LOCAL, false, type, body, len, NULL, false);
}

void exchange_respond_lent(struct exchange *x, int status, const char *type,
			   const char *body, size_t len)
{
	respond(x, status, TERM_LOCAL, false, type, body, len, NULL, true);
}

void exchange_respond_given(struct exchange *x, int status, const char *type,
			    char *body, size_t len)
{
	x->body_given = body;
	exchange_respond_lent(x, status, type, body, len);
}

void exchange_redirect(struct exchange *x, int status, const char *location)
{
	respond_page(x, status, TERM_LOCAL, false, location);
}

void exchange_refuse(struct exchange *x, int status, enum term_cause cause, const char *why)
{
	exchange_log(x, LL_INFO, 0, "%s, answered %d", why, status);
	x->req.framing = HTTP_BODY_NONE;
	exchange_respond(x, status, cause, true);
}

void exchange_deny(struct exchange *x, int status, const char *by, bool close)
{
	x->refused_by = by;
	if (status != 0) {
		exchange_respond(x, status, TERM_PROXY, close);
		return;
	}
	x->abort_client = true;
	exchange_end(x, TERM_PROXY);
}
