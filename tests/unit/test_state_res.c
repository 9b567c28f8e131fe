/*
 * test_state_res: state resolution v2 (spec rooms/fragments/v2-state-res.md,
 * room versions 10 and 11) and its v12 revision (rooms/v12.md "State
 * resolution"). Each scenario builds a small auth DAG, splits it into forks
 * and states the expected result with the reasoning from the algorithm.
 *
 * Test JSON is written with ' for " and the token ALICE, in power levels
 * users, for "'@alice:a.org':100," in v10/v11: in v12 the creator has
 * infinite power and may not be listed (v12 auth rule 10.4).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rooms/redact.h"
#include "rooms/state_res.h"
#include "rooms/state_res_graph.h"

struct dag {
    const struct room_version *rv;
    json_t *events;            /* id -> event */
    char room_id[128];
    char create_id[128];
    int64_t ts;                /* next origin_server_ts */
    size_t fetches;
    const char *rejected;      /* one event ID to report as rejected */
};

static json_t *dag_fetch(void *ctx, const char *id)
{
    struct dag *d = ctx;
    json_t *ev = json_object_get(d->events, id);

    d->fetches++;
    return ev ? json_incref(ev) : NULL;
}

static bool dag_rejected(void *ctx, const char *id)
{
    struct dag *d = ctx;

    return d->rejected != NULL && strcmp(d->rejected, id) == 0;
}

static char *subst(const struct dag *d, const char *text)
{
    const char *alice = d->rv->creators_infinite_power ? "" : "\"@alice:a.org\":100,";
    char *out = malloc(strlen(text) * 2 + 64), *o = out;

    assert_non_null(out);
    while (*text) {
        if (strncmp(text, "ALICE", 5) == 0) {
            o += sprintf(o, "%s", alice);
            text += 5;
        } else {
            *o++ = *text == '\'' ? '"' : *text;
            text++;
        }
    }
    *o = '\0';
    return out;
}

static json_t *parse_d(const struct dag *d, const char *text)
{
    char *buf = subst(d, text);
    json_error_t err;
    json_t *v = json_loads(buf, 0, &err);

    if (v == NULL)
        fail_msg("bad test JSON (%s): %s", err.text, buf);
    free(buf);
    return v;
}

/* Add an event. auth lists the auth event IDs, comma-separated, without
 * the create event (added here for v10/v11, never listed in v12). */
static void dag_add_ts(struct dag *d, const char *id, const char *body,
                       const char *auth, int64_t ts)
{
    json_t *ev = parse_d(d, body), *a = json_array();
    char buf[512], *tok, *save = NULL;

    if (!d->rv->room_id_from_create)
        json_array_append_new(a, json_string(d->create_id));
    snprintf(buf, sizeof buf, "%s", auth ? auth : "");
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        json_array_append_new(a, json_string(tok));
    json_object_set_new(ev, "auth_events", a);
    json_object_set_new(ev, "event_id", json_string(id));
    json_object_set_new(ev, "room_id", json_string(d->room_id));
    if (!json_object_get(ev, "prev_events"))
        json_object_set_new(ev, "prev_events", json_pack("[s]", "$prev"));
    json_object_set_new(ev, "depth", json_integer(2));
    json_object_set_new(ev, "origin_server_ts", json_integer(ts));
    json_object_set_new(d->events, id, ev);
}

static void dag_add(struct dag *d, const char *id, const char *body, const char *auth)
{
    dag_add_ts(d, id, body, auth, d->ts++);
}

#define MEMBER(user, sender, m) \
    "{'type':'m.room.member','state_key':'" user "','sender':'" sender \
    "','content':{'membership':'" m "'}}"

/* The room before the forks: alice creates it and joins, sets power
 * levels (alice 100, or infinite in v12; bob 50) and a public join rule;
 * bob and charlie join. */
static void dag_init(struct dag *d, const char *ver)
{
    json_t *create;
    char *id, join[256];

    memset(d, 0, sizeof *d);
    d->rv = room_version_get(ver);
    d->events = json_object();
    d->ts = 10;
    if (d->rv->room_id_from_create)
        create = parse_d(d, "{'type':'m.room.create','state_key':'','sender':'@alice:a.org',"
                         "'content':{'room_version':'12'},'prev_events':[],"
                         "'auth_events':[],'depth':1,'origin_server_ts':1}");
    else
        create = parse_d(d, "{'type':'m.room.create','state_key':'','sender':'@alice:a.org',"
                         "'room_id':'!room:a.org','content':{'creator':'@alice:a.org',"
                         "'room_version':'11'},'prev_events':[],'auth_events':[],"
                         "'depth':1,'origin_server_ts':1}");
    id = event_compute_id(d->rv, create);
    assert_non_null(id);
    snprintf(d->create_id, sizeof d->create_id, "%s", id);
    if (d->rv->room_id_from_create)
        snprintf(d->room_id, sizeof d->room_id, "!%s", id + 1);
    else
        snprintf(d->room_id, sizeof d->room_id, "!room:a.org");
    free(id);
    /* The stored event carries its ID, as the server's store does. */
    json_object_set_new(create, "event_id", json_string(d->create_id));
    json_object_set_new(d->events, d->create_id, create);
    snprintf(join, sizeof join, "{'type':'m.room.member','state_key':'@alice:a.org',"
             "'sender':'@alice:a.org','content':{'membership':'join'},"
             "'prev_events':['%s']}", d->create_id);
    dag_add(d, "$IMA", join, NULL);
    dag_add(d, "$IPOWER", "{'type':'m.room.power_levels','state_key':'',"
            "'sender':'@alice:a.org','content':{'users':{ALICE '@bob:a.org':50}}}",
            "$IMA");
    dag_add(d, "$IJR", "{'type':'m.room.join_rules','state_key':'','sender':'@alice:a.org',"
            "'content':{'join_rule':'public'}}", "$IMA,$IPOWER");
    dag_add(d, "$IMB", MEMBER("@bob:a.org", "@bob:a.org", "join"), "$IJR,$IPOWER");
    dag_add(d, "$IMC", MEMBER("@charlie:a.org", "@charlie:a.org", "join"), "$IJR,$IPOWER");
}

