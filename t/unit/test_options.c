/*
 * test_options.c: the table of options and the errors that teach.
 *
 * Every option in the tables is documented in portico.conf(5) and shown
 * in the commented etc/portico.conf; every default reads back; a name is
 * unique where it is allowed. A mistake is reported at the line it is
 * on, in words that say what to write: an option where it is not
 * allowed says where it is, a typo gets a did-you-mean, an nginx-style
 * ';' a hint, a quote or "${" left open is found where it opens, a value
 * holding control characters cannot split the message, and neither a
 * device, a FIFO nor a huge unquoted word can hang the reading.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "tap.h"
#include "conf.h"
#include "conf_parts.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

static char dir[] = "/tmp/portico-options-XXXXXX";

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t cap = 0, len = 0, n;

	if (f == NULL)
		return NULL;
	do {
		if (len + 4096 + 1 > cap) {
			cap = (len + 4096 + 1) * 2;
			text = realloc(text, cap);
		}
		n = fread(text + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	fclose(f);
	text[len] = '\0';
	return text;
}

static const char *srcdir(void)
{
	const char *d = getenv("PORTICO_SRCDIR");

	return d != NULL ? d : TOP_SRCDIR;
}

/* Load text as a file of the test; the errors in *errs (free it). */
static struct conf *load(const char *name, const char *text, char **errs)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	return conf_load(path, 0, errs);
}

/* Whether errs has "name:line: msg" exactly. */
static bool has_error(const char *errs, const char *name, int line, const char *msg)
{
	char want[PATH_MAX + 1024];

	snprintf(want, sizeof(want), "%s/%s:%d: %s\n", dir, name, line, msg);
	return errs != NULL && strstr(errs, want) != NULL;
}

static bool mentions(const char *text, const char *name)
{
	char a[128], b[128];

	snprintf(a, sizeof(a), "\n.BR %s ", name);
	snprintf(b, sizeof(b), "\n.B %s\n", name);
	return strstr(text, a) != NULL || strstr(text, b) != NULL;
}

/* "name =" as an option is written, commented out or not. */
static bool shown(const char *text, const char *name)
{
	const char *p = text;
	size_t n = strlen(name);

	while ((p = strstr(p, name)) != NULL) {
		if ((p == text || strchr(" \t\n#{", p[-1]) != NULL) && strncmp(p + n, " =", 2) == 0)
			return true;
		p += n;
	}
	return false;
}

static void test_documented(void)
{
	const struct conf_option *const *t, *o;
	char path[PATH_MAX], *man, *example;
	unsigned rows = 0, missing_man = 0, missing_example = 0;

	snprintf(path, sizeof(path), "%s/man/portico.conf.5", srcdir());
	man = slurp(path);
	snprintf(path, sizeof(path), "%s/etc/portico.conf", srcdir());
	example = slurp(path);
	if (!ok(man != NULL && example != NULL, "portico.conf(5) and etc/portico.conf are read"))
		return;
	for (t = conf_option_tables; *t != NULL; t++)
		for (o = *t; o->name != NULL; o++) {
			rows++;
			if (!mentions(man, o->name)) {
				missing_man++;
				printf("# %s is not described in portico.conf(5)\n", o->name);
			}
			if (!shown(example, o->name)) {
				missing_example++;
				printf("# %s is not shown in etc/portico.conf\n", o->name);
			}
			if (o->doc == NULL || o->doc[0] == '\0')
				printf("# %s has no description\n", o->name);
			ok(o->doc != NULL && o->doc[0] != '\0', "%s has a description", o->name);
		}
	ok(rows > 70, "the tables have %u rows", rows);
	is_int(missing_man, 0, "every option is described in portico.conf(5)");
	is_int(missing_example, 0, "every option is shown in etc/portico.conf");
	free(man);
	free(example);
}

static void test_unique(void)
{
	const struct conf_option *const *t, *const *u, *o, *p;
	unsigned dup = 0;

	for (t = conf_option_tables; *t != NULL; t++)
		for (o = *t; o->name != NULL; o++)
			for (u = t; *u != NULL; u++)
				for (p = u == t ? o + 1 : *u; p->name != NULL; p++)
					if (p->scope == o->scope && strcmp(p->name, o->name) == 0) {
						printf("# %s twice in one section\n", o->name);
						dup++;
					}
	is_int(dup, 0, "no name twice in one kind of section");
}

static const char MIN[] =
	"listen http { address = \"127.0.0.1:8080\" }\n"
	"site s { route \"/\" { status = true } }\n";

