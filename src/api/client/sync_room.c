/* sync_room.c: one room's section of a /sync response. */
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/client/sync_internal.h"
#include "events/events.h"
#include "events/relations.h"
#include "security/served.h"
#include "store/store.h"
#include "sync/filter.h"
#include "util/str.h"

/* Reverse a list in place (the store reads backwards, sync shows forwards). */
static void list_reverse(struct store_event_list *l)
{
	for (size_t i = 0, j = l->n ? l->n - 1 : 0; i < j; i++, j--) {
		struct store_event t = l->items[i];
		l->items[i] = l->items[j];
		l->items[j] = t;
	}
}

/* Client-format events passing the filter part, as a JSON array; the ones
 * included are recorded in the access ledger. */
json_t *sync_events_json(const struct sync_ctx *c, const char *room_id,
                         const struct store_event_list *l, enum filter_part_kind part)
{
	const struct event_filter_part *fp = filter_part(c->p->filter, part);
	json_t *arr = json_array();
	bool *sent = calloc(l->n ? l->n : 1, sizeof(*sent));

	for (size_t i = 0; i < l->n; i++) {
		json_t *ev = event_client_format(&l->items[i], c->p->user_id, c->p->device_id,
		                                 c->now_ms);
		if (!ev)
			continue;
		if (fp && !filter_event_allowed(fp, ev)) {
			json_decref(ev);
			continue;
		}
		if (filter_has_event_fields(c->p->filter)) {
			json_t *cut = filter_apply_event_fields(ev, c->p->filter);
			json_decref(ev);
			ev = cut;
			if (!ev)
				continue;
		}
		if (json_array_append_new(arr, ev) == 0 && sent)
			sent[i] = true;
	}
	served_events_record_sent(&(struct served_viewer){ c->p->user_id, c->p->device_id,
	                                                   c->p->ip, c->p->user_agent },
	                          SERVED_SYNC, room_id, l, sent);
	free(sent);
	return arr;
}

static bool sender_in(const struct store_event_list *tl, const char *user)
{
	for (size_t i = 0; i < tl->n; i++)
		if (strcmp(tl->items[i].sender, user) == 0)
			return true;
	return false;
}

/* Lazy-loading members (client-server-api "Lazy-loading room members"):
 * keep member events only for the timeline's senders and the viewer. */
static void state_lazy_members(const struct sync_ctx *c, struct store_event_list *state,
                               const struct store_event_list *tl)
{
	size_t kept = 0;
	for (size_t i = 0; i < state->n; i++) {
		struct store_event *e = &state->items[i];
		bool keep = strcmp(e->type, "m.room.member") != 0 ||
		            strcmp(e->state_key, c->p->user_id) == 0 || sender_in(tl, e->state_key);
		if (keep)
			state->items[kept++] = *e;
		else
			store_event_clear(e);
	}
	state->n = kept;
}

/* Keep in `now` only the entries whose event differs from `before`. */
static void state_diff(struct store_event_list *now, const struct store_event_list *before)
{
	size_t kept = 0;
	for (size_t i = 0; i < now->n; i++) {
		bool same = false;
		for (size_t j = 0; j < before->n && !same; j++)
			same = strcmp(now->items[i].event_id, before->items[j].event_id) == 0;
		if (same)
			store_event_clear(&now->items[i]);
		else
			now->items[kept++] = now->items[i];
	}
	now->n = kept;
}

static json_t *room_summary(const struct sync_ctx *c, const char *room_id)
{
	struct store_membership_list members = { 0 };
	json_t *heroes = json_array();
	size_t joined = 0, invited = 0;

	if (store_room_members(c->app->store, room_id, NULL, &members) == STORE_OK) {
		for (size_t i = 0; i < members.n; i++) {
			const struct store_membership *m = &members.items[i];
			bool j = strcmp(m->membership, "join") == 0;
			bool inv = strcmp(m->membership, "invite") == 0;
			joined += j;
			invited += inv;
			/* heroes: up to 5 other joined or invited members */
			if ((j || inv) && strcmp(m->user_id, c->p->user_id) != 0 &&
			    json_array_size(heroes) < 5)
				json_array_append_new(heroes, json_string(m->user_id));
		}
	}
	store_membership_list_clear(&members);
	return json_pack("{s:o,s:I,s:I}", "m.heroes", heroes, "m.joined_member_count",
	                 (json_int_t)joined, "m.invited_member_count", (json_int_t)invited);
}

