/*
 * sqlite_search: the server-side search index in SQL (FTS5, migration 7).
 *
 * Writes run inside the persist job (sqlite_rooms.c calls them with the
 * writer connection), so an event and its index row, or a redaction and
 * the removal of its target's row, commit or roll back together.
 *
 * Reads: one statement on the calling thread's reader connection. The
 * user's term never reaches FTS5 as syntax: it is cut into words and each
 * word becomes a quoted string ("..." with '"' doubled), followed by '*'
 * when it is long enough to be a prefix, so AND, OR, NOT, NEAR, column filters, parentheses and stray quotes are
 * all just text. The rooms go in as one JSON array bound to a parameter
 * (json_each), not as SQL text.
 */
#include "store/sqlite/sqlite_store.h"

#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* Room IDs are at most STORE_ID_MAX bytes; escaped they may grow six-fold
 * ("\u0001"), plus quotes and a comma. */
#define SEARCH_ROOM_JSON_MAX (STORE_ID_MAX * 6 + 3)
/* Bytes a word needs before it is matched as a prefix (store.h). */
#define SEARCH_PREFIX_MIN 3

enum store_result sqlite_search_index(struct sqlite_conn *w, const struct store_event_new *e,
                                      int64_t stream)
{
	sqlite3_stmt *stmt = sqlite_stmt_get(w, SQ_SEARCH_INDEX);
	enum store_result r = STORE_ERROR;
	int rc;

	if (stmt == NULL)
		return STORE_ERROR;
	if (sqlite3_bind_int64(stmt, 1, stream) != SQLITE_OK ||
	    sqlite_bind_text(stmt, 2, e->search_text) != SQLITE_OK ||
	    sqlite3_bind_int(stmt, 3, e->search_key) != SQLITE_OK ||
	    sqlite_bind_text(stmt, 4, e->room_id) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	r = rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(w, rc, "search index");
out:
	sqlite_stmt_put(w, SQ_SEARCH_INDEX, stmt);
	return r;
}

enum store_result sqlite_search_unindex(struct sqlite_conn *w, const char *redacts,
                                        const char *room_id)
{
	const char *t[2] = { redacts, room_id };

	return sqlite_exec_texts(w, SQ_SEARCH_UNINDEX, t, 2, NULL);
}

/* ---- building the bound values --------------------------------------- */

static bool search_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* A word FTS5's unicode61 tokenizer can find something in: any byte that
 * is not ASCII punctuation or a symbol (letters, digits, non-ASCII). A
 * word of punctuation only would match nothing and, ANDed, hide every hit. */
static bool search_word_usable(const char *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)w[i];
		if (c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z'))
			return true;
	}
	return false;
}

/* The FTS5 expression for term: "w1"* "w2"* ... (implicit AND), at most
 * STORE_SEARCH_WORDS_MAX words. *expr_out is NULL when no word is usable.
 * 0, or -1 out of memory. */
static int search_expression(const char *term, char **expr_out)
{
	/* each byte may double ('"'), plus quotes, '*' and a space per word */
	size_t len = strlen(term), cap = len * 2 + STORE_SEARCH_WORDS_MAX * 4 + 1, o = 0;
	char *expr = malloc(cap);
	int words = 0;

	*expr_out = NULL;
	if (expr == NULL)
		return -1;
	for (size_t i = 0; i < len && words < STORE_SEARCH_WORDS_MAX;) {
		size_t start;

		while (i < len && search_is_space(term[i]))
			i++;
		start = i;
		while (i < len && !search_is_space(term[i]))
			i++;
		if (i == start || !search_word_usable(term + start, i - start))
			continue;
		if (words > 0)
			expr[o++] = ' ';
		expr[o++] = '"';
		for (size_t k = start; k < i; k++) {
			if (term[k] == '"')
				expr[o++] = '"';
			expr[o++] = term[k];
		}
		expr[o++] = '"';
		/* a prefix of one or two bytes would expand to a large part
		 * of the vocabulary: short words match whole words only */
		if (i - start >= SEARCH_PREFIX_MIN)
			expr[o++] = '*';
		words++;
	}
	expr[o] = '\0';
	if (words == 0)
		free(expr);
	else
		*expr_out = expr;
	return 0;
}

/* Append s as a JSON string to buf (escaping '"', '\\' and controls). */
static size_t search_json_string(char *buf, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	buf[o++] = '"';
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c < 0x20) {
			memcpy(buf + o, "\\u00", 4);
			buf[o + 4] = hex[c >> 4];
			buf[o + 5] = hex[c & 15];
			o += 6;
		} else {
			buf[o++] = (char)c;
		}
	}
	buf[o++] = '"';
	return o;
}

/* The rooms as a JSON array of strings; NULL out of memory. The front
 * bounds n (STORE_SEARCH_ROOMS_MAX) and each ID (STORE_ID_MAX bytes). */
