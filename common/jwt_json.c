/*
 * jwt_json.c: strict JSON into a flat token array.
 *
 * A recursive descent bounded by JSON_MAX_DEPTH: a JWT is made by
 * whoever sends it, so neither its nesting nor its size may cost more
 * than the caller's token array.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "jwt_json.h"

struct parser {
	const char *s;
	size_t len, pos;
	struct json_tok *t;
	unsigned cap, n;
	const char *why;
};

static int fail(struct parser *p, const char *why)
{
	if (p->why == NULL)
		p->why = why;
	return -1;
}

static void skip_space(struct parser *p)
{
	while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
				   p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
		p->pos++;
}

static int new_tok(struct parser *p, enum json_type type)
{
	if (p->n == p->cap)
		return fail(p, "too many values");
	p->t[p->n] = (struct json_tok){ .type = (uint8_t)type, .start = (uint32_t)p->pos };
	return (int)p->n++;
}

/* Four hex digits at s (room checked by the caller), or -1. */
static long hex4(const char *s)
{
	long v = 0;
	int i, d;

	for (i = 0; i < 4; i++) {
		if ((d = hex_value(s[i])) < 0)
			return -1;
		v = v << 4 | d;
	}
	return v;
}

/* The length of the UTF-8 sequence at s[0..room), or 0 when invalid
 * (overlong, a surrogate, beyond U+10FFFF, cut short). */
