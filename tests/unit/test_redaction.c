/*
 * test_redaction: the redaction algorithms of room versions 10 (spec
 * rooms/fragments/v9-redactions.md) and 11/12 (v11-redactions.md), and
 * event IDs (fragments/v4-event-ids.md, server-server-api.md "Calculating
 * the reference hash for an event"), cross-checked with an independent
 * Python implementation (data/rooms/event_id.py, Debian's hashlib and
 * python3-canonicaljson).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rooms/redact.h"

static json_t *parse(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, 0, &err);

    if (v == NULL)
        fail_msg("bad test JSON: %s: %s", err.text, text);
    return v;
}

/* Redact `in` under version `ver` and compare with `want` exactly. */
static void check_redact(const char *ver, const char *in, const char *want)
{
    json_t *ev = parse(in), *exp = parse(want), *got;
    char *before = json_dumps(ev, JSON_SORT_KEYS), *after, *dump;

    got = event_redact(room_version_get(ver), ev);
    assert_non_null(got);
    if (!json_equal(got, exp)) {
        dump = json_dumps(got, JSON_SORT_KEYS);
        fail_msg("v%s redaction gave %s", ver, dump);
    }
    /* The input is never modified. */
    after = json_dumps(ev, JSON_SORT_KEYS);
    assert_string_equal(before, after);
    free(before);
    free(after);
    json_decref(got);
    json_decref(exp);
    json_decref(ev);
}

#define MEMBER_EVENT \
    "{\"type\":\"m.room.member\",\"state_key\":\"@bob:b.org\"," \
    "\"sender\":\"@bob:b.org\",\"room_id\":\"!r:a.org\",\"event_id\":\"$e\"," \
    "\"origin\":\"b.org\",\"membership\":\"join\",\"prev_state\":[]," \
    "\"unsigned\":{\"age\":1},\"custom\":1,\"depth\":3,\"hashes\":{\"sha256\":\"h\"}," \
    "\"signatures\":{\"b.org\":{\"ed25519:1\":\"s\"}},\"prev_events\":[\"$p\"]," \
    "\"auth_events\":[\"$a\"],\"origin_server_ts\":5," \
    "\"content\":{\"membership\":\"invite\",\"displayname\":\"Bob\"," \
    "\"join_authorised_via_users_server\":\"@a:a.org\"," \
    "\"third_party_invite\":{\"display_name\":\"b...\",\"signed\":{\"mxid\":\"@bob:b.org\"," \
    "\"token\":\"t\",\"signatures\":{}}}}}"

#define KEPT_COMMON \
    "\"type\":\"m.room.member\",\"state_key\":\"@bob:b.org\"," \
    "\"sender\":\"@bob:b.org\",\"room_id\":\"!r:a.org\",\"event_id\":\"$e\"," \
    "\"depth\":3,\"hashes\":{\"sha256\":\"h\"}," \
    "\"signatures\":{\"b.org\":{\"ed25519:1\":\"s\"}},\"prev_events\":[\"$p\"]," \
    "\"auth_events\":[\"$a\"],\"origin_server_ts\":5,"

static void test_member_v10(void **state)
{
    (void)state;
    /* v9-redactions: keeps prev_state, origin, membership at top level;
     * member content keeps membership and join_authorised_via_users_server
     * only (third_party_invite goes). unsigned and custom keys go. */
    check_redact("10", MEMBER_EVENT,
        "{" KEPT_COMMON "\"origin\":\"b.org\",\"membership\":\"join\",\"prev_state\":[],"
        "\"content\":{\"membership\":\"invite\","
        "\"join_authorised_via_users_server\":\"@a:a.org\"}}");
}

static void test_member_v11_v12(void **state)
{
    (void)state;
    /* v11: "The top-level origin, membership, and prev_state properties are
     * no longer protected"; "Additionally, it allows the signed key of the
     * third_party_invite key" (and only that key under it). */
    static const char want[] =
        "{" KEPT_COMMON
        "\"content\":{\"membership\":\"invite\","
        "\"join_authorised_via_users_server\":\"@a:a.org\","
        "\"third_party_invite\":{\"signed\":{\"mxid\":\"@bob:b.org\","
        "\"token\":\"t\",\"signatures\":{}}}}}";
    check_redact("11", MEMBER_EVENT, want);
    check_redact("12", MEMBER_EVENT, want);
}

