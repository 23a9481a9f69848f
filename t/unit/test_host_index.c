/*
 * test_host_index.c: host patterns and the index that finds a site by
 * Host: nginx's precedence (exact, longest leading wildcard, longest
 * trailing wildcard, first regex, "*"), case, a trailing dot, a port, an
 * IPv6 literal, what a wildcard does not match, clashes, bad patterns,
 * and many names checked against what each was given.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "host_index.h"

#define MAX_PATTERNS 64

static struct conf_host patterns[MAX_PATTERNS];
static unsigned npatterns;

/* Add text as a pattern of site; the result of host_index_add. */
static int add(struct host_index *idx, const char *text, const struct conf_site *site,
	       const struct conf_site **holder)
{
	struct conf_host *h = &patterns[npatterns];
	char err[320];

	if (npatterns == MAX_PATTERNS || host_pattern_parse(text, h, err, sizeof(err)) < 0) {
		printf("# %s: %s\n", text, npatterns == MAX_PATTERNS ? "too many" : err);
		exit(99);
	}
	npatterns++;
	return host_index_add(idx, h, site, holder);
}

/* The name of the site found for host, or "-" for none. */
static const char *find(const struct host_index *idx, const char *host)
{
	const struct conf_site *s = host_index_find(idx, (struct slice){ host, strlen(host) });

	return s ? s->name : "-";
}

static void free_patterns(void)
{
	while (npatterns > 0)
		host_pattern_free(&patterns[--npatterns]);
}

static struct conf_site site_exact = { .name = "exact" };
static struct conf_site site_lead_short = { .name = "lead-short" };
static struct conf_site site_lead_long = { .name = "lead-long" };
static struct conf_site site_trail_short = { .name = "trail-short" };
static struct conf_site site_trail_long = { .name = "trail-long" };
static struct conf_site site_re1 = { .name = "re1" };
static struct conf_site site_re2 = { .name = "re2" };
static struct conf_site site_any = { .name = "any" };
static struct conf_site site_v6 = { .name = "v6" };

static void test_precedence(void)
{
	struct host_index *idx = host_index_new();
	const struct conf_site *holder;

	/* Added in an order that is not the precedence, as a file may be. */
	add(idx, "~ ^www\\.", &site_re1, &holder);
	add(idx, "*", &site_any, &holder);
	add(idx, "*.example.com", &site_lead_short, &holder);
	add(idx, "www.example.*", &site_trail_short, &holder);
	add(idx, "*.b.example.com", &site_lead_long, &holder);
	add(idx, "www.example.co.*", &site_trail_long, &holder);
	add(idx, "~ ^API\\d+\\.", &site_re2, &holder);
	add(idx, "www.example.com", &site_exact, &holder);
	add(idx, "[::1]", &site_v6, &holder);

	is_str(find(idx, "www.example.com"), "exact", "exact beats every wildcard and regex");
	is_str(find(idx, "a.b.example.com"), "lead-long", "the longest leading wildcard");
	is_str(find(idx, "x.a.b.example.com"), "lead-long", "... with more labels before it");
	is_str(find(idx, "c.example.com"), "lead-short", "a shorter one when the longer misses");
	is_str(find(idx, "b.example.com"), "lead-short", "\"*.b.example.com\" needs a label "
	       "before b.example.com");
	is_str(find(idx, "www.b.example.com"), "lead-long",
	       "a leading wildcard beats a regex that matches too");
	is_str(find(idx, "www.example.org"), "trail-short", "a trailing wildcard");
	is_str(find(idx, "www.example.co.uk"), "trail-long", "the longest trailing wildcard");
	is_str(find(idx, "www.example.net.uk"), "trail-short",
	       "... a shorter one when the longer misses");
	is_str(find(idx, "www.example.co"), "trail-short",
	       "\"www.example.co.*\" needs a label after www.example.co");
	is_str(find(idx, "www.example"), "re1", "\"www.example.*\" does not match www.example "
	       "(the regex does)");
	is_str(find(idx, "www.other.test"), "re1", "a regex when no wildcard matches");
	is_str(find(idx, "api7.other.test"), "re2", "... the first that matches, in order");
	is_str(find(idx, "example.com"), "any", "\"*.example.com\" does not match example.com: "
	       "\"*\"");
	is_str(find(idx, "nothing.test"), "any", "nothing else: \"*\"");
	is_str(find(idx, ""), "any", "no Host: \"*\"");

	is_str(find(idx, "WWW.Example.COM"), "exact", "case does not matter (exact)");
	is_str(find(idx, "A.B.EXAMPLE.com"), "lead-long", "... nor for leading wildcards");
	is_str(find(idx, "WWW.EXAMPLE.CO.UK"), "trail-long", "... nor for trailing ones");
	is_str(find(idx, "api7.Other.TEST"), "re2", "... nor for regexes (API in the pattern)");
	is_str(find(idx, "www.example.com."), "exact", "a trailing dot is ignored");
	is_str(find(idx, "www.example.com.:8080"), "exact", "... with a port after it");
	is_str(find(idx, "www.example.com:8080"), "exact", "the port is ignored");
	is_str(find(idx, "a.b.example.com:443"), "lead-long", "... for wildcards too");
	is_str(find(idx, "[::1]:8080"), "v6", "an IPv6 literal with a port");
	is_str(find(idx, "[::1]"), "v6", "... and without");
	is_str(find(idx, "[::2]:8080"), "any", "another IPv6 literal: \"*\"");
	is_str(find(idx, ":8080"), "any", "a port alone is no host: \"*\"");
	is_str(find(idx, "."), "any", "a dot alone is no host: \"*\"");
	is_str(find(idx, ".example.com"), "any", "an empty first label matches no wildcard");
	is_str(find(NULL, "www.example.com"), "-", "no index: nothing");
	{
		char longer[400];

		memset(longer, 'a', sizeof(longer) - 1);
		longer[sizeof(longer) - 1] = '\0';
		memcpy(longer + sizeof(longer) - 17, ".b.example.co.uk", 16);
		longer[3] = '.';
		is_str(find(idx, longer), "any", "a name longer than any pattern: \"*\"");
		memcpy(longer, "www.example.co.", 15);
		is_str(find(idx, longer), "trail-long", "... unless a wildcard's short part "
		       "matches it");
	}
	host_index_free(idx);
	free_patterns();

	idx = host_index_new();
	add(idx, "a.test", &site_exact, &holder);
	is_str(find(idx, "b.test"), "-", "without \"*\", a miss finds nothing (the listener's "
	       "default is the caller's)");
	is_str(find(idx, ""), "-", "... nor does no Host");
	host_index_free(idx);
	free_patterns();
}

