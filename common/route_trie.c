/*
 * route_trie.c: a path-compressed trie of route paths, in flat arrays.
 *
 * A node is a string: the root the empty one, every other its parent's
 * followed by the label of the edge to it. Nodes exist where a key ends
 * or where keys part ways, so there are fewer than two per key. A node's
 * edges are contiguous and sorted by their label's first byte (no two
 * share it): a step down is a binary search on one byte and a compare of
 * the label, which reads nothing but the node's edges (rt_edge).
 *
 * The trie is built once from every key (route_trie_build), sorted, by a
 * recursion over ranges of keys that share a prefix; nothing is inserted
 * afterwards, so nothing is ever split or moved, and the arrays are cut
 * to the size they took.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "route_trie.h"

/* An edge tells what a walk needs of the node it leads to (its edges,
 * whether it holds ids), and holds a short label itself: a step down
 * reads the edges of one node and nothing else. */
#define RT_INLINE 8
#define RT_PREFIX 0x01			/* the child holds prefix ids */
#define RT_EXACT 0x02			/* ... exact ids */

struct rt_edge {
	uint32_t child;
	uint32_t child_edges;		/* the child's edges in edges[] */
	uint32_t len;			/* of the label */
	uint16_t child_nedges;		/* at most one per byte value */
	uint8_t child_ids;		/* RT_PREFIX, RT_EXACT */
	unsigned char first;		/* the label's first byte */
	union {
		char bytes[RT_INLINE];	/* len <= RT_INLINE */
		uint32_t off;		/* longer: in labels[] */
	} label;
};

struct rt_node {
	uint32_t edges, nedges;		/* the node's edges in edges[] */
	uint32_t ids;			/* its prefix ids, then exact ones, in ids[] */
	uint32_t nprefix, nexact;
	uint32_t up;			/* nearest ancestor with prefix ids */
};

struct route_trie {
	struct rt_node *nodes;
	struct rt_edge *edges;
	uint32_t *ids;
	char *labels;			/* every edge's label, in the order the
					 * nodes were made: a walk down reads
					 * them close together */
	uint32_t nnodes, nedges, nids;
	size_t nlabels;
};

/* ---- building ---- */

struct builder {
	struct route_trie *t;
	const struct route_trie_key *keys;
	unsigned *order;		/* indices of keys, sorted */
	bool failed;
};

/* qsort has no argument for the keys: they are here while sorting. */
static const struct route_trie_key *sorting;

static int key_cmp(const void *a, const void *b)
{
	const struct route_trie_key *x = &sorting[*(const unsigned *)a];
	const struct route_trie_key *y = &sorting[*(const unsigned *)b];
	int c = memcmp(x->key, y->key, x->len < y->len ? x->len : y->len);

	if (c != 0)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	/* The same key: in the order given (file order). */
	return *(const unsigned *)a < *(const unsigned *)b ? -1 : 1;
}

static size_t common_prefix(const struct route_trie_key *a, const struct route_trie_key *b)
{
	size_t n = a->len < b->len ? a->len : b->len, i;

	for (i = 0; i < n && a->key[i] == b->key[i]; i++)
		;
	return i;
}

static uint32_t new_node(struct builder *b, uint32_t up)
{
	struct route_trie *t = b->t;

	t->nodes[t->nnodes] = (struct rt_node){ .up = up };
	return t->nnodes++;
}

/* The ids of keys order[lo..hi), which end at node: prefix ones first. */
static void add_ids(struct builder *b, uint32_t node, unsigned lo, unsigned hi)
{
	struct route_trie *t = b->t;
	struct rt_node *n = &t->nodes[node];
	unsigned i, pass;

	n->ids = t->nids;
	for (pass = 0; pass < 2; pass++)
		for (i = lo; i < hi; i++) {
			const struct route_trie_key *k = &b->keys[b->order[i]];

			if (k->exact != (pass == 1))
				continue;
			t->ids[t->nids++] = k->id;
			if (k->exact)
				n->nexact++;
			else
				n->nprefix++;
		}
}

static void set_label(struct route_trie *t, struct rt_edge *e, const char *label, size_t len)
{
	e->len = (uint32_t)len;
	e->first = (unsigned char)label[0];
	if (len <= RT_INLINE) {
		memcpy(e->label.bytes, label, len);
		return;
	}
	e->label.off = (uint32_t)t->nlabels;
	memcpy(t->labels + t->nlabels, label, len);
	t->nlabels += len;
}

/* The node of keys order[lo..hi), which share their first depth bytes;
 * up is the nearest node above with prefix ids. */
static uint32_t build(struct builder *b, unsigned lo, unsigned hi, size_t depth, uint32_t up)
{
	struct route_trie *t = b->t;
	uint32_t node = new_node(b, up), first_edge, e, child;
	unsigned end = lo, a, z, groups = 0;

	while (end < hi && b->keys[b->order[end]].len == depth)
		end++;
	add_ids(b, node, lo, end);
	if (t->nodes[node].nprefix > 0)
		up = node;
	for (a = end; a < hi; a = z, groups++)
		for (z = a + 1; z < hi && b->keys[b->order[z]].key[depth] ==
		     b->keys[b->order[a]].key[depth]; z++)
			;
	first_edge = t->nedges;
	t->nedges += groups;
	t->nodes[node].edges = first_edge;
	t->nodes[node].nedges = groups;
	for (a = end, e = first_edge; a < hi; a = z, e++) {
		const struct route_trie_key *k = &b->keys[b->order[a]];
		size_t len;

		for (z = a + 1; z < hi && b->keys[b->order[z]].key[depth] == k->key[depth]; z++)
			;
		/* Sorted: what the first and last of the group share, all do. */
		len = common_prefix(k, &b->keys[b->order[z - 1]]);
		set_label(t, &t->edges[e], k->key + depth, len - depth);
		child = build(b, a, z, len, up);
		t->edges[e].child = child;
		t->edges[e].child_edges = t->nodes[child].edges;
		t->edges[e].child_nedges = (uint16_t)t->nodes[child].nedges;
		t->edges[e].child_ids = (uint8_t)((t->nodes[child].nprefix ? RT_PREFIX : 0) |
						  (t->nodes[child].nexact ? RT_EXACT : 0));
	}
	return node;
}