/* The timeline of a room: up to limit visible events in (from, to]. */
static int timeline_load(const struct sync_ctx *c, const char *room_id, int64_t from,
                         int64_t to, size_t limit, struct store_event_list *tl, bool *limited)
{
	struct served_viewer v = { c->p->user_id, c->p->device_id, c->p->ip, c->p->user_agent };

	*limited = false;
	if (store_room_events(c->app->store, room_id, from, to, limit + 1, true, tl) != STORE_OK)
		return -1;
	list_reverse(tl);
	if (tl->n > limit) {
		*limited = true;
		store_event_clear(&tl->items[0]);
		memmove(tl->items, tl->items + 1, (tl->n - 1) * sizeof(*tl->items));
		tl->n--;
	}
	/* visibility only: what the client filter then keeps is recorded by
	 * sync_events_json, as what was sent */
	return served_events_filter(c->app->store, &v, SERVED_UNREAD, room_id, tl);
}

/* The room's state section into *state. Classic sync: the state before
 * the timeline's first event (all of it when `full`, else only what changed
 * in a gap the timeline skipped). use_state_after (sync.yaml, v1.16): the
 * state at the end of the timeline, all of it or what changed since the
 * token. */
static int room_state_section(struct sync_ctx *c, const char *room_id, bool full, bool limited,
                              const struct store_event_list *tl, struct store_event_list *state)
{
	struct store_event_list before = { 0 };
	int64_t at;

	if (c->p->use_state_after)
		at = c->now_pos + 1;
	else if (full || limited)
		at = tl->n ? tl->items[0].stream : c->now_pos + 1;
	else
		return 0;   /* every change is in the timeline */
	if (store_room_state(c->app->store, room_id, at, state) != STORE_OK)
		return -1;
	if (!full) {
		if (store_room_state(c->app->store, room_id, (int64_t)c->p->since.events + 1,
		                     &before) != STORE_OK)
			return -1;
		state_diff(state, &before);
		store_event_list_clear(&before);
	}
	if (filter_lazy_load_members(c->p->filter))
		state_lazy_members(c, state, tl);
	return 0;
}

/* relations: bundled aggregations on a room's timeline, "when the relevant
 * section has a limited value of true" (Aggregations of child events); a
 * store failure only leaves them out. */
static void timeline_bundle(const struct sync_ctx *c, const char *room_id, json_t *room)
{
	struct served_viewer v = { c->p->user_id, c->p->device_id, c->p->ip, c->p->user_agent };

	events_bundle_aggregations(c->app->store, &v, SERVED_SYNC, room_id,
	                           json_object_get(json_object_get(room, "timeline"), "events"));
}

int sync_room_joined(struct sync_ctx *c, const struct store_membership *m, json_t *account_data)
{
	const char *room_id = m->room_id;
	/* A room joined since the token is new to the client: from its start.
	 * full_state resends the state but keeps the timeline incremental. */
	bool fresh = c->p->initial || m->stream > (int64_t)c->p->since.events;
	bool full = fresh || c->p->full_state;
	int64_t from = fresh ? 0 : (int64_t)c->p->since.events;
	int limit = filter_timeline_limit(c->p->filter);
	struct store_event_list tl = { 0 }, state = { 0 };
	bool limited;
	int64_t start;
	json_t *room, *ephemeral = NULL;
	char prev_batch[32];

	if (timeline_load(c, room_id, from, c->now_pos, (size_t)(limit < 0 ? 0 : limit), &tl,
	                  &limited) != 0 ||
	    !(ephemeral = sync_ephemeral_room(c, room_id, full)))
		goto fail;
	if (!full && tl.n == 0 && !account_data && json_array_size(ephemeral) == 0) {
		store_event_list_clear(&tl);
		json_decref(ephemeral);
		return 0;   /* nothing new in this room */
	}
	start = tl.n ? tl.items[0].stream : c->now_pos + 1;
	if (room_state_section(c, room_id, full, limited, &tl, &state) != 0)
		goto fail;
	snprintf(prev_batch, sizeof(prev_batch), "p%lld", (long long)(start > 0 ? start : 0));
	room = json_pack("{s:{s:o,s:b,s:s},s:{s:o},s:{s:o},s:{s:o}}",
	                 "timeline", "events",
	                 sync_events_json(c, room_id, &tl, FILTER_PART_TIMELINE), "limited", limited,
	                 "prev_batch", prev_batch,
	                 c->p->use_state_after ? "state_after" : "state", "events",
	                 sync_events_json(c, room_id, &state, FILTER_PART_STATE),
	                 "ephemeral", "events", ephemeral,
	                 "account_data", "events", account_data ? json_incref(account_data)
	                                                          : json_array());
	ephemeral = NULL;   /* taken by json_pack */
	if (limited)
		timeline_bundle(c, room_id, room);
	if (full)
		json_object_set_new(room, "summary", room_summary(c, room_id));
	json_object_set_new(room, "unread_notifications", sync_unread_counts(c, room_id));
	json_object_set_new(c->join, room_id, room);
	c->has_content = true;
	store_event_list_clear(&tl);
	store_event_list_clear(&state);
	return 0;
fail:
	json_decref(ephemeral);
	store_event_list_clear(&tl);
	store_event_list_clear(&state);
	return -1;
}