static void test_member_tpi_without_signed(void **state)
{
    (void)state;
    /* A third_party_invite without signed leaves nothing to keep. */
    check_redact("11",
        "{\"type\":\"m.room.member\",\"content\":{\"membership\":\"invite\","
        "\"third_party_invite\":{\"display_name\":\"x\"}}}",
        "{\"type\":\"m.room.member\",\"content\":{\"membership\":\"invite\"}}");
}

static void test_create(void **state)
{
    static const char ev[] =
        "{\"type\":\"m.room.create\",\"state_key\":\"\",\"content\":"
        "{\"creator\":\"@a:a.org\",\"room_version\":\"10\",\"m.federate\":false,"
        "\"additional_creators\":[\"@b:b.org\"]}}";
    (void)state;
    /* v9: create allows key creator; v11: "allows all keys". */
    check_redact("10", ev, "{\"type\":\"m.room.create\",\"state_key\":\"\","
                 "\"content\":{\"creator\":\"@a:a.org\"}}");
    check_redact("11", ev, ev);
    check_redact("12", ev, ev);
}

static void test_power_levels(void **state)
{
    static const char ev[] =
        "{\"type\":\"m.room.power_levels\",\"state_key\":\"\",\"content\":"
        "{\"ban\":50,\"events\":{\"m.room.name\":50},\"events_default\":0,"
        "\"invite\":0,\"kick\":50,\"redact\":50,\"state_default\":50,"
        "\"users\":{\"@a:a.org\":100},\"users_default\":0,"
        "\"notifications\":{\"room\":50}}}";
    (void)state;
    /* v9 keeps ban, events, events_default, kick, redact, state_default,
     * users, users_default; v11 adds invite; notifications always go. */
    check_redact("10", ev,
        "{\"type\":\"m.room.power_levels\",\"state_key\":\"\",\"content\":"
        "{\"ban\":50,\"events\":{\"m.room.name\":50},\"events_default\":0,"
        "\"kick\":50,\"redact\":50,\"state_default\":50,"
        "\"users\":{\"@a:a.org\":100},\"users_default\":0}}");
    check_redact("11", ev,
        "{\"type\":\"m.room.power_levels\",\"state_key\":\"\",\"content\":"
        "{\"ban\":50,\"events\":{\"m.room.name\":50},\"events_default\":0,"
        "\"invite\":0,\"kick\":50,\"redact\":50,\"state_default\":50,"
        "\"users\":{\"@a:a.org\":100},\"users_default\":0}}");
}

static void test_redaction_event(void **state)
{
    static const char ev[] =
        "{\"type\":\"m.room.redaction\",\"redacts\":\"$x\","
        "\"content\":{\"redacts\":\"$x\",\"reason\":\"spam\"}}";
    (void)state;
    /* v9: no content rule for m.room.redaction and top-level redacts is not
     * protected; v11: "The m.room.redaction event keeps the redacts
     * property under content". */
    check_redact("10", ev, "{\"type\":\"m.room.redaction\",\"content\":{}}");
    check_redact("11", ev,
        "{\"type\":\"m.room.redaction\",\"content\":{\"redacts\":\"$x\"}}");
}

static void test_other_types(void **state)
{
    (void)state;
    check_redact("11",
        "{\"type\":\"m.room.join_rules\",\"content\":{\"join_rule\":\"restricted\","
        "\"allow\":[{\"type\":\"m.room_membership\",\"room_id\":\"!s:a\"}],\"x\":1}}",
        "{\"type\":\"m.room.join_rules\",\"content\":{\"join_rule\":\"restricted\","
        "\"allow\":[{\"type\":\"m.room_membership\",\"room_id\":\"!s:a\"}]}}");
    check_redact("10",
        "{\"type\":\"m.room.history_visibility\",\"content\":"
        "{\"history_visibility\":\"shared\",\"x\":1}}",
        "{\"type\":\"m.room.history_visibility\",\"content\":"
        "{\"history_visibility\":\"shared\"}}");
    /* Every other type loses all content. */
    check_redact("12",
        "{\"type\":\"m.room.message\",\"content\":{\"body\":\"hi\",\"msgtype\":\"m.text\"}}",
        "{\"type\":\"m.room.message\",\"content\":{}}");
    check_redact("11",
        "{\"type\":\"m.room.name\",\"state_key\":\"\",\"content\":{\"name\":\"n\"}}",
        "{\"type\":\"m.room.name\",\"state_key\":\"\",\"content\":{}}");
}

