/*
 * test_conf.c: the configuration: parsing, defaults, includes, every
 * error with its file and line, value parsers, load balancing and health
 * check options, dump.
 */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include "tap.h"
#include "log.h"
#include "conf.h"

#ifndef RUNSTATEDIR
#define RUNSTATEDIR "/run"
#endif
#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR "/var"
#endif

static char dir[] = "/tmp/portico-test-conf-XXXXXX";
static char paths[64][PATH_MAX], dirs[16][PATH_MAX];
static int npaths, ndirs;

/* Write text to dir/name, making its directories; returns the path. */
static const char *put(const char *name, const char *text)
{
	char *path = paths[npaths++];
	FILE *fp;
	char *slash;

	snprintf(path, PATH_MAX, "%s/%s", dir, name);
	for (slash = path + strlen(dir) + 1; (slash = strchr(slash, '/'));
	     slash++) {
		*slash = '\0';
		if (mkdir(path, 0755) == 0 && ndirs < 16)
			snprintf(dirs[ndirs++], PATH_MAX, "%s", path);
		*slash = '/';
	}
	fp = fopen(path, "w");
	if (fp == NULL) {
		perror(path);
		exit(255);
	}
	fputs(text, fp);
	fclose(fp);
	return path;
}

/* Load text as dir/name; errors (or "") into errs, which the caller frees. */
static struct conf *load(const char *name, const char *text, char **errs)
{
	struct conf *c = conf_load(put(name, text), 0, errs);

	if (*errs == NULL)
		*errs = strdup("");
	return c;
}

