/*
 * test_push_rules: push rules (spec client-server-api/modules/push.md,
 * data/api/client-server/pushrules.yaml, appendices "Glob-style matching"
 * and "Dot-separated property paths"), v1.19.
 *
 * The default ruleset is compared with the rule definitions read from the
 * spec's own Markdown (CHAPPE_SPEC_DIR), every default rule is exercised
 * by an event it is written for, edits are checked for order and for each
 * error the handler maps, and allocation failure is injected into every
 * entry point (jansson's allocator) to prove state is untouched and
 * nothing leaks. Test JSON is written with ' for ".
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

#include "push/push_internal.h"
#include "push/push_rules.h"

#define ALICE "@alice:example.org"

static json_t *J(const char *text)
{
    char *buf = strdup(text);
    json_error_t err;
    json_t *v;

    assert_non_null(buf);
    for (char *c = buf; *c; c++)
        if (*c == '\'')
            *c = '"';
    v = json_loads(buf, JSON_DECODE_ANY, &err);
    if (v == NULL)
        fail_msg("bad test JSON: %s: %s", err.text, buf);
    free(buf);
    return v;
}

static char *dump(const json_t *v)
{
    return json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
}

static void assert_json(const json_t *got, const char *want_text)
{
    json_t *want = J(want_text);

    if (!json_equal(got, want)) {
        char *g = dump(got), *w = dump(want);

        fail_msg("got %s\nwant %s", g, w);
    }
    json_decref(want);
}

/* ---- The default ruleset against the spec's text ----------------------- */

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = calloc(1, (size_t)n + 1)) != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

/* The ```json blocks between two headings of push.md, with the spec's
 * "[the user's Matrix ID]" replaced by ALICE. */
static json_t *spec_rules_between(const char *md, const char *from, const char *to)
{
    const char *start = strstr(md, from), *end = strstr(md, to), *p;
    json_t *rules = json_array();

    assert_non_null(start);
    assert_non_null(end);
    for (p = strstr(start, "```json\n"); p != NULL && p < end; p = strstr(p, "```json\n")) {
        const char *close = strstr(p + 8, "```");
        char text[4096], *ph;
        size_t len = (size_t)(close - (p + 8));
        json_error_t err;
        json_t *rule;

        assert_true(len < sizeof(text) - 64);
        memcpy(text, p + 8, len);
        text[len] = '\0';
        while ((ph = strstr(text, "[the user's Matrix ID]")) != NULL) {
            memmove(ph + strlen(ALICE), ph + 22, strlen(ph + 22) + 1);
            memcpy(ph, ALICE, strlen(ALICE));
        }
        rule = json_loads(text, 0, &err);
        if (rule == NULL)
            fail_msg("spec rule does not parse: %s", err.text);
        json_array_append_new(rules, rule);
        p = close + 3;
    }
    return rules;
}

/* "Predefined Rules": the spec's listing, in the spec's order, with the
 * spec's definitions; no content, room or sender defaults (the legacy
 * body-matching rules were "removed" in v1.17). */
static void test_default_ruleset_is_the_spec_listing(void **state)
{
    const char *dir = getenv("CHAPPE_SPEC_DIR");
    char path[1024], *md, *text;
    json_t *rs, *want_over, *want_under, *g;

    (void)state;
    if (dir == NULL)
        skip();
    snprintf(path, sizeof(path), "%s/content/client-server-api/modules/push.md", dir);
    md = read_file(path);
    assert_non_null(md);
    want_over = spec_rules_between(md, "##### Default Override Rules",
                                   "##### Default Underride Rules");
    want_under = spec_rules_between(md, "##### Default Underride Rules",
                                    "#### Push Rules: API");
    assert_int_equal(json_array_size(want_over), 10);
    assert_int_equal(json_array_size(want_under), 5);
    rs = push_ruleset_default(ALICE);
    assert_non_null(rs);
    g = json_object_get(rs, "global");
    for (size_t i = 0; i < 10; i++)
        if (!json_equal(json_array_get(json_object_get(g, "override"), i),
                        json_array_get(want_over, i)))
            fail_msg("override rule %zu differs from the spec: %s", i,
                     dump(json_array_get(json_object_get(g, "override"), i)));
    assert_true(json_equal(json_object_get(g, "override"), want_over));
    assert_true(json_equal(json_object_get(g, "underride"), want_under));
    assert_json(json_object_get(g, "content"), "[]");
    assert_json(json_object_get(g, "room"), "[]");
    assert_json(json_object_get(g, "sender"), "[]");
    assert_int_equal(json_object_size(g), 5);
    text = dump(rs);
    assert_null(strstr(text, ".m.rule.contains_user_name"));
    assert_null(strstr(text, ".m.rule.roomnotif"));
    free(text);
    json_decref(rs);
    json_decref(want_over);
    json_decref(want_under);
    free(md);
}

static void test_default_ruleset_needs_a_user_id(void **state)
{
    (void)state;
    assert_null(push_ruleset_default(NULL));
    assert_null(push_ruleset_default("alice"));
    assert_null(push_ruleset_default("@alice"));
    assert_int_equal(push_kind_parse("underride"), PUSH_KIND_UNDERRIDE);
    assert_int_equal(push_kind_parse("global"), -1);
    assert_int_equal(push_kind_parse(NULL), -1);
}

/* ---- Evaluating the default rules --------------------------------------- */

struct fixture {
    json_t *defaults;
    json_t *user;    /* user state */
    json_t *merged;
    struct push_ctx ctx;
    json_t *pl;
};

static int fixture_setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    f->defaults = push_ruleset_default(ALICE);
    f->user = push_state_new();
    f->pl = J("{'users': {'@admin:example.org': 100}, 'notifications': {}}");
    f->ctx.user_id = ALICE;
    f->ctx.display_name = "Alice Liddell";
    f->ctx.member_count = 10;
    f->ctx.power_levels = f->pl;
    f->ctx.sender_power_level = 0;
    *state = f;
    return f->defaults != NULL && f->user != NULL ? 0 : -1;
}

static int fixture_teardown(void **state)
{
    struct fixture *f = *state;

    json_decref(f->defaults);
    json_decref(f->user);
    json_decref(f->merged);
    json_decref(f->pl);
    free(f);
    return 0;
}

/* push_rule_put with a body written with ' for ". */
static enum push_status put(json_t *user, const char *kind, const char *id, const char *body,
                            const char *before, const char *after, struct push_error *err)
{
    json_t *b = J(body);
    enum push_status st = push_rule_put(user, kind, id, b, before, after, err);

    json_decref(b);
    return st;
}

static void remerge(struct fixture *f)
{
    json_decref(f->merged);
    f->merged = push_ruleset_merge(f->defaults, f->user);
    assert_non_null(f->merged);
}

/* Evaluate an event (' for ") and return its actions (NULL: no match). */
static json_t *eval(struct fixture *f, const char *event_text)
{
    json_t *ev = J(event_text), *actions = (json_t *)1;
    int rc;

    if (f->merged == NULL)
        remerge(f);
    rc = push_evaluate(f->merged, ev, &f->ctx, &actions);
    assert_true(rc == 0 || rc == 1);
    assert_true(rc == 1 ? actions != NULL : actions == NULL);
    json_decref(ev);
    return actions;
}

