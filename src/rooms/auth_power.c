/*
 * auth_power: power level arithmetic and the m.room.power_levels rule.
 * Contract in auth.h.
 */
#include <stdio.h>
#include <string.h>

#include "rooms/auth_internal.h"
#include "util/ids.h"

/* Canonical JSON integers (appendices "Canonical JSON"). */
#define PL_MAX ((json_int_t)9007199254740991LL)

int auth_refuse(char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;

    if (why != NULL && why_len > 0) {
        va_start(ap, fmt);
        vsnprintf(why, why_len, fmt, ap);
        va_end(ap);
    }
    return -1;
}

const char *auth_id_domain(const char *id)
{
    const char *c = id ? strchr(id, ':') : NULL;

    return c ? c + 1 : NULL;
}

static const json_t *create_event(const struct state_map *s)
{
    return state_map_get(s, "m.room.create", "");
}

static const json_t *pl_content(const struct state_map *s)
{
    const json_t *pl = state_map_get(s, "m.room.power_levels", "");
    const json_t *c = pl ? json_object_get(pl, "content") : NULL;

    return json_is_object(c) ? c : NULL;
}

/* An integer power level; strings are not power levels since v10. */
static bool pl_int(const json_t *v, int64_t *out)
{
    json_int_t i;

    if (!json_is_integer(v))
        return false;
    i = json_integer_value(v);
    if (i > PL_MAX || i < -PL_MAX)
        return false;
    *out = (int64_t)i;
    return true;
}

bool auth_is_creator(const struct room_version *rv,
                     const struct state_map *auth_state, const char *user_id)
{
    const json_t *create = create_event(auth_state);
    const json_t *content, *extra, *v;
    const char *creator;
    size_t i;

    if (rv == NULL || create == NULL || user_id == NULL)
        return false;
    content = json_object_get(create, "content");
    /* v10 names the creator in content (v1 auth rules); v11 made the
     * sender authoritative ("clients can rely on sender instead"). */
    if (rv->auth == ROOM_AUTH_V10)
        creator = json_string_value(json_object_get(content, "creator"));
    else
        creator = json_string_value(json_object_get(create, "sender"));
    if (creator != NULL && strcmp(creator, user_id) == 0)
        return true;
    if (rv->auth != ROOM_AUTH_V12)
        return false;
    extra = json_object_get(content, "additional_creators");
    json_array_foreach(extra, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), user_id) == 0)
            return true;
    }
    return false;
}

int64_t auth_user_power_level(const struct room_version *rv,
                              const struct state_map *auth_state,
                              const char *user_id)
{
    const json_t *c = pl_content(auth_state);
    int64_t level;

    if (rv != NULL && rv->creators_infinite_power
        && auth_is_creator(rv, auth_state, user_id))
        return AUTH_POWER_INFINITE;
    if (c == NULL) {
        /* m.room.power_levels: "If the room contains no
         * m.room.power_levels event, the room's creator has a power level
         * of 100, and all other users have a power level of 0." */
        return auth_is_creator(rv, auth_state, user_id) ? 100 : 0;
    }
    if (user_id != NULL
        && pl_int(json_object_get(json_object_get(c, "users"), user_id), &level))
        return level;
    if (pl_int(json_object_get(c, "users_default"), &level))
        return level;
    return 0;
}

int64_t auth_named_level(const struct state_map *auth_state, const char *name)
{
    const json_t *c = pl_content(auth_state);
    int64_t level, def = 0;

    if (name == NULL)
        return 0;
    /* Schema m.room.power_levels: ban, kick, redact default to 50 and
     * invite to 0, "if they are not specified" or there is no event. */
    if (strcmp(name, "ban") == 0 || strcmp(name, "kick") == 0
        || strcmp(name, "redact") == 0 || strcmp(name, "state_default") == 0)
        def = 50;
    if (c != NULL && pl_int(json_object_get(c, name), &level))
        return level;
    return def;
}

int64_t auth_required_level_for_event(const struct room_version *rv,
                                      const struct state_map *auth_state,
                                      const char *type, const char *state_key)
{
    const json_t *c = pl_content(auth_state);
    int64_t level;

    (void)rv;
    if (c != NULL && type != NULL
        && pl_int(json_object_get(json_object_get(c, "events"), type), &level))
        return level;
    /* "If there is no state_default in the m.room.power_levels event, or
     * there is no m.room.power_levels event, the state_default is 50." */
    if (state_key != NULL)
        return auth_named_level(auth_state, "state_default");
    return auth_named_level(auth_state, "events_default");
}

const char *auth_membership(const struct state_map *auth_state,
                            const char *user_id)
{
    const json_t *m;

    if (user_id == NULL)
        return NULL;
    m = state_map_get(auth_state, "m.room.member", user_id);
    return m ? json_string_value(json_object_get(json_object_get(m, "content"),
                                                 "membership"))
             : NULL;
}

bool auth_redaction_applies(const struct room_version *rv,
                            const struct state_map *auth_state,
                            const json_t *redaction, const json_t *original)
{
    const char *rs = json_string_value(json_object_get(redaction, "sender"));
    const char *os = json_string_value(json_object_get(original, "sender"));
    const char *rd = auth_id_domain(rs), *od = auth_id_domain(os);

    if (rs == NULL || os == NULL)
        return false;
    /* "1. The power level of the redaction event's sender is greater than
     * or equal to the redact level." */
    if (auth_user_power_level(rv, auth_state, rs)
        >= auth_named_level(auth_state, "redact"))
        return true;
    /* "2. The domain of the redaction event's sender matches that of the
     * original event's sender." */
    return rd != NULL && od != NULL && strcmp(rd, od) == 0;
}

