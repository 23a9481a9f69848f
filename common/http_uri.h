/*
 * http_uri.h: a request's path as routes and rules see it.
 *
 * Owns: normalizing a path the way nginx does before it matches
 * locations: %XX decoded, runs of slashes merged, "." and ".." segments
 * resolved (RFC 3986 5.2.4). A route's access list, filters and limits
 * then hold however the client spells the path ("/%61dmin", "//admin",
 * "/x/../admin" are all "/admin", as most servers behind will read
 * them). The request goes upstream as the client sent it.
 */
#ifndef PORTICO_HTTP_URI_H
#define PORTICO_HTTP_URI_H

#include <stdbool.h>
#include <stddef.h>

#include "core.h"

/* Whether path (starting with '/') could read otherwise once normalized:
 * it has a '%', "//", or a segment starting with '.'. */
bool http_uri_needs_normalizing(struct slice path);

/*
 * The normalized form of path (which starts with '/') into out, which
 * has room for path.len bytes (never more is written); its length, or
 * -1 when the path is invalid: a '%' not followed by two hex digits, an
 * encoded NUL, or ".." above the root (nginx answers all three 400).
 */
long http_uri_normalize(struct slice path, char *out);

#endif
