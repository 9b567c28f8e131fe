/*
 * key_backup.c: server-side key backups (key_backup.yaml; modules
 * end_to_end_encryption.md, "Server-side key backups"):
 *   POST/GET /room_keys/version, GET/PUT/DELETE /room_keys/version/{version},
 *   PUT/GET/DELETE /room_keys/keys[/{roomId}[/{sessionId}]] with ?version=.
 *
 * The server stores what clients encrypted; it never reads session_data or
 * auth_data beyond checking they are JSON objects within bounds. Versions
 * are decimal strings on the wire ("1", "2"...), integers in the store.
 * Whether a put's version is the current one, and whether each new key
 * replaces a stored one, are decided inside the store's write job
 * (store_backup_keys_put), so concurrent uploads cannot interleave.
 *
 * Threads: handlers run on the server's worker threads and keep no state.
 * Memory: request strings are borrowed; everything built is freed before
 * returning or handed to res_json.
 */
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/client/handlers.h"
#include "store/store.h"
#include "util/ids.h"

/* first_message_index and forwarded_count: JSON integers the spec's
 * canonical JSON allows (appendices, "Canonical JSON": [-(2**53)+1,
 * (2**53)-1]), and not negative. */
#define BACKUP_INDEX_MAX INT64_C(9007199254740991)

/* A version as the wire carries it: "1".."999999999999999", no sign, no
 * leading zero. Anything else names no version. */
static bool backup_version_parse(const char *s, int64_t *out)
{
	int64_t v = 0;
	size_t n;

	if (s == NULL || s[0] < '1' || s[0] > '9')
		return false;
	n = strnlen(s, 17);
	if (n > 15)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return v <= STORE_BACKUP_VERSION_MAX;
}

/* The decimal string of a number, as a JSON string. */
static json_t *backup_number_string(int64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	return json_string(buf);
}

static void backup_store_failed(struct request *req)
{
	res_error(req, 500, "M_UNKNOWN", "Could not access the key backup");
}

static void backup_unknown_version(struct request *req)
{
	res_error(req, 404, "M_NOT_FOUND", "Unknown backup version");
}

/* {etag, count}: the RoomKeysUpdateResponse. */
static void backup_counts_answer(struct request *req, const struct store_backup_counts *c)
{
	json_t *body = json_pack("{s:o, s:I}", "etag", backup_number_string(c->etag), "count",
	                         (json_int_t)c->count);

	if (body == NULL) {
		backup_store_failed(req);
		return;
	}
	res_json(req, 200, body);
}

/* ---- versions --------------------------------------------------------- */

/* algorithm and auth_data of a version body, auth_data serialised
 * (malloc'd). On failure the error is set and -1 returned. */
static int backup_version_body(struct request *req, json_t *body, const char **algorithm,
                               char **auth_data)
{
	json_t *auth = json_object_get(body, "auth_data");

	*auth_data = NULL;
	if (req_get_string(req, body, "algorithm", true, algorithm) != 0)
		return -1;
	if ((*algorithm)[0] == '\0' || strlen(*algorithm) > STORE_BACKUP_ALGORITHM_MAX) {
		res_error(req, 400, "M_INVALID_PARAM", "algorithm must be 1 to %d bytes",
		          STORE_BACKUP_ALGORITHM_MAX);
		return -1;
	}
	if (auth == NULL || json_is_null(auth)) {
		res_error(req, 400, "M_MISSING_PARAM", "Missing parameter: auth_data");
		return -1;
	}
	if (!json_is_object(auth)) {
		res_error(req, 400, "M_BAD_JSON", "auth_data must be an object");
		return -1;
	}
	*auth_data = json_dumps(auth, JSON_COMPACT);
	if (*auth_data == NULL) {
		backup_store_failed(req);
		return -1;
	}
	if (strlen(*auth_data) > STORE_BACKUP_AUTH_DATA_MAX) {
		free(*auth_data);
		*auth_data = NULL;
		res_error(req, 413, "M_TOO_LARGE", "auth_data is larger than %d bytes",
		          STORE_BACKUP_AUTH_DATA_MAX);
		return -1;
	}
	return 0;
}

