/*
 * head.c: writing request and response heads.
 */
#include "config.h"

#include <strings.h>
#include <sys/socket.h>

#include "head.h"
#include "head_writer.h"
#include "upstream.h"

static struct slice field(const struct http_message *m, int id)
{
	unsigned i;

	for (i = 0; i < m->nheaders; i++)
		if (m->headers[i].id == id)
			return m->headers[i].value;
	return (struct slice){ NULL, 0 };
}

struct slice head_upgrade_request(const struct http_message *req)
{
	if (req->method_id != HTTP_GET || req->framing != HTTP_BODY_NONE ||
	    !(req->conn_flags & HTTP_CONN_UPGRADE) || req->version < 11)
		return (struct slice){ NULL, 0 };
	return field(req, HDR_UPGRADE);
}

/* Forwarding fields portico sets itself; a client's own never pass, so a
 * client cannot pose as another address. */
static bool is_forwarding_field(struct slice name)
{
	return slice_ieq(name, "x-forwarded-for") || slice_ieq(name, "x-real-ip") ||
	       slice_ieq(name, "x-forwarded-proto") || slice_ieq(name, "forwarded");
}

/* A backend that reads "_" as "-" (CGI does) would see such a field as
 * another one, Transfer_Encoding as Transfer-Encoding: never pass it on. */
static bool has_underscore(struct slice name)
{
	return memchr(name.p, '_', name.len) != NULL;
}

/* The request line's target as the upstream must see it: origin-form,
 * even when the client sent the absolute form. */
static void put_target(struct head_writer *w, const struct http_message *r)
{
	const char *end = r->target.p + r->target.len;

	if (r->target.len == 0 || r->target.p[0] == '/' || r->target.p[0] == '*') {
		hw_put_slice(w, r->target);
	} else if (r->path.p >= r->target.p && r->path.p < end) {
		hw_put(w, r->path.p, (size_t)(end - r->path.p));	/* path and query */
	} else {
		hw_put(w, "/", 1);		/* "http://host" or "http://host?q" */
		if (r->query.len) {
			hw_put(w, "?", 1);
			hw_put_slice(w, r->query);
		}
	}
}

static void put_forwarded(struct head_writer *w, const struct exchange *x, unsigned which)
{
	const struct http_message *r = &x->req;
	const char *peer = x->client.addr;
	bool v6 = !x->client.addrless && strchr(peer, ':') != NULL;
	unsigned i;

	if (which & CONF_FWD_FOR) {
		hw_put_str(w, "X-Forwarded-For: ");
		for (i = 0; i < r->nheaders; i++)
			if (slice_ieq(r->headers[i].name, "x-forwarded-for") &&
			    r->headers[i].value.len > 0) {
				hw_put_slice(w, r->headers[i].value);
				hw_put(w, ", ", 2);
			}
		hw_put_str(w, peer);
		hw_put(w, "\r\n", 2);
	}
	if (which & CONF_FWD_REAL_IP) {
		hw_put_str(w, "X-Real-IP: ");
		hw_put_str(w, peer);
		hw_put(w, "\r\n", 2);
	}
	if (which & CONF_FWD_PROTO)
		hw_put_str(w, x->client.tls ? "X-Forwarded-Proto: https\r\n"
					  : "X-Forwarded-Proto: http\r\n");
	if (which & CONF_FWD_FORWARDED) {
		/* RFC 7239: an IPv6 address is bracketed and quoted; a client
		 * without an address (a unix socket's) is "unknown". */
		hw_put_str(w, v6 ? "Forwarded: for=\"[" : "Forwarded: for=");
		hw_put_str(w, x->client.addrless ? "unknown" : peer);
		hw_put_str(w, v6 ? "]\"" : "");
		hw_put_str(w, x->client.tls ? ";proto=https\r\n" : ";proto=http\r\n");
	}
}

/* The field that carries a verified client certificate's subject: only
 * portico may set it, so a client's own never passes. */