static void dag_fini(struct dag *d)
{
    json_decref(d->events);
}

/* Set while building states from deliberately broken events. */
static bool dag_lenient;

/* A state map from a list of event IDs (comma-separated), plus the
 * create event. */
static struct state_map *dag_state(struct dag *d, const char *ids)
{
    struct state_map *m = state_map_new();
    char buf[1024], *tok, *save = NULL;

    assert_non_null(m);
    if (state_map_set_event(m, json_object_get(d->events, d->create_id)) != 0
        && !dag_lenient)
        fail_msg("cannot put the create event in a state map");
    snprintf(buf, sizeof buf, "%s", ids);
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        json_t *ev = json_object_get(d->events, tok);
        if (ev == NULL)
            fail_msg("no event %s", tok);
        /* A broken event may lack a string type or state_key: leave it out. */
        if (state_map_set_event(m, ev) != 0 && !dag_lenient)
            fail_msg("cannot put %s in a state map", tok);
    }
    return m;
}

#define BASE "$IMA,$IPOWER,$IJR,$IMB,$IMC"

/* Resolve two forks and return the result (asserting success). */
static struct state_map *resolve2(struct dag *d, const char *s1, const char *s2)
{
    struct state_map *a = dag_state(d, s1), *b = dag_state(d, s2), *out = NULL;
    const struct state_map *states[2] = { a, b };
    struct state_res_io io = { .fetch_event = dag_fetch, .is_rejected = dag_rejected,
                               .ctx = d };
    char why[256] = "";
    int rc = state_res_resolve(d->rv, states, 2, &io, &out, why, sizeof why);

    if (rc != STATE_RES_OK)
        fail_msg("v%s: resolution failed (%d): %s", d->rv->id, rc, why);
    state_map_free(a);
    state_map_free(b);
    return out;
}

static void expect_id(const struct dag *d, const struct state_map *m, const char *type,
                      const char *sk, const char *want)
{
    json_t *ev = state_map_get(m, type, sk);
    const char *got = ev ? json_string_value(json_object_get(ev, "event_id")) : NULL;

    if (want == NULL ? got != NULL : (got == NULL || strcmp(got, want) != 0))
        fail_msg("v%s: (%s, %s) is %s, expected %s", d->rv->id, type, sk,
                 got ? got : "(none)", want ? want : "(none)");
}

static const char *const versions[] = { "10", "11", "12" };

static void test_ban_vs_join(void **state)
{
    (void)state;
    for (size_t v = 0; v < 3; v++) {
        struct dag d;
        struct state_map *r;
        dag_init(&d, versions[v]);
        /* Fork 1: alice bans charlie. Fork 2: nothing new (charlie joined).
         * Conflicted: (member, charlie) = {$IMC, $BAN}. $BAN is a power
         * event (ban, sender != state_key); its auth chain adds $IMC,
         * which is also in the auth difference. Sorted: $IMC before $BAN
         * (auth edge). $IMC passes (public room), then $BAN passes (alice
         * 100 >= ban 50 > charlie 0). Charlie ends banned. */
        dag_add(&d, "$BAN", MEMBER("@charlie:a.org", "@alice:a.org", "ban"),
                "$IPOWER,$IMA,$IMC");
        r = resolve2(&d, "$IMA,$IPOWER,$IJR,$IMB,$BAN", BASE);
        expect_id(&d, r, "m.room.member", "@charlie:a.org", "$BAN");
        expect_id(&d, r, "m.room.power_levels", "", "$IPOWER");
        expect_id(&d, r, "m.room.member", "@bob:a.org", "$IMB");
        assert_int_equal(state_map_count(r), 6);
        state_map_free(r);
        dag_fini(&d);
    }
}

