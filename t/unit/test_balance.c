/*
 * test_balance.c: the balancing algorithms (smooth round robin, backups,
 * least_conn, consistent hash and its keys, ip_hash, random2, ewma) and
 * the health entry they read (passive failures, slow_start, connection
 * counts, the decayed response time), on hand-built upstreams.
 */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "balance.h"
#include "health.h"
#include "upstream.h"

/* Any ms well after boot: zero fields (down_until, up_since) are the past. */
#define NOW		1000000ull
#define NKEYS		10000

/* An upstream with its configuration and shared entries in plain memory. */
struct fix {
	struct conf_upstream cu;
	struct conf_server srv[CONF_MAX_SERVERS];
	struct health_peer peer[CONF_MAX_SERVERS];
	struct upstream_server us[CONF_MAX_SERVERS];
	struct upstream up;
	char addr[CONF_MAX_SERVERS][32];
};

/* n servers "10.0.0.<i+1>:80" of weight 1, every one up; the caller
 * adjusts the configuration, then calls fix_init(). */
static struct conf_health_check checks;

static struct fix *fix_new(enum conf_balance balance, unsigned n)
{
	struct fix *f = calloc(1, sizeof(*f));
	unsigned i;

	if (f == NULL) {
		printf("Bail out! out of memory\n");
		exit(255);
	}
	f->cu.name = "test";
	f->cu.balance = balance;
	f->cu.servers = f->srv;
	f->cu.nservers = n;
	f->cu.ewma_decay = 10000;
	/* Checked, so that check_down counts: see health_checks_down(). */
	f->cu.health_check = &checks;
	for (i = 0; i < n; i++) {
		snprintf(f->addr[i], sizeof(f->addr[i]), "10.0.%u.%u:80", i / 200, i % 200 + 1);
		f->srv[i].address = f->addr[i];
		f->srv[i].weight = 1;
		f->srv[i].max_fails = 1;
		f->srv[i].fail_timeout = 10000;
		f->srv[i].id = i;
		f->us[i].peer = &f->peer[i];
	}
	f->up.conf = &f->cu;
	f->up.servers = f->us;
	return f;
}

static int fix_init(struct fix *f)
{
	return balance_init(&f->up);
}

static void fix_free(struct fix *f)
{
	free(f->up.ring);
	free(f);
}

/* ---- requests ---- */

static struct http_message req;

static struct slice sl(const char *s)
{
	return (struct slice){ s, strlen(s) };
}

static void req_reset(const char *target)
{
	const char *q = strchr(target, '?');

	memset(&req, 0, sizeof(req));
	req.method = SLICE_LIT("GET");
	req.method_id = HTTP_GET;
	req.version = 11;
	req.target = sl(target);
	req.path = req.uri = (struct slice){ target, q ? (size_t)(q - target) : strlen(target) };
	req.query = q ? sl(q + 1) : (struct slice){ target + strlen(target), 0 };
}

static void req_header(const char *name, const char *value)
{
	struct http_header *h = &req.headers[req.nheaders++];

	h->name = sl(name);
	h->value = sl(value);
	if (strcmp(name, "Host") == 0)
		req.host = h->value;
}

/* ---- picking ---- */

/* The first choice of a new request. */
static int pick1(struct fix *f, const char *client, uint64_t now)
{
	struct pick pk;

	balance_start(&pk, &f->cu, &(struct var_source){ .req = &req, .client_addr = client });
	return balance_pick(&f->up, &pk, now);
}

/* n new requests, counted per server in c[] (c[n] counts "none"). */
static void pick_n(struct fix *f, unsigned n, uint64_t now, unsigned *c)
{
	unsigned i;
	int s;

	memset(c, 0, sizeof(*c) * (f->cu.nservers + 1));
	for (i = 0; i < n; i++) {
		s = pick1(f, "192.0.2.1", now);
		c[s < 0 ? f->cu.nservers : (unsigned)s]++;
	}
}

/* Picks with one pick struct until none is left: each server exactly
 * once, then -1. Returns whether that held. */
static bool each_once(struct fix *f, const char *client, uint64_t now)
{
	bool seen[CONF_MAX_SERVERS] = { false };
	struct pick pk;
	unsigned i;
	int s;

	balance_start(&pk, &f->cu, &(struct var_source){ .req = &req, .client_addr = client });
	for (i = 0; i < f->cu.nservers; i++) {
		s = balance_pick(&f->up, &pk, now);
		if (s < 0 || seen[s])
			return false;
		seen[s] = true;
	}
	return balance_pick(&f->up, &pk, now) == -1 && pk.ntried == f->cu.nservers;
}

static bool within(unsigned got, unsigned lo, unsigned hi)
{
	return got >= lo && got <= hi;
}

/* ---- round robin ---- */

