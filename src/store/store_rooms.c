/*
 * store_rooms: the front of the storage layer for rooms, events, state and
 * memberships (the rest of the front is in store.c).
 *
 * As in store.c: every argument is checked against store.h before a back
 * end sees it, and everything a back end loads is checked before a caller
 * sees it, including that it answers the question asked (the right room,
 * within the bounds, in the promised order): a database is input too.
 *
 * Threads: no state of its own; every function may be called from any
 * thread. Memory: output structs are zeroed first and left empty on any
 * result other than STORE_OK.
 */
#include "store/store.h"
#include "store/store_backend.h"

#include <stdlib.h>
#include <string.h>

#include "util/log.h"

#define STORE_MEMBER_TYPE "m.room.member"

/* ---- identifiers ------------------------------------------------------ */

/* A sigil then 1..254 bytes: what keeps keys sane; the grammar is the ids
 * module's job. */
static bool store_sigil_id_ok(const char *id, char sigil)
{
	size_t n;

	if (id == NULL || id[0] != sigil)
		return false;
	n = strnlen(id, STORE_ID_MAX + 1);
	return n >= 2 && n <= STORE_ID_MAX;
}

static bool store_room_id_ok(const char *room_id)
{
	return store_sigil_id_ok(room_id, '!');
}

static bool store_event_id_ok(const char *event_id)
{
	return store_sigil_id_ok(event_id, '$');
}

/* Event and account-data types: not empty, at most 255 bytes. */
static bool store_type_ok(const char *type)
{
	return type != NULL && type[0] != '\0' && store_text_ok(type, STORE_ID_MAX, false);
}

static bool store_membership_ok(const char *membership)
{
	static const char *const values[] = { "join", "invite", "leave", "ban", "knock" };

	if (membership == NULL)
		return false;
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		if (strcmp(membership, values[i]) == 0)
			return true;
	}
	return false;
}

static bool store_is_member_event(const char *type, const char *state_key)
{
	return state_key != NULL && strcmp(type, STORE_MEMBER_TYPE) == 0;
}

/* ---- what a caller gives ---------------------------------------------- */

static bool store_room_new_ok(const struct store_room_new *r)
{
	return store_room_id_ok(r->room_id) && store_type_ok(r->room_version) &&
	       store_user_id_ok(r->creator) && r->created_ts >= 0;
}

static bool store_event_new_ok(const struct store_event_new *e)
{
	if (!store_event_id_ok(e->event_id) || !store_room_id_ok(e->room_id) ||
	    !store_type_ok(e->type) || !store_user_id_ok(e->sender) ||
	    !store_text_ok(e->state_key, STORE_ID_MAX, true))
		return false;
	/* json_len bytes are read, no more: the text need not end in NUL,
	 * but must not hold one (the stored text would read shorter). */
	if (e->json == NULL || e->json_len == 0 || e->json_len > STORE_EVENT_MAX_BYTES ||
	    memchr(e->json, '\0', e->json_len) != NULL)
		return false;
	if (!store_text_ok(e->prev_content, STORE_EVENT_MAX_BYTES, true))
		return false;
	/* a membership comes with, and only with, a member state event, whose
	 * state_key is the user it concerns */
	if (store_is_member_event(e->type, e->state_key)) {
		if (!store_membership_ok(e->membership) || !store_user_id_ok(e->state_key))
			return false;
	} else if (e->membership != NULL) {
		return false;
	}
	if ((e->txn_id == NULL) != (e->txn_device_id == NULL))
		return false;
	if (e->txn_id != NULL &&
	    (e->txn_id[0] == '\0' || !store_text_ok(e->txn_id, STORE_TXN_ID_MAX, false) ||
	     !store_device_id_ok(e->txn_device_id)))
		return false;
	if ((e->redacts == NULL) != (e->redacted_json == NULL))
		return false;
	if (!store_relation_ok(e->rel_type, e->relates_to))   /* relations feature */
		return false;
	/* search feature: indexed text comes with the key it was taken from */
	if (e->search_text != NULL &&
	    (e->search_text[0] == '\0' ||
	     !store_text_ok(e->search_text, STORE_SEARCH_TEXT_MAX, false) ||
	     (e->search_key != STORE_SEARCH_KEY_BODY && e->search_key != STORE_SEARCH_KEY_NAME &&
	      e->search_key != STORE_SEARCH_KEY_TOPIC)))
		return false;
	return e->redacts == NULL ||
	       (store_event_id_ok(e->redacts) &&
	        store_text_ok(e->redacted_json, STORE_EVENT_MAX_BYTES, false));
}

