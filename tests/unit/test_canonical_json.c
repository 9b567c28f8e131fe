/*
 * Tests for json/canonical: the spec's canonical JSON examples (read from the
 * spec copy, appendices "Canonical JSON" > "Examples"), the grammar's escaping
 * rules, key order, the integer range, hostile parser input, and a
 * cross-check against Debian's python3-canonicaljson on generated values.
 */
#include <errno.h>
#include <libgen.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "json/canonical.h"

/* ---- helpers ------------------------------------------------------------ */

static json_t *parse_ok(const char *text)
{
	enum cjson_status st = CJSON_OOM;
	char err[128] = "";
	json_t *v = cjson_parse(text, strlen(text), 64, &st, err, sizeof err);

	if (v == NULL)
		print_error("unexpected parse failure for %s: %s\n", text, err);
	assert_non_null(v);
	assert_int_equal(st, CJSON_OK);
	return v;
}

static void expect_parse_status(const char *text, size_t len, int max_depth,
                                enum cjson_status want)
{
	enum cjson_status st = CJSON_OK;
	char err[128] = "";
	json_t *v = cjson_parse(text, len, max_depth, &st, err, sizeof err);

	assert_null(v);
	assert_int_equal(st, want);
	assert_true(err[0] != '\0'); /* a human reason is always given */
}

/* Encode v, compare with want (which may hold no NUL), drop v. */
static void expect_encoding(json_t *v, const char *want)
{
	size_t len = 0;
	char *got = cjson_encode(v, &len);

	assert_non_null(got);
	assert_string_equal(got, want);
	assert_int_equal(len, strlen(want));
	assert_int_equal(cjson_check(v), 0);
	free(got);
	json_decref(v);
}

static void expect_refused(json_t *v)
{
	assert_null(cjson_encode(v, NULL));
	assert_int_equal(cjson_check(v), -1);
	json_decref(v);
}

