/*
 * test_filter.c: request filter lists as the master prepares them and as
 * a worker runs them: which rules are joined into one alternation, that
 * a joined match names the first listed rule that matches (by its mark),
 * that a rule's own options stay inside its branch, and how header,
 * negated and address rules decide.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "cidr.h"
#include "conf.h"
#include "conf_filter.h"
#include "modules/filter.h"

static char dir[] = "/tmp/portico-filter-XXXXXX";

static const char head[] =
	"error_log = \"/tmp/portico-filter.log\"\n"
	"listen http { address = \"127.0.0.1:1\" }\n"
	"upstream app { server \"127.0.0.1:2\" {} }\n";

/* The configuration of head, filters and a site applying list. */
static struct conf *load(const char *filters, const char *list)
{
	char path[PATH_MAX], *errs = NULL;
	struct conf *c;
	FILE *f;

	snprintf(path, sizeof(path), "%s/f.conf", dir);
	if ((f = fopen(path, "w")) == NULL)
		return NULL;
	fprintf(f, "%s%s\nsite s {\n\tfilters = {%s}\n\troute \"/\" { upstream = \"app\" }\n}\n",
		head, filters, list);
	fclose(f);
	c = conf_load(path, 0, &errs);
	if (c == NULL)
		printf("# %s", errs ? errs : "no errors?\n");
	free(errs);
	return c;
}

static struct http_message request(const char *method, const char *path, const char *query)
{
	struct http_message m;

	memset(&m, 0, sizeof(m));
	m.method = (struct slice){ method, strlen(method) };
	m.path = m.uri = (struct slice){ path, strlen(path) };
	m.query = (struct slice){ query, strlen(query) };
	return m;
}

static void add_field(struct http_message *m, const char *name, const char *value)
{
	m->headers[m->nheaders].name = (struct slice){ name, strlen(name) };
	m->headers[m->nheaders].value = (struct slice){ value, strlen(value) };
	m->nheaders++;
}

static const uint8_t loopback[16] = { [10] = 0xff, [11] = 0xff, 127, 0, 0, 1 };

/* The name of the rule that refuses m from loopback, or "-". */
static const char *refused(const struct conf *c, const struct http_message *m)
{
	const struct conf_filter *f = filter_first(c->sites[0].filters, m, loopback);

	return f != NULL ? f->name : "-";
}

static const char *refused_path(const struct conf *c, const char *path)
{
	static struct http_message m;

	m = request("GET", path, "");
	return refused(c, &m);
}

static void test_steps(void)
{
	struct conf *c = load(
		"filter a { path = \"^/a\" }\n"
		"filter ab { path = \"^/a/b\" }\n"
		"filter dot { path = \"\\\\.php$\" }\n"
		"filter ua1 { header = \"User-Agent\"  match = \"^curl\" }\n"
		"filter ua2 { header = \"user-agent\"  match = \"(?i)^wget\" }\n"
		"filter ref { header = \"Referer\"  match = \"^http://spam\" }\n"
		"filter neg { path = \"^/\"  negate = true }\n"
		"filter cap { path = \"^/(x|y)z\" }\n"
		"filter utf { path = \"(*UTF)^/u\" }\n"
		"filter rec { path = \"^/r(?R)?\" }\n",
		"\"a\", \"ab\", \"dot\", \"ua1\", \"ua2\", \"ref\", \"neg\", \"cap\", \"utf\", "
		"\"rec\"");
	const struct conf_filter_list *l;

	if (!ok(c != NULL, "a list of filters loads"))
		return;
	l = c->sites[0].filters;
	ok(c->sites[0].routes[0].filters == l, "a route without a list has its site's");
	is_int(l->nrules, 10, "the list holds its ten rules");
	is_int(l->nsteps, 7, "rules listed together on one field are joined");
	is_int(l->steps[0].nrules, 3, "... a, ab and dot into one step");
	ok(l->steps[0].regex != NULL, "... which has a joined regex");
	is_int(l->steps[1].nrules, 2, "header rules on the same field join, whatever the case");
	is_int(l->steps[2].nrules, 1, "a rule on another field starts a step of its own");
	ok(!conf_filter_joinable(l->rules[6]), "a negated rule is not joined");
	ok(!conf_filter_joinable(l->rules[7]), "a rule with captures is not joined");
	ok(!conf_filter_joinable(l->rules[8]), "a rule with start-of-pattern options is not joined");
	ok(!conf_filter_joinable(l->rules[9]), "a rule that recurses into its whole pattern is not");
	ok(conf_filter_joinable(l->rules[0]) && conf_filter_joinable(l->rules[2]),
	   "anchored rules and rules that search the whole field are");
	conf_free(c);
}

