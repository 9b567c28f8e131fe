/*
 * auth: the authorisation rules of room versions 10 to 12. Contract in
 * auth.h. Rule numbers in comments are those of v11.md; v12.md shifts
 * them by one after its new rule 2 (room ID bound to the create event).
 */
#include <stdlib.h>
#include <string.h>

#include "rooms/auth_internal.h"
#include "json/sign.h"
#include "rooms/redact.h"
#include "util/base64.h"
#include "util/ids.h"

#define REFUSE(...) auth_refuse(why, why_len, __VA_ARGS__)

static const char *ev_str(const json_t *ev, const char *key)
{
    return json_string_value(json_object_get(ev, key));
}

static const char *content_str(const json_t *ev, const char *key)
{
    return json_string_value(json_object_get(json_object_get(ev, "content"), key));
}

/* id_user_valid() wants a string; a missing one is not a user ID. */
static bool user_id_ok(const char *s)
{
    return s != NULL && id_user_valid(s);
}

static bool str_eq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* The single creator the "first join" rule names: content.creator in v10,
 * the create event's sender from v11 on (additional_creators excluded:
 * v12 rule 5.3.1 says "the sender of the m.room.create"). */
static const char *primary_creator(const struct room_version *rv,
                                   const json_t *create)
{
    if (rv->auth == ROOM_AUTH_V10)
        return content_str(create, "creator");
    return ev_str(create, "sender");
}

/* The create event's ID, malloc'd. v10/v11 trust the "event_id" member the
 * server attached when it accepted the event, else hash it. */
static char *create_event_id(const struct room_version *rv, const json_t *create)
{
    const char *id = ev_str(create, "event_id");

    if (id != NULL && !rv->room_id_from_create)
        return strdup(id);
    return event_compute_id(rv, create);
}

int auth_events_selection(const struct room_version *rv, const json_t *event,
                          struct auth_key out[AUTH_SELECTION_MAX], size_t *n)
{
    const char *type = ev_str(event, "type");
    const char *sender = ev_str(event, "sender");
    const char *target, *membership, *via, *token;
    const json_t *content = json_object_get(event, "content");
    size_t k = 0;

    *n = 0;
    if (rv == NULL || type == NULL || sender == NULL)
        return -1;
    if (strcmp(type, "m.room.create") == 0)
        return 0; /* "The auth_events for the m.room.create event ... is empty" */
    if (!rv->room_id_from_create)
        out[k++] = (struct auth_key){ "m.room.create", "" };
    out[k++] = (struct auth_key){ "m.room.power_levels", "" };
    out[k++] = (struct auth_key){ "m.room.member", sender };
    if (strcmp(type, "m.room.member") != 0)
        goto done;
    target = ev_str(event, "state_key");
    membership = content_str(event, "membership");
    if (target != NULL && strcmp(target, sender) != 0)
        out[k++] = (struct auth_key){ "m.room.member", target };
    if (str_eq(membership, "join") || str_eq(membership, "invite")
        || str_eq(membership, "knock"))
        out[k++] = (struct auth_key){ "m.room.join_rules", "" };
    token = json_string_value(json_object_get(json_object_get(
        json_object_get(content, "third_party_invite"), "signed"), "token"));
    if (str_eq(membership, "invite") && token != NULL)
        out[k++] = (struct auth_key){ "m.room.third_party_invite", token };
    via = content_str(event, "join_authorised_via_users_server");
    if (str_eq(membership, "join") && via != NULL && rv->restricted_allowed
        && strcmp(via, sender) != 0 && !str_eq(via, target))
        out[k++] = (struct auth_key){ "m.room.member", via };
done:
    *n = k;
    return 0;
}

static bool selection_has(const struct auth_key *keys, size_t n,
                          const char *type, const char *state_key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(keys[i].type, type) == 0
            && strcmp(keys[i].state_key, state_key) == 0)
            return true;
    return false;
}

