/*
 * methods.h: methods = {...} on sites and routes: a request whose method
 * the route does not take is answered 405 with an Allow field that lists
 * those it does (RFC 9110 15.5.6), before any of it goes on.
 */
#ifndef PORTICO_MODULES_METHODS_H
#define PORTICO_MODULES_METHODS_H

#include "module.h"

extern const struct module methods_module;

#endif
