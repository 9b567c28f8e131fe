/* profile.c: client-server-api "Profiles" (profile.yaml): displayname and
 * avatar_url. Reading a profile does not require a token (matrix-nio 0.20
 * sends none); anonymous reads are rate-limited per address and answer 404
 * for users who hid their profile (account data im.vector.hide_profile,
 * the platform's directory privacy switch), as for unknown users. */
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/client/handlers.h"
#include "config/config.h"
#include "security/served.h"
#include "events/events.h"
#include "store/store.h"
#include "util/log.h"
#include "util/ids.h"

#define DISPLAYNAME_MAX 256      /* Synapse's limit */
#define AVATAR_URL_MAX 1000

/* "displayname" or "avatar_url": the last literal segment of the route. */
static const char *route_field(const struct request *req)
{
	const char *slash = strrchr(req->route->pattern, '/');
	return slash ? slash + 1 : "";
}

static bool profile_hidden(struct request *req, const char *user_id)
{
	char *text = NULL;
	json_t *j = NULL;
	bool hidden = false;

	if (store_account_data_get(APP(req)->store, user_id, NULL, "im.vector.hide_profile",
	                           &text) == STORE_OK && (j = json_loads(text, 0, NULL)))
		hidden = json_is_true(json_object_get(j, "hide_profile"));
	json_decref(j);
	free(text);
	return hidden;
}

static int profile_load(struct request *req, struct store_user *u)
{
	const char *uid = req_param(req, 0);
	enum store_result r;

	if (!id_user_valid(uid)) {
		res_error(req, 400, "M_INVALID_PARAM", "Invalid user ID");
		return -1;
	}
	r = store_user_get(APP(req)->store, uid, u);
	if (r == STORE_OK && !req->auth.present && profile_hidden(req, uid)) {
		store_user_clear(u);
		r = STORE_NOT_FOUND;
	}
	if (r == STORE_NOT_FOUND) {
		res_error(req, 404, "M_NOT_FOUND", "Profile was not found");
		return -1;
	}
	if (r != STORE_OK) {
		res_error(req, 500, "M_UNKNOWN", "Could not read the profile");
		return -1;
	}
	return 0;
}

void api_profile_get(struct request *req)
{
	struct store_user u = { 0 };
	json_t *o;

	if (profile_load(req, &u) != 0)
		return;
	/* access ledger: whose profile was read */
	served_profile(&(struct served_viewer){ req->auth.user_id, req->auth.device_id,
	                                        req->client_ip, req->user_agent },
	               u.user_id);
	o = json_object();
	if (u.displayname)
		json_object_set_new(o, "displayname", json_string(u.displayname));
	if (u.avatar_url)
		json_object_set_new(o, "avatar_url", json_string(u.avatar_url));
	res_json(req, 200, o);
	store_user_clear(&u);
}

void api_profile_field_get(struct request *req)
{
	struct store_user u = { 0 };
	const char *field = route_field(req);
	const char *value;

	if (profile_load(req, &u) != 0)
		return;
	value = strcmp(field, "displayname") == 0 ? u.displayname : u.avatar_url;
	if (!value)
		res_error(req, 404, "M_NOT_FOUND", "The user has no %s", field);
	else {
		served_profile(&(struct served_viewer){ req->auth.user_id, req->auth.device_id,
		                                        req->client_ip, req->user_agent },
		               u.user_id);
		res_json(req, 200, json_pack("{s:s}", field, value));
	}
	store_user_clear(&u);
}

/* client-server-api "Events on Change of Profile Information": the new
 * display name or avatar goes out as an m.room.member event in every room
 * the user is joined to. A room that refuses it (rules changed since the
 * join) is skipped: the profile itself has changed. */
static void profile_propagate(struct request *req, const char *field, const char *value)
{
	struct app *app = APP(req);
	struct store_membership_list ms = { 0 };

	if (store_user_memberships(app->store, req->auth.user_id, &ms) != STORE_OK)
		return;
	for (size_t i = 0; i < ms.n; i++) {
		json_t *content;
		struct event_spec spec;
		struct event_error err;
		char *event_id = NULL;

		if (strcmp(ms.items[i].membership, "join") != 0)
			continue;
		content = events_state_content(app->events, ms.items[i].room_id, "m.room.member",
		                               req->auth.user_id);
		if (!content)
			continue;
		if (value)
			json_object_set_new(content, field, json_string(value));
		else
			json_object_del(content, field);
		spec = (struct event_spec){ "m.room.member", req->auth.user_id, content, NULL };
		if (events_send(app->events, ms.items[i].room_id, req->auth.user_id, &spec,
		                NULL, NULL, &event_id, &err) != 0)
			log_warn("profile change not sent to %s: %s", ms.items[i].room_id, err.message);
		free(event_id);
		json_decref(content);
	}
	store_membership_list_clear(&ms);
}

void api_profile_field_put(struct request *req)
{
	json_t *body = req_json_object(req, false);
	const char *field = route_field(req), *value = NULL;
	bool is_name = strcmp(field, "displayname") == 0;
	enum store_result r;

	if (!body)
		return;
	if (strcmp(req_param(req, 0), req->auth.user_id) != 0) {
		res_error(req, 403, "M_FORBIDDEN", "You cannot change another user's profile");
		return;
	}
	/* profile.yaml: the body carries the field being set. */
	if (!json_object_get(body, field)) {
		res_error(req, 400, "M_MISSING_PARAM", "Missing parameter: %s", field);
		return;
	}
	if (req_get_string(req, body, field, false, &value) != 0)
		return;
	if (value && strlen(value) > (is_name ? DISPLAYNAME_MAX : AVATAR_URL_MAX)) {
		res_error(req, 400, "M_INVALID_PARAM", "%s is too long", field);
		return;
	}
	if (value && !is_name && *value && strncmp(value, "mxc://", 6) != 0) {
		res_error(req, 400, "M_INVALID_PARAM", "avatar_url must be an mxc:// URI");
		return;
	}
	r = store_profile_set(APP(req)->store, req->auth.user_id, field,
	                      value && *value ? value : NULL);
	if (r != STORE_OK) {
		res_error(req, 500, "M_UNKNOWN", "Could not update the profile");
		return;
	}
	profile_propagate(req, field, value && *value ? value : NULL);
	res_json(req, 200, NULL);
}