static void test_demotion_beats_kick(void **state)
{
    (void)state;
    for (size_t v = 0; v < 3; v++) {
        const char *kinds[2] = { "leave", "ban" };
        for (size_t k = 0; k < 2; k++) {
            struct dag d;
            struct state_map *r;
            char kick[256];
            dag_init(&d, versions[v]);
            /* Fork 1: alice demotes bob from 50 to 0 ($DEMOTE). Fork 2: bob,
             * still at 50, kicks (or bans) charlie ($KICK). Power events:
             * $DEMOTE, $IPOWER (conflicted with it) and $KICK; the chains
             * add $IMB and $IMC. Reverse topological power order: $IPOWER
             * (alice 100; no auth events in the set), $DEMOTE (alice,
             * after its auth $IPOWER), then $IMB, $IMC (power 0, by
             * timestamp), then $KICK (bob: 50 by its own auth events, but
             * it must follow $IMB and $IMC). The iterative checks apply
             * $IPOWER, $DEMOTE, $IMB, $IMC; $KICK is then checked against
             * the demoted bob (0 < kick 50) and dropped. Charlie stays. */
            dag_add(&d, "$DEMOTE", "{'type':'m.room.power_levels','state_key':'',"
                    "'sender':'@alice:a.org','content':{'users':{ALICE '@bob:a.org':0}}}",
                    "$IMA,$IPOWER");
            snprintf(kick, sizeof kick, "{'type':'m.room.member','state_key':"
                     "'@charlie:a.org','sender':'@bob:a.org','content':"
                     "{'membership':'%s'}}", kinds[k]);
            dag_add(&d, "$KICK", kick, "$IPOWER,$IMB,$IMC");
            r = resolve2(&d, "$IMA,$DEMOTE,$IJR,$IMB,$IMC", "$IMA,$IPOWER,$IJR,$IMB,$KICK");
            expect_id(&d, r, "m.room.power_levels", "", "$DEMOTE");
            expect_id(&d, r, "m.room.member", "@charlie:a.org", "$IMC");
            state_map_free(r);
            dag_fini(&d);
        }
    }
}

static void test_v12_empty_start_differs(void **state)
{
    (void)state;
    for (size_t v = 0; v < 3; v++) {
        struct dag d;
        struct state_map *r;
        dag_init(&d, versions[v]);
        /* Both forks hold $DEMOTE (bob 50 -> 0): power levels are
         * unconflicted. Fork 2 also holds $KICK, bob kicking charlie while
         * citing the older $IPOWER (bob 50), sent concurrently with the
         * demotion. Conflicted: (member, charlie) = {$IMC, $KICK}; $IMB and
         * $IMC are in the auth difference. X = {$IMB, $IMC, $KICK}, in that
         * order (auth edges).
         * v10/v11 (step 2 "starting from the unconflicted state map"): the
         * partial state already has $DEMOTE, so $KICK is checked with bob
         * at 0 and dropped: charlie stays ($IMC).
         * v12 (step 2 "starting from an empty state map"): no power levels
         * in the partial state, so $KICK's own auth event $IPOWER is used
         * (bob 50 >= kick 50 > charlie 0) and the kick stands; step 5 then
         * restores $DEMOTE for the power levels. */
        dag_add(&d, "$DEMOTE", "{'type':'m.room.power_levels','state_key':'',"
                "'sender':'@alice:a.org','content':{'users':{ALICE '@bob:a.org':0}}}",
                "$IMA,$IPOWER");
        dag_add(&d, "$KICK", MEMBER("@charlie:a.org", "@bob:a.org", "leave"),
                "$IPOWER,$IMB,$IMC");
        r = resolve2(&d, "$IMA,$DEMOTE,$IJR,$IMB,$IMC", "$IMA,$DEMOTE,$IJR,$IMB,$KICK");
        expect_id(&d, r, "m.room.power_levels", "", "$DEMOTE");
        expect_id(&d, r, "m.room.member", "@charlie:a.org",
                  d.rv->state_res == ROOM_STATE_RES_V2_1 ? "$KICK" : "$IMC");
        state_map_free(r);
        dag_fini(&d);
    }
}

static void test_power_order_beats_timestamp(void **state)
{
    (void)state;
    for (size_t v = 0; v < 3; v++) {
        struct dag d;
        struct state_map *r;
        dag_init(&d, versions[v]);
        /* Concurrent join rules: alice's ($JRA, "invite", ts 900) and bob's
         * ($JRB, "knock", ts 100; bob has 50 = state_default). $TB, in both
         * forks, cites bob's membership so both auth chains hold $IMB and
         * the full conflicted set is just {$JRA, $JRB}, with no auth edge
         * between them. Reverse topological power ordering puts the
         * greater power first: $JRA (alice 100, or infinite in v12) before
         * $JRB (bob 50), despite the timestamps. Both pass, so the later
         * one applied, bob's "knock", is the result. Ordering by timestamp
         * alone would have given alice's. */
        dag_add(&d, "$TB", "{'type':'m.room.topic','state_key':'','sender':'@bob:a.org',"
                "'content':{'topic':'t'}}", "$IPOWER,$IMB");
        dag_add_ts(&d, "$JRA", "{'type':'m.room.join_rules','state_key':'',"
                   "'sender':'@alice:a.org','content':{'join_rule':'invite'}}",
                   "$IMA,$IPOWER", 900);
        dag_add_ts(&d, "$JRB", "{'type':'m.room.join_rules','state_key':'',"
                   "'sender':'@bob:a.org','content':{'join_rule':'knock'}}",
                   "$IMB,$IPOWER", 100);
        r = resolve2(&d, "$IMA,$IPOWER,$JRA,$IMB,$IMC,$TB", "$IMA,$IPOWER,$JRB,$IMB,$IMC,$TB");
        expect_id(&d, r, "m.room.join_rules", "", "$JRB");
        state_map_free(r);
        dag_fini(&d);
    }
}

