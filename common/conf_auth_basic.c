/*
 * conf_auth_basic.c: auth_basic, auth_basic_user_file and
 * auth_basic_cache_time on sites and routes. A route starts from its
 * site's values and changes the ones it writes; auth = off on a route
 * leaves it none, and auth_basic = "off" none of basic's.
 *
 * The user file is read here, in the master, when the configuration
 * loads (a reload reads it again): workers never open it. Every line
 * that is not a user with an accepted hash is an error at file:line.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_loader.h"
#include "conf_parts.h"
#include "htpasswd.h"

#define SITE(field) offsetof(struct conf_site, field)
#define ROUTE(field) offsetof(struct conf_route, field)
#define FILE_ERRORS_MAX 10

/* ---- the user file ---- */

static void strip_blanks(char *s)
{
	char *end = s + strlen(s);

	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*end = '\0';
}

/* One line: "user:hash", with ":comment" after or not; blank lines and
 * "#" comments are skipped. false when the line is in error. */
static bool read_entry(struct loader *ld, int optline, const char *path, unsigned n, char *line,
		       struct htpasswd *h)
{
	char *user, *hash, *colon;
	const char *why;
	size_t len;

	line[strcspn(line, "\r\n")] = '\0';
	user = line + strspn(line, " \t");
	if (*user == '\0' || *user == '#')
		return true;
	if ((colon = strchr(user, ':')) == NULL) {
		ld_error_file(ld, optline, path, (int)n, "auth_basic_user_file: no \":\" between a "
			      "user and a password hash");
		return false;
	}
	len = (size_t)(colon - user);
	if ((why = htpasswd_user_refused(user, len)) != NULL) {
		ld_error_file(ld, optline, path, (int)n, "auth_basic_user_file: %s", why);
		return false;
	}
	hash = colon + 1;
	hash[strcspn(hash, ":")] = '\0';
	strip_blanks(hash);
	if ((why = htpasswd_hash_refused(hash)) != NULL) {
		ld_error_file(ld, optline, path, (int)n, "auth_basic_user_file: user \"%.*s\": %s",
			      (int)len, user, why);
		return false;
	}
	if (htpasswd_add(h, user, len, hash, n) == -1)
		ld_out_of_memory(ld);
	return true;
}

static void read_lines(struct loader *ld, int optline, const char *path, FILE *f,
		       struct htpasswd *h)
{
	const struct htpasswd_entry *twice;
	unsigned n = 0, bad = 0, first;
	char *line = NULL;
	size_t cap = 0;

	while (getline(&line, &cap, f) >= 0) {
		if (read_entry(ld, optline, path, ++n, line, h))
			continue;
		if (++bad == FILE_ERRORS_MAX) {
			ld_error_file(ld, optline, path, (int)n, "auth_basic_user_file: more bad "
				      "lines; the rest of the file is not read");
			break;
		}
	}
	if (ferror(f))
		ld_error(ld, optline, "auth_basic_user_file \"%s\": %s", path, strerror(errno));
	free(line);
	if ((twice = htpasswd_finish(h, &first)) != NULL)
		ld_error_file(ld, optline, path, (int)twice->line, "auth_basic_user_file: user "
			      "\"%s\" is named twice (first at line %u)", twice->log_name, first);
}

/* The users of path, named at optline; NULL after an error said why. */
static struct htpasswd *read_users(struct loader *ld, int optline, const char *path)
{
	const char *why = NULL;
	FILE *f = conf_text_open_regular(path, &why);
	struct htpasswd *h;

	if (f == NULL) {
		ld_error(ld, optline, "auth_basic_user_file \"%s\": %s", path,
			 why ? why : strerror(errno));
		return NULL;
	}
	if ((h = htpasswd_new()) == NULL)
		ld_error(ld, optline, "auth_basic_user_file \"%s\": no memory or no random bytes "
			 "for its table", path);
	else
		read_lines(ld, optline, path, f, h);
	fclose(f);
	return h;
}

/* ---- the rows ---- */

