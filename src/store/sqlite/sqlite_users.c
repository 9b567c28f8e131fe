/*
 * sqlite_users: accounts and profiles in SQL.
 *
 * Reads run on the calling thread's reader connection as one statement.
 * Writes are job functions (job_*) run by the writer thread inside a
 * savepoint; the public-facing sqlite_* wrappers pack the arguments and
 * submit them. Argument strings are borrowed from the blocked caller.
 */
#include "store/sqlite/sqlite_store.h"

#include <string.h>

#include "util/log.h"

/* Arguments of the account writes; each job uses the fields it needs. */
struct sqlite_user_args {
	const char *user_id;
	const char *text;                 /* password hash or profile value */
	const char *displayname;
	bool flag;                        /* admin, or erase */
	int64_t now_ms;
	enum store_profile_field field;
};

/* Fill u from a row in USER_COLS order. 0, or -1 with u cleared. */
static int sqlite_user_load(sqlite3_stmt *stmt, struct store_user *u)
{
	memset(u, 0, sizeof(*u));
	if (sqlite_col_text(stmt, 0, false, STORE_USER_ID_MAX, &u->user_id) != 0 ||
	    sqlite_col_text(stmt, 1, true, STORE_PASSWORD_HASH_MAX, &u->password_hash) != 0 ||
	    sqlite_col_text(stmt, 2, true, STORE_TEXT_MAX, &u->displayname) != 0 ||
	    sqlite_col_text(stmt, 3, true, STORE_TEXT_MAX, &u->avatar_url) != 0 ||
	    sqlite_col_bool(stmt, 4, &u->admin) != 0 ||
	    sqlite_col_bool(stmt, 5, &u->deactivated) != 0 ||
	    sqlite_col_bool(stmt, 6, &u->locked) != 0 ||
	    sqlite_col_bool(stmt, 7, &u->suspended) != 0 ||
	    sqlite_col_int(stmt, 8, &u->created_ts) != 0) {
		log_error("store: unreadable users row (wrong type, size, or out of memory)");
		store_user_clear(u);
		return -1;
	}
	return 0;
}

/* ---- reads ------------------------------------------------------------ */

enum store_result sqlite_user_get(void *h, const char *user_id, struct store_user *out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	sqlite3_stmt *stmt;
	enum store_result r = STORE_ERROR;
	int rc;

	if (c == NULL || (stmt = sqlite_stmt_get(c, SQ_USER_GET)) == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, user_id) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		r = sqlite_user_load(stmt, out) == 0 ? STORE_OK : STORE_ERROR;
	else if (rc == SQLITE_DONE)
		r = STORE_NOT_FOUND;
	else
		r = sqlite_result_of(c, rc, "user get");
out:
	sqlite_stmt_put(c, SQ_USER_GET, stmt);
	return r;
}

enum store_result sqlite_user_exists(void *h, const char *user_id)
{
	struct sqlite_conn *c = sqlite_reader_get(h);

	if (c == NULL)
		return STORE_ERROR;
	return sqlite_probe(c, SQ_USER_EXISTS, user_id);
}

enum store_result sqlite_user_list(void *h, store_user_fn fn, void *ctx)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	struct store_user u;
	sqlite3_stmt *stmt;
	enum store_result r = STORE_ERROR;
	int rc, stop;

	if (c == NULL || (stmt = sqlite_stmt_get(c, SQ_USER_LIST)) == NULL)
		return STORE_ERROR;
	/* One statement: the walk sees one snapshot even while writes land. */
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (sqlite_user_load(stmt, &u) != 0)
			goto out;
		stop = fn(ctx, &u);
		store_user_clear(&u);
		if (stop != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		r = sqlite_result_of(c, rc, "user list");
		goto out;
	}
	r = STORE_OK;
out:
	sqlite_stmt_put(c, SQ_USER_LIST, stmt);
	return r;
}

/* ---- writes ----------------------------------------------------------- */

/* An UPDATE keyed by user: NOT_FOUND when no row matched. */
static enum store_result sqlite_user_update(struct sqlite_conn *w, enum sqlite_stmt_id id,
                                            const char *user_id, const char *value)
{
	const char *texts[2] = { user_id, value };
	enum store_result r;
	int changes;

	r = sqlite_exec_texts(w, id, texts, 2, &changes);
	if (r == STORE_OK && changes == 0)
		r = STORE_NOT_FOUND;
	return r;
}

