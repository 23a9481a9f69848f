/*
 * headers.h: the site's response fields, a head filter: Strict-Transport-
 * Security on TLS (the site's policy replaces the server's, and never
 * goes out in the clear, RFC 6797 7.2), Via on forwarded responses, and
 * the server's Server field hidden when the site says so.
 */
#ifndef PORTICO_HEADERS_H
#define PORTICO_HEADERS_H

#include "module.h"

extern const struct module headers_module;

#endif
