/*
 * lookup_bench.h: what the lookup micro-benchmarks (prefix_lookup.c,
 * route_lookup.c, host_lookup.c, geo_load.c) share: one fixed-seed
 * pseudo-random sequence, so that every run looks up the same keys, and
 * the clocks they time with.
 */
#ifndef PORTICO_BENCH_LOOKUP_BENCH_H
#define PORTICO_BENCH_LOOKUP_BENCH_H

#include <stdint.h>
#include <time.h>

#define BENCH_SEED 0x9e3779b97f4a7c15ULL

static uint64_t rng = BENCH_SEED;

/* xorshift64: fast enough not to weigh on what is measured. */
static inline uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static inline double seconds_of(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of the process: what a busy machine disturbs least. */
static inline double cpu(void)
{
	return seconds_of(CLOCK_PROCESS_CPUTIME_ID);
}

static inline double wall(void)
{
	return seconds_of(CLOCK_MONOTONIC);
}

#endif
