#include "security/served.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "json/canonical.h"
#include "rooms/redact.h"
#include "rooms/room_version.h"
#include "security/erasure.h"
#include "store/store.h"
#include "util/log.h"

/* The room's history_visibility before position `stream` ("shared" when
 * the room never set one, as the spec says). Writes into out. */
static void visibility_at(struct store *st, const char *room_id, int64_t stream,
                          char out[32])
{
	struct store_event se = { 0 };
	const char *v = NULL;
	json_t *ev = NULL;

	strcpy(out, "shared");
	if (store_room_state_get(st, room_id, stream, "m.room.history_visibility", "", &se) !=
	    STORE_OK)
		return;
	ev = json_loads(se.json, 0, NULL);
	v = json_string_value(json_object_get(json_object_get(ev, "content"),
	                                      "history_visibility"));
	if (v && strlen(v) < 32)
		strcpy(out, v);
	json_decref(ev);
	store_event_clear(&se);
}

/* The viewer's membership just before `stream`, from their history. */
static const char *membership_before(const struct store_membership_list *h, int64_t stream)
{
	const char *m = "leave";
	for (size_t i = 0; i < h->n && h->items[i].stream < stream; i++)
		m = h->items[i].membership;
	return m;
}

static bool joined_after(const struct store_membership_list *h, int64_t stream)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->items[i].stream > stream && strcmp(h->items[i].membership, "join") == 0)
			return true;
	return false;
}

/* history_visibility.md "Server behaviour", in the spec's order. */
static bool rules_allow(const char *vis, const char *membership,
                        const struct store_membership_list *h, int64_t stream)
{
	if (strcmp(vis, "world_readable") == 0)
		return true;
	if (strcmp(membership, "join") == 0)
		return true;
	if (strcmp(vis, "shared") == 0 && joined_after(h, stream))
		return true;
	if (strcmp(membership, "invite") == 0 && strcmp(vis, "invited") == 0)
		return true;
	return false;
}

/* A member event about the viewer is judged with the membership it sets:
 * a user always sees their own join, invite, kick or ban. */
static const char *own_membership_of(const struct store_event *e, const char *user_id)
{
	json_t *ev;
	const char *m;
	static const char *const known[] = { "join", "invite", "leave", "ban", "knock" };

	if (!e->state_key || strcmp(e->type, "m.room.member") != 0 ||
	    strcmp(e->state_key, user_id) != 0)
		return NULL;
	ev = json_loads(e->json, 0, NULL);
	m = json_string_value(json_object_get(json_object_get(ev, "content"), "membership"));
	for (size_t i = 0; m && i < sizeof(known) / sizeof(known[0]); i++) {
		if (strcmp(m, known[i]) == 0) {
			json_decref(ev);
			return known[i];
		}
	}
	json_decref(ev);
	return NULL;
}

/* Erasure (security/erasure.h): an erased sender's event is served in its
 * redacted form to a viewer who was not joined when it was sent. The
 * senders' erasure is looked up once per sender per call. */
static void erasure_apply(struct store *st, const char *room_id,
                          const struct store_membership_list *h,
                          struct store_event_list *events)
{
	json_t *seen = json_object();
	const struct room_version *rv = NULL;
	struct store_room room = { 0 };

	for (size_t i = 0; seen && i < events->n; i++) {
		struct store_event *e = &events->items[i];
		json_t *flag = json_object_get(seen, e->sender), *ev, *red;
		char *text;

		if (!flag) {
			flag = json_boolean(erasure_is_erased(st, e->sender));
			json_object_set_new(seen, e->sender, flag);
		}
		if (!json_is_true(flag) || strcmp(membership_before(h, e->stream), "join") == 0)
			continue;
		if (!rv) {
			if (store_room_get(st, room_id, &room) != STORE_OK ||
			    !(rv = room_version_get(room.room_version)))
				break;
		}
		ev = json_loads(e->json, 0, NULL);
		red = ev ? event_redact(rv, ev) : NULL;
		text = red ? cjson_encode(red, NULL) : NULL;
		if (text) {
			free(e->json);
			e->json = text;
		}
		json_decref(red);
		json_decref(ev);
	}
	store_room_clear(&room);
	json_decref(seen);
}

