/*
 * test_auth_rules: the authorisation rules of room versions 10, 11 and 12
 * (spec content/rooms/v10.md, v11.md, v12.md, "Authorisation rules"), as
 * an accepted-and-refused table run against each version, plus the
 * create-event rules, the auth events selection
 * (server-server-api.md "Auth events selection") and the power helpers.
 *
 * Test JSON is written with ' for " to stay readable; the harness swaps
 * them before parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/sign.h"
#include "rooms/auth.h"
#include "rooms/redact.h"
#include "util/base64.h"

#define V10 1u
#define V11 2u
#define V12 4u
#define ALL (V10 | V11 | V12)
#define NONE 0u

static const char *const version_ids[] = { "10", "11", "12" };

static json_t *parse_q(const char *text)
{
    char *buf = strdup(text);
    json_error_t err;
    json_t *v;

    assert_non_null(buf);
    for (char *p = buf; *p; p++)
        if (*p == '\'')
            *p = '"';
    v = json_loads(buf, 0, &err);
    if (v == NULL)
        fail_msg("bad test JSON (%s): %s", err.text, buf);
    free(buf);
    return v;
}

/* The room every table case starts from. alice created it (v12: with
 * additional creator @co:c.org); admin has 100, mod and mod2 50, bob and
 * co the default 0; all of them are joined; join rule invite. */
struct room {
    const struct room_version *rv;
    json_t *create;
    char room_id[128];
    char create_id[128];
    struct state_map *state;
};

static json_t *room_create_event(const struct room_version *rv)
{
    json_t *c;

    if (rv->auth == ROOM_AUTH_V10)
        c = parse_q("{'type':'m.room.create','state_key':'','sender':'@alice:a.org',"
                    "'room_id':'!room:a.org','content':{'creator':'@alice:a.org',"
                    "'room_version':'10'},'prev_events':[],'auth_events':[],"
                    "'depth':1,'origin_server_ts':1}");
    else if (rv->auth == ROOM_AUTH_V11)
        c = parse_q("{'type':'m.room.create','state_key':'','sender':'@alice:a.org',"
                    "'room_id':'!room:a.org','content':{'room_version':'11'},"
                    "'prev_events':[],'auth_events':[],'depth':1,'origin_server_ts':1}");
    else
        c = parse_q("{'type':'m.room.create','state_key':'','sender':'@alice:a.org',"
                    "'content':{'room_version':'12','additional_creators':['@co:c.org']},"
                    "'prev_events':[],'auth_events':[],'depth':1,'origin_server_ts':1}");
    return c;
}

/* Fill the PDU fields a test event leaves out. */
static void event_complete(const struct room *r, json_t *ev)
{
    const char *sender = json_string_value(json_object_get(ev, "sender"));
    const char *dom = sender ? strchr(sender, ':') : NULL;

    if (!json_object_get(ev, "room_id"))
        json_object_set_new(ev, "room_id", json_string(r->room_id));
    if (!json_object_get(ev, "prev_events"))
        json_object_set_new(ev, "prev_events", json_pack("[s]", "$prev"));
    if (!json_object_get(ev, "auth_events"))
        json_object_set_new(ev, "auth_events", json_array());
    if (!json_object_get(ev, "depth"))
        json_object_set_new(ev, "depth", json_integer(5));
    if (!json_object_get(ev, "origin_server_ts"))
        json_object_set_new(ev, "origin_server_ts", json_integer(100));
    if (!json_object_get(ev, "signatures") && dom != NULL)
        json_object_set_new(ev, "signatures",
            json_pack("{s:{s:s}}", dom + 1, "ed25519:x", "sig"));
}

static void room_put(struct room *r, const char *text)
{
    json_t *ev = parse_q(text);

    event_complete(r, ev);
    assert_int_equal(state_map_set_event(r->state, ev), 0);
    json_decref(ev);
}

static const char *const base_state[] = {
    "{'type':'m.room.power_levels','state_key':'','sender':'@alice:a.org','content':"
    "{'users':{'@admin:a.org':100,'@mod:a.org':50,'@mod2:a.org':50}}}",
    "{'type':'m.room.join_rules','state_key':'','sender':'@alice:a.org',"
    "'content':{'join_rule':'invite'}}",
    "{'type':'m.room.member','state_key':'@alice:a.org','sender':'@alice:a.org','content':{'membership':'join'}}",
    "{'type':'m.room.member','state_key':'@admin:a.org','sender':'@admin:a.org','content':{'membership':'join'}}",
    "{'type':'m.room.member','state_key':'@mod:a.org','sender':'@mod:a.org','content':{'membership':'join'}}",
    "{'type':'m.room.member','state_key':'@mod2:a.org','sender':'@mod2:a.org','content':{'membership':'join'}}",
    "{'type':'m.room.member','state_key':'@bob:a.org','sender':'@bob:a.org','content':{'membership':'join'}}",
    "{'type':'m.room.member','state_key':'@co:c.org','sender':'@co:c.org','content':{'membership':'join'}}",
    NULL,
};

static void room_init(struct room *r, const struct room_version *rv, bool base)
{
    char *id;

    memset(r, 0, sizeof *r);
    r->rv = rv;
    r->create = room_create_event(rv);
    r->state = state_map_new();
    assert_non_null(r->state);
    id = event_compute_id(rv, r->create);
    assert_non_null(id);
    snprintf(r->create_id, sizeof r->create_id, "%s", id);
    if (rv->room_id_from_create)
        snprintf(r->room_id, sizeof r->room_id, "!%s", id + 1);
    else
        snprintf(r->room_id, sizeof r->room_id, "!room:a.org");
    free(id);
    assert_int_equal(state_map_set_event(r->state, r->create), 0);
    for (size_t i = 0; base && base_state[i] != NULL; i++)
        room_put(r, base_state[i]);
}

static void room_fini(struct room *r)
{
    state_map_free(r->state);
    json_decref(r->create);
}

/* One row: extra state on top of the base room, the event under test, and
 * the versions in which it must be allowed (refused in the others). */
struct auth_case {
    const char *name;
    const char *state[4];
    const char *event;
    unsigned allowed_in;
};

#define MEMBER(user, sender, m) \
    "{'type':'m.room.member','state_key':'" user "','sender':'" sender \
    "','content':{'membership':'" m "'}}"
#define JOIN_RULE(rule) \
    "{'type':'m.room.join_rules','state_key':'','sender':'@admin:a.org'," \
    "'content':{'join_rule':'" rule "'}}"
