/*
 * test_filter: Matrix filters (client-server-api "Filtering"; schemas
 * data/api/client-server/definitions/sync_filter.yaml, room_event_filter.yaml,
 * event_filter.yaml), the /sync `filter` parameter (sync.yaml), the
 * /messages RoomEventFilter (message_pagination.yaml) and event_fields
 * (appendices "Dot-separated property paths").
 *
 * The spec's own example filter (filter.yaml, POST /user/{userId}/filter
 * request example) is read from CHAPPE_SPEC_DIR and must parse and behave as
 * its keys say.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sync/filter.h"

/* ---- helpers ------------------------------------------------------------ */

static json_t *js(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);

    if (v == NULL)
        fail_msg("bad test JSON: %s: %s", err.text, text);
    return v;
}

static struct sync_filter *filter_ok(const char *text)
{
    json_t *v = js(text);
    enum filter_error code = FILTER_ERR_OOM;
    char err[160] = "";
    struct sync_filter *f = filter_parse_ex(v, &code, err, sizeof err);

    json_decref(v);
    if (f == NULL)
        fail_msg("filter refused (%s): %s", err, text);
    assert_int_equal(code, FILTER_OK);
    return f;
}

/* The filter must be refused with this code and a message holding `key`. */
static void filter_bad(const char *text, enum filter_error want, const char *key)
{
    json_t *v = js(text);
    enum filter_error code = FILTER_OK;
    char err[160] = "";
    struct sync_filter *f = filter_parse_ex(v, &code, err, sizeof err);

    json_decref(v);
    if (f != NULL) {
        filter_free(f);
        fail_msg("filter accepted: %s", text);
    }
    if (code != want)
        fail_msg("code %d, want %d (%s) for %s", code, want, err, text);
    if (strstr(err, key) == NULL)
        fail_msg("message \"%s\" does not name \"%s\" for %s", err, key, text);
}

static bool allowed(const struct sync_filter *f, enum filter_part_kind k, const char *event)
{
    json_t *ev = js(event);
    bool r = filter_event_allowed(filter_part(f, k), ev);

    json_decref(ev);
    return r;
}

static bool part_allows(const struct event_filter_part *p, const char *event)
{
    json_t *ev = js(event);
    bool r = filter_event_allowed(p, ev);

    json_decref(ev);
    return r;
}

/* Does a timeline `types` list [pattern] keep an event of this type? */
static bool type_matches(const char *pattern, const char *type)
{
    json_t *flt = json_pack("{s:{s:{s:[s]}}}", "room", "timeline", "types", pattern);
    json_t *ev = json_pack("{s:s}", "type", type);
    struct sync_filter *f;
    char err[160];
    bool r;

    assert_non_null(flt);
    assert_non_null(ev);
    f = filter_parse(flt, err, sizeof err);
    if (f == NULL)
        fail_msg("%s", err);
    r = filter_event_allowed(filter_part(f, FILTER_PART_TIMELINE), ev);
    filter_free(f);
    json_decref(flt);
    json_decref(ev);
    return r;
}

static char *read_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    char *buf;
    long n;

    if (fp == NULL)
        return NULL;
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    rewind(fp);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

/* ---- the spec's example -------------------------------------------------- */

/* filter.yaml gives the request example as a JSON flow mapping after
 * "example: {"; cut it out by brace depth (its strings hold no braces). */
static json_t *spec_example_filter(void)
{
    const char *dir = getenv("CHAPPE_SPEC_DIR");
    char path[1024], *text, *start, *p;
    int depth = 0;
    json_t *v;

    if (dir == NULL)
        return NULL;
    snprintf(path, sizeof path, "%s/data/api/client-server/filter.yaml", dir);
    text = read_file(path);
    if (text == NULL)
        fail_msg("cannot read %s", path);
    start = strstr(text, "example: {");
    assert_non_null(start);
    start += strlen("example: ");
    for (p = start; *p != '\0'; p++) {
        if (*p == '{')
            depth++;
        else if (*p == '}' && --depth == 0)
            break;
    }
    assert_int_equal(*p, '}');
    p[1] = '\0';
    v = js(start);
    free(text);
    return v;
}

static void test_spec_example(void **state)
{
    json_t *v = spec_example_filter();
    char err[160] = "";
    struct sync_filter *f;
    const char *spam_msg = "{\"type\":\"m.room.message\",\"sender\":\"@spam:example.com\","
                           "\"room_id\":\"!other:example.com\",\"content\":{}}";

    (void)state;
    if (v == NULL)
        skip(); /* run through meson, which sets CHAPPE_SPEC_DIR */
    f = filter_parse(v, err, sizeof err);
    json_decref(v);
    if (f == NULL)
        fail_msg("spec example refused: %s", err);

    /* "timeline": {"limit": 10, "types": ["m.room.message"], "not_rooms":
     * ["!726s6s6q:example.com"], "not_senders": ["@spam:example.com"]} */
    assert_int_equal(filter_timeline_limit(f), 10);
    assert_true(allowed(f, FILTER_PART_TIMELINE,
        "{\"type\":\"m.room.message\",\"sender\":\"@bob:example.com\",\"room_id\":\"!other:example.com\"}"));
    assert_false(allowed(f, FILTER_PART_TIMELINE, spam_msg));
    assert_false(allowed(f, FILTER_PART_TIMELINE,
        "{\"type\":\"m.room.message\",\"sender\":\"@bob:example.com\",\"room_id\":\"!726s6s6q:example.com\"}"));
    assert_false(allowed(f, FILTER_PART_TIMELINE,
        "{\"type\":\"m.room.member\",\"sender\":\"@bob:example.com\",\"room_id\":\"!other:example.com\"}"));
    /* "state": {"types": ["m.room.*"], ...}: the wildcard takes any state type */
    assert_true(allowed(f, FILTER_PART_STATE,
        "{\"type\":\"m.room.member\",\"sender\":\"@bob:example.com\",\"room_id\":\"!other:example.com\"}"));
    assert_false(allowed(f, FILTER_PART_STATE,
        "{\"type\":\"m.reaction\",\"sender\":\"@bob:example.com\",\"room_id\":\"!other:example.com\"}"));
    /* "ephemeral": {"types": ["m.receipt", "m.typing"], ...} */
    assert_true(allowed(f, FILTER_PART_EPHEMERAL, "{\"type\":\"m.typing\",\"content\":{}}"));
    assert_false(allowed(f, FILTER_PART_EPHEMERAL, "{\"type\":\"m.fully_read\",\"content\":{}}"));
    /* "presence": {"types": ["m.presence"], "not_senders": ["@alice:example.com"]} */
    assert_true(allowed(f, FILTER_PART_PRESENCE, "{\"type\":\"m.presence\",\"sender\":\"@bob:example.com\"}"));
    assert_false(allowed(f, FILTER_PART_PRESENCE, "{\"type\":\"m.presence\",\"sender\":\"@alice:example.com\"}"));
    /* global account_data is not in the example: all allowed */
    assert_true(allowed(f, FILTER_PART_ACCOUNT_DATA, "{\"type\":\"m.direct\",\"content\":{}}"));
    /* "event_format": "client", "event_fields": ["type", "content", "sender"] */
    assert_int_equal(filter_event_format(f), FILTER_FORMAT_CLIENT);
    assert_true(filter_has_event_fields(f));
    {
        json_t *ev = js("{\"type\":\"m.room.message\",\"sender\":\"@b:x\",\"content\":{\"body\":\"hi\"},"
                        "\"event_id\":\"$e\",\"origin_server_ts\":1,\"unsigned\":{\"age\":3}}");
        json_t *want = js("{\"type\":\"m.room.message\",\"sender\":\"@b:x\",\"content\":{\"body\":\"hi\"}}");
        json_t *got = filter_apply_event_fields(ev, f);

        assert_non_null(got);
        assert_true(json_equal(got, want));
        json_decref(ev);
        json_decref(want);
        json_decref(got);
    }
    filter_free(f);
}

