/* directory_alias.c: room aliases (directory.yaml): PUT, GET and DELETE
 * /directory/room/{roomAlias}, GET /rooms/{roomId}/aliases, and the alias
 * grammar and lookup the other room handlers share (directory.h). */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/client/directory.h"
#include "api/client/handlers.h"
#include "config/config.h"
#include "events/events.h"
#include "store/store.h"
#include "util/ids.h"
#include "util/log.h"

#define ROOM_ALIASES_MAX 1000   /* aliases listed for one room */

static void canonical_alias_drop(struct request *req, const char *room_id, const char *alias);

static pthread_mutex_t directory_alias_mutex = PTHREAD_MUTEX_INITIALIZER;

void directory_alias_lock(void)
{
	pthread_mutex_lock(&directory_alias_mutex);
}

void directory_alias_unlock(void)
{
	pthread_mutex_unlock(&directory_alias_mutex);
}

/* The length of one UTF-8 sequence at s (at most n bytes), or 0 if it is
 * not well formed: overlong forms, surrogates (U+D800..DFFF, "non-surrogate
 * codepoints" says the grammar) and values past U+10FFFF are refused. */
static size_t utf8_seq_len(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t c;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		len = 2, c = s[0] & 0x1F;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		len = 3, c = s[0] & 0x0F;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		len = 4, c = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) || c > 0x10FFFF ||
	    (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

/* A localpart per the appendices: well-formed UTF-8 without ':' or NUL,
 * not empty. With strict, also no whitespace or control characters. */
static bool alias_localpart_check(const char *lp, size_t len, bool strict)
{
	const unsigned char *s = (const unsigned char *)lp;
	size_t i = 0;

	if (len == 0)
		return false;
	while (i < len) {
		uint32_t cp;
		size_t l = utf8_seq_len(s + i, len - i, &cp);

		if (l == 0 || cp == ':' || cp == 0)
			return false;
		if (strict && (cp <= 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) ||
		               cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200B) ||
		               cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
		               cp == 0x3000 || cp == 0xFEFF))
			return false;
		i += l;
	}
	return true;
}

bool directory_alias_localpart_ok(const char *localpart, size_t len)
{
	return localpart != NULL && alias_localpart_check(localpart, len, true);
}

bool directory_alias_valid(const char *alias)
{
	const char *colon;
	size_t len;

	if (alias == NULL || alias[0] != '#')
		return false;
	len = strnlen(alias, ID_MAX_LEN + 1);
	if (len > ID_MAX_LEN)
		return false;
	/* the localpart has no ':', so the first one ends it */
	colon = strchr(alias, ':');
	return colon != NULL &&
	       alias_localpart_check(alias + 1, (size_t)(colon - alias - 1), false) &&
	       id_server_name_valid(colon + 1);
}

bool directory_alias_is_local(const char *alias, const char *server_name)
{
	return directory_alias_valid(alias) &&
	       strcmp(strchr(alias, ':') + 1, server_name) == 0;
}

char *directory_alias_resolve(struct request *req, const char *alias)
{
	struct app *app = APP(req);
	char *room_id = NULL;
	enum store_result r;

	if (!directory_alias_valid(alias)) {
		res_error(req, 400, "M_INVALID_PARAM", "Room alias invalid");
		return NULL;
	}
	/* There is no federation here: another server's alias is unknown. */
	if (!directory_alias_is_local(alias, app->cfg->server_name)) {
		res_error(req, 404, "M_NOT_FOUND", "Room alias %s not found", alias);
		return NULL;
	}
	r = store_alias_get(app->store, alias, &room_id, NULL);
	if (r == STORE_NOT_FOUND)
		res_error(req, 404, "M_NOT_FOUND", "Room alias %s not found", alias);
	else if (r != STORE_OK)
		res_error(req, 500, "M_UNKNOWN", "Could not read the room directory");
	return r == STORE_OK ? room_id : NULL;
}

/* Is the caller joined to the room? */
static bool caller_joined(struct request *req, const char *room_id)
{
	char *m = events_membership(APP(req)->events, room_id, req->auth.user_id);
	bool joined = m != NULL && strcmp(m, "join") == 0;

	free(m);
	return joined;
}

/* A room admin in Synapse's sense: joined, with the power to send
 * m.room.canonical_alias. */
static bool caller_room_admin(struct request *req, const char *room_id)
{
	struct app *app = APP(req);
	int64_t have, need;

	if (!caller_joined(req, room_id))
		return false;
	have = events_power_level(app->events, room_id, req->auth.user_id);
	need = events_required_level(app->events, room_id, "m.room.canonical_alias", true);
	return have >= 0 && need >= 0 && have >= need;
}

static bool room_id_ok(const char *room_id)
{
	return room_id != NULL && room_id[0] == '!' && strlen(room_id) <= ID_MAX_LEN;
}