/* Basic realm="...", charset="UTF-8", the realm a quoted-string. */
static char *challenge_of(struct loader *ld, const char *realm)
{
	static const char head[] = "Basic realm=\"", tail[] = "\", charset=\"UTF-8\"";
	char *out = ld_realloc(ld, NULL, sizeof(head) + 2 * strlen(realm) + sizeof(tail), 1);
	char *p = out;

	if (out == NULL)
		return NULL;
	p = stpcpy(p, head);
	for (; *realm != '\0'; realm++) {
		if (*realm == '"' || *realm == '\\')
			*p++ = '\\';
		*p++ = *realm;
	}
	strcpy(p, tail);
	return out;
}

static void read_realm(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
		       struct conf *c)
{
	struct conf_auth_basic *ab = conf_field(o, obj);
	const char *s = cfg_getstr(sec, o->name), *p;

	(void)c;
	if (s == NULL)
		return;		/* none, or the site's */
	if (strcmp(s, "off") == 0) {
		*ab = (struct conf_auth_basic){ .cache_time = ab->cache_time };
		return;
	}
	for (p = s; *p != '\0' && (unsigned char)*p >= ' ' && *p != 0x7f; p++)
		;
	if (*s == '\0' || *p != '\0') {
		ld_error(ld, ld_opt_line(ld, sec, o->name), "auth_basic: the realm must be text "
			 "without control characters (it names what the password is for; "
			 "\"off\": none)");
		return;
	}
	ab->realm = ld_strdup(ld, s);
	ab->challenge = challenge_of(ld, s);
}

static void read_user_file(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			   void *obj, struct conf *c)
{
	struct conf_auth_basic *ab = conf_field(o, obj);

	(void)c;
	if (cfg_getstr(sec, o->name) == NULL)
		return;
	ab->users = NULL;
	if ((ab->user_file = ld_get_path(ld, sec, o->name, NULL)) != NULL)
		ab->users = read_users(ld, ld_opt_line(ld, sec, o->name), ab->user_file);
}

static void dump_realm(FILE *out, const struct conf_option *o, const void *obj,
		       const char *indent)
{
	conf_dump_line(out, indent, o->name,
		       ((const struct conf_auth_basic *)conf_cfield(o, obj))->realm);
}

static void dump_user_file(FILE *out, const struct conf_option *o, const void *obj,
			   const char *indent)
{
	conf_dump_line(out, indent, o->name,
		       ((const struct conf_auth_basic *)conf_cfield(o, obj))->user_file);
}

static void dump_cache_time(FILE *out, const struct conf_option *o, const void *obj,
			    const char *indent)
{
	/* the row names the field; its settings hold it */
	const struct conf_auth_basic *ab = (const void *)((const char *)conf_cfield(o, obj) -
							  offsetof(struct conf_auth_basic, cache_time));

	if (ab->realm != NULL || ab->user_file != NULL)
		conf_dump_duration(out, o->name, ab->cache_time, indent);
}