#define PL(users_and_more) \
    "{'type':'m.room.power_levels','state_key':'','sender':'@admin:a.org'," \
    "'content':{" users_and_more "}}"
#define BASE_USERS "'users':{'@admin:a.org':100,'@mod:a.org':50,'@mod2:a.org':50}"
#define RESTRICTED_JOIN(via) \
    "{'type':'m.room.member','state_key':'@carol:c.org','sender':'@carol:c.org'," \
    "'content':{'membership':'join','join_authorised_via_users_server':'" via "'}," \
    "'signatures':{'c.org':{'ed25519:x':'s'},'a.org':{'ed25519:y':'s'}}}"

static const struct auth_case cases[] = {
    /* --- joins (rule 4.3) --- */
    { "public join by a newcomer (4.3.6)", { JOIN_RULE("public") },
      MEMBER("@carol:c.org", "@carol:c.org", "join"), ALL },
    { "invite-only join without invite (4.3.4, 4.3.7)", { NULL },
      MEMBER("@carol:c.org", "@carol:c.org", "join"), NONE },
    { "invite-only join after invite (4.3.4)",
      { MEMBER("@carol:c.org", "@bob:a.org", "invite") },
      MEMBER("@carol:c.org", "@carol:c.org", "join"), ALL },
    { "knock room join without invite (4.3.4)", { JOIN_RULE("knock") },
      MEMBER("@carol:c.org", "@carol:c.org", "join"), NONE },
    { "knock room join after invite (4.3.4)",
      { JOIN_RULE("knock"), MEMBER("@carol:c.org", "@bob:a.org", "invite") },
      MEMBER("@carol:c.org", "@carol:c.org", "join"), ALL },
    { "join while banned, even public (4.3.3)",
      { JOIN_RULE("public"), MEMBER("@carol:c.org", "@mod:a.org", "ban") },
      MEMBER("@carol:c.org", "@carol:c.org", "join"), NONE },
    { "join for someone else (4.3.2)", { JOIN_RULE("public") },
      MEMBER("@carol:c.org", "@bob:a.org", "join"), NONE },
    { "restricted join authorised by joined bob (4.3.5.3)",
      { JOIN_RULE("restricted") }, RESTRICTED_JOIN("@bob:a.org"), ALL },
    { "knock_restricted join authorised by bob (4.3.5.3)",
      { JOIN_RULE("knock_restricted") }, RESTRICTED_JOIN("@bob:a.org"), ALL },
    { "restricted join via a user who is not joined (4.3.5.2)",
      { JOIN_RULE("restricted") }, RESTRICTED_JOIN("@zed:a.org"), NONE },
    { "restricted join via a user below the invite level (4.3.5.2)",
      { JOIN_RULE("restricted"), PL(BASE_USERS ",'invite':10") },
      RESTRICTED_JOIN("@bob:a.org"), NONE },
    { "restricted join without an authoriser (4.3.5.2)",
      { JOIN_RULE("restricted") }, MEMBER("@carol:c.org", "@carol:c.org", "join"),
      NONE },
    { "restricted join, authorising server did not sign (4.2.1)",
      { JOIN_RULE("restricted") },
      "{'type':'m.room.member','state_key':'@carol:c.org','sender':'@carol:c.org',"
      "'content':{'membership':'join','join_authorised_via_users_server':'@bob:a.org'}}",
      NONE },
    { "restricted join of an invited user needs no authoriser (4.3.5.1)",
      { JOIN_RULE("restricted"), MEMBER("@carol:c.org", "@bob:a.org", "invite") },
      MEMBER("@carol:c.org", "@carol:c.org", "join"), ALL },
    { "unknown join rule (4.3.7)", { JOIN_RULE("private") },
      MEMBER("@carol:c.org", "@carol:c.org", "join"), NONE },
    /* --- invites (rule 4.4) --- */
    { "invite by a joined user at the invite level (4.4.4)", { NULL },
      MEMBER("@carol:c.org", "@bob:a.org", "invite"), ALL },
    { "invite below the invite level (4.4.5)", { PL(BASE_USERS ",'invite':50") },
      MEMBER("@carol:c.org", "@bob:a.org", "invite"), NONE },
    { "invite by a user not in the room (4.4.2)", { NULL },
      MEMBER("@carol:c.org", "@dave:d.org", "invite"), NONE },
    { "invite of a banned user (4.4.3)",
      { MEMBER("@carol:c.org", "@mod:a.org", "ban") },
      MEMBER("@carol:c.org", "@admin:a.org", "invite"), NONE },
    { "invite of a joined user (4.4.3)", { NULL },
      MEMBER("@mod:a.org", "@admin:a.org", "invite"), NONE },
    /* --- leave and kick (rule 4.5) --- */
    { "joined user leaves (4.5.1)", { NULL },
      MEMBER("@bob:a.org", "@bob:a.org", "leave"), ALL },
    { "outsider 'leaves' (4.5.1)", { NULL },
      MEMBER("@carol:c.org", "@carol:c.org", "leave"), NONE },
    { "knocker rescinds the knock (4.5.1)",
      { MEMBER("@carol:c.org", "@carol:c.org", "knock") },
      MEMBER("@carol:c.org", "@carol:c.org", "leave"), ALL },
    { "invitee rejects the invite (4.5.1)",
      { MEMBER("@carol:c.org", "@bob:a.org", "invite") },
      MEMBER("@carol:c.org", "@carol:c.org", "leave"), ALL },
    { "moderator kicks bob (4.5.4)", { NULL },
      MEMBER("@bob:a.org", "@mod:a.org", "leave"), ALL },
    { "bob (0) tries to kick the moderator (4.5.5)", { NULL },
      MEMBER("@mod:a.org", "@bob:a.org", "leave"), NONE },
    { "moderator kicks an equal moderator (4.5.5)", { NULL },
      MEMBER("@mod2:a.org", "@mod:a.org", "leave"), NONE },
    { "kick by someone not joined (4.5.2)",
      { MEMBER("@mod:a.org", "@mod:a.org", "leave") },
      MEMBER("@bob:a.org", "@mod:a.org", "leave"), NONE },
    { "unban by a moderator below the ban level (4.5.3)",
      { PL(BASE_USERS ",'ban':60"), MEMBER("@carol:c.org", "@admin:a.org", "ban") },
      MEMBER("@carol:c.org", "@mod:a.org", "leave"), NONE },
    { "unban by admin (4.5.4)", { MEMBER("@carol:c.org", "@mod:a.org", "ban") },
      MEMBER("@carol:c.org", "@admin:a.org", "leave"), ALL },
    /* --- ban (rule 4.6) --- */
    { "moderator bans bob (4.6.2)", { NULL },
      MEMBER("@bob:a.org", "@mod:a.org", "ban"), ALL },
    { "bob tries to ban (4.6.3)", { NULL },
      MEMBER("@carol:c.org", "@bob:a.org", "ban"), NONE },
    { "ban by someone not joined (4.6.1)",
      { PL("'users':{'@dave:d.org':100}") },
      MEMBER("@bob:a.org", "@dave:d.org", "ban"), NONE },
    { "moderator bans the admin (4.6.3)", { NULL },
      MEMBER("@admin:a.org", "@mod:a.org", "ban"), NONE },
    /* --- knock (rule 4.7) --- */
    { "knock on a knock room (4.7.3)", { JOIN_RULE("knock") },
      MEMBER("@carol:c.org", "@carol:c.org", "knock"), ALL },
    { "knock on a knock_restricted room (4.7.3)", { JOIN_RULE("knock_restricted") },
      MEMBER("@carol:c.org", "@carol:c.org", "knock"), ALL },
    { "knock on a public room (4.7.1)", { JOIN_RULE("public") },
      MEMBER("@carol:c.org", "@carol:c.org", "knock"), NONE },
    { "knock by a joined member (4.7.4)", { JOIN_RULE("knock") },
      MEMBER("@bob:a.org", "@bob:a.org", "knock"), NONE },
    { "knock for someone else (4.7.2)", { JOIN_RULE("knock") },
      MEMBER("@carol:c.org", "@bob:a.org", "knock"), NONE },
    /* --- malformed membership (rules 4.1, 4.8) --- */
    { "unknown membership (4.8)", { NULL },
      MEMBER("@bob:a.org", "@bob:a.org", "dance"), NONE },
    { "member event without membership (4.1)", { NULL },
      "{'type':'m.room.member','state_key':'@bob:a.org','sender':'@bob:a.org','content':{}}",
      NONE },
    /* --- other events (rules 5 to 8) --- */
    { "message from a joined user (10)", { NULL },
      "{'type':'m.room.message','sender':'@bob:a.org','content':{'body':'hi'}}", ALL },
    { "message from a user not in the room (5)", { NULL },
      "{'type':'m.room.message','sender':'@carol:c.org','content':{'body':'hi'}}", NONE },
    { "message below events_default (7)", { PL(BASE_USERS ",'events_default':10") },
      "{'type':'m.room.message','sender':'@bob:a.org','content':{}}", NONE },
    { "state event below state_default 50 (7)", { NULL },
      "{'type':'m.room.name','state_key':'','sender':'@bob:a.org','content':{'name':'x'}}",
      NONE },
    { "state event at state_default (7)", { NULL },
      "{'type':'m.room.name','state_key':'','sender':'@mod:a.org','content':{'name':'x'}}",
      ALL },
    { "state_key naming another user (8)", { NULL },
      "{'type':'org.example','state_key':'@bob:a.org','sender':'@mod:a.org','content':{}}",
      NONE },
    { "state_key naming the sender (8)", { NULL },
      "{'type':'org.example','state_key':'@mod:a.org','sender':'@mod:a.org','content':{}}",
      ALL },
    { "m.room.third_party_invite at the invite level (6)", { NULL },
      "{'type':'m.room.third_party_invite','state_key':'tok','sender':'@bob:a.org',"
      "'content':{'display_name':'c','public_key':'AAAA'}}", ALL },
    { "m.room.third_party_invite below the invite level (6)",
      { PL(BASE_USERS ",'invite':5") },
      "{'type':'m.room.third_party_invite','state_key':'tok','sender':'@bob:a.org',"
      "'content':{}}", NONE },
    { "redaction needs no redact level (note under the rules)", { NULL },
      "{'type':'m.room.redaction','sender':'@bob:a.org','redacts':'$x',"
      "'content':{'redacts':'$x'}}", ALL },
    { "redaction type given a level in events (7)",
      { PL(BASE_USERS ",'events':{'m.room.redaction':50}") },
      "{'type':'m.room.redaction','sender':'@bob:a.org','content':{'redacts':'$x'}}",
      NONE },
    /* --- power levels (rule 9; v12 rule 10) --- */
    { "power levels with a string level (9.1)", { NULL },
      PL(BASE_USERS ",'ban':'50'"), NONE },
    { "power levels with a float level (9.1)", { NULL },
      PL(BASE_USERS ",'kick':50.0"), NONE },
    { "power levels with a non-integer events value (9.2)", { NULL },
      PL(BASE_USERS ",'events':{'m.room.name':'50'}"), NONE },
    { "power levels users key not a user ID (9.3)", { NULL },
      PL("'users':{'@admin:a.org':100,'@mod:a.org':50,'@mod2:a.org':50,'bob':1}"),
      NONE },
    { "admin rewrites levels freely below own (9.10)", { NULL },
      PL("'users':{'@admin:a.org':100,'@mod:a.org':20,'@bob:a.org':99},'ban':70"),
      ALL },
    { "moderator raises bob to own level (9.9)", { NULL },
      "{'type':'m.room.power_levels','state_key':'','sender':'@mod:a.org','content':"
      "{'users':{'@admin:a.org':100,'@mod:a.org':50,'@mod2:a.org':50,'@bob:a.org':50}}}",
      ALL },
    { "moderator raises bob above own level (9.9)", { NULL },
      "{'type':'m.room.power_levels','state_key':'','sender':'@mod:a.org','content':"
      "{'users':{'@admin:a.org':100,'@mod:a.org':50,'@mod2:a.org':50,'@bob:a.org':51}}}",
      NONE },
    { "moderator raises self (9.9)", { NULL },
      "{'type':'m.room.power_levels','state_key':'','sender':'@mod:a.org','content':"
      "{'users':{'@admin:a.org':100,'@mod:a.org':100,'@mod2:a.org':50}}}", NONE },
    { "moderator demotes an equal moderator (9.8)", { NULL },
      "{'type':'m.room.power_levels','state_key':'','sender':'@mod:a.org','content':"
      "{'users':{'@admin:a.org':100,'@mod:a.org':50}}}", NONE },
    { "moderator demotes self (9.8 skips own entry)", { NULL },
      "{'type':'m.room.power_levels','state_key':'','sender':'@mod:a.org','content':"
      "{'users':{'@admin:a.org':100,'@mod:a.org':10,'@mod2:a.org':50}}}", ALL },
    { "moderator lowers ban from default 50 to 40 (9.5)", { PL(BASE_USERS ",'ban':50") },
      "{'type':'m.room.power_levels','state_key':'','sender':'@mod:a.org','content':"
      "{" BASE_USERS ",'ban':40}}", ALL },
    { "moderator raises kick above own level (9.5.2)", { NULL },
      "{'type':'m.room.power_levels','state_key':'','sender':'@mod:a.org','content':"
      "{" BASE_USERS ",'kick':60}}", NONE },
    { "moderator lowers a level set above own (9.5.1)", { PL(BASE_USERS ",'redact':80") },
      "{'type':'m.room.power_levels','state_key':'','sender':'@mod:a.org','content':"
      "{" BASE_USERS ",'redact':10}}", NONE },
    { "moderator removes an events entry above own (9.6)",
      { PL(BASE_USERS ",'events':{'m.room.tombstone':100}") },
      "{'type':'m.room.power_levels','state_key':'','sender':'@mod:a.org','content':"
      "{" BASE_USERS ",'events':{}}}", NONE },
    { "moderator adds an events entry above own (9.7)", { NULL },
      "{'type':'m.room.power_levels','state_key':'','sender':'@mod:a.org','content':"
      "{" BASE_USERS ",'events':{'m.room.name':70}}}", NONE },
    { "moderator changes notifications within own level (9.6, 9.7)",
      { PL(BASE_USERS ",'notifications':{'room':50}") },
      "{'type':'m.room.power_levels','state_key':'','sender':'@mod:a.org','content':"
      "{" BASE_USERS ",'notifications':{'room':20}}}", ALL },
    { "bob (0) sends power levels (7: state_default 50)", { NULL },
      "{'type':'m.room.power_levels','state_key':'','sender':'@bob:a.org','content':"
      "{" BASE_USERS "}}", NONE },
    /* --- creators (v12: infinite power, rule 10.4) --- */
    { "power levels naming the creator in users (v12 10.4)", { NULL },
      PL("'users':{'@admin:a.org':100,'@alice:a.org':100}"), V10 | V11 },
    { "power levels naming an additional creator (v12 10.4)", { NULL },
      PL("'users':{'@admin:a.org':100,'@co:c.org':0}"), V10 | V11 },
    { "creator not listed in power levels kicks the admin", { NULL },
      MEMBER("@admin:a.org", "@alice:a.org", "leave"), V12 },
    { "additional creator bans the admin", { NULL },
      MEMBER("@admin:a.org", "@co:c.org", "ban"), V12 },
    { "user at 101 bans the creator",
      { PL("'users':{'@admin:a.org':101}") },
      MEMBER("@alice:a.org", "@admin:a.org", "ban"), V10 | V11 },
    { "additional creator kicks the creator (equal, infinite)", { NULL },
      MEMBER("@alice:a.org", "@co:c.org", "leave"), NONE },
    { "creator not listed in power levels sets a huge ban level", { NULL },
      "{'type':'m.room.power_levels','state_key':'','sender':'@alice:a.org','content':"
      "{'users':{'@admin:a.org':100},'ban':1000000}}", V12 },
};

