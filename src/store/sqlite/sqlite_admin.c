/*
 * sqlite_admin: incident response in SQL: account lock and suspension
 * flags, the server-notices room of each user, the events an admin
 * redaction removes, the list of every room, and admin redaction jobs.
 *
 * Reads run on the calling thread's reader connection as one statement.
 * Writes are job functions run by the writer thread inside a savepoint;
 * argument strings are borrowed from the blocked caller.
 */
#include "store/sqlite/sqlite_store.h"

#include <stdlib.h>
#include <string.h>

#include "util/log.h"

struct sqlite_admin_args {
	const char *user_id;
	const char *room_id;
	enum sqlite_stmt_id stmt;
	bool flag;
	const struct store_redaction_job *job;
};

/* ---- lock and suspend ------------------------------------------------- */

static enum store_result job_user_set_flag(struct sqlite_conn *w, void *arg)
{
	struct sqlite_admin_args *a = arg;
	sqlite3_stmt *stmt = sqlite_stmt_get(w, a->stmt);
	enum store_result r = STORE_ERROR;
	int rc;

	if (stmt == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, a->user_id) != SQLITE_OK ||
	    sqlite3_bind_int(stmt, 2, a->flag ? 1 : 0) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE)
		r = sqlite3_changes(w->db) > 0 ? STORE_OK : STORE_NOT_FOUND;
	else
		r = sqlite_result_of(w, rc, "user set lock/suspend flag");
out:
	sqlite_stmt_put(w, a->stmt, stmt);
	return r;
}

enum store_result sqlite_user_set_locked(void *h, const char *user_id, bool locked)
{
	struct sqlite_admin_args a = { .user_id = user_id, .flag = locked,
	                               .stmt = SQ_USER_SET_LOCKED };

	return sqlite_writer_submit(h, job_user_set_flag, &a);
}

enum store_result sqlite_user_set_suspended(void *h, const char *user_id, bool suspended)
{
	struct sqlite_admin_args a = { .user_id = user_id, .flag = suspended,
	                               .stmt = SQ_USER_SET_SUSPENDED };

	return sqlite_writer_submit(h, job_user_set_flag, &a);
}

/* ---- server-notices rooms --------------------------------------------- */

enum store_result sqlite_server_notice_room_get(void *h, const char *user_id,
                                                char **room_id_out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	sqlite3_stmt *stmt;
	enum store_result r = STORE_ERROR;
	int rc;

	if (c == NULL || (stmt = sqlite_stmt_get(c, SQ_NOTICE_ROOM_GET)) == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, user_id) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		r = sqlite_col_text(stmt, 0, false, STORE_ID_MAX, room_id_out) == 0 ? STORE_OK
		                                                                     : STORE_ERROR;
	else if (rc == SQLITE_DONE)
		r = STORE_NOT_FOUND;
	else
		r = sqlite_result_of(c, rc, "server notice room get");
out:
	sqlite_stmt_put(c, SQ_NOTICE_ROOM_GET, stmt);
	return r;
}

static enum store_result job_notice_room_set(struct sqlite_conn *w, void *arg)
{
	struct sqlite_admin_args *a = arg;
	const char *texts[2] = { a->user_id, a->room_id };

	return sqlite_exec_texts(w, SQ_NOTICE_ROOM_INSERT, texts, 2, NULL);
}

enum store_result sqlite_server_notice_room_set(void *h, const char *user_id,
                                                const char *room_id)
{
	struct sqlite_admin_args a = { .user_id = user_id, .room_id = room_id };

	return sqlite_writer_submit(h, job_notice_room_set, &a);
}

/* ---- ID lists --------------------------------------------------------- */

/* Step a bound statement whose rows are one ID each, at most limit. */
static enum store_result sqlite_id_rows(struct sqlite_conn *c, sqlite3_stmt *stmt, size_t limit,
                                        const char *what, char ***ids_out, size_t *n_out)
{
	char **ids = calloc(limit > 0 ? limit : 1, sizeof(*ids));
	size_t n = 0;
	int rc = SQLITE_DONE;

	if (ids == NULL)
		return STORE_ERROR;
	while (n < limit && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (sqlite_col_text(stmt, 0, false, STORE_ID_MAX, &ids[n]) != 0) {
			log_error("store: unreadable row in %s", what);
			goto err;
		}
		n++;
	}
	if (n < limit && rc != SQLITE_DONE) {
		sqlite_result_of(c, rc, what);
		goto err;
	}
	*ids_out = ids;
	*n_out = n;
	return STORE_OK;
err:
	store_room_ids_free(ids, n);
	return STORE_ERROR;
}