static void test_defaults(void)
{
	char *errs, *a;
	struct conf *c = load("min.conf", MIN, &errs);
	size_t len;
	FILE *f;

	ok(c != NULL, "every default reads back (a configuration of nothing but a listen "
	   "and a site loads)");
	free(errs);
	if (c == NULL)
		return;
	is_int(c->client_header_timeout, 15000, "a duration's default, from its row");
	is_int(c->header_buffer_size, 32768, "a size's default, from its row");
	is_int(c->worker_connections, 4096, "a number's default, from its row");
	is_str(c->user, "nobody", "a string's default, from its row");
	f = open_memstream(&a, &len);
	conf_dump(c, f);
	fclose(f);
	ok(strstr(a, "\nkeepalive_timeout = \"75s\"\n") && strstr(a, "\ttls = false\n"),
	   "-T writes the defaults too");
	free(a);
	conf_free(c);
}

static void test_placed(void)
{
	char *errs;

	load("place.conf", "listen http { address = \"127.0.0.1:8080\" }\n"
	     "upstream u { server \"127.0.0.1:9000\" {} }\n"
	     "site s {\n"
	     "  route \"/\" { upstream = \"u\"  keepalive = 8 }\n"
	     "}\n", &errs);
	ok(has_error(errs, "place.conf", 4, "keepalive is not allowed in a route: it goes in "
		     "an upstream"), "an option where it is not allowed says where it goes");
	free(errs);

	load("place2.conf", "send_timeout = \"5s\"\nlisten http { address = \"127.0.0.1:8080\" "
	     "send_timeout = \"5s\" }\n", &errs);
	ok(has_error(errs, "place2.conf", 2, "send_timeout is not allowed in a listen section: "
		     "it goes in the top level or an upstream or a route"),
	   "every place it may go is named");
	free(errs);

	load("typo.conf", "keepalive_timout = \"5s\"\n", &errs);
	ok(has_error(errs, "typo.conf", 1, "no such option \"keepalive_timout\" in the top level; "
		     "did you mean \"keepalive_timeout\"?"), "a typo gets a did-you-mean");
	free(errs);

	load("braces.conf", "upstream u {\n  server \"127.0.0.1:1\"\n}\n", &errs);
	ok(has_error(errs, "braces.conf", 3, "server needs braces, even empty ones: server "
		     "\"name\" { }"), "a server without braces says it needs them");
	free(errs);

	load("far.conf", "frobnicate = 1\n", &errs);
	ok(has_error(errs, "far.conf", 1, "no such option \"frobnicate\" in the top level"),
	   "a name close to nothing gets no guess");
	free(errs);
}

static void test_text_mistakes(void)
{
	char *errs;

	load("semi.conf", "workers = 2;\nlisten http { address = \"127.0.0.1:8080\" };\n", &errs);
	ok(has_error(errs, "semi.conf", 1, "unexpected ';': an option ends at the end of its "
		     "line (name = value), with no ';' as in nginx") &&
	   has_error(errs, "semi.conf", 2, "unexpected ';': an option ends at the end of its "
		     "line (name = value), with no ';' as in nginx"), "nginx's ';' gets a hint");
	free(errs);

	load("quote.conf", "listen http { address = \"127.0.0.1:8080\" }\n"
	     "keepalive_timeout = '\nuser = \"nobody\"\n# it's a comment\n", &errs);
	ok(has_error(errs, "quote.conf", 2, "this single quote is not closed on its line"),
	   "a quote left open is reported where it opens, not where the next quote is");
	free(errs);

	load("novalue.conf", "tls_session_timeout =\n\nlisten http { address = \"x:1\" }\n", &errs);
	ok(has_error(errs, "novalue.conf", 1, "\"tls_session_timeout =\" has no value (a value "
		     "goes on the same line as its name)"),
	   "an \"=\" without a value is reported at its line, not at the next word's");
	free(errs);

	load("env.conf", "upstream u {\n  tls = true\n  tls_ca = \"${X:-\"\n"
	     "  server \"127.0.0.1:1\" {}\n}\nworkers = 1\n", &errs);
	ok(has_error(errs, "env.conf", 3, "\"${\" without its \"}\" in this string (write \\$ "
		     "for a dollar sign)"), "a \"${\" left open is reported where it opens");
	free(errs);

	load("ctl.conf", "user = \"a\\nb\\033[31mc\"\n", &errs);
	ok(errs != NULL && strstr(errs, "unknown user \"a\\nb\\x1b[31mc\"\n") != NULL &&
	   strchr(errs, '\033') == NULL, "a value's newline and escape are escaped in the message");
	free(errs);
}