static void test_clashes(void)
{
	struct host_index *idx = host_index_new();
	const struct conf_site *holder = NULL;

	is_int(add(idx, "a.test", &site_exact, &holder), 0, "a name added");
	is_int(add(idx, "A.TEST.", &site_exact, &holder), 0, "the same name again for the same "
	       "site: no holder");
	is_int(add(idx, "a.Test", &site_any, &holder), 1, "another site's name, any case: a holder");
	ok(holder == &site_exact, "... naming who holds it");
	is_int(add(idx, "*.w.test", &site_lead_short, &holder), 0, "a leading wildcard");
	is_int(add(idx, "*.W.TEST", &site_lead_long, &holder), 1, "... claimed again: a holder");
	is_int(add(idx, "w.*", &site_trail_short, &holder), 0, "a trailing wildcard");
	is_int(add(idx, "W.*", &site_trail_long, &holder), 1, "... claimed again: a holder");
	is_int(add(idx, "w.test", &site_re1, &holder), 0, "a name is not its wildcard's key");
	is_int(add(idx, "~ ^r", &site_re1, &holder), 0, "a regex");
	is_int(add(idx, "~ ^r", &site_re2, &holder), 0, "the same regex again: no holder");
	is_int(add(idx, "*", &site_any, &holder), 0, "\"*\"");
	is_int(add(idx, "*", &site_v6, &holder), 0, "\"*\" again: no holder");
	is_str(find(idx, "r.test"), "re1", "the first regex answers");
	is_str(find(idx, "q.test"), "any", "the first \"*\" answers");
	host_index_free(idx);
	free_patterns();
}

static void bad(const char *text, const char *why)
{
	struct conf_host h;
	char err[320];

	ok(host_pattern_parse(text, &h, err, sizeof(err)) < 0 && strstr(err, why) != NULL,
	   "\"%s\" refused: %s", text, why);
}

