/*
 * body_size.h: client_max_body_size: a request whose Content-Length says
 * more than its route takes is answered 413 before any of it goes on.
 * A chunked body that grows past it is cut by the upstream module's
 * request pump (pump_set_limit), with 413 while the answer can still go.
 */
#ifndef PORTICO_MODULES_BODY_SIZE_H
#define PORTICO_MODULES_BODY_SIZE_H

#include "module.h"

extern const struct module body_size_module;

#endif
