/*
 * test_prefix_tree.c: the longest-prefix-match tree: IPv4 and IPv6,
 * prefixes inside prefixes, ::/0 and 0.0.0.0/0, whole addresses (/32,
 * /128), a prefix added twice, and many random prefixes and addresses
 * checked against a scan of the same list.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "cidr.h"
#include "prefix_tree.h"

static struct cidr prefix(const char *text)
{
	struct cidr c;
	char err[128];

	if (cidr_parse(text, &c, err, sizeof(err)) < 0) {
		printf("# %s: %s\n", text, err);
		exit(99);
	}
	return c;
}

/* The value the tree finds for address text, or -1 for none. */
static long find(const struct prefix_tree *t, const char *text)
{
	struct cidr a = prefix(text);
	uint32_t v = 12345;

	if (!prefix_tree_lookup(t, a.addr, &v))
		return -1;
	return v;
}

static void add(struct prefix_tree *t, const char *text, uint32_t value)
{
	struct cidr c = prefix(text);

	if (prefix_tree_add(t, &c, value) < 0) {
		printf("# out of memory\n");
		exit(99);
	}
}

static void test_empty(void)
{
	struct prefix_tree *t = prefix_tree_new();

	is_int(find(t, "10.0.0.1"), -1, "empty: no match for an IPv4 address");
	is_int(find(t, "::"), -1, "empty: no match for ::");
	is_int(prefix_tree_count(t), 0, "empty: no prefix");
	is_int(prefix_tree_seal(t), 0, "empty: sealed");
	is_int(find(t, "10.0.0.1"), -1, "empty, sealed: no match");
	add(t, "10.0.0.0/8", 1);
	add(t, "10.1.0.0/16", 2);
	add(t, "10.2.0.0/16", 3);
	is_int(find(t, "10.2.3.4") * 10 + find(t, "10.1.3.4"), 32,
	       "sealed when empty, then three prefixes added: found");
	prefix_tree_free(t);
}

static void test_v4(void)
{
	struct prefix_tree *t = prefix_tree_new();

	add(t, "10.0.0.0/8", 1);
	add(t, "10.1.0.0/16", 2);
	add(t, "10.1.2.0/24", 3);
	add(t, "10.1.2.3/32", 4);
	add(t, "192.0.2.128/25", 5);
	is_int(find(t, "10.200.0.1"), 1, "v4: only the /8 holds it");
	is_int(find(t, "10.1.9.9"), 2, "v4: the /16 is longer than the /8");
	is_int(find(t, "10.1.2.4"), 3, "v4: the /24 inside the /16");
	is_int(find(t, "10.1.2.3"), 4, "v4: a /32 is the address itself");
	is_int(find(t, "11.0.0.0"), -1, "v4: next to the /8, none");
	is_int(find(t, "9.255.255.255"), -1, "v4: just below the /8, none");
	is_int(find(t, "192.0.2.127"), -1, "v4: below the /25, none");
	is_int(find(t, "192.0.2.255"), 5, "v4: the /25's last address");
	is_int(find(t, "::a01:203"), -1, "v4: ::10.1.2.3 (not mapped) is another address");
	is_int(find(t, "::ffff:10.1.2.3"), 4, "v4: ::ffff:10.1.2.3 is 10.1.2.3");
	add(t, "0.0.0.0/0", 9);
	is_int(find(t, "11.0.0.0"), 9, "v4: 0.0.0.0/0 holds every IPv4 address");
	is_int(find(t, "10.1.2.3"), 4, "v4: ... and the longer prefixes still win");
	is_int(find(t, "2001:db8::1"), -1, "v4: 0.0.0.0/0 holds no IPv6 address");
	is_int(prefix_tree_count(t), 6, "v4: six prefixes");
	prefix_tree_free(t);
}

