/* rooms_read.c: reading a room: state, one event, members, joined rooms
 * and members, and /messages (room_state.yaml, rooms.yaml,
 * list_joined_rooms.yaml, message_pagination.yaml). Every event returned
 * passes the served chokepoint (security/served.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/client/handlers.h"
#include "api/client/rooms_util.h"
#include "events/events.h"
#include "events/relations.h"
#include "security/served.h"
#include "store/store.h"
#include "sync/filter.h"
#include "sync/token.h"
#include "util/timeutil.h"

#define MESSAGES_LIMIT_DEFAULT 10
#define MESSAGES_LIMIT_MAX 1000

int rooms_read_position(struct request *req, const char *room_id, int64_t *at)
{
	struct app *app = APP(req);
	struct store_membership_list h = { 0 };
	const char *m = NULL;
	json_t *vis;
	const char *v;

	*at = 0;
	if (store_membership_history(app->store, room_id, req->auth.user_id, &h) != STORE_OK) {
		res_error(req, 500, "M_UNKNOWN", "Could not read the room");
		return -1;
	}
	if (h.n) {
		m = h.items[h.n - 1].membership;
		if (strcmp(m, "join") == 0) {
			store_membership_list_clear(&h);
			return 0;
		}
		if (strcmp(m, "leave") == 0 || strcmp(m, "ban") == 0) {
			*at = h.items[h.n - 1].stream + 1;
			/* Only someone who was once joined sees the state at their leave. */
			for (size_t i = 0; i < h.n; i++)
				if (strcmp(h.items[i].membership, "join") == 0) {
					store_membership_list_clear(&h);
					return 0;
				}
		}
	}
	store_membership_list_clear(&h);
	vis = events_state_content(app->events, room_id, "m.room.history_visibility", "");
	v = json_string_value(json_object_get(vis, "history_visibility"));
	if (v && strcmp(v, "world_readable") == 0) {
		json_decref(vis);
		*at = 0;
		return 0;
	}
	json_decref(vis);
	res_error(req, 403, "M_FORBIDDEN", "You are not a member of the room");
	return -1;
}

static struct served_viewer viewer_of(const struct request *req)
{
	return (struct served_viewer){ req->auth.user_id, req->auth.device_id, req->client_ip,
	                               req->user_agent };
}

static json_t *events_json(struct request *req, const struct store_event_list *l)
{
	json_t *arr = json_array();
	int64_t now = time_now_ms();
	for (size_t i = 0; i < l->n; i++) {
		json_t *ev = event_client_format(&l->items[i], req->auth.user_id,
		                                 req->auth.device_id, now);
		if (ev)
			json_array_append_new(arr, ev);
	}
	return arr;
}

void api_room_state_all(struct request *req)
{
	struct store_event_list l = { 0 };
	struct served_viewer v = viewer_of(req);
	int64_t at;

	if (rooms_read_position(req, req_param(req, 0), &at) != 0)
		return;
	if (store_room_state(APP(req)->store, req_param(req, 0), at, &l) != STORE_OK ||
	    served_events_filter(APP(req)->store, &v, SERVED_STATE, req_param(req, 0), &l) != 0) {
		store_event_list_clear(&l);
		res_error(req, 500, "M_UNKNOWN", "Could not read the state");
		return;
	}
	res_json(req, 200, events_json(req, &l));
	store_event_list_clear(&l);
}

void api_room_state_get(struct request *req)
{
	struct store_event se = { 0 };
	const char *sk = req->n_params > 2 ? req_param(req, 2) : "";
	const char *fmt;
	int64_t at;
	json_t *ev;

	if (rooms_read_position(req, req_param(req, 0), &at) != 0)
		return;
	if (store_room_state_get(APP(req)->store, req_param(req, 0), at, req_param(req, 1), sk,
	                         &se) != STORE_OK) {
		res_error(req, 404, "M_NOT_FOUND", "Event not found");
		return;
	}
	/* access ledger: its content leaves, whichever format */
	{
		struct served_viewer v = viewer_of(req);
		served_events_record(&v, SERVED_STATE, req_param(req, 0),
		                     &(struct store_event_list){ &se, 1 });
	}
	/* room_state.yaml: format=event answers the whole client event. */
	fmt = req_query(req, "format");
	if (fmt && strcmp(fmt, "event") == 0) {
		res_json(req, 200, event_client_format(&se, req->auth.user_id, req->auth.device_id,
		                                       time_now_ms()));
	} else {
		ev = json_loads(se.json, 0, NULL);
		res_json(req, 200, json_incref(json_object_get(ev, "content")));
		json_decref(ev);
	}
	store_event_clear(&se);
}

