/*
 * sqlite_key_backup: server-side key backups in SQL (tables of migration
 * 10).
 *
 * Every write is one job on the writer thread, and each job reads the
 * version row it acts on itself: a put checks that its version is still
 * the current one, decides per session whether the new key replaces the
 * stored one (store_backup_key_replaces), writes, and moves the version's
 * etag, count and byte total, all in one savepoint. A racing create,
 * delete or put is either wholly before or wholly after it.
 *
 * Reads run on the caller's reader connection inside one read transaction
 * (the version check and the keys come from one snapshot); what they load
 * is checked for type and size here and for shape by the front
 * (store_key_backup.c).
 */
#include "store/sqlite/sqlite_store.h"

#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* A version row: (version, algorithm, auth_data, etag, count, bytes, deleted). */
struct sqlite_kb_version {
	struct store_backup_version v;
	int64_t bytes;
	bool deleted;
};

/* Bind the key-selection parameters a statement has: ?1 user, ?2 version,
 * ?3 room, ?4 session, ?5 limit. SQLITE_OK or the failing code. */
static int sqlite_kb_bind(sqlite3_stmt *stmt, const char *user_id, int64_t version,
                          const char *room_id, const char *session_id)
{
	int n = sqlite3_bind_parameter_count(stmt), rc;

	rc = sqlite_bind_text(stmt, 1, user_id);
	if (rc == SQLITE_OK && n >= 2)
		rc = sqlite3_bind_int64(stmt, 2, version);
	if (rc == SQLITE_OK && n >= 3)
		rc = sqlite_bind_text(stmt, 3, room_id);
	if (rc == SQLITE_OK && n >= 4)
		rc = sqlite_bind_text(stmt, 4, session_id);
	if (rc == SQLITE_OK && n >= 5)
		rc = sqlite3_bind_int64(stmt, 5, STORE_BACKUP_SESSIONS_MAX);
	return rc;
}

/* The user's version (0: the current one), deleted or not: STORE_OK,
 * STORE_NOT_FOUND, or STORE_ERROR. */
static enum store_result sqlite_kb_version_read(struct sqlite_conn *c, const char *user_id,
                                                int64_t version, struct sqlite_kb_version *out)
{
	enum sqlite_stmt_id id = version == 0 ? SQ_BACKUP_VERSION_CURRENT : SQ_BACKUP_VERSION_GET;
	sqlite3_stmt *stmt = sqlite_stmt_get(c, id);
	enum store_result r = STORE_ERROR;
	int rc;

	memset(out, 0, sizeof(*out));
	if (stmt == NULL)
		return STORE_ERROR;
	if (sqlite_kb_bind(stmt, user_id, version, NULL, NULL) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE) {
		r = STORE_NOT_FOUND;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		r = sqlite_result_of(c, rc, "backup version read");
		goto out;
	}
	if (sqlite_col_int(stmt, 0, &out->v.version) != 0 ||
	    sqlite_col_text(stmt, 1, false, STORE_BACKUP_ALGORITHM_MAX, &out->v.algorithm) != 0 ||
	    sqlite_col_text(stmt, 2, false, STORE_BACKUP_AUTH_DATA_MAX, &out->v.auth_data) != 0 ||
	    sqlite_col_int(stmt, 3, &out->v.etag) != 0 ||
	    sqlite_col_int(stmt, 4, &out->v.count) != 0 ||
	    sqlite_col_int(stmt, 5, &out->bytes) != 0 ||
	    sqlite_col_bool(stmt, 6, &out->deleted) != 0) {
		log_error("store: unreadable backup_versions row");
		store_backup_version_clear(&out->v);
		goto out;
	}
	r = STORE_OK;
out:
	sqlite_stmt_put(c, id, stmt);
	return r;
}

/* ---- versions --------------------------------------------------------- */

struct sqlite_kb_create_args {
	const char *user_id, *algorithm, *auth_data;
	int64_t version;
};