static void run_case(const struct auth_case *c, unsigned vbit, const char *ver)
{
    struct room r;
    json_t *ev;
    char why[256];
    int rc;

    room_init(&r, room_version_get(ver), true);
    for (size_t i = 0; i < 4 && c->state[i] != NULL; i++)
        room_put(&r, c->state[i]);
    ev = parse_q(c->event);
    event_complete(&r, ev);
    rc = auth_check_event(r.rv, ev, r.state, why, sizeof why);
    if ((c->allowed_in & vbit) && rc != 0)
        fail_msg("v%s: \"%s\" refused: %s", ver, c->name, why);
    if (!(c->allowed_in & vbit) && rc == 0)
        fail_msg("v%s: \"%s\" allowed", ver, c->name);
    if (rc != 0)
        assert_true(why[0] != '\0'); /* every refusal says why */
    json_decref(ev);
    room_fini(&r);
}

static void test_table(void **state)
{
    size_t n = sizeof cases / sizeof cases[0];
    (void)state;

    for (size_t i = 0; i < n; i++)
        for (unsigned v = 0; v < 3; v++)
            run_case(&cases[i], 1u << v, version_ids[v]);
    print_message("%zu auth cases x 3 versions\n", n);
}

/* Check one event in a room, expecting allowed (0) or refused (-1). */
static void expect(struct room *r, const char *event_text, int want)
{
    json_t *ev = parse_q(event_text);
    char why[256] = "";
    int rc;

    event_complete(r, ev);
    rc = auth_check_event(r->rv, ev, r->state, why, sizeof why);
    if (rc != want)
        fail_msg("v%s: %s -> %d (%s)", r->rv->id, event_text, rc, why);
    json_decref(ev);
}

