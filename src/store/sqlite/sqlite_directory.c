/*
 * sqlite_directory: room aliases, forgotten rooms, published-room counts
 * and the user directory search, in SQL.
 *
 * Writes are write jobs (one SAVEPOINT each): forgetting reads the current
 * membership and records it inside the same job, so a join committed in
 * between cannot be forgotten by mistake. Reads run on the calling
 * thread's reader connection. Argument strings are borrowed from the
 * caller, who is blocked while its job runs.
 */
#include "store/sqlite/sqlite_store.h"

#include <stdlib.h>
#include <string.h>

#include "util/log.h"

struct sqlite_alias_args {
	const char *alias;
	const char *room_id;
	const char *creator;
};

struct sqlite_forget_args {
	const char *user_id;
	const char *room_id;
};

/* ---- aliases ---------------------------------------------------------- */

static enum store_result job_alias_create(struct sqlite_conn *w, void *arg)
{
	struct sqlite_alias_args *a = arg;
	const char *t[3] = { a->alias, a->room_id, a->creator };
	enum store_result r;

	/* An unknown room is NOT_FOUND, not a foreign-key error. */
	r = sqlite_probe(w, SQ_ROOM_EXISTS, a->room_id);
	if (r != STORE_OK)
		return r;
	return sqlite_exec_texts(w, SQ_ALIAS_INSERT, t, 3, NULL);
}

enum store_result sqlite_alias_create(void *h, const char *alias, const char *room_id,
                                      const char *creator)
{
	struct sqlite_alias_args a = { alias, room_id, creator };

	return sqlite_writer_submit(h, job_alias_create, &a);
}

enum store_result sqlite_alias_get(void *h, const char *alias, char **room_id_out,
                                   char **creator_out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	sqlite3_stmt *stmt;
	enum store_result r = STORE_ERROR;
	int rc;

	if (c == NULL || (stmt = sqlite_stmt_get(c, SQ_ALIAS_GET)) == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, alias) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE) {
		r = STORE_NOT_FOUND;
	} else if (rc != SQLITE_ROW) {
		r = sqlite_result_of(c, rc, "alias get");
	} else if (sqlite_col_text(stmt, 0, false, STORE_ID_MAX, room_id_out) != 0 ||
	           sqlite_col_text(stmt, 1, false, STORE_USER_ID_MAX, creator_out) != 0) {
		log_error("store: unreadable room_aliases row");
		free(*room_id_out);
		free(*creator_out);
		*room_id_out = *creator_out = NULL;
	} else {
		r = STORE_OK;
	}
out:
	sqlite_stmt_put(c, SQ_ALIAS_GET, stmt);
	return r;
}

static enum store_result job_alias_delete(struct sqlite_conn *w, void *arg)
{
	struct sqlite_alias_args *a = arg;
	const char *t[1] = { a->alias };
	enum store_result r;
	int changes = 0;

	r = sqlite_exec_texts(w, SQ_ALIAS_DELETE, t, 1, &changes);
	if (r == STORE_OK && changes == 0)
		r = STORE_NOT_FOUND;
	return r;
}

enum store_result sqlite_alias_delete(void *h, const char *alias)
{
	struct sqlite_alias_args a = { alias, NULL, NULL };

	return sqlite_writer_submit(h, job_alias_delete, &a);
}

/* The first column of each row of a statement bound to (key, limit), as
 * malloc'd strings of at most max bytes (a NULL key binds SQL NULL). */
