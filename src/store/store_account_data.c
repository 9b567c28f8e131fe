/*
 * store_account_data: the front of the storage layer for filters and
 * account data (the rest of the front is in store.c and store_rooms.c).
 *
 * Arguments are checked before a back end sees them and what it loads is
 * checked before a caller sees it. Filter IDs are decimal text at this
 * interface and numbers below it: a filter ID a client sends that is not
 * one we could have issued (not decimal, a leading zero, too long) names
 * no filter, so it is STORE_NOT_FOUND rather than a refused argument.
 *
 * Threads: no state of its own; callable from any thread. Memory: strings
 * returned through char ** are malloc'd and the caller's to free.
 */
#include "store/store.h"
#include "store/store_backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* The longest filter ID we issue: 18 digits stay below INT64_MAX. */
#define STORE_FILTER_ID_DIGITS 18

static bool store_room_id_opt_ok(const char *room_id)
{
	size_t n;

	if (room_id == NULL)
		return true;
	n = strnlen(room_id, STORE_ID_MAX + 1);
	return room_id[0] == '!' && n >= 2 && n <= STORE_ID_MAX;
}

static bool store_ad_type_ok(const char *type)
{
	return type != NULL && type[0] != '\0' && store_text_ok(type, STORE_ID_MAX, false);
}

static bool store_json_ok(const char *json)
{
	return json != NULL && json[0] != '\0' && store_text_ok(json, STORE_TEXT_MAX, false);
}

/* "0", or digits without a leading zero: the IDs store_filter_put issues.
 * 0 and the number, or -1. */
static int store_filter_id_parse(const char *s, int64_t *out)
{
	size_t n = strnlen(s, STORE_FILTER_ID_DIGITS + 1);
	int64_t v = 0;

	if (n == 0 || n > STORE_FILTER_ID_DIGITS || (s[0] == '0' && n > 1))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

void store_account_data_list_clear(struct store_account_data_list *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->items[i].room_id);
		free(l->items[i].type);
		free(l->items[i].json);
	}
	free(l->items);
	memset(l, 0, sizeof(*l));
}

/* ---- filters ---------------------------------------------------------- */

enum store_result store_filter_put(struct store *st, const char *user_id, const char *json,
                                   char **filter_id_out)
{
	const struct store_backend *be;
	enum store_result r;
	int64_t id = -1;
	char buf[32];
	void *h;

	if (filter_id_out != NULL)
		*filter_id_out = NULL;
	if (st == NULL || filter_id_out == NULL || !store_user_id_ok(user_id) ||
	    !store_json_ok(json))
		return store_refuse("argument to store_filter_put");
	be = store_backend_of(st, &h);
	r = be->filter_put(h, user_id, json, &id);
	r = store_loaded(r, r != STORE_OK || (id >= 0 && id < 1000000000000000000LL),
	                 "filter ID");
	if (r != STORE_OK)
		return r;
	snprintf(buf, sizeof(buf), "%lld", (long long)id);
	*filter_id_out = strdup(buf);
	if (*filter_id_out == NULL) {
		log_error("store: out of memory returning a filter ID");
		return STORE_ERROR;
	}
	return STORE_OK;
}

enum store_result store_filter_get(struct store *st, const char *user_id,
                                   const char *filter_id, char **json_out)
{
	const struct store_backend *be;
	enum store_result r;
	int64_t id;
	void *h;

	if (json_out != NULL)
		*json_out = NULL;
	if (st == NULL || json_out == NULL || !store_user_id_ok(user_id) || filter_id == NULL)
		return store_refuse("argument to store_filter_get");
	if (store_filter_id_parse(filter_id, &id) != 0)
		return STORE_NOT_FOUND;
	be = store_backend_of(st, &h);
	r = be->filter_get(h, user_id, id, json_out);
	r = store_loaded(r, r != STORE_OK || store_json_ok(*json_out), "filter");
	if (r != STORE_OK) {
		free(*json_out);
		*json_out = NULL;
	}
	return r;
}

/* ---- account data ----------------------------------------------------- */

enum store_result store_account_data_put(struct store *st, const char *user_id,
                                         const char *room_id, const char *type,
                                         const char *json, int64_t *stream_out)
{
	const struct store_backend *be;
	enum store_result r;
	int64_t pos = 0;
	void *h;

	if (stream_out != NULL)
		*stream_out = 0;
	if (st == NULL || !store_user_id_ok(user_id) || !store_room_id_opt_ok(room_id) ||
	    !store_ad_type_ok(type) || !store_json_ok(json))
		return store_refuse("argument to store_account_data_put");
	be = store_backend_of(st, &h);
	r = be->account_data_put(h, user_id, room_id, type, json, &pos);
	r = store_loaded(r, r != STORE_OK || pos > 0, "account data position");
	if (r == STORE_OK && stream_out != NULL)
		*stream_out = pos;
	return r;
}

enum store_result store_account_data_get(struct store *st, const char *user_id,
                                         const char *room_id, const char *type,
                                         char **json_out)
{
	const struct store_backend *be;
	enum store_result r;
	void *h;

	if (json_out != NULL)
		*json_out = NULL;
	if (st == NULL || json_out == NULL || !store_user_id_ok(user_id) ||
	    !store_room_id_opt_ok(room_id) || !store_ad_type_ok(type))
		return store_refuse("argument to store_account_data_get");
	be = store_backend_of(st, &h);
	r = be->account_data_get(h, user_id, room_id, type, json_out);
	r = store_loaded(r, r != STORE_OK || store_json_ok(*json_out), "account data");
	if (r != STORE_OK) {
		free(*json_out);
		*json_out = NULL;
	}
	return r;
}

/* Entries valid, after since, in ascending stream order. */
static bool store_account_data_list_valid(const struct store_account_data_list *l,
                                          int64_t since)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct store_account_data *d = &l->items[i];
		if (!store_room_id_opt_ok(d->room_id) || !store_ad_type_ok(d->type) ||
		    !store_json_ok(d->json) || d->stream <= since ||
		    (i > 0 && d->stream <= l->items[i - 1].stream))
			return false;
	}
	return true;
}

enum store_result store_account_data_since(struct store *st, const char *user_id,
                                           int64_t since, struct store_account_data_list *out)
{
	const struct store_backend *be;
	enum store_result r;
	void *h;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (st == NULL || out == NULL || !store_user_id_ok(user_id) || since < 0)
		return store_refuse("argument to store_account_data_since");
	be = store_backend_of(st, &h);
	r = be->account_data_since(h, user_id, since, out);
	r = store_loaded(r, r != STORE_OK || store_account_data_list_valid(out, since),
	                 "account data");
	if (r != STORE_OK)
		store_account_data_list_clear(out);
	return r;
}

int64_t store_account_data_stream_max(struct store *st)
{
	const struct store_backend *be;
	int64_t pos = 0;
	void *h;

	if (st == NULL)
		return -1;
	be = store_backend_of(st, &h);
	if (be->account_data_stream_max(h, &pos) != STORE_OK || pos < 0)
		return -1;
	return pos;
}
