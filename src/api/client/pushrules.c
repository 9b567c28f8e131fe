/* pushrules.c: the push rules API (pushrules.yaml) over src/push/.
 *
 * A user's own rules and overrides of server-default rules are kept as a
 * private account-data entry (PUSH_STATE_TYPE, never served); after each
 * edit the merged ruleset is stored as the m.push_rules account data the
 * spec says clients see in /sync, and the user's parked /sync is woken. */
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/client/handlers.h"
#include "api/client/pushrules_state.h"
#include "push/push_rules.h"
#include "store/store.h"
#include "sync/notifier.h"

json_t *pushrules_state_load(struct app *app, const char *user_id)
{
	char *text = NULL;
	json_t *state = NULL;

	if (store_account_data_get(app->store, user_id, NULL, PUSH_STATE_TYPE, &text) == STORE_OK)
		state = json_loads(text, 0, NULL);
	free(text);
	return state ? state : push_state_new();
}

json_t *pushrules_merged(struct app *app, const char *user_id)
{
	json_t *defaults = push_ruleset_default(user_id);
	json_t *state = pushrules_state_load(app, user_id);
	json_t *merged = defaults ? push_ruleset_merge(defaults, state) : NULL;

	json_decref(defaults);
	json_decref(state);
	return merged;
}

/* Persist the edited state and the merged ruleset clients see. */
static int pushrules_save(struct request *req, json_t *state)
{
	struct app *app = APP(req);
	const char *users[1] = { req->auth.user_id };
	json_t *defaults = push_ruleset_default(req->auth.user_id);
	json_t *merged = defaults ? push_ruleset_merge(defaults, state) : NULL;
	char *st_text = json_dumps(state, JSON_COMPACT);
	char *m_text = merged ? json_dumps(merged, JSON_COMPACT) : NULL;
	int64_t pos;
	int ret = -1;

	if (st_text && m_text &&
	    store_account_data_put(app->store, req->auth.user_id, NULL, PUSH_STATE_TYPE, st_text,
	                           &pos) == STORE_OK &&
	    store_account_data_put(app->store, req->auth.user_id, NULL, "m.push_rules", m_text,
	                           &pos) == STORE_OK)
		ret = 0;
	json_decref(defaults);
	json_decref(merged);
	free(st_text);
	free(m_text);
	if (ret == 0)
		notifier_notify(app->notifier, NULL, 0, users, 1);
	return ret;
}

static void push_error_answer(struct request *req, const struct push_error *err)
{
	res_error(req, (unsigned)err->http_status, err->errcode, "%s", err->message);
}

void api_pushrules_get_all(struct request *req)
{
	json_t *merged = pushrules_merged(APP(req), req->auth.user_id);

	if (!merged) {
		res_error(req, 500, "M_UNKNOWN", "Could not load push rules");
		return;
	}
	/* GET /pushrules/global/ answers the scope's object alone. */
	if (strstr(req->route->pattern, "/global/")) {
		json_t *global = json_incref(json_object_get(merged, "global"));
		json_decref(merged);
		merged = global ? global : json_object();
	}
	res_json(req, 200, merged);
}

/* The {kind}/{ruleId} params; the scope must be "global". */
static bool rule_params(struct request *req, const char **kind, const char **rule_id)
{
	if (strcmp(req_param(req, 0), "global") != 0) {
		res_error(req, 400, "M_INVALID_PARAM", "Unknown scope %s", req_param(req, 0));
		return false;
	}
	*kind = req_param(req, 1);
	*rule_id = req_param(req, 2);
	return true;
}

void api_pushrule_get(struct request *req)
{
	const char *kind, *rule_id, *what = req->route->pattern;
	json_t *merged, *out = NULL;
	struct push_error err;
	enum push_status st;
	bool enabled;

	if (!rule_params(req, &kind, &rule_id))
		return;
	merged = pushrules_merged(APP(req), req->auth.user_id);
	if (strstr(what, "/enabled")) {
		st = push_rule_get_enabled(merged, kind, rule_id, &enabled, &err);
		if (st == PUSH_OK)
			out = json_pack("{s:b}", "enabled", enabled);
	} else if (strstr(what, "/actions")) {
		json_t *actions = NULL;
		st = push_rule_get_actions(merged, kind, rule_id, &actions, &err);
		if (st == PUSH_OK)
			out = json_pack("{s:o}", "actions", actions);
	} else {
		st = push_rule_get(merged, kind, rule_id, &out, &err);
	}
	json_decref(merged);
	if (st != PUSH_OK)
		push_error_answer(req, &err);
	else
		res_json(req, 200, out);
}

void api_pushrule_put(struct request *req)
{
	json_t *body = req_json_object(req, false), *state;
	const char *kind, *rule_id, *what = req->route->pattern;
	struct push_error err;
	enum push_status st;

	if (!body || !rule_params(req, &kind, &rule_id))
		return;
	state = pushrules_state_load(APP(req), req->auth.user_id);
	if (strstr(what, "/enabled")) {
		json_t *e = json_object_get(body, "enabled");
		if (!json_is_boolean(e)) {
			json_decref(state);
			res_error(req, 400, "M_BAD_JSON", "enabled must be a boolean");
			return;
		}
		st = push_rule_set_enabled(state, kind, rule_id, json_is_true(e), &err);
	} else if (strstr(what, "/actions")) {
		st = push_rule_set_actions(state, kind, rule_id, json_object_get(body, "actions"), &err);
	} else {
		st = push_rule_put(state, kind, rule_id, body, req_query(req, "before"),
		                   req_query(req, "after"), &err);
	}
	if (st != PUSH_OK)
		push_error_answer(req, &err);
	else if (pushrules_save(req, state) != 0)
		res_error(req, 500, "M_UNKNOWN", "Could not store push rules");
	else
		res_json(req, 200, NULL);
	json_decref(state);
}

void api_pushrule_delete(struct request *req)
{
	const char *kind, *rule_id;
	struct push_error err;
	json_t *state;

	if (!rule_params(req, &kind, &rule_id))
		return;
	state = pushrules_state_load(APP(req), req->auth.user_id);
	if (push_rule_delete(state, kind, rule_id, &err) != PUSH_OK)
		push_error_answer(req, &err);
	else if (pushrules_save(req, state) != 0)
		res_error(req, 500, "M_UNKNOWN", "Could not store push rules");
	else
		res_json(req, 200, NULL);
	json_decref(state);
}
