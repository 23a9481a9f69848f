/*
 * route_cond.h: conditions on a route beside its path: match_method,
 * match_header, match_cookie, match_arg, match_client, match_region. A
 * route is chosen only when its path pattern and every condition written
 * on it hold; when one fails, routing goes on to the next candidate
 * (routes.h).
 *
 * Owns: the kinds of condition, one row each (its option, how an entry
 * is read, and whether a request meets the condition), the option rows
 * that read and write them back (conf_route_cond_options, conf_parts.h),
 * and their matching, read by the workers. A new kind is one row, one
 * reader of an entry, and one match function.
 *
 * The entries of header, cookie and query-argument conditions take four
 * forms, all of which must hold:
 *	"Name"		present
 *	"!Name"		absent
 *	"Name = value"	present with this value (case-sensitive; trimmed)
 *	"Name ~ regex"	present with a value the PCRE2 regex finds
 * Header names are case-insensitive; cookie and argument names are not.
 * match_method, match_client and match_region hold when any of their
 * entries does.
 */
#ifndef PORTICO_ROUTE_COND_H
#define PORTICO_ROUTE_COND_H

#include <stdbool.h>
#include <stdint.h>

#include "cidr.h"
#include "conf.h"
#include "http_parse.h"

enum route_cond_form {
	COND_PRESENT = 0,
	COND_ABSENT,
	COND_EQUAL,
	COND_REGEX
};

/* One entry of a condition's list, as read. */
struct route_cond_entry {
	char *text;			/* as written, for -T */
	enum route_cond_form form;
	char *name;			/* method, header, cookie or argument */
	size_t name_len;
	char *value;			/* COND_EQUAL */
	size_t value_len;
	pcre2_code *regex;		/* COND_REGEX */
	pcre2_match_data *match;
	struct cidr cidr;		/* match_client */
	unsigned region;		/* match_region: the name's id */
};

struct route_cond_kind;

/* One condition written on a route: a kind and its entries. */
struct route_cond {
	const struct route_cond_kind *kind;
	struct route_cond_entry *entries;
	unsigned n;
};

/* What conditions look at. */
struct route_input {
	const struct http_message *req;
	const uint8_t *client_addr;	/* 16 bytes (cidr.h), after PROXY
					 * protocol and real_ip_from; NULL
					 * for a unix socket's client */
	unsigned region;		/* the client's region by the site's
					 * geo; 0: none */
};

/* Whether every condition of r holds for in. */
bool route_conds_hold(const struct conf_route *r, const struct route_input *in);

/* Free r's conditions. */
void route_conds_free(struct conf_route *r);

#endif
