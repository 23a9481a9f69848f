/*
 * prefix_tree.h: a longest-prefix-match map from address prefixes
 * (struct cidr: IPv6, and IPv4 as ::ffff:a.b.c.d) to a small value, for
 * lists too long to scan: allow and deny lists (one tree per list, every
 * prefix holding 1, asked "does any prefix match"), and geo tables.
 *
 * Owns: a path-compressed binary trie in one flat array of nodes, built
 * by the master at config load and read by the workers it forks (never
 * written after the fork: lookups take no lock). A lookup visits at most
 * one node per prefix length on the address's path, and only the nodes
 * where prefixes branch; each node is 32 bytes, at most two per prefix.
 * A sealed tree of more than a few thousand prefixes also has an index
 * that skips the first 16 to 20 bits of every lookup (1 MB, up to 16 MB
 * for a million prefixes).
 */
#ifndef PORTICO_PREFIX_TREE_H
#define PORTICO_PREFIX_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"

struct prefix_tree;

/* An empty tree; NULL when out of memory. */
struct prefix_tree *prefix_tree_new(void);

/* Map prefix p to value. A prefix added again keeps the last value;
 * overlapping prefixes are all kept, the longest one that matches wins.
 * 0, or -1 when out of memory (the tree is left as it was). */
int prefix_tree_add(struct prefix_tree *t, const struct cidr *p, uint32_t value);

/* After the last prefix: lay the nodes out in the order lookups read
 * them, in an array of their size, and for a large tree, index it. 0, or
 * -1 when out of memory (the tree works as it was). Adding again drops
 * the index; seal again after. Prefixes added in address order build
 * fastest (each walk starts where the last one went). */
int prefix_tree_seal(struct prefix_tree *t);

/* The value of the longest prefix holding addr (16 bytes, as
 * cidr_addr_of makes it) into *value when not NULL; false when no
 * prefix holds it. */
bool prefix_tree_lookup(const struct prefix_tree *t, const uint8_t addr[16], uint32_t *value);

/*
 * A copy of the tree, sealed, in memory of the caller's, for lookups
 * only: into mem (prefix_tree_placed_size(t) bytes, aligned as
 * malloc's), the tree's header and arrays in one block, naming each
 * other by address. It is what a shared mapping made before fork holds:
 * every process finds it at the same address. t need not be sealed (the
 * copy is laid out and indexed as sealing would). Never add to, seal or
 * free the copy; mem is the caller's to release.
 */
size_t prefix_tree_placed_size(const struct prefix_tree *t);
const struct prefix_tree *prefix_tree_place(const struct prefix_tree *t, void *mem);

/* How many distinct prefixes it holds; the bytes its nodes take. */
size_t prefix_tree_count(const struct prefix_tree *t);
size_t prefix_tree_bytes(const struct prefix_tree *t);

void prefix_tree_free(struct prefix_tree *t);

#endif
