/*
 * sqlite_media: media repository metadata in SQL. Inserting and completing
 * an upload are each one write job that reads the uploader's usage and
 * writes the row, so the quota holds under concurrent uploads.
 */
#include "store/sqlite/sqlite_store.h"

#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* Inside a job or a read: the user's stored bytes and open pending rows. */
static enum store_result media_usage_on(struct sqlite_conn *c, const char *user_id,
                                        int64_t now_ms, int64_t *bytes, int64_t *pending)
{
	sqlite3_stmt *stmt = sqlite_stmt_get(c, SQ_MEDIA_USAGE);
	enum store_result r = STORE_ERROR;
	int rc;

	if (stmt == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, user_id) == SQLITE_OK &&
	    sqlite3_bind_int64(stmt, 2, now_ms) == SQLITE_OK) {
		rc = sqlite3_step(stmt);
		if (rc == SQLITE_ROW && sqlite_col_int(stmt, 0, bytes) == 0 &&
		    sqlite_col_int(stmt, 1, pending) == 0)
			r = STORE_OK;
		else if (rc != SQLITE_ROW)
			r = sqlite_result_of(c, rc, "media usage");
	}
	sqlite_stmt_put(c, SQ_MEDIA_USAGE, stmt);
	return r;
}

/* Would m->size more bytes pass the quota? (quota 0: no quota) */
static enum store_result media_quota_check(struct sqlite_conn *w, const struct store_media *m,
                                           int64_t quota, bool *over_quota)
{
	int64_t bytes = 0, pending = 0;
	enum store_result r;

	*over_quota = false;
	if (quota <= 0)
		return STORE_OK;
	r = media_usage_on(w, m->user_id, 0, &bytes, &pending);
	if (r == STORE_OK && (m->size > quota || bytes > quota - m->size)) {
		*over_quota = true;
		r = STORE_CONFLICT;
	}
	return r;
}

struct sqlite_media_write_args {
	const struct store_media *m;
	int64_t now_ms, quota;
	bool *over_quota;
};

static enum store_result job_media_insert(struct sqlite_conn *w, void *arg)
{
	struct sqlite_media_write_args *a = arg;
	const struct store_media *m = a->m;
	sqlite3_stmt *stmt;
	enum store_result r;

	r = media_quota_check(w, m, a->quota, a->over_quota);
	if (r != STORE_OK)
		return r;
	stmt = sqlite_stmt_get(w, SQ_MEDIA_INSERT);
	if (stmt == NULL)
		return STORE_ERROR;
	r = STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, m->media_id) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 2, m->user_id) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 3, m->sha256) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 4, m->content_type) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 5, m->upload_name) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 6, m->sniffed_type) == SQLITE_OK &&
	    sqlite3_bind_int64(stmt, 7, m->size) == SQLITE_OK &&
	    sqlite3_bind_int64(stmt, 8, m->created_ts) == SQLITE_OK &&
	    sqlite3_bind_int64(stmt, 9, m->expires_ts) == SQLITE_OK) {
		int rc = sqlite3_step(stmt);
		r = rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(w, rc, "media insert");
	}
	sqlite_stmt_put(w, SQ_MEDIA_INSERT, stmt);
	return r;
}

enum store_result sqlite_media_insert(void *h, const struct store_media *m, int64_t quota,
                                      bool *over_quota)
{
	struct sqlite_media_write_args a = { m, 0, quota, over_quota };
	return sqlite_writer_submit(h, job_media_insert, &a);
}

static int media_load(sqlite3_stmt *stmt, struct store_media *m)
{
	memset(m, 0, sizeof(*m));
	if (sqlite_col_text(stmt, 0, false, STORE_MEDIA_ID_MAX, &m->media_id) == 0 &&
	    sqlite_col_text(stmt, 1, false, STORE_USER_ID_MAX, &m->user_id) == 0 &&
	    sqlite_col_text(stmt, 2, true, 64, &m->sha256) == 0 &&
	    sqlite_col_text(stmt, 3, true, STORE_MEDIA_TEXT_MAX, &m->content_type) == 0 &&
	    sqlite_col_text(stmt, 4, true, STORE_MEDIA_TEXT_MAX, &m->upload_name) == 0 &&
	    sqlite_col_text(stmt, 5, true, STORE_MEDIA_TEXT_MAX, &m->sniffed_type) == 0 &&
	    sqlite_col_int(stmt, 6, &m->size) == 0 &&
	    sqlite_col_int(stmt, 7, &m->created_ts) == 0 &&
	    sqlite_col_int(stmt, 8, &m->expires_ts) == 0 &&
	    sqlite_col_bool(stmt, 9, &m->quarantined) == 0)
		return 0;
	store_media_clear(m);
	log_error("store: unreadable media row (wrong type, size, or out of memory)");
	return -1;
}