static void test_escalation_refused(void **state)
{
    (void)state;
    for (size_t v = 0; v < 3; v++) {
        struct dag d;
        struct state_map *r;
        dag_init(&d, versions[v]);
        /* A hostile fork claims charlie (0) gave himself 100. The power
         * levels key is conflicted: {$IPOWER, $EVIL}. $EVIL cites $IPOWER,
         * so $IPOWER is applied first; $EVIL is then checked: charlie's 0
         * is below state_default 50 (rule 7), refused. $IPOWER stays. */
        dag_add(&d, "$EVIL", "{'type':'m.room.power_levels','state_key':'',"
                "'sender':'@charlie:a.org','content':{'users':{ALICE "
                "'@bob:a.org':50,'@charlie:a.org':100}}}", "$IPOWER,$IMC");
        r = resolve2(&d, BASE, "$IMA,$EVIL,$IJR,$IMB,$IMC");
        expect_id(&d, r, "m.room.power_levels", "", "$IPOWER");
        state_map_free(r);
        dag_fini(&d);
    }
}

static void test_topic_by_timestamp(void **state)
{
    (void)state;
    for (size_t v = 0; v < 3; v++) {
        struct dag d;
        struct state_map *r;
        dag_init(&d, versions[v]);
        /* Both topics cite the same power levels: same mainline position
         * (that of $IPOWER), so the earlier origin_server_ts sorts first
         * and the later is applied last: $T2 (ts 900) wins over $T1 (ts
         * 500), whatever the fork order. */
        dag_add_ts(&d, "$T2", "{'type':'m.room.topic','state_key':'','sender':'@bob:a.org',"
                   "'content':{'topic':'two'}}", "$IPOWER,$IMB", 900);
        dag_add_ts(&d, "$T1", "{'type':'m.room.topic','state_key':'','sender':'@bob:a.org',"
                   "'content':{'topic':'one'}}", "$IPOWER,$IMB", 500);
        r = resolve2(&d, BASE ",$T2", BASE ",$T1");
        expect_id(&d, r, "m.room.topic", "", "$T2");
        state_map_free(r);
        r = resolve2(&d, BASE ",$T1", BASE ",$T2");
        expect_id(&d, r, "m.room.topic", "", "$T2");
        state_map_free(r);
        /* Same timestamp: the greater event_id is applied last. */
        dag_add_ts(&d, "$Ta", "{'type':'m.room.topic','state_key':'','sender':'@bob:a.org',"
                   "'content':{'topic':'a'}}", "$IPOWER,$IMB", 700);
        dag_add_ts(&d, "$Tb", "{'type':'m.room.topic','state_key':'','sender':'@bob:a.org',"
                   "'content':{'topic':'b'}}", "$IPOWER,$IMB", 700);
        r = resolve2(&d, BASE ",$Tb", BASE ",$Ta");
        expect_id(&d, r, "m.room.topic", "", "$Tb");
        state_map_free(r);
        dag_fini(&d);
    }
}

static void test_topic_by_mainline(void **state)
{
    (void)state;
    for (size_t v = 0; v < 3; v++) {
        struct dag d;
        struct state_map *r;
        dag_init(&d, versions[v]);
        /* $P2 (alice raises charlie to 50) is in both forks: unconflicted,
         * so the partial state's power levels are $P2 and the mainline is
         * [$P2, $IPOWER]. $TOLD cites $IPOWER (position 1), $TNEW cites $P2
         * (position 0). Greater position sorts first, so $TOLD is applied
         * before $TNEW and $TNEW wins although its timestamp is earlier. */
        dag_add(&d, "$P2", "{'type':'m.room.power_levels','state_key':'',"
                "'sender':'@alice:a.org','content':{'users':{ALICE '@bob:a.org':50,"
                "'@charlie:a.org':50}}}", "$IMA,$IPOWER");
        dag_add_ts(&d, "$TOLD", "{'type':'m.room.topic','state_key':'','sender':'@bob:a.org',"
                   "'content':{'topic':'old'}}", "$IPOWER,$IMB", 900);
        dag_add_ts(&d, "$TNEW", "{'type':'m.room.topic','state_key':'',"
                   "'sender':'@charlie:a.org','content':{'topic':'new'}}", "$P2,$IMC", 100);
        r = resolve2(&d, "$IMA,$P2,$IJR,$IMB,$IMC,$TOLD", "$IMA,$P2,$IJR,$IMB,$IMC,$TNEW");
        expect_id(&d, r, "m.room.topic", "", "$TNEW");
        expect_id(&d, r, "m.room.power_levels", "", "$P2");
        state_map_free(r);
        dag_fini(&d);
    }
}

