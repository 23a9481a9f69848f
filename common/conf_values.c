/*
 * conf_values.c: the values of the configuration as text: durations,
 * sizes, socket addresses.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include "core.h"
#include "conf.h"

static bool is_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

long conf_parse_number(const char *s)
{
	long v;

	if (!is_digits(s))
		return -1;
	errno = 0;
	v = strtol(s, NULL, 10);
	return errno != 0 ? -1 : v;
}

struct time_unit {
	const char *name;
	long mult;
};

/* A number and one of units (in any case), scaled; -1 when invalid or
 * above INT_MAX. */
static long parse_scaled(const char *s, const struct time_unit *units, size_t nunits)
{
	unsigned long long v = 0;
	size_t i;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		v = v * 10 + (unsigned)(*s - '0');
		if (v > INT_MAX)
			return -1;
	}
	for (i = 0; i < nunits; i++)
		if (strcasecmp(s, units[i].name) == 0) {
			if (v > INT_MAX / (unsigned long long)units[i].mult)
				return -1;
			return (long)v * units[i].mult;
		}
	return -1;
}

long conf_parse_duration(const char *s)
{
	static const struct time_unit units[] = {
		{ "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
		{ "h", 3600000 }
	};

	return parse_scaled(s, units, ARRAY_LEN(units));
}

long conf_parse_usec(const char *s)
{
	static const struct time_unit units[] = { { "us", 1 }, { "ms", 1000 } };

	if (s != NULL && strcmp(s, "0") == 0)
		return 0;
	return parse_scaled(s, units, ARRAY_LEN(units));
}

long long conf_parse_size(const char *s)
{
	unsigned long long v = 0, mult = 1;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		v = v * 10 + (unsigned)(*s - '0');
		if (v > LLONG_MAX / 10)
			return -1;
	}
	switch (tolower((unsigned char)*s)) {
	case '\0':
		return (long long)v;
	case 'k':
		mult = 1ULL << 10;
		break;
	case 'm':
		mult = 1ULL << 20;
		break;
	case 'g':
		mult = 1ULL << 30;
		break;
	default:
		return -1;
	}
	if (s[1] != '\0' || v > (unsigned long long)LLONG_MAX / mult)
		return -1;
	return (long long)(v * mult);
}

static int parse_port(const char *s, in_port_t *port, char *err, size_t errlen)
{
	unsigned long v;

	if (!is_digits(s) || strlen(s) > 5 ||
	    (v = strtoul(s, NULL, 10)) < 1 || v > 65535) {
		snprintf(err, errlen, "port must be a number from 1 to 65535");
		return -1;
	}
	*port = htons((in_port_t)v);
	return 0;
}

/* "[v6]:port" */
static int parse_ipv6(const char *text, struct sockaddr_in6 *sin6,
		      char *err, size_t errlen)
{
	const char *close = strchr(text, ']');
	char host[INET6_ADDRSTRLEN + 8];
	size_t hlen;

	if (close == NULL || close[1] != ':') {
		snprintf(err, errlen, "expected \"[IPv6]:port\"");
		return -1;
	}
	hlen = (size_t)(close - text - 1);
	if (hlen >= sizeof(host)) {
		snprintf(err, errlen, "bad IPv6 address");
		return -1;
	}
	memcpy(host, text + 1, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
		snprintf(err, errlen, "bad IPv6 address \"%s\"", host);
		return -1;
	}
	sin6->sin6_family = AF_INET6;
	return parse_port(close + 2, &sin6->sin6_port, err, errlen);
}

