/*
 * vars.c: variables' values, read from the request as it arrived.
 */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include <openssl/ssl.h>

#include "vars.h"

/* The value of name in "a=1; b=2" (sep ';', cookies) or "a=1&b=2"
 * (sep '&', query); empty when absent. */
static struct slice pair_value(struct slice list, const char *name, size_t name_len,
			       char sep)
{
	const char *p = list.p, *end = list.p + list.len;

	while (p < end) {
		const char *item_end = memchr(p, sep, (size_t)(end - p));

		if (item_end == NULL)
			item_end = end;
		while (p < item_end && *p == ' ')
			p++;
		if ((size_t)(item_end - p) > name_len && memcmp(p, name, name_len) == 0 &&
		    p[name_len] == '=')
			return (struct slice){ p + name_len + 1,
					       (size_t)(item_end - p) - name_len - 1 };
		p = item_end + 1;
	}
	return (struct slice){ NULL, 0 };
}

static struct slice host_without_port(struct slice host)
{
	size_t i;

	if (host.len > 0 && host.p[0] == '[') {
		const char *close = memchr(host.p, ']', host.len);

		if (close != NULL)
			host.len = (size_t)(close - host.p) + 1;
		return host;
	}
	for (i = 0; i < host.len; i++)
		if (host.p[i] == ':')
			host.len = i;
	return host;
}

static struct slice cstr(const char *s)
{
	return (struct slice){ s, strlen(s) };
}

static struct slice capture(const struct var_captures *c, unsigned i)
{
	/* A group that took no part in the match is PCRE2_UNSET, ~0. */
	if (c == NULL || i >= c->n || c->ovector[2 * i] == (size_t)-1)
		return (struct slice){ NULL, 0 };
	return (struct slice){ c->subject + c->ovector[2 * i],
			       c->ovector[2 * i + 1] - c->ovector[2 * i] };
}

/* A port's digits into out[VAR_SCRATCH]; empty for 0. */
static struct slice port_text(uint16_t port, char *out)
{
	char digits[5];
	unsigned n = 0, i;

	for (; port > 0; port /= 10)
		digits[n++] = (char)('0' + port % 10);
	for (i = 0; i < n; i++)
		out[i] = digits[n - 1 - i];
	return (struct slice){ out, n };
}

struct slice var_value(const struct conf_key_part *kp, const struct var_source *src,
		       char scratch[VAR_SCRATCH])
{
	const struct http_message *req = src->req;

	switch (kp->var) {
	case KEY_TEXT:
		return (struct slice){ kp->name, kp->name_len };
	case KEY_URI:
		return req->uri;
	case KEY_REQUEST_URI:
		return req->target;
	case KEY_ARGS:
		return req->query;
	case KEY_ARG:
		return pair_value(req->query, kp->name, kp->name_len, '&');
	case KEY_HTTP:
		return http_header_value(req, kp->name);
	case KEY_COOKIE:
		return pair_value(http_header_value(req, "cookie"), kp->name, kp->name_len, ';');
	case KEY_REMOTE_ADDR:
		return cstr(src->client_addr);
	case KEY_HOST:
		return host_without_port(req->host);
	case KEY_SCHEME:
		return cstr(src->tls ? "https" : "http");
	case KEY_METHOD:
		return req->method;
	case KEY_CAPTURE:
		return capture(src->captures, kp->index);
	case KEY_IS_ARGS:
		return req->query.len > 0 ? cstr("?") : (struct slice){ NULL, 0 };
	case KEY_REMOTE_PORT:
		return port_text(src->remote_port, scratch);
	case KEY_SERVER_PORT:
		return port_text(src->server_port, scratch);
	case KEY_GEO_REGION:
		return cstr(src->geo_region ? src->geo_region : "");
	case KEY_REMOTE_USER:
		return cstr(src->remote_user ? src->remote_user : "");
	case KEY_REQUEST_ID:
		return cstr(src->request_id ? src->request_id : "");
	case KEY_SITE:
		return cstr(src->site ? src->site->name : "");
	case KEY_ROUTE:
		return cstr(src->route ? src->route->pattern : "");
	case KEY_TLS_PROTOCOL:
		return cstr(src->ssl ? SSL_get_version(src->ssl) : "");
	case KEY_TLS_CIPHER:
		return cstr(src->ssl ? SSL_get_cipher_name(src->ssl) : "");
	default:
		break;		/* the log's (access_log.c) */
	}
	return (struct slice){ NULL, 0 };
}

size_t vars_expand(const struct conf_expr *e, const struct var_source *src, char *out,
		   size_t cap)
{
	size_t n = 0, i;
	unsigned k;

	for (k = 0; k < e->nparts; k++) {
		char scratch[VAR_SCRATCH];
		struct slice v = var_value(&e->parts[k], src, scratch);
		size_t take = MIN(v.len, cap - n);

		if (var_lower(&e->parts[k]))
			for (i = 0; i < take; i++)
				out[n + i] = (char)tolower((unsigned char)v.p[i]);
		else if (take > 0)
			memcpy(out + n, v.p, take);
		n += take;
		if (take < v.len)
			return cap + 1;
	}
	return n;
}

/* Whether the variable's value is the path decoded, or a part of it. */
static bool decoded_path(const struct conf_key_part *kp)
{
	return kp->var == KEY_URI || kp->var == KEY_CAPTURE;
}

static bool unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/';
}

static bool needs_escape(unsigned char c, enum var_escape where, bool literal, bool decoded)
{
	if (where == VAR_IN_FIELD)
		return (c < ' ' && c != '\t') || c == 0x7f;
	if (c <= ' ' || c == 0x7f)
		return true;
	if (where == VAR_IN_COMPONENT && !literal)
		return !unreserved(c);
	return decoded && (c == '%' || c == '?' || c == '#' || c > 0x7e);
}

size_t vars_expand_for_head(const struct conf_expr *e, const struct var_source *src,
			    char *out, size_t cap, enum var_escape where)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0, i;
	unsigned k;

	for (k = 0; k < e->nparts; k++) {
		char scratch[VAR_SCRATCH];
		struct slice v = var_value(&e->parts[k], src, scratch);
		bool decoded = decoded_path(&e->parts[k]), lower = var_lower(&e->parts[k]);

		for (i = 0; i < v.len; i++) {
			unsigned char c = (unsigned char)v.p[i];

			if (lower)
				c = (unsigned char)tolower(c);
			if (!needs_escape(c, where, e->parts[k].var == KEY_TEXT, decoded)) {
				if (n + 1 > cap)
					return cap + 1;
				out[n++] = (char)c;
				continue;
			}
			if (n + 3 > cap)
				return cap + 1;
			out[n++] = '%';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	return n;
}