/* Read one row on connection c (a reader, or the writer inside a job). */
static enum store_result media_get_on(struct sqlite_conn *c, const char *media_id,
                                      struct store_media *out)
{
	sqlite3_stmt *stmt = sqlite_stmt_get(c, SQ_MEDIA_GET);
	enum store_result r = STORE_ERROR;
	int rc;

	if (stmt == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, media_id) == SQLITE_OK) {
		rc = sqlite3_step(stmt);
		if (rc == SQLITE_ROW)
			r = media_load(stmt, out) == 0 ? STORE_OK : STORE_ERROR;
		else if (rc == SQLITE_DONE)
			r = STORE_NOT_FOUND;
		else
			r = sqlite_result_of(c, rc, "media get");
	}
	sqlite_stmt_put(c, SQ_MEDIA_GET, stmt);
	return r;
}

enum store_result sqlite_media_get(void *h, const char *media_id, struct store_media *out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);

	if (c == NULL)
		return STORE_ERROR;
	return media_get_on(c, media_id, out);
}

static enum store_result job_media_complete(struct sqlite_conn *w, void *arg)
{
	struct sqlite_media_write_args *a = arg;
	const struct store_media *m = a->m;
	struct store_media cur;
	sqlite3_stmt *stmt;
	enum store_result r;

	r = media_get_on(w, m->media_id, &cur);
	if (r != STORE_OK)
		return r;
	/* Whose and which state: another user's pending row is as unknown as
	 * a missing one (no probing of others' IDs); content already there is
	 * M_CANNOT_OVERWRITE_MEDIA for its owner. */
	if (strcmp(cur.user_id, m->user_id) != 0)
		r = STORE_NOT_FOUND;
	else if (cur.sha256 != NULL)
		r = STORE_CONFLICT;
	else if (cur.expires_ts <= a->now_ms)
		r = STORE_NOT_FOUND;
	store_media_clear(&cur);
	if (r == STORE_OK)
		r = media_quota_check(w, m, a->quota, a->over_quota);
	if (r != STORE_OK)
		return r;
	stmt = sqlite_stmt_get(w, SQ_MEDIA_COMPLETE);
	if (stmt == NULL)
		return STORE_ERROR;
	r = STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, m->media_id) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 2, m->user_id) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 3, m->sha256) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 4, m->content_type) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 5, m->upload_name) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 6, m->sniffed_type) == SQLITE_OK &&
	    sqlite3_bind_int64(stmt, 7, m->size) == SQLITE_OK) {
		int rc = sqlite3_step(stmt);
		r = rc == SQLITE_DONE ? (sqlite3_changes(w->db) == 1 ? STORE_OK : STORE_ERROR)
		                      : sqlite_result_of(w, rc, "media complete");
	}
	sqlite_stmt_put(w, SQ_MEDIA_COMPLETE, stmt);
	return r;
}

enum store_result sqlite_media_complete(void *h, const struct store_media *m, int64_t now_ms,
                                        int64_t quota, bool *over_quota)
{
	struct sqlite_media_write_args a = { m, now_ms, quota, over_quota };
	return sqlite_writer_submit(h, job_media_complete, &a);
}

enum store_result sqlite_media_usage(void *h, const char *user_id, int64_t now_ms,
                                     int64_t *bytes, int64_t *pending)
{
	struct sqlite_conn *c = sqlite_reader_get(h);

	if (c == NULL)
		return STORE_ERROR;
	return media_usage_on(c, user_id, now_ms, bytes, pending);
}

struct sqlite_media_quarantine_args {
	const char *const *ids;
	size_t n;
	const char *user_id, *by;
	int64_t *changed;
};

static enum store_result job_media_quarantine(struct sqlite_conn *w, void *arg)
{
	struct sqlite_media_quarantine_args *a = arg;
	enum store_result r = STORE_OK;
	int changes = 0;

	*a->changed = 0;    /* a job may run again if its batch is retried */
	if (a->ids == NULL) {
		const char *texts[2] = { a->user_id, a->by };
		r = sqlite_exec_texts(w, SQ_MEDIA_QUARANTINE_USER, texts, 2, &changes);
		*a->changed = changes;
		return r;
	}
	for (size_t i = 0; r == STORE_OK && i < a->n; i++) {
		const char *texts[2] = { a->ids[i], a->by };
		r = sqlite_exec_texts(w, SQ_MEDIA_QUARANTINE_ONE, texts, 2, &changes);
		*a->changed += changes;
	}
	return r;
}

enum store_result sqlite_media_quarantine(void *h, const char *const *ids, size_t n,
                                          const char *user_id, const char *by,
                                          int64_t *changed)
{
	struct sqlite_media_quarantine_args a = { ids, n, user_id, by, changed };
	return sqlite_writer_submit(h, job_media_quarantine, &a);
}
