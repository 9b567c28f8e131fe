/* sync_ephemeral.c: what /sync sends outside the room timelines and
 * account data: a joined room's ephemeral events (m.typing, m.receipt)
 * and the top-level presence events.
 *
 * Positions: sync_build reads the typing serial and the receipts and
 * presence stream maxima into the context before anything is loaded, and
 * puts them in next_batch; here a room's typing list is sent when it
 * changed after the client's position (or the room is new to the client),
 * and receipts and presence in (since, position]. What changes after the
 * positions were read is sent (again) by the next sync, never lost.
 */
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/client/handlers.h"
#include "api/client/sync_internal.h"
#include "events/events.h"
#include "store/store.h"
#include "sync/filter.h"
#include "sync/typing.h"
#include "util/timeutil.h"

int sync_ephemeral_positions(struct sync_ctx *c, struct sync_token *next)
{
	int64_t receipts = store_receipts_stream_max(c->app->store);
	int64_t presence = store_presence_stream_max(c->app->store);

	if (receipts < 0 || presence < 0)
		return -1;
	c->receipts_pos = receipts;
	c->presence_pos = presence;
	/* without a typing registry the client's position is kept as is */
	c->typing_pos = c->app->typing ? typing_serial(c->app->typing, time_mono_ms())
	                               : c->p->since.typing;
	next->receipts = (uint64_t)receipts;
	next->presence = (uint64_t)presence;
	next->typing = c->typing_pos;
	return 0;
}

/* A typist who left the room since they started is not shown: the
 * registry forgets them only at their timeout. */
static bool still_joined(const struct sync_ctx *c, const char *room_id, const char *user)
{
	char *m = events_membership(c->app->events, room_id, user);
	bool joined = m != NULL && strcmp(m, "join") == 0;

	free(m);
	return joined;
}

/* The room's m.typing event, or NULL when the client knows it already.
 * full: the client sees the room whole (initial sync, newly joined). */
static int ephemeral_typing(const struct sync_ctx *c, const char *room_id, bool full,
                            json_t **out)
{
	char **users = NULL;
	size_t n = 0;
	uint64_t changed = 0, since = c->p->since.typing;
	json_t *ids;

	*out = NULL;
	if (c->app->typing == NULL)
		return 0;
	if (typing_room_get(c->app->typing, room_id, time_mono_ms(), &users, &n, &changed) != 0)
		return -1;
	/* a position ahead of ours is from before a restart: resend */
	if (full || changed > since || since > c->typing_pos) {
		ids = json_array();
		for (size_t i = 0; ids != NULL && i < n; i++)
			if (still_joined(c, room_id, users[i]))
				json_array_append_new(ids, json_string(users[i]));
		/* "user_ids ... REPLACE its knowledge of every user who is
		 * currently typing" (Typing Notifications): an empty list too */
		*out = ids ? json_pack("{s:s,s:{s:o}}", "type", "m.typing", "content", "user_ids",
		                       ids) : NULL;
		if (*out == NULL) {
			typing_users_free(users, n);
			return -1;
		}
	}
	typing_users_free(users, n);
	return 0;
}

/* content[event_id][type][user] = {ts, thread_id?}: "receipts SHOULD be
 * batched into one event per room" (Receipts, Server behaviour). */
static int receipt_add(json_t *content, const struct store_receipt *r)
{
	json_t *by_event = json_object_get(content, r->event_id), *by_type, *rec;

	if (by_event == NULL) {
		by_event = json_object();
		if (json_object_set_new(content, r->event_id, by_event) != 0)
			return -1;
	}
	by_type = json_object_get(by_event, r->receipt_type);
	if (by_type == NULL) {
		by_type = json_object();
		if (json_object_set_new(by_event, r->receipt_type, by_type) != 0)
			return -1;
	}
	rec = json_pack("{s:I}", "ts", (json_int_t)r->ts);
	if (rec == NULL)
		return -1;
	if (r->thread_id != NULL)
		json_object_set_new(rec, "thread_id", json_string(r->thread_id));
	/* one receipt per (user, type, thread): with threads, an event can
	 * hold several of one user; the latest (ascending order) is kept */
	return json_object_set_new(by_type, r->user_id, rec);
}

