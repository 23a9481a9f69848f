/*
 * realip.h: the client's real address, behind other proxies: when a
 * request comes from a peer of its site's real_ip_from, the address is
 * taken from real_ip_header (X-Forwarded-For, X-Real-IP or Forwarded's
 * for=), walked from the right past the trusted addresses, as nginx's
 * realip module does with real_ip_recursive on. It replaces the
 * exchange's client address for this request only, in the route phase
 * right after the router, so that every access rule, limit, log and
 * forwarding field sees it.
 */
#ifndef PORTICO_MODULES_REALIP_H
#define PORTICO_MODULES_REALIP_H

#include "module.h"

extern const struct module realip_module;

#endif