static void test_join_then_leave(void **state)
{
    (void)state;
    for (size_t v = 0; v < 3; v++) {
        struct dag d;
        struct state_map *r;
        dag_init(&d, versions[v]);
        /* Charlie leaves in fork 2 ($LC cites $IMC). A self-leave is not a
         * power event, so both $IMC and $LC go to the mainline step: same
         * position ($IPOWER), $IMC earlier: $IMC then $LC, and $LC is
         * allowed (charlie was joined). */
        dag_add(&d, "$LC", MEMBER("@charlie:a.org", "@charlie:a.org", "leave"),
                "$IPOWER,$IMC");
        r = resolve2(&d, BASE, "$IMA,$IPOWER,$IJR,$IMB,$LC");
        expect_id(&d, r, "m.room.member", "@charlie:a.org", "$LC");
        state_map_free(r);
        dag_fini(&d);
    }
}

static void test_conflicting_joins_invite_room(void **state)
{
    (void)state;
    for (size_t v = 0; v < 3; v++) {
        struct dag d;
        struct state_map *r;
        dag_init(&d, versions[v]);
        /* Fork 1: alice makes the room invite-only ($JRI). Fork 2: dave
         * joins while it is public ($JD). $JRI is a power event, applied
         * in step 1; $JD then fails against the invite rule (4.3.4/4.3.7)
         * and dave is not in the resolved state. */
        dag_add(&d, "$JRI", "{'type':'m.room.join_rules','state_key':'',"
                "'sender':'@alice:a.org','content':{'join_rule':'invite'}}",
                "$IMA,$IPOWER");
        dag_add(&d, "$JD", MEMBER("@dave:d.org", "@dave:d.org", "join"), "$IJR,$IPOWER");
        r = resolve2(&d, "$IMA,$IPOWER,$JRI,$IMB,$IMC", BASE ",$JD");
        expect_id(&d, r, "m.room.join_rules", "", "$JRI");
        expect_id(&d, r, "m.room.member", "@dave:d.org", NULL);
        state_map_free(r);
        dag_fini(&d);
    }
}

static void test_rejected_auth_event_ignored(void **state)
{
    (void)state;
    for (size_t v = 0; v < 3; v++) {
        for (int rej = 0; rej < 2; rej++) {
            struct dag d;
            struct state_map *r;
            dag_init(&d, versions[v]);
            /* Bob re-joins ($IMB2) and cites it for a room name ($NAME, in
             * both forks, so unconflicted and $IMB2 is in both auth
             * chains) and a topic ($T2, fork 1 only: the whole full
             * conflicted set). $T2 is checked in step 4 against the
             * partial state plus, for keys it lacks, "the appropriate state
             * event from the event's auth_events ... if the auth event is
             * not rejected".
             * v10/v11: the partial state started from the unconflicted map,
             * which holds bob's $IMB: $T2 passes either way.
             * v12: the partial state started empty and nothing was applied
             * before $T2, so bob's membership comes from $T2's auth events
             * only: if $IMB2 is rejected it is not used, bob is not joined
             * and $T2 is dropped; otherwise $T2 passes. */
            dag_add(&d, "$IMB2", MEMBER("@bob:a.org", "@bob:a.org", "join"),
                    "$IJR,$IPOWER,$IMB");
            dag_add(&d, "$NAME", "{'type':'m.room.name','state_key':'','sender':'@bob:a.org',"
                    "'content':{'name':'n'}}", "$IPOWER,$IMB2");
            dag_add(&d, "$T2", "{'type':'m.room.topic','state_key':'','sender':'@bob:a.org',"
                    "'content':{'topic':'two'}}", "$IPOWER,$IMB2");
            d.rejected = rej ? "$IMB2" : NULL;
            r = resolve2(&d, BASE ",$NAME,$T2", BASE ",$NAME");
            expect_id(&d, r, "m.room.topic", "",
                      rej && d.rv->state_res == ROOM_STATE_RES_V2_1 ? NULL : "$T2");
            expect_id(&d, r, "m.room.name", "", "$NAME");
            expect_id(&d, r, "m.room.member", "@bob:a.org", "$IMB");
            state_map_free(r);
            dag_fini(&d);
        }
    }
}

static void test_trivial_inputs(void **state)
{
    struct dag d;
    struct state_map *a, *out = (struct state_map *)1;
    const struct state_map *states[3];
    struct state_res_io io = { .fetch_event = dag_fetch, .ctx = &d };
    (void)state;

    dag_init(&d, "11");
    /* No states: empty result. One state, or identical states: itself. */
    assert_int_equal(state_res_resolve(d.rv, NULL, 0, &io, &out, NULL, 0), 0);
    assert_int_equal(state_map_count(out), 0);
    state_map_free(out);
    a = dag_state(&d, BASE);
    states[0] = states[1] = states[2] = a;
    assert_int_equal(state_res_resolve(d.rv, states, 1, &io, &out, NULL, 0), 0);
    assert_int_equal(state_map_count(out), 6);
    state_map_free(out);
    d.fetches = 0;
    assert_int_equal(state_res_resolve(d.rv, states, 3, &io, &out, NULL, 0), 0);
    assert_int_equal(state_map_count(out), 6);
    expect_id(&d, out, "m.room.member", "@charlie:a.org", "$IMC");
    state_map_free(out);
    /* Bad arguments. */
    states[1] = NULL;
    assert_int_equal(state_res_resolve(d.rv, states, 2, &io, &out, NULL, 0), STATE_RES_ERROR);
    assert_null(out);
    assert_int_equal(state_res_resolve(NULL, states, 1, &io, &out, NULL, 0), STATE_RES_ERROR);
    state_map_free(a);
    dag_fini(&d);
}

