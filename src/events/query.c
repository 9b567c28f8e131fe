/* query.c: read helpers over the room cache, and the client format. */
#include <stdlib.h>
#include <string.h>

#include "events/events_internal.h"
#include "rooms/auth.h"
#include "rooms/room_version.h"
#include "rooms/state_map.h"
#include "store/store.h"

json_t *events_state_content(struct events_ctx *ctx, const char *room_id,
                             const char *type, const char *state_key)
{
	struct event_error err;
	struct room_entry *e = room_cache_acquire(ctx, room_id, &err);
	json_t *ev, *out = NULL;

	if (!e)
		return NULL;
	ev = state_map_get(e->state, type, state_key);
	if (ev)
		out = json_deep_copy(json_object_get(ev, "content"));
	room_cache_release(e);
	return out;
}

const struct room_version *events_room_version(struct events_ctx *ctx, const char *room_id)
{
	struct event_error err;
	struct room_entry *e = room_cache_acquire(ctx, room_id, &err);
	const struct room_version *rv;

	if (!e)
		return NULL;
	rv = e->rv;
	room_cache_release(e);
	return rv;
}

char *events_membership(struct events_ctx *ctx, const char *room_id, const char *user_id)
{
	json_t *c = events_state_content(ctx, room_id, "m.room.member", user_id);
	const char *m = json_string_value(json_object_get(c, "membership"));
	char *out = m ? strdup(m) : NULL;

	json_decref(c);
	return out;
}

int64_t events_power_level(struct events_ctx *ctx, const char *room_id, const char *user_id)
{
	struct event_error err;
	struct room_entry *e = room_cache_acquire(ctx, room_id, &err);
	int64_t level;

	if (!e)
		return -1;
	level = auth_user_power_level(e->rv, e->state, user_id);
	room_cache_release(e);
	return level;
}

int64_t events_required_level(struct events_ctx *ctx, const char *room_id,
                              const char *type, bool is_state)
{
	struct event_error err;
	struct room_entry *e = room_cache_acquire(ctx, room_id, &err);
	int64_t level;

	if (!e)
		return -1;
	level = auth_required_level_for_event(e->rv, e->state, type, is_state ? "" : NULL);
	room_cache_release(e);
	return level;
}

int64_t events_named_level(struct events_ctx *ctx, const char *room_id, const char *name)
{
	struct event_error err;
	struct room_entry *e = room_cache_acquire(ctx, room_id, &err);
	int64_t level;

	if (!e)
		return -1;
	level = auth_named_level(e->state, name);
	room_cache_release(e);
	return level;
}

json_t *event_client_format(const struct store_event *e, const char *viewer_user,
                            const char *viewer_device, int64_t now_ms)
{
	static const char *pdu_only[] = { "auth_events", "prev_events", "hashes", "signatures",
	                                  "depth", "origin", "prev_state", "membership" };
	json_t *ev = json_loads(e->json, 0, NULL), *unsig;

	if (!ev || !json_is_object(ev)) {
		json_decref(ev);
		return NULL;
	}
	for (size_t i = 0; i < sizeof(pdu_only) / sizeof(pdu_only[0]); i++)
		json_object_del(ev, pdu_only[i]);
	json_object_set_new(ev, "event_id", json_string(e->event_id));
	/* rooms/v11.md: from v11 a redaction's target is in content; servers
	 * also give it at the top level to clients, which older clients (and
	 * matrix-js-sdk 37) read. */
	if (strcmp(e->type, "m.room.redaction") == 0 && !json_object_get(ev, "redacts")) {
		json_t *target = json_object_get(json_object_get(ev, "content"), "redacts");
		if (json_is_string(target))
			json_object_set(ev, "redacts", target);
	}
	if (!json_object_get(ev, "room_id"))
		json_object_set_new(ev, "room_id", json_string(e->room_id));
	unsig = json_object();
	json_object_set_new(unsig, "age", json_integer(now_ms - e->origin_ts));
	if (e->prev_content) {
		json_t *pc = json_loads(e->prev_content, 0, NULL);
		if (pc)
			json_object_set_new(unsig, "prev_content", pc);
	}
	if (e->redacted_by)
		json_object_set_new(unsig, "redacted_because",
		                    json_pack("{s:s,s:s,s:s}", "event_id", e->redacted_by,
		                              "type", "m.room.redaction", "room_id", e->room_id));
	if (e->txn_id && viewer_device && e->txn_device_id &&
	    strcmp(e->sender, viewer_user) == 0 && strcmp(e->txn_device_id, viewer_device) == 0)
		json_object_set_new(unsig, "transaction_id", json_string(e->txn_id));
	json_object_set_new(ev, "unsigned", unsig);
	return ev;
}
