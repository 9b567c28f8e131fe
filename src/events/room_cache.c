#include <stdlib.h>
#include <string.h>

#include "events/events_internal.h"
#include "rooms/room_version.h"
#include "rooms/state_map.h"
#include "store/store.h"
#include "util/log.h"

struct room_cache {
	pthread_mutex_t lock;    /* guards the table, not the entries */
	struct room_entry *rooms;
};

struct room_cache *room_cache_new(void)
{
	struct room_cache *c = calloc(1, sizeof(*c));
	if (c)
		pthread_mutex_init(&c->lock, NULL);
	return c;
}

static void entry_free(struct room_entry *e)
{
	if (!e)
		return;
	state_map_free(e->state);
	free(e->last_event_id);
	free(e->room_id);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

void room_cache_free(struct room_cache *c)
{
	struct room_entry *e, *tmp;
	if (!c)
		return;
	HASH_ITER(hh, c->rooms, e, tmp) {
		HASH_DEL(c->rooms, e);
		entry_free(e);
	}
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* Parse a stored event and tag it with its ID for the state map. */
static json_t *stored_event_parse(const struct store_event *se)
{
	json_t *ev = json_loads(se->json, JSON_REJECT_DUPLICATES, NULL);
	if (!ev || !json_is_object(ev)) {
		json_decref(ev);
		return NULL;
	}
	/* Tag with the ID for auth_events; the PDU itself is left as signed
	 * (a v12 create event has no room_id and must keep none). */
	json_object_set_new(ev, "event_id", json_string(se->event_id));
	return ev;
}

/* Build an entry from the store: version, current state, forward extremity. */
static struct room_entry *entry_load(struct events_ctx *ctx, const char *room_id,
                                     struct event_error *err)
{
	struct store_room room = { 0 };
	struct store_event_list list = { 0 };
	struct room_entry *e = NULL;
	enum store_result r = store_room_get(ctx->store, room_id, &room);

	if (r != STORE_OK) {
		if (r == STORE_NOT_FOUND)
			event_error_set(err, 404, "M_NOT_FOUND", "Unknown room %s", room_id);
		else
			event_error_set(err, 500, "M_UNKNOWN", "Could not load the room");
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		goto fail;
	pthread_mutex_init(&e->lock, NULL);
	if (!(e->room_id = strdup(room_id)) || !(e->state = state_map_new()))
		goto fail;
	e->rv = room_version_get(room.room_version);
	if (!e->rv || store_room_state(ctx->store, room_id, 0, &list) != STORE_OK)
		goto fail;
	for (size_t i = 0; i < list.n; i++) {
		json_t *ev = stored_event_parse(&list.items[i]);
		/* Validate what we load: a state entry that does not parse is a
		 * corrupt store, not something to authorize against. */
		if (!ev || state_map_set_event(e->state, ev) != 0) {
			json_decref(ev);
			log_error("room %s: unreadable state event %s", room_id, list.items[i].event_id);
			goto fail;
		}
		json_decref(ev);
	}
	store_event_list_clear(&list);
	if (store_room_events(ctx->store, room_id, 0, 0, 1, true, &list) != STORE_OK || list.n != 1)
		goto fail;
	{
		json_t *last = json_loads(list.items[0].json, 0, NULL);
		json_t *depth = json_object_get(last, "depth");
		e->depth = json_is_integer(depth) ? json_integer_value(depth) : 0;
		json_decref(last);
	}
	e->last_event_id = strdup(list.items[0].event_id);
	if (!e->last_event_id)
		goto fail;
	store_event_list_clear(&list);
	store_room_clear(&room);
	return e;
fail:
	store_event_list_clear(&list);
	store_room_clear(&room);
	entry_free(e);
	event_error_set(err, 500, "M_UNKNOWN", "Could not load the room");
	return NULL;
}

struct room_entry *room_cache_acquire(struct events_ctx *ctx, const char *room_id,
                                      struct event_error *err)
{
	struct room_cache *c = ctx->cache;
	struct room_entry *e, *loaded;

	if (room_id[0] != '!' || strlen(room_id) > 255 || strlen(room_id) < 2) {
		event_error_set(err, 400, "M_INVALID_PARAM", "Invalid room ID");
		return NULL;
	}
	pthread_mutex_lock(&c->lock);
	HASH_FIND_STR(c->rooms, room_id, e);
	pthread_mutex_unlock(&c->lock);
	if (e) {
		pthread_mutex_lock(&e->lock);
		return e;
	}
	/* Load without holding the table lock; if another thread loaded the
	 * same room meanwhile, keep theirs. */
	loaded = entry_load(ctx, room_id, err);
	if (!loaded)
		return NULL;
	pthread_mutex_lock(&c->lock);
	HASH_FIND_STR(c->rooms, room_id, e);
	if (!e) {
		HASH_ADD_KEYPTR(hh, c->rooms, loaded->room_id, strlen(loaded->room_id), loaded);
		e = loaded;
		loaded = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	entry_free(loaded);
	pthread_mutex_lock(&e->lock);
	return e;
}

void room_cache_release(struct room_entry *e)
{
	pthread_mutex_unlock(&e->lock);
}

int room_cache_insert(struct room_cache *c, const char *room_id, const struct room_version *rv,
                      struct state_map *state, char *last_event_id, int64_t depth)
{
	struct room_entry *e = calloc(1, sizeof(*e)), *old;

	if (!e || !(e->room_id = strdup(room_id))) {
		free(e);
		state_map_free(state);
		free(last_event_id);
		return -1;
	}
	pthread_mutex_init(&e->lock, NULL);
	e->rv = rv;
	e->state = state;
	e->last_event_id = last_event_id;
	e->depth = depth;
	pthread_mutex_lock(&c->lock);
	HASH_FIND_STR(c->rooms, room_id, old);
	if (old) {
		/* Cannot happen for a fresh room ID; keep the existing entry. */
		pthread_mutex_unlock(&c->lock);
		entry_free(e);
		return -1;
	}
	HASH_ADD_KEYPTR(hh, c->rooms, e->room_id, strlen(e->room_id), e);
	pthread_mutex_unlock(&c->lock);
	return 0;
}
