/* admin_sessions.c: an account's devices, sessions and rooms on Synapse's
 * admin paths: v2/users/{userId}/devices (list, delete one, delete many),
 * v1/whois/{userId} (also the spec's /_matrix/client/v3/admin/whois),
 * v1/users/{userId}/joined_rooms; and the leaves of a deactivation. */
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/client/admin.h"
#include "api/client/admin_internal.h"
#include "api/client/handlers.h"
#include "api/client/rooms_util.h"
#include "events/events.h"
#include "store/store.h"
#include "util/ids.h"
#include "util/log.h"

#define ADMIN_DELETE_DEVICES_MAX 1000

/* ---- devices ---------------------------------------------------------- */

static json_t *admin_device_json(const struct store_device *d)
{
	return json_pack("{s:s,s:s,s:o,s:o,s:o,s:o,s:b}", "user_id", d->user_id,
	                 "device_id", d->device_id,
	                 "display_name", d->display_name ? json_string(d->display_name)
	                                                 : json_null(),
	                 "last_seen_ip", d->last_seen_ip ? json_string(d->last_seen_ip)
	                                                 : json_null(),
	                 "last_seen_ts", d->last_seen_ts ? json_integer(d->last_seen_ts)
	                                                 : json_null(),
	                 "last_seen_user_agent", d->last_seen_user_agent
	                                             ? json_string(d->last_seen_user_agent)
	                                             : json_null(),
	                 "dehydrated", 0);
}

static int admin_device_collect(void *ctx, const struct store_device *d)
{
	json_t *o = admin_device_json(d);

	return o && json_array_append_new(ctx, o) == 0 ? 0 : 1;
}

void api_admin_user_devices(struct request *req)
{
	const char *uid = admin_local_user_param(req, 0);
	struct store_user u = { 0 };
	json_t *list;

	if (!uid || admin_user_load(req, uid, &u) != 0)
		return;
	store_user_clear(&u);
	list = json_array();
	if (!list || store_device_list(APP(req)->store, uid, admin_device_collect, list) !=
	                 STORE_OK) {
		json_decref(list);
		res_error(req, 500, "M_UNKNOWN", "Could not list the devices");
		return;
	}
	res_json(req, 200, json_pack("{s:I,s:o}", "total", (json_int_t)json_array_size(list),
	                             "devices", list));
}

void api_admin_user_device_delete(struct request *req)
{
	const char *uid = admin_local_user_param(req, 0);
	const char *device_id = req_param(req, 1);
	enum store_result r;

	if (!uid)
		return;
	if (!device_id || !id_opaque_valid(device_id)) {
		res_error(req, 400, "M_INVALID_PARAM", "Invalid device ID");
		return;
	}
	r = store_device_delete(APP(req)->store, uid, device_id);
	if (r == STORE_ERROR) {
		res_error(req, 500, "M_UNKNOWN", "Could not delete the device");
		return;
	}
	/* Synapse answers {} for a device that was not there, too */
	api_sessions_revoked(req, uid);
	res_json(req, 200, NULL);
}

void api_admin_user_delete_devices(struct request *req)
{
	json_t *body = req_json_object(req, false), *ids, *v;
	const char *uid = admin_local_user_param(req, 0);
	size_t i;

	if (!body || !uid)
		return;
	ids = json_object_get(body, "devices");
	if (!json_is_array(ids) || json_array_size(ids) > ADMIN_DELETE_DEVICES_MAX) {
		res_error(req, 400, "M_BAD_JSON", "devices must be an array of at most %d device IDs",
		          ADMIN_DELETE_DEVICES_MAX);
		return;
	}
	json_array_foreach(ids, i, v) {
		if (!json_is_string(v) || !id_opaque_valid(json_string_value(v))) {
			res_error(req, 400, "M_BAD_JSON", "devices must hold device IDs");
			return;
		}
	}
	json_array_foreach(ids, i, v) {
		if (store_device_delete(APP(req)->store, uid, json_string_value(v)) == STORE_ERROR) {
			res_error(req, 500, "M_UNKNOWN", "Could not delete the devices");
			api_sessions_revoked(req, uid);
			return;
		}
	}
	api_sessions_revoked(req, uid);
	res_json(req, 200, NULL);
}