static void test_v6(void)
{
	struct prefix_tree *t = prefix_tree_new();

	add(t, "2001:db8::/32", 1);
	add(t, "2001:db8:1::/48", 2);
	add(t, "2001:db8:1::1/128", 3);
	add(t, "2001:db8:1:0:8000::/65", 4);
	is_int(find(t, "2001:db8:ffff::1"), 1, "v6: the /32");
	is_int(find(t, "2001:db8:1::2"), 2, "v6: the /48 inside the /32");
	is_int(find(t, "2001:db8:1::1"), 3, "v6: the /128");
	is_int(find(t, "2001:db8:1:0:8000::5"), 4, "v6: a /65 (past the first 64 bits)");
	is_int(find(t, "2001:db8:1:0:7fff::5"), 2, "v6: beside the /65, the /48");
	is_int(find(t, "2001:db9::"), -1, "v6: next to the /32, none");
	is_int(find(t, "10.0.0.1"), -1, "v6: an IPv4 address, none");
	add(t, "::/0", 7);
	is_int(find(t, "2001:db9::"), 7, "v6: ::/0 holds every address");
	is_int(find(t, "10.0.0.1"), 7, "v6: ... IPv4 ones too");
	is_int(find(t, "2001:db8:1::1"), 3, "v6: ... and the /128 still wins");
	prefix_tree_free(t);
}

static void test_order_and_duplicates(void)
{
	struct prefix_tree *t = prefix_tree_new();

	/* Longest first, so that shorter ones go in above existing nodes. */
	add(t, "10.1.2.3/32", 4);
	add(t, "10.1.2.0/24", 3);
	add(t, "10.1.0.0/16", 2);
	add(t, "10.0.0.0/8", 1);
	add(t, "10.1.2.2/32", 5);
	is_int(find(t, "10.1.2.3"), 4, "reversed: the /32");
	is_int(find(t, "10.1.2.2"), 5, "reversed: the /32 beside it");
	is_int(find(t, "10.1.2.9"), 3, "reversed: the /24");
	is_int(find(t, "10.1.3.9"), 2, "reversed: the /16");
	is_int(find(t, "10.2.3.9"), 1, "reversed: the /8");
	add(t, "10.1.0.0/16", 20);
	is_int(find(t, "10.1.3.9"), 20, "a prefix added again has its last value");
	is_int(prefix_tree_count(t), 5, "... and counts once");
	add(t, "10.1.2.3/32", 0);
	is_int(find(t, "10.1.2.3"), 0, "a value of 0 is a match");
	prefix_tree_free(t);
}

/* A tree large enough to be indexed: prefixes at the index's depth (the
 * first 16 bits of IPv6, of IPv4 after ::ffff:0:0/96), above and below. */
static void test_sealed(void)
{
	struct prefix_tree *t = prefix_tree_new();
	char text[64];
	unsigned i;

	for (i = 0; i < 5000; i++) {
		snprintf(text, sizeof(text), "172.%u.%u.0/24", 16 + i / 256, i % 256);
		add(t, text, 100);
	}
	add(t, "2001::/16", 1);
	add(t, "2001:8000::/17", 2);
	add(t, "::/0", 3);
	add(t, "10.0.0.0/16", 4);
	add(t, "10.0.128.0/17", 5);
	add(t, "10.0.0.0/8", 6);
	is_int(prefix_tree_seal(t), 0, "sealed: indexed");
	ok(prefix_tree_bytes(t) > 65536 * 2 * 8, "sealed: the index is there (%zu bytes)",
	   prefix_tree_bytes(t));
	is_int(find(t, "2001:7fff::1"), 1, "sealed: a /16 of IPv6");
	is_int(find(t, "2001:8000::1"), 2, "sealed: a /17 inside it");
	is_int(find(t, "2002::1"), 3, "sealed: beside them, ::/0");
	is_int(find(t, "10.0.1.1"), 4, "sealed: a /16 of IPv4");
	is_int(find(t, "10.0.200.1"), 5, "sealed: a /17 inside it");
	is_int(find(t, "10.1.0.1"), 6, "sealed: beside them, the /8");
	is_int(find(t, "172.19.5.9"), 100, "sealed: one of the /24s");
	is_int(find(t, "172.16.0.0"), 100, "sealed: the first /24's first address");
	is_int(find(t, "11.0.0.0"), 3, "sealed: an IPv4 address in none but ::/0");
	prefix_tree_free(t);
}

/* ---- random prefixes against a scan ---- */

struct entry {
	struct cidr c;
	uint32_t value;
};

static uint64_t rng = 88172645463325252ULL;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

