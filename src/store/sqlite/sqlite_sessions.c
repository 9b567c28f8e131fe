/*
 * sqlite_sessions: access and refresh tokens in SQL.
 *
 * Tokens exist here only as STORE_TOKEN_HASH_LEN-byte hashes. A session
 * (device + access token + optional refresh token) is written by one job,
 * so it lands whole or not at all. Rotation marks the old refresh token
 * used rather than deleting it, so a replayed refresh token is refused
 * (NOT_FOUND) instead of being mistaken for an unknown one being guessed.
 */
#include "store/sqlite/sqlite_store.h"

#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* Insert the optional refresh token, then the access token pointing at it,
 * for user_id/device_id (which may differ from s's on rotation). */
static enum store_result sqlite_tokens_issue(struct sqlite_conn *w,
                                             const struct store_session_new *s,
                                             const char *user_id, const char *device_id)
{
	sqlite3_stmt *stmt = NULL;
	enum store_result r = STORE_ERROR;
	sqlite3_int64 refresh_id = 0;
	int rc;

	if (s->with_refresh) {
		if ((stmt = sqlite_stmt_get(w, SQ_REFRESH_INSERT)) == NULL)
			return STORE_ERROR;
		if (sqlite3_bind_blob(stmt, 1, s->refresh_hash, STORE_TOKEN_HASH_LEN,
		                      SQLITE_STATIC) != SQLITE_OK ||
		    sqlite_bind_text(stmt, 2, user_id) != SQLITE_OK ||
		    sqlite_bind_text(stmt, 3, device_id) != SQLITE_OK ||
		    sqlite3_bind_int64(stmt, 4, s->now_ms) != SQLITE_OK ||
		    sqlite3_bind_int64(stmt, 5, s->refresh_expires_ts) != SQLITE_OK)
			goto out;
		rc = sqlite3_step(stmt);
		if (rc != SQLITE_DONE) {
			r = sqlite_result_of(w, rc, "refresh token insert");
			goto out;
		}
		refresh_id = sqlite3_last_insert_rowid(w->db);
		sqlite_stmt_put(w, SQ_REFRESH_INSERT, stmt);
	}
	if ((stmt = sqlite_stmt_get(w, SQ_ACCESS_INSERT)) == NULL)
		return STORE_ERROR;
	if (sqlite3_bind_blob(stmt, 1, s->access_hash, STORE_TOKEN_HASH_LEN,
	                      SQLITE_STATIC) != SQLITE_OK ||
	    sqlite_bind_text(stmt, 2, user_id) != SQLITE_OK ||
	    sqlite_bind_text(stmt, 3, device_id) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 4, s->now_ms) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 5, s->access_expires_ts) != SQLITE_OK ||
	    (s->with_refresh ? sqlite3_bind_int64(stmt, 6, refresh_id)
	                     : sqlite3_bind_null(stmt, 6)) != SQLITE_OK)
		goto out_access;
	rc = sqlite3_step(stmt);
	r = rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(w, rc, "access token insert");
out_access:
	sqlite_stmt_put(w, SQ_ACCESS_INSERT, stmt);
	return r;
out:
	sqlite_stmt_put(w, SQ_REFRESH_INSERT, stmt);
	return r;
}

static enum store_result job_session_create(struct sqlite_conn *w, void *arg)
{
	const struct store_session_new *s = arg;
	sqlite3_stmt *stmt;
	enum store_result r = STORE_ERROR;
	int rc;

	/* No tokens for an unknown or deactivated account. */
	r = sqlite_probe(w, SQ_USER_ACTIVE, s->user_id);
	if (r != STORE_OK)
		return r;
	if ((stmt = sqlite_stmt_get(w, SQ_DEVICE_INSERT_IF_NEW)) == NULL)
		return STORE_ERROR;
	r = STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, s->user_id) != SQLITE_OK ||
	    sqlite_bind_text(stmt, 2, s->device_id) != SQLITE_OK ||
	    sqlite_bind_text(stmt, 3, s->device_display_name) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 4, s->now_ms) != SQLITE_OK) {
		sqlite_stmt_put(w, SQ_DEVICE_INSERT_IF_NEW, stmt);
		return STORE_ERROR;
	}
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE)
		r = STORE_OK;
	else
		r = sqlite_result_of(w, rc, "device insert");
	/* No row inserted: the device exists. A login naming it replaces
	 * its session, so the tokens it had are revoked. */
	if (r == STORE_OK && sqlite3_changes(w->db) == 0)
		r = sqlite_device_tokens_delete(w, s->user_id, s->device_id);
	sqlite_stmt_put(w, SQ_DEVICE_INSERT_IF_NEW, stmt);
	if (r != STORE_OK)
		return r;
	return sqlite_tokens_issue(w, s, s->user_id, s->device_id);
}

enum store_result sqlite_session_create(void *h, const struct store_session_new *s)
{
	/* the job only reads s, which the blocked caller keeps alive */
	return sqlite_writer_submit(h, job_session_create, (void *)s);
}

