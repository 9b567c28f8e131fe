/*
 * sqlite_devices: devices in SQL. Same pattern as sqlite_users.c: reads on
 * the caller's reader connection, writes as jobs on the writer thread.
 *
 * Invariant kept by every delete here: a device's access and refresh
 * tokens go before (and with) the device, in the same savepoint. The
 * schema's foreign keys make a forgotten token delete fail the write.
 */
#include "store/sqlite/sqlite_store.h"

#include <string.h>

#include "util/log.h"

struct sqlite_device_args {
	const char *user_id;
	const char *device_id;
	const char *text;            /* display name */
	const char *ip;
	const char *user_agent;
	int64_t now_ms;
};

/* Fill d from a row in DEVICE_COLS order. 0, or -1 with d cleared. */
static int sqlite_device_load(sqlite3_stmt *stmt, struct store_device *d)
{
	memset(d, 0, sizeof(*d));
	if (sqlite_col_text(stmt, 0, false, STORE_USER_ID_MAX, &d->user_id) != 0 ||
	    sqlite_col_text(stmt, 1, false, STORE_DEVICE_ID_MAX, &d->device_id) != 0 ||
	    sqlite_col_text(stmt, 2, true, STORE_TEXT_MAX, &d->display_name) != 0 ||
	    sqlite_col_int(stmt, 3, &d->created_ts) != 0 ||
	    sqlite_col_int(stmt, 4, &d->last_seen_ts) != 0 ||
	    sqlite_col_text(stmt, 5, true, STORE_IP_MAX, &d->last_seen_ip) != 0 ||
	    sqlite_col_text(stmt, 6, true, STORE_TEXT_MAX, &d->last_seen_user_agent) != 0) {
		log_error("store: unreadable devices row (wrong type, size, or out of memory)");
		store_device_clear(d);
		return -1;
	}
	return 0;
}

/* ---- reads ------------------------------------------------------------ */

enum store_result sqlite_device_get(void *h, const char *user_id, const char *device_id,
                                    struct store_device *out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	sqlite3_stmt *stmt;
	enum store_result r = STORE_ERROR;
	int rc;

	if (c == NULL || (stmt = sqlite_stmt_get(c, SQ_DEVICE_GET)) == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, user_id) != SQLITE_OK ||
	    sqlite_bind_text(stmt, 2, device_id) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		r = sqlite_device_load(stmt, out) == 0 ? STORE_OK : STORE_ERROR;
	else if (rc == SQLITE_DONE)
		r = STORE_NOT_FOUND;
	else
		r = sqlite_result_of(c, rc, "device get");
out:
	sqlite_stmt_put(c, SQ_DEVICE_GET, stmt);
	return r;
}

enum store_result sqlite_device_list(void *h, const char *user_id, store_device_fn fn,
                                     void *ctx)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	struct store_device d;
	sqlite3_stmt *stmt;
	enum store_result r = STORE_ERROR;
	int rc, stop;

	if (c == NULL || (stmt = sqlite_stmt_get(c, SQ_DEVICE_LIST)) == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, user_id) != SQLITE_OK)
		goto out;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (sqlite_device_load(stmt, &d) != 0)
			goto out;
		stop = fn(ctx, &d);
		store_device_clear(&d);
		if (stop != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		r = sqlite_result_of(c, rc, "device list");
		goto out;
	}
	r = STORE_OK;
out:
	sqlite_stmt_put(c, SQ_DEVICE_LIST, stmt);
	return r;
}

/* ---- writes ----------------------------------------------------------- */

enum store_result sqlite_device_tokens_delete(struct sqlite_conn *w, const char *user_id,
                                              const char *device_id)
{
	const char *texts[2] = { user_id, device_id };
	enum store_result r;

	/* access tokens first: they reference refresh tokens */
	r = sqlite_exec_texts(w, SQ_ACCESS_DELETE_DEVICE, texts, 2, NULL);
	if (r == STORE_OK)
		r = sqlite_exec_texts(w, SQ_REFRESH_DELETE_DEVICE, texts, 2, NULL);
	return r;
}

