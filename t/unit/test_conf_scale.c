/*
 * test_conf_scale.c: loading a configuration costs the same per section
 * however many sections it has: many routes in a site, many sites each
 * with its upstream, a long list in one section.
 *
 * Timing would make the test depend on the machine; it counts string
 * compares instead, the work every name and title lookup does. This
 * program's strcmp() is the one libconfuse and the loader call: with a
 * lookup that scans what came before, four times the sections cost
 * sixteen times the compares; with none, four times.
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <confuse.h>

#include "tap.h"
#include "conf.h"

static unsigned long compares;

int strcmp(const char *a, const char *b)
{
	const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;

	compares++;
	for (; *x != '\0' && *x == *y; x++, y++)
		;
	return *x - *y;
}

static char dir[] = "/tmp/portico-test-scale-XXXXXX";
static char path[256];

typedef void (*writer_fn)(FILE *fp, unsigned n);

static void write_head(FILE *fp)
{
	fprintf(fp, "error_log = \"%s/error.log\"\npid_file = \"%s/portico.pid\"\n"
		"listen http { address = \"127.0.0.1:18080\" }\n", dir, dir);
}

/* One site of n routes, each naming one upstream. */
static void write_routes(FILE *fp, unsigned n)
{
	unsigned i;

	write_head(fp);
	fputs("upstream b { server \"127.0.0.1:18081\" { } }\nsite s {\n", fp);
	for (i = 0; i < n; i++)
		fprintf(fp, "  route \"/svc/%u/\" { upstream = \"b\" }\n", i);
	fputs("}\n", fp);
}

/* n sites, each with an upstream of its own, named by its route. */
static void write_sites(FILE *fp, unsigned n)
{
	unsigned i;

	write_head(fp);
	for (i = 0; i < n; i++)
		fprintf(fp, "upstream u%u { server \"127.0.0.1:%u\" { } }\n"
			"site s%u {\n  hosts = {\"site%u.example.com\"}\n"
			"  route \"/\" { upstream = \"u%u\" }\n}\n", i, 1024 + i, i, i, i);
}

/* One site whose hosts list has n names, one a line. */
static void write_hosts(FILE *fp, unsigned n)
{
	unsigned i;

	write_head(fp);
	fputs("upstream b { server \"127.0.0.1:18081\" { } }\nsite s {\n  hosts = {\n", fp);
	for (i = 0; i < n; i++)
		fprintf(fp, "    \"h%u.example.com\"%s\n", i, i + 1 < n ? "," : "");
	fputs("  }\n  route \"/\" { upstream = \"b\" }\n}\n", fp);
}

/* Compares done loading what write makes of n, per n; the number of
 * routes and hosts loaded into *routes and *hosts. */
static double compares_per(writer_fn write, unsigned n, unsigned *routes, unsigned *hosts)
{
	struct conf *c;
	char *errs;
	FILE *fp;
	unsigned i;

	snprintf(path, sizeof(path), "%s/scale.conf", dir);
	if ((fp = fopen(path, "w")) == NULL) {
		perror(path);
		exit(255);
	}
	write(fp, n);
	fclose(fp);
	compares = 0;
	c = conf_load(path, 0, &errs);
	if (c == NULL) {
		printf("# %s", errs ? errs : "out of memory\n");
		free(errs);
		return 0;
	}
	*routes = *hosts = 0;
	for (i = 0; i < c->nsites; i++) {
		*routes += c->sites[i].nroutes;
		*hosts += c->sites[i].nhosts;
	}
	conf_free(c);
	return (double)compares / n;
}

/* What a configuration of n loads: routes and hosts, each k*n + c. */
struct expect {
	unsigned routes_k, routes_c, hosts_k, hosts_c;
};

static bool loaded(const struct expect *e, unsigned n, unsigned routes, unsigned hosts)
{
	return routes == e->routes_k * n + e->routes_c && hosts == e->hosts_k * n + e->hosts_c;
}

/* Four times the sections must cost about four times the compares. */
static void check_linear(const char *what, writer_fn write, unsigned n, struct expect e)
{
	unsigned routes = 0, hosts = 0;
	double small, big;

	small = compares_per(write, n, &routes, &hosts);
	ok(small > 0 && loaded(&e, n, routes, hosts), "%s: %u load", what, n);
	big = compares_per(write, 4 * n, &routes, &hosts);
	ok(big > 0 && loaded(&e, 4 * n, routes, hosts), "%s: %u load", what, 4 * n);
	printf("# %s: %.0f compares each for %u, %.0f for %u\n", what, small, n, big, 4 * n);
	ok(big < 1.5 * small, "%s: the cost of each does not grow with their number", what);
}

/* The count is worth something only if libconfuse's compares are in it. */
static void test_counted(void)
{
	cfg_opt_t opts[] = { CFG_STR("a", 0, CFGF_NONE), CFG_STR("b", 0, CFGF_NONE), CFG_END() };
	cfg_t *cfg = cfg_init(opts, CFGF_NONE);

	compares = 0;
	ok(cfg != NULL && cfg_getopt(cfg, "b") != NULL && compares > 0,
	   "libconfuse's string compares are counted");
	cfg_free(cfg);
}

int main(void)
{
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 255;
	}
	test_counted();
	check_linear("routes in a site", write_routes, 2000, (struct expect){ 1, 0, 0, 1 });
	check_linear("sites with an upstream each", write_sites, 1000,
		     (struct expect){ 1, 0, 1, 0 });
	check_linear("host names in a list", write_hosts, 2000, (struct expect){ 0, 1, 1, 0 });
	unlink(path);
	rmdir(dir);
	return done_testing();
}