int auth_check_auth_events(const struct room_version *rv, const json_t *event,
                           const json_t *const *auth_events, size_t n_auth,
                           char *why, size_t why_len)
{
    struct auth_key keys[AUTH_SELECTION_MAX];
    size_t n_keys;
    bool has_create = false;
    const char *room_id = ev_str(event, "room_id");

    if (auth_events_selection(rv, event, keys, &n_keys) != 0)
        return REFUSE("event lacks type or sender");
    for (size_t i = 0; i < n_auth; i++) {
        const char *t = ev_str(auth_events[i], "type");
        const char *sk = ev_str(auth_events[i], "state_key");

        if (t == NULL || sk == NULL)
            return REFUSE("auth event is not a state event");
        for (size_t j = 0; j < i; j++)
            if (str_eq(t, ev_str(auth_events[j], "type"))
                && str_eq(sk, ev_str(auth_events[j], "state_key")))
                return REFUSE("duplicate auth event (%s, %s)", t, sk);
        if (!selection_has(keys, n_keys, t, sk))
            return REFUSE("auth event (%s, %s) is not selected", t, sk);
        if (strcmp(t, "m.room.create") == 0 && sk[0] == '\0')
            has_create = true;
        /* In v12 the create event has no room_id, but it is never
         * selected there, so it was refused above. */
        if (!str_eq(ev_str(auth_events[i], "room_id"), room_id))
            return REFUSE("auth event from another room");
    }
    if (!rv->room_id_from_create && !has_create)
        return REFUSE("no m.room.create among auth events");
    return 0;
}

struct state_map *auth_state_from_events(const json_t *const *events, size_t n)
{
    struct state_map *m = state_map_new();

    if (m == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (ev_str(events[i], "state_key") == NULL)
            continue;
        if (state_map_set_event(m, (json_t *)events[i]) != 0) {
            state_map_free(m);
            return NULL;
        }
    }
    return m;
}

/* Rule 1: m.room.create. */
static int check_create(const struct room_version *rv, const json_t *ev,
                        char *why, size_t why_len)
{
    const json_t *prev = json_object_get(ev, "prev_events");
    const json_t *content = json_object_get(ev, "content");
    const json_t *ver, *extra, *v;
    const char *sender = ev_str(ev, "sender");
    const char *room_id = ev_str(ev, "room_id");
    size_t i;

    if (json_array_size(prev) > 0 || (prev != NULL && !json_is_array(prev)))
        return REFUSE("create event has prev_events");
    if (!json_is_object(content))
        return REFUSE("create event content is not an object");
    if (rv->room_id_from_create) {
        if (json_object_get(ev, "room_id") != NULL)
            return REFUSE("v12 create event has a room_id");
    } else if (!str_eq(auth_id_domain(room_id), auth_id_domain(sender))) {
        return REFUSE("room_id domain differs from sender domain");
    }
    ver = json_object_get(content, "room_version");
    if (ver != NULL && room_version_get(json_string_value(ver)) == NULL)
        return REFUSE("unrecognised room_version");
    if (rv->create_requires_creator && json_object_get(content, "creator") == NULL)
        return REFUSE("create content has no creator");
    if (rv->creators_infinite_power) {
        extra = json_object_get(content, "additional_creators");
        if (extra != NULL && !json_is_array(extra))
            return REFUSE("additional_creators is not an array");
        json_array_foreach(extra, i, v) {
            if (!user_id_ok(json_string_value(v)))
                return REFUSE("additional_creators holds an invalid user ID");
        }
    }
    return 0;
}

/* v12 rule 2: the room ID is the create event's ID with "!" for "$". */
static int check_room_binding(const struct room_version *rv, const json_t *ev,
                              const json_t *create, char *why, size_t why_len)
{
    const char *room_id = ev_str(ev, "room_id");
    char *create_id;
    int rc = 0;

    if (!rv->room_id_from_create)
        return 0;
    if (room_id == NULL || room_id[0] != '!')
        return REFUSE("room_id is not a room ID");
    /* The server may tag events it holds with their "event_id"; a v3+
     * PDU never carries one, so it is not part of what is hashed. */
    if (json_object_get(create, "event_id")) {
        json_t *pdu = json_copy((json_t *)create);
        json_object_del(pdu, "event_id");
        create_id = pdu ? event_compute_id(rv, pdu) : NULL;
        json_decref(pdu);
    } else {
        create_id = event_compute_id(rv, create);
    }
    if (create_id == NULL)
        return REFUSE("cannot hash the create event");
    if (strcmp(create_id + 1, room_id + 1) != 0)
        rc = REFUSE("room_id does not match the create event");
    free(create_id);
    return rc;
}

