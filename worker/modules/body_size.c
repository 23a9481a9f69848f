/*
 * body_size.c: refusing request bodies longer than client_max_body_size.
 */
#include "config.h"

#include "log.h"
#include "modules/body_size.h"

static int check_length(struct exchange *x)
{
	size_t max = x->route != NULL ? x->route->client_max_body_size : 0;

	if (max == 0 || x->req.framing != HTTP_BODY_LENGTH || x->req.content_length <= max)
		return P_OK;
	exchange_log(x, LL_INFO, 0, "a request body of %llu bytes is over client_max_body_size "
		     "(%zu bytes)", (unsigned long long)x->req.content_length, max);
	STATS_ADD(x->ctx->stats, c.body_size_refused, 1);
	exchange_deny(x, 413, "client_max_body_size", true);
	return P_DONE;
}

const struct module body_size_module = {
	.name = "body_size",
	.access = check_length,
};
