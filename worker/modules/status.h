/*
 * status.h: the status page module: the content of a route with
 * status = true.
 *
 * Owns: the JSON document that shows the traffic counters of every
 * process (summed from the stats zone) and the state of every upstream
 * server (from the health table) as this worker's configuration knows
 * them.
 */
#ifndef PORTICO_STATUS_H
#define PORTICO_STATUS_H

#include "module.h"

extern const struct module status_module;

#endif
