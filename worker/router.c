/*
 * router.c: site and route selection.
 */
#include "config.h"

#include <stdio.h>

#include "host_index.h"
#include "http_uri.h"
#include "log.h"
#include "router.h"

struct slice router_host_name(struct slice host)
{
	return host_name_of(host);
}

const struct conf_site *router_site(const struct conf *conf,
				    const struct conf_listen *lst,
				    struct slice host)
{
	const struct conf_site *site = host_index_find(lst->hosts, host);

	(void)conf;	/* the index is the listener's */
	return site ? site : lst->default_site;
}

/* Whether r's regex matches path; its captures into cap when it does. */
static bool regex_matches(const struct conf_route *r, struct slice path,
			  struct var_captures *cap)
{
	int rc = pcre2_match(r->regex, (PCRE2_SPTR)path.p, path.len, 0, 0, r->match, NULL);
	const PCRE2_SIZE *ov;
	unsigned i;

	if (rc < 0)
		return false;
	/* rc 0: the match data has too few pairs; it is made from the
	 * pattern, so this cannot happen, but take what fits. */
	cap->n = rc == 0 || rc > VAR_CAPTURES ? VAR_CAPTURES : (unsigned)rc;
	cap->subject = path.p;
	ov = pcre2_get_ovector_pointer(r->match);
	for (i = 0; i < 2 * cap->n; i++)
		cap->ovector[i] = ov[i];
	return true;
}

const struct conf_route *router_route(const struct conf_site *site,
				      struct slice path, struct var_captures *cap)
{
	const struct conf_route *best = NULL;
	unsigned i;

	for (i = 0; i < site->nroutes; i++) {
		const struct conf_route *r = &site->routes[i];

		if (r->regex != NULL || r->prefix_len > path.len)
			continue;
		if (memcmp(r->prefix, path.p, r->prefix_len) != 0)
			continue;
		if (best == NULL || r->prefix_len > best->prefix_len)
			best = r;
	}
	for (i = 0; i < site->nroutes; i++) {
		const struct conf_route *r = &site->routes[i];

		if (r->regex != NULL && regex_matches(r, path, cap))
			return r;
	}
	return best;
}

/* ---- the routing module ---- */

/* The path routes and rules see (http_uri.h); -1 when the request was
 * answered instead: 400 for a path that cannot be read. */
static int normalize_uri(struct exchange *x)
{
	struct http_message *r = &x->req;
	long len;

	if (r->path.len == 0 || r->path.p[0] != '/' || !http_uri_needs_normalizing(r->path))
		return 0;
	if (x->uri_buf == NULL && (x->uri_buf = buf_get()) == NULL) {
		exchange_log(x, LL_ERROR, 0, "out of memory for a request's path");
		exchange_respond(x, 500, TERM_RESOURCE, true);
		return -1;
	}
	/* The path is part of the head, which fits a buffer. */
	len = r->path.len <= (size_t)(x->uri_buf->end - x->uri_buf->start)
	      ? http_uri_normalize(r->path, x->uri_buf->start) : -1;
	if (len < 0) {
		exchange_log(x, LL_INFO, 0, "invalid path (a bad %%-escape, an encoded NUL, or "
			     "\"..\" above the root), answered 400");
		exchange_respond(x, 400, TERM_PROXY, true);
		return -1;
	}
	r->uri = (struct slice){ x->uri_buf->start, (size_t)len };
	return 0;
}

/* The same URL over https, on the site's TLS port. */
static void redirect_https(struct exchange *x)
{
	const struct http_message *r = &x->req;
	const struct conf_site *site = x->site;
	struct slice host = router_host_name(r->host), path = r->target;
	char location[4096], port[8] = "";
	int n;

	if (host.len == 0 && site->nhosts > 0 && site->hosts[0].kind == HOST_EXACT)
		host = (struct slice){ site->hosts[0].name, site->hosts[0].len };
	if (host.len == 0) {
		exchange_log(x, LL_INFO, 0, "no host to redirect to https, answered 400");
		exchange_respond(x, 400, TERM_PROXY, true);
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
		exchange_respond(x, 414, TERM_PROXY, true);
		return;
	}
	exchange_redirect(x, 301, location);
}

static int route_request(struct exchange *x)
{
	const struct client_side *c = &x->client;

	/* Over TLS, a request without Host (HTTP/1.0) is for the site its
	 * handshake named. */
	if (c->tls && x->req.host.len == 0)
		x->site = c->tls_site;
	else
		x->site = router_site(x->ctx->conf, c->listen, x->req.host);
	if (c->plain_on_tls) {
		exchange_log(x, LL_INFO, 0, "plain HTTP request to a TLS listener, answered 400");
		exchange_respond(x, 400, TERM_PROXY, true);
		return P_DONE;
	}
	if (c->tls && x->site != c->tls_site) {
		/* The certificate, and the client certificate checks, were
		 * those of the site SNI named: Host may not pick another. */
		exchange_log(x, LL_INFO, 0, "Host names another site than SNI, answered 421");
		exchange_respond(x, 421, TERM_PROXY, false);
		return P_DONE;
	}
	if (!c->tls && x->site != NULL && x->site->redirect_https) {
		redirect_https(x);
		return P_DONE;
	}
	if (normalize_uri(x) < 0)
		return P_DONE;
	x->route = x->site ? router_route(x->site, x->req.uri, &x->captures) : NULL;
	if (x->route == NULL) {
		exchange_respond(x, 404, TERM_LOCAL, false);
		return P_DONE;
	}
	return P_OK;
}

const struct module router_module = {
	.name = "router",
	.route = route_request,
};
