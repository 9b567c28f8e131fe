/*
 * sqlite_account_data: filters and account data in SQL.
 *
 * Filter IDs are per user, 0, 1, 2... chosen inside the write job (MAX + 1
 * under the writer's transaction, so two uploads never get the same one).
 * Account data has its own stream: a counter row in stream_counters,
 * incremented by the same job that writes the entry, so a position is
 * committed together with the data it stands for. Global account data is
 * stored with room_id '' (a key column cannot be NULL); the back end maps
 * it back to NULL when loading.
 */
#include "store/sqlite/sqlite_store.h"

#include <stdlib.h>
#include <string.h>

#include "util/log.h"

struct sqlite_filter_args {
	const char *user_id;
	const char *json;
	int64_t filter_id;           /* out */
};

struct sqlite_account_data_args {
	const char *user_id;
	const char *room_id;         /* '' for global */
	const char *type;
	const char *json;
	int64_t stream;              /* out */
};

/* Run a statement whose first step returns one integer (RETURNING). */
static enum store_result sqlite_returning_int(struct sqlite_conn *w, sqlite3_stmt *stmt,
                                              const char *what, int64_t *out)
{
	int rc = sqlite3_step(stmt);

	if (rc != SQLITE_ROW)
		return sqlite_result_of(w, rc == SQLITE_DONE ? SQLITE_ERROR : rc, what);
	if (sqlite_col_int(stmt, 0, out) != 0 || *out < 0) {
		log_error("store: %s returned no usable position", what);
		return STORE_ERROR;
	}
	/* RETURNING's changes are made by the first step; finish it cleanly */
	rc = sqlite3_step(stmt);
	return rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(w, rc, what);
}

/* ---- filters ---------------------------------------------------------- */

static enum store_result job_filter_put(struct sqlite_conn *w, void *arg)
{
	struct sqlite_filter_args *a = arg;
	sqlite3_stmt *stmt = sqlite_stmt_get(w, SQ_FILTER_INSERT);
	enum store_result r = STORE_ERROR;

	if (stmt == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, a->user_id) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 2, a->json) == SQLITE_OK)
		r = sqlite_returning_int(w, stmt, "filter insert", &a->filter_id);
	sqlite_stmt_put(w, SQ_FILTER_INSERT, stmt);
	return r;
}

enum store_result sqlite_filter_put(void *h, const char *user_id, const char *json,
                                    int64_t *filter_id_out)
{
	struct sqlite_filter_args a = { user_id, json, 0 };
	enum store_result r;

	r = sqlite_writer_submit(h, job_filter_put, &a);
	*filter_id_out = r == STORE_OK ? a.filter_id : 0;
	return r;
}

/* A JSON text keyed by the statement's bound parameters, or NOT_FOUND. */
static enum store_result sqlite_json_row(struct sqlite_conn *c, sqlite3_stmt *stmt,
                                         const char *what, char **json_out)
{
	int rc = sqlite3_step(stmt);

	if (rc == SQLITE_DONE)
		return STORE_NOT_FOUND;
	if (rc != SQLITE_ROW)
		return sqlite_result_of(c, rc, what);
	if (sqlite_col_text(stmt, 0, false, STORE_TEXT_MAX, json_out) != 0) {
		log_error("store: unreadable %s row (wrong type, size, or out of memory)", what);
		return STORE_ERROR;
	}
	return STORE_OK;
}

enum store_result sqlite_filter_get(void *h, const char *user_id, int64_t filter_id,
                                    char **json_out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	sqlite3_stmt *stmt;
	enum store_result r = STORE_ERROR;

	if (c == NULL || (stmt = sqlite_stmt_get(c, SQ_FILTER_GET)) == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, user_id) == SQLITE_OK &&
	    sqlite3_bind_int64(stmt, 2, filter_id) == SQLITE_OK)
		r = sqlite_json_row(c, stmt, "filters", json_out);
	sqlite_stmt_put(c, SQ_FILTER_GET, stmt);
	return r;
}

/* ---- account data ----------------------------------------------------- */

static enum store_result job_account_data_put(struct sqlite_conn *w, void *arg)
{
	struct sqlite_account_data_args *a = arg;
	sqlite3_stmt *stmt = sqlite_stmt_get(w, SQ_ACCOUNT_DATA_NEXT);
	enum store_result r;
	int rc;

