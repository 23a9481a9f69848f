/*
 * conf_expr.c: variable expressions as options write them ("$host$uri",
 * "user-$cookie_sid", "${http_x_user}:x"): literal text and variables,
 * parsed once into parts that the workers fill from each request
 * (worker/vars.c). hash_key, cache_key, cache_bypass, limit keys and
 * the route actions (conf_rules.c) read them; log formats (conf_log.c)
 * know more variables, the values the exchange's end has.
 */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include "conf_loader.h"
#include "conf_parts.h"

/* The variables; a name ending in '_' takes a NAME after it. Those of
 * log formats only come from KEY_LOG_FIRST on. */
static const struct {
	const char *name;
	enum conf_key_var var;
} key_vars[] = {
	{ "uri", KEY_URI },
	{ "request_uri", KEY_REQUEST_URI },
	{ "args", KEY_ARGS },
	{ "arg_", KEY_ARG },
	{ "http_", KEY_HTTP },
	{ "cookie_", KEY_COOKIE },
	{ "remote_addr", KEY_REMOTE_ADDR },
	{ "host", KEY_HOST },
	{ "scheme", KEY_SCHEME },
	{ "request_method", KEY_METHOD },
	{ "is_args", KEY_IS_ARGS },
	{ "remote_port", KEY_REMOTE_PORT },
	{ "server_port", KEY_SERVER_PORT },
	{ "geo_region", KEY_GEO_REGION },
	{ "remote_user", KEY_REMOTE_USER },
	{ "request_id", KEY_REQUEST_ID },
	{ "site", KEY_SITE },
	{ "route", KEY_ROUTE },
	{ "tls_protocol", KEY_TLS_PROTOCOL },
	{ "tls_cipher", KEY_TLS_CIPHER },
	{ "auth_user", KEY_AUTH_USER },
	{ "status", KEY_STATUS },
	{ "body_bytes_sent", KEY_BODY_BYTES_SENT },
	{ "bytes_sent", KEY_BYTES_SENT },
	{ "request_length", KEY_REQUEST_LENGTH },
	{ "request_time", KEY_REQUEST_TIME },
	{ "msec", KEY_MSEC },
	{ "time_local", KEY_TIME_LOCAL },
	{ "time_iso8601", KEY_TIME_ISO8601 },
	{ "request", KEY_REQUEST },
	{ "upstream_addr", KEY_UPSTREAM_ADDR },
	{ "upstream_connect_time", KEY_UPSTREAM_CONNECT_TIME },
	{ "upstream_header_time", KEY_UPSTREAM_HEADER_TIME },
	{ "upstream_response_time", KEY_UPSTREAM_RESPONSE_TIME },
	{ "upstream_status", KEY_UPSTREAM_STATUS },
	{ "termination", KEY_TERMINATION },
	{ "cache_status", KEY_CACHE_STATUS },
	{ "limit", KEY_LIMIT },
};

static bool is_var_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* Append a part to e, with a copy of name[n] if name. */
static int part_add(struct loader *ld, struct conf_expr *e, enum conf_key_var var,
		    const char *name, size_t n)
{
	struct conf_key_part *k;

	k = ld_grow(ld, e->parts, e->nparts, sizeof(*k));
	if (k == NULL)
		return -1;
	e->parts = k;
	k = &k[e->nparts];
	memset(k, 0, sizeof(*k));
	k->var = var;
	if (name != NULL) {
		k->name = ld_realloc(ld, NULL, n + 1, 1);
		if (k->name == NULL)
			return -1;
		memcpy(k->name, name, n);
		k->name[n] = '\0';
		k->name_len = n;
	}
	e->nparts++;
	return 0;
}

/* "X_User" -> "x-user": a header field's name as it is matched. */
static void http_field_name(char *s)
{
	for (; *s; s++)
		*s = *s == '_' ? '-' : (char)tolower((unsigned char)*s);
}

/*
 * The variable name[n] ("uri", "http_x_user"): adds its part, or
 * reports why it is not one. Header names are stored as they arrive on
 * the wire ("x-user"), so that matching needs no translation.
 */