/* A random address near others: few first bytes, so prefixes overlap. */
static void random_addr(uint8_t a[16])
{
	unsigned i;

	for (i = 0; i < 16; i++)
		a[i] = (uint8_t)rnd();
	if (rnd() % 2) {		/* IPv4 */
		memset(a, 0, 10);
		a[10] = a[11] = 0xff;
		a[12] = (uint8_t)(10 + rnd() % 4);
		a[13] = (uint8_t)(rnd() % 8);
	} else {
		a[0] = 0x20;
		a[1] = (uint8_t)(rnd() % 4);
		a[2] = (uint8_t)(rnd() % 4);
	}
}

static void random_prefix(struct cidr *c)
{
	unsigned i;

	random_addr(c->addr);
	/* Long enough that some addresses are in none (the fixed tests
	 * have the short ones). */
	if (c->addr[10] == 0xff)
		c->bits = 96 + 16 + rnd() % 17;
	else
		c->bits = 32 + rnd() % 97;
	for (i = c->bits; i < 128; i++)
		c->addr[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
}

/* The longest prefix of list holding a; among equal ones, the last. */
static long scan(const struct entry *list, unsigned n, const uint8_t a[16])
{
	long best = -1;
	unsigned i, best_bits = 0;

	for (i = 0; i < n; i++)
		if (cidr_contains(&list[i].c, a) && (best < 0 || list[i].c.bits >= best_bits)) {
			best = list[i].value;
			best_bits = list[i].c.bits;
		}
	return best;
}

/* Lookups of nlookups addresses, half of them inside a prefix of list:
 * how many differ from a scan; the matches in *hits. */
static unsigned cross_check(const struct prefix_tree *t, const struct entry *list, unsigned n,
			    unsigned nlookups, unsigned *hits)
{
	unsigned i, b, wrong = 0;

	*hits = 0;
	for (i = 0; i < nlookups; i++) {
		const struct cidr *c = &list[rnd() % n].c;
		uint8_t a[16];
		uint32_t v = 0;
		long want;
		bool got;

		random_addr(a);
		for (b = 0; i % 2 && b < c->bits; b++)
			a[b / 8] = (uint8_t)((a[b / 8] & ~(0x80 >> (b % 8))) |
					     (c->addr[b / 8] & (0x80 >> (b % 8))));
		want = scan(list, n, a);
		got = prefix_tree_lookup(t, a, &v);
		*hits += got;
		if (got != (want >= 0) || (got && v != (uint32_t)want))
			wrong++;
	}
	return wrong;
}

static void test_random(unsigned nprefixes, unsigned nlookups)
{
	struct entry *list = calloc(nprefixes + 1, sizeof(*list));
	struct prefix_tree *t = prefix_tree_new();
	unsigned i, hits;

	for (i = 0; i < nprefixes; i++) {
		random_prefix(&list[i].c);
		list[i].value = rnd();
		if (prefix_tree_add(t, &list[i].c, list[i].value) < 0)
			exit(99);
	}
	is_int(cross_check(t, list, nprefixes, nlookups, &hits), 0, "%u random prefixes, %u "
	       "addresses: as a scan finds", nprefixes, nlookups);
	ok(hits > nlookups / 4 && hits < nlookups, "... matched some, not all (%u)", hits);
	is_int(prefix_tree_seal(t), 0, "... sealed");
	is_int(cross_check(t, list, nprefixes, nlookups, &hits), 0, "... sealed: as a scan finds");
	random_prefix(&list[nprefixes].c);
	list[nprefixes].value = rnd();
	prefix_tree_add(t, &list[nprefixes].c, list[nprefixes].value);
	is_int(cross_check(t, list, nprefixes + 1, nlookups, &hits), 0,
	       "... one more added after sealing: as a scan finds");
	prefix_tree_free(t);
	free(list);
}

/* A prefix anywhere: IPv4 /8 to /32, IPv6 /16 to /64 in 2000::/4. */
static void wide_prefix(struct cidr *c)
{
	unsigned i;

	for (i = 0; i < 16; i++)
		c->addr[i] = (uint8_t)rnd();
	if (rnd() % 4 != 0) {
		memset(c->addr, 0, 10);
		c->addr[10] = c->addr[11] = 0xff;
		c->bits = 96 + 8 + rnd() % 25;
	} else {
		c->addr[0] = (uint8_t)(0x20 | (c->addr[0] & 0x0f));
		c->bits = 16 + rnd() % 49;
	}
	for (i = c->bits; i < 128; i++)
		c->addr[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
}

/* An address inside p, or anywhere wide_prefix makes them. */
static void wide_addr(uint8_t a[16], const struct cidr *p)
{
	unsigned i;

	for (i = 0; i < 16; i++)
		a[i] = (uint8_t)rnd();
	if (rnd() % 4 != 0) {
		memset(a, 0, 10);
		a[10] = a[11] = 0xff;
	} else {
		a[0] = (uint8_t)(0x20 | (a[0] & 0x0f));
	}
	for (i = 0; p != NULL && i < p->bits; i++)
		a[i / 8] = (uint8_t)((a[i / 8] & ~(0x80 >> (i % 8))) | (p->addr[i / 8] & (0x80 >> (i % 8))));
}

/* A copy of unsealed t placed in memory of its own (as geo tables are,
 * in a shared mapping), laid out and indexed there, finds for addrs what
 * t found (before). */
static void test_placed(struct prefix_tree *t, uint8_t (*addrs)[16], const int64_t *before,
			unsigned nlookups)
{
	size_t size = prefix_tree_placed_size(t);
	const struct prefix_tree *copy;
	void *mem = malloc(size);
	unsigned i, differ = 0;
	uint32_t v;

	copy = prefix_tree_place(t, mem);
	for (i = 0; i < nlookups; i++)
		differ += (prefix_tree_lookup(copy, addrs[i], &v) ? (int64_t)v : -1) != before[i];
	is_int(differ, 0, "... a copy placed in a block of its own (%zu bytes) finds the same",
	       size);
	is_int(prefix_tree_count(copy), prefix_tree_count(t), "... and counts the same");
	free(mem);
}

/* Trees large enough for the deeper indexes (18 and 20 bits): a sealed
 * tree finds what it found before it was sealed, when every lookup was
 * a walk from the root (as the scans above check). Half the addresses
 * are inside a listed prefix. */
static void test_large(unsigned nprefixes, unsigned nlookups)
{
	struct prefix_tree *t = prefix_tree_new();
	struct cidr *list = malloc((size_t)nprefixes * sizeof(*list));
	uint8_t (*addrs)[16] = malloc((size_t)nlookups * 16);
	int64_t *before = malloc((size_t)nlookups * sizeof(*before));
	unsigned i, differ = 0, hits = 0;
	uint32_t v;
	int sealed;

	for (i = 0; i < nprefixes; i++) {
		wide_prefix(&list[i]);
		if (prefix_tree_add(t, &list[i], i) < 0)
			exit(99);
	}
	for (i = 0; i < nlookups; i++) {
		wide_addr(addrs[i], i % 2 ? &list[rnd() % nprefixes] : NULL);
		before[i] = prefix_tree_lookup(t, addrs[i], &v) ? (int64_t)v : -1;
	}
	test_placed(t, addrs, before, nlookups);
	sealed = prefix_tree_seal(t);
	is_int(sealed, 0, "%u random prefixes: sealed (%zu bytes)", nprefixes,
	       prefix_tree_bytes(t));
	for (i = 0; i < nlookups; i++) {
		int64_t now = prefix_tree_lookup(t, addrs[i], &v) ? (int64_t)v : -1;

		differ += now != before[i];
		hits += now >= 0;
	}
	is_int(differ, 0, "... finds for %u addresses what it found unsealed (%u matched)",
	       nlookups, hits);
	ok(hits > nlookups / 8 && hits < nlookups, "... matched some, not all");
	prefix_tree_free(t);
	free(before);
	free(addrs);
	free(list);
}

int main(void)
{
	test_empty();
	test_v4();
	test_v6();
	test_order_and_duplicates();
	test_sealed();
	test_random(10, 20000);
	test_random(300, 20000);
	test_random(5000, 20000);
	test_random(50000, 2000);
	test_large(300000, 100000);
	test_large(900000, 100000);
	return done_testing();
}
