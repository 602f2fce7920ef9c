/* rng.h - the seeded random generator every random choice in songpipe goes
 * through: xoshiro256** (Blackman & Vigna 2018) seeded by splitmix64, so the
 * same --seed gives the same numbers on every machine. */
#ifndef SONGPIPE_RNG_H
#define SONGPIPE_RNG_H
#include <stddef.h>
#include <stdint.h>

typedef struct { uint64_t s[4]; } rng_state;

/* splitmix64 (Steele, Lea, Flood 2014): one step of the seeding generator. */
uint64_t rng_splitmix64(uint64_t *x);
void rng_seed(rng_state *r, uint64_t seed);
uint64_t rng_u64(rng_state *r);
/* uniform in [0, 1) with 24 random bits (float) or 53 (double) */
float rng_float(rng_state *r);
double rng_double(rng_state *r);
/* uniform integer in [0, n), unbiased (Lemire's multiply-and-reject); n > 0 */
uint64_t rng_below(rng_state *r, uint64_t n);
/* standard normal (Box-Muller, both values used in turn would need state; we
 * draw a fresh pair each call and keep one: simple and reproducible) */
double rng_normal(rng_state *r);
/* Fisher-Yates shuffle of idx[0..n-1] */
void rng_shuffle_i64(rng_state *r, int64_t *idx, int64_t n);
#endif