void api_room_keys_version_create(struct request *req)
{
	json_t *body = req_json_object(req, false), *answer;
	const char *algorithm;
	char *auth_data = NULL;
	int64_t version = 0;

	if (body == NULL || backup_version_body(req, body, &algorithm, &auth_data) != 0)
		return;
	if (store_backup_version_create(APP(req)->store, req->auth.user_id, algorithm, auth_data,
	                                &version) != STORE_OK ||
	    (answer = json_pack("{s:o}", "version", backup_number_string(version))) == NULL)
		backup_store_failed(req);
	else
		res_json(req, 200, answer);
	free(auth_data);
}

/* GET /room_keys/version[/{version}]: version 0 is the current one. */
static void backup_version_answer(struct request *req, int64_t version)
{
	struct store_backup_version v = { 0 };
	json_t *auth, *body;
	enum store_result r;

	r = store_backup_version_get(APP(req)->store, req->auth.user_id, version, &v);
	if (r == STORE_NOT_FOUND) {
		res_error(req, 404, "M_NOT_FOUND",
		          version == 0 ? "No current backup version" : "Unknown backup version");
		return;
	}
	if (r != STORE_OK) {
		backup_store_failed(req);
		return;
	}
	/* what the store hands back passed its checks; it must still parse */
	auth = json_loads(v.auth_data, JSON_REJECT_DUPLICATES, NULL);
	body = json_is_object(auth) ?
	       json_pack("{s:s, s:O, s:I, s:o, s:o}", "algorithm", v.algorithm, "auth_data", auth,
	                 "count", (json_int_t)v.count, "etag", backup_number_string(v.etag),
	                 "version", backup_number_string(v.version)) : NULL;
	json_decref(auth);
	store_backup_version_clear(&v);
	if (body == NULL) {
		backup_store_failed(req);
		return;
	}
	res_json(req, 200, body);
}

void api_room_keys_version_current(struct request *req)
{
	backup_version_answer(req, 0);
}

void api_room_keys_version_get(struct request *req)
{
	int64_t version;

	if (!backup_version_parse(req_param(req, 0), &version)) {
		backup_unknown_version(req);
		return;
	}
	backup_version_answer(req, version);
}

void api_room_keys_version_update(struct request *req)
{
	json_t *body = req_json_object(req, false);
	const char *algorithm, *body_version = NULL;
	char *auth_data = NULL;
	enum store_result r;
	int64_t version;

	if (body == NULL)
		return;
	if (!backup_version_parse(req_param(req, 0), &version)) {
		backup_unknown_version(req);
		return;
	}
	/* "The backup version. If present, must be the same as the version
	 * in the path parameter." */
	if (req_get_string(req, body, "version", false, &body_version) != 0)
		return;
	if (body_version != NULL && strcmp(body_version, req_param(req, 0)) != 0) {
		res_error(req, 400, "M_INVALID_PARAM", "version does not match the path");
		return;
	}
	if (backup_version_body(req, body, &algorithm, &auth_data) != 0)
		return;
	r = store_backup_version_update(APP(req)->store, req->auth.user_id, version, algorithm,
	                                auth_data);
	free(auth_data);
	if (r == STORE_NOT_FOUND)
		backup_unknown_version(req);
	else if (r == STORE_CONFLICT)
		res_error(req, 400, "M_INVALID_PARAM", "Algorithm does not match");
	else if (r != STORE_OK)
		backup_store_failed(req);
	else
		res_json(req, 200, NULL);
}

void api_room_keys_version_delete(struct request *req)
{
	enum store_result r;
	int64_t version;

	if (!backup_version_parse(req_param(req, 0), &version)) {
		backup_unknown_version(req);
		return;
	}
	/* a version deleted before answers 200 too (the store says OK) */
	r = store_backup_version_delete(APP(req)->store, req->auth.user_id, version);
	if (r == STORE_NOT_FOUND)
		backup_unknown_version(req);
	else if (r != STORE_OK)
		backup_store_failed(req);
	else
		res_json(req, 200, NULL);
}

/* ---- keys ------------------------------------------------------------- */

static bool backup_room_id_ok(const char *s)
{
	size_t n = s != NULL ? strnlen(s, STORE_BACKUP_ROOM_ID_MAX + 1) : 0;

	return n >= 2 && n <= STORE_BACKUP_ROOM_ID_MAX && s[0] == '!';
}

