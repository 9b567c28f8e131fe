/*
 * test_key_backup: the rule that decides which of two keys of one
 * megolm session a server-side key backup keeps
 * (store_backup_key_replaces, store/store_key_backup.c).
 *
 * Spec, Client-Server API, End-to-End Encryption, "Server-side key
 * backups": "When a client uploads a key for a session that the server
 * already has a key for, the server will choose to either keep the
 * existing key or replace it with the new key based on the key metadata as
 * follows:
 * - if the keys have different values for is_verified, then it will keep
 *   the key that has is_verified set to true;
 * - if they have the same values for is_verified, then it will keep the
 *   key with a lower first_message_index;
 * - and finally, if is_verified and first_message_index are equal, then it
 *   will keep the key with a lower forwarded_count."
 *
 * What is proven here: a table of cases, one per clause and per direction
 * (each clause both replaces and keeps, and outranks the clauses after
 * it); equal keys keep the stored one; over a grid of ranks the rule is a
 * strict order (never both ways, exactly one way for different ranks,
 * transitive), so the kept key does not depend on upload order; and the
 * quoted text is still the spec's (read from CHAPPE_SPEC_DIR).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

#define V true
#define U false

struct replace_case {
	const char *why;
	struct store_backup_key_rank existing, candidate;
	bool replaces;
};

static const struct replace_case cases[] = {
	/* clause 1: is_verified differs, whatever the indexes say */
	{ "verified replaces unverified", { U, 0, 0 }, { V, 0, 0 }, true },
	{ "verified replaces unverified despite a higher index and count",
	  { U, 0, 0 }, { V, 50, 9 }, true },
	{ "unverified never replaces verified", { V, 0, 0 }, { U, 0, 0 }, false },
	{ "unverified never replaces verified despite a lower index and count",
	  { V, 50, 9 }, { U, 0, 0 }, false },
	/* clause 2: same is_verified, first_message_index differs */
	{ "lower index replaces (both unverified)", { U, 10, 0 }, { U, 3, 0 }, true },
	{ "lower index replaces (both verified)", { V, 10, 0 }, { V, 3, 0 }, true },
	{ "lower index replaces despite a higher forwarded_count", { U, 10, 0 }, { U, 3, 7 }, true },
	{ "higher index is kept out", { U, 3, 0 }, { U, 10, 0 }, false },
	{ "higher index is kept out despite a lower forwarded_count", { V, 3, 7 }, { V, 10, 0 },
	  false },
	/* clause 3: same is_verified and index, forwarded_count differs */
	{ "lower forwarded_count replaces", { U, 5, 4 }, { U, 5, 1 }, true },
	{ "lower forwarded_count replaces (verified)", { V, 5, 4 }, { V, 5, 0 }, true },
	{ "higher forwarded_count is kept out", { U, 5, 1 }, { U, 5, 4 }, false },
	/* a tie keeps what is stored */
	{ "identical rank keeps the stored key", { U, 5, 1 }, { U, 5, 1 }, false },
	{ "identical verified rank keeps the stored key", { V, 0, 0 }, { V, 0, 0 }, false },
	/* large values compare as numbers */
	{ "index 2^32 vs 2^32-1", { U, INT64_C(4294967296), 0 }, { U, INT64_C(4294967295), 0 },
	  true },
};

static void test_replace_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool got = store_backup_key_replaces(&cases[i].existing, &cases[i].candidate);
		if (got != cases[i].replaces)
			fail_msg("case %zu (%s): expected %s, got %s", i, cases[i].why,
			         cases[i].replaces ? "replace" : "keep", got ? "replace" : "keep");
	}
}

/* Every rank of a small grid: verified x index 0..3 x count 0..3. */
#define GRID (2 * 4 * 4)
static struct store_backup_key_rank grid_rank(int i)
{
	struct store_backup_key_rank r = { i / 16 == 1, (i / 4) % 4, i % 4 };
	return r;
}

static bool rank_equal(const struct store_backup_key_rank *a, const struct store_backup_key_rank *b)
{
	return a->is_verified == b->is_verified && a->first_message_index == b->first_message_index &&
	       a->forwarded_count == b->forwarded_count;
}

/* A strict total order: the key kept after any sequence of uploads is the
 * best of them, whatever order they came in. */
static void test_replace_is_strict_order(void **state)
{
	(void)state;
	for (int i = 0; i < GRID; i++) {
		struct store_backup_key_rank a = grid_rank(i);
		for (int j = 0; j < GRID; j++) {
			struct store_backup_key_rank b = grid_rank(j);
			bool ab = store_backup_key_replaces(&a, &b), ba = store_backup_key_replaces(&b, &a);
			assert_false(ab && ba);
			assert_int_equal(ab || ba, !rank_equal(&a, &b));
			for (int k = 0; k < GRID; k++) {
				struct store_backup_key_rank c = grid_rank(k);
				/* b beats a and c beats b: c beats a */
				if (ab && store_backup_key_replaces(&b, &c))
					assert_true(store_backup_key_replaces(&a, &c));
			}
		}
	}
}

/* The order of uploads does not change the key kept: fold every
 * permutation-like rotation of a list and compare the winners. */
static void test_kept_key_independent_of_order(void **state)
{
	static const struct store_backup_key_rank uploads[] = {
		{ U, 7, 0 }, { U, 2, 3 }, { V, 9, 1 }, { V, 9, 0 }, { U, 0, 0 }, { V, 12, 0 },
	};
	const size_t n = sizeof(uploads) / sizeof(uploads[0]);

	(void)state;
	for (size_t start = 0; start < n; start++) {
		for (int dir = -1; dir <= 1; dir += 2) {
			struct store_backup_key_rank kept = uploads[start];
			for (size_t s = 1; s < n; s++) {
				size_t idx = (start + n + (size_t)dir * s) % n;
				if (store_backup_key_replaces(&kept, &uploads[idx]))
					kept = uploads[idx];
			}
			/* verified beats all, then index 9 beats 12, then count 0 */
			assert_true(kept.is_verified);
			assert_int_equal(kept.first_message_index, 9);
			assert_int_equal(kept.forwarded_count, 0);
		}
	}
}

/* The clauses quoted above are the spec's own words, so the table tests
 * what the spec says today. */
static void test_spec_text_quoted(void **state)
{
	static const char *const clauses[] = {
		"if the keys have different values for `is_verified`, then it will\n"
		"    keep the key that has `is_verified` set to `true`;",
		"if they have the same values for `is_verified`, then it will keep\n"
		"    the key with a lower `first_message_index`;",
		"and finally, if `is_verified` and `first_message_index` are equal,\n"
		"    then it will keep the key with a lower `forwarded_count`.",
	};
	const char *dir = getenv("CHAPPE_SPEC_DIR");
	char path[1024], *text;
	FILE *f;
	long len;

	(void)state;
	if (dir == NULL)
		skip();
	snprintf(path, sizeof(path),
	         "%s/content/client-server-api/modules/end_to_end_encryption.md", dir);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	assert_true(len > 0 && len < 10 * 1024 * 1024);
	rewind(f);
	text = calloc(1, (size_t)len + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	for (size_t i = 0; i < sizeof(clauses) / sizeof(clauses[0]); i++)
		if (strstr(text, clauses[i]) == NULL) {
			free(text);
			fail_msg("spec no longer says: %s", clauses[i]);
		}
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replace_table),
		cmocka_unit_test(test_replace_is_strict_order),
		cmocka_unit_test(test_kept_key_independent_of_order),
		cmocka_unit_test(test_spec_text_quoted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