static size_t utf8_len(const unsigned char *s, size_t room)
{
	size_t n, i;
	unsigned long cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (room < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

/* The escape at s[pos] (after the backslash); its length, or 0. */
static size_t escape_len(const char *s, size_t len, size_t pos)
{
	long hi, lo;

	if (pos >= len)
		return 0;
	if (strchr("\"\\/bfnrt", s[pos]) != NULL && s[pos] != '\0')
		return 1;
	if (s[pos] != 'u' || len - pos < 5 || (hi = hex4(s + pos + 1)) < 0)
		return 0;
	if (hi == 0)
		return 0;	/* a NUL would cut a C string short */
	if (hi >= 0xdc00 && hi <= 0xdfff)
		return 0;	/* a low surrogate alone */
	if (hi < 0xd800 || hi > 0xdbff)
		return 5;
	if (len - pos < 11 || s[pos + 5] != '\\' || s[pos + 6] != 'u' ||
	    (lo = hex4(s + pos + 7)) < 0xdc00 || lo > 0xdfff)
		return 0;	/* a high surrogate without its low one */
	return 11;
}

static int parse_string(struct parser *p)
{
	int i = new_tok(p, JSON_STRING);
	size_t n;

	if (i < 0)
		return -1;
	p->pos++;		/* the quote */
	p->t[i].start = (uint32_t)p->pos;
	while (p->pos < p->len && p->s[p->pos] != '"') {
		unsigned char c = (unsigned char)p->s[p->pos];

		if (c < 0x20)
			return fail(p, "a control character in a string");
		if (c == '\\') {
			if ((n = escape_len(p->s, p->len, p->pos + 1)) == 0)
				return fail(p, "a bad escape in a string");
			p->t[i].escaped = true;
			p->pos += 1 + n;
			continue;
		}
		if ((n = utf8_len((const unsigned char *)p->s + p->pos, p->len - p->pos)) == 0)
			return fail(p, "invalid UTF-8 in a string");
		p->pos += n;
	}
	if (p->pos >= p->len)
		return fail(p, "a string without its closing quote");
	p->t[i].len = (uint32_t)(p->pos - p->t[i].start);
	p->pos++;
	p->t[i].next = p->n;
	return i;
}

static size_t digits(struct parser *p)
{
	size_t start = p->pos;

	while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
		p->pos++;
	return p->pos - start;
}

static int parse_number(struct parser *p)
{
	int i = new_tok(p, JSON_NUMBER);
	size_t n;

	if (i < 0)
		return -1;
	if (p->s[p->pos] == '-')
		p->pos++;
	if (p->pos < p->len && p->s[p->pos] == '0') {
		p->pos++;
		if (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
			return fail(p, "a number with a leading zero");
	} else if (digits(p) == 0) {
		return fail(p, "a bad number");
	}
	if (p->pos < p->len && p->s[p->pos] == '.') {
		p->pos++;
		if (digits(p) == 0)
			return fail(p, "a bad number");
	}
	if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
		p->pos++;
		if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
			p->pos++;
		if (digits(p) == 0)
			return fail(p, "a bad number");
	}
	n = p->pos - p->t[i].start;
	if (n > 64)
		return fail(p, "a number too long");
	p->t[i].len = (uint32_t)n;
	p->t[i].next = p->n;
	return i;
}

static int parse_literal(struct parser *p, const char *word, enum json_type type)
{
	size_t n = strlen(word);
	int i;

	if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
		return fail(p, "an unexpected character");
	if ((i = new_tok(p, type)) < 0)
		return -1;
	p->pos += n;
	p->t[i].len = (uint32_t)n;
	p->t[i].next = p->n;
	return i;
}

static int parse_value(struct parser *p, unsigned depth);

/* Decoded strings, a unit at a time, for comparisons without copies. */
struct str_iter {
	const char *p, *end;
	uint8_t buf[4];
	unsigned n, i;
};

static void iter_init(struct str_iter *it, const char *text, const struct json_tok *t)
{
	it->p = text + t->start;
	it->end = it->p + t->len;
	it->n = it->i = 0;
}

static unsigned put_utf8(uint8_t *b, unsigned long cp)
{
	if (cp < 0x80) {
		b[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		b[0] = (uint8_t)(0xc0 | cp >> 6);
		b[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		b[0] = (uint8_t)(0xe0 | cp >> 12);
		b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	b[0] = (uint8_t)(0xf0 | cp >> 18);
	b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
	b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
	b[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

/* The next decoded byte, or -1 at the end (the string was checked by
 * the parser: every escape is whole). */
static int iter_next(struct str_iter *it)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	unsigned long cp;

	if (it->i < it->n)
		return it->buf[it->i++];
	if (it->p >= it->end)
		return -1;
	if (*it->p != '\\')
		return (unsigned char)*it->p++;
	if (it->p[1] != 'u') {
		char c = to[strchr(from, it->p[1]) - from];

		it->p += 2;
		return (unsigned char)c;
	}
	cp = (unsigned long)hex4(it->p + 2);
	it->p += 6;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		cp = 0x10000 + ((cp - 0xd800) << 10) + ((unsigned long)hex4(it->p + 2) - 0xdc00);
		it->p += 6;
	}
	it->n = put_utf8(it->buf, cp);
	it->i = 1;
	return it->buf[0];
}

static bool strings_equal(const char *text, const struct json_tok *a, const struct json_tok *b)
{
	struct str_iter x, y;
	int c;

	if (!a->escaped && !b->escaped)
		return a->len == b->len && memcmp(text + a->start, text + b->start, a->len) == 0;
	iter_init(&x, text, a);
	iter_init(&y, text, b);
	do {
		c = iter_next(&x);
		if (c != iter_next(&y))
			return false;
	} while (c >= 0);
	return true;
}

/* Whether a key of object t[obj] (its members parsed) comes twice. */
static bool has_duplicate_key(const char *text, const struct json_tok *t, unsigned obj)
{
	unsigned a, b;

	for (a = obj + 1; a < t[obj].next; a = t[a + 1].next)
		for (b = t[a + 1].next; b < t[obj].next; b = t[b + 1].next)
			if (strings_equal(text, &t[a], &t[b]))
				return true;
	return false;
}

/* After a member or an element: 1 when a ',' says another follows, 0
 * when close ends the container, -1 (failed) otherwise. */
static int next_item(struct parser *p, char close, const char *unclosed)
{
	skip_space(p);
	if (p->pos < p->len && p->s[p->pos] == ',') {
		p->pos++;
		return 1;
	}
	if (p->pos < p->len && p->s[p->pos] == close)
		return 0;
	return fail(p, unclosed);
}

static int parse_members(struct parser *p, int i, unsigned depth)
{
	int r;

	do {
		skip_space(p);
		if (p->pos >= p->len || p->s[p->pos] != '"')
			return fail(p, "an object member without a string key");
		if (parse_string(p) < 0)
			return -1;
		skip_space(p);
		if (p->pos >= p->len || p->s[p->pos] != ':')
			return fail(p, "a key without ':'");
		p->pos++;
		if (parse_value(p, depth + 1) < 0)
			return -1;
		p->t[i].size++;
	} while ((r = next_item(p, '}', "an object not closed by '}'")) == 1);
	return r;
}

static int parse_elements(struct parser *p, int i, unsigned depth)
{
	int r;

	do {
		if (parse_value(p, depth + 1) < 0)
			return -1;
		p->t[i].size++;
	} while ((r = next_item(p, ']', "an array not closed by ']'")) == 1);
	return r;
}

static int parse_container(struct parser *p, enum json_type type, unsigned depth)
{
	char close = type == JSON_OBJECT ? '}' : ']';
	int i;

	if (depth >= JSON_MAX_DEPTH)
		return fail(p, "nested too deep");
	if ((i = new_tok(p, type)) < 0)
		return -1;
	p->pos++;
	skip_space(p);
	if (p->pos < p->len && p->s[p->pos] == close) {
		/* empty */
	} else if ((type == JSON_OBJECT ? parse_members(p, i, depth)
					 : parse_elements(p, i, depth)) < 0) {
		return -1;
	}
	p->pos++;
	p->t[i].len = (uint32_t)(p->pos - p->t[i].start);
	p->t[i].next = p->n;
	if (type == JSON_OBJECT && has_duplicate_key(p->s, p->t, (unsigned)i))
		return fail(p, "a key twice in one object");
	return i;
}

static int parse_value(struct parser *p, unsigned depth)
{
	skip_space(p);
	if (p->pos >= p->len)
		return fail(p, "a value missing");
	switch (p->s[p->pos]) {
	case '{':
		return parse_container(p, JSON_OBJECT, depth);
	case '[':
		return parse_container(p, JSON_ARRAY, depth);
	case '"':
		return parse_string(p);
	case 't':
		return parse_literal(p, "true", JSON_TRUE);
	case 'f':
		return parse_literal(p, "false", JSON_FALSE);
	case 'n':
		return parse_literal(p, "null", JSON_NULL);
	default:
		if (p->s[p->pos] == '-' || (p->s[p->pos] >= '0' && p->s[p->pos] <= '9'))
			return parse_number(p);
		return fail(p, "an unexpected character");
	}
}

int json_parse(const char *text, size_t len, struct json_tok *t, unsigned cap,
	       const char **why, size_t *at)
{
	struct parser p = { text, len, 0, t, cap, 0, NULL };

	if (len > UINT32_MAX / 2) {
		fail(&p, "too long");
	} else if (parse_value(&p, 0) >= 0) {
		skip_space(&p);
		if (p.pos == len)
			return (int)p.n;
		fail(&p, "bytes after the value");
	}
	*why = p.why;
	*at = p.pos;
	return -1;
}

static bool string_is(const char *text, const struct json_tok *t, const char *s)
{
	struct str_iter it;
	size_t i;
	int c;

	if (!t->escaped)
		return t->len == strlen(s) && memcmp(text + t->start, s, t->len) == 0;
	iter_init(&it, text, t);
	for (i = 0; (c = iter_next(&it)) >= 0; i++)
		if (s[i] == '\0' || (unsigned char)s[i] != c)
			return false;
	return s[i] == '\0';
}

bool json_string_is(const char *text, const struct json_tok *t, const char *s)
{
	return t->type == JSON_STRING && string_is(text, t, s);
}

int json_member(const char *text, const struct json_tok *t, unsigned obj, const char *key)
{
	unsigned k;

	if (t[obj].type != JSON_OBJECT)
		return -1;
	for (k = obj + 1; k < t[obj].next; k = t[k + 1].next)
		if (string_is(text, &t[k], key))
			return (int)k + 1;
	return -1;
}

ssize_t json_string(const char *text, const struct json_tok *t, char *out, size_t cap)
{
	struct str_iter it;
	size_t n = 0;
	int c;

	iter_init(&it, text, t);
	while ((c = iter_next(&it)) >= 0) {
		if (n == cap)
			return -1;
		out[n++] = (char)c;
	}
	return (ssize_t)n;
}

double json_number(const char *text, const struct json_tok *t)
{
	char copy[72];

	memcpy(copy, text + t->start, t->len);	/* at most 64, as parsed */
	copy[t->len] = '\0';
	return strtod(copy, NULL);
}