/* message_pagination.yaml, `filter`: "A JSON RoomEventFilter to filter
 * returned events with." example '{"contains_url":true}' */
static void test_messages_filter(void **state)
{
    struct event_filter_part *p = NULL;
    char err[160] = "";

    (void)state;
    assert_int_equal(filter_room_event_parse_text("{\"contains_url\":true}", &p, err, sizeof err),
                     FILTER_OK);
    assert_non_null(p);
    assert_true(part_allows(p, "{\"type\":\"m.room.message\",\"content\":{\"url\":\"mxc://a/b\"}}"));
    assert_false(part_allows(p, "{\"type\":\"m.room.message\",\"content\":{\"body\":\"x\"}}"));
    assert_int_equal(filter_part_limit(p), FILTER_LIMIT_DEFAULT);
    filter_part_free(p);

    assert_int_equal(filter_room_event_parse_text(
        "{\"lazy_load_members\":true,\"include_redundant_members\":true,\"limit\":3,"
        "\"not_senders\":[\"@x:y\"],\"rooms\":[\"!r\"]}", &p, err, sizeof err), FILTER_OK);
    assert_true(filter_part_lazy_load_members(p));
    assert_true(filter_part_include_redundant_members(p));
    assert_int_equal(filter_part_limit(p), 3);
    assert_false(part_allows(p, "{\"type\":\"t\",\"sender\":\"@x:y\",\"room_id\":\"!r\"}"));
    assert_true(part_allows(p, "{\"type\":\"t\",\"sender\":\"@z:y\",\"room_id\":\"!r\"}"));
    assert_false(part_allows(p, "{\"type\":\"t\",\"sender\":\"@z:y\",\"room_id\":\"!q\"}"));
    filter_part_free(p);

    /* errors: not JSON, not an object, a bad key; *out stays NULL */
    assert_int_equal(filter_room_event_parse_text("{\"contains_url\":", &p, err, sizeof err),
                     FILTER_ERR_NOT_JSON);
    assert_null(p);
    assert_int_equal(filter_room_event_parse_text("[1]", &p, err, sizeof err), FILTER_ERR_BAD_JSON);
    assert_null(p);
    assert_int_equal(filter_room_event_parse_text("{\"contains_url\":\"yes\"}", &p, err, sizeof err),
                     FILTER_ERR_BAD_JSON);
    assert_non_null(strstr(err, "contains_url"));
    assert_null(p);
    assert_int_equal(filter_room_event_parse_text("{\"senders\":[\"bob\"]}", &p, err, sizeof err),
                     FILTER_ERR_INVALID_PARAM);
    assert_non_null(strstr(err, "senders[0]"));
    assert_int_equal(filter_room_event_parse_text(NULL, &p, err, sizeof err), FILTER_ERR_NOT_JSON);
}

/* ---- schema validation, key by key ---------------------------------------- */

