/* rooms_membership.c: join, invite, leave, kick, ban, unban, knock
 * (joining.yaml, inviting.yaml, leaving.yaml, kicking.yaml, banning.yaml,
 * knocking.yaml). Each is one m.room.member event; the room version's
 * authorization rules decide whether it is allowed. */
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/client/directory.h"
#include "api/client/handlers.h"
#include "api/client/rooms_util.h"
#include "events/events.h"
#include "security/detect_actions.h"
#include "store/store.h"
#include "util/ids.h"

#define REASON_MAX 1024

json_t *rooms_member_content(struct app *app, const char *user_id, const char *membership)
{
	struct store_user u = { 0 };
	json_t *c = json_pack("{s:s}", "membership", membership);

	if (strcmp(membership, "join") == 0 || strcmp(membership, "knock") == 0 ||
	    strcmp(membership, "invite") == 0) {
		if (store_user_get(app->store, user_id, &u) == STORE_OK) {
			if (u.displayname)
				json_object_set_new(c, "displayname", json_string(u.displayname));
			if (u.avatar_url)
				json_object_set_new(c, "avatar_url", json_string(u.avatar_url));
		}
		store_user_clear(&u);
	}
	return c;
}

char *rooms_send(struct request *req, const char *room_id, const struct event_spec *spec,
                 const char *txn_id)
{
	struct event_error err;
	char *event_id = NULL;

	if (events_send(APP(req)->events, room_id, req->auth.user_id, spec, req->auth.device_id,
	                txn_id, &event_id, &err) != 0) {
		res_error(req, err.status, err.errcode, "%s", err.message);
		return NULL;
	}
	return event_id;
}

/* Send a membership event for target with an optional reason. */
static void membership_send(struct request *req, const char *room_id, const char *target,
                            const char *membership, json_t *body)
{
	struct app *app = APP(req);
	const char *reason = NULL;
	json_t *content;
	struct event_spec spec;
	char *event_id;

	if (body && req_get_string(req, body, "reason", false, &reason) != 0)
		return;
	if (reason && strlen(reason) > REASON_MAX) {
		res_error(req, 400, "M_INVALID_PARAM", "reason is too long");
		return;
	}
	/* Your own join carries your profile; an invite carries the invitee's. */
	content = rooms_member_content(app, target, membership);
	if (reason)
		json_object_set_new(content, "reason", json_string(reason));
	spec = (struct event_spec){ "m.room.member", target, content, NULL };
	event_id = rooms_send(req, room_id, &spec, NULL);
	json_decref(content);
	if (!event_id)
		return;
	if (strcmp(membership, "join") == 0)   /* scraper detection: public joins */
		detect_join_observe(app, req->auth.user_id, room_id);
	if (strcmp(membership, "join") == 0 || strcmp(membership, "knock") == 0)
		res_json(req, 200, json_pack("{s:s}", "room_id", room_id));
	else
		res_json(req, 200, NULL);
	free(event_id);
}

static bool room_id_check(struct request *req, const char *room_id)
{
	if (room_id[0] != '!' || strlen(room_id) > ID_MAX_LEN) {
		res_error(req, 400, "M_INVALID_PARAM", "Invalid room ID");
		return false;
	}
	return true;
}

/* A target user_id from the body, validated. */
static const char *target_of(struct request *req, json_t *body)
{
	const char *uid = NULL;
	if (req_get_string(req, body, "user_id", true, &uid) != 0)
		return NULL;
	if (!id_user_valid(uid)) {
		res_error(req, 400, "M_INVALID_PARAM", "Invalid user_id");
		return NULL;
	}
	return uid;
}

void api_room_join(struct request *req)
{
	json_t *body = req_json_object(req, true);
	const char *room = req_param(req, 0);

	if (!body)
		return;
	if (room[0] == '#') {
		/* a local alias names the room; others would need federation */
		char *room_id = directory_alias_resolve(req, room);
		if (room_id)
			membership_send(req, room_id, req->auth.user_id, "join", body);
		free(room_id);
		return;
	}
	if (room_id_check(req, room))
		membership_send(req, room, req->auth.user_id, "join", body);
}

void api_room_knock(struct request *req)
{
	json_t *body = req_json_object(req, true);
	const char *room = req_param(req, 0);

	if (!body)
		return;
	if (room[0] == '#') {
		/* a local alias names the room; others would need federation */
		char *room_id = directory_alias_resolve(req, room);
		if (room_id)
			membership_send(req, room_id, req->auth.user_id, "knock", body);
		free(room_id);
		return;
	}
	if (room_id_check(req, room))
		membership_send(req, room, req->auth.user_id, "knock", body);
}

void api_room_leave(struct request *req)
{
	json_t *body = req_json_object(req, true);
	if (body && room_id_check(req, req_param(req, 0)))
		membership_send(req, req_param(req, 0), req->auth.user_id, "leave", body);
}

void api_room_invite(struct request *req)
{
	json_t *body = req_json_object(req, false);
	const char *target;

	if (!body || !room_id_check(req, req_param(req, 0)) || !(target = target_of(req, body)))
		return;
	membership_send(req, req_param(req, 0), target, "invite", body);
}

void api_room_kick(struct request *req)
{
	json_t *body = req_json_object(req, false);
	const char *target;
	char *current;
	bool in_room;

	if (!body || !room_id_check(req, req_param(req, 0)) || !(target = target_of(req, body)))
		return;
	/* kicking.yaml 403: "The kickee is not currently in the room". */
	current = events_membership(APP(req)->events, req_param(req, 0), target);
	in_room = current && (strcmp(current, "join") == 0 || strcmp(current, "invite") == 0 ||
	                      strcmp(current, "knock") == 0);
	free(current);
	if (!in_room) {
		res_error(req, 403, "M_FORBIDDEN", "%s is not in the room", target);
		return;
	}
	membership_send(req, req_param(req, 0), target, "leave", body);
}

void api_room_ban(struct request *req)
{
	json_t *body = req_json_object(req, false);
	const char *target;

	if (!body || !room_id_check(req, req_param(req, 0)) || !(target = target_of(req, body)))
		return;
	membership_send(req, req_param(req, 0), target, "ban", body);
}

void api_room_unban(struct request *req)
{
	json_t *body = req_json_object(req, false);
	const char *target;
	char *current;

	if (!body || !room_id_check(req, req_param(req, 0)) || !(target = target_of(req, body)))
		return;
	current = events_membership(APP(req)->events, req_param(req, 0), target);
	if (!current || strcmp(current, "ban") != 0) {
		free(current);
		res_error(req, 403, "M_FORBIDDEN", "%s is not banned", target);
		return;
	}
	free(current);
	membership_send(req, req_param(req, 0), target, "leave", body);
}