static void test_federate_false(void **state)
{
    (void)state;
    for (unsigned v = 0; v < 3; v++) {
        struct room r;
        room_init(&r, room_version_get(version_ids[v]), false);
        /* Rule 3: m.federate false and a sender domain other than the
         * create event's sender domain: reject. */
        json_object_set_new(json_object_get(r.create, "content"), "m.federate",
                            json_false());
        if (r.rv->room_id_from_create) { /* the create event changed */
            char *id = event_compute_id(r.rv, r.create);
            snprintf(r.room_id, sizeof r.room_id, "!%s", id + 1);
            free(id);
        }
        for (size_t i = 0; base_state[i] != NULL; i++)
            room_put(&r, base_state[i]);
        room_put(&r, JOIN_RULE("public"));
        room_put(&r, MEMBER("@eve:e.org", "@eve:e.org", "join"));
        expect(&r, "{'type':'m.room.message','sender':'@eve:e.org','content':{}}", -1);
        expect(&r, MEMBER("@dave:d.org", "@dave:d.org", "join"), -1);
        expect(&r, "{'type':'m.room.message','sender':'@bob:a.org','content':{}}", 0);
        expect(&r, MEMBER("@new:a.org", "@new:a.org", "join"), 0);
        room_fini(&r);
    }
}

