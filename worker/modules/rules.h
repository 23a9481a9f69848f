/*
 * rules.h: a route's actions on the request: return (a status with a
 * body or a file), redirect (a Location made from variables and
 * captures), and rewrite (the target sent upstream, made the same way;
 * the access log keeps what the client sent). Also the room the rules
 * modules make their values in: one buffer per exchange, taken when a
 * value is first made and given back when the exchange ends.
 */
#ifndef PORTICO_RULES_H
#define PORTICO_RULES_H

#include "module.h"

extern const struct module rules_module;

/* Room for a value at the end of the exchange's rules buffer, *room
 * bytes; NULL (logged) when no buffer can be had. rules_keep() keeps
 * the n bytes written there, until the exchange ends. */
char *rules_room(struct exchange *x, size_t *room);
void rules_keep(struct exchange *x, size_t n);

#endif
