/* admin_rooms.c: rooms on Synapse's admin paths: v1/rooms (list with
 * from, limit, order_by, dir, search_term), v1/rooms/{roomId} (details),
 * v1/rooms/{roomId}/members, and DELETE v1/rooms/{roomId} (shutdown). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/app.h"
#include "api/client/admin.h"
#include "api/client/handlers.h"
#include "config/config.h"
#include "events/events.h"
#include "store/store.h"
#include "util/log.h"

#define ADMIN_ROOMS_LIMIT_DEFAULT 100
#define ADMIN_ROOMS_LIMIT_MAX 1000
#define ADMIN_ALIASES_MAX 1000

/* content[key] of a current state event as a JSON string, or null. */
static json_t *admin_state_string(struct app *app, const char *room_id, const char *type,
                                  const char *key)
{
	json_t *c = events_state_content(app->events, room_id, type, "");
	json_t *v = json_object_get(c, key);
	json_t *out = json_is_string(v) ? json_string(json_string_value(v)) : json_null();

	json_decref(c);
	return out;
}

json_t *admin_room_json(struct app *app, const char *room_id, bool details)
{
	struct store_room room = { 0 };
	struct store_event_list state = { 0 };
	json_t *o = NULL, *create;
	int64_t joined = 0;
	bool federate = true;

	if (store_room_get(app->store, room_id, &room) != STORE_OK)
		return NULL;
	create = events_state_content(app->events, room_id, "m.room.create", "");
	if (json_is_false(json_object_get(create, "m.federate")))
		federate = false;
	store_room_joined_count(app->store, room_id, &joined);
	store_room_state(app->store, room_id, 0, &state);
	/* one server: every joined member is local */
	o = json_pack("{s:s,s:o,s:o,s:I,s:I,s:s,s:s,s:o,s:b,s:b,s:o,s:o,s:o,s:I,s:o}",
	              "room_id", room_id,
	              "name", admin_state_string(app, room_id, "m.room.name", "name"),
	              "canonical_alias",
	              admin_state_string(app, room_id, "m.room.canonical_alias", "alias"),
	              "joined_members", (json_int_t)joined,
	              "joined_local_members", (json_int_t)joined,
	              "version", room.room_version, "creator", room.creator,
	              "encryption",
	              admin_state_string(app, room_id, "m.room.encryption", "algorithm"),
	              "federatable", federate, "public", room.published,
	              "join_rules", admin_state_string(app, room_id, "m.room.join_rules", "join_rule"),
	              "guest_access",
	              admin_state_string(app, room_id, "m.room.guest_access", "guest_access"),
	              "history_visibility",
	              admin_state_string(app, room_id, "m.room.history_visibility",
	                                 "history_visibility"),
	              "state_events", (json_int_t)state.n,
	              "room_type", json_is_string(json_object_get(create, "type"))
	                               ? json_copy(json_object_get(create, "type"))
	                               : json_null());
	if (o && details) {
		json_object_set_new(o, "topic",
		                    admin_state_string(app, room_id, "m.room.topic", "topic"));
		json_object_set_new(o, "avatar", admin_state_string(app, room_id, "m.room.avatar", "url"));
		json_object_set_new(o, "forgotten", json_false());
	}
	json_decref(create);
	store_event_list_clear(&state);
	store_room_clear(&room);
	return o;
}

json_t *admin_rooms_all(struct app *app)
{
	json_t *rooms = json_array();
	char **ids = NULL, *since = NULL;
	size_t n = 0, total = 0;

	while (rooms && total < ADMIN_ROOMS_MAX) {
		if (store_rooms_all(app->store, since, STORE_LIST_LIMIT_MAX, &ids, &n) != STORE_OK) {
			json_decref(rooms);
			rooms = NULL;
			break;
		}
		for (size_t i = 0; i < n && total < ADMIN_ROOMS_MAX; i++, total++) {
			json_t *o = admin_room_json(app, ids[i], false);
			if (o)
				json_array_append_new(rooms, o);
		}
		free(since);
		since = n > 0 ? strdup(ids[n - 1]) : NULL;
		store_room_ids_free(ids, n);
		if (n < STORE_LIST_LIMIT_MAX || !since)
			break;
	}
	free(since);
	return rooms;
}