static void test_first_join(void **state)
{
    char ev[512];
    (void)state;
    for (unsigned v = 0; v < 3; v++) {
        struct room r;
        room_init(&r, room_version_get(version_ids[v]), false);
        /* 4.3.1: "If the only previous event is an m.room.create and the
         * state_key is the creator/sender of the m.room.create, allow." */
        snprintf(ev, sizeof ev, "{'type':'m.room.member','state_key':'@alice:a.org',"
                 "'sender':'@alice:a.org','prev_events':['%s'],"
                 "'content':{'membership':'join'}}", r.create_id);
        expect(&r, ev, 0);
        /* Anyone else: no join rules event, so not allowed. */
        snprintf(ev, sizeof ev, "{'type':'m.room.member','state_key':'@bob:a.org',"
                 "'sender':'@bob:a.org','prev_events':['%s'],"
                 "'content':{'membership':'join'}}", r.create_id);
        expect(&r, ev, -1);
        /* v12: an additional creator is not "the sender of the create". */
        snprintf(ev, sizeof ev, "{'type':'m.room.member','state_key':'@co:c.org',"
                 "'sender':'@co:c.org','prev_events':['%s'],"
                 "'content':{'membership':'join'}}", r.create_id);
        expect(&r, ev, -1);
        /* The creator, but the previous event is not the create event. */
        expect(&r, "{'type':'m.room.member','state_key':'@alice:a.org',"
               "'sender':'@alice:a.org','prev_events':['$other'],"
               "'content':{'membership':'join'}}", -1);
        room_fini(&r);
    }
}

static int check_json(const char *ver, const char *text)
{
    json_t *ev = parse_q(text);
    struct state_map *empty = state_map_new();
    char why[256];
    int rc = auth_check_event(room_version_get(ver), ev, empty, why, sizeof why);

    json_decref(ev);
    state_map_free(empty);
    return rc;
}

static void test_create_event(void **state)
{
    (void)state;
    /* Rule 1 of each version, checked on the create event alone. */
    assert_int_equal(check_json("10", "{'type':'m.room.create','state_key':'',"
        "'sender':'@a:x.org','room_id':'!r:x.org','content':{'creator':'@a:x.org'}}"), 0);
    /* v10 1.4: no creator. v11 dropped the rule. */
    assert_int_equal(check_json("10", "{'type':'m.room.create','state_key':'',"
        "'sender':'@a:x.org','room_id':'!r:x.org','content':{}}"), -1);
    assert_int_equal(check_json("11", "{'type':'m.room.create','state_key':'',"
        "'sender':'@a:x.org','room_id':'!r:x.org','content':{}}"), 0);
    /* 1.1: prev_events. */
    assert_int_equal(check_json("11", "{'type':'m.room.create','state_key':'',"
        "'sender':'@a:x.org','room_id':'!r:x.org','content':{},'prev_events':['$p']}"), -1);
    /* 1.2 (v10, v11): room_id domain differs from the sender's. */
    assert_int_equal(check_json("11", "{'type':'m.room.create','state_key':'',"
        "'sender':'@a:x.org','room_id':'!r:y.org','content':{}}"), -1);
    /* v12 1.2: "If the event has a room_id, reject." */
    assert_int_equal(check_json("12", "{'type':'m.room.create','state_key':'',"
        "'sender':'@a:x.org','room_id':'!r:x.org','content':{}}"), -1);
    assert_int_equal(check_json("12", "{'type':'m.room.create','state_key':'',"
        "'sender':'@a:x.org','content':{'room_version':'12'}}"), 0);
    /* 1.3: unrecognised room_version. */
    assert_int_equal(check_json("12", "{'type':'m.room.create','state_key':'',"
        "'sender':'@a:x.org','content':{'room_version':'99'}}"), -1);
    assert_int_equal(check_json("11", "{'type':'m.room.create','state_key':'',"
        "'sender':'@a:x.org','room_id':'!r:x.org','content':{'room_version':11}}"), -1);
    /* v12 1.4: additional_creators must be an array of valid user IDs. */
    assert_int_equal(check_json("12", "{'type':'m.room.create','state_key':'',"
        "'sender':'@a:x.org','content':{'additional_creators':['@b:y.org']}}"), 0);
    assert_int_equal(check_json("12", "{'type':'m.room.create','state_key':'',"
        "'sender':'@a:x.org','content':{'additional_creators':['b']}}"), -1);
    assert_int_equal(check_json("12", "{'type':'m.room.create','state_key':'',"
        "'sender':'@a:x.org','content':{'additional_creators':'@b:y.org'}}"), -1);
    assert_int_equal(check_json("12", "{'type':'m.room.create','state_key':'',"
        "'sender':'@a:x.org','content':{'additional_creators':[5]}}"), -1);
    /* Not an event at all, or no sender. */
    assert_int_equal(check_json("12", "{'type':'m.room.create','content':{}}"), -1);
    assert_int_equal(check_json("12", "{}"), -1);
}

static void test_room_binding(void **state)
{
    struct room r;
    json_t *ev;
    (void)state;

    room_init(&r, room_version_get("12"), true);
    /* v12 rule 2: the room ID must be the create event's ID with "!". */
    expect(&r, "{'type':'m.room.message','sender':'@bob:a.org','content':{}}", 0);
    expect(&r, "{'type':'m.room.message','sender':'@bob:a.org','content':{},"
           "'room_id':'!notthecreate'}", -1);
    expect(&r, "{'type':'m.room.message','sender':'@bob:a.org','content':{},"
           "'room_id':'$x'}", -1);
    /* No create event in the auth state at all: refused, any version. */
    state_map_remove(r.state, "m.room.create", "");
    expect(&r, "{'type':'m.room.message','sender':'@bob:a.org','content':{}}", -1);
    room_fini(&r);
    /* Hostile shapes never crash and are refused. */
    room_init(&r, room_version_get("11"), true);
    expect(&r, "{'type':'m.room.message','sender':5,'content':{}}", -1);
    expect(&r, "{'type':'m.room.message','sender':'bob','content':{}}", -1);
    expect(&r, "{'type':'m.room.member','state_key':7,'sender':'@bob:a.org',"
           "'content':{'membership':'leave'}}", -1);
    expect(&r, "{'type':'m.room.member','state_key':'@bob:a.org','sender':'@bob:a.org',"
           "'content':'leave'}", -1);
    ev = parse_q("[1]");
    assert_int_equal(auth_check_event(r.rv, ev, r.state, NULL, 0), -1);
    assert_int_equal(auth_check_event(NULL, ev, r.state, NULL, 0), -1);
    json_decref(ev);
    room_fini(&r);
}