const struct conf_option conf_site_auth_basic_options[] = {
	{ "auth_basic", CS_SITE, CT_CUSTOM, NULL, 0, 0, SITE(auth_basic), read_realm, NULL,
	  dump_realm, "the realm of HTTP Basic authentication its routes ask for; \"off\": "
	  "none", 0 },
	{ "auth_basic_user_file", CS_SITE, CT_CUSTOM, NULL, 0, 0, SITE(auth_basic),
	  read_user_file, NULL, dump_user_file,
	  "the htpasswd file of its users, read when the configuration loads", 0 },
	{ "auth_basic_cache_time", CS_SITE, CT_DURATION, "60s", 0, CONF_MS_MAX,
	  SITE(auth_basic.cache_time), NULL, NULL, dump_cache_time,
	  "how long a verified password is remembered in the auth cache; 0: never", 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

const struct conf_option conf_route_auth_basic_options[] = {
	{ "auth_basic", CS_ROUTE, CT_CUSTOM, NULL, 0, 0, ROUTE(auth_basic), read_realm, NULL,
	  dump_realm, "the realm of HTTP Basic authentication it asks for (default: the "
	  "site's); \"off\": none", 0 },
	{ "auth_basic_user_file", CS_ROUTE, CT_CUSTOM, NULL, 0, 0, ROUTE(auth_basic),
	  read_user_file, NULL, dump_user_file,
	  "the htpasswd file of its users (default: the site's)", 0 },
	{ "auth_basic_cache_time", CS_ROUTE, CT_DURATION, NULL, 0, CONF_MS_MAX,
	  ROUTE(auth_basic.cache_time), NULL, NULL, dump_cache_time,
	  "how long a verified password is remembered (default: the site's)", 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

/* ---- sections ---- */

/* The first of the rows written in sec, or NULL. */
static const char *written(struct loader *ld, cfg_t *sec)
{
	const struct conf_option *o;

	for (o = conf_route_auth_basic_options; o->name != NULL; o++)
		if (ld_opt_written(ld, sec, o->name))
			return o->name;
	return NULL;
}

/* A realm written needs a file of users, its own or its site's; a file
 * written without a realm would ask nothing, which its writer cannot
 * mean. */
static void check_users(struct loader *ld, cfg_t *sec, const struct conf_auth_basic *ab)
{
	if (ab->realm != NULL && ab->user_file == NULL)
		ld_error(ld, ld_opt_line(ld, sec, "auth_basic"), "auth_basic \"%s\" needs "
			 "auth_basic_user_file, the file of its users", ab->realm);
	else if (ab->realm == NULL && ld_opt_written(ld, sec, "auth_basic_user_file") &&
		 !ld_opt_written(ld, sec, "auth_basic"))
		ld_error(ld, ld_opt_line(ld, sec, "auth_basic_user_file"), "auth_basic_user_file "
			 "without auth_basic: write the realm that asks for the users (or "
			 "auth_basic = \"off\" on a route)");
}

void conf_site_auth_basic_check(struct loader *ld, cfg_t *sec, const struct conf *c,
				const struct conf_site *site)
{
	check_users(ld, sec, &site->auth_basic);
	conf_auth_cache_check(ld, sec, c, "auth_basic_cache_time", site->auth_basic.cache_time);
}

void conf_route_auth_basic_read(struct loader *ld, cfg_t *sec, struct conf *c,
				const struct conf_site *site, struct conf_route *r)
{
	static const char *const with_realm[] = { "auth_basic_user_file",
						  "auth_basic_cache_time" };
	const char *name = written(ld, sec), *realm = cfg_getstr(sec, "auth_basic");
	unsigned i;

	r->auth_basic = site->auth_basic;
	if (!r->auth) {
		if (name != NULL)
			ld_error(ld, ld_opt_line(ld, sec, name), "route \"%s\": %s has no use with "
				 "auth = off", r->pattern, name);
		r->auth_basic = (struct conf_auth_basic){ 0 };
		return;
	}
	conf_read(ld, sec, conf_route_auth_basic_options, r, c);
	conf_auth_cache_check(ld, sec, c, "auth_basic_cache_time", r->auth_basic.cache_time);
	if (realm == NULL)
		return;
	if (strcmp(realm, "off") != 0) {
		check_users(ld, sec, &r->auth_basic);
		return;
	}
	for (i = 0; i < ARRAY_LEN(with_realm); i++)
		if (ld_opt_written(ld, sec, with_realm[i]))
			ld_error(ld, ld_opt_line(ld, sec, with_realm[i]), "route \"%s\": %s has no "
				 "use with auth_basic = \"off\"", r->pattern, with_realm[i]);
}

void conf_route_auth_basic_dump(FILE *out, const struct conf_site *s, const struct conf_route *r,
				const char *indent)
{
	if (!r->auth)
		return;
	if (r->auth_basic.realm == NULL && s->auth_basic.realm != NULL)
		conf_dump_line(out, indent, "auth_basic", "off");
	else
		conf_write(out, conf_route_auth_basic_options, r, indent);
}

static void free_own(struct conf_auth_basic *ab, const struct conf_auth_basic *site)
{
	if (site == NULL || ab->realm != site->realm)
		free(ab->realm);
	if (site == NULL || ab->challenge != site->challenge)
		free(ab->challenge);
	if (site == NULL || ab->user_file != site->user_file)
		free(ab->user_file);
	if (site == NULL || ab->users != site->users)
		htpasswd_free(ab->users);
}

void conf_route_auth_basic_free(const struct conf_site *s, struct conf_route *r)
{
	free_own(&r->auth_basic, &s->auth_basic);
}

void conf_site_auth_basic_free(struct conf_site *s)
{
	free_own(&s->auth_basic, NULL);
}