	if (stmt == NULL)
		return STORE_ERROR;
	r = sqlite_returning_int(w, stmt, "account data stream", &a->stream);
	sqlite_stmt_put(w, SQ_ACCOUNT_DATA_NEXT, stmt);
	if (r != STORE_OK)
		return r;
	stmt = sqlite_stmt_get(w, SQ_ACCOUNT_DATA_UPSERT);
	if (stmt == NULL)
		return STORE_ERROR;
	r = STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, a->user_id) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 2, a->room_id) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 3, a->type) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 4, a->json) == SQLITE_OK &&
	    sqlite3_bind_int64(stmt, 5, a->stream) == SQLITE_OK) {
		rc = sqlite3_step(stmt);
		r = rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(w, rc, "account data put");
	}
	sqlite_stmt_put(w, SQ_ACCOUNT_DATA_UPSERT, stmt);
	return r;
}

enum store_result sqlite_account_data_put(void *h, const char *user_id, const char *room_id,
                                          const char *type, const char *json,
                                          int64_t *stream_out)
{
	struct sqlite_account_data_args a = {
		.user_id = user_id, .room_id = room_id != NULL ? room_id : "",
		.type = type, .json = json,
	};
	enum store_result r;

	r = sqlite_writer_submit(h, job_account_data_put, &a);
	*stream_out = r == STORE_OK ? a.stream : 0;
	return r;
}

enum store_result sqlite_account_data_get(void *h, const char *user_id, const char *room_id,
                                          const char *type, char **json_out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	sqlite3_stmt *stmt;
	enum store_result r = STORE_ERROR;

	if (c == NULL || (stmt = sqlite_stmt_get(c, SQ_ACCOUNT_DATA_GET)) == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, user_id) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 2, room_id != NULL ? room_id : "") == SQLITE_OK &&
	    sqlite_bind_text(stmt, 3, type) == SQLITE_OK)
		r = sqlite_json_row(c, stmt, "account_data", json_out);
	sqlite_stmt_put(c, SQ_ACCOUNT_DATA_GET, stmt);
	return r;
}

/* Fill d from (room_id, type, json, stream); '' becomes NULL (global). */
static int sqlite_account_data_load(sqlite3_stmt *stmt, struct store_account_data *d)
{
	memset(d, 0, sizeof(*d));
	if (sqlite_col_text(stmt, 0, false, STORE_ID_MAX, &d->room_id) != 0 ||
	    sqlite_col_text(stmt, 1, false, STORE_ID_MAX, &d->type) != 0 ||
	    sqlite_col_text(stmt, 2, false, STORE_TEXT_MAX, &d->json) != 0 ||
	    sqlite_col_int(stmt, 3, &d->stream) != 0) {
		log_error("store: unreadable account_data row (wrong type, size, or out of memory)");
		goto err;
	}
	if (d->room_id[0] == '\0') {
		free(d->room_id);
		d->room_id = NULL;
	}
	return 0;
err:
	free(d->room_id);
	free(d->type);
	free(d->json);
	memset(d, 0, sizeof(*d));
	return -1;
}

enum store_result sqlite_account_data_since(void *h, const char *user_id, int64_t since,
                                            struct store_account_data_list *out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	struct store_account_data *grown;
	sqlite3_stmt *stmt;
	enum store_result r = STORE_ERROR;
	size_t cap = 0;
	int rc;

	if (c == NULL || (stmt = sqlite_stmt_get(c, SQ_ACCOUNT_DATA_SINCE)) == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, user_id) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 2, since) != SQLITE_OK)
		goto out;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (out->n == cap) {
			if (cap >= STORE_STATE_MAX) {
				log_error("store: account data list too long; refusing it");
				goto out;
			}
			cap = cap == 0 ? 16 : cap * 2;
			grown = realloc(out->items, cap * sizeof(*grown));
			if (grown == NULL) {
				log_error("store: out of memory reading account data");
				goto out;
			}
			out->items = grown;
		}
		if (sqlite_account_data_load(stmt, &out->items[out->n]) != 0)
			goto out;
		out->n++;
	}
	r = rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(c, rc, "account data since");
out:
	sqlite_stmt_put(c, SQ_ACCOUNT_DATA_SINCE, stmt);
	if (r != STORE_OK)
		store_account_data_list_clear(out);
	return r;
}