/* ---- GET /v1/rooms ---------------------------------------------------- */

/* Synapse's order_by values; "size" and "alphabetical" are its aliases. */
static const char *admin_order_key(const char *order_by)
{
	static const char *const keys[] = {
		"name", "canonical_alias", "joined_members", "joined_local_members", "version",
		"creator", "encryption", "federatable", "public", "join_rules", "guest_access",
		"history_visibility", "state_events",
	};

	if (!order_by)
		return "name";
	if (strcmp(order_by, "size") == 0)
		return "joined_members";
	if (strcmp(order_by, "alphabetical") == 0)
		return "name";
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(order_by, keys[i]) == 0)
			return keys[i];
	return NULL;
}

/* Nulls last, numbers and booleans ascending, strings case-insensitively;
 * ties by room ID so the order is stable across pages. */
static int admin_room_cmp(const void *a, const void *b, void *key)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	json_t *vx = json_object_get(x, key), *vy = json_object_get(y, key);
	int c = 0;

	if (json_is_null(vx) != json_is_null(vy))
		return json_is_null(vx) ? 1 : -1;
	if (json_is_string(vx) && json_is_string(vy))
		c = strcasecmp(json_string_value(vx), json_string_value(vy));
	else if (json_is_integer(vx) && json_is_integer(vy))
		c = json_integer_value(vx) < json_integer_value(vy) ? -1
		  : json_integer_value(vx) > json_integer_value(vy);
	else if (json_is_boolean(vx) && json_is_boolean(vy))
		c = (int)json_is_true(vx) - (int)json_is_true(vy);
	if (c == 0)
		c = strcmp(json_string_value(json_object_get(x, "room_id")),
		           json_string_value(json_object_get(y, "room_id")));
	return c;
}

/* search_term: "Filter rooms by their room name, canonical alias and room
 * id" (Synapse), case-insensitively. */
static bool admin_room_matches(json_t *room, const char *term)
{
	static const char *const keys[] = { "name", "canonical_alias", "room_id" };

	for (size_t i = 0; i < 3; i++) {
		const char *v = json_string_value(json_object_get(room, keys[i]));
		if (v && strcasestr(v, term))
			return true;
	}
	return false;
}

static json_t *admin_rooms_filtered(struct app *app, const char *term)
{
	json_t *all = admin_rooms_all(app), *kept, *v;
	size_t i;

	if (!all || !term)
		return all;
	kept = json_array();
	json_array_foreach(all, i, v)
		if (kept && admin_room_matches(v, term))
			json_array_append(kept, v);
	json_decref(all);
	return kept;
}

