/*
 * store_receipts: the front of the storage layer for read receipts and
 * presence (the contract is in store.h, "receipts and presence").
 *
 * Arguments are checked before a back end sees them and what it loads is
 * checked before a caller sees it, as in store.c: a receipt type outside
 * the two the store keeps, a thread ID that is empty, an event or room ID
 * without its sigil, or a presence outside the spec's enum never reaches
 * SQL, and a row that comes back in any such shape is refused.
 *
 * Threads: no state of its own; callable from any thread. Memory: lists
 * and structs returned are released with their *_clear().
 */
#include "store/store.h"
#include "store/store_backend.h"

#include <stdlib.h>
#include <string.h>

#include "util/log.h"

static bool store_sigil_ok(const char *id, char sigil)
{
	size_t n;

	if (id == NULL || id[0] != sigil)
		return false;
	n = strnlen(id, STORE_ID_MAX + 1);
	return n >= 2 && n <= STORE_ID_MAX;
}

/* m.fully_read is account data, not a receipt (read_markers.md), so the
 * store keeps only the two receipt types of the Receipts module. */
static bool store_receipt_type_ok(const char *type)
{
	return type != NULL &&
	       (strcmp(type, "m.read") == 0 || strcmp(type, "m.read.private") == 0);
}

/* NULL (unthreaded), "main", or a thread root's event ID. */
static bool store_thread_id_ok(const char *thread_id)
{
	return thread_id == NULL || strcmp(thread_id, "main") == 0 ||
	       store_sigil_ok(thread_id, '$');
}

static bool store_presence_state_ok(const char *p)
{
	return p != NULL && (strcmp(p, "online") == 0 || strcmp(p, "unavailable") == 0 ||
	                     strcmp(p, "offline") == 0);
}

/* ---- receipts --------------------------------------------------------- */

void store_receipt_list_clear(struct store_receipt_list *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++) {
		struct store_receipt *r = &l->items[i];
		free(r->room_id);
		free(r->receipt_type);
		free(r->user_id);
		free(r->thread_id);
		free(r->event_id);
	}
	free(l->items);
	memset(l, 0, sizeof(*l));
}

static bool store_receipt_new_ok(const struct store_receipt_new *r)
{
	return r != NULL && store_sigil_ok(r->room_id, '!') &&
	       store_receipt_type_ok(r->receipt_type) && store_user_id_ok(r->user_id) &&
	       store_thread_id_ok(r->thread_id) && store_sigil_ok(r->event_id, '$') &&
	       r->event_stream > 0 && r->ts >= 0;
}

enum store_result store_receipt_put(struct store *st, const struct store_receipt_new *r,
                                    int64_t *stream_out)
{
	const struct store_backend *be;
	enum store_result res;
	int64_t pos = -1;
	void *h;

	if (stream_out != NULL)
		*stream_out = 0;
	if (st == NULL || !store_receipt_new_ok(r))
		return store_refuse("argument to store_receipt_put");
	be = store_backend_of(st, &h);
	res = be->receipt_put(h, r, &pos);
	res = store_loaded(res, res != STORE_OK || pos >= 0, "receipt position");
	if (res == STORE_OK && stream_out != NULL)
		*stream_out = pos;
	return res;
}

/* Rows valid, of this room, within (since, to], ascending, and never
 * another user's private receipt (checked again here: the back end's
 * query is not the only thing standing between a private receipt and
 * someone else's /sync). */
static bool store_receipt_list_valid(const struct store_receipt_list *l, const char *room_id,
                                     const char *viewer_id, int64_t since, int64_t to)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct store_receipt *r = &l->items[i];
		if (!store_sigil_ok(r->room_id, '!') || strcmp(r->room_id, room_id) != 0 ||
		    !store_receipt_type_ok(r->receipt_type) || !store_user_id_ok(r->user_id) ||
		    !store_thread_id_ok(r->thread_id) || !store_sigil_ok(r->event_id, '$') ||
		    r->ts < 0 || r->stream <= since || (to > 0 && r->stream > to) ||
		    (i > 0 && r->stream <= l->items[i - 1].stream))
			return false;
		if (strcmp(r->receipt_type, "m.read.private") == 0 &&
		    strcmp(r->user_id, viewer_id) != 0)
			return false;
	}
	return true;
}

