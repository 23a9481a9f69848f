/*
 * gunzip.h: gzip-encoded responses inflated for clients that do not
 * accept gzip, as they stream (gunzip = true on a site or route): a head
 * filter that decides and edits the head, a body filter that inflates.
 * Owns the exchange's zlib stream (x->gunzip).
 */
#ifndef PORTICO_MODULES_GUNZIP_H
#define PORTICO_MODULES_GUNZIP_H

#include "module.h"

extern const struct module gunzip_module;

#endif