/* A hostile chain: n member events, each citing the previous one. */
static void dag_long_chain(struct dag *d, int n)
{
    char id[32], prev[32] = "$IMC", auth[128];

    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof id, "$L%d", i);
        snprintf(auth, sizeof auth, "$IPOWER,%s", prev);
        dag_add(d, id, MEMBER("@charlie:a.org", "@charlie:a.org", "join"), auth);
        snprintf(prev, sizeof prev, "%s", id);
    }
}

static void test_bounds(void **state)
{
    struct dag d;
    struct state_map *a, *b, *out = NULL;
    const struct state_map *states[2];
    struct state_res_io io = { .fetch_event = dag_fetch, .ctx = &d, .max_events = 200 };
    char why[128];
    (void)state;

    dag_init(&d, "11");
    dag_long_chain(&d, 1000);
    a = dag_state(&d, "$IMA,$IPOWER,$IJR,$IMB,$L999");
    b = dag_state(&d, BASE);
    states[0] = a;
    states[1] = b;
    /* Past max_events: refused, not exhausted. */
    assert_int_equal(state_res_resolve(d.rv, states, 2, &io, &out, why, sizeof why),
                     STATE_RES_TOO_BIG);
    assert_null(out);
    assert_non_null(strstr(why, "events"));
    /* Past max_steps likewise. */
    io.max_events = 0;
    io.max_steps = 500;
    assert_int_equal(state_res_resolve(d.rv, states, 2, &io, &out, why, sizeof why),
                     STATE_RES_TOO_BIG);
    assert_non_null(strstr(why, "steps"));
    /* Within the defaults it resolves: the whole chain is in the auth
     * difference and the last join ($L999, applied last by mainline and
     * timestamp order) wins. Done iteratively: 1000 deep, no recursion. */
    io.max_steps = 0;
    assert_int_equal(state_res_resolve(d.rv, states, 2, &io, &out, why, sizeof why), 0);
    expect_id(&d, out, "m.room.member", "@charlie:a.org", "$L999");
    state_map_free(out);
    state_map_free(a);
    state_map_free(b);
    dag_fini(&d);
}

static void test_hostile_graph(void **state)
{
    struct dag d;
    struct state_map *out = NULL;
    char why[128];
    (void)state;

    dag_init(&d, "11");
    /* Power events citing each other (impossible with real hashes) and
     * auth events that do not exist: no hang, no crash; the cycle is
     * reported. */
    dag_add(&d, "$CA", "{'type':'m.room.power_levels','state_key':'',"
            "'sender':'@alice:a.org','content':{'users':{ALICE '@x:a.org':1}}}", "$CB,$IMA,$NOPE");
    dag_add(&d, "$CB", "{'type':'m.room.power_levels','state_key':'',"
            "'sender':'@alice:a.org','content':{'users':{ALICE '@x:a.org':2}}}", "$CA,$IMA,7");
    {
        struct state_map *a = dag_state(&d, "$IMA,$CA"), *b = dag_state(&d, "$IMA,$CB");
        const struct state_map *states[2] = { a, b };
        struct state_res_io io = { .fetch_event = dag_fetch, .ctx = &d };
        int rc = state_res_resolve(d.rv, states, 2, &io, &out, why, sizeof why);
        assert_int_equal(rc, STATE_RES_ERROR);
        assert_non_null(strstr(why, "cycle"));
        assert_null(out);
        state_map_free(a);
        state_map_free(b);
    }
    /* Without a fetch callback, unknown auth events are simply absent. */
    {
        struct state_map *a = dag_state(&d, BASE), *b = dag_state(&d, "$IMA,$IPOWER,$IJR");
        const struct state_map *states[2] = { a, b };
        assert_int_equal(state_res_resolve(d.rv, states, 2, NULL, &out, why, sizeof why), 0);
        expect_id(&d, out, "m.room.member", "@charlie:a.org", "$IMC");
        state_map_free(out);
        state_map_free(a);
        state_map_free(b);
    }
    dag_fini(&d);
}