static void test_schema_errors(void **state)
{
    static const struct { const char *json; enum filter_error code; const char *key; } cases[] = {
        { "[]", FILTER_ERR_BAD_JSON, "filter" },
        { "\"x\"", FILTER_ERR_BAD_JSON, "filter" },
        { "{\"room\":[]}", FILTER_ERR_BAD_JSON, "room" },
        { "{\"room\":{\"rooms\":\"!a:b\"}}", FILTER_ERR_BAD_JSON, "room.rooms" },
        { "{\"room\":{\"rooms\":[1]}}", FILTER_ERR_BAD_JSON, "room.rooms[0]" },
        { "{\"room\":{\"rooms\":[\"!a:b\",\"a:b\"]}}", FILTER_ERR_INVALID_PARAM, "room.rooms[1]" },
        { "{\"room\":{\"not_rooms\":[\"#alias:b\"]}}", FILTER_ERR_INVALID_PARAM, "room.not_rooms[0]" },
        { "{\"room\":{\"not_rooms\":[\"!\"]}}", FILTER_ERR_INVALID_PARAM, "room.not_rooms[0]" },
        { "{\"room\":{\"include_leave\":\"true\"}}", FILTER_ERR_BAD_JSON, "room.include_leave" },
        { "{\"room\":{\"include_leave\":1}}", FILTER_ERR_BAD_JSON, "room.include_leave" },
        { "{\"room\":{\"timeline\":5}}", FILTER_ERR_BAD_JSON, "room.timeline" },
        { "{\"room\":{\"timeline\":{\"limit\":\"10\"}}}", FILTER_ERR_BAD_JSON, "room.timeline.limit" },
        { "{\"room\":{\"timeline\":{\"limit\":10.5}}}", FILTER_ERR_BAD_JSON, "room.timeline.limit" },
        { "{\"room\":{\"timeline\":{\"limit\":null}}}", FILTER_ERR_BAD_JSON, "room.timeline.limit" },
        { "{\"room\":{\"timeline\":{\"types\":\"m.*\"}}}", FILTER_ERR_BAD_JSON, "room.timeline.types" },
        { "{\"room\":{\"timeline\":{\"types\":[\"a\",null]}}}", FILTER_ERR_BAD_JSON, "room.timeline.types[1]" },
        { "{\"room\":{\"timeline\":{\"not_types\":[{}]}}}", FILTER_ERR_BAD_JSON, "room.timeline.not_types[0]" },
        { "{\"room\":{\"timeline\":{\"senders\":[\"bob\"]}}}", FILTER_ERR_INVALID_PARAM, "room.timeline.senders[0]" },
        { "{\"room\":{\"timeline\":{\"senders\":[\"@\"]}}}", FILTER_ERR_INVALID_PARAM, "room.timeline.senders[0]" },
        { "{\"room\":{\"timeline\":{\"not_senders\":[true]}}}", FILTER_ERR_BAD_JSON, "room.timeline.not_senders[0]" },
        { "{\"room\":{\"timeline\":{\"rooms\":{}}}}", FILTER_ERR_BAD_JSON, "room.timeline.rooms" },
        { "{\"room\":{\"timeline\":{\"not_rooms\":[\"x\"]}}}", FILTER_ERR_INVALID_PARAM, "room.timeline.not_rooms[0]" },
        { "{\"room\":{\"timeline\":{\"contains_url\":\"true\"}}}", FILTER_ERR_BAD_JSON, "room.timeline.contains_url" },
        { "{\"room\":{\"timeline\":{\"unread_thread_notifications\":0}}}", FILTER_ERR_BAD_JSON,
          "room.timeline.unread_thread_notifications" },
        { "{\"room\":{\"state\":{\"lazy_load_members\":1}}}", FILTER_ERR_BAD_JSON, "room.state.lazy_load_members" },
        { "{\"room\":{\"state\":{\"include_redundant_members\":null}}}", FILTER_ERR_BAD_JSON,
          "room.state.include_redundant_members" },
        { "{\"room\":{\"state\":[]}}", FILTER_ERR_BAD_JSON, "room.state" },
        { "{\"room\":{\"ephemeral\":{\"types\":[5]}}}", FILTER_ERR_BAD_JSON, "room.ephemeral.types[0]" },
        { "{\"room\":{\"account_data\":{\"limit\":true}}}", FILTER_ERR_BAD_JSON, "room.account_data.limit" },
        { "{\"account_data\":\"all\"}", FILTER_ERR_BAD_JSON, "account_data" },
        { "{\"account_data\":{\"types\":[1]}}", FILTER_ERR_BAD_JSON, "account_data.types[0]" },
        { "{\"presence\":{\"senders\":[\"alice\"]}}", FILTER_ERR_INVALID_PARAM, "presence.senders[0]" },
        { "{\"presence\":{\"limit\":1.0}}", FILTER_ERR_BAD_JSON, "presence.limit" },
        { "{\"event_format\":1}", FILTER_ERR_BAD_JSON, "event_format" },
        { "{\"event_format\":\"raw\"}", FILTER_ERR_INVALID_PARAM, "event_format" },
        { "{\"event_format\":\"Client\"}", FILTER_ERR_INVALID_PARAM, "event_format" },
        { "{\"event_fields\":\"type\"}", FILTER_ERR_BAD_JSON, "event_fields" },
        { "{\"event_fields\":[\"type\",2]}", FILTER_ERR_BAD_JSON, "event_fields[1]" },
        { "{\"event_fields\":[\"\"]}", FILTER_ERR_INVALID_PARAM, "event_fields[0]" },
        /* a NUL inside a string could hide a different value from C code */
        { "{\"room\":{\"timeline\":{\"types\":[\"m.room\\u0000.x\"]}}}", FILTER_ERR_INVALID_PARAM,
          "room.timeline.types[0]" },
        { "{\"event_format\":\"client\\u0000x\"}", FILTER_ERR_INVALID_PARAM, "event_format" },
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        filter_bad(cases[i].json, cases[i].code, cases[i].key);

    assert_string_equal(filter_error_errcode(FILTER_ERR_BAD_JSON), "M_BAD_JSON");
    assert_string_equal(filter_error_errcode(FILTER_ERR_INVALID_PARAM), "M_INVALID_PARAM");
    assert_string_equal(filter_error_errcode(FILTER_ERR_NOT_JSON), "M_NOT_JSON");
    assert_string_equal(filter_error_errcode(FILTER_ERR_OOM), "M_UNKNOWN");
}

/* Bounds: FILTER_LIST_MAX entries per list, FILTER_ENTRY_MAX_LEN per entry,
 * FILTER_FIELD_MAX_LEN per event_fields path. */
static void test_schema_bounds(void **state)
{
    json_t *list = json_array(), *flt;
    char err[160], big[FILTER_FIELD_MAX_LEN + 2];
    struct sync_filter *f;
    enum filter_error code;

    (void)state;
    for (int i = 0; i < FILTER_LIST_MAX; i++) {
        char t[32];

        snprintf(t, sizeof t, "t.%d", i);
        json_array_append_new(list, json_string(t));
    }
    flt = json_pack("{s:{s:{s:O}}}", "room", "timeline", "types", list);
    f = filter_parse(flt, err, sizeof err);
    assert_non_null(f); /* exactly the maximum is fine */
    assert_true(allowed(f, FILTER_PART_TIMELINE, "{\"type\":\"t.999\"}"));
    assert_false(allowed(f, FILTER_PART_TIMELINE, "{\"type\":\"t.1000\"}"));
    filter_free(f);
    json_decref(flt);

    json_array_append_new(list, json_string("one.more"));
    flt = json_pack("{s:{s:{s:O}}}", "room", "timeline", "types", list);
    assert_null(filter_parse_ex(flt, &code, err, sizeof err));
    assert_int_equal(code, FILTER_ERR_INVALID_PARAM);
    assert_non_null(strstr(err, "room.timeline.types"));
    json_decref(flt);
    json_decref(list);

    /* a type of 255 bytes is fine, 256 is not */
    memset(big, 'a', sizeof big);
    big[FILTER_ENTRY_MAX_LEN] = '\0';
    flt = json_pack("{s:{s:[s]}}", "presence", "not_types", big);
    f = filter_parse(flt, err, sizeof err);
    assert_non_null(f);
    filter_free(f);
    json_decref(flt);
    big[FILTER_ENTRY_MAX_LEN] = 'a';
    big[FILTER_ENTRY_MAX_LEN + 1] = '\0';
    flt = json_pack("{s:{s:[s]}}", "presence", "not_types", big);
    assert_null(filter_parse_ex(flt, &code, err, sizeof err));
    assert_int_equal(code, FILTER_ERR_INVALID_PARAM);
    assert_non_null(strstr(err, "presence.not_types[0]"));
    json_decref(flt);

    /* event_fields paths: up to FILTER_FIELD_MAX_LEN */
    memset(big, 'a', sizeof big);
    big[FILTER_FIELD_MAX_LEN] = '\0';
    flt = json_pack("{s:[s]}", "event_fields", big);
    f = filter_parse(flt, err, sizeof err);
    assert_non_null(f);
    filter_free(f);
    json_decref(flt);
    big[FILTER_FIELD_MAX_LEN] = 'a';
    big[FILTER_FIELD_MAX_LEN + 1] = '\0';
    flt = json_pack("{s:[s]}", "event_fields", big);
    assert_null(filter_parse_ex(flt, &code, err, sizeof err));
    assert_int_equal(code, FILTER_ERR_INVALID_PARAM);
    json_decref(flt);

    /* and up to FILTER_FIELD_MAX_SEGS segments: "a.a.a...". Escaped dots
     * ("a\\.") do not separate, so they do not count. */
    for (int segs = FILTER_FIELD_MAX_SEGS; segs <= FILTER_FIELD_MAX_SEGS + 1; segs++) {
        size_t k = 0;

        for (int i = 0; i < segs; i++) {
            if (i > 0)
                big[k++] = '.';
            big[k++] = 'a';
        }
        big[k] = '\0';
        flt = json_pack("{s:[s,s]}", "event_fields", "type", big);
        f = filter_parse_ex(flt, &code, err, sizeof err);
        if (segs == FILTER_FIELD_MAX_SEGS) {
            assert_non_null(f);
            filter_free(f);
        } else {
            assert_null(f);
            assert_int_equal(code, FILTER_ERR_INVALID_PARAM);
            assert_non_null(strstr(err, "event_fields[1]"));
        }
        json_decref(flt);
    }
    for (int i = 0; i < 300; i++)
        memcpy(big + 3 * i, "a\\.", 3);
    big[900] = '\0';
    flt = json_pack("{s:[s]}", "event_fields", big);
    f = filter_parse(flt, err, sizeof err);
    assert_non_null(f);
    filter_free(f);
    json_decref(flt);
}

/* The schema allows additional properties; EventFilter (presence, global
 * account_data) has no room keys, so those are ignored there, even if they
 * would be invalid in a RoomEventFilter. */
static void test_schema_unknown_keys(void **state)
{
    struct sync_filter *f;

    (void)state;
    f = filter_ok("{\"org.example.future\":[1,{}],\"room\":{\"org.x\":5,\"timeline\":{\"org.y\":null}},"
                  "\"presence\":{\"rooms\":5,\"contains_url\":\"x\",\"lazy_load_members\":1}}");
    assert_true(allowed(f, FILTER_PART_PRESENCE, "{\"type\":\"m.presence\",\"sender\":\"@a:b\"}"));
    filter_free(f);
    /* an empty filter is the default filter */
    f = filter_ok("{}");
    assert_int_equal(filter_timeline_limit(f), FILTER_LIMIT_DEFAULT);
    assert_false(filter_include_leave(f));
    assert_false(filter_has_event_fields(f));
    filter_free(f);
}

/* ---- matching -------------------------------------------------------------- */

/* event_filter.yaml, types: "A `*` can be used as a wildcard to match any
 * sequence of characters." */
static void test_wildcards(void **state)
{
    char pat[FILTER_ENTRY_MAX_LEN + 1], type[FILTER_ENTRY_MAX_LEN + 1];
    clock_t t0;

    (void)state;
    assert_true(type_matches("m.room.message", "m.room.message"));
    assert_false(type_matches("m.room.message", "m.room.messages"));
    assert_false(type_matches("m.room.message", "m.room.messag"));
    assert_true(type_matches("m.*", "m.room.message"));
    assert_true(type_matches("m.*", "m."));
    assert_false(type_matches("m.*", "m"));
    assert_false(type_matches("m.*", "org.m.x"));
    assert_true(type_matches("*", "anything"));
    assert_true(type_matches("*", ""));
    assert_true(type_matches("**", "x"));
    assert_true(type_matches("*.message", "m.room.message"));
    assert_false(type_matches("*.message", "m.room.message.x"));
    assert_true(type_matches("m.*.message", "m.room.message"));
    assert_true(type_matches("m.*.message", "m..message"));
    assert_false(type_matches("m.*.message", "m.message"));
    assert_true(type_matches("a*b*c", "aXbYc"));
    assert_true(type_matches("a*b*c", "abc"));
    assert_true(type_matches("a*b*c", "abbbcbc"));
    assert_false(type_matches("a*b*c", "acb"));
    assert_false(type_matches("a*b*c", "abcx"));
    /* prefix and suffix must not share characters */
    assert_false(type_matches("ab*ba", "aba"));
    assert_true(type_matches("ab*ba", "abba"));
    /* middle pieces must fit between prefix and suffix */
    assert_false(type_matches("a*bc*c", "abc"));
    assert_true(type_matches("a*bc*c", "abcc"));
    /* '?' and other glob syntax have no meaning */
    assert_false(type_matches("m.room.?", "m.room.x"));
    assert_true(type_matches("m.room.[a]", "m.room.[a]"));

    /* A hostile pattern "*a*a*...*b" against 255 a's: no match, and fast
     * (the naive backtracking matcher is exponential here). */
    for (int i = 0; i < FILTER_ENTRY_MAX_LEN - 1; i++)
        pat[i] = (i % 2 == 0) ? '*' : 'a';
    pat[FILTER_ENTRY_MAX_LEN - 1] = 'b';
    pat[FILTER_ENTRY_MAX_LEN] = '\0';
    memset(type, 'a', FILTER_ENTRY_MAX_LEN);
    type[FILTER_ENTRY_MAX_LEN] = '\0';
    t0 = clock();
    for (int i = 0; i < 200; i++)
        assert_false(type_matches(pat, type));
    type[FILTER_ENTRY_MAX_LEN - 1] = 'b';
    assert_true(type_matches(pat, type));
    assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 5.0);
}