static json_t *admin_rooms_sorted(json_t *rooms, const char *key, bool backwards)
{
	size_t n = json_array_size(rooms);
	json_t **items = calloc(n ? n : 1, sizeof(*items)), *out = json_array();

	if (!items || !out) {
		free(items);
		json_decref(out);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		items[i] = json_array_get(rooms, i);
	qsort_r(items, n, sizeof(*items), admin_room_cmp, (void *)key);
	for (size_t i = 0; i < n; i++)
		json_array_append(out, items[backwards ? n - 1 - i : i]);
	free(items);
	return out;
}

void api_admin_rooms_list(struct request *req)
{
	const char *dir = req_query(req, "dir"), *key = admin_order_key(req_query(req, "order_by"));
	json_t *rooms, *sorted, *page, *out;
	int64_t from, limit;
	size_t total, i;

	if (req_query_int(req, "from", 0, INT64_MAX, 0, &from) != 0 ||
	    req_query_int(req, "limit", 0, ADMIN_ROOMS_LIMIT_MAX, ADMIN_ROOMS_LIMIT_DEFAULT,
	                  &limit) != 0)
		return;
	if (!key || (dir && strcmp(dir, "f") != 0 && strcmp(dir, "b") != 0)) {
		res_error(req, 400, "M_INVALID_PARAM", "Unknown order_by or dir");
		return;
	}
	rooms = admin_rooms_filtered(APP(req), req_query(req, "search_term"));
	sorted = admin_rooms_sorted(rooms, key, dir && dir[0] == 'b');
	json_decref(rooms);
	if (!sorted) {
		res_error(req, 500, "M_UNKNOWN", "Could not list the rooms");
		return;
	}
	total = json_array_size(sorted);
	page = json_array();
	for (i = 0; page && (int64_t)i < limit && (size_t)from + i < total; i++)
		json_array_append(page, json_array_get(sorted, (size_t)from + i));
	json_decref(sorted);
	out = json_pack("{s:o,s:I,s:I}", "rooms", page ? page : json_array(), "offset",
	                (json_int_t)from, "total_rooms", (json_int_t)total);
	if (out && (size_t)from + i < total)
		json_object_set_new(out, "next_batch", json_integer((json_int_t)(from + (int64_t)i)));
	if (out && from > 0)
		json_object_set_new(out, "prev_batch",
		                    json_integer(from > limit ? (json_int_t)(from - limit) : 0));
	res_json(req, 200, out);
}

/* ---- GET /v1/rooms/{roomId}, /members --------------------------------- */

static const char *admin_room_param(struct request *req)
{
	const char *room_id = req_param(req, 0);
	struct store_room room = { 0 };
	enum store_result r = store_room_get(APP(req)->store, room_id, &room);

	store_room_clear(&room);
	if (r == STORE_OK)
		return room_id;
	if (r == STORE_NOT_FOUND)
		res_error(req, 404, "M_NOT_FOUND", "Room not found");
	else
		res_error(req, 500, "M_UNKNOWN", "Could not read the room");
	return NULL;
}

void api_admin_room_get(struct request *req)
{
	const char *room_id = admin_room_param(req);
	json_t *o;

	if (!room_id)
		return;
	if (!(o = admin_room_json(APP(req), room_id, true))) {
		res_error(req, 500, "M_UNKNOWN", "Could not read the room");
		return;
	}
	res_json(req, 200, o);
}

void api_admin_room_members(struct request *req)
{
	struct store_membership_list l = { 0 };
	const char *room_id = admin_room_param(req);
	json_t *members;

	if (!room_id)
		return;
	if (store_room_members(APP(req)->store, room_id, "join", &l) != STORE_OK) {
		res_error(req, 500, "M_UNKNOWN", "Could not read the members");
		return;
	}
	members = json_array();
	for (size_t i = 0; members && i < l.n; i++)
		json_array_append_new(members, json_string(l.items[i].user_id));
	store_membership_list_clear(&l);
	res_json(req, 200, json_pack("{s:o,s:I}", "members", members ? members : json_array(),
	                             "total", (json_int_t)json_array_size(members)));
}

/* ---- DELETE /v1/rooms/{roomId}: shutdown ------------------------------ */

/* Every local member still in the room (joined, invited, knocking) leaves
 * in their own name: the auth rules always allow that, whoever holds
 * power in the room. */
static void admin_room_evict(struct app *app, const char *room_id, json_t *kicked,
                             json_t *failed)
{
	struct store_membership_list l = { 0 };
	struct event_error err;

	if (store_room_members(app->store, room_id, NULL, &l) != STORE_OK)
		return;
	for (size_t i = 0; i < l.n; i++) {
		const char *m = l.items[i].membership, *uid = l.items[i].user_id;
		struct event_spec spec;
		char *event_id = NULL;

		if (strcmp(m, "join") != 0 && strcmp(m, "invite") != 0 && strcmp(m, "knock") != 0)
			continue;
		spec = (struct event_spec){ "m.room.member", uid,
		                            json_pack("{s:s,s:s}", "membership", "leave", "reason",
		                                      "This room has been shut down by the server "
		                                      "administrators"),
		                            NULL };
		if (spec.content && events_send(app->events, room_id, uid, &spec, NULL, NULL,
		                                &event_id, &err) == 0) {
			json_array_append_new(kicked, json_string(uid));
		} else {
			log_warn("admin: shutdown of %s: %s stays: %s", room_id, uid,
			         spec.content ? err.message : "out of memory");
			json_array_append_new(failed, json_string(uid));
		}
		json_decref(spec.content);
		free(event_id);
	}
	store_membership_list_clear(&l);
}

/* Close the room before everyone leaves: a shut-down public room must not
 * take the next joiner back to its history. The join rule becomes
 * "invite", set by the local member with the most power, if one may. The
 * user who set it (malloc'd), or NULL when nobody could. */
static char *admin_room_close(struct app *app, const char *room_id)
{
	struct store_membership_list l = { 0 };
	int64_t need = events_required_level(app->events, room_id, "m.room.join_rules", true);
	int64_t best = -1;
	const char *closer = NULL;
	struct event_spec spec = { "m.room.join_rules", "", NULL, NULL };
	struct event_error err;
	char *event_id = NULL, *out = NULL;

	if (need < 0 || store_room_members(app->store, room_id, "join", &l) != STORE_OK)
		return NULL;
	for (size_t i = 0; i < l.n; i++) {
		int64_t pl = events_power_level(app->events, room_id, l.items[i].user_id);
		if (pl >= need && pl > best) {
			best = pl;
			closer = l.items[i].user_id;
		}
	}
	spec.content = json_pack("{s:s}", "join_rule", "invite");
	if (closer && spec.content &&
	    events_send(app->events, room_id, closer, &spec, NULL, NULL, &event_id, &err) == 0)
		out = strdup(closer);
	else if (closer)
		log_warn("admin: shutdown of %s: could not close it: %s", room_id,
		         spec.content ? err.message : "out of memory");
	json_decref(spec.content);
	free(event_id);
	store_membership_list_clear(&l);
	return out;
}

json_t *admin_room_shutdown(struct app *app, const char *room_id)
{
	struct store_room room = { 0 };
	json_t *kicked = json_array(), *failed = json_array(), *aliases = json_array(), *out;
	char **ids = NULL, *closed_by = NULL;
	size_t n = 0;

	if (store_room_get(app->store, room_id, &room) != STORE_OK || !kicked || !failed ||
	    !aliases) {
		json_decref(kicked);
		json_decref(failed);
		json_decref(aliases);
		store_room_clear(&room);
		return NULL;
	}
	store_room_clear(&room);
	closed_by = admin_room_close(app, room_id);
	admin_room_evict(app, room_id, kicked, failed);
	/* out of the public directory, and no alias leads to it any more */
	if (store_room_set_published(app->store, room_id, false) != STORE_OK)
		log_warn("admin: shutdown of %s: could not unpublish it", room_id);
	if (store_room_aliases(app->store, room_id, ADMIN_ALIASES_MAX, &ids, &n) == STORE_OK) {
		for (size_t i = 0; i < n; i++)
			if (store_alias_delete(app->store, ids[i]) == STORE_OK)
				json_array_append_new(aliases, json_string(ids[i]));
		store_room_ids_free(ids, n);
	}
	log_warn("admin: room %s shut down: %zu left, %zu stayed, %zu aliases deleted", room_id,
	         json_array_size(kicked), json_array_size(failed), json_array_size(aliases));
	/* Synapse's fields, and ours: who closed the room to new joins */
	out = json_pack("{s:o,s:o,s:o,s:n,s:o}", "kicked_users", kicked, "failed_to_kick_users",
	                failed, "local_aliases", aliases, "new_room_id", "closed_by",
	                closed_by ? json_string(closed_by) : json_null());
	free(closed_by);
	return out;
}

void api_admin_room_delete(struct request *req)
{
	const char *room_id = admin_room_param(req);
	json_t *body, *out;

	if (!room_id || !(body = req_json_object(req, true)))
		return;
	/* block, purge and new_room_user_id are accepted and not acted on:
	 * the room's events stay (an exposure report after an incident needs
	 * them) and no replacement room is made. The room is closed to new
	 * joins by its join rule instead of a block list (see
	 * admin_room_close). */
	if (!(out = admin_room_shutdown(APP(req), room_id))) {
		res_error(req, 500, "M_UNKNOWN", "Could not shut the room down");
		return;
	}
	res_json(req, 200, out);
}
