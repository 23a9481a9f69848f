/*
 * host_index.c: host patterns, and the per-listener index that finds a
 * request's site by its Host (host_index.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host_index.h"

/* ---- patterns ---- */

static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c | 0x20) : c;
}

/* A name or a wildcard's fixed part: labels that are not empty, no '*'
 * (but at the ends the caller took off), nothing that cannot be in a
 * Host, and no port. */
static int check_name(const char *s, size_t len, char *err, size_t errlen)
{
	size_t i;

	if (len == 0) {
		snprintf(err, errlen, "empty host name");
		return -1;
	}
	if (len > 253) {
		snprintf(err, errlen, "a host name is at most 253 bytes");
		return -1;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '*') {
			snprintf(err, errlen, "a wildcard is \"*\" alone, \"*.\" before a domain "
				 "or \".*\" after a name (a regex starts with \"~ \")");
			return -1;
		}
		if (c <= ' ' || c == 0x7f) {
			snprintf(err, errlen, "a host name has no spaces or control characters");
			return -1;
		}
		if (c == '/' || c == '?' || c == '#' || c == '@' || (c == ':' && s[0] != '[')) {
			snprintf(err, errlen, "a host name has no '%c'%s", c,
				 c == ':' ? " (hosts match any port)" : "");
			return -1;
		}
		if (c == '.' && (i == 0 || s[i - 1] == '.')) {
			snprintf(err, errlen, "a host name has no empty label");
			return -1;
		}
	}
	return 0;
}

/* h->name: a lower-case copy of s[len], without a trailing dot (a Host
 * is compared without its own). */