/* Does errs hold the line "dir/file:line: msg"? */
static bool has_error(const char *errs, const char *file, int line,
		      const char *msg)
{
	char want[PATH_MAX + 512];

	snprintf(want, sizeof(want), "%s/%s:%d: %s\n", dir, file, line, msg);
	return strstr(errs, want) != NULL;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Are the "file:LINE:" numbers of errs, all in file, non-decreasing? */
static bool lines_sorted(const char *errs, const char *file)
{
	char head[PATH_MAX + 8];
	const char *p;
	int last = 0, n;

	snprintf(head, sizeof(head), "%s/%s:", dir, file);
	for (p = errs; *p; p = strchr(p, '\n') + 1) {
		if (strncmp(p, head, strlen(head)) != 0)
			return false;
		n = atoi(p + strlen(head));
		if (n < last)
			return false;
		last = n;
	}
	return last > 0;
}

static const char *addr_text(const struct sockaddr_storage *ss)
{
	static char buf[160];

	conf_format_address((const struct sockaddr *)ss, buf, sizeof(buf));
	return buf;
}

static const char full_conf[] =
	"# portico test configuration\n"			/* 1 */
	"user = \"root\"\n"					/* 2 */
	"workers = 3\n"						/* 3 */
	"cpu_affinity = \"auto\"\n"				/* 4 */
	"daemon = false\n"					/* 5 */
	"pid_file = \"/tmp/p.pid\"\n"				/* 6 */
	"error_log = \"/tmp/e.log\"\n"				/* 7 */
	"log_level = \"debug\"\n"				/* 8 */
	"worker_connections = 1024\n"				/* 9 */
	"client_header_timeout = \"500ms\"\n"			/* 10 */
	"client_body_timeout = \"2m\"\n"			/* 11 */
	"keepalive_timeout = \"0\"\n"				/* 12 */
	"send_timeout = 10\n"					/* 13 */
	"shutdown_timeout = \"1h\"\n"				/* 14 */
	"header_buffer_size = \"16K\"\n"			/* 15 */
	"max_request_line = 4096\n"				/* 16 */
	"max_header_line = \"1k\"\n"				/* 17 */
	"listen http { address = \"127.0.0.1:8080\" backlog = 100 }\n"
	"listen v6 { address = \"[::1]:8081\" }\n"
	"upstream app {\n"
	"  keepalive = 0\n"
	"  connect_timeout = \"1s\"\n"
	"  send_timeout = \"2s\"\n"
	"  read_timeout = \"3s\"\n"
	"  server \"127.0.0.1:9001\" { weight = 5 }\n"
	"  server \"[::1]:9002\" { }\n"
	"}\n"
	"upstream php { server \"127.0.0.1:9003\" {} }\n"
	"site example {\n"
	"  listen = {\"http\"}\n"
	"  hosts = {\"Example.COM\", \"*.example.com\"}\n"
	"  access_log = \"/tmp/a.log\"\n"
	"  route \"/\" { upstream = \"app\" }\n"
	"  route \"~ \\\\.php$\" { upstream = \"php\" }\n"
	"  route \"/static/\" { upstream = \"app\" }\n"
	"}\n"
	"site fallback { route \"/\" { upstream = \"app\" } }\n";

static void test_full(void)
{
	struct conf *c;
	struct conf_site *s;
	struct conf_route *r;
	char *errs;

	c = load("full.conf", full_conf, &errs);
	ok(c != NULL, "full config loads");
	is_str(errs, "", "full config: no errors");
	free(errs);
	if (c == NULL)
		return;

	is_str(c->user, "root", "user");
	ok(c->user_explicit, "user_explicit when written");
	is_int(c->workers, 3, "workers");
	ok(c->cpu_affinity, "cpu_affinity auto");
	ok(!c->daemon, "daemon false");
	is_str(c->pid_file, "/tmp/p.pid", "pid_file");
	is_str(c->error_log, "/tmp/e.log", "error_log");
	is_int(c->log_level, LL_DEBUG, "log_level debug");
	is_int(c->worker_connections, 1024, "worker_connections");
	is_int(c->client_header_timeout, 500, "client_header_timeout 500ms");
	is_int(c->client_body_timeout, 120000, "client_body_timeout 2m");
	is_int(c->keepalive_timeout, 0, "keepalive_timeout 0 allowed");
	is_int(c->send_timeout, 10000, "send_timeout plain seconds");
	is_int(c->shutdown_timeout, 3600000, "shutdown_timeout 1h");
	is_int(c->header_buffer_size, 16384, "header_buffer_size 16K");
	is_int(c->max_request_line, 4096, "max_request_line bytes");
	is_int(c->max_header_line, 1024, "max_header_line 1k");

	is_int(c->nlistens, 2, "two listens");
	is_str(c->listens[0].name, "http", "listen name");
	is_str(c->listens[0].address, "127.0.0.1:8080", "listen address as written");
	is_str(addr_text(&c->listens[0].addr), "127.0.0.1:8080", "listen address parsed");
	is_int(c->listens[0].addrlen, sizeof(struct sockaddr_in), "listen addrlen v4");
	is_int(c->listens[0].backlog, 100, "backlog");
	is_int(c->listens[1].index, 1, "listen index");
	is_str(addr_text(&c->listens[1].addr), "[::1]:8081", "IPv6 listen");
	is_int(c->listens[1].backlog, 511, "backlog default");

	is_int(c->nupstreams, 2, "two upstreams");
	is_str(c->upstreams[0].name, "app", "upstream name");
	is_int(c->upstreams[0].keepalive, 0, "upstream keepalive 0");
	is_int(c->upstreams[0].connect_timeout, 1000, "connect_timeout");
	is_int(c->upstreams[0].send_timeout, 2000, "upstream send_timeout");
	is_int(c->upstreams[0].read_timeout, 3000, "read_timeout");
	is_int(c->upstreams[0].nservers, 2, "two servers");
	is_str(c->upstreams[0].servers[0].address, "127.0.0.1:9001", "server address");
	is_int(c->upstreams[0].servers[0].weight, 5, "server weight");
	is_int(c->upstreams[0].servers[1].weight, 1, "server weight default");
	is_str(addr_text(&c->upstreams[0].servers[1].addr), "[::1]:9002",
	    "server IPv6 address");
	is_int(c->upstreams[1].index, 1, "upstream index");
	is_int(c->upstreams[1].keepalive, 32, "upstream keepalive default");
	is_int(c->upstreams[1].connect_timeout, 5000, "connect_timeout default");
	is_int(c->upstreams[1].read_timeout, 60000, "read_timeout default");

	is_int(c->nsites, 2, "two sites");
	s = &c->sites[0];
	is_str(s->name, "example", "site name");
	is_int(s->nlistens, 1, "site listens one");
	ok(s->listens[0] == &c->listens[0], "site listen points at listener");
	is_int(s->nhosts, 2, "site hosts");
	is_str(s->hosts[0].name, "example.com", "host lower-cased");
	ok(s->hosts[0].kind == HOST_EXACT, "exact host");
	is_str(s->hosts[1].name, ".example.com", "wildcard host suffix");
	ok(s->hosts[1].kind == HOST_LEADING, "wildcard host");
	is_str(s->access_log, "/tmp/a.log", "access_log");
	is_int(s->nroutes, 3, "three routes in file order");
	r = &s->routes[0];
	is_str(r->pattern, "/", "prefix route pattern");
	ok(r->prefix == r->pattern && r->prefix_len == 1, "prefix route prefix");
	ok(r->regex == NULL, "prefix route has no regex");
	ok(r->upstream == &c->upstreams[0], "route points at its upstream");
	r = &s->routes[1];
	is_str(r->pattern, "~ \\.php$", "regex route pattern");
	ok(r->regex != NULL && r->match != NULL, "regex compiled, match data made");
	ok(r->prefix == NULL && r->prefix_len == 0, "regex route has no prefix");
	ok(r->upstream == &c->upstreams[1], "regex route upstream");
	if (r->regex) {
		ok(pcre2_match(r->regex, (PCRE2_SPTR)"/a/b.php", 8, 0, 0,
		    r->match, NULL) >= 0, "regex matches /a/b.php");
		ok(pcre2_match(r->regex, (PCRE2_SPTR)"/a/b.phps", 9, 0, 0,
		    r->match, NULL) < 0, "regex does not match /a/b.phps");
	}
	is_int(s->routes[2].prefix_len, 8, "prefix_len of /static/");

	s = &c->sites[1];
	is_int(s->nlistens, 2, "site listens default: all");
	ok(s->listens[0] == &c->listens[0] && s->listens[1] == &c->listens[1],
	    "site listens default in order");
	is_int(s->nhosts, 1, "hosts default");
	ok(s->hosts[0].kind == HOST_ANY, "hosts default \"*\": any host");
	ok(s->access_log == NULL, "no access_log by default");
	conf_free(c);
}

static void test_defaults(void)
{
	struct conf *c;
	char *errs;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	c = load("min.conf",
	    "listen l { address = \"8080\" }\n"
	    "upstream u { server \"localhost:9000\" {} }\n"
	    "site s { route \"/\" { upstream = u } }\n", &errs);
	ok(c != NULL, "minimal config loads");
	is_str(errs, "", "minimal config: no errors");
	free(errs);
	if (c == NULL)
		return;
	is_str(c->user, "nobody", "user default");
	ok(!c->user_explicit, "user not explicit");
	is_int(c->workers, cpus > 512 ? 512 : cpus, "workers auto = online CPUs");
	ok(!c->cpu_affinity, "cpu_affinity default off");
	ok(c->daemon, "daemon default true");
	is_str(c->pid_file, RUNSTATEDIR "/portico.pid", "pid_file default");
	is_str(c->error_log, LOCALSTATEDIR "/log/portico/error.log",
	    "error_log default");
	is_int(c->log_level, LL_INFO, "log_level default");
	is_int(c->worker_connections, 4096, "worker_connections default");
	is_int(c->client_header_timeout, 15000, "client_header_timeout default");
	is_int(c->client_body_timeout, 60000, "client_body_timeout default");
	is_int(c->keepalive_timeout, 75000, "keepalive_timeout default");
	is_int(c->send_timeout, 60000, "send_timeout default");
	is_int(c->shutdown_timeout, 30000, "shutdown_timeout default");
	is_int(c->header_buffer_size, 32768, "header_buffer_size default");
	is_int(c->max_request_line, 8192, "max_request_line default");
	is_int(c->max_header_line, 8192, "max_header_line default");
	is_str(addr_text(&c->listens[0].addr), "0.0.0.0:8080", "port alone");
	is_str(addr_text(&c->upstreams[0].servers[0].addr), "127.0.0.1:9000",
	    "localhost server");
	conf_free(c);

	c = load("auto.conf",
	    "workers = \"auto\"\ncpu_affinity = \"off\"\n"
	    "listen l { address = \"8080\" }\n"
	    "upstream u { server \"127.0.0.1:9000\" {} }\n"
	    "site s { route \"/\" { upstream = u } }\n", &errs);
	ok(c != NULL && c->workers >= 1 && !c->cpu_affinity,
	    "workers \"auto\", cpu_affinity \"off\" written out");
	free(errs);
	conf_free(c);
}

static void test_include(void)
{
	struct conf *c;
	char *errs, cwd[PATH_MAX];

	/* Relative to the including file, not to the working directory. */
	if (getcwd(cwd, sizeof(cwd)) == NULL || chdir("/") == -1)
		cwd[0] = '\0';
	put("inc/sub/more.conf",
	    "# more\n"
	    "upstream php { server \"127.0.0.1:9003\" {} }\n");
	put("inc/sub/ups.conf",
	    "upstream app {\n"
	    "  server \"127.0.0.1:9001\" {}\n"
	    "}\n"
	    "include(\"more.conf\")\n");
	put("inc/sites/a.conf", "site a { route \"/\" { upstream = \"php\" } }\n");
	put("inc/sites/b.conf", "site b { route \"/\" { upstream = \"app\" } }\n");
	c = load("inc/main.conf",
	    "listen l { address = \"8080\" }\n"
	    "include(\"sub/ups.conf\") include(\"sites/*.conf\")\n"
	    "site c { route \"/\" { upstream = \"app\" } }\n", &errs);
	ok(c != NULL, "relative include loads");
	is_str(errs, "", "relative include: no errors");
	if (c != NULL) {
		is_int(c->nupstreams, 2, "upstreams from nested includes");
		is_str(c->upstreams[1].name, "php", "nested include, relative to its includer");
		is_int(c->nsites, 3, "glob include: two sites + one after it");
		is_str(c->sites[0].name, "a", "glob include in sorted order");
		is_str(c->sites[2].name, "c", "text after include on the same line");
	}
	free(errs);
	conf_free(c);

	/* Errors inside included files carry their file and line. */
	put("inc2/part.conf",
	    "# comment\n"
	    "\n"
	    "upstream u {\n"
	    "  server \"127.0.0.1:9001\" { weight = 0 }\n"
	    "}\n");
	c = load("inc2/main.conf",
	    "listen l { address = \"8080\" }\n"
	    "include(\"part.conf\")\n"
	    "site s {\n"
	    "  route \"/\" { upstream = \"nope\" }\n"
	    "}\n", &errs);
	ok(c == NULL, "errors in included file fail the load");
	ok(has_error(errs, "inc2/part.conf", 4, "weight: bad number \"0\" "
	    "(expected 1 to 1000)"), "error in included file: its file:line");
	ok(has_error(errs, "inc2/main.conf", 4, "route \"/\": unknown upstream "
	    "\"nope\""), "line after include is right in the main file");
	free(errs);

	/* libconfuse's syntax errors inside an include. */
	put("inc3/bad.conf", "# c\n/* a\n b */\nlisten x {\n  bogus = 1\n}\n");
	c = load("inc3/main.conf", "// c\ninclude(\"bad.conf\")\n", &errs);
	ok(c == NULL && has_error(errs, "inc3/bad.conf", 5,
	    "no such option \"bogus\" in a listen section"), "syntax error in include: file:line");
	free(errs);

	c = load("inc4/main.conf", "\n\ninclude(\"missing.conf\")\n", &errs);
	ok(c == NULL && strstr(errs, "/inc4/main.conf:3: include(\"") != NULL &&
	    strstr(errs, "missing.conf\"): cannot read: No such file") != NULL,
	    "missing include: error at the include line");
	free(errs);

	c = load("inc5/self.conf", "include(\"self.conf\")\n", &errs);
	ok(c == NULL && strstr(errs, "the file includes itself") != NULL,
	    "include loop detected");
	free(errs);

	if (cwd[0] != '\0' && chdir(cwd) == -1)
		perror("chdir");
}

static void test_errors(void)
{
	char twin[PATH_MAX + 128];
	struct conf *c;
	char *errs;

	c = load("bad.conf",
	    "user = \"no-such-user-portico\"\n"			/* 1 */
	    "workers = 513\n"					/* 2 */
	    "cpu_affinity = \"on\"\n"				/* 3 */
	    "log_level = \"loud\"\n"				/* 4 */
	    "client_body_timeout = \"5x\"\n"			/* 5 */
	    "max_header_line = \"8q\"\n"			/* 6 */
	    "worker_connections = lots\n"			/* 7 */
	    "listen a { address = \"1.2.3.4\" }\n"		/* 8 */
	    "listen b {\n"					/* 9 */
	    "  address = \"example.com:80\"\n"			/* 10 */
	    "}\n"						/* 11 */
	    "listen c { address = \"*:80\" }\n"			/* 12 */
	    "listen d { address = \"0.0.0.0:80\" }\n"		/* 13 */
	    "listen a { address = \"[::1]:80\" }\n"		/* 14 */
	    "listen e { }\n"					/* 15 */
	    "upstream u { }\n"					/* 16 */
	    "upstream v {\n"					/* 17 */
	    "  server \"127.0.0.1:1\" { weight = 1001 }\n"	/* 18 */
	    "  server \"127.0.0.1:2\" { }\n"			/* 19 */
	    "  server \"127.0.0.1:2\" { }\n"			/* 20 */
	    "}\n"						/* 21 */
	    "upstream v { server \"127.0.0.1:3\" {} }\n"	/* 22 */
	    "site s {\n"					/* 23 */
	    "  listen = {\"c\",\n"				/* 24 */
	    "            \"nope\"}\n"				/* 25 */
	    "  route \"foo\" { upstream = \"v\" }\n"		/* 26 */
	    "  route \"/a\" {\n"				/* 27 */
	    "    upstream = \"zz\"\n"				/* 28 */
	    "  }\n"						/* 29 */
	    "  route \"~ (\" { upstream = \"v\" }\n"		/* 30 */
	    "  route \"/b\" { }\n"				/* 31 */
	    "  route \"/a\" { upstream = \"v\" }\n"		/* 32 */
	    "}\n"						/* 33 */
	    "site t { }\n"					/* 34 */
	    "site s { route \"/\" { upstream = \"v\" } }\n",	/* 35 */
	    &errs);
	ok(c == NULL, "bad config refused");
	ok(has_error(errs, "bad.conf", 1, "unknown user \"no-such-user-portico\""),
	    "unknown user");
	ok(has_error(errs, "bad.conf", 2, "workers: expected \"auto\" or a number "
	    "from 1 to 512, not \"513\""), "workers out of range");
	ok(has_error(errs, "bad.conf", 3, "cpu_affinity: expected \"auto\" or "
	    "\"off\", not \"on\""), "cpu_affinity not auto/off");
	ok(has_error(errs, "bad.conf", 4, "log_level: unknown level \"loud\" (use "
	    "debug, info, notice, warn, error, crit, alert or emerg)"),
	    "unknown log_level");
	ok(has_error(errs, "bad.conf", 5, "client_body_timeout: bad duration \"5x\" "
	    "(use e.g. \"500ms\", \"15s\", \"2m\", \"1h\")"), "bad duration");
	ok(has_error(errs, "bad.conf", 6, "max_header_line: bad size \"8q\" (use "
	    "e.g. \"4096\", \"16k\", \"1m\"; at most 1g)"), "bad size");
	ok(has_error(errs, "bad.conf", 7, "worker_connections: bad number \"lots\" "
	    "(expected 2 to 1048576)"), "bad number");
	ok(has_error(errs, "bad.conf", 8, "bad address \"1.2.3.4\": missing port "
	    "(use \"host:port\")"), "address without port");
	ok(has_error(errs, "bad.conf", 10, "bad address \"example.com:80\": "
	    "\"example.com\" is not an IP address (host names are not resolved)"),
	    "host names are not resolved: error at the address line");
	ok(strstr(errs, "/bad.conf:13: listen \"d\": address 0.0.0.0:80 is already "
	    "used by listen \"c\" at ") != NULL, "two listeners on one address");
	ok(strstr(errs, "/bad.conf:14: duplicate listen \"a\" (first defined at ")
	    != NULL && strstr(errs, "/bad.conf:8)\n") != NULL, "duplicate listen name");
	ok(has_error(errs, "bad.conf", 15, "listen \"e\" has no address"),
	    "listen without address");
	ok(has_error(errs, "bad.conf", 16, "upstream \"u\" has no server"),
	    "upstream without server");
	ok(has_error(errs, "bad.conf", 18, "weight: bad number \"1001\" (expected "
	    "1 to 1000)"), "weight out of range");
	ok(strstr(errs, "/bad.conf:20: server \"127.0.0.1:2\" is defined twice in "
	    "upstream \"v\" (first at ") != NULL, "duplicate server in an upstream");
	ok(strstr(errs, "/bad.conf:22: duplicate upstream \"v\"") != NULL,
	    "duplicate upstream name");
	ok(has_error(errs, "bad.conf", 25, "site \"s\": unknown listen \"nope\""),
	    "unknown listener: at its line in the list");
	ok(has_error(errs, "bad.conf", 26, "route \"foo\": a path starts with \"/\" (after "
	    "\"=\" or \"^~\" when it has them; a regex starts with \"~ \" or \"~* \")"),
	    "prefix without /");
	ok(has_error(errs, "bad.conf", 28, "route \"/a\": unknown upstream \"zz\""),
	    "unknown upstream: at the upstream = line");
	ok(has_error(errs, "bad.conf", 30, "route \"~ (\": bad regex: missing "
	    "closing parenthesis at offset 1"), "bad regex with PCRE2 message and offset");
	ok(has_error(errs, "bad.conf", 31, "route \"/b\" has no upstream"),
	    "route without upstream");
	snprintf(twin, sizeof(twin), "route \"/a\" would never be chosen: the route at "
		 "%s/bad.conf:27 matches the same paths and has no condition", dir);
	ok(has_error(errs, "bad.conf", 32, twin), "a route after a twin without conditions");
	ok(has_error(errs, "bad.conf", 34, "site \"t\" has no route"),
	    "site without route");
	ok(strstr(errs, "/bad.conf:35: duplicate site \"s\"") != NULL,
	    "duplicate site name");
	is_int(count_lines(errs), 24, "all errors in one run, nothing else");
	ok(lines_sorted(errs, "bad.conf"), "errors come in file order");
	free(errs);

	c = load("empty.conf", "# nothing\n\n", &errs);
	ok(c == NULL, "empty config refused");
	ok(has_error(errs, "empty.conf", 2, "no listen defined: portico needs at "
	    "least one, as in: listen http { address = \"80\" }"),
	    "no listen: at the end of the main file");
	ok(has_error(errs, "empty.conf", 2, "no site defined: portico needs at "
	    "least one"), "no site");
	free(errs);

	c = load("misc.conf",
	    "daemon = maybe\n"
	    "pid_file = \"\"\n"
	    "listen l { address = \"8080\" backlog = 70000 }\n"
	    "upstream u { keepalive = -1 connect_timeout = 0\n"
	    "  server \"*:80\" {} }\n"
	    "site s { hosts = {\"a*b\", \"*.\"}\n"
	    "  route \"/\" { upstream = \"u\" } }\n", &errs);
	ok(has_error(errs, "misc.conf", 1, "daemon: expected true or false, not "
	    "\"maybe\""), "bad boolean");
	ok(has_error(errs, "misc.conf", 2, "pid_file must not be empty"),
	    "empty path");
	ok(has_error(errs, "misc.conf", 3, "backlog: bad number \"70000\" "
	    "(expected 1 to 65535)"), "backlog out of range");
	ok(has_error(errs, "misc.conf", 4, "keepalive: bad number \"-1\" "
	    "(expected 0 to 65535)"), "negative keepalive");
	ok(strstr(errs, "/misc.conf:4: connect_timeout: bad duration \"0\"") != NULL,
	    "zero connect_timeout");
	ok(has_error(errs, "misc.conf", 5, "server: bad address \"*:80\": a server "
	    "needs a host, as in \"127.0.0.1:9000\""), "wildcard server address");
	ok(has_error(errs, "misc.conf", 6, "site \"s\": bad host \"a*b\": a wildcard is "
	    "\"*\" alone, \"*.\" before a domain or \".*\" after a name (a regex starts "
	    "with \"~ \")"), "bad host pattern");
	ok(strstr(errs, "/misc.conf:6: site \"s\": bad host \"*.\"") != NULL,
	    "wildcard without domain");
	free(errs);
}

static void test_syntax(void)
{
	struct conf *c;
	char *errs;

	/* libconfuse 3.3 miscounts lines after comments; ours do not. */
	c = load("syn.conf",
	    "# one\n"
	    "// two\n"
	    "/* three\n"
	    "   four */ user = \"root\" # five\n"
	    "listen x {\n"
	    "  bogus = 1\n"
	    "}\n", &errs);
	ok(c == NULL, "syntax error refused");
	ok(has_error(errs, "syn.conf", 6, "no such option \"bogus\" in a listen section"),
	    "libconfuse error: file:line, after comments");
	is_int(count_lines(errs), 1, "libconfuse stops at its first error");
	free(errs);

	/* The loader's hidden option, which the text carries after each
	 * section's '{', is nobody's to write. */
	c = load("mark.conf", "listen x {\n  \"\\001\" = \"y\"\n}\n", &errs);
	ok(c == NULL && has_error(errs, "mark.conf", 2, "no such option \"\\x01\" in a listen "
				  "section"), "the hidden option written by hand is unknown");
	free(errs);

	c = load("syn2.conf", "listen x {\n  address = \"80\"\n", &errs);
	ok(c == NULL && has_error(errs, "syn2.conf", 1, "this '{' is never "
	    "closed"), "unclosed section");
	free(errs);

	put("syn2b.conf", "upstream u { server \"127.0.0.1:1\" {} }\n}\n");
	c = load("syn2a.conf", "site s {\ninclude(\"syn2b.conf\")\n"
	    "route \"/\" { upstream = \"u\" } }\n", &errs);
	ok(c == NULL && has_error(errs, "syn2b.conf", 2, "unexpected '}' (no section is open)"),
	    "braces must balance within each file");
	free(errs);

	c = load("syn3.conf", "site s {\n  hosts = {*.example.com}\n}\n", &errs);
	ok(has_error(errs, "syn3.conf", 2, "'*' must be quoted, as in "
	    "\"*.example.com\""), "unquoted '*' is an error, not dropped");
	free(errs);

	c = load("syn4.conf", "user = \"root\n", &errs);
	ok(has_error(errs, "syn4.conf", 1, "this double quote is not closed on its line"),
	    "unterminated string");
	free(errs);

	c = load("syn5.conf", "\n/* never closed\n", &errs);
	ok(has_error(errs, "syn5.conf", 2, "this comment is never closed"),
	    "unterminated comment");
	free(errs);

	c = load("syn6.conf", "tls = true\n", &errs);
	ok(has_error(errs, "syn6.conf", 1, "tls is not allowed in the top level: it goes in "
	    "a listen section or an upstream"), "an option where it is not allowed says where it is");
	free(errs);

	c = conf_load("/nonexistent/portico.conf", 0, &errs);
	ok(c == NULL && errs != NULL && strcmp(errs, "/nonexistent/portico.conf: "
	    "cannot read: No such file or directory\n") == 0,
	    "missing main file");
	free(errs);
}

static void test_parsers(void)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char err[128];

	is_int(conf_parse_duration("500ms"), 500, "duration ms");
	is_int(conf_parse_duration("15s"), 15000, "duration s");
	is_int(conf_parse_duration("2m"), 120000, "duration m");
	is_int(conf_parse_duration("1h"), 3600000, "duration h");
	is_int(conf_parse_duration("15"), 15000, "duration plain seconds");
	is_int(conf_parse_duration("0"), 0, "duration zero");
	is_int(conf_parse_duration("1S"), 1000, "duration unit case-insensitive");
	is_int(conf_parse_duration(""), -1, "duration empty");
	is_int(conf_parse_duration("s"), -1, "duration without number");
	is_int(conf_parse_duration("-1s"), -1, "duration negative");
	is_int(conf_parse_duration("1x"), -1, "duration unknown unit");
	is_int(conf_parse_duration("1 s"), -1, "duration with space");
	is_int(conf_parse_duration("1.5s"), -1, "duration fraction");
	is_int(conf_parse_duration("99999999999h"), -1, "duration overflow");

	is_int(conf_parse_usec("50us"), 50, "usec us");
	is_int(conf_parse_usec("2ms"), 2000, "usec ms");
	is_int(conf_parse_usec("2MS"), 2000, "usec unit case-insensitive");
	is_int(conf_parse_usec("0"), 0, "usec zero");
	is_int(conf_parse_usec("50"), -1, "usec needs a unit");
	is_int(conf_parse_usec("1s"), -1, "usec refuses seconds");
	is_int(conf_parse_usec("us"), -1, "usec without number");
	is_int(conf_parse_usec("99999999999ms"), -1, "usec overflow");

	is_int(conf_parse_size("4096"), 4096, "size bytes");
	is_int(conf_parse_size("16k"), 16384, "size k");
	is_int(conf_parse_size("16K"), 16384, "size K");
	is_int(conf_parse_size("1m"), 1048576, "size m");
	is_int(conf_parse_size("1G"), 1073741824LL, "size G");
	is_int(conf_parse_size("0"), 0, "size zero parses");
	is_int(conf_parse_size(""), -1, "size empty");
	is_int(conf_parse_size("k"), -1, "size without number");
	is_int(conf_parse_size("1kb"), -1, "size trailing junk");
	is_int(conf_parse_size("1t"), -1, "size unknown unit");
	is_int(conf_parse_size("99999999999999999999"), -1, "size overflow");

	ok(conf_parse_address("1.2.3.4:80", &ss, &len, err, sizeof(err)) == 0 &&
	    len == sizeof(struct sockaddr_in), "address v4");
	is_str(addr_text(&ss), "1.2.3.4:80", "address v4 formatted");
	ok(conf_parse_address("[::1]:80", &ss, &len, err, sizeof(err)) == 0 &&
	    len == sizeof(struct sockaddr_in6) && ss.ss_family == AF_INET6,
	    "address v6");
	is_str(addr_text(&ss), "[::1]:80", "address v6 formatted");
	ok(conf_parse_address("[::]:443", &ss, &len, err, sizeof(err)) == 0,
	    "address v6 any");
	is_str(addr_text(&ss), "[::]:443", "address v6 any formatted");
	ok(conf_parse_address("*:80", &ss, &len, err, sizeof(err)) == 0,
	    "address *:port");
	is_str(addr_text(&ss), "0.0.0.0:80", "*:80 is 0.0.0.0:80");
	ok(conf_parse_address("80", &ss, &len, err, sizeof(err)) == 0,
	    "address port alone");
	is_str(addr_text(&ss), "0.0.0.0:80", "80 is 0.0.0.0:80");
	ok(conf_parse_address("localhost:8080", &ss, &len, err, sizeof(err)) == 0,
	    "address localhost");
	is_str(addr_text(&ss), "127.0.0.1:8080", "localhost is 127.0.0.1");
	ok(conf_parse_address("1.2.3.4:65535", &ss, &len, err, sizeof(err)) == 0,
	    "port 65535");
	ok(conf_parse_address("1.2.3.4:0", &ss, &len, err, sizeof(err)) == -1,
	    "port 0 refused");
	is_str(err, "port must be a number from 1 to 65535", "port error text");
	ok(conf_parse_address("1.2.3.4:65536", &ss, &len, err, sizeof(err)) == -1,
	    "port 65536 refused");
	ok(conf_parse_address("1.2.3.4:8x", &ss, &len, err, sizeof(err)) == -1,
	    "port with junk refused");
	ok(conf_parse_address("1.2.3.4", &ss, &len, err, sizeof(err)) == -1,
	    "address without port refused");
	ok(conf_parse_address("1.2.3:80", &ss, &len, err, sizeof(err)) == -1,
	    "short IPv4 refused");
	ok(conf_parse_address("example.com:80", &ss, &len, err, sizeof(err)) == -1,
	    "host name refused (no DNS)");
	ok(conf_parse_address("::1:80", &ss, &len, err, sizeof(err)) == -1,
	    "IPv6 without brackets refused");
	ok(conf_parse_address("[::1]80", &ss, &len, err, sizeof(err)) == -1,
	    "IPv6 without colon before port refused");
	ok(conf_parse_address("[zz]:80", &ss, &len, err, sizeof(err)) == -1,
	    "bad IPv6 refused");
	ok(conf_parse_address("", &ss, &len, err, sizeof(err)) == -1,
	    "empty address refused");
	ok(conf_parse_address(":80", &ss, &len, err, sizeof(err)) == -1,
	    "empty host refused");

	ok(conf_parse_address("unix:/run/app.sock", &ss, &len, err, sizeof(err)) == 0 &&
	    ss.ss_family == AF_UNIX && len == sizeof(sa_family_t) + strlen("/run/app.sock") + 1,
	    "address unix");
	is_str(addr_text(&ss), "unix:/run/app.sock", "address unix formatted");
	is_str(conf_unix_path(&ss), "/run/app.sock", "unix path");
	ok(!conf_addr_is_any(&ss), "a unix address is not the any address");
	{
		struct sockaddr_storage other;
		socklen_t olen;

		conf_parse_address("unix:/run/other.sock", &other, &olen, err, sizeof(err));
		ok(!conf_addr_equal(&ss, &other), "unix addresses differ by path");
		conf_parse_address("unix:/run/app.sock", &other, &olen, err, sizeof(err));
		ok(conf_addr_equal(&ss, &other), "unix addresses equal by path");
	}
	ok(conf_parse_address("unix:app.sock", &ss, &len, err, sizeof(err)) == -1,
	    "relative unix path refused");
	ok(conf_parse_address("unix:", &ss, &len, err, sizeof(err)) == -1,
	    "empty unix path refused");
	{
		char longest[160] = "unix:/";

		memset(longest + 6, 'a', 106);	/* a path of 107 bytes fits */
		ok(conf_parse_address(longest, &ss, &len, err, sizeof(err)) == 0,
		   "unix path of 107 bytes");
		longest[112] = 'a';		/* 108 does not */
		ok(conf_parse_address(longest, &ss, &len, err, sizeof(err)) == -1 &&
		   strstr(err, "108 bytes long") != NULL, "unix path of 108 bytes refused");
	}
}

