/*
 * test_geo.c: geo sections and GSLB. The loader of CIDR,region files
 * (IPv4 and IPv6, comments, blanks, the longest prefix winning, the
 * default region, every kind of bad line refused at its file:line), the
 * shared table it makes (read-only), the configuration written back and
 * read again, the regions' orders of an upstream, and the balancer
 * picking in them: own region first, the next ones when its servers are
 * down or full, backups last, and no region: every server.
 */
#include "config.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "tap.h"
#include "balance.h"
#include "cidr.h"
#include "conf.h"
#include "geo_table.h"
#include "health.h"
#include "upstream.h"

#define NOW 1000000ull

static char dir[] = "/tmp/portico-geo-XXXXXX";

static void write_file(const char *name, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

static struct conf *load(const char *name, const char *text, char **errs)
{
	char path[PATH_MAX];

	write_file(name, text);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return conf_load(path, 0, errs);
}

static bool has_error(const char *errs, const char *name, int line, const char *msg)
{
	char want[PATH_MAX + 1024];

	snprintf(want, sizeof(want), "%s/%s:%d: %s\n", dir, name, line, msg);
	if (errs == NULL || strstr(errs, want) == NULL) {
		printf("# wanted: %s# got:\n%s", want, errs ? errs : "(none)\n");
		return false;
	}
	return true;
}

/* The region name of the address text in geo i of c. */
static const char *region_of(const struct conf *c, unsigned i, const char *text)
{
	struct cidr a;
	char err[128];
	unsigned id;

	if (cidr_parse(text, &a, err, sizeof(err)) < 0)
		return "(bad address)";
	id = geo_table_lookup(c->geos[i].table, a.addr);
	if (id == 0 && c->geos[i].default_region != NULL)
		id = c->geos[i].default_region->id;
	return conf_region_name(c, id);
}

#define SITE "listen http { address = \"127.0.0.1:8080\" }\n" \
	"site s { route \"/\" { status = true } }\n"

static void test_load(void)
{
	char *errs;
	struct conf *c;

	write_file("a.csv",
		   "# regions of the test\n"
		   "\n"
		   "10.0.0.0/8,eu\n"
		   "  10.1.0.0/16 ,  us  # a comment after\n"
		   "10.1.2.0/24,asia\r\n"
		   "10.1.2.3,eu-west.1\n"
		   "2001:db8::/32,us\n"
		   "2001:db8:1::/48,asia\n"
		   "0.0.0.0/0,world\n");
	write_file("b.csv", "192.0.2.0/24,eu\n");
	c = load("a.conf", "geo main { file = \"a.csv\" }\n"
		 "geo other { file = \"b.csv\"  default = \"none-of-them\" }\n" SITE, &errs);
	if (!ok(c != NULL, "a geo file with comments, blanks, CRLF and spaces loads")) {
		printf("# %s", errs);
		free(errs);
		return;
	}
	is_int(c->ngeos, 2, "two geo sections");
	is_int(geo_table_prefixes(c->geos[0].table), 7, "seven prefixes");
	is_str(region_of(c, 0, "10.9.9.9"), "eu", "IPv4: in 10.0.0.0/8");
	is_str(region_of(c, 0, "10.1.9.9"), "us", "IPv4: the longer 10.1.0.0/16 wins");
	is_str(region_of(c, 0, "10.1.2.9"), "asia", "IPv4: and the longer /24");
	is_str(region_of(c, 0, "10.1.2.3"), "eu-west.1", "IPv4: a host alone is a /32");
	is_str(region_of(c, 0, "192.0.2.1"), "world", "IPv4: 0.0.0.0/0 holds the rest");
	is_str(region_of(c, 0, "2001:db8:5::1"), "us", "IPv6: in 2001:db8::/32");
	is_str(region_of(c, 0, "2001:db8:1::7"), "asia", "IPv6: the longer /48 wins");
	is_str(region_of(c, 0, "2001:db9::1"), "", "IPv6: no prefix, no default: no region");
	is_str(region_of(c, 1, "192.0.2.77"), "eu", "a second geo has its own table");
	is_str(region_of(c, 1, "10.0.0.1"), "none-of-them", "no prefix: the geo's default");
	ok(region_of(c, 0, "10.9.9.9") == region_of(c, 1, "192.0.2.77") &&
	   conf_region_find(c, "eu") != NULL && conf_region_find(c, "mars") == NULL,
	   "region names are interned once for the configuration: two files' \"eu\" is one");
	is_str(conf_region_name(c, 0), "", "region 0 is none, named \"\"");
	ok(c->sites[0].geo == &c->geos[0], "a site's geo defaults to the first geo section");
	conf_free(c);
}

/* Whether writing into the table kills the writer (it is read-only). */
static void test_read_only(void)
{
	char *errs;
	struct conf *c;
	pid_t pid;
	int st = 0;

	write_file("ro.csv", "10.0.0.0/8,eu\n");
	c = load("ro.conf", "geo g { file = \"ro.csv\" }\n" SITE, &errs);
	if (!ok(c != NULL, "read-only: loads")) {
		free(errs);
		return;
	}
	pid = fork();
	if (pid == 0) {
		struct rlimit none = { 0, 0 };

		setrlimit(RLIMIT_CORE, &none);	/* no core file of the crash */
		signal(SIGSEGV, SIG_DFL);	/* a sanitizer's handler would exit */
		*(volatile char *)c->geos[0].table = 1;
		_exit(0);
	}
	waitpid(pid, &st, 0);
	ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
	   "a process that writes into the shared table is stopped: it is read-only");
	conf_free(c);
}