static void test_hostile_shapes(void **state)
{
    json_t *v;
    (void)state;
    /* Content that is missing or not an object becomes {}; a non-string
     * type keeps nothing of content. */
    check_redact("11", "{\"type\":\"m.room.member\"}",
                 "{\"type\":\"m.room.member\",\"content\":{}}");
    check_redact("11", "{\"type\":\"m.room.create\",\"content\":[1,2]}",
                 "{\"type\":\"m.room.create\",\"content\":{}}");
    check_redact("10", "{\"type\":7,\"content\":{\"membership\":\"join\"}}",
                 "{\"type\":7,\"content\":{}}");
    v = json_array();
    assert_null(event_redact(room_version_get("11"), v));
    assert_null(event_redact(NULL, v));
    json_decref(v);
}

static void test_redaction_target(void **state)
{
    json_t *ev = parse("{\"type\":\"m.room.redaction\",\"redacts\":\"$top\","
                       "\"content\":{\"redacts\":\"$inner\"}}");
    json_t *msg = parse("{\"type\":\"m.room.message\",\"redacts\":\"$top\"}");
    (void)state;

    /* v11: "The redacts property of m.room.redaction events is moved from
     * a top-level event property to a property under the event content." */
    assert_string_equal(event_redaction_target(room_version_get("10"), ev), "$top");
    assert_string_equal(event_redaction_target(room_version_get("11"), ev), "$inner");
    assert_string_equal(event_redaction_target(room_version_get("12"), ev), "$inner");
    json_object_del(json_object_get(ev, "content"), "redacts");
    assert_null(event_redaction_target(room_version_get("12"), ev));
    assert_null(event_redaction_target(room_version_get("10"), msg));
    json_decref(ev);
    json_decref(msg);
}

/* jansson allocations fail once the budget is spent. */
static size_t alloc_budget;

static void *budget_malloc(size_t n)
{
    if (alloc_budget == 0)
        return NULL;
    alloc_budget--;
    return malloc(n);
}

static void test_redact_out_of_memory(void **state)
{
    json_t *ev = parse(MEMBER_EVENT), *full, *got;
    size_t budget;
    (void)state;

    full = event_redact(room_version_get("11"), ev);
    assert_non_null(full);
    /* Every allocation failing in turn: the result is NULL or complete,
     * never partial, and nothing leaks (the ASan build checks). */
    for (budget = 0; budget < 500; budget++) {
        alloc_budget = budget;
        json_set_alloc_funcs(budget_malloc, free);
        got = event_redact(room_version_get("11"), ev);
        json_set_alloc_funcs(malloc, free);
        if (got != NULL) {
            assert_true(json_equal(got, full));
            json_decref(got);
            break;
        }
    }
    assert_true(budget > 0 && budget < 500);
    json_decref(full);
    json_decref(ev);
}

/* A realistic v11 create event: its ID is checked against a value
 * computed once with data/rooms/event_id.py. */
static const char create_v11[] =
    "{\"type\":\"m.room.create\",\"state_key\":\"\",\"sender\":\"@alice:example.org\","
    "\"room_id\":\"!room:example.org\",\"content\":{\"room_version\":\"11\","
    "\"m.federate\":true},\"depth\":1,\"prev_events\":[],\"auth_events\":[],"
    "\"origin_server_ts\":1700000000000,\"hashes\":{\"sha256\":\"abc\"},"
    "\"signatures\":{\"example.org\":{\"ed25519:a\":\"sig\"}},\"unsigned\":{\"age\":5}}";