enum store_result sqlite_devices_purge(struct sqlite_conn *w, const char *user_id,
                                       const char *keep_device_id)
{
	const char *texts[2] = { user_id, keep_device_id };
	enum store_result r;

	r = sqlite_exec_texts(w, SQ_ACCESS_DELETE_OTHER_DEVICES, texts, 2, NULL);
	if (r == STORE_OK)
		r = sqlite_exec_texts(w, SQ_REFRESH_DELETE_OTHER_DEVICES, texts, 2, NULL);
	if (r == STORE_OK)
		r = sqlite_exec_texts(w, SQ_TD_DELETE_OTHER_DEVICES, texts, 2, NULL);
	if (r == STORE_OK)
		r = sqlite_exec_texts(w, SQ_DEVICES_DELETE_ALL, texts, 2, NULL);
	return r;
}

static enum store_result job_device_set_name(struct sqlite_conn *w, void *arg)
{
	struct sqlite_device_args *a = arg;
	const char *texts[3] = { a->user_id, a->device_id, a->text };
	enum store_result r;
	int changes;

	r = sqlite_exec_texts(w, SQ_DEVICE_SET_NAME, texts, 3, &changes);
	return r == STORE_OK && changes == 0 ? STORE_NOT_FOUND : r;
}

enum store_result sqlite_device_set_display_name(void *h, const char *user_id,
                                                 const char *device_id,
                                                 const char *display_name)
{
	struct sqlite_device_args a = {
		.user_id = user_id, .device_id = device_id, .text = display_name,
	};

	return sqlite_writer_submit(h, job_device_set_name, &a);
}

static enum store_result job_device_touch(struct sqlite_conn *w, void *arg)
{
	struct sqlite_device_args *a = arg;
	sqlite3_stmt *stmt = sqlite_stmt_get(w, SQ_DEVICE_TOUCH);
	enum store_result r = STORE_ERROR;
	int rc;

	if (stmt == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, a->user_id) != SQLITE_OK ||
	    sqlite_bind_text(stmt, 2, a->device_id) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 3, a->now_ms) != SQLITE_OK ||
	    sqlite_bind_text(stmt, 4, a->ip) != SQLITE_OK ||
	    sqlite_bind_text(stmt, 5, a->user_agent) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE)
		r = sqlite3_changes(w->db) > 0 ? STORE_OK : STORE_NOT_FOUND;
	else
		r = sqlite_result_of(w, rc, "device touch");
out:
	sqlite_stmt_put(w, SQ_DEVICE_TOUCH, stmt);
	return r;
}

enum store_result sqlite_device_touch(void *h, const char *user_id, const char *device_id,
                                      const char *ip, const char *user_agent, int64_t now_ms)
{
	struct sqlite_device_args a = {
		.user_id = user_id, .device_id = device_id, .ip = ip,
		.user_agent = user_agent, .now_ms = now_ms,
	};

	return sqlite_writer_submit(h, job_device_touch, &a);
}

static enum store_result job_device_delete(struct sqlite_conn *w, void *arg)
{
	struct sqlite_device_args *a = arg;
	const char *texts[2] = { a->user_id, a->device_id };
	enum store_result r;
	int changes;

	r = sqlite_device_tokens_delete(w, a->user_id, a->device_id);
	/* a deleted device's undelivered to-device messages go with it */
	if (r == STORE_OK)
		r = sqlite_exec_texts(w, SQ_TD_DELETE_DEVICE, texts, 2, NULL);
	if (r != STORE_OK)
		return r;
	r = sqlite_exec_texts(w, SQ_DEVICE_DELETE, texts, 2, &changes);
	return r == STORE_OK && changes == 0 ? STORE_NOT_FOUND : r;
}

enum store_result sqlite_device_delete(void *h, const char *user_id, const char *device_id)
{
	struct sqlite_device_args a = { .user_id = user_id, .device_id = device_id };

	return sqlite_writer_submit(h, job_device_delete, &a);
}

static enum store_result job_devices_delete_all(struct sqlite_conn *w, void *arg)
{
	struct sqlite_device_args *a = arg;
	enum store_result r;

	r = sqlite_probe(w, SQ_USER_EXISTS, a->user_id);
	if (r != STORE_OK)
		return r;
	return sqlite_devices_purge(w, a->user_id, a->device_id);
}

enum store_result sqlite_devices_delete_all(void *h, const char *user_id,
                                            const char *keep_device_id)
{
	struct sqlite_device_args a = { .user_id = user_id, .device_id = keep_device_id };

	return sqlite_writer_submit(h, job_devices_delete_all, &a);
}