static void test_round_robin(void)
{
	struct fix *f = fix_new(BALANCE_ROUND_ROBIN, 3);
	char seq[15];
	unsigned c[4], i;
	struct pick pk;

	f->srv[0].weight = 5;
	is_int(fix_init(f), 0, "rr: balance_init");
	ok(f->up.ring == NULL, "rr: no ring");
	req_reset("/");
	balance_start(&pk, &f->cu, &(struct var_source){ .req = &req, .client_addr = "192.0.2.1" });
	is_int(pk.key, 0, "rr: no key");
	is_int(pk.ntried, 0, "rr: nothing tried yet");

	for (i = 0; i < 14; i++)
		seq[i] = (char)('a' + pick1(f, "192.0.2.1", NOW));
	seq[14] = '\0';
	is_str(seq, "aabacaaaabacaa", "rr: weights 5,1,1 give the smooth sequence, twice");
	for (i = 0; i < 3; i++)
		is_int(f->us[i].current_weight, 0, "rr: state back to 0 after a cycle (%u)", i);

	pick_n(f, 7000, NOW, c);
	is_int(c[0], 5000, "rr: 7000 picks: a 5000");
	is_int(c[1], 1000, "rr: 7000 picks: b 1000");
	is_int(c[2], 1000, "rr: 7000 picks: c 1000");
	is_int(c[3], 0, "rr: 7000 picks: never none");

	f->peer[1].check_down = 1;
	pick_n(f, 600, NOW, c);
	is_int(c[1], 0, "rr: check_down: never picked");
	is_int(c[0], 500, "rr: check_down: the others share by weight (a)");
	is_int(c[2], 100, "rr: check_down: the others share by weight (c)");
	f->peer[1].check_down = 0;

	f->peer[1].down_until = NOW + 1;
	pick_n(f, 600, NOW, c);
	is_int(c[1], 0, "rr: down_until in the future: never picked");
	is_int(c[0] + c[2], 600, "rr: down_until: the others take all");
	pick_n(f, 700, NOW + 1, c);
	is_int(c[1], 100, "rr: at down_until the server is back");
	f->peer[1].down_until = 0;

	f->srv[0].max_conns = 2;
	f->peer[0].conns = 2;
	pick_n(f, 200, NOW, c);
	is_int(c[0], 0, "rr: max_conns reached: never picked");
	is_int(c[1], 100, "rr: max_conns: b and c share");
	f->peer[0].conns = 3;
	pick_n(f, 10, NOW, c);
	is_int(c[0], 0, "rr: above max_conns: never picked");
	f->peer[0].conns = 1;
	pick_n(f, 700, NOW, c);
	is_int(c[0], 500, "rr: below max_conns: picked again by weight");
	f->srv[0].max_conns = 0;
	f->peer[0].conns = 0;

	ok(each_once(f, "192.0.2.1", NOW), "rr: one request tries each server once, then none");
	f->peer[2].check_down = 1;
	balance_start(&pk, &f->cu, &(struct var_source){ .req = &req, .client_addr = "192.0.2.1" });
	i = (unsigned)balance_pick(&f->up, &pk, NOW);
	i += (unsigned)balance_pick(&f->up, &pk, NOW);
	is_int(i, 1, "rr: with c down, a request tries a and b");
	is_int(balance_pick(&f->up, &pk, NOW), -1, "rr: then none (c down)");
	f->peer[2].check_down = 0;

	f->peer[0].check_down = f->peer[1].check_down = f->peer[2].check_down = 1;
	is_int(pick1(f, "192.0.2.1", NOW), -1, "rr: every server down: none");
	fix_free(f);

	f = fix_new(BALANCE_ROUND_ROBIN, 3);
	fix_init(f);
	f->srv[0].slow_start = 10000;
	f->peer[0].up_since = NOW;
	pick_n(f, 201, NOW, c);
	is_int(c[0], 1, "rr: just back with slow_start: weight 1 of 100 (1 in 201)");
	pick_n(f, 300, NOW + 20000, c);
	is_int(c[0], 100, "rr: after slow_start: its full share");
	fix_free(f);
}

/* ---- backup ---- */

static void test_backup(void)
{
	struct fix *f = fix_new(BALANCE_ROUND_ROBIN, 3);
	struct pick pk;
	unsigned c[4];
	int a, b;

	f->srv[2].backup = true;
	fix_init(f);
	req_reset("/");
	pick_n(f, 1000, NOW, c);
	is_int(c[2], 0, "backup: never picked while primaries are up");
	is_int(c[0], 500, "backup: primaries share (a)");
	is_int(c[1], 500, "backup: primaries share (b)");

	balance_start(&pk, &f->cu, &(struct var_source){ .req = &req, .client_addr = "192.0.2.1" });
	a = balance_pick(&f->up, &pk, NOW);
	b = balance_pick(&f->up, &pk, NOW);
	ok(a >= 0 && b >= 0 && a != b && a != 2 && b != 2,
	   "backup: a request tries both primaries first (%d, %d)", a, b);
	is_int(balance_pick(&f->up, &pk, NOW), 2, "backup: then the backup");
	is_int(balance_pick(&f->up, &pk, NOW), -1, "backup: then none");

	f->peer[0].check_down = 1;
	pick_n(f, 100, NOW, c);
	is_int(c[1], 100, "backup: one primary down: the other takes all");
	is_int(c[2], 0, "backup: one primary down: backup still unused");

	f->peer[1].down_until = NOW + 5000;
	pick_n(f, 100, NOW, c);
	is_int(c[2], 100, "backup: every primary down: the backup takes all");
	pick_n(f, 100, NOW + 5000, c);
	is_int(c[1], 100, "backup: a primary back: the backup is left again");

	f->srv[1].max_conns = 1;
	f->peer[1].conns = 1;
	pick_n(f, 10, NOW + 5000, c);
	is_int(c[2], 10, "backup: the only primary up is full: backup");
	f->peer[2].check_down = 1;
	pick_n(f, 10, NOW + 5000, c);
	is_int(c[3], 10, "backup: primaries and backup unusable: none");
	fix_free(f);

	f = fix_new(BALANCE_ROUND_ROBIN, 1);
	fix_init(f);
	is_int(pick1(f, "192.0.2.1", NOW), 0, "single: picked when up");
	f->peer[0].down_until = NOW + 5000;
	is_int(pick1(f, "192.0.2.1", NOW), 0, "single: still picked when passively down");
	f->peer[0].check_down = 1;
	is_int(pick1(f, "192.0.2.1", NOW), -1, "single: not picked when down by checks");
	f->peer[0].check_down = 0;
	f->srv[0].max_conns = 4;
	f->peer[0].conns = 4;
	is_int(pick1(f, "192.0.2.1", NOW), -1, "single: not picked when full");
	f->peer[0].conns = 0;
	ok(each_once(f, "192.0.2.1", NOW), "single: tried once per request");
	fix_free(f);

	f = fix_new(BALANCE_ROUND_ROBIN, 2);
	f->srv[1].backup = true;
	fix_init(f);
	f->peer[0].down_until = NOW + 5000;
	is_int(pick1(f, "192.0.2.1", NOW), 1,
	       "primary + backup: a passively down primary is skipped (no single exception)");
	fix_free(f);
}

