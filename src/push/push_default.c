/*
 * push_default: the server-default rules of client-server-api/modules/
 * push.md "Predefined Rules" (v1.19), written as the spec writes them so a
 * reviewer can compare line by line. Order matters: it is the priority.
 */
#include "push/push_internal.h"

#include <string.h>

#include "util/ids.h"

/* The spec's placeholder, replaced by the user's ID. */
#define USER_PLACEHOLDER "[the user's Matrix ID]"

struct default_rule {
    enum push_kind kind;
    const char *rule_id;
    const char *json;  /* the rule without rule_id, default, enabled */
    bool enabled;
};

static const struct default_rule default_rules[] = {
    /* "Default Override Rules" */
    { PUSH_KIND_OVERRIDE, ".m.rule.master",
      "{\"conditions\": [], \"actions\": []}", false },
    { PUSH_KIND_OVERRIDE, ".m.rule.suppress_notices",
      "{\"conditions\": [{\"kind\": \"event_match\", \"key\": \"content.msgtype\","
      " \"pattern\": \"m.notice\"}], \"actions\": []}", true },
    { PUSH_KIND_OVERRIDE, ".m.rule.invite_for_me",
      "{\"conditions\": ["
      "{\"key\": \"type\", \"kind\": \"event_match\", \"pattern\": \"m.room.member\"},"
      "{\"key\": \"content.membership\", \"kind\": \"event_match\", \"pattern\": \"invite\"},"
      "{\"key\": \"state_key\", \"kind\": \"event_match\", \"pattern\": \"" USER_PLACEHOLDER "\"}],"
      " \"actions\": [\"notify\", {\"set_tweak\": \"sound\", \"value\": \"default\"}]}", true },
    { PUSH_KIND_OVERRIDE, ".m.rule.member_event",
      "{\"conditions\": [{\"key\": \"type\", \"kind\": \"event_match\","
      " \"pattern\": \"m.room.member\"}], \"actions\": []}", true },
    { PUSH_KIND_OVERRIDE, ".m.rule.is_user_mention",
      "{\"conditions\": [{\"kind\": \"event_property_contains\","
      " \"key\": \"content.m\\\\.mentions.user_ids\", \"value\": \"" USER_PLACEHOLDER "\"}],"
      " \"actions\": [\"notify\", {\"set_tweak\": \"sound\", \"value\": \"default\"},"
      " {\"set_tweak\": \"highlight\"}]}", true },
    { PUSH_KIND_OVERRIDE, ".m.rule.is_room_mention",
      "{\"conditions\": [{\"kind\": \"event_property_is\","
      " \"key\": \"content.m\\\\.mentions.room\", \"value\": true},"
      " {\"kind\": \"sender_notification_permission\", \"key\": \"room\"}],"
      " \"actions\": [\"notify\", {\"set_tweak\": \"highlight\"}]}", true },
    { PUSH_KIND_OVERRIDE, ".m.rule.tombstone",
      "{\"conditions\": [{\"kind\": \"event_match\", \"key\": \"type\","
      " \"pattern\": \"m.room.tombstone\"},"
      " {\"kind\": \"event_match\", \"key\": \"state_key\", \"pattern\": \"\"}],"
      " \"actions\": [\"notify\", {\"set_tweak\": \"highlight\"}]}", true },
    { PUSH_KIND_OVERRIDE, ".m.rule.reaction",
      "{\"conditions\": [{\"kind\": \"event_match\", \"key\": \"type\","
      " \"pattern\": \"m.reaction\"}], \"actions\": []}", true },
    { PUSH_KIND_OVERRIDE, ".m.rule.room.server_acl",
      "{\"conditions\": [{\"kind\": \"event_match\", \"key\": \"type\","
      " \"pattern\": \"m.room.server_acl\"},"
      " {\"kind\": \"event_match\", \"key\": \"state_key\", \"pattern\": \"\"}],"
      " \"actions\": []}", true },
    { PUSH_KIND_OVERRIDE, ".m.rule.suppress_edits",
      "{\"conditions\": [{\"kind\": \"event_property_is\","
      " \"key\": \"content.m\\\\.relates_to.rel_type\", \"value\": \"m.replace\"}],"
      " \"actions\": []}", true },
    /* "Default Underride Rules" */
    { PUSH_KIND_UNDERRIDE, ".m.rule.call",
      "{\"conditions\": [{\"key\": \"type\", \"kind\": \"event_match\","
      " \"pattern\": \"m.call.invite\"}],"
      " \"actions\": [\"notify\", {\"set_tweak\": \"sound\", \"value\": \"ring\"}]}", true },
    { PUSH_KIND_UNDERRIDE, ".m.rule.encrypted_room_one_to_one",
      "{\"conditions\": [{\"kind\": \"room_member_count\", \"is\": \"2\"},"
      " {\"kind\": \"event_match\", \"key\": \"type\", \"pattern\": \"m.room.encrypted\"}],"
      " \"actions\": [\"notify\", {\"set_tweak\": \"sound\", \"value\": \"default\"}]}", true },
    { PUSH_KIND_UNDERRIDE, ".m.rule.room_one_to_one",
      "{\"conditions\": [{\"kind\": \"room_member_count\", \"is\": \"2\"},"
      " {\"kind\": \"event_match\", \"key\": \"type\", \"pattern\": \"m.room.message\"}],"
      " \"actions\": [\"notify\", {\"set_tweak\": \"sound\", \"value\": \"default\"}]}", true },
    { PUSH_KIND_UNDERRIDE, ".m.rule.message",
      "{\"conditions\": [{\"kind\": \"event_match\", \"key\": \"type\","
      " \"pattern\": \"m.room.message\"}], \"actions\": [\"notify\"]}", true },
    { PUSH_KIND_UNDERRIDE, ".m.rule.encrypted",
      "{\"conditions\": [{\"kind\": \"event_match\", \"key\": \"type\","
      " \"pattern\": \"m.room.encrypted\"}], \"actions\": [\"notify\"]}", true },
};