/* ---- what a back end loads -------------------------------------------- */

static bool store_room_valid(const struct store_room *r)
{
	return store_room_id_ok(r->room_id) && store_type_ok(r->room_version) &&
	       store_user_id_ok(r->creator) && r->created_ts >= 0;
}

/* shared with store_relations.c (declared in store_backend.h) */
bool store_event_valid(const struct store_event *e)
{
	return e->stream > 0 && store_event_id_ok(e->event_id) &&
	       store_room_id_ok(e->room_id) && store_type_ok(e->type) &&
	       store_text_ok(e->state_key, STORE_ID_MAX, true) &&
	       store_user_id_ok(e->sender) &&
	       store_text_ok(e->json, STORE_EVENT_MAX_BYTES, false) &&
	       store_text_ok(e->prev_content, STORE_EVENT_MAX_BYTES, true) &&
	       (e->redacted_by == NULL || store_event_id_ok(e->redacted_by)) &&
	       (e->txn_id == NULL) == (e->txn_device_id == NULL) &&
	       store_text_ok(e->txn_id, STORE_TXN_ID_MAX, true) &&
	       (e->txn_device_id == NULL || store_device_id_ok(e->txn_device_id));
}

static bool store_membership_valid(const struct store_membership *m)
{
	return store_room_id_ok(m->room_id) && store_user_id_ok(m->user_id) &&
	       store_membership_ok(m->membership) && store_event_id_ok(m->event_id) &&
	       m->stream > 0;
}

/* ---- clear ------------------------------------------------------------ */

void store_room_clear(struct store_room *r)
{
	if (r == NULL)
		return;
	free(r->room_id);
	free(r->room_version);
	free(r->creator);
	memset(r, 0, sizeof(*r));
}

void store_event_clear(struct store_event *e)
{
	if (e == NULL)
		return;
	free(e->event_id);
	free(e->room_id);
	free(e->type);
	free(e->state_key);
	free(e->sender);
	free(e->json);
	free(e->prev_content);
	free(e->redacted_by);
	free(e->txn_id);
	free(e->txn_device_id);
	memset(e, 0, sizeof(*e));
}

void store_event_list_clear(struct store_event_list *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++)
		store_event_clear(&l->items[i]);
	free(l->items);
	memset(l, 0, sizeof(*l));
}

void store_membership_clear(struct store_membership *m)
{
	if (m == NULL)
		return;
	free(m->room_id);
	free(m->user_id);
	free(m->membership);
	free(m->event_id);
	memset(m, 0, sizeof(*m));
}

void store_membership_list_clear(struct store_membership_list *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++)
		store_membership_clear(&l->items[i]);
	free(l->items);
	memset(l, 0, sizeof(*l));
}

