/*
 * geo_table.h: a geo section's table of prefixes and their regions, as
 * the workers read it.
 *
 * Owns: one shared mapping per table, made by the master when it loads
 * the configuration (at start and at every reload; the new table
 * replaces the old one with its configuration), holding a sealed prefix
 * tree (prefix_tree.h) whose values are region ids (conf.h). The master
 * fills it, then makes it read-only before it forks: the workers share
 * its pages and none can write them; a lookup takes no lock.
 */
#ifndef PORTICO_GEO_TABLE_H
#define PORTICO_GEO_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct prefix_tree;
struct geo_table;

/* A table holding a sealed copy of the tree t; NULL with errno set when
 * the mapping cannot be made. */
struct geo_table *geo_table_create(const struct prefix_tree *t);

/* The region id of the longest prefix holding addr (16 bytes, as
 * cidr_addr_of makes it), or 0 when no prefix does. */
uint32_t geo_table_lookup(const struct geo_table *g, const uint8_t addr[16]);

/* Its prefixes; the bytes of its mapping. */
size_t geo_table_prefixes(const struct geo_table *g);
size_t geo_table_bytes(const struct geo_table *g);

void geo_table_free(struct geo_table *g);

#endif