static enum store_result job_backup_version_create(struct sqlite_conn *w, void *arg)
{
	struct sqlite_kb_create_args *a = arg;
	sqlite3_stmt *stmt = sqlite_stmt_get(w, SQ_BACKUP_VERSION_INSERT);
	enum store_result r = STORE_ERROR;
	int rc;

	if (stmt == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, a->user_id) != SQLITE_OK ||
	    sqlite_bind_text(stmt, 2, a->algorithm) != SQLITE_OK ||
	    sqlite_bind_text(stmt, 3, a->auth_data) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		r = sqlite_result_of(w, rc == SQLITE_DONE ? SQLITE_ERROR : rc, "backup version");
		goto out;
	}
	if (sqlite_col_int(stmt, 0, &a->version) != 0)
		goto out;
	rc = sqlite3_step(stmt);   /* finish the RETURNING statement */
	r = rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(w, rc, "backup version");
out:
	sqlite_stmt_put(w, SQ_BACKUP_VERSION_INSERT, stmt);
	return r;
}

enum store_result sqlite_backup_version_create(void *h, const char *user_id,
                                               const char *algorithm, const char *auth_data,
                                               int64_t *version_out)
{
	struct sqlite_kb_create_args a = { user_id, algorithm, auth_data, 0 };
	enum store_result r = sqlite_writer_submit(h, job_backup_version_create, &a);

	*version_out = r == STORE_OK ? a.version : 0;
	return r;
}

enum store_result sqlite_backup_version_get(void *h, const char *user_id, int64_t version,
                                            struct store_backup_version *out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	struct sqlite_kb_version row;
	enum store_result r;

	if (c == NULL)
		return STORE_ERROR;
	r = sqlite_kb_version_read(c, user_id, version, &row);
	if (r == STORE_OK && row.deleted)
		r = STORE_NOT_FOUND;
	if (r == STORE_OK)
		*out = row.v;
	else
		store_backup_version_clear(&row.v);
	return r;
}

struct sqlite_kb_update_args {
	const char *user_id;
	int64_t version;
	const char *algorithm, *auth_data;
};

static enum store_result job_backup_version_update(struct sqlite_conn *w, void *arg)
{
	struct sqlite_kb_update_args *a = arg;
	struct sqlite_kb_version row;
	enum store_result r;
	sqlite3_stmt *stmt;
	int rc;

	r = sqlite_kb_version_read(w, a->user_id, a->version, &row);
	if (r == STORE_OK && row.deleted)
		r = STORE_NOT_FOUND;
	/* "Must be the same as the algorithm currently used by the backup." */
	if (r == STORE_OK && strcmp(row.v.algorithm, a->algorithm) != 0)
		r = STORE_CONFLICT;
	store_backup_version_clear(&row.v);
	if (r != STORE_OK)
		return r;
	if ((stmt = sqlite_stmt_get(w, SQ_BACKUP_VERSION_SET_AUTH)) == NULL)
		return STORE_ERROR;
	r = STORE_ERROR;
	if (sqlite_kb_bind(stmt, a->user_id, a->version, NULL, NULL) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 3, a->auth_data) == SQLITE_OK) {
		rc = sqlite3_step(stmt);
		r = rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(w, rc, "backup auth_data");
	}
	sqlite_stmt_put(w, SQ_BACKUP_VERSION_SET_AUTH, stmt);
	return r;
}

enum store_result sqlite_backup_version_update(void *h, const char *user_id, int64_t version,
                                               const char *algorithm, const char *auth_data)
{
	struct sqlite_kb_update_args a = { user_id, version, algorithm, auth_data };

	return sqlite_writer_submit(h, job_backup_version_update, &a);
}

