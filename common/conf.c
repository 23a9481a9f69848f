/*
 * conf.c: loading the configuration, in three steps, so that every error
 * carries "file:line" and one run reports all of them:
 *
 * 1. The files are read into one text (conf_text.c).
 * 2. libconfuse parses it against a schema made from the parts' tables
 *    of options: every option is a string whose parse callback records
 *    the line of each value, and every section has a hidden option
 *    whose value the text has right after its '{', recording the line
 *    of the '{'. libconfuse stops at the first syntax error; that one
 *    is reported, in words that say what to write instead.
 * 3. The parts check the values and resolve them into struct conf,
 *    collecting every error at the line of the value at fault.
 *
 * Nothing here logs: errors go back to the caller as text.
 */
#include "config.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <confuse.h>

#include "core.h"
#include "conf.h"
#include "conf_filter.h"
#include "conf_loader.h"
#include "conf_parts.h"
#include "syslog.h"

const struct conf_option *const conf_option_tables[] = {
	conf_global_options, conf_tls_global_options, conf_listen_options,
	conf_upstream_options, conf_tls_upstream_options, conf_server_options,
	conf_health_check_options, conf_site_options, conf_tls_options, conf_route_options,
	conf_route_cache_options, conf_cache_options, conf_site_error_page_options,
	conf_site_acl_options, conf_route_acl_options, conf_filter_options,
	conf_site_filter_options, conf_route_filter_options, conf_limit_req_options,
	conf_limit_conn_options, conf_site_limit_options, conf_route_limit_options,
	conf_route_cond_options, conf_site_rule_options, conf_route_rule_options,
	conf_route_upstream_options, conf_geo_options, conf_site_geo_options,
	conf_upstream_geo_options, conf_server_region_options, conf_region_options,
	conf_site_gzip_options, conf_route_gzip_options,
	conf_site_auth_basic_options, conf_route_auth_basic_options,
	conf_site_jwt_options, conf_route_jwt_options,
	conf_site_auth_request_options, conf_route_auth_request_options,
	conf_log_format_options, conf_site_log_options, conf_log_options, NULL
};

/* ---- the schema ---- */

#define SCHEMA_MAX 128

/* libconfuse's options of the sections of kind scope: the hidden mark,
 * every row of the scope, and the sections written inside it. Built once
 * (libconfuse copies what it is given). */
static cfg_opt_t *schema_of(unsigned scope)
{
	cfg_opt_t *opts = calloc(SCHEMA_MAX, sizeof(*opts));
	const struct conf_option *const *t, *o;
	const struct conf_section *s;
	unsigned n = 0;

	if (opts == NULL)
		return NULL;
	if (scope != CS_GLOBAL)
		opts[n++] = (cfg_opt_t)CFG_STR_CB(LD_SECTION_MARK, 0, CFGF_NODEFAULT,
						  conf_value_cb);
	for (t = conf_option_tables; *t != NULL; t++)
		for (o = *t; o->name != NULL && n < SCHEMA_MAX - 1; o++) {
			if (o->scope != scope)
				continue;
			if (o->flags & CF_LIST)	/* its default: the loader's */
				opts[n++] = (cfg_opt_t)CFG_STR_LIST_CB(o->name, NULL, CFGF_NONE,
								       conf_value_cb);
			else
				opts[n++] = (cfg_opt_t)CFG_STR_CB(o->name, 0, CFGF_NODEFAULT,
								  conf_value_cb);
		}
	for (s = conf_sections; s->name != NULL && n < SCHEMA_MAX - 1; s++) {
		cfg_opt_t *sub;

		if (s->parent != scope || s->scope == CS_GLOBAL)
			continue;
		if ((sub = schema_of(s->scope)) == NULL) {
			free(opts);
			return NULL;
		}
		/* MULTI even when untitled, so that a second one is seen
		 * (and refused), not merged into the first. */
		opts[n] = (cfg_opt_t)CFG_SEC(s->name, sub,
					     CFGF_MULTI | (s->titled ? CFGF_TITLE : 0));
		if (s->titled)
			opts[n].validcb = conf_section_cb;
		n++;
	}
	opts[n] = (cfg_opt_t)CFG_END();
	return opts;
}

static cfg_opt_t *schema(void)
{
	static cfg_opt_t *root;

	if (root == NULL)
		root = schema_of(CS_GLOBAL);
	return root;
}

/* ---- errors that teach ---- */

/* Where the option name is allowed: "an upstream or the top level". */
static void allowed_in(const char *name, char *out, size_t len)
{
	const struct conf_option *const *t, *o;
	size_t n = 0;

	out[0] = '\0';
	for (t = conf_option_tables; *t != NULL; t++)
		for (o = *t; o->name != NULL; o++) {
			const char *where = conf_section_of(o->scope)->where;

			if (strcmp(o->name, name) != 0 || strstr(out, where) != NULL)
				continue;
			n += (size_t)snprintf(out + n, n < len ? len - n : 0, "%s%s",
					      n ? " or " : "", where);
		}
}

