/* rooms_events.c: sending events and state, redactions
 * (room_send.yaml, room_state.yaml, redaction.yaml). */
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/client/directory.h"
#include "api/client/handlers.h"
#include "api/client/rooms_util.h"
#include "events/events.h"
#include "store/store.h"
#include "util/ids.h"

#define EVENT_TYPE_MAX 255

static bool type_ok(struct request *req, const char *type)
{
	if (strlen(type) == 0 || strlen(type) > EVENT_TYPE_MAX) {
		res_error(req, 400, "M_INVALID_PARAM", "Invalid event type");
		return false;
	}
	return true;
}

void api_room_send(struct request *req)
{
	json_t *body = req_json_object(req, false);
	const char *type = req_param(req, 1), *txn = req_param(req, 2);
	struct event_spec spec;
	char *event_id;

	if (!body || !type_ok(req, type))
		return;
	if (!id_opaque_valid(txn) && strlen(txn) > 255) {
		res_error(req, 400, "M_INVALID_PARAM", "Invalid transaction ID");
		return;
	}
	spec = (struct event_spec){ type, NULL, body, NULL };
	event_id = rooms_send(req, req_param(req, 0), &spec, txn);
	if (event_id)
		res_json(req, 200, json_pack("{s:s}", "event_id", event_id));
	free(event_id);
}

void api_room_state_put(struct request *req)
{
	json_t *body = req_json_object(req, false);
	const char *type = req_param(req, 1);
	const char *state_key = req->n_params > 2 ? req_param(req, 2) : "";
	struct event_spec spec;
	char *event_id;

	if (!body || !type_ok(req, type))
		return;
	if (strlen(state_key) > ID_MAX_LEN) {
		res_error(req, 400, "M_INVALID_PARAM", "state_key is too long");
		return;
	}
	/* new aliases must name this room (directory feature, directory.h) */
	if (strcmp(type, "m.room.canonical_alias") == 0 && state_key[0] == '\0' &&
	    directory_canonical_alias_check(req, req_param(req, 0), body) != 0)
		return;
	spec = (struct event_spec){ type, state_key, body, NULL };
	event_id = rooms_send(req, req_param(req, 0), &spec, NULL);
	if (event_id)
		res_json(req, 200, json_pack("{s:s}", "event_id", event_id));
	free(event_id);
}

void api_room_redact(struct request *req)
{
	struct app *app = APP(req);
	json_t *body = req_json_object(req, true);
	const char *room_id = req_param(req, 0), *target = req_param(req, 1);
	const char *reason = NULL;
	struct store_event se = { 0 };
	struct event_spec spec;
	json_t *content;
	char *event_id;

	if (!body || req_get_string(req, body, "reason", false, &reason) != 0)
		return;
	if (store_event_get(app->store, target, &se) != STORE_OK ||
	    strcmp(se.room_id, room_id) != 0) {
		store_event_clear(&se);
		res_error(req, 404, "M_NOT_FOUND", "Event not found");
		return;
	}
	/* client-server-api "Account suspension": a suspended user may still
	 * redact their own events, not anyone else's. */
	if (req->auth.suspended && strcmp(se.sender, req->auth.user_id) != 0) {
		store_event_clear(&se);
		res_error(req, 403, "M_USER_SUSPENDED", "Your account is suspended");
		return;
	}
	/* The room version's rules let any event of the same server through;
	 * on one server that is everyone, so the "own event or redact power"
	 * check is ours (redaction.yaml). */
	if (strcmp(se.sender, req->auth.user_id) != 0 &&
	    events_power_level(app->events, room_id, req->auth.user_id) <
	        events_named_level(app->events, room_id, "redact")) {
		store_event_clear(&se);
		res_error(req, 403, "M_FORBIDDEN", "You cannot redact other users' events");
		return;
	}
	store_event_clear(&se);
	content = reason ? json_pack("{s:s}", "reason", reason) : json_object();
	spec = (struct event_spec){ "m.room.redaction", NULL, content, target };
	event_id = rooms_send(req, room_id, &spec, req_param(req, 2));
	json_decref(content);
	if (event_id)
		res_json(req, 200, json_pack("{s:s}", "event_id", event_id));
	free(event_id);
}
