/*
 * header_rules.c: the response fields a route or site sets, adds and
 * removes (header_rules.h).
 */
#include "config.h"

#include "log.h"
#include "header_rules.h"
#include "rules.h"

/* The list of kind k in force: the route's (its own or its site's), or
 * the site's when no route was found (a 404). */
static const struct conf_header_edits *edits_of(const struct exchange *x,
						enum conf_header_edit_kind k)
{
	if (x->route != NULL)
		return x->route->header_edits[k];
	return x->site != NULL ? x->site->header_edits[k] : NULL;
}

static void drop_named(struct exchange *x, const struct conf_header_edits *l)
{
	unsigned i;

	for (i = 0; l != NULL && i < l->n; i++)
		exchange_drop_field(x, l->e[i].lower);
}

/* Add l's fields, their values made from the request's variables. */
static int add_fields(struct exchange *x, const struct conf_header_edits *l)
{
	struct var_source src;
	size_t room, n;
	unsigned i;
	char *p;

	if (l == NULL)
		return P_OK;
	src = exchange_vars(x);
	for (i = 0; i < l->n; i++) {
		if ((p = rules_room(x, &room)) == NULL)
			return P_ERROR;
		n = vars_expand_for_head(&l->e[i].value, &src, p, room, VAR_IN_FIELD);
		if (n > room) {
			exchange_log(x, LL_ERROR, 0, "the value of %s made more than a buffer holds",
				     l->e[i].name);
			return P_ERROR;
		}
		if (n == 0)
			continue;	/* an empty value: left out, as nginx does */
		rules_keep(x, n);
		if (exchange_add_field(x, (struct slice){ l->e[i].name, l->e[i].name_len },
				       (struct slice){ p, n }) < 0) {
			exchange_log(x, LL_ERROR, 0, "no room for response field %s", l->e[i].name);
			return P_ERROR;
		}
	}
	return P_OK;
}

static int edit_response(struct exchange *x)
{
	drop_named(x, edits_of(x, CONF_REMOVE_RESPONSE));
	drop_named(x, edits_of(x, CONF_SET_RESPONSE));
	if (add_fields(x, edits_of(x, CONF_SET_RESPONSE)) != P_OK)
		return P_ERROR;
	return add_fields(x, edits_of(x, CONF_ADD_RESPONSE));
}

const struct module header_rules_module = {
	.name = "header_rules",
	.response_head = edit_response,
};