/* The join_rule in force. With no m.room.join_rules event, or one without
 * a join_rule, rooms behave as "invite": the spec names no default, and
 * this is what deployed servers (Synapse's event_auth) do, so state
 * resolution agrees with theirs. A join_rule that is not a string is no
 * rule and matches nothing. */
static const char *join_rule_of(const struct room_version *rv,
                                const struct state_map *s)
{
    const json_t *jr = state_map_get(s, "m.room.join_rules", "");
    const json_t *v = json_object_get(json_object_get(jr, "content"), "join_rule");
    const char *rule = v == NULL ? "invite" : json_string_value(v);

    if (rule == NULL)
        return "";
    /* A rule the version lacks is no rule: it matches nothing below. */
    if ((strcmp(rule, "knock") == 0 && !rv->knock_allowed)
        || (strcmp(rule, "restricted") == 0 && !rv->restricted_allowed)
        || (strcmp(rule, "knock_restricted") == 0 && !rv->knock_restricted_allowed))
        return "";
    return rule;
}

/* Rule 4.3: membership join. */
static int member_join(const struct room_version *rv, const json_t *ev,
                       const struct state_map *s, char *why, size_t why_len)
{
    const json_t *create = state_map_get(s, "m.room.create", "");
    const json_t *prev = json_object_get(ev, "prev_events");
    const char *sender = ev_str(ev, "sender");
    const char *target = ev_str(ev, "state_key");
    const char *cur = auth_membership(s, target);
    const char *rule = join_rule_of(rv, s);
    const char *via;
    char *create_id;
    bool first;

    /* 4.3.1: the creator's own join right after the create event. */
    if (json_is_array(prev) && json_array_size(prev) == 1
        && str_eq(target, primary_creator(rv, create))) {
        create_id = create_event_id(rv, create);
        first = str_eq(json_string_value(json_array_get(prev, 0)), create_id);
        free(create_id);
        if (first)
            return 0;
    }
    if (!str_eq(sender, target))
        return REFUSE("join: sender is not state_key");
    if (str_eq(cur, "ban"))
        return REFUSE("join: sender is banned");
    if (strcmp(rule, "invite") == 0 || strcmp(rule, "knock") == 0) {
        if (str_eq(cur, "invite") || str_eq(cur, "join"))
            return 0;
        return REFUSE("join: %s room and not invited", rule);
    }
    if (strcmp(rule, "restricted") == 0 || strcmp(rule, "knock_restricted") == 0) {
        if (str_eq(cur, "invite") || str_eq(cur, "join"))
            return 0;
        via = content_str(ev, "join_authorised_via_users_server");
        if (via == NULL || !str_eq(auth_membership(s, via), "join")
            || auth_user_power_level(rv, s, via) < auth_named_level(s, "invite"))
            return REFUSE("join: restricted and no authorising joined inviter");
        return 0;
    }
    if (strcmp(rule, "public") == 0)
        return 0;
    return REFUSE("join: join rule forbids it");
}

/* Bounds on the work a hostile signed block or key list can cause. */
#define TPI_MAX_KEYS 16
#define TPI_MAX_SIGNATURES 16

/* Decode an identity server public key (unpadded base64, either
 * alphabet in practice) into 32 bytes; false if it is not one. */
static bool tpi_key_decode(const char *b64, unsigned char pk[32])
{
    unsigned char *raw = NULL;
    size_t len = 0;
    bool ok;

    if (b64 == NULL)
        return false;
    if (b64_decode(b64, strlen(b64), &raw, &len) != 0
        && b64url_decode(b64, strlen(b64), &raw, &len) != 0)
        return false;
    ok = len == 32;
    if (ok)
        memcpy(pk, raw, 32);
    free(raw);
    return ok;
}

/* True if one signature of signed verifies with one of the keys in the
 * m.room.third_party_invite content: public_key, public_keys[].public_key. */