void api_room_event_get(struct request *req)
{
	struct store_event_list l = { 0 };
	struct served_viewer v = viewer_of(req);
	json_t *ev;

	l.items = calloc(1, sizeof(*l.items));
	if (!l.items || store_event_get(APP(req)->store, req_param(req, 1), &l.items[0]) !=
	    STORE_OK || strcmp(l.items[0].room_id, req_param(req, 0)) != 0) {
		if (l.items)
			l.n = 1;
		store_event_list_clear(&l);
		res_error(req, 404, "M_NOT_FOUND", "Event not found");
		return;
	}
	l.n = 1;
	if (served_events_filter(APP(req)->store, &v, SERVED_EVENT, req_param(req, 0), &l) != 0 ||
	    l.n == 0) {
		store_event_list_clear(&l);
		/* Same answer as a missing event: do not confirm it exists. */
		res_error(req, 404, "M_NOT_FOUND", "Event not found");
		return;
	}
	ev = event_client_format(&l.items[0], req->auth.user_id, req->auth.device_id,
	                         time_now_ms());
	/* relations: bundled aggregations; a store failure only leaves them out */
	if (ev)
		events_bundle_aggregations(APP(req)->store, &v, SERVED_EVENT, req_param(req, 0), ev);
	res_json(req, 200, ev);
	store_event_list_clear(&l);
}

static bool membership_param_ok(const char *m)
{
	static const char *const known[] = { "join", "invite", "knock", "leave", "ban" };
	if (!m)
		return true;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(m, known[i]) == 0)
			return true;
	return false;
}

void api_room_members(struct request *req)
{
	const char *room_id = req_param(req, 0);
	const char *at_text = req_query(req, "at");
	const char *only = req_query(req, "membership"), *not = req_query(req, "not_membership");
	struct store_event_list l = { 0 };
	struct served_viewer v = viewer_of(req);
	int64_t at;
	uint64_t at_pos;
	size_t kept = 0;

	if (!membership_param_ok(only) || !membership_param_ok(not)) {
		res_error(req, 400, "M_INVALID_PARAM", "membership must be join, invite, knock, leave or ban");
		return;
	}
	if (rooms_read_position(req, room_id, &at) != 0)
		return;
	if (at_text) {
		if (page_token_parse_any(at_text, &at_pos) != 0) {
			res_error(req, 400, "M_INVALID_PARAM", "Invalid at token");
			return;
		}
		/* a sync token names the last event included: state after it */
		at_pos += at_text[0] == 's';
		if (at == 0 || (int64_t)at_pos < at)
			at = (int64_t)at_pos;
	}
	/* the member list is served whole (served.h): access was decided by
	 * the read position; what is kept below is recorded as served */
	if (store_room_state(APP(req)->store, room_id, at, &l) != STORE_OK) {
		store_event_list_clear(&l);
		res_error(req, 500, "M_UNKNOWN", "Could not read the members");
		return;
	}
	for (size_t i = 0; i < l.n; i++) {
		struct store_event *e = &l.items[i];
		json_t *ev = strcmp(e->type, "m.room.member") == 0 ? json_loads(e->json, 0, NULL) : NULL;
		const char *m = json_string_value(json_object_get(json_object_get(ev, "content"),
		                                                  "membership"));
		/* members.yaml: given together, membership and not_membership
		 * form an "or": m == membership, or m != not_membership. */
		bool keep = m && (only && not ? strcmp(m, only) == 0 || strcmp(m, not) != 0
		                              : (!only || strcmp(m, only) == 0) &&
		                                (!not || strcmp(m, not) != 0));
		json_decref(ev);
		if (keep)
			l.items[kept++] = *e;
		else
			store_event_clear(e);
	}
	l.n = kept;
	served_events_record(&v, SERVED_MEMBERS, room_id, &l);
	res_json(req, 200, json_pack("{s:o}", "chunk", events_json(req, &l)));
	store_event_list_clear(&l);
}

void api_room_joined_members(struct request *req)
{
	struct app *app = APP(req);
	const char *room_id = req_param(req, 0);
	struct store_membership_list ms = { 0 };
	char *mine = events_membership(app->events, room_id, req->auth.user_id);
	json_t *joined;

	if (!mine || strcmp(mine, "join") != 0) {
		free(mine);
		res_error(req, 403, "M_FORBIDDEN", "You are not joined to this room");
		return;
	}
	free(mine);
	if (store_room_members(app->store, room_id, "join", &ms) != STORE_OK) {
		res_error(req, 500, "M_UNKNOWN", "Could not read the members");
		return;
	}
	joined = json_object();
	for (size_t i = 0; i < ms.n; i++) {
		json_t *c = events_state_content(app->events, room_id, "m.room.member",
		                                 ms.items[i].user_id);
		json_t *o = json_object();
		json_t *dn = json_object_get(c, "displayname"), *av = json_object_get(c, "avatar_url");
		if (json_is_string(dn))
			json_object_set(o, "display_name", dn);
		if (json_is_string(av))
			json_object_set(o, "avatar_url", av);
		json_object_set_new(joined, ms.items[i].user_id, o);
		json_decref(c);
	}
	store_membership_list_clear(&ms);
	res_json(req, 200, json_pack("{s:o}", "joined", joined));
}

void api_joined_rooms(struct request *req)
{
	struct store_membership_list ms = { 0 };
	json_t *rooms = json_array();

	if (store_user_memberships(APP(req)->store, req->auth.user_id, &ms) != STORE_OK) {
		json_decref(rooms);
		res_error(req, 500, "M_UNKNOWN", "Could not list rooms");
		return;
	}
	for (size_t i = 0; i < ms.n; i++)
		if (strcmp(ms.items[i].membership, "join") == 0)
			json_array_append_new(rooms, json_string(ms.items[i].room_id));
	store_membership_list_clear(&ms);
	res_json(req, 200, json_pack("{s:o}", "joined_rooms", rooms));
}
