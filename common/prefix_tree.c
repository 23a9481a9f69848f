/*
 * prefix_tree.c: a path-compressed binary trie of address prefixes.
 *
 * A node is a prefix: one added (has_value), or one where two added
 * prefixes part ways (a branch). Its children go on by the bit after its
 * prefix, and each child's prefix is longer and starts with its parent's;
 * the bits in between are skipped, not walked, so the depth is bounded by
 * the prefixes that branch, not by 128. A lookup therefore checks at each
 * node that the address still starts with the node's prefix.
 *
 * Nodes live in one array and name their children by index, so the tree
 * grows by realloc and is one allocation, shared by the workers through
 * fork. Node 0 is the root, the empty prefix (::/0): index 0 is never a
 * child, and means "none".
 *
 * A large tree also gets an index once built (prefix_tree_seal): where
 * the walk stands after the first 16 to 20 bits of an IPv6 address, or
 * of an IPv4 one (after ::ffff:0:0/96), and the value found on the way.
 * The nodes above that depth are as many as the walk's first steps, and
 * each step is a likely cache miss in a tree of a million prefixes: the
 * index makes them one. The larger the tree, the deeper the index
 * reaches, so that it stays a fraction of the nodes' size.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "prefix_tree.h"

struct pt_node {
	uint64_t key[2];		/* the prefix, most significant bit
					 * first; bits past it are zero */
	uint32_t child[2];		/* by the bit after the prefix; 0: none */
	uint32_t value;
	uint8_t bits;			/* 0..128 */
	bool has_value;			/* added, not only a branch */
};

/* Where the walk of every address of a block (the addresses that share
 * their first index_bits) goes on. */
struct pt_slot {
	uint32_t node;			/* the first node as long as the block
					 * or longer; 0: the walk ended; and
					 * PT_FOUND */
	uint32_t value;			/* of the longest prefix above it */
};

#define PT_FOUND 0x80000000u		/* a prefix above it holds the block */
#define PT_INDEX_MIN 4096		/* nodes: smaller trees are walked */

struct prefix_tree {
	struct pt_node *nodes;
	uint32_t n, cap;
	size_t count;			/* prefixes added, duplicates once */
	struct pt_slot *index;		/* IPv6 blocks, then IPv4; or NULL */
	unsigned index_bits;		/* 16..20 */
};

/* ---- 128-bit keys as two words ---- */

/* The first bits of a word set: the mask of a prefix of that length. */
static inline uint64_t word_mask(unsigned bits)
{
	return bits == 0 ? 0 : ~0ULL << (64 - bits);
}

static inline unsigned bit_at(const uint64_t k[2], unsigned i)
{
	return i < 64 ? (unsigned)(k[0] >> (63 - i)) & 1 : (unsigned)(k[1] >> (127 - i)) & 1;
}

/* Whether key starts with node's prefix. */
static inline bool starts_with(const uint64_t k[2], const struct pt_node *node)
{
	if (node->bits <= 64)
		return ((k[0] ^ node->key[0]) & word_mask(node->bits)) == 0;
	return k[0] == node->key[0] && ((k[1] ^ node->key[1]) & word_mask(node->bits - 64u)) == 0;
}

/* How many first bits a and b share, at most limit. */
static unsigned common_bits(const uint64_t a[2], const uint64_t b[2], unsigned limit)
{
	uint64_t x0 = a[0] ^ b[0], x1 = a[1] ^ b[1];
	unsigned c;

	if (x0 != 0)
		c = (unsigned)__builtin_clzll(x0);
	else
		c = x1 != 0 ? 64 + (unsigned)__builtin_clzll(x1) : 128;
	return MIN(c, limit);
}

/* k cut to its first bits. */
static void cut(uint64_t k[2], unsigned bits)
{
	k[0] &= word_mask(MIN(bits, 64u));
	k[1] &= word_mask(bits > 64 ? bits - 64 : 0);
}

/* ---- building ---- */