/* ---- least_conn ---- */

static void test_least_conn(void)
{
	struct fix *f = fix_new(BALANCE_LEAST_CONN, 4);
	unsigned c[5], i;
	int32_t mine = 0;
	bool even = true;

	fix_init(f);
	req_reset("/");
	f->peer[0].conns = 3;
	f->peer[1].conns = 1;
	f->peer[2].conns = 2;
	f->peer[3].conns = 5;
	pick_n(f, 50, NOW, c);
	is_int(c[1], 50, "least_conn: the fewest conns takes it");
	f->peer[1].check_down = 1;
	pick_n(f, 50, NOW, c);
	is_int(c[2], 50, "least_conn: fewest down: the next fewest");
	f->peer[1].check_down = 0;
	f->srv[1].max_conns = 1;
	pick_n(f, 50, NOW, c);
	is_int(c[2], 50, "least_conn: fewest full: the next fewest");
	f->srv[1].max_conns = 0;
	fix_free(f);

	/* Real use: each pick opens an exchange. */
	f = fix_new(BALANCE_LEAST_CONN, 4);
	fix_init(f);
	for (i = 0; i < 40; i++) {
		int s = pick1(f, "192.0.2.1", NOW);

		if (s >= 0)
			health_conn_open(&f->peer[s], &mine);
	}
	for (i = 0; i < 4; i++)
		if (f->peer[i].conns != 10)
			even = false;
	ok(even, "least_conn: 40 exchanges left open spread 10 each");
	is_int(mine, 40, "least_conn: all 40 counted as mine");
	health_conn_close(&f->peer[2], &mine);
	is_int(pick1(f, "192.0.2.1", NOW), 2, "least_conn: the server with one closed is next");
	fix_free(f);

	f = fix_new(BALANCE_LEAST_CONN, 2);
	f->srv[1].weight = 3;
	fix_init(f);
	f->peer[0].conns = 1;
	f->peer[1].conns = 2;
	pick_n(f, 10, NOW, c);
	is_int(c[1], 10, "least_conn weighted: 2 conns / weight 3 beats 1 / 1");
	f->peer[1].conns = 4;
	pick_n(f, 10, NOW, c);
	is_int(c[0], 10, "least_conn weighted: 1 / 1 beats 4 / 3");
	f->peer[0].conns = 0;
	f->peer[1].conns = 0;
	pick_n(f, 400, NOW, c);
	is_int(c[0], 100, "least_conn ties (0 conns): spread by weight (1 of 4)");
	is_int(c[1], 300, "least_conn ties (0 conns): spread by weight (3 of 4)");
	f->peer[0].conns = 2;
	f->peer[1].conns = 6;
	pick_n(f, 400, NOW, c);
	is_int(c[0], 100, "least_conn ties (2/1 = 6/3): spread by weight (1 of 4)");
	is_int(c[1], 300, "least_conn ties (2/1 = 6/3): spread by weight (3 of 4)");
	fix_free(f);

	f = fix_new(BALANCE_LEAST_CONN, 3);
	f->srv[2].backup = true;
	fix_init(f);
	f->peer[0].conns = 9;
	f->peer[1].conns = 9;
	pick_n(f, 10, NOW, c);
	is_int(c[2], 0, "least_conn: an idle backup is not used while primaries are up");
	fix_free(f);
}

/* ---- hash keys ---- */

#define PART(v, s)	{ .var = (v), .name = (char *)(s), .name_len = sizeof(s) - 1 }

static uint64_t key_of(const struct conf_key_part *parts, unsigned n)
{
	struct conf_upstream cu = { .balance = BALANCE_HASH };
	struct pick pk;

	cu.hash_key.parts = (struct conf_key_part *)parts;
	cu.hash_key.nparts = n;
	balance_start(&pk, &cu, &(struct var_source){ .req = &req, .client_addr = "198.51.100.9" });
	return pk.key;
}

static uint64_t h(const char *s)
{
	return balance_hash(s, strlen(s));
}