/* ---- the spec's examples, read from the spec itself ------------------------ */

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
			buf[n] = '\0';
			*len = (size_t)n;
		} else {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

/* Next "```json" block at or after *pos and before end; body malloc'd. */
static char *next_json_block(const char **pos, const char *end)
{
	const char *start = strstr(*pos, "```json\n"), *stop;
	char *body;

	if (start == NULL || start >= end)
		return NULL;
	start += strlen("```json\n");
	stop = strstr(start, "```");
	if (stop == NULL || stop > end)
		return NULL;
	*pos = stop + 3;
	body = strndup(start, (size_t)(stop - start));
	return body;
}

static void test_spec_examples(void **state)
{
	const char *dir = getenv("CHAPPE_SPEC_DIR"), *pos, *end;
	char path[4096], *doc;
	size_t len = 0;
	int pairs = 0;
	(void)state;

	if (dir == NULL)
		skip(); /* run through meson, which sets CHAPPE_SPEC_DIR */
	snprintf(path, sizeof path, "%s/content/appendices.md", dir);
	doc = slurp(path, &len);
	assert_non_null(doc);
	/* Appendices, "Canonical JSON" > "Examples": pairs of "Given the
	 * following JSON object" / "The following canonical JSON should be
	 * produced" blocks, up to "Signing Details". */
	pos = strstr(doc, "#### Examples");
	end = strstr(doc, "### Signing Details");
	assert_non_null(pos);
	assert_non_null(end);
	for (;;) {
		char *in = next_json_block(&pos, end), *want, *got;
		json_t *v;
		if (in == NULL)
			break;
		want = next_json_block(&pos, end);
		assert_non_null(want);
		want[strcspn(want, "\n")] = '\0';
		v = parse_ok(in);
		/* The last example writes 1e10, which only a lenient reader
		 * turns into an integer; cjson_integralize is that reader. */
		assert_int_equal(cjson_integralize(v), 0);
		got = cjson_encode(v, NULL);
		assert_non_null(got);
		assert_string_equal(got, want);
		free(got);
		json_decref(v);
		free(in);
		free(want);
		pairs++;
	}
	assert_int_equal(pairs, 10); /* the spec has ten examples: saw them all */
	free(doc);
}

static void test_spec_examples_inline(void **state)
{
	json_t *v;
	(void)state;
	/* The same examples, inline, so they run without the spec copy too. */
	expect_encoding(parse_ok("{}"), "{}");
	expect_encoding(parse_ok("{\n    \"one\": 1,\n    \"two\": \"Two\"\n}"),
	                "{\"one\":1,\"two\":\"Two\"}");
	expect_encoding(parse_ok("{\"b\":\"2\",\"a\":\"1\"}"), "{\"a\":\"1\",\"b\":\"2\"}");
	expect_encoding(parse_ok("{\"a\": \"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\"}"),
	                "{\"a\":\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\"}");
	/* {"本": 2, "日": 1} -> {"日":1,"本":2}: U+65E5 sorts before U+672C */
	expect_encoding(parse_ok("{\"\xe6\x9c\xac\": 2, \"\xe6\x97\xa5\": 1}"),
	                "{\"\xe6\x97\xa5\":1,\"\xe6\x9c\xac\":2}");
	expect_encoding(parse_ok("{\"a\": \"\\u65E5\"}"), "{\"a\":\"\xe6\x97\xa5\"}");
	expect_encoding(parse_ok("{\"a\": null}"), "{\"a\":null}");
	/* {"a": -0, "b": 1e10} -> {"a":0,"b":10000000000}: "-0" is read as
	 * the integer 0; 1e10 is a real, refused unless made integral. */
	v = parse_ok("{\"a\": -0, \"b\": 1e10}");
	assert_int_equal(cjson_check(v), -1);
	assert_null(cjson_encode(v, NULL));
	assert_int_equal(cjson_integralize(v), 0);
	expect_encoding(v, "{\"a\":0,\"b\":10000000000}");
}

/* ---- escaping ------------------------------------------------------------- */

static void test_escaping_controls(void **state)
{
	/* Grammar: the five controls with short forms use them; the others
	 * are u000X with X in [0-7, b, e, f] and u001X with X in [0-9, a-f]:
	 * lower-case hex, since the grammar uses case-sensitive strings. */
	static const char *const want[32] = {
		"\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006",
		"\\u0007", "\\b",     "\\t",     "\\n",     "\\u000b", "\\f",     "\\r",
		"\\u000e", "\\u000f", "\\u0010", "\\u0011", "\\u0012", "\\u0013", "\\u0014",
		"\\u0015", "\\u0016", "\\u0017", "\\u0018", "\\u0019", "\\u001a", "\\u001b",
		"\\u001c", "\\u001d", "\\u001e", "\\u001f",
	};
	char expect[32];
	unsigned c;
	(void)state;

	for (c = 0; c < 32; c++) {
		char s[3] = { 'x', (char)c, 'y' };
		snprintf(expect, sizeof expect, "\"x%sy\"", want[c]);
		expect_encoding(json_stringn(s, 3), expect);
	}
}

static void test_escaping_others_raw(void **state)
{
	(void)state;
	/* '"' and '\' are escaped; '/' is not (no redundant escapes). */
	expect_encoding(json_string("a\"b\\c/d"), "\"a\\\"b\\\\c/d\"");
	/* DEL is not an ASCII control in the grammar (unescaped %x5D-10FFFF). */
	expect_encoding(json_string("\x7f"), "\"\x7f\"");
	/* Non-ASCII is raw UTF-8, including U+2028/U+2029 that JavaScript
	 * encoders like to escape, U+FEFF and astral characters. */
	expect_encoding(json_string("\xe2\x80\xa8\xe2\x80\xa9\xef\xbb\xbf\xf0\x9f\x98\x80\xc3\xa9"),
	                "\"\xe2\x80\xa8\xe2\x80\xa9\xef\xbb\xbf\xf0\x9f\x98\x80\xc3\xa9\"");
	/* Escapes in the input are not preserved: "\u00e9" is written raw. */
	expect_encoding(parse_ok("\"\\u00e9\\/\\ud83d\\ude00\""),
	                "\"\xc3\xa9/\xf0\x9f\x98\x80\"");
	expect_encoding(json_string(""), "\"\"");
}

static void test_invalid_utf8_values_refused(void **state)
{
	json_t *o;
	(void)state;
	/* jansson's *_nocheck calls let unchecked bytes in; never emit them. */
	expect_refused(json_string_nocheck("\xff"));
	expect_refused(json_string_nocheck("\xc0\xaf"));         /* overlong '/' */
	expect_refused(json_string_nocheck("\xed\xa0\x80"));     /* surrogate */
	expect_refused(json_string_nocheck("\xf4\x90\x80\x80")); /* > U+10FFFF */
	expect_refused(json_string_nocheck("\xe6\x97"));         /* truncated */
	o = json_object();
	json_object_set_new_nocheck(o, "\xfe", json_true());
	expect_refused(o);
}

/* ---- key order -------------------------------------------------------------- */

static void test_key_order_by_code_point(void **state)
{
	json_t *o = json_object();
	(void)state;
	/* Inserted in reverse; U+FFFD (EF BF BD) is below U+1F600 by code
	 * point although UTF-16 ordering would put the surrogate pair first. */
	json_object_set_new(o, "\xf0\x9f\x98\x80", json_integer(7));
	json_object_set_new(o, "\xef\xbf\xbd", json_integer(6));
	json_object_set_new(o, "\xc3\xa9", json_integer(5));
	json_object_set_new(o, "b", json_integer(4));
	json_object_set_new(o, "aa", json_integer(3));
	json_object_set_new(o, "a", json_integer(2));
	json_object_set_new(o, "B", json_integer(1));
	json_object_set_new(o, "", json_integer(0));
	expect_encoding(o, "{\"\":0,\"B\":1,\"a\":2,\"aa\":3,\"b\":4,\"\xc3\xa9\":5,"
	                   "\"\xef\xbf\xbd\":6,\"\xf0\x9f\x98\x80\":7}");
}

static void test_keys_with_nul(void **state)
{
	json_t *o = json_object();
	size_t len = 0;
	char *got;
	static const char want[] = "{\"a\":1,\"a\\u0000\":2,\"a\\u0000b\":3}";
	(void)state;
	/* Keys holding U+0000 compare whole, not up to the NUL. */
	json_object_setn_new(o, "a\0b", 3, json_integer(3));
	json_object_setn_new(o, "a\0", 2, json_integer(2));
	json_object_setn_new(o, "a", 1, json_integer(1));
	got = cjson_encode(o, &len);
	assert_non_null(got);
	assert_int_equal(len, sizeof want - 1);
	assert_memory_equal(got, want, len);
	free(got);
	json_decref(o);
}

/* ---- numbers and other scalars ---------------------------------------------- */

static void test_integer_range(void **state)
{
	json_t *a;
	(void)state;
	/* "Numbers in the JSON must be integers in the range
	 *  [-(2**53)+1, (2**53)-1]". */
	expect_encoding(json_integer(9007199254740991LL), "9007199254740991");
	expect_encoding(json_integer(-9007199254740991LL), "-9007199254740991");
	expect_encoding(json_integer(0), "0");
	expect_encoding(json_integer(-1), "-1");
	expect_refused(json_integer(9007199254740992LL));
	expect_refused(json_integer(-9007199254740992LL));
	expect_refused(json_integer(INT64_MAX));
	expect_refused(json_integer(INT64_MIN));
	/* "Float values are not permitted by this encoding", even integral. */
	expect_refused(json_real(1.0));
	expect_refused(json_real(0.5));
	/* ... also deep inside a value. */
	a = json_pack("{s:[i,{s:f}]}", "x", 1, "y", 2.0);
	expect_refused(a);
	a = json_pack("{s:[i,{s:I}]}", "x", 1, "y", (json_int_t)9007199254740992LL);
	expect_refused(a);
}

static void test_scalars_and_empty_containers(void **state)
{
	(void)state;
	expect_encoding(json_null(), "null");
	expect_encoding(json_true(), "true");
	expect_encoding(json_false(), "false");
	expect_encoding(json_array(), "[]");
	expect_encoding(json_object(), "{}");
	expect_encoding(json_pack("[[],{},[{}],{s:[]}]", "k"), "[[],{},[{}],{\"k\":[]}]");
	/* Array order is kept; only object keys are sorted. */
	expect_encoding(json_pack("[i,i,i]", 3, 1, 2), "[3,1,2]");
	assert_null(cjson_encode(NULL, NULL));
	assert_int_equal(cjson_check(NULL), -1);
}

static void test_integralize(void **state)
{
	json_t *v = json_pack("{s:f,s:f,s:f,s:[f,f],s:f}", "neg0", -0.0, "big", 9007199254740991.0,
	                      "half", 0.5, "arr", 3.0, -4.0, "over", 9007199254740992.0);
	json_t *top;
	(void)state;

	assert_int_equal(cjson_integralize(v), 0);
	/* integral reals in range became integers ... */
	assert_true(json_is_integer(json_object_get(v, "neg0")));
	assert_int_equal(json_integer_value(json_object_get(v, "neg0")), 0);
	assert_true(json_is_integer(json_object_get(v, "big")));
	assert_true(json_is_integer(json_array_get(json_object_get(v, "arr"), 1)));
	/* ... others stayed reals, so the value is still refused. */
	assert_true(json_is_real(json_object_get(v, "half")));
	assert_true(json_is_real(json_object_get(v, "over")));
	assert_int_equal(cjson_check(v), -1);
	json_object_del(v, "half");
	json_object_del(v, "over");
	expect_encoding(v, "{\"arr\":[3,-4],\"big\":9007199254740991,\"neg0\":0}");
	/* A top-level real cannot change type in place: it stays. */
	top = json_real(2.0);
	assert_int_equal(cjson_integralize(top), 0);
	expect_refused(top);
}

/* ---- depth and cycles ------------------------------------------------------- */

static json_t *nested_arrays(int depth)
{
	json_t *v = json_array(), *outer;
	int i;

	for (i = 1; i < depth; i++) {
		outer = json_array();
		json_array_append_new(outer, v);
		v = outer;
	}
	return v;
}

static void test_encode_depth_limit_and_cycles(void **state)
{
	json_t *a, *b;
	char *s;
	(void)state;

	a = nested_arrays(CJSON_MAX_DEPTH);
	s = cjson_encode(a, NULL);
	assert_non_null(s);
	assert_int_equal(strlen(s), 2 * CJSON_MAX_DEPTH);
	free(s);
	json_decref(a);
	expect_refused(nested_arrays(CJSON_MAX_DEPTH + 1));

	/* jansson does not forbid reference cycles; the encoder must not
	 * recurse forever on one. */
	a = json_array();
	b = json_object();
	json_array_append(a, b);
	json_object_set(b, "loop", a);
	assert_null(cjson_encode(a, NULL));
	assert_int_equal(cjson_check(a), -1);
	json_object_clear(b);
	json_decref(b);
	json_decref(a);
}

/* ---- parsing hostile input ------------------------------------------------- */

static void test_parse_empty_and_garbage(void **state)
{
	json_t *v;
	(void)state;
	expect_parse_status("", 0, 8, CJSON_NOT_JSON);
	expect_parse_status(NULL, 0, 8, CJSON_NOT_JSON);
	expect_parse_status("   \n", 4, 8, CJSON_NOT_JSON);
	expect_parse_status("{} x", 4, 8, CJSON_NOT_JSON);  /* trailing data */
	expect_parse_status("{}{}", 4, 8, CJSON_NOT_JSON);
	expect_parse_status("{\"a\":1,}", 8, 8, CJSON_NOT_JSON);
	expect_parse_status("[1,]", 4, 8, CJSON_NOT_JSON);
	expect_parse_status("{'a':1}", 7, 8, CJSON_NOT_JSON);
	expect_parse_status("{\"a\":01}", 8, 8, CJSON_NOT_JSON); /* leading zero */
	expect_parse_status("{\"a\":", 5, 8, CJSON_NOT_JSON);
	expect_parse_status("\"unterminated", 13, 8, CJSON_NOT_JSON);
	expect_parse_status("[\"a\tb\"]", 7, 8, CJSON_NOT_JSON); /* raw control */
	/* Only len bytes are read: "{} x" cut at 2 is just "{}". */
	v = cjson_parse("{} x", 2, 8, NULL, NULL, 0);
	assert_non_null(v);
	json_decref(v);
}

static void test_parse_invalid_utf8(void **state)
{
	static const char *const bad[] = {
		"\"\xff\"",             /* never valid */
		"\"\xc0\xaf\"",         /* overlong '/' */
		"\"\xe0\x80\xaf\"",     /* overlong, 3 bytes */
		"\"\xed\xa0\x80\"",     /* UTF-8 encoded surrogate */
		"\"\xf4\x90\x80\x80\"", /* beyond U+10FFFF */
		"\"\xe6\x97\"",         /* truncated sequence */
		"{\"\xff\":1}",         /* in a key */
		"[1]\xff",              /* outside any string */
		"\"\\ud800\"",          /* lone surrogate escape */
		"\"\\udc00\\ud800\"",   /* reversed pair */
	};
	size_t i;
	(void)state;
	/* RFC 8259 section 8.1: JSON text exchanged between systems MUST be
	 * UTF-8; the canonical encoding is defined as UTF-8. */
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_parse_status(bad[i], strlen(bad[i]), 8, CJSON_NOT_JSON);
}

static void test_parse_nan_infinity(void **state)
{
	static const char *const bad[] = {
		"NaN", "[NaN]", "{\"a\":Infinity}", "-Infinity", "[1e5,nan]", "inf", "+1", ".5", "0x10",
	};
	size_t i;
	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_parse_status(bad[i], strlen(bad[i]), 8, CJSON_NOT_JSON);
}

static void test_parse_duplicate_keys(void **state)
{
	static const char *const bad[] = {
		"{\"a\":1,\"a\":2}",
		"{\"a\":1,\"a\":1}",
		"{\"x\":{\"b\":1,\"c\":2,\"b\":3}}",
		"[{},{\"k\":[],\"k\":{}}]",
		"{\"\\u0061\":1,\"a\":2}", /* same key, spelt differently */
	};
	size_t i;
	(void)state;
	/* Two readers that keep different duplicates would see different
	 * events under one signature: refuse them outright. */
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_parse_status(bad[i], strlen(bad[i]), 8, CJSON_NOT_JSON);
	json_decref(parse_ok("{\"a\":{\"a\":1},\"b\":{\"a\":2}}")); /* same key, different objects */
}

static void test_parse_nul(void **state)
{
	(void)state;
	expect_parse_status("\"a\\u0000b\"", 10, 8, CJSON_NOT_JSON);
	expect_parse_status("{\"a\\u0000\":1}", 13, 8, CJSON_NOT_JSON);
	expect_parse_status("[1]\0", 4, 8, CJSON_NOT_JSON);     /* raw NUL after the value */
	expect_parse_status("[\"a\0b\"]", 7, 8, CJSON_NOT_JSON); /* raw NUL in a string */
}

static char *repeat_brackets(int n, const char *open, const char *close)
{
	size_t lo = strlen(open), lc = strlen(close), i;
	char *s = malloc((size_t)n * (lo + lc) + 1), *p = s;

	assert_non_null(s);
	for (i = 0; i < (size_t)n; i++, p += lo)
		memcpy(p, open, lo);
	for (i = 0; i < (size_t)n; i++, p += lc)
		memcpy(p, close, lc);
	*p = '\0';
	return s;
}

static void test_parse_depth(void **state)
{
	char *s;
	json_t *v;
	(void)state;

	s = repeat_brackets(3, "[", "]");
	v = cjson_parse(s, strlen(s), 3, NULL, NULL, 0);
	assert_non_null(v);
	json_decref(v);
	expect_parse_status(s, strlen(s), 2, CJSON_TOO_DEEP);
	free(s);
	s = repeat_brackets(3, "{\"k\":", "}");
	expect_parse_status(s, strlen(s) - 3, 2, CJSON_TOO_DEEP); /* even unterminated */
	free(s);
	/* Brackets inside strings (and escaped quotes) are not nesting. */
	v = cjson_parse("[\"[[[[\\\"{{{{\"]", 14, 1, NULL, NULL, 0);
	assert_non_null(v);
	json_decref(v);
	/* Scalars have depth 0. */
	v = cjson_parse("1", 1, 0, NULL, NULL, 0);
	assert_non_null(v);
	json_decref(v);
	expect_parse_status("[]", 2, 0, CJSON_TOO_DEEP);
	/* A huge max_depth is capped at CJSON_MAX_DEPTH (so that whatever
	 * parses also encodes), and a deep hostile text fails fast. */
	s = repeat_brackets(CJSON_MAX_DEPTH + 1, "[", "]");
	expect_parse_status(s, strlen(s), 1 << 30, CJSON_TOO_DEEP);
	v = cjson_parse(s + 1, strlen(s) - 2, 1 << 30, NULL, NULL, 0);
	assert_non_null(v);
	json_decref(v);
	free(s);
	s = repeat_brackets(1000000, "[", "]");
	expect_parse_status(s, strlen(s), 100, CJSON_TOO_DEEP);
	free(s);
}

static void test_parse_numbers(void **state)
{
	json_t *v;
	(void)state;
	/* Syntactically valid numbers that cannot be held: M_BAD_JSON. */
	expect_parse_status("99999999999999999999", 20, 8, CJSON_BAD_JSON);
	expect_parse_status("[-99999999999999999999]", 23, 8, CJSON_BAD_JSON);
	expect_parse_status("{\"n\":1e400}", 11, 8, CJSON_BAD_JSON);
	/* Integers that fit 64 bits parse (old room versions may hold them,
	 * spec warning box under "Canonical JSON"), but are not canonical. */
	v = parse_ok("9223372036854775807");
	assert_int_equal(json_integer_value(v), INT64_MAX);
	expect_refused(v);
	v = parse_ok("{\"n\":9007199254740992}");
	expect_refused(v);
	v = parse_ok("[-9007199254740991,9007199254740991]");
	expect_encoding(v, "[-9007199254740991,9007199254740991]");
	/* Reals stay reals: the caller decides (Synapse refuses them). */
	v = parse_ok("1.5");
	assert_true(json_is_real(v));
	expect_refused(v);
	v = parse_ok("[-0]");
	expect_encoding(v, "[0]"); /* "negative zero -0 MUST NOT appear" */
	v = parse_ok("[1E2]");
	assert_true(json_is_real(json_array_get(v, 0)));
	json_decref(v);
}

static void test_parse_top_level_and_errbuf(void **state)
{
	enum cjson_status st = CJSON_OK;
	char small[8];
	json_t *v;
	(void)state;
	/* "The top level may be any value (callers check the type)." */
	expect_encoding(parse_ok("3"), "3");
	expect_encoding(parse_ok(" \"s\" "), "\"s\"");
	expect_encoding(parse_ok("null"), "null");
	expect_encoding(parse_ok("[true,false]"), "[true,false]");
	/* A short buffer gets a truncated, terminated message; NULL ones
	 * are allowed. */
	memset(small, 'Z', sizeof small);
	v = cjson_parse("{", 1, 8, &st, small, sizeof small);
	assert_null(v);
	assert_int_equal(st, CJSON_NOT_JSON);
	assert_non_null(memchr(small, '\0', sizeof small));
	assert_null(cjson_parse("{", 1, 8, NULL, NULL, 0));
	assert_string_equal(cjson_status_str(CJSON_TOO_DEEP), "JSON nested too deeply");
	assert_string_equal(cjson_status_str(CJSON_OK), "ok");
}
/* ---- allocation failure ------------------------------------------------------ */

/* jansson allocator that fails once the countdown reaches zero. */
static int oom_countdown = -1;

static void *oom_malloc(size_t n)
{
	if (oom_countdown == 0)
		return NULL;
	if (oom_countdown > 0)
		oom_countdown--;
	return malloc(n);
}

static void test_parse_oom(void **state)
{
	static const char text[] = "{\"a\":[1,2,{\"b\":\"xyz\"}],\"c\":\"long string here\",\"d\":{}}";
	int n, ooms = 0, done = 0;
	(void)state;

	json_set_alloc_funcs(oom_malloc, free);
	for (n = 0; n < 1000 && !done; n++) {
		enum cjson_status st = CJSON_OK;
		char err[64] = "";
		json_t *v;
		oom_countdown = n;
		v = cjson_parse(text, sizeof text - 1, 8, &st, err, sizeof err);
		oom_countdown = -1;
		if (v) {
			assert_int_equal(st, CJSON_OK);
			json_decref(v);
			done = 1;
		} else if (st == CJSON_OOM) {
			assert_string_equal(err, "out of memory");
			ooms++;
		} else {
			/* jansson 2.14 misreports some failures as syntax errors
			 * (documented in canonical.h); never anything else. */
			assert_int_equal(st, CJSON_NOT_JSON);
		}
	}
	json_set_alloc_funcs(malloc, free);
	assert_true(done);
	assert_true(ooms > n / 2); /* most failures are reported as such */
}

/* ---- cross-check against python3-canonicaljson ------------------------------ */

#define CROSS_CASES 3000
#define CROSS_MAX_DEPTH 5

static uint64_t cross_rng = 0x9e3779b97f4a7c15ULL;

static uint64_t cross_next(void)
{
	/* xorshift64: a fixed seed makes any failure reproducible. */
	cross_rng ^= cross_rng << 13;
	cross_rng ^= cross_rng >> 7;
	cross_rng ^= cross_rng << 17;
	return cross_rng;
}

/* Pieces chosen to hit every escaping rule and every UTF-8 length, plus the
 * characters where code point order and UTF-16 order disagree. */
static const char *const cross_pieces[] = {
	"a", "b", "Z", "0", " ", "\"", "\\", "/", "\x7f", "\x01", "\x1f", "\n", "\t", "\b", "\f",
	"\r", "\x0b", "\x1b", "\xc3\xa9", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xe2\x80\xa8",
	"\xe2\x80\xa9", "\xef\xbb\xbf", "\xef\xbf\xbd", "\xef\xbf\xbf", "\xee\x80\x80",
	"\xf0\x90\x80\x80", "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf", "\xe6\x97\xa5", "<", "&",
};
static const char *const cross_key_pieces[] = {
	"a", "b", "A", "_", " ", "\x7f", "\xc3\xa9", "\xef\xbf\xbd", "\xf0\x9f\x98\x80", "\xee\x80\x80",
};

/* Random string of pieces; with_nul adds U+0000 now and then. */
static json_t *cross_string(const char *const *pieces, size_t npieces, size_t max_pieces,
                            int with_nul)
{
	char buf[256];
	size_t len = 0, n = cross_next() % (max_pieces + 1), i;

	for (i = 0; i < n; i++) {
		const char *p = pieces[cross_next() % npieces];
		size_t pl = strlen(p);
		if (with_nul && cross_next() % 40 == 0)
			p = "\0", pl = 1;
		memcpy(buf + len, p, pl);
		len += pl;
	}
	return json_stringn(buf, len);
}

static json_int_t cross_int(void)
{
	static const json_int_t special[] = {
		0, 1, -1, 9007199254740991LL, -9007199254740991LL, 2147483647LL, -2147483648LL,
		4294967296LL, 100, -100,
	};
	uint64_t r = cross_next();

	if (r % 2)
		return special[(r >> 8) % (sizeof special / sizeof special[0])];
	return (json_int_t)((r >> 11) % 9007199254740991ULL) * (r & 4 ? -1 : 1);
}

static json_t *cross_value(int depth, int with_nul)
{
	unsigned kind = (unsigned)(cross_next() % 10);
	size_t n, i;
	json_t *v;

	if (depth >= CROSS_MAX_DEPTH && kind >= 6)
		kind = 3;
	switch (kind) {
	case 0: return json_null();
	case 1: return json_true();
	case 2: return json_false();
	case 3: return json_integer(cross_int());
	case 4:
	case 5: return cross_string(cross_pieces, sizeof cross_pieces / sizeof *cross_pieces, 12, with_nul);
	case 6:
	case 7:
		v = json_array();
		n = cross_next() % 6;
		for (i = 0; i < n; i++)
			json_array_append_new(v, cross_value(depth + 1, with_nul));
		return v;
	default:
		v = json_object();
		n = cross_next() % 7;
		for (i = 0; i < n; i++) {
			json_t *k = cross_string(cross_key_pieces,
			                         sizeof cross_key_pieces / sizeof *cross_key_pieces, 3, 0);
			json_object_setn_new(v, json_string_value(k), json_string_length(k),
			                     cross_value(depth + 1, with_nul));
			json_decref(k);
		}
		return v;
	}
}

static char *hex_of(const char *s, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char *h = malloc(2 * n + 1);
	size_t i;

	assert_non_null(h);
	for (i = 0; i < n; i++) {
		h[2 * i] = digits[(unsigned char)s[i] >> 4];
		h[2 * i + 1] = digits[(unsigned char)s[i] & 15];
	}
	h[2 * n] = '\0';
	return h;
}

/* The helper ships next to this file. Meson compiles with a path relative
 * to the build directory, and runs tests from there; CHAPPE_SPEC_DIR
 * ("<source>/../shared/matrix-spec") is the fallback, CHAPPE_CROSSCHECK_SCRIPT
 * an override. */
static int cross_find_script(char *out, size_t out_len)
{
	static const char suffix[] = "/../shared/matrix-spec";
	const char *env = getenv("CHAPPE_CROSSCHECK_SCRIPT"), *spec = getenv("CHAPPE_SPEC_DIR");
	char file[4096];

	if (env && access(env, R_OK) == 0)
		return snprintf(out, out_len, "%s", env) < (int)out_len ? 0 : -1;
	snprintf(file, sizeof file, "%s", __FILE__);
	snprintf(out, out_len, "%s/canonical_crosscheck.py", dirname(file));
	if (access(out, R_OK) == 0)
		return 0;
	if (spec && strlen(spec) > strlen(suffix) &&
	    strcmp(spec + strlen(spec) - strlen(suffix), suffix) == 0) {
		snprintf(out, out_len, "%.*s/tests/unit/canonical_crosscheck.py",
		         (int)(strlen(spec) - strlen(suffix)), spec);
		if (access(out, R_OK) == 0)
			return 0;
	}
	return -1;
}

/* Run the helper on in_path, writing out_path; its exit status, or -1. */
static int cross_run_python(const char *script, const char *in_path, const char *out_path)
{
	int status = 0;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		execl("/usr/bin/python3", "python3", script, in_path, out_path, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* Mutate text in place-ish: flip, delete or insert a byte, or truncate. */
static size_t mutate(char *buf, size_t len, size_t cap)
{
	static const char interesting[] = "[]{}\":,\\0-e.ntfu \xff\xc3\x80\xed";
	size_t pos = len ? cross_next() % len : 0;

	switch (cross_next() % 4) {
	case 0:
		if (len)
			buf[pos] = (char)(cross_next() & 0xff);
		return len;
	case 1:
		if (len) {
			memmove(buf + pos, buf + pos + 1, len - pos - 1);
			len--;
		}
		return len;
	case 2:
		if (len + 1 < cap) {
			memmove(buf + pos + 1, buf + pos, len - pos);
			buf[pos] = interesting[cross_next() % (sizeof interesting - 1)];
			len++;
		}
		return len;
	default:
		return pos;
	}
}

static void test_parse_mutations(void **state)
{
	int i, ok = 0, refused = 0;
	(void)state;

	cross_rng = 0x2545f4914f6cdd1dULL;
	for (i = 0; i < 4000; i++) {
		json_t *v = cross_value(0, 0);
		char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT), buf[65536];
		size_t len = strlen(text), k, rounds = 1 + cross_next() % 3;
		enum cjson_status st = CJSON_OOM;
		json_t *back;

		json_decref(v);
		if (len >= sizeof buf) {
			free(text);
			continue;
		}
		memcpy(buf, text, len);
		free(text);
		for (k = 0; k < rounds; k++)
			len = mutate(buf, len, sizeof buf);
		back = cjson_parse(buf, len, 4, &st, NULL, 0);
		if (back == NULL) {
			/* Never "ok" without a value, never OOM here. */
			assert_true(st == CJSON_NOT_JSON || st == CJSON_BAD_JSON || st == CJSON_TOO_DEEP);
			refused++;
			continue;
		}
		assert_int_equal(st, CJSON_OK);
		ok++;
		if (cjson_check(back) == 0) {
			/* Canonical output is a fixed point: parse(encode(x))
			 * encodes to the same bytes. */
			size_t l1 = 0, l2 = 0;
			char *e1 = cjson_encode(back, &l1), *e2;
			json_t *again;
			assert_non_null(e1);
			again = cjson_parse(e1, l1, 4, NULL, NULL, 0);
			assert_non_null(again);
			e2 = cjson_encode(again, &l2);
			assert_non_null(e2);
			assert_int_equal(l1, l2);
			assert_memory_equal(e1, e2, l1);
			free(e1);
			free(e2);
			json_decref(again);
		} else {
			assert_null(cjson_encode(back, NULL));
		}
		json_decref(back);
	}
	/* Both outcomes were exercised. */
	assert_true(ok > 100);
	assert_true(refused > 100);
}

/* Our encoding of value i, checked also through our parser: a pretty,
 * insertion-ordered rendition must parse back to the same canonical bytes
 * (or be refused as NOT_JSON when it holds U+0000). */
static char *cross_ours(json_t *v, size_t i)
{
	size_t len = 0, len2 = 0;
	char *mine = cjson_encode(v, &len), *pretty, *again, *hex;
	enum cjson_status st;
	json_t *back;

	assert_non_null(mine);
	pretty = json_dumps(v, JSON_ENCODE_ANY | JSON_INDENT(i % 4) | (i % 2 ? JSON_ENSURE_ASCII : 0));
	assert_non_null(pretty);
	back = cjson_parse(pretty, strlen(pretty), CROSS_MAX_DEPTH + 1, &st, NULL, 0);
	if (memchr(mine, '\0', len) == NULL && strstr(mine, "\\u0000") == NULL) {
		assert_non_null(back);
		again = cjson_encode(back, &len2);
		assert_non_null(again);
		assert_int_equal(len, len2);
		assert_memory_equal(mine, again, len);
		free(again);
	} else {
		assert_null(back);
		assert_int_equal(st, CJSON_NOT_JSON);
	}
	json_decref(back);
	free(pretty);
	hex = hex_of(mine, len);
	free(mine);
	return hex;
}

static void test_crosscheck_python(void **state)
{
	char script[4096], in_path[] = "/tmp/chappe_cjson_in_XXXXXX",
	     out_path[] = "/tmp/chappe_cjson_out_XXXXXX", *line = NULL;
	char **ours = calloc(CROSS_CASES, sizeof *ours);
	size_t i, cap = 0, mismatches = 0;
	int in_fd, out_fd, rc;
	FILE *in, *out;
	(void)state;

	assert_non_null(ours);
	cross_rng = 0x9e3779b97f4a7c15ULL;
	if (access("/usr/bin/python3", X_OK) != 0) {
		print_message("SKIPPED cross-check: /usr/bin/python3 not found\n");
		free(ours);
		skip();
	}
	if (cross_find_script(script, sizeof script) != 0)
		fail_msg("canonical_crosscheck.py not found (set CHAPPE_CROSSCHECK_SCRIPT)");
	in_fd = mkstemp(in_path);
	out_fd = mkstemp(out_path);
	assert_true(in_fd >= 0 && out_fd >= 0);
	close(out_fd);
	in = fdopen(in_fd, "w");
	assert_non_null(in);
	for (i = 0; i < CROSS_CASES; i++) {
		json_t *v = cross_value(0, 1);
		char *compact = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_ENSURE_ASCII);
		assert_non_null(compact);
		fprintf(in, "%s\n", compact);
		free(compact);
		ours[i] = cross_ours(v, i);
		json_decref(v);
	}
	assert_int_equal(fclose(in), 0);
	rc = cross_run_python(script, in_path, out_path);
	if (rc == 77) {
		print_message("SKIPPED cross-check: python3-canonicaljson is not installed\n");
	} else {
		assert_int_equal(rc, 0);
		out = fopen(out_path, "r");
		assert_non_null(out);
		for (i = 0; i < CROSS_CASES; i++) {
			ssize_t n = getline(&line, &cap, out);
			assert_true(n > 0);
			line[strcspn(line, "\n")] = '\0';
			if (strcmp(line, ours[i]) != 0 && mismatches++ < 5)
				print_error("case %zu differs:\n python %s\n chappe %s\n", i, line, ours[i]);
		}
		assert_int_equal(getline(&line, &cap, out), -1); /* no extra lines */
		fclose(out);
		print_message("cross-checked %d generated values against python3-canonicaljson\n",
		              CROSS_CASES);
	}
	unlink(in_path);
	unlink(out_path);
	for (i = 0; i < CROSS_CASES; i++)
		free(ours[i]);
	free(ours);
	free(line);
	assert_int_equal(mismatches, 0);
	if (rc == 77)
		skip();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_examples),
		cmocka_unit_test(test_spec_examples_inline),
		cmocka_unit_test(test_escaping_controls),
		cmocka_unit_test(test_escaping_others_raw),
		cmocka_unit_test(test_invalid_utf8_values_refused),
		cmocka_unit_test(test_key_order_by_code_point),
		cmocka_unit_test(test_keys_with_nul),
		cmocka_unit_test(test_integer_range),
		cmocka_unit_test(test_scalars_and_empty_containers),
		cmocka_unit_test(test_integralize),
		cmocka_unit_test(test_encode_depth_limit_and_cycles),
		cmocka_unit_test(test_parse_empty_and_garbage),
		cmocka_unit_test(test_parse_invalid_utf8),
		cmocka_unit_test(test_parse_nan_infinity),
		cmocka_unit_test(test_parse_duplicate_keys),
		cmocka_unit_test(test_parse_nul),
		cmocka_unit_test(test_parse_depth),
		cmocka_unit_test(test_parse_numbers),
		cmocka_unit_test(test_parse_top_level_and_errbuf),
		cmocka_unit_test(test_parse_oom),
		cmocka_unit_test(test_parse_mutations),
		cmocka_unit_test(test_crosscheck_python),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