/* The arrays cut to what the build took (a smaller block cannot fail to
 * be had, but keep the larger one if it is). */
static void shrink(struct route_trie *t)
{
	void *p;

	if ((p = realloc(t->nodes, t->nnodes * sizeof(*t->nodes))) != NULL)
		t->nodes = p;
	if (t->nedges > 0 && (p = realloc(t->edges, t->nedges * sizeof(*t->edges))) != NULL)
		t->edges = p;
	if (t->nlabels > 0 && (p = realloc(t->labels, t->nlabels)) != NULL)
		t->labels = p;
}

struct route_trie *route_trie_build(const struct route_trie_key *keys, unsigned n)
{
	struct route_trie *t = calloc(1, sizeof(*t));
	struct builder b = { .t = t, .keys = keys };
	size_t chars = 1;
	unsigned i;

	if (t == NULL)
		return NULL;
	/* Fewer than two nodes a key (each key's end, and a branch where it
	 * parts from the keys before it), and one edge each but the root. */
	t->nodes = calloc(2 * (size_t)n + 1, sizeof(*t->nodes));
	t->edges = calloc(2 * (size_t)n + 1, sizeof(*t->edges));
	t->ids = calloc((size_t)n + 1, sizeof(*t->ids));
	b.order = calloc((size_t)n + 1, sizeof(*b.order));
	/* Labels are parts of keys, none twice: no more than the keys. */
	for (i = 0; i < n; i++)
		chars += keys[i].len;
	t->labels = malloc(chars);
	if (t->nodes == NULL || t->edges == NULL || t->ids == NULL || b.order == NULL ||
	    t->labels == NULL || chars > UINT32_MAX) {
		free(b.order);
		route_trie_free(t);
		return NULL;
	}
	for (i = 0; i < n; i++)
		b.order[i] = i;
	sorting = keys;
	qsort(b.order, n, sizeof(*b.order), key_cmp);
	sorting = NULL;
	build(&b, 0, n, 0, ROUTE_TRIE_NONE);
	free(b.order);
	shrink(t);
	return t;
}

void route_trie_free(struct route_trie *t)
{
	if (t == NULL)
		return;
	free(t->nodes);
	free(t->edges);
	free(t->ids);
	free(t->labels);
	free(t);
}

/* ---- lookups ---- */

/* Of the n edges from first, the one whose label starts with c, or NULL. */
static const struct rt_edge *edge_for(const struct route_trie *t, uint32_t first, uint32_t n,
				      unsigned char c)
{
	uint32_t lo = first, hi = first + n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		unsigned char m = t->edges[mid].first;

		if (m == c)
			return &t->edges[mid];
		if (m < c)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static const char *label_of(const struct route_trie *t, const struct rt_edge *e)
{
	return e->len <= RT_INLINE ? e->label.bytes : t->labels + e->label.off;
}

struct route_trie_match route_trie_lookup(const struct route_trie *t, const char *path,
					  size_t len)
{
	struct route_trie_match m = { ROUTE_TRIE_NONE, ROUTE_TRIE_NONE };
	const struct rt_node *root = &t->nodes[0];
	uint32_t node = 0, edges = root->edges, nedges = root->nedges;
	unsigned ids = (root->nprefix ? RT_PREFIX : 0) | (root->nexact ? RT_EXACT : 0);
	size_t depth = 0;

	for (;;) {
		const struct rt_edge *e;

		if (ids & RT_PREFIX)
			m.prefix = node;
		if (depth == len) {
			if (ids & RT_EXACT)
				m.exact = node;
			return m;
		}
		e = edge_for(t, edges, nedges, (unsigned char)path[depth]);
		if (e == NULL || e->len > len - depth ||
		    memcmp(label_of(t, e), path + depth, e->len) != 0)
			return m;
		depth += e->len;
		node = e->child;
		edges = e->child_edges;
		nedges = e->child_nedges;
		ids = e->child_ids;
	}
}

uint32_t route_trie_shorter(const struct route_trie *t, uint32_t node)
{
	return t->nodes[node].up;
}

unsigned route_trie_ids(const struct route_trie *t, uint32_t node, bool exact,
			const uint32_t **ids)
{
	const struct rt_node *n = &t->nodes[node];

	*ids = t->ids + n->ids + (exact ? n->nprefix : 0);
	return exact ? n->nexact : n->nprefix;
}

size_t route_trie_nodes(const struct route_trie *t)
{
	return t->nnodes;
}

size_t route_trie_bytes(const struct route_trie *t)
{
	return sizeof(*t) + t->nnodes * sizeof(*t->nodes) + t->nedges * sizeof(*t->edges) +
	       t->nids * sizeof(*t->ids) + t->nlabels;
}