static void test_hosts_and_regex(void)
{
	struct conf *c;
	char *errs;

	c = load("hosts.conf",
	    "listen l { address = \"8080\" }\n"
	    "upstream u { server \"127.0.0.1:9000\" {} }\n"
	    "site s {\n"
	    "  hosts = {\"*\", \"*.EXAMPLE.org\", \"WWW.Example.org\", \"[::1]\"}\n"
	    "  route \"~ ^/api/(v[0-9]+)/\" { upstream = \"u\" }\n"
	    "  route \"~ \\\\.(png|jpg)$\" { upstream = \"u\" }\n"
	    "}\n", &errs);
	ok(c != NULL, "hosts and regex config loads");
	free(errs);
	if (c == NULL)
		return;
	ok(c->sites[0].hosts[0].kind == HOST_ANY, "\"*\": any host");
	ok(c->sites[0].hosts[1].kind == HOST_LEADING &&
	    strcmp(c->sites[0].hosts[1].name, ".example.org") == 0,
	    "\"*.EXAMPLE.org\" -> \".example.org\", leading wildcard");
	ok(c->sites[0].hosts[2].kind == HOST_EXACT &&
	    strcmp(c->sites[0].hosts[2].name, "www.example.org") == 0,
	    "exact host lower-cased");
	is_str(c->sites[0].hosts[3].name, "[::1]", "IPv6 literal host");
	ok(pcre2_match(c->sites[0].routes[0].regex, (PCRE2_SPTR)"/api/v2/x", 9, 0,
	    0, c->sites[0].routes[0].match, NULL) == 2, "regex with a group matches");
	ok(pcre2_match(c->sites[0].routes[1].regex, (PCRE2_SPTR)"/i.jpg", 6, 0,
	    0, c->sites[0].routes[1].match, NULL) >= 0, "second regex matches");
	conf_free(c);
}