static void test_no_join_rules(void **state)
{
    struct room r;
    (void)state;

    /* Without m.room.join_rules the room is invite-only. */
    room_init(&r, room_version_get("11"), true);
    state_map_remove(r.state, "m.room.join_rules", "");
    expect(&r, MEMBER("@carol:c.org", "@carol:c.org", "join"), -1);
    room_put(&r, MEMBER("@carol:c.org", "@bob:a.org", "invite"));
    expect(&r, MEMBER("@carol:c.org", "@carol:c.org", "join"), 0);
    /* Nor does a join rules event without a join_rule open it; one whose
     * join_rule is not a string lets nobody in, invited or not. */
    room_put(&r, "{'type':'m.room.join_rules','state_key':'','sender':'@admin:a.org',"
             "'content':{}}");
    expect(&r, MEMBER("@carol:c.org", "@carol:c.org", "join"), 0);
    expect(&r, MEMBER("@dan:c.org", "@dan:c.org", "join"), -1);
    room_put(&r, "{'type':'m.room.join_rules','state_key':'','sender':'@admin:a.org',"
             "'content':{'join_rule':['public']}}");
    expect(&r, MEMBER("@carol:c.org", "@carol:c.org", "join"), -1);
    expect(&r, MEMBER("@dan:c.org", "@dan:c.org", "join"), -1);
    room_fini(&r);
}

/* A member invite carrying a third-party invite signed by `key` as
 * entity id.example (rule 4.4.1). */
static json_t *tpi_invite(const struct room *r, const struct signing_key *key,
                          const char *mxid, const char *token)
{
    json_t *signed_obj = json_pack("{s:s,s:s,s:s}", "mxid", mxid, "token", token,
                                   "sender", "@bob:a.org");
    json_t *ev;

    assert_int_equal(json_sign(signed_obj, "id.example", key), 0);
    ev = json_pack("{s:s,s:s,s:s,s:{s:s,s:{s:s,s:o}}}", "type", "m.room.member",
                   "state_key", "@carol:c.org", "sender", "@bob:a.org",
                   "content", "membership", "invite", "third_party_invite",
                   "display_name", "c...", "signed", signed_obj);
    event_complete(r, ev);
    return ev;
}

static void test_third_party_invite(void **state)
{
    static const unsigned char seed1[32] = { 1 }, seed2[32] = { 2 };
    struct signing_key k1, k2;
    struct room r;
    json_t *ev;
    char *pk1, tpi[512], why[256];
    (void)state;

    assert_int_equal(signing_key_from_seed(&k1, "0", seed1), 0);
    assert_int_equal(signing_key_from_seed(&k2, "0", seed2), 0);
    pk1 = signing_key_public_b64(&k1);
    room_init(&r, room_version_get("11"), true);
    snprintf(tpi, sizeof tpi, "{'type':'m.room.third_party_invite','state_key':'tok',"
             "'sender':'@bob:a.org','content':{'display_name':'c',"
             "'public_keys':[{'public_key':'bogus'},{'public_key':'%s'}]}}", pk1);
    room_put(&r, tpi);
    /* 4.4.1.7: a signature matching a key of the m.room.third_party_invite. */
    ev = tpi_invite(&r, &k1, "@carol:c.org", "tok");
    assert_int_equal(auth_check_event(r.rv, ev, r.state, why, sizeof why), 0);
    /* Sent by someone other than the m.room.third_party_invite sender (4.4.1.6). */
    json_object_set_new(ev, "sender", json_string("@mod:a.org"));
    assert_int_equal(auth_check_event(r.rv, ev, r.state, why, sizeof why), -1);
    json_decref(ev);
    /* Signed by a key the invite does not list (4.4.1.8). */
    ev = tpi_invite(&r, &k2, "@carol:c.org", "tok");
    assert_int_equal(auth_check_event(r.rv, ev, r.state, why, sizeof why), -1);
    json_decref(ev);
    /* Tampered after signing. */
    ev = tpi_invite(&r, &k1, "@carol:c.org", "tok");
    json_object_set_new(json_object_get(json_object_get(json_object_get(ev, "content"),
        "third_party_invite"), "signed"), "sender", json_string("@x:a.org"));
    assert_int_equal(auth_check_event(r.rv, ev, r.state, why, sizeof why), -1);
    json_decref(ev);
    /* mxid differs from state_key (4.4.1.4); unknown token (4.4.1.5). */
    ev = tpi_invite(&r, &k1, "@other:c.org", "tok");
    assert_int_equal(auth_check_event(r.rv, ev, r.state, why, sizeof why), -1);
    json_decref(ev);
    ev = tpi_invite(&r, &k1, "@carol:c.org", "nope");
    assert_int_equal(auth_check_event(r.rv, ev, r.state, why, sizeof why), -1);
    json_decref(ev);
    /* No signed (4.4.1.2); target banned (4.4.1.1). */
    expect(&r, "{'type':'m.room.member','state_key':'@carol:c.org','sender':'@bob:a.org',"
           "'content':{'membership':'invite','third_party_invite':{'display_name':'x'}}}", -1);
    room_put(&r, MEMBER("@carol:c.org", "@mod:a.org", "ban"));
    ev = tpi_invite(&r, &k1, "@carol:c.org", "tok");
    assert_int_equal(auth_check_event(r.rv, ev, r.state, why, sizeof why), -1);
    json_decref(ev);
    free(pk1);
    signing_key_wipe(&k1);
    signing_key_wipe(&k2);
    room_fini(&r);
}

static bool sel_has(const struct auth_key *k, size_t n, const char *t, const char *sk)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(k[i].type, t) == 0 && strcmp(k[i].state_key, sk) == 0)
            return true;
    return false;
}

