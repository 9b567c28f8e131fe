/*
 * push_validate: what a rule may hold, checked the same way when a client
 * sends it and when it is loaded back from storage.
 */
#include "push/push_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/ids.h"
#include "util/str.h"

/* Tweak values and unknown conditions are passed through as they are
 * ("Tweaks are passed transparently"), but never unbounded. */
#define OPAQUE_MAX_NODES 64
#define OPAQUE_MAX_DEPTH 8

static bool json_bounded(const json_t *v, int depth, size_t *nodes)
{
    const char *k;
    const json_t *c;
    size_t i;

    if (depth > OPAQUE_MAX_DEPTH || ++*nodes > OPAQUE_MAX_NODES)
        return false;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, c)
            if (strlen(k) > PUSH_MAX_KEY_LEN || !json_bounded(c, depth + 1, nodes))
                return false;
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, c)
            if (!json_bounded(c, depth + 1, nodes))
                return false;
    } else if (json_is_string(v)) {
        return json_string_length(v) <= PUSH_MAX_PATTERN_LEN;
    }
    return true;
}

static bool opaque_ok(const json_t *v)
{
    size_t nodes = 0;

    return json_bounded(v, 0, &nodes);
}

/* One action: kept (1), dropped as historical (0), invalid (-1). */
static int action_check(const json_t *a, const char **why)
{
    const json_t *tweak;

    if (json_is_string(a)) {
        const char *s = json_string_value(a);

        if (strcmp(s, "notify") == 0)
            return 1;
        /* "Historical Actions": "Clients and homeservers MUST ignore these
         * actions, for instance, by stripping them". */
        if (strcmp(s, "dont_notify") == 0 || strcmp(s, "coalesce") == 0)
            return 0;
        *why = "unknown action";
        return -1;
    }
    tweak = json_object_get(a, "set_tweak");
    if (!json_is_string(tweak) || json_string_length(tweak) == 0 ||
        json_string_length(tweak) > PUSH_MAX_RULE_ID_LEN) {
        *why = "an action object needs a set_tweak string";
        return -1;
    }
    if (!opaque_ok(a)) {
        *why = "action too large";
        return -1;
    }
    return 1;
}

