/*
 * proxy.h: the upstream half of an exchange: pick a server and connect
 * (trying the next one when a server cannot be reached), send the request
 * head and stream its body, read and check the response head, and stream
 * the response back to the client.
 *
 * Owns: the heads portico writes (request to upstream, response to
 * client) and the exchange's upstream timeouts.
 */
#ifndef PORTICO_PROXY_H
#define PORTICO_PROXY_H

struct session;

/* Begin proxying the parsed request of s->x to its route's upstream. */
void proxy_start(struct session *s);

/* Move the exchange on after an event on either connection. */
void proxy_progress(struct session *s);

/* The session's timer fired while proxying. */
void proxy_timeout(struct session *s);

#endif
