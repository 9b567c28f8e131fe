/*
 * sqlite_rooms: rooms, and persisting events, in SQL.
 *
 * store_events_persist is ONE write job, so the optional room, every event
 * of the batch and what each event implies (transaction ID, current state,
 * membership history, redaction of its target) share the job's SAVEPOINT:
 * any failure or conflict rolls all of it back and the batch leaves no row.
 * Stream positions are events.stream (INTEGER PRIMARY KEY AUTOINCREMENT):
 * one writer thread assigns them in commit order, so a reader that sees
 * position P also sees every position below it.
 *
 * Reads run on the calling thread's reader connection; argument strings
 * are borrowed from the caller, who is blocked while its job runs.
 */
#include "store/sqlite/sqlite_store.h"

#include <stdlib.h>
#include <string.h>

#include "util/log.h"

struct sqlite_persist_args {
	const struct store_room_new *room;
	const struct store_event_new *events;
	size_t n;
	int64_t *streams;              /* n entries, filled as events go in */
};

struct sqlite_room_args {
	const char *room_id;
	bool published;
};

/* ---- the persist job -------------------------------------------------- */

static enum store_result sqlite_room_insert(struct sqlite_conn *w, const struct store_room_new *r)
{
	sqlite3_stmt *stmt = sqlite_stmt_get(w, SQ_ROOM_INSERT);
	enum store_result res = STORE_ERROR;
	int rc;

	if (stmt == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, r->room_id) != SQLITE_OK ||
	    sqlite_bind_text(stmt, 2, r->room_version) != SQLITE_OK ||
	    sqlite_bind_text(stmt, 3, r->creator) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 4, r->created_ts) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	res = rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(w, rc, "room insert");
out:
	sqlite_stmt_put(w, SQ_ROOM_INSERT, stmt);
	return res;
}

/* Insert the events row; *stream receives its position. */
static enum store_result sqlite_event_insert(struct sqlite_conn *w, const struct store_event_new *e,
                                             int64_t *stream)
{
	sqlite3_stmt *stmt = sqlite_stmt_get(w, SQ_EVENT_INSERT);
	enum store_result r = STORE_ERROR;
	int rc;

	if (stmt == NULL)
		return STORE_ERROR;
	/* json_len is bounded by STORE_EVENT_MAX_BYTES (checked by the front) */
	if (sqlite_bind_text(stmt, 1, e->event_id) != SQLITE_OK ||
	    sqlite_bind_text(stmt, 2, e->room_id) != SQLITE_OK ||
	    sqlite_bind_text(stmt, 3, e->type) != SQLITE_OK ||
	    sqlite_bind_text(stmt, 4, e->state_key) != SQLITE_OK ||
	    sqlite_bind_text(stmt, 5, e->sender) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 6, e->origin_ts) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 7, e->depth) != SQLITE_OK ||
	    sqlite3_bind_text(stmt, 8, e->json, (int)e->json_len, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite_bind_text(stmt, 9, e->prev_content) != SQLITE_OK ||
	    sqlite_bind_text(stmt, 10, e->txn_id) != SQLITE_OK ||
	    sqlite_bind_text(stmt, 11, e->txn_device_id) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_DONE) {
		r = sqlite_result_of(w, rc, "event insert");
		goto out;
	}
	*stream = sqlite3_last_insert_rowid(w->db);
	r = STORE_OK;
out:
	sqlite_stmt_put(w, SQ_EVENT_INSERT, stmt);
	return r;
}

