/* Unit tests for util/cidr.c and the pure part of media/media_preview.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "media/media_preview.h"
#include "util/cidr.h"

static struct sockaddr_storage v4(const char *a)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	memset(&ss, 0, sizeof(ss));
	in->sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, a, &in->sin_addr), 1);
	return ss;
}

static struct sockaddr_storage v6(const char *a)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *in = (struct sockaddr_in6 *)&ss;
	memset(&ss, 0, sizeof(ss));
	in->sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, a, &in->sin6_addr), 1);
	return ss;
}

static void test_cidr_lists(void **state)
{
	struct sockaddr_storage a;
	(void)state;
	assert_true(cidr_list_valid(NULL));
	assert_true(cidr_list_valid(""));
	assert_true(cidr_list_valid("127.0.0.1/32, ::1/128,10.0.0.0/8"));
	assert_false(cidr_list_valid("127.0.0.1"));          /* no prefix length */
	assert_false(cidr_list_valid("127.0.0.1/33"));
	assert_false(cidr_list_valid("::1/129"));
	assert_false(cidr_list_valid("example.org/8"));
	assert_false(cidr_list_valid("10.0.0.0/8,,"));
	a = v4("10.20.30.40");
	assert_true(cidr_list_contains("10.0.0.0/8", (struct sockaddr *)&a));
	assert_true(cidr_list_contains("192.168.0.0/16, 10.20.30.32/28", (struct sockaddr *)&a));
	assert_false(cidr_list_contains("10.20.30.48/28", (struct sockaddr *)&a));
	assert_false(cidr_list_contains("", (struct sockaddr *)&a));
	/* families never mix: a v4 range does not hold a v6 address */
	a = v6("::1");
	assert_false(cidr_list_contains("0.0.0.0/0", (struct sockaddr *)&a));
	assert_true(cidr_list_contains("::1/128", (struct sockaddr *)&a));
	a = v6("fd00::1234");
	assert_true(cidr_list_contains("fd00::/8", (struct sockaddr *)&a));
	assert_false(cidr_list_contains("fe80::/10", (struct sockaddr *)&a));
}

static void test_parse_og_and_title(void **state)
{
	static const char html[] =
		"<html><head><TITLE>  The &quot;title&quot;\n page </TITLE>"
		"<meta property='og:description' content='d &lt;b&gt;'>"
		"<meta content=\"x\" property=\"og:site_name\">"
		"<meta property=\"og:image\" content=\"http://evil/x\">"
		"<meta name=\"description\" content=\"not og\">";
	json_t *og;
	(void)state;
	og = media_preview_parse_html(html, strlen(html));
	assert_string_equal(json_string_value(json_object_get(og, "og:title")),
	                    "The \"title\" page");
	assert_string_equal(json_string_value(json_object_get(og, "og:description")), "d <b>");
	assert_string_equal(json_string_value(json_object_get(og, "og:site_name")), "x");
	assert_null(json_object_get(og, "og:image"));
	assert_null(json_object_get(og, "description"));
	json_decref(og);
}

static void test_parse_hostile_html(void **state)
{
	size_t n = 1 << 20;
	char *big = malloc(n + 1);
	json_t *og;
	(void)state;
	/* an unterminated tag, an unterminated title, a title far over the cap */
	og = media_preview_parse_html("<meta property=\"og:title", 24);
	assert_int_equal(json_object_size(og), 0);
	json_decref(og);
	og = media_preview_parse_html("<title>no end", 13);
	assert_int_equal(json_object_size(og), 0);
	json_decref(og);
	memcpy(big, "<title>", 7);
	memset(big + 7, 'a', n - 15);
	memcpy(big + n - 8, "</title>", 8);
	big[n] = '\0';
	og = media_preview_parse_html(big, n);
	assert_true(strlen(json_string_value(json_object_get(og, "og:title"))) <= PREVIEW_TEXT_MAX);
	json_decref(og);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cidr_lists),
		cmocka_unit_test(test_parse_og_and_title),
		cmocka_unit_test(test_parse_hostile_html),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