static const char lb_conf[] =
	"listen l { address = \"8080\" }\n"
	"upstream a {\n"
	"  balance = \"hash\"\n"
	"  hash_key = 'user-$cookie_sid${http_X_User}:$arg_id$uri$request_uri"
	    "$args$remote_addr$host$1x'\n"
	"  retries = 1\n"
	"  retry_timeout = \"3s\"\n"
	"  fail_on = {\"5xx\", \"error\"}\n"
	"  max_fails = 4\n"
	"  fail_timeout = \"30s\"\n"
	"  ewma_decay = \"500ms\"\n"
	"  server \"127.0.0.1:9001\" { weight = 2 max_conns = 100 slow_start = \"30s\" }\n"
	"  health_check {\n"
	"    path = \"/healthz?full=1\"\n"
	"    host = \"app.internal\"\n"
	"    status = \"200\"\n"
	"    body = '\"ok\":\\s*true'\n"
	"    interval = \"1s\"\n"
	"    timeout = \"500ms\"\n"
	"    fall = 5\n"
	"    rise = 1\n"
	"  }\n"
	"  server \"127.0.0.1:9002\" { max_fails = 0 fail_timeout = \"1m\" }\n"
	"  server \"127.0.0.1:9003\" { backup = true }\n"
	"}\n"
	"upstream b {\n"
	"  fail_on = {}\n"
	"  health_check { status = \"200-299\" }\n"
	"  server \"127.0.0.1:9004\" {}\n"
	"  server \"127.0.0.1:9005\" {}\n"
	"}\n"
	"upstream c { server \"127.0.0.1:9006\" {} }\n"
	"upstream d { balance = \"least_conn\" server \"127.0.0.1:9007\" {} }\n"
	"upstream e { balance = \"ip_hash\" server \"127.0.0.1:9008\" {} }\n"
	"upstream f { balance = \"random2\" server \"127.0.0.1:9009\" {} }\n"
	"upstream g { balance = \"ewma\" server \"127.0.0.1:9010\" {} }\n"
	"upstream h { balance = hash hash_key = \"x$host\" server \"127.0.0.1:9011\" {} }\n"
	"site s {\n"
	"  route \"/\" { upstream = \"a\" }\n"
	"  route \"/status\" { status = true }\n"
	"  route \"/b\" { upstream = \"b\" status = false }\n"
	"}\n";

static bool regex_matches(pcre2_code *re, const char *s)
{
	pcre2_match_data *md;
	int rc;

	if (re == NULL)
		return false;
	md = pcre2_match_data_create_from_pattern(re, NULL);
	rc = pcre2_match(re, (PCRE2_SPTR)s, strlen(s), 0, 0, md, NULL);
	pcre2_match_data_free(md);
	return rc >= 0;
}

static void is_key(const struct conf_key_part *k, enum conf_key_var var,
		   const char *name, const char *what)
{
	ok(k->var == var && (name == NULL ? k->name == NULL && k->name_len == 0 :
	    k->name != NULL && strcmp(k->name, name) == 0 &&
	    k->name_len == strlen(name)), "hash_key part: %s", what);
}

