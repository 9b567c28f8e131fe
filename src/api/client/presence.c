/* presence.c: GET and PUT /presence/{userId}/status (presence.yaml), and
 * the m.presence content both they and /sync serve.
 *
 * "Presence information is published to all users who share a room with
 * the target user" (Presence, Security considerations): a user reads
 * their own presence and that of users joined to a room they are joined
 * to; anyone else gets 403. A user who exists but never set a presence
 * reads as offline. A PUT replaces the whole state (an absent status_msg
 * clears it), stamps the activity time ("When setting the status, the
 * activity time is updated to reflect that activity"), and wakes the
 * parked /sync of the user and of every room they are joined to.
 */
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/client/handlers.h"
#include "events/events.h"
#include "store/store.h"
#include "sync/notifier.h"
#include "util/timeutil.h"

/* Online and seen this recently: "currently_active" (Last active ago). */
#define PRESENCE_ACTIVE_MS (5 * 60 * 1000)
#define PRESENCE_ROOMS_MAX 10000   /* rooms woken by one change */

json_t *presence_content(const struct store_presence *p, int64_t now_ms)
{
	int64_t ago = now_ms > p->last_active_ts ? now_ms - p->last_active_ts : 0;
	json_t *c = json_pack("{s:s,s:I}", "presence", p->presence, "last_active_ago",
	                      (json_int_t)ago);

	if (c == NULL)
		return NULL;
	if (p->status_msg != NULL)
		json_object_set_new(c, "status_msg", json_string(p->status_msg));
	if (strcmp(p->presence, "online") == 0)
		json_object_set_new(c, "currently_active", json_boolean(ago < PRESENCE_ACTIVE_MS));
	return c;
}

/* Does viewer share a joined room with target (or are they the same)? */
static int presence_may_see(struct app *app, const char *viewer, const char *target,
                            bool *out)
{
	struct store_membership_list ms = { 0 };

	*out = strcmp(viewer, target) == 0;
	if (*out)
		return 0;
	if (store_user_memberships(app->store, viewer, &ms) != STORE_OK)
		return -1;
	for (size_t i = 0; i < ms.n && !*out; i++) {
		char *m;
		if (strcmp(ms.items[i].membership, "join") != 0)
			continue;
		m = events_membership(app->events, ms.items[i].room_id, target);
		*out = m != NULL && strcmp(m, "join") == 0;
		free(m);
	}
	store_membership_list_clear(&ms);
	return 0;
}

void api_presence_get(struct request *req)
{
	struct app *app = APP(req);
	const char *target = req_param(req, 0);
	struct store_presence p;
	enum store_result r;
	bool may;

	if (target[0] != '@' || strlen(target) > STORE_USER_ID_MAX ||
	    store_user_exists(app->store, target) != STORE_OK) {
		res_error(req, 404, "M_NOT_FOUND", "Unknown user");
		return;
	}
	if (presence_may_see(app, req->auth.user_id, target, &may) != 0) {
		res_error(req, 500, "M_UNKNOWN", "Could not read the presence");
		return;
	}
	if (!may) {
		res_error(req, 403, "M_FORBIDDEN", "You are not allowed to see their presence");
		return;
	}
	r = store_presence_get(app->store, target, &p);
	if (r == STORE_NOT_FOUND) {
		res_json(req, 200, json_pack("{s:s}", "presence", "offline"));
		return;
	}
	if (r != STORE_OK) {
		res_error(req, 500, "M_UNKNOWN", "Could not read the presence");
		return;
	}
	res_json(req, 200, presence_content(&p, time_now_ms()));
	store_presence_clear(&p);
}

/* Wake the user's own /sync and that of everyone in their joined rooms. */
static void presence_notify(struct app *app, const char *user_id)
{
	struct store_membership_list ms = { 0 };
	const char **rooms = NULL;
	size_t n = 0;

	if (store_user_memberships(app->store, user_id, &ms) == STORE_OK && ms.n > 0)
		rooms = calloc(ms.n, sizeof(*rooms));
	for (size_t i = 0; rooms != NULL && i < ms.n && n < PRESENCE_ROOMS_MAX; i++)
		if (strcmp(ms.items[i].membership, "join") == 0)
			rooms[n++] = ms.items[i].room_id;
	notifier_notify(app->notifier, rooms, n, &user_id, 1);
	free(rooms);
	store_membership_list_clear(&ms);
}

static bool presence_state_ok(const char *p)
{
	return strcmp(p, "online") == 0 || strcmp(p, "unavailable") == 0 ||
	       strcmp(p, "offline") == 0;
}

void api_presence_put(struct request *req)
{
	struct app *app = APP(req);
	json_t *body = req_json_object(req, false);
	const char *presence = NULL, *status_msg = NULL;

	if (!body)
		return;
	if (strcmp(req_param(req, 0), req->auth.user_id) != 0) {
		res_error(req, 403, "M_FORBIDDEN", "You cannot set the presence of another user");
		return;
	}
	if (req_get_string(req, body, "presence", true, &presence) != 0 ||
	    req_get_string(req, body, "status_msg", false, &status_msg) != 0)
		return;
	if (!presence_state_ok(presence)) {
		res_error(req, 400, "M_INVALID_PARAM",
		          "presence must be one of online, unavailable, offline");
		return;
	}
	if (status_msg != NULL && strlen(status_msg) > STORE_PRESENCE_MSG_MAX) {
		res_error(req, 400, "M_TOO_LARGE", "status_msg is too long");
		return;
	}
	if (store_presence_put(app->store, req->auth.user_id, presence, status_msg,
	                       time_now_ms(), NULL) != STORE_OK) {
		res_error(req, 500, "M_UNKNOWN", "Could not store the presence");
		return;
	}
	presence_notify(app, req->auth.user_id);
	res_json(req, 200, NULL);
}