/* The edit distance of a and b, up to 3 (more is "far"). */
static unsigned distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	unsigned row[64], prev, tmp;

	if (la >= ARRAY_LEN(row) || lb >= ARRAY_LEN(row))
		return 3;
	for (j = 0; j <= lb; j++)
		row[j] = (unsigned)j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = (unsigned)i;
		for (j = 1; j <= lb; j++) {
			tmp = row[j];
			row[j] = MIN(MIN(row[j] + 1, row[j - 1] + 1),
				     prev + (a[i - 1] == b[j - 1] ? 0 : 1));
			prev = tmp;
		}
	}
	return MIN(row[lb], 3u);
}

/* The option or section name closest to name, if one is close: at most
 * two edits, and fewer than a third of the name. */
static const char *did_you_mean(const char *name)
{
	const struct conf_option *const *t, *o;
	const struct conf_section *s;
	const char *best = NULL;
	unsigned d, best_d = 3;

	for (t = conf_option_tables; *t != NULL; t++)
		for (o = *t; o->name != NULL; o++)
			if ((d = distance(name, o->name)) < best_d) {
				best_d = d;
				best = o->name;
			}
	for (s = conf_sections + 1; s->name != NULL; s++)
		if ((d = distance(name, s->name)) < best_d) {
			best_d = d;
			best = s->name;
		}
	return best != NULL && best_d * 3 < strlen(name) ? best : NULL;
}

static void unknown_option(struct loader *ld, cfg_t *sec, const char *name)
{
	const struct conf_section *here = conf_section_named(cfg_name(sec));
	const char *where = here ? here->where : "this section", *close;
	int line = sec ? sec->line : 0;
	char there[256];

	allowed_in(name, there, sizeof(there));
	if (there[0] != '\0') {
		ld_error(ld, line, "%s is not allowed in %s: it goes in %s", name, where, there);
		return;
	}
	if (conf_section_named(name) != NULL) {
		ld_error(ld, line, "a %s section cannot be written in %s", name, where);
		return;
	}
	if ((close = did_you_mean(name)) != NULL)
		ld_error(ld, line, "no such option \"%s\" in %s; did you mean \"%s\"?", name, where,
			 close);
	else
		ld_error(ld, line, "no such option \"%s\" in %s", name, where);
}

/* The quoted name at the end of libconfuse's message msg, if it starts
 * with prefix: "no such option 'x'" gives "x". */
static const char *quoted_name(char *msg, const char *prefix)
{
	size_t n = strlen(prefix), len = strlen(msg);

	if (strncmp(msg, prefix, n) != 0 || len <= n || msg[len - 1] != '\'')
		return NULL;
	msg[len - 1] = '\0';
	return msg + n;
}

static void conf_error_cb(cfg_t *cfg, const char *fmt, va_list ap)
{
	struct loader *ld = ld_current();
	int line = cfg ? cfg->line : 0;
	const char *name;
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (ld == NULL)
		return;
	if ((name = quoted_name(msg, "no such option '")) != NULL)
		unknown_option(ld, cfg, name);
	else if ((name = quoted_name(msg, "missing opening brace for section '")) != NULL)
		ld_error(ld, line, "%s needs braces, even empty ones: %s \"name\" { }", name, name);
	else
		ld_error(ld, line, "%s", msg);
}

/* ---- loading ---- */

/* Run libconfuse over the preprocessed text; NULL after a syntax error. */
static cfg_t *parse(struct loader *ld, const char *path)
{
	cfg_opt_t *opts = schema();
	const char *text;
	size_t len;
	cfg_t *cfg;
	FILE *fp;
	int rc;

	if (opts == NULL || (cfg = cfg_init(opts, CFGF_NONE)) == NULL) {
		ld_out_of_memory(ld);
		return NULL;
	}
	cfg_set_error_function(cfg, conf_error_cb);
	free(cfg->filename);
	cfg->filename = strdup(path);
	ld_begin(ld, cfg);
	text = ld_text(ld, &len);
	if ((fp = fmemopen((void *)text, len, "r")) == NULL) {
		ld_out_of_memory(ld);
		cfg_free(cfg);
		return NULL;
	}
	rc = cfg_parse_fp(cfg, fp);
	fclose(fp);
	ld_parsed(ld);
	if (rc != CFG_SUCCESS) {
		if (ld_error_count(ld) == 0)
			ld_error_global(ld, "syntax error");
		cfg_free(cfg);
		return NULL;
	}
	return cfg;
}

/* The directory of path exists and lets the caller create files in it,
 * as the master (which opens logs and the pid file) will. line: of the
 * option, or of its section when the default is used. */
