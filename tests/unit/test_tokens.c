/* Unit tests for security/secrets.c and security/nonces.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "security/nonces.h"
#include "security/secrets.h"

static void test_token_shape_and_hash(void **state)
{
	char a[SECRET_TOKEN_MAX_LEN], b[SECRET_TOKEN_MAX_LEN];
	unsigned char ha[SECRET_TOKEN_HASH_LEN], hb[SECRET_TOKEN_HASH_LEN], again[SECRET_TOKEN_HASH_LEN];
	(void)state;
	assert_int_equal(secrets_init(), 0);
	assert_int_equal(secret_token_new("syt", a, ha), 0);
	assert_int_equal(secret_token_new("syt", b, hb), 0);
	/* 256 random bits: "syt_" + 43 url-safe base64 characters */
	assert_int_equal(strlen(a), 4 + 43);
	assert_memory_equal(a, "syt_", 4);
	for (const char *p = a + 4; *p; p++)
		assert_true((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		            (*p >= '0' && *p <= '9') || *p == '-' || *p == '_');
	assert_string_not_equal(a, b);
	assert_memory_not_equal(ha, hb, sizeof(ha));
	/* the stored hash is the hash of what the client presents */
	assert_int_equal(secret_token_hash(a, again), 0);
	assert_memory_equal(ha, again, sizeof(ha));
}

static void test_token_hash_bounds(void **state)
{
	unsigned char h[SECRET_TOKEN_HASH_LEN];
	char *big = malloc(2048);
	(void)state;
	assert_int_equal(secret_token_hash("", h), -1);
	memset(big, 'x', 2047);
	big[2047] = '\0';
	assert_int_equal(secret_token_hash(big, h), -1);
	big[1024] = '\0';
	assert_int_equal(secret_token_hash(big, h), 0);
	free(big);
}

static void test_password_hash(void **state)
{
	char *h;
	(void)state;
	/* the lowest costs libsodium allows, to keep the test fast */
	h = secret_password_hash("correct horse", 1, 8192);
	assert_non_null(h);
	assert_memory_equal(h, "$argon2id$", 10);
	assert_true(secret_password_verify(h, "correct horse", 1, 8192));
	assert_false(secret_password_verify(h, "correct horsf", 1, 8192));
	assert_false(secret_password_verify(h, "", 1, 8192));
	assert_false(secret_password_verify(NULL, "correct horse", 1, 8192));
	free(h);
	/* out of libsodium's range: refused, not crashed */
	assert_null(secret_password_hash("x", 0, 8192));
}

static void test_nonces_single_use_and_expiry(void **state)
{
	struct nonces *n = nonces_new(1000, 3);
	char a[NONCE_LEN + 1], b[NONCE_LEN + 1], c[NONCE_LEN + 1], d[NONCE_LEN + 1];
	(void)state;
	assert_int_equal(nonces_issue(n, a, 0), 0);
	assert_int_equal(strlen(a), NONCE_LEN);
	assert_true(nonces_consume(n, a, 10));
	assert_false(nonces_consume(n, a, 10));          /* once only */
	assert_int_equal(nonces_issue(n, b, 0), 0);
	assert_false(nonces_consume(n, b, 1000));        /* expired */
	assert_false(nonces_consume(n, "short", 0));
	/* bounded: the fourth outstanding nonce is refused until some expire */
	assert_int_equal(nonces_issue(n, a, 0), 0);
	assert_int_equal(nonces_issue(n, b, 0), 0);
	assert_int_equal(nonces_issue(n, c, 0), 0);
	assert_int_equal(nonces_issue(n, d, 0), -1);
	assert_int_equal(nonces_issue(n, d, 5000), 0);
	nonces_free(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_shape_and_hash),
		cmocka_unit_test(test_token_hash_bounds),
		cmocka_unit_test(test_password_hash),
		cmocka_unit_test(test_nonces_single_use_and_expiry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