static const char *subject_field(const struct exchange *x)
{
	const struct conf_site_tls *t = x->site->tls;

	return t != NULL && t->verify_client != CONF_VERIFY_OFF ? t->client_subject_header : NULL;
}

static void put_subject(struct head_writer *w, const struct exchange *x, const char *name)
{
	if (name == NULL || x->client.subject == NULL)
		return;
	hw_put_str(w, name);
	hw_put(w, ": ", 2);
	hw_put_str(w, x->client.subject);
	hw_put(w, "\r\n", 2);
}

/* A Host for HTTP/1.1 upstreams: the request's (the absolute-form's
 * authority, or its Host field), or for an HTTP/1.0 request without one,
 * the server's address. */
static void put_host(struct head_writer *w, const struct exchange *x)
{
	const struct http_message *r = &x->req;
	const struct conf_server *sv = &x->up.upstream->conf->servers[x->up.server];

	hw_put_str(w, "Host: ");
	if (r->host.len)
		hw_put_slice(w, r->host);
	else if (sv->addr.ss_family == AF_UNIX)
		hw_put_str(w, "localhost");	/* "unix:/path" is no authority */
	else
		hw_put_str(w, sv->address);
	hw_put(w, "\r\n", 2);
}

/* Whether the route's list of kind k names field name. */
static bool edit_names(const struct exchange *x, enum conf_header_edit_kind k, struct slice name)
{
	const struct conf_header_edits *l = x->route->header_edits[k];
	unsigned i;

	for (i = 0; l != NULL && i < l->n; i++)
		if (name.len == l->e[i].name_len && slice_ieq(name, l->e[i].lower))
			return true;
	return false;
}

/* The route's set_request_headers and add_request_headers, their values
 * made from the request's variables straight into the head. A field
 * whose value comes out empty is left out, as nginx does. */
/* The fields of list k whose values are not empty; whether one of them
 * was Host. */
static bool put_edited_fields(struct head_writer *w, const struct exchange *x,
			      enum conf_header_edit_kind k)
{
	const struct conf_header_edits *l = x->route->header_edits[k];
	struct var_source src;
	bool host = false;
	unsigned i;
	size_t n;
	char *start;

	if (l == NULL)
		return false;
	src = exchange_vars(x);
	for (i = 0; i < l->n && !w->overflow; i++) {
		start = w->p;
		hw_put(w, l->e[i].name, l->e[i].name_len);
		hw_put(w, ": ", 2);
		if (w->overflow)
			return host;
		n = vars_expand_for_head(&l->e[i].value, &src, w->p, (size_t)(w->end - w->p),
					 VAR_IN_FIELD);
		if (n > (size_t)(w->end - w->p)) {
			w->overflow = true;
			return host;
		}
		if (n == 0) {
			w->p = start;
			continue;
		}
		w->p += n;
		hw_put(w, "\r\n", 2);
		host = host || strcmp(l->e[i].lower, "host") == 0;
	}
	return host;
}

/* Whether name is the site's request id field: a client's own never
 * passes, portico sends $request_id (a trusted client's value, kept). */
bool head_is_request_id_field(const struct exchange *x, struct slice name)
{
	const char *f = x->site->request_id_header;

	return f != NULL && name.len == strlen(f) && strncasecmp(name.p, f, name.len) == 0;
}

void head_put_request_id(struct head_writer *w, const struct exchange *x)
{
	if (x->site->request_id_header == NULL)
		return;
	hw_put_str(w, x->site->request_id_header);
	hw_put(w, ": ", 2);
	hw_put_str(w, x->request_id);
	hw_put(w, "\r\n", 2);
}