static enum store_result sqlite_text_column_list(void *h, enum sqlite_stmt_id id,
                                                 const char *key, size_t limit, size_t max,
                                                 char ***out, size_t *n_out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	sqlite3_stmt *stmt;
	char **items = NULL;
	size_t n = 0;
	enum store_result r = STORE_ERROR;
	int rc = SQLITE_DONE;

	if (c == NULL || (stmt = sqlite_stmt_get(c, id)) == NULL)
		return STORE_ERROR;
	/* limit is within STORE_LIST_LIMIT_MAX (the front lowers it) */
	items = calloc(limit > 0 ? limit : 1, sizeof(*items));
	if (items == NULL || sqlite_bind_text(stmt, 1, key) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 2, (sqlite3_int64)limit) != SQLITE_OK)
		goto out;
	while (n < limit && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (sqlite_col_text(stmt, 0, false, max, &items[n]) != 0) {
			log_error("store: unreadable row in a directory list");
			goto out;
		}
		n++;
	}
	if (n < limit && rc != SQLITE_DONE) {
		sqlite_result_of(c, rc, "directory list");
		goto out;
	}
	*out = items;
	*n_out = n;
	items = NULL;
	r = STORE_OK;
out:
	sqlite_stmt_put(c, id, stmt);
	store_room_ids_free(items, n);
	return r;
}

enum store_result sqlite_room_aliases(void *h, const char *room_id, size_t limit,
                                      char ***aliases_out, size_t *n_out)
{
	return sqlite_text_column_list(h, SQ_ROOM_ALIASES, room_id, limit, STORE_ALIAS_MAX,
	                               aliases_out, n_out);
}

enum store_result sqlite_rooms_published_before(void *h, const char *before, size_t limit,
                                                char ***room_ids_out, size_t *n_out)
{
	return sqlite_text_column_list(h, SQ_ROOMS_PUBLISHED_BEFORE, before, limit,
	                               STORE_ID_MAX, room_ids_out, n_out);
}

/* ---- forgotten rooms -------------------------------------------------- */

/* The user's current membership in the room: *membership_out malloc'd. */
static enum store_result sqlite_membership_current(struct sqlite_conn *w,
                                                   const struct sqlite_forget_args *a,
                                                   char **membership_out, int64_t *stream_out)
{
	sqlite3_stmt *stmt = sqlite_stmt_get(w, SQ_MEMBERSHIP_CURRENT);
	enum store_result r = STORE_ERROR;
	int rc;

	if (stmt == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, a->room_id) != SQLITE_OK ||
	    sqlite_bind_text(stmt, 2, a->user_id) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE) {
		r = STORE_NOT_FOUND;
	} else if (rc != SQLITE_ROW) {
		r = sqlite_result_of(w, rc, "current membership");
	} else if (sqlite_col_text(stmt, 0, false, STORE_ID_MAX, membership_out) != 0 ||
	           sqlite_col_int(stmt, 1, stream_out) != 0 || *stream_out <= 0) {
		log_error("store: unreadable membership row");
		free(*membership_out);
		*membership_out = NULL;
	} else {
		r = STORE_OK;
	}
out:
	sqlite_stmt_put(w, SQ_MEMBERSHIP_CURRENT, stmt);
	return r;
}

static enum store_result job_room_forget(struct sqlite_conn *w, void *arg)
{
	struct sqlite_forget_args *a = arg;
	sqlite3_stmt *stmt = NULL;
	char *membership = NULL;
	int64_t stream = 0;
	enum store_result r;
	int rc;

	r = sqlite_membership_current(w, a, &membership, &stream);
	if (r != STORE_OK)
		goto out;
	if (strcmp(membership, "join") == 0) {
		r = STORE_CONFLICT;
		goto out;
	}
	r = STORE_ERROR;
	if ((stmt = sqlite_stmt_get(w, SQ_FORGET_UPSERT)) == NULL)
		goto out;
	if (sqlite_bind_text(stmt, 1, a->user_id) != SQLITE_OK ||
	    sqlite_bind_text(stmt, 2, a->room_id) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 3, stream) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	r = rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(w, rc, "room forget");
out:
	sqlite_stmt_put(w, SQ_FORGET_UPSERT, stmt);
	free(membership);
	return r;
}

enum store_result sqlite_room_forget(void *h, const char *user_id, const char *room_id)
{
	struct sqlite_forget_args a = { user_id, room_id };

	return sqlite_writer_submit(h, job_room_forget, &a);
}

