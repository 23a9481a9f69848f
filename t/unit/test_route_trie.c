/*
 * test_route_trie.c: the trie of route paths: exact and prefix keys on
 * the same path, prefixes inside prefixes walked from the longest to the
 * shortest, keys given twice kept in the order given, a path that stops
 * inside an edge, an empty trie, and many random keys and paths checked
 * against a scan of the same keys.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "core.h"
#include "route_trie.h"

static struct route_trie_key key(const char *s, uint32_t id, bool exact)
{
	return (struct route_trie_key){ s, strlen(s), id, exact };
}

/* The prefix ids path finds, longest first, as "3 1 0"; exact ids after
 * "=" ("= 4 | 3 1 0"). */
static const char *found(const struct route_trie *t, const char *path)
{
	static char out[512];
	struct route_trie_match m = route_trie_lookup(t, path, strlen(path));
	const uint32_t *ids;
	size_t at = 0;
	uint32_t node;
	unsigned n, i;

	out[0] = '\0';
	if (m.exact != ROUTE_TRIE_NONE) {
		n = route_trie_ids(t, m.exact, true, &ids);
		at += (size_t)snprintf(out + at, sizeof(out) - at, "=");
		for (i = 0; i < n; i++)
			at += (size_t)snprintf(out + at, sizeof(out) - at, " %u", ids[i]);
		at += (size_t)snprintf(out + at, sizeof(out) - at, " |");
	}
	for (node = m.prefix; node != ROUTE_TRIE_NONE; node = route_trie_shorter(t, node)) {
		n = route_trie_ids(t, node, false, &ids);
		for (i = 0; i < n; i++)
			at += (size_t)snprintf(out + at, sizeof(out) - at, "%s%u", at ? " " : "",
					       ids[i]);
	}
	return out;
}

static void basics(void)
{
	struct route_trie_key keys[] = {
		key("/", 0, false),
		key("/api/", 1, false),
		key("/api", 2, true),
		key("/api/v1/", 3, false),
		key("/api/", 4, false),		/* the same prefix again */
		key("/apix", 5, false),
		key("/b", 6, true),
		key("/api/v1/users", 7, true),
		key("/api/v1/users", 8, false),
	};
	struct route_trie *t = route_trie_build(keys, ARRAY_LEN(keys));

	ok(t != NULL, "built");
	is_str(found(t, "/"), "0", "the root prefix");
	is_str(found(t, "/x"), "0", "a path below only the root");
	is_str(found(t, "/api"), "= 2 | 0", "an exact key, and the prefixes above it");
	is_str(found(t, "/api/"), "1 4 0", "a prefix given twice: both, in the order given");
	is_str(found(t, "/api/v1/x"), "3 1 4 0", "the longest prefix first, then shorter ones");
	is_str(found(t, "/api/v"), "1 4 0", "a path that stops inside an edge");
	is_str(found(t, "/apix/y"), "5 0", "a sibling prefix");
	is_str(found(t, "/b"), "= 6 | 0", "an exact key with no prefix of its own");
	is_str(found(t, "/bb"), "0", "an exact key does not match a longer path");
	is_str(found(t, "/api/v1/users"), "= 7 | 8 3 1 4 0",
	       "an exact and a prefix key on the same path");
	is_str(found(t, ""), "", "the empty path matches nothing");
	ok(route_trie_nodes(t) <= 2 * ARRAY_LEN(keys) + 1, "fewer than two nodes a key");
	route_trie_free(t);

	t = route_trie_build(NULL, 0);
	ok(t != NULL, "an empty trie");
	is_str(found(t, "/x"), "", "... matches nothing");
	route_trie_free(t);
}

static uint64_t rng = 88172645463325252ULL;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

/* A path of a few segments over a small alphabet, so that keys share
 * prefixes and paths hit them. */
static void random_path(char *out, size_t cap)
{
	static const char alphabet[] = "ab/";
	size_t len = 1 + rnd(8), i;

	out[0] = '/';
	for (i = 1; i < len && i < cap - 1; i++)
		out[i] = alphabet[rnd(3)];
	out[i] = '\0';
}

/* What a scan finds, written as found() writes it. */
static const char *scanned(const struct route_trie_key *keys, unsigned n, const char *path)
{
	static char out[8192];
	size_t at = 0, plen = strlen(path), len;
	unsigned i;
	bool any_exact = false;

	out[0] = '\0';
	for (i = 0; i < n; i++)
		if (keys[i].exact && keys[i].len == plen && memcmp(keys[i].key, path, plen) == 0) {
			at += (size_t)snprintf(out + at, sizeof(out) - at, "%s %u",
					       any_exact ? "" : "=", keys[i].id);
			any_exact = true;
		}
	if (any_exact)
		at += (size_t)snprintf(out + at, sizeof(out) - at, " |");
	for (len = plen + 1; len-- > 0;)
		for (i = 0; i < n; i++)
			if (!keys[i].exact && keys[i].len == len &&
			    memcmp(keys[i].key, path, len) == 0)
				at += (size_t)snprintf(out + at, sizeof(out) - at, "%s%u",
						       at ? " " : "", keys[i].id);
	return out;
}

static void against_a_scan(void)
{
	enum { NKEYS = 300, NPATHS = 3000 };
	static char texts[NKEYS][16];
	struct route_trie_key keys[NKEYS];
	struct route_trie *t;
	char path[16], want[8192];
	unsigned i, bad = 0;

	for (i = 0; i < NKEYS; i++) {
		random_path(texts[i], sizeof(texts[i]));
		keys[i] = key(texts[i], i, rnd(4) == 0);
	}
	t = route_trie_build(keys, NKEYS);
	ok(t != NULL, "%u random keys: built", NKEYS);
	for (i = 0; i < NPATHS; i++) {
		random_path(path, sizeof(path));
		snprintf(want, sizeof(want), "%s", scanned(keys, NKEYS, path));
		if (strcmp(found(t, path), want) != 0 && bad++ < 3)
			printf("# %s: trie \"%s\", scan \"%s\"\n", path, found(t, path), want);
	}
	is_int(bad, 0, "%u random paths: the trie finds what a scan finds, in its order",
	       NPATHS);
	route_trie_free(t);
}

int main(void)
{
	basics();
	against_a_scan();
	return done_testing();
}
