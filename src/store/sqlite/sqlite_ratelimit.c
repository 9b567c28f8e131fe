/*
 * sqlite_ratelimit: per-user rate-limit overrides in SQL (migration 14,
 * table ratelimit_overrides).
 *
 * The read runs on every rate-limited request (http/server.c looks the
 * override up before taking a token), so its statement is cached per
 * connection (SQ_RATELIMIT_OVERRIDE_GET) and the lookup is one primary-key
 * probe. Writes are jobs of the group commit; argument strings are
 * borrowed from the blocked caller.
 */
#include "store/sqlite/sqlite_store.h"

struct ratelimit_args {
	const char *user_id;
	const struct store_ratelimit_override *o;
};

enum store_result sqlite_ratelimit_override_get(void *h, const char *user_id,
                                                struct store_ratelimit_override *out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	sqlite3_stmt *stmt;
	enum store_result r = STORE_ERROR;
	int rc;

	if (c == NULL || (stmt = sqlite_stmt_get(c, SQ_RATELIMIT_OVERRIDE_GET)) == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, user_id) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		/* the schema says INTEGER; a value of another type is damage */
		if (sqlite3_column_type(stmt, 0) == SQLITE_INTEGER &&
		    sqlite3_column_type(stmt, 1) == SQLITE_INTEGER) {
			out->messages_per_second = sqlite3_column_int64(stmt, 0);
			out->burst_count = sqlite3_column_int64(stmt, 1);
			r = STORE_OK;
		}
	} else if (rc == SQLITE_DONE) {
		r = STORE_NOT_FOUND;
	} else {
		r = sqlite_result_of(c, rc, "rate-limit override get");
	}
out:
	sqlite_stmt_put(c, SQ_RATELIMIT_OVERRIDE_GET, stmt);
	return r;
}

static enum store_result job_override_set(struct sqlite_conn *w, void *arg)
{
	struct ratelimit_args *a = arg;
	sqlite3_stmt *stmt = sqlite_stmt_get(w, SQ_RATELIMIT_OVERRIDE_SET);
	enum store_result r = STORE_ERROR;
	int rc;

	if (stmt == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, a->user_id) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 2, a->o->messages_per_second) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 3, a->o->burst_count) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	r = rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(w, rc, "rate-limit override set");
out:
	sqlite_stmt_put(w, SQ_RATELIMIT_OVERRIDE_SET, stmt);
	return r;
}

enum store_result sqlite_ratelimit_override_set(void *h, const char *user_id,
                                                const struct store_ratelimit_override *o)
{
	struct ratelimit_args a = { user_id, o };

	return sqlite_writer_submit(h, job_override_set, &a);
}

static enum store_result job_override_delete(struct sqlite_conn *w, void *arg)
{
	struct ratelimit_args *a = arg;
	sqlite3_stmt *stmt = sqlite_stmt_get(w, SQ_RATELIMIT_OVERRIDE_DELETE);
	enum store_result r = STORE_ERROR;
	int rc;

	if (stmt == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, a->user_id) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE)
		r = sqlite3_changes(w->db) > 0 ? STORE_OK : STORE_NOT_FOUND;
	else
		r = sqlite_result_of(w, rc, "rate-limit override delete");
out:
	sqlite_stmt_put(w, SQ_RATELIMIT_OVERRIDE_DELETE, stmt);
	return r;
}

enum store_result sqlite_ratelimit_override_delete(void *h, const char *user_id)
{
	struct ratelimit_args a = { user_id, NULL };

	return sqlite_writer_submit(h, job_override_delete, &a);
}