static void test_hash_keys(void)
{
	static const struct conf_key_part request_uri[] = { PART(KEY_REQUEST_URI, "") };
	static const struct conf_key_part uri[] = { PART(KEY_URI, "") };
	static const struct conf_key_part args[] = { PART(KEY_ARGS, "") };
	static const struct conf_key_part arg_id[] = { PART(KEY_ARG, "id") };
	static const struct conf_key_part arg_x[] = { PART(KEY_ARG, "x") };
	static const struct conf_key_part arg_d[] = { PART(KEY_ARG, "d") };
	static const struct conf_key_part user[] = { PART(KEY_HTTP, "x-user") };
	static const struct conf_key_part sid[] = { PART(KEY_COOKIE, "sid") };
	static const struct conf_key_part host[] = { PART(KEY_HOST, "") };
	static const struct conf_key_part text[] = { PART(KEY_TEXT, "v1") };
	static const struct conf_key_part addr[] = { PART(KEY_REMOTE_ADDR, "") };
	static const struct conf_key_part multi[] = {
		PART(KEY_TEXT, "u:"), PART(KEY_HTTP, "x-user"), PART(KEY_TEXT, "|"),
		PART(KEY_HOST, ""), PART(KEY_URI, ""),
	};
	struct conf_upstream cu = { .balance = BALANCE_IP_HASH };
	struct pick pk;
	uint64_t k;

	req_reset("/shop/item?x=1&idx=7&id=42");
	req_header("Host", "Example.COM:8080");
	req_header("X-User", "alice");
	req_header("Cookie", "theme=dark; xsid=bad; sid=s3cr3t; lang=en");

	ok(h("a") != h("b") && h("") != h("a"), "balance_hash tells strings apart");
	ok(key_of(request_uri, 1) == h("/shop/item?x=1&idx=7&id=42"),
	   "key $request_uri: the target as sent");
	ok(key_of(uri, 1) == h("/shop/item"), "key $uri: the path");
	ok(key_of(args, 1) == h("x=1&idx=7&id=42"), "key $args: the query");
	ok(key_of(arg_id, 1) == h("42"), "key $arg_id: 42 (not idx's 7)");
	ok(key_of(arg_x, 1) == h("1"), "key $arg_x: the first parameter");
	ok(key_of(arg_d, 1) == h(""), "key $arg_d: absent (no suffix match in id)");
	ok(key_of(user, 1) == h("alice"), "key $http_x_user: the field value");
	ok(key_of(sid, 1) == h("s3cr3t"), "key $cookie_sid: its value (not xsid's)");
	ok(key_of(host, 1) == h("example.com"), "key $host: lower-cased, without port");
	ok(key_of(text, 1) == h("v1"), "key text: the text");
	ok(key_of(addr, 1) == h("198.51.100.9"), "key $remote_addr: the client address");
	ok(key_of(multi, 5) == h("u:alice|example.com/shop/item"),
	   "key of several parts: their concatenation");
	k = key_of(request_uri, 1);
	ok(key_of(request_uri, 1) == k, "key: the same request gives the same key");

	req.headers[0].value = req.host = sl("EXAMPLE.com");
	ok(key_of(host, 1) == h("example.com"), "key $host: without port already");
	req.headers[0].value = req.host = sl("[2001:DB8::1]:443");
	ok(key_of(host, 1) == h("[2001:db8::1]"), "key $host: IPv6 literal keeps its brackets");
	req.headers[1].name = sl("x-USER");
	req.headers[1].value = sl("bob");
	ok(key_of(user, 1) == h("bob"), "key $http_x_user: field name in any case");
	req.headers[2].value = sl("sid=first");
	ok(key_of(sid, 1) == h("first"), "key $cookie_sid: first cookie");
	req.headers[2].value = sl("a=1;sid=tight");
	ok(key_of(sid, 1) == h("tight"), "key $cookie_sid: no space after ';'");
	req.headers[2].value = sl("sid=");
	ok(key_of(sid, 1) == h(""), "key $cookie_sid: empty value");
	req.nheaders = 0;
	req.host = (struct slice){ NULL, 0 };
	ok(key_of(user, 1) == h(""), "key $http_x_user: absent field is empty");
	ok(key_of(sid, 1) == h(""), "key $cookie_sid: no Cookie is empty");
	ok(key_of(host, 1) == h(""), "key $host: no Host is empty");
	req_reset("/plain");
	ok(key_of(args, 1) == h(""), "key $args: no query is empty");
	ok(key_of(arg_id, 1) == h(""), "key $arg_id: no query is empty");

	balance_start(&pk, &cu, &(struct var_source){ .req = &req, .client_addr = "203.0.113.5" });
	ok(pk.key == h("203.0.113.5"), "ip_hash key: the client address");
	req_reset("/other?id=1");
	balance_start(&pk, &cu, &(struct var_source){ .req = &req, .client_addr = "203.0.113.5" });
	ok(pk.key == h("203.0.113.5"), "ip_hash key: the request does not matter");
}

/* ---- consistent hash ---- */

static const struct conf_key_part uri_key[] = { PART(KEY_REQUEST_URI, "") };

static void key_req(unsigned k)
{
	static char target[32];

	snprintf(target, sizeof(target), "/item/%u", k);
	req_reset(target);
}

static struct fix *hash_fix(unsigned n)
{
	struct fix *f = fix_new(BALANCE_HASH, n);

	f->cu.hash_key.parts = (struct conf_key_part *)uri_key;
	f->cu.hash_key.nparts = 1;
	return f;
}

/* Where each of NKEYS keys goes, as server indexes. */
static void map_keys(struct fix *f, int *where, uint64_t now)
{
	unsigned k;

	for (k = 0; k < NKEYS; k++) {
		key_req(k);
		where[k] = pick1(f, "192.0.2.1", now);
	}
}

static bool spread(const int *where, unsigned n, unsigned lo, unsigned hi, const char *what)
{
	unsigned c[CONF_MAX_SERVERS] = { 0 }, i, k;
	bool good = true;

	for (k = 0; k < NKEYS; k++) {
		if (where[k] < 0 || (unsigned)where[k] >= n)
			return false;
		c[where[k]]++;
	}
	for (i = 0; i < n; i++) {
		printf("# %s: server %u: %u keys\n", what, i, c[i]);
		if (!within(c[i], lo, hi))
			good = false;
	}
	return good;
}

/* Compare two mappings by address: keys that moved, keys that were on
 * server gone of a, keys that moved while not on gone, and how many
 * servers the moved keys went to. */
struct moves {
	unsigned moved, on_gone, others_moved, dests;
};

static struct moves compare(const struct fix *a, const int *wa, const struct fix *b,
			    const int *wb, int gone)
{
	bool dest[CONF_MAX_SERVERS] = { false };
	struct moves m = { 0, 0, 0, 0 };
	unsigned k, i;

	for (k = 0; k < NKEYS; k++) {
		bool moved = wa[k] < 0 || wb[k] < 0 ||
			     strcmp(a->srv[wa[k]].address, b->srv[wb[k]].address) != 0;

		if (wa[k] == gone)
			m.on_gone++;
		if (!moved)
			continue;
		m.moved++;
		if (wa[k] != gone)
			m.others_moved++;
		if (wb[k] >= 0)
			dest[wb[k]] = true;
	}
	for (i = 0; i < CONF_MAX_SERVERS; i++)
		m.dests += dest[i];
	return m;
}

