/*
 * router.c: site selection.
 */
#include "config.h"

#include <stdio.h>

#include "host_index.h"
#include "log.h"
#include "router.h"

const struct conf_site *router_site(const struct conf_listen *lst, struct slice host)
{
	const struct conf_site *site = host_index_find(lst->hosts, host);

	return site ? site : lst->default_site;
}

/* ---- the routing module ---- */

/* The same URL over https, on the site's TLS port. */
static void redirect_https(struct exchange *x)
{
	const struct http_message *r = &x->req;
	const struct conf_site *site = x->site;
	struct slice host = host_name_of(r->host), path = r->target;
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
		x->site = router_site(c->listen, x->req.host);
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
	return P_OK;
}

const struct module router_module = {
	.name = "router",
	.route = route_request,
};
