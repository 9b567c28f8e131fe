/* directory_rooms.c: the published room directory (list_public_rooms.yaml):
 * GET/PUT /directory/list/room/{roomId} and GET/POST /publicRooms.
 *
 * A page walks the published rooms in room ID order (a stable order, as
 * v1.19 recommends) and keeps those a stranger may see: as Synapse, a
 * published room is listed only while its join rule lets people in
 * (public, knock, knock_restricted) or its history is world_readable, so
 * a room made private after publication disappears from the list.
 * Pagination tokens are opaque: "n" (next) or "p" (previous) and the
 * room ID of the page's edge, URL-safe base64 encoded. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/client/handlers.h"
#include "config/config.h"
#include "events/events.h"
#include "security/served.h"
#include "store/store.h"
#include "util/base64.h"
#include "util/ids.h"

#define PUBLIC_ROOMS_LIMIT_DEFAULT 100
#define PUBLIC_ROOMS_LIMIT_MAX 500
#define PUBLIC_ROOMS_SCAN_MAX 5000      /* published rooms one request looks at */
#define PUBLIC_ROOMS_BATCH 200          /* read from the store at a time */
#define PUBLIC_ROOMS_TERM_MAX 256
#define PUBLIC_ROOMS_TYPES_MAX 32

static bool room_id_ok(const char *room_id)
{
	return room_id != NULL && room_id[0] == '!' && strlen(room_id) <= ID_MAX_LEN;
}

/* ---- visibility ------------------------------------------------------- */

void api_directory_visibility_get(struct request *req)
{
	struct app *app = APP(req);
	struct store_room room = { 0 };
	enum store_result r;

	if (!room_id_ok(req_param(req, 0))) {
		res_error(req, 400, "M_INVALID_PARAM", "Invalid room ID");
		return;
	}
	r = store_room_get(app->store, req_param(req, 0), &room);
	if (r == STORE_NOT_FOUND)
		res_error(req, 404, "M_NOT_FOUND", "Room not found");
	else if (r != STORE_OK)
		res_error(req, 500, "M_UNKNOWN", "Could not read the room");
	else
		res_json(req, 200, json_pack("{s:s}", "visibility",
		                             room.published ? "public" : "private"));
	store_room_clear(&room);
}

/* Synapse's rule for changing the room list: a server admin, or a member
 * with the power to send m.room.canonical_alias. */
static bool may_publish(struct request *req, const char *room_id)
{
	struct app *app = APP(req);
	char *m;
	bool joined;
	int64_t have, need;

	if (req->auth.admin)
		return true;
	m = events_membership(app->events, room_id, req->auth.user_id);
	joined = m != NULL && strcmp(m, "join") == 0;
	free(m);
	if (!joined)
		return false;
	have = events_power_level(app->events, room_id, req->auth.user_id);
	need = events_required_level(app->events, room_id, "m.room.canonical_alias", true);
	return have >= 0 && need >= 0 && have >= need;
}