struct prefix_tree *prefix_tree_new(void)
{
	struct prefix_tree *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->cap = 64;
	if ((t->nodes = calloc(t->cap, sizeof(*t->nodes))) == NULL) {
		free(t);
		return NULL;
	}
	t->n = 1;			/* the root, ::/0, calloc's zeros */
	return t;
}

/* Room for more nodes, so that an addition cannot fail halfway; a
 * sealed tree has none spare. */
static int reserve(struct prefix_tree *t, uint32_t more)
{
	struct pt_node *nodes;
	uint32_t cap;

	if (t->n + more <= t->cap)
		return 0;
	for (cap = t->cap; cap < t->n + more; cap *= 2)
		if (cap >= PT_FOUND / 2)	/* indexes keep their top bit */
			return -1;
	if ((nodes = realloc(t->nodes, (size_t)cap * sizeof(*nodes))) == NULL)
		return -1;
	t->nodes = nodes;
	t->cap = cap;
	return 0;
}

static uint32_t new_node(struct prefix_tree *t, const uint64_t k[2], unsigned bits)
{
	struct pt_node *node = &t->nodes[t->n];

	memset(node, 0, sizeof(*node));
	node->key[0] = k[0];
	node->key[1] = k[1];
	cut(node->key, bits);
	node->bits = (uint8_t)bits;
	return t->n++;
}

static void set_value(struct prefix_tree *t, uint32_t i, uint32_t value)
{
	struct pt_node *node = &t->nodes[i];

	if (!node->has_value)
		t->count++;
	node->has_value = true;
	node->value = value;
}

int prefix_tree_add(struct prefix_tree *t, const struct cidr *p, uint32_t value)
{
	uint64_t k[2] = { load_be64(p->addr), load_be64(p->addr + 8) };
	unsigned bits = MIN(p->bits, 128u), b, common;
	uint32_t i = 0, c, m, leaf;

	if (reserve(t, 2) < 0)
		return -1;
	free(t->index);			/* it may no longer be true */
	t->index = NULL;
	cut(k, bits);
	/* Invariant: k starts with node i's prefix, which is no longer. */
	for (;;) {
		const struct pt_node *node = &t->nodes[i], *child;

		if (node->bits == bits) {
			set_value(t, i, value);
			return 0;
		}
		b = bit_at(k, node->bits);
		if ((c = node->child[b]) == 0) {
			leaf = new_node(t, k, bits);
			set_value(t, leaf, value);
			t->nodes[i].child[b] = leaf;
			return 0;
		}
		child = &t->nodes[c];
		common = common_bits(k, child->key, MIN(bits, (unsigned)child->bits));
		if (common == child->bits) {
			i = c;
			continue;
		}
		/* The child's prefix goes past where k and it part: a node
		 * for the part they share goes in between. When that is k
		 * itself, k is the node; else a branch holds both. */
		m = new_node(t, k, common);
		t->nodes[m].child[bit_at(t->nodes[c].key, common)] = c;
		if (common == bits) {
			set_value(t, m, value);
		} else {
			leaf = new_node(t, k, bits);
			set_value(t, leaf, value);
			t->nodes[m].child[bit_at(k, common)] = leaf;
		}
		t->nodes[i].child[b] = m;
		return 0;
	}
}

/* The slots of one family's index: a block is the addresses that share
 * their bits from..to-1 (and, for IPv4, ::ffff:0:0/96 before them). */
struct pt_fill {
	struct pt_slot *slots;
	unsigned from, to;
};

static void set_bit(uint64_t k[2], unsigned i)
{
	if (i < 64)
		k[0] |= 1ULL << (63 - i);
	else
		k[1] |= 1ULL << (127 - i);
}

/* Every block of the addresses that start with the first b bits of k
 * gets s. */
static void fill_blocks(const struct pt_fill *f, const uint64_t k[2], unsigned b,
			struct pt_slot s)
{
	uint32_t first = 0, n = (uint32_t)1 << (f->to - b), j;
	unsigned i;

