/*
 * conf_schema.c: reading, checking, writing back and freeing options by
 * their rows.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "conf_loader.h"
#include "conf_schema.h"
#include "syslog.h"

const struct conf_option *conf_option_in(const struct conf_option *table, const char *name)
{
	for (; table->name != NULL; table++)
		if (strcmp(table->name, name) == 0)
			return table;
	return NULL;
}

/* A row's default, parsed as the file's value would be; the tables are
 * ours, so a default that does not parse is a bug, caught by the unit
 * test that loads an empty configuration. */
static unsigned default_ms(const struct conf_option *o)
{
	return o->def ? (unsigned)conf_parse_duration(o->def) : 0;
}

static void read_duration(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			  unsigned *field)
{
	const char *s = cfg_getstr(sec, o->name);
	long ms;

	if (s == NULL) {
		if (o->def != NULL)
			*field = default_ms(o);
		return;
	}
	ms = conf_parse_duration(s);
	if (ms < 0 || ms > o->max || (ms == 0 && o->min > 0)) {
		ld_error(ld, ld_opt_line(ld, sec, o->name), "%s: bad duration \"%s\" (use e.g. "
			 "\"500ms\", \"15s\", \"2m\", \"1h\"%s)", o->name, s,
			 o->min == 0 ? " or \"0\"" : "");
	} else if (ms < o->min) {
		ld_error(ld, ld_opt_line(ld, sec, o->name), "%s must be at least %lldms "
			 "(\"%s\" is less)", o->name, o->min, s);
	} else {
		*field = (unsigned)ms;
		return;
	}
	if (o->def != NULL)
		*field = default_ms(o);
}

static void read_size(struct loader *ld, cfg_t *sec, const struct conf_option *o,
		      size_t *field)
{
	const char *s = cfg_getstr(sec, o->name);
	long long v;

	if (s == NULL) {
		if (o->def != NULL)
			*field = (size_t)conf_parse_size(o->def);
		return;
	}
	v = conf_parse_size(s);
	if (v < o->min || v > o->max || (v == 0 && o->min > 0)) {
		ld_error(ld, ld_opt_line(ld, sec, o->name), "%s: bad size \"%s\" (use e.g. "
			 "\"4096\", \"16k\", \"1m\"; at most %lldg)", o->name, s, o->max >> 30);
		if (o->def != NULL)
			*field = (size_t)conf_parse_size(o->def);
		return;
	}
	*field = (size_t)v;
}

static void read_number(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			unsigned *field)
{
	long def = o->def ? strtol(o->def, NULL, 10) : (long)*field;

	*field = (unsigned)ld_get_number(ld, sec, o->name, def, (long)o->min, (long)o->max);
}

static void read_bool(struct loader *ld, cfg_t *sec, const struct conf_option *o, bool *field)
{
	bool def = o->def ? strcmp(o->def, "true") == 0 : *field;

	*field = ld_get_bool(ld, sec, o->name, def);
}

static void read_string(struct loader *ld, cfg_t *sec, const struct conf_option *o,
			char **field)
{
	bool syslog = (o->flags & CF_LOG_DEST) &&
		      syslog_is_dest(cfg_getstr(sec, o->name) ? cfg_getstr(sec, o->name) : o->def);
	char *s = o->type == CT_PATH && !syslog ? ld_get_path(ld, sec, o->name, o->def)
						: ld_get_string(ld, sec, o->name, o->def);

	if (s != NULL || o->def != NULL) {
		free(*field);
		*field = s;
	}
}

static void read_option(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj,
			struct conf *c)
{
	void *field = conf_field(o, obj);

	switch (o->type) {
	case CT_BOOL:
		read_bool(ld, sec, o, field);
		break;
	case CT_NUMBER:
		read_number(ld, sec, o, field);
		break;
	case CT_DURATION:
		read_duration(ld, sec, o, field);
		break;
	case CT_SIZE:
		read_size(ld, sec, o, field);
		break;
	case CT_STRING:
	case CT_PATH:
		read_string(ld, sec, o, field);
		break;
	case CT_CUSTOM:
		o->read(ld, sec, o, obj, c);
		return;
	}
	if (o->check != NULL && cfg_getstr(sec, o->name) != NULL)
		o->check(ld, sec, o, obj);
}

void conf_read(struct loader *ld, cfg_t *sec, const struct conf_option *table, void *obj,
	       struct conf *c)
{
	for (; table->name != NULL; table++)
		read_option(ld, sec, table, obj, c);
}

