/*
 * conf_error_page.c: a site's error pages: the files portico answers with
 * instead of its built-in page for chosen statuses. The master reads them
 * while it loads the configuration (at start and on every reload), so
 * workers never open them and a missing file is a configuration error.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf_loader.h"
#include "conf_parts.h"
#include "conf_text.h"

/* "403 404 /srv/pages/4xx.html": the statuses, then the file. */
static int parse_statuses(const char *text, struct conf_error_page *p, const char **file,
			  char *err, size_t errlen)
{
	const char *s = text;

	p->nstatuses = 0;
	for (;;) {
		char *end;
		long status;

		while (*s == ' ' || *s == '\t')
			s++;
		if (*s < '0' || *s > '9')
			break;
		status = strtol(s, &end, 10);
		if (end - s != 3 || (*end != ' ' && *end != '\t' && *end != '\0') ||
		    status < 400 || status > 599) {
			snprintf(err, errlen, "\"%s\": a status is 400 to 599", text);
			return -1;
		}
		if (p->nstatuses == CONF_ERROR_PAGE_STATUSES) {
			snprintf(err, errlen, "\"%s\": at most %d statuses share a page", text,
				 CONF_ERROR_PAGE_STATUSES);
			return -1;
		}
		p->statuses[p->nstatuses++] = (int)status;
		s = end;
	}
	if (p->nstatuses == 0 || *s == '\0') {
		snprintf(err, errlen, "\"%s\": write the statuses, then the file: "
			 "\"502 503 /srv/pages/50x.html\"", text);
		return -1;
	}
	*file = s;
	return 0;
}

const char *conf_page_type(const char *file)
{
	const char *dot = strrchr(file, '.');

	if (dot != NULL && strcasecmp(dot, ".json") == 0)
		return "application/json";
	if (dot != NULL && strcasecmp(dot, ".txt") == 0)
		return "text/plain; charset=utf-8";
	return "text/html";
}

int conf_page_read(const char *file, char **body, size_t *len, char *err, size_t errlen)
{
	const char *why;
	FILE *f = conf_text_open_regular(file, &why);
	char *text = NULL;
	size_t n;

	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", file, why ? why : strerror(errno));
		return -1;
	}
	if ((text = malloc(CONF_ERROR_PAGE_MAX + 1)) == NULL) {
		fclose(f);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	n = fread(text, 1, CONF_ERROR_PAGE_MAX + 1, f);
	if (ferror(f) || n > CONF_ERROR_PAGE_MAX) {
		snprintf(err, errlen, ferror(f) ? "%s: read error" : "%s is over %d bytes",
			 file, CONF_ERROR_PAGE_MAX);
		fclose(f);
		free(text);
		return -1;
	}
	fclose(f);
	*body = text;
	*len = n;
	return 0;
}

/* The file's contents into p; -1 with the reason in err. */
static int read_page(struct conf_error_page *p, char *err, size_t errlen)
{
	if (conf_page_read(p->file, &p->body, &p->len, err, errlen) < 0)
		return -1;
	p->type = conf_page_type(p->file);
	return 0;
}

static int read_entry(struct loader *ld, const char *text, struct conf_error_page *p,
		      char *err, size_t errlen)
{
	char full[PATH_MAX];
	const char *file;

	if (parse_statuses(text, p, &file, err, errlen) < 0)
		return -1;
	if (conf_text_relative(ld_main_file(ld), file, full, sizeof(full)) < 0) {
		snprintf(err, errlen, "\"%s\": the path is too long", file);
		return -1;
	}
	if ((p->file = strdup(full)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (read_page(p, err, errlen) < 0) {
		free(p->file);
		return -1;
	}
	return 0;
}

static void read_error_pages(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			     void *obj, struct conf *c)
{
	struct conf_site *site = obj;
	unsigned i, n = cfg_size(sec, o->name);
	char err[PATH_MAX + 128];

	(void)c;
	if (n == 0 || (site->error_pages = ld_realloc(ld, NULL, n, sizeof(*site->error_pages))) == NULL)
		return;
	for (i = 0; i < n; i++) {
		struct conf_error_page *p = &site->error_pages[site->nerror_pages];

		memset(p, 0, sizeof(*p));
		if (read_entry(ld, cfg_getnstr(sec, o->name, i), p, err, sizeof(err)) < 0)
			ld_error(ld, ld_opt_line_n(ld, sec, o->name, i), "site \"%s\": %s: %s",
				 site->name, o->name, err);
		else
			site->nerror_pages++;
	}
}

static void dump_error_pages(FILE *out, const struct conf_option *o, const void *obj,
			     const char *indent)
{
	const struct conf_site *site = obj;
	char statuses[4 * CONF_ERROR_PAGE_STATUSES + 1];
	unsigned i, j;

	if (site->nerror_pages == 0)
		return;
	fprintf(out, "%s%s = {", indent, o->name);
	for (i = 0; i < site->nerror_pages; i++) {
		const struct conf_error_page *p = &site->error_pages[i];

		for (j = 0; j < p->nstatuses; j++)
			snprintf(statuses + 4 * j, 5, "%d ", p->statuses[j]);
		fputs(i ? ", " : "", out);
		conf_dump_str2(out, statuses, p->file);
	}
	fputs("}\n", out);
}

const struct conf_option conf_site_error_page_options[] = {
	{ "error_page", CS_SITE, CT_CUSTOM, NULL, 0, 0, 0, read_error_pages, NULL,
	  dump_error_pages,
	  "pages for portico's own answers: \"STATUS... FILE\", read at start and reload",
	  CF_LIST },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

const struct conf_error_page *conf_site_error_page(const struct conf_site *site, int status)
{
	unsigned i, j;

	for (i = 0; i < site->nerror_pages; i++)
		for (j = 0; j < site->error_pages[i].nstatuses; j++)
			if (site->error_pages[i].statuses[j] == status)
				return &site->error_pages[i];
	return NULL;
}

void conf_site_error_pages_free(struct conf_site *site)
{
	unsigned i;

	for (i = 0; i < site->nerror_pages; i++) {
		free(site->error_pages[i].file);
		free(site->error_pages[i].body);
	}
	free(site->error_pages);
}