int served_events_filter(struct store *st, const struct served_viewer *viewer,
                         enum served_kind kind, const char *room_id,
                         struct store_event_list *events)
{
	struct store_membership_list h = { 0 };
	size_t kept = 0;
	char vis[32];
	int64_t vis_pos = -1;

	/* State and member lists are served whole: access to them was decided
	 * by the caller's read position (current state while joined, the
	 * state at the leave after leaving); visibility rules are about the
	 * timeline. */
	if (events->n == 0)
		return 0;
	if (kind == SERVED_STATE || kind == SERVED_MEMBERS) {
		served_events_record(viewer, kind, room_id, events);
		return 0;
	}
	if (store_membership_history(st, room_id, viewer->user_id, &h) != STORE_OK) {
		store_event_list_clear(events);
		return -1;
	}
	for (size_t i = 0; i < events->n; i++) {
		struct store_event *e = &events->items[i];
		const char *own = own_membership_of(e, viewer->user_id);
		const char *m = own ? own : membership_before(&h, e->stream);

		if (vis_pos != e->stream) {
			visibility_at(st, room_id, e->stream, vis);
			vis_pos = e->stream;
		}
		if (rules_allow(vis, m, &h, e->stream) ||
		    (own && strcmp(own, "join") != 0)) {
			if (kept != i)
				events->items[kept] = *e;
			kept++;
		} else {
			store_event_clear(e);
		}
	}
	events->n = kept;
	erasure_apply(st, room_id, &h, events);
	store_membership_list_clear(&h);
	/* the access ledger records what is kept, i.e. what leaves */
	if (kind != SERVED_UNREAD)
		served_events_record(viewer, kind, room_id, events);
	return 0;
}

bool served_event_visible(struct store *st, const char *user_id, const char *room_id,
                          int64_t stream, const char *event_type, const char *state_key,
                          const char *own_membership)
{
	struct store_membership_list h = { 0 };
	char vis[32];
	bool ok;

	(void)event_type;
	(void)state_key;
	if (store_membership_history(st, room_id, user_id, &h) != STORE_OK)
		return false;
	visibility_at(st, room_id, stream, vis);
	ok = (own_membership != NULL) ||
	     rules_allow(vis, membership_before(&h, stream), &h, stream);
	store_membership_list_clear(&h);
	return ok;
}

/* ---- media repository ---------------------------------------------------- */

static atomic_uint_least64_t served_media_count;
static atomic_uint_least64_t served_media_bytes;

void served_media(const struct served_viewer *viewer, enum served_media_kind kind,
                  const char *server_name, const char *media_id, uint64_t bytes)
{
	atomic_fetch_add(&served_media_count, 1);
	atomic_fetch_add(&served_media_bytes, bytes);
	/* the access ledger's row (served_ledger.c; a no-op when it is off) */
	served_media_record(viewer, kind == SERVED_MEDIA_THUMBNAIL, media_id, NULL, bytes);
	/* and one line per media response at debug level (who read what is
	 * sensitive; operators opt in to seeing it) */
	if (log_get_level() >= LOG_DEBUG)
		log_debug("served media: %s mxc://%s/%s %llu bytes to %s device %s from %s",
		          kind == SERVED_MEDIA_THUMBNAIL ? "thumbnail" : "download",
		          server_name ? server_name : "-", media_id ? media_id : "-",
		          (unsigned long long)bytes,
		          viewer && viewer->user_id ? viewer->user_id : "-",
		          viewer && viewer->device_id ? viewer->device_id : "-",
		          viewer && viewer->ip ? viewer->ip : "-");
}

void served_media_counters(uint64_t *served, uint64_t *bytes)
{
	*served = atomic_load(&served_media_count);
	*bytes = atomic_load(&served_media_bytes);
}