static void test_hash(void)
{
	static int w1[NKEYS], w2[NKEYS];
	struct fix *f = hash_fix(4), *g;
	struct moves m;
	unsigned c[5], i, k, same = 0;
	struct pick pk;
	int s, first;

	is_int(fix_init(f), 0, "hash: balance_init");
	is_int(f->up.nring, 4 * 160, "hash: 160 ring points per server of weight 1");

	key_req(7);
	first = pick1(f, "192.0.2.1", NOW);
	for (i = 0; i < 100; i++)
		if (pick1(f, "192.0.2.2", NOW) == first)
			same++;
	is_int(same, 100, "hash: the same key always goes to the same server");

	balance_start(&pk, &f->cu, &(struct var_source){ .req = &req, .client_addr = "192.0.2.1" });
	is_int(balance_pick(&f->up, &pk, NOW), first, "hash: a request starts on its server");
	s = balance_pick(&f->up, &pk, NOW);
	ok(s >= 0 && s != first, "hash: its retry goes to another server (%d)", s);
	key_req(7);
	ok(each_once(f, "192.0.2.1", NOW), "hash: a request tries each server once, then none");

	map_keys(f, w1, NOW);
	ok(spread(w1, 4, NKEYS * 15 / 100, NKEYS * 35 / 100, "hash"),
	   "hash: 10000 keys spread, each server 15-35%%");
	map_keys(f, w2, NOW);
	ok(memcmp(w1, w2, sizeof(w1)) == 0, "hash: mapping again gives the same servers");

	/* Remove server 2 from the configuration. */
	g = hash_fix(3);
	strcpy(g->addr[0], f->addr[0]);
	strcpy(g->addr[1], f->addr[1]);
	strcpy(g->addr[2], f->addr[3]);
	fix_init(g);
	map_keys(g, w2, NOW);
	m = compare(f, w1, g, w2, 2);
	printf("# removed: %u moved, %u were on it, %u others moved\n", m.moved, m.on_gone,
	       m.others_moved);
	ok(m.on_gone > 0, "hash removed: the server had keys");
	is_int(m.moved, m.on_gone, "hash removed: moved keys == keys of the removed server");
	is_int(m.others_moved, 0, "hash removed: no other key moved");
	ok(m.dests > 1, "hash removed: its keys spread over %u servers", m.dests);
	fix_free(g);

	/* Add a fifth server: only keys it takes move, all to it. */
	g = hash_fix(5);
	for (i = 0; i < 4; i++)
		strcpy(g->addr[i], f->addr[i]);
	fix_init(g);
	map_keys(g, w2, NOW);
	m = compare(f, w1, g, w2, -1);
	for (k = 0, c[0] = 0; k < NKEYS; k++)
		c[0] += w2[k] == 4;
	ok(c[0] > NKEYS / 10 && c[0] < NKEYS * 3 / 10, "hash added: the new server takes ~1/5 (%u)",
	   c[0]);
	is_int(m.moved, c[0], "hash added: only the keys it takes move");
	fix_free(g);

	/* Mark server 2 down instead. */
	f->peer[2].down_until = NOW + 10000;
	map_keys(f, w2, NOW);
	m = compare(f, w1, f, w2, 2);
	printf("# down: %u moved, %u were on it, %u others moved, to %u servers\n", m.moved,
	       m.on_gone, m.others_moved, m.dests);
	is_int(m.moved, m.on_gone, "hash down: moved keys == keys of the down server");
	is_int(m.others_moved, 0, "hash down: no other key moved");
	ok(m.dests > 1 && m.dests <= 3, "hash down: its keys spread over %u other servers",
	   m.dests);
	for (k = 0, same = 0; k < NKEYS; k++)
		same += w2[k] == 2;
	is_int(same, 0, "hash down: no key goes to the down server");
	map_keys(f, w2, NOW + 10000);
	ok(memcmp(w1, w2, sizeof(w1)) == 0, "hash down: back up, every key returns");

	f->peer[2].down_until = 0;
	f->peer[2].check_down = 1;
	map_keys(f, w2, NOW);
	m = compare(f, w1, f, w2, 2);
	is_int(m.others_moved, 0, "hash check_down: no other key moved");
	is_int(m.moved, m.on_gone, "hash check_down: only its keys moved");
	f->peer[2].check_down = 0;

	f->srv[2].max_conns = 1;
	f->peer[2].conns = 1;
	map_keys(f, w2, NOW);
	m = compare(f, w1, f, w2, 2);
	is_int(m.others_moved, 0, "hash max_conns: no other key moved");
	is_int(m.moved, m.on_gone, "hash max_conns: only the full server's keys moved");
	f->srv[2].max_conns = 0;
	f->peer[2].conns = 0;

	for (i = 0; i < 4; i++)
		f->peer[i].check_down = 1;
	key_req(1);
	is_int(pick1(f, "192.0.2.1", NOW), -1, "hash: every server down: none");
	fix_free(f);

	/* Backups are not on the ring. */
	f = hash_fix(5);
	f->srv[4].backup = true;
	fix_init(f);
	is_int(f->up.nring, 4 * 160, "hash backup: not on the ring");
	map_keys(f, w2, NOW);
	ok(memcmp(w1, w2, sizeof(w1)) == 0, "hash backup: primaries keep the same keys");
	for (i = 0; i < 4; i++)
		f->peer[i].down_until = NOW + 1;
	map_keys(f, w2, NOW);
	for (k = 0, same = 0; k < NKEYS; k++)
		same += w2[k] == 4;
	is_int(same, NKEYS, "hash backup: every primary down, the backup takes all");
	fix_free(f);

	/* Weights. */
	f = hash_fix(3);
	f->srv[0].weight = 2;
	fix_init(f);
	is_int(f->up.nring, 4 * 160, "hash weights 2,1,1: 640 points");
	map_keys(f, w1, NOW);
	for (k = 0, c[0] = 0; k < NKEYS; k++)
		c[0] += w1[k] == 0;
	ok(within(c[0], NKEYS * 40 / 100, NKEYS * 60 / 100),
	   "hash weights 2,1,1: the heavy one takes ~half (%u)", c[0]);
	fix_free(f);

	/* A capped ring (heavy weights): removing one server. */
	f = hash_fix(16);
	for (i = 0; i < 16; i++)
		f->srv[i].weight = 100;
	fix_init(f);
	ok(f->up.nring <= (1u << 16) + 16, "hash capped: the ring stays small (%u)", f->up.nring);
	map_keys(f, w1, NOW);
	ok(spread(w1, 16, NKEYS * 3 / 100, NKEYS * 10 / 100, "capped"),
	   "hash capped: 16 servers each take 3-10%%");
	g = hash_fix(15);
	for (i = 0; i < 15; i++) {
		strcpy(g->addr[i], f->addr[i < 7 ? i : i + 1]);
		g->srv[i].weight = 100;
	}
	fix_init(g);
	map_keys(g, w2, NOW);
	m = compare(f, w1, g, w2, 7);
	printf("# capped removed: %u moved, %u were on it, %u others moved\n", m.moved,
	       m.on_gone, m.others_moved);
	is_int(m.others_moved, 0, "hash capped, one removed: no other key moved");
	fix_free(g);
	fix_free(f);

	/* The whole ring: 256 servers of weight 1000. */
	f = hash_fix(CONF_MAX_SERVERS);
	for (i = 0; i < CONF_MAX_SERVERS; i++)
		f->srv[i].weight = 1000;
	is_int(fix_init(f), 0, "hash: 256 servers of weight 1000 fit");
	ok(f->up.nring <= (1u << 16) + CONF_MAX_SERVERS, "hash: ring capped (%u points)",
	   f->up.nring);
	key_req(3);
	ok(each_once(f, "192.0.2.1", NOW), "hash 256: a request tries each server once");
	fix_free(f);
}

