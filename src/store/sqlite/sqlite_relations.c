/*
 * sqlite_relations: event relations in SQL (edits, threads, references).
 *
 * The write side is one INSERT inside the persist job (sqlite_rooms.c
 * calls sqlite_relation_insert for an event with a rel_type), so a
 * relation commits or rolls back with its event. The reads run on the
 * calling thread's reader connection. A list of parent IDs is bound as one
 * JSON array read by json_each(), not spliced into SQL text. The
 * aggregation's two statements run in one read transaction, so the thread
 * totals and the children come from the same snapshot.
 */
#include "store/sqlite/sqlite_store.h"

#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* ---- the persist job -------------------------------------------------- */

enum store_result sqlite_relation_insert(struct sqlite_conn *w, const struct store_event_new *e,
                                         int64_t stream)
{
	const char *t[6] = { e->event_id, e->relates_to, e->rel_type, e->room_id, e->sender,
	                     e->type };
	sqlite3_stmt *stmt = sqlite_stmt_get(w, SQ_RELATION_INSERT);
	enum store_result r = STORE_ERROR;
	int rc;

	if (stmt == NULL)
		return STORE_ERROR;
	for (int i = 0; i < 6; i++) {
		if (sqlite_bind_text(stmt, i + 1, t[i]) != SQLITE_OK)
			goto out;
	}
	if (sqlite3_bind_int64(stmt, 7, stream) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	r = rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(w, rc, "relation insert");
out:
	sqlite_stmt_put(w, SQ_RELATION_INSERT, stmt);
	return r;
}

/* ---- helpers ---------------------------------------------------------- */

/* Write s as a JSON string at buf (which has room for 6 bytes per byte of
 * s plus 2); returns the bytes written. Control bytes become \u00XX. */
static size_t sqlite_rel_json_string(char *buf, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	buf[o++] = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)*p;
		} else if (*p < 0x20) {
			memcpy(buf + o, "\\u00", 4);
			buf[o + 4] = hex[*p >> 4];
			buf[o + 5] = hex[*p & 0xf];
			o += 6;
		} else {
			buf[o++] = (char)*p;
		}
	}
	buf[o++] = '"';
	return o;
}

/* The IDs as a JSON array (malloc'd), or NULL. IDs are at most
 * STORE_ID_MAX bytes and n at most STORE_AGGREGATE_PARENTS_MAX (checked by
 * the front), so the size cannot overflow. */
static char *sqlite_rel_ids_json(const char *const *ids, size_t n)
{
	size_t cap = 3, o = 0;
	char *buf;

	for (size_t i = 0; i < n; i++)
		cap += strlen(ids[i]) * 6 + 3;
	buf = malloc(cap);
	if (buf == NULL)
		return NULL;
	buf[o++] = '[';
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf[o++] = ',';
		o += sqlite_rel_json_string(buf + o, ids[i]);
	}
	buf[o++] = ']';
	buf[o] = '\0';
	return buf;
}

/* Step a bound statement to the end, appending each row (EVENT_COLS
 * first) to out; with rels, also columns 12 and 13 (relates_to,
 * rel_type) into a parallel array grown with it. */
static enum store_result sqlite_rel_rows(struct sqlite_conn *c, sqlite3_stmt *stmt,
                                         struct store_event_list *out,
                                         struct store_relation_child **rels)
{
	size_t cap = 0, rcap = 0;
	int rc;

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (sqlite_list_reserve((void **)&out->items, sizeof(*out->items), out->n, &cap) != 0)
			goto err;
		if (rels != NULL &&
		    sqlite_list_reserve((void **)rels, sizeof(**rels), out->n, &rcap) != 0)
			goto err;
		if (sqlite_event_load(stmt, &out->items[out->n]) != 0)
			goto err;
		if (rels != NULL) {
			struct store_relation_child *rel = &(*rels)[out->n];

			memset(rel, 0, sizeof(*rel));
			rel->event_id = strdup(out->items[out->n].event_id);
			if (rel->event_id == NULL ||
			    sqlite_col_text(stmt, 12, false, STORE_ID_MAX, &rel->relates_to) != 0 ||
			    sqlite_col_text(stmt, 13, false, STORE_REL_TYPE_MAX, &rel->rel_type) != 0) {
				log_error("store: unreadable event_relations row");
				free(rel->event_id);
				free(rel->relates_to);
				store_event_clear(&out->items[out->n]);
				goto err;
			}
		}
		out->n++;
	}
	if (rc == SQLITE_DONE)
		return STORE_OK;
	sqlite_result_of(c, rc, "relations list");
