/*
 * acl.c: refusing clients by their address: deny before allow, so that
 * a denied address stays refused whatever allow says. A client without
 * an address (a unix socket's) is in no prefix: deny lets it through, and
 * an allow list refuses it.
 */
#include "config.h"

#include "prefix_tree.h"
#include "modules/acl.h"

static int check_address(struct exchange *x)
{
	const struct conf_acl *a = x->route != NULL ? x->route->acl : NULL;
	const uint8_t *addr = exchange_client_bin(x);

	if (a == NULL)
		return P_OK;
	if (a->deny_tree != NULL && addr != NULL && prefix_tree_lookup(a->deny_tree, addr, NULL)) {
		STATS_ADD(x->ctx->stats, c.acl_refused, 1);
		exchange_deny(x, 403, "deny", false);
		return P_DONE;
	}
	if (a->allow_tree != NULL &&
	    (addr == NULL || !prefix_tree_lookup(a->allow_tree, addr, NULL))) {
		STATS_ADD(x->ctx->stats, c.acl_refused, 1);
		exchange_deny(x, 403, "allow", false);
		return P_DONE;
	}
	return P_OK;
}

const struct module acl_module = {
	.name = "acl",
	.access = check_address,
};
