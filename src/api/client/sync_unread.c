/* sync_unread.c: a joined room's unread_notifications in /sync
 * (client-server-api "Receiving notifications": notification_count and
 * highlight_count since the user's read receipt).
 *
 * The user's push rules are run over the visible events after their
 * latest read receipt (m.read or m.read.private, unthreaded or "main") or
 * their own latest event, whichever is later. At most UNREAD_SCAN_MAX
 * events are looked at, so counts saturate there (clients show "99+" long
 * before).
 *
 * Counts are kept per (user, room) in the unread cache with the position
 * they were computed up to, so a sync only evaluates the events that
 * arrived since: when one message wakes thousands of parked /syncs, each
 * evaluates one event, not the room's backlog. A moved read receipt or an
 * own message resets the entry. The cache is bounded (UNREAD_CACHE_MAX
 * entries; when full it is emptied and refills on demand). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "api/app.h"
#include "api/client/pushrules_state.h"
#include "api/client/sync_internal.h"
#include "events/events.h"
#include "push/push_rules.h"
#include "security/served.h"
#include "store/store.h"
#include "util/str.h"

#define UNREAD_SCAN_MAX 100
#define UNREAD_CACHE_MAX 200000

struct unread_entry {
	char *key;               /* user_id "\n" room_id */
	int64_t read_pos;        /* the read marker the counts start after */
	int64_t upto;            /* events evaluated up to this position */
	int64_t notify, highlight;
	int64_t scanned;         /* events evaluated, for the saturation bound */
	int64_t receipt;         /* the user's read receipt position... */
	int64_t receipts_stream; /* ...as of this receipts-stream position */
	UT_hash_handle hh;
};

struct unread_cache {
	pthread_mutex_t lock;
	struct unread_entry *entries;
};

struct unread_cache *unread_cache_new(void)
{
	struct unread_cache *u = calloc(1, sizeof(*u));
	if (u)
		pthread_mutex_init(&u->lock, NULL);
	return u;
}

static void unread_clear_locked(struct unread_cache *u)
{
	struct unread_entry *e, *tmp;
	HASH_ITER(hh, u->entries, e, tmp) {
		HASH_DEL(u->entries, e);
		free(e->key);
		free(e);
	}
}

void unread_cache_free(struct unread_cache *u)
{
	if (!u)
		return;
	unread_clear_locked(u);
	pthread_mutex_destroy(&u->lock);
	free(u);
}

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

/* Run the rules over the room's visible events in (from, to], oldest
 * first; an own event resets the counts (the user has read up to it). */
static int unread_scan(struct sync_ctx *c, const char *room_id, int64_t from, int64_t to,
                       struct unread_entry *acc)
{
	struct store_event_list l = { 0 };
	struct served_viewer v = { c->p->user_id, c->p->device_id, c->p->ip, c->p->user_agent };
	struct events_ctx *ev = c->app->events;
	json_t *ruleset = ruleset_of(c), *pl = NULL, *me = NULL;
	struct push_ctx pc = { 0 };
	int ret = -1;

	if (!ruleset || store_room_events(c->app->store, room_id, from, to, UNREAD_SCAN_MAX, true,
	                                  &l) != STORE_OK ||
	    served_events_filter(c->app->store, &v, SERVED_UNREAD, room_id, &l) != 0)
		goto out;
	acc->upto = to;
	if (l.n == 0) {
		ret = 0;
		goto out;
	}
	pl = events_state_content(ev, room_id, "m.room.power_levels", "");
	me = events_state_content(ev, room_id, "m.room.member", c->p->user_id);
	{
		/* a count, not the member list: this runs for every woken sync */
		int64_t joined = 0;
		if (store_room_joined_count(c->app->store, room_id, &joined) == STORE_OK)
			pc.member_count = joined;
	}
	pc.user_id = c->p->user_id;
	pc.display_name = json_string_value(json_object_get(me, "displayname"));
	pc.power_levels = pl;
	for (size_t k = l.n; k-- > 0;) {   /* the list is newest first */
		const struct store_event *e = &l.items[k];
		json_t *event, *actions = NULL;
		if (strcmp(e->sender, c->p->user_id) == 0) {
			acc->notify = acc->highlight = acc->scanned = 0;
			acc->read_pos = e->stream;
			continue;
		}
		if (acc->scanned >= UNREAD_SCAN_MAX)
			continue;
		acc->scanned++;
		event = event_client_format(e, c->p->user_id, c->p->device_id, c->now_ms);
		pc.sender_power_level = events_power_level(ev, room_id, e->sender);
		if (event && push_evaluate(ruleset, event, &pc, &actions) == 1) {
			acc->notify += push_actions_notify(actions);
			acc->highlight += push_actions_highlight(actions);
		}
		json_decref(actions);
		json_decref(event);
	}
	ret = 0;
out:
	json_decref(pl);
	json_decref(me);
	store_event_list_clear(&l);
	return ret;
}

json_t *sync_unread_counts(struct sync_ctx *c, const char *room_id)
{
	struct unread_cache *u = c->app->unread;
	struct unread_entry acc = { 0 }, *e;
	int64_t read_pos = -1;
	char *key = str_printf("%s\n%s", c->p->user_id, room_id);
	bool cached = false;

	if (!key)
		goto out;
	/* The receipt is re-read only when the receipts stream moved: reading
	 * it walks the room's receipts, which thousands of woken syncs of one
	 * busy room must not all do for every message. */
	pthread_mutex_lock(&u->lock);
	HASH_FIND_STR(u->entries, key, e);
	if (e && e->receipts_stream == c->receipts_pos)
		read_pos = e->receipt;
	pthread_mutex_unlock(&u->lock);
	if (read_pos < 0)
		read_pos = read_receipt_pos(c, room_id);
	acc.receipt = read_pos;
	acc.receipts_stream = c->receipts_pos;
	pthread_mutex_lock(&u->lock);
	HASH_FIND_STR(u->entries, key, e);
	/* Reuse the counts unless the receipt moved past where they start. */
	if (e && read_pos <= e->read_pos && e->upto <= c->now_pos) {
		int64_t receipt = acc.receipt, stream = acc.receipts_stream;
		acc = *e;
		acc.receipt = receipt;
		acc.receipts_stream = stream;
		cached = true;
	}
	pthread_mutex_unlock(&u->lock);
	if (!cached)
		acc.read_pos = acc.upto = read_pos;
	if (acc.upto < c->now_pos && unread_scan(c, room_id, acc.upto, c->now_pos, &acc) != 0)
		goto out;
	pthread_mutex_lock(&u->lock);
	HASH_FIND_STR(u->entries, key, e);
	if (!e && HASH_COUNT(u->entries) >= UNREAD_CACHE_MAX)
		unread_clear_locked(u);
	if (!e && (e = calloc(1, sizeof(*e)))) {
		e->key = key;
		key = NULL;
		HASH_ADD_KEYPTR(hh, u->entries, e->key, strlen(e->key), e);
	}
	/* Another sync of the same user may have gone further: keep the newest. */
	if (e && acc.upto >= e->upto) {
		e->read_pos = acc.read_pos;
		e->upto = acc.upto;
		e->notify = acc.notify;
		e->highlight = acc.highlight;
		e->scanned = acc.scanned;
		e->receipt = acc.receipt;
		e->receipts_stream = acc.receipts_stream;
	}
	pthread_mutex_unlock(&u->lock);
out:
	free(key);
	return json_pack("{s:I,s:I}", "notification_count", (json_int_t)acc.notify,
	                 "highlight_count", (json_int_t)acc.highlight);
}