static void test_selection(void **state)
{
    struct auth_key keys[AUTH_SELECTION_MAX];
    size_t n;
    json_t *ev = parse_q(RESTRICTED_JOIN("@bob:a.org"));
    (void)state;

    /* server-server-api "Auth events selection": create (by version),
     * power levels, sender's member, target's member, join rules for a
     * join, and the authorising user's member event. */
    assert_int_equal(auth_events_selection(room_version_get("11"), ev, keys, &n), 0);
    assert_int_equal(n, 5);
    assert_true(sel_has(keys, n, "m.room.create", ""));
    assert_true(sel_has(keys, n, "m.room.power_levels", ""));
    assert_true(sel_has(keys, n, "m.room.member", "@carol:c.org"));
    assert_true(sel_has(keys, n, "m.room.join_rules", ""));
    assert_true(sel_has(keys, n, "m.room.member", "@bob:a.org"));
    /* v12: "m.room.create MUST NOT be selected". */
    assert_int_equal(auth_events_selection(room_version_get("12"), ev, keys, &n), 0);
    assert_int_equal(n, 4);
    assert_false(sel_has(keys, n, "m.room.create", ""));
    json_decref(ev);
    /* A kick: sender's and target's member, no join rules. */
    ev = parse_q(MEMBER("@bob:a.org", "@mod:a.org", "leave"));
    assert_int_equal(auth_events_selection(room_version_get("10"), ev, keys, &n), 0);
    assert_int_equal(n, 4);
    assert_false(sel_has(keys, n, "m.room.join_rules", ""));
    json_decref(ev);
    /* A message: create, power levels, sender. The create event: none. */
    ev = parse_q("{'type':'m.room.message','sender':'@bob:a.org','content':{}}");
    assert_int_equal(auth_events_selection(room_version_get("11"), ev, keys, &n), 0);
    assert_int_equal(n, 3);
    json_decref(ev);
    ev = parse_q("{'type':'m.room.create','state_key':'','sender':'@a:a.org','content':{}}");
    assert_int_equal(auth_events_selection(room_version_get("11"), ev, keys, &n), 0);
    assert_int_equal(n, 0);
    json_decref(ev);
    ev = parse_q("{'type':'m.room.message','content':{}}");
    assert_int_equal(auth_events_selection(room_version_get("11"), ev, keys, &n), -1);
    json_decref(ev);
}

static void test_auth_events_check(void **state)
{
    struct room r;
    json_t *ev, *list[4], *other;
    char why[256];
    (void)state;

    room_init(&r, room_version_get("11"), true);
    ev = parse_q("{'type':'m.room.message','sender':'@bob:a.org','content':{}}");
    event_complete(&r, ev);
    list[0] = r.create;
    list[1] = state_map_get(r.state, "m.room.power_levels", "");
    list[2] = state_map_get(r.state, "m.room.member", "@bob:a.org");
    assert_int_equal(auth_check_auth_events(r.rv, ev, (const json_t *const *)list, 3,
                                            why, sizeof why), 0);
    /* 2.1 duplicate pair. */
    list[3] = list[1];
    assert_int_equal(auth_check_auth_events(r.rv, ev, (const json_t *const *)list, 4,
                                            why, sizeof why), -1);
    /* 2.2 a pair the selection does not name. */
    list[3] = state_map_get(r.state, "m.room.join_rules", "");
    assert_int_equal(auth_check_auth_events(r.rv, ev, (const json_t *const *)list, 4,
                                            why, sizeof why), -1);
    /* 2.4 no create event (v10, v11). */
    assert_int_equal(auth_check_auth_events(r.rv, ev, (const json_t *const *)list + 1, 2,
                                            why, sizeof why), -1);
    /* 2.5 an auth event from another room. */
    other = json_deep_copy(list[2]);
    json_object_set_new(other, "room_id", json_string("!else:a.org"));
    list[2] = other;
    assert_int_equal(auth_check_auth_events(r.rv, ev, (const json_t *const *)list, 3,
                                            why, sizeof why), -1);
    json_decref(other);
    json_decref(ev);
    room_fini(&r);
    /* v12: listing the create event is refused (3.2). */
    room_init(&r, room_version_get("12"), true);
    ev = parse_q("{'type':'m.room.message','sender':'@bob:a.org','content':{}}");
    event_complete(&r, ev);
    list[0] = state_map_get(r.state, "m.room.power_levels", "");
    list[1] = state_map_get(r.state, "m.room.member", "@bob:a.org");
    list[2] = r.create;
    assert_int_equal(auth_check_auth_events(r.rv, ev, (const json_t *const *)list, 2,
                                            why, sizeof why), 0);
    assert_int_equal(auth_check_auth_events(r.rv, ev, (const json_t *const *)list, 3,
                                            why, sizeof why), -1);
    json_decref(ev);
    room_fini(&r);
}

static void test_power_helpers(void **state)
{
    struct room r;
    (void)state;

    /* No power levels event: the creator has 100, others 0; state needs
     * 50 and messages 0 (m.room.power_levels schema defaults). */
    for (unsigned v = 0; v < 2; v++) {
        room_init(&r, room_version_get(version_ids[v]), false);
        assert_int_equal(auth_user_power_level(r.rv, r.state, "@alice:a.org"), 100);
        assert_int_equal(auth_user_power_level(r.rv, r.state, "@bob:a.org"), 0);
        assert_int_equal(auth_required_level_for_event(r.rv, r.state, "m.room.name", ""), 50);
        assert_int_equal(auth_required_level_for_event(r.rv, r.state, "m.room.message", NULL), 0);
        assert_int_equal(auth_named_level(r.state, "ban"), 50);
        assert_int_equal(auth_named_level(r.state, "invite"), 0);
        room_fini(&r);
    }
    /* v10 names the creator in content.creator, not the sender. */
    room_init(&r, room_version_get("10"), false);
    json_object_set_new(json_object_get(r.create, "content"), "creator",
                        json_string("@other:a.org"));
    assert_int_equal(auth_user_power_level(r.rv, r.state, "@alice:a.org"), 0);
    assert_int_equal(auth_user_power_level(r.rv, r.state, "@other:a.org"), 100);
    room_fini(&r);
    /* v12: creators are infinite with or without power levels. */
    room_init(&r, room_version_get("12"), true);
    assert_true(auth_user_power_level(r.rv, r.state, "@alice:a.org") == AUTH_POWER_INFINITE);
    assert_true(auth_user_power_level(r.rv, r.state, "@co:c.org") == AUTH_POWER_INFINITE);
    assert_int_equal(auth_user_power_level(r.rv, r.state, "@mod:a.org"), 50);
    assert_int_equal(auth_user_power_level(r.rv, r.state, "@nobody:a.org"), 0);
    assert_true(auth_is_creator(r.rv, r.state, "@co:c.org"));
    assert_false(auth_is_creator(r.rv, r.state, "@mod:a.org"));
    room_put(&r, PL(BASE_USERS ",'users_default':7,'events':{'m.room.topic':3},"
                    "'state_default':40,'events_default':2"));
    assert_int_equal(auth_user_power_level(r.rv, r.state, "@nobody:a.org"), 7);
    assert_int_equal(auth_required_level_for_event(r.rv, r.state, "m.room.topic", ""), 3);
    assert_int_equal(auth_required_level_for_event(r.rv, r.state, "m.room.name", ""), 40);
    assert_int_equal(auth_required_level_for_event(r.rv, r.state, "m.x", NULL), 2);
    assert_string_equal(auth_membership(r.state, "@bob:a.org"), "join");
    assert_null(auth_membership(r.state, "@nobody:a.org"));
    room_fini(&r);
}

