/*
 * sqlite_ledger: the access ledger's rows in SQL (migration 13).
 *
 * An append is one write job of the group commit: it checks that the batch
 * continues the recorded head, inserts the rows and moves the head, so a
 * batch is either all in (with its head) or not at all. A purge deletes a
 * prefix and records its last row as the checkpoint in the same job.
 *
 * The ledger's statements are prepared per call rather than cached in
 * sqlite_stmt_sql[]: an append runs once per batch (hundreds of rows), and
 * the walks and purges run from the CLI or once an hour, so caching would
 * save nothing measurable.
 */
#include "store/sqlite/sqlite_store.h"

#include <stdlib.h>
#include <string.h>

#include "util/log.h"

#define LEDGER_COLS "seq, ts, user_id, device_id, ip, user_agent, kind, room_id, items, " \
	"n_events, media_id, bytes, query, result_count, hash"

static sqlite3_stmt *ledger_prepare(struct sqlite_conn *c, const char *sql)
{
	sqlite3_stmt *stmt = NULL;

	if (sqlite3_prepare_v2(c->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
		log_error("store: cannot prepare a ledger statement: %s", sqlite3_errmsg(c->db));
		return NULL;
	}
	return stmt;
}

/* A BLOB column of exactly STORE_LEDGER_HASH_LEN bytes. 0 or -1. */
static int ledger_col_hash(sqlite3_stmt *stmt, int col, unsigned char out[STORE_LEDGER_HASH_LEN])
{
	const void *p;

	if (sqlite3_column_type(stmt, col) != SQLITE_BLOB ||
	    sqlite3_column_bytes(stmt, col) != STORE_LEDGER_HASH_LEN)
		return -1;
	p = sqlite3_column_blob(stmt, col);
	if (p == NULL)
		return -1;
	memcpy(out, p, STORE_LEDGER_HASH_LEN);
	return 0;
}

/* Inside a job or a read: the head and the checkpoint. */
static enum store_result ledger_marks_on(struct sqlite_conn *c, struct store_ledger_mark *head,
                                         struct store_ledger_mark *checkpoint)
{
	sqlite3_stmt *stmt = ledger_prepare(c, "SELECT head_seq, head_hash, checkpoint_seq, "
	                                       "checkpoint_hash FROM ledger_marks WHERE id = 1");
	enum store_result r = STORE_ERROR;
	int rc;

	if (stmt == NULL)
		return STORE_ERROR;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW && sqlite_col_int(stmt, 0, &head->seq) == 0 &&
	    ledger_col_hash(stmt, 1, head->hash) == 0 &&
	    sqlite_col_int(stmt, 2, &checkpoint->seq) == 0 &&
	    ledger_col_hash(stmt, 3, checkpoint->hash) == 0)
		r = STORE_OK;
	else if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		log_error("store: the ledger marks row is missing or unreadable");
	else
		r = sqlite_result_of(c, rc, "ledger marks");
	sqlite3_finalize(stmt);
	return r;
}

static int ledger_bind_row(sqlite3_stmt *stmt, const struct store_ledger_row *r)
{
	return sqlite3_bind_int64(stmt, 1, r->seq) != SQLITE_OK ||
	       sqlite3_bind_int64(stmt, 2, r->ts) != SQLITE_OK ||
	       sqlite_bind_text(stmt, 3, r->user_id) != SQLITE_OK ||
	       sqlite_bind_text(stmt, 4, r->device_id) != SQLITE_OK ||
	       sqlite_bind_text(stmt, 5, r->ip) != SQLITE_OK ||
	       sqlite_bind_text(stmt, 6, r->user_agent) != SQLITE_OK ||
	       sqlite_bind_text(stmt, 7, r->kind) != SQLITE_OK ||
	       sqlite_bind_text(stmt, 8, r->room_id) != SQLITE_OK ||
	       sqlite_bind_text(stmt, 9, r->items) != SQLITE_OK ||
	       sqlite3_bind_int64(stmt, 10, r->n_events) != SQLITE_OK ||
	       sqlite_bind_text(stmt, 11, r->media_id) != SQLITE_OK ||
	       sqlite3_bind_int64(stmt, 12, r->bytes) != SQLITE_OK ||
	       sqlite_bind_text(stmt, 13, r->query) != SQLITE_OK ||
	       sqlite3_bind_int64(stmt, 14, r->result_count) != SQLITE_OK ||
	       sqlite3_bind_blob(stmt, 15, r->hash, STORE_LEDGER_HASH_LEN, SQLITE_STATIC) !=
	               SQLITE_OK ? -1 : 0;
}

struct ledger_append_args {
	const struct store_ledger_row *rows;
	size_t n;
};

static enum store_result ledger_set_head(struct sqlite_conn *w, const struct store_ledger_row *r)
{
	sqlite3_stmt *stmt = ledger_prepare(w, "UPDATE ledger_marks SET head_seq = ?1, "
	                                       "head_hash = ?2 WHERE id = 1");
	enum store_result res = STORE_ERROR;
	int rc;

