/*
 * test_room_versions: the room version table against rooms/_index.md
 * ("Feature matrix") and rooms/v10.md, v11.md, v12.md.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rooms/room_version.h"

static void test_known_versions(void **state)
{
    (void)state;
    assert_non_null(room_version_get("10"));
    assert_non_null(room_version_get("11"));
    assert_non_null(room_version_get("12"));
    assert_string_equal(room_version_get("11")->id, "11");
}

static void test_unknown_versions(void **state)
{
    (void)state;
    /* Versions we do not implement, near-misses and NULL are unknown. */
    assert_null(room_version_get(NULL));
    assert_null(room_version_get(""));
    assert_null(room_version_get("9"));
    assert_null(room_version_get("1"));
    assert_null(room_version_get("13"));
    assert_null(room_version_get("10 "));
    assert_null(room_version_get("org.matrix.msc1234"));
}

static void test_switches(void **state)
{
    const struct room_version *v10 = room_version_get("10");
    const struct room_version *v11 = room_version_get("11");
    const struct room_version *v12 = room_version_get("12");

    (void)state;
    /* v11.md: "This room version builds on version 10 while clarifying
     * redaction rules." v10 uses fragments/v9-redactions. */
    assert_int_equal(v10->redaction, ROOM_REDACT_V9);
    assert_int_equal(v11->redaction, ROOM_REDACT_V11);
    assert_int_equal(v12->redaction, ROOM_REDACT_V11);
    /* v12.md: "changing the format of room IDs to be a hash of the create
     * event", "giving room creators infinite power level". */
    assert_false(v10->room_id_from_create);
    assert_false(v11->room_id_from_create);
    assert_true(v12->room_id_from_create);
    assert_true(v12->creators_infinite_power);
    assert_false(v11->creators_infinite_power);
    assert_int_equal(v12->state_res, ROOM_STATE_RES_V2_1);
    assert_int_equal(v11->state_res, ROOM_STATE_RES_V2);
    assert_int_equal(v10->state_res, ROOM_STATE_RES_V2);
    /* v10 rule 1.4 "If content has no creator property, reject"; gone in v11. */
    assert_true(v10->create_requires_creator);
    assert_false(v11->create_requires_creator);
    assert_false(v10->redacts_in_content);
    assert_true(v11->redacts_in_content);
    /* Feature matrix: knocking, restricted, knock_restricted all ✔ 10-12;
     * v10 made power levels integers. */
    for (const char *const *id = (const char *const[]){ "10", "11", "12", NULL };
         *id != NULL; id++) {
        const struct room_version *rv = room_version_get(*id);
        assert_true(rv->knock_allowed);
        assert_true(rv->restricted_allowed);
        assert_true(rv->knock_restricted_allowed);
        assert_true(rv->strict_canonical_json);
        assert_true(rv->integer_power_levels);
    }
    assert_string_equal(room_version_default()->id, "12");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_versions),
        cmocka_unit_test(test_unknown_versions),
        cmocka_unit_test(test_switches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
