/*
 * jwt_json.h: the strict JSON reader of JWTs and JWK sets (RFC 8259).
 *
 * Owns: a parse of a whole document into a flat array of tokens the
 * caller gives (nothing is allocated): values point into the text, and
 * each token knows where its subtree ends, so an object's members are
 * walked without recursion. The reader refuses what could be read two
 * ways or hides a trick: a key twice in one object, bytes after the
 * value, control characters and invalid UTF-8 in strings, lone
 * surrogates, leading zeros, nesting deeper than JSON_MAX_DEPTH.
 */
#ifndef PORTICO_JWT_JSON_H
#define PORTICO_JWT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define JSON_MAX_DEPTH 16

enum json_type {
	JSON_OBJECT = 1,
	JSON_ARRAY,
	JSON_STRING,			/* start..len: between the quotes, raw */
	JSON_NUMBER,
	JSON_TRUE,
	JSON_FALSE,
	JSON_NULL
};

struct json_tok {
	uint8_t type;			/* enum json_type */
	bool escaped;			/* a string with a backslash in it */
	uint32_t start, len;		/* in the text */
	uint32_t size;			/* members of an object, elements of an
					 * array */
	uint32_t next;			/* the token after this value's subtree */
};

/* Parse text[len] into t[cap] (the document is t[0]); the number of
 * tokens, or -1 with the reason in *why and the byte it was found at in
 * *at. */
int json_parse(const char *text, size_t len, struct json_tok *t, unsigned cap,
	       const char **why, size_t *at);

/* The index of member key's value in object t[obj], or -1. */
int json_member(const char *text, const struct json_tok *t, unsigned obj, const char *key);

/* String token t decoded into out[cap] (UTF-8, no NUL added); its
 * length, or -1 when it is longer than cap. */
ssize_t json_string(const char *text, const struct json_tok *t, char *out, size_t cap);

/* Whether string token t says s. */
bool json_string_is(const char *text, const struct json_tok *t, const char *s);

/* Number token t as a double. */
double json_number(const char *text, const struct json_tok *t);

#endif
