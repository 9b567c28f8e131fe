/*
 * push_eval: evaluation of a ruleset against an event ("Push Rules",
 * "Conditions"), and the action helpers.
 *
 * The ruleset may come from storage or from a client: each rule and
 * condition is checked as it is read, and anything malformed simply does
 * not match. Each glob may use PUSH_GLOB_BUDGET, and all the globs of
 * one call PUSH_EVAL_BUDGET together.
 */
#include "push/push_internal.h"

#include <string.h>

struct eval {
    const json_t *event;
    const struct push_ctx *ctx;
    size_t budget;
};

static bool glob_on(struct eval *ev, const char *pattern, const json_t *value,
                    enum push_glob_mode mode, bool literal)
{
    size_t allowed = ev->budget < PUSH_GLOB_BUDGET ? ev->budget : PUSH_GLOB_BUDGET;
    size_t left = allowed;
    enum push_glob_result r;

    if (!json_is_string(value) || pattern == NULL)
        return false;
    r = push_glob_match(pattern, strlen(pattern), json_string_value(value),
                        json_string_length(value), mode, literal, &left);
    ev->budget -= allowed - left;
    return r == PUSH_GLOB_YES;
}

/* "event_match": the whole value, except for content.body where "pattern
 * must instead match any substring of the value of the property which
 * starts and ends at a word boundary". Absent or non-string: no match,
 * "even if pattern is *". */
static bool cond_event_match(struct eval *ev, const json_t *cond)
{
    const char *key = json_string_value(json_object_get(cond, "key"));
    const char *pattern = json_string_value(json_object_get(cond, "pattern"));

    if (key == NULL || pattern == NULL)
        return false;
    return glob_on(ev, pattern, push_path_lookup(ev->event, key),
                   strcmp(key, "content.body") == 0 ? PUSH_GLOB_WORDS : PUSH_GLOB_WHOLE,
                   false);
}

/* Exact equality of two canonical scalars; "do not cast types". */
static bool scalar_equal(const json_t *a, const json_t *b)
{
    if (!push_value_is_canonical_scalar(a) || !push_value_is_canonical_scalar(b) ||
        json_typeof(a) != json_typeof(b))
        return false;
    if (json_is_string(a))
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b),
                      json_string_length(a)) == 0;
    if (json_is_integer(a))
        return json_integer_value(a) == json_integer_value(b);
    return true;  /* true, false, null: the type is the value */
}

static bool cond_property_is(struct eval *ev, const json_t *cond)
{
    const char *key = json_string_value(json_object_get(cond, "key"));

    return key != NULL &&
           scalar_equal(push_path_lookup(ev->event, key), json_object_get(cond, "value"));
}

/* "Array values not of those types are ignored." */
static bool cond_property_contains(struct eval *ev, const json_t *cond)
{
    const char *key = json_string_value(json_object_get(cond, "key"));
    const json_t *want = json_object_get(cond, "value"), *arr, *v;
    size_t i;

    if (key == NULL || !push_value_is_canonical_scalar(want))
        return false;
    arr = push_path_lookup(ev->event, key);
    json_array_foreach(arr, i, v)
        if (scalar_equal(v, want))
            return true;
    return false;
}

/* The display name as a literal, case-insensitively, between word
 * boundaries of content.body (what Synapse does). An empty name would
 * match every body: it never matches. */
static bool cond_display_name(struct eval *ev)
{
    const char *name = ev->ctx->display_name;

    if (name == NULL || name[0] == '\0')
        return false;
    return glob_on(ev, name, push_path_lookup(ev->event, "content.body"),
                   PUSH_GLOB_WORDS, true);
}

static bool cond_member_count(struct eval *ev, const json_t *cond)
{
    enum push_cmp cmp;
    int64_t n, have = ev->ctx->member_count;

    if (!push_member_count_parse(json_string_value(json_object_get(cond, "is")), &cmp, &n))
        return false;
    switch (cmp) {
    case PUSH_CMP_EQ: return have == n;
    case PUSH_CMP_LT: return have < n;
    case PUSH_CMP_GT: return have > n;
    case PUSH_CMP_LE: return have <= n;
    case PUSH_CMP_GE: return have >= n;
    }
    return false;
}

/* "The key is used to look up the power level required to send a
 * notification type from the notifications object in the power level
 * event content"; m.room.power_levels: room "Defaults to 50 if
 * unspecified" (50 for other keys too, as Synapse). */
static bool cond_sender_permission(struct eval *ev, const json_t *cond)
{
    const char *key = json_string_value(json_object_get(cond, "key"));
    const json_t *need;
    int64_t required = 50;

    if (key == NULL)
        return false;
    need = json_object_get(json_object_get(ev->ctx->power_levels, "notifications"), key);
    if (json_is_integer(need))
        required = json_integer_value(need);
    return ev->ctx->sender_power_level >= required;
}