/* ---- ip_hash ---- */

static void test_ip_hash(void)
{
	static int where[NKEYS];
	struct fix *f = fix_new(BALANCE_IP_HASH, 4);
	unsigned i, same = 0, k;
	char ip[32];
	int first;

	is_int(fix_init(f), 0, "ip_hash: balance_init");
	ok(f->up.nring == 640, "ip_hash: a ring too");
	req_reset("/a");
	first = pick1(f, "203.0.113.5", NOW);
	for (i = 0; i < 100; i++) {
		key_req(i);
		if (pick1(f, "203.0.113.5", NOW) == first)
			same++;
	}
	is_int(same, 100, "ip_hash: one client, any request: the same server");
	ok(pick1(f, "203.0.113.5", NOW) == first, "ip_hash: and again");
	for (k = 0; k < NKEYS; k++) {
		snprintf(ip, sizeof(ip), "10.%u.%u.%u", k >> 16, (k >> 8) & 255, k & 255);
		where[k] = pick1(f, ip, NOW);
	}
	ok(spread(where, 4, NKEYS * 15 / 100, NKEYS * 35 / 100, "ip_hash"),
	   "ip_hash: 10000 clients spread, each server 15-35%%");
	ok(each_once(f, "203.0.113.5", NOW), "ip_hash: a request tries each server once");
	f->peer[first].down_until = NOW + 1;
	i = (unsigned)pick1(f, "203.0.113.5", NOW);
	ok((int)i != first, "ip_hash: its server down, the client goes elsewhere (%u)", i);
	is_int(pick1(f, "203.0.113.5", NOW + 1), first, "ip_hash: and comes back");
	fix_free(f);
}

/* ---- random2 ---- */

static void test_random2(void)
{
	struct fix *f = fix_new(BALANCE_RANDOM2, 4);
	unsigned c[5];

	is_int(fix_init(f), 0, "random2: balance_init");
	req_reset("/");
	pick_n(f, NKEYS, NOW, c);
	printf("# random2 even: %u %u %u %u\n", c[0], c[1], c[2], c[3]);
	ok(within(c[0], 1500, 3500) && within(c[1], 1500, 3500) &&
	   within(c[2], 1500, 3500) && within(c[3], 1500, 3500),
	   "random2: idle servers share evenly (15-35%% each)");

	f->peer[0].conns = 100;
	pick_n(f, NKEYS, NOW, c);
	printf("# random2 busy 0: %u %u %u %u\n", c[0], c[1], c[2], c[3]);
	ok(c[0] * 10 < c[1] && c[0] * 10 < c[2] && c[0] * 10 < c[3],
	   "random2: the busy server is picked much less (%u)", c[0]);
	ok(c[1] > 0 && c[2] > 0 && c[3] > 0, "random2: every other server is picked");
	is_int(c[4], 0, "random2: never none");

	f->peer[1].conns = 1;
	f->peer[2].conns = 1;
	f->peer[3].conns = 1;
	pick_n(f, NKEYS, NOW, c);
	ok(c[0] < 200, "random2: 100 conns vs 1: picked rarely (%u)", c[0]);
	f->peer[0].conns = f->peer[1].conns = f->peer[2].conns = f->peer[3].conns = 0;

	f->peer[3].check_down = 1;
	pick_n(f, 1000, NOW, c);
	is_int(c[3], 0, "random2: a down server is never picked");
	f->peer[3].check_down = 0;
	f->srv[2].max_conns = 1;
	f->peer[2].conns = 1;
	pick_n(f, 1000, NOW, c);
	is_int(c[2], 0, "random2: a full server is never picked");
	f->srv[2].max_conns = 0;
	f->peer[2].conns = 0;
	ok(each_once(f, "192.0.2.1", NOW), "random2: a request tries each server once");
	fix_free(f);

	f = fix_new(BALANCE_RANDOM2, 2);
	f->srv[1].weight = 3;
	fix_init(f);
	pick_n(f, NKEYS, NOW, c);
	printf("# random2 weights 1,3: %u %u\n", c[0], c[1]);
	ok(c[1] > c[0] * 2, "random2 weights 1,3: the heavy one is picked more");
	f->peer[0].down_until = NOW + 1;
	pick_n(f, 100, NOW, c);
	is_int(c[1], 100, "random2: one candidate left: it takes all");
	fix_free(f);

	f = fix_new(BALANCE_RANDOM2, 3);
	f->srv[2].backup = true;
	fix_init(f);
	pick_n(f, 1000, NOW, c);
	is_int(c[2], 0, "random2: backup unused while primaries are up");
	f->peer[0].check_down = f->peer[1].check_down = 1;
	pick_n(f, 100, NOW, c);
	is_int(c[2], 100, "random2: backup when every primary is down");
	fix_free(f);
}

