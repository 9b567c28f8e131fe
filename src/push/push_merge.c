/*
 * push_merge: the ruleset a client sees, built from the server-default
 * ruleset and the user's stored state, and lookups of one rule in it.
 *
 * The stored state is re-validated here ("validate what you load"): a
 * malformed or duplicate user rule is left out rather than served or
 * evaluated, and at most PUSH_MAX_RULES_PER_KIND are taken per kind.
 */
#include "push/push_internal.h"

#include <string.h>

/* A stored user rule as served: 1 with *out, 0 to skip it, -1 on
 * allocation failure. */
static int user_rule_load(enum push_kind kind, const json_t *r, json_t **out)
{
    const char *id = json_string_value(json_object_get(r, "rule_id"));
    const json_t *enabled = json_object_get(r, "enabled");
    json_t *rule, *actions, *extra = NULL;
    const char *why;

    *out = NULL;
    if (!json_is_object(r) || !push_rule_id_valid(kind, id, &why) ||
        (enabled != NULL && !json_is_boolean(enabled)))
        return 0;
    if (kind == PUSH_KIND_CONTENT) {
        if (!push_pattern_valid(json_object_get(r, "pattern")))
            return 0;
        extra = json_deep_copy(json_object_get(r, "pattern"));
        if (extra == NULL)
            return -1;
    } else if (kind == PUSH_KIND_OVERRIDE || kind == PUSH_KIND_UNDERRIDE) {
        const json_t *c = json_object_get(r, "conditions");

        extra = c == NULL ? json_array() : push_conditions_copy(c, &why);
        if (extra == NULL)
            return c == NULL || strcmp(why, "out of memory") == 0 ? -1 : 0;
    }
    actions = push_actions_sanitize(json_object_get(r, "actions"), &why);
    if (actions == NULL) {
        json_decref(extra);
        return strcmp(why, "out of memory") == 0 ? -1 : 0;
    }
    rule = json_pack("{s:s, s:b, s:b, s:o}", "rule_id", id, "default", 0,
                     "enabled", enabled == NULL || json_is_true(enabled),
                     "actions", actions);
    if (rule != NULL && extra != NULL &&
        json_object_set(rule, kind == PUSH_KIND_CONTENT ? "pattern" : "conditions",
                        extra) != 0) {
        json_decref(rule);
        rule = NULL;
    }
    json_decref(extra);
    *out = rule;
    return rule != NULL ? 1 : -1;
}

/* Append the valid user rules of kind to list, the first of each rule
 * ID only (a hash set: a thousand rules are not compared pairwise); -1 on
 * allocation failure. User rule IDs never start with '.', so they never
 * collide with the server-default rules. */
static int user_rules_append(json_t *list, enum push_kind kind, const json_t *user_state)
{
    const json_t *rules = json_object_get(json_object_get(user_state, "rules"),
                                          push_kind_name(kind));
    const json_t *r;
    json_t *seen;
    size_t i, taken = 0;
    int rc = 0;

    if (!json_is_array(rules))
        return 0;
    seen = json_object();
    if (seen == NULL)
        return -1;
    json_array_foreach(rules, i, r) {
        json_t *rule;
        const char *id;

        if (taken >= PUSH_MAX_RULES_PER_KIND)
            break;
        rc = user_rule_load(kind, r, &rule);
        if (rc < 0)
            break;
        rc = 0;
        if (rule == NULL)
            continue;
        id = json_string_value(json_object_get(rule, "rule_id"));
        if (json_object_get(seen, id) != NULL) {
            json_decref(rule);
            continue;
        }
        if (json_object_set_new(seen, id, json_true()) != 0) {
            json_decref(rule);
            rc = -1;
            break;
        }
        /* append_new releases rule even when it fails. */
        if (json_array_append_new(list, rule) != 0) {
            rc = -1;
            break;
        }
        taken++;
    }
    json_decref(seen);
    return rc;
}

/* Append a copy of the server-default rule d with the user's changes. */
static int default_rule_append(json_t *list, enum push_kind kind, const json_t *d,
                               const json_t *user_state)
{
    const char *id = json_string_value(json_object_get(d, "rule_id"));
    const json_t *rec, *enabled;
    json_t *rule, *actions;

    if (id == NULL || !json_is_object(d))
        return 0;
    rule = json_deep_copy(d);
    if (rule == NULL)
        return -1;
    rec = json_object_get(json_object_get(json_object_get(user_state, "defaults"),
                                          push_kind_name(kind)), id);
    enabled = json_object_get(rec, "enabled");
    if (json_is_boolean(enabled) && json_object_set(rule, "enabled", (json_t *)enabled) != 0)
        goto err;
    if (json_object_get(rec, "actions") != NULL) {
        actions = push_actions_sanitize(json_object_get(rec, "actions"), NULL);
        if (actions != NULL && json_object_set_new(rule, "actions", actions) != 0)
            goto err;
    }
    return json_array_append_new(list, rule);
err:
    json_decref(rule);
    return -1;
}

