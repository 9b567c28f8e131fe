/*
 * sqlite_receipts: read receipts and presence in SQL.
 *
 * Both have their own stream: a counter row in stream_counters (created by
 * migration 4), incremented by the same write job that writes the row, so
 * a position is committed together with what it stands for. A receipt put
 * first reads the current receipt's event position under the writer's
 * transaction: when the new event is not later, nothing is written and no
 * position is taken (so a receipt never moves backwards, and a repeated
 * receipt does not wake anyone). Unthreaded receipts are stored with
 * thread_id '' (a key column cannot be NULL) and read back as NULL.
 */
#include "store/sqlite/sqlite_store.h"

#include <stdlib.h>
#include <string.h>

#include "util/log.h"

struct sqlite_receipt_args {
	const struct store_receipt_new *r;
	int64_t stream;              /* out: 0 if nothing moved */
};

struct sqlite_presence_args {
	const char *user_id;
	const char *presence;
	const char *status_msg;
	int64_t last_active_ts;
	int64_t stream;              /* out */
};

/* Take the next position of a counter (a RETURNING statement). */
static enum store_result sqlite_counter_next(struct sqlite_conn *w, enum sqlite_stmt_id id,
                                             int64_t *out)
{
	sqlite3_stmt *stmt = sqlite_stmt_get(w, id);
	enum store_result r = STORE_ERROR;
	int rc;

	if (stmt == NULL)
		return STORE_ERROR;
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		r = sqlite_result_of(w, rc == SQLITE_DONE ? SQLITE_ERROR : rc, "stream counter");
	} else if (sqlite_col_int(stmt, 0, out) != 0 || *out <= 0) {
		log_error("store: stream counter returned no usable position");
	} else {
		/* RETURNING's change is made by the first step; finish cleanly */
		rc = sqlite3_step(stmt);
		r = rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(w, rc, "stream counter");
	}
	sqlite_stmt_put(w, id, stmt);
	return r;
}

/* ---- receipts --------------------------------------------------------- */

/* The event position of the current receipt for r's key, 0 if none. */
static enum store_result sqlite_receipt_current(struct sqlite_conn *w,
                                                const struct store_receipt_new *r,
                                                const char *thread, int64_t *pos)
{
	sqlite3_stmt *stmt = sqlite_stmt_get(w, SQ_RECEIPT_EVENT_STREAM);
	enum store_result res = STORE_ERROR;
	int rc;

	*pos = 0;
	if (stmt == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, r->room_id) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 2, r->receipt_type) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 3, r->user_id) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 4, thread) == SQLITE_OK) {
		rc = sqlite3_step(stmt);
		if (rc == SQLITE_DONE)
			res = STORE_OK;
		else if (rc == SQLITE_ROW)
			res = sqlite_col_int(stmt, 0, pos) == 0 ? STORE_OK : STORE_ERROR;
		else
			res = sqlite_result_of(w, rc, "receipt lookup");
	}
	sqlite_stmt_put(w, SQ_RECEIPT_EVENT_STREAM, stmt);
	return res;
}

static enum store_result job_receipt_put(struct sqlite_conn *w, void *arg)
{
	struct sqlite_receipt_args *a = arg;
	const struct store_receipt_new *r = a->r;
	const char *thread = r->thread_id != NULL ? r->thread_id : "";
	enum store_result res;
	sqlite3_stmt *stmt;
	int64_t current;
	int rc;

	a->stream = 0;
	res = sqlite_receipt_current(w, r, thread, &current);
	if (res != STORE_OK || current >= r->event_stream)
		return res;
	res = sqlite_counter_next(w, SQ_RECEIPTS_NEXT, &a->stream);
	if (res != STORE_OK)
		return res;
	stmt = sqlite_stmt_get(w, SQ_RECEIPT_UPSERT);
	if (stmt == NULL)
		return STORE_ERROR;
	res = STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, r->room_id) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 2, r->receipt_type) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 3, r->user_id) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 4, thread) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 5, r->event_id) == SQLITE_OK &&
	    sqlite3_bind_int64(stmt, 6, r->event_stream) == SQLITE_OK &&
	    sqlite3_bind_int64(stmt, 7, r->ts) == SQLITE_OK &&
	    sqlite3_bind_int64(stmt, 8, a->stream) == SQLITE_OK) {
		rc = sqlite3_step(stmt);
		res = rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(w, rc, "receipt put");
	}
	sqlite_stmt_put(w, SQ_RECEIPT_UPSERT, stmt);
	return res;
}