static int add_var(struct loader *ld, int line, const char *what, struct conf_expr *e,
		   const char *name, size_t n, bool log)
{
	size_t i, len;

	if (n == 1 && isdigit((unsigned char)name[0])) {
		if (part_add(ld, e, KEY_CAPTURE, NULL, 0) == -1)
			return -1;
		e->parts[e->nparts - 1].index = (unsigned)(name[0] - '0');
		return 0;
	}
	for (i = 0; i < ARRAY_LEN(key_vars); i++) {
		len = strlen(key_vars[i].name);
		if (key_vars[i].name[len - 1] != '_') {
			if (n != len || memcmp(name, key_vars[i].name, n) != 0)
				continue;
			if (!log && key_vars[i].var >= KEY_LOG_FIRST) {
				ld_error(ld, line, "%s: variable \"$%.*s\" is known only in log "
					 "formats", what, (int)n, name);
				return -1;
			}
			return part_add(ld, e, key_vars[i].var, NULL, 0);
		}
		if (n < len || memcmp(name, key_vars[i].name, len) != 0)
			continue;
		if (n == len) {
			ld_error(ld, line, "%s: variable \"$%.*s\" needs a name after \"%s\"", what,
				 (int)n, name, key_vars[i].name);
			return -1;
		}
		if (part_add(ld, e, key_vars[i].var, name + len, n - len) == -1)
			return -1;
		if (key_vars[i].var == KEY_HTTP)
			http_field_name(e->parts[e->nparts - 1].name);
		return 0;
	}
	ld_error(ld, line, "%s: unknown variable \"$%.*s\" (use $uri, $request_uri, $args, "
		 "$arg_NAME, $http_NAME, $cookie_NAME, $remote_addr, $remote_port, $host, "
		 "$scheme, $server_port, $request_method, $is_args, $geo_region, $remote_user, "
		 "$request_id, $site, $route, $tls_protocol, $tls_cipher or $0..$9%s)",
		 what, (int)n, name, log ? "; in log formats also the variables portico.conf(5) "
		 "lists under LOGGING" : "");
	return -1;
}

/* A variable's name runs over [A-Za-z0-9_] unless braces delimit it.
 * Stops at the first error. */
static void parse(struct loader *ld, int line, const char *what, struct conf_expr *e,
		  const char *s, bool log)
{
	const char *name, *end;

	while (*s != '\0') {
		end = strchr(s, '$');
		if (end == NULL)
			end = s + strlen(s);
		if (end > s && part_add(ld, e, KEY_TEXT, s, (size_t)(end - s)) == -1)
			return;
		if (*end == '\0')
			return;
		name = end + 1;
		if (*name == '{') {
			name++;
			for (end = name; is_var_char(*end); end++)
				;
			if (*end != '}') {
				ld_error(ld, line, "%s: \"${\" needs a variable name and \"}\", as "
					 "in \"${host}\"", what);
				return;
			}
			s = end + 1;
		} else if (isdigit((unsigned char)*name)) {
			end = name + 1;		/* "$1x" is $1 then "x", as in nginx */
			s = end;
		} else {
			for (end = name; is_var_char(*end); end++)
				;
			s = end;
		}
		if (end == name) {
			ld_error(ld, line, "%s: \"$\" must be followed by a variable name, as in "
				 "\"$request_uri\"", what);
			return;
		}
		if (add_var(ld, line, what, e, name, (size_t)(end - name), log) == -1)
			return;
	}
}

void conf_expr_parse(struct loader *ld, int line, const char *what, struct conf_expr *e,
		     const char *text)
{
	if ((e->text = ld_strdup(ld, text)) != NULL)
		parse(ld, line, what, e, text, false);
}

void conf_expr_parse_log(struct loader *ld, int line, const char *what, struct conf_expr *e,
			 const char *text)
{
	if ((e->text = ld_strdup(ld, text)) != NULL)
		parse(ld, line, what, e, text, true);
}

void conf_expr_free(struct conf_expr *e)
{
	unsigned i;

	for (i = 0; i < e->nparts; i++)
		free(e->parts[i].name);
	free(e->parts);
	free(e->text);
	memset(e, 0, sizeof(*e));
}
