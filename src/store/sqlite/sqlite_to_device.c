/*
 * sqlite_to_device: to-device messages in SQL. A send is one write job:
 * the sender's transaction row first (its primary key makes a retried
 * transaction a conflict before anything is queued), then one stream
 * position and one row per recipient device.
 */
#include "store/sqlite/sqlite_store.h"

#include <stdlib.h>
#include <string.h>

#include "util/log.h"

struct sqlite_td_send_args {
	const char *sender, *sender_device, *txn_id, *type;
	const struct store_to_device_new *msgs;
	size_t n;
};

static enum store_result td_next_pos(struct sqlite_conn *w, int64_t *pos)
{
	sqlite3_stmt *stmt = sqlite_stmt_get(w, SQ_TD_NEXT);
	enum store_result r = STORE_ERROR;
	int rc;

	if (stmt == NULL)
		return STORE_ERROR;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW && sqlite_col_int(stmt, 0, pos) == 0 && *pos > 0)
		r = sqlite3_step(stmt) == SQLITE_DONE ? STORE_OK : STORE_ERROR;
	else
		r = sqlite_result_of(w, rc == SQLITE_ROW ? SQLITE_ERROR : rc, "to-device stream");
	sqlite_stmt_put(w, SQ_TD_NEXT, stmt);
	return r;
}

static enum store_result td_insert(struct sqlite_conn *w, const struct sqlite_td_send_args *a,
                                   const struct store_to_device_new *m)
{
	sqlite3_stmt *stmt;
	enum store_result r;
	int64_t pos;

	r = td_next_pos(w, &pos);
	if (r != STORE_OK)
		return r;
	stmt = sqlite_stmt_get(w, SQ_TD_INSERT);
	if (stmt == NULL)
		return STORE_ERROR;
	r = STORE_ERROR;
	if (sqlite3_bind_int64(stmt, 1, pos) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 2, m->user_id) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 3, m->device_id) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 4, a->sender) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 5, a->type) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 6, m->content) == SQLITE_OK) {
		int rc = sqlite3_step(stmt);
		r = rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(w, rc, "to-device insert");
	}
	sqlite_stmt_put(w, SQ_TD_INSERT, stmt);
	return r;
}

static enum store_result job_to_device_send(struct sqlite_conn *w, void *arg)
{
	struct sqlite_td_send_args *a = arg;
	const char *txn[3] = { a->sender, a->sender_device, a->txn_id };
	enum store_result r;

	r = sqlite_exec_texts(w, SQ_TD_TXN_INSERT, txn, 3, NULL);
	for (size_t i = 0; r == STORE_OK && i < a->n; i++)
		r = td_insert(w, a, &a->msgs[i]);
	return r;
}

enum store_result sqlite_to_device_send(void *h, const char *sender, const char *sender_device,
                                        const char *txn_id, const char *type,
                                        const struct store_to_device_new *msgs, size_t n)
{
	struct sqlite_td_send_args a = { sender, sender_device, txn_id, type, msgs, n };
	return sqlite_writer_submit(h, job_to_device_send, &a);
}

struct sqlite_td_ack_args {
	const char *user_id, *device_id;
	int64_t upto;
};

static enum store_result job_to_device_ack(struct sqlite_conn *w, void *arg)
{
	struct sqlite_td_ack_args *a = arg;
	sqlite3_stmt *stmt = sqlite_stmt_get(w, SQ_TD_ACK);
	enum store_result r = STORE_ERROR;

	if (stmt == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, a->user_id) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 2, a->device_id) == SQLITE_OK &&
	    sqlite3_bind_int64(stmt, 3, a->upto) == SQLITE_OK) {
		int rc = sqlite3_step(stmt);
		r = rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(w, rc, "to-device ack");
	}
	sqlite_stmt_put(w, SQ_TD_ACK, stmt);
	return r;
}

enum store_result sqlite_to_device_ack(void *h, const char *user_id, const char *device_id,
                                       int64_t upto)
{
	struct sqlite_td_ack_args a = { user_id, device_id, upto };
	return sqlite_writer_submit(h, job_to_device_ack, &a);
}

static int td_load(sqlite3_stmt *stmt, struct store_to_device *m)
{
	memset(m, 0, sizeof(*m));
	if (sqlite_col_text(stmt, 0, false, STORE_ID_MAX, &m->sender) == 0 &&
	    sqlite_col_text(stmt, 1, false, STORE_ID_MAX, &m->type) == 0 &&
	    sqlite_col_text(stmt, 2, false, STORE_TEXT_MAX, &m->content) == 0 &&
	    sqlite_col_int(stmt, 3, &m->stream) == 0)
		return 0;
	free(m->sender);
	free(m->type);
	free(m->content);
	memset(m, 0, sizeof(*m));
	log_error("store: unreadable to_device row (wrong type, size, or out of memory)");
	return -1;
}

enum store_result sqlite_to_device_get(void *h, const char *user_id, const char *device_id,
                                       int64_t since, size_t limit,
                                       struct store_to_device_list *out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	sqlite3_stmt *stmt;
	enum store_result r = STORE_ERROR;
	int rc;

	if (c == NULL || (stmt = sqlite_stmt_get(c, SQ_TD_GET)) == NULL)
		return STORE_ERROR;
	out->items = calloc(limit ? limit : 1, sizeof(*out->items));
	if (out->items == NULL || sqlite_bind_text(stmt, 1, user_id) != SQLITE_OK ||
	    sqlite_bind_text(stmt, 2, device_id) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 3, since) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 4, (int64_t)limit) != SQLITE_OK)
		goto out;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW && out->n < limit) {
		if (td_load(stmt, &out->items[out->n]) != 0)
			goto out;
		out->n++;
	}
	r = rc == SQLITE_DONE || rc == SQLITE_ROW ? STORE_OK : sqlite_result_of(c, rc, "to-device get");
out:
	sqlite_stmt_put(c, SQ_TD_GET, stmt);
	if (r != STORE_OK)
		store_to_device_list_clear(out);
	return r;
}

enum store_result sqlite_to_device_stream_max(void *h, int64_t *out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	sqlite3_stmt *stmt;
	enum store_result r = STORE_ERROR;

	if (c == NULL || (stmt = sqlite_stmt_get(c, SQ_TD_MAX)) == NULL)
		return STORE_ERROR;
	if (sqlite3_step(stmt) == SQLITE_ROW && sqlite_col_int(stmt, 0, out) == 0)
		r = STORE_OK;
	sqlite_stmt_put(c, SQ_TD_MAX, stmt);
	return r;
}
