/*
 * push_rules: the push rules of client-server-api/modules/push.md, pure
 * logic only (no storage, no HTTP): the server-default ruleset, the
 * ruleset a client sees, edits of a user's own rules, and evaluation of a
 * ruleset against an event.
 *
 * Contract:
 * - Pure: no I/O, no globals, thread-safe. Inputs are borrowed and never
 *   modified, except the user state passed to the push_rule_put/delete/
 *   set_* editors, which is changed only when they return PUSH_OK (on any
 *   error, including allocation failure, it is left as it was).
 * - Functions returning json_t * return a NEW reference the caller
 *   json_decref()s, or NULL on allocation failure / invalid input.
 * - Everything is bounded (PUSH_MAX_*): rules per kind, conditions per
 *   rule, actions per rule, key and pattern lengths, and the glob work of
 *   one evaluation. Anything loaded (user state from storage, rulesets) is
 *   re-validated before it drives a decision: a malformed rule is skipped,
 *   never trusted.
 *
 * User state (what the store persists per user, opaque to the store):
 *   { "rules":    { "<kind>": [ rule, ... ] },     most important first
 *     "defaults": { "<kind>": { "<.rule_id>": { "enabled": bool,
 *                                               "actions": [...] } } } }
 * where a user rule is { "rule_id", "actions", "enabled", and "pattern"
 * (content) or "conditions" (override, underride) }. "defaults" only holds
 * what the user changed on server-default rules. NULL means "nothing
 * changed" wherever a state is read.
 *
 * Matching: globs are case-insensitive for Latin, Greek and Cyrillic
 * letters (the spec leaves "case insensitive" to the implementation);
 * word boundaries are the spec's, byte-wise: anything but [A-Za-z0-9_].
 * Room and sender rules compare IDs exactly.
 *
 * Server-default rules are the v1.19 list ("Predefined Rules"): the legacy
 * body-matching rules (.m.rule.contains_user_name, .contains_display_name,
 * .roomnotif) were removed from the spec in v1.17 and are not served.
 */
#ifndef CHAPPE_PUSH_PUSH_RULES_H
#define CHAPPE_PUSH_PUSH_RULES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PUSH_MAX_RULES_PER_KIND 1000  /* user-defined rules of one kind */
#define PUSH_MAX_CONDITIONS     16    /* conditions of one rule */
#define PUSH_MAX_ACTIONS        32    /* actions of one rule */
#define PUSH_MAX_RULE_ID_LEN    255   /* bytes; room and user IDs fit */
#define PUSH_MAX_KEY_LEN        512   /* dotted property path, bytes */
#define PUSH_MAX_PATTERN_LEN    1024  /* glob pattern or display name, bytes */

/* The rule kinds, in the order they are checked ("Push Rules"). */
enum push_kind {
    PUSH_KIND_OVERRIDE = 0,
    PUSH_KIND_CONTENT,
    PUSH_KIND_ROOM,
    PUSH_KIND_SENDER,
    PUSH_KIND_UNDERRIDE,
    PUSH_KIND_COUNT,
};

/* "override" ... "underride"; -1 for anything else. */
int push_kind_parse(const char *name);
const char *push_kind_name(enum push_kind kind);

/* Outcome of an edit or lookup, for the handler to map to a response. */
enum push_status {
    PUSH_OK = 0,
    PUSH_ERR_NOT_FOUND,     /* 404 M_NOT_FOUND: no such rule */
    PUSH_ERR_INVALID,       /* 400 M_INVALID_PARAM: bad rule ID or body */
    PUSH_ERR_ANCHOR,        /* 400 M_UNKNOWN: before/after rule not found */
    PUSH_ERR_UNRECOGNIZED,  /* 400 M_UNRECOGNIZED: unknown kind */
    PUSH_ERR_LIMIT,         /* 400 M_INVALID_PARAM: too many rules */
    PUSH_ERR_NOMEM,         /* 500 M_UNKNOWN */
};

struct push_error {
    enum push_status status;
    int http_status;
    const char *errcode;   /* static string, e.g. "M_NOT_FOUND" */
    char message[160];     /* NUL-terminated, for the "error" member */
};