static void test_large_room(void **state)
{
    (void)state;
    for (size_t v = 0; v < 3; v++) {
        struct dag d;
        struct state_map *a, *b, *out = NULL;
        const struct state_map *states[2];
        struct state_res_io io = { .fetch_event = dag_fetch, .ctx = &d };
        char id[32], member[160], why[128];
        int n = 3000;

        dag_init(&d, versions[v]);
        /* n members in both forks (unconflicted), one conflicting topic
         * and a ban on one side: the work stays proportional to the room. */
        a = dag_state(&d, BASE);
        for (int i = 0; i < n; i++) {
            snprintf(id, sizeof id, "$M%d", i);
            snprintf(member, sizeof member, "{'type':'m.room.member','state_key':"
                     "'@u%d:a.org','sender':'@u%d:a.org','content':{'membership':'join'}}",
                     i, i);
            dag_add(&d, id, member, "$IJR,$IPOWER");
            assert_int_equal(state_map_set_event(a, json_object_get(d.events, id)), 0);
        }
        b = state_map_copy(a);
        dag_add(&d, "$BANU", MEMBER("@u7:a.org", "@alice:a.org", "ban"), "$IPOWER,$IMA,$M7");
        dag_add(&d, "$TOP", "{'type':'m.room.topic','state_key':'','sender':'@bob:a.org',"
                "'content':{'topic':'t'}}", "$IPOWER,$IMB");
        assert_int_equal(state_map_set_event(a, json_object_get(d.events, "$BANU")), 0);
        assert_int_equal(state_map_set_event(b, json_object_get(d.events, "$TOP")), 0);
        states[0] = a;
        states[1] = b;
        assert_int_equal(state_res_resolve(d.rv, states, 2, &io, &out, why, sizeof why), 0);
        assert_int_equal(state_map_count(out), 6 + n + 1);
        expect_id(&d, out, "m.room.member", "@u7:a.org", "$BANU");
        expect_id(&d, out, "m.room.topic", "", "$TOP");
        state_map_free(out);
        state_map_free(a);
        state_map_free(b);
        dag_fini(&d);
    }
}

/* White-box: the v12 "conflicted state subgraph", "the union of all such
 * paths between any pair of events in the conflicted state set (including
 * endpoints)". Graph (arrows are auth_events edges):
 *   C1 -> X1 -> X2 -> C2,  X2 -> Y,  C1 -> Z -> C3,  W -> C1,
 *   C2 -> D1 -> D2 -> C3 (a path through another conflicted event),
 *   C3 -> E (leads nowhere conflicted).
 * Conflicted: C1, C2, C3. On some path between two of them: C1, X1, X2,
 * C2, Z, C3, D1, D2. Not: Y and E (dead ends), W (nothing conflicted
 * reaches it). */
static void test_subgraph_definition(void **state)
{
    static const char *const edges[][2] = {
        { "$C1", "$X1,$Z" }, { "$X1", "$X2" }, { "$X2", "$C2,$Y" },
        { "$C2", "$D1" }, { "$D1", "$D2" }, { "$D2", "$C3" }, { "$Z", "$C3" },
        { "$C3", "$E" }, { "$W", "$C1" }, { "$Y", "" }, { "$E", "" },
    };
    static const char *const in_sub[] = { "$C1", "$X1", "$X2", "$C2", "$Z", "$C3",
                                          "$D1", "$D2" };
    static const char *const out_sub[] = { "$Y", "$E", "$W" };
    struct dag d;
    struct state_res_io io = { .fetch_event = dag_fetch, .ctx = &d };
    struct sr_ctx c = { 0 };
    struct sr_list conflicted = { 0 };
    (void)state;

    dag_init(&d, "12");
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
        dag_add(&d, edges[i][0], MEMBER("@bob:a.org", "@bob:a.org", "join"), edges[i][1]);
    c.rv = d.rv;
    c.io = &io;
    c.max_events = 100;
    c.max_steps = 1000;
    for (size_t i = 0; i < 3; i++) {
        struct sr_ev *e = sr_get(&c, in_sub[i == 0 ? 0 : i == 1 ? 3 : 5]);
        assert_non_null(e);
        e->flags |= SR_CONFLICTED;
        assert_int_equal(sr_list_push(&c, &conflicted, e), 0);
    }
    assert_int_equal(sr_subgraph(&c, &conflicted), 0);
    for (size_t i = 0; i < sizeof in_sub / sizeof in_sub[0]; i++) {
        struct sr_ev *e = sr_get(&c, in_sub[i]);
        if (!(e->flags & SR_SUB_REACH))
            fail_msg("%s should be in the conflicted state subgraph", in_sub[i]);
    }
    for (size_t i = 0; i < sizeof out_sub / sizeof out_sub[0]; i++) {
        struct sr_ev *e = sr_get(&c, out_sub[i]);
        if (e->flags & SR_SUB_REACH)
            fail_msg("%s should not be in the conflicted state subgraph", out_sub[i]);
    }
    sr_list_free(&conflicted);
    sr_ctx_clear(&c);
    dag_fini(&d);
}