/* Outcome in one word: "none" (no rule matched), "silent", "notify",
 * "highlight" (which implies notify here). */
static const char *outcome(struct fixture *f, const char *event_text)
{
    json_t *a = eval(f, event_text);
    const char *o = a == NULL ? "none" :
                    push_actions_highlight(a) ? "highlight" :
                    push_actions_notify(a) ? "notify" : "silent";

    json_decref(a);
    return o;
}

#define MSG(sender, body) \
    "{'type':'m.room.message','sender':'" sender "','room_id':'!r:example.org'," \
    "'event_id':'$e','content':{'msgtype':'m.text','body':'" body "'}}"

static void test_eval_messages(void **state)
{
    struct fixture *f = *state;
    json_t *a;

    /* .m.rule.room_one_to_one: "any message sent in a room with exactly
     * two members", with the default sound. */
    f->ctx.member_count = 2;
    a = eval(f, MSG("@bob:example.org", "hi"));
    assert_json(a, "['notify', {'set_tweak':'sound','value':'default'}]");
    json_decref(a);
    /* .m.rule.message in a group room: notify, no sound, no highlight. */
    f->ctx.member_count = 10;
    a = eval(f, MSG("@bob:example.org", "hi"));
    assert_json(a, "['notify']");
    json_decref(a);
    /* "MUST NOT notify ... for events that the user has sent themselves". */
    assert_string_equal(outcome(f, MSG(ALICE, "hi")), "none");
    /* Nothing matches a topic change. */
    assert_string_equal(outcome(f, "{'type':'m.room.topic','sender':'@bob:example.org',"
                                   "'state_key':'','content':{'topic':'x'}}"), "none");
    /* v1.17 removed the body-matching defaults: a bare display name or
     * user ID in the body no longer highlights. */
    assert_string_equal(outcome(f, MSG("@bob:example.org", "Alice Liddell, hi")), "notify");
}

static void test_eval_suppressions(void **state)
{
    struct fixture *f = *state;

    /* .m.rule.suppress_notices: a bot's m.notice. */
    assert_string_equal(outcome(f, "{'type':'m.room.message','sender':'@bot:example.org',"
                                   "'content':{'msgtype':'m.notice','body':'build ok'}}"),
                        "silent");
    /* .m.rule.reaction */
    assert_string_equal(outcome(f, "{'type':'m.reaction','sender':'@bob:example.org',"
                                   "'content':{'m.relates_to':{'rel_type':'m.annotation',"
                                   "'event_id':'$x','key':'+1'}}}"), "silent");
    /* .m.rule.member_event: someone else joins. */
    assert_string_equal(outcome(f, "{'type':'m.room.member','sender':'@bob:example.org',"
                                   "'state_key':'@bob:example.org','content':{'membership':'join'}}"),
                        "silent");
    /* .m.rule.room.server_acl */
    assert_string_equal(outcome(f, "{'type':'m.room.server_acl','sender':'@bob:example.org',"
                                   "'state_key':'','content':{'allow':['*']}}"), "silent");
    /* .m.rule.suppress_edits: an edit of a message would otherwise notify. */
    assert_string_equal(outcome(f, "{'type':'m.room.message','sender':'@bob:example.org',"
                                   "'content':{'msgtype':'m.text','body':'* fixed',"
                                   "'m.relates_to':{'rel_type':'m.replace','event_id':'$x'}}}"),
                        "silent");
}

static void test_eval_invites_mentions_tombstone(void **state)
{
    struct fixture *f = *state;
    json_t *a;

    /* .m.rule.invite_for_me: notify with sound, for this user only. */
    a = eval(f, "{'type':'m.room.member','sender':'@bob:example.org','state_key':'" ALICE "',"
                "'content':{'membership':'invite'}}");
    assert_json(a, "['notify', {'set_tweak':'sound','value':'default'}]");
    json_decref(a);
    assert_string_equal(outcome(f, "{'type':'m.room.member','sender':'@bob:example.org',"
                                   "'state_key':'@carol:example.org','content':{'membership':'invite'}}"),
                        "silent");
    /* .m.rule.is_user_mention */
    a = eval(f, "{'type':'m.room.message','sender':'@bob:example.org','content':{'msgtype':'m.text',"
                "'body':'hey','m.mentions':{'user_ids':['@carol:example.org','" ALICE "']}}}");
    assert_json(a, "['notify', {'set_tweak':'sound','value':'default'}, {'set_tweak':'highlight'}]");
    json_decref(a);
    /* .m.rule.is_room_mention needs the sender to have notifications.room
     * ("Defaults to 50 if unspecified"): at 0 it is a plain message. */
#define ROOM_MENTION "{'type':'m.room.message','sender':'@bob:example.org','content':" \
    "{'msgtype':'m.text','body':'@room','m.mentions':{'room':true}}}"
    assert_string_equal(outcome(f, ROOM_MENTION), "notify");
    f->ctx.sender_power_level = 50;
    assert_string_equal(outcome(f, ROOM_MENTION), "highlight");
    json_object_set_new(json_object_get(f->pl, "notifications"), "room", json_integer(75));
    assert_string_equal(outcome(f, ROOM_MENTION), "notify");
    f->ctx.sender_power_level = INT64_MAX;  /* a v12 creator */
    assert_string_equal(outcome(f, ROOM_MENTION), "highlight");
    /* "room": "true" is a string: event_property_is does not cast. */
    assert_string_equal(outcome(f, "{'type':'m.room.message','sender':'@bob:example.org','content':"
                                   "{'msgtype':'m.text','body':'@room','m.mentions':{'room':'true'}}}"),
                        "notify");
    /* .m.rule.tombstone needs state_key "" (no implicit state check). */
    assert_string_equal(outcome(f, "{'type':'m.room.tombstone','sender':'@bob:example.org',"
                                   "'state_key':'','content':{'replacement_room':'!n:x'}}"),
                        "highlight");
    assert_string_equal(outcome(f, "{'type':'m.room.tombstone','sender':'@bob:example.org',"
                                   "'content':{'replacement_room':'!n:x'}}"), "none");
}

static void test_eval_calls_and_encrypted(void **state)
{
    struct fixture *f = *state;
    json_t *a;

    a = eval(f, "{'type':'m.call.invite','sender':'@bob:example.org','content':{}}");
    assert_json(a, "['notify', {'set_tweak':'sound','value':'ring'}]");
    json_decref(a);
    f->ctx.member_count = 2;
    a = eval(f, "{'type':'m.room.encrypted','sender':'@bob:example.org','content':{}}");
    assert_json(a, "['notify', {'set_tweak':'sound','value':'default'}]");
    json_decref(a);
    f->ctx.member_count = 3;
    a = eval(f, "{'type':'m.room.encrypted','sender':'@bob:example.org','content':{}}");
    assert_json(a, "['notify']");
    json_decref(a);
}

