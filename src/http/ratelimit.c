#include "http/ratelimit.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

struct bucket {
	char *key;
	double tokens;
	double per_second;
	uint32_t burst;
	int64_t updated_ms;
	UT_hash_handle hh;
};

struct ratelimiter {
	pthread_mutex_t lock;
	struct bucket *buckets;
};

struct ratelimiter *ratelimiter_new(void)
{
	struct ratelimiter *rl = calloc(1, sizeof(*rl));
	if (!rl)
		return NULL;
	pthread_mutex_init(&rl->lock, NULL);
	return rl;
}

static void bucket_free(struct bucket *b)
{
	free(b->key);
	free(b);
}

void ratelimiter_free(struct ratelimiter *rl)
{
	struct bucket *b, *tmp;
	if (!rl)
		return;
	HASH_ITER(hh, rl->buckets, b, tmp) {
		HASH_DEL(rl->buckets, b);
		bucket_free(b);
	}
	pthread_mutex_destroy(&rl->lock);
	free(rl);
}

static void bucket_refill(struct bucket *b, int64_t now_ms)
{
	if (now_ms > b->updated_ms) {
		b->tokens += (double)(now_ms - b->updated_ms) / 1000.0 * b->per_second;
		if (b->tokens > (double)b->burst)
			b->tokens = (double)b->burst;
		b->updated_ms = now_ms;
	}
}

/* Drop buckets that are full again: they hold no state worth keeping. */
static void sweep_full(struct ratelimiter *rl, int64_t now_ms)
{
	struct bucket *b, *tmp;
	HASH_ITER(hh, rl->buckets, b, tmp) {
		bucket_refill(b, now_ms);
		if (b->tokens >= (double)b->burst) {
			HASH_DEL(rl->buckets, b);
			bucket_free(b);
		}
	}
}

static struct bucket *bucket_find_or_add(struct ratelimiter *rl, const char *key,
                                         double per_second, uint32_t burst, int64_t now_ms)
{
	struct bucket *b;

	HASH_FIND_STR(rl->buckets, key, b);
	if (b)
		return b;
	if (HASH_COUNT(rl->buckets) >= RATELIMIT_MAX_KEYS) {
		sweep_full(rl, now_ms);
		if (HASH_COUNT(rl->buckets) >= RATELIMIT_MAX_KEYS)
			return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->key = strdup(key);
	if (!b->key) {
		free(b);
		return NULL;
	}
	b->tokens = (double)burst;
	b->per_second = per_second;
	b->burst = burst;
	b->updated_ms = now_ms;
	HASH_ADD_KEYPTR(hh, rl->buckets, b->key, strlen(b->key), b);
	return b;
}

int64_t ratelimit_take(struct ratelimiter *rl, const char *key, double per_second,
                       uint32_t burst, int64_t now_ms)
{
	struct bucket *b;
	int64_t wait = 0;

	if (per_second <= 0 || burst == 0)
		return 1000;
	pthread_mutex_lock(&rl->lock);
	b = bucket_find_or_add(rl, key, per_second, burst, now_ms);
	if (!b) {
		/* Out of memory or table full: refuse; better than unbounded growth. */
		pthread_mutex_unlock(&rl->lock);
		return 1000;
	}
	/* The configured rate may change between calls (tests, reloads). */
	b->per_second = per_second;
	b->burst = burst;
	bucket_refill(b, now_ms);
	if (b->tokens >= 1.0) {
		b->tokens -= 1.0;
	} else {
		wait = (int64_t)ceil((1.0 - b->tokens) / per_second * 1000.0);
		if (wait < 1)
			wait = 1;
	}
	pthread_mutex_unlock(&rl->lock);
	return wait;
}

void ratelimit_reset(struct ratelimiter *rl, const char *key)
{
	struct bucket *b;
	pthread_mutex_lock(&rl->lock);
	HASH_FIND_STR(rl->buckets, key, b);
	if (b) {
		HASH_DEL(rl->buckets, b);
		bucket_free(b);
	}
	pthread_mutex_unlock(&rl->lock);
}
