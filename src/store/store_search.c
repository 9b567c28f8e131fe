/*
 * store_search: the front of the storage layer for server-side search (the
 * contract is in store.h, "server-side search").
 *
 * As in store.c: a query outside the bounds never reaches a back end, and
 * what a back end returns is checked before a caller sees it, including
 * that it answers the question asked: every hit is in one of the rooms
 * named, before the bound, not redacted, and in the promised order. A
 * database is input too, and a hit from a room the caller did not name
 * would be a leak, not a slip.
 *
 * Threads: no state of its own; callable from any thread. Memory: the hit
 * list is released with store_search_hit_list_clear().
 */
#include "store/store.h"
#include "store/store_backend.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool search_sigil_ok(const char *id, char sigil)
{
	size_t n;

	if (id == NULL || id[0] != sigil)
		return false;
	n = strnlen(id, STORE_ID_MAX + 1);
	return n >= 2 && n <= STORE_ID_MAX;
}

void store_search_hit_list_clear(struct store_search_hit_list *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++)
		store_event_clear(&l->items[i].event);
	free(l->items);
	memset(l, 0, sizeof(*l));
}

static bool search_query_ok(const struct store_search_query *q)
{
	if (q == NULL || q->room_ids == NULL || q->n_rooms == 0 ||
	    q->n_rooms > STORE_SEARCH_ROOMS_MAX || q->term == NULL || q->term[0] == '\0' ||
	    !store_text_ok(q->term, STORE_EVENT_SEARCH_TERM_MAX, false) ||
	    q->keys > STORE_SEARCH_KEYS_ALL || q->before < 0 ||
	    q->offset > STORE_SEARCH_OFFSET_MAX || q->limit == 0 ||
	    q->limit > STORE_SEARCH_LIMIT_MAX)
		return false;
	for (size_t i = 0; i < q->n_rooms; i++) {
		if (!search_sigil_ok(q->room_ids[i], '!'))
			return false;
	}
	return true;
}

static bool search_room_asked(const struct store_search_query *q, const char *room_id)
{
	for (size_t i = 0; i < q->n_rooms; i++) {
		if (strcmp(q->room_ids[i], room_id) == 0)
			return true;
	}
	return false;
}

/* One hit as loaded: an event the caller may be shown at all. */
static bool search_hit_valid(const struct store_search_query *q,
                             const struct store_search_hit *h)
{
	const struct store_event *e = &h->event;

	return e->stream > 0 && (q->before == 0 || e->stream < q->before) &&
	       search_sigil_ok(e->event_id, '$') && search_sigil_ok(e->room_id, '!') &&
	       e->type != NULL && store_text_ok(e->type, STORE_ID_MAX, false) &&
	       store_text_ok(e->state_key, STORE_ID_MAX, true) && store_user_id_ok(e->sender) &&
	       e->json != NULL && store_text_ok(e->json, STORE_EVENT_MAX_BYTES, false) &&
	       store_text_ok(e->prev_content, STORE_EVENT_MAX_BYTES, true) &&
	       e->redacted_by == NULL && isfinite(h->rank) && h->rank >= 0 &&
	       search_room_asked(q, e->room_id);
}

/* Hits within the limit, each valid, in the order the contract promises. */
static bool search_hits_valid(const struct store_search_query *q,
                              const struct store_search_hit_list *l)
{
	if (l->n > q->limit)
		return false;
	for (size_t i = 0; i < l->n; i++) {
		const struct store_search_hit *a = &l->items[i], *b;

		if (!search_hit_valid(q, a))
			return false;
		if (i == 0)
			continue;
		b = &l->items[i - 1];
		if (!q->by_rank && b->event.stream <= a->event.stream)
			return false;
		if (q->by_rank && (b->rank < a->rank ||
		                   (b->rank == a->rank && b->event.stream <= a->event.stream)))
			return false;
	}
	return true;
}

enum store_result store_events_search(struct store *st, const struct store_search_query *q,
                                      struct store_search_hit_list *out)
{
	const struct store_backend *be;
	enum store_result r;
	void *h;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (st == NULL || out == NULL || !search_query_ok(q))
		return store_refuse("argument to store_events_search");
	be = store_backend_of(st, &h);
	r = be->events_search(h, q, out);
	r = store_loaded(r, r != STORE_OK || search_hits_valid(q, out), "search hits");
	if (r != STORE_OK)
		store_search_hit_list_clear(out);
	return r;
}