enum store_result sqlite_access_token_lookup(void *h,
                                             const unsigned char hash[STORE_TOKEN_HASH_LEN],
                                             struct store_token_info *out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	sqlite3_stmt *stmt;
	enum store_result r = STORE_ERROR;
	int rc;

	if (c == NULL || (stmt = sqlite_stmt_get(c, SQ_ACCESS_LOOKUP)) == NULL)
		return STORE_ERROR;
	if (sqlite3_bind_blob(stmt, 1, hash, STORE_TOKEN_HASH_LEN, SQLITE_STATIC) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE) {
		r = STORE_NOT_FOUND;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		r = sqlite_result_of(c, rc, "access token lookup");
		goto out;
	}
	if (sqlite_col_text(stmt, 0, false, STORE_USER_ID_MAX, &out->user_id) != 0 ||
	    sqlite_col_text(stmt, 1, false, STORE_DEVICE_ID_MAX, &out->device_id) != 0 ||
	    sqlite_col_int(stmt, 2, &out->expires_ts) != 0 ||
	    sqlite_col_bool(stmt, 3, &out->admin) != 0 ||
	    sqlite_col_bool(stmt, 4, &out->deactivated) != 0 ||
	    sqlite_col_bool(stmt, 5, &out->locked) != 0 ||
	    sqlite_col_bool(stmt, 6, &out->suspended) != 0) {
		log_error("store: unreadable access_tokens row");
		store_token_info_clear(out);
		goto out;
	}
	r = STORE_OK;
out:
	sqlite_stmt_put(c, SQ_ACCESS_LOOKUP, stmt);
	return r;
}

struct sqlite_rotate_args {
	const unsigned char *old_hash;
	const struct store_session_new *s;
	char *user_id;              /* loaded from the old token, malloc'd */
	char *device_id;
};

/* Load the old refresh token; NOT_FOUND unless it can be rotated. */
static enum store_result sqlite_refresh_load(struct sqlite_conn *w,
                                             struct sqlite_rotate_args *a, int64_t *id)
{
	sqlite3_stmt *stmt = sqlite_stmt_get(w, SQ_REFRESH_GET);
	enum store_result r = STORE_ERROR;
	int64_t expires_ts;
	bool used, deactivated;
	int rc;

	if (stmt == NULL)
		return STORE_ERROR;
	if (sqlite3_bind_blob(stmt, 1, a->old_hash, STORE_TOKEN_HASH_LEN,
	                      SQLITE_STATIC) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE) {
		r = STORE_NOT_FOUND;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		r = sqlite_result_of(w, rc, "refresh token get");
		goto out;
	}
	if (sqlite_col_int(stmt, 0, id) != 0 ||
	    sqlite_col_text(stmt, 1, false, STORE_USER_ID_MAX, &a->user_id) != 0 ||
	    sqlite_col_text(stmt, 2, false, STORE_DEVICE_ID_MAX, &a->device_id) != 0 ||
	    sqlite_col_int(stmt, 3, &expires_ts) != 0 || sqlite_col_bool(stmt, 4, &used) != 0 ||
	    sqlite_col_bool(stmt, 5, &deactivated) != 0 ||
	    !store_user_id_ok(a->user_id) || !store_device_id_ok(a->device_id)) {
		/* we are about to write tokens under these IDs: check them now */
		log_error("store: unreadable refresh_tokens row");
		goto out;
	}
	if (used || deactivated || (expires_ts != 0 && expires_ts <= a->s->now_ms))
		r = STORE_NOT_FOUND;
	else
		r = STORE_OK;
out:
	sqlite_stmt_put(w, SQ_REFRESH_GET, stmt);
	return r;
}

static enum store_result job_refresh_rotate(struct sqlite_conn *w, void *arg)
{
	struct sqlite_rotate_args *a = arg;
	sqlite3_stmt *stmt = NULL;
	enum store_result r;
	int64_t id = 0;
	int rc;

	r = sqlite_refresh_load(w, a, &id);
	if (r != STORE_OK)
		return r;
	for (int i = 0; i < 2 && r == STORE_OK; i++) {
		/* used first, then the access token issued with it */
		enum sqlite_stmt_id sid = i == 0 ? SQ_REFRESH_MARK_USED : SQ_ACCESS_DELETE_BY_REFRESH;

		if ((stmt = sqlite_stmt_get(w, sid)) == NULL)
			return STORE_ERROR;
		if (sqlite3_bind_int64(stmt, 1, id) != SQLITE_OK)
			r = STORE_ERROR;
		else if ((rc = sqlite3_step(stmt)) != SQLITE_DONE)
			r = sqlite_result_of(w, rc, "refresh rotate");
		sqlite_stmt_put(w, sid, stmt);
	}
	if (r != STORE_OK)
		return r;
	return sqlite_tokens_issue(w, a->s, a->user_id, a->device_id);
}

enum store_result sqlite_refresh_rotate(void *h,
                                        const unsigned char old_hash[STORE_TOKEN_HASH_LEN],
                                        const struct store_session_new *s,
                                        char **out_user_id, char **out_device_id)
{
	struct sqlite_rotate_args a = { .old_hash = old_hash, .s = s };
	enum store_result r;

	r = sqlite_writer_submit(h, job_refresh_rotate, &a);
	if (r != STORE_OK) {
		free(a.user_id);
		free(a.device_id);
		return r;
	}
	*out_user_id = a.user_id;
	*out_device_id = a.device_id;
	return STORE_OK;
}
