/*
 * filter.h: request filters: the rules a route applies (its own list, or
 * its site's) refuse a request by its method, path, query, a header
 * field or the client's address, before anything else is done with it.
 * The first rule of the list that matches refuses: answered with its
 * status and portico's own page, or with no answer at all (action =
 * "close"); the logs name it ("filter=NAME"). How a list is prepared to
 * run fast is conf_filter.h's.
 */
#ifndef PORTICO_MODULES_FILTER_H
#define PORTICO_MODULES_FILTER_H

#include <stdint.h>

#include "conf_filter.h"
#include "http_parse.h"
#include "module.h"

extern const struct module filter_module;

/* Make this worker's JIT stack for the filters' matches: 0, or -1 out
 * of memory (filter_match.c). */
int filter_match_init(const struct worker_ctx *ctx);

/* The first rule of l that refuses the request req from the client at
 * addr (16 bytes, cidr.h; NULL for a client without an address, which is
 * in no prefix), or NULL (filter_match.c). */
const struct conf_filter *filter_first(const struct conf_filter_list *l,
				       const struct http_message *req, const uint8_t addr[16]);

#endif