static bool backup_session_id_ok(const char *s)
{
	size_t n = s != NULL ? strnlen(s, STORE_BACKUP_SESSION_ID_MAX + 1) : 0;

	return n >= 1 && n <= STORE_BACKUP_SESSION_ID_MAX;
}

/* The ?version= of a keys request: 1 with *version set; 0 when it names no
 * version there can be; -1 (error set) when it is missing. */
static int backup_query_version(struct request *req, int64_t *version)
{
	const char *q = req_query(req, "version");

	*version = 0;
	if (q == NULL) {
		res_error(req, 400, "M_MISSING_PARAM", "Missing parameter: version");
		return -1;
	}
	return backup_version_parse(q, version) ? 1 : 0;
}

/* The room and session of a keys path, checked; -1 with the error set. */
static int backup_path_ids(struct request *req, const char **room_id, const char **session_id)
{
	*room_id = req->n_params >= 1 ? req_param(req, 0) : NULL;
	*session_id = req->n_params >= 2 ? req_param(req, 1) : NULL;
	if (*room_id != NULL && !backup_room_id_ok(*room_id)) {
		res_error(req, 400, "M_INVALID_PARAM", "Invalid room ID");
		return -1;
	}
	if (*session_id != NULL && !backup_session_id_ok(*session_id)) {
		res_error(req, 400, "M_INVALID_PARAM", "Invalid session ID (1 to %d bytes)",
		          STORE_BACKUP_SESSION_ID_MAX);
		return -1;
	}
	return 0;
}

/* A put whose version is not the current one: "The version specified does
 * not match the current backup version. The current version will be
 * included in the current_version field." (403); with no backup at all
 * there is no version to name (404). */
static void backup_wrong_version(struct request *req, int64_t current)
{
	json_t *extra;

	if (current == 0) {
		res_error(req, 404, "M_NOT_FOUND", "No current backup version");
		return;
	}
	extra = json_pack("{s:o}", "current_version", backup_number_string(current));
	if (extra == NULL) {
		backup_store_failed(req);
		return;
	}
	res_error_extra(req, 403, "M_WRONG_ROOM_KEYS_VERSION", "Wrong backup version.", extra);
}

/* A put that carries no key (or names no version): nothing to write, but
 * the answer still depends on whether version is the current one. */
static void backup_put_nothing(struct request *req, int64_t version)
{
	struct store_backup_version cur = { 0 };
	struct store_backup_counts c;
	enum store_result r;

	r = store_backup_version_get(APP(req)->store, req->auth.user_id, 0, &cur);
	if (r != STORE_OK && r != STORE_NOT_FOUND) {
		backup_store_failed(req);
		return;
	}
	c = (struct store_backup_counts){ cur.etag, cur.count };
	if (r == STORE_NOT_FOUND || cur.version != version)
		backup_wrong_version(req, r == STORE_OK ? cur.version : 0);
	else
		backup_counts_answer(req, &c);
	store_backup_version_clear(&cur);
}

/* Keys of a put: the IDs borrow the request body; each session_data is
 * serialised here (data[i], owned). */
struct backup_put {
	struct store_backup_key_new keys[STORE_BACKUP_PUT_MAX];
	char *data[STORE_BACKUP_PUT_MAX];
	size_t n;
};

static void backup_put_free(struct backup_put *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n; i++)
		free(p->data[i]);
	free(p);
}

/* An integer of KeyBackupData in [0, BACKUP_INDEX_MAX]. */
static bool backup_index_get(json_t *obj, const char *key, int64_t *out)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > BACKUP_INDEX_MAX)
		return false;
	*out = (int64_t)json_integer_value(v);
	return true;
}