static char *search_rooms_json(const char *const *room_ids, size_t n)
{
	char *buf = malloc(n * SEARCH_ROOM_JSON_MAX + 3);
	size_t o = 0;

	if (buf == NULL)
		return NULL;
	buf[o++] = '[';
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf[o++] = ',';
		o += search_json_string(buf + o, room_ids[i]);
	}
	buf[o++] = ']';
	buf[o] = '\0';
	return buf;
}

/* ---- the query -------------------------------------------------------- */

/* Fill a hit from a row: the event columns in EVENT_COLS order (0..11),
 * then bm25 (12), turned into a rank where higher is closer. */
static int search_hit_load(sqlite3_stmt *stmt, struct store_search_hit *h)
{
	struct store_event *e = &h->event;

	memset(h, 0, sizeof(*h));
	if (sqlite_col_int(stmt, 0, &e->stream) != 0 ||
	    sqlite_col_text(stmt, 1, false, STORE_ID_MAX, &e->event_id) != 0 ||
	    sqlite_col_text(stmt, 2, false, STORE_ID_MAX, &e->room_id) != 0 ||
	    sqlite_col_text(stmt, 3, false, STORE_ID_MAX, &e->type) != 0 ||
	    sqlite_col_text(stmt, 4, true, STORE_ID_MAX, &e->state_key) != 0 ||
	    sqlite_col_text(stmt, 5, false, STORE_USER_ID_MAX, &e->sender) != 0 ||
	    sqlite_col_int(stmt, 6, &e->origin_ts) != 0 ||
	    sqlite_col_text(stmt, 7, false, STORE_EVENT_MAX_BYTES, &e->json) != 0 ||
	    sqlite_col_text(stmt, 8, true, STORE_EVENT_MAX_BYTES, &e->prev_content) != 0 ||
	    sqlite_col_text(stmt, 9, true, STORE_ID_MAX, &e->redacted_by) != 0 ||
	    sqlite_col_text(stmt, 10, true, STORE_TXN_ID_MAX, &e->txn_id) != 0 ||
	    sqlite_col_text(stmt, 11, true, STORE_DEVICE_ID_MAX, &e->txn_device_id) != 0 ||
	    sqlite3_column_type(stmt, 12) != SQLITE_FLOAT) {
		log_error("store: unreadable search row (wrong type, size, or out of memory)");
		store_event_clear(e);
		return -1;
	}
	h->rank = -sqlite3_column_double(stmt, 12);
	return 0;
}

static enum store_result search_rows(struct sqlite_conn *c, sqlite3_stmt *stmt, size_t limit,
                                     struct store_search_hit_list *out)
{
	int rc = SQLITE_DONE;

	/* limit <= STORE_SEARCH_LIMIT_MAX: the whole page at once */
	out->items = calloc(limit, sizeof(*out->items));
	if (out->items == NULL) {
		log_error("store: out of memory reading search hits");
		return STORE_ERROR;
	}
	while (out->n < limit && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (search_hit_load(stmt, &out->items[out->n]) != 0)
			goto err;
		out->n++;
	}
	if (out->n == limit || rc == SQLITE_DONE)
		return STORE_OK;
	sqlite_result_of(c, rc, "search");
err:
	store_search_hit_list_clear(out);
	return STORE_ERROR;
}

enum store_result sqlite_events_search(void *h, const struct store_search_query *q,
                                       struct store_search_hit_list *out)
{
	enum sqlite_stmt_id id = q->by_rank ? SQ_SEARCH_BY_RANK : SQ_SEARCH_BY_RECENT;
	struct sqlite_conn *c = sqlite_reader_get(h);
	sqlite3_stmt *stmt = NULL;
	char *expr = NULL, *rooms = NULL;
	enum store_result r = STORE_ERROR;

	if (c == NULL)
		return STORE_ERROR;
	if (search_expression(q->term, &expr) != 0)
		goto oom;
	if (expr == NULL) {
		r = STORE_OK;   /* no word could match anything: no hits */
		goto out;
	}
	rooms = search_rooms_json(q->room_ids, q->n_rooms);
	if (rooms == NULL)
		goto oom;
	if ((stmt = sqlite_stmt_get(c, id)) == NULL)
		goto out;
	if (sqlite_bind_text(stmt, 1, expr) == SQLITE_OK &&
	    sqlite_bind_text(stmt, 2, rooms) == SQLITE_OK &&
	    sqlite3_bind_int(stmt, 3, (int)(q->keys == 0 ? STORE_SEARCH_KEYS_ALL : q->keys)) ==
	        SQLITE_OK &&
	    sqlite3_bind_int64(stmt, 4, q->before == 0 ? INT64_MAX : q->before) == SQLITE_OK &&
	    sqlite3_bind_int64(stmt, 5, (sqlite3_int64)q->limit) == SQLITE_OK &&
	    sqlite3_bind_int64(stmt, 6, (sqlite3_int64)q->offset) == SQLITE_OK)
		r = search_rows(c, stmt, q->limit, out);
	sqlite_stmt_put(c, id, stmt);
	goto out;
oom:
	log_error("store: out of memory building a search");
out:
	free(expr);
	free(rooms);
	return r;
}