/* Run a key DELETE ... RETURNING byte length; *n and *bytes: what went. */
static enum store_result sqlite_kb_keys_remove(struct sqlite_conn *w, const char *user_id,
                                               int64_t version, const char *room_id,
                                               const char *session_id, int64_t *n,
                                               int64_t *bytes)
{
	enum sqlite_stmt_id id = room_id == NULL ? SQ_BACKUP_KEYS_DELETE_ALL :
	                         session_id == NULL ? SQ_BACKUP_KEYS_DELETE_ROOM :
	                         SQ_BACKUP_KEYS_DELETE_SESSION;
	sqlite3_stmt *stmt = sqlite_stmt_get(w, id);
	enum store_result r = STORE_ERROR;
	int rc;

	*n = 0;
	*bytes = 0;
	if (stmt == NULL)
		return STORE_ERROR;
	if (sqlite_kb_bind(stmt, user_id, version, room_id, session_id) != SQLITE_OK)
		goto out;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		int64_t len;
		if (sqlite_col_int(stmt, 0, &len) != 0 || len < 0)
			goto out;
		(*n)++;
		*bytes += len;
	}
	r = rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(w, rc, "backup keys delete");
out:
	sqlite_stmt_put(w, id, stmt);
	return r;
}

struct sqlite_kb_delete_args {
	const char *user_id;
	int64_t version;
};

static enum store_result job_backup_version_delete(struct sqlite_conn *w, void *arg)
{
	struct sqlite_kb_delete_args *a = arg;
	struct sqlite_kb_version row;
	int64_t n, bytes;
	enum store_result r;
	sqlite3_stmt *stmt;
	int rc;

	r = sqlite_kb_version_read(w, a->user_id, a->version, &row);
	store_backup_version_clear(&row.v);
	/* "If the backup was previously deleted, the call should succeed
	 * rather than returning an error." */
	if (r != STORE_OK || row.deleted)
		return r;
	r = sqlite_kb_keys_remove(w, a->user_id, a->version, NULL, NULL, &n, &bytes);
	if (r != STORE_OK)
		return r;
	if ((stmt = sqlite_stmt_get(w, SQ_BACKUP_VERSION_MARK_DELETED)) == NULL)
		return STORE_ERROR;
	r = STORE_ERROR;
	if (sqlite_kb_bind(stmt, a->user_id, a->version, NULL, NULL) == SQLITE_OK) {
		rc = sqlite3_step(stmt);
		r = rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(w, rc, "backup version delete");
	}
	sqlite_stmt_put(w, SQ_BACKUP_VERSION_MARK_DELETED, stmt);
	return r;
}

enum store_result sqlite_backup_version_delete(void *h, const char *user_id, int64_t version)
{
	struct sqlite_kb_delete_args a = { user_id, version };

	return sqlite_writer_submit(h, job_backup_version_delete, &a);
}

/* ---- keys ------------------------------------------------------------- */

/* Move a version's etag, count and byte total by a change of its keys;
 * out: the new etag and count. */
static enum store_result sqlite_kb_bump(struct sqlite_conn *w, const char *user_id,
                                        int64_t version, int64_t dcount, int64_t dbytes,
                                        struct store_backup_counts *out)
{
	sqlite3_stmt *stmt = sqlite_stmt_get(w, SQ_BACKUP_VERSION_BUMP);
	enum store_result r = STORE_ERROR;
	int64_t bytes;
	int rc;

	if (stmt == NULL)
		return STORE_ERROR;
	if (sqlite_kb_bind(stmt, user_id, version, NULL, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 3, dcount) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 4, dbytes) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		r = sqlite_result_of(w, rc == SQLITE_DONE ? SQLITE_ERROR : rc, "backup etag");
		goto out;
	}
	if (sqlite_col_int(stmt, 0, &out->etag) != 0 || sqlite_col_int(stmt, 1, &out->count) != 0 ||
	    sqlite_col_int(stmt, 2, &bytes) != 0)
		goto out;
	/* the counters must agree with the rows: a drift is a bug, not data */
	if (out->count < 0 || bytes < 0) {
		log_error("store: backup version %lld counters went negative", (long long)version);
		goto out;
	}
	rc = sqlite3_step(stmt);
	r = rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(w, rc, "backup etag");