/* One KeyBackupData for (room_id, session_id); -1 with the error set. */
static int backup_put_add(struct request *req, struct backup_put *p, const char *room_id,
                          const char *session_id, json_t *data)
{
	struct store_backup_key_new *k = &p->keys[p->n];
	json_t *verified = json_object_get(data, "is_verified");
	json_t *session_data = json_object_get(data, "session_data");
	char *text;

	if (p->n == STORE_BACKUP_PUT_MAX) {
		res_error(req, 413, "M_TOO_LARGE", "At most %d sessions per request",
		          STORE_BACKUP_PUT_MAX);
		return -1;
	}
	if (!backup_session_id_ok(session_id)) {
		res_error(req, 400, "M_INVALID_PARAM", "Invalid session ID (1 to %d bytes)",
		          STORE_BACKUP_SESSION_ID_MAX);
		return -1;
	}
	if (!json_is_object(data) || !backup_index_get(data, "first_message_index",
	                                                &k->rank.first_message_index) ||
	    !backup_index_get(data, "forwarded_count", &k->rank.forwarded_count) ||
	    !json_is_boolean(verified) || !json_is_object(session_data)) {
		res_error(req, 400, "M_BAD_JSON", "Key data of session %.64s needs "
		          "first_message_index and forwarded_count (integers >= 0), is_verified "
		          "(boolean) and session_data (object)", session_id);
		return -1;
	}
	text = json_dumps(session_data, JSON_COMPACT);
	if (text == NULL) {
		backup_store_failed(req);
		return -1;
	}
	if (strlen(text) > STORE_BACKUP_SESSION_DATA_MAX) {
		free(text);
		res_error(req, 413, "M_TOO_LARGE", "session_data is larger than %d bytes",
		          STORE_BACKUP_SESSION_DATA_MAX);
		return -1;
	}
	k->room_id = room_id;
	k->session_id = session_id;
	k->rank.is_verified = json_is_true(verified);
	k->session_data = text;
	p->data[p->n++] = text;
	return 0;
}

/* A RoomKeyBackup object ({sessions: {...}}) of room_id. */
static int backup_put_room(struct request *req, struct backup_put *p, const char *room_id,
                           json_t *room)
{
	json_t *sessions = json_object_get(room, "sessions"), *data;
	const char *session_id;

	if (!backup_room_id_ok(room_id)) {
		res_error(req, 400, "M_INVALID_PARAM", "Invalid room ID");
		return -1;
	}
	if (!json_is_object(sessions)) {
		res_error(req, 400, "M_BAD_JSON", "sessions must be an object");
		return -1;
	}
	json_object_foreach(sessions, session_id, data)
		if (backup_put_add(req, p, room_id, session_id, data) != 0)
			return -1;
	return 0;
}

/* The body of each PUT form: {rooms: {...}}, {sessions: {...}} for the
 * path's room, or one KeyBackupData for the path's session. */
static int backup_put_parse(struct request *req, json_t *body, const char *room_id,
                            const char *session_id, struct backup_put *p)
{
	json_t *rooms, *room;
	const char *rid;

	if (session_id != NULL)
		return backup_put_add(req, p, room_id, session_id, body);
	if (room_id != NULL)
		return backup_put_room(req, p, room_id, body);
	rooms = json_object_get(body, "rooms");
	if (!json_is_object(rooms)) {
		res_error(req, 400, "M_BAD_JSON", "rooms must be an object");
		return -1;
	}
	json_object_foreach(rooms, rid, room) {
		if (!json_is_object(room)) {
			res_error(req, 400, "M_BAD_JSON", "Each room must map to an object");
			return -1;
		}
		if (backup_put_room(req, p, rid, room) != 0)
			return -1;
	}
	return 0;
}

void api_room_keys_put(struct request *req)
{
	json_t *body = req_json_object(req, false);
	const char *room_id, *session_id;
	enum store_backup_refusal why;
	struct store_backup_counts c;
	struct backup_put *p = NULL;
	int64_t version, current;
	enum store_result r;
	int q;

	if (body == NULL || (q = backup_query_version(req, &version)) < 0 ||
	    backup_path_ids(req, &room_id, &session_id) != 0)
		return;
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		backup_store_failed(req);
		return;
	}
	if (backup_put_parse(req, body, room_id, session_id, p) != 0)
		goto out;
	if (q == 0 || p->n == 0) {
		backup_put_nothing(req, version);
		goto out;
	}
	r = store_backup_keys_put(APP(req)->store, req->auth.user_id, version, p->keys, p->n,
	                          &why, &current, &c);
	if (r == STORE_OK)
		backup_counts_answer(req, &c);
	else if (r == STORE_CONFLICT && why == STORE_BACKUP_NOT_CURRENT)
		backup_wrong_version(req, current);
	else if (r == STORE_CONFLICT && why == STORE_BACKUP_FULL)
		res_error(req, 413, "M_TOO_LARGE", "The backup would hold more than %d sessions or "
		          "%ld bytes", STORE_BACKUP_SESSIONS_MAX, STORE_BACKUP_BYTES_MAX);
	else
		backup_store_failed(req);