/* Bind texts to ?1.. and the stream to ?n+1, run without result rows. */
static enum store_result sqlite_exec_texts_stream(struct sqlite_conn *w, enum sqlite_stmt_id id,
                                                  const char *const *texts, int n,
                                                  int64_t stream)
{
	sqlite3_stmt *stmt = sqlite_stmt_get(w, id);
	enum store_result r = STORE_ERROR;
	int rc;

	if (stmt == NULL)
		return STORE_ERROR;
	for (int i = 0; i < n; i++) {
		if (sqlite_bind_text(stmt, i + 1, texts[i]) != SQLITE_OK)
			goto out;
	}
	if (sqlite3_bind_int64(stmt, n + 1, stream) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	r = rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(w, rc, "event side table");
out:
	sqlite_stmt_put(w, id, stmt);
	return r;
}

/* What an event implies besides its own row, in the order the contract
 * lists it: transaction ID, current state, membership, redaction. */
static enum store_result sqlite_event_effects(struct sqlite_conn *w,
                                              const struct store_event_new *e, int64_t stream)
{
	enum store_result r = STORE_OK;

	if (e->txn_id != NULL) {
		const char *t[4] = { e->sender, e->txn_device_id, e->txn_id, e->event_id };
		r = sqlite_exec_texts(w, SQ_TXN_INSERT, t, 4, NULL);
	}
	if (r == STORE_OK && e->state_key != NULL) {
		const char *t[4] = { e->room_id, e->type, e->state_key, e->event_id };
		r = sqlite_exec_texts_stream(w, SQ_STATE_UPSERT, t, 4, stream);
	}
	if (r == STORE_OK && e->membership != NULL) {
		const char *t[4] = { e->room_id, e->state_key, e->membership, e->event_id };
		r = sqlite_exec_texts_stream(w, SQ_MEMBERSHIP_INSERT, t, 4, stream);
	}
	if (r == STORE_OK && e->redacts != NULL) {
		/* A target not stored (yet), or in another room, is left alone:
		 * a redaction may arrive before what it redacts. */
		const char *t[4] = { e->redacts, e->event_id, e->redacted_json, e->room_id };
		r = sqlite_exec_texts(w, SQ_EVENT_REDACT, t, 4, NULL);
	}
	if (r == STORE_OK && e->rel_type != NULL)   /* relations feature */
		r = sqlite_relation_insert(w, e, stream);
	/* search feature: index the event; a redaction unindexes its target */
	if (r == STORE_OK && e->search_text != NULL)
		r = sqlite_search_index(w, e, stream);
	if (r == STORE_OK && e->redacts != NULL)
		r = sqlite_search_unindex(w, e->redacts, e->room_id);
	return r;
}

static enum store_result job_events_persist(struct sqlite_conn *w, void *arg)
{
	struct sqlite_persist_args *a = arg;
	const char *checked_room = NULL;
	enum store_result r = STORE_OK;

	if (a->room != NULL) {
		r = sqlite_room_insert(w, a->room);
		if (r != STORE_OK)
			return r;
		checked_room = a->room->room_id;
	}
	for (size_t i = 0; i < a->n && r == STORE_OK; i++) {
		const struct store_event_new *e = &a->events[i];

		/* An unknown room is NOT_FOUND, not a foreign-key error; a batch
		 * is nearly always one room, so the probe runs once. */
		if (checked_room == NULL || strcmp(checked_room, e->room_id) != 0) {
			r = sqlite_probe(w, SQ_ROOM_EXISTS, e->room_id);
			if (r != STORE_OK)
				break;
			checked_room = e->room_id;
		}
		r = sqlite_event_insert(w, e, &a->streams[i]);
		if (r == STORE_OK)
			r = sqlite_event_effects(w, e, a->streams[i]);
	}
	return r;
}

enum store_result sqlite_events_persist(void *h, const struct store_room_new *room,
                                        const struct store_event_new *events, size_t n,
                                        int64_t *streams_out)
{
	struct sqlite_persist_args a = { room, events, n, NULL };
	enum store_result r;

	/* The job fills a private array: the caller's sees positions only
	 * once they are committed. */
	a.streams = calloc(n > 0 ? n : 1, sizeof(*a.streams));
	if (a.streams == NULL) {
		log_error("store: out of memory persisting events");
		return STORE_ERROR;
	}
	r = sqlite_writer_submit(h, job_events_persist, &a);
	if (r == STORE_OK && streams_out != NULL)
		memcpy(streams_out, a.streams, n * sizeof(*a.streams));
	free(a.streams);
	return r;
}

/* ---- rooms ------------------------------------------------------------ */

static int sqlite_room_load(sqlite3_stmt *stmt, struct store_room *out)
{
	memset(out, 0, sizeof(*out));
	if (sqlite_col_text(stmt, 0, false, STORE_ID_MAX, &out->room_id) != 0 ||
	    sqlite_col_text(stmt, 1, false, STORE_ID_MAX, &out->room_version) != 0 ||
	    sqlite_col_text(stmt, 2, false, STORE_USER_ID_MAX, &out->creator) != 0 ||
	    sqlite_col_int(stmt, 3, &out->created_ts) != 0 ||
	    sqlite_col_bool(stmt, 4, &out->published) != 0) {
		log_error("store: unreadable rooms row (wrong type, size, or out of memory)");
		store_room_clear(out);
		return -1;
	}
	return 0;
}

enum store_result sqlite_room_get(void *h, const char *room_id, struct store_room *out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	sqlite3_stmt *stmt;
	enum store_result r = STORE_ERROR;
	int rc;

	if (c == NULL || (stmt = sqlite_stmt_get(c, SQ_ROOM_GET)) == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, room_id) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		r = sqlite_room_load(stmt, out) == 0 ? STORE_OK : STORE_ERROR;
	else if (rc == SQLITE_DONE)
		r = STORE_NOT_FOUND;
	else
		r = sqlite_result_of(c, rc, "room get");
out:
	sqlite_stmt_put(c, SQ_ROOM_GET, stmt);
	return r;
}

static enum store_result job_room_set_published(struct sqlite_conn *w, void *arg)
{
	struct sqlite_room_args *a = arg;
	sqlite3_stmt *stmt = sqlite_stmt_get(w, SQ_ROOM_SET_PUBLISHED);
	enum store_result r = STORE_ERROR;
	int rc;

	if (stmt == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, a->room_id) != SQLITE_OK ||
	    sqlite3_bind_int(stmt, 2, a->published ? 1 : 0) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE)
		r = sqlite3_changes(w->db) > 0 ? STORE_OK : STORE_NOT_FOUND;
	else
		r = sqlite_result_of(w, rc, "room set published");
out:
	sqlite_stmt_put(w, SQ_ROOM_SET_PUBLISHED, stmt);
	return r;
}