out:
	sqlite_stmt_put(w, SQ_BACKUP_VERSION_BUMP, stmt);
	return r;
}

/* The stored rank and byte size of one session's key: STORE_OK,
 * STORE_NOT_FOUND, or STORE_ERROR. */
static enum store_result sqlite_kb_key_rank(struct sqlite_conn *w, const char *user_id,
                                            int64_t version,
                                            const struct store_backup_key_new *k,
                                            struct store_backup_key_rank *rank, int64_t *bytes)
{
	sqlite3_stmt *stmt = sqlite_stmt_get(w, SQ_BACKUP_KEY_GET);
	enum store_result r = STORE_ERROR;
	int rc;

	if (stmt == NULL)
		return STORE_ERROR;
	if (sqlite_kb_bind(stmt, user_id, version, k->room_id, k->session_id) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE)
		r = STORE_NOT_FOUND;
	else if (rc != SQLITE_ROW)
		r = sqlite_result_of(w, rc, "backup key read");
	else if (sqlite_col_int(stmt, 0, &rank->first_message_index) == 0 &&
	         sqlite_col_int(stmt, 1, &rank->forwarded_count) == 0 &&
	         sqlite_col_bool(stmt, 2, &rank->is_verified) == 0 &&
	         sqlite_col_int(stmt, 3, bytes) == 0)
		r = STORE_OK;
	else
		log_error("store: unreadable backup_keys row");
out:
	sqlite_stmt_put(w, SQ_BACKUP_KEY_GET, stmt);
	return r;
}

static enum store_result sqlite_kb_key_write(struct sqlite_conn *w, const char *user_id,
                                             int64_t version,
                                             const struct store_backup_key_new *k)
{
	sqlite3_stmt *stmt = sqlite_stmt_get(w, SQ_BACKUP_KEY_UPSERT);
	enum store_result r = STORE_ERROR;
	int rc;

	if (stmt == NULL)
		return STORE_ERROR;
	if (sqlite_kb_bind(stmt, user_id, version, k->room_id, k->session_id) == SQLITE_OK &&
	    sqlite3_bind_int64(stmt, 5, k->rank.first_message_index) == SQLITE_OK &&
	    sqlite3_bind_int64(stmt, 6, k->rank.forwarded_count) == SQLITE_OK &&
	    sqlite3_bind_int(stmt, 7, k->rank.is_verified ? 1 : 0) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 8, k->session_data) == SQLITE_OK) {
		rc = sqlite3_step(stmt);
		r = rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(w, rc, "backup key write");
	}
	sqlite_stmt_put(w, SQ_BACKUP_KEY_UPSERT, stmt);
	return r;
}

struct sqlite_kb_put_args {
	const char *user_id;
	int64_t version;
	const struct store_backup_key_new *keys;
	size_t n;
	enum store_backup_refusal refusal;
	int64_t current;
	struct store_backup_counts out;
};

static enum store_result job_backup_keys_put(struct sqlite_conn *w, void *arg)
{
	struct sqlite_kb_put_args *a = arg;
	int64_t dcount = 0, dbytes = 0, cur_version, cur_bytes;
	struct sqlite_kb_version cur;
	size_t written = 0;
	enum store_result r;