/* .m.rule.master: "This can be enabled to turn off all push
 * notifications", above user rules too. */
static void test_eval_master_rule(void **state)
{
    struct fixture *f = *state;
    struct push_error err;

    assert_int_equal(put(f->user, "override", "all", "{'actions':['notify']}", NULL, NULL, &err),
                     PUSH_OK);
    remerge(f);
    assert_string_equal(outcome(f, "{'type':'m.room.topic','sender':'@bob:example.org'}"),
                        "notify");
    assert_int_equal(push_rule_set_enabled(f->user, "override", ".m.rule.master", true, &err),
                     PUSH_OK);
    remerge(f);
    assert_string_equal(outcome(f, "{'type':'m.room.topic','sender':'@bob:example.org'}"),
                        "silent");
    assert_string_equal(outcome(f, MSG("@bob:example.org", "hi")), "silent");
}

/* ---- Conditions ---------------------------------------------------------- */

/* Does one condition (' for ") hold for the event, in a one-rule ruleset? */
static bool holds(struct fixture *f, const char *cond_text, const char *event_text)
{
    json_t *rs = J("{'override':[{'rule_id':'t','enabled':true,'actions':['notify'],"
                   "'conditions':[]}]}");
    json_t *ev = J(event_text), *actions = NULL;
    int rc;

    json_array_append_new(json_object_get(json_array_get(json_object_get(rs, "override"), 0),
                                          "conditions"), J(cond_text));
    rc = push_evaluate(rs, ev, &f->ctx, &actions);
    assert_true(rc == 0 || rc == 1);
    json_decref(actions);
    json_decref(ev);
    json_decref(rs);
    return rc == 1;
}

/* push.md "event_match" note: key content.topic, pattern "lunc?*". */
static void test_cond_event_match_spec_examples(void **state)
{
    struct fixture *f = *state;
    const char *c = "{'kind':'event_match','key':'content.topic','pattern':'lunc?*'}";

    assert_true(holds(f, c, "{'type':'m.room.topic','content':{'topic':'Lunch plans'}}"));
    assert_true(holds(f, c, "{'content':{'topic':'LUNCH'}}"));
    assert_false(holds(f, c, "{'content':{'topic':' lunch'}}"));
    assert_false(holds(f, c, "{'content':{'topic':'lunc'}}"));
    assert_false(holds(f, c, "{'content':{'topic':null}}"));
    /* "If the property ... is completely absent ... will not match, even if
     * pattern is *". */
    assert_false(holds(f, "{'kind':'event_match','key':'content.nope','pattern':'*'}",
                       "{'content':{'topic':'x'}}"));
    assert_false(holds(f, "{'kind':'event_match','key':'content','pattern':'*'}",
                       "{'content':{'topic':'x'}}"));
    /* content.body: "ex*ple" matches a substring between word boundaries. */
    c = "{'kind':'event_match','key':'content.body','pattern':'ex*ple'}";
    assert_true(holds(f, c, "{'content':{'body':'An example event.'}}"));
    assert_true(holds(f, c, "{'content':{'body':'exple'}}"));
    assert_true(holds(f, c, "{'content':{'body':'An exciting triple-whammy'}}"));
    assert_false(holds(f, c, "{'content':{'body':'examples'}}"));
    assert_false(holds(f, c, "{'content':{'body':'an_example'}}"));
    /* Any other key matches the whole value only. */
    assert_false(holds(f, "{'kind':'event_match','key':'content.topic','pattern':'ex*ple'}",
                       "{'content':{'topic':'An example event.'}}"));
}

static void test_cond_property_is_and_contains(void **state)
{
    struct fixture *f = *state;
    const char *c = "{'kind':'event_property_is','key':'content.m\\\\.federate','value':true}";

    /* push.md "event_property_is": m.federate true; not "true", not 1. */
    assert_true(holds(f, c, "{'content':{'m.federate':true}}"));
    assert_false(holds(f, c, "{'content':{'m.federate':'true'}}"));
    assert_false(holds(f, c, "{'content':{'m.federate':1}}"));
    assert_false(holds(f, c, "{'content':{'m':{'federate':true}}}"));
    assert_true(holds(f, "{'kind':'event_property_is','key':'content.n','value':null}",
                      "{'content':{'n':null}}"));
    assert_true(holds(f, "{'kind':'event_property_is','key':'content.n','value':42}",
                      "{'content':{'n':42}}"));
    assert_false(holds(f, "{'kind':'event_property_is','key':'content.n','value':42}",
                       "{'content':{'n':42.0}}"));
    /* Compound values are not canonical scalars: never equal. */
    assert_false(holds(f, "{'kind':'event_property_is','key':'content.n','value':[1]}",
                       "{'content':{'n':[1]}}"));
    assert_false(holds(f, "{'kind':'event_property_is','key':'content.n','value':9007199254740992}",
                       "{'content':{'n':9007199254740992}}"));
    /* "event_property_contains" note: alt_aliases. */
    c = "{'kind':'event_property_contains','key':'content.alt_aliases',"
        "'value':'#myroom:example.com'}";
    assert_true(holds(f, c, "{'content':{'alias':'#somewhere:localhost','alt_aliases':"
                            "['#somewhere:example.org','#myroom:example.com']}}"));
    assert_false(holds(f, c, "{'content':{'alt_aliases':[':example.com']}}"));
    assert_false(holds(f, c, "{'content':{'alt_aliases':'#myroom:example.com'}}"));
    assert_true(holds(f, c, "{'content':{'alt_aliases':[{'x':1},['#myroom:example.com'],"
                            "'#myroom:example.com']}}"));
}

static void test_cond_paths_escape(void **state)
{
    struct fixture *f = *state;
    json_t *ev = J("{'content':{'m\\\\foo':'a','m.x':{'y':'b'},'a\\\\x':'c','':{'':'d'}}}");

    (void)f;
    /* "a content property named m\foo would be expressed as content.m\\foo" */
    assert_string_equal(json_string_value(push_path_lookup(ev, "content.m\\\\foo")), "a");
    assert_string_equal(json_string_value(push_path_lookup(ev, "content.m\\.x.y")), "b");
    /* "a \x would be treated as a literal backslash followed by 'x'" */
    assert_string_equal(json_string_value(push_path_lookup(ev, "content.a\\x")), "c");
    assert_string_equal(json_string_value(push_path_lookup(ev, "content..")), "d");
    assert_null(push_path_lookup(ev, "content.m.x.y"));
    assert_null(push_path_lookup(ev, "content.m\\.x.y.z"));
    assert_null(push_path_lookup(NULL, "content"));
    json_decref(ev);
}