void conf_check_log_dest(struct loader *ld, cfg_t *sec, const struct conf_option *o, void *obj)
{
	const char *s = cfg_getstr(sec, o->name);
	struct syslog_dest d;
	char err[256];

	(void)obj;
	if (syslog_is_dest(s) && syslog_dest_parse(s, &d, err, sizeof(err)) < 0)
		ld_error(ld, ld_opt_line(ld, sec, o->name), "%s \"%s\": %s", o->name, s, err);
}

/* ---- writing back ---- */

/* prefix and s as one quoted string, escaped for libconfuse ("${" would
 * expand an environment variable). */
void conf_dump_str2(FILE *out, const char *prefix, const char *s)
{
	fputc('"', out);
	fputs(prefix, out);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\' || (c == '$' && s[1] == '{'))
			fprintf(out, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", out);
		else if (c == '\t')
			fputs("\\t", out);
		else if (c < ' ' || c == 0x7f)
			fprintf(out, "\\x%02x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

void conf_dump_str(FILE *out, const char *s)
{
	conf_dump_str2(out, "", s);
}

void conf_dump_line(FILE *out, const char *indent, const char *name, const char *value)
{
	if (value == NULL)
		return;
	fprintf(out, "%s%s = ", indent, name);
	conf_dump_str(out, value);
	fputc('\n', out);
}

void conf_dump_cidrs(FILE *out, const char *indent, const char *name, const struct cidr *list,
		     unsigned n)
{
	char text[64];
	unsigned i;

	if (n == 0)
		return;
	fprintf(out, "%s%s = {", indent, name);
	for (i = 0; i < n; i++) {
		cidr_format(&list[i], text, sizeof(text));
		fprintf(out, "%s\"%s\"", i ? ", " : "", text);
	}
	fputs("}\n", out);
}

void conf_dump_duration(FILE *out, const char *name, unsigned ms, const char *indent)
{
	if (ms == 0)
		fprintf(out, "%s%s = \"0\"\n", indent, name);
	else if (ms % 3600000 == 0)
		fprintf(out, "%s%s = \"%uh\"\n", indent, name, ms / 3600000);
	else if (ms % 60000 == 0)
		fprintf(out, "%s%s = \"%um\"\n", indent, name, ms / 60000);
	else if (ms % 1000 == 0)
		fprintf(out, "%s%s = \"%us\"\n", indent, name, ms / 1000);
	else
		fprintf(out, "%s%s = \"%ums\"\n", indent, name, ms);
}

void conf_dump_size(FILE *out, const char *name, size_t v, const char *indent)
{
	static const char units[] = "gmk";
	int i;

	for (i = 0; i < 3; i++) {
		size_t m = (size_t)1 << (10 * (3 - i));

		if (v >= m && v % m == 0) {
			fprintf(out, "%s%s = \"%zu%c\"\n", indent, name, v / m, units[i]);
			return;
		}
	}
	fprintf(out, "%s%s = \"%zu\"\n", indent, name, v);
}

static void write_option(FILE *out, const struct conf_option *o, const void *obj,
			 const char *indent)
{
	const void *field = conf_cfield(o, obj);

	switch (o->type) {
	case CT_BOOL:
		fprintf(out, "%s%s = %s\n", indent, o->name,
			*(const bool *)field ? "true" : "false");
		break;
	case CT_NUMBER:
		fprintf(out, "%s%s = %u\n", indent, o->name, *(const unsigned *)field);
		break;
	case CT_DURATION:
		conf_dump_duration(out, o->name, *(const unsigned *)field, indent);
		break;
	case CT_SIZE:
		conf_dump_size(out, o->name, *(const size_t *)field, indent);
		break;
	case CT_STRING:
	case CT_PATH:
		conf_dump_line(out, indent, o->name, *(char *const *)field);
		break;
	case CT_CUSTOM:
		if (o->dump != NULL)
			o->dump(out, o, obj, indent);
		break;
	}
}

void conf_write(FILE *out, const struct conf_option *table, const void *obj,
		const char *indent)
{
	for (; table->name != NULL; table++)
		write_option(out, table, obj, indent);
}

void conf_release(const struct conf_option *table, void *obj)
{
	for (; table->name != NULL; table++) {
		char **field;

		if (table->type != CT_STRING && table->type != CT_PATH)
			continue;
		field = conf_field(table, obj);
		free(*field);
		*field = NULL;
	}
}