static enum store_result job_user_create(struct sqlite_conn *w, void *arg)
{
	struct sqlite_user_args *a = arg;
	sqlite3_stmt *stmt = sqlite_stmt_get(w, SQ_USER_INSERT);
	enum store_result r = STORE_ERROR;
	int rc;

	if (stmt == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, a->user_id) != SQLITE_OK ||
	    sqlite_bind_text(stmt, 2, a->text) != SQLITE_OK ||
	    sqlite_bind_text(stmt, 3, a->displayname) != SQLITE_OK ||
	    sqlite3_bind_int(stmt, 4, a->flag ? 1 : 0) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 5, a->now_ms) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	r = rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(w, rc, "user create");
out:
	sqlite_stmt_put(w, SQ_USER_INSERT, stmt);
	return r;
}

enum store_result sqlite_user_create(void *h, const char *user_id, const char *password_hash,
                                     const char *displayname, bool admin, int64_t now_ms)
{
	struct sqlite_user_args a = {
		.user_id = user_id, .text = password_hash, .displayname = displayname,
		.flag = admin, .now_ms = now_ms,
	};

	return sqlite_writer_submit(h, job_user_create, &a);
}

static enum store_result job_user_set_password(struct sqlite_conn *w, void *arg)
{
	struct sqlite_user_args *a = arg;

	/* The statement skips deactivated accounts: their password stays
	 * cleared, and the caller sees NOT_FOUND (no active account). */
	return sqlite_user_update(w, SQ_USER_SET_PASSWORD, a->user_id, a->text);
}

enum store_result sqlite_user_set_password_hash(void *h, const char *user_id,
                                                const char *password_hash)
{
	struct sqlite_user_args a = { .user_id = user_id, .text = password_hash };

	return sqlite_writer_submit(h, job_user_set_password, &a);
}

static enum store_result job_user_set_admin(struct sqlite_conn *w, void *arg)
{
	struct sqlite_user_args *a = arg;
	sqlite3_stmt *stmt = sqlite_stmt_get(w, SQ_USER_SET_ADMIN);
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
		r = sqlite_result_of(w, rc, "user set admin");
out:
	sqlite_stmt_put(w, SQ_USER_SET_ADMIN, stmt);
	return r;
}

enum store_result sqlite_user_set_admin(void *h, const char *user_id, bool admin)
{
	struct sqlite_user_args a = { .user_id = user_id, .flag = admin };

	return sqlite_writer_submit(h, job_user_set_admin, &a);
}

static enum store_result job_user_deactivate(struct sqlite_conn *w, void *arg)
{
	struct sqlite_user_args *a = arg;
	const char *texts[1] = { a->user_id };
	enum store_result r;
	int changes;

	r = sqlite_exec_texts(w, SQ_USER_DEACTIVATE, texts, 1, &changes);
	if (r != STORE_OK)
		return r;
	if (changes == 0)
		return STORE_NOT_FOUND;
	if (a->flag) {
		r = sqlite_exec_texts(w, SQ_USER_ERASE, texts, 1, NULL);
		if (r != STORE_OK)
			return r;
	}
	return sqlite_devices_purge(w, a->user_id, NULL);
}

enum store_result sqlite_user_deactivate(void *h, const char *user_id, bool erase)
{
	struct sqlite_user_args a = { .user_id = user_id, .flag = erase };

	return sqlite_writer_submit(h, job_user_deactivate, &a);
}

static enum store_result job_profile_set(struct sqlite_conn *w, void *arg)
{
	struct sqlite_user_args *a = arg;
	enum sqlite_stmt_id id;

	switch (a->field) {
	case STORE_PROFILE_DISPLAYNAME:
		id = SQ_USER_SET_DISPLAYNAME;
		break;
	case STORE_PROFILE_AVATAR_URL:
		id = SQ_USER_SET_AVATAR_URL;
		break;
	default:
		return STORE_ERROR;
	}
	return sqlite_user_update(w, id, a->user_id, a->text);
}

enum store_result sqlite_profile_set(void *h, const char *user_id,
                                     enum store_profile_field field, const char *value)
{
	struct sqlite_user_args a = { .user_id = user_id, .text = value, .field = field };

	return sqlite_writer_submit(h, job_profile_set, &a);
}
