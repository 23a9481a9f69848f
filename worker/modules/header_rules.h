/*
 * header_rules.h: a route's (or its site's) set_response_headers,
 * add_response_headers and remove_response_headers, a head filter run
 * after the site's own fields (modules/headers.c), so that what the
 * operator writes has the last word, on proxied, cached and portico's
 * own answers alike. The request side is written with the request head
 * (head.c).
 */
#ifndef PORTICO_HEADER_RULES_H
#define PORTICO_HEADER_RULES_H

#include "module.h"

extern const struct module header_rules_module;

#endif