	if (stmt == NULL)
		return STORE_ERROR;
	if (sqlite3_bind_int64(stmt, 1, r->seq) == SQLITE_OK &&
	    sqlite3_bind_blob(stmt, 2, r->hash, STORE_LEDGER_HASH_LEN, SQLITE_STATIC) == SQLITE_OK) {
		rc = sqlite3_step(stmt);
		res = rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(w, rc, "ledger head");
	}
	sqlite3_finalize(stmt);
	return res;
}

static enum store_result job_ledger_append(struct sqlite_conn *w, void *arg)
{
	struct ledger_append_args *a = arg;
	struct store_ledger_mark head, cp;
	sqlite3_stmt *stmt = NULL;
	enum store_result r = ledger_marks_on(w, &head, &cp);

	if (r != STORE_OK)
		return r;
	if (a->rows[0].seq != head.seq + 1) {
		log_error("store: ledger append at seq %lld, head is %lld",
		          (long long)a->rows[0].seq, (long long)head.seq);
		return STORE_CONFLICT;
	}
	stmt = ledger_prepare(w, "INSERT INTO ledger (" LEDGER_COLS ") VALUES "
	                         "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)");
	if (stmt == NULL)
		return STORE_ERROR;
	for (size_t i = 0; i < a->n && r == STORE_OK; i++) {
		int rc;

		sqlite3_reset(stmt);
		sqlite3_clear_bindings(stmt);
		if (ledger_bind_row(stmt, &a->rows[i]) != 0) {
			r = STORE_ERROR;
			break;
		}
		rc = sqlite3_step(stmt);
		if (rc != SQLITE_DONE)
			r = sqlite_result_of(w, rc, "ledger insert");
	}
	sqlite3_finalize(stmt);
	if (r == STORE_OK)
		r = ledger_set_head(w, &a->rows[a->n - 1]);
	return r;
}

enum store_result sqlite_ledger_append(void *h, const struct store_ledger_row *rows, size_t n)
{
	struct ledger_append_args a = { rows, n };
	return sqlite_writer_submit(h, job_ledger_append, &a);
}

enum store_result sqlite_ledger_marks(void *h, struct store_ledger_mark *head,
                                      struct store_ledger_mark *checkpoint)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	return c ? ledger_marks_on(c, head, checkpoint) : STORE_ERROR;
}

static int ledger_row_load(sqlite3_stmt *stmt, struct store_ledger_row *r)
{
	memset(r, 0, sizeof(*r));
	if (sqlite_col_int(stmt, 0, &r->seq) == 0 && sqlite_col_int(stmt, 1, &r->ts) == 0 &&
	    sqlite_col_text(stmt, 2, false, STORE_USER_ID_MAX, &r->user_id) == 0 &&
	    sqlite_col_text(stmt, 3, true, STORE_DEVICE_ID_MAX, &r->device_id) == 0 &&
	    sqlite_col_text(stmt, 4, true, STORE_IP_MAX, &r->ip) == 0 &&
	    sqlite_col_text(stmt, 5, true, STORE_TEXT_MAX, &r->user_agent) == 0 &&
	    sqlite_col_text(stmt, 6, false, STORE_LEDGER_KIND_MAX, &r->kind) == 0 &&
	    sqlite_col_text(stmt, 7, true, STORE_TEXT_MAX, &r->room_id) == 0 &&
	    sqlite_col_text(stmt, 8, true, STORE_LEDGER_ITEMS_MAX, &r->items) == 0 &&
	    sqlite_col_int(stmt, 9, &r->n_events) == 0 &&
	    sqlite_col_text(stmt, 10, true, STORE_TEXT_MAX, &r->media_id) == 0 &&
	    sqlite_col_int(stmt, 11, &r->bytes) == 0 &&
	    sqlite_col_text(stmt, 12, true, STORE_LEDGER_QUERY_MAX, &r->query) == 0 &&
	    sqlite_col_int(stmt, 13, &r->result_count) == 0 &&
	    ledger_col_hash(stmt, 14, r->hash) == 0)
		return 0;
	store_ledger_row_clear(r);
	return -1;
}