static bool tpi_signed_by_any_key(const json_t *signed_obj, const json_t *content)
{
    const char *keys[TPI_MAX_KEYS];
    const json_t *list = json_object_get(content, "public_keys");
    const json_t *sigs = json_object_get(signed_obj, "signatures");
    const json_t *by_entity, *v, *k;
    const char *entity, *key_id;
    unsigned char pk[32];
    size_t n = 0, i, checked = 0;

    if (json_is_string(json_object_get(content, "public_key")))
        keys[n++] = json_string_value(json_object_get(content, "public_key"));
    json_array_foreach(list, i, v) {
        if (n == TPI_MAX_KEYS)
            break;
        if (json_is_string(json_object_get(v, "public_key")))
            keys[n++] = json_string_value(json_object_get(v, "public_key"));
    }
    if (!json_is_object(sigs))
        return false;
    json_object_foreach((json_t *)sigs, entity, by_entity) {
        if (!json_is_object(by_entity))
            continue;
        json_object_foreach((json_t *)by_entity, key_id, k) {
            if (++checked > TPI_MAX_SIGNATURES)
                return false;
            for (i = 0; i < n; i++)
                if (tpi_key_decode(keys[i], pk)
                    && json_verify(signed_obj, entity, key_id, pk) == 0)
                    return true;
        }
    }
    return false;
}

/* Rule 4.4.1: invites for a third-party identifier. */
static int member_invite_3pid(const json_t *ev, const json_t *tpi,
                              const struct state_map *s,
                              char *why, size_t why_len)
{
    const json_t *signed_obj = json_object_get(tpi, "signed");
    const char *mxid = ev_str(signed_obj, "mxid");
    const char *token = ev_str(signed_obj, "token");
    const json_t *tpi_ev;

    if (str_eq(auth_membership(s, ev_str(ev, "state_key")), "ban"))
        return REFUSE("invite: target is banned");
    if (!json_is_object(signed_obj))
        return REFUSE("third_party_invite has no signed");
    if (mxid == NULL || token == NULL)
        return REFUSE("third_party_invite.signed lacks mxid or token");
    if (!str_eq(mxid, ev_str(ev, "state_key")))
        return REFUSE("third_party_invite mxid is not state_key");
    tpi_ev = state_map_get(s, "m.room.third_party_invite", token);
    if (tpi_ev == NULL)
        return REFUSE("no m.room.third_party_invite for token");
    if (!str_eq(ev_str(tpi_ev, "sender"), ev_str(ev, "sender")))
        return REFUSE("third_party_invite sent by someone else");
    /* 4.4.1.7: "If any signature in signed matches any public key in the
     * m.room.third_party_invite event, allow." */
    if (tpi_signed_by_any_key(signed_obj, json_object_get(tpi_ev, "content")))
        return 0;
    return REFUSE("third_party_invite: no valid signature");
}

/* Rules 4.4 to 4.7: invite, leave, ban, knock. */
static int member_other(const struct room_version *rv, const json_t *ev,
                        const char *membership, const struct state_map *s,
                        char *why, size_t why_len)
{
    const char *sender = ev_str(ev, "sender");
    const char *target = ev_str(ev, "state_key");
    const char *s_mem = auth_membership(s, sender);
    const char *t_mem = auth_membership(s, target);
    const json_t *tpi;
    int64_t s_pl = auth_user_power_level(rv, s, sender);
    int64_t t_pl = auth_user_power_level(rv, s, target);
    const char *rule;

    if (strcmp(membership, "invite") == 0) {
        tpi = json_object_get(json_object_get(ev, "content"), "third_party_invite");
        if (tpi != NULL)
            return member_invite_3pid(ev, tpi, s, why, why_len);
        if (!str_eq(s_mem, "join"))
            return REFUSE("invite: sender not joined");
        if (str_eq(t_mem, "join") || str_eq(t_mem, "ban"))
            return REFUSE("invite: target is joined or banned");
        if (s_pl >= auth_named_level(s, "invite"))
            return 0;
        return REFUSE("invite: sender below invite level");
    }
    if (strcmp(membership, "leave") == 0) {
        if (str_eq(sender, target)) {
            if (str_eq(t_mem, "invite") || str_eq(t_mem, "join")
                || str_eq(t_mem, "knock"))
                return 0;
            return REFUSE("leave: not invited, joined or knocking");
        }
        if (!str_eq(s_mem, "join"))
            return REFUSE("kick: sender not joined");
        if (str_eq(t_mem, "ban") && s_pl < auth_named_level(s, "ban"))
            return REFUSE("unban: sender below ban level");
        if (s_pl >= auth_named_level(s, "kick") && t_pl < s_pl)
            return 0;
        return REFUSE("kick: insufficient power");
    }
    if (strcmp(membership, "ban") == 0) {
        if (!str_eq(s_mem, "join"))
            return REFUSE("ban: sender not joined");
        if (s_pl >= auth_named_level(s, "ban") && t_pl < s_pl)
            return 0;
        return REFUSE("ban: insufficient power");
    }
    if (strcmp(membership, "knock") == 0) {
        rule = join_rule_of(rv, s);
        if (strcmp(rule, "knock") != 0 && strcmp(rule, "knock_restricted") != 0)
            return REFUSE("knock: join rule does not allow knocking");
        if (!str_eq(sender, target))
            return REFUSE("knock: sender is not state_key");
        if (str_eq(s_mem, "ban") || str_eq(s_mem, "invite") || str_eq(s_mem, "join"))
            return REFUSE("knock: sender is banned, invited or joined");
        return 0;
    }
    return REFUSE("unknown membership");
}