static void test_errors(void)
{
	char *errs = NULL;
	struct conf *c;

	write_file("bad.csv",
		   "10.0.0.0/8,eu\n"		/* 1 */
		   "10.0.0.1/8,eu\n"		/* 2 */
		   "10.1.0.0/16\n"		/* 3 */
		   "10.2.0.0/16,\n"		/* 4 */
		   "10.3.0.0/16,e u\n"		/* 5 */
		   "nonsense,us\n"		/* 6 */
		   "10.4.0.0/33,us\n"		/* 7 */
		   "2001:db8::/32,x/y\n");	/* 8 */
	c = load("bad.conf", "geo g { file = \"bad.csv\" }\n" SITE, &errs);
	ok(c == NULL, "a geo file with bad lines is refused");
	ok(has_error(errs, "bad.csv", 2, "geo \"g\": \"10.0.0.1/8\" has bits set after its "
		     "prefix length"), "a prefix with host bits: at its file:line");
	ok(has_error(errs, "bad.csv", 3, "geo \"g\": \"10.1.0.0/16\" is not CIDR,region: no "
		     "comma"), "a line without a comma");
	ok(has_error(errs, "bad.csv", 4, "geo \"g\": no region after \"10.2.0.0/16,\""),
	   "an empty region");
	ok(has_error(errs, "bad.csv", 5, "geo \"g\": bad region name \"e u\" (1 to 63 letters, "
		     "digits, '-', '_' or '.')"), "a bad region name");
	ok(has_error(errs, "bad.csv", 6, "geo \"g\": \"nonsense\" is not an IPv4 or IPv6 "
		     "address"), "a bad address");
	ok(has_error(errs, "bad.csv", 7, "geo \"g\": bad prefix length \"33\" (at most 32)"),
	   "a bad prefix length");
	ok(has_error(errs, "bad.csv", 8, "geo \"g\": bad region name \"x/y\" (1 to 63 letters, "
		     "digits, '-', '_' or '.')"), "a region name with a slash");
	free(errs);

	write_file("dup.csv", "10.0.0.0/8,eu\n10.0.0.0/8,eu\n11.0.0.0/8,us\n11.0.0.0/8,eu\n");
	c = load("dup.conf", "geo g { file = \"dup.csv\" }\n" SITE, &errs);
	ok(c == NULL && has_error(errs, "dup.csv", 4, "geo \"g\": 11.0.0.0/8 is on line 3 too, "
				  "with region \"us\""),
	   "one prefix with two regions: refused where it comes again");
	ok(errs != NULL && strstr(errs, "dup.csv:2:") == NULL,
	   "one prefix twice with the same region is no mistake");
	conf_free(c);
	free(errs);

	{
		char many[4096];
		size_t n = 0;
		int i;

		for (i = 0; i < 20; i++)
			n += (size_t)snprintf(many + n, sizeof(many) - n, "junk%d\n", i);
		write_file("many.csv", many);
	}
	c = load("many.conf", "geo g { file = \"many.csv\" }\n" SITE, &errs);
	ok(c == NULL && has_error(errs, "many.csv", 11, "geo \"g\": more bad lines; the rest "
				  "of the file is not read") &&
	   strstr(errs, "many.csv:12:") == NULL, "ten bad lines are told, then reading stops");
	free(errs);

	c = load("sec.conf",
		 "geo nofile { }\n"						/* 1 */
		 "geo missing { file = \"nope.csv\"  default = \"a b\" }\n"	/* 2 */
		 "listen http { address = \"127.0.0.1:8080\" }\n"		/* 3 */
		 "upstream plain { geo = \"missing\"  server \"127.0.0.1:9\" { } }\n"	/* 4 */
		 "site s { geo = \"zzz\"  route \"/\" { status = true } }\n",	/* 5 */
		 &errs);
	ok(c == NULL, "bad geo sections are refused");
	ok(has_error(errs, "sec.conf", 1, "geo \"nofile\" has no file (file = "
		     "\"/etc/portico/regions.csv\")"), "a geo needs a file");
	ok(errs != NULL && strstr(errs, "sec.conf:2: geo \"missing\": file \"") &&
	   strstr(errs, "nope.csv\": No such file or directory\n"), "a file that is not there");
	ok(has_error(errs, "sec.conf", 2, "default: bad region name \"a b\" (1 to 63 letters, "
		     "digits, '-', '_' or '.')"), "a bad default region");
	ok(has_error(errs, "sec.conf", 4, "geo is only used when servers of upstream \"plain\" "
		     "have a region"), "an upstream's geo without regions");
	ok(has_error(errs, "sec.conf", 5, "geo: unknown geo \"zzz\" (a geo \"zzz\" { file = ... "
		     "} section at the top level makes one)"), "a site naming an unknown geo");
	free(errs);
}