enum store_result sqlite_receipt_put(void *h, const struct store_receipt_new *r,
                                     int64_t *stream_out)
{
	struct sqlite_receipt_args a = { .r = r };
	enum store_result res;

	res = sqlite_writer_submit(h, job_receipt_put, &a);
	*stream_out = res == STORE_OK ? a.stream : 0;
	return res;
}

/* Fill d from (room_id, receipt_type, user_id, thread_id, event_id, ts,
 * stream); thread '' becomes NULL (unthreaded). */
static int sqlite_receipt_load(sqlite3_stmt *stmt, struct store_receipt *d)
{
	memset(d, 0, sizeof(*d));
	if (sqlite_col_text(stmt, 0, false, STORE_ID_MAX, &d->room_id) != 0 ||
	    sqlite_col_text(stmt, 1, false, STORE_RECEIPT_TYPE_MAX, &d->receipt_type) != 0 ||
	    sqlite_col_text(stmt, 2, false, STORE_USER_ID_MAX, &d->user_id) != 0 ||
	    sqlite_col_text(stmt, 3, false, STORE_ID_MAX, &d->thread_id) != 0 ||
	    sqlite_col_text(stmt, 4, false, STORE_ID_MAX, &d->event_id) != 0 ||
	    sqlite_col_int(stmt, 5, &d->ts) != 0 || sqlite_col_int(stmt, 6, &d->stream) != 0) {
		log_error("store: unreadable receipts row (wrong type, size, or out of memory)");
		goto err;
	}
	if (d->thread_id[0] == '\0') {
		free(d->thread_id);
		d->thread_id = NULL;
	}
	return 0;
err:
	free(d->room_id);
	free(d->receipt_type);
	free(d->user_id);
	free(d->thread_id);
	free(d->event_id);
	memset(d, 0, sizeof(*d));
	return -1;
}

/* The array of a list with room for item n (grown within STORE_STATE_MAX,
 * *cap updated), or NULL (logged; the old array is still the caller's). */
static void *sqlite_list_room(void *items, size_t n, size_t *cap, size_t size,
                              const char *what)
{
	void *grown;
	size_t want;

	if (n < *cap)
		return items;
	if (*cap >= STORE_STATE_MAX) {
		log_error("store: %s list too long; refusing it", what);
		return NULL;
	}
	want = *cap == 0 ? 16 : *cap * 2;
	grown = realloc(items, want * size);
	if (grown == NULL) {
		log_error("store: out of memory reading %s", what);
		return NULL;
	}
	*cap = want;
	return grown;
}

enum store_result sqlite_room_receipts(void *h, const char *room_id, const char *viewer_id,
                                       int64_t since, int64_t to,
                                       struct store_receipt_list *out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	enum store_result r = STORE_ERROR;
	sqlite3_stmt *stmt;
	size_t cap = 0;
	int rc;

	if (c == NULL || (stmt = sqlite_stmt_get(c, SQ_RECEIPTS_ROOM)) == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, room_id) != SQLITE_OK ||
	    sqlite_bind_text(stmt, 2, viewer_id) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 3, since) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 4, to) != SQLITE_OK)
		goto out;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct store_receipt *items = sqlite_list_room(out->items, out->n, &cap,
		                                               sizeof(*items), "receipt");
		if (items == NULL)
			goto out;
		out->items = items;
		if (sqlite_receipt_load(stmt, &out->items[out->n]) != 0)
			goto out;
		out->n++;
	}
	r = rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(c, rc, "room receipts");
out:
	sqlite_stmt_put(c, SQ_RECEIPTS_ROOM, stmt);
	if (r != STORE_OK)
		store_receipt_list_clear(out);
	return r;
}

/* A single-integer read: what the statement's one row holds. */
static enum store_result sqlite_counter_read(void *h, enum sqlite_stmt_id id, int64_t *out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	sqlite3_stmt *stmt;
	enum store_result r;
	int rc;

	*out = 0;
	if (c == NULL || (stmt = sqlite_stmt_get(c, id)) == NULL)
		return STORE_ERROR;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		r = sqlite_col_int(stmt, 0, out) == 0 && *out >= 0 ? STORE_OK : STORE_ERROR;
	else
		r = sqlite_result_of(c, rc == SQLITE_DONE ? SQLITE_ERROR : rc, "stream counter");
	sqlite_stmt_put(c, id, stmt);
	return r;
}

enum store_result sqlite_receipts_stream_max(void *h, int64_t *out)
{
	return sqlite_counter_read(h, SQ_RECEIPTS_MAX, out);
}

