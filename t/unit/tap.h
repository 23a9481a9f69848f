/*
 * tap.h: the smallest Test Anything Protocol emitter, for C unit tests
 * run by prove. Each test program calls ok()/is_int()/is_str() and ends
 * with done_testing(), whose exit status is the number of failures.
 */
#ifndef PORTICO_TAP_H
#define PORTICO_TAP_H

#include <stdio.h>
#include <stdarg.h>
#include <string.h>

static int tap_count, tap_failed;

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...) \
	tap_is_int((long long)(got), (long long)(want), __FILE__, __LINE__, __VA_ARGS__)
#define is_str(got, want, ...) \
	tap_is_str((got), (want), __FILE__, __LINE__, __VA_ARGS__)

static inline int tap_ok(int pass, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static inline int tap_ok(int pass, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	tap_count++;
	printf("%sok %d - ", pass ? "" : "not ", tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!pass) {
		tap_failed++;
		printf("#   Failed at %s line %d\n", file, line);
	}
	return pass;
}

#define tap_desc_vprintf(fmt) do { va_list ap; va_start(ap, fmt); vprintf(fmt, ap); va_end(ap); } while (0)

static inline int tap_is_int(long long got, long long want, const char *file, int line,
			     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static inline int tap_is_int(long long got, long long want, const char *file, int line,
			     const char *fmt, ...)
{
	int pass = got == want;

	tap_count++;
	printf("%sok %d - ", pass ? "" : "not ", tap_count);
	tap_desc_vprintf(fmt);
	printf("\n");
	if (!pass) {
		tap_failed++;
		printf("#   Failed at %s line %d: got %lld, expected %lld\n", file, line, got, want);
	}
	return pass;
}

static inline int tap_is_str(const char *got, const char *want, const char *file, int line,
			     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static inline int tap_is_str(const char *got, const char *want, const char *file, int line,
			     const char *fmt, ...)
{
	int pass = got && want && strcmp(got, want) == 0;

	tap_count++;
	printf("%sok %d - ", pass ? "" : "not ", tap_count);
	tap_desc_vprintf(fmt);
	printf("\n");
	if (!pass) {
		tap_failed++;
		printf("#   Failed at %s line %d: got '%s', expected '%s'\n", file, line,
		       got ? got : "(null)", want ? want : "(null)");
	}
	return pass;
}

static inline int done_testing(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed > 255 ? 255 : tap_failed;
}

#endif
