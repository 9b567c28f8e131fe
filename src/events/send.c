/* send.c: events_send and events_create_room: build under the room's lock,
 * persist, update the cache, notify. */
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "events/build.h"
#include "events/events_internal.h"
#include "events/search_text.h"
#include "events/relations.h"
#include "json/canonical.h"
#include "rooms/auth.h"
#include "rooms/redact.h"
#include "rooms/room_version.h"
#include "rooms/state_map.h"
#include "store/store.h"
#include "sync/notifier.h"
#include "util/timeutil.h"

/* Fill the store row for a built event. */
static void row_fill(struct store_event_new *row, const json_t *ev, const struct event_built *b,
                     const char *room_id, const char *prev_content)
{
	const json_t *content = json_object_get(ev, "content");

	memset(row, 0, sizeof(*row));
	row->event_id = b->event_id;
	row->room_id = room_id;
	row->type = json_string_value(json_object_get(ev, "type"));
	row->state_key = json_string_value(json_object_get(ev, "state_key"));
	row->sender = json_string_value(json_object_get(ev, "sender"));
	row->origin_ts = json_integer_value(json_object_get(ev, "origin_server_ts"));
	row->depth = json_integer_value(json_object_get(ev, "depth"));
	row->json = b->json;
	row->json_len = b->json_len;
	row->prev_content = prev_content;
	if (row->state_key && strcmp(row->type, "m.room.member") == 0)
		row->membership = json_string_value(json_object_get(content, "membership"));
	events_relation_of(content, &row->rel_type, &row->relates_to);   /* relations */
}

/* The previous content of the state entry an event replaces, as text. */
static char *prev_content_of(const struct state_map *state, const json_t *ev)
{
	const char *sk = json_string_value(json_object_get(ev, "state_key"));
	json_t *old;

	if (!sk)
		return NULL;
	old = state_map_get(state, json_string_value(json_object_get(ev, "type")), sk);
	return old ? json_dumps(json_object_get(old, "content"), JSON_COMPACT) : NULL;
}

/* Redaction: the target's redacted JSON, if the target is in this room. */
static char *redacted_target_json(struct events_ctx *ctx, const struct room_version *rv,
                                  const char *room_id, const char *target)
{
	struct store_event se = { 0 };
	json_t *ev, *red;
	char *out = NULL;

	if (store_event_get(ctx->store, target, &se) != STORE_OK)
		return NULL;
	if (strcmp(se.room_id, room_id) == 0 && (ev = json_loads(se.json, 0, NULL))) {
		red = event_redact(rv, ev);
		out = red ? cjson_encode(red, NULL) : NULL;
		json_decref(red);
		json_decref(ev);
	}
	store_event_clear(&se);
	return out;
}

static void notify_event(struct events_ctx *ctx, const char *room_id, const json_t *ev)
{
	const char *rooms[1] = { room_id };
	const char *users[1];
	size_t n_users = 0;
	const char *type = json_string_value(json_object_get(ev, "type"));
	const char *sk = json_string_value(json_object_get(ev, "state_key"));

	/* A membership change concerns its target even before they watch the
	 * room (an invite, a join from another device). */
	if (sk && strcmp(type, "m.room.member") == 0)
		users[n_users++] = sk;
	notifier_notify(ctx->notifier, rooms, 1, users, n_users);
}

/* end-to-end encryption keys feature: "once enabled, encryption cannot
 * be disabled" (client-server-api, End-to-End Encryption, m.room.encryption:
 * clients treat a room as encrypted for good). A state event that would
 * drop m.room.encryption or change its algorithm, or a redaction of the
 * current one (which would strip the algorithm), is refused. 0, or -1
 * with err set. */
static int encryption_kept(const struct state_map *state, const struct event_spec *spec,
                           struct event_error *err)
{
	const json_t *cur = state_map_get(state, "m.room.encryption", "");
	const json_t *alg, *new_alg;

	if (cur == NULL)
		return 0;
	alg = json_object_get(json_object_get(cur, "content"), "algorithm");
	if (spec->redacts && json_is_string(json_object_get(cur, "event_id")) &&
	    strcmp(spec->redacts, json_string_value(json_object_get(cur, "event_id"))) == 0) {
		event_error_set(err, 403, "M_FORBIDDEN", "Room encryption cannot be redacted");
		return -1;
	}
	if (!spec->state_key || strcmp(spec->type, "m.room.encryption") != 0 ||
	    strcmp(spec->state_key, "") != 0)
		return 0;
	new_alg = json_object_get(spec->content, "algorithm");
	if (!json_is_string(new_alg) || !json_is_string(alg) || !json_equal(alg, new_alg)) {
		event_error_set(err, 403, "M_FORBIDDEN",
		                "Room encryption cannot be disabled or its algorithm changed");
		return -1;
	}
	return 0;
}

