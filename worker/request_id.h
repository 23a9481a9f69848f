/*
 * request_id.h: $request_id, one id per request, and the module that
 * sends it upstream's way: a trusted client's own id is kept instead of
 * a new one (request_id_trusted), every other client's is replaced.
 *
 * Owns: the worker's random seed and counter. An id is 32 lowercase hex
 * digits: 16 bytes drawn at random when the worker starts, plus the
 * number of ids it made before; unique per request, and no worker can
 * tell another's.
 */
#ifndef PORTICO_REQUEST_ID_H
#define PORTICO_REQUEST_ID_H

#include <stdint.h>

#include "exchange.h"
#include "module.h"

/* Room for an id: a made one is 32 digits, a trusted client's up to 128
 * characters. */
#define REQUEST_ID_MAX (EXCHANGE_REQUEST_ID_SIZE - 1)

/* A new id into out (32 digits and a NUL). */
void request_id_make(char out[REQUEST_ID_MAX + 1]);

/* Whether a client's value may stand as an id: 1 to REQUEST_ID_MAX
 * visible ASCII characters, no space nor quote nor backslash. */
bool request_id_acceptable(const char *p, size_t len);

/* A hash of the id, the same in every worker: sample = N picks the
 * requests whose hash is 0 modulo N. */
uint64_t request_id_hash(const char *id);

/* Route hook: after the site is known, keep a trusted client's id. */
extern const struct module request_id_module;

#endif
