/* sync_unread.c: a joined room's unread_notifications in /sync
 * (client-server-api "Receiving notifications": notification_count and
 * highlight_count since the user's read receipt).
 *
 * Counted when the response is built: the user's push rules are run over
 * the visible events after their latest read receipt (m.read or
 * m.read.private, unthreaded or "main") or their own latest event,
 * whichever is later. At most UNREAD_SCAN_MAX events are looked at, so the
 * counts saturate there (clients show "99+" long before). */
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/client/pushrules_state.h"
#include "api/client/sync_internal.h"
#include "events/events.h"
#include "push/push_rules.h"
#include "security/served.h"
#include "store/store.h"

#define UNREAD_SCAN_MAX 100

/* Stream position of the user's newest read receipt in the room (0: none). */
static int64_t read_receipt_pos(struct sync_ctx *c, const char *room_id)
{
	struct store_receipt_list l = { 0 };
	int64_t pos = 0;

	if (store_room_receipts(c->app->store, room_id, c->p->user_id, 0, 0, &l) != STORE_OK)
		return 0;
	for (size_t i = 0; i < l.n; i++) {
		const struct store_receipt *r = &l.items[i];
		struct store_event se = { 0 };
		if (strcmp(r->user_id, c->p->user_id) != 0 ||
		    (r->thread_id && strcmp(r->thread_id, "main") != 0))
			continue;
		if (store_event_get(c->app->store, r->event_id, &se) == STORE_OK && se.stream > pos)
			pos = se.stream;
		store_event_clear(&se);
	}
	store_receipt_list_clear(&l);
	return pos;
}

static json_t *ruleset_of(struct sync_ctx *c)
{
	if (!c->push_ruleset)
		c->push_ruleset = pushrules_merged(c->app, c->p->user_id);
	return c->push_ruleset;
}

json_t *sync_unread_counts(struct sync_ctx *c, const char *room_id)
{
	struct store_event_list l = { 0 };
	struct served_viewer v = { c->p->user_id, c->p->device_id, c->p->ip, c->p->user_agent };
	struct events_ctx *ev = c->app->events;
	json_t *ruleset = ruleset_of(c), *pl, *me;
	struct store_membership_list members = { 0 };
	struct push_ctx pc = { 0 };
	int64_t notify = 0, highlight = 0, from = read_receipt_pos(c, room_id);

	if (!ruleset || store_room_events(c->app->store, room_id, from, c->now_pos,
	                                  UNREAD_SCAN_MAX, true, &l) != STORE_OK ||
	    served_events_filter(c->app->store, &v, SERVED_SYNC, room_id, &l) != 0)
		goto out;
	pl = events_state_content(ev, room_id, "m.room.power_levels", "");
	me = events_state_content(ev, room_id, "m.room.member", c->p->user_id);
	if (store_room_members(c->app->store, room_id, "join", &members) == STORE_OK)
		pc.member_count = (int64_t)members.n;
	pc.user_id = c->p->user_id;
	pc.display_name = json_string_value(json_object_get(me, "displayname"));
	pc.power_levels = pl;
	/* The list is newest first: stop at the user's own latest event. */
	for (size_t i = 0; i < l.n; i++) {
		json_t *event, *actions = NULL;
		if (strcmp(l.items[i].sender, c->p->user_id) == 0)
			break;
		event = event_client_format(&l.items[i], c->p->user_id, c->p->device_id, c->now_ms);
		pc.sender_power_level = events_power_level(ev, room_id, l.items[i].sender);
		if (event && push_evaluate(ruleset, event, &pc, &actions) == 1) {
			notify += push_actions_notify(actions);
			highlight += push_actions_highlight(actions);
		}
		json_decref(actions);
		json_decref(event);
	}
	json_decref(pl);
	json_decref(me);
out:
	store_membership_list_clear(&members);
	store_event_list_clear(&l);
	return json_pack("{s:I,s:I}", "notification_count", (json_int_t)notify,
	                 "highlight_count", (json_int_t)highlight);
}