static void test_redaction_applies(void **state)
{
    (void)state;
    for (unsigned v = 0; v < 3; v++) {
        struct room r;
        json_t *red, *orig_same, *orig_other;
        room_init(&r, room_version_get(version_ids[v]), true);
        red = parse_q("{'type':'m.room.redaction','sender':'@bob:a.org','content':{}}");
        orig_same = parse_q("{'type':'m.room.message','sender':'@x:a.org'}");
        orig_other = parse_q("{'type':'m.room.message','sender':'@co:c.org'}");
        /* v3-handling-redactions: bob (0 < redact 50) may redact events of
         * his own server only; mod (50) may redact anyone's. */
        assert_true(auth_redaction_applies(r.rv, r.state, red, orig_same));
        assert_false(auth_redaction_applies(r.rv, r.state, red, orig_other));
        json_object_set_new(red, "sender", json_string("@mod:a.org"));
        assert_true(auth_redaction_applies(r.rv, r.state, red, orig_other));
        json_object_set_new(red, "sender", json_integer(1));
        assert_false(auth_redaction_applies(r.rv, r.state, red, orig_same));
        json_decref(red);
        json_decref(orig_same);
        json_decref(orig_other);
        room_fini(&r);
    }
}

/* Values a hostile server may put anywhere. */
static json_t *hostile_value(int k)
{
    switch (k) {
    case 0: return json_null();
    case 1: return json_integer(-1);
    case 2: return json_string("");
    case 3: return json_array();
    case 4: return json_object();
    case 5: return json_real(1.5);
    case 6: return json_true();
    case 7: return json_string("@");
    default: return json_integer(9007199254740993LL);
    }
}
#define HOSTILE_VALUES 9

/* Replace each top-level and content member of ev in turn by each hostile
 * value (and delete it), checking under state s: any answer, no crash. */
static size_t mutate_and_check(const struct room *r, const json_t *ev)
{
    const char *key;
    json_t *v, *content = json_object_get(ev, "content");
    size_t n = 0;
    char why[64];

    for (int where = 0; where < 2; where++) {
        const json_t *obj = where == 0 ? ev : content;
        if (!json_is_object(obj))
            continue;
        json_object_foreach((json_t *)obj, key, v) {
            for (int k = -1; k < HOSTILE_VALUES; k++) {
                json_t *copy = json_deep_copy(ev);
                json_t *target = where == 0 ? copy : json_object_get(copy, "content");
                struct auth_key keys[AUTH_SELECTION_MAX];
                size_t nk;
                if (k < 0)
                    json_object_del(target, key);
                else
                    json_object_set_new(target, key, hostile_value(k));
                (void)auth_check_event(r->rv, copy, r->state, why, sizeof why);
                (void)auth_events_selection(r->rv, copy, keys, &nk);
                json_decref(event_redact(r->rv, copy));
                json_decref(copy);
                n++;
            }
        }
    }
    return n;
}

static void test_hostile_mutations(void **state)
{
    size_t n = 0;
    (void)state;

    for (unsigned v = 0; v < 3; v++) {
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            struct room r;
            json_t *ev;
            room_init(&r, room_version_get(version_ids[v]), true);
            for (size_t j = 0; j < 4 && cases[i].state[j] != NULL; j++)
                room_put(&r, cases[i].state[j]);
            ev = parse_q(cases[i].event);
            event_complete(&r, ev);
            n += mutate_and_check(&r, ev);
            json_decref(ev);
            room_fini(&r);
        }
        /* Hostile state: each member of the power levels, join rules and
         * create content broken in turn, then every table event checked. */
        for (int k = 0; k < HOSTILE_VALUES; k++) {
            static const char *const fields[][2] = {
                { "m.room.power_levels", "users" }, { "m.room.power_levels", "users_default" },
                { "m.room.power_levels", "events" }, { "m.room.power_levels", "ban" },
                { "m.room.power_levels", "content" }, { "m.room.join_rules", "join_rule" },
                { "m.room.create", "additional_creators" }, { "m.room.create", "creator" },
                { "m.room.member", "membership" },
            };
            for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
                struct room r;
                json_t *se, *copy;
                const char *sk = strcmp(fields[f][0], "m.room.member") == 0 ? "@mod:a.org" : "";
                room_init(&r, room_version_get(version_ids[v]), true);
                se = state_map_get(r.state, fields[f][0], sk);
                copy = json_deep_copy(se);
                if (strcmp(fields[f][1], "content") == 0)
                    json_object_set_new(copy, "content", hostile_value(k));
                else
                    json_object_set_new(json_object_get(copy, "content"), fields[f][1],
                                        hostile_value(k));
                assert_int_equal(state_map_set(r.state, fields[f][0], sk, copy), 0);
                json_decref(copy);
                for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                    json_t *ev = parse_q(cases[i].event);
                    char why[64];
                    event_complete(&r, ev);
                    (void)auth_check_event(r.rv, ev, r.state, why, sizeof why);
                    (void)auth_user_power_level(r.rv, r.state, "@mod:a.org");
                    json_decref(ev);
                    n++;
                }
                room_fini(&r);
            }
        }
    }
    print_message("%zu hostile checks\n", n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_federate_false),
        cmocka_unit_test(test_first_join),
        cmocka_unit_test(test_create_event),
        cmocka_unit_test(test_room_binding),
        cmocka_unit_test(test_no_join_rules),
        cmocka_unit_test(test_third_party_invite),
        cmocka_unit_test(test_selection),
        cmocka_unit_test(test_auth_events_check),
        cmocka_unit_test(test_power_helpers),
        cmocka_unit_test(test_redaction_applies),
        cmocka_unit_test(test_hostile_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