/* "A matching type will be excluded even if it is listed in the types
 * filter", and the same for senders and rooms. */
static void test_not_precedence(void **state)
{
    struct sync_filter *f;

    (void)state;
    f = filter_ok("{\"room\":{\"rooms\":[\"!a:x\",\"!b:x\"],\"not_rooms\":[\"!b:x\"],"
                  "\"timeline\":{\"types\":[\"m.*\"],\"not_types\":[\"m.room.message\"],"
                  "\"senders\":[\"@a:x\",\"@b:x\"],\"not_senders\":[\"@b:x\"],"
                  "\"rooms\":[\"!a:x\",\"!c:x\"],\"not_rooms\":[\"!c:x\"]}}}");
    /* top-level rooms (room.rooms / room.not_rooms) */
    assert_true(filter_room_allowed(f, "!a:x"));
    assert_false(filter_room_allowed(f, "!b:x"));
    assert_false(filter_room_allowed(f, "!z:x"));
    assert_false(filter_room_allowed(f, NULL));
    /* types */
    assert_true(allowed(f, FILTER_PART_TIMELINE, "{\"type\":\"m.room.member\",\"sender\":\"@a:x\",\"room_id\":\"!a:x\"}"));
    assert_false(allowed(f, FILTER_PART_TIMELINE, "{\"type\":\"m.room.message\",\"sender\":\"@a:x\",\"room_id\":\"!a:x\"}"));
    assert_false(allowed(f, FILTER_PART_TIMELINE, "{\"type\":\"org.x\",\"sender\":\"@a:x\",\"room_id\":\"!a:x\"}"));
    /* senders */
    assert_false(allowed(f, FILTER_PART_TIMELINE, "{\"type\":\"m.room.member\",\"sender\":\"@b:x\",\"room_id\":\"!a:x\"}"));
    assert_false(allowed(f, FILTER_PART_TIMELINE, "{\"type\":\"m.room.member\",\"sender\":\"@c:x\",\"room_id\":\"!a:x\"}"));
    /* part-level rooms */
    assert_false(allowed(f, FILTER_PART_TIMELINE, "{\"type\":\"m.room.member\",\"sender\":\"@a:x\",\"room_id\":\"!c:x\"}"));
    assert_false(allowed(f, FILTER_PART_TIMELINE, "{\"type\":\"m.room.member\",\"sender\":\"@a:x\",\"room_id\":\"!d:x\"}"));
    /* other parts are untouched */
    assert_true(allowed(f, FILTER_PART_STATE, "{\"type\":\"m.room.message\",\"sender\":\"@b:x\",\"room_id\":\"!c:x\"}"));
    filter_free(f);

    /* a not_types wildcard beats an exact types entry */
    f = filter_ok("{\"room\":{\"timeline\":{\"types\":[\"m.room.message\"],\"not_types\":[\"m.room.*\"]}}}");
    assert_false(allowed(f, FILTER_PART_TIMELINE, "{\"type\":\"m.room.message\"}"));
    filter_free(f);
}