/* ---- whois ------------------------------------------------------------ */

static int admin_whois_device(void *ctx, const struct store_device *d)
{
	json_t *conns = json_array(), *dev;

	if (!conns)
		return 1;
	if (d->last_seen_ts > 0)
		json_array_append_new(conns, json_pack("{s:o,s:I,s:o}",
		                      "ip", d->last_seen_ip ? json_string(d->last_seen_ip)
		                                            : json_null(),
		                      "last_seen", (json_int_t)d->last_seen_ts,
		                      "user_agent", d->last_seen_user_agent
		                                        ? json_string(d->last_seen_user_agent)
		                                        : json_null()));
	dev = json_pack("{s:[{s:o}]}", "sessions", "connections", conns);
	return dev && json_object_set_new(ctx, d->device_id, dev) == 0 ? 0 : 1;
}

json_t *admin_whois(struct app *app, const char *user_id)
{
	json_t *devices = json_object();

	if (!devices || store_device_list(app->store, user_id, admin_whois_device, devices) !=
	                    STORE_OK) {
		json_decref(devices);
		return NULL;
	}
	return json_pack("{s:s,s:o}", "user_id", user_id, "devices", devices);
}

void api_admin_whois(struct request *req)
{
	const char *uid = admin_local_user_param(req, 0);
	struct store_user u = { 0 };
	json_t *o;

	if (!uid || admin_user_load(req, uid, &u) != 0)
		return;
	store_user_clear(&u);
	if (!(o = admin_whois(APP(req), uid))) {
		res_error(req, 500, "M_UNKNOWN", "Could not read the sessions");
		return;
	}
	res_json(req, 200, o);
}

/* ---- rooms of a user -------------------------------------------------- */

json_t *admin_joined_rooms(struct app *app, const char *user_id)
{
	struct store_membership_list l = { 0 };
	json_t *rooms;

	if (store_user_memberships(app->store, user_id, &l) != STORE_OK)
		return NULL;
	rooms = json_array();
	for (size_t i = 0; rooms && i < l.n; i++)
		if (strcmp(l.items[i].membership, "join") == 0)
			json_array_append_new(rooms, json_string(l.items[i].room_id));
	store_membership_list_clear(&l);
	return rooms;
}

void api_admin_user_joined_rooms(struct request *req)
{
	const char *uid = admin_local_user_param(req, 0);
	struct store_user u = { 0 };
	json_t *rooms;

	if (!uid || admin_user_load(req, uid, &u) != 0)
		return;
	store_user_clear(&u);
	if (!(rooms = admin_joined_rooms(APP(req), uid))) {
		res_error(req, 500, "M_UNKNOWN", "Could not read the memberships");
		return;
	}
	res_json(req, 200, json_pack("{s:I,s:o}", "total", (json_int_t)json_array_size(rooms),
	                             "joined_rooms", rooms));
}

size_t admin_user_leave_all(struct app *app, const char *user_id)
{
	struct store_membership_list l = { 0 };
	struct event_error err;
	size_t failed = 0;

	if (store_user_memberships(app->store, user_id, &l) != STORE_OK)
		return 1;
	for (size_t i = 0; i < l.n; i++) {
		const char *m = l.items[i].membership;
		struct event_spec spec;
		char *event_id = NULL;

		if (strcmp(m, "join") != 0 && strcmp(m, "invite") != 0 && strcmp(m, "knock") != 0)
			continue;
		/* A user may always leave (or refuse an invite) in their own name. */
		spec = (struct event_spec){ "m.room.member", user_id,
		                            json_pack("{s:s}", "membership", "leave"), NULL };
		if (!spec.content || events_send(app->events, l.items[i].room_id, user_id, &spec,
		                                 NULL, NULL, &event_id, &err) != 0) {
			log_warn("admin: %s could not leave %s: %s", user_id, l.items[i].room_id,
			         spec.content ? err.message : "out of memory");
			failed++;
		}
		json_decref(spec.content);
		free(event_id);
	}
	store_membership_list_clear(&l);
	return failed;
}