/* Rule 4: m.room.member. */
static int check_member(const struct room_version *rv, const json_t *ev,
                        const struct state_map *s, char *why, size_t why_len)
{
    const char *target = ev_str(ev, "state_key");
    const char *membership = content_str(ev, "membership");
    const json_t *via_v = json_object_get(json_object_get(ev, "content"),
                                         "join_authorised_via_users_server");
    const char *via, *dom;

    if (target == NULL || membership == NULL)
        return REFUSE("member event lacks state_key or membership");
    if (via_v != NULL) {
        /* 4.2.1: signed by the authorising user's server. The signature's
         * validity is checked by the caller; here that it is present. */
        via = json_string_value(via_v);
        if (!user_id_ok(via))
            return REFUSE("join_authorised_via_users_server is not a user ID");
        dom = auth_id_domain(via);
        if (json_object_size(json_object_get(json_object_get(ev, "signatures"),
                                             dom)) == 0)
            return REFUSE("not signed by the authorising server");
    }
    if (strcmp(membership, "join") == 0)
        return member_join(rv, ev, s, why, why_len);
    return member_other(rv, ev, membership, s, why, why_len);
}

int auth_check_event(const struct room_version *rv, const json_t *event,
                     const struct state_map *auth_state,
                     char *why, size_t why_len)
{
    const char *type = ev_str(event, "type");
    const char *sender = ev_str(event, "sender");
    const char *sk = ev_str(event, "state_key");
    const json_t *create;

    if (why != NULL && why_len > 0)
        why[0] = '\0';
    if (rv == NULL || !json_is_object(event))
        return REFUSE("no event or room version");
    if (type == NULL || !user_id_ok(sender))
        return REFUSE("event lacks a type or a valid sender");
    if (json_object_get(event, "state_key") != NULL && sk == NULL)
        return REFUSE("state_key is not a string");
    /* Rule 1 applies by type alone, as the spec words it. */
    if (strcmp(type, "m.room.create") == 0)
        return check_create(rv, event, why, why_len);
    create = state_map_get(auth_state, "m.room.create", "");
    if (create == NULL)
        return REFUSE("no m.room.create in auth state");
    if (check_room_binding(rv, event, create, why, why_len) != 0)
        return -1;
    if (json_is_false(json_object_get(json_object_get(create, "content"),
                                      "m.federate"))
        && !str_eq(auth_id_domain(sender), auth_id_domain(ev_str(create, "sender"))))
        return REFUSE("room does not federate");
    if (strcmp(type, "m.room.member") == 0)
        return check_member(rv, event, auth_state, why, why_len);
    if (!str_eq(auth_membership(auth_state, sender), "join"))
        return REFUSE("sender is not joined");
    if (strcmp(type, "m.room.third_party_invite") == 0) {
        if (auth_user_power_level(rv, auth_state, sender)
            >= auth_named_level(auth_state, "invite"))
            return 0;
        return REFUSE("third_party_invite: sender below invite level");
    }
    if (auth_required_level_for_event(rv, auth_state, type, sk)
        > auth_user_power_level(rv, auth_state, sender))
        return REFUSE("sender's power level is below the event's");
    if (sk != NULL && sk[0] == '@' && strcmp(sk, sender) != 0)
        return REFUSE("state_key names another user");
    if (strcmp(type, "m.room.power_levels") == 0 && sk != NULL && sk[0] == '\0')
        return auth_check_power_levels(rv, event, auth_state, why, why_len);
    return 0;
}