/* Absent list: all allowed. Empty list: nothing allowed. */
static void test_absent_vs_empty(void **state)
{
    struct sync_filter *f;

    (void)state;
    f = filter_ok("{\"room\":{\"rooms\":[],\"timeline\":{\"types\":[]},\"state\":{\"senders\":[]},"
                  "\"ephemeral\":{\"rooms\":[]},\"account_data\":{\"not_types\":[\"*\"]}},"
                  "\"presence\":{\"not_types\":[]}}");
    assert_false(filter_room_allowed(f, "!a:x"));
    assert_false(allowed(f, FILTER_PART_TIMELINE, "{\"type\":\"m.room.message\"}"));
    assert_true(filter_part_blocks_all(filter_part(f, FILTER_PART_TIMELINE)));
    assert_false(allowed(f, FILTER_PART_STATE, "{\"type\":\"m.room.name\",\"sender\":\"@a:x\"}"));
    assert_true(filter_part_blocks_all(filter_part(f, FILTER_PART_STATE)));
    assert_true(filter_part_blocks_all(filter_part(f, FILTER_PART_EPHEMERAL)));
    assert_false(allowed(f, FILTER_PART_ROOM_ACCOUNT_DATA, "{\"type\":\"m.tag\"}"));
    assert_true(filter_part_blocks_all(filter_part(f, FILTER_PART_ROOM_ACCOUNT_DATA)));
    /* an empty not_ list excludes nothing */
    assert_true(allowed(f, FILTER_PART_PRESENCE, "{\"type\":\"m.presence\",\"sender\":\"@a:x\"}"));
    assert_false(filter_part_blocks_all(filter_part(f, FILTER_PART_PRESENCE)));
    assert_false(filter_part_blocks_all(filter_part(f, FILTER_PART_ACCOUNT_DATA)));
    filter_free(f);

    /* no filter at all (NULL): everything, defaults everywhere */
    assert_true(filter_room_allowed(NULL, "!a:x"));
    assert_true(allowed(NULL, FILTER_PART_TIMELINE, "{\"type\":\"x\"}"));
    assert_true(part_allows(NULL, "{\"type\":\"x\"}"));
    assert_false(filter_part_blocks_all(NULL));
    assert_false(filter_part_blocks_all(filter_part(NULL, FILTER_PART_STATE)));
    assert_int_equal(filter_timeline_limit(NULL), FILTER_LIMIT_DEFAULT);
    assert_false(filter_lazy_load_members(NULL));
    assert_false(filter_include_redundant_members(NULL));
    assert_false(filter_unread_thread_notifications(NULL));
    assert_false(filter_include_leave(NULL));
    assert_int_equal(filter_event_format(NULL), FILTER_FORMAT_CLIENT);
    assert_false(filter_has_event_fields(NULL));
}

