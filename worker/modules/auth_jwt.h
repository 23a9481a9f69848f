/*
 * auth_jwt.h: JWT bearer authentication (auth_jwt on a site or a route,
 * unless the route says auth = off): the request's token, from the
 * Authorization field's Bearer or from auth_jwt_token, is verified with
 * the keys the master read (common/jwt.h); a request without a good one
 * is answered 401 with WWW-Authenticate: Bearer (RFC 6750 3), and the
 * access log's last column says why ("auth_jwt=expired"). A request let
 * through goes up with the claims the site names as fields (the
 * client's own fields of those names never pass) and its sub as the user
 * ($remote_user).
 */
#ifndef PORTICO_MODULES_AUTH_JWT_H
#define PORTICO_MODULES_AUTH_JWT_H

#include "module.h"

extern const struct module auth_jwt_module;

#endif
