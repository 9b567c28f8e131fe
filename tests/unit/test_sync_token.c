/*
 * test_sync_token: sync tokens ("since"/"next_batch"/"prev_batch") and
 * pagination tokens ("from"/"to"/"start"/"end").
 *
 * The spec keeps tokens opaque: sync.yaml, parameter `since`: "A point in
 * time to continue a sync from. This should be the `next_batch` token
 * returned by an earlier call to this endpoint." (example "s72594_4483_1934");
 * message_pagination.yaml, parameter `from`: "This token can be obtained from
 * a `prev_batch` or `next_batch` token returned by the `/sync` endpoint, or
 * from an `end` token returned by a previous request to this endpoint."
 * So /messages must take both kinds, which page_token_parse_any does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync/token.h"

static void expect_sync_garbage(const char *s)
{
    struct sync_token t;

    memset(&t, 0xAB, sizeof t);
    if (sync_token_parse(s, &t) != -1)
        fail_msg("sync token accepted: \"%s\"", s != NULL ? s : "(null)");
    /* a refused token leaves nothing half-parsed behind */
    assert_int_equal(t.events, 0);
    assert_int_equal(t.device_lists, 0);
}

static void test_sync_round_trip(void **state)
{
    struct sync_token t = { 120, 4, 9, 0, 17, 0, 3 }, back;
    char *s = sync_token_format(&t);

    (void)state;
    assert_non_null(s);
    assert_string_equal(s, "s120_4_9_0_17_0_3");
    assert_int_equal(sync_token_parse(s, &back), 0);
    assert_memory_equal(&t, &back, sizeof t);
    free(s);

    /* every stream lands in its own field, in the order token.h gives */
    for (int i = 0; i < SYNC_STREAM_COUNT; i++) {
        struct sync_token one = { 0 };

        sync_token_set(&one, (enum sync_stream)i, 1000u + (unsigned)i);
        s = sync_token_format(&one);
        assert_non_null(s);
        assert_int_equal(sync_token_parse(s, &back), 0);
        for (int j = 0; j < SYNC_STREAM_COUNT; j++)
            assert_int_equal(sync_token_get(&back, (enum sync_stream)j),
                             j == i ? 1000u + (unsigned)i : 0);
        free(s);
    }
}

static void test_sync_zero_and_large(void **state)
{
    struct sync_token z = { 0 }, t = { 0 }, back;
    char *s;

    (void)state;
    s = sync_token_format(&z);
    assert_string_equal(s, "s0_0_0_0_0_0_0");
    free(s);

    /* one position at UINT64_MAX still fits in 64 bytes and round-trips */
    t.events = UINT64_MAX;
    s = sync_token_format(&t);
    assert_non_null(s);
    assert_string_equal(s, "s18446744073709551615_0_0_0_0_0_0");
    assert_int_equal(sync_token_parse(s, &back), 0);
    assert_true(back.events == UINT64_MAX);
    free(s);
}

/* Positions so large that the text would pass SYNC_TOKEN_MAX_LEN: the
 * formatter refuses rather than hand out a token its own parser rejects. */
static void test_sync_format_too_long(void **state)
{
    struct sync_token t = { UINT64_MAX, UINT64_MAX, UINT64_MAX, 0, 0, 0, 0 }, back;
    struct sync_token fits = { 9999999, 9999999, 9999999, 9999999, 9999999, 9999999, 9999999 };
    char *s;

    (void)state;
    assert_null(sync_token_format(&t));
    s = sync_token_format(&fits); /* 1 + 7*7 + 6 = 56 bytes */
    assert_non_null(s);
    assert_true(strlen(s) <= SYNC_TOKEN_MAX_LEN);
    assert_int_equal(sync_token_parse(s, &back), 0);
    assert_memory_equal(&fits, &back, sizeof fits);
    free(s);
}

/* Tokens from before a stream existed have fewer fields: missing are 0. */
static void test_sync_fewer_fields(void **state)
{
    struct sync_token t;

    (void)state;
    assert_int_equal(sync_token_parse("s72594_4483_1934", &t), 0); /* sync.yaml's example */
    assert_int_equal(t.events, 72594);
    assert_int_equal(t.account_data, 4483);
    assert_int_equal(t.receipts, 1934);
    assert_int_equal(t.presence, 0);
    assert_int_equal(t.device_lists, 0);

    assert_int_equal(sync_token_parse("s5", &t), 0);
    assert_int_equal(t.events, 5);
    assert_int_equal(t.account_data, 0);
}

