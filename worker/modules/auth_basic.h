/*
 * auth_basic.h: HTTP Basic authentication (RFC 7617) in the access
 * phase: a route with auth_basic lets in a request whose Authorization
 * field names a user of its file with the right password, and sets
 * $remote_user; any other is answered 401 with WWW-Authenticate. The
 * users were read by the master (conf_auth_basic.c, htpasswd.h).
 */
#ifndef PORTICO_MODULES_AUTH_BASIC_H
#define PORTICO_MODULES_AUTH_BASIC_H

#include "module.h"

extern const struct module auth_basic_module;

#endif