err:
	if (rels != NULL && *rels != NULL) {
		for (size_t i = 0; i < out->n; i++) {
			free((*rels)[i].event_id);
			free((*rels)[i].relates_to);
			free((*rels)[i].rel_type);
		}
		free(*rels);
		*rels = NULL;
	}
	store_event_list_clear(out);
	return STORE_ERROR;
}

/* ---- GET /relations --------------------------------------------------- */

enum store_result sqlite_relations_children(void *h, const struct store_relations_query *q,
                                            struct store_event_list *out)
{
	enum sqlite_stmt_id id = q->backwards ? SQ_RELATIONS_BWD : SQ_RELATIONS_FWD;
	struct sqlite_conn *c = sqlite_reader_get(h);
	sqlite3_stmt *stmt;
	enum store_result r = STORE_ERROR;

	if (c == NULL || (stmt = sqlite_stmt_get(c, id)) == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, q->room_id) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 2, q->parent_id) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 3, q->rel_type) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 4, q->event_type) == SQLITE_OK &&
	    sqlite3_bind_int(stmt, 5, q->depth) == SQLITE_OK &&
	    sqlite3_bind_int64(stmt, 6, q->from) == SQLITE_OK &&
	    sqlite3_bind_int64(stmt, 7, q->to == 0 ? INT64_MAX : q->to) == SQLITE_OK &&
	    sqlite3_bind_int64(stmt, 8, (sqlite3_int64)q->limit) == SQLITE_OK)
		r = sqlite_rel_rows(c, stmt, out, NULL);
	sqlite_stmt_put(c, id, stmt);
	return r;
}

/* ---- bundled aggregations --------------------------------------------- */

static enum store_result sqlite_thread_totals(struct sqlite_conn *c, const char *room_id,
                                              const char *parents_json, const char *viewer_id,
                                              struct store_aggregation *out)
{
	sqlite3_stmt *stmt = sqlite_stmt_get(c, SQ_THREAD_TOTALS);
	enum store_result r = STORE_ERROR;
	size_t cap = 0;
	int rc;

	if (stmt == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, room_id) != SQLITE_OK ||
	    sqlite_bind_text(stmt, 2, parents_json) != SQLITE_OK ||
	    sqlite_bind_text(stmt, 3, viewer_id) != SQLITE_OK)
		goto out;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct store_thread_total *t;

		if (sqlite_list_reserve((void **)&out->threads, sizeof(*out->threads),
		                        out->n_threads, &cap) != 0)
			goto out;
		t = &out->threads[out->n_threads];
		memset(t, 0, sizeof(*t));
		if (sqlite_col_text(stmt, 0, false, STORE_ID_MAX, &t->root_id) != 0 ||
		    sqlite_col_int(stmt, 1, &t->count) != 0 ||
		    sqlite_col_bool(stmt, 2, &t->participated) != 0) {
			log_error("store: unreadable thread totals row");
			free(t->root_id);
			goto out;
		}
		out->n_threads++;
	}
	r = rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(c, rc, "thread totals");
out:
	sqlite_stmt_put(c, SQ_THREAD_TOTALS, stmt);
	return r;
}

static enum store_result sqlite_aggregate_children(struct sqlite_conn *c, const char *room_id,
                                                   const char *parents_json,
                                                   struct store_aggregation *out)
{
	sqlite3_stmt *stmt = sqlite_stmt_get(c, SQ_RELATIONS_AGGREGATE);
	enum store_result r = STORE_ERROR;