/* Events missing a field; sender from content.user_id; room given apart. */
static void test_missing_fields(void **state)
{
    struct sync_filter *f;
    const struct event_filter_part *p;
    json_t *ev;

    (void)state;
    f = filter_ok("{\"room\":{\"timeline\":{\"types\":[\"*\"]},\"state\":{\"not_types\":[\"*\"]},"
                  "\"ephemeral\":{\"senders\":[\"@a:x\"],\"rooms\":[\"!r:x\"]},"
                  "\"account_data\":{\"not_senders\":[\"@a:x\"],\"not_rooms\":[\"!r:x\"]}}}");
    /* no type: a types list never matches it, a not_types list never excludes it */
    assert_false(allowed(f, FILTER_PART_TIMELINE, "{\"content\":{}}"));
    assert_false(allowed(f, FILTER_PART_TIMELINE, "{\"type\":5}"));
    assert_true(allowed(f, FILTER_PART_TIMELINE, "{\"type\":\"\"}"));
    assert_true(allowed(f, FILTER_PART_STATE, "{\"content\":{}}"));
    assert_false(allowed(f, FILTER_PART_STATE, "{\"type\":\"x\"}"));
    /* not an object */
    assert_false(allowed(f, FILTER_PART_STATE, "[]"));
    assert_false(allowed(NULL, FILTER_PART_STATE, "\"x\""));
    assert_false(part_allows(NULL, "[]"));

    /* sender from content.user_id when there is no sender */
    p = filter_part(f, FILTER_PART_EPHEMERAL);
    ev = js("{\"type\":\"m.typing\",\"content\":{\"user_id\":\"@a:x\"}}");
    assert_true(filter_event_allowed_in_room(p, ev, "!r:x"));
    assert_false(filter_event_allowed_in_room(p, ev, "!s:x"));
    assert_false(filter_event_allowed_in_room(p, ev, NULL));
    assert_false(filter_event_allowed(p, ev)); /* no room_id in the event */
    json_decref(ev);
    ev = js("{\"type\":\"m.typing\",\"sender\":\"@b:x\",\"content\":{\"user_id\":\"@a:x\"}}");
    assert_false(filter_event_allowed_in_room(p, ev, "!r:x")); /* sender wins over content */
    json_decref(ev);

    /* not_ lists never exclude what is missing */
    p = filter_part(f, FILTER_PART_ROOM_ACCOUNT_DATA);
    ev = js("{\"type\":\"m.tag\",\"content\":[]}");
    assert_true(filter_event_allowed_in_room(p, ev, NULL));
    assert_false(filter_event_allowed_in_room(p, ev, "!r:x"));
    json_decref(ev);
    filter_free(f);
}

/* room_event_filter.yaml, contains_url: "If true, includes only events with
 * a url key in their content. If false, excludes those events. If omitted,
 * url key is not considered for filtering." (a url is a string, as Synapse) */
static void test_contains_url(void **state)
{
    struct sync_filter *f;
    const char *with = "{\"type\":\"m.room.message\",\"content\":{\"url\":\"mxc://x/y\"}}";
    const char *num = "{\"type\":\"m.room.message\",\"content\":{\"url\":5}}";
    const char *without = "{\"type\":\"m.room.message\",\"content\":{\"body\":\"b\"}}";
    const char *nocontent = "{\"type\":\"m.room.message\"}";

    (void)state;
    f = filter_ok("{\"room\":{\"timeline\":{\"contains_url\":true},\"state\":{\"contains_url\":false}}}");
    assert_true(allowed(f, FILTER_PART_TIMELINE, with));
    assert_false(allowed(f, FILTER_PART_TIMELINE, num));
    assert_false(allowed(f, FILTER_PART_TIMELINE, without));
    assert_false(allowed(f, FILTER_PART_TIMELINE, nocontent));
    assert_false(allowed(f, FILTER_PART_STATE, with));
    assert_true(allowed(f, FILTER_PART_STATE, num));
    assert_true(allowed(f, FILTER_PART_STATE, without));
    assert_true(allowed(f, FILTER_PART_STATE, nocontent));
    /* omitted */
    assert_true(allowed(f, FILTER_PART_EPHEMERAL, with));
    assert_true(allowed(f, FILTER_PART_EPHEMERAL, without));
    filter_free(f);
}

/* ---- limit and flags ------------------------------------------------------- */

static void test_limits(void **state)
{
    static const struct { const char *json; int part, timeline; } cases[] = {
        { "{}", FILTER_LIMIT_DEFAULT, FILTER_LIMIT_DEFAULT },
        { "{\"limit\":1}", 1, 1 },
        { "{\"limit\":50}", 50, 50 },
        { "{\"limit\":100}", 100, 100 },
        { "{\"limit\":101}", 101, FILTER_TIMELINE_LIMIT_MAX },
        { "{\"limit\":1000}", 1000, FILTER_TIMELINE_LIMIT_MAX },
        { "{\"limit\":1001}", FILTER_LIMIT_MAX, FILTER_TIMELINE_LIMIT_MAX },
        { "{\"limit\":9223372036854775807}", FILTER_LIMIT_MAX, FILTER_TIMELINE_LIMIT_MAX },
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[160];
        struct sync_filter *f;

        snprintf(text, sizeof text, "{\"room\":{\"timeline\":%s,\"state\":%s},\"presence\":%s}",
                 cases[i].json, cases[i].json, cases[i].json);
        f = filter_ok(text);
        assert_int_equal(filter_timeline_limit(f), cases[i].timeline);
        assert_int_equal(filter_part_limit(filter_part(f, FILTER_PART_TIMELINE)), cases[i].part);
        assert_int_equal(filter_part_limit(filter_part(f, FILTER_PART_STATE)), cases[i].part);
        assert_int_equal(filter_part_limit(filter_part(f, FILTER_PART_PRESENCE)), cases[i].part);
        assert_int_equal(filter_part_limit(filter_part(f, FILTER_PART_EPHEMERAL)), FILTER_LIMIT_DEFAULT);
        filter_free(f);
    }
    /* sync_filter.yaml: limit "must be an integer greater than 0" */
    {
        static const char *const refused[] = {
            "{\"room\":{\"timeline\":{\"limit\":0}}}",
            "{\"room\":{\"state\":{\"limit\":-5}}}",
            "{\"presence\":{\"limit\":-9223372036854775807}}",
        };
        for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
            json_t *j = json_loads(refused[i], 0, NULL);
            enum filter_error code = FILTER_OK;
            char err[128];
            assert_null(filter_parse_ex(j, &code, err, sizeof err));
            assert_int_equal(code, FILTER_ERR_INVALID_PARAM);
            assert_non_null(strstr(err, "limit"));
            json_decref(j);
        }
    }
}