void store_room_ids_free(char **room_ids, size_t n)
{
	if (room_ids == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(room_ids[i]);
	free(room_ids);
}

/* ---- rooms and persisting --------------------------------------------- */

enum store_result store_events_persist(struct store *st, const struct store_room_new *room,
                                       const struct store_event_new *events, size_t n,
                                       int64_t *streams_out)
{
	const struct store_backend *be;
	void *h;

	if (streams_out != NULL && n > 0 && n <= STORE_PERSIST_MAX)
		memset(streams_out, 0, n * sizeof(*streams_out));
	if (st == NULL || (events == NULL && n > 0) || n > STORE_PERSIST_MAX ||
	    (room == NULL && n == 0))
		return store_refuse("argument to store_events_persist");
	if (room != NULL && !store_room_new_ok(room))
		return store_refuse("room");
	for (size_t i = 0; i < n; i++) {
		if (!store_event_new_ok(&events[i]))
			return store_refuse("event");
	}
	be = store_backend_of(st, &h);
	return be->events_persist(h, room, events, n, streams_out);
}

enum store_result store_room_get(struct store *st, const char *room_id, struct store_room *out)
{
	const struct store_backend *be;
	enum store_result r;
	void *h;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (st == NULL || out == NULL || !store_room_id_ok(room_id))
		return store_refuse("room ID");
	be = store_backend_of(st, &h);
	r = be->room_get(h, room_id, out);
	r = store_loaded(r, r != STORE_OK || (store_room_valid(out) &&
	                                      strcmp(out->room_id, room_id) == 0), "room");
	if (r != STORE_OK)
		store_room_clear(out);
	return r;
}

enum store_result store_room_set_published(struct store *st, const char *room_id, bool published)
{
	const struct store_backend *be;
	void *h;

	if (st == NULL || !store_room_id_ok(room_id))
		return store_refuse("room ID");
	be = store_backend_of(st, &h);
	return be->room_set_published(h, room_id, published);
}

/* Directory page check: valid IDs, strictly ascending, after since. */
static bool store_room_ids_valid(char **ids, size_t n, const char *since, size_t limit)
{
	if (n > limit)
		return false;
	for (size_t i = 0; i < n; i++) {
		const char *prev = i > 0 ? ids[i - 1] : since;
		if (!store_room_id_ok(ids[i]) || (prev != NULL && strcmp(prev, ids[i]) >= 0))
			return false;
	}
	return true;
}

enum store_result store_rooms_published(struct store *st, const char *since, size_t limit,
                                        char ***room_ids_out, size_t *n_out)
{
	const struct store_backend *be;
	enum store_result r;
	void *h;

	if (room_ids_out != NULL)
		*room_ids_out = NULL;
	if (n_out != NULL)
		*n_out = 0;
	if (st == NULL || room_ids_out == NULL || n_out == NULL ||
	    !store_text_ok(since, STORE_ID_MAX, true))
		return store_refuse("argument to store_rooms_published");
	if (limit > STORE_LIST_LIMIT_MAX)
		limit = STORE_LIST_LIMIT_MAX;
	be = store_backend_of(st, &h);
	r = be->rooms_published(h, since, limit, room_ids_out, n_out);
	r = store_loaded(r, r != STORE_OK ||
	                    store_room_ids_valid(*room_ids_out, *n_out, since, limit),
	                 "published room");
	if (r != STORE_OK) {
		store_room_ids_free(*room_ids_out, *n_out);
		*room_ids_out = NULL;
		*n_out = 0;
	}
	return r;
}

int64_t store_stream_max(struct store *st)
{
	const struct store_backend *be;
	int64_t pos = 0;
	void *h;

	if (st == NULL)
		return -1;
	be = store_backend_of(st, &h);
	if (be->stream_max(h, &pos) != STORE_OK || pos < 0)
		return -1;
	return pos;
}

/* ---- events ----------------------------------------------------------- */

enum store_result store_event_get(struct store *st, const char *event_id, struct store_event *out)
{
	const struct store_backend *be;
	enum store_result r;
	void *h;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (st == NULL || out == NULL || !store_event_id_ok(event_id))
		return store_refuse("event ID");
	be = store_backend_of(st, &h);
	r = be->event_get(h, event_id, out);
	r = store_loaded(r, r != STORE_OK || (store_event_valid(out) &&
	                                      strcmp(out->event_id, event_id) == 0), "event");
	if (r != STORE_OK)
		store_event_clear(out);
	return r;
}

enum store_result store_txn_get(struct store *st, const char *user_id, const char *device_id,
                                const char *txn_id, char **event_id_out)
{
	const struct store_backend *be;
	enum store_result r;
	void *h;

	if (event_id_out != NULL)
		*event_id_out = NULL;
	if (st == NULL || event_id_out == NULL || !store_user_id_ok(user_id) ||
	    !store_device_id_ok(device_id) || txn_id == NULL || txn_id[0] == '\0' ||
	    !store_text_ok(txn_id, STORE_TXN_ID_MAX, false))
		return store_refuse("transaction key");
	be = store_backend_of(st, &h);
	r = be->txn_get(h, user_id, device_id, txn_id, event_id_out);
	r = store_loaded(r, r != STORE_OK || store_event_id_ok(*event_id_out), "transaction");
	if (r != STORE_OK) {
		free(*event_id_out);
		*event_id_out = NULL;
	}
	return r;
}

/* A page of events: the room asked for, inside (from, to], at most limit,
 * strictly ordered the way asked. */
static bool store_event_page_valid(const struct store_event_list *l, const char *room_id,
                                   int64_t from, int64_t to, size_t limit, bool backwards)
{
	if (l->n > limit)
		return false;
	for (size_t i = 0; i < l->n; i++) {
		const struct store_event *e = &l->items[i];
		if (!store_event_valid(e) || strcmp(e->room_id, room_id) != 0 ||
		    e->stream <= from || (to != 0 && e->stream > to))
			return false;
		if (i > 0 && (backwards ? e->stream >= l->items[i - 1].stream
		                        : e->stream <= l->items[i - 1].stream))
			return false;
	}
	return true;
}

enum store_result store_room_events(struct store *st, const char *room_id, int64_t from,
                                    int64_t to, size_t limit, bool backwards,
                                    struct store_event_list *out)
{
	const struct store_backend *be;
	enum store_result r;
	void *h;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (st == NULL || out == NULL || !store_room_id_ok(room_id) || from < 0 || to < 0)
		return store_refuse("argument to store_room_events");
	if (limit > STORE_LIST_LIMIT_MAX)
		limit = STORE_LIST_LIMIT_MAX;
	if (limit == 0 || (to != 0 && to <= from))
		return STORE_OK;   /* an empty range: nothing to ask */
	be = store_backend_of(st, &h);
	r = be->room_events(h, room_id, from, to, limit, backwards, out);
	r = store_loaded(r, r != STORE_OK ||
	                    store_event_page_valid(out, room_id, from, to, limit, backwards),
	                 "event page");
	if (r != STORE_OK)
		store_event_list_clear(out);
	return r;
}

/* A state entry: a state event of the room, before at (0: any). */
static bool store_state_entry_valid(const struct store_event *e, const char *room_id,
                                    int64_t at)
{
	return store_event_valid(e) && e->state_key != NULL &&
	       strcmp(e->room_id, room_id) == 0 && (at == 0 || e->stream < at);
}

/* One entry per (type, state_key), ordered by type then state_key. */
static bool store_state_valid(const struct store_event_list *l, const char *room_id, int64_t at)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct store_event *e = &l->items[i], *p;
		int c;

		if (!store_state_entry_valid(e, room_id, at))
			return false;
		if (i == 0)
			continue;
		p = &l->items[i - 1];
		c = strcmp(p->type, e->type);
		if (c > 0 || (c == 0 && strcmp(p->state_key, e->state_key) >= 0))
			return false;
	}
	return true;
}

