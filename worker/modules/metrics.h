/*
 * metrics.h: the metrics module: the content of a route with
 * metrics = true.
 *
 * Owns: the metrics in the Prometheus text exposition format (0.0.4):
 * every process's counters and series summed from the stats zone, the
 * master's counters, the health table and the shared zones, named and
 * labelled as portico.conf(5) lists them, for the names of this worker's
 * configuration. The text is made anew for each request, in memory of
 * its own of any size, lent to the answer until the exchange ends.
 */
#ifndef PORTICO_METRICS_H
#define PORTICO_METRICS_H

#include "module.h"

/* The content type of the text. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

extern const struct module metrics_module;

/*
 * The metrics as text: malloc'd, *len bytes (not terminated), for the
 * caller to free; NULL when out of memory.
 */
char *metrics_text(const struct worker_ctx *ctx, size_t *len);

/* Answer x (200, the text; HEAD: its head) with the metrics; for any
 * content module (the status route, when asked for text). */
void metrics_respond(struct exchange *x);

#endif
