/*
 * Tests for util/base64: the Matrix appendix "Unpadded Base64" examples,
 * RFC 4648 section 10 test vectors in both alphabets, padded input, and
 * refusal of everything outside the alphabet.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/base64.h"

/* RFC 4648 section 10 vectors, written unpadded as the appendix
 * "Unpadded Base64" lists them:
 *   UNPADDED_BASE64("f") = "Zg" ... UNPADDED_BASE64("foobar") = "Zm9vYmFy" */
static const struct {
	const char *plain, *unpadded, *padded;
} rfc_vectors[] = {
	{ "", "", "" },
	{ "f", "Zg", "Zg==" },
	{ "fo", "Zm8", "Zm8=" },
	{ "foo", "Zm9v", "Zm9v" },
	{ "foob", "Zm9vYg", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy", "Zm9vYmFy" },
};

#define N_RFC (sizeof rfc_vectors / sizeof rfc_vectors[0])

static void expect_decode(int url, const char *in, size_t in_len, const void *want, size_t want_len)
{
	unsigned char *out = NULL;
	size_t out_len = 12345;
	int rc = url ? b64url_decode(in, in_len, &out, &out_len) : b64_decode(in, in_len, &out, &out_len);

	assert_int_equal(rc, 0);
	assert_non_null(out);
	assert_int_equal(out_len, want_len);
	if (want_len)
		assert_memory_equal(out, want, want_len);
	free(out);
}

static void expect_refused(int url, const char *in, size_t in_len)
{
	unsigned char *out = (unsigned char *)"sentinel";
	size_t out_len = 0;
	int rc = url ? b64url_decode(in, in_len, &out, &out_len) : b64_decode(in, in_len, &out, &out_len);

	assert_int_equal(rc, -1);
	assert_null(out);
}

static void test_encode_rfc_vectors(void **state)
{
	size_t i;
	(void)state;
	for (i = 0; i < N_RFC; i++) {
		char *s = b64_encode((const unsigned char *)rfc_vectors[i].plain,
		                     strlen(rfc_vectors[i].plain));
		char *u = b64url_encode((const unsigned char *)rfc_vectors[i].plain,
		                        strlen(rfc_vectors[i].plain));
		assert_non_null(s);
		assert_non_null(u);
		/* No "=" padding: the appendix omits it. These inputs only use
		 * characters common to both alphabets. */
		assert_string_equal(s, rfc_vectors[i].unpadded);
		assert_string_equal(u, rfc_vectors[i].unpadded);
		free(s);
		free(u);
	}
}

static void test_decode_rfc_vectors_padded_and_not(void **state)
{
	size_t i;
	int url;
	(void)state;
	/* The appendix: "implementations SHOULD accept input with or without
	 * padding characters wherever possible". */
	for (url = 0; url <= 1; url++) {
		for (i = 0; i < N_RFC; i++) {
			const char *p = rfc_vectors[i].plain;
			expect_decode(url, rfc_vectors[i].unpadded, strlen(rfc_vectors[i].unpadded), p,
			              strlen(p));
			expect_decode(url, rfc_vectors[i].padded, strlen(rfc_vectors[i].padded), p,
			              strlen(p));
		}
	}
}

/* The 62nd and 63rd characters are where the two alphabets differ
 * (appendix "URL-safe unpadded Base64": "-" and "_" instead of "+" and "/"). */
static void test_alphabet_62_63(void **state)
{
	static const unsigned char all62[] = { 0xfb, 0xef, 0xbe }; /* 111110 x4 */
	static const unsigned char all63[] = { 0xff, 0xff, 0xff }; /* 111111 x4 */
	static const unsigned char mixed[] = { 0xfb, 0xff };       /* 111110 111111 1111(00) */
	char *s;
	(void)state;

	s = b64_encode(all62, 3);
	assert_string_equal(s, "++++");
	free(s);
	s = b64url_encode(all62, 3);
	assert_string_equal(s, "----");
	free(s);
	s = b64_encode(all63, 3);
	assert_string_equal(s, "////");
	free(s);
	s = b64url_encode(all63, 3);
	assert_string_equal(s, "____");
	free(s);
	s = b64_encode(mixed, 2);
	assert_string_equal(s, "+/8");
	free(s);
	s = b64url_encode(mixed, 2);
	assert_string_equal(s, "-_8");
	free(s);

	expect_decode(0, "+/8", 3, mixed, 2);
	expect_decode(1, "-_8", 3, mixed, 2);
	expect_decode(1, "-_8=", 4, mixed, 2);
	/* No mixing: each decoder knows only its own alphabet. */
	expect_refused(0, "-_8", 3);
	expect_refused(1, "+/8", 3);
	expect_refused(0, "+_8", 3);
	expect_refused(1, "-/8", 3);
}

static void test_invalid_characters_refused(void **state)
{
	static const char *bad[] = {
		"Zm9v!", "Zm 9v", "Zm9v\n", " Zm9v", "Zm9v\t", "Zm.v", "Zm9v*", "Zm\xc3\xa9v",
		"Zm9v\x80", "\xff\xff\xff\xff",
	};
	size_t i;
	int url;
	(void)state;
	for (url = 0; url <= 1; url++)
		for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
			expect_refused(url, bad[i], strlen(bad[i]));
	/* An embedded NUL is a character like any other: refused, not a
	 * terminator (the length is explicit). */
	expect_refused(0, "Zm\0v", 4);
	expect_refused(1, "Zm\0v", 4);
}

static void test_bad_padding_refused(void **state)
{
	static const char *bad[] = {
		"Zg=",      /* padding that does not complete the quantum */
		"Zm9v=",    /* padding after a full quantum */
		"Zm9v====", /* padding on its own */
		"=",
		"==",
		"Z===",     /* three pad characters */
		"Zg==Zg==", /* padding in the middle */
		"Zg=g",
		"Zm9vY",    /* one leftover character: only 6 bits */
		"Zm9vY===",
		"A",
	};
	size_t i;
	int url;
	(void)state;
	for (url = 0; url <= 1; url++)
		for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
			expect_refused(url, bad[i], strlen(bad[i]));
}

static void test_nonzero_trailing_bits_accepted(void **state)
{
	(void)state;
	/* "Zh" carries bits 011001 100001: the byte 'f' plus four unused bits
	 * that are not zero. Python's base64 (Synapse) ignores them; so do we,
	 * per the appendix's "accept ... wherever possible". */
	expect_decode(0, "Zh", 2, "f", 1);
	/* The spec itself relies on this: the appendix's signing key seed
	 * "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1" ends in "1" where a
	 * strict encoder writes "0" ("Cryptographic Test Vectors"). */
	{
		static const char seed1[] = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1";
		static const char seed0[] = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0";
		unsigned char *a = NULL, *b = NULL;
		size_t la = 0, lb = 0;
		char *re;
		assert_int_equal(b64_decode(seed1, strlen(seed1), &a, &la), 0);
		assert_int_equal(b64_decode(seed0, strlen(seed0), &b, &lb), 0);
		assert_int_equal(la, 32);
		assert_int_equal(lb, 32);
		assert_memory_equal(a, b, 32);
		re = b64_encode(a, la);
		assert_string_equal(re, seed0);
		free(re);
		free(a);
		free(b);
	}
	expect_decode(0, "Zm9=", 4, "fo", 2);
}

static void test_empty_and_bad_arguments(void **state)
{
	unsigned char *out = NULL;
	size_t out_len = 99;
	char *s;
	(void)state;

	/* Empty input decodes to an empty, but freeable, buffer. */
	assert_int_equal(b64_decode("", 0, &out, &out_len), 0);
	assert_non_null(out);
	assert_int_equal(out_len, 0);
	free(out);
	assert_int_equal(b64_decode(NULL, 0, &out, &out_len), 0);
	free(out);

	assert_int_equal(b64_decode(NULL, 4, &out, &out_len), -1);
	assert_int_equal(b64_decode("Zm9v", 4, NULL, &out_len), -1);
	assert_int_equal(b64_decode("Zm9v", 4, &out, NULL), -1);
	assert_int_equal(b64url_decode(NULL, 4, &out, &out_len), -1);

	s = b64_encode(NULL, 0);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
	/* A length whose encoding cannot be sized is refused, not wrapped. */
	assert_null(b64_encode((const unsigned char *)"x", SIZE_MAX));
	assert_null(b64url_encode((const unsigned char *)"x", SIZE_MAX / 4 * 3));
}

static void test_length_prefix_only(void **state)
{
	(void)state;
	/* Only len bytes are read: a longer string decodes its prefix. */
	expect_decode(0, "Zm9vYmFy", 4, "foo", 3);
	expect_decode(0, "Zm9vYmFy!!!", 8, "foobar", 6);
}

static void test_round_trip_all_lengths(void **state)
{
	unsigned char buf[300];
	size_t len, i;
	uint32_t x = 0x12345678;
	int url;
	(void)state;

	for (i = 0; i < sizeof buf; i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (unsigned char)(x >> 16);
	}
	for (url = 0; url <= 1; url++) {
		for (len = 0; len <= sizeof buf; len++) {
			char *enc = url ? b64url_encode(buf, len) : b64_encode(buf, len);
			unsigned char *dec = NULL;
			size_t dec_len = 0;
			assert_non_null(enc);
			assert_int_equal(strlen(enc), (len * 4 + 2) / 3);
			assert_null(strchr(enc, '='));
			assert_null(strchr(enc, url ? '+' : '-'));
			assert_null(strchr(enc, url ? '/' : '_'));
			assert_int_equal(url ? b64url_decode(enc, strlen(enc), &dec, &dec_len)
			                     : b64_decode(enc, strlen(enc), &dec, &dec_len),
			                 0);
			assert_int_equal(dec_len, len);
			if (len)
				assert_memory_equal(dec, buf, len);
			free(dec);
			free(enc);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_rfc_vectors),
		cmocka_unit_test(test_decode_rfc_vectors_padded_and_not),
		cmocka_unit_test(test_alphabet_62_63),
		cmocka_unit_test(test_invalid_characters_refused),
		cmocka_unit_test(test_bad_padding_refused),
		cmocka_unit_test(test_nonzero_trailing_bits_accepted),
		cmocka_unit_test(test_empty_and_bad_arguments),
		cmocka_unit_test(test_length_prefix_only),
		cmocka_unit_test(test_round_trip_all_lengths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
