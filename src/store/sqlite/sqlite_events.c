/*
 * sqlite_events: reading events, room state and memberships in SQL.
 *
 * Every function here is a read on the calling thread's reader connection.
 * A list is read by one statement, so it is one snapshot even while the
 * writer commits; rooms_changed_since, which needs several statements,
 * holds one read transaction across them for the same reason.
 *
 * Lists grow by doubling up to a bound (STORE_STATE_MAX entries): a room
 * cannot make the server allocate without limit. On any failure the
 * output list is left empty.
 */
#include "store/sqlite/sqlite_store.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* Room IDs bound per rooms_changed_since statement: the statement has this
 * many anonymous parameters after ?1 (see SQ_ROOMS_CHANGED). */
#define SQLITE_ROOMS_PER_QUERY 500

/* Fill e from a row in EVENT_COLS order. 0, or -1 with e cleared.
 * (Shared with sqlite_relations.c.) */
int sqlite_event_load(sqlite3_stmt *stmt, struct store_event *e)
{
	memset(e, 0, sizeof(*e));
	if (sqlite_col_int(stmt, 0, &e->stream) != 0 ||
	    sqlite_col_text(stmt, 1, false, STORE_ID_MAX, &e->event_id) != 0 ||
	    sqlite_col_text(stmt, 2, false, STORE_ID_MAX, &e->room_id) != 0 ||
	    sqlite_col_text(stmt, 3, false, STORE_ID_MAX, &e->type) != 0 ||
	    sqlite_col_text(stmt, 4, true, STORE_ID_MAX, &e->state_key) != 0 ||
	    sqlite_col_text(stmt, 5, false, STORE_USER_ID_MAX, &e->sender) != 0 ||
	    sqlite_col_int(stmt, 6, &e->origin_ts) != 0 ||
	    sqlite_col_text(stmt, 7, false, STORE_EVENT_MAX_BYTES, &e->json) != 0 ||
	    sqlite_col_text(stmt, 8, true, STORE_EVENT_MAX_BYTES, &e->prev_content) != 0 ||
	    sqlite_col_text(stmt, 9, true, STORE_ID_MAX, &e->redacted_by) != 0 ||
	    sqlite_col_text(stmt, 10, true, STORE_TXN_ID_MAX, &e->txn_id) != 0 ||
	    sqlite_col_text(stmt, 11, true, STORE_DEVICE_ID_MAX, &e->txn_device_id) != 0) {
		log_error("store: unreadable events row (wrong type, size, or out of memory)");
		store_event_clear(e);
		return -1;
	}
	return 0;
}

/* Fill m from a row in MEMBER_COLS order. 0, or -1 with m cleared. */
static int sqlite_membership_load(sqlite3_stmt *stmt, struct store_membership *m)
{
	memset(m, 0, sizeof(*m));
	if (sqlite_col_text(stmt, 0, false, STORE_ID_MAX, &m->room_id) != 0 ||
	    sqlite_col_text(stmt, 1, false, STORE_USER_ID_MAX, &m->user_id) != 0 ||
	    sqlite_col_text(stmt, 2, false, STORE_ID_MAX, &m->membership) != 0 ||
	    sqlite_col_text(stmt, 3, false, STORE_ID_MAX, &m->event_id) != 0 ||
	    sqlite_col_int(stmt, 4, &m->stream) != 0) {
		log_error("store: unreadable memberships row (wrong type, size, or out of memory)");
		store_membership_clear(m);
		return -1;
	}
	return 0;
}

/* Make room for one more item of size `size` in *items (n used, *cap
 * allocated). 0, or -1 past STORE_STATE_MAX or out of memory. */
int sqlite_list_reserve(void **items, size_t size, size_t n, size_t *cap)
{
	size_t want;
	void *p;

	if (n < *cap)
		return 0;
	if (n >= STORE_STATE_MAX) {
		log_error("store: a list passed %d entries; refusing it", STORE_STATE_MAX);
		return -1;
	}
	want = *cap == 0 ? 16 : *cap * 2;
	if (want > STORE_STATE_MAX)
		want = STORE_STATE_MAX;
	p = realloc(*items, want * size);
	if (p == NULL) {
		log_error("store: out of memory reading a list");
		return -1;
	}
	*items = p;
	*cap = want;
	return 0;
}

/* Step a bound statement to the end, appending each row to out. */
static enum store_result sqlite_event_rows(struct sqlite_conn *c, sqlite3_stmt *stmt,
                                           struct store_event_list *out)
{
	size_t cap = 0;
	int rc;

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (sqlite_list_reserve((void **)&out->items, sizeof(*out->items), out->n, &cap) != 0 ||
		    sqlite_event_load(stmt, &out->items[out->n]) != 0)
			goto err;
		out->n++;
	}
	if (rc == SQLITE_DONE)
		return STORE_OK;
	sqlite_result_of(c, rc, "event list");
