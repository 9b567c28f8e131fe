/* Unit tests of chappe-bench's pure parts: the percentiles every figure in
 * docs/performance.md rests on, throughput buckets, path escaping of
 * Matrix IDs, and the refusal of answers that are not JSON objects. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bench.h"

static void test_percentiles_nearest_rank(void **state)
{
	struct bench_samples s = { 0 };

	(void)state;
	/* 1..100 added out of order: the p-th percentile is p itself */
	for (int i = 100; i >= 1; i--)
		bench_samples_add(&s, (double)i);
	assert_int_equal(s.n, 100);
	assert_true(bench_samples_pct(&s, 50) == 50.0);
	assert_true(bench_samples_pct(&s, 95) == 95.0);
	assert_true(bench_samples_pct(&s, 99) == 99.0);
	assert_true(bench_samples_pct(&s, 100) == 100.0);
	assert_true(bench_samples_pct(&s, 0) == 1.0);
	assert_true(bench_samples_max(&s) == 100.0);
	bench_samples_free(&s);
	assert_null(s.v);
}

static void test_percentiles_small_sets(void **state)
{
	struct bench_samples s = { 0 };

	(void)state;
	assert_true(bench_samples_pct(&s, 50) == 0.0);   /* no samples: 0, no crash */
	bench_samples_add(&s, 7.5);
	assert_true(bench_samples_pct(&s, 1) == 7.5);
	assert_true(bench_samples_pct(&s, 99) == 7.5);
	bench_samples_add(&s, 2.5);
	bench_samples_add(&s, 10.0);
	/* 3 samples: p50 is rank ceil(1.5) = 2, p99 is rank 3 */
	assert_true(bench_samples_pct(&s, 50) == 7.5);
	assert_true(bench_samples_pct(&s, 99) == 10.0);
	/* p33.4 needs ceil(1.002) = 2 samples: not the smallest */
	assert_true(bench_samples_pct(&s, 33.4) == 7.5);
	bench_samples_free(&s);
}

static void test_timeline_buckets(void **state)
{
	struct bench_timeline t = { 0 };

	(void)state;
	bench_timeline_add(&t, 1000000, 1000000);       /* second 0 */
	bench_timeline_add(&t, 1000000, 1999999);       /* second 0 */
	bench_timeline_add(&t, 1000000, 4000000);       /* second 3 */
	bench_timeline_add(&t, 1000000, 999999);        /* before the start: ignored */
	assert_int_equal(t.n, 4);
	assert_int_equal(t.per_s[0], 2);
	assert_int_equal(t.per_s[1], 0);
	assert_int_equal(t.per_s[2], 0);
	assert_int_equal(t.per_s[3], 1);
	bench_timeline_free(&t);
	assert_int_equal(t.n, 0);
}

static void test_path_escape(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(bench_path_escape("@alice:example.org", out, sizeof(out)), 0);
	assert_string_equal(out, "%40alice%3Aexample.org");
	assert_int_equal(bench_path_escape("!r/x?y#z", out, sizeof(out)), 0);
	assert_string_equal(out, "%21r%2Fx%3Fy%23z");
	assert_int_equal(bench_path_escape("\xc3\xa9", out, sizeof(out)), 0);
	assert_string_equal(out, "%C3%A9");
	/* too long for the buffer: refused, and the buffer holds no half-ID */
	assert_int_equal(bench_path_escape("@@@@", out, 12), -1);
	assert_string_equal(out, "");
	assert_int_equal(bench_path_escape("abc", out, 4), 0);
	assert_int_equal(bench_path_escape("abcd", out, 4), -1);
}

static void test_resp_json_only_objects(void **state)
{
	struct bench_resp r = { 0 };
	json_t *j;

	(void)state;
	r.body = "{\"a\":1}";
	r.len = strlen(r.body);
	assert_non_null(j = bench_resp_json(&r));
	json_decref(j);
	r.body = "[1]";
	r.len = 3;
	assert_null(bench_resp_json(&r));
	r.body = "{\"a\":";
	r.len = strlen(r.body);
	assert_null(bench_resp_json(&r));
	r.body = "";
	r.len = 0;
	assert_null(bench_resp_json(&r));
}

static void test_result_counts_non_2xx(void **state)
{
	struct bench_result res;
	struct bench_resp ok = { .status = 200, .body = "{}" };
	struct bench_resp limited = { .status = 429, .body = "{\"errcode\":\"M_LIMIT_EXCEEDED\"}" };
	struct bench_resp broken = { .status = 0, .error = "Connection refused", .body = "" };

	(void)state;
	bench_result_init(&res, "t");
	assert_true(bench_result_check(&res, &ok, "x"));
	assert_int_equal(res.errors, 0);
	assert_false(bench_result_check(&res, &limited, "send"));
	assert_false(bench_result_check(&res, &broken, "sync"));
	assert_int_equal(res.errors, 2);
	/* the first error is the one kept for the report */
	assert_non_null(strstr(res.first_error, "send: HTTP 429"));
	bench_result_num(&res, "p50_ms", 1.23456, "< 20");
	assert_true(json_real_value(json_object_get(res.json, "p50_ms")) == 1.235);
	assert_int_equal(json_array_size(res.rows), 1);
	bench_result_clear(&res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_percentiles_nearest_rank),
		cmocka_unit_test(test_percentiles_small_sets),
		cmocka_unit_test(test_timeline_buckets),
		cmocka_unit_test(test_path_escape),
		cmocka_unit_test(test_resp_json_only_objects),
		cmocka_unit_test(test_result_counts_non_2xx),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