/* ---- presence --------------------------------------------------------- */

static enum store_result job_presence_put(struct sqlite_conn *w, void *arg)
{
	struct sqlite_presence_args *a = arg;
	enum store_result r;
	sqlite3_stmt *stmt;
	int rc;

	r = sqlite_counter_next(w, SQ_PRESENCE_NEXT, &a->stream);
	if (r != STORE_OK)
		return r;
	stmt = sqlite_stmt_get(w, SQ_PRESENCE_UPSERT);
	if (stmt == NULL)
		return STORE_ERROR;
	r = STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, a->user_id) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 2, a->presence) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 3, a->status_msg) == SQLITE_OK &&
	    sqlite3_bind_int64(stmt, 4, a->last_active_ts) == SQLITE_OK &&
	    sqlite3_bind_int64(stmt, 5, a->stream) == SQLITE_OK) {
		rc = sqlite3_step(stmt);
		r = rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(w, rc, "presence put");
	}
	sqlite_stmt_put(w, SQ_PRESENCE_UPSERT, stmt);
	return r;
}

enum store_result sqlite_presence_put(void *h, const char *user_id, const char *presence,
                                      const char *status_msg, int64_t last_active_ts,
                                      int64_t *stream_out)
{
	struct sqlite_presence_args a = {
		.user_id = user_id, .presence = presence, .status_msg = status_msg,
		.last_active_ts = last_active_ts,
	};
	enum store_result r;

	r = sqlite_writer_submit(h, job_presence_put, &a);
	*stream_out = r == STORE_OK ? a.stream : 0;
	return r;
}

/* Fill p from (user_id, presence, status_msg, last_active_ts, stream). */
static int sqlite_presence_load(sqlite3_stmt *stmt, struct store_presence *p)
{
	memset(p, 0, sizeof(*p));
	if (sqlite_col_text(stmt, 0, false, STORE_USER_ID_MAX, &p->user_id) != 0 ||
	    sqlite_col_text(stmt, 1, false, STORE_ID_MAX, &p->presence) != 0 ||
	    sqlite_col_text(stmt, 2, true, STORE_PRESENCE_MSG_MAX, &p->status_msg) != 0 ||
	    sqlite_col_int(stmt, 3, &p->last_active_ts) != 0 ||
	    sqlite_col_int(stmt, 4, &p->stream) != 0) {
		log_error("store: unreadable presence row (wrong type, size, or out of memory)");
		store_presence_clear(p);
		return -1;
	}
	return 0;
}

enum store_result sqlite_presence_get(void *h, const char *user_id,
                                      struct store_presence *out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	enum store_result r = STORE_ERROR;
	sqlite3_stmt *stmt;
	int rc;

	if (c == NULL || (stmt = sqlite_stmt_get(c, SQ_PRESENCE_GET)) == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, user_id) == SQLITE_OK) {
		rc = sqlite3_step(stmt);
		if (rc == SQLITE_DONE)
			r = STORE_NOT_FOUND;
		else if (rc == SQLITE_ROW)
			r = sqlite_presence_load(stmt, out) == 0 ? STORE_OK : STORE_ERROR;
		else
			r = sqlite_result_of(c, rc, "presence get");
	}
	sqlite_stmt_put(c, SQ_PRESENCE_GET, stmt);
	return r;
}

enum store_result sqlite_presence_visible(void *h, const char *viewer_id, int64_t since,
                                          int64_t to, struct store_presence_list *out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	enum store_result r = STORE_ERROR;
	sqlite3_stmt *stmt;
	size_t cap = 0;
	int rc;

	if (c == NULL || (stmt = sqlite_stmt_get(c, SQ_PRESENCE_VISIBLE)) == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, viewer_id) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 2, since) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 3, to) != SQLITE_OK)
		goto out;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct store_presence *items = sqlite_list_room(out->items, out->n, &cap,
		                                                sizeof(*items), "presence");
		if (items == NULL)
			goto out;
		out->items = items;
		if (sqlite_presence_load(stmt, &out->items[out->n]) != 0)
			goto out;
		out->n++;
	}
	r = rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(c, rc, "visible presence");
out:
	sqlite_stmt_put(c, SQ_PRESENCE_VISIBLE, stmt);
	if (r != STORE_OK)
		store_presence_list_clear(out);
	return r;
}

enum store_result sqlite_presence_stream_max(void *h, int64_t *out)
{
	return sqlite_counter_read(h, SQ_PRESENCE_MAX, out);
}