void api_directory_alias_put(struct request *req)
{
	struct app *app = APP(req);
	const char *alias = req_param(req, 0), *room_id = NULL;
	json_t *body = req_json_object(req, false);
	enum store_result r;

	if (!body || req_get_string(req, body, "room_id", true, &room_id) != 0)
		return;
	if (!directory_alias_valid(alias)) {
		res_error(req, 400, "M_INVALID_PARAM", "Room alias invalid");
		return;
	}
	if (!directory_alias_is_local(alias, app->cfg->server_name)) {
		res_error(req, 400, "M_INVALID_PARAM", "Room alias must be on this server");
		return;
	}
	if (!directory_alias_localpart_ok(alias + 1, (size_t)(strchr(alias, ':') - alias - 1))) {
		res_error(req, 400, "M_INVALID_PARAM", "Invalid characters in room alias");
		return;
	}
	if (!room_id_ok(room_id)) {
		res_error(req, 400, "M_INVALID_PARAM", "Invalid room ID");
		return;
	}
	if (!events_room_version(app->events, room_id)) {
		res_error(req, 404, "M_NOT_FOUND", "Room not found");
		return;
	}
	/* Only members name a room: nobody squats an alias onto a room they
	 * are not in. */
	if (!caller_joined(req, room_id) && !req->auth.admin) {
		res_error(req, 403, "M_FORBIDDEN", "You are not joined to the room");
		return;
	}
	directory_alias_lock();
	r = store_alias_create(app->store, alias, room_id, req->auth.user_id);
	directory_alias_unlock();
	if (r == STORE_OK)
		res_json(req, 200, NULL);
	else if (r == STORE_CONFLICT)
		res_error(req, 409, "M_UNKNOWN", "Room alias %s already exists", alias);
	else if (r == STORE_NOT_FOUND)
		res_error(req, 404, "M_NOT_FOUND", "Room not found");
	else
		res_error(req, 500, "M_UNKNOWN", "Could not write the room directory");
}

void api_directory_alias_get(struct request *req)
{
	struct app *app = APP(req);
	char *room_id = directory_alias_resolve(req, req_param(req, 0));

	if (!room_id)
		return;
	res_json(req, 200, json_pack("{s:s,s:[s]}", "room_id", room_id, "servers",
	                             app->cfg->server_name));
	free(room_id);
}

void api_directory_alias_delete(struct request *req)
{
	struct app *app = APP(req);
	const char *alias = req_param(req, 0);
	char *room_id = NULL, *creator = NULL;
	enum store_result r;

	if (!directory_alias_valid(alias)) {
		res_error(req, 400, "M_INVALID_PARAM", "Room alias invalid");
		return;
	}
	r = store_alias_get(app->store, alias, &room_id, &creator);
	if (r == STORE_NOT_FOUND) {
		res_error(req, 404, "M_NOT_FOUND", "Room alias %s not found", alias);
		goto out;
	}
	if (r != STORE_OK) {
		res_error(req, 500, "M_UNKNOWN", "Could not read the room directory");
		goto out;
	}
	/* "Servers may choose to implement additional access control checks
	 * here, for instance that room aliases can only be deleted by their
	 * creator or a server administrator." (directory.yaml) As Synapse: the
	 * creator, a room admin, or a server admin. */
	if (strcmp(creator, req->auth.user_id) != 0 && !req->auth.admin &&
	    !caller_room_admin(req, room_id)) {
		res_error(req, 403, "M_FORBIDDEN", "You may not delete this alias");
		goto out;
	}
	r = store_alias_delete(app->store, alias);
	if (r == STORE_OK) {
		canonical_alias_drop(req, room_id, alias);
		res_json(req, 200, NULL);
	}
	else if (r == STORE_NOT_FOUND)   /* deleted by someone else meanwhile */
		res_error(req, 404, "M_NOT_FOUND", "Room alias %s not found", alias);
	else
		res_error(req, 500, "M_UNKNOWN", "Could not write the room directory");
out:
	free(room_id);
	free(creator);
}

#define CANONICAL_ALT_ALIASES_MAX 100

/* Is alias listed in content (alias or alt_aliases)? */
static bool canonical_lists(json_t *content, const char *alias)
{
	const char *a = json_string_value(json_object_get(content, "alias"));
	json_t *v;
	size_t i;

	if (a && strcmp(a, alias) == 0)
		return true;
	json_array_foreach(json_object_get(content, "alt_aliases"), i, v) {
		if (json_is_string(v) && strcmp(json_string_value(v), alias) == 0)
			return true;
	}
	return false;
}

/* After a delete: take the alias out of the room's m.room.canonical_alias,
 * sent as the deleting user. "Servers which choose to update the canonical
 * alias event are recommended to, in addition to their other relevant
 * permission checks, delete the alias and return a successful response
 * even if the user does not have permission to update the
 * m.room.canonical_alias event." (directory.yaml) So a refusal is logged
 * and otherwise ignored. */