static int events_send_one(struct events_ctx *ctx, const char *room_id, const char *sender,
                           const struct event_spec *spec, const char *device_id,
                           const char *txn_id, char **event_id_out, struct event_error *err);

int events_send(struct events_ctx *ctx, const char *room_id, const char *sender,
                const struct event_spec *spec, const char *device_id, const char *txn_id,
                char **event_id_out, struct event_error *err)
{
	char *unused = NULL;
	int ret;

	/* Callers that do not need the event ID (server notices, alerts,
	 * profile propagation) may pass NULL. */
	if (event_id_out)
		return events_send_one(ctx, room_id, sender, spec, device_id, txn_id, event_id_out, err);
	ret = events_send_one(ctx, room_id, sender, spec, device_id, txn_id, &unused, err);
	free(unused);
	return ret;
}

static int events_send_one(struct events_ctx *ctx, const char *room_id, const char *sender,
                           const struct event_spec *spec, const char *device_id,
                           const char *txn_id, char **event_id_out, struct event_error *err)
{
	struct room_entry *e;
	struct event_build_args a = { 0 };
	struct event_built b = { 0 };
	struct store_event_new row;
	json_t *ev = NULL;
	char *prev = NULL, *redacted = NULL, *search = NULL;
	int64_t stream = 0;
	enum store_result r;
	int ret = -1;

	*event_id_out = NULL;
	if (txn_id && store_txn_get(ctx->store, sender, device_id, txn_id, event_id_out) ==
	    STORE_OK)
		return 0;   /* a retried transaction: same answer, nothing sent */
	e = room_cache_acquire(ctx, room_id, err);
	if (!e)
		return -1;
	/* relations: send-time rules (threads, duplicate annotations), under
	 * the room's lock so that two racing sends cannot both pass */
	if (events_relation_check(ctx->store, room_id, sender, spec->type, spec->content, err) != 0)
		goto out;
	if (encryption_kept(e->state, spec, err) != 0)
		goto out;
	a.rv = e->rv;
	a.cfg = ctx->cfg;
	a.key = ctx->key;
	a.room_id = room_id;
	a.sender = sender;
	a.spec = spec;
	a.state = e->state;
	a.prev_event_id = e->last_event_id;
	a.prev_depth = e->depth;
	a.now_ms = time_now_ms();
	ev = event_build(&a, err);
	if (!ev || event_finish(e->rv, ev, &b, err) != 0)
		goto out;
	prev = prev_content_of(e->state, ev);
	row_fill(&row, ev, &b, room_id, prev);
	row.txn_id = txn_id;
	row.txn_device_id = txn_id ? device_id : NULL;
	/* search feature: what /search may find of it; nothing once the room
	 * is encrypted (m.room.encryption in its current state) */
	search = event_search_text(ev, state_map_get(e->state, "m.room.encryption", "") != NULL,
	                           &row.search_key);
	row.search_text = search;
	if (spec->redacts) {
		redacted = redacted_target_json(ctx, e->rv, room_id, spec->redacts);
		if (redacted) {
			row.redacts = spec->redacts;
			row.redacted_json = redacted;
		}
	}
	r = store_events_persist(ctx->store, NULL, &row, 1, &stream);
	if (r == STORE_CONFLICT && txn_id &&
	    store_txn_get(ctx->store, sender, device_id, txn_id, event_id_out) == STORE_OK) {
		ret = 0;   /* the same transaction raced us and won */
		goto out;
	}
	if (r != STORE_OK) {
		event_error_set(err, 500, "M_UNKNOWN", "Could not store the event");
		goto out;
	}
	if (row.state_key) {
		json_object_set_new(ev, "event_id", json_string(b.event_id));
		state_map_set_event(e->state, ev);
	}
	free(e->last_event_id);
	e->last_event_id = b.event_id;
	e->depth = row.depth;
	*event_id_out = strdup(b.event_id);
	b.event_id = NULL;
	ret = *event_id_out ? 0 : -1;
	room_cache_release(e);
	e = NULL;
	notify_event(ctx, room_id, ev);
out:
	if (e)
		room_cache_release(e);
	json_decref(ev);
	event_built_clear(&b);
	free(prev);
	free(redacted);
	free(search);
	return ret;
}
