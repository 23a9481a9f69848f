/*
 * route_trie.h: the path patterns of a site's routes that are not
 * regexes ("/prefix", "^~ /prefix", "= /exact"), in one trie, so that
 * finding the routes of a path costs the length of the path, not the
 * number of routes: 100,000 prefix routes cost about what 10 do.
 *
 * Owns: a radix trie (byte strings, path-compressed) in flat arrays,
 * built once by the master at config load from (key, id) pairs (the
 * keys' bytes are copied) and read by the workers it forks (never
 * written after: no lock). Each node
 * holds the ids of the keys that end there, prefix and exact apart, in
 * the order they were given (file order), and the index of its nearest
 * ancestor holding prefix ids, so the prefixes of a path are walked from
 * the longest to the shortest without a stack.
 */
#ifndef PORTICO_ROUTE_TRIE_H
#define PORTICO_ROUTE_TRIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* No node: the end of a walk. */
#define ROUTE_TRIE_NONE UINT32_MAX

struct route_trie;

/* One key to put in: a path, and whether only the whole path matches. */
struct route_trie_key {
	const char *key;
	size_t len;
	uint32_t id;			/* what lookups give back (a route's index) */
	bool exact;
};

/* The trie of the n keys; NULL when out of memory. Keys given twice are
 * kept twice, their ids in the order given. */
struct route_trie *route_trie_build(const struct route_trie_key *keys, unsigned n);

void route_trie_free(struct route_trie *t);

/* What a path finds. */
struct route_trie_match {
	uint32_t exact;			/* the node of the keys equal to the
					 * path and exact, or ROUTE_TRIE_NONE */
	uint32_t prefix;		/* the node of the longest prefix keys
					 * the path starts with, or ROUTE_TRIE_NONE */
};

/* Walk path[0..len) down the trie. */
struct route_trie_match route_trie_lookup(const struct route_trie *t, const char *path,
					  size_t len);

/* The node of the next shorter prefix keys, after node (a node lookup
 * gave as .prefix, or one this gave); ROUTE_TRIE_NONE after the shortest. */
uint32_t route_trie_shorter(const struct route_trie *t, uint32_t node);

/* The ids at node, prefix or exact ones, in the order given; their number. */
unsigned route_trie_ids(const struct route_trie *t, uint32_t node, bool exact,
			const uint32_t **ids);

/* Nodes, and the bytes the trie takes. */
size_t route_trie_nodes(const struct route_trie *t);
size_t route_trie_bytes(const struct route_trie *t);

#endif