enum store_result sqlite_room_sender_events(void *h, const char *room_id, const char *sender,
                                            size_t limit, char ***ids_out, size_t *n_out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	sqlite3_stmt *stmt;
	enum store_result r = STORE_ERROR;

	if (c == NULL || (stmt = sqlite_stmt_get(c, SQ_ROOM_SENDER_EVENTS)) == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, room_id) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 2, sender) == SQLITE_OK &&
	    sqlite3_bind_int64(stmt, 3, (sqlite3_int64)limit) == SQLITE_OK)
		r = sqlite_id_rows(c, stmt, limit, "sender events", ids_out, n_out);
	sqlite_stmt_put(c, SQ_ROOM_SENDER_EVENTS, stmt);
	return r;
}

enum store_result sqlite_rooms_all(void *h, const char *since, size_t limit,
                                   char ***ids_out, size_t *n_out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	sqlite3_stmt *stmt;
	enum store_result r = STORE_ERROR;

	if (c == NULL || (stmt = sqlite_stmt_get(c, SQ_ROOMS_ALL)) == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, since != NULL ? since : "") == SQLITE_OK &&
	    sqlite3_bind_int64(stmt, 2, (sqlite3_int64)limit) == SQLITE_OK)
		r = sqlite_id_rows(c, stmt, limit, "rooms", ids_out, n_out);
	sqlite_stmt_put(c, SQ_ROOMS_ALL, stmt);
	return r;
}

/* ---- admin redaction jobs --------------------------------------------- */

static enum store_result job_redaction_put(struct sqlite_conn *w, void *arg)
{
	struct sqlite_admin_args *a = arg;
	const struct store_redaction_job *j = a->job;
	sqlite3_stmt *stmt = sqlite_stmt_get(w, SQ_REDACTION_JOB_INSERT);
	enum store_result r = STORE_ERROR;
	int rc;

	if (stmt == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, j->redact_id) != SQLITE_OK ||
	    sqlite_bind_text(stmt, 2, j->user_id) != SQLITE_OK ||
	    sqlite_bind_text(stmt, 3, j->status) != SQLITE_OK ||
	    sqlite_bind_text(stmt, 4, j->failed_json) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 5, j->created_ts) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	r = rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(w, rc, "redaction job put");
out:
	sqlite_stmt_put(w, SQ_REDACTION_JOB_INSERT, stmt);
	return r;
}

enum store_result sqlite_redaction_job_put(void *h, const struct store_redaction_job *j)
{
	struct sqlite_admin_args a = { .job = j };

	return sqlite_writer_submit(h, job_redaction_put, &a);
}

enum store_result sqlite_redaction_job_get(void *h, const char *redact_id,
                                           struct store_redaction_job *out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	sqlite3_stmt *stmt;
	enum store_result r = STORE_ERROR;
	int rc;

	if (c == NULL || (stmt = sqlite_stmt_get(c, SQ_REDACTION_JOB_GET)) == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, redact_id) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		if (sqlite_col_text(stmt, 0, false, STORE_ADMIN_REDACT_ID_MAX, &out->redact_id) == 0 &&
		    sqlite_col_text(stmt, 1, false, STORE_USER_ID_MAX, &out->user_id) == 0 &&
		    sqlite_col_text(stmt, 2, false, STORE_ADMIN_STATUS_MAX, &out->status) == 0 &&
		    sqlite_col_text(stmt, 3, false, STORE_ADMIN_FAILED_MAX, &out->failed_json) == 0 &&
		    sqlite_col_int(stmt, 4, &out->created_ts) == 0) {
			r = STORE_OK;
		} else {
			log_error("store: unreadable admin_redactions row");
			store_redaction_job_clear(out);
		}
	} else if (rc == SQLITE_DONE) {
		r = STORE_NOT_FOUND;
	} else {
		r = sqlite_result_of(c, rc, "redaction job get");
	}
out:
	sqlite_stmt_put(c, SQ_REDACTION_JOB_GET, stmt);
	return r;
}