enum store_result sqlite_ledger_walk(void *h, const char *user_id, int64_t since, int64_t until,
                                     store_ledger_fn fn, void *ctx)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	sqlite3_stmt *stmt;
	enum store_result r = STORE_OK;
	int rc = SQLITE_DONE;

	if (c == NULL)
		return STORE_ERROR;
	stmt = ledger_prepare(c, user_id ? "SELECT " LEDGER_COLS " FROM ledger WHERE user_id = ?1 "
	                                   "AND ts >= ?2 AND ts < ?3 ORDER BY seq"
	                                 : "SELECT " LEDGER_COLS " FROM ledger ORDER BY seq");
	if (stmt == NULL)
		return STORE_ERROR;
	if (user_id && (sqlite_bind_text(stmt, 1, user_id) != SQLITE_OK ||
	                sqlite3_bind_int64(stmt, 2, since) != SQLITE_OK ||
	                sqlite3_bind_int64(stmt, 3, until) != SQLITE_OK))
		r = STORE_ERROR;
	while (r == STORE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct store_ledger_row row;
		int stop;

		if (ledger_row_load(stmt, &row) != 0) {
			log_error("store: unreadable ledger row (wrong type or size)");
			r = STORE_ERROR;
			break;
		}
		stop = fn(ctx, &row);
		store_ledger_row_clear(&row);
		if (stop)
			break;
	}
	if (r == STORE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = sqlite_result_of(c, rc, "ledger walk");
	sqlite3_finalize(stmt);
	return r;
}

enum store_result sqlite_ledger_purge_point(void *h, int64_t before_ts,
                                            struct store_ledger_mark *out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	sqlite3_stmt *stmt;
	enum store_result r = STORE_ERROR;
	int rc;

	if (c == NULL)
		return STORE_ERROR;
	/* Among the STORE_LEDGER_PURGE_MAX rows after the checkpoint, the row
	 * just before the first one young enough to keep: purging stops there
	 * even if an older timestamp follows it (rows are only removed as a
	 * prefix, or the chain would have holes). Both scans walk seq order
	 * from the checkpoint and read at most that many rows. */
	stmt = ledger_prepare(c, "WITH cp(s) AS (SELECT checkpoint_seq FROM ledger_marks WHERE id = 1) "
	                         "SELECT seq, hash FROM ledger, cp WHERE seq > cp.s AND seq <= cp.s + ?2 "
	                         "AND seq < COALESCE((SELECT seq FROM ledger, cp WHERE seq > cp.s "
	                         "AND seq <= cp.s + ?2 AND ts >= ?1 ORDER BY seq LIMIT 1), "
	                         "cp.s + ?2 + 1) ORDER BY seq DESC LIMIT 1");
	if (stmt == NULL)
		return STORE_ERROR;
	if (sqlite3_bind_int64(stmt, 1, before_ts) == SQLITE_OK &&
	    sqlite3_bind_int64(stmt, 2, STORE_LEDGER_PURGE_MAX) == SQLITE_OK) {
		rc = sqlite3_step(stmt);
		if (rc == SQLITE_ROW)
			r = sqlite_col_int(stmt, 0, &out->seq) == 0 &&
			            ledger_col_hash(stmt, 1, out->hash) == 0
			    ? STORE_OK : STORE_ERROR;
		else if (rc == SQLITE_DONE)
			r = STORE_NOT_FOUND;
		else
			r = sqlite_result_of(c, rc, "ledger purge point");
	}
	sqlite3_finalize(stmt);
	return r;
}

static enum store_result ledger_exec_mark(struct sqlite_conn *w, const char *sql,
                                          const struct store_ledger_mark *m, int *changes)
{
	sqlite3_stmt *stmt = ledger_prepare(w, sql);
	enum store_result r = STORE_ERROR;
	int rc;

	if (stmt == NULL)
		return STORE_ERROR;
	if (sqlite3_bind_int64(stmt, 1, m->seq) == SQLITE_OK &&
	    sqlite3_bind_blob(stmt, 2, m->hash, STORE_LEDGER_HASH_LEN, SQLITE_STATIC) == SQLITE_OK) {
		rc = sqlite3_step(stmt);
		r = rc == SQLITE_DONE || rc == SQLITE_ROW ? STORE_OK
		                                          : sqlite_result_of(w, rc, "ledger purge");
		if (changes)   /* asked only of the SELECT: did it find the row? */
			*changes = rc == SQLITE_ROW;
	}
	sqlite3_finalize(stmt);
	return r;
}

static enum store_result job_ledger_purge(struct sqlite_conn *w, void *arg)
{
	const struct store_ledger_mark *m = arg;
	int found = 0;
	enum store_result r;

	r = ledger_exec_mark(w, "SELECT 1 FROM ledger WHERE seq = ?1 AND hash = ?2", m, &found);
	if (r != STORE_OK)
		return r;
	if (!found)
		return STORE_CONFLICT;
	r = ledger_exec_mark(w, "UPDATE ledger_marks SET checkpoint_seq = ?1, "
	                        "checkpoint_hash = ?2 WHERE id = 1", m, NULL);
	if (r == STORE_OK)
		r = ledger_exec_mark(w, "DELETE FROM ledger WHERE seq <= ?1 AND ?2 IS NOT NULL", m,
		                     NULL);
	return r;
}

enum store_result sqlite_ledger_purge(void *h, const struct store_ledger_mark *upto)
{
	return sqlite_writer_submit(h, job_ledger_purge, (void *)upto);
}