json_t *push_actions_sanitize(const json_t *actions, const char **why)
{
    const char *dummy;
    json_t *out;
    const json_t *a;
    size_t i;

    if (why == NULL)
        why = &dummy;
    if (!json_is_array(actions)) {
        *why = "actions must be an array";
        return NULL;
    }
    if (json_array_size(actions) > PUSH_MAX_ACTIONS) {
        *why = "too many actions";
        return NULL;
    }
    out = json_array();
    if (out == NULL) {
        *why = "out of memory";
        return NULL;
    }
    json_array_foreach(actions, i, a) {
        int rc = action_check(a, why);

        if (rc < 0 || (rc == 1 && json_array_append_new(out, json_deep_copy(a)) != 0)) {
            if (rc == 1)
                *why = "out of memory";
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

static bool string_member_ok(const json_t *cond, const char *name, size_t max)
{
    const json_t *v = json_object_get(cond, name);

    return json_is_string(v) && json_string_length(v) <= max &&
           strlen(json_string_value(v)) == json_string_length(v);
}

bool push_member_count_parse(const char *is, enum push_cmp *cmp, int64_t *count)
{
    /* "A decimal integer optionally prefixed by one of, ==, <, >, >= or
     * <=. ... If no prefix is present, this parameter defaults to ==."
     * Two-character prefixes first, so "<=" is not read as "<". */
    static const struct { const char *prefix; enum push_cmp cmp; } prefixes[] = {
        { "==", PUSH_CMP_EQ }, { "<=", PUSH_CMP_LE }, { ">=", PUSH_CMP_GE },
        { "<", PUSH_CMP_LT }, { ">", PUSH_CMP_GT }, { "", PUSH_CMP_EQ },
    };
    size_t i = 0, digits;
    int64_t n = 0;

    if (is == NULL)
        return false;
    while (!str_has_prefix(is, prefixes[i].prefix))
        i++;
    *cmp = prefixes[i].cmp;
    is += strlen(prefixes[i].prefix);
    digits = strspn(is, "0123456789");
    if (digits == 0 || digits > 15 || is[digits] != '\0')
        return false;
    for (i = 0; i < digits; i++)
        n = n * 10 + (is[i] - '0');
    *count = n;
    return true;
}

static bool member_count_ok(const json_t *cond)
{
    enum push_cmp cmp;
    int64_t n;

    return push_member_count_parse(json_string_value(json_object_get(cond, "is")), &cmp, &n);
}

/* A known condition with its parameters, or an unknown one (kept: it
 * simply never matches, "Unrecognised conditions MUST NOT match"). */
static bool condition_ok(const json_t *cond, const char **why)
{
    const char *kind = json_string_value(json_object_get(cond, "kind"));
    bool ok = true;

    *why = "invalid condition";
    if (!json_is_object(cond) || kind == NULL || !opaque_ok(cond))
        return false;
    if (strcmp(kind, "event_match") == 0)
        ok = string_member_ok(cond, "key", PUSH_MAX_KEY_LEN) &&
             string_member_ok(cond, "pattern", PUSH_MAX_PATTERN_LEN);
    else if (strcmp(kind, "event_property_is") == 0 ||
             strcmp(kind, "event_property_contains") == 0)
        ok = string_member_ok(cond, "key", PUSH_MAX_KEY_LEN) &&
             push_value_is_canonical_scalar(json_object_get(cond, "value"));
    else if (strcmp(kind, "room_member_count") == 0)
        ok = member_count_ok(cond);
    else if (strcmp(kind, "sender_notification_permission") == 0)
        ok = string_member_ok(cond, "key", PUSH_MAX_KEY_LEN);
    if (!ok)
        *why = "condition lacks a valid parameter";
    return ok;
}

json_t *push_conditions_copy(const json_t *conditions, const char **why)
{
    const char *dummy;
    const json_t *c;
    size_t i;

    if (why == NULL)
        why = &dummy;
    if (!json_is_array(conditions)) {
        *why = "conditions must be an array";
        return NULL;
    }
    if (json_array_size(conditions) > PUSH_MAX_CONDITIONS) {
        *why = "too many conditions";
        return NULL;
    }
    json_array_foreach(conditions, i, c)
        if (!condition_ok(c, why))
            return NULL;
    *why = "out of memory";
    return json_deep_copy(conditions);
}

bool push_pattern_valid(const json_t *pattern)
{
    return json_is_string(pattern) && json_string_length(pattern) <= PUSH_MAX_PATTERN_LEN &&
           strlen(json_string_value(pattern)) == json_string_length(pattern);
}

bool push_rule_id_valid(enum push_kind kind, const char *rule_id, const char **why)
{
    const char *dummy;

    if (why == NULL)
        why = &dummy;
    if (rule_id == NULL || rule_id[0] == '\0' || strlen(rule_id) > PUSH_MAX_RULE_ID_LEN) {
        *why = "rule ID must be 1 to 255 bytes";
        return false;
    }
    /* pushrules.yaml: "If the string starts with a dot ("."), the request
     * MUST be rejected ... Slashes ("/") and backslashes ("\\") are also
     * not allowed." */
    if (rule_id[0] == '.') {
        *why = "rule IDs starting with '.' are reserved for server-default rules";
        return false;
    }
    if (strpbrk(rule_id, "/\\") != NULL) {
        *why = "rule IDs may not contain '/' or '\\'";
        return false;
    }
    /* "The rule_id of a room rule is always the ID of the room"; "The
     * rule_id of Sender rules is always the Matrix user ID". */
    if (kind == PUSH_KIND_ROOM && rule_id[0] != '!') {
        *why = "the rule ID of a room rule is a room ID";
        return false;
    }
    if (kind == PUSH_KIND_SENDER && !id_user_valid(rule_id)) {
        *why = "the rule ID of a sender rule is a user ID";
        return false;
    }
    return true;
}

enum push_status push_error_set(struct push_error *err, enum push_status status,
                                const char *fmt, ...)
{
    static const struct { int http; const char *errcode; } map[] = {
        [PUSH_OK] = { 200, NULL },
        [PUSH_ERR_NOT_FOUND] = { 404, "M_NOT_FOUND" },
        [PUSH_ERR_INVALID] = { 400, "M_INVALID_PARAM" },
        /* pushrules.yaml's 400 example: "before/after rule not found",
         * M_UNKNOWN (what Synapse answers too). */
        [PUSH_ERR_ANCHOR] = { 400, "M_UNKNOWN" },
        [PUSH_ERR_UNRECOGNIZED] = { 400, "M_UNRECOGNIZED" },
        [PUSH_ERR_LIMIT] = { 400, "M_INVALID_PARAM" },
        [PUSH_ERR_NOMEM] = { 500, "M_UNKNOWN" },
    };
    va_list ap;

    if (err == NULL)
        return status;
    err->status = status;
    err->http_status = map[status].http;
    err->errcode = map[status].errcode;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return status;
}
