/*
 * sqlite_sessions: access and refresh tokens in SQL.
 *
 * Tokens exist here only as STORE_TOKEN_HASH_LEN-byte hashes. A session
 * (device + access token + optional refresh token) is written by one job,
 * so it lands whole or not at all.
 *
 * Refresh, as the spec has it ("The old refresh token remains valid until
 * the new access token or refresh token is used, at which point the old
 * refresh token is revoked. This ensures that if a client fails to receive
 * or persist the new tokens, it will be able to repeat the refresh
 * operation.", Client-Server API, Refreshing access tokens):
 * - rotating R issues R' with parent_id = R (and its access token A'),
 *   expires the access token issued with R (soft logout, not unknown), and
 *   drops any earlier never-used pair issued from R (lost by the client);
 * - the first use of A' (a lookup) or of R' (a rotation) confirms: R is
 *   marked used (refused from then on) and R'.parent_id cleared;
 * - a device keeps at most one used generation, so rows stay bounded.
 */
#include "store/sqlite/sqlite_store.h"

#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* Insert the optional refresh token (remembering parent_id, 0 for none),
 * then the access token pointing at it, for user_id/device_id (which may
 * differ from s's on rotation). Without a new refresh token the access
 * token points at keep_refresh_id (0 for none): the refresh token it was
 * issued from, which stays the one to refresh with. */
static enum store_result sqlite_tokens_issue(struct sqlite_conn *w,
                                             const struct store_session_new *s,
                                             const char *user_id, const char *device_id,
                                             int64_t parent_id, int64_t keep_refresh_id)
{
	sqlite3_stmt *stmt = NULL;
	enum store_result r = STORE_ERROR;
	int64_t refresh_id = keep_refresh_id;
	int rc;

	if (s->with_refresh) {
		if ((stmt = sqlite_stmt_get(w, SQ_REFRESH_INSERT)) == NULL)
			return STORE_ERROR;
		if (sqlite3_bind_blob(stmt, 1, s->refresh_hash, STORE_TOKEN_HASH_LEN,
		                      SQLITE_STATIC) != SQLITE_OK ||
		    sqlite_bind_text(stmt, 2, user_id) != SQLITE_OK ||
		    sqlite_bind_text(stmt, 3, device_id) != SQLITE_OK ||
		    sqlite3_bind_int64(stmt, 4, s->now_ms) != SQLITE_OK ||
		    sqlite3_bind_int64(stmt, 5, s->refresh_expires_ts) != SQLITE_OK ||
		    (parent_id != 0 ? sqlite3_bind_int64(stmt, 6, parent_id)
		                    : sqlite3_bind_null(stmt, 6)) != SQLITE_OK)
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
	    (refresh_id != 0 ? sqlite3_bind_int64(stmt, 6, refresh_id)
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
	return sqlite_tokens_issue(w, s, s->user_id, s->device_id, 0, 0);
}

enum store_result sqlite_session_create(void *h, const struct store_session_new *s)
{
	/* the job only reads s, which the blocked caller keeps alive */
	return sqlite_writer_submit(h, job_session_create, (void *)s);
}

/* The new pair issued from a refresh token has been used (its access
 * token authenticated a request, or its refresh token was presented): the
 * refresh token it came from is revoked now. It is kept one generation,
 * marked used, so that the access token issued with it still answers as
 * an expired token (soft logout) rather than an unknown one; the
 * generation before it goes for good. Idempotent: re-reads inside the
 * transaction, so two first uses racing do the work once. */
static enum store_result sqlite_refresh_confirm(struct sqlite_conn *w, int64_t refresh_id)
{
	sqlite3_stmt *stmt = sqlite_stmt_get(w, SQ_REFRESH_PARENT_GET);
	enum store_result r = STORE_ERROR;
	char *user_id = NULL, *device_id = NULL;
	int64_t parent = 0;
	int rc;

	if (stmt == NULL)
		return STORE_ERROR;
	if (sqlite3_bind_int64(stmt, 1, refresh_id) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE) {
		r = STORE_OK;          /* gone meanwhile (device deleted): nothing to do */
		goto out;
	}
	if (rc != SQLITE_ROW) {
		r = sqlite_result_of(w, rc, "refresh token parent");
		goto out;
	}
	if (sqlite_col_id(stmt, 0, &parent) != 0 ||
	    sqlite_col_text(stmt, 1, false, STORE_USER_ID_MAX, &user_id) != 0 ||
	    sqlite_col_text(stmt, 2, false, STORE_DEVICE_ID_MAX, &device_id) != 0) {
		log_error("store: unreadable refresh_tokens row");
		goto out;
	}
	sqlite_stmt_put(w, SQ_REFRESH_PARENT_GET, stmt);
	stmt = NULL;
	r = STORE_OK;
	if (parent != 0) {
		const char *texts[2] = { user_id, device_id };

		r = sqlite_exec_texts(w, SQ_ACCESS_DELETE_USED, texts, 2, NULL);
		if (r == STORE_OK)
			r = sqlite_exec_texts(w, SQ_REFRESH_DELETE_USED, texts, 2, NULL);
		if (r == STORE_OK)
			r = sqlite_exec_ints(w, SQ_REFRESH_MARK_USED, &parent, 1, NULL);
		if (r == STORE_OK)
			r = sqlite_exec_ints(w, SQ_REFRESH_CLEAR_PARENT, &refresh_id, 1, NULL);
	}
out:
	sqlite_stmt_put(w, SQ_REFRESH_PARENT_GET, stmt);
	free(user_id);
	free(device_id);
	return r;
}

static enum store_result job_refresh_confirm(struct sqlite_conn *w, void *arg)
{
	return sqlite_refresh_confirm(w, *(const int64_t *)arg);
}

/* Fill out from an SQ_ACCESS_LOOKUP row; *pending_refresh is the refresh
 * token to confirm when this is the first use of a refreshed pair. */
static int sqlite_token_info_load(sqlite3_stmt *stmt, struct store_token_info *out,
                                  int64_t *pending_refresh)
{
	int64_t refresh_id, parent_id;

	*pending_refresh = 0;
	if (sqlite_col_text(stmt, 0, false, STORE_USER_ID_MAX, &out->user_id) != 0 ||
	    sqlite_col_text(stmt, 1, false, STORE_DEVICE_ID_MAX, &out->device_id) != 0 ||
	    sqlite_col_int(stmt, 2, &out->expires_ts) != 0 ||
	    sqlite_col_bool(stmt, 3, &out->admin) != 0 ||
	    sqlite_col_bool(stmt, 4, &out->deactivated) != 0 ||
	    sqlite_col_bool(stmt, 5, &out->locked) != 0 ||
	    sqlite_col_bool(stmt, 6, &out->suspended) != 0 ||
	    sqlite_col_id(stmt, 7, &refresh_id) != 0 || sqlite_col_id(stmt, 8, &parent_id) != 0) {
		log_error("store: unreadable access_tokens row");
		store_token_info_clear(out);
		return -1;
	}
	if (refresh_id != 0 && parent_id != 0)
		*pending_refresh = refresh_id;
	return 0;
}

enum store_result sqlite_access_token_lookup(void *h,
                                             const unsigned char hash[STORE_TOKEN_HASH_LEN],
                                             struct store_token_info *out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	sqlite3_stmt *stmt;
	enum store_result r = STORE_ERROR;
	int64_t pending = 0;
	int rc;

	if (c == NULL || (stmt = sqlite_stmt_get(c, SQ_ACCESS_LOOKUP)) == NULL)
		return STORE_ERROR;
	if (sqlite3_bind_blob(stmt, 1, hash, STORE_TOKEN_HASH_LEN, SQLITE_STATIC) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE)
		r = STORE_NOT_FOUND;
	else if (rc != SQLITE_ROW)
		r = sqlite_result_of(c, rc, "access token lookup");
	else if (sqlite_token_info_load(stmt, out, &pending) == 0)
		r = STORE_OK;
out:
	sqlite_stmt_put(c, SQ_ACCESS_LOOKUP, stmt);
	/* Once per refresh, not per request: the first use of the new pair
	 * revokes the refresh token it came from. If that write fails the
	 * request fails too, rather than leave the old token valid silently. */
	if (r == STORE_OK && pending != 0) {
		r = sqlite_writer_submit(h, job_refresh_confirm, &pending);
		if (r != STORE_OK) {
			store_token_info_clear(out);
			r = STORE_ERROR;
		}
	}
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
                                             struct sqlite_rotate_args *a, int64_t *id,
                                             int64_t *parent_id)
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
	    sqlite_col_id(stmt, 6, parent_id) != 0 ||
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
	enum store_result r;
	int64_t id = 0, parent_id = 0, expire[2];

	r = sqlite_refresh_load(w, a, &id, &parent_id);
	/* Presenting a refresh token that came from a refresh is a use of
	 * that new pair: its parent is revoked. */
	if (r == STORE_OK && parent_id != 0)
		r = sqlite_refresh_confirm(w, id);
	/* A pair issued from this token earlier and never used was lost by
	 * the client ("if a client fails to receive or persist the new
	 * tokens, it will be able to repeat the refresh operation"). */
	if (r == STORE_OK)
		r = sqlite_exec_ints(w, SQ_ACCESS_DELETE_CHILDREN, &id, 1, NULL);
	if (r == STORE_OK)
		r = sqlite_exec_ints(w, SQ_REFRESH_DELETE_CHILDREN, &id, 1, NULL);
	/* The access token issued with the old refresh token expires now: a
	 * client still using it is told soft_logout, its device lives on. */
	expire[0] = id;
	expire[1] = a->s->now_ms;
	if (r == STORE_OK)
		r = sqlite_exec_ints(w, SQ_ACCESS_EXPIRE_BY_REFRESH, expire, 2, NULL);
	if (r != STORE_OK)
		return r;
	return sqlite_tokens_issue(w, a->s, a->user_id, a->device_id, id, id);
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