static void test_flags(void **state)
{
    struct sync_filter *f;

    (void)state;
    f = filter_ok("{\"room\":{\"include_leave\":true,"
                  "\"state\":{\"lazy_load_members\":true,\"include_redundant_members\":true},"
                  "\"timeline\":{\"unread_thread_notifications\":true}},"
                  "\"event_format\":\"federation\"}");
    assert_true(filter_include_leave(f));
    assert_true(filter_lazy_load_members(f));
    assert_true(filter_include_redundant_members(f));
    assert_true(filter_unread_thread_notifications(f));
    assert_int_equal(filter_event_format(f), FILTER_FORMAT_FEDERATION);
    filter_free(f);

    /* lazy loading is read from room.state only (see filter.h) */
    f = filter_ok("{\"room\":{\"include_leave\":false,\"timeline\":{\"lazy_load_members\":true}}}");
    assert_false(filter_lazy_load_members(f));
    assert_true(filter_part_lazy_load_members(filter_part(f, FILTER_PART_TIMELINE)));
    assert_false(filter_include_leave(f));
    assert_false(filter_unread_thread_notifications(f));
    assert_int_equal(filter_event_format(f), FILTER_FORMAT_CLIENT);
    filter_free(f);

    /* include_redundant_members "Does not apply unless lazy_load_members is
     * true" (room_event_filter.yaml) */
    f = filter_ok("{\"room\":{\"state\":{\"include_redundant_members\":true}}}");
    assert_false(filter_lazy_load_members(f));
    assert_false(filter_include_redundant_members(f));
    filter_free(f);
}

/* ---- the /sync filter parameter -------------------------------------------- */

static void test_parse_text(void **state)
{
    struct sync_filter *f = (struct sync_filter *)1;
    enum filter_error code = FILTER_OK;
    char err[160], *big, *deep;

    (void)state;
    /* sync.yaml: "detect whether it is an ID or a JSON object by whether the
     * first character is a "{" open brace" */
    assert_int_equal(filter_parse_text("{\"room\":{\"timeline\":{\"limit\":3}}}", &f, &code, err, sizeof err),
                     FILTER_TEXT_INLINE);
    assert_non_null(f);
    assert_int_equal(code, FILTER_OK);
    assert_int_equal(filter_timeline_limit(f), 3);
    filter_free(f);

    assert_int_equal(filter_parse_text("66696p746572", &f, &code, err, sizeof err), FILTER_TEXT_ID);
    assert_null(f);
    assert_int_equal(code, FILTER_OK);
    assert_int_equal(filter_parse_text("0", &f, &code, err, sizeof err), FILTER_TEXT_ID);

    /* neither */
    static const char *bad_ids[] = { "", " {}", "[1]", "a b", "id/1", "\"x\"" };
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        code = FILTER_OK;
        assert_int_equal(filter_parse_text(bad_ids[i], &f, &code, err, sizeof err), FILTER_TEXT_ERROR);
        assert_null(f);
        assert_int_equal(code, FILTER_ERR_INVALID_PARAM);
    }
    assert_int_equal(filter_parse_text(NULL, &f, &code, err, sizeof err), FILTER_TEXT_ERROR);

    /* inline but broken */
    assert_int_equal(filter_parse_text("{\"room\":", &f, &code, err, sizeof err), FILTER_TEXT_ERROR);
    assert_int_equal(code, FILTER_ERR_NOT_JSON);
    assert_int_equal(filter_parse_text("{\"a\":1,\"a\":2}", &f, &code, err, sizeof err), FILTER_TEXT_ERROR);
    assert_int_equal(code, FILTER_ERR_NOT_JSON); /* duplicate keys: cjson_parse */
    assert_int_equal(filter_parse_text("{\"room\":5}", &f, &code, err, sizeof err), FILTER_TEXT_ERROR);
    assert_int_equal(code, FILTER_ERR_BAD_JSON);
    assert_non_null(strstr(err, "room"));
    assert_int_equal(filter_parse_text("{\"event_format\":\"x\"}", &f, &code, err, sizeof err),
                     FILTER_TEXT_ERROR);
    assert_int_equal(code, FILTER_ERR_INVALID_PARAM);
    assert_null(f);

    /* too deep: 40 nested arrays under an unknown key */
    deep = calloc(1, 128);
    strcpy(deep, "{\"x\":");
    for (int i = 0; i < 40; i++)
        strcat(deep, "[");
    for (int i = 0; i < 40; i++)
        strcat(deep, "]");
    strcat(deep, "}");
    assert_int_equal(filter_parse_text(deep, &f, &code, err, sizeof err), FILTER_TEXT_ERROR);
    assert_int_equal(code, FILTER_ERR_BAD_JSON);
    free(deep);

    /* too long: one byte over FILTER_TEXT_MAX_LEN */
    big = malloc(FILTER_TEXT_MAX_LEN + 2);
    assert_non_null(big);
    memset(big, ' ', FILTER_TEXT_MAX_LEN + 1);
    big[0] = '{';
    big[FILTER_TEXT_MAX_LEN - 1] = '}';
    big[FILTER_TEXT_MAX_LEN] = '\0';
    assert_int_equal(filter_parse_text(big, &f, &code, err, sizeof err), FILTER_TEXT_INLINE);
    filter_free(f);
    big[FILTER_TEXT_MAX_LEN - 1] = ' ';
    big[FILTER_TEXT_MAX_LEN] = '}';
    big[FILTER_TEXT_MAX_LEN + 1] = '\0';
    assert_int_equal(filter_parse_text(big, &f, &code, err, sizeof err), FILTER_TEXT_ERROR);
    assert_int_equal(code, FILTER_ERR_INVALID_PARAM);
    free(big);
}

/* ---- event_fields ---------------------------------------------------------- */

static void check_fields(const char *fields, const char *event, const char *want)
{
    char text[512];
    struct sync_filter *f;
    json_t *ev = js(event), *before = json_deep_copy(ev), *exp = js(want), *got;
    char *dump;

    snprintf(text, sizeof text, "{\"event_fields\":%s}", fields);
    f = filter_ok(text);
    got = filter_apply_event_fields(ev, f);
    assert_non_null(got);
    dump = json_dumps(got, JSON_SORT_KEYS);
    if (!json_equal(got, exp))
        fail_msg("event_fields %s: got %s, want %s", fields, dump, want);
    free(dump);
    assert_true(json_equal(ev, before)); /* input untouched */
    /* the result owns its values: changing it leaves the event alone */
    json_object_clear(got);
    assert_true(json_equal(ev, before));
    json_decref(got);
    json_decref(ev);
    json_decref(before);
    json_decref(exp);
    filter_free(f);
}