	r = sqlite_kb_version_read(w, a->user_id, 0, &cur);
	cur_version = cur.v.version;
	cur_bytes = cur.bytes;
	a->out = (struct store_backup_counts){ cur.v.etag, cur.v.count };
	store_backup_version_clear(&cur.v);
	/* "Keys can only be written to the most recently created version" */
	if (r == STORE_NOT_FOUND || (r == STORE_OK && cur_version != a->version)) {
		a->refusal = STORE_BACKUP_NOT_CURRENT;
		a->current = r == STORE_OK ? cur_version : 0;
		return STORE_CONFLICT;
	}
	if (r != STORE_OK)
		return r;
	for (size_t i = 0; i < a->n; i++) {
		const struct store_backup_key_new *k = &a->keys[i];
		struct store_backup_key_rank old;
		int64_t old_bytes = 0;

		r = sqlite_kb_key_rank(w, a->user_id, a->version, k, &old, &old_bytes);
		if (r == STORE_OK && !store_backup_key_replaces(&old, &k->rank))
			continue;
		if (r != STORE_OK && r != STORE_NOT_FOUND)
			return r;
		dcount += r == STORE_NOT_FOUND ? 1 : 0;
		dbytes += (int64_t)strlen(k->session_data) - old_bytes;
		if ((r = sqlite_kb_key_write(w, a->user_id, a->version, k)) != STORE_OK)
			return r;
		written++;
	}
	if (written == 0)
		return STORE_OK;   /* every stored key was kept: the etag stays */
	/* refused as a whole, rolled back with the savepoint */
	if (a->out.count + dcount > STORE_BACKUP_SESSIONS_MAX ||
	    cur_bytes + dbytes > STORE_BACKUP_BYTES_MAX) {
		a->refusal = STORE_BACKUP_FULL;
		return STORE_CONFLICT;
	}
	return sqlite_kb_bump(w, a->user_id, a->version, dcount, dbytes, &a->out);
}

enum store_result sqlite_backup_keys_put(void *h, const char *user_id, int64_t version,
                                         const struct store_backup_key_new *keys, size_t n,
                                         enum store_backup_refusal *refusal,
                                         int64_t *current_out, struct store_backup_counts *out)
{
	struct sqlite_kb_put_args a = { .user_id = user_id, .version = version, .keys = keys,
	                                .n = n };
	enum store_result r = sqlite_writer_submit(h, job_backup_keys_put, &a);

	*refusal = r == STORE_CONFLICT ? a.refusal : STORE_BACKUP_ACCEPTED;
	*current_out = r == STORE_CONFLICT ? a.current : 0;
	if (r == STORE_OK)
		*out = a.out;
	return r;
}

/* A list's array with room for item n (doubling, capped at max). */
static void *sqlite_kb_grow(void *items, size_t n, size_t *cap, size_t size, size_t max)
{
	void *grown;
	size_t want;

	if (n < *cap)
		return items;
	if (*cap >= max) {
		log_error("store: backup key list longer than %zu; refusing it", max);
		return NULL;
	}
	want = *cap == 0 ? 16 : *cap * 2;
	if (want > max)
		want = max;
	grown = realloc(items, want * size);
	if (grown == NULL) {
		log_error("store: out of memory reading backup keys");
		return NULL;
	}
	*cap = want;
	return grown;
}

static int sqlite_kb_key_load(sqlite3_stmt *stmt, struct store_backup_key *k)
{
	memset(k, 0, sizeof(*k));
	if (sqlite_col_text(stmt, 0, false, STORE_BACKUP_ROOM_ID_MAX, &k->room_id) == 0 &&
	    sqlite_col_text(stmt, 1, false, STORE_BACKUP_SESSION_ID_MAX, &k->session_id) == 0 &&
	    sqlite_col_int(stmt, 2, &k->rank.first_message_index) == 0 &&
	    sqlite_col_int(stmt, 3, &k->rank.forwarded_count) == 0 &&
	    sqlite_col_bool(stmt, 4, &k->rank.is_verified) == 0 &&
	    sqlite_col_text(stmt, 5, false, STORE_BACKUP_SESSION_DATA_MAX, &k->session_data) == 0)
		return 0;
	log_error("store: unreadable backup_keys row");
	free(k->room_id);
	free(k->session_id);
	free(k->session_data);
	memset(k, 0, sizeof(*k));
	return -1;
}

