/*
 * filter.c: the request filters of a route, in its access phase.
 */
#include "config.h"

#include "modules/filter.h"
#include "stats.h"

static int check_filters(struct exchange *x)
{
	const struct conf_filter_list *l = x->route != NULL ? x->route->filters : NULL;
	const struct conf_filter *f;

	if (l == NULL || (f = filter_first(l, &x->req, exchange_client_bin(x))) == NULL)
		return P_OK;
	STATS_ADD(x->ctx->stats, c.filtered, 1);
	/* A body that was not read would be taken for the next request. */
	exchange_deny(x, f->close ? 0 : (int)f->status, f->refused_by,
		      x->req.framing != HTTP_BODY_NONE);
	return P_DONE;
}

const struct module filter_module = {
	.name = "filter",
	.init = filter_match_init,
	.access = check_filters,
};