static void test_cond_member_count_permission_unknown(void **state)
{
    struct fixture *f = *state;
    static const struct { const char *is; bool at2; } cases[] = {
        { "2", true }, { "==2", true }, { "<3", true }, { "<2", false }, { ">1", true },
        { ">2", false }, { "<=2", true }, { ">=3", false }, { "=2", false }, { "", false },
        { "abc", false }, { "2x", false }, { "<", false }, { "-2", false },
        { "9999999999999999999999", false },
    };
    char cond[128];

    f->ctx.member_count = 2;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(cond, sizeof(cond), "{'kind':'room_member_count','is':'%s'}", cases[i].is);
        if (holds(f, cond, "{'type':'x'}") != cases[i].at2)
            fail_msg("room_member_count is=%s", cases[i].is);
    }
    assert_false(holds(f, "{'kind':'room_member_count','is':2}", "{'type':'x'}"));
    /* sender_notification_permission with a custom key. */
    json_object_set_new(json_object_get(f->pl, "notifications"), "custom", json_integer(10));
    f->ctx.sender_power_level = 9;
    assert_false(holds(f, "{'kind':'sender_notification_permission','key':'custom'}", "{}"));
    f->ctx.sender_power_level = 10;
    assert_true(holds(f, "{'kind':'sender_notification_permission','key':'custom'}", "{}"));
    f->ctx.power_levels = NULL;  /* no power levels: 50 */
    assert_false(holds(f, "{'kind':'sender_notification_permission','key':'room'}", "{}"));
    f->ctx.sender_power_level = 50;
    assert_true(holds(f, "{'kind':'sender_notification_permission','key':'room'}", "{}"));
    /* "Unrecognised conditions MUST NOT match any events". */
    assert_false(holds(f, "{'kind':'org.example.always'}", "{}"));
    assert_false(holds(f, "{'key':'type','pattern':'*'}", "{'type':'x'}"));
    assert_false(holds(f, "'event_match'", "{'type':'x'}"));
}

/* contains_display_name (deprecated but defined): word boundaries,
 * case-insensitive, the name taken literally. */
static void test_cond_display_name(void **state)
{
    struct fixture *f = *state;
    const char *c = "{'kind':'contains_display_name'}";

    assert_true(holds(f, c, "{'content':{'body':'hey alice liddell!'}}"));
    assert_true(holds(f, c, "{'content':{'body':'Alice Liddell'}}"));
    assert_false(holds(f, c, "{'content':{'body':'Alice Liddells'}}"));
    assert_false(holds(f, c, "{'content':{'topic':'Alice Liddell'}}"));
    f->ctx.display_name = "Zo\xc3\xab";  /* Zoe with diaeresis: folds like ASCII */
    assert_true(holds(f, c, "{'content':{'body':'hi ZO\xc3\x8b!'}}"));
    assert_false(holds(f, c, "{'content':{'body':'hi Zo\xc3\xablle'}}"));
    f->ctx.display_name = "A*";
    assert_false(holds(f, c, "{'content':{'body':'Abc'}}"));
    assert_true(holds(f, c, "{'content':{'body':'say A* now'}}"));
    f->ctx.display_name = "";
    assert_false(holds(f, c, "{'content':{'body':'anything'}}"));
    f->ctx.display_name = NULL;
    assert_false(holds(f, c, "{'content':{'body':'anything'}}"));
}

/* ---- Glob ---------------------------------------------------------------- */

static int glob(const char *pat, const char *text, int mode)
{
    size_t budget = PUSH_GLOB_BUDGET;

    return push_glob_match(pat, strlen(pat), text, strlen(text), (enum push_glob_mode)mode,
                           false, &budget);
}

static void test_glob_edges(void **state)
{
    enum { W = PUSH_GLOB_WHOLE, B = PUSH_GLOB_WORDS, YES = PUSH_GLOB_YES, NO = PUSH_GLOB_NO };
    static const struct { const char *pat, *text; int mode, want; } cases[] = {
        { "*", "", W, YES }, { "", "", W, YES }, { "", "a", W, NO }, { "?", "", W, NO },
        { "?", "ab", W, NO },
        /* "? matches exactly one character": a UTF-8 sequence is one. */
        { "caf?", "caf\xc3\xa9", W, YES }, { "caf??", "caf\xc3\xa9", W, NO },
        { "?\xc3\xa9", "\xf0\x9f\x98\x80\xc3\xa9", W, YES },
        { "a**b", "ab", W, YES }, { "a*b*c", "aXbYbZc", W, YES }, { "a*b*c", "aXbYbZ", W, NO },
        { "*ab", "aab", W, YES }, { "*a?", "abab", W, YES },
        { "M.ROOM.*", "m.room.message", W, YES },
        /* Word mode: the substring is bounded by non-word bytes or the ends. */
        { "cake", "I like cake.", B, YES }, { "cake", "cakes", B, NO },
        { "cake", "pancake", B, NO }, { "cake", "pan cake_", B, NO },
        { "cake", "pancake cake", B, YES }, { "cake*lie", "the cake is a lie!", B, YES },
        { "cake*lie", "the cake is a lies", B, NO },
        { "cake*lie", "the cake is a lies lie", B, YES },
        { "@alice:example.org", "hi @alice:example.org!", B, YES }, { "*", "", B, YES },
        /* Case folding covers Latin, Greek and Cyrillic letters. */
        { "\xc3\x89T\xc3\x89", "\xc3\xa9t\xc3\xa9", W, YES },          /* ETE, ete */
        { "zo\xc3\xab", "ZO\xc3\x8b", W, YES },                          /* zoe, ZOE */
        { "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82",             /* privet */
          "\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2 \xd0\xb8", B, YES },
        { "\xc5\x82\xc3\xb3" "d\xc5\xba", "\xc5\x81\xc3\x93" "D\xc5\xb9", W, YES }, /* lodz */
        { "\xcf\x83\xce\xbf\xcf\x86\xce\xb9\xce\xb1",                     /* sofia */
          "\xce\xa3\xce\x9f\xce\xa6\xce\x99\xce\x91", W, YES },
        { "\xc4\xb1", "I", W, NO },  /* dotless i is not I's lower case */
        /* Malformed UTF-8: a stray byte is one character, equal to itself. */
        { "\xff", "\xff", W, YES }, { "?", "\xff", W, YES }, { "\xc3", "\xc3\xa9", W, NO },
        { "a?c", "a\xc3" "c", W, YES },
    };
    char pat[PUSH_MAX_PATTERN_LEN + 2];
    size_t budget = PUSH_GLOB_BUDGET;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (glob(cases[i].pat, cases[i].text, cases[i].mode) != cases[i].want)
            fail_msg("glob %s on %s (mode %d)", cases[i].pat, cases[i].text, cases[i].mode);
    /* Over-long patterns are refused, not matched. */
    memset(pat, '*', sizeof(pat) - 1);
    pat[sizeof(pat) - 1] = '\0';
    assert_int_equal(push_glob_match(pat, strlen(pat), "x", 1, PUSH_GLOB_WHOLE, false, &budget),
                     PUSH_GLOB_GAVE_UP);
}

/* Time limits for the "finishes fast" tests: sanitizers slow code ~10x. */
#if defined(__SANITIZE_ADDRESS__)
#define SLOWDOWN 10.0
#else
#define SLOWDOWN 1.0
#endif

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* "*a*a*a*...*b" against 64 KiB of 'a' is exponential for a backtracking
 * matcher; here it is one pass. A long literal segment against the same
 * text costs len(text) * len(segment): the budget cuts it short. */