/* Rules 9.1 to 9.3 (v12: 10.1 to 10.4): the shape of the new content. */
static int pl_validate(const struct room_version *rv, const json_t *content,
                       const struct state_map *auth_state,
                       char *why, size_t why_len)
{
    static const char *const scalars[] = { "users_default", "events_default",
        "state_default", "ban", "redact", "kick", "invite", NULL };
    static const char *const maps[] = { "events", "notifications", NULL };
    const json_t *v, *users, *m;
    const char *k;
    int64_t level;

    for (size_t i = 0; scalars[i] != NULL; i++) {
        v = json_object_get(content, scalars[i]);
        if (v != NULL && !pl_int(v, &level))
            return auth_refuse(why, why_len, "power levels: %s is not an integer",
                               scalars[i]);
    }
    for (size_t i = 0; maps[i] != NULL; i++) {
        m = json_object_get(content, maps[i]);
        if (m == NULL)
            continue;
        if (!json_is_object(m))
            return auth_refuse(why, why_len, "power levels: %s is not an object",
                               maps[i]);
        json_object_foreach((json_t *)m, k, v) {
            if (!pl_int(v, &level))
                return auth_refuse(why, why_len,
                                   "power levels: %s values must be integers",
                                   maps[i]);
        }
    }
    users = json_object_get(content, "users");
    if (users == NULL)
        return 0;
    if (!json_is_object(users))
        return auth_refuse(why, why_len, "power levels: users is not an object");
    json_object_foreach((json_t *)users, k, v) {
        if (!id_user_valid(k) || !pl_int(v, &level))
            return auth_refuse(why, why_len,
                               "power levels: users needs user IDs to integers");
        /* v12 rule 10.4: creators cannot appear in users. */
        if (rv->creators_infinite_power && auth_is_creator(rv, auth_state, k))
            return auth_refuse(why, why_len,
                               "power levels: users may not list a room creator");
    }
    return 0;
}

/* Compare one value old -> new against the sender's level. `removal_ge`
 * selects the users rule (old value >= sender refuses) over the others
 * (old value > sender refuses). Absent sides are not compared. */
static int pl_change_ok(const json_t *old_v, const json_t *new_v,
                        int64_t sender, bool removal_ge)
{
    int64_t o = 0, n = 0;
    bool has_o = pl_int(old_v, &o), has_n = pl_int(new_v, &n);

    if (has_o == has_n && (!has_o || o == n))
        return 0; /* unchanged */
    if (has_o && (removal_ge ? o >= sender : o > sender))
        return -1;
    if (has_n && n > sender)
        return -1;
    return 0;
}

/* Every key of either map, checked with pl_change_ok. `own` is skipped for
 * removal/change of the old value (users rule 9.8 "other than the
 * sender's own entry") but its new value is still bounded (9.9). */
static int pl_map_changes_ok(const json_t *old_m, const json_t *new_m,
                             int64_t sender, bool users, const char *own)
{
    const json_t *sides[2] = { old_m, new_m };
    const char *k;
    const json_t *v;

    for (int s = 0; s < 2; s++) {
        if (!json_is_object(sides[s]))
            continue;
        json_object_foreach((json_t *)sides[s], k, v) {
            const json_t *o = json_object_get(old_m, k);
            const json_t *n = json_object_get(new_m, k);
            (void)v;
            if (users && own != NULL && strcmp(k, own) == 0)
                o = NULL;
            if (pl_change_ok(o, n, sender, users) != 0)
                return -1;
        }
    }
    return 0;
}

int auth_check_power_levels(const struct room_version *rv,
                            const json_t *event,
                            const struct state_map *auth_state,
                            char *why, size_t why_len)
{
    static const char *const scalars[] = { "users_default", "events_default",
        "state_default", "ban", "redact", "kick", "invite", NULL };
    static const char *const maps[] = { "events", "notifications", NULL };
    const json_t *content = json_object_get(event, "content");
    const json_t *old = pl_content(auth_state);
    const char *sender = json_string_value(json_object_get(event, "sender"));
    int64_t level;

    if (!json_is_object(content))
        return auth_refuse(why, why_len, "power levels: content is not an object");
    if (pl_validate(rv, content, auth_state, why, why_len) != 0)
        return -1;
    if (state_map_get(auth_state, "m.room.power_levels", "") == NULL)
        return 0; /* "If there is no previous m.room.power_levels event" */
    /* old may be NULL (content not an object): json_object_get(NULL, k)
     * is NULL, so every old value then reads as absent. */
    level = auth_user_power_level(rv, auth_state, sender);
    for (size_t i = 0; scalars[i] != NULL; i++) {
        if (pl_change_ok(json_object_get(old, scalars[i]),
                         json_object_get(content, scalars[i]), level, false) != 0)
            return auth_refuse(why, why_len,
                               "power levels: %s change beyond sender's level",
                               scalars[i]);
    }
    for (size_t i = 0; maps[i] != NULL; i++) {
        if (pl_map_changes_ok(json_object_get(old, maps[i]),
                              json_object_get(content, maps[i]), level,
                              false, NULL) != 0)
            return auth_refuse(why, why_len,
                               "power levels: %s change beyond sender's level",
                               maps[i]);
    }
    if (pl_map_changes_ok(json_object_get(old, "users"),
                          json_object_get(content, "users"), level, true,
                          sender) != 0)
        return auth_refuse(why, why_len,
                           "power levels: users change beyond sender's level");
    return 0;
}