enum store_result store_room_receipts(struct store *st, const char *room_id,
                                      const char *viewer_id, int64_t since, int64_t to,
                                      struct store_receipt_list *out)
{
	const struct store_backend *be;
	enum store_result r;
	void *h;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (st == NULL || out == NULL || !store_sigil_ok(room_id, '!') ||
	    !store_user_id_ok(viewer_id) || since < 0 || to < 0)
		return store_refuse("argument to store_room_receipts");
	be = store_backend_of(st, &h);
	r = be->room_receipts(h, room_id, viewer_id, since, to, out);
	r = store_loaded(r, r != STORE_OK ||
	                 store_receipt_list_valid(out, room_id, viewer_id, since, to),
	                 "receipt");
	if (r != STORE_OK)
		store_receipt_list_clear(out);
	return r;
}

/* ---- presence --------------------------------------------------------- */

void store_presence_clear(struct store_presence *p)
{
	if (p == NULL)
		return;
	free(p->user_id);
	free(p->presence);
	free(p->status_msg);
	memset(p, 0, sizeof(*p));
}

void store_presence_list_clear(struct store_presence_list *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++)
		store_presence_clear(&l->items[i]);
	free(l->items);
	memset(l, 0, sizeof(*l));
}

static bool store_presence_valid(const struct store_presence *p)
{
	return store_user_id_ok(p->user_id) && store_presence_state_ok(p->presence) &&
	       store_text_ok(p->status_msg, STORE_PRESENCE_MSG_MAX, true) &&
	       p->last_active_ts >= 0 && p->stream > 0;
}

enum store_result store_presence_put(struct store *st, const char *user_id,
                                     const char *presence, const char *status_msg,
                                     int64_t last_active_ts, int64_t *stream_out)
{
	const struct store_backend *be;
	enum store_result r;
	int64_t pos = 0;
	void *h;

	if (stream_out != NULL)
		*stream_out = 0;
	if (st == NULL || !store_user_id_ok(user_id) || !store_presence_state_ok(presence) ||
	    !store_text_ok(status_msg, STORE_PRESENCE_MSG_MAX, true) || last_active_ts < 0)
		return store_refuse("argument to store_presence_put");
	be = store_backend_of(st, &h);
	r = be->presence_put(h, user_id, presence, status_msg, last_active_ts, &pos);
	r = store_loaded(r, r != STORE_OK || pos > 0, "presence position");
	if (r == STORE_OK && stream_out != NULL)
		*stream_out = pos;
	return r;
}

enum store_result store_presence_get(struct store *st, const char *user_id,
                                     struct store_presence *out)
{
	const struct store_backend *be;
	enum store_result r;
	void *h;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (st == NULL || out == NULL || !store_user_id_ok(user_id))
		return store_refuse("argument to store_presence_get");
	be = store_backend_of(st, &h);
	r = be->presence_get(h, user_id, out);
	r = store_loaded(r, r != STORE_OK || (store_presence_valid(out) &&
	                                      strcmp(out->user_id, user_id) == 0),
	                 "presence");
	if (r != STORE_OK)
		store_presence_clear(out);
	return r;
}

static bool store_presence_list_valid(const struct store_presence_list *l, int64_t since,
                                      int64_t to)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct store_presence *p = &l->items[i];
		if (!store_presence_valid(p) || p->stream <= since || (to > 0 && p->stream > to) ||
		    (i > 0 && p->stream <= l->items[i - 1].stream))
			return false;
	}
	return true;
}

enum store_result store_presence_visible(struct store *st, const char *viewer_id,
                                         int64_t since, int64_t to,
                                         struct store_presence_list *out)
{
	const struct store_backend *be;
	enum store_result r;
	void *h;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (st == NULL || out == NULL || !store_user_id_ok(viewer_id) || since < 0 || to < 0)
		return store_refuse("argument to store_presence_visible");
	be = store_backend_of(st, &h);
	r = be->presence_visible(h, viewer_id, since, to, out);
	r = store_loaded(r, r != STORE_OK || store_presence_list_valid(out, since, to),
	                 "presence");
	if (r != STORE_OK)
		store_presence_list_clear(out);
	return r;
}

/* ---- stream positions ------------------------------------------------- */

static int64_t store_stream_pos(enum store_result (*get)(void *h, int64_t *out), void *h)
{
	int64_t pos = 0;

	if (get(h, &pos) != STORE_OK || pos < 0)
		return -1;
	return pos;
}

int64_t store_receipts_stream_max(struct store *st)
{
	const struct store_backend *be;
	void *h;

	if (st == NULL)
		return -1;
	be = store_backend_of(st, &h);
	return store_stream_pos(be->receipts_stream_max, h);
}

int64_t store_presence_stream_max(struct store *st)
{
	const struct store_backend *be;
	void *h;

	if (st == NULL)
		return -1;
	be = store_backend_of(st, &h);
	return store_stream_pos(be->presence_stream_max, h);
}
