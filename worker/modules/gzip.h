/*
 * gzip.h: responses compressed with gzip as they stream (gzip = true on a
 * site or route): a head filter that decides and edits the head, a body
 * filter that compresses. Owns the exchange's zlib stream (x->gzip).
 */
#ifndef PORTICO_MODULES_GZIP_H
#define PORTICO_MODULES_GZIP_H

#include "module.h"

extern const struct module gzip_module;

#endif