static void test_event_fields(void **state)
{
    const char *ev = "{\"type\":\"m.room.message\",\"sender\":\"@a:x\",\"event_id\":\"$e\","
                     "\"content\":{\"body\":\"hi\",\"m.relates_to\":{\"rel_type\":\"m.thread\",\"event_id\":\"$r\"},"
                     "\"m\\\\foo\":1,\"a\\\\x\":2,\"\":3,\"n\":{\"d\":{\"e\":4}}},"
                     "\"unsigned\":{\"age\":5}}";

    (void)state;
    /* sync_filter.yaml: "So ['content.body'] will include the body field of
     * the content object." */
    check_fields("[\"content.body\"]", ev, "{\"content\":{\"body\":\"hi\"}}");
    /* appendices "Dot-separated property paths": "a property m.relates_to in
     * the content would be expressed as content.m\.relates_to" */
    check_fields("[\"content.m\\\\.relates_to\"]", ev,
                 "{\"content\":{\"m.relates_to\":{\"rel_type\":\"m.thread\",\"event_id\":\"$r\"}}}");
    /* "a content property named m\foo would be expressed as content.m\\foo" */
    check_fields("[\"content.m\\\\\\\\foo\"]", ev, "{\"content\":{\"m\\\\foo\":1}}");
    /* "a \x would be treated as a literal backslash followed by 'x'" */
    check_fields("[\"content.a\\\\x\"]", ev, "{\"content\":{\"a\\\\x\":2}}");
    /* unescaped, the dot splits: content.m / relates_to does not exist */
    check_fields("[\"content.m.relates_to\"]", ev, "{}");
    /* deep paths, several paths merging into one object */
    check_fields("[\"content.n.d.e\",\"content.body\",\"type\"]", ev,
                 "{\"type\":\"m.room.message\",\"content\":{\"body\":\"hi\",\"n\":{\"d\":{\"e\":4}}}}");
    /* overlapping paths, in either order */
    check_fields("[\"content\",\"content.body\"]", ev,
                 "{\"content\":{\"body\":\"hi\",\"m.relates_to\":{\"rel_type\":\"m.thread\",\"event_id\":\"$r\"},"
                 "\"m\\\\foo\":1,\"a\\\\x\":2,\"\":3,\"n\":{\"d\":{\"e\":4}}}}");
    check_fields("[\"content.n.d\",\"content.n\"]", ev, "{\"content\":{\"n\":{\"d\":{\"e\":4}}}}");
    /* missing paths and paths through non-objects are skipped */
    check_fields("[\"content.nope\",\"sender.x\",\"type.x\",\"unsigned.age.x\",\"sender\"]", ev,
                 "{\"sender\":\"@a:x\"}");
    /* an empty segment is a key "" */
    check_fields("[\"content.\"]", ev, "{\"content\":{\"\":3}}");
    /* a trailing backslash is literal: key "content\" does not exist */
    check_fields("[\"content\\\\\"]", ev, "{}");
    /* an empty list restricts nothing (see filter.h) */
    check_fields("[]", ev, ev);
}

/* Allocation failures inside jansson (the projection and the inline parser
 * allocate through it) give NULL, never a crash or a leak (ASan checks). */
static int alloc_fail_at, alloc_count;

static void *failing_malloc(size_t n)
{
    if (alloc_fail_at > 0 && ++alloc_count == alloc_fail_at)
        return NULL;
    return malloc(n);
}

static void test_oom(void **state)
{
    const char *ev_text = "{\"type\":\"m.room.message\",\"content\":{\"body\":\"hi\",\"n\":{\"d\":[1,2,{\"e\":4}]}}}";
    json_t *ev = js(ev_text), *want = js("{\"type\":\"m.room.message\",\"content\":{\"n\":{\"d\":[1,2,{\"e\":4}]}}}");
    struct sync_filter *f = filter_ok("{\"event_fields\":[\"type\",\"content.n\"]}");
    int failures = 0, done = 0;

    (void)state;
    json_set_alloc_funcs(failing_malloc, free);
    for (alloc_fail_at = 1; alloc_fail_at < 200 && !done; alloc_fail_at++) {
        json_t *got;

        alloc_count = 0;
        got = filter_apply_event_fields(ev, f);
        if (got == NULL) {
            failures++;
            continue;
        }
        assert_true(json_equal(got, want));
        json_decref(got);
        done = alloc_count < alloc_fail_at; /* no allocation was failed: finished */
    }
    assert_true(done);
    assert_true(failures > 3);

    /* the inline parser under the same pressure: an error, never a crash */
    done = 0;
    for (alloc_fail_at = 1; alloc_fail_at < 400 && !done; alloc_fail_at++) {
        struct sync_filter *g = NULL;
        enum filter_error code;
        char err[160];
        enum filter_text_kind k;

        alloc_count = 0;
        k = filter_parse_text("{\"room\":{\"timeline\":{\"types\":[\"a\",\"b\"],\"limit\":4}}}",
                              &g, &code, err, sizeof err);
        if (k == FILTER_TEXT_ERROR) {
            assert_null(g);
            assert_true(code == FILTER_ERR_OOM || code == FILTER_ERR_NOT_JSON); /* see canonical.h */
            continue;
        }
        assert_int_equal(k, FILTER_TEXT_INLINE);
        assert_int_equal(filter_timeline_limit(g), 4);
        filter_free(g);
        done = alloc_count < alloc_fail_at;
    }
    assert_true(done);
    json_set_alloc_funcs(malloc, free);
    alloc_fail_at = 0;

    json_decref(ev);
    json_decref(want);
    filter_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_example),
        cmocka_unit_test(test_messages_filter),
        cmocka_unit_test(test_schema_errors),
        cmocka_unit_test(test_schema_bounds),
        cmocka_unit_test(test_schema_unknown_keys),
        cmocka_unit_test(test_wildcards),
        cmocka_unit_test(test_not_precedence),
        cmocka_unit_test(test_absent_vs_empty),
        cmocka_unit_test(test_missing_fields),
        cmocka_unit_test(test_contains_url),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_parse_text),
        cmocka_unit_test(test_event_fields),
        cmocka_unit_test(test_oom),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