static void test_first_match(void)
{
	struct conf *c = load(
		"filter a { path = \"^/a\" }\n"
		"filter ab { path = \"^/a/b\" }\n"
		"filter b { path = \"^/b\" }\n"
		"filter ci { path = \"(?i)^/ci\" }\n"
		"filter cs { path = \"^/CS\" }\n"
		"filter php { path = \"\\\\.php$\" }\n",
		"\"php\", \"a\", \"ab\", \"b\", \"ci\", \"cs\"");

	if (!ok(c != NULL, "rules load"))
		return;
	is_str(refused_path(c, "/a/b"), "a", "of two joined rules that match, the first listed");
	is_str(refused_path(c, "/b/x"), "b", "a later branch is named by its mark");
	is_str(refused_path(c, "/a/x.php"), "php",
	       "a rule listed first wins over one that matches further left");
	is_str(refused_path(c, "/CI/x"), "ci", "(?i) holds for its own branch");
	is_str(refused_path(c, "/cs"), "-", "... and not for the next");
	is_str(refused_path(c, "/x/a"), "-", "joined rules stay anchored at the start");
	conf_free(c);
}

/* 600 anchored rules: joined in groups of CONF_FILTER_GROUP_MAX, each
 * path still named by its own rule; 300 words a User-Agent may hold,
 * where "scanner1" is listed before "scanner10" and so refuses it. */
static void test_many(void)
{
	size_t cap = 900 * 80, len = 0, lcap = 900 * 16, llen = 0;
	char *rules = malloc(cap), *list = malloc(lcap), path[64];
	struct conf *c;
	unsigned i, wrong = 0;

	for (i = 0; i < 600; i++) {
		len += (size_t)snprintf(rules + len, cap - len,
					"filter wp%u { path = \"^/wp-admin-%u/\" }\n", i, i);
		llen += (size_t)snprintf(list + llen, lcap - llen, "%s\"wp%u\"", i ? ", " : "", i);
	}
	for (i = 0; i < 300; i++) {
		len += (size_t)snprintf(rules + len, cap - len, "filter ua%u { header = "
					"\"User-Agent\"  match = \"(?i)scanner%u\" }\n", i, i);
		llen += (size_t)snprintf(list + llen, lcap - llen, ", \"ua%u\"", i);
	}
	c = load(rules, list);
	free(rules);
	free(list);
	if (!ok(c != NULL, "600 rules load"))
		return;
	is_int(c->sites[0].filters->nsteps,
	       (600 + CONF_FILTER_GROUP_MAX - 1) / CONF_FILTER_GROUP_MAX +
	       (300 + CONF_FILTER_GROUP_MAX - 1) / CONF_FILTER_GROUP_MAX,
	       "they are joined into groups of at most %d", CONF_FILTER_GROUP_MAX);
	for (i = 0; i < 600; i++) {
		char want[16];

		snprintf(path, sizeof(path), "/wp-admin-%u/index.php", i);
		snprintf(want, sizeof(want), "wp%u", i);
		if (strcmp(refused_path(c, path), want) != 0)
			wrong++;
	}
	is_int(wrong, 0, "each path is refused by its own rule");
	is_str(refused_path(c, "/wp-admin-600/"), "-", "and one no rule names passes");
	wrong = 0;
	for (i = 0; i < 300; i++) {
		struct http_message m = request("GET", "/", "");
		char ua[64], want[16], word[32];
		unsigned j;

		snprintf(ua, sizeof(ua), "Mozilla/5.0 (SCANNER%u)", i);
		add_field(&m, "User-Agent", ua);
		for (j = 0; j <= i; j++) {	/* the first listed word it holds */
			snprintf(word, sizeof(word), "SCANNER%u", j);
			if (strstr(ua, word) != NULL)
				break;
		}
		snprintf(want, sizeof(want), "ua%u", j);
		if (strcmp(refused(c, &m), want) != 0) {
			printf("# %s: %s, not %s\n", ua, refused(c, &m), want);
			wrong++;
		}
	}
	is_int(wrong, 0, "each User-Agent is refused by the first listed word it holds");
	conf_free(c);
}