/* The room's m.receipt event with receipts changed since the client's
 * position, or NULL when there are none. */
static int ephemeral_receipts(const struct sync_ctx *c, const char *room_id, bool full,
                              json_t **out)
{
	struct store_receipt_list l = { 0 };
	int64_t since = full ? 0 : (int64_t)c->p->since.receipts;
	json_t *content;
	int ret = -1;

	*out = NULL;
	if (since > c->receipts_pos)
		since = 0;   /* a position we never issued: send the room whole */
	if (store_room_receipts(c->app->store, room_id, c->p->user_id, since, c->receipts_pos,
	                        &l) != STORE_OK)
		return -1;
	if (l.n == 0) {
		ret = 0;
		goto out;
	}
	content = json_object();
	if (content == NULL)
		goto out;
	for (size_t i = 0; i < l.n; i++) {
		/* the store never returns another user's private receipt;
		 * checked again because this is where it would leak */
		if (strcmp(l.items[i].receipt_type, "m.read.private") == 0 &&
		    strcmp(l.items[i].user_id, c->p->user_id) != 0)
			continue;
		if (receipt_add(content, &l.items[i]) != 0) {
			json_decref(content);
			goto out;
		}
	}
	if (json_object_size(content) == 0) {
		json_decref(content);   /* everything was skipped: no event */
		ret = 0;
		goto out;
	}
	*out = json_pack("{s:s,s:o}", "type", "m.receipt", "content", content);
	ret = *out ? 0 : -1;
out:
	store_receipt_list_clear(&l);
	return ret;
}

/* Append ev to arr if the room's ephemeral filter lets it through. */
static void ephemeral_append(const struct sync_ctx *c, json_t *arr, json_t *ev,
                             const char *room_id)
{
	const struct event_filter_part *fp = filter_part(c->p->filter, FILTER_PART_EPHEMERAL);

	if (ev == NULL)
		return;
	if (fp == NULL || filter_event_allowed_in_room(fp, ev, room_id))
		json_array_append(arr, ev);
	json_decref(ev);
}

json_t *sync_ephemeral_room(const struct sync_ctx *c, const char *room_id, bool full)
{
	const struct event_filter_part *fp = filter_part(c->p->filter, FILTER_PART_EPHEMERAL);
	json_t *arr = json_array(), *typing = NULL, *receipts = NULL;

	if (arr == NULL || (fp != NULL && filter_part_blocks_all(fp)))
		return arr;
	if (ephemeral_typing(c, room_id, full, &typing) != 0 ||
	    ephemeral_receipts(c, room_id, full, &receipts) != 0) {
		json_decref(typing);
		json_decref(arr);
		return NULL;
	}
	ephemeral_append(c, arr, typing, room_id);
	ephemeral_append(c, arr, receipts, room_id);
	return arr;
}

json_t *sync_presence_events(const struct sync_ctx *c)
{
	const struct event_filter_part *fp = filter_part(c->p->filter, FILTER_PART_PRESENCE);
	struct store_presence_list l = { 0 };
	int64_t since = c->p->initial ? 0 : (int64_t)c->p->since.presence;
	int64_t to = c->presence_pos;
	json_t *arr = json_array();

	if (arr == NULL || (fp != NULL && filter_part_blocks_all(fp)))
		return arr;
	if (since > to)
		since = 0;   /* a position we never issued */
	/* Nothing changed anywhere since the token: skip the query (the most
	 * expensive one of an incremental sync woken by a message). */
	if (since == to && !c->p->initial)
		return arr;
	if (store_presence_visible(c->app->store, c->p->user_id, since, to, &l) != STORE_OK) {
		json_decref(arr);
		return NULL;
	}
	for (size_t i = 0; i < l.n; i++) {
		json_t *content = presence_content(&l.items[i], c->now_ms);
		json_t *ev = content ? json_pack("{s:s,s:s,s:o}", "type", "m.presence", "sender",
		                                 l.items[i].user_id, "content", content)
		                     : NULL;
		if (ev != NULL && (fp == NULL || filter_event_allowed(fp, ev)))
			json_array_append(arr, ev);
		json_decref(ev);
	}
	store_presence_list_clear(&l);
	return arr;
}
