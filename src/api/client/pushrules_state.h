/* pushrules_state: a user's push rules as the API and /sync see them. */
#ifndef CHAPPE_API_CLIENT_PUSHRULES_STATE_H
#define CHAPPE_API_CLIENT_PUSHRULES_STATE_H

#include <jansson.h>

struct app;

/* Account-data type of the user's rule edits. The "chappe.internal."
 * namespace is never served to clients nor writable through the
 * account-data API. */
#define PUSH_STATE_TYPE "chappe.internal.push_rules_state"
#define ACCOUNT_DATA_INTERNAL_PREFIX "chappe.internal."

/* The user's edits (a new empty state if none). */
json_t *pushrules_state_load(struct app *app, const char *user_id);
/* {"global": {...}}: the ruleset clients see; NULL on failure. */
json_t *pushrules_merged(struct app *app, const char *user_id);

#endif
