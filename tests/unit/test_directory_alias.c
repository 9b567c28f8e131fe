/*
 * test_directory_alias: the room alias grammar of src/api/client/directory.h,
 * against the spec's words (Appendices, "Room Aliases"):
 *
 *   "A room alias has the format: #room_alias:domain"
 *   "The domain of a room alias is the server name of the homeserver which
 *    created the alias."
 *   "The localpart of a room alias may contain any valid non-surrogate
 *    Unicode codepoints except : and NUL."
 *   "The length of a room alias, including the # sigil and the domain, MUST
 *    NOT exceed 255 bytes."
 *
 * and the stricter rule for aliases created here (createRoom's
 * room_alias_name, PUT /directory/room): no whitespace, as Synapse, and no
 * control characters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "api/client/directory.h"

static void test_valid_aliases(void **state)
{
	static const char *const ok[] = {
		"#a:example.org",
		"#room:localhost",
		"#room:example.org:8448",
		"#room:1.2.3.4",
		"#room:[::1]:8448",
		"#with space:example.org",        /* the grammar allows it; creation does not */
		"#caf\xc3\xa9:example.org",       /* U+00E9, 2 bytes */
		"#\xe6\xbc\xa2:example.org",      /* U+6F22, 3 bytes */
		"#\xf0\x9f\x98\x80:example.org",  /* U+1F600, 4 bytes */
		"#\xf4\x8f\xbf\xbf:example.org",  /* U+10FFFF, the last code point */
		"#\xed\x9f\xbf:example.org",      /* U+D7FF, just below the surrogates */
		"#\xee\x80\x80:example.org",      /* U+E000, just above them */
		"#$!%&'()*+,-./;<=>?@[]^_`{|}~:example.org",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (!directory_alias_valid(ok[i]))
			fail_msg("refused a valid alias: %s", ok[i]);
	}
}

static void test_invalid_aliases(void **state)
{
	static const char *const bad[] = {
		"",
		"#",
		"a:example.org",                  /* no sigil */
		"!a:example.org",
		"#a",                             /* no domain */
		"#:example.org",                  /* empty localpart */
		"#a:",                            /* empty domain */
		"#a:exa mple.org",                /* not a server name */
		"#a:example.org:port",
		"#a:example.org:123456",          /* port longer than 5 digits */
		"#\xff:example.org",              /* not UTF-8 */
		"#\xc3:example.org",              /* truncated sequence */
		"#\xc0\xaf:example.org",          /* overlong '/' */
		"#\xe0\x80\xaf:example.org",      /* overlong, 3 bytes */
		"#\xf0\x80\x80\xaf:example.org",  /* overlong, 4 bytes */
		"#\xed\xa0\x80:example.org",      /* U+D800, a surrogate */
		"#\xed\xbf\xbf:example.org",      /* U+DFFF, a surrogate */
		"#\xf4\x90\x80\x80:example.org",  /* U+110000, past the last code point */
		"#\xf8\x88\x80\x80\x80:example.org",
		"#a\xe6\xbc:example.org",         /* cut before the ':' */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (directory_alias_valid(bad[i]))
			fail_msg("accepted an invalid alias (index %zu)", i);
	}
	assert_false(directory_alias_valid(NULL));
}

/* "MUST NOT exceed 255 bytes", counted in bytes, sigil and domain included. */
static void test_length_limit(void **state)
{
	char alias[300];
	const char *domain = ":example.org";
	size_t dlen = strlen(domain);

	(void)state;
	memset(alias, 'x', sizeof(alias));
	alias[0] = '#';
	memcpy(alias + 255 - dlen, domain, dlen);
	alias[255] = '\0';
	assert_int_equal(strlen(alias), 255);
	assert_true(directory_alias_valid(alias));

	memset(alias, 'x', sizeof(alias));
	alias[0] = '#';
	memcpy(alias + 256 - dlen, domain, dlen);
	alias[256] = '\0';
	assert_false(directory_alias_valid(alias));

	/* 2-byte characters count as 2 */
	memset(alias, 0, sizeof(alias));
	alias[0] = '#';
	for (size_t i = 0; i < 122; i++)
		memcpy(alias + 1 + 2 * i, "\xc3\xa9", 2);
	strcat(alias, domain);                     /* 1 + 244 + 12 = 257 bytes */
	assert_false(directory_alias_valid(alias));
}

static void test_is_local(void **state)
{
	(void)state;
	assert_true(directory_alias_is_local("#a:example.org", "example.org"));
	assert_true(directory_alias_is_local("#a:example.org:8448", "example.org:8448"));
	assert_false(directory_alias_is_local("#a:example.org:8448", "example.org"));
	assert_false(directory_alias_is_local("#a:example.org", "example.org:8448"));
	assert_false(directory_alias_is_local("#a:other.example.org", "example.org"));
	assert_false(directory_alias_is_local("#a:EXAMPLE.ORG", "example.org"));
	/* an invalid alias is never local, whatever its tail */
	assert_false(directory_alias_is_local("#\xff:example.org", "example.org"));
	assert_false(directory_alias_is_local("a:example.org", "example.org"));
}

/* Names accepted for a new alias: the grammar's localpart, without
 * whitespace (Unicode's too) or control characters. */
static void test_new_localparts(void **state)
{
	static const char *const ok[] = { "tea", "caf\xc3\xa9", "a.b-c_d=e/f+g",
	                                  "\xf0\x9f\x98\x80", "#hash!inside" };
	static const char *const bad[] = {
		"", "a:b", "a b", "a\tb", "a\nb", "\x7f", "a\x01", "\xc2\x85",  /* NEL */
		"\xc2\xa0",          /* no-break space */
		"\xe2\x80\x8b",      /* zero-width space */
		"\xe2\x80\xa8",      /* line separator */
		"\xe3\x80\x80",      /* ideographic space */
		"\xef\xbb\xbf",      /* BOM */
		"\xed\xa0\x80",      /* surrogate */
		"\xff",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (!directory_alias_localpart_ok(ok[i], strlen(ok[i])))
			fail_msg("refused a good localpart: %s", ok[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (directory_alias_localpart_ok(bad[i], strlen(bad[i])))
			fail_msg("accepted a bad localpart (index %zu)", i);
	}
	/* the length given is the length read: an embedded NUL is refused */
	assert_false(directory_alias_localpart_ok("a\0b", 3));
	assert_true(directory_alias_localpart_ok("a\0b", 1));
	assert_false(directory_alias_localpart_ok(NULL, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_aliases),
		cmocka_unit_test(test_invalid_aliases),
		cmocka_unit_test(test_length_limit),
		cmocka_unit_test(test_is_local),
		cmocka_unit_test(test_new_localparts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