static void canonical_alias_drop(struct request *req, const char *room_id, const char *alias)
{
	struct app *app = APP(req);
	json_t *c = events_state_content(app->events, room_id, "m.room.canonical_alias", "");
	json_t *alt, *kept, *v;
	const char *a;
	struct event_spec spec;
	struct event_error err;
	char *event_id = NULL;
	size_t i;

	if (!c || !canonical_lists(c, alias))
		goto out;
	a = json_string_value(json_object_get(c, "alias"));
	if (a && strcmp(a, alias) == 0)
		json_object_del(c, "alias");
	alt = json_object_get(c, "alt_aliases");
	if (json_is_array(alt) && (kept = json_array()) != NULL) {
		json_array_foreach(alt, i, v) {
			if (!json_is_string(v) || strcmp(json_string_value(v), alias) != 0)
				json_array_append(kept, v);
		}
		json_object_set_new(c, "alt_aliases", kept);
	}
	spec = (struct event_spec){ "m.room.canonical_alias", "", c, NULL };
	if (events_send(app->events, room_id, req->auth.user_id, &spec, NULL, NULL, &event_id,
	                &err) != 0)
		log_info("directory: %s deleted %s but may not update the canonical alias of %s "
		         "(%s)", req->auth.user_id, alias, room_id, err.errcode);
	free(event_id);
out:
	json_decref(c);
}

/* One alias the new content lists: fine if already in the current state,
 * else it must parse and name this room. 0, or -1 with the response set. */
static int canonical_alias_one(struct request *req, const char *room_id, json_t *current,
                               json_t *v)
{
	const char *alias = json_string_value(v);
	char *target = NULL;
	enum store_result r;
	int ret = -1;

	if (!alias || strlen(alias) != json_string_length(v) || !directory_alias_valid(alias)) {
		res_error(req, 400, "M_INVALID_PARAM", "Invalid alias in m.room.canonical_alias");
		return -1;
	}
	if (canonical_lists(current, alias))
		return 0;
	if (!directory_alias_is_local(alias, APP(req)->cfg->server_name)) {
		res_error(req, 400, "M_BAD_ALIAS", "The alias '%s' cannot be checked here", alias);
		return -1;
	}
	r = store_alias_get(APP(req)->store, alias, &target, NULL);
	if (r == STORE_OK && strcmp(target, room_id) == 0)
		ret = 0;
	else if (r == STORE_OK || r == STORE_NOT_FOUND)
		res_error(req, 400, "M_BAD_ALIAS", "The alias '%s' does not point to this room",
		          alias);
	else
		res_error(req, 500, "M_UNKNOWN", "Could not read the room directory");
	free(target);
	return ret;
}

int directory_canonical_alias_check(struct request *req, const char *room_id,
                                    json_t *content)
{
	json_t *alias = json_object_get(content, "alias");
	json_t *alt = json_object_get(content, "alt_aliases");
	json_t *current, *v;
	size_t i;
	int ret = -1;

	if ((alias && !json_is_string(alias)) || (alt && !json_is_array(alt)) ||
	    json_array_size(alt) > CANONICAL_ALT_ALIASES_MAX) {
		res_error(req, 400, "M_INVALID_PARAM",
		          "alias must be a string and alt_aliases a short list of strings");
		return -1;
	}
	current = events_state_content(APP(req)->events, room_id, "m.room.canonical_alias", "");
	if (alias && canonical_alias_one(req, room_id, current, alias) != 0)
		goto out;
	json_array_foreach(alt, i, v) {
		if (canonical_alias_one(req, room_id, current, v) != 0)
			goto out;
	}
	ret = 0;
out:
	json_decref(current);
	return ret;
}

static bool room_world_readable(struct app *app, const char *room_id)
{
	json_t *c = events_state_content(app->events, room_id, "m.room.history_visibility", "");
	const char *v = json_string_value(json_object_get(c, "history_visibility"));
	bool wr = v != NULL && strcmp(v, "world_readable") == 0;

	json_decref(c);
	return wr;
}

void api_room_aliases(struct request *req)
{
	struct app *app = APP(req);
	const char *room_id = req_param(req, 0);
	char **aliases = NULL;
	size_t n = 0;
	json_t *arr;

	if (!room_id_ok(room_id)) {
		res_error(req, 400, "M_INVALID_PARAM", "Invalid room ID");
		return;
	}
	/* "This endpoint can be called by users who are in the room (external
	 * users receive an M_FORBIDDEN error response). If the room's
	 * m.room.history_visibility maps to world_readable, any user can call
	 * this endpoint." (directory.yaml, getLocalAliases) An unknown room
	 * answers the same, so the answer tells nothing about rooms. */
	if (!caller_joined(req, room_id) && !req->auth.admin &&
	    !room_world_readable(app, room_id)) {
		res_error(req, 403, "M_FORBIDDEN", "You are not a member of the room");
		return;
	}
	if (store_room_aliases(app->store, room_id, ROOM_ALIASES_MAX, &aliases, &n) != STORE_OK) {
		res_error(req, 500, "M_UNKNOWN", "Could not read the room directory");
		return;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_string(aliases[i]));
	store_room_ids_free(aliases, n);
	res_json(req, 200, json_pack("{s:o}", "aliases", arr));
}