enum store_result sqlite_room_set_published(void *h, const char *room_id, bool published)
{
	struct sqlite_room_args a = { room_id, published };

	return sqlite_writer_submit(h, job_room_set_published, &a);
}

enum store_result sqlite_rooms_published(void *h, const char *since, size_t limit,
                                         char ***room_ids_out, size_t *n_out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	sqlite3_stmt *stmt;
	char **ids = NULL;
	size_t n = 0;
	enum store_result r = STORE_ERROR;
	int rc = SQLITE_DONE;

	if (c == NULL || (stmt = sqlite_stmt_get(c, SQ_ROOMS_PUBLISHED)) == NULL)
		return STORE_ERROR;
	/* limit is at most STORE_LIST_LIMIT_MAX (the front lowers it) */
	ids = calloc(limit > 0 ? limit : 1, sizeof(*ids));
	if (ids == NULL ||
	    sqlite_bind_text(stmt, 1, since != NULL ? since : "") != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 2, (sqlite3_int64)limit) != SQLITE_OK)
		goto out;
	while (n < limit && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (sqlite_col_text(stmt, 0, false, STORE_ID_MAX, &ids[n]) != 0) {
			log_error("store: unreadable rooms row in the directory");
			goto out;
		}
		n++;
	}
	if (n < limit && rc != SQLITE_DONE) {
		sqlite_result_of(c, rc, "rooms published");
		goto out;
	}
	*room_ids_out = ids;
	*n_out = n;
	ids = NULL;
	r = STORE_OK;
out:
	sqlite_stmt_put(c, SQ_ROOMS_PUBLISHED, stmt);
	store_room_ids_free(ids, n);
	return r;
}

/* A single-integer read: what the statement's one row holds. */
static enum store_result sqlite_read_int(void *h, enum sqlite_stmt_id id, int64_t *out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	sqlite3_stmt *stmt;
	enum store_result r = STORE_ERROR;
	int rc;

	*out = 0;
	if (c == NULL || (stmt = sqlite_stmt_get(c, id)) == NULL)
		return STORE_ERROR;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		r = sqlite_col_int(stmt, 0, out) == 0 && *out >= 0 ? STORE_OK : STORE_ERROR;
	else
		r = sqlite_result_of(c, rc, "stream position");
	sqlite_stmt_put(c, id, stmt);
	return r;
}

/* MAX on the INTEGER PRIMARY KEY is one b-tree seek, and a reader only
 * sees committed transactions: never a position still being written. */
enum store_result sqlite_stream_max(void *h, int64_t *out)
{
	return sqlite_read_int(h, SQ_STREAM_MAX, out);
}

enum store_result sqlite_account_data_stream_max(void *h, int64_t *out)
{
	return sqlite_read_int(h, SQ_ACCOUNT_DATA_MAX, out);
}