static void test_bounded(void)
{
	char *errs, path[PATH_MAX], want[PATH_MAX + 64], *big;
	struct timespec t0, t1;
	size_t n = 4 * 1024 * 1024;

	load("zero.conf", "include(\"/dev/zero\")\n", &errs);
	ok(has_error(errs, "zero.conf", 1, "include(\"/dev/zero\"): cannot read: not a regular "
		     "file"), "include() of a device is refused, not read for ever");
	free(errs);

	snprintf(path, sizeof(path), "%s/fifo", dir);
	mkfifo(path, 0600);
	load("fifo.conf", "include(\"fifo\")\n", &errs);
	snprintf(want, sizeof(want), "include(\"%s\"): cannot read: not a regular file", path);
	ok(has_error(errs, "fifo.conf", 1, want),
	   "include() of a FIFO is refused without waiting for a writer");
	free(errs);
	unlink(path);

	big = malloc(n + 64);
	memcpy(big, "user = ", 7);
	memset(big + 7, 'a', n);
	strcpy(big + 7 + n, "\n");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	load("long.conf", big, &errs);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ok(has_error(errs, "long.conf", 1, "an unquoted value of 4194304 bytes: longer than 4096, "
		     "it must be quoted"), "a 4 MiB unquoted word is refused at its line");
	printf("# read in %.3f s\n", (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	free(errs);
	free(big);
}

static void test_paths(void)
{
	struct conf *c;
	char *errs;

	c = load("syslog.conf", "error_log = \"syslog:server=127.0.0.1\"\n"
		 "listen http { address = \"127.0.0.1:8080\" }\n"
		 "site s { route \"/\" { status = true } }\n", &errs);
	ok(c != NULL && errs == NULL, "error_log: a syslog destination is accepted");
	ok(c != NULL && strcmp(c->error_log, "syslog:server=127.0.0.1") == 0,
	   "... kept as written, not made a path");
	if (c != NULL)
		conf_free(c);
	free(errs);
	load("syslog.conf", "error_log = \"syslog:server=127.0.0.1:0\"\n", &errs);
	ok(has_error(errs, "syslog.conf", 1, "error_log \"syslog:server=127.0.0.1:0\": server "
		     "\"127.0.0.1:0\": port must be a number from 1 to 65535"),
	   "... a bad one refused at its line");
	free(errs);
	c = load("syslog.conf", "listen http { address = \"127.0.0.1:8080\" }\n"
		 "site s { access_log = \"syslog:server=127.0.0.1,severity=notice\"\n"
		 "log \"syslog:\" { format = \"portico\" }\n"
		 "route \"/\" { return = 204 } }\n", &errs);
	ok(c != NULL && errs == NULL, "access_log and log: syslog destinations are accepted");
	ok(c != NULL && c->nsites == 1 && c->sites[0].nlogs == 2 &&
	   strcmp(c->sites[0].logs[0].destination, "syslog:server=127.0.0.1,severity=notice") == 0 &&
	   strcmp(c->sites[0].logs[1].destination, "syslog:") == 0,
	   "... kept as written, not made paths");
	if (c != NULL)
		conf_free(c);
	free(errs);
	load("syslog.conf", "site s { access_log = \"syslog:facility=nope\"\n"
	     "log \"syslog:tag=a b\" { }\n"
	     "route \"/\" { return = 204 } }\n", &errs);
	ok(has_error(errs, "syslog.conf", 1, "access_log \"syslog:facility=nope\": unknown facility "
		     "\"nope\" (kern, user, mail, daemon, auth, syslog, lpr, news, uucp, cron, authpriv, "
		     "ftp, ntp, audit, alert, clock, local0 .. local7)"),
	   "access_log: a bad syslog destination refused at its line");
	ok(has_error(errs, "syslog.conf", 2, "log \"syslog:tag=a b\": tag \"a b\": 1 to 32 letters, "
		     "digits, '_' or '-'"),
	   "log: a bad syslog destination refused at its line");
	free(errs);
}

int main(void)
{
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 255;
	}
	test_documented();
	test_unique();
	test_defaults();
	test_placed();
	test_text_mistakes();
	test_bounded();
	test_paths();
	{
		char cmd[PATH_MAX + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", dir);
	}
	return done_testing();
}
