/* Unit tests for util/ids.c against the appendices' identifier grammars. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/ids.h"

static void test_server_names(void **state)
{
	(void)state;
	/* appendices "Server Name": examples given there */
	assert_true(id_server_name_valid("matrix.org"));
	assert_true(id_server_name_valid("matrix.org:8888"));
	assert_true(id_server_name_valid("1.2.3.4"));
	assert_true(id_server_name_valid("1.2.3.4:1234"));
	assert_true(id_server_name_valid("[1234:5678::abcd]"));
	assert_true(id_server_name_valid("[1234:5678::abcd]:5678"));
	assert_false(id_server_name_valid(""));
	assert_false(id_server_name_valid("matrix.org:"));
	assert_false(id_server_name_valid("matrix.org:99999"));
	assert_false(id_server_name_valid("matrix.org:-1"));
	assert_false(id_server_name_valid("[1234:5678::abcd"));
	assert_false(id_server_name_valid("exa mple.org"));
	assert_false(id_server_name_valid("ex_ample.org"));
}

static void test_localparts(void **state)
{
	(void)state;
	/* appendices "User Identifiers": a-z 0-9 . _ = - / + */
	assert_true(id_localpart_valid("alice"));
	assert_true(id_localpart_valid("a.b_c=d-e/f+g"));
	assert_false(id_localpart_valid("Alice"));
	assert_false(id_localpart_valid("al ice"));
	assert_false(id_localpart_valid("al:ice"));
	assert_false(id_localpart_valid(""));
	assert_false(id_localpart_valid("é"));
}

static void test_user_ids(void **state)
{
	char big[300];
	(void)state;
	assert_true(id_user_valid("@alice:example.org"));
	/* historical IDs (printable ASCII except ':') are still accepted */
	assert_true(id_user_valid("@Alice!:example.org"));
	assert_false(id_user_valid("alice:example.org"));
	assert_false(id_user_valid("@:example.org"));
	assert_false(id_user_valid("@alice"));
	assert_false(id_user_valid("@al ice:example.org"));
	/* at most 255 bytes */
	memset(big, 'a', sizeof(big));
	big[0] = '@';
	strcpy(big + 250, ":hs.x");          /* 255 bytes: the limit */
	assert_true(id_user_valid(big));
	memset(big + 1, 'a', 250);
	strcpy(big + 251, ":hs.x");          /* 256 bytes */
	assert_false(id_user_valid(big));
}

static void test_user_make_and_local(void **state)
{
	char lp[256];
	char *uid;
	(void)state;
	uid = id_user_make("bob", "hs.example");
	assert_string_equal(uid, "@bob:hs.example");
	assert_true(id_user_is_local(uid, "hs.example", lp, sizeof(lp)));
	assert_string_equal(lp, "bob");
	assert_false(id_user_is_local(uid, "other.example", lp, sizeof(lp)));
	free(uid);
	assert_null(id_user_make("Bob", "hs.example"));
	assert_null(id_user_make("bob", "bad host"));
}

static void test_opaque_and_device(void **state)
{
	char dev[11];
	(void)state;
	assert_true(id_opaque_valid("ABCdef.123_~-"));
	assert_false(id_opaque_valid(""));
	assert_false(id_opaque_valid("a b"));
	assert_false(id_opaque_valid("a/b"));
	id_device_generate(dev);
	assert_int_equal(strlen(dev), 10);
	for (int i = 0; i < 10; i++)
		assert_true(dev[i] >= 'A' && dev[i] <= 'Z');
	assert_true(id_opaque_valid(dev));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_names),
		cmocka_unit_test(test_localparts),
		cmocka_unit_test(test_user_ids),
		cmocka_unit_test(test_user_make_and_local),
		cmocka_unit_test(test_opaque_and_device),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
