/*
 * router.c: site and route selection.
 */
#include "config.h"

#include <strings.h>

#include "router.h"

static bool site_on_listener(const struct conf_site *site,
			     const struct conf_listen *lst)
{
	unsigned i;

	for (i = 0; i < site->nlistens; i++)
		if (site->listens[i] == lst)
			return true;
	return false;
}

struct slice router_host_name(struct slice host)
{
	size_t i;

	if (host.len > 0 && host.p[0] == '[') {
		for (i = 0; i < host.len && host.p[i] != ']'; i++)
			;
		host.len = i < host.len ? i + 1 : host.len;
		return host;
	}
	for (i = 0; i < host.len && host.p[i] != ':'; i++)
		;
	host.len = i;
	return host;
}

/* Score of a host pattern against host: -1 no match; higher is better.
 * Exact names beat every wildcard; longer suffixes beat shorter ones. */
static long host_score(const struct conf_host *h, struct slice host)
{
	size_t n = strlen(h->name);

	if (!h->wildcard)
		return n == host.len && strncasecmp(h->name, host.p, n) == 0 ? (long)1 << 30 : -1;
	if (n == 0)
		return 0;
	if (host.len > n && strncasecmp(h->name, host.p + host.len - n, n) == 0)
		return (long)n;
	return -1;
}

const struct conf_site *router_site(const struct conf *conf,
				    const struct conf_listen *lst,
				    struct slice host)
{
	const struct conf_site *best = NULL, *first = NULL;
	long best_score = -1;
	unsigned i, j;

	host = router_host_name(host);
	for (i = 0; i < conf->nsites; i++) {
		const struct conf_site *site = &conf->sites[i];

		if (!site_on_listener(site, lst))
			continue;
		if (first == NULL)
			first = site;
		for (j = 0; j < site->nhosts; j++) {
			long score = host_score(&site->hosts[j], host);

			if (score > best_score) {
				best_score = score;
				best = site;
			}
		}
	}
	return best ? best : first;
}

static bool regex_matches(const struct conf_route *r, struct slice path)
{
	return pcre2_match(r->regex, (PCRE2_SPTR)path.p, path.len, 0, 0,
			   r->match, NULL) >= 0;
}

const struct conf_route *router_route(const struct conf_site *site,
				      struct slice path)
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

		if (r->regex != NULL && regex_matches(r, path))
			return r;
	}
	return best;
}
