/*
 * acl.h: allow and deny: a request from a client address in one of its
 * route's deny prefixes, or outside all of its allow prefixes when the
 * route has an allow list, is answered 403 with portico's own page
 * before anything goes on. The lists are prefix trees the master built
 * (conf_access.c); the access log's last column names the one that
 * refused: "deny" or "allow".
 */
#ifndef PORTICO_MODULES_ACL_H
#define PORTICO_MODULES_ACL_H

#include "module.h"

extern const struct module acl_module;

#endif