static void test_sync_garbage(void **state)
{
    struct sync_token t;
    /* 1 ("s") + 20 + 1 + 20 + 1 + 20 = 63 bytes; "_1" more makes 65 */
    const char *ok63 = "s10000000000000000000_10000000000000000000_10000000000000000000";
    const char *bad65 = "s10000000000000000000_10000000000000000000_10000000000000000000_1";
    const char *ok64 = "s10000000000000000000_10000000000000000000_1000000000000000000_1";
    const char *over64 = "s10000000000000000000_10000000000000000000_100000000000000000000";

    (void)state;
    /* structure */
    expect_sync_garbage(NULL);
    expect_sync_garbage("");
    expect_sync_garbage("s");
    expect_sync_garbage("S1");
    expect_sync_garbage("1_2");
    expect_sync_garbage("p1");
    expect_sync_garbage("t1-2");           /* Synapse's topological form */
    expect_sync_garbage("s1_2_3_4_5_6_7_8"); /* more streams than we know */
    /* empty fields */
    expect_sync_garbage("s_1");
    expect_sync_garbage("s1_");
    expect_sync_garbage("s1__2");
    /* signs, spaces, other characters */
    expect_sync_garbage("s-1");
    expect_sync_garbage("s1_-2");
    expect_sync_garbage("s+1");
    expect_sync_garbage(" s1");
    expect_sync_garbage("s 1");
    expect_sync_garbage("s1 ");
    expect_sync_garbage("s1\n");
    expect_sync_garbage("s0x10");
    expect_sync_garbage("s1.5");
    expect_sync_garbage("s1e3");
    expect_sync_garbage("s\xc3\xa9");
    /* non-canonical: a leading zero would give a position two spellings */
    expect_sync_garbage("s01");
    expect_sync_garbage("s1_00");
    /* overflow: UINT64_MAX + 1, and a 21-digit number */
    expect_sync_garbage("s18446744073709551616");
    expect_sync_garbage("s1_99999999999999999999");
    expect_sync_garbage("s100000000000000000000");

    /* length bound: 63 and 64 bytes parse, 65 do not */
    assert_int_equal(strlen(ok63), 63);
    assert_int_equal(sync_token_parse(ok63, &t), 0);
    assert_int_equal(strlen(bad65), 65);
    expect_sync_garbage(bad65);
    assert_int_equal(strlen(ok64), 64);
    assert_int_equal(sync_token_parse(ok64, &t), 0);
    assert_int_equal(t.typing, 0);
    assert_int_equal(t.presence, 1);
    /* 64 bytes pass the length check; this one fails on its overflowing last field */
    assert_int_equal(strlen(over64), 64);
    expect_sync_garbage(over64);
}

/* The parser must not read past the bound of a very long, unterminated-looking
 * input (ASan checks the read). */
static void test_sync_long_input_bounded(void **state)
{
    size_t n = 1 << 20;
    char *big = malloc(n + 1);
    struct sync_token t;

    (void)state;
    assert_non_null(big);
    big[0] = 's';
    for (size_t i = 1; i < n; i++)
        big[i] = (i % 2) ? '1' : '_';
    big[n] = '\0';
    assert_int_equal(sync_token_parse(big, &t), -1);
    free(big);
}

static void test_page_round_trip(void **state)
{
    struct page_token t = { 42 }, back;
    char *s;

    (void)state;
    s = page_token_format(&t);
    assert_string_equal(s, "p42");
    assert_int_equal(page_token_parse(s, &back), 0);
    assert_int_equal(back.stream, 42);
    free(s);

    t.stream = UINT64_MAX;
    s = page_token_format(&t);
    assert_string_equal(s, "p18446744073709551615");
    assert_int_equal(page_token_parse(s, &back), 0);
    assert_true(back.stream == UINT64_MAX);
    free(s);
}

static void test_page_garbage(void **state)
{
    const char *bad[] = {
        "", "p", "P1", "p-1", "p+1", "p 1", "p1 ", "p01", "p1_2", "p1x",
        "p18446744073709551616", "t5-6", "s1", "1",
    };
    struct page_token t;

    (void)state;
    assert_int_equal(page_token_parse(NULL, &t), -1);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        t.stream = 77;
        if (page_token_parse(bad[i], &t) != -1)
            fail_msg("page token accepted: \"%s\"", bad[i]);
        assert_int_equal(t.stream, 0);
    }
}

/* /messages `from` takes either kind and yields the events position. */
static void test_page_parse_any(void **state)
{
    uint64_t pos = 99;

    (void)state;
    assert_int_equal(page_token_parse_any("p17", &pos), 0);
    assert_int_equal(pos, 17);
    assert_int_equal(page_token_parse_any("s120_4_9_0_17_0_3", &pos), 0);
    assert_int_equal(pos, 120);
    assert_int_equal(page_token_parse_any("s8", &pos), 0);
    assert_int_equal(pos, 8);

    pos = 99;
    assert_int_equal(page_token_parse_any("s1__2", &pos), -1);
    assert_int_equal(pos, 0);
    pos = 99;
    assert_int_equal(page_token_parse_any("x5", &pos), -1);
    assert_int_equal(pos, 0);
    assert_int_equal(page_token_parse_any("", &pos), -1);
    assert_int_equal(page_token_parse_any(NULL, &pos), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sync_round_trip),
        cmocka_unit_test(test_sync_zero_and_large),
        cmocka_unit_test(test_sync_format_too_long),
        cmocka_unit_test(test_sync_fewer_fields),
        cmocka_unit_test(test_sync_garbage),
        cmocka_unit_test(test_sync_long_input_bounded),
        cmocka_unit_test(test_page_round_trip),
        cmocka_unit_test(test_page_garbage),
        cmocka_unit_test(test_page_parse_any),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