static const char GSLB[] =
	"geo g { file = \"g.csv\" }\n"					/* 1 */
	"listen http { address = \"127.0.0.1:8080\" }\n"		/* 2 */
	"upstream app {\n"						/* 3 */
	"  balance = \"ewma\"\n"					/* 4 */
	"  region \"asia\" { next = {\"us\"} }\n"			/* 5 */
	"  region \"sa\" { next = {\"us\", \"eu\"} }\n"			/* 6 */
	"  server \"127.0.0.1:9001\" { region = \"eu\" }\n"		/* 7 */
	"  server \"127.0.0.1:9002\" { region = \"us\" }\n"		/* 8 */
	"  server \"127.0.0.1:9003\" { region = \"eu\" }\n"		/* 9 */
	"  server \"127.0.0.1:9004\" { region = \"asia\" }\n"		/* 10 */
	"  server \"127.0.0.1:9005\" { backup = true }\n"		/* 11 */
	"}\n"
	"site s { route \"/\" { upstream = \"app\" } }\n";

static unsigned id(const struct conf *c, const char *name)
{
	const struct conf_region *r = conf_region_find(c, name);

	return r != NULL ? r->id : 0;
}

/* The order for clients of region name, as names: "eu us asia -". */
static const char *order_text(const struct conf *c, const char *name)
{
	static char text[256];
	const unsigned *o;
	unsigned n, i;
	size_t len = 0;

	o = conf_gslb_order(c->upstreams[0].gslb, id(c, name), &n);
	text[0] = '\0';
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%s", i ? " " : "",
					o[i] ? conf_region_name(c, o[i]) : "-");
	return text;
}

