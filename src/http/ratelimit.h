/*
 * ratelimit: token buckets keyed by a string ("login-ip:127.0.0.1",
 * "client:@alice:hs").
 *
 * Contract: thread-safe (one mutex; a bucket check is a hash lookup and a
 * few arithmetic operations). Memory is bounded: when the table passes
 * RATELIMIT_MAX_KEYS, buckets that have refilled completely are dropped
 * (they carry no information), and if that is not enough the check is
 * refused rather than growing without bound.
 */
#ifndef CHAPPE_HTTP_RATELIMIT_H
#define CHAPPE_HTTP_RATELIMIT_H

#include <stdint.h>

#define RATELIMIT_MAX_KEYS 200000

struct ratelimiter;

struct ratelimiter *ratelimiter_new(void);
void ratelimiter_free(struct ratelimiter *rl);

/* Take one token from the bucket named key, refilled at per_second up to
 * burst. Returns 0 when allowed, otherwise the milliseconds after which a
 * retry would be allowed (>= 1). now_ms is a monotonic clock. */
int64_t ratelimit_take(struct ratelimiter *rl, const char *key, double per_second,
                       uint32_t burst, int64_t now_ms);
/* Forget a key (e.g. rate-limit override for an account). */
void ratelimit_reset(struct ratelimiter *rl, const char *key);

#endif