/* state_map: the container state resolution and auth run on. */
static void test_state_map(void **state)
{
    struct state_map *m = state_map_new(), *c;
    struct state_map_iter it = { 0 };
    json_t *e1 = json_pack("{s:s,s:s}", "type", "t", "state_key", ""),
           *e2 = json_pack("{s:s,s:s}", "type", "t", "state_key", "k"),
           *e3 = json_pack("{s:s}", "type", "no_state_key");
    const char *type, *sk;
    json_t *ev;
    char *big = malloc(STATE_MAP_KEY_MAX + 2);
    (void)state;

    assert_non_null(m);
    assert_int_equal(state_map_set_event(m, e1), 0);
    assert_int_equal(state_map_set(m, "t", "k", e2), 0);
    assert_int_equal(state_map_set_event(m, e3), -1);     /* not a state event */
    assert_int_equal(state_map_set(m, NULL, "", e1), -1);
    assert_int_equal(state_map_set(m, "t", "x", NULL), -1);
    memset(big, 'a', STATE_MAP_KEY_MAX + 1);
    big[STATE_MAP_KEY_MAX + 1] = '\0';
    assert_int_equal(state_map_set(m, "t", big, e1), -1);  /* oversized key */
    assert_null(state_map_get(m, "t", big));
    assert_int_equal(state_map_count(m), 2);
    /* The map holds its own references. */
    assert_int_equal(e1->refcount, 2);
    /* (type, state_key) is a pair: "t","k" is not "tk","" nor "t\0k". */
    assert_ptr_equal(state_map_get(m, "t", "k"), e2);
    assert_null(state_map_get(m, "tk", ""));
    assert_null(state_map_get(m, "t", "K"));
    /* Replacing keeps the place and swaps the reference. */
    assert_int_equal(state_map_set(m, "t", "", e2), 0);
    assert_int_equal(e1->refcount, 1);
    assert_true(state_map_next(m, &it, &type, &sk, &ev));
    assert_string_equal(type, "t");
    assert_string_equal(sk, "");
    assert_ptr_equal(ev, e2);
    assert_true(state_map_next(m, &it, &type, &sk, NULL));
    assert_string_equal(sk, "k");
    assert_false(state_map_next(m, &it, NULL, NULL, NULL));
    /* A copy shares the events but not the entries. */
    c = state_map_copy(m);
    assert_non_null(c);
    state_map_remove(m, "t", "k");
    state_map_remove(m, "t", "absent");
    assert_int_equal(state_map_count(m), 1);
    assert_int_equal(state_map_count(c), 2);
    assert_ptr_equal(state_map_get(c, "t", "k"), e2);
    state_map_free(c);
    state_map_free(m);
    assert_int_equal(e2->refcount, 1);
    /* NULL maps are empty. */
    assert_int_equal(state_map_count(NULL), 0);
    assert_null(state_map_get(NULL, "t", ""));
    assert_null(state_map_copy(NULL));
    state_map_free(NULL);
    free(big);
    json_decref(e1);
    json_decref(e2);
    json_decref(e3);
}

/* Every event of a forked DAG broken in turn, in each of several ways:
 * resolution answers (a result or an error), never crashes or leaks. */
static void test_hostile_events(void **state)
{
    static const char *const fields[] = { "auth_events", "origin_server_ts", "type",
                                          "state_key", "content", "sender", "room_id",
                                          "event_id" };
    size_t runs = 0;
    (void)state;

    dag_lenient = true;
    for (size_t v = 0; v < 3; v++) {
        struct dag base;
        const char *key;
        json_t *ev;
        dag_init(&base, versions[v]);
        dag_add(&base, "$DEMOTE", "{'type':'m.room.power_levels','state_key':'',"
                "'sender':'@alice:a.org','content':{'users':{ALICE '@bob:a.org':0}}}",
                "$IMA,$IPOWER");
        dag_add(&base, "$KICK", MEMBER("@charlie:a.org", "@bob:a.org", "leave"),
                "$IPOWER,$IMB,$IMC");
        json_object_foreach(base.events, key, ev) {
            for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
                for (int k = 0; k < 4; k++) {
                    struct dag d = base;
                    struct state_map *a, *b, *out = NULL;
                    const struct state_map *states[2];
                    struct state_res_io io = { .fetch_event = dag_fetch, .ctx = &d };
                    json_t *bad = json_deep_copy(ev);
                    json_t *vals[4] = { json_null(), json_integer(7),
                                        json_pack("[i,s,n]", 1, "$IMA", NULL),
                                        json_string("$KICK") };
                    json_object_set(bad, fields[f], vals[k]);
                    for (int i = 0; i < 4; i++)
                        json_decref(vals[i]);
                    d.events = json_deep_copy(base.events);
                    json_object_set_new(d.events, key, bad);
                    a = dag_state(&d, "$IMA,$DEMOTE,$IJR,$IMB,$IMC");
                    b = dag_state(&d, "$IMA,$IPOWER,$IJR,$IMB,$KICK");
                    states[0] = a;
                    states[1] = b;
                    if (state_res_resolve(d.rv, states, 2, &io, &out, NULL, 0) == 0)
                        state_map_free(out);
                    else
                        assert_null(out);
                    state_map_free(a);
                    state_map_free(b);
                    json_decref(d.events);
                    runs++;
                }
            }
        }
        dag_fini(&base);
    }
    dag_lenient = false;
    print_message("%zu hostile resolutions\n", runs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ban_vs_join),
        cmocka_unit_test(test_demotion_beats_kick),
        cmocka_unit_test(test_v12_empty_start_differs),
        cmocka_unit_test(test_power_order_beats_timestamp),
        cmocka_unit_test(test_escalation_refused),
        cmocka_unit_test(test_topic_by_timestamp),
        cmocka_unit_test(test_topic_by_mainline),
        cmocka_unit_test(test_join_then_leave),
        cmocka_unit_test(test_conflicting_joins_invite_room),
        cmocka_unit_test(test_rejected_auth_event_ignored),
        cmocka_unit_test(test_trivial_inputs),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_hostile_graph),
        cmocka_unit_test(test_subgraph_definition),
        cmocka_unit_test(test_large_room),
        cmocka_unit_test(test_state_map),
        cmocka_unit_test(test_hostile_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
