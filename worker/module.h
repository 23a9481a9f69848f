/*
 * module.h: how a feature joins the request path.
 *
 * A module is one struct module naming the hooks it fills; modules.c
 * lists every module in one table, and within a phase the hooks run in
 * the table's order. The exchange code (exchange.c) calls hooks by phase
 * and never names a module: a new feature is a new file and a new row.
 *
 * Hooks, by phase (exchange.h describes the phases):
 *
 *   init           once per worker, before serving: 0, or -1 to refuse
 *                  to start (out of memory)
 *   route          PH_ROUTE: find x->site and x->route, or answer
 *   access         PH_ACCESS: let the request through, or answer
 *   content        PH_CONTENT: claim the exchange (return true) by
 *                  setting x->content and moving it to its next phase,
 *                  or leave it to the next module (false)
 *   response_head  PH_RESPONSE_HEAD: edit the response head (x->resp,
 *                  exchange_add_field, exchange_drop_field) and add body
 *                  filters; runs for proxied answers and for portico's own
 *   log            PH_LOG: the exchange has ended (x->term_cause says
 *                  how); count it, write it down
 *   end            after the log hooks: let go of what the module keeps
 *                  for the exchange
 *
 * route and access hooks return P_OK to let the next hook run, or P_DONE
 * when they answered (exchange_respond and friends) or ended the
 * exchange: the phase's remaining hooks are skipped. An access hook may
 * also return P_AGAIN to wait, with a struct content of its own set
 * (wait_ms, timeout) for the timer: the phase's hooks run again from the
 * first when the timer fires, and the hook sets x->content back to NULL
 * once it lets the request on (modules/limits.c delays so). Every hook
 * reads the worker's context from x->ctx.
 *
 * Example, an access hook refusing one path to everyone, and a head
 * filter marking every response:
 *
 *	static int deny_private(struct exchange *x)
 *	{
 *		if (!slice_ieq(x->req.path, "/private"))
 *			return P_OK;
 *		exchange_respond(x, 403, TERM_PROXY, false);
 *		return P_DONE;
 *	}
 *	static int mark(struct exchange *x)
 *	{
 *		return exchange_add_field(x, SLICE_LIT("X-Served-By"),
 *					  SLICE_LIT("portico")) == 0 ? P_OK : P_ERROR;
 *	}
 *	const struct module private_module = {
 *		.name = "private", .access = deny_private, .response_head = mark,
 *	};
 *
 * A content hook claims the exchanges it answers, as the status page
 * does (modules/status.c): an answer of its own with
 * exchange_respond_body(), or a struct content of its own for the
 * phases after PH_CONTENT, as the upstream module has (proxy.c).
 */
#ifndef PORTICO_MODULE_H
#define PORTICO_MODULE_H

#include "context.h"
#include "exchange.h"

struct module {
	const char *name;
	int (*init)(const struct worker_ctx *ctx);
	int (*route)(struct exchange *x);
	int (*access)(struct exchange *x);
	bool (*content)(struct exchange *x);
	int (*response_head)(struct exchange *x);
	void (*log)(const struct exchange *x);
	void (*end)(struct exchange *x);
};

/* The table, NULL-terminated (modules.c). */
extern const struct module *const modules[];

#endif