static int set_name(struct conf_host *h, const char *s, size_t len, bool keep_dot,
		    char *err, size_t errlen)
{
	size_t i;

	if (!keep_dot && len > 1 && s[len - 1] == '.')
		len--;
	if ((h->name = malloc(len + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < len; i++)
		h->name[i] = (char)lower((unsigned char)s[i]);
	h->name[len] = '\0';
	h->len = len;
	return 0;
}

/* Host names are case-insensitive: so is a regex over them. */
static int compile_regex(struct conf_host *h, const char *re, char *err, size_t errlen)
{
	char why[256];

	if (*re == '\0') {
		snprintf(err, errlen, "empty regex");
		return -1;
	}
	if ((h->regex = conf_regex_compile_opts(re, PCRE2_CASELESS, why, sizeof(why))) == NULL) {
		snprintf(err, errlen, "bad regex: %s", why);
		return -1;
	}
	if ((h->match = pcre2_match_data_create(1, NULL)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static int parse_pattern(const char *s, struct conf_host *h, char *err, size_t errlen)
{
	size_t len = strlen(s);

	if (strncmp(s, "~ ", 2) == 0) {
		h->kind = HOST_REGEX;
		return compile_regex(h, s + 2, err, errlen);
	}
	if (strcmp(s, "*") == 0) {
		h->kind = HOST_ANY;
		return 0;
	}
	if (strncmp(s, "*.", 2) == 0) {
		h->kind = HOST_LEADING;
		if (len == 2) {
			snprintf(err, errlen, "a wildcard needs a domain after \"*.\"");
			return -1;
		}
		/* The key keeps the dot: ".example.com" is what a name
		 * one label longer ends with. */
		if (check_name(s + 2, len - 2, err, errlen) < 0)
			return -1;
		return set_name(h, s + 1, len - 1, false, err, errlen);
	}
	if (len > 2 && strcmp(s + len - 2, ".*") == 0) {
		h->kind = HOST_TRAILING;
		if (check_name(s, len - 2, err, errlen) < 0)
			return -1;
		if (s[len - 3] == '.') {
			snprintf(err, errlen, "a host name has no empty label");
			return -1;
		}
		return set_name(h, s, len - 1, true, err, errlen);
	}
	h->kind = HOST_EXACT;
	if (check_name(s, len, err, errlen) < 0)
		return -1;
	return set_name(h, s, len, false, err, errlen);
}

int host_pattern_parse(const char *text, struct conf_host *h, char *err, size_t errlen)
{
	memset(h, 0, sizeof(*h));
	if ((h->pattern = strdup(text)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (parse_pattern(text, h, err, errlen) < 0) {
		host_pattern_free(h);
		return -1;
	}
	return 0;
}

void host_pattern_free(struct conf_host *h)
{
	free(h->pattern);
	free(h->name);
	if (h->match != NULL)
		pcre2_match_data_free(h->match);
	if (h->regex != NULL)
		pcre2_code_free(h->regex);
	memset(h, 0, sizeof(*h));
}

struct slice host_name_of(struct slice host)
{
	size_t i;

	if (host.len > 0 && host.p[0] == '[') {
		for (i = 0; i < host.len && host.p[i] != ']'; i++)
			;
		host.len = i < host.len ? i + 1 : host.len;
		return host;
	}
	for (i = 0; i < host.len && host.p[i] != ':'; i++)
		;
	host.len = i;
	if (host.len > 0 && host.p[host.len - 1] == '.')
		host.len--;
	return host;
}

/* ---- hash tables ---- */

/* An open-addressing table of lower-case keys, at most half full, made
 * for lookups that miss the caches: a slot is 16 bytes (four to a cache
 * line), the keys are copied one after another into one block, each after
 * its length, so that a lookup touches a slot and its key and little
 * else; and a bitmap of the lengths of the keys lets a lookup skip a
 * length no key has (most of the suffixes and prefixes that a wildcard
 * lookup tries). */
struct host_entry {
	uint32_t hash;
	uint32_t key;			/* offset in keys of its length byte */
	const struct conf_site *site;	/* NULL: an empty slot */
};

#define KEY_MAX 255			/* a host name is at most 253 bytes */

struct host_table {
	struct host_entry *slots;
	size_t mask;			/* slots - 1 */
	size_t n;
	unsigned char *keys;
	size_t keys_len, keys_cap;
	uint64_t lens[(KEY_MAX + 64) / 64];
};

struct host_regex {
	const struct conf_host *host;
	const struct conf_site *site;
};

struct host_index {
	struct host_table exact;	/* "example.com" */
	struct host_table leading;	/* ".example.com" of "*.example.com" */
	struct host_table trailing;	/* "www.example." of "www.example.*" */
	struct host_regex *regexes;	/* in the order added */
	unsigned nregexes, regexes_cap;
	const struct conf_site *any;	/* the first "*" */
};

/* FNV-1a of the lower-cased bytes. */
static uint32_t hash_of(const char *p, size_t len)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= lower((unsigned char)p[i]);
		h *= 16777619u;
	}
	return h;
}

/* Whether p[len], any case, is key (lower-case). */
static bool same_name(const char *key, const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)key[i] != lower((unsigned char)p[i]))
			return false;
	return true;
}

static bool has_length(const struct host_table *t, size_t len)
{
	return len <= KEY_MAX && ((t->lens[len / 64] >> (len % 64)) & 1);
}

static const struct host_entry *table_find(const struct host_table *t, const char *p,
					   size_t len)
{
	const struct host_entry *e;
	uint32_t h;
	size_t i;

	if (!has_length(t, len))
		return NULL;
	h = hash_of(p, len);
	for (i = h & t->mask; (e = &t->slots[i])->site != NULL; i = (i + 1) & t->mask)
		if (e->hash == h && t->keys[e->key] == len &&
		    same_name((const char *)t->keys + e->key + 1, p, len))
			return e;
	return NULL;
}

static void slot_put(struct host_entry *slots, size_t mask, const struct host_entry *e)
{
	size_t i;

	for (i = e->hash & mask; slots[i].site != NULL; i = (i + 1) & mask)
		;
	slots[i] = *e;
}

/* Room for one more key of len bytes, the table kept at most half full. */
static int table_reserve(struct host_table *t, size_t len)
{
	size_t size = t->slots ? t->mask + 1 : 0, cap, i;
	struct host_entry *slots;
	unsigned char *keys;

	if (t->keys_len + 1 + len > t->keys_cap) {
		cap = MAX(2 * t->keys_cap, t->keys_len + 1 + len + 256);
		if (cap > UINT32_MAX || (keys = realloc(t->keys, cap)) == NULL)
			return -1;
		t->keys = keys;
		t->keys_cap = cap;
	}
	if (2 * (t->n + 1) <= size)
		return 0;
	size = size ? 2 * size : 16;
	if ((slots = calloc(size, sizeof(*slots))) == NULL)
		return -1;
	for (i = 0; t->slots != NULL && i <= t->mask; i++)
		if (t->slots[i].site != NULL)
			slot_put(slots, size - 1, &t->slots[i]);
	free(t->slots);
	t->slots = slots;
	t->mask = size - 1;
	return 0;
}

/* 0 added or already the site's; 1 another site's; -1 out of memory. */
static int table_add(struct host_table *t, const struct conf_host *h,
		     const struct conf_site *site, const struct conf_site **holder)
{
	const struct host_entry *old = table_find(t, h->name, h->len);
	struct host_entry e;

	if (old != NULL) {
		if (old->site == site)
			return 0;
		*holder = old->site;
		return 1;
	}
	if (h->len > KEY_MAX || table_reserve(t, h->len) < 0)
		return -1;
	e = (struct host_entry){ hash_of(h->name, h->len), (uint32_t)t->keys_len, site };
	t->keys[t->keys_len] = (unsigned char)h->len;
	memcpy(t->keys + t->keys_len + 1, h->name, h->len);
	t->keys_len += 1 + h->len;
	slot_put(t->slots, t->mask, &e);
	t->n++;
	t->lens[h->len / 64] |= (uint64_t)1 << (h->len % 64);
	return 0;
}

static void table_free(struct host_table *t)
{
	free(t->slots);
	free(t->keys);
}

/* ---- the index ---- */

struct host_index *host_index_new(void)
{
	return calloc(1, sizeof(struct host_index));
}

static int add_regex(struct host_index *idx, const struct conf_host *h,
		     const struct conf_site *site)
{
	struct host_regex *r;

	if (idx->nregexes == idx->regexes_cap) {
		unsigned cap = idx->regexes_cap ? 2 * idx->regexes_cap : 8;

		if ((r = realloc(idx->regexes, cap * sizeof(*r))) == NULL)
			return -1;
		idx->regexes = r;
		idx->regexes_cap = cap;
	}
	idx->regexes[idx->nregexes++] = (struct host_regex){ h, site };
	return 0;
}

int host_index_add(struct host_index *idx, const struct conf_host *h,
		   const struct conf_site *site, const struct conf_site **holder)
{
	switch (h->kind) {
	case HOST_EXACT:
		return table_add(&idx->exact, h, site, holder);
	case HOST_LEADING:
		return table_add(&idx->leading, h, site, holder);
	case HOST_TRAILING:
		return table_add(&idx->trailing, h, site, holder);
	case HOST_REGEX:
		return add_regex(idx, h, site);
	case HOST_ANY:
		/* Sites without hosts are "*" by default: several on one
		 * listener are common, and the first one answers. */
		if (idx->any == NULL)
			idx->any = site;
		return 0;
	}
	return 0;
}

/* The longest ".suffix" of name (one label or more before it) in the
 * leading wildcards: strip labels from the left, first hit wins. */
static const struct conf_site *find_leading(const struct host_table *t, struct slice name)
{
	const struct host_entry *e;
	size_t i;

	if (t->n == 0)
		return NULL;
	for (i = 1; i < name.len; i++)
		if (name.p[i] == '.' && (e = table_find(t, name.p + i, name.len - i)) != NULL)
			return e->site;
	return NULL;
}

/* The longest "prefix." of name (one label or more after it) in the
 * trailing wildcards: cut labels from the right, first hit wins. */
static const struct conf_site *find_trailing(const struct host_table *t, struct slice name)
{
	const struct host_entry *e;
	size_t i;

	if (t->n == 0)
		return NULL;
	for (i = name.len - 1; i > 0; i--)
		if (name.p[i - 1] == '.' && (e = table_find(t, name.p, i)) != NULL)
			return e->site;
	return NULL;
}

static const struct conf_site *find_regex(const struct host_index *idx, struct slice name)
{
	unsigned i;

	for (i = 0; i < idx->nregexes; i++) {
		const struct conf_host *h = idx->regexes[i].host;

		if (pcre2_match(h->regex, (PCRE2_SPTR)name.p, name.len, 0, 0, h->match, NULL) >= 0)
			return idx->regexes[i].site;
	}
	return NULL;
}

const struct conf_site *host_index_find(const struct host_index *idx, struct slice host)
{
	struct slice name = host_name_of(host);
	const struct host_entry *e;
	const struct conf_site *site;

	if (idx == NULL)
		return NULL;
	if (name.len == 0)
		return idx->any;
	if ((e = table_find(&idx->exact, name.p, name.len)) != NULL)
		return e->site;
	if ((site = find_leading(&idx->leading, name)) != NULL ||
	    (site = find_trailing(&idx->trailing, name)) != NULL ||
	    (site = find_regex(idx, name)) != NULL)
		return site;
	return idx->any;
}

void host_index_free(struct host_index *idx)
{
	if (idx == NULL)
		return;
	table_free(&idx->exact);
	table_free(&idx->leading);
	table_free(&idx->trailing);
	free(idx->regexes);
	free(idx);
}