void api_directory_visibility_put(struct request *req)
{
	struct app *app = APP(req);
	const char *room_id = req_param(req, 0), *visibility = "public";
	json_t *body = req_json_object(req, true);
	enum store_result r;

	/* "visibility: The new visibility setting for the room. Defaults to
	 * public." (setRoomVisibilityOnDirectory) */
	if (!body || req_get_string(req, body, "visibility", false, &visibility) != 0)
		return;
	if (strcmp(visibility, "public") != 0 && strcmp(visibility, "private") != 0) {
		res_error(req, 400, "M_INVALID_PARAM", "visibility must be public or private");
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
	if (!may_publish(req, room_id)) {
		res_error(req, 403, "M_FORBIDDEN",
		          "You need the power to set the canonical alias to change the directory");
		return;
	}
	r = store_room_set_published(app->store, room_id, strcmp(visibility, "public") == 0);
	if (r == STORE_OK)
		res_json(req, 200, NULL);
	else if (r == STORE_NOT_FOUND)
		res_error(req, 404, "M_NOT_FOUND", "Room not found");
	else
		res_error(req, 500, "M_UNKNOWN", "Could not write the room directory");
}

/* ---- one room's entry ------------------------------------------------- */

/* A string field of one state event's content, copied into the entry. */
static const char *state_string(struct app *app, const char *room_id, const char *type,
                                const char *field, json_t **holder)
{
	json_t *c = events_state_content(app->events, room_id, type, "");
	const char *v = json_string_value(json_object_get(c, field));

	*holder = c;
	return v;
}

/* The plain-text topic: the m.topic block's text/plain (or untyped)
 * representation if there is one, else the legacy topic string. "Omitted
 * if no text/plain mimetype exists in m.room.topic" (public_rooms_chunk). */
static const char *topic_plain(json_t *content)
{
	json_t *texts = json_object_get(json_object_get(content, "m.topic"), "m.text"), *t;
	size_t i;

	json_array_foreach(texts, i, t) {
		const char *mime = json_string_value(json_object_get(t, "mimetype"));
		const char *body = json_string_value(json_object_get(t, "body"));
		if (body && (!mime || strcmp(mime, "text/plain") == 0))
			return body;
	}
	return json_string_value(json_object_get(content, "topic"));
}

struct room_filter {
	const char *term;        /* NULL: any */
	json_t *types;           /* array of string|null, NULL: any */
	bool none;               /* a third-party network was asked for: nothing here */
};

static bool term_in(const char *hay, const char *term)
{
	return hay != NULL && strcasestr(hay, term) != NULL;
}

static bool type_allowed(json_t *types, const char *room_type)
{
	size_t i;
	json_t *t;

	if (!types)
		return true;
	json_array_foreach(types, i, t) {
		if (json_is_null(t) ? room_type == NULL
		                    : room_type != NULL && strcmp(json_string_value(t), room_type) == 0)
			return true;
	}
	return false;
}

static void set_opt(json_t *entry, const char *key, const char *v)
{
	if (v != NULL && v[0] != '\0')
		json_object_set_new(entry, key, json_string(v));
}

/* The chunk entry of a published room, or NULL if it is not listable now
 * or does not pass the filter. *err is set on a store failure. */
static json_t *room_entry(struct app *app, const char *room_id, const struct room_filter *f,
                          bool *err)
{
	json_t *jr, *hv, *ga, *nm, *tp, *ca, *av, *cr, *out = NULL;
	const char *join_rule = state_string(app, room_id, "m.room.join_rules", "join_rule", &jr);
	const char *vis = state_string(app, room_id, "m.room.history_visibility",
	                               "history_visibility", &hv);
	const char *guest = state_string(app, room_id, "m.room.guest_access", "guest_access", &ga);
	const char *name = state_string(app, room_id, "m.room.name", "name", &nm);
	const char *alias = state_string(app, room_id, "m.room.canonical_alias", "alias", &ca);
	const char *avatar = state_string(app, room_id, "m.room.avatar", "url", &av);
	const char *type = state_string(app, room_id, "m.room.create", "type", &cr);
	const char *topic;
	bool world_readable = vis != NULL && strcmp(vis, "world_readable") == 0;
	int64_t joined = 0;

	tp = events_state_content(app->events, room_id, "m.room.topic", "");
	topic = topic_plain(tp);
	if (!cr)
		goto out;   /* not loadable: not a room we can describe */
	if (!world_readable && !(join_rule && (strcmp(join_rule, "public") == 0 ||
	                                       strcmp(join_rule, "knock") == 0 ||
	                                       strcmp(join_rule, "knock_restricted") == 0)))
		goto out;
	if (!type_allowed(f->types, type))
		goto out;
	if (f->term && !term_in(name, f->term) && !term_in(topic, f->term) &&
	    !term_in(alias, f->term))
		goto out;
	if (store_room_joined_count(app->store, room_id, &joined) != STORE_OK) {
		*err = true;
		goto out;
	}
	out = json_pack("{s:s,s:I,s:b,s:b,s:s}", "room_id", room_id, "num_joined_members",
	                (json_int_t)joined, "world_readable", world_readable, "guest_can_join",
	                guest != NULL && strcmp(guest, "can_join") == 0,
	                "join_rule", join_rule ? join_rule : "public");
	if (out) {
		set_opt(out, "name", name);
		set_opt(out, "topic", topic);
		if (alias && alias[0] == '#')
			set_opt(out, "canonical_alias", alias);
		set_opt(out, "avatar_url", avatar);
		set_opt(out, "room_type", type);
	}
out:
	json_decref(jr);
	json_decref(hv);
	json_decref(ga);
	json_decref(nm);
	json_decref(tp);
	json_decref(ca);
	json_decref(av);
	json_decref(cr);
	return out;
}

/* ---- pagination ------------------------------------------------------- */

static char *token_make(char dir, const char *room_id)
{
	char *b = b64url_encode((const unsigned char *)room_id, strlen(room_id));
	char *t = b ? malloc(strlen(b) + 2) : NULL;

	if (t) {
		t[0] = dir;
		strcpy(t + 1, b);
	}
	free(b);
	return t;
}

/* "n..." or "p..." naming a room ID; 0, or -1 if malformed. */
static int token_parse(const char *token, char *dir, char **room_id)
{
	unsigned char *raw = NULL;
	size_t len = 0;

	*room_id = NULL;
	if ((token[0] != 'n' && token[0] != 'p') || strlen(token) > 2 * ID_MAX_LEN ||
	    b64url_decode(token + 1, strlen(token + 1), &raw, &len) != 0)
		return -1;
	if (len == 0 || len > ID_MAX_LEN || raw[0] != '!' || memchr(raw, '\0', len)) {
		free(raw);
		return -1;
	}
	*dir = token[0];
	*room_id = malloc(len + 1);
	if (*room_id) {
		memcpy(*room_id, raw, len);
		(*room_id)[len] = '\0';
	}
	free(raw);
	return *room_id ? 0 : -1;
}

struct page {
	json_t *chunk;
	char *first, *last;      /* room IDs at the page's edges */
	char *scanned_to;        /* the last room looked at, listed or not */
	bool more;               /* rooms remain in the walking direction */
};

static int page_add(struct page *pg, json_t *entry, const char *room_id, bool backwards)
{
	char **edge = backwards ? &pg->first : &pg->last;

	if (backwards)
		json_array_insert_new(pg->chunk, 0, entry);
	else
		json_array_append_new(pg->chunk, entry);
	if (!pg->first || !pg->last) {
		pg->first = strdup(room_id);
		pg->last = strdup(room_id);
		return pg->first && pg->last ? 0 : -1;
	}
	free(*edge);
	*edge = strdup(room_id);
	return *edge ? 0 : -1;
}

/* Walk from `from` (exclusive; NULL: the start) in one direction, keeping
 * up to limit entries. 0, or -1 on a store failure. */
static int page_walk(struct app *app, const struct room_filter *f, const char *from,
                     bool backwards, size_t limit, struct page *pg)
{
	char *cursor = from ? strdup(from) : NULL;
	size_t scanned = 0;
	int ret = -1;

	if (from && !cursor)
		return -1;
	while (json_array_size(pg->chunk) < limit && scanned < PUBLIC_ROOMS_SCAN_MAX) {
		char **ids = NULL;
		size_t n = 0, i;
		enum store_result r = backwards
			? store_rooms_published_before(app->store, cursor, PUBLIC_ROOMS_BATCH, &ids, &n)
			: store_rooms_published(app->store, cursor, PUBLIC_ROOMS_BATCH, &ids, &n);
		bool err = false;

		if (r != STORE_OK)
			goto out;
		for (i = 0; i < n && json_array_size(pg->chunk) < limit; i++) {
			json_t *e = room_entry(app, ids[i], f, &err);
			if (err || (e && page_add(pg, e, ids[i], backwards) != 0)) {
				store_room_ids_free(ids, n);
				goto out;
			}
		}
		scanned += i;
		/* more: a room was left unread in this batch, or the batch was full */
		pg->more = i < n || n == PUBLIC_ROOMS_BATCH;
		if (i > 0) {
			free(cursor);
			cursor = strdup(ids[i - 1]);
		}
		store_room_ids_free(ids, n);
		if (i == 0)
			break;   /* nothing (more) published that way */
		if (!cursor)
			goto out;
		if (!pg->more)
			break;
	}
	/* the next page starts after what was looked at, not after what was
	 * listed: a long run of unlisted rooms is never scanned twice */
	free(pg->scanned_to);
	pg->scanned_to = cursor;
	cursor = NULL;
	ret = 0;
out:
	free(cursor);
	return ret;
}

/* ---- /publicRooms ----------------------------------------------------- */

static void public_rooms(struct request *req, int64_t limit, const char *since,
                         const struct room_filter *f)
{
	struct app *app = APP(req);
	struct page pg = { json_array(), NULL, NULL, NULL, false };
	char *from = NULL, dir = 'n', *next = NULL, *prev = NULL;
	int64_t total = 0;
	json_t *res;

	if (!pg.chunk) {
		res_error(req, 500, "M_UNKNOWN", "Out of memory");
		goto out;
	}
	if (since && token_parse(since, &dir, &from) != 0) {
		res_error(req, 400, "M_INVALID_PARAM", "Invalid since token");
		goto out;
	}
	if (!f->none && limit > 0 &&
	    page_walk(app, f, from, dir == 'p', (size_t)limit, &pg) != 0) {
		res_error(req, 500, "M_UNKNOWN", "Could not read the room directory");
		goto out;
	}
	if (store_rooms_published_count(app->store, &total) != STORE_OK)
		total = 0;
	/* Tokens: in the walking direction only when more rooms remain; back
	 * toward where we came from whenever we came from somewhere. */
	if (dir == 'n') {
		if (pg.more && pg.scanned_to)
			next = token_make('n', pg.scanned_to);
		if (from)
			prev = token_make('p', pg.first ? pg.first : from);
	} else {
		if (pg.more && pg.scanned_to)
			prev = token_make('p', pg.scanned_to);
		next = token_make('n', pg.last ? pg.last : from);
	}
	res = json_pack("{s:O,s:I}", "chunk", pg.chunk, "total_room_count_estimate",
	                (json_int_t)total);
	if (res && next)
		json_object_set_new(res, "next_batch", json_string(next));
	if (res && prev)
		json_object_set_new(res, "prev_batch", json_string(prev));
	if (res) {
		/* access ledger: the filter, and how many rooms the page listed */
		struct served_viewer v = { req->auth.user_id, req->auth.device_id,
		                           req->client_ip, req->user_agent };
		served_public_rooms(&v, f->term, json_array_size(pg.chunk));
		res_json(req, 200, res);
	} else {
		res_error(req, 500, "M_UNKNOWN", "Out of memory");
	}
out:
	json_decref(pg.chunk);
	free(pg.first);
	free(pg.last);
	free(pg.scanned_to);
	free(from);
	free(next);
	free(prev);
}

/* There is no federation: only this server's directory is served. */
static bool server_ok(struct request *req)
{
	const char *server = req_query(req, "server");

	if (server && strcmp(server, APP(req)->cfg->server_name) != 0) {
		res_error(req, 400, "M_INVALID_PARAM", "Only this server's directory is available");
		return false;
	}
	return true;
}

static bool limit_ok(struct request *req, int64_t *limit)
{
	if (*limit < 0) {
		res_error(req, 400, "M_INVALID_PARAM", "limit must not be negative");
		return false;
	}
	if (*limit > PUBLIC_ROOMS_LIMIT_MAX)
		*limit = PUBLIC_ROOMS_LIMIT_MAX;
	return true;
}

void api_public_rooms_get(struct request *req)
{
	struct room_filter f = { NULL, NULL, false };
	const char *l = req_query(req, "limit");
	int64_t limit = PUBLIC_ROOMS_LIMIT_DEFAULT;

	if (!server_ok(req))
		return;
	if (l) {
		char *end;
		long long v = strtoll(l, &end, 10);
		if (end == l || *end != '\0') {
			res_error(req, 400, "M_INVALID_PARAM", "limit must be an integer");
			return;
		}
		limit = v;
	}
	if (limit_ok(req, &limit))
		public_rooms(req, limit, req_query(req, "since"), &f);
}

/* The filter object of POST /publicRooms. */
static int filter_parse(struct request *req, json_t *body, struct room_filter *f)
{
	json_t *filter = json_object_get(body, "filter"), *t;
	const char *instance = NULL;
	bool all_networks = false;
	size_t i;

	if (req_get_bool(req, body, "include_all_networks", &all_networks) != 0 ||
	    req_get_string(req, body, "third_party_instance_id", false, &instance) != 0)
		return -1;
	/* No application services bridge networks here: a network asked for
	 * by name has no rooms. */
	f->none = instance != NULL && !all_networks;
	if (!filter || json_is_null(filter))
		return 0;
	if (!json_is_object(filter)) {
		res_error(req, 400, "M_BAD_JSON", "filter must be an object");
		return -1;
	}
	if (req_get_string(req, filter, "generic_search_term", false, &f->term) != 0)
		return -1;
	if (f->term && strlen(f->term) > PUBLIC_ROOMS_TERM_MAX) {
		res_error(req, 400, "M_INVALID_PARAM", "generic_search_term is too long");
		return -1;
	}
	if (f->term && f->term[0] == '\0')
		f->term = NULL;
	f->types = json_object_get(filter, "room_types");
	if (json_is_null(f->types))
		f->types = NULL;
	if (f->types && (!json_is_array(f->types) ||
	                 json_array_size(f->types) > PUBLIC_ROOMS_TYPES_MAX)) {
		res_error(req, 400, "M_BAD_JSON", "room_types must be a short array");
		return -1;
	}
	json_array_foreach(f->types, i, t) {
		if (!json_is_null(t) && !json_is_string(t)) {
			res_error(req, 400, "M_BAD_JSON", "room_types holds strings or null");
			return -1;
		}
	}
	return 0;
}

void api_public_rooms_post(struct request *req)
{
	json_t *body = req_json_object(req, true), *l;
	struct room_filter f = { NULL, NULL, false };
	const char *since = NULL;
	int64_t limit = PUBLIC_ROOMS_LIMIT_DEFAULT;

	if (!body || !server_ok(req) || filter_parse(req, body, &f) != 0 ||
	    req_get_string(req, body, "since", false, &since) != 0)
		return;
	l = json_object_get(body, "limit");
	if (l && !json_is_null(l)) {
		if (!json_is_integer(l)) {
			res_error(req, 400, "M_BAD_JSON", "limit must be an integer");
			return;
		}
		limit = json_integer_value(l);
	}
	if (limit_ok(req, &limit))
		public_rooms(req, limit, since, &f);
}