static void test_balancing(void)
{
	const struct conf_upstream *u;
	const struct conf_server *sv;
	const struct conf_health_check *hc;
	struct conf *c;
	char *errs;
	unsigned i;

	c = load("lb.conf", lb_conf, &errs);
	ok(c != NULL, "balancing config loads");
	is_str(errs, "", "balancing config: no errors");
	free(errs);
	if (c == NULL)
		return;

	u = &c->upstreams[0];
	is_int(u->balance, BALANCE_HASH, "balance hash");
	is_str(u->hash_key.text, "user-$cookie_sid${http_X_User}:$arg_id$uri"
	    "$request_uri$args$remote_addr$host$1x", "hash_key kept as written");
	is_int(u->hash_key.nparts, 12, "hash_key: twelve parts");
	if (u->hash_key.nparts == 12) {
		is_key(&u->hash_key.parts[0], KEY_TEXT, "user-", "literal text");
		is_key(&u->hash_key.parts[1], KEY_COOKIE, "sid", "$cookie_NAME");
		is_key(&u->hash_key.parts[2], KEY_HTTP, "x-user",
		    "${http_X_User}: braces, field name lower-case with '-'");
		is_key(&u->hash_key.parts[3], KEY_TEXT, ":", "text after braces");
		is_key(&u->hash_key.parts[4], KEY_ARG, "id", "$arg_NAME");
		is_key(&u->hash_key.parts[5], KEY_URI, NULL, "$uri");
		is_key(&u->hash_key.parts[6], KEY_REQUEST_URI, NULL, "$request_uri");
		is_key(&u->hash_key.parts[7], KEY_ARGS, NULL, "$args");
		is_key(&u->hash_key.parts[8], KEY_REMOTE_ADDR, NULL, "$remote_addr");
		is_key(&u->hash_key.parts[9], KEY_HOST, NULL, "$host");
		is_key(&u->hash_key.parts[10], KEY_CAPTURE, NULL, "$1");
		is_int(u->hash_key.parts[10].index, 1, "$1: capture one");
		is_key(&u->hash_key.parts[11], KEY_TEXT, "x", "a capture is one digit");
	}
	is_int(u->retries, 1, "retries");
	is_int(u->retry_timeout, 3000, "retry_timeout");
	is_int(u->fail_on, CONF_FAIL_5XX | CONF_FAIL_ERROR, "fail_on list");
	is_int(u->ewma_decay, 500, "ewma_decay");
	is_int(u->nservers, 3, "servers around a health_check");
	sv = u->servers;
	ok(sv[0].weight == 2 && sv[0].max_conns == 100 &&
	    sv[0].slow_start == 30000 && !sv[0].backup,
	    "server weight, max_conns, slow_start");
	ok(sv[0].max_fails == 4 && sv[0].fail_timeout == 30000,
	    "server inherits the upstream's max_fails and fail_timeout");
	ok(sv[1].max_fails == 0 && sv[1].fail_timeout == 60000,
	    "server's own max_fails 0 and fail_timeout");
	ok(sv[2].backup && sv[2].max_conns == 0 && sv[2].slow_start == 0,
	    "backup server; max_conns and slow_start default 0");
	hc = u->health_check;
	ok(hc != NULL, "health_check section");
	if (hc != NULL) {
		is_str(hc->path, "/healthz?full=1", "health_check path");
		is_str(hc->host, "app.internal", "health_check host");
		ok(hc->status_min == 200 && hc->status_max == 200,
		    "health_check status \"200\"");
		is_str(hc->body, "\"ok\":\\s*true", "health_check body as written");
		ok(regex_matches(hc->body_regex, "{\"ok\": true}") &&
		    !regex_matches(hc->body_regex, "{\"ok\": false}"),
		    "health_check body regex compiled");
		ok(hc->interval == 1000 && hc->timeout == 500 && hc->fall == 5 &&
		    hc->rise == 1, "health_check interval, timeout, fall, rise");
	}

	u = &c->upstreams[1];
	ok(u->balance == BALANCE_ROUND_ROBIN && u->hash_key.parts == NULL &&
	    u->hash_key.nparts == 0 && u->hash_key.text == NULL,
	    "balance default round_robin, no hash_key");
	is_int(u->retries, 1, "retries default: servers - 1");
	is_int(u->retry_timeout, 0, "retry_timeout default 0");
	is_int(u->fail_on, 0, "fail_on = {}: nothing counts");
	is_int(u->ewma_decay, 10000, "ewma_decay default 10s");
	sv = u->servers;
	ok(sv[1].weight == 1 && !sv[1].backup && sv[1].max_conns == 0 &&
	    sv[1].max_fails == 1 && sv[1].fail_timeout == 10000 &&
	    sv[1].slow_start == 0, "server defaults");
	hc = u->health_check;
	ok(hc != NULL, "health_check written before the servers");
	if (hc != NULL) {
		is_str(hc->path, "/", "health_check path default");
		is_str(hc->host, "b", "health_check host default: upstream name");
		ok(hc->status_min == 200 && hc->status_max == 299,
		    "health_check status range");
		ok(hc->body == NULL && hc->body_regex == NULL,
		    "health_check body default none");
		ok(hc->interval == 5000 && hc->timeout == 2000 && hc->fall == 3 &&
		    hc->rise == 2, "health_check defaults 5s, 2s, 3, 2");
	}

	u = &c->upstreams[2];
	ok(u->health_check == NULL, "no health_check section: NULL");
	is_int(u->fail_on, CONF_FAIL_ERROR | CONF_FAIL_TIMEOUT,
	    "fail_on default error, timeout");
	is_int(u->retries, 0, "retries default with one server: 0");
	is_int(c->upstreams[3].balance, BALANCE_LEAST_CONN, "least_conn");
	is_int(c->upstreams[4].balance, BALANCE_IP_HASH, "ip_hash");
	is_int(c->upstreams[5].balance, BALANCE_RANDOM2, "random2");
	is_int(c->upstreams[6].balance, BALANCE_EWMA, "ewma");
	u = &c->upstreams[7];
	ok(u->hash_key.nparts == 2, "hash_key: text, then a variable");
	if (u->hash_key.nparts == 2) {
		is_key(&u->hash_key.parts[0], KEY_TEXT, "x", "text before a variable");
		is_key(&u->hash_key.parts[1], KEY_HOST, NULL, "variable at the end");
	}

	is_int(c->nservers, 11, "nservers over all upstreams");
	for (i = 0; i < 11; i++) {
		unsigned k = i < 3 ? 0 : i < 5 ? 1 : i - 3;
		unsigned j = i < 3 ? i : i < 5 ? i - 3 : 0;

		if (c->upstreams[k].servers[j].id != i)
			break;
	}
	is_int(i, 11, "server ids in upstream order, then server order");

	ok(c->sites[0].routes[0].upstream == &c->upstreams[0] &&
	    !c->sites[0].routes[0].status, "route status default false");
	ok(c->sites[0].routes[1].status &&
	    c->sites[0].routes[1].upstream == NULL,
	    "status route: no upstream");
	ok(!c->sites[0].routes[2].status &&
	    c->sites[0].routes[2].upstream == &c->upstreams[1],
	    "status = false with an upstream");
	conf_free(c);
}

static void test_balancing_errors(void)
{
	struct conf *c;
	char *errs, where[PATH_MAX + 32];

	c = load("lbbad.conf",
	    "listen l { address = \"8080\" }\n"			/* 1 */
	    "upstream a {\n"					/* 2 */
	    "  balance = \"fastest\"\n"				/* 3 */
	    "  retries = 256\n"					/* 4 */
	    "  retry_timeout = \"soon\"\n"			/* 5 */
	    "  fail_on = {\"error\",\n"				/* 6 */
	    "             \"4xx\"}\n"				/* 7 */
	    "  max_fails = 1001\n"				/* 8 */
	    "  fail_timeout = \"0\"\n"				/* 9 */
	    "  ewma_decay = \"0\"\n"				/* 10 */
	    "  server \"127.0.0.1:1\" { backup = maybe max_conns = 1000001 }\n"
	    "  server \"127.0.0.1:2\" {\n"			/* 12 */
	    "    max_fails = -1\n"				/* 13 */
	    "    fail_timeout = \"0\"\n"			/* 14 */
	    "    slow_start = \"x\"\n"				/* 15 */
	    "  }\n"						/* 16 */
	    "  health_check {\n"				/* 17 */
	    "    path = \"health\"\n"				/* 18 */
	    "    host = \"a b\"\n"				/* 19 */
	    "    status = \"600\"\n"				/* 20 */
	    "    body = \"(\"\n"				/* 21 */
	    "    interval = \"0\"\n"				/* 22 */
	    "    timeout = \"0\"\n"				/* 23 */
	    "    fall = 0\n"					/* 24 */
	    "    rise = 101\n"					/* 25 */
	    "  }\n"						/* 26 */
	    "  health_check { }\n"				/* 27 */
	    "  server \"127.0.0.1:1\" { }\n"			/* 28 */
	    "}\n"						/* 29 */
	    "upstream b { balance = \"hash\"\n"			/* 30 */
	    "  server \"127.0.0.1:3\" { backup = true } }\n"	/* 31 */
	    "upstream c { hash_key = \"$uri\"\n"		/* 32 */
	    "  server \"127.0.0.1:4\" { } }\n"			/* 33 */
	    "upstream d { balance = \"hash\" hash_key = \"$nope\" "
	    "server \"127.0.0.1:5\" { } }\n"			/* 34 */
	    "upstream e { balance = \"hash\" hash_key = \"$http_\" "
	    "server \"127.0.0.1:6\" { } }\n"			/* 35 */
	    "upstream f { balance = \"hash\" hash_key = \"x$\" "
	    "server \"127.0.0.1:7\" { } }\n"			/* 36 */
	    "upstream g { balance = \"hash\" hash_key = '${ho-st}' "
	    "server \"127.0.0.1:8\" { } }\n"			/* 37 */
	    "upstream \"my app\" { health_check { }\n"		/* 38 */
	    "  server \"127.0.0.1:9\" { } }\n"			/* 39 */
	    "site s {\n"					/* 40 */
	    "  route \"/\" { upstream = \"a\" status = true }\n"	/* 41 */
	    "  route \"/x\" { status = false }\n"		/* 42 */
	    "  route \"/y\" { status = 1 }\n"			/* 43 */
	    "}\n", &errs);					/* 44 */
	ok(c == NULL, "bad balancing config refused");
	ok(has_error(errs, "lbbad.conf", 3, "balance: unknown algorithm "
	    "\"fastest\" (use round_robin, least_conn, ip_hash, hash, random2 "
	    "or ewma)"), "unknown balance");
	ok(has_error(errs, "lbbad.conf", 4, "retries: bad number \"256\" "
	    "(expected 0 to 255)"), "retries out of range");
	ok(strstr(errs, "/lbbad.conf:5: retry_timeout: bad duration \"soon\"")
	    != NULL, "bad retry_timeout");
	ok(has_error(errs, "lbbad.conf", 7, "fail_on: unknown failure \"4xx\" "
	    "(use error, timeout or 5xx)"), "unknown fail_on: at its line");
	ok(has_error(errs, "lbbad.conf", 8, "max_fails: bad number \"1001\" "
	    "(expected 0 to 1000)"), "upstream max_fails out of range");
	ok(strstr(errs, "/lbbad.conf:9: fail_timeout: bad duration \"0\"") != NULL,
	    "upstream fail_timeout 0");
	ok(strstr(errs, "/lbbad.conf:10: ewma_decay: bad duration \"0\"") != NULL,
	    "ewma_decay 0");
	ok(has_error(errs, "lbbad.conf", 11, "backup: expected true or false, "
	    "not \"maybe\""), "bad backup");
	ok(has_error(errs, "lbbad.conf", 11, "max_conns: bad number \"1000001\" "
	    "(expected 0 to 1000000)"), "max_conns out of range");
	ok(has_error(errs, "lbbad.conf", 13, "max_fails: bad number \"-1\" "
	    "(expected 0 to 1000)"), "server max_fails");
	ok(strstr(errs, "/lbbad.conf:14: fail_timeout: bad duration \"0\"") != NULL,
	    "server fail_timeout 0");
	ok(strstr(errs, "/lbbad.conf:15: slow_start: bad duration \"x\"") != NULL,
	    "bad slow_start");
	ok(has_error(errs, "lbbad.conf", 18, "path: bad path \"health\" (it "
	    "starts with \"/\" and has no spaces or control characters)"),
	    "health_check path without /");
	ok(has_error(errs, "lbbad.conf", 19, "host: bad host \"a b\" (no spaces "
	    "or control characters)"), "health_check host with a space");
	ok(has_error(errs, "lbbad.conf", 20, "status: bad status range \"600\" "
	    "(use e.g. \"200\" or \"200-399\", statuses from 100 to 599)"),
	    "health_check status out of range");
	ok(has_error(errs, "lbbad.conf", 21, "body: bad regex: missing closing "
	    "parenthesis at offset 1"), "health_check body: PCRE2 message");
	ok(strstr(errs, "/lbbad.conf:22: interval: bad duration \"0\"") != NULL,
	    "health_check interval 0");
	ok(strstr(errs, "/lbbad.conf:23: timeout: bad duration \"0\"") != NULL,
	    "health_check timeout 0");
	ok(has_error(errs, "lbbad.conf", 24, "fall: bad number \"0\" (expected "
	    "1 to 100)"), "health_check fall 0");
	ok(has_error(errs, "lbbad.conf", 25, "rise: bad number \"101\" (expected "
	    "1 to 100)"), "health_check rise 101");
	snprintf(where, sizeof(where), "health_check is defined twice in "
	    "upstream \"a\" (first at %s/lbbad.conf:17)", dir);
	ok(has_error(errs, "lbbad.conf", 27, where), "second health_check");
	ok(strstr(errs, "/lbbad.conf:28: server \"127.0.0.1:1\" is defined twice "
	    "in upstream \"a\"") != NULL,
	    "duplicate server after a health_check still found");
	ok(has_error(errs, "lbbad.conf", 30, "balance = \"hash\" needs a "
	    "hash_key"), "hash without hash_key");
	ok(has_error(errs, "lbbad.conf", 30, "upstream \"b\" has only backup "
	    "servers"), "only backup servers");
	ok(has_error(errs, "lbbad.conf", 32, "hash_key is only used with "
	    "balance = \"hash\""), "hash_key without balance hash");
	ok(has_error(errs, "lbbad.conf", 34, "hash_key: unknown variable "
	    "\"$nope\" (use $uri, $request_uri, $args, $arg_NAME, $http_NAME, "
	    "$cookie_NAME, $remote_addr, $remote_port, $host, $scheme, $server_port, "
	    "$request_method, $is_args, $geo_region, $remote_user, "
	    "$request_id, $site, $route, $tls_protocol, $tls_cipher or $0..$9)"), "unknown hash_key variable");
	ok(has_error(errs, "lbbad.conf", 35, "hash_key: variable \"$http_\" "
	    "needs a name after \"http_\""), "hash_key variable without NAME");
	ok(has_error(errs, "lbbad.conf", 36, "hash_key: \"$\" must be followed "
	    "by a variable name, as in \"$request_uri\""), "hash_key lone $");
	ok(has_error(errs, "lbbad.conf", 37, "hash_key: \"${\" needs a variable "
	    "name and \"}\", as in \"${host}\""), "hash_key bad braces");
	ok(has_error(errs, "lbbad.conf", 38, "health_check: the upstream's name "
	    "\"my app\" is not a valid Host: set host"),
	    "default health_check host must be a valid Host");
	ok(has_error(errs, "lbbad.conf", 41, "route \"/\": upstream and status = "
	    "true exclude each other"), "route with upstream and status");
	ok(has_error(errs, "lbbad.conf", 42, "route \"/x\" has no upstream"),
	    "route with status = false and no upstream");
	ok(has_error(errs, "lbbad.conf", 43, "status: expected true or false, "
	    "not \"1\""), "bad route status");
	ok(has_error(errs, "lbbad.conf", 43, "route \"/y\" has no upstream"),
	    "a bad status counts as false");
	is_int(count_lines(errs), 34, "all balancing errors in one run");
	ok(lines_sorted(errs, "lbbad.conf"), "balancing errors in file order");
	free(errs);
}

