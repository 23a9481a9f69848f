/*
 * limits.h: limit_req and limit_conn on the request path.
 */
#ifndef PORTICO_MODULES_LIMITS_H
#define PORTICO_MODULES_LIMITS_H

#include "module.h"

extern const struct module limits_module;

#endif
