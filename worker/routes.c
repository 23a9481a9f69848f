/*
 * routes.c: route selection (routes.h).
 */
#include "config.h"

#include "http_uri.h"
#include "modules/geo.h"
#include "log.h"
#include "route_trie.h"
#include "routes.h"

/* The first of the n routes ids[] whose conditions hold, or NULL. */
static const struct conf_route *first_holding(const struct conf_site *site,
					      const uint32_t *ids, unsigned n,
					      const struct route_input *in)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (route_conds_hold(&site->routes[ids[i]], in))
			return &site->routes[ids[i]];
	return NULL;
}

/* The exact route for the path the trie walk m found, or NULL. */
static const struct conf_route *exact_route(const struct conf_site *site,
					    struct route_trie_match m,
					    const struct route_input *in)
{
	const uint32_t *ids;
	unsigned n;

	if (m.exact == ROUTE_TRIE_NONE)
		return NULL;
	n = route_trie_ids(site->route_trie, m.exact, true, &ids);
	return first_holding(site, ids, n, in);
}

/* The longest prefix route whose conditions hold, or NULL. */
static const struct conf_route *prefix_route(const struct conf_site *site,
					     struct route_trie_match m,
					     const struct route_input *in)
{
	const struct conf_route *r;
	const uint32_t *ids;
	uint32_t node;
	unsigned n;

	for (node = m.prefix; node != ROUTE_TRIE_NONE;
	     node = route_trie_shorter(site->route_trie, node)) {
		n = route_trie_ids(site->route_trie, node, false, &ids);
		if ((r = first_holding(site, ids, n, in)) != NULL)
			return r;
	}
	return NULL;
}

/* r's captures of the path its regex just matched, from its match data. */
static void keep_captures(const struct conf_route *r, int rc, struct slice path,
			  struct var_captures *cap)
{
	const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(r->match);
	unsigned i;

	/* rc 0: the match data has too few pairs; it is made from the
	 * pattern, so this cannot happen, but take what fits. */
	cap->n = rc == 0 || rc > VAR_CAPTURES ? VAR_CAPTURES : (unsigned)rc;
	cap->subject = path.p;
	for (i = 0; i < 2 * cap->n; i++)
		cap->ovector[i] = ov[i];
}

/* The first regex route matching the path whose conditions hold, its
 * captures into cap; or NULL. The captures are taken only once the
 * conditions hold: a regex whose conditions fail leaves none behind. */
static const struct conf_route *regex_route(const struct conf_site *site,
					    const struct route_input *in,
					    struct var_captures *cap)
{
	struct slice path = in->req->uri;
	unsigned i;

	for (i = 0; i < site->nregex_routes; i++) {
		const struct conf_route *r = &site->routes[site->regex_routes[i]];
		int rc;

		rc = pcre2_match(r->regex, (PCRE2_SPTR)path.p, path.len, 0, 0, r->match, NULL);
		if (rc < 0 || !route_conds_hold(r, in))
			continue;
		keep_captures(r, rc, path, cap);
		return r;
	}
	return NULL;
}

const struct conf_route *routes_choose(const struct conf_site *site,
				       const struct route_input *in, struct var_captures *cap)
{
	struct slice path = in->req->uri;
	struct route_trie_match m = route_trie_lookup(site->route_trie, path.p, path.len);
	const struct conf_route *r, *prefix;

	cap->n = 0;
	if ((r = exact_route(site, m, in)) != NULL)
		return r;
	prefix = prefix_route(site, m, in);
	if (prefix != NULL && prefix->kind == ROUTE_PREFIX_NO_REGEX)
		return prefix;
	if ((r = regex_route(site, in, cap)) != NULL)
		return r;
	return prefix;
}

/* ---- the module ---- */

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

static int route_request(struct exchange *x)
{
	struct route_input in = { &x->req, exchange_client_bin(x), 0 };

	if (normalize_uri(x) < 0)
		return P_DONE;
	in.region = geo_region_of_exchange(x);
	x->route = x->site ? routes_choose(x->site, &in, &x->captures) : NULL;
	if (x->route == NULL) {
		exchange_respond(x, 404, TERM_LOCAL, false);
		return P_DONE;
	}
	return P_OK;
}

const struct module routes_module = {
	.name = "routes",
	.route = route_request,
};