enum store_result store_room_state(struct store *st, const char *room_id, int64_t at,
                                   struct store_event_list *out)
{
	const struct store_backend *be;
	enum store_result r;
	void *h;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (st == NULL || out == NULL || !store_room_id_ok(room_id) || at < 0)
		return store_refuse("argument to store_room_state");
	be = store_backend_of(st, &h);
	r = be->room_state(h, room_id, at, out);
	r = store_loaded(r, r != STORE_OK || store_state_valid(out, room_id, at), "room state");
	if (r != STORE_OK)
		store_event_list_clear(out);
	return r;
}

enum store_result store_room_state_get(struct store *st, const char *room_id, int64_t at,
                                       const char *type, const char *state_key,
                                       struct store_event *out)
{
	const struct store_backend *be;
	enum store_result r;
	void *h;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (st == NULL || out == NULL || !store_room_id_ok(room_id) || at < 0 ||
	    !store_type_ok(type) || !store_text_ok(state_key, STORE_ID_MAX, false))
		return store_refuse("argument to store_room_state_get");
	be = store_backend_of(st, &h);
	r = be->room_state_get(h, room_id, at, type, state_key, out);
	r = store_loaded(r, r != STORE_OK || (store_state_entry_valid(out, room_id, at) &&
	                                      strcmp(out->type, type) == 0 &&
	                                      strcmp(out->state_key, state_key) == 0),
	                 "state entry");
	if (r != STORE_OK)
		store_event_clear(out);
	return r;
}

/* ---- memberships ------------------------------------------------------ */

/* Each entry valid; room_id / user_id / membership, when given, match;
 * streams ascending when ascending is set. */
static bool store_memberships_valid(const struct store_membership_list *l, const char *room_id,
                                    const char *user_id, const char *membership,
                                    bool ascending)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct store_membership *m = &l->items[i];
		if (!store_membership_valid(m) ||
		    (room_id != NULL && strcmp(m->room_id, room_id) != 0) ||
		    (user_id != NULL && strcmp(m->user_id, user_id) != 0) ||
		    (membership != NULL && strcmp(m->membership, membership) != 0) ||
		    (ascending && i > 0 && m->stream <= l->items[i - 1].stream))
			return false;
	}
	return true;
}