enum store_result sqlite_room_forgotten(void *h, const char *user_id, const char *room_id)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	sqlite3_stmt *stmt;
	enum store_result r = STORE_ERROR;
	int rc;

	if (c == NULL || (stmt = sqlite_stmt_get(c, SQ_FORGOTTEN_GET)) == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, user_id) != SQLITE_OK ||
	    sqlite_bind_text(stmt, 2, room_id) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		r = STORE_OK;
	else if (rc == SQLITE_DONE)
		r = STORE_NOT_FOUND;
	else
		r = sqlite_result_of(c, rc, "room forgotten");
out:
	sqlite_stmt_put(c, SQ_FORGOTTEN_GET, stmt);
	return r;
}

/* ---- counts ----------------------------------------------------------- */

/* A COUNT(*) with an optional text bound to ?1. */
static enum store_result sqlite_count(void *h, enum sqlite_stmt_id id, const char *key,
                                      int64_t *out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	sqlite3_stmt *stmt;
	enum store_result r = STORE_ERROR;
	int rc;

	*out = 0;
	if (c == NULL || (stmt = sqlite_stmt_get(c, id)) == NULL)
		return STORE_ERROR;
	if (key != NULL && sqlite_bind_text(stmt, 1, key) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		r = sqlite_col_int(stmt, 0, out) == 0 && *out >= 0 ? STORE_OK : STORE_ERROR;
	else
		r = sqlite_result_of(c, rc, "count");
out:
	sqlite_stmt_put(c, id, stmt);
	return r;
}

enum store_result sqlite_room_joined_count(void *h, const char *room_id, int64_t *out)
{
	return sqlite_count(h, SQ_ROOM_JOINED_COUNT, room_id, out);
}

enum store_result sqlite_rooms_published_count(void *h, int64_t *out)
{
	return sqlite_count(h, SQ_ROOMS_PUBLISHED_COUNT, NULL, out);
}

/* ---- user directory --------------------------------------------------- */

static int sqlite_user_hit_load(sqlite3_stmt *stmt, struct store_user_hit *u)
{
	if (sqlite_col_text(stmt, 0, false, STORE_USER_ID_MAX, &u->user_id) != 0 ||
	    sqlite_col_text(stmt, 1, true, STORE_TEXT_MAX, &u->displayname) != 0 ||
	    sqlite_col_text(stmt, 2, true, STORE_TEXT_MAX, &u->avatar_url) != 0) {
		log_error("store: unreadable users row in the user directory");
		return -1;
	}
	return 0;
}

enum store_result sqlite_user_directory_search(void *h, const char *searcher,
                                               const char *term, size_t limit,
                                               struct store_user_hit_list *out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	sqlite3_stmt *stmt;
	struct store_user_hit_list l = { 0 };
	enum store_result r = STORE_ERROR;
	int rc = SQLITE_DONE;

	if (c == NULL || (stmt = sqlite_stmt_get(c, SQ_USER_DIRECTORY_SEARCH)) == NULL)
		return STORE_ERROR;
	/* limit is within STORE_USER_SEARCH_MAX (checked by the front); one row
	 * more than asked tells whether the list was cut */
	l.items = calloc(limit, sizeof(*l.items));
	if (l.items == NULL || sqlite_bind_text(stmt, 1, searcher) != SQLITE_OK ||
	    sqlite_bind_text(stmt, 2, term) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 3, (sqlite3_int64)limit + 1) != SQLITE_OK)
		goto out;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (l.n == limit) {
			l.limited = true;
			break;
		}
		/* counted before loading so a half-loaded row is freed too */
		if (sqlite_user_hit_load(stmt, &l.items[l.n++]) != 0)
			goto out;
	}
	if (!l.limited && rc != SQLITE_DONE) {
		sqlite_result_of(c, rc, "user directory search");
		goto out;
	}
	*out = l;
	memset(&l, 0, sizeof(l));
	r = STORE_OK;
out:
	sqlite_stmt_put(c, SQ_USER_DIRECTORY_SEARCH, stmt);
	store_user_hit_list_clear(&l);
	return r;
}