	for (i = f->from; i < b; i++)
		first = first << 1 | bit_at(k, i);
	first <<= f->to - b;
	for (j = 0; j < n; j++)
		f->slots[first + j] = s;
}

/*
 * Fill the slots of the addresses that start with the first b bits of k
 * (the rest zero), whose walk stands before node i (ended: it has
 * ended), with s found above it: the walk goes on while its steps are
 * the same for all of them, and splits them in two where the next bit
 * decides. Each slot is written once, each node on the way visited once
 * per half it splits: linear in the slots and the nodes above them.
 */
static void fill_index(const struct prefix_tree *t, const struct pt_fill *f,
		       const uint64_t k[2], unsigned b, uint32_t i, bool ended, struct pt_slot s)
{
	const struct pt_node *node = &t->nodes[i];
	uint64_t half[2];
	unsigned bit;

	while (!ended && node->bits < f->to && node->bits < b) {
		if (!starts_with(k, node)) {
			ended = true;
			break;
		}
		if (node->has_value) {
			s.node = PT_FOUND;
			s.value = node->value;
		}
		i = node->child[bit_at(k, node->bits)];
		ended = i == 0;
		node = &t->nodes[i];
	}
	if (ended || node->bits >= f->to) {
		if (!ended)
			s.node |= i;
		fill_blocks(f, k, b, s);
		return;
	}
	/* node->bits >= b: bit b decides whether an address is under it
	 * (when longer), or which child it goes on to (when as long). */
	if (node->bits == b && !starts_with(k, node)) {
		fill_blocks(f, k, b, s);
		return;
	}
	if (node->bits == b && node->has_value) {
		s.node = PT_FOUND;
		s.value = node->value;
	}
	for (bit = 0; bit < 2; bit++) {
		half[0] = k[0];
		half[1] = k[1];
		if (bit)
			set_bit(half, b);
		if (node->bits > b)
			fill_index(t, f, half, b + 1, i, false, s);
		else
			fill_index(t, f, half, b + 1, node->child[bit], node->child[bit] == 0, s);
	}
}

/* Copy the subtree of node i of t into nodes from *next on, depth first:
 * a node's first child right after it, and each subtree in one run, so
 * that the last steps of a walk fall on near-by cache lines. The depth
 * is at most 129. Returns where node i went. */
static uint32_t lay_out(const struct prefix_tree *t, uint32_t i, struct pt_node *nodes,
			uint32_t *next)
{
	uint32_t at = (*next)++;
	unsigned b;

	nodes[at] = t->nodes[i];
	for (b = 0; b < 2; b++)
		if (t->nodes[i].child[b] != 0)
			nodes[at].child[b] = lay_out(t, t->nodes[i].child[b], nodes, next);
	return at;
}

/* How deep the index of a tree of n nodes reaches: 0 (no index) for
 * small trees, deeper for larger ones, the index staying at most half
 * the size of the nodes from 65,536 nodes on (two slots of 8 bytes a
 * block). */
static unsigned index_bits_for(uint32_t n)
{
	return n < PT_INDEX_MIN ? 0 : n < 1u << 18 ? 16 : n < 1u << 20 ? 18 : 20;
}

/* Fill t's index (index_bits deep) from its nodes. */
static void index_fill(const struct prefix_tree *t)
{
	const struct pt_slot none = { 0, 0 };
	unsigned bits = t->index_bits;
	struct pt_fill v6 = { t->index, 0, bits };
	struct pt_fill v4 = { t->index + ((size_t)1 << bits), 96, 96 + bits };

	fill_index(t, &v6, (const uint64_t[2]){ 0, 0 }, 0, 0, false, none);
	fill_index(t, &v4, (const uint64_t[2]){ 0, 0xffffULL << 32 }, 96, 0, false, none);
}

