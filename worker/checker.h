/*
 * checker.h: active health checks, run by the checker process only, so N
 * workers do not send N times the probes.
 *
 * Owns: one probe per server of every upstream with a health_check block
 * (its connection, its timer and its receive buffer, all allocated once),
 * the counts of checks passed and failed in a row, and the decision to
 * mark a server down after `fall` failures or up again after `rise`
 * passes. The verdicts go to the shared health table; workers read them.
 */
#ifndef PORTICO_CHECKER_H
#define PORTICO_CHECKER_H

struct conf;
struct health_peer;

/*
 * Start probing every server of every upstream with a health_check block;
 * peers[conf_server.id] is the server's entry in the shared health table.
 * Returns 0, or -1 (errno) when out of memory.
 */
int checker_start(const struct conf *conf, struct health_peer *const *peers);

/* Stop: close every probe in progress and cancel the timers. */
void checker_stop(void);

#endif
