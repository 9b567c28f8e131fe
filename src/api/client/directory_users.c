/* directory_users.c: POST /user_directory/search (users.yaml) and
 * POST /rooms/{roomId}/forget (leaving.yaml).
 *
 * The user directory is a sensitive path: a directory swept term by term
 * lists a server's users. So the search is bounded (a term is required,
 * results are few), sees only who the spec lets the searcher see, leaves
 * out users who hide their profile, and its route records each call in the
 * access ledger (LEDGER_DIRECTORY in routes.c). */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/client/handlers.h"
#include "security/served.h"
#include "store/store.h"
#include "util/ids.h"

#define USER_SEARCH_LIMIT_DEFAULT 10   /* "Defaults to 10." (users.yaml) */
#define USER_SEARCH_LIMIT_MAX 50

/* The term without surrounding whitespace, copied; NULL on OOM. */
static char *term_trim(const char *term)
{
	size_t len;

	while (isspace((unsigned char)*term))
		term++;
	len = strlen(term);
	while (len > 0 && isspace((unsigned char)term[len - 1]))
		len--;
	return strndup(term, len);
}

static json_t *user_hits_json(const struct store_user_hit_list *l)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < l->n; i++) {
		json_t *u = json_pack("{s:s}", "user_id", l->items[i].user_id);
		if (!u)
			continue;
		if (l->items[i].displayname)
			json_object_set_new(u, "display_name", json_string(l->items[i].displayname));
		if (l->items[i].avatar_url)
			json_object_set_new(u, "avatar_url", json_string(l->items[i].avatar_url));
		json_array_append_new(arr, u);
	}
	return arr;
}

/* access ledger: the term, and the users it revealed (without their IDs,
 * only the count, if the list cannot be allocated) */
static void search_record(struct request *req, const char *term,
                          const struct store_user_hit_list *hits)
{
	struct served_viewer v = { req->auth.user_id, req->auth.device_id, req->client_ip,
	                           req->user_agent };
	const char **ids = calloc(hits->n ? hits->n : 1, sizeof(*ids));

	for (size_t i = 0; ids && i < hits->n; i++)
		ids[i] = hits->items[i].user_id;
	served_directory_search(&v, term, ids, hits->n);
	free(ids);
}

void api_user_directory_search(struct request *req)
{
	struct app *app = APP(req);
	json_t *body = req_json_object(req, false), *l;
	const char *raw_term = NULL;
	struct store_user_hit_list hits = { 0 };
	int64_t limit = USER_SEARCH_LIMIT_DEFAULT;
	char *term = NULL;
	enum store_result r;

	if (!body || req_get_string(req, body, "search_term", true, &raw_term) != 0)
		return;
	l = json_object_get(body, "limit");
	if (l && !json_is_null(l)) {
		if (!json_is_integer(l)) {
			res_error(req, 400, "M_BAD_JSON", "limit must be an integer");
			return;
		}
		limit = json_integer_value(l);
	}
	if (limit < 1) {
		res_error(req, 400, "M_INVALID_PARAM", "limit must be positive");
		return;
	}
	if (limit > USER_SEARCH_LIMIT_MAX)
		limit = USER_SEARCH_LIMIT_MAX;
	if (strlen(raw_term) > STORE_SEARCH_TERM_MAX) {
		res_error(req, 400, "M_INVALID_PARAM", "search_term is too long");
		return;
	}
	term = term_trim(raw_term);
	if (!term) {
		res_error(req, 500, "M_UNKNOWN", "Out of memory");
		return;
	}
	/* A blank term names nobody: it must not list everybody. */
	if (term[0] == '\0') {
		res_json(req, 200, json_pack("{s:[],s:b}", "results", "limited", 0));
		goto out;
	}
	r = store_user_directory_search(app->store, req->auth.user_id, term, (size_t)limit,
	                                &hits);
	if (r != STORE_OK) {
		res_error(req, 500, "M_UNKNOWN", "Could not search the user directory");
		goto out;
	}
	search_record(req, term, &hits);
	res_json(req, 200, json_pack("{s:o,s:b}", "results", user_hits_json(&hits),
	                             "limited", hits.limited));
out:
	store_user_hit_list_clear(&hits);
	free(term);
}

void api_room_forget(struct request *req)
{
	struct app *app = APP(req);
	const char *room_id = req_param(req, 0);
	enum store_result r;

	if (room_id[0] != '!' || strlen(room_id) > ID_MAX_LEN) {
		res_error(req, 400, "M_INVALID_PARAM", "Invalid room ID");
		return;
	}
	r = store_room_forget(app->store, req->auth.user_id, room_id);
	if (r == STORE_OK)
		res_json(req, 200, NULL);
	else if (r == STORE_CONFLICT)
		/* "If the user is currently joined to the room, they must leave
		 * the room before calling this API." 400 M_UNKNOWN as in the
		 * spec's example (leaving.yaml, forgetRoom). */
		res_error(req, 400, "M_UNKNOWN", "User %s is in room %s", req->auth.user_id,
		          room_id);
	else if (r == STORE_NOT_FOUND)
		res_error(req, 404, "M_NOT_FOUND", "You have never been in room %s", room_id);
	else
		res_error(req, 500, "M_UNKNOWN", "Could not forget the room");
}
