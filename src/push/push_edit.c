/*
 * push_edit: the editors of a user's push rule state (push_rules.h).
 *
 * Every editor builds the new value aside and swaps it in with one
 * json_object_set_new() at the end, so a failure at any step, including
 * allocation, leaves the state as it was.
 */
#include "push/push_internal.h"

#include <string.h>

json_t *push_state_new(void)
{
    return json_pack("{s:{}, s:{}}", "rules", "defaults");
}

/* state[name], created empty if absent; NULL if state is malformed or on
 * allocation failure. Borrowed. */
static json_t *state_section(json_t *state, const char *name)
{
    json_t *sec = json_object_get(state, name);

    if (sec != NULL)
        return json_is_object(sec) ? sec : NULL;
    sec = json_object();
    if (sec == NULL || json_object_set_new(state, name, sec) != 0)
        return NULL;
    return sec;
}

/* Index of rule_id in a user rule list, or -1. */
static long rules_find(const json_t *list, const char *rule_id)
{
    const json_t *r;
    size_t i;

    json_array_foreach(list, i, r) {
        const char *id = json_string_value(json_object_get(r, "rule_id"));

        if (id != NULL && strcmp(id, rule_id) == 0)
            return (long)i;
    }
    return -1;
}

/* Parse kind and look the user's rule list of that kind up (borrowed,
 * NULL if none yet). */
static enum push_status edit_begin(json_t *state, const char *kind_name,
                                   enum push_kind *kind, json_t **rules,
                                   json_t **list, struct push_error *err)
{
    int k = push_kind_parse(kind_name);

    if (k < 0)
        return push_error_set(err, PUSH_ERR_UNRECOGNIZED, "unknown push rule kind");
    *kind = (enum push_kind)k;
    if (!json_is_object(state))
        return push_error_set(err, PUSH_ERR_INVALID, "no push rule state");
    *rules = state_section(state, "rules");
    if (*rules == NULL)
        return push_error_set(err, PUSH_ERR_NOMEM, "push rule state unusable");
    *list = json_object_get(*rules, kind_name);
    if (*list != NULL && !json_is_array(*list))
        *list = NULL;
    return PUSH_OK;
}

/* The rule a PUT body describes, enabled, without position. */
static json_t *rule_from_body(enum push_kind kind, const char *rule_id,
                              const json_t *body, const char **why)
{
    json_t *rule, *actions, *extra = NULL;

    if (!json_is_object(body)) {
        *why = "the body must be an object";
        return NULL;
    }
    actions = push_actions_sanitize(json_object_get(body, "actions"), why);
    if (actions == NULL)
        return NULL;
    if (kind == PUSH_KIND_CONTENT) {
        /* "Content rules take one parameter: pattern". */
        if (!push_pattern_valid(json_object_get(body, "pattern"))) {
            *why = "content rules need a pattern string";
            json_decref(actions);
            return NULL;
        }
        extra = json_deep_copy(json_object_get(body, "pattern"));
        if (extra == NULL) {
            *why = "out of memory";
            json_decref(actions);
            return NULL;
        }
    } else if (kind == PUSH_KIND_OVERRIDE || kind == PUSH_KIND_UNDERRIDE) {
        const json_t *c = json_object_get(body, "conditions");

        extra = c == NULL ? json_array() : push_conditions_copy(c, why);
        if (extra == NULL) {
            json_decref(actions);
            return NULL;
        }
    }
    *why = "out of memory";
    rule = json_pack("{s:s, s:o, s:b}", "rule_id", rule_id, "actions", actions,
                     "enabled", 1);
    if (rule != NULL && extra != NULL &&
        json_object_set(rule, kind == PUSH_KIND_CONTENT ? "pattern" : "conditions",
                        extra) != 0) {
        json_decref(rule);
        rule = NULL;
    }
    json_decref(extra);
    return rule;
}

/* Where the rule goes in list (which no longer holds it). */
static enum push_status put_position(const json_t *list, const char *before,
                                     const char *after, long kept, size_t *pos,
                                     struct push_error *err)
{
    const char *anchor = before != NULL ? before : after;
    long i;

    if (anchor == NULL) {
        *pos = kept >= 0 ? (size_t)kept : 0;
        return PUSH_OK;
    }
    /* "It is not possible to add a rule relative to a predefined server
     * rule": those are not in the user's list, so they are not found. */
    i = rules_find(list, anchor);
    if (i < 0)
        return push_error_set(err, PUSH_ERR_ANCHOR, "before/after rule not found: %.100s",
                              anchor);
    *pos = before != NULL ? (size_t)i : (size_t)i + 1;
    return PUSH_OK;
}