static void test_patterns(void)
{
	struct conf_host h;
	char err[320];

	ok(host_pattern_parse("Example.COM.", &h, err, sizeof(err)) == 0 &&
	   h.kind == HOST_EXACT && strcmp(h.name, "example.com") == 0 &&
	   strcmp(h.pattern, "Example.COM.") == 0, "exact: the key lower-cased without its "
	   "trailing dot, the pattern as written");
	host_pattern_free(&h);
	ok(host_pattern_parse("*.Example.com", &h, err, sizeof(err)) == 0 &&
	   h.kind == HOST_LEADING && strcmp(h.name, ".example.com") == 0,
	   "leading wildcard: the suffix with its dot");
	host_pattern_free(&h);
	ok(host_pattern_parse("WWW.example.*", &h, err, sizeof(err)) == 0 &&
	   h.kind == HOST_TRAILING && strcmp(h.name, "www.example.") == 0,
	   "trailing wildcard: the prefix with its dot");
	host_pattern_free(&h);
	ok(host_pattern_parse("~ ^a$", &h, err, sizeof(err)) == 0 && h.kind == HOST_REGEX &&
	   h.regex != NULL && h.match != NULL, "regex: compiled");
	host_pattern_free(&h);
	ok(host_pattern_parse("*", &h, err, sizeof(err)) == 0 && h.kind == HOST_ANY, "\"*\"");
	host_pattern_free(&h);

	bad("", "empty host name");
	bad("*.", "a wildcard needs a domain after \"*.\"");
	bad("a*b", "a wildcard is \"*\" alone");
	bad("*.example.*", "a wildcard is \"*\" alone");
	bad("*example.com", "a wildcard is \"*\" alone");
	bad("example.com:80", "has no ':' (hosts match any port)");
	bad("a b", "no spaces or control characters");
	bad("a/b", "has no '/'");
	bad("a..b", "no empty label");
	bad(".example.com", "no empty label");
	bad("www..*", "no empty label");
	bad("~ ", "empty regex");
	bad("~ (", "bad regex: missing closing parenthesis");
	memset(err, 'a', 254);
	err[254] = '\0';
	bad(err, "at most 253 bytes");
}

/* Many sites, one of each kind per site: each name finds its own. */
static void test_many(void)
{
	enum { N = 10000 };
	static struct conf_site sites[N];
	static char names[N][24];
	static struct conf_host hosts[3 * N];
	struct host_index *idx = host_index_new();
	const struct conf_site *holder;
	char text[64], err[320];
	unsigned i, wrong = 0, clashes = 0;

	for (i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "s%u", i);
		sites[i].name = names[i];
		snprintf(text, sizeof(text), "site%u.example.com", i);
		host_pattern_parse(text, &hosts[3 * i], err, sizeof(err));
		snprintf(text, sizeof(text), "*.w%u.example.net", i);
		host_pattern_parse(text, &hosts[3 * i + 1], err, sizeof(err));
		snprintf(text, sizeof(text), "www.t%u.*", i);
		host_pattern_parse(text, &hosts[3 * i + 2], err, sizeof(err));
		clashes += host_index_add(idx, &hosts[3 * i], &sites[i], &holder) != 0;
		clashes += host_index_add(idx, &hosts[3 * i + 1], &sites[i], &holder) != 0;
		clashes += host_index_add(idx, &hosts[3 * i + 2], &sites[i], &holder) != 0;
	}
	is_int(clashes, 0, "%d sites of 3 patterns each added", N);
	for (i = 0; i < N; i++) {
		const struct conf_site *s;

		snprintf(text, sizeof(text), "SITE%u.example.com:80", i);
		s = host_index_find(idx, (struct slice){ text, strlen(text) });
		wrong += s != &sites[i];
		snprintf(text, sizeof(text), "a.b.w%u.example.net", i);
		s = host_index_find(idx, (struct slice){ text, strlen(text) });
		wrong += s != &sites[i];
		snprintf(text, sizeof(text), "www.t%u.example.org.", i);
		s = host_index_find(idx, (struct slice){ text, strlen(text) });
		wrong += s != &sites[i];
		snprintf(text, sizeof(text), "site%u.example.org", i);
		s = host_index_find(idx, (struct slice){ text, strlen(text) });
		wrong += s != NULL;
	}
	is_int(wrong, 0, "every name, wildcard hit and miss found right among %d sites", N);
	host_index_free(idx);
	for (i = 0; i < 3 * N; i++)
		host_pattern_free(&hosts[i]);
}

int main(void)
{
	test_precedence();
	test_clashes();
	test_patterns();
	test_many();
	return done_testing();
}