out:
	backup_put_free(p);
}

/* KeyBackupData of a stored key, or NULL. */
static json_t *backup_key_json(const struct store_backup_key *k)
{
	json_t *data = json_loads(k->session_data, JSON_REJECT_DUPLICATES, NULL);

	if (!json_is_object(data)) {
		json_decref(data);
		return NULL;
	}
	return json_pack("{s:I, s:I, s:b, s:o}", "first_message_index",
	                 (json_int_t)k->rank.first_message_index, "forwarded_count",
	                 (json_int_t)k->rank.forwarded_count, "is_verified", k->rank.is_verified,
	                 "session_data", data);
}

/* {rooms: {room: {sessions: {session: KeyBackupData}}}} from a list in
 * room order; with one_room, only the {sessions: ...} of its first room. */
static json_t *backup_keys_json(const struct store_backup_key_list *l, bool one_room)
{
	json_t *rooms = json_object(), *sessions = NULL;

	if (rooms == NULL)
		return NULL;
	for (size_t i = 0; i < l->n; i++) {
		json_t *key = backup_key_json(&l->items[i]);
		if (i == 0 || strcmp(l->items[i - 1].room_id, l->items[i].room_id) != 0) {
			json_t *room = json_pack("{s:{}}", "sessions");
			if (room == NULL || json_object_set_new(rooms, l->items[i].room_id, room) != 0) {
				json_decref(key);
				goto err;
			}
			sessions = json_object_get(room, "sessions");
		}
		if (key == NULL || json_object_set_new(sessions, l->items[i].session_id, key) != 0)
			goto err;
	}
	if (one_room) {
		json_t *room = l->n > 0 ? json_incref(json_object_get(rooms, l->items[0].room_id)) :
		               json_pack("{s:{}}", "sessions");
		json_decref(rooms);
		return room;
	}
	return json_pack("{s:o}", "rooms", rooms);
err:
	json_decref(rooms);
	return NULL;
}

void api_room_keys_get(struct request *req)
{
	struct store_backup_key_list l = { 0 };
	const char *room_id, *session_id;
	json_t *body = NULL;
	enum store_result r;
	int64_t version;
	int q;

	if ((q = backup_query_version(req, &version)) < 0 ||
	    backup_path_ids(req, &room_id, &session_id) != 0)
		return;
	if (q == 0) {
		backup_unknown_version(req);
		return;
	}
	r = store_backup_keys_get(APP(req)->store, req->auth.user_id, version, room_id,
	                          session_id, &l);
	if (r == STORE_NOT_FOUND) {
		backup_unknown_version(req);
		return;
	}
	if (r != STORE_OK) {
		backup_store_failed(req);
		return;
	}
	if (session_id != NULL && l.n == 0) {
		res_error(req, 404, "M_NOT_FOUND", "Key not found.");
		goto out;
	}
	body = session_id != NULL ? backup_key_json(&l.items[0]) :
	       backup_keys_json(&l, room_id != NULL);
	if (body == NULL)
		backup_store_failed(req);
	else
		res_json(req, 200, body);
out:
	store_backup_key_list_clear(&l);
}

void api_room_keys_delete(struct request *req)
{
	const char *room_id, *session_id;
	struct store_backup_counts c;
	enum store_result r;
	int64_t version;
	int q;

	if ((q = backup_query_version(req, &version)) < 0 ||
	    backup_path_ids(req, &room_id, &session_id) != 0)
		return;
	if (q == 0) {
		backup_unknown_version(req);
		return;
	}
	r = store_backup_keys_delete(APP(req)->store, req->auth.user_id, version, room_id,
	                             session_id, &c);
	if (r == STORE_NOT_FOUND)
		backup_unknown_version(req);
	else if (r != STORE_OK)
		backup_store_failed(req);
	else
		backup_counts_answer(req, &c);
}