static void check_dir_of(struct loader *ld, int line, const char *what, const char *path)
{
	char dir[4096];
	const char *slash;
	struct stat st;

	if (path == NULL || (slash = strrchr(path, '/')) == NULL)
		return;
	snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	if (stat(dir, &st) < 0)
		ld_error(ld, line, "%s \"%s\": its directory %s: %s", what, path, dir,
			 strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		ld_error(ld, line, "%s \"%s\": %s is not a directory", what, path, dir);
	else if (access(dir, W_OK | X_OK) < 0)
		ld_error(ld, line, "%s \"%s\": cannot write in %s: %s", what, path, dir,
			 strerror(errno));
}

/* A log's file must be writable where it goes; a syslog destination has
 * no directory. */
static void check_log_dir(struct loader *ld, int line, const char *what, const char *dest)
{
	if (!syslog_is_dest(dest))
		check_dir_of(ld, line, what, dest);
}

/* What starting would fail on: where the logs and the pid file go. */
static void check_files(struct loader *ld, cfg_t *cfg, const struct conf *c)
{
	unsigned i;

	check_log_dir(ld, ld_opt_line(ld, cfg, "error_log"), "error_log", c->error_log);
	check_dir_of(ld, ld_opt_line(ld, cfg, "pid_file"), "pid_file", c->pid_file);
	for (i = 0; i < c->nsites; i++) {
		cfg_t *site = cfg_getnsec(cfg, "site", i);
		unsigned k, n = 0;

		check_log_dir(ld, ld_opt_line(ld, site, "access_log"), "access_log",
			      c->sites[i].access_log);
		for (k = 0; k < c->sites[i].nlogs; k++)
			if (c->sites[i].logs[k].section)
				check_log_dir(ld, ld_sec_line(ld, cfg_getnsec(site, "log", n++)),
					      "log", c->sites[i].logs[k].destination);
	}
}

/*
 * Parsing takes far more memory than the configuration keeps (libconfuse
 * holds every section's copy of its option table until cfg_free): about
 * 1 GiB for 100,000 routes, freed, but left by malloc among the chunks
 * still in use. Given back to the system, it is not inherited by every
 * worker the master forks, nor counted against the master for as long as
 * it runs.
 */
static void release_free_memory(void)
{
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

struct conf *conf_load(const char *path, unsigned flags, char **errors)
{
	struct loader *ld = ld_new(path);
	struct conf *c = NULL;
	cfg_t *cfg = NULL;

	*errors = NULL;
	if (ld == NULL) {
		*errors = strdup("out of memory while reading the configuration\n");
		return NULL;
	}
	if (ld_read_text(ld) < 0 || (cfg = parse(ld, path)) == NULL)
		goto done;
	if ((c = calloc(1, sizeof(*c))) == NULL || (c->file = strdup(path)) == NULL) {
		ld_out_of_memory(ld);
		goto done;
	}
	conf_globals_resolve(ld, cfg, c);
	conf_caches_resolve(ld, cfg, c);
	conf_filters_resolve(ld, cfg, c);
	conf_limits_resolve(ld, cfg, c);
	conf_geos_resolve(ld, cfg, c);
	conf_log_formats_resolve(ld, cfg, c);
	conf_upstreams_resolve(ld, cfg, c);
	conf_sites_resolve(ld, cfg, c);
	ld_check_duplicates(ld);
	if (flags & CONF_CHECK_FILES)
		check_files(ld, cfg, c);
done:
	ld_end();
	if (cfg != NULL)
		cfg_free(cfg);
	if (ld_failed(ld)) {
		conf_free(c);
		c = NULL;
		*errors = ld_errors(ld);
	}
	ld_free(ld);
	release_free_memory();
	return c;
}

void conf_free(struct conf *c)
{
	unsigned i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nupstreams; i++)
		conf_upstream_free(&c->upstreams[i]);
	free(c->upstreams);
	for (i = 0; i < c->nsites; i++)
		conf_site_free(&c->sites[i]);
	free(c->sites);
	for (i = 0; i < c->ncaches; i++)
		conf_cache_free(&c->caches[i]);
	free(c->caches);
	for (i = 0; i < c->nfilters; i++)
		conf_filter_free(&c->filters[i]);
	free(c->filters);
	for (i = 0; i < c->nlimits; i++)
		conf_limit_free(&c->limits[i]);
	free(c->limits);
	for (i = 0; i < c->ngeos; i++)
		conf_geo_free(&c->geos[i]);
	free(c->geos);
	for (i = 0; i < c->nlog_formats; i++)
		conf_log_format_free(&c->log_formats[i]);
	free(c->log_formats);
	conf_regions_free(c);
	conf_globals_free(c);
	free(c->file);
	free(c);
}

void conf_dump(const struct conf *c, FILE *out)
{
	unsigned i;

	fputs("# effective configuration of ", out);
	fputs(c->file, out);
	fputc('\n', out);
	conf_globals_dump(c, out);
	for (i = 0; i < c->ncaches; i++)
		conf_cache_dump(&c->caches[i], out);
	for (i = 0; i < c->nfilters; i++)
		conf_filter_dump(&c->filters[i], out);
	for (i = 0; i < c->nlimits; i++)
		conf_limit_dump(&c->limits[i], out);
	for (i = 0; i < c->ngeos; i++)
		conf_geo_dump(&c->geos[i], out);
	for (i = 0; i < c->nlog_formats; i++)
		conf_log_format_dump(&c->log_formats[i], out);
	for (i = 0; i < c->nupstreams; i++)
		conf_upstream_dump(&c->upstreams[i], out);
	for (i = 0; i < c->nsites; i++)
		conf_site_dump(&c->sites[i], out);
}
