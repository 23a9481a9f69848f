/*
 * methods.c: refusing methods a route does not take, with 405 and Allow.
 */
#include "config.h"

#include <string.h>

#include "log.h"
#include "modules/methods.h"

/* Methods are case-sensitive (RFC 9110 9.1): "get" is not GET. */
static bool allowed(const struct conf_methods *m, struct slice method)
{
	unsigned i;

	for (i = 0; i < m->n; i++)
		if (strlen(m->names[i]) == method.len &&
		    memcmp(m->names[i], method.p, method.len) == 0)
			return true;
	return false;
}

static int check_method(struct exchange *x)
{
	const struct conf_methods *m = x->route != NULL ? x->route->methods : NULL;

	if (m == NULL || allowed(m, x->req.method))
		return P_OK;
	exchange_log(x, LL_INFO, 0, "method %.*s is not among the route's methods (%s)",
		     (int)x->req.method.len, x->req.method.p, m->allow);
	STATS_ADD(x->ctx->stats, c.methods_refused, 1);
	exchange_deny(x, 405, "methods", false);
	/* The answer starts with no added field, so there is room for
	 * Allow (none when the answer could not start and the exchange
	 * ended instead). */
	if (x->phase == PH_RESPONSE_HEAD)
		(void)exchange_add_field(x, SLICE_LIT("Allow"),
					 (struct slice){ m->allow, strlen(m->allow) });
	return P_DONE;
}

const struct module methods_module = {
	.name = "methods",
	.access = check_method,
};