/* Does a health_check with status = s load? */
static bool status_loads(const char *s)
{
	char text[512], *errs;
	struct conf *c;

	snprintf(text, sizeof(text), "listen l { address = \"8080\" }\n"
	    "upstream u { server \"127.0.0.1:1\" {}\n"
	    "  health_check { status = \"%s\" } }\n"
	    "site s { route \"/\" { upstream = \"u\" } }\n", s);
	c = load("status.conf", text, &errs);
	free(errs);
	conf_free(c);
	return c != NULL;
}

static void test_balancing_limits(void)
{
	static char text[64 * 1024];
	struct conf *c;
	char *errs;
	size_t n;
	int i;

	ok(status_loads("100-599") && status_loads("204"),
	    "status ranges at the limits");
	ok(!status_loads("99") && !status_loads("300-200") &&
	    !status_loads("2xx") && !status_loads("200-") &&
	    !status_loads("200-600") && !status_loads("-200"),
	    "bad status ranges refused");

	/* CONF_MAX_SERVERS: the first one too many is at fault. */
	n = (size_t)snprintf(text, sizeof(text), "listen l { address = \"80\" }\n"
	    "upstream big {\n");
	for (i = 0; i <= CONF_MAX_SERVERS; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
		    "  server \"127.0.0.1:%d\" {}\n", 1000 + i);
	snprintf(text + n, sizeof(text) - n, "}\n"
	    "site s { route \"/\" { upstream = \"big\" } }\n");
	c = load("big.conf", text, &errs);
	ok(c == NULL && has_error(errs, "big.conf", 3 + CONF_MAX_SERVERS,
	    "upstream \"big\" has more than 256 servers"), "too many servers");
	is_int(count_lines(errs), 1, "too many servers: one error");
	free(errs);

	/* A health_check's errors in an included file: that file's line. */
	put("hc/check.conf", "# checks\nhealth_check {\n  rise = 0\n}\n");
	c = load("hc/main.conf", "listen l { address = \"80\" }\n"
	    "upstream u {\n  include(\"check.conf\")\n"
	    "  server \"127.0.0.1:1\" {}\n}\n"
	    "site s { route \"/\" { upstream = \"u\" } }\n", &errs);
	ok(c == NULL && has_error(errs, "hc/check.conf", 3, "rise: bad number "
	    "\"0\" (expected 1 to 100)"), "health_check in an include: file:line");
	free(errs);
}

/* The daemon works from "/", so relative paths must not depend on the
 * directory portico was started from. */
static void test_relative_paths(void)
{
	char *errs = NULL, want[PATH_MAX];
	struct conf *c;

	c = load("rel/main.conf",
		 "pid_file = \"run/p.pid\"\n"
		 "error_log = \"/var/log/abs.log\"\n"
		 "listen http { address = \"127.0.0.1:8080\" }\n"
		 "upstream app { server \"127.0.0.1:9000\" {} }\n"
		 "site s { access_log = \"logs/a.log\"  route \"/\" { upstream = \"app\" } }\n",
		 &errs);
	ok(c != NULL, "relative paths: config loads");
	if (c != NULL) {
		snprintf(want, sizeof(want), "%s/rel/run/p.pid", dir);
		is_str(c->pid_file, want, "a relative pid_file is taken from the config's directory");
		snprintf(want, sizeof(want), "%s/rel/logs/a.log", dir);
		is_str(c->sites[0].access_log, want, "so is a relative access_log");
		is_str(c->error_log, "/var/log/abs.log", "an absolute path is kept as written");
	}
	conf_free(c);
	free(errs);
}

static char *dump_text(const struct conf *c)
{
	char *text = NULL;
	size_t len;
	FILE *fp;

	fp = open_memstream(&text, &len);
	conf_dump(c, fp);
	fclose(fp);
	return text;
}

/*
 * Dump the config in text, check it holds each of want, load the dump
 * and dump that: the two dumps must be the same (but for the file name).
 */
struct dump_want {
	const char *text;
	const char *what;
};

static void dump_round_trip(const char *name, const char *text,
			    const struct dump_want *want)
{
	struct conf *c, *c2;
	char *errs, *a, *b;

	c = load(name, text, &errs);
	free(errs);
	if (c == NULL) {
		ok(0, "%s: config loads", name);
		return;
	}
	a = dump_text(c);
	for (; want->text; want++)
		ok(strstr(a, want->text) != NULL, "%s: dump %s", name, want->what);
	c2 = load("dumped.conf", a, &errs);
	ok(c2 != NULL, "%s: dumped config loads again", name);
	is_str(errs, "", "%s: dumped config: no errors", name);
	free(errs);
	if (c2 != NULL) {
		b = dump_text(c2);
		ok(strcmp(strchr(a, '\n'), strchr(b, '\n')) == 0,
		    "%s: dump of the dump is the same", name);
		free(b);
		conf_free(c2);
	}
	free(a);
	conf_free(c);
}

static void test_dump(void)
{
	static const struct dump_want full_want[] = {
		{ "\nworkers = 3\n", "has workers" },
		{ "client_header_timeout = \"500ms\"",
		    "writes durations with units" },
		{ "hosts = {\"Example.COM\", \"*.example.com\"}",
		    "writes hosts back as written" },
		{ "route \"~ \\\\.php$\" {\n\t\tupstream = \"php\"\n",
		    "escapes regex routes" },
		{ NULL, NULL }
	};
	static const struct dump_want lb_want[] = {
		{ "\tbalance = \"hash\"\n\thash_key = \"user-$cookie_sid"
		    "\\${http_X_User}:", "writes balance and hash_key, \"${\" escaped" },
		{ "\tretries = 1\n\tretry_timeout = \"3s\"\n",
		    "writes retries, retry_timeout" },
		{ "\tfail_on = {\"error\", \"5xx\"}\n", "writes fail_on" },
		{ "\tewma_decay = \"500ms\"\n", "writes ewma_decay" },
		{ "\tfail_on = {}\n", "writes an empty fail_on" },
		{ "\thealth_check {\n\t\tpath = \"/healthz?full=1\"\n"
		    "\t\thost = \"app.internal\"\n\t\tstatus = \"200\"\n"
		    "\t\tbody = \"\\\"ok\\\":\\\\s*true\"\n\t\tinterval = \"1s\"\n"
		    "\t\ttimeout = \"500ms\"\n\t\tfall = 5\n\t\trise = 1\n\t}\n",
		    "writes the health_check section" },
		{ "\t\tstatus = \"200-299\"\n", "writes a status range" },
		{ "\tserver \"127.0.0.1:9001\" {\n\t\tweight = 2\n"
		    "\t\tbackup = false\n\t\tmax_conns = 100\n\t\tmax_fails = 4\n"
		    "\t\tfail_timeout = \"30s\"\n\t\tslow_start = \"30s\"\n\t}\n",
		    "writes every server option" },
		{ "\t\tbackup = true\n", "writes backup servers" },
		{ "\tbalance = \"least_conn\"\n", "writes least_conn" },
		{ "\tbalance = \"ip_hash\"\n", "writes ip_hash" },
		{ "\tbalance = \"random2\"\n", "writes random2" },
		{ "\tbalance = \"ewma\"\n", "writes ewma" },
		{ "route \"/status\" {\n\t\tstatus = true\n", "writes status routes" },
		{ NULL, NULL }
	};

	dump_round_trip("dump.conf", full_conf, full_want);
	dump_round_trip("lbdump.conf", lb_conf, lb_want);
	conf_free(NULL);
	ok(1, "conf_free(NULL) is harmless");
}

static const char cache_conf[] =
	"listen http { address = \"127.0.0.1:8080\" }\n"
	"cache big { size = \"4g\"  max_object = \"10m\"  inactive = \"1h\" }\n"
	"cache small { size = \"1m\" }\n"
	"upstream app { server \"127.0.0.1:9001\" { } }\n"
	"site s {\n"
	"  route \"/\" {\n"
	"    upstream = \"app\"\n"
	"    cache = \"big\"\n"
	"    cache_key = \"$scheme$host$uri$arg_v\"\n"
	"    cache_methods = {\"GET\"}\n"
	"    cache_statuses = {\"200\", \"404\"}\n"
	"    cache_valid = \"5m\"\n"
	"    cache_ignore_headers = {\"set-cookie\", \"Vary\"}\n"
	"    cache_bypass = {\"$cookie_session\", \"$http_x_nocache\"}\n"
	"    cache_no_store = {\"$arg_nocache\"}\n"
	"    cache_lock_timeout = \"2s\"\n"
	"    cache_min_uses = 2\n"
	"    cache_purge = {\"127.0.0.1\", \"10.0.0.0/8\", \"::1\"}\n"
	"  }\n"
	"  route \"/other/\" { upstream = \"app\"  cache = \"small\" }\n"
	"  route \"/plain/\" { upstream = \"app\" }\n"
	"}\n";