/* ---- Rulesets ---------------------------------------------------------- */

/* The server-default ruleset {"global": {override, content, room, sender,
 * underride}} of user_id, the spec's rules in the spec's order with
 * "[the user's Matrix ID]" replaced. NULL if user_id is not a valid user
 * ID or on allocation failure. */
json_t *push_ruleset_default(const char *user_id);

/* The ruleset a client sees (GET /pushrules/, m.push_rules account data):
 * .m.rule.master first, then per kind the user's rules before the
 * server-default ones ("server-default rules ... operate at a lower
 * priority than user-defined rules, except for the .m.rule.master rule"),
 * with the user's enabled/actions changes applied to default rules. User
 * rules carry "default": false, and room/sender rules carry neither
 * pattern nor conditions. user_state may be NULL. */
json_t *push_ruleset_merge(const json_t *defaults, const json_t *user_state);

/* ---- Editing the user state -------------------------------------------- */

/* An empty user state {"rules": {}, "defaults": {}}. */
json_t *push_state_new(void);

/* PUT /pushrules/global/{kind}/{ruleId}: create or replace a user rule
 * from the request body ({"actions", "pattern" | "conditions"}). before
 * and after (NULL if absent) name user rules of the same kind; before
 * wins if both are given. A new rule without either becomes the most
 * important user rule of its kind; a replaced one keeps its place and its
 * enabled state. Historical actions (dont_notify, coalesce) are stripped. */
enum push_status push_rule_put(json_t *state, const char *kind, const char *rule_id,
                               const json_t *body, const char *before,
                               const char *after, struct push_error *err);

/* DELETE: only user rules can be deleted; server-default rules answer
 * PUSH_ERR_NOT_FOUND as Synapse does. */
enum push_status push_rule_delete(json_t *state, const char *kind, const char *rule_id,
                                  struct push_error *err);

/* PUT .../enabled and .../actions: on a user rule or a server-default one. */
enum push_status push_rule_set_enabled(json_t *state, const char *kind,
                                       const char *rule_id, bool enabled,
                                       struct push_error *err);
enum push_status push_rule_set_actions(json_t *state, const char *kind,
                                       const char *rule_id, const json_t *actions,
                                       struct push_error *err);

/* GET one rule, its enabled flag, its actions, from a merged ruleset
 * (push_ruleset_merge). *out receives a new reference on PUSH_OK. */
enum push_status push_rule_get(const json_t *merged, const char *kind,
                               const char *rule_id, json_t **out,
                               struct push_error *err);
enum push_status push_rule_get_enabled(const json_t *merged, const char *kind,
                                       const char *rule_id, bool *enabled,
                                       struct push_error *err);
enum push_status push_rule_get_actions(const json_t *merged, const char *kind,
                                       const char *rule_id, json_t **actions,
                                       struct push_error *err);

/* ---- Evaluation -------------------------------------------------------- */

struct push_ctx {
    const char *user_id;          /* whose rules these are */
    const char *display_name;     /* the user's display name in the room, or NULL */
    int64_t member_count;         /* members of the room */
    const json_t *power_levels;   /* content of m.room.power_levels, or NULL */
    int64_t sender_power_level;   /* computed by the caller (v12 creators: INT64_MAX) */
};

/* Run the ruleset (push_ruleset_merge's output, or its "global" object)
 * over event. Returns 1 if a rule matched, with *actions_out a new array
 * (possibly empty: the rule suppresses notifications); 0 if none matched
 * or the user sent the event ("Homeservers MUST NOT notify the Push
 * Gateway for events that the user has sent themselves"), *actions_out
 * NULL; -1 on invalid arguments or allocation failure. Unknown conditions
 * never match. Glob work is bounded per glob and per call (a glob that
 * runs out of budget does not match; see push_internal.h). */
int push_evaluate(const json_t *ruleset, const json_t *event,
                  const struct push_ctx *ctx, json_t **actions_out);

/* Whether actions contain "notify"; false for NULL. */
bool push_actions_notify(const json_t *actions);
/* Whether actions set the highlight tweak ("If a highlight tweak is given
 * with no value, its value is defined to be true"); false for NULL. */
bool push_actions_highlight(const json_t *actions);

#endif
