/*
 * rules.c: return, redirect and rewrite (rules.h).
 */
#include "config.h"

#include <errno.h>

#include "log.h"
#include "rules.h"

char *rules_room(struct exchange *x, size_t *room)
{
	if (x->rules_buf == NULL) {
		if ((x->rules_buf = buf_get()) == NULL) {
			exchange_log(x, LL_ERROR, ENOMEM, "no buffer for the route's rules");
			return NULL;
		}
		x->rules_buf->pos = x->rules_buf->last = x->rules_buf->start;
	}
	*room = (size_t)(x->rules_buf->end - x->rules_buf->last);
	return x->rules_buf->last;
}

void rules_keep(struct exchange *x, size_t n)
{
	x->rules_buf->last += n;
}

/* ---- rewrite ---- */

/* The client's query after the rewritten target, as nginx adds it: after
 * "?" when the rewrite writes no query, after "&" when it writes one, not
 * at all when it says so (conf.h); n is the target's length in p[room]. */
static size_t keep_query(const struct exchange *x, char *p, size_t n, size_t room)
{
	struct slice q = x->req.query;
	enum conf_rewrite_query how = x->route->rewrite_query;

	if (how == REWRITE_QUERY_DROP || q.len == 0 || n > room)
		return n;
	if (room - n < q.len + 1)
		return room + 1;
	p[n] = how == REWRITE_QUERY_APPEND ? '&' : '?';
	memcpy(p + n + 1, q.p, q.len);
	return n + 1 + q.len;
}

/* The target the route sends upstream, made now, while the request's
 * captures hold; the request itself is left as the client sent it. */
static int rewrite_target(struct exchange *x)
{
	const struct conf_route *r = x->route;
	struct var_source src;
	size_t room, n;
	char *p;

	if (r == NULL || r->rewrite.text == NULL)
		return P_OK;
	if ((p = rules_room(x, &room)) == NULL) {
		exchange_respond(x, 500, TERM_RESOURCE, false);
		return P_DONE;
	}
	src = exchange_vars(x);
	n = vars_expand_for_head(&r->rewrite, &src, p, room, VAR_IN_TARGET);
	n = keep_query(x, p, n, room);
	if (n > room || n == 0 || p[0] != '/') {
		exchange_log(x, LL_ERROR, 0, "route \"%s\": rewrite \"%s\" made %s", r->pattern,
			     r->rewrite.text, n > room ? "a target too long for a buffer"
			     : "no path starting with \"/\"");
		exchange_respond(x, 500, TERM_PROXY, false);
		return P_DONE;
	}
	rules_keep(x, n);
	x->upstream_target = (struct slice){ p, n };
	return P_OK;
}

/* ---- return and redirect ---- */

static void answer_return(struct exchange *x)
{
	const struct conf_route *r = x->route;
	struct var_source src;
	size_t room, n;
	char *p;

	if (r->return_file_body != NULL) {
		exchange_respond_body(x, (int)r->return_status, r->return_content_type,
				      r->return_file_body, r->return_file_len);
		return;
	}
	if (r->return_body.text == NULL) {
		/* Like error_page's statuses, an error without a body of the
		 * route's own gets the site's page, or portico's. */
		if (r->return_status >= 400)
			exchange_respond(x, (int)r->return_status, TERM_LOCAL, false);
		else
			exchange_respond_body(x, (int)r->return_status, r->return_content_type,
					      "", 0);
		return;
	}
	if ((p = rules_room(x, &room)) == NULL) {
		exchange_respond(x, 500, TERM_RESOURCE, false);
		return;
	}
	src = exchange_vars(x);
	n = vars_expand(&r->return_body, &src, p, room);
	if (n > room) {
		exchange_log(x, LL_ERROR, 0, "route \"%s\": return_body made more than a buffer "
			     "holds", r->pattern);
		exchange_respond(x, 500, TERM_PROXY, false);
		return;
	}
	exchange_respond_body(x, (int)r->return_status, r->return_content_type, p, n);
}

static void answer_redirect(struct exchange *x)
{
	const struct conf_route *r = x->route;
	struct var_source src;
	size_t room, n;
	char *p;

	if ((p = rules_room(x, &room)) == NULL) {
		exchange_respond(x, 500, TERM_RESOURCE, false);
		return;
	}
	src = exchange_vars(x);
	n = vars_expand_for_head(&r->redirect, &src, p, room, VAR_IN_TARGET);
	if (n >= room || n == 0) {
		exchange_log(x, LL_ERROR, 0, "route \"%s\": redirect \"%s\" made %s", r->pattern,
			     r->redirect.text, n == 0 ? "an empty URL" : "a URL too long for a "
			     "buffer");
		exchange_respond(x, 500, TERM_PROXY, false);
		return;
	}
	p[n] = '\0';
	rules_keep(x, n + 1);
	exchange_redirect(x, (int)r->redirect_status, p);
}

/* A route that answers by itself claims its requests before any
 * upstream could. */
static bool answer_route(struct exchange *x)
{
	const struct conf_route *r = x->route;

	if (r == NULL)
		return false;
	if (r->return_status != 0)
		answer_return(x);
	else if (r->redirect.text != NULL)
		answer_redirect(x);
	else
		return false;
	return true;
}

static void release(struct exchange *x)
{
	buf_put(x->rules_buf);
	x->rules_buf = NULL;
}

const struct module rules_module = {
	.name = "rules",
	.route = rewrite_target,
	.content = answer_route,
	.end = release,
};