static void test_cache(void)
{
	static const struct dump_want want[] = {
		{ "\ncache \"big\" {\n\tsize = \"4g\"\n\tmax_object = \"10m\"\n\tinactive = \"1h\"\n}\n",
		  "writes a cache section" },
		{ "\t\tcache = \"big\"\n\t\tcache_key = \"$scheme$host$uri$arg_v\"\n"
		  "\t\tcache_methods = {\"GET\"}\n\t\tcache_statuses = {\"200\", \"404\"}\n"
		  "\t\tcache_valid = \"5m\"\n\t\tcache_ignore_headers = {\"Set-Cookie\", \"Vary\"}\n",
		  "writes a route's caching options" },
		{ "\t\tcache_purge = {\"127.0.0.1/32\", \"10.0.0.0/8\", \"::1/128\"}\n",
		  "writes cache_purge as prefixes" },
		{ NULL, NULL }
	};
	struct conf *c;
	const struct conf_route *r;
	char *errs;

	c = load("cache.conf", cache_conf, &errs);
	ok(c != NULL, "a configuration with caches loads");
	is_str(errs, "", "... without errors");
	free(errs);
	if (c != NULL) {
		r = &c->sites[0].routes[0];
		is_int(c->ncaches, 2, "two cache zones");
		ok(c->caches[0].size == 4ULL << 30, "a zone of 4g: sizes past 1g are allowed here");
		is_int(c->caches[1].inactive, 600000, "inactive defaults to 10m");
		ok(r->cache == &c->caches[0], "the route names its zone");
		is_int(r->cache_key.nparts, 4, "cache_key: four variables");
		is_int(r->cache_methods, CONF_CACHE_GET, "cache_methods");
		ok(conf_route_statuses_listed(r) && (r->cache_statuses[1] & (1ULL << 36)),
		   "cache_statuses: 200 listed");
		is_int(r->cache_ignore, CONF_IGNORE_SET_COOKIE | CONF_IGNORE_VARY,
		       "cache_ignore_headers, case aside");
		is_int(r->ncache_bypass, 2, "two cache_bypass expressions");
		is_int(r->ncache_purge, 3, "three cache_purge prefixes");
		is_int(c->sites[0].routes[1].cache_methods, CONF_CACHE_GET | CONF_CACHE_HEAD,
		       "cache_methods defaults to GET and HEAD");
		is_int(c->sites[0].routes[1].cache_lock_timeout, 5000, "cache_lock_timeout defaults to 5s");
		ok(c->sites[0].routes[2].cache == NULL, "a route without cache has none");
		conf_free(c);
	}
	dump_round_trip("cachedump.conf", cache_conf, want);

	c = load("cachebad.conf",
	    "listen http { address = \"127.0.0.1:8080\" }\n"		/* 1 */
	    "cache a { size = \"1m\"  max_object = \"1m\" }\n"	/* 2 */
	    "cache b { size = \"2000g\" }\n"				/* 3 */
	    "upstream app { server \"127.0.0.1:9001\" { } }\n"	/* 4 */
	    "site s {\n"						/* 5 */
	    "  route \"/a\" { upstream = \"app\"  cache = \"nope\" }\n"	/* 6 */
	    "  route \"/b\" { upstream = \"app\"  cache_valid = \"1m\" }\n"	/* 7 */
	    "  route \"/c\" { status = true  cache = \"a\" }\n"	/* 8 */
	    "  route \"/d\" { upstream = \"app\"  cache = \"a\"\n"	/* 9 */
	    "    cache_key = \"$nope\"\n"				/* 10 */
	    "    cache_methods = {\"POST\"}\n"				/* 11 */
	    "    cache_statuses = {\"199\"}\n"				/* 12 */
	    "    cache_ignore_headers = {\"Age\"}\n"			/* 13 */
	    "    cache_purge = {\"10.0.0.1/8\", \"host\"}\n"		/* 14 */
	    "    cache_min_uses = 0\n"					/* 15 */
	    "  }\n"							/* 16 */
	    "}\n", &errs);						/* 17 */
	ok(c == NULL, "bad caching configuration refused");
	ok(has_error(errs, "cachebad.conf", 2, "cache \"a\": max_object must be at most half of size"),
	   "max_object over half the zone");
	ok(has_error(errs, "cachebad.conf", 3, "size: bad size \"2000g\" (use e.g. \"4096\", \"16k\", \"1m\"; at most 1024g)"), "a zone too large");
	ok(has_error(errs, "cachebad.conf", 6, "route \"/a\": unknown cache \"nope\" (a cache \"nope\" { size = \"256m\" } section at "
		     "the top level makes one)"),
	   "an unknown cache");
	ok(has_error(errs, "cachebad.conf", 7, "route \"/b\": cache_valid needs cache = \"NAME\" on "
		     "the route"), "a caching option without cache");
	ok(has_error(errs, "cachebad.conf", 8, "route \"/c\": cache needs an upstream to fill it"),
	   "cache on a status route");
	ok(has_error(errs, "cachebad.conf", 10, "cache_key: unknown variable \"$nope\" (use $uri, $request_uri, $args, "
		     "$arg_NAME, $http_NAME, $cookie_NAME, $remote_addr, $remote_port, $host, $scheme, "
		     "$server_port, $request_method, $is_args, $geo_region, $remote_user, "
		     "$request_id, $site, $route, $tls_protocol, $tls_cipher or $0..$9)"),
	   "a bad cache_key variable");
	ok(has_error(errs, "cachebad.conf", 11, "cache_methods: \"POST\" is not one of GET or HEAD (answers to other "
		     "methods are never stored)"),
	   "a method the cache does not answer");
	ok(has_error(errs, "cachebad.conf", 12, "cache_statuses: \"199\" is not a final status (200 to 599)"),
	   "a status that is not final");
	ok(has_error(errs, "cachebad.conf", 13, "cache_ignore_headers: \"Age\" is not one of Cache-Control, Expires, "
		     "Set-Cookie or Vary"),
	   "a field that cannot be ignored");
	ok(has_error(errs, "cachebad.conf", 14, "cache_purge: \"10.0.0.1/8\" has bits set after its "
		     "prefix length"), "a prefix with host bits");
	ok(has_error(errs, "cachebad.conf", 14, "cache_purge: \"host\" is not an IPv4 or IPv6 address"),
	   "not an address");
	ok(has_error(errs, "cachebad.conf", 15, "cache_min_uses: bad number \"0\" (expected 1 to 1000000)"),
	   "cache_min_uses of 0");
	free(errs);
}

static const char methods_conf[] =
	"listen http { address = \"127.0.0.1:8080\" }\n"
	"upstream app { server \"127.0.0.1:9001\" { } }\n"
	"site s {\n"
	"  methods = {\"GET\", \"POST\", \"GET\"}\n"
	"  route \"/dav/\" { upstream = \"app\"  methods = {\"PROPFIND\", \"HEAD\"} }\n"
	"  route \"/\" { upstream = \"app\" }\n"
	"}\n"
	"site t { hosts = {\"t\"}  route \"/\" { upstream = \"app\" } }\n";

static const char proxy_conf[] =
	"listen lb {\n"
	"  address = \"127.0.0.1:8080\"\n"
	"  proxy_protocol = true\n"
	"  proxy_protocol_from = {\"10.0.0.0/8\", \"::1\"}\n"
	"}\n"
	"upstream app { send_proxy_protocol = \"v2\"  server \"127.0.0.1:9001\" { } }\n"
	"upstream other { server \"127.0.0.1:9002\" { } }\n"
	"site s {\n"
	"  real_ip_from = {\"10.0.0.0/8\", \"192.0.2.1\"}\n"
	"  real_ip_header = \"forwarded\"\n"
	"  route \"/\" { upstream = \"app\" }\n"
	"}\n"
	"site t { hosts = {\"t\"}  route \"/\" { upstream = \"app\" } }\n";

static void test_methods(void)
{
	static const struct dump_want want[] = {
		{ "\tmethods = {\"GET\", \"POST\", \"HEAD\"}\n", "writes a site's methods" },
		{ "\t\tmethods = {\"PROPFIND\", \"HEAD\"}\n", "writes a route's methods" },
		{ NULL, NULL }
	};
	const struct conf_site *s;
	struct conf *c;
	char *errs;

	c = load("methods.conf", methods_conf, &errs);
	ok(c != NULL, "a configuration with methods loads");
	is_str(errs, "", "... without errors");
	free(errs);
	if (c != NULL) {
		s = &c->sites[0];
		ok(s->methods != NULL && s->methods->n == 3, "GET, POST, and the HEAD GET brings");
		is_str(s->methods ? s->methods->allow : "", "GET, POST, HEAD",
		       "Allow lists them once each, in order");
		is_str(s->routes[0].methods ? s->routes[0].methods->allow : "", "PROPFIND, HEAD",
		       "a route's list replaces its site's");
		ok(s->routes[1].methods == s->methods, "a route without a list has its site's");
		ok(c->sites[1].methods == NULL && c->sites[1].routes[0].methods == NULL,
		   "without methods: any method");
		conf_free(c);
	}
	dump_round_trip("methodsdump.conf", methods_conf, want);

	c = load("methodsbad.conf",
	    "listen http { address = \"127.0.0.1:8080\" }\n"		/* 1 */
	    "upstream app { server \"127.0.0.1:9001\" { } }\n"	/* 2 */
	    "site s {\n"						/* 3 */
	    "  methods = {\"GET\",\n"					/* 4 */
	    "             \"GET /\"}\n"				/* 5 */
	    "  route \"/\" { upstream = \"app\"  methods = {} }\n"	/* 6 */
	    "  route \"/a\" { upstream = \"app\"  methods = {\"\"} }\n"	/* 7 */
	    "}\n", &errs);						/* 8 */
	ok(c == NULL, "bad methods refused");
	ok(has_error(errs, "methodsbad.conf", 5, "methods: \"GET /\" is not a method name (a token: "
		     "letters, digits and !#$%&'*+-.^_`|~)"), "a method that is not a token, at its line");
	ok(has_error(errs, "methodsbad.conf", 6, "methods: an empty list would refuse every request "
		     "(leave methods out to take any method)"), "an empty list");
	ok(has_error(errs, "methodsbad.conf", 7, "methods: \"\" is not a method name (a token: "
		     "letters, digits and !#$%&'*+-.^_`|~)"), "an empty name");
	free(errs);
}

/* The options for portico behind other proxies: read, checked, written
 * back. */