static void test_orders(void)
{
	char *errs, *dumped;
	struct conf *c, *again;
	size_t len;
	FILE *f;

	write_file("g.csv", "127.0.0.0/8,eu\n10.0.0.0/8,mars\n");
	c = load("gslb.conf", GSLB, &errs);
	if (!ok(c != NULL, "an upstream with regions loads")) {
		printf("# %s", errs);
		free(errs);
		return;
	}
	ok(c->upstreams[0].gslb != NULL && c->upstreams[0].geo == &c->geos[0],
	   "its geo is the first geo section");
	is_str(order_text(c, "eu"), "eu us asia -", "eu, no list: its own, then the others as "
	       "their servers first appear, the servers without a region last");
	is_str(order_text(c, "asia"), "asia us eu -", "asia: its own, then its list, then the "
	       "rest");
	is_str(order_text(c, "sa"), "us eu asia -", "sa, no server of its own: its list first");
	is_str(order_text(c, "mars"), "eu us asia -", "a region the upstream does not know: "
	       "the servers' order");

	f = open_memstream(&dumped, &len);
	conf_dump(c, f);
	fclose(f);
	ok(strstr(dumped, "\tgeo = \"g\"\n") && strstr(dumped, "\tregion \"sa\" {\n\t\tnext = "
	   "{\"us\", \"eu\"}\n\t}\n") && strstr(dumped, "\t\tregion = \"asia\"\n") &&
	   strstr(dumped, "geo \"g\" {\n\tfile = \""), "-T writes the geo, the region sections "
	   "and the servers' regions");
	again = load("again.conf", dumped, &errs);
	ok(again != NULL && again->upstreams[0].gslb != NULL &&
	   strcmp(order_text(again, "sa"), "us eu asia -") == 0, "... which read back the same");
	conf_free(again);
	free(errs);
	free(dumped);
	conf_free(c);

	c = load("gbad.conf",
		 "listen http { address = \"127.0.0.1:8080\" }\n"		/* 1 */
		 "upstream app {\n"						/* 2 */
		 "  region \"eu\" { next = {\"eu\", \"us\", \"us\", \"mars\"} }\n"	/* 3 */
		 "  server \"127.0.0.1:9001\" { region = \"eu\" }\n"		/* 4 */
		 "  server \"127.0.0.1:9002\" { region = \"us\" }\n"		/* 5 */
		 "}\n"
		 "site s { route \"/\" { upstream = \"app\" } }\n", &errs);
	ok(c == NULL, "bad preference lists are refused");
	ok(has_error(errs, "gbad.conf", 2, "upstream \"app\" has regions, but no geo section says "
		     "where clients are (geo \"NAME\" { file = ... } at the top level)"),
	   "regions without any geo");
	ok(has_error(errs, "gbad.conf", 3, "next: \"eu\" is the section's own region, always "
		     "tried first"), "a list naming its own region");
	ok(has_error(errs, "gbad.conf", 3, "next: \"us\" is listed twice"), "a region twice");
	ok(has_error(errs, "gbad.conf", 3, "next: no server of upstream \"app\" is in region "
		     "\"mars\""), "a region no server has");
	free(errs);
}

/* ---- picking ---- */

struct fix {
	struct conf *c;
	struct health_peer peer[CONF_MAX_SERVERS];
	struct upstream_server us[CONF_MAX_SERVERS];
	struct upstream up;
};

static struct http_message req;

/* The server (9001..9005) a new request of a client of region picks. */
static int pick_for(struct fix *f, const char *region)
{
	struct pick pk;
	int s;

	balance_start(&pk, f->up.conf, &(struct var_source){ .req = &req, .client_addr = "127.0.0.1" });
	if (region != NULL)
		balance_set_region(&pk, id(f->c, region));
	s = balance_pick(&f->up, &pk, NOW);
	return s < 0 ? -1 : 9001 + s;
}

/* The servers a request goes to, one retry after another, until none
 * is left: "9001 9003 9002 ...". */