enum push_status push_rule_put(json_t *state, const char *kind_name, const char *rule_id,
                               const json_t *body, const char *before,
                               const char *after, struct push_error *err)
{
    enum push_status st;
    enum push_kind kind = PUSH_KIND_OVERRIDE;
    json_t *rules = NULL, *list = NULL, *copy = NULL, *rule = NULL;
    const char *why = "invalid rule";
    long kept = -1;
    size_t pos = 0;

    st = edit_begin(state, kind_name, &kind, &rules, &list, err);
    if (st != PUSH_OK)
        return st;
    if (!push_rule_id_valid(kind, rule_id, &why))
        return push_error_set(err, PUSH_ERR_INVALID, "%s", why);
    rule = rule_from_body(kind, rule_id, body, &why);
    if (rule == NULL)
        return push_error_set(err, strcmp(why, "out of memory") == 0 ? PUSH_ERR_NOMEM
                              : PUSH_ERR_INVALID, "%s", why);
    copy = list != NULL ? json_copy(list) : json_array();
    if (copy == NULL) {
        st = push_error_set(err, PUSH_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (list != NULL && (kept = rules_find(copy, rule_id)) >= 0) {
        /* A replaced rule keeps its enabled state (as Synapse). */
        const json_t *was = json_object_get(json_array_get(copy, (size_t)kept), "enabled");

        if (json_is_boolean(was) && json_object_set(rule, "enabled", (json_t *)was) != 0) {
            st = push_error_set(err, PUSH_ERR_NOMEM, "out of memory");
            goto out;
        }
        json_array_remove(copy, (size_t)kept);
    } else if (json_array_size(copy) >= PUSH_MAX_RULES_PER_KIND) {
        st = push_error_set(err, PUSH_ERR_LIMIT, "too many %s rules", kind_name);
        goto out;
    }
    st = put_position(copy, before, after, kept, &pos, err);
    if (st != PUSH_OK)
        goto out;
    if (json_array_insert(copy, pos, rule) != 0 ||
        json_object_set(rules, kind_name, copy) != 0) {
        st = push_error_set(err, PUSH_ERR_NOMEM, "out of memory");
        goto out;
    }
    st = push_error_set(err, PUSH_OK, "ok");
out:
    json_decref(copy);
    json_decref(rule);
    return st;
}

enum push_status push_rule_delete(json_t *state, const char *kind_name, const char *rule_id,
                                  struct push_error *err)
{
    enum push_status st;
    enum push_kind kind = PUSH_KIND_OVERRIDE;
    json_t *rules = NULL, *list = NULL, *copy;
    long i;

    st = edit_begin(state, kind_name, &kind, &rules, &list, err);
    if (st != PUSH_OK)
        return st;
    i = list != NULL && rule_id != NULL ? rules_find(list, rule_id) : -1;
    if (i < 0)
        return push_error_set(err, PUSH_ERR_NOT_FOUND, "The push rule was not found.");
    copy = json_copy(list);
    if (copy == NULL || json_array_remove(copy, (size_t)i) != 0) {
        json_decref(copy);
        return push_error_set(err, PUSH_ERR_NOMEM, "out of memory");
    }
    /* set_new takes copy over, even when it fails. */
    if (json_object_set_new(rules, kind_name, copy) != 0)
        return push_error_set(err, PUSH_ERR_NOMEM, "out of memory");
    return push_error_set(err, PUSH_OK, "ok");
}

/* The record of the user's changes to server-default rules, with
 * defaults[kind][rule_id][name] = value, built aside: NULL on allocation
 * failure. */
static json_t *defaults_with(const json_t *state, const char *kind_name, const char *rule_id,
                             const char *name, json_t *value)
{
    const json_t *old = json_object_get(state, "defaults");
    json_t *defaults = json_is_object(old) ? json_deep_copy(old) : json_object();
    json_t *per_kind = json_object_get(defaults, kind_name), *rec;

    if (defaults == NULL)
        return NULL;
    if (!json_is_object(per_kind) &&
        json_object_set_new(defaults, kind_name, per_kind = json_object()) != 0)
        goto err;
    rec = json_object_get(per_kind, rule_id);
    if (!json_is_object(rec) && json_object_set_new(per_kind, rule_id, rec = json_object()) != 0)
        goto err;
    if (json_object_set(rec, name, value) != 0)
        goto err;
    return defaults;
err:
    json_decref(defaults);
    return NULL;
}

/* Set member name of the rule (a user rule, or the record of changes to
 * a server-default one) to value (a reference is stolen). */
static enum push_status rule_member_set(json_t *state, const char *kind_name,
                                        const char *rule_id, const char *name,
                                        json_t *value, struct push_error *err)
{
    enum push_status st;
    enum push_kind kind = PUSH_KIND_OVERRIDE;
    json_t *rules = NULL, *list = NULL, *rec;
    long i;

    st = edit_begin(state, kind_name, &kind, &rules, &list, err);
    if (st != PUSH_OK)
        goto out;
    if (value == NULL) {
        st = push_error_set(err, PUSH_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (rule_id != NULL && push_default_exists(kind, rule_id)) {
        rec = defaults_with(state, kind_name, rule_id, name, value);
        /* set_new takes rec over, even when it fails. */
        if (rec == NULL || json_object_set_new(state, "defaults", rec) != 0) {
            st = push_error_set(err, PUSH_ERR_NOMEM, "out of memory");
            goto out;
        }
    } else {
        i = list != NULL && rule_id != NULL ? rules_find(list, rule_id) : -1;
        if (i < 0) {
            st = push_error_set(err, PUSH_ERR_NOT_FOUND, "The push rule was not found.");
            goto out;
        }
        rec = json_array_get(list, (size_t)i);
        if (json_object_set(rec, name, value) != 0) {
            st = push_error_set(err, PUSH_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    st = push_error_set(err, PUSH_OK, "ok");
out:
    json_decref(value);
    return st;
}

enum push_status push_rule_set_enabled(json_t *state, const char *kind,
                                       const char *rule_id, bool enabled,
                                       struct push_error *err)
{
    return rule_member_set(state, kind, rule_id, "enabled", json_boolean(enabled), err);
}

enum push_status push_rule_set_actions(json_t *state, const char *kind,
                                       const char *rule_id, const json_t *actions,
                                       struct push_error *err)
{
    const char *why = "invalid actions";
    json_t *clean;

    if (push_kind_parse(kind) < 0)
        return push_error_set(err, PUSH_ERR_UNRECOGNIZED, "unknown push rule kind");
    clean = push_actions_sanitize(actions, &why);
    if (clean == NULL)
        return push_error_set(err, strcmp(why, "out of memory") == 0 ? PUSH_ERR_NOMEM
                              : PUSH_ERR_INVALID, "%s", why);
    return rule_member_set(state, kind, rule_id, "actions", clean, err);
}