int prefix_tree_seal(struct prefix_tree *t)
{
	struct pt_node *nodes;
	uint32_t next = 0;
	unsigned bits;

	if (t->index != NULL)
		return 0;
	if ((nodes = malloc((size_t)t->n * sizeof(*nodes))) == NULL)
		return -1;
	lay_out(t, 0, nodes, &next);
	free(t->nodes);
	t->nodes = nodes;
	t->cap = t->n;
	if ((bits = index_bits_for(t->n)) == 0)
		return 0;
	if ((t->index = malloc(2 * ((size_t)1 << bits) * sizeof(*t->index))) == NULL)
		return -1;
	t->index_bits = bits;
	index_fill(t);
	return 0;
}

/* ---- reading ---- */

bool prefix_tree_lookup(const struct prefix_tree *t, const uint8_t addr[16], uint32_t *value)
{
	uint64_t k[2] = { load_be64(addr), load_be64(addr + 8) };
	const struct pt_node *node = &t->nodes[0];
	bool found = false;
	uint32_t v = 0, c;

	if (t->index != NULL) {
		unsigned bits = t->index_bits;
		const struct pt_slot *s = k[0] == 0 && k[1] >> 32 == 0xffff
			? &t->index[(1u << bits) + ((uint32_t)k[1] >> (32 - bits))]
			: &t->index[k[0] >> (64 - bits)];

		found = (s->node & PT_FOUND) != 0;
		v = s->value;
		if ((s->node & ~PT_FOUND) == 0)
			goto done;
		node = &t->nodes[s->node & ~PT_FOUND];
	}
	/* Down the path of addr while it starts with each node's prefix;
	 * the last node with a value on the way is the longest match. */
	while (starts_with(k, node)) {
		if (node->has_value) {
			found = true;
			v = node->value;
		}
		if (node->bits == 128 || (c = node->child[bit_at(k, node->bits)]) == 0)
			break;
		node = &t->nodes[c];
	}
done:
	if (found && value != NULL)
		*value = v;
	return found;
}

/* ---- placing a copy ---- */

static size_t index_size(const struct prefix_tree *t)
{
	return t->index != NULL ? 2 * ((size_t)1 << t->index_bits) * sizeof(*t->index) : 0;
}

static size_t index_size_for(uint32_t n)
{
	unsigned bits = index_bits_for(n);

	return bits ? 2 * ((size_t)1 << bits) * sizeof(struct pt_slot) : 0;
}

/* The header rounded up so that the nodes after it stay aligned. */
static size_t header_size(void)
{
	return (sizeof(struct prefix_tree) + 15) & ~(size_t)15;
}

size_t prefix_tree_placed_size(const struct prefix_tree *t)
{
	return header_size() + (size_t)t->n * sizeof(*t->nodes) + index_size_for(t->n);
}

/* Laid out and indexed as prefix_tree_seal() does, but straight into
 * mem: a large tree is not copied twice. */
const struct prefix_tree *prefix_tree_place(const struct prefix_tree *t, void *mem)
{
	struct prefix_tree *copy = mem;
	char *at = (char *)mem + header_size();
	uint32_t next = 0;

	*copy = *t;
	copy->nodes = (struct pt_node *)at;
	copy->cap = t->n;
	lay_out(t, 0, copy->nodes, &next);
	copy->index = NULL;
	copy->index_bits = index_bits_for(t->n);
	if (copy->index_bits != 0) {
		copy->index = (struct pt_slot *)(at + (size_t)t->n * sizeof(*t->nodes));
		index_fill(copy);
	}
	return copy;
}

size_t prefix_tree_count(const struct prefix_tree *t)
{
	return t->count;
}

size_t prefix_tree_bytes(const struct prefix_tree *t)
{
	return sizeof(*t) + (size_t)t->cap * sizeof(*t->nodes) + index_size(t);
}

void prefix_tree_free(struct prefix_tree *t)
{
	if (t == NULL)
		return;
	free(t->index);
	free(t->nodes);
	free(t);
}