static const char *tries(struct fix *f, const char *region)
{
	static char text[128];
	struct pick pk;
	size_t len = 0;
	int s;

	balance_start(&pk, f->up.conf, &(struct var_source){ .req = &req, .client_addr = "127.0.0.1" });
	balance_set_region(&pk, id(f->c, region));
	text[0] = '\0';
	while ((s = balance_pick(&f->up, &pk, NOW)) >= 0)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%d", len ? " " : "",
					9001 + s);
	return text;
}

/* Marked down by passive failures (the upstream has no checks). */
static void set_down(struct fix *f, unsigned s, bool down)
{
	f->peer[s].down_until = down ? NOW + 10000 : 0;
}

static void test_pick(void)
{
	struct fix *f = calloc(1, sizeof(*f));
	char *errs;
	unsigned i;
	int n3 = 0, n1 = 0;

	write_file("g.csv", "127.0.0.0/8,eu\n");
	f->c = load("pick.conf", GSLB, &errs);
	if (!ok(f->c != NULL, "pick: loads")) {
		free(errs);
		free(f);
		return;
	}
	f->up.conf = &f->c->upstreams[0];
	f->up.servers = f->us;
	for (i = 0; i < f->up.conf->nservers; i++)
		f->us[i].peer = &f->peer[i];

	for (i = 0; i < 10; i++) {
		int s = pick_for(f, "eu");

		n1 += s == 9001;
		n3 += s == 9003;
	}
	ok(n1 == 5 && n3 == 5, "eu clients share eu's two servers (%d, %d of 10)", n1, n3);
	is_int(pick_for(f, "us"), 9002, "us clients go to us");
	is_int(pick_for(f, "asia"), 9004, "asia clients go to asia");
	is_int(pick_for(f, "sa"), 9002, "sa clients, with no server of their own, go to the "
	       "first of their list");

	f->peer[0].conns = 3;
	f->peer[1].conns = 0;
	f->peer[2].ewma_us = 50000;
	f->peer[2].ewma_stamp = NOW;
	f->peer[0].ewma_us = 50000;
	f->peer[0].ewma_stamp = NOW;
	is_int(pick_for(f, "eu"), 9003, "ewma within the region: the less busy eu server, "
	       "not the idle us one");
	memset(f->peer, 0, sizeof(f->peer));

	is_str(tries(f, "asia"), "9004 9002 9001 9003 9005", "asia's retries: asia, its list "
	       "(us), the rest (eu), the backup last");
	set_down(f, 3, true);
	is_int(pick_for(f, "asia"), 9002, "asia down: its clients go to the next in their list");
	set_down(f, 1, true);
	n1 = pick_for(f, "asia");
	ok(n1 == 9001 || n1 == 9003, "asia and us down: then to the rest, eu (%d)", n1);
	set_down(f, 3, false);
	is_int(pick_for(f, "asia"), 9004, "asia back: its clients come back to it");
	set_down(f, 3, true);

	f->up.conf->servers[1].max_conns = 1;
	set_down(f, 1, false);
	f->peer[1].conns = 1;
	ok(pick_for(f, "us") != 9002, "us full (max_conns): its clients go on to the next "
	   "region");
	f->peer[1].conns = 0;

	set_down(f, 0, true);
	set_down(f, 1, true);
	set_down(f, 2, true);
	is_int(pick_for(f, "eu"), 9005, "every primary of every region down: the backup");
	memset(f->peer, 0, sizeof(f->peer));

	for (i = 0, n1 = 0; i < 8; i++)
		n1 |= 1 << (pick_for(f, NULL) - 9001);
	is_int(n1, 0xf, "a client without a region is balanced over every primary server");
	conf_free(f->c);
	free(f);
}

int main(void)
{
	if (mkdtemp(dir) == NULL) {
		printf("Bail out! no temporary directory\n");
		return 255;
	}
	test_load();
	test_read_only();
	test_errors();
	test_orders();
	test_pick();
	{
		char cmd[PATH_MAX + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			printf("# %s failed\n", cmd);
	}
	return done_testing();
}
