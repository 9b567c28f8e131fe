/* Unit tests for http/ratelimit.c: token buckets with a controlled clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "http/ratelimit.h"

static void test_burst_then_refill(void **state)
{
	struct ratelimiter *rl = ratelimiter_new();
	(void)state;
	/* burst 3 at 1/s: three immediate takes, the fourth waits ~1 s */
	for (int i = 0; i < 3; i++)
		assert_int_equal(ratelimit_take(rl, "k", 1.0, 3, 1000), 0);
	int64_t wait = ratelimit_take(rl, "k", 1.0, 3, 1000);
	assert_true(wait >= 990 && wait <= 1000);
	/* half a second later: still waiting, about half as long */
	wait = ratelimit_take(rl, "k", 1.0, 3, 1500);
	assert_true(wait >= 490 && wait <= 500);
	/* a second after the burst: one token back */
	assert_int_equal(ratelimit_take(rl, "k", 1.0, 3, 2000), 0);
	assert_true(ratelimit_take(rl, "k", 1.0, 3, 2000) > 0);
	ratelimiter_free(rl);
}

static void test_keys_independent_and_reset(void **state)
{
	struct ratelimiter *rl = ratelimiter_new();
	(void)state;
	assert_int_equal(ratelimit_take(rl, "a", 0.1, 1, 0), 0);
	assert_true(ratelimit_take(rl, "a", 0.1, 1, 0) > 0);
	assert_int_equal(ratelimit_take(rl, "b", 0.1, 1, 0), 0);
	ratelimit_reset(rl, "a");
	assert_int_equal(ratelimit_take(rl, "a", 0.1, 1, 0), 0);
	ratelimiter_free(rl);
}

static void test_bucket_never_exceeds_burst(void **state)
{
	struct ratelimiter *rl = ratelimiter_new();
	(void)state;
	assert_int_equal(ratelimit_take(rl, "k", 10.0, 2, 0), 0);
	/* an hour idle refills to the burst, not beyond */
	assert_int_equal(ratelimit_take(rl, "k", 10.0, 2, 3600000), 0);
	assert_int_equal(ratelimit_take(rl, "k", 10.0, 2, 3600000), 0);
	assert_true(ratelimit_take(rl, "k", 10.0, 2, 3600000) > 0);
	ratelimiter_free(rl);
}

static void test_invalid_rate_refuses(void **state)
{
	struct ratelimiter *rl = ratelimiter_new();
	(void)state;
	assert_true(ratelimit_take(rl, "k", 0.0, 5, 0) > 0);
	assert_true(ratelimit_take(rl, "k", 1.0, 0, 0) > 0);
	ratelimiter_free(rl);
}

static void test_table_bounded(void **state)
{
	struct ratelimiter *rl = ratelimiter_new();
	char key[32];
	(void)state;
	/* Full buckets carry no state: past the bound they are swept, so a
	 * flood of distinct keys (one take each, refilled after 1 s) does not
	 * grow the table without limit. */
	for (int i = 0; i < RATELIMIT_MAX_KEYS; i++) {
		snprintf(key, sizeof(key), "ip:%d", i);
		assert_int_equal(ratelimit_take(rl, key, 1.0, 1, 0), 0);
	}
	assert_int_equal(ratelimit_take(rl, "new-at-once", 1.0, 1, 0), 1000);  /* full, refused */
	assert_int_equal(ratelimit_take(rl, "new-later", 1.0, 1, 5000), 0);    /* swept, allowed */
	ratelimiter_free(rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_refill),
		cmocka_unit_test(test_keys_independent_and_reset),
		cmocka_unit_test(test_bucket_never_exceeds_burst),
		cmocka_unit_test(test_invalid_rate_refuses),
		cmocka_unit_test(test_table_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