static void test_glob_pathological(void **state)
{
    enum { TLEN = 65536 };
    char *text = malloc(TLEN + 1), pat[PUSH_MAX_PATTERN_LEN + 1];
    size_t budget = PUSH_GLOB_BUDGET, n = 0;
    double t0;

    (void)state;
    memset(text, 'a', TLEN);
    text[TLEN] = '\0';
    while (n + 3 < PUSH_MAX_PATTERN_LEN) {
        pat[n++] = '*';
        pat[n++] = 'a';
    }
    pat[n++] = '*';
    pat[n++] = 'b';
    pat[n] = '\0';
    t0 = now_s();
    assert_int_equal(push_glob_match(pat, n, text, TLEN, PUSH_GLOB_WHOLE, false, &budget),
                     PUSH_GLOB_NO);
    assert_int_equal(push_glob_match(pat, n, text, TLEN, PUSH_GLOB_WORDS, false, &budget),
                     PUSH_GLOB_NO);
    pat[n - 1] = 'a';  /* "*a*a...*a": a match, found as fast */
    assert_int_equal(push_glob_match(pat, n, text, TLEN, PUSH_GLOB_WHOLE, false, &budget),
                     PUSH_GLOB_YES);
    memset(pat, 'a', PUSH_MAX_PATTERN_LEN);
    pat[0] = '*';
    pat[PUSH_MAX_PATTERN_LEN - 2] = 'b';
    pat[PUSH_MAX_PATTERN_LEN - 1] = '*';
    budget = PUSH_GLOB_BUDGET;
    assert_int_equal(push_glob_match(pat, PUSH_MAX_PATTERN_LEN, text, TLEN, PUSH_GLOB_WHOLE,
                                     false, &budget), PUSH_GLOB_GAVE_UP);
    assert_int_equal(budget, 0);
    /* bounded work is ~0.1 s here; the margin is for a loaded CI machine */
    assert_true(now_s() - t0 < 5.0 * SLOWDOWN);
    free(text);
}

/* Content rules whose pattern overlaps itself ("*aaa...ab*"), on a body
 * of 'a's built against them: each gives up after PUSH_GLOB_BUDGET, so
 * a few of them do not keep the cheap rules after them from matching;
 * a thousand of them exhaust PUSH_EVAL_BUDGET, which bounds the time and
 * costs their owner this notification, nothing more. */
static void test_eval_hostile_rules_bounded(void **state)
{
    struct fixture *f = *state;
    struct push_error err;
    char *body = malloc(60001), id[16];
    json_t *rulebody, *ev, *actions = NULL;
    double t0;

    memset(body, 'a', 60000);
    body[60000] = '\0';
    rulebody = J("{'actions':['notify',{'set_tweak':'highlight'}],"
                 "'pattern':'*aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab*'}");
    ev = json_pack("{s:s, s:s, s:{s:s, s:s}}", "type", "m.room.message", "sender",
                   "@bob:example.org", "content", "msgtype", "m.text", "body", body);
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof(id), "r%d", i);
        assert_int_equal(push_rule_put(f->user, "content", id, rulebody, NULL, NULL, &err),
                         PUSH_OK);
        if (i == 4) {
            remerge(f);
            assert_int_equal(push_evaluate(f->merged, ev, &f->ctx, &actions), 1);
            assert_json(actions, "['notify']");  /* .m.rule.message */
            json_decref(actions);
        }
    }
    remerge(f);
    t0 = now_s();
    assert_int_equal(push_evaluate(f->merged, ev, &f->ctx, &actions), 0);
    assert_null(actions);
    /* bounded work is ~0.1 s here; the margin is for a loaded CI machine */
    assert_true(now_s() - t0 < 5.0 * SLOWDOWN);
    json_decref(rulebody);
    json_decref(ev);
    free(body);
}

/* ---- Editing --------------------------------------------------------------- */

/* The rule IDs of one kind of the merged ruleset, comma-separated. */
static const char *ids(struct fixture *f, const char *kind)
{
    static char out[1024];
    const json_t *r;
    size_t i, n = 0;

    remerge(f);
    out[0] = '\0';
    json_array_foreach(json_object_get(json_object_get(f->merged, "global"), kind), i, r)
        n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%s", i ? "," : "",
                              json_string_value(json_object_get(r, "rule_id")));
    return out;
}

static void test_edit_order_before_after(void **state)
{
    struct fixture *f = *state;
    struct push_error err;
    const char *b = "{'actions':['notify'],'conditions':[]}";

    /* "If neither after nor before are provided and the rule is created,
     * it should be added as the most important user defined rule". */
    assert_int_equal(put(f->user, "underride", "a", b, NULL, NULL, &err), PUSH_OK);
    assert_int_equal(put(f->user, "underride", "b", b, NULL, NULL, &err), PUSH_OK);
    assert_string_equal(ids(f, "underride"), "b,a,.m.rule.call,.m.rule.encrypted_room_one_to_one,"
                        ".m.rule.room_one_to_one,.m.rule.message,.m.rule.encrypted");
    assert_int_equal(put(f->user, "underride", "c", b, "a", NULL, &err), PUSH_OK);
    assert_int_equal(put(f->user, "underride", "d", b, NULL, "a", &err), PUSH_OK);
    assert_int_equal(put(f->user, "underride", "e", b, NULL, "b", &err), PUSH_OK);
    assert_string_equal(ids(f, "underride"), "b,e,c,a,d,.m.rule.call,"
                        ".m.rule.encrypted_room_one_to_one,.m.rule.room_one_to_one,"
                        ".m.rule.message,.m.rule.encrypted");
    /* "If both after and before are provided, the new or updated rule must
     * be the next most important rule with respect to the rule identified
     * by before." */
    assert_int_equal(put(f->user, "underride", "f", b, "b", "d", &err), PUSH_OK);
    /* Replacing keeps the place; with an anchor, it moves. */
    assert_int_equal(put(f->user, "underride", "c", "{'actions':[]}", NULL, NULL, &err), PUSH_OK);
    assert_int_equal(put(f->user, "underride", "b", b, NULL, "d", &err), PUSH_OK);
    assert_string_equal(ids(f, "underride"), "f,e,c,a,d,b,.m.rule.call,"
                        ".m.rule.encrypted_room_one_to_one,.m.rule.room_one_to_one,"
                        ".m.rule.message,.m.rule.encrypted");
    /* User override rules sit between .m.rule.master and the other defaults. */
    assert_int_equal(put(f->user, "override", "o", b, NULL, NULL, &err), PUSH_OK);
    assert_true(strncmp(ids(f, "override"), ".m.rule.master,o,.m.rule.suppress_notices,", 42) == 0);
}

