/* build.c: turn an event_spec into a signed, hashed, authorized PDU against
 * a room's current state (the part of the pipeline that needs no store). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "events/build.h"
#include "json/canonical.h"
#include "json/sign.h"
#include "rooms/auth.h"
#include "rooms/redact.h"
#include "rooms/room_version.h"
#include "rooms/state_map.h"
#include "store/store.h"

void event_error_set(struct event_error *err, unsigned int status, const char *errcode,
                     const char *fmt, ...)
{
	va_list ap;
	err->status = status;
	err->errcode = errcode;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

/* auth_events: the IDs of the state entries the version's selection names. */
static json_t *auth_events_of(const struct room_version *rv, const json_t *ev,
                              const struct state_map *state)
{
	struct auth_key keys[AUTH_SELECTION_MAX];
	size_t n = 0;
	json_t *ids = json_array();

	if (!ids || auth_events_selection(rv, ev, keys, &n) != 0) {
		json_decref(ids);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *se = state_map_get(state, keys[i].type, keys[i].state_key);
		const char *id = se ? json_string_value(json_object_get(se, "event_id")) : NULL;
		if (!id)
			continue;
		/* v12: the create event is implied by the room ID, never listed. */
		if (rv->room_id_from_create && strcmp(keys[i].type, "m.room.create") == 0)
			continue;
		json_array_append_new(ids, json_string(id));
	}
	return ids;
}

json_t *event_build(const struct event_build_args *a, struct event_error *err)
{
	const struct room_version *rv = a->rv;
	json_t *ev = json_object(), *content = json_deep_copy(a->spec->content);
	char why[256];
	size_t len = 0;
	char *text = NULL;

	if (!ev || !content)
		goto oom;
	if (a->spec->redacts) {
		/* v11+ carry the target in content, v10 at the top level. */
		if (rv->redacts_in_content)
			json_object_set_new(content, "redacts", json_string(a->spec->redacts));
		else
			json_object_set_new(ev, "redacts", json_string(a->spec->redacts));
	}
	json_object_set_new(ev, "type", json_string(a->spec->type));
	json_object_set_new(ev, "sender", json_string(a->sender));
	json_object_set_new(ev, "content", content);
	content = NULL;
	if (a->room_id)
		json_object_set_new(ev, "room_id", json_string(a->room_id));
	if (a->spec->state_key)
		json_object_set_new(ev, "state_key", json_string(a->spec->state_key));
	json_object_set_new(ev, "origin_server_ts", json_integer(a->now_ms));
	json_object_set_new(ev, "depth", json_integer(a->prev_depth + 1));
	json_object_set_new(ev, "prev_events",
	                    a->prev_event_id ? json_pack("[s]", a->prev_event_id) : json_array());
	if (a->state) {
		json_t *auth = auth_events_of(rv, ev, a->state);
		if (!auth)
			goto oom;
		json_object_set_new(ev, "auth_events", auth);
	} else {
		json_object_set_new(ev, "auth_events", json_array());
	}
	if (cjson_check(ev) != 0) {
		event_error_set(err, 400, "M_BAD_JSON",
		                "Event content must be canonical JSON: integers only, no floats");
		goto fail;
	}
	if (event_content_hash_set(ev) != 0 ||
	    json_sign(ev, a->cfg->server_name, a->key) != 0)
		goto oom;
	text = cjson_encode(ev, &len);
	if (!text)
		goto oom;
	free(text);
	if (len > STORE_EVENT_MAX_BYTES) {
		event_error_set(err, 413, "M_TOO_LARGE", "Event is larger than 65536 bytes");
		goto fail;
	}
	/* The create event authorizes itself against an empty state. */
	if (auth_check_event(rv, ev, a->state ? a->state : a->empty_state, why, sizeof(why)) != 0) {
		event_error_set(err, 403, "M_FORBIDDEN", "%s", why);
		goto fail;
	}
	return ev;
oom:
	event_error_set(err, 500, "M_UNKNOWN", "Could not build the event");
fail:
	json_decref(content);
	json_decref(ev);
	return NULL;
}

int event_finish(const struct room_version *rv, json_t *ev, struct event_built *out,
                 struct event_error *err)
{
	memset(out, 0, sizeof(*out));
	out->event_id = event_compute_id(rv, ev);
	out->json = cjson_encode(ev, &out->json_len);
	if (!out->event_id || !out->json) {
		event_built_clear(out);
		event_error_set(err, 500, "M_UNKNOWN", "Could not encode the event");
		return -1;
	}
	return 0;
}

void event_built_clear(struct event_built *b)
{
	free(b->event_id);
	free(b->json);
	memset(b, 0, sizeof(*b));
}