err:
	store_event_list_clear(out);
	return STORE_ERROR;
}

static enum store_result sqlite_membership_rows(struct sqlite_conn *c, sqlite3_stmt *stmt,
                                                struct store_membership_list *out)
{
	size_t cap = 0;
	int rc;

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (sqlite_list_reserve((void **)&out->items, sizeof(*out->items), out->n, &cap) != 0 ||
		    sqlite_membership_load(stmt, &out->items[out->n]) != 0)
			goto err;
		out->n++;
	}
	if (rc == SQLITE_DONE)
		return STORE_OK;
	sqlite_result_of(c, rc, "membership list");
err:
	store_membership_list_clear(out);
	return STORE_ERROR;
}

/* Step a bound statement once: one event, or NOT_FOUND. */
static enum store_result sqlite_event_row(struct sqlite_conn *c, sqlite3_stmt *stmt,
                                          struct store_event *out)
{
	int rc = sqlite3_step(stmt);

	if (rc == SQLITE_ROW)
		return sqlite_event_load(stmt, out) == 0 ? STORE_OK : STORE_ERROR;
	if (rc == SQLITE_DONE)
		return STORE_NOT_FOUND;
	return sqlite_result_of(c, rc, "event get");
}

/* ---- single events ---------------------------------------------------- */

enum store_result sqlite_event_get(void *h, const char *event_id, struct store_event *out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	sqlite3_stmt *stmt;
	enum store_result r = STORE_ERROR;

	if (c == NULL || (stmt = sqlite_stmt_get(c, SQ_EVENT_GET)) == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, event_id) == SQLITE_OK)
		r = sqlite_event_row(c, stmt, out);
	sqlite_stmt_put(c, SQ_EVENT_GET, stmt);
	return r;
}

enum store_result sqlite_txn_get(void *h, const char *user_id, const char *device_id,
                                 const char *txn_id, char **event_id_out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	sqlite3_stmt *stmt;
	enum store_result r = STORE_ERROR;
	int rc;

	if (c == NULL || (stmt = sqlite_stmt_get(c, SQ_TXN_GET)) == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, user_id) != SQLITE_OK ||
	    sqlite_bind_text(stmt, 2, device_id) != SQLITE_OK ||
	    sqlite_bind_text(stmt, 3, txn_id) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		r = sqlite_col_text(stmt, 0, false, STORE_ID_MAX, event_id_out) == 0 ?
		    STORE_OK : STORE_ERROR;
	else if (rc == SQLITE_DONE)
		r = STORE_NOT_FOUND;
	else
		r = sqlite_result_of(c, rc, "transaction get");
out:
	sqlite_stmt_put(c, SQ_TXN_GET, stmt);
	return r;
}

/* ---- event ranges and state ------------------------------------------- */

enum store_result sqlite_room_events(void *h, const char *room_id, int64_t from, int64_t to,
                                     size_t limit, bool backwards,
                                     struct store_event_list *out)
{
	enum sqlite_stmt_id id = backwards ? SQ_ROOM_EVENTS_BWD : SQ_ROOM_EVENTS_FWD;
	struct sqlite_conn *c = sqlite_reader_get(h);
	sqlite3_stmt *stmt;
	enum store_result r = STORE_ERROR;

	if (c == NULL || (stmt = sqlite_stmt_get(c, id)) == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, room_id) == SQLITE_OK &&
	    sqlite3_bind_int64(stmt, 2, from) == SQLITE_OK &&
	    sqlite3_bind_int64(stmt, 3, to == 0 ? INT64_MAX : to) == SQLITE_OK &&
	    sqlite3_bind_int64(stmt, 4, (sqlite3_int64)limit) == SQLITE_OK)
		r = sqlite_event_rows(c, stmt, out);
	sqlite_stmt_put(c, id, stmt);
	return r;
}

enum store_result sqlite_room_state(void *h, const char *room_id, int64_t at,
                                    struct store_event_list *out)
{
	enum sqlite_stmt_id id = at == 0 ? SQ_STATE_CURRENT : SQ_STATE_AT;
	struct sqlite_conn *c = sqlite_reader_get(h);
	sqlite3_stmt *stmt;
	enum store_result r = STORE_ERROR;

	if (c == NULL || (stmt = sqlite_stmt_get(c, id)) == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, room_id) == SQLITE_OK &&
	    (at == 0 || sqlite3_bind_int64(stmt, 2, at) == SQLITE_OK))
		r = sqlite_event_rows(c, stmt, out);
	sqlite_stmt_put(c, id, stmt);
	return r;
}