static bool condition_holds(struct eval *ev, const json_t *cond)
{
    const char *kind = json_string_value(json_object_get(cond, "kind"));

    if (kind == NULL)
        return false;
    if (strcmp(kind, "event_match") == 0)
        return cond_event_match(ev, cond);
    if (strcmp(kind, "event_property_is") == 0)
        return cond_property_is(ev, cond);
    if (strcmp(kind, "event_property_contains") == 0)
        return cond_property_contains(ev, cond);
    if (strcmp(kind, "contains_display_name") == 0)
        return cond_display_name(ev);
    if (strcmp(kind, "room_member_count") == 0)
        return cond_member_count(ev, cond);
    if (strcmp(kind, "sender_notification_permission") == 0)
        return cond_sender_permission(ev, cond);
    /* "Unrecognised conditions MUST NOT match any events". */
    return false;
}

static bool rule_matches(struct eval *ev, enum push_kind kind, const json_t *rule)
{
    const char *id = json_string_value(json_object_get(rule, "rule_id"));
    const json_t *conds, *c;
    size_t i;

    /* "Disabled rules never match." */
    if (id == NULL || !json_is_true(json_object_get(rule, "enabled")))
        return false;
    switch (kind) {
    case PUSH_KIND_CONTENT:
        return push_pattern_valid(json_object_get(rule, "pattern")) &&
               glob_on(ev, json_string_value(json_object_get(rule, "pattern")),
                       push_path_lookup(ev->event, "content.body"), PUSH_GLOB_WORDS, false);
    case PUSH_KIND_ROOM:
        /* Exact: room and user IDs are case-sensitive identifiers. */
        return json_is_string(json_object_get(ev->event, "room_id")) &&
               strcmp(json_string_value(json_object_get(ev->event, "room_id")), id) == 0;
    case PUSH_KIND_SENDER:
        return json_is_string(json_object_get(ev->event, "sender")) &&
               strcmp(json_string_value(json_object_get(ev->event, "sender")), id) == 0;
    default:
        break;
    }
    /* "A rule with no conditions always matches." */
    conds = json_object_get(rule, "conditions");
    if (conds == NULL)
        return true;
    if (!json_is_array(conds) || json_array_size(conds) > PUSH_MAX_CONDITIONS)
        return false;
    json_array_foreach(conds, i, c)
        if (!condition_holds(ev, c))
            return false;
    return true;
}

int push_evaluate(const json_t *ruleset, const json_t *event,
                  const struct push_ctx *ctx, json_t **actions_out)
{
    struct eval ev = { event, ctx, PUSH_EVAL_BUDGET };
    const json_t *global, *sender;

    if (actions_out != NULL)
        *actions_out = NULL;
    if (ruleset == NULL || !json_is_object(event) || ctx == NULL || ctx->user_id == NULL ||
        actions_out == NULL)
        return -1;
    sender = json_object_get(event, "sender");
    if (json_is_string(sender) && strcmp(json_string_value(sender), ctx->user_id) == 0)
        return 0;
    global = json_object_get(ruleset, "global");
    if (!json_is_object(global))
        global = ruleset;
    for (int k = 0; k < PUSH_KIND_COUNT; k++) {
        const json_t *list = json_object_get(global, push_kind_name((enum push_kind)k));
        const json_t *rule;
        size_t i;

        json_array_foreach(list, i, rule) {
            /* Room for every user rule and every default rule. */
            if (i >= PUSH_MAX_RULES_PER_KIND + 64)
                break;
            if (!rule_matches(&ev, (enum push_kind)k, rule))
                continue;
            const char *why = "";

            *actions_out = push_actions_sanitize(json_object_get(rule, "actions"), &why);
            /* Malformed actions from storage: the rule suppresses, it
             * never notifies on something we could not read. */
            if (*actions_out == NULL && strcmp(why, "out of memory") != 0)
                *actions_out = json_array();
            return *actions_out != NULL ? 1 : -1;
        }
    }
    return 0;
}

bool push_actions_notify(const json_t *actions)
{
    const json_t *a;
    size_t i;

    json_array_foreach(actions, i, a)
        if (json_is_string(a) && strcmp(json_string_value(a), "notify") == 0)
            return true;
    return false;
}

bool push_actions_highlight(const json_t *actions)
{
    const json_t *a;
    size_t i;

    json_array_foreach(actions, i, a) {
        const char *tweak = json_string_value(json_object_get(a, "set_tweak"));
        const json_t *value;

        if (tweak == NULL || strcmp(tweak, "highlight") != 0)
            continue;
        value = json_object_get(a, "value");
        return value == NULL || json_is_true(value);
    }
    return false;
}