	if (stmt == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, room_id) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 2, parents_json) == SQLITE_OK &&
	    sqlite3_bind_int(stmt, 3, STORE_AGGREGATE_PER_PARENT) == SQLITE_OK)
		r = sqlite_rel_rows(c, stmt, &out->children, &out->rels);
	sqlite_stmt_put(c, SQ_RELATIONS_AGGREGATE, stmt);
	return r;
}

enum store_result sqlite_relations_aggregate(void *h, const char *room_id,
                                             const char *const *parent_ids, size_t n,
                                             const char *viewer_id,
                                             struct store_aggregation *out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	char *parents = NULL;
	enum store_result r = STORE_ERROR;

	if (c == NULL)
		return STORE_ERROR;
	parents = sqlite_rel_ids_json(parent_ids, n);
	if (parents == NULL) {
		log_error("store: out of memory reading aggregations");
		return STORE_ERROR;
	}
	/* one snapshot for both statements: a thread's count never disagrees
	 * with the children read next to it */
	if (sqlite_exec_stmt(c, SQ_READ_BEGIN) != STORE_OK)
		goto out;
	r = sqlite_aggregate_children(c, room_id, parents, out);
	if (r == STORE_OK)
		r = sqlite_thread_totals(c, room_id, parents, viewer_id, out);
	if (sqlite_exec_stmt(c, SQ_COMMIT) != STORE_OK)
		r = STORE_ERROR;
out:
	free(parents);
	if (r != STORE_OK)
		store_aggregation_clear(out);
	return r;
}

/* ---- GET /threads ----------------------------------------------------- */

enum store_result sqlite_room_threads(void *h, const char *room_id, const char *participant,
                                      int64_t before, size_t limit,
                                      struct store_event_list *roots_out,
                                      int64_t *last_latest_out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	sqlite3_stmt *stmt;
	enum store_result r = STORE_ERROR;
	size_t cap = 0;
	int rc;

	if (c == NULL || (stmt = sqlite_stmt_get(c, SQ_ROOM_THREADS)) == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, room_id) != SQLITE_OK ||
	    sqlite_bind_text(stmt, 2, participant) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 3, before) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 4, (sqlite3_int64)limit) != SQLITE_OK)
		goto out;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (sqlite_list_reserve((void **)&roots_out->items, sizeof(*roots_out->items),
		                        roots_out->n, &cap) != 0 ||
		    sqlite_event_load(stmt, &roots_out->items[roots_out->n]) != 0)
			goto out;
		roots_out->n++;
		if (sqlite_col_int(stmt, 12, last_latest_out) != 0) {
			log_error("store: unreadable thread position");
			goto out;
		}
	}
	r = rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(c, rc, "room threads");
out:
	sqlite_stmt_put(c, SQ_ROOM_THREADS, stmt);
	if (r != STORE_OK) {
		store_event_list_clear(roots_out);
		*last_latest_out = 0;
	}
	return r;
}

/* ---- duplicate annotations -------------------------------------------- */

enum store_result sqlite_annotation_exists(void *h, const char *room_id, const char *parent_id,
                                           const char *sender, const char *type,
                                           const char *key)
{
	const char *t[5] = { parent_id, sender, type, room_id, key };
	struct sqlite_conn *c = sqlite_reader_get(h);
	sqlite3_stmt *stmt;
	enum store_result r = STORE_ERROR;
	int rc;

	if (c == NULL || (stmt = sqlite_stmt_get(c, SQ_ANNOTATION_EXISTS)) == NULL)
		return STORE_ERROR;
	for (int i = 0; i < 5; i++) {
		if (sqlite_bind_text(stmt, i + 1, t[i]) != SQLITE_OK)
			goto out;
	}
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		r = STORE_OK;
	else if (rc == SQLITE_DONE)
		r = STORE_NOT_FOUND;
	else
		r = sqlite_result_of(c, rc, "annotation exists");
out:
	sqlite_stmt_put(c, SQ_ANNOTATION_EXISTS, stmt);
	return r;
}