static void test_edit_rule_shapes(void **state)
{
    struct fixture *f = *state;
    struct push_error err;
    json_t *rule = NULL, *a;

    /* The spec's examples (push.md "Examples"). */
    assert_int_equal(put(f->user, "room", "!dj234r78wl45Gh4D:matrix.org", "{'actions':[]}",
                         NULL, NULL, &err), PUSH_OK);
    assert_int_equal(put(f->user, "sender", "@spambot:matrix.org", "{'actions':[]}",
                         NULL, NULL, &err), PUSH_OK);
    assert_int_equal(put(f->user, "content", "SSByZWFsbHkgbGlrZSBjYWtl",
                         "{'pattern':'cake','actions':['notify',{'set_tweak':'sound',"
                         "'value':'cakealarm.wav'}]}", NULL, NULL, &err), PUSH_OK);
    assert_int_equal(put(f->user, "content", "U3BvbmdlIGNha2UgaXMgYmVzdA",
                         "{'pattern':'cake*lie','actions':['notify','dont_notify','coalesce']}",
                         "SSByZWFsbHkgbGlrZSBjYWtl", NULL, &err), PUSH_OK);
    remerge(f);
    assert_int_equal(push_rule_get(f->merged, "content", "U3BvbmdlIGNha2UgaXMgYmVzdA", &rule,
                                   &err), PUSH_OK);
    /* Historical actions are stripped; "they MUST be enabled by default". */
    assert_json(rule, "{'rule_id':'U3BvbmdlIGNha2UgaXMgYmVzdA','default':false,'enabled':true,"
                      "'pattern':'cake*lie','actions':['notify']}");
    json_decref(rule);
    assert_int_equal(push_rule_get(f->merged, "room", "!dj234r78wl45Gh4D:matrix.org", &rule,
                                   &err), PUSH_OK);
    assert_json(rule, "{'rule_id':'!dj234r78wl45Gh4D:matrix.org','default':false,"
                      "'enabled':true,'actions':[]}");
    json_decref(rule);
    /* Evaluation: content rules before room rules, room before sender. */
    a = eval(f, MSG("@bob:example.org", "I like cake"));
    assert_json(a, "['notify',{'set_tweak':'sound','value':'cakealarm.wav'}]");
    json_decref(a);
    a = eval(f, "{'type':'m.room.message','sender':'@bob:example.org','room_id':"
                "'!dj234r78wl45Gh4D:matrix.org','content':{'body':'the cake is a lie'}}");
    assert_json(a, "['notify']");
    json_decref(a);
    assert_string_equal(outcome(f, "{'type':'m.room.message','sender':'@bob:example.org',"
                                   "'room_id':'!dj234r78wl45Gh4D:matrix.org','content':"
                                   "{'body':'hi'}}"), "silent");
    assert_string_equal(outcome(f, MSG("@spambot:matrix.org", "buy")), "silent");
    /* Case matters for IDs: a room rule is not a glob. */
    assert_string_equal(outcome(f, "{'type':'m.room.message','sender':'@bob:example.org',"
                                   "'room_id':'!DJ234R78WL45GH4D:matrix.org','content':"
                                   "{'body':'hi'}}"), "notify");
    /* Disabled rules never match. */
    assert_int_equal(push_rule_set_enabled(f->user, "sender", "@spambot:matrix.org", false, &err),
                     PUSH_OK);
    remerge(f);
    assert_string_equal(outcome(f, MSG("@spambot:matrix.org", "buy")), "notify");
}

/* The handler's errors: status, HTTP code, errcode; the state unchanged. */
static void expect_put_error(struct fixture *f, const char *kind, const char *id,
                             const char *body, const char *before, const char *after,
                             enum push_status want, int http, const char *errcode)
{
    struct push_error err;
    char *was = dump(f->user), *now;

    memset(&err, 0, sizeof(err));
    if (put(f->user, kind, id, body, before, after, &err) != want)
        fail_msg("PUT %s/%s: status %d, wanted %d (%s)", kind, id ? id : "(null)", err.status,
                 want, err.message);
    assert_int_equal(err.http_status, http);
    assert_string_equal(err.errcode, errcode);
    assert_true(err.message[0] != '\0');
    now = dump(f->user);
    assert_string_equal(was, now);
    free(was);
    free(now);
}