static enum store_result store_memberships_loaded(enum store_result r,
                                                  struct store_membership_list *out,
                                                  const char *room_id, const char *user_id,
                                                  const char *membership, bool ascending)
{
	r = store_loaded(r, r != STORE_OK ||
	                    store_memberships_valid(out, room_id, user_id, membership, ascending),
	                 "membership");
	if (r != STORE_OK)
		store_membership_list_clear(out);
	return r;
}

enum store_result store_user_memberships(struct store *st, const char *user_id,
                                         struct store_membership_list *out)
{
	const struct store_backend *be;
	void *h;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (st == NULL || out == NULL || !store_user_id_ok(user_id))
		return store_refuse("user ID");
	be = store_backend_of(st, &h);
	return store_memberships_loaded(be->user_memberships(h, user_id, out), out, NULL,
	                                user_id, NULL, false);
}

enum store_result store_membership_history(struct store *st, const char *room_id,
                                           const char *user_id,
                                           struct store_membership_list *out)
{
	const struct store_backend *be;
	enum store_result r;
	void *h;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (st == NULL || out == NULL || !store_room_id_ok(room_id) || !store_user_id_ok(user_id))
		return store_refuse("room or user ID");
	be = store_backend_of(st, &h);
	r = store_memberships_loaded(be->membership_history(h, room_id, user_id, out), out,
	                             room_id, user_id, NULL, true);
	/* A forgotten room has no history for its user: "After this API is
	 * called, however, a user will no longer be able to retrieve history
	 * for this room." (leaving.yaml, forgetRoom; directory feature) */
	if (r == STORE_OK && out->n > 0) {
		enum store_result f = store_room_forgotten(st, user_id, room_id);

		if (f == STORE_OK)
			store_membership_list_clear(out);
		else if (f != STORE_NOT_FOUND)
			r = STORE_ERROR;   /* fail closed: no history on a failed check */
		if (r != STORE_OK)
			store_membership_list_clear(out);
	}
	return r;
}

enum store_result store_room_members(struct store *st, const char *room_id,
                                     const char *membership, struct store_membership_list *out)
{
	const struct store_backend *be;
	void *h;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (st == NULL || out == NULL || !store_room_id_ok(room_id))
		return store_refuse("room ID");
	if (membership != NULL && !store_membership_ok(membership))
		return store_refuse("membership");
	be = store_backend_of(st, &h);
	return store_memberships_loaded(be->room_members(h, room_id, membership, out), out,
	                                room_id, NULL, membership, false);
}

/* Each entry a room of the query with a position after since; no room
 * twice would need a set: the back end's grouping is trusted for that. */
static bool store_rooms_changed_valid(const struct store_membership_list *l, size_t n,
                                      int64_t since)
{
	if (l->n > n)
		return false;
	for (size_t i = 0; i < l->n; i++) {
		const struct store_membership *m = &l->items[i];
		if (!store_room_id_ok(m->room_id) || m->stream <= since || m->user_id != NULL ||
		    m->membership != NULL || m->event_id != NULL)
			return false;
	}
	return true;
}

enum store_result store_rooms_changed_since(struct store *st, const char *const *room_ids,
                                            size_t n, int64_t since,
                                            struct store_membership_list *out)
{
	const struct store_backend *be;
	enum store_result r;
	void *h;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (st == NULL || out == NULL || (room_ids == NULL && n > 0) ||
	    n > STORE_ROOMS_QUERY_MAX || since < 0)
		return store_refuse("argument to store_rooms_changed_since");
	for (size_t i = 0; i < n; i++) {
		if (!store_room_id_ok(room_ids[i]))
			return store_refuse("room ID");
	}
	if (n == 0)
		return STORE_OK;
	be = store_backend_of(st, &h);
	r = be->rooms_changed_since(h, room_ids, n, since, out);
	r = store_loaded(r, r != STORE_OK || store_rooms_changed_valid(out, n, since),
	                 "rooms changed");
	if (r != STORE_OK)
		store_membership_list_clear(out);
	return r;
}
