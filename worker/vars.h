/*
 * vars.h: the values of the variables of expressions (conf_expr.c) for
 * one request: what hash_key hashes and cache_key names an object by.
 */
#ifndef PORTICO_VARS_H
#define PORTICO_VARS_H

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "http_parse.h"

/* $0..$9: what the route's regex captured, as offsets into subject
 * (the request's path); n is 0 when no regex matched. */
#define VAR_CAPTURES 10
struct var_captures {
	const char *subject;
	size_t ovector[2 * VAR_CAPTURES];	/* start, end; PCRE2_UNSET: none */
	unsigned n;			/* pairs set */
};

/* What a request's variables are read from. */
struct var_source {
	const struct http_message *req;
	const char *client_addr;	/* as text */
	bool tls;			/* arrived over TLS ($scheme) */
	const struct var_captures *captures;	/* NULL: none */
	uint16_t remote_port;		/* 0: unknown */
	uint16_t server_port;		/* the listener's; 0: none (unix) */
	const char *geo_region;		/* the client's region by the site's
					 * geo; NULL: none */
	const char *remote_user;	/* who authentication let in; NULL:
					 * nobody */
	const char *request_id;		/* 32 hex digits, or a trusted client's */
	const struct conf_site *site;	/* NULL: none found */
	const struct conf_route *route;	/* NULL: none chosen */
	struct ssl_st *ssl;		/* the client's TLS; NULL: none */
};

/* Room for a value made as it is asked for (a port's digits). */
#define VAR_SCRATCH 6

/* The value of part kp: literal text or a variable's (empty when the
 * request has none), made in scratch when it is not in the request.
 * $host comes lower-cased only through var_lower(). */
struct slice var_value(const struct conf_key_part *kp, const struct var_source *src,
		       char scratch[VAR_SCRATCH]);

/* Whether kp's value is compared without case ($host). */
static inline bool var_lower(const struct conf_key_part *kp)
{
	return kp->var == KEY_HOST;
}

/* The expression's value into out[cap], $host lower-cased; its length,
 * or cap + 1 when it does not fit (out then holds its first cap bytes). */
size_t vars_expand(const struct conf_expr *e, const struct var_source *src, char *out,
		   size_t cap);

/* Where an expanded value goes in a message head. */
enum var_escape {
	VAR_IN_FIELD,			/* a field's value */
	VAR_IN_TARGET,			/* a request target, or a Location */
	VAR_IN_COMPONENT		/* a target whose variables' values are
					 * each one query or path component */
};

/* The same for a value that goes into a message head: the bytes a head
 * cannot carry as they are (control characters but tab in a field; in a
 * target tab and space too) are written as %XX. $uri and the captures are
 * decoded from the client's %XX, so they may hold any byte but NUL: in a
 * target, their '%', '?', '#' and bytes above 0x7e are encoded again
 * (as nginx's rewrite does), so that the server reads the path portico
 * routed and checked, not a second decoding of it nor a query of it. In
 * VAR_IN_COMPONENT every byte of a variable's value but letters, digits,
 * "-._~" and '/' is encoded, so that no client's value adds a parameter
 * ("&", "=", ";", "?") to a query the operator wrote. */
size_t vars_expand_for_head(const struct conf_expr *e, const struct var_source *src,
			    char *out, size_t cap, enum var_escape where);

#endif