/* ---- ewma ---- */

static void test_ewma(void)
{
	struct fix *f = fix_new(BALANCE_EWMA, 3);
	struct health_peer p;
	unsigned c[4];
	uint64_t v;

	is_int(fix_init(f), 0, "ewma: balance_init");
	req_reset("/");
	health_ewma_sample(&f->peer[0], 100000, NOW, 10000);
	health_ewma_sample(&f->peer[1], 1000, NOW, 10000);
	health_ewma_sample(&f->peer[2], 1000, NOW, 10000);
	pick_n(f, 100, NOW, c);
	is_int(c[0], 0, "ewma: the slow server is avoided");
	is_int(c[1], 50, "ewma: equal fast servers share (1)");
	is_int(c[2], 50, "ewma: equal fast servers share (2)");
	f->peer[1].conns = 200;
	f->peer[2].conns = 200;
	pick_n(f, 10, NOW, c);
	is_int(c[0], 10, "ewma: slow but idle beats fast with 200 open");
	f->peer[1].conns = 0;
	f->peer[2].conns = 0;
	f->peer[1].check_down = f->peer[2].check_down = 1;
	pick_n(f, 10, NOW, c);
	is_int(c[0], 10, "ewma: the slow one when the fast ones are down");
	f->peer[1].check_down = f->peer[2].check_down = 0;
	ok(each_once(f, "192.0.2.1", NOW), "ewma: a request tries each server once");
	fix_free(f);

	f = fix_new(BALANCE_EWMA, 3);
	fix_init(f);
	health_ewma_sample(&f->peer[0], 1000, NOW, 10000);
	health_ewma_sample(&f->peer[1], 2000, NOW, 10000);
	pick_n(f, 20, NOW, c);
	is_int(c[2], 20, "ewma: an untried server is preferred");
	f->peer[2].conns = 1;
	pick_n(f, 20, NOW, c);
	is_int(c[2], 0, "ewma: but not while its first request is open");
	f->peer[2].conns = 0;
	health_ewma_sample(&f->peer[2], 3000, NOW, 10000);
	pick_n(f, 20, NOW, c);
	is_int(c[0], 20, "ewma: once sampled, the fastest wins");
	f->peer[0].conns = 2;
	pick_n(f, 20, NOW, c);
	is_int(c[1], 20, "ewma: 1000us x 3 open loses to 2000us x 1");
	f->peer[0].conns = 0;
	f->srv[0].weight = 4;
	f->peer[0].conns = 5;
	pick_n(f, 20, NOW, c);
	is_int(c[0], 20, "ewma: weight divides the cost (1000 x 6 / 4 < 2000)");
	fix_free(f);

	memset(&p, 0, sizeof(p));
	is_int(health_ewma(&p, NOW, 10000), 0, "health_ewma: 0 before any sample");
	health_ewma_sample(&p, 100000, NOW, 10000);
	is_int(health_ewma(&p, NOW, 10000), 100000, "health_ewma: the first sample is the value");
	is_int(health_ewma(&p, NOW - 5, 10000), 100000, "health_ewma: no decay before the stamp");
	v = health_ewma(&p, NOW + 10000, 10000);
	ok(v >= 36787 && v <= 36789, "health_ewma: after one decay time, ~1/e (%llu)",
	   (unsigned long long)v);
	v = health_ewma(&p, NOW + 5000, 10000);
	ok(v >= 60652 && v <= 60654, "health_ewma: after half, ~e^-0.5 (%llu)",
	   (unsigned long long)v);
	ok(health_ewma(&p, NOW + 20000, 10000) < health_ewma(&p, NOW + 10000, 10000),
	   "health_ewma: keeps decaying");
	health_ewma_sample(&p, 50000, NOW, 10000);
	is_int(p.ewma_us, 100000, "ewma sample: a lower one at the same ms does not move it");
	health_ewma_sample(&p, 200000, NOW + 1, 10000);
	is_int(p.ewma_us, 200000, "ewma sample: a higher one replaces it at once (peak)");
	is_int(p.ewma_stamp, NOW + 1, "ewma sample: stamped");
	health_ewma_sample(&p, 1000, NOW + 10001, 10000);
	v = p.ewma_us;
	ok(v >= 74200 && v <= 74215, "ewma sample: a lower one after one decay: ~old/e + new(1-1/e) (%llu)",
	   (unsigned long long)v);
	memset(&p, 0, sizeof(p));
	health_ewma_sample(&p, 0, NOW, 10000);
	is_int(p.ewma_us, 1, "ewma sample: 0us is kept as 1 (0 means never sampled)");
}

/* ---- health.c ---- */