/* The stripped state an invitee or knocker sees (client-server-api
 * "Stripped state"), ending with their own membership event. */
static json_t *stripped_state(struct sync_ctx *c, const struct store_membership *m)
{
	static const char *types[] = { "m.room.create", "m.room.join_rules", "m.room.name",
	                               "m.room.avatar", "m.room.canonical_alias",
	                               "m.room.encryption", "m.room.topic" };
	json_t *events = json_array();
	struct store_event se;

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		memset(&se, 0, sizeof(se));
		if (store_room_state_get(c->app->store, m->room_id, 0, types[i], "", &se) == STORE_OK) {
			json_t *ev = json_loads(se.json, 0, NULL);
			json_array_append_new(events, json_pack("{s:s,s:s,s:O,s:s}", "type", se.type,
			    "state_key", "", "content", json_object_get(ev, "content"), "sender",
			    se.sender));
			json_decref(ev);
		}
		store_event_clear(&se);
	}
	/* ... and the user's own membership event, stripped like the rest. */
	memset(&se, 0, sizeof(se));
	if (store_event_get(c->app->store, m->event_id, &se) == STORE_OK) {
		json_t *ev = json_loads(se.json, 0, NULL);
		if (ev)
			json_array_append_new(events, json_pack("{s:s,s:s,s:O,s:s}", "type", se.type,
			    "state_key", se.state_key ? se.state_key : "", "content",
			    json_object_get(ev, "content"), "sender", se.sender));
		json_decref(ev);
	}
	store_event_clear(&se);
	return events;
}

int sync_room_invited(struct sync_ctx *c, const struct store_membership *m)
{
	json_object_set_new(c->invite, m->room_id,
	                    json_pack("{s:{s:o}}", "invite_state", "events", stripped_state(c, m)));
	c->has_content = true;
	return 0;
}

int sync_room_knocked(struct sync_ctx *c, const struct store_membership *m)
{
	json_object_set_new(c->knock, m->room_id,
	                    json_pack("{s:{s:o}}", "knock_state", "events", stripped_state(c, m)));
	c->has_content = true;
	return 0;
}

/* A room the user left or was banned from since the last sync: the
 * timeline up to (and including) the leave, nothing after. */
int sync_room_left(struct sync_ctx *c, const struct store_membership *m)
{
	struct store_event_list tl = { 0 };
	int limit = filter_timeline_limit(c->p->filter);
	bool limited;
	char prev_batch[32];
	int64_t from = c->p->initial ? 0 : (int64_t)c->p->since.events;
	json_t *room;

	if (timeline_load(c, m->room_id, from, m->stream, (size_t)(limit < 0 ? 0 : limit), &tl,
	                  &limited) != 0) {
		store_event_list_clear(&tl);
		return -1;
	}
	snprintf(prev_batch, sizeof(prev_batch), "p%lld",
	         (long long)(tl.n ? tl.items[0].stream : m->stream));
	room = json_pack("{s:{s:o,s:b,s:s},s:{s:[]},s:{s:[]}}", "timeline", "events",
	                 sync_events_json(c, m->room_id, &tl, FILTER_PART_TIMELINE), "limited", limited,
	                 "prev_batch", prev_batch, "state", "events", "account_data", "events");
	if (limited && room)
		timeline_bundle(c, m->room_id, room);
	json_object_set_new(c->leave, m->room_id, room);
	c->has_content = true;
	store_event_list_clear(&tl);
	return 0;
}