#define DEFAULT_RULE_COUNT (sizeof(default_rules) / sizeof(default_rules[0]))

static const char *const kind_names[PUSH_KIND_COUNT] = {
    "override", "content", "room", "sender", "underride",
};

int push_kind_parse(const char *name)
{
    for (int k = 0; name != NULL && k < PUSH_KIND_COUNT; k++)
        if (strcmp(name, kind_names[k]) == 0)
            return k;
    return -1;
}

const char *push_kind_name(enum push_kind kind)
{
    return (unsigned)kind < PUSH_KIND_COUNT ? kind_names[kind] : NULL;
}

bool push_default_exists(enum push_kind kind, const char *rule_id)
{
    for (size_t i = 0; rule_id != NULL && i < DEFAULT_RULE_COUNT; i++)
        if (default_rules[i].kind == kind && strcmp(default_rules[i].rule_id, rule_id) == 0)
            return true;
    return false;
}

/* Replace the placeholder in the conditions' "pattern" and "value". */
static int conditions_personalise(json_t *conditions, const char *user_id)
{
    static const char *const fields[] = { "pattern", "value" };
    size_t i;
    json_t *cond;

    json_array_foreach(conditions, i, cond) {
        for (size_t f = 0; f < 2; f++) {
            const char *v = json_string_value(json_object_get(cond, fields[f]));

            if (v != NULL && strcmp(v, USER_PLACEHOLDER) == 0 &&
                json_object_set_new(cond, fields[f], json_string(user_id)) != 0)
                return -1;
        }
    }
    return 0;
}

static json_t *default_rule_build(const struct default_rule *d, const char *user_id)
{
    json_t *rule = json_loads(d->json, 0, NULL);

    if (rule == NULL)
        return NULL;
    if (json_object_set_new(rule, "rule_id", json_string(d->rule_id)) != 0 ||
        json_object_set_new(rule, "default", json_true()) != 0 ||
        json_object_set_new(rule, "enabled", json_boolean(d->enabled)) != 0 ||
        conditions_personalise(json_object_get(rule, "conditions"), user_id) != 0) {
        json_decref(rule);
        return NULL;
    }
    return rule;
}

json_t *push_ruleset_default(const char *user_id)
{
    json_t *global = NULL, *out = NULL, *lists[PUSH_KIND_COUNT] = { NULL };

    if (user_id == NULL || !id_user_valid(user_id))
        return NULL;
    global = json_object();
    if (global == NULL)
        goto err;
    for (int k = 0; k < PUSH_KIND_COUNT; k++) {
        lists[k] = json_array();
        if (lists[k] == NULL || json_object_set(global, kind_names[k], lists[k]) != 0)
            goto err;
    }
    for (size_t i = 0; i < DEFAULT_RULE_COUNT; i++) {
        if (json_array_append_new(lists[default_rules[i].kind],
                                  default_rule_build(&default_rules[i], user_id)) != 0)
            goto err;
    }
    out = json_pack("{s:O}", "global", global);
err:
    for (int k = 0; k < PUSH_KIND_COUNT; k++)
        json_decref(lists[k]);
    json_decref(global);
    return out;
}
