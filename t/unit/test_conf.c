/*
 * test_conf.c: the configuration: parsing, defaults, includes, every
 * error with its file and line, value parsers, dump.
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
	struct conf *c = conf_load(put(name, text), errs);

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
	static char buf[64];

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
	ok(!s->hosts[0].wildcard, "exact host");
	is_str(s->hosts[1].name, ".example.com", "wildcard host suffix");
	ok(s->hosts[1].wildcard, "wildcard host");
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
	is_str(s->hosts[0].name, "", "hosts default \"*\": empty name");
	ok(s->hosts[0].wildcard, "hosts default \"*\": wildcard");
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
	    "no such option 'bogus'"), "syntax error in include: file:line");
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
	ok(has_error(errs, "bad.conf", 26, "route \"foo\": a path prefix starts "
	    "with \"/\" (a regex with \"~ \")"), "prefix without /");
	ok(has_error(errs, "bad.conf", 28, "route \"/a\": unknown upstream \"zz\""),
	    "unknown upstream: at the upstream = line");
	ok(has_error(errs, "bad.conf", 30, "route \"~ (\": bad regex: missing "
	    "closing parenthesis at offset 1"), "bad regex with PCRE2 message and offset");
	ok(has_error(errs, "bad.conf", 31, "route \"/b\" has no upstream"),
	    "route without upstream");
	ok(strstr(errs, "/bad.conf:32: route \"/a\" is defined twice in site \"s\"")
	    != NULL, "duplicate route in a site");
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
	    "site s { hosts = {\"a.*\", \"*.\"}\n"
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
	ok(has_error(errs, "misc.conf", 6, "site \"s\": bad host \"a.*\": a host is "
	    "a name, \"*.\" followed by a domain, or \"*\""), "bad host pattern");
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
	ok(has_error(errs, "syn.conf", 6, "no such option 'bogus'"),
	    "libconfuse error: file:line, after comments");
	is_int(count_lines(errs), 1, "libconfuse stops at its first error");
	free(errs);

	c = load("syn2.conf", "listen x {\n  address = \"80\"\n", &errs);
	ok(c == NULL && has_error(errs, "syn2.conf", 1, "this '{' is never "
	    "closed"), "unclosed section");
	free(errs);

	put("syn2b.conf", "upstream u { server \"127.0.0.1:1\" {} }\n}\n");
	c = load("syn2a.conf", "site s {\ninclude(\"syn2b.conf\")\n"
	    "route \"/\" { upstream = \"u\" } }\n", &errs);
	ok(c == NULL && has_error(errs, "syn2b.conf", 2, "unexpected '}'"),
	    "braces must balance within each file");
	free(errs);

	c = load("syn3.conf", "site s {\n  hosts = {*.example.com}\n}\n", &errs);
	ok(has_error(errs, "syn3.conf", 2, "'*' must be quoted, as in "
	    "\"*.example.com\""), "unquoted '*' is an error, not dropped");
	free(errs);

	c = load("syn4.conf", "user = \"root\n", &errs);
	ok(has_error(errs, "syn4.conf", 1, "unterminated string"),
	    "unterminated string");
	free(errs);

	c = load("syn5.conf", "\n/* never closed\n", &errs);
	ok(has_error(errs, "syn5.conf", 2, "unterminated comment"),
	    "unterminated comment");
	free(errs);

	c = load("syn6.conf", "tls = true\n", &errs);
	ok(has_error(errs, "syn6.conf", 1, "no such option 'tls'"),
	    "options of later issues are not accepted");
	free(errs);

	c = conf_load("/nonexistent/portico.conf", &errs);
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
	ok(c->sites[0].hosts[0].wildcard && strcmp(c->sites[0].hosts[0].name, "") == 0,
	    "\"*\" -> \"\", wildcard");
	ok(c->sites[0].hosts[1].wildcard &&
	    strcmp(c->sites[0].hosts[1].name, ".example.org") == 0,
	    "\"*.EXAMPLE.org\" -> \".example.org\", wildcard");
	ok(!c->sites[0].hosts[2].wildcard &&
	    strcmp(c->sites[0].hosts[2].name, "www.example.org") == 0,
	    "exact host lower-cased");
	is_str(c->sites[0].hosts[3].name, "[::1]", "IPv6 literal host");
	ok(pcre2_match(c->sites[0].routes[0].regex, (PCRE2_SPTR)"/api/v2/x", 9, 0,
	    0, c->sites[0].routes[0].match, NULL) == 2, "regex with a group matches");
	ok(pcre2_match(c->sites[0].routes[1].regex, (PCRE2_SPTR)"/i.jpg", 6, 0,
	    0, c->sites[0].routes[1].match, NULL) >= 0, "second regex matches");
	conf_free(c);
}

/* The dump reads back into the same configuration. */
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

static void test_dump(void)
{
	struct conf *c, *c2;
	char *errs, *a = NULL, *b = NULL;
	size_t alen, blen;
	FILE *fp;

	c = load("dump.conf", full_conf, &errs);
	free(errs);
	if (c == NULL) {
		ok(0, "dump: config loads");
		return;
	}
	fp = open_memstream(&a, &alen);
	conf_dump(c, fp);
	fclose(fp);
	ok(strstr(a, "\nworkers = 3\n") != NULL, "dump has workers");
	ok(strstr(a, "client_header_timeout = \"500ms\"") != NULL,
	    "dump writes durations with units");
	ok(strstr(a, "hosts = {\"example.com\", \"*.example.com\"}") != NULL,
	    "dump writes wildcard hosts back");
	ok(strstr(a, "route \"~ \\\\.php$\" { upstream = \"php\" }") != NULL,
	    "dump escapes regex routes");

	c2 = load("dumped.conf", a, &errs);
	ok(c2 != NULL, "dumped config loads again");
	is_str(errs, "", "dumped config: no errors");
	free(errs);
	if (c2 != NULL) {
		fp = open_memstream(&b, &blen);
		conf_dump(c2, fp);
		fclose(fp);
		ok(strcmp(strchr(a, '\n'), strchr(b, '\n')) == 0,
		    "dump of the dump is the same");
		conf_free(c2);
	}
	free(a);
	free(b);
	conf_free(c);
	conf_free(NULL);
	ok(1, "conf_free(NULL) is harmless");
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
	test_relative_paths();
	test_dump();

	while (npaths > 0)
		unlink(paths[--npaths]);
	while (ndirs > 0)
		rmdir(dirs[--ndirs]);
	rmdir(dir);
	return done_testing();
}