static void test_proxy_options(void)
{
	static const struct dump_want want[] = {
		{ "\tproxy_protocol = true\n\tproxy_protocol_from = {\"10.0.0.0/8\", \"::1/128\"}\n",
		  "writes proxy_protocol and who may send it" },
		{ "\tsend_proxy_protocol = \"v2\"\n", "writes send_proxy_protocol" },
		{ "\treal_ip_from = {\"10.0.0.0/8\", \"192.0.2.1/32\"}\n"
		  "\treal_ip_header = \"Forwarded\"\n", "writes real_ip_from and real_ip_header" },
		{ NULL, NULL }
	};
	struct conf *c;
	char *errs;

	c = load("proxy.conf", proxy_conf, &errs);
	ok(c != NULL, "a configuration with the PROXY protocol loads");
	is_str(errs, "", "... without errors");
	free(errs);
	if (c != NULL) {
		ok(c->listens[0].proxy_protocol, "proxy_protocol read");
		is_int(c->listens[0].nproxy_protocol_from, 2, "two proxy_protocol_from prefixes");
		is_int(c->upstreams[0].send_proxy_protocol, 2, "send_proxy_protocol = v2");
		is_int(c->upstreams[1].send_proxy_protocol, 0, "send_proxy_protocol defaults to off");
		is_int(c->sites[0].nreal_ip_from, 2, "two real_ip_from prefixes");
		is_int(c->sites[0].real_ip_header, CONF_REAL_IP_FORWARDED,
		       "real_ip_header, case aside");
		ok(c->sites[1].nreal_ip_from == 0 && c->sites[1].real_ip_header == CONF_REAL_IP_XFF,
		   "no real_ip_from by default, and X-Forwarded-For");
		conf_free(c);
	}
	dump_round_trip("proxydump.conf", proxy_conf, want);

	c = load("proxylocal.conf",
	    "listen lb { address = \"127.0.0.1:8080\"  proxy_protocol = true }\n"
	    "upstream app { server \"127.0.0.1:9001\" { } }\n"
	    "site s { route \"/\" { upstream = \"app\" } }\n", &errs);
	ok(c != NULL && c->listens[0].nproxy_protocol_from == 2,
	   "without proxy_protocol_from, the header is taken from this machine only");
	free(errs);
	conf_free(c);

	c = load("proxybad.conf",
	    "listen a { address = \"127.0.0.1:8080\"  proxy_protocol = true }\n"	/* 1 */
	    "listen b { address = \"127.0.0.1:8081\"\n"				/* 2 */
	    "  proxy_protocol_from = {\"10.0.0.1/8\"} }\n"				/* 3 */
	    "upstream app { send_proxy_protocol = \"v3\"\n"				/* 4 */
	    "  server \"127.0.0.1:9001\" { } }\n"					/* 5 */
	    "site s { route \"/\" { upstream = \"app\" }\n"				/* 6 */
	    "  real_ip_header = \"X-Real-IP\" }\n"					/* 7 */
	    "site t { hosts = {\"t\"}  route \"/\" { upstream = \"app\" }\n"	/* 8 */
	    "  real_ip_from = {\"::1/200\"}  real_ip_header = \"Via\" }\n", &errs);	/* 9 */
	ok(c == NULL, "bad PROXY protocol options refused");
	ok(has_error(errs, "proxybad.conf", 3, "proxy_protocol_from: \"10.0.0.1/8\" has bits set "
		     "after its prefix length"), "a bad prefix in proxy_protocol_from");
	ok(has_error(errs, "proxybad.conf", 3, "listen \"b\": proxy_protocol_from without "
		     "proxy_protocol = true"), "proxy_protocol_from alone");
	ok(has_error(errs, "proxybad.conf", 4, "upstream \"app\": send_proxy_protocol: expected "
		     "\"off\", \"v1\" or \"v2\", not \"v3\""), "an unknown send_proxy_protocol");
	ok(has_error(errs, "proxybad.conf", 7, "site \"s\": real_ip_header without real_ip_from"),
	   "real_ip_header alone");
	ok(has_error(errs, "proxybad.conf", 9, "site \"t\": real_ip_header: expected "
		     "\"X-Forwarded-For\", \"X-Real-IP\" or \"Forwarded\", not \"Via\""),
	   "an unknown real_ip_header");
	ok(has_error(errs, "proxybad.conf", 9, "real_ip_from: bad prefix length \"200\" (at most 128)"),
	   "a bad prefix in real_ip_from");
	free(errs);
}

/* Host patterns of every kind and default_site: read, written back as
 * written; clashes between sites and a bad default_site at file:line. */
/* Does errs hold a line "dir/file:line: msg..."? */
static bool error_starts(const char *errs, const char *file, int line, const char *msg)
{
	char want[PATH_MAX + 512];

	snprintf(want, sizeof(want), "%s/%s:%d: %s", dir, file, line, msg);
	return strstr(errs, want) != NULL;
}

static void test_host_patterns(void)
{
	static const char text[] =
		"listen a { address = \"8080\"  default_site = \"two\" }\n"
		"listen b { address = \"8081\" }\n"
		"upstream u { server \"127.0.0.1:9000\" {} }\n"
		"site one { hosts = {\"Example.COM.\", \"*.Example.com\", \"www.example.*\", "
		"\"~ ^api\\\\d+\\\\.example\\\\.com$\", \"[::1]\"}\n"
		"  route \"/\" { upstream = \"u\" } }\n"
		"site two { route \"/\" { upstream = \"u\" } }\n";
	static const struct dump_want want[] = {
		{ "\tdefault_site = \"two\"\n", "writes default_site" },
		{ "\thosts = {\"Example.COM.\", \"*.Example.com\", \"www.example.*\", "
		  "\"~ ^api\\\\d+\\\\.example\\\\.com$\", \"[::1]\"}\n",
		  "writes every kind of host pattern as written" },
		{ NULL, NULL }
	};
	struct conf *c;
	char *errs;

	c = load("hostkinds.conf", text, &errs);
	ok(c != NULL, "every kind of host pattern loads");
	if (c != NULL) {
		const struct conf_site *one = &c->sites[0];

		ok(one->hosts[0].kind == HOST_EXACT && strcmp(one->hosts[0].name,
		   "example.com") == 0, "exact: lower-cased, its trailing dot dropped");
		ok(one->hosts[2].kind == HOST_TRAILING && strcmp(one->hosts[2].name,
		   "www.example.") == 0, "trailing wildcard: its prefix with the dot");
		ok(one->hosts[3].kind == HOST_REGEX && one->hosts[3].regex != NULL,
		   "regex compiled");
		ok(c->listens[0].default_site == &c->sites[1], "default_site names the default");
		ok(c->listens[1].default_site == &c->sites[0], "else the first site is");
		ok(c->listens[0].hosts != NULL && c->listens[1].hosts != NULL,
		   "each listener has its index");
	}
	conf_free(c);
	free(errs);
	dump_round_trip("hostkinds.conf", text, want);

	c = load("clash.conf",
	    "listen a { address = \"8080\"  default_site = \"nope\" }\n"
	    "listen b { address = \"8081\"  default_site = \"x\" }\n"
	    "listen c { address = \"8082\" }\n"
	    "upstream u { server \"127.0.0.1:9000\" {} }\n"
	    "site x { listen = {\"a\", \"c\"}\n"
	    "  hosts = {\"x.test\", \"*.w.test\", \"t.*\", \"~ ^r\", \"*\"}\n"
	    "  route \"/\" { upstream = \"u\" } }\n"
	    "site y { listen = {\"a\", \"b\", \"c\"}\n"
	    "  hosts = {\"X.TEST\",\n"
	    "           \"*.W.test\", \"t.*\", \"~ ^r\", \"*\", \"x.test\"}\n"
	    "  route \"/\" { upstream = \"u\" } }\n"
	    "site z { listen = {\"b\"}  hosts = {\"x.test\"}  route \"/\" { upstream = \"u\" } }\n"
	    "site bad { hosts = {\"~ (\", \"a:80\", \"www..*\", \"*.*\"}\n"
	    "  route \"/\" { upstream = \"u\" } }\n",
	    &errs);
	ok(c == NULL, "clashing hosts are refused");
	ok(has_error(errs, "clash.conf", 1, "listen \"a\": default_site \"nope\": no such site"),
	    "default_site naming no site: at its line");
	ok(has_error(errs, "clash.conf", 2, "listen \"b\": default_site \"x\" is not served "
	    "on it (its listen does not name \"b\")"), "default_site of another listener");
	ok(error_starts(errs, "clash.conf", 9, "site \"y\": host \"X.TEST\" is already site "
	    "\"x\"'s (\"x.test\" at "), "the same exact name, any case: at its line");
	ok(strstr(errs, "clash.conf:6) on listen \"a\"\n") != NULL,
	    "... naming the other's line and the listener");
	ok(error_starts(errs, "clash.conf", 10, "site \"y\": host \"*.W.test\" is already site "
	    "\"x\"'s"), "the same leading wildcard");
	ok(error_starts(errs, "clash.conf", 10, "site \"y\": host \"t.*\" is already site "
	    "\"x\"'s"), "the same trailing wildcard");
	ok(strstr(errs, "host \"~ ^r\"") == NULL && strstr(errs, "host \"*\"") == NULL,
	    "the same regex or \"*\" on two sites: the first answers, no error");
	is_int(count_lines(errs), 11, "each clash reported once, not per shared listener");
	ok(error_starts(errs, "clash.conf", 12, "site \"z\": host \"x.test\" is already site "
	    "\"y\"'s"), "a clash on a listener that the first holder does not share");
	ok(strstr(errs, "clash.conf:13: site \"bad\": bad host \"~ (\": bad regex: "
	    "missing closing parenthesis") != NULL, "a regex that does not compile");
	ok(has_error(errs, "clash.conf", 13, "site \"bad\": bad host \"a:80\": a host name "
	    "has no ':' (hosts match any port)"), "a host with a port");
	ok(has_error(errs, "clash.conf", 13, "site \"bad\": bad host \"www..*\": a host "
	    "name has no empty label"), "an empty label");
	ok(strstr(errs, "clash.conf:13: site \"bad\": bad host \"*.*\": a wildcard is") != NULL,
	    "a wildcard at both ends");
	free(errs);
}

int main(void)
{
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 255;
	}
	test_full();
	test_defaults();
	test_include();
	test_errors();
	test_syntax();
	test_parsers();
	test_hosts_and_regex();
	test_host_patterns();
	test_balancing();
	test_balancing_errors();
	test_balancing_limits();
	test_relative_paths();
	test_dump();
	test_cache();
	test_methods();
	test_proxy_options();

	while (npaths > 0)
		unlink(paths[--npaths]);
	while (ndirs > 0)
		rmdir(dirs[--ndirs]);
	rmdir(dir);
	return done_testing();
}