/* Whether a field of the client's goes upstream as it is. */
static bool passes_up(const struct exchange *x, const struct http_header *h, const char *subject)
{
	/* Expect is answered by portico itself (see proxy_start). */
	if ((h->flags & (HTTP_HDR_HOP | HTTP_HDR_DROP)) || h->id == HDR_EXPECT ||
	    is_forwarding_field(h->name) || has_underscore(h->name) ||
	    head_is_request_id_field(x, h->name) ||
	    (subject != NULL && h->name.len == strlen(subject) &&
	     strncasecmp(h->name.p, subject, h->name.len) == 0))
		return false;
	return !edit_names(x, CONF_REMOVE_REQUEST, h->name) &&
	       !edit_names(x, CONF_SET_REQUEST, h->name);
}

size_t head_request(const struct exchange *x, struct buf *b)
{
	const struct http_message *r = &x->req;
	struct head_writer w = { b->start, b->end, false };
	struct slice upgrade = head_upgrade_request(r);
	const char *subject = subject_field(x);
	bool host_set;
	unsigned i;

	hw_put_slice(&w, r->method);
	hw_put(&w, " ", 1);
	if (x->upstream_target.p != NULL)
		hw_put_slice(&w, x->upstream_target);	/* rewrite */
	else
		put_target(&w, r);
	hw_put_str(&w, " HTTP/1.1\r\n");
	for (i = 0; i < r->nheaders; i++)
		if (passes_up(x, &r->headers[i], subject))
			hw_put_header(&w, &r->headers[i]);
	/* Every request upstream has one Host: the client's, unless the
	 * route sets one that is not empty; the server's without either. */
	host_set = put_edited_fields(&w, x, CONF_SET_REQUEST);
	put_edited_fields(&w, x, CONF_ADD_REQUEST);
	if (!host_set && (field(r, HDR_HOST).p == NULL ||
			  edit_names(x, CONF_SET_REQUEST, SLICE_LIT("host"))))
		put_host(&w, x);
	if (r->framing == HTTP_BODY_CHUNKED)
		hw_put_str(&w, "Transfer-Encoding: chunked\r\n");
	if (upgrade.p != NULL) {
		hw_put_field(&w, SLICE_LIT("Upgrade"), upgrade);
		hw_put_str(&w, "Connection: upgrade\r\n");
	} else if (x->up.upstream->conf->keepalive == 0) {
		hw_put_str(&w, "Connection: close\r\n");
	}
	put_forwarded(&w, x, x->site->forwarded);
	put_subject(&w, x, subject);
	head_put_request_id(&w, x);
	if (x->site->via)
		hw_put_str(&w, "Via: 1.1 portico\r\n");
	return hw_finish(&w, b->start);
}

size_t head_response(const struct exchange *x, struct buf *b, enum head_kind kind)
{
	const struct http_message *r = &x->resp;
	struct head_writer w = { b->start, b->end, false };
	unsigned i;

	hw_put_status_line(&w, r->status, r->reason);
	for (i = 0; i < r->nheaders; i++)
		if (!(r->headers[i].flags & (HTTP_HDR_HOP | HTTP_HDR_DROP)))
			hw_put_header(&w, &r->headers[i]);
	for (i = 0; i < x->nadded; i++)
		hw_put_header(&w, &x->added[i]);
	switch (kind) {
	case HEAD_INTERIM:
		/* Head filters see final responses only: an interim one
		 * carries what the site adds to every forwarded message. */
		if (x->site->via)
			hw_put_str(&w, "Via: 1.1 portico\r\n");
		break;
	case HEAD_SWITCH:
		hw_put_field(&w, SLICE_LIT("Upgrade"), field(r, HDR_UPGRADE));
		hw_put_str(&w, "Connection: upgrade\r\n");
		break;
	case HEAD_FINAL_CHUNKED:
	case HEAD_FINAL:
		if (kind == HEAD_FINAL_CHUNKED)
			hw_put_str(&w, "Transfer-Encoding: chunked\r\n");
		if (!x->keep_alive)
			hw_put_str(&w, "Connection: close\r\n");
		else if (x->req.version == 10)
			hw_put_str(&w, "Connection: keep-alive\r\n");
		break;
	}
	return hw_finish(&w, b->start);
}