static void test_health(void)
{
	struct conf_server srv = { .address = "10.0.0.1:80", .weight = 2, .max_fails = 3,
				   .fail_timeout = 10000 };
	struct health_peer p;
	int32_t mine = 0, other = 0;
	unsigned i, marks = 0;

	memset(&p, 0, sizeof(p));
	ok(health_up(&p, true, NOW), "health: a zeroed entry is up");
	ok(!health_fail(&p, &srv, NOW), "health_fail: 1 of 3: not down");
	ok(!health_fail(&p, &srv, NOW + 100), "health_fail: 2 of 3: not down");
	ok(health_up(&p, true, NOW + 100), "health_fail: still up after 2");
	ok(health_fail(&p, &srv, NOW + 200), "health_fail: 3 of 3 within fail_timeout: down");
	ok(!health_up(&p, true, NOW + 200), "health_fail: down now");
	is_int(p.down_until, NOW + 200 + 10000, "health_fail: down for fail_timeout");
	ok(!health_up(&p, true, NOW + 10199), "health_fail: still down just before");
	ok(health_up(&p, true, NOW + 10200), "health_fail: up again at down_until");
	ok(!health_fail(&p, &srv, NOW + 300), "health_fail: a 4th does not mark again");
	ok(!health_fail(&p, &srv, NOW + 400), "health_fail: nor a 5th");
	is_int(p.failures, 5, "health_fail: every failure counted");

	memset(&p, 0, sizeof(p));
	health_fail(&p, &srv, NOW);
	health_fail(&p, &srv, NOW + 9999);
	ok(!health_fail(&p, &srv, NOW + 10000), "health_fail: the window ended: 3rd starts anew");
	is_int(p.fails, 1, "health_fail: new window counts 1");
	is_int(p.fail_window, NOW + 10000, "health_fail: new window opens now");
	ok(!health_fail(&p, &srv, NOW + 10001), "health_fail: 2 in the new window");
	ok(health_fail(&p, &srv, NOW + 19999), "health_fail: 3 in the new window: down");

	memset(&p, 0, sizeof(p));
	for (i = 0; i < 30; i++)
		marks += health_fail(&p, &srv, NOW + i * 6000);
	is_int(marks, 0, "health_fail: failures 6 s apart never reach 3 in 10 s");

	memset(&p, 0, sizeof(p));
	srv.max_fails = 0;
	for (i = 0; i < 100; i++)
		marks += health_fail(&p, &srv, NOW);
	is_int(marks, 0, "health_fail: max_fails 0 never marks");
	ok(health_up(&p, true, NOW), "health_fail: max_fails 0: still up");
	is_int(p.failures, 100, "health_fail: max_fails 0 still counts failures");
	srv.max_fails = 3;

	memset(&p, 0, sizeof(p));
	health_fail(&p, &srv, NOW);
	health_fail(&p, &srv, NOW + 1);
	health_success(&p);
	is_int(p.fails, 0, "health_success: fails reset");
	ok(!health_fail(&p, &srv, NOW + 2), "health_success: 1 after it: not down");
	ok(!health_fail(&p, &srv, NOW + 3), "health_success: 2 after it: not down");
	ok(health_fail(&p, &srv, NOW + 4), "health_success: 3 after it: down");

	srv.max_fails = 1;
	memset(&p, 0, sizeof(p));
	ok(health_fail(&p, &srv, NOW), "health_fail: max_fails 1: the first marks");

	/* slow_start */
	memset(&p, 0, sizeof(p));
	srv.slow_start = 10000;
	is_int(health_weight(&p, &srv, NOW), 2 * HEALTH_WEIGHT_SCALE,
	       "health_weight: never down: full");
	health_set_check_down(&p, true, NOW);
	ok(!health_up(&p, true, NOW), "health_set_check_down: down");
	health_set_check_down(&p, false, NOW + 1000);
	ok(health_up(&p, true, NOW + 1000), "health_set_check_down: up again");
	health_set_check_down(&p, true, NOW + 2000);
	ok(health_up(&p, false, NOW + 2000), "check_down: ignored where checks are gone");
	ok(!health_checks_down(&p, false) && health_checks_down(&p, true),
	   "health_checks_down: only for a checked upstream");
	is_int(p.up_since, NOW + 1000, "health_set_check_down: up_since set");
	is_int(health_weight(&p, &srv, NOW + 1000), 1, "health_weight: 1 at the start");
	is_int(health_weight(&p, &srv, NOW + 1000 + 5000), HEALTH_WEIGHT_SCALE,
	       "health_weight: half at half time");
	is_int(health_weight(&p, &srv, NOW + 1000 + 2500), HEALTH_WEIGHT_SCALE / 2,
	       "health_weight: a quarter at a quarter");
	is_int(health_weight(&p, &srv, NOW + 1000 + 10000), 2 * HEALTH_WEIGHT_SCALE,
	       "health_weight: full at slow_start");
	is_int(health_weight(&p, &srv, NOW + 1000 + 99999), 2 * HEALTH_WEIGHT_SCALE,
	       "health_weight: full after");
	is_int(health_weight(&p, &srv, NOW), 1, "health_weight: before up_since: 1");
	srv.slow_start = 0;
	is_int(health_weight(&p, &srv, NOW + 1000), 2 * HEALTH_WEIGHT_SCALE,
	       "health_weight: no slow_start: full at once");

	srv.slow_start = 10000;
	srv.max_fails = 1;
	memset(&p, 0, sizeof(p));
	health_fail(&p, &srv, NOW);
	is_int(p.up_since, NOW + 10000, "health_fail: slow_start counts from the mark's end");
	is_int(health_weight(&p, &srv, NOW + 10000 + 5000), HEALTH_WEIGHT_SCALE,
	       "health_weight: half way through slow_start after a mark");

	health_record_check(&p, 503, false, NOW);
	health_record_check(&p, 200, true, NOW + 1);
	is_int(p.checks, 2, "health_record_check: counted");
	is_int(p.checks_failed, 1, "health_record_check: failures counted");
	is_int(p.last_status, 200, "health_record_check: last status");

	/* connection counts */
	memset(&p, 0, sizeof(p));
	health_conn_open(&p, &mine);
	health_conn_open(&p, &mine);
	health_conn_open(&p, &other);
	is_int(health_conns(&p), 3, "health_conn_open: counts all workers");
	is_int(mine, 2, "health_conn_open: my share");
	is_int(other, 1, "health_conn_open: the other's share");
	is_int(p.requests, 3, "health_conn_open: requests counted");
	health_conn_close(&p, &mine);
	is_int(health_conns(&p), 2, "health_conn_close: one less");
	is_int(mine, 1, "health_conn_close: my share one less");
	is_int(p.requests, 3, "health_conn_close: requests unchanged");
	health_conn_close(&p, &mine);
	health_conn_close(&p, &other);
	is_int(health_conns(&p), 0, "health_conn_close: back to 0");
	is_int(mine + other, 0, "health_conn_close: shares back to 0");
	p.conns = -2;
	is_int(health_conns(&p), 0, "health_conns: a negative count (a dead worker's) reads 0");
}

int main(void)
{
	test_round_robin();
	test_backup();
	test_least_conn();
	test_hash_keys();
	test_hash();
	test_ip_hash();
	test_random2();
	test_ewma();
	test_health();
	return done_testing();
}