static void test_event_id_known(void **state)
{
    json_t *ev = parse(create_v11);
    char *id = event_compute_id(room_version_get("11"), ev);
    (void)state;

    assert_non_null(id);
    assert_string_equal(id, "$aUhOH__eyrUlewhxhUFCsyGRT2TcgLtWgeuYKQqOkiM");
    free(id);
    /* A locally attached event_id, new signatures or unsigned data do not
     * change the ID: none is part of the reference hash. */
    json_object_set_new(ev, "event_id", json_string("$whatever"));
    json_object_set_new(ev, "unsigned", json_pack("{s:i}", "age", 99));
    json_object_set_new(ev, "signatures", json_object());
    id = event_compute_id(room_version_get("11"), ev);
    assert_string_equal(id, "$aUhOH__eyrUlewhxhUFCsyGRT2TcgLtWgeuYKQqOkiM");
    free(id);
    /* A change to a protected field does. */
    json_object_set_new(ev, "depth", json_integer(2));
    id = event_compute_id(room_version_get("11"), ev);
    assert_string_not_equal(id, "$aUhOH__eyrUlewhxhUFCsyGRT2TcgLtWgeuYKQqOkiM");
    assert_int_equal(id[0], '$');
    assert_int_equal(strlen(id), 44); /* "$" + 43 chars of unpadded base64 */
    assert_null(strpbrk(id, "+/="));
    free(id);
    /* Floats are not canonical JSON: no ID. */
    json_object_set_new(ev, "depth", json_real(1.5));
    assert_null(event_compute_id(room_version_get("11"), ev));
    json_decref(ev);
}

static void test_room_id_from_create(void **state)
{
    json_t *ev = parse("{\"type\":\"m.room.create\",\"state_key\":\"\","
                       "\"sender\":\"@a:x.org\",\"content\":{\"room_version\":\"12\"},"
                       "\"depth\":1,\"prev_events\":[],\"auth_events\":[],"
                       "\"origin_server_ts\":1}");
    char *id = event_compute_id(room_version_get("12"), ev);
    char *room = event_room_id_from_create(room_version_get("12"), ev);
    (void)state;

    /* v12 rule 2: "The room ID is the event ID of the event with sigil !
     * instead of $." */
    assert_non_null(room);
    assert_int_equal(room[0], '!');
    assert_string_equal(room + 1, id + 1);
    free(room);
    free(id);
    /* Older versions allocate room IDs with a domain; non-create events
     * have no room to create. */
    assert_null(event_room_id_from_create(room_version_get("11"), ev));
    json_object_set_new(ev, "type", json_string("m.room.message"));
    assert_null(event_room_id_from_create(room_version_get("12"), ev));
    json_decref(ev);
}

static void test_event_id_content_not_hashed(void **state)
{
    json_t *a = parse("{\"type\":\"m.room.message\",\"content\":{\"body\":\"a\"},"
                      "\"hashes\":{\"sha256\":\"X\"}}");
    json_t *b = parse("{\"type\":\"m.room.message\",\"content\":{\"body\":\"b\"},"
                      "\"hashes\":{\"sha256\":\"X\"}}");
    char *ia = event_compute_id(room_version_get("12"), a);
    char *ib = event_compute_id(room_version_get("12"), b);
    (void)state;

    /* Message content is redacted before the reference hash: only the
     * content hash (hashes.sha256) ties the ID to the body. */
    assert_string_equal(ia, ib);
    free(ia);
    free(ib);
    json_decref(a);
    json_decref(b);
}

/* data/rooms/event_id.py next to this file, or under the source root
 * derived from CHAPPE_SPEC_DIR (<root>/../shared/matrix-spec). */
static int find_script(char *out, size_t len)
{
    static const char suffix[] = "/../shared/matrix-spec";
    const char *spec = getenv("CHAPPE_SPEC_DIR");
    char file[4096];
    size_t sl;

    snprintf(file, sizeof file, "%s", __FILE__);
    snprintf(out, len, "%s/data/rooms/event_id.py", dirname(file));
    if (access(out, R_OK) == 0)
        return 0;
    if (spec != NULL && (sl = strlen(spec)) > strlen(suffix)
        && strcmp(spec + sl - strlen(suffix), suffix) == 0) {
        snprintf(out, len, "%.*s/tests/unit/data/rooms/event_id.py",
                 (int)(sl - strlen(suffix)), spec);
        if (access(out, R_OK) == 0)
            return 0;
    }
    return -1;
}

