/* rooms_typing.c: PUT /rooms/{roomId}/typing/{userId} (typing.yaml).
 *
 * In memory only (sync/typing.h). A user says only that they themselves
 * type, and only in a room they are joined to: the notification is shown
 * to the room's members, so anyone else could use it to speak in a room
 * they are not in. A change wakes the room's parked /sync.
 */
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/client/handlers.h"
#include "events/events.h"
#include "sync/notifier.h"
#include "sync/typing.h"
#include "util/timeutil.h"

/* The body's timeout: an integer, default 30 s (what Synapse assumes; the
 * spec leaves it to the server), capped by typing_set. -1 with the
 * response set. */
static int typing_timeout_of(struct request *req, json_t *body, int64_t *timeout_ms)
{
	json_t *v = json_object_get(body, "timeout");

	*timeout_ms = TYPING_TIMEOUT_DEFAULT_MS;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		res_error(req, 400, "M_BAD_JSON", "timeout must be a non-negative integer");
		return -1;
	}
	*timeout_ms = json_integer_value(v);
	return 0;
}

void api_room_typing(struct request *req)
{
	struct app *app = APP(req);
	const char *room_id = req_param(req, 0);
	json_t *body = req_json_object(req, false);
	json_t *typing_v;
	int64_t timeout_ms = 0;
	char *m;
	bool joined;

	if (!body)
		return;
	if (strcmp(req_param(req, 1), req->auth.user_id) != 0) {
		res_error(req, 403, "M_FORBIDDEN", "Cannot set another user's typing state");
		return;
	}
	typing_v = json_object_get(body, "typing");
	if (typing_v == NULL) {
		res_error(req, 400, "M_MISSING_PARAM", "Missing parameter: typing");
		return;
	}
	if (!json_is_boolean(typing_v)) {
		res_error(req, 400, "M_BAD_JSON", "Parameter typing must be a boolean");
		return;
	}
	if (json_is_true(typing_v) && typing_timeout_of(req, body, &timeout_ms) != 0)
		return;
	m = events_membership(app->events, room_id, req->auth.user_id);
	joined = m != NULL && strcmp(m, "join") == 0;
	free(m);
	if (!joined) {
		res_error(req, 403, "M_FORBIDDEN", "You are not joined to this room");
		return;
	}
	switch (typing_set(app->typing, room_id, req->auth.user_id, json_is_true(typing_v),
	                   timeout_ms, time_mono_ms())) {
	case TYPING_CHANGED:
		notifier_notify(app->notifier, &room_id, 1, NULL, 0);
		break;
	case TYPING_UNCHANGED:
		break;
	case TYPING_FULL:
		res_error(req, 429, "M_LIMIT_EXCEEDED", "Too many users are typing right now");
		return;
	default:
		res_error(req, 500, "M_UNKNOWN", "Could not set the typing state");
		return;
	}
	res_json(req, 200, NULL);
}