static enum store_result sqlite_kb_keys_list(struct sqlite_conn *c, const char *user_id,
                                             int64_t version, const char *room_id,
                                             const char *session_id,
                                             struct store_backup_key_list *out)
{
	enum sqlite_stmt_id id = room_id == NULL ? SQ_BACKUP_KEYS_ALL :
	                         session_id == NULL ? SQ_BACKUP_KEYS_ROOM : SQ_BACKUP_KEYS_SESSION;
	sqlite3_stmt *stmt = sqlite_stmt_get(c, id);
	enum store_result r = STORE_ERROR;
	size_t cap = 0;
	int rc;

	if (stmt == NULL)
		return STORE_ERROR;
	if (sqlite_kb_bind(stmt, user_id, version, room_id, session_id) != SQLITE_OK)
		goto out;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct store_backup_key *items = sqlite_kb_grow(out->items, out->n, &cap,
		                                                sizeof(*items),
		                                                STORE_BACKUP_SESSIONS_MAX);
		if (items == NULL)
			goto out;
		out->items = items;
		if (sqlite_kb_key_load(stmt, &items[out->n]) != 0)
			goto out;
		out->n++;
	}
	r = rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(c, rc, "backup keys");
out:
	sqlite_stmt_put(c, id, stmt);
	return r;
}

enum store_result sqlite_backup_keys_get(void *h, const char *user_id, int64_t version,
                                         const char *room_id, const char *session_id,
                                         struct store_backup_key_list *out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	struct sqlite_kb_version row;
	enum store_result r;

	if (c == NULL)
		return STORE_ERROR;
	/* one snapshot: keys of a version deleted in between never show */
	if (sqlite_exec_stmt(c, SQ_READ_BEGIN) != STORE_OK)
		return STORE_ERROR;
	r = sqlite_kb_version_read(c, user_id, version, &row);
	store_backup_version_clear(&row.v);
	if (r == STORE_OK && row.deleted)
		r = STORE_NOT_FOUND;
	if (r == STORE_OK)
		r = sqlite_kb_keys_list(c, user_id, version, room_id, session_id, out);
	if (sqlite_exec_stmt(c, SQ_COMMIT) != STORE_OK)
		r = STORE_ERROR;
	if (r != STORE_OK)
		store_backup_key_list_clear(out);
	return r;
}

struct sqlite_kb_keys_delete_args {
	const char *user_id;
	int64_t version;
	const char *room_id, *session_id;
	struct store_backup_counts out;
};

static enum store_result job_backup_keys_delete(struct sqlite_conn *w, void *arg)
{
	struct sqlite_kb_keys_delete_args *a = arg;
	struct sqlite_kb_version row;
	int64_t n, bytes;
	enum store_result r;

	r = sqlite_kb_version_read(w, a->user_id, a->version, &row);
	a->out = (struct store_backup_counts){ row.v.etag, row.v.count };
	store_backup_version_clear(&row.v);
	if (r == STORE_OK && row.deleted)
		r = STORE_NOT_FOUND;
	if (r != STORE_OK)
		return r;
	r = sqlite_kb_keys_remove(w, a->user_id, a->version, a->room_id, a->session_id, &n,
	                          &bytes);
	if (r != STORE_OK || n == 0)
		return r;   /* nothing went: the etag stays */
	return sqlite_kb_bump(w, a->user_id, a->version, -n, -bytes, &a->out);
}

enum store_result sqlite_backup_keys_delete(void *h, const char *user_id, int64_t version,
                                            const char *room_id, const char *session_id,
                                            struct store_backup_counts *out)
{
	struct sqlite_kb_keys_delete_args a = { user_id, version, room_id, session_id, { 0, 0 } };
	enum store_result r = sqlite_writer_submit(h, job_backup_keys_delete, &a);

	if (r == STORE_OK)
		*out = a.out;
	return r;
}