static bool is_master(const json_t *d)
{
    const char *id = json_string_value(json_object_get(d, "rule_id"));

    return id != NULL && strcmp(id, ".m.rule.master") == 0;
}

/* One kind's list: for override, .m.rule.master "has always a higher
 * priority than other rules, even user defined ones"; otherwise
 * server-default rules "operate at a lower priority than user-defined
 * rules". */
static json_t *kind_merge(enum push_kind kind, const json_t *dlist, const json_t *user_state)
{
    json_t *list = json_array();
    const json_t *d;
    size_t i;

    if (list == NULL)
        return NULL;
    json_array_foreach(dlist, i, d)
        if (kind == PUSH_KIND_OVERRIDE && is_master(d) &&
            default_rule_append(list, kind, d, user_state) != 0)
            goto err;
    if (user_rules_append(list, kind, user_state) != 0)
        goto err;
    json_array_foreach(dlist, i, d)
        if (!(kind == PUSH_KIND_OVERRIDE && is_master(d)) &&
            default_rule_append(list, kind, d, user_state) != 0)
            goto err;
    return list;
err:
    json_decref(list);
    return NULL;
}

json_t *push_ruleset_merge(const json_t *defaults, const json_t *user_state)
{
    const json_t *dglobal = json_object_get(defaults, "global");
    json_t *global, *out = NULL;

    if (!json_is_object(dglobal))
        return NULL;
    global = json_object();
    if (global == NULL)
        return NULL;
    for (int k = 0; k < PUSH_KIND_COUNT; k++) {
        const char *name = push_kind_name((enum push_kind)k);

        if (json_object_set_new(global, name,
                                kind_merge((enum push_kind)k, json_object_get(dglobal, name),
                                           user_state)) != 0)
            goto out;
    }
    out = json_pack("{s:O}", "global", global);
out:
    json_decref(global);
    return out;
}

/* The rule kind/rule_id of a merged ruleset, borrowed. */
static enum push_status merged_find(const json_t *merged, const char *kind,
                                    const char *rule_id, const json_t **rule,
                                    struct push_error *err)
{
    const json_t *list, *r;
    size_t i;

    if (push_kind_parse(kind) < 0)
        return push_error_set(err, PUSH_ERR_UNRECOGNIZED, "unknown push rule kind");
    list = json_object_get(json_object_get(merged, "global"), kind);
    json_array_foreach(list, i, r) {
        const char *id = json_string_value(json_object_get(r, "rule_id"));

        if (id != NULL && rule_id != NULL && strcmp(id, rule_id) == 0) {
            *rule = r;
            return push_error_set(err, PUSH_OK, "ok");
        }
    }
    return push_error_set(err, PUSH_ERR_NOT_FOUND, "The push rule was not found.");
}

enum push_status push_rule_get(const json_t *merged, const char *kind,
                               const char *rule_id, json_t **out,
                               struct push_error *err)
{
    const json_t *rule;
    enum push_status st = merged_find(merged, kind, rule_id, &rule, err);

    if (st != PUSH_OK)
        return st;
    *out = json_deep_copy(rule);
    return *out != NULL ? st : push_error_set(err, PUSH_ERR_NOMEM, "out of memory");
}

enum push_status push_rule_get_enabled(const json_t *merged, const char *kind,
                                       const char *rule_id, bool *enabled,
                                       struct push_error *err)
{
    const json_t *rule;
    enum push_status st = merged_find(merged, kind, rule_id, &rule, err);

    if (st == PUSH_OK)
        *enabled = json_is_true(json_object_get(rule, "enabled"));
    return st;
}

enum push_status push_rule_get_actions(const json_t *merged, const char *kind,
                                       const char *rule_id, json_t **actions,
                                       struct push_error *err)
{
    const json_t *rule;
    enum push_status st = merged_find(merged, kind, rule_id, &rule, err);

    if (st != PUSH_OK)
        return st;
    *actions = json_deep_copy(json_object_get(rule, "actions"));
    if (*actions == NULL)
        *actions = json_array();
    return *actions != NULL ? st : push_error_set(err, PUSH_ERR_NOMEM, "out of memory");
}