static const char *const cross_events[] = {
    MEMBER_EVENT,
    create_v11,
    "{\"type\":\"m.room.power_levels\",\"state_key\":\"\",\"sender\":\"@a:a.org\","
    "\"room_id\":\"!r:a.org\",\"content\":{\"ban\":50,\"invite\":10,"
    "\"users\":{\"@a:a.org\":100},\"notifications\":{\"room\":1}},\"depth\":4,"
    "\"prev_events\":[\"$x\"],\"auth_events\":[\"$y\",\"$z\"],\"origin\":\"a.org\","
    "\"origin_server_ts\":12,\"hashes\":{\"sha256\":\"q\"}}",
    "{\"type\":\"m.room.redaction\",\"sender\":\"@a:a.org\",\"redacts\":\"$v\","
    "\"content\":{\"redacts\":\"$v\",\"reason\":\"r\"},\"room_id\":\"!r:a.org\","
    "\"depth\":9,\"prev_events\":[],\"auth_events\":[],\"origin_server_ts\":1}",
    "{\"type\":\"m.room.message\",\"sender\":\"@\\u00e9:a.org\",\"content\":"
    "{\"body\":\"\\u2603 snow\"},\"room_id\":\"!r:a.org\",\"depth\":2,"
    "\"prev_events\":[\"$1\"],\"auth_events\":[],\"origin_server_ts\":3}",
};

static void test_event_id_crosscheck(void **state)
{
    static const char *const versions[] = { "10", "11", "12" };
    char script[4096], path[] = "/tmp/chappe_evid_XXXXXX", cmd[8300], line[256];
    size_t n = sizeof cross_events / sizeof cross_events[0], got = 0;
    char theirs[3 * sizeof cross_events / sizeof cross_events[0]][256];
    FILE *in, *py;
    int fd, status;
    (void)state;

    if (access("/usr/bin/python3", X_OK) != 0)
        skip();
    if (find_script(script, sizeof script) != 0)
        fail_msg("data/rooms/event_id.py not found");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    in = fdopen(fd, "w");
    for (size_t v = 0; v < 3; v++)
        for (size_t i = 0; i < n; i++) {
            json_t *ev = parse(cross_events[i]);
            char *line_out = json_dumps(ev, JSON_COMPACT);
            fprintf(in, "{\"room_version\":\"%s\",\"event\":%s}\n", versions[v], line_out);
            free(line_out);
            json_decref(ev);
        }
    fclose(in);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s'", script, path);
    py = popen(cmd, "r");
    assert_non_null(py);
    for (size_t k = 0; k < 3 * n && fgets(line, sizeof line, py) != NULL; k++) {
        line[strcspn(line, "\n")] = '\0';
        snprintf(theirs[k], sizeof theirs[k], "%s", line);
        got++;
    }
    status = pclose(py);
    unlink(path);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
        print_message("SKIPPED cross-check: python3-canonicaljson not installed\n");
        skip();
    }
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(got, 3 * n);
    for (size_t v = 0; v < 3; v++)
        for (size_t i = 0; i < n; i++) {
            json_t *ev = parse(cross_events[i]);
            char *mine = event_compute_id(room_version_get(versions[v]), ev);
            assert_non_null(mine);
            if (strcmp(mine, theirs[v * n + i]) != 0)
                fail_msg("v%s event %zu: ours %s, python %s", versions[v], i,
                         mine, theirs[v * n + i]);
            free(mine);
            json_decref(ev);
        }
    /* v10 and v11 differ on the member event (origin, membership,
     * prev_state, third_party_invite), so the rules really are applied. */
    assert_string_not_equal(theirs[0], theirs[n]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_member_v10),
        cmocka_unit_test(test_member_v11_v12),
        cmocka_unit_test(test_member_tpi_without_signed),
        cmocka_unit_test(test_create),
        cmocka_unit_test(test_power_levels),
        cmocka_unit_test(test_redaction_event),
        cmocka_unit_test(test_other_types),
        cmocka_unit_test(test_hostile_shapes),
        cmocka_unit_test(test_redaction_target),
        cmocka_unit_test(test_redact_out_of_memory),
        cmocka_unit_test(test_event_id_known),
        cmocka_unit_test(test_event_id_content_not_hashed),
        cmocka_unit_test(test_room_id_from_create),
        cmocka_unit_test(test_event_id_crosscheck),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