/* "1.2.3.4:port", "*:port", "localhost:port" or "port" */
static int parse_ipv4(const char *text, struct sockaddr_in *sin,
		      char *err, size_t errlen)
{
	const char *colon = strrchr(text, ':');
	char host[INET_ADDRSTRLEN + 8];
	size_t hlen;

	sin->sin_family = AF_INET;
	if (colon == NULL) {
		if (!is_digits(text)) {
			snprintf(err, errlen, "missing port (use \"host:port\")");
			return -1;
		}
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		return parse_port(text, &sin->sin_port, err, errlen);
	}
	if (strchr(text, ':') != colon) {
		snprintf(err, errlen, "IPv6 addresses go in brackets, as in "
		    "\"[::1]:80\"");
		return -1;
	}
	hlen = (size_t)(colon - text);
	if (hlen == 0 || hlen >= sizeof(host)) {
		snprintf(err, errlen, "bad host");
		return -1;
	}
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	if (strcmp(host, "*") == 0)
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
	else if (strcasecmp(host, "localhost") == 0)
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
		snprintf(err, errlen, "\"%s\" is not an IP address (host names "
		    "are not resolved)", host);
		return -1;
	}
	return parse_port(colon + 1, &sin->sin_port, err, errlen);
}

/* "unix:/run/app.sock": an absolute path, as the master may chdir("/")
 * before it binds or a worker connects, and one that fits sun_path. */
static int parse_unix(const char *path, struct sockaddr_un *sun, socklen_t *len,
		      char *err, size_t errlen)
{
	size_t n = strlen(path);

	if (path[0] != '/') {
		snprintf(err, errlen, "a unix socket path must be absolute, as in "
			 "\"unix:/run/app.sock\"");
		return -1;
	}
	if (n >= sizeof(sun->sun_path)) {
		snprintf(err, errlen, "unix socket path is %zu bytes long, longer than the "
			 "%zu a socket address holds", n, sizeof(sun->sun_path) - 1);
		return -1;
	}
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, n + 1);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}

int conf_parse_address(const char *text, struct sockaddr_storage *ss,
		       socklen_t *len, char *err, size_t errlen)
{
	memset(ss, 0, sizeof(*ss));
	if (text == NULL || *text == '\0') {
		snprintf(err, errlen, "empty address");
		return -1;
	}
	if (strncmp(text, CONF_UNIX_PREFIX, strlen(CONF_UNIX_PREFIX)) == 0)
		return parse_unix(text + strlen(CONF_UNIX_PREFIX), (struct sockaddr_un *)ss, len,
				  err, errlen);
	if (text[0] == '[') {
		*len = sizeof(struct sockaddr_in6);
		return parse_ipv6(text, (struct sockaddr_in6 *)ss, err, errlen);
	}
	*len = sizeof(struct sockaddr_in);
	return parse_ipv4(text, (struct sockaddr_in *)ss, err, errlen);
}

void conf_format_address(const struct sockaddr *sa, char *out, size_t outlen)
{
	char host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(out, outlen, "%s:%u", host, ntohs(sin->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(out, outlen, "[%s]:%u", host, ntohs(sin6->sin6_port));
	} else if (sa->sa_family == AF_UNIX) {
		snprintf(out, outlen, CONF_UNIX_PREFIX "%s",
			 ((const struct sockaddr_un *)sa)->sun_path);
	} else {
		snprintf(out, outlen, "(family %d)", sa->sa_family);
	}
}

bool conf_addr_equal(const struct sockaddr_storage *a,
		       const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_port == y->sin_port &&
		    x->sin_addr.s_addr == y->sin_addr.s_addr;
	} else if (a->ss_family == AF_UNIX) {
		return strcmp(conf_unix_path(a), conf_unix_path(b)) == 0;
	} else {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		    memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
}

bool conf_addr_is_any(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_UNIX)
		return false;
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr ==
		    htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

const char *conf_unix_path(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_UNIX ? ((const struct sockaddr_un *)ss)->sun_path : NULL;
}

pcre2_code *conf_regex_compile(const char *re, char *err, size_t errlen)
{
	return conf_regex_compile_opts(re, 0, err, errlen);
}

pcre2_code *conf_regex_compile_opts(const char *re, uint32_t opts, char *err, size_t errlen)
{
	pcre2_code *code;
	PCRE2_SIZE off;
	PCRE2_UCHAR msg[256];
	int rc;

	code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, opts, &rc,
	    &off, NULL);
	if (code == NULL) {
		pcre2_get_error_message(rc, msg, sizeof(msg));
		snprintf(err, errlen, "%s at offset %zu", (char *)msg,
		    (size_t)off);
		return NULL;
	}
	(void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); /* optional */
	return code;
}
