/* Unit tests for http/router.c: matching on the raw path, prefixes,
 * methods, percent-decoding of segments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/router.h"

static void h_a(struct request *req) { (void)req; }
static void h_b(struct request *req) { (void)req; }

static const struct route table[] = {
	{ PFX_ROOT, HTTP_GET, "/_matrix/client/versions", h_a, AUTH_NONE, RL_NONE, LEDGER_NONE, "a", BODY_JSON, MOD_ANY },
	{ PFX_CLIENT, HTTP_GET, "/profile/{userId}", h_a, AUTH_OPTIONAL, RL_CLIENT, LEDGER_PROFILE, "p", BODY_JSON, MOD_ANY },
	{ PFX_CLIENT, HTTP_PUT, "/profile/{userId}/displayname", h_b, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE, "pd", BODY_JSON, MOD_ANY },
	{ PFX_CLIENT | PFX_CLIENT_V1, HTTP_POST, "/refresh", h_b, AUTH_NONE, RL_NONE, LEDGER_NONE, "r", BODY_JSON, MOD_ANY },
};
#define N (sizeof(table) / sizeof(table[0]))

static enum router_result match(enum http_method m, const char *path, const struct route **rt,
                                char *params[REQUEST_MAX_PARAMS], size_t *n)
{
	return router_match(table, N, m, path, rt, params, n);
}

static void test_root_and_prefixes(void **state)
{
	const struct route *rt = NULL;
	char *params[REQUEST_MAX_PARAMS];
	size_t n;

	(void)state;
	assert_int_equal(match(HTTP_GET, "/_matrix/client/versions", &rt, params, &n), ROUTER_MATCH);
	assert_string_equal(rt->name, "a");
	/* client-server-api: v3 and the legacy r0 serve the same endpoint */
	assert_int_equal(match(HTTP_POST, "/_matrix/client/v3/refresh", &rt, params, &n), ROUTER_MATCH);
	assert_int_equal(match(HTTP_POST, "/_matrix/client/r0/refresh", &rt, params, &n), ROUTER_MATCH);
	assert_int_equal(match(HTTP_POST, "/_matrix/client/v1/refresh", &rt, params, &n), ROUTER_MATCH);
	assert_int_equal(match(HTTP_POST, "/_matrix/client/v2/refresh", &rt, params, &n),
	                 ROUTER_NOT_FOUND);
	assert_int_equal(match(HTTP_GET, "/_matrix/client/v3/refreshx", &rt, params, &n),
	                 ROUTER_NOT_FOUND);
	assert_int_equal(match(HTTP_GET, "/_matrix/client/v3refresh", &rt, params, &n),
	                 ROUTER_NOT_FOUND);
}

static void test_method_mismatch(void **state)
{
	const struct route *rt = NULL;
	char *params[REQUEST_MAX_PARAMS];
	size_t n;

	(void)state;
	assert_int_equal(match(HTTP_GET, "/_matrix/client/v3/refresh", &rt, params, &n),
	                 ROUTER_BAD_METHOD);
	/* HEAD is served by the GET row */
	assert_int_equal(match(HTTP_HEAD, "/_matrix/client/versions", &rt, params, &n), ROUTER_MATCH);
}

static void test_params_decoded_after_split(void **state)
{
	const struct route *rt = NULL;
	char *params[REQUEST_MAX_PARAMS];
	size_t n;

	(void)state;
	/* An encoded '/' in a (historical) user ID stays inside its segment. */
	assert_int_equal(match(HTTP_GET, "/_matrix/client/v3/profile/%40a%2Fb%3Ahs", &rt, params, &n),
	                 ROUTER_MATCH);
	assert_int_equal(n, 1);
	assert_string_equal(params[0], "@a/b:hs");
	free(params[0]);
	assert_int_equal(match(HTTP_PUT, "/_matrix/client/v3/profile/@x:hs/displayname", &rt, params,
	                       &n), ROUTER_MATCH);
	assert_string_equal(rt->name, "pd");
	assert_string_equal(params[0], "@x:hs");
	free(params[0]);
	/* an empty segment does not match a placeholder */
	assert_int_equal(match(HTTP_GET, "/_matrix/client/v3/profile/", &rt, params, &n),
	                 ROUTER_NOT_FOUND);
}

static void test_bad_encoding(void **state)
{
	const struct route *rt = NULL;
	char *params[REQUEST_MAX_PARAMS];
	size_t n;

	(void)state;
	assert_int_equal(match(HTTP_GET, "/_matrix/client/v3/profile/%4", &rt, params, &n),
	                 ROUTER_BAD_PATH);
	assert_int_equal(match(HTTP_GET, "/_matrix/client/v3/profile/%zz", &rt, params, &n),
	                 ROUTER_BAD_PATH);
	/* a NUL byte never reaches a handler */
	assert_int_equal(match(HTTP_GET, "/_matrix/client/v3/profile/a%00b", &rt, params, &n),
	                 ROUTER_BAD_PATH);
}

static void test_percent_decode(void **state)
{
	char *s;
	(void)state;
	s = router_percent_decode("a%20b%2fc", 9);
	assert_string_equal(s, "a b/c");
	free(s);
	assert_null(router_percent_decode("%", 1));
	assert_null(router_percent_decode("%2", 2));
	s = router_percent_decode("", 0);
	assert_string_equal(s, "");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_root_and_prefixes),
		cmocka_unit_test(test_method_mismatch),
		cmocka_unit_test(test_params_decoded_after_split),
		cmocka_unit_test(test_bad_encoding),
		cmocka_unit_test(test_percent_decode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