enum store_result sqlite_room_state_get(void *h, const char *room_id, int64_t at,
                                        const char *type, const char *state_key,
                                        struct store_event *out)
{
	enum sqlite_stmt_id id = at == 0 ? SQ_STATE_GET_CURRENT : SQ_STATE_GET_AT;
	struct sqlite_conn *c = sqlite_reader_get(h);
	sqlite3_stmt *stmt;
	enum store_result r = STORE_ERROR;

	if (c == NULL || (stmt = sqlite_stmt_get(c, id)) == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, room_id) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 2, type) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 3, state_key) == SQLITE_OK &&
	    (at == 0 || sqlite3_bind_int64(stmt, 4, at) == SQLITE_OK))
		r = sqlite_event_row(c, stmt, out);
	sqlite_stmt_put(c, id, stmt);
	return r;
}

/* ---- memberships ------------------------------------------------------ */

/* Run a membership statement with up to two text parameters. */
static enum store_result sqlite_membership_query(void *h, enum sqlite_stmt_id id,
                                                 const char *p1, const char *p2, int n,
                                                 struct store_membership_list *out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	sqlite3_stmt *stmt;
	enum store_result r = STORE_ERROR;

	if (c == NULL || (stmt = sqlite_stmt_get(c, id)) == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, p1) == SQLITE_OK &&
	    (n < 2 || sqlite_bind_text(stmt, 2, p2) == SQLITE_OK))
		r = sqlite_membership_rows(c, stmt, out);
	sqlite_stmt_put(c, id, stmt);
	return r;
}

enum store_result sqlite_user_memberships(void *h, const char *user_id,
                                          struct store_membership_list *out)
{
	return sqlite_membership_query(h, SQ_USER_MEMBERSHIPS, user_id, NULL, 1, out);
}

enum store_result sqlite_membership_history(void *h, const char *room_id, const char *user_id,
                                            struct store_membership_list *out)
{
	return sqlite_membership_query(h, SQ_MEMBERSHIP_HISTORY, room_id, user_id, 2, out);
}

enum store_result sqlite_room_members(void *h, const char *room_id, const char *membership,
                                      struct store_membership_list *out)
{
	return sqlite_membership_query(h, SQ_ROOM_MEMBERS, room_id, membership, 2, out);
}

/* One chunk of rooms_changed_since: ids[0..n-1] (n <= the statement's
 * parameters; the rest stay NULL, which matches no room). */
static enum store_result sqlite_rooms_changed_chunk(struct sqlite_conn *c,
                                                    const char *const *ids, size_t n,
                                                    int64_t since, size_t *cap,
                                                    struct store_membership_list *out)
{
	sqlite3_stmt *stmt = sqlite_stmt_get(c, SQ_ROOMS_CHANGED);
	struct store_membership *m;
	enum store_result r = STORE_ERROR;
	int rc;

	if (stmt == NULL)
		return STORE_ERROR;
	if (sqlite3_bind_int64(stmt, 1, since) != SQLITE_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (sqlite_bind_text(stmt, (int)i + 2, ids[i]) != SQLITE_OK)
			goto out;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (sqlite_list_reserve((void **)&out->items, sizeof(*out->items), out->n, cap) != 0)
			goto out;
		m = &out->items[out->n];
		memset(m, 0, sizeof(*m));
		if (sqlite_col_text(stmt, 0, false, STORE_ID_MAX, &m->room_id) != 0 ||
		    sqlite_col_int(stmt, 1, &m->stream) != 0) {
			log_error("store: unreadable events row in rooms_changed_since");
			store_membership_clear(m);
			goto out;
		}
		out->n++;
	}
	r = rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(c, rc, "rooms changed since");
out:
	sqlite_stmt_put(c, SQ_ROOMS_CHANGED, stmt);
	return r;
}

enum store_result sqlite_rooms_changed_since(void *h, const char *const *room_ids, size_t n,
                                             int64_t since, struct store_membership_list *out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	enum store_result r = STORE_OK;
	size_t cap = 0, chunk;

	if (c == NULL)
		return STORE_ERROR;
	/* One read transaction over every chunk: all of them see the same
	 * committed stream, so no room is reported past another's snapshot. */
	if (sqlite_exec_stmt(c, SQ_READ_BEGIN) != STORE_OK)
		return STORE_ERROR;
	for (size_t i = 0; i < n && r == STORE_OK; i += chunk) {
		chunk = n - i < SQLITE_ROOMS_PER_QUERY ? n - i : SQLITE_ROOMS_PER_QUERY;
		r = sqlite_rooms_changed_chunk(c, room_ids + i, chunk, since, &cap, out);
	}
	if (sqlite_exec_stmt(c, SQ_COMMIT) != STORE_OK)
		r = STORE_ERROR;
	if (r != STORE_OK)
		store_membership_list_clear(out);
	return r;
}