static void test_edit_errors(void **state)
{
    struct fixture *f = *state;
    struct push_error err;
    char long_id[PUSH_MAX_RULE_ID_LEN + 2];
#define OK_BODY "{'actions':['notify']}"
#define INVALID PUSH_ERR_INVALID, 400, "M_INVALID_PARAM"
#define ANCHOR PUSH_ERR_ANCHOR, 400, "M_UNKNOWN"
    static const struct {
        const char *kind, *id, *body, *before, *after;
        enum push_status st;
        int http;
        const char *errcode;
    } cases[] = {
        { "global", "y", OK_BODY, NULL, NULL, PUSH_ERR_UNRECOGNIZED, 400, "M_UNRECOGNIZED" },
        /* "If the string starts with a dot (".") the request MUST be
         * rejected"; "Slashes and backslashes are also not allowed". */
        { "override", ".m.rule.master", OK_BODY, NULL, NULL, INVALID },
        { "override", "a/b", OK_BODY, NULL, NULL, INVALID },
        { "override", "a\\b", OK_BODY, NULL, NULL, INVALID },
        { "override", "", OK_BODY, NULL, NULL, INVALID },
        { "override", NULL, OK_BODY, NULL, NULL, INVALID },
        { "room", "not-a-room", OK_BODY, NULL, NULL, INVALID },
        { "sender", "bob", OK_BODY, NULL, NULL, INVALID },
        /* Bodies: actions required and known; content rules need a pattern. */
        { "override", "y", "{}", NULL, NULL, INVALID },
        { "override", "y", "[]", NULL, NULL, INVALID },
        { "override", "y", "{'actions':'notify'}", NULL, NULL, INVALID },
        { "override", "y", "{'actions':['explode']}", NULL, NULL, INVALID },
        { "override", "y", "{'actions':[{'value':1}]}", NULL, NULL, INVALID },
        { "override", "y", "{'actions':[3]}", NULL, NULL, INVALID },
        { "content", "y", OK_BODY, NULL, NULL, INVALID },
        { "content", "y", "{'actions':[],'pattern':7}", NULL, NULL, INVALID },
        { "override", "y", "{'actions':[],'conditions':{}}", NULL, NULL, INVALID },
        { "override", "y", "{'actions':[],'conditions':[{'kind':'event_match','key':'type'}]}",
          NULL, NULL, INVALID },
        { "override", "y", "{'actions':[],'conditions':[{'kind':'room_member_count','is':'two'}]}",
          NULL, NULL, INVALID },
        { "override", "y", "{'actions':[],'conditions':[{'kind':'event_property_is','key':'a',"
          "'value':{}}]}", NULL, NULL, INVALID },
        { "override", "y", "{'actions':[],'conditions':[{'kind':'k'},{'kind':'k'},{'kind':'k'},"
          "{'kind':'k'},{'kind':'k'},{'kind':'k'},{'kind':'k'},{'kind':'k'},{'kind':'k'},"
          "{'kind':'k'},{'kind':'k'},{'kind':'k'},{'kind':'k'},{'kind':'k'},{'kind':'k'},"
          "{'kind':'k'},{'kind':'k'}]}", NULL, NULL, INVALID },
        /* pushrules.yaml's 400 "before/after rule not found"; "It is not
         * possible to add a rule relative to a predefined server rule"; a
         * rule cannot be placed relative to itself. */
        { "override", "y", OK_BODY, "nope", NULL, ANCHOR },
        { "override", "y", OK_BODY, NULL, "nope", ANCHOR },
        { "override", "y", OK_BODY, ".m.rule.master", NULL, ANCHOR },
        { "override", "x", OK_BODY, "x", NULL, ANCHOR },
        { "underride", "y", OK_BODY, "x", NULL, ANCHOR },
    };

    assert_int_equal(put(f->user, "override", "x", OK_BODY, NULL, NULL, &err), PUSH_OK);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_put_error(f, cases[i].kind, cases[i].id, cases[i].body, cases[i].before,
                         cases[i].after, cases[i].st, cases[i].http, cases[i].errcode);
    memset(long_id, 'a', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    expect_put_error(f, "override", long_id, OK_BODY, NULL, NULL, INVALID);
    /* Unknown condition kinds are stored (they just never match). */
    assert_int_equal(put(f->user, "override", "z", "{'actions':[],'conditions':"
                         "[{'kind':'org.example.future','x':1}]}", NULL, NULL, &err), PUSH_OK);
    assert_string_equal(outcome(f, MSG("@bob:example.org", "hi")), "notify");
    assert_int_equal(push_rule_put(NULL, "override", "z", NULL, NULL, NULL, &err),
                     PUSH_ERR_INVALID);
#undef OK_BODY
#undef INVALID
#undef ANCHOR
}

static void test_edit_limit(void **state)
{
    struct fixture *f = *state;
    struct push_error err;
    char id[16];

    for (int i = 0; i < PUSH_MAX_RULES_PER_KIND; i++) {
        snprintf(id, sizeof(id), "r%d", i);
        assert_int_equal(put(f->user, "override", id, "{'actions':[]}", NULL, NULL, &err),
                         PUSH_OK);
    }
    expect_put_error(f, "override", "one-more", "{'actions':[]}", NULL, NULL, PUSH_ERR_LIMIT,
                     400, "M_INVALID_PARAM");
    /* Replacing at the limit is fine; other kinds have their own limit. */
    assert_int_equal(put(f->user, "override", "r5", "{'actions':['notify']}", NULL, "r7", &err),
                     PUSH_OK);
    assert_int_equal(put(f->user, "underride", "u", "{'actions':[]}", NULL, NULL, &err), PUSH_OK);
    remerge(f);
    assert_int_equal(json_array_size(json_object_get(json_object_get(f->merged, "global"),
                                                     "override")), PUSH_MAX_RULES_PER_KIND + 10);
}

static void test_edit_delete_enable_actions(void **state)
{
    struct fixture *f = *state;
    struct push_error err;
    json_t *a = NULL, *acts;
    bool on = true;

    assert_int_equal(put(f->user, "override", "x", "{'actions':['notify']}", NULL, NULL, &err),
                     PUSH_OK);
    /* Server-default rules cannot be deleted: 404 as Synapse. */
    assert_int_equal(push_rule_delete(f->user, "override", ".m.rule.master", &err),
                     PUSH_ERR_NOT_FOUND);
    assert_int_equal(err.http_status, 404);
    assert_string_equal(err.errcode, "M_NOT_FOUND");
    assert_int_equal(push_rule_delete(f->user, "override", "nope", &err), PUSH_ERR_NOT_FOUND);
    assert_int_equal(push_rule_delete(f->user, "underride", "x", &err), PUSH_ERR_NOT_FOUND);
    assert_int_equal(push_rule_delete(f->user, "bogus", "x", &err), PUSH_ERR_UNRECOGNIZED);
    assert_int_equal(push_rule_delete(f->user, "override", "x", &err), PUSH_OK);
    assert_int_equal(push_rule_delete(f->user, "override", "x", &err), PUSH_ERR_NOT_FOUND);
    /* enabled and actions of a server-default rule ("This can be used to
     * change the actions of builtin rules"). */
    assert_int_equal(push_rule_set_enabled(f->user, "underride", ".m.rule.message", false, &err),
                     PUSH_OK);
    acts = J("['notify',{'set_tweak':'highlight','value':true}]");
    assert_int_equal(push_rule_set_actions(f->user, "underride", ".m.rule.call", acts, &err),
                     PUSH_OK);
    json_decref(acts);
    remerge(f);
    assert_int_equal(push_rule_get_enabled(f->merged, "underride", ".m.rule.message", &on, &err),
                     PUSH_OK);
    assert_false(on);
    assert_int_equal(push_rule_get_actions(f->merged, "underride", ".m.rule.call", &a, &err),
                     PUSH_OK);
    assert_json(a, "['notify',{'set_tweak':'highlight','value':true}]");
    json_decref(a);
    assert_string_equal(outcome(f, MSG("@bob:example.org", "hi")), "none");
    assert_string_equal(outcome(f, "{'type':'m.call.invite','sender':'@bob:example.org'}"),
                        "highlight");
    /* Unknown rules and kinds; a rule of the wrong kind; bad actions. */
    assert_int_equal(push_rule_set_enabled(f->user, "override", ".m.rule.message", true, &err),
                     PUSH_ERR_NOT_FOUND);
    assert_int_equal(push_rule_set_enabled(f->user, "override", "nope", true, &err),
                     PUSH_ERR_NOT_FOUND);
    assert_int_equal(push_rule_set_enabled(f->user, "nope", "nope", true, &err),
                     PUSH_ERR_UNRECOGNIZED);
    acts = J("['explode']");
    assert_int_equal(push_rule_set_actions(f->user, "underride", ".m.rule.call", acts, &err),
                     PUSH_ERR_INVALID);
    json_decref(acts);
    assert_int_equal(push_rule_get(f->merged, "override", "nope", &a, &err), PUSH_ERR_NOT_FOUND);
    assert_int_equal(push_rule_get_enabled(f->merged, "override", "nope", &on, &err),
                     PUSH_ERR_NOT_FOUND);
    assert_int_equal(push_rule_get_actions(f->merged, "nope", "x", &a, &err),
                     PUSH_ERR_UNRECOGNIZED);
}

/* Stored state is re-validated when loaded: junk is left out. */
static void test_merge_skips_malformed_state(void **state)
{
    struct fixture *f = *state;

    json_decref(f->user);
    f->user = J("{'rules':{'override':[7,{'rule_id':'.evil','actions':[]},"
                "{'rule_id':'ok','actions':['notify'],'conditions':[]},"
                "{'rule_id':'ok','actions':[]},"
                "{'rule_id':'noact'},{'rule_id':'badact','actions':['boom']},"
                "{'rule_id':'badcond','actions':[],'conditions':'x'},"
                "{'rule_id':'badenabled','actions':[],'enabled':'yes'},"
                "{'rule_id':'nocond','actions':['dont_notify']}],"
                "'content':[{'rule_id':'nopattern','actions':[]}],"
                "'room':[{'rule_id':'@notaroom:x','actions':[]}],"
                "'sender':'junk'},"
                "'defaults':{'override':{'.m.rule.master':{'enabled':'yes'},"
                "'.m.rule.reaction':{'actions':['boom']}},'underride':7}}");
    assert_string_equal(ids(f, "override"), ".m.rule.master,ok,nocond,.m.rule.suppress_notices,"
                        ".m.rule.invite_for_me,.m.rule.member_event,.m.rule.is_user_mention,"
                        ".m.rule.is_room_mention,.m.rule.tombstone,.m.rule.reaction,"
                        ".m.rule.room.server_acl,.m.rule.suppress_edits");
    assert_string_equal(ids(f, "content"), "");
    assert_string_equal(ids(f, "room"), "");
    assert_string_equal(ids(f, "sender"), "");
    assert_json(json_array_get(json_object_get(json_object_get(f->merged, "global"),
                                               "override"), 2),
                "{'rule_id':'nocond','default':false,'enabled':true,'actions':[],"
                "'conditions':[]}");
    assert_json(json_array_get(json_object_get(json_object_get(f->merged, "global"),
                                               "override"), 0),
                "{'rule_id':'.m.rule.master','default':true,'enabled':false,'actions':[],"
                "'conditions':[]}");
    assert_null(push_ruleset_merge(NULL, f->user));
    assert_non_null(f->merged);
}

static void test_actions_helpers(void **state)
{
    json_t *a = J("['notify',{'set_tweak':'highlight','value':false}]");

    (void)state;
    assert_true(push_actions_notify(a));
    assert_false(push_actions_highlight(a));
    json_decref(a);
    a = J("[{'set_tweak':'highlight'}]");
    assert_false(push_actions_notify(a));
    assert_true(push_actions_highlight(a));
    json_decref(a);
    assert_false(push_actions_notify(NULL));
    assert_false(push_actions_highlight(NULL));
}

/* ---- Allocation failure ----------------------------------------------------- */

static long alloc_countdown = -1;  /* allocations left before failing; -1: never */

static void *failing_malloc(size_t n)
{
    if (alloc_countdown == 0)
        return NULL;
    if (alloc_countdown > 0)
        alloc_countdown--;
    return malloc(n);
}

/* Fail the n-th allocation of every entry point, for each n until the call
 * succeeds: the call reports the failure, leaves the state untouched and
 * leaks nothing (ASan's leak check runs over this test too). */
static void test_allocation_failure(void **state)
{
    struct fixture *f = *state;
    struct push_error err;
    json_t *body = J("{'actions':['notify',{'set_tweak':'sound','value':'x'}],"
                     "'conditions':[{'kind':'event_match','key':'type','pattern':'m.*'}]}");
    json_t *cbody = J("{'actions':['notify'],'pattern':'cake'}");
    json_t *acts = J("['notify']");
    json_t *ev = J(MSG("@bob:example.org", "I like cake")), *ref_merged, *ref_default;
    bool done[6] = { false };
    int failures = 0;

    json_set_alloc_funcs(failing_malloc, free);
    assert_int_equal(push_rule_put(f->user, "override", "a", body, NULL, NULL, &err), PUSH_OK);
    ref_default = push_ruleset_default(ALICE);
    ref_merged = push_ruleset_merge(f->defaults, f->user);
    for (long n = 0; n < 5000 && !(done[0] && done[1] && done[2] && done[3] && done[4] &&
                                   done[5]); n++) {
        json_t *out = NULL, *actions = NULL;
        int rc;

        for (int i = 0; i < 3; i++) {
            char *before = dump(f->user), *after;
            enum push_status st = PUSH_OK;

            alloc_countdown = n;
            if (done[i])
                ;
            else if (i == 0)
                st = push_rule_put(f->user, "override", "b", body, "a", NULL, &err);
            else if (i == 1)
                st = push_rule_put(f->user, "content", "c", cbody, NULL, NULL, &err);
            else
                st = push_rule_set_actions(f->user, "underride", ".m.rule.call", acts, &err);
            alloc_countdown = -1;
            assert_true(st == PUSH_OK || st == PUSH_ERR_NOMEM);
            after = dump(f->user);
            if (st != PUSH_OK) {
                assert_string_equal(before, after);
                assert_int_equal(err.http_status, 500);
                failures++;
            }
            done[i] = done[i] || st == PUSH_OK;
            free(before);
            free(after);
        }
        if (!done[3]) {
            alloc_countdown = n;
            out = push_ruleset_merge(f->defaults, f->user);
            alloc_countdown = -1;
            done[3] = out != NULL;
            json_decref(out);
        }
        if (!done[4]) {
            alloc_countdown = n;
            out = push_ruleset_default(ALICE);
            alloc_countdown = -1;
            assert_true(out == NULL || json_equal(out, ref_default));
            done[4] = out != NULL;
            json_decref(out);
        }
        if (!done[5]) {
            alloc_countdown = n;
            rc = push_evaluate(ref_merged, ev, &f->ctx, &actions);
            alloc_countdown = -1;
            assert_true(rc == -1 || rc == 1);
            assert_true(rc == 1 ? actions != NULL : actions == NULL);
            done[5] = rc == 1;
            json_decref(actions);
        }
    }
    json_set_alloc_funcs(malloc, free);
    for (int i = 0; i < 6; i++)
        if (!done[i])
            fail_msg("entry point %d never succeeded", i);
    assert_true(failures >= 3);
    remerge(f);
    assert_string_equal(ids(f, "override"), ".m.rule.master,b,a,.m.rule.suppress_notices,"
                        ".m.rule.invite_for_me,.m.rule.member_event,.m.rule.is_user_mention,"
                        ".m.rule.is_room_mention,.m.rule.tombstone,.m.rule.reaction,"
                        ".m.rule.room.server_acl,.m.rule.suppress_edits");
    json_decref(ref_default);
    json_decref(ref_merged);
    json_decref(body);
    json_decref(cbody);
    json_decref(acts);
    json_decref(ev);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_ruleset_is_the_spec_listing),
        cmocka_unit_test(test_default_ruleset_needs_a_user_id),
        T(test_eval_messages),
        T(test_eval_suppressions),
        T(test_eval_invites_mentions_tombstone),
        T(test_eval_calls_and_encrypted),
        T(test_eval_master_rule),
        T(test_cond_event_match_spec_examples),
        T(test_cond_property_is_and_contains),
        T(test_cond_paths_escape),
        T(test_cond_member_count_permission_unknown),
        T(test_cond_display_name),
        cmocka_unit_test(test_glob_edges),
        cmocka_unit_test(test_glob_pathological),
        T(test_eval_hostile_rules_bounded),
        T(test_edit_order_before_after),
        T(test_edit_rule_shapes),
        T(test_edit_errors),
        T(test_edit_limit),
        T(test_edit_delete_enable_actions),
        T(test_merge_skips_malformed_state),
        cmocka_unit_test(test_actions_helpers),
        T(test_allocation_failure),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