static void test_fields(void)
{
	struct conf *c = load(
		"filter m { method = \"^(GET|HEAD)$\"  negate = true }\n"
		"filter q { query = \"(?i)union.+select\" }\n"
		"filter bot1 { header = \"User-Agent\"  match = \"^bot1\" }\n"
		"filter bot2 { header = \"User-Agent\"  match = \"^bot2\" }\n"
		"filter noref { header = \"Referer\"  match = \"^$\" }\n"
		"filter net { address = {\"10.0.0.0/8\", \"127.0.0.0/8\"} }\n",
		"\"m\", \"q\", \"bot1\", \"bot2\", \"noref\", \"net\"");
	struct http_message m;

	if (!ok(c != NULL, "rules on every field load"))
		return;
	m = request("DELETE", "/", "");
	is_str(refused(c, &m), "m", "a negated rule refuses what it does not match");
	m = request("GET", "/", "id=1 UNION ALL SELECT 2");
	is_str(refused(c, &m), "q", "a query rule");
	m = request("GET", "/", "");
	add_field(&m, "Referer", "http://x/");
	add_field(&m, "User-Agent", "ok");
	add_field(&m, "user-agent", "bot2 x");
	add_field(&m, "User-Agent", "bot1 x");
	is_str(refused(c, &m), "bot1", "of the fields of a name, the first listed rule any matches");
	m = request("GET", "/", "");
	add_field(&m, "User-Agent", "ok");
	is_str(refused(c, &m), "noref", "a missing field is seen as empty");
	m = request("GET", "/", "");
	add_field(&m, "Referer", "http://x/");
	is_str(refused(c, &m), "net", "an address rule refuses a client in its prefixes");
	conf_free(c);
}

/* A match that fails (PCRE2's match limit here) refuses under the name
 * of the rule that failed, not the first of its group; a rule listed
 * before it that matches alone still comes first. */
static void test_failed(void)
{
	struct conf *c = load(
		"filter first { path = \"^/first\" }\n"
		"filter end { path = \"b$\" }\n"
		"filter evil { path = \"^/(?:a|aa)+$\" }\n"
		"filter third { path = \"^/third\" }\n",
		"\"first\", \"evil\", \"third\", \"end\"");
	char path[64];

	if (!ok(c != NULL, "a group with a rule that backtracks loads"))
		return;
	is_int(c->sites[0].filters->steps[0].nrules, 4, "... joined");
	memset(path, 'a', 40);
	path[0] = '/';
	path[40] = 'c';
	path[41] = '\0';
	is_str(refused_path(c, path), "evil", "a failed match names the rule that failed");
	conf_free(c);
	c = load(
		"filter first { path = \"^/first\" }\n"
		"filter end { path = \"c$\" }\n"
		"filter evil { path = \"^/(?:a|aa)+$\" }\n",
		"\"first\", \"end\", \"evil\"");
	if (!ok(c != NULL, "rules load"))
		return;
	is_str(refused_path(c, path), "end",
	       "... and a rule listed before it that matches refuses first, as if not joined");
	conf_free(c);
}

/* A long header against a pattern that repeats a group, which the
 * default 32 KiB JIT stack cannot match: the rule (negated, to tell a
 * failure from a match) lets it pass once the worker's stack is made. */
static void test_jit_stack(void)
{
	struct conf *c = load(
		"filter shape { header = \"X-Long\"  match = \"^(a|b)*x$\"  negate = true }\n",
		"\"shape\"");
	struct http_message m = request("GET", "/", "");
	static char value[16001];

	if (!ok(c != NULL, "a rule on a long header loads"))
		return;
	memset(value, 'a', sizeof(value) - 2);
	value[sizeof(value) - 2] = 'x';
	add_field(&m, "X-Long", value);
	is_str(refused(c, &m), "shape", "with PCRE2's default JIT stack, the match fails");
	is_int(filter_match_init(NULL), 0, "a worker makes its JIT stack");
	is_str(refused(c, &m), "-", "... with which a 16,000-byte header that matches passes");
	conf_free(c);
}

int main(void)
{
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 255;
	}
	test_steps();
	test_first_match();
	test_many();
	test_fields();
	test_failed();
	test_jit_stack();
	{
		char cmd[PATH_MAX + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", dir);
	}
	return done_testing();
}
